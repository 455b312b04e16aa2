//! Atomic writes of what the CLI makes (signatures, keys, generated documents). Models on disk
//! are read by `modelseal_fetch::disk`.

use std::fs;
use std::io::Write;
use std::path::Path;

use crate::failure::{self, Failure};

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
