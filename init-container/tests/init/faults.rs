//! modelseal-init against a hostile network: every request to S3 goes through a fault-injecting
//! proxy (modelseal-testkit) in front of a real server on loopback. Transient faults must
//! recover with byte-identical results; persistent ones must fail closed in bounded time with a
//! reason naming the object and the fault; DEST, sampled all along, never shows an unverified
//! byte. Big objects live on s3rver (fast ranged GETs), If-Match cases on moto.

use std::path::Path;
use std::time::Duration;

use crate::common::*;
use modelseal_testkit::{Fault, Match, Proxy, Rule};

/// Short timeouts and few attempts keep every persistent fault within seconds.
fn with_fast_failure(mut c: std::process::Command) -> std::process::Command {
    c.env("S3_READ_TIMEOUT", "1")
        .env("S3_CONNECT_TIMEOUT", "2")
        .env("S3_MAX_ATTEMPTS", "3")
        .env("MODELSEAL_S3_RANGE_MIB", "2");
    c
}

/// A 24 MiB weights file (12 ranges of 2 MiB) and a config, signed and published.
fn big_model(s: &Store, prefix: &str) -> Files {
    let mut files = Files::new();
    files.insert("config.json", b"{\"layers\": 2}\n".to_vec());
    files.insert("w.bin", noise(24 << 20, 7));
    s.publish(prefix, &files, &key(SIGNER));
    files
}

struct Case {
    store: Store,
    files: Files,
    proxy: Proxy,
}

impl Case {
    fn new(store: Store, prefix: &str, rules: Vec<Rule>) -> Case {
        let files = big_model(&store, prefix);
        let proxy = Proxy::start(&store.url, rules);
        Case {
            store,
            files,
            proxy,
        }
    }

    fn run(&self, prefix: &str, limit: Duration) -> (Watched, std::path::PathBuf) {
        self.run_with(prefix, limit, &[])
    }

    fn run_with(
        &self,
        prefix: &str,
        limit: Duration,
        env: &[(&str, &str)],
    ) -> (Watched, std::path::PathBuf) {
        let dest = self.store.d().join(format!("dest-{prefix}"));
        let mut c = with_fast_failure(self.store.command_via(self.proxy.url()));
        c.envs(env.iter().copied());
        let w = run_watching(
            c,
            &[&self.store.uri(prefix), dest.to_str().unwrap()],
            &dest,
            &self.files,
            limit,
        );
        (w, dest)
    }

    /// A transient fault: exit 0, DEST byte-identical, and the fault really happened.
    fn recovers(&self, prefix: &str) -> Watched {
        self.recovers_with(prefix, &[])
    }

    fn recovers_with(&self, prefix: &str, env: &[(&str, &str)]) -> Watched {
        let (w, dest) = self.run_with(prefix, Duration::from_secs(60), env);
        assert!(
            w.out.status.success(),
            "exit {:?}: {}",
            w.out.status.code(),
            w.stderr()
        );
        assert_eq!(tree(&dest), expected(&self.files));
        assert!(self.proxy.faults() > 0, "no fault was injected");
        w
    }

    /// A persistent fault or a bad byte: exit 1 within `limit`, nothing in DEST, and the
    /// termination log holds one line containing every part of `reason`.
    fn fails(&self, prefix: &str, reason: &[&str], limit: Duration) -> Watched {
        let (w, dest) = self.run(prefix, limit);
        assert_eq!(w.out.status.code(), Some(1), "{}", w.stderr());
        let log = self.store.reason();
        assert_eq!(log.lines().count(), 1, "{log}");
        for part in reason {
            assert!(log.contains(part), "'{part}' not in: {log}");
        }
        assert!(tree(&dest).is_empty(), "{:?}", tree(&dest).keys());
        assert!(w.took < limit);
        eprintln!("reason: {log}");
        w
    }
}

fn object(s: &Store, prefix: &str, name: &str) -> String {
    format!("s3://{}/{prefix}/{name}", s.bucket)
}

