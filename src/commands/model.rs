//! `sign` and `verify` for models on disk (OMS v1.0 bundles), and the pieces the S3 commands
//! share: checking a bundle, signing a model, reporting a verdict.

use std::path::{Path, PathBuf};

use crate::signing::Signing;
use modelseal_kernel::manifest::{
    HashJob, ItemKey, LocalModel, Method, PlanOptions, ResourcePath, SignedManifest, SigningPlan,
    UnsignedFiles, Verified,
};
use modelseal_kernel::oms;
use modelseal_kernel::trust::Policy;
use modelseal_kernel::{Digest, HashAlgorithm};

use super::verdict;
use crate::failure::{self, Failure, Result};
use crate::files::{self, Model, WalkError};
use crate::hashing::{self, Task};
use crate::progress::Progress;
use modelseal_fetch::progress::count;

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

pub(super) fn open(model: &Path, verifying: bool) -> Result<Model> {
    files::open_model(model).map_err(|e| walk_failure(e, model, verifying))
}

/// The signature's path inside the model directory, when it lies there.
pub(super) fn signature_inside(model: &Model, signature: &Path) -> Option<ResourcePath> {
    if model.is_file() {
        None
    } else {
        files::inside(&model.path, signature)
    }
}

/// Hashes what `jobs` ask of `model`, with progress labelled `verb` over the files' bytes.
fn hash(
    verb: &str,
    model: &Model,
    jobs: Vec<HashJob>,
    threads: usize,
) -> Result<Vec<(ItemKey, Digest)>> {
    let tasks = tasks(model, jobs);
    let total: u64 = tasks.iter().map(|(_, size)| size).sum();
    let start = hashing::hashed_bytes();
    let _progress = Progress::start(
        &format!("{verb} {}", model.path.display()),
        total,
        tasks.len(),
        move || hashing::hashed_bytes().saturating_sub(start),
    );
    hashing::run(tasks, threads)
}

