//! What an audit reports: a finding is a kind and the full object key it is about; what one
//! object's encryption says, and what the bucket's versioning and public access block say.

use modelseal_s3::{BucketSettings, Head, Setting};

/// What is wrong, by kind. [`Kind::name`] is the stable JSON spelling.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Kind {
    /// The object is not encrypted with SSE-KMS.
    NotSseKms,
    /// SSE-KMS with a key other than the expected one.
    OtherKmsKey,
    /// The object belongs to no signed model.
    Unsigned,
    /// The model's signature does not verify with the given trust (or cannot be read).
    NotVerified,
    /// A signed object's bytes (or size) differ from the signed digest.
    Modified,
    /// A signed file has no object.
    Missing,
    /// An object beside a model that its manifest does not list.
    Extra,
    /// The bucket has no policy.
    NoBucketPolicy,
    /// The policy does not deny a PutObject without SSE-KMS.
    PolicyAllowsUnencryptedPuts,
    /// The policy does not deny a PutObject with SSE-KMS under another key.
    PolicyAllowsOtherKmsKeys,
    /// The policy does not deny requests over plain HTTP.
    PolicyAllowsHttp,
    /// Versioning is not enabled (an overwritten model cannot be recovered or traced).
    VersioningOff,
    /// The public access block is missing or not fully on.
    PublicAccessNotBlocked,
    /// A bucket setting could not be read (access denied, or the store lacks the call), so it
    /// was not checked.
    BucketSettingUnreadable,
}

impl Kind {
    pub fn name(self) -> &'static str {
        match self {
            Kind::NotSseKms => "not_sse_kms",
            Kind::OtherKmsKey => "other_kms_key",
            Kind::Unsigned => "unsigned",
            Kind::NotVerified => "not_verified",
            Kind::Modified => "modified",
            Kind::Missing => "missing",
            Kind::Extra => "extra",
            Kind::NoBucketPolicy => "no_bucket_policy",
            Kind::PolicyAllowsUnencryptedPuts => "policy_allows_unencrypted_puts",
            Kind::PolicyAllowsOtherKmsKeys => "policy_allows_other_kms_keys",
            Kind::PolicyAllowsHttp => "policy_allows_http",
            Kind::VersioningOff => "versioning_off",
            Kind::PublicAccessNotBlocked => "public_access_not_blocked",
            Kind::BucketSettingUnreadable => "bucket_setting_unreadable",
        }
    }
}

/// One finding: the full object key (empty for the bucket's settings) and what was found.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Finding {
    pub kind: Kind,
    pub key: String,
    pub detail: String,
}

/// What the encryption of one object says, given the expected key ids (`None`: any KMS key).
pub fn sse_findings(head: &Head, expected: Option<&[String]>) -> Option<Finding> {
    let key = head.object.key.clone();
    if head.sse.as_deref() != Some("aws:kms") {
        return Some(Finding {
            kind: Kind::NotSseKms,
            key,
            detail: format!(
                "server-side encryption: {}",
                head.sse.as_deref().unwrap_or("none")
            ),
        });
    }
    let expected = expected?;
    let found = head.kms_key_id.as_deref().unwrap_or("");
    // S3 reports the key's ARN (moto: what was sent); either names the expected key.
    if expected.iter().any(|e| e == found) {
        return None;
    }
    Some(Finding {
        kind: Kind::OtherKmsKey,
        key,
        detail: format!(
            "encrypted with KMS key {}",
            if found.is_empty() {
                "(not reported)"
            } else {
                found
            }
        ),
    })
}

/// Versioning and the public access block; a setting that could not be read is one finding
/// of its own, never taken as off or as on.
pub fn settings_findings(settings: &BucketSettings) -> Vec<Finding> {
    let mut out: Vec<Finding> = settings
        .unreadable
        .iter()
        .map(|u| Finding {
            kind: Kind::BucketSettingUnreadable,
            key: String::new(),
            detail: format!(
                "the bucket's {} was not checked: {}: {}",
                u.setting.name(),
                u.setting.call(),
                u.reason
            ),
        })
        .collect();
    if !settings.is_unreadable(Setting::Versioning)
        && settings.versioning.as_deref() != Some("Enabled")
    {
        out.push(Finding {
            kind: Kind::VersioningOff,
            key: String::new(),
            detail: format!(
                "versioning is {}: an overwritten model leaves no trace",
                settings.versioning.as_deref().unwrap_or("off")
            ),
        });
    }
    if !settings.is_unreadable(Setting::PublicAccessBlock)
        && settings.public_access_block != Some([true; 4])
    {
        out.push(Finding {
            kind: Kind::PublicAccessNotBlocked,
            key: String::new(),
            detail: "the public access block is not fully on (all four settings)".into(),
        });
    }
    out
}
