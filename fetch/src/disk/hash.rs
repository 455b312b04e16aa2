//! Hash, for a model on disk: 1 MiB reads into the kernel's hashers, several files at once
//! across cores (each shard of a sharded file a task of its own), and a pipelined reader for a
//! lone file so reading overlaps hashing. It moves bytes; it decides nothing.

use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::mpsc::sync_channel;
use std::sync::Mutex;

use modelseal_kernel::manifest::{HashJob, ItemKey};
use modelseal_kernel::{Digest, HashAlgorithm, Hasher};

use super::OnDisk;
use crate::FetchError;

/// Read size. 1 MiB stays in L2 and measured 4-7% faster for SHA-256 than 8 MiB here.
const BUF: usize = 1 << 20;
/// Buffers in flight between the reader and the hasher of a pipelined file.
const IN_FLIGHT: usize = 4;
/// Read buffers start on a page boundary. glibc places a 1 MiB allocation 16 bytes past one, and
/// reading into such a buffer measured 40% slower on these machines (bench/README.md, "Reading").
const ALIGN: usize = 4096;

/// Bytes hashed so far in this process, for progress (one relaxed add per 1 MiB read).
static HASHED: AtomicU64 = AtomicU64::new(0);

/// Bytes hashed from disk so far, for a progress bar.
pub fn hashed_bytes() -> u64 {
    HASHED.load(Ordering::Relaxed)
}

/// A `BUF`-byte read buffer that starts `ALIGN`-aligned.
struct Buffer {
    storage: Vec<u8>,
    start: usize,
}

impl Buffer {
    fn new() -> Self {
        let storage = vec![0u8; BUF + ALIGN];
        // For u8 the offset always exists and is below ALIGN; min() keeps the slice in bounds.
        let start = storage.as_ptr().align_offset(ALIGN).min(ALIGN);
        Buffer { storage, start }
    }

    fn space(&mut self) -> &mut [u8] {
        &mut self.storage[self.start..self.start + BUF]
    }

    fn filled(&self, n: usize) -> &[u8] {
        &self.storage[self.start..self.start + n]
    }
}

/// A hash job with the file it reads.
struct Task {
    file: PathBuf,
    job: HashJob,
}

fn range_of(key: &ItemKey) -> Option<(u64, u64)> {
    match key {
        ItemKey::File(_) => None,
        ItemKey::Shard { start, end, .. } => Some((*start, *end)),
    }
}

/// Reads a range (or the whole file) in chunks. A file shorter than the range is an error: it
/// changed while we read it.
struct RangeReader<'f> {
    file: &'f mut File,
    remaining: u64,
    bounded: bool,
}

impl<'f> RangeReader<'f> {
    fn new(file: &'f mut File, range: Option<(u64, u64)>) -> io::Result<Self> {
        let (remaining, bounded) = match range {
            Some((start, end)) => {
                file.seek(SeekFrom::Start(start))?;
                (end - start, true)
            }
            None => (u64::MAX, false),
        };
        Ok(RangeReader {
            file,
            remaining,
            bounded,
        })
    }

    /// Fills part of `buf`; 0 means the range is done.
    fn next_into(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.remaining == 0 {
            return Ok(0);
        }
        let want = buf
            .len()
            .min(usize::try_from(self.remaining).unwrap_or(usize::MAX));
        loop {
            match self.file.read(&mut buf[..want]) {
                Ok(0) if self.bounded => {
                    return Err(io::Error::new(
                        io::ErrorKind::UnexpectedEof,
                        "the file is shorter than when it was listed (it changed while being read)",
                    ))
                }
                Ok(n) => {
                    self.remaining -= n as u64;
                    return Ok(n);
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            }
        }
    }
}

/// Hashers fed the same bytes: one read of a file gives a digest per algorithm.
struct Hashers(Vec<Hasher>);

impl Hashers {
    fn new(algorithms: &[HashAlgorithm]) -> Self {
        Hashers(algorithms.iter().map(|a| Hasher::new(*a)).collect())
    }

