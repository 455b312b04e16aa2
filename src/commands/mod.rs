//! One function per subcommand. Each reads what it needs, asks the kernel, and reports.

mod blob;
mod keygen;
mod model;

use std::path::{Path, PathBuf};

use modelseal_kernel::oms::TlogPolicy;

use crate::cli::{Cli, Command};
use crate::failure::Result;

pub fn run(cli: Cli) -> Result<()> {
    match cli.command {
        Command::GenerateKeyPair {
            output_key_prefix,
            force,
        } => keygen::generate_key_pair(&output_key_prefix, force),
        Command::Sign {
            model,
            key,
            signature,
            hashing,
        } => model::sign(&model, &key, signature.as_deref(), hashing.threads()),
        Command::Verify {
            model,
            key,
            signature,
            insecure_ignore_tlog,
            hashing,
        } => model::verify(
            &model,
            &key,
            signature.as_deref(),
            tlog_policy(insecure_ignore_tlog),
            hashing.threads(),
        ),
        Command::SignBlob {
            file,
            key,
            output_signature,
            bundle,
        } => blob::sign_blob(&file, &key, output_signature.as_deref(), bundle.as_deref()),
        Command::VerifyBlob {
            file,
            key,
            signature,
            bundle,
            insecure_ignore_tlog,
        } => blob::verify_blob(
            &file,
            &key,
            signature.as_deref(),
            bundle.as_deref(),
            tlog_policy(insecure_ignore_tlog),
        ),
    }
}

fn tlog_policy(insecure_ignore_tlog: bool) -> TlogPolicy {
    if insecure_ignore_tlog {
        TlogPolicy::IgnoreUnverified
    } else {
        TlogPolicy::Refuse
    }
}

/// The default signature path: `model.sig` inside a model directory, `FILE.sig` beside a file.
fn default_signature(model: &Path) -> PathBuf {
    if model.is_dir() {
        model.join("model.sig")
    } else {
        let mut name = model.as_os_str().to_owned();
        name.push(".sig");
        PathBuf::from(name)
    }
}

const TLOG_WARNING: &str =
    "warning: transparency-log entries and timestamps in the bundle were NOT verified (--insecure-ignore-tlog); only the signature and digests were checked";
