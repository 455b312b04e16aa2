//! Downloads: parallel ranged GETs, delivered in order to the caller's sink on a blocking
//! thread, with memory bounded by the engine's permits.

use std::sync::{Arc, Mutex};

use futures_util::stream::{self, StreamExt, TryStreamExt};
use tokio::sync::OwnedSemaphorePermit;

use crate::error::{classify, source_text, Retry};
use crate::retry::pause;
use crate::{Engine, Object, S3Error};

/// Receives an object's bytes, in order, on a blocking thread (hash them, write them).
pub trait Sink: Send + 'static {
    fn write(&mut self, chunk: &Chunk) -> std::io::Result<()>;
}

/// A downloaded range, in one of the engine's buffers. The buffer (and the memory permit that
/// goes with it) returns to the engine when the last clone is dropped, so a sink that hands
/// chunks to another thread (a file writer) stays within the engine's memory bound.
#[derive(Clone)]
pub struct Chunk {
    slot: Arc<Slot>,
}

impl std::ops::Deref for Chunk {
    type Target = [u8];

    fn deref(&self) -> &[u8] {
        self.slot.filled()
    }
}

/// Page alignment for range buffers. The allocator puts a large buffer 16 bytes past a page
/// boundary; reading into such a buffer costs the kernel several times more system time here
/// than reading into an aligned one (bench/README.md, "Reading"), and a file opened with `O_DIRECT`
/// can only be written from an aligned one.
const ALIGN: usize = 4096;

/// A page-aligned buffer of fixed capacity.
struct AlignedBuf {
    mem: Box<[u8]>,
    start: usize,
    cap: usize,
}

impl AlignedBuf {
    fn new(cap: usize) -> Self {
        let mem = vec![0u8; cap.saturating_add(ALIGN)].into_boxed_slice();
        let start = mem.as_ptr().align_offset(ALIGN).min(ALIGN);
        AlignedBuf { mem, start, cap }
    }

    fn get(&self, len: usize) -> &[u8] {
        &self.mem[self.start..self.start + len]
    }

    fn get_mut(&mut self) -> &mut [u8] {
        &mut self.mem[self.start..self.start + self.cap]
    }
}

/// Range buffers, reused. There are never more than the engine's permits, so memory stays
/// fixed however large the model, and a range does not fault in fresh pages.
#[derive(Default)]
pub(crate) struct BufferPool {
    free: Mutex<Vec<AlignedBuf>>,
}

impl BufferPool {
    fn take(&self, cap: usize) -> AlignedBuf {
        let reused = self
            .free
            .lock()
            .ok()
            .and_then(|mut free| free.pop())
            .filter(|b| b.cap >= cap);
        reused.unwrap_or_else(|| AlignedBuf::new(cap))
    }

    fn give(&self, buf: AlignedBuf) {
        if let Ok(mut free) = self.free.lock() {
            free.push(buf);
        }
    }
}

/// A buffer on loan from the pool, with its memory permit; both go back on drop.
struct Slot {
    buf: Option<AlignedBuf>,
    len: usize,
    pool: Arc<BufferPool>,
    _permit: OwnedSemaphorePermit,
}

impl Slot {
    fn filled(&self) -> &[u8] {
        self.buf.as_ref().map_or(&[], |b| b.get(self.len))
    }

    /// Appends `data` after the filled part; `None`, with nothing copied, when that would pass
    /// `want` bytes.
    fn append(&mut self, data: &[u8], want: usize) -> Option<()> {
        let end = self.len.checked_add(data.len()).filter(|&e| e <= want)?;
        let buf = self.buf.as_mut()?;
        buf.get_mut()[self.len..end].copy_from_slice(data);
        self.len = end;
        Some(())
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        if let Some(buf) = self.buf.take() {
            self.pool.give(buf);
        }
    }
}

fn ranges(size: u64, step: u64) -> Vec<(u64, u64)> {
    let step = step.max(1);
    (0..size.div_ceil(step))
        .map(|i| (i * step, ((i + 1) * step).min(size)))
        .collect()
}

