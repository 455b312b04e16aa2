//! modelseal-init's integration tests, in one binary (the end-to-end KServe contract and the
//! fault matrix): one link of the AWS SDK, and the wait-bound fault tests overlap with the rest.
//! Run one group with its module name: `cargo test -p modelseal-init --test init faults::`.

mod common;

mod e2e;
mod faults;
