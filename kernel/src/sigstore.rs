//! Sigstore evidence: who signed a bundle, and what its transparency-log entries prove. Steps
//! S1 to S6 of `docs/verification.md` ("Sigstore evidence"); the caller then checks the
//! signature itself with the key returned (step 6 of models, step 4 of blobs).
//!
//! - A key (`Trust::Key`): the bundle names a key; its log entries, if any, are verified against
//!   a trusted root (`log_root`) unless the caller explicitly ignores them.
//! - Keyless (`Trust::Keyless`): a Fulcio certificate, at least one log entry whose signed entry
//!   timestamp gives the signing time, the chain to a Fulcio CA valid then, an SCT, the identity
//!   and the issuer.
//!
//! Every entry the bundle carries is verified; none is skipped. RFC 3161 timestamps and Rekor
//! v2 entries are not verified yet, so a bundle carrying them is refused (never accepted
//! without the check).

use std::fmt;

use crate::bundle::{Bundle, KeyMaterial};
use crate::fulcio::{is_root, FulcioError, Leaf, Matcher};
use crate::keys::PublicKey;
use crate::oms::TlogPolicy;
use crate::tlog::{self, Expected, ExpectedContent, TlogError};
use crate::trust::{SignerError, Trust};
use crate::trusted_root::TrustedRoot;

/// Keyless trust: who (identity and OIDC issuer) and the Sigstore instance (its trusted root).
#[derive(Debug, Clone)]
pub struct KeylessTrust {
    pub identity: Matcher,
    pub issuer: Matcher,
    pub root: TrustedRoot,
}

/// Why a bundle's Sigstore evidence is not trusted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SigstoreError {
    Signer(SignerError),
    /// Log entries are present and no trusted root was given to verify them.
    NoLogRoot,
    Tlog {
        index: usize,
        error: TlogError,
    },
    /// A keyless bundle carries no transparency-log entry (cosign, sigstore-go and
    /// sigstore-python require one by default; OMS 4.1 requires one for the sigstore method).
    NoLogEntry,
    /// A keyless bundle must carry a log entry's SET or a timestamp for its signing time.
    NoSigningTime,
    Timestamp {
        index: usize,
        error: crate::timestamp::TimestampError,
    },
    /// The same timestamp twice: never counted twice toward a threshold.
    DuplicateTimestamp(usize),
    Fulcio(FulcioError),
}

impl fmt::Display for SigstoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SigstoreError::Signer(e) => write!(f, "{e}"),
            SigstoreError::NoLogRoot => f.write_str("the bundle carries transparency-log entries and no trusted root was given to verify them"),
            SigstoreError::Tlog { index, error } => write!(f, "transparency-log entry {}: {error}", index + 1),
            SigstoreError::NoLogEntry => f.write_str("a keyless bundle must carry a transparency-log entry, and this one carries none"),
            SigstoreError::NoSigningTime => f.write_str("no verified signing time: a keyless bundle needs a transparency-log entry with a signed entry timestamp"),
            SigstoreError::Timestamp { index, error } => write!(f, "RFC 3161 timestamp {}: {error}", index + 1),
            SigstoreError::DuplicateTimestamp(index) => write!(f, "RFC 3161 timestamp {} repeats an earlier one", index + 1),
            SigstoreError::Fulcio(e) => write!(f, "{e}"),
        }
    }
}

impl std::error::Error for SigstoreError {}

/// What verified: the key that must verify the signature, and for keyless bundles whom it names.
#[derive(Debug, Clone)]
pub struct VerifiedSigner {
    pub key: PublicKey,
    /// The certificate's identity, for keyless bundles.
    pub identity: Option<String>,
}

/// The bundle's log entries, each fully checked against `root`: the log's key valid at the
/// integrated time (S2), the body is this bundle's (S3), the SET (S4) and the inclusion proof
/// with its checkpoint (S5). Returns the integrated times a verified SET vouches for.
fn verify_entries(
    bundle: &Bundle,
    root: &TrustedRoot,
    expected: &Expected<'_>,
    stamped: &[u64],
) -> Result<Vec<u64>, SigstoreError> {
    let v01 = bundle.media_type.ends_with("version=0.1");
    let mut times = Vec::new();
    for (index, entry) in bundle.tlog_entries.iter().enumerate() {
        let err = |error| SigstoreError::Tlog { index, error };
        if !matches!(
            (entry.kind.as_str(), entry.version.as_str()),
            ("hashedrekord", "0.0.1" | "0.0.2") | ("dsse", "0.0.1" | "0.0.2") | ("intoto", "0.0.2")
        ) {
            return Err(err(TlogError::UnsupportedKind {
                kind: entry.kind.clone(),
                version: entry.version.clone(),
            }));
        }
        // A Rekor v2 entry has no integrated time: its log key must be valid at the stamped
        // (RFC 3161) times instead.
        let v2 = entry.version == "0.0.2" && entry.kind != "intoto";
        let log = if v2 {
            let log = root
                .tlog(&entry.log_id)
                .ok_or_else(|| err(TlogError::UnknownLog(tlog::log_id_text(&entry.log_id))))?;
            if let Some(&t) = stamped.iter().find(|&&t| !log.valid.contains(t)) {
                return Err(err(TlogError::LogKeyOutsideValidity {
                    log: log.base_url.clone(),
                    time: t,
                }));
            }
            log
        } else {
            tlog::log_for(root, entry).map_err(err)?
        };
        tlog::verify_body(entry, expected).map_err(err)?;
        match (&entry.inclusion_promise, &entry.inclusion_proof) {
            (None, _) if v01 => {
                return Err(err(TlogError::Missing(
                    "inclusion promise (a v0.1 bundle needs one)",
                )))
            }
            (_, None) if !v01 => {
                return Err(err(TlogError::Missing(
                    "inclusion proof (a v0.2 or later bundle needs one)",
                )))
            }
            _ => {}
        }
        if let Some(set) = &entry.inclusion_promise {
            tlog::verify_promise(entry, log, set).map_err(err)?;
            times.push(entry.integrated_time);
        }
        if let Some(proof) = &entry.inclusion_proof {
            tlog::verify_inclusion(entry, log, proof).map_err(err)?;
        }
    }
    Ok(times)
}

