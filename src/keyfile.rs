//! Reading keys named on the command line, and the password for encrypted ones.

use std::io::IsTerminal as _;
use std::path::Path;

use modelseal_fetch::evidence;
use modelseal_kernel::certificate::{self, Certified};
use modelseal_kernel::trust::document::{KeySource, RootSource, Shorthand, Source};
use modelseal_kernel::trust::Policy;
use modelseal_kernel::PrivateKeyPem;
use modelseal_kernel::{KeyError, PrivateKey, PublicKey, Signer};
use modelseal_kms::{KeyRef, KmsError, KmsKey};
use zeroize::Zeroizing;

use crate::aws::Aws;
use crate::failure::{self, Failure};

/// cosign's environment variable for the private key password.
pub const PASSWORD_ENV: &str = "COSIGN_PASSWORD";

/// Whether a key argument names an AWS KMS key.
pub fn is_kms(arg: &str) -> bool {
    KeyRef::is_kms(arg)
}

fn kms_failure(arg: &str, e: &KmsError) -> Failure {
    let hint = match e {
        KmsError::BadRef(_) => "write awskms:///KEYID, awskms:///alias/NAME or awskms:///arn:aws:kms:...".to_string(),
        KmsError::NotFound { .. } => "check the key id or alias, the region, and AWS_ENDPOINT_URL_KMS".to_string(),
        KmsError::AccessDenied { .. } => {
            "check the AWS credentials and the key policy (kms:Sign, kms:GetPublicKey, kms:DescribeKey)".to_string()
        }
        KmsError::Unreachable { .. } => "check the network and the KMS endpoint (--kms-endpoint-url, AWS_ENDPOINT_URL_KMS, or the host in the awskms:// URI)".to_string(),
        KmsError::Credentials(p) => {
            return crate::aws::credentials_failure(p, &format!("cannot use key {arg}: {}", p.message))
        }
        KmsError::RawTooLarge { .. } => format!("unset {} (RAW is only for test servers)", modelseal_kms::MESSAGE_TYPE_ENV),
        _ => "use an ECC_NIST_P256/P384/P521 key with key usage SIGN_VERIFY".to_string(),
    };
    Failure::cannot_check(format!("cannot use key {arg}: {e}"), hint)
}

/// The reference, reaching KMS where `--kms-endpoint-url` says when the URI names no host.
fn kms_ref(arg: &str, aws: &Aws) -> Result<KeyRef, Failure> {
    let mut r = KeyRef::parse(arg).map_err(|e| kms_failure(arg, &e))?;
    r.endpoint_url = aws.kms_endpoint.clone();
    Ok(r)
}

fn need_aws(aws: Option<&Aws>) -> Result<&Aws, Failure> {
    aws.ok_or_else(|| {
        Failure::cannot_check(
            "internal: an AWS key without an AWS context",
            "report this bug",
        )
    })
}

/// A signer for KEY: a key file, or an AWS KMS key (`aws` must then be given).
pub fn signer(arg: &str, aws: Option<&Aws>) -> Result<Box<dyn Signer>, Failure> {
    if is_kms(arg) {
        let aws = need_aws(aws)?;
        let r = kms_ref(arg, aws)?;
        let key = aws
            .rt
            .block_on(KmsKey::connect(&r, &aws.sdk, aws.rt.handle().clone()))
            .map_err(|e| kms_failure(arg, &e))?;
        return Ok(Box::new(key));
    }
    Ok(Box::new(private_key(arg)?))
}

/// A signer named by a certificate (`--certificate LEAF.pem`, `--certificate-chain CHAIN.pem`
/// repeated), as model_signing's certificate method writes it; without a certificate, the
/// signer itself.
pub fn certified(
    signer: Box<dyn Signer>,
    certificate: Option<&Path>,
    chain: &[std::path::PathBuf],
) -> Result<Box<dyn Signer>, Failure> {
    let Some(leaf) = certificate else {
        return Ok(signer);
    };
    let mut certificates = certificates(leaf, "certificate")?;
    if certificates.len() != 1 {
        return Err(Failure::cannot_check(
            format!(
                "--certificate {} holds {} certificates; it must hold the signing certificate alone",
                leaf.display(),
                certificates.len()
            ),
            "put the issuing CAs in --certificate-chain",
        ));
    }
    for path in chain {
        certificates.extend(self::certificates(path, "certificate chain")?);
    }
    Certified::new(signer, certificates)
        .map_err(|e| {
            Failure::cannot_check(
                format!("cannot sign with --certificate {}: {e}", leaf.display()),
                "pass the certificate issued for this key (--key)",
            )
        })
        .map(|c| Box::new(c) as Box<dyn Signer>)
}

