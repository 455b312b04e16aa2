//! TUF (The Update Framework, spec 1.0) metadata, as Sigstore distributes its trusted root and
//! signing config: the client workflow's checks (5.3-5.7) over bytes the shell fetched. A root
//! is trusted only through a chain of roots each signed by a threshold of the previous one's
//! root keys and of its own; timestamp, snapshot and targets are signed by their role's keys
//! in the current root, versions never go back (rollback), nothing expired is used (freeze),
//! snapshot and targets match the hashes and versions that vouch for them, and a target's
//! bytes match its length and hashes. Delegated targets are not followed (Sigstore's trusted
//! root and signing config are top-level targets).
//!
//! Signatures are over the OLPC canonical JSON of `signed` (as securesystemslib writes it):
//! keys sorted, no whitespace, only `"` and `\` escaped, integers only.

use std::collections::BTreeMap;
use std::fmt;

use serde::Deserialize;
use serde_json::Value;

use crate::digest::HashAlgorithm;
use crate::keys::PublicKey;
use crate::time::parse_rfc3339;
use crate::trusted_root::LogPublicKey;

/// The most root versions one update may walk (python-tuf's MAX_ROOT_ROTATIONS).
pub const MAX_ROOT_ROTATIONS: u64 = 256;
/// Metadata files are at most this large.
pub const METADATA_LIMIT: u64 = 512 << 10;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TufError {
    Malformed {
        role: &'static str,
        why: String,
    },
    /// Fewer than the threshold of the role's keys signed.
    Threshold {
        role: &'static str,
        valid: usize,
        threshold: u64,
    },
    Version {
        role: &'static str,
        expected: String,
        found: u64,
    },
    Rollback {
        role: &'static str,
        trusted: u64,
        found: u64,
    },
    Expired {
        role: &'static str,
        at: u64,
    },
    /// A file does not match the length or hash its parent metadata records.
    Mismatch {
        what: String,
    },
    UnknownTarget(String),
    TooManyRoots,
}

impl fmt::Display for TufError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TufError::Malformed { role, why } => write!(f, "TUF {role} metadata is malformed: {why}"),
            TufError::Threshold { role, valid, threshold } => write!(
                f,
                "TUF {role} metadata has {valid} valid signatures of its role's keys; {threshold} are required"
            ),
            TufError::Version { role, expected, found } => {
                write!(f, "TUF {role} metadata is version {found}, expected {expected}")
            }
            TufError::Rollback { role, trusted, found } => write!(
                f,
                "TUF {role} metadata went back from version {trusted} to {found} (a rollback)"
            ),
            TufError::Expired { role, at } => write!(
                f,
                "TUF {role} metadata expired at {} (a freeze, or a repository not kept up)",
                crate::time::utc(*at)
            ),
            TufError::Mismatch { what } => write!(f, "{what} does not match its TUF metadata"),
            TufError::UnknownTarget(name) => write!(f, "the TUF repository has no target {name}"),
            TufError::TooManyRoots => write!(f, "more than {MAX_ROOT_ROTATIONS} root versions in one update"),
        }
    }
}

impl std::error::Error for TufError {}

fn malformed(role: &'static str, why: impl Into<String>) -> TufError {
    TufError::Malformed {
        role,
        why: why.into(),
    }
}

/// OLPC canonical JSON, as securesystemslib's `encode_canonical`.
pub fn canonical_json(v: &Value) -> Result<Vec<u8>, String> {
    let mut out = Vec::new();
    write_canonical(v, &mut out)?;
    Ok(out)
}

