//! Verdicts, shared by the commands on local and S3 models: the failure each of fetch's refusals
//! maps to (with its hint and per-file findings), and how a verified model is reported. It sits
//! below `model` and `remote`, which both use it and not each other's internals.

use modelseal_fetch::disk::Refusal;
use modelseal_fetch::progress::count;
use modelseal_fetch::FetchError;
use modelseal_kernel::bundle::SignerError;
use modelseal_kernel::certificate::ChainError;
use modelseal_kernel::fulcio::FulcioError;
use modelseal_kernel::keys::SignError;
use modelseal_kernel::manifest::{ItemKey, Mismatch, ResourcePath, Verified};
use modelseal_kernel::oms::{self, EnvelopeError};
use modelseal_kernel::sigstore::SigstoreError;
use modelseal_kernel::trust::{Accepted, AuthorityError, TrustError};
use modelseal_kernel::Digest;
use modelseal_s3::S3Uri;

use crate::aws::s3_failure;
use crate::failure::{Failure, Finding, Result};

pub(super) fn parse_uri(uri: &str) -> Result<S3Uri> {
    S3Uri::parse(uri).map_err(|e| Failure::cannot_check(e.to_string(), "write s3://BUCKET/PREFIX"))
}

/// Maps a fetch failure to what the CLI prints.
pub(super) fn fetch_failure(e: FetchError) -> Failure {
    let message = e.to_string();
    match e {
        FetchError::S3(e) => s3_failure(*e),
        FetchError::NothingAt(_) => Failure::cannot_check(
            message,
            "check the URI: s3://BUCKET/PREFIX for a model directory, s3://BUCKET/KEY for a single file",
        ),
        FetchError::UnsafeKeys { .. } => Failure::untrusted(message, "remove them; a signed model never contains such names"),
        FetchError::ReservedName { .. } => Failure::untrusted(
            message,
            "a signed model never holds this name; rename it and re-sign the model",
        ),
        FetchError::SignatureUnusable { .. } => Failure::untrusted(
            message,
            "a signature is a regular file (not a link, FIFO or device) of at most 16 MiB; re-sign the model",
        ),
        FetchError::Stopped(_) => Failure::cannot_check(message, "run the command again"),
        FetchError::DestNotEmpty { .. } => Failure::cannot_check(
            message,
            "pull into an empty or new directory, or pass --force to empty it first",
        ),
        FetchError::SignatureMissing(_) => Failure::untrusted(
            message,
            "an unsigned model cannot be trusted; sign it with 'modelseal sign' or 'modelseal push', or pass --signature",
        ),
        FetchError::SignatureMalformed { .. } => Failure::untrusted(
            message,
            "the signature file is corrupt or not a Sigstore bundle; re-sign the model",
        ),
        FetchError::Trust { error, .. } => Failure::untrusted(message, trust_hint(&error)),
        FetchError::Mismatch { shown, mismatch } => mismatch_failure(&shown, &mismatch),
        FetchError::PinNeedsSingleFile(_) => {
            Failure::cannot_check(message, "give the key as well: the pin is then compared with the signed root digest")
        }
        FetchError::PinMismatch { .. } => Failure::untrusted(
            message,
            PIN_HINT,
        ),
        FetchError::Entry { refusal, .. } => Failure::untrusted(message, refusal_hint(refusal)),
        FetchError::Local { error, .. } => Failure::cannot_check(message, crate::failure::io_hint(&error)),
    }
}

/// What to do about an entry a model on disk cannot hold.
fn refusal_hint(refusal: Refusal) -> &'static str {
    match refusal {
        Refusal::Symlink => "symlinks are refused (as model_signing refuses them); replace the link with the file it points to and re-sign",
        Refusal::Special => "remove it from the model directory",
        Refusal::Name => "rename it",
    }
}

/// A fetch failure met while signing (or digesting) a local model: what is a verdict when
/// verifying is a problem with the input here, exit 2.
pub(super) fn signing_failure(e: FetchError) -> Failure {
    let f = fetch_failure(e);
    match f.kind() {
        crate::failure::Kind::Untrusted => Failure::cannot_check(f.message(), f.hint()),
        crate::failure::Kind::CannotCheck => f,
    }
}

/// What to do when a model verifies but is not the pinned one.
pub(super) const PIN_HINT: &str =
    "a validly signed but different model is there (an older one copied over it?); do not serve it, or pin what 'modelseal digest' prints for the model you mean";

