//! Helpers shared by the integration tests: run the binary, find test data, make models.

pub mod aws;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

pub fn testdata(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("testdata")
        .join(rel)
}

pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl From<Output> for Run {
    fn from(o: Output) -> Self {
        Run {
            code: o.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&o.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&o.stderr).into_owned(),
        }
    }
}

pub fn modelseal() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_modelseal"));
    c.env_remove("COSIGN_PASSWORD");
    // The trusted root `trust update` may have cached for whoever runs the tests is not used.
    c.env("XDG_CACHE_HOME", "/nonexistent/modelseal-test-cache");
    c
}

/// Runs modelseal with `args` in `dir`.
pub fn run_in(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Run {
    let mut c = modelseal();
    c.current_dir(dir).args(args);
    for (k, v) in env {
        c.env(k, v);
    }
    c.output().expect("run modelseal").into()
}

pub fn run(args: &[&str]) -> Run {
    run_in(Path::new(env!("CARGO_MANIFEST_DIR")), args, &[])
}

/// Writes `files` (relative path, contents) under `root`.
pub fn write_tree(root: &Path, files: &[(&str, &[u8])]) {
    for (rel, data) in files {
        let p = root.join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, data).unwrap();
    }
}

/// `openssl dgst -sha256 -verify PUB -signature <(base64 -d SIG) DATA` in `dir`: how a cosign
/// raw signature is checked without cosign. Returns openssl's stdout when it verified.
pub fn openssl_verify_blob(
    dir: &Path,
    public_key: &str,
    signature_b64: &str,
    data: &str,
) -> Result<String, String> {
    let der = format!("{signature_b64}.der");
    let decoded = Command::new("openssl")
        .current_dir(dir)
        .args(["base64", "-d", "-A", "-in", signature_b64, "-out", &der])
        .status()
        .expect("openssl is required");
    assert!(
        decoded.success(),
        "openssl could not decode {signature_b64}"
    );
    let out = Command::new("openssl")
        .current_dir(dir)
        .args([
            "dgst",
            "-sha256",
            "-verify",
            public_key,
            "-signature",
            &der,
            data,
        ])
        .output()
        .expect("openssl is required");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    if out.status.success() {
        Ok(stdout)
    } else {
        Err(stdout)
    }
}
