//! Signed manifests: checked resource names, the canonical order, the root digest, and the
//! comparison of a model on disk (or in a bucket) against what was signed.
//!
//! The shell enumerates files and feeds bytes to hashers; this module decides which files must be
//! hashed, which are excused, and whether the result matches. It never sees a file system.

use std::cmp::Ordering;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use crate::digest::{Digest, HashAlgorithm, Hasher};

/// Why a resource name is refused. Such names are hostile, not merely unusual.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PathError {
    Empty,
    Absolute,
    ParentComponent,
    DotComponent,
    EmptyComponent,
    Backslash,
    Nul,
}

impl fmt::Display for PathError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            PathError::Empty => "the name is empty",
            PathError::Absolute => "the name is an absolute path",
            PathError::ParentComponent => "the name contains '..'",
            PathError::DotComponent => "the name contains a '.' component",
            PathError::EmptyComponent => {
                "the name contains an empty component ('//' or a trailing '/')"
            }
            PathError::Backslash => "the name contains a backslash",
            PathError::Nul => "the name contains a NUL byte",
        })
    }
}

/// Why a statement does not describe a model we can check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ManifestError {
    /// The payload is not JSON of the statement's shape; the text is serde's.
    Malformed(String),
    StatementType(String),
    PredicateType(String),
    SubjectCount(usize),
    /// The subject has no sha256 digest, or it is not 64 hex digits.
    SubjectDigest,
    /// The manifest lists no file (OMS 5.2.1: at least one resource).
    Empty,
    /// A `Digests/v0.1` subject that is not one file by name and SHA-256.
    LegacySubject {
        index: usize,
        why: String,
    },
    Method(String),
    HashType(String),
    ShardSize(String),
    /// A file's shards do not tile it: they overlap, leave a gap, or a short one is not last.
    ShardLayout {
        path: String,
        why: String,
    },
    BadName {
        name: String,
        why: String,
    },
    /// A resource's algorithm does not match the serialization's.
    Algorithm {
        name: String,
        algorithm: String,
    },
    BadDigest(String),
    Duplicate(String),
    RootMismatch {
        signed: String,
        computed: String,
    },
}

impl fmt::Display for ManifestError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ManifestError::Malformed(e) => write!(f, "the signed statement is malformed: {e}"),
            ManifestError::StatementType(t) => write!(f, "unknown statement type '{t}'"),
            ManifestError::PredicateType(t) => write!(f, "unknown predicate type '{t}'"),
            ManifestError::SubjectCount(n) => write!(f, "the statement has {n} subjects; OMS requires exactly one"),
            ManifestError::SubjectDigest => f.write_str("the subject has no valid sha256 digest"),
            ManifestError::Empty => f.write_str("the signed manifest lists no files (OMS v1.0 requires at least one)"),
            ManifestError::LegacySubject { index, why } => write!(
                f,
                "subject {} of the legacy Digests/v0.1 statement is not a file: {why}",
                index + 1
            ),
            ManifestError::Method(m) => write!(f, "unknown serialization method '{m}'"),
            ManifestError::HashType(h) => write!(f, "unsupported hash type '{h}'"),
            ManifestError::ShardSize(s) => write!(f, "invalid shard_size {s}"),
            ManifestError::ShardLayout { path, why } => {
                write!(f, "the shards of {path:?} do not tile the file: {why}")
            }
            ManifestError::BadName { name, why } => write!(f, "refused resource name {name:?}: {why}"),
            ManifestError::Algorithm { name, algorithm } => {
                write!(f, "resource {name:?} has algorithm '{algorithm}', which does not match the serialization")
            }
            ManifestError::BadDigest(name) => write!(f, "resource {name:?} has a malformed digest"),
            ManifestError::Duplicate(name) => write!(f, "resource {name:?} is listed twice"),
            ManifestError::RootMismatch { signed, computed } => write!(
                f,
                "the manifest is inconsistent: the subject digest is {signed} but the resources hash to {computed}"
            ),
        }
    }
}

impl std::error::Error for ManifestError {}

/// A model-relative POSIX path that cannot escape the model: no `..`, no leading `/`, no
/// backslash or NUL, no empty or `.` components. The single name `"."` stands for a single-file
/// model itself, as model_signing writes it.
///
/// Ordering is component-wise (`a/b` < `a-b` < `a.txt`), as Python's `PurePosixPath` orders
/// them, so the root digests we compute equal model_signing's.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct ResourcePath(String);

impl ResourcePath {
    /// The name model_signing gives a single-file model.
    pub const SINGLE_FILE: &'static str = ".";

    /// The single-file model's resource, `.`.
    pub fn single_file() -> Self {
        ResourcePath(Self::SINGLE_FILE.to_string())
    }

    pub fn parse(name: &str) -> Result<Self, PathError> {
        if name.is_empty() {
            return Err(PathError::Empty);
        }
        if name == Self::SINGLE_FILE {
            return Ok(ResourcePath(name.to_string()));
        }
        if name.contains('\0') {
            return Err(PathError::Nul);
        }
        if name.contains('\\') {
            return Err(PathError::Backslash);
        }
        if name.starts_with('/') {
            return Err(PathError::Absolute);
        }
        for component in name.split('/') {
            match component {
                "" => return Err(PathError::EmptyComponent),
                "." => return Err(PathError::DotComponent),
                ".." => return Err(PathError::ParentComponent),
                _ => {}
            }
        }
        Ok(ResourcePath(name.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn is_single_file(&self) -> bool {
        self.0 == Self::SINGLE_FILE
    }

    pub fn components(&self) -> impl Iterator<Item = &str> {
        self.0.split('/')
    }

    /// True when `self` is `prefix` or lies below it, by whole components.
    pub fn is_within(&self, prefix: &ResourcePath) -> bool {
        let mut mine = self.components();
        prefix.components().all(|p| mine.next() == Some(p))
    }
}

impl Ord for ResourcePath {
    fn cmp(&self, other: &Self) -> Ordering {
        self.components().cmp(other.components())
    }
}

impl PartialOrd for ResourcePath {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl fmt::Display for ResourcePath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for ResourcePath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", self.0)
    }
}

/// One signed item: a whole file, or a byte range `[start, end)` of one (shards method).
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Debug)]
pub enum ItemKey {
    File(ResourcePath),
    Shard {
        path: ResourcePath,
        start: u64,
        end: u64,
    },
}

