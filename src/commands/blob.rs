//! `sign-blob` and `verify-blob`, as cosign does them with a key.

use std::path::Path;

use crate::signing::Signing;
use base64::{engine::general_purpose::STANDARD as B64, Engine as _};
use modelseal_kernel::blob::{self, BlobBundle, BlobError};
use modelseal_kernel::bundle;
use modelseal_kernel::keys::SignError;
use modelseal_kernel::trust::{BlobEvidence, Policy};
use modelseal_kernel::{Digest, HashAlgorithm};

use crate::failure::{self, Failure, Result};
use crate::files::write_atomic;
use modelseal_fetch::disk;

use super::verdict::fetch_failure;

fn threads() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// Files up to this size are signed as whole messages (a KMS key in RAW mode needs them);
/// larger ones are hashed while read and their digest is signed.
const WHOLE_MESSAGE_LIMIT: u64 = 4096;

pub fn sign_blob(
    file: &Path,
    signing: &Signing,
    output_signature: Option<&Path>,
    bundle_out: Option<&Path>,
    json: bool,
) -> Result<()> {
    let key = signing.signer()?;
    let hash = key.public_key().hash();
    let size = std::fs::metadata(file)
        .map_err(|e| failure::io("read", file, &e))?
        .len();
    let (digest, signature) = if size <= WHOLE_MESSAGE_LIMIT {
        let data = std::fs::read(file).map_err(|e| failure::io("read", file, &e))?;
        (hash.digest(&data), key.sign_message(&data))
    } else {
        let digest = disk::hash_file(file, hash, threads()).map_err(fetch_failure)?;
        let signature = key.sign_prehash(digest.as_bytes());
        (digest, signature)
    };
    let signature = signature.map_err(|e| {
        Failure::cannot_check(
            format!("cannot sign {}: {e}", file.display()),
            "check the key",
        )
    })?;
    // The log entry and timestamp, when asked for (always for keyless), before anything is
    // written: a failure leaves no file behind.
    let witnessed = signing.witness_blob(&digest, &signature, std::slice::from_ref(&digest))?;
    let b64 = B64.encode(&signature);
    let bundle_json = match (bundle_out, witnessed) {
        (None, _) => None,
        (Some(_), Some(json)) => Some(json),
        (Some(_), None) => Some(
            bundle::message_signature_bundle_json(
                &key.public_key().cosign_hint(),
                &digest,
                &signature,
            )
            .ok_or_else(|| {
                Failure::cannot_check("the key's hash has no Sigstore name", "use a P-256 key")
            })?,
        ),
    };
    if let Some(out) = output_signature {
        write_atomic(out, b64.as_bytes(), 0o600, true)?;
        eprintln!("Signature written to {}", out.display());
    }
    if let (Some(out), Some(json)) = (bundle_out, bundle_json) {
        write_atomic(out, json.as_bytes(), 0o600, true)?;
        eprintln!("Wrote bundle to file {}", out.display());
    }
    if json {
        /// `sign-blob`'s report.
        #[derive(serde::Serialize)]
        struct SignedBlob {
            signed: bool,
            file: String,
            signature: String,
            /// Only when the file was hashed with SHA-256 (a P-384 or P-521 key uses another).
            sha256: Option<String>,
            output_signature: Option<String>,
            bundle: Option<String>,
            keyless: bool,
        }
        let shown = |p: &Path| p.display().to_string();
        let report = SignedBlob {
            signed: true,
            file: shown(file),
            signature: b64,
            sha256: (hash == HashAlgorithm::Sha256).then(|| digest.to_hex()),
            output_signature: output_signature.map(shown),
            bundle: bundle_out.map(shown),
            keyless: signing.is_keyless(),
        };
        crate::report::success("sign-blob", &report);
    } else if output_signature.is_none() && bundle_out.is_none() {
        println!("{b64}");
    }
    Ok(())
}

fn read_evidence(path: &Path, what: &str) -> Result<Vec<u8>> {
    match modelseal_fetch::read_local_signature(path) {
        Ok(Some(bytes)) => Ok(bytes),
        Ok(None) => Err(Failure::untrusted(
            format!("{what} {} not found", path.display()),
            "an unsigned file cannot be trusted; sign it with 'modelseal sign-blob'",
        )),
        Err(e) => Err(super::verdict::fetch_failure(e)),
    }
}

