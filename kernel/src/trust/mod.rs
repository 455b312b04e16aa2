//! The trust policy: which signers a verifier accepts, for which models, when, and which
//! models it refuses whoever signed them. One type, [`Policy`], decides every verdict; the
//! shells build it (from a policy document, or from their shorthand flags and environment
//! through [`document::Shorthand`]) and hand it down.
//!
//! A policy is a list of rules. The first rule whose model globs match the model's location
//! governs it; a rule is satisfied when any one of its authorities (a key, a private CA, or a
//! Sigstore keyless identity, optionally bounded in time) verifies the signature with every
//! check. A model whose pin digest is revoked is refused whoever signed it; a pin given beside
//! the policy must equal it. The numbered steps are in `docs/verification.md` ("Trust policy").

pub mod document;
pub mod glob;

use std::fmt;
use std::sync::Arc;

use crate::blob::{self, BlobBundle, BlobError};
use crate::bundle::{Bundle, Content, KeyMaterial, SignerError};
use crate::certificate::CertificateTrust;
use crate::digest::{Digest, HashAlgorithm};
use crate::fulcio::Matcher;
use crate::keys::PublicKey;
use crate::manifest::{PinnedKind, SignedManifest};
use crate::oms::{self, EnvelopeError};
use crate::sigstore::{self, Proven, SigstoreError};
use crate::tlog::ExpectedContent;
use crate::trusted_root::TrustedRoot;

pub use glob::Glob;

/// What to do with transparency-log entries and timestamps beside a key or a private CA.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum TlogPolicy {
    /// Verify every one against the authority's trusted root, or refuse the bundle.
    #[default]
    Verify,
    /// Check the signature and digests only, as cosign's `--insecure-ignore-tlog` does; the
    /// verdict says the evidence was not verified. Never applies to keyless authorities.
    IgnoreUnverified,
}

/// Who an authority is.
#[derive(Clone, Debug)]
pub enum Signer {
    /// A public key (PEM, or a KMS key's public half). Log entries and timestamps beside it are
    /// verified against `root`.
    Key {
        key: PublicKey,
        root: Arc<TrustedRoot>,
    },
    /// A private CA: the bundle carries a certificate chain to one of its anchors.
    Certificates {
        ca: CertificateTrust,
        root: Arc<TrustedRoot>,
    },
    /// Sigstore keyless: a Fulcio certificate for this identity and issuer, logged in a
    /// transparency log of `root`.
    Keyless {
        identity: Matcher,
        issuer: Matcher,
        root: Arc<TrustedRoot>,
    },
}

/// When an authority's signatures count: `after` <= t < `before` for every proven signing time
/// t. Unbounded on both sides, no proven time is needed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Window {
    pub after: Option<u64>,
    pub before: Option<u64>,
}

impl Window {
    pub fn is_bounded(&self) -> bool {
        self.after.is_some() || self.before.is_some()
    }

    fn contains(&self, t: u64) -> bool {
        self.after.is_none_or(|a| a <= t) && self.before.is_none_or(|b| t < b)
    }
}

/// One signer a rule accepts.
#[derive(Clone, Debug)]
pub struct Authority {
    pub name: String,
    pub signer: Signer,
    pub window: Window,
}

/// Which models a set of authorities governs.
#[derive(Clone, Debug)]
pub struct Rule {
    pub name: String,
    pub models: Vec<Glob>,
    pub authorities: Vec<Authority>,
}

/// The one trust policy every verdict is decided by.
#[derive(Clone, Debug)]
pub struct Policy {
    rules: Vec<Rule>,
    /// Pin digests refused whoever signed them (`sha256:...`, as `modelseal digest` prints).
    revoked: Vec<Digest>,
    /// A pin the model must also equal (`--digest`, `VERIFICATION_DIGEST`).
    pin: Option<Digest>,
    tlog: TlogPolicy,
    /// The verifier's clock, seconds since the Unix epoch: chains are judged at it unless a
    /// time-bounded authority judges them at the proven signing time, and no signing time may
    /// be later than it (plus [`sigstore::CLOCK_SKEW`]).
    now: u64,
}

