//! The bucket policy `modelseal policy bucket` prints and the requests `push` and `sign s3://`
//! send must agree: every request that chooses an object's encryption (PutObject,
//! CreateMultipartUpload) is captured on the wire by testkit's proxy in front of moto, and the
//! policy's Deny statements are evaluated against its exact headers, as S3 evaluates them.
//!
//! What the evaluator models: `Bool` and `StringEquals`/`StringNotEquals` conditions (the only
//! operators the policy uses), where a key missing from the request makes `StringNotEquals`
//! true (IAM's rule for negated operators, which is why a request without the key-id header was
//! denied). `aws:SecureTransport` is taken as true: the SDK talks https to AWS; loopback is
//! plain http. UploadPart and CompleteMultipartUpload carry no encryption headers; S3 encrypts
//! their bytes as the CreateMultipartUpload chose, so they are not evaluated here.

use std::collections::BTreeMap;
use std::path::Path;

use crate::common::aws;
use crate::common::{testdata, write_tree};
use modelseal_testkit::{noise, Proxy, Seen};

const SIGNER: &str = "model-signing/dir-basic/keys/signer.key.pem";

/// The request context of one request: condition keys and values.
type Context = BTreeMap<&'static str, String>;

fn context(seen: &Seen) -> Context {
    let mut c = Context::new();
    c.insert("aws:SecureTransport", "true".into());
    for (name, key) in [
        (
            "x-amz-server-side-encryption",
            "s3:x-amz-server-side-encryption",
        ),
        (
            "x-amz-server-side-encryption-aws-kms-key-id",
            "s3:x-amz-server-side-encryption-aws-kms-key-id",
        ),
    ] {
        if let Some((_, v)) = seen.headers.iter().find(|(k, _)| k == name) {
            c.insert(key, v.clone());
        }
    }
    c
}

fn values(v: &serde_json::Value) -> Vec<String> {
    match v {
        serde_json::Value::Array(a) => a.iter().flat_map(values).collect(),
        serde_json::Value::String(s) => vec![s.clone()],
        other => vec![other.to_string()],
    }
}

/// Whether one condition block holds for `ctx`.
fn condition_holds(conditions: &serde_json::Value, ctx: &Context) -> bool {
    let Some(ops) = conditions.as_object() else {
        return true;
    };
    ops.iter().all(|(op, keys)| {
        keys.as_object().unwrap().iter().all(|(key, want)| {
            let want = values(want);
            let have = ctx.get(key.as_str());
            match op.as_str() {
                "Bool" | "StringEquals" => have.is_some_and(|h| want.contains(h)),
                "StringNotEquals" => have.is_none_or(|h| !want.contains(h)),
                other => panic!("the evaluator does not model {other}"),
            }
        })
    })
}

/// The Sids of Deny statements on s3:PutObject (or s3:*) whose conditions hold.
fn denied_by(policy: &serde_json::Value, ctx: &Context) -> Vec<String> {
    policy["Statement"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["Effect"] == "Deny")
        .filter(|s| {
            values(&s["Action"])
                .iter()
                .any(|a| a == "s3:PutObject" || a == "s3:*")
        })
        .filter(|s| condition_holds(&s["Condition"], ctx))
        .map(|s| s["Sid"].as_str().unwrap_or("?").to_string())
        .collect()
}

/// Requests that choose an object's encryption: PutObject (a PUT that is not an UploadPart) and
/// CreateMultipartUpload (POST ?uploads).
fn choosing_encryption(seen: &[Seen], bucket: &str) -> Vec<Seen> {
    seen.iter()
        .filter(|s| s.target.starts_with(&format!("/{bucket}/")))
        .filter(|s| {
            (s.method == "PUT" && !s.target.contains("uploadId="))
                || (s.method == "POST" && s.target.contains("?uploads"))
        })
        .cloned()
        .collect()
}

