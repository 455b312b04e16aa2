//! What modelseal-init reads from its environment: KServe's S3 variables (and the STORAGE_CONFIG
//! JSON form), timeouts and download tuning, the allow/ignore patterns, and modelseal's trust
//! settings. Pure: it takes the environment as a map, so every rule is testable.

use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use modelseal_kernel::trust::document::PolicyError;
use modelseal_kernel::trust::document::{KeySource, RootSource, Shorthand, Source};
use modelseal_kernel::Digest;
use modelseal_s3::Tuning;

pub type Env = BTreeMap<String, String>;

/// Why the environment cannot be used. Every variant names the variables involved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConfigError {
    /// A variable whose value cannot be used: `why` follows the variable's name.
    Value { var: String, why: String },
    /// Variables that exclude each other (the sentence names them and says which to unset).
    Conflict(String),
    /// The trust variables name trust the kernel's shorthand rules refuse.
    Trust(PolicyError),
    /// No trust variable is set: modelseal-init never places an unverified model.
    NoTrust,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConfigError::Value { var, why } => write!(f, "{var} {why}"),
            ConfigError::Conflict(why) => f.write_str(why),
            ConfigError::Trust(e) => write!(f, "{e}"),
            ConfigError::NoTrust => f.write_str(
                "no trust configured: set MODELSEAL_PUBLIC_KEY (a PEM file), MODELSEAL_PUBLIC_KEY_PEM, MODELSEAL_KEY (awskms://...) \
                 or MODELSEAL_CERTIFICATE_CHAIN (a private CA), or keyless MODELSEAL_CERTIFICATE_IDENTITY + \
                 MODELSEAL_CERTIFICATE_OIDC_ISSUER, or MODELSEAL_POLICY / MODELSEAL_POLICY_JSON (a trust policy), \
                 or VERIFICATION_DIGEST for a single-file model; modelseal-init never places an unverified model",
            ),
        }
    }
}

impl std::error::Error for ConfigError {}

fn value(var: &str, why: impl Into<String>) -> ConfigError {
    ConfigError::Value {
        var: var.to_string(),
        why: why.into(),
    }
}

/// How to reach S3.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct S3Settings {
    pub endpoint: Option<String>,
    pub path_style: bool,
    pub region: Option<String>,
    pub anonymous: bool,
    /// S3_USE_ACCELERATE=true: S3 Transfer Acceleration, as kserve-storage.
    pub accelerate: bool,
    /// Keys from STORAGE_CONFIG; otherwise the AWS chain (env keys, session token, web identity).
    pub static_keys: Option<(String, String)>,
    pub ca_bundle: Option<PathBuf>,
    /// S3_VERIFY_SSL=0: noted, but certificates are still verified (docs/kserve.md).
    pub verify_ssl_off_requested: bool,
}

/// What establishes trust. Fail closed: at least one must be set.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct TrustSettings {
    /// MODELSEAL_PUBLIC_KEY: a PEM file mounted from a Secret or ConfigMap.
    pub public_key: Option<PathBuf>,
    /// MODELSEAL_PUBLIC_KEY_PEM: the PEM text itself (e.g. `valueFrom.configMapKeyRef` in a
    /// ClusterStorageContainer, which cannot add volumes to the pod).
    pub public_key_pem: Option<String>,
    /// MODELSEAL_KEY: an awskms:// key.
    pub kms_key: Option<String>,
    /// MODELSEAL_CERTIFICATE_CHAIN: a PEM file of trusted CA certificates (a private CA;
    /// model_signing's certificate method), as `modelseal verify --certificate-chain`.
    pub certificate_chain: Option<PathBuf>,
    /// MODELSEAL_CERTIFICATE_CHAIN_PEM: the PEM text itself (a ClusterStorageContainer cannot
    /// mount a volume; `valueFrom.configMapKeyRef` can carry it).
    pub certificate_chain_pem: Option<String>,
    /// MODELSEAL_CERTIFICATE_IDENTITY: the SAN the signing certificate must carry (with a
    /// certificate chain; or keyless, with an OIDC issuer).
    pub certificate_identity: Option<String>,
    /// Keyless: MODELSEAL_CERTIFICATE_IDENTITY_REGEXP, a regexp the whole identity must match.
    pub certificate_identity_regexp: Option<String>,
    /// Keyless: MODELSEAL_CERTIFICATE_OIDC_ISSUER (+ `_REGEXP`), the OIDC issuer.
    pub certificate_oidc_issuer: Option<String>,
    pub certificate_oidc_issuer_regexp: Option<String>,
    /// Keyless: MODELSEAL_TRUSTED_ROOT, a Sigstore trusted_root.json [default: the carried
    /// production root].
    pub trusted_root: Option<PathBuf>,
    /// MODELSEAL_POLICY: a trust policy file; MODELSEAL_POLICY_JSON: its text (a
    /// ClusterStorageContainer cannot mount volumes, but can read a ConfigMap value).
    pub policy: Option<PathBuf>,
    pub policy_json: Option<String>,
    /// MODELSEAL_SIGNATURE: where the signature is, when not at the default place.
    pub signature: Option<String>,
    /// VERIFICATION_DIGEST: a SHA-256 pin for a single-file model.
    pub pin: Option<Digest>,
}

