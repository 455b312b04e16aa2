//! `pull`, `verify s3://` and `push` against a hostile network: requests go through a
//! fault-injecting proxy (modelseal-testkit) in front of a real S3 or KMS server on loopback.
//! Transient faults recover byte-identically (exit 0); a server that keeps failing or stalling
//! is exit 2 ("could not check") in bounded time, naming the object and the fault; bytes that
//! differ from the signature, or an object replaced mid-download, are exit 1. DEST is sampled
//! throughout and never shows an unverified byte.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use crate::common::aws;
use crate::common::{testdata, write_tree};
use modelseal_testkit::{noise, run_watching, Fault, Match, Proxy, Rule, Watched};

const SIGNER: &str = "model-signing/dir-basic/keys/signer.key.pem";
const SIGNER_PUB: &str = "model-signing/dir-basic/keys/signer.pub.pem";

/// A scratch directory with the keys, and a signed model at `model/`: a 20 MiB weights file
/// (10 ranges of 2 MiB) and a config.
struct Fixture {
    url: String,
    id: &'static str,
    secret: &'static str,
    rt: tokio::runtime::Runtime,
    s3: aws_sdk_s3::Client,
    bucket: String,
    dir: tempfile::TempDir,
}

fn fixture(var: &str, id: &'static str, secret: &'static str) -> Option<Fixture> {
    let url = aws::server(var)?;
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(testdata(SIGNER), dir.path().join("signer.key")).unwrap();
    std::fs::copy(testdata(SIGNER_PUB), dir.path().join("signer.pub")).unwrap();
    write_tree(
        dir.path(),
        &[
            ("model/config.json", b"{\"layers\": 2}\n"),
            ("model/w.bin", &noise(20 << 20, 5)),
        ],
    );
    let rt = aws::rt();
    let s3 = aws::s3(&url, id, secret);
    let bucket = aws::bucket(&s3, &rt, "faults");
    Some(Fixture {
        url,
        id,
        secret,
        rt,
        s3,
        bucket,
        dir,
    })
}

impl Fixture {
    fn d(&self) -> &Path {
        self.dir.path()
    }

    /// Signs `model/` (signature outside it) and uploads it under `prefix` with the SDK.
    fn publish(&self, prefix: &str) {
        let out = self
            .ms(self.url.as_str())
            .args([
                "sign",
                "model",
                "--key",
                "signer.key",
                "--signature",
                "model.sig",
            ])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        for name in ["config.json", "w.bin"] {
            let data = std::fs::read(self.d().join("model").join(name)).unwrap();
            aws::put(
                &self.s3,
                &self.rt,
                &self.bucket,
                &format!("{prefix}/{name}"),
                &data,
            );
        }
        let sig = std::fs::read(self.d().join("model.sig")).unwrap();
        aws::put(
            &self.s3,
            &self.rt,
            &self.bucket,
            &format!("{prefix}/model.sig"),
            &sig,
        );
    }

    /// modelseal reaching S3 at `endpoint`, with short timeouts and 3 attempts.
    fn ms(&self, endpoint: &str) -> Command {
        let mut c = aws::modelseal(&self.url, self.id, self.secret);
        c.current_dir(self.d())
            .env("AWS_ENDPOINT_URL_S3", endpoint)
            .env("MODELSEAL_READ_TIMEOUT", "1")
            .env("MODELSEAL_CONNECT_TIMEOUT", "2")
            .env("AWS_MAX_ATTEMPTS", "3")
            .env("MODELSEAL_S3_RANGE_MIB", "2");
        c
    }

    fn uri(&self, prefix: &str) -> String {
        format!("s3://{}/{prefix}", self.bucket)
    }

    /// The model as pulled: its files and the signature beside them.
    fn pulled(&self) -> BTreeMap<String, u64> {
        let mut m = BTreeMap::new();
        for name in ["config.json", "w.bin"] {
            let len = std::fs::metadata(self.d().join("model").join(name))
                .unwrap()
                .len();
            m.insert(name.to_string(), len);
        }
        let sig = std::fs::metadata(self.d().join("model.sig")).unwrap().len();
        m.insert("model.sig".to_string(), sig);
        m
    }

