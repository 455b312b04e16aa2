//! Every vector made by another implementation gets the verdict its maker expects.

use crate::common::{run, testdata};
use modelseal_kernel::bundle::{Bundle, Content, KeyMaterial};
use modelseal_kernel::dsse::{pae, IN_TOTO_PAYLOAD_TYPE};
use modelseal_kernel::oms;
use modelseal_kernel::PublicKey;

/// `testdata/model-signing/*`: the model_signing 1.1.1 CLI cases.
#[test]
fn model_signing_cases() {
    let root = testdata("model-signing");
    let mut cases: Vec<_> = std::fs::read_dir(&root)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    cases.sort();
    assert!(cases.len() >= 12, "vectors missing: {cases:?}");
    for case in cases {
        let expect = std::fs::read_to_string(case.join("EXPECT")).unwrap();
        let model = if case.join("model.onnx").exists() {
            case.join("model.onnx")
        } else {
            case.join("model")
        };
        let signature = match std::fs::read_to_string(case.join("SIGNATURE")) {
            Ok(rel) => case.join(rel.trim()),
            Err(_) => case.join("model.sig"),
        };
        let r = run(&[
            "verify",
            model.to_str().unwrap(),
            "--key",
            case.join("keys/signer.pub.pem").to_str().unwrap(),
            "--signature",
            signature.to_str().unwrap(),
        ]);
        let want = if expect.starts_with("pass") { 0 } else { 1 };
        assert_eq!(
            r.code,
            want,
            "{}: expected {expect}\nstderr: {}",
            case.display(),
            r.stderr
        );
        if want == 1 {
            assert!(
                r.stderr.starts_with("error: ") && r.stderr.contains("\nhint: "),
                "{}",
                r.stderr
            );
        }
    }
}

/// `testdata/model-signing-variants/EXPECT`: API-only variants, all of which must pass.
#[test]
fn model_signing_variants() {
    let dir = testdata("model-signing-variants");
    let key = testdata("model-signing-worked-example/keys/ec-p256-public.pem");
    let expect = std::fs::read_to_string(dir.join("EXPECT")).unwrap();
    let mut n = 0;
    for line in expect
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
    {
        let f: Vec<&str> = line.split_whitespace().collect();
        let r = run(&[
            "verify",
            dir.join(f[1]).to_str().unwrap(),
            "--key",
            key.to_str().unwrap(),
            "--signature",
            dir.join(f[0]).to_str().unwrap(),
        ]);
        let want = if f[2] == "pass" { 0 } else { 1 };
        assert_eq!(r.code, want, "{line}\nstderr: {}", r.stderr);
        n += 1;
    }
    assert_eq!(n, 7);
}

