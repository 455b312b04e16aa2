//! Uploads with SSE-KMS: one PUT for small files, parallel multipart for large ones, aborted on
//! any failure so no invisible parts are left behind. SDK checksums (CRC32) on every request.

use std::path::Path;

use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{
    ChecksumAlgorithm, CompletedMultipartUpload, CompletedPart, ServerSideEncryption,
};
use bytes::Bytes;
use futures_util::stream::{self, StreamExt, TryStreamExt};

use crate::error::{classify, Retry};
use crate::{Engine, S3Error};

/// Server-side encryption for every object we write: always `aws:kms`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Sse {
    /// Key id, alias or ARN; `None` means the bucket's default KMS key.
    pub kms_key_id: Option<String>,
}

/// An object we wrote.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Uploaded {
    pub key: String,
    pub size: u64,
}

fn local(path: &Path, error: std::io::Error) -> S3Error {
    S3Error::Local {
        what: format!("reading {}", path.display()),
        error,
    }
}

/// Sees a file's bytes once, in order, as they are read for upload (the caller hashes them, so
/// what is signed is exactly what was uploaded, and each file is read once).
pub trait Observer: Send + 'static {
    fn update(&mut self, bytes: &[u8]);
}

/// Uploads that nobody observes.
impl Observer for () {
    fn update(&mut self, _: &[u8]) {}
}

/// Reads `[offset, offset+len)` of a file on a blocking thread and shows it to `observer`.
async fn read_part<O: Observer>(
    path: &Path,
    offset: u64,
    len: u64,
    mut observer: O,
) -> Result<(Bytes, O), S3Error> {
    let p = path.to_path_buf();
    tokio::task::spawn_blocking(move || {
        use std::io::{Read, Seek, SeekFrom};
        let mut f = std::fs::File::open(&p)?;
        f.seek(SeekFrom::Start(offset))?;
        let mut buf = vec![0u8; usize::try_from(len).map_err(std::io::Error::other)?];
        f.read_exact(&mut buf)?;
        observer.update(&buf);
        Ok::<_, std::io::Error>((Bytes::from(buf), observer))
    })
    .await
    .map_err(|_| local(path, std::io::Error::other("the reading thread panicked")))?
    .map_err(|e| local(path, e))
}

impl Engine {
    /// PUTs `data` to `key` with SSE-KMS.
    pub async fn put_bytes(
        &self,
        bucket: &str,
        key: &str,
        data: Bytes,
        sse: &Sse,
    ) -> Result<(), S3Error> {
        self.with_retries(|| {
            let req = self
                .client
                .put_object()
                .bucket(bucket)
                .key(key)
                .body(ByteStream::from(data.clone()))
                .checksum_algorithm(ChecksumAlgorithm::Crc32)
                .server_side_encryption(ServerSideEncryption::AwsKms)
                .set_ssekms_key_id(sse.kms_key_id.clone())
                .customize()
                .config_override(self.upload_config(data.len() as u64));
            async move {
                req.send()
                    .await
                    .map(|_| ())
                    .map_err(|e| classify("PUT", bucket, key, e))
            }
        })
        .await
    }

    /// Uploads a local file: one PUT up to the multipart threshold, else a parallel multipart
    /// upload with bounded memory (parts in flight times part size). The file is read once, in
    /// order, and `observer` sees every byte that goes up; it is returned with the result.
    pub async fn upload_file<O: Observer>(
        &self,
        bucket: &str,
        key: &str,
        path: &Path,
        size: u64,
        sse: &Sse,
        observer: O,
    ) -> Result<(Uploaded, O), S3Error> {
        let uploaded = Uploaded {
            key: key.to_string(),
            size,
        };
        if size <= self.tuning.multipart_threshold {
            let (data, observer) = read_part(path, 0, size, observer).await?;
            self.put_bytes(bucket, key, data, sse).await?;
            self.moved
                .fetch_add(size, std::sync::atomic::Ordering::Relaxed);
            return Ok((uploaded, observer));
        }
        let created = self
            .with_retries(|| {
                let req = self
                    .client
                    .create_multipart_upload()
                    .bucket(bucket)
                    .key(key)
                    .checksum_algorithm(ChecksumAlgorithm::Crc32)
                    .server_side_encryption(ServerSideEncryption::AwsKms)
                    .set_ssekms_key_id(sse.kms_key_id.clone());
                async move {
                    req.send()
                        .await
                        .map_err(|e| classify("CreateMultipartUpload", bucket, key, e))
                }
            })
            .await?;
        let upload_id = created.upload_id().unwrap_or_default().to_string();
        if let Ok(mut active) = self.active_uploads.lock() {
            active.push((bucket.to_string(), key.to_string(), upload_id.clone()));
        }
        let result = self
            .upload_parts(bucket, key, path, size, &upload_id, observer)
            .await;
        let result = match result {
            Ok((parts, observer)) => self
                .with_retries(|| {
                    let req = self
                        .client
                        .complete_multipart_upload()
                        .bucket(bucket)
                        .key(key)
                        .upload_id(&upload_id)
                        .multipart_upload(
                            CompletedMultipartUpload::builder()
                                .set_parts(Some(parts.clone()))
                                .build(),
                        )
                        // S3 may take minutes to assemble a large object, but it starts its
                        // answer at once and keeps the connection alive with whitespace.
                        .customize()
                        .config_override(self.upload_config(0));
                    async move {
                        req.send()
                            .await
                            .map(|_| ())
                            .map_err(|e| classify("CompleteMultipartUpload", bucket, key, e))
                    }
                })
                .await
                .map(|()| observer),
            Err(e) => Err(e),
        };
        if result.is_err() {
            self.abort(bucket, key, &upload_id).await;
        }
        if let Ok(mut active) = self.active_uploads.lock() {
            active.retain(|(_, _, id)| *id != upload_id);
        }
        result.map(|observer| (uploaded, observer))
    }

