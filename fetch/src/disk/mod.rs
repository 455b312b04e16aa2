//! A model on disk takes the steps a model in S3 takes: locate (walk the tree, refusing links,
//! special files and names that are not UTF-8), check (the signature under the policy, the
//! files found against the signed manifest), hash (from disk, as the kernel's plan asks) and the
//! kernel's verdict. `sign`, `digest` and `push` use the same locate and hash steps.

mod hash;

use std::fs;
use std::path::{Component, Path, PathBuf};

use modelseal_kernel::manifest::{
    LocalFile, LocalModel, PlanOptions, ResourcePath, UnsignedFiles, Verified,
};
use modelseal_kernel::trust::{Accepted, Policy};

pub use hash::{hash_file, hash_file_each, hash_jobs, hashed_bytes};

use crate::{check_signature, read_local_signature, FetchError};

/// Why an entry of a model tree cannot be part of a model.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// A symlink (refused, as model_signing refuses them by default).
    Symlink,
    /// A FIFO, socket or device.
    Special,
    /// A name that is not UTF-8 or not a safe relative path.
    Name,
}

impl Refusal {
    /// What the entry is, in the words of the error ("model 'm' contains a symlink: m/x").
    pub fn what(self) -> &'static str {
        match self {
            Refusal::Symlink => "a symlink",
            Refusal::Special => "a file that is not a regular file",
            Refusal::Name => "a file name that is not UTF-8",
        }
    }
}

/// A model as found on disk: a regular file, or a directory's regular files.
pub struct OnDisk {
    /// The path given, for reading.
    pub path: PathBuf,
    pub local: LocalModel,
}

/// Locate, on disk: opens a model path, a regular file or a directory walked in full.
/// `signature` is where the model's bundle is (or will be written): inside a directory it is
/// evidence, not model, so a link or special file there is left to the check that reads it
/// (and names it as the signature), not refused as part of the model.
pub fn open(path: &Path, signature: Option<&Path>) -> Result<OnDisk, FetchError> {
    let meta = fs::symlink_metadata(path).map_err(|e| FetchError::local("read model", path, e))?;
    let local = if meta.file_type().is_symlink() {
        return Err(refused(path, path.to_path_buf(), Refusal::Symlink));
    } else if meta.is_file() {
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .ok_or_else(|| refused(path, path.to_path_buf(), Refusal::Name))?
            .to_string();
        LocalModel::File {
            name,
            size: meta.len(),
        }
    } else if meta.is_dir() {
        let mut files = Vec::new();
        let evidence = signature.and_then(|s| inside(path, s));
        walk(path, path, evidence.as_ref(), &mut files)?;
        LocalModel::Directory { files }
    } else {
        return Err(refused(path, path.to_path_buf(), Refusal::Special));
    };
    Ok(OnDisk {
        path: path.to_path_buf(),
        local,
    })
}

fn refused(model: &Path, entry: PathBuf, refusal: Refusal) -> FetchError {
    FetchError::Entry {
        model: model.to_path_buf(),
        entry,
        refusal,
    }
}

fn walk(
    root: &Path,
    dir: &Path,
    evidence: Option<&ResourcePath>,
    out: &mut Vec<LocalFile>,
) -> Result<(), FetchError> {
    let io = |what: &str, p: &Path, e| FetchError::local(what, p, e);
    for entry in fs::read_dir(dir).map_err(|e| io("list", dir, e))? {
        let entry = entry.map_err(|e| io("list", dir, e))?;
        let path = entry.path();
        let kind = entry.file_type().map_err(|e| io("read", &path, e))?;
        let is_evidence = || evidence.is_some() && relative(root, &path).as_ref() == evidence;
        if !kind.is_file() && !kind.is_dir() && is_evidence() {
            continue;
        }
        if kind.is_symlink() {
            return Err(refused(root, path, Refusal::Symlink));
        } else if kind.is_dir() {
            walk(root, &path, evidence, out)?;
        } else if kind.is_file() {
            let size = entry.metadata().map_err(|e| io("read", &path, e))?.len();
            let Some(rel) = relative(root, &path) else {
                return Err(refused(root, path, Refusal::Name));
            };
            out.push(LocalFile { path: rel, size });
        } else {
            return Err(refused(root, path, Refusal::Special));
        }
    }
    Ok(())
}

impl OnDisk {
    pub fn is_file(&self) -> bool {
        matches!(self.local, LocalModel::File { .. })
    }

    /// Where to read the file the kernel calls `path` (`.` is the single-file model itself).
    pub fn file_path(&self, path: &ResourcePath) -> PathBuf {
        if self.is_file() {
            self.path.clone()
        } else {
            path.components().fold(self.path.clone(), |p, c| p.join(c))
        }
    }

    /// The size of each file the kernel may name, as found: a lookup built once (a directory of
    /// many files would be a scan per file otherwise). A single file answers every name.
    pub fn sizes(&self) -> impl Fn(&ResourcePath) -> u64 + '_ {
        let map: std::collections::HashMap<&ResourcePath, u64> = match &self.local {
            LocalModel::File { .. } => Default::default(),
            LocalModel::Directory { files } => files.iter().map(|f| (&f.path, f.size)).collect(),
        };
        move |path| match &self.local {
            LocalModel::File { size, .. } => *size,
            LocalModel::Directory { .. } => map.get(path).copied().unwrap_or(0),
        }
    }

    /// The files found and their total size (what a progress bar counts toward).
    pub fn listed(&self) -> (usize, u64) {
        match &self.local {
            LocalModel::File { size, .. } => (1, *size),
            LocalModel::Directory { files } => (files.len(), files.iter().map(|f| f.size).sum()),
        }
    }

    /// The model's name as model_signing records it: the last component of its absolute path.
    pub fn name(&self) -> String {
        let abs = fs::canonicalize(&self.path).unwrap_or_else(|_| self.path.clone());
        abs.file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default()
    }

    /// The signature's path inside the model directory, when it lies there.
    pub fn signature_inside(&self, signature: &Path) -> Option<ResourcePath> {
        if self.is_file() {
            None
        } else {
            inside(&self.path, signature)
        }
    }
}

