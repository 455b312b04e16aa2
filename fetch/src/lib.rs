//! The one verification pipeline for models, shared by the CLI and `modelseal-init`: locate the
//! model, check its signature (before any model byte moves, for S3), stream every signed item
//! through the kernel's hashers (and, for `pull` and the init container, into a staging
//! directory), take the kernel's verdict, and only then place the files.
//!
//! This crate joins the kernel (what to trust) and the S3 engine (how bytes move); it decides
//! nothing itself and prints nothing. One module per step: `locate`, `check` (signature, then
//! listing), `hash` (stream through the kernel's hashers, into staging) and `place`, the only
//! module that writes under DEST. `disk` takes a model on disk through the same steps
//! (`disk::open` locates, `disk::verify` checks, hashes and asks the kernel).

// The one exception is `staged::set_direct` (two fcntl calls).
#![deny(unsafe_code)]

mod check;
pub mod disk;
mod error;
pub mod evidence;
mod hash;
mod locate;
mod place;
pub mod progress;
mod staged;
pub mod trust;

pub use check::{check_listing, check_signature, Listed};
pub use error::FetchError;
pub use hash::{fetch, hash_for_signing, Fetched};
pub use locate::{locate, located_dir, read_local_signature, Located, SignatureSource};
pub use place::{
    clear_dest, dest_entries, place, place_entries, prepare_staging, remove_staging, unpack_dir,
    Placed,
};

/// Where a directory model's signature lives, under its prefix.
pub const SIGNATURE_NAME: &str = "model.sig";
/// The hidden directory inside DEST where files wait until the model verified. A model may not
/// hold a file or directory of this name at its top level.
pub const STAGING_NAME: &str = ".modelseal-staging";

/// Resolves when the process is asked to stop (SIGTERM, as Kubernetes sends, or SIGINT), with
/// the signal's name. Once this is being awaited, those signals no longer kill the process: the
/// caller stops its work, removes its staging directory and exits.
pub async fn stop_requested() -> &'static str {
    use tokio::signal::unix::{signal, SignalKind};
    match (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
    ) {
        (Ok(mut term), Ok(mut int)) => tokio::select! {
            _ = term.recv() => "SIGTERM",
            _ = int.recv() => "SIGINT",
        },
        // Without handlers the default action (exit) still applies; never resolve.
        _ => std::future::pending().await,
    }
}
