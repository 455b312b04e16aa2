//! OpenSSF Model Signing (OMS v1.0, as model_signing 1.1.1 writes it): the in-toto statement,
//! and the numbered verification of an OMS bundle up to a checked [`SignedManifest`].
//!
//! The steps here are mirrored one for one in `docs/verification.md`. Each fails closed.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

use crate::bundle::{Bundle, Content, Envelope, Evidence, SignerMaterial, MEDIA_TYPE_V03};
use crate::digest::{Digest, HashAlgorithm};
use crate::dsse::{pae, IN_TOTO_PAYLOAD_TYPE};
use crate::keys::{PublicKey, SignError, Signer};
use crate::manifest::{
    root_digest, ItemKey, Method, PathError, PredicateType, ResourcePath, Serialization,
    SignedManifest,
};

pub const STATEMENT_TYPE: &str = "https://in-toto.io/Statement/v1";
pub const PREDICATE_TYPE: &str = PredicateType::V1_0.uri();

pub use crate::manifest::ManifestError;

#[derive(Deserialize)]
struct WireStatement {
    #[serde(rename = "_type")]
    statement_type: String,
    subject: Vec<WireSubject>,
    #[serde(rename = "predicateType")]
    predicate_type: String,
    predicate: serde_json::Value,
}

#[derive(Deserialize)]
struct WireSubject {
    name: Option<String>,
    digest: BTreeMap<String, String>,
}

#[derive(Deserialize)]
struct WirePredicate {
    resources: Vec<WireResource>,
    serialization: WireSerialization,
}

#[derive(Deserialize)]
struct WireResource {
    name: String,
    algorithm: String,
    digest: String,
}

#[derive(Deserialize)]
struct WireSerialization {
    method: String,
    hash_type: String,
    #[serde(default)]
    allow_symlinks: bool,
    shard_size: Option<serde_json::Number>,
    #[serde(default)]
    ignore_paths: Option<Vec<String>>,
}

/// model_signing writes `shard_size` as a JSON double (`4096.0`); OMS as an integer.
fn shard_size(n: &serde_json::Number) -> Option<u64> {
    if let Some(v) = n.as_u64() {
        return (v > 0).then_some(v);
    }
    let f = n.as_f64()?;
    (f >= 1.0 && f.fract() == 0.0 && f <= 9_007_199_254_740_992.0).then_some(f as u64)
}

fn bad_name(name: &str, why: impl fmt::Display) -> ManifestError {
    ManifestError::BadName {
        name: name.to_string(),
        why: why.to_string(),
    }
}

fn parse_path(name: &str) -> Result<ResourcePath, ManifestError> {
    ResourcePath::parse(name).map_err(|e: PathError| bad_name(name, e))
}

/// `path:start:end`, split on the last two colons (paths may hold colons).
fn parse_shard(name: &str, shard_size: u64) -> Result<ItemKey, ManifestError> {
    let mut parts = name.rsplitn(3, ':');
    let (Some(end), Some(start), Some(path)) = (parts.next(), parts.next(), parts.next()) else {
        return Err(bad_name(name, "a shard name must be 'path:start:end'"));
    };
    let num = |s: &str| {
        (!s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()))
            .then(|| s.parse::<u64>().ok())
            .flatten()
            .ok_or_else(|| bad_name(name, "shard offsets must be decimal integers"))
    };
    let (start, end) = (num(start)?, num(end)?);
    if start >= end || start % shard_size != 0 || end - start > shard_size {
        return Err(bad_name(name, format!("not a shard of {shard_size} bytes")));
    }
    Ok(ItemKey::Shard {
        path: parse_path(path)?,
        start,
        end,
    })
}

