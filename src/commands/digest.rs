//! `digest MODEL`: the digest a pin is compared with.

use super::model;
use crate::cli::DigestArgs;
use crate::failure::Result;

pub fn run(args: DigestArgs) -> Result<()> {
    model::digest(
        &args.model,
        &args.ignore_paths,
        args.serialization.kernel(),
        args.hashing.threads(),
        args.json,
    )
}
