//! Resource paths: the names in a signed manifest and the S3 keys a listing returns, checked
//! before any of them becomes a path on disk.
#![no_main]

use libfuzzer_sys::fuzz_target;
use modelseal_kernel::manifest::ResourcePath;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let (a, b) = text.split_once('\n').unwrap_or((text, ""));
    if let Ok(p) = ResourcePath::parse(a) {
        // Whatever parses is relative, normalised and free of `.`, `..` and empty components;
        // the one exception is the whole name `.`, a single-file model's resource.
        assert!(!p.as_str().starts_with('/'));
        if p.as_str() == ResourcePath::SINGLE_FILE {
            assert_eq!(a, ResourcePath::SINGLE_FILE);
        } else {
            assert!(p.components().all(|c| !c.is_empty() && c != "." && c != ".."));
        }
        if let Ok(q) = ResourcePath::parse(b) {
            let _ = p.is_within(&q);
        }
    }
});
