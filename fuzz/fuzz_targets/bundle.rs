//! Sigstore bundle JSON (v0.1-v0.3), its DSSE envelope, the in-toto statement inside, and the
//! envelope check against a fixed key and against the test CA (certificate bundles' chains):
//! every step must return a value or a typed error.
#![no_main]

use libfuzzer_sys::fuzz_target;
use modelseal_kernel::bundle::{Bundle, Content};
use modelseal_kernel::oms::{self, TlogPolicy};
use modelseal_kernel::certificate::CertificateTrust;
use modelseal_kernel::fulcio::Matcher;
use modelseal_kernel::sigstore::KeylessTrust;
use modelseal_kernel::trusted_root::{TrustedRoot, PRODUCTION};
use modelseal_kernel::{PublicKey, Trust};

const KEY: &[u8] = include_bytes!("../../testdata/model-signing/dir-basic/keys/signer.pub.pem");
const ROOT: &[u8] = include_bytes!("../../testdata/model-signing-pki/ca/root.pem");

fuzz_target!(|data: &[u8]| {
    let Ok(bundle) = Bundle::from_json(data) else {
        return;
    };
    let key = Trust::Key(PublicKey::from_pem(KEY).expect("the seed key parses"));
    let _ = oms::verify_envelope(&bundle, &key, TlogPolicy::IgnoreUnverified);
    let ca = CertificateTrust::from_pem(ROOT, None, 1_798_761_600).expect("the test root parses");
    let _ = oms::verify_envelope(&bundle, &Trust::Certificates(ca), TlogPolicy::IgnoreUnverified);
    // Keyless against the production root, any identity: every log entry, timestamp, SCT and
    // chain the input carries is parsed and checked.
    let keyless = Trust::Keyless(Box::new(KeylessTrust {
        identity: Matcher::regex(".*").expect("a regexp"),
        issuer: Matcher::regex(".*").expect("a regexp"),
        root: TrustedRoot::from_json(PRODUCTION).expect("the carried root parses"),
    }));
    let _ = oms::verify_envelope(&bundle, &keyless, TlogPolicy::Refuse);
    if let Content::Dsse(env) = &bundle.content {
        let _ = oms::parse_statement(&env.payload);
    }
});
