//! Transparency-log entries in a bundle: the signed entry timestamp (inclusion promise, Rekor
//! v1), the Merkle inclusion proof (RFC 6962/9162) with its signed checkpoint, and the check that
//! the logged body is this bundle's signature, signer and artifact (CVE-2022-36056).
//!
//! Entry kinds: Rekor v1's hashedrekord 0.0.1, dsse 0.0.1 and intoto 0.0.2; Rekor v2's
//! hashedrekord 0.0.2 (over an artifact's digest, or a DSSE envelope's PAE) and dsse 0.0.2, whose
//! checkpoints may carry Ed25519 signatures and witness cosignatures.

use std::fmt;

use base64::{engine::general_purpose::STANDARD as B64, Engine as _};
use serde::Deserialize;
use sha2::{Digest as _, Sha256};

use crate::digest::{Digest, HashAlgorithm};
use crate::trusted_root::{LogKey, TrustedRoot};

/// A log entry as the bundle carries it (checked types; nothing verified yet).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlogEntry {
    pub log_index: u64,
    pub log_id: Vec<u8>,
    pub kind: String,
    pub version: String,
    pub integrated_time: u64,
    /// The signed entry timestamp (SET), DER ECDSA.
    pub inclusion_promise: Option<Vec<u8>>,
    pub inclusion_proof: Option<InclusionProof>,
    /// The canonicalized body the log signed, exactly as decoded.
    pub body: Vec<u8>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InclusionProof {
    pub log_index: u64,
    pub root_hash: Vec<u8>,
    pub tree_size: u64,
    pub hashes: Vec<Vec<u8>>,
    /// The signed note (checkpoint) text; required to verify, but its absence is judged (and
    /// named) after the Merkle path.
    pub checkpoint: Option<String>,
}

