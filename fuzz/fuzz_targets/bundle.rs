//! Sigstore bundle JSON (v0.1-v0.3), its DSSE envelope, the in-toto statement inside, and the
//! model check under policies of a fixed key, the test CA (certificate bundles' chains), and
//! any keyless identity: every step must return a value or a typed error.
#![no_main]

use std::sync::Arc;

use libfuzzer_sys::fuzz_target;
use modelseal_kernel::bundle::{Bundle, Content};
use modelseal_kernel::certificate::CertificateTrust;
use modelseal_kernel::fulcio::Matcher;
use modelseal_kernel::oms;
use modelseal_kernel::trust::{Policy, Signer, TlogPolicy};
use modelseal_kernel::trusted_root::{TrustedRoot, PRODUCTION};
use modelseal_kernel::PublicKey;

const KEY: &[u8] = include_bytes!("../../testdata/model-signing/dir-basic/keys/signer.pub.pem");
const ROOT: &[u8] = include_bytes!("../../testdata/model-signing-pki/ca/root.pem");
/// 2027-01-01, inside the test CA's windows.
const AT: u64 = 1_798_761_600;

fuzz_target!(|data: &[u8]| {
    let Ok(bundle) = Bundle::from_json(data) else {
        return;
    };
    let root = Arc::new(TrustedRoot::from_json(PRODUCTION).expect("the carried root parses"));
    let key = PublicKey::from_pem(KEY).expect("the seed key parses");
    let keyed = Policy::one("key", Signer::Key { key, root: root.clone() }, AT)
        .with_tlog(TlogPolicy::IgnoreUnverified);
    let _ = keyed.verify_model(&bundle, "model");
    let ca = CertificateTrust::from_pem(ROOT, None, AT).expect("the test root parses");
    let ca = Policy::one("ca", Signer::Certificates { ca, root: root.clone() }, AT);
    let _ = ca.verify_model(&bundle, "model");
    // Keyless against the production root, any identity: every log entry, timestamp, SCT and
    // chain the input carries is parsed and checked.
    let keyless = Policy::one(
        "keyless",
        Signer::Keyless {
            identity: Matcher::regex(".*").expect("a regexp"),
            issuer: Matcher::regex(".*").expect("a regexp"),
            root,
        },
        AT,
    );
    let _ = keyless.verify_model(&bundle, "model");
    if let Content::Dsse(env) = &bundle.content {
        let _ = oms::parse_statement(&env.payload);
    }
});
