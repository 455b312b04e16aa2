//! The command reference, generated from the clap definitions: `docs/cli.md`, man pages and
//! shell completions. `scripts/gen-docs.sh` writes the files; a test fails when docs/cli.md is
//! stale.

use std::fmt::Write as _;
use std::path::Path;

use clap::CommandFactory as _;

use crate::failure::{Failure, Result};

/// The CLI as users see it, with global flags propagated into every subcommand.
fn built() -> clap::Command {
    let mut cmd = crate::cli::Cli::command();
    cmd.build();
    cmd
}

/// docs/cli.md: every command, its usage, its flags under their headings, and its examples.
pub fn markdown() -> String {
    let cmd = built();
    let mut out = String::new();
    out.push_str("# modelseal command reference\n\n");
    out.push_str(
        "Generated from the CLI's own definitions by `scripts/gen-docs.sh`; do not edit. \
         `modelseal COMMAND --help` prints the same.\n\n",
    );
    let mut leaves = Vec::new();
    collect(&cmd, &mut leaves);
    for (path, _) in &leaves {
        let anchor = path.replace(' ', "-");
        let _ = writeln!(out, "- [`{path}`](#{anchor})");
    }
    out.push('\n');
    if let Some(after) = cmd.get_after_help() {
        let _ = writeln!(out, "{}\n", after.to_string().trim_end());
    }
    for (path, sub) in &leaves {
        section(&mut out, path, sub);
    }
    out
}

fn collect<'a>(cmd: &'a clap::Command, out: &mut Vec<(String, &'a clap::Command)>) {
    let mut subs: Vec<_> = cmd.get_subcommands().filter(|s| !s.is_hide_set()).collect();
    subs.sort_by_key(|s| s.get_display_order());
    for sub in subs {
        if sub.get_name() == "help" {
            continue;
        }
        if sub.has_subcommands() {
            collect(sub, out);
        } else {
            let bin = sub.get_bin_name().unwrap_or(sub.get_name());
            out.push((bin.to_string(), sub));
        }
    }
}

fn section(out: &mut String, path: &str, cmd: &clap::Command) {
    let _ = writeln!(out, "## {path}\n");
    if let Some(about) = cmd.get_long_about().or(cmd.get_about()) {
        let _ = writeln!(out, "{}\n", about.to_string().trim_end());
    }
    let usage = cmd.clone().render_usage().to_string();
    let _ = writeln!(out, "```text\n{}\n```\n", usage.trim_end());
    let positionals: Vec<_> = cmd.get_positionals().filter(|a| !a.is_hide_set()).collect();
    if !positionals.is_empty() {
        out.push_str("Arguments:\n\n");
        for a in positionals {
            let name = a
                .get_value_names()
                .and_then(|v| v.first())
                .map_or_else(|| a.get_id().to_string().to_uppercase(), |v| v.to_string());
            let _ = writeln!(out, "- `<{name}>`: {}", help_of(a));
        }
        out.push('\n');
    }
    // Headings in the order their first flag appears, as --help shows them.
    let mut headings: Vec<Option<&str>> = Vec::new();
    let shown = || {
        cmd.get_arguments()
            .filter(|a| !a.is_positional() && !a.is_hide_set())
    };
    for a in shown() {
        let h = a.get_help_heading();
        if !headings.contains(&h) {
            headings.push(h);
        }
    }
    headings.sort_by_key(|h| h.is_some());
    for h in headings {
        let _ = writeln!(out, "{}:\n", h.unwrap_or("Options"));
        for a in shown().filter(|a| a.get_help_heading() == h) {
            let _ = writeln!(out, "- `{}`: {}", flag_name(a), help_of(a));
        }
        out.push('\n');
    }
    if let Some(after) = cmd.get_after_help() {
        let text = after.to_string();
        let (examples, rest) = match text.split_once("\n\n") {
            Some((e, r)) => (e.to_string(), r.trim().to_string()),
            None => (text.clone(), String::new()),
        };
        let body = examples.trim_start_matches("Example:").trim_matches('\n');
        let _ = writeln!(out, "Examples:\n\n```sh\n{}\n```\n", dedent(body));
        if !rest.is_empty() {
            let _ = writeln!(out, "{rest}\n");
        }
    }
}

fn flag_name(a: &clap::Arg) -> String {
    let mut name = String::new();
    if let Some(s) = a.get_short() {
        let _ = write!(name, "-{s}, ");
    }
    if let Some(l) = a.get_long() {
        let _ = write!(name, "--{l}");
    }
    if a.get_action().takes_values() {
        let value = a
            .get_value_names()
            .and_then(|v| v.first())
            .map_or_else(|| a.get_id().to_string().to_uppercase(), |v| v.to_string());
        if a.is_require_equals_set() {
            let _ = write!(name, "[=<{value}>]");
        } else {
            let _ = write!(name, " <{value}>");
        }
    }
    name
}

fn help_of(a: &clap::Arg) -> String {
    let mut text = a
        .get_long_help()
        .or(a.get_help())
        .map(|h| h.to_string())
        .unwrap_or_default()
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ");
    let values: Vec<String> = a
        .get_possible_values()
        .iter()
        .filter(|v| !v.is_hide_set())
        .map(|v| v.get_name().to_string())
        .collect();
    if !values.is_empty() && a.get_action().takes_values() {
        let _ = write!(text, " [possible values: {}]", values.join(", "));
    }
    let defaults: Vec<String> = a
        .get_default_values()
        .iter()
        .map(|v| v.to_string_lossy().into_owned())
        .collect();
    if !defaults.is_empty() && a.get_action().takes_values() {
        let _ = write!(text, " [default: {}]", defaults.join(", "));
    }
    if let Some(env) = a.get_env() {
        let _ = write!(text, " [env: {}]", env.to_string_lossy());
    }
    let aliases = a.get_visible_aliases().unwrap_or_default();
    if !aliases.is_empty() {
        let _ = write!(text, " [aliases: --{}]", aliases.join(", --"));
    }
    text
}