    fn update(&mut self, data: &[u8]) {
        for h in &mut self.0 {
            h.update(data);
        }
        HASHED.fetch_add(data.len() as u64, Ordering::Relaxed);
    }

    fn finalize(self) -> Vec<Digest> {
        self.0.into_iter().map(Hasher::finalize).collect()
    }
}

/// The one digest of a single-algorithm hash.
fn only(digests: io::Result<Vec<Digest>>) -> io::Result<Digest> {
    digests?
        .pop()
        .ok_or_else(|| io::Error::other("no hash algorithm"))
}

/// Hashes one range on this thread, once per algorithm, reading it once.
fn hash_direct(
    file: &mut File,
    range: Option<(u64, u64)>,
    algorithms: &[HashAlgorithm],
    buf: &mut Buffer,
) -> io::Result<Vec<Digest>> {
    let mut h = Hashers::new(algorithms);
    let mut reader = RangeReader::new(file, range)?;
    loop {
        match reader.next_into(buf.space())? {
            0 => return Ok(h.finalize()),
            n => h.update(buf.filled(n)),
        }
    }
}

/// Hashes one range with a reader thread feeding this one, buffers recycled through channels.
fn hash_pipelined(
    file: &mut File,
    range: Option<(u64, u64)>,
    algorithms: &[HashAlgorithm],
) -> io::Result<Vec<Digest>> {
    std::thread::scope(|scope| {
        // The channels live in this closure, so an early return drops them and the reader stops.
        let (full_tx, full_rx) = sync_channel::<io::Result<(Buffer, usize)>>(IN_FLIGHT);
        let (empty_tx, empty_rx) = sync_channel::<Buffer>(IN_FLIGHT);
        for _ in 0..IN_FLIGHT {
            let _ = empty_tx.send(Buffer::new());
        }
        scope.spawn(move || {
            let stopped = || io::Error::other("hasher stopped");
            let result = RangeReader::new(file, range).and_then(|mut reader| loop {
                let mut buf = empty_rx.recv().map_err(|_| stopped())?;
                match reader.next_into(buf.space())? {
                    0 => return Ok(()),
                    n => full_tx.send(Ok((buf, n))).map_err(|_| stopped())?,
                }
            });
            if let Err(e) = result {
                let _ = full_tx.send(Err(e));
            }
        });
        let mut h = Hashers::new(algorithms);
        for msg in full_rx {
            let (buf, n) = msg?;
            h.update(buf.filled(n));
            let _ = empty_tx.send(buf);
        }
        Ok(h.finalize())
    })
}

/// Opens a file of a model for hashing. The walk found a regular file here; one that is now a
/// symlink, a FIFO or a device (swapped in while the model was read) is refused, never followed
/// or waited on.
fn open(path: &Path) -> Result<File, FetchError> {
    use std::os::unix::fs::OpenOptionsExt as _;
    let changed = |what: &str| {
        let e = io::Error::other(format!(
            "it is {what} now (it changed while the model was read)"
        ));
        FetchError::local("read", path, e)
    };
    let file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK | libc::O_NOCTTY)
        .open(path)
        .map_err(|e| match e.raw_os_error() {
            Some(libc::ELOOP) => changed("a symlink"),
            Some(libc::ENXIO) => changed("a socket"),
            _ => FetchError::local("read", path, e),
        })?;
    match file.metadata() {
        Ok(m) if m.is_file() => Ok(file),
        Ok(_) => Err(changed("not a regular file")),
        Err(e) => Err(FetchError::local("read", path, e)),
    }
}

/// Hashes one whole file; uses a reader thread when more than one core is allowed.
pub fn hash_file(
    path: &Path,
    algorithm: HashAlgorithm,
    threads: usize,
) -> Result<Digest, FetchError> {
    only(hash_file_all(path, &[algorithm], threads)).map_err(|e| FetchError::local("read", path, e))
}

/// Hashes one whole file under each of `algorithms`, reading it once.
pub fn hash_file_all(
    path: &Path,
    algorithms: &[HashAlgorithm],
    threads: usize,
) -> io::Result<Vec<Digest>> {
    let mut file = File::open(path)?;
    if threads > 1 {
        hash_pipelined(&mut file, None, algorithms)
    } else {
        hash_direct(&mut file, None, algorithms, &mut Buffer::new())
    }
}

