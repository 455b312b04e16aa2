//! The `--json` contract: every command that checks or writes prints exactly one JSON object on
//! stdout, success or failure, and each object is valid against `docs/json-output.schema.json`.
//! The schema is judged by Python's `jsonschema` (the reference implementation, installed into
//! `.venv` by `scripts/setup-peers.sh`), not by our own reading of it. S3 commands run on moto.

use crate::common;

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use crate::common::aws;
use crate::common::{testdata, write_tree, Run};

const SIGNER: &str = "model-signing/dir-basic/keys/signer.key.pem";
const SIGNER_PUB: &str = "model-signing/dir-basic/keys/signer.pub.pem";

/// The Python that has `jsonschema`: the one beside model_signing in `.venv`.
fn python() -> Option<PathBuf> {
    if std::env::var("MODELSEAL_SKIP_INTEROP").as_deref() == Ok("1") {
        eprintln!("skipped: MODELSEAL_SKIP_INTEROP=1");
        return None;
    }
    let ms = std::env::var_os("MODELSEAL_MODEL_SIGNING").unwrap_or_else(|| {
        panic!("MODELSEAL_MODEL_SIGNING is not set: run scripts/test.sh, or set MODELSEAL_SKIP_INTEROP=1 to skip")
    });
    Some(Path::new(&ms).with_file_name("python"))
}

/// Validates each `(label, object)` against the schema; returns the labels that fail, with why.
pub(crate) fn invalid(python: &Path, objects: &[(String, serde_json::Value)]) -> Vec<String> {
    const CHECK: &str = r#"
import json, sys
from jsonschema import Draft202012Validator
schema = json.load(open(sys.argv[1]))
Draft202012Validator.check_schema(schema)
v = Draft202012Validator(schema)
for line in sys.stdin:
    label, obj = json.loads(line)
    errors = sorted(v.iter_errors(obj), key=lambda e: list(e.path))
    if errors:
        print(label + ": " + "; ".join(e.message for e in errors[:3]))
"#;
    let schema = Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/json-output.schema.json");
    let mut child = Command::new(python)
        .args(["-c", CHECK])
        .arg(&schema)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("run python");
    {
        let mut stdin = child.stdin.take().unwrap();
        for o in objects {
            writeln!(stdin, "{}", serde_json::to_string(o).unwrap()).unwrap();
        }
    }
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "the validator itself failed");
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(str::to_string)
        .collect()
}

/// The run's stdout as its one JSON object, with the checks every object must pass: one line,
/// `schema_version` 1, `command`, `ok` true exactly on exit 0, the exit code in `error` otherwise.
pub(crate) fn object(label: &str, command: &str, r: &Run) -> (String, serde_json::Value) {
    let lines: Vec<&str> = r.stdout.lines().collect();
    assert_eq!(
        lines.len(),
        1,
        "{label}: stdout must be exactly one JSON line, got {:?} (stderr {})",
        r.stdout,
        r.stderr
    );
    let o: serde_json::Value = serde_json::from_str(lines[0])
        .unwrap_or_else(|e| panic!("{label}: not JSON ({e}): {}", lines[0]));
    assert_eq!(o["schema_version"], 1, "{label}");
    assert_eq!(o["command"], command, "{label}");
    assert_eq!(o["ok"], r.code == 0, "{label}: ok vs exit {}", r.code);
    if r.code != 0 {
        assert_eq!(o["error"]["exit_code"], r.code, "{label}");
        // The text error still goes to stderr for people reading logs.
        assert!(r.stderr.contains("error: "), "{label}: {}", r.stderr);
    }
    (label.to_string(), o)
}

fn run(dir: &Path, mut c: Command, args: &[&str]) -> Run {
    c.current_dir(dir).args(args).output().unwrap().into()
}

/// A temporary directory holding the signing keys and `files`.
fn workdir(files: &[(&str, &[u8])]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(testdata(SIGNER), dir.path().join("signer.key")).unwrap();
    std::fs::copy(testdata(SIGNER_PUB), dir.path().join("signer.pub")).unwrap();
    write_tree(dir.path(), files);
    dir
}