/// Step 7 and 8: parses the exact payload bytes into a checked manifest. The deprecated
/// `Digests/v0.1` predicate (model_signing 0.2.x) is read as model_signing reads it.
pub fn parse_statement(payload: &[u8]) -> Result<SignedManifest, ManifestError> {
    let st: WireStatement =
        serde_json::from_slice(payload).map_err(|e| ManifestError::Malformed(e.to_string()))?;
    if st.statement_type != STATEMENT_TYPE {
        return Err(ManifestError::StatementType(st.statement_type));
    }
    if st.predicate_type == PredicateType::DigestsV0_1.uri() {
        return parse_legacy_subjects(&st.subject);
    }
    if st.predicate_type != PREDICATE_TYPE {
        return Err(ManifestError::PredicateType(st.predicate_type));
    }
    if st.subject.len() != 1 {
        return Err(ManifestError::SubjectCount(st.subject.len()));
    }
    let subject = &st.subject[0];
    let root = subject
        .digest
        .get("sha256")
        .and_then(|h| Digest::from_hex(HashAlgorithm::Sha256, h))
        .ok_or(ManifestError::SubjectDigest)?;
    let predicate: WirePredicate = serde_json::from_value(st.predicate)
        .map_err(|e| ManifestError::Malformed(format!("predicate: {e}")))?;
    let ser = predicate.serialization;
    let hash = HashAlgorithm::from_oms_name(&ser.hash_type)
        .ok_or_else(|| ManifestError::HashType(ser.hash_type.clone()))?;
    let method = match ser.method.as_str() {
        "files" => Method::Files,
        "shards" => {
            let size = ser
                .shard_size
                .as_ref()
                .ok_or_else(|| ManifestError::ShardSize("(absent)".into()))?;
            Method::Shards {
                shard_size: shard_size(size)
                    .ok_or_else(|| ManifestError::ShardSize(size.to_string()))?,
            }
        }
        other => return Err(ManifestError::Method(other.to_string())),
    };
    let mut listed = Vec::with_capacity(predicate.resources.len());
    for r in predicate.resources {
        let (key, algorithm_ok) = match method {
            Method::Files => (
                ItemKey::File(parse_path(&r.name)?),
                r.algorithm == ser.hash_type,
            ),
            Method::Shards { shard_size } => (
                parse_shard(&r.name, shard_size)?,
                r.algorithm == ser.hash_type
                    || r.algorithm == format!("{}-sharded-{shard_size}", ser.hash_type),
            ),
        };
        if !algorithm_ok {
            return Err(ManifestError::Algorithm {
                name: r.name,
                algorithm: r.algorithm,
            });
        }
        let digest = Digest::from_hex(hash, &r.digest)
            .ok_or_else(|| ManifestError::BadDigest(r.name.clone()))?;
        listed.push((key, digest));
    }
    SignedManifest::new(
        subject.name.clone().unwrap_or_default(),
        root,
        Serialization {
            method,
            hash,
            allow_symlinks: ser.allow_symlinks,
            ignore_paths: ser.ignore_paths.unwrap_or_default(),
        },
        listed,
    )
}

/// `Digests/v0.1`: every subject is one file, named by its model-relative path, with exactly a
/// SHA-256 digest (annotations are informational). The predicate body carries nothing.
fn parse_legacy_subjects(subjects: &[WireSubject]) -> Result<SignedManifest, ManifestError> {
    let mut files = Vec::with_capacity(subjects.len());
    for (index, subject) in subjects.iter().enumerate() {
        let why = |why: &str| ManifestError::LegacySubject {
            index,
            why: why.to_string(),
        };
        let name = subject
            .name
            .as_deref()
            .filter(|n| !n.is_empty())
            .ok_or_else(|| why("it has no name"))?;
        let path = parse_path(name)?;
        let digest = match (subject.digest.len(), subject.digest.get("sha256")) {
            (1, Some(hex)) => Digest::from_hex(HashAlgorithm::Sha256, hex)
                .ok_or_else(|| why("its sha256 is not 64 hex digits"))?,
            _ => return Err(why("its digest must be exactly one sha256")),
        };
        files.push((path, digest));
    }
    SignedManifest::legacy(files)
}

#[derive(Serialize)]
struct OutStatement<'a> {
    #[serde(rename = "_type")]
    statement_type: &'static str,
    subject: [OutSubject<'a>; 1],
    #[serde(rename = "predicateType")]
    predicate_type: &'static str,
    predicate: OutPredicate<'a>,
}

#[derive(Serialize)]
struct OutSubject<'a> {
    name: &'a str,
    digest: OutSha256,
}

