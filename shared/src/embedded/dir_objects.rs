//! The object store port on a directory: `<root>/<bucket>/<key>`.
//!
//! Writes go to a temporary file beside the objects and are renamed into place, so a reader
//! (or a resumed job checking "does this chunk result exist?") never sees a partial object,
//! even after `kill -9`. Keys are checked so they can never escape the bucket directory.

use std::path::{Component, Path, PathBuf};

use async_trait::async_trait;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use xxhash_rust::xxh3::{Xxh3, xxh3_128};

use crate::error::StoreError;
use crate::ports::objects::{
    BlockingObjectReader, GetObject, HeadObject, ListObjects, ObjectInfo, ObjectReader, PutObject,
};

/// S3's maximum key length (UTF-8 bytes).
pub const MAX_KEY_BYTES: usize = 1024;
/// A file name's maximum length on the local file systems (NAME_MAX).
const MAX_NAME_BYTES: usize = 255;

pub struct DirObjectStore {
    root: PathBuf,
}

/// An ETag from the content's 128-bit XXH3 hash: 32 hex digits in quotes, the shape of S3's
/// (whose single-part ETag is an MD5, no harder to collide on purpose). Earlier versions took
/// the first 128 bits of a SHA-256, which cost 8 % of Transform's CPU on chunk puts; an object
/// stored by them gets a new ETag when it is next read (see [`ETAG_ATTRIBUTE`]).
fn etag_of(hash: u128) -> String {
    format!("\"{hash:032x}\"")
}

/// An object's ETag is kept with its file, in this extended attribute, with the size,
/// modification time and inode it was taken at: a HEAD of a 350 MB source file (every Transform
/// and every start begins with one) reads the attribute instead of hashing the file again
/// (≈0.3 s of a 1M-row Transform). A file changed since (its size, time or inode differs),
/// written by hand, or on a file system without user attributes is hashed as before; the ETag
/// is the same either way. Objects are written by rename (a new inode, a new attribute); what
/// the stamp cannot see is a file rewritten in place by hand with the same size within one tick
/// of the file system's clock (1-4 ms), or with its old time restored.
/// (`.xxh3`: an ETag kept by an earlier version, of another hash, is not read back.)
const ETAG_ATTRIBUTE: &str = "user.migrate.etag.xxh3";

/// The size, modification time (ns) and inode of the file.
fn etag_stamp(file: &std::fs::File) -> Option<String> {
    use std::os::unix::fs::MetadataExt as _;
    let meta = file.metadata().ok()?;
    let mtime = meta
        .modified()
        .ok()?
        .duration_since(std::time::UNIX_EPOCH)
        .ok()?;
    Some(format!(
        "{}:{}:{}",
        meta.len(),
        mtime.as_nanos(),
        meta.ino()
    ))
}

/// Keeps `etag` with the file, stamped as it is now (best effort: without it, a HEAD hashes
/// the file).
fn remember_etag(file: &std::fs::File, etag: &str) {
    if let Some(stamp) = etag_stamp(file) {
        keep_etag(file, &stamp, etag);
    }
}

fn keep_etag(file: &std::fs::File, stamp: &str, etag: &str) {
    use xattr::FileExt as _;
    let _ = file.set_xattr(ETAG_ATTRIBUTE, format!("{stamp} {etag}").as_bytes());
}

/// The ETag kept with the file, if it was taken at the file's present size, time and inode.
fn remembered_etag(file: &std::fs::File) -> Option<String> {
    use xattr::FileExt as _;
    let kept = String::from_utf8(file.get_xattr(ETAG_ATTRIBUTE).ok()??).ok()?;
    let (stamp, etag) = kept.split_once(' ')?;
    (Some(stamp) == etag_stamp(file).as_deref()).then(|| etag.to_string())
}

/// Size and ETag of an open file: the kept one, else its content hashed. The hash is kept only
/// if the file did not change while it was read (the same stamp before and after, and as many
/// bytes read as it holds), so a write under way is never recorded as the file's ETag.
fn file_etag(mut file: std::fs::File) -> std::io::Result<(u64, String)> {
    use std::io::Read as _;
    if let Some(etag) = remembered_etag(&file) {
        return Ok((file.metadata()?.len(), etag));
    }
    let before = etag_stamp(&file);
    let mut hasher = Xxh3::new();
    let mut size = 0u64;
    let mut buf = vec![0u8; 256 * 1024];
    loop {
        let n = file.read(&mut buf)?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
        size += n as u64;
    }
    let etag = etag_of(hasher.digest128());
    if let Some(stamp) = before.filter(|b| Some(b) == etag_stamp(&file).as_ref())
        && stamp.split(':').next() == Some(size.to_string().as_str())
    {
        keep_etag(&file, &stamp, &etag);
    }
    Ok((size, etag))
}

