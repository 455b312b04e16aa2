//! The S3 commands: `verify s3://...` (stream and hash, keep nothing), `pull` (stream, hash and
//! stage, then place), and `push` (upload with SSE-KMS, hashing each file as it goes up, check,
//! sign what went up, signature last).

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;

use crate::signing::Signing;
use modelseal_fetch::disk::{self, DiskCheck, OnDisk};
use modelseal_fetch::{
    clear_dest, dest_entries, fetch, locate, place, prepare_staging, stop_requested, FetchError,
    Located, SignatureSource,
};
use modelseal_kernel::manifest::{
    HashJob, ItemHashers, ItemKey, LocalModel, ResourcePath, SigningPlan, UnsignedFiles,
};
use modelseal_kernel::trust::{Policy, Signer as Authority};
use modelseal_kernel::{Digest, PublicKey};
use modelseal_s3::{Engine, Head, Sse};

use super::model;
use super::verdict::{self, fetch_failure, parse_uri};
use crate::aws::{s3_failure, Aws};
use crate::cli::Location;
use crate::failure::{Failure, Result};
use crate::progress::Progress;
use modelseal_fetch::progress::count;

pub use modelseal_fetch::SIGNATURE_NAME;

/// `--signature` as clap parsed it; `None` means the default place.
fn given_signature(given: Option<&Location>) -> Result<Option<SignatureSource>> {
    Ok(given.map(|l| match l {
        Location::S3(r) => SignatureSource::S3(r.uri.clone()),
        Location::Local(p) => SignatureSource::Local(p.clone()),
    }))
}

/// How `verify s3://` and `pull` check a model: the command line's `CheckArgs`, resolved.
pub struct Check<'a> {
    /// The trust policy, with `--digest`'s pin and `--insecure-ignore-tlog`'s mode in it.
    pub policy: &'a Policy,
    /// Where the bundle is, when not in the default place.
    pub signature: Option<&'a Location>,
    /// `--ignore-unsigned-files`: objects the signature does not cover are left alone.
    pub unsigned: UnsignedFiles,
    pub json: bool,
}

/// The warning when the bundle's log entries or timestamps were, by request, not verified.
fn warn_unverified(fetched: &modelseal_fetch::Fetched) {
    verdict::warn_tlog(
        fetched
            .accepted
            .as_ref()
            .is_some_and(|a| a.ignored_transparency),
    );
}

/// Progress over a located model's listed objects, fed by the engine's byte counter.
fn progress(verb: &str, located: &Located, engine: &Engine) -> Progress {
    let (files, bytes) = located.listed();
    let moved = engine.bytes_moved();
    Progress::start(
        &format!("{verb} {}", located.uri()),
        bytes,
        files,
        move || moved.load(Ordering::Relaxed),
    )
}

pub fn verify(uri: &str, check: Check<'_>, aws: &Aws, threads: Option<usize>) -> Result<()> {
    let uri = parse_uri(uri)?;
    let signature = given_signature(check.signature)?;
    let (policy, unsigned, json) = (check.policy, check.unsigned, check.json);
    let engine = aws.engine(threads);
    let (located, fetched) = aws
        .rt
        .block_on(async {
            let work = async {
                let located = locate(&engine, &uri).await?;
                let _progress = progress("verify", &located, &engine);
                let fetched =
                    fetch(&engine, &located, policy, signature, unsigned, None, None).await?;
                Ok((located, fetched))
            };
            tokio::select! {
                r = work => r,
                signal = stop_requested() => Err(FetchError::Stopped(signal)),
            }
        })
        .map_err(fetch_failure)?;
    warn_unverified(&fetched);
    verdict::report(
        "verify",
        &fetched.verified,
        &located.uri(),
        fetched.accepted.as_ref(),
        json,
        None,
    );
    Ok(())
}

