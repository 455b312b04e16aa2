//! `sign MODEL`: a local model (its bundle written beside it, or where `--signature` says), or a
//! model in S3 signed where it is (streamed and hashed; the signature object put beside it).

use super::{aws_if, model, remote, signing_runtime};
use crate::cli::{Location, SignArgs};
use crate::failure::{Failure, Result};
use crate::keyfile;

pub fn run(args: SignArgs) -> Result<()> {
    let SignArgs {
        model,
        key,
        signature,
        ignore_paths,
        sse_kms_key_id,
        sse,
        force,
        certificate,
        json,
        cosign,
        sigstore,
        hashing,
        serialization,
        aws: aws_args,
    } = args;
    // What applies to one kind of location only, checked before any key is opened.
    match &model {
        // --force means "replace the signature": a local sign always does (as model_signing
        // and cosign do), so there it is accepted and changes nothing.
        Location::Local(_) if sse_kms_key_id.is_some() || sse.is_some() => {
            return Err(Failure::cannot_check(
                "--sse-kms-key-id and --sse apply to s3:// models only",
                "drop them for a local model",
            ));
        }
        Location::S3(_) if signature.is_some() || !ignore_paths.is_empty() => {
            return Err(Failure::cannot_check(
                "--signature and --ignore-paths apply to local models only",
                "sign s3:// writes PREFIX/model.sig (or KEY.sig); drop them",
            ));
        }
        Location::S3(_) if sse_kms_key_id.is_none() && sse.is_none() => {
            return Err(Failure::cannot_check(
                "sign s3:// needs the signature's encryption: --sse-kms-key-id KEY or --sse aws:kms",
                "pass the KMS key the model's objects are encrypted with",
            ));
        }
        _ => {}
    }
    let key_name = key.as_deref().unwrap_or_default();
    let remote = matches!(model, Location::S3(_));
    let aws = aws_if(
        remote || keyfile::is_kms(key_name),
        &aws_args,
        signing_runtime(key_name),
    )?;
    let signer = keyfile::signer_for(key.as_deref(), &certificate, aws.as_ref())?;
    let signer = crate::signing::Signing::new(signer, &sigstore, cosign, &aws_args)?;
    match (&model, &aws) {
        (Location::S3(uri), Some(aws)) => remote::sign(
            uri.as_str(),
            &signer,
            remote::PushSse {
                kms_key_id: sse_kms_key_id,
            },
            (force, json),
            serialization.kernel(),
            aws,
            hashing.threads.map(usize::from),
        ),
        (Location::S3(_), None) => unreachable_aws(),
        (Location::Local(path), _) => model::sign(
            path,
            &signer,
            signature.as_deref(),
            &ignore_paths,
            serialization.kernel(),
            hashing.threads(),
            json,
        ),
    }
}

/// An S3 location always gets an AWS context above.
fn unreachable_aws() -> Result<()> {
    Err(Failure::cannot_check(
        "cannot sign: no AWS context for an s3:// model",
        "report this bug",
    ))
}