impl DirObjectStore {
    /// Objects live under `root` (the CLI passes `<state-dir>/s3`).
    pub fn new(root: impl Into<PathBuf>) -> Self {
        DirObjectStore { root: root.into() }
    }

    fn bucket_dir(&self, bucket: &str) -> Result<PathBuf, StoreError> {
        if bucket.is_empty() || bucket.starts_with('.') || bucket.contains(['/', '\\', '\0']) {
            return Err(StoreError::InvalidRequest(format!(
                "invalid bucket name {bucket:?}"
            )));
        }
        Ok(self.root.join(bucket))
    }

    fn path(&self, bucket: &str, key: &str) -> Result<PathBuf, StoreError> {
        let bad =
            || StoreError::InvalidRequest(format!("object key {key:?} cannot be stored locally"));
        if key.is_empty() || key.contains('\0') || key.contains('\\') || key.ends_with('/') {
            return Err(bad());
        }
        // S3's own limit, so the local bucket refuses what S3 would.
        if key.len() > MAX_KEY_BYTES {
            return Err(StoreError::InvalidRequest(format!(
                "object key is {} bytes, more than S3's {MAX_KEY_BYTES}",
                key.len()
            )));
        }
        if let Some(part) = key.split('/').find(|p| p.len() > MAX_NAME_BYTES) {
            return Err(StoreError::InvalidRequest(format!(
                "object key segment of {} bytes cannot be a file name in the local directory (at most {MAX_NAME_BYTES})",
                part.len()
            )));
        }
        let rel = Path::new(key);
        for (i, part) in key.split('/').enumerate() {
            if part.is_empty() && i > 0 || part == "." || part == ".." {
                return Err(bad());
            }
        }
        if !rel.components().all(|c| matches!(c, Component::Normal(_))) {
            return Err(bad());
        }
        Ok(self.bucket_dir(bucket)?.join(rel))
    }

    fn tmp_path(&self) -> PathBuf {
        self.root
            .join(".tmp")
            .join(uuid::Uuid::new_v4().to_string())
    }

    async fn finish(
        &self,
        tmp: &Path,
        dest: &Path,
        key: &str,
        size: u64,
        etag: String,
    ) -> Result<ObjectInfo, StoreError> {
        if let Some(dir) = dest.parent() {
            tokio::fs::create_dir_all(dir).await?;
        }
        tokio::fs::rename(tmp, dest).await?;
        Ok(ObjectInfo {
            key: key.to_string(),
            size,
            etag,
        })
    }
}

impl DirObjectStore {
    async fn open(&self, bucket: &str, key: &str) -> Result<tokio::fs::File, StoreError> {
        let path = self.path(bucket, key)?;
        match tokio::fs::File::open(&path).await {
            Ok(file) => Ok(file),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                Err(StoreError::NotFound(format!("s3://{bucket}/{key}")))
            }
            Err(e) => Err(e.into()),
        }
    }
}

#[async_trait]
impl GetObject for DirObjectStore {
    async fn get_object(&self, bucket: &str, key: &str) -> Result<ObjectReader, StoreError> {
        Ok(Box::pin(self.open(bucket, key).await?))
    }

    async fn get_object_blocking(
        &self,
        bucket: &str,
        key: &str,
    ) -> Result<Option<BlockingObjectReader>, StoreError> {
        let file = self.open(bucket, key).await?.into_std().await;
        Ok(Some(Box::new(file)))
    }
}

