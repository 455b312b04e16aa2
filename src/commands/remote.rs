//! The S3 commands: `verify s3://...` (stream and hash, keep nothing), `pull` (stream, hash and
//! stage, then place), and `push` (sign, upload with SSE-KMS, check, signature last).

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write as _;
use std::path::{Path, PathBuf};

use modelseal_kernel::manifest::{
    ItemKey, LocalFile, LocalModel, Mismatch, Plan, ResourcePath, SignedManifest, Verified,
};
use modelseal_kernel::oms::TlogPolicy;
use modelseal_kernel::{Digest, Hasher, PublicKey, Signer};
use modelseal_s3::{Engine, Head, Object, S3Error, S3Uri, Sink, Sse};

use super::model;
use crate::aws::{s3_failure, Aws};
use crate::failure::{self, Failure, Result};
use crate::files;

/// Where a directory model's signature lives, under its prefix.
pub const SIGNATURE_NAME: &str = "model.sig";
/// Signatures larger than this are refused unread.
const SIGNATURE_LIMIT: u64 = 16 << 20;

pub fn parse_uri(uri: &str) -> Result<S3Uri> {
    S3Uri::parse(uri).map_err(|e| Failure::cannot_check(e.to_string(), "write s3://BUCKET/PREFIX"))
}

/// A model in a bucket, as listed.
enum Remote {
    File {
        object: Object,
        name: String,
    },
    Dir {
        prefix: String,
        objects: BTreeMap<ResourcePath, Object>,
    },
}

struct Located {
    bucket: String,
    remote: Remote,
    /// Where the signature is unless the user names another.
    default_signature: String,
}

/// A single object when the key names one, else the directory under `key/` (never `key-v2/`).
async fn locate(engine: &Engine, uri: &S3Uri) -> Result<Located> {
    let bucket = uri.bucket.clone();
    if !uri.key.is_empty() && !uri.key.ends_with('/') {
        if let Some(head) = engine.head(&bucket, &uri.key).await.map_err(s3_failure)? {
            let name = uri.key.rsplit('/').next().unwrap_or(&uri.key).to_string();
            return Ok(Located {
                default_signature: format!("{}.sig", uri.key),
                bucket,
                remote: Remote::File {
                    object: head.object,
                    name,
                },
            });
        }
    }
    let prefix = uri.dir_prefix();
    let listed = engine.list(&bucket, &prefix).await.map_err(s3_failure)?;
    let mut objects = BTreeMap::new();
    let mut unsafe_keys = Vec::new();
    for o in listed {
        let rel = &o.key[prefix.len()..];
        if rel.is_empty() || (rel.ends_with('/') && o.size == 0) {
            continue; // directory markers
        }
        match ResourcePath::parse(rel) {
            Ok(p) if !p.is_single_file() => {
                objects.insert(p, o);
            }
            _ => unsafe_keys.push(o.key),
        }
    }
    if objects.is_empty() && unsafe_keys.is_empty() {
        return Err(Failure::cannot_check(
            format!("no object or prefix at s3://{bucket}/{}", uri.key),
            "check the URI: s3://BUCKET/PREFIX for a model directory, s3://BUCKET/KEY for a single file",
        ));
    }
    if !unsafe_keys.is_empty() {
        return Err(Failure::untrusted(
            format!("s3://{bucket}/{prefix} holds objects whose keys are not safe relative paths"),
            "remove them; a signed model never contains such names",
        )
        .with_details(unsafe_keys));
    }
    Ok(Located {
        default_signature: format!("{prefix}{SIGNATURE_NAME}"),
        bucket,
        remote: Remote::Dir { prefix, objects },
    })
}

impl Located {
    fn local_model(&self) -> LocalModel {
        match &self.remote {
            Remote::File { object, name } => LocalModel::File {
                name: name.clone(),
                size: object.size,
            },
            Remote::Dir { objects, .. } => LocalModel::Directory {
                files: objects
                    .iter()
                    .map(|(p, o)| LocalFile {
                        path: p.clone(),
                        size: o.size,
                    })
                    .collect(),
            },
        }
    }

    fn object(&self, path: &ResourcePath) -> Option<&Object> {
        match &self.remote {
            Remote::File { object, .. } => Some(object),
            Remote::Dir { objects, .. } => objects.get(path),
        }
    }

