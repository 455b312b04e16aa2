//! Locate: what is at an S3 URI (one object, or the objects under a prefix, their keys
//! checked), where its signature is, and how a signature is read (from S3 or a local file).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use modelseal_kernel::manifest::{LocalFile, LocalModel, ResourcePath};
use modelseal_s3::{Engine, Object, S3Error, S3Uri};

use crate::evidence::{self, EvidenceError, Links, SIGNATURE_LIMIT};
use crate::{FetchError, SIGNATURE_NAME, STAGING_NAME};

/// A model in a bucket, as listed.
pub(crate) enum Remote {
    File {
        object: Object,
        name: String,
    },
    Dir {
        prefix: String,
        objects: BTreeMap<ResourcePath, Object>,
    },
}

/// A located model: a single object when the URI names one, else the objects under `key/`.
pub struct Located {
    pub bucket: String,
    pub(crate) remote: Remote,
    default_signature: String,
}

impl Located {
    /// The model as `s3://bucket/key` (the prefix ends in `/`).
    pub fn uri(&self) -> String {
        match &self.remote {
            Remote::File { object, .. } => format!("s3://{}/{}", self.bucket, object.key),
            Remote::Dir { prefix, .. } => format!("s3://{}/{prefix}", self.bucket),
        }
    }

    /// The model's location as a trust policy's rules match it: `s3://BUCKET/PREFIX` without a
    /// trailing slash (`s3://BUCKET` for a bucket's root), or `s3://BUCKET/KEY`.
    pub fn location(&self) -> String {
        self.uri().trim_end_matches('/').to_string()
    }

    pub fn is_single_file(&self) -> bool {
        matches!(self.remote, Remote::File { .. })
    }

    /// The model's objects as listed and their total size (what a progress bar counts toward;
    /// the signature and any extra objects under the prefix are included).
    pub fn listed(&self) -> (usize, u64) {
        match &self.remote {
            Remote::File { object, .. } => (1, object.size),
            Remote::Dir { objects, .. } => (objects.len(), objects.values().map(|o| o.size).sum()),
        }
    }

    /// The signature's default location: `PREFIX/model.sig`, or `KEY.sig`.
    pub fn default_signature(&self) -> S3Uri {
        S3Uri {
            bucket: self.bucket.clone(),
            key: self.default_signature.clone(),
        }
    }

    /// A single-object model from an object already listed, for checking in place (`audit`):
    /// its name is not vetted for placement as `locate` vets it, so never `place` it.
    pub fn single(bucket: String, object: Object) -> Self {
        let name = object
            .key
            .rsplit('/')
            .next()
            .unwrap_or(&object.key)
            .to_string();
        Located {
            default_signature: format!("{}.sig", object.key),
            bucket,
            remote: Remote::File { object, name },
        }
    }

    /// The full object key of a model path (for messages and audits).
    pub fn object_key(&self, path: &ResourcePath) -> String {
        match &self.remote {
            Remote::File { object, .. } => object.key.clone(),
            Remote::Dir { prefix, .. } => format!("{prefix}{path}"),
        }
    }

    /// The file name the signature gets when placed beside the model.
    pub fn signature_file_name(&self) -> String {
        match &self.remote {
            Remote::File { name, .. } => format!("{name}.sig"),
            Remote::Dir { .. } => SIGNATURE_NAME.to_string(),
        }
    }

    /// The model as its listing shows it, for the kernel's planning (what a signature covers,
    /// what to hash).
    pub fn local_model(&self) -> LocalModel {
        match &self.remote {
            Remote::File { object, name } => LocalModel::File {
                name: name.clone(),
                size: object.size,
            },
            Remote::Dir { objects, .. } => LocalModel::Directory {
                files: objects
                    .iter()
                    .map(|(p, o)| LocalFile {
                        path: p.clone(),
                        size: o.size,
                    })
                    .collect(),
            },
        }
    }

    pub(crate) fn object(&self, path: &ResourcePath) -> Option<&Object> {
        match &self.remote {
            Remote::File { object, .. } => Some(object),
            Remote::Dir { objects, .. } => objects.get(path),
        }
    }

    /// Signature paths under the prefix, which the plan excuses by their exact keys only: the
    /// signature used, when it lies there, and always the default `model.sig`, so that no
    /// object under `PREFIX/model.sig/` is ever excused by a signed ignore path.
    pub(crate) fn evidence(&self, signature: &SignatureSource) -> Vec<ResourcePath> {
        let Remote::Dir { prefix, .. } = &self.remote else {
            return Vec::new();
        };
        let mut paths: Vec<ResourcePath> = ResourcePath::parse(SIGNATURE_NAME)
            .ok()
            .into_iter()
            .collect();
        if let SignatureSource::S3(uri) = signature {
            if uri.bucket == self.bucket {
                let inside = uri
                    .key
                    .strip_prefix(prefix.as_str())
                    .and_then(|rel| ResourcePath::parse(rel).ok());
                paths.extend(inside.filter(|p| !paths.contains(p)));
            }
        }
        paths
    }

    /// The model's name in a signed statement, as model_signing names it: the directory's (the
    /// prefix's last component) or the file's.
    pub fn model_name(&self) -> String {
        match &self.remote {
            Remote::File { name, .. } => name.clone(),
            Remote::Dir { prefix, .. } => prefix
                .trim_end_matches('/')
                .rsplit('/')
                .next()
                .filter(|n| !n.is_empty())
                .unwrap_or(&self.bucket)
                .to_string(),
        }
    }

