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
}

impl Failure {
    pub fn untrusted(message: impl Into<String>, hint: impl Into<String>) -> Self {
        Failure {
            kind: Kind::Untrusted,
            message: message.into(),
            details: Vec::new(),
            hint: hint.into(),
        }
    }

    pub fn cannot_check(message: impl Into<String>, hint: impl Into<String>) -> Self {
        Failure {
            kind: Kind::CannotCheck,
            message: message.into(),
            details: Vec::new(),
            hint: hint.into(),
        }
    }

    pub fn with_details(mut self, details: Vec<String>) -> Self {
        self.details = details;
        self
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
    let hint = match e.kind() {
        std::io::ErrorKind::NotFound => "check the path",
        std::io::ErrorKind::PermissionDenied => "check the file's permissions",
        _ => "check the file and the disk, then try again",
    };
    Failure::cannot_check(
        format!("cannot {action} {}: {}", path.display(), plain(e)),
        hint,
    )
}

/// An io::Error's text without Rust's " (os error N)" suffix.
fn plain(e: &std::io::Error) -> String {
    let s = e.to_string();
    match s.find(" (os error") {
        Some(i) => s[..i].to_string(),
        None => s,
    }
}
