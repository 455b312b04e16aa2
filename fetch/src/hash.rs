//! Hash: every selected signed object streamed through the kernel's hashers (one per signed
//! item, by byte range), into staging when the caller places the model.

use std::path::Path;

use modelseal_kernel::manifest::{
    HashJob, ItemCursor, ItemHashers, ItemKey, Mismatch, Plan, ResourcePath, UnsignedFiles,
    Verified,
};
use modelseal_kernel::trust::{Accepted, Policy};
use modelseal_kernel::Digest;
use modelseal_s3::{Chunk, Engine, Sink};

use crate::staged::StagedFile;

use crate::check::{check_listing, Listed};

use crate::locate::{Located, SignatureSource};
use crate::place::{create_new, join};
use crate::FetchError;

/// Hashes an object's bytes as they stream in (one hasher per signed item, by byte range) and,
/// when staging, writes them to a new file.
struct HashSink {
    hashers: Hashing,
    out: Option<StagedFile>,
}

/// How an object's items are hashed: in the sink's thread (a whole file), or, for a sharded
/// file, by a few workers that each own every Nth shard, so consecutive shards are hashed at the
/// same time on as many cores as there are workers. A worker gets its shard's part of each chunk
/// in order (one channel per worker); bounded channels hold the chunks, and with them the
/// engine's buffers and permits, so memory stays within the engine's bound.
enum Hashing {
    Inline(ItemHashers),
    Shards(ShardWorkers),
}

struct ShardWorkers {
    /// Which item the next bytes belong to (item `i` is owned by worker `i % workers`).
    cursor: ItemCursor,
    senders: Vec<std::sync::mpsc::SyncSender<(usize, Chunk, usize, usize)>>,
    workers: Vec<std::thread::JoinHandle<Vec<(usize, Digest)>>>,
    keys: Vec<ItemKey>,
    algorithm: modelseal_kernel::HashAlgorithm,
}

/// Chunks a worker may hold queued before the sink waits for it.
const QUEUED_PER_WORKER: usize = 2;

impl ShardWorkers {
    fn start(
        keys: &[ItemKey],
        size: u64,
        algorithm: modelseal_kernel::HashAlgorithm,
        workers: usize,
    ) -> Self {
        let mut senders = Vec::new();
        let mut handles = Vec::new();
        for _ in 0..workers {
            let (tx, rx) =
                std::sync::mpsc::sync_channel::<(usize, Chunk, usize, usize)>(QUEUED_PER_WORKER);
            senders.push(tx);
            handles.push(std::thread::spawn(move || {
                let mut hashers: std::collections::BTreeMap<usize, modelseal_kernel::Hasher> =
                    std::collections::BTreeMap::new();
                for (item, chunk, from, to) in rx {
                    hashers
                        .entry(item)
                        .or_insert_with(|| modelseal_kernel::Hasher::new(algorithm))
                        .update(&chunk[from..to]);
                }
                hashers
                    .into_iter()
                    .map(|(item, h)| (item, h.finalize()))
                    .collect()
            }));
        }
        ShardWorkers {
            cursor: ItemCursor::new(keys, size),
            senders,
            workers: handles,
            keys: keys.to_vec(),
            algorithm,
        }
    }

    fn write(&mut self, chunk: &Chunk) -> std::io::Result<()> {
        let mut off = 0;
        while off < chunk.len() {
            let (item, take) = self
                .cursor
                .step(chunk.len() - off)
                .map_err(std::io::Error::other)?;
            self.senders[item % self.senders.len()]
                .send((item, chunk.clone(), off, off + take))
                .map_err(|_| std::io::Error::other("a hashing thread stopped"))?;
            off += take;
        }
        Ok(())
    }

    fn finish(self) -> std::io::Result<Vec<(ItemKey, Digest)>> {
        drop(self.senders);
        let mut digests: Vec<Option<Digest>> = vec![None; self.keys.len()];
        for w in self.workers {
            let done = w
                .join()
                .map_err(|_| std::io::Error::other("a hashing thread panicked"))?;
            for (item, d) in done {
                digests[item] = Some(d);
            }
        }
        // An item no byte reached (the object ended early) is the empty input's digest, as
        // the sequential hashers give it; the manifest check then reports it changed.
        let algorithm = self.algorithm;
        Ok(self
            .keys
            .into_iter()
            .zip(digests)
            .map(|(k, d)| (k, d.unwrap_or_else(|| algorithm.digest(b""))))
            .collect())
    }
}

impl Sink for HashSink {
    fn write(&mut self, chunk: &Chunk) -> std::io::Result<()> {
        if let Some(f) = &mut self.out {
            f.send(chunk)?;
        }
        match &mut self.hashers {
            Hashing::Inline(h) => h.update(chunk).map_err(std::io::Error::other),
            Hashing::Shards(w) => w.write(chunk),
        }
    }
}

