//! The engine: an S3 client from the standard AWS configuration chain with its tuning, the
//! byte counter, and listing and HEAD. Retries are in `retry.rs`, bucket settings in
//! `bucket.rs`, configuration in `config.rs`.

use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use aws_config::SdkConfig;
use tokio::sync::Semaphore;

use crate::config::{load_sdk_config, Options, Tuning};
use crate::error::{classify, Retry};
use crate::{Head, Object, S3Error};

/// An upload's response starts only once its body is sent: on top of the read timeout, a
/// request gets one second for every this many bytes of body (a floor of 1 MiB/s per request).
const UPLOAD_FLOOR_BYTES_PER_SECOND: u64 = 1 << 20;

pub struct Engine {
    pub(crate) client: aws_sdk_s3::Client,
    pub(crate) tuning: Tuning,
    pub(crate) permits: Arc<Semaphore>,
    /// Range buffers, one per permit at most.
    pub(crate) pool: Arc<crate::download::BufferPool>,
    /// Multipart uploads in progress, so an interrupted push can abort them.
    pub(crate) active_uploads: Mutex<Vec<(String, String, String)>>,
    /// Bytes moved so far (downloaded into sinks, or uploaded), for progress displays.
    pub(crate) moved: Arc<AtomicU64>,
}

impl Engine {
    pub async fn new(options: &Options, tuning: Tuning) -> Engine {
        Engine::from_sdk_config(&load_sdk_config(options, &tuning).await, options, tuning)
    }

    pub fn from_sdk_config(sdk: &SdkConfig, options: &Options, tuning: Tuning) -> Engine {
        let mut b = aws_sdk_s3::config::Builder::from(sdk)
            .force_path_style(options.force_path_style)
            .accelerate(options.accelerate)
            .retry_config(aws_config::retry::RetryConfig::disabled())
            .timeout_config(
                aws_config::timeout::TimeoutConfig::builder()
                    .connect_timeout(tuning.connect_timeout)
                    .read_timeout(tuning.read_timeout)
                    .build(),
            );
        if let Some(ep) = &options.endpoint_url {
            b = b.endpoint_url(ep);
        }
        Engine {
            client: aws_sdk_s3::Client::from_conf(b.build()),
            permits: Arc::new(Semaphore::new(tuning.max_in_flight.max(1))),
            pool: Arc::default(),
            tuning,
            active_uploads: Mutex::new(Vec::new()),
            moved: Arc::new(AtomicU64::new(0)),
        }
    }

    /// A counter of the bytes this engine has downloaded or uploaded, for progress displays.
    pub fn bytes_moved(&self) -> Arc<AtomicU64> {
        self.moved.clone()
    }

    pub fn tuning(&self) -> &Tuning {
        &self.tuning
    }

    /// The configuration override an upload of `body` bytes uses: the SDK's read timeout runs
    /// from the start of the request, and the response starts only once the body went up, so
    /// the body's time at the floor rate is added to the read timeout. A stalled upload still
    /// fails in bounded time (an 8 MiB part: the read timeout plus 8 s).
    pub(crate) fn upload_config(&self, body: u64) -> aws_sdk_s3::config::Builder {
        let sending = Duration::from_secs(body.div_ceil(UPLOAD_FLOOR_BYTES_PER_SECOND));
        aws_sdk_s3::config::Builder::new().timeout_config(
            aws_config::timeout::TimeoutConfig::builder()
                .read_timeout(self.tuning.read_timeout + sending)
                .build(),
        )
    }

    /// Every object under `prefix`, in the order S3 lists them (keys ascending). Each page is
    /// retried on its own.
    pub async fn list(&self, bucket: &str, prefix: &str) -> Result<Vec<Object>, S3Error> {
        let mut out = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let page = self
                .with_retries(|| {
                    let req = self
                        .client
                        .list_objects_v2()
                        .bucket(bucket)
                        .prefix(prefix)
                        .set_continuation_token(token.clone());
                    async move {
                        req.send()
                            .await
                            .map_err(|e| classify("LIST", bucket, prefix, e))
                    }
                })
                .await?;
            for o in page.contents() {
                let Some(key) = o.key() else { continue };
                out.push(Object {
                    key: key.to_string(),
                    size: u64::try_from(o.size().unwrap_or(0)).unwrap_or(0),
                    etag: o.e_tag().map(str::to_string),
                });
            }
            token = page.next_continuation_token().map(str::to_string);
            if !page.is_truncated().unwrap_or(false) || token.is_none() {
                return Ok(out);
            }
        }
    }

    /// HEAD an object; `None` when it does not exist.
    pub async fn head(&self, bucket: &str, key: &str) -> Result<Option<Head>, S3Error> {
        let answer = self
            .with_retries(|| {
                let req = self.client.head_object().bucket(bucket).key(key);
                async move {
                    match req.send().await {
                        Ok(h) => Ok(Some(h)),
                        Err(e) => match classify("HEAD", bucket, key, e) {
                            Retry::No(S3Error::NoSuchKey { .. }) => Ok(None),
                            other => Err(other),
                        },
                    }
                }
            })
            .await?;
        Ok(answer.map(|h| Head {
            object: Object {
                key: key.to_string(),
                size: u64::try_from(h.content_length().unwrap_or(0)).unwrap_or(0),
                etag: h.e_tag().map(str::to_string),
            },
            sse: h.server_side_encryption().map(|s| s.as_str().to_string()),
            kms_key_id: h.ssekms_key_id().map(str::to_string),
        }))
    }
}
