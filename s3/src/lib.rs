//! modelseal's S3 engine: moves bytes between S3 and the caller, fast and with bounded memory.
//!
//! It lists prefixes, downloads objects with parallel ranged GETs delivered in order to a
//! caller's [`Sink`] (which hashes, and maybe writes), retries with backoff and resumes a broken
//! range where it stopped, pins every GET to the listed ETag with `If-Match`, and uploads with
//! SSE-KMS, large files as parallel multipart uploads that are aborted on any failure.
//!
//! It knows nothing of signatures: what the bytes mean is the kernel's business.

mod bucket;
mod client;
mod config;
pub mod credentials;
mod download;
mod error;
pub mod parse;
mod retry;
mod upload;
mod uri;

pub use client::Engine;
pub use config::{
    load_sdk_config, sdk_retries, sdk_timeouts, Options, Tuning, TuningError,
    DEFAULT_CONNECT_TIMEOUT, DEFAULT_READ_TIMEOUT,
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

/// A bucket's security settings, as an auditor reads them; `None` where the bucket has none,
/// or where the store would not tell (then `unreadable` names it).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct BucketSettings {
    /// The bucket policy's JSON text.
    pub policy: Option<String>,
    /// `Enabled` or `Suspended`; `None` when versioning was never enabled.
    pub versioning: Option<String>,
    /// BlockPublicAcls, IgnorePublicAcls, BlockPublicPolicy, RestrictPublicBuckets.
    pub public_access_block: Option<[bool; 4]>,
    /// Settings whose call was refused: access denied, or a store without the call (501
    /// NotImplemented; s3rver answers GetBucketPolicy with 405).
    pub unreadable: Vec<Unreadable>,
}

impl BucketSettings {
    /// Whether `setting` was refused, so that its `None` means "unknown", not "not set".
    pub fn is_unreadable(&self, setting: Setting) -> bool {
        self.unreadable.iter().any(|u| u.setting == setting)
    }
}

/// One of a bucket's settings the auditor could not read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Unreadable {
    pub setting: Setting,
    /// The store's answer, in one line (`access denied: ...`, `NotImplemented (HTTP 501)`).
    pub reason: String,
}

/// The bucket settings an audit reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Setting {
    Policy,
    Versioning,
    PublicAccessBlock,
}

impl Setting {
    pub fn name(self) -> &'static str {
        match self {
            Setting::Policy => "policy",
            Setting::Versioning => "versioning",
            Setting::PublicAccessBlock => "public_access_block",
        }
    }

    /// The S3 call that reads it.
    pub fn call(self) -> &'static str {
        match self {
            Setting::Policy => "GetBucketPolicy",
            Setting::Versioning => "GetBucketVersioning",
            Setting::PublicAccessBlock => "GetPublicAccessBlock",
        }
    }
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
