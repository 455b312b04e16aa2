//! `generate-key-pair`, as cosign writes it.

use std::path::{Path, PathBuf};

use modelseal_kernel::cosign_key::{self, DEFAULT_LOG_N};
use modelseal_kernel::{Curve, PrivateKey, Signer as _};
use rand_core::OsRng;

use crate::aws::Aws;
use crate::failure::{Failure, Result};
use crate::files::write_atomic;
use crate::keyfile;

pub fn generate_key_pair(
    prefix: &str,
    force: bool,
    kms: Option<&str>,
    aws: Option<&Aws>,
    json: bool,
) -> Result<()> {
    let key_path = PathBuf::from(format!("{prefix}.key"));
    let pub_path = PathBuf::from(format!("{prefix}.pub"));
    if let (Some(reference), Some(aws)) = (kms, aws) {
        // As cosign: the key is created in KMS; only the public key is written.
        if !force && pub_path.exists() {
            return Err(exists(&pub_path));
        }
        let public = keyfile::create_kms_key(reference, aws)?;
        write_atomic(&pub_path, public.to_pem().as_bytes(), 0o644, force)?;
        eprintln!("Created KMS key {reference}");
        eprintln!("Public key written to {}", pub_path.display());
        if json {
            crate::report::success(
                "generate-key-pair",
                &KeyPairReport {
                    kms_key: Some(reference.to_string()),
                    private_key: None,
                    public_key: pub_path.display().to_string(),
                },
            );
        }
        return Ok(());
    }
    if !force {
        for p in [&key_path, &pub_path] {
            if p.exists() {
                return Err(exists(p));
            }
        }
    }
    let password = keyfile::password(true)?;
    let key = PrivateKey::generate(Curve::P256, &mut OsRng);
    let pem =
        cosign_key::encrypt(&key, password.as_bytes(), DEFAULT_LOG_N, &mut OsRng).map_err(|e| {
            Failure::cannot_check(format!("cannot encrypt the key: {e}"), "report this bug")
        })?;
    write_atomic(&key_path, pem.as_bytes(), 0o600, force)?;
    write_atomic(
        &pub_path,
        key.public_key().to_pem().as_bytes(),
        0o644,
        force,
    )?;
    eprintln!("Private key written to {}", key_path.display());
    eprintln!("Public key written to {}", pub_path.display());
    if json {
        crate::report::success(
            "generate-key-pair",
            &KeyPairReport {
                kms_key: None,
                private_key: Some(key_path.display().to_string()),
                public_key: pub_path.display().to_string(),
            },
        );
    }
    Ok(())
}

/// `generate-key-pair`'s report: the KMS key made, or the private key file written, and the
/// public key file.
#[derive(serde::Serialize)]
struct KeyPairReport {
    #[serde(skip_serializing_if = "Option::is_none")]
    kms_key: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    private_key: Option<String>,
    public_key: String,
}

/// `public-key`'s report: the PEM, and the file it was also written to.
#[derive(serde::Serialize)]
struct PublicKeyReport {
    public_key: String,
    outfile: Option<String>,
}

fn exists(p: &Path) -> Failure {
    Failure::cannot_check(
        format!("{} already exists; not overwriting a key", p.display()),
        "pass --force to overwrite it, or --output-key-prefix to write elsewhere",
    )
}

/// `public-key`: the PEM of any key argument.
pub fn public_key(key: &str, outfile: Option<&Path>, aws: Option<&Aws>, json: bool) -> Result<()> {
    let pem = keyfile::any_public_key(key, aws)?.to_pem();
    if let Some(p) = outfile {
        write_atomic(p, pem.as_bytes(), 0o644, true)?;
    }
    if json {
        crate::report::success(
            "public-key",
            &PublicKeyReport {
                public_key: pem,
                outfile: outfile.map(|p| p.display().to_string()),
            },
        );
    } else if outfile.is_none() {
        print!("{pem}");
    }
    Ok(())
}

/// `generate-key-pair`.
pub fn run_generate(args: crate::cli::GenerateKeyPairArgs) -> Result<()> {
    let aws = super::aws_if(
        args.kms.is_some(),
        &args.aws.into(),
        crate::aws::Runtime::OneThread,
    )?;
    generate_key_pair(
        &args.output_key_prefix,
        args.force,
        args.kms.as_deref(),
        aws.as_ref(),
        args.json,
    )
}

/// `public-key`.
pub fn run_public_key(args: crate::cli::PublicKeyArgs) -> Result<()> {
    let aws = super::aws_if(
        crate::keyfile::is_kms(&args.key),
        &args.aws.into(),
        crate::aws::Runtime::OneThread,
    )?;
    public_key(&args.key, args.outfile.as_deref(), aws.as_ref(), args.json)
}
