//! How a signing command signs: with a key (file, KMS, or certified by a private CA), or
//! keyless (an ephemeral key certified by Fulcio for the CI job's identity); with a Rekor entry
//! and an RFC 3161 timestamp when asked (always a log entry for keyless). Whatever the services
//! returned, the finished bundle goes through the kernel's verifier, under a policy of exactly
//! this signer, before the caller writes it.

use std::cell::OnceCell;
use std::path::Path;
use std::sync::Arc;

use modelseal_kernel::blob::BlobBundle;
use modelseal_kernel::bundle::{Bundle, Evidence};
use modelseal_kernel::fulcio::{Leaf, Matcher};
use modelseal_kernel::services::{self, IdentityToken, RekorApi, SigningConfig, Verifier};
use modelseal_kernel::tlog::ExpectedContent;
use modelseal_kernel::trust::{BlobEvidence, Signer as Authority};
use modelseal_kernel::trusted_root::TrustedRoot;
use modelseal_kernel::{oms, Digest, Policy, Signer};
use modelseal_online::{
    Ephemeral, Instance, OnlineError, Settings, Sigstore, TokenSource, Witness,
};

use crate::cli::{AwsArgs, CosignFlags, SigstoreArgs};
use crate::failure::{Failure, Result};

/// A signer and what goes beside its signatures.
pub struct Signing {
    key: Option<Box<dyn Signer>>,
    /// Keyless: the token, read and checked up front; the certificate is asked for when the
    /// first signature is made (after hashing, which may take minutes: Fulcio's certificates
    /// last ten).
    keyless: Option<(IdentityToken, OnceCell<Ephemeral>)>,
    online: Option<Online>,
}

struct Online {
    instance: Instance,
    settings: Settings,
    log: bool,
    timestamp: Option<Option<String>>,
}

fn online_failure(e: &OnlineError) -> Failure {
    let hint = match e {
        OnlineError::NoToken => "pass --key to sign with a key, or give an identity token",
        OnlineError::Token(_) | OnlineError::TokenSource(_) => {
            "get a fresh token for the audience 'sigstore' (tokens last minutes)"
        }
        OnlineError::Unreachable { .. } | OnlineError::Stalled { .. } => {
            "check the service URL of the signing config and the network; nothing was written"
        }
        OnlineError::Refused { .. } => "the service refused the request; nothing was written",
        OnlineError::Service(services::ServiceError::Certificate(_)) => {
            "check --signing-config and --trusted-root name the same Sigstore instance; nothing was signed"
        }
        OnlineError::Service(_) => "check --signing-config / --trust-config; nothing was written",
        OnlineError::Setup(_) | OnlineError::Sign(_) | OnlineError::Io(_) => "nothing was written",
    };
    Failure::cannot_check(format!("cannot sign: {e}"), hint)
}

fn read(path: &Path, what: &str) -> Result<Vec<u8>> {
    crate::keyfile::read_bounded(path, what, modelseal_fetch::evidence::TRUST_LIMIT)
}

/// The instance from `--trust-config`, or `--signing-config` with `--trusted-root`, else the
/// carried public-good production config and root.
fn instance(args: &SigstoreArgs) -> Result<Instance> {
    let config_failure = |file: &Path, e: &dyn std::fmt::Display| {
        Failure::cannot_check(
            format!("{}: {e}", file.display()),
            "give a Sigstore SigningConfig v0.2 (--signing-config) or ClientTrustConfig (--trust-config)",
        )
    };
    let (root_json, config) = match (&args.trust_config, &args.signing_config) {
        (Some(file), _) => services::client_trust_config(&read(file, "trust config")?)
            .map_err(|e| config_failure(file, &e))?,
        (None, Some(file)) => {
            let config = SigningConfig::from_json(&read(file, "signing config")?)
                .map_err(|e| config_failure(file, &e))?;
            let root = match &args.trusted_root {
                Some(r) => read(r, "trusted root")?,
                None => crate::trust_cache::default_root(),
            };
            (root, config)
        }
        (None, None) => {
            let config = SigningConfig::from_json(&crate::trust_cache::default_signing_config())
                .map_err(|e| config_failure(Path::new("(the default signing config)"), &e))?;
            let root = match &args.trusted_root {
                Some(r) => read(r, "trusted root")?,
                None => crate::trust_cache::default_root(),
            };
            (root, config)
        }
    };
    let root = TrustedRoot::from_json(&root_json).map_err(|e| {
        Failure::cannot_check(
            format!("the trusted root is not usable: {e}"),
            "give a Sigstore trusted_root.json",
        )
    })?;
    Ok(Instance {
        config,
        root: Arc::new(root),
    })
}