fn write_canonical(v: &Value, out: &mut Vec<u8>) -> Result<(), String> {
    match v {
        Value::Null => out.extend_from_slice(b"null"),
        Value::Bool(b) => out.extend_from_slice(if *b { b"true" } else { b"false" }),
        Value::Number(n) => {
            if n.is_f64() {
                return Err("a non-integer number".into());
            }
            out.extend_from_slice(n.to_string().as_bytes());
        }
        Value::String(s) => {
            out.push(b'"');
            for b in s.bytes() {
                if b == b'"' || b == b'\\' {
                    out.push(b'\\');
                }
                out.push(b);
            }
            out.push(b'"');
        }
        Value::Array(a) => {
            out.push(b'[');
            for (i, x) in a.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_canonical(x, out)?;
            }
            out.push(b']');
        }
        Value::Object(o) => {
            out.push(b'{');
            // serde_json's map is sorted by key (no preserve_order feature), by bytes.
            let mut keys: Vec<&String> = o.keys().collect();
            keys.sort();
            for (i, k) in keys.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_canonical(&Value::String((*k).clone()), out)?;
                out.push(b':');
                write_canonical(&o[*k], out)?;
            }
            out.push(b'}');
        }
    }
    Ok(())
}

#[derive(Deserialize)]
struct Envelope {
    signatures: Vec<WireSignature>,
    signed: Value,
}

#[derive(Deserialize)]
struct WireSignature {
    keyid: String,
    sig: String,
}

#[derive(Deserialize)]
struct WireKey {
    keytype: String,
    scheme: String,
    keyval: WireKeyVal,
}

#[derive(Deserialize)]
struct WireKeyVal {
    public: String,
}

#[derive(Deserialize)]
struct WireRole {
    keyids: Vec<String>,
    threshold: u64,
}

#[derive(Deserialize)]
struct WireRootBody {
    #[serde(rename = "_type")]
    kind: String,
    version: u64,
    expires: String,
    keys: BTreeMap<String, WireKey>,
    roles: BTreeMap<String, WireRole>,
    #[serde(default)]
    consistent_snapshot: bool,
}

#[derive(Deserialize, Clone)]
struct WireMetaFile {
    version: u64,
    length: Option<u64>,
    hashes: Option<BTreeMap<String, String>>,
}

#[derive(Deserialize)]
struct WireMetaBody {
    #[serde(rename = "_type")]
    kind: String,
    version: u64,
    expires: String,
    #[serde(default)]
    meta: BTreeMap<String, WireMetaFile>,
}

#[derive(Deserialize, Clone)]
struct WireTarget {
    length: u64,
    hashes: BTreeMap<String, String>,
}

#[derive(Deserialize)]
struct WireTargetsBody {
    #[serde(rename = "_type")]
    kind: String,
    version: u64,
    expires: String,
    #[serde(default)]
    targets: BTreeMap<String, WireTarget>,
}

/// A role's keys and threshold, from a root.
#[derive(Clone, Debug)]
struct Role {
    keys: Vec<(String, LogPublicKey)>,
    threshold: u64,
}

/// A checked root: its roles' keys and thresholds.
#[derive(Clone, Debug)]
pub struct Root {
    pub version: u64,
    pub expires: u64,
    pub consistent_snapshot: bool,
    roles: BTreeMap<String, Role>,
}

impl Root {
    /// Whether `other` gives `role` the same key ids and threshold: when the timestamp or
    /// snapshot keys rotate, what the old keys signed is no longer a floor for rollback checks
    /// (5.3.11); any other rotation leaves that floor in place.
    pub fn same_role_keys(&self, other: &Root, role: &str) -> bool {
        fn ids<'r>(r: &'r Root, role: &str) -> Option<(Vec<&'r str>, u64)> {
            r.roles.get(role).map(|x| {
                let mut ids: Vec<&str> = x.keys.iter().map(|(id, _)| id.as_str()).collect();
                ids.sort_unstable();
                (ids, x.threshold)
            })
        }
        ids(self, role) == ids(other, role)
    }
}

