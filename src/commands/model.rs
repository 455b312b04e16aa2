//! `sign` and `verify` for models (OMS v1.0 bundles).

use std::path::Path;

use modelseal_kernel::bundle::Bundle;
use modelseal_kernel::keys::SignError;
use modelseal_kernel::manifest::{HashJob, ItemKey, LocalModel, ResourcePath, DEFAULT_IGNORES};
use modelseal_kernel::oms::{self, EnvelopeError, TlogPolicy};
use modelseal_kernel::HashAlgorithm;

use crate::failure::{self, Failure, Result};
use crate::files::{self, Model, WalkError};
use crate::hashing::{self, Task};
use crate::keyfile;

/// Maps a walk failure; a symlink or special file is a verdict when verifying, a usage problem
/// when signing.
fn walk_failure(e: WalkError, model: &Path, verifying: bool) -> Failure {
    let (what, hint) = match &e {
        WalkError::Io(_) => ("", ""),
        WalkError::Symlink(_) => (
            "a symlink",
            "symlinks are refused (as model_signing refuses them); replace the link with the file it points to and re-sign",
        ),
        WalkError::Special(_) => ("a file that is not a regular file", "remove it from the model directory"),
        WalkError::Name(_) => ("a file name that is not UTF-8", "rename it"),
    };
    match e {
        WalkError::Io(f) => f,
        WalkError::Symlink(p) | WalkError::Special(p) | WalkError::Name(p) => {
            let message = format!(
                "model '{}' contains {what}: {}",
                model.display(),
                p.display()
            );
            if verifying {
                Failure::untrusted(message, hint)
            } else {
                Failure::cannot_check(message, hint)
            }
        }
    }
}

fn open(model: &Path, verifying: bool) -> Result<Model> {
    files::open_model(model).map_err(|e| walk_failure(e, model, verifying))
}

/// The signature's path inside the model directory, when it lies there.
fn signature_inside(model: &Model, signature: &Path) -> Option<ResourcePath> {
    if model.is_file() {
        None
    } else {
        files::inside(&model.path, signature)
    }
}

fn tasks(model: &Model, jobs: Vec<HashJob>) -> Vec<(Task, u64)> {
    let sizes: std::collections::HashMap<&ResourcePath, u64> = match &model.local {
        LocalModel::File { size, .. } => return one(model, jobs, *size),
        LocalModel::Directory { files } => files.iter().map(|f| (&f.path, f.size)).collect(),
    };
    jobs.into_iter()
        .map(|job| {
            let size = sizes.get(&job.path).copied().unwrap_or(0);
            (
                Task {
                    file: model.file_path(&job.path),
                    job,
                },
                size,
            )
        })
        .collect()
}

fn one(model: &Model, jobs: Vec<HashJob>, size: u64) -> Vec<(Task, u64)> {
    jobs.into_iter()
        .map(|job| {
            (
                Task {
                    file: model.path.clone(),
                    job,
                },
                size,
            )
        })
        .collect()
}

pub fn sign(model_path: &Path, key: &str, signature: Option<&Path>, threads: usize) -> Result<()> {
    let key = keyfile::private_key(key)?;
    let model = open(model_path, false)?;
    let signature =
        signature.map_or_else(|| super::default_signature(model_path), Path::to_path_buf);
    let mut ignore_paths: Vec<String> = DEFAULT_IGNORES.iter().map(|s| s.to_string()).collect();
    if let Some(inside) = signature_inside(&model, &signature) {
        ignore_paths.push(inside.to_string());
    }
    let ignores: Vec<ResourcePath> = ignore_paths
        .iter()
        .filter_map(|p| ResourcePath::parse(p).ok())
        .collect();
    let jobs: Vec<HashJob> = match &model.local {
        LocalModel::File { .. } => {
            vec![ResourcePath::parse(ResourcePath::SINGLE_FILE).map_err(|_| {
                Failure::cannot_check("internal: '.' is not a resource path", "report this bug")
            })?]
        }
        LocalModel::Directory { files } => files
            .iter()
            .map(|f| f.path.clone())
            .filter(|p| !ignores.iter().any(|i| p.is_within(i)))
            .collect(),
    }
    .into_iter()
    .map(|path| HashJob {
        keys: vec![ItemKey::File(path.clone())],
        path,
        algorithm: HashAlgorithm::Sha256,
    })
    .collect();
    let digests = hashing::run(tasks(&model, jobs), threads)?;
    let files: Vec<(ResourcePath, _)> = digests
        .into_iter()
        .map(|(k, d)| (k.path().clone(), d))
        .collect();
    let count = files.len();
    let payload = oms::statement_payload(&model.name(), &files, &ignore_paths);
    let bundle = oms::sign_statement(&key, &payload).map_err(|e| {
        Failure::cannot_check(
            format!("cannot sign model {}: {e}", model_path.display()),
            "check the key",
        )
    })?;
    files::write_atomic(&signature, bundle.as_bytes(), 0o644, true)?;
    println!(
        "Signed model '{}' ({count} files) with {} key {}; signature written to {}",
        model.name(),
        key_curve_name(&key),
        short_hint(&modelseal_kernel::Signer::public_key(&key).oms_hint()),
        signature.display()
    );
    Ok(())
}

