//! Sigstore bundle JSON: the wire form, and the checked [`Bundle`] every verifier works from.
//!
//! Parsing keeps the exact payload and signature bytes; nothing is ever re-serialized for
//! verification. Writing produces the compact v0.3 shapes model_signing and cosign write.

use std::fmt;

use base64::{engine::general_purpose::STANDARD as B64, Engine as _};
use serde::{Deserialize, Serialize};

use crate::digest::{Digest, HashAlgorithm};
use crate::dsse::IN_TOTO_PAYLOAD_TYPE;

/// The media type model_signing and cosign v3 write.
pub const MEDIA_TYPE_V03: &str = "application/vnd.dev.sigstore.bundle.v0.3+json";

/// Every media type we read. The older ones only ever carry message signatures from cosign.
const MEDIA_TYPES: [&str; 4] = [
    MEDIA_TYPE_V03,
    "application/vnd.dev.sigstore.bundle+json;version=0.3",
    "application/vnd.dev.sigstore.bundle+json;version=0.2",
    "application/vnd.dev.sigstore.bundle+json;version=0.1",
];

/// Why a bundle file is not a bundle we can check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BundleError {
    /// Not JSON, or JSON of the wrong shape; the text is serde's, with line and column.
    Malformed(String),
    UnknownMediaType(String),
    /// A required field is absent.
    Missing(&'static str),
    /// A field that must be base64 is not.
    BadBase64(&'static str),
    /// The envelope carries no signature, or more than one.
    SignatureCount(usize),
    /// Both or neither of `dsseEnvelope` and `messageSignature`.
    Content,
    /// Not exactly one of `publicKey`, `x509CertificateChain` and `certificate`.
    KeyMaterial,
    /// A transparency-log entry's field is missing, negative or not base64.
    TlogEntry(&'static str),
    UnsupportedDigestAlgorithm(String),
}

impl fmt::Display for BundleError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BundleError::Malformed(e) => write!(f, "not a Sigstore bundle: {e}"),
            BundleError::UnknownMediaType(m) => write!(f, "unknown bundle media type '{m}'"),
            BundleError::Missing(field) => write!(f, "the bundle has no '{field}'"),
            BundleError::BadBase64(field) => write!(f, "'{field}' is not valid base64"),
            BundleError::SignatureCount(n) => {
                write!(
                    f,
                    "the DSSE envelope has {n} signatures; exactly one is supported"
                )
            }
            BundleError::Content => f.write_str(
                "the bundle must hold exactly one of 'dsseEnvelope' and 'messageSignature'",
            ),
            BundleError::TlogEntry(field) => {
                write!(f, "'{field}' is missing, negative or malformed")
            }
            BundleError::KeyMaterial => f.write_str(
                "'verificationMaterial' must hold exactly one of 'publicKey', \
                 'x509CertificateChain' and 'certificate'",
            ),
            BundleError::UnsupportedDigestAlgorithm(a) => {
                write!(f, "unsupported messageDigest algorithm '{a}'")
            }
        }
    }
}

impl std::error::Error for BundleError {}

/// Why a bundle's signer is not the one a trust authority names (step 3 of verification).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SignerError {
    /// A certificate bundle checked with a key.
    CertificateForKey,
    /// A key bundle checked with a certificate chain or a keyless identity.
    KeyForCertificate,
    /// The bundle's key hint names another key.
    KeyMismatch {
        bundle_hint: String,
        key_hint: String,
    },
    Chain(crate::certificate::ChainError),
}

impl fmt::Display for SignerError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
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
        }
    }
}

impl std::error::Error for SignerError {}

