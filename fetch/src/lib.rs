//! Verified fetch of a model from S3, shared by `modelseal pull`/`verify s3://` and
//! `modelseal-init`: locate the model, check its signature before any model byte moves, stream
//! every signed object through the kernel's hashers (and into a staging directory), check the
//! result, and only then place the files.
//!
//! This crate joins the kernel (what to trust) and the S3 engine (how bytes move); it decides
//! nothing itself and prints nothing.

// The one exception is `staged::set_direct` (two fcntl calls).
#![deny(unsafe_code)]

use std::collections::BTreeMap;
use std::fmt;
use std::io::Write as _;
use std::path::{Path, PathBuf};

use modelseal_kernel::bundle::{Bundle, BundleError};
use modelseal_kernel::manifest::{
    HashJob, ItemKey, LocalFile, LocalModel, Mismatch, Plan, PlanOptions, ResourcePath,
    SignedManifest, UnsignedFiles, Verified,
};
use modelseal_kernel::trust::{Accepted, ModelVerdict, Policy, TrustError};
use modelseal_kernel::{Digest, Hasher};
use modelseal_s3::{Chunk, Engine, Object, S3Error, S3Uri, Sink};

pub mod audit;
pub mod evidence;
pub mod progress;
mod staged;
pub mod trust;
use evidence::{EvidenceError, Links, SIGNATURE_LIMIT};
use staged::StagedFile;

/// Where a directory model's signature lives, under its prefix.
pub const SIGNATURE_NAME: &str = "model.sig";
/// The hidden directory inside DEST where files wait until the model verified. A model may not
/// hold a file or directory of this name at its top level.
pub const STAGING_NAME: &str = ".modelseal-staging";

/// Why a fetch failed. [`FetchError::is_verdict`] tells a security verdict from a failure to check.
#[derive(Debug)]
pub enum FetchError {
    /// Boxed: S3 errors carry several strings, and results travel far.
    S3(Box<S3Error>),
    /// Nothing at the URI: no object, and no objects under the prefix.
    NothingAt(String),
    /// Objects under the prefix whose keys are not safe relative paths.
    UnsafeKeys {
        prefix: String,
        keys: Vec<String>,
    },
    /// A model path whose first component is reserved ([`STAGING_NAME`]).
    ReservedName {
        model: String,
        name: String,
    },
    SignatureMissing(String),
    /// The signature exists but cannot be evidence: a symlink, a FIFO, a device, too large.
    SignatureUnusable {
        shown: String,
        why: EvidenceError,
    },
    SignatureMalformed {
        shown: String,
        error: BundleError,
    },
    /// The trust policy refused the model's signature (or the model it covers: revoked, or
    /// not the pinned one). `signature` and `model` name them in messages.
    Trust {
        signature: String,
        model: String,
        error: TrustError,
    },
    /// The model differs from its signed manifest (or from its pinned digest).
    Mismatch {
        shown: String,
        mismatch: Mismatch,
    },
    /// Only a pinned digest (no key) was given for a model that is not a single file.
    PinNeedsSingleFile(String),
    /// The pinned digest is not the model's (see `SignedManifest::pinned_digest`).
    PinMismatch {
        uri: String,
        pinned: String,
        found: String,
        source: &'static str,
    },
    /// The process was asked to stop (the signal's name); nothing was placed.
    Stopped(&'static str),
    /// DEST holds entries that are not this run's (the CLI's `pull` refuses them; placement
    /// stops when one appears during a run).
    DestNotEmpty {
        dest: PathBuf,
        entries: Vec<String>,
    },
    Local {
        what: String,
        path: PathBuf,
        error: std::io::Error,
    },
}

impl FetchError {
    /// True when the model or its signature cannot be trusted (exit 1 in the CLI); false when
    /// the check could not be run (exit 2).
    pub fn is_verdict(&self) -> bool {
        match self {
            FetchError::S3(e) if matches!(**e, S3Error::ObjectChanged { .. }) => true,
            FetchError::S3(_)
            | FetchError::NothingAt(_)
            | FetchError::Local { .. }
            | FetchError::DestNotEmpty { .. }
            | FetchError::Stopped(_)
            | FetchError::PinNeedsSingleFile(_) => false,
            _ => true,
        }
    }

    fn s3(e: S3Error) -> Self {
        FetchError::S3(Box::new(e))
    }