/// The signer `--key` (and `--certificate`) name, or `None` for keyless signing (then
/// `--certificate` is refused: Fulcio issues the certificate).
pub fn signer_for(
    key: Option<&str>,
    certificate: &crate::cli::CertificateArgs,
    aws: Option<&Aws>,
) -> Result<Option<Box<dyn Signer>>, Failure> {
    match key {
        Some(key) => certified(
            signer(key, aws)?,
            certificate.certificate.as_deref(),
            &certificate.certificate_chain,
        )
        .map(Some),
        None if certificate.certificate.is_some() => Err(Failure::cannot_check(
            "--certificate needs --key: it certifies that key",
            "pass the --key the certificate was issued for, or drop --certificate to sign keyless",
        )),
        None => Ok(None),
    }
}

/// DER certificates from a PEM file the user names (exit 2 when unusable).
fn certificates(path: &Path, what: &str) -> Result<Vec<Vec<u8>>, Failure> {
    let pem = read_bounded(path, what, evidence::TRUST_LIMIT)?;
    certificate::certificates_from_pem(&pem).map_err(|e| {
        Failure::cannot_check(
            format!("cannot use {what} {}: {e}", path.display()),
            "pass PEM CERTIFICATE blocks (openssl x509 -outform PEM)",
        )
    })
}

/// The trust policy for `verify`, `pull`, `audit` and `verify-blob`: the `--policy` document,
/// or the one-rule policy the shorthand flags make (a key, a private CA's certificates with an
/// optional identity, or a keyless identity and issuer), built the way modelseal-init builds
/// its own (`modelseal_fetch::trust`). Any problem with it is exit 2, naming the field or flag.
pub fn policy(args: &crate::cli::TrustArgs, aws: Option<&Aws>) -> Result<Policy, Failure> {
    let document = match &args.policy {
        Some(path) => modelseal_fetch::trust::read_policy_file(path).map_err(|e| {
            Failure::cannot_check(
                e.to_string(),
                "fix the policy (modelseal trust check FILE says what it holds)",
            )
        })?,
        None => {
            let document = modelseal_fetch::trust::shorthand(shorthand(args)?)
                .map_err(|e| Failure::cannot_check(e.to_string(), shorthand_hint(&e.path)))?;
            document.ok_or_else(|| Failure::cannot_check("no trust given", SHORTHAND_HINT))?
        }
    };
    let mut kms = std::collections::BTreeMap::new();
    for reference in document.kms_references() {
        let key = verifier(&reference, aws)?;
        kms.insert(reference, key);
    }
    let shown = args
        .policy
        .as_ref()
        .map(|p| format!("trust policy {}: ", p.display()))
        .unwrap_or_default();
    modelseal_fetch::trust::build_with_root(
        document,
        kms,
        modelseal_fetch::trust::now(),
        crate::trust_cache::default_root(),
    )
    .map_err(|e| {
        if args.policy.is_some() {
            let hint = "fix the policy (modelseal trust check FILE says what it holds)";
            Failure::cannot_check(format!("{shown}{e}"), hint)
        } else {
            Failure::cannot_check(format!("cannot use {e}"), shorthand_hint(&e.path))
        }
    })
}

/// What to do about a trust flag that cannot be used, by the flag.
fn shorthand_hint(flag: &str) -> &'static str {
    match flag.split(' ').next().unwrap_or_default() {
        "--key" => "pass the public key (cosign.pub), env://VAR, or awskms://...",
        "--certificate-chain" => {
            "pass the PEM certificates of the CA(s) that issue signing certificates"
        }
        "--trusted-root" => {
            "pass a Sigstore trusted_root.json (sigstore-python and cosign write this format)"
        }
        "--certificate-identity-regexp" | "--certificate-oidc-issuer-regexp" => {
            "write a regular expression (Rust regex syntax) that the whole value must match"
        }
        _ => SHORTHAND_HINT,
    }
}