#[derive(Serialize)]
struct OutSha256 {
    sha256: String,
}

#[derive(Serialize)]
struct OutPredicate<'a> {
    resources: Vec<OutResource<'a>>,
    serialization: OutSerialization<'a>,
}

#[derive(Serialize)]
struct OutResource<'a> {
    name: &'a str,
    algorithm: &'a str,
    digest: String,
}

#[derive(Serialize)]
struct OutSerialization<'a> {
    method: &'static str,
    hash_type: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    shard_size: Option<u64>,
    allow_symlinks: bool,
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    ignore_paths: &'a [String],
}

/// Items in component-wise order (a file's shards by offset), and the root digest over that
/// order: the in-toto subject's.
fn sorted_items(items: &[(ItemKey, Digest)]) -> (Vec<&(ItemKey, Digest)>, Digest) {
    let mut sorted: Vec<&(ItemKey, Digest)> = items.iter().collect();
    sorted.sort_by(|a, b| a.0.cmp(&b.0));
    let root = root_digest(sorted.iter().map(|(_, d)| d));
    (sorted, root)
}

/// The root digest a signature over these items records.
pub fn root_digest_of_items(items: &[(ItemKey, Digest)]) -> Digest {
    sorted_items(items).1
}

fn whole_files(files: &[(ResourcePath, Digest)]) -> Vec<(ItemKey, Digest)> {
    files
        .iter()
        .map(|(p, d)| (ItemKey::File(p.clone()), d.clone()))
        .collect()
}

/// What a pin is compared with ([`SignedManifest::pinned_digest`]) once these files are signed
/// file by file: [`pinned_digest_of_items`] of them whole.
pub fn pinned_digest_of(files: &[(ResourcePath, Digest)]) -> Digest {
    pinned_digest_of_items(&whole_files(files))
}

/// The in-toto statement model_signing writes for `files` hashed whole with SHA-256 (its CLI's
/// serialization): [`statement_payload_items`] with files/sha256.
pub fn statement_payload(
    model_name: &str,
    files: &[(ResourcePath, Digest)],
    ignore_paths: &[String],
) -> Result<Vec<u8>, ManifestError> {
    statement_payload_items(
        model_name,
        &whole_files(files),
        Method::Files,
        HashAlgorithm::Sha256,
        ignore_paths,
    )
}

/// The in-toto statement for signed `items` (whole files, or shards) hashed with `hash`, as
/// model_signing 1.1.1 writes it: resources in component-wise order (a file's shards by
/// offset), named `path` or `path:start:end`, a shard's algorithm `HASH-sharded-SIZE`, the root
/// digest (SHA-256 over the digests in that order) as the subject. `shard_size` is written as
/// an integer, as OMS defines it (model_signing writes a double, and reads either).
pub fn statement_payload_items(
    model_name: &str,
    items: &[(ItemKey, Digest)],
    method: Method,
    hash: HashAlgorithm,
    ignore_paths: &[String],
) -> Result<Vec<u8>, ManifestError> {
    if items.is_empty() {
        return Err(ManifestError::Empty);
    }
    let (sorted, root) = sorted_items(items);
    let (method_name, shard_size, algorithm) = match method {
        Method::Files => ("files", None, hash.oms_name().to_string()),
        Method::Shards { shard_size } => (
            "shards",
            Some(shard_size),
            format!("{}-sharded-{shard_size}", hash.oms_name()),
        ),
    };
    let names: Vec<String> = sorted.iter().map(|(k, _)| k.to_string()).collect();
    let statement = OutStatement {
        statement_type: STATEMENT_TYPE,
        subject: [OutSubject {
            name: model_name,
            digest: OutSha256 {
                sha256: root.to_hex(),
            },
        }],
        predicate_type: PREDICATE_TYPE,
        predicate: OutPredicate {
            resources: sorted
                .iter()
                .zip(&names)
                .map(|((_, d), name)| OutResource {
                    name,
                    algorithm: &algorithm,
                    digest: d.to_hex(),
                })
                .collect(),
            serialization: OutSerialization {
                method: method_name,
                hash_type: hash.oms_name(),
                shard_size,
                allow_symlinks: false,
                ignore_paths,
            },
        },
    };
    // Serializing plain structs of strings cannot fail.
    Ok(serde_json::to_vec_pretty(&statement).unwrap_or_default())
}

