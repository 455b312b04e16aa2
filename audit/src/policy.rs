//! The bucket policy that enforces what `push` does, as a second layer: no plain HTTP, and no
//! PutObject without SSE-KMS under exactly the expected key. `iam.rs` finds it clean.

use std::fmt;

/// What `bucket_policy` cannot use.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PolicyInputError {
    NotAKeyArn(String),
    NotABucket(String),
}

impl fmt::Display for PolicyInputError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PolicyInputError::NotAKeyArn(arn) => write!(f, "'{arn}' is not a KMS key ARN"),
            PolicyInputError::NotABucket(b) => write!(f, "'{b}' is not a bucket name"),
        }
    }
}

impl std::error::Error for PolicyInputError {}

/// A policy that denies any non-TLS access, and any PutObject (single or multipart create) that
/// does not ask for SSE-KMS with exactly `kms_key_arn`.
pub fn bucket_policy(
    bucket: &str,
    kms_key_arn: &str,
) -> Result<serde_json::Value, PolicyInputError> {
    let parts: Vec<&str> = kms_key_arn.splitn(6, ':').collect();
    let valid =
        parts.len() == 6 && parts[0] == "arn" && parts[2] == "kms" && parts[5].starts_with("key/");
    if !valid {
        return Err(PolicyInputError::NotAKeyArn(kms_key_arn.to_string()));
    }
    if bucket.is_empty() || bucket.contains('/') || bucket.contains('*') {
        return Err(PolicyInputError::NotABucket(bucket.to_string()));
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