/// What to do about a refused Sigstore evidence (keyless certificates, log entries, timestamps).
pub(super) fn sigstore_hint(e: &SigstoreError) -> &'static str {
    match e {
        SigstoreError::Fulcio(FulcioError::Identity { .. } | FulcioError::Issuer { .. }) => {
            "it was signed by someone else; check --certificate-identity and --certificate-oidc-issuer (a regexp must match the whole value)"
        }
        SigstoreError::Fulcio(_) => {
            "the signing certificate is not one the trusted root's Fulcio issued, valid when it signed; do not use it (or check --trusted-root)"
        }
        SigstoreError::Tlog { .. } => {
            "the transparency-log evidence does not prove this signature; do not use it (or check --trusted-root names the log's Sigstore instance)"
        }
        SigstoreError::Timestamp { .. } | SigstoreError::DuplicateTimestamp(_) => {
            "the timestamp does not vouch for this signature; do not use it (or check --trusted-root names the timestamp authority)"
        }
        SigstoreError::NoLogEntry => {
            "a keyless signature must be logged in a transparency log; re-sign it with the log upload on"
        }
        SigstoreError::NoSigningTime => {
            "a keyless signature needs a log entry with a signed entry timestamp or an RFC 3161 timestamp; re-sign it"
        }
        SigstoreError::FutureTime { .. } => {
            "a signing time in the future proves nothing; check this machine's clock, else do not use it"
        }
        SigstoreError::Signer(_) => {
            "verify with the kind of trust it was signed with: --key for a key, --certificate-chain for a private CA, --certificate-identity/--certificate-oidc-issuer for keyless"
        }
    }
}

/// What to do when the trust policy refuses a model or file.
pub(super) fn trust_hint(e: &TrustError) -> &'static str {
    match e {
        TrustError::NoRule { .. } => {
            "add a rule whose model globs match this location to the trust policy (modelseal trust check FILE --model LOCATION shows which rule governs a location)"
        }
        TrustError::Envelope(e) => envelope_hint(e),
        TrustError::Blob(_) => {
            "the file or its signature changed after signing, or the bundle is not one cosign writes; do not use it"
        }
        TrustError::Refused { failures, .. } => match failures.as_slice() {
            [(_, e)] => authority_hint(e),
            _ => "none of the rule's authorities signed it (each one's reason is above); check which one should have",
        },
        TrustError::Revoked { .. } => {
            "the trust policy revokes this model; do not serve it (deploy a model signed since)"
        }
        TrustError::PinMismatch { .. } => PIN_HINT,
    }
}

/// What to do when one authority refuses.
pub(super) fn authority_hint(e: &AuthorityError) -> &'static str {
    match e {
        AuthorityError::Sigstore(e) => sigstore_hint(e),
        AuthorityError::Signer(SignerError::KeyMismatch { .. }) => {
            "verify with the public key of the key that signed the model, or re-sign the model"
        }
        AuthorityError::Signer(SignerError::CertificateForKey) => {
            "verify with --certificate-chain (the CA certificates that issued the signing certificate)"
        }
        AuthorityError::Signer(SignerError::KeyForCertificate) => {
            "verify with --key (the signer's public key), or re-sign the model with a certificate"
        }
        AuthorityError::Signer(SignerError::Chain(ChainError::Identity { .. })) => {
            "the model was signed by someone else; check --certificate-identity"
        }
        AuthorityError::Signer(SignerError::Chain(ChainError::Path(_))) => {
            "check --certificate-chain names the CA that issued the signing certificate (and its intermediates, when the bundle lacks them), and that no certificate has expired"
        }
        AuthorityError::Signer(SignerError::Chain(ChainError::NotForSigning)) => {
            "sign with a certificate whose KeyUsage has digitalSignature or whose EKU has codeSigning"
        }
        AuthorityError::Signer(_) => {
            "the bundle's certificate cannot be used; re-sign the model with a valid certificate"
        }
        AuthorityError::NoProvenTime | AuthorityError::OutsideWindow { .. } => {
            "the authority is bounded in time (signedAfter/signedBefore); re-sign with a current authority"
        }
        AuthorityError::UnverifiableTransparency => {
            "pass --insecure-ignore-tlog to check the signature and digests only"
        }
        AuthorityError::Envelope(e) => envelope_hint(e),
        AuthorityError::Blob(_) => "the file or its signature changed after signing; do not use it",
    }
}

fn envelope_hint(e: &EnvelopeError) -> &'static str {
    match e {
        EnvelopeError::Signature(SignError::Mismatch) => {
            "the signature or the signed manifest was altered after signing; do not use this model"
        }
        EnvelopeError::Signature(_) => "the signature bytes are corrupt; re-sign the model",
        EnvelopeError::NotDsse => {
            "model signatures are OMS bundles written by 'modelseal sign' or model_signing"
        }
        EnvelopeError::Manifest(_) => {
            "the signed manifest is unsafe or inconsistent; do not use this model"
        }
        _ => "the signature file is not an OMS v1.0 bundle; re-sign the model",
    }
}

/// The verdict on a model that does not match, one finding per file.
pub(super) fn mismatch_failure(shown: &str, mismatch: &Mismatch) -> Failure {
    let lines = mismatch.lines();
    let kinds = mismatch
        .changed
        .iter()
        .map(|c| ("changed", c.key.path().to_string()))
        .chain(
            mismatch
                .size_changed
                .iter()
                .map(|(p, _)| ("size_changed", p.to_string())),
        )
        .chain(mismatch.missing.iter().map(|p| ("missing", p.to_string())))
        .chain(mismatch.extra.iter().map(|p| ("extra", p.to_string())));
    // `lines` lists the problems in this same order, one each.
    let findings = kinds
        .zip(lines)
        .map(|((kind, path), detail)| Finding { kind, path, detail })
        .collect();
    Failure::untrusted(
        format!("model '{shown}' does not match its signature"),
        "the model changed after it was signed; do not serve it (re-sign only if the change is intended)",
    )
    .with_findings(findings)
}

