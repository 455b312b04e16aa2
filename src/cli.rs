//! Command-line arguments.

use std::path::PathBuf;

use clap::{Parser, Subcommand};
use modelseal_s3::S3Uri;

/// Where a model (or its signature) is: a local path, or an object or prefix in S3. clap parses
/// it, so a command matches on the two cases instead of testing strings.
#[derive(Clone, Debug)]
pub enum Location {
    Local(PathBuf),
    S3(Remote),
}

/// An `s3://` URI as parsed, with the text the user gave (what messages show).
#[derive(Clone, Debug)]
pub struct Remote {
    pub uri: S3Uri,
    pub given: String,
}

impl Remote {
    pub fn as_str(&self) -> &str {
        &self.given
    }
}

const MALFORMED_HINT: &str = "write s3://BUCKET/KEY (lowercase s3, a colon and two slashes)";

/// `S3://b/k`, `s3:/b/k`, `s3//b/k` and the like are refused rather than taken for local
/// paths, unless a local file of that name exists.
fn malformed(text: &str) -> Option<String> {
    (modelseal_s3::is_malformed_s3(text) && !std::path::Path::new(text).exists())
        .then(|| format!("'{text}' is a malformed S3 URI; {MALFORMED_HINT}"))
}

/// A model location: `s3://...`, else a local path.
pub fn location(text: &str) -> Result<Location, String> {
    if text.starts_with("s3://") {
        return remote(text).map(Location::S3);
    }
    local_path(text).map(Location::Local)
}

/// An `s3://` URI (the only kind a command takes here).
pub fn remote(text: &str) -> Result<Remote, String> {
    if let Some(why) = malformed(text) {
        return Err(why);
    }
    let uri = S3Uri::parse(text).map_err(|e| format!("{e}; {MALFORMED_HINT}"))?;
    Ok(Remote {
        uri,
        given: text.to_string(),
    })
}

/// Text that is not a mistyped S3 URI (a signature given inline or as a path).
pub fn not_malformed(text: &str) -> Result<String, String> {
    match malformed(text) {
        Some(why) => Err(why),
        None => Ok(text.to_string()),
    }
}

/// A local path that is not a mistyped S3 URI.
pub fn local_path(text: &str) -> Result<PathBuf, String> {
    match malformed(text) {
        Some(why) => Err(why),
        None => Ok(PathBuf::from(text)),
    }
}

#[derive(Parser, Debug)]
#[command(
    name = "modelseal",
    version = concat!(env!("CARGO_PKG_VERSION"), " (", env!("MODELSEAL_COMMIT"), ")"),
    about = "Sign ML models and refuse to serve them unless the signature verifies",
    after_help = "Exit codes: 0 verified or done; 1 the artifact cannot be trusted; 2 the check could not be run."
)]
pub struct Cli {
    /// No progress bar or progress lines on stderr (errors and warnings stay).
    #[arg(short, long, global = true, help_heading = "Output")]
    pub quiet: bool,
    /// On an AWS failure, also print every cause the SDK gave (after the error and hint).
    #[arg(short, long, global = true, help_heading = "Output")]
    pub verbose: bool,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Write an encrypted cosign.key and cosign.pub, as `cosign generate-key-pair` does.
    #[command(after_help = "Example:
  COSIGN_PASSWORD=... modelseal generate-key-pair            # cosign.key + cosign.pub
  modelseal generate-key-pair --kms awskms:///alias/model-signer")]
    #[command(display_order = 9)]
    GenerateKeyPair(GenerateKeyPairArgs),

    /// Print a key's public half as PEM (file keys, or awskms:// keys via GetPublicKey).
    #[command(after_help = "Example:
  modelseal public-key --key cosign.key --outfile cosign.pub
  modelseal public-key --key awskms:///alias/model-signer")]
    #[command(display_order = 10)]
    PublicKey(PublicKeyArgs),

    /// Sign (unless --signature names an existing bundle) and upload a model and its signature to
    /// S3, every object encrypted with SSE-KMS; the signature goes up last.
    #[command(after_help = "Example:
  modelseal push ./model s3://models/resnet --key cosign.key --sse-kms-key-id alias/models")]
    #[command(display_order = 6)]
    #[command(group(clap::ArgGroup::new("encryption").required(true).multiple(true).args(["sse_kms_key_id", "sse"])))]
    Push(PushArgs),

    /// Download a model from S3, verify it while it streams, then place it under DEST.
    #[command(after_help = "Example:
  modelseal pull s3://models/resnet ./resnet --key cosign.pub")]
    #[command(display_order = 7)]
    Pull(PullArgs),

    /// Audit a model bucket: every model verified, every object's encryption, unsigned objects,
    /// objects outside their model's manifest, and the bucket's policy, versioning and public
    /// access block. Exit 1 when there is any finding, 0 when clean, 2 when it could not run.
    #[command(after_help = "Example:
  modelseal audit s3://models --key cosign.pub --sse-kms-key-id alias/models
  modelseal audit s3://models/llm --key cosign.pub --shallow --json")]
    #[command(display_order = 8)]
    Audit(AuditArgs),

