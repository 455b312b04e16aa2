//! Why modelseal-init stopped: one variant per phase, as the kernel and fetch have theirs. Its
//! `Display` is the one line KServe shows (stderr and the termination log); a fetch failure
//! names the object and what was wrong with it, a credentials failure carries its hint.

use std::fmt;
use std::path::PathBuf;

use modelseal_fetch::trust::PolicyFileError;
use modelseal_fetch::FetchError;
use modelseal_kernel::trust::document::PolicyError;
use modelseal_s3::UriError;

use crate::archive::ArchiveError;
use crate::config::ConfigError;

#[derive(Debug)]
pub enum InitError {
    /// The arguments are not SRC DEST pairs.
    Usage,
    /// The environment (KServe's variables and modelseal's).
    Config(ConfigError),
    /// The async runtime could not start.
    Runtime(std::io::Error),
    /// AWS_CA_BUNDLE (or the CA bundle ConfigMap) cannot be read or used.
    CaBundle { path: PathBuf, why: String },
    /// MODELSEAL_POLICY cannot be read, or is not a policy.
    PolicyFile(PolicyFileError),
    /// A policy (MODELSEAL_POLICY_JSON's, a file's, or the shorthand's) that cannot be built:
    /// `source` names where it came from.
    Policy { source: String, error: PolicyError },
    /// A KMS key of the trust cannot be fetched (or this build has no KMS support).
    Kms { reference: String, why: String },
    /// A SRC that modelseal-init does not fetch, or MODELSEAL_SIGNATURE that is not an S3 URI.
    Source { what: String, why: String },
    /// Locating, fetching, verifying or placing a model.
    Fetch(Box<FetchError>),
    /// The verified single archive cannot be unpacked (placing its entries is a fetch step).
    Unpack { name: String, error: ArchiveError },
    /// Kubernetes asked the pod to stop mid-fetch; the staging directory was removed.
    Stopped {
        signal: String,
        src: String,
        dest: PathBuf,
    },
}

impl From<ConfigError> for InitError {
    fn from(e: ConfigError) -> Self {
        InitError::Config(e)
    }
}

impl From<FetchError> for InitError {
    fn from(e: FetchError) -> Self {
        InitError::Fetch(Box::new(e))
    }
}

impl InitError {
    pub fn uri(what: &str, e: &UriError) -> Self {
        InitError::Source {
            what: what.to_string(),
            why: e.to_string(),
        }
    }
}

impl fmt::Display for InitError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            InitError::Usage => {
                f.write_str("usage: modelseal-init SRC_URI DEST_PATH [SRC_URI DEST_PATH ...]")
            }
            InitError::Config(e) => write!(f, "{e}"),
            InitError::Runtime(e) => write!(f, "cannot start the async runtime: {e}"),
            InitError::CaBundle { path, why } => {
                write!(f, "unusable CA bundle {}: {why}", path.display())
            }
            InitError::PolicyFile(e) => write!(f, "{e}"),
            InitError::Policy { source, error } => write!(f, "{source}{error}"),
            InitError::Kms { reference, why } => write!(f, "MODELSEAL_KEY {reference}: {why}"),
            InitError::Source { what, why } => write!(f, "{what}: {why}"),
            InitError::Fetch(e) => write!(f, "{}", reason(e)),
            InitError::Unpack { name, error } => write!(f, "cannot unpack {name}: {error}"),
            InitError::Stopped { signal, src, dest } => write!(
                f,
                "stopped by {signal} while fetching {src}; nothing was placed in {}",
                dest.display()
            ),
        }
    }
}

impl std::error::Error for InitError {}

/// The reason for a failed fetch, in one line, naming the object and what was wrong with it.
fn reason(e: &FetchError) -> String {
    match e {
        FetchError::Mismatch { mismatch, .. } => format!("{e}: {}", mismatch.lines().join("; ")),
        // Where the CLI prints a `hint:` line, the one line KServe shows carries it.
        FetchError::S3(s3) if matches!(**s3, modelseal_s3::S3Error::Credentials(_)) => format!(
            "{e}; hint: give the pod credentials as KServe's initializer reads them: IRSA (a \
             ServiceAccount annotated with eks.amazonaws.com/role-arn), or AWS_ACCESS_KEY_ID \
             and AWS_SECRET_ACCESS_KEY from a Secret"
        ),
        _ => e.to_string(),
    }
}