    /// Reads the parts one after another (so `observer` sees the file in order, once) and
    /// uploads them in parallel.
    async fn upload_parts<O: Observer>(
        &self,
        bucket: &str,
        key: &str,
        path: &Path,
        size: u64,
        upload_id: &str,
        observer: O,
    ) -> Result<(Vec<CompletedPart>, O), S3Error> {
        let step = self.tuning.part_size.max(5 << 20);
        let parts: Vec<(i32, u64, u64)> = (0..size.div_ceil(step))
            .map(|i| {
                (
                    i as i32 + 1,
                    i * step,
                    ((i + 1) * step).min(size) - i * step,
                )
            })
            .collect();
        // The observer travels from one read to the next; the slot holds it between reads.
        let slot = std::sync::Mutex::new(Some(observer));
        let slot = &slot;
        let mut done: Vec<CompletedPart> = stream::iter(parts)
            .then(|(number, offset, len)| async move {
                let observer = slot.lock().ok().and_then(|mut o| o.take()).ok_or_else(|| {
                    local(
                        path,
                        std::io::Error::other("an earlier read of this file failed"),
                    )
                })?;
                let (data, observer) = read_part(path, offset, len, observer).await?;
                if let Ok(mut o) = slot.lock() {
                    *o = Some(observer);
                }
                Ok::<_, S3Error>((number, len, data))
            })
            .map_ok(|(number, len, data)| async move {
                let out = self
                    .with_retries(|| {
                        let req = self
                            .client
                            .upload_part()
                            .bucket(bucket)
                            .key(key)
                            .upload_id(upload_id)
                            .part_number(number)
                            .checksum_algorithm(ChecksumAlgorithm::Crc32)
                            .body(ByteStream::from(data.clone()))
                            .customize()
                            .config_override(self.upload_config(len));
                        async move {
                            req.send()
                                .await
                                .map_err(|e| classify("UploadPart", bucket, key, e))
                        }
                    })
                    .await?;
                self.moved
                    .fetch_add(len, std::sync::atomic::Ordering::Relaxed);
                Ok::<CompletedPart, S3Error>(
                    CompletedPart::builder()
                        .part_number(number)
                        .set_e_tag(out.e_tag().map(str::to_string))
                        .set_checksum_crc32(out.checksum_crc32().map(str::to_string))
                        .build(),
                )
            })
            .try_buffer_unordered(self.tuning.parallel_parts.max(1))
            .try_collect()
            .await?;
        done.sort_by_key(|p| p.part_number());
        let observer = slot.lock().ok().and_then(|mut o| o.take()).ok_or_else(|| {
            local(
                path,
                std::io::Error::other("the file's reads did not finish"),
            )
        })?;
        Ok((done, observer))
    }

    /// Aborts a multipart upload, retried like every request, so no invisible parts stay behind
    /// (best effort: the upload is already failing).
    async fn abort(&self, bucket: &str, key: &str, upload_id: &str) {
        let _ = self
            .with_retries(|| {
                let req = self
                    .client
                    .abort_multipart_upload()
                    .bucket(bucket)
                    .key(key)
                    .upload_id(upload_id);
                async move {
                    req.send()
                        .await
                        .map(|_| ())
                        .map_err(|e| classify("AbortMultipartUpload", bucket, key, e))
                }
            })
            .await;
    }

    /// Aborts every multipart upload this engine has in progress (after an interrupt).
    pub async fn abort_active(&self) {
        let active: Vec<(String, String, String)> = self
            .active_uploads
            .lock()
            .map(|a| a.clone())
            .unwrap_or_default();
        for (bucket, key, id) in active {
            self.abort(&bucket, &key, &id).await;
        }
    }

    /// Deletes an object (used to clean up after a failed push).
    pub async fn delete(&self, bucket: &str, key: &str) -> Result<(), S3Error> {
        self.client
            .delete_object()
            .bucket(bucket)
            .key(key)
            .send()
            .await
            .map(|_| ())
            .map_err(|e| match classify("DELETE", bucket, key, e) {
                Retry::Yes(e) | Retry::No(e) => e,
            })
    }
}
