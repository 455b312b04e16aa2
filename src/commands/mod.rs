//! One module per subcommand (`sign.rs`, `verify.rs`, `push.rs`, `pull.rs`, `digest.rs`,
//! `sign_blob.rs`, `verify_blob.rs`, `keygen.rs`, `audit.rs`, `policy.rs`, `trust.rs`): each
//! takes its parsed arguments (locations already typed by clap: a local path or an `s3://` URI),
//! asks the kernel, the engine or fetch, and reports. `model.rs` and `remote.rs` hold the work
//! for local models and models in S3; `blob.rs` for single files.

mod audit;
mod blob;
mod digest;
mod keygen;
mod model;
mod policy;
mod pull;
mod push;
mod remote;
mod sign;
mod sign_blob;
mod trust;
mod verdict;
mod verify;
mod verify_blob;

use std::path::{Path, PathBuf};

use modelseal_kernel::manifest::UnsignedFiles;
use modelseal_kernel::trust::{Policy, TlogPolicy};

use crate::aws::{Aws, Runtime};
use crate::cli::{AwsArgs, CheckArgs, Cli, Command, PolicyCommand, TrustCommand};
use crate::failure::Result;
use crate::keyfile;

/// The AWS context, made only when a key or URI needs it.
fn aws_if(needed: bool, args: &AwsArgs, runtime: Runtime) -> Result<Option<Aws>> {
    if needed {
        Aws::new(args, runtime).map(Some)
    } else {
        Ok(None)
    }
}

/// A KMS key signs by blocking on its runtime's handle, which only worker threads can serve;
/// anything else downloads and hashes, for which one thread costs less CPU.
fn signing_runtime(key: &str) -> Runtime {
    if keyfile::is_kms(key) {
        Runtime::Workers
    } else {
        Runtime::OneThread
    }
}

/// `verify`/`pull`'s flags with the policy built, as the S3 commands take them.
fn remote_check<'a>(args: &'a CheckArgs, policy: &'a Policy) -> remote::Check<'a> {
    remote::Check {
        policy,
        signature: args.signature.as_ref(),
        unsigned: unsigned_files(args.ignore_unsigned_files),
        json: args.json,
    }
}

/// The policy `verify` and `pull` check with: the trust flags or `--policy`, the
/// `--insecure-ignore-tlog` mode, and the `--digest` pin.
fn check_policy(args: &CheckArgs, aws: Option<&crate::aws::Aws>) -> Result<Policy> {
    Ok(keyfile::policy(&args.trust, aws)?
        .with_tlog(tlog_policy(args.insecure_ignore_tlog))
        .with_pin(args.digest.clone()))
}

pub fn run(cli: Cli) -> Result<()> {
    crate::progress::configure(cli.quiet)?;
    match cli.command {
        Command::Completions { shell } => {
            crate::reference::completions(shell.into());
            Ok(())
        }
        Command::Reference { markdown, man } => {
            if let Some(path) = markdown {
                crate::files::write_atomic(
                    &path,
                    crate::reference::markdown().as_bytes(),
                    0o644,
                    true,
                )?;
            }
            if let Some(dir) = man {
                crate::reference::man_pages(&dir)?;
            }
            Ok(())
        }
        Command::GenerateKeyPair(args) => keygen::run_generate(args),
        Command::PublicKey(args) => keygen::run_public_key(args),
        Command::Sign(args) => sign::run(args),
        Command::Verify(args) => verify::run(args),
        Command::Digest(args) => digest::run(args),
        Command::Audit(args) => audit::run_args(args),
        Command::Pull(args) => pull::run(args),
        Command::Push(args) => push::run(args),
        Command::SignBlob(args) => sign_blob::run(args),
        Command::VerifyBlob(args) => verify_blob::run(args),
        Command::Policy {
            which:
                PolicyCommand::Bucket {
                    bucket,
                    sse_kms_key_id,
                    json,
                },
        } => policy::bucket(&bucket, &sse_kms_key_id, json),
        Command::Trust {
            which:
                TrustCommand::Check {
                    file,
                    model,
                    json,
                    aws,
                },
        } => trust::check(&file, model.as_deref(), json, &aws.into()),
        Command::Trust {
            which:
                TrustCommand::Update {
                    mirror,
                    tuf_repo,
                    root,
                    json,
                    network,
                },
        } => trust::update(
            mirror.as_deref(),
            tuf_repo.as_deref(),
            root.as_deref(),
            json,
            &network,
        ),
        Command::Trust {
            which: TrustCommand::Show { json },
        } => trust::show(json),
    }
}

/// cosign's flags: accepted where modelseal does the same, refused where it would not.
fn unsigned_files(ignore_unsigned_files: bool) -> UnsignedFiles {
    if ignore_unsigned_files {
        UnsignedFiles::Tolerate
    } else {
        UnsignedFiles::Refuse
    }
}

fn tlog_policy(insecure_ignore_tlog: bool) -> TlogPolicy {
    if insecure_ignore_tlog {
        TlogPolicy::IgnoreUnverified
    } else {
        TlogPolicy::Verify
    }
}

/// The default signature path: `model.sig` inside a model directory, `FILE.sig` beside a file.
fn default_signature(model: &Path) -> PathBuf {
    if model.is_dir() {
        model.join(remote::SIGNATURE_NAME)
    } else {
        let mut name = model.as_os_str().to_owned();
        name.push(".sig");
        PathBuf::from(name)
    }
}