/// Runs modelseal against `url` in `dir`; it must succeed. Returns stdout.
fn modelseal_ok(url: &str, dir: &Path, args: &[&str]) -> Vec<u8> {
    let out = aws::modelseal(url, "testing", "testing")
        .current_dir(dir)
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

fn policy_for(dir: &Path, url: &str, bucket: &str, arn: &str) -> serde_json::Value {
    let args = [
        "policy",
        "bucket",
        "--bucket",
        bucket,
        "--sse-kms-key-id",
        arn,
    ];
    serde_json::from_slice(&modelseal_ok(url, dir, &args)).unwrap()
}

/// The evaluator itself: what the policy must deny and allow, so that the agreement below can
/// fail. (Before push sent the ARN, an alias or `--sse aws:kms` was denied.)
#[test]
fn the_evaluator_denies_what_the_policy_forbids() {
    let arn = "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab";
    let dir = tempfile::tempdir().unwrap();
    let policy = policy_for(dir.path(), "http://127.0.0.1:9", "models", arn);
    let ctx = |sse: Option<&str>, key: Option<&str>| {
        let mut c = Context::new();
        c.insert("aws:SecureTransport", "true".into());
        if let Some(s) = sse {
            c.insert("s3:x-amz-server-side-encryption", s.into());
        }
        if let Some(k) = key {
            c.insert("s3:x-amz-server-side-encryption-aws-kms-key-id", k.into());
        }
        c
    };
    assert!(denied_by(&policy, &ctx(Some("aws:kms"), Some(arn))).is_empty());
    assert_eq!(
        denied_by(&policy, &ctx(Some("aws:kms"), None)),
        ["DenyPutWithOtherKmsKey"]
    );
    assert_eq!(
        denied_by(&policy, &ctx(Some("aws:kms"), Some("alias/models"))),
        ["DenyPutWithOtherKmsKey"]
    );
    assert_eq!(
        denied_by(
            &policy,
            &ctx(
                Some("aws:kms"),
                Some("1234abcd-12ab-34cd-56ef-1234567890ab")
            )
        ),
        ["DenyPutWithOtherKmsKey"]
    );
    assert!(denied_by(&policy, &ctx(Some("AES256"), None)).contains(&"DenyPutWithoutSseKms".into()));
    let mut plain = ctx(Some("aws:kms"), Some(arn));
    plain.insert("aws:SecureTransport", "false".into());
    assert_eq!(denied_by(&policy, &plain), ["DenyInsecureTransport"]);
}

/// push (key id, alias, `--sse aws:kms` with the key as bucket default; a file large enough for
/// a multipart upload) and `sign s3://`: every request that chooses encryption passes the policy.
#[test]
fn push_and_sign_send_what_the_bucket_policy_demands() {
    let Some(url) = aws::server("MODELSEAL_TEST_MOTO") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::copy(testdata(SIGNER), d.join("signer.key")).unwrap();
    write_tree(
        d,
        &[
            ("model/config.json", b"{\"layers\": 2}\n"),
            ("model/w.bin", &noise(20 << 20, 7)),
        ],
    );
    let rt = aws::rt();
    let s3 = aws::s3(&url, "testing", "testing");
    let kms = aws::kms(&url);
    let bucket = aws::bucket(&s3, &rt, "policy");
    let (id, arn) = aws::sse_key(&kms, &rt);
    let alias = format!("alias/{bucket}");
    rt.block_on(
        kms.create_alias()
            .alias_name(&alias)
            .target_key_id(&id)
            .send(),
    )
    .unwrap();
    use aws_sdk_s3::types::{
        ServerSideEncryption, ServerSideEncryptionByDefault, ServerSideEncryptionConfiguration,
        ServerSideEncryptionRule,
    };
    let default = ServerSideEncryptionByDefault::builder()
        .sse_algorithm(ServerSideEncryption::AwsKms)
        .kms_master_key_id(&alias)
        .build()
        .unwrap();
    let config = ServerSideEncryptionConfiguration::builder()
        .rules(
            ServerSideEncryptionRule::builder()
                .apply_server_side_encryption_by_default(default)
                .build(),
        )
        .build()
        .unwrap();
    rt.block_on(
        s3.put_bucket_encryption()
            .bucket(&bucket)
            .server_side_encryption_configuration(config)
            .send(),
    )
    .unwrap();
    let policy = policy_for(d, &url, &bucket, &arn);

    let proxy = Proxy::start(&url, Vec::new());
    let run = |args: &[&str]| {
        modelseal_ok(proxy.url(), d, args);
    };
    let uri = |p: &str| format!("s3://{bucket}/{p}");
    run(&[
        "push",
        "model",
        &uri("by-id"),
        "--key",
        "signer.key",
        "--sse-kms-key-id",
        &id,
    ]);
    run(&[
        "push",
        "model",
        &uri("by-alias"),
        "--key",
        "signer.key",
        "--sse-kms-key-id",
        &alias,
    ]);
    run(&[
        "push",
        "model",
        &uri("by-default"),
        "--key",
        "signer.key",
        "--sse",
        "aws:kms",
    ]);
    run(&[
        "sign",
        &uri("by-id"),
        "--key",
        "signer.key",
        "--sse-kms-key-id",
        &alias,
        "--force",
    ]);

    let requests = choosing_encryption(&proxy.seen(), &bucket);
    // 3 pushes × (config.json PutObject + w.bin CreateMultipartUpload + model.sig) + 1 signature.
    assert_eq!(requests.len(), 10, "{requests:#?}");
    assert!(
        requests.iter().any(|r| r.method == "POST"),
        "no multipart upload was exercised"
    );
    for r in &requests {
        let denied = denied_by(&policy, &context(r));
        assert!(
            denied.is_empty(),
            "{} {} denied by {denied:?}: {:?}",
            r.method,
            r.target,
            r.headers
        );
    }
}
