//! The OMS vectors other implementations made (model_signing 1.1.1's CLI cases and its API's
//! variants: files and shards, SHA-256, BLAKE2b, BLAKE3, ignore paths, single files) verified
//! through the kernel's API alone: the policy verifies the bundle, the signed manifest plans
//! what to hash from the files this test lists, the test hashes them as a shell would, and the
//! manifest checks the digests. The CLI pass over the same vectors is `tests/cli/vectors.rs`.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use modelseal_kernel::bundle::Bundle;
use modelseal_kernel::manifest::{ItemKey, LocalFile, LocalModel, PlanOptions, ResourcePath};
use modelseal_kernel::trust::{Policy, Signer};
use modelseal_kernel::trusted_root::{self, TrustedRoot};
use modelseal_kernel::{Digest, PublicKey};

fn testdata(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../testdata")
        .join(rel)
}

fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// Every regular file below `dir`, relative; a symlink anywhere is refused, as the shells do.
fn walk(dir: &Path, base: &Path, out: &mut Vec<LocalFile>) -> Result<(), String> {
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    entries.sort();
    for p in entries {
        let meta = std::fs::symlink_metadata(&p).unwrap();
        if meta.file_type().is_symlink() {
            return Err(format!("{} is a symlink", p.display()));
        }
        if meta.is_dir() {
            walk(&p, base, out)?;
        } else {
            let rel = p.strip_prefix(base).unwrap().to_string_lossy().into_owned();
            let path = ResourcePath::parse(&rel).map_err(|e| format!("{rel}: {e}"))?;
            out.push(LocalFile {
                path,
                size: meta.len(),
            });
        }
    }
    Ok(())
}

/// The model's verdict through the kernel: `Ok` when it matches a signature by `key`.
fn verify(model: &Path, signature: &Path, key: &Path) -> Result<(), String> {
    let key = PublicKey::from_pem(&std::fs::read(key).unwrap()).map_err(|e| e.to_string())?;
    let root = Arc::new(TrustedRoot::from_json(trusted_root::PRODUCTION).unwrap());
    let policy = Policy::one("key", Signer::Key { key, root }, now());
    let bundle =
        Bundle::from_json(&std::fs::read(signature).unwrap()).map_err(|e| e.to_string())?;
    let manifest = policy
        .verify_model(&bundle, "model")
        .map_err(|e| e.to_string())?
        .manifest;
    let mut options = PlanOptions::default();
    let local = if model.is_file() {
        LocalModel::File {
            name: model.file_name().unwrap().to_string_lossy().into_owned(),
            size: std::fs::metadata(model).unwrap().len(),
        }
    } else {
        if let Ok(rel) = signature.strip_prefix(model) {
            options
                .evidence
                .push(ResourcePath::parse(&rel.to_string_lossy()).unwrap());
        }
        let mut files = Vec::new();
        walk(model, model, &mut files)?;
        LocalModel::Directory { files }
    };
    let plan = manifest.plan(&local, &options);
    let mut results: Vec<(ItemKey, Digest)> = Vec::new();
    for job in &plan.jobs {
        let file = if model.is_file() {
            model.to_path_buf()
        } else {
            model.join(job.path.as_str())
        };
        let bytes = std::fs::read(file).unwrap();
        for key in &job.keys {
            let part = match key {
                ItemKey::File(_) => &bytes[..],
                ItemKey::Shard { start, end, .. } => &bytes[*start as usize..*end as usize],
            };
            results.push((key.clone(), job.algorithm.digest(part)));
        }
    }
    manifest
        .check(&plan, &results)
        .map(|_| ())
        .map_err(|m| m.lines().join("; "))
}

/// `testdata/model-signing/*`: model_signing 1.1.1's CLI cases and their EXPECT verdicts.
#[test]
fn model_signing_cases_through_the_kernel() {
    let mut cases: Vec<_> = std::fs::read_dir(testdata("model-signing"))
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
        let verdict = verify(&model, &signature, &case.join("keys/signer.pub.pem"));
        assert_eq!(
            verdict.is_ok(),
            expect.starts_with("pass"),
            "{}: expected {expect}, got {verdict:?}",
            case.display()
        );
    }
}

/// `testdata/model-signing-variants`: the API's serializations and hash algorithms.
#[test]
fn model_signing_variants_through_the_kernel() {
    let dir = testdata("model-signing-variants");
    let key = testdata("model-signing-worked-example/keys/ec-p256-public.pem");
    let expect = std::fs::read_to_string(dir.join("EXPECT")).unwrap();
    let mut n = 0;
    for line in expect
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
    {
        let f: Vec<&str> = line.split_whitespace().collect();
        let verdict = verify(&dir.join(f[1]), &dir.join(f[0]), &key);
        assert_eq!(verdict.is_ok(), f[2] == "pass", "{line}: {verdict:?}");
        n += 1;
    }
    assert_eq!(n, 7);
}