#[test]
fn a_reset_mid_body_is_resumed() {
    let Some(s) = s3rver() else { return };
    let rule = Rule::new(Match::ranged_get("r/w.bin"), Fault::ResetAfter(700_000)).skip(3);
    Case::new(s, "r", vec![rule]).recovers("r");
}

#[test]
fn a_body_cut_short_is_resumed() {
    let Some(s) = s3rver() else { return };
    let rule = Rule::new(
        Match::ranged_get("t/w.bin"),
        Fault::TruncateAfter(1_000_000),
    )
    .skip(5)
    .times(2);
    Case::new(s, "t", vec![rule]).recovers("t");
}

#[test]
fn resets_on_every_attempt_fail_closed_naming_the_object() {
    let Some(s) = s3rver() else { return };
    let rule = Rule::new(Match::ranged_get("rr/w.bin"), Fault::ResetAfter(100_000)).always();
    let c = Case::new(s, "rr", vec![rule]);
    let obj = object(&c.store, "rr", "w.bin");
    c.fails("rr", &["GET", &obj], Duration::from_secs(30));
}

#[test]
fn a_stall_before_the_headers_times_out_and_is_retried() {
    let Some(s) = s3rver() else { return };
    let rule = Rule::new(Match::ranged_get("s/w.bin"), Fault::Stall).skip(2);
    let w = Case::new(s, "s", vec![rule]).recovers("s");
    // One read timeout (1 s) was waited out.
    assert!(w.took >= Duration::from_secs(1), "{:?}", w.took);
}

#[test]
fn a_stall_mid_body_times_out_and_is_resumed() {
    let Some(s) = s3rver() else { return };
    let rule = Rule::new(Match::ranged_get("sb/w.bin"), Fault::StallAfter(500_000)).skip(1);
    Case::new(s, "sb", vec![rule]).recovers("sb");
}

#[test]
fn a_server_that_always_stalls_fails_closed_in_bounded_time() {
    let Some(s) = s3rver() else { return };
    let rule = Rule::new(Match::ranged_get("ss/w.bin"), Fault::Stall).always();
    let c = Case::new(s, "ss", vec![rule]);
    let obj = object(&c.store, "ss", "w.bin");
    // 3 attempts x 1 s read timeout, plus backoff: well under 20 s.
    c.fails("ss", &[&obj, "timeout"], Duration::from_secs(20));
}

#[test]
fn errors_500_and_503_are_retried_with_and_without_retry_after() {
    let Some(s) = s3rver() else { return };
    let rules = vec![
        Rule::new(
            Match::ranged_get("e/w.bin"),
            Fault::Status {
                status: 500,
                code: "InternalError",
                retry_after: None,
            },
        )
        .skip(1),
        Rule::new(
            Match::method("GET", "e/model.sig"),
            Fault::Status {
                status: 503,
                code: "SlowDown",
                retry_after: Some(2),
            },
        ),
    ];
    let w = Case::new(s, "e", rules).recovers("e");
    assert!(
        w.took >= Duration::from_secs(2),
        "Retry-After: 2 was not honoured ({:?})",
        w.took
    );
}

#[test]
fn three_five_hundreds_on_the_first_head_and_list_are_survived() {
    let Some(s) = s3rver() else { return };
    let slow = |m| {
        Rule::new(
            m,
            Fault::Status {
                status: 503,
                code: "SlowDown",
                retry_after: None,
            },
        )
        .times(3)
    };
    let rules = vec![
        slow(Match::method("HEAD", "/h")),
        slow(Match::method("GET", "list-type=2")),
    ];
    let c = Case::new(s, "h", rules);
    // HEAD and LIST get the engine's attempts (here 5) like every GET, not the SDK's 3.
    c.recovers_with("h", &[("S3_MAX_ATTEMPTS", "5")]);
    assert_eq!(c.proxy.faults(), 6, "{:?}", c.proxy.seen());
}

#[test]
fn a_server_that_keeps_answering_503_fails_closed_naming_the_object() {
    let Some(s) = s3rver() else { return };
    let rule = Rule::new(
        Match::ranged_get("e5/w.bin"),
        Fault::Status {
            status: 503,
            code: "SlowDown",
            retry_after: None,
        },
    )
    .always();
    let c = Case::new(s, "e5", vec![rule]);
    let obj = object(&c.store, "e5", "w.bin");
    c.fails(
        "e5",
        &[&format!("GET {obj} failed: SlowDown (HTTP 503)")],
        Duration::from_secs(20),
    );
}

