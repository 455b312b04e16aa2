//! cosign `sign-blob` outputs: the base64 raw signature and the legacy and Sigstore bundles,
//! and verify-blob's whole check of a parsed bundle under a policy of two authorities: a key
//! (log entries against the production root) and keyless (any identity), over a fixed
//! artifact's digests.
#![no_main]

use std::sync::Arc;

use libfuzzer_sys::fuzz_target;
use modelseal_kernel::blob::{decode_signature, BlobBundle};
use modelseal_kernel::fulcio::Matcher;
use modelseal_kernel::trust::{Authority, BlobEvidence, Glob, Policy, Rule, Signer, Window};
use modelseal_kernel::trusted_root::{TrustedRoot, PRODUCTION};
use modelseal_kernel::PublicKey;

const KEY: &[u8] = include_bytes!("../../testdata/cosign-generated/sigstore-rs.pub");
const ARTIFACT: &[u8] = include_bytes!("../../testdata/sigstore-conformance/a.txt");
/// 2026-01-01: a fixed clock, so runs repeat.
const NOW: u64 = 1_767_225_600;

fuzz_target!(|data: &[u8]| {
    let _ = decode_signature(data);
    let Ok(bundle) = BlobBundle::from_json(data) else {
        return;
    };
    let root = Arc::new(TrustedRoot::from_json(PRODUCTION).expect("the carried root parses"));
    let key = PublicKey::from_pem(KEY).expect("the seed key parses");
    let authority = |name: &str, signer| Authority {
        name: name.into(),
        signer,
        window: Window::default(),
    };
    let policy = Policy::new(
        vec![Rule {
            name: "all".into(),
            models: vec![Glob::parse("**").expect("a glob")],
            authorities: vec![
                authority("key", Signer::Key { key, root: root.clone() }),
                authority(
                    "keyless",
                    Signer::Keyless {
                        identity: Matcher::regex(".*").expect("a regexp"),
                        issuer: Matcher::regex(".*").expect("a regexp"),
                        root,
                    },
                ),
            ],
        }],
        Vec::new(),
        NOW,
    );
    let digests: Vec<_> = policy
        .blob_digests(Some(&bundle), "a.txt")
        .into_iter()
        .map(|alg| alg.digest(ARTIFACT))
        .collect();
    let _ = policy.verify_blob(&BlobEvidence::Bundle(&bundle), "a.txt", &digests);
});
