//! Every parser of untrusted input, fed mutated and truncated copies of real vectors: each must
//! answer with a value or a typed error, never a panic. The deterministic part of fuzzing, run by
//! CI; the coverage-guided part is `fuzz/` (`scripts/fuzz.sh`), and every input it found that
//! crashed is replayed here.

use crate::common::testdata;

use modelseal_kernel::blob::{decode_signature, BlobBundle};
use modelseal_kernel::bundle::{Bundle, Content};
use modelseal_kernel::cosign_key::EncryptedKey;
use modelseal_kernel::manifest::ResourcePath;
use modelseal_kernel::oms;
use modelseal_kernel::trust::{Policy, Signer, TlogPolicy};
use modelseal_kernel::trusted_root::{TrustedRoot, PRODUCTION};
use modelseal_kernel::{PrivateKey, PublicKey};
use std::sync::Arc;

fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// A one-key policy that ignores log evidence (so mutated bundles reach the signature check).
fn key_policy(key: PublicKey) -> Policy {
    let root = Arc::new(TrustedRoot::from_json(PRODUCTION).unwrap());
    Policy::one("key", Signer::Key { key, root }, now()).with_tlog(TlogPolicy::IgnoreUnverified)
}

/// xorshift64*: reproducible mutations without a dependency.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

/// Bit flips, byte replacements with JSON-significant characters, deletions, duplications and
/// truncations of `seed`.
fn mutants(seed: &[u8], count: usize, rng: &mut Rng) -> Vec<Vec<u8>> {
    const SPECIAL: &[u8] = b"{}[]\":,\\0-e.nul/ \n\x00\xff";
    (0..count)
        .map(|_| {
            let mut m = seed.to_vec();
            for _ in 0..1 + rng.below(4) {
                if m.is_empty() {
                    break;
                }
                let at = rng.below(m.len());
                match rng.below(5) {
                    0 => m[at] ^= 1 << rng.below(8),
                    1 => m[at] = SPECIAL[rng.below(SPECIAL.len())],
                    2 => {
                        m.remove(at);
                    }
                    3 => {
                        let end = (at + rng.below(64)).min(m.len());
                        let piece = m[at..end].to_vec();
                        m.splice(at..at, piece);
                    }
                    _ => m.truncate(at),
                }
            }
            m
        })
        .collect()
}

#[test]
fn bundles_statements_and_blob_bundles() {
    let mut rng = Rng(0x5eed_0001);
    let seeds = [
        testdata("model-signing/dir-basic/model.sig"),
        testdata("model-signing-variants/shards-sha256-4096.sig"),
        testdata("cosign-generated/model.bin.sigstore.json"),
        testdata("cosign-generated/model.bin.legacy-bundle.json"),
        testdata("sigstore-conformance/managed-key-happy-path/bundle.sigstore.json"),
    ];
    let key =
        PublicKey::from_pem(&testdata("model-signing/dir-basic/keys/signer.pub.pem")).unwrap();
    let trust = key_policy(key);
    let mut parsed = 0;
    for seed in &seeds {
        for m in mutants(seed, 1500, &mut rng) {
            let _ = BlobBundle::from_json(&m);
            if let Ok(b) = Bundle::from_json(&m) {
                parsed += 1;
                let _ = trust.verify_model(&b, "model");
                if let Content::Dsse(env) = &b.content {
                    let _ = oms::parse_statement(&env.payload);
                }
            }
        }
    }
    assert!(
        parsed > 100,
        "mutations too destructive to reach the later steps: {parsed}"
    );
}

