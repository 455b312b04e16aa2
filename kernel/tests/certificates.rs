//! Private-CA chains on model_signing's certificate-method vectors: the time the chain is
//! judged at, identities, and the signing side's key check.

mod common;

use common::testdata;

use base64::Engine as _;
use modelseal_kernel::bundle::{Bundle, KeyMaterial};
use modelseal_kernel::certificate::{self, CertificateTrust, Certified, ChainError};
use modelseal_kernel::keys::{PrivateKey, PrivateKeyPem};
use modelseal_kernel::{Curve, Signer};

fn chain_of(case: &str) -> Vec<Vec<u8>> {
    let bundle =
        Bundle::from_json(&testdata(&format!("model-signing-pki/{case}/model.sig"))).unwrap();
    match bundle.key_material {
        KeyMaterial::Certificates(chain) => chain,
        other => panic!("{case}: {other:?}"),
    }
}

/// A certificate's notBefore (`startdate`) or notAfter (`enddate`) in seconds, as openssl and
/// `date` read it (independent of our own time handling).
fn cert_time(der: &[u8], which: &str) -> u64 {
    let pem = format!(
        "-----BEGIN CERTIFICATE-----\n{}\n-----END CERTIFICATE-----\n",
        base64::engine::general_purpose::STANDARD.encode(der)
    );
    static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let path = std::env::temp_dir().join(format!("modelseal-cert-{}-{n}", std::process::id()));
    std::fs::write(&path, pem).unwrap();
    let out = std::process::Command::new("sh")
        .arg("-c")
        .arg(format!(
            "date -u -d \"$(openssl x509 -noout -{which} -in {} | cut -d= -f2)\" +%s",
            path.display()
        ))
        .output()
        .unwrap();
    std::fs::remove_file(&path).unwrap();
    String::from_utf8(out.stdout)
        .unwrap()
        .trim()
        .parse()
        .unwrap()
}

/// A time inside every certificate's window of the chain-in-bundle case.
fn valid_time() -> u64 {
    cert_time(&chain_of("public-chain-in-bundle")[1], "startdate") + 3600
}

fn trust(at: u64, identity: Option<&str>) -> CertificateTrust {
    CertificateTrust::from_pem(
        &testdata("model-signing-pki/public-chain-in-bundle/roots.pem"),
        identity.map(str::to_string),
        at,
    )
    .unwrap()
}

/// The chain is judged at the given time: inside every window it passes; a second past the
/// leaf's notAfter, or before the CAs' notBefore, it is refused (model_signing would accept
/// the first, since it judges at the leaf's notBefore).
#[test]
fn judged_at_the_given_time() {
    let chain = chain_of("public-chain-in-bundle");
    let not_before = cert_time(&chain[1], "startdate");
    let not_after = cert_time(&chain[0], "enddate");
    assert!(not_after > not_before);
    let leaf = trust(not_before + 3600, None).verify_chain(&chain).unwrap();
    assert_eq!(leaf.identities, ["pipeline@models.example"]);
    assert_eq!(leaf.key.curve(), Some(Curve::P256));
    trust(not_after, None).verify_chain(&chain).unwrap();
    match trust(not_after + 1, None).verify_chain(&chain) {
        Err(ChainError::Path(why)) => assert!(why.contains("expired at"), "{why}"),
        other => panic!("{other:?}"),
    }
    match trust(not_before - 1, None).verify_chain(&chain) {
        Err(ChainError::Path(why)) => assert!(why.contains("not valid before"), "{why}"),
        other => panic!("{other:?}"),
    }
}

#[test]
fn identities_are_exact() {
    let chain = chain_of("public-chain-in-bundle");
    let at = valid_time();
    trust(at, Some("pipeline@models.example"))
        .verify_chain(&chain)
        .unwrap();
    for other in [
        "pipeline@models.exampl",
        "Pipeline@models.example",
        "models.example",
        "",
    ] {
        assert!(matches!(
            trust(at, Some(other)).verify_chain(&chain),
            Err(ChainError::Identity { .. })
        ));
    }
}

