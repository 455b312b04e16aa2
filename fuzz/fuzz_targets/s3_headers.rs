//! The header values and URIs the S3 engine reads itself: Content-Range, Retry-After, `s3://`
//! URIs and moto's versioning document (the SDK parses listings; their keys go through
//! `manifest_path`).
#![no_main]

use libfuzzer_sys::fuzz_target;
use modelseal_s3::parse::{content_range_total, retry_after, versioning_status};
use modelseal_s3::S3Uri;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let _ = content_range_total(text);
    let _ = retry_after(text);
    let _ = versioning_status(text);
    if let Ok(uri) = S3Uri::parse(text) {
        let _ = uri.dir_prefix();
    }
});