    /// The signature's path relative to the model, when it lies inside the prefix.
    fn signature_inside(&self, signature: &Signature) -> Option<ResourcePath> {
        match (&self.remote, signature) {
            (Remote::Dir { prefix, .. }, Signature::S3(uri)) if uri.bucket == self.bucket => uri
                .key
                .strip_prefix(prefix.as_str())
                .and_then(|rel| ResourcePath::parse(rel).ok()),
            _ => None,
        }
    }

    /// The name a placed file gets (relative to DEST).
    fn placed_name(&self, path: &ResourcePath) -> String {
        match &self.remote {
            Remote::File { name, .. } => name.clone(),
            Remote::Dir { .. } => path.to_string(),
        }
    }
}

/// Where the bundle is read from.
enum Signature {
    S3(S3Uri),
    Local(PathBuf),
}

impl Signature {
    fn new(given: Option<&str>, located: &Located) -> Result<Signature> {
        Ok(match given {
            Some(s) if s.starts_with("s3://") => Signature::S3(parse_uri(s)?),
            Some(s) => Signature::Local(PathBuf::from(s)),
            None => Signature::S3(S3Uri {
                bucket: located.bucket.clone(),
                key: located.default_signature.clone(),
            }),
        })
    }

    fn shown(&self) -> String {
        match self {
            Signature::S3(u) => u.to_string(),
            Signature::Local(p) => p.display().to_string(),
        }
    }

    async fn read(&self, engine: &Engine) -> Result<Option<Vec<u8>>> {
        match self {
            Signature::S3(u) => match engine.get_small(&u.bucket, &u.key, SIGNATURE_LIMIT).await {
                Ok(b) => Ok(Some(b)),
                Err(S3Error::NoSuchKey { .. }) => Ok(None),
                Err(e) => Err(s3_failure(e)),
            },
            Signature::Local(p) => match std::fs::read(p) {
                Ok(b) => Ok(Some(b)),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
                Err(e) => Err(failure::io("read signature", p, &e)),
            },
        }
    }
}

/// Hashes an object's bytes as they stream in (one hasher per signed item, by byte range) and,
/// when pulling, writes them to a staged file.
struct HashSink {
    items: Vec<(ItemKey, u64, u64)>,
    hashers: Vec<Hasher>,
    cursor: usize,
    pos: u64,
    out: Option<std::fs::File>,
}

impl Sink for HashSink {
    fn write(&mut self, chunk: &[u8]) -> std::io::Result<()> {
        if let Some(f) = &mut self.out {
            f.write_all(chunk)?;
        }
        let mut off = 0;
        while off < chunk.len() {
            let Some(&(_, _, end)) = self.items.get(self.cursor) else {
                return Err(std::io::Error::other(
                    "the object is longer than its signed items",
                ));
            };
            if self.pos >= end {
                self.cursor += 1;
                continue;
            }
            let take = usize::try_from(end - self.pos)
                .unwrap_or(usize::MAX)
                .min(chunk.len() - off);
            self.hashers[self.cursor].update(&chunk[off..off + take]);
            self.pos += take as u64;
            off += take;
        }
        Ok(())
    }
}

impl HashSink {
    fn finish(self) -> std::io::Result<Vec<(ItemKey, Digest)>> {
        if let Some(f) = self.out {
            f.sync_all()?;
        }
        Ok(self
            .items
            .into_iter()
            .zip(self.hashers)
            .map(|((k, _, _), h)| (k, h.finalize()))
            .collect())
    }
}

/// Creates a staged file that did not exist, readable by any UID (the serving container's).
fn create_staged(path: &Path) -> std::io::Result<std::fs::File> {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)?;
    }
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    std::os::unix::fs::OpenOptionsExt::mode(&mut opts, 0o644);
    opts.open(path)
}

