//! Helpers for modelseal-init's end-to-end tests: a bucket on a loopback S3 server (moto or
//! s3rver, started by scripts/test.sh), models signed with the kernel and uploaded with the AWS
//! SDK, the binary invoked as KServe invokes its storage initializer, and DEST read back.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use modelseal_kernel::manifest::ResourcePath;
use modelseal_kernel::PrivateKeyPem;
use modelseal_kernel::{oms, HashAlgorithm, PrivateKey, Signer};

pub fn testdata(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../testdata")
        .join(rel)
}

pub fn key(rel: &str) -> PrivateKey {
    match PrivateKeyPem::parse(&std::fs::read(testdata(rel)).unwrap()).unwrap() {
        PrivateKeyPem::Plain(k) => *k,
        PrivateKeyPem::Encrypted(_) => panic!("test keys are plain"),
    }
}

pub const SIGNER: &str = "model-signing/dir-basic/keys/signer.key.pem";
pub const OTHER: &str = "model-signing-worked-example/keys/ec-p256-private.pem";

/// A fresh bucket on a loopback S3 server, and a scratch directory holding the trusted key.
pub struct Store {
    pub url: String,
    id: &'static str,
    secret: &'static str,
    pub rt: tokio::runtime::Runtime,
    pub s3: aws_sdk_s3::Client,
    pub bucket: String,
    dir: tempfile::TempDir,
}

/// The moto fixture most tests use (moto checks SSE-KMS and If-Match; it is slow for big objects).
pub type Moto = Store;

/// Explicit credentials and endpoint for the clients the tests use themselves.
pub fn sdk_with(url: &str, id: &str, secret: &str) -> aws_config::SdkConfig {
    aws_config::SdkConfig::builder()
        .behavior_version(aws_config::BehaviorVersion::latest())
        .region(aws_config::Region::new("us-east-1"))
        .credentials_provider(aws_sdk_s3::config::SharedCredentialsProvider::new(
            aws_sdk_s3::config::Credentials::new(id, secret, None, None, "test"),
        ))
        .endpoint_url(url)
        .build()
}

/// moto's: any credentials do.
pub fn sdk(url: &str) -> aws_config::SdkConfig {
    sdk_with(url, "testing", "testing")
}

/// A bucket on moto.
pub fn moto() -> Option<Store> {
    store(
        modelseal_testkit::store::server("MODELSEAL_TEST_MOTO")?,
        "testing",
        "testing",
    )
}

/// A bucket on s3rver (fast ranged GETs; no SSE, no If-Match): the server for big objects.
pub fn s3rver() -> Option<Store> {
    store(
        modelseal_testkit::store::server("MODELSEAL_TEST_S3RVER")?,
        "S3RVER",
        "S3RVER",
    )
}

fn store(url: String, id: &'static str, secret: &'static str) -> Option<Store> {
    use modelseal_testkit::store;
    let rt = store::rt();
    let s3 = store::s3(&url, id, secret);
    let bucket = store::bucket(&s3, &rt, "init");
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("model.pub"),
        key(SIGNER).public_key().to_pem(),
    )
    .unwrap();
    Some(Store {
        url,
        id,
        secret,
        rt,
        s3,
        bucket,
        dir,
    })
}

pub type Files = BTreeMap<&'static str, Vec<u8>>;

pub fn model() -> Files {
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
pub fn bundle(files: &Files, signer: &dyn Signer) -> String {
    let items: Vec<(ResourcePath, _)> = files
        .iter()
        .map(|(n, d)| {
            (
                ResourcePath::parse(n).unwrap(),
                HashAlgorithm::Sha256.digest(d),
            )
        })
        .collect();
    let payload = oms::statement_payload("model", &items, &["model.sig".to_string()]).unwrap();
    oms::sign_statement(signer, &payload).unwrap()
}

impl Store {
    pub fn put(&self, key: &str, data: &[u8]) {
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

    pub fn delete(&self, key: &str) {
        self.rt
            .block_on(self.s3.delete_object().bucket(&self.bucket).key(key).send())
            .unwrap();
    }

    /// Uploads `files` under `prefix/` with a signature at `prefix/model.sig`.
    pub fn publish(&self, prefix: &str, files: &Files, signer: &dyn Signer) {
        for (name, data) in files {
            self.put(&format!("{prefix}/{name}"), data);
        }
        self.put(
            &format!("{prefix}/model.sig"),
            bundle(files, signer).as_bytes(),
        );
    }

    pub fn uri(&self, key: &str) -> String {
        format!("s3://{}/{key}", self.bucket)
    }

    pub fn d(&self) -> &Path {
        self.dir.path()
    }

    pub fn command(&self) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_modelseal-init"));
        c.env_clear()
            .env("PATH", "/usr/bin:/bin")
            .env("AWS_ACCESS_KEY_ID", self.id)
            .env("AWS_SECRET_ACCESS_KEY", self.secret)
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

    pub fn run(&self, mut c: Command, args: &[&str]) -> Output {
        c.args(args).output().unwrap()
    }

    pub fn init(&self, args: &[&str]) -> Output {
        self.run(self.command(), args)
    }

    pub fn reason(&self) -> String {
        std::fs::read_to_string(self.d().join("termination-log")).unwrap_or_default()
    }
}

/// Every file under `dir`, relative, with contents (hidden staging included, so it shows).
pub fn tree(dir: &Path) -> BTreeMap<String, Vec<u8>> {
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

pub fn expected(files: &Files) -> BTreeMap<String, Vec<u8>> {
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

pub fn ok(o: &Output) {
    assert!(
        o.status.success(),
        "exit {:?}\n{}",
        o.status.code(),
        String::from_utf8_lossy(&o.stderr)
    );
}

pub fn refused(o: &Output) -> String {
    assert_eq!(
        o.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8_lossy(&o.stderr).into_owned()
}

impl Store {
    /// The command, reaching S3 through `endpoint` (a fault proxy) instead of the server.
    pub fn command_via(&self, endpoint: &str) -> Command {
        let mut c = self.command();
        c.env("AWS_ENDPOINT_URL", endpoint);
        c
    }

    /// A test's own client for staging changes from a proxy hook (which runs on another thread).
    pub fn client(&self) -> (aws_sdk_s3::Client, String) {
        (self.s3.clone(), self.bucket.clone())
    }
}

/// Puts an object from any thread (a proxy hook), with a runtime of its own.
pub fn put_now(client: &aws_sdk_s3::Client, bucket: &str, key: &str, data: &[u8]) {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(
            client
                .put_object()
                .bucket(bucket)
                .key(key)
                .body(data.to_vec().into())
                .send(),
        )
        .unwrap();
}

/// Runs `c` to the end, sampling DEST all along (`modelseal_testkit::run_watching`): only
/// signed files, at their signed sizes, may ever be visible there.
pub fn run_watching(
    c: Command,
    args: &[&str],
    dest: &Path,
    signed: &Files,
    limit: std::time::Duration,
) -> Watched {
    let allowed: BTreeMap<String, u64> = expected(signed)
        .into_iter()
        .map(|(k, v)| (k, v.len() as u64))
        .collect();
    modelseal_testkit::run_watching(c, args, dest, &allowed, limit)
}

pub use modelseal_testkit::{noise, Watched};
