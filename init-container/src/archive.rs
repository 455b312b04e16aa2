//! KServe unpacks a model that arrives as a single archive; so do we, after verification, and
//! more carefully: entries that would escape the destination, links and special files are
//! refused, and so is an archive that expands past a size limit (counted as bytes are written).

use std::fs::File;
use std::io::{self, Read, Write};
use std::path::{Component, Path, PathBuf};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Tar,
    TarGz,
    Zip,
}

/// The archive kind by file name, as KServe's `mimetypes.guess_type` decides: `None` for a plain
/// file; an error for archive formats this build does not unpack.
pub fn kind(name: &str) -> Option<Result<Kind, String>> {
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
        Some(Err(format!(
            "{name}: bzip2 and xz archives are not unpacked by modelseal-init; ship the model unpacked, or as .tar.gz or .zip"
        )))
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
fn check_reserved(rel: &Path, shown: &str) -> Result<(), String> {
    match rel.components().next() {
        Some(Component::Normal(first)) if first == modelseal_fetch::STAGING_NAME => Err(format!(
            "archive entry '{shown}' uses '{}', a name modelseal reserves in DEST",
            modelseal_fetch::STAGING_NAME
        )),
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
    ) -> Result<(), String> {
        let mut buf = vec![0u8; 256 << 10];
        loop {
            let n = from.read(&mut buf).map_err(|e| format!("{name}: {e}"))?;
            if n == 0 {
                return Ok(());
            }
            if n as u64 > self.left {
                return Err(format!(
                    "the archive expands past the {} byte limit (MODELSEAL_MAX_UNPACKED_BYTES)",
                    self.limit
                ));
            }
            self.left -= n as u64;
            to.write_all(&buf[..n])
                .map_err(|e| format!("{name}: {e}"))?;
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
pub fn extract(archive: &Path, kind: Kind, into: &Path, limit: u64) -> Result<usize, String> {
    let file = File::open(archive).map_err(|e| format!("{}: {e}", archive.display()))?;
    let mut budget = Budget { left: limit, limit };
    let mut files = 0;
    match kind {
        Kind::Tar | Kind::TarGz => {
            let reader: Box<dyn Read> = match kind {
                Kind::TarGz => Box::new(flate2::read::GzDecoder::new(file)),
                _ => Box::new(file),
            };
            let mut tar = tar::Archive::new(reader);
            for entry in tar
                .entries()
                .map_err(|e| format!("not a tar archive: {e}"))?
            {
                let mut entry = entry.map_err(|e| format!("corrupt tar archive: {e}"))?;
                let raw = entry
                    .path()
                    .map_err(|e| format!("corrupt tar entry name: {e}"))?
                    .into_owned();
                let shown = raw.display().to_string();
                let rel = safe(&raw).ok_or_else(|| {
                    format!("archive entry '{shown}' would land outside the destination")
                })?;
                // Checked as each entry is met, before any byte of it is written (a tar is a
                // stream: a first pass would read, and decompress, the whole archive twice).
                check_reserved(&rel, &shown)?;
                match entry.header().entry_type() {
                    tar::EntryType::Directory => std::fs::create_dir_all(into.join(&rel)).map_err(|e| format!("{shown}: {e}"))?,
                    tar::EntryType::Regular | tar::EntryType::Continuous => {
                        let mut out = create(into, &rel).map_err(|e| format!("{shown}: {e}"))?;
                        budget.copy(&mut entry, &mut out, &shown)?;
                        files += 1;
                    }
                    other => return Err(format!("archive entry '{shown}' is a {other:?}; only files and directories are unpacked")),
                }
            }
        }
        Kind::Zip => {
            let mut zip =
                zip::ZipArchive::new(file).map_err(|e| format!("not a zip archive: {e}"))?;
            // The central directory names every entry: refuse hostile names before unpacking.
            for i in 0..zip.len() {
                let entry = zip
                    .by_index_raw(i)
                    .map_err(|e| format!("corrupt zip archive: {e}"))?;
                let shown = entry.name().to_string();
                let rel = entry
                    .enclosed_name()
                    .and_then(|p| safe(&p))
                    .ok_or_else(|| {
                        format!("archive entry '{shown}' would land outside the destination")
                    })?;
                check_reserved(&rel, &shown)?;
            }
            for i in 0..zip.len() {
                let mut entry = zip
                    .by_index(i)
                    .map_err(|e| format!("corrupt zip archive: {e}"))?;
                let shown = entry.name().to_string();
                let rel = entry
                    .enclosed_name()
                    .and_then(|p| safe(&p))
                    .ok_or_else(|| {
                        format!("archive entry '{shown}' would land outside the destination")
                    })?;
                if entry.is_symlink() {
                    return Err(format!("archive entry '{shown}' is a link; only files and directories are unpacked"));
                }
                if entry.is_dir() {
                    std::fs::create_dir_all(into.join(&rel))
                        .map_err(|e| format!("{shown}: {e}"))?;
                } else {
                    let mut out = create(into, &rel).map_err(|e| format!("{shown}: {e}"))?;
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

    fn unpack(bytes: &[u8], kind: Kind, limit: u64) -> (tempfile::TempDir, Result<usize, String>) {
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
            .contains("outside the destination"));
        let abs = tar_with(&[("/etc/evil", b"x", tar::EntryType::Regular)]);
        assert!(unpack(&abs, Kind::Tar, 1 << 20).1.is_err());
        let link = tar_with(&[("l", b"", tar::EntryType::Symlink)]);
        assert!(unpack(&link, Kind::Tar, 1 << 20)
            .1
            .unwrap_err()
            .contains("only files and directories"));
        let reserved = tar_with(&[(".modelseal-staging/x", b"x", tar::EntryType::Regular)]);
        let (d, r) = unpack(&reserved, Kind::Tar, 1 << 20);
        assert!(r.unwrap_err().contains("reserves"));
        assert_eq!(std::fs::read_dir(d.path().join("x")).unwrap().count(), 0);
        let big = tar_with(&[("big", &[0u8; 5000], tar::EntryType::Regular)]);
        assert!(unpack(&big, Kind::Tar, 4096)
            .1
            .unwrap_err()
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
        assert!(r.unwrap_err().contains("reserves"));
        assert_eq!(
            std::fs::read_dir(d.path().join("x")).unwrap().count(),
            0,
            "refused before the first entry was unpacked"
        );
    }

    #[test]
    fn kinds() {
        assert_eq!(kind("model.tar.gz"), Some(Ok(Kind::TarGz)));
        assert_eq!(kind("m.TGZ"), Some(Ok(Kind::TarGz)));
        assert_eq!(kind("m.zip"), Some(Ok(Kind::Zip)));
        assert!(matches!(kind("m.tar.xz"), Some(Err(_))));
        assert_eq!(kind("model.safetensors"), None);
    }
}