    #[command(display_order = 12)]
    /// Print S3 bucket policies.
    Policy {
        #[command(subcommand)]
        which: PolicyCommand,
    },
    #[command(display_order = 11)]
    /// Trust material: check a trust policy, refresh and show Sigstore's trusted root.
    Trust {
        #[command(subcommand)]
        which: TrustCommand,
    },
    /// Sign a model directory or file, writing an OMS v1.0 bundle (model_signing compatible).
    #[command(after_help = "Example:
  modelseal sign ./model --key cosign.key                     # writes ./model/model.sig
  modelseal sign ./model --key awskms:///alias/model-signer --ignore-paths ./model/README.md
  modelseal sign s3://models/resnet --key awskms:///alias/model-signer --sse-kms-key-id alias/models")]
    #[command(display_order = 1)]
    Sign(SignArgs),

    /// Verify a model directory or file against an OMS v1.0 bundle.
    #[command(after_help = "Example:
  modelseal verify ./model --key cosign.pub
  modelseal verify s3://models/resnet --key cosign.pub --json
  modelseal verify ./model --certificate-chain ca.pem --certificate-identity pipeline@example.com
  modelseal verify ./model --certificate-identity-regexp 'https://github\\.com/org/repo/.*' \\
    --certificate-oidc-issuer https://token.actions.githubusercontent.com

Regexps must match the whole value (cosign searches unanchored: there `org/repo` also matches
`evil-org/repo-x`). Keyless bundles are checked offline against --trusted-root, or the Sigstore
production root modelseal carries.")]
    #[command(display_order = 2)]
    Verify(VerifyArgs),

    /// Print the digest a pin is compared with (`verify --digest`, `VERIFICATION_DIGEST`): the
    /// root digest a directory gets when signed as `sign` signs it, or a single file's SHA-256.
    #[command(after_help = "Example:
  modelseal digest ./model                    # sha256:... (a directory: the signed root digest)
  modelseal verify s3://models/resnet --key cosign.pub --digest sha256:...")]
    #[command(display_order = 3)]
    Digest(DigestArgs),

    /// Sign a file as `cosign sign-blob --key` does.
    #[command(after_help = "Example:
  modelseal sign-blob model.onnx --key cosign.key --bundle model.onnx.sigstore.json
  modelseal sign-blob model.onnx --key cosign.key > model.onnx.sig")]
    #[command(display_order = 4)]
    SignBlob(SignBlobArgs),

    /// Verify a file as `cosign verify-blob` does: with a key, or keyless (a certificate
    /// identity and OIDC issuer, checked offline against a Sigstore trusted root).
    #[command(after_help = "Example:
  modelseal verify-blob model.onnx --key cosign.pub --bundle model.onnx.sigstore.json
  modelseal verify-blob model.onnx --key cosign.pub --signature model.onnx.sig
  modelseal verify-blob model.onnx --bundle model.onnx.sigstore.json \\
    --certificate-identity-regexp 'https://github.com/org/repo/\\.github/workflows/.*' \\
    --certificate-oidc-issuer https://token.actions.githubusercontent.com")]
    #[command(display_order = 5)]
    #[command(group(clap::ArgGroup::new("signature_source").required(true).args(["signature", "bundle"])))]
    VerifyBlob(VerifyBlobArgs),

    /// Print a shell completion script (bash, zsh, fish or powershell).
    #[command(after_help = "Example:
  modelseal completions bash > ~/.local/share/bash-completion/completions/modelseal
  modelseal completions zsh > \"${fpath[1]}/_modelseal\"")]
    #[command(display_order = 13)]
    Completions {
        /// The shell.
        #[arg(value_enum)]
        shell: Shell,
    },
    /// Write the command reference (scripts/gen-docs.sh runs it).
    #[command(hide = true)]
    Reference {
        /// Write the markdown reference here (docs/cli.md).
        #[arg(long, value_name = "FILE")]
        markdown: Option<PathBuf>,
        /// Write man pages into this directory.
        #[arg(long, value_name = "DIR")]
        man: Option<PathBuf>,
    },
}

#[derive(clap::Args, Debug)]
pub struct GenerateKeyPairArgs {
    /// Prefix of the two files written.
    #[arg(long, default_value = "cosign")]
    pub output_key_prefix: String,
    /// Overwrite existing key files.
    #[arg(long)]
    pub force: bool,
    /// Create the key in AWS KMS instead (awskms:///alias/NAME); only cosign.pub is written.
    #[arg(long)]
    pub kms: Option<String>,
    /// Print one JSON object on stdout, on failure too (docs/json-output.schema.json).
    #[arg(long, help_heading = "Output")]
    pub json: bool,
    #[command(flatten)]
    pub aws: KmsArgs,
}

#[derive(clap::Args, Debug)]
pub struct PublicKeyArgs {
    /// The key: cosign.key, a PEM private or public key, env://VAR, or awskms://...
    #[arg(long)]
    pub key: String,
    /// Write the PEM here instead of stdout.
    #[arg(value_parser = local_path, long)]
    pub outfile: Option<PathBuf>,
    /// Print one JSON object on stdout, on failure too (docs/json-output.schema.json).
    #[arg(long, help_heading = "Output")]
    pub json: bool,
    #[command(flatten)]
    pub aws: KmsArgs,
}

