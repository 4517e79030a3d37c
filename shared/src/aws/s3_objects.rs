//! The object port on S3: streaming GET, PUT (multipart above one part), HEAD, ListObjectsV2.

use async_trait::async_trait;
use aws_sdk_s3::Client;
use aws_sdk_s3::operation::get_object::GetObjectError;
use aws_sdk_s3::operation::head_object::HeadObjectError;
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{CompletedMultipartUpload, CompletedPart};
use tokio::io::AsyncReadExt;

use super::errors::store_error;
use crate::error::StoreError;
use crate::ports::objects::{
    GetObject, HeadObject, ListObjects, ObjectInfo, ObjectReader, PutObject,
};

/// The multipart part size: S3's minimum is 5 MiB; 8 MiB keeps a Lambda's memory small and a
/// 10,000-part upload at up to 78 GiB.
pub const PART_SIZE: usize = 8 * 1024 * 1024;

#[derive(Clone, Debug)]
pub struct S3Objects {
    client: Client,
}

impl S3Objects {
    pub fn new(client: Client) -> Self {
        S3Objects { client }
    }

    async fn multipart(
        &self,
        bucket: &str,
        key: &str,
        first: Vec<u8>,
        mut body: ObjectReader,
    ) -> Result<ObjectInfo, StoreError> {
        let upload = self
            .client
            .create_multipart_upload()
            .bucket(bucket)
            .key(key)
            .send()
            .await
            .map_err(|e| store_error("CreateMultipartUpload", e))?;
        let upload_id = upload.upload_id.ok_or_else(|| {
            StoreError::Other("CreateMultipartUpload returned no upload id".into())
        })?;
        let result = self
            .upload_parts(bucket, key, &upload_id, first, &mut body)
            .await;
        if result.is_err() {
            // Readers never see a partial object; do not leave the parts behind either.
            let _ = self
                .client
                .abort_multipart_upload()
                .bucket(bucket)
                .key(key)
                .upload_id(&upload_id)
                .send()
                .await;
        }
        result
    }

    async fn upload_parts(
        &self,
        bucket: &str,
        key: &str,
        upload_id: &str,
        first: Vec<u8>,
        body: &mut ObjectReader,
    ) -> Result<ObjectInfo, StoreError> {
        let mut parts = Vec::new();
        let mut size = 0u64;
        let mut part = first;
        let mut number = 1;
        loop {
            size += part.len() as u64;
            let out = self
                .client
                .upload_part()
                .bucket(bucket)
                .key(key)
                .upload_id(upload_id)
                .part_number(number)
                .body(ByteStream::from(part))
                .send()
                .await
                .map_err(|e| store_error("UploadPart", e))?;
            parts.push(
                CompletedPart::builder()
                    .part_number(number)
                    .set_e_tag(out.e_tag)
                    .build(),
            );
            part = read_part(body).await?;
            if part.is_empty() {
                break;
            }
            number += 1;
        }
        let done = self
            .client
            .complete_multipart_upload()
            .bucket(bucket)
            .key(key)
            .upload_id(upload_id)
            .multipart_upload(
                CompletedMultipartUpload::builder()
                    .set_parts(Some(parts))
                    .build(),
            )
            .send()
            .await
            .map_err(|e| store_error("CompleteMultipartUpload", e))?;
        Ok(ObjectInfo {
            key: key.to_string(),
            size,
            etag: done.e_tag.unwrap_or_default(),
        })
    }
}

/// Reads up to one part (less only at the end of the body).
async fn read_part(body: &mut ObjectReader) -> Result<Vec<u8>, StoreError> {
    let mut part = Vec::with_capacity(PART_SIZE);
    let mut limited = body.take(PART_SIZE as u64);
    limited.read_to_end(&mut part).await?;
    Ok(part)
}

#[async_trait]
impl GetObject for S3Objects {
    async fn get_object(&self, bucket: &str, key: &str) -> Result<ObjectReader, StoreError> {
        let out = self
            .client
            .get_object()
            .bucket(bucket)
            .key(key)
            .send()
            .await
            .map_err(|e| match e.as_service_error() {
                Some(GetObjectError::NoSuchKey(_)) => {
                    StoreError::NotFound(format!("s3://{bucket}/{key}"))
                }
                _ => store_error("GetObject", e),
            })?;
        Ok(Box::pin(out.body.into_async_read()))
    }
}

#[async_trait]
impl PutObject for S3Objects {
    async fn put_object(
        &self,
        bucket: &str,
        key: &str,
        body: Vec<u8>,
    ) -> Result<ObjectInfo, StoreError> {
        let size = body.len() as u64;
        let out = self
            .client
            .put_object()
            .bucket(bucket)
            .key(key)
            .body(ByteStream::from(body))
            .send()
            .await
            .map_err(|e| store_error("PutObject", e))?;
        Ok(ObjectInfo {
            key: key.to_string(),
            size,
            etag: out.e_tag.unwrap_or_default(),
        })
    }

    async fn put_object_stream(
        &self,
        bucket: &str,
        key: &str,
        mut body: ObjectReader,
    ) -> Result<ObjectInfo, StoreError> {
        let first = read_part(&mut body).await?;
        if first.len() < PART_SIZE {
            return self.put_object(bucket, key, first).await; // fits in one request
        }
        self.multipart(bucket, key, first, body).await
    }
}

#[async_trait]
impl HeadObject for S3Objects {
    async fn head_object(&self, bucket: &str, key: &str) -> Result<Option<ObjectInfo>, StoreError> {
        match self
            .client
            .head_object()
            .bucket(bucket)
            .key(key)
            .send()
            .await
        {
            Ok(out) => Ok(Some(ObjectInfo {
                key: key.to_string(),
                size: out.content_length.unwrap_or(0).max(0) as u64,
                etag: out.e_tag.unwrap_or_default(),
            })),
            Err(e) => match e.as_service_error() {
                Some(HeadObjectError::NotFound(_)) => Ok(None),
                _ if e.raw_response().is_some_and(|r| r.status().as_u16() == 404) => Ok(None),
                _ => Err(store_error("HeadObject", e)),
            },
        }
    }
}

#[async_trait]
impl ListObjects for S3Objects {
    async fn list_objects(
        &self,
        bucket: &str,
        prefix: &str,
        start_after: Option<&str>,
        limit: usize,
    ) -> Result<Vec<ObjectInfo>, StoreError> {
        let out = self
            .client
            .list_objects_v2()
            .bucket(bucket)
            .prefix(prefix)
            .set_start_after(start_after.map(str::to_string))
            .max_keys(limit.clamp(1, 1000) as i32)
            .send()
            .await
            .map_err(|e| store_error("ListObjectsV2", e))?;
        Ok(out
            .contents
            .unwrap_or_default()
            .into_iter()
            .filter_map(|o| {
                Some(ObjectInfo {
                    key: o.key?,
                    size: o.size.unwrap_or(0).max(0) as u64,
                    etag: o.e_tag.unwrap_or_default(),
                })
            })
            .collect())
    }
}