fn blob_hint(e: &BlobError) -> &'static str {
    match e {
        BlobError::KeyMismatch => "verify with the public key of the key that signed the file",
        BlobError::DigestMismatch { .. } | BlobError::Signature(SignError::Mismatch) => {
            "the file or its signature changed after signing; do not use it"
        }
        BlobError::SubjectMismatch => {
            "the attestation is about another file; verify the file it names"
        }
        _ => "the signature is corrupt or not in a format cosign writes; re-sign the file",
    }
}

pub fn verify_blob(
    file: &Path,
    policy: &Policy,
    signature: Option<&str>,
    bundle_path: Option<&Path>,
    json: bool,
) -> Result<()> {
    // Read the evidence before hashing, so a missing signature fails fast.
    let (evidence, shown) = match (signature, bundle_path) {
        (Some(sig), _) => {
            let path = Path::new(sig);
            // cosign accepts a path or the base64 signature itself.
            let bytes = if !path.exists() && B64.decode(sig).is_ok_and(|d| d.first() == Some(&0x30))
            {
                sig.as_bytes().to_vec()
            } else {
                read_evidence(path, "signature")?
            };
            let der = blob::decode_signature(&bytes).map_err(|e| {
                Failure::untrusted(format!("signature {sig} is malformed: {e}"), blob_hint(&e))
            })?;
            (Evidence::Raw(der), sig.to_string())
        }
        (None, Some(path)) => {
            let bytes = read_evidence(path, "bundle")?;
            let b = BlobBundle::from_json(&bytes).map_err(|e| {
                Failure::untrusted(
                    format!("bundle {} is malformed: {e}", path.display()),
                    blob_hint(&e),
                )
            })?;
            (Evidence::Bundle(b), path.display().to_string())
        }
        (None, None) => {
            return Err(Failure::cannot_check(
                "no signature given",
                "pass --signature or --bundle",
            ))
        }
    };
    // `sha256:HEX` in place of a file (the sigstore-conformance protocol's digest form) gives
    // the SHA-256 only: what needs another hash then fails, naming it. Its location for the
    // policy's rules is the text as given.
    let given = file
        .to_str()
        .filter(|_| !file.exists())
        .and_then(|s| s.strip_prefix("sha256:").map(|_| s))
        .and_then(Digest::parse_pin);
    let location = match (&given, file.to_str()) {
        (Some(_), Some(text)) => text.to_string(),
        _ => super::model::location(file)?,
    };
    let bundle = match &evidence {
        Evidence::Bundle(b) => Some(b),
        Evidence::Raw(_) => None,
    };
    // A bare signature names no signer: only a key can check it.
    let keys_only = policy.rule_for(&location).is_ok_and(|r| {
        !r.authorities
            .iter()
            .any(|a| matches!(a.signer, modelseal_kernel::trust::Signer::Key { .. }))
    });
    if bundle.is_none() && keys_only {
        return Err(Failure::cannot_check(
            "a bare --signature is checked with a key only",
            "pass the signer's public key (--key, or a key authority in the policy), or verify a Sigstore bundle with --bundle",
        ));
    }
    let digests = match given {
        Some(d) => vec![d],
        None => disk::hash_file_each(file, &policy.blob_digests(bundle, &location), threads())
            .map_err(fetch_failure)?,
    };
    let kernel_evidence = match &evidence {
        Evidence::Raw(der) => BlobEvidence::Raw(der),
        Evidence::Bundle(b) => BlobEvidence::Bundle(b),
    };
    match policy.verify_blob(&kernel_evidence, &location, &digests) {
        Ok(accepted) => {
            super::verdict::warn_tlog(accepted.ignored_transparency);
            if json {
                /// `verify-blob`'s report.
                #[derive(serde::Serialize)]
                struct Verified {
                    file: String,
                    signature: String,
                    transparency_ignored: bool,
                    tlog_entries_verified: usize,
                    #[serde(flatten)]
                    accepted: super::verdict::AcceptedFields,
                }
                let report = Verified {
                    file: file.display().to_string(),
                    signature: shown,
                    transparency_ignored: accepted.ignored_transparency,
                    tlog_entries_verified: accepted.tlog_entries,
                    accepted: super::verdict::AcceptedFields::of(&accepted),
                };
                crate::report::success("verify-blob", &report);
            } else {
                eprintln!("Verified OK ({})", super::verdict::accepted_text(&accepted));
            }
            Ok(())
        }
        Err(e) => Err(Failure::untrusted(
            format!("{} does not verify against {shown}: {e}", file.display()),
            super::verdict::trust_hint(&e),
        )),
    }
}

enum Evidence {
    Raw(Vec<u8>),
    Bundle(BlobBundle),
}