// ---- wire types (as read) ----

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct WireBundle {
    media_type: Option<String>,
    verification_material: Option<WireMaterial>,
    dsse_envelope: Option<WireEnvelope>,
    message_signature: Option<WireMessageSignature>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct WireMaterial {
    public_key: Option<WirePublicKey>,
    x509_certificate_chain: Option<WireChain>,
    certificate: Option<WireCertificate>,
    tlog_entries: Option<Vec<crate::tlog::WireEntry>>,
    timestamp_verification_data: Option<WireTimestamps>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct WirePublicKey {
    hint: Option<String>,
    raw_bytes: Option<String>,
}

#[derive(Deserialize)]
struct WireChain {
    #[serde(default)]
    certificates: Vec<WireCertificate>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct WireCertificate {
    raw_bytes: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct WireTimestamps {
    rfc3161_timestamps: Option<Vec<WireSignedTimestamp>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct WireSignedTimestamp {
    signed_timestamp: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct WireEnvelope {
    payload: String,
    payload_type: String,
    signatures: Vec<WireSignature>,
}

#[derive(Deserialize)]
struct WireSignature {
    sig: String,
    // `keyid` may be absent, empty or null (OMS v1.0); it is never used to pick a key.
    #[allow(
        dead_code,
        reason = "parsed to accept the field; never used to pick a key"
    )]
    keyid: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct WireMessageSignature {
    message_digest: Option<WireMessageDigest>,
    signature: String,
}

#[derive(Deserialize)]
struct WireMessageDigest {
    algorithm: String,
    digest: String,
}

// ---- checked types ----

/// How the bundle names its signer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyMaterial {
    /// A public key, named by an optional hint (absent or empty in some producers' bundles).
    PublicKey { hint: Option<String> },
    /// An X.509 certificate or chain, leaf first, as DER (model_signing's certificate method,
    /// Sigstore keyless).
    Certificates(Vec<Vec<u8>>),
}

/// Transparency-log and timestamp evidence carried by the bundle.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Transparency {
    pub tlog_entries: usize,
    pub rfc3161_timestamps: usize,
}

impl Transparency {
    pub fn is_empty(&self) -> bool {
        self.tlog_entries == 0 && self.rfc3161_timestamps == 0
    }
}

/// A DSSE envelope with its exact payload and single signature.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Envelope {
    pub payload_type: String,
    pub payload: Vec<u8>,
    pub signature: Vec<u8>,
}

/// What the bundle signs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Content {
    Dsse(Envelope),
    MessageSignature {
        digest: Option<Digest>,
        signature: Vec<u8>,
    },
}

/// A structurally checked Sigstore bundle.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bundle {
    pub media_type: String,
    pub key_material: KeyMaterial,
    /// The transparency-log entries, checked for shape only.
    pub tlog_entries: Vec<crate::tlog::TlogEntry>,
    /// RFC 3161 timestamps (DER), not yet verified.
    pub timestamps: Vec<Vec<u8>>,
    pub content: Content,
}

impl Bundle {
    /// How much transparency evidence the bundle carries.
    pub fn transparency(&self) -> Transparency {
        Transparency {
            tlog_entries: self.tlog_entries.len(),
            rfc3161_timestamps: self.timestamps.len(),
        }
    }