fn key_curve_name(key: &modelseal_kernel::PrivateKey) -> &'static str {
    modelseal_kernel::Signer::public_key(key).curve().name()
}

fn short_hint(hint: &str) -> &str {
    &hint[..hint.len().min(16)]
}

fn envelope_hint(e: &EnvelopeError) -> &'static str {
    match e {
        EnvelopeError::KeyMismatch { .. } => {
            "verify with the public key of the key that signed the model, or re-sign the model"
        }
        EnvelopeError::Signature(SignError::Mismatch) => {
            "the signature or the signed manifest was altered after signing; do not use this model"
        }
        EnvelopeError::Signature(_) => "the signature bytes are corrupt; re-sign the model",
        EnvelopeError::Transparency(_) => {
            "pass --insecure-ignore-tlog to check the signature and digests only"
        }
        EnvelopeError::Certificate => {
            "sign the model with a key (modelseal sign --key) and verify with its public key"
        }
        EnvelopeError::NotDsse => {
            "model signatures are OMS bundles written by 'modelseal sign' or model_signing"
        }
        EnvelopeError::Manifest(_) => {
            "the signed manifest is unsafe or inconsistent; do not use this model"
        }
        _ => "the signature file is not an OMS v1.0 bundle; re-sign the model",
    }
}

pub fn verify(
    model_path: &Path,
    key: &str,
    signature: Option<&Path>,
    tlog: TlogPolicy,
    threads: usize,
) -> Result<()> {
    let key = keyfile::public_key(key)?;
    if let Err(e) = std::fs::symlink_metadata(model_path) {
        return Err(failure::io("read model", model_path, &e));
    }
    let sig_path =
        signature.map_or_else(|| super::default_signature(model_path), Path::to_path_buf);
    let bytes = match std::fs::read(&sig_path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(Failure::untrusted(
                format!("signature {} not found", sig_path.display()),
                "an unsigned model cannot be trusted; sign it with 'modelseal sign', or pass --signature",
            ))
        }
        Err(e) => return Err(failure::io("read signature", &sig_path, &e)),
    };
    let bundle = Bundle::from_json(&bytes).map_err(|e| {
        Failure::untrusted(
            format!("signature {} is malformed: {e}", sig_path.display()),
            "the signature file is corrupt or not a Sigstore bundle; re-sign the model",
        )
    })?;
    let manifest = oms::verify_envelope(&bundle, &key, tlog).map_err(|e| {
        Failure::untrusted(
            format!("signature {} does not verify: {e}", sig_path.display()),
            envelope_hint(&e),
        )
    })?;
    if !bundle.transparency.is_empty() {
        eprintln!("{}", super::TLOG_WARNING);
    }
    let model = open(model_path, true)?;
    let extra_ignores: Vec<ResourcePath> =
        signature_inside(&model, &sig_path).into_iter().collect();
    let plan = manifest.plan(&model.local, &extra_ignores);
    let digests = hashing::run(tasks(&model, plan.jobs.clone()), threads)?;
    match manifest.check(&plan, &digests) {
        Ok(v) => {
            println!(
                "Verified OK: model '{}' ({} {}, root sha256 {})",
                model.name(),
                v.items,
                if v.items == 1 { "item" } else { "items" },
                v.root
            );
            Ok(())
        }
        Err(mismatch) => Err(Failure::untrusted(
            format!("model '{}' does not match its signature", model_path.display()),
            "the model changed after it was signed; do not serve it (re-sign only if the change is intended)",
        )
        .with_details(mismatch.lines())),
    }
}
