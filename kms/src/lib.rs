//! AWS KMS signing keys, named with cosign's `awskms://` references.
//!
//! A [`KmsKey`] implements the kernel's [`Signer`]: the private key never leaves KMS. It signs
//! prehashes with `MessageType=DIGEST` (as cosign does), so its signatures are byte-compatible
//! with file-key signatures, and its public key comes from `GetPublicKey`.
//!
//! moto, the KMS used in tests, does not implement `DIGEST` (it signs sha256 of the digest).
//! `MODELSEAL_KMS_MESSAGE_TYPE=RAW` switches to `MessageType=RAW`, which sends the whole message
//! and is limited by KMS to 4096 bytes; it exists for such test servers and is never the default.

use std::fmt;

use aws_config::SdkConfig;
use aws_sdk_kms::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_kms::primitives::Blob;
use aws_sdk_kms::types::{KeySpec, KeyUsageType, MessageType, SigningAlgorithmSpec};
use modelseal_kernel::{Curve, PublicKey, SignError, Signer};

/// The switch for test servers without `MessageType=DIGEST`.
pub const MESSAGE_TYPE_ENV: &str = "MODELSEAL_KMS_MESSAGE_TYPE";
/// KMS's limit for `MessageType=RAW`.
pub const RAW_LIMIT: usize = 4096;

/// `awskms://[ENDPOINT]/KEY`, where KEY is a key id, `alias/NAME`, or a key or alias ARN.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeyRef {
    /// A host written into the URI; cosign reaches it over https.
    pub endpoint: Option<String>,
    pub key_id: String,
    /// A KMS endpoint given outside the URI (`--kms-endpoint-url`); the URI's host wins.
    pub endpoint_url: Option<String>,
}

#[derive(Debug)]
pub enum KmsError {
    BadRef(String),
    NotFound {
        key: String,
    },
    AccessDenied {
        key: String,
        message: String,
    },
    NotSigningKey {
        key: String,
        detail: String,
    },
    Key {
        key: String,
        error: modelseal_kernel::KeyError,
    },
    Service {
        op: &'static str,
        key: String,
        message: String,
    },
    RawTooLarge {
        len: usize,
    },
    /// KMS could not be reached (connection refused, DNS, timeout), after the SDK's retries.
    Unreachable {
        op: &'static str,
        key: String,
        message: String,
    },
    /// No usable AWS credentials (said as the S3 engine says it).
    Credentials(modelseal_s3::CredentialsProblem),
}

impl fmt::Display for KmsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            KmsError::BadRef(r) => write!(
                f,
                "'{r}' is not an AWS KMS key reference (awskms://[ENDPOINT]/KEYID, alias/NAME or an ARN)"
            ),
            KmsError::NotFound { key } => write!(f, "KMS key {key} does not exist"),
            KmsError::AccessDenied { key, message } => write!(f, "access denied to KMS key {key}: {message}"),
            KmsError::NotSigningKey { key, detail } => write!(f, "KMS key {key} cannot sign: {detail}"),
            KmsError::Key { key, error } => write!(f, "KMS key {key} has an unusable public key: {error}"),
            KmsError::Service { op, key, message } => write!(f, "KMS {op} on {key} failed: {message}"),
            KmsError::Unreachable { op, key, message } => {
                write!(f, "cannot reach KMS for {op} on {key}: {message}")
            }
            KmsError::Credentials(p) => f.write_str(&p.message),
            KmsError::RawTooLarge { len } => write!(
                f,
                "{MESSAGE_TYPE_ENV}=RAW can sign at most {RAW_LIMIT} bytes, and this message has {len}"
            ),
        }
    }
}

impl std::error::Error for KmsError {}