/// Hashes one whole file under each of `algorithms`, reading it once (a cosign blob checked
/// against every digest a policy's authorities may have signed).
pub fn hash_file_each(
    path: &Path,
    algorithms: &[HashAlgorithm],
    threads: usize,
) -> Result<Vec<Digest>, FetchError> {
    hash_file_all(path, algorithms, threads).map_err(|e| FetchError::local("read", path, e))
}

/// Hashes what `jobs` (the kernel's plan for `model`) ask, on up to `threads` workers: the
/// digests keyed as the kernel asked, or the first read that failed.
pub fn hash_jobs(
    model: &OnDisk,
    jobs: Vec<HashJob>,
    threads: usize,
) -> Result<Vec<(ItemKey, Digest)>, FetchError> {
    let size_of = model.sizes();
    let tasks = jobs
        .into_iter()
        .map(|job| {
            let size = size_of(&job.path);
            let file = model.file_path(&job.path);
            (Task { file, job }, size)
        })
        .collect();
    run(tasks, threads)
}

/// A sharded file's shards are independent: each becomes a task of its own (reading its range
/// through its own file handle), so one large file is hashed on every worker instead of one.
fn per_shard((task, size): (Task, u64)) -> Vec<(Task, u64)> {
    let sharded = task.job.keys.len() > 1
        && task
            .job
            .keys
            .iter()
            .all(|k| matches!(k, ItemKey::Shard { .. }));
    if !sharded {
        return vec![(task, size)];
    }
    let Task { file, job } = task;
    job.keys
        .into_iter()
        .map(|key| {
            let len = range_of(&key).map_or(0, |(start, end)| end - start);
            let job = HashJob {
                path: job.path.clone(),
                keys: vec![key],
                algorithm: job.algorithm,
            };
            (
                Task {
                    file: file.clone(),
                    job,
                },
                len,
            )
        })
        .collect()
}