/// What `--json` reports about a signature just made over `items` (whole files or shards): how
/// many files, the root digest (as verify reports it) and the pin (`--digest`,
/// `VERIFICATION_DIGEST`). Flattened into each signing command's report.
#[derive(serde::Serialize)]
pub(super) struct SignedItems {
    pub files: usize,
    pub root_sha256: String,
    pub digest: String,
}

impl SignedItems {
    pub(super) fn of(items: &[(ItemKey, Digest)]) -> Self {
        SignedItems {
            files: super::model::file_count(items),
            root_sha256: oms::root_digest_of_items(items).to_hex(),
            digest: format!("sha256:{}", oms::pinned_digest_of_items(items).to_hex()),
        }
    }
}

/// Who a policy accepted, in words: `by '--key'` (a shorthand, whose rule and authority share
/// the flag's name) or `by authority 'a' of rule 'r'`, with the keyless identity if any.
pub(super) fn accepted_text(a: &Accepted) -> String {
    let who = if a.rule == a.authority {
        format!("by '{}'", a.authority)
    } else {
        format!("by authority '{}' of rule '{}'", a.authority, a.rule)
    };
    match &a.identity {
        Some(id) => format!("{who}, signed as {id}"),
        None => who,
    }
}

/// The JSON fields naming who the policy accepted (flattened into a report).
#[derive(serde::Serialize)]
pub(super) struct AcceptedFields {
    policy_rule: String,
    authority: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    identity: Option<String>,
}

impl AcceptedFields {
    pub(super) fn of(a: &Accepted) -> Self {
        AcceptedFields {
            policy_rule: a.rule.clone(),
            authority: a.authority.clone(),
            identity: a.identity.clone(),
        }
    }
}

/// Where `pull` put a verified model (flattened into its report).
#[derive(serde::Serialize)]
pub(super) struct PlacedFields {
    pub dest: String,
    pub placed: Vec<String>,
    pub signature_placed: bool,
}

/// `verify`'s and `pull`'s report on a verified model.
#[derive(serde::Serialize)]
struct VerifiedReport<'a> {
    model: &'a str,
    name: &'a str,
    items: usize,
    root_sha256: String,
    digest: String,
    predicate_type: &'static str,
    ignored_paths: Vec<String>,
    unsigned_files: Vec<String>,
    #[serde(flatten)]
    accepted: Option<AcceptedFields>,
    #[serde(flatten)]
    placed: Option<PlacedFields>,
}

/// Prints a verified model: one line (and a line each for what was left unchecked), or
/// `command`'s JSON object. `shown` names the model; `accepted` is who the policy accepted.
pub(super) fn report(
    command: &str,
    v: &Verified,
    shown: &str,
    accepted: Option<&Accepted>,
    json: bool,
    placed: Option<PlacedFields>,
) {
    let names =
        |paths: &[ResourcePath]| -> Vec<String> { paths.iter().map(ToString::to_string).collect() };
    if json {
        let report = VerifiedReport {
            model: shown,
            name: &v.model_name,
            items: v.items,
            root_sha256: v.root.to_hex(),
            digest: format!("sha256:{}", v.digest.to_hex()),
            predicate_type: v.predicate.uri(),
            ignored_paths: names(&v.excluded),
            unsigned_files: names(&v.unsigned),
            accepted: accepted.map(AcceptedFields::of),
            placed,
        };
        crate::report::success(command, &report);
        return;
    }
    let items = if v.items == v.files {
        count(v.files, "file")
    } else {
        format!("{} in {}", count(v.files, "file"), count(v.items, "shard"))
    };
    let legacy = if v.predicate.is_legacy() {
        format!("; legacy predicate {}", v.predicate.uri())
    } else {
        String::new()
    };
    let by = accepted
        .map(|a| format!("; {}", accepted_text(a)))
        .unwrap_or_default();
    println!(
        "Verified OK: model '{shown}' ({items}, digest sha256:{}{legacy}{by})",
        v.digest.to_hex()
    );
    if !v.excluded.is_empty() {
        println!(
            "  not checked, left out by --ignore-paths: {}",
            names(&v.excluded).join(", ")
        );
    }
    if !v.unsigned.is_empty() {
        println!(
            "  not signed, left unchecked (--ignore-unsigned-files): {}",
            names(&v.unsigned).join(", ")
        );
    }
}

/// Said on stderr whenever a bundle's transparency evidence was accepted unverified.
pub(super) fn warn_tlog(ignored_transparency: bool) {
    if ignored_transparency {
        eprintln!("{TLOG_WARNING}");
    }
}

const TLOG_WARNING: &str =
    "warning: transparency-log entries and timestamps in the bundle were NOT verified (--insecure-ignore-tlog); only the signature and digests were checked";
