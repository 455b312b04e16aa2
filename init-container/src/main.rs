//! modelseal-init: a drop-in KServe storage initializer that verifies before it places.
//!
//! Invoked as KServe invokes its storage initializer: `modelseal-init SRC DEST [SRC DEST ...]`.
//! For each pair it checks the model's signature first, streams every signed object from S3
//! through the kernel's hashers into a hidden staging directory inside DEST, checks that nothing
//! is missing, extra or changed, and only then renames the files into DEST. Any failure: exit 1,
//! one line saying why (to stderr and to the termination log), and nothing placed.
//!
//! This is the only code that writes to the serving path.
#![forbid(unsafe_code)]

use std::collections::BTreeMap;
use std::fmt::Display;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use aws_config::{BehaviorVersion, Region, SdkConfig};
use modelseal_fetch::progress::count;
use modelseal_fetch::{
    clear_dest, evidence, fetch, locate, place, prepare_staging, progress, remove_staging,
    stop_requested, FetchError, Located, SignatureSource,
};
use modelseal_kernel::manifest::{ResourcePath, UnsignedFiles};
use modelseal_kernel::trust::document::Document;
use modelseal_kernel::trust::Policy;
use modelseal_kernel::PublicKey;
use modelseal_s3::{Engine, Options, S3Uri, Tuning};

use modelseal_init::config::{self, Config, Env, S3Settings, TrustSource};
use modelseal_init::{archive, glob};

/// Unpacked archives may not grow past this many bytes unless MODELSEAL_MAX_UNPACKED_BYTES says.
const DEFAULT_MAX_UNPACKED: u64 = 256 << 30;
/// Termination messages longer than this are cut (Kubernetes keeps 4096 bytes).
const REASON_LIMIT: usize = 4000;

fn log(msg: impl Display) {
    eprintln!("modelseal-init: {msg}");
}

const HELP: &str = "\
modelseal-init: KServe's storage initializer, verifying before it places.

Usage: modelseal-init SRC_URI DEST_PATH [SRC_URI DEST_PATH ...]
       modelseal-init --help | --version

Downloads each s3:// SRC_URI, checks it against its signature (SRC/model.sig, or KEY.sig for a
single object) and only then places it in DEST_PATH. Any failure: exit 1, one line on stderr and
in /dev/termination-log, nothing placed.

Trust, a policy:
  MODELSEAL_POLICY            a trust policy file (modelseal.dev/v1 TrustPolicy, JSON): rules by
                              model location, several authorities each (keys, private CAs,
                              keyless identities, optionally bounded in time), revoked digests
  MODELSEAL_POLICY_JSON       the policy's text (e.g. from a ConfigMap value)
Or one of these, a one-rule policy named after the variable:
  MODELSEAL_PUBLIC_KEY        a PEM public key file
  MODELSEAL_PUBLIC_KEY_PEM    the PEM text itself
  MODELSEAL_KEY               awskms://[ENDPOINT]/KEYID|alias/NAME|ARN
  MODELSEAL_CERTIFICATE_CHAIN a PEM file of trusted CA certificates: the model must be signed
                              with a certificate issued under them (model_signing's certificate
                              method), valid now; MODELSEAL_CERTIFICATE_CHAIN_PEM: the PEM text
                              (e.g. from a ConfigMap); MODELSEAL_CERTIFICATE_IDENTITY: a SAN
                              (email, URI, DNS) the signing certificate must carry, exactly
  Keyless Sigstore, both halves required, checked offline against a trusted root:
    MODELSEAL_CERTIFICATE_IDENTITY or MODELSEAL_CERTIFICATE_IDENTITY_REGEXP (matches the whole SAN)
    MODELSEAL_CERTIFICATE_OIDC_ISSUER or MODELSEAL_CERTIFICATE_OIDC_ISSUER_REGEXP
    MODELSEAL_TRUSTED_ROOT    a trusted_root.json [default: the Sigstore production root carried];
                              beside a key or a CA it verifies their log entries and timestamps
  VERIFICATION_DIGEST         sha256:HEX pin: a single file's SHA-256 (trust on its own), or
                              beside a policy or key what `modelseal digest` prints
  MODELSEAL_SIGNATURE         the signature's s3:// URI, when it is not beside the model
  MODELSEAL_IGNORE_UNSIGNED_FILES=true
                              objects under the prefix the signature does not cover (e.g.
                              training leftovers) are skipped and logged, never placed

