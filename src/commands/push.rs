//! `push MODEL s3://...`: sign (or check a given bundle) and upload with SSE-KMS, the
//! signature last.

use super::remote;
use crate::aws::{Aws, Runtime};
use crate::cli::PushArgs;
use crate::failure::Result;

pub fn run(args: PushArgs) -> Result<()> {
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
        args.serialization.kernel(),
        args.json,
        &aws,
        args.hashing.threads(),
    )
}
