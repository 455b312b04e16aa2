//! The trust policy's semantics on bundles made here and by other clients: rules by location,
//! several authorities, time bounds with and without a proven signing time, revocation and the
//! pin; and one regression test per finding of the hostile-input review (each failed on the
//! code before the policy).

use std::sync::Arc;

use crate::common::testdata;
use modelseal_kernel::blob::BlobBundle;
use modelseal_kernel::bundle::{self, Bundle};
use modelseal_kernel::fulcio::Matcher;
use modelseal_kernel::manifest::ResourcePath;
use modelseal_kernel::oms;
use modelseal_kernel::sigstore::SigstoreError;
use modelseal_kernel::trust::{
    Authority, AuthorityError, BlobEvidence, Glob, Policy, Rule, Signer, TrustError, Window,
};
use modelseal_kernel::trusted_root::{TrustedRoot, PRODUCTION};
use modelseal_kernel::{Curve, Digest, HashAlgorithm, PrivateKey, PublicKey, Signer as _};

fn root() -> Arc<TrustedRoot> {
    Arc::new(TrustedRoot::from_json(PRODUCTION).unwrap())
}

fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

fn key_authority(name: &str, key: &PublicKey, window: Window) -> Authority {
    Authority {
        name: name.into(),
        signer: Signer::Key {
            key: key.clone(),
            root: root(),
        },
        window,
    }
}

fn rule(name: &str, globs: &[&str], authorities: Vec<Authority>) -> Rule {
    Rule {
        name: name.into(),
        models: globs.iter().map(|g| Glob::parse(g).unwrap()).collect(),
        authorities,
    }
}

/// A model of two files signed by `key` (OMS key method, no log entry), and its pin digest.
fn signed_model(key: &PrivateKey) -> (Bundle, Digest) {
    let files = vec![
        (
            ResourcePath::parse("a").unwrap(),
            HashAlgorithm::Sha256.digest(b"a"),
        ),
        (
            ResourcePath::parse("b").unwrap(),
            HashAlgorithm::Sha256.digest(b"b"),
        ),
    ];
    let payload = oms::statement_payload("m", &files, &[]).unwrap();
    let json = oms::sign_statement(key, &payload).unwrap();
    (
        Bundle::from_json(json.as_bytes()).unwrap(),
        oms::pinned_digest_of(&files),
    )
}

fn t(text: &str) -> u64 {
    modelseal_kernel::time::parse_rfc3339(text).unwrap()
}

/// The authority failures of a refusal, by name.
fn failures(e: TrustError) -> Vec<(String, AuthorityError)> {
    match e {
        TrustError::Refused { failures, .. } => failures,
        other => panic!("not a refusal by authorities: {other}"),
    }
}

#[test]
fn rotation_two_keys_and_a_time_bound() {
    let old = PrivateKey::generate(Curve::P256, &mut rand_core::OsRng);
    let new = PrivateKey::generate(Curve::P384, &mut rand_core::OsRng);
    let (by_old, _) = signed_model(&old);
    let (by_new, _) = signed_model(&new);
    let unbounded = Policy::new(
        vec![rule(
            "all",
            &["**"],
            vec![
                key_authority("new", new.public_key(), Window::default()),
                key_authority("old", old.public_key(), Window::default()),
            ],
        )],
        Vec::new(),
        now(),
    );
    assert_eq!(
        unbounded
            .verify_model(&by_new, "s3://m/x")
            .unwrap()
            .accepted
            .authority,
        "new"
    );
    let v = unbounded.verify_model(&by_old, "s3://m/x").unwrap();
    assert_eq!(
        (v.accepted.rule.as_str(), v.accepted.authority.as_str()),
        ("all", "old")
    );
    // The old key bounded: its model carries no proven time, so it no longer verifies, and the
    // refusal names each authority's reason.
    let bounded = Policy::new(
        vec![rule(
            "all",
            &["**"],
            vec![
                key_authority("new", new.public_key(), Window::default()),
                key_authority(
                    "old",
                    old.public_key(),
                    Window {
                        after: None,
                        before: Some(t("2026-07-01T00:00:00Z")),
                    },
                ),
            ],
        )],
        Vec::new(),
        now(),
    );
    let f = failures(bounded.verify_model(&by_old, "s3://m/x").unwrap_err());
    assert_eq!(f.len(), 2);
    assert!(matches!(f[0].1, AuthorityError::Signer(_)), "{:?}", f[0]);
    assert_eq!(f[1], ("old".to_string(), AuthorityError::NoProvenTime));
    let e = bounded
        .verify_model(&by_old, "s3://m/x")
        .unwrap_err()
        .to_string();
    assert!(
        e.starts_with("no authority of rule 'all' accepts the signature: new: "),
        "{e}"
    );
    assert!(
        e.contains("old: the authority accepts signatures made in a time window only"),
        "{e}"
    );
}

