//! `push MODEL s3://...`: sign (or check a given bundle) and upload with SSE-KMS, the
//! signature last.

use super::remote;
use crate::aws::{Aws, Runtime};
use crate::cli::PushArgs;
use crate::failure::Result;

pub fn run(args: PushArgs) -> Result<()> {
    if !args.serialization.is_default() {
        return Err(crate::failure::Failure::cannot_check(
            "push signs whole files with SHA-256 only, so far (--shard-size and --hash-algorithm are not supported here yet)",
            "sign the model locally with them, then push it with --signature MODEL/model.sig, or sign it in S3 with `sign s3://`",
        ));
    }
    let aws = Aws::new(&args.aws, Runtime::Workers)?;
    let sse = remote::PushSse {
        kms_key_id: args.sse_kms_key_id,
    };
    remote::push(
        &args.model,
        args.uri.as_str(),
        args.key.as_deref(),
        args.signature.as_deref(),
        &args.certificate,
        (&args.sigstore, args.cosign, &args.aws),
        sse,
        args.json,
        &aws,
        args.hashing.threads(),
    )
}
