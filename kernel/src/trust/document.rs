//! The trust policy document (`modelseal.dev/v1` `TrustPolicy`, `docs/trust-policy.schema.json`)
//! and the shorthands (`--key`, `--certificate-chain`, `--certificate-identity`...,
//! `MODELSEAL_*`), both read into one [`Document`] and built into a [`Policy`] the same way.
//!
//! Reading is strict: an unknown field, a wrong type or a missing field is an error naming its
//! path (`rules[1].authorities[0].key.pem`). A document names material it does not hold (a key
//! file, a KMS key, a trusted root): the shell reads it through [`Resolve`], and every problem
//! with it is reported at the path that named it. The kernel itself reads nothing.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::sync::Arc;

use serde::Deserialize;

use super::{Authority, Glob, Policy, Rule, Signer, Window};
use crate::certificate::CertificateTrust;
use crate::digest::Digest;
use crate::fulcio::Matcher;
use crate::keys::PublicKey;
use crate::trusted_root::TrustedRoot;

pub const API_VERSION: &str = "modelseal.dev/v1";
pub const KIND: &str = "TrustPolicy";

/// A policy document (or shorthand) that cannot be used, and where: the operator's input, so
/// the CLI exits 2 and modelseal-init 1, naming `path`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyError {
    /// A field path (`rules[0].authorities[1].keyless.identity`), or the flag or variable the
    /// shorthand came from (`--certificate-identity`).
    pub path: String,
    pub why: String,
}

impl fmt::Display for PolicyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.path.is_empty() {
            write!(f, "{}", self.why)
        } else {
            write!(f, "{}: {}", self.path, self.why)
        }
    }
}

impl std::error::Error for PolicyError {}

fn err(path: impl Into<String>, why: impl Into<String>) -> PolicyError {
    PolicyError {
        path: path.into(),
        why: why.into(),
    }
}

