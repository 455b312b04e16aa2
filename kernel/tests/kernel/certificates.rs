//! Private-CA chains on model_signing's certificate-method vectors: the time the chain is
//! judged at, identities, and the signing side's key check.

use crate::common::testdata;

use base64::Engine as _;
use modelseal_kernel::bundle::{Bundle, KeyMaterial};
use modelseal_kernel::certificate::{self, CertificateTrust, Certified, ChainError};
use modelseal_kernel::keys::PrivateKey;
use modelseal_kernel::PrivateKeyPem;
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
    let key = match PrivateKeyPem::parse(&testdata(&format!("{dir}/keys/ec-p256-private.pem")))
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

/// A PKI made with openssl in the shape model-transparency's test-CA script (certtool) gives
/// it, which the OMS conformance suite's bundles use: an RSA root and intermediate
/// (CA, keyCertSign), and a P-384 signing certificate that is itself a CA (basicConstraints
/// CA:TRUE, KeyUsage digitalSignature, EKU codeSigning), named like its issuer.
struct CaPki {
    dir: std::path::PathBuf,
}

impl CaPki {
    /// `tag` must be unique per test: the directory is the test's own (two tests sharing one
    /// raced each other's keys).
    fn new(tag: &str) -> Self {
        let dir =
            std::env::temp_dir().join(format!("modelseal-capki-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let pki = CaPki { dir };
        pki.ext(
            "ca.ext",
            "basicConstraints=critical,CA:TRUE\nkeyUsage=critical,keyCertSign\n",
        );
        pki.openssl(&["genrsa", "-out", "root.key", "2048"]);
        pki.openssl(&[
            "req",
            "-new",
            "-x509",
            "-key",
            "root.key",
            "-subj",
            "/CN=root-ca",
            "-days",
            "30",
            "-addext",
            "basicConstraints=critical,CA:TRUE",
            "-addext",
            "keyUsage=critical,keyCertSign",
            "-out",
            "root.pem",
        ]);
        pki.issue("int", "intermediate-ca", "root", "ca.ext", "rsa");
        pki.ext(
            "signer.ext",
            "basicConstraints=critical,CA:TRUE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=codeSigning\n",
        );
        pki.issue("signer", "intermediate-ca", "int", "signer.ext", "p384");
        pki
    }

    fn ext(&self, name: &str, text: &str) {
        std::fs::write(self.dir.join(name), text).unwrap();
    }

    fn openssl(&self, args: &[&str]) {
        let out = std::process::Command::new("openssl")
            .current_dir(&self.dir)
            .args(args)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "openssl {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// `NAME.pem` with key `NAME.key` (RSA or P-384), subject `/CN=cn`, issued by `issuer`.
    fn issue(&self, name: &str, cn: &str, issuer: &str, ext: &str, key: &str) {
        let key_file = format!("{name}.key");
        match key {
            "rsa" => self.openssl(&["genrsa", "-out", &key_file, "2048"]),
            _ => self.openssl(&[
                "ecparam",
                "-name",
                "secp384r1",
                "-genkey",
                "-noout",
                "-out",
                &key_file,
            ]),
        }
        let csr = format!("{name}.csr");
        self.openssl(&[
            "req",
            "-new",
            "-key",
            &key_file,
            "-subj",
            &format!("/CN={cn}"),
            "-out",
            &csr,
        ]);
        let serial = format!("0x{:x}", name.len() * 7919 + cn.len());
        self.openssl(&[
            "x509",
            "-req",
            "-in",
            &csr,
            "-CA",
            &format!("{issuer}.pem"),
            "-CAkey",
            &format!("{issuer}.key"),
            "-set_serial",
            &serial,
            "-days",
            "30",
            "-extfile",
            ext,
            "-out",
            &format!("{name}.pem"),
        ]);
    }

    fn der(&self, name: &str) -> Vec<u8> {
        certificate::certificates_from_pem(
            &std::fs::read(self.dir.join(format!("{name}.pem"))).unwrap(),
        )
        .unwrap()
        .remove(0)
    }

    fn trust(&self, root: &str, at: u64) -> CertificateTrust {
        CertificateTrust::from_pem(
            &std::fs::read(self.dir.join(format!("{root}.pem"))).unwrap(),
            None,
            at,
        )
        .unwrap()
    }
}

impl Drop for CaPki {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A minute from now: inside the 30 days of every certificate issued during the test.
fn now() -> u64 {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    secs + 60
}

fn path_error(r: Result<certificate::VerifiedLeaf, ChainError>) -> String {
    match r {
        Err(ChainError::Path(why)) => why,
        other => panic!("expected a path error, got {other:?}"),
    }
}

/// A signing certificate that is a CA signs, as model_signing lets it, when it is otherwise a
/// valid signer; the rest of its path is held to what webpki holds every other path to.
#[test]
fn a_ca_signing_certificate_signs_through_a_valid_path_only() {
    let pki = CaPki::new("main");
    let (signer, int) = (pki.der("signer"), pki.der("int"));
    let at = now();
    let leaf = pki
        .trust("root", at)
        .verify_chain(&[signer.clone(), int.clone()])
        .unwrap();
    assert_eq!(leaf.key.curve(), Some(Curve::P384));
    // The intermediate only among the trusted certificates works too; neither place: no path.
    let roots = [
        std::fs::read(pki.dir.join("root.pem")).unwrap(),
        std::fs::read(pki.dir.join("int.pem")).unwrap(),
    ]
    .concat();
    CertificateTrust::from_pem(&roots, None, at)
        .unwrap()
        .verify_chain(std::slice::from_ref(&signer))
        .unwrap();
    assert!(path_error(
        pki.trust("root", at)
            .verify_chain(std::slice::from_ref(&signer))
    )
    .contains("no path"));
    // Another root, a time past the certificates, a changed signature: refused.
    let other = CaPki::new("other");
    path_error(
        other
            .trust("root", at)
            .verify_chain(&[signer.clone(), int.clone()]),
    );
    let later = at + 40 * 86_400;
    assert!(path_error(
        pki.trust("root", later)
            .verify_chain(&[signer.clone(), int.clone()])
    )
    .contains("expired"));
    let mut tampered = signer.clone();
    let n = tampered.len();
    tampered[n - 5] ^= 1;
    assert!(
        path_error(pki.trust("root", at).verify_chain(&[tampered, int.clone()]))
            .contains("signature")
    );
}

/// Self-signed, trusted as its own anchor (the suite's certificate-self-signed case), also when
/// the bundle carries it twice (a chain file naming the certificate itself).
#[test]
fn a_self_signed_ca_signing_certificate_is_its_own_anchor() {
    let pki = CaPki::new("self");
    pki.openssl(&[
        "ecparam",
        "-name",
        "prime256v1",
        "-genkey",
        "-noout",
        "-out",
        "self.key",
    ]);
    pki.openssl(&[
        "req",
        "-new",
        "-x509",
        "-key",
        "self.key",
        "-subj",
        "/CN=self-signed-test",
        "-days",
        "30",
        "-addext",
        "basicConstraints=critical,CA:TRUE",
        "-addext",
        "keyUsage=digitalSignature",
        "-addext",
        "extendedKeyUsage=codeSigning",
        "-out",
        "self.pem",
    ]);
    let own = pki.der("self");
    let trust = pki.trust("self", now());
    trust.verify_chain(std::slice::from_ref(&own)).unwrap();
    trust.verify_chain(&[own.clone(), own.clone()]).unwrap();
    assert!(path_error(pki.trust("root", now()).verify_chain(&[own])).contains("no path"));
}

/// An issuer above a CA signing certificate: a CA, within its path length, with keyCertSign
/// when it has a KeyUsage, and no name constraints (which this path does not evaluate).
#[test]
fn issuers_of_a_ca_signing_certificate_are_held_to_the_issuer_rules() {
    let pki = CaPki::new("issuers");
    let at = now();
    let signer_of = |ext: &str, name: &str| {
        pki.ext(&format!("{name}.ext"), ext);
        pki.issue(
            name,
            &format!("{name}-ca"),
            "root",
            &format!("{name}.ext"),
            "rsa",
        );
        pki.issue(&format!("{name}-signer"), "s", name, "signer.ext", "p384");
        (pki.der(&format!("{name}-signer")), pki.der(name))
    };
    let (signer, int) = signer_of(
        "basicConstraints=critical,CA:TRUE\nkeyUsage=critical,digitalSignature\n",
        "nocertsign",
    );
    let why = path_error(pki.trust("root", at).verify_chain(&[signer, int]));
    assert!(why.contains("keyCertSign"), "{why}");
    let (signer, int) = signer_of("basicConstraints=critical,CA:FALSE\n", "notca");
    let why = path_error(pki.trust("root", at).verify_chain(&[signer, int]));
    assert!(why.contains("not a CA"), "{why}");
    let (signer, int) = signer_of(
        "basicConstraints=critical,CA:TRUE\nkeyUsage=keyCertSign\nnameConstraints=permitted;email:.example.com\n",
        "constrained",
    );
    let why = path_error(pki.trust("root", at).verify_chain(&[signer, int]));
    assert!(why.contains("name constraints"), "{why}");
    // pathlen:0 on the first intermediate forbids a second one below it.
    let (_, top) = signer_of(
        "basicConstraints=critical,CA:TRUE,pathlen:0\nkeyUsage=keyCertSign\n",
        "top",
    );
    pki.ext(
        "mid.ext",
        "basicConstraints=critical,CA:TRUE\nkeyUsage=keyCertSign\n",
    );
    pki.issue("mid", "mid-ca", "top", "mid.ext", "rsa");
    pki.issue("mid-signer", "s", "mid", "signer.ext", "p384");
    let chain = [pki.der("mid-signer"), pki.der("mid"), top];
    let why = path_error(pki.trust("root", at).verify_chain(&chain));
    assert!(why.contains("path length"), "{why}");
}

/// A CA signing certificate must still be for signing.
#[test]
fn a_ca_signing_certificate_must_be_for_signing() {
    let pki = CaPki::new("purpose");
    pki.ext(
        "plain.ext",
        "basicConstraints=critical,CA:TRUE\nkeyUsage=critical,keyCertSign\n",
    );
    pki.issue("plain", "p", "int", "plain.ext", "p384");
    assert_eq!(
        pki.trust("root", now())
            .verify_chain(&[pki.der("plain"), pki.der("int")])
            .unwrap_err(),
        ChainError::NotForSigning
    );
}

// ---- Findings of the hostile-input review ----

/// Finding 1 (private CA): an intermediate whose KeyUsage lacks keyCertSign may not issue,
/// though webpki would accept it; the refusal says why in a sentence.
#[test]
fn finding_an_intermediate_without_key_cert_sign_does_not_issue() {
    let pki = CaPki::new("kcs");
    pki.ext(
        "weak.ext",
        "basicConstraints=critical,CA:TRUE\nkeyUsage=critical,digitalSignature\n",
    );
    pki.issue("weak", "weak-ca", "root", "weak.ext", "rsa");
    pki.ext(
        "leaf.ext",
        "basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=codeSigning\n",
    );
    pki.issue("leaf", "leaf", "weak", "leaf.ext", "p384");
    let why = path_error(
        pki.trust("root", now())
            .verify_chain(&[pki.der("leaf"), pki.der("weak")]),
    );
    assert!(why.contains("without keyCertSign"), "{why}");
    // The same leaf under an intermediate that may issue verifies.
    pki.issue("leaf2", "leaf2", "int", "leaf.ext", "p384");
    pki.trust("root", now())
        .verify_chain(&[pki.der("leaf2"), pki.der("int")])
        .unwrap();
}

/// A trusted root (Sigstore JSON) whose one certificate authority is `chain` (issuer first).
fn sigstore_root(chain: &[Vec<u8>]) -> modelseal_kernel::trusted_root::TrustedRoot {
    let certs: Vec<serde_json::Value> = chain
        .iter()
        .map(|d| serde_json::json!({"rawBytes": base64::engine::general_purpose::STANDARD.encode(d)}))
        .collect();
    let json = serde_json::json!({
        "mediaType": "application/vnd.dev.sigstore.trustedroot+json;version=0.1",
        "certificateAuthorities": [{
            "subject": {"organization": "test", "commonName": "test"},
            "uri": "https://fulcio.test",
            "certChain": {"certificates": certs},
            "validFor": {"start": "2020-01-01T00:00:00Z"}
        }]
    });
    modelseal_kernel::trusted_root::TrustedRoot::from_json(&serde_json::to_vec(&json).unwrap())
        .unwrap()
}

/// Finding 1 (Fulcio chains): an intermediate without an ExtendedKeyUsage is unrestricted, as
/// RFC 5280, Go and pyca read it (before, a debug dump refused it); one whose EKU lacks
/// codeSigning, or whose KeyUsage lacks keyCertSign, is refused; the leaf must list codeSigning.
#[test]
fn finding_fulcio_intermediates_are_judged_as_rfc_5280_says() {
    use modelseal_kernel::fulcio::Leaf;
    let pki = CaPki::new("fulcio");
    let leaf_ext = "basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=codeSigning\nsubjectAltName=email:ci@example.com\n";
    pki.ext("leaf.ext", leaf_ext);
    let case = |name: &str, int_ext: &str, leaf_ext_name: &str| {
        pki.ext(&format!("{name}-int.ext"), int_ext);
        pki.issue(
            &format!("{name}-int"),
            &format!("{name}-int"),
            "root",
            &format!("{name}-int.ext"),
            "rsa",
        );
        pki.issue(
            &format!("{name}-leaf"),
            "leaf",
            &format!("{name}-int"),
            leaf_ext_name,
            "p384",
        );
        let root = sigstore_root(&[pki.der(&format!("{name}-int")), pki.der("root")]);
        let leaf = Leaf::parse(&pki.der(&format!("{name}-leaf"))).unwrap();
        leaf.verify_chain(&root, now())
            .map(|_| ())
            .map_err(|e| e.to_string())
    };
    case(
        "noeku",
        "basicConstraints=critical,CA:TRUE\nkeyUsage=critical,keyCertSign\n",
        "leaf.ext",
    )
    .unwrap();
    let why = case(
        "othereku",
        "basicConstraints=critical,CA:TRUE\nkeyUsage=critical,keyCertSign\nextendedKeyUsage=serverAuth\n",
        "leaf.ext",
    )
    .unwrap_err();
    assert!(
        why.contains("ExtendedKeyUsage does not allow this use"),
        "{why}"
    );
    assert!(!why.contains("Context"), "a debug dump: {why}");
    let why = case(
        "nokcs",
        "basicConstraints=critical,CA:TRUE\nkeyUsage=critical,digitalSignature\n",
        "leaf.ext",
    )
    .unwrap_err();
    assert!(why.contains("without keyCertSign"), "{why}");
    pki.ext(
        "noleafeku.ext",
        "basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\n",
    );
    let why = case(
        "leafnoeku",
        "basicConstraints=critical,CA:TRUE\nkeyUsage=critical,keyCertSign\n",
        "noleafeku.ext",
    )
    .unwrap_err();
    assert!(why.contains("does not list codeSigning"), "{why}");
}

/// Finding 4: Fulcio's two OIDC issuer extensions (1.1, a raw string; 1.8, a UTF8String) must
/// agree; sigstore-python reads one, cosign the other.
#[test]
fn finding_fulcio_issuer_extensions_must_agree() {
    use modelseal_kernel::fulcio::{FulcioError, Leaf};
    let pki = CaPki::new("fulcio-extensions");
    let hex = |s: &str| s.bytes().map(|b| format!("{b:02X}")).collect::<String>();
    let make = |name: &str, v1: &str, v2: &str| {
        pki.openssl(&[
            "ecparam",
            "-name",
            "prime256v1",
            "-genkey",
            "-noout",
            "-out",
            &format!("{name}.key"),
        ]);
        pki.openssl(&[
            "req",
            "-new",
            "-x509",
            "-key",
            &format!("{name}.key"),
            "-subj",
            "/CN=x",
            "-days",
            "1",
            "-addext",
            "subjectAltName=email:a@example.com",
            "-addext",
            &format!("1.3.6.1.4.1.57264.1.1=DER:{}", hex(v1)),
            "-addext",
            &format!("1.3.6.1.4.1.57264.1.8=ASN1:UTF8String:{v2}"),
            "-out",
            &format!("{name}.pem"),
        ]);
        Leaf::parse(&pki.der(name))
    };
    let same = make("same", "https://issuer.example", "https://issuer.example").unwrap();
    assert_eq!(same.issuer.as_deref(), Some("https://issuer.example"));
    match make(
        "differ",
        "https://accounts.google.com",
        "https://issuer.example",
    ) {
        Err(e @ FulcioError::IssuersDisagree { .. }) => {
            assert!(e.to_string().contains("disagree"), "{e}")
        }
        Err(other) => panic!("{other}"),
        Ok(_) => panic!("a certificate naming two issuers was accepted"),
    }
}