#[derive(clap::Args, Debug)]
pub struct PushArgs {
    /// The model: a directory, or a single file.
    #[arg(value_parser = local_path)]
    pub model: PathBuf,
    /// s3://BUCKET/PREFIX
    #[arg(value_parser = remote)]
    pub uri: Remote,
    /// Signing key (cosign.key, PEM, awskms://...); with --signature, the key to check it.
    /// Without it (and without --signature), the model is signed keyless.
    #[arg(long)]
    pub key: Option<String>,
    /// Upload this existing bundle instead of signing (checked against the model first).
    #[arg(long, value_parser = local_path)]
    pub signature: Option<PathBuf>,
    #[command(flatten)]
    pub certificate: CertificateArgs,
    /// The KMS key (id, alias or ARN) to encrypt every object with (or give --sse aws:kms).
    #[arg(long, value_name = "KEY")]
    pub sse_kms_key_id: Option<String>,
    /// `aws:kms` without --sse-kms-key-id: the bucket's default KMS key.
    #[arg(long, value_parser = ["aws:kms"])]
    pub sse: Option<String>,
    /// Print one JSON object on stdout, on failure too (docs/json-output.schema.json).
    #[arg(long, help_heading = "Output")]
    pub json: bool,
    #[command(flatten)]
    pub cosign: CosignFlags,
    #[command(flatten)]
    pub sigstore: SigstoreArgs,
    #[command(flatten)]
    pub aws: AwsArgs,
    #[command(flatten)]
    pub serialization: SerializationArgs,
    #[command(flatten)]
    pub hashing: Hashing,
}

#[derive(clap::Args, Debug)]
pub struct PullArgs {
    /// s3://BUCKET/PREFIX (a model directory) or s3://BUCKET/KEY (a single-file model).
    #[arg(value_parser = remote)]
    pub uri: Remote,
    /// The directory to place the model in: new or empty (see --force); left as it was if
    /// anything fails.
    #[arg(value_parser = local_path)]
    pub dest: PathBuf,
    /// Empty DEST first when it holds anything (DEST ends with exactly the signed files).
    #[arg(long)]
    pub force: bool,
    #[command(flatten)]
    pub check: CheckArgs,
    #[command(flatten)]
    pub aws: AwsArgs,
}

#[derive(clap::Args, Debug)]
pub struct AuditArgs {
    /// s3://BUCKET or s3://BUCKET/PREFIX
    #[arg(value_parser = remote)]
    pub uri: Remote,
    #[command(flatten)]
    pub trust: TrustArgs,
    /// The KMS key (id, alias or ARN) every object must be encrypted with [default: any
    /// SSE-KMS key].
    #[arg(long, value_name = "KEY", alias = "kms-key")]
    pub sse_kms_key_id: Option<String>,
    /// Check signatures and listings against the manifests only; do not download and hash.
    #[arg(long)]
    pub shallow: bool,
    /// Accept bundles carrying transparency-log entries without verifying them.
    #[arg(long)]
    pub insecure_ignore_tlog: bool,
    /// Print one JSON object on stdout (findings name the full object key and their kind;
    /// docs/json-output.schema.json).
    #[arg(long, help_heading = "Output")]
    pub json: bool,
    #[command(flatten)]
    pub aws: AwsArgs,
}

#[derive(clap::Args, Debug)]
pub struct SignArgs {
    /// The model: a directory, a single file, or s3://BUCKET/PREFIX (signed where it is:
    /// streamed and hashed, nothing kept; the signature goes to PREFIX/model.sig or KEY.sig).
    #[arg(value_parser = location)]
    pub model: Location,
    /// Private key: cosign encrypted key, PKCS#8 / SEC1 EC PEM, env://VAR, or awskms://...
    /// Without it, the model is signed keyless (an identity token, see below).
    #[arg(long)]
    pub key: Option<String>,
    /// Where to write the bundle [default: MODEL/model.sig, or FILE.sig for a file]. cosign's
    /// spellings --output-signature and --output are accepted.
    #[arg(long, value_parser = local_path, aliases = ["output-signature", "output"])]
    pub signature: Option<PathBuf>,
    /// Files or directories of the model to leave out of the signature, recorded in its
    /// ignore_paths (absolute or relative to the working directory, as model_signing reads
    /// them); repeatable.
    #[arg(long, value_name = "PATH")]
    pub ignore_paths: Vec<PathBuf>,
    /// s3:// models: the KMS key (id, alias or ARN) to encrypt the signature object with.
    #[arg(long)]
    pub sse_kms_key_id: Option<String>,
    /// s3:// models: `aws:kms` without --sse-kms-key-id, the bucket's default KMS key.
    #[arg(long, value_parser = ["aws:kms"])]
    pub sse: Option<String>,
    /// Replace an existing signature. A local sign always replaces MODEL/model.sig (as
    /// model_signing and cosign do); `sign s3://` replaces a signature object only with it.
    #[arg(long)]
    pub force: bool,
    #[command(flatten)]
    pub certificate: CertificateArgs,
    /// Print one JSON object on stdout, on failure too (docs/json-output.schema.json).
    #[arg(long, help_heading = "Output")]
    pub json: bool,
    #[command(flatten)]
    pub cosign: CosignFlags,
    #[command(flatten)]
    pub sigstore: SigstoreArgs,
    #[command(flatten)]
    pub serialization: SerializationArgs,
    #[command(flatten)]
    pub hashing: Hashing,
    #[command(flatten)]
    pub aws: AwsArgs,
}

