//! cosign `sign-blob` / `verify-blob` with a key: raw signatures, key-based Sigstore bundles with a
//! message signature, and the legacy cosign bundle JSON.
//!
//! What is signed is the file itself: ECDSA over the curve's hash of its bytes (SHA-256 for
//! P-256). The shell hashes the file while reading and hands the digest here.

use std::fmt;

use base64::{engine::general_purpose::STANDARD as B64, Engine as _};
use serde::Deserialize;

use crate::bundle::{Bundle, BundleError, Content, KeyMaterial};
use crate::certificate::certified_key;
use crate::digest::{Digest, HashAlgorithm};
use crate::dsse::pae;
use crate::keys::{PublicKey, SignError};

/// Why a blob signature cannot be trusted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BlobError {
    /// The signature file is empty, or neither base64 nor DER.
    SignatureEncoding,
    Bundle(BundleError),
    /// The legacy bundle JSON is malformed (serde's text).
    Legacy(String),
    /// A digest of the file the check needs and the verifier did not compute (a `sha256:HEX`
    /// given in place of the file has only SHA-256).
    NotComputed(HashAlgorithm),
    DigestMismatch {
        bundle: String,
        file: String,
    },
    KeyMismatch,
    Signature(SignError),
    /// A DSSE bundle whose payload is not an in-toto statement.
    PayloadType(String),
    Statement(String),
    /// No subject of the signed statement is the file.
    SubjectMismatch,
}

impl fmt::Display for BlobError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BlobError::SignatureEncoding => f.write_str("the signature is neither base64 nor DER"),
            BlobError::Bundle(e) => write!(f, "{e}"),
            BlobError::Legacy(e) => write!(f, "not a cosign bundle: {e}"),
            BlobError::NotComputed(alg) => write!(
                f,
                "the check needs the file's {alg} digest, which was not computed (a sha256:HEX given in place of the file has only SHA-256)"
            ),
            BlobError::DigestMismatch { bundle, file } => write!(
                f,
                "the file's digest {file} does not match the bundle's message digest {bundle}"
            ),
            BlobError::KeyMismatch => f.write_str("the signature was made by another key"),
            BlobError::Signature(e) => write!(f, "{e}"),
            BlobError::PayloadType(t) => write!(f, "the DSSE payload type '{t}' is not in-toto"),
            BlobError::Statement(e) => write!(f, "the signed in-toto statement is unusable: {e}"),
            BlobError::SubjectMismatch => f.write_str(
                "no subject of the signed in-toto statement has the file's digest (sha256 or sha512)",
            ),
        }
    }
}

impl std::error::Error for BlobError {}