    fn pull(&self, proxy: &Proxy, prefix: &str, dest: &str, limit: Duration) -> Watched {
        run_watching(
            self.ms(proxy.url()),
            &["pull", &self.uri(prefix), dest, "--key", "signer.pub"],
            &self.d().join(dest),
            &self.pulled(),
            limit,
        )
    }

    fn verify(&self, proxy: &Proxy, prefix: &str) -> Watched {
        let started = std::time::Instant::now();
        let out = self
            .ms(proxy.url())
            .args(["verify", &self.uri(prefix), "--key", "signer.pub"])
            .output()
            .unwrap();
        Watched {
            out,
            took: started.elapsed(),
        }
    }

    fn same_as_model(&self, dest: &str) {
        for name in ["config.json", "w.bin"] {
            assert_eq!(
                std::fs::read(self.d().join(dest).join(name)).unwrap(),
                std::fs::read(self.d().join("model").join(name)).unwrap(),
                "{name} differs"
            );
        }
    }
}

fn s3rver() -> Option<Fixture> {
    fixture("MODELSEAL_TEST_S3RVER", "S3RVER", "S3RVER")
}

fn moto() -> Option<Fixture> {
    fixture("MODELSEAL_TEST_MOTO", "testing", "testing")
}

#[test]
fn pull_recovers_from_a_reset_a_cut_body_and_a_503_with_retry_after() {
    let Some(f) = s3rver() else { return };
    f.publish("m");
    let rules = vec![
        Rule::new(Match::ranged_get("m/w.bin"), Fault::ResetAfter(300_000)).skip(2),
        Rule::new(
            Match::method("GET", "m/model.sig"),
            Fault::Status {
                status: 503,
                code: "SlowDown",
                retry_after: Some(1),
            },
        ),
    ];
    let proxy = Proxy::start(&f.url, rules);
    let w = f.pull(&proxy, "m", "dest", Duration::from_secs(60));
    assert_eq!(w.code(), Some(0), "{}", w.stderr());
    f.same_as_model("dest");
    assert_eq!(proxy.faults(), 2);
    assert!(w.took >= Duration::from_secs(1), "Retry-After ignored");
    proxy.set_rules(vec![Rule::new(
        Match::ranged_get("m/w.bin"),
        Fault::TruncateAfter(1_000_000),
    )
    .times(2)]);
    let w = f.pull(&proxy, "m", "dest2", Duration::from_secs(60));
    assert_eq!(w.code(), Some(0), "{}", w.stderr());
    f.same_as_model("dest2");
}

#[test]
fn pull_from_a_server_that_always_stalls_is_exit_2_in_bounded_time() {
    let Some(f) = s3rver() else { return };
    f.publish("m");
    let proxy = Proxy::start(
        &f.url,
        vec![Rule::new(Match::ranged_get("m/w.bin"), Fault::Stall).always()],
    );
    let w = f.pull(&proxy, "m", "dest", Duration::from_secs(30));
    assert_eq!(w.code(), Some(2), "{}", w.stderr());
    assert!(w.took < Duration::from_secs(20), "{:?}", w.took);
    let want = format!(
        "error: GET {}/w.bin failed: HTTP read timeout occurred after 1s",
        f.uri("m")
    );
    assert!(w.stderr().starts_with(&want), "{}", w.stderr());
    assert!(
        w.stderr().contains("(gave up after 3 attempts)"),
        "{}",
        w.stderr()
    );
    assert!(
        !f.d().join("dest").exists(),
        "a new DEST is not left behind"
    );
}

