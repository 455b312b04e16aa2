//! One function per subcommand. Each reads what it needs, asks the kernel, and reports.

mod audit;
mod blob;
mod keygen;
mod model;
mod policy;
mod remote;
mod trust;
mod verdict;

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

fn is_s3(s: &str) -> bool {
    s.starts_with("s3://")
}

/// Refuses `S3://b/k`, `s3:/b/k`, `s3//b/k` and the like before they are taken for local
/// paths, unless a local file of that name exists.
fn check_locations(command: &Command) -> Result<()> {
    let paths = |ps: &[Option<&Path>]| -> Vec<String> {
        ps.iter()
            .flatten()
            .map(|p| p.to_string_lossy().into_owned())
            .collect()
    };
    let given: Vec<String> = match command {
        Command::Push {
            model,
            uri,
            signature,
            ..
        } => {
            let mut v = paths(&[Some(model), signature.as_deref()]);
            v.push(uri.clone());
            v
        }
        Command::Pull {
            uri, dest, check, ..
        } => {
            let mut v = paths(&[Some(dest)]);
            v.extend(
                [Some(uri), check.signature.as_ref()]
                    .into_iter()
                    .flatten()
                    .cloned(),
            );
            v
        }
        Command::Sign {
            model, signature, ..
        } => paths(&[Some(model), signature.as_deref()]),
        Command::Verify { model, check, .. } => [Some(model), check.signature.as_ref()]
            .into_iter()
            .flatten()
            .cloned()
            .collect(),
        Command::SignBlob {
            file,
            output_signature,
            bundle,
            ..
        } => paths(&[Some(file), output_signature.as_deref(), bundle.as_deref()]),
        Command::VerifyBlob {
            file,
            signature,
            bundle,
            ..
        } => {
            let mut v = paths(&[Some(file), bundle.as_deref()]);
            v.extend(signature.iter().cloned());
            v
        }
        Command::PublicKey { outfile, .. } => paths(&[outfile.as_deref()]),
        Command::Digest { model, .. } => paths(&[Some(model)]),
        Command::Audit { uri, .. } => vec![uri.clone()],
        Command::GenerateKeyPair { .. }
        | Command::Policy { .. }
        | Command::Completions { .. }
        | Command::Reference { .. } => Vec::new(),
        Command::Trust {
            which: TrustCommand::Check { model, .. },
        } => model.iter().cloned().collect(),
        Command::Trust { .. } => Vec::new(),
    };
    match given
        .iter()
        .find(|s| modelseal_s3::is_malformed_s3(s) && !Path::new(s).exists())
    {
        Some(s) => Err(crate::failure::Failure::cannot_check(
            format!("'{s}' is a malformed S3 URI"),
            "write s3://BUCKET/KEY (lowercase s3, a colon and two slashes)",
        )),
        None => Ok(()),
    }
}