impl ItemKey {
    pub fn path(&self) -> &ResourcePath {
        match self {
            ItemKey::File(p) | ItemKey::Shard { path: p, .. } => p,
        }
    }
}

impl fmt::Display for ItemKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ItemKey::File(p) => write!(f, "{p}"),
            ItemKey::Shard { path, start, end } => write!(f, "{path}:{start}:{end}"),
        }
    }
}

/// How the model was split into items.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Method {
    Files,
    Shards { shard_size: u64 },
}

/// The signed `serialization` parameters.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Serialization {
    pub method: Method,
    pub hash: HashAlgorithm,
    pub allow_symlinks: bool,
    /// Signed ignore paths, as written (a set; order is meaningless).
    pub ignore_paths: Vec<String>,
}

/// The paths model_signing ignores by default, relative to the model root.
pub const DEFAULT_IGNORES: [&str; 4] = [".git", ".gitattributes", ".github", ".gitignore"];

/// What a signature covers, decided in one place for every signer (a local `sign`, `digest`,
/// `push`, `sign s3://`): every file of the model outside the ignore paths, or `"."` for a
/// single-file model; and the ignore paths the statement records, as model_signing records
/// them (git's defaults, the signature's own path when it is stored inside the model, then the
/// signer's own, each once).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SigningPlan {
    /// The resources to hash and list, in the model's order.
    pub files: Vec<ResourcePath>,
    /// Recorded in the statement's `ignore_paths`.
    pub ignore_paths: Vec<String>,
    /// How the files are hashed: whole (`files`) or in fixed-size shards, and with which hash
    /// (model_signing's CLI default: files, SHA-256).
    pub method: Method,
    pub hash: HashAlgorithm,
}

impl SigningPlan {
    /// `inside` is the signature's path when it is stored in the model; `extra` the paths the
    /// signer leaves out (`--ignore-paths`).
    pub fn new(model: &LocalModel, inside: Option<&ResourcePath>, extra: &[ResourcePath]) -> Self {
        let mut ignore_paths: Vec<String> = DEFAULT_IGNORES.iter().map(|s| s.to_string()).collect();
        ignore_paths.extend(inside.map(ToString::to_string));
        for p in extra {
            let p = p.to_string();
            if !ignore_paths.contains(&p) {
                ignore_paths.push(p);
            }
        }
        let ignores: Vec<ResourcePath> = ignore_paths
            .iter()
            .filter_map(|p| ResourcePath::parse(p).ok())
            .collect();
        let files = match model {
            LocalModel::File { .. } => vec![ResourcePath::single_file()],
            LocalModel::Directory { files } => files
                .iter()
                .map(|f| f.path.clone())
                .filter(|p| !ignores.iter().any(|i| p.is_within(i)))
                .collect(),
        };
        SigningPlan {
            files,
            ignore_paths,
            method: Method::Files,
            hash: HashAlgorithm::Sha256,
        }
    }

    /// The same plan, hashed another way (`--shard-size`, `--hash-algorithm`).
    pub fn serialized(self, method: Method, hash: HashAlgorithm) -> Self {
        SigningPlan {
            method,
            hash,
            ..self
        }
    }

    /// Whether there is nothing to sign (OMS 6.1 forbids an empty manifest).
    pub fn is_empty(&self) -> bool {
        self.files.is_empty()
    }

    /// What to hash: one job per file, its items the whole file or its shards (an empty file
    /// has no shards, in model_signing's view and ours). `model` gives the sizes.
    pub fn jobs(&self, model: &LocalModel) -> Vec<HashJob> {
        let sizes: BTreeMap<&ResourcePath, u64> = match model {
            LocalModel::File { .. } => BTreeMap::new(),
            LocalModel::Directory { files } => files.iter().map(|f| (&f.path, f.size)).collect(),
        };
        let size_of = |path: &ResourcePath| match model {
            LocalModel::File { size, .. } => *size,
            LocalModel::Directory { .. } => sizes.get(path).copied().unwrap_or(0),
        };
        self.files
            .iter()
            .map(|path| HashJob {
                path: path.clone(),
                keys: match self.method {
                    Method::Files => vec![ItemKey::File(path.clone())],
                    Method::Shards { shard_size } => shard_ranges(size_of(path), shard_size)
                        .map(|(start, end)| ItemKey::Shard {
                            path: path.clone(),
                            start,
                            end,
                        })
                        .collect(),
                },
                algorithm: self.hash,
            })
            .collect()
    }
}

