//! Bucket settings the engine reads: the default SSE-KMS key (for `push`), the policy,
//! versioning and public access block (for `audit`), and the existence check.

use crate::client::Engine;
use crate::error::{classify, Retry};
use crate::S3Error;

impl Engine {
    /// The bucket's default SSE-KMS key as configured (`GetBucketEncryption`): `None` when the
    /// default is not SSE-KMS with a named key (no configuration, SSE-S3, or the AWS-managed key).
    pub async fn default_kms_key(&self, bucket: &str) -> Result<Option<String>, S3Error> {
        self.with_retries(|| {
            let req = self.client.get_bucket_encryption().bucket(bucket);
            async move {
                match req.send().await {
                    Ok(out) => Ok(out
                        .server_side_encryption_configuration()
                        .into_iter()
                        .flat_map(|c| c.rules())
                        .filter_map(|r| r.apply_server_side_encryption_by_default())
                        .filter(|d| d.sse_algorithm().as_str() == "aws:kms")
                        .find_map(|d| d.kms_master_key_id().map(str::to_string))),
                    // A store without the call (s3rver: 501) or a caller without
                    // s3:GetEncryptionConfiguration learns nothing: no key is sent, and the
                    // bucket's policy, if any, decides.
                    Err(e)
                        if e.raw_response().map(|r| r.status().as_u16()) == Some(501)
                            || e.as_service_error().and_then(|s| s.meta().code())
                                == Some("AccessDenied") =>
                    {
                        Ok(None)
                    }
                    // ServerSideEncryptionConfigurationNotFoundError is a 404.
                    Err(e) => match classify("GetBucketEncryption", bucket, "", e) {
                        Retry::No(S3Error::NoSuchKey { .. }) => Ok(None),
                        other => Err(other),
                    },
                }
            }
        })
        .await
    }

    /// The bucket's policy, versioning and public access block (three calls, each retried).
    /// A setting the bucket does not have (S3 answers 404) is `None`; one whose call is refused
    /// (denied, or not implemented by the store) is `None` and listed in `unreadable`; any other
    /// error fails.
    pub async fn bucket_settings(&self, bucket: &str) -> Result<crate::BucketSettings, S3Error> {
        let mut unreadable = Vec::new();
        // A 404 means the bucket has no such setting; a refusal, or an answer that is not the
        // setting (`Ok(Err(why))`), leaves it unknown. (S3Error is the engine's error everywhere.)
        #[allow(
            clippy::result_large_err,
            reason = "S3Error is the engine's one error type; boxing it here alone would split it"
        )]
        fn settle<T>(
            setting: crate::Setting,
            read: Result<Result<Option<T>, String>, S3Error>,
            unreadable: &mut Vec<crate::Unreadable>,
        ) -> Result<Option<T>, S3Error> {
            let reason = match read {
                Ok(Ok(value)) => return Ok(value),
                Ok(Err(why)) => why,
                Err(S3Error::NoSuchKey { .. }) => return Ok(None),
                Err(e) => e.refusal().ok_or(e)?,
            };
            unreadable.push(crate::Unreadable { setting, reason });
            Ok(None)
        }
        let policy = self
            .with_retries(|| {
                let req = self.client.get_bucket_policy().bucket(bucket);
                async move {
                    req.send()
                        .await
                        .map(|o| Ok(o.policy().map(str::to_string)))
                        .map_err(|e| classify("GetBucketPolicy", bucket, "", e))
                }
            })
            .await;
        let policy = settle(crate::Setting::Policy, policy, &mut unreadable)?;
        let versioning = self
            .with_retries(|| {
                let req = self.client.get_bucket_versioning().bucket(bucket);
                async move {
                    match req.send().await {
                        Ok(o) => Ok(Ok(o.status().map(|s| s.as_str().to_string()))),
                        // moto names the root element GetBucketVersioningResponse, not
                        // VersioningConfiguration, which the SDK refuses; the 200 body's
                        // <Status> is still the answer. Any other 200 document (s3rver answers
                        // with a bucket listing) says nothing about versioning.
                        Err(e) if e.raw_response().is_some_and(|r| r.status().as_u16() == 200) => {
                            let body = e
                                .raw_response()
                                .and_then(|r| r.body().bytes())
                                .map(|b| String::from_utf8_lossy(b).into_owned())
                                .unwrap_or_default();
                            Ok(crate::parse::versioning_status(&body))
                        }
                        Err(e) => Err(classify("GetBucketVersioning", bucket, "", e)),
                    }
                }
            })
            .await;
        let versioning = settle(crate::Setting::Versioning, versioning, &mut unreadable)?;
        let public_access_block = self
            .with_retries(|| {
                let req = self.client.get_public_access_block().bucket(bucket);
                async move {
                    req.send()
                        .await
                        .map(|o| {
                            Ok(o.public_access_block_configuration().map(|c| {
                                [
                                    c.block_public_acls().unwrap_or(false),
                                    c.ignore_public_acls().unwrap_or(false),
                                    c.block_public_policy().unwrap_or(false),
                                    c.restrict_public_buckets().unwrap_or(false),
                                ]
                            }))
                        })
                        .map_err(|e| classify("GetPublicAccessBlock", bucket, "", e))
                }
            })
            .await;
        let public_access_block = settle(
            crate::Setting::PublicAccessBlock,
            public_access_block,
            &mut unreadable,
        )?;
        Ok(crate::BucketSettings {
            policy,
            versioning,
            public_access_block,
            unreadable,
        })
    }

    /// Checks the bucket exists and we may list it.
    pub async fn check_bucket(&self, bucket: &str) -> Result<(), S3Error> {
        self.with_retries(|| {
            let req = self.client.head_bucket().bucket(bucket);
            async move {
                req.send().await.map(|_| ()).map_err(|e| {
                    match classify("HEAD bucket", bucket, "", e) {
                        Retry::No(S3Error::NoSuchKey { bucket, .. }) => {
                            Retry::No(S3Error::NoSuchBucket { bucket })
                        }
                        other => other,
                    }
                })
            }
        })
        .await
    }
}
