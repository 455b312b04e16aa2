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
    clear_dest, evidence, fetch, locate, place, place_entries, prepare_staging, progress,
    remove_staging, stop_requested, unpack_dir, Located, SignatureSource,
};
use modelseal_kernel::manifest::{ResourcePath, UnsignedFiles};
use modelseal_kernel::trust::document::Document;
use modelseal_kernel::trust::Policy;
use modelseal_kernel::PublicKey;
use modelseal_s3::{Engine, Options, S3Uri, Tuning};

use modelseal_init::config::{self, Config, Env, S3Settings, TrustSource};
use modelseal_init::error::InitError;
use modelseal_init::{archive, glob};
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
        Err(error) => {
            let mut line = error.to_string().replace('\n', "; ");
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

fn run(args: &[String], env: Env) -> Result<(), InitError> {
    if args.is_empty() || args.len() % 2 != 0 {
        return Err(InitError::Usage);
    }
    let config = config::from_env(env)?;
    let tuning = config.tuning.clone();
    // One thread drives every connection; hashing and writing have threads of their own. Against
    // a two-worker runtime this saved ~0.3 CPU-seconds per GiB on two cores shared with the
    // S3 server, and ~0.2 s of wall time (bench/README.md).
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(InitError::Runtime)?;
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
            let work = fetch_pair(&engine, &config, &policy, &pair[0], dest, &others);
            // Kubernetes sends SIGTERM to stop a pod: stop downloading, remove the staged
            // files, exit. Placement has no await, so it is never cut in half.
            tokio::select! {
                r = work => r?,
                signal = stop_requested() => {
                    remove_staging(&dest.join(modelseal_fetch::STAGING_NAME));
                    return Err(InitError::Stopped {
                        signal: signal.to_string(),
                        src: pair[0].clone(),
                        dest: dest.to_path_buf(),
                    });
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

async fn sdk_config(s3: &S3Settings, tuning: &Tuning) -> Result<SdkConfig, InitError> {
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
        let pem =
            evidence::read(path, evidence::TRUST_LIMIT, evidence::Links::Follow).map_err(|e| {
                InitError::CaBundle {
                    path: path.clone(),
                    why: e.to_string(),
                }
            })?;
        use aws_smithy_http_client::tls;
        let context = tls::TlsContext::builder()
            .with_trust_store(tls::TrustStore::default().with_pem_certificate(pem))
            .build()
            .map_err(|e| InitError::CaBundle {
                path: path.clone(),
                why: e.to_string(),
            })?;
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

/// The trust policy every pair is checked with: MODELSEAL_POLICY or MODELSEAL_POLICY_JSON, or
/// the one-rule policy the other trust variables make, built as the CLI builds its own
/// (`modelseal_fetch::trust`), with VERIFICATION_DIGEST as its pin; or that pin alone.
async fn trust_policy(config: &Config, sdk: &SdkConfig) -> Result<Policy, InitError> {
    let now = modelseal_fetch::trust::now();
    let (document, shown) = match config.trust.source()? {
        TrustSource::PinOnly(pin) => return Ok(Policy::pin_only(pin, now)),
        TrustSource::Policy(path) => (
            modelseal_fetch::trust::read_policy_file(&path).map_err(InitError::PolicyFile)?,
            format!("trust policy {}: ", path.display()),
        ),
        TrustSource::PolicyJson(text) => {
            let source = "MODELSEAL_POLICY_JSON: ".to_string();
            let document =
                Document::from_json(text.as_bytes()).map_err(|error| InitError::Policy {
                    source: source.clone(),
                    error,
                })?;
            (document, source)
        }
        TrustSource::Shorthand(s) => (
            s.document()
                .map_err(|error| InitError::Policy {
                    source: String::new(),
                    error,
                })?
                .ok_or(config::ConfigError::NoTrust)?,
            String::new(),
        ),
    };
    let mut kms = BTreeMap::new();
    for reference in document.kms_references() {
        let key = kms_key(&reference, sdk).await?;
        kms.insert(reference, key);
    }
    let policy =
        modelseal_fetch::trust::build(document, kms, now).map_err(|error| InitError::Policy {
            source: shown,
            error,
        })?;
    Ok(policy.with_pin(config.trust.pin.clone()))
}

#[cfg(feature = "kms")]
async fn kms_key(reference: &str, sdk: &SdkConfig) -> Result<PublicKey, InitError> {
    let kms = |e: modelseal_kms::KmsError| InitError::Kms {
        reference: reference.to_string(),
        why: e.to_string(),
    };
    let r = modelseal_kms::KeyRef::parse(reference).map_err(kms)?;
    modelseal_kms::fetch_public_key(&r, sdk).await.map_err(kms)
}

#[cfg(not(feature = "kms"))]
async fn kms_key(reference: &str, _sdk: &SdkConfig) -> Result<PublicKey, InitError> {
    Err(InitError::Kms {
        reference: reference.to_string(),
        why: "this build has no KMS support; mount the public key and set MODELSEAL_PUBLIC_KEY"
            .into(),
    })
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

async fn fetch_pair(
    engine: &Engine,
    config: &Config,
    policy: &Policy,
    src: &str,
    dest: &Path,
    other_dests: &[PathBuf],
) -> Result<(), InitError> {
    if !src.starts_with("s3://") {
        return Err(InitError::Source {
            what: src.to_string(),
            why: "only s3:// URIs are supported by modelseal-init".into(),
        });
    }
    let uri = S3Uri::parse(src).map_err(|e| InitError::uri(src, &e))?;
    let located = locate(engine, &uri).await?;
    let signature = match &config.trust.signature {
        Some(s) => Some(SignatureSource::S3(
            S3Uri::parse(s).map_err(|e| InitError::uri("MODELSEAL_SIGNATURE", &e))?,
        )),
        None => None,
    };
    let staging = prepare_staging(dest)?;
    // KServe's DEST is an emptyDir: what it holds (a crashed run's files, a restarted pod's
    // earlier model, anything unsigned) is removed, so DEST ends with exactly the signed files.
    let removed = clear_dest(dest, other_dests)?;
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
        config.progress_every,
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
) -> Result<(), InitError> {
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
    .await?;
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
        let unpack = |error| InitError::Unpack {
            name: name.clone(),
            error,
        };
        let kind = kind.map_err(unpack)?;
        let into = unpack_dir(staging)?;
        let files = archive::extract(&staging.join(&name), kind, &into, config.max_unpacked)
            .map_err(unpack)?;
        // DEST was emptied before the download; fetch renames the unpacked top-level entries
        // in, as it places any verified model.
        place_entries(&into, staging, dest)?;
        log(format!(
            "unpacked {name} ({}) into {}",
            count(files, "file"),
            dest.display()
        ));
        return Ok(());
    }
    let placed = place(located, &fetched, staging, dest, false)?;
    log(format!(
        "placed {} in {}",
        count(placed.files.len(), "file"),
        dest.display()
    ));
    Ok(())
}