/// Every file's shards, in order, must be `[0, s)`, `[s, 2s)`, ... with only the last shorter
/// (OMS 6.3.2): a manifest whose shards overlap or leave a gap is refused before any byte is
/// hashed. Whether the last one ends at the file's size is the plan's check (a resized file).
fn check_shard_layout(listed: &[(ItemKey, Digest)], shard_size: u64) -> Result<(), ManifestError> {
    let mut by_file: BTreeMap<&ResourcePath, Vec<(u64, u64)>> = BTreeMap::new();
    for (key, _) in listed {
        match key {
            ItemKey::Shard { path, start, end } => {
                by_file.entry(path).or_default().push((*start, *end))
            }
            ItemKey::File(path) => {
                return Err(ManifestError::ShardLayout {
                    path: path.to_string(),
                    why: "a whole file listed in a shards manifest".into(),
                })
            }
        }
    }
    for (path, mut shards) in by_file {
        shards.sort_unstable();
        let last = shards.len() - 1;
        let bad = |why: String| ManifestError::ShardLayout {
            path: path.to_string(),
            why,
        };
        // Where each shard starts first (an overlap or a gap), then which are short.
        for (i, &(start, _)) in shards.iter().enumerate() {
            let expected = (i as u64)
                .checked_mul(shard_size)
                .ok_or_else(|| bad("more shards than a file can have".into()))?;
            if start < expected {
                return Err(bad(format!("shards overlap at byte {start}")));
            }
            if start > expected {
                return Err(bad(format!("bytes {expected} to {start} are in no shard")));
            }
        }
        if let Some((start, end)) = shards[..last]
            .iter()
            .find(|(start, end)| end - start != shard_size)
        {
            return Err(bad(format!(
                "the shard at byte {start} is short ({} bytes) but not the last",
                end - start
            )));
        }
    }
    Ok(())
}

/// Where a file's bytes, streamed in order, fall among its signed items (the whole file, or
/// each shard by its byte range): each step takes as many of the next bytes as the current item
/// still covers. Shared by [`ItemHashers`] and by shells that hash items on several threads.
#[derive(Clone, Debug)]
pub struct ItemCursor {
    /// Each item's end offset, in order.
    ends: Vec<u64>,
    cursor: usize,
    pos: u64,
}

impl ItemCursor {
    /// `keys` are one job's (whole file, or shards in order); `size` is the file's length.
    pub fn new(keys: &[ItemKey], size: u64) -> Self {
        let ends = keys
            .iter()
            .map(|k| match k {
                ItemKey::File(_) => size,
                ItemKey::Shard { end, .. } => *end,
            })
            .collect();
        ItemCursor {
            ends,
            cursor: 0,
            pos: 0,
        }
    }

    /// The item the next of `available` bytes belong to, and how many of them it takes (at
    /// least one when `available` is not zero).
    pub fn step(&mut self, available: usize) -> Result<(usize, usize), PastItems> {
        loop {
            let &end = self.ends.get(self.cursor).ok_or(PastItems)?;
            if self.pos < end {
                let take = usize::try_from(end - self.pos)
                    .unwrap_or(usize::MAX)
                    .min(available);
                self.pos += take as u64;
                return Ok((self.cursor, take));
            }
            self.cursor += 1;
        }
    }
}

/// A file's bytes, streamed in order, hashed into its signed items. No I/O: the shell feeds
/// what it reads, downloads or uploads.
pub struct ItemHashers {
    keys: Vec<ItemKey>,
    hashers: Vec<Hasher>,
    cursor: ItemCursor,
}

/// More bytes than the file's signed items cover.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PastItems;

impl fmt::Display for PastItems {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("the file is longer than its signed items")
    }
}

impl std::error::Error for PastItems {}

impl ItemHashers {
    /// `keys` are one job's (whole file, or shards in order); `size` is the file's length.
    pub fn new(keys: &[ItemKey], size: u64, algorithm: HashAlgorithm) -> Self {
        ItemHashers {
            keys: keys.to_vec(),
            hashers: keys.iter().map(|_| Hasher::new(algorithm)).collect(),
            cursor: ItemCursor::new(keys, size),
        }
    }

    /// The next bytes of the file.
    pub fn update(&mut self, mut bytes: &[u8]) -> Result<(), PastItems> {
        while !bytes.is_empty() {
            let (item, take) = self.cursor.step(bytes.len())?;
            self.hashers[item].update(&bytes[..take]);
            bytes = &bytes[take..];
        }
        Ok(())
    }

    /// Every item with its digest.
    pub fn finish(self) -> Vec<(ItemKey, Digest)> {
        self.keys
            .into_iter()
            .zip(self.hashers)
            .map(|(k, h)| (k, h.finalize()))
            .collect()
    }
}

/// Which in-toto predicate the manifest was signed as.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PredicateType {
    /// OMS v1.0: `predicate.resources` and `predicate.serialization`, a root digest subject.
    V1_0,
    /// model_signing 0.2.x's deprecated layout (OMS 5.1, 11): one in-toto subject per file
    /// (name and sha256), no serialization, no root digest. Verified, never written.
    DigestsV0_1,
}

impl PredicateType {
    /// The `predicateType` URI.
    pub const fn uri(self) -> &'static str {
        match self {
            PredicateType::V1_0 => "https://model_signing/signature/v1.0",
            PredicateType::DigestsV0_1 => "https://model_signing/Digests/v0.1",
        }
    }

    pub fn is_legacy(self) -> bool {
        self == PredicateType::DigestsV0_1
    }
}

/// A manifest whose names, digests and root digest have been checked against each other.
#[derive(Clone, Debug)]
pub struct SignedManifest {
    pub model_name: String,
    pub root: Digest,
    pub serialization: Serialization,
    pub predicate: PredicateType,
    items: BTreeMap<ItemKey, Digest>,
}

