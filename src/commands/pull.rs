//! `pull s3://... DEST`: download, verify while it streams, then place.

use super::{check_policy, remote, remote_check};
use crate::aws::{Aws, Runtime};
use crate::cli::PullArgs;
use crate::failure::Result;

pub fn run(args: PullArgs) -> Result<()> {
    let aws = Aws::new(&args.aws, Runtime::OneThread)?;
    let policy = check_policy(&args.check, Some(&aws))?;
    let check = remote_check(&args.check, &policy);
    remote::pull(args.uri.as_str(), &args.dest, args.force, check, &aws)
}