fn key_of(k: &WireKey) -> Option<LogPublicKey> {
    match (k.keytype.as_str(), k.scheme.as_str()) {
        ("ecdsa" | "ecdsa-sha2-nistp256", "ecdsa-sha2-nistp256") => {
            PublicKey::from_pem(k.keyval.public.as_bytes())
                .ok()
                .map(LogPublicKey::Ecdsa)
        }
        ("ed25519", "ed25519") => hex::decode(&k.keyval.public)
            .ok()
            .filter(|b| b.len() == 32)
            .map(LogPublicKey::Ed25519),
        _ => None,
    }
}

fn parse_root(bytes: &[u8]) -> Result<(Envelope, Root), TufError> {
    let env: Envelope =
        serde_json::from_slice(bytes).map_err(|e| malformed("root", e.to_string()))?;
    let body: WireRootBody =
        serde_json::from_value(env.signed.clone()).map_err(|e| malformed("root", e.to_string()))?;
    if body.kind != "root" {
        return Err(malformed("root", format!("_type is '{}'", body.kind)));
    }
    let expires =
        parse_rfc3339(&body.expires).ok_or_else(|| malformed("root", "expires is not a time"))?;
    let mut roles = BTreeMap::new();
    for name in ["root", "timestamp", "snapshot", "targets"] {
        let r = body
            .roles
            .get(name)
            .ok_or_else(|| malformed("root", format!("no role {name}")))?;
        if r.threshold == 0 {
            return Err(malformed("root", format!("role {name} has threshold 0")));
        }
        // Keys of a scheme we do not know count for nothing (they cannot sign for us).
        let keys = r
            .keyids
            .iter()
            .filter_map(|id| body.keys.get(id).and_then(key_of).map(|k| (id.clone(), k)))
            .collect();
        roles.insert(
            name.to_string(),
            Role {
                keys,
                threshold: r.threshold,
            },
        );
    }
    Ok((
        env,
        Root {
            version: body.version,
            expires,
            consistent_snapshot: body.consistent_snapshot,
            roles,
        },
    ))
}

/// Counts distinct keys of `role` whose signature over the canonical `signed` verifies.
fn check_signatures(env: &Envelope, role: &Role, name: &'static str) -> Result<(), TufError> {
    let message = canonical_json(&env.signed).map_err(|e| malformed(name, e))?;
    let mut valid: Vec<&str> = Vec::new();
    for sig in &env.signatures {
        if valid.contains(&sig.keyid.as_str()) {
            continue;
        }
        let Some((_, key)) = role.keys.iter().find(|(id, _)| *id == sig.keyid) else {
            continue;
        };
        let Ok(raw) = hex::decode(&sig.sig) else {
            continue;
        };
        if key.verifies(&message, &raw) {
            valid.push(&sig.keyid);
        }
    }
    if (valid.len() as u64) < role.threshold {
        return Err(TufError::Threshold {
            role: name,
            valid: valid.len(),
            threshold: role.threshold,
        });
    }
    Ok(())
}

fn check_file(
    what: &str,
    bytes: &[u8],
    length: Option<u64>,
    hashes: Option<&BTreeMap<String, String>>,
) -> Result<(), TufError> {
    let mismatch = || TufError::Mismatch {
        what: what.to_string(),
    };
    if let Some(len) = length {
        if bytes.len() as u64 != len {
            return Err(mismatch());
        }
    }
    if let Some(hashes) = hashes {
        let mut checked = 0;
        for (alg, want) in hashes {
            let algorithm = match alg.as_str() {
                "sha256" => HashAlgorithm::Sha256,
                "sha384" => HashAlgorithm::Sha384,
                "sha512" => HashAlgorithm::Sha512,
                _ => continue,
            };
            if algorithm.digest(bytes).to_hex() != want.to_ascii_lowercase() {
                return Err(mismatch());
            }
            checked += 1;
        }
        if checked == 0 {
            return Err(TufError::Mismatch {
                what: format!("{what} (no hash we can check)"),
            });
        }
    }
    Ok(())
}

