//! A Sigstore trusted root (`trusted_root.json`): the transparency logs', CT logs', certificate
//! authorities' and timestamp authorities' keys, each with the window in which it may be used.
//!
//! An entry that is malformed, has no start, or uses a key type modelseal does not verify with
//! is unusable: it is kept out of the root (and named in [`TrustedRoot::unusable`]), so evidence
//! that needs it is refused; it never widens trust. A file that is not a trusted root at all is
//! an error (the operator's input: exit 2).

use std::fmt;

use base64::{engine::general_purpose::STANDARD as B64, Engine as _};
use serde::Deserialize;

use crate::keys::PublicKey;
use crate::time::parse_rfc3339;

/// The Sigstore public-good production trusted root modelseal carries (`kernel/trust/`, with
/// its provenance): the default for keyless verification.
pub const PRODUCTION: &[u8] = include_bytes!("../trust/production-trusted-root.json");

const MEDIA_TYPES: [&str; 2] = [
    "application/vnd.dev.sigstore.trustedroot+json;version=0.1",
    "application/vnd.dev.sigstore.trustedroot.v0.2+json",
];

/// When a key or authority may be used: from `start` to `end`, both inclusive (a protobuf
/// TimeRange is a closed interval); no end means still valid.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Validity {
    pub start: u64,
    pub end: Option<u64>,
}

impl Validity {
    pub fn contains(&self, t: u64) -> bool {
        self.start <= t && self.end.is_none_or(|end| t <= end)
    }
}

/// A log's public key: ECDSA (Rekor v1, CT logs) or Ed25519 (Rekor v2).
#[derive(Debug, Clone)]
pub enum LogPublicKey {
    Ecdsa(PublicKey),
    Ed25519(Vec<u8>),
}

impl LogPublicKey {
    /// Whether `signature` (DER ECDSA, or raw Ed25519) verifies over `message`.
    pub fn verifies(&self, message: &[u8], signature: &[u8]) -> bool {
        match self {
            LogPublicKey::Ecdsa(key) => key.verify_message(message, signature).is_ok(),
            LogPublicKey::Ed25519(raw) => {
                aws_lc_rs::signature::UnparsedPublicKey::new(&aws_lc_rs::signature::ED25519, raw)
                    .verify(message, signature)
                    .is_ok()
            }
        }
    }
}

/// A transparency log's or CT log's key.
#[derive(Debug, Clone)]
pub struct LogKey {
    pub base_url: String,
    /// The log's id as the trusted root names it (SHA-256 of the key's DER for Rekor v1 and CT;
    /// the signed-note key id for Rekor v2). Its first 4 bytes are the checkpoint key hint.
    pub log_id: Vec<u8>,
    pub key: LogPublicKey,
    pub valid: Validity,
}

impl LogKey {
    /// The log's host (with its port, if the URL has one): the name its checkpoint signatures
    /// carry.
    pub fn host(&self) -> &str {
        let rest = self
            .base_url
            .split_once("://")
            .map_or(self.base_url.as_str(), |(_, r)| r);
        rest.split('/').next().unwrap_or(rest)
    }
}

/// A certificate authority (Fulcio) or timestamp authority: its chain, issuing CA first and root
/// last, as the trusted root lists it.
#[derive(Debug, Clone)]
pub struct Authority {
    pub name: String,
    pub chain: Vec<Vec<u8>>,
    pub valid: Validity,
}

#[derive(Debug, Clone, Default)]
pub struct TrustedRoot {
    pub tlogs: Vec<LogKey>,
    pub ctlogs: Vec<LogKey>,
    pub certificate_authorities: Vec<Authority>,
    pub timestamp_authorities: Vec<Authority>,
    /// Entries left out, each with the reason.
    pub unusable: Vec<String>,
}

/// Why a file is not a trusted root.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TrustedRootError {
    Malformed(String),
    MediaType(String),
}

impl fmt::Display for TrustedRootError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TrustedRootError::Malformed(e) => write!(f, "not a Sigstore trusted root: {e}"),
            TrustedRootError::MediaType(m) => write!(f, "unknown trusted root media type '{m}'"),
        }
    }
}