fn tasks(model: &Model, jobs: Vec<HashJob>) -> Vec<(Task, u64)> {
    let sizes: std::collections::HashMap<&ResourcePath, u64> = match &model.local {
        LocalModel::File { size, .. } => {
            return jobs
                .into_iter()
                .map(|job| {
                    (
                        Task {
                            file: model.path.clone(),
                            job,
                        },
                        *size,
                    )
                })
                .collect()
        }
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

/// `--ignore-paths` as model_signing reads them: absolute, or relative to the working directory,
/// and then named relative to the model. A path outside the model (which model_signing drops
/// without a word) or given for a single-file model is refused.
pub(super) fn resolve_ignore_paths(model: &Model, given: &[PathBuf]) -> Result<Vec<ResourcePath>> {
    if given.is_empty() {
        return Ok(Vec::new());
    }
    let outside = |p: &Path, why: &str| {
        Failure::cannot_check(
            format!("--ignore-paths {}: {why}", p.display()),
            format!(
                "name files or directories inside {} (relative to the working directory, as model_signing does)",
                model.path.display()
            ),
        )
    };
    if matches!(model.local, LocalModel::File { .. }) {
        return Err(outside(
            &given[0],
            "a single-file model has nothing to ignore",
        ));
    }
    let cwd = std::env::current_dir().map_err(|e| failure::io("read", Path::new("."), &e))?;
    let root = normalize(&cwd.join(&model.path));
    given
        .iter()
        .map(|p| {
            let full = normalize(&cwd.join(p));
            let rel = full
                .strip_prefix(&root)
                .ok()
                .and_then(|r| r.to_str())
                .filter(|r| !r.is_empty())
                .ok_or_else(|| outside(p, "not inside the model"))?;
            ResourcePath::parse(rel).map_err(|e| outside(p, &e.to_string()))
        })
        .collect()
}

/// `.` and `..` resolved by the text alone (model_signing's `Path.resolve` also follows links;
/// a model holds none).
fn normalize(p: &Path) -> PathBuf {
    use std::path::Component;
    let mut out = PathBuf::new();
    for c in p.components() {
        match c {
            Component::CurDir => {}
            Component::ParentDir => {
                out.pop();
            }
            other => out.push(other),
        }
    }
    out
}

/// OMS 6.1: a model with no file after its exclusions is not signed (a signature over nothing
/// would vouch for any empty directory).
pub(super) fn nothing_to_sign(shown: &str, ignore_paths: &[String]) -> Failure {
    Failure::cannot_check(
        format!(
            "nothing to sign: model {shown} has no files once {} are left out",
            ignore_paths.join(", ")
        ),
        "sign a directory that holds the model's files, or drop the --ignore-paths that exclude them",
    )
}

/// Signed items (whole files or shards) and their digests.
type Hashed = Vec<(ItemKey, Digest)>;

/// How a signature hashes the model: files or shards, and the hash (`--shard-size`,
/// `--hash-algorithm`).
pub(super) type Serialized = (Method, HashAlgorithm);

/// Files a signature covers, counted once however many shards each has.
pub(super) fn file_count(items: &[(ItemKey, Digest)]) -> usize {
    items
        .iter()
        .map(|(k, _)| k.path())
        .collect::<std::collections::BTreeSet<_>>()
        .len()
}

/// Hashes what a signature of `model` covers, as the kernel's `SigningPlan` decides it, and
/// returns the items with the plan. `inside` is the signature's path when it is stored in the
/// model.
fn hash_for_signing(
    verb: &str,
    model: &Model,
    inside: Option<ResourcePath>,
    extra_ignores: &[ResourcePath],
    (method, hash_algorithm): Serialized,
    threads: usize,
) -> Result<(Hashed, SigningPlan)> {
    let plan = SigningPlan::new(&model.local, inside.as_ref(), extra_ignores)
        .serialized(method, hash_algorithm);
    if plan.is_empty() {
        return Err(nothing_to_sign(
            &format!("'{}'", model.path.display()),
            &plan.ignore_paths,
        ));
    }
    let items = hash(verb, model, plan.jobs(&model.local), threads)?;
    Ok((items, plan))
}

/// The OMS bundle JSON for `items` hashed as `plan` says, signed by `signer`. `name` is the
/// model's name in the statement; `shown` names the model in errors.
pub(super) fn sign_items(
    name: &str,
    shown: &str,
    signer: &Signing,
    items: &[(ItemKey, Digest)],
    plan: &SigningPlan,
) -> Result<String> {
    let payload =
        oms::statement_payload_items(name, items, plan.method, plan.hash, &plan.ignore_paths)
            .map_err(|e| match e {
                oms::ManifestError::Empty => nothing_to_sign(shown, &plan.ignore_paths),
                e => Failure::cannot_check(
                    format!("cannot sign model {shown}: {e}"),
                    "report this bug",
                ),
            })?;
    signer.sign_statement(&payload, shown)
}

/// Hashes a local model and returns the OMS bundle JSON, signed by `signer`, and the items it
/// covers. `inside` is the signature's path when it will be stored in the model.
pub(super) fn sign_model(
    model: &Model,
    signer: &Signing,
    inside: Option<ResourcePath>,
    extra_ignores: &[ResourcePath],
    serialized: Serialized,
    threads: usize,
) -> Result<(String, Hashed)> {
    let (items, plan) =
        hash_for_signing("sign", model, inside, extra_ignores, serialized, threads)?;
    let shown = model.path.display().to_string();
    let bundle = sign_items(&model.name(), &shown, signer, &items, &plan)?;
    Ok((bundle, items))
}

/// `modelseal digest`: what a pin is compared with once the model is signed as `sign` signs it
/// (the default signature inside a directory is left out, as `sign` leaves it out).
pub fn digest(
    model_path: &Path,
    ignore: &[PathBuf],
    serialized: Serialized,
    threads: usize,
    json: bool,
) -> Result<()> {
    let model = open(model_path, false)?;
    let extra_ignores = resolve_ignore_paths(&model, ignore)?;
    let inside = signature_inside(&model, &super::default_signature(model_path));
    let (items, _) = hash_for_signing(
        "digest",
        &model,
        inside,
        &extra_ignores,
        serialized,
        threads,
    )?;
    let digest = format!("sha256:{}", oms::pinned_digest_of_items(&items).to_hex());
    if json {
        crate::report::success(
            "digest",
            serde_json::json!({
                "model": model_path.display().to_string(),
                "files": file_count(&items),
                "digest": digest,
            }),
        );
    } else {
        println!("{digest}");
    }
    Ok(())
}

pub fn sign(
    model_path: &Path,
    signer: &Signing,
    signature: Option<&Path>,
    ignore: &[PathBuf],
    serialized: Serialized,
    threads: usize,
    json: bool,
) -> Result<()> {
    let model = open(model_path, false)?;
    let extra_ignores = resolve_ignore_paths(&model, ignore)?;
    let signature =
        signature.map_or_else(|| super::default_signature(model_path), Path::to_path_buf);
    let (bundle, items) = sign_model(
        &model,
        signer,
        signature_inside(&model, &signature),
        &extra_ignores,
        serialized,
        threads,
    )?;
    files::write_atomic(&signature, bundle.as_bytes(), 0o644, true)?;
    if json {
        /// `sign`'s report for a local model.
        #[derive(serde::Serialize)]
        struct Signed {
            signed: bool,
            model: String,
            name: String,
            signature: String,
            #[serde(flatten)]
            items: verdict::SignedItems,
        }
        let report = Signed {
            signed: true,
            model: model.path.display().to_string(),
            name: model.name(),
            signature: signature.display().to_string(),
            items: verdict::SignedItems::of(&items),
        };
        crate::report::success("sign", serde_json::to_value(report).unwrap_or_default());
        return Ok(());
    }
    println!(
        "Signed model '{}' ({}, digest sha256:{}) with {}; signature written to {}",
        model.name(),
        count(file_count(&items), "file"),
        oms::pinned_digest_of_items(&items).to_hex(),
        signer.describe(),
        signature.display()
    );
    Ok(())
}

/// What `verify` is told about a local model beyond its trust policy.
pub struct LocalCheck<'a> {
    pub signature: Option<&'a Path>,
    /// `--ignore-paths`: files or directories left out of the check.
    pub ignore: &'a [PathBuf],
    pub unsigned: UnsignedFiles,
    pub threads: usize,
    pub json: bool,
}

pub fn verify(model_path: &Path, policy: &Policy, check: LocalCheck<'_>) -> Result<()> {
    if let Err(e) = std::fs::symlink_metadata(model_path) {
        return Err(failure::io("read model", model_path, &e));
    }
    let sig_path = check
        .signature
        .map_or_else(|| super::default_signature(model_path), Path::to_path_buf);
    let bytes = modelseal_fetch::read_local_signature(&sig_path).map_err(verdict::fetch_failure)?;
    let verdict = verdict::check_signature(
        bytes,
        &sig_path.display().to_string(),
        &format!("'{}'", model_path.display()),
        policy,
        &location(model_path)?,
    )?;
    let model = open(model_path, true)?;
    let options = PlanOptions {
        evidence: signature_inside(&model, &sig_path).into_iter().collect(),
        excluded: resolve_ignore_paths(&model, check.ignore)?,
        unsigned: check.unsigned,
    };
    let verified = check_model(&model, &verdict.manifest, &options, check.threads)?;
    verdict::report(
        "verify",
        &verified,
        &model.name(),
        Some(&verdict.accepted),
        check.json,
        None,
    );
    Ok(())
}

/// A local model's or file's location as a trust policy's rules match it: its path made
/// absolute lexically (`.` and `..` resolved by the text, symlinks not followed).
pub(super) fn location(path: &Path) -> Result<String> {
    let cwd = std::env::current_dir().map_err(|e| failure::io("read", Path::new("."), &e))?;
    Ok(normalize(&cwd.join(path)).to_string_lossy().into_owned())
}

/// Steps 9 and 10 on disk: plan against the files found, hash what the plan asks, check.
pub(super) fn check_model(
    model: &Model,
    manifest: &SignedManifest,
    options: &PlanOptions,
    threads: usize,
) -> Result<Verified> {
    let plan = manifest.plan(&model.local, options);
    let digests = hash("verify", model, plan.jobs.clone(), threads)?;
    manifest
        .check(&plan, &digests)
        .map_err(|m| verdict::mismatch_failure(&model.path.display().to_string(), &m))
}
