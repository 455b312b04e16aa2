//! cosign `sign-blob` / `verify-blob` with a key: raw signatures, key-based Sigstore bundles with a
//! message signature, and the legacy cosign bundle JSON.
//!
//! What is signed is the file itself: ECDSA over the curve's hash of its bytes (SHA-256 for
//! P-256). The shell hashes the file while reading and hands the digest here.

use std::fmt;

use base64::{engine::general_purpose::STANDARD as B64, Engine as _};
use serde::Deserialize;

use crate::bundle::{Bundle, BundleError, Content, KeyMaterial, Transparency};
use crate::digest::Digest;
use crate::keys::{PublicKey, SignError};
use crate::oms::TlogPolicy;

/// Why a blob signature cannot be trusted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BlobError {
    /// The signature file is empty, or neither base64 nor DER.
    SignatureEncoding,
    Bundle(BundleError),
    /// The legacy bundle JSON is malformed (serde's text).
    Legacy(String),
    /// A DSSE (OMS) bundle was given where a message signature was expected.
    NotMessageSignature,
    Certificate,
    Transparency(Transparency),
    /// The bundle's message digest uses another hash than the key's curve.
    DigestAlgorithm {
        bundle: String,
        key: String,
    },
    DigestMismatch {
        bundle: String,
        file: String,
    },
    KeyMismatch,
    Signature(SignError),
}

impl fmt::Display for BlobError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BlobError::SignatureEncoding => f.write_str("the signature is neither base64 nor DER"),
            BlobError::Bundle(e) => write!(f, "{e}"),
            BlobError::Legacy(e) => write!(f, "not a cosign bundle: {e}"),
            BlobError::NotMessageSignature => f.write_str(
                "the bundle holds a DSSE envelope, not a blob signature (is it a model signature? use 'modelseal verify')",
            ),
            BlobError::Certificate => f.write_str(
                "the bundle is signed with a certificate; only key-based bundles are supported",
            ),
            BlobError::Transparency(t) => write!(
                f,
                "the bundle carries {} transparency-log entries and {} timestamps; their verification is not supported yet",
                t.tlog_entries, t.rfc3161_timestamps
            ),
            BlobError::DigestAlgorithm { bundle, key } => write!(
                f,
                "the bundle's message digest is {bundle}, but the key signs {key} digests"
            ),
            BlobError::DigestMismatch { bundle, file } => write!(
                f,
                "the file's digest {file} does not match the bundle's message digest {bundle}"
            ),
            BlobError::KeyMismatch => f.write_str("the signature was made by another key"),
            BlobError::Signature(e) => write!(f, "{e}"),
        }
    }
}

impl std::error::Error for BlobError {}

/// Decodes a cosign signature file: standard base64 of DER (surrounding whitespace allowed, as
/// cosign writes a newline to stdout), or raw DER.
pub fn decode_signature(bytes: &[u8]) -> Result<Vec<u8>, BlobError> {
    let text: Vec<u8> = bytes
        .iter()
        .copied()
        .filter(|b| !b.is_ascii_whitespace())
        .collect();
    if text.is_empty() {
        return Err(BlobError::SignatureEncoding);
    }
    if let Ok(der) = B64.decode(&text) {
        return Ok(der);
    }
    // A DER ECDSA-Sig-Value starts with SEQUENCE (0x30).
    if bytes.first() == Some(&0x30) {
        return Ok(bytes.to_vec());
    }
    Err(BlobError::SignatureEncoding)
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct WireLegacy {
    base64_signature: String,
    cert: Option<String>,
    rekor_bundle: Option<serde_json::Value>,
}

/// A bundle `verify-blob --bundle` accepts.
#[derive(Debug, Clone)]
pub enum BlobBundle {
    Sigstore(Bundle),
    /// cosign's legacy `--bundle` JSON: signature, optional public key or certificate PEM, and an
    /// optional Rekor bundle.
    Legacy {
        signature: Vec<u8>,
        key_pem: Option<Vec<u8>>,
        has_rekor: bool,
    },
}

impl BlobBundle {
    /// Tells the two formats apart by their fields, as cosign does.
    pub fn from_json(bytes: &[u8]) -> Result<Self, BlobError> {
        let probe: serde_json::Value = serde_json::from_slice(bytes)
            .map_err(|e| BlobError::Bundle(BundleError::Malformed(e.to_string())))?;
        if probe.get("mediaType").is_some() {
            return Bundle::from_json(bytes)
                .map(BlobBundle::Sigstore)
                .map_err(BlobError::Bundle);
        }
        let wire: WireLegacy =
            serde_json::from_slice(bytes).map_err(|e| BlobError::Legacy(e.to_string()))?;
        let signature = B64
            .decode(wire.base64_signature.trim())
            .map_err(|_| BlobError::SignatureEncoding)?;
        // `cert` is base64 of PEM, or (older cosign) the PEM itself.
        let key_pem = wire
            .cert
            .map(|c| B64.decode(c.trim()).unwrap_or_else(|_| c.into_bytes()));
        Ok(BlobBundle::Legacy {
            signature,
            key_pem,
            has_rekor: wire.rekor_bundle.is_some_and(|r| !r.is_null()),
        })
    }
}

/// What a successful blob verification checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlobVerified {
    /// True when transparency evidence was present and, by request, not verified.
    pub ignored_transparency: bool,
}

