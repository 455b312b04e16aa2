//! The engine: an S3 client from the standard AWS configuration chain, plus tuning.

use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use aws_config::meta::region::RegionProviderChain;
use aws_config::{BehaviorVersion, Region, SdkConfig};
use tokio::sync::Semaphore;

use crate::error::{classify, Retry};
use crate::{Head, Object, S3Error};

/// Where and how to reach S3. Credentials always come from the AWS chain (environment,
/// profile, web identity for IRSA, container and instance metadata).
#[derive(Clone, Debug, Default)]
pub struct Options {
    /// An S3-compatible endpoint; `AWS_ENDPOINT_URL`/`AWS_ENDPOINT_URL_S3` are honoured too.
    pub endpoint_url: Option<String>,
    /// Path-style addressing (`http://host/bucket/key`), as S3-compatible stores need.
    pub force_path_style: bool,
    /// Overrides the region from the chain (which falls back to us-east-1).
    pub region: Option<String>,
    /// Sign no requests (public buckets).
    pub anonymous: bool,
    /// A named profile of the shared config files, instead of `AWS_PROFILE` or `default`.
    pub profile: Option<String>,
    /// S3 Transfer Acceleration (`BUCKET.s3-accelerate.amazonaws.com`); AWS S3 only.
    pub accelerate: bool,
}

/// Sizes and counts that bound speed and memory.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Tuning {
    /// Bytes per ranged GET.
    pub range_size: u64,
    /// Ranges in flight or buffered at once, across all objects: memory is at most this times
    /// `range_size`.
    pub max_in_flight: usize,
    /// Objects downloaded or uploaded at once.
    pub parallel_objects: usize,
    /// Attempts per request (1 = no retry). The engine is the only layer that retries: the SDK's
    /// own retries are off, so every request (LIST, HEAD, GET, PUT, parts) gets the same count,
    /// the same backoff and the server's `Retry-After`.
    pub max_attempts: u32,
    /// Time allowed to open a connection.
    pub connect_timeout: Duration,
    /// Time allowed for the response to start, and between two reads of a body: a server that
    /// accepts a request and then goes quiet fails this attempt (and is retried) after this long.
    pub read_timeout: Duration,
    /// Files larger than this go up as multipart uploads.
    pub multipart_threshold: u64,
    pub part_size: u64,
    /// Parts of one file in flight at once.
    pub parallel_parts: usize,
}

impl Default for Tuning {
    /// 6 MiB x 6 ranges in flight: modelseal-init's 64 MiB peak-memory budget (52 MiB measured),
    /// and the CLI's too, since no larger setting measured faster on loopback (bench/README.md).
    fn default() -> Self {
        Tuning {
            range_size: 6 << 20,
            max_in_flight: 6,
            parallel_objects: 4,
            max_attempts: 5,
            connect_timeout: DEFAULT_CONNECT_TIMEOUT,
            read_timeout: DEFAULT_READ_TIMEOUT,
            multipart_threshold: 16 << 20,
            part_size: 8 << 20,
            parallel_parts: 4,
        }
    }
}

/// A tuning variable whose value is not a positive whole number.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TuningError {
    pub var: &'static str,
    pub value: String,
}

impl std::fmt::Display for TuningError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} '{}' is not a positive whole number",
            self.var, self.value
        )
    }
}

impl std::error::Error for TuningError {}

impl Tuning {
    /// The download tuning both binaries read, over these defaults: `MODELSEAL_S3_RANGE_MIB`
    /// (MiB per ranged GET), `MODELSEAL_S3_CONCURRENCY` (ranges in flight; memory is about
    /// their product) and `MODELSEAL_S3_OBJECTS` (objects at once). `get` reads a variable
    /// (the process environment, or modelseal-init's map of it); unset or empty keeps the
    /// default, anything but a positive whole number is refused.
    pub fn with_env(mut self, get: impl Fn(&str) -> Option<String>) -> Result<Self, TuningError> {
        let num = |var: &'static str| -> Result<Option<u64>, TuningError> {
            match get(var).as_deref().map(str::trim) {
                None | Some("") => Ok(None),
                Some(v) => v
                    .parse::<u64>()
                    .ok()
                    .filter(|n| (1..=1 << 20).contains(n))
                    .map(Some)
                    .ok_or_else(|| TuningError {
                        var,
                        value: v.to_string(),
                    }),
            }
        };
        if let Some(mib) = num("MODELSEAL_S3_RANGE_MIB")? {
            self.range_size = mib << 20;
        }
        if let Some(n) = num("MODELSEAL_S3_CONCURRENCY")? {
            self.max_in_flight = n as usize;
        }
        if let Some(n) = num("MODELSEAL_S3_OBJECTS")? {
            self.parallel_objects = n as usize;
        }
        Ok(self)
    }
}