    /// Parses bundle JSON. Structure only: no signature is checked here.
    pub fn from_json(bytes: &[u8]) -> Result<Self, BundleError> {
        let wire: WireBundle =
            serde_json::from_slice(bytes).map_err(|e| BundleError::Malformed(e.to_string()))?;
        let media_type = wire.media_type.ok_or(BundleError::Missing("mediaType"))?;
        if !MEDIA_TYPES.contains(&media_type.as_str()) {
            return Err(BundleError::UnknownMediaType(media_type));
        }
        let material = wire
            .verification_material
            .ok_or(BundleError::Missing("verificationMaterial"))?;
        let key_material = match (
            material.public_key,
            material.x509_certificate_chain,
            material.certificate,
        ) {
            (Some(pk), None, None) => {
                // Legacy `rawBytes` is accepted and, like model_signing, never trusted: the key
                // used is always the one the verifier was given.
                if let Some(raw) = &pk.raw_bytes {
                    B64.decode(raw).map_err(|_| {
                        BundleError::BadBase64("verificationMaterial.publicKey.rawBytes")
                    })?;
                }
                KeyMaterial::PublicKey {
                    hint: pk.hint.filter(|h| !h.is_empty()),
                }
            }
            (None, Some(chain), None) => {
                let certificates = chain
                    .certificates
                    .iter()
                    .map(|c| B64.decode(&c.raw_bytes))
                    .collect::<Result<Vec<_>, _>>()
                    .map_err(|_| {
                        BundleError::BadBase64(
                            "verificationMaterial.x509CertificateChain.certificates[].rawBytes",
                        )
                    })?;
                if certificates.is_empty() {
                    return Err(BundleError::Missing(
                        "verificationMaterial.x509CertificateChain.certificates",
                    ));
                }
                KeyMaterial::Certificates(certificates)
            }
            (None, None, Some(leaf)) => {
                let der = B64.decode(&leaf.raw_bytes).map_err(|_| {
                    BundleError::BadBase64("verificationMaterial.certificate.rawBytes")
                })?;
                KeyMaterial::Certificates(vec![der])
            }
            _ => return Err(BundleError::KeyMaterial),
        };
        let tlog_entries = material
            .tlog_entries
            .unwrap_or_default()
            .into_iter()
            .map(crate::tlog::WireEntry::check)
            .collect::<Result<Vec<_>, _>>()
            .map_err(BundleError::TlogEntry)?;
        let timestamps = material
            .timestamp_verification_data
            .and_then(|t| t.rfc3161_timestamps)
            .unwrap_or_default()
            .iter()
            .map(|t| B64.decode(&t.signed_timestamp))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|_| {
                BundleError::BadBase64(
                    "verificationMaterial.timestampVerificationData.rfc3161Timestamps[].signedTimestamp",
                )
            })?;
        let content = match (wire.dsse_envelope, wire.message_signature) {
            (Some(env), None) => {
                let payload = B64
                    .decode(&env.payload)
                    .map_err(|_| BundleError::BadBase64("dsseEnvelope.payload"))?;
                if env.signatures.len() != 1 {
                    return Err(BundleError::SignatureCount(env.signatures.len()));
                }
                let signature = B64
                    .decode(&env.signatures[0].sig)
                    .map_err(|_| BundleError::BadBase64("dsseEnvelope.signatures[0].sig"))?;
                Content::Dsse(Envelope {
                    payload_type: env.payload_type,
                    payload,
                    signature,
                })
            }
            (None, Some(ms)) => {
                let signature = B64
                    .decode(&ms.signature)
                    .map_err(|_| BundleError::BadBase64("messageSignature.signature"))?;
                let digest = match ms.message_digest {
                    None => None,
                    Some(md) => {
                        let alg =
                            HashAlgorithm::from_sigstore_name(&md.algorithm).ok_or_else(|| {
                                BundleError::UnsupportedDigestAlgorithm(md.algorithm.clone())
                            })?;
                        let bytes = B64.decode(&md.digest).map_err(|_| {
                            BundleError::BadBase64("messageSignature.messageDigest.digest")
                        })?;
                        Some(Digest::new(alg, bytes).ok_or(BundleError::BadBase64(
                            "messageSignature.messageDigest.digest",
                        ))?)
                    }
                };
                Content::MessageSignature { digest, signature }
            }
            _ => return Err(BundleError::Content),
        };
        Ok(Bundle {
            media_type,
            key_material,
            tlog_entries,
            timestamps,
            content,
        })
    }
}