// ---- wire (as in the bundle's `verificationMaterial.tlogEntries[]`) ----

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct WireEntry {
    log_index: Option<serde_json::Value>,
    log_id: Option<WireLogId>,
    kind_version: Option<WireKindVersion>,
    integrated_time: Option<serde_json::Value>,
    inclusion_promise: Option<WirePromise>,
    inclusion_proof: Option<WireProof>,
    canonicalized_body: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct WireLogId {
    key_id: String,
}

#[derive(Deserialize)]
struct WireKindVersion {
    kind: String,
    version: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct WirePromise {
    signed_entry_timestamp: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct WireProof {
    log_index: Option<serde_json::Value>,
    root_hash: String,
    tree_size: Option<serde_json::Value>,
    #[serde(default)]
    hashes: Vec<String>,
    checkpoint: Option<WireCheckpoint>,
}

#[derive(Deserialize)]
struct WireCheckpoint {
    envelope: String,
}

/// An int64 field: protobuf JSON writes it as a string, older producers as a number. Negative
/// values are refused.
fn int(v: Option<&serde_json::Value>, field: &'static str) -> Result<u64, &'static str> {
    match v {
        None => Ok(0),
        Some(serde_json::Value::String(s)) => s.parse::<u64>().map_err(|_| field),
        Some(serde_json::Value::Number(n)) => n.as_u64().ok_or(field),
        Some(_) => Err(field),
    }
}

impl WireEntry {
    /// The checked entry, or the name of the field that is wrong.
    pub(crate) fn check(self) -> Result<TlogEntry, &'static str> {
        let b64 = |s: &str, field: &'static str| B64.decode(s).map_err(|_| field);
        let kv = self.kind_version.ok_or("tlogEntries[].kindVersion")?;
        let proof = match self.inclusion_proof {
            None => None,
            Some(p) => Some(InclusionProof {
                log_index: int(
                    p.log_index.as_ref(),
                    "tlogEntries[].inclusionProof.logIndex",
                )?,
                root_hash: b64(&p.root_hash, "tlogEntries[].inclusionProof.rootHash")?,
                tree_size: int(
                    p.tree_size.as_ref(),
                    "tlogEntries[].inclusionProof.treeSize",
                )?,
                hashes: p
                    .hashes
                    .iter()
                    .map(|h| b64(h, "tlogEntries[].inclusionProof.hashes[]"))
                    .collect::<Result<_, _>>()?,
                checkpoint: p.checkpoint.map(|c| c.envelope),
            }),
        };
        Ok(TlogEntry {
            log_index: int(self.log_index.as_ref(), "tlogEntries[].logIndex")?,
            log_id: b64(
                &self.log_id.ok_or("tlogEntries[].logId")?.key_id,
                "tlogEntries[].logId.keyId",
            )?,
            kind: kv.kind,
            version: kv.version,
            integrated_time: int(
                self.integrated_time.as_ref(),
                "tlogEntries[].integratedTime",
            )?,
            inclusion_promise: match self.inclusion_promise {
                None => None,
                Some(p) => Some(b64(
                    &p.signed_entry_timestamp,
                    "tlogEntries[].inclusionPromise.signedEntryTimestamp",
                )?),
            },
            inclusion_proof: proof,
            body: b64(
                self.canonicalized_body
                    .as_deref()
                    .ok_or("tlogEntries[].canonicalizedBody")?,
                "tlogEntries[].canonicalizedBody",
            )?,
        })
    }
}

// ---- verification ----

/// Why a log entry does not prove what it claims.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TlogError {
    /// No usable key in the trusted root for this log id.
    UnknownLog(String),
    /// The log's key was not valid at the entry's integrated time.
    LogKeyOutsideValidity {
        log: String,
        time: u64,
    },
    UnsupportedKind {
        kind: String,
        version: String,
    },
    /// The bundle version needs a proof (v0.2+) or a promise (v0.1) the entry lacks.
    Missing(&'static str),
    SetSignature,
    /// The Merkle path does not lead to the root hash.
    InclusionProof(String),
    Checkpoint(String),
    /// The logged body is not this bundle's content.
    BodyMismatch(String),
}

impl fmt::Display for TlogError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TlogError::UnknownLog(id) => write!(
                f,
                "the entry's log ({id}) is not a usable log of the trusted root"
            ),
            TlogError::LogKeyOutsideValidity { log, time } => write!(
                f,
                "the log key of {log} was not valid at the entry's time {}",
                crate::time::utc(*time)
            ),
            TlogError::UnsupportedKind { kind, version } => {
                write!(
                    f,
                    "log entries of kind {kind} {version} are not verified by modelseal yet"
                )
            }
            TlogError::Missing(what) => write!(f, "the log entry has no {what}"),
            TlogError::SetSignature => f.write_str(
                "the signed entry timestamp (inclusion promise) does not verify with the log's key",
            ),
            TlogError::InclusionProof(why) => write!(f, "inclusion proof does not verify: {why}"),
            TlogError::Checkpoint(why) => {
                write!(f, "inclusion proof does not match the checkpoint: {why}")
            }
            TlogError::BodyMismatch(why) => {
                write!(f, "the log entry does not match the bundle: {why}")
            }
        }
    }
}

impl std::error::Error for TlogError {}

/// What the logged body must say: the signature, the signer (certificate or key, DER), and
/// what was signed.
pub struct Expected<'a> {
    pub signature: &'a [u8],
    /// The leaf certificate's DER, or the public key's SPKI DER.
    pub signer_der: &'a [u8],
    pub content: ExpectedContent<'a>,
}

pub enum ExpectedContent<'a> {
    /// A message signature over an artifact with these digests (one per algorithm the
    /// caller computed; the entry's algorithm picks one).
    Artifact(&'a [Digest]),
    /// A DSSE envelope.
    Dsse {
        payload_type: &'a str,
        payload: &'a [u8],
    },
}

/// A log id as the trusted root writes it (base64).
pub fn log_id_text(id: &[u8]) -> String {
    B64.encode(id)
}