/// Where modelseal-init's trust policy comes from.
#[derive(Debug)]
pub enum TrustSource {
    /// MODELSEAL_POLICY: a policy file.
    Policy(PathBuf),
    /// MODELSEAL_POLICY_JSON: a policy's text.
    PolicyJson(String),
    /// The other trust variables, as a one-rule policy named after them (boxed: it is large).
    Shorthand(Box<Shorthand>),
    /// VERIFICATION_DIGEST alone: a single file's SHA-256 is the trust.
    PinOnly(Digest),
}

/// The trust variables the shorthand reads, with their kinds.
const SHORTHAND_VARS: [&str; 11] = [
    "MODELSEAL_PUBLIC_KEY",
    "MODELSEAL_PUBLIC_KEY_PEM",
    "MODELSEAL_KEY",
    "MODELSEAL_CERTIFICATE_CHAIN",
    "MODELSEAL_CERTIFICATE_CHAIN_PEM",
    "MODELSEAL_CERTIFICATE_IDENTITY",
    "MODELSEAL_CERTIFICATE_IDENTITY_REGEXP",
    "MODELSEAL_CERTIFICATE_OIDC_ISSUER",
    "MODELSEAL_CERTIFICATE_OIDC_ISSUER_REGEXP",
    "MODELSEAL_TRUSTED_ROOT",
    "VERIFICATION_DIGEST",
];