#[async_trait]
impl PutObject for DirObjectStore {
    async fn put_object(
        &self,
        bucket: &str,
        key: &str,
        body: Vec<u8>,
    ) -> Result<ObjectInfo, StoreError> {
        let dest = self.path(bucket, key)?;
        let tmp = self.tmp_path();
        // One trip to the blocking pool writes, syncs and hashes the whole body (tokio's File
        // would copy it into its own buffer and make a trip per piece).
        let written = tmp.clone();
        let (size, etag) = tokio::task::spawn_blocking(move || -> std::io::Result<_> {
            use std::io::Write as _;
            if let Some(dir) = written.parent() {
                std::fs::create_dir_all(dir)?;
            }
            let mut file = std::fs::File::create(&written)?;
            file.write_all(&body)?;
            let etag = etag_of(xxh3_128(&body));
            remember_etag(&file, &etag);
            file.sync_all()?;
            Ok((body.len() as u64, etag))
        })
        .await
        .map_err(|e| std::io::Error::other(format!("writing {key}: {e}")))??;
        self.finish(&tmp, &dest, key, size, etag).await
    }

    async fn put_object_stream(
        &self,
        bucket: &str,
        key: &str,
        mut body: ObjectReader,
    ) -> Result<ObjectInfo, StoreError> {
        let dest = self.path(bucket, key)?;
        let tmp = self.tmp_path();
        if let Some(dir) = tmp.parent() {
            tokio::fs::create_dir_all(dir).await?;
        }
        let mut file = tokio::fs::File::create(&tmp).await?;
        let mut hasher = Xxh3::new();
        let mut size = 0u64;
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            let n = match body.read(&mut buf).await {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) => {
                    drop(file);
                    let _ = tokio::fs::remove_file(&tmp).await;
                    return Err(e.into());
                }
            };
            hasher.update(&buf[..n]);
            file.write_all(&buf[..n]).await?;
            size += n as u64;
        }
        file.flush().await?;
        let file = file.into_std().await;
        let etag = etag_of(hasher.digest128());
        let etag = tokio::task::spawn_blocking(move || {
            remember_etag(&file, &etag);
            file.sync_all().map(|()| etag)
        })
        .await
        .map_err(|e| std::io::Error::other(format!("writing {key}: {e}")))??;
        self.finish(&tmp, &dest, key, size, etag).await
    }
}

#[async_trait]
impl HeadObject for DirObjectStore {
    async fn head_object(&self, bucket: &str, key: &str) -> Result<Option<ObjectInfo>, StoreError> {
        let path = self.path(bucket, key)?;
        let found = tokio::task::spawn_blocking(move || -> std::io::Result<_> {
            let file = match std::fs::File::open(&path) {
                Ok(f) => f,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
                Err(e) => return Err(e),
            };
            if !file.metadata()?.is_file() {
                return Ok(None);
            }
            file_etag(file).map(Some)
        })
        .await
        .map_err(|e| std::io::Error::other(format!("reading {key}: {e}")))??;
        Ok(found.map(|(size, etag)| ObjectInfo {
            key: key.to_string(),
            size,
            etag,
        }))
    }
}

