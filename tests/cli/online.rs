//! Signing through Sigstore's services: keyless (`sign`, `sign-blob`), and log entries and
//! timestamps for key signatures, against a private Sigstore instance on loopback
//! (scripts/sigstore-instance.py: OIDC, Fulcio, CT, Rekor v1 and v2, TSA, written with Python's
//! cryptography, not with modelseal). What we sign is verified by the real peers
//! (model_signing 1.1.1, sigstore-python 4.5.1) and by our verifier; what they sign through the
//! same instance verifies with ours. Every failure: exit 2, nothing written, no token printed.

use crate::common;

use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::time::{Duration, Instant};

use crate::common::{run_in, write_tree, Run};

/// The Python environment scripts/setup-peers.sh makes (model_signing, sigstore, PyJWT,
/// asn1crypto), found beside MODELSEAL_MODEL_SIGNING as scripts/test.sh sets it.
fn venv_bin(tool: &str) -> Option<PathBuf> {
    let Some(ms) = std::env::var_os("MODELSEAL_MODEL_SIGNING") else {
        if std::env::var("MODELSEAL_SKIP_INTEROP").as_deref() == Ok("1") {
            eprintln!("skipped: MODELSEAL_SKIP_INTEROP=1");
            return None;
        }
        panic!("MODELSEAL_MODEL_SIGNING is not set: run scripts/test.sh (it installs the peers), or set MODELSEAL_SKIP_INTEROP=1 to skip");
    };
    Some(Path::new(&ms).parent().unwrap().join(tool))
}

/// A private Sigstore instance, stopped on drop.
struct Instance {
    child: Child,
    dir: tempfile::TempDir,
    url: String,
}

