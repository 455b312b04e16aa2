//! Hash: every selected signed object streamed through the kernel's hashers (one per signed
//! item, by byte range), into staging when the caller places the model.

use std::path::Path;

use modelseal_kernel::manifest::{
    HashJob, ItemHashers, ItemKey, Mismatch, Plan, ResourcePath, UnsignedFiles, Verified,
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
    hashers: ItemHashers,
    out: Option<StagedFile>,
}

impl Sink for HashSink {
    fn write(&mut self, chunk: &Chunk) -> std::io::Result<()> {
        if let Some(f) = &mut self.out {
            f.send(chunk)?;
        }
        self.hashers.update(chunk).map_err(std::io::Error::other)
    }
}

impl HashSink {
    fn finish(mut self) -> std::io::Result<Vec<(ItemKey, Digest)>> {
        if let Some(mut f) = self.out.take() {
            f.join()?;
        }
        Ok(self.hashers.finish())
    }
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
        let hashers = ItemHashers::new(&job.keys, object.size, job.algorithm);
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
