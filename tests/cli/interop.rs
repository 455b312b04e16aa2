//! The real peers accept what modelseal writes, and we accept what they write:
//! `model_signing` 1.1.1 (OMS bundles) and `openssl dgst` (cosign sign-blob signatures).
//!
//! `scripts/test.sh` installs model_signing into `.venv` and sets `MODELSEAL_MODEL_SIGNING`.
//! Without it these tests fail, unless `MODELSEAL_SKIP_INTEROP=1` says to skip them on purpose.

use crate::common;

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::common::{run_in, write_tree};

fn model_signing() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("MODELSEAL_MODEL_SIGNING") {
        return Some(PathBuf::from(p));
    }
    if std::env::var("MODELSEAL_SKIP_INTEROP").as_deref() == Ok("1") {
        eprintln!("skipped: MODELSEAL_SKIP_INTEROP=1");
        return None;
    }
    panic!("MODELSEAL_MODEL_SIGNING is not set: run scripts/test.sh, or set MODELSEAL_SKIP_INTEROP=1 to skip");
}

/// Runs a peer tool (model_signing, Python) that must succeed; `what` and its stderr say why not.
fn peer_ok(c: &mut Command, what: &str) {
    let out = c.output().expect("run a peer tool");
    assert!(
        out.status.success(),
        "{what}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Runs the reference verifier; returns its exit code and output.
fn reference_verify(
    ms: &Path,
    dir: &Path,
    model: &str,
    signature: &str,
    public_key: &str,
) -> (i32, String) {
    let out = Command::new(ms)
        .current_dir(dir)
        .args([
            "verify",
            "key",
            model,
            "--signature",
            signature,
            "--public_key",
            public_key,
        ])
        .output()
        .expect("run model_signing");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.code().unwrap_or(-1), text)
}

/// A model with the names that trip naive implementations: nested dirs, an empty file, and
/// `a/b`, `a-b`, `a.txt`, whose component-wise order differs from byte order.
fn awkward_model(d: &Path) {
    let big: Vec<u8> = (0..300_000u32).map(|i| (i % 253) as u8).collect();
    write_tree(
        d,
        &[
            ("model/a/b", b"in a dir\n"),
            ("model/a-b", b"dash\n"),
            ("model/a.txt", b"dot\n"),
            ("model/B", b"upper\n"),
            ("model/empty.bin", b""),
            ("model/nested/deeper/weights.bin", &big),
            ("model/.gitignore", b"*.tmp\n"),
        ],
    );
}

fn generate_cosign_key(d: &Path) {
    let r = run_in(d, &["generate-key-pair"], &[("COSIGN_PASSWORD", "pw")]);
    assert_eq!(r.code, 0, "{}", r.stderr);
}

/// `modelseal sign model --key cosign.key --signature SIGNATURE` in `d` (the key from
/// [`generate_cosign_key`]), which must succeed.
fn sign_with_cosign_key(d: &Path, signature: &str) {
    let r = run_in(
        d,
        &[
            "sign",
            "model",
            "--key",
            "cosign.key",
            "--signature",
            signature,
        ],
        &[("COSIGN_PASSWORD", "pw")],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
}

#[test]
fn model_signing_accepts_our_directory_bundles() {
    let Some(ms) = model_signing() else { return };
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    awkward_model(d);
    generate_cosign_key(d);
    let pw = [("COSIGN_PASSWORD", "pw")];
    // Signature inside the model (our default) and outside it.
    let r = run_in(d, &["sign", "model", "--key", "cosign.key"], &pw);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let (code, out) = reference_verify(&ms, d, "model", "model/model.sig", "cosign.pub");
    assert_eq!(code, 0, "model_signing refused our bundle: {out}");
    std::fs::remove_file(d.join("model/model.sig")).unwrap();
    sign_with_cosign_key(d, "outside.sig");
    let (code, out) = reference_verify(&ms, d, "model", "outside.sig", "cosign.pub");
    assert_eq!(code, 0, "model_signing refused our bundle: {out}");
    // The reference really checks: a changed byte makes it refuse the same bundle.
    std::fs::write(d.join("model/a-b"), b"Dash\n").unwrap();
    let (code, out) = reference_verify(&ms, d, "model", "outside.sig", "cosign.pub");
    assert_ne!(code, 0, "model_signing accepted a tampered model: {out}");
}

#[test]
fn model_signing_accepts_our_single_file_and_p384_bundles() {
    let Some(ms) = model_signing() else { return };
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    write_tree(d, &[("model.onnx", &[7u8; 5000])]);
    let ok = Command::new("openssl")
        .current_dir(d)
        .args([
            "ecparam",
            "-name",
            "secp384r1",
            "-genkey",
            "-noout",
            "-out",
            "p384.pem",
        ])
        .status()
        .unwrap();
    assert!(ok.success());
    assert!(Command::new("openssl")
        .current_dir(d)
        .args(["pkey", "-in", "p384.pem", "-pubout", "-out", "p384.pub"])
        .status()
        .unwrap()
        .success());
    let r = run_in(d, &["sign", "model.onnx", "--key", "p384.pem"], &[]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(d.join("model.onnx.sig").exists());
    let (code, out) = reference_verify(&ms, d, "model.onnx", "model.onnx.sig", "p384.pub");
    assert_eq!(
        code, 0,
        "model_signing refused our single-file P-384 bundle: {out}"
    );
}

#[test]
fn we_accept_what_model_signing_signs() {
    let Some(ms) = model_signing() else { return };
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    awkward_model(d);
    assert!(Command::new("openssl")
        .current_dir(d)
        .args([
            "ecparam",
            "-name",
            "prime256v1",
            "-genkey",
            "-noout",
            "-out",
            "k.pem"
        ])
        .status()
        .unwrap()
        .success());
    assert!(Command::new("openssl")
        .current_dir(d)
        .args(["pkey", "-in", "k.pem", "-pubout", "-out", "k.pub"])
        .status()
        .unwrap()
        .success());
    peer_ok(
        Command::new(&ms).current_dir(d).args([
            "sign",
            "key",
            "model",
            "--private_key",
            "k.pem",
            "--signature",
            "model/model.sig",
        ]),
        "model_signing sign key",
    );
    let r = run_in(d, &["verify", "model", "--key", "k.pub"], &[]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    std::fs::write(d.join("model/empty.bin"), b"x").unwrap();
    let r = run_in(d, &["verify", "model", "--key", "k.pub"], &[]);
    assert_eq!(r.code, 1, "{}", r.stderr);
}

#[test]
fn openssl_accepts_our_blob_signatures_and_we_accept_its() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    generate_cosign_key(d);
    write_tree(d, &[("blob.bin", &[42u8; 100_000])]);
    let r = run_in(
        d,
        &[
            "sign-blob",
            "blob.bin",
            "--key",
            "cosign.key",
            "--output-signature",
            "blob.sig",
        ],
        &[("COSIGN_PASSWORD", "pw")],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    // cosign's file format: base64 of DER, no newline.
    let b64 = std::fs::read_to_string(d.join("blob.sig")).unwrap();
    assert!(!b64.ends_with('\n'));
    let verdict = common::openssl_verify_blob(d, "cosign.pub", "blob.sig", "blob.bin");
    assert_eq!(
        verdict.as_deref(),
        Ok("Verified OK\n"),
        "openssl refused our signature"
    );
    // And openssl's signature over the same bytes, with the cosign key exported as PKCS#8.
    let pkcs8 = {
        use modelseal_kernel::PrivateKeyPem;
        let PrivateKeyPem::Encrypted(enc) =
            modelseal_kernel::PrivateKeyPem::parse(&std::fs::read(d.join("cosign.key")).unwrap())
                .unwrap()
        else {
            panic!("cosign.key is not encrypted")
        };
        enc.decrypt(b"pw").unwrap().to_pkcs8_pem().unwrap()
    };
    std::fs::write(d.join("k.pem"), pkcs8.as_bytes()).unwrap();
    assert!(Command::new("openssl")
        .current_dir(d)
        .args(["dgst", "-sha256", "-sign", "k.pem", "-out", "ossl.der", "blob.bin"])
        .status()
        .unwrap()
        .success());
    let r = run_in(
        d,
        &[
            "verify-blob",
            "blob.bin",
            "--key",
            "cosign.pub",
            "--signature",
            "ossl.der",
        ],
        &[],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
}

/// `sign --ignore-paths` as model_signing reads the flag: model_signing, given the same flag,
/// accepts the bundle, and without it refuses (the ignored files are not in the manifest).
#[test]
fn ignore_paths_mean_what_they_mean_to_model_signing() {
    let Some(ms) = model_signing() else { return };
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    awkward_model(d);
    generate_cosign_key(d);
    let pw = [("COSIGN_PASSWORD", "pw")];
    let r = run_in(
        d,
        &[
            "sign",
            "model",
            "--key",
            "cosign.key",
            "--signature",
            "outside.sig",
            "--ignore-paths",
            "model/nested",
            "--ignore-paths",
            "model/a.txt",
        ],
        &pw,
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    peer_ok(
        Command::new(&ms).current_dir(d).args([
            "verify",
            "key",
            "model",
            "--signature",
            "outside.sig",
            "--public_key",
            "cosign.pub",
            "--ignore-paths",
            "model/nested",
            "--ignore-paths",
            "model/a.txt",
        ]),
        "model_signing verify key refused",
    );
    // Both verifiers read the ignore paths from the signed manifest, so neither needs the flag,
    // and the ignored files may change.
    std::fs::write(d.join("model/a.txt"), b"changed\n").unwrap();
    let (code, out) = reference_verify(&ms, d, "model", "outside.sig", "cosign.pub");
    assert_eq!(code, 0, "model_signing refused: {out}");
    let verify = [
        "verify",
        "model",
        "--key",
        "cosign.pub",
        "--signature",
        "outside.sig",
    ];
    let r = run_in(d, &verify, &[]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    // A signed file still counts, for both.
    std::fs::write(d.join("model/a-b"), b"Dash\n").unwrap();
    let (code, out) = reference_verify(&ms, d, "model", "outside.sig", "cosign.pub");
    assert_ne!(
        code, 0,
        "model_signing accepted a changed signed file: {out}"
    );
    assert_eq!(run_in(d, &verify, &[]).code, 1);
    // A path outside the model is refused, not dropped.
    let r = run_in(
        d,
        &[
            "sign",
            "model",
            "--key",
            "cosign.key",
            "--ignore-paths",
            "cosign.pub",
        ],
        &pw,
    );
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(
        r.stderr
            .contains("--ignore-paths cosign.pub: not inside the model"),
        "{}",
        r.stderr
    );
}

/// `sign s3://` signs objects where a training job left them; the model pulled from there is
/// one model_signing accepts, with the signature pull placed beside it.
#[test]
fn model_signing_accepts_a_model_signed_in_s3_and_pulled() {
    let Some(ms) = model_signing() else { return };
    let Some(url) = common::aws::server("MODELSEAL_TEST_MOTO") else {
        return;
    };
    let (rt, s3, kms) = (
        common::aws::rt(),
        common::aws::s3(&url, "testing", "testing"),
        common::aws::kms(&url),
    );
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    generate_cosign_key(d);
    let bucket = common::aws::bucket(&s3, &rt, "interop");
    let (sse, _) = common::aws::sse_key(&kms, &rt);
    for (key, data) in [
        ("run-7/config.json", b"{\"layers\": 2}\n".to_vec()),
        ("run-7/weights/shard-0.bin", vec![5u8; 70_000]),
        ("run-7/tokenizer.json", b"{}\n".to_vec()),
    ] {
        common::aws::put(&s3, &rt, &bucket, key, &data);
    }
    let uri = format!("s3://{bucket}/run-7");
    let ms_run = |args: &[&str]| -> common::Run {
        let mut c = common::aws::modelseal(&url, "testing", "testing");
        c.current_dir(d).env("COSIGN_PASSWORD", "pw").args(args);
        c.output().unwrap().into()
    };
    let r = ms_run(&[
        "sign",
        &uri,
        "--key",
        "cosign.key",
        "--sse-kms-key-id",
        &sse,
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let r = ms_run(&["pull", &uri, "pulled", "--key", "cosign.pub"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let (code, out) = reference_verify(&ms, d, "pulled", "pulled/model.sig", "cosign.pub");
    assert_eq!(code, 0, "model_signing refused the pulled model: {out}");
    // And it refuses the same model with a changed byte: the acceptance means something.
    let mut w = std::fs::read(d.join("pulled/weights/shard-0.bin")).unwrap();
    w[100] ^= 1;
    std::fs::write(d.join("pulled/weights/shard-0.bin"), w).unwrap();
    let (code, _) = reference_verify(&ms, d, "pulled", "pulled/model.sig", "cosign.pub");
    assert_ne!(code, 0);
}

/// model_signing's certificate method, both ways, with a leaf from a private CA (root ->
/// issuing CA -> leaf): `model_signing verify certificate` accepts what `modelseal sign
/// --certificate` writes, and we accept what `model_signing sign certificate` writes; both
/// refuse a changed byte.
#[test]
fn model_signing_and_we_agree_on_certificates() {
    let Some(ms) = model_signing() else { return };
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    awkward_model(d);
    let leaf = modelseal_testkit::pki::issue_leaf(d, "pipeline", "pipeline@models.example");
    let (key, cert, chain, roots) = leaf.paths();
    let reference = |signature: &str| -> (i32, String) {
        let out = Command::new(&ms)
            .current_dir(d)
            .args(["verify", "certificate", "model", "--signature", signature])
            .args(["--certificate_chain", roots])
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stderr).into_owned();
        (out.status.code().unwrap_or(-1), text)
    };
    let ours = |signature: &str| {
        run_in(
            d,
            &[
                "verify",
                "model",
                "--signature",
                signature,
                "--certificate-chain",
                roots,
                "--certificate-identity",
                "pipeline@models.example",
            ],
            &[],
        )
    };
    // We sign; model_signing verifies.
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
            "--signature",
            "ours.sig",
        ],
        &[],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    let (code, out) = reference("ours.sig");
    assert_eq!(
        code, 0,
        "model_signing refused our certificate bundle: {out}"
    );
    assert_eq!(ours("ours.sig").code, 0);
    // model_signing signs; we verify.
    peer_ok(
        Command::new(&ms)
            .current_dir(d)
            .args(["sign", "certificate", "model", "--private_key", key])
            .args(["--signing_certificate", cert, "--certificate_chain", chain])
            .args(["--signature", "theirs.sig"]),
        "model_signing sign certificate",
    );
    let r = ours("theirs.sig");
    assert_eq!(r.code, 0, "{}", r.stderr);
    // The same bytes apart from the signature: both bundles name the signer alike.
    let material = |name: &str| {
        let v: serde_json::Value =
            serde_json::from_slice(&std::fs::read(d.join(name)).unwrap()).unwrap();
        v["verificationMaterial"].clone()
    };
    assert_eq!(material("ours.sig"), material("theirs.sig"));
    // A changed byte: both refuse both.
    let w = d.join("model/a.txt");
    let mut bytes = std::fs::read(&w).unwrap();
    bytes.push(b'!');
    std::fs::write(&w, bytes).unwrap();
    for sig in ["ours.sig", "theirs.sig"] {
        assert_ne!(reference(sig).0, 0, "{sig}");
        assert_eq!(ours(sig).code, 1, "{sig}");
    }
    // A certificate for another key cannot sign.
    let other = modelseal_testkit::pki::issue_leaf(d, "other", "other@models.example");
    let r = run_in(d, &["sign", "model", "--key", key, "--certificate"], &[]);
    assert_eq!(r.code, 2);
    let r = run_in(
        d,
        &[
            "sign",
            "model",
            "--key",
            key,
            "--certificate",
            other.cert.to_str().unwrap(),
            "--signature",
            "mismatch.sig",
        ],
        &[],
    );
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.contains("certifies another key"), "{}", r.stderr);
    assert!(!d.join("mismatch.sig").exists());
}

/// RSA public keys verify (cosign's RSA keys and KMS RSA keys sign PKCS#1 v1.5 over SHA-256):
/// `openssl dgst -sha256 -sign` with 2048- and 4096-bit keys, accepted; a changed file refused.
#[test]
fn we_accept_openssl_rsa_blob_signatures() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(d.join("blob.bin"), vec![7u8; 100_000]).unwrap();
    for bits in ["2048", "4096"] {
        let ok = |args: &[&str]| modelseal_testkit::pki::openssl(d, args);
        ok(&["genrsa", "-out", "rsa.key", bits]);
        ok(&["pkey", "-in", "rsa.key", "-pubout", "-out", "rsa.pub"]);
        ok(&[
            "dgst", "-sha256", "-sign", "rsa.key", "-out", "blob.sig", "blob.bin",
        ]);
        let r = run_in(
            d,
            &[
                "verify-blob",
                "blob.bin",
                "--key",
                "rsa.pub",
                "--signature",
                "blob.sig",
            ],
            &[],
        );
        assert_eq!(r.code, 0, "{bits}: {}", r.stderr);
        std::fs::write(d.join("other.bin"), vec![8u8; 100_000]).unwrap();
        let r = run_in(
            d,
            &[
                "verify-blob",
                "other.bin",
                "--key",
                "rsa.pub",
                "--signature",
                "blob.sig",
            ],
            &[],
        );
        assert_eq!(r.code, 1, "{bits}: {}", r.stderr);
    }
    // An RSA key cannot sign here (signing keys are ECDSA): a clear refusal, exit 2.
    let r = run_in(d, &["sign-blob", "blob.bin", "--key", "rsa.key"], &[]);
    assert_eq!(r.code, 2, "{}", r.stderr);
}

/// Certificate leaves of every key type verify: P-384 and P-521 leaves we sign with (and
/// model_signing verifies), and an RSA leaf whose PKCS#1 v1.5 signature openssl makes over the
/// DSSE PAE of a statement we signed first (model_signing cannot sign with RSA leaves).
#[test]
fn certificate_leaves_of_every_key_type() {
    use base64::Engine as _;
    let b64 = base64::engine::general_purpose::STANDARD;
    let Some(ms) = model_signing() else { return };
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    awkward_model(d);
    let openssl = |args: &[&str]| modelseal_testkit::pki::openssl(d, args);
    let verify = |sig: &str, roots: &Path| {
        run_in(
            d,
            &[
                "verify",
                "model",
                "--signature",
                sig,
                "--certificate-chain",
                roots.to_str().unwrap(),
            ],
            &[],
        )
    };
    let mut roots = None;
    for curve in ["secp384r1", "secp521r1"] {
        let key = format!("{curve}.key");
        openssl(&["ecparam", "-name", curve, "-genkey", "-noout", "-out", &key]);
        openssl(&[
            "pkey",
            "-in",
            &key,
            "-pubout",
            "-out",
            &format!("{curve}.pub"),
        ]);
        let email = format!("{curve}@models.example");
        let leaf =
            modelseal_testkit::pki::certify(d, curve, &email, &d.join(format!("{curve}.pub")));
        let sig = format!("{curve}.sig");
        let r = run_in(
            d,
            &[
                "sign",
                "model",
                "--key",
                &key,
                "--certificate",
                leaf.cert.to_str().unwrap(),
                "--certificate-chain",
                leaf.chain.to_str().unwrap(),
                "--signature",
                &sig,
            ],
            &[],
        );
        assert_eq!(r.code, 0, "{curve}: {}", r.stderr);
        let r = verify(&sig, &leaf.roots);
        assert_eq!(r.code, 0, "{curve}: {}", r.stderr);
        peer_ok(
            Command::new(&ms)
                .current_dir(d)
                .args(["verify", "certificate", "model", "--signature", &sig])
                .args(["--certificate_chain", leaf.roots.to_str().unwrap()]),
            &format!("model_signing verify certificate, {curve}"),
        );
        roots = Some(leaf.roots);
    }
    let roots = roots.unwrap();
    // RSA: the P-384 bundle's statement, signed again by an RSA leaf.
    openssl(&["genrsa", "-out", "rsa.key", "3072"]);
    openssl(&["pkey", "-in", "rsa.key", "-pubout", "-out", "rsa.pub"]);
    let leaf = modelseal_testkit::pki::certify(d, "rsa", "rsa@models.example", &d.join("rsa.pub"));
    let mut bundle: serde_json::Value =
        serde_json::from_slice(&std::fs::read(d.join("secp384r1.sig")).unwrap()).unwrap();
    let payload = b64
        .decode(bundle["dsseEnvelope"]["payload"].as_str().unwrap())
        .unwrap();
    let payload_type = bundle["dsseEnvelope"]["payloadType"]
        .as_str()
        .unwrap()
        .to_string();
    let mut pae = format!(
        "DSSEv1 {} {} {} ",
        payload_type.len(),
        payload_type,
        payload.len()
    )
    .into_bytes();
    pae.extend_from_slice(&payload);
    std::fs::write(d.join("pae.bin"), &pae).unwrap();
    openssl(&[
        "dgst",
        "-sha256",
        "-sign",
        "rsa.key",
        "-out",
        "rsa.sigbytes",
        "pae.bin",
    ]);
    let der = |pem: &Path| {
        let text = std::fs::read_to_string(pem).unwrap();
        let body: String = text.lines().filter(|l| !l.starts_with("-----")).collect();
        body
    };
    bundle["dsseEnvelope"]["signatures"][0]["sig"] = b64
        .encode(std::fs::read(d.join("rsa.sigbytes")).unwrap())
        .into();
    bundle["verificationMaterial"]["x509CertificateChain"]["certificates"] = serde_json::json!([
        {"rawBytes": der(&leaf.cert)}, {"rawBytes": der(&leaf.chain)}
    ]);
    std::fs::write(d.join("rsa.sig"), serde_json::to_vec(&bundle).unwrap()).unwrap();
    let r = verify("rsa.sig", &roots);
    assert_eq!(r.code, 0, "RSA leaf: {}", r.stderr);
    // The same signature under the P-384 leaf's chain is refused: the leaf decides the key.
    bundle["verificationMaterial"]["x509CertificateChain"]["certificates"][0]["rawBytes"] =
        der(&d.join("secp384r1.pem")).into();
    std::fs::write(
        d.join("rsa-wrong-leaf.sig"),
        serde_json::to_vec(&bundle).unwrap(),
    )
    .unwrap();
    let r = verify("rsa-wrong-leaf.sig", &roots);
    assert_eq!(r.code, 1, "{}", r.stderr);
}

/// Keyless through a private Sigstore instance made by Python's `cryptography`
/// (scripts/keyless-instance.py: its own Fulcio CA, CT log and Rekor-like log, none of it our
/// code): the model verifies for the identity and issuer under that instance's trusted root, and
/// is refused for another identity, under the production root, and with its log entry altered.
#[test]
fn keyless_through_a_private_sigstore_instance() {
    let Some(ms) = model_signing() else { return };
    let python = ms.with_file_name("python");
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    awkward_model(d);
    generate_cosign_key(d);
    sign_with_cosign_key(d, "keyed.sig");
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/keyless-instance.py");
    peer_ok(
        Command::new(&python).current_dir(d).arg(&script).args([
            "keyed.sig",
            "keyless.sig",
            "root.json",
            "ml@models.example",
            "https://issuer.example",
        ]),
        "scripts/keyless-instance.py",
    );
    let verify = |sig: &str, identity: &str, root: Option<&str>| {
        let mut args = vec![
            "verify",
            "model",
            "--signature",
            sig,
            "--certificate-identity",
            identity,
            "--certificate-oidc-issuer",
            "https://issuer.example",
        ];
        if let Some(root) = root {
            args.extend(["--trusted-root", root]);
        }
        run_in(d, &args, &[])
    };
    let r = verify("keyless.sig", "ml@models.example", Some("root.json"));
    assert_eq!(r.code, 0, "{}", r.stderr);
    let r = verify("keyless.sig", "other@models.example", Some("root.json"));
    assert_eq!(r.code, 1, "{}", r.stderr);
    let r = verify("keyless.sig", "ml@models.example", None);
    assert_eq!(r.code, 1, "{}", r.stderr);
    // The logged body of another signature: the entry no longer matches the bundle.
    let mut b: serde_json::Value =
        serde_json::from_slice(&std::fs::read(d.join("keyless.sig")).unwrap()).unwrap();
    let entry = &mut b["verificationMaterial"]["tlogEntries"][0];
    let body = entry["canonicalizedBody"].as_str().unwrap().to_string();
    use base64::Engine as _;
    let b64 = base64::engine::general_purpose::STANDARD;
    let text = String::from_utf8(b64.decode(body).unwrap()).unwrap();
    let changed = text.replacen("\"value\":\"", "\"value\":\"0", 2);
    entry["canonicalizedBody"] = b64.encode(changed).into();
    std::fs::write(d.join("altered.sig"), serde_json::to_vec(&b).unwrap()).unwrap();
    let r = verify("altered.sig", "ml@models.example", Some("root.json"));
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(
        r.stderr.contains("transparency-log entry 1"),
        "{}",
        r.stderr
    );
}

/// Blob bundles with SHA-384 and SHA-512 message digests (P-384 and P-521 keys) verify, and
/// openssl agrees with the signatures inside, under the same hash.
#[test]
fn p384_and_p521_blob_bundles_carry_their_hash() {
    use base64::Engine as _;
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    write_tree(d, &[("blob.bin", &[9u8; 70_000])]);
    for (curve, hash, name) in [
        ("secp384r1", "-sha384", "SHA2_384"),
        ("secp521r1", "-sha512", "SHA2_512"),
    ] {
        let openssl = |args: &[&str]| modelseal_testkit::pki::openssl(d, args);
        openssl(&[
            "ecparam", "-name", curve, "-genkey", "-noout", "-out", "k.pem",
        ]);
        openssl(&["pkey", "-in", "k.pem", "-pubout", "-out", "k.pub"]);
        let r = run_in(
            d,
            &[
                "sign-blob",
                "blob.bin",
                "--key",
                "k.pem",
                "--bundle",
                "b.json",
            ],
            &[],
        );
        assert_eq!(r.code, 0, "{curve}: {}", r.stderr);
        let b: serde_json::Value =
            serde_json::from_slice(&std::fs::read(d.join("b.json")).unwrap()).unwrap();
        assert_eq!(b["messageSignature"]["messageDigest"]["algorithm"], name);
        let r = run_in(
            d,
            &[
                "verify-blob",
                "blob.bin",
                "--key",
                "k.pub",
                "--bundle",
                "b.json",
            ],
            &[],
        );
        assert_eq!(r.code, 0, "{curve}: {}", r.stderr);
        let sig = base64::engine::general_purpose::STANDARD
            .decode(b["messageSignature"]["signature"].as_str().unwrap())
            .unwrap();
        std::fs::write(d.join("sig.der"), sig).unwrap();
        openssl(&[
            "dgst",
            hash,
            "-verify",
            "k.pub",
            "-signature",
            "sig.der",
            "blob.bin",
        ]);
        // The bundle against another file: the message digest no longer matches.
        write_tree(d, &[("other.bin", b"other")]);
        let r = run_in(
            d,
            &[
                "verify-blob",
                "other.bin",
                "--key",
                "k.pub",
                "--bundle",
                "b.json",
            ],
            &[],
        );
        assert_eq!(r.code, 1, "{curve}: {}", r.stderr);
    }
}

// ---- OMS v1.0 conformance: what other clients write, and model_signing's verify options ----

/// model_signing 0.2.0 (`scripts/model-signing-0.2.py`), which writes the deprecated
/// `Digests/v0.1` predicate. `scripts/test.sh` installs it into `.venv-legacy` and sets
/// `MODELSEAL_MODEL_SIGNING_LEGACY`.
fn model_signing_0_2() -> Option<Command> {
    let python = match std::env::var_os("MODELSEAL_MODEL_SIGNING_LEGACY") {
        Some(p) => PathBuf::from(p),
        None if std::env::var("MODELSEAL_SKIP_INTEROP").as_deref() == Ok("1") => return None,
        None => panic!("MODELSEAL_MODEL_SIGNING_LEGACY is not set: run scripts/test.sh, or set MODELSEAL_SKIP_INTEROP=1 to skip"),
    };
    let mut c = Command::new(python);
    c.arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/model-signing-0.2.py"));
    Some(c)
}

/// model_signing 1.1.1's `verify key` or `verify certificate` with extra arguments.
fn reference_verify_with(ms: &Path, dir: &Path, method: &str, args: &[&str]) -> (i32, String) {
    let out = Command::new(ms)
        .current_dir(dir)
        .args(["verify", method])
        .args(args)
        .output()
        .expect("run model_signing");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.code().unwrap_or(-1), text)
}

/// The Go client writes no `verificationMaterial.tlogEntries` and no `keyid` (OMS 4.1, 11.1):
/// such key and certificate bundles verify, here and in model_signing.
#[test]
fn bundles_without_tlog_entries_verify_as_the_go_client_writes_them() {
    let Some(ms) = model_signing() else { return };
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    awkward_model(d);
    generate_cosign_key(d);
    let leaf = modelseal_testkit::pki::issue_leaf(d, "leaf", "pipeline@models.example");
    let pw = [("COSIGN_PASSWORD", "pw")];
    let key_sign = [
        "sign",
        "model",
        "--key",
        "cosign.key",
        "--signature",
        "key.sig",
    ];
    assert_eq!(run_in(d, &key_sign, &pw).code, 0);
    let (k, c, ch, _) = leaf.paths();
    let cert_sign = [
        "sign",
        "model",
        "--key",
        k,
        "--certificate",
        c,
        "--certificate-chain",
        ch,
        "--signature",
        "cert.sig",
    ];
    assert_eq!(run_in(d, &cert_sign, &[]).code, 0);
    for sig in ["key.sig", "cert.sig"] {
        let mut b: serde_json::Value =
            serde_json::from_slice(&std::fs::read(d.join(sig)).unwrap()).unwrap();
        b["verificationMaterial"]
            .as_object_mut()
            .unwrap()
            .remove("tlogEntries");
        b["dsseEnvelope"]["signatures"][0]
            .as_object_mut()
            .unwrap()
            .remove("keyid");
        std::fs::write(d.join(format!("go-{sig}")), serde_json::to_vec(&b).unwrap()).unwrap();
    }
    let roots = leaf.roots.to_str().unwrap();
    let r = run_in(
        d,
        &[
            "verify",
            "model",
            "--key",
            "cosign.pub",
            "--signature",
            "go-key.sig",
        ],
        &[],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    let r = run_in(
        d,
        &[
            "verify",
            "model",
            "--certificate-chain",
            roots,
            "--signature",
            "go-cert.sig",
        ],
        &[],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    let (code, out) = reference_verify(&ms, d, "model", "go-key.sig", "cosign.pub");
    assert_eq!(code, 0, "model_signing refused the Go-style bundle: {out}");
}

/// A signing certificate that is itself a CA, from a PKI shaped as model-transparency's script
/// makes it: model_signing accepts what we sign with it, and we accept what it signs.
#[test]
fn ca_signing_certificates_both_ways() {
    let Some(ms) = model_signing() else { return };
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    awkward_model(d);
    let leaf = modelseal_testkit::pki::ca_signing_leaf(d);
    let (k, c, ch, roots) = leaf.paths();
    let r = run_in(
        d,
        &[
            "sign",
            "model",
            "--key",
            k,
            "--certificate",
            c,
            "--certificate-chain",
            ch,
            "--signature",
            "ours.sig",
        ],
        &[],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    let (code, out) = reference_verify_with(
        &ms,
        d,
        "certificate",
        &[
            "model",
            "--signature",
            "ours.sig",
            "--certificate_chain",
            roots,
        ],
    );
    assert_eq!(code, 0, "model_signing refused our CA-leaf bundle: {out}");
    peer_ok(
        Command::new(&ms).current_dir(d).args([
            "sign",
            "certificate",
            "model",
            "--signature",
            "theirs.sig",
            "--private_key",
            k,
            "--signing_certificate",
            c,
            "--certificate_chain",
            ch,
        ]),
        "model_signing sign certificate",
    );
    for sig in ["ours.sig", "theirs.sig"] {
        let r = run_in(
            d,
            &[
                "verify",
                "model",
                "--certificate-chain",
                roots,
                "--signature",
                sig,
            ],
            &[],
        );
        assert_eq!(r.code, 0, "{sig}: {}", r.stderr);
    }
    // Trusting the intermediate as a second anchor file (repeatable, as model_signing's flag).
    let r = run_in(
        d,
        &[
            "verify",
            "model",
            "--certificate-chain",
            ch,
            "--certificate-chain",
            roots,
            "--signature",
            "theirs.sig",
        ],
        &[],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    // Another CA's root is refused.
    let other = tempfile::tempdir().unwrap();
    let other_roots = modelseal_testkit::pki::ca_signing_leaf(other.path()).roots;
    let r = run_in(
        d,
        &[
            "verify",
            "model",
            "--certificate-chain",
            other_roots.to_str().unwrap(),
            "--signature",
            "theirs.sig",
        ],
        &[],
    );
    assert_eq!(r.code, 1, "{}", r.stderr);
}

/// model_signing 0.2.0's `Digests/v0.1` bundles, key and certificate (whose signature it made
/// over SHA-256 of a P-384 leaf): both verifiers accept them for the model signed, with the
/// verdict naming the legacy predicate; a changed file is refused by both.
#[test]
fn legacy_digests_bundles_from_model_signing_0_2() {
    let Some(ms) = model_signing() else { return };
    let Some(mut legacy) = model_signing_0_2() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    write_tree(
        d,
        &[
            ("model/weights.bin", b"w\n"),
            ("model/cfg/config.json", b"{}\n"),
        ],
    );
    modelseal_testkit::pki::p256_key_pair(d, "k.pem", "k.pub");
    peer_ok(
        legacy.current_dir(d).args(["model", "key.sig", "k.pem"]),
        "model_signing 0.2.0 (key)",
    );
    let leaf = modelseal_testkit::pki::ca_signing_leaf(d);
    let Some(mut legacy) = model_signing_0_2() else {
        return;
    };
    peer_ok(
        legacy.current_dir(d).args([
            "model",
            "cert.sig",
            leaf.key.to_str().unwrap(),
            leaf.cert.to_str().unwrap(),
            leaf.chain.to_str().unwrap(),
        ]),
        "model_signing 0.2.0 (certificate)",
    );
    let roots = leaf.roots.to_str().unwrap();
    let ours = |sig: &str| {
        let trust: Vec<&str> = if sig == "key.sig" {
            vec!["--key", "k.pub"]
        } else {
            vec!["--certificate-chain", roots]
        };
        let mut args = vec!["verify", "model", "--signature", sig, "--json"];
        args.extend(trust);
        run_in(d, &args, &[])
    };
    let theirs = |sig: &str| {
        if sig == "key.sig" {
            reference_verify(&ms, d, "model", sig, "k.pub")
        } else {
            reference_verify_with(
                &ms,
                d,
                "certificate",
                &["model", "--signature", sig, "--certificate_chain", roots],
            )
        }
    };
    for sig in ["key.sig", "cert.sig"] {
        let r = ours(sig);
        assert_eq!(r.code, 0, "{sig}: {}", r.stderr);
        let o: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
        assert_eq!(o["predicate_type"], "https://model_signing/Digests/v0.1");
        assert_eq!(o["items"], 2);
        let (code, out) = theirs(sig);
        assert_eq!(code, 0, "model_signing 1.1.1 refused {sig}: {out}");
    }
    let text = run_in(
        d,
        &[
            "verify",
            "model",
            "--signature",
            "key.sig",
            "--key",
            "k.pub",
        ],
        &[],
    );
    assert!(text.stdout.contains("legacy predicate"), "{}", text.stdout);
    // The pin of a legacy model is its root as v1.0 computes it: what `digest` prints.
    let digest = run_in(d, &["digest", "model"], &[])
        .stdout
        .trim()
        .to_string();
    let r = run_in(
        d,
        &[
            "verify",
            "model",
            "--signature",
            "key.sig",
            "--key",
            "k.pub",
            "--digest",
            &digest,
        ],
        &[],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    std::fs::write(d.join("model/weights.bin"), b"W\n").unwrap();
    for sig in ["key.sig", "cert.sig"] {
        assert_eq!(ours(sig).code, 1, "{sig}");
        assert_ne!(
            theirs(sig).0,
            0,
            "model_signing accepted a changed file ({sig})"
        );
    }
}

/// A `Digests/v0.1` statement whose subjects are not files by name and SHA-256 is refused (exit
/// 1), and so is a v1.0 statement signed the 0.2.x way (that encoding is for v0.1 only).
#[test]
fn legacy_statements_of_any_other_shape_are_refused() {
    use modelseal_kernel::bundle::{oms_bundle_json, SignerMaterial};
    use modelseal_kernel::dsse::{pae, pae_v0_2, IN_TOTO_PAYLOAD_TYPE};
    use modelseal_kernel::{Curve, HashAlgorithm, PrivateKey, Signer};
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    write_tree(d, &[("model/a", b"a\n")]);
    let key = PrivateKey::generate(Curve::P256, &mut rand_core::OsRng);
    std::fs::write(d.join("k.pub"), key.public_key().to_pem()).unwrap();
    let sha = HashAlgorithm::Sha256.digest(b"a\n").to_hex();
    let statement = |subject: &str, predicate_type: &str| {
        format!(
            r#"{{"_type":"https://in-toto.io/Statement/v1","subject":[{subject}],"predicateType":"{predicate_type}","predicate":{{}}}}"#
        )
    };
    let v01 = "https://model_signing/Digests/v0.1";
    let sign = |name: &str, payload: &str, legacy_pae: bool| {
        let message = if legacy_pae {
            pae_v0_2(IN_TOTO_PAYLOAD_TYPE, payload.as_bytes())
        } else {
            pae(IN_TOTO_PAYLOAD_TYPE, payload.as_bytes())
        };
        let sig = key.sign_message(&message).unwrap();
        let hint = key.public_key().oms_hint();
        let json = oms_bundle_json(SignerMaterial::KeyHint(&hint), payload.as_bytes(), &sig);
        std::fs::write(d.join(name), json).unwrap();
    };
    let verify = |name: &str| {
        run_in(
            d,
            &["verify", "model", "--key", "k.pub", "--signature", name],
            &[],
        )
    };
    sign(
        "good.sig",
        &statement(
            &format!(r#"{{"name":"a","digest":{{"sha256":"{sha}"}}}}"#),
            v01,
        ),
        true,
    );
    assert_eq!(verify("good.sig").code, 0, "{}", verify("good.sig").stderr);
    for (name, subject) in [
        (
            "nosha.sig",
            format!(r#"{{"name":"a","digest":{{"sha512":"{sha}"}}}}"#),
        ),
        (
            "noname.sig",
            format!(r#"{{"digest":{{"sha256":"{sha}"}}}}"#),
        ),
        (
            "escape.sig",
            format!(r#"{{"name":"../a","digest":{{"sha256":"{sha}"}}}}"#),
        ),
        ("empty.sig", String::new()),
    ] {
        sign(name, &statement(&subject, v01), false);
        let r = verify(name);
        assert_eq!(r.code, 1, "{name}: {}", r.stderr);
    }
    // A v1.0 statement over the 0.2.x encoding: the signature is valid over those bytes, and
    // still refused, because that encoding is accepted for the legacy predicate alone.
    let payload = statement(
        &format!(r#"{{"name":"model","digest":{{"sha256":"{sha}"}}}}"#),
        "https://model_signing/signature/v1.0",
    );
    sign("v1-legacy-pae.sig", &payload, true);
    let r = verify("v1-legacy-pae.sig");
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(r.stderr.contains("does not match the key"), "{}", r.stderr);
}

/// model_signing's verify options: `--ignore-paths` leaves named unlisted files out, and
/// `--ignore-unsigned-files` tolerates every unlisted one; neither excuses a signed file. Both
/// verifiers agree on each case.
#[test]
fn verify_options_mean_what_they_mean_to_model_signing() {
    let Some(ms) = model_signing() else { return };
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    awkward_model(d);
    generate_cosign_key(d);
    sign_with_cosign_key(d, "m.sig");
    write_tree(
        d,
        &[
            ("model/cache/tmp.bin", b"left by training\n"),
            ("model/notes.txt", b"n\n"),
        ],
    );
    let ours = |extra: &[&str]| {
        let mut args = vec![
            "verify",
            "model",
            "--key",
            "cosign.pub",
            "--signature",
            "m.sig",
            "--json",
        ];
        args.extend_from_slice(extra);
        run_in(d, &args, &[])
    };
    let theirs = |extra: &[&str]| {
        let mut args = vec![
            "model",
            "--signature",
            "m.sig",
            "--public_key",
            "cosign.pub",
        ];
        args.extend_from_slice(extra);
        reference_verify_with(&ms, d, "key", &args).0
    };
    // Extra files: refused by both.
    assert_eq!(ours(&[]).code, 1);
    assert_ne!(theirs(&[]), 0);
    // Both named: accepted by both, and the names are reported.
    let named = [
        "--ignore-paths",
        "model/cache",
        "--ignore-paths",
        "model/notes.txt",
    ];
    let r = ours(&named);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let o: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(
        o["ignored_paths"],
        serde_json::json!(["cache/tmp.bin", "notes.txt"])
    );
    assert_eq!(theirs(&named), 0);
    // One named: still refused (by both); a path that does not exist changes nothing.
    assert_eq!(
        ours(&[
            "--ignore-paths",
            "model/cache",
            "--ignore-paths",
            "model/nope"
        ])
        .code,
        1
    );
    assert_ne!(theirs(&["--ignore-paths", "model/cache"]), 0);
    // Every unsigned file tolerated.
    let r = ours(&["--ignore-unsigned-files"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let o: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(
        o["unsigned_files"],
        serde_json::json!(["cache/tmp.bin", "notes.txt"])
    );
    assert_eq!(theirs(&["--ignore_unsigned_files"]), 0);
    let text = run_in(
        d,
        &[
            "verify",
            "model",
            "--key",
            "cosign.pub",
            "--signature",
            "m.sig",
            "--ignore-unsigned-files",
        ],
        &[],
    );
    assert!(
        text.stdout.contains(
            "not signed, left unchecked (--ignore-unsigned-files): cache/tmp.bin, notes.txt"
        ),
        "{}",
        text.stdout
    );
    // A signed file named by --ignore-paths is still checked; a changed one is refused by both,
    // whatever the options.
    std::fs::write(d.join("model/a-b"), b"Dash\n").unwrap();
    let all = ["--ignore-unsigned-files", "--ignore-paths", "model/a-b"];
    assert_eq!(ours(&all).code, 1);
    assert_ne!(theirs(&["--ignore_unsigned_files"]), 0);
    std::fs::remove_file(d.join("model/a-b")).unwrap();
    assert_eq!(
        ours(&["--ignore-unsigned-files"]).code,
        1,
        "a missing signed file"
    );
}

/// OMS 6.1 and 5.2.1: an empty model is neither signed nor verified. model_signing 1.1.1 signs
/// and verifies one; we refuse to sign it (exit 2, nothing written) and refuse its bundle.
#[test]
fn empty_models_are_neither_signed_nor_verified() {
    let Some(ms) = model_signing() else { return };
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    write_tree(d, &[("model/.gitignore", b"*\n")]);
    modelseal_testkit::pki::p256_key_pair(d, "k.pem", "k.pub");
    let r = run_in(
        d,
        &["sign", "model", "--key", "k.pem", "--signature", "ours.sig"],
        &[],
    );
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(
        r.stderr
            .starts_with("error: nothing to sign: model 'model' has no files"),
        "{}",
        r.stderr
    );
    assert!(!d.join("ours.sig").exists());
    peer_ok(
        Command::new(&ms).current_dir(d).args([
            "sign",
            "key",
            "model",
            "--signature",
            "theirs.sig",
            "--private_key",
            "k.pem",
        ]),
        "model_signing sign key (an empty model)",
    );
    let (code, out) = reference_verify(&ms, d, "model", "theirs.sig", "k.pub");
    assert_eq!(
        code, 0,
        "model_signing now refuses its own empty model: {out}"
    );
    let r = run_in(
        d,
        &[
            "verify",
            "model",
            "--key",
            "k.pub",
            "--signature",
            "theirs.sig",
        ],
        &[],
    );
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(r.stderr.contains("lists no files"), "{}", r.stderr);
}

/// A symlink where the signature goes: signing refuses it as model_signing refuses it (the link
/// is part of the model until it is replaced), while verifying names it as the signature (it is
/// the bundle's place; `cli_golden::signature_that_is_a_symlink` has the exact text).
#[test]
fn a_link_where_the_signature_goes() {
    let Some(ms) = model_signing() else { return };
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    write_tree(
        d,
        &[("model/a", b"weights\n"), ("hostname", b"not a bundle\n")],
    );
    std::os::unix::fs::symlink("../hostname", d.join("model/model.sig")).unwrap();
    modelseal_testkit::pki::p256_key_pair(d, "k.pem", "k.pub");
    let r = run_in(d, &["sign", "model", "--key", "k.pem"], &[]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(
        r.stderr
            .starts_with("error: model 'model' contains a symlink: model/model.sig"),
        "{}",
        r.stderr
    );
    assert!(
        d.join("model/model.sig").is_symlink(),
        "the link was replaced"
    );
    let theirs = Command::new(&ms)
        .current_dir(d)
        .args(["sign", "key", "model", "--signature", "model/model.sig"])
        .args(["--private_key", "k.pem"])
        .output()
        .unwrap();
    assert!(!theirs.status.success(), "model_signing signed it");
    let r = run_in(d, &["verify", "model", "--key", "k.pub"], &[]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(
        r.stderr
            .starts_with("error: signature model/model.sig cannot be used: it is a symlink"),
        "{}",
        r.stderr
    );
}

/// Sharded and BLAKE signatures, both ways, through model_signing's Python API given the
/// hashing configuration (its CLI always re-hashes whole files with SHA-256): it verifies what
/// we sign as files/blake3, files/blake2b and shards/sha256 at two shard sizes, and we verify
/// what it signs the same ways. A file that changed in one shard is refused by both.
#[test]
fn sharded_and_blake_signatures_both_ways() {
    let Some(ms) = model_signing() else { return };
    let python = ms.parent().unwrap().join("python");
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::create_dir_all(d.join("model/sub")).unwrap();
    // Three shards and a tail at 1 MiB, one and a tail at 2 MiB; a small file and an empty one.
    std::fs::write(
        d.join("model/weights.bin"),
        modelseal_testkit::noise(3 * (1 << 20) + 12_345, 5),
    )
    .unwrap();
    std::fs::write(d.join("model/sub/config.json"), b"{\"layers\": 2}").unwrap();
    std::fs::write(d.join("model/empty.bin"), b"").unwrap();
    for args in [
        [
            "openssl",
            "ecparam",
            "-name",
            "prime256v1",
            "-genkey",
            "-noout",
            "-out",
            "ec.pem",
        ]
        .as_slice(),
        &[
            "openssl", "pkcs8", "-topk8", "-nocrypt", "-in", "ec.pem", "-out", "k.pem",
        ],
        &[
            "openssl", "pkey", "-in", "k.pem", "-pubout", "-out", "k.pub",
        ],
    ] {
        assert!(Command::new(args[0])
            .current_dir(d)
            .args(&args[1..])
            .status()
            .unwrap()
            .success());
    }
    // (our flags, model_signing's hashing configuration)
    let cases: [(&[&str], &str); 5] = [
        (
            &["--hash-algorithm", "blake3"],
            "use_file_serialization(hashing_algorithm='blake3')",
        ),
        (
            &["--hash-algorithm", "blake2b"],
            "use_file_serialization(hashing_algorithm='blake2')",
        ),
        (&[], "use_file_serialization()"),
        (
            &["--shard-size", "1048576"],
            "use_shard_serialization(shard_size=1048576)",
        ),
        (
            &["--shard-size", "2097152"],
            "use_shard_serialization(shard_size=2097152)",
        ),
    ];
    let peer = |op: &str, hashing: &str, sig: &str| -> bool {
        let script = format!(
            "import pathlib\nfrom model_signing import hashing, signing, verifying\n\
             h = hashing.Config().{hashing}\n\
             if '{op}' == 'sign':\n\
             \x20   c = signing.Config().use_elliptic_key_signer(private_key=pathlib.Path('k.pem'))\n\
             \x20   c.set_hashing_config(h)\n\
             \x20   c.sign(pathlib.Path('model'), pathlib.Path('{sig}'))\n\
             else:\n\
             \x20   c = verifying.Config().use_elliptic_key_verifier(public_key=pathlib.Path('k.pub'))\n\
             \x20   c.set_hashing_config(h)\n\
             \x20   c.verify(pathlib.Path('model'), pathlib.Path('{sig}'))\n"
        );
        Command::new(&python)
            .current_dir(d)
            .args(["-c", &script])
            .status()
            .unwrap()
            .success()
    };
    let ours = |sig: &str| {
        run_in(
            d,
            &["verify", "model", "--key", "k.pub", "--signature", sig],
            &[],
        )
    };
    for (i, (flags, hashing)) in cases.iter().enumerate() {
        let (mine, theirs) = (format!("ours-{i}.sig"), format!("theirs-{i}.sig"));
        let mut args = vec!["sign", "model", "--key", "k.pem", "--signature", &mine];
        args.extend(flags.iter());
        let r = run_in(d, &args, &[]);
        assert_eq!(r.code, 0, "{flags:?}: {}", r.stderr);
        assert!(
            peer("verify", hashing, &mine),
            "model_signing refused our {flags:?} signature"
        );
        assert!(
            peer("sign", hashing, &theirs),
            "model_signing could not sign {hashing}"
        );
        let r = ours(&theirs);
        assert_eq!(
            r.code, 0,
            "we refused model_signing's {hashing}: {}",
            r.stderr
        );
    }
    // One byte changed in the second shard: both refuse, and we name the shard.
    let path = d.join("model/weights.bin");
    let mut bytes = std::fs::read(&path).unwrap();
    bytes[(1 << 20) + 7] ^= 1;
    std::fs::write(&path, bytes).unwrap();
    let r = ours("ours-3.sig");
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(
        r.stderr.contains("weights.bin:1048576:2097152"),
        "{}",
        r.stderr
    );
    assert!(!peer("verify", cases[3].1, "ours-3.sig"));
}