fn innermost(e: &(dyn std::error::Error + 'static)) -> String {
    let mut last = e;
    while let Some(s) = last.source() {
        last = s;
    }
    last.to_string()
}

fn classify<E>(
    op: &'static str,
    key: &str,
    err: SdkError<E, aws_smithy_runtime_api::http::Response>,
) -> KmsError
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    let key = key.to_string();
    if let Some(p) = modelseal_s3::credentials::classify(&err) {
        return KmsError::Credentials(p);
    }
    if matches!(
        err,
        SdkError::DispatchFailure(_) | SdkError::TimeoutError(_)
    ) {
        return KmsError::Unreachable {
            op,
            key,
            message: innermost(&err),
        };
    }
    if let SdkError::ServiceError(se) = &err {
        let e = se.err();
        let message = e.message().unwrap_or("").to_string();
        return match e.code().unwrap_or("") {
            "NotFoundException" => KmsError::NotFound { key },
            "AccessDeniedException"
            | "UnrecognizedClientException"
            | "InvalidSignatureException" => KmsError::AccessDenied { key, message },
            code => KmsError::Service {
                op,
                key,
                message: if message.is_empty() {
                    code.to_string()
                } else {
                    format!("{code}: {message}")
                },
            },
        };
    }
    KmsError::Service {
        op,
        key,
        message: innermost(&err),
    }
}

impl KeyRef {
    pub fn is_kms(reference: &str) -> bool {
        reference.starts_with("awskms://")
    }

    /// Parses cosign's grammar (sigstore/sigstore `pkg/signature/kms/aws`).
    pub fn parse(reference: &str) -> Result<Self, KmsError> {
        let bad = || KmsError::BadRef(reference.to_string());
        let rest = reference.strip_prefix("awskms://").ok_or_else(bad)?;
        let (host, key) = rest.split_once('/').ok_or_else(bad)?;
        let is_id = |k: &str| {
            let k = k.strip_prefix("mrk-").unwrap_or(k);
            !k.is_empty() && k.chars().all(|c| c.is_ascii_hexdigit() || c == '-')
        };
        let is_alias = |k: &str| {
            k.strip_prefix("alias/")
                .is_some_and(|n| !n.is_empty() && !n.contains(char::is_whitespace))
        };
        let is_arn = |k: &str| {
            let p: Vec<&str> = k.splitn(6, ':').collect();
            p.len() == 6
                && p[0] == "arn"
                && matches!(p[1], "aws" | "aws-us-gov" | "aws-cn")
                && p[2] == "kms"
                && !p[3].is_empty()
                && p[4].len() == 12
                && p[4].bytes().all(|b| b.is_ascii_digit())
                && (p[5].starts_with("key/") || p[5].starts_with("alias/"))
        };
        if !(is_id(key) || is_alias(key) || is_arn(key)) {
            return Err(bad());
        }
        Ok(KeyRef {
            endpoint: (!host.is_empty()).then(|| host.to_string()),
            key_id: key.to_string(),
            endpoint_url: None,
        })
    }

    /// The region named by an ARN reference, if any.
    fn arn_region(&self) -> Option<&str> {
        self.key_id
            .strip_prefix("arn:")
            .and_then(|r| r.split(':').nth(2))
    }

    /// A KMS client for this reference: the endpoint in the URI (https, as cosign), else
    /// `endpoint_url`, else the standard chain (`AWS_ENDPOINT_URL_KMS`, `AWS_ENDPOINT_URL`, a
    /// profile's `endpoint_url`).
    pub fn client(&self, sdk: &SdkConfig) -> aws_sdk_kms::Client {
        let mut b = aws_sdk_kms::config::Builder::from(sdk);
        if let Some(host) = &self.endpoint {
            b = b.endpoint_url(format!("https://{host}"));
        } else if let Some(url) = &self.endpoint_url {
            b = b.endpoint_url(url);
        }
        if let Some(region) = self.arn_region() {
            b = b.region(aws_config::Region::new(region.to_string()));
        }
        aws_sdk_kms::Client::from_conf(b.build())
    }
}

/// How messages reach KMS.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MessageMode {
    /// The digest is sent (`MessageType=DIGEST`): real KMS, any message size.
    Digest,
    /// The message itself is sent (`MessageType=RAW`, at most 4096 bytes): test servers only.
    Raw,
}