impl Engine {
    /// Fetches `[start, end)` of `obj`, retrying and resuming where a broken attempt stopped.
    async fn fetch_range(
        &self,
        bucket: &str,
        obj: &Object,
        start: u64,
        end: u64,
    ) -> Result<Chunk, S3Error> {
        let permit = self
            .permits
            .clone()
            .acquire_owned()
            .await
            .map_err(|_| S3Error::Interrupted)?;
        let want = usize::try_from(end - start).unwrap_or(usize::MAX);
        let mut slot = Slot {
            buf: Some(self.pool.take(want)),
            len: 0,
            pool: self.pool.clone(),
            _permit: permit,
        };
        let mut attempt = 0;
        loop {
            let from = start + slot.len as u64;
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
                if let Some(total) = out
                    .content_range()
                    .and_then(crate::parse::content_range_total)
                {
                    if total != obj.size {
                        return Err(changed());
                    }
                }
                let mut body = out.body;
                while let Some(chunk) = self.next_piece(&mut body, bucket, &obj.key).await? {
                    if slot.append(&chunk, want).is_none() {
                        return Err(changed());
                    }
                }
                Ok(())
            }
            .await;
            let err = match outcome {
                Ok(()) if slot.len == want => {
                    return Ok(Chunk {
                        slot: Arc::new(slot),
                    })
                }
                Ok(()) => S3Error::transport(
                    "GET",
                    bucket,
                    &obj.key,
                    "the connection closed before the range was complete".into(),
                ),
                Err(Retry::No(e)) => return Err(e),
                Err(Retry::Yes(e)) => e,
            };
            attempt += 1;
            if attempt >= self.tuning.max_attempts {
                return Err(err.gave_up(attempt));
            }
            tokio::time::sleep(pause(attempt, &err)).await;
        }
    }

    /// The next piece of a response body, or `None` at its end. A body that sends nothing for
    /// the read timeout, breaks, or is cut short fails this attempt, to be retried (and resumed).
    async fn next_piece(
        &self,
        body: &mut aws_sdk_s3::primitives::ByteStream,
        bucket: &str,
        key: &str,
    ) -> Result<Option<bytes::Bytes>, Retry> {
        let limit = self.tuning.read_timeout;
        match tokio::time::timeout(limit, body.try_next()).await {
            Ok(Ok(piece)) => Ok(piece),
            Ok(Err(e)) => Err(Retry::Yes(S3Error::transport(
                "GET",
                bucket,
                key,
                source_text(&e),
            ))),
            Err(_) => Err(Retry::Yes(S3Error::transport(
                "GET",
                bucket,
                key,
                format!(
                    "no data for {} s (the read timeout); the server stalled",
                    limit.as_secs_f64()
                ),
            ))),
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
        let (tx, mut rx) = tokio::sync::mpsc::channel::<Chunk>(1);
        let moved = self.moved.clone();
        let consumer = tokio::task::spawn_blocking(move || {
            let mut sink = sink;
            while let Some(chunk) = rx.blocking_recv() {
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

    /// Reads a small object (a signature) whole, in one GET; refuses one larger than `limit`
    /// bytes before reading its body.
    pub async fn get_small(&self, bucket: &str, key: &str, limit: u64) -> Result<Vec<u8>, S3Error> {
        let too_large = |size: u64| {
            Retry::No(S3Error::TooLarge {
                bucket: bucket.to_string(),
                key: key.to_string(),
                size,
                limit,
            })
        };
        self.with_retries(|| async {
            let out = self
                .client
                .get_object()
                .bucket(bucket)
                .key(key)
                .send()
                .await
                .map_err(|e| classify("GET", bucket, key, e))?;
            let size = out.content_length().and_then(|n| u64::try_from(n).ok());
            if let Some(size) = size.filter(|&n| n > limit) {
                return Err(too_large(size));
            }
            let mut buf = Vec::with_capacity(size.unwrap_or(0) as usize);
            let mut body = out.body;
            while let Some(chunk) = self.next_piece(&mut body, bucket, key).await? {
                if (buf.len() + chunk.len()) as u64 > limit {
                    return Err(too_large((buf.len() + chunk.len()) as u64));
                }
                buf.extend_from_slice(&chunk);
            }
            if size.is_some_and(|n| n != buf.len() as u64) {
                return Err(Retry::Yes(S3Error::transport(
                    "GET",
                    bucket,
                    key,
                    "the connection closed before the object was complete".into(),
                )));
            }
            Ok(buf)
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn buffers_are_aligned_and_roomy() {
        for len in [1, 4096, 5 << 20] {
            let mut b = super::AlignedBuf::new(len);
            assert_eq!(b.get_mut().as_ptr() as usize % super::ALIGN, 0);
            assert_eq!(b.get_mut().len(), len);
        }
    }

    #[test]
    fn the_pool_reuses_buffers_and_refuses_overflow() {
        let pool = std::sync::Arc::new(super::BufferPool::default());
        let sem = std::sync::Arc::new(tokio::sync::Semaphore::new(1));
        let buf = pool.take(8192);
        let first = buf.mem.as_ptr();
        let mut slot = super::Slot {
            buf: Some(buf),
            len: 0,
            pool: pool.clone(),
            _permit: sem.clone().try_acquire_owned().unwrap(),
        };
        assert!(slot.append(&[1; 5000], 8192).is_some());
        assert!(slot.append(&[2; 3192], 8192).is_some());
        assert!(
            slot.append(&[3; 1], 8192).is_none(),
            "a byte past the range"
        );
        assert_eq!(slot.filled().len(), 8192);
        assert_eq!(sem.available_permits(), 0);
        drop(slot);
        assert_eq!(sem.available_permits(), 1, "the permit comes back");
        assert_eq!(
            pool.take(4096).mem.as_ptr(),
            first,
            "and so does the buffer"
        );
    }

    #[test]
    fn ranges_cover() {
        assert_eq!(super::ranges(0, 4), vec![]);
        assert_eq!(super::ranges(9, 4), vec![(0, 4), (4, 8), (8, 9)]);
        assert_eq!(
            crate::parse::content_range_total("bytes 0-99/1000"),
            Some(1000)
        );
    }
}
