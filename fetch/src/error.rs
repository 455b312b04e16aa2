//! Why a fetch failed, as one typed error: a verdict (the model or its signature is not what
//! was signed) or a failure to check (S3, the local disk).

use std::fmt;
use std::path::{Path, PathBuf};

use modelseal_kernel::bundle::BundleError;
use modelseal_kernel::manifest::Mismatch;
use modelseal_kernel::trust::TrustError;
use modelseal_s3::S3Error;

use crate::disk::Refusal;
use crate::evidence::{plain, EvidenceError};

/// Why a fetch failed. [`FetchError::is_verdict`] tells a security verdict from a failure to check.
#[derive(Debug)]
pub enum FetchError {
    /// Boxed: S3 errors carry several strings, and results travel far.
    S3(Box<S3Error>),
    /// Nothing at the URI: no object, and no objects under the prefix.
    NothingAt(String),
    /// Objects under the prefix whose keys are not safe relative paths.
    UnsafeKeys {
        prefix: String,
        keys: Vec<String>,
    },
    /// A model path whose first component is reserved ([`STAGING_NAME`]).
    ReservedName {
        model: String,
        name: String,
    },
    SignatureMissing(String),
    /// The signature exists but cannot be evidence: a symlink, a FIFO, a device, too large.
    SignatureUnusable {
        shown: String,
        why: EvidenceError,
    },
    SignatureMalformed {
        shown: String,
        error: BundleError,
    },
    /// The trust policy refused the model's signature (or the model it covers: revoked, or
    /// not the pinned one). `signature` and `model` name them in messages.
    Trust {
        signature: String,
        model: String,
        error: TrustError,
    },
    /// The model differs from its signed manifest (or from its pinned digest).
    Mismatch {
        shown: String,
        mismatch: Mismatch,
    },
    /// A model on disk holds an entry that cannot be part of a model (a symlink, a special
    /// file, a name that is not UTF-8).
    Entry {
        model: PathBuf,
        entry: PathBuf,
        refusal: Refusal,
    },
    /// Only a pinned digest (no key) was given for a model that is not a single file.
    PinNeedsSingleFile(String),
    /// The pinned digest is not the model's (see `SignedManifest::pinned_digest`).
    PinMismatch {
        uri: String,
        pinned: String,
        found: String,
        source: &'static str,
    },
    /// The process was asked to stop (the signal's name); nothing was placed.
    Stopped(&'static str),
    /// DEST holds entries that are not this run's (the CLI's `pull` refuses them; placement
    /// stops when one appears during a run).
    DestNotEmpty {
        dest: PathBuf,
        entries: Vec<String>,
    },
    Local {
        what: String,
        path: PathBuf,
        error: std::io::Error,
    },
}

impl FetchError {
    /// True when the model or its signature cannot be trusted (exit 1 in the CLI); false when
    /// the check could not be run (exit 2).
    pub fn is_verdict(&self) -> bool {
        match self {
            FetchError::S3(e) if matches!(**e, S3Error::ObjectChanged { .. }) => true,
            FetchError::S3(_)
            | FetchError::NothingAt(_)
            | FetchError::Local { .. }
            | FetchError::DestNotEmpty { .. }
            | FetchError::Stopped(_)
            | FetchError::PinNeedsSingleFile(_) => false,
            _ => true,
        }
    }

    pub fn s3(e: S3Error) -> Self {
        FetchError::S3(Box::new(e))
    }

    pub(crate) fn local(what: &str, path: &Path, error: std::io::Error) -> Self {
        FetchError::Local {
            what: what.to_string(),
            path: path.to_path_buf(),
            error,
        }
    }
}

impl fmt::Display for FetchError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FetchError::S3(e) => write!(f, "{e}"),
            FetchError::NothingAt(uri) => write!(f, "no object or prefix at {uri}"),
            FetchError::UnsafeKeys { prefix, keys } => write!(
                f,
                "{prefix} holds objects whose keys are not safe relative paths: {}",
                keys.join(", ")
            ),
            FetchError::ReservedName { model, name } => write!(
                f,
                "{model} holds '{name}', a name modelseal reserves for its staging directory"
            ),
            FetchError::SignatureMissing(shown) => write!(f, "signature {shown} not found"),
            FetchError::SignatureUnusable {
                shown,
                why: EvidenceError::TooLarge { size, limit },
            } => write!(f, "signature {shown} is {size} bytes; the limit is {limit}"),
            FetchError::SignatureUnusable { shown, why } => {
                write!(f, "signature {shown} cannot be used: {why}")
            }
            FetchError::SignatureMalformed { shown, error } => {
                write!(f, "signature {shown} is malformed: {error}")
            }
            FetchError::Trust {
                model,
                error:
                    TrustError::PinMismatch {
                        pinned,
                        found,
                        kind,
                    },
                ..
            } => write!(
                f,
                "the pinned digest sha256:{} is not {} of {model} (sha256:{})",
                pinned.to_hex(),
                kind.describe(),
                found.to_hex()
            ),
            FetchError::Trust {
                model,
                error: error @ TrustError::Revoked { .. },
                ..
            } => write!(f, "model {model} is refused: {error}"),
            FetchError::Trust {
                error: error @ TrustError::NoRule { .. },
                ..
            } => write!(f, "{error}"),
            FetchError::Trust {
                signature, error, ..
            } => write!(f, "signature {signature} does not verify: {error}"),
            FetchError::Mismatch { shown, .. } => {
                write!(f, "model '{shown}' does not match its signature")
            }
            FetchError::Entry {
                model,
                entry,
                refusal,
            } => write!(
                f,
                "model '{}' contains {}: {}",
                model.display(),
                refusal.what(),
                entry.display()
            ),
            FetchError::PinNeedsSingleFile(uri) => write!(
                f,
                "a digest alone can only pin a single file, but {uri} is a directory of objects"
            ),
            FetchError::PinMismatch {
                uri,
                pinned,
                found,
                source,
            } => write!(
                f,
                "the pinned digest sha256:{pinned} is not {source} of {uri} (sha256:{found})"
            ),
            FetchError::Stopped(signal) => write!(f, "stopped by {signal}; nothing was placed"),
            FetchError::DestNotEmpty { dest, entries } => write!(
                f,
                "{} is not empty: it holds {}",
                dest.display(),
                entries
                    .iter()
                    .map(|e| format!("'{e}'"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            FetchError::Local { what, path, error } => {
                write!(f, "cannot {what} {}: {}", path.display(), plain(error))
            }
        }
    }
}

impl std::error::Error for FetchError {}
