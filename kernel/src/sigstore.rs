//! Sigstore evidence: who signed a bundle, and what its transparency-log entries and RFC 3161
//! timestamps prove. Steps S1 to S6 of `docs/verification.md` ("Sigstore evidence"); the caller
//! then checks the signature itself with the key (step 6 of models, step 4 of blobs).
//!
//! - [`verify_keyless`]: a Fulcio certificate, at least one log entry, a signing time (a log
//!   entry's signed entry timestamp, or an RFC 3161 timestamp), the chain to a Fulcio CA valid
//!   then, an SCT, the identity and the issuer.
//! - [`verify_evidence`]: the log entries and timestamps beside a key or a private CA's
//!   certificate, and the signing times they prove (a key has no window of its own; a trust
//!   policy's time-bounded authority needs those times).
//!
//! Every entry and timestamp the bundle carries is verified; none is skipped. A signing time
//! later than the verifier's clock plus [`CLOCK_SKEW`] is refused.

use std::fmt;

use crate::bundle::{Bundle, KeyMaterial, SignerError};
use crate::fulcio::{is_root, FulcioError, Leaf, Matcher};
use crate::keys::PublicKey;
use crate::tlog::{self, Expected, ExpectedContent, TlogError};
use crate::trusted_root::TrustedRoot;

/// How far ahead of the verifier's clock a proven signing time may be (clocks drift; a log or
/// timestamp authority further ahead is wrong or lying).
pub const CLOCK_SKEW: u64 = 300;

/// Why a bundle's Sigstore evidence is not trusted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SigstoreError {
    Signer(SignerError),
    Tlog {
        index: usize,
        error: TlogError,
    },
    /// A keyless bundle carries no transparency-log entry (cosign, sigstore-go and
    /// sigstore-python require one by default; OMS 4.1 requires one for the sigstore method).
    NoLogEntry,
    /// A keyless bundle must carry a log entry's SET or a timestamp for its signing time.
    NoSigningTime,
    /// A proven signing time later than the verifier's clock allows.
    FutureTime {
        what: String,
        time: u64,
        now: u64,
    },
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
        use crate::time::utc;
        match self {
            SigstoreError::Signer(e) => write!(f, "{e}"),
            SigstoreError::Tlog { index, error } => write!(f, "transparency-log entry {}: {error}", index + 1),
            SigstoreError::NoLogEntry => f.write_str("a keyless bundle must carry a transparency-log entry, and this one carries none"),
            SigstoreError::NoSigningTime => f.write_str("no verified signing time: a keyless bundle needs a transparency-log entry with a signed entry timestamp, or an RFC 3161 timestamp"),
            SigstoreError::FutureTime { what, time, now } => write!(
                f,
                "{what} says the signature was made at {}, later than the verifier's clock ({}) allows, even with {CLOCK_SKEW} s of skew",
                utc(*time),
                utc(*now)
            ),
            SigstoreError::Timestamp { index, error } => write!(f, "RFC 3161 timestamp {}: {error}", index + 1),
            SigstoreError::DuplicateTimestamp(index) => write!(f, "RFC 3161 timestamp {} repeats an earlier one", index + 1),
            SigstoreError::Fulcio(e) => write!(f, "{e}"),
        }
    }
}

impl std::error::Error for SigstoreError {}

/// What a bundle's log entries and timestamps proved.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Proven {
    /// Verified signing times: SET-backed integrated times and RFC 3161 `genTime`s, in seconds.
    pub times: Vec<u64>,
    /// Log entries verified.
    pub tlog_entries: usize,
}

/// A keyless signer that verified: the key the signature must verify with, the identity that
/// matched, and the evidence.
#[derive(Debug, Clone)]
pub struct KeylessSigner {
    pub key: PublicKey,
    pub identity: String,
    pub proven: Proven,
}

