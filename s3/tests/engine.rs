//! The engine against real S3 servers on loopback: If-Match on a replaced object, and a broken
//! connection resumed where it stopped (through a proxy that cuts the first response short).

use std::sync::{Arc, Mutex};

use modelseal_s3::{Chunk, Engine, Options, S3Error, Sink, Tuning};
use sha2::{Digest, Sha256};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

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

/// Forwards to `upstream`; the first response carrying a body is cut after `cut` bytes.
/// Records every `Range:` the client asked for.
async fn cutting_proxy(upstream: String, cut: usize) -> (String, Arc<Mutex<Vec<String>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let ranges = Arc::new(Mutex::new(Vec::new()));
    let cut_done = Arc::new(Mutex::new(false));
    let seen = ranges.clone();
    tokio::spawn(async move {
        loop {
            let Ok((client, _)) = listener.accept().await else {
                return;
            };
            let upstream = upstream.clone();
            let seen = seen.clone();
            let cut_done = cut_done.clone();
            tokio::spawn(async move {
                let server = TcpStream::connect(&upstream).await.unwrap();
                let (mut cr, mut cw) = client.into_split();
                let (mut sr, mut sw) = server.into_split();
                let seen2 = seen.clone();
                let up = tokio::spawn(async move {
                    let mut buf = vec![0u8; 64 << 10];
                    loop {
                        let n = match cr.read(&mut buf).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => n,
                        };
                        let text = String::from_utf8_lossy(&buf[..n]).to_ascii_lowercase();
                        for line in text.lines().filter(|l| l.starts_with("range:")) {
                            seen2.lock().unwrap().push(line.trim().to_string());
                        }
                        if sw.write_all(&buf[..n]).await.is_err() {
                            return;
                        }
                    }
                });
                let mut buf = vec![0u8; 64 << 10];
                let mut sent = 0usize;
                loop {
                    let n = match sr.read(&mut buf).await {
                        Ok(0) | Err(_) => break,
                        Ok(n) => n,
                    };
                    let cutting =
                        sent + n > cut && !std::mem::replace(&mut *cut_done.lock().unwrap(), true);
                    if cutting {
                        let _ = cw.write_all(&buf[..cut - sent]).await;
                        break; // drop both halves: the connection breaks mid-body
                    }
                    if cw.write_all(&buf[..n]).await.is_err() {
                        break;
                    }
                    sent += n;
                }
                up.abort();
            });
        }
    });
    (format!("http://{addr}"), ranges)
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
    let upstream = url.trim_start_matches("http://").to_string();
    let (proxy, ranges) = cutting_proxy(upstream, 2 << 20).await;
    // One range for the whole object, so the resume is visible as a second, later Range.
    let e = engine(
        &sdk,
        &proxy,
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
    let ranges = ranges.lock().unwrap().clone();
    assert_eq!(ranges.len(), 2, "{ranges:?}");
    assert_eq!(ranges[0], format!("range: bytes=0-{}", body.len() - 1));
    let resumed_from: usize = ranges[1]
        .trim_start_matches("range: bytes=")
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
