//! The CLI's integration tests, in one binary: each module was a test binary of its own, and
//! each linked the AWS SDK; together they link once and share the test threads (the wait-bound
//! fault, peer and server tests overlap instead of running one binary after another).
//!
//! Run one group with its module name: `cargo test --test cli online::`.

mod common;

mod cli_golden;
mod conformance;
mod faults;
mod interop;
mod json_contract;
mod keys;
mod online;
mod policy;
mod progress;
mod s3;
mod trust;
mod tuf;
mod vectors;