/// A target's length and hashes, as the trusted targets metadata records them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TargetInfo {
    pub length: u64,
    pub sha256: Option<String>,
}

/// When each role's trusted metadata expires, and its version.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Expirations {
    pub root: (u64, u64),
    pub timestamp: Option<(u64, u64)>,
    pub snapshot: Option<(u64, u64)>,
    pub targets: Option<(u64, u64)>,
}

/// The metadata trusted so far, updated role by role in the order of the client workflow.
pub struct Trusted {
    root: Root,
    timestamp: Option<(u64, u64, WireMetaFile)>,
    snapshot: Option<(u64, u64, BTreeMap<String, WireMetaFile>)>,
    targets: Option<(u64, u64, BTreeMap<String, WireTarget>)>,
    now: u64,
}

impl Trusted {
    /// Starts from a trusted root (the embedded or given bootstrap root, or the cached one):
    /// it must be signed by a threshold of its own root keys. Its expiry is checked only after
    /// newer roots were looked for ([`Self::check_root_fresh`]).
    pub fn new(root_json: &[u8], now: u64) -> Result<Self, TufError> {
        let (env, root) = parse_root(root_json)?;
        check_signatures(&env, &root.roles["root"], "root")?;
        Ok(Trusted {
            root,
            timestamp: None,
            snapshot: None,
            targets: None,
            now,
        })
    }

    pub fn root(&self) -> &Root {
        &self.root
    }

    /// 5.3.4-5.3.7: root version N+1, signed by a threshold of the trusted root's root keys
    /// and of its own.
    pub fn update_root(&mut self, bytes: &[u8]) -> Result<(), TufError> {
        let (env, new) = parse_root(bytes)?;
        check_signatures(&env, &self.root.roles["root"], "root")?;
        check_signatures(&env, &new.roles["root"], "root")?;
        if new.version != self.root.version + 1 {
            return Err(TufError::Version {
                role: "root",
                expected: (self.root.version + 1).to_string(),
                found: new.version,
            });
        }
        self.root = new;
        Ok(())
    }

    /// 5.3.10: the newest root is not expired.
    pub fn check_root_fresh(&self) -> Result<(), TufError> {
        if self.root.expires <= self.now {
            return Err(TufError::Expired {
                role: "root",
                at: self.root.expires,
            });
        }
        Ok(())
    }

    /// 5.4: the timestamp, signed by the timestamp role; not older than `previous` (the cached
    /// one, if any) nor vouching for an older snapshot; not expired.
    pub fn update_timestamp(
        &mut self,
        bytes: &[u8],
        previous: Option<&[u8]>,
    ) -> Result<(), TufError> {
        let (version, expires, snapshot) = self.meta_role(bytes, "timestamp", "timestamp")?;
        let snapshot = snapshot
            .get("snapshot.json")
            .cloned()
            .ok_or_else(|| malformed("timestamp", "no snapshot.json"))?;
        if let Some(prev) = previous.and_then(|p| self.meta_role(p, "timestamp", "timestamp").ok())
        {
            if version < prev.0 {
                return Err(TufError::Rollback {
                    role: "timestamp",
                    trusted: prev.0,
                    found: version,
                });
            }
            if let Some(prev_snap) = prev.2.get("snapshot.json") {
                if snapshot.version < prev_snap.version {
                    return Err(TufError::Rollback {
                        role: "snapshot",
                        trusted: prev_snap.version,
                        found: snapshot.version,
                    });
                }
            }
        }
        if expires <= self.now {
            return Err(TufError::Expired {
                role: "timestamp",
                at: expires,
            });
        }
        self.timestamp = Some((version, expires, snapshot));
        Ok(())
    }

    /// The snapshot version the timestamp names (what to fetch).
    pub fn snapshot_version(&self) -> Option<u64> {
        self.timestamp.as_ref().map(|t| t.2.version)
    }

