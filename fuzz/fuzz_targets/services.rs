//! What Sigstore's services and a CI job hand a signer: identity tokens, signing configs and
//! client trust configs, Fulcio's answers (chain parsed, then checked against the carried root),
//! Rekor v1's and v2's answers, RFC 3161 replies, and TUF metadata (a root update, then the
//! other roles, against Sigstore's production TUF root). The first byte picks the reader.
#![no_main]

use libfuzzer_sys::fuzz_target;
use modelseal_kernel::services::{self, IdentityToken, SigningConfig};
use modelseal_kernel::trusted_root::TrustedRoot;
use modelseal_kernel::tuf::{Trusted, PRODUCTION_TUF_ROOT};
use modelseal_kernel::PublicKey;

const KEY: &[u8] = include_bytes!("../../testdata/model-signing/dir-basic/keys/signer.pub.pem");
const ROOT: &[u8] = include_bytes!("../../kernel/trust/production-trusted-root.json");
const NOW: u64 = 1_760_000_000;

fuzz_target!(|data: &[u8]| {
    let Some((&which, rest)) = data.split_first() else {
        return;
    };
    match which % 7 {
        0 => {
            if let Ok(text) = std::str::from_utf8(rest) {
                if let Ok(t) = IdentityToken::parse(text, NOW) {
                    // The identity is always one of the token's claims.
                    assert!(t.identity() == t.subject || t.email.as_deref() == Some(t.identity()));
                }
            }
        }
        1 => {
            if let Ok(c) = SigningConfig::from_json(rest) {
                let _ = c.fulcio(NOW);
                let _ = c.rekor(NOW);
                let _ = c.tsa(NOW);
            }
        }
        2 => {
            let _ = services::client_trust_config(rest);
        }
        3 => {
            if let Ok(chain) = services::fulcio_chain(rest) {
                let root = TrustedRoot::from_json(ROOT).unwrap();
                let key = PublicKey::from_pem(KEY).unwrap();
                let token = IdentityToken::parse(
                    "e30.eyJpc3MiOiJodHRwczovL2kiLCJzdWIiOiJzIiwiYXVkIjoic2lnc3RvcmUiLCJleHAiOjk5OTk5OTk5OTl9.c2ln",
                    NOW,
                )
                .unwrap();
                let _ = services::check_certificate(&chain, &key, &token, &root, NOW);
            }
        }
        4 => {
            let _ = services::rekor_entry(rest);
            let _ = services::rekor_v2_entry(rest);
        }
        5 => {
            let mut t = Trusted::new(PRODUCTION_TUF_ROOT, NOW).unwrap();
            let _ = t.update_root(rest);
            let _ = t.update_timestamp(rest, Some(rest));
            let _ = t.update_snapshot(rest, None);
            let _ = t.update_targets(rest);
            let _ = t.check_target("trusted_root.json", rest);
            let _ = modelseal_kernel::tuf::canonical_json(&serde_json::from_slice(rest).unwrap_or_default());
        }
        _ => {
            let _ = services::timestamp_reply(rest, 42);
        }
    }
});
