//! modelseal-init end to end against moto on loopback (started by scripts/test.sh), invoked as
//! KServe invokes its storage initializer. Models are signed with the kernel and uploaded with
//! the AWS SDK, so these tests depend on nothing but the binary under test.

use std::path::Path;
use std::process::Command;

use crate::common::*;
use modelseal_kernel::manifest::ResourcePath;
use modelseal_kernel::{oms, HashAlgorithm, Signer};

#[test]
fn signed_directory_is_placed_exactly() {
    let Some(m) = moto() else { return };
    let files = model();
    m.publish("models/m", &files, &key(SIGNER));
    m.put(
        "models/m-v2/other.bin",
        b"a sibling prefix is not part of the model",
    );
    let dest = m.d().join("mnt/models");
    ok(&m.init(&[&m.uri("models/m"), dest.to_str().unwrap()]));
    assert_eq!(
        tree(&dest),
        expected(&files),
        "DEST must hold exactly the signed files"
    );
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(
        std::fs::metadata(dest.join("weights.bin"))
            .unwrap()
            .permissions()
            .mode()
            & 0o777,
        0o644
    );
    assert_eq!(
        std::fs::metadata(dest.join("tokenizer"))
            .unwrap()
            .permissions()
            .mode()
            & 0o777,
        0o755
    );
}

#[test]
fn changed_byte_is_refused_and_nothing_placed() {
    let Some(m) = moto() else { return };
    let files = model();
    m.publish("m", &files, &key(SIGNER));
    let mut w = files["weights.bin"].clone();
    w[12345] ^= 1;
    m.put("m/weights.bin", &w);
    let dest = m.d().join("models");
    let err = refused(&m.init(&[&m.uri("m"), dest.to_str().unwrap()]));
    assert!(err.contains("weights.bin: content changed"), "{err}");
    let reason = m.reason();
    assert!(
        reason.starts_with("modelseal-init: model 's3://")
            && reason.contains("weights.bin: content changed"),
        "{reason}"
    );
    assert_eq!(reason.lines().count(), 1, "{reason}");
    assert!(
        tree(&dest).is_empty(),
        "{:?}",
        tree(&dest).keys().collect::<Vec<_>>()
    );
}

#[test]
fn extra_object_missing_signature_and_wrong_key_are_refused() {
    let Some(m) = moto() else { return };
    let files = model();
    let dest = m.d().join("models");
    let d = dest.to_str().unwrap();
    m.publish("extra", &files, &key(SIGNER));
    m.put("extra/tokenizer/merges.txt", b"a b\n");
    let err = refused(&m.init(&[&m.uri("extra"), d]));
    assert!(
        err.contains("tokenizer/merges.txt: not in the signed manifest"),
        "{err}"
    );
    m.publish("nosig", &files, &key(SIGNER));
    m.delete("nosig/model.sig");
    let err = refused(&m.init(&[&m.uri("nosig"), d]));
    assert!(
        err.contains(&format!(
            "signature s3://{}/nosig/model.sig not found",
            m.bucket
        )),
        "{err}"
    );
    m.publish("other", &files, &key(OTHER));
    let err = refused(&m.init(&[&m.uri("other"), d]));
    assert!(err.contains("signed by another key"), "{err}");
    assert!(tree(&dest).is_empty());
}

/// A signer whose private key lives in moto's KMS. moto signs `MessageType=RAW` correctly (and
/// `DIGEST` wrongly: it hashes the digest again), so this signs whole messages.
struct MotoKms<'a> {
    rt: &'a tokio::runtime::Runtime,
    kms: aws_sdk_kms::Client,
    key_id: String,
    public: modelseal_kernel::PublicKey,
}

impl MotoKms<'_> {
    fn create(m: &Moto) -> MotoKms<'_> {
        use aws_sdk_kms::types::{KeySpec, KeyUsageType};
        let rt = &m.rt;
        let kms = aws_sdk_kms::Client::new(&sdk(&m.url));
        let key_id = rt
            .block_on(
                kms.create_key()
                    .key_spec(KeySpec::EccNistP256)
                    .key_usage(KeyUsageType::SignVerify)
                    .send(),
            )
            .unwrap()
            .key_metadata()
            .unwrap()
            .key_id()
            .to_string();
        let der = rt
            .block_on(kms.get_public_key().key_id(&key_id).send())
            .unwrap()
            .public_key()
            .unwrap()
            .as_ref()
            .to_vec();
        let public = modelseal_kernel::PublicKey::from_spki_der(&der).unwrap();
        MotoKms {
            rt,
            kms,
            key_id,
            public,
        }
    }
}

impl Signer for MotoKms<'_> {
    fn public_key(&self) -> &modelseal_kernel::PublicKey {
        &self.public
    }

    fn sign_prehash(&self, _: &[u8]) -> Result<Vec<u8>, modelseal_kernel::keys::SignError> {
        unreachable!("this test signs whole messages")
    }

    fn sign_message(&self, message: &[u8]) -> Result<Vec<u8>, modelseal_kernel::keys::SignError> {
        use aws_sdk_kms::types::{MessageType, SigningAlgorithmSpec};
        let out = self
            .rt
            .block_on(
                self.kms
                    .sign()
                    .key_id(&self.key_id)
                    .message(message.to_vec().into())
                    .message_type(MessageType::Raw)
                    .signing_algorithm(SigningAlgorithmSpec::EcdsaSha256)
                    .send(),
            )
            .unwrap();
        Ok(out.signature().unwrap().as_ref().to_vec())
    }
}

