//! `audit s3://BUCKET[/PREFIX]`: a thin shell over `modelseal_audit`. Prints a table (or
//! one JSON object), then exits 1 when there is any finding, 0 when clean, 2 when the audit could
//! not run.

use modelseal_audit::{self as audit, Options, Report};
use modelseal_kernel::trust::Policy;
use modelseal_s3::Setting;

use super::verdict::{fetch_failure, parse_uri};
use crate::aws::Aws;
use crate::failure::{Failure, Result};

pub struct Args<'a> {
    pub uri: &'a str,
    /// Each model is judged by the rule that governs its location.
    pub policy: &'a Policy,
    pub kms_key: Option<&'a str>,
    pub shallow: bool,
    pub json: bool,
}

pub fn run(args: Args<'_>, aws: &Aws) -> Result<()> {
    let uri = parse_uri(args.uri)?;
    let prefix = if uri.key.is_empty() {
        String::new()
    } else {
        uri.dir_prefix()
    };
    let engine = aws.engine(None);
    let report = aws.rt.block_on(async {
        let kms_key = match args.kms_key {
            None => None,
            Some(id) => {
                let arn = modelseal_kms::key_arn(&aws.sdk, id, aws.kms_endpoint.as_deref())
                    .await
                    .map_err(|e| {
                        Failure::cannot_check(
                            format!("cannot resolve --sse-kms-key-id {id}: {e}"),
                            "pass a KMS key id, alias or ARN the auditor may DescribeKey",
                        )
                    })?;
                Some((vec![id.to_string(), arn.clone()], arn))
            }
        };
        let opts = Options {
            policy: args.policy,
            shallow: args.shallow,
            kms_key,
            heads_in_flight: 32,
        };
        audit::audit(&engine, &uri.bucket, &prefix, &opts)
            .await
            .map_err(fetch_failure)
    })?;
    let fields = json(&report, &uri.bucket, &prefix, args.shallow);
    if !args.json {
        print_table(&report, &uri.bucket, &prefix);
    }
    match report.findings.len() {
        0 => {
            if args.json {
                crate::report::success("audit", &fields);
            }
            Ok(())
        }
        n => Err(Failure::untrusted(
            format!(
                "audit of s3://{}/{prefix}: {n} finding{}",
                uri.bucket,
                if n == 1 { "" } else { "s" }
            ),
            "fix each finding listed above (re-sign, re-encrypt, remove unsigned objects, set the bucket policy)",
        )
        .with_report(&fields)),
    }
}

/// `audit`'s report (also carried by its failure object when there are findings).
#[derive(serde::Serialize)]
struct AuditReport<'a> {
    bucket: &'a str,
    prefix: &'a str,
    shallow: bool,
    objects: usize,
    models: Vec<ModelFields<'a>>,
    bucket_settings: SettingsFields<'a>,
    clean: bool,
    findings: Vec<FindingFields<'a>>,
}

/// One signed model found, and who accepted it when it verified.
#[derive(serde::Serialize)]
struct ModelFields<'a> {
    uri: &'a str,
    signature: &'a str,
    verified: bool,
    #[serde(flatten)]
    accepted: Option<AcceptedFields<'a>>,
}

#[derive(serde::Serialize)]
struct AcceptedFields<'a> {
    digest: &'a str,
    policy_rule: &'a str,
    authority: &'a str,
}

/// The bucket's settings; `null` where the store would not tell (named in `unreadable`).
#[derive(serde::Serialize)]
struct SettingsFields<'a> {
    policy: Option<bool>,
    versioning: Option<&'a str>,
    public_access_block: Option<[bool; 4]>,
    unreadable: Vec<&'static str>,
}

#[derive(serde::Serialize)]
struct FindingFields<'a> {
    kind: &'static str,
    key: &'a str,
    detail: &'a str,
}

fn json<'a>(r: &'a Report, bucket: &'a str, prefix: &'a str, shallow: bool) -> AuditReport<'a> {
    let s = &r.settings;
    AuditReport {
        bucket,
        prefix,
        shallow,
        objects: r.objects,
        models: r
            .models
            .iter()
            .map(|m| ModelFields {
                uri: &m.uri,
                signature: &m.signature,
                verified: m.verified,
                accepted: m.accepted.as_ref().map(|a| AcceptedFields {
                    digest: &a.digest,
                    policy_rule: &a.rule,
                    authority: &a.authority,
                }),
            })
            .collect(),
        bucket_settings: SettingsFields {
            policy: (!s.is_unreadable(Setting::Policy)).then_some(s.policy.is_some()),
            versioning: s.versioning.as_deref(),
            public_access_block: s.public_access_block,
            unreadable: s.unreadable.iter().map(|u| u.setting.name()).collect(),
        },
        clean: r.findings.is_empty(),
        findings: r
            .findings
            .iter()
            .map(|f| FindingFields {
                kind: f.kind.name(),
                key: &f.key,
                detail: &f.detail,
            })
            .collect(),
    }
}

fn print_table(r: &Report, bucket: &str, prefix: &str) {
    println!(
        "s3://{bucket}/{prefix}: {} objects, {} signed models ({} verified)",
        r.objects,
        r.models.len(),
        r.models.iter().filter(|m| m.verified).count()
    );
    for m in &r.models {
        if let Some(a) = &m.accepted {
            println!(
                "verified  {}  {} (authority '{}' of rule '{}')",
                m.uri, a.digest, a.authority, a.rule
            );
        }
    }
    if r.findings.is_empty() {
        println!("no findings");
        return;
    }
    let width = r
        .findings
        .iter()
        .map(|f| f.kind.name().len())
        .max()
        .unwrap_or(0);
    for f in &r.findings {
        let key = if f.key.is_empty() {
            format!("s3://{bucket}")
        } else {
            format!("s3://{bucket}/{}", f.key)
        };
        println!("{:width$}  {key}  {}", f.kind.name(), f.detail);
    }
}

/// `audit s3://...` from its parsed arguments.
pub fn run_args(args: crate::cli::AuditArgs) -> Result<()> {
    let aws = crate::aws::Aws::new(&args.aws, crate::aws::Runtime::Workers)?;
    let policy = crate::keyfile::policy(&args.trust, Some(&aws))?
        .with_tlog(super::tlog_policy(args.insecure_ignore_tlog));
    run(
        Args {
            uri: args.uri.as_str(),
            policy: &policy,
            kms_key: args.sse_kms_key_id.as_deref(),
            shallow: args.shallow,
            json: args.json,
        },
        &aws,
    )
}
