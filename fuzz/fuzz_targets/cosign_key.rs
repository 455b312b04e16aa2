//! The JSON inside an encrypted `cosign.key` (scrypt parameters, salt, nonce, ciphertext). Only
//! parsed: the parameters are checked before any work, and scrypt itself is slow by design.
#![no_main]

use libfuzzer_sys::fuzz_target;
use modelseal_kernel::cosign_key::EncryptedKey;

fuzz_target!(|data: &[u8]| {
    let _ = EncryptedKey::from_json(data);
});