    /// The path (relative to DEST) a signed file is placed at.
    pub fn placed_name(&self, path: &ResourcePath) -> String {
        match &self.remote {
            Remote::File { name, .. } => name.clone(),
            Remote::Dir { .. } => path.to_string(),
        }
    }
}

/// Finds the model at `uri`. The directory boundary is `key/`: `s3://b/model` never reaches
/// `model-v2/`.
pub async fn locate(engine: &Engine, uri: &S3Uri) -> Result<Located, FetchError> {
    let bucket = uri.bucket.clone();
    if !uri.key.is_empty() && !uri.key.ends_with('/') {
        if let Some(head) = engine
            .head(&bucket, &uri.key)
            .await
            .map_err(FetchError::s3)?
        {
            let name = uri.key.rsplit('/').next().unwrap_or(&uri.key).to_string();
            // The name becomes a file in DEST: one safe component, never "." or "..".
            if ResourcePath::parse(&name)
                .map_or(true, |p| p.is_single_file() || p.as_str().contains('/'))
            {
                return Err(FetchError::UnsafeKeys {
                    prefix: format!("s3://{bucket}/"),
                    keys: vec![uri.key.clone()],
                });
            }
            if name == STAGING_NAME {
                return Err(FetchError::ReservedName {
                    model: format!("s3://{bucket}/{}", uri.key),
                    name,
                });
            }
            return Ok(Located {
                default_signature: format!("{}.sig", uri.key),
                bucket,
                remote: Remote::File {
                    object: head.object,
                    name,
                },
            });
        }
    }
    let prefix = uri.dir_prefix();
    let listed = engine
        .list(&bucket, &prefix)
        .await
        .map_err(FetchError::s3)?;
    if listed.is_empty() {
        return Err(FetchError::NothingAt(format!("s3://{bucket}/{}", uri.key)));
    }
    located_dir(bucket, prefix, listed)
}

/// A directory model from objects already listed under `prefix` (which ends in `/`, or is
/// empty for a bucket's root); objects outside the prefix are not passed.
pub fn located_dir(
    bucket: String,
    prefix: String,
    listed: Vec<Object>,
) -> Result<Located, FetchError> {
    let mut objects = BTreeMap::new();
    let mut unsafe_keys = Vec::new();
    for o in listed {
        let rel = &o.key[prefix.len()..];
        if rel.is_empty() || (rel.ends_with('/') && o.size == 0) {
            continue; // directory markers
        }
        match ResourcePath::parse(rel) {
            Ok(p) if !p.is_single_file() => {
                objects.insert(p, o);
            }
            _ => unsafe_keys.push(o.key),
        }
    }
    if objects.is_empty() && unsafe_keys.is_empty() {
        return Err(FetchError::NothingAt(format!("s3://{bucket}/{prefix}")));
    }
    if let Some(p) = objects
        .keys()
        .find(|p| p.components().next() == Some(STAGING_NAME))
    {
        return Err(FetchError::ReservedName {
            model: format!("s3://{bucket}/{prefix}"),
            name: p.to_string(),
        });
    }
    if !unsafe_keys.is_empty() {
        return Err(FetchError::UnsafeKeys {
            prefix: format!("s3://{bucket}/{prefix}"),
            keys: unsafe_keys,
        });
    }
    Ok(Located {
        default_signature: format!("{prefix}{SIGNATURE_NAME}"),
        bucket,
        remote: Remote::Dir { prefix, objects },
    })
}

/// Where the bundle is read from.
pub enum SignatureSource {
    S3(S3Uri),
    Local(PathBuf),
}

impl SignatureSource {
    pub fn shown(&self) -> String {
        match self {
            SignatureSource::S3(u) => u.to_string(),
            SignatureSource::Local(p) => p.display().to_string(),
        }
    }

    pub(crate) async fn read(&self, engine: &Engine) -> Result<Option<Vec<u8>>, FetchError> {
        let unusable = |why| FetchError::SignatureUnusable {
            shown: self.shown(),
            why,
        };
        match self {
            SignatureSource::S3(u) => {
                match engine.get_small(&u.bucket, &u.key, SIGNATURE_LIMIT).await {
                    Ok(b) => Ok(Some(b)),
                    Err(S3Error::NoSuchKey { .. }) => Ok(None),
                    Err(S3Error::TooLarge { size, limit, .. }) => {
                        Err(unusable(EvidenceError::TooLarge { size, limit }))
                    }
                    Err(e) => Err(FetchError::s3(e)),
                }
            }
            SignatureSource::Local(p) => read_local_signature(p),
        }
    }
}

/// Reads a signature file: `None` when it does not exist; refused (a verdict) when it is a
/// symlink, not a regular file, or larger than any bundle.
pub fn read_local_signature(path: &Path) -> Result<Option<Vec<u8>>, FetchError> {
    match evidence::read(path, SIGNATURE_LIMIT, Links::Refuse) {
        Ok(b) => Ok(Some(b)),
        Err(EvidenceError::NotFound(_)) => Ok(None),
        Err(EvidenceError::Io(e)) => Err(FetchError::local("read signature", path, e)),
        Err(why) => Err(FetchError::SignatureUnusable {
            shown: path.display().to_string(),
            why,
        }),
    }
}
