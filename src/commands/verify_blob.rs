//! `verify-blob FILE`: a raw signature or a bundle, as cosign verifies them.

use super::{aws_if, blob, tlog_policy};
use crate::aws::Runtime;
use crate::cli::VerifyBlobArgs;
use crate::failure::Result;
use crate::keyfile;

pub fn run(args: VerifyBlobArgs) -> Result<()> {
    let aws = aws_if(args.trust.is_kms(), &args.aws.into(), Runtime::OneThread)?;
    let policy = keyfile::policy(&args.trust, aws.as_ref())?
        .with_tlog(tlog_policy(args.insecure_ignore_tlog));
    blob::verify_blob(
        &args.file,
        &policy,
        args.signature.as_deref(),
        args.bundle.as_deref(),
        args.json,
    )
}
