//! Progress on stderr: a bar on a terminal (a real pty, from util-linux `script`), periodic lines
//! when stderr is a pipe (as in CI logs and `kubectl logs`), nothing with `--quiet`.
//! `MODELSEAL_PROGRESS_SECONDS` shortens the 10 s interval so a test sees several lines.

use crate::common;

use std::path::Path;
use std::process::Command;

use crate::common::aws;
use crate::common::{testdata, Run};

const SIGNER: &str = "model-signing/dir-basic/keys/signer.key.pem";
const SIGNER_PUB: &str = "model-signing/dir-basic/keys/signer.pub.pem";

/// A signed 96 MiB single-file model in a temporary directory.
fn signed_big_file() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::copy(testdata(SIGNER), d.join("signer.key")).unwrap();
    std::fs::copy(testdata(SIGNER_PUB), d.join("signer.pub")).unwrap();
    let data: Vec<u8> = (0..96u32 << 20).map(|i| (i % 251) as u8).collect();
    std::fs::write(d.join("big.bin"), data).unwrap();
    let r = run(
        d,
        &["sign", "big.bin", "--key", "signer.key", "--quiet"],
        None,
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    dir
}

fn run(dir: &Path, args: &[&str], every: Option<&str>) -> Run {
    let mut c = common::modelseal();
    c.current_dir(dir).args(args);
    match every {
        Some(s) => c.env("MODELSEAL_PROGRESS_SECONDS", s),
        None => c.env_remove("MODELSEAL_PROGRESS_SECONDS"),
    };
    c.output().unwrap().into()
}

fn progress_lines<'a>(stderr: &'a str, label: &str) -> Vec<&'a str> {
    stderr
        .lines()
        .filter(|l| l.starts_with(&format!("modelseal: {label}")))
        .collect()
}

#[test]
fn a_pipe_gets_periodic_lines_and_quiet_gets_none() {
    let dir = signed_big_file();
    let d = dir.path();
    let args = ["verify", "big.bin", "--key", "signer.pub"];

    let r = run(d, &args, Some("0.001"));
    assert_eq!(r.code, 0, "{}", r.stderr);
    let lines = progress_lines(&r.stderr, "verify big.bin (1 file): ");
    assert!(!lines.is_empty(), "no progress line in {:?}", r.stderr);
    for l in &lines {
        assert!(
            l.contains(" of 96.0 MiB (") && l.contains("/s"),
            "not a progress line: {l}"
        );
    }
    assert!(
        r.stdout.starts_with("Verified OK"),
        "stdout stays the result"
    );

    let mut quiet = args.to_vec();
    quiet.push("--quiet");
    let r = run(d, &quiet, Some("0.001"));
    assert_eq!(r.code, 0);
    assert_eq!(r.stderr, "", "--quiet prints no progress");

    // At the default interval a run this short prints nothing: logs stay as they were.
    let r = run(d, &args, None);
    assert_eq!(r.stderr, "");

    // An interval that is not seconds is refused before anything runs.
    let r = run(d, &args, Some("soon"));
    assert_eq!(r.code, 2);
    assert_eq!(
        r.stderr,
        "error: MODELSEAL_PROGRESS_SECONDS 'soon' is not a number of seconds above 0 and at most 86400\n\
hint: unset it, or give seconds, e.g. MODELSEAL_PROGRESS_SECONDS=10\n"
    );
    assert_eq!(r.stdout, "");
}

/// Runs `modelseal ARGS` in `dir` with a pty as its terminal (`script -qfec`), returning all it
/// wrote there.
fn on_terminal(dir: &Path, args: &str) -> String {
    let exe = env!("CARGO_BIN_EXE_modelseal");
    let out = Command::new("script")
        .current_dir(dir)
        .env("COLUMNS", "120")
        .env_remove("MODELSEAL_PROGRESS_SECONDS")
        .args(["-qfec", &format!("{exe} {args}"), "/dev/null"])
        .output()
        .expect("util-linux script");
    assert!(out.status.success(), "{out:?}");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn a_terminal_gets_a_bar_and_quiet_gets_none() {
    let dir = signed_big_file();
    let d = dir.path();
    let shown = on_terminal(d, "verify big.bin --key signer.pub");
    assert!(
        shown.contains("verify big.bin (1 file) [") && shown.contains("/96.00 MiB"),
        "no bar in {shown:?}"
    );
    assert!(shown.contains("ETA"), "{shown:?}");
    // The bar is cleared when done; the verdict is what remains.
    assert!(shown.contains("Verified OK"));

    let shown = on_terminal(d, "verify big.bin --key signer.pub --quiet");
    assert!(
        !shown.contains("ETA"),
        "--quiet still drew a bar: {shown:?}"
    );
    assert!(shown.contains("Verified OK"));
}

#[test]
fn pull_lines_name_the_model_and_its_phases() {
    let Some(url) = aws::server("MODELSEAL_TEST_MOTO") else {
        return;
    };
    let rt = aws::rt();
    let s3 = aws::s3(&url, "testing", "testing");
    let kms = aws::kms(&url);
    let dir = signed_big_file();
    let d = dir.path();
    let bucket = aws::bucket(&s3, &rt, "progress");
    let (sse, _) = aws::sse_key(&kms, &rt);
    let ms = |args: &[&str]| -> Run {
        let mut c = aws::modelseal(&url, "testing", "testing");
        c.current_dir(d)
            .env("MODELSEAL_PROGRESS_SECONDS", "0.001")
            .args(args);
        c.output().unwrap().into()
    };
    let uri = format!("s3://{bucket}/big.bin");
    let r = ms(&[
        "push",
        "big.bin",
        &uri,
        "--key",
        "signer.key",
        "--sse-kms-key-id",
        &sse,
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let push = progress_lines(&r.stderr, &format!("push {uri} (1 file): "));
    assert!(
        push.iter().any(|l| l.contains(" of 96.0 MiB (")),
        "{push:?}"
    );
    // The last phases are named instead of sitting at 100%.
    assert!(
        push.iter()
            .any(|l| l.ends_with(": uploading the signature")),
        "{push:?}"
    );

    let r = ms(&["pull", &uri, "out", "--key", "signer.pub"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let pull = progress_lines(&r.stderr, &format!("pull {uri} (1 file): "));
    assert!(
        pull.iter().any(|l| l.contains("MiB of 96.0 MiB (")),
        "{pull:?}"
    );
    assert!(
        pull.iter()
            .any(|l| l.ends_with(": verified; placing the files")),
        "{pull:?}"
    );
}
