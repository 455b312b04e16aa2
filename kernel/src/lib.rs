//! modelseal's verification kernel: signature formats, digests, keys, manifests and verdicts.
//!
//! The kernel does no I/O. It never opens a file, reads the environment, touches the network
//! or writes anything; callers hand it bytes (or feed its hashers) and get typed results back.
//! Everything a security reviewer needs to read to trust a verdict lives here.
#![forbid(unsafe_code)]
#![cfg_attr(
    not(test),
    deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)
)]

pub mod blob;
pub mod bundle;
pub mod certificate;
pub mod cosign_key;
pub mod digest;
pub mod dsse;
pub mod fulcio;
pub mod keys;
pub mod manifest;
pub mod oms;
mod pem;
pub mod private_pem;
pub mod services;
pub mod sigstore;
pub mod time;
pub mod timestamp;
pub mod tlog;
pub mod trust;
pub mod trusted_root;
pub mod tuf;

pub use digest::{Digest, HashAlgorithm, Hasher};
pub use keys::{Curve, KeyError, PrivateKey, PublicKey, SignError, Signer};
pub use private_pem::PrivateKeyPem;
pub use trust::Policy;
