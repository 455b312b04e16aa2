//! KServe unpacks a model that arrives as a single archive; so do we, after verification, and
//! more carefully: entries that would escape the destination, links and special files are
//! refused, and so is an archive that expands past a size limit (counted as bytes are written).

use std::fs::File;
use std::io::{self, Read, Write};
use std::path::{Component, Path, PathBuf};

/// Why an archive is not unpacked. Nothing it names is left in DEST: the caller unpacks into
/// the staging directory and removes it on failure.
#[derive(Debug)]
pub enum ArchiveError {
    /// A compression this build does not unpack (bzip2, xz).
    Unsupported(String),
    /// Not an archive of its kind, or damaged.
    Corrupt { what: &'static str, why: String },
    /// An entry whose name would land outside the destination.
    Escapes(String),
    /// An entry under the name modelseal reserves in DEST for its staging directory.
    Reserved(String),
    /// A link, device or other entry that is not a file or a directory.
    NotAFile { entry: String, what: String },
    /// The archive expands past the limit (MODELSEAL_MAX_UNPACKED_BYTES).
    TooLarge { limit: u64 },
    /// Reading the archive or writing an entry failed.
    Io { entry: String, error: io::Error },
}

impl std::fmt::Display for ArchiveError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ArchiveError::Unsupported(name) => write!(
                f,
                "{name}: bzip2 and xz archives are not unpacked by modelseal-init; ship the model unpacked, or as .tar.gz or .zip"
            ),
            ArchiveError::Corrupt { what, why } => write!(f, "{what}: {why}"),
            ArchiveError::Escapes(entry) => write!(
                f,
                "archive entry '{entry}' would land outside the destination"
            ),
            ArchiveError::Reserved(entry) => write!(
                f,
                "archive entry '{entry}' uses '{}', a name modelseal reserves in DEST",
                modelseal_fetch::STAGING_NAME
            ),
            ArchiveError::NotAFile { entry, what } => write!(
                f,
                "archive entry '{entry}' is a {what}; only files and directories are unpacked"
            ),
            ArchiveError::TooLarge { limit } => write!(
                f,
                "the archive expands past the {limit} byte limit (MODELSEAL_MAX_UNPACKED_BYTES)"
            ),
            ArchiveError::Io { entry, error } => write!(f, "{entry}: {error}"),
        }
    }
}

impl std::error::Error for ArchiveError {}

fn io_at(entry: &str) -> impl FnOnce(io::Error) -> ArchiveError + '_ {
    move |error| ArchiveError::Io {
        entry: entry.to_string(),
        error,
    }
}

fn corrupt(what: &'static str) -> impl FnOnce(io::Error) -> ArchiveError {
    move |e| ArchiveError::Corrupt {
        what,
        why: e.to_string(),
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Tar,
    TarGz,
    Zip,
}

/// The archive kind by file name, as KServe's `mimetypes.guess_type` decides: `None` for a plain
/// file; an error for archive formats this build does not unpack.
pub fn kind(name: &str) -> Option<Result<Kind, ArchiveError>> {
    let n = name.to_ascii_lowercase();
    if n.ends_with(".tar.gz") || n.ends_with(".tgz") {
        Some(Ok(Kind::TarGz))
    } else if n.ends_with(".tar") {
        Some(Ok(Kind::Tar))
    } else if n.ends_with(".zip") {
        Some(Ok(Kind::Zip))
    } else if n.ends_with(".tar.bz2")
        || n.ends_with(".tar.xz")
        || n.ends_with(".tbz2")
        || n.ends_with(".txz")
    {
        Some(Err(ArchiveError::Unsupported(name.to_string())))
    } else {
        None
    }
}

/// A relative path with only normal components, or None.
fn safe(path: &Path) -> Option<PathBuf> {
    let mut out = PathBuf::new();
    for c in path.components() {
        match c {
            Component::Normal(p) => out.push(p),
            Component::CurDir => {}
            _ => return None,
        }
    }
    (!out.as_os_str().is_empty()).then_some(out)
}

/// Refuses an entry whose first component is a name modelseal reserves in DEST (its staging
/// directory): unpacked and renamed into DEST, it would collide with the staging directory.
fn check_reserved(rel: &Path, shown: &str) -> Result<(), ArchiveError> {
    match rel.components().next() {
        Some(Component::Normal(first)) if first == modelseal_fetch::STAGING_NAME => {
            Err(ArchiveError::Reserved(shown.to_string()))
        }
        _ => Ok(()),
    }
}

struct Budget {
    left: u64,
    limit: u64,
}

impl Budget {
    fn copy(
        &mut self,
        from: &mut impl Read,
        to: &mut impl Write,
        name: &str,
    ) -> Result<(), ArchiveError> {
        let mut buf = vec![0u8; 256 << 10];
        loop {
            let n = from.read(&mut buf).map_err(io_at(name))?;
            if n == 0 {
                return Ok(());
            }
            if n as u64 > self.left {
                return Err(ArchiveError::TooLarge { limit: self.limit });
            }
            self.left -= n as u64;
            to.write_all(&buf[..n]).map_err(io_at(name))?;
        }
    }
}

fn create(into: &Path, rel: &Path) -> io::Result<File> {
    let path = into.join(rel);
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)?;
    }
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    std::os::unix::fs::OpenOptionsExt::mode(&mut opts, 0o644);
    let f = opts.open(&path)?;
    std::fs::set_permissions(&path, std::os::unix::fs::PermissionsExt::from_mode(0o644))?;
    Ok(f)
}

