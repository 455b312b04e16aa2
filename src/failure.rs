//! The one error type the CLI prints: what happened, the detail lines, a hint, and an exit code.

use std::fmt;

/// The artifact cannot be trusted (a security verdict).
pub const EXIT_UNTRUSTED: u8 = 1;
/// The check could not be run: usage, configuration, keys, I/O.
pub const EXIT_CANNOT_CHECK: u8 = 2;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Untrusted,
    CannotCheck,
}

#[derive(Debug)]
pub struct Failure {
    kind: Kind,
    message: String,
    details: Vec<String>,
    hint: String,
    /// What `--json` reports beside the message (boxed: most failures have none).
    extra: Option<Box<Extra>>,
}

/// Per-file findings and a command's own fields, for `--json`.
#[derive(Debug, Default)]
pub struct Extra {
    pub findings: Vec<Finding>,
    pub report: serde_json::Map<String, serde_json::Value>,
    /// Every cause the AWS SDK gave, printed only with `--verbose`.
    pub debug: Option<String>,
}

/// One thing wrong with one file or object, for `--json` (`kind` names what, `detail` says it
/// as the text output does).
#[derive(Debug, Clone)]
pub struct Finding {
    pub kind: &'static str,
    pub path: String,
    pub detail: String,
}

impl Failure {
    pub fn untrusted(message: impl Into<String>, hint: impl Into<String>) -> Self {
        Failure {
            kind: Kind::Untrusted,
            message: message.into(),
            details: Vec::new(),
            hint: hint.into(),
            extra: None,
        }
    }

    pub fn cannot_check(message: impl Into<String>, hint: impl Into<String>) -> Self {
        Failure {
            kind: Kind::CannotCheck,
            message: message.into(),
            details: Vec::new(),
            hint: hint.into(),
            extra: None,
        }
    }

    pub fn with_details(mut self, details: Vec<String>) -> Self {
        self.details = details;
        self
    }

    /// The findings `--json` lists; the text output shows them as the detail lines.
    pub fn with_findings(mut self, findings: Vec<Finding>) -> Self {
        self.details = findings.iter().map(|f| f.detail.clone()).collect();
        self.extra.get_or_insert_default().findings = findings;
        self
    }

    /// Fields a command reports even when it fails (the audit's models and settings).
    pub fn with_report(mut self, report: &impl serde::Serialize) -> Self {
        if let Ok(serde_json::Value::Object(map)) = serde_json::to_value(report) {
            self.extra.get_or_insert_default().report = map;
        }
        self
    }

    /// The causes behind the message, for `--verbose`.
    pub fn with_debug(mut self, debug: String) -> Self {
        self.extra.get_or_insert_default().debug = Some(debug);
        self
    }

    pub fn kind(&self) -> Kind {
        self.kind
    }

    pub fn message(&self) -> &str {
        &self.message
    }

    pub fn hint(&self) -> &str {
        &self.hint
    }

    pub fn details(&self) -> &[String] {
        &self.details
    }

    pub fn extra(&self) -> Option<&Extra> {
        self.extra.as_deref()
    }

    pub fn exit_code(&self) -> u8 {
        match self.kind {
            Kind::Untrusted => EXIT_UNTRUSTED,
            Kind::CannotCheck => EXIT_CANNOT_CHECK,
        }
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "error: {}", self.message)?;
        for d in &self.details {
            writeln!(f, "  {d}")?;
        }
        writeln!(f, "hint: {}", self.hint)
    }
}

pub type Result<T> = std::result::Result<T, Failure>;

/// An I/O failure on a named path: the check could not be run.
pub fn io(action: &str, path: &std::path::Path, e: &std::io::Error) -> Failure {
    Failure::cannot_check(
        format!("cannot {action} {}: {}", path.display(), plain(e)),
        io_hint(e),
    )
}

/// What to do about an I/O failure, by its kind.
pub fn io_hint(e: &std::io::Error) -> &'static str {
    match e.kind() {
        std::io::ErrorKind::NotFound => "check the path",
        std::io::ErrorKind::PermissionDenied => "check the file's permissions",
        _ => "check the file and the disk, then try again",
    }
}

/// An io::Error's text without Rust's " (os error N)" suffix.
fn plain(e: &std::io::Error) -> String {
    let s = e.to_string();
    match s.find(" (os error") {
        Some(i) => s[..i].to_string(),
        None => s,
    }
}
