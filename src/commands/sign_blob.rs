//! `sign-blob FILE`: a raw signature or a Sigstore bundle, as cosign writes them.

use std::path::PathBuf;

use super::{aws_if, blob, signing_runtime};
use crate::cli::{AwsArgs, SignBlobArgs};
use crate::failure::{Failure, Result};
use crate::keyfile;

pub fn run(args: SignBlobArgs) -> Result<()> {
    let SignBlobArgs {
        file,
        key,
        output_signature,
        bundle,
        new_bundle_format,
        json,
        cosign,
        sigstore,
        aws: aws_args,
    } = args;
    let aws_args = AwsArgs::from(aws_args);
    if new_bundle_format == Some(false) {
        return Err(Failure::cannot_check(
            "--new-bundle-format=false: modelseal writes only the Sigstore bundle format",
            "drop the flag; verify-blob still reads cosign's legacy bundles",
        ));
    }
    let key_name = key.as_deref().unwrap_or_default();
    let aws = aws_if(
        keyfile::is_kms(key_name),
        &aws_args,
        signing_runtime(key_name),
    )?;
    let signer = match &key {
        Some(k) => Some(keyfile::signer(k, aws.as_ref())?),
        None => {
            if output_signature.is_some() && bundle.is_none() {
                return Err(Failure::cannot_check(
                    "--output-signature alone with keyless signing: a keyless signature is checked through its certificate and log entry, which only a bundle carries",
                    "add --bundle FILE (or drop --output-signature: the bundle then goes to FILE.sigstore.json)",
                ));
            }
            None
        }
    };
    let signer = crate::signing::Signing::new(signer, &sigstore, cosign, &aws_args)?;
    // Keyless: the bundle is the signature; it goes beside the file unless named.
    let bundle = match (bundle, signer.is_keyless()) {
        (None, true) => {
            let mut name = file.clone().into_os_string();
            name.push(".sigstore.json");
            Some(PathBuf::from(name))
        }
        (b, _) => b,
    };
    blob::sign_blob(
        &file,
        &signer,
        output_signature.as_deref(),
        bundle.as_deref(),
        json,
    )
}