/// Unpacks `archive` into the empty directory `into`; returns the number of files written.
pub fn extract(archive: &Path, kind: Kind, into: &Path, limit: u64) -> Result<usize, ArchiveError> {
    let shown_archive = archive.display().to_string();
    let file = File::open(archive).map_err(io_at(&shown_archive))?;
    let mut budget = Budget { left: limit, limit };
    let mut files = 0;
    match kind {
        Kind::Tar | Kind::TarGz => {
            let reader: Box<dyn Read> = match kind {
                Kind::TarGz => Box::new(flate2::read::GzDecoder::new(file)),
                _ => Box::new(file),
            };
            let mut tar = tar::Archive::new(reader);
            for entry in tar.entries().map_err(corrupt("not a tar archive"))? {
                let mut entry = entry.map_err(corrupt("corrupt tar archive"))?;
                let raw = entry
                    .path()
                    .map_err(corrupt("corrupt tar entry name"))?
                    .into_owned();
                let shown = raw.display().to_string();
                let rel = safe(&raw).ok_or_else(|| ArchiveError::Escapes(shown.clone()))?;
                // Checked as each entry is met, before any byte of it is written (a tar is a
                // stream: a first pass would read, and decompress, the whole archive twice).
                check_reserved(&rel, &shown)?;
                match entry.header().entry_type() {
                    tar::EntryType::Directory => {
                        std::fs::create_dir_all(into.join(&rel)).map_err(io_at(&shown))?
                    }
                    tar::EntryType::Regular | tar::EntryType::Continuous => {
                        let mut out = create(into, &rel).map_err(io_at(&shown))?;
                        budget.copy(&mut entry, &mut out, &shown)?;
                        files += 1;
                    }
                    other => {
                        return Err(ArchiveError::NotAFile {
                            entry: shown,
                            what: format!("{other:?}"),
                        })
                    }
                }
            }
        }
        Kind::Zip => {
            let mut zip = zip::ZipArchive::new(file).map_err(|e| ArchiveError::Corrupt {
                what: "not a zip archive",
                why: e.to_string(),
            })?;
            let zip_corrupt = |e: zip::result::ZipError| ArchiveError::Corrupt {
                what: "corrupt zip archive",
                why: e.to_string(),
            };
            // The central directory names every entry: refuse hostile names before unpacking.
            for i in 0..zip.len() {
                let entry = zip.by_index_raw(i).map_err(zip_corrupt)?;
                let shown = entry.name().to_string();
                let rel = entry
                    .enclosed_name()
                    .and_then(|p| safe(&p))
                    .ok_or_else(|| ArchiveError::Escapes(shown.clone()))?;
                check_reserved(&rel, &shown)?;
            }
            for i in 0..zip.len() {
                let mut entry = zip.by_index(i).map_err(zip_corrupt)?;
                let shown = entry.name().to_string();
                let rel = entry
                    .enclosed_name()
                    .and_then(|p| safe(&p))
                    .ok_or_else(|| ArchiveError::Escapes(shown.clone()))?;
                if entry.is_symlink() {
                    return Err(ArchiveError::NotAFile {
                        entry: shown,
                        what: "link".into(),
                    });
                }
                if entry.is_dir() {
                    std::fs::create_dir_all(into.join(&rel)).map_err(io_at(&shown))?;
                } else {
                    let mut out = create(into, &rel).map_err(io_at(&shown))?;
                    budget.copy(&mut entry, &mut out, &shown)?;
                    files += 1;
                }
            }
        }
    }
    Ok(files)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tar_with(entries: &[(&str, &[u8], tar::EntryType)]) -> Vec<u8> {
        let mut b = tar::Builder::new(Vec::new());
        for (name, data, kind) in entries {
            let mut h = tar::Header::new_gnu();
            // Write the name bytes directly: set_path refuses '..', which is what we test.
            h.as_gnu_mut().unwrap().name[..name.len()].copy_from_slice(name.as_bytes());
            h.set_size(data.len() as u64);
            h.set_entry_type(*kind);
            h.set_mode(0o644);
            h.set_cksum();
            b.append(&h, *data).unwrap();
        }
        b.into_inner().unwrap()
    }

    fn unpack(
        bytes: &[u8],
        kind: Kind,
        limit: u64,
    ) -> (tempfile::TempDir, Result<usize, ArchiveError>) {
        let d = tempfile::tempdir().unwrap();
        let a = d.path().join("a");
        std::fs::write(&a, bytes).unwrap();
        let into = d.path().join("x");
        std::fs::create_dir(&into).unwrap();
        let r = extract(&a, kind, &into, limit);
        (d, r)
    }

    #[test]
    fn good_tar_unpacks() {
        let t = tar_with(&[
            ("m/w.bin", b"abc", tar::EntryType::Regular),
            ("c.json", b"{}", tar::EntryType::Regular),
        ]);
        let (d, r) = unpack(&t, Kind::Tar, 1 << 20);
        assert_eq!(r.unwrap(), 2);
        assert_eq!(std::fs::read(d.path().join("x/m/w.bin")).unwrap(), b"abc");
    }

    #[test]
    fn hostile_archives_are_refused() {
        let escape = tar_with(&[("../evil", b"x", tar::EntryType::Regular)]);
        assert!(unpack(&escape, Kind::Tar, 1 << 20)
            .1
            .unwrap_err()
            .to_string()
            .contains("outside the destination"));
        let abs = tar_with(&[("/etc/evil", b"x", tar::EntryType::Regular)]);
        assert!(unpack(&abs, Kind::Tar, 1 << 20).1.is_err());
        let link = tar_with(&[("l", b"", tar::EntryType::Symlink)]);
        assert!(unpack(&link, Kind::Tar, 1 << 20)
            .1
            .unwrap_err()
            .to_string()
            .contains("only files and directories"));
        let reserved = tar_with(&[(".modelseal-staging/x", b"x", tar::EntryType::Regular)]);
        let (d, r) = unpack(&reserved, Kind::Tar, 1 << 20);
        assert!(r.unwrap_err().to_string().contains("reserves"));
        assert_eq!(std::fs::read_dir(d.path().join("x")).unwrap().count(), 0);
        let big = tar_with(&[("big", &[0u8; 5000], tar::EntryType::Regular)]);
        assert!(unpack(&big, Kind::Tar, 4096)
            .1
            .unwrap_err()
            .to_string()
            .contains("limit"));
    }

    #[test]
    fn a_zip_with_a_reserved_name_unpacks_nothing() {
        let mut w = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
        let opts = zip::write::SimpleFileOptions::default();
        w.start_file("ok.txt", opts).unwrap();
        w.write_all(b"fine").unwrap();
        w.start_file(".modelseal-staging/x", opts).unwrap();
        w.write_all(b"x").unwrap();
        let bytes = w.finish().unwrap().into_inner();
        let (d, r) = unpack(&bytes, Kind::Zip, 1 << 20);
        assert!(r.unwrap_err().to_string().contains("reserves"));
        assert_eq!(
            std::fs::read_dir(d.path().join("x")).unwrap().count(),
            0,
            "refused before the first entry was unpacked"
        );
    }

    #[test]
    fn kinds() {
        assert!(matches!(kind("model.tar.gz"), Some(Ok(Kind::TarGz))));
        assert!(matches!(kind("m.TGZ"), Some(Ok(Kind::TarGz))));
        assert!(matches!(kind("m.zip"), Some(Ok(Kind::Zip))));
        assert!(matches!(kind("m.tar.xz"), Some(Err(_))));
        assert!(kind("model.safetensors").is_none());
    }
}
