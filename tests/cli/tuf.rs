//! `trust update` / `trust show` against TUF repositories made with python-tuf, the reference
//! implementation (scripts/tuf-repo.py), served on loopback or read from disk: updates, a root
//! rotation followed, a rolled-back or expired timestamp and a tampered target refused with the
//! cache left as it was; the cached trusted root and signing config then used by verify-blob
//! and keyless sign-blob (through a private Sigstore instance, scripts/sigstore-instance.py).

use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::time::{Duration, Instant};

use crate::common::{run_in, Run};
use crate::json_contract;

fn python() -> Option<PathBuf> {
    let Some(ms) = std::env::var_os("MODELSEAL_MODEL_SIGNING") else {
        if std::env::var("MODELSEAL_SKIP_INTEROP").as_deref() == Ok("1") {
            eprintln!("skipped: MODELSEAL_SKIP_INTEROP=1");
            return None;
        }
        panic!("MODELSEAL_MODEL_SIGNING is not set: run scripts/test.sh (it installs python-tuf and the peers), or set MODELSEAL_SKIP_INTEROP=1 to skip");
    };
    Some(Path::new(&ms).parent().unwrap().join("python"))
}

fn script(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("scripts")
        .join(name)
}

/// A process that writes DIR/url when it is ready; killed on drop.
struct Server {
    child: Child,
    url: String,
}