/// The bundle's log entries, each fully checked against `root`: the log's key valid at the
/// integrated time (S2), the body is this bundle's (S3), the SET (S4) and the inclusion proof
/// with its checkpoint (S5). Returns the integrated times a verified SET vouches for.
fn verify_entries(
    bundle: &Bundle,
    root: &TrustedRoot,
    expected: &Expected<'_>,
    stamped: &[u64],
    now: u64,
) -> Result<Vec<u64>, SigstoreError> {
    let v01 = bundle.media_type.ends_with("version=0.1");
    let mut times = Vec::new();
    for (index, entry) in bundle.tlog_entries.iter().enumerate() {
        let err = |error| SigstoreError::Tlog { index, error };
        let kind = entry.entry_kind().map_err(err)?;
        // A Rekor v2 entry has no integrated time: its log key must be valid at the stamped
        // (RFC 3161) times instead.
        let v2 = kind.is_rekor_v2();
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
            not_in_the_future(
                format!("transparency-log entry {}", index + 1),
                entry.integrated_time,
                now,
            )?;
            times.push(entry.integrated_time);
        }
        if let Some(proof) = &entry.inclusion_proof {
            tlog::verify_inclusion(entry, log, proof).map_err(err)?;
        }
    }
    Ok(times)
}

fn not_in_the_future(what: String, time: u64, now: u64) -> Result<(), SigstoreError> {
    if time > now.saturating_add(CLOCK_SKEW) {
        return Err(SigstoreError::FutureTime { what, time, now });
    }
    Ok(())
}

/// S5b. Every RFC 3161 timestamp: over this signature, by a timestamp authority of `root` valid
/// at the stamped time. A repeated timestamp is refused.
fn verify_timestamps(
    bundle: &Bundle,
    root: &TrustedRoot,
    signature: &[u8],
    now: u64,
) -> Result<Vec<u64>, SigstoreError> {
    let mut times = Vec::new();
    for (index, der) in bundle.timestamps.iter().enumerate() {
        if bundle.timestamps[..index].contains(der) {
            return Err(SigstoreError::DuplicateTimestamp(index));
        }
        let t = crate::timestamp::verify(der, signature, root)
            .map_err(|error| SigstoreError::Timestamp { index, error })?;
        not_in_the_future(format!("RFC 3161 timestamp {}", index + 1), t, now)?;
        times.push(t);
    }
    Ok(times)
}

/// S2-S5b beside a key or a private CA's certificate (`signer_der`: the SPKI or the leaf):
/// every log entry and timestamp the bundle carries, verified against `root`, and the signing
/// times they prove. `signature` and `content` are what the bundle signs.
pub fn verify_evidence(
    bundle: &Bundle,
    signer_der: &[u8],
    root: &TrustedRoot,
    now: u64,
    signature: &[u8],
    content: ExpectedContent<'_>,
) -> Result<Proven, SigstoreError> {
    let expected = Expected {
        signature,
        signer_der,
        content,
    };
    let stamped = verify_timestamps(bundle, root, signature, now)?;
    let mut times = verify_entries(bundle, root, &expected, &stamped, now)?;
    times.extend(stamped);
    Ok(Proven {
        times,
        tlog_entries: bundle.tlog_entries.len(),
    })
}

/// Steps S1-S6 for keyless trust: the key the bundle's signature must verify with, when its
/// Fulcio certificate names `identity` and `issuer` and chains, with its log entries and
/// timestamps, to `root`. The identity and issuer are checked first, so a bundle another
/// authority signed costs a certificate parse, not the evidence's cryptography.
pub fn verify_keyless(
    bundle: &Bundle,
    identity: &Matcher,
    issuer: &Matcher,
    root: &TrustedRoot,
    now: u64,
    signature: &[u8],
    content: ExpectedContent<'_>,
) -> Result<KeylessSigner, SigstoreError> {
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
    leaf.check_identity(identity, issuer)
        .map_err(SigstoreError::Fulcio)?;
    // A keyless signature is logged: a timestamp alone does not make it public.
    if bundle.tlog_entries.is_empty() {
        return Err(SigstoreError::NoLogEntry);
    }
    // S2-S5b. Every log entry and timestamp, against the keyless trust's own root.
    let proven = verify_evidence(bundle, leaf_der, root, now, signature, content)?;
    if proven.times.is_empty() {
        return Err(SigstoreError::NoSigningTime);
    }
    // S6. At every verified signing time: the leaf valid, chained to a Fulcio CA valid then;
    // an SCT from a CT log of the root.
    let mut issuer_der = Vec::new();
    for &t in &proven.times {
        issuer_der = leaf.verify_chain(root, t).map_err(SigstoreError::Fulcio)?;
    }
    leaf.verify_scts(&issuer_der, root)
        .map_err(SigstoreError::Fulcio)?;
    let identity = leaf
        .identities
        .iter()
        .find(|i| identity.matches(i))
        .cloned()
        .unwrap_or_default();
    Ok(KeylessSigner {
        key: leaf.key,
        identity,
        proven,
    })
}
