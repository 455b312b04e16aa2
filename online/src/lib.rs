//! modelseal's client for Sigstore's services: an identity token from where CI puts one, a
//! Fulcio certificate for an ephemeral key, a Rekor entry (v1 or v2, as the signing config
//! selects) and an RFC 3161 timestamp for a signature. It moves bytes; the kernel
//! ([`modelseal_kernel::services`]) builds every request and reads every answer, and checks
//! Fulcio's certificate before the key signs anything. The caller verifies the finished bundle
//! with the kernel's verifier before writing it.
//!
//! modelseal-init does not depend on this crate: serving stays offline.

use std::fmt;
use std::path::Path;
use std::sync::Arc;

use modelseal_kernel::bundle::Evidence;
use modelseal_kernel::services::{
    self, IdentityToken, RekorApi, ServiceError, SigningConfig, Verifier,
};
use modelseal_kernel::trusted_root::TrustedRoot;
use modelseal_kernel::{Curve, Digest, PrivateKey, PublicKey, SignError, Signer};

mod http;
pub mod tuf;

pub use http::Settings;
use http::{Http, Request};

/// Why a service could not be used. A token never appears in one.
#[derive(Debug)]
pub enum OnlineError {
    Setup(String),
    /// No identity token anywhere we look.
    NoToken,
    /// A token source named but unusable (an unset variable, an unreadable file).
    TokenSource(String),
    Token(services::TokenError),
    Unreachable {
        service: &'static str,
        url: String,
        why: String,
    },
    Stalled {
        service: &'static str,
        url: String,
        seconds: u64,
    },
    Refused {
        service: &'static str,
        url: String,
        status: u16,
        message: String,
    },
    Service(ServiceError),
    Sign(SignError),
    /// A local file (a mirrored repository's) that cannot be read.
    Io(String),
}

impl OnlineError {
    fn is_transient(&self) -> bool {
        match self {
            OnlineError::Unreachable { .. } | OnlineError::Stalled { .. } => true,
            OnlineError::Refused { status, .. } => *status >= 500 || *status == 429,
            _ => false,
        }
    }
}

impl fmt::Display for OnlineError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            OnlineError::Setup(why) => write!(f, "cannot set up the HTTP client: {why}"),
            OnlineError::NoToken => f.write_str(
                "no key and no identity token: keyless signing needs an OIDC token from \
                 --identity-token, --identity-token-file, SIGSTORE_ID_TOKEN, or GitHub Actions \
                 (permissions: id-token: write)",
            ),
            OnlineError::TokenSource(why) => write!(f, "{why}"),
            OnlineError::Token(e) => write!(f, "{e}"),
            OnlineError::Unreachable { service, url, why } => {
                write!(f, "{service} at {url} cannot be reached: {why}")
            }
            OnlineError::Stalled {
                service,
                url,
                seconds,
            } => write!(f, "{service} at {url} did not answer within {seconds} s"),
            OnlineError::Refused {
                service,
                url,
                status,
                message,
            } => write!(
                f,
                "{service} at {url} refused the request (HTTP {status}): {message}"
            ),
            OnlineError::Service(e) => write!(f, "{e}"),
            OnlineError::Sign(e) => write!(f, "{e}"),
            OnlineError::Io(why) => write!(f, "{why}"),
        }
    }
}

impl std::error::Error for OnlineError {}

/// Where an identity token comes from, in cosign's and sigstore-python's order: the flag (a
/// token, or `env://VAR`), a token file (a Kubernetes projected service-account token), then
/// `SIGSTORE_ID_TOKEN`, then GitHub Actions' ambient credentials (audience `sigstore`).
pub struct TokenSource<'a> {
    pub flag: Option<&'a str>,
    pub file: Option<&'a Path>,
}

/// A token file is at most this large.
const TOKEN_FILE_LIMIT: u64 = 64 << 10;

/// A Sigstore instance as a signer sees it: the services of its signing config and the root
/// their answers are checked against.
pub struct Instance {
    pub config: SigningConfig,
    pub root: Arc<TrustedRoot>,
}

/// What a signature gets beside it.
#[derive(Clone, Copy, Debug, Default)]
pub struct Witness<'a> {
    /// An entry in the signing config's Rekor.
    pub log: bool,
    /// An RFC 3161 timestamp from this URL, or the signing config's TSA when `None`.
    pub timestamp: Option<Option<&'a str>>,
}

/// An ephemeral P-256 key certified by Fulcio: the kernel's [`Signer`] for keyless bundles.
pub struct Ephemeral {
    key: PrivateKey,
    chain: Vec<Vec<u8>>,
    pub identity: String,
    pub issuer: String,
}

