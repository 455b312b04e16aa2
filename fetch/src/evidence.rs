//! Bounded reads of local evidence: signatures, keys, certificates and trusted roots.
//!
//! Evidence is read before the model is walked, so these reads carry their own guards: the file
//! must be a regular file (a FIFO would block forever, `/dev/zero` would never end), no larger
//! than a limit, and, for a signature, not a symlink (a link may point out of the model).
//! Opening with `O_NONBLOCK` makes a FIFO fail fast instead of waiting for a writer.

use std::fmt;
use std::fs::OpenOptions;
use std::io::Read as _;
use std::os::unix::fs::{FileTypeExt as _, OpenOptionsExt as _};
use std::path::Path;

/// A bundle larger than this is not one any signer writes.
pub const SIGNATURE_LIMIT: u64 = 16 << 20;
/// Keys, certificates and certificate chains.
pub const KEY_LIMIT: u64 = 1 << 20;
/// Trusted roots and CA bundles.
pub const TRUST_LIMIT: u64 = 4 << 20;

/// Whether the last path component may be a symlink.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Links {
    /// Followed to a regular file: Kubernetes mounts Secrets and ConfigMaps as symlinks.
    Follow,
    /// Refused: a signature that is a link may point anywhere.
    Refuse,
}

/// Why a piece of evidence could not be read.
#[derive(Debug)]
pub enum EvidenceError {
    NotFound(std::io::Error),
    /// The path is a symlink and `Links::Refuse` was asked.
    Symlink,
    /// A directory, FIFO, socket or device: "a directory", "a FIFO", ...
    NotRegular(&'static str),
    TooLarge {
        size: u64,
        limit: u64,
    },
    Io(std::io::Error),
}

impl EvidenceError {
    /// True when the file exists but is unusable as evidence (as opposed to absent or unreadable).
    pub fn is_unusable(&self) -> bool {
        matches!(
            self,
            EvidenceError::Symlink | EvidenceError::NotRegular(_) | EvidenceError::TooLarge { .. }
        )
    }
}

impl fmt::Display for EvidenceError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            EvidenceError::NotFound(e) | EvidenceError::Io(e) => write!(f, "{}", plain(e)),
            EvidenceError::Symlink => f.write_str("it is a symlink, which is refused"),
            EvidenceError::NotRegular(what) => write!(f, "it is {what}, not a regular file"),
            EvidenceError::TooLarge { size, limit } => {
                write!(f, "it is {size} bytes; the limit is {limit}")
            }
        }
    }
}

impl std::error::Error for EvidenceError {}

/// An io::Error's text without Rust's " (os error N)" suffix.
pub(crate) fn plain(e: &std::io::Error) -> String {
    let s = e.to_string();
    match s.find(" (os error") {
        Some(i) => s[..i].to_string(),
        None => s,
    }
}

fn kind_of(t: std::fs::FileType) -> &'static str {
    if t.is_dir() {
        "a directory"
    } else if t.is_fifo() {
        "a FIFO"
    } else if t.is_socket() {
        "a socket"
    } else if t.is_char_device() {
        "a character device"
    } else if t.is_block_device() {
        "a block device"
    } else {
        "not a regular file"
    }
}

/// Reads `path` whole: a regular file of at most `limit` bytes.
pub fn read(path: &Path, limit: u64, links: Links) -> Result<Vec<u8>, EvidenceError> {
    let mut flags = libc::O_NONBLOCK | libc::O_NOCTTY;
    if links == Links::Refuse {
        flags |= libc::O_NOFOLLOW;
    }
    let file = OpenOptions::new().read(true).custom_flags(flags).open(path);
    let mut file = match file {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(EvidenceError::NotFound(e))
        }
        // O_NOFOLLOW on a symlink answers ELOOP.
        Err(e) if e.raw_os_error() == Some(libc::ELOOP) && links == Links::Refuse => {
            return Err(EvidenceError::Symlink)
        }
        // A socket cannot be opened at all (ENXIO).
        Err(e) if e.raw_os_error() == Some(libc::ENXIO) => {
            return Err(EvidenceError::NotRegular("a socket"))
        }
        Err(e) => return Err(EvidenceError::Io(e)),
    };
    let meta = file.metadata().map_err(EvidenceError::Io)?;
    if !meta.file_type().is_file() {
        return Err(EvidenceError::NotRegular(kind_of(meta.file_type())));
    }
    if meta.len() > limit {
        return Err(EvidenceError::TooLarge {
            size: meta.len(),
            limit,
        });
    }
    // The file may grow while we read: never take more than one byte past the limit.
    let mut bytes = Vec::with_capacity(meta.len() as usize);
    (&mut file)
        .take(limit + 1)
        .read_to_end(&mut bytes)
        .map_err(EvidenceError::Io)?;
    if bytes.len() as u64 > limit {
        return Err(EvidenceError::TooLarge {
            size: bytes.len() as u64,
            limit,
        });
    }
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn regular_files_within_the_limit() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("sig");
        std::fs::write(&p, b"12345").unwrap();
        assert_eq!(read(&p, 5, Links::Refuse).unwrap(), b"12345");
        assert!(matches!(
            read(&p, 4, Links::Refuse),
            Err(EvidenceError::TooLarge { size: 5, limit: 4 })
        ));
        assert!(matches!(
            read(&d.path().join("absent"), 5, Links::Refuse),
            Err(EvidenceError::NotFound(_))
        ));
    }

    #[test]
    fn special_files_and_links_are_refused_promptly() {
        let d = tempfile::tempdir().unwrap();
        let fifo = d.path().join("fifo");
        let status = std::process::Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap();
        assert!(status.success());
        // Would block forever without O_NONBLOCK.
        assert!(matches!(
            read(&fifo, 1 << 20, Links::Follow),
            Err(EvidenceError::NotRegular("a FIFO"))
        ));
        let zero = d.path().join("zero");
        std::os::unix::fs::symlink("/dev/zero", &zero).unwrap();
        assert!(matches!(
            read(&zero, 1 << 20, Links::Refuse),
            Err(EvidenceError::Symlink)
        ));
        assert!(matches!(
            read(&zero, 1 << 20, Links::Follow),
            Err(EvidenceError::NotRegular("a character device"))
        ));
        assert!(matches!(
            read(d.path(), 1 << 20, Links::Follow),
            Err(EvidenceError::NotRegular("a directory"))
        ));
        let real = d.path().join("real");
        std::fs::write(&real, b"k").unwrap();
        let link = d.path().join("link");
        std::os::unix::fs::symlink(&real, &link).unwrap();
        assert_eq!(read(&link, 10, Links::Follow).unwrap(), b"k");
        assert!(read(&link, 10, Links::Refuse).unwrap_err().is_unusable());
    }
}