impl SignedManifest {
    /// Builds a manifest from parsed items (in the order the statement lists them) and checks
    /// the root digest over that order. Used by the statement parser only.
    pub(crate) fn new(
        model_name: String,
        root: Digest,
        serialization: Serialization,
        listed: Vec<(ItemKey, Digest)>,
    ) -> Result<Self, ManifestError> {
        if listed.is_empty() {
            return Err(ManifestError::Empty);
        }
        let computed = root_digest(listed.iter().map(|(_, d)| d));
        if computed != root {
            return Err(ManifestError::RootMismatch {
                signed: root.to_hex(),
                computed: computed.to_hex(),
            });
        }
        let single = listed.iter().any(|(k, _)| k.path().is_single_file());
        if single && listed.iter().any(|(k, _)| !k.path().is_single_file()) {
            return Err(ManifestError::BadName {
                name: ".".into(),
                why: "'.' names a single-file model and cannot stand beside other files".into(),
            });
        }
        if let Method::Shards { shard_size } = serialization.method {
            check_shard_layout(&listed, shard_size)?;
        }
        Ok(SignedManifest {
            model_name,
            root,
            serialization,
            predicate: PredicateType::V1_0,
            items: unique(listed)?,
        })
    }

    /// A manifest from the deprecated `Digests/v0.1` predicate: one SHA-256 per file, no root
    /// digest signed. Its root (what a pin and a revocation compare with) is computed from the
    /// files as OMS v1.0 computes it, over the component-wise order.
    pub(crate) fn legacy(listed: Vec<(ResourcePath, Digest)>) -> Result<Self, ManifestError> {
        let mut listed: Vec<(ItemKey, Digest)> = listed
            .into_iter()
            .map(|(p, d)| (ItemKey::File(p), d))
            .collect();
        if listed.is_empty() {
            return Err(ManifestError::Empty);
        }
        listed.sort_by(|a, b| a.0.cmp(&b.0));
        let root = root_digest(listed.iter().map(|(_, d)| d));
        Ok(SignedManifest {
            model_name: String::new(),
            root,
            serialization: Serialization {
                method: Method::Files,
                hash: HashAlgorithm::Sha256,
                allow_symlinks: false,
                ignore_paths: Vec::new(),
            },
            predicate: PredicateType::DigestsV0_1,
            items: unique(listed)?,
        })
    }

    /// A one-file manifest from a SHA-256 pin given in configuration (KServe's proposed
    /// `VERIFICATION_DIGEST`), not from a signature: the trust is the caller's configuration.
    pub fn from_pin(model_name: &str, pin: Digest) -> Self {
        let root = root_digest(std::iter::once(&pin));
        let mut items = BTreeMap::new();
        items.insert(
            ItemKey::File(ResourcePath(ResourcePath::SINGLE_FILE.into())),
            pin,
        );
        SignedManifest {
            model_name: model_name.to_string(),
            root,
            serialization: Serialization {
                method: Method::Files,
                hash: HashAlgorithm::Sha256,
                allow_symlinks: false,
                ignore_paths: Vec::new(),
            },
            predicate: PredicateType::V1_0,
            items,
        }
    }

    /// What a pin (KServe's `VERIFICATION_DIGEST`, `verify --digest`) is compared with: for a
    /// single-file model signed file by file, that file's digest (KServe's definition); for
    /// anything else, the signed root digest (the in-toto subject's). A validly signed older
    /// model copied over the current one has another of these, so a pin guards rollback.
    pub fn pinned_digest(&self) -> (&Digest, PinnedKind) {
        match (self.items.len(), self.items.iter().next()) {
            (1, Some((ItemKey::File(p), d))) if p.is_single_file() => (d, PinnedKind::File),
            _ => (&self.root, PinnedKind::Root),
        }
    }

    /// Signed items in canonical (component-wise) order.
    pub fn items(&self) -> impl Iterator<Item = (&ItemKey, &Digest)> {
        self.items.iter()
    }

    pub fn len(&self) -> usize {
        self.items.len()
    }

    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// Paths that excuse unlisted files: the signed ignore paths and model_signing's defaults.
    /// Unparseable signed entries cannot match a checked path, so they are dropped.
    fn ignores(&self) -> Vec<ResourcePath> {
        let signed = self
            .serialization
            .ignore_paths
            .iter()
            .map(|p| p.trim_start_matches("./").trim_end_matches('/'));
        DEFAULT_IGNORES
            .into_iter()
            .chain(signed)
            .filter_map(|p| ResourcePath::parse(p).ok())
            .filter(|p| !p.is_single_file())
            .collect()
    }

    fn listed_paths(&self) -> BTreeSet<&ResourcePath> {
        self.items.keys().map(ItemKey::path).collect()
    }

    fn keys_for(&self, path: &ResourcePath, size: u64) -> Vec<ItemKey> {
        match self.serialization.method {
            Method::Files => vec![ItemKey::File(path.clone())],
            Method::Shards { shard_size } => shard_ranges(size, shard_size)
                .map(|(start, end)| ItemKey::Shard {
                    path: path.clone(),
                    start,
                    end,
                })
                .collect(),
        }
    }

