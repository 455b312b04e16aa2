//! `verify MODEL`: a local model against its bundle, or a model in S3 streamed through the
//! hashers (nothing kept).

use super::{aws_if, check_policy, model, remote, remote_check, unsigned_files};
use crate::aws::Runtime;
use crate::cli::{Location, VerifyArgs};
use crate::failure::{Failure, Result};

pub fn run(args: VerifyArgs) -> Result<()> {
    let VerifyArgs {
        model,
        ignore_paths,
        check,
        hashing,
        aws,
    } = args;
    let signature_in_s3 = matches!(check.signature, Some(Location::S3(_)));
    match &model {
        Location::S3(_) if !ignore_paths.is_empty() => {
            return Err(Failure::cannot_check(
                "--ignore-paths applies to local models only",
                "for a model in S3, --ignore-unsigned-files leaves objects the signature does not cover alone",
            ));
        }
        Location::Local(_) if signature_in_s3 => {
            return Err(Failure::cannot_check(
                "a local model's signature must be a local file",
                "download the signature, or verify the model in S3 with an s3:// model URI",
            ));
        }
        _ => {}
    }
    let remote = matches!(model, Location::S3(_));
    let aws = aws_if(remote || check.trust.is_kms(), &aws, Runtime::OneThread)?;
    let policy = check_policy(&check, aws.as_ref())?;
    match (&model, &aws) {
        (Location::S3(uri), Some(aws)) => remote::verify(
            uri.as_str(),
            remote_check(&check, &policy),
            aws,
            hashing.threads.map(usize::from),
        ),
        (Location::S3(_), None) => Err(Failure::cannot_check(
            "cannot verify: no AWS context for an s3:// model",
            "report this bug",
        )),
        (Location::Local(path), _) => {
            let signature = match &check.signature {
                Some(Location::Local(p)) => Some(p.as_path()),
                _ => None,
            };
            let local = model::LocalCheck {
                signature,
                ignore: &ignore_paths,
                unsigned: unsigned_files(check.ignore_unsigned_files),
                threads: hashing.threads(),
                json: check.json,
            };
            model::verify(path, &policy, local)
        }
    }
}
