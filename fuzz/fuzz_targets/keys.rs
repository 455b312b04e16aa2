//! Public and private keys as PEM (every label we accept) and as SPKI, PKCS#8 and SEC1 DER.
#![no_main]

use libfuzzer_sys::fuzz_target;
use modelseal_kernel::{PrivateKey, PrivateKeyPem, PublicKey};

fuzz_target!(|data: &[u8]| {
    let _ = PublicKey::from_pem(data);
    let _ = PrivateKeyPem::parse(data);
    let _ = PublicKey::from_spki_der(data);
    let _ = PrivateKey::from_pkcs8_der(data);
    let _ = PrivateKey::from_sec1_der(data);
});