/// KServe's defaults (`S3_CONNECT_TIMEOUT`, `S3_READ_TIMEOUT`).
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(15);
pub const DEFAULT_READ_TIMEOUT: Duration = Duration::from_secs(30);
/// An upload's response starts only once its body is sent: on top of the read timeout, a
/// request gets one second for every this many bytes of body (a floor of 1 MiB/s per request).
const UPLOAD_FLOOR_BYTES_PER_SECOND: u64 = 1 << 20;
/// The longest `Retry-After` honoured; a longer one is waited this long.
const MAX_RETRY_AFTER: Duration = Duration::from_secs(20);

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

/// Loads the AWS configuration chain with our defaults (region fallback, anonymous mode), and
/// `tuning`'s timeouts and attempts for the clients the engine does not drive (KMS, STS).
pub async fn load_sdk_config(options: &Options, tuning: &Tuning) -> SdkConfig {
    let region = match (&options.region, &options.profile) {
        (Some(r), _) => RegionProviderChain::first_try(Region::new(r.clone())),
        (None, Some(p)) => RegionProviderChain::first_try(
            aws_config::default_provider::region::Builder::default()
                .profile_name(p)
                .build(),
        )
        .or_else(Region::new("us-east-1")),
        (None, None) => RegionProviderChain::default_provider().or_else(Region::new("us-east-1")),
    };
    let mut loader = aws_config::defaults(BehaviorVersion::latest()).region(region);
    if let Some(p) = &options.profile {
        loader = loader.profile_name(p);
    }
    if options.anonymous {
        loader = loader.no_credentials();
    }
    loader
        .timeout_config(sdk_timeouts(tuning.connect_timeout, tuning.read_timeout))
        .retry_config(sdk_retries(tuning.max_attempts))
        .load()
        .await
}

/// Timeouts for the SDK clients the engine does not drive (KMS, STS).
pub fn sdk_timeouts(connect: Duration, read: Duration) -> aws_config::timeout::TimeoutConfig {
    aws_config::timeout::TimeoutConfig::builder()
        .connect_timeout(connect)
        .read_timeout(read)
        .build()
}