pub fn pull(uri: &str, dest: &Path, force: bool, check: Check<'_>, aws: &Aws) -> Result<()> {
    let uri = parse_uri(uri)?;
    let signature = given_signature(check.signature)?;
    let (policy, unsigned, json) = (check.policy, check.unsigned, check.json);
    // DEST ends with exactly the signed files: what it holds already is refused, or with
    // --force removed first (a staging directory left by a killed pull is ours to replace).
    let existing = dest_entries(dest).map_err(fetch_failure)?;
    if !existing.is_empty() {
        if !force {
            return Err(fetch_failure(FetchError::DestNotEmpty {
                dest: dest.to_path_buf(),
                entries: existing,
            }));
        }
        clear_dest(dest, &[]).map_err(fetch_failure)?;
    }
    let engine = aws.engine(None);
    let created_dest = !dest.exists();
    let mut staging = None;
    let result = aws.rt.block_on(async {
        let work = async {
            let located = locate(&engine, &uri).await?;
            let progress = progress("pull", &located, &engine);
            let dir = prepare_staging(dest)?;
            staging = Some(dir.clone());
            let fetched = fetch(
                &engine,
                &located,
                policy,
                signature,
                unsigned,
                Some(&dir),
                None,
            )
            .await?;
            progress.phase("verified; placing the files");
            // Placement has no await: once it starts, a signal waits until it is done.
            let placed = place(&located, &fetched, &dir, dest, true)?;
            Ok::<_, FetchError>((located, fetched, placed))
        };
        tokio::select! {
            r = work => r,
            signal = stop_requested() => Err(FetchError::Stopped(signal)),
        }
    });
    let (located, fetched, placed) = match result {
        Ok(r) => r,
        Err(e) => {
            if let Some(dir) = &staging {
                modelseal_fetch::remove_staging(dir);
            }
            if created_dest {
                let _ = std::fs::remove_dir(dest);
            }
            return Err(fetch_failure(e));
        }
    };
    warn_unverified(&fetched);
    let mut names = placed.files.clone();
    names.extend(placed.signature.clone());
    verdict::report(
        "pull",
        &fetched.verified,
        &located.uri(),
        fetched.accepted.as_ref(),
        json,
        Some(verdict::PlacedFields {
            dest: dest.display().to_string(),
            placed: names,
            signature_placed: placed.signature.is_some(),
        }),
    );
    if !json {
        match (&placed.signature, &placed.signature_not_placed) {
            (_, Some(name)) => println!(
                "Placed {} in {}; the signature was not written: the signed file '{name}' has its name",
                count(placed.files.len(), "file"),
                dest.display()
            ),
            (Some(_), None) => println!(
                "Placed {} and the signature in {}",
                count(placed.files.len(), "file"),
                dest.display()
            ),
            (None, None) => println!("Placed {} in {}", count(placed.files.len(), "file"), dest.display()),
        }
    }
    Ok(())
}

/// What `push` does about SSE-KMS.
pub struct PushSse {
    pub kms_key_id: Option<String>,
}

/// Accepts S3's SSE answer for an object: `aws:kms`, and the expected key as id or ARN.
fn check_sse(head: &Head, expected: &[String], bucket: &str) -> Result<()> {
    let key = &head.object.key;
    if head.sse.as_deref() != Some("aws:kms") {
        return Err(Failure::untrusted(
            format!(
                "S3 did not record SSE-KMS for s3://{bucket}/{key} (server-side encryption: {})",
                head.sse.as_deref().unwrap_or("none")
            ),
            "the object is not encrypted as required; check the bucket's encryption settings and policy",
        ));
    }
    if !expected.is_empty()
        && !head
            .kms_key_id
            .as_ref()
            .is_some_and(|k| expected.contains(k))
    {
        return Err(Failure::untrusted(
            format!(
                "s3://{bucket}/{key} is encrypted with KMS key {}, not {}",
                head.kms_key_id.as_deref().unwrap_or("(none)"),
                expected.join(" / ")
            ),
            "check --sse-kms-key-id and the bucket's default encryption",
        ));
    }
    Ok(())
}