#[derive(clap::Args, Debug)]
pub struct VerifyArgs {
    /// The model: a directory, a single file, or s3://BUCKET/PREFIX (streamed, nothing kept).
    #[arg(value_parser = location)]
    pub model: Location,
    /// Local models: leave these files or directories out of the check, as model_signing's
    /// `verify --ignore-paths` does (absolute, or relative to the working directory;
    /// repeatable; a path that does not exist changes nothing). OMS does not define
    /// exclusions at verification: this is the operator's choice, for bundles whose signed
    /// ignore paths do not name the model's files (the Go client records them relative to
    /// its repository). A file the signature lists is checked all the same.
    #[arg(long, value_name = "PATH")]
    pub ignore_paths: Vec<PathBuf>,
    #[command(flatten)]
    pub check: CheckArgs,
    #[command(flatten)]
    pub hashing: Hashing,
    #[command(flatten)]
    pub aws: AwsArgs,
}

#[derive(clap::Args, Debug)]
pub struct DigestArgs {
    /// The model: a directory or a single file.
    #[arg(value_parser = local_path)]
    pub model: PathBuf,
    /// As for `sign`: files or directories the signature leaves out; repeatable.
    #[arg(long, value_name = "PATH")]
    pub ignore_paths: Vec<PathBuf>,
    /// Print one JSON object on stdout, on failure too (docs/json-output.schema.json).
    #[arg(long, help_heading = "Output")]
    pub json: bool,
    #[command(flatten)]
    pub serialization: SerializationArgs,
    #[command(flatten)]
    pub hashing: Hashing,
}

#[derive(clap::Args, Debug)]
pub struct SignBlobArgs {
    /// The file to sign.
    #[arg(value_parser = local_path)]
    pub file: PathBuf,
    /// Private key: cosign.key, PKCS#8 / SEC1 EC PEM, env://VAR, or awskms://... Without
    /// it, the file is signed keyless (an identity token, see below).
    #[arg(long)]
    pub key: Option<String>,
    /// Write the base64 signature here (key signatures only: a keyless signature needs its
    /// bundle). cosign's older spelling --output is accepted.
    #[arg(value_parser = local_path, long, alias = "output")]
    pub output_signature: Option<PathBuf>,
    /// Write a Sigstore bundle (v0.3) here [keyless default: FILE.sigstore.json].
    #[arg(value_parser = local_path, long)]
    pub bundle: Option<PathBuf>,
    /// cosign's switch for the Sigstore bundle format, which --bundle always writes; only
    /// `true` is accepted.
    #[arg(long, value_name = "BOOL", num_args = 0..=1, require_equals = true,
          default_missing_value = "true")]
    pub new_bundle_format: Option<bool>,
    /// Print one JSON object on stdout with the base64 signature in it, instead of the bare
    /// signature (docs/json-output.schema.json).
    #[arg(long, help_heading = "Output")]
    pub json: bool,
    #[command(flatten)]
    pub cosign: CosignFlags,
    #[command(flatten)]
    pub sigstore: SigstoreArgs,
    #[command(flatten)]
    pub aws: KmsArgs,
}

#[derive(clap::Args, Debug)]
pub struct VerifyBlobArgs {
    /// The file to verify, or its digest as `sha256:HEX` (as the sigstore-conformance
    /// protocol gives it; bundles and keys needing another hash then fail).
    #[arg(value_parser = local_path)]
    pub file: PathBuf,
    #[command(flatten)]
    pub trust: TrustArgs,
    /// A signature file (base64 or DER), or the base64 signature itself (or give --bundle).
    #[arg(value_parser = not_malformed, long, help_heading = "Signature")]
    pub signature: Option<String>,
    /// A Sigstore bundle or a legacy cosign bundle (or give --signature).
    #[arg(value_parser = local_path, long, help_heading = "Signature")]
    pub bundle: Option<PathBuf>,
    /// Check signature and digest only, ignoring transparency-log entries and timestamps.
    #[arg(long)]
    pub insecure_ignore_tlog: bool,
    /// Print one JSON object on stdout, on failure too (docs/json-output.schema.json).
    #[arg(long, help_heading = "Output")]
    pub json: bool,
    #[command(flatten)]
    pub aws: KmsArgs,
}

