//! `sign`, `digest` and `verify` for models on disk (OMS v1.0 bundles): the arguments read as
//! model_signing reads them, signing, and what is printed. Locating, hashing and checking a model
//! on disk are fetch's (`modelseal_fetch::disk`), as they are for a model in S3; `push` and
//! `sign s3://` share the signing pieces.

use std::path::{Path, PathBuf};

use crate::signing::Signing;
use modelseal_fetch::disk::{self, DiskCheck, OnDisk};
use modelseal_kernel::manifest::{
    HashJob, ItemKey, LocalModel, Method, ResourcePath, SigningPlan, UnsignedFiles,
};
use modelseal_kernel::oms;
use modelseal_kernel::trust::Policy;
use modelseal_kernel::{Digest, HashAlgorithm};

use super::verdict;
use crate::failure::{Failure, Result};
use crate::files;
use crate::progress::Progress;
use modelseal_fetch::progress::count;

/// Locates a model on disk to sign it: an entry a model cannot hold (a symlink, a special file,
/// even where the signature will go, as model_signing refuses it) is a problem with the input
/// here, not a verdict.
pub(super) fn open(model: &Path) -> Result<OnDisk> {
    disk::open(model, None).map_err(verdict::signing_failure)
}

/// Hashes what `jobs` ask of `model`, with progress labelled `verb` over the files' bytes.
fn hash(
    verb: &str,
    model: &OnDisk,
    jobs: Vec<HashJob>,
    threads: usize,
) -> Result<Vec<(ItemKey, Digest)>> {
    let size_of = model.sizes();
    let total: u64 = jobs.iter().map(|j| size_of(&j.path)).sum();
    let start = disk::hashed_bytes();
    let _progress = Progress::start(
        &format!("{verb} {}", model.path.display()),
        total,
        jobs.len(),
        move || disk::hashed_bytes().saturating_sub(start),
    );
    disk::hash_jobs(model, jobs, threads).map_err(verdict::signing_failure)
}

/// `--ignore-paths` as model_signing reads them: absolute, or relative to the working directory,
/// and then named relative to the model. A path outside the model (which model_signing drops
/// without a word) or given for a single-file model is refused.
pub(super) fn resolve_ignore_paths(model: &OnDisk, given: &[PathBuf]) -> Result<Vec<ResourcePath>> {
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
    let root = disk::absolute(&model.path).map_err(verdict::fetch_failure)?;
    given
        .iter()
        .map(|p| {
            let full = disk::absolute(p).map_err(verdict::fetch_failure)?;
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

/// A local model's or file's location as a trust policy's rules match it (`disk::location`).
pub(super) fn location(path: &Path) -> Result<String> {
    disk::location(path).map_err(verdict::fetch_failure)
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
    model: &OnDisk,
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
    model: &OnDisk,
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
    let signature = super::default_signature(model_path);
    let model = open(model_path)?;
    let extra_ignores = resolve_ignore_paths(&model, ignore)?;
    let inside = model.signature_inside(&signature);
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
        /// `digest`'s report.
        #[derive(serde::Serialize)]
        struct Digested {
            model: String,
            files: usize,
            digest: String,
        }
        let report = Digested {
            model: model_path.display().to_string(),
            files: file_count(&items),
            digest,
        };
        crate::report::success("digest", &report);
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
    let signature =
        signature.map_or_else(|| super::default_signature(model_path), Path::to_path_buf);
    let model = open(model_path)?;
    let extra_ignores = resolve_ignore_paths(&model, ignore)?;
    let (bundle, items) = sign_model(
        &model,
        signer,
        model.signature_inside(&signature),
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
        crate::report::success("sign", &report);
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

/// `verify` of a model on disk: locate, then fetch's check, hash and verdict; this prints.
pub fn verify(model_path: &Path, policy: &Policy, check: LocalCheck<'_>) -> Result<()> {
    let signature = check
        .signature
        .map_or_else(|| super::default_signature(model_path), Path::to_path_buf);
    let model = disk::open(model_path, Some(&signature)).map_err(verdict::fetch_failure)?;
    let excluded = resolve_ignore_paths(&model, check.ignore)?;
    let (files, bytes) = model.listed();
    let start = disk::hashed_bytes();
    let progress = Progress::start(
        &format!("verify {}", model.path.display()),
        bytes,
        files,
        move || disk::hashed_bytes().saturating_sub(start),
    );
    let checked = disk::verify(
        &model,
        policy,
        DiskCheck {
            signature: &signature,
            excluded,
            unsigned: check.unsigned,
            threads: check.threads,
        },
    )
    .map_err(verdict::fetch_failure)?;
    drop(progress);
    verdict::warn_tlog(checked.accepted.ignored_transparency);
    verdict::report(
        "verify",
        &checked.verified,
        &model.name(),
        Some(&checked.accepted),
        check.json,
        None,
    );
    Ok(())
}
