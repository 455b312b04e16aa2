//! Trust policy documents (`modelseal.dev/v1` `TrustPolicy`): the strict reader with its field
//! paths, resolution of what the document names (files answered from a fixed key and root), and
//! the rule lookup and globs on locations taken from the input itself.
#![no_main]

use libfuzzer_sys::fuzz_target;
use modelseal_kernel::trust::document::{Document, Resolve};
use modelseal_kernel::PublicKey;

const KEY: &[u8] = include_bytes!("../../testdata/model-signing/dir-basic/keys/signer.pub.pem");
const CA: &[u8] = include_bytes!("../../testdata/model-signing-pki/ca/root.pem");
const ROOT: &[u8] = include_bytes!("../../kernel/trust/production-trusted-root.json");

/// Files are answered by their name's ending: a key, CA certificates, a root, or nothing.
struct Fixed;

impl Resolve for Fixed {
    fn read(&mut self, path: &str) -> Result<Vec<u8>, String> {
        match path.rsplit('.').next() {
            Some("pub") => Ok(KEY.to_vec()),
            Some("pem") => Ok(CA.to_vec()),
            Some("json") => Ok(ROOT.to_vec()),
            _ => Err(format!("no file {path}")),
        }
    }

    fn kms_key(&mut self, _: &str) -> Result<PublicKey, String> {
        PublicKey::from_pem(KEY).map_err(|e| e.to_string())
    }

    fn default_root(&mut self) -> Result<Vec<u8>, String> {
        Ok(ROOT.to_vec())
    }
}

fuzz_target!(|data: &[u8]| {
    let Ok(document) = Document::from_json(data) else {
        return;
    };
    let _ = document.kms_references();
    let outline = document.outline();
    let Ok(policy) = document.resolve(&mut Fixed, 1_767_225_600) else {
        return;
    };
    // Every glob of the document as a location, and a few fixed ones.
    for (_, globs, _) in &outline {
        for g in globs {
            let _ = policy.rule_for(g);
        }
    }
    for location in ["s3://models/team-a/llm", "/models/x", "", "s3://"] {
        let _ = policy.rule_for(location);
    }
});