impl Command {
    /// The subcommand's name as typed, which `--json` reports as `command`.
    pub fn name(&self) -> &'static str {
        match self {
            Command::GenerateKeyPair(_) => "generate-key-pair",
            Command::PublicKey(_) => "public-key",
            Command::Push(_) => "push",
            Command::Pull(_) => "pull",
            Command::Audit(_) => "audit",
            Command::Policy { .. } => "policy bucket",
            Command::Trust {
                which: TrustCommand::Check { .. },
            } => "trust check",
            Command::Trust {
                which: TrustCommand::Update { .. },
            } => "trust update",
            Command::Trust {
                which: TrustCommand::Show { .. },
            } => "trust show",
            Command::Sign(_) => "sign",
            Command::Verify(_) => "verify",
            Command::Digest(_) => "digest",
            Command::SignBlob(_) => "sign-blob",
            Command::VerifyBlob(_) => "verify-blob",
            Command::Completions { .. } => "completions",
            Command::Reference { .. } => "reference",
        }
    }

    /// Whether `--json` was given: stdout then holds exactly one JSON object, success or not.
    pub fn json(&self) -> bool {
        match self {
            Command::Push(a) => a.json,
            Command::Audit(a) => a.json,
            Command::Sign(a) => a.json,
            Command::SignBlob(a) => a.json,
            Command::VerifyBlob(a) => a.json,
            Command::GenerateKeyPair(a) => a.json,
            Command::PublicKey(a) => a.json,
            Command::Digest(a) => a.json,
            Command::Policy {
                which: PolicyCommand::Bucket { json, .. },
            } => *json,
            Command::Pull(a) => a.check.json,
            Command::Verify(a) => a.check.json,
            Command::Trust {
                which:
                    TrustCommand::Check { json, .. }
                    | TrustCommand::Update { json, .. }
                    | TrustCommand::Show { json },
            } => *json,
            Command::Completions { .. } | Command::Reference { .. } => false,
        }
    }
}

#[derive(Subcommand, Debug)]
pub enum TrustCommand {
    /// Check a trust policy (docs/trust-policy.md): every field, and every key, certificate and
    /// trusted root it names, read as verification reads them. Exit 0 when it is valid, 2 naming
    /// the field otherwise; with --model, the rule that governs LOCATION (exit 1 when none does).
    #[command(after_help = "Example:
  modelseal trust check policy.json
  modelseal trust check policy.json --model s3://models/team-a/llm --json")]
    Check {
        /// The policy file (JSON).
        file: PathBuf,
        /// A model's location: s3://BUCKET/PREFIX, or a local path (made absolute, as verify
        /// matches it).
        #[arg(long, value_name = "LOCATION", value_parser = not_malformed)]
        model: Option<String>,
        /// Print one JSON object on stdout, on failure too (docs/json-output.schema.json).
        #[arg(long, help_heading = "Output")]
        json: bool,
        #[command(flatten)]
        aws: KmsArgs,
    },
    /// Refresh Sigstore's trusted root and signing config through TUF (root rotations
    /// followed; rollback, freeze and tampering refused) and cache them for verify, verify-blob,
    /// sign and trust policies. modelseal-init never reads the cache: give it the root.
    #[command(after_help = "Example:
  modelseal trust update                                   # public-good production
  modelseal trust update --mirror https://tuf.internal.example --root root.json
  modelseal trust update --tuf-repo /mnt/mirror/tuf --root root.json   # air-gapped")]
    Update {
        /// The TUF repository's URL [default: https://tuf-repo-cdn.sigstore.dev].
        #[arg(long, value_name = "URL", conflicts_with = "tuf_repo")]
        mirror: Option<String>,
        /// A mirrored TUF repository on disk (metadata at the top, targets/ below).
        #[arg(long, value_name = "DIR")]
        tuf_repo: Option<PathBuf>,
        /// The TUF root.json to start from when nothing is cached for this repository
        /// [default: public-good production's, carried].
        #[arg(long, value_name = "FILE")]
        root: Option<PathBuf>,
        /// Print one JSON object on stdout, on failure too (docs/json-output.schema.json).
        #[arg(long, help_heading = "Output")]
        json: bool,
        #[command(flatten)]
        network: NetworkArgs,
    },
    /// Which Sigstore trusted root and signing config are in use, where they came from, and
    /// when their TUF metadata expires.
    #[command(after_help = "Example:
  modelseal trust show
  modelseal trust show --json")]
    Show {
        /// Print one JSON object on stdout (docs/json-output.schema.json).
        #[arg(long, help_heading = "Output")]
        json: bool,
    },
}

/// The shells `completions` writes for.
#[derive(clap::ValueEnum, Debug, Clone, Copy)]
pub enum Shell {
    Bash,
    Zsh,
    Fish,
    Powershell,
}

impl From<Shell> for clap_complete::Shell {
    fn from(s: Shell) -> Self {
        match s {
            Shell::Bash => clap_complete::Shell::Bash,
            Shell::Zsh => clap_complete::Shell::Zsh,
            Shell::Fish => clap_complete::Shell::Fish,
            Shell::Powershell => clap_complete::Shell::PowerShell,
        }
    }
}

/// Timeouts and attempts for requests other than S3's (as the S3 flags).
#[derive(clap::Args, Debug, Clone)]
#[command(next_help_heading = "Network")]
pub struct NetworkArgs {
    /// Seconds allowed to open a connection.
    #[arg(long, value_name = "SECONDS", default_value_t = 15.0)]
    pub connect_timeout: f64,
    /// Seconds allowed for an answer to start, and between two reads.
    #[arg(long, value_name = "SECONDS", default_value_t = 30.0)]
    pub read_timeout: f64,
    /// Attempts per request.
    #[arg(long, value_name = "N", default_value_t = 5, value_parser = clap::value_parser!(u32).range(1..))]
    pub max_attempts: u32,
}

