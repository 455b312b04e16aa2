//! A bucket policy read from S3 by `modelseal audit`, judged by the IAM condition evaluator.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = modelseal_audit::policy_findings(
            "b",
            Some(text),
            Some("arn:aws:kms:us-east-1:1:key/k"),
        );
    }
});
