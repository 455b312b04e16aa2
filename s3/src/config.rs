//! How the engine is configured: where S3 is (`Options`), the sizes, counts, timeouts and
//! attempts that bound speed and memory (`Tuning`, with the one reader of its environment
//! variables both binaries use), and the SDK configuration for the clients the engine does not
//! drive (KMS, STS).

use std::time::Duration;

use aws_config::meta::region::RegionProviderChain;
use aws_config::{BehaviorVersion, Region, SdkConfig};

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