/// The log key for `entry`, valid at its integrated time.
pub fn log_for<'r>(root: &'r TrustedRoot, entry: &TlogEntry) -> Result<&'r LogKey, TlogError> {
    let log = root
        .tlog(&entry.log_id)
        .ok_or_else(|| TlogError::UnknownLog(B64.encode(&entry.log_id)))?;
    if !log.valid.contains(entry.integrated_time) {
        return Err(TlogError::LogKeyOutsideValidity {
            log: log.base_url.clone(),
            time: entry.integrated_time,
        });
    }
    Ok(log)
}

/// The SET: the log's signature over the canonical JSON of body, integrated time, log id and
/// index (keys in RFC 8785 order).
pub fn verify_promise(entry: &TlogEntry, log: &LogKey, set: &[u8]) -> Result<(), TlogError> {
    let canonical = format!(
        r#"{{"body":"{}","integratedTime":{},"logID":"{}","logIndex":{}}}"#,
        B64.encode(&entry.body),
        entry.integrated_time,
        hex::encode(&entry.log_id),
        entry.log_index
    );
    if log.key.verifies(canonical.as_bytes(), set) {
        Ok(())
    } else {
        Err(TlogError::SetSignature)
    }
}

fn leaf_hash(body: &[u8]) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update([0u8]);
    h.update(body);
    h.finalize().into()
}

fn node_hash(left: &[u8], right: &[u8]) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update([1u8]);
    h.update(left);
    h.update(right);
    h.finalize().into()
}

/// The root an RFC 9162 inclusion proof leads to from `leaf` at `index` in a tree of `size`.
fn root_from_proof(
    index: u64,
    size: u64,
    leaf: [u8; 32],
    proof: &[Vec<u8>],
) -> Result<[u8; 32], String> {
    if index >= size {
        return Err(format!(
            "leaf index {index} is not below the tree size {size}"
        ));
    }
    let inner = (64 - (index ^ (size - 1)).leading_zeros()) as usize;
    let border = (index >> inner).count_ones() as usize;
    if proof.len() != inner + border {
        return Err(format!(
            "{} hashes where a tree of {size} needs {} for leaf {index}",
            proof.len(),
            inner + border
        ));
    }
    if let Some(bad) = proof.iter().find(|h| h.len() != 32) {
        return Err(format!("a proof hash has {} bytes, not 32", bad.len()));
    }
    let mut node = leaf;
    for (i, h) in proof[..inner].iter().enumerate() {
        node = if (index >> i) & 1 == 0 {
            node_hash(&node, h)
        } else {
            node_hash(h, &node)
        };
    }
    for h in &proof[inner..] {
        node = node_hash(h, &node);
    }
    Ok(node)
}

/// The inclusion proof leads from the entry's body to its root hash, and the checkpoint signed
/// by the log names that root and size.
pub fn verify_inclusion(
    entry: &TlogEntry,
    log: &LogKey,
    proof: &InclusionProof,
) -> Result<(), TlogError> {
    let root = root_from_proof(
        proof.log_index,
        proof.tree_size,
        leaf_hash(&entry.body),
        &proof.hashes,
    )
    .map_err(TlogError::InclusionProof)?;
    if root.as_slice() != proof.root_hash.as_slice() {
        return Err(TlogError::InclusionProof(
            "the computed root hash is not the proof's root hash".into(),
        ));
    }
    let text = proof
        .checkpoint
        .as_deref()
        .ok_or(TlogError::Missing("checkpoint in its inclusion proof"))?;
    let note = Checkpoint::parse(text).map_err(TlogError::Checkpoint)?;
    note.verify(log).map_err(TlogError::Checkpoint)?;
    if note.size != proof.tree_size {
        return Err(TlogError::Checkpoint(format!(
            "the checkpoint's tree size {} is not the proof's {}",
            note.size, proof.tree_size
        )));
    }
    if note.root_hash != proof.root_hash {
        return Err(TlogError::Checkpoint(
            "the checkpoint's root hash is not the proof's".into(),
        ));
    }
    Ok(())
}

