//! modelseal's S3 engine: moves bytes between S3 and the caller, fast and with bounded memory.
//!
//! It lists prefixes, downloads objects with parallel ranged GETs delivered in order to a
//! caller's [`Sink`] (which hashes, and maybe writes), retries with backoff and resumes a broken
//! range where it stopped, pins every GET to the listed ETag with `If-Match`, and uploads with
//! SSE-KMS, large files as parallel multipart uploads that are aborted on any failure.
//!
//! It knows nothing of signatures: what the bytes mean is the kernel's business.

mod client;
pub mod credentials;
mod download;
mod error;
pub mod parse;
mod upload;
mod uri;

pub use client::{
    load_sdk_config, sdk_retries, sdk_timeouts, Engine, Options, Tuning, DEFAULT_CONNECT_TIMEOUT,
    DEFAULT_READ_TIMEOUT,
};
pub use credentials::{CredentialsKind, CredentialsProblem};
pub use download::{Chunk, Sink};
pub use error::S3Error;
pub use upload::{Observer, Sse, Uploaded};

pub use uri::{is_malformed_s3, S3Uri, UriError};

/// An object as listed or headed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Object {
    pub key: String,
    pub size: u64,
    pub etag: Option<String>,
}

/// A bucket's security settings, as an auditor reads them; `None` where the bucket has none.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct BucketSettings {
    /// The bucket policy's JSON text.
    pub policy: Option<String>,
    /// `Enabled` or `Suspended`; `None` when versioning was never enabled.
    pub versioning: Option<String>,
    /// BlockPublicAcls, IgnorePublicAcls, BlockPublicPolicy, RestrictPublicBuckets.
    pub public_access_block: Option<[bool; 4]>,
}

/// What HEAD says about an object's encryption.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Head {
    pub object: Object,
    /// `x-amz-server-side-encryption`, e.g. `aws:kms`.
    pub sse: Option<String>,
    /// `x-amz-server-side-encryption-aws-kms-key-id`: a key ARN on AWS, as sent on moto.
    pub kms_key_id: Option<String>,
}
