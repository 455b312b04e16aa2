//! `push MODEL s3://...`: a plan (what goes where, the key opened or a given bundle checked,
//! before anything goes up), the upload (objects hashed as they go up, then the signature,
//! last, all with SSE-KMS), and the report.

use super::remote;
use crate::aws::{Aws, Runtime};
use crate::cli::PushArgs;
use crate::failure::Result;

pub fn run(args: PushArgs) -> Result<()> {
    let aws = Aws::new(&args.aws, Runtime::Workers)?;
    let plan = remote::plan_push(&args, &aws)?;
    let sse = remote::PushSse {
        kms_key_id: args.sse_kms_key_id.clone(),
    };
    let report = remote::upload_push(plan, sse, &aws)?;
    remote::report_push(&report, args.json);
    Ok(())
}