// ---- wire form ----

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct WirePolicy {
    api_version: String,
    kind: String,
    rules: Vec<WireRule>,
    revoked: Option<WireRevoked>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct WireRule {
    name: String,
    models: Vec<String>,
    authorities: Vec<WireAuthority>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct WireAuthority {
    name: String,
    key: Option<WireKey>,
    certificates: Option<WireCertificates>,
    keyless: Option<WireKeyless>,
    signed_before: Option<String>,
    signed_after: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct WireKey {
    pem: Option<String>,
    path: Option<String>,
    kms: Option<String>,
    trusted_root: Option<WireRoot>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct WireCertificates {
    pem: Option<String>,
    path: Option<String>,
    identity: Option<String>,
    trusted_root: Option<WireRoot>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct WireKeyless {
    identity: Option<String>,
    identity_regexp: Option<String>,
    issuer: Option<String>,
    issuer_regexp: Option<String>,
    trusted_root: Option<WireRoot>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct WireRoot {
    path: Option<String>,
    json: Option<serde_json::Value>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct WireRevoked {
    digests: Vec<String>,
}

// ---- checked, unresolved ----

/// Where a PEM (a key, CA certificates) comes from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Source {
    /// The PEM text itself.
    Pem(String),
    /// A file the shell reads (bounded, regular).
    Path(String),
}

/// A public key: PEM text, a file, or an AWS KMS key (`awskms://...`) the shell fetches.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum KeySource {
    Pem(String),
    Path(String),
    Kms(String),
}

/// A Sigstore trusted root: the shell's default (the carried production root, or a cache the
/// shell keeps current), a file, or the JSON inline.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RootSource {
    Default,
    Path(String),
    Json(Vec<u8>),
}

#[derive(Clone, Debug)]
enum Material {
    Key(KeySource),
    /// CA certificates from one or more sources (each with the path errors name it by); all
    /// their certificates are anchors.
    Certificates {
        sources: Vec<(String, Source)>,
        identity: Option<String>,
    },
    Keyless {
        identity: Matcher,
        issuer: Matcher,
    },
}

#[derive(Clone, Debug)]
struct DocAuthority {
    name: String,
    /// Made by a shorthand: errors name the flag (or variable) and its value, not field paths.
    shorthand: bool,
    /// Where its material is named (`rules[0].authorities[1].key`, or the flag).
    material_at: String,
    material: Material,
    root: RootSource,
    root_at: String,
    window: Window,
}

#[derive(Clone, Debug)]
struct DocRule {
    name: String,
    models: Vec<Glob>,
    authorities: Vec<DocAuthority>,
}

/// A checked policy document whose material the shell has not read yet.
#[derive(Clone, Debug)]
pub struct Document {
    rules: Vec<DocRule>,
    revoked: Vec<Digest>,
}

/// How the shell reads what a document names. The kernel decides what every byte means; this
/// only fetches them (files bounded and regular, KMS keys by their reference).
pub trait Resolve {
    fn read(&mut self, path: &str) -> Result<Vec<u8>, String>;
    fn kms_key(&mut self, reference: &str) -> Result<PublicKey, String>;
    /// The trusted root used when an authority names none.
    fn default_root(&mut self) -> Result<Vec<u8>, String>;
}

/// Exactly one of the named options, or an error at `path` listing them.
fn one_of<T>(path: &str, options: Vec<(&str, Option<T>)>) -> Result<(String, T), PolicyError> {
    let names: Vec<&str> = options.iter().map(|(n, _)| *n).collect();
    let mut set: Vec<(&str, T)> = options
        .into_iter()
        .filter_map(|(n, v)| v.map(|v| (n, v)))
        .collect();
    match set.len() {
        1 => {
            let (n, v) = set.remove(0);
            Ok((n.to_string(), v))
        }
        0 => Err(err(path, format!("needs one of {}", names.join(", ")))),
        _ => Err(err(
            path,
            format!(
                "holds {}; exactly one of {} is allowed",
                set.iter()
                    .map(|(n, _)| *n)
                    .collect::<Vec<_>>()
                    .join(" and "),
                names.join(", ")
            ),
        )),
    }
}

fn non_empty(path: &str, value: String) -> Result<String, PolicyError> {
    if value.trim().is_empty() {
        return Err(err(path, "is empty"));
    }
    Ok(value)
}

fn time(path: &str, text: &str) -> Result<u64, PolicyError> {
    crate::time::parse_rfc3339(text).ok_or_else(|| {
        err(
            path,
            format!("'{text}' is not an RFC 3339 time (e.g. 2026-07-01T00:00:00Z)"),
        )
    })
}

fn root_source(at: &str, root: Option<WireRoot>) -> Result<RootSource, PolicyError> {
    let Some(root) = root else {
        return Ok(RootSource::Default);
    };
    let (name, source) = one_of(
        at,
        vec![
            ("path", root.path.map(RootSource::Path)),
            (
                "json",
                root.json
                    .map(|v| RootSource::Json(serde_json::to_vec(&v).unwrap_or_default())),
            ),
        ],
    )?;
    if let RootSource::Path(p) = &source {
        non_empty(&format!("{at}.{name}"), p.clone())?;
    }
    Ok(source)
}

/// `identity` / `identityRegexp` (or `issuer` / ...): exactly one, non-empty, a regexp that
/// compiles (anchored at both ends).
fn matcher(
    at: &str,
    exact_name: &str,
    exact: Option<String>,
    regexp_name: &str,
    regexp: Option<String>,
) -> Result<Matcher, PolicyError> {
    let (name, value) = one_of(at, vec![(exact_name, exact), (regexp_name, regexp)])?;
    let path = format!("{at}.{name}");
    let value = non_empty(&path, value)?;
    if name == exact_name {
        Ok(Matcher::Exact(value))
    } else {
        Matcher::regex(&value).map_err(|e| err(path, e))
    }
}

impl Document {
    /// Reads a policy document: JSON, strict (an unknown field is an error), every field
    /// checked, every error at its path.
    pub fn from_json(bytes: &[u8]) -> Result<Self, PolicyError> {
        let de = &mut serde_json::Deserializer::from_slice(bytes);
        let wire: WirePolicy = serde_path_to_error::deserialize(de).map_err(|e| {
            let path = e.path().to_string();
            let why = e.into_inner().to_string();
            // serde_json's message ends with its line and column, which locate it in the file.
            err(if path == "." { String::new() } else { path }, why)
        })?;
        if wire.api_version != API_VERSION {
            return Err(err(
                "apiVersion",
                format!("'{}' is not {API_VERSION}", wire.api_version),
            ));
        }
        if wire.kind != KIND {
            return Err(err("kind", format!("'{}' is not {KIND}", wire.kind)));
        }
        if wire.rules.is_empty() {
            return Err(err("rules", "a policy needs at least one rule"));
        }
        let mut names = BTreeMap::new();
        let mut unique = |path: String, name: String| -> Result<String, PolicyError> {
            let name = non_empty(&path, name)?;
            if let Some(first) = names.insert(name.clone(), path.clone()) {
                return Err(err(
                    path,
                    format!("the name '{name}' is already used at {first}"),
                ));
            }
            Ok(name)
        };
        let mut rules = Vec::with_capacity(wire.rules.len());
        for (i, rule) in wire.rules.into_iter().enumerate() {
            let at = format!("rules[{i}]");
            let name = unique(format!("{at}.name"), rule.name)?;
            if rule.models.is_empty() {
                return Err(err(
                    format!("{at}.models"),
                    "a rule needs at least one model glob",
                ));
            }
            let models = rule
                .models
                .iter()
                .enumerate()
                .map(|(j, g)| Glob::parse(g).map_err(|e| err(format!("{at}.models[{j}]"), e)))
                .collect::<Result<Vec<_>, _>>()?;
            if rule.authorities.is_empty() {
                return Err(err(
                    format!("{at}.authorities"),
                    "a rule needs at least one authority",
                ));
            }
            let mut authorities = Vec::with_capacity(rule.authorities.len());
            for (j, a) in rule.authorities.into_iter().enumerate() {
                let at = format!("{at}.authorities[{j}]");
                let name = unique(format!("{at}.name"), a.name.clone())?;
                authorities.push(DocAuthority::from_wire(name, at, a)?);
            }
            rules.push(DocRule {
                name,
                models,
                authorities,
            });
        }
        let mut revoked = Vec::new();
        for (i, text) in wire
            .revoked
            .map(|r| r.digests)
            .unwrap_or_default()
            .iter()
            .enumerate()
        {
            let path = format!("revoked.digests[{i}]");
            let hex = text
                .strip_prefix("sha256:")
                .filter(|h| {
                    h.len() == 64 && h.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
                })
                .ok_or_else(|| {
                    err(
                        &path,
                        format!("'{text}' is not sha256: and 64 lowercase hex digits"),
                    )
                })?;
            let digest = Digest::from_hex(crate::HashAlgorithm::Sha256, hex)
                .ok_or_else(|| err(&path, "not a SHA-256 digest"))?;
            revoked.push(digest);
        }
        Ok(Document { rules, revoked })
    }

    /// The KMS keys the document names (the shell may fetch them ahead, e.g. asynchronously).
    pub fn kms_references(&self) -> Vec<String> {
        let set: BTreeSet<String> = self
            .rules
            .iter()
            .flat_map(|r| &r.authorities)
            .filter_map(|a| match &a.material {
                Material::Key(KeySource::Kms(r)) => Some(r.clone()),
                _ => None,
            })
            .collect();
        set.into_iter().collect()
    }

    /// The rules' names and the globs and authority names of each, for `trust check`.
    pub fn outline(&self) -> Vec<(String, Vec<String>, Vec<String>)> {
        self.rules
            .iter()
            .map(|r| {
                (
                    r.name.clone(),
                    r.models.iter().map(|g| g.as_str().to_string()).collect(),
                    r.authorities.iter().map(|a| a.name.clone()).collect(),
                )
            })
            .collect()
    }

    /// Reads every key, certificate and trusted root the document names (through `resolve`)
    /// and builds the policy. `now` is the verifier's clock. A root named several times is
    /// read and parsed once.
    pub fn resolve(self, resolve: &mut dyn Resolve, now: u64) -> Result<Policy, PolicyError> {
        let mut roots: BTreeMap<Vec<u8>, Arc<TrustedRoot>> = BTreeMap::new();
        let mut default_root: Option<Arc<TrustedRoot>> = None;
        let mut rules = Vec::with_capacity(self.rules.len());
        for rule in self.rules {
            let mut authorities = Vec::with_capacity(rule.authorities.len());
            for a in rule.authorities {
                let root = match &a.root {
                    RootSource::Default => match &default_root {
                        Some(r) => r.clone(),
                        None => {
                            let bytes = resolve.default_root().map_err(|e| err(&a.root_at, e))?;
                            let r = Arc::new(TrustedRoot::from_json(&bytes).map_err(|e| {
                                err(&a.root_at, format!("the default trusted root: {e}"))
                            })?);
                            default_root = Some(r.clone());
                            r
                        }
                    },
                    source => {
                        let bytes = match source {
                            RootSource::Path(p) => resolve
                                .read(p)
                                .map_err(|e| err(a.field(&a.root_at, "path", p), e))?,
                            RootSource::Json(j) => j.clone(),
                            RootSource::Default => Vec::new(),
                        };
                        match roots.get(&bytes) {
                            Some(r) => r.clone(),
                            None => {
                                let r = Arc::new(TrustedRoot::from_json(&bytes).map_err(|e| {
                                    err(&a.root_at, format!("not a usable trusted root: {e}"))
                                })?);
                                roots.insert(bytes, r.clone());
                                r
                            }
                        }
                    }
                };
                let signer = match a.material.clone() {
                    Material::Key(source) => {
                        let key = match &source {
                            KeySource::Kms(r) => resolve
                                .kms_key(r)
                                .map_err(|e| err(a.field(&a.material_at, "kms", r), e))?,
                            KeySource::Pem(pem) => {
                                PublicKey::from_pem(pem.as_bytes()).map_err(|e| {
                                    err(a.field(&a.material_at, "pem", ""), e.to_string())
                                })?
                            }
                            KeySource::Path(p) => {
                                let at = a.field(&a.material_at, "path", p);
                                let bytes = resolve.read(p).map_err(|e| err(&at, e))?;
                                PublicKey::from_pem(&bytes).map_err(|e| err(&at, e.to_string()))?
                            }
                        };
                        Signer::Key { key, root }
                    }
                    Material::Certificates { sources, identity } => {
                        let mut pem = Vec::new();
                        for (at, source) in &sources {
                            let bytes = match source {
                                Source::Pem(p) => p.as_bytes().to_vec(),
                                Source::Path(p) => resolve.read(p).map_err(|e| err(at, e))?,
                            };
                            // Each source stands on its own, so an error names the one it is in.
                            CertificateTrust::from_pem(&bytes, None, now)
                                .map_err(|e| err(at, e.to_string()))?;
                            pem.extend_from_slice(&bytes);
                            pem.push(b'\n');
                        }
                        let ca = CertificateTrust::from_pem(&pem, identity, now)
                            .map_err(|e| err(&a.material_at, e.to_string()))?;
                        Signer::Certificates { ca, root }
                    }
                    Material::Keyless { identity, issuer } => Signer::Keyless {
                        identity,
                        issuer,
                        root,
                    },
                };
                authorities.push(Authority {
                    name: a.name,
                    signer,
                    window: a.window,
                });
            }
            rules.push(Rule {
                name: rule.name,
                models: rule.models,
                authorities,
            });
        }
        Ok(Policy::new(rules, self.revoked, now))
    }
}

impl DocAuthority {
    /// Where a value of this authority's material is named in errors: `AT.field` in a document,
    /// `FLAG VALUE` for a shorthand (`--key cosign.pub`).
    fn field(&self, at: &str, field: &str, value: &str) -> String {
        match (self.shorthand, field) {
            (true, "pem") => at.to_string(),
            (true, _) => format!("{at} {value}"),
            (false, _) => format!("{at}.{field}"),
        }
    }

    fn from_wire(name: String, at: String, a: WireAuthority) -> Result<Self, PolicyError> {
        let window = Window {
            after: a
                .signed_after
                .as_deref()
                .map(|t| time(&format!("{at}.signedAfter"), t))
                .transpose()?,
            before: a
                .signed_before
                .as_deref()
                .map(|t| time(&format!("{at}.signedBefore"), t))
                .transpose()?,
        };
        if let (Some(after), Some(before)) = (window.after, window.before) {
            if after >= before {
                return Err(err(
                    format!("{at}.signedAfter"),
                    "must be before signedBefore",
                ));
            }
        }
        let (kind, ()) = one_of(
            &at,
            vec![
                ("key", a.key.as_ref().map(|_| ())),
                ("certificates", a.certificates.as_ref().map(|_| ())),
                ("keyless", a.keyless.as_ref().map(|_| ())),
            ],
        )?;
        let material_at = format!("{at}.{kind}");
        let (material, root) = match (a.key, a.certificates, a.keyless) {
            (Some(k), _, _) => {
                let (name, source) = one_of(
                    &material_at,
                    vec![
                        ("pem", k.pem.map(KeySource::Pem)),
                        ("path", k.path.map(KeySource::Path)),
                        ("kms", k.kms.map(KeySource::Kms)),
                    ],
                )?;
                let (KeySource::Pem(v) | KeySource::Path(v) | KeySource::Kms(v)) = &source;
                non_empty(&format!("{material_at}.{name}"), v.clone())?;
                (Material::Key(source), k.trusted_root)
            }
            (None, Some(c), _) => {
                let (name, source) = one_of(
                    &material_at,
                    vec![
                        ("pem", c.pem.map(Source::Pem)),
                        ("path", c.path.map(Source::Path)),
                    ],
                )?;
                let (Source::Pem(v) | Source::Path(v)) = &source;
                non_empty(&format!("{material_at}.{name}"), v.clone())?;
                let identity = c
                    .identity
                    .map(|i| non_empty(&format!("{material_at}.identity"), i))
                    .transpose()?;
                let sources = vec![(format!("{material_at}.{name}"), source)];
                (Material::Certificates { sources, identity }, c.trusted_root)
            }
            (None, None, Some(k)) => {
                let identity = matcher(
                    &material_at,
                    "identity",
                    k.identity,
                    "identityRegexp",
                    k.identity_regexp,
                )?;
                let issuer = matcher(
                    &material_at,
                    "issuer",
                    k.issuer,
                    "issuerRegexp",
                    k.issuer_regexp,
                )?;
                (Material::Keyless { identity, issuer }, k.trusted_root)
            }
            (None, None, None) => return Err(err(&at, "needs one of key, certificates, keyless")),
        };
        let root_at = format!("{material_at}.trustedRoot");
        Ok(DocAuthority {
            name,
            shorthand: false,
            root: root_source(&root_at, root)?,
            root_at,
            material_at,
            material,
            window,
        })
    }
}

/// The shorthand flags (`--key`, `--certificate-chain`, `--certificate-identity[-regexp]`,
/// `--certificate-oidc-issuer[-regexp]`, `--trusted-root`) or modelseal-init's variables, each
/// value with the name it was given by: a one-rule policy over every model whose rule and
/// authority are named after the option that made it.
#[derive(Clone, Debug, Default)]
pub struct Shorthand {
    pub key: Option<(String, KeySource)>,
    /// CA certificates: every source's certificates are anchors.
    pub certificates: Option<(String, Vec<Source>)>,
    pub identity: Option<(String, String)>,
    pub identity_regexp: Option<(String, String)>,
    pub issuer: Option<(String, String)>,
    pub issuer_regexp: Option<(String, String)>,
    pub trusted_root: Option<(String, RootSource)>,
}

impl Shorthand {
    /// The one-rule document, or `None` when no trust is named at all. Every value is checked
    /// as a policy's would be (an empty identity, a regexp that does not compile, half a
    /// keyless trust are refused, at the option's name).
    pub fn document(self) -> Result<Option<Document>, PolicyError> {
        for (name, value) in [
            &self.identity,
            &self.identity_regexp,
            &self.issuer,
            &self.issuer_regexp,
        ]
        .into_iter()
        .flatten()
        {
            non_empty(name, value.clone())?;
        }
        let exact_or_regexp = |exact: Option<(String, String)>,
                               regexp: Option<(String, String)>,
                               what: &str| match (exact, regexp) {
            (Some((n, v)), None) => Ok(Some((n, Matcher::Exact(v)))),
            (None, Some((n, v))) => Matcher::regex(&v)
                .map(|m| Some((n.clone(), m)))
                .map_err(|e| err(n, e)),
            (None, None) => Ok(None),
            (Some((a, _)), Some((b, _))) => Err(err(
                a,
                format!("cannot be given with {b}: both name the {what}; give one"),
            )),
        };
        let (root_at, root) = match self.trusted_root {
            Some((n, r)) => (n, r),
            None => (String::new(), RootSource::Default),
        };
        let (name, material) = match (self.key, self.certificates) {
            (Some((kn, _)), Some((cn, _))) => {
                return Err(err(
                    kn,
                    format!("cannot be given with {cn}: they are two trusts; give one (or a policy with two authorities)"),
                ))
            }
            (Some((name, source)), None) => {
                let keyless = [&self.identity, &self.identity_regexp, &self.issuer, &self.issuer_regexp];
                if let Some((other, _)) = keyless.into_iter().flatten().next() {
                    return Err(err(other.clone(), format!("does not apply beside {name} (it names a certificate's identity)")));
                }
                (name, Material::Key(source))
            }
            (None, Some((name, sources))) => {
                let keyless_only = [&self.identity_regexp, &self.issuer, &self.issuer_regexp];
                if let Some((other, _)) = keyless_only.into_iter().flatten().next() {
                    return Err(err(
                        other.clone(),
                        format!("is keyless Sigstore trust; beside {name} only an exact identity applies"),
                    ));
                }
                if sources.is_empty() {
                    return Err(err(name, "names no certificate"));
                }
                let sources = sources.into_iter().map(|s| {
                    let at = match &s {
                        Source::Path(p) => format!("{name} {p}"),
                        Source::Pem(_) => name.clone(),
                    };
                    (at, s)
                });
                (
                    name.clone(),
                    Material::Certificates {
                        sources: sources.collect(),
                        identity: self.identity.map(|(_, v)| v),
                    },
                )
            }
            (None, None) => {
                let identity = exact_or_regexp(self.identity, self.identity_regexp, "identity")?;
                let issuer = exact_or_regexp(self.issuer, self.issuer_regexp, "OIDC issuer")?;
                match (identity, issuer) {
                    (None, None) if root_at.is_empty() => return Ok(None),
                    (None, None) => {
                        return Err(err(root_at, "names a trusted root, but no identity and issuer to trust"))
                    }
                    (Some((name, identity)), Some((_, issuer))) => {
                        (name, Material::Keyless { identity, issuer })
                    }
                    (Some((name, _)), None) | (None, Some((name, _))) => {
                        return Err(err(
                            name,
                            "keyless trust needs both a certificate identity and an OIDC issuer (there is no trust-anything mode)",
                        ))
                    }
                }
            }
        };
        let root_at = if root_at.is_empty() {
            name.clone()
        } else {
            root_at
        };
        Ok(Some(Document {
            rules: vec![DocRule {
                name: name.clone(),
                // Unwrap-free: "**" is a valid glob.
                models: Glob::parse("**").into_iter().collect(),
                authorities: vec![DocAuthority {
                    name: name.clone(),
                    shorthand: true,
                    material_at: name,
                    material,
                    root,
                    root_at,
                    window: Window::default(),
                }],
            }],
            revoked: Vec::new(),
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str = include_str!("../../../testdata/model-signing/dir-basic/keys/signer.pub.pem");
    const CA: &str = include_str!("../../../testdata/model-signing-pki/ca/root.pem");

    /// Files by name: `k.pub` a key, `ca.pem` CA certificates, `root.json` the carried root.
    struct Fake;

    impl Resolve for Fake {
        fn read(&mut self, path: &str) -> Result<Vec<u8>, String> {
            match path {
                "k.pub" => Ok(KEY.as_bytes().to_vec()),
                "ca.pem" => Ok(CA.as_bytes().to_vec()),
                "root.json" => Ok(crate::trusted_root::PRODUCTION.to_vec()),
                "junk" => Ok(b"junk".to_vec()),
                _ => Err("No such file or directory".into()),
            }
        }

        fn kms_key(&mut self, reference: &str) -> Result<PublicKey, String> {
            match reference {
                "awskms:///alias/ok" => {
                    PublicKey::from_pem(KEY.as_bytes()).map_err(|e| e.to_string())
                }
                _ => Err("NotFoundException".into()),
            }
        }

        fn default_root(&mut self) -> Result<Vec<u8>, String> {
            Ok(crate::trusted_root::PRODUCTION.to_vec())
        }
    }

    fn policy(rules: serde_json::Value) -> serde_json::Value {
        serde_json::json!({"apiVersion": API_VERSION, "kind": KIND, "rules": rules})
    }

    fn one(authority: serde_json::Value) -> serde_json::Value {
        policy(serde_json::json!([{"name": "r", "models": ["**"], "authorities": [authority]}]))
    }

    fn build(doc: &serde_json::Value) -> Result<Policy, PolicyError> {
        Document::from_json(&serde_json::to_vec(doc).unwrap())?.resolve(&mut Fake, 1_800_000_000)
    }

    fn error_at(doc: serde_json::Value) -> PolicyError {
        build(&doc).expect_err("a bad policy was accepted")
    }

    #[test]
    fn every_material_kind_resolves() {
        let doc = policy(serde_json::json!([
            {"name": "a", "models": ["s3://m/a/**"], "authorities": [
                {"name": "pem", "key": {"pem": KEY}},
                {"name": "path", "key": {"path": "k.pub", "trustedRoot": {"path": "root.json"}}},
                {"name": "kms", "key": {"kms": "awskms:///alias/ok"}, "signedBefore": "2026-07-01T00:00:00Z"},
                {"name": "ca", "certificates": {"path": "ca.pem", "identity": "x@y"}},
                {"name": "kl", "keyless": {"identityRegexp": ".*@y", "issuer": "https://i",
                  "trustedRoot": {"json": serde_json::from_slice::<serde_json::Value>(crate::trusted_root::PRODUCTION).unwrap()}}}
            ]},
            {"name": "b", "models": ["**"], "authorities": [{"name": "ca-pem", "certificates": {"pem": CA}}]}
        ]));
        let p = build(&doc).unwrap();
        assert_eq!(p.rules().len(), 2);
        assert_eq!(p.rules()[0].authorities.len(), 5);
        assert!(p.rules()[0].authorities[2].window.before.is_some());
        assert_eq!(p.rule_for("s3://m/a/x").unwrap().name, "a");
        assert_eq!(p.rule_for("s3://m/b").unwrap().name, "b");
    }

    #[test]
    fn bad_policies_name_their_field() {
        let key = serde_json::json!({"pem": KEY});
        for (doc, path, why) in [
            (
                serde_json::json!({"apiVersion": "v2", "kind": KIND, "rules": []}),
                "apiVersion",
                "is not modelseal.dev/v1",
            ),
            (
                serde_json::json!({"apiVersion": API_VERSION, "kind": "Policy", "rules": []}),
                "kind",
                "is not TrustPolicy",
            ),
            (policy(serde_json::json!([])), "rules", "at least one rule"),
            (
                serde_json::json!({"apiVersion": API_VERSION, "kind": KIND, "rules": [], "extra": 1}),
                "extra",
                "unknown field `extra`",
            ),
            (
                policy(
                    serde_json::json!([{"name": "r", "models": [], "authorities": [{"name": "a", "key": key}]}]),
                ),
                "rules[0].models",
                "at least one model glob",
            ),
            (
                policy(serde_json::json!([{"name": "r", "models": ["**"], "authorities": []}])),
                "rules[0].authorities",
                "at least one authority",
            ),
            (
                policy(
                    serde_json::json!([{"name": "r", "models": [""], "authorities": [{"name": "a", "key": key}]}]),
                ),
                "rules[0].models[0]",
                "empty",
            ),
            (
                one(serde_json::json!({"name": "a", "key": {"pmm": KEY}})),
                "rules[0].authorities[0].key.pmm",
                "unknown field `pmm`",
            ),
            (
                one(serde_json::json!({"name": "a", "key": {"pem": "not a key"}})),
                "rules[0].authorities[0].key.pem",
                "PEM",
            ),
            (
                one(serde_json::json!({"name": "a", "key": {"pem": KEY, "path": "k.pub"}})),
                "rules[0].authorities[0].key",
                "exactly one of pem, path, kms",
            ),
            (
                one(serde_json::json!({"name": "a", "key": {}})),
                "rules[0].authorities[0].key",
                "needs one of pem, path, kms",
            ),
            (
                one(serde_json::json!({"name": "a", "key": {"path": "absent.pub"}})),
                "rules[0].authorities[0].key.path",
                "No such file",
            ),
            (
                one(serde_json::json!({"name": "a", "key": {"path": "junk"}})),
                "rules[0].authorities[0].key.path",
                "PEM",
            ),
            (
                one(serde_json::json!({"name": "a", "key": {"kms": "awskms:///alias/gone"}})),
                "rules[0].authorities[0].key.kms",
                "NotFoundException",
            ),
            (
                one(
                    serde_json::json!({"name": "a", "key": key, "keyless": {"identity": "i", "issuer": "s"}}),
                ),
                "rules[0].authorities[0]",
                "exactly one of key, certificates, keyless",
            ),
            (
                one(serde_json::json!({"name": "a"})),
                "rules[0].authorities[0]",
                "needs one of key, certificates, keyless",
            ),
            (
                one(serde_json::json!({"name": "a", "certificates": {"pem": KEY}})),
                "rules[0].authorities[0].certificates.pem",
                "not a CERTIFICATE",
            ),
            (
                one(serde_json::json!({"name": "a", "certificates": {"pem": CA, "identity": " "}})),
                "rules[0].authorities[0].certificates.identity",
                "is empty",
            ),
            (
                one(serde_json::json!({"name": "a", "keyless": {"identity": "", "issuer": "s"}})),
                "rules[0].authorities[0].keyless.identity",
                "is empty",
            ),
            (
                one(serde_json::json!({"name": "a", "keyless": {"identity": "i"}})),
                "rules[0].authorities[0].keyless",
                "needs one of issuer, issuerRegexp",
            ),
            (
                one(
                    serde_json::json!({"name": "a", "keyless": {"identity": "i", "identityRegexp": "i", "issuer": "s"}}),
                ),
                "rules[0].authorities[0].keyless",
                "exactly one of identity, identityRegexp",
            ),
            (
                one(
                    serde_json::json!({"name": "a", "keyless": {"identityRegexp": "(", "issuer": "s"}}),
                ),
                "rules[0].authorities[0].keyless.identityRegexp",
                "not a regular expression",
            ),
            (
                one(
                    serde_json::json!({"name": "a", "keyless": {"identity": "i", "issuer": "s", "trustedRoot": {"path": "junk"}}}),
                ),
                "rules[0].authorities[0].keyless.trustedRoot",
                "not a usable trusted root",
            ),
            (
                one(
                    serde_json::json!({"name": "a", "keyless": {"identity": "i", "issuer": "s", "trustedRoot": {}}}),
                ),
                "rules[0].authorities[0].keyless.trustedRoot",
                "needs one of path, json",
            ),
            (
                one(serde_json::json!({"name": "a", "key": key, "signedBefore": "yesterday"})),
                "rules[0].authorities[0].signedBefore",
                "RFC 3339",
            ),
            (
                one(
                    serde_json::json!({"name": "a", "key": key, "signedAfter": "2026-07-01T00:00:00Z", "signedBefore": "2026-07-01T00:00:00Z"}),
                ),
                "rules[0].authorities[0].signedAfter",
                "must be before signedBefore",
            ),
            (
                one(serde_json::json!({"name": "r", "key": key})),
                "rules[0].authorities[0].name",
                "already used at rules[0].name",
            ),
            (
                one(serde_json::json!({"name": "", "key": key})),
                "rules[0].authorities[0].name",
                "is empty",
            ),
            (
                one(serde_json::json!({"name": 7, "key": key})),
                "rules[0].authorities[0].name",
                "invalid type",
            ),
            (
                serde_json::json!({"apiVersion": API_VERSION, "kind": KIND, "rules": [{"name": "r", "models": ["**"], "authorities": [{"name": "a", "key": key}]}], "revoked": {"digests": ["sha256:ABC"]}}),
                "revoked.digests[0]",
                "64 lowercase hex",
            ),
        ] {
            let e = error_at(doc);
            assert_eq!(e.path, path, "{e}");
            assert!(e.why.contains(why), "{path}: {e}");
        }
        // Not JSON at all: serde's line and column.
        let e = Document::from_json(b"{ nope").unwrap_err();
        assert!(e.why.contains("line 1"), "{e}");
    }

    #[test]
    fn shorthands_are_one_rule_named_after_their_option() {
        let s = Shorthand {
            key: Some(("--key".into(), KeySource::Pem(KEY.into()))),
            ..Shorthand::default()
        };
        let p = s
            .document()
            .unwrap()
            .unwrap()
            .resolve(&mut Fake, 0)
            .unwrap();
        assert_eq!(p.rule_for("/anything").unwrap().name, "--key");
        assert_eq!(p.rules()[0].authorities[0].name, "--key");
        assert!(Shorthand::default().document().unwrap().is_none());
        let named = |n: &str, v: &str| Some((n.to_string(), v.to_string()));
        for (s, path, why) in [
            (
                Shorthand {
                    identity: named("--certificate-identity", ""),
                    issuer: named("--certificate-oidc-issuer", "https://i"),
                    ..Shorthand::default()
                },
                "--certificate-identity",
                "is empty",
            ),
            (
                Shorthand {
                    identity: named("--certificate-identity", "a"),
                    ..Shorthand::default()
                },
                "--certificate-identity",
                "needs both",
            ),
            (
                Shorthand {
                    issuer_regexp: named("--certificate-oidc-issuer-regexp", "("),
                    identity: named("--certificate-identity", "a"),
                    ..Shorthand::default()
                },
                "--certificate-oidc-issuer-regexp",
                "not a regular expression",
            ),
            (
                Shorthand {
                    trusted_root: Some((
                        "--trusted-root".into(),
                        RootSource::Path("root.json".into()),
                    )),
                    ..Shorthand::default()
                },
                "--trusted-root",
                "no identity and issuer",
            ),
        ] {
            let e = s.document().unwrap_err();
            assert_eq!(e.path, path, "{e}");
            assert!(e.why.contains(why), "{e}");
        }
        // A file named by a shorthand is named by its flag and value in errors.
        let s = Shorthand {
            certificates: Some((
                "--certificate-chain".into(),
                vec![Source::Path("absent.pem".into())],
            )),
            ..Shorthand::default()
        };
        let e = s
            .document()
            .unwrap()
            .unwrap()
            .resolve(&mut Fake, 0)
            .unwrap_err();
        assert_eq!(e.path, "--certificate-chain absent.pem");
    }
}