/// What a pin is compared with once `items` are signed: a single-file model's digest when it
/// is hashed whole, else the root digest.
pub fn pinned_digest_of_items(items: &[(ItemKey, Digest)]) -> Digest {
    match items {
        [(ItemKey::File(path), digest)] if path.is_single_file() => digest.clone(),
        _ => root_digest_of_items(items),
    }
}

/// Signs `payload` as a DSSE envelope and returns the OMS bundle JSON.
/// The bundle names the signer as model_signing does: by its certificate chain when it has one
/// (the `certificate` method), else by its key's hint (the `key` method).
pub fn sign_statement(signer: &dyn Signer, payload: &[u8]) -> Result<String, SignError> {
    let signature = sign_envelope(signer, payload)?;
    Ok(statement_bundle_json(
        signer,
        payload,
        &signature,
        &Evidence::default(),
    ))
}

/// The DSSE signature over a statement `payload` (its PAE), by `signer`.
pub fn sign_envelope(signer: &dyn Signer, payload: &[u8]) -> Result<Vec<u8>, SignError> {
    signer.sign_message(&pae(IN_TOTO_PAYLOAD_TYPE, payload))
}

/// The OMS bundle of a statement signed by `signer` ([`sign_envelope`]), with the evidence it
/// obtained: the key method names the key by its hint, the certificate method carries the
/// chain, Sigstore keyless the Fulcio leaf.
pub fn statement_bundle_json(
    signer: &dyn Signer,
    payload: &[u8],
    signature: &[u8],
    evidence: &Evidence,
) -> String {
    let hint;
    let material = match signer.certificates() {
        Some([leaf]) if signer.is_keyless() => SignerMaterial::Certificate(leaf),
        Some(chain) => SignerMaterial::Certificates(chain),
        None => {
            hint = signer.public_key().oms_hint();
            SignerMaterial::KeyHint(&hint)
        }
    };
    crate::bundle::oms_bundle_json_with(material, payload, signature, evidence)
}

/// Why an OMS bundle's envelope, signature or statement cannot be trusted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EnvelopeError {
    MediaType(String),
    NotDsse,
    PayloadType(String),
    Signature(SignError),
    Manifest(ManifestError),
}

impl fmt::Display for EnvelopeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            EnvelopeError::MediaType(m) => write!(f, "media type '{m}' is not an OMS v1.0 bundle ({MEDIA_TYPE_V03})"),
            EnvelopeError::NotDsse => f.write_str("the bundle holds a message signature, not a DSSE envelope (is it a sign-blob bundle?)"),
            EnvelopeError::PayloadType(t) => write!(f, "unknown DSSE payload type '{t}'"),
            EnvelopeError::Signature(e) => write!(f, "{e}"),
            EnvelopeError::Manifest(e) => write!(f, "{e}"),
        }
    }
}

impl std::error::Error for EnvelopeError {}

/// Steps 1, 2 and 5 of OMS verification, before any signer is considered: a v0.3 bundle
/// holding a DSSE envelope of an in-toto statement. `tlogEntries` may be absent or empty (OMS
/// 4.1 and 11.1: the Go client writes none); keyless trust requires an entry itself.
pub fn envelope(bundle: &Bundle) -> Result<&Envelope, EnvelopeError> {
    // 1. Media type: OMS v1.0 is a v0.3 bundle.
    if bundle.media_type != MEDIA_TYPE_V03 {
        return Err(EnvelopeError::MediaType(bundle.media_type.clone()));
    }
    // 2. Content: a DSSE envelope.
    let Content::Dsse(envelope) = &bundle.content else {
        return Err(EnvelopeError::NotDsse);
    };
    // 5. Payload type.
    if envelope.payload_type != IN_TOTO_PAYLOAD_TYPE {
        return Err(EnvelopeError::PayloadType(envelope.payload_type.clone()));
    }
    Ok(envelope)
}