/// Malformed chains are refused by position, never trusted or panicked on.
#[test]
fn malformed_chains() {
    let at = valid_time();
    let t = trust(at, None);
    assert_eq!(t.verify_chain(&[]).unwrap_err(), ChainError::Empty);
    let mut chain = chain_of("public-chain-in-bundle");
    chain[1].truncate(20);
    assert!(matches!(
        t.verify_chain(&chain),
        Err(ChainError::Malformed { index: 1, .. })
    ));
    let mut leaf = chain_of("public-chain-in-bundle");
    let n = leaf[0].len();
    leaf[0][n - 5] ^= 1; // inside the leaf's signature
    assert!(matches!(t.verify_chain(&leaf), Err(ChainError::Path(_))));
    // A root file of something else.
    assert!(CertificateTrust::from_pem(b"not pem", None, at).is_err());
    let key_pem = testdata("model-signing-worked-example/keys/ec-p256-public.pem");
    assert!(CertificateTrust::from_pem(&key_pem, None, at).is_err());
}

/// Signing with a certificate: the leaf must certify the signing key.
#[test]
fn certified_signers() {
    let dir = "model-signing-worked-example";
    let key = match PrivateKey::from_pem(&testdata(&format!("{dir}/keys/ec-p256-private.pem")))
        .unwrap()
    {
        PrivateKeyPem::Plain(k) => *k,
        PrivateKeyPem::Encrypted(_) => unreachable!(),
    };
    let leaf = certificate::certificates_from_pem(&testdata(&format!("{dir}/cert/leaf-cert.pem")))
        .unwrap();
    let signer = Certified::new(Box::new(key), leaf.clone()).unwrap();
    assert_eq!(signer.certificates(), Some(leaf.as_slice()));
    let other = PrivateKey::generate(Curve::P256, &mut rand_core::OsRng);
    assert_eq!(
        Certified::new(Box::new(other), leaf)
            .err()
            .map(|e| e.to_string()),
        Some(ChainError::NotTheSigningKey.to_string())
    );
}

/// Keyless identities come from every SAN form Fulcio writes: email, URI, and the username
/// otherName (1.3.6.1.4.1.57264.1.7); the OIDC issuer from the v2 extension (a DER UTF8String).
#[test]
fn fulcio_identities_include_username_other_names() {
    use modelseal_kernel::fulcio::{Leaf, Matcher};
    let dir = std::env::temp_dir().join(format!("modelseal-fulcio-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let run = |args: &[&str]| {
        let out = std::process::Command::new("openssl")
            .current_dir(&dir)
            .args(args)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    run(&[
        "ecparam",
        "-name",
        "prime256v1",
        "-genkey",
        "-noout",
        "-out",
        "k.pem",
    ]);
    run(&[
        "req",
        "-new",
        "-x509",
        "-key",
        "k.pem",
        "-subj",
        "/CN=x",
        "-days",
        "1",
        "-addext",
        "subjectAltName=email:a@example.com,URI:https://ci.example/job,otherName:1.3.6.1.4.1.57264.1.7;UTF8:alice",
        "-addext",
        "1.3.6.1.4.1.57264.1.8=ASN1:UTF8String:https://issuer.example",
        "-outform",
        "DER",
        "-out",
        "c.der",
    ]);
    let leaf = Leaf::parse(&std::fs::read(dir.join("c.der")).unwrap()).unwrap();
    std::fs::remove_dir_all(&dir).unwrap();
    assert_eq!(
        leaf.identities,
        ["a@example.com", "https://ci.example/job", "alice"]
    );
    assert_eq!(leaf.issuer.as_deref(), Some("https://issuer.example"));
    let issuer = Matcher::Exact("https://issuer.example".into());
    leaf.check_identity(&Matcher::Exact("alice".into()), &issuer)
        .unwrap();
    assert!(leaf
        .check_identity(&Matcher::Exact("bob".into()), &issuer)
        .is_err());
}
