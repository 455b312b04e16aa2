//! The kernel's integration tests, in one binary: certificates, keyless bundles, trust
//! policies, hostile-input robustness, and the conformance cases and OMS vectors other
//! implementations made, all through the kernel's API (no CLI, no AWS SDK).
//! Run one group with its module name: `cargo test -p modelseal-kernel --test kernel vectors::`.

mod common;

mod certificates;
mod conformance;
mod keyless;
mod policy;
mod robustness;
mod vectors;