#[test]
fn pull_of_a_byte_flipped_in_transit_is_exit_1_and_places_nothing() {
    let Some(f) = s3rver() else { return };
    f.publish("m");
    let proxy = Proxy::start(
        &f.url,
        vec![Rule::new(Match::ranged_get("m/w.bin"), Fault::FlipByte(4321)).skip(3)],
    );
    std::fs::create_dir(f.d().join("dest")).unwrap();
    let w = f.pull(&proxy, "m", "dest", Duration::from_secs(60));
    assert_eq!(w.code(), Some(1), "{}", w.stderr());
    assert!(
        w.stderr().contains("w.bin: content changed"),
        "{}",
        w.stderr()
    );
    assert_eq!(std::fs::read_dir(f.d().join("dest")).unwrap().count(), 0);
}

#[test]
fn sigterm_stops_pull_promptly_and_removes_what_it_staged() {
    let Some(f) = s3rver() else { return };
    f.publish("m");
    let proxy = Proxy::start(
        &f.url,
        vec![Rule::new(Match::ranged_get("m/w.bin"), Fault::Trickle(1 << 20)).always()],
    );
    let child = f
        .ms(proxy.url())
        .args(["pull", &f.uri("m"), "dest", "--key", "signer.pub"])
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let staged = f.d().join("dest/.modelseal-staging/w.bin");
    let started = std::time::Instant::now();
    while !std::fs::metadata(&staged).is_ok_and(|m| m.len() > 0) {
        assert!(started.elapsed() < Duration::from_secs(30), "never started");
        std::thread::sleep(Duration::from_millis(10));
    }
    let signalled = std::time::Instant::now();
    let killed = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let out = child.wait_with_output().unwrap();
    assert!(
        signalled.elapsed() < Duration::from_secs(5),
        "{:?}",
        signalled.elapsed()
    );
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        "error: stopped by SIGTERM; nothing was placed\nhint: run the command again\n"
    );
    assert!(!f.d().join("dest").exists(), "the new DEST is removed");
}

#[test]
fn verify_recovers_from_head_list_and_get_errors_and_fails_closed_when_they_persist() {
    let Some(f) = s3rver() else { return };
    f.publish("m");
    let five_hundred = |m| {
        Rule::new(
            m,
            Fault::Status {
                status: 500,
                code: "InternalError",
                retry_after: None,
            },
        )
    };
    let proxy = Proxy::start(
        &f.url,
        vec![
            five_hundred(Match::method("HEAD", "/m")).times(2),
            five_hundred(Match::get("list-type=2")).times(2),
            five_hundred(Match::ranged_get("m/w.bin")).skip(1).times(2),
        ],
    );
    let w = f.verify(&proxy, "m");
    assert_eq!(w.code(), Some(0), "{}", w.stderr());
    assert_eq!(proxy.faults(), 6);
    // A HEAD that keeps failing has no error code to show: the status says what happened.
    proxy.set_rules(vec![five_hundred(Match::method("HEAD", "/m")).always()]);
    let w = f.verify(&proxy, "m");
    assert_eq!(w.code(), Some(2), "{}", w.stderr());
    assert_eq!(
        w.stderr(),
        format!(
            "error: HEAD {}/m failed: HTTP 500 Internal Server Error (gave up after 3 attempts)\n\
hint: the server kept failing; try again later (--max-attempts allows more attempts)\n",
            f.uri("").trim_end_matches('/')
        )
    );
    assert!(w.took < Duration::from_secs(10));
}