impl Signer for Ephemeral {
    fn public_key(&self) -> &PublicKey {
        self.key.public_key()
    }
    fn sign_prehash(&self, prehash: &[u8]) -> Result<Vec<u8>, SignError> {
        self.key.sign_prehash(prehash)
    }
    fn certificates(&self) -> Option<&[Vec<u8>]> {
        Some(&self.chain)
    }
    fn is_keyless(&self) -> bool {
        true
    }
}

impl Ephemeral {
    pub fn leaf(&self) -> &[u8] {
        &self.chain[0]
    }
}

/// The services of an instance, reached over one HTTP client on its own small runtime.
pub struct Sigstore<'a> {
    http: Http,
    rt: tokio::runtime::Runtime,
    instance: &'a Instance,
}

fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

impl<'a> Sigstore<'a> {
    pub fn new(instance: &'a Instance, settings: Settings) -> Result<Self, OnlineError> {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| OnlineError::Setup(e.to_string()))?;
        let http = {
            let _guard = rt.enter();
            Http::new(settings)?
        };
        Ok(Sigstore { http, rt, instance })
    }

    fn send(&self, req: Request<'_>) -> Result<Vec<u8>, OnlineError> {
        self.rt.block_on(self.http.send(&req))
    }

    /// The identity token from the first source that has one, its claims read and in date.
    pub fn identity_token(&self, source: &TokenSource<'_>) -> Result<IdentityToken, OnlineError> {
        let raw = self.raw_token(source)?;
        IdentityToken::parse(&raw, now()).map_err(OnlineError::Token)
    }

    fn raw_token(&self, source: &TokenSource<'_>) -> Result<String, OnlineError> {
        if let Some(flag) = source.flag {
            if let Some(var) = flag.strip_prefix("env://") {
                return std::env::var(var)
                    .ok()
                    .filter(|t| !t.trim().is_empty())
                    .ok_or_else(|| {
                        OnlineError::TokenSource(format!(
                            "--identity-token env://{var}: the variable is unset or empty"
                        ))
                    });
            }
            return Ok(flag.to_string());
        }
        if let Some(path) = source.file {
            let bytes = read_bounded(path, TOKEN_FILE_LIMIT).map_err(|why| {
                OnlineError::TokenSource(format!(
                    "cannot read the identity token file {}: {why}",
                    path.display()
                ))
            })?;
            return String::from_utf8(bytes).map_err(|_| {
                OnlineError::TokenSource(format!(
                    "the identity token file {} is not text",
                    path.display()
                ))
            });
        }
        if let Some(t) = std::env::var("SIGSTORE_ID_TOKEN")
            .ok()
            .filter(|t| !t.trim().is_empty())
        {
            return Ok(t);
        }
        if let (Ok(url), Ok(bearer)) = (
            std::env::var("ACTIONS_ID_TOKEN_REQUEST_URL"),
            std::env::var("ACTIONS_ID_TOKEN_REQUEST_TOKEN"),
        ) {
            let sep = if url.contains('?') { '&' } else { '?' };
            let url = format!("{url}{sep}audience=sigstore");
            let body = self.send(Request {
                service: "GitHub Actions' token service",
                url: &url,
                method: "GET",
                content_type: "application/json",
                accept: "application/json",
                bearer: Some(&bearer),
                secret: None,
                body: Vec::new(),
            })?;
            return serde_json::from_slice::<serde_json::Value>(&body)
                .ok()
                .and_then(|v| v.get("value").and_then(|t| t.as_str()).map(str::to_string))
                .ok_or_else(|| {
                    OnlineError::TokenSource(
                        "GitHub Actions' token service answered without a token".into(),
                    )
                });
        }
        Err(OnlineError::NoToken)
    }

    /// A fresh P-256 key, certified by the signing config's Fulcio for `token`'s identity; the
    /// certificate checked (key, chain and SCT against the root, identity and issuer) before
    /// the key is handed out.
    pub fn certify(&self, token: &IdentityToken) -> Result<Ephemeral, OnlineError> {
        let fulcio = self
            .instance
            .config
            .fulcio(now())
            .map_err(OnlineError::Service)?;
        let key = PrivateKey::generate(Curve::P256, &mut rand_core::OsRng);
        let proof = key
            .sign_message(token.identity().as_bytes())
            .map_err(OnlineError::Sign)?;
        let url = format!("{}/api/v2/signingCert", fulcio.url);
        let answer = self.send(Request {
            service: "Fulcio",
            url: &url,
            method: "POST",
            content_type: "application/json",
            accept: "application/json",
            bearer: None,
            secret: Some(token.secret()),
            body: services::fulcio_request(token, key.public_key(), &proof).into_bytes(),
        })?;
        let chain = services::fulcio_chain(&answer).map_err(OnlineError::Service)?;
        let leaf = services::check_certificate(
            &chain,
            key.public_key(),
            token,
            &self.instance.root,
            now(),
        )
        .map_err(OnlineError::Service)?;
        Ok(Ephemeral {
            key,
            // The bundle carries the leaf alone; the root holds the CA chain.
            chain: vec![leaf.der],
            identity: token.identity().to_string(),
            issuer: token.issuer.clone(),
        })
    }