/// Why a bundle's signer is not the one an authority names (the artifact's fault: exit 1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuthorityError {
    Signer(SignerError),
    Sigstore(SigstoreError),
    /// A time-bounded authority, and the bundle proves no signing time.
    NoProvenTime,
    /// A proven signing time outside the authority's window.
    OutsideWindow {
        time: u64,
        window: Window,
    },
    /// Log entries or timestamps a bare signature cannot carry, or a legacy cosign bundle's
    /// Rekor bundle, which is not verified: refused unless ignored on request.
    UnverifiableTransparency,
    Envelope(EnvelopeError),
    Blob(BlobError),
}

impl fmt::Display for AuthorityError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use crate::time::utc;
        match self {
            AuthorityError::Signer(e) => write!(f, "{e}"),
            AuthorityError::Sigstore(e) => write!(f, "{e}"),
            AuthorityError::NoProvenTime => f.write_str(
                "the authority accepts signatures made in a time window only, and the bundle proves no signing time (a verified transparency-log entry or RFC 3161 timestamp)",
            ),
            AuthorityError::OutsideWindow { time, window } => {
                write!(f, "the signature was made at {}, outside the authority's window (", utc(*time))?;
                match (window.after, window.before) {
                    (Some(a), Some(b)) => write!(f, "signedAfter {}, signedBefore {})", utc(a), utc(b)),
                    (Some(a), None) => write!(f, "signedAfter {})", utc(a)),
                    (None, Some(b)) => write!(f, "signedBefore {})", utc(b)),
                    (None, None) => f.write_str("unbounded)"),
                }
            }
            AuthorityError::UnverifiableTransparency => f.write_str(
                "the bundle carries transparency evidence modelseal cannot verify (a legacy cosign Rekor bundle)",
            ),
            AuthorityError::Envelope(e) => write!(f, "{e}"),
            AuthorityError::Blob(e) => write!(f, "{e}"),
        }
    }
}

/// Why a policy refuses a model or a file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TrustError {
    /// No rule's globs match the location.
    NoRule {
        location: String,
    },
    /// The bundle is not a bundle of this kind at all (before any authority is asked).
    Envelope(EnvelopeError),
    Blob(BlobError),
    /// No authority of the governing rule accepts the signature: each one's reason, in order.
    Refused {
        rule: String,
        failures: Vec<(String, AuthorityError)>,
    },
    /// The model's pin digest is revoked.
    Revoked {
        digest: Digest,
    },
    /// The model verifies but is not the pinned one.
    PinMismatch {
        pinned: Digest,
        found: Digest,
        kind: PinnedKind,
    },
}

impl TrustError {
    /// The first authority's reason, when the rule refused (for hints).
    pub fn first_failure(&self) -> Option<&AuthorityError> {
        match self {
            TrustError::Refused { failures, .. } => failures.first().map(|(_, e)| e),
            _ => None,
        }
    }
}

impl fmt::Display for TrustError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TrustError::NoRule { location } => {
                write!(f, "no rule of the policy covers {location}")
            }
            TrustError::Envelope(e) => write!(f, "{e}"),
            TrustError::Blob(e) => write!(f, "{e}"),
            TrustError::Refused { failures, .. } if failures.len() == 1 => {
                write!(f, "{}", failures[0].1)
            }
            TrustError::Refused { rule, failures } => {
                write!(f, "no authority of rule '{rule}' accepts the signature: ")?;
                for (i, (name, e)) in failures.iter().enumerate() {
                    if i > 0 {
                        f.write_str("; ")?;
                    }
                    write!(f, "{name}: {e}")?;
                }
                Ok(())
            }
            TrustError::Revoked { digest } => write!(
                f,
                "sha256:{} is revoked by the trust policy, whoever signed it",
                digest.to_hex()
            ),
            TrustError::PinMismatch {
                pinned,
                found,
                kind,
            } => write!(
                f,
                "the pinned digest sha256:{} is not {} (sha256:{})",
                pinned.to_hex(),
                kind.describe(),
                found.to_hex()
            ),
        }
    }
}