S3 (as kserve-storage reads them):
  AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN, AWS_ROLE_ARN +
  AWS_WEB_IDENTITY_TOKEN_FILE (IRSA), AWS_REGION / AWS_DEFAULT_REGION,
  AWS_ENDPOINT_URL or AWS_ENDPOINT_URL_S3 (else S3_ENDPOINT + S3_USE_HTTPS), AWS_CA_BUNDLE (or
  CA_BUNDLE_CONFIGMAP_NAME + CA_BUNDLE_VOLUME_MOUNT_POINT), S3_VERIFY_SSL (logged; certificates
  are still verified), awsAnonymousCredential, S3_USER_VIRTUAL_BUCKET, S3_USE_ACCELERATE,
  STORAGE_CONFIG / STORAGE_OVERRIDE_CONFIG (JSON, type s3),
  STORAGE_ALLOW_PATTERNS / STORAGE_IGNORE_PATTERNS
  S3_CONNECT_TIMEOUT          seconds to open a connection (default 15)
  S3_READ_TIMEOUT             seconds for a response to start or a body to move (default 30)
  S3_MAX_ATTEMPTS             attempts per request (default 5)

Tuning and output:
  MODELSEAL_S3_RANGE_MIB (6), MODELSEAL_S3_CONCURRENCY (6), MODELSEAL_S3_OBJECTS (4),
  MODELSEAL_MAX_UNPACKED_BYTES (256 GiB), MODELSEAL_TERMINATION_LOG (/dev/termination-log),
  MODELSEAL_PROGRESS_SECONDS (10): one progress line per interval while a model downloads
";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if matches!(args.as_slice(), [a] if a == "--help" || a == "-h") {
        print!("{HELP}");
        return ExitCode::SUCCESS;
    }
    if matches!(args.as_slice(), [a] if a == "--version" || a == "-V") {
        println!("modelseal-init {}", env!("CARGO_PKG_VERSION"));
        return ExitCode::SUCCESS;
    }
    let env: Env = std::env::vars().collect();
    let termination_log = env
        .get("MODELSEAL_TERMINATION_LOG")
        .filter(|p| !p.is_empty())
        .map_or_else(|| PathBuf::from("/dev/termination-log"), PathBuf::from);
    match run(&args, env) {
        Ok(()) => ExitCode::SUCCESS,
        Err(reason) => {
            let mut line = reason.replace('\n', "; ");
            if line.len() > REASON_LIMIT {
                let mut cut = REASON_LIMIT;
                while !line.is_char_boundary(cut) {
                    cut -= 1;
                }
                line.truncate(cut);
                line.push_str(" ...");
            }
            log(&line);
            // KServe reads the reason from here; a missing file (outside Kubernetes) is fine.
            if termination_log.exists() || std::env::var_os("MODELSEAL_TERMINATION_LOG").is_some() {
                let _ = std::fs::write(&termination_log, format!("modelseal-init: {line}\n"));
            }
            ExitCode::from(1)
        }
    }
}