impl MessageMode {
    /// From `MODELSEAL_KMS_MESSAGE_TYPE` (`RAW` or `DIGEST`; default `DIGEST`).
    pub fn from_env() -> Self {
        match std::env::var(MESSAGE_TYPE_ENV).as_deref() {
            Ok("RAW") | Ok("raw") => MessageMode::Raw,
            _ => MessageMode::Digest,
        }
    }
}

/// A signing key that lives in AWS KMS.
pub struct KmsKey {
    client: aws_sdk_kms::Client,
    key_id: String,
    public: PublicKey,
    mode: MessageMode,
    runtime: tokio::runtime::Handle,
}

/// The signing algorithm for the key's type: ECDSA with the curve's hash, or RSA PKCS#1 v1.5
/// with SHA-256 (cosign's choice for RSA KMS keys).
fn algorithm(curve: Option<Curve>) -> SigningAlgorithmSpec {
    match curve {
        Some(Curve::P256) => SigningAlgorithmSpec::EcdsaSha256,
        Some(Curve::P384) => SigningAlgorithmSpec::EcdsaSha384,
        Some(Curve::P521) => SigningAlgorithmSpec::EcdsaSha512,
        None => SigningAlgorithmSpec::RsassaPkcs1V15Sha256,
    }
}

/// Fetches and checks the public half of the key `reference` names.
pub async fn fetch_public_key(reference: &KeyRef, sdk: &SdkConfig) -> Result<PublicKey, KmsError> {
    public_key(&reference.client(sdk), &reference.key_id).await
}

async fn public_key(client: &aws_sdk_kms::Client, key_id: &str) -> Result<PublicKey, KmsError> {
    let out = client
        .get_public_key()
        .key_id(key_id)
        .send()
        .await
        .map_err(|e| classify("GetPublicKey", key_id, e))?;
    if let Some(usage) = out.key_usage() {
        if *usage != KeyUsageType::SignVerify {
            return Err(KmsError::NotSigningKey {
                key: key_id.to_string(),
                detail: format!("its key usage is {}", usage.as_str()),
            });
        }
    }
    let der = out.public_key().ok_or_else(|| KmsError::NotSigningKey {
        key: key_id.to_string(),
        detail: "GetPublicKey returned no key".into(),
    })?;
    PublicKey::from_spki_der(der.as_ref()).map_err(|error| KmsError::Key {
        key: key_id.to_string(),
        error,
    })
}

/// A key's ARN, as S3 reports it for SSE-KMS objects (`DescribeKey` on an id, alias or ARN,
/// reached through the standard chain).
pub async fn key_arn(
    sdk: &SdkConfig,
    key_id: &str,
    endpoint_url: Option<&str>,
) -> Result<String, KmsError> {
    let mut b = aws_sdk_kms::config::Builder::from(sdk);
    if let Some(url) = endpoint_url {
        b = b.endpoint_url(url);
    }
    let out = aws_sdk_kms::Client::from_conf(b.build())
        .describe_key()
        .key_id(key_id)
        .send()
        .await
        .map_err(|e| classify("DescribeKey", key_id, e))?;
    out.key_metadata()
        .and_then(|m| m.arn())
        .map(str::to_string)
        .ok_or_else(|| KmsError::NotFound {
            key: key_id.to_string(),
        })
}

/// Creates an ECC_NIST_P256 signing key named by `reference` (which must be `alias/NAME`), as
/// `cosign generate-key-pair --kms` does, and returns its public key.
pub async fn create_key(reference: &KeyRef, sdk: &SdkConfig) -> Result<PublicKey, KmsError> {
    let alias = reference.key_id.as_str();
    if !alias.starts_with("alias/") {
        return Err(KmsError::BadRef(format!(
            "awskms:///{alias} (creating a key needs an alias/NAME reference)"
        )));
    }
    let client = reference.client(sdk);
    let out = client
        .create_key()
        .key_spec(KeySpec::EccNistP256)
        .key_usage(KeyUsageType::SignVerify)
        .description("modelseal signing key")
        .send()
        .await
        .map_err(|e| classify("CreateKey", alias, e))?;
    let key_id = out
        .key_metadata()
        .map(|m| m.key_id().to_string())
        .ok_or_else(|| KmsError::NotFound {
            key: alias.to_string(),
        })?;
    client
        .create_alias()
        .alias_name(alias)
        .target_key_id(&key_id)
        .send()
        .await
        .map_err(|e| classify("CreateAlias", alias, e))?;
    public_key(&client, &key_id).await
}

