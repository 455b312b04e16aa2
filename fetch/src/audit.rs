//! `modelseal audit`: what a security team wants to know about a model bucket. Every object
//! under a prefix is grouped into signed models (a prefix holding `model.sig`, or an object
//! with `KEY.sig` beside it) or reported as unsigned; every object's encryption is read with
//! HEAD; every model is verified (streamed and hashed, or with `shallow` its signature and
//! listing only); the bucket's policy, versioning and public access block are read.
//!
//! Findings name the full object key; the caller decides how to print them. Nothing here
//! writes anywhere.

use std::collections::{BTreeMap, BTreeSet};

use futures_util::stream::{self, StreamExt, TryStreamExt};
use modelseal_kernel::manifest::UnsignedFiles;
use modelseal_kernel::trust::Policy;
use modelseal_s3::{BucketSettings, Engine, Head, Object, Setting};

use crate::{check_listing, fetch, located_dir, FetchError, Located, SIGNATURE_NAME};

/// What is wrong, by kind. [`Kind::name`] is the stable JSON spelling.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Kind {
    /// The object is not encrypted with SSE-KMS.
    NotSseKms,
    /// SSE-KMS with a key other than the expected one.
    OtherKmsKey,
    /// The object belongs to no signed model.
    Unsigned,
    /// The model's signature does not verify with the given trust (or cannot be read).
    NotVerified,
    /// A signed object's bytes (or size) differ from the signed digest.
    Modified,
    /// A signed file has no object.
    Missing,
    /// An object beside a model that its manifest does not list.
    Extra,
    /// The bucket has no policy.
    NoBucketPolicy,
    /// The policy does not deny a PutObject without SSE-KMS.
    PolicyAllowsUnencryptedPuts,
    /// The policy does not deny a PutObject with SSE-KMS under another key.
    PolicyAllowsOtherKmsKeys,
    /// The policy does not deny requests over plain HTTP.
    PolicyAllowsHttp,
    /// Versioning is not enabled (an overwritten model cannot be recovered or traced).
    VersioningOff,
    /// The public access block is missing or not fully on.
    PublicAccessNotBlocked,
    /// A bucket setting could not be read (access denied, or the store lacks the call), so it
    /// was not checked.
    BucketSettingUnreadable,
}

impl Kind {
    pub fn name(self) -> &'static str {
        match self {
            Kind::NotSseKms => "not_sse_kms",
            Kind::OtherKmsKey => "other_kms_key",
            Kind::Unsigned => "unsigned",
            Kind::NotVerified => "not_verified",
            Kind::Modified => "modified",
            Kind::Missing => "missing",
            Kind::Extra => "extra",
            Kind::NoBucketPolicy => "no_bucket_policy",
            Kind::PolicyAllowsUnencryptedPuts => "policy_allows_unencrypted_puts",
            Kind::PolicyAllowsOtherKmsKeys => "policy_allows_other_kms_keys",
            Kind::PolicyAllowsHttp => "policy_allows_http",
            Kind::VersioningOff => "versioning_off",
            Kind::PublicAccessNotBlocked => "public_access_not_blocked",
            Kind::BucketSettingUnreadable => "bucket_setting_unreadable",
        }
    }
}

/// One finding: the full object key (empty for the bucket's settings) and what was found.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Finding {
    pub kind: Kind,
    pub key: String,
    pub detail: String,
}

/// A signed model found in the listing.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Group {
    /// `prefix` (empty, or ending in `/`) holds `model.sig`; `objects` are the ones it owns.
    Dir {
        prefix: String,
        objects: Vec<Object>,
    },
    /// An object with `KEY.sig` beside it.
    File { object: Object },
}

/// Groups a listing: each object belongs to the innermost prefix holding a `model.sig`; an
/// object outside every such prefix is a single-file model when `KEY.sig` exists, that
/// signature belongs to it, and anything else is unsigned.
pub fn group(listing: &[Object]) -> (Vec<Group>, Vec<Object>) {
    let keys: BTreeSet<&str> = listing.iter().map(|o| o.key.as_str()).collect();
    let dirs: BTreeSet<&str> = listing
        .iter()
        .filter_map(|o| o.key.strip_suffix(SIGNATURE_NAME))
        .filter(|p| p.is_empty() || p.ends_with('/'))
        .collect();
    let owner = |key: &str| -> Option<&str> {
        dirs.iter()
            .filter(|p| key.starts_with(**p))
            .max_by_key(|p| p.len())
            .copied()
    };
    let mut owned: BTreeMap<&str, Vec<Object>> = dirs.iter().map(|p| (*p, Vec::new())).collect();
    let mut files = Vec::new();
    let mut unsigned = Vec::new();
    for o in listing {
        if let Some(p) = owner(&o.key) {
            owned.entry(p).or_default().push(o.clone());
            continue;
        }
        let is_signature_of_file = o
            .key
            .strip_suffix(".sig")
            .is_some_and(|k| keys.contains(k) && owner(k).is_none());
        if is_signature_of_file {
            continue;
        }
        if keys.contains(format!("{}.sig", o.key).as_str()) {
            files.push(Group::File { object: o.clone() });
        } else {
            unsigned.push(o.clone());
        }
    }
    let mut groups: Vec<Group> = owned
        .into_iter()
        .map(|(p, objects)| Group::Dir {
            prefix: p.to_string(),
            objects,
        })
        .collect();
    groups.extend(files);
    (groups, unsigned)
}