#[test]
fn a_kms_key_is_trusted_through_modelseal_key() {
    let Some(m) = moto() else { return };
    let files = model();
    let dest = m.d().join("models");
    let d = dest.to_str().unwrap();
    let kms = MotoKms::create(&m);
    m.publish("kms", &files, &kms);
    let with_kms = |reference: &str| {
        let mut c = m.command();
        c.env_remove("MODELSEAL_PUBLIC_KEY")
            .env("MODELSEAL_KEY", reference);
        c
    };
    // The key's public half comes from KMS GetPublicKey; the model verifies against it.
    let reference = format!("awskms:///{}", kms.key_id);
    ok(&m.run(with_kms(&reference), &[&m.uri("kms"), d]));
    assert_eq!(tree(&dest), expected(&files));
    // A bundle by a local key is refused under the KMS key, and nothing is placed.
    let other = m.d().join("other");
    m.publish("kms-other", &files, &key(SIGNER));
    let err = refused(&m.run(
        with_kms(&reference),
        &[&m.uri("kms-other"), other.to_str().unwrap()],
    ));
    assert!(err.contains("signed by another key"), "{err}");
    assert!(tree(&other).is_empty());
    // A KMS key that does not exist: a clear refusal naming the key.
    let missing = "awskms:///alias/no-such-key";
    let err = refused(&m.run(with_kms(missing), &[&m.uri("kms"), other.to_str().unwrap()]));
    assert!(err.contains("alias/no-such-key"), "{err}");
}

/// A private CA (model_signing's certificate method): a model signed by a leaf the CA issued is
/// placed under `MODELSEAL_CERTIFICATE_CHAIN`; another identity, another CA, a bare-key bundle
/// and settings this build cannot honour place nothing.
#[test]
fn a_private_ca_is_trusted_through_modelseal_certificate_chain() {
    use modelseal_kernel::certificate::{certificates_from_pem, Certified};
    let Some(m) = moto() else { return };
    let files = model();
    let leaf = modelseal_testkit::pki::issue_leaf(m.d(), "pipeline", "pipeline@models.example");
    let mut chain = certificates_from_pem(&std::fs::read(&leaf.cert).unwrap()).unwrap();
    chain.extend(certificates_from_pem(&std::fs::read(&leaf.chain).unwrap()).unwrap());
    let leaf_key =
        match modelseal_kernel::PrivateKeyPem::parse(&std::fs::read(&leaf.key).unwrap()).unwrap() {
            modelseal_kernel::PrivateKeyPem::Plain(k) => *k,
            modelseal_kernel::PrivateKeyPem::Encrypted(_) => unreachable!(),
        };
    let signer = Certified::new(Box::new(leaf_key), chain).unwrap();
    m.publish("pki", &files, &signer);
    m.publish("keyed", &files, &key(SIGNER));
    let with_ca = |roots: &Path, identity: Option<&str>| {
        let mut c = m.command();
        c.env_remove("MODELSEAL_PUBLIC_KEY")
            .env("MODELSEAL_CERTIFICATE_CHAIN", roots);
        if let Some(id) = identity {
            c.env("MODELSEAL_CERTIFICATE_IDENTITY", id);
        }
        c
    };
    let dest = m.d().join("models");
    let d = dest.to_str().unwrap();
    ok(&m.run(with_ca(&leaf.roots, None), &[&m.uri("pki"), d]));
    assert_eq!(tree(&dest), expected(&files));
    // The roots as PEM text (a ClusterStorageContainer's ConfigMap) and an identity.
    let dest = m.d().join("models-id");
    let d = dest.to_str().unwrap();
    let mut c = m.command();
    c.env_remove("MODELSEAL_PUBLIC_KEY")
        .env(
            "MODELSEAL_CERTIFICATE_CHAIN_PEM",
            std::fs::read_to_string(&leaf.roots).unwrap(),
        )
        .env("MODELSEAL_CERTIFICATE_IDENTITY", "pipeline@models.example");
    ok(&m.run(c, &[&m.uri("pki"), d]));
    assert_eq!(tree(&dest), expected(&files));
    // Refusals: each names its step, and nothing is placed.
    let other_ca = testdata("model-signing-worked-example/cert/ca-cert.pem");
    let cases: [(&str, std::process::Command, &str); 3] = [
        (
            "pki",
            with_ca(&leaf.roots, Some("attacker@models.example")),
            "certificate identity 'attacker@models.example' does not match 'pipeline@models.example'",
        ),
        ("pki", with_ca(&other_ca, None), "does not chain to a trusted root"),
        ("keyed", with_ca(&leaf.roots, None), "signed with a bare key"),
    ];
    for (i, (prefix, c, why)) in cases.into_iter().enumerate() {
        let dest = m.d().join(format!("refused-{i}"));
        let err = refused(&m.run(c, &[&m.uri(prefix), dest.to_str().unwrap()]));
        assert!(err.contains(why), "{err}");
        assert!(m.reason().contains(why), "{}", m.reason());
        assert!(tree(&dest).is_empty(), "{:?}", tree(&dest).keys());
    }
    // Trust settings that cannot be honoured are refused before anything is fetched.
    let dest = m.d().join("refused-settings");
    let mut c = with_ca(&leaf.roots, None);
    c.env(
        "MODELSEAL_CERTIFICATE_OIDC_ISSUER",
        "https://token.actions.githubusercontent.com",
    );
    let err = refused(&m.run(c, &[&m.uri("pki"), dest.to_str().unwrap()]));
    assert!(err.contains("keyless Sigstore trust"), "{err}");
    let mut c = with_ca(&leaf.roots, None);
    c.env("MODELSEAL_PUBLIC_KEY", m.d().join("model.pub"));
    let err = refused(&m.run(c, &[&m.uri("pki"), dest.to_str().unwrap()]));
    assert!(err.contains("they are two trusts"), "{err}");
    let mut c = m.command();
    c.env_remove("MODELSEAL_PUBLIC_KEY")
        .env("MODELSEAL_CERTIFICATE_IDENTITY", "pipeline@models.example");
    let err = refused(&m.run(c, &[&m.uri("pki"), dest.to_str().unwrap()]));
    assert!(err.contains("keyless trust needs both"), "{err}");
    let mut c = with_ca(&m.d().join("model.pub"), None);
    c.env_remove("MODELSEAL_PUBLIC_KEY");
    let err = refused(&m.run(c, &[&m.uri("pki"), dest.to_str().unwrap()]));
    assert!(err.contains("MODELSEAL_CERTIFICATE_CHAIN"), "{err}");
    assert!(!dest.exists());
}

