//! Sigstore evidence parsers: trusted roots (JSON), checkpoints (signed notes), RFC 3339 times,
//! RFC 3161 timestamps (DER, checked against the production root), Fulcio leaves (DER, chain,
//! SCTs); every call must return a value or a typed error.
#![no_main]

use libfuzzer_sys::fuzz_target;
use modelseal_kernel::fulcio::Leaf;
use modelseal_kernel::tlog::Checkpoint;
use modelseal_kernel::trusted_root::{TrustedRoot, PRODUCTION};
use modelseal_kernel::{time, timestamp};

fuzz_target!(|data: &[u8]| {
    let _ = TrustedRoot::from_json(data);
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = Checkpoint::parse(text);
        let _ = time::parse_rfc3339(text);
    }
    let root = TrustedRoot::from_json(PRODUCTION).expect("the carried root parses");
    let _ = timestamp::verify(data, b"a signature", &root);
    if let Ok(leaf) = Leaf::parse(data) {
        if let Ok(issuer) = leaf.verify_chain(&root, leaf.not_before) {
            let _ = leaf.verify_scts(&issuer, &root);
        }
        let _ = leaf.verify_scts(data, &root);
    }
});