/// `verify`/`pull`'s flags with the policy built, as the S3 commands take them.
fn remote_check<'a>(args: &'a CheckArgs, policy: &'a Policy) -> remote::Check<'a> {
    remote::Check {
        policy,
        signature: args.signature.as_deref(),
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
    check_locations(&cli.command)?;
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
        Command::GenerateKeyPair {
            output_key_prefix,
            force,
            kms,
            json,
            aws,
        } => {
            let aws = aws_if(kms.is_some(), &aws.into(), Runtime::OneThread)?;
            keygen::generate_key_pair(
                &output_key_prefix,
                force,
                kms.as_deref(),
                aws.as_ref(),
                json,
            )
        }
        Command::PublicKey {
            key,
            outfile,
            json,
            aws,
        } => {
            let aws = aws_if(keyfile::is_kms(&key), &aws.into(), Runtime::OneThread)?;
            keygen::public_key(&key, outfile.as_deref(), aws.as_ref(), json)
        }
        Command::Sign {
            model,
            key,
            signature,
            ignore_paths,
            sse_kms_key_id,
            sse,
            force,
            certificate,
            json,
            cosign,
            sigstore,
            hashing,
            aws: aws_args,
        } => {
            let remote = model.to_str().is_some_and(is_s3);
            // --force means "replace the signature": a local sign always does (as model_signing
            // and cosign do), so there it is accepted and changes nothing.
            let s3_only = sse_kms_key_id.is_some() || sse.is_some();
            if !remote && s3_only {
                return Err(crate::failure::Failure::cannot_check(
                    "--sse-kms-key-id and --sse apply to s3:// models only",
                    "drop them for a local model",
                ));
            }
            if remote && (signature.is_some() || !ignore_paths.is_empty()) {
                return Err(crate::failure::Failure::cannot_check(
                    "--signature and --ignore-paths apply to local models only",
                    "sign s3:// writes PREFIX/model.sig (or KEY.sig); drop them",
                ));
            }
            if remote && sse_kms_key_id.is_none() && sse.is_none() {
                return Err(crate::failure::Failure::cannot_check(
                    "sign s3:// needs the signature's encryption: --sse-kms-key-id KEY or --sse aws:kms",
                    "pass the KMS key the model's objects are encrypted with",
                ));
            }
            let key_name = key.as_deref().unwrap_or_default();
            let aws = aws_if(
                remote || keyfile::is_kms(key_name),
                &aws_args,
                signing_runtime(key_name),
            )?;
            let signer = keyfile::signer_for(key.as_deref(), &certificate, aws.as_ref())?;
            let signer = crate::signing::Signing::new(signer, &sigstore, cosign, &aws_args)?;
            if let (true, Some(aws)) = (remote, &aws) {
                let sse = remote::PushSse {
                    kms_key_id: sse_kms_key_id,
                };
                let threads = hashing.threads.map(usize::from);
                return remote::sign(
                    &model.to_string_lossy(),
                    &signer,
                    sse,
                    force,
                    json,
                    aws,
                    threads,
                );
            }
            model::sign(
                &model,
                &signer,
                signature.as_deref(),
                &ignore_paths,
                hashing.threads(),
                json,
            )
        }
        Command::Verify {
            model,
            ignore_paths,
            check,
            hashing,
            aws,
        } => {
            let signature = check.signature.as_deref();
            let remote = is_s3(&model) || signature.is_some_and(is_s3);
            if is_s3(&model) && !ignore_paths.is_empty() {
                return Err(crate::failure::Failure::cannot_check(
                    "--ignore-paths applies to local models only",
                    "for a model in S3, --ignore-unsigned-files leaves objects the signature does not cover alone",
                ));
            }
            let aws = aws_if(remote || check.trust.is_kms(), &aws, Runtime::OneThread)?;
            let policy = check_policy(&check, aws.as_ref())?;
            match (is_s3(&model), &aws) {
                (true, Some(aws)) => {
                    let objects = hashing.threads.map(usize::from);
                    remote::verify(&model, remote_check(&check, &policy), aws, objects)
                }
                _ => {
                    if signature.is_some_and(is_s3) {
                        return Err(crate::failure::Failure::cannot_check(
                            "a local model's signature must be a local file",
                            "download the signature, or verify the model in S3 with an s3:// model URI",
                        ));
                    }
                    let sig = signature.map(PathBuf::from);
                    let local = model::LocalCheck {
                        signature: sig.as_deref(),
                        ignore: &ignore_paths,
                        unsigned: unsigned_files(check.ignore_unsigned_files),
                        threads: hashing.threads(),
                        json: check.json,
                    };
                    model::verify(Path::new(&model), &policy, local)
                }
            }
        }
        Command::Digest {
            model,
            ignore_paths,
            json,
            hashing,
        } => model::digest(&model, &ignore_paths, hashing.threads(), json),
        Command::Audit {
            uri,
            trust,
            sse_kms_key_id,
            shallow,
            insecure_ignore_tlog,
            json,
            aws,
        } => {
            let aws = Aws::new(&aws, Runtime::Workers)?;
            let policy =
                keyfile::policy(&trust, Some(&aws))?.with_tlog(tlog_policy(insecure_ignore_tlog));
            let args = audit::Args {
                uri: &uri,
                policy: &policy,
                kms_key: sse_kms_key_id.as_deref(),
                shallow,
                json,
            };
            audit::run(args, &aws)
        }
        Command::Pull {
            uri,
            dest,
            force,
            check,
            aws,
        } => {
            let aws = Aws::new(&aws, Runtime::OneThread)?;
            let policy = check_policy(&check, Some(&aws))?;
            let check = remote_check(&check, &policy);
            remote::pull(&uri, &dest, force, check, &aws)
        }
        Command::Push {
            model,
            uri,
            key,
            signature,
            certificate,
            sse_kms_key_id,
            sse: _,
            json,
            cosign,
            sigstore,
            aws: aws_args,
            hashing,
        } => {
            let aws = Aws::new(&aws_args, Runtime::Workers)?;
            let sse = remote::PushSse {
                kms_key_id: sse_kms_key_id,
            };
            remote::push(
                &model,
                &uri,
                key.as_deref(),
                signature.as_deref(),
                &certificate,
                (&sigstore, cosign, &aws_args),
                sse,
                json,
                &aws,
                hashing.threads(),
            )
        }
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
        Command::SignBlob {
            file,
            key,
            output_signature,
            bundle,
            new_bundle_format,
            json,
            cosign,
            sigstore,
            aws: aws_args,
        } => {
            let aws_args = AwsArgs::from(aws_args);
            if new_bundle_format == Some(false) {
                return Err(crate::failure::Failure::cannot_check(
                    "--new-bundle-format=false: modelseal writes only the Sigstore bundle format",
                    "drop the flag; verify-blob still reads cosign's legacy bundles",
                ));
            }
            let key_name = key.as_deref().unwrap_or_default();
            let aws = aws_if(
                keyfile::is_kms(key_name),
                &aws_args,
                signing_runtime(key_name),
            )?;
            let signer = match &key {
                Some(k) => Some(keyfile::signer(k, aws.as_ref())?),
                None => {
                    if output_signature.is_some() && bundle.is_none() {
                        return Err(crate::failure::Failure::cannot_check(
                            "--output-signature alone with keyless signing: a keyless signature is checked through its certificate and log entry, which only a bundle carries",
                            "add --bundle FILE (or drop --output-signature: the bundle then goes to FILE.sigstore.json)",
                        ));
                    }
                    None
                }
            };
            let signer = crate::signing::Signing::new(signer, &sigstore, cosign, &aws_args)?;
            // Keyless: the bundle is the signature; it goes beside the file unless named.
            let bundle = match (bundle, signer.is_keyless()) {
                (None, true) => {
                    let mut name = file.clone().into_os_string();
                    name.push(".sigstore.json");
                    Some(PathBuf::from(name))
                }
                (b, _) => b,
            };
            blob::sign_blob(
                &file,
                &signer,
                output_signature.as_deref(),
                bundle.as_deref(),
                json,
            )
        }
        Command::VerifyBlob {
            file,
            trust,
            signature,
            bundle,
            insecure_ignore_tlog,
            json,
            aws,
        } => {
            let aws = aws_if(trust.is_kms(), &aws.into(), Runtime::OneThread)?;
            let policy =
                keyfile::policy(&trust, aws.as_ref())?.with_tlog(tlog_policy(insecure_ignore_tlog));
            blob::verify_blob(
                &file,
                &policy,
                signature.as_deref(),
                bundle.as_deref(),
                json,
            )
        }
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
