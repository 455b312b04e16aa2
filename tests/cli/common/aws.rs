//! Loopback S3 and KMS servers for tests: moto (S3 with SSE-KMS, and KMS) and s3rver.
//! `scripts/test.sh` starts them and exports their URLs; tests fail without them unless
//! `MODELSEAL_SKIP_S3=1` says to skip on purpose.

use std::process::Command;

pub use modelseal_testkit::store::{bucket, rt, s3, server};

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
