//! What a signer sends Sigstore's services, and how their answers are read before anything
//! relies on them: the identity token's claims, a signing config (which Fulcio, Rekor and TSA
//! to use), Fulcio's request and the certificate it returns, the entries proposed to Rekor (v1
//! and v2) and the entry it logs, an RFC 3161 request and its reply.
//!
//! No I/O: the shell carries the bytes. Nothing here is trusted for being returned by a
//! service: a certificate is checked against the trusted root and the token before anything is
//! signed with its key ([`check_certificate`]), and the finished bundle goes through the same
//! verifier as any other before it is written (the shell's job).

use std::fmt;

use base64::engine::general_purpose::{STANDARD as B64, URL_SAFE_NO_PAD as B64URL};
use base64::Engine as _;
use serde::Deserialize;
use serde_json::{json, Value};

use crate::digest::{Digest, HashAlgorithm};
use crate::fulcio::{FulcioError, Leaf};
use crate::keys::PublicKey;
use crate::time::parse_rfc3339;
use crate::trusted_root::TrustedRoot;

/// Seconds a token's `exp` / `nbf` may be off, as sigstore-python allows.
const TOKEN_LEEWAY: u64 = 5;

/// Why an identity token cannot be used. The token itself is never part of a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TokenError {
    Malformed(&'static str),
    Expired {
        at: u64,
    },
    NotYetValid {
        from: u64,
    },
    /// Sigstore's services take tokens issued for the audience `sigstore`.
    Audience(String),
}

impl fmt::Display for TokenError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TokenError::Malformed(what) => write!(f, "the identity token is malformed: {what}"),
            TokenError::Expired { at } => {
                write!(f, "the identity token expired at {}", crate::time::utc(*at))
            }
            TokenError::NotYetValid { from } => write!(
                f,
                "the identity token is not valid before {}",
                crate::time::utc(*from)
            ),
            TokenError::Audience(aud) => write!(
                f,
                "the identity token is for the audience {aud}, not 'sigstore'"
            ),
        }
    }
}

impl std::error::Error for TokenError {}

/// An OIDC identity token, its claims read (not verified: Fulcio verifies the token; we check
/// that the certificate it returns names the identity the claims name).
#[derive(Clone)]
pub struct IdentityToken {
    raw: String,
    pub issuer: String,
    pub subject: String,
    /// A verified email claim, when the token has one.
    pub email: Option<String>,
    pub expires: u64,
}

impl fmt::Debug for IdentityToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IdentityToken")
            .field("issuer", &self.issuer)
            .field("subject", &self.subject)
            .field("email", &self.email)
            .field("expires", &self.expires)
            .finish_non_exhaustive()
    }
}

#[derive(Deserialize)]
struct Claims {
    iss: Option<String>,
    sub: Option<String>,
    aud: Option<Value>,
    exp: Option<u64>,
    nbf: Option<u64>,
    email: Option<String>,
    email_verified: Option<bool>,
}

impl IdentityToken {
    /// Reads a JWT's claims: `iss`, `sub`, `exp` required; `aud` must include `sigstore`; the
    /// token must be valid at `now` (within a few seconds).
    pub fn parse(raw: &str, now: u64) -> Result<Self, TokenError> {
        let raw = raw.trim();
        let mut parts = raw.split('.');
        let (Some(_), Some(claims), Some(_), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(TokenError::Malformed("not three dot-separated parts"));
        };
        let claims = B64URL
            .decode(claims.trim_end_matches('='))
            .map_err(|_| TokenError::Malformed("the claims are not base64url"))?;
        let claims: Claims = serde_json::from_slice(&claims).map_err(|_| {
            TokenError::Malformed("the claims are not a JSON object of the expected types")
        })?;
        let issuer = claims
            .iss
            .filter(|s| !s.is_empty())
            .ok_or(TokenError::Malformed("no 'iss' claim"))?;
        let subject = claims
            .sub
            .filter(|s| !s.is_empty())
            .ok_or(TokenError::Malformed("no 'sub' claim"))?;
        let expires = claims.exp.ok_or(TokenError::Malformed("no 'exp' claim"))?;
        let audiences: Vec<String> = match claims.aud {
            Some(Value::String(a)) => vec![a],
            Some(Value::Array(a)) => a
                .into_iter()
                .filter_map(|v| v.as_str().map(str::to_string))
                .collect(),
            _ => return Err(TokenError::Malformed("no 'aud' claim")),
        };
        if !audiences.iter().any(|a| a == "sigstore") {
            return Err(TokenError::Audience(audiences.join(", ")));
        }
        if expires + TOKEN_LEEWAY <= now {
            return Err(TokenError::Expired { at: expires });
        }
        if let Some(nbf) = claims.nbf {
            if nbf > now + TOKEN_LEEWAY {
                return Err(TokenError::NotYetValid { from: nbf });
            }
        }
        // An email counts only when the issuer says it is verified (as cosign and Fulcio).
        let email = claims
            .email
            .filter(|_| claims.email_verified.unwrap_or(false));
        Ok(IdentityToken {
            raw: raw.to_string(),
            issuer,
            subject,
            email,
            expires,
        })
    }