    /// Decides what to hash. `local` lists every regular file the shell found; `options` says
    /// which of them are the signature and what the verifier chose to exclude or tolerate.
    /// Listed files are always hashed, even under an ignore or exclusion. The signature is
    /// excused by its exact path only: a file below it (an S3 prefix can hold both `model.sig`
    /// and `model.sig/x`) is extra, whatever the ignore paths or options say.
    pub fn plan(&self, local: &LocalModel, options: &PlanOptions) -> Plan {
        let mut plan = Plan::default();
        let listed = self.listed_paths();
        let files: Vec<LocalFile> = match local {
            LocalModel::File { name, size } => {
                // model_signing names a single file "."; OMS v1.0 names it by its basename.
                let dot = ResourcePath(ResourcePath::SINGLE_FILE.into());
                let path = match ResourcePath::parse(name) {
                    Ok(p) if !listed.contains(&dot) => p,
                    _ => dot,
                };
                vec![LocalFile { path, size: *size }]
            }
            LocalModel::Directory { files } => files.clone(),
        };
        let ignores = match local {
            LocalModel::File { .. } => Vec::new(),
            LocalModel::Directory { .. } => self.ignores(),
        };
        let evidence = &options.evidence;
        let mut seen = BTreeSet::new();
        for file in files {
            if listed.contains(&file.path) {
                let keys = self.keys_for(&file.path, file.size);
                let signed: Vec<&ItemKey> = self
                    .items
                    .keys()
                    .filter(|k| k.path() == &file.path)
                    .collect();
                if keys.iter().collect::<Vec<_>>() != signed {
                    plan.size_changed.push((file.path.clone(), file.size));
                } else {
                    plan.jobs.push(HashJob {
                        path: file.path.clone(),
                        keys,
                        algorithm: self.serialization.hash,
                    });
                }
                seen.insert(file.path);
            } else if evidence.contains(&file.path) {
                plan.ignored.push(file.path);
            } else if evidence.iter().any(|e| file.path.is_within(e)) {
                plan.extra.push(file.path);
            } else if ignores.iter().any(|i| file.path.is_within(i)) {
                plan.ignored.push(file.path);
            } else if options.excluded.iter().any(|i| file.path.is_within(i)) {
                plan.excluded.push(file.path);
            } else if self.keys_for(&file.path, file.size).is_empty() {
                // Shards method: an empty file has no items, in the signer's view and ours.
            } else if options.unsigned == UnsignedFiles::Tolerate {
                plan.unsigned.push(file.path);
            } else {
                plan.extra.push(file.path);
            }
        }
        plan.missing = listed
            .into_iter()
            .filter(|p| !seen.contains(*p))
            .cloned()
            .collect();
        plan
    }

    /// Compares the digests the shell computed for `plan`'s jobs with the signed ones.
    /// Every signed item must be accounted for: hashed and equal, or reported.
    pub fn check(&self, plan: &Plan, results: &[(ItemKey, Digest)]) -> Result<Verified, Mismatch> {
        let mut mismatch = Mismatch {
            changed: Vec::new(),
            size_changed: plan.size_changed.clone(),
            missing: plan.missing.clone(),
            extra: plan.extra.clone(),
        };
        let mut covered = BTreeSet::new();
        for (key, actual) in results {
            match self.items.get(key) {
                Some(expected) if expected == actual => {}
                Some(expected) => mismatch.changed.push(Changed {
                    key: key.clone(),
                    expected: expected.clone(),
                    actual: actual.clone(),
                }),
                None => mismatch.extra.push(key.path().clone()),
            }
            covered.insert(key);
        }
        let reported: BTreeSet<&ResourcePath> = mismatch
            .size_changed
            .iter()
            .map(|(p, _)| p)
            .chain(mismatch.missing.iter())
            .chain(plan.skipped.iter())
            .collect();
        let unaccounted: Vec<ResourcePath> = self
            .items
            .keys()
            .filter(|k| !covered.contains(k) && !reported.contains(k.path()))
            .map(|k| k.path().clone())
            .collect();
        mismatch.missing.extend(unaccounted);
        mismatch.missing.dedup();
        if mismatch.is_empty() {
            Ok(Verified {
                model_name: self.model_name.clone(),
                root: self.root.clone(),
                digest: self.pinned_digest().0.clone(),
                predicate: self.predicate,
                files: self.listed_paths().len(),
                items: self.items.len(),
                ignored: plan.ignored.len(),
                excluded: plan.excluded.clone(),
                unsigned: plan.unsigned.clone(),
            })
        } else {
            Err(mismatch)
        }
    }
}

/// `sha256(d0 || d1 || ...)` over raw digest bytes, in the given order.
pub fn root_digest<'a>(digests: impl Iterator<Item = &'a Digest>) -> Digest {
    let mut h = HashAlgorithm::Sha256.hasher();
    for d in digests {
        h.update(d.as_bytes());
    }
    h.finalize()
}

/// The items keyed by name; a name listed twice is refused.
fn unique(listed: Vec<(ItemKey, Digest)>) -> Result<BTreeMap<ItemKey, Digest>, ManifestError> {
    let mut items = BTreeMap::new();
    for (key, digest) in listed {
        let name = key.to_string();
        if items.insert(key, digest).is_some() {
            return Err(ManifestError::Duplicate(name));
        }
    }
    Ok(items)
}

/// `[start, end)` ranges of `shard_size` covering `size` bytes; none for an empty file.
pub fn shard_ranges(size: u64, shard_size: u64) -> impl Iterator<Item = (u64, u64)> {
    let step = shard_size.max(1);
    (0..size.div_ceil(step)).map(move |i| (i * step, ((i + 1) * step).min(size)))
}

/// A regular file found in a model directory.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LocalFile {
    pub path: ResourcePath,
    pub size: u64,
}

/// What the shell found where the model should be.
#[derive(Clone, Debug)]
pub enum LocalModel {
    /// A single-file model, by its basename.
    File { name: String, size: u64 },
    /// Every regular file below a model directory (the shell refuses symlinks before this).
    Directory { files: Vec<LocalFile> },
}

/// Hash `path` with `algorithm`, once per key (the whole file, or each shard's range).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HashJob {
    pub path: ResourcePath,
    pub keys: Vec<ItemKey>,
    pub algorithm: HashAlgorithm,
}

/// What an unlisted file means.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum UnsignedFiles {
    /// It is extra: the model does not match (OMS 8.5's default).
    #[default]
    Refuse,
    /// It is tolerated, never hashed, and reported (`--ignore-unsigned-files`, OMS 8.5).
    Tolerate,
}