#[test]
fn local_commands_print_one_valid_object_on_success_and_failure() {
    let Some(python) = python() else { return };
    let dir = workdir(&[
        ("model/config.json", b"{}\n"),
        ("model/weights.bin", &[7u8; 5000]),
        ("blob.bin", b"a blob\n"),
    ]);
    let d = dir.path();
    let ms = |args: &[&str]| run(d, common::modelseal(), args);
    let mut objects = Vec::new();

    let r = ms(&["sign", "model", "--key", "signer.key", "--json"]);
    let (l, o) = object("sign", "sign", &r);
    assert_eq!(o["files"], 2);
    let pin = o["digest"].as_str().unwrap().to_string();
    objects.push((l, o));
    // The pin sign reports is the one `modelseal digest` prints and `--digest` accepts.
    let printed = ms(&["digest", "model"]);
    assert_eq!(printed.stdout.trim(), pin);
    let r = ms(&[
        "verify",
        "model",
        "--key",
        "signer.pub",
        "--digest",
        &pin,
        "--json",
    ]);
    objects.push(object("verify", "verify", &r));
    assert_eq!(objects[1].1["root_sha256"], objects[0].1["root_sha256"]);

    std::fs::write(d.join("model/weights.bin"), [8u8; 5000]).unwrap();
    std::fs::write(d.join("model/extra.txt"), b"x").unwrap();
    let r = ms(&["verify", "model", "--key", "signer.pub", "--json"]);
    assert_eq!(r.code, 1);
    let (l, o) = object("verify, tampered", "verify", &r);
    assert_eq!(o["verified"], false);
    assert_eq!(o["error"]["kind"], "untrusted");
    let mut found: Vec<(String, String)> = o["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["kind"].as_str().unwrap().into(),
                f["path"].as_str().unwrap().into(),
            )
        })
        .collect();
    found.sort();
    assert_eq!(
        found,
        [
            ("changed".to_string(), "weights.bin".to_string()),
            ("extra".into(), "extra.txt".into())
        ]
    );
    objects.push((l, o));

    let r = ms(&["verify", "model", "--key", "missing.pub", "--json"]);
    assert_eq!(r.code, 2);
    objects.push(object("verify, no key", "verify", &r));

    let r = ms(&["sign-blob", "blob.bin", "--key", "signer.key", "--json"]);
    let (l, o) = object("sign-blob", "sign-blob", &r);
    let sig = o["signature"].as_str().unwrap().to_string();
    objects.push((l, o));
    let verify_blob = || {
        ms(&[
            "verify-blob",
            "blob.bin",
            "--key",
            "signer.pub",
            "--signature",
            &sig,
            "--json",
        ])
    };
    objects.push(object("verify-blob", "verify-blob", &verify_blob()));
    std::fs::write(d.join("blob.bin"), b"another blob\n").unwrap();
    let r = verify_blob();
    assert_eq!(r.code, 1);
    objects.push(object("verify-blob, changed", "verify-blob", &r));

    // Keyless: a conformance bundle verified against the production root, and refused for
    // another identity.
    let case = testdata("sigstore-conformance/bundle-verify");
    let keyless = |identity: &str| {
        ms(&[
            "verify-blob",
            case.join("a.txt").to_str().unwrap(),
            "--bundle",
            case.join("happy-path-v0.3/bundle.sigstore.json")
                .to_str()
                .unwrap(),
            "--certificate-identity",
            identity,
            "--certificate-oidc-issuer",
            "https://token.actions.githubusercontent.com",
            "--json",
        ])
    };
    let id = "https://github.com/sigstore-conformance/extremely-dangerous-public-oidc-beacon/.github/workflows/extremely-dangerous-oidc-beacon.yml@refs/heads/main";
    let (l, o) = object("verify-blob, keyless", "verify-blob", &keyless(id));
    assert_eq!(
        (o["identity"].as_str(), o["tlog_entries_verified"].as_u64()),
        (Some(id), Some(1))
    );
    objects.push((l, o));
    let r = keyless("someone-else");
    assert_eq!(r.code, 1);
    objects.push(object(
        "verify-blob, keyless, other identity",
        "verify-blob",
        &r,
    ));

    // A usage error clap finds (no --key) is still one object, exit 2.
    let r = ms(&["verify", "model", "--json"]);
    assert_eq!(r.code, 2);
    objects.push(object("verify, usage", "verify", &r));
    // An unknown subcommand is reported as modelseal's, not under the unknown name.
    let r = ms(&["bogus", "--json"]);
    assert_eq!(r.code, 2);
    objects.push(object("unknown subcommand", "modelseal", &r));

    // The small commands: digest, public-key, policy bucket, generate-key-pair.
    let r = ms(&["digest", "model", "--json"]);
    let (l, o) = object("digest", "digest", &r);
    assert_eq!(
        o["digest"].as_str(),
        Some(ms(&["digest", "model"]).stdout.trim())
    );
    objects.push((l, o));
    let r = ms(&["digest", "nowhere", "--json"]);
    assert_eq!(r.code, 2);
    objects.push(object("digest, no model", "digest", &r));
    let r = ms(&["public-key", "--key", "signer.key", "--json"]);
    let (l, o) = object("public-key", "public-key", &r);
    assert_eq!(
        o["public_key"].as_str().unwrap(),
        std::fs::read_to_string(d.join("signer.pub")).unwrap()
    );
    objects.push((l, o));
    let arn = "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab";
    let r = ms(&[
        "policy",
        "bucket",
        "--bucket",
        "models",
        "--sse-kms-key-id",
        arn,
        "--json",
    ]);
    let (l, o) = object("policy bucket", "policy bucket", &r);
    let text = ms(&[
        "policy",
        "bucket",
        "--bucket",
        "models",
        "--sse-kms-key-id",
        arn,
    ]);
    assert_eq!(
        o["policy"],
        serde_json::from_str::<serde_json::Value>(&text.stdout).unwrap()
    );
    objects.push((l, o));
    let r = ms(&[
        "policy",
        "bucket",
        "--bucket",
        "models",
        "--sse-kms-key-id",
        "nope",
        "--json",
    ]);
    assert_eq!(r.code, 2);
    objects.push(object("policy bucket, not an ARN", "policy bucket", &r));
    let mut c = common::modelseal();
    c.env("COSIGN_PASSWORD", "pw");
    let r = run(
        d,
        c,
        &["generate-key-pair", "--output-key-prefix", "new", "--json"],
    );
    objects.push(object("generate-key-pair", "generate-key-pair", &r));
    let r = ms(&["generate-key-pair", "--output-key-prefix", "new", "--json"]);
    assert_eq!(r.code, 2);
    objects.push(object("generate-key-pair, exists", "generate-key-pair", &r));

    // trust check: a policy described, the rule that governs a model, a model no rule governs.
    std::fs::write(
        d.join("policy.json"),
        r#"{"apiVersion": "modelseal.dev/v1", "kind": "TrustPolicy", "rules": [{"name": "team", "models": ["/models/**"],
            "authorities": [{"name": "k", "key": {"path": "signer.pub"}, "signedAfter": "2024-01-01T00:00:00Z"}]}]}"#,
    )
    .unwrap();
    let r = ms(&["trust", "check", "policy.json", "--json"]);
    objects.push(object("trust check", "trust check", &r));
    let r = ms(&[
        "trust",
        "check",
        "policy.json",
        "--model",
        "/models/a",
        "--json",
    ]);
    let (l, o) = object("trust check --model", "trust check", &r);
    assert_eq!(o["policy_rule"], "team", "{o}");
    assert_eq!(o["rules"][0]["authorities"][0]["kind"], "key", "{o}");
    objects.push((l, o));
    let r = ms(&[
        "trust",
        "check",
        "policy.json",
        "--model",
        "/elsewhere",
        "--json",
    ]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    let (l, o) = object("trust check, no rule", "trust check", &r);
    assert_eq!(o["rules"][0]["name"], "team", "{o}");
    objects.push((l, o));

    assert_eq!(invalid(&python, &objects), Vec::<String>::new());
}

