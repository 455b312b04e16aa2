//! `policy bucket`: prints the S3 bucket policy that enforces what `push` does
//! (`modelseal_audit::policy`, beside the evaluator `audit` judges bucket policies with).

use modelseal_audit::policy::PolicyInputError;

use crate::failure::{Failure, Result};

pub fn bucket(bucket: &str, kms_key_arn: &str, json: bool) -> Result<()> {
    let policy = modelseal_audit::policy::bucket_policy(bucket, kms_key_arn).map_err(|e| {
        let hint = match e {
            PolicyInputError::NotAKeyArn(_) => {
                "pass the key's ARN (arn:aws:kms:REGION:ACCOUNT:key/ID), as S3 records it"
            }
            PolicyInputError::NotABucket(_) => "pass the bucket name alone",
        };
        Failure::cannot_check(e.to_string(), hint)
    })?;
    if json {
        /// `policy bucket`'s report: the policy document and what it was made for.
        #[derive(serde::Serialize)]
        struct BucketPolicy<'a> {
            bucket: &'a str,
            sse_kms_key_id: &'a str,
            policy: &'a serde_json::Value,
        }
        let report = BucketPolicy {
            bucket,
            sse_kms_key_id: kms_key_arn,
            policy: &policy,
        };
        crate::report::success("policy bucket", &report);
        return Ok(());
    }
    println!(
        "{}",
        serde_json::to_string_pretty(&policy).unwrap_or_default()
    );
    Ok(())
}