/// Retries for the SDK clients the engine does not drive (KMS signing, credentials): the SDK's
/// standard mode, which backs off on throttling (KMS `ThrottlingException`), with `attempts`.
pub fn sdk_retries(attempts: u32) -> aws_config::retry::RetryConfig {
    aws_config::retry::RetryConfig::standard()
        .with_max_attempts(attempts.max(1))
        .with_initial_backoff(Duration::from_millis(200))
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

    /// The bucket's default SSE-KMS key as configured (`GetBucketEncryption`): `None` when the
    /// default is not SSE-KMS with a named key (no configuration, SSE-S3, or the AWS-managed key).
    pub async fn default_kms_key(&self, bucket: &str) -> Result<Option<String>, S3Error> {
        self.with_retries(|| {
            let req = self.client.get_bucket_encryption().bucket(bucket);
            async move {
                match req.send().await {
                    Ok(out) => Ok(out
                        .server_side_encryption_configuration()
                        .into_iter()
                        .flat_map(|c| c.rules())
                        .filter_map(|r| r.apply_server_side_encryption_by_default())
                        .filter(|d| d.sse_algorithm().as_str() == "aws:kms")
                        .find_map(|d| d.kms_master_key_id().map(str::to_string))),
                    // A store without the call (s3rver: 501) or a caller without
                    // s3:GetEncryptionConfiguration learns nothing: no key is sent, and the
                    // bucket's policy, if any, decides.
                    Err(e)
                        if e.raw_response().map(|r| r.status().as_u16()) == Some(501)
                            || e.as_service_error().and_then(|s| s.meta().code())
                                == Some("AccessDenied") =>
                    {
                        Ok(None)
                    }
                    // ServerSideEncryptionConfigurationNotFoundError is a 404.
                    Err(e) => match classify("GetBucketEncryption", bucket, "", e) {
                        Retry::No(S3Error::NoSuchKey { .. }) => Ok(None),
                        other => Err(other),
                    },
                }
            }
        })
        .await
    }

    /// The bucket's policy, versioning and public access block (three calls, each retried).
    /// A setting the bucket does not have (S3 answers 404) is `None`; one whose call is refused
    /// (denied, or not implemented by the store) is `None` and listed in `unreadable`; any other
    /// error fails.
    pub async fn bucket_settings(&self, bucket: &str) -> Result<crate::BucketSettings, S3Error> {
        let mut unreadable = Vec::new();
        // A 404 means the bucket has no such setting; a refusal, or an answer that is not the
        // setting (`Ok(Err(why))`), leaves it unknown. (S3Error is the engine's error everywhere.)
        #[allow(
            clippy::result_large_err,
            reason = "S3Error is the engine's one error type; boxing it here alone would split it"
        )]
        fn settle<T>(
            setting: crate::Setting,
            read: Result<Result<Option<T>, String>, S3Error>,
            unreadable: &mut Vec<crate::Unreadable>,
        ) -> Result<Option<T>, S3Error> {
            let reason = match read {
                Ok(Ok(value)) => return Ok(value),
                Ok(Err(why)) => why,
                Err(S3Error::NoSuchKey { .. }) => return Ok(None),
                Err(e) => e.refusal().ok_or(e)?,
            };
            unreadable.push(crate::Unreadable { setting, reason });
            Ok(None)
        }
        let policy = self
            .with_retries(|| {
                let req = self.client.get_bucket_policy().bucket(bucket);
                async move {
                    req.send()
                        .await
                        .map(|o| Ok(o.policy().map(str::to_string)))
                        .map_err(|e| classify("GetBucketPolicy", bucket, "", e))
                }
            })
            .await;
        let policy = settle(crate::Setting::Policy, policy, &mut unreadable)?;
        let versioning = self
            .with_retries(|| {
                let req = self.client.get_bucket_versioning().bucket(bucket);
                async move {
                    match req.send().await {
                        Ok(o) => Ok(Ok(o.status().map(|s| s.as_str().to_string()))),
                        // moto names the root element GetBucketVersioningResponse, not
                        // VersioningConfiguration, which the SDK refuses; the 200 body's
                        // <Status> is still the answer. Any other 200 document (s3rver answers
                        // with a bucket listing) says nothing about versioning.
                        Err(e) if e.raw_response().is_some_and(|r| r.status().as_u16() == 200) => {
                            let body = e
                                .raw_response()
                                .and_then(|r| r.body().bytes())
                                .map(|b| String::from_utf8_lossy(b).into_owned())
                                .unwrap_or_default();
                            Ok(crate::parse::versioning_status(&body))
                        }
                        Err(e) => Err(classify("GetBucketVersioning", bucket, "", e)),
                    }
                }
            })
            .await;
        let versioning = settle(crate::Setting::Versioning, versioning, &mut unreadable)?;
        let public_access_block = self
            .with_retries(|| {
                let req = self.client.get_public_access_block().bucket(bucket);
                async move {
                    req.send()
                        .await
                        .map(|o| {
                            Ok(o.public_access_block_configuration().map(|c| {
                                [
                                    c.block_public_acls().unwrap_or(false),
                                    c.ignore_public_acls().unwrap_or(false),
                                    c.block_public_policy().unwrap_or(false),
                                    c.restrict_public_buckets().unwrap_or(false),
                                ]
                            }))
                        })
                        .map_err(|e| classify("GetPublicAccessBlock", bucket, "", e))
                }
            })
            .await;
        let public_access_block = settle(
            crate::Setting::PublicAccessBlock,
            public_access_block,
            &mut unreadable,
        )?;
        Ok(crate::BucketSettings {
            policy,
            versioning,
            public_access_block,
            unreadable,
        })
    }

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

    /// Checks the bucket exists and we may list it.
    pub async fn check_bucket(&self, bucket: &str) -> Result<(), S3Error> {
        self.with_retries(|| {
            let req = self.client.head_bucket().bucket(bucket);
            async move {
                req.send().await.map(|_| ()).map_err(|e| {
                    match classify("HEAD bucket", bucket, "", e) {
                        Retry::No(S3Error::NoSuchKey { bucket, .. }) => {
                            Retry::No(S3Error::NoSuchBucket { bucket })
                        }
                        other => other,
                    }
                })
            }
        })
        .await
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
