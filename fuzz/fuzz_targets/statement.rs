//! The in-toto statement of an OMS signature (the DSSE payload): JSON, subjects, the manifest's
//! resource paths and digests, and the root digest check.
#![no_main]

use libfuzzer_sys::fuzz_target;
use modelseal_kernel::oms;

fuzz_target!(|data: &[u8]| {
    if let Ok(manifest) = oms::parse_statement(data) {
        // A parsed manifest answers its queries without panicking.
        let _ = manifest.pinned_digest();
        for (key, _) in manifest.items() {
            let _ = key.path().components().count();
        }
    }
});
