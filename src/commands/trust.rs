//! `trust check`: a trust policy read, resolved and described as verification would use it.

use std::path::Path;

use modelseal_kernel::trust::{Authority, Policy, Rule, Signer};

use crate::aws::Runtime;
use crate::cli::AwsArgs;
use crate::failure::{Failure, Result};

const HINT: &str = "fix the field named (docs/trust-policy.md describes every one)";

pub fn check(file: &Path, model: Option<&str>, json: bool, aws: &AwsArgs) -> Result<()> {
    let document = modelseal_fetch::trust::read_policy_file(file)
        .map_err(|e| Failure::cannot_check(e.to_string(), HINT))?;
    let references = document.kms_references();
    let aws = super::aws_if(!references.is_empty(), aws, Runtime::OneThread)?;
    let mut kms = std::collections::BTreeMap::new();
    for reference in references {
        let key = crate::keyfile::verifier(&reference, aws.as_ref())?;
        kms.insert(reference, key);
    }
    let policy = modelseal_fetch::trust::build_with_root(
        document,
        kms,
        modelseal_fetch::trust::now(),
        crate::trust_cache::default_root(),
    )
    .map_err(|e| Failure::cannot_check(format!("trust policy {}: {e}", file.display()), HINT))?;
    let governing = match model {
        None => None,
        Some(m) => {
            let location = location(m)?;
            let rule = policy.rule_for(&location).map_err(|e| {
                Failure::untrusted(
                    e.to_string(),
                    "a model there would be refused; add a rule whose models globs match it",
                )
                .with_report(&describe(file, &policy, None))
            })?;
            Some((location, rule))
        }
    };
    if json {
        crate::report::success("trust check", &describe(file, &policy, governing));
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

/// `trust check`'s report: the policy as verification would use it, and the rule that governs
/// `--model` when one was given.
#[derive(serde::Serialize)]
struct PolicyReport<'a> {
    policy: String,
    rules: Vec<RuleFields<'a>>,
    revoked: usize,
    #[serde(flatten)]
    governing: Option<Governing>,
}

#[derive(serde::Serialize)]
struct RuleFields<'a> {
    name: &'a str,
    models: Vec<&'a str>,
    authorities: Vec<AuthorityFields<'a>>,
}

#[derive(serde::Serialize)]
struct AuthorityFields<'a> {
    name: &'a str,
    kind: &'static str,
    signed_after: Option<String>,
    signed_before: Option<String>,
}

#[derive(serde::Serialize)]
struct Governing {
    model: String,
    policy_rule: String,
}

/// The policy as `--json` describes it.
fn describe<'a>(
    file: &Path,
    policy: &'a Policy,
    governing: Option<(String, &Rule)>,
) -> PolicyReport<'a> {
    let time = |t: Option<u64>| t.map(modelseal_kernel::time::utc);
    PolicyReport {
        policy: file.display().to_string(),
        rules: policy
            .rules()
            .iter()
            .map(|r| RuleFields {
                name: &r.name,
                models: r.models.iter().map(|g| g.as_str()).collect(),
                authorities: r
                    .authorities
                    .iter()
                    .map(|a| AuthorityFields {
                        name: &a.name,
                        kind: kind(&a.signer),
                        signed_after: time(a.window.after),
                        signed_before: time(a.window.before),
                    })
                    .collect(),
            })
            .collect(),
        revoked: policy.revoked().len(),
        governing: governing.map(|(model, rule)| Governing {
            model,
            policy_rule: rule.name.clone(),
        }),
    }
}

/// `trust update`: TUF from a mirror or a directory, verified and cached.
pub fn update(
    mirror: Option<&str>,
    tuf_repo: Option<&Path>,
    root: Option<&Path>,
    json: bool,
    network: &crate::cli::NetworkArgs,
) -> Result<()> {
    use modelseal_online::tuf::{self, Repository, UpdateError};
    let repo = match (mirror, tuf_repo) {
        (_, Some(dir)) => Repository::Dir(dir),
        (Some(url), None) => Repository::Mirror(url),
        (None, None) => Repository::Mirror(modelseal_kernel::tuf::PRODUCTION_MIRROR),
    };
    let bootstrap = match root {
        Some(p) => {
            crate::keyfile::read_bounded(p, "TUF root", modelseal_kernel::tuf::METADATA_LIMIT)?
        }
        None => modelseal_kernel::tuf::PRODUCTION_TUF_ROOT.to_vec(),
    };
    let secs = |s: f64| std::time::Duration::from_secs_f64(s.max(0.001));
    let settings = modelseal_online::Settings {
        connect_timeout: secs(network.connect_timeout),
        read_timeout: secs(network.read_timeout),
        max_attempts: network.max_attempts,
    };
    let name = repo.name();
    let updated = tuf::update(&repo, &bootstrap, settings, modelseal_fetch::trust::now()).map_err(
        |e| match e {
            UpdateError::Tuf(e) => Failure::untrusted(
                format!("TUF repository {name}: {e}"),
                "the cache is left as it was; check the mirror (and --root) with its operator",
            ),
            UpdateError::Fetch(e) => Failure::cannot_check(
                format!("TUF repository {name}: {e}"),
                "check --mirror / --tuf-repo; the cache is left as it was",
            ),
            UpdateError::Cache(e) => Failure::cannot_check(
                format!("TUF repository {name}: {e}"),
                "the cache is left as it was",
            ),
        },
    )?;
    if json {
        crate::report::success(
            "trust update",
            &expirations(&updated.repository, &updated.dir, &updated.expirations),
        );
        return Ok(());
    }
    let e = &updated.expirations;
    println!(
        "Updated the Sigstore trust material from {} (TUF root version {}{}); cached in {}; timestamp expires {}",
        updated.repository,
        e.root.0,
        match updated.root_rotations {
            0 => String::new(),
            n => format!(", {n} root rotation{} followed", if n == 1 { "" } else { "s" }),
        },
        updated.dir.display(),
        e.timestamp.map_or("?".into(), |(_, t)| modelseal_kernel::time::utc(t)),
    );
    Ok(())
}

