//! The engine's one retry layer: every request (LIST, HEAD, GET, PUT, parts) gets the same
//! attempts and backoff, and the server's `Retry-After` (the SDK's own retries are off).

use std::time::Duration;

use crate::client::Engine;
use crate::error::Retry;
use crate::S3Error;

/// The longest `Retry-After` honoured; a longer one is waited this long.
const MAX_RETRY_AFTER: Duration = Duration::from_secs(20);

impl Engine {
    /// Runs `op` until it succeeds, fails for good, or runs out of attempts.
    pub(crate) async fn with_retries<T, F, Fut>(&self, mut op: F) -> Result<T, S3Error>
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = Result<T, Retry>>,
    {
        let mut attempt = 0;
        loop {
            match op().await {
                Ok(v) => return Ok(v),
                Err(Retry::No(e)) => return Err(e),
                Err(Retry::Yes(e)) => {
                    attempt += 1;
                    if attempt >= self.tuning.max_attempts {
                        return Err(e.gave_up(attempt));
                    }
                    tokio::time::sleep(pause(attempt, &e)).await;
                }
            }
        }
    }
}

/// Exponential backoff: 100 ms, 200 ms, 400 ms ... capped at 5 s.
pub(crate) fn backoff(attempt: u32) -> Duration {
    Duration::from_millis((100u64 << attempt.min(6)).min(5_000))
}

/// How long to wait before attempt `attempt + 1`: the backoff, or the server's `Retry-After`
/// when it asks for longer (up to 20 s).
pub(crate) fn pause(attempt: u32, error: &S3Error) -> Duration {
    let after = error
        .retry_after()
        .map_or(Duration::ZERO, |d| d.min(MAX_RETRY_AFTER));
    backoff(attempt).max(after)
}
