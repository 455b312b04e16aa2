//! Loopback S3 servers for the integration tests of both binaries: the server's URL (from the
//! variables `scripts/test.sh` exports), an SDK client for it, and fresh buckets.

use std::sync::atomic::{AtomicUsize, Ordering};

/// The URL `scripts/test.sh` exported in `var` (`MODELSEAL_TEST_MOTO`, `MODELSEAL_TEST_S3RVER`).
/// Without it the test fails, unless `MODELSEAL_SKIP_S3=1` says to skip on purpose (`None`).
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

/// A current-thread runtime for the tests' own SDK calls.
pub fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a test runtime")
}

/// An S3 client for `url` with these static credentials, path-style, in us-east-1.
pub fn s3(url: &str, id: &str, secret: &str) -> aws_sdk_s3::Client {
    aws_sdk_s3::Client::from_conf(
        aws_sdk_s3::config::Builder::new()
            .behavior_version(aws_sdk_s3::config::BehaviorVersion::latest())
            .region(aws_sdk_s3::config::Region::new("us-east-1"))
            .credentials_provider(aws_sdk_s3::config::Credentials::new(
                id, secret, None, None, "test",
            ))
            .endpoint_url(url)
            .force_path_style(true)
            .build(),
    )
}

static COUNTER: AtomicUsize = AtomicUsize::new(0);

/// A fresh bucket named `STEM-PID-N`.
pub fn bucket(client: &aws_sdk_s3::Client, rt: &tokio::runtime::Runtime, stem: &str) -> String {
    let name = format!(
        "{stem}-{}-{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    );
    rt.block_on(client.create_bucket().bucket(&name).send())
        .expect("create a test bucket");
    name
}