fn run(args: &[String], env: Env) -> Result<(), String> {
    if args.is_empty() || args.len() % 2 != 0 {
        return Err("usage: modelseal-init SRC_URI DEST_PATH [SRC_URI DEST_PATH ...]".into());
    }
    let max_unpacked = match env.get("MODELSEAL_MAX_UNPACKED_BYTES") {
        Some(v) => v
            .parse::<u64>()
            .map_err(|_| format!("MODELSEAL_MAX_UNPACKED_BYTES '{v}' is not a number"))?,
        None => DEFAULT_MAX_UNPACKED,
    };
    let tuning = init_tuning(&env)?;
    let every = progress::interval(env.get("MODELSEAL_PROGRESS_SECONDS").map(String::as_str))?;
    let config = config::from_env(env)?;
    // One thread drives every connection; hashing and writing have threads of their own. Against
    // a two-worker runtime this saved ~0.3 CPU-seconds per GiB on two cores shared with the
    // S3 server, and ~0.2 s of wall time (bench/README.md).
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the async runtime: {e}"))?;
    let result = rt.block_on(async {
        let sdk = sdk_config(&config.s3, &tuning).await?;
        let options = Options {
            endpoint_url: config.s3.endpoint.clone(),
            force_path_style: config.s3.path_style,
            region: None,
            anonymous: config.s3.anonymous,
            accelerate: config.s3.accelerate,
            profile: None,
        };
        let engine = Engine::from_sdk_config(&sdk, &options, tuning);
        let policy = trust_policy(&config, &sdk).await?;
        let dests: Vec<PathBuf> = args.chunks(2).map(|p| PathBuf::from(&p[1])).collect();
        for (i, pair) in args.chunks(2).enumerate() {
            // Another pair's DEST inside this one is not this pair's to empty.
            let others: Vec<PathBuf> = dests
                .iter()
                .enumerate()
                .filter(|(j, _)| *j != i)
                .map(|(_, d)| d.clone())
                .collect();
            let dest = Path::new(&pair[1]);
            let work = fetch_pair(
                &engine,
                &config,
                &policy,
                &pair[0],
                dest,
                &others,
                Settings {
                    max_unpacked,
                    progress_every: every,
                },
            );
            // Kubernetes sends SIGTERM to stop a pod: stop downloading, remove the staged
            // files, exit. Placement has no await, so it is never cut in half.
            tokio::select! {
                r = work => r?,
                signal = stop_requested() => {
                    remove_staging(&dest.join(modelseal_fetch::STAGING_NAME));
                    return Err(format!("stopped by {signal} while fetching {}; nothing was placed in {}", pair[0], dest.display()));
                }
            }
        }
        Ok(())
    });
    // Hashing and writing threads end as soon as their channels close; do not wait on a stuck
    // one past this.
    rt.shutdown_timeout(std::time::Duration::from_secs(5));
    result
}

/// Memory is `range_size * max_in_flight` of pooled range buffers (the same buffers reused for
/// the whole model, so it does not grow with the model) plus ~16 MiB of runtime: 6 x 6 MiB
/// measured 52 MiB peak RSS, under the 64 MiB budget, and no larger setting measured faster on
/// loopback (bench/README.md). `MODELSEAL_S3_RANGE_MIB`, `MODELSEAL_S3_CONCURRENCY` and
/// `MODELSEAL_S3_OBJECTS` adjust it, as for the CLI. KServe's `S3_CONNECT_TIMEOUT` (15 s),
/// `S3_READ_TIMEOUT` (30 s) and `S3_MAX_ATTEMPTS` are honoured; attempts default to 5, not
/// KServe's 3, because a retried range resumes where it broke.
fn init_tuning(env: &Env) -> Result<Tuning, String> {
    let num = |var: &str| {
        env.get(var)
            .and_then(|v| v.parse::<u64>().ok())
            .filter(|n| *n > 0)
    };
    let seconds = |var: &str, default: std::time::Duration| match env.get(var).map(|v| v.trim()) {
        None | Some("") => Ok(default),
        Some(v) => v
            .parse::<f64>()
            .ok()
            .and_then(|s| std::time::Duration::try_from_secs_f64(s).ok())
            .filter(|d| !d.is_zero())
            .ok_or_else(|| format!("{var} '{v}' is not a positive number of seconds")),
    };
    let attempts = match env.get("S3_MAX_ATTEMPTS").map(|v| v.trim()) {
        None | Some("") => Tuning::default().max_attempts,
        Some(v) => v
            .parse::<u32>()
            .ok()
            .filter(|n| *n > 0)
            .ok_or_else(|| format!("S3_MAX_ATTEMPTS '{v}' is not a positive whole number"))?,
    };
    Ok(Tuning {
        range_size: num("MODELSEAL_S3_RANGE_MIB").map_or(6 << 20, |m| m << 20),
        max_in_flight: num("MODELSEAL_S3_CONCURRENCY").map_or(6, |n| n as usize),
        parallel_objects: num("MODELSEAL_S3_OBJECTS").map_or(4, |n| n as usize),
        connect_timeout: seconds("S3_CONNECT_TIMEOUT", modelseal_s3::DEFAULT_CONNECT_TIMEOUT)?,
        read_timeout: seconds("S3_READ_TIMEOUT", modelseal_s3::DEFAULT_READ_TIMEOUT)?,
        max_attempts: attempts,
        ..Tuning::default()
    })
}

