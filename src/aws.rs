//! The AWS context, made only for commands that touch S3 or KMS: a tokio runtime and the loaded
//! configuration chain.

use aws_config::SdkConfig;
use modelseal_s3::{CredentialsKind, CredentialsProblem, Engine, Options, S3Error, Tuning};

use crate::cli::AwsArgs;
use crate::failure::Failure;

pub struct Aws {
    pub rt: tokio::runtime::Runtime,
    pub sdk: SdkConfig,
    pub options: Options,
    /// `--kms-endpoint-url`.
    pub kms_endpoint: Option<String>,
    tuning: Tuning,
}

/// Seconds from a flag; a value that is not a positive finite number is refused.
fn seconds(flag: &str, value: f64) -> Result<std::time::Duration, Failure> {
    std::time::Duration::try_from_secs_f64(value)
        .ok()
        .filter(|d| !d.is_zero())
        .ok_or_else(|| {
            Failure::cannot_check(
                format!("{flag} {value} is not a positive number of seconds"),
                format!("pass {flag} SECS, e.g. {flag} 30"),
            )
        })
}

/// How the AWS context drives its I/O.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Runtime {
    /// One thread for every connection: downloads (`pull`, `verify s3://`, `sign s3://`),
    /// whose hashing and writing run on threads of their own. Against worker threads it saves
    /// CPU per GiB as it does for modelseal-init (bench/README.md).
    OneThread,
    /// Worker threads: `push` hashes each part on the runtime as it goes up; `audit` spends its
    /// time signing and parsing thousands of small requests (a shallow audit of 10,000 objects
    /// on moto took 36 s on one thread, 33 s on workers); a KMS key signs by blocking on them.
    Workers,
}

impl Aws {
    pub fn new(args: &AwsArgs, runtime: Runtime) -> Result<Aws, Failure> {
        let mut builder = match runtime {
            Runtime::OneThread => tokio::runtime::Builder::new_current_thread(),
            Runtime::Workers => tokio::runtime::Builder::new_multi_thread(),
        };
        let rt = builder.enable_all().build().map_err(|e| {
            Failure::cannot_check(
                format!("cannot start the async runtime: {e}"),
                "check the system's thread limits",
            )
        })?;
        let env_endpoint = ["AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL"]
            .iter()
            .any(|v| std::env::var_os(v).is_some_and(|s| !s.is_empty()));
        let options = Options {
            endpoint_url: args.endpoint_url.clone(),
            force_path_style: args.path_style || args.endpoint_url.is_some() || env_endpoint,
            region: args.kms.region.clone(),
            anonymous: false,
            accelerate: false,
            profile: args.kms.profile.clone(),
        };
        let mut tuning = tuning_from_env()?;
        tuning.connect_timeout = seconds("--connect-timeout", args.kms.connect_timeout)?;
        tuning.read_timeout = seconds("--read-timeout", args.kms.read_timeout)?;
        tuning.max_attempts = args.kms.max_attempts;
        rt.block_on(check_profile(args.kms.profile.as_deref()))?;
        let profile = args
            .kms
            .profile
            .clone()
            .or_else(|| std::env::var("AWS_PROFILE").ok().filter(|p| !p.is_empty()));
        if let Some(p) = profile {
            let _ = PROFILE.set(p);
        }
        let sdk = rt.block_on(modelseal_s3::load_sdk_config(&options, &tuning));
        Ok(Aws {
            rt,
            sdk,
            options,
            kms_endpoint: args.kms.kms_endpoint_url.clone(),
            tuning,
        })
    }

    /// The engine; `objects` (a command's `--threads`) overrides how many objects are
    /// downloaded and hashed at once.
    pub fn engine(&self, objects: Option<usize>) -> Engine {
        let mut tuning = self.tuning.clone();
        if let Some(n) = objects {
            tuning.parallel_objects = n;
        }
        Engine::from_sdk_config(&self.sdk, &self.options, tuning)
    }
}

