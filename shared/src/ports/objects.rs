//! An S3-like object store.

use std::pin::Pin;

use async_trait::async_trait;
use tokio::io::AsyncRead;

use crate::error::StoreError;

/// A streaming object body.
pub type ObjectReader = Pin<Box<dyn AsyncRead + Send>>;

/// An object body read with blocking calls, by a stage on a thread of its own.
pub type BlockingObjectReader = Box<dyn std::io::Read + Send>;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectInfo {
    pub key: String,
    pub size: u64,
    /// A content hash in quotes, like S3's ETag (used to derive idempotent execution names).
    pub etag: String,
}

#[async_trait]
pub trait GetObject: Send + Sync {
    /// A streaming read; [`StoreError::NotFound`] when the object does not exist.
    async fn get_object(&self, bucket: &str, key: &str) -> Result<ObjectReader, StoreError>;

    /// The object for blocking reads (Transform's parser reads the source on a thread of its
    /// own), when the store has a cheaper way than bridging [`Self::get_object`]'s stream: a
    /// local file is read straight into the reader's buffer, one system call a read, not copied
    /// through tokio's file buffer with a trip to the blocking pool for each piece. `None`: the
    /// caller bridges the stream (S3's body arrives over the network anyway).
    async fn get_object_blocking(
        &self,
        _bucket: &str,
        _key: &str,
    ) -> Result<Option<BlockingObjectReader>, StoreError> {
        Ok(None)
    }
}

#[async_trait]
pub trait PutObject: Send + Sync {
    /// Stores a small body at once.
    async fn put_object(
        &self,
        bucket: &str,
        key: &str,
        body: Vec<u8>,
    ) -> Result<ObjectInfo, StoreError>;
    /// Stores a body of any size, streamed (multipart on S3). Readers never see a partial object.
    async fn put_object_stream(
        &self,
        bucket: &str,
        key: &str,
        body: ObjectReader,
    ) -> Result<ObjectInfo, StoreError>;
}

#[async_trait]
pub trait HeadObject: Send + Sync {
    async fn head_object(&self, bucket: &str, key: &str) -> Result<Option<ObjectInfo>, StoreError>;
}

#[async_trait]
pub trait ListObjects: Send + Sync {
    /// Keys under `prefix` in ascending order, after `start_after`, at most `limit` (one page).
    async fn list_objects(
        &self,
        bucket: &str,
        prefix: &str,
        start_after: Option<&str>,
        limit: usize,
    ) -> Result<Vec<ObjectInfo>, StoreError>;
}

pub trait ObjectStore: GetObject + PutObject + HeadObject + ListObjects {}

impl<T> ObjectStore for T where T: GetObject + PutObject + HeadObject + ListObjects {}

/// Reads a whole (small) object: manifests, job documents, chunk results.
pub async fn get_bytes(
    store: &dyn ObjectStore,
    bucket: &str,
    key: &str,
) -> Result<Vec<u8>, StoreError> {
    use tokio::io::AsyncReadExt;
    let mut reader = store.get_object(bucket, key).await?;
    let mut out = Vec::new();
    reader.read_to_end(&mut out).await?;
    Ok(out)
}

/// Copies an object into `file` (streamed: for objects read item by item, such as a manifest,
/// whatever their size). The file's position is left at its end.
pub async fn copy_to_file(
    store: &dyn ObjectStore,
    bucket: &str,
    key: &str,
    file: &std::fs::File,
) -> Result<(), StoreError> {
    let mut reader = store.get_object(bucket, key).await?;
    let mut out = tokio::fs::File::from_std(file.try_clone()?);
    tokio::io::copy(&mut reader, &mut out).await?;
    tokio::io::AsyncWriteExt::flush(&mut out).await?;
    Ok(())
}

/// Reads a whole (small) object if it exists: one GET, no HEAD first.
pub async fn get_bytes_if_exists(
    store: &dyn ObjectStore,
    bucket: &str,
    key: &str,
) -> Result<Option<Vec<u8>>, StoreError> {
    match get_bytes(store, bucket, key).await {
        Ok(bytes) => Ok(Some(bytes)),
        Err(StoreError::NotFound(_)) => Ok(None),
        Err(e) => Err(e),
    }
}

/// Lists every key under a prefix, page by page.
pub async fn list_all(
    store: &dyn ObjectStore,
    bucket: &str,
    prefix: &str,
) -> Result<Vec<ObjectInfo>, StoreError> {
    let mut out: Vec<ObjectInfo> = Vec::new();
    loop {
        let after = out.last().map(|o| o.key.clone());
        let page = store
            .list_objects(bucket, prefix, after.as_deref(), 1000)
            .await?;
        if page.is_empty() {
            return Ok(out);
        }
        out.extend(page);
    }
}
