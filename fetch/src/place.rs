//! Place: the only code that writes under DEST. It makes the staging directory and the files
//! staged there, empties DEST of what an earlier run left, and renames verified files (or a
//! verified archive's unpacked entries) into DEST, never walking through what DEST holds.

use crate::hash::Fetched;
use crate::locate::Located;
use crate::{FetchError, STAGING_NAME};
use std::io::Write as _;
use std::path::{Path, PathBuf};

/// Creates a file that did not exist, readable by any UID (the serving container's).
pub(crate) fn create_new(path: &Path) -> std::io::Result<std::fs::File> {
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

pub(crate) fn join(base: &Path, rel: &str) -> PathBuf {
    rel.split('/').fold(base.to_path_buf(), |p, c| p.join(c))
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
/// in DEST during the run stops the placement instead of being merged with (what was already
/// renamed in is taken back: DEST then holds nothing placed).
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
    rename_in(
        tops.into_iter()
            .map(|top| (staging.join(top), std::ffi::OsString::from(top))),
        staging,
        dest,
    )?;
    Ok(placed)
}

/// Renames each `(from, name)` to `DEST/name`, then removes staging and syncs DEST. An entry
/// that appeared in DEST during the run stops the placement rather than being merged with, and
/// any failure takes back what this call already renamed in, so DEST holds nothing placed.
fn rename_in(
    entries: impl Iterator<Item = (PathBuf, std::ffi::OsString)>,
    staging: &Path,
    dest: &Path,
) -> Result<usize, FetchError> {
    let mut done: Vec<PathBuf> = Vec::new();
    let mut one = |from: PathBuf, name: std::ffi::OsString| -> Result<(), FetchError> {
        let to = dest.join(&name);
        if std::fs::symlink_metadata(&to).is_ok() {
            return Err(FetchError::DestNotEmpty {
                dest: dest.to_path_buf(),
                entries: vec![name.to_string_lossy().into_owned()],
            });
        }
        std::fs::rename(&from, &to).map_err(|e| FetchError::local("place", &to, e))?;
        done.push(to);
        Ok(())
    };
    for (from, name) in entries {
        if let Err(e) = one(from, name) {
            for placed in &done {
                let _ = remove_entry(placed);
            }
            return Err(e);
        }
    }
    remove_staging(staging);
    if let Ok(d) = std::fs::File::open(dest) {
        let _ = d.sync_all();
    }
    Ok(done.len())
}

/// Moves the entries of `from` (a verified archive unpacked in staging) into DEST, which must
/// hold nothing else (see [`clear_dest`]): each top-level entry is renamed in, so nothing in
/// DEST is walked through or merged with, and an entry that appeared in DEST during the run
/// stops the placement. The staging directory is removed afterwards.
pub fn place_entries(from: &Path, staging: &Path, dest: &Path) -> Result<usize, FetchError> {
    let mut entries = Vec::new();
    for entry in std::fs::read_dir(from).map_err(|e| FetchError::local("list", from, e))? {
        let entry = entry.map_err(|e| FetchError::local("list", from, e))?;
        entries.push((entry.path(), entry.file_name()));
    }
    rename_in(entries.into_iter(), staging, dest)
}

/// Makes the directory an archive is unpacked into, inside staging.
pub fn unpack_dir(staging: &Path) -> Result<PathBuf, FetchError> {
    let into = staging.join(".unpacked");
    std::fs::create_dir(&into).map_err(|e| FetchError::local("create", &into, e))?;
    Ok(into)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An entry that appeared in DEST stops the placement, and what was renamed in before it
    /// is taken back.
    #[test]
    fn a_stopped_placement_leaves_nothing_placed() {
        let d = tempfile::tempdir().unwrap();
        let (staging, dest) = (d.path().join("s"), d.path().join("dest"));
        std::fs::create_dir_all(staging.join("a")).unwrap();
        std::fs::write(staging.join("a/w.bin"), b"w").unwrap();
        std::fs::write(staging.join("b"), b"b").unwrap();
        std::fs::create_dir_all(&dest).unwrap();
        std::fs::write(dest.join("b"), b"someone else's").unwrap();
        let entries = ["a", "b"].map(|n| (staging.join(n), std::ffi::OsString::from(n)));
        let e = rename_in(entries.into_iter(), &staging, &dest).unwrap_err();
        assert!(matches!(e, FetchError::DestNotEmpty { .. }), "{e}");
        assert!(!dest.join("a").exists(), "a placed entry was left behind");
        assert_eq!(std::fs::read(dest.join("b")).unwrap(), b"someone else's");
    }
}