/// Steps 6 to 8, once the signer's key is known (step 3, `crate::trust`): the signature over
/// the exact PAE of the exact payload, and only then the statement, to a manifest whose every
/// byte the signature covers. The model itself is checked by the caller with
/// [`SignedManifest::plan`] and [`SignedManifest::check`] (steps 9 and 10).
///
/// `legacy_pae_hash`: when not `None`, a signature that fails over the PAE is tried over
/// model_signing 0.2.x's encoding with that hash (step 6b), for the legacy statement only.
pub(crate) fn verify_statement(
    envelope: &Envelope,
    key: &PublicKey,
    legacy_pae_hash: Option<HashAlgorithm>,
) -> Result<SignedManifest, EnvelopeError> {
    // 6. Signature over the exact PAE bytes of the exact payload.
    let signed = key.verify_message(
        &pae(&envelope.payload_type, &envelope.payload),
        &envelope.signature,
    );
    match (signed, legacy_pae_hash) {
        // 7-8. Only now is the payload parsed: statement, predicate, names, root digest.
        (Ok(()), _) => parse_statement(&envelope.payload).map_err(EnvelopeError::Manifest),
        (Err(SignError::Mismatch), Some(hash)) => verify_v0_2(envelope, key, hash)
            .map_err(|()| EnvelopeError::Signature(SignError::Mismatch)),
        (Err(e), _) => Err(EnvelopeError::Signature(e)),
    }
}