/// Certificate files (PEM) and bundle chains (DER), mutated: parsed, and chains checked
/// against the test CA inside its validity, with an identity asked for. Certificate bundles also
/// go through the envelope check with that CA.
#[test]
fn certificates_and_certificate_bundles() {
    use modelseal_kernel::bundle::KeyMaterial;
    use modelseal_kernel::certificate::{self, CertificateTrust};
    let mut rng = Rng(0x5eed_0005);
    let at = 1_798_761_600; // 2027-01-01, inside the test CA's windows
    let root = testdata("model-signing-pki/ca/root.pem");
    let ca = CertificateTrust::from_pem(&root, Some("pipeline@models.example".into()), at).unwrap();
    let sig = testdata("model-signing-pki/public-chain-in-bundle/model.sig");
    let bundle = Bundle::from_json(&sig).unwrap();
    let KeyMaterial::Certificates(chain) = &bundle.key_material else {
        panic!("a certificate bundle")
    };
    assert!(ca.verify_chain(chain).is_ok(), "the seed chain must verify");
    let mut changed = 0;
    for m in mutants(&chain[0], 3000, &mut rng) {
        let _ = certificate::certified_key(&m);
        // Any change to a signed certificate's bytes must break it (strict DER, signature).
        let verdict = ca.verify_chain(&[m.clone(), chain[1].clone()]);
        if m != chain[0] {
            changed += 1;
            assert!(verdict.is_err(), "a changed leaf verified: {m:02x?}");
        }
        let _ = ca.verify_chain(&[chain[0].clone(), m]);
    }
    assert!(changed > 2900, "{changed}");
    for seed in [
        root.clone(),
        testdata("model-signing-pki/ca/intermediate.pem"),
    ] {
        for m in mutants(&seed, 2000, &mut rng) {
            let _ = CertificateTrust::from_pem(&m, None, at);
            let _ = certificate::certificates_from_pem(&m);
        }
    }
    let trust = Policy::one(
        "ca",
        Signer::Certificates {
            ca,
            root: Arc::new(TrustedRoot::from_json(PRODUCTION).unwrap()),
        },
        at,
    );
    for m in mutants(&sig, 1500, &mut rng) {
        if let Ok(b) = Bundle::from_json(&m) {
            let _ = trust.verify_model(&b, "model");
        }
    }
}