/// A signed note (transparency-dev checkpoint): origin, tree size, root hash, then signatures.
#[derive(Debug)]
pub struct Checkpoint<'a> {
    /// The signed text: every body line with its newline.
    signed: &'a str,
    pub origin: &'a str,
    pub size: u64,
    pub root_hash: Vec<u8>,
    /// (signer name, key hint, signature) per signature line.
    signatures: Vec<(&'a str, [u8; 4], Vec<u8>)>,
}

impl<'a> Checkpoint<'a> {
    pub fn parse(text: &'a str) -> Result<Self, String> {
        let split = text
            .find("\n\n")
            .ok_or("no blank line between the body and the signatures")?;
        let signed = &text[..split + 1];
        let mut lines = signed.lines();
        let origin = lines
            .next()
            .filter(|o| !o.is_empty())
            .ok_or("no origin line")?;
        let size = lines
            .next()
            .and_then(|s| s.parse::<u64>().ok())
            .ok_or("no tree size line")?;
        let root_hash = lines
            .next()
            .and_then(|r| B64.decode(r).ok())
            .ok_or("no root hash line")?;
        let mut signatures = Vec::new();
        for line in text[split + 2..].lines() {
            let Some(rest) = line.strip_prefix("\u{2014} ") else {
                return Err(format!("'{line}' is not a signature line"));
            };
            let (name, sig) = rest
                .rsplit_once(' ')
                .ok_or("a signature line has no signature")?;
            let raw = B64
                .decode(sig)
                .map_err(|_| "a checkpoint signature is not base64")?;
            if raw.len() < 5 {
                return Err("a checkpoint signature is too short".into());
            }
            let mut hint = [0u8; 4];
            hint.copy_from_slice(&raw[..4]);
            signatures.push((name, hint, raw[4..].to_vec()));
        }
        if signatures.is_empty() {
            return Err("the checkpoint is not signed".into());
        }
        Ok(Checkpoint {
            signed,
            origin,
            size,
            root_hash,
            signatures,
        })
    }

    /// Some signature is the log's: signed under the log's name (its host), with the log's key
    /// hint (the first 4 bytes of its log id), verifying over the body. Other lines (witness
    /// cosignatures, unknown keys) are ignored.
    fn verify(&self, log: &LogKey) -> Result<(), String> {
        let mine: Vec<_> = self
            .signatures
            .iter()
            .filter(|(name, hint, _)| *name == log.host() && log.log_id.get(..4) == Some(&hint[..]))
            .collect();
        if mine.is_empty() {
            return Err(format!(
                "no checkpoint signature is from the log ({} with its key hint)",
                log.host()
            ));
        }
        if mine
            .iter()
            .any(|(_, _, sig)| log.key.verifies(self.signed.as_bytes(), sig))
        {
            Ok(())
        } else {
            Err("the checkpoint signature does not verify with the log's key".into())
        }
    }
}

// ---- the body ----

/// The kinds of log entry modelseal verifies: Rekor v1's hashedrekord 0.0.1, dsse 0.0.1 and
/// intoto 0.0.2, and Rekor v2's hashedrekord 0.0.2 and dsse 0.0.2. The one list of them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EntryKind {
    HashedRekordV001,
    DsseV001,
    IntotoV002,
    HashedRekordV002,
    DsseV002,
}

impl EntryKind {
    pub fn of(kind: &str, version: &str) -> Option<Self> {
        Some(match (kind, version) {
            ("hashedrekord", "0.0.1") => EntryKind::HashedRekordV001,
            ("dsse", "0.0.1") => EntryKind::DsseV001,
            ("intoto", "0.0.2") => EntryKind::IntotoV002,
            ("hashedrekord", "0.0.2") => EntryKind::HashedRekordV002,
            ("dsse", "0.0.2") => EntryKind::DsseV002,
            _ => return None,
        })
    }

    /// A Rekor v2 entry: no integrated time and no SET; its time comes from a timestamp.
    pub fn is_rekor_v2(self) -> bool {
        matches!(self, EntryKind::HashedRekordV002 | EntryKind::DsseV002)
    }

    fn name(self) -> &'static str {
        match self {
            EntryKind::HashedRekordV001 | EntryKind::HashedRekordV002 => "hashedrekord",
            EntryKind::DsseV001 | EntryKind::DsseV002 => "dsse",
            EntryKind::IntotoV002 => "intoto",
        }
    }
}