/// Sigstore keyless: a model model_signing 1.1.0 signed with a Fulcio certificate (Rekor entry,
/// RFC 3161 timestamp; testdata/model-signing-keyless) is placed for its identity and issuer,
/// checked offline against the carried production root; another identity, another issuer, a
/// root without that Fulcio, and half a keyless trust place nothing.
#[test]
fn a_keyless_identity_is_trusted_offline() {
    let Some(m) = moto() else { return };
    let dir = testdata("model-signing-keyless/v1.1.0-sigstore");
    let mut files = Files::new();
    for name in ["signme-1", "signme-2"] {
        files.insert(name, std::fs::read(dir.join(name)).unwrap());
        m.put(&format!("keyless/{name}"), &files[name]);
    }
    m.put(
        "keyless/model.sig",
        &std::fs::read(dir.join("model.sig")).unwrap(),
    );
    const ID: &str = "stefanb@us.ibm.com";
    const ISSUER: &str = "https://sigstore.verify.ibm.com/oauth2";
    let keyless = |vars: &[(&str, &str)]| {
        let mut c = m.command();
        c.env_remove("MODELSEAL_PUBLIC_KEY");
        for (k, v) in vars {
            c.env(k, v);
        }
        c
    };
    let dest = m.d().join("keyless-ok");
    let c = keyless(&[
        ("MODELSEAL_CERTIFICATE_IDENTITY", ID),
        ("MODELSEAL_CERTIFICATE_OIDC_ISSUER", ISSUER),
    ]);
    ok(&m.run(c, &[&m.uri("keyless"), dest.to_str().unwrap()]));
    assert_eq!(tree(&dest), expected(&files));
    let dest = m.d().join("keyless-regexp");
    let c = keyless(&[
        ("MODELSEAL_CERTIFICATE_IDENTITY_REGEXP", r".*@us\.ibm\.com"),
        ("MODELSEAL_CERTIFICATE_OIDC_ISSUER", ISSUER),
    ]);
    ok(&m.run(c, &[&m.uri("keyless"), dest.to_str().unwrap()]));
    let staging_root =
        testdata("sigstore-conformance/bundle-verify/rekor2-happy-path/trusted_root.json");
    let staging_root = staging_root.to_str().unwrap();
    let cases: [(&[(&str, &str)], &str); 5] = [
        (
            &[
                ("MODELSEAL_CERTIFICATE_IDENTITY", "attacker@us.ibm.com"),
                ("MODELSEAL_CERTIFICATE_OIDC_ISSUER", ISSUER),
            ],
            "certificate identity 'attacker@us.ibm.com' does not match",
        ),
        (
            &[
                ("MODELSEAL_CERTIFICATE_IDENTITY", ID),
                (
                    "MODELSEAL_CERTIFICATE_OIDC_ISSUER",
                    "https://accounts.google.com",
                ),
            ],
            "certificate OIDC issuer 'https://accounts.google.com' does not match",
        ),
        (
            &[
                ("MODELSEAL_CERTIFICATE_IDENTITY_REGEXP", "us.ibm.com"),
                ("MODELSEAL_CERTIFICATE_OIDC_ISSUER", ISSUER),
            ],
            "certificate identity /us.ibm.com/ does not match",
        ),
        (
            &[
                ("MODELSEAL_CERTIFICATE_IDENTITY", ID),
                ("MODELSEAL_CERTIFICATE_OIDC_ISSUER", ISSUER),
                ("MODELSEAL_TRUSTED_ROOT", staging_root),
            ],
            "from an authority the trusted root does not hold",
        ),
        (
            &[("MODELSEAL_CERTIFICATE_IDENTITY", ID)],
            "keyless trust needs both",
        ),
    ];
    for (i, (vars, why)) in cases.iter().enumerate() {
        let dest = m.d().join(format!("keyless-refused-{i}"));
        let err = refused(&m.run(keyless(vars), &[&m.uri("keyless"), dest.to_str().unwrap()]));
        assert!(err.contains(why), "{err}");
        assert!(tree(&dest).is_empty(), "{:?}", tree(&dest).keys());
    }
}

