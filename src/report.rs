//! The JSON contract: with `--json`, a command prints exactly one JSON object on stdout, on
//! success and on failure alike, in the shape `docs/json-output.schema.json` describes. Every
//! object carries `schema_version`, `command` and `ok`; commands that check something carry
//! `verified`. A failure adds `error` (kind, message, hint, exit code) and `findings`. The exit
//! codes do not change with `--json`, and the text error still goes to stderr.

use serde_json::{json, Map, Value};

use crate::failure::{Failure, Kind};

/// Bumped when a field is removed or changes meaning; new fields do not bump it.
pub const SCHEMA_VERSION: u64 = 1;

/// The commands whose objects carry `verified`.
fn checks(command: &str) -> bool {
    matches!(command, "verify" | "verify-blob" | "pull" | "audit")
}

/// Prints a successful run's object: `fields` (a command's typed report, a struct) after
/// `schema_version`, `command` and `ok`.
pub fn success(command: &str, fields: &impl serde::Serialize) {
    let mut o = head(command, true);
    if let Ok(Value::Object(f)) = serde_json::to_value(fields) {
        o.extend(f);
    }
    println!("{}", Value::Object(o));
}

/// A failure's `error` field.
#[derive(serde::Serialize)]
struct ErrorFields<'a> {
    kind: &'static str,
    message: &'a str,
    hint: &'a str,
    details: &'a [String],
    exit_code: u8,
}

/// One of a failure's `findings`.
#[derive(serde::Serialize)]
struct FindingFields<'a> {
    kind: &'static str,
    path: &'a str,
    detail: &'a str,
}

/// The object of a failed run.
pub fn failure(command: &str, f: &Failure) -> Value {
    let mut o = head(command, false);
    let error = ErrorFields {
        kind: match f.kind() {
            Kind::Untrusted => "untrusted",
            Kind::CannotCheck => "cannot_check",
        },
        message: f.message(),
        hint: f.hint(),
        details: f.details(),
        exit_code: f.exit_code(),
    };
    o.insert("error".into(), json!(error));
    let extra = f.extra();
    let findings: Vec<FindingFields> = extra
        .map(|e| e.findings.as_slice())
        .unwrap_or_default()
        .iter()
        .map(|x| FindingFields {
            kind: x.kind,
            path: &x.path,
            detail: &x.detail,
        })
        .collect();
    o.insert("findings".into(), json!(findings));
    // A command's own fields (the audit's models and findings) complete the object.
    for (k, v) in extra.iter().flat_map(|e| &e.report) {
        if !matches!(
            k.as_str(),
            "schema_version" | "command" | "ok" | "verified" | "error"
        ) {
            o.insert(k.clone(), v.clone());
        }
    }
    Value::Object(o)
}

fn head(command: &str, ok: bool) -> Map<String, Value> {
    let mut o = Map::new();
    o.insert("schema_version".into(), json!(SCHEMA_VERSION));
    o.insert("command".into(), json!(command));
    o.insert("ok".into(), json!(ok));
    if checks(command) {
        o.insert("verified".into(), json!(ok));
    }
    o
}

/// A usage error clap found before any command ran, as the failure object of `command` (the
/// subcommand named on the command line, when there is one).
pub fn usage_failure(command: &str, clap_text: &str) -> Value {
    let message = clap_text
        .lines()
        .next()
        .unwrap_or_default()
        .trim_start_matches("error: ")
        .to_string();
    failure(
        command,
        &Failure::cannot_check(message, "run with --help for the usage"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::failure::Finding;

    #[test]
    fn failure_object_carries_kind_exit_code_findings_and_report() {
        let f = Failure::untrusted("model 'm' does not match its signature", "do not serve it")
            .with_findings(vec![Finding {
                kind: "changed",
                path: "a.bin".into(),
                detail: "a.bin: content changed".into(),
            }])
            .with_report(&json!({"ok": true, "bucket": "b"}));
        let o = failure("verify", &f);
        assert_eq!(o["schema_version"], 1);
        assert_eq!(o["ok"], false);
        assert_eq!(o["verified"], false);
        assert_eq!(o["error"]["kind"], "untrusted");
        assert_eq!(o["error"]["exit_code"], 1);
        assert_eq!(o["findings"][0]["path"], "a.bin");
        assert_eq!(o["error"]["details"][0], "a.bin: content changed");
        // A command's fields never overwrite the verdict.
        assert_eq!(o["bucket"], "b");
    }

    #[test]
    fn writing_commands_have_no_verified_field() {
        let o = failure("push", &Failure::cannot_check("x", "y"));
        assert!(o.get("verified").is_none());
        assert_eq!(o["error"]["exit_code"], 2);
    }
}