/// One local file and where it goes.
struct Upload {
    path: PathBuf,
    key: String,
    size: u64,
    /// The signed items of the file (the whole file, or its shards), and its name in the
    /// signature.
    job: HashJob,
}

/// Where `push` gets the bundle: signed from the uploaded bytes, or given and already checked.
enum BundleSource {
    Sign(Box<Signing>),
    Given(Vec<u8>),
}

/// An object `push` put: its key, its items' digests, and whether it grew while going up.
type Uploaded = (String, Vec<(ItemKey, Digest)>, bool);

/// Feeds the bytes `push` uploads to the kernel's item hashers (the whole file, or each shard),
/// so the signature covers exactly what went up and each file is read once.
struct ItemsObserver(ItemHashers, bool);

impl modelseal_s3::Observer for ItemsObserver {
    fn update(&mut self, bytes: &[u8]) {
        // More bytes than listed: the file grew while it went up; the signature is refused.
        if self.0.update(bytes).is_err() {
            self.1 = true;
        }
    }
}

/// What `push` will do, all decided (and the key opened, or a given bundle checked) before
/// anything goes up.
pub(super) struct PushPlan {
    uri: modelseal_s3::S3Uri,
    model: OnDisk,
    plan: SigningPlan,
    uploads: Vec<Upload>,
    sig_key: String,
    source: BundleSource,
}

/// What `push` did, as `--json` reports it (and the text line says).
#[derive(serde::Serialize)]
pub(super) struct PushReport {
    pushed: bool,
    uri: String,
    objects: usize,
    object_keys: Vec<String>,
    signature: String,
    sse: &'static str,
    sse_kms_key_id: Option<String>,
    #[serde(flatten)]
    items: verdict::SignedItems,
}