    /// 5.5: the snapshot, matching the timestamp's hashes, length and version, signed by the
    /// snapshot role, naming no older targets than `previous`, not expired.
    pub fn update_snapshot(
        &mut self,
        bytes: &[u8],
        previous: Option<&[u8]>,
    ) -> Result<(), TufError> {
        let Some((_, _, meta)) = &self.timestamp else {
            return Err(malformed("snapshot", "no trusted timestamp"));
        };
        check_file("snapshot.json", bytes, meta.length, meta.hashes.as_ref())?;
        let want = meta.version;
        let (version, expires, files) = self.meta_role(bytes, "snapshot", "snapshot")?;
        if version != want {
            return Err(TufError::Version {
                role: "snapshot",
                expected: want.to_string(),
                found: version,
            });
        }
        if let Some(prev) = previous.and_then(|p| self.meta_role(p, "snapshot", "snapshot").ok()) {
            for (name, old) in &prev.2 {
                match files.get(name) {
                    Some(new) if new.version < old.version => {
                        return Err(TufError::Rollback {
                            role: "targets",
                            trusted: old.version,
                            found: new.version,
                        })
                    }
                    None => return Err(malformed("snapshot", format!("{name} was removed"))),
                    _ => {}
                }
            }
        }
        if expires <= self.now {
            return Err(TufError::Expired {
                role: "snapshot",
                at: expires,
            });
        }
        self.snapshot = Some((version, expires, files));
        Ok(())
    }

    /// The targets version the snapshot names (what to fetch).
    pub fn targets_version(&self) -> Option<u64> {
        self.snapshot
            .as_ref()
            .and_then(|s| s.2.get("targets.json"))
            .map(|m| m.version)
    }

    /// 5.6: the targets metadata, matching the snapshot, signed by the targets role, not expired.
    pub fn update_targets(&mut self, bytes: &[u8]) -> Result<(), TufError> {
        let meta = self
            .snapshot
            .as_ref()
            .and_then(|s| s.2.get("targets.json"))
            .cloned()
            .ok_or_else(|| malformed("targets", "no trusted snapshot naming targets.json"))?;
        check_file("targets.json", bytes, meta.length, meta.hashes.as_ref())?;
        let env: Envelope =
            serde_json::from_slice(bytes).map_err(|e| malformed("targets", e.to_string()))?;
        let body: WireTargetsBody = serde_json::from_value(env.signed.clone())
            .map_err(|e| malformed("targets", e.to_string()))?;
        if body.kind != "targets" {
            return Err(malformed("targets", format!("_type is '{}'", body.kind)));
        }
        check_signatures(&env, &self.root.roles["targets"], "targets")?;
        if body.version != meta.version {
            return Err(TufError::Version {
                role: "targets",
                expected: meta.version.to_string(),
                found: body.version,
            });
        }
        let expires = parse_rfc3339(&body.expires)
            .ok_or_else(|| malformed("targets", "expires is not a time"))?;
        if expires <= self.now {
            return Err(TufError::Expired {
                role: "targets",
                at: expires,
            });
        }
        self.targets = Some((body.version, expires, body.targets));
        Ok(())
    }

    /// A target's recorded length and SHA-256 (consistent snapshots name the file by it).
    pub fn target(&self, name: &str) -> Result<TargetInfo, TufError> {
        let t = self
            .targets
            .as_ref()
            .and_then(|t| t.2.get(name))
            .ok_or_else(|| TufError::UnknownTarget(name.to_string()))?;
        Ok(TargetInfo {
            length: t.length,
            sha256: t.hashes.get("sha256").cloned(),
        })
    }

    /// 5.7: a target's bytes match its length and every hash recorded.
    pub fn check_target(&self, name: &str, bytes: &[u8]) -> Result<(), TufError> {
        let t = self
            .targets
            .as_ref()
            .and_then(|t| t.2.get(name))
            .ok_or_else(|| TufError::UnknownTarget(name.to_string()))?;
        check_file(
            &format!("target {name}"),
            bytes,
            Some(t.length),
            Some(&t.hashes),
        )
    }