#[test]
fn rules_first_match_and_no_rule() {
    let a = PrivateKey::generate(Curve::P256, &mut rand_core::OsRng);
    let b = PrivateKey::generate(Curve::P256, &mut rand_core::OsRng);
    let (by_a, _) = signed_model(&a);
    let policy = Policy::new(
        vec![
            rule(
                "team-a",
                &["s3://models/team-a/**"],
                vec![key_authority("a", a.public_key(), Window::default())],
            ),
            rule(
                "team-b",
                &["s3://models/team-b/**", "/srv/b/*"],
                vec![key_authority("b", b.public_key(), Window::default())],
            ),
        ],
        Vec::new(),
        now(),
    );
    assert_eq!(
        policy
            .verify_model(&by_a, "s3://models/team-a")
            .unwrap()
            .accepted
            .rule,
        "team-a"
    );
    assert_eq!(
        policy
            .verify_model(&by_a, "s3://models/team-a/llm/v1")
            .unwrap()
            .accepted
            .rule,
        "team-a"
    );
    // Team b's rule governs its prefix: team a's key does not sign there.
    let f = failures(
        policy
            .verify_model(&by_a, "s3://models/team-b/llm")
            .unwrap_err(),
    );
    assert_eq!(f[0].0, "b");
    assert!(policy.verify_model(&by_a, "/srv/b/model").is_err());
    match policy.verify_model(&by_a, "s3://models/team-c/llm") {
        Err(TrustError::NoRule { location }) => assert_eq!(location, "s3://models/team-c/llm"),
        other => panic!("{other:?}"),
    }
    assert!(
        policy.verify_model(&by_a, "/srv/b/deeper/model").is_err(),
        "* stays in a segment"
    );
}

#[test]
fn revocation_and_pin_are_decided_from_the_manifest() {
    let key = PrivateKey::generate(Curve::P256, &mut rand_core::OsRng);
    let (bundle, pin) = signed_model(&key);
    let authority = || vec![key_authority("k", key.public_key(), Window::default())];
    let revoking = Policy::new(
        vec![rule("all", &["**"], authority())],
        vec![pin.clone()],
        now(),
    );
    match revoking.verify_model(&bundle, "/m") {
        Err(TrustError::Revoked { digest }) => assert_eq!(digest, pin),
        other => panic!("{other:?}"),
    }
    let other = HashAlgorithm::Sha256.digest(b"another model");
    let fine = Policy::new(
        vec![rule("all", &["**"], authority())],
        vec![other.clone()],
        now(),
    );
    fine.verify_model(&bundle, "/m").unwrap();
    let pinned = fine.clone().with_pin(Some(other));
    assert!(matches!(
        pinned.verify_model(&bundle, "/m"),
        Err(TrustError::PinMismatch { .. })
    ));
    fine.with_pin(Some(pin))
        .verify_model(&bundle, "/m")
        .unwrap();
}

/// The OMS spec's keyless bundle proves its signing time twice (a SET and an RFC 3161
/// timestamp, both in October 2025): a window holding both accepts it, one that misses either
/// does not.
#[test]
fn keyless_authorities_bounded_in_time() {
    let b = Bundle::from_json(&testdata("oms-spec/v1.0/valid/sigstore.bundle.json")).unwrap();
    let keyless = |window| {
        Policy::new(
            vec![rule(
                "all",
                &["**"],
                vec![Authority {
                    name: "ci".into(),
                    signer: Signer::Keyless {
                        identity: Matcher::Exact("stefanb@us.ibm.com".into()),
                        issuer: Matcher::Exact("https://sigstore.verify.ibm.com/oauth2".into()),
                        root: root(),
                    },
                    window,
                }],
            )],
            Vec::new(),
            now(),
        )
    };
    let w = |after: &str, before: &str| Window {
        after: (!after.is_empty()).then(|| t(after)),
        before: (!before.is_empty()).then(|| t(before)),
    };
    keyless(w("2025-01-01T00:00:00Z", "2026-01-01T00:00:00Z"))
        .verify_model(&b, "m")
        .unwrap();
    keyless(w("", "2026-01-01T00:00:00Z"))
        .verify_model(&b, "m")
        .unwrap();
    for window in [w("", "2025-01-01T00:00:00Z"), w("2026-01-01T00:00:00Z", "")] {
        let f = failures(keyless(window).verify_model(&b, "m").unwrap_err());
        assert!(
            matches!(f[0].1, AuthorityError::OutsideWindow { .. }),
            "{f:?}"
        );
    }
}