#[test]
fn verify_refuses_an_object_replaced_mid_download_and_a_listing_that_changes() {
    let Some(f) = moto() else { return };
    f.publish("m");
    let (client, bucket) = (f.s3.clone(), f.bucket.clone());
    let put = move |key: &'static str, data: Vec<u8>| {
        let (client, bucket) = (client.clone(), bucket.clone());
        move || {
            tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap()
                .block_on(
                    client
                        .put_object()
                        .bucket(&bucket)
                        .key(key)
                        .body(data.clone().into())
                        .send(),
                )
                .unwrap();
        }
    };
    // The fourth range finds another object (same size) behind the key: If-Match fails.
    let proxy = Proxy::start(
        &f.url,
        vec![Rule::new(Match::ranged_get("m/w.bin"), Fault::Pass)
            .skip(3)
            .hook(put("m/w.bin", noise(20 << 20, 6)))],
    );
    let mut c = f.ms(proxy.url());
    c.env("MODELSEAL_S3_CONCURRENCY", "1");
    let out = c
        .args(["verify", &f.uri("m"), "--key", "signer.pub"])
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        String::from_utf8_lossy(&out.stderr).starts_with(&format!(
            "error: {}/w.bin changed while it was being read\n",
            f.uri("m")
        )),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // Pages of one key; before the second page an object appears under the prefix.
    f.publish("p");
    let added = std::sync::Once::new();
    let add = put("p/zz.py", b"import os\n".to_vec());
    proxy.set_rules(vec![Rule::new(Match::get("list-type=2"), Fault::Pass)
        .append_query("&max-keys=1")
        .always()
        .hook(move || added.call_once(&add))]);
    let w = f.verify(&proxy, "p");
    assert_eq!(w.code(), Some(1), "{}", w.stderr());
    assert!(
        w.stderr().contains("zz.py: not in the signed manifest"),
        "{}",
        w.stderr()
    );
}

/// moto with SSE-KMS: a key for it, and the model signed at push time.
fn push(f: &Fixture, endpoint: &str, prefix: &str, extra_env: &[(&str, &str)]) -> Watched {
    let started = std::time::Instant::now();
    let kms = aws::kms(&f.url);
    let (id, _) = aws::sse_key(&kms, &f.rt);
    let mut c = f.ms(endpoint);
    c.envs(extra_env.iter().copied());
    let out = c
        .args([
            "push",
            "model",
            &f.uri(prefix),
            "--key",
            "signer.key",
            "--sse-kms-key-id",
            &id,
        ])
        .output()
        .unwrap();
    Watched {
        out,
        took: started.elapsed(),
    }
}

fn exists(f: &Fixture, key: &str) -> bool {
    f.rt.block_on(f.s3.head_object().bucket(&f.bucket).key(key).send())
        .is_ok()
}

fn open_uploads(f: &Fixture) -> usize {
    f.rt.block_on(f.s3.list_multipart_uploads().bucket(&f.bucket).send())
        .unwrap()
        .uploads()
        .len()
}

