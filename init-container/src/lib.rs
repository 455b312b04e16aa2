//! The parts of modelseal-init that read untrusted input without touching S3: KServe's
//! environment and `STORAGE_CONFIG`, the allow/ignore globs, the single-archive unpacker, and
//! the typed error every phase ends in.
//! A library so the fuzz targets and tests can reach them; the binary is `main.rs`.
#![forbid(unsafe_code)]

pub mod archive;
pub mod config;
pub mod error;
pub mod glob;