/// A key whose blob signature was logged in Rekor (sigstore-conformance's managed-key case):
/// the SET proves the signing time, so the key can be bounded in time.
#[test]
fn key_authorities_bounded_in_time_by_a_log_entry() {
    let dir = "sigstore-conformance/managed-key-happy-path";
    let bundle = BlobBundle::from_json(&testdata(&format!("{dir}/bundle.sigstore.json"))).unwrap();
    let key = PublicKey::from_pem(&testdata(&format!("{dir}/key.pub"))).unwrap();
    let artifact = testdata("sigstore-conformance/a.txt");
    let policy = |window| {
        Policy::new(
            vec![rule("all", &["**"], vec![key_authority("k", &key, window)])],
            Vec::new(),
            now(),
        )
    };
    let digests: Vec<Digest> = policy(Window::default())
        .blob_digests(Some(&bundle), "a.txt")
        .into_iter()
        .map(|a| a.digest(&artifact))
        .collect();
    let evidence = BlobEvidence::Bundle(&bundle);
    policy(Window::default())
        .verify_blob(&evidence, "a.txt", &digests)
        .unwrap();
    let before_2020 = Window {
        after: None,
        before: Some(t("2020-01-01T00:00:00Z")),
    };
    let f = failures(
        policy(before_2020)
            .verify_blob(&evidence, "a.txt", &digests)
            .unwrap_err(),
    );
    assert!(
        matches!(f[0].1, AuthorityError::OutsideWindow { .. }),
        "{f:?}"
    );
    let since_2020 = Window {
        after: Some(t("2020-01-01T00:00:00Z")),
        before: None,
    };
    policy(since_2020)
        .verify_blob(&evidence, "a.txt", &digests)
        .unwrap();
}

// ---- Findings of the hostile-input review ----

/// Finding 5: a signing time later than the verifier's clock (plus 5 minutes) is refused: here
/// the clock is set a year before the bundle was signed.
#[test]
fn finding_a_signing_time_in_the_future_is_refused() {
    let b = Bundle::from_json(&testdata("oms-spec/v1.0/valid/sigstore.bundle.json")).unwrap();
    let policy = Policy::one(
        "ci",
        Signer::Keyless {
            identity: Matcher::Exact("stefanb@us.ibm.com".into()),
            issuer: Matcher::Exact("https://sigstore.verify.ibm.com/oauth2".into()),
            root: root(),
        },
        t("2024-10-01T00:00:00Z"),
    );
    let f = failures(policy.verify_model(&b, "m").unwrap_err());
    assert!(
        matches!(
            f[0].1,
            AuthorityError::Sigstore(SigstoreError::FutureTime { .. })
        ),
        "{f:?}"
    );
}

/// A message-signature bundle over `digest` by `key`, as cosign writes them.
fn message_bundle(key: &PrivateKey, digest: &Digest, declared: &Digest) -> BlobBundle {
    let signature = key.sign_prehash(digest.as_bytes()).unwrap();
    let json = bundle::message_signature_bundle_json(
        &key.public_key().cosign_hint(),
        declared,
        &signature,
    )
    .unwrap();
    BlobBundle::from_json(json.as_bytes()).unwrap()
}

/// Finding 6: the signature covers the digest the bundle declares. A P-384 key that signed a
/// SHA-256 digest (sigstore-python 1.x wrote such bundles) verifies; a P-256 signature over
/// SHA-256 whose declared digest was swapped for the file's SHA-384 does not.
#[test]
fn finding_a_message_signature_covers_the_declared_digest() {
    let file = b"the artifact";
    let all: Vec<Digest> = [
        HashAlgorithm::Sha256,
        HashAlgorithm::Sha384,
        HashAlgorithm::Sha512,
    ]
    .iter()
    .map(|a| a.digest(file))
    .collect();
    let p384 = PrivateKey::generate(Curve::P384, &mut rand_core::OsRng);
    let sha256 = HashAlgorithm::Sha256.digest(file);
    let b = message_bundle(&p384, &sha256, &sha256);
    let policy = Policy::one(
        "k",
        Signer::Key {
            key: p384.public_key().clone(),
            root: root(),
        },
        now(),
    );
    policy
        .verify_blob(&BlobEvidence::Bundle(&b), "f", &all)
        .unwrap();
    let p256 = PrivateKey::generate(Curve::P256, &mut rand_core::OsRng);
    let swapped = message_bundle(&p256, &sha256, &HashAlgorithm::Sha384.digest(file));
    let policy = Policy::one(
        "k",
        Signer::Key {
            key: p256.public_key().clone(),
            root: root(),
        },
        now(),
    );
    assert!(policy
        .verify_blob(&BlobEvidence::Bundle(&swapped), "f", &all)
        .is_err());
    let honest = message_bundle(&p256, &sha256, &sha256);
    policy
        .verify_blob(&BlobEvidence::Bundle(&honest), "f", &all)
        .unwrap();
}

/// Finding 2: a keyless bundle with a timestamp and no log entry (kernel/tests/kernel/keyless.rs
/// covers the model); here through the policy's blob path as well.
#[test]
fn finding_a_keyless_signature_needs_a_log_entry() {
    let mut b = Bundle::from_json(&testdata("oms-spec/v1.0/valid/sigstore.bundle.json")).unwrap();
    b.tlog_entries.clear();
    let policy = Policy::one(
        "ci",
        Signer::Keyless {
            identity: Matcher::regex(".*").unwrap(),
            issuer: Matcher::regex(".*").unwrap(),
            root: root(),
        },
        now(),
    );
    let f = failures(policy.verify_model(&b, "m").unwrap_err());
    assert_eq!(f[0].1, AuthorityError::Sigstore(SigstoreError::NoLogEntry));
}