/// Keyless signing needs a Fulcio valid now.
fn config_fulcio(online: &Online) -> Result<()> {
    online
        .instance
        .config
        .fulcio(modelseal_fetch::trust::now())
        .map(|_| ())
        .map_err(|e| {
            Failure::cannot_check(
                format!("cannot sign: {e}"),
                "check --signing-config / --trust-config; nothing was written",
            )
        })
}

fn settings(aws: &AwsArgs) -> Settings {
    let secs = |s: f64| std::time::Duration::from_secs_f64(s.max(0.001));
    Settings {
        connect_timeout: secs(aws.kms.connect_timeout),
        read_timeout: secs(aws.kms.read_timeout),
        max_attempts: aws.kms.max_attempts,
    }
}

impl Online {
    /// The services this signing needs exist in the signing config, before anything is hashed.
    /// A Rekor v2 log's entries carry no time, so logging there brings a timestamp with it
    /// (from the signing config's TSA unless --timestamp-server-url names one).
    fn check_services(&mut self) -> Result<()> {
        let now = modelseal_fetch::trust::now();
        let config = &self.instance.config;
        let bad = |e: &dyn std::fmt::Display| {
            Failure::cannot_check(
                format!("cannot sign: {e}"),
                "check --signing-config / --trust-config; nothing was written",
            )
        };
        if self.log {
            let (log, api) = config.rekor(now).map_err(|e| bad(&e))?;
            if api == RekorApi::V2 && self.timestamp.is_none() {
                if config.tsa(now).is_none() {
                    return Err(bad(&format!(
                        "the signing config selects the Rekor v2 log {}, whose entries carry no time, and names no timestamp authority valid now",
                        log.url
                    )));
                }
                self.timestamp = Some(None);
            }
        }
        if matches!(self.timestamp, Some(None)) && config.tsa(now).is_none() {
            return Err(bad(&"--timestamp: the signing config names no timestamp authority valid now; give --timestamp-server-url"));
        }
        Ok(())
    }
}

impl Signing {
    /// `key` given: that signer, with a log entry when `--tlog-upload` and a timestamp when
    /// `--timestamp`. No key: keyless, which always logs.
    pub fn new(
        key: Option<Box<dyn Signer>>,
        args: &SigstoreArgs,
        cosign: CosignFlags,
        aws: &AwsArgs,
    ) -> Result<Self> {
        let timestamp = match (&args.timestamp_server_url, args.timestamp) {
            (Some(url), _) => Some(Some(url.clone())),
            (None, true) => Some(None),
            (None, false) => None,
        };
        let Some(signer) = key else {
            if cosign.tlog_upload == Some(false) {
                return Err(Failure::cannot_check(
                    "--tlog-upload=false with keyless signing: a keyless signature without a log entry does not verify",
                    "drop --tlog-upload=false, or sign with --key",
                ));
            }
            let mut online = Online {
                instance: instance(args)?,
                settings: settings(aws),
                log: true,
                timestamp,
            };
            online.check_services()?;
            config_fulcio(&online)?;
            let sigstore =
                Sigstore::new(&online.instance, online.settings).map_err(|e| online_failure(&e))?;
            let source = TokenSource {
                flag: args.identity_token.as_deref(),
                file: args.identity_token_file.as_deref(),
            };
            let token = sigstore
                .identity_token(&source)
                .map_err(|e| online_failure(&e))?;
            drop(sigstore);
            return Ok(Signing {
                key: None,
                keyless: Some((token, OnceCell::new())),
                online: Some(online),
            });
        };
        if args.identity_token.is_some() || args.identity_token_file.is_some() {
            return Err(Failure::cannot_check(
                "--identity-token and --identity-token-file are for keyless signing, without --key",
                "drop --key to sign keyless, or drop the token",
            ));
        }
        let log = cosign.tlog_upload == Some(true);
        let online = if log || timestamp.is_some() {
            let mut online = Online {
                instance: instance(args)?,
                settings: settings(aws),
                log,
                timestamp,
            };
            online.check_services()?;
            Some(online)
        } else {
            None
        };
        Ok(Signing {
            key: Some(signer),
            keyless: None,
            online,
        })
    }

