//! `trust check`: a trust policy read, resolved and described as verification would use it.

use std::path::Path;

use modelseal_kernel::trust::{Authority, Policy, Rule, Signer};

use crate::aws::Runtime;
use crate::cli::AwsArgs;
use crate::failure::{Failure, Result};

const HINT: &str = "fix the field named (docs/trust-policy.md describes every one)";

pub fn check(file: &Path, model: Option<&str>, json: bool, aws: &AwsArgs) -> Result<()> {
    let document = modelseal_fetch::trust::read_policy_file(file)
        .map_err(|e| Failure::cannot_check(e, HINT))?;
    let references = document.kms_references();
    let aws = super::aws_if(!references.is_empty(), aws, Runtime::OneThread)?;
    let mut kms = std::collections::BTreeMap::new();
    for reference in references {
        let key = crate::keyfile::verifier(&reference, aws.as_ref())?;
        kms.insert(reference, key);
    }
    let policy = modelseal_fetch::trust::build(document, kms, modelseal_fetch::trust::now())
        .map_err(|e| {
            Failure::cannot_check(format!("trust policy {}: {e}", file.display()), HINT)
        })?;
    let governing = match model {
        None => None,
        Some(m) => {
            let location = location(m)?;
            let rule = policy.rule_for(&location).map_err(|e| {
                Failure::untrusted(
                    e.to_string(),
                    "a model there would be refused; add a rule whose models globs match it",
                )
                .with_report(describe(file, &policy, None))
            })?;
            Some((location, rule))
        }
    };
    if json {
        crate::report::success("trust check", describe(file, &policy, governing));
        return Ok(());
    }
    println!(
        "Trust policy {} is valid: {} ({}), {} revoked",
        file.display(),
        count(policy.rules().len(), "rule"),
        count(
            policy.rules().iter().map(|r| r.authorities.len()).sum(),
            "authority"
        ),
        count(policy.revoked().len(), "digest")
    );
    let rules: Vec<&Rule> = match &governing {
        Some((location, rule)) => {
            println!("{location} is governed by rule '{}':", rule.name);
            vec![rule]
        }
        None => policy.rules().iter().collect(),
    };
    for rule in rules {
        let globs: Vec<&str> = rule.models.iter().map(|g| g.as_str()).collect();
        println!("  rule '{}': models {}", rule.name, globs.join(", "));
        for a in &rule.authorities {
            println!("    authority '{}': {}", a.name, authority_text(a));
        }
    }
    Ok(())
}

/// A model's location as the policy matches it: an `s3://` URI without its trailing slash, or a
/// local path made absolute lexically.
fn location(model: &str) -> Result<String> {
    if model.starts_with("s3://") {
        return Ok(model.trim_end_matches('/').to_string());
    }
    super::model::location(Path::new(model))
}

fn count(n: usize, noun: &str) -> String {
    match (n, noun) {
        (1, _) => format!("1 {noun}"),
        (_, "authority") => format!("{n} authorities"),
        _ => format!("{n} {noun}s"),
    }
}

fn kind(signer: &Signer) -> &'static str {
    match signer {
        Signer::Key { .. } => "key",
        Signer::Certificates { .. } => "certificates",
        Signer::Keyless { .. } => "keyless",
    }
}

fn authority_text(a: &Authority) -> String {
    let what = match &a.signer {
        Signer::Key { key, .. } => {
            format!("{} key {}", key.algorithm_name(), &key.oms_hint()[..16])
        }
        Signer::Certificates { ca, .. } => ca.describe(),
        Signer::Keyless {
            identity, issuer, ..
        } => format!("keyless identity {identity}, issuer {issuer}"),
    };
    let mut window = Vec::new();
    if let Some(t) = a.window.after {
        window.push(format!("signed after {}", modelseal_kernel::time::utc(t)));
    }
    if let Some(t) = a.window.before {
        window.push(format!("signed before {}", modelseal_kernel::time::utc(t)));
    }
    if window.is_empty() {
        what
    } else {
        format!("{what}; {}", window.join(", "))
    }
}

/// The policy as `--json` describes it.
fn describe(file: &Path, policy: &Policy, governing: Option<(String, &Rule)>) -> serde_json::Value {
    let time = |t: Option<u64>| t.map(modelseal_kernel::time::utc);
    let rules: Vec<serde_json::Value> = policy
        .rules()
        .iter()
        .map(|r| {
            serde_json::json!({
                "name": r.name,
                "models": r.models.iter().map(|g| g.as_str()).collect::<Vec<_>>(),
                "authorities": r.authorities.iter().map(|a| serde_json::json!({
                    "name": a.name,
                    "kind": kind(&a.signer),
                    "signed_after": time(a.window.after),
                    "signed_before": time(a.window.before),
                })).collect::<Vec<_>>(),
            })
        })
        .collect();
    let mut o = serde_json::json!({
        "policy": file.display().to_string(),
        "rules": rules,
        "revoked": policy.revoked().len(),
    });
    if let (Some((location, rule)), Some(map)) = (governing, o.as_object_mut()) {
        map.insert("model".into(), location.into());
        map.insert("policy_rule".into(), rule.name.clone().into());
    }
    o
}
