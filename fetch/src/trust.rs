//! How both binaries build the one trust policy they verify with: from a policy document
//! (`--policy FILE`, `MODELSEAL_POLICY`, `MODELSEAL_POLICY_JSON`) or from the shorthands
//! (`--key`... or `MODELSEAL_PUBLIC_KEY`...), read the same way and resolved the same way. The
//! kernel decides what every byte means ([`modelseal_kernel::trust::document`]); this reads the
//! files it names (bounded regular files, links followed as Kubernetes mounts them) and hands
//! over the KMS keys the caller fetched.

use std::collections::BTreeMap;
use std::path::Path;

use modelseal_kernel::trust::document::{Document, PolicyError, Resolve, Shorthand};
use modelseal_kernel::trust::Policy;
use modelseal_kernel::PublicKey;

use crate::evidence::{self, Links};

/// A policy file or text is at most this large (a policy is configuration, not data).
pub const POLICY_LIMIT: u64 = evidence::TRUST_LIMIT;

/// The trusted root an authority that names none uses: the Sigstore public-good production
/// root modelseal carries.
pub fn default_root() -> Vec<u8> {
    modelseal_kernel::trusted_root::PRODUCTION.to_vec()
}

/// A policy file that cannot be read, or is not a policy.
#[derive(Debug)]
pub enum PolicyFileError {
    Read {
        path: std::path::PathBuf,
        error: evidence::EvidenceError,
    },
    Document {
        path: std::path::PathBuf,
        error: PolicyError,
    },
}

impl std::fmt::Display for PolicyFileError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PolicyFileError::Read { path, error } => {
                write!(f, "cannot read trust policy {}: {error}", path.display())
            }
            PolicyFileError::Document { path, error } => {
                write!(f, "trust policy {}: {error}", path.display())
            }
        }
    }
}

impl std::error::Error for PolicyFileError {}

/// Reads a policy document from a file (bounded, regular, links followed). The error names the
/// file; a document error names the field.
pub fn read_policy_file(path: &Path) -> Result<Document, PolicyFileError> {
    let bytes = evidence::read(path, POLICY_LIMIT, Links::Follow).map_err(|error| {
        PolicyFileError::Read {
            path: path.to_path_buf(),
            error,
        }
    })?;
    Document::from_json(&bytes).map_err(|error| PolicyFileError::Document {
        path: path.to_path_buf(),
        error,
    })
}

/// The shorthand's one-rule document, or `None` when it names no trust.
pub fn shorthand(s: Shorthand) -> Result<Option<Document>, PolicyError> {
    s.document()
}

/// Resolves what a document names and builds the policy: files read here, KMS keys from
/// `kms` (fetched by the caller, who has the AWS client: `Document::kms_references`), the
/// default root when an authority names none. `now` is the verifier's clock.
pub fn build(
    document: Document,
    kms: BTreeMap<String, PublicKey>,
    now: u64,
) -> Result<Policy, PolicyError> {
    build_with_root(document, kms, now, default_root())
}

/// [`build`] with another default root (the CLI's: what `trust update` cached, else the
/// carried one; modelseal-init always uses the carried one).
pub fn build_with_root(
    document: Document,
    kms: BTreeMap<String, PublicKey>,
    now: u64,
    default_root: Vec<u8>,
) -> Result<Policy, PolicyError> {
    let mut files = Files { kms, default_root };
    document.resolve(&mut files, now)
}

/// The verifier's clock, in seconds since the Unix epoch.
pub fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

struct Files {
    kms: BTreeMap<String, PublicKey>,
    default_root: Vec<u8>,
}

impl Resolve for Files {
    fn read(&mut self, path: &str) -> Result<Vec<u8>, String> {
        evidence::read(Path::new(path), evidence::TRUST_LIMIT, Links::Follow)
            .map_err(|e| e.to_string())
    }

    fn kms_key(&mut self, reference: &str) -> Result<PublicKey, String> {
        self.kms
            .get(reference)
            .cloned()
            .ok_or_else(|| format!("the KMS key {reference} was not fetched"))
    }

    fn default_root(&mut self) -> Result<Vec<u8>, String> {
        Ok(self.default_root.clone())
    }
}