/// `push`'s plan: where each signed file goes and where the signature goes, the items the kernel's
/// `SigningPlan` hashes, and the bundle's source.
pub(super) fn plan_push(args: &crate::cli::PushArgs, aws: &Aws) -> Result<PushPlan> {
    let (method, hash_algorithm) = args.serialization.kernel();
    let (key, signature, certificate) = (
        args.key.as_deref(),
        args.signature.as_deref(),
        &args.certificate,
    );
    let threads = args.hashing.threads();
    let uri = args.uri.uri.clone();
    let model = model::open(&args.model)?;
    // The signature sits at MODEL/model.sig for a directory, which is where it will be.
    let inside = (!model.is_file())
        .then(|| ResourcePath::parse(SIGNATURE_NAME).ok())
        .flatten();
    let plan =
        SigningPlan::new(&model.local, inside.as_ref(), &[]).serialized(method, hash_algorithm);
    let ignore_paths = plan.ignore_paths.clone();
    let mut jobs: std::collections::BTreeMap<ResourcePath, HashJob> = plan
        .jobs(&model.local)
        .into_iter()
        .map(|j| (j.path.clone(), j))
        .collect();
    // Where each signed file goes, and where the signature goes.
    let (uploads, sig_key): (Vec<Upload>, String) = match &model.local {
        LocalModel::File { name, size } => {
            let object = if uri.key.is_empty() || uri.key.ends_with('/') {
                format!("{}{name}", uri.dir_prefix())
            } else {
                uri.key.clone()
            };
            // A single-file model has exactly one signed path, ".".
            let resource = ResourcePath::single_file();
            let up = Upload {
                path: model.path.clone(),
                key: object.clone(),
                size: *size,
                job: jobs.remove(&resource).unwrap_or_else(|| HashJob {
                    path: resource.clone(),
                    keys: Vec::new(),
                    algorithm: hash_algorithm,
                }),
            };
            (vec![up], format!("{object}.sig"))
        }
        LocalModel::Directory { files } => {
            let prefix = uri.dir_prefix();
            let signed: BTreeSet<&ResourcePath> = plan.files.iter().collect();
            let ups = files
                .iter()
                .filter(|f| signed.contains(&f.path))
                .map(|f| Upload {
                    path: model.file_path(&f.path),
                    key: format!("{prefix}{}", f.path),
                    size: f.size,
                    job: jobs.remove(&f.path).unwrap_or_else(|| HashJob {
                        path: f.path.clone(),
                        keys: Vec::new(),
                        algorithm: hash_algorithm,
                    }),
                })
                .collect();
            (ups, format!("{prefix}{SIGNATURE_NAME}"))
        }
    };
    // Refused before anything goes up: no object of an unsignable model reaches the bucket.
    if uploads.is_empty() {
        return Err(model::nothing_to_sign(
            &format!("'{}'", model.path.display()),
            &ignore_paths,
        ));
    }
    // Signed from the bytes as they go up, or an existing bundle checked against the model
    // before anything goes up. The key is opened (and its password asked) before any upload.
    let source = match signature {
        None => {
            let signer = crate::keyfile::signer_for(key, certificate, Some(aws))?;
            BundleSource::Sign(Box::new(Signing::new(
                signer,
                &args.sigstore,
                args.cosign,
                &args.aws,
            )?))
        }
        Some(_) if certificate.certificate.is_some() => {
            return Err(Failure::cannot_check(
                "--certificate signs; --signature uploads an existing bundle",
                "drop one of them",
            ))
        }
        Some(path) => {
            let key = key.ok_or_else(|| {
                Failure::cannot_check(
                    "--signature needs --key: the bundle is checked against the model with it before anything goes up",
                    "pass the public key (or the signing key) the bundle was made with",
                )
            })?;
            let public = crate::keyfile::any_public_key(key, Some(aws))?;
            BundleSource::Given(check_local(&model, path, public, threads)?)
        }
    };
    Ok(PushPlan {
        uri,
        model,
        plan,
        uploads,
        sig_key,
        source,
    })
}

/// Uploads the planned objects (hashed as they go up), then the signature, last.
pub(super) fn upload_push(p: PushPlan, sse: PushSse, aws: &Aws) -> Result<PushReport> {
    let PushPlan {
        uri,
        model,
        plan,
        uploads,
        sig_key,
        source,
    } = p;
    let engine = aws.engine(None);
    let total: u64 = uploads.iter().map(|u| u.size).sum();
    let moved = engine.bytes_moved();
    let progress = Progress::start(
        &format!("push s3://{}/{}", uri.bucket, uri.key),
        total,
        uploads.len(),
        move || moved.load(Ordering::Relaxed),
    );
    let interrupted = |signal: &str| {
        Failure::cannot_check(
            format!("push stopped by {signal}; multipart uploads aborted, no signature written"),
            "run the push again",
        )
    };
    let uploaded = aws.rt.block_on(async {
        tokio::select! {
            r = upload_model(&engine, aws, &uri.bucket, &uploads, &sig_key, sse.kms_key_id.as_deref(), &progress) => r,
            signal = stop_requested() => {
                engine.abort_active().await;
                Err(interrupted(signal))
            }
        }
    });
    let (sse, expected, digests) = uploaded?;
    progress.phase("uploading the signature");
    let bundle = match source {
        BundleSource::Given(bytes) => bytes,
        BundleSource::Sign(signer) => {
            let shown = model.path.display().to_string();
            model::sign_items(&model.name(), &shown, &signer, &digests, &plan)
                .map_err(|f| {
                    f.with_details(vec![format!(
                        "the model's objects are in s3://{}/ without a signature",
                        uri.bucket
                    )])
                })?
                .into_bytes()
        }
    };
    aws.rt.block_on(async {
        tokio::select! {
            r = upload_signature(&engine, &uri.bucket, &sig_key, bundle, &sse, &expected) => r,
            signal = stop_requested() => Err(interrupted(signal)),
        }
    })?;
    Ok(PushReport {
        pushed: true,
        uri: format!("s3://{}/{}", uri.bucket, uri.key),
        objects: uploads.len(),
        object_keys: uploads
            .iter()
            .map(|u| format!("s3://{}/{}", uri.bucket, u.key))
            .collect(),
        signature: format!("s3://{}/{sig_key}", uri.bucket),
        sse: "aws:kms",
        sse_kms_key_id: sse.kms_key_id,
        items: verdict::SignedItems::of(&digests),
    })
}