#[derive(Subcommand, Debug)]
pub enum PolicyCommand {
    /// A bucket policy denying PutObject without SSE-KMS under KEY_ARN, and any non-TLS access.
    #[command(after_help = "Example:
  modelseal policy bucket --bucket models --sse-kms-key-id arn:aws:kms:eu-west-1:111122223333:key/...")]
    Bucket {
        /// The bucket the policy is for.
        #[arg(long)]
        bucket: String,
        /// The KMS key ARN every object must be encrypted with.
        #[arg(long, value_name = "KEY_ARN", alias = "kms-key")]
        sse_kms_key_id: String,
        /// Print one JSON object on stdout, the policy in it (docs/json-output.schema.json).
        #[arg(long, help_heading = "Output")]
        json: bool,
    },
}

/// How `verify` and `pull` find and check a model's signature.
#[derive(clap::Args, Debug)]
pub struct CheckArgs {
    #[command(flatten)]
    pub trust: TrustArgs,
    /// The bundle [default: MODEL/model.sig or PREFIX/model.sig; FILE.sig or KEY.sig for a single
    /// file]; a local path or s3:// URI.
    #[arg(value_parser = location, long, help_heading = "Signature")]
    pub signature: Option<Location>,
    /// Accept bundles carrying transparency-log entries without verifying them.
    #[arg(long, help_heading = "Signature")]
    pub insecure_ignore_tlog: bool,
    /// Tolerate files (or objects under the prefix) the signature does not cover: they are
    /// listed, never hashed, downloaded or placed. Without it such a file refuses the model
    /// (OMS 8.5; model_signing's flag of the same name).
    #[arg(long, help_heading = "Signature")]
    pub ignore_unsigned_files: bool,
    /// Refuse a model that verifies but is not this one (sha256:HEX, as `modelseal digest`
    /// prints it): a directory's signed root digest, a single file's SHA-256. Guards against a
    /// validly signed older model copied over the current one.
    #[arg(long, value_name = "sha256:HEX", value_parser = parse_pin, help_heading = "Trust")]
    pub digest: Option<modelseal_kernel::Digest>,
    /// Print one JSON object on stdout, on failure too (docs/json-output.schema.json).
    #[arg(long, help_heading = "Output")]
    pub json: bool,
}

/// Who a model must be signed by: a key, a certificate from a private CA, or a Sigstore
/// keyless identity.
#[derive(clap::Args, Debug, Clone)]
#[command(next_help_heading = "Trust")]
#[command(group(clap::ArgGroup::new("trust").required(true).multiple(true)
    .args(["policy", "key", "certificate_chain", "certificate_identity", "certificate_identity_regexp"])))]
pub struct TrustArgs {
    /// A trust policy (JSON; docs/trust-policy.md): rules by model location, each with one or
    /// more authorities (keys, private CAs, keyless identities, optionally bounded in time),
    /// and revoked digests. Instead of the flags below, which make a one-rule policy.
    #[arg(long, value_name = "FILE",
          conflicts_with_all = ["key", "certificate_chain", "certificate_identity", "certificate_identity_regexp",
                                "certificate_oidc_issuer", "certificate_oidc_issuer_regexp", "trusted_root"])]
    pub policy: Option<PathBuf>,
    /// Public key PEM (SubjectPublicKeyInfo), env://VAR, or awskms://... (model_signing's
    /// --public_key is accepted for it).
    #[arg(long, aliases = ["public-key", "public_key"], conflicts_with_all = ["certificate_chain", "certificate_identity", "certificate_identity_regexp",
                                "certificate_oidc_issuer", "certificate_oidc_issuer_regexp"])]
    pub key: Option<String>,
    /// Trusted CA certificates (PEM; repeatable, every certificate of every file is trusted):
    /// the signature must be made with a certificate that chains to one of them, valid now, for
    /// digital signatures or code signing (model_signing's certificate method).
    #[arg(long, value_name = "PEM")]
    pub certificate_chain: Vec<PathBuf>,
    /// The signing certificate's identity (an email, URI or DNS subject alternative name),
    /// compared exactly. Without --certificate-chain: Sigstore keyless, with
    /// --certificate-oidc-issuer.
    #[arg(
        long,
        value_name = "SAN",
        conflicts_with = "certificate_identity_regexp"
    )]
    pub certificate_identity: Option<String>,
    /// Keyless: a regular expression the identity must match as a whole (cosign searches
    /// unanchored, so there `org/repo` also matches `evil-org/repo-x`; here it does not).
    #[arg(long, value_name = "REGEXP", conflicts_with = "certificate_chain")]
    pub certificate_identity_regexp: Option<String>,
    /// Keyless: the OIDC issuer the certificate names (Fulcio's issuer extension), exactly.
    #[arg(long, value_name = "URL", conflicts_with_all = ["certificate_chain", "certificate_oidc_issuer_regexp"])]
    pub certificate_oidc_issuer: Option<String>,
    /// Keyless: a regular expression the OIDC issuer must match as a whole.
    #[arg(long, value_name = "REGEXP", conflicts_with = "certificate_chain")]
    pub certificate_oidc_issuer_regexp: Option<String>,
    /// A Sigstore trusted_root.json [default: the public-good production root modelseal
    /// carries]: keyless certificates, and the log entries and timestamps a key- or
    /// CA-signed bundle carries, are checked against it.
    #[arg(long, value_name = "JSON")]
    pub trusted_root: Option<PathBuf>,
}

