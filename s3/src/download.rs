//! Downloads: parallel ranged GETs, delivered in order to the caller's sink on a blocking
//! thread, with memory bounded by the engine's permits.

use bytes::{Bytes, BytesMut};
use futures_util::stream::{self, StreamExt, TryStreamExt};
use tokio::sync::OwnedSemaphorePermit;

use crate::client::backoff;
use crate::error::{classify, Retry};
use crate::{Engine, Object, S3Error};

/// Receives an object's bytes, in order, on a blocking thread (hash them, write them).
pub trait Sink: Send + 'static {
    fn write(&mut self, chunk: &Chunk) -> std::io::Result<()>;
}

/// A downloaded range. It holds one of the engine's memory permits until the last clone is
/// dropped, so a sink that hands chunks to another thread (a file writer) stays within the
/// engine's memory bound.
#[derive(Clone)]
pub struct Chunk {
    bytes: Bytes,
    _permit: std::sync::Arc<OwnedSemaphorePermit>,
}

impl std::ops::Deref for Chunk {
    type Target = [u8];

    fn deref(&self) -> &[u8] {
        &self.bytes
    }
}

fn ranges(size: u64, step: u64) -> Vec<(u64, u64)> {
    let step = step.max(1);
    (0..size.div_ceil(step))
        .map(|i| (i * step, ((i + 1) * step).min(size)))
        .collect()
}

/// Page alignment for range buffers. The allocator puts a large buffer 16 bytes past a page
/// boundary; writing a file from such a buffer (and reading into one) costs the kernel several
/// times more system time here than from an aligned one (README, "Reading note").
const ALIGN: usize = 4096;

/// An empty buffer with room for `len` bytes that starts on a page boundary.
fn aligned_buffer(len: usize) -> BytesMut {
    let mut buf = BytesMut::with_capacity(len.saturating_add(ALIGN));
    let skip = buf.as_ptr().align_offset(ALIGN).min(ALIGN);
    buf.resize(skip, 0);
    let _ = buf.split_to(skip);
    buf
}

/// `bytes a-b/TOTAL` -> TOTAL.
fn content_range_total(cr: &str) -> Option<u64> {
    cr.rsplit_once('/')?.1.parse().ok()
}

impl Engine {
    /// Fetches `[start, end)` of `obj`, retrying and resuming where a broken attempt stopped.
    async fn fetch_range(
        &self,
        bucket: &str,
        obj: &Object,
        start: u64,
        end: u64,
    ) -> Result<(Bytes, OwnedSemaphorePermit), S3Error> {
        let permit = self
            .permits
            .clone()
            .acquire_owned()
            .await
            .map_err(|_| S3Error::Interrupted)?;
        let want = usize::try_from(end - start).unwrap_or(usize::MAX);
        let mut buf = aligned_buffer(want);
        let mut attempt = 0;
        loop {
            let from = start + buf.len() as u64;
            let mut req = self
                .client
                .get_object()
                .bucket(bucket)
                .key(&obj.key)
                .range(format!("bytes={from}-{}", end - 1));
            if let Some(etag) = &obj.etag {
                req = req.if_match(etag);
            }
            let outcome: Result<(), Retry> = async {
                let out = req
                    .send()
                    .await
                    .map_err(|e| classify("GET", bucket, &obj.key, e))?;
                let changed = || {
                    Retry::No(S3Error::ObjectChanged {
                        bucket: bucket.to_string(),
                        key: obj.key.clone(),
                    })
                };
                if let Some(total) = out.content_range().and_then(content_range_total) {
                    if total != obj.size {
                        return Err(changed());
                    }
                }
                let mut body = out.body;
                while let Some(chunk) = body.try_next().await.map_err(|e| {
                    Retry::Yes(S3Error::Transport {
                        op: "GET",
                        bucket: bucket.to_string(),
                        key: obj.key.clone(),
                        message: e.to_string(),
                    })
                })? {
                    if buf.len() + chunk.len() > want {
                        return Err(changed());
                    }
                    buf.extend_from_slice(&chunk);
                }
                Ok(())
            }
            .await;
            let err = match outcome {
                Ok(()) if buf.len() == want => return Ok((buf.freeze(), permit)),
                Ok(()) => S3Error::Transport {
                    op: "GET",
                    bucket: bucket.to_string(),
                    key: obj.key.clone(),
                    message: "the connection closed before the range was complete".into(),
                },
                Err(Retry::No(e)) => return Err(e),
                Err(Retry::Yes(e)) => e,
            };
            attempt += 1;
            if attempt >= self.tuning.max_attempts {
                return Err(err);
            }
            tokio::time::sleep(backoff(attempt)).await;
        }
    }