    /// The token as sent to Fulcio; never print it.
    pub fn secret(&self) -> &str {
        &self.raw
    }

    /// The identity Fulcio certifies and the proof of possession signs: the verified email
    /// when there is one, else the subject (cosign's rule).
    pub fn identity(&self) -> &str {
        self.email.as_deref().unwrap_or(&self.subject)
    }
}

/// Why a signing config, or a service's answer, cannot be used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ServiceError {
    /// The signing config (or client trust config) is not one we can use.
    Config(String),
    /// A service's answer is not of the shape its API defines.
    Answer { service: &'static str, why: String },
    /// Fulcio's certificate does not verify against the trusted root, or names another key or
    /// identity.
    Certificate(String),
}

impl fmt::Display for ServiceError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ServiceError::Config(why) => write!(f, "{why}"),
            ServiceError::Answer { service, why } => write!(f, "{service} answered with {why}"),
            ServiceError::Certificate(why) => {
                write!(f, "Fulcio's certificate is not usable: {why}")
            }
        }
    }
}

impl std::error::Error for ServiceError {}

fn config(why: impl Into<String>) -> ServiceError {
    ServiceError::Config(why.into())
}

/// The API a Rekor log speaks: v1 entries carry an integrated time and a SET; v2 entries (a
/// tile-backed log) carry an inclusion proof and checkpoint only, so a signature logged there
/// needs an RFC 3161 timestamp for its time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RekorApi {
    V1,
    V2,
}

impl RekorApi {
    /// The path entries are proposed at, below the log's URL.
    pub fn entries_path(self) -> &'static str {
        match self {
            RekorApi::V1 => "/api/v1/log/entries",
            RekorApi::V2 => "/api/v2/log/entries",
        }
    }
}

/// One service of a signing config.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Service {
    pub url: String,
    pub major_api_version: u32,
    start: u64,
    end: Option<u64>,
}

impl Service {
    fn valid_at(&self, now: u64) -> bool {
        self.start <= now && self.end.is_none_or(|e| now < e)
    }
}

/// A Sigstore SigningConfig v0.2: where a signer gets certificates, log entries and timestamps.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SigningConfig {
    pub ca: Vec<Service>,
    pub rekor: Vec<Service>,
    pub tsa: Vec<Service>,
}

/// Sigstore public-good production's signing config (Fulcio, Rekor v1, TSA), carried beside
/// its trusted root: what a signer uses when given no other.
pub const PRODUCTION_SIGNING_CONFIG: &[u8] =
    include_bytes!("../trust/production-signing-config.json");