impl TlogEntry {
    /// The entry's kind, or `UnsupportedKind` for one modelseal does not verify.
    pub fn entry_kind(&self) -> Result<EntryKind, TlogError> {
        EntryKind::of(&self.kind, &self.version).ok_or_else(|| TlogError::UnsupportedKind {
            kind: self.kind.clone(),
            version: self.version.clone(),
        })
    }
}

/// The body's envelope: its kind and version, and the spec read per kind.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct WireBody {
    kind: String,
    api_version: String,
    spec: serde_json::Value,
}

#[derive(Deserialize)]
struct HexHash {
    algorithm: String,
    value: String,
}

#[derive(Deserialize)]
struct B64Hash {
    algorithm: String,
    digest: String,
}

#[derive(Deserialize)]
struct PemContent {
    content: String,
}

/// hashedrekord 0.0.1: a signature over an artifact's digest, the signer as base64 PEM.
#[derive(Deserialize)]
struct HashedRekordV001 {
    data: HashedRekordV001Data,
    signature: HashedRekordV001Signature,
}

#[derive(Deserialize)]
struct HashedRekordV001Data {
    hash: HexHash,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct HashedRekordV001Signature {
    content: String,
    public_key: PemContent,
}

/// dsse 0.0.1: the payload's digest and the envelope's signatures with their verifiers.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct DsseV001 {
    payload_hash: HexHash,
    signatures: Vec<DsseV001Signature>,
}

#[derive(Deserialize)]
struct DsseV001Signature {
    signature: String,
    verifier: String,
}