impl std::error::Error for TrustError {}

/// Who a policy accepted, and what the evidence showed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Accepted {
    pub rule: String,
    pub authority: String,
    /// The keyless identity that matched.
    pub identity: Option<String>,
    /// Log entries verified (0 when none, or when ignored on request).
    pub tlog_entries: usize,
    /// Evidence was present and, by request ([`TlogPolicy::IgnoreUnverified`]), not verified.
    pub ignored_transparency: bool,
}

/// A model signature the policy accepts, and the manifest it covers.
#[derive(Debug, Clone)]
pub struct ModelVerdict {
    pub manifest: SignedManifest,
    pub accepted: Accepted,
}

/// A blob's evidence: a bare signature (DER, or raw RSA bytes), or a bundle.
pub enum BlobEvidence<'a> {
    Raw(&'a [u8]),
    Bundle(&'a BlobBundle),
}

/// What an authority established about a bundle's signer.
struct Signed {
    key: PublicKey,
    identity: Option<String>,
    proven: Proven,
    ignored: bool,
}

impl Authority {
    /// The key this authority says the bundle's signature must verify with, and what its
    /// evidence proves (steps S1-S6, then the window). `hint` is how the bundle kind names a
    /// key (OMS: [`PublicKey::oms_hint`]); `None` when the hint is advisory (cosign).
    fn signer(
        &self,
        bundle: &Bundle,
        hint: Option<fn(&PublicKey) -> String>,
        signature: &[u8],
        content: ExpectedContent<'_>,
        tlog: TlogPolicy,
        now: u64,
    ) -> Result<Signed, AuthorityError> {
        let has_evidence = !bundle.transparency().is_empty();
        let ignore = has_evidence && tlog == TlogPolicy::IgnoreUnverified;
        let signed = match &self.signer {
            Signer::Key { key, root } => {
                let bundle_hint = match &bundle.key_material {
                    KeyMaterial::PublicKey { hint } => hint,
                    KeyMaterial::Certificates(_) => {
                        return Err(AuthorityError::Signer(SignerError::CertificateForKey))
                    }
                };
                if let (Some(hint), Some(bundle_hint)) = (hint, bundle_hint) {
                    let key_hint = hint(key);
                    if *bundle_hint != key_hint {
                        return Err(AuthorityError::Signer(SignerError::KeyMismatch {
                            bundle_hint: bundle_hint.clone(),
                            key_hint,
                        }));
                    }
                }
                let proven = if has_evidence && !ignore {
                    sigstore::verify_evidence(bundle, key.spki_der(), root, now, signature, content)
                        .map_err(AuthorityError::Sigstore)?
                } else {
                    Proven::default()
                };
                Signed {
                    key: key.clone(),
                    identity: None,
                    proven,
                    ignored: ignore,
                }
            }
            Signer::Certificates { ca, root } => {
                let KeyMaterial::Certificates(chain) = &bundle.key_material else {
                    return Err(AuthorityError::Signer(SignerError::KeyForCertificate));
                };
                let leaf = chain.first().map(Vec::as_slice).unwrap_or_default();
                let proven = if has_evidence && !ignore {
                    sigstore::verify_evidence(bundle, leaf, root, now, signature, content)
                        .map_err(AuthorityError::Sigstore)?
                } else {
                    Proven::default()
                };
                // A time-bounded CA vouches for what was signed in its window: the chain is
                // judged at each proven signing time. Otherwise at the verifier's clock.
                let chain_error = |e| AuthorityError::Signer(SignerError::Chain(e));
                let leaf = if self.window.is_bounded() && !proven.times.is_empty() {
                    let mut leaf = None;
                    for &t in &proven.times {
                        leaf = Some(ca.verify_chain_at(chain, t).map_err(chain_error)?);
                    }
                    leaf.ok_or(AuthorityError::NoProvenTime)?
                } else {
                    ca.verify_chain(chain).map_err(chain_error)?
                };
                Signed {
                    key: leaf.key,
                    identity: None,
                    proven,
                    ignored: ignore,
                }
            }
            Signer::Keyless {
                identity,
                issuer,
                root,
            } => {
                let s = sigstore::verify_keyless(
                    bundle, identity, issuer, root, now, signature, content,
                )
                .map_err(AuthorityError::Sigstore)?;
                Signed {
                    key: s.key,
                    identity: Some(s.identity),
                    proven: s.proven,
                    ignored: false,
                }
            }
        };
        self.check_window(&signed.proven.times)?;
        Ok(signed)
    }

    /// Every proven signing time lies in the window; a bounded window needs at least one.
    fn check_window(&self, times: &[u64]) -> Result<(), AuthorityError> {
        if !self.window.is_bounded() {
            return Ok(());
        }
        if times.is_empty() {
            return Err(AuthorityError::NoProvenTime);
        }
        match times.iter().find(|&&t| !self.window.contains(t)) {
            Some(&time) => Err(AuthorityError::OutsideWindow {
                time,
                window: self.window,
            }),
            None => Ok(()),
        }
    }

    fn accepted(&self, rule: &Rule, signed: &Signed, tlog_entries: usize) -> Accepted {
        Accepted {
            rule: rule.name.clone(),
            authority: self.name.clone(),
            identity: signed.identity.clone(),
            tlog_entries: if signed.ignored { 0 } else { tlog_entries },
            ignored_transparency: signed.ignored,
        }
    }
}

impl Policy {
    /// A policy of checked rules (see [`document`], which builds them). `now` is the
    /// verifier's clock.
    pub fn new(rules: Vec<Rule>, revoked: Vec<Digest>, now: u64) -> Self {
        Policy {
            rules,
            revoked,
            pin: None,
            tlog: TlogPolicy::Verify,
            now,
        }
    }

    /// One authority over every model, the rule and the authority both called `name` (the
    /// shape the shorthand flags make; also what tests and fuzz targets build).
    pub fn one(name: &str, signer: Signer, now: u64) -> Self {
        Policy::new(
            vec![Rule {
                name: name.to_string(),
                models: Glob::parse("**").into_iter().collect(),
                authorities: vec![Authority {
                    name: name.to_string(),
                    signer,
                    window: Window::default(),
                }],
            }],
            Vec::new(),
            now,
        )
    }

    /// Only a pin for a single-file model (KServe's `VERIFICATION_DIGEST` alone): no signature
    /// is read; the file must hash to it.
    pub fn pin_only(pin: Digest, now: u64) -> Self {
        Policy {
            pin: Some(pin),
            ..Policy::new(Vec::new(), Vec::new(), now)
        }
    }

    /// Adds a pin (`--digest`, `VERIFICATION_DIGEST`) the model must also equal.
    pub fn with_pin(mut self, pin: Option<Digest>) -> Self {
        self.pin = pin;
        self
    }

    pub fn with_tlog(mut self, tlog: TlogPolicy) -> Self {
        self.tlog = tlog;
        self
    }

    pub fn pin(&self) -> Option<&Digest> {
        self.pin.as_ref()
    }

    /// True when the policy names no signer: only its pin is checked.
    pub fn is_pin_only(&self) -> bool {
        self.rules.is_empty()
    }

    pub fn rules(&self) -> &[Rule] {
        &self.rules
    }

    pub fn revoked(&self) -> &[Digest] {
        &self.revoked
    }

    pub fn now(&self) -> u64 {
        self.now
    }

    /// The rule that governs `location`: the first whose globs match it.
    pub fn rule_for(&self, location: &str) -> Result<&Rule, TrustError> {
        self.rules
            .iter()
            .find(|r| r.models.iter().any(|g| g.matches(location)))
            .ok_or_else(|| TrustError::NoRule {
                location: location.to_string(),
            })
    }

    /// A model's signature (steps 1-8 under the policy): the rule for `location`, one of its
    /// authorities verifying the bundle, then revocation and the pin, both decided from the
    /// signed manifest before any model byte is read.
    pub fn verify_model(
        &self,
        bundle: &Bundle,
        location: &str,
    ) -> Result<ModelVerdict, TrustError> {
        let rule = self.rule_for(location)?;
        let envelope = oms::envelope(bundle).map_err(TrustError::Envelope)?;
        let mut failures = Vec::new();
        for authority in &rule.authorities {
            let attempt = authority
                .signer(
                    bundle,
                    Some(PublicKey::oms_hint),
                    &envelope.signature,
                    ExpectedContent::Dsse {
                        payload_type: &envelope.payload_type,
                        payload: &envelope.payload,
                    },
                    self.tlog,
                    self.now,
                )
                .and_then(|signed| {
                    let legacy_pae_hash = match (&authority.signer, &bundle.key_material) {
                        (Signer::Keyless { .. }, _) => None,
                        (_, KeyMaterial::Certificates(_)) => Some(HashAlgorithm::Sha256),
                        (_, KeyMaterial::PublicKey { .. }) => Some(signed.key.hash()),
                    };
                    oms::verify_statement(envelope, &signed.key, legacy_pae_hash)
                        .map(|manifest| (signed, manifest))
                        .map_err(AuthorityError::Envelope)
                });
            match attempt {
                Ok((signed, manifest)) => {
                    let accepted = authority.accepted(rule, &signed, bundle.tlog_entries.len());
                    self.check_pinned(&manifest)?;
                    return Ok(ModelVerdict { manifest, accepted });
                }
                Err(e) => failures.push((authority.name.clone(), e)),
            }
        }
        Err(TrustError::Refused {
            rule: rule.name.clone(),
            failures,
        })
    }

    /// Revocation, then the pin: what `modelseal digest` prints for this model must be neither
    /// revoked nor other than the pin.
    pub fn check_pinned(&self, manifest: &SignedManifest) -> Result<(), TrustError> {
        let (digest, kind) = manifest.pinned_digest();
        self.check_digest(digest, kind)
    }

    /// [`Self::check_pinned`] for a digest already known (a single file, a blob).
    pub fn check_digest(&self, digest: &Digest, kind: PinnedKind) -> Result<(), TrustError> {
        if self.revoked.contains(digest) {
            return Err(TrustError::Revoked {
                digest: digest.clone(),
            });
        }
        match &self.pin {
            Some(pin) if pin != digest => Err(TrustError::PinMismatch {
                pinned: pin.clone(),
                found: digest.clone(),
                kind,
            }),
            _ => Ok(()),
        }
    }

    /// The file digests verifying `evidence` for `location` may compare, so the shell reads the
    /// file once for all of them (see [`blob::digests_needed`]).
    pub fn blob_digests(&self, bundle: Option<&BlobBundle>, location: &str) -> Vec<HashAlgorithm> {
        let keys: Vec<&PublicKey> = self
            .rule_for(location)
            .map(|r| {
                r.authorities
                    .iter()
                    .filter_map(|a| match &a.signer {
                        Signer::Key { key, .. } => Some(key),
                        _ => None,
                    })
                    .collect()
            })
            .unwrap_or_default();
        blob::digests_needed(bundle, &keys)
    }

    /// A file's signature (cosign `verify-blob`), against the file's `digests` (as the shell
    /// computed them: [`Self::blob_digests`]). The file's SHA-256 is its pin: a revoked one is
    /// refused.
    pub fn verify_blob(
        &self,
        evidence: &BlobEvidence<'_>,
        location: &str,
        digests: &[Digest],
    ) -> Result<Accepted, TrustError> {
        let rule = self.rule_for(location)?;
        // What no authority changes: a message signature's declared digest is the file's (as
        // sigstore-go checks), a DSSE envelope carries an in-toto statement.
        if let BlobEvidence::Bundle(BlobBundle::Sigstore(b)) = evidence {
            match &b.content {
                Content::MessageSignature { digest, .. } => {
                    blob::check_declared_digest(digest.as_ref(), digests)
                        .map_err(TrustError::Blob)?
                }
                Content::Dsse(envelope) => {
                    if envelope.payload_type != crate::dsse::IN_TOTO_PAYLOAD_TYPE {
                        return Err(TrustError::Blob(BlobError::PayloadType(
                            envelope.payload_type.clone(),
                        )));
                    }
                }
            }
        }
        let mut failures = Vec::new();
        for authority in &rule.authorities {
            match self.blob_authority(authority, evidence, digests) {
                Ok(signed) => {
                    let entries = match evidence {
                        BlobEvidence::Bundle(BlobBundle::Sigstore(b)) => b.tlog_entries.len(),
                        _ => 0,
                    };
                    let accepted = authority.accepted(rule, &signed, entries);
                    if let Ok(sha256) = blob::digest_under(digests, HashAlgorithm::Sha256) {
                        self.check_digest(sha256, PinnedKind::File)?;
                    }
                    return Ok(accepted);
                }
                Err(e) => failures.push((authority.name.clone(), e)),
            }
        }
        Err(TrustError::Refused {
            rule: rule.name.clone(),
            failures,
        })
    }

    fn blob_authority(
        &self,
        authority: &Authority,
        evidence: &BlobEvidence<'_>,
        digests: &[Digest],
    ) -> Result<Signed, AuthorityError> {
        let bare_key = |e: AuthorityError| -> Result<&PublicKey, AuthorityError> {
            match &authority.signer {
                Signer::Key { key, .. } => {
                    // No bundle: no evidence, so no proven time.
                    authority.check_window(&[])?;
                    Ok(key)
                }
                _ => Err(e),
            }
        };
        match evidence {
            BlobEvidence::Raw(der) => {
                let key = bare_key(AuthorityError::Signer(SignerError::KeyForCertificate))?;
                blob::check_raw(key, der, digests).map_err(AuthorityError::Blob)?;
                Ok(Signed {
                    key: key.clone(),
                    identity: None,
                    proven: Proven::default(),
                    ignored: false,
                })
            }
            BlobEvidence::Bundle(BlobBundle::Legacy {
                signature,
                key_pem,
                has_rekor,
            }) => {
                let key = bare_key(AuthorityError::Signer(SignerError::KeyForCertificate))?;
                if *has_rekor && self.tlog == TlogPolicy::Verify {
                    return Err(AuthorityError::UnverifiableTransparency);
                }
                blob::check_legacy(key, key_pem.as_deref(), signature, digests)
                    .map_err(AuthorityError::Blob)?;
                Ok(Signed {
                    key: key.clone(),
                    identity: None,
                    proven: Proven::default(),
                    ignored: *has_rekor,
                })
            }
            BlobEvidence::Bundle(BlobBundle::Sigstore(b)) => match &b.content {
                Content::MessageSignature {
                    digest: declared,
                    signature,
                } => {
                    let signed = authority.signer(
                        b,
                        None,
                        signature,
                        ExpectedContent::Artifact(digests),
                        self.tlog,
                        self.now,
                    )?;
                    blob::check_message_signature(
                        &signed.key,
                        declared.as_ref(),
                        signature,
                        digests,
                    )
                    .map_err(|e| {
                        match (&b.key_material, &authority.signer) {
                            // cosign ignores the hint when given a key; we use it only to explain
                            // a failure.
                            (KeyMaterial::PublicKey { hint: Some(h) }, Signer::Key { key, .. })
                                if *h != key.cosign_hint() =>
                            {
                                AuthorityError::Blob(BlobError::KeyMismatch)
                            }
                            _ => AuthorityError::Blob(e),
                        }
                    })?;
                    Ok(signed)
                }
                Content::Dsse(envelope) => {
                    let signed = authority.signer(
                        b,
                        None,
                        &envelope.signature,
                        ExpectedContent::Dsse {
                            payload_type: &envelope.payload_type,
                            payload: &envelope.payload,
                        },
                        self.tlog,
                        self.now,
                    )?;
                    blob::check_dsse(envelope, &signed.key, digests)
                        .map_err(AuthorityError::Blob)?;
                    Ok(signed)
                }
            },
        }
    }
}
