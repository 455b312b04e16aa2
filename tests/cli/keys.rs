//! Keys written by cosign, sigstore-rs and openssl load, or are refused, as their makers say.

use crate::common::{run_in, testdata};

/// Signs a small file with `key` (password `pw`) and returns the exit code and stderr.
fn sign_with(key: &str, pw: Option<&str>) -> (i32, String) {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("f"), b"hello").unwrap();
    let key = testdata(key);
    let env: Vec<(&str, &str)> = pw.map(|p| ("COSIGN_PASSWORD", p)).into_iter().collect();
    let r = run_in(
        dir.path(),
        &[
            "sign-blob",
            "f",
            "--key",
            key.to_str().unwrap(),
            "--output-signature",
            "f.sig",
        ],
        &env,
    );
    // A signature is written whole on success and not at all on failure.
    assert_eq!(
        dir.path().join("f.sig").exists(),
        r.code == 0,
        "{}",
        r.stderr
    );
    (r.code, r.stderr)
}

#[test]
fn cosign_keys() {
    assert_eq!(
        sign_with("cosign-keys/sigstore_labeled.key", Some("hello")).0,
        0
    );
    assert_eq!(
        sign_with("cosign-keys/cosign_labeled.key", Some("hello")).0,
        0
    );
    assert_eq!(
        sign_with("cosign-keys/owasp_n131072.key", Some("correct horse")).0,
        0
    );
    let (code, err) = sign_with("cosign-keys/cosign_labeled_ec_sec1_FAIL.key", Some("hello"));
    assert_eq!(code, 2);
    assert!(err.contains("SEC1"), "{err}");
    // Parses, but its password is unknown.
    let (code, err) = sign_with("cosign-keys/workflow-cosign-test.key", Some("hello"));
    assert_eq!(code, 2);
    assert!(err.contains("wrong password"), "{err}");
}

#[test]
fn sigstore_rs_keys() {
    assert_eq!(
        sign_with("sigstore-rs/keys/ecdsa_encrypted_private.key", Some("123")).0,
        0
    );
    assert_eq!(
        sign_with(
            "sigstore-rs/keys/cosign_generated_encrypted_empty_private.key",
            Some("")
        )
        .0,
        0
    );
    assert_eq!(sign_with("sigstore-rs/keys/ecdsa_private.key", None).0, 0);
    assert_eq!(
        sign_with(
            "sigstore-rs/key_pair_import/ECDSA_P256_ASN1_ENCRYPTED_PRIVATE_PEM.key",
            Some("password")
        )
        .0,
        0
    );
    assert_eq!(
        sign_with(
            "sigstore-rs/key_pair_import/ECDSA_P256_ASN1_PRIVATE_PEM.key",
            None
        )
        .0,
        0
    );
    for refused in [
        "sigstore-rs/keys/rsa_encrypted_private.key",
        "sigstore-rs/keys/ed25519_encrypted_private.key",
        "sigstore-rs/keys/rsa_private.key",
        "sigstore-rs/keys/ed25519_private.key",
    ] {
        let (code, err) = sign_with(refused, Some("123"));
        assert_eq!(code, 2, "{refused}: {err}");
    }
}