/// intoto 0.0.2: the envelope (signature base64-encoded twice) and the payload's digest.
#[derive(Deserialize)]
struct IntotoV002 {
    content: IntotoV002Content,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct IntotoV002Content {
    envelope: IntotoV002Envelope,
    payload_hash: HexHash,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct IntotoV002Envelope {
    payload_type: String,
    signatures: Vec<IntotoV002Signature>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct IntotoV002Signature {
    sig: String,
    public_key: String,
}

/// Rekor v2's signature and verifier (an X.509 certificate or a public key, DER).
#[derive(Deserialize)]
struct SignatureV002 {
    content: String,
    verifier: VerifierV002,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct VerifierV002 {
    x509_certificate: Option<RawBytes>,
    public_key: Option<RawBytes>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawBytes {
    raw_bytes: String,
}

/// hashedrekord 0.0.2: a signature over a digest (an artifact's, or a DSSE envelope's PAE).
#[derive(Deserialize)]
struct HashedRekordV002Spec {
    #[serde(rename = "hashedRekordV002")]
    inner: HashedRekordV002,
}

#[derive(Deserialize)]
struct HashedRekordV002 {
    data: B64Hash,
    signature: SignatureV002,
}

/// dsse 0.0.2: the payload's digest and the envelope's signatures.
#[derive(Deserialize)]
struct DsseV002Spec {
    #[serde(rename = "dsseV002")]
    inner: DsseV002,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct DsseV002 {
    payload_hash: B64Hash,
    signatures: Vec<SignatureV002>,
}

fn mismatch(why: impl Into<String>) -> TlogError {
    TlogError::BodyMismatch(why.into())
}

fn not_ours(what: &str) -> TlogError {
    mismatch(format!("the logged {what} is not the bundle's"))
}

fn base64(text: &str, what: &str) -> Result<Vec<u8>, TlogError> {
    B64.decode(text)
        .map_err(|_| mismatch(format!("{what} is not base64")))
}

/// A PEM certificate or public key in the body, as DER.
fn signer_of(pem_b64: &str) -> Result<Vec<u8>, TlogError> {
    let pem = base64(pem_b64, "the logged signer")?;
    let block = crate::pem::parse(&pem).map_err(|_| mismatch("the logged signer is not PEM"))?;
    match block.label.as_str() {
        "CERTIFICATE" | "PUBLIC KEY" => Ok(block.der),
        other => Err(mismatch(format!("the logged signer is a '{other}'"))),
    }
}

/// The one signature a logged envelope must hold (the bundle's envelope has exactly one).
fn only<T>(sigs: &[T]) -> Result<&T, TlogError> {
    match sigs {
        [sig] => Ok(sig),
        _ => Err(mismatch(format!(
            "the entry logs {} signatures, the bundle one",
            sigs.len()
        ))),
    }
}

impl VerifierV002 {
    fn der(&self) -> Result<Vec<u8>, TlogError> {
        match (&self.x509_certificate, &self.public_key) {
            (Some(c), _) => base64(&c.raw_bytes, "the logged certificate"),
            (None, Some(k)) => base64(&k.raw_bytes, "the logged key"),
            (None, None) => Err(mismatch("the logged signature has no verifier")),
        }
    }
}

fn same_signer(logged: &[u8], expected: &[u8]) -> Result<(), TlogError> {
    if logged == expected {
        return Ok(());
    }
    // A public key may be written in another (equivalent) SPKI form.
    if let (Ok(a), Ok(b)) = (
        crate::PublicKey::from_spki_der(logged),
        crate::PublicKey::from_spki_der(expected),
    ) {
        if a == b {
            return Ok(());
        }
    }
    Err(mismatch(
        "the logged certificate or key is not the bundle's",
    ))
}

/// A v1 hex digest (`sha256` names) that must be `data`'s.
fn hex_digest_of(hash: &HexHash, what: &str, data: &[u8]) -> Result<(), TlogError> {
    let alg = HashAlgorithm::from_sha2_name(&hash.algorithm)
        .ok_or_else(|| mismatch(format!("unknown hash algorithm '{}'", hash.algorithm)))?;
    if alg.digest(data).to_hex() != hash.value {
        return Err(mismatch(format!(
            "{what} is not the digest of the bundle's content"
        )));
    }
    Ok(())
}

/// A v2 hash's algorithm (`SHA2_256` names).
fn v2_algorithm(hash: &B64Hash) -> Result<HashAlgorithm, TlogError> {
    HashAlgorithm::from_sigstore_name(&hash.algorithm)
        .ok_or_else(|| mismatch(format!("unknown hash algorithm '{}'", hash.algorithm)))
}

fn hashedrekord_v001(
    spec: HashedRekordV001,
    expected: &Expected<'_>,
    digests: &[Digest],
) -> Result<(), TlogError> {
    if base64(&spec.signature.content, "the logged signature")? != expected.signature {
        return Err(not_ours("signature"));
    }
    same_signer(
        &signer_of(&spec.signature.public_key.content)?,
        expected.signer_der,
    )?;
    let hash = &spec.data.hash;
    let digest = HashAlgorithm::from_sha2_name(&hash.algorithm)
        .and_then(|alg| digests.iter().find(|d| d.algorithm() == alg))
        .ok_or_else(|| {
            mismatch(format!(
                "the entry hashes the artifact with '{}'",
                hash.algorithm
            ))
        })?;
    if hash.value != digest.to_hex() {
        return Err(not_ours("artifact digest"));
    }
    Ok(())
}

fn dsse_v001(spec: DsseV001, expected: &Expected<'_>, payload: &[u8]) -> Result<(), TlogError> {
    hex_digest_of(&spec.payload_hash, "spec.payloadHash", payload)?;
    let sig = only(&spec.signatures)?;
    if base64(&sig.signature, "the logged signature")? != expected.signature {
        return Err(not_ours("signature"));
    }
    same_signer(&signer_of(&sig.verifier)?, expected.signer_der)
}

fn intoto_v002(
    spec: IntotoV002,
    expected: &Expected<'_>,
    payload_type: &str,
    payload: &[u8],
) -> Result<(), TlogError> {
    let content = &spec.content;
    if content.envelope.payload_type != payload_type {
        return Err(not_ours("payload type"));
    }
    hex_digest_of(&content.payload_hash, "spec.content.payloadHash", payload)?;
    let logged = only(&content.envelope.signatures)?;
    // intoto 0.0.2 stores the signature base64-encoded twice.
    let once = base64(&logged.sig, "the logged signature")?;
    if B64.decode(&once).ok().as_deref() != Some(expected.signature) {
        return Err(not_ours("signature"));
    }
    same_signer(&signer_of(&logged.public_key)?, expected.signer_der)
}

fn hashedrekord_v002(spec: HashedRekordV002, expected: &Expected<'_>) -> Result<(), TlogError> {
    if base64(&spec.signature.content, "the logged signature")? != expected.signature {
        return Err(not_ours("signature"));
    }
    same_signer(&spec.signature.verifier.der()?, expected.signer_der)?;
    let alg = v2_algorithm(&spec.data)?;
    let logged = base64(&spec.data.digest, "the logged digest")?;
    let ours = match &expected.content {
        ExpectedContent::Artifact(digests) => digests
            .iter()
            .find(|d| d.algorithm() == alg)
            .cloned()
            .ok_or_else(|| mismatch(format!("the entry hashes the artifact with '{alg}'")))?,
        // "hashedrekord over DSSE": the logged digest is the PAE's (Rekor v2 spec 6.1.4).
        ExpectedContent::Dsse {
            payload_type,
            payload,
        } => alg.digest(&crate::dsse::pae(payload_type, payload)),
    };
    if logged != ours.as_bytes() {
        return Err(not_ours("artifact digest"));
    }
    Ok(())
}

fn dsse_v002(spec: DsseV002, expected: &Expected<'_>, payload: &[u8]) -> Result<(), TlogError> {
    let alg = v2_algorithm(&spec.payload_hash)?;
    if base64(&spec.payload_hash.digest, "the logged payload digest")?
        != alg.digest(payload).as_bytes()
    {
        return Err(not_ours("payload digest"));
    }
    let sig = only(&spec.signatures)?;
    if base64(&sig.content, "the logged signature")? != expected.signature {
        return Err(not_ours("signature"));
    }
    same_signer(&sig.verifier.der()?, expected.signer_der)
}

/// The logged body is this bundle's signature, signer and content: parsed once by the entry's
/// kind, then checked by that kind's function.
pub fn verify_body(entry: &TlogEntry, expected: &Expected<'_>) -> Result<(), TlogError> {
    let kind = entry.entry_kind()?;
    let body: WireBody = serde_json::from_slice(&entry.body)
        .map_err(|e| mismatch(format!("the body is not a log entry: {e}")))?;
    if body.kind != entry.kind || body.api_version != entry.version {
        return Err(mismatch("the body's kind or version is not the entry's"));
    }
    fn spec<T: serde::de::DeserializeOwned>(
        value: serde_json::Value,
        kind: EntryKind,
    ) -> Result<T, TlogError> {
        serde_json::from_value(value)
            .map_err(|e| mismatch(format!("the {} body's spec: {e}", kind.name())))
    }
    let wrong = || {
        mismatch(format!(
            "a {} entry cannot log this bundle's content",
            kind.name()
        ))
    };
    match (kind, &expected.content) {
        (EntryKind::HashedRekordV001, ExpectedContent::Artifact(digests)) => {
            hashedrekord_v001(spec(body.spec, kind)?, expected, digests)
        }
        (EntryKind::DsseV001, ExpectedContent::Dsse { payload, .. }) => {
            dsse_v001(spec(body.spec, kind)?, expected, payload)
        }
        (
            EntryKind::IntotoV002,
            ExpectedContent::Dsse {
                payload_type,
                payload,
            },
        ) => intoto_v002(spec(body.spec, kind)?, expected, payload_type, payload),
        (EntryKind::HashedRekordV002, _) => {
            let s: HashedRekordV002Spec = spec(body.spec, kind)?;
            hashedrekord_v002(s.inner, expected)
        }
        (EntryKind::DsseV002, ExpectedContent::Dsse { payload, .. }) => {
            let s: DsseV002Spec = spec(body.spec, kind)?;
            dsse_v002(s.inner, expected, payload)
        }
        (
            EntryKind::HashedRekordV001
            | EntryKind::DsseV001
            | EntryKind::IntotoV002
            | EntryKind::DsseV002,
            _,
        ) => Err(wrong()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A dsse 0.0.2 body (Rekor v2; no conformance vector carries one): the payload digest, the
    /// one signature and its verifier must be the bundle's.
    #[test]
    fn dsse_v2_bodies_match_the_bundle() {
        let payload = b"{\"_type\":\"https://in-toto.io/Statement/v1\"}";
        let cert = vec![0x30u8, 0x03, 0x02, 0x01, 0x01];
        let body = |digest: &[u8], sig: &[u8], verifier: &[u8]| {
            let json = serde_json::json!({
                "apiVersion": "0.0.2", "kind": "dsse",
                "spec": {"dsseV002": {
                    "payloadHash": {"algorithm": "SHA2_256", "digest": B64.encode(digest)},
                    "signatures": [{"content": B64.encode(sig), "verifier": {
                        "x509Certificate": {"rawBytes": B64.encode(verifier)},
                        "keyDetails": "PKIX_ECDSA_P256_SHA_256"}}]}}
            });
            TlogEntry {
                log_index: 0,
                log_id: vec![0; 32],
                kind: "dsse".into(),
                version: "0.0.2".into(),
                integrated_time: 0,
                inclusion_promise: None,
                inclusion_proof: None,
                body: serde_json::to_vec(&json).unwrap(),
            }
        };
        let expected = Expected {
            signature: b"sig",
            signer_der: &cert,
            content: ExpectedContent::Dsse {
                payload_type: "application/vnd.in-toto+json",
                payload,
            },
        };
        let good = HashAlgorithm::Sha256.digest(payload);
        assert_eq!(
            verify_body(&body(good.as_bytes(), b"sig", &cert), &expected),
            Ok(())
        );
        let other = HashAlgorithm::Sha256.digest(b"other");
        for entry in [
            body(other.as_bytes(), b"sig", &cert),
            body(good.as_bytes(), b"gis", &cert),
            body(good.as_bytes(), b"sig", &[0x30, 0x00]),
        ] {
            assert!(matches!(
                verify_body(&entry, &expected),
                Err(TlogError::BodyMismatch(_))
            ));
        }
        // A dsse entry cannot log a message signature.
        let blob = Expected {
            content: ExpectedContent::Artifact(&[]),
            ..expected
        };
        assert!(matches!(
            verify_body(&body(good.as_bytes(), b"sig", &cert), &blob),
            Err(TlogError::BodyMismatch(_))
        ));
    }

    /// RFC 9162 test tree of 7 leaves: a proof of leaf 3 is checked by recomputation.
    #[test]
    fn inclusion_proofs_recompute_the_root() {
        let leaves: Vec<[u8; 32]> = (0u8..7).map(|i| leaf_hash(&[i])).collect();
        let h = |l: &[u8; 32], r: &[u8; 32]| node_hash(l, r);
        let n01 = h(&leaves[0], &leaves[1]);
        let n23 = h(&leaves[2], &leaves[3]);
        let n45 = h(&leaves[4], &leaves[5]);
        let n0123 = h(&n01, &n23);
        let n456 = h(&n45, &leaves[6]);
        let root = h(&n0123, &n456);
        let proof = vec![leaves[2].to_vec(), n01.to_vec(), n456.to_vec()];
        assert_eq!(root_from_proof(3, 7, leaves[3], &proof).unwrap(), root);
        // Leaf 6, the right border.
        let proof = vec![n45.to_vec(), n0123.to_vec()];
        assert_eq!(root_from_proof(6, 7, leaves[6], &proof).unwrap(), root);
        assert!(root_from_proof(7, 7, leaves[6], &proof).is_err());
        assert!(root_from_proof(6, 7, leaves[6], &proof[..1]).is_err());
        assert_ne!(root_from_proof(6, 7, leaves[5], &proof).unwrap(), root);
    }
}