/// A named profile (`--profile`, else `AWS_PROFILE`) must exist in the shared config files, as
/// the aws CLI insists; the SDK would otherwise skip it and fail later with an unrelated error.
async fn check_profile(flag: Option<&str>) -> Result<(), Failure> {
    let from_env = std::env::var("AWS_PROFILE").ok().filter(|p| !p.is_empty());
    let Some(name) = flag.map(str::to_string).or(from_env) else {
        return Ok(());
    };
    let set = aws_config::profile::load(
        &aws_types::os_shim_internal::Fs::real(),
        &aws_types::os_shim_internal::Env::real(),
        &aws_runtime::env_config::file::EnvConfigFiles::default(),
        None,
    )
    .await;
    let found = match &set {
        Ok(set) => set.get_profile(&name).is_some(),
        // Unreadable or malformed files: let the SDK report it.
        Err(_) => return Ok(()),
    };
    if found || (name == "default" && flag.is_none()) {
        return Ok(());
    }
    let source = if flag.is_some() {
        "--profile"
    } else {
        "AWS_PROFILE"
    };
    Err(Failure::cannot_check(
        format!("the config profile '{name}' ({source}) could not be found in ~/.aws/config or ~/.aws/credentials"),
        "check the name (`aws configure list-profiles`), or create it with `aws configure --profile NAME`",
    ))
}

/// Maps an S3 failure: a changed object is a verdict (1); everything else stops the check (2).
pub fn s3_failure(e: S3Error) -> Failure {
    let hint = match e.cause() {
        S3Error::NoSuchBucket { .. } => "check the bucket name, the region and the endpoint (AWS_ENDPOINT_URL, --endpoint-url)",
        S3Error::NoSuchKey { .. } => "check the URI",
        S3Error::AccessDenied { .. } => "check the AWS credentials (AWS_PROFILE, AWS_ACCESS_KEY_ID, web identity) and the bucket policy",
        S3Error::ObjectChanged { .. } => "the object was replaced while it was read; do not use this model until it verifies",
        S3Error::Transport { .. } => "check the endpoint and the network, then try again (--read-timeout and --max-attempts allow a slow server more)",
        S3Error::GaveUp { .. } => "try again later",
        S3Error::Service {
            status: Some(500..=599 | 429),
            ..
        } => "the server kept failing; try again later (--max-attempts allows more attempts)",
        S3Error::Service { .. } => "check the request against the S3 error above",
        S3Error::Local { .. } => "check the local file or disk",
        S3Error::Credentials(p) => return credentials_failure(p, &p.message),
        S3Error::TooLarge { .. } => "this object is larger than any signature; check the URI",
        S3Error::Interrupted => "run the command again",
    };
    let debug = format!("{e:?}");
    match e {
        S3Error::ObjectChanged { .. } => Failure::untrusted(e.to_string(), hint),
        _ => Failure::cannot_check(e.to_string(), hint),
    }
    .with_debug(debug)
}

/// The profile in use (`--profile`, else `AWS_PROFILE`), for hints that name it.
static PROFILE: std::sync::OnceLock<String> = std::sync::OnceLock::new();

/// A credentials failure, from S3 or KMS alike: one `error:` line (`message`), one `hint:` line;
/// the SDK's causes only with `--verbose`.
pub fn credentials_failure(p: &CredentialsProblem, message: &str) -> Failure {
    let flag = PROFILE
        .get()
        .map_or(String::new(), |p| format!(" --profile {p}"));
    let hint = match p.kind {
        CredentialsKind::NotFound => "set AWS_PROFILE (or --profile), or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY; on a laptop, run `aws configure` or `aws sso login`".to_string(),
        CredentialsKind::Imds => "outside AWS, set AWS_PROFILE or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (AWS_EC2_METADATA_DISABLED=true skips IMDS); on EC2, check the instance profile".to_string(),
        CredentialsKind::SsoLogin => format!("run `aws sso login{flag}`, then try again"),
        CredentialsKind::Provider => format!("check the credential settings of the profile (`aws configure list{flag}`)"),
    };
    Failure::cannot_check(message, hint).with_debug(p.detail.clone())
}

/// The engine's tuning: the defaults and `MODELSEAL_S3_*` variables modelseal-init reads too
/// (one function, [`Tuning::with_env`]); a bad value is a usage error naming the variable.
pub fn tuning_from_env() -> Result<Tuning, Failure> {
    Tuning::default()
        .with_env(|var| std::env::var(var).ok())
        .map_err(|e| {
            Failure::cannot_check(
                e.to_string(),
                format!("set {} to a positive whole number, or unset it", e.var),
            )
        })
}