/// `path` relative to `root` as a checked POSIX resource path.
fn relative(root: &Path, path: &Path) -> Option<ResourcePath> {
    let rel = path.strip_prefix(root).ok()?;
    let mut parts = Vec::new();
    for c in rel.components() {
        match c {
            Component::Normal(s) => parts.push(s.to_str()?),
            _ => return None,
        }
    }
    ResourcePath::parse(&parts.join("/")).ok()
}

/// Where `inner` sits inside the directory `root`, if it does (both resolved on disk as far as
/// they exist, so `./model/model.sig` and `model/model.sig` agree).
fn inside(root: &Path, inner: &Path) -> Option<ResourcePath> {
    let root = fs::canonicalize(root).ok()?;
    let parent = inner
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let inner = fs::canonicalize(parent).ok()?.join(inner.file_name()?);
    relative(&root, &inner)
}

/// `path` made absolute against the working directory, `.` and `..` resolved by the text alone
/// (model_signing's `Path.resolve` also follows links; a model holds none).
pub fn absolute(path: &Path) -> Result<PathBuf, FetchError> {
    let cwd = std::env::current_dir().map_err(|e| FetchError::local("read", Path::new("."), e))?;
    let mut out = PathBuf::new();
    for c in cwd.join(path).components() {
        match c {
            Component::CurDir => {}
            Component::ParentDir => {
                out.pop();
            }
            other => out.push(other),
        }
    }
    Ok(out)
}

/// A local model's or file's location as a trust policy's rules match it: its absolute path
/// (lexically; symlinks not followed).
pub fn location(path: &Path) -> Result<String, FetchError> {
    Ok(absolute(path)?.to_string_lossy().into_owned())
}

/// What a check of a model on disk is told beyond its trust policy.
pub struct DiskCheck<'a> {
    /// Where the bundle is (inside the model directory or not).
    pub signature: &'a Path,
    /// Paths left out of the check (`verify --ignore-paths`), never a signed file's excuse.
    pub excluded: Vec<ResourcePath>,
    pub unsigned: UnsignedFiles,
    pub threads: usize,
}

/// A model on disk that verified, who the policy accepted, and the bundle as it was read for
/// the check (what `push --signature` uploads).
pub struct VerifiedOnDisk {
    pub verified: Verified,
    pub accepted: Accepted,
    pub signature: Vec<u8>,
}

/// Check, hash and verdict for a located model on disk: steps 0-8 on the bundle at
/// `check.signature` under `policy`, the files found planned against the signed manifest
/// (step 9), each planned item hashed from disk, and the kernel's comparison (step 10).
pub fn verify(
    model: &OnDisk,
    policy: &Policy,
    check: DiskCheck<'_>,
) -> Result<VerifiedOnDisk, FetchError> {
    let bytes = read_local_signature(check.signature)?;
    let verdict = check_signature(
        bytes.as_deref(),
        &check.signature.display().to_string(),
        &format!("'{}'", model.path.display()),
        policy,
        &location(&model.path)?,
    )?;
    let options = PlanOptions {
        evidence: model
            .signature_inside(check.signature)
            .into_iter()
            .collect(),
        excluded: check.excluded,
        unsigned: check.unsigned,
    };
    let plan = verdict.manifest.plan(&model.local, &options);
    let digests = hash_jobs(model, plan.jobs.clone(), check.threads)?;
    let verified = verdict
        .manifest
        .check(&plan, &digests)
        .map_err(|mismatch| FetchError::Mismatch {
            shown: model.path.display().to_string(),
            mismatch,
        })?;
    Ok(VerifiedOnDisk {
        verified,
        accepted: verdict.accepted,
        signature: bytes.unwrap_or_default(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn links_special_files_and_sizes() {
        let dir = tempfile::tempdir().unwrap();
        let m = dir.path().join("m");
        fs::create_dir_all(m.join("sub")).unwrap();
        fs::write(m.join("sub/b"), b"12345").unwrap();
        fs::write(m.join("a"), b"1").unwrap();
        let model = open(&m, None).unwrap();
        assert_eq!(model.listed(), (2, 6));
        let size = model.sizes();
        assert_eq!(size(&ResourcePath::parse("sub/b").unwrap()), 5);
        assert_eq!(size(&ResourcePath::parse("none").unwrap()), 0);
        assert_eq!(
            model.signature_inside(&m.join("sub/model.sig")),
            Some(ResourcePath::parse("sub/model.sig").unwrap())
        );
        assert_eq!(model.signature_inside(&dir.path().join("model.sig")), None);
        std::os::unix::fs::symlink("a", m.join("link")).unwrap();
        // At the signature's place a link is the signature check's to refuse.
        assert!(open(&m, Some(&m.join("link"))).is_ok());
        match open(&m, Some(&m.join("model.sig"))) {
            Err(FetchError::Entry { entry, refusal, .. }) => {
                assert_eq!(refusal, Refusal::Symlink);
                assert_eq!(entry, m.join("link"));
            }
            _ => panic!("a symlink in a model must be refused"),
        }
        assert!(matches!(
            open(&dir.path().join("missing"), None),
            Err(FetchError::Local { .. })
        ));
    }
}
