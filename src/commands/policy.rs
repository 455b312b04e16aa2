//! `policy bucket`: the S3 bucket policy that enforces what `push` does, as a second layer.

use crate::failure::{Failure, Result};

/// A policy that denies any non-TLS access, and any PutObject (single or multipart create) that
/// does not ask for SSE-KMS with exactly `kms_key_arn`.
pub fn bucket_policy(bucket: &str, kms_key_arn: &str) -> Result<serde_json::Value> {
    let parts: Vec<&str> = kms_key_arn.splitn(6, ':').collect();
    let valid =
        parts.len() == 6 && parts[0] == "arn" && parts[2] == "kms" && parts[5].starts_with("key/");
    if !valid {
        return Err(Failure::cannot_check(
            format!("'{kms_key_arn}' is not a KMS key ARN"),
            "pass the key's ARN (arn:aws:kms:REGION:ACCOUNT:key/ID), as S3 records it",
        ));
    }
    if bucket.is_empty() || bucket.contains('/') || bucket.contains('*') {
        return Err(Failure::cannot_check(
            format!("'{bucket}' is not a bucket name"),
            "pass the bucket name alone",
        ));
    }
    let partition = parts[1];
    let bucket_arn = format!("arn:{partition}:s3:::{bucket}");
    let objects = format!("{bucket_arn}/*");
    Ok(serde_json::json!({
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "DenyInsecureTransport",
                "Effect": "Deny",
                "Principal": "*",
                "Action": "s3:*",
                "Resource": [bucket_arn, objects],
                "Condition": {"Bool": {"aws:SecureTransport": "false"}}
            },
            {
                "Sid": "DenyPutWithoutSseKms",
                "Effect": "Deny",
                "Principal": "*",
                "Action": "s3:PutObject",
                "Resource": objects,
                "Condition": {"StringNotEquals": {"s3:x-amz-server-side-encryption": "aws:kms"}}
            },
            {
                "Sid": "DenyPutWithOtherKmsKey",
                "Effect": "Deny",
                "Principal": "*",
                "Action": "s3:PutObject",
                "Resource": objects,
                "Condition": {"StringNotEquals": {"s3:x-amz-server-side-encryption-aws-kms-key-id": kms_key_arn}}
            }
        ]
    }))
}

pub fn bucket(bucket: &str, kms_key_arn: &str, json: bool) -> Result<()> {
    let policy = bucket_policy(bucket, kms_key_arn)?;
    if json {
        crate::report::success(
            "policy bucket",
            serde_json::json!({"bucket": bucket, "sse_kms_key_id": kms_key_arn, "policy": policy}),
        );
        return Ok(());
    }
    println!(
        "{}",
        serde_json::to_string_pretty(&policy).unwrap_or_default()
    );
    Ok(())
}