/// What the verifier knows beyond the signature, for [`SignedManifest::plan`].
#[derive(Clone, Debug, Default)]
pub struct PlanOptions {
    /// The signature's own paths among the model's files, excused by their exact path only.
    pub evidence: Vec<ResourcePath>,
    /// Paths the operator excludes at verification (`verify --ignore-paths`, which OMS 6.2.1
    /// does not define): unlisted files at or below them are neither hashed nor extra.
    pub excluded: Vec<ResourcePath>,
    pub unsigned: UnsignedFiles,
}

/// What must be hashed, and what is already known to be wrong.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Plan {
    pub jobs: Vec<HashJob>,
    pub missing: Vec<ResourcePath>,
    pub extra: Vec<ResourcePath>,
    /// Files whose size no longer matches their signed shards.
    pub size_changed: Vec<(ResourcePath, u64)>,
    /// Unlisted files excused by a signed (or default) ignore path, or being the signature.
    pub ignored: Vec<ResourcePath>,
    /// Unlisted files below a path the verifier excluded ([`PlanOptions::excluded`]).
    pub excluded: Vec<ResourcePath>,
    /// Unlisted files tolerated by [`UnsignedFiles::Tolerate`]: not hashed, never placed.
    pub unsigned: Vec<ResourcePath>,
    /// Signed files deliberately left out by [`Plan::select`]: not hashed, not placed, not missing.
    pub skipped: Vec<ResourcePath>,
}

impl Plan {
    /// Keeps only the jobs whose path `keep` accepts (KServe's allow/ignore patterns); the rest
    /// are recorded as skipped. Selection never touches `extra` or `missing`: an unsigned file is
    /// refused whether or not it would have been selected.
    pub fn select(&mut self, keep: impl Fn(&ResourcePath) -> bool) {
        let (kept, skipped): (Vec<HashJob>, Vec<HashJob>) =
            self.jobs.drain(..).partition(|j| keep(&j.path));
        self.jobs = kept;
        self.skipped.extend(skipped.into_iter().map(|j| j.path));
    }
}

/// A file whose contents changed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Changed {
    pub key: ItemKey,
    pub expected: Digest,
    pub actual: Digest,
}

/// Every way the model differs from the signed manifest.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Mismatch {
    pub changed: Vec<Changed>,
    pub size_changed: Vec<(ResourcePath, u64)>,
    pub missing: Vec<ResourcePath>,
    pub extra: Vec<ResourcePath>,
}

impl Mismatch {
    pub fn is_empty(&self) -> bool {
        self.changed.is_empty()
            && self.size_changed.is_empty()
            && self.missing.is_empty()
            && self.extra.is_empty()
    }

    /// One line per problem, for the CLI and logs.
    pub fn lines(&self) -> Vec<String> {
        let mut out = Vec::new();
        for c in &self.changed {
            out.push(format!(
                "{}: content changed (signed {} {}, found {})",
                c.key,
                c.expected.algorithm(),
                c.expected,
                c.actual
            ));
        }
        for (p, size) in &self.size_changed {
            out.push(format!(
                "{p}: size changed ({size} bytes no longer match the signed shards)"
            ));
        }
        for p in &self.missing {
            out.push(format!("{p}: signed but missing"));
        }
        for p in &self.extra {
            out.push(format!("{p}: not in the signed manifest"));
        }
        out
    }
}

impl fmt::Display for Mismatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.lines().join("; "))
    }
}

/// Which digest [`SignedManifest::pinned_digest`] returned.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PinnedKind {
    /// The one file's digest.
    File,
    /// The signed root digest over every item.
    Root,
}

impl PinnedKind {
    /// How messages name it.
    pub fn describe(self) -> &'static str {
        match self {
            PinnedKind::File => "the file digest",
            PinnedKind::Root => "the signed root digest",
        }
    }
}