#[test]
fn push_cut_mid_multipart_leaves_no_signature_and_a_rerun_succeeds() {
    let Some(f) = moto() else { return };
    // w.bin (20 MiB) goes up in three parts; the second part's connection always breaks.
    let proxy = Proxy::start(
        &f.url,
        vec![Rule::new(Match::method("PUT", "partNumber=2"), Fault::Reset).always()],
    );
    let w = push(&f, proxy.url(), "m", &[]);
    assert_eq!(w.code(), Some(2), "{}", w.stderr());
    assert!(w.stderr().contains("UploadPart"), "{}", w.stderr());
    assert!(
        w.stderr().contains("gave up after 3 attempts"),
        "{}",
        w.stderr()
    );
    assert!(w.took < Duration::from_secs(60), "{:?}", w.took);
    assert!(
        !exists(&f, "m/model.sig"),
        "a signature after a failed push"
    );
    assert_eq!(open_uploads(&f), 0, "the multipart upload was not aborted");
    // A part whose answer never comes fails within the read timeout plus its sending time
    // (8 MiB at the 1 MiB/s floor), each attempt.
    proxy.set_rules(vec![Rule::new(
        Match::method("PUT", "partNumber=2"),
        Fault::Stall,
    )
    .always()]);
    let w = push(
        &f,
        proxy.url(),
        "m",
        &[("MODELSEAL_READ_TIMEOUT", "1"), ("AWS_MAX_ATTEMPTS", "1")],
    );
    assert_eq!(w.code(), Some(2), "{}", w.stderr());
    assert!(w.stderr().contains("UploadPart"), "{}", w.stderr());
    assert!(w.took < Duration::from_secs(30), "{:?}", w.took);
    assert!(!exists(&f, "m/model.sig"));
    assert_eq!(open_uploads(&f), 0, "the multipart upload was not aborted");
    // A transient 503 on a part is retried; the rerun publishes a model that verifies.
    proxy.set_rules(vec![Rule::new(
        Match::method("PUT", "partNumber=2"),
        Fault::Status {
            status: 503,
            code: "SlowDown",
            retry_after: None,
        },
    )]);
    let before = proxy.faults();
    let w = push(&f, proxy.url(), "m", &[]);
    assert_eq!(w.code(), Some(0), "{}", w.stderr());
    assert_eq!(proxy.faults() - before, 1);
    let out = f
        .ms(&f.url)
        .args(["verify", &f.uri("m"), "--key", "signer.pub"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn sigterm_during_push_aborts_the_multipart_upload_and_writes_no_signature() {
    let Some(f) = moto() else { return };
    let proxy = Proxy::start(
        &f.url,
        vec![Rule::new(Match::method("PUT", "partNumber="), Fault::Stall).always()],
    );
    let kms = aws::kms(&f.url);
    let (id, _) = aws::sse_key(&kms, &f.rt);
    let mut c = f.ms(proxy.url());
    c.env("MODELSEAL_READ_TIMEOUT", "60");
    let child = c
        .args([
            "push",
            "model",
            &f.uri("t"),
            "--key",
            "signer.key",
            "--sse-kms-key-id",
            &id,
        ])
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let started = std::time::Instant::now();
    while !proxy
        .seen()
        .iter()
        .any(|s| s.target.contains("partNumber="))
    {
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "no part was sent"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    assert_eq!(open_uploads(&f), 1);
    let killed = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&out.stderr).starts_with(
            "error: push stopped by SIGTERM; multipart uploads aborted, no signature written\n"
        ),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(open_uploads(&f), 0);
    assert!(!exists(&f, "t/model.sig"));
}

#[test]
fn kms_throttling_during_sign_and_push_is_retried() {
    let Some(f) = moto() else { return };
    let kms = aws::kms(&f.url);
    let key_id =
        f.rt.block_on(
            kms.create_key()
                .key_spec(aws_sdk_kms::types::KeySpec::EccNistP256)
                .key_usage(aws_sdk_kms::types::KeyUsageType::SignVerify)
                .send(),
        )
        .unwrap()
        .key_metadata()
        .unwrap()
        .key_id()
        .to_string();
    let throttle = || {
        Rule::new(
            Match {
                amz_target: Some("TrentService.Sign"),
                ..Match::any()
            },
            Fault::JsonError {
                status: 400,
                kind: "ThrottlingException",
            },
        )
        .times(4)
    };
    let kms_proxy = Proxy::start(&f.url, vec![throttle()]);
    let env = [
        ("AWS_ENDPOINT_URL_KMS", kms_proxy.url()),
        ("MODELSEAL_KMS_MESSAGE_TYPE", "RAW"),
        ("AWS_MAX_ATTEMPTS", "5"),
    ];
    let reference = format!("awskms:///{key_id}");
    let mut c = f.ms(&f.url);
    c.envs(env);
    let out = c
        .args([
            "sign",
            "model",
            "--key",
            &reference,
            "--signature",
            "kms.sig",
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(kms_proxy.faults(), 4);
    kms_proxy.set_rules(vec![throttle()]);
    let (id, _) = aws::sse_key(&kms, &f.rt);
    let mut c = f.ms(&f.url);
    c.envs(env);
    let out = c
        .args([
            "push",
            "model",
            &f.uri("k"),
            "--key",
            &reference,
            "--sse-kms-key-id",
            &id,
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // Counts accumulate across rule sets: four throttles for sign, four for push.
    assert_eq!(kms_proxy.faults(), 8);
}
