//! `modelseal trust update`: Sigstore's trusted root and signing config through TUF, from a
//! mirror (HTTP) or a mirrored repository on disk (air-gapped), verified by the kernel
//! ([`modelseal_kernel::tuf`]) and cached whole or not at all:
//!
//! ```text
//! $XDG_CACHE_HOME/modelseal/tuf/          (else ~/.cache/modelseal/tuf/)
//!   current                                which repository `verify` and `sign` use
//!   <repository, percent-encoded>/
//!     root.json timestamp.json snapshot.json targets.json
//!     trusted_root.json signing_config.v0.2.json
//!     source.json                          where from, when, and each role's expiry
//! ```

use std::path::{Path, PathBuf};

use modelseal_kernel::tuf::{Expirations, Trusted, TufError, MAX_ROOT_ROTATIONS, METADATA_LIMIT};

use crate::http::{Http, Request, Settings};
use crate::OnlineError;

pub const TRUSTED_ROOT: &str = "trusted_root.json";
pub const SIGNING_CONFIG: &str = "signing_config.v0.2.json";
/// A target is at most this large (a trusted root is tens of KiB).
const TARGET_LIMIT: u64 = 4 << 20;

/// Where TUF metadata and targets come from.
pub enum Repository<'a> {
    Mirror(&'a str),
    Dir(&'a Path),
}

impl Repository<'_> {
    /// The name the cache keeps it under, and `trust show` prints.
    pub fn name(&self) -> String {
        match self {
            Repository::Mirror(url) => url.trim_end_matches('/').to_string(),
            Repository::Dir(p) => format!(
                "file://{}",
                std::path::absolute(p).unwrap_or(p.to_path_buf()).display()
            ),
        }
    }
}

#[derive(Debug)]
pub enum UpdateError {
    Tuf(TufError),
    Fetch(OnlineError),
    Cache(String),
}

impl std::fmt::Display for UpdateError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            UpdateError::Tuf(e) => write!(f, "{e}"),
            UpdateError::Fetch(e) => write!(f, "{e}"),
            UpdateError::Cache(e) => write!(f, "{e}"),
        }
    }
}

impl std::error::Error for UpdateError {}

/// The cache's root directory: `$XDG_CACHE_HOME/modelseal/tuf`, else `~/.cache/modelseal/tuf`.
pub fn cache_root() -> Option<PathBuf> {
    let base = std::env::var_os("XDG_CACHE_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| {
            std::env::var_os("HOME")
                .filter(|v| !v.is_empty())
                .map(|h| PathBuf::from(h).join(".cache"))
        })?;
    Some(base.join("modelseal").join("tuf"))
}