/// A model that matched its manifest.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Verified {
    pub model_name: String,
    pub root: Digest,
    /// What a pin and a revocation compare with ([`SignedManifest::pinned_digest`]), as
    /// `modelseal digest` prints it.
    pub digest: Digest,
    pub predicate: PredicateType,
    /// Signed files (a sharded file counts once).
    pub files: usize,
    /// Signed items: files, or shards of them.
    pub items: usize,
    pub ignored: usize,
    /// Unlisted files the verifier excluded, and unlisted files it tolerated ([`Plan`]).
    pub excluded: Vec<ResourcePath>,
    pub unsigned: Vec<ResourcePath>,
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Bytes fed in any chunking hash into the same items as hashing each range at once; more
    /// bytes than the items cover are refused.
    #[test]
    fn item_hashers_split_by_range() {
        let data: Vec<u8> = (0..25u32).map(|i| i as u8).collect();
        let path = ResourcePath::parse("w.bin").unwrap();
        let keys: Vec<ItemKey> = shard_ranges(25, 10)
            .map(|(start, end)| ItemKey::Shard {
                path: path.clone(),
                start,
                end,
            })
            .collect();
        for chunk in [1, 3, 10, 25] {
            let mut h = ItemHashers::new(&keys, 25, HashAlgorithm::Sha256);
            for part in data.chunks(chunk) {
                h.update(part).unwrap();
            }
            let got: Vec<Digest> = h.finish().into_iter().map(|(_, d)| d).collect();
            let want: Vec<Digest> = [0..10, 10..20, 20..25]
                .into_iter()
                .map(|r| HashAlgorithm::Sha256.digest(&data[r]))
                .collect();
            assert_eq!(got, want, "chunks of {chunk}");
        }
        let mut whole = ItemHashers::new(&[ItemKey::File(path)], 25, HashAlgorithm::Blake3);
        whole.update(&data).unwrap();
        assert_eq!(whole.update(b"x"), Err(PastItems));
        assert_eq!(whole.finish()[0].1, HashAlgorithm::Blake3.digest(&data));
    }

    /// OMS 6.3.2: a file's shards tile it from byte 0, only the last one short.
    #[test]
    fn shard_layouts() {
        let d = HashAlgorithm::Sha256.digest(b"x");
        let shards = |spans: &[(&str, u64, u64)]| -> Vec<(ItemKey, Digest)> {
            spans
                .iter()
                .map(|(p, start, end)| {
                    let key = ItemKey::Shard {
                        path: ResourcePath::parse(p).unwrap(),
                        start: *start,
                        end: *end,
                    };
                    (key, d.clone())
                })
                .collect()
        };
        let ok = |spans: &[(&str, u64, u64)]| check_shard_layout(&shards(spans), 10).is_ok();
        assert!(ok(&[
            ("a", 0, 10),
            ("a", 10, 20),
            ("a", 20, 25),
            ("b", 0, 3)
        ]));
        assert!(
            ok(&[("a", 10, 20), ("a", 0, 10)]),
            "order in the manifest does not matter"
        );
        let why = |spans: &[(&str, u64, u64)]| {
            check_shard_layout(&shards(spans), 10)
                .unwrap_err()
                .to_string()
        };
        assert!(why(&[("a", 0, 10), ("a", 20, 30)]).contains("in no shard"));
        assert!(why(&[("a", 10, 20)]).contains("in no shard"));
        assert!(why(&[("a", 0, 10), ("a", 0, 5)]).contains("overlap"));
        assert!(why(&[("a", 0, 5), ("a", 10, 20)]).contains("not the last"));
    }

    /// One place decides what a signature covers: git's defaults and the inside signature are
    /// left out and recorded, extra ignores once each, a single file is ".".
    #[test]
    fn signing_plans() {
        let file = |p: &str| LocalFile {
            path: ResourcePath::parse(p).unwrap(),
            size: 1,
        };
        let dir = LocalModel::Directory {
            files: vec![
                file(".git/HEAD"),
                file("README.md"),
                file("model.sig"),
                file("weights/a.bin"),
                file("weights/b.bin"),
            ],
        };
        let sig = ResourcePath::parse("model.sig").unwrap();
        let readme = ResourcePath::parse("README.md").unwrap();
        let plan = SigningPlan::new(&dir, Some(&sig), &[readme.clone(), readme]);
        let names: Vec<&str> = plan.files.iter().map(ResourcePath::as_str).collect();
        assert_eq!(names, ["weights/a.bin", "weights/b.bin"]);
        assert_eq!(
            plan.ignore_paths,
            [
                ".git",
                ".gitattributes",
                ".github",
                ".gitignore",
                "model.sig",
                "README.md"
            ]
        );
        let single = LocalModel::File {
            name: "m.onnx".into(),
            size: 3,
        };
        let plan = SigningPlan::new(&single, None, &[]);
        assert_eq!(plan.files, [ResourcePath::single_file()]);
        assert!(SigningPlan::new(
            &LocalModel::Directory {
                files: vec![file(".git/x")]
            },
            None,
            &[]
        )
        .is_empty());
    }

    fn p(s: &str) -> ResourcePath {
        ResourcePath::parse(s).unwrap()
    }

    #[test]
    fn component_wise_order_matches_python() {
        let mut v = [
            p("a.txt"),
            p("a-b"),
            p("a/b"),
            p("B"),
            p("README.md"),
            p("empty.bin"),
            p("big.bin"),
        ];
        v.sort();
        let names: Vec<&str> = v.iter().map(|p| p.as_str()).collect();
        assert_eq!(
            names,
            [
                "B",
                "README.md",
                "a/b",
                "a-b",
                "a.txt",
                "big.bin",
                "empty.bin"
            ]
        );
    }

    #[test]
    fn hostile_names_are_refused() {
        for (name, err) in [
            ("", PathError::Empty),
            ("/etc/passwd", PathError::Absolute),
            ("../x", PathError::ParentComponent),
            ("a/../../x", PathError::ParentComponent),
            ("a/./b", PathError::DotComponent),
            ("a//b", PathError::EmptyComponent),
            ("a/", PathError::EmptyComponent),
            ("a\\b", PathError::Backslash),
            ("a\0b", PathError::Nul),
        ] {
            assert_eq!(ResourcePath::parse(name), Err(err), "{name:?}");
        }
    }

    #[test]
    fn within_is_by_component() {
        assert!(p(".git/config").is_within(&p(".git")));
        assert!(p(".git").is_within(&p(".git")));
        assert!(!p(".gitx").is_within(&p(".git")));
    }

    fn manifest(names: &[&str]) -> SignedManifest {
        let payload = crate::oms::statement_payload(
            "m",
            &names
                .iter()
                .map(|n| (p(n), HashAlgorithm::Sha256.digest(n.as_bytes())))
                .collect::<Vec<_>>(),
            &[],
        )
        .unwrap();
        crate::oms::parse_statement(&payload).unwrap()
    }

    fn dir(names: &[&str]) -> LocalModel {
        LocalModel::Directory {
            files: names
                .iter()
                .map(|n| LocalFile {
                    path: p(n),
                    size: 1,
                })
                .collect(),
        }
    }

    fn hash_all(plan: &Plan) -> Vec<(ItemKey, Digest)> {
        plan.jobs
            .iter()
            .map(|j| {
                (
                    ItemKey::File(j.path.clone()),
                    HashAlgorithm::Sha256.digest(j.path.as_str().as_bytes()),
                )
            })
            .collect()
    }

    #[test]
    fn listed_files_are_checked_even_under_an_ignore_path() {
        let m = manifest(&["a", ".git/config"]);
        let plan = m.plan(
            &dir(&["a", ".git/config", ".git/HEAD"]),
            &PlanOptions::default(),
        );
        assert_eq!(plan.jobs.len(), 2);
        assert_eq!(plan.ignored, [p(".git/HEAD")]);
        assert!(m.check(&plan, &hash_all(&plan)).is_ok());
        let mut wrong = hash_all(&plan);
        wrong[1].1 = HashAlgorithm::Sha256.digest(b"other");
        assert_eq!(m.check(&plan, &wrong).unwrap_err().changed.len(), 1);
    }

    #[test]
    fn selection_skips_signed_files_but_never_excuses_unsigned_ones() {
        let m = manifest(&["a.bin", "b.txt"]);
        let mut plan = m.plan(
            &dir(&["a.bin", "b.txt", "evil.bin"]),
            &PlanOptions::default(),
        );
        plan.select(|p| p.as_str().ends_with(".bin"));
        assert_eq!(plan.skipped, [p("b.txt")]);
        let err = m.check(&plan, &hash_all(&plan)).unwrap_err();
        assert_eq!(err.extra, [p("evil.bin")]);
        assert!(err.missing.is_empty(), "a skipped file is not missing");
        let mut plan = m.plan(&dir(&["a.bin", "b.txt"]), &PlanOptions::default());
        plan.select(|p| p.as_str().ends_with(".bin"));
        assert!(m.check(&plan, &hash_all(&plan)).is_ok());
        // Without a result for a selected job, the check fails closed.
        assert!(m.check(&plan, &[]).is_err());
    }

    #[test]
    fn the_signature_is_excused_by_its_exact_path_only() {
        // As `sign` writes it: the signature's own path among the signed ignore paths.
        let payload = crate::oms::statement_payload(
            "m",
            &[(p("a"), HashAlgorithm::Sha256.digest(b"a"))],
            &["model.sig".into()],
        )
        .unwrap();
        let m = crate::oms::parse_statement(&payload).unwrap();
        let options = PlanOptions {
            evidence: vec![p("model.sig")],
            ..PlanOptions::default()
        };
        let plan = m.plan(&dir(&["a", "model.sig", "model.sig/x"]), &options);
        assert_eq!(plan.ignored, [p("model.sig")]);
        assert_eq!(plan.extra, [p("model.sig/x")], "below the signature: extra");
        // Without the signature stored there, the signed ignore path still excuses a directory.
        let plan = m.plan(&dir(&["a", "model.sig/x"]), &PlanOptions::default());
        assert!(plan.extra.is_empty());
        // Tolerating unsigned files does not excuse one below the signature either.
        let options = PlanOptions {
            unsigned: UnsignedFiles::Tolerate,
            ..options
        };
        let plan = m.plan(&dir(&["a", "model.sig", "model.sig/x", "b"]), &options);
        assert_eq!(plan.extra, [p("model.sig/x")]);
        assert_eq!(plan.unsigned, [p("b")]);
    }

    #[test]
    fn exclusions_and_tolerated_files_never_excuse_a_listed_file() {
        let m = manifest(&["a", "cache/keep"]);
        let found = dir(&["a", "cache/keep", "cache/tmp", "junk"]);
        let options = PlanOptions {
            excluded: vec![p("cache")],
            ..PlanOptions::default()
        };
        let plan = m.plan(&found, &options);
        assert_eq!(
            plan.jobs.len(),
            2,
            "a listed file below an exclusion is hashed"
        );
        assert_eq!(plan.excluded, [p("cache/tmp")]);
        assert_eq!(plan.extra, [p("junk")]);
        let options = PlanOptions {
            unsigned: UnsignedFiles::Tolerate,
            ..options
        };
        let plan = m.plan(&found, &options);
        assert!(plan.extra.is_empty());
        assert_eq!(plan.unsigned, [p("junk")]);
        let v = m.check(&plan, &hash_all(&plan)).unwrap();
        assert_eq!((v.files, v.excluded.len(), v.unsigned.len()), (2, 1, 1));
        // Tolerance never excuses a missing or changed signed file.
        let plan = m.plan(&dir(&["cache/keep", "junk"]), &options);
        assert_eq!(plan.missing, [p("a")]);
        let plan = m.plan(&found, &options);
        let mut wrong = hash_all(&plan);
        wrong[0].1 = HashAlgorithm::Sha256.digest(b"other");
        assert_eq!(m.check(&plan, &wrong).unwrap_err().changed.len(), 1);
    }

    #[test]
    fn legacy_manifests_sort_and_root_their_files() {
        let d = |s: &str| HashAlgorithm::Sha256.digest(s.as_bytes());
        let m = SignedManifest::legacy(vec![(p("b"), d("b")), (p("a/x"), d("a/x"))]).unwrap();
        assert_eq!(m.predicate, PredicateType::DigestsV0_1);
        assert_eq!(m.root, root_digest([d("a/x"), d("b")].iter()));
        assert_eq!(m.pinned_digest().0, &m.root);
        assert_eq!(
            SignedManifest::legacy(Vec::new()).unwrap_err(),
            ManifestError::Empty
        );
        assert!(matches!(
            SignedManifest::legacy(vec![(p("a"), d("a")), (p("a"), d("b"))]),
            Err(ManifestError::Duplicate(_))
        ));
    }

    #[test]
    fn shards_cover_the_file() {
        assert_eq!(shard_ranges(0, 4).count(), 0);
        assert_eq!(
            shard_ranges(9, 4).collect::<Vec<_>>(),
            [(0, 4), (4, 8), (8, 9)]
        );
        assert_eq!(shard_ranges(8, 4).collect::<Vec<_>>(), [(0, 4), (4, 8)]);
    }
}
