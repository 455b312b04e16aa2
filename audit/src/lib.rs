//! `modelseal audit`: what a security team wants to know about a model bucket. Every object
//! under a prefix is grouped into signed models (`group.rs`) or reported as unsigned; every
//! object's encryption is read with HEAD; every model is verified through `modelseal-fetch`
//! (streamed and hashed, or with `shallow` its signature and listing only); the bucket's
//! policy is judged by a small IAM evaluator (`iam.rs`), its versioning and public access
//! block are read (`findings.rs`). Beside it, `policy.rs` writes the bucket policy that
//! enforces what `push` does, the one the evaluator finds clean.
//!
//! Findings name the full object key; the caller decides how to print them. Nothing here
//! writes anywhere.

mod findings;
mod group;
mod iam;
pub mod policy;

use futures_util::stream::{self, StreamExt, TryStreamExt};
use modelseal_fetch::{check_listing, fetch, located_dir, FetchError, Located, SIGNATURE_NAME};
use modelseal_kernel::manifest::UnsignedFiles;
use modelseal_kernel::trust::Policy;
use modelseal_s3::{BucketSettings, Engine, Head, Object, Setting};

pub use findings::{settings_findings, sse_findings, Finding, Kind};
pub use group::{group, Group};
pub use iam::policy_findings;

/// How to audit.
pub struct Options<'a> {
    /// Who models must be signed by: each model is judged by the rule that governs its
    /// location.
    pub policy: &'a Policy,
    /// Check signatures and listings only; do not stream and hash the models.
    pub shallow: bool,
    /// The ids S3 may report for the expected KMS key (id, ARN), and its ARN for the policy.
    pub kms_key: Option<(Vec<String>, String)>,
    /// HEAD requests in flight.
    pub heads_in_flight: usize,
}

/// One model and whether it verified.
#[derive(Clone, Debug)]
pub struct ModelReport {
    pub uri: String,
    pub signature: String,
    pub verified: bool,
    /// When it verified: its pin digest (`sha256:...`), and the rule and authority that
    /// accepted it.
    pub accepted: Option<AcceptedModel>,
}

/// What the audit learnt of a model that verified.
#[derive(Clone, Debug)]
pub struct AcceptedModel {
    pub digest: String,
    pub rule: String,
    pub authority: String,
}

/// The audit's result.
#[derive(Clone, Debug)]
pub struct Report {
    pub objects: usize,
    pub models: Vec<ModelReport>,
    pub settings: BucketSettings,
    /// Sorted by kind, then key.
    pub findings: Vec<Finding>,
}

/// Models checked at once by a shallow audit (a signature GET each).
const MODELS_IN_FLIGHT: usize = 16;