async fn sdk_config(s3: &S3Settings, tuning: &Tuning) -> Result<SdkConfig, String> {
    let mut loader = aws_config::defaults(BehaviorVersion::latest());
    loader = match &s3.region {
        Some(r) => loader.region(Region::new(r.clone())),
        None => loader.region(
            aws_config::meta::region::RegionProviderChain::default_provider()
                .or_else(Region::new("us-east-1")),
        ),
    };
    if s3.anonymous {
        loader = loader.no_credentials();
    } else if let Some((id, secret)) = &s3.static_keys {
        loader = loader.credentials_provider(aws_sdk_credentials(id, secret));
    }
    if let Some(path) = &s3.ca_bundle {
        let pem = read_config_file(path, "the CA bundle", evidence::TRUST_LIMIT)?;
        use aws_smithy_http_client::tls;
        let context = tls::TlsContext::builder()
            .with_trust_store(tls::TrustStore::default().with_pem_certificate(pem))
            .build()
            .map_err(|e| format!("unusable CA bundle {}: {e}", path.display()))?;
        let client = aws_smithy_http_client::Builder::new()
            .tls_provider(tls::Provider::Rustls(
                tls::rustls_provider::CryptoMode::AwsLc,
            ))
            .tls_context(context)
            .build_https();
        loader = loader.http_client(client);
    }
    if s3.verify_ssl_off_requested {
        log("S3_VERIFY_SSL=0 is noted, but TLS certificates are still verified; give a private CA with AWS_CA_BUNDLE");
    }
    Ok(loader
        .timeout_config(modelseal_s3::sdk_timeouts(
            tuning.connect_timeout,
            tuning.read_timeout,
        ))
        .retry_config(modelseal_s3::sdk_retries(tuning.max_attempts))
        .load()
        .await)
}

fn aws_sdk_credentials(id: &str, secret: &str) -> aws_credential_types::Credentials {
    aws_credential_types::Credentials::new(id, secret, None, None, "STORAGE_CONFIG")
}

/// Reads a mounted file (key, CA bundle): a regular file, symlinks followed (Kubernetes mounts
/// Secrets and ConfigMaps through them), within `limit` bytes.
fn read_config_file(path: &Path, what: &str, limit: u64) -> Result<Vec<u8>, String> {
    evidence::read(path, limit, evidence::Links::Follow)
        .map_err(|e| format!("cannot read {what} {}: {e}", path.display()))
}

/// The trust policy every pair is checked with: MODELSEAL_POLICY or MODELSEAL_POLICY_JSON, or
/// the one-rule policy the other trust variables make, built as the CLI builds its own
/// (`modelseal_fetch::trust`), with VERIFICATION_DIGEST as its pin; or that pin alone.
async fn trust_policy(config: &Config, sdk: &SdkConfig) -> Result<Policy, String> {
    let now = modelseal_fetch::trust::now();
    let (document, shown) = match config.trust.source()? {
        TrustSource::PinOnly(pin) => return Ok(Policy::pin_only(pin, now)),
        TrustSource::Policy(path) => (
            modelseal_fetch::trust::read_policy_file(&path)?,
            format!("trust policy {}: ", path.display()),
        ),
        TrustSource::PolicyJson(text) => (
            Document::from_json(text.as_bytes())
                .map_err(|e| format!("MODELSEAL_POLICY_JSON: {e}"))?,
            "MODELSEAL_POLICY_JSON: ".to_string(),
        ),
        TrustSource::Shorthand(s) => (
            s.document()
                .map_err(|e| e.to_string())?
                .ok_or("no trust configured")?,
            String::new(),
        ),
    };
    let mut kms = BTreeMap::new();
    for reference in document.kms_references() {
        let key = kms_key(&reference, sdk).await?;
        kms.insert(reference, key);
    }
    let policy =
        modelseal_fetch::trust::build(document, kms, now).map_err(|e| format!("{shown}{e}"))?;
    Ok(policy.with_pin(config.trust.pin.clone()))
}