/// A TUF role's version and expiry.
#[derive(serde::Serialize)]
struct Role {
    version: u64,
    expires: String,
}

/// The cached trust material: where it came from, where it is, and each role's expiry
/// (`trust update`'s report, and `trust show`'s for a cache).
#[derive(serde::Serialize)]
struct Expirations {
    repository: String,
    cache: String,
    root: Option<Role>,
    timestamp: Option<Role>,
    snapshot: Option<Role>,
    targets: Option<Role>,
}

fn expirations(
    repository: &str,
    dir: &Path,
    e: &modelseal_kernel::tuf::Expirations,
) -> Expirations {
    let role = |r: Option<(u64, u64)>| {
        r.map(|(version, t)| Role {
            version,
            expires: modelseal_kernel::time::utc(t),
        })
    };
    Expirations {
        repository: repository.to_string(),
        cache: dir.display().to_string(),
        root: role(Some(e.root)),
        timestamp: role(e.timestamp),
        snapshot: role(e.snapshot),
        targets: role(e.targets),
    }
}

/// `trust show`: the trusted root in use and where it came from.
pub fn show(json: bool) -> Result<()> {
    let dir = match crate::trust_cache::source() {
        crate::trust_cache::Source::Carried => {
            if json {
                /// `trust show` without a cache: no repository, no cache directory.
                #[derive(serde::Serialize)]
                struct Carried {
                    source: &'static str,
                    repository: Option<String>,
                    cache: Option<String>,
                }
                let report = Carried {
                    source: "carried",
                    repository: None,
                    cache: None,
                };
                crate::report::success("trust show", &report);
            } else {
                println!(
                    "Using the trusted root and signing config carried in modelseal (Sigstore public-good production, as of sigstore-python 4.5.1); run 'modelseal trust update' to refresh them"
                );
            }
            return Ok(());
        }
        crate::trust_cache::Source::Cache(dir) => dir,
    };
    let source: serde_json::Value = std::fs::read(dir.join("source.json"))
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .unwrap_or_default();
    let now = modelseal_fetch::trust::now();
    let when = |role: &str| -> Option<(u64, u64)> {
        let r = source.get(role)?;
        Some((r.get("version")?.as_u64()?, r.get("expires")?.as_u64()?))
    };
    let e = modelseal_kernel::tuf::Expirations {
        root: when("root").unwrap_or_default(),
        timestamp: when("timestamp"),
        snapshot: when("snapshot"),
        targets: when("targets"),
    };
    let repository = source
        .get("repository")
        .and_then(|r| r.as_str())
        .unwrap_or("?")
        .to_string();
    if json {
        /// `trust show` with a cache: the material's expiries, and when it was updated.
        #[derive(serde::Serialize)]
        struct Cached {
            source: &'static str,
            updated: Option<String>,
            #[serde(flatten)]
            material: Expirations,
        }
        let report = Cached {
            source: "tuf",
            updated: source
                .get("updated")
                .and_then(|u| u.as_u64())
                .map(modelseal_kernel::time::utc),
            material: expirations(&repository, &dir, &e),
        };
        crate::report::success("trust show", &report);
        return Ok(());
    }
    println!(
        "Using the trusted root from {repository} (cached in {})",
        dir.display()
    );
    if let Some(u) = source.get("updated").and_then(|u| u.as_u64()) {
        println!("  updated   {}", modelseal_kernel::time::utc(u));
    }
    for (name, r) in [
        ("root", Some(e.root)),
        ("timestamp", e.timestamp),
        ("snapshot", e.snapshot),
        ("targets", e.targets),
    ] {
        if let Some((v, t)) = r {
            let state = if t <= now {
                "  EXPIRED: run 'modelseal trust update'"
            } else {
                ""
            };
            println!(
                "  {name:<9} version {v}, expires {}{state}",
                modelseal_kernel::time::utc(t)
            );
        }
    }
    Ok(())
}