/// Audits `s3://bucket/prefix`. Errors are failures to audit (listing, HEAD, a model's bytes
/// unreadable, a bucket setting failing other than by refusal), never findings; a bucket setting
/// the store refuses to tell is a `bucket_setting_unreadable` finding.
pub async fn audit(
    engine: &Engine,
    bucket: &str,
    prefix: &str,
    opts: &Options<'_>,
) -> Result<Report, FetchError> {
    let listing = engine.list(bucket, prefix).await.map_err(FetchError::s3)?;
    let listing: Vec<Object> = listing
        .into_iter()
        .filter(|o| !(o.key.ends_with('/') && o.size == 0))
        .collect();
    let mut findings = Vec::new();

    let expected = opts.kms_key.as_ref().map(|(ids, _)| ids.as_slice());
    let heads: Vec<Option<Head>> = stream::iter(listing.iter())
        .map(|o| engine.head(bucket, &o.key))
        .buffer_unordered(opts.heads_in_flight.max(1))
        .try_collect()
        .await
        .map_err(FetchError::s3)?;
    findings.extend(
        heads
            .iter()
            .flatten()
            .filter_map(|h| sse_findings(h, expected)),
    );

    let (groups, unsigned) = group(&listing);
    findings.extend(unsigned.into_iter().map(|o| Finding {
        kind: Kind::Unsigned,
        key: o.key,
        detail: "belongs to no signed model".into(),
    }));
    let mut located = Vec::new();
    for g in groups {
        located.push(match g {
            Group::Dir { prefix, objects } => {
                match located_dir(bucket.to_string(), prefix.clone(), objects) {
                    Ok(l) => l,
                    Err(e) => {
                        findings.push(Finding {
                            kind: Kind::NotVerified,
                            key: format!("{prefix}{SIGNATURE_NAME}"),
                            detail: e.to_string(),
                        });
                        continue;
                    }
                }
            }
            Group::File { object } => Located::single(bucket.to_string(), object),
        });
    }
    // A shallow check is a signature GET and a comparison, so many models go at once; a deep one
    // streams a whole model through the engine, which parallelises it already.
    let models_in_flight = if opts.shallow { MODELS_IN_FLIGHT } else { 1 };
    let checked: Vec<(ModelReport, Vec<Finding>)> = stream::iter(located.iter())
        .map(|located| async move {
            let mut found = Vec::new();
            let accepted = verify_one(engine, located, opts, &mut found).await?;
            let report = ModelReport {
                uri: located.uri(),
                signature: located.default_signature().to_string(),
                verified: accepted.is_some(),
                accepted,
            };
            Ok::<_, FetchError>((report, found))
        })
        .buffered(models_in_flight)
        .try_collect()
        .await?;
    let mut models = Vec::with_capacity(checked.len());
    for (report, found) in checked {
        models.push(report);
        findings.extend(found);
    }

    let settings = engine
        .bucket_settings(bucket)
        .await
        .map_err(FetchError::s3)?;
    if !settings.is_unreadable(Setting::Policy) {
        findings.extend(policy_findings(
            bucket,
            settings.policy.as_deref(),
            opts.kms_key.as_ref().map(|(_, arn)| arn.as_str()),
        ));
    }
    findings.extend(settings_findings(&settings));
    findings.sort();
    Ok(Report {
        objects: listing.len(),
        models,
        settings,
        findings,
    })
}