    /// Streams `obj` into `sink` in order and returns the sink. Ranges are fetched in parallel;
    /// at most the engine's permits' worth of bytes are held in memory.
    pub async fn download<S: Sink>(
        &self,
        bucket: &str,
        obj: &Object,
        sink: S,
    ) -> Result<S, S3Error> {
        let (tx, mut rx) = tokio::sync::mpsc::channel::<(Bytes, OwnedSemaphorePermit)>(1);
        let moved = self.moved.clone();
        let consumer = tokio::task::spawn_blocking(move || {
            let mut sink = sink;
            while let Some((bytes, permit)) = rx.blocking_recv() {
                let chunk = Chunk {
                    bytes,
                    _permit: std::sync::Arc::new(permit),
                };
                sink.write(&chunk)?;
                moved.fetch_add(chunk.len() as u64, std::sync::atomic::Ordering::Relaxed);
            }
            Ok::<S, std::io::Error>(sink)
        });
        let mut fetches = stream::iter(ranges(obj.size, self.tuning.range_size))
            .map(|(s, e)| self.fetch_range(bucket, obj, s, e))
            .buffered(self.tuning.max_in_flight.max(1));
        let mut result = Ok(());
        while let Some(r) = fetches.next().await {
            match r {
                Ok(item) => {
                    if tx.send(item).await.is_err() {
                        break; // the sink failed; its error is reported below
                    }
                }
                Err(e) => {
                    result = Err(e);
                    break;
                }
            }
        }
        drop(fetches);
        drop(tx);
        let local = |error| S3Error::Local {
            what: format!("processing s3://{bucket}/{}", obj.key),
            error,
        };
        let sink = consumer
            .await
            .map_err(|_| local(std::io::Error::other("the processing thread panicked")))?
            .map_err(local)?;
        result.map(|()| sink)
    }

    /// Downloads several objects at once; the first failure cancels the rest.
    pub async fn download_many<S: Sink>(
        &self,
        bucket: &str,
        jobs: Vec<(Object, S)>,
    ) -> Result<Vec<(Object, S)>, S3Error> {
        stream::iter(jobs)
            .map(|(o, s)| async move {
                let s = self.download(bucket, &o, s).await?;
                Ok((o, s))
            })
            .buffer_unordered(self.tuning.parallel_objects.max(1))
            .try_collect()
            .await
    }

    /// Reads a small object (a signature) whole; refuses one larger than `limit` bytes.
    pub async fn get_small(&self, bucket: &str, key: &str, limit: u64) -> Result<Vec<u8>, S3Error> {
        struct Collect(Vec<u8>);
        impl Sink for Collect {
            fn write(&mut self, chunk: &Chunk) -> std::io::Result<()> {
                self.0.extend_from_slice(chunk);
                Ok(())
            }
        }
        let head = self
            .head(bucket, key)
            .await?
            .ok_or_else(|| S3Error::NoSuchKey {
                bucket: bucket.to_string(),
                key: key.to_string(),
            })?;
        if head.object.size > limit {
            return Err(S3Error::Local {
                what: format!("s3://{bucket}/{key}"),
                error: std::io::Error::other(format!(
                    "{} bytes is too large for a signature",
                    head.object.size
                )),
            });
        }
        Ok(self
            .download(bucket, &head.object, Collect(Vec::new()))
            .await?
            .0)
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn buffers_are_aligned_and_roomy() {
        for len in [1, 4096, 5 << 20] {
            let b = super::aligned_buffer(len);
            assert_eq!(b.as_ptr() as usize % super::ALIGN, 0);
            assert!(b.capacity() >= len && b.is_empty());
        }
    }

    #[test]
    fn ranges_cover() {
        assert_eq!(super::ranges(0, 4), vec![]);
        assert_eq!(super::ranges(9, 4), vec![(0, 4), (4, 8), (8, 9)]);
        assert_eq!(super::content_range_total("bytes 0-99/1000"), Some(1000));
    }
}