#[cfg(feature = "kms")]
async fn kms_key(reference: &str, sdk: &SdkConfig) -> Result<PublicKey, String> {
    let r = modelseal_kms::KeyRef::parse(reference).map_err(|e| format!("MODELSEAL_KEY: {e}"))?;
    modelseal_kms::fetch_public_key(&r, sdk)
        .await
        .map_err(|e| format!("MODELSEAL_KEY: {e}"))
}

#[cfg(not(feature = "kms"))]
async fn kms_key(reference: &str, _sdk: &SdkConfig) -> Result<PublicKey, String> {
    Err(format!("MODELSEAL_KEY {reference}: this build has no KMS support; mount the public key and set MODELSEAL_PUBLIC_KEY"))
}

/// The reason for a failed fetch, in one line, naming the object and what was wrong with it.
fn reason(e: &FetchError) -> String {
    match e {
        FetchError::Mismatch { mismatch, .. } => format!("{e}: {}", mismatch.lines().join("; ")),
        // Where the CLI prints a `hint:` line, the one line KServe shows carries it.
        FetchError::S3(s3) if matches!(**s3, modelseal_s3::S3Error::Credentials(_)) => format!(
            "{e}; hint: give the pod credentials as KServe's initializer reads them: IRSA (a \
             ServiceAccount annotated with eks.amazonaws.com/role-arn), or AWS_ACCESS_KEY_ID \
             and AWS_SECRET_ACCESS_KEY from a Secret"
        ),
        _ => e.to_string(),
    }
}

/// The STORAGE_ALLOW_PATTERNS / STORAGE_IGNORE_PATTERNS selection, if any.
fn selector(config: &Config) -> Option<impl Fn(&ResourcePath) -> bool + '_> {
    if config.allow.is_empty() && config.ignore.is_empty() {
        return None;
    }
    Some(move |p: &ResourcePath| {
        let name = p.as_str();
        (config.allow.is_empty() || config.allow.iter().any(|pat| glob::fnmatch(pat, name)))
            && !config.ignore.iter().any(|pat| glob::fnmatch(pat, name))
    })
}

/// What every pair is fetched with, beside the configuration.
struct Settings {
    max_unpacked: u64,
    progress_every: std::time::Duration,
}

async fn fetch_pair(
    engine: &Engine,
    config: &Config,
    policy: &Policy,
    src: &str,
    dest: &Path,
    other_dests: &[PathBuf],
    settings: Settings,
) -> Result<(), String> {
    let Settings {
        max_unpacked,
        progress_every,
    } = settings;
    if !src.starts_with("s3://") {
        return Err(format!(
            "{src}: only s3:// URIs are supported by modelseal-init"
        ));
    }
    let uri = S3Uri::parse(src).map_err(|e| e.to_string())?;
    let located = locate(engine, &uri).await.map_err(|e| reason(&e))?;
    let signature = match &config.trust.signature {
        Some(s) => Some(SignatureSource::S3(
            S3Uri::parse(s).map_err(|e| format!("MODELSEAL_SIGNATURE: {e}"))?,
        )),
        None => None,
    };
    let staging = prepare_staging(dest).map_err(|e| reason(&e))?;
    // KServe's DEST is an emptyDir: what it holds (a crashed run's files, a restarted pod's
    // earlier model, anything unsigned) is removed, so DEST ends with exactly the signed files.
    let removed = clear_dest(dest, other_dests).map_err(|e| reason(&e))?;
    if !removed.is_empty() {
        log(format!(
            "removed what {} held before this run: {}",
            dest.display(),
            removed.join(", ")
        ));
    }
    // One line per interval in the pod's log while bytes move (kserve#6016).
    let (_, total) = located.listed();
    let moved = engine.bytes_moved();
    let shown = located.uri();
    let ticker = progress::Ticker::start(
        progress_every,
        Some(total),
        move || moved.load(std::sync::atomic::Ordering::Relaxed),
        move |line| log(format!("{shown}: {line}")),
    );
    let result = stage_and_place(
        engine,
        config,
        &located,
        (policy, signature),
        &staging,
        dest,
        max_unpacked,
    )
    .await;
    drop(ticker);
    if result.is_err() && !remove_staging(&staging) {
        log(format!("could not remove {}", staging.display()));
    }
    result
}

