//! The parts of modelseal-init that read untrusted input without touching S3: KServe's
//! environment and `STORAGE_CONFIG`, the allow/ignore globs, and the single-archive unpacker.
//! A library so the fuzz targets and tests can reach them; the binary is `main.rs`.
#![forbid(unsafe_code)]

pub mod archive;
pub mod config;
pub mod glob;