fn encode(name: &str) -> String {
    name.bytes()
        .map(|b| match b {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'-' | b'.' | b'_' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// What an update left in the cache.
#[derive(Debug)]
pub struct Updated {
    pub repository: String,
    pub dir: PathBuf,
    pub expirations: Expirations,
    pub root_rotations: u64,
}

/// The trusted root and signing config of the repository last updated, if any: (bytes of
/// trusted_root.json, bytes of signing_config.v0.2.json if the repository has one, dir).
pub fn cached() -> Option<(Vec<u8>, Option<Vec<u8>>, PathBuf)> {
    let root = cache_root()?;
    let current = std::fs::read_to_string(root.join("current")).ok()?;
    let dir = root.join(current.trim());
    let trusted = std::fs::read(dir.join(TRUSTED_ROOT)).ok()?;
    let signing = std::fs::read(dir.join(SIGNING_CONFIG)).ok();
    Some((trusted, signing, dir))
}

struct Fetcher<'a> {
    repo: &'a Repository<'a>,
    http: Option<(Http, tokio::runtime::Runtime)>,
}

impl Fetcher<'_> {
    /// A file of the repository, or `None` when it does not exist (a 404, or no such file).
    fn get(&self, rel: &str, limit: u64) -> Result<Option<Vec<u8>>, OnlineError> {
        match (self.repo, &self.http) {
            (Repository::Dir(dir), _) => {
                let p = dir.join(rel);
                match std::fs::metadata(&p) {
                    Err(_) => Ok(None),
                    Ok(m) if m.len() > limit => Err(OnlineError::Io(format!(
                        "{} is larger than {limit} bytes",
                        p.display()
                    ))),
                    Ok(_) => std::fs::read(&p)
                        .map(Some)
                        .map_err(|e| OnlineError::Io(format!("cannot read {}: {e}", p.display()))),
                }
            }
            (Repository::Mirror(url), Some((http, rt))) => {
                let url = format!("{}/{rel}", url.trim_end_matches('/'));
                let req = Request {
                    service: "the TUF mirror",
                    url: &url,
                    method: "GET",
                    content_type: "application/json",
                    accept: "*/*",
                    bearer: None,
                    secret: None,
                    body: Vec::new(),
                };
                match rt.block_on(http.send(&req)) {
                    Ok(b) if b.len() as u64 > limit => Err(OnlineError::Io(format!(
                        "{url} is larger than {limit} bytes"
                    ))),
                    Ok(b) => Ok(Some(b)),
                    Err(OnlineError::Refused {
                        status: 404 | 403, ..
                    }) => Ok(None),
                    Err(e) => Err(e),
                }
            }
            (Repository::Mirror(_), None) => Err(OnlineError::Setup("no HTTP client".into())),
        }
    }

    fn need(&self, rel: &str, limit: u64) -> Result<Vec<u8>, UpdateError> {
        self.get(rel, limit)
            .map_err(UpdateError::Fetch)?
            .ok_or_else(|| UpdateError::Cache(format!("the repository has no {rel}")))
    }
}

/// Updates the cache for `repo` as the TUF client workflow does: from the cached root (else
/// `bootstrap`), every newer root in turn, then timestamp, snapshot and targets (each against
/// the cached one for rollback), then the two targets. Nothing is written unless all of it
/// verified; then the repository becomes the one in use.
pub fn update(
    repo: &Repository<'_>,
    bootstrap: &[u8],
    settings: Settings,
    now: u64,
) -> Result<Updated, UpdateError> {
    let cache_root = cache_root().ok_or_else(|| {
        UpdateError::Cache("no cache directory: set XDG_CACHE_HOME or HOME".into())
    })?;
    let name = repo.name();
    let dir = cache_root.join(encode(&name));
    let cached = |f: &str| std::fs::read(dir.join(f)).ok();
    let http = match repo {
        Repository::Mirror(_) => {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .map_err(|e| UpdateError::Fetch(OnlineError::Setup(e.to_string())))?;
            let http = {
                let _guard = rt.enter();
                Http::new(settings).map_err(UpdateError::Fetch)?
            };
            Some((http, rt))
        }
        Repository::Dir(_) => None,
    };
    let fetch = Fetcher { repo, http };

    // 5.2-5.3: the trusted root, then each newer one.
    let start = match cached("root.json") {
        Some(r) if Trusted::new(&r, now).is_ok() => r,
        _ => bootstrap.to_vec(),
    };
    let mut trusted = Trusted::new(&start, now).map_err(UpdateError::Tuf)?;
    let mut root_bytes = start;
    let first_root = trusted.root().clone();
    let first = first_root.version;
    loop {
        let next = trusted.root().version + 1;
        if next - first > MAX_ROOT_ROTATIONS {
            return Err(UpdateError::Tuf(TufError::TooManyRoots));
        }
        match fetch
            .get(&format!("{next}.root.json"), METADATA_LIMIT)
            .map_err(UpdateError::Fetch)?
        {
            None => break,
            Some(bytes) => {
                trusted.update_root(&bytes).map_err(UpdateError::Tuf)?;
                root_bytes = bytes;
            }
        }
    }
    trusted.check_root_fresh().map_err(UpdateError::Tuf)?;
    // 5.3.11: new timestamp or snapshot keys void what the old ones signed as the rollback
    // floor; a rotation of other keys (root, targets) keeps it.
    let rotated = ["timestamp", "snapshot"]
        .iter()
        .any(|role| !first_root.same_role_keys(trusted.root(), role));
    let previous = |f: &str| if rotated { None } else { cached(f) };

    // 5.4-5.6.
    let timestamp = fetch.need("timestamp.json", METADATA_LIMIT)?;
    trusted
        .update_timestamp(&timestamp, previous("timestamp.json").as_deref())
        .map_err(UpdateError::Tuf)?;
    let consistent = trusted.root().consistent_snapshot;
    let snapshot_version = trusted.snapshot_version().unwrap_or_default();
    let snapshot_name = if consistent {
        format!("{snapshot_version}.snapshot.json")
    } else {
        "snapshot.json".into()
    };
    let snapshot = fetch.need(&snapshot_name, METADATA_LIMIT)?;
    trusted
        .update_snapshot(&snapshot, previous("snapshot.json").as_deref())
        .map_err(UpdateError::Tuf)?;
    let targets_version = trusted.targets_version().unwrap_or_default();
    let targets_name = if consistent {
        format!("{targets_version}.targets.json")
    } else {
        "targets.json".into()
    };
    let targets = fetch.need(&targets_name, METADATA_LIMIT)?;
    trusted.update_targets(&targets).map_err(UpdateError::Tuf)?;

    // 5.7: the targets, named by their hash in a consistent snapshot.
    let mut files = Vec::new();
    for target in [TRUSTED_ROOT, SIGNING_CONFIG] {
        let info = match trusted.target(target) {
            Ok(i) => i,
            // A repository may have no signing config (older Sigstore roots).
            Err(TufError::UnknownTarget(_)) if target == SIGNING_CONFIG => continue,
            Err(e) => return Err(UpdateError::Tuf(e)),
        };
        let rel = match (consistent, &info.sha256) {
            (true, Some(h)) => format!("targets/{h}.{target}"),
            _ => format!("targets/{target}"),
        };
        let bytes = fetch.need(&rel, TARGET_LIMIT.min(info.length))?;
        trusted
            .check_target(target, &bytes)
            .map_err(UpdateError::Tuf)?;
        files.push((target, bytes));
    }
    // The trusted root must be one the kernel can use.
    if let Some((_, root)) = files.iter().find(|(t, _)| *t == TRUSTED_ROOT) {
        modelseal_kernel::trusted_root::TrustedRoot::from_json(root).map_err(|e| {
            UpdateError::Cache(format!(
                "the repository's trusted_root.json is not usable: {e}"
            ))
        })?;
    } else {
        return Err(UpdateError::Tuf(TufError::UnknownTarget(
            TRUSTED_ROOT.into(),
        )));
    }

    // All verified: write, then point `current` at it.
    let expirations = trusted.expirations();
    let write = |f: &str, bytes: &[u8]| write_atomic(&dir.join(f), bytes);
    std::fs::create_dir_all(&dir)
        .map_err(|e| UpdateError::Cache(format!("cannot create {}: {e}", dir.display())))?;
    write("root.json", &root_bytes)?;
    write("timestamp.json", &timestamp)?;
    write("snapshot.json", &snapshot)?;
    write("targets.json", &targets)?;
    // A signing config left from an earlier update of a repository that dropped it goes.
    let _ = std::fs::remove_file(dir.join(SIGNING_CONFIG));
    for (name, bytes) in &files {
        write(name, bytes)?;
    }
    let source = serde_json::json!({
        "repository": name,
        "updated": now,
        "root": {"version": expirations.root.0, "expires": expirations.root.1},
        "timestamp": expirations.timestamp.map(|(v, e)| serde_json::json!({"version": v, "expires": e})),
        "snapshot": expirations.snapshot.map(|(v, e)| serde_json::json!({"version": v, "expires": e})),
        "targets": expirations.targets.map(|(v, e)| serde_json::json!({"version": v, "expires": e})),
    });
    write("source.json", source.to_string().as_bytes())?;
    write_atomic(&cache_root.join("current"), encode(&name).as_bytes())?;
    Ok(Updated {
        repository: name,
        dir,
        expirations,
        root_rotations: trusted.root().version - first,
    })
}

fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), UpdateError> {
    let err =
        |e: std::io::Error| UpdateError::Cache(format!("cannot write {}: {e}", path.display()));
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, bytes).map_err(err)?;
    std::fs::rename(&tmp, path).map_err(err)
}