#[async_trait]
impl ListObjects for DirObjectStore {
    async fn list_objects(
        &self,
        bucket: &str,
        prefix: &str,
        start_after: Option<&str>,
        limit: usize,
    ) -> Result<Vec<ObjectInfo>, StoreError> {
        let bucket_dir = self.bucket_dir(bucket)?;
        // Walk only below the directory part of the prefix.
        let dir_part = match prefix.rfind('/') {
            Some(i) => &prefix[..i],
            None => "",
        };
        let start = if dir_part.is_empty() {
            bucket_dir.clone()
        } else {
            self.path(bucket, dir_part)?
        };
        let mut keys = Vec::new();
        let mut stack = vec![start];
        while let Some(dir) = stack.pop() {
            let mut entries = match tokio::fs::read_dir(&dir).await {
                Ok(e) => e,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                Err(e) => return Err(e.into()),
            };
            while let Some(entry) = entries.next_entry().await? {
                let path = entry.path();
                let meta = entry.metadata().await?;
                if meta.is_dir() {
                    stack.push(path);
                    continue;
                }
                let Ok(rel) = path.strip_prefix(&bucket_dir) else {
                    continue;
                };
                let Some(key) = rel
                    .to_str()
                    .map(|s| s.replace(std::path::MAIN_SEPARATOR, "/"))
                else {
                    continue;
                };
                if key.starts_with(prefix) && start_after.is_none_or(|after| key.as_str() > after) {
                    keys.push((key, meta.len()));
                }
            }
        }
        keys.sort();
        keys.truncate(limit);
        // ETags of listed objects are not needed by the pipeline; head_object computes them.
        Ok(keys
            .into_iter()
            .map(|(key, size)| ObjectInfo {
                key,
                size,
                etag: String::new(),
            })
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The directory store offers Transform a blocking reader of the file itself.
    #[tokio::test]
    async fn a_blocking_read_gives_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let store = DirObjectStore::new(dir.path());
        let body: Vec<u8> = (0..300_000u32).map(|i| (i % 253) as u8).collect();
        store.put_object("b", "k", body.clone()).await.unwrap();
        let mut reader = store
            .get_object_blocking("b", "k")
            .await
            .unwrap()
            .expect("the directory store offers a blocking reader");
        let mut read = Vec::new();
        std::io::Read::read_to_end(&mut reader, &mut read).unwrap();
        assert_eq!(read, body);
        assert!(matches!(
            store.get_object_blocking("b", "missing").await,
            Err(StoreError::NotFound(_))
        ));
    }

    /// The ETag of a HEAD is the content's, whether it comes from the attribute kept at the put
    /// or from hashing a file changed or written by hand; an attribute that no longer matches
    /// the file's size and time is not trusted.
    #[tokio::test]
    async fn head_gives_the_contents_etag_whether_kept_or_hashed() {
        let dir = tempfile::tempdir().unwrap();
        let store = DirObjectStore::new(dir.path());
        let put = store.put_object("b", "k", b"first".to_vec()).await.unwrap();
        let head = store.head_object("b", "k").await.unwrap().unwrap();
        assert_eq!((head.size, &head.etag), (5, &put.etag));
        let streamed = store
            .put_object_stream("b", "s", Box::pin(&b"first"[..]))
            .await
            .unwrap();
        assert_eq!(streamed.etag, put.etag, "the same content, the same ETag");

        // Changed in place: the kept attribute no longer matches, the content is hashed.
        let path = dir.path().join("b").join("k");
        std::fs::write(&path, b"second!").unwrap();
        let changed = store.head_object("b", "k").await.unwrap().unwrap();
        assert_eq!(changed.size, 7);
        assert_ne!(changed.etag, put.etag);
        // Written by hand with the first content: the first ETag again.
        std::fs::write(dir.path().join("b").join("hand"), b"first").unwrap();
        let by_hand = store.head_object("b", "hand").await.unwrap().unwrap();
        assert_eq!(by_hand.etag, put.etag);

        // A kept attribute is what HEAD answers while the file's size and time match it
        // (where the file system keeps user attributes), and only then.
        let file = std::fs::File::open(&path).unwrap();
        if xattr::FileExt::set_xattr(&file, ETAG_ATTRIBUTE, b"0:0:0 \"stale\"").is_ok() {
            let head = store.head_object("b", "k").await.unwrap().unwrap();
            assert_eq!(head.etag, changed.etag, "a stale attribute is not trusted");
            remember_etag(&file, "\"kept\"");
            let head = store.head_object("b", "k").await.unwrap().unwrap();
            assert_eq!(head.etag, "\"kept\"", "a matching attribute is used");
        }
    }

    #[test]
    fn keys_cannot_escape_the_bucket() {
        let store = DirObjectStore::new("/tmp/x");
        for key in ["../x", "a/../../x", "/abs", "a//b", "", "a/", "./a"] {
            assert!(store.path("b", key).is_err(), "{key}");
        }
        assert!(store.path("b", "jobs/j1/report.json").is_ok());
        assert!(store.path("../b", "k").is_err());
    }

    #[test]
    fn keys_longer_than_s3_allows_are_refused() {
        let store = DirObjectStore::new("/tmp/x");
        let ok = format!(
            "{}/{}/{}/{}",
            "a".repeat(255),
            "b".repeat(255),
            "c".repeat(255),
            "d".repeat(256)
        );
        assert_eq!(ok.len(), 1024);
        assert!(
            store.path("b", &ok).is_err(),
            "a 256-byte segment is no file name"
        );
        let ok = format!(
            "{}/{}/{}/{}/{}",
            "a".repeat(250),
            "b".repeat(250),
            "c".repeat(250),
            "d".repeat(250),
            "e".repeat(20)
        );
        assert!(store.path("b", &ok).is_ok());
        let err = store.path("b", &format!("{ok}x")).unwrap_err().to_string();
        assert!(err.contains("1025 bytes, more than S3's 1024"), "{err}");
    }
}