/// 6b. model_signing 0.2.x signed the Python repr of the payload (`dsse::pae_v0_2`), with
/// SHA-256 for certificates whatever the curve; model_signing still verifies those signatures.
/// So do we, for the deprecated `Digests/v0.1` statement those releases wrote and nothing
/// else: a payload that verifies only this way but is another statement is refused.
fn verify_v0_2(
    envelope: &Envelope,
    key: &PublicKey,
    hash: HashAlgorithm,
) -> Result<SignedManifest, ()> {
    let message = crate::dsse::pae_v0_2(&envelope.payload_type, &envelope.payload);
    key.verify_prehash(hash.digest(&message).as_bytes(), &envelope.signature)
        .map_err(|_| ())?;
    match parse_statement(&envelope.payload) {
        Ok(m) if m.predicate.is_legacy() => Ok(m),
        _ => Err(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::manifest::PinnedKind;

    fn h(s: &str) -> Digest {
        HashAlgorithm::Sha256.digest(s.as_bytes())
    }

    #[test]
    fn statement_round_trip() {
        let files = vec![
            (ResourcePath::parse("a.txt").unwrap(), h("1")),
            (ResourcePath::parse("a/b").unwrap(), h("2")),
        ];
        let payload = statement_payload("m", &files, &[".git".into()]).unwrap();
        let m = parse_statement(&payload).unwrap();
        let names: Vec<String> = m.items().map(|(k, _)| k.to_string()).collect();
        assert_eq!(names, ["a/b", "a.txt"]);
        assert_eq!(m.serialization.ignore_paths, [".git"]);
        assert_eq!(m.model_name, "m");
    }

    /// The digest `modelseal digest` computes before signing is the one a pin is compared with
    /// after verification: the file's own digest for a single file, the root otherwise (also
    /// for a directory of one file).
    #[test]
    fn pinned_digest_before_and_after_signing() {
        let single = vec![(ResourcePath::single_file(), h("1"))];
        let one = vec![(ResourcePath::parse("w.bin").unwrap(), h("1"))];
        let two = vec![
            (ResourcePath::parse("b").unwrap(), h("2")),
            (ResourcePath::parse("a").unwrap(), h("1")),
        ];
        for (files, kind) in [
            (&single, PinnedKind::File),
            (&one, PinnedKind::Root),
            (&two, PinnedKind::Root),
        ] {
            let m = parse_statement(&statement_payload("m", files, &[]).unwrap()).unwrap();
            let (signed, signed_kind) = m.pinned_digest();
            assert_eq!(signed_kind, kind);
            assert_eq!(*signed, pinned_digest_of(files));
            assert_eq!(kind == PinnedKind::Root, *signed == m.root);
        }
        assert_eq!(pinned_digest_of(&single), h("1"));
        assert_ne!(pinned_digest_of(&one), h("1"));
    }

    #[test]
    fn hostile_statements_are_refused() {
        let good =
            statement_payload("m", &[(ResourcePath::parse("x").unwrap(), h("1"))], &[]).unwrap();
        let text = String::from_utf8(good).unwrap();
        let escape = text.replace("\"name\": \"x\"", "\"name\": \"../x\"");
        assert!(matches!(
            parse_statement(escape.as_bytes()),
            Err(ManifestError::BadName { .. })
        ));
        let root = text.replace(&h("1").to_hex(), &h("2").to_hex());
        assert!(matches!(
            parse_statement(root.as_bytes()),
            Err(ManifestError::RootMismatch { .. })
        ));
        let pred = text.replace(PREDICATE_TYPE, "https://example.com/other");
        assert!(matches!(
            parse_statement(pred.as_bytes()),
            Err(ManifestError::PredicateType(_))
        ));
    }

    fn legacy(subjects: &str) -> Vec<u8> {
        format!(
            r#"{{"_type":"{STATEMENT_TYPE}","subject":{subjects},"predicateType":"https://model_signing/Digests/v0.1","predicate":{{"unused":"x"}}}}"#
        )
        .into_bytes()
    }

    #[test]
    fn legacy_digests_predicate_is_one_subject_per_file() {
        let (a, b) = (h("a").to_hex(), h("b").to_hex());
        let m = parse_statement(&legacy(&format!(
            r#"[{{"name":"signme-2","digest":{{"sha256":"{b}"}},"annotations":{{"actual_hash_algorithm":"file-sha256"}}}},
                {{"name":"signme-1","digest":{{"sha256":"{a}"}}}}]"#
        )))
        .unwrap();
        assert_eq!(m.predicate, PredicateType::DigestsV0_1);
        let names: Vec<String> = m.items().map(|(k, _)| k.to_string()).collect();
        assert_eq!(names, ["signme-1", "signme-2"]);
        assert_eq!(m.root, root_digest([h("a"), h("b")].iter()));
        for (body, refused) in [
            ("[]".to_string(), "empty"),
            (format!(r#"[{{"digest":{{"sha256":"{a}"}}}}]"#), "no name"),
            (
                format!(r#"[{{"name":"x","digest":{{"sha512":"{a}"}}}}]"#),
                "no sha256",
            ),
            (
                format!(r#"[{{"name":"x","digest":{{"sha256":"{a}","md5":"00"}}}}]"#),
                "two digests",
            ),
            (
                r#"[{"name":"x","digest":{"sha256":"zz"}}]"#.to_string(),
                "bad hex",
            ),
            (
                format!(r#"[{{"name":"../x","digest":{{"sha256":"{a}"}}}}]"#),
                "escape",
            ),
        ] {
            assert!(parse_statement(&legacy(&body)).is_err(), "{refused}");
        }
    }

    #[test]
    fn empty_models_are_neither_signed_nor_verified() {
        assert_eq!(statement_payload("m", &[], &[]), Err(ManifestError::Empty));
        let one =
            statement_payload("m", &[(ResourcePath::parse("x").unwrap(), h("1"))], &[]).unwrap();
        let text = String::from_utf8(one).unwrap();
        let start = text.find("\"resources\": [").unwrap() + "\"resources\": [".len();
        let end = text[start..].find(']').unwrap() + start;
        let empty = format!("{}{}", &text[..start], &text[end..]).replace(
            &root_digest(std::iter::once(&h("1"))).to_hex(),
            &root_digest(std::iter::empty()).to_hex(),
        );
        assert_eq!(
            parse_statement(empty.as_bytes()).unwrap_err(),
            ManifestError::Empty
        );
    }

    #[test]
    fn shard_names() {
        assert_eq!(
            parse_shard("a:b:0:4096", 4096).unwrap(),
            ItemKey::Shard {
                path: ResourcePath::parse("a:b").unwrap(),
                start: 0,
                end: 4096
            }
        );
        assert!(parse_shard("a:0:4097", 4096).is_err());
        assert!(parse_shard("a:10:5", 4096).is_err());
        assert!(parse_shard("a:-0:5", 4096).is_err());
    }
}