async fn stage_and_place(
    engine: &Engine,
    config: &Config,
    located: &Located,
    (policy, signature): (&Policy, Option<SignatureSource>),
    staging: &Path,
    dest: &Path,
    max_unpacked: u64,
) -> Result<(), String> {
    let started = std::time::Instant::now();
    // KServe applies the patterns to files under a prefix, not to an exact object.
    let select = if located.is_single_file() {
        None
    } else {
        selector(config)
    };
    let select_ref = select.as_ref().map(|f| f as &dyn Fn(&ResourcePath) -> bool);
    let unsigned = if config.ignore_unsigned_files {
        UnsignedFiles::Tolerate
    } else {
        UnsignedFiles::Refuse
    };
    let fetched = fetch(
        engine,
        located,
        policy,
        signature,
        unsigned,
        Some(staging),
        select_ref,
    )
    .await
    .map_err(|e| reason(&e))?;
    if !fetched.plan.unsigned.is_empty() {
        log(format!(
            "skipped {} under {} that the signature does not cover (MODELSEAL_IGNORE_UNSIGNED_FILES): {}",
            count(fetched.plan.unsigned.len(), "object"),
            located.uri(),
            fetched.plan.unsigned.iter().map(ToString::to_string).collect::<Vec<_>>().join(", ")
        ));
    }
    if !fetched.plan.skipped.is_empty() {
        log(format!(
            "selected {} of {} signed files (STORAGE_ALLOW_PATTERNS {:?}, STORAGE_IGNORE_PATTERNS {:?}); not placed: {}",
            fetched.plan.jobs.len(),
            fetched.plan.jobs.len() + fetched.plan.skipped.len(),
            config.allow,
            config.ignore,
            fetched.plan.skipped.iter().map(ToString::to_string).collect::<Vec<_>>().join(", ")
        ));
    }
    let legacy = if fetched.verified.predicate.is_legacy() {
        format!("; legacy predicate {}", fetched.verified.predicate.uri())
    } else {
        String::new()
    };
    let by = match &fetched.accepted {
        Some(a) if a.rule == a.authority => format!("; by '{}'", a.authority),
        Some(a) => format!("; by authority '{}' of rule '{}'", a.authority, a.rule),
        None => "; by VERIFICATION_DIGEST".to_string(),
    };
    log(format!(
        "verified {} ({}, digest sha256:{}{legacy}{by}) in {:.1} s",
        located.uri(),
        count(fetched.verified.items, "item"),
        fetched.verified.digest.to_hex(),
        started.elapsed().as_secs_f64()
    ));
    // A single downloaded archive is unpacked, after verification, as KServe does.
    let single = match fetched.plan.jobs.as_slice() {
        [job] => Some(located.placed_name(&job.path)),
        _ => None,
    };
    if let Some((name, kind)) = single.and_then(|n| archive::kind(&n).map(|k| (n, k))) {
        let kind = kind?;
        let into = staging.join(".unpacked");
        std::fs::create_dir(&into).map_err(|e| format!("cannot create {}: {e}", into.display()))?;
        let files = archive::extract(&staging.join(&name), kind, &into, max_unpacked)
            .map_err(|e| format!("cannot unpack {name}: {e}"))?;
        // DEST was emptied before the download; its top-level entries are renamed in, so
        // nothing in DEST is walked through or merged with.
        for entry in
            std::fs::read_dir(&into).map_err(|e| format!("cannot list {}: {e}", into.display()))?
        {
            let entry = entry.map_err(|e| format!("cannot list {}: {e}", into.display()))?;
            let to = dest.join(entry.file_name());
            if std::fs::symlink_metadata(&to).is_ok() {
                return Err(format!(
                    "cannot place {}: it appeared in DEST during the run",
                    to.display()
                ));
            }
            std::fs::rename(entry.path(), &to)
                .map_err(|e| format!("cannot place {}: {e}", to.display()))?;
        }
        remove_staging(staging);
        log(format!(
            "unpacked {name} ({}) into {}",
            count(files, "file"),
            dest.display()
        ));
        return Ok(());
    }
    let placed = place(located, &fetched, staging, dest, false).map_err(|e| reason(&e))?;
    log(format!(
        "placed {} in {}",
        count(placed.files.len(), "file"),
        dest.display()
    ));
    Ok(())
}