impl TrustSettings {
    fn set(&self) -> [(&'static str, bool); 11] {
        let v = [
            self.public_key.is_some(),
            self.public_key_pem.is_some(),
            self.kms_key.is_some(),
            self.certificate_chain.is_some(),
            self.certificate_chain_pem.is_some(),
            self.certificate_identity.is_some(),
            self.certificate_identity_regexp.is_some(),
            self.certificate_oidc_issuer.is_some(),
            self.certificate_oidc_issuer_regexp.is_some(),
            self.trusted_root.is_some(),
            self.pin.is_some(),
        ];
        let mut out = [("", false); 11];
        for (i, (name, set)) in SHORTHAND_VARS.iter().zip(v).enumerate() {
            out[i] = (name, set);
        }
        out
    }

    /// The trust this environment names, its combinations checked (by the kernel's shorthand
    /// rules, as the CLI's flags are). Nothing is read here.
    pub fn source(&self) -> Result<TrustSource, ConfigError> {
        let named = |name: &str, v: &Option<String>| v.clone().map(|v| (name.to_string(), v));
        let policy = match (&self.policy, &self.policy_json) {
            (Some(_), Some(_)) => {
                return Err(ConfigError::Conflict(
                    "MODELSEAL_POLICY and MODELSEAL_POLICY_JSON are both set; give one".into(),
                ))
            }
            (Some(path), None) => Some(("MODELSEAL_POLICY", TrustSource::Policy(path.clone()))),
            (None, Some(text)) => Some((
                "MODELSEAL_POLICY_JSON",
                TrustSource::PolicyJson(text.clone()),
            )),
            (None, None) => None,
        };
        if let Some((var, source)) = policy {
            // VERIFICATION_DIGEST still adds a pin to a policy.
            let others: Vec<&str> = self
                .set()
                .iter()
                .filter(|(n, set)| *set && *n != "VERIFICATION_DIGEST")
                .map(|(n, _)| *n)
                .collect();
            if !others.is_empty() {
                return Err(ConfigError::Conflict(format!(
                    "{var} is the whole trust; unset {} (put them in the policy)",
                    others.join(", ")
                )));
            }
            return Ok(source);
        }
        let keys = [
            (
                "MODELSEAL_PUBLIC_KEY",
                self.public_key
                    .as_ref()
                    .map(|p| KeySource::Path(p.display().to_string())),
            ),
            (
                "MODELSEAL_PUBLIC_KEY_PEM",
                self.public_key_pem.clone().map(KeySource::Pem),
            ),
            ("MODELSEAL_KEY", self.kms_key.clone().map(KeySource::Kms)),
        ];
        let mut keys = keys
            .into_iter()
            .filter_map(|(n, k)| k.map(|k| (n.to_string(), k)));
        let key = keys.next();
        if let (Some((first, _)), Some((second, _))) = (&key, keys.next()) {
            return Err(ConfigError::Conflict(format!(
                "{first} and {second} are two keys; set one"
            )));
        }
        let certificates = match (&self.certificate_chain, &self.certificate_chain_pem) {
            (Some(_), Some(_)) => {
                return Err(ConfigError::Conflict(
                    "MODELSEAL_CERTIFICATE_CHAIN and MODELSEAL_CERTIFICATE_CHAIN_PEM are both set; set one".into(),
                ))
            }
            (Some(path), None) => Some((
                "MODELSEAL_CERTIFICATE_CHAIN".to_string(),
                vec![Source::Path(path.display().to_string())],
            )),
            (None, Some(pem)) => Some((
                "MODELSEAL_CERTIFICATE_CHAIN_PEM".to_string(),
                vec![Source::Pem(pem.clone())],
            )),
            (None, None) => None,
        };
        let shorthand = Shorthand {
            key,
            certificates,
            identity: named("MODELSEAL_CERTIFICATE_IDENTITY", &self.certificate_identity),
            identity_regexp: named(
                "MODELSEAL_CERTIFICATE_IDENTITY_REGEXP",
                &self.certificate_identity_regexp,
            ),
            issuer: named(
                "MODELSEAL_CERTIFICATE_OIDC_ISSUER",
                &self.certificate_oidc_issuer,
            ),
            issuer_regexp: named(
                "MODELSEAL_CERTIFICATE_OIDC_ISSUER_REGEXP",
                &self.certificate_oidc_issuer_regexp,
            ),
            trusted_root: self.trusted_root.as_ref().map(|p| {
                (
                    "MODELSEAL_TRUSTED_ROOT".to_string(),
                    RootSource::Path(p.display().to_string()),
                )
            }),
        };
        match shorthand.clone().document().map_err(ConfigError::Trust)? {
            Some(_) => Ok(TrustSource::Shorthand(Box::new(shorthand))),
            None => match &self.pin {
                Some(pin) => Ok(TrustSource::PinOnly(pin.clone())),
                None => Err(ConfigError::NoTrust),
            },
        }
    }
}

#[derive(Debug, Default, PartialEq, Eq)]
pub struct Config {
    pub s3: S3Settings,
    pub trust: TrustSettings,
    pub allow: Vec<String>,
    pub ignore: Vec<String>,
    /// MODELSEAL_IGNORE_UNSIGNED_FILES=true: objects under the prefix the signature does not
    /// cover (training leftovers) are skipped, never placed, instead of refusing the model.
    pub ignore_unsigned_files: bool,
    pub termination_log: PathBuf,
    /// Ranges, concurrency, timeouts and attempts for the S3 engine.
    pub tuning: Tuning,
    /// MODELSEAL_MAX_UNPACKED_BYTES: how far a single archive may expand.
    pub max_unpacked: u64,
    /// MODELSEAL_PROGRESS_SECONDS: one progress line per interval while a model downloads.
    pub progress_every: Duration,
}

/// Unpacked archives may not grow past this many bytes unless MODELSEAL_MAX_UNPACKED_BYTES says.
pub const DEFAULT_MAX_UNPACKED: u64 = 256 << 30;

/// The engine's tuning: the download sizes both binaries read ([`Tuning::with_env`]: 6 MiB x
/// 6 ranges, 52 MiB peak RSS measured, under the 64 MiB budget, and no larger setting measured
/// faster on loopback), then KServe's `S3_CONNECT_TIMEOUT` (15 s), `S3_READ_TIMEOUT` (30 s) and
/// `S3_MAX_ATTEMPTS`; attempts default to 5, not KServe's 3, because a retried range resumes
/// where it broke.
fn tuning(env: &Env) -> Result<Tuning, ConfigError> {
    let seconds = |var: &str, default: Duration| match non_empty(env, var) {
        None => Ok(default),
        Some(v) => v
            .parse::<f64>()
            .ok()
            .and_then(|s| Duration::try_from_secs_f64(s).ok())
            .filter(|d| !d.is_zero())
            .ok_or_else(|| value(var, format!("'{v}' is not a positive number of seconds"))),
    };
    let mut t = Tuning::default()
        .with_env(|var| env.get(var).cloned())
        .map_err(|e| {
            value(
                e.var,
                format!("'{}' is not a positive whole number", e.value),
            )
        })?;
    t.connect_timeout = seconds("S3_CONNECT_TIMEOUT", modelseal_s3::DEFAULT_CONNECT_TIMEOUT)?;
    t.read_timeout = seconds("S3_READ_TIMEOUT", modelseal_s3::DEFAULT_READ_TIMEOUT)?;
    if let Some(v) = non_empty(env, "S3_MAX_ATTEMPTS") {
        t.max_attempts = v.parse::<u32>().ok().filter(|n| *n > 0).ok_or_else(|| {
            value(
                "S3_MAX_ATTEMPTS",
                format!("'{v}' is not a positive whole number"),
            )
        })?;
    }
    Ok(t)
}

/// MODELSEAL_PROGRESS_SECONDS: above 0, at most a day; 10 when unset (the CLI's parser).
fn progress_every(env: &Env) -> Result<Duration, ConfigError> {
    let v = non_empty(env, "MODELSEAL_PROGRESS_SECONDS");
    modelseal_fetch::progress::interval(v.as_deref())
        .map_err(|why| value("MODELSEAL_PROGRESS_SECONDS", why))
}

fn truthy(v: Option<&String>) -> bool {
    v.is_some_and(|v| matches!(v.trim().to_ascii_lowercase().as_str(), "true" | "1" | "yes"))
}

fn falsy(v: Option<&String>) -> bool {
    v.is_some_and(|v| matches!(v.trim().to_ascii_lowercase().as_str(), "false" | "0" | "no"))
}

/// A switch that widens what is accepted: unset or empty is off, and anything but a clear
/// true or false is refused rather than guessed.
fn switch(env: &Env, key: &str) -> Result<bool, ConfigError> {
    match non_empty(env, key) {
        None => Ok(false),
        Some(v) if truthy(Some(&v)) => Ok(true),
        Some(v) if falsy(Some(&v)) => Ok(false),
        Some(v) => Err(value(key, format!("'{v}' is neither true nor false"))),
    }
}

fn non_empty(env: &Env, key: &str) -> Option<String> {
    env.get(key)
        .map(|v| v.trim().to_string())
        .filter(|v| !v.is_empty())
}

/// KServe's `_update_with_storage_spec`: STORAGE_CONFIG (then STORAGE_OVERRIDE_CONFIG) JSON of
/// `type: s3` becomes the environment variables it stands for, overriding them.
pub fn apply_storage_config(env: &mut Env) -> Result<(), ConfigError> {
    let mut spec = serde_json::Map::new();
    for var in ["STORAGE_CONFIG", "STORAGE_OVERRIDE_CONFIG"] {
        let Some(text) = non_empty(env, var) else {
            continue;
        };
        let json: serde_json::Value = serde_json::from_str(&text)
            .map_err(|e| value(var, format!("is not valid JSON: {e}")))?;
        let serde_json::Value::Object(map) = json else {
            return Err(value(var, "must be a JSON object"));
        };
        spec.extend(map);
    }
    if spec.is_empty() {
        return Ok(());
    }
    let kind = spec.get("type").and_then(|t| t.as_str()).unwrap_or("");
    if kind != "s3" {
        return Err(value(
            "STORAGE_CONFIG",
            format!("type '{kind}' is not supported (modelseal-init handles s3)"),
        ));
    }
    for (key, var) in [
        ("endpoint_url", "AWS_ENDPOINT_URL"),
        ("access_key_id", "AWS_ACCESS_KEY_ID"),
        ("secret_access_key", "AWS_SECRET_ACCESS_KEY"),
        ("region", "AWS_DEFAULT_REGION"),
        ("ca_bundle", "AWS_CA_BUNDLE"),
        ("verify_ssl", "S3_VERIFY_SSL"),
        ("anonymous", "awsAnonymousCredential"),
    ] {
        let text = match spec.get(key) {
            Some(serde_json::Value::String(s)) => s.clone(),
            Some(serde_json::Value::Bool(b)) => b.to_string(),
            Some(serde_json::Value::Number(n)) => n.to_string(),
            _ => continue,
        };
        env.insert(var.to_string(), text);
    }
    // Keys from STORAGE_CONFIG are static credentials, whatever else the chain would find.
    if spec.contains_key("access_key_id") {
        env.insert("MODELSEAL_INIT_STATIC_KEYS".into(), "1".into());
    }
    Ok(())
}

/// Comma list or JSON list of patterns, as KServe reads them.
fn patterns(env: &Env, var: &str) -> Result<Vec<String>, ConfigError> {
    let Some(text) = non_empty(env, var) else {
        return Ok(Vec::new());
    };
    if text.starts_with('[') {
        return serde_json::from_str::<Vec<String>>(&text)
            .map_err(|e| value(var, format!("is not a JSON list of strings: {e}")));
    }
    Ok(text
        .split(',')
        .map(|p| p.trim().to_string())
        .filter(|p| !p.is_empty())
        .collect())
}

pub fn from_env(mut env: Env) -> Result<Config, ConfigError> {
    apply_storage_config(&mut env)?;
    let endpoint = match (
        non_empty(&env, "AWS_ENDPOINT_URL"),
        non_empty(&env, "S3_ENDPOINT"),
    ) {
        (Some(url), _) => Some(url),
        (None, Some(host)) if host.contains("://") => Some(host),
        (None, Some(host)) => {
            let scheme = if falsy(env.get("S3_USE_HTTPS")) {
                "http"
            } else {
                "https"
            };
            Some(format!("{scheme}://{host}"))
        }
        (None, None) => None,
    };
    let accelerate = truthy(env.get("S3_USE_ACCELERATE"));
    if accelerate && (endpoint.is_some() || non_empty(&env, "AWS_ENDPOINT_URL_S3").is_some()) {
        // S3 Transfer Acceleration is its own endpoint (BUCKET.s3-accelerate.amazonaws.com);
        // botocore and the Rust SDK both refuse it beside a custom one. Say so before any request.
        return Err(ConfigError::Conflict("S3_USE_ACCELERATE=true cannot be combined with an S3 endpoint (AWS_ENDPOINT_URL, AWS_ENDPOINT_URL_S3 or S3_ENDPOINT): acceleration has an endpoint of its own; unset one of them".into()));
    }
    let ca_bundle = match (
        non_empty(&env, "AWS_CA_BUNDLE"),
        non_empty(&env, "CA_BUNDLE_CONFIGMAP_NAME"),
    ) {
        (Some(path), _) => Some(PathBuf::from(path)),
        (None, Some(_)) => {
            let mount = non_empty(&env, "CA_BUNDLE_VOLUME_MOUNT_POINT")
                .unwrap_or_else(|| "/etc/ssl/custom-certs".into());
            Some(PathBuf::from(mount).join("cabundle.crt"))
        }
        (None, None) => None,
    };
    let static_keys = match (
        truthy(env.get("MODELSEAL_INIT_STATIC_KEYS")),
        non_empty(&env, "AWS_ACCESS_KEY_ID"),
        non_empty(&env, "AWS_SECRET_ACCESS_KEY"),
    ) {
        (true, Some(id), Some(secret)) => Some((id, secret)),
        _ => None,
    };
    let s3 = S3Settings {
        path_style: endpoint.is_some() && !truthy(env.get("S3_USER_VIRTUAL_BUCKET")),
        endpoint,
        region: non_empty(&env, "AWS_REGION").or_else(|| non_empty(&env, "AWS_DEFAULT_REGION")),
        anonymous: truthy(env.get("awsAnonymousCredential")),
        accelerate,
        static_keys,
        ca_bundle,
        verify_ssl_off_requested: falsy(env.get("S3_VERIFY_SSL")),
    };
    let pin = match non_empty(&env, "VERIFICATION_DIGEST") {
        None => None,
        Some(text) => Some(Digest::parse_pin(&text).ok_or_else(|| {
            value(
                "VERIFICATION_DIGEST",
                "must be a SHA-256 digest: 64 hex digits, optionally 'sha256:'-prefixed",
            )
        })?),
    };
    let trust = TrustSettings {
        public_key: non_empty(&env, "MODELSEAL_PUBLIC_KEY").map(PathBuf::from),
        public_key_pem: non_empty(&env, "MODELSEAL_PUBLIC_KEY_PEM"),
        kms_key: non_empty(&env, "MODELSEAL_KEY"),
        certificate_chain: non_empty(&env, "MODELSEAL_CERTIFICATE_CHAIN").map(PathBuf::from),
        certificate_chain_pem: non_empty(&env, "MODELSEAL_CERTIFICATE_CHAIN_PEM"),
        certificate_identity: non_empty(&env, "MODELSEAL_CERTIFICATE_IDENTITY"),
        certificate_identity_regexp: non_empty(&env, "MODELSEAL_CERTIFICATE_IDENTITY_REGEXP"),
        certificate_oidc_issuer: non_empty(&env, "MODELSEAL_CERTIFICATE_OIDC_ISSUER"),
        certificate_oidc_issuer_regexp: non_empty(&env, "MODELSEAL_CERTIFICATE_OIDC_ISSUER_REGEXP"),
        trusted_root: non_empty(&env, "MODELSEAL_TRUSTED_ROOT").map(PathBuf::from),
        policy: non_empty(&env, "MODELSEAL_POLICY").map(PathBuf::from),
        policy_json: non_empty(&env, "MODELSEAL_POLICY_JSON"),
        signature: non_empty(&env, "MODELSEAL_SIGNATURE"),
        pin,
    };
    // Every combination is judged once, by the shorthand's own rules (the CLI's flags feed the
    // same ones): only the policy variables' exclusivity is ours to check.
    trust.source()?;
    Ok(Config {
        s3,
        trust,
        allow: patterns(&env, "STORAGE_ALLOW_PATTERNS")?,
        ignore: patterns(&env, "STORAGE_IGNORE_PATTERNS")?,
        ignore_unsigned_files: switch(&env, "MODELSEAL_IGNORE_UNSIGNED_FILES")?,
        termination_log: PathBuf::from(
            non_empty(&env, "MODELSEAL_TERMINATION_LOG")
                .unwrap_or_else(|| "/dev/termination-log".into()),
        ),
        tuning: tuning(&env)?,
        max_unpacked: match non_empty(&env, "MODELSEAL_MAX_UNPACKED_BYTES") {
            Some(v) => v.parse::<u64>().map_err(|_| {
                value(
                    "MODELSEAL_MAX_UNPACKED_BYTES",
                    format!("'{v}' is not a number"),
                )
            })?,
            None => DEFAULT_MAX_UNPACKED,
        },
        progress_every: progress_every(&env)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> Env {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    const KEY: (&str, &str) = ("MODELSEAL_PUBLIC_KEY", "/keys/model.pub");

    #[test]
    fn no_trust_is_refused() {
        let e = from_env(env(&[("AWS_ENDPOINT_URL", "http://x")])).unwrap_err();
        assert_eq!(e, ConfigError::NoTrust);
        assert!(e.to_string().starts_with("no trust configured"), "{e}");
    }

    /// Exactly one trust; keyless needs both halves; CA trust takes only an exact identity; a
    /// trusted root applies to any trust; a policy is the whole trust. (The combinations are
    /// the kernel's shorthand rules, which the CLI's flags feed too.)
    #[test]
    fn trust_combinations() {
        const ID: (&str, &str) = ("MODELSEAL_CERTIFICATE_IDENTITY", "a@b");
        const ID_RE: (&str, &str) = ("MODELSEAL_CERTIFICATE_IDENTITY_REGEXP", ".*@b");
        const ISS: (&str, &str) = ("MODELSEAL_CERTIFICATE_OIDC_ISSUER", "https://i");
        const ISS_RE: (&str, &str) = ("MODELSEAL_CERTIFICATE_OIDC_ISSUER_REGEXP", "https://.*");
        const CHAIN: (&str, &str) = ("MODELSEAL_CERTIFICATE_CHAIN", "/trust/ca.pem");
        const ROOT: (&str, &str) = ("MODELSEAL_TRUSTED_ROOT", "/trust/root.json");
        for ok in [
            vec![ID, ISS],
            vec![ID_RE, ISS_RE, ROOT],
            vec![CHAIN],
            vec![CHAIN, ID],
            vec![CHAIN, ROOT],
            vec![KEY, ROOT],
            vec![(
                "MODELSEAL_CERTIFICATE_CHAIN_PEM",
                "-----BEGIN CERTIFICATE-----",
            )],
            vec![("MODELSEAL_POLICY", "/trust/policy.json")],
            vec![
                ("MODELSEAL_POLICY_JSON", "{}"),
                ("VERIFICATION_DIGEST", &"0".repeat(64)),
            ],
        ] {
            assert!(from_env(env(&ok)).is_ok(), "{ok:?}");
        }
        const POLICY: (&str, &str) = ("MODELSEAL_POLICY", "/trust/policy.json");
        for (bad, why) in [
            (vec![ID], "keyless trust needs both"),
            (vec![ISS], "keyless trust needs both"),
            (
                vec![ROOT],
                "names a trusted root, but no identity and issuer",
            ),
            (vec![ID, ID_RE, ISS], "both name the identity"),
            (vec![ID, ISS, ISS_RE], "both name the OIDC issuer"),
            (vec![CHAIN, ISS], "is keyless Sigstore trust"),
            (vec![CHAIN, ID_RE], "is keyless Sigstore trust"),
            (
                vec![KEY, ID, ISS],
                "does not apply beside MODELSEAL_PUBLIC_KEY",
            ),
            (vec![KEY, CHAIN], "they are two trusts"),
            (
                vec![KEY, ("MODELSEAL_KEY", "awskms:///alias/k")],
                "are two keys",
            ),
            (
                vec![POLICY, KEY],
                "MODELSEAL_POLICY is the whole trust; unset MODELSEAL_PUBLIC_KEY",
            ),
            (
                vec![POLICY, ("MODELSEAL_POLICY_JSON", "{}")],
                "are both set",
            ),
            (
                vec![("MODELSEAL_CERTIFICATE_IDENTITY_REGEXP", "(")],
                "is not a regular expression",
            ),
        ] {
            let e = from_env(env(&bad)).unwrap_err().to_string();
            assert!(e.contains(why), "{bad:?}: {e}");
        }
    }

    #[test]
    fn endpoint_fallbacks_and_addressing() {
        let c = from_env(env(&[
            KEY,
            ("S3_ENDPOINT", "minio:9000"),
            ("S3_USE_HTTPS", "0"),
        ]))
        .unwrap();
        assert_eq!(c.s3.endpoint.as_deref(), Some("http://minio:9000"));
        assert!(c.s3.path_style);
        let c = from_env(env(&[KEY, ("S3_ENDPOINT", "minio:9000")])).unwrap();
        assert_eq!(c.s3.endpoint.as_deref(), Some("https://minio:9000"));
        let c = from_env(env(&[
            KEY,
            ("AWS_ENDPOINT_URL", "http://a"),
            ("S3_ENDPOINT", "b"),
            ("S3_USER_VIRTUAL_BUCKET", "true"),
        ]))
        .unwrap();
        assert_eq!(c.s3.endpoint.as_deref(), Some("http://a"));
        assert!(!c.s3.path_style);
        let c = from_env(env(&[KEY])).unwrap();
        assert_eq!(c.s3.endpoint, None);
        assert!(!c.s3.path_style);
    }

    #[test]
    fn storage_config_overrides_the_environment() {
        let c = from_env(env(&[
            KEY,
            ("AWS_ENDPOINT_URL", "http://old"),
            (
                "STORAGE_CONFIG",
                r#"{"type":"s3","endpoint_url":"http://new:9000","access_key_id":"AK","secret_access_key":"SK","region":"eu-west-1","anonymous":"false","bucket":"b"}"#,
            ),
            ("STORAGE_OVERRIDE_CONFIG", r#"{"region":"us-west-2"}"#),
        ]))
        .unwrap();
        assert_eq!(c.s3.endpoint.as_deref(), Some("http://new:9000"));
        assert_eq!(c.s3.static_keys, Some(("AK".into(), "SK".into())));
        assert_eq!(c.s3.region.as_deref(), Some("us-west-2"));
        assert!(!c.s3.anonymous);
        assert!(from_env(env(&[KEY, ("STORAGE_CONFIG", r#"{"type":"gcs"}"#)])).is_err());
        assert!(from_env(env(&[KEY, ("STORAGE_CONFIG", "{not json")])).is_err());
    }

    #[test]
    fn ca_bundle_and_anonymous() {
        let c = from_env(env(&[
            KEY,
            ("CA_BUNDLE_CONFIGMAP_NAME", "cm"),
            ("awsAnonymousCredential", "True"),
            ("S3_VERIFY_SSL", "0"),
        ]))
        .unwrap();
        assert_eq!(
            c.s3.ca_bundle,
            Some(PathBuf::from("/etc/ssl/custom-certs/cabundle.crt"))
        );
        assert!(c.s3.anonymous);
        assert!(c.s3.verify_ssl_off_requested);
    }

    #[test]
    fn patterns_and_pins() {
        let c = from_env(env(&[
            (
                "VERIFICATION_DIGEST",
                &format!("sha256:{}", "AB".repeat(32)),
            ),
            (
                "STORAGE_ALLOW_PATTERNS",
                r#"["*.safetensors", "config.json"]"#,
            ),
            ("STORAGE_IGNORE_PATTERNS", "*.md, *.txt"),
        ]))
        .unwrap();
        assert_eq!(c.trust.pin.unwrap().to_hex(), "ab".repeat(32));
        assert_eq!(c.allow, ["*.safetensors", "config.json"]);
        assert_eq!(c.ignore, ["*.md", "*.txt"]);
        assert!(from_env(env(&[("VERIFICATION_DIGEST", "abc")])).is_err());
        assert_eq!(
            from_env(env(&[KEY])).unwrap().termination_log,
            PathBuf::from("/dev/termination-log")
        );
    }

    #[test]
    fn s3_use_accelerate() {
        assert!(
            from_env(env(&[KEY, ("S3_USE_ACCELERATE", "true")]))
                .unwrap()
                .s3
                .accelerate
        );
        assert!(!from_env(env(&[KEY])).unwrap().s3.accelerate);
        for endpoint in ["AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3", "S3_ENDPOINT"] {
            let err = from_env(env(&[
                KEY,
                ("S3_USE_ACCELERATE", "True"),
                (endpoint, "http://127.0.0.1:9000"),
            ]))
            .unwrap_err();
            assert!(matches!(err, ConfigError::Conflict(_)), "{err}");
            assert!(err.to_string().contains("S3_USE_ACCELERATE"), "{err}");
        }
    }

    /// Tuning, timeouts, the unpack limit and the progress interval: defaults, overrides, and
    /// every bad value refused naming its variable.
    #[test]
    fn tuning_and_limits() {
        let c = from_env(env(&[KEY])).unwrap();
        assert_eq!(c.tuning, Tuning::default());
        assert_eq!(c.tuning.range_size, 6 << 20);
        assert_eq!(c.max_unpacked, DEFAULT_MAX_UNPACKED);
        assert_eq!(c.progress_every, Duration::from_secs(10));
        let c = from_env(env(&[
            KEY,
            ("MODELSEAL_S3_RANGE_MIB", "16"),
            ("MODELSEAL_S3_CONCURRENCY", "2"),
            ("S3_READ_TIMEOUT", "2.5"),
            ("S3_MAX_ATTEMPTS", "1"),
            ("MODELSEAL_MAX_UNPACKED_BYTES", "1024"),
            ("MODELSEAL_PROGRESS_SECONDS", "0.5"),
        ]))
        .unwrap();
        assert_eq!(
            (
                c.tuning.range_size,
                c.tuning.max_in_flight,
                c.tuning.max_attempts
            ),
            (16 << 20, 2, 1)
        );
        assert_eq!(c.tuning.read_timeout, Duration::from_millis(2500));
        assert_eq!(c.max_unpacked, 1024);
        assert_eq!(c.progress_every, Duration::from_millis(500));
        for (var, bad) in [
            ("MODELSEAL_S3_RANGE_MIB", "0"),
            ("MODELSEAL_S3_OBJECTS", "many"),
            ("S3_CONNECT_TIMEOUT", "-1"),
            ("S3_MAX_ATTEMPTS", "0"),
            ("MODELSEAL_MAX_UNPACKED_BYTES", "1G"),
            ("MODELSEAL_PROGRESS_SECONDS", "0"),
        ] {
            let e = from_env(env(&[KEY, (var, bad)])).unwrap_err();
            assert!(
                matches!(&e, ConfigError::Value { var: v, .. } if v == var),
                "{var}={bad}: {e:?}"
            );
            assert!(e.to_string().starts_with(&format!("{var} '{bad}'")), "{e}");
        }
    }
}