/// Verifies a raw signature over the file whose digest (under `key.curve().hash()`) is `digest`.
pub fn verify_signature(
    key: &PublicKey,
    digest: &Digest,
    signature: &[u8],
) -> Result<(), BlobError> {
    if digest.algorithm() != key.curve().hash() {
        return Err(BlobError::DigestAlgorithm {
            bundle: digest.algorithm().to_string(),
            key: key.curve().hash().to_string(),
        });
    }
    key.verify_prehash(digest.as_bytes(), signature)
        .map_err(BlobError::Signature)
}

/// Verifies a blob bundle against the file's `digest` with `key`.
pub fn verify_bundle(
    bundle: &BlobBundle,
    key: &PublicKey,
    digest: &Digest,
    tlog: TlogPolicy,
) -> Result<BlobVerified, BlobError> {
    match bundle {
        BlobBundle::Sigstore(b) => {
            let Content::MessageSignature {
                digest: signed,
                signature,
            } = &b.content
            else {
                return Err(BlobError::NotMessageSignature);
            };
            let hint = match &b.key_material {
                KeyMaterial::Certificates(_) => return Err(BlobError::Certificate),
                KeyMaterial::PublicKey { hint } => hint,
            };
            if !b.transparency.is_empty() && tlog == TlogPolicy::Refuse {
                return Err(BlobError::Transparency(b.transparency));
            }
            // As sigstore-go does: the signed digest must be the artifact's digest.
            if let Some(signed) = signed {
                if signed.algorithm() != digest.algorithm() {
                    return Err(BlobError::DigestAlgorithm {
                        bundle: signed.algorithm().to_string(),
                        key: digest.algorithm().to_string(),
                    });
                }
                if signed != digest {
                    return Err(BlobError::DigestMismatch {
                        bundle: signed.to_hex(),
                        file: digest.to_hex(),
                    });
                }
            }
            // cosign ignores the hint when given a key; we use it only to explain a failure.
            verify_signature(key, digest, signature).map_err(|e| match hint {
                Some(h) if *h != key.cosign_hint() => BlobError::KeyMismatch,
                _ => e,
            })?;
            Ok(BlobVerified {
                ignored_transparency: !b.transparency.is_empty(),
            })
        }
        BlobBundle::Legacy {
            signature,
            key_pem,
            has_rekor,
        } => {
            if *has_rekor && tlog == TlogPolicy::Refuse {
                return Err(BlobError::Transparency(Transparency {
                    tlog_entries: 1,
                    rfc3161_timestamps: 0,
                }));
            }
            // A public key in `cert` must be the given key; a certificate is not ours to judge,
            // the given key decides.
            if let Some(pem) = key_pem {
                if let Ok(embedded) = PublicKey::from_pem(pem) {
                    if embedded != *key {
                        return Err(BlobError::KeyMismatch);
                    }
                }
            }
            verify_signature(key, digest, signature)?;
            Ok(BlobVerified {
                ignored_transparency: *has_rekor,
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signature_encodings() {
        assert_eq!(decode_signature(b"MAA=\n").unwrap(), vec![0x30, 0]);
        assert_eq!(
            decode_signature(&[0x30, 0x01, 0xff]).unwrap(),
            vec![0x30, 0x01, 0xff]
        );
        assert_eq!(decode_signature(b" \n"), Err(BlobError::SignatureEncoding));
        assert_eq!(
            decode_signature(b"not base64!"),
            Err(BlobError::SignatureEncoding)
        );
    }
}
