//! One small HTTP client for Sigstore's services, on the SDK's stack (hyper 1, rustls 0.23 with
//! aws-lc-rs, the system's roots): `http://` for a private instance on loopback, `https://`
//! otherwise. Every request gets the S3 engine's settings: a connect timeout, a read timeout,
//! and attempts with backoff on connection failures, timeouts and 5xx answers.

use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client as HyperClient;
use hyper_util::rt::TokioExecutor;

use crate::OnlineError;

/// Timeouts and attempts, the same as the S3 engine's (`--connect-timeout`, `--read-timeout`,
/// `--max-attempts`).
#[derive(Clone, Copy, Debug)]
pub struct Settings {
    pub connect_timeout: Duration,
    pub read_timeout: Duration,
    pub max_attempts: u32,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            connect_timeout: Duration::from_secs(15),
            read_timeout: Duration::from_secs(30),
            max_attempts: 5,
        }
    }
}

/// Answers larger than this are refused (a certificate chain, a log entry, a timestamp).
const ANSWER_LIMIT: usize = 1 << 20;

pub struct Http {
    client: HyperClient<hyper_rustls::HttpsConnector<HttpConnector>, Full<Bytes>>,
    settings: Settings,
}

/// A request: the service it goes to (named in errors), where, and what.
pub struct Request<'a> {
    pub service: &'static str,
    pub url: &'a str,
    pub method: &'static str,
    pub content_type: &'static str,
    pub accept: &'static str,
    pub bearer: Option<&'a str>,
    /// A secret the request carries (an identity token): replaced in any error message built
    /// from the answer, in case the service quotes the request back.
    pub secret: Option<&'a str>,
    pub body: Vec<u8>,
}

impl Http {
    pub fn new(settings: Settings) -> Result<Self, OnlineError> {
        let provider = std::sync::Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let mut roots = rustls::RootCertStore::empty();
        for cert in native_roots() {
            let _ = roots.add(cert);
        }
        let tls = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| OnlineError::Setup(format!("TLS: {e}")))?
            .with_root_certificates(roots)
            .with_no_client_auth();
        let mut http = HttpConnector::new();
        http.enforce_http(false);
        http.set_connect_timeout(Some(settings.connect_timeout));
        let connector = hyper_rustls::HttpsConnectorBuilder::new()
            .with_tls_config(tls)
            .https_or_http()
            .enable_http1()
            .wrap_connector(http);
        Ok(Http {
            client: HyperClient::builder(TokioExecutor::new()).build(connector),
            settings,
        })
    }

    /// Sends `req`, retrying what may pass on a second try; returns a 2xx answer's body.
    pub async fn send(&self, req: &Request<'_>) -> Result<Vec<u8>, OnlineError> {
        let mut attempt = 1;
        loop {
            match self.once(req).await {
                Ok(body) => return Ok(body),
                Err(e) if e.is_transient() && attempt < self.settings.max_attempts => {
                    let backoff = Duration::from_millis(200 * (1 << (attempt - 1).min(5)));
                    tokio::time::sleep(backoff).await;
                    attempt += 1;
                }
                Err(e) => return Err(e),
            }
        }
    }

    async fn once(&self, req: &Request<'_>) -> Result<Vec<u8>, OnlineError> {
        let unreachable = |why: String| OnlineError::Unreachable {
            service: req.service,
            url: req.url.to_string(),
            why,
        };
        let mut builder = hyper::Request::builder()
            .method(req.method)
            .uri(req.url)
            .header(
                "User-Agent",
                concat!("modelseal/", env!("CARGO_PKG_VERSION")),
            )
            .header("Accept", req.accept);
        if !req.body.is_empty() || req.method == "POST" {
            builder = builder.header("Content-Type", req.content_type);
        }
        if let Some(token) = req.bearer {
            builder = builder.header("Authorization", format!("Bearer {token}"));
        }
        let request = builder
            .body(Full::new(Bytes::from(req.body.clone())))
            .map_err(|_| unreachable("a URL that is not valid".into()))?;
        let stalled = || OnlineError::Stalled {
            service: req.service,
            url: req.url.to_string(),
            seconds: self.settings.read_timeout.as_secs(),
        };
        let response =
            tokio::time::timeout(self.settings.read_timeout, self.client.request(request))
                .await
                .map_err(|_| stalled())?
                .map_err(|e| unreachable(source_chain(&e)))?;
        let status = response.status().as_u16();
        let mut body = response.into_body();
        let mut bytes = Vec::new();
        loop {
            let frame = tokio::time::timeout(self.settings.read_timeout, body.frame())
                .await
                .map_err(|_| stalled())?;
            match frame {
                None => break,
                Some(Err(e)) => return Err(unreachable(source_chain(&e))),
                Some(Ok(f)) => {
                    if let Ok(data) = f.into_data() {
                        bytes.extend_from_slice(&data);
                        if bytes.len() > ANSWER_LIMIT {
                            return Err(unreachable(format!(
                                "an answer over {ANSWER_LIMIT} bytes"
                            )));
                        }
                    }
                }
            }
        }
        if (200..300).contains(&status) {
            return Ok(bytes);
        }
        Err(OnlineError::Refused {
            service: req.service,
            url: req.url.to_string(),
            status,
            message: service_message(&bytes, [req.bearer, req.secret]),
        })
    }
}

/// The system's trusted roots (as the SDK loads them); none on a system without them, in which
/// case only `http://` services work.
fn native_roots() -> Vec<rustls::pki_types::CertificateDer<'static>> {
    rustls_native_certs::load_native_certs().certs
}

/// A service's error message: the JSON `message` field Fulcio and Rekor use, else the text,
/// bounded and on one line.
fn service_message(body: &[u8], secrets: [Option<&str>; 2]) -> String {
    let mut text = serde_json::from_slice::<serde_json::Value>(body)
        .ok()
        .and_then(|v| {
            v.get("message")
                .and_then(|m| m.as_str())
                .map(str::to_string)
        })
        .unwrap_or_else(|| String::from_utf8_lossy(body).into_owned());
    // Before the cut to 300 characters, so that no part of a secret survives it.
    for secret in secrets.into_iter().flatten().filter(|s| !s.is_empty()) {
        text = text.replace(secret, "[redacted]");
    }
    let one_line: String = text.split_whitespace().collect::<Vec<_>>().join(" ");
    one_line.chars().take(300).collect()
}

fn source_chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::service_message;

    #[test]
    fn a_quoted_secret_is_redacted_before_the_cut() {
        let token = format!("eyJ{}", "a".repeat(600));
        let body =
            format!(r#"{{"message": "bad request: {{\"oidcIdentityToken\": \"{token}\"}}"}}"#);
        let m = service_message(body.as_bytes(), [None, Some(&token)]);
        assert!(m.contains("[redacted]"), "{m}");
        assert!(!m.contains("eyJ"), "{m}");
        // Without the secret named, the same answer would leak its first 300 characters.
        assert!(service_message(body.as_bytes(), [None, None]).contains("eyJaaa"));
    }
}