const SHORTHAND_HINT: &str = "pass --key, --certificate-chain (with an optional --certificate-identity), keyless --certificate-identity[-regexp] with --certificate-oidc-issuer[-regexp], or --policy FILE";

/// The shorthand flags, each value with the flag that gave it.
fn shorthand(args: &crate::cli::TrustArgs) -> Result<Shorthand, Failure> {
    let named = |flag: &str, v: &Option<String>| v.clone().map(|v| (flag.to_string(), v));
    // A key file (or env://VAR) is read and checked here, where its errors have always been
    // worded for the flag; the policy gets its PEM. A KMS key is fetched by reference.
    let key = match args.key.as_deref() {
        None => None,
        Some(k) if is_kms(k) => Some(KeySource::Kms(k.to_string())),
        Some(k) => Some(KeySource::Pem(public_key(k)?.to_pem())),
    };
    let certificates = (!args.certificate_chain.is_empty()).then(|| {
        (
            "--certificate-chain".to_string(),
            args.certificate_chain
                .iter()
                .map(|p| Source::Path(p.display().to_string()))
                .collect(),
        )
    });
    Ok(Shorthand {
        key: key.map(|k| ("--key".to_string(), k)),
        certificates,
        identity: named("--certificate-identity", &args.certificate_identity),
        identity_regexp: named(
            "--certificate-identity-regexp",
            &args.certificate_identity_regexp,
        ),
        issuer: named("--certificate-oidc-issuer", &args.certificate_oidc_issuer),
        issuer_regexp: named(
            "--certificate-oidc-issuer-regexp",
            &args.certificate_oidc_issuer_regexp,
        ),
        trusted_root: args.trusted_root.as_ref().map(|p| {
            (
                "--trusted-root".to_string(),
                RootSource::Path(p.display().to_string()),
            )
        }),
    })
}

/// The public key to verify with: a `PUBLIC KEY` PEM, or an AWS KMS key's public half.
pub fn verifier(arg: &str, aws: Option<&Aws>) -> Result<PublicKey, Failure> {
    if is_kms(arg) {
        let aws = need_aws(aws)?;
        let r = kms_ref(arg, aws)?;
        return aws
            .rt
            .block_on(modelseal_kms::fetch_public_key(&r, &aws.sdk))
            .map_err(|e| kms_failure(arg, &e));
    }
    public_key(arg)
}

/// Creates a KMS key as `generate-key-pair --kms` does.
pub fn create_kms_key(arg: &str, aws: &Aws) -> Result<PublicKey, Failure> {
    let r = kms_ref(arg, aws)?;
    aws.rt
        .block_on(modelseal_kms::create_key(&r, &aws.sdk))
        .map_err(|e| kms_failure(arg, &e))
}

/// The public half of any key argument: a public PEM, a private key file, or a KMS key.
pub fn any_public_key(arg: &str, aws: Option<&Aws>) -> Result<PublicKey, Failure> {
    if is_kms(arg) {
        return verifier(arg, aws);
    }
    let text = Zeroizing::new(read(arg)?);
    match PublicKey::from_pem(&text) {
        Ok(k) => Ok(k),
        Err(KeyError::WrongKind { .. }) => Ok(private_key(arg)?.public_key().clone()),
        Err(e) => Err(key_failure(arg, &e, "key")),
    }
}

fn key_failure(path: &str, e: &KeyError, wanted: &str) -> Failure {
    let hint = match e {
        KeyError::WrongPassword => format!("check the password ({PASSWORD_ENV} or the prompt)"),
        KeyError::WrongKind { .. } => format!("pass the {wanted}"),
        KeyError::NotPem | KeyError::UnterminatedPem(_) | KeyError::BadBase64(_) => {
            format!("pass a PEM file holding the {wanted}")
        }
        _ => "use an ECDSA P-256, P-384 or P-521 key, as cosign generate-key-pair or openssl ecparam make".into(),
    };
    Failure::cannot_check(format!("cannot use key {path}: {e}"), hint)
}

