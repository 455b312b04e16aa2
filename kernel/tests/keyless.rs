//! Keyless OMS verification on the OMS v1.0 spec's Sigstore-signed bundle (a real Fulcio
//! certificate, a Rekor v1 dsse entry with an inclusion proof, and an RFC 3161 timestamp from
//! the production TSA), against the production trusted root modelseal carries.

mod common;

use common::testdata;
use modelseal_kernel::bundle::Bundle;
use modelseal_kernel::fulcio::Matcher;
use modelseal_kernel::oms::{self, EnvelopeError, TlogPolicy};
use modelseal_kernel::sigstore::{KeylessTrust, SigstoreError};
use modelseal_kernel::trusted_root::{self, TrustedRoot};
use modelseal_kernel::Trust;

fn bundle() -> Bundle {
    Bundle::from_json(&testdata("oms-spec/v1.0/valid/sigstore.bundle.json")).unwrap()
}

fn keyless(identity: Matcher, issuer: Matcher) -> Trust {
    Trust::Keyless(Box::new(KeylessTrust {
        identity,
        issuer,
        root: TrustedRoot::from_json(trusted_root::PRODUCTION).unwrap(),
    }))
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
        assert!(matches!(
            oms::verify_envelope(&b, &trust, TlogPolicy::Refuse),
            Err(EnvelopeError::Sigstore(SigstoreError::NoLogEntry))
        ));
    }
}

#[test]
fn the_spec_bundle_verifies_for_its_signer_only() {
    let b = bundle();
    let m = oms::verify_envelope(
        &b,
        &keyless(Matcher::Exact(ID.into()), Matcher::Exact(ISSUER.into())),
        TlogPolicy::Refuse,
    )
    .unwrap();
    assert!(m.items().count() > 0);
    let regexp = keyless(
        Matcher::regex(r"[a-z]+@us\.ibm\.com").unwrap(),
        Matcher::regex(r"https://sigstore\.verify\.ibm\.com/.*").unwrap(),
    );
    oms::verify_envelope(&b, &regexp, TlogPolicy::Refuse).unwrap();
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
        match oms::verify_envelope(&b, &keyless(id, iss), TlogPolicy::Refuse) {
            Err(EnvelopeError::Sigstore(SigstoreError::Fulcio(e))) => {
                assert!(e.to_string().contains("does not match"), "{e}")
            }
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
        oms::verify_envelope(&b, &trust, TlogPolicy::Refuse),
        Err(EnvelopeError::Sigstore(SigstoreError::Tlog { .. }))
    ));
    // The timestamp repeated, or corrupted.
    let mut b = bundle();
    b.timestamps.push(b.timestamps[0].clone());
    assert!(matches!(
        oms::verify_envelope(&b, &trust, TlogPolicy::Refuse),
        Err(EnvelopeError::Sigstore(SigstoreError::DuplicateTimestamp(
            1
        )))
    ));
    let mut b = bundle();
    let n = b.timestamps[0].len();
    b.timestamps[0][n - 3] ^= 1;
    assert!(matches!(
        oms::verify_envelope(&b, &trust, TlogPolicy::Refuse),
        Err(EnvelopeError::Sigstore(SigstoreError::Timestamp { .. }))
    ));
    // No timestamp and no SET: no signing time.
    let mut b = bundle();
    b.timestamps.clear();
    oms::verify_envelope(&b, &trust, TlogPolicy::Refuse).unwrap(); // the SET still dates it
    b.tlog_entries[0].inclusion_promise = None;
    let r = oms::verify_envelope(&b, &trust, TlogPolicy::Refuse);
    assert!(
        matches!(
            r,
            Err(EnvelopeError::Sigstore(SigstoreError::NoSigningTime))
        ),
        "{r:?}"
    );
    // A root without the production Rekor log: the entry cannot be checked.
    let mut root = TrustedRoot::from_json(trusted_root::PRODUCTION).unwrap();
    root.tlogs.clear();
    let trust = Trust::Keyless(Box::new(KeylessTrust {
        identity: Matcher::Exact(ID.into()),
        issuer: Matcher::Exact(ISSUER.into()),
        root,
    }));
    assert!(matches!(
        oms::verify_envelope(&bundle(), &trust, TlogPolicy::Refuse),
        Err(EnvelopeError::Sigstore(SigstoreError::Tlog { .. }))
    ));
}