/// `push`'s report: the JSON object, or one line.
pub(super) fn report_push(r: &PushReport, json: bool) {
    if json {
        crate::report::success("push", r);
        return;
    }
    println!(
        "Pushed {} (digest {}) and the signature to {}, encrypted with SSE-KMS ({})",
        count(r.objects, "file"),
        r.items.digest,
        r.signature,
        r.sse_kms_key_id
            .as_deref()
            .unwrap_or("the bucket's default key")
    );
}

/// Checks an existing bundle against the local model before it is published: signed by
/// `key` (the push's `--key`), covering exactly these files. Returns the bundle's bytes as read
/// for the check: what goes up is what was checked.
fn check_local(model: &OnDisk, path: &Path, key: PublicKey, threads: usize) -> Result<Vec<u8>> {
    let root = crate::trust_cache::default_root();
    let root = modelseal_kernel::trusted_root::TrustedRoot::from_json(&root).map_err(|e| {
        Failure::cannot_check(
            format!("the default trusted root: {e}"),
            "run 'modelseal trust update' again",
        )
    })?;
    let policy = Policy::one(
        "--key",
        Authority::Key {
            key,
            root: std::sync::Arc::new(root),
        },
        modelseal_fetch::trust::now(),
    );
    let checked = disk::verify(
        model,
        &policy,
        DiskCheck {
            signature: path,
            excluded: Vec::new(),
            unsigned: UnsignedFiles::Refuse,
            threads,
        },
    )
    .map_err(|e| match e {
        FetchError::SignatureMissing(_) => Failure::cannot_check(
            format!("signature {} not found", path.display()),
            "check the --signature path",
        ),
        e => fetch_failure(e),
    })?;
    verdict::warn_tlog(checked.accepted.ignored_transparency);
    Ok(checked.signature)
}