    /// The signer: the key, or the ephemeral key Fulcio certified (asked for on first use).
    pub fn signer(&self) -> Result<&dyn Signer> {
        if let Some(key) = &self.key {
            return Ok(key.as_ref());
        }
        let (Some((token, cell)), Some(online)) = (&self.keyless, &self.online) else {
            return Err(Failure::cannot_check(
                "cannot sign: no signer",
                "report this bug",
            ));
        };
        if let Some(e) = cell.get() {
            return Ok(e);
        }
        let sigstore =
            Sigstore::new(&online.instance, online.settings).map_err(|e| online_failure(&e))?;
        let ephemeral = sigstore.certify(token).map_err(|e| online_failure(&e))?;
        Ok(cell.get_or_init(|| ephemeral))
    }

    pub fn is_keyless(&self) -> bool {
        self.keyless.is_some()
    }

    /// Who signed, for the text output: "P-256 key 0123abcd...", "certificate-bound ...", or
    /// "keyless as IDENTITY (issuer ISSUER)", then the evidence (", logged in Rekor").
    pub fn describe(&self) -> String {
        let Ok(signer) = self.signer() else {
            return String::new();
        };
        let key = signer.public_key();
        let who = match signer.certificates() {
            Some([leaf]) if signer.is_keyless() => match Leaf::parse(leaf) {
                Ok(l) => format!(
                    "keyless as {} (issuer {})",
                    l.identities.first().map_or("?", String::as_str),
                    l.issuer.as_deref().unwrap_or("?")
                ),
                Err(_) => "keyless".to_string(),
            },
            Some(chain) => format!(
                "certificate-bound {} key {} ({} certificates in the bundle)",
                key.algorithm_name(),
                &key.oms_hint()[..16],
                chain.len()
            ),
            None => format!("{} key {}", key.algorithm_name(), &key.oms_hint()[..16]),
        };
        who + &self.evidence_note()
    }

    /// What the text output says about the evidence, e.g. ", logged in Rekor, timestamped".
    fn evidence_note(&self) -> String {
        match &self.online {
            None => String::new(),
            Some(o) => {
                let mut s = String::new();
                if o.log {
                    s.push_str(", logged in Rekor");
                }
                if o.timestamp.is_some() {
                    s.push_str(", timestamped");
                }
                s
            }
        }
    }
}

fn verifier(signer: &dyn Signer) -> Verifier<'_> {
    match signer.certificates() {
        Some(chain) => Verifier::Certificate(&chain[0]),
        None => Verifier::Key(signer.public_key()),
    }
}

impl Signing {
    /// What we write verifies, with everything the services returned: a keyless bundle under a
    /// policy of exactly its identity (chain, SCT, log entries, timestamps, all of the
    /// kernel's checks), a key's or a private CA's evidence against the instance's root.
    fn check_own(
        &self,
        online: &Online,
        json: &str,
        signature: &[u8],
        content: ExpectedContent<'_>,
    ) -> Result<()> {
        let bundle = Bundle::from_json(json.as_bytes()).map_err(|e| self_check(&e))?;
        let root = online.instance.root.clone();
        let now = modelseal_fetch::trust::now();
        let signer = self.signer()?;
        let Some(chain) = signer.certificates().filter(|_| signer.is_keyless()) else {
            let signer_der = match signer.certificates() {
                Some(chain) => chain[0].as_slice(),
                None => signer.public_key().spki_der(),
            };
            modelseal_kernel::sigstore::verify_evidence(
                &bundle, signer_der, &root, now, signature, content,
            )
            .map_err(|e| self_check(&e))?;
            return Ok(());
        };
        let leaf = Leaf::parse(&chain[0]).map_err(|e| self_check(&e))?;
        let authority = Authority::Keyless {
            identity: Matcher::Exact(leaf.identities.first().cloned().unwrap_or_default()),
            issuer: Matcher::Exact(leaf.issuer.clone().unwrap_or_default()),
            root,
        };
        let policy = Policy::one("the signer", authority, now);
        match content {
            ExpectedContent::Dsse { .. } => policy.verify_model(&bundle, "**").map(|_| ()),
            ExpectedContent::Artifact(digests) => {
                let blob = BlobBundle::Sigstore(bundle);
                policy
                    .verify_blob(&BlobEvidence::Bundle(&blob), "**", digests)
                    .map(|_| ())
            }
        }
        .map_err(|e| self_check(&e))
    }