/// What the encryption of one object says, given the expected key ids (`None`: any KMS key).
pub fn sse_findings(head: &Head, expected: Option<&[String]>) -> Option<Finding> {
    let key = head.object.key.clone();
    if head.sse.as_deref() != Some("aws:kms") {
        return Some(Finding {
            kind: Kind::NotSseKms,
            key,
            detail: format!(
                "server-side encryption: {}",
                head.sse.as_deref().unwrap_or("none")
            ),
        });
    }
    let expected = expected?;
    let found = head.kms_key_id.as_deref().unwrap_or("");
    // S3 reports the key's ARN (moto: what was sent); either names the expected key.
    if expected.iter().any(|e| e == found) {
        return None;
    }
    Some(Finding {
        kind: Kind::OtherKmsKey,
        key,
        detail: format!(
            "encrypted with KMS key {}",
            if found.is_empty() {
                "(not reported)"
            } else {
                found
            }
        ),
    })
}

// ------------------------------------------------------------------ bucket policy

/// One request, as IAM evaluates a bucket policy's conditions: action, resource, and the
/// condition keys present.
struct Request<'a> {
    action: &'a str,
    resource: String,
    context: BTreeMap<&'a str, &'a str>,
}

fn strings(v: &serde_json::Value) -> Vec<String> {
    match v {
        serde_json::Value::Array(a) => a.iter().flat_map(strings).collect(),
        serde_json::Value::String(s) => vec![s.clone()],
        serde_json::Value::Bool(b) => vec![b.to_string()],
        _ => Vec::new(),
    }
}

/// IAM's `*` and `?` wildcards, case-sensitive (as for ARNs; actions are compared lowercased).
fn glob(pattern: &str, text: &str) -> bool {
    fn go(p: &[u8], t: &[u8]) -> bool {
        match (p.first(), t.first()) {
            (None, None) => true,
            (Some(b'*'), _) => go(&p[1..], t) || (!t.is_empty() && go(p, &t[1..])),
            (Some(b'?'), Some(_)) => go(&p[1..], &t[1..]),
            (Some(a), Some(b)) if a == b => go(&p[1..], &t[1..]),
            _ => false,
        }
    }
    go(pattern.as_bytes(), text.as_bytes())
}

/// Whether a condition block holds. `None` when it uses an operator this evaluator does not
/// model: such a statement is never counted as protection.
fn conditions_hold(block: &serde_json::Value, ctx: &BTreeMap<&str, &str>) -> Option<bool> {
    let Some(ops) = block.as_object() else {
        return Some(true);
    };
    for (op, keys) in ops {
        let keys = keys.as_object()?;
        for (key, want) in keys {
            let want = strings(want);
            let have = ctx.get(key.as_str()).copied();
            let if_exists = op.ends_with("IfExists");
            let base = op.trim_end_matches("IfExists");
            let holds = match (base, have) {
                (_, None) if if_exists => true,
                ("Null", h) => want.iter().any(|w| (w == "true") == h.is_none()),
                ("StringEquals" | "Bool" | "ArnEquals", Some(h)) => want.iter().any(|w| w == h),
                ("StringEquals" | "Bool" | "ArnEquals", None) => false,
                ("StringNotEquals" | "ArnNotEquals", Some(h)) => !want.iter().any(|w| w == h),
                ("StringNotEquals" | "ArnNotEquals", None) => true,
                ("StringLike" | "ArnLike", Some(h)) => want.iter().any(|w| glob(w, h)),
                ("StringLike" | "ArnLike", None) => false,
                ("StringNotLike" | "ArnNotLike", Some(h)) => !want.iter().any(|w| glob(w, h)),
                ("StringNotLike" | "ArnNotLike", None) => true,
                _ => return None,
            };
            if !holds {
                return Some(false);
            }
        }
    }
    Some(true)
}

/// Whether some Deny statement for every principal denies `req`.
fn denies(policy: &serde_json::Value, req: &Request<'_>) -> bool {
    let Some(statements) = policy.get("Statement") else {
        return false;
    };
    let statements: Vec<&serde_json::Value> = match statements {
        serde_json::Value::Array(a) => a.iter().collect(),
        other => vec![other],
    };
    statements.into_iter().any(|s| {
        let everyone = s.get("Principal").is_some_and(|p| {
            p == "*"
                || p.get("AWS")
                    .is_some_and(|a| strings(a).iter().any(|x| x == "*"))
        });
        s.get("Effect").and_then(|e| e.as_str()) == Some("Deny")
            && everyone
            && s.get("NotAction").is_none()
            && s.get("NotResource").is_none()
            && s.get("Action").is_some_and(|a| {
                strings(a)
                    .iter()
                    .any(|p| glob(&p.to_ascii_lowercase(), &req.action.to_ascii_lowercase()))
            })
            && s.get("Resource")
                .is_some_and(|r| strings(r).iter().any(|p| glob(p, &req.resource)))
            && s.get("Condition")
                .map_or(Some(true), |c| conditions_hold(c, &req.context))
                == Some(true)
    })
}