/// Reads a key file: a regular file (symlinks followed, as Kubernetes mounts Secrets) of at
/// most 1 MiB.
/// A key file, or `env://VAR` (cosign's reference): the key's PEM text in a variable.
fn read(path: &str) -> Result<Vec<u8>, Failure> {
    if let Some(var) = path.strip_prefix("env://") {
        return match std::env::var_os(var) {
            Some(v) if !v.is_empty() => Ok(v.into_encoded_bytes()),
            _ => Err(Failure::cannot_check(
                format!("environment variable {var} (from --key env://{var}) is not set or empty"),
                format!("export the key's PEM text in {var}, or pass a key file"),
            )),
        };
    }
    read_bounded(Path::new(path), "key", evidence::KEY_LIMIT)
}

/// Reads a key, certificate or trusted-root file the user names: a regular file within `limit`.
/// Anything else is a usage problem (exit 2), as the file is the user's configuration.
pub fn read_bounded(path: &Path, what: &str, limit: u64) -> Result<Vec<u8>, Failure> {
    evidence::read(path, limit, evidence::Links::Follow).map_err(|e| match e {
        evidence::EvidenceError::Io(e) | evidence::EvidenceError::NotFound(e) => {
            failure::io(&format!("read {what}"), path, &e)
        }
        other => Failure::cannot_check(
            format!("cannot read {what} {}: {other}", path.display()),
            format!("pass a regular file of at most {limit} bytes"),
        ),
    })
}

/// Reads a `PUBLIC KEY` PEM.
fn public_key(arg: &str) -> Result<PublicKey, Failure> {
    PublicKey::from_pem(&read(arg)?).map_err(|e| key_failure(arg, &e, "public key (cosign.pub)"))
}

/// Reads a private key, asking for the password only when the key is encrypted.
fn private_key(arg: &str) -> Result<PrivateKey, Failure> {
    let text = Zeroizing::new(read(arg)?);
    let wanted = "private key (cosign.key or a PEM EC key)";
    match PrivateKeyPem::parse(&text).map_err(|e| key_failure(arg, &e, wanted))? {
        PrivateKeyPem::Plain(key) => Ok(*key),
        PrivateKeyPem::Encrypted(enc) => {
            let password = password(false)?;
            enc.decrypt(password.as_bytes())
                .map_err(|e| key_failure(arg, &e, wanted))
        }
    }
}

/// The password: `COSIGN_PASSWORD` verbatim (even empty, as cosign), else a terminal prompt.
pub fn password(confirm: bool) -> Result<Zeroizing<String>, Failure> {
    if let Some(p) = std::env::var_os(PASSWORD_ENV) {
        return p.into_string().map(Zeroizing::new).map_err(|_| {
            Failure::cannot_check(
                format!("{PASSWORD_ENV} is not valid UTF-8"),
                "set it to the key's password",
            )
        });
    }
    // `confirm` is set when a key is being created: say so, rather than speak of a key that
    // does not exist yet.
    let no_password = || {
        if confirm {
            Failure::cannot_check(
                "no password for the new key: not on a terminal, and COSIGN_PASSWORD is not set",
                format!("set {PASSWORD_ENV} to the password to encrypt it with (empty is allowed, as in cosign), or run on a terminal to be prompted"),
            )
        } else {
            Failure::cannot_check(
                "the key is encrypted and no password was given",
                format!("set {PASSWORD_ENV}, or run on a terminal to be prompted"),
            )
        }
    };
    if !std::io::stdin().is_terminal() {
        return Err(no_password());
    }
    let first = Zeroizing::new(
        rpassword::prompt_password("Enter password for private key: ")
            .map_err(|_| no_password())?,
    );
    if confirm {
        let again = Zeroizing::new(
            rpassword::prompt_password("Enter password for private key again: ")
                .map_err(|_| no_password())?,
        );
        if *again != *first {
            return Err(Failure::cannot_check(
                "the passwords do not match",
                "try again",
            ));
        }
    }
    Ok(first)
}