/// A signature made with the OWASP-parameter key verifies with its published public key.
#[test]
fn owasp_key_matches_its_public_key() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("f"), b"hello").unwrap();
    let key = testdata("cosign-keys/owasp_n131072.key");
    let r = run_in(
        dir.path(),
        &[
            "sign-blob",
            "f",
            "--key",
            key.to_str().unwrap(),
            "--output-signature",
            "f.sig",
        ],
        &[("COSIGN_PASSWORD", "correct horse")],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    let pubkey = testdata("cosign-keys/owasp_n131072.pub");
    let r = run_in(
        dir.path(),
        &[
            "verify-blob",
            "f",
            "--key",
            pubkey.to_str().unwrap(),
            "--signature",
            "f.sig",
        ],
        &[],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
}

/// PEM files with CRLF line ends, trailing blank lines, SEC1 and PKCS#8, on every curve.
#[test]
fn pem_variants_and_curves() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(d.join("f"), b"hello").unwrap();
    for (curve, name) in [
        ("prime256v1", "p256"),
        ("secp384r1", "p384"),
        ("secp521r1", "p521"),
    ] {
        let sec1 = d.join(format!("{name}.sec1.pem"));
        let ok = std::process::Command::new("openssl")
            .args(["ecparam", "-name", curve, "-genkey", "-noout", "-out"])
            .arg(&sec1)
            .status()
            .expect("openssl is required for this test");
        assert!(ok.success());
        let pkcs8 = d.join(format!("{name}.pkcs8.pem"));
        assert!(std::process::Command::new("openssl")
            .args(["pkey", "-in"])
            .arg(&sec1)
            .arg("-out")
            .arg(&pkcs8)
            .status()
            .unwrap()
            .success());
        let public = d.join(format!("{name}.pub"));
        assert!(std::process::Command::new("openssl")
            .args(["pkey", "-pubout", "-in"])
            .arg(&sec1)
            .arg("-out")
            .arg(&public)
            .status()
            .unwrap()
            .success());
        // CRLF and trailing newlines on every file.
        for p in [&sec1, &pkcs8, &public] {
            let text = std::fs::read_to_string(p).unwrap().replace('\n', "\r\n") + "\r\n\r\n";
            std::fs::write(p, text).unwrap();
        }
        for key in [&sec1, &pkcs8] {
            let r = run_in(
                d,
                &[
                    "sign-blob",
                    "f",
                    "--key",
                    key.to_str().unwrap(),
                    "--output-signature",
                    "f.sig",
                ],
                &[],
            );
            assert_eq!(r.code, 0, "{name}: {}", r.stderr);
            let r = run_in(
                d,
                &[
                    "verify-blob",
                    "f",
                    "--key",
                    public.to_str().unwrap(),
                    "--signature",
                    "f.sig",
                ],
                &[],
            );
            assert_eq!(r.code, 0, "{name}: {}", r.stderr);
        }
    }
}

#[test]
fn generate_key_pair_writes_cosign_files_and_never_overwrites() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let pw = [("COSIGN_PASSWORD", "pw")];
    let r = run_in(d, &["generate-key-pair"], &pw);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let key = std::fs::read_to_string(d.join("cosign.key")).unwrap();
    assert!(key.starts_with("-----BEGIN ENCRYPTED SIGSTORE PRIVATE KEY-----\n"));
    // cosign's default work factor.
    let body: String = key.lines().filter(|l| !l.starts_with("-----")).collect();
    let json = String::from_utf8(base64_decode(&body)).unwrap();
    assert!(
        json.contains(r#""params":{"N":65536,"r":8,"p":1}"#),
        "{json}"
    );
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(
        std::fs::metadata(d.join("cosign.key"))
            .unwrap()
            .permissions()
            .mode()
            & 0o777,
        0o600
    );
    let before = std::fs::read(d.join("cosign.key")).unwrap();
    let r = run_in(d, &["generate-key-pair"], &pw);
    assert_eq!(r.code, 2);
    assert_eq!(
        std::fs::read(d.join("cosign.key")).unwrap(),
        before,
        "key overwritten"
    );
    let r = run_in(d, &["generate-key-pair", "--force"], &pw);
    assert_eq!(r.code, 0);
    assert_ne!(std::fs::read(d.join("cosign.key")).unwrap(), before);
    // No password and no terminal: refused, nothing written.
    let empty = tempfile::tempdir().unwrap();
    let r = run_in(empty.path(), &["generate-key-pair"], &[]);
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("COSIGN_PASSWORD"), "{}", r.stderr);
    assert_eq!(std::fs::read_dir(empty.path()).unwrap().count(), 0);
}

fn base64_decode(s: &str) -> Vec<u8> {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.decode(s).unwrap()
}
