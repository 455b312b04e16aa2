//! cosign `sign-blob` outputs: the base64 raw signature and the legacy and Sigstore bundles.
#![no_main]

use libfuzzer_sys::fuzz_target;
use modelseal_kernel::blob::{decode_signature, BlobBundle};

fuzz_target!(|data: &[u8]| {
    let _ = decode_signature(data);
    let _ = BlobBundle::from_json(data);
});