/// Runs every task's hashes on up to `threads` workers, largest files first. Returns the digests
/// keyed as the kernel asked, or the first I/O failure.
fn run(tasks: Vec<(Task, u64)>, threads: usize) -> Result<Vec<(ItemKey, Digest)>, FetchError> {
    let mut tasks: Vec<(Task, u64)> = tasks.into_iter().flat_map(per_shard).collect();
    tasks.sort_by_key(|t| std::cmp::Reverse(t.1));
    let tasks: Vec<Task> = tasks.into_iter().map(|(t, _)| t).collect();
    if tasks.len() == 1 && threads > 1 {
        let task = &tasks[0];
        let mut file = open(&task.file)?;
        let mut out = Vec::new();
        for key in &task.job.keys {
            let algorithm = std::slice::from_ref(&task.job.algorithm);
            let d = only(hash_pipelined(&mut file, range_of(key), algorithm))
                .map_err(|e| FetchError::local("read", &task.file, e))?;
            out.push((key.clone(), d));
        }
        return Ok(out);
    }
    let next = AtomicUsize::new(0);
    let results = Mutex::new(Vec::new());
    let first_error: Mutex<Option<FetchError>> = Mutex::new(None);
    let workers = threads.min(tasks.len()).max(1);
    std::thread::scope(|scope| {
        for _ in 0..workers {
            scope.spawn(|| {
                let mut buf = Buffer::new();
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(task) = tasks.get(i) else { break };
                    if first_error.lock().map_or(true, |e| e.is_some()) {
                        break;
                    }
                    let outcome = open(&task.file).and_then(|mut file| {
                        let mut local = Vec::with_capacity(task.job.keys.len());
                        for key in &task.job.keys {
                            let algorithm = std::slice::from_ref(&task.job.algorithm);
                            let d =
                                only(hash_direct(&mut file, range_of(key), algorithm, &mut buf))
                                    .map_err(|e| FetchError::local("read", &task.file, e))?;
                            local.push((key.clone(), d));
                        }
                        Ok(local)
                    });
                    match outcome {
                        Ok(local) => {
                            if let Ok(mut r) = results.lock() {
                                r.extend(local);
                            }
                        }
                        Err(f) => {
                            if let Ok(mut e) = first_error.lock() {
                                e.get_or_insert(f);
                            }
                        }
                    }
                }
            });
        }
    });
    if let Some(f) = first_error.into_inner().ok().flatten() {
        return Err(f);
    }
    let results = results.into_inner().unwrap_or_default();
    Ok(results)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    /// A sharded file's shards become tasks of their own; a whole file stays one task.
    #[test]
    fn shards_are_tasks_of_their_own() {
        let path = modelseal_kernel::manifest::ResourcePath::parse("m.bin").unwrap();
        let shard = |start, end| ItemKey::Shard {
            path: path.clone(),
            start,
            end,
        };
        let task = |keys: Vec<ItemKey>| Task {
            file: PathBuf::from("m.bin"),
            job: HashJob {
                path: path.clone(),
                keys,
                algorithm: HashAlgorithm::Sha256,
            },
        };
        let split = per_shard((task(vec![shard(0, 10), shard(10, 15)]), 15));
        let sizes: Vec<u64> = split.iter().map(|(_, n)| *n).collect();
        assert_eq!(sizes, [10, 5]);
        assert!(split.iter().all(|(t, _)| t.job.keys.len() == 1));
        assert_eq!(
            per_shard((task(vec![ItemKey::File(path.clone())]), 15)).len(),
            1
        );
    }

    /// A model file swapped for a link or a FIFO after the walk is refused, not followed or
    /// waited on.
    #[test]
    fn model_files_are_opened_without_following_links() {
        let dir = tempfile::tempdir().unwrap();
        let real = dir.path().join("real");
        std::fs::write(&real, b"x").unwrap();
        assert!(open(&real).is_ok());
        let link = dir.path().join("link");
        std::os::unix::fs::symlink(&real, &link).unwrap();
        let fifo = dir.path().join("fifo");
        assert!(std::process::Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap()
            .success());
        for (path, what) in [(link, "a symlink now"), (fifo, "not a regular file now")] {
            match open(&path) {
                Err(e) => assert!(e.to_string().contains(what), "{e}"),
                Ok(_) => panic!("{} was opened", path.display()),
            }
        }
    }

    #[test]
    fn pipelined_equals_direct_and_ranges_read_exactly() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        let data: Vec<u8> = (0..(3 * BUF + 123)).map(|i| (i % 251) as u8).collect();
        File::create(&path).unwrap().write_all(&data).unwrap();
        let whole = HashAlgorithm::Sha256.digest(&data);
        assert_eq!(hash_file(&path, HashAlgorithm::Sha256, 2).unwrap(), whole);
        assert_eq!(hash_file(&path, HashAlgorithm::Sha256, 1).unwrap(), whole);
        let mut f = File::open(&path).unwrap();
        let r = (BUF as u64 - 7, 2 * BUF as u64 + 9);
        let sha256 = &[HashAlgorithm::Sha256];
        let part = only(hash_pipelined(&mut f, Some(r), sha256)).unwrap();
        assert_eq!(
            part,
            HashAlgorithm::Sha256.digest(&data[r.0 as usize..r.1 as usize])
        );
        let past_end = (0, data.len() as u64 + 1);
        assert!(hash_direct(&mut f, Some(past_end), sha256, &mut Buffer::new()).is_err());
        assert!(hash_pipelined(&mut f, Some(past_end), sha256).is_err());
        // Several algorithms from one read, both ways.
        let all = [
            HashAlgorithm::Sha256,
            HashAlgorithm::Sha384,
            HashAlgorithm::Sha512,
        ];
        let want: Vec<Digest> = all.iter().map(|a| a.digest(&data)).collect();
        assert_eq!(hash_file_all(&path, &all, 2).unwrap(), want);
        assert_eq!(hash_file_all(&path, &all, 1).unwrap(), want);
    }
}
