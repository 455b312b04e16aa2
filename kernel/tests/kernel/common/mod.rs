//! What the kernel's integration tests share: the workspace's test data.

use std::path::Path;

/// The bytes of `testdata/REL`.
pub fn testdata(rel: &str) -> Vec<u8> {
    std::fs::read(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../testdata")
            .join(rel),
    )
    .unwrap()
}
