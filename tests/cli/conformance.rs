//! sigstore-conformance `bundle-verify` (testdata/sigstore-conformance/bundle-verify, 70 cases)
//! through the CLI, as the suite's `verify-bundle` protocol drives a client: `verify-blob
//! ARTIFACT --bundle B` with `--key key.pub` where the case has one, else the case's (or the
//! default) identity and issuer; `--trusted-root` where the case has one, else the production
//! root modelseal carries. Each case runs twice, the artifact given as a file and as
//! `sha256:HEX`, as the suite runs it. A `_fail` case must not verify; every other case must.

use crate::common;

use std::path::Path;

use crate::common::{run, testdata};

const IDENTITY: &str = "https://github.com/sigstore-conformance/extremely-dangerous-public-oidc-beacon/.github/workflows/extremely-dangerous-oidc-beacon.yml@refs/heads/main";
const ISSUER: &str = "https://token.actions.githubusercontent.com";

/// How the artifact is given: as a file, or as `sha256:HEX` (the suite runs every case both ways).
#[derive(Clone, Copy)]
enum Input {
    File,
    Digest,
}

fn verify(case: &Path, input: Input) -> common::Run {
    let root = case.parent().unwrap();
    let artifact = if case.join("artifact").exists() {
        case.join("artifact")
    } else {
        root.join("a.txt")
    };
    let artifact = match input {
        Input::File => artifact.display().to_string(),
        Input::Digest => {
            let bytes = std::fs::read(&artifact).unwrap();
            format!(
                "sha256:{}",
                modelseal_kernel::HashAlgorithm::Sha256
                    .digest(&bytes)
                    .to_hex()
            )
        }
    };
    let text = |name: &str, default: &str| {
        std::fs::read_to_string(case.join(name))
            .map_or(default.to_string(), |s| s.trim().to_string())
    };
    let mut args: Vec<String> = vec![
        "verify-blob".into(),
        artifact,
        "--bundle".into(),
        case.join("bundle.sigstore.json").display().to_string(),
    ];
    if case.join("key.pub").exists() {
        args.extend(["--key".into(), case.join("key.pub").display().to_string()]);
    } else {
        args.extend([
            "--certificate-identity".into(),
            text("identity", IDENTITY),
            "--certificate-oidc-issuer".into(),
            text("issuer", ISSUER),
        ]);
    }
    if case.join("trusted_root.json").exists() {
        args.extend([
            "--trusted-root".into(),
            case.join("trusted_root.json").display().to_string(),
        ]);
    }
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    run(&args)
}

#[test]
fn every_bundle_verify_case() {
    let root = testdata("sigstore-conformance/bundle-verify");
    let mut cases: Vec<_> = std::fs::read_dir(&root)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.join("bundle.sigstore.json").exists())
        .collect();
    cases.sort();
    assert_eq!(cases.len(), 70, "cases missing");
    let mut wrong = Vec::new();
    for (case, input) in cases
        .iter()
        .flat_map(|c| [(c, Input::File), (c, Input::Digest)])
    {
        let name = case.file_name().unwrap().to_string_lossy().into_owned();
        let r = verify(case, input);
        // A case whose key file is itself corrupt is a key that cannot be read: exit 2 (the
        // check could not run), as for every unreadable key; any other refusal is exit 1.
        let want = if !name.ends_with("_fail") {
            0
        } else if name == "managed-key-wrong-key_fail" {
            2
        } else {
            1
        };
        if r.code != want {
            let how = match input {
                Input::File => "file",
                Input::Digest => "digest",
            };
            wrong.push(format!(
                "{name} ({how}): exit {} (want {want}): {}",
                r.code,
                r.stderr.trim()
            ));
        } else if want != 0 {
            assert!(r.stderr.contains("\nhint: "), "{name}: {}", r.stderr);
        }
    }
    assert!(
        wrong.is_empty(),
        "{} of 140 runs wrong:\n{}",
        wrong.len(),
        wrong.join("\n")
    );
}

/// The steps the refusals name, on a few cases (so a verdict is right for the right reason).
#[test]
fn refusals_name_their_step() {
    let root = testdata("sigstore-conformance/bundle-verify");
    for (case, why) in [
        (
            "set-invalid-signature_fail",
            "signed entry timestamp (inclusion promise) does not verify",
        ),
        (
            "checkpoint-wrong-roothash_fail",
            "inclusion proof does not match the checkpoint",
        ),
        (
            "inclusion-proof-corrupted-hash_fail",
            "inclusion proof does not verify",
        ),
        (
            "wrong-hashedrekord-entry_fail",
            "the log entry does not match the bundle",
        ),
        (
            "integrated-time-in-future_fail",
            "outside the signing certificate's validity",
        ),
        ("invalid-ct-key_fail", "certificate transparency"),
        ("bundle-with-root-cert_fail", "holds a root certificate"),
        ("rekor2-timestamp-payload-mismatch_fail", "message imprint"),
        ("rekor2-timestamp-outside-tsa-cert-validity_fail", "expired"),
        (
            "rekor2-checkpoint-no-matching-signature_fail",
            "no checkpoint signature is from the log",
        ),
        (
            "trust-root-tlog-missing-validity-start_fail",
            "not a usable log of the trusted root",
        ),
        ("managed-key-no-key_fail", "signed with a bare key"),
        ("dsse-mismatch-envelope_fail", "payloadHash"),
    ] {
        let r = verify(&root.join(case), Input::File);
        assert!(r.stderr.contains(why), "{case}: {}", r.stderr);
    }
}