pub const SIGNING_CONFIG_MEDIA_TYPE: &str = "application/vnd.dev.sigstore.signingconfig.v0.2+json";
pub const CLIENT_TRUST_CONFIG_MEDIA_TYPE: &str =
    "application/vnd.dev.sigstore.clienttrustconfig.v0.1+json";

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct WireSigningConfig {
    media_type: String,
    #[serde(default)]
    ca_urls: Vec<WireService>,
    #[serde(default)]
    rekor_tlog_urls: Vec<WireService>,
    #[serde(default)]
    tsa_urls: Vec<WireService>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct WireService {
    url: String,
    major_api_version: u32,
    valid_for: WireValidity,
}

#[derive(Deserialize)]
struct WireValidity {
    start: String,
    end: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct WireClientTrustConfig {
    media_type: String,
    trusted_root: Value,
    signing_config: Value,
}

impl SigningConfig {
    pub fn from_json(bytes: &[u8]) -> Result<Self, ServiceError> {
        let wire: WireSigningConfig = serde_json::from_slice(bytes)
            .map_err(|e| config(format!("not a Sigstore signing config: {e}")))?;
        if wire.media_type != SIGNING_CONFIG_MEDIA_TYPE {
            return Err(config(format!(
                "signing config media type '{}' is not {SIGNING_CONFIG_MEDIA_TYPE}",
                wire.media_type
            )));
        }
        let services = |list: Vec<WireService>, what: &str| -> Result<Vec<Service>, ServiceError> {
            list.into_iter()
                .map(|s| {
                    let start = parse_rfc3339(&s.valid_for.start).ok_or_else(|| {
                        config(format!(
                            "{what} {}: validFor.start is not an RFC 3339 time",
                            s.url
                        ))
                    })?;
                    let end = match &s.valid_for.end {
                        None => None,
                        Some(e) => Some(parse_rfc3339(e).ok_or_else(|| {
                            config(format!(
                                "{what} {}: validFor.end is not an RFC 3339 time",
                                s.url
                            ))
                        })?),
                    };
                    if !(s.url.starts_with("https://") || s.url.starts_with("http://")) {
                        return Err(config(format!("{what} URL '{}' is not http(s)", s.url)));
                    }
                    Ok(Service {
                        url: s.url.trim_end_matches('/').to_string(),
                        major_api_version: s.major_api_version,
                        start,
                        end,
                    })
                })
                .collect()
        };
        Ok(SigningConfig {
            ca: services(wire.ca_urls, "caUrls")?,
            rekor: services(wire.rekor_tlog_urls, "rekorTlogUrls")?,
            tsa: services(wire.tsa_urls, "tsaUrls")?,
        })
    }

    /// The Fulcio to use at `now`: the first valid one of API version 1 (Fulcio's v2 REST API,
    /// `/api/v2/signingCert`, is its major version 1 in a signing config).
    pub fn fulcio(&self, now: u64) -> Result<&Service, ServiceError> {
        self.ca
            .iter()
            .find(|s| s.valid_at(now) && s.major_api_version == 1)
            .ok_or_else(|| config("the signing config names no Fulcio valid now"))
    }

    /// The transparency log to upload to at `now`: among the valid logs of an API version
    /// modelseal writes (Rekor v1 and v2), the first of the highest version, as sigstore-python
    /// and cosign choose. A log of another version is never picked.
    pub fn rekor(&self, now: u64) -> Result<(&Service, RekorApi), ServiceError> {
        let valid = || self.rekor.iter().filter(|s| s.valid_at(now));
        for (version, api) in [(2, RekorApi::V2), (1, RekorApi::V1)] {
            if let Some(s) = valid().find(|s| s.major_api_version == version) {
                return Ok((s, api));
            }
        }
        match valid().next() {
            Some(s) => Err(config(format!(
                "the signing config's only log valid now is Rekor v{} ({}); modelseal writes to Rekor v1 and v2 logs",
                s.major_api_version, s.url
            ))),
            None => Err(config("the signing config names no transparency log valid now")),
        }
    }

    /// The timestamp authority to use at `now`, if the config names one.
    pub fn tsa(&self, now: u64) -> Option<&Service> {
        self.tsa
            .iter()
            .find(|s| s.valid_at(now) && s.major_api_version == 1)
    }
}

/// A ClientTrustConfig (sigstore-python's and model_signing's `--trust-config`): the trusted
/// root's JSON and the signing config, in one file.
pub fn client_trust_config(bytes: &[u8]) -> Result<(Vec<u8>, SigningConfig), ServiceError> {
    let wire: WireClientTrustConfig = serde_json::from_slice(bytes)
        .map_err(|e| config(format!("not a Sigstore client trust config: {e}")))?;
    if wire.media_type != CLIENT_TRUST_CONFIG_MEDIA_TYPE {
        return Err(config(format!(
            "client trust config media type '{}' is not {CLIENT_TRUST_CONFIG_MEDIA_TYPE}",
            wire.media_type
        )));
    }
    let root = serde_json::to_vec(&wire.trusted_root).unwrap_or_default();
    let signing = serde_json::to_vec(&wire.signing_config).unwrap_or_default();
    Ok((root, SigningConfig::from_json(&signing)?))
}

// ---- Fulcio ----

/// The body of `POST /api/v2/signingCert`: the key and its proof of possession (a signature
/// over [`IdentityToken::identity`] by the key).
pub fn fulcio_request(token: &IdentityToken, key: &PublicKey, proof_der: &[u8]) -> String {
    json!({
        "credentials": {"oidcIdentityToken": token.secret()},
        "publicKeyRequest": {
            "publicKey": {"algorithm": "ECDSA", "content": key.to_pem()},
            "proofOfPossession": B64.encode(proof_der),
        },
    })
    .to_string()
}

/// The certificate chain (DER, leaf first) of Fulcio's answer. Only embedded SCTs are taken
/// (what Fulcio issues; a detached SCT is refused).
pub fn fulcio_chain(body: &[u8]) -> Result<Vec<Vec<u8>>, ServiceError> {
    let answer = |why: &str| ServiceError::Answer {
        service: "Fulcio",
        why: why.to_string(),
    };
    let v: Value = serde_json::from_slice(body).map_err(|_| answer("a body that is not JSON"))?;
    if v.get("signedCertificateDetachedSct").is_some() {
        return Err(answer("a detached SCT, which modelseal does not accept"));
    }
    let pems = v
        .pointer("/signedCertificateEmbeddedSct/chain/certificates")
        .and_then(Value::as_array)
        .ok_or_else(|| answer("no signedCertificateEmbeddedSct.chain.certificates"))?;
    let mut chain = Vec::new();
    for pem in pems {
        let text = pem
            .as_str()
            .ok_or_else(|| answer("a certificate that is not a string"))?;
        let ders = crate::certificate::certificates_from_pem(text.as_bytes())
            .map_err(|_| answer("a certificate that is not PEM"))?;
        chain.extend(ders);
    }
    if chain.is_empty() {
        return Err(answer("an empty certificate chain"));
    }
    Ok(chain)
}

/// Checks Fulcio's leaf before its key signs anything: it certifies `key`, chains at `now` to
/// a certificate authority of `root`, carries an SCT from a CT log of `root`, and names the
/// token's identity and issuer.
pub fn check_certificate(
    chain: &[Vec<u8>],
    key: &PublicKey,
    token: &IdentityToken,
    root: &TrustedRoot,
    now: u64,
) -> Result<Leaf, ServiceError> {
    let bad = |e: FulcioError| ServiceError::Certificate(e.to_string());
    let leaf = Leaf::parse(chain.first().map(Vec::as_slice).unwrap_or_default()).map_err(bad)?;
    if leaf.key != *key {
        return Err(ServiceError::Certificate(
            "it certifies another key than the one that asked".into(),
        ));
    }
    let issuer_der = leaf.verify_chain(root, now).map_err(bad)?;
    leaf.verify_scts(&issuer_der, root).map_err(bad)?;
    if !leaf.identities.iter().any(|i| i == token.identity()) {
        return Err(ServiceError::Certificate(format!(
            "it names {}, not the token's identity {}",
            leaf.identities.join(", "),
            token.identity()
        )));
    }
    if leaf.issuer.as_deref() != Some(token.issuer.as_str()) {
        return Err(ServiceError::Certificate(format!(
            "its issuer is {}, not the token's {}",
            leaf.issuer.as_deref().unwrap_or("absent"),
            token.issuer
        )));
    }
    Ok(leaf)
}

// ---- Rekor v1 ----

/// The PEM Rekor records as the verifier of a signature: the leaf certificate, or the key.
pub enum Verifier<'a> {
    Certificate(&'a [u8]),
    Key(&'a PublicKey),
}

impl Verifier<'_> {
    fn pem_b64(&self) -> String {
        let pem = match self {
            Verifier::Certificate(der) => crate::pem::encode("CERTIFICATE", der),
            Verifier::Key(key) => key.to_pem(),
        };
        B64.encode(pem)
    }
}

/// A hashedrekord 0.0.1 proposal: a signature over a SHA-256 digest (a blob).
pub fn hashedrekord_request(
    digest: &Digest,
    der_signature: &[u8],
    verifier: &Verifier<'_>,
) -> Result<String, ServiceError> {
    if digest.algorithm() != HashAlgorithm::Sha256 {
        return Err(config(
            "Rekor's hashedrekord entries take SHA-256 digests; sign with a P-256 key",
        ));
    }
    Ok(json!({
        "apiVersion": "0.0.1",
        "kind": "hashedrekord",
        "spec": {
            "data": {"hash": {"algorithm": "sha256", "value": digest.to_hex()}},
            "signature": {"content": B64.encode(der_signature), "publicKey": {"content": verifier.pem_b64()}},
        },
    })
    .to_string())
}

/// A dsse 0.0.1 proposal: the envelope (a model's signed statement) and its verifier.
pub fn dsse_request(
    payload_type: &str,
    payload: &[u8],
    der_signature: &[u8],
    verifier: &Verifier<'_>,
) -> String {
    let envelope = json!({
        "payload": B64.encode(payload),
        "payloadType": payload_type,
        "signatures": [{"sig": B64.encode(der_signature), "keyid": ""}],
    })
    .to_string();
    json!({
        "apiVersion": "0.0.1",
        "kind": "dsse",
        "spec": {"proposedContent": {"envelope": envelope, "verifiers": [verifier.pem_b64()]}},
    })
    .to_string()
}

/// Rekor v1's answer to a proposal (`{UUID: LogEntry}`) as the bundle's `tlogEntries[]` item:
/// the canonicalized body, integrated time, SET, inclusion proof and checkpoint, converted from
/// Rekor's hex and numbers to the bundle's base64 and strings. Not verified here: the finished
/// bundle is.
pub fn rekor_entry(body: &[u8]) -> Result<Value, ServiceError> {
    let answer = |why: &str| ServiceError::Answer {
        service: "Rekor",
        why: why.to_string(),
    };
    let v: Value = serde_json::from_slice(body).map_err(|_| answer("a body that is not JSON"))?;
    let entries = v
        .as_object()
        .ok_or_else(|| answer("a body that is not an object"))?;
    if entries.len() != 1 {
        return Err(answer("not exactly one entry"));
    }
    let Some((_, e)) = entries.iter().next() else {
        return Err(answer("no entry"));
    };
    let text = |p: &str| e.pointer(p).and_then(Value::as_str);
    let int = |p: &str| e.pointer(p).and_then(Value::as_u64);
    let body_b64 = text("/body").ok_or_else(|| answer("no body"))?;
    let canonical: Value = B64
        .decode(body_b64)
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .ok_or_else(|| answer("a body that is not base64 JSON"))?;
    let kind = canonical
        .get("kind")
        .and_then(Value::as_str)
        .ok_or_else(|| answer("a body without kind"))?;
    let version = canonical
        .get("apiVersion")
        .and_then(Value::as_str)
        .ok_or_else(|| answer("a body without apiVersion"))?;
    let hex_to_b64 = |h: &str| -> Result<String, ServiceError> {
        hex::decode(h)
            .ok()
            .map(|b| B64.encode(b))
            .ok_or_else(|| answer("a hash that is not hex"))
    };
    let log_id = hex_to_b64(text("/logID").ok_or_else(|| answer("no logID"))?)?;
    let index = int("/logIndex").ok_or_else(|| answer("no logIndex"))?;
    let integrated = int("/integratedTime").ok_or_else(|| answer("no integratedTime"))?;
    let set = text("/verification/signedEntryTimestamp")
        .ok_or_else(|| answer("no signedEntryTimestamp"))?;
    let mut entry = json!({
        "logIndex": index.to_string(),
        "logId": {"keyId": log_id},
        "kindVersion": {"kind": kind, "version": version},
        "integratedTime": integrated.to_string(),
        "inclusionPromise": {"signedEntryTimestamp": set},
        "canonicalizedBody": body_b64,
    });
    if let Some(proof) = e.pointer("/verification/inclusionProof") {
        let p_text = |k: &str| proof.get(k).and_then(Value::as_str);
        let p_int = |k: &str| proof.get(k).and_then(Value::as_u64);
        let hashes = proof
            .get("hashes")
            .and_then(Value::as_array)
            .ok_or_else(|| answer("an inclusion proof without hashes"))?
            .iter()
            .map(|h| hex_to_b64(h.as_str().unwrap_or("?")))
            .collect::<Result<Vec<_>, _>>()?;
        entry["inclusionProof"] = json!({
            "logIndex": p_int("logIndex").ok_or_else(|| answer("an inclusion proof without logIndex"))?.to_string(),
            "rootHash": hex_to_b64(p_text("rootHash").ok_or_else(|| answer("an inclusion proof without rootHash"))?)?,
            "treeSize": p_int("treeSize").ok_or_else(|| answer("an inclusion proof without treeSize"))?.to_string(),
            "hashes": hashes,
            "checkpoint": {"envelope": p_text("checkpoint").ok_or_else(|| answer("an inclusion proof without checkpoint"))?},
        });
    }
    Ok(entry)
}

// ---- Rekor v2 ----

/// A signing key's `keyDetails` as Sigstore's protobufs name it (the curve and its hash).
fn key_details(key: &PublicKey) -> Result<&'static str, ServiceError> {
    match key.curve() {
        Some(crate::Curve::P256) => Ok("PKIX_ECDSA_P256_SHA_256"),
        Some(crate::Curve::P384) => Ok("PKIX_ECDSA_P384_SHA_384"),
        Some(crate::Curve::P521) => Ok("PKIX_ECDSA_P521_SHA_512"),
        None => Err(config(
            "Rekor v2 entries take ECDSA signers; this key is not one",
        )),
    }
}

impl Verifier<'_> {
    /// A v2 `Verifier` message: the certificate or key DER, and `keyDetails` of `key` (the
    /// certificate's key when it is one).
    fn v2(&self, key: &PublicKey) -> Result<Value, ServiceError> {
        let details = key_details(key)?;
        Ok(match self {
            Verifier::Certificate(der) => {
                json!({"x509Certificate": {"rawBytes": B64.encode(der)}, "keyDetails": details})
            }
            Verifier::Key(k) => {
                json!({"publicKey": {"rawBytes": B64.encode(k.spki_der())}, "keyDetails": details})
            }
        })
    }
}