// ---- writing ----

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct OutBundle<'a> {
    media_type: &'a str,
    verification_material: OutMaterial<'a>,
    #[serde(skip_serializing_if = "Option::is_none")]
    message_signature: Option<OutMessageSignature>,
    #[serde(skip_serializing_if = "Option::is_none")]
    dsse_envelope: Option<OutEnvelope>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct OutMaterial<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    public_key: Option<OutPublicKey<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    x509_certificate_chain: Option<OutChain>,
    #[serde(skip_serializing_if = "Option::is_none")]
    certificate: Option<OutCertificate>,
    #[serde(skip_serializing_if = "Option::is_none")]
    tlog_entries: Option<Vec<serde_json::Value>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    timestamp_verification_data: Option<OutTimestamps>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct OutTimestamps {
    rfc3161_timestamps: Vec<OutSignedTimestamp>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct OutSignedTimestamp {
    signed_timestamp: String,
}

/// Transparency evidence a signer obtained for its signature: Rekor's entries (already in the
/// bundle's `tlogEntries[]` form, see [`crate::services::rekor_entry`]) and RFC 3161 replies.
#[derive(Debug, Clone, Default)]
pub struct Evidence {
    pub tlog_entries: Vec<serde_json::Value>,
    pub timestamps: Vec<Vec<u8>>,
}

impl Evidence {
    fn timestamps(&self) -> Option<OutTimestamps> {
        (!self.timestamps.is_empty()).then(|| OutTimestamps {
            rfc3161_timestamps: self
                .timestamps
                .iter()
                .map(|t| OutSignedTimestamp {
                    signed_timestamp: B64.encode(t),
                })
                .collect(),
        })
    }
}

/// The key material fields for `signer`.
fn material_fields(
    signer: SignerMaterial<'_>,
) -> (
    Option<OutPublicKey<'_>>,
    Option<OutChain>,
    Option<OutCertificate>,
) {
    let cert = |der: &[u8]| OutCertificate {
        raw_bytes: B64.encode(der),
    };
    match signer {
        SignerMaterial::KeyHint(hint) => (Some(OutPublicKey { hint }), None, None),
        SignerMaterial::Certificates(chain) => (
            None,
            Some(OutChain {
                certificates: chain.iter().map(|der| cert(der)).collect(),
            }),
            None,
        ),
        SignerMaterial::Certificate(leaf) => (None, None, Some(cert(leaf))),
    }
}

#[derive(Serialize)]
struct OutChain {
    certificates: Vec<OutCertificate>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct OutCertificate {
    raw_bytes: String,
}

#[derive(Serialize)]
struct OutPublicKey<'a> {
    hint: &'a str,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct OutMessageSignature {
    message_digest: OutMessageDigest,
    signature: String,
}

#[derive(Serialize)]
struct OutMessageDigest {
    algorithm: &'static str,
    digest: String,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct OutEnvelope {
    payload: String,
    payload_type: &'static str,
    signatures: [OutSignature; 1],
}

#[derive(Serialize)]
struct OutSignature {
    sig: String,
    keyid: &'static str,
}

fn to_json(bundle: &OutBundle<'_>) -> String {
    // Serializing plain structs of strings cannot fail.
    serde_json::to_string(bundle).unwrap_or_default()
}

/// How an OMS bundle names its signer.
#[derive(Debug, Clone, Copy)]
pub enum SignerMaterial<'a> {
    /// The key method: the OMS hint of the public key.
    KeyHint(&'a str),
    /// The certificate method: DER certificates, leaf first, then the chain given at signing.
    Certificates(&'a [Vec<u8>]),
    /// Sigstore keyless: the Fulcio leaf alone (v0.3 `certificate`, as sigstore-python,
    /// cosign and model_signing write it).
    Certificate(&'a [u8]),
}

/// The OMS v1.0 bundle model_signing writes for the key and certificate methods: compact JSON,
/// `tlogEntries: []`.
pub fn oms_bundle_json(signer: SignerMaterial<'_>, payload: &[u8], der_signature: &[u8]) -> String {
    oms_bundle_json_with(signer, payload, der_signature, &Evidence::default())
}

/// [`oms_bundle_json`] with the log entries and timestamps a signer obtained.
pub fn oms_bundle_json_with(
    signer: SignerMaterial<'_>,
    payload: &[u8],
    der_signature: &[u8],
    evidence: &Evidence,
) -> String {
    let (public_key, x509_certificate_chain, certificate) = material_fields(signer);
    to_json(&OutBundle {
        media_type: MEDIA_TYPE_V03,
        verification_material: OutMaterial {
            public_key,
            x509_certificate_chain,
            certificate,
            tlog_entries: Some(evidence.tlog_entries.clone()),
            timestamp_verification_data: evidence.timestamps(),
        },
        message_signature: None,
        dsse_envelope: Some(OutEnvelope {
            payload: B64.encode(payload),
            payload_type: IN_TOTO_PAYLOAD_TYPE,
            signatures: [OutSignature {
                sig: B64.encode(der_signature),
                keyid: "",
            }],
        }),
    })
}

/// The key-based bundle cosign v3 `sign-blob --bundle` writes when nothing goes to a log.
pub fn message_signature_bundle_json(
    cosign_hint: &str,
    digest: &Digest,
    der_signature: &[u8],
) -> Option<String> {
    message_signature_bundle_json_with(
        SignerMaterial::KeyHint(cosign_hint),
        digest,
        der_signature,
        &Evidence::default(),
    )
}

/// A message-signature bundle with its signer and evidence, as cosign and sigstore-python
/// write one (`tlogEntries` only when there are entries).
pub fn message_signature_bundle_json_with(
    signer: SignerMaterial<'_>,
    digest: &Digest,
    der_signature: &[u8],
    evidence: &Evidence,
) -> Option<String> {
    let (public_key, x509_certificate_chain, certificate) = material_fields(signer);
    Some(to_json(&OutBundle {
        media_type: MEDIA_TYPE_V03,
        verification_material: OutMaterial {
            public_key,
            x509_certificate_chain,
            certificate,
            tlog_entries: (!evidence.tlog_entries.is_empty())
                .then(|| evidence.tlog_entries.clone()),
            timestamp_verification_data: evidence.timestamps(),
        },
        message_signature: Some(OutMessageSignature {
            message_digest: OutMessageDigest {
                algorithm: digest.algorithm().sigstore_name()?,
                digest: B64.encode(digest.as_bytes()),
            },
            signature: B64.encode(der_signature),
        }),
        dsse_envelope: None,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_what_it_reads() {
        let json = oms_bundle_json(SignerMaterial::KeyHint("ab"), b"{}", b"\x30\x00");
        assert_eq!(
            json,
            r#"{"mediaType":"application/vnd.dev.sigstore.bundle.v0.3+json","verificationMaterial":{"publicKey":{"hint":"ab"},"tlogEntries":[]},"dsseEnvelope":{"payload":"e30=","payloadType":"application/vnd.in-toto+json","signatures":[{"sig":"MAA=","keyid":""}]}}"#
        );
        let b = Bundle::from_json(json.as_bytes()).unwrap();
        assert!(b.tlog_entries.is_empty());
        assert_eq!(
            b.key_material,
            KeyMaterial::PublicKey {
                hint: Some("ab".into())
            }
        );
        assert_eq!(
            b.content,
            Content::Dsse(Envelope {
                payload_type: IN_TOTO_PAYLOAD_TYPE.into(),
                payload: b"{}".to_vec(),
                signature: vec![0x30, 0],
            })
        );
    }

    #[test]
    fn certificate_bundles_keep_the_chain() {
        let chain = vec![vec![1u8, 2], vec![3u8]];
        let json = oms_bundle_json(SignerMaterial::Certificates(&chain), b"{}", b"\x30\x00");
        assert!(json.contains(
            r#""verificationMaterial":{"x509CertificateChain":{"certificates":[{"rawBytes":"AQI="},{"rawBytes":"Aw=="}]},"tlogEntries":[]}"#
        ));
        let b = Bundle::from_json(json.as_bytes()).unwrap();
        assert_eq!(b.key_material, KeyMaterial::Certificates(chain));
        let both = json.replace(
            r#""x509CertificateChain""#,
            r#""publicKey":{"hint":"ab"},"x509CertificateChain""#,
        );
        assert_eq!(
            Bundle::from_json(both.as_bytes()),
            Err(BundleError::KeyMaterial)
        );
        let empty = json.replace(r#"{"rawBytes":"AQI="},{"rawBytes":"Aw=="}"#, "");
        assert!(matches!(
            Bundle::from_json(empty.as_bytes()),
            Err(BundleError::Missing(_))
        ));
    }

    #[test]
    fn refusals() {
        assert!(matches!(
            Bundle::from_json(b""),
            Err(BundleError::Malformed(_))
        ));
        assert_eq!(
            Bundle::from_json(br#"{"mediaType":"x"}"#),
            Err(BundleError::UnknownMediaType("x".into()))
        );
        assert_eq!(
            Bundle::from_json(
                br#"{"mediaType":"application/vnd.dev.sigstore.bundle.v0.3+json","verificationMaterial":{"publicKey":{}}}"#
            ),
            Err(BundleError::Content)
        );
        // Duplicate keys are refused rather than silently resolved.
        assert!(matches!(
            Bundle::from_json(br#"{"mediaType":"a","mediaType":"b"}"#),
            Err(BundleError::Malformed(_))
        ));
    }
}
