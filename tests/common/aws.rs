//! Loopback S3 and KMS servers for tests: moto (S3 with SSE-KMS, and KMS) and s3rver.
//! `scripts/test.sh` starts them and exports their URLs; tests fail without them unless
//! `MODELSEAL_SKIP_S3=1` says to skip on purpose.
#![allow(dead_code)]

use std::process::Command;

pub fn server(var: &str) -> Option<String> {
    if let Ok(url) = std::env::var(var) {
        return Some(url);
    }
    if std::env::var("MODELSEAL_SKIP_S3").as_deref() == Ok("1") {
        eprintln!("skipped: MODELSEAL_SKIP_S3=1");
        return None;
    }
    panic!("{var} is not set: run scripts/test.sh (it starts the servers), or set MODELSEAL_SKIP_S3=1 to skip");
}

pub fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

fn conf(url: &str, id: &str, secret: &str) -> aws_sdk_s3::config::Builder {
    aws_sdk_s3::config::Builder::new()
        .behavior_version(aws_sdk_s3::config::BehaviorVersion::latest())
        .region(aws_sdk_s3::config::Region::new("us-east-1"))
        .credentials_provider(aws_sdk_s3::config::Credentials::new(
            id, secret, None, None, "test",
        ))
        .endpoint_url(url)
        .force_path_style(true)
}

pub fn s3(url: &str, id: &str, secret: &str) -> aws_sdk_s3::Client {
    aws_sdk_s3::Client::from_conf(conf(url, id, secret).build())
}

pub fn kms(url: &str) -> aws_sdk_kms::Client {
    aws_sdk_kms::Client::from_conf(
        aws_sdk_kms::config::Builder::new()
            .behavior_version(aws_sdk_kms::config::BehaviorVersion::latest())
            .region(aws_sdk_kms::config::Region::new("us-east-1"))
            .credentials_provider(aws_sdk_kms::config::Credentials::new(
                "testing", "testing", None, None, "test",
            ))
            .endpoint_url(url)
            .build(),
    )
}

/// A fresh bucket with a unique name.
pub fn bucket(client: &aws_sdk_s3::Client, rt: &tokio::runtime::Runtime, stem: &str) -> String {
    let name = format!(
        "{stem}-{}-{}",
        std::process::id(),
        COUNTER.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
    );
    rt.block_on(client.create_bucket().bucket(&name).send())
        .unwrap();
    name
}

static COUNTER: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

/// A symmetric KMS key for SSE-KMS: (key id, key ARN).
pub fn sse_key(kms: &aws_sdk_kms::Client, rt: &tokio::runtime::Runtime) -> (String, String) {
    let k = rt.block_on(kms.create_key().send()).unwrap();
    let m = k.key_metadata().unwrap();
    (m.key_id().to_string(), m.arn().unwrap().to_string())
}

pub fn put(
    client: &aws_sdk_s3::Client,
    rt: &tokio::runtime::Runtime,
    bucket: &str,
    key: &str,
    data: &[u8],
) {
    rt.block_on(
        client
            .put_object()
            .bucket(bucket)
            .key(key)
            .body(data.to_vec().into())
            .send(),
    )
    .unwrap();
}

pub fn get(
    client: &aws_sdk_s3::Client,
    rt: &tokio::runtime::Runtime,
    bucket: &str,
    key: &str,
) -> Vec<u8> {
    rt.block_on(async {
        let o = client
            .get_object()
            .bucket(bucket)
            .key(key)
            .send()
            .await
            .unwrap();
        o.body.collect().await.unwrap().into_bytes().to_vec()
    })
}

pub fn delete(client: &aws_sdk_s3::Client, rt: &tokio::runtime::Runtime, bucket: &str, key: &str) {
    rt.block_on(client.delete_object().bucket(bucket).key(key).send())
        .unwrap();
}

/// modelseal with only the AWS settings for `url` in its environment.
pub fn modelseal(url: &str, id: &str, secret: &str) -> Command {
    let mut c = super::modelseal();
    for (k, _) in std::env::vars() {
        if k.starts_with("AWS_") || k.starts_with("MODELSEAL_KMS") {
            c.env_remove(k);
        }
    }
    c.env("AWS_ACCESS_KEY_ID", id)
        .env("AWS_SECRET_ACCESS_KEY", secret)
        .env("AWS_REGION", "us-east-1")
        .env("AWS_ENDPOINT_URL", url)
        .env("AWS_EC2_METADATA_DISABLED", "true");
    c
}