#[test]
fn the_schema_rejects_what_the_contract_forbids() {
    let Some(python) = python() else { return };
    let good = serde_json::json!({
        "schema_version": 1, "command": "verify-blob", "ok": true, "verified": true,
        "file": "f", "signature": "s", "transparency_ignored": false,
        "policy_rule": "--key", "authority": "--key",
    });
    let mut unknown = good.clone();
    unknown["surprise"] = serde_json::json!(1);
    let mut disagree = good.clone();
    disagree["verified"] = serde_json::json!(false);
    let mut no_error = good.clone();
    no_error["ok"] = serde_json::json!(false);
    no_error["verified"] = serde_json::json!(false);
    let bad = invalid(
        &python,
        &[
            ("good".into(), good),
            ("unknown field".into(), unknown),
            ("verified disagrees with ok".into(), disagree),
            ("failure without error".into(), no_error),
        ],
    );
    let labels: Vec<&str> = bad.iter().map(|l| l.split(':').next().unwrap()).collect();
    assert_eq!(
        labels,
        [
            "unknown field",
            "verified disagrees with ok",
            "failure without error"
        ],
        "{bad:?}"
    );
}

#[test]
fn s3_commands_print_one_valid_object_on_success_and_failure() {
    let Some(python) = python() else { return };
    let Some(url) = aws::server("MODELSEAL_TEST_MOTO") else {
        return;
    };
    let rt = aws::rt();
    let s3 = aws::s3(&url, "testing", "testing");
    let kms = aws::kms(&url);
    let dir = workdir(&[
        ("model/config.json", b"{}\n"),
        ("model/weights.bin", &[3u8; 9000]),
    ]);
    let d = dir.path();
    let bucket = aws::bucket(&s3, &rt, "json");
    let (sse, _) = aws::sse_key(&kms, &rt);
    let ms = |args: &[&str]| run(d, aws::modelseal(&url, "testing", "testing"), args);
    let uri = format!("s3://{bucket}/m");
    let mut objects = Vec::new();

    let r = ms(&[
        "push",
        "model",
        &uri,
        "--key",
        "signer.key",
        "--sse-kms-key-id",
        &sse,
        "--json",
    ]);
    let (l, o) = object("push", "push", &r);
    assert_eq!(o["objects"], 2);
    assert_eq!(
        o["object_keys"],
        serde_json::json!([
            format!("s3://{bucket}/m/config.json"),
            format!("s3://{bucket}/m/weights.bin")
        ])
    );
    objects.push((l, o));
    let r = ms(&["verify", &uri, "--key", "signer.pub", "--json"]);
    objects.push(object("verify s3://", "verify", &r));
    assert_eq!(objects[1].1["root_sha256"], objects[0].1["root_sha256"]);
    let r = ms(&["pull", &uri, "out", "--key", "signer.pub", "--json"]);
    objects.push(object("pull", "pull", &r));

    // sign s3:// in place, beside the pushed model.
    let copy = format!("s3://{bucket}/copy");
    for name in ["config.json", "weights.bin"] {
        let data = std::fs::read(d.join("model").join(name)).unwrap();
        aws::put(&s3, &rt, &bucket, &format!("copy/{name}"), &data);
    }
    let r = ms(&[
        "sign",
        &copy,
        "--key",
        "signer.key",
        "--sse-kms-key-id",
        &sse,
        "--json",
    ]);
    let (l, o) = object("sign s3://", "sign", &r);
    assert_eq!(o["root_sha256"], objects[0].1["root_sha256"]);
    objects.push((l, o));

    aws::put(&s3, &rt, &bucket, "m/weights.bin", &[4u8; 9000]);
    let r = ms(&["pull", &uri, "out2", "--key", "signer.pub", "--json"]);
    assert_eq!(r.code, 1);
    let (l, o) = object("pull, tampered", "pull", &r);
    assert_eq!(o["findings"][0]["kind"], "changed");
    assert_eq!(o["findings"][0]["path"], "weights.bin");
    assert!(!d.join("out2").exists(), "nothing placed");
    objects.push((l, o));

    let r = ms(&[
        "audit",
        &format!("s3://{bucket}"),
        "--key",
        "signer.pub",
        "--json",
    ]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    let (l, o) = object("audit, findings", "audit", &r);
    assert_eq!(o["clean"], false);
    assert!(o["findings"]
        .as_array()
        .unwrap()
        .iter()
        .any(|f| f["kind"] == "modified" && f["key"] == "m/weights.bin"));
    objects.push((l, o));

    let r = ms(&[
        "push",
        "model",
        &format!("s3://{bucket}/other"),
        "--key",
        "signer.key",
        "--sse-kms-key-id",
        "alias/no-such-key",
        "--json",
    ]);
    assert_eq!(r.code, 2);
    objects.push(object("push, unknown KMS key", "push", &r));

    assert_eq!(invalid(&python, &objects), Vec::<String>::new());
}

/// audit on a store that lacks the bucket-setting calls (s3rver): settings it could not read are
/// `null` and listed in `unreadable`, each with its own finding; the object is schema-valid.
#[test]
fn audit_with_unreadable_bucket_settings_prints_a_valid_object() {
    let Some(python) = python() else { return };
    let Some(url) = aws::server("MODELSEAL_TEST_S3RVER") else {
        return;
    };
    let bucket =
        std::env::var("MODELSEAL_TEST_S3RVER_BUCKET").unwrap_or_else(|_| "modelseal".into());
    let rt = aws::rt();
    let s3 = aws::s3(&url, "S3RVER", "S3RVER");
    let dir = workdir(&[("model/config.json", b"{}\n")]);
    let d = dir.path();
    let ms = |args: &[&str]| run(d, aws::modelseal(&url, "S3RVER", "S3RVER"), args);
    let prefix = format!("json-{}", std::process::id());
    aws::put(&s3, &rt, &bucket, &format!("{prefix}/config.json"), b"{}\n");
    let r = ms(&[
        "audit",
        &format!("s3://{bucket}/{prefix}"),
        "--key",
        "signer.pub",
        "--json",
    ]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    let (l, o) = object("audit, unreadable settings", "audit", &r);
    assert_eq!(o["bucket_settings"]["policy"], serde_json::Value::Null);
    assert_eq!(
        o["bucket_settings"]["unreadable"].as_array().unwrap().len(),
        3,
        "{o}"
    );
    assert_eq!(invalid(&python, &[(l, o)]), Vec::<String>::new());
}