impl KmsKey {
    /// Connects to the key, fetching its public key once.
    pub async fn connect(
        reference: &KeyRef,
        sdk: &SdkConfig,
        runtime: tokio::runtime::Handle,
    ) -> Result<Self, KmsError> {
        let client = reference.client(sdk);
        let public = public_key(&client, &reference.key_id).await?;
        Ok(KmsKey {
            client,
            key_id: reference.key_id.clone(),
            public,
            mode: MessageMode::from_env(),
            runtime,
        })
    }

    pub fn mode(&self) -> MessageMode {
        self.mode
    }

    async fn sign(
        &self,
        message: Vec<u8>,
        message_type: MessageType,
    ) -> Result<Vec<u8>, SignError> {
        let out = self
            .client
            .sign()
            .key_id(&self.key_id)
            .message(Blob::new(message))
            .message_type(message_type)
            .signing_algorithm(algorithm(self.public.curve()))
            .send()
            .await
            .map_err(|e| SignError::Backend(classify("Sign", &self.key_id, e).to_string()))?;
        out.signature()
            .map(|b| b.as_ref().to_vec())
            .ok_or_else(|| SignError::Backend("KMS returned no signature".into()))
    }
}

impl Signer for KmsKey {
    fn public_key(&self) -> &PublicKey {
        &self.public
    }

    fn sign_prehash(&self, prehash: &[u8]) -> Result<Vec<u8>, SignError> {
        if self.mode == MessageMode::Raw {
            return Err(SignError::Backend(format!(
                "{MESSAGE_TYPE_ENV}=RAW needs the whole message, and only a digest is at hand"
            )));
        }
        self.runtime
            .block_on(self.sign(prehash.to_vec(), MessageType::Digest))
    }

    fn sign_message(&self, message: &[u8]) -> Result<Vec<u8>, SignError> {
        match self.mode {
            MessageMode::Digest => {
                let prehash = self.public.hash().digest(message);
                self.sign_prehash(prehash.as_bytes())
            }
            MessageMode::Raw if message.len() > RAW_LIMIT => Err(SignError::Backend(
                KmsError::RawTooLarge { len: message.len() }.to_string(),
            )),
            MessageMode::Raw => self
                .runtime
                .block_on(self.sign(message.to_vec(), MessageType::Raw)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cosign_reference_grammar() {
        let ok = |s: &str| KeyRef::parse(s).unwrap();
        assert_eq!(
            ok("awskms:///1234abcd-12ab-34cd-56ef-1234567890ab").endpoint,
            None
        );
        assert_eq!(
            ok("awskms:///mrk-1234abcd12ab34cd56ef1234567890ab").key_id,
            "mrk-1234abcd12ab34cd56ef1234567890ab"
        );
        assert_eq!(
            ok("awskms:///alias/model-signing").key_id,
            "alias/model-signing"
        );
        let r = ok("awskms://localhost:4566/alias/x");
        assert_eq!(r.endpoint.as_deref(), Some("localhost:4566"));
        let arn = ok(
            "awskms:///arn:aws:kms:us-east-2:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab",
        );
        assert_eq!(arn.arn_region(), Some("us-east-2"));
        ok("awskms:///arn:aws-us-gov:kms:us-gov-west-1:111122223333:alias/Example");
        for bad in [
            "awskms://",
            "awskms:///",
            "awskms:///alias/",
            "awskms:///not a key",
            "awskms:///arn:aws:kms:us-east-2:1111:key/x",
            "gcpkms://x/y",
        ] {
            assert!(KeyRef::parse(bad).is_err(), "{bad}");
        }
    }
}