/// Verifies one model, turning a verdict into findings; a failure to check is an error.
async fn verify_one(
    engine: &Engine,
    located: &Located,
    opts: &Options<'_>,
    findings: &mut Vec<Finding>,
) -> Result<Option<AcceptedModel>, FetchError> {
    let result = if opts.shallow {
        check_listing(engine, located, opts.policy, None, UnsignedFiles::Refuse)
            .await
            .map(|l| (l.manifest.pinned_digest().0.clone(), l.accepted))
    } else {
        fetch(
            engine,
            located,
            opts.policy,
            None,
            UnsignedFiles::Refuse,
            None,
            None,
        )
        .await
        .map(|f| (f.verified.digest, f.accepted))
    };
    let error = match result {
        Ok((digest, accepted)) => {
            return Ok(Some(AcceptedModel {
                digest: format!("sha256:{}", digest.to_hex()),
                rule: accepted
                    .as_ref()
                    .map(|a| a.rule.clone())
                    .unwrap_or_default(),
                authority: accepted.map(|a| a.authority).unwrap_or_default(),
            }))
        }
        Err(e) if !e.is_verdict() => return Err(e),
        Err(e) => e,
    };
    let sig_key = located.default_signature().key;
    match error {
        FetchError::Mismatch { mismatch, .. } => {
            let f =
                |kind, path: &modelseal_kernel::manifest::ResourcePath, detail: String| Finding {
                    kind,
                    key: located.object_key(path),
                    detail,
                };
            for c in &mismatch.changed {
                findings.push(f(
                    Kind::Modified,
                    c.key.path(),
                    format!("{} differs from the signed digest", c.key),
                ));
            }
            for (p, size) in &mismatch.size_changed {
                findings.push(f(
                    Kind::Modified,
                    p,
                    format!("size {size} differs from the signed shards"),
                ));
            }
            for p in &mismatch.missing {
                findings.push(f(
                    Kind::Missing,
                    p,
                    format!("signed in {sig_key} but not in the bucket"),
                ));
            }
            for p in &mismatch.extra {
                findings.push(f(
                    Kind::Extra,
                    p,
                    format!("not in the manifest of {sig_key}"),
                ));
            }
        }
        other => findings.push(Finding {
            kind: Kind::NotVerified,
            key: sig_key,
            detail: other.to_string(),
        }),
    }
    Ok(None)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::iam::{glob, MAX_POLICY_BYTES};

    fn o(key: &str) -> Object {
        Object {
            key: key.into(),
            size: 1,
            etag: None,
        }
    }

    #[test]
    fn an_unreadable_setting_is_a_finding_of_its_own_never_on_or_off() {
        let kinds = |s: &BucketSettings| -> Vec<&str> {
            settings_findings(s).iter().map(|f| f.kind.name()).collect()
        };
        let mut s = BucketSettings::default();
        assert_eq!(kinds(&s), ["versioning_off", "public_access_not_blocked"]);
        s.unreadable.push(modelseal_s3::Unreadable {
            setting: Setting::Versioning,
            reason: "NotImplemented (HTTP 501)".into(),
        });
        assert_eq!(
            kinds(&s),
            ["bucket_setting_unreadable", "public_access_not_blocked"]
        );
        assert_eq!(
            settings_findings(&s)[0].detail,
            "the bucket's versioning was not checked: GetBucketVersioning: NotImplemented (HTTP 501)"
        );
        s.public_access_block = Some([true; 4]);
        s.unreadable.push(modelseal_s3::Unreadable {
            setting: Setting::PublicAccessBlock,
            reason: "access denied: Access Denied".into(),
        });
        // A refused call is reported even where a value was somehow present: never taken as on.
        assert_eq!(
            kinds(&s),
            ["bucket_setting_unreadable", "bucket_setting_unreadable"]
        );
    }

    #[test]
    fn grouping_by_innermost_signature() {
        let listing: Vec<Object> = [
            "m/model.sig",
            "m/w.bin",
            "m/v2/model.sig",
            "m/v2/w.bin",
            "single.bin",
            "single.bin.sig",
            "loose.txt",
            "orphan.sig",
            "m-v2/w.bin",
        ]
        .iter()
        .map(|k| o(k))
        .collect();
        let (groups, unsigned) = group(&listing);
        let keys = |v: &[Object]| v.iter().map(|o| o.key.clone()).collect::<Vec<_>>();
        assert_eq!(keys(&unsigned), ["loose.txt", "orphan.sig", "m-v2/w.bin"]);
        assert_eq!(
            groups,
            vec![
                Group::Dir {
                    prefix: "m/".into(),
                    objects: vec![o("m/model.sig"), o("m/w.bin")]
                },
                Group::Dir {
                    prefix: "m/v2/".into(),
                    objects: vec![o("m/v2/model.sig"), o("m/v2/w.bin")]
                },
                Group::File {
                    object: o("single.bin")
                },
            ]
        );
    }

    const ARN: &str = "arn:aws:kms:eu-west-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab";

    fn modelseal_policy() -> String {
        serde_json::json!({
            "Version": "2012-10-17",
            "Statement": [
                {"Sid": "DenyInsecureTransport", "Effect": "Deny", "Principal": "*", "Action": "s3:*",
                 "Resource": ["arn:aws:s3:::b", "arn:aws:s3:::b/*"],
                 "Condition": {"Bool": {"aws:SecureTransport": "false"}}},
                {"Sid": "DenyPutWithoutSseKms", "Effect": "Deny", "Principal": "*", "Action": "s3:PutObject",
                 "Resource": "arn:aws:s3:::b/*",
                 "Condition": {"StringNotEquals": {"s3:x-amz-server-side-encryption": "aws:kms"}}},
                {"Sid": "DenyPutWithOtherKmsKey", "Effect": "Deny", "Principal": "*", "Action": "s3:PutObject",
                 "Resource": "arn:aws:s3:::b/*",
                 "Condition": {"StringNotEquals": {"s3:x-amz-server-side-encryption-aws-kms-key-id": ARN}}}
            ]
        })
        .to_string()
    }

    fn kinds(f: &[Finding]) -> Vec<Kind> {
        f.iter().map(|f| f.kind).collect()
    }

    #[test]
    fn modelseals_policy_is_clean_and_weaker_ones_are_not() {
        let good = modelseal_policy();
        assert_eq!(policy_findings("b", Some(&good), Some(ARN)), vec![]);
        // Padded past S3's 20 KB limit, the same policy is not read.
        let padded = format!("{good}{}", " ".repeat(MAX_POLICY_BYTES));
        assert_eq!(
            kinds(&policy_findings("b", Some(&padded), Some(ARN))),
            vec![Kind::NoBucketPolicy]
        );
        assert_eq!(
            kinds(&policy_findings("b", None, None)),
            [Kind::NoBucketPolicy]
        );
        // Another bucket's policy protects nothing here.
        assert_eq!(
            kinds(&policy_findings("other", Some(&good), None)),
            [Kind::PolicyAllowsUnencryptedPuts, Kind::PolicyAllowsHttp]
        );
        // Without the key-id statement, any key passes.
        let mut v: serde_json::Value = serde_json::from_str(&good).unwrap();
        v["Statement"].as_array_mut().unwrap().pop();
        assert_eq!(
            kinds(&policy_findings("b", Some(&v.to_string()), Some(ARN))),
            [Kind::PolicyAllowsOtherKmsKeys]
        );
        // Denying only SSE-S3 lets a put without any encryption header through; IfExists
        // (true when the key is absent) keeps it denied.
        // (Without the key-id statement, which on its own denies a put with no key header.)
        let weak = v.to_string().replace(
            "\"StringNotEquals\":{\"s3:x-amz-server-side-encryption\":\"aws:kms\"}",
            "\"StringEquals\":{\"s3:x-amz-server-side-encryption\":\"AES256\"}",
        );
        assert_ne!(weak, v.to_string());
        assert_eq!(
            kinds(&policy_findings("b", Some(&weak), None)),
            [Kind::PolicyAllowsUnencryptedPuts]
        );
        let if_exists = good.replace("\"StringNotEquals\"", "\"StringNotEqualsIfExists\"");
        assert_eq!(policy_findings("b", Some(&if_exists), Some(ARN)), vec![]);
        // An operator the evaluator does not model never counts as protection.
        let unknown = good.replace("\"Bool\"", "\"BinaryEquals\"");
        assert_eq!(
            kinds(&policy_findings("b", Some(&unknown), None)),
            [Kind::PolicyAllowsHttp]
        );
        // A deny for one principal is not a deny for everyone.
        let one = good.replace(
            "\"Principal\":\"*\"",
            "\"Principal\":{\"AWS\":\"arn:aws:iam::1:root\"}",
        );
        assert_eq!(
            kinds(&policy_findings("b", Some(&one), Some(ARN))),
            [
                Kind::PolicyAllowsUnencryptedPuts,
                Kind::PolicyAllowsOtherKmsKeys,
                Kind::PolicyAllowsHttp
            ]
        );
    }

    #[test]
    fn encryption_of_an_object() {
        let head = |sse: Option<&str>, key: Option<&str>| Head {
            object: o("k"),
            sse: sse.map(str::to_string),
            kms_key_id: key.map(str::to_string),
        };
        let ids = vec!["id".to_string(), ARN.to_string()];
        assert_eq!(
            sse_findings(&head(Some("aws:kms"), Some(ARN)), Some(&ids)),
            None
        );
        assert_eq!(
            sse_findings(&head(Some("aws:kms"), Some("other")), None),
            None
        );
        assert_eq!(
            sse_findings(&head(Some("aws:kms"), Some("other")), Some(&ids)).map(|f| f.kind),
            Some(Kind::OtherKmsKey)
        );
        assert_eq!(
            sse_findings(&head(Some("AES256"), None), None).map(|f| f.kind),
            Some(Kind::NotSseKms)
        );
        assert_eq!(
            sse_findings(&head(None, None), None).map(|f| f.kind),
            Some(Kind::NotSseKms)
        );
    }

    #[test]
    fn wildcards() {
        assert!(glob("s3:*", "s3:putobject"));
        assert!(glob("arn:aws:s3:::b/*", "arn:aws:s3:::b/x/y"));
        assert!(!glob("arn:aws:s3:::b/*", "arn:aws:s3:::bb/x"));
        assert!(glob("s3:Put?bject", "s3:PutObject"));
    }
}