impl TrustArgs {
    /// Whether the trust names an AWS KMS key (the command then needs an AWS context).
    pub fn is_kms(&self) -> bool {
        self.key.as_deref().is_some_and(crate::keyfile::is_kms)
    }
}

/// model_signing's certificate method: the bundle names the signer by its certificate.
#[derive(clap::Args, Debug, Clone)]
#[command(next_help_heading = "Signing certificate")]
pub struct CertificateArgs {
    /// The signing certificate (PEM) issued for --key: the bundle carries it instead of a key
    /// hint (model_signing's certificate method; verify with --certificate-chain).
    #[arg(long, value_name = "PEM")]
    pub certificate: Option<PathBuf>,
    /// Intermediate CA certificates (PEM) to carry in the bundle after the signing certificate,
    /// in the order given (repeatable).
    #[arg(long, value_name = "PEM", requires = "certificate")]
    pub certificate_chain: Vec<PathBuf>,
}

fn parse_pin(text: &str) -> Result<modelseal_kernel::Digest, String> {
    modelseal_kernel::Digest::parse_pin(text)
        .ok_or_else(|| "expected sha256: and 64 hex digits, as 'modelseal digest' prints".into())
}

/// Where AWS is, for commands that only use a KMS key. Credentials, region and endpoints also
/// come from the standard AWS variables (`AWS_PROFILE`, `AWS_REGION`, `AWS_ENDPOINT_URL`, web
/// identity for IRSA).
#[derive(clap::Args, Debug, Clone)]
#[command(next_help_heading = "AWS")]
pub struct KmsArgs {
    /// A profile of ~/.aws/config and ~/.aws/credentials [default: AWS_PROFILE, else default].
    #[arg(long, value_name = "NAME")]
    pub profile: Option<String>,
    /// The AWS region [default: AWS_REGION, the profile's, else us-east-1].
    #[arg(long, value_name = "REGION")]
    pub region: Option<String>,
    /// The KMS endpoint, when it is not the chain's (`AWS_ENDPOINT_URL_KMS`, a profile's
    /// `endpoint_url`); --endpoint-url names only the S3 one.
    #[arg(long, value_name = "URL")]
    pub kms_endpoint_url: Option<String>,
    /// Seconds allowed to open a connection.
    #[arg(
        long,
        value_name = "SECS",
        env = "MODELSEAL_CONNECT_TIMEOUT",
        default_value_t = 15.0
    )]
    pub connect_timeout: f64,
    /// Seconds allowed for a response to start, and between two reads of a download; a server
    /// that goes quiet longer fails the attempt, which is retried.
    #[arg(
        long,
        value_name = "SECS",
        env = "MODELSEAL_READ_TIMEOUT",
        default_value_t = 30.0
    )]
    pub read_timeout: f64,
    /// Attempts per request, S3 and KMS alike (backing off, honouring Retry-After).
    #[arg(long, value_name = "N", env = "AWS_MAX_ATTEMPTS", default_value_t = 5,
          value_parser = clap::value_parser!(u32).range(1..))]
    pub max_attempts: u32,
}

/// Where AWS is, for commands that reach S3 (and KMS).
#[derive(clap::Args, Debug, Clone)]
#[command(next_help_heading = "AWS")]
pub struct AwsArgs {
    /// An S3-compatible endpoint (path-style addressing is then used).
    #[arg(long, value_name = "URL")]
    pub endpoint_url: Option<String>,
    /// Force path-style addressing (default when an endpoint is set).
    #[arg(long)]
    pub path_style: bool,
    #[command(flatten)]
    pub kms: KmsArgs,
}

impl From<KmsArgs> for AwsArgs {
    fn from(kms: KmsArgs) -> AwsArgs {
        AwsArgs {
            endpoint_url: None,
            path_style: false,
            kms,
        }
    }
}

/// cosign's flags whose meaning modelseal shares, accepted so that cosign command lines work.
#[derive(clap::Args, Debug, Clone, Copy)]
#[command(next_help_heading = "Sigstore")]
pub struct CosignFlags {
    /// Upload the signature's entry to the signing config's Rekor (v1) and carry it in the
    /// bundle. Off by default for key signatures (as model_signing's key method); keyless
    /// signatures are always logged, so `=false` is refused there.
    #[arg(long, value_name = "BOOL", num_args = 0..=1, require_equals = true,
          default_missing_value = "true")]
    pub tlog_upload: Option<bool>,
    /// Skip confirmation prompts (modelseal asks none; accepted as cosign's -y).
    #[arg(short = 'y', long)]
    pub yes: bool,
}