/// Downloads and hashes every job in `plan`; with `staging`, also writes each file there.
async fn hash_remote(
    engine: &Engine,
    located: &Located,
    plan: &Plan,
    staging: Option<&Path>,
) -> Result<Vec<(ItemKey, Digest)>> {
    let mut jobs = Vec::with_capacity(plan.jobs.len());
    for job in &plan.jobs {
        let object = located
            .object(&job.path)
            .ok_or_else(|| {
                Failure::cannot_check(
                    format!("internal: no object for {}", job.path),
                    "report this bug",
                )
            })?
            .clone();
        let items: Vec<(ItemKey, u64, u64)> = job
            .keys
            .iter()
            .map(|k| match k {
                ItemKey::File(_) => (k.clone(), 0, object.size),
                ItemKey::Shard { start, end, .. } => (k.clone(), *start, *end),
            })
            .collect();
        let out = match staging {
            Some(dir) => {
                let p = located
                    .placed_name(&job.path)
                    .split('/')
                    .fold(dir.to_path_buf(), |p, c| p.join(c));
                Some(create_staged(&p).map_err(|e| failure::io("write", &p, &e))?)
            }
            None => None,
        };
        let hashers = items.iter().map(|_| Hasher::new(job.algorithm)).collect();
        jobs.push((
            object,
            HashSink {
                items,
                hashers,
                cursor: 0,
                pos: 0,
                out,
            },
        ));
    }
    let done = engine
        .download_many(&located.bucket, jobs)
        .await
        .map_err(s3_failure)?;
    let mut results = Vec::new();
    for (object, sink) in done {
        results.extend(sink.finish().map_err(|e| {
            Failure::cannot_check(
                format!("cannot finish s3://{}/{}: {e}", located.bucket, object.key),
                "check the local disk",
            )
        })?);
    }
    Ok(results)
}

/// Steps 0-10 against a bucket: signature first, then listing, then every signed object
/// streamed through the hashers (and into `staging` when given).
async fn verify_located(
    engine: &Engine,
    located: &Located,
    signature: &Signature,
    key: &PublicKey,
    tlog: TlogPolicy,
    staging: Option<&Path>,
) -> Result<(SignedManifest, Plan, Verified, Vec<u8>)> {
    let bytes = signature.read(engine).await?;
    let sig_bytes = bytes.clone().unwrap_or_default();
    let manifest = model::check_signature(bytes, &signature.shown(), key, tlog)?;
    let extra: Vec<ResourcePath> = located.signature_inside(signature).into_iter().collect();
    let plan = manifest.plan(&located.local_model(), &extra);
    let shown = format!("s3://{}/{}", located.bucket, located_key(located));
    // The listing alone can prove a mismatch: refuse before moving any bytes.
    if !plan.missing.is_empty() || !plan.extra.is_empty() || !plan.size_changed.is_empty() {
        let m = Mismatch {
            changed: Vec::new(),
            size_changed: plan.size_changed.clone(),
            missing: plan.missing.clone(),
            extra: plan.extra.clone(),
        };
        return Err(model::mismatch_failure(&shown, &m));
    }
    let digests = hash_remote(engine, located, &plan, staging).await?;
    let verified = manifest
        .check(&plan, &digests)
        .map_err(|m| model::mismatch_failure(&shown, &m))?;
    Ok((manifest, plan, verified, sig_bytes))
}

fn located_key(l: &Located) -> String {
    match &l.remote {
        Remote::File { object, .. } => object.key.clone(),
        Remote::Dir { prefix, .. } => prefix.clone(),
    }
}

pub fn verify(
    uri: &str,
    key: &PublicKey,
    signature: Option<&str>,
    tlog: TlogPolicy,
    json: bool,
    aws: &Aws,
) -> Result<()> {
    let uri = parse_uri(uri)?;
    let engine = aws.engine();
    aws.rt.block_on(async {
        let located = locate(&engine, &uri).await?;
        let signature = Signature::new(signature, &located)?;
        let (_, _, v, _) = verify_located(&engine, &located, &signature, key, tlog, None).await?;
        let shown = format!("s3://{}/{}", located.bucket, located_key(&located));
        model::report(&v, &shown, json, &[]);
        Ok(())
    })
}

/// Removes a staging directory; failures are reported, not fatal.
fn remove_staging(staging: &Path) {
    if let Err(e) = std::fs::remove_dir_all(staging) {
        if e.kind() != std::io::ErrorKind::NotFound {
            eprintln!("warning: could not remove {}: {e}", staging.display());
        }
    }
}