impl Instance {
    fn start() -> Option<Instance> {
        let python = venv_bin("python")?;
        let dir = tempfile::tempdir().unwrap();
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/sigstore-instance.py");
        let child = Command::new(python)
            .arg(script)
            .arg("serve")
            .arg(dir.path())
            .spawn()
            .expect("start scripts/sigstore-instance.py");
        let url_file = dir.path().join("url");
        let start = Instant::now();
        while !url_file.exists() {
            assert!(
                start.elapsed() < Duration::from_secs(30),
                "the Sigstore instance did not start"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        let url = std::fs::read_to_string(url_file).unwrap();
        Some(Instance { child, dir, url })
    }

    fn file(&self, name: &str) -> String {
        self.dir.path().join(name).display().to_string()
    }

    fn issuer(&self) -> String {
        format!("{}/oidc", self.url)
    }

    fn get(&self, path: &str) -> String {
        http("GET", &format!("{}{path}", self.url), &[])
    }

    fn token(&self, query: &str) -> String {
        self.get(&format!("/oidc/token?{query}"))
    }

    fn alice(&self) -> String {
        self.token("sub=alice&email=alice@example.com")
    }

    fn fault(&self, service: &str, mode: &str) {
        http(
            "POST",
            &format!("{}/admin/fault?service={service}&mode={mode}", self.url),
            &[],
        );
    }
}

impl Drop for Instance {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A bare HTTP/1.1 request over loopback (the instance's token and fault endpoints).
fn http(method: &str, url: &str, body: &[u8]) -> String {
    use std::io::{Read, Write};
    let rest = url.strip_prefix("http://").unwrap();
    let (host, path) = rest.split_at(rest.find('/').unwrap());
    let mut s = std::net::TcpStream::connect(host).unwrap();
    write!(
        s,
        "{method} {path} HTTP/1.1\r\nHost: {host}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    )
    .unwrap();
    s.write_all(body).unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    let (head, body) = out.split_once("\r\n\r\n").unwrap();
    assert!(head.contains(" 200 "), "{method} {url}: {head}");
    body.to_string()
}

fn model(d: &Path) -> PathBuf {
    write_tree(
        d,
        &[
            ("model/weights.bin", b"weights" as &[u8]),
            ("model/config.json", b"{}"),
        ],
    );
    d.join("model")
}

fn ok(r: &Run) {
    assert_eq!(r.code, 0, "stdout: {}\nstderr: {}", r.stdout, r.stderr);
}

fn peer(c: &mut Command) -> (bool, String) {
    let out = c.output().expect("run a peer");
    (
        out.status.success(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

/// model_signing 1.1.1's `verify sigstore` of `model/model.sig` in `d` for alice, against the
/// trust config `tc`.
fn ms_verifies_model(d: &Path, tc: &str, issuer: &str) -> (bool, String) {
    peer(
        Command::new(venv_bin("model_signing").unwrap())
            .current_dir(d)
            .args(["verify", "sigstore", "--trust_config", tc])
            .args([
                "--signature",
                "model/model.sig",
                "--identity",
                "alice@example.com",
            ])
            .args(["--identity_provider", issuer, "model"]),
    )
}

/// model_signing's API signs `model` in `d` keyless with `token` (its CLI opens a browser
/// without `--identity_token` support for a private issuer's discovery; the API takes it).
fn ms_signs_model(d: &Path, tc: &str, token: &str) -> (bool, String) {
    let script = format!(
        "import pathlib, sys\nfrom model_signing import signing\n\
         signing.Config().use_sigstore_signer(identity_token=sys.argv[1], trust_config=pathlib.Path({tc:?})).sign('model', 'model/model.sig')\n"
    );
    peer(
        Command::new(venv_bin("python").unwrap())
            .current_dir(d)
            .args(["-c", &script, token]),
    )
}

/// sigstore-python's `verify identity` of `file` with `bundle` in `d`, for alice.
fn sp_verifies_blob(d: &Path, tc: &str, bundle: &str, file: &str, issuer: &str) -> (bool, String) {
    peer(
        Command::new(venv_bin("sigstore").unwrap())
            .current_dir(d)
            .args([
                "--trust-config",
                tc,
                "verify",
                "identity",
                "--bundle",
                bundle,
            ])
            .args([
                "--cert-identity",
                "alice@example.com",
                "--cert-oidc-issuer",
                issuer,
                file,
            ]),
    )
}

/// sigstore-python's `sign` of `file` in `d` with `token`, the bundle written to `bundle`.
fn sp_signs_blob(d: &Path, tc: &str, token: &str, bundle: &str, file: &str) -> (bool, String) {
    peer(
        Command::new(venv_bin("sigstore").unwrap())
            .current_dir(d)
            .args(["--trust-config", tc, "sign", "--identity-token", token])
            .args(["--bundle", bundle, file]),
    )
}

#[test]
fn keyless_models_verify_with_model_signing_and_with_us() {
    let Some(si) = Instance::start() else { return };
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let m = model(d);
    let token = si.alice();
    let tc = si.file("trust_config.json");
    let r = run_in(
        d,
        &[
            "sign",
            "model",
            "--identity-token",
            &token,
            "--trust-config",
            &tc,
        ],
        &[],
    );
    ok(&r);
    assert!(
        r.stdout.contains("keyless as alice@example.com"),
        "{}",
        r.stdout
    );
    assert!(!r.stdout.contains(&token) && !r.stderr.contains(&token));
    // The OMS sigstore-method bundle model_signing writes: the leaf alone, a dsse entry.
    let bundle: serde_json::Value =
        serde_json::from_slice(&std::fs::read(m.join("model.sig")).unwrap()).unwrap();
    assert!(bundle
        .pointer("/verificationMaterial/certificate/rawBytes")
        .is_some());
    assert_eq!(
        bundle
            .pointer("/verificationMaterial/tlogEntries/0/kindVersion/kind")
            .unwrap(),
        "dsse"
    );

    let (good, out) = ms_verifies_model(d, &tc, &si.issuer());
    assert!(good, "model_signing refused our keyless model: {out}");
    let root = si.file("trusted_root.json");
    let issuer = si.issuer();
    let verify = |identity: &str| {
        run_in(
            d,
            &[
                "verify",
                "model",
                "--certificate-identity",
                identity,
                "--certificate-oidc-issuer",
                &issuer,
                "--trusted-root",
                &root,
            ],
            &[],
        )
    };
    ok(&verify("alice@example.com"));
    let other = verify("mallory@example.com");
    assert_eq!(other.code, 1, "{}", other.stderr);
}

#[test]
fn keyless_blobs_verify_with_sigstore_python_and_with_us() {
    let Some(si) = Instance::start() else { return };
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(d.join("model.onnx"), modelseal_testkit::noise(100_000, 7)).unwrap();
    let tc = si.file("trust_config.json");
    // The token from SIGSTORE_ID_TOKEN; the bundle beside the file by default; a timestamp.
    let r = run_in(
        d,
        &[
            "sign-blob",
            "model.onnx",
            "--trust-config",
            &tc,
            "--timestamp",
        ],
        &[("SIGSTORE_ID_TOKEN", &si.alice())],
    );
    ok(&r);
    let bundle = d.join("model.onnx.sigstore.json");
    let json: serde_json::Value = serde_json::from_slice(&std::fs::read(&bundle).unwrap()).unwrap();
    assert_eq!(
        json.pointer("/verificationMaterial/tlogEntries/0/kindVersion/kind")
            .unwrap(),
        "hashedrekord"
    );
    assert!(json
        .pointer("/verificationMaterial/timestampVerificationData/rfc3161Timestamps/0")
        .is_some());
    let (good, out) = sp_verifies_blob(
        d,
        &tc,
        "model.onnx.sigstore.json",
        "model.onnx",
        &si.issuer(),
    );
    assert!(good, "sigstore-python refused our keyless blob: {out}");
    let root = si.file("trusted_root.json");
    ok(&run_in(
        d,
        &[
            "verify-blob",
            "model.onnx",
            "--bundle",
            "model.onnx.sigstore.json",
            "--certificate-identity",
            "alice@example.com",
            "--certificate-oidc-issuer",
            &si.issuer(),
            "--trusted-root",
            &root,
        ],
        &[],
    ));
}

#[test]
fn what_the_peers_sign_through_the_instance_verifies_with_us() {
    let Some(si) = Instance::start() else { return };
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    model(d);
    std::fs::write(d.join("blob.bin"), b"blob").unwrap();
    let tc = si.file("trust_config.json");
    // model_signing's API (its CLI opens a browser without --identity_token support for a
    // private issuer's discovery; the API takes the token).
    let (good, out) = ms_signs_model(d, &tc, &si.alice());
    assert!(
        good,
        "model_signing could not sign through the instance: {out}"
    );
    let (good, out) = sp_signs_blob(d, &tc, &si.alice(), "blob.bin.sigstore.json", "blob.bin");
    assert!(
        good,
        "sigstore-python could not sign through the instance: {out}"
    );
    let root = si.file("trusted_root.json");
    let issuer = si.issuer();
    let who = [
        "--certificate-identity",
        "alice@example.com",
        "--certificate-oidc-issuer",
        &issuer,
        "--trusted-root",
        &root,
    ];
    let mut args = vec!["verify", "model"];
    args.extend(who);
    ok(&run_in(d, &args, &[]));
    let mut args = vec![
        "verify-blob",
        "blob.bin",
        "--bundle",
        "blob.bin.sigstore.json",
    ];
    args.extend(who);
    ok(&run_in(d, &args, &[]));
}

/// Key signatures with a log entry and a timestamp: the proven time satisfies a time-bounded
/// authority of a trust policy, which a key signature without evidence cannot.
#[test]
fn key_signatures_get_log_entries_and_timestamps_that_prove_their_time() {
    let Some(si) = Instance::start() else { return };
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let m = model(d);
    let pw = [("COSIGN_PASSWORD", "pw")];
    ok(&run_in(d, &["generate-key-pair"], &pw));
    let tc = si.file("trust_config.json");
    let root = si.file("trusted_root.json");
    let r = run_in(
        d,
        &[
            "sign",
            "model",
            "--key",
            "cosign.key",
            "--tlog-upload",
            "--timestamp",
            "--trust-config",
            &tc,
        ],
        &pw,
    );
    ok(&r);
    assert!(
        r.stdout.contains("logged in Rekor, timestamped"),
        "{}",
        r.stdout
    );
    let (good, out) = peer(
        Command::new(venv_bin("model_signing").unwrap())
            .current_dir(d)
            .args([
                "verify",
                "key",
                "--public_key",
                "cosign.pub",
                "--signature",
                "model/model.sig",
                "model",
            ]),
    );
    assert!(good, "model_signing refused our logged key bundle: {out}");
    ok(&run_in(
        d,
        &[
            "verify",
            "model",
            "--key",
            "cosign.pub",
            "--trusted-root",
            &root,
        ],
        &[],
    ));
    let pem = std::fs::read_to_string(d.join("cosign.pub")).unwrap();
    let policy = |before: &str| {
        serde_json::json!({"apiVersion": "modelseal.dev/v1", "kind": "TrustPolicy", "rules": [{
            "name": "all", "models": ["**"], "authorities": [{"name": "retired", "signedBefore": before,
            "key": {"pem": pem, "trustedRoot": {"path": root}}}]}]})
        .to_string()
    };
    std::fs::write(d.join("later.json"), policy("2999-01-01T00:00:00Z")).unwrap();
    std::fs::write(d.join("earlier.json"), policy("2001-01-01T00:00:00Z")).unwrap();
    ok(&run_in(
        d,
        &["verify", "model", "--policy", "later.json"],
        &[],
    ));
    let r = run_in(d, &["verify", "model", "--policy", "earlier.json"], &[]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    // Without evidence the same key cannot satisfy a time-bounded authority.
    ok(&run_in(d, &["sign", "model", "--key", "cosign.key"], &pw));
    let r = run_in(d, &["verify", "model", "--policy", "later.json"], &[]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    let _ = m;

    // A blob: hashedrekord entry, verified by us with the instance's root.
    std::fs::write(d.join("blob.bin"), modelseal_testkit::noise(10_000, 3)).unwrap();
    ok(&run_in(
        d,
        &[
            "sign-blob",
            "blob.bin",
            "--key",
            "cosign.key",
            "--tlog-upload",
            "--trust-config",
            &tc,
            "--bundle",
            "blob.bundle",
        ],
        &pw,
    ));
    ok(&run_in(
        d,
        &[
            "verify-blob",
            "blob.bin",
            "--key",
            "cosign.pub",
            "--bundle",
            "blob.bundle",
            "--trusted-root",
            &root,
        ],
        &[],
    ));
}

#[test]
fn tokens_come_from_the_flag_a_variable_a_file_or_github_actions() {
    let Some(si) = Instance::start() else { return };
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(d.join("f"), b"data").unwrap();
    std::fs::write(d.join("token"), si.alice()).unwrap();
    let tc = si.file("trust_config.json");
    let sign = |extra: &[&str], env: &[(&str, &str)]| {
        let mut args = vec![
            "sign-blob",
            "f",
            "--trust-config",
            &tc,
            "--bundle",
            "f.bundle",
        ];
        args.extend(extra);
        run_in(d, &args, env)
    };
    ok(&sign(
        &["--identity-token", "env://MY_TOKEN"],
        &[("MY_TOKEN", &si.alice())],
    ));
    ok(&sign(&["--identity-token-file", "token"], &[]));
    let gha = format!("{}/gha/token", si.url);
    let r = sign(
        &[],
        &[
            ("ACTIONS_ID_TOKEN_REQUEST_URL", &gha),
            ("ACTIONS_ID_TOKEN_REQUEST_TOKEN", "gha-request-token"),
        ],
    );
    ok(&r);
    let root = si.file("trusted_root.json");
    ok(&run_in(
        d,
        &[
            "verify-blob",
            "f",
            "--bundle",
            "f.bundle",
            "--certificate-identity",
            "repo:org/train:ref:refs/heads/main",
            "--certificate-oidc-issuer",
            &si.issuer(),
            "--trusted-root",
            &root,
        ],
        &[],
    ));
    let r = sign(&["--identity-token", "env://UNSET_TOKEN_VARIABLE"], &[]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.contains("UNSET_TOKEN_VARIABLE"), "{}", r.stderr);
}

/// Every failure: exit 2, a message naming the service and the cause, nothing written, the
/// token never shown.
#[test]
fn failures_write_nothing_and_never_show_the_token() {
    let Some(si) = Instance::start() else { return };
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let m = model(d);
    std::fs::write(d.join("f"), b"data").unwrap();
    let tc = si.file("trust_config.json");
    let token = si.alice();
    let nothing_written = |r: &Run, needle: &str| {
        assert_eq!(r.code, 2, "stdout: {}\nstderr: {}", r.stdout, r.stderr);
        assert!(
            r.stderr.contains(needle),
            "expected '{needle}' in: {}",
            r.stderr
        );
        assert!(!m.join("model.sig").exists(), "a signature was written");
        assert!(!d.join("f.sigstore.json").exists(), "a bundle was written");
        assert!(
            !r.stderr.contains(&token) && !r.stdout.contains(&token),
            "the token was printed"
        );
    };
    let sign = |extra: &[&str]| {
        let mut args = vec!["sign", "model", "--trust-config", &tc, "-v"];
        args.extend(extra);
        run_in(d, &args, &[])
    };
    let keyless = ["--identity-token", token.as_str()];

    // No key, no token.
    let r = run_in(d, &["sign", "model", "--trust-config", &tc], &[]);
    nothing_written(&r, "--identity-token");
    // An expired token, a token for another audience, not a token.
    let expired = si.token("sub=alice&email=alice@example.com&ttl=-60");
    nothing_written(&sign(&["--identity-token", &expired]), "expired");
    let other = si.token("sub=alice&email=alice@example.com&aud=other");
    nothing_written(&sign(&["--identity-token", &other]), "audience");
    nothing_written(&sign(&["--identity-token", "not-a-jwt"]), "malformed");
    // Keyless without a log entry; a keyless signature file alone.
    let mut args = keyless.to_vec();
    args.push("--tlog-upload=false");
    nothing_written(&sign(&args), "--tlog-upload=false");
    let r = run_in(
        d,
        &[
            "sign-blob",
            "f",
            "--identity-token",
            &token,
            "--trust-config",
            &tc,
            "--output-signature",
            "f.sig",
        ],
        &[],
    );
    nothing_written(&r, "--output-signature");
    assert!(!d.join("f.sig").exists());

    // Services refusing, lying or stalling.
    si.fault("fulcio", "500");
    nothing_written(&sign(&keyless), "Fulcio");
    // A Fulcio quoting the request back: refused, the token not printed (nothing_written checks).
    si.fault("fulcio", "echo");
    nothing_written(&sign(&keyless), "[redacted]");
    si.fault("fulcio", "wrong-key");
    nothing_written(&sign(&keyless), "another key");
    si.fault("fulcio", "none");
    si.fault("rekor", "bad-set");
    nothing_written(&sign(&keyless), "does not verify");
    si.fault("rekor", "500");
    nothing_written(&sign(&keyless), "Rekor");
    si.fault("rekor", "none");
    si.fault("tsa", "bad-timestamp");
    let mut args = keyless.to_vec();
    args.push("--timestamp");
    nothing_written(&sign(&args), "does not verify");
    si.fault("tsa", "stall");
    args.extend(["--read-timeout", "1", "--max-attempts", "1"]);
    nothing_written(&sign(&args), "did not answer within 1 s");
    si.fault("tsa", "none");
    // A signing config and a root of different instances: Fulcio's certificate does not chain.
    let other = Instance::start().unwrap();
    let r = run_in(
        d,
        &[
            "sign",
            "model",
            "--identity-token",
            &token,
            "--signing-config",
            &si.file("signing_config.json"),
            "--trusted-root",
            &other.file("trusted_root.json"),
        ],
        &[],
    );
    nothing_written(&r, "Fulcio's certificate is not usable");
    // And after all that, a clean run signs.
    ok(&sign(&keyless));
}

/// Keyless `push` and `sign s3://` on moto: the signature object is a keyless bundle that
/// `verify s3://` accepts for the identity, and a Fulcio refusal leaves no signature object.
#[test]
fn keyless_push_and_sign_in_s3() {
    let Some(si) = Instance::start() else { return };
    let Some(url) = common::aws::server("MODELSEAL_TEST_MOTO") else {
        return;
    };
    let rt = common::aws::rt();
    let s3 = common::aws::s3(&url, "testing", "testing");
    let kms = common::aws::kms(&url);
    let bucket = common::aws::bucket(&s3, &rt, "keyless");
    let (key_id, _) = common::aws::sse_key(&kms, &rt);
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    model(d);
    let tc = si.file("trust_config.json");
    let root = si.file("trusted_root.json");
    let issuer = si.issuer();
    let ms = |args: &[&str]| -> Run {
        common::aws::modelseal(&url, "testing", "testing")
            .current_dir(d)
            .args(args)
            .output()
            .unwrap()
            .into()
    };
    let pushed = format!("s3://{bucket}/pushed");
    let token = si.alice();
    ok(&ms(&[
        "push",
        "model",
        &pushed,
        "--identity-token",
        &token,
        "--trust-config",
        &tc,
        "--sse-kms-key-id",
        &key_id,
    ]));
    let who = [
        "--certificate-identity",
        "alice@example.com",
        "--certificate-oidc-issuer",
        issuer.as_str(),
        "--trusted-root",
        root.as_str(),
    ];
    let mut args = vec!["verify", pushed.as_str()];
    args.extend(who);
    ok(&ms(&args));

    // sign s3:// over objects put there by someone else.
    common::aws::put(&s3, &rt, &bucket, "inplace/weights.bin", b"weights");
    let inplace = format!("s3://{bucket}/inplace");
    si.fault("fulcio", "500");
    let r = ms(&[
        "sign",
        &inplace,
        "--identity-token",
        &token,
        "--trust-config",
        &tc,
        "--sse-kms-key-id",
        &key_id,
    ]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.contains("Fulcio"), "{}", r.stderr);
    let mut args = vec!["verify", inplace.as_str()];
    args.extend(who);
    let r = ms(&args);
    assert_eq!(
        r.code, 1,
        "an unsigned prefix must stay unsigned: {}",
        r.stderr
    );
    si.fault("fulcio", "none");
    ok(&ms(&[
        "sign",
        &inplace,
        "--identity-token",
        &token,
        "--trust-config",
        &tc,
        "--sse-kms-key-id",
        &key_id,
    ]));
    ok(&ms(&args));
}

/// Service discovery: a signing config without a TSA, `--timestamp-server-url` instead, and a
/// config whose only log speaks an API modelseal does not write (refused before anything is
/// signed).
#[test]
fn signing_configs_choose_the_services() {
    let Some(si) = Instance::start() else { return };
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(d.join("f"), b"data").unwrap();
    let root = si.file("trusted_root.json");
    let no_tsa = si.file("signing_config.no-tsa.json");
    let token = si.alice();
    let sign = |extra: &[&str]| {
        let mut args = vec![
            "sign-blob",
            "f",
            "--identity-token",
            token.as_str(),
            "--trusted-root",
            root.as_str(),
        ];
        args.extend(extra);
        run_in(d, &args, &[])
    };
    let r = sign(&["--signing-config", &no_tsa, "--timestamp"]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.contains("no timestamp authority"), "{}", r.stderr);
    assert!(!d.join("f.sigstore.json").exists());
    let tsa = format!("{}/api/v1/timestamp", si.url);
    ok(&sign(&[
        "--signing-config",
        &no_tsa,
        "--timestamp-server-url",
        &tsa,
    ]));
    let json: serde_json::Value =
        serde_json::from_slice(&std::fs::read(d.join("f.sigstore.json")).unwrap()).unwrap();
    assert!(json
        .pointer("/verificationMaterial/timestampVerificationData/rfc3161Timestamps/0")
        .is_some());
    std::fs::remove_file(d.join("f.sigstore.json")).unwrap();

    let mut v3: serde_json::Value =
        serde_json::from_slice(&std::fs::read(si.file("signing_config.json")).unwrap()).unwrap();
    v3["rekorTlogUrls"][0]["majorApiVersion"] = 3.into();
    std::fs::write(d.join("v3.json"), v3.to_string()).unwrap();
    let r = sign(&["--signing-config", "v3.json"]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.contains("Rekor v3"), "{}", r.stderr);
    assert!(!d.join("f.sigstore.json").exists());
}

/// A private CA's certificate signs with a log entry and a timestamp: model_signing accepts the
/// bundle (certificate method), and so do we, evidence verified against the instance's root.
#[test]
fn private_ca_signatures_get_log_entries_and_timestamps() {
    let Some(si) = Instance::start() else { return };
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    model(d);
    let leaf = modelseal_testkit::pki::issue_leaf(d, "pipeline", "pipeline@example.com");
    let tc = si.file("trust_config.json");
    let root = si.file("trusted_root.json");
    let (key, cert, chain, roots) = leaf.paths();
    let r = run_in(
        d,
        &[
            "sign",
            "model",
            "--key",
            key,
            "--certificate",
            cert,
            "--certificate-chain",
            chain,
            "--tlog-upload",
            "--timestamp",
            "--trust-config",
            &tc,
        ],
        &[],
    );
    ok(&r);
    assert!(
        r.stdout.contains("logged in Rekor, timestamped"),
        "{}",
        r.stdout
    );
    ok(&run_in(
        d,
        &[
            "verify",
            "model",
            "--certificate-chain",
            roots,
            "--trusted-root",
            &root,
        ],
        &[],
    ));
    // Without the instance's root, the evidence cannot be judged: refused, not ignored.
    let r = run_in(d, &["verify", "model", "--certificate-chain", roots], &[]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    let (good, out) = peer(
        Command::new(venv_bin("model_signing").unwrap())
            .current_dir(d)
            .args([
                "verify",
                "certificate",
                "--signature",
                "model/model.sig",
                "--certificate_chain",
                roots,
                "model",
            ]),
    );
    assert!(
        good,
        "model_signing refused our CA bundle with evidence: {out}"
    );
}

fn entry_kind(bundle: &Path) -> (String, String, bool) {
    let json: serde_json::Value = serde_json::from_slice(&std::fs::read(bundle).unwrap()).unwrap();
    let entry = json.pointer("/verificationMaterial/tlogEntries/0").unwrap();
    let text = |p: &str| {
        entry
            .pointer(p)
            .and_then(|v| v.as_str())
            .unwrap_or("")
            .to_string()
    };
    let stamped = json
        .pointer("/verificationMaterial/timestampVerificationData/rfc3161Timestamps/0")
        .is_some();
    assert!(
        entry.get("inclusionPromise").is_none() && entry.get("integratedTime").is_none(),
        "a Rekor v2 entry carries no SET and no integrated time: {entry}"
    );
    (
        text("/kindVersion/kind"),
        text("/kindVersion/version"),
        stamped,
    )
}

/// A signing config that lists a Rekor v2 log beside v1 selects v2 (the highest version, as
/// sigstore-python picks): models and blobs get hashedrekord 0.0.2 entries (a model's DSSE
/// envelope logged over its PAE, as sigstore-python logs it), each with the timestamp that is
/// its time; model_signing and sigstore-python accept them, we
/// accept what they write the same way, and a v2 log without a TSA, or a checkpoint the log's
/// key did not sign, writes nothing.
#[test]
fn rekor_v2_logs_get_entries_with_timestamps() {
    let Some(si) = Instance::start() else { return };
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let m = model(d);
    std::fs::write(d.join("blob.bin"), modelseal_testkit::noise(50_000, 11)).unwrap();
    let tc = si.file("trust_config.rekor2.json");
    let root = si.file("trusted_root.json");
    let issuer = si.issuer();
    let token = si.alice();
    let who = [
        "--certificate-identity",
        "alice@example.com",
        "--certificate-oidc-issuer",
        issuer.as_str(),
        "--trusted-root",
        root.as_str(),
    ];

    // A keyless model: hashedrekord 0.0.2 over the envelope's PAE, and a timestamp nobody
    // asked for (the log needs it).
    let r = run_in(
        d,
        &[
            "sign",
            "model",
            "--identity-token",
            &token,
            "--trust-config",
            &tc,
        ],
        &[],
    );
    ok(&r);
    assert!(
        r.stdout.contains("logged in Rekor, timestamped"),
        "{}",
        r.stdout
    );
    assert_eq!(
        entry_kind(&m.join("model.sig")),
        ("hashedrekord".into(), "0.0.2".into(), true)
    );
    let mut args = vec!["verify", "model"];
    args.extend(who);
    ok(&run_in(d, &args, &[]));
    let (good, out) = ms_verifies_model(d, &tc, &issuer);
    assert!(good, "model_signing refused our Rekor v2 model: {out}");

    // A keyless blob: hashedrekord 0.0.2.
    ok(&run_in(
        d,
        &[
            "sign-blob",
            "blob.bin",
            "--identity-token",
            &token,
            "--trust-config",
            &tc,
        ],
        &[],
    ));
    let bundle = d.join("blob.bin.sigstore.json");
    assert_eq!(
        entry_kind(&bundle),
        ("hashedrekord".into(), "0.0.2".into(), true)
    );
    let (good, out) = sp_verifies_blob(d, &tc, "blob.bin.sigstore.json", "blob.bin", &issuer);
    assert!(good, "sigstore-python refused our Rekor v2 blob: {out}");
    let mut args = vec![
        "verify-blob",
        "blob.bin",
        "--bundle",
        "blob.bin.sigstore.json",
    ];
    args.extend(who);
    ok(&run_in(d, &args, &[]));

    // A key signature logged in v2: the key itself is the entry's verifier.
    let pw = [("COSIGN_PASSWORD", "pw")];
    ok(&run_in(d, &["generate-key-pair"], &pw));
    ok(&run_in(
        d,
        &[
            "sign-blob",
            "blob.bin",
            "--key",
            "cosign.key",
            "--tlog-upload",
            "--trust-config",
            &tc,
            "--bundle",
            "key.bundle",
        ],
        &pw,
    ));
    assert_eq!(
        entry_kind(&d.join("key.bundle")),
        ("hashedrekord".into(), "0.0.2".into(), true)
    );
    ok(&run_in(
        d,
        &[
            "verify-blob",
            "blob.bin",
            "--key",
            "cosign.pub",
            "--bundle",
            "key.bundle",
            "--trusted-root",
            &root,
        ],
        &[],
    ));

    // What the peers log in v2 through the instance verifies with us.
    std::fs::remove_file(m.join("model.sig")).unwrap();
    let (good, out) = ms_signs_model(d, &tc, &si.alice());
    assert!(good, "model_signing could not sign through Rekor v2: {out}");
    assert_eq!(entry_kind(&m.join("model.sig")).1, "0.0.2");
    let mut args = vec!["verify", "model"];
    args.extend(who);
    ok(&run_in(d, &args, &[]));
    let (good, out) = sp_signs_blob(d, &tc, &si.alice(), "peer.sigstore.json", "blob.bin");
    assert!(
        good,
        "sigstore-python could not sign through Rekor v2: {out}"
    );
    assert_eq!(entry_kind(&d.join("peer.sigstore.json")).1, "0.0.2");
    let mut args = vec!["verify-blob", "blob.bin", "--bundle", "peer.sigstore.json"];
    args.extend(who);
    ok(&run_in(d, &args, &[]));

    // Refusals: nothing written.
    std::fs::remove_file(&bundle).unwrap();
    let r = run_in(
        d,
        &[
            "sign-blob",
            "blob.bin",
            "--identity-token",
            &token,
            "--signing-config",
            &si.file("signing_config.rekor2-no-tsa.json"),
            "--trusted-root",
            &root,
        ],
        &[],
    );
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(
        r.stderr.contains("Rekor v2") && r.stderr.contains("no timestamp authority"),
        "{}",
        r.stderr
    );
    assert!(!bundle.exists());
    si.fault("rekor2", "bad-checkpoint");
    let r = run_in(
        d,
        &[
            "sign-blob",
            "blob.bin",
            "--identity-token",
            &token,
            "--trust-config",
            &tc,
        ],
        &[],
    );
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.contains("checkpoint"), "{}", r.stderr);
    assert!(!bundle.exists());
    si.fault("rekor2", "500");
    let r = run_in(
        d,
        &[
            "sign-blob",
            "blob.bin",
            "--identity-token",
            &token,
            "--trust-config",
            &tc,
        ],
        &[],
    );
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.contains("Rekor v2"), "{}", r.stderr);
    assert!(!bundle.exists());
}