/// Keyless signing, and the log entries and timestamps beside any signature: Sigstore's
/// services, found as sigstore-python and model_signing find them.
#[derive(clap::Args, Debug, Clone, Default)]
#[command(next_help_heading = "Sigstore")]
pub struct SigstoreArgs {
    /// Keyless: the OIDC identity token, or env://VAR [default: SIGSTORE_ID_TOKEN, else GitHub
    /// Actions' ambient token for the audience sigstore]. Never printed.
    #[arg(long, value_name = "TOKEN")]
    pub identity_token: Option<String>,
    /// Keyless: a file holding the token (a Kubernetes projected service-account token).
    #[arg(long, value_name = "FILE", conflicts_with = "identity_token")]
    pub identity_token_file: Option<PathBuf>,
    /// Sigstore SigningConfig v0.2 naming Fulcio, Rekor and the TSA [default: public-good
    /// production's, carried].
    #[arg(long, value_name = "FILE", conflicts_with = "trust_config")]
    pub signing_config: Option<PathBuf>,
    /// The trusted root the services' answers are checked against [default: public-good
    /// production's, carried].
    #[arg(long, value_name = "FILE", conflicts_with = "trust_config")]
    pub trusted_root: Option<PathBuf>,
    /// A ClientTrustConfig: trusted root and signing config in one file (sigstore-python's
    /// and model_signing's --trust-config).
    #[arg(long, value_name = "FILE")]
    pub trust_config: Option<PathBuf>,
    /// Add an RFC 3161 timestamp of the signature from the signing config's TSA.
    #[arg(long)]
    pub timestamp: bool,
    /// Add an RFC 3161 timestamp from this TSA (cosign's flag; implies --timestamp).
    #[arg(long, value_name = "URL")]
    pub timestamp_server_url: Option<String>,
}

/// How a signature hashes the model (OMS serialization).
#[derive(clap::Args, Debug, Clone, Copy, Default)]
#[command(next_help_heading = "Serialization")]
pub struct SerializationArgs {
    /// Hash every file in shards of BYTES (OMS "shards", at least 1 MiB), each a resource of
    /// its own, so a verifier hashes one large file on every core [default: whole files].
    /// model_signing 1.1.1 verifies shards through its API given the same shard size (its CLI
    /// always re-hashes whole files); with --hash-algorithm blake3 it can neither make nor
    /// check them.
    #[arg(long, value_name = "BYTES", value_parser = shard_size)]
    pub shard_size: Option<u64>,
    /// The file hash: sha256 (model_signing's CLI default), blake2b, or blake3.
    #[arg(long, value_enum, default_value_t = HashChoice::Sha256)]
    pub hash_algorithm: HashChoice,
}

/// The hashes OMS allows for files and shards.
#[derive(clap::ValueEnum, Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum HashChoice {
    #[default]
    Sha256,
    Blake2b,
    Blake3,
}

impl SerializationArgs {
    /// The kernel's method and hash.
    pub fn kernel(
        self,
    ) -> (
        modelseal_kernel::manifest::Method,
        modelseal_kernel::HashAlgorithm,
    ) {
        use modelseal_kernel::manifest::Method;
        use modelseal_kernel::HashAlgorithm;
        let method = match self.shard_size {
            Some(shard_size) => Method::Shards { shard_size },
            None => Method::Files,
        };
        let hash = match self.hash_algorithm {
            HashChoice::Sha256 => HashAlgorithm::Sha256,
            HashChoice::Blake2b => HashAlgorithm::Blake2b,
            HashChoice::Blake3 => HashAlgorithm::Blake3,
        };
        (method, hash)
    }
}

/// `--shard-size`: a whole number of bytes, at least 1 MiB (a verifier accepts any positive
/// size a manifest declares; this floor is for the flag only).
fn shard_size(text: &str) -> Result<u64, String> {
    let n: u64 = text
        .trim()
        .parse()
        .map_err(|_| format!("'{text}' is not a whole number of bytes"))?;
    if n < 1 << 20 {
        return Err(format!("{n} is below the 1 MiB (1048576 bytes) floor"));
    }
    Ok(n)
}

#[derive(clap::Args, Debug, Clone, Copy)]
#[command(next_help_heading = "Performance")]
pub struct Hashing {
    /// Files hashed at once [default: the number of CPUs; for a model in S3, 4 objects].
    #[arg(long, value_parser = clap::value_parser!(u16).range(1..))]
    pub threads: Option<u16>,
}

impl Hashing {
    pub fn threads(self) -> usize {
        match self.threads {
            Some(n) => usize::from(n),
            None => std::thread::available_parallelism().map_or(1, |n| n.get()),
        }
    }
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    /// Every subcommand's help has an example and describes every argument.
    #[test]
    fn help_has_examples_and_no_blank_descriptions() {
        let cli = super::Cli::command();
        let mut problems = Vec::new();
        let mut visit = |c: &clap::Command, path: String| {
            if c.has_subcommands() || c.is_hide_set() {
                return;
            }
            let after = c
                .get_after_help()
                .map(|h| h.to_string())
                .unwrap_or_default();
            if !after.contains("Example:") || !after.contains("modelseal ") {
                problems.push(format!("{path}: no Example: section"));
            }
            for a in c.get_arguments() {
                let id = a.get_id().as_str();
                if id == "help" || id == "version" {
                    continue;
                }
                if a.get_help().is_none() && a.get_long_help().is_none() {
                    problems.push(format!("{path}: {id} has no description"));
                }
            }
        };
        for sub in cli.get_subcommands() {
            let name = sub.get_name().to_string();
            visit(sub, name.clone());
            for subsub in sub.get_subcommands() {
                visit(subsub, format!("{name} {}", subsub.get_name()));
            }
        }
        assert!(problems.is_empty(), "{}", problems.join("\n"));
    }
}