    fn local(what: &str, path: &Path, error: std::io::Error) -> Self {
        FetchError::Local {
            what: what.to_string(),
            path: path.to_path_buf(),
            error,
        }
    }
}

impl fmt::Display for FetchError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FetchError::S3(e) => write!(f, "{e}"),
            FetchError::NothingAt(uri) => write!(f, "no object or prefix at {uri}"),
            FetchError::UnsafeKeys { prefix, keys } => write!(
                f,
                "{prefix} holds objects whose keys are not safe relative paths: {}",
                keys.join(", ")
            ),
            FetchError::ReservedName { model, name } => write!(
                f,
                "{model} holds '{name}', a name modelseal reserves for its staging directory"
            ),
            FetchError::SignatureMissing(shown) => write!(f, "signature {shown} not found"),
            FetchError::SignatureUnusable {
                shown,
                why: EvidenceError::TooLarge { size, limit },
            } => write!(f, "signature {shown} is {size} bytes; the limit is {limit}"),
            FetchError::SignatureUnusable { shown, why } => {
                write!(f, "signature {shown} cannot be used: {why}")
            }
            FetchError::SignatureMalformed { shown, error } => {
                write!(f, "signature {shown} is malformed: {error}")
            }
            FetchError::Trust {
                model,
                error:
                    TrustError::PinMismatch {
                        pinned,
                        found,
                        kind,
                    },
                ..
            } => write!(
                f,
                "the pinned digest sha256:{} is not {} of {model} (sha256:{})",
                pinned.to_hex(),
                kind.describe(),
                found.to_hex()
            ),
            FetchError::Trust {
                model,
                error: error @ TrustError::Revoked { .. },
                ..
            } => write!(f, "model {model} is refused: {error}"),
            FetchError::Trust {
                error: error @ TrustError::NoRule { .. },
                ..
            } => write!(f, "{error}"),
            FetchError::Trust {
                signature, error, ..
            } => write!(f, "signature {signature} does not verify: {error}"),
            FetchError::Mismatch { shown, .. } => {
                write!(f, "model '{shown}' does not match its signature")
            }
            FetchError::PinNeedsSingleFile(uri) => write!(
                f,
                "a digest alone can only pin a single file, but {uri} is a directory of objects"
            ),
            FetchError::PinMismatch {
                uri,
                pinned,
                found,
                source,
            } => write!(
                f,
                "the pinned digest sha256:{pinned} is not {source} of {uri} (sha256:{found})"
            ),
            FetchError::Stopped(signal) => write!(f, "stopped by {signal}; nothing was placed"),
            FetchError::DestNotEmpty { dest, entries } => write!(
                f,
                "{} is not empty: it holds {}",
                dest.display(),
                entries
                    .iter()
                    .map(|e| format!("'{e}'"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            FetchError::Local { what, path, error } => {
                write!(f, "cannot {what} {}: {error}", path.display())
            }
        }
    }
}

impl std::error::Error for FetchError {}

/// Steps 0-8 under the trust policy: a bundle's bytes (`None` when it does not exist) to a
/// manifest whose every byte a signature the policy accepts for `location` covers, neither
/// revoked nor other than the policy's pin. `shown` names the bundle and `model` the model in
/// errors.
pub fn check_signature(
    bytes: Option<Vec<u8>>,
    shown: &str,
    model: &str,
    policy: &Policy,
    location: &str,
) -> Result<ModelVerdict, FetchError> {
    let bytes = bytes.ok_or_else(|| FetchError::SignatureMissing(shown.to_string()))?;
    let bundle = Bundle::from_json(&bytes).map_err(|error| FetchError::SignatureMalformed {
        shown: shown.to_string(),
        error,
    })?;
    policy
        .verify_model(&bundle, location)
        .map_err(|error| FetchError::Trust {
            signature: shown.to_string(),
            model: model.to_string(),
            error,
        })
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

/// A located model: a single object when the URI names one, else the objects under `key/`.
pub struct Located {
    pub bucket: String,
    remote: Remote,
    default_signature: String,
}

impl Located {
    /// The model as `s3://bucket/key` (the prefix ends in `/`).
    pub fn uri(&self) -> String {
        match &self.remote {
            Remote::File { object, .. } => format!("s3://{}/{}", self.bucket, object.key),
            Remote::Dir { prefix, .. } => format!("s3://{}/{prefix}", self.bucket),
        }
    }

    /// The model's location as a trust policy's rules match it: `s3://BUCKET/PREFIX` without a
    /// trailing slash (`s3://BUCKET` for a bucket's root), or `s3://BUCKET/KEY`.
    pub fn location(&self) -> String {
        self.uri().trim_end_matches('/').to_string()
    }

    pub fn is_single_file(&self) -> bool {
        matches!(self.remote, Remote::File { .. })
    }

    /// The model's objects as listed and their total size (what a progress bar counts toward;
    /// the signature and any extra objects under the prefix are included).
    pub fn listed(&self) -> (usize, u64) {
        match &self.remote {
            Remote::File { object, .. } => (1, object.size),
            Remote::Dir { objects, .. } => (objects.len(), objects.values().map(|o| o.size).sum()),
        }
    }

    /// The signature's default location: `PREFIX/model.sig`, or `KEY.sig`.
    pub fn default_signature(&self) -> S3Uri {
        S3Uri {
            bucket: self.bucket.clone(),
            key: self.default_signature.clone(),
        }
    }

    /// A single-object model from an object already listed, for checking in place (`audit`):
    /// its name is not vetted for placement as `locate` vets it, so never `place` it.
    pub fn single(bucket: String, object: Object) -> Self {
        let name = object
            .key
            .rsplit('/')
            .next()
            .unwrap_or(&object.key)
            .to_string();
        Located {
            default_signature: format!("{}.sig", object.key),
            bucket,
            remote: Remote::File { object, name },
        }
    }

    /// The full object key of a model path (for messages and audits).
    pub fn object_key(&self, path: &ResourcePath) -> String {
        match &self.remote {
            Remote::File { object, .. } => object.key.clone(),
            Remote::Dir { prefix, .. } => format!("{prefix}{path}"),
        }
    }

    /// The file name the signature gets when placed beside the model.
    pub fn signature_file_name(&self) -> String {
        match &self.remote {
            Remote::File { name, .. } => format!("{name}.sig"),
            Remote::Dir { .. } => SIGNATURE_NAME.to_string(),
        }
    }

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

    /// Signature paths under the prefix, which the plan excuses by their exact keys only: the
    /// signature used, when it lies there, and always the default `model.sig`, so that no
    /// object under `PREFIX/model.sig/` is ever excused by a signed ignore path.
    fn evidence(&self, signature: &SignatureSource) -> Vec<ResourcePath> {
        let Remote::Dir { prefix, .. } = &self.remote else {
            return Vec::new();
        };
        let mut paths: Vec<ResourcePath> = ResourcePath::parse(SIGNATURE_NAME)
            .ok()
            .into_iter()
            .collect();
        if let SignatureSource::S3(uri) = signature {
            if uri.bucket == self.bucket {
                let inside = uri
                    .key
                    .strip_prefix(prefix.as_str())
                    .and_then(|rel| ResourcePath::parse(rel).ok());
                paths.extend(inside.filter(|p| !paths.contains(p)));
            }
        }
        paths
    }

    /// The model's name in a signed statement, as model_signing names it: the directory's (the
    /// prefix's last component) or the file's.
    pub fn model_name(&self) -> String {
        match &self.remote {
            Remote::File { name, .. } => name.clone(),
            Remote::Dir { prefix, .. } => prefix
                .trim_end_matches('/')
                .rsplit('/')
                .next()
                .filter(|n| !n.is_empty())
                .unwrap_or(&self.bucket)
                .to_string(),
        }
    }

    /// The path (relative to DEST) a signed file is placed at.
    pub fn placed_name(&self, path: &ResourcePath) -> String {
        match &self.remote {
            Remote::File { name, .. } => name.clone(),
            Remote::Dir { .. } => path.to_string(),
        }
    }
}

/// Finds the model at `uri`. The directory boundary is `key/`: `s3://b/model` never reaches
/// `model-v2/`.
pub async fn locate(engine: &Engine, uri: &S3Uri) -> Result<Located, FetchError> {
    let bucket = uri.bucket.clone();
    if !uri.key.is_empty() && !uri.key.ends_with('/') {
        if let Some(head) = engine
            .head(&bucket, &uri.key)
            .await
            .map_err(FetchError::s3)?
        {
            let name = uri.key.rsplit('/').next().unwrap_or(&uri.key).to_string();
            // The name becomes a file in DEST: one safe component, never "." or "..".
            if ResourcePath::parse(&name)
                .map_or(true, |p| p.is_single_file() || p.as_str().contains('/'))
            {
                return Err(FetchError::UnsafeKeys {
                    prefix: format!("s3://{bucket}/"),
                    keys: vec![uri.key.clone()],
                });
            }
            if name == STAGING_NAME {
                return Err(FetchError::ReservedName {
                    model: format!("s3://{bucket}/{}", uri.key),
                    name,
                });
            }
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
    let listed = engine
        .list(&bucket, &prefix)
        .await
        .map_err(FetchError::s3)?;
    if listed.is_empty() {
        return Err(FetchError::NothingAt(format!("s3://{bucket}/{}", uri.key)));
    }
    located_dir(bucket, prefix, listed)
}

/// A directory model from objects already listed under `prefix` (which ends in `/`, or is
/// empty for a bucket's root); objects outside the prefix are not passed.
pub fn located_dir(
    bucket: String,
    prefix: String,
    listed: Vec<Object>,
) -> Result<Located, FetchError> {
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
        return Err(FetchError::NothingAt(format!("s3://{bucket}/{prefix}")));
    }
    if let Some(p) = objects
        .keys()
        .find(|p| p.components().next() == Some(STAGING_NAME))
    {
        return Err(FetchError::ReservedName {
            model: format!("s3://{bucket}/{prefix}"),
            name: p.to_string(),
        });
    }
    if !unsafe_keys.is_empty() {
        return Err(FetchError::UnsafeKeys {
            prefix: format!("s3://{bucket}/{prefix}"),
            keys: unsafe_keys,
        });
    }
    Ok(Located {
        default_signature: format!("{prefix}{SIGNATURE_NAME}"),
        bucket,
        remote: Remote::Dir { prefix, objects },
    })
}

/// Where the bundle is read from.
pub enum SignatureSource {
    S3(S3Uri),
    Local(PathBuf),
}

impl SignatureSource {
    pub fn shown(&self) -> String {
        match self {
            SignatureSource::S3(u) => u.to_string(),
            SignatureSource::Local(p) => p.display().to_string(),
        }
    }

    async fn read(&self, engine: &Engine) -> Result<Option<Vec<u8>>, FetchError> {
        let unusable = |why| FetchError::SignatureUnusable {
            shown: self.shown(),
            why,
        };
        match self {
            SignatureSource::S3(u) => {
                match engine.get_small(&u.bucket, &u.key, SIGNATURE_LIMIT).await {
                    Ok(b) => Ok(Some(b)),
                    Err(S3Error::NoSuchKey { .. }) => Ok(None),
                    Err(S3Error::TooLarge { size, limit, .. }) => {
                        Err(unusable(EvidenceError::TooLarge { size, limit }))
                    }
                    Err(e) => Err(FetchError::s3(e)),
                }
            }
            SignatureSource::Local(p) => read_local_signature(p),
        }
    }
}

/// Reads a signature file: `None` when it does not exist; refused (a verdict) when it is a
/// symlink, not a regular file, or larger than any bundle.
pub fn read_local_signature(path: &Path) -> Result<Option<Vec<u8>>, FetchError> {
    match evidence::read(path, SIGNATURE_LIMIT, Links::Refuse) {
        Ok(b) => Ok(Some(b)),
        Err(EvidenceError::NotFound(_)) => Ok(None),
        Err(EvidenceError::Io(e)) => Err(FetchError::local("read signature", path, e)),
        Err(why) => Err(FetchError::SignatureUnusable {
            shown: path.display().to_string(),
            why,
        }),
    }
}

/// Hashes an object's bytes as they stream in (one hasher per signed item, by byte range) and,
/// when staging, writes them to a new file.
struct HashSink {
    items: Vec<(ItemKey, u64, u64)>,
    hashers: Vec<Hasher>,
    cursor: usize,
    pos: u64,
    out: Option<StagedFile>,
}

impl Sink for HashSink {
    fn write(&mut self, chunk: &Chunk) -> std::io::Result<()> {
        if let Some(f) = &mut self.out {
            f.send(chunk)?;
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
    fn finish(mut self) -> std::io::Result<Vec<(ItemKey, Digest)>> {
        if let Some(mut f) = self.out.take() {
            f.join()?;
        }
        Ok(self
            .items
            .into_iter()
            .zip(self.hashers)
            .map(|((k, _, _), h)| (k, h.finalize()))
            .collect())
    }
}

/// Creates a file that did not exist, readable by any UID (the serving container's).
fn create_new(path: &Path) -> std::io::Result<std::fs::File> {
    if let Some(parent) = path.parent() {
        create_dirs(parent)?;
    }
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    std::os::unix::fs::OpenOptionsExt::mode(&mut opts, 0o644);
    let f = opts.open(path)?;
    // The mode above is subject to the umask; the serving container must be able to read.
    std::fs::set_permissions(path, std::os::unix::fs::PermissionsExt::from_mode(0o644))?;
    Ok(f)
}

fn create_dirs(dir: &Path) -> std::io::Result<()> {
    if dir.is_dir() {
        return Ok(());
    }
    std::fs::create_dir_all(dir)?;
    std::fs::set_permissions(dir, std::os::unix::fs::PermissionsExt::from_mode(0o755))
}

fn join(base: &Path, rel: &str) -> PathBuf {
    rel.split('/').fold(base.to_path_buf(), |p, c| p.join(c))
}

/// A model that verified (and, with staging, was written there).
pub struct Fetched {
    pub verified: Verified,
    pub plan: Plan,
    /// The bundle's bytes, to place beside the model; empty when trust was a pin.
    pub signature: Vec<u8>,
    /// Who the policy accepted (rule, authority, evidence); `None` when trust was a pin.
    pub accepted: Option<Accepted>,
}

/// A model whose signature verified and whose listing matches the signed manifest: what
/// `fetch` has established before any model byte moves (and all a shallow audit checks).
pub struct Listed {
    pub manifest: SignedManifest,
    pub plan: Plan,
    /// The bundle's bytes; empty when trust was a pin.
    pub signature: Vec<u8>,
    /// Who the policy accepted; `None` when trust was a pin.
    pub accepted: Option<Accepted>,
}

/// Steps 0-9 without hashing: the signature (and pin) checked, then the listing against the
/// signed manifest, so a missing, extra or resized object is refused before any byte moves.
/// With [`UnsignedFiles::Tolerate`], objects the manifest does not list are left where they are
/// (never downloaded, never placed) and reported in the plan.
pub async fn check_listing(
    engine: &Engine,
    located: &Located,
    policy: &Policy,
    signature: Option<SignatureSource>,
    unsigned: UnsignedFiles,
) -> Result<Listed, FetchError> {
    let uri = located.uri();
    let (manifest, signature, evidence, accepted) = match (policy.is_pin_only(), policy.pin()) {
        (true, Some(pin)) => {
            let Remote::File { name, .. } = &located.remote else {
                return Err(FetchError::PinNeedsSingleFile(uri));
            };
            (
                SignedManifest::from_pin(name, pin.clone()),
                Vec::new(),
                Vec::new(),
                None,
            )
        }
        _ => {
            let signature =
                signature.unwrap_or_else(|| SignatureSource::S3(located.default_signature()));
            let bytes = signature.read(engine).await?;
            let sig_bytes = bytes.clone().unwrap_or_default();
            let verdict =
                check_signature(bytes, &signature.shown(), &uri, policy, &located.location())?;
            let evidence = located.evidence(&signature);
            (
                verdict.manifest,
                sig_bytes,
                evidence,
                Some(verdict.accepted),
            )
        }
    };
    let options = PlanOptions {
        evidence,
        excluded: Vec::new(),
        unsigned,
    };
    let plan = manifest.plan(&located.local_model(), &options);
    // The listing alone can prove a mismatch: refuse before moving any bytes.
    if !plan.missing.is_empty() || !plan.extra.is_empty() || !plan.size_changed.is_empty() {
        let mismatch = Mismatch {
            changed: Vec::new(),
            size_changed: plan.size_changed.clone(),
            missing: plan.missing.clone(),
            extra: plan.extra.clone(),
        };
        return Err(FetchError::Mismatch {
            shown: uri,
            mismatch,
        });
    }
    Ok(Listed {
        manifest,
        plan,
        signature,
        accepted,
    })
}

/// Signature first, then every selected signed object streamed through the hashers (and into
/// `staging`), then the check. `select` keeps only some signed files (KServe's patterns);
/// `unsigned` says whether objects outside the manifest refuse the model or are left alone.
pub async fn fetch(
    engine: &Engine,
    located: &Located,
    policy: &Policy,
    signature: Option<SignatureSource>,
    unsigned: UnsignedFiles,
    staging: Option<&Path>,
    select: Option<&dyn Fn(&ResourcePath) -> bool>,
) -> Result<Fetched, FetchError> {
    let uri = located.uri();
    let Listed {
        manifest,
        mut plan,
        signature,
        accepted,
    } = check_listing(engine, located, policy, signature, unsigned).await?;
    if let Some(keep) = select {
        plan.select(keep);
    }
    let digests = hash_objects(engine, located, &plan, staging).await?;
    let verified = manifest.check(&plan, &digests).map_err(|mismatch| {
        match (accepted.is_none(), mismatch.changed.first()) {
            (true, Some(c)) => FetchError::PinMismatch {
                uri: uri.clone(),
                pinned: c.expected.to_hex(),
                found: c.actual.to_hex(),
                source: "the sha256",
            },
            _ => FetchError::Mismatch {
                shown: uri.clone(),
                mismatch,
            },
        }
    })?;
    Ok(Fetched {
        verified,
        plan,
        signature,
        accepted,
    })
}

/// What `sign s3://` signs: every object of the model except the default signature (by its exact
/// key) and those under an `ignore` path, streamed through SHA-256 with `If-Match` on each
/// listed ETag, so an object replaced while it is read fails the run instead of being signed.
pub async fn hash_for_signing(
    engine: &Engine,
    located: &Located,
    ignore: &[ResourcePath],
) -> Result<Vec<(ResourcePath, Digest)>, FetchError> {
    let job = |path: ResourcePath| HashJob {
        keys: vec![ItemKey::File(path.clone())],
        path,
        algorithm: modelseal_kernel::HashAlgorithm::Sha256,
    };
    let jobs = match &located.remote {
        Remote::File { .. } => vec![job(ResourcePath::single_file())],
        Remote::Dir { objects, .. } => objects
            .keys()
            .filter(|p| p.as_str() != SIGNATURE_NAME && !ignore.iter().any(|i| p.is_within(i)))
            .cloned()
            .map(job)
            .collect(),
    };
    let plan = Plan {
        jobs,
        ..Plan::default()
    };
    let digests = hash_objects(engine, located, &plan, None).await?;
    Ok(digests
        .into_iter()
        .map(|(k, d)| (k.path().clone(), d))
        .collect())
}

async fn hash_objects(
    engine: &Engine,
    located: &Located,
    plan: &Plan,
    staging: Option<&Path>,
) -> Result<Vec<(ItemKey, Digest)>, FetchError> {
    let mut jobs = Vec::with_capacity(plan.jobs.len());
    for job in &plan.jobs {
        let Some(object) = located.object(&job.path) else {
            return Err(FetchError::Mismatch {
                shown: located.uri(),
                mismatch: Mismatch {
                    changed: Vec::new(),
                    size_changed: Vec::new(),
                    missing: vec![job.path.clone()],
                    extra: Vec::new(),
                },
            });
        };
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
                let p = join(dir, &located.placed_name(&job.path));
                Some(StagedFile::new(
                    create_new(&p).map_err(|e| FetchError::local("write", &p, e))?,
                ))
            }
            None => None,
        };
        let hashers = items.iter().map(|_| Hasher::new(job.algorithm)).collect();
        jobs.push((
            object.clone(),
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
        .map_err(FetchError::s3)?;
    let mut results = Vec::new();
    for (object, sink) in done {
        let what = format!("finish s3://{}/{}", located.bucket, object.key);
        results.extend(
            sink.finish()
                .map_err(|e| FetchError::local(&what, Path::new(&object.key), e))?,
        );
    }
    Ok(results)
}

/// Makes `DEST/.modelseal-staging` afresh, removing what an earlier, interrupted attempt left
/// (a SIGKILL cannot be handled, so up to a model's worth of partial files can wait there until
/// the next run). A leftover symlink of that name is removed, not followed.
pub fn prepare_staging(dest: &Path) -> Result<PathBuf, FetchError> {
    create_dirs(dest).map_err(|e| FetchError::local("create", dest, e))?;
    let staging = dest.join(STAGING_NAME);
    remove_entry(&staging).map_err(|e| FetchError::local("remove the leftover", &staging, e))?;
    std::fs::create_dir(&staging).map_err(|e| FetchError::local("create", &staging, e))?;
    Ok(staging)
}

/// Removes the staging directory; returns whether it is gone.
pub fn remove_staging(staging: &Path) -> bool {
    remove_entry(staging).is_ok()
}

/// Removes a file, a symlink (never what it points to) or a whole directory tree; absent is fine.
fn remove_entry(path: &Path) -> std::io::Result<()> {
    let result = match std::fs::symlink_metadata(path) {
        Ok(m) if m.is_dir() => std::fs::remove_dir_all(path),
        Ok(_) => std::fs::remove_file(path),
        Err(e) => Err(e),
    };
    match result {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        r => r,
    }
}

fn entry_names(dest: &Path) -> Result<Vec<std::ffi::OsString>, FetchError> {
    let entries = match std::fs::read_dir(dest) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(FetchError::local("list", dest, e)),
    };
    let mut names = Vec::new();
    for entry in entries {
        let name = entry
            .map_err(|e| FetchError::local("list", dest, e))?
            .file_name();
        if name != STAGING_NAME {
            names.push(name);
        }
    }
    names.sort();
    Ok(names)
}

/// What DEST holds besides a staging directory, sorted; empty when DEST does not exist.
pub fn dest_entries(dest: &Path) -> Result<Vec<String>, FetchError> {
    Ok(entry_names(dest)?
        .into_iter()
        .map(|n| n.to_string_lossy().into_owned())
        .collect())
}

/// Empties DEST of everything but the staging directory, never following a symlink, so that
/// DEST ends with exactly the signed files. Entries that are, or lead to, a path in `keep` (the
/// DEST of another model of the same run) stay. Returns the names removed.
pub fn clear_dest(dest: &Path, keep: &[PathBuf]) -> Result<Vec<String>, FetchError> {
    let mut removed = Vec::new();
    for name in entry_names(dest)? {
        let path = dest.join(&name);
        if keep.iter().any(|k| k.starts_with(&path)) {
            continue;
        }
        remove_entry(&path).map_err(|e| FetchError::local("remove", &path, e))?;
        removed.push(name.to_string_lossy().into_owned());
    }
    Ok(removed)
}

/// What [`place`] put in DEST.
#[derive(Debug, Default)]
pub struct Placed {
    /// The signed files, relative to DEST.
    pub files: Vec<String>,
    /// The signature's file name, when it was written beside them.
    pub signature: Option<String>,
    /// The signature's file name, when a signed file already has it (it is never overwritten).
    pub signature_not_placed: Option<String>,
}

/// Moves the verified files from staging into DEST, which must hold nothing else (see
/// [`clear_dest`]), and with `with_signature` writes the signature beside them unless a signed
/// file has its name. Placement renames staging's top-level entries, so it never walks through
/// anything in DEST: a symlink there is neither followed nor kept, and an entry that appeared
/// in DEST during the run stops the placement instead of being merged with.
pub fn place(
    located: &Located,
    fetched: &Fetched,
    staging: &Path,
    dest: &Path,
    with_signature: bool,
) -> Result<Placed, FetchError> {
    let mut placed = Placed {
        files: fetched
            .plan
            .jobs
            .iter()
            .map(|job| located.placed_name(&job.path))
            .collect(),
        ..Placed::default()
    };
    if with_signature && !fetched.signature.is_empty() {
        let name = located.signature_file_name();
        let below = format!("{name}/");
        if placed
            .files
            .iter()
            .any(|f| *f == name || f.starts_with(&below))
        {
            placed.signature_not_placed = Some(name);
        } else {
            let tmp = join(staging, &name);
            let mut f = create_new(&tmp).map_err(|e| FetchError::local("write", &tmp, e))?;
            f.write_all(&fetched.signature)
                .and_then(|()| f.sync_all())
                .map_err(|e| FetchError::local("write", &tmp, e))?;
            placed.signature = Some(name);
        }
    }
    let tops: std::collections::BTreeSet<&str> = placed
        .files
        .iter()
        .chain(&placed.signature)
        .map(|n| n.split('/').next().unwrap_or(n))
        .collect();
    for top in tops {
        let (from, to) = (staging.join(top), dest.join(top));
        if std::fs::symlink_metadata(&to).is_ok() {
            return Err(FetchError::DestNotEmpty {
                dest: dest.to_path_buf(),
                entries: vec![top.to_string()],
            });
        }
        std::fs::rename(&from, &to).map_err(|e| FetchError::local("place", &to, e))?;
    }
    remove_staging(staging);
    if let Ok(d) = std::fs::File::open(dest) {
        let _ = d.sync_all();
    }
    Ok(placed)
}

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
