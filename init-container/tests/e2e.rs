//! modelseal-init end to end against moto on loopback (started by scripts/test.sh), invoked as
//! KServe invokes its storage initializer. Models are signed with the kernel and uploaded with
//! the AWS SDK, so these tests depend on nothing but the binary under test.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use modelseal_kernel::keys::PrivateKeyPem;
use modelseal_kernel::manifest::ResourcePath;
use modelseal_kernel::{oms, HashAlgorithm, PrivateKey, Signer};

fn testdata(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../testdata")
        .join(rel)
}

fn moto_url() -> Option<String> {
    if let Ok(url) = std::env::var("MODELSEAL_TEST_MOTO") {
        return Some(url);
    }
    if std::env::var("MODELSEAL_SKIP_S3").as_deref() == Ok("1") {
        return None;
    }
    panic!(
        "MODELSEAL_TEST_MOTO is not set: run scripts/test.sh, or set MODELSEAL_SKIP_S3=1 to skip"
    );
}

fn key(rel: &str) -> PrivateKey {
    match PrivateKey::from_pem(&std::fs::read(testdata(rel)).unwrap()).unwrap() {
        PrivateKeyPem::Plain(k) => *k,
        PrivateKeyPem::Encrypted(_) => panic!("test keys are plain"),
    }
}

const SIGNER: &str = "model-signing/dir-basic/keys/signer.key.pem";
const OTHER: &str = "model-signing-worked-example/keys/ec-p256-private.pem";

struct Moto {
    url: String,
    rt: tokio::runtime::Runtime,
    s3: aws_sdk_s3::Client,
    bucket: String,
    dir: tempfile::TempDir,
}

/// Explicit moto credentials and endpoint for the clients the tests use themselves.
fn sdk(url: &str) -> aws_config::SdkConfig {
    aws_config::SdkConfig::builder()
        .behavior_version(aws_config::BehaviorVersion::latest())
        .region(aws_config::Region::new("us-east-1"))
        .credentials_provider(aws_sdk_s3::config::SharedCredentialsProvider::new(
            aws_sdk_s3::config::Credentials::new("testing", "testing", None, None, "test"),
        ))
        .endpoint_url(url)
        .build()
}

static COUNTER: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

fn moto() -> Option<Moto> {
    let url = moto_url()?;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let s3 = aws_sdk_s3::Client::from_conf(
        aws_sdk_s3::config::Builder::from(&sdk(&url))
            .force_path_style(true)
            .build(),
    );
    let bucket = format!(
        "init-{}-{}",
        std::process::id(),
        COUNTER.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
    );
    rt.block_on(s3.create_bucket().bucket(&bucket).send())
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("model.pub"),
        key(SIGNER).public_key().to_pem(),
    )
    .unwrap();
    Some(Moto {
        url,
        rt,
        s3,
        bucket,
        dir,
    })
}

type Files = BTreeMap<&'static str, Vec<u8>>;

fn model() -> Files {
    let mut f = Files::new();
    f.insert("config.json", b"{\"hidden_size\": 64}\n".to_vec());
    f.insert(
        "weights.bin",
        (0..300_000u32).map(|i| (i % 253) as u8).collect(),
    );
    f.insert("tokenizer/vocab.txt", b"hello\nworld\n".to_vec());
    f.insert("empty.bin", Vec::new());
    f
}

/// The OMS bundle `signer` makes for `files` (as `modelseal sign` would, signature inside).
fn bundle(files: &Files, signer: &dyn Signer) -> String {
    let items: Vec<(ResourcePath, _)> = files
        .iter()
        .map(|(n, d)| {
            (
                ResourcePath::parse(n).unwrap(),
                HashAlgorithm::Sha256.digest(d),
            )
        })
        .collect();
    let payload = oms::statement_payload("model", &items, &["model.sig".to_string()]);
    oms::sign_statement(signer, &payload).unwrap()
}

impl Moto {
    fn put(&self, key: &str, data: &[u8]) {
        self.rt
            .block_on(
                self.s3
                    .put_object()
                    .bucket(&self.bucket)
                    .key(key)
                    .body(data.to_vec().into())
                    .send(),
            )
            .unwrap();
    }

    fn delete(&self, key: &str) {
        self.rt
            .block_on(self.s3.delete_object().bucket(&self.bucket).key(key).send())
            .unwrap();
    }

    /// Uploads `files` under `prefix/` with a signature at `prefix/model.sig`.
    fn publish(&self, prefix: &str, files: &Files, signer: &dyn Signer) {
        for (name, data) in files {
            self.put(&format!("{prefix}/{name}"), data);
        }
        self.put(
            &format!("{prefix}/model.sig"),
            bundle(files, signer).as_bytes(),
        );
    }

    fn uri(&self, key: &str) -> String {
        format!("s3://{}/{key}", self.bucket)
    }

    fn d(&self) -> &Path {
        self.dir.path()
    }