/// Uploads the model's files (each read once, hashed as it goes up) and checks S3 recorded
/// SSE-KMS on each. Returns the key ids S3 may report, and every file's SHA-256.
async fn upload_model(
    engine: &Engine,
    aws: &Aws,
    bucket: &str,
    uploads: &[Upload],
    sig_key: &str,
    kms_key_id: Option<&str>,
    progress: &Progress,
) -> Result<(Sse, Vec<String>, Vec<(ItemKey, Digest)>)> {
    use futures_util::stream::{self, StreamExt, TryStreamExt};
    engine.check_bucket(bucket).await.map_err(s3_failure)?;
    // Objects already under a directory prefix that this model does not contain would make
    // every later verification fail as extra files: refuse up front.
    if let Some(prefix) = sig_key.strip_suffix(SIGNATURE_NAME) {
        let ours: BTreeSet<&str> = uploads
            .iter()
            .map(|u| u.key.as_str())
            .chain([sig_key])
            .collect();
        let stale: Vec<String> = engine
            .list(bucket, prefix)
            .await
            .map_err(s3_failure)?
            .into_iter()
            .filter(|o| !(ours.contains(o.key.as_str()) || (o.key.ends_with('/') && o.size == 0)))
            .map(|o| format!("s3://{bucket}/{}", o.key))
            .collect();
        if !stale.is_empty() {
            return Err(Failure::cannot_check(
                format!("s3://{bucket}/{prefix} already holds objects that are not part of this model"),
                "push to an empty prefix, or remove those objects first (verification would refuse them as extra files)",
            )
            .with_details(stale));
        }
    }
    let (sse, expected) = resolve_sse(aws, engine, bucket, kms_key_id).await?;
    let sse = &sse;
    let parallel = engine.tuning().parallel_objects.max(1);
    let written: Vec<Uploaded> = stream::iter(uploads.iter())
        .map(|u| async move {
            let hasher = ItemsObserver(
                ItemHashers::new(&u.job.keys, u.size, u.job.algorithm),
                false,
            );
            let (up, hasher) = engine
                .upload_file(bucket, &u.key, &u.path, u.size, sse, hasher)
                .await?;
            Ok::<_, modelseal_s3::S3Error>((up.key, hasher.0.finish(), hasher.1))
        })
        .buffer_unordered(parallel)
        .try_collect()
        .await
        .map_err(s3_failure)?;
    if let Some((key, _, _)) = written.iter().find(|(_, _, grew)| *grew) {
        return Err(Failure::cannot_check(
            format!("s3://{bucket}/{key} is longer than the file was when listed (it changed while going up); no signature written"),
            "push again once the model's files no longer change",
        ));
    }
    progress.phase("checking each object's encryption");
    for (key, _, _) in &written {
        let head = engine
            .head(bucket, key)
            .await
            .map_err(s3_failure)?
            .ok_or_else(|| {
                Failure::cannot_check(
                    format!("s3://{bucket}/{key} vanished after upload"),
                    "try again",
                )
            })?;
        check_sse(&head, &expected, bucket)?;
    }
    Ok((
        sse.clone(),
        expected,
        written
            .into_iter()
            .flat_map(|(_, items, _)| items)
            .collect(),
    ))
}

/// The encryption every object is written with, and the key ids S3 may report for it. The key
/// is sent as its ARN, resolved with `DescribeKey` from the id or alias given (or from the
/// bucket's default KMS key for `--sse aws:kms`), because that is what a bucket policy from
/// `modelseal policy bucket` compares `x-amz-server-side-encryption-aws-kms-key-id` with, and an
/// alias can later be pointed at another key. Only a bucket whose default is the AWS-managed
/// key gets no key id (S3 then picks `aws/s3`).
async fn resolve_sse(
    aws: &Aws,
    engine: &Engine,
    bucket: &str,
    given: Option<&str>,
) -> Result<(Sse, Vec<String>)> {
    let id = match given {
        Some(id) => Some(id.to_string()),
        None => engine.default_kms_key(bucket).await.map_err(s3_failure)?,
    };
    let Some(id) = id else {
        return Ok((Sse { kms_key_id: None }, Vec::new()));
    };
    let arn = modelseal_kms::key_arn(&aws.sdk, &id, aws.kms_endpoint.as_deref())
        .await
        .map_err(|e| {
            Failure::cannot_check(
                format!("cannot resolve the SSE-KMS key {id}: {e}"),
                "check --sse-kms-key-id (or the bucket's default key), the region and --kms-endpoint-url",
            )
        })?;
    // moto echoes what was sent; AWS reports the ARN. Both are the key.
    let expected = vec![id, arn.clone()];
    Ok((
        Sse {
            kms_key_id: Some(arn),
        },
        expected,
    ))
}

