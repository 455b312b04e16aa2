//! Keyless OMS verification on the OMS v1.0 spec's Sigstore-signed bundle (a real Fulcio
//! certificate, a Rekor v1 dsse entry with an inclusion proof, and an RFC 3161 timestamp from
//! the production TSA), against the production trusted root modelseal carries.

use crate::common::testdata;
use std::sync::Arc;

use modelseal_kernel::bundle::Bundle;
use modelseal_kernel::fulcio::Matcher;
use modelseal_kernel::manifest::SignedManifest;
use modelseal_kernel::sigstore::SigstoreError;
use modelseal_kernel::trust::{AuthorityError, Policy, Signer, TrustError};
use modelseal_kernel::trusted_root::{self, TrustedRoot};

fn bundle() -> Bundle {
    Bundle::from_json(&testdata("oms-spec/v1.0/valid/sigstore.bundle.json")).unwrap()
}

fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

fn keyless_with(identity: Matcher, issuer: Matcher, root: TrustedRoot) -> Policy {
    let signer = Signer::Keyless {
        identity,
        issuer,
        root: Arc::new(root),
    };
    Policy::one("keyless", signer, now())
}

fn keyless(identity: Matcher, issuer: Matcher) -> Policy {
    keyless_with(
        identity,
        issuer,
        TrustedRoot::from_json(trusted_root::PRODUCTION).unwrap(),
    )
}

fn verify(b: &Bundle, policy: &Policy) -> Result<SignedManifest, TrustError> {
    policy.verify_model(b, "model").map(|v| v.manifest)
}

/// The Sigstore step a one-authority policy refused at.
fn sigstore_error(r: Result<SignedManifest, TrustError>) -> SigstoreError {
    match r.map_err(|e| e.first_failure().cloned()) {
        Err(Some(AuthorityError::Sigstore(e))) => e,
        other => panic!("not a Sigstore refusal: {other:?}"),
    }
}

const ID: &str = "stefanb@us.ibm.com";
const ISSUER: &str = "https://sigstore.verify.ibm.com/oauth2";

/// OMS 4.1: the sigstore method requires a transparency-log entry. The spec's own invalid
/// vector (its valid keyless bundle without `tlogEntries`) is refused for that reason, and so is
/// the valid one with its entries removed but its RFC 3161 timestamp kept.
#[test]
fn keyless_bundles_without_a_log_entry_are_refused() {
    let trust = keyless(Matcher::Exact(ID.into()), Matcher::Exact(ISSUER.into()));
    let spec_invalid = Bundle::from_json(&testdata(
        "oms-spec/v1.0/invalid/missing-tlog-entries.bundle.json",
    ))
    .unwrap();
    let mut timestamp_only = bundle();
    timestamp_only.tlog_entries.clear();
    for b in [spec_invalid, timestamp_only] {
        assert_eq!(
            sigstore_error(verify(&b, &trust)),
            SigstoreError::NoLogEntry
        );
    }
}

#[test]
fn the_spec_bundle_verifies_for_its_signer_only() {
    let b = bundle();
    let m = verify(
        &b,
        &keyless(Matcher::Exact(ID.into()), Matcher::Exact(ISSUER.into())),
    )
    .unwrap();
    assert!(m.items().count() > 0);
    let regexp = keyless(
        Matcher::regex(r"[a-z]+@us\.ibm\.com").unwrap(),
        Matcher::regex(r"https://sigstore\.verify\.ibm\.com/.*").unwrap(),
    );
    verify(&b, &regexp).unwrap();
    // Another identity, another issuer, an unanchored-only match: refused, naming the step.
    for (id, iss) in [
        (
            Matcher::Exact("someone@us.ibm.com".into()),
            Matcher::Exact(ISSUER.into()),
        ),
        (
            Matcher::Exact(ID.into()),
            Matcher::Exact("https://accounts.google.com".into()),
        ),
        (
            Matcher::regex("us.ibm.com").unwrap(),
            Matcher::Exact(ISSUER.into()),
        ),
    ] {
        match sigstore_error(verify(&b, &keyless(id, iss))) {
            SigstoreError::Fulcio(e) => assert!(e.to_string().contains("does not match"), "{e}"),
            other => panic!("{other:?}"),
        }
    }
}

#[test]
fn tampered_evidence_is_refused() {
    let trust = keyless(Matcher::Exact(ID.into()), Matcher::Exact(ISSUER.into()));
    // The logged body of another content.
    let mut b = bundle();
    let body = &mut b.tlog_entries[0].body;
    let at = body.len() / 2;
    body[at] ^= 1;
    assert!(matches!(
        sigstore_error(verify(&b, &trust)),
        SigstoreError::Tlog { .. }
    ));
    // The timestamp repeated, or corrupted.
    let mut b = bundle();
    b.timestamps.push(b.timestamps[0].clone());
    assert_eq!(
        sigstore_error(verify(&b, &trust)),
        SigstoreError::DuplicateTimestamp(1)
    );
    let mut b = bundle();
    let n = b.timestamps[0].len();
    b.timestamps[0][n - 3] ^= 1;
    assert!(matches!(
        sigstore_error(verify(&b, &trust)),
        SigstoreError::Timestamp { .. }
    ));
    // No timestamp and no SET: no signing time.
    let mut b = bundle();
    b.timestamps.clear();
    verify(&b, &trust).unwrap(); // the SET still dates it
    b.tlog_entries[0].inclusion_promise = None;
    assert_eq!(
        sigstore_error(verify(&b, &trust)),
        SigstoreError::NoSigningTime
    );
    // A root without the production Rekor log: the entry cannot be checked.
    let mut root = TrustedRoot::from_json(trusted_root::PRODUCTION).unwrap();
    root.tlogs.clear();
    let trust = keyless_with(
        Matcher::Exact(ID.into()),
        Matcher::Exact(ISSUER.into()),
        root,
    );
    assert!(matches!(
        sigstore_error(verify(&bundle(), &trust)),
        SigstoreError::Tlog { .. }
    ));
}