#[test]
fn a_flipped_byte_in_transit_is_untrusted() {
    let Some(s) = s3rver() else { return };
    let rule = Rule::new(Match::ranged_get("f/w.bin"), Fault::FlipByte(12345)).skip(4);
    let c = Case::new(s, "f", vec![rule]);
    c.fails("f", &["w.bin: content changed"], Duration::from_secs(30));
}

#[test]
fn a_slow_trickle_completes() {
    let Some(s) = s3rver() else { return };
    // One range at 4 MiB/s: slow, but never quiet for a read timeout.
    let rule = Rule::new(Match::ranged_get("k/w.bin"), Fault::Trickle(4 << 20)).skip(2);
    Case::new(s, "k", vec![rule]).recovers("k");
}

#[test]
fn an_object_replaced_mid_download_is_untrusted() {
    let Some(s) = moto() else { return };
    let mut files = Files::new();
    files.insert("w.bin", noise(6 << 20, 3));
    s.publish("x", &files, &key(SIGNER));
    let (client, bucket) = s.client();
    // The third ranged GET finds a new object (same size, other bytes) behind the key.
    let rule = Rule::new(Match::ranged_get("x/w.bin"), Fault::Pass)
        .skip(2)
        .hook(move || put_now(&client, &bucket, "x/w.bin", &noise(6 << 20, 4)));
    let proxy = Proxy::start(&s.url, vec![rule]);
    let dest = s.d().join("dest");
    let mut c = with_fast_failure(s.command_via(proxy.url()));
    c.env("MODELSEAL_S3_RANGE_MIB", "1")
        .env("MODELSEAL_S3_CONCURRENCY", "1");
    let w = run_watching(
        c,
        &[&s.uri("x"), dest.to_str().unwrap()],
        &dest,
        &files,
        Duration::from_secs(60),
    );
    assert_eq!(w.out.status.code(), Some(1), "{}", w.stderr());
    let log = s.reason();
    assert!(
        log.contains(&format!(
            "s3://{}/x/w.bin changed while it was being read",
            s.bucket
        )),
        "{log}"
    );
    assert!(tree(&dest).is_empty());
}

#[test]
fn a_listing_that_changes_between_pages_is_untrusted() {
    let Some(s) = moto() else { return };
    let files = model();
    s.publish("p", &files, &key(SIGNER));
    let (client, bucket) = s.client();
    // Pages of two keys; before the second page, an object appears under the prefix.
    let rule = Rule::new(Match::get("list-type=2"), Fault::Pass)
        .append_query("&max-keys=2")
        .always()
        .hook(move || {
            static ONCE: std::sync::Once = std::sync::Once::new();
            ONCE.call_once(|| put_now(&client, &bucket, "p/zz-added.py", b"import os\n"));
        });
    let proxy = Proxy::start(&s.url, vec![rule]);
    let dest = s.d().join("dest");
    let c = with_fast_failure(s.command_via(proxy.url()));
    let w = run_watching(
        c,
        &[&s.uri("p"), dest.to_str().unwrap()],
        &dest,
        &files,
        Duration::from_secs(60),
    );
    assert_eq!(w.out.status.code(), Some(1), "{}", w.stderr());
    let pages = proxy
        .seen()
        .iter()
        .filter(|r| r.target.contains("list-type=2"))
        .count();
    assert!(pages >= 2, "the listing was not paged: {:?}", proxy.seen());
    assert!(
        s.reason()
            .contains("zz-added.py: not in the signed manifest"),
        "{}",
        s.reason()
    );
    assert!(tree(&dest).is_empty());
}