/// S3 refuses bucket policies above 20 KB; a longer text is not a policy S3 would enforce, and
/// is not evaluated.
const MAX_POLICY_BYTES: usize = 20 * 1024;

/// What a bucket's policy fails to deny: a PutObject without SSE-KMS (without any encryption
/// header, and with SSE-S3), one under another KMS key (when `kms_key_arn` is known), and any
/// request over plain HTTP. Unknown condition operators never count as protection.
pub fn policy_findings(
    bucket: &str,
    policy: Option<&str>,
    kms_key_arn: Option<&str>,
) -> Vec<Finding> {
    let finding = |kind, detail: &str| Finding {
        kind,
        key: String::new(),
        detail: detail.to_string(),
    };
    let Some(text) = policy else {
        return vec![finding(
            Kind::NoBucketPolicy,
            "the bucket has no policy: nothing denies unencrypted puts or plain HTTP (modelseal policy bucket writes one)",
        )];
    };
    if text.len() > MAX_POLICY_BYTES {
        return vec![finding(
            Kind::NoBucketPolicy,
            "the bucket policy is larger than S3 allows (20 KB) and was not read",
        )];
    }
    let Ok(policy) = serde_json::from_str::<serde_json::Value>(text) else {
        return vec![finding(
            Kind::NoBucketPolicy,
            "the bucket policy is not JSON",
        )];
    };
    let object = format!("arn:aws:s3:::{bucket}/audit-probe");
    let put = |ctx: &[(&'static str, &'static str)], extra: Option<(&'static str, &str)>| {
        let mut context: BTreeMap<&str, &str> = ctx.iter().copied().collect();
        if let Some((k, v)) = extra {
            context.insert(k, v);
        }
        denies(
            &policy,
            &Request {
                action: "s3:PutObject",
                resource: object.clone(),
                context,
            },
        )
    };
    let https = ("aws:SecureTransport", "true");
    let mut out = Vec::new();
    let no_header = put(&[https], None);
    let sse_s3 = put(
        &[https, ("s3:x-amz-server-side-encryption", "AES256")],
        None,
    );
    if !(no_header && sse_s3) {
        out.push(finding(
            Kind::PolicyAllowsUnencryptedPuts,
            "the bucket policy does not deny a PutObject without SSE-KMS",
        ));
    }
    if let Some(arn) = kms_key_arn {
        let other = "arn:aws:kms:us-east-1:000000000000:key/00000000-0000-0000-0000-000000000000";
        let other_key = put(
            &[https, ("s3:x-amz-server-side-encryption", "aws:kms")],
            Some(("s3:x-amz-server-side-encryption-aws-kms-key-id", other)),
        );
        let own_key = put(
            &[https, ("s3:x-amz-server-side-encryption", "aws:kms")],
            Some(("s3:x-amz-server-side-encryption-aws-kms-key-id", arn)),
        );
        if !other_key || own_key {
            out.push(finding(
                Kind::PolicyAllowsOtherKmsKeys,
                &format!("the bucket policy does not demand KMS key {arn} (and only it)"),
            ));
        }
    }
    let http = Request {
        action: "s3:GetObject",
        resource: object.clone(),
        context: [("aws:SecureTransport", "false")].into_iter().collect(),
    };
    if !denies(&policy, &http) {
        out.push(finding(
            Kind::PolicyAllowsHttp,
            "the bucket policy does not deny requests over plain HTTP (aws:SecureTransport)",
        ));
    }
    out
}

/// Versioning and the public access block; a setting that could not be read is one finding
/// of its own, never taken as off or as on.
pub fn settings_findings(settings: &BucketSettings) -> Vec<Finding> {
    let mut out: Vec<Finding> = settings
        .unreadable
        .iter()
        .map(|u| Finding {
            kind: Kind::BucketSettingUnreadable,
            key: String::new(),
            detail: format!(
                "the bucket's {} was not checked: {}: {}",
                u.setting.name(),
                u.setting.call(),
                u.reason
            ),
        })
        .collect();
    if !settings.is_unreadable(Setting::Versioning)
        && settings.versioning.as_deref() != Some("Enabled")
    {
        out.push(Finding {
            kind: Kind::VersioningOff,
            key: String::new(),
            detail: format!(
                "versioning is {}: an overwritten model leaves no trace",
                settings.versioning.as_deref().unwrap_or("off")
            ),
        });
    }
    if !settings.is_unreadable(Setting::PublicAccessBlock)
        && settings.public_access_block != Some([true; 4])
    {
        out.push(Finding {
            kind: Kind::PublicAccessNotBlocked,
            key: String::new(),
            detail: "the public access block is not fully on (all four settings)".into(),
        });
    }
    out
}

// ------------------------------------------------------------------ the audit

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