impl std::error::Error for TrustedRootError {}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct WireRoot {
    media_type: String,
    #[serde(default)]
    tlogs: Vec<WireLog>,
    #[serde(default)]
    certificate_authorities: Vec<WireAuthority>,
    #[serde(default)]
    ctlogs: Vec<WireLog>,
    #[serde(default)]
    timestamp_authorities: Vec<WireAuthority>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct WireLog {
    #[serde(default)]
    base_url: String,
    public_key: Option<WireKey>,
    log_id: Option<WireLogId>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct WireKey {
    raw_bytes: Option<String>,
    key_details: Option<String>,
    valid_for: Option<WireRange>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct WireLogId {
    key_id: String,
}

#[derive(Deserialize)]
struct WireRange {
    start: Option<String>,
    end: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct WireAuthority {
    subject: Option<WireSubject>,
    #[serde(default)]
    uri: String,
    cert_chain: Option<WireChain>,
    valid_for: Option<WireRange>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct WireSubject {
    #[serde(default)]
    organization: String,
    #[serde(default)]
    common_name: String,
}

#[derive(Deserialize)]
struct WireChain {
    #[serde(default)]
    certificates: Vec<WireCert>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct WireCert {
    raw_bytes: String,
}

fn validity(range: Option<&WireRange>) -> Result<Validity, String> {
    let range = range.ok_or("no validFor")?;
    let start = range.start.as_deref().ok_or("validFor has no start")?;
    let start =
        parse_rfc3339(start).ok_or_else(|| format!("validFor.start '{start}' is not a time"))?;
    let end = match range.end.as_deref() {
        None => None,
        Some(e) => {
            Some(parse_rfc3339(e).ok_or_else(|| format!("validFor.end '{e}' is not a time"))?)
        }
    };
    if end.is_some_and(|e| e < start) {
        return Err("validFor ends before it starts".into());
    }
    Ok(Validity { start, end })
}

fn log_key(w: &WireLog) -> Result<LogKey, String> {
    let pk = w.public_key.as_ref().ok_or("no publicKey")?;
    let valid = validity(pk.valid_for.as_ref())?;
    let details = pk.key_details.as_deref().unwrap_or("");
    let raw = pk.raw_bytes.as_deref().ok_or("no publicKey.rawBytes")?;
    let der = B64
        .decode(raw)
        .map_err(|_| "publicKey.rawBytes is not base64")?;
    let key = match details {
        d if d.starts_with("PKIX_ECDSA_") => {
            LogPublicKey::Ecdsa(PublicKey::from_spki_der(&der).map_err(|e| e.to_string())?)
        }
        "PKIX_ED25519" => {
            // SubjectPublicKeyInfo of id-Ed25519: a 12-byte header, then the 32-byte key.
            const HEADER: [u8; 12] = [
                0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00,
            ];
            match der.strip_prefix(&HEADER[..]) {
                Some(raw) if raw.len() == 32 => LogPublicKey::Ed25519(raw.to_vec()),
                _ => return Err("not an Ed25519 SubjectPublicKeyInfo".into()),
            }
        }
        other => return Err(format!("key type '{other}' is not supported")),
    };
    let log_id = w.log_id.as_ref().ok_or("no logId")?;
    let log_id = B64
        .decode(&log_id.key_id)
        .map_err(|_| "logId.keyId is not base64")?;
    Ok(LogKey {
        base_url: w.base_url.clone(),
        log_id,
        key,
        valid,
    })
}

fn authority(w: &WireAuthority) -> Result<Authority, String> {
    let valid = validity(w.valid_for.as_ref())?;
    let chain = w
        .cert_chain
        .as_ref()
        .ok_or("no certChain")?
        .certificates
        .iter()
        .map(|c| B64.decode(&c.raw_bytes))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|_| "a certificate is not base64")?;
    if chain.is_empty() {
        return Err("certChain is empty".into());
    }
    let name = match &w.subject {
        Some(s) if !s.common_name.is_empty() => format!("{} ({})", s.common_name, s.organization),
        _ => w.uri.clone(),
    };
    Ok(Authority { name, chain, valid })
}

impl TrustedRoot {
    pub fn from_json(bytes: &[u8]) -> Result<Self, TrustedRootError> {
        let wire: WireRoot = serde_json::from_slice(bytes)
            .map_err(|e| TrustedRootError::Malformed(e.to_string()))?;
        if !MEDIA_TYPES.contains(&wire.media_type.as_str()) {
            return Err(TrustedRootError::MediaType(wire.media_type));
        }
        let mut root = TrustedRoot::default();
        for (kind, logs, out) in [
            ("tlog", &wire.tlogs, &mut root.tlogs),
            ("ctlog", &wire.ctlogs, &mut root.ctlogs),
        ] {
            for w in logs {
                match log_key(w) {
                    Ok(k) => out.push(k),
                    Err(why) => root.unusable.push(format!("{kind} {}: {why}", w.base_url)),
                }
            }
        }
        for (kind, authorities, out) in [
            (
                "certificate authority",
                &wire.certificate_authorities,
                &mut root.certificate_authorities,
            ),
            (
                "timestamp authority",
                &wire.timestamp_authorities,
                &mut root.timestamp_authorities,
            ),
        ] {
            for w in authorities {
                match authority(w) {
                    Ok(a) => out.push(a),
                    Err(why) => root.unusable.push(format!("{kind} {}: {why}", w.uri)),
                }
            }
        }
        Ok(root)
    }

    /// The transparency log with this id.
    pub fn tlog(&self, log_id: &[u8]) -> Option<&LogKey> {
        self.tlogs.iter().find(|l| l.log_id == log_id)
    }

    /// The CT log with this id.
    pub fn ctlog(&self, log_id: &[u8]) -> Option<&LogKey> {
        self.ctlogs.iter().find(|l| l.log_id == log_id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_are_closed_and_need_a_start() {
        let v = Validity {
            start: 10,
            end: Some(20),
        };
        assert!(v.contains(10) && v.contains(20) && !v.contains(9) && !v.contains(21));
        assert!(Validity {
            start: 10,
            end: None
        }
        .contains(u64::MAX));
        let none = WireRange {
            start: None,
            end: Some("2022-01-01T00:00:00Z".into()),
        };
        assert!(validity(Some(&none)).is_err());
        let backwards = WireRange {
            start: Some("2022-01-02T00:00:00Z".into()),
            end: Some("2022-01-01T00:00:00Z".into()),
        };
        assert!(validity(Some(&backwards)).is_err());
    }
}