#[test]
fn sigterm_mid_download_cleans_up_and_exits_promptly() {
    let Some(s) = s3rver() else { return };
    // Ranges trickle at 1 MiB/s, so the download is surely under way when the signal comes.
    let rule = Rule::new(Match::ranged_get("g/w.bin"), Fault::Trickle(1 << 20)).always();
    let c = Case::new(s, "g", vec![rule]);
    let dest = c.store.d().join("dest-g");
    let mut child = with_fast_failure(c.store.command_via(c.proxy.url()))
        .args([c.store.uri("g").as_str(), dest.to_str().unwrap()])
        .spawn()
        .unwrap();
    let staged = dest.join(".modelseal-staging/w.bin");
    let started = std::time::Instant::now();
    while !std::fs::metadata(&staged).is_ok_and(|m| m.len() > 0) {
        assert!(started.elapsed() < Duration::from_secs(30), "never started");
        std::thread::sleep(Duration::from_millis(10));
    }
    let signalled = std::time::Instant::now();
    assert!(std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap()
        .success());
    let status = child.wait().unwrap();
    let took = signalled.elapsed();
    assert_eq!(status.code(), Some(1));
    assert!(took < Duration::from_secs(5), "took {took:?} to stop");
    assert!(
        c.store.reason().contains("stopped by SIGTERM"),
        "{}",
        c.store.reason()
    );
    assert!(tree(&dest).is_empty(), "{:?}", tree(&dest).keys());
}

/// Mounts a tmpfs of `size` at `at` (tests run as root). Where mounting is refused the test
/// fails, unless MODELSEAL_SKIP_TMPFS=1 asks for the skip (then `None`, the reason printed).
fn tmpfs(at: &Path, size: &str) -> Option<Mounted> {
    std::fs::create_dir_all(at).unwrap();
    let out = std::process::Command::new("mount")
        .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
        .arg(at)
        .output()
        .expect("mount(8) could not be run");
    if !out.status.success() {
        let why = String::from_utf8_lossy(&out.stderr).trim().to_string();
        assert!(
            std::env::var_os("MODELSEAL_SKIP_TMPFS").is_some_and(|v| v == "1"),
            "cannot mount a tmpfs here ({why}): run as root, or set MODELSEAL_SKIP_TMPFS=1 to skip"
        );
        eprintln!("skipped (MODELSEAL_SKIP_TMPFS=1): cannot mount a tmpfs here ({why})");
        return None;
    }
    Some(Mounted(at.to_path_buf()))
}

struct Mounted(std::path::PathBuf);

impl Mounted {
    fn read_only(&self) {
        let ok = std::process::Command::new("mount")
            .args(["-o", "remount,ro"])
            .arg(&self.0)
            .status()
            .unwrap()
            .success();
        assert!(ok, "remount read-only failed");
    }
}

impl Drop for Mounted {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount").arg(&self.0).status();
    }
}

#[test]
fn a_full_dest_fails_clearly_and_leaves_nothing() {
    let Some(s) = s3rver() else { return };
    let files = big_model(&s, "full");
    let dest = s.d().join("small");
    let Some(_m) = tmpfs(&dest, "4m") else { return };
    let w = run_watching(
        with_fast_failure(s.command()),
        &[&s.uri("full"), dest.to_str().unwrap()],
        &dest,
        &files,
        Duration::from_secs(60),
    );
    assert_eq!(w.out.status.code(), Some(1), "{}", w.stderr());
    assert!(
        s.reason().contains("No space left on device"),
        "{}",
        s.reason()
    );
    assert!(tree(&dest).is_empty(), "{:?}", tree(&dest).keys());
}

#[test]
fn a_read_only_dest_fails_clearly_and_leaves_nothing() {
    let Some(s) = s3rver() else { return };
    let files = big_model(&s, "ro");
    let dest = s.d().join("ro");
    let Some(m) = tmpfs(&dest, "64m") else { return };
    m.read_only();
    let w = run_watching(
        with_fast_failure(s.command()),
        &[&s.uri("ro"), dest.to_str().unwrap()],
        &dest,
        &files,
        Duration::from_secs(60),
    );
    assert_eq!(w.out.status.code(), Some(1), "{}", w.stderr());
    assert!(
        s.reason().contains("Read-only file system"),
        "{}",
        s.reason()
    );
    assert!(tree(&dest).is_empty());
}