    /// The evidence `witness` asks for, for a DSSE envelope (a model's statement), signed by
    /// `key`.
    pub fn witness_envelope(
        &self,
        witness: Witness<'_>,
        payload_type: &str,
        payload: &[u8],
        signature: &[u8],
        verifier: &Verifier<'_>,
        key: &PublicKey,
    ) -> Result<Evidence, OnlineError> {
        self.witness(witness, signature, |api| match api {
            RekorApi::V1 => Ok(services::dsse_request(
                payload_type,
                payload,
                signature,
                verifier,
            )),
            RekorApi::V2 => {
                services::dsse_request_v2(payload_type, payload, signature, verifier, key)
            }
        })
    }

    /// The evidence `witness` asks for, for a signature over a file's digest (a blob), signed
    /// by `key`.
    pub fn witness_digest(
        &self,
        witness: Witness<'_>,
        digest: &Digest,
        signature: &[u8],
        verifier: &Verifier<'_>,
        key: &PublicKey,
    ) -> Result<Evidence, OnlineError> {
        self.witness(witness, signature, |api| match api {
            RekorApi::V1 => services::hashedrekord_request(digest, signature, verifier),
            RekorApi::V2 => services::hashedrekord_request_v2(digest, signature, verifier, key),
        })
    }

    /// The log the signing config selects now, and the API it speaks.
    fn log(&self) -> Result<(&services::Service, RekorApi), OnlineError> {
        self.instance
            .config
            .rekor(now())
            .map_err(OnlineError::Service)
    }

    fn witness(
        &self,
        witness: Witness<'_>,
        signature: &[u8],
        proposal: impl FnOnce(RekorApi) -> Result<String, ServiceError>,
    ) -> Result<Evidence, OnlineError> {
        let mut evidence = Evidence::default();
        let log = if witness.log { Some(self.log()?) } else { None };
        // The timestamp first: it is over the signature alone. (A Rekor v2 entry carries no
        // time, so its signature needs one: the caller asks, and the finished bundle's
        // verification refuses a v2 entry without one.)
        if let Some(given) = witness.timestamp {
            let url = match given {
                Some(url) => url.to_string(),
                None => self
                    .instance
                    .config
                    .tsa(now())
                    .map(|s| s.url.clone())
                    .ok_or_else(|| {
                        OnlineError::Service(ServiceError::Config(
                            "the signing config names no timestamp authority valid now; give --timestamp-server-url".into(),
                        ))
                    })?,
            };
            let nonce = rand_core::RngCore::next_u64(&mut rand_core::OsRng);
            let request = services::timestamp_request(signature, nonce)
                .ok_or_else(|| OnlineError::Setup("cannot encode the timestamp request".into()))?;
            let reply = self.send(Request {
                service: "the timestamp authority",
                url: &url,
                method: "POST",
                content_type: "application/timestamp-query",
                accept: "application/timestamp-reply",
                bearer: None,
                secret: None,
                body: request,
            })?;
            evidence
                .timestamps
                .push(services::timestamp_reply(&reply, nonce).map_err(OnlineError::Service)?);
        }
        if let Some((rekor, api)) = log {
            let body = proposal(api).map_err(OnlineError::Service)?;
            let url = format!("{}{}", rekor.url, api.entries_path());
            let answer = self.send(Request {
                service: match api {
                    RekorApi::V1 => "Rekor",
                    RekorApi::V2 => "Rekor v2",
                },
                url: &url,
                method: "POST",
                content_type: "application/json",
                accept: "application/json",
                bearer: None,
                secret: None,
                body: body.into_bytes(),
            })?;
            let entry = match api {
                RekorApi::V1 => services::rekor_entry(&answer),
                RekorApi::V2 => services::rekor_v2_entry(&answer),
            };
            evidence
                .tlog_entries
                .push(entry.map_err(OnlineError::Service)?);
        }
        Ok(evidence)
    }
}

/// A regular file of at most `limit` bytes (links followed, as Kubernetes mounts tokens).
fn read_bounded(path: &Path, limit: u64) -> Result<Vec<u8>, String> {
    use std::io::Read;
    let file = std::fs::File::open(path).map_err(|e| e.to_string())?;
    let meta = file.metadata().map_err(|e| e.to_string())?;
    if !meta.is_file() {
        return Err("not a regular file".into());
    }
    let mut bytes = Vec::new();
    file.take(limit + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| e.to_string())?;
    if bytes.len() as u64 > limit {
        return Err(format!("larger than {limit} bytes"));
    }
    Ok(bytes)
}
