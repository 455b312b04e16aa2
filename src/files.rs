//! The model on disk: enumeration (refusing symlinks and special files) and atomic writes.

use std::fs;
use std::io::Write;
use std::path::{Component, Path, PathBuf};

use modelseal_kernel::manifest::{LocalFile, LocalModel, ResourcePath};

use crate::failure::{self, Failure};

/// Why a model tree cannot be enumerated.
pub enum WalkError {
    /// A symlink in the model (refused, as model_signing refuses them by default).
    Symlink(PathBuf),
    /// A FIFO, socket or device.
    Special(PathBuf),
    /// A name that is not UTF-8 or not a safe relative path.
    Name(PathBuf),
    Io(Failure),
}

/// A model as found on disk.
pub struct Model {
    /// The path given, for reading.
    pub path: PathBuf,
    pub local: LocalModel,
}

impl Model {
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

    /// The model's name as model_signing records it: the last path component.
    pub fn name(&self) -> String {
        let abs = fs::canonicalize(&self.path).unwrap_or_else(|_| self.path.clone());
        abs.file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default()
    }
}

/// Opens a model path: a regular file, or a directory walked in full.
pub fn open_model(path: &Path) -> Result<Model, WalkError> {
    let meta = fs::symlink_metadata(path)
        .map_err(|e| WalkError::Io(failure::io("read model", path, &e)))?;
    let local = if meta.file_type().is_symlink() {
        return Err(WalkError::Symlink(path.to_path_buf()));
    } else if meta.is_file() {
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .ok_or_else(|| WalkError::Name(path.to_path_buf()))?
            .to_string();
        LocalModel::File {
            name,
            size: meta.len(),
        }
    } else if meta.is_dir() {
        let mut files = Vec::new();
        walk(path, path, &mut files)?;
        LocalModel::Directory { files }
    } else {
        return Err(WalkError::Special(path.to_path_buf()));
    };
    Ok(Model {
        path: path.to_path_buf(),
        local,
    })
}

fn walk(root: &Path, dir: &Path, out: &mut Vec<LocalFile>) -> Result<(), WalkError> {
    let entries = fs::read_dir(dir).map_err(|e| WalkError::Io(failure::io("list", dir, &e)))?;
    for entry in entries {
        let entry = entry.map_err(|e| WalkError::Io(failure::io("list", dir, &e)))?;
        let path = entry.path();
        let kind = entry
            .file_type()
            .map_err(|e| WalkError::Io(failure::io("read", &path, &e)))?;
        if kind.is_symlink() {
            return Err(WalkError::Symlink(path));
        } else if kind.is_dir() {
            walk(root, &path, out)?;
        } else if kind.is_file() {
            let size = entry
                .metadata()
                .map_err(|e| WalkError::Io(failure::io("read", &path, &e)))?
                .len();
            let rel = relative(root, &path).ok_or_else(|| WalkError::Name(path.clone()))?;
            out.push(LocalFile { path: rel, size });
        } else {
            return Err(WalkError::Special(path));
        }
    }
    Ok(())
}

/// `path` relative to `root` as a checked POSIX resource path.
pub fn relative(root: &Path, path: &Path) -> Option<ResourcePath> {
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
pub fn inside(root: &Path, inner: &Path) -> Option<ResourcePath> {
    let root = fs::canonicalize(root).ok()?;
    let parent = inner
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let inner = fs::canonicalize(parent).ok()?.join(inner.file_name()?);
    relative(&root, &inner)
}

/// Writes `bytes` to `path` all at once or not at all: a temporary file beside it, fsync, then
/// rename (or, with `clobber` false, a link that fails if `path` exists).
pub fn write_atomic(path: &Path, bytes: &[u8], mode: u32, clobber: bool) -> Result<(), Failure> {
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = dir.join(format!(".{name}.tmp-{}", std::process::id()));
    let result = (|| {
        let mut opts = fs::OpenOptions::new();
        opts.write(true).create_new(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut opts, mode);
        let mut f = opts.open(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        if clobber {
            fs::rename(&tmp, path)
        } else {
            fs::hard_link(&tmp, path)
        }
    })();
    let _ = fs::remove_file(&tmp);
    result.map_err(|e| {
        if e.kind() == std::io::ErrorKind::AlreadyExists {
            Failure::cannot_check(
                format!("{} already exists", path.display()),
                "remove it, or pass --force to overwrite it",
            )
        } else {
            failure::io("write", path, &e)
        }
    })
}