#[test]
fn no_trust_and_unreachable_bucket_are_refused() {
    let Some(m) = moto() else { return };
    m.publish("m", &model(), &key(SIGNER));
    let dest = m.d().join("models");
    let mut c = m.command();
    c.env_remove("MODELSEAL_PUBLIC_KEY");
    let err = refused(&m.run(c, &[&m.uri("m"), dest.to_str().unwrap()]));
    assert!(err.contains("no trust configured"), "{err}");
    assert!(!dest.exists());
    let mut c = m.command();
    c.env("AWS_ENDPOINT_URL", "http://127.0.0.1:9"); // discard port: nothing listens
    let err = refused(&m.run(c, &[&m.uri("m"), dest.to_str().unwrap()]));
    assert!(
        err.contains(&format!("s3://{}/m", m.bucket)) && err.contains("failed"),
        "{err}"
    );
    let err = refused(&m.init(&["s3://no-such-bucket-anywhere/m", dest.to_str().unwrap()]));
    assert!(
        err.contains("bucket 'no-such-bucket-anywhere' does not exist"),
        "{err}"
    );
    let err = refused(&m.init(&[&m.uri("m")]));
    assert!(err.contains("usage"), "{err}");
    // No credentials anywhere: where we looked, and a hint, on the one line.
    let mut c = m.command();
    c.env_remove("AWS_ACCESS_KEY_ID")
        .env_remove("AWS_SECRET_ACCESS_KEY")
        .env("HOME", m.d());
    let err = refused(&m.run(c, &[&m.uri("m"), dest.to_str().unwrap()]));
    assert!(
        err.contains("no AWS credentials found (looked in") && err.contains("hint: "),
        "{err}"
    );
    assert!(!dest.exists());
    // The key as PEM text in the environment works like the mounted file.
    let mut c = m.command();
    c.env_remove("MODELSEAL_PUBLIC_KEY").env(
        "MODELSEAL_PUBLIC_KEY_PEM",
        std::fs::read_to_string(m.d().join("model.pub")).unwrap(),
    );
    ok(&m.run(c, &[&m.uri("m"), dest.to_str().unwrap()]));
}

