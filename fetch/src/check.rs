//! Check: the signature under the trust policy, then the listing against the signed manifest,
//! before any model byte moves.

use modelseal_kernel::bundle::Bundle;
use modelseal_kernel::manifest::{Mismatch, Plan, PlanOptions, SignedManifest, UnsignedFiles};
use modelseal_kernel::trust::{Accepted, ModelVerdict, Policy};
use modelseal_s3::Engine;

use crate::locate::Remote;
use crate::locate::{Located, SignatureSource};
use crate::FetchError;

/// Steps 0-8 under the trust policy: a bundle's bytes (`None` when it does not exist) to a
/// manifest whose every byte a signature the policy accepts for `location` covers, neither
/// revoked nor other than the policy's pin. `shown` names the bundle and `model` the model in
/// errors.
pub fn check_signature(
    bytes: Option<&[u8]>,
    shown: &str,
    model: &str,
    policy: &Policy,
    location: &str,
) -> Result<ModelVerdict, FetchError> {
    let bytes = bytes.ok_or_else(|| FetchError::SignatureMissing(shown.to_string()))?;
    let bundle = Bundle::from_json(bytes).map_err(|error| FetchError::SignatureMalformed {
        shown: shown.to_string(),
        error,
    })?;
    policy
        .verify_model(&bundle, location)
        .map_err(|error| FetchError::Trust {
            signature: shown.to_string(),
            model: model.to_string(),
            error,
        })
}

/// A model whose signature verified and whose listing matches the signed manifest: what
/// `fetch` has established before any model byte moves (and all a shallow audit checks).
pub struct Listed {
    pub manifest: SignedManifest,
    pub plan: Plan,
    /// The bundle's bytes; empty when trust was a pin.
    pub signature: Vec<u8>,
    /// Who the policy accepted; `None` when trust was a pin.
    pub accepted: Option<Accepted>,
}

/// Steps 0-9 without hashing: the signature (and pin) checked, then the listing against the
/// signed manifest, so a missing, extra or resized object is refused before any byte moves.
/// With [`UnsignedFiles::Tolerate`], objects the manifest does not list are left where they are
/// (never downloaded, never placed) and reported in the plan.
pub async fn check_listing(
    engine: &Engine,
    located: &Located,
    policy: &Policy,
    signature: Option<SignatureSource>,
    unsigned: UnsignedFiles,
) -> Result<Listed, FetchError> {
    let uri = located.uri();
    let (manifest, signature, evidence, accepted) = match (policy.is_pin_only(), policy.pin()) {
        (true, Some(pin)) => {
            let Remote::File { name, .. } = &located.remote else {
                return Err(FetchError::PinNeedsSingleFile(uri));
            };
            (
                SignedManifest::from_pin(name, pin.clone()),
                Vec::new(),
                Vec::new(),
                None,
            )
        }
        _ => {
            let signature =
                signature.unwrap_or_else(|| SignatureSource::S3(located.default_signature()));
            let bytes = signature.read(engine).await?;
            let verdict = check_signature(
                bytes.as_deref(),
                &signature.shown(),
                &uri,
                policy,
                &located.location(),
            )?;
            let evidence = located.evidence(&signature);
            (
                verdict.manifest,
                bytes.unwrap_or_default(),
                evidence,
                Some(verdict.accepted),
            )
        }
    };
    let options = PlanOptions {
        evidence,
        excluded: Vec::new(),
        unsigned,
    };
    let plan = manifest.plan(&located.local_model(), &options);
    // The listing alone can prove a mismatch: refuse before moving any bytes.
    if !plan.missing.is_empty() || !plan.extra.is_empty() || !plan.size_changed.is_empty() {
        let mismatch = Mismatch {
            changed: Vec::new(),
            size_changed: plan.size_changed.clone(),
            missing: plan.missing.clone(),
            extra: plan.extra.clone(),
        };
        return Err(FetchError::Mismatch {
            shown: uri,
            mismatch,
        });
    }
    Ok(Listed {
        manifest,
        plan,
        signature,
        accepted,
    })
}
