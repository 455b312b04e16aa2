//! The trust policy: who a verifier accepts as a bundle's signer. The shells build one from
//! their flags or environment (`--key`, `--certificate-chain`, `MODELSEAL_*`) and hand it down;
//! the kernel alone decides what it means.

use crate::bundle::KeyMaterial;
use crate::certificate::{CertificateTrust, ChainError};
use crate::keys::PublicKey;
use crate::sigstore::KeylessTrust;

/// Who may have signed a bundle.
#[derive(Debug, Clone)]
pub enum Trust {
    /// A public key (a PEM file, or a KMS key's public half). The bundle names a key (by hint,
    /// or not at all) and carries no certificate.
    Key(PublicKey),
    /// A private CA: the bundle carries a certificate chain to one of these roots.
    Certificates(CertificateTrust),
    /// Sigstore keyless: a Fulcio certificate for this identity and issuer, logged in a
    /// transparency log of this trusted root ([`crate::sigstore::verify_signer`]).
    Keyless(Box<KeylessTrust>),
}

/// Why the bundle's signer is not the trusted one (step 3 of verification).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SignerError {
    /// A certificate bundle checked with a key.
    CertificateForKey,
    /// A key bundle checked with a certificate chain or a keyless identity.
    KeyForCertificate,
    /// Keyless trust asked of a step that has no log entries to check.
    NeedsLog,
    /// The bundle's key hint names another key.
    KeyMismatch {
        bundle_hint: String,
        key_hint: String,
    },
    Chain(ChainError),
}

impl std::fmt::Display for SignerError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SignerError::CertificateForKey => f.write_str(
                "the bundle is signed with a certificate, but a public key was given to verify it",
            ),
            SignerError::KeyForCertificate => f.write_str(
                "the bundle is signed with a bare key, but only certificates (a CA or a keyless identity) are trusted",
            ),
            SignerError::KeyMismatch {
                bundle_hint,
                key_hint,
            } => write!(
                f,
                "the bundle was signed by another key (bundle key hint {bundle_hint}, given key {key_hint})"
            ),
            SignerError::Chain(e) => write!(f, "{e}"),
            SignerError::NeedsLog => f.write_str("keyless trust is judged with the bundle's transparency-log entries"),
        }
    }
}

impl std::error::Error for SignerError {}

impl Trust {
    /// The key the bundle's signature must verify with, once the bundle's material is trusted.
    /// `hint` is how this bundle kind names a key (OMS: [`PublicKey::oms_hint`]); `None` when
    /// the kind's hint is advisory only (cosign ignores it when given a key).
    pub fn signing_key(
        &self,
        material: &KeyMaterial,
        hint: Option<fn(&PublicKey) -> String>,
    ) -> Result<PublicKey, SignerError> {
        match (self, material) {
            (Trust::Key(key), KeyMaterial::PublicKey { hint: bundle_hint }) => {
                if let (Some(hint), Some(bundle_hint)) = (hint, bundle_hint) {
                    let key_hint = hint(key);
                    if *bundle_hint != key_hint {
                        return Err(SignerError::KeyMismatch {
                            bundle_hint: bundle_hint.clone(),
                            key_hint,
                        });
                    }
                }
                Ok(key.clone())
            }
            (Trust::Key(_), KeyMaterial::Certificates(_)) => Err(SignerError::CertificateForKey),
            (Trust::Certificates(_) | Trust::Keyless(_), KeyMaterial::PublicKey { .. }) => {
                Err(SignerError::KeyForCertificate)
            }
            // Keyless trust needs the bundle's log entries: crate::sigstore::verify_signer.
            (Trust::Keyless(_), KeyMaterial::Certificates(_)) => Err(SignerError::NeedsLog),
            (Trust::Certificates(ca), KeyMaterial::Certificates(chain)) => ca
                .verify_chain(chain)
                .map(|leaf| leaf.key)
                .map_err(SignerError::Chain),
        }
    }
}
