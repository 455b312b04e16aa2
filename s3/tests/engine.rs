//! The engine against real S3 servers on loopback: If-Match on a replaced object, and a broken
//! connection resumed where it stopped (through a proxy that cuts the first response short).

use modelseal_s3::{Chunk, Engine, Options, S3Error, Sink, Tuning};
use modelseal_testkit::{Fault, Match, Proxy, Rule};
use sha2::{Digest, Sha256};

fn server(var: &str) -> Option<String> {
    if let Ok(url) = std::env::var(var) {
        return Some(url);
    }
    if std::env::var("MODELSEAL_SKIP_S3").as_deref() == Ok("1") {
        return None;
    }
    panic!("{var} is not set: run scripts/test.sh, or set MODELSEAL_SKIP_S3=1 to skip");
}

/// Explicit credentials (not the environment: tests in one binary run at once).
fn sdk(id: &str, secret: &str) -> aws_config::SdkConfig {
    aws_config::SdkConfig::builder()
        .behavior_version(aws_config::BehaviorVersion::latest())
        .region(aws_config::Region::new("us-east-1"))
        .credentials_provider(aws_sdk_s3::config::SharedCredentialsProvider::new(
            aws_sdk_s3::config::Credentials::new(id, secret, None, None, "test"),
        ))
        .build()
}

fn engine(sdk: &aws_config::SdkConfig, url: &str, tuning: Tuning) -> Engine {
    let options = Options {
        endpoint_url: Some(url.to_string()),
        force_path_style: true,
        region: Some("us-east-1".into()),
        anonymous: false,
        accelerate: false,
        profile: None,
    };
    Engine::from_sdk_config(sdk, &options, tuning)
}

struct Hash(Sha256);
impl Sink for Hash {
    fn write(&mut self, chunk: &Chunk) -> std::io::Result<()> {
        self.0.update(&chunk[..]);
        Ok(())
    }
}

fn raw_client(sdk: &aws_config::SdkConfig, url: &str) -> aws_sdk_s3::Client {
    aws_sdk_s3::Client::from_conf(
        aws_sdk_s3::config::Builder::from(sdk)
            .endpoint_url(url)
            .force_path_style(true)
            .build(),
    )
}

fn data(n: usize, seed: u8) -> Vec<u8> {
    (0..n)
        .map(|i| {
            (i as u32)
                .wrapping_mul(2_654_435_761)
                .wrapping_add(seed as u32)
                .to_be_bytes()[1]
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn object_replaced_after_listing_is_detected() {
    let Some(url) = server("MODELSEAL_TEST_MOTO") else {
        return;
    };
    let sdk = sdk("testing", "testing");
    let raw = raw_client(&sdk, &url);
    let bucket = format!("engine-ifmatch-{}", std::process::id());
    raw.create_bucket().bucket(&bucket).send().await.unwrap();
    raw.put_object()
        .bucket(&bucket)
        .key("w.bin")
        .body(data(3 << 20, 1).into())
        .send()
        .await
        .unwrap();
    let e = engine(
        &sdk,
        &url,
        Tuning {
            range_size: 1 << 20,
            ..Tuning::default()
        },
    );
    let listed = e.list(&bucket, "").await.unwrap();
    assert_eq!(listed.len(), 1);
    // Same size, other bytes: only the ETag tells them apart.
    raw.put_object()
        .bucket(&bucket)
        .key("w.bin")
        .body(data(3 << 20, 2).into())
        .send()
        .await
        .unwrap();
    match e.download(&bucket, &listed[0], Hash(Sha256::new())).await {
        Err(S3Error::ObjectChanged { key, .. }) => assert_eq!(key, "w.bin"),
        Err(other) => panic!("expected ObjectChanged, got {other}"),
        Ok(_) => panic!("a replaced object was read without complaint"),
    }
    // Listed afresh, it downloads.
    let listed = e.list(&bucket, "").await.unwrap();
    let h = e
        .download(&bucket, &listed[0], Hash(Sha256::new()))
        .await
        .unwrap();
    assert_eq!(
        h.0.finalize().to_vec(),
        Sha256::digest(data(3 << 20, 2)).to_vec()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn broken_connection_resumes_the_range() {
    let Some(url) = server("MODELSEAL_TEST_S3RVER") else {
        return;
    };
    let bucket =
        std::env::var("MODELSEAL_TEST_S3RVER_BUCKET").unwrap_or_else(|_| "modelseal".into());
    let sdk = sdk("S3RVER", "S3RVER");
    let raw = raw_client(&sdk, &url);
    let body = data(6 << 20, 7);
    let key = format!("resume-{}.bin", std::process::id());
    raw.put_object()
        .bucket(&bucket)
        .key(&key)
        .body(body.clone().into())
        .send()
        .await
        .unwrap();
    // The first ranged GET is reset after 2 MiB of its body.
    let proxy = Proxy::start(
        &url,
        vec![Rule::new(
            Match::ranged_get(&key),
            Fault::ResetAfter(2 << 20),
        )],
    );
    // One range for the whole object, so the resume is visible as a second, later Range.
    let e = engine(
        &sdk,
        proxy.url(),
        Tuning {
            range_size: 8 << 20,
            max_attempts: 3,
            ..Tuning::default()
        },
    );
    let head = e.head(&bucket, &key).await.unwrap().unwrap();
    let h = e
        .download(&bucket, &head.object, Hash(Sha256::new()))
        .await
        .unwrap();
    assert_eq!(h.0.finalize().to_vec(), Sha256::digest(&body).to_vec());
    let ranges: Vec<String> = proxy.seen().into_iter().filter_map(|s| s.range).collect();
    assert_eq!(ranges.len(), 2, "{ranges:?}");
    assert_eq!(ranges[0], format!("bytes=0-{}", body.len() - 1));
    let resumed_from: usize = ranges[1]
        .trim_start_matches("bytes=")
        .split('-')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    assert!(
        resumed_from > 0 && resumed_from <= 2 << 20,
        "did not resume: {ranges:?}"
    );
}
