//! `--policy` on local models and files, `trust check`, the one digest every command reports,
//! and the trust flags as one-rule policies (their refusals, as usage errors).

use std::path::Path;

use crate::common::{run_in, write_tree, Run};

/// A directory with a model, two P-256 key pairs (`old.*`, `new.*`), and `model/model.sig`
/// signed with the old one.
fn setup() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    write_tree(
        d,
        &[
            ("model/config.json", b"{}\n"),
            ("model/weights.bin", &[7u8; 4096]),
            ("single.onnx", b"one file\n"),
        ],
    );
    for name in ["old", "new"] {
        modelseal_testkit::pki::p256_key_pair(d, &format!("{name}.key"), &format!("{name}.pub"));
    }
    let r = run_in(d, &["sign", "model", "--key", "old.key"], &[]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let r = run_in(d, &["sign", "single.onnx", "--key", "new.key"], &[]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    dir
}

fn pem(d: &Path, name: &str) -> String {
    std::fs::read_to_string(d.join(name)).unwrap()
}

/// Writes `policy.json` with `rules` (and `revoked`, when given).
fn write_policy(d: &Path, rules: serde_json::Value, revoked: &[&str]) {
    let mut doc = serde_json::json!({
        "apiVersion": "modelseal.dev/v1", "kind": "TrustPolicy", "rules": rules,
    });
    if !revoked.is_empty() {
        doc["revoked"] = serde_json::json!({"digests": revoked});
    }
    std::fs::write(
        d.join("policy.json"),
        serde_json::to_vec_pretty(&doc).unwrap(),
    )
    .unwrap();
}

fn verify(d: &Path, model: &str, extra: &[&str]) -> Run {
    let mut args = vec!["verify", model, "--policy", "policy.json"];
    args.extend_from_slice(extra);
    run_in(d, &args, &[])
}

#[test]
fn a_rotation_accepts_both_keys_and_names_the_one_that_signed() {
    let dir = setup();
    let d = dir.path();
    write_policy(
        d,
        serde_json::json!([{"name": "all", "models": ["**"], "authorities": [
            {"name": "signer-2026", "key": {"pem": pem(d, "new.pub")}},
            {"name": "signer-2025", "key": {"path": "old.pub"}}
        ]}]),
        &[],
    );
    let r = verify(d, "model", &["--json"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let o: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(
        (o["policy_rule"].as_str(), o["authority"].as_str()),
        (Some("all"), Some("signer-2025"))
    );
    let digest = run_in(d, &["digest", "model"], &[])
        .stdout
        .trim()
        .to_string();
    assert_eq!(
        o["digest"],
        digest.as_str(),
        "verify reports the pin digest as digest prints it"
    );
    let r = verify(d, "model", &[]);
    assert!(
        r.stdout
            .contains("by authority 'signer-2025' of rule 'all'"),
        "{}",
        r.stdout
    );
    assert!(
        r.stdout.contains(&format!("digest {digest}")),
        "{}",
        r.stdout
    );
    // Bounded before a date, without a proven time, the old key no longer signs.
    write_policy(
        d,
        serde_json::json!([{"name": "all", "models": ["**"], "authorities": [
            {"name": "signer-2026", "key": {"pem": pem(d, "new.pub")}},
            {"name": "signer-2025", "key": {"path": "old.pub"}, "signedBefore": "2026-07-01T00:00:00Z"}
        ]}]),
        &[],
    );
    let r = verify(d, "model", &[]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(
        r.stderr
            .contains("no authority of rule 'all' accepts the signature"),
        "{}",
        r.stderr
    );
    assert!(
        r.stderr
            .contains("signer-2025: the authority accepts signatures made in a time window only"),
        "{}",
        r.stderr
    );
}

#[test]
fn rules_are_matched_by_absolute_location_first_match() {
    let dir = setup();
    let d = dir.path();
    let here = d.canonicalize().unwrap();
    let here = here.to_str().unwrap();
    write_policy(
        d,
        serde_json::json!([
            {"name": "models", "models": [format!("{here}/model")], "authorities": [{"name": "old", "key": {"path": "old.pub"}}]},
            {"name": "files", "models": [format!("{here}/*.onnx")], "authorities": [{"name": "new", "key": {"path": "new.pub"}}]}
        ]),
        &[],
    );
    let r = verify(d, "model", &["--json"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    // `./model/` names the same location, lexically.
    let r = verify(d, "./model/", &["--json"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let r = verify(d, "single.onnx", &[]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    // A single file's pin is its SHA-256, what `digest` prints and `--digest` takes.
    let digest = run_in(d, &["digest", "single.onnx"], &[])
        .stdout
        .trim()
        .to_string();
    assert!(
        r.stdout.contains(&format!("digest {digest}")),
        "{}",
        r.stdout
    );
    assert_eq!(verify(d, "single.onnx", &["--digest", &digest]).code, 0);
    write_tree(d, &[("other/x", b"x")]);
    let r = run_in(d, &["sign", "other", "--key", "old.key"], &[]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let r = verify(d, "other", &[]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(
        r.stderr
            .contains(&format!("no rule of the policy covers {here}/other")),
        "{}",
        r.stderr
    );
}

#[test]
fn a_revoked_model_is_refused_whoever_signed_it() {
    let dir = setup();
    let d = dir.path();
    let digest = run_in(d, &["digest", "model"], &[])
        .stdout
        .trim()
        .to_string();
    write_policy(
        d,
        serde_json::json!([{"name": "all", "models": ["**"], "authorities": [{"name": "old", "key": {"path": "old.pub"}}]}]),
        &[&digest],
    );
    // Decided from the signed manifest: a model file made unreadable is never read.
    std::fs::write(d.join("model/weights.bin"), b"changed, and never hashed").unwrap();
    let r = verify(d, "model", &[]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(
        r.stderr.starts_with(&format!("error: model 'model' is refused: {digest} is revoked by the trust policy, whoever signed it\n")),
        "{}",
        r.stderr
    );
    assert!(
        !r.stderr.contains("does not match"),
        "the model was hashed: {}",
        r.stderr
    );
}

#[test]
fn verify_blob_takes_a_policy() {
    let dir = setup();
    let d = dir.path();
    let r = run_in(
        d,
        &[
            "sign-blob",
            "single.onnx",
            "--key",
            "new.key",
            "--bundle",
            "b.json",
        ],
        &[],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    write_policy(
        d,
        serde_json::json!([{"name": "blobs", "models": ["**"], "authorities": [
            {"name": "old", "key": {"path": "old.pub"}}, {"name": "new", "key": {"path": "new.pub"}}
        ]}]),
        &[],
    );
    let r = run_in(
        d,
        &[
            "verify-blob",
            "single.onnx",
            "--bundle",
            "b.json",
            "--policy",
            "policy.json",
            "--json",
        ],
        &[],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    let o: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(o["authority"], "new");
    // A blob's SHA-256 revoked.
    let digest = run_in(d, &["digest", "single.onnx"], &[])
        .stdout
        .trim()
        .to_string();
    write_policy(
        d,
        serde_json::json!([{"name": "blobs", "models": ["**"], "authorities": [{"name": "new", "key": {"path": "new.pub"}}]}]),
        &[&digest],
    );
    let r = run_in(
        d,
        &[
            "verify-blob",
            "single.onnx",
            "--bundle",
            "b.json",
            "--policy",
            "policy.json",
        ],
        &[],
    );
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(r.stderr.contains("revoked"), "{}", r.stderr);
}

#[test]
fn bad_policies_are_usage_errors_naming_the_field() {
    let dir = setup();
    let d = dir.path();
    for (doc, path) in [
        (
            serde_json::json!({"apiVersion": "modelseal.dev/v1", "kind": "TrustPolicy", "rules": [
            {"name": "r", "models": ["**"], "authorities": [{"name": "a", "key": {"path": "absent.pub"}}]}]}),
            "rules[0].authorities[0].key.path",
        ),
        (
            serde_json::json!({"apiVersion": "modelseal.dev/v1", "kind": "TrustPolicy", "rules": [
            {"name": "r", "models": ["**"], "authorities": [{"name": "a", "keyless": {"identity": "i", "issuer": "o", "extra": 1}}]}]}),
            "rules[0].authorities[0].keyless.extra",
        ),
        (
            serde_json::json!({"apiVersion": "modelseal.dev/v1", "kind": "TrustPolicy", "rules": [
            {"name": "r", "models": ["**"], "authorities": [{"name": "r", "key": {"path": "old.pub"}}]}]}),
            "rules[0].authorities[0].name",
        ),
    ] {
        std::fs::write(d.join("policy.json"), serde_json::to_vec(&doc).unwrap()).unwrap();
        let r = verify(d, "model", &[]);
        assert_eq!(r.code, 2, "{}", r.stderr);
        assert!(
            r.stderr
                .starts_with(&format!("error: trust policy policy.json: {path}: ")),
            "{}",
            r.stderr
        );
        let r = run_in(d, &["trust", "check", "policy.json"], &[]);
        assert_eq!(r.code, 2, "{}", r.stderr);
        assert!(r.stderr.contains(path), "{}", r.stderr);
    }
    std::fs::write(d.join("policy.json"), b"{\"apiVersion\": ").unwrap();
    let r = verify(d, "model", &[]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    let r = run_in(d, &["verify", "model", "--policy", "absent.json"], &[]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(
        r.stderr.contains("cannot read trust policy absent.json"),
        "{}",
        r.stderr
    );
    // --policy is the whole trust.
    let r = run_in(
        d,
        &[
            "verify",
            "model",
            "--policy",
            "policy.json",
            "--key",
            "old.pub",
        ],
        &[],
    );
    assert_eq!(r.code, 2, "{}", r.stderr);
}

#[test]
fn trust_check_describes_the_policy_and_the_governing_rule() {
    let dir = setup();
    let d = dir.path();
    write_policy(
        d,
        serde_json::json!([
            {"name": "team-a", "models": ["s3://models/team-a/**"], "authorities": [{"name": "a", "key": {"path": "old.pub"}, "signedAfter": "2026-01-01T00:00:00Z"}]},
            {"name": "rest", "models": ["s3://models/*"], "authorities": [{"name": "b", "key": {"path": "new.pub"}}]}
        ]),
        &[],
    );
    let r = run_in(d, &["trust", "check", "policy.json"], &[]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        r.stdout.starts_with(
            "Trust policy policy.json is valid: 2 rules (2 authorities), 0 digests revoked"
        ),
        "{}",
        r.stdout
    );
    assert!(
        r.stdout.contains("signed after 2026-01-01T00:00:00Z"),
        "{}",
        r.stdout
    );
    let r = run_in(
        d,
        &[
            "trust",
            "check",
            "policy.json",
            "--model",
            "s3://models/team-a/llm/",
            "--json",
        ],
        &[],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    let o: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(
        (o["model"].as_str(), o["policy_rule"].as_str()),
        (Some("s3://models/team-a/llm"), Some("team-a"))
    );
    let r = run_in(
        d,
        &[
            "trust",
            "check",
            "policy.json",
            "--model",
            "s3://models/x/y",
        ],
        &[],
    );
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(
        r.stderr
            .contains("no rule of the policy covers s3://models/x/y"),
        "{}",
        r.stderr
    );
}

/// Finding 3: an empty identity or issuer is a usage error, never a policy (exact or regexp,
/// keyless or a CA's identity).
#[test]
fn empty_identities_and_issuers_are_usage_errors() {
    let dir = setup();
    let d = dir.path();
    for args in [
        [
            "--certificate-identity",
            "",
            "--certificate-oidc-issuer",
            "https://i",
        ],
        [
            "--certificate-identity",
            "a@b",
            "--certificate-oidc-issuer",
            "",
        ],
        [
            "--certificate-identity-regexp",
            "",
            "--certificate-oidc-issuer",
            "https://i",
        ],
        [
            "--certificate-identity",
            "a@b",
            "--certificate-oidc-issuer-regexp",
            "",
        ],
        [
            "--certificate-chain",
            "old.pub",
            "--certificate-identity",
            "",
        ],
    ] {
        let mut all = vec!["verify", "model"];
        all.extend_from_slice(&args);
        let r = run_in(d, &all, &[]);
        assert_eq!(r.code, 2, "{args:?}: {}", r.stderr);
        assert!(r.stderr.contains("is empty"), "{args:?}: {}", r.stderr);
    }
}