/// S5b. Every RFC 3161 timestamp: over this signature, by a timestamp authority of `root` valid
/// at the stamped time. A repeated timestamp is refused.
fn verify_timestamps(
    bundle: &Bundle,
    root: &TrustedRoot,
    signature: &[u8],
) -> Result<Vec<u64>, SigstoreError> {
    let mut times = Vec::new();
    for (index, der) in bundle.timestamps.iter().enumerate() {
        if bundle.timestamps[..index].contains(der) {
            return Err(SigstoreError::DuplicateTimestamp(index));
        }
        let t = crate::timestamp::verify(der, signature, root)
            .map_err(|error| SigstoreError::Timestamp { index, error })?;
        times.push(t);
    }
    Ok(times)
}

/// Steps S1-S6: the key the bundle's signature must verify with, under `trust`. `signature`
/// and `content` are what the bundle signs (the log must have logged exactly them).
pub fn verify_signer(
    bundle: &Bundle,
    trust: &Trust,
    log_root: Option<&TrustedRoot>,
    tlog_policy: TlogPolicy,
    signature: &[u8],
    content: ExpectedContent<'_>,
) -> Result<VerifiedSigner, SigstoreError> {
    let timestamps = bundle.timestamps.len();
    match trust {
        Trust::Keyless(k) => {
            // S1. The material is a certificate; a root in the bundle is refused.
            let KeyMaterial::Certificates(chain) = &bundle.key_material else {
                return Err(SigstoreError::Signer(SignerError::KeyForCertificate));
            };
            let leaf_der = chain
                .first()
                .ok_or(SigstoreError::Fulcio(FulcioError::Malformed(
                    "empty chain".into(),
                )))?;
            if chain.iter().skip(1).any(|c| is_root(c)) || (chain.len() == 1 && is_root(leaf_der)) {
                return Err(SigstoreError::Fulcio(FulcioError::RootInBundle));
            }
            let leaf = Leaf::parse(leaf_der).map_err(SigstoreError::Fulcio)?;
            // A keyless signature is logged: a timestamp alone does not make it public.
            if bundle.tlog_entries.is_empty() {
                return Err(SigstoreError::NoLogEntry);
            }
            // S2-S5. Every log entry, against the keyless trust's own root; S5b every timestamp.
            let expected = Expected {
                signature,
                signer_der: leaf_der,
                content,
            };
            let stamped = verify_timestamps(bundle, &k.root, signature)?;
            let mut times = verify_entries(bundle, &k.root, &expected, &stamped)?;
            times.extend(stamped);
            if times.is_empty() {
                return Err(SigstoreError::NoSigningTime);
            }
            // S6. At every verified signing time: the leaf valid, chained to a Fulcio CA valid
            // then; an SCT from a CT log of the root; the identity and issuer asked for.
            let mut issuer = Vec::new();
            for &t in &times {
                issuer = leaf
                    .verify_chain(&k.root, t)
                    .map_err(SigstoreError::Fulcio)?;
            }
            leaf.verify_scts(&issuer, &k.root)
                .map_err(SigstoreError::Fulcio)?;
            leaf.check_identity(&k.identity, &k.issuer)
                .map_err(SigstoreError::Fulcio)?;
            let identity = leaf
                .identities
                .iter()
                .find(|i| k.identity.matches(i))
                .cloned();
            Ok(VerifiedSigner {
                key: leaf.key,
                identity,
            })
        }
        _ => {
            // S1. The key (or private CA) decides the signer; OMS hints are checked by oms.rs.
            let key = trust
                .signing_key(&bundle.key_material, None)
                .map_err(SigstoreError::Signer)?;
            if bundle.tlog_entries.is_empty() && timestamps == 0 {
                return Ok(VerifiedSigner {
                    key,
                    identity: None,
                });
            }
            if tlog_policy == TlogPolicy::IgnoreUnverified {
                return Ok(VerifiedSigner {
                    key,
                    identity: None,
                });
            }
            let root = log_root.ok_or(SigstoreError::NoLogRoot)?;
            let signer_der = match &bundle.key_material {
                KeyMaterial::Certificates(chain) => chain.first().cloned().unwrap_or_default(),
                KeyMaterial::PublicKey { .. } => key.spki_der().to_vec(),
            };
            let expected = Expected {
                signature,
                signer_der: &signer_der,
                content,
            };
            // Beside a key, the evidence proves the signature was logged and stamped; no time is
            // needed (a key has no validity window).
            let stamped = verify_timestamps(bundle, root, signature)?;
            verify_entries(bundle, root, &expected, &stamped)?;
            Ok(VerifiedSigner {
                key,
                identity: None,
            })
        }
    }
}
