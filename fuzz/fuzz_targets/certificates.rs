//! X.509: a certificate file of PEM blocks (trusted roots, `--certificate`), and DER
//! certificates in a bundle's chain, checked against the test CA at a fixed time; every call
//! must return a value or a typed error.
#![no_main]

use libfuzzer_sys::fuzz_target;
use modelseal_kernel::certificate::{self, CertificateTrust};

const ROOT: &[u8] = include_bytes!("../../testdata/model-signing-pki/ca/root.pem");
const ISSUING: &[u8] = include_bytes!("../../testdata/model-signing-pki/ca/intermediate.pem");
/// 2027-01-01, inside the test CA's windows.
const AT: u64 = 1_798_761_600;

fuzz_target!(|data: &[u8]| {
    let _ = CertificateTrust::from_pem(data, None, AT);
    let _ = certificate::certificates_from_pem(data);
    let _ = certificate::certified_key(data);
    let trust = CertificateTrust::from_pem(ROOT, Some("pipeline@models.example".into()), AT)
        .expect("the test root parses");
    let issuing = certificate::certificates_from_pem(ISSUING).expect("the issuing CA parses");
    // The input as a leaf alone, and as a leaf under the real issuing CA; and as an
    // intermediate between a fixed leaf-shaped input and the root.
    let _ = trust.verify_chain(&[data.to_vec()]);
    let _ = trust.verify_chain(&[data.to_vec(), issuing[0].clone()]);
    let _ = trust.verify_chain(&[issuing[0].clone(), data.to_vec()]);
});