#[test]
fn two_pairs_single_object_and_storage_config() {
    let Some(m) = moto() else { return };
    let files = model();
    m.publish("a", &files, &key(SIGNER));
    let onnx: Vec<u8> = (0..50_000u32).map(|i| (i % 7) as u8).collect();
    let mut single = Files::new();
    single.insert("model.onnx", onnx.clone());
    m.put("b/model.onnx", &onnx);
    let items = vec![(
        ResourcePath::parse(".").unwrap(),
        HashAlgorithm::Sha256.digest(&onnx),
    )];
    let b = oms::sign_statement(
        &key(SIGNER),
        &oms::statement_payload("model.onnx", &items, &[]).unwrap(),
    )
    .unwrap();
    m.put("b/model.onnx.sig", b.as_bytes());
    let (d1, d2) = (m.d().join("mnt/a"), m.d().join("mnt/b"));
    // STORAGE_CONFIG carries the endpoint and keys; nothing AWS_* in the environment.
    let mut c = m.command();
    for v in [
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_ENDPOINT_URL",
    ] {
        c.env_remove(v);
    }
    c.env(
        "STORAGE_CONFIG",
        format!(r#"{{"type":"s3","endpoint_url":"{}","access_key_id":"testing","secret_access_key":"testing","region":"us-east-1"}}"#, m.url),
    );
    ok(&m.run(
        c,
        &[
            &m.uri("a"),
            d1.to_str().unwrap(),
            &m.uri("b/model.onnx"),
            d2.to_str().unwrap(),
        ],
    ));
    assert_eq!(tree(&d1), expected(&files));
    assert_eq!(tree(&d2), expected(&single));
}

#[test]
fn verification_digest_pins_a_single_file() {
    let Some(m) = moto() else { return };
    let data = b"weights of a tiny model".to_vec();
    m.put("p/model.bin", &data);
    let pin = HashAlgorithm::Sha256.digest(&data).to_hex();
    let dest = m.d().join("pinned");
    let mut c = m.command();
    c.env_remove("MODELSEAL_PUBLIC_KEY")
        .env("VERIFICATION_DIGEST", format!("sha256:{pin}"));
    ok(&m.run(c, &[&m.uri("p/model.bin"), dest.to_str().unwrap()]));
    assert_eq!(std::fs::read(dest.join("model.bin")).unwrap(), data);
    let dest = m.d().join("wrong");
    let mut c = m.command();
    c.env_remove("MODELSEAL_PUBLIC_KEY")
        .env("VERIFICATION_DIGEST", "0".repeat(64));
    let err = refused(&m.run(c, &[&m.uri("p/model.bin"), dest.to_str().unwrap()]));
    assert!(
        err.contains(&format!(
            "the pinned digest sha256:{} is not the sha256 of s3://{}/p/model.bin (sha256:{pin})",
            "0".repeat(64),
            m.bucket
        )),
        "{err}"
    );
    assert!(tree(&dest).is_empty());
}

/// A validly signed older model copied over the current prefix verifies, so only a pin stops
/// it: on a directory VERIFICATION_DIGEST is the signed root digest.
#[test]
fn verification_digest_pins_a_directory_and_refuses_a_signed_rollback() {
    let Some(m) = moto() else { return };
    let old = model();
    let mut new = model();
    new.insert("config.json", b"{\"hidden_size\": 128}\n".to_vec());
    let pin = |files: &Files| {
        let items: Vec<_> = files
            .iter()
            .map(|(n, d)| {
                (
                    ResourcePath::parse(n).unwrap(),
                    HashAlgorithm::Sha256.digest(d),
                )
            })
            .collect();
        format!("sha256:{}", oms::pinned_digest_of(&items).to_hex())
    };
    let (pin_new, pin_old) = (pin(&new), pin(&old));
    assert_ne!(pin_new, pin_old);
    m.publish("cur", &new, &key(SIGNER));
    let dest = m.d().join("current");
    let mut c = m.command();
    c.env("VERIFICATION_DIGEST", &pin_new);
    ok(&m.run(c, &[&m.uri("cur"), dest.to_str().unwrap()]));
    assert_eq!(tree(&dest), expected(&new));

    // Someone with write access copies the older signed release over the prefix.
    m.publish("cur", &old, &key(SIGNER));
    let unpinned = m.d().join("unpinned");
    ok(&m.init(&[&m.uri("cur"), unpinned.to_str().unwrap()]));
    let dest = m.d().join("rolled-back");
    let mut c = m.command();
    c.env("VERIFICATION_DIGEST", &pin_new);
    let err = refused(&m.run(c, &[&m.uri("cur"), dest.to_str().unwrap()]));
    assert!(
        err.contains(&format!(
            "the pinned digest {pin_new} is not the signed root digest of s3://{}/cur",
            m.bucket
        )) && err.contains(&pin_old),
        "{err}"
    );
    assert!(tree(&dest).is_empty());
}

#[test]
fn allow_patterns_select_signed_files_but_never_excuse_unsigned_ones() {
    let Some(m) = moto() else { return };
    let files = model();
    m.publish("sel", &files, &key(SIGNER));
    let dest = m.d().join("sel");
    let mut c = m.command();
    c.env("STORAGE_ALLOW_PATTERNS", r#"["*.bin", "*.json"]"#)
        .env("STORAGE_IGNORE_PATTERNS", "empty*");
    let out = m.run(c, &[&m.uri("sel"), dest.to_str().unwrap()]);
    ok(&out);
    let placed: Vec<String> = tree(&dest).into_keys().collect();
    assert_eq!(placed, ["config.json", "weights.bin"]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("selected 2 of 4 signed files"));
    m.put("sel/evil.bin", b"unsigned");
    let dest = m.d().join("sel2");
    let mut c = m.command();
    c.env("STORAGE_ALLOW_PATTERNS", "*.json");
    let err = refused(&m.run(c, &[&m.uri("sel"), dest.to_str().unwrap()]));
    assert!(
        err.contains("evil.bin: not in the signed manifest"),
        "{err}"
    );
}

/// A trust policy from MODELSEAL_POLICY_JSON (a ConfigMap value) or MODELSEAL_POLICY (a file):
/// two teams' prefixes, each signed by its own key; a revoked model; no rule; a bad policy
/// (exit 1, the field path in the termination log, nothing placed); and a policy beside a
/// single trust variable, refused.
#[test]
fn a_trust_policy_governs_each_prefix() {
    let Some(m) = moto() else { return };
    let files = model();
    let (a, b) = (key(SIGNER), key(OTHER));
    m.publish("team-a/llm", &files, &a);
    let mut other = files.clone();
    other.insert("config.json", b"{\"team\": \"b\"}".to_vec());
    m.publish("team-b/llm", &other, &b);
    let policy = |revoked: &[String]| {
        serde_json::json!({
            "apiVersion": "modelseal.dev/v1", "kind": "TrustPolicy",
            "rules": [
                {"name": "team-a", "models": [m.uri("team-a/**")],
                 "authorities": [{"name": "key-a", "key": {"pem": a.public_key().to_pem()}}]},
                {"name": "team-b", "models": [m.uri("team-b/**")],
                 "authorities": [{"name": "key-b", "key": {"pem": b.public_key().to_pem()}}]}
            ],
            "revoked": {"digests": revoked},
        })
        .to_string()
    };
    let with_policy = |json: &str| {
        let mut c = m.command();
        c.env_remove("MODELSEAL_PUBLIC_KEY")
            .env("MODELSEAL_POLICY_JSON", json);
        c
    };
    for (prefix, authority) in [("team-a/llm", "key-a"), ("team-b/llm", "key-b")] {
        let dest = m.d().join(prefix.replace('/', "-"));
        let out = m.run(
            with_policy(&policy(&[])),
            &[&m.uri(prefix), dest.to_str().unwrap()],
        );
        ok(&out);
        let log = String::from_utf8_lossy(&out.stderr);
        let team = prefix.split('/').next().unwrap();
        assert!(
            log.contains(&format!("by authority '{authority}' of rule '{team}'")),
            "{log}"
        );
    }
    // The same from a file.
    std::fs::write(m.d().join("policy.json"), policy(&[])).unwrap();
    let mut c = m.command();
    c.env_remove("MODELSEAL_PUBLIC_KEY")
        .env("MODELSEAL_POLICY", m.d().join("policy.json"));
    ok(&m.run(
        c,
        &[
            &m.uri("team-a/llm"),
            m.d().join("from-file").to_str().unwrap(),
        ],
    ));
    // Revoked, no rule, a bad policy, a policy beside another trust: refused, nothing placed.
    let items: Vec<(ResourcePath, modelseal_kernel::Digest)> = files
        .iter()
        .map(|(n, d)| {
            (
                ResourcePath::parse(n).unwrap(),
                HashAlgorithm::Sha256.digest(d),
            )
        })
        .collect();
    let revoked = format!("sha256:{}", oms::pinned_digest_of(&items).to_hex());
    m.publish("elsewhere/llm", &files, &a);
    let bad = policy(&[]).replacen("\"pem\":", "\"pam\":", 1);
    assert_ne!(bad, policy(&[]));
    let cases: [(std::process::Command, &str, &str); 4] = [
        (
            with_policy(&policy(std::slice::from_ref(&revoked))),
            "team-a/llm",
            "is revoked by the trust policy",
        ),
        (
            with_policy(&policy(&[])),
            "elsewhere/llm",
            "no rule of the policy covers",
        ),
        (
            with_policy(&bad),
            "team-a/llm",
            "MODELSEAL_POLICY_JSON: rules[0].authorities[0].key.pam: unknown field `pam`",
        ),
        (
            {
                let mut c = m.command();
                c.env("MODELSEAL_POLICY_JSON", policy(&[]));
                c
            },
            "team-a/llm",
            "MODELSEAL_POLICY_JSON is the whole trust; unset MODELSEAL_PUBLIC_KEY",
        ),
    ];
    for (i, (c, prefix, why)) in cases.into_iter().enumerate() {
        let dest = m.d().join(format!("refused-{i}"));
        let err = refused(&m.run(c, &[&m.uri(prefix), dest.to_str().unwrap()]));
        assert!(err.contains(why), "{err}");
        assert!(m.reason().contains(why), "{}", m.reason());
        assert!(tree(&dest).is_empty(), "{:?}", tree(&dest).keys());
    }
}

/// MODELSEAL_IGNORE_UNSIGNED_FILES=true: objects under the prefix the signature does not cover
/// (training leftovers) are skipped and logged, never placed; without it they refuse the model;
/// a value that is neither true nor false is refused before anything moves.
#[test]
fn unsigned_objects_are_skipped_only_when_asked() {
    let Some(m) = moto() else { return };
    let files = model();
    m.publish("left", &files, &key(SIGNER));
    m.put("left/optimizer.pt", b"training leftover");
    let uri = m.uri("left");
    let dest = m.d().join("strict");
    let err = refused(&m.init(&[&uri, dest.to_str().unwrap()]));
    assert!(
        err.contains("optimizer.pt: not in the signed manifest"),
        "{err}"
    );
    let dest = m.d().join("tolerant");
    let mut c = m.command();
    c.env("MODELSEAL_IGNORE_UNSIGNED_FILES", "true");
    let out = m.run(c, &[&uri, dest.to_str().unwrap()]);
    ok(&out);
    assert_eq!(
        tree(&dest),
        expected(&files),
        "only the signed files are placed"
    );
    let log = String::from_utf8_lossy(&out.stderr);
    assert!(
        log.contains("skipped 1 object under")
            && log.contains("(MODELSEAL_IGNORE_UNSIGNED_FILES): optimizer.pt"),
        "{log}"
    );
    // A signed object changed is refused all the same.
    let mut w = files["weights.bin"].clone();
    w[7] ^= 1;
    m.put("left/weights.bin", &w);
    let mut c = m.command();
    c.env("MODELSEAL_IGNORE_UNSIGNED_FILES", "true");
    let dest = m.d().join("changed");
    let err = refused(&m.run(c, &[&uri, dest.to_str().unwrap()]));
    assert!(err.contains("weights.bin: content changed"), "{err}");
    let mut c = m.command();
    c.env("MODELSEAL_IGNORE_UNSIGNED_FILES", "sometimes");
    let err = refused(&m.run(c, &[&uri, dest.to_str().unwrap()]));
    assert!(
        err.contains("MODELSEAL_IGNORE_UNSIGNED_FILES 'sometimes' is neither true nor false"),
        "{err}"
    );
    assert!(tree(&dest).is_empty());
}

#[test]
fn a_single_archive_is_unpacked_after_verification() {
    let Some(m) = moto() else { return };
    let mut files = Files::new();
    files.insert(
        "model.tar.gz",
        tar_gz(&[
            ("model/weights.bin", &b"abc"[..]),
            ("model/config.json", b"{}"),
        ]),
    );
    m.publish("arch", &files, &key(SIGNER));
    let dest = m.d().join("unpacked");
    ok(&m.init(&[&m.uri("arch"), dest.to_str().unwrap()]));
    let placed: Vec<String> = tree(&dest).into_keys().collect();
    assert_eq!(placed, ["model/", "model/config.json", "model/weights.bin"]);
}

#[test]
fn killed_mid_download_then_rerun_places_the_verified_model() {
    let Some(m) = moto() else { return };
    let mut files = model();
    files.insert(
        "big.bin",
        (0..48u32 << 20)
            .map(|i| (i.wrapping_mul(2_654_435_761) >> 11) as u8)
            .collect(),
    );
    m.publish("big", &files, &key(SIGNER));
    let dest = m.d().join("models");
    let mut child = m
        .command()
        .args([m.uri("big").as_str(), dest.to_str().unwrap()])
        .spawn()
        .unwrap();
    let staged = dest.join(".modelseal-staging/big.bin");
    let started = std::time::Instant::now();
    loop {
        // Nothing but the hidden staging directory may appear in DEST before verification.
        let visible: Vec<String> = tree(&dest)
            .into_keys()
            .filter(|k| !k.starts_with(".modelseal-staging"))
            .collect();
        assert!(
            visible.is_empty(),
            "unverified files visible in DEST: {visible:?}"
        );
        if std::fs::metadata(&staged)
            .map(|md| md.len() > 0)
            .unwrap_or(false)
        {
            break;
        }
        assert!(
            child.try_wait().unwrap().is_none(),
            "finished before it could be killed"
        );
        assert!(started.elapsed().as_secs() < 60, "download never started");
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    let left: Vec<String> = tree(&dest).into_keys().collect();
    assert!(
        left.iter().all(|k| k.starts_with(".modelseal-staging")),
        "{left:?}"
    );
    ok(&m.init(&[&m.uri("big"), dest.to_str().unwrap()]));
    assert_eq!(tree(&dest), expected(&files));
}

/// The static binary in an empty chroot: only itself, /etc/hosts and the key. Needs root and
/// MODELSEAL_INIT_STATIC (scripts/test.sh builds it with scripts/build-init.sh).
#[test]
fn static_binary_runs_in_an_empty_chroot() {
    let Some(m) = moto() else { return };
    let Some(binary) = std::env::var_os("MODELSEAL_INIT_STATIC") else {
        if std::env::var("MODELSEAL_SKIP_STATIC").as_deref() == Ok("1") {
            return;
        }
        panic!("MODELSEAL_INIT_STATIC is not set: run scripts/test.sh, or set MODELSEAL_SKIP_STATIC=1 to skip");
    };
    let files = model();
    m.publish("chroot", &files, &key(SIGNER));
    let root = m.d().join("root");
    std::fs::create_dir_all(root.join("etc")).unwrap();
    std::fs::create_dir_all(root.join("keys")).unwrap();
    std::fs::create_dir_all(root.join("mnt/models")).unwrap();
    std::fs::copy(&binary, root.join("modelseal-init")).unwrap();
    std::fs::write(root.join("etc/hosts"), "127.0.0.1 localhost\n").unwrap();
    std::fs::copy(m.d().join("model.pub"), root.join("keys/model.pub")).unwrap();
    let names: Vec<String> = tree(&root).into_keys().collect();
    assert_eq!(
        names,
        [
            "etc/",
            "etc/hosts",
            "keys/",
            "keys/model.pub",
            "mnt/",
            "mnt/models/",
            "modelseal-init"
        ]
    );
    // localhost, not 127.0.0.1: name resolution must work from /etc/hosts alone.
    let endpoint = m.url.replace("127.0.0.1", "localhost");
    let chroot = ["/usr/sbin/chroot", "/usr/bin/chroot", "/sbin/chroot"]
        .into_iter()
        .find(|p| Path::new(p).exists())
        .expect("chroot(8) is required (coreutils)");
    let out = Command::new(chroot)
        .arg(&root)
        .arg("/modelseal-init")
        .arg(m.uri("chroot"))
        .arg("/mnt/models")
        .env_clear()
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .env("AWS_DEFAULT_REGION", "us-east-1")
        .env("AWS_ENDPOINT_URL", endpoint)
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("MODELSEAL_PUBLIC_KEY", "/keys/model.pub")
        .output()
        .expect("chroot(8) is required");
    ok(&out);
    assert_eq!(tree(&root.join("mnt/models")), expected(&files));
}

// ---- Hostile DEST and hostile evidence (issue 9's findings; each failed on the code before) ----

#[test]
fn dest_holding_a_symlink_and_unsigned_files_ends_with_exactly_the_signed_files() {
    let Some(m) = moto() else { return };
    let files = model();
    m.publish("m", &files, &key(SIGNER));
    let dest = m.d().join("models");
    let elsewhere = m.d().join("elsewhere");
    std::fs::create_dir_all(&dest).unwrap();
    std::fs::create_dir_all(&elsewhere).unwrap();
    // A link where the signed tokenizer/ goes, an unsigned file, and a crashed run's staging.
    std::os::unix::fs::symlink(&elsewhere, dest.join("tokenizer")).unwrap();
    std::fs::write(dest.join("evil.py"), b"import os\n").unwrap();
    std::fs::create_dir_all(dest.join(".modelseal-staging/tokenizer")).unwrap();
    std::fs::write(dest.join(".modelseal-staging/partial.bin"), b"half").unwrap();
    let out = m.init(&[&m.uri("m"), dest.to_str().unwrap()]);
    ok(&out);
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("evil.py, tokenizer"),
        "what was removed is logged: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        std::fs::read_dir(&elsewhere).unwrap().count(),
        0,
        "nothing may be written through a symlink in DEST"
    );
    assert_eq!(tree(&dest), expected(&files), "exactly the signed files");
}

#[test]
fn an_oversized_signature_object_is_refused_as_untrusted() {
    let Some(m) = moto() else { return };
    let files = model();
    m.publish("m", &files, &key(SIGNER));
    m.put("m/model.sig", &vec![b' '; 17 << 20]);
    let dest = m.d().join("models");
    let err = refused(&m.init(&[&m.uri("m"), dest.to_str().unwrap()]));
    assert!(
        err.contains("model.sig is 17825792 bytes; the limit is 16777216"),
        "{err}"
    );
    assert!(tree(&dest).is_empty());
}

#[test]
fn objects_below_the_signature_key_are_extra_objects() {
    let Some(m) = moto() else { return };
    let files = model();
    m.publish("m", &files, &key(SIGNER));
    // S3 lets both keys exist; the signed ignore path `model.sig` must not excuse this one.
    m.put("m/model.sig/payload.py", b"import os\n");
    let dest = m.d().join("models");
    let err = refused(&m.init(&[&m.uri("m"), dest.to_str().unwrap()]));
    assert!(
        err.contains("model.sig/payload.py: not in the signed manifest"),
        "{err}"
    );
    assert!(tree(&dest).is_empty());
}

#[test]
fn reserved_names_are_refused_in_listings_and_archives() {
    let Some(m) = moto() else { return };
    let mut files = model();
    files.insert(".modelseal-staging/x", b"x".to_vec());
    m.publish("m", &files, &key(SIGNER));
    let dest = m.d().join("models");
    let err = refused(&m.init(&[&m.uri("m"), dest.to_str().unwrap()]));
    assert!(err.contains("'.modelseal-staging/x'"), "{err}");
    assert!(tree(&dest).is_empty());

    let mut files = Files::new();
    files.insert(
        "model.tar.gz",
        tar_gz(&[
            (".modelseal-staging/x", &b"abc"[..]),
            ("config.json", b"{}"),
        ]),
    );
    m.publish("arch", &files, &key(SIGNER));
    let dest = m.d().join("unpacked");
    let err = refused(&m.init(&[&m.uri("arch"), dest.to_str().unwrap()]));
    assert!(
        err.contains("archive entry '.modelseal-staging/x' uses '.modelseal-staging'"),
        "{err}"
    );
    assert!(tree(&dest).is_empty(), "{:?}", tree(&dest));
}

#[test]
fn s3_use_accelerate_beside_an_endpoint_is_refused_before_any_request() {
    let Some(m) = moto() else { return };
    m.publish("acc", &model(), &key(SIGNER));
    let dest = m.d().join("models");
    let mut c = m.command();
    c.env("S3_USE_ACCELERATE", "true");
    let started = std::time::Instant::now();
    let err = refused(&m.run(c, &[&m.uri("acc"), dest.to_str().unwrap()]));
    assert!(
        err.contains("S3_USE_ACCELERATE=true cannot be combined with an S3 endpoint"),
        "{err}"
    );
    assert!(started.elapsed() < std::time::Duration::from_secs(5));
    assert!(!dest.exists());
}

/// `--version` prints the version and succeeds (it used to print the usage and exit 1).
#[test]
fn version_prints_the_version() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_modelseal-init"))
        .arg("--version")
        .output()
        .unwrap();
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    assert_eq!(
        text.trim(),
        concat!("modelseal-init ", env!("CARGO_PKG_VERSION"))
    );
}

/// `--help` names every variable the code reads (found by scanning the sources for lookups).
#[test]
fn help_lists_every_environment_variable() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_modelseal-init"))
        .arg("--help")
        .output()
        .unwrap();
    assert!(out.status.success());
    let help = String::from_utf8(out.stdout).unwrap();
    let src = concat!(env!("CARGO_MANIFEST_DIR"), "/src");
    let mut names = std::collections::BTreeSet::new();
    for file in ["config.rs", "main.rs"] {
        let text = std::fs::read_to_string(format!("{src}/{file}")).unwrap();
        for lookup in [
            "env.get(\"",
            "non_empty(&env, \"",
            "switch(&env, \"",
            "seconds(\"",
            "num(\"",
        ] {
            for piece in text.split(lookup).skip(1) {
                names.insert(piece.split('"').next().unwrap().to_string());
            }
        }
    }
    names.insert("STORAGE_CONFIG".into());
    names.insert("STORAGE_OVERRIDE_CONFIG".into());
    // Set by STORAGE_CONFIG handling itself, not by users.
    names.remove("MODELSEAL_INIT_STATIC_KEYS");
    assert!(names.len() > 25, "the scan found too little: {names:?}");
    let missing: Vec<_> = names
        .iter()
        .filter(|n| !help.contains(n.as_str()))
        .collect();
    assert!(missing.is_empty(), "--help does not mention {missing:?}");
}