/// A Rekor v2 `CreateEntryRequest` for a hashedrekord 0.0.2 entry: a signature over a digest
/// (a blob), with the field names rekor-tiles reads (`hashedRekordRequestV0_0_2`). The digest
/// must be the one the key's `keyDetails` names (SHA-256 for P-256).
pub fn hashedrekord_request_v2(
    digest: &Digest,
    der_signature: &[u8],
    verifier: &Verifier<'_>,
    key: &PublicKey,
) -> Result<String, ServiceError> {
    if key.curve().map(crate::Curve::hash) != Some(digest.algorithm()) {
        return Err(config(
            "a Rekor v2 hashedrekord entry takes the digest its key's details name",
        ));
    }
    Ok(json!({"hashedRekordRequestV0_0_2": {
        "digest": B64.encode(digest.as_bytes()),
        "signature": {"content": B64.encode(der_signature), "verifier": verifier.v2(key)?},
    }})
    .to_string())
}

/// A Rekor v2 `CreateEntryRequest` for a DSSE envelope (a model's statement). Rekor v2 logs
/// envelopes as hashedrekord 0.0.2 entries over the digest of their PAE, the signature being
/// the envelope's (Rekor v2 spec 6.1.4): what sigstore-python writes and verifies.
pub fn dsse_request_v2(
    payload_type: &str,
    payload: &[u8],
    der_signature: &[u8],
    verifier: &Verifier<'_>,
    key: &PublicKey,
) -> Result<String, ServiceError> {
    let hash = key
        .curve()
        .map(crate::Curve::hash)
        .ok_or_else(|| config("Rekor v2 entries take ECDSA signers; this key is not one"))?;
    let digest = hash.digest(&crate::dsse::pae(payload_type, payload));
    hashedrekord_request_v2(&digest, der_signature, verifier, key)
}

