//! A small IAM evaluator for bucket policies: what a policy fails to deny (a PutObject without
//! SSE-KMS or under another key, any request over plain HTTP), for every principal. Operators it
//! does not model never count as protection.

use std::collections::BTreeMap;

use crate::findings::{Finding, Kind};

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
pub(crate) fn glob(pattern: &str, text: &str) -> bool {
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
pub(crate) const MAX_POLICY_BYTES: usize = 20 * 1024;

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