#[test]
fn the_log_gets_a_progress_line_per_interval() {
    let Some(m) = moto() else { return };
    let mut files = Files::new();
    files.insert(
        "weights.bin",
        (0..48u32 << 20).map(|i| (i % 251) as u8).collect(),
    );
    m.publish("big", &files, &key(SIGNER));
    let dest = m.d().join("models");
    let mut c = m.command();
    c.env("MODELSEAL_PROGRESS_SECONDS", "0.001");
    let out = m.run(c, &[&m.uri("big"), dest.to_str().unwrap()]);
    ok(&out);
    let stderr = String::from_utf8_lossy(&out.stderr);
    let prefix = format!("modelseal-init: {}/: ", m.uri("big"));
    let lines: Vec<&str> = stderr.lines().filter(|l| l.starts_with(&prefix)).collect();
    assert!(!lines.is_empty(), "no progress line in {stderr}");
    // The listing's total: the weights and the signature.
    assert!(
        lines
            .iter()
            .all(|l| l.contains(" MiB (") && l.contains("/s")),
        "{lines:?}"
    );
    // At the default interval, a download this short logs no progress line.
    let again = m.d().join("models2");
    let out = m.init(&[&m.uri("big"), again.to_str().unwrap()]);
    ok(&out);
    assert!(!String::from_utf8_lossy(&out.stderr).contains(&prefix));
    // An interval that is not seconds is refused before anything is fetched.
    let refused_dest = m.d().join("models3");
    let mut c = m.command();
    c.env("MODELSEAL_PROGRESS_SECONDS", "-5");
    let err = refused(&m.run(c, &[&m.uri("big"), refused_dest.to_str().unwrap()]));
    assert!(err.contains("MODELSEAL_PROGRESS_SECONDS '-5'"), "{err}");
    assert!(!refused_dest.exists() || tree(&refused_dest).is_empty());
}

/// A `.tar.gz` holding `entries` (name, bytes) as regular files, mode 0644.
fn tar_gz(entries: &[(&str, &[u8])]) -> Vec<u8> {
    let mut tar = tar::Builder::new(Vec::new());
    for (name, data) in entries {
        let mut h = tar::Header::new_gnu();
        h.set_path(name).unwrap();
        h.set_size(data.len() as u64);
        h.set_mode(0o644);
        h.set_cksum();
        tar.append(&h, *data).unwrap();
    }
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    std::io::Write::write_all(&mut gz, &tar.into_inner().unwrap()).unwrap();
    gz.finish().unwrap()
}