    fn command(&self) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_modelseal-init"));
        c.env_clear()
            .env("PATH", "/usr/bin:/bin")
            .env("AWS_ACCESS_KEY_ID", "testing")
            .env("AWS_SECRET_ACCESS_KEY", "testing")
            .env("AWS_DEFAULT_REGION", "us-east-1")
            .env("AWS_ENDPOINT_URL", &self.url)
            .env("AWS_EC2_METADATA_DISABLED", "true")
            .env("MODELSEAL_PUBLIC_KEY", self.d().join("model.pub"))
            .env(
                "MODELSEAL_TERMINATION_LOG",
                self.d().join("termination-log"),
            );
        c
    }

    fn run(&self, mut c: Command, args: &[&str]) -> Output {
        c.args(args).output().unwrap()
    }

    fn init(&self, args: &[&str]) -> Output {
        self.run(self.command(), args)
    }

    fn reason(&self) -> String {
        std::fs::read_to_string(self.d().join("termination-log")).unwrap_or_default()
    }
}

/// Every file under `dir`, relative, with contents (hidden staging included, so it shows).
fn tree(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    fn walk(root: &Path, d: &Path, out: &mut BTreeMap<String, Vec<u8>>) {
        for e in std::fs::read_dir(d).unwrap() {
            let p = e.unwrap().path();
            let rel = p.strip_prefix(root).unwrap().to_string_lossy().into_owned();
            let meta = std::fs::symlink_metadata(&p).unwrap();
            if meta.is_symlink() {
                out.insert(
                    format!("{rel}@"),
                    std::fs::read_link(&p)
                        .unwrap()
                        .into_os_string()
                        .into_encoded_bytes(),
                );
            } else if meta.is_dir() {
                out.insert(format!("{rel}/"), Vec::new());
                walk(root, &p, out);
            } else {
                out.insert(rel, std::fs::read(&p).unwrap());
            }
        }
    }
    let mut out = BTreeMap::new();
    if dir.exists() {
        walk(dir, dir, &mut out);
    }
    out
}

fn expected(files: &Files) -> BTreeMap<String, Vec<u8>> {
    let mut out = BTreeMap::new();
    for (n, d) in files {
        out.insert(n.to_string(), d.clone());
        let mut parent = Path::new(n).parent();
        while let Some(p) = parent.filter(|p| !p.as_os_str().is_empty()) {
            out.insert(format!("{}/", p.display()), Vec::new());
            parent = p.parent();
        }
    }
    out
}

fn ok(o: &Output) {
    assert!(
        o.status.success(),
        "exit {:?}\n{}",
        o.status.code(),
        String::from_utf8_lossy(&o.stderr)
    );
}

fn refused(o: &Output) -> String {
    assert_eq!(
        o.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8_lossy(&o.stderr).into_owned()
}

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
/// `DIGEST` wrongly: shared/reference/test-servers.md), so this signs whole messages.
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
        &oms::statement_payload("model.onnx", &items, &[]),
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
            "VERIFICATION_DIGEST pins sha256 {}, but the sha256 of s3://{}/p/model.bin is {pin}",
            "0".repeat(64),
            m.bucket
        )),
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

#[test]
fn a_single_archive_is_unpacked_after_verification() {
    let Some(m) = moto() else { return };
    let mut tar = tar::Builder::new(Vec::new());
    for (name, data) in [
        ("model/weights.bin", &b"abc"[..]),
        ("model/config.json", b"{}"),
    ] {
        let mut h = tar::Header::new_gnu();
        h.set_path(name).unwrap();
        h.set_size(data.len() as u64);
        h.set_mode(0o644);
        h.set_cksum();
        tar.append(&h, data).unwrap();
    }
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    std::io::Write::write_all(&mut gz, &tar.into_inner().unwrap()).unwrap();
    let mut files = Files::new();
    files.insert("model.tar.gz", gz.finish().unwrap());
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

    let mut tar = tar::Builder::new(Vec::new());
    for (name, data) in [
        (".modelseal-staging/x", &b"abc"[..]),
        ("config.json", b"{}"),
    ] {
        let mut h = tar::Header::new_gnu();
        h.set_path(name).unwrap();
        h.set_size(data.len() as u64);
        h.set_mode(0o644);
        h.set_cksum();
        tar.append(&h, data).unwrap();
    }
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    std::io::Write::write_all(&mut gz, &tar.into_inner().unwrap()).unwrap();
    let mut files = Files::new();
    files.insert("model.tar.gz", gz.finish().unwrap());
    m.publish("arch", &files, &key(SIGNER));
    let dest = m.d().join("unpacked");
    let err = refused(&m.init(&[&m.uri("arch"), dest.to_str().unwrap()]));
    assert!(
        err.contains("archive entry '.modelseal-staging/x' uses '.modelseal-staging'"),
        "{err}"
    );
    assert!(tree(&dest).is_empty(), "{:?}", tree(&dest));
}