    /// The OMS bundle of a statement: signed, witnessed as asked, and verified.
    pub fn sign_statement(&self, payload: &[u8], shown: &str) -> Result<String> {
        let failure = |e: &dyn std::fmt::Display| {
            Failure::cannot_check(format!("cannot sign model {shown}: {e}"), "check the key")
        };
        let signer = self.signer()?;
        let signature = oms::sign_envelope(signer, payload).map_err(|e| failure(&e))?;
        let Some(online) = &self.online else {
            return Ok(oms::statement_bundle_json(
                signer,
                payload,
                &signature,
                &Evidence::default(),
            ));
        };
        let sigstore =
            Sigstore::new(&online.instance, online.settings).map_err(|e| online_failure(&e))?;
        let witness = Witness {
            log: online.log,
            timestamp: online.timestamp.as_ref().map(|t| t.as_deref()),
        };
        let evidence = sigstore
            .witness_envelope(
                witness,
                modelseal_kernel::dsse::IN_TOTO_PAYLOAD_TYPE,
                payload,
                &signature,
                &verifier(signer),
                signer.public_key(),
            )
            .map_err(|e| online_failure(&e))?;
        let json = oms::statement_bundle_json(signer, payload, &signature, &evidence);
        let content = ExpectedContent::Dsse {
            payload_type: modelseal_kernel::dsse::IN_TOTO_PAYLOAD_TYPE,
            payload,
        };
        self.check_own(online, &json, &signature, content)?;
        Ok(json)
    }

    /// A blob's message signature over `digest`, witnessed as asked; the bundle JSON when
    /// there is evidence to carry (and verified), else `None`.
    pub fn witness_blob(
        &self,
        digest: &Digest,
        signature: &[u8],
        digests: &[Digest],
    ) -> Result<Option<String>> {
        let Some(online) = &self.online else {
            return Ok(None);
        };
        let sigstore =
            Sigstore::new(&online.instance, online.settings).map_err(|e| online_failure(&e))?;
        let witness = Witness {
            log: online.log,
            timestamp: online.timestamp.as_ref().map(|t| t.as_deref()),
        };
        let signer = self.signer()?;
        let evidence = sigstore
            .witness_digest(
                witness,
                digest,
                signature,
                &verifier(signer),
                signer.public_key(),
            )
            .map_err(|e| online_failure(&e))?;
        let hint;
        let material = match signer.certificates() {
            Some([leaf]) if signer.is_keyless() => {
                modelseal_kernel::bundle::SignerMaterial::Certificate(leaf)
            }
            Some(chain) => modelseal_kernel::bundle::SignerMaterial::Certificates(chain),
            None => {
                hint = signer.public_key().cosign_hint();
                modelseal_kernel::bundle::SignerMaterial::KeyHint(&hint)
            }
        };
        let json = modelseal_kernel::bundle::message_signature_bundle_json_with(
            material, digest, signature, &evidence,
        )
        .ok_or_else(|| {
            Failure::cannot_check("the key's hash has no Sigstore name", "use a P-256 key")
        })?;
        self.check_own(online, &json, signature, ExpectedContent::Artifact(digests))?;
        Ok(Some(json))
    }
}

fn self_check(e: &dyn std::fmt::Display) -> Failure {
    Failure::cannot_check(
        format!("cannot sign: the bundle made from the services' answers does not verify: {e}"),
        "check --signing-config and --trusted-root name the same Sigstore instance; nothing was written",
    )
}
