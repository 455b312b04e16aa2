//! Records the commit modelseal was built from, for `--version`.

use std::process::Command;

fn main() {
    let git = |args: &[&str]| {
        Command::new("git")
            .args(args)
            .output()
            .ok()
            .filter(|o| o.status.success())
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
    };
    let commit =
        git(&["rev-parse", "--short=12", "HEAD"]).unwrap_or_else(|| "unknown commit".into());
    println!("cargo:rustc-env=MODELSEAL_COMMIT={commit}");
    // Rebuild when HEAD moves: HEAD itself, and the ref it names.
    if let Some(head) = git(&["rev-parse", "--git-path", "HEAD"]) {
        println!("cargo:rerun-if-changed={head}");
    }
    // The branch's ref, or packed-refs when the ref is packed (a path that does not exist would
    // make cargo rerun this script on every build).
    if let Some(name) = git(&["symbolic-ref", "-q", "HEAD"]) {
        for path in [name.as_str(), "packed-refs"] {
            if let Some(r) = git(&["rev-parse", "--git-path", path]) {
                if std::path::Path::new(&r).exists() {
                    println!("cargo:rerun-if-changed={r}");
                }
            }
        }
    }
    println!("cargo:rerun-if-env-changed=MODELSEAL_COMMIT");
}