/// Decodes a cosign signature file: standard base64 (surrounding whitespace allowed, as cosign
/// writes a newline to stdout), or binary (raw DER ECDSA, or raw RSA bytes from `openssl dgst`).
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
    // Binary: a DER ECDSA-Sig-Value (SEQUENCE, 0x30), or raw RSA signature bytes as
    // `openssl dgst -sign` writes them. Text that is not base64 is an encoding error.
    let binary = bytes
        .iter()
        .any(|b| !(b.is_ascii_graphic() || b.is_ascii_whitespace()));
    if bytes.first() == Some(&0x30) || binary {
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

/// A raw signature (`--signature`) over the file, by `key`: over the file's digest under the
/// key's hash.
pub(crate) fn check_raw(key: &PublicKey, der: &[u8], digests: &[Digest]) -> Result<(), BlobError> {
    let digest = digest_under(digests, key.hash())?;
    key.verify_digest(digest, der).map_err(BlobError::Signature)
}

/// The file digests verifying `bundle` (`None`: a bare signature) with `keys` (the governing
/// rule's key authorities) may compare, so the shell reads the file once for all of them:
/// SHA-256 (hashedrekord entries, in-toto subjects, pins), each key's hash (a bare signature, a
/// message signature naming no digest), the bundle leaf's hash (read here only to choose), the
/// message digest's algorithm, and SHA-512 for in-toto subjects. Choosing trusts nothing: a
/// digest the verification needs and lacks is a refusal naming it.
pub fn digests_needed(bundle: Option<&BlobBundle>, keys: &[&PublicKey]) -> Vec<HashAlgorithm> {
    let mut algorithms = vec![HashAlgorithm::Sha256];
    algorithms.extend(keys.iter().map(|k| k.hash()));
    if let Some(BlobBundle::Sigstore(b)) = bundle {
        if let KeyMaterial::Certificates(chain) = &b.key_material {
            if let Some(key) = chain.first().and_then(|leaf| certified_key(leaf).ok()) {
                algorithms.push(key.hash());
            }
        }
        match &b.content {
            Content::MessageSignature {
                digest: Some(d), ..
            } => algorithms.push(d.algorithm()),
            Content::MessageSignature { digest: None, .. } => {}
            Content::Dsse(_) => algorithms.push(HashAlgorithm::Sha512),
        }
    }
    algorithms.sort_by_key(|a| a.output_len());
    algorithms.dedup();
    algorithms
}

/// The file's digest under `alg`, among those the shell computed.
pub fn digest_under(digests: &[Digest], alg: HashAlgorithm) -> Result<&Digest, BlobError> {
    digests
        .iter()
        .find(|d| d.algorithm() == alg)
        .ok_or(BlobError::NotComputed(alg))
}

/// A message signature's declared digest, when it has one, is the file's under that
/// algorithm (as sigstore-go checks).
pub(crate) fn check_declared_digest(
    declared: Option<&Digest>,
    digests: &[Digest],
) -> Result<(), BlobError> {
    let Some(declared) = declared else {
        return Ok(());
    };
    let file = digest_under(digests, declared.algorithm())?;
    if declared != file {
        return Err(BlobError::DigestMismatch {
            bundle: declared.to_hex(),
            file: file.to_hex(),
        });
    }
    Ok(())
}

/// A message signature by `key`. The signature covers the digest the bundle declares, its
/// algorithm and value (already checked equal to the file's): a P-384 key may sign a SHA-256
/// digest (sigstore-python 1.x did), and a declared algorithm the signature does not cover
/// fails. Without a declared digest, the file's digest under the key's hash.
pub(crate) fn check_message_signature(
    key: &PublicKey,
    declared: Option<&Digest>,
    signature: &[u8],
    digests: &[Digest],
) -> Result<(), BlobError> {
    let digest = match declared {
        Some(d) => d,
        None => digest_under(digests, key.hash())?,
    };
    key.verify_digest(digest, signature)
        .map_err(BlobError::Signature)
}

/// A DSSE envelope by `key`: the signature over the PAE, then (only then) the statement, one of
/// whose subjects must be the file.
pub(crate) fn check_dsse(
    envelope: &crate::bundle::Envelope,
    key: &PublicKey,
    digests: &[Digest],
) -> Result<(), BlobError> {
    key.verify_message(
        &pae(&envelope.payload_type, &envelope.payload),
        &envelope.signature,
    )
    .map_err(BlobError::Signature)?;
    subject_names_file(&envelope.payload, digests)
}

/// cosign's legacy bundle by `key`: a public key in `cert` must be the given key (a certificate
/// there is not ours to judge: the given key decides), and the signature is over the file.
pub(crate) fn check_legacy(
    key: &PublicKey,
    key_pem: Option<&[u8]>,
    signature: &[u8],
    digests: &[Digest],
) -> Result<(), BlobError> {
    if let Some(pem) = key_pem {
        if let Ok(embedded) = PublicKey::from_pem(pem) {
            if embedded != *key {
                return Err(BlobError::KeyMismatch);
            }
        }
    }
    check_raw(key, signature, digests)
}

/// An in-toto statement's subjects include the file: one subject digest (sha256 or sha512)
/// equals the file's (as sigstore-python and cosign's verify-blob-attestation check).
fn subject_names_file(payload: &[u8], digests: &[Digest]) -> Result<(), BlobError> {
    let statement: serde_json::Value = serde_json::from_slice(payload)
        .map_err(|e| BlobError::Statement(format!("not JSON: {e}")))?;
    let subjects = statement
        .get("subject")
        .and_then(|s| s.as_array())
        .ok_or_else(|| BlobError::Statement("no 'subject' list".into()))?;
    for subject in subjects {
        let Some(map) = subject.get("digest").and_then(|d| d.as_object()) else {
            continue;
        };
        for (alg, value) in map {
            let (Some(alg), Some(value)) = (HashAlgorithm::from_sha2_name(alg), value.as_str())
            else {
                continue;
            };
            if digests
                .iter()
                .any(|d| d.algorithm() == alg && d.to_hex() == value.to_ascii_lowercase())
            {
                return Ok(());
            }
        }
    }
    Err(BlobError::SubjectMismatch)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The shell hashes only what the verification may compare.
    #[test]
    fn digests_needed_follow_the_key_and_the_bundle() {
        use crate::keys::{Curve, PrivateKey, Signer as _};
        let p384 = PrivateKey::generate(Curve::P384, &mut rand_core::OsRng);
        let key = [p384.public_key()];
        let (s256, s384, s512) = (
            HashAlgorithm::Sha256,
            HashAlgorithm::Sha384,
            HashAlgorithm::Sha512,
        );
        assert_eq!(digests_needed(None, &key), [s256, s384]);
        let dsse = BlobBundle::from_json(
            br#"{"mediaType":"application/vnd.dev.sigstore.bundle.v0.3+json","verificationMaterial":{"publicKey":{"hint":""}},"dsseEnvelope":{"payload":"e30=","payloadType":"application/vnd.in-toto+json","signatures":[{"sig":"MAA="}]}}"#,
        )
        .unwrap();
        assert_eq!(digests_needed(Some(&dsse), &key), [s256, s384, s512]);
        let message = BlobBundle::from_json(
            br#"{"mediaType":"application/vnd.dev.sigstore.bundle.v0.3+json","verificationMaterial":{"publicKey":{"hint":""}},"messageSignature":{"messageDigest":{"algorithm":"SHA2_512","digest":"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=="},"signature":"MAA="}}"#,
        )
        .unwrap();
        assert_eq!(digests_needed(Some(&message), &key), [s256, s384, s512]);
    }

    /// npm provenance names its subject by sha512 only; sha256 subjects are the common case.
    #[test]
    fn statement_subjects_by_sha256_or_sha512() {
        let file = b"artifact bytes";
        let digests = [
            HashAlgorithm::Sha256.digest(file),
            HashAlgorithm::Sha512.digest(file),
        ];
        let statement = |alg: &str, hex: &str| {
            format!(
                r#"{{"_type":"https://in-toto.io/Statement/v1","subject":[{{"name":"x","digest":{{"{alg}":"{hex}"}}}}],"predicateType":"p","predicate":{{}}}}"#
            )
        };
        let sha512 = statement("sha512", &digests[1].to_hex());
        assert_eq!(subject_names_file(sha512.as_bytes(), &digests), Ok(()));
        let upper = statement("sha256", &digests[0].to_hex().to_uppercase());
        assert_eq!(subject_names_file(upper.as_bytes(), &digests), Ok(()));
        let other = statement("sha256", &HashAlgorithm::Sha256.digest(b"other").to_hex());
        assert_eq!(
            subject_names_file(other.as_bytes(), &digests),
            Err(BlobError::SubjectMismatch)
        );
        let unknown = statement("md5", "00");
        assert_eq!(
            subject_names_file(unknown.as_bytes(), &digests),
            Err(BlobError::SubjectMismatch)
        );
        assert!(matches!(
            subject_names_file(b"{}", &digests),
            Err(BlobError::Statement(_))
        ));
    }

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
