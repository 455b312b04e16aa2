//! Command-line arguments.

use std::path::PathBuf;

use clap::{Parser, Subcommand};

#[derive(Parser, Debug)]
#[command(
    name = "modelseal",
    version,
    about = "Sign ML models and refuse to serve them unless the signature verifies",
    after_help = "Exit codes: 0 verified or done; 1 the artifact cannot be trusted; 2 the check could not be run."
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Write an encrypted cosign.key and cosign.pub, as `cosign generate-key-pair` does.
    GenerateKeyPair {
        /// Prefix of the two files written.
        #[arg(long, default_value = "cosign")]
        output_key_prefix: String,
        /// Overwrite existing key files.
        #[arg(long)]
        force: bool,
    },
    /// Sign a model directory or file, writing an OMS v1.0 bundle (model_signing compatible).
    Sign {
        /// The model: a directory, or a single file.
        model: PathBuf,
        /// Private key: cosign encrypted key, or PKCS#8 / SEC1 EC PEM.
        #[arg(long)]
        key: String,
        /// Where to write the bundle [default: MODEL/model.sig, or FILE.sig for a file].
        #[arg(long)]
        signature: Option<PathBuf>,
        #[command(flatten)]
        hashing: Hashing,
    },
    /// Verify a model directory or file against an OMS v1.0 bundle.
    Verify {
        /// The model: a directory, or a single file.
        model: PathBuf,
        /// Public key PEM (SubjectPublicKeyInfo).
        #[arg(long)]
        key: String,
        /// The bundle [default: MODEL/model.sig, or FILE.sig for a file].
        #[arg(long)]
        signature: Option<PathBuf>,
        /// Accept bundles carrying transparency-log entries without verifying them.
        #[arg(long)]
        insecure_ignore_tlog: bool,
        #[command(flatten)]
        hashing: Hashing,
    },
    /// Sign a file as `cosign sign-blob --key` does.
    SignBlob {
        file: PathBuf,
        #[arg(long)]
        key: String,
        /// Write the base64 signature here.
        #[arg(long)]
        output_signature: Option<PathBuf>,
        /// Write a Sigstore bundle (v0.3, key-based, no log entry) here.
        #[arg(long)]
        bundle: Option<PathBuf>,
    },
    /// Verify a file as `cosign verify-blob --key` does.
    VerifyBlob {
        file: PathBuf,
        #[arg(long)]
        key: String,
        /// A signature file (base64 or DER), or the base64 signature itself.
        #[arg(long, conflicts_with = "bundle", required_unless_present = "bundle")]
        signature: Option<String>,
        /// A Sigstore bundle or a legacy cosign bundle.
        #[arg(long)]
        bundle: Option<PathBuf>,
        /// Check signature and digest only, ignoring transparency-log entries and timestamps.
        #[arg(long)]
        insecure_ignore_tlog: bool,
    },
}

#[derive(clap::Args, Debug, Clone, Copy)]
pub struct Hashing {
    /// Files hashed at once [default: the number of CPUs].
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
