//! cosign `sign-blob` outputs: the base64 raw signature and the legacy and Sigstore bundles,
//! and verify-blob's whole check of a parsed bundle: with a key (log entries against the
//! production root) and keyless (any identity), over a fixed artifact's digests.
#![no_main]

use libfuzzer_sys::fuzz_target;
use modelseal_kernel::blob::{decode_signature, digests_needed, verify_bundle, BlobBundle};
use modelseal_kernel::fulcio::Matcher;
use modelseal_kernel::oms::TlogPolicy;
use modelseal_kernel::sigstore::KeylessTrust;
use modelseal_kernel::trusted_root::{TrustedRoot, PRODUCTION};
use modelseal_kernel::{PublicKey, Trust};

const KEY: &[u8] = include_bytes!("../../testdata/cosign-generated/sigstore-rs.pub");
const ARTIFACT: &[u8] = include_bytes!("../../testdata/sigstore-conformance/a.txt");

fuzz_target!(|data: &[u8]| {
    let _ = decode_signature(data);
    let Ok(bundle) = BlobBundle::from_json(data) else {
        return;
    };
    let root = TrustedRoot::from_json(PRODUCTION).expect("the carried root parses");
    let key = Trust::Key(PublicKey::from_pem(KEY).expect("the seed key parses"));
    let keyless = Trust::Keyless(Box::new(KeylessTrust {
        identity: Matcher::regex(".*").expect("a regexp"),
        issuer: Matcher::regex(".*").expect("a regexp"),
        root: root.clone(),
    }));
    for trust in [&key, &keyless] {
        let digests: Vec<_> = digests_needed(Some(&bundle), trust)
            .into_iter()
            .map(|alg| alg.digest(ARTIFACT))
            .collect();
        let _ = verify_bundle(&bundle, trust, Some(&root), &digests, TlogPolicy::Refuse);
    }
});
