//! Staged files: written on their own thread, so that writing overlaps hashing, and past the
//! page cache where the filesystem allows it.
//!
//! Why direct I/O: on the machines we measure on, writing 1 GiB through the page cache and then
//! fsync-ing it costs about 3 s of system time; the same bytes written with `O_DIRECT` from
//! page-aligned buffers cost about 0.2 s (bench/README.md, "Writing"). The download buffers are
//! page-aligned and ranges are whole pages, so every chunk but an object's last goes straight to
//! the device; the unaligned tail, and every write on a filesystem that refuses `O_DIRECT`
//! (tmpfs on older kernels), goes through the page cache as before. `sync_all` at the end covers
//! both.

use std::fs::File;
use std::io::Write as _;
use std::os::unix::io::AsRawFd;

use modelseal_s3::Chunk;

/// Direct I/O needs the buffer address, the file offset and the length aligned to the device's
/// logical block size; a page is a multiple of every block size Linux supports.
const ALIGN: usize = 4096;
/// The largest single write(2) through the page cache: one multi-MiB buffered write cost ten
/// times the system time of the same bytes in 1 MiB writes here (bench/README.md).
const BUFFERED_PIECE: usize = 1 << 20;

/// Writes a file's bytes in order, directly where it can.
struct Writer {
    file: File,
    direct: bool,
    pos: u64,
}

impl Writer {
    fn new(file: File) -> Self {
        let direct = set_direct(&file, true).is_ok();
        Writer {
            file,
            direct,
            pos: 0,
        }
    }

    fn write(&mut self, mut data: &[u8]) -> std::io::Result<()> {
        while !data.is_empty() {
            let aligned = data.len() & !(ALIGN - 1);
            let can_direct = self.direct
                && aligned > 0
                && data.as_ptr() as usize % ALIGN == 0
                && self.pos % ALIGN as u64 == 0;
            if !can_direct {
                self.buffered();
                for piece in data.chunks(BUFFERED_PIECE) {
                    self.file.write_all(piece)?;
                }
                self.pos += data.len() as u64;
                return Ok(());
            }
            match self.file.write(&data[..aligned]) {
                Ok(0) => return Err(std::io::ErrorKind::WriteZero.into()),
                Ok(n) => {
                    self.pos += n as u64;
                    data = &data[n..];
                }
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                // The filesystem took the flag but not this write: carry on through the cache.
                Err(e) if e.raw_os_error() == Some(libc::EINVAL) => self.buffered(),
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    /// Switches to writes through the page cache for the rest of the file.
    fn buffered(&mut self) {
        if self.direct {
            self.direct = false;
            let _ = set_direct(&self.file, false);
        }
    }
}

#[allow(
    unsafe_code,
    reason = "fcntl(F_GETFL/F_SETFL) for O_DIRECT has no safe wrapper in std or libc"
)]
fn set_direct(file: &File, on: bool) -> std::io::Result<()> {
    let fd = file.as_raw_fd();
    // SAFETY: fcntl on a descriptor this File owns, with integer arguments only.
    let flags = unsafe { libc::fcntl(fd, libc::F_GETFL) };
    if flags < 0 {
        return Err(std::io::Error::last_os_error());
    }
    let flags = if on {
        flags | libc::O_DIRECT
    } else {
        flags & !libc::O_DIRECT
    };
    // SAFETY: as above.
    if unsafe { libc::fcntl(fd, libc::F_SETFL, flags) } < 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(())
}

/// A staged file written on its own thread. Chunks carry the engine's memory permits, so
/// queueing them here does not raise memory past the engine's bound.
pub(crate) struct StagedFile {
    tx: Option<std::sync::mpsc::SyncSender<Chunk>>,
    thread: Option<std::thread::JoinHandle<std::io::Result<()>>>,
}

impl StagedFile {
    pub(crate) fn new(file: File) -> Self {
        let (tx, rx) = std::sync::mpsc::sync_channel::<Chunk>(1);
        let thread = std::thread::spawn(move || {
            let mut w = Writer::new(file);
            for chunk in rx {
                w.write(&chunk)?;
            }
            w.file.sync_all()
        });
        StagedFile {
            tx: Some(tx),
            thread: Some(thread),
        }
    }

    /// Waits for the writer; its error, if it had one.
    pub(crate) fn join(&mut self) -> std::io::Result<()> {
        self.tx = None;
        match self.thread.take().map(|t| t.join()) {
            Some(Ok(result)) => result,
            Some(Err(_)) => Err(std::io::Error::other("the writing thread panicked")),
            None => Ok(()),
        }
    }

    pub(crate) fn send(&mut self, chunk: &Chunk) -> std::io::Result<()> {
        let sent = self.tx.as_ref().map(|tx| tx.send(chunk.clone()));
        match sent {
            Some(Ok(())) => Ok(()),
            // The writer stopped: report why.
            _ => self
                .join()
                .and(Err(std::io::Error::other("the writing thread stopped"))),
        }
    }
}

impl Drop for StagedFile {
    fn drop(&mut self) {
        let _ = self.join();
    }
}

#[cfg(test)]
mod tests {
    use super::{Writer, ALIGN};
    use std::path::Path;

    fn pattern(len: usize) -> Vec<u8> {
        (0..len).map(|i| (i * 7 + i / 4096) as u8).collect()
    }

    /// `data` copied into a buffer at a page boundary plus `skew` bytes; the buffer and the offset.
    fn aligned_copy(data: &[u8], skew: usize) -> (Vec<u8>, usize) {
        let mut v = vec![0u8; data.len() + 2 * ALIGN];
        let at = v.as_ptr().align_offset(ALIGN) + skew;
        v[at..at + data.len()].copy_from_slice(data);
        (v, at)
    }

    /// Writes `pieces` (lengths, each from a buffer skewed by the given offset) and checks the
    /// file holds exactly those bytes, whichever mix of direct and cached writes it took.
    fn round_trip(dir: &Path, pieces: &[(usize, usize)]) {
        let path = dir.join(format!("staged-{pieces:?}"));
        let file = std::fs::File::create(&path).unwrap();
        let mut w = Writer::new(file);
        let mut want = Vec::new();
        for &(len, skew) in pieces {
            let data = pattern(len);
            let (buf, at) = aligned_copy(&data, skew);
            w.write(&buf[at..at + len]).unwrap();
            want.extend_from_slice(&data);
        }
        w.file.sync_all().unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), want, "{pieces:?}");
    }

    fn cases(dir: &Path) {
        round_trip(dir, &[]);
        round_trip(dir, &[(6 << 20, 0), (6 << 20, 0), (12_345, 0)]);
        round_trip(dir, &[(3 * ALIGN + 100, 0), (2 * ALIGN, 0)]);
        round_trip(dir, &[(2 * ALIGN, 16), (5 * ALIGN, 0)]);
        round_trip(dir, &[(100, 0)]);
    }

    #[test]
    fn writes_every_byte_in_the_temp_dir() {
        let dir = tempfile::tempdir().unwrap();
        cases(dir.path());
    }

    /// tmpfs (an emptyDir with `medium: Memory`) refuses O_DIRECT on older kernels.
    #[test]
    fn writes_every_byte_on_tmpfs() {
        if Path::new("/dev/shm").is_dir() {
            let dir = tempfile::tempdir_in("/dev/shm").unwrap();
            cases(dir.path());
        }
    }
}