/// Sigstore evidence, mutated: trusted roots, checkpoints, RFC 3161 timestamps, Fulcio leaves,
/// and keyless bundles (log entries, timestamps, certificates) checked end to end against the
/// production root.
#[test]
fn sigstore_evidence() {
    use base64::Engine as _;
    use modelseal_kernel::fulcio::{Leaf, Matcher};
    use modelseal_kernel::tlog::Checkpoint;
    use modelseal_kernel::{time, timestamp};
    let mut rng = Rng(0x5eed_0006);
    let root = TrustedRoot::from_json(PRODUCTION).unwrap();
    for m in mutants(PRODUCTION, 2000, &mut rng) {
        let _ = TrustedRoot::from_json(&m);
    }
    let sig = testdata("model-signing-keyless/v1.1.0-sigstore/model.sig");
    let json: serde_json::Value = serde_json::from_slice(&sig).unwrap();
    let vm = &json["verificationMaterial"];
    let b64 = |v: &serde_json::Value| {
        base64::engine::general_purpose::STANDARD
            .decode(v.as_str().unwrap())
            .unwrap()
    };
    let tsa = b64(&vm["timestampVerificationData"]["rfc3161Timestamps"][0]["signedTimestamp"]);
    let leaf = b64(&vm["certificate"]["rawBytes"]);
    let checkpoint = vm["tlogEntries"][0]["inclusionProof"]["checkpoint"]["envelope"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(Checkpoint::parse(&checkpoint).is_ok());
    for m in mutants(checkpoint.as_bytes(), 2000, &mut rng) {
        let text = String::from_utf8_lossy(&m);
        let _ = Checkpoint::parse(&text);
        let _ = time::parse_rfc3339(&text);
    }
    for m in mutants(&tsa, 1500, &mut rng) {
        let _ = timestamp::verify(&m, b"not the signature", &root);
    }
    for m in mutants(&leaf, 1500, &mut rng) {
        if let Ok(l) = Leaf::parse(&m) {
            if let Ok(issuer) = l.verify_chain(&root, l.not_before) {
                let _ = l.verify_scts(&issuer, &root);
            }
        }
    }
    let trust = Policy::one(
        "keyless",
        Signer::Keyless {
            identity: Matcher::Exact("stefanb@us.ibm.com".into()),
            issuer: Matcher::Exact("https://sigstore.verify.ibm.com/oauth2".into()),
            root: Arc::new(root),
        },
        now(),
    );
    let verifies = |bytes: &[u8]| {
        Bundle::from_json(bytes)
            .map(|b| trust.verify_model(&b, "model").is_ok())
            .unwrap_or(false)
    };
    assert!(verifies(&sig), "the seed bundle must verify");
    let mut parsed = 0;
    for m in mutants(&sig, 1500, &mut rng) {
        if Bundle::from_json(&m).is_ok() {
            parsed += 1;
        }
        let _ = verifies(&m);
    }
    assert!(parsed > 50, "mutations too destructive: {parsed}");
}

#[test]
fn statements_reach_the_manifest_checks() {
    let mut rng = Rng(0x5eed_0002);
    let payload = testdata("model-signing-worked-example/payload.json");
    let mut manifests = 0;
    for m in mutants(&payload, 5000, &mut rng) {
        if oms::parse_statement(&m).is_ok() {
            manifests += 1;
        }
    }
    // Most mutants break the root digest or the JSON; a few (whitespace) still parse.
    assert!(manifests > 0);
}

#[test]
fn keys() {
    let mut rng = Rng(0x5eed_0003);
    for seed in [
        testdata("cosign-keys/sigstore_labeled.key"),
        testdata("cosign-generated/sigstore-rs.pub"),
        testdata("model-signing/dir-p384/keys/signer.key.pem"),
        testdata("sigstore-rs/keys/rsa_private.key"),
    ] {
        for m in mutants(&seed, 1000, &mut rng) {
            let _ = PublicKey::from_pem(&m);
            let _ = modelseal_kernel::PrivateKeyPem::parse(&m);
            let _ = PublicKey::from_spki_der(&m);
            let _ = PrivateKey::from_pkcs8_der(&m);
            let _ = PrivateKey::from_sec1_der(&m);
            let _ = decode_signature(&m);
        }
    }
    // The encrypted key's JSON, parsed but not decrypted (scrypt is slow by design).
    let json = br#"{"kdf":{"name":"scrypt","params":{"N":32768,"r":8,"p":1},"salt":"7OuFwelmfY5uHwchiDRsmtjspgfef1F2Ne8aCN5KaZY="},"cipher":{"name":"nacl/secretbox","nonce":"P4y88hBovSkOLmstlUAhbpt2t+lS5LPH"},"ciphertext":"2puC7rfWI9hw"}"#;
    for m in mutants(json, 3000, &mut rng) {
        let _ = EncryptedKey::from_json(&m);
    }
}

#[test]
fn resource_names() {
    let mut rng = Rng(0x5eed_0004);
    for seed in [
        "tokenizer/vocab.txt",
        "a/b",
        "model-00001-of-00002.safetensors",
        ".",
    ] {
        for m in mutants(seed.as_bytes(), 2000, &mut rng) {
            let Ok(text) = String::from_utf8(m) else {
                continue;
            };
            if let Ok(p) = ResourcePath::parse(&text) {
                // Whatever parses can never leave the model directory.
                assert!(!p.as_str().starts_with('/'), "{text:?}");
                assert!(
                    p.components()
                        .all(|c| c != ".." && !c.is_empty() && !c.contains('\\')),
                    "{text:?}"
                );
                // `.` is a component only as the whole name: a single-file model's resource.
                assert!(
                    p.as_str() == ResourcePath::SINGLE_FILE || p.components().all(|c| c != "."),
                    "{text:?}"
                );
            }
        }
    }
}

/// Inputs the fuzzers found (`fuzz/artifacts/`), replayed. Each names its target; the assertion
/// is the target's.
#[test]
fn fuzz_findings() {
    // manifest_path, "." then a newline: the single-file name `.` parses and is the only parsed
    // name with a `.` component (the target's assertion had forgotten it; the parser was right).
    let p = ResourcePath::parse(".").expect("the single-file name");
    assert!(p.is_single_file());
    for dotted in ["./x", "x/.", "a/./b", "./", "./."] {
        assert!(ResourcePath::parse(dotted).is_err(), "{dotted}");
    }
}