/// `sign s3://`: signs a model where it already is. Every object streams through SHA-256 (with
/// `If-Match` on its listed ETag), nothing is kept, and the signature goes up last with SSE-KMS,
/// HEAD-checked like `push`'s. A model that already has a signature is refused unless `force`.
pub fn sign(
    uri: &str,
    signer: &Signing,
    sse: PushSse,
    (force, json): (bool, bool),
    (method, hash_algorithm): model::Serialized,
    aws: &Aws,
    threads: Option<usize>,
) -> Result<()> {
    let uri = parse_uri(uri)?;
    let engine = aws.engine(threads);
    let stopped = |signal: &str| {
        Failure::cannot_check(
            format!("sign stopped by {signal}; no signature written"),
            "run the command again",
        )
    };
    let hashing = async {
        let located = locate(&engine, &uri).await.map_err(fetch_failure)?;
        let sig = located.default_signature();
        if !force
            && engine
                .head(&sig.bucket, &sig.key)
                .await
                .map_err(s3_failure)?
                .is_some()
        {
            return Err(Failure::cannot_check(
                format!("{} already holds a signature: {sig}", located.uri()),
                "pass --force to replace it (verify first: it may be the signature you need)",
            ));
        }
        let (sse, expected) =
            resolve_sse(aws, &engine, &sig.bucket, sse.kms_key_id.as_deref()).await?;
        let inside = (!located.is_single_file())
            .then(|| ResourcePath::parse(SIGNATURE_NAME).ok())
            .flatten();
        let local = located.local_model();
        let plan =
            SigningPlan::new(&local, inside.as_ref(), &[]).serialized(method, hash_algorithm);
        let progress = progress("sign", &located, &engine);
        let digests = modelseal_fetch::hash_for_signing(&engine, &located, plan.jobs(&local))
            .await
            .map_err(fetch_failure)?;
        progress.phase("signing and uploading the signature");
        Ok((located, sig, sse, expected, plan, digests, progress))
    };
    let (located, sig, sse, expected, plan, digests, progress) = aws.rt.block_on(async {
        tokio::select! {
            r = hashing => r,
            signal = stop_requested() => Err(stopped(signal)),
        }
    })?;
    // Signed outside the runtime: a KMS key blocks on its own call to KMS.
    let bundle = model::sign_items(
        &located.model_name(),
        &located.uri(),
        signer,
        &digests,
        &plan,
    )?;
    aws.rt.block_on(async {
        tokio::select! {
            r = upload_signature(&engine, &sig.bucket, &sig.key, bundle.into_bytes(), &sse, &expected) => r,
            signal = stop_requested() => Err(stopped(signal)),
        }
    })?;
    drop(progress);
    let model_uri = located.uri();
    if json {
        /// `sign s3://`'s report.
        #[derive(serde::Serialize)]
        struct Signed {
            signed: bool,
            uri: String,
            signature: String,
            sse: &'static str,
            sse_kms_key_id: Option<String>,
            #[serde(flatten)]
            items: verdict::SignedItems,
        }
        let report = Signed {
            signed: true,
            uri: model_uri,
            signature: sig.to_string(),
            sse: "aws:kms",
            sse_kms_key_id: sse.kms_key_id.clone(),
            items: verdict::SignedItems::of(&digests),
        };
        crate::report::success("sign", &report);
    } else {
        println!(
            "Signed model '{model_uri}' ({}, digest sha256:{}) with {}; signature written to {sig}, encrypted with SSE-KMS ({})",
            count(model::file_count(&digests), "file"),
            modelseal_kernel::oms::pinned_digest_of_items(&digests).to_hex(),
            signer.describe(),
            sse.kms_key_id.as_deref().unwrap_or("the bucket's default key")
        );
    }
    Ok(())
}

/// Last: the signature. Until it exists, the prefix is not a signed model.
async fn upload_signature(
    engine: &Engine,
    bucket: &str,
    sig_key: &str,
    bundle: Vec<u8>,
    sse: &Sse,
    expected: &[String],
) -> Result<()> {
    engine
        .put_bytes(bucket, sig_key, bundle.into(), sse)
        .await
        .map_err(s3_failure)?;
    let head = engine
        .head(bucket, sig_key)
        .await
        .map_err(s3_failure)?
        .ok_or_else(|| {
            Failure::cannot_check(
                format!("s3://{bucket}/{sig_key} vanished after upload"),
                "try again",
            )
        })?;
    check_sse(&head, expected, bucket)
}