    pub fn expirations(&self) -> Expirations {
        Expirations {
            root: (self.root.version, self.root.expires),
            timestamp: self.timestamp.as_ref().map(|t| (t.0, t.1)),
            snapshot: self.snapshot.as_ref().map(|t| (t.0, t.1)),
            targets: self.targets.as_ref().map(|t| (t.0, t.1)),
        }
    }

    /// Parses and signature-checks a timestamp or snapshot: (version, expires, meta).
    fn meta_role(
        &self,
        bytes: &[u8],
        role: &'static str,
        kind: &str,
    ) -> Result<(u64, u64, BTreeMap<String, WireMetaFile>), TufError> {
        let env: Envelope =
            serde_json::from_slice(bytes).map_err(|e| malformed(role, e.to_string()))?;
        let body: WireMetaBody = serde_json::from_value(env.signed.clone())
            .map_err(|e| malformed(role, e.to_string()))?;
        if body.kind != kind {
            return Err(malformed(role, format!("_type is '{}'", body.kind)));
        }
        check_signatures(&env, &self.root.roles[role], role)?;
        let expires =
            parse_rfc3339(&body.expires).ok_or_else(|| malformed(role, "expires is not a time"))?;
        Ok((body.version, expires, body.meta))
    }
}

/// Sigstore public-good's TUF root (`root.json` version 15, from sigstore-python 4.5.1): the
/// bootstrap of `modelseal trust update` against `https://tuf-repo-cdn.sigstore.dev`.
pub const PRODUCTION_TUF_ROOT: &[u8] = include_bytes!("../trust/production-tuf-root.json");
/// Where Sigstore public-good's TUF repository is served.
pub const PRODUCTION_MIRROR: &str = "https://tuf-repo-cdn.sigstore.dev";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canonical_json_is_securesystemslibs() {
        let v: Value =
            serde_json::from_str(r#"{"b": [1, true, null], "a": "q\"\\\n\u00e9"}"#).unwrap();
        assert_eq!(
            canonical_json(&v).unwrap(),
            "{\"a\":\"q\\\"\\\\\n\u{e9}\",\"b\":[1,true,null]}".as_bytes()
        );
        assert!(canonical_json(&serde_json::json!({"x": 1.5})).is_err());
    }

    /// Sigstore's production TUF root (version 15, as sigstore-python 4.5.1 embeds it) is
    /// signed by a threshold of its own root keys.
    #[test]
    fn the_production_tuf_root_verifies_itself() {
        let t = Trusted::new(PRODUCTION_TUF_ROOT, 0).unwrap();
        assert_eq!(t.root().version, 15);
        assert!(t.root().consistent_snapshot);
        let mut tampered: Value = serde_json::from_slice(PRODUCTION_TUF_ROOT).unwrap();
        tampered["signed"]["version"] = serde_json::json!(16);
        let bytes = serde_json::to_vec(&tampered).unwrap();
        assert!(matches!(
            Trusted::new(&bytes, 0),
            Err(TufError::Threshold { .. })
        ));
    }

    #[test]
    fn role_key_rotations_are_told_apart() {
        let root = Trusted::new(PRODUCTION_TUF_ROOT, 0).unwrap().root().clone();
        let mut next = root.clone();
        for role in ["root", "timestamp", "snapshot", "targets"] {
            assert!(root.same_role_keys(&next, role));
        }
        next.roles.get_mut("root").unwrap().keys.pop();
        assert!(!root.same_role_keys(&next, "root"));
        assert!(root.same_role_keys(&next, "timestamp"));
        next.roles.get_mut("timestamp").unwrap().threshold += 1;
        assert!(!root.same_role_keys(&next, "timestamp"));
        assert!(root.same_role_keys(&next, "snapshot"));
    }
}