fn dedent(text: &str) -> String {
    text.lines()
        .map(|l| l.strip_prefix("  ").unwrap_or(l))
        .collect::<Vec<_>>()
        .join("\n")
}

/// Man pages: modelseal.1 and one per command (modelseal-sign.1, modelseal-trust-update.1).
pub fn man_pages(dir: &Path) -> Result<()> {
    let cmd = built();
    let mut pages = vec![("modelseal".to_string(), cmd.clone())];
    let mut leaves = Vec::new();
    collect(&cmd, &mut leaves);
    for (path, sub) in leaves {
        let name = path.replace(' ', "-");
        pages.push((name.clone(), sub.clone().name(name.clone()).bin_name(name)));
    }
    for (name, page) in pages {
        let mut bytes = Vec::new();
        let path = dir.join(format!("{name}.1"));
        clap_mangen::Man::new(page)
            .render(&mut bytes)
            .map_err(|e| {
                Failure::cannot_check(
                    format!("cannot render '{}': {e}", path.display()),
                    "report this bug",
                )
            })?;
        // Whole or not at all, never through a symlink: as every file modelseal writes.
        crate::files::write_atomic(&path, &bytes, 0o644, true)?;
    }
    Ok(())
}

/// Shell completions on stdout.
pub fn completions(shell: clap_complete::Shell) {
    let mut cmd = crate::cli::Cli::command();
    clap_complete::generate(shell, &mut cmd, "modelseal", &mut std::io::stdout());
}

#[cfg(test)]
mod tests {
    /// docs/cli.md is what the CLI says of itself; `scripts/gen-docs.sh` rewrites it.
    #[test]
    fn cli_md_is_current() {
        // SNAPSHOTS=overwrite rewrites it (the bless mode of the golden tests); so does
        // scripts/gen-docs.sh.
        let path = std::path::Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/docs/cli.md"));
        snapbox::Assert::new()
            .action_env(snapbox::assert::DEFAULT_ACTION_ENV)
            .eq(
                super::markdown(),
                snapbox::Data::read_from(path, None).raw(),
            );
    }
}

#[cfg(test)]
mod links {
    use std::path::{Path, PathBuf};

    /// The documents a user reads: README, the guides, and the READMEs beside code.
    fn documents(root: &Path) -> Vec<PathBuf> {
        let mut docs: Vec<PathBuf> = [
            "README.md",
            "CONTRIBUTING.md",
            "ARCHITECTURE.md",
            "deploy/README.md",
            "bench/README.md",
            "fuzz/README.md",
            "testdata/README.md",
        ]
        .iter()
        .map(|p| root.join(p))
        .collect();
        for entry in std::fs::read_dir(root.join("docs")).unwrap() {
            let p = entry.unwrap().path();
            if p.extension().is_some_and(|e| e == "md") {
                docs.push(p);
            }
        }
        docs
    }

    /// GitHub's anchor for a heading: lowercase, punctuation dropped, spaces to hyphens.
    fn slug(heading: &str) -> String {
        heading
            .trim()
            .to_lowercase()
            .chars()
            .filter(|c| c.is_alphanumeric() || *c == ' ' || *c == '-' || *c == '_')
            .map(|c| if c == ' ' { '-' } else { c })
            .collect()
    }

    fn anchors(text: &str) -> Vec<String> {
        let mut in_code = false;
        let mut out = Vec::new();
        for line in text.lines() {
            if line.starts_with("```") {
                in_code = !in_code;
            } else if !in_code && line.starts_with('#') {
                out.push(slug(line.trim_start_matches('#')));
            }
        }
        out
    }

    /// Every relative link in the documents resolves: the file exists, and an anchor names a
    /// heading of it. No document points outside the repository.
    #[test]
    fn every_relative_link_resolves() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        let mut broken = Vec::new();
        for doc in documents(root) {
            let text = std::fs::read_to_string(&doc).unwrap();
            let name = doc.strip_prefix(root).unwrap().display().to_string();
            if text.contains("../shared") || text.contains("shared/reference") {
                broken.push(format!("{name}: points outside the repository (shared/)"));
            }
            for piece in text.split("](").skip(1) {
                let Some(target) = piece.split(')').next() else {
                    continue;
                };
                if target.contains("://") || target.starts_with("mailto:") || target.contains(' ') {
                    continue;
                }
                let (file, anchor) = target.split_once('#').unwrap_or((target, ""));
                let path = if file.is_empty() {
                    doc.clone()
                } else {
                    doc.parent().unwrap().join(file)
                };
                if !path.exists() {
                    broken.push(format!("{name}: {target}: no such file"));
                    continue;
                }
                if !anchor.is_empty() && path.extension().is_some_and(|e| e == "md") {
                    let linked = std::fs::read_to_string(&path).unwrap();
                    if !anchors(&linked).iter().any(|a| a == anchor) {
                        broken.push(format!("{name}: {target}: no such heading"));
                    }
                }
            }
        }
        assert!(broken.is_empty(), "{}", broken.join("\n"));
    }

    /// The front door stays a front door.
    #[test]
    fn readme_is_short() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        let readme = std::fs::read_to_string(root.join("README.md")).unwrap();
        let lines = readme.lines().count();
        assert!(
            lines <= 150,
            "README.md has {lines} lines; keep it under 150"
        );
        assert!(readme.contains("scripts/demo.sh") && readme.contains("scripts/test.sh"));
    }
}