/// Rekor v2's answer (a `TransparencyLogEntry`, protobuf JSON) as the bundle's `tlogEntries[]`
/// item: the fields a v2 entry has (no integrated time, no SET), their shapes checked and
/// written as the bundle writes them. Not verified here: the finished bundle is, and a v2
/// entry there needs its inclusion proof, its checkpoint and a timestamp.
pub fn rekor_v2_entry(body: &[u8]) -> Result<Value, ServiceError> {
    let answer = |why: &str| ServiceError::Answer {
        service: "Rekor v2",
        why: why.to_string(),
    };
    let e: Value = serde_json::from_slice(body).map_err(|_| answer("a body that is not JSON"))?;
    // protobuf JSON writes 64-bit integers as strings, but accepts numbers.
    let int = |p: &str| -> Result<String, ServiceError> {
        match e.pointer(p) {
            Some(Value::String(s)) if s.parse::<u64>().is_ok() => Ok(s.clone()),
            Some(Value::Number(n)) if n.as_u64().is_some() => Ok(n.to_string()),
            None if p.ends_with("logIndex") => Ok("0".into()),
            _ => Err(answer(&format!("no integer at {p}"))),
        }
    };
    let b64 = |p: &str| -> Result<String, ServiceError> {
        e.pointer(p)
            .and_then(Value::as_str)
            .filter(|s| B64.decode(s).is_ok())
            .map(str::to_string)
            .ok_or_else(|| answer(&format!("no base64 at {p}")))
    };
    let text = |p: &str| -> Result<String, ServiceError> {
        e.pointer(p)
            .and_then(Value::as_str)
            .map(str::to_string)
            .ok_or_else(|| answer(&format!("no text at {p}")))
    };
    let (kind, version) = (text("/kindVersion/kind")?, text("/kindVersion/version")?);
    if (kind.as_str(), version.as_str()) != ("hashedrekord", "0.0.2") {
        return Err(answer(&format!(
            "a {kind} {version} entry, not a Rekor v2 one"
        )));
    }
    let hashes = e
        .pointer("/inclusionProof/hashes")
        .and_then(Value::as_array)
        .ok_or_else(|| answer("an inclusion proof without hashes"))?
        .iter()
        .map(|h| {
            h.as_str()
                .filter(|s| B64.decode(s).is_ok())
                .map(str::to_string)
                .ok_or_else(|| answer("a proof hash that is not base64"))
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(json!({
        "logIndex": int("/logIndex")?,
        "logId": {"keyId": b64("/logId/keyId")?},
        "kindVersion": {"kind": kind, "version": version},
        "inclusionProof": {
            "logIndex": int("/inclusionProof/logIndex")?,
            "rootHash": b64("/inclusionProof/rootHash")?,
            "treeSize": int("/inclusionProof/treeSize")?,
            "hashes": hashes,
            "checkpoint": {"envelope": text("/inclusionProof/checkpoint/envelope")?},
        },
        "canonicalizedBody": b64("/canonicalizedBody")?,
    }))
}

// ---- RFC 3161 ----

const SHA256_OID: &str = "2.16.840.1.101.3.4.2.1";

/// A TimeStampReq (DER) for `signature`: its SHA-256, `nonce`, and the TSA's certificate asked
/// for (as sigstore-python and cosign ask).
pub fn timestamp_request(der_signature: &[u8], nonce: u64) -> Option<Vec<u8>> {
    use x509_cert::der::asn1::{Int, ObjectIdentifier, OctetString};
    use x509_cert::der::Encode;
    use x509_cert::spki::AlgorithmIdentifier;
    let digest = HashAlgorithm::Sha256.digest(der_signature);
    // A positive INTEGER: a leading zero byte when the top bit is set.
    let mut n = vec![0u8];
    n.extend_from_slice(&nonce.to_be_bytes());
    let req = x509_tsp::TimeStampReq {
        version: x509_tsp::TspVersion::V1,
        message_imprint: x509_tsp::MessageImprint {
            hash_algorithm: AlgorithmIdentifier {
                oid: ObjectIdentifier::new_unwrap(SHA256_OID),
                parameters: None,
            },
            // A 32-byte OCTET STRING is always encodable.
            hashed_message: OctetString::new(digest.as_bytes().to_vec()).ok()?,
        },
        req_policy: None,
        nonce: Int::new(&n).ok(),
        cert_req: true,
        extensions: None,
    };
    req.to_der().ok()
}

/// The TimeStampResp a TSA answered, when it granted a token carrying our `nonce`; stored in
/// the bundle whole, as sigstore-python stores it (and verified with the bundle).
pub fn timestamp_reply(reply: &[u8], nonce: u64) -> Result<Vec<u8>, ServiceError> {
    use x509_cert::der::Decode;
    let answer = |why: String| ServiceError::Answer {
        service: "the timestamp authority",
        why,
    };
    let resp = x509_tsp::TimeStampResp::from_der(reply)
        .map_err(|e| answer(format!("a reply that is not a TimeStampResp ({e})")))?;
    // PKIStatus granted (0) or grantedWithMods (1).
    let status = resp.status.status as u32;
    if status > 1 {
        return Err(answer(format!("status {status} (not granted)")));
    }
    if resp.time_stamp_token.is_none() {
        return Err(answer("no token".into()));
    }
    let found =
        crate::timestamp::nonce(reply).map_err(|e| answer(format!("a token that is {e}")))?;
    let want = nonce.to_be_bytes();
    let first = want.iter().position(|&b| b != 0).unwrap_or(want.len());
    if found.as_deref() != Some(&want[first..]) {
        return Err(answer(
            "a token for another request (the nonce differs)".into(),
        ));
    }
    Ok(reply.to_vec())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn jwt(claims: &str) -> String {
        format!("eyJhbGciOiJFUzI1NiJ9.{}.c2ln", B64URL.encode(claims))
    }

    #[test]
    fn token_claims() {
        let t = IdentityToken::parse(
            &jwt(r#"{"iss":"https://i","sub":"s","aud":"sigstore","exp":2000,"email":"a@b","email_verified":true}"#),
            1000,
        )
        .unwrap();
        assert_eq!(t.identity(), "a@b");
        assert!(!format!("{t:?}").contains("c2ln"));
        let unverified = IdentityToken::parse(
            &jwt(
                r#"{"iss":"https://i","sub":"s","aud":["x","sigstore"],"exp":2000,"email":"a@b"}"#,
            ),
            1000,
        )
        .unwrap();
        assert_eq!(unverified.identity(), "s");
        assert_eq!(
            IdentityToken::parse(
                &jwt(r#"{"iss":"i","sub":"s","aud":"sigstore","exp":900}"#),
                1000
            )
            .unwrap_err(),
            TokenError::Expired { at: 900 }
        );
        assert!(matches!(
            IdentityToken::parse(
                &jwt(r#"{"iss":"i","sub":"s","aud":"other","exp":2000}"#),
                1000
            ),
            Err(TokenError::Audience(_))
        ));
        assert!(matches!(
            IdentityToken::parse("a.b", 0),
            Err(TokenError::Malformed(_))
        ));
        assert!(matches!(
            IdentityToken::parse(&jwt(r#"{"sub":"s","aud":"sigstore","exp":2000}"#), 0),
            Err(TokenError::Malformed(_))
        ));
    }

    #[test]
    fn signing_config_selection() {
        let c = SigningConfig::from_json(br#"{"mediaType":"application/vnd.dev.sigstore.signingconfig.v0.2+json",
            "caUrls":[{"url":"https://old","majorApiVersion":1,"validFor":{"start":"2020-01-01T00:00:00Z","end":"2021-01-01T00:00:00Z"}},
                      {"url":"https://fulcio/","majorApiVersion":1,"validFor":{"start":"2020-01-01T00:00:00Z"}}],
            "rekorTlogUrls":[{"url":"https://v2","majorApiVersion":2,"validFor":{"start":"2020-01-01T00:00:00Z"}},
                             {"url":"http://v1","majorApiVersion":1,"validFor":{"start":"2020-01-01T00:00:00Z"}}],
            "tsaUrls":[]}"#).unwrap();
        let now = 1_700_000_000;
        assert_eq!(c.fulcio(now).unwrap().url, "https://fulcio");
        // The highest version a client writes wins, as sigstore-python and cosign pick.
        let (log, api) = c.rekor(now).unwrap();
        assert_eq!((log.url.as_str(), api), ("https://v2", RekorApi::V2));
        assert!(c.tsa(now).is_none());
        let only = |version| SigningConfig {
            rekor: c
                .rekor
                .iter()
                .filter(|s| s.major_api_version == version)
                .cloned()
                .collect(),
            ..c.clone()
        };
        let v1 = only(1);
        assert_eq!(v1.rekor(now).unwrap().0.url, "http://v1");
        assert_eq!(v1.rekor(now).unwrap().1, RekorApi::V1);
        let mut v3 = only(2);
        v3.rekor[0].major_api_version = 3;
        assert!(v3.rekor(now).unwrap_err().to_string().contains("Rekor v3"));
        assert!(SigningConfig::from_json(b"{\"mediaType\":\"x\"}").is_err());
    }

    #[test]
    fn rekor_v2_requests_and_answers() {
        let key = PublicKey::from_pem(include_bytes!(
            "../../testdata/model-signing/dir-basic/keys/signer.pub.pem"
        ))
        .unwrap();
        let details = key_details(&key).unwrap();
        let digest = key.curve().unwrap().hash().digest(b"blob");
        let req: Value = serde_json::from_str(
            &hashedrekord_request_v2(&digest, b"sig", &Verifier::Key(&key), &key).unwrap(),
        )
        .unwrap();
        let r = &req["hashedRekordRequestV0_0_2"];
        assert_eq!(r["digest"], B64.encode(digest.as_bytes()));
        assert_eq!(r["signature"]["verifier"]["keyDetails"], details);
        assert_eq!(
            r["signature"]["verifier"]["publicKey"]["rawBytes"],
            B64.encode(key.spki_der())
        );
        // Another hash than the key's is refused, not logged.
        let other = if digest.algorithm() == HashAlgorithm::Sha256 {
            HashAlgorithm::Sha384
        } else {
            HashAlgorithm::Sha256
        };
        assert!(hashedrekord_request_v2(
            &other.digest(b"blob"),
            b"sig",
            &Verifier::Key(&key),
            &key
        )
        .is_err());
        // A DSSE envelope: a hashedrekord over its PAE.
        let req: Value = serde_json::from_str(
            &dsse_request_v2("t", b"p", b"sig", &Verifier::Key(&key), &key).unwrap(),
        )
        .unwrap();
        let pae = key
            .curve()
            .unwrap()
            .hash()
            .digest(&crate::dsse::pae("t", b"p"));
        assert_eq!(
            req["hashedRekordRequestV0_0_2"]["digest"],
            B64.encode(pae.as_bytes())
        );

        // The answer: integers as strings or numbers, a zero index omitted (protobuf JSON).
        let answer = |kind: &str, root: &str| {
            json!({"logId": {"keyId": "AAAA"}, "kindVersion": {"kind": kind, "version": "0.0.2"},
                   "inclusionProof": {"rootHash": root, "treeSize": 1, "hashes": [],
                                      "checkpoint": {"envelope": "o\n1\nAAAA\n\n\u{2014} o AAAAAA\n"}},
                   "canonicalizedBody": "e30="})
            .to_string()
        };
        let entry = rekor_v2_entry(answer("hashedrekord", "AAAA").as_bytes()).unwrap();
        assert_eq!(entry["logIndex"], "0");
        assert_eq!(entry["inclusionProof"]["treeSize"], "1");
        assert!(entry.get("integratedTime").is_none());
        assert!(rekor_v2_entry(answer("dsse", "AAAA").as_bytes()).is_err());
        assert!(rekor_v2_entry(answer("hashedrekord", "not base64!").as_bytes()).is_err());
        assert!(rekor_v2_entry(b"[]").is_err());
    }

    #[test]
    fn timestamp_request_is_der() {
        use x509_cert::der::Decode;
        let der = timestamp_request(b"sig", 0x8000_0000_0000_0001).unwrap();
        let req = x509_tsp::TimeStampReq::from_der(&der).unwrap();
        assert!(req.cert_req);
        assert_eq!(
            req.message_imprint.hashed_message.as_bytes(),
            HashAlgorithm::Sha256.digest(b"sig").as_bytes()
        );
    }
}