impl Server {
    fn start(python: &Path, args: &[&str], dir: &Path) -> Server {
        let _ = std::fs::remove_file(dir.join("url"));
        let child = Command::new(python)
            .args(args)
            .spawn()
            .expect("start a test server");
        let start = Instant::now();
        while !dir.join("url").exists() {
            assert!(
                start.elapsed() < Duration::from_secs(30),
                "{args:?} did not start"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        let url = std::fs::read_to_string(dir.join("url")).unwrap();
        Server { child, url }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

struct Fixture {
    python: PathBuf,
    dir: tempfile::TempDir,
    instance: Server,
    mirror: Server,
}

impl Fixture {
    fn new() -> Option<Fixture> {
        let python = python()?;
        let dir = tempfile::tempdir().unwrap();
        let si = dir.path().join("instance");
        let instance = Server::start(
            &python,
            &[
                script("sigstore-instance.py").to_str().unwrap(),
                "serve",
                si.to_str().unwrap(),
            ],
            &si,
        );
        let repo = dir.path().join("tuf");
        let ok = Command::new(&python)
            .arg(script("tuf-repo.py"))
            .args(["init", repo.to_str().unwrap()])
            .arg(si.join("trusted_root.json"))
            .arg(si.join("signing_config.json"))
            .status()
            .unwrap();
        assert!(ok.success(), "tuf-repo.py init failed");
        let mirror = Server::start(
            &python,
            &[
                script("tuf-repo.py").to_str().unwrap(),
                "serve",
                repo.to_str().unwrap(),
            ],
            &repo,
        );
        Some(Fixture {
            python,
            dir,
            instance,
            mirror,
        })
    }

    fn p(&self, rel: &str) -> String {
        self.dir.path().join(rel).display().to_string()
    }

    fn repo(&self, args: &[&str]) {
        let ok = Command::new(&self.python)
            .arg(script("tuf-repo.py"))
            .arg(args[0])
            .arg(self.dir.path().join("tuf"))
            .args(&args[1..])
            .status()
            .unwrap();
        assert!(ok.success(), "tuf-repo.py {args:?} failed");
    }

    fn ms(&self, args: &[&str]) -> Run {
        run_in(
            self.dir.path(),
            args,
            &[("XDG_CACHE_HOME", &self.p("cache"))],
        )
    }

    fn update(&self) -> Run {
        self.ms(&[
            "trust",
            "update",
            "--mirror",
            &self.mirror.url,
            "--root",
            &self.p("tuf/root.json"),
        ])
    }

    fn show(&self) -> serde_json::Value {
        let r = self.ms(&["trust", "show", "--json"]);
        assert_eq!(r.code, 0, "{}", r.stderr);
        serde_json::from_str(&r.stdout).unwrap()
    }
}

fn ok(r: &Run) {
    assert_eq!(r.code, 0, "stdout: {}\nstderr: {}", r.stdout, r.stderr);
}

#[test]
fn updates_follow_rotations_and_feed_verify_and_keyless_sign() {
    let Some(f) = Fixture::new() else { return };
    let carried = f.ms(&["trust", "show", "--json"]);
    let mut update = f.update();
    ok(&update);
    // --json on the update that already ran: the same update again, as one object.
    update = f.ms(&[
        "trust",
        "update",
        "--mirror",
        &f.mirror.url,
        "--root",
        &f.p("tuf/root.json"),
        "--json",
    ]);
    let objects = [
        json_contract::object("trust show, carried", "trust show", &carried),
        json_contract::object("trust update", "trust update", &update),
        json_contract::object(
            "trust show, cached",
            "trust show",
            &f.ms(&["trust", "show", "--json"]),
        ),
    ];
    assert_eq!(objects[0].1["source"], "carried");
    assert_eq!(
        json_contract::invalid(&f.python, &objects),
        Vec::<String>::new()
    );
    let shown = f.show();
    assert_eq!(shown["source"], "tuf");
    assert_eq!(shown["repository"], f.mirror.url.as_str());
    assert_eq!(shown["root"]["version"], 1);

    // The cached signing config and root: keyless signing with no --trust-config reaches the
    // private instance, and verify-blob checks against the cached root.
    std::fs::write(f.dir.path().join("blob"), b"blob").unwrap();
    let token = common_token(&f.instance.url);
    ok(&f.ms(&["sign-blob", "blob", "--identity-token", &token]));
    let issuer = format!("{}/oidc", f.instance.url);
    let verify = [
        "verify-blob",
        "blob",
        "--bundle",
        "blob.sigstore.json",
        "--certificate-identity",
        "alice@example.com",
        "--certificate-oidc-issuer",
        &issuer,
    ];
    ok(&f.ms(&verify));
    // Without the cache, the carried production root does not know this instance.
    let r = run_in(
        f.dir.path(),
        &verify,
        &[("XDG_CACHE_HOME", &f.p("empty-cache"))],
    );
    assert_eq!(r.code, 1, "{}", r.stderr);

    // A root rotation is followed (signed by the old keys and the new).
    f.repo(&["rotate-root"]);
    f.repo(&[
        "publish",
        &f.p("instance/trusted_root.json"),
        &f.p("instance/signing_config.json"),
    ]);
    let r = f.update();
    ok(&r);
    assert!(
        r.stdout.contains("1 root rotation followed"),
        "{}",
        r.stdout
    );
    assert_eq!(f.show()["root"]["version"], 2);
    ok(&f.ms(&verify));

    // Air-gapped: the same repository from disk.
    let r = f.ms(&[
        "trust",
        "update",
        "--tuf-repo",
        &f.p("tuf/repo"),
        "--root",
        &f.p("tuf/root.json"),
    ]);
    ok(&r);
    assert!(f.show()["repository"]
        .as_str()
        .unwrap()
        .starts_with("file://"));
}

#[test]
fn rollback_freeze_and_tampering_are_refused_and_leave_the_cache() {
    let Some(f) = Fixture::new() else { return };
    ok(&f.update());
    f.repo(&[
        "publish",
        &f.p("instance/trusted_root.json"),
        &f.p("instance/signing_config.json"),
    ]);
    ok(&f.update());
    let before = f.show();
    let refused = |needle: &str| {
        let r = f.update();
        assert_eq!(r.code, 1, "stdout: {}\nstderr: {}", r.stdout, r.stderr);
        assert!(
            r.stderr.contains(needle),
            "expected '{needle}' in {}",
            r.stderr
        );
        assert_eq!(f.show(), before, "a refused update changed the cache");
    };
    // A timestamp older than the cached one; still refused after a rotation of the root keys
    // alone (only new timestamp or snapshot keys void the floor, TUF 5.3.11).
    f.repo(&["rollback"]);
    refused("rollback");
    f.repo(&["rotate-root"]);
    refused("rollback");
    // An expired timestamp (a freeze).
    f.repo(&["expire"]);
    refused("expired");
    // New targets whose bytes were changed after signing.
    f.repo(&[
        "publish",
        &f.p("instance/trusted_root.json"),
        &f.p("instance/signing_config.json"),
    ]);
    f.repo(&["tamper"]);
    refused("does not match");
    // A bootstrap root the repository's roots do not follow from.
    let other = tempfile::tempdir().unwrap();
    let ok_init = Command::new(&f.python)
        .arg(script("tuf-repo.py"))
        .args(["init", other.path().to_str().unwrap()])
        .arg(f.p("instance/trusted_root.json"))
        .arg(f.p("instance/signing_config.json"))
        .status()
        .unwrap();
    assert!(ok_init.success());
    let r = run_in(
        f.dir.path(),
        &[
            "trust",
            "update",
            "--mirror",
            &f.mirror.url,
            "--root",
            other.path().join("root.json").to_str().unwrap(),
        ],
        &[("XDG_CACHE_HOME", &f.p("fresh-cache"))],
    );
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(r.stderr.contains("valid signatures"), "{}", r.stderr);
    assert!(!f
        .dir
        .path()
        .join("fresh-cache/modelseal/tuf/current")
        .exists());
}

fn common_token(instance: &str) -> String {
    use std::io::{Read, Write};
    let host = instance.strip_prefix("http://").unwrap();
    let mut s = std::net::TcpStream::connect(host).unwrap();
    write!(s, "GET /oidc/token?sub=alice&email=alice@example.com HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n").unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    out.split_once("\r\n\r\n").unwrap().1.to_string()
}