/// The decoded worked example: our PAE equals the bytes model_signing signed, and the bundle's
/// payload is byte-identical to the decoded `payload.json`.
#[test]
fn worked_example_bytes() {
    let dir = testdata("model-signing-worked-example");
    let bundle = Bundle::from_json(&std::fs::read(dir.join("model.sig")).unwrap()).unwrap();
    let Content::Dsse(env) = &bundle.content else {
        panic!("not DSSE")
    };
    let payload = std::fs::read(dir.join("payload.json")).unwrap();
    assert_eq!(env.payload, payload);
    assert_eq!(
        pae(IN_TOTO_PAYLOAD_TYPE, &payload),
        std::fs::read(dir.join("pae.bin")).unwrap()
    );
    assert_eq!(env.signature, std::fs::read(dir.join("sig.der")).unwrap());
    let key =
        PublicKey::from_pem(&std::fs::read(dir.join("keys/ec-p256-public.pem")).unwrap()).unwrap();
    assert_eq!(
        bundle.key_material,
        KeyMaterial::PublicKey {
            hint: Some(key.oms_hint())
        }
    );
    let root = modelseal_kernel::trusted_root::TrustedRoot::from_json(
        modelseal_kernel::trusted_root::PRODUCTION,
    )
    .unwrap();
    let policy = modelseal_kernel::trust::Policy::one(
        "key",
        modelseal_kernel::trust::Signer::Key {
            key: key.clone(),
            root: std::sync::Arc::new(root),
        },
        0,
    );
    let m = policy.verify_model(&bundle, "model").unwrap().manifest;
    assert_eq!(
        m.root.to_hex(),
        "98fd477224bc81f35315388bba2c7b132a635574ff00acd3c64e0153010732dc"
    );
    let r = run(&[
        "verify",
        dir.join("model").to_str().unwrap(),
        "--key",
        dir.join("keys/ec-p256-public.pem").to_str().unwrap(),
        "--signature",
        dir.join("model.sig").to_str().unwrap(),
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    // The certificate bundle verifies with its CA, and is refused with the leaf's bare key
    // (a certificate bundle is judged by its chain, never by a key given beside it).
    let cert_sig = dir.join("model.cert.sig");
    let r = run(&[
        "verify",
        dir.join("model").to_str().unwrap(),
        "--certificate-chain",
        dir.join("cert/ca-cert.pem").to_str().unwrap(),
        "--signature",
        cert_sig.to_str().unwrap(),
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let r = run(&[
        "verify",
        dir.join("model").to_str().unwrap(),
        "--key",
        dir.join("keys/ec-p256-public.pem").to_str().unwrap(),
        "--signature",
        cert_sig.to_str().unwrap(),
    ]);
    assert_eq!(r.code, 1);
    assert!(
        r.stderr
            .contains("signed with a certificate, but a public key was given"),
        "{}",
        r.stderr
    );
    // And the key bundle is refused when only the CA is trusted.
    let r = run(&[
        "verify",
        dir.join("model").to_str().unwrap(),
        "--certificate-chain",
        dir.join("cert/ca-cert.pem").to_str().unwrap(),
        "--signature",
        dir.join("model.sig").to_str().unwrap(),
    ]);
    assert_eq!(r.code, 1);
    assert!(r.stderr.contains("signed with a bare key"), "{}", r.stderr);
}

/// `testdata/model-signing-pki/*`: model_signing 1.1.1's certificate method, each case's
/// EXPECT (which model_signing's own verifier also meets), and the SAN check model_signing
/// does not have.
#[test]
fn model_signing_pki_cases() {
    let root = testdata("model-signing-pki");
    let mut cases: Vec<_> = std::fs::read_dir(&root)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.join("EXPECT").exists())
        .collect();
    cases.sort();
    assert_eq!(cases.len(), 7, "vectors missing: {cases:?}");
    let verify = |case: &std::path::Path, extra: &[&str]| {
        let mut args = vec![
            "verify".to_string(),
            case.join("model").display().to_string(),
            "--signature".into(),
            case.join("model.sig").display().to_string(),
            "--certificate-chain".into(),
            case.join("roots.pem").display().to_string(),
        ];
        args.extend(extra.iter().map(|s| s.to_string()));
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        run(&args)
    };
    for case in &cases {
        let expect = std::fs::read_to_string(case.join("EXPECT")).unwrap();
        let want = if expect.starts_with("verdict: pass") {
            0
        } else {
            1
        };
        let r = verify(case, &[]);
        assert_eq!(
            r.code,
            want,
            "{}: {expect}\nstderr: {}",
            case.display(),
            r.stderr
        );
        if want == 1 {
            assert!(r.stderr.contains("\nhint: "), "{}", r.stderr);
        }
        // A named identity: the one the leaf carries passes, another is refused by name.
        if let Some(id) = expect.lines().find_map(|l| l.strip_prefix("identity: ")) {
            let r = verify(case, &["--certificate-identity", id]);
            assert_eq!(r.code, 0, "{}", r.stderr);
            let r = verify(case, &["--certificate-identity", "attacker@models.example"]);
            assert_eq!(r.code, 1);
            assert!(
                r.stderr.contains(&format!(
                    "certificate identity 'attacker@models.example' does not match '{id}'"
                )),
                "{}",
                r.stderr
            );
        }
    }
    // Each refusal names its step.
    let reason = |name: &str| verify(&root.join(name), &[]).stderr;
    assert!(reason("public-intermediate-missing_fail").contains("does not chain to a trusted root"));
    assert!(reason("public-wrong-root_fail").contains("does not chain to a trusted root"));
    assert!(reason("public-leaf-not-for-signing_fail").contains("is not for signing"));
    assert!(reason("public-tampered_fail").contains("does not match its signature"));
    // A trust file that is not certificates is the operator's problem: exit 2.
    let case = root.join("public-chain-in-bundle");
    let r = run(&[
        "verify",
        case.join("model").to_str().unwrap(),
        "--signature",
        case.join("model.sig").to_str().unwrap(),
        "--certificate-chain",
        testdata("model-signing-worked-example/keys/ec-p256-public.pem")
            .to_str()
            .unwrap(),
    ]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.contains("not a CERTIFICATE"), "{}", r.stderr);
}

/// OMS v1.0 spec vectors: structure only (they ship no model or key).
#[test]
fn oms_spec_vectors() {
    let dir = testdata("oms-spec/v1.0");
    let read = |sub: &str| -> Vec<(String, Vec<u8>)> {
        let mut v: Vec<_> = std::fs::read_dir(dir.join(sub))
            .unwrap()
            .map(|e| {
                let p = e.unwrap().path();
                (
                    p.file_name().unwrap().to_string_lossy().into_owned(),
                    std::fs::read(&p).unwrap(),
                )
            })
            .collect();
        v.sort();
        v
    };
    let valid = read("valid");
    assert_eq!(valid.len(), 3);
    for (name, bytes) in valid {
        let b = Bundle::from_json(&bytes).unwrap_or_else(|e| panic!("{name}: {e}"));
        let Content::Dsse(env) = &b.content else {
            panic!("{name}: not DSSE")
        };
        assert_eq!(env.payload_type, IN_TOTO_PAYLOAD_TYPE);
        oms::parse_statement(&env.payload).unwrap_or_else(|e| panic!("{name}: {e}"));
    }
    let invalid = read("invalid");
    assert_eq!(invalid.len(), 4);
    // Each is refused by the bundle parser but one: a sigstore-method bundle without a log
    // entry, which parses and is refused by the keyless check (kernel/tests/kernel/keyless.rs).
    for (name, bytes) in invalid {
        let refused = match Bundle::from_json(&bytes) {
            Err(_) => true,
            Ok(b) => {
                name == "missing-tlog-entries.bundle.json"
                    && b.tlog_entries.is_empty()
                    && matches!(b.key_material, KeyMaterial::Certificates(_))
            }
        };
        assert!(refused, "{name} was accepted");
    }
    for (name, bytes) in read("invalid-payload") {
        let b = Bundle::from_json(&bytes).unwrap();
        let Content::Dsse(env) = &b.content else {
            panic!("{name}")
        };
        assert!(matches!(
            oms::parse_statement(&env.payload),
            Err(oms::ManifestError::PredicateType(_))
        ));
    }
}

fn verify_blob(file: &str, key: &str, how: &str, evidence: &str, extra: &[&str]) -> i32 {
    let mut args = vec!["verify-blob", file, "--key", key, how, evidence];
    args.extend_from_slice(extra);
    let abs: Vec<String> = args
        .iter()
        .map(|a| {
            if a.contains('/') {
                testdata(a).to_string_lossy().into_owned()
            } else {
                a.to_string()
            }
        })
        .collect();
    let r = run(&abs.iter().map(String::as_str).collect::<Vec<_>>());
    if r.code != 0 {
        assert!(r.stderr.contains("\nhint: "), "{}", r.stderr);
    }
    r.code
}

/// cosign-shaped signatures and bundles, per SIGSTORE-MANIFEST.md.
#[test]
fn cosign_generated() {
    let (f, t, k) = (
        "cosign-generated/model.bin",
        "cosign-generated/model.bin.tampered",
        "cosign-generated/sigstore-rs.pub",
    );
    assert_eq!(
        verify_blob(f, k, "--signature", "cosign-generated/model.bin.sig", &[]),
        0
    );
    assert_eq!(
        verify_blob(t, k, "--signature", "cosign-generated/model.bin.sig", &[]),
        1
    );
    assert_eq!(
        verify_blob(
            f,
            k,
            "--bundle",
            "cosign-generated/model.bin.sigstore.json",
            &[]
        ),
        0
    );
    assert_eq!(
        verify_blob(
            t,
            k,
            "--bundle",
            "cosign-generated/model.bin.sigstore.json",
            &[]
        ),
        1
    );
    assert_eq!(
        verify_blob(
            f,
            k,
            "--bundle",
            "cosign-generated/model.bin.sigstore.bad-digest.json",
            &[]
        ),
        1
    );
    assert_eq!(
        verify_blob(
            f,
            k,
            "--bundle",
            "cosign-generated/model.bin.sigstore.bad-sig.json",
            &[]
        ),
        1
    );
    assert_eq!(
        verify_blob(
            f,
            k,
            "--bundle",
            "cosign-generated/model.bin.legacy-bundle.json",
            &[]
        ),
        0
    );
    assert_eq!(
        verify_blob(
            t,
            k,
            "--bundle",
            "cosign-generated/model.bin.legacy-bundle.json",
            &[]
        ),
        1
    );
    // An OMS bundle is not a blob bundle, and the other way round.
    let other = "model-signing/dir-basic/keys/signer.pub.pem";
    assert_eq!(
        verify_blob(
            f,
            other,
            "--bundle",
            "model-signing/dir-basic/model.sig",
            &[]
        ),
        1
    );
    assert_eq!(
        verify_blob(
            f,
            other,
            "--bundle",
            "cosign-generated/model.bin.sigstore.json",
            &[]
        ),
        1
    );
}

/// The four managed-key conformance cases: keyed bundles whose log entries and timestamps are
/// verified against a trusted root (the carried production root unless --trusted-root), or
/// ignored only when asked.
#[test]
fn conformance_managed_key() {
    let a = "sigstore-conformance/a.txt";
    let ignore = ["--insecure-ignore-tlog"];
    for case in ["managed-key-happy-path", "managed-key-and-trusted-root"] {
        let b = format!("sigstore-conformance/{case}/bundle.sigstore.json");
        let k = format!("sigstore-conformance/{case}/key.pub");
        assert_eq!(verify_blob(a, &k, "--bundle", &b, &ignore), 0, "{case}");
    }
    let happy = "sigstore-conformance/managed-key-happy-path";
    let (b, k) = (
        format!("{happy}/bundle.sigstore.json"),
        format!("{happy}/key.pub"),
    );
    assert_eq!(verify_blob(a, &k, "--bundle", &b, &[]), 0);
    // Its own instance's root verifies the other; the production root does not know its log.
    let own = "sigstore-conformance/managed-key-and-trusted-root";
    let (b, k) = (
        format!("{own}/bundle.sigstore.json"),
        format!("{own}/key.pub"),
    );
    assert_eq!(verify_blob(a, &k, "--bundle", &b, &[]), 1);
    let root = testdata(&format!("{own}/trusted_root.json"));
    assert_eq!(
        verify_blob(
            a,
            &k,
            "--bundle",
            &b,
            &["--trusted-root", root.to_str().unwrap()]
        ),
        0
    );
    let b = "sigstore-conformance/managed-key-wrong-key_fail/bundle.sigstore.json";
    let k = "sigstore-conformance/managed-key-wrong-key_fail/key.pub";
    assert_ne!(verify_blob(a, k, "--bundle", b, &ignore), 0);
    // no-key: a key-signed bundle with no key to check it against.
    let b = testdata("sigstore-conformance/managed-key-no-key_fail/bundle.sigstore.json");
    let r = run(&[
        "verify-blob",
        testdata(a).to_str().unwrap(),
        "--bundle",
        b.to_str().unwrap(),
        "--insecure-ignore-tlog",
    ]);
    assert_ne!(r.code, 0);
}

/// `testdata/model-signing-keyless/*`: models model_signing 1.0.0 and 1.1.0 signed keyless (a
/// Fulcio certificate for an IBM Verify identity, Rekor v1 dsse entries, an RFC 3161 timestamp),
/// verified offline against the carried production root.
#[test]
fn model_signing_keyless_cases() {
    const ID: &str = "stefanb@us.ibm.com";
    const ISSUER: &str = "https://sigstore.verify.ibm.com/oauth2";
    for v in ["v1.0.0-sigstore", "v1.1.0-sigstore"] {
        let model = testdata(&format!("model-signing-keyless/{v}"));
        let model = model.to_str().unwrap();
        let verify = |extra: &[&str]| {
            let mut args = vec!["verify", model];
            args.extend_from_slice(extra);
            run(&args)
        };
        let r = verify(&[
            "--certificate-identity",
            ID,
            "--certificate-oidc-issuer",
            ISSUER,
        ]);
        assert_eq!(r.code, 0, "{v}: {}", r.stderr);
        assert!(!r.stderr.contains("NOT verified"), "{}", r.stderr);
        let r = verify(&[
            "--certificate-identity-regexp",
            r"[a-z]+@us\.ibm\.com",
            "--certificate-oidc-issuer-regexp",
            r"https://sigstore\.verify\.ibm\.com/.*",
        ]);
        assert_eq!(r.code, 0, "{v}: {}", r.stderr);
        for (flags, why) in [
            (
                [
                    "--certificate-identity",
                    "someone@us.ibm.com",
                    "--certificate-oidc-issuer",
                    ISSUER,
                ],
                "certificate identity 'someone@us.ibm.com' does not match 'stefanb@us.ibm.com'",
            ),
            (
                [
                    "--certificate-identity",
                    ID,
                    "--certificate-oidc-issuer",
                    "https://accounts.google.com",
                ],
                "certificate OIDC issuer 'https://accounts.google.com' does not match",
            ),
            // Unanchored, as cosign would search it: refused here.
            (
                [
                    "--certificate-identity-regexp",
                    "us.ibm.com",
                    "--certificate-oidc-issuer",
                    ISSUER,
                ],
                "certificate identity /us.ibm.com/ does not match",
            ),
        ] {
            let r = verify(&flags);
            assert_eq!(r.code, 1, "{v}: {}", r.stderr);
            assert!(r.stderr.contains(why), "{v}: {}", r.stderr);
        }
        // Half a keyless trust is a usage error; a key against a certificate bundle is refused.
        let r = verify(&["--certificate-identity", ID]);
        assert_eq!(r.code, 2, "{}", r.stderr);
        let key = testdata("model-signing/dir-basic/keys/signer.pub.pem");
        let r = verify(&["--key", key.to_str().unwrap()]);
        assert_eq!(r.code, 1, "{}", r.stderr);
        assert!(
            r.stderr.contains("signed with a certificate"),
            "{}",
            r.stderr
        );
        // A trusted root beside a key verifies a key bundle's evidence; it does not make a
        // certificate bundle acceptable to a key.
        let root =
            testdata("sigstore-conformance/bundle-verify/rekor2-happy-path/trusted_root.json");
        let root = root.to_str().unwrap();
        let r = verify(&["--key", key.to_str().unwrap(), "--trusted-root", root]);
        assert_eq!(r.code, 1, "{}", r.stderr);
        assert!(
            r.stderr.contains("signed with a certificate"),
            "{}",
            r.stderr
        );
        // Another instance's trusted root: the production-signed model is refused.
        let r = verify(&[
            "--certificate-identity",
            ID,
            "--certificate-oidc-issuer",
            ISSUER,
            "--trusted-root",
            root,
        ]);
        assert_eq!(r.code, 1, "{}", r.stderr);
    }
    // A changed byte in a copy of the model: the signature still verifies, the model does not.
    let dir = tempfile::tempdir().unwrap();
    let src = testdata("model-signing-keyless/v1.1.0-sigstore");
    for f in ["signme-1", "signme-2", "model.sig"] {
        std::fs::copy(src.join(f), dir.path().join(f)).unwrap();
    }
    std::fs::write(dir.path().join("signme-2"), b"changed\n").unwrap();
    let r = run(&[
        "verify",
        dir.path().to_str().unwrap(),
        "--certificate-identity",
        ID,
        "--certificate-oidc-issuer",
        ISSUER,
    ]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(
        r.stderr.contains("signme-2: content changed"),
        "{}",
        r.stderr
    );
}
