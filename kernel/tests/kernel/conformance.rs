//! sigstore-conformance `bundle-verify` (70 cases) against the kernel's API alone, so a kernel
//! change is checked without building the CLI or the AWS SDK. The protocol is the one the CLI
//! pass (`tests/cli/conformance.rs`) drives through `verify-blob`: the case's `key.pub`, else
//! its (or the default) identity and issuer; its `trusted_root.json`, else the carried
//! production root; the artifact given whole (every digest the policy asks for) and as its
//! SHA-256 alone. A `_fail` case must be refused; every other case must verify.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use modelseal_kernel::blob::BlobBundle;
use modelseal_kernel::fulcio::Matcher;
use modelseal_kernel::trust::{BlobEvidence, Policy, Signer};
use modelseal_kernel::trusted_root::{self, TrustedRoot};
use modelseal_kernel::{Digest, HashAlgorithm, PublicKey};

const IDENTITY: &str = "https://github.com/sigstore-conformance/extremely-dangerous-public-oidc-beacon/.github/workflows/extremely-dangerous-oidc-beacon.yml@refs/heads/main";
const ISSUER: &str = "https://token.actions.githubusercontent.com";

fn cases() -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../testdata/sigstore-conformance/bundle-verify");
    let mut cases: Vec<_> = std::fs::read_dir(&root)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.join("bundle.sigstore.json").exists())
        .collect();
    cases.sort();
    cases
}

fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// The case's verdict through the kernel: `Ok` when the bundle verifies, else why not (a
/// step that could not run, such as an unreadable key or root, is a refusal too).
fn verify(case: &Path, whole: bool) -> Result<(), String> {
    let read = |name: &str| std::fs::read(case.join(name)).ok();
    let text = |name: &str, default: &str| {
        read(name).map_or(default.to_string(), |b| {
            String::from_utf8_lossy(&b).trim().to_string()
        })
    };
    let root = match read("trusted_root.json") {
        Some(bytes) => TrustedRoot::from_json(&bytes).map_err(|e| format!("root: {e}"))?,
        None => TrustedRoot::from_json(trusted_root::PRODUCTION).unwrap(),
    };
    let root = Arc::new(root);
    let signer = match read("key.pub") {
        Some(pem) => Signer::Key {
            key: PublicKey::from_pem(&pem).map_err(|e| format!("key: {e}"))?,
            root,
        },
        None => Signer::Keyless {
            identity: Matcher::Exact(text("identity", IDENTITY)),
            issuer: Matcher::Exact(text("issuer", ISSUER)),
            root,
        },
    };
    let policy = Policy::one("case", signer, now());
    let bundle = BlobBundle::from_json(&read("bundle.sigstore.json").unwrap())
        .map_err(|e| format!("bundle: {e}"))?;
    let artifact = read("artifact")
        .unwrap_or_else(|| std::fs::read(case.parent().unwrap().join("a.txt")).unwrap());
    let digests: Vec<Digest> = if whole {
        policy
            .blob_digests(Some(&bundle), "**")
            .into_iter()
            .map(|alg| alg.digest(&artifact))
            .collect()
    } else {
        vec![HashAlgorithm::Sha256.digest(&artifact)]
    };
    policy
        .verify_blob(&BlobEvidence::Bundle(&bundle), "**", &digests)
        .map(|_| ())
        .map_err(|e| e.to_string())
}

#[test]
fn every_bundle_verify_case_through_the_kernel() {
    let cases = cases();
    assert_eq!(cases.len(), 70, "cases missing");
    let mut wrong = Vec::new();
    for case in &cases {
        let name = case.file_name().unwrap().to_string_lossy().into_owned();
        for whole in [true, false] {
            let verdict = verify(case, whole);
            if verdict.is_ok() == name.ends_with("_fail") {
                wrong.push(format!(
                    "{name} ({}): {verdict:?}",
                    if whole { "file" } else { "sha256" }
                ));
            }
        }
    }
    assert!(
        wrong.is_empty(),
        "{} of 140 verdicts wrong:\n{}",
        wrong.len(),
        wrong.join("\n")
    );
}