impl HashSink {
    fn finish(mut self) -> std::io::Result<Vec<(ItemKey, Digest)>> {
        if let Some(mut f) = self.out.take() {
            f.join()?;
        }
        match self.hashers {
            Hashing::Inline(h) => Ok(h.finish()),
            Hashing::Shards(w) => w.finish(),
        }
    }
}

/// How many threads hash a sharded object: one per core, at most one per shard; a whole file
/// is hashed in the sink's own thread.
fn shard_workers(keys: &[ItemKey]) -> usize {
    if keys.len() < 2 || !keys.iter().all(|k| matches!(k, ItemKey::Shard { .. })) {
        return 1;
    }
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    cores.min(keys.len())
}

/// A model that verified (and, with staging, was written there).
pub struct Fetched {
    pub verified: Verified,
    pub plan: Plan,
    /// The bundle's bytes, to place beside the model; empty when trust was a pin.
    pub signature: Vec<u8>,
    /// Who the policy accepted (rule, authority, evidence); `None` when trust was a pin.
    pub accepted: Option<Accepted>,
}

/// Signature first, then every selected signed object streamed through the hashers (and into
/// `staging`), then the check. `select` keeps only some signed files (KServe's patterns);
/// `unsigned` says whether objects outside the manifest refuse the model or are left alone.
pub async fn fetch(
    engine: &Engine,
    located: &Located,
    policy: &Policy,
    signature: Option<SignatureSource>,
    unsigned: UnsignedFiles,
    staging: Option<&Path>,
    select: Option<&dyn Fn(&ResourcePath) -> bool>,
) -> Result<Fetched, FetchError> {
    let uri = located.uri();
    let Listed {
        manifest,
        mut plan,
        signature,
        accepted,
    } = check_listing(engine, located, policy, signature, unsigned).await?;
    if let Some(keep) = select {
        plan.select(keep);
    }
    let digests = hash_objects(engine, located, &plan, staging).await?;
    let verified = manifest.check(&plan, &digests).map_err(|mismatch| {
        match (accepted.is_none(), mismatch.changed.first()) {
            (true, Some(c)) => FetchError::PinMismatch {
                uri: uri.clone(),
                pinned: c.expected.to_hex(),
                found: c.actual.to_hex(),
                source: "the sha256",
            },
            _ => FetchError::Mismatch {
                shown: uri.clone(),
                mismatch,
            },
        }
    })?;
    Ok(Fetched {
        verified,
        plan,
        signature,
        accepted,
    })
}

/// Hashes for `sign s3://` what the kernel's `SigningPlan` chose (`jobs`: its objects from
/// [`Located::local_model`], whole or in shards, with its hash), streamed with `If-Match` on
/// each listed ETag, so an object replaced while it is read fails the run instead of being
/// signed.
pub async fn hash_for_signing(
    engine: &Engine,
    located: &Located,
    jobs: Vec<HashJob>,
) -> Result<Vec<(ItemKey, Digest)>, FetchError> {
    let plan = Plan {
        jobs,
        ..Plan::default()
    };
    hash_objects(engine, located, &plan, None).await
}

async fn hash_objects(
    engine: &Engine,
    located: &Located,
    plan: &Plan,
    staging: Option<&Path>,
) -> Result<Vec<(ItemKey, Digest)>, FetchError> {
    let mut jobs = Vec::with_capacity(plan.jobs.len());
    for job in &plan.jobs {
        let Some(object) = located.object(&job.path) else {
            return Err(FetchError::Mismatch {
                shown: located.uri(),
                mismatch: Mismatch {
                    changed: Vec::new(),
                    size_changed: Vec::new(),
                    missing: vec![job.path.clone()],
                    extra: Vec::new(),
                },
            });
        };
        let out = match staging {
            Some(dir) => {
                let p = join(dir, &located.placed_name(&job.path));
                Some(StagedFile::new(
                    create_new(&p).map_err(|e| FetchError::local("write", &p, e))?,
                ))
            }
            None => None,
        };
        let workers = shard_workers(&job.keys);
        let hashers = if workers > 1 {
            Hashing::Shards(ShardWorkers::start(
                &job.keys,
                object.size,
                job.algorithm,
                workers,
            ))
        } else {
            Hashing::Inline(ItemHashers::new(&job.keys, object.size, job.algorithm))
        };
        jobs.push((object.clone(), HashSink { hashers, out }));
    }
    let done = engine
        .download_many(&located.bucket, jobs)
        .await
        .map_err(FetchError::s3)?;
    let mut results = Vec::new();
    for (object, sink) in done {
        let what = format!("finish s3://{}/{}", located.bucket, object.key);
        results.extend(
            sink.finish()
                .map_err(|e| FetchError::local(&what, Path::new(&object.key), e))?,
        );
    }
    Ok(results)
}