pub fn pull(
    uri: &str,
    dest: &Path,
    key: &PublicKey,
    signature: Option<&str>,
    tlog: TlogPolicy,
    json: bool,
    aws: &Aws,
) -> Result<()> {
    let uri = parse_uri(uri)?;
    let engine = aws.engine();
    let created_dest = !dest.exists();
    std::fs::create_dir_all(dest).map_err(|e| failure::io("create", dest, &e))?;
    let staging = dest.join(format!(".modelseal-staging-{}", std::process::id()));
    let result = aws.rt.block_on(async {
        let located = locate(&engine, &uri).await?;
        let signature = Signature::new(signature, &located)?;
        std::fs::create_dir(&staging).map_err(|e| failure::io("create", &staging, &e))?;
        let (_, plan, v, sig_bytes) =
            verify_located(&engine, &located, &signature, key, tlog, Some(&staging)).await?;
        Ok::<_, Failure>((located, plan, v, sig_bytes))
    });
    let (located, plan, v, sig_bytes) = match result {
        Ok(r) => r,
        Err(f) => {
            remove_staging(&staging);
            if created_dest {
                let _ = std::fs::remove_dir(dest);
            }
            return Err(f);
        }
    };
    // Verified: move every staged file into place, then the signature beside them.
    let mut placed = 0usize;
    for job in &plan.jobs {
        let name = located.placed_name(&job.path);
        let from = name.split('/').fold(staging.clone(), |p, c| p.join(c));
        let to = name.split('/').fold(dest.to_path_buf(), |p, c| p.join(c));
        if let Some(parent) = to.parent() {
            std::fs::create_dir_all(parent).map_err(|e| failure::io("create", parent, &e))?;
        }
        std::fs::rename(&from, &to).map_err(|e| failure::io("place", &to, &e))?;
        placed += 1;
    }
    let sig_name = match &located.remote {
        Remote::File { name, .. } => format!("{name}.sig"),
        Remote::Dir { .. } => SIGNATURE_NAME.to_string(),
    };
    files::write_atomic(&dest.join(&sig_name), &sig_bytes, 0o644, true)?;
    remove_staging(&staging);
    if let Ok(d) = std::fs::File::open(dest) {
        let _ = d.sync_all();
    }
    let shown = format!("s3://{}/{}", located.bucket, located_key(&located));
    model::report(
        &v,
        &shown,
        json,
        &[
            ("dest", serde_json::json!(dest.display().to_string())),
            ("files_placed", serde_json::json!(placed)),
        ],
    );
    if !json {
        println!("Placed {placed} files and {sig_name} in {}", dest.display());
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

#[allow(clippy::too_many_arguments)]
pub fn push(
    model_path: &Path,
    uri: &str,
    key: &str,
    signature: Option<&Path>,
    sse: PushSse,
    json: bool,
    aws: &Aws,
    threads: usize,
) -> Result<()> {
    let uri = parse_uri(uri)?;
    let model = model::open(model_path, false)?;
    // Where each file goes, and where the signature goes.
    let (uploads, sig_key): (Vec<(PathBuf, String, u64)>, String) = match &model.local {
        LocalModel::File { name, size } => {
            let object = if uri.key.is_empty() || uri.key.ends_with('/') {
                format!("{}{name}", uri.dir_prefix())
            } else {
                uri.key.clone()
            };
            (
                vec![(model.path.clone(), object.clone(), *size)],
                format!("{object}.sig"),
            )
        }
        LocalModel::Directory { files } => {
            let prefix = uri.dir_prefix();
            let ignores: Vec<ResourcePath> = modelseal_kernel::manifest::DEFAULT_IGNORES
                .iter()
                .chain(std::iter::once(&SIGNATURE_NAME))
                .filter_map(|p| ResourcePath::parse(p).ok())
                .collect();
            let ups = files
                .iter()
                .filter(|f| !ignores.iter().any(|i| f.path.is_within(i)))
                .map(|f| {
                    (
                        model.file_path(&f.path),
                        format!("{prefix}{}", f.path),
                        f.size,
                    )
                })
                .collect();
            (ups, format!("{prefix}{SIGNATURE_NAME}"))
        }
    };
    // The bundle: signed now, or an existing one checked against the model before it goes up.
    let bundle = match signature {
        None => {
            let signer: Box<dyn Signer> = crate::keyfile::signer(key, Some(aws))?;
            // Sign as if the signature sat at MODEL/model.sig, which is where it will be.
            let inside = (!model.is_file())
                .then(|| ResourcePath::parse(SIGNATURE_NAME).ok())
                .flatten();
            model::sign_model(&model, signer.as_ref(), inside, threads)?
                .0
                .into_bytes()
        }
        Some(path) => {
            let public = crate::keyfile::any_public_key(key, Some(aws))?;
            let bytes = std::fs::read(path).map_err(|e| failure::io("read signature", path, &e))?;
            check_local(&model, &bytes, path, &public, threads)?;
            bytes
        }
    };
    let engine = aws.engine();
    let sse_spec = Sse {
        kms_key_id: sse.kms_key_id.clone(),
    };
    let result = aws.rt.block_on(async {
        tokio::select! {
            r = upload_all(&engine, aws, &uri.bucket, &uploads, &sig_key, bundle, &sse_spec) => r,
            _ = tokio::signal::ctrl_c() => {
                engine.abort_active().await;
                Err(Failure::cannot_check("push interrupted; multipart uploads aborted, no signature written", "run the push again"))
            }
        }
    });
    let count = uploads.len();
    result?;
    if json {
        println!(
            "{}",
            serde_json::json!({
                "pushed": true,
                "uri": format!("s3://{}/{}", uri.bucket, uri.key),
                "objects": count,
                "signature": format!("s3://{}/{sig_key}", uri.bucket),
                "sse": "aws:kms",
                "sse_kms_key_id": sse.kms_key_id,
            })
        );
    } else {
        println!(
            "Pushed {count} files and the signature to s3://{}/{sig_key}, encrypted with SSE-KMS ({})",
            uri.bucket,
            sse.kms_key_id.as_deref().unwrap_or("the bucket's default key")
        );
    }
    Ok(())
}

/// Checks an existing bundle against the local model before it is published.
fn check_local(
    model: &files::Model,
    bytes: &[u8],
    path: &Path,
    key: &PublicKey,
    threads: usize,
) -> Result<()> {
    let manifest = model::check_signature(
        Some(bytes.to_vec()),
        &path.display().to_string(),
        key,
        TlogPolicy::Refuse,
    )?;
    let extra: Vec<ResourcePath> = model::signature_inside(model, path).into_iter().collect();
    let plan = manifest.plan(&model.local, &extra);
    let tasks = plan
        .jobs
        .iter()
        .map(|j| {
            (
                crate::hashing::Task {
                    file: model.file_path(&j.path),
                    job: j.clone(),
                },
                0,
            )
        })
        .collect();
    let digests = crate::hashing::run(tasks, threads)?;
    manifest
        .check(&plan, &digests)
        .map(|_| ())
        .map_err(|m| model::mismatch_failure(&model.path.display().to_string(), &m))
}

async fn upload_all(
    engine: &Engine,
    aws: &Aws,
    bucket: &str,
    uploads: &[(PathBuf, String, u64)],
    sig_key: &str,
    bundle: Vec<u8>,
    sse: &Sse,
) -> Result<()> {
    use futures_util::stream::{self, StreamExt, TryStreamExt};
    engine.check_bucket(bucket).await.map_err(s3_failure)?;
    // Objects already under a directory prefix that this model does not contain would make
    // every later verification fail as extra files: refuse up front.
    if let Some(prefix) = sig_key.strip_suffix(SIGNATURE_NAME) {
        let ours: BTreeSet<&str> = uploads
            .iter()
            .map(|(_, k, _)| k.as_str())
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
    // The key S3 will report: the ARN, on AWS; moto echoes what was sent. Accept both.
    let mut expected = Vec::new();
    if let Some(id) = &sse.kms_key_id {
        expected.push(id.clone());
        let arn = modelseal_kms::key_arn(&aws.sdk, id).await.map_err(|e| {
            Failure::cannot_check(
                format!("cannot resolve the SSE-KMS key {id}: {e}"),
                "check --sse-kms-key-id, the region and AWS_ENDPOINT_URL_KMS",
            )
        })?;
        expected.push(arn);
    }
    let parallel = engine.tuning().parallel_objects.max(1);
    let written: Vec<String> = stream::iter(uploads.iter())
        .map(|(path, key, size)| async move {
            engine
                .upload_file(bucket, key, path, *size, sse)
                .await
                .map(|u| u.key)
        })
        .buffer_unordered(parallel)
        .try_collect()
        .await
        .map_err(s3_failure)?;
    for key in &written {
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
    // Last: the signature. Until it exists, the prefix is not a signed model.
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
    check_sse(&head, &expected, bucket)
}
