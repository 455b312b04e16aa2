//! Golden tests: the exact stderr and exit code of every CLI failure a user is likely to meet.
//! Paths are relative to a scratch directory so the text is stable.

use crate::common;

use std::path::Path;

use crate::common::{run_in, testdata, write_tree, Run};
use modelseal_kernel::oms;
use modelseal_kernel::PrivateKeyPem;

const SIGNER: &str = "model-signing/dir-basic/keys/signer.key.pem";
const SIGNER_PUB: &str = "model-signing/dir-basic/keys/signer.pub.pem";
const OTHER_PUB: &str = "model-signing-worked-example/keys/ec-p256-public.pem";

/// A scratch directory with keys copied in and a signed three-file model at `model/`.
fn signed_model() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    for (src, dst) in [
        (SIGNER, "signer.key"),
        (SIGNER_PUB, "signer.pub"),
        (OTHER_PUB, "other.pub"),
    ] {
        std::fs::copy(testdata(src), d.join(dst)).unwrap();
    }
    let weights: Vec<u8> = (0..4096u32).map(|i| (i * 7 % 256) as u8).collect();
    write_tree(
        d,
        &[
            ("model/config.json", b"{\"hidden_size\": 64}\n"),
            ("model/weights.bin", &weights),
            ("model/tokenizer/vocab.txt", b"hello\nworld\n"),
        ],
    );
    let r = run_in(d, &["sign", "model", "--key", "signer.key"], &[]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    dir
}

fn verify(d: &Path, key: &str) -> Run {
    run_in(d, &["verify", "model", "--key", key], &[])
}

/// A failure: its stderr against `tests/cli/golden/NAME.stderr`, its exit code, and nothing on
/// stdout. `SNAPSHOTS=overwrite cargo test --test cli cli_golden::` rewrites the files (the
/// bless mode; review the diff before committing it).
#[track_caller]
fn assert_golden(r: &Run, code: i32, name: &str) {
    assert_golden_with(r, code, name, &[]);
}

/// [`assert_golden`] with placeholders: each `(PLACEHOLDER, value)` stands for a value that
/// varies between runs of the same case (`[URI]` in the file for the URI tried).
#[track_caller]
fn assert_golden_with(r: &Run, code: i32, name: &str, placeholders: &[(&'static str, &str)]) {
    let mut redactions = snapbox::Redactions::new();
    for (placeholder, value) in placeholders {
        redactions.insert(placeholder, value.to_string()).unwrap();
    }
    let file = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/cli/golden")
        .join(format!("{name}.stderr"));
    snapbox::Assert::new()
        .action_env(snapbox::assert::DEFAULT_ACTION_ENV)
        .redact_with(redactions)
        .eq(r.stderr.as_str(), snapbox::Data::read_from(&file, None));
    assert_eq!(r.code, code, "exit code differs; stderr: {}", r.stderr);
    assert_eq!(r.stdout, "", "a failure printed to stdout");
}

#[test]
fn success_prints_one_line() {
    let dir = signed_model();
    let r = verify(dir.path(), "signer.pub");
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(r.stderr, "");
    snapbox::Assert::new()
        .action_env(snapbox::assert::DEFAULT_ACTION_ENV)
        .eq(
            r.stdout.as_str(),
            snapbox::file!["golden/success_prints_one_line.stdout"],
        );
}

#[test]
fn tampered_byte() {
    let dir = signed_model();
    let p = dir.path().join("model/weights.bin");
    let mut bytes = std::fs::read(&p).unwrap();
    bytes[1000] ^= 1;
    std::fs::write(&p, bytes).unwrap();
    assert_golden(&verify(dir.path(), "signer.pub"), 1, "tampered_byte");
}

#[test]
fn extra_file() {
    let dir = signed_model();
    write_tree(dir.path(), &[("model/tokenizer/merges.txt", b"a b\n")]);
    assert_golden(&verify(dir.path(), "signer.pub"), 1, "extra_file");
}

#[test]
fn missing_file() {
    let dir = signed_model();
    std::fs::remove_file(dir.path().join("model/tokenizer/vocab.txt")).unwrap();
    assert_golden(&verify(dir.path(), "signer.pub"), 1, "missing_file");
}

#[test]
fn wrong_key() {
    let dir = signed_model();
    assert_golden(&verify(dir.path(), "other.pub"), 1, "wrong_key");
}

#[test]
fn corrupt_signature() {
    let dir = signed_model();
    let p = dir.path().join("model/model.sig");
    let text = std::fs::read_to_string(&p).unwrap();
    let at = text.find("\"sig\":\"").unwrap() + 20;
    let flipped = if &text[at..at + 1] == "A" { "B" } else { "A" };
    std::fs::write(&p, format!("{}{flipped}{}", &text[..at], &text[at + 1..])).unwrap();
    assert_golden(&verify(dir.path(), "signer.pub"), 1, "corrupt_signature");
}

#[test]
fn malformed_signature_file() {
    let dir = signed_model();
    let p = dir.path().join("model/model.sig");
    let text = std::fs::read_to_string(&p).unwrap();
    std::fs::write(&p, &text[..text.len() / 2]).unwrap();
    assert_golden(
        &verify(dir.path(), "signer.pub"),
        1,
        "malformed_signature_file",
    );
}

#[test]
fn missing_signature() {
    let dir = signed_model();
    std::fs::remove_file(dir.path().join("model/model.sig")).unwrap();
    assert_golden(&verify(dir.path(), "signer.pub"), 1, "missing_signature");
}

#[test]
fn wrong_password() {
    let dir = signed_model();
    std::fs::copy(
        testdata("cosign-keys/sigstore_labeled.key"),
        dir.path().join("cosign.key"),
    )
    .unwrap();
    let before = std::fs::read(dir.path().join("model/model.sig")).unwrap();
    let r = run_in(
        dir.path(),
        &["sign", "model", "--key", "cosign.key"],
        &[("COSIGN_PASSWORD", "wrong")],
    );
    assert_golden(&r, 2, "wrong_password");
    assert_eq!(
        std::fs::read(dir.path().join("model/model.sig")).unwrap(),
        before,
        "signature changed"
    );
}

#[test]
fn key_file_that_is_not_a_key() {
    let dir = signed_model();
    assert_golden(
        &verify(dir.path(), "model/config.json"),
        2,
        "key_file_that_is_not_a_key-1",
    );
    assert_golden(
        &verify(dir.path(), "signer.key"),
        2,
        "key_file_that_is_not_a_key-2",
    );
    assert_golden(
        &verify(dir.path(), "absent.pub"),
        2,
        "key_file_that_is_not_a_key-3",
    );
}

#[test]
fn symlink_in_model() {
    let dir = signed_model();
    std::os::unix::fs::symlink("/etc/hostname", dir.path().join("model/tokenizer/link.txt"))
        .unwrap();
    assert_golden(&verify(dir.path(), "signer.pub"), 1, "symlink_in_model");
}

/// A validly signed manifest that names a file outside the model is refused before any file
/// is opened.
#[test]
fn hostile_manifest_path() {
    let dir = signed_model();
    let key = match PrivateKeyPem::parse(&std::fs::read(testdata(SIGNER)).unwrap()).unwrap() {
        PrivateKeyPem::Plain(k) => k,
        PrivateKeyPem::Encrypted(_) => unreachable!(),
    };
    let digest = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
    let root = modelseal_kernel::HashAlgorithm::Sha256
        .digest(&hex_decode(digest))
        .to_hex();
    let payload = format!(
        r#"{{"_type":"https://in-toto.io/Statement/v1","subject":[{{"name":"model","digest":{{"sha256":"{root}"}}}}],"predicateType":"https://model_signing/signature/v1.0","predicate":{{"resources":[{{"name":"../../etc/passwd","algorithm":"sha256","digest":"{digest}"}}],"serialization":{{"method":"files","hash_type":"sha256","allow_symlinks":false}}}}}}"#
    );
    let bundle = oms::sign_statement(key.as_ref(), payload.as_bytes()).unwrap();
    std::fs::write(dir.path().join("model/model.sig"), bundle).unwrap();
    assert_golden(
        &verify(dir.path(), "signer.pub"),
        1,
        "hostile_manifest_path",
    );
}

fn hex_decode(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

/// Runs `verify model --key signer.pub` in `d`, killing it after 20 s (a FIFO signature used to
/// block it forever).
fn verify_with_deadline(d: &Path) -> Run {
    let mut child = common::modelseal()
        .current_dir(d)
        .args(["verify", "model", "--key", "signer.pub"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let started = std::time::Instant::now();
    while child.try_wait().unwrap().is_none() {
        if started.elapsed() > std::time::Duration::from_secs(20) {
            child.kill().unwrap();
            panic!("verify did not finish within 20 s");
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    child.wait_with_output().unwrap().into()
}

#[test]
fn signature_that_is_a_fifo() {
    let dir = signed_model();
    let sig = dir.path().join("model/model.sig");
    std::fs::remove_file(&sig).unwrap();
    assert!(std::process::Command::new("mkfifo")
        .arg(&sig)
        .status()
        .unwrap()
        .success());
    assert_golden(
        &verify_with_deadline(dir.path()),
        1,
        "signature_that_is_a_fifo",
    );
}

#[test]
fn signature_that_is_a_symlink() {
    let dir = signed_model();
    let sig = dir.path().join("model/model.sig");
    std::fs::remove_file(&sig).unwrap();
    std::os::unix::fs::symlink("/dev/zero", &sig).unwrap();
    assert_golden(
        &verify_with_deadline(dir.path()),
        1,
        "signature_that_is_a_symlink",
    );
}

#[test]
fn signature_too_large() {
    let dir = signed_model();
    std::fs::write(dir.path().join("model/model.sig"), vec![b' '; 17 << 20]).unwrap();
    assert_golden(&verify_with_deadline(dir.path()), 1, "signature_too_large");
}

#[test]
fn malformed_s3_uris_are_caught_on_every_command() {
    let dir = signed_model();
    let d = dir.path();
    for (uri, args) in [
        (
            "S3://bucket/m",
            vec!["verify", "S3://bucket/m", "--key", "signer.pub"],
        ),
        (
            "s3:/bucket/m",
            vec!["pull", "s3:/bucket/m", "out", "--key", "signer.pub"],
        ),
        (
            "s3//bucket/m",
            vec![
                "push",
                "model",
                "s3//bucket/m",
                "--key",
                "signer.key",
                "--sse",
                "aws:kms",
            ],
        ),
        (
            "s3:bucket/m",
            vec!["sign", "s3:bucket/m", "--key", "signer.key"],
        ),
        (
            "S3://b/m.sig",
            vec![
                "verify",
                "model",
                "--key",
                "signer.pub",
                "--signature",
                "S3://b/m.sig",
            ],
        ),
        (
            "s3//b/f",
            vec!["sign-blob", "s3//b/f", "--key", "signer.key"],
        ),
        (
            "s3:/b/f",
            vec![
                "verify-blob",
                "s3:/b/f",
                "--key",
                "signer.pub",
                "--signature",
                "x",
            ],
        ),
    ] {
        let r = run_in(d, &args, &[]);
        assert_golden_with(
            &r,
            2,
            "malformed_s3_uris_are_caught_on_every_command",
            &[("[URI]", uri)],
        );
    }
    // A local file that happens to have such a name is still a local file.
    write_tree(d, &[("s3:odd/model.bin", b"x")]);
    let r = run_in(d, &["sign", "s3:odd", "--key", "signer.key"], &[]);
    assert_eq!(r.code, 0, "{}", r.stderr);
}

/// modelseal in `d` with nothing of the caller's AWS setup: HOME is `d`, no AWS variables.
fn run_without_aws(d: &Path, args: &[&str], env: &[(&str, &str)]) -> Run {
    let mut c = common::modelseal();
    c.current_dir(d).args(args).env_clear();
    c.env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("HOME", d)
        .env("AWS_EC2_METADATA_DISABLED", "true");
    for (k, v) in env {
        c.env(k, v);
    }
    c.output().expect("run modelseal").into()
}

#[test]
fn credentials_problems_are_two_lines_and_never_retried() {
    let dir = signed_model();
    let d = dir.path();
    let verify = ["verify", "s3://bucket/m", "--key", "signer.pub"];
    let started = std::time::Instant::now();
    assert_golden(
        &run_without_aws(d, &verify, &[("AWS_REGION", "us-east-1")]),
        2,
        "credentials_problems_are_two_lines_and_never_retried-1",
    );
    // Five attempts with backoff would take over a second.
    assert!(started.elapsed() < std::time::Duration::from_millis(1500));
    assert_golden(
        &run_without_aws(d, &verify, &[("AWS_PROFILE", "nope")]),
        2,
        "credentials_problems_are_two_lines_and_never_retried-2",
    );
    let mut with_flag = verify.to_vec();
    with_flag.extend(["--profile", "other"]);
    assert_golden(
        &run_without_aws(d, &with_flag, &[]),
        2,
        "credentials_problems_are_two_lines_and_never_retried-3",
    );
}

#[test]
fn a_profile_in_the_shared_files_is_used() {
    let Some(moto) = common::aws::server("MODELSEAL_TEST_MOTO") else {
        return;
    };
    let dir = signed_model();
    let d = dir.path();
    write_tree(
        d,
        &[
            (
                ".aws/credentials",
                b"[ci]\naws_access_key_id = testing\naws_secret_access_key = testing\n",
            ),
            (".aws/config", b"[profile ci]\nregion = eu-west-1\n"),
        ],
    );
    let r = run_without_aws(
        d,
        &[
            "verify",
            "s3://no-such-bucket-for-profiles/m",
            "--key",
            "signer.pub",
            "--profile",
            "ci",
            "--endpoint-url",
            &moto,
        ],
        &[],
    );
    // The profile's keys were found and the request reached the server, which answered.
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(
        r.stderr.contains("no-such-bucket-for-profiles"),
        "{}",
        r.stderr
    );
    assert!(!r.stderr.contains("credentials"), "{}", r.stderr);
}

/// IAM Identity Center profiles, as `aws configure sso` writes them (an `sso-session`) and in the
/// legacy form (`sso_start_url` on the profile).
const SSO_CONFIG: &[u8] = b"[profile dev]
sso_session = corp
sso_account_id = 111122223333
sso_role_name = ModelSigner
region = us-east-1

[sso-session corp]
sso_start_url = https://corp.awsapps.com/start
sso_region = us-east-1

[profile legacy]
sso_start_url = https://corp.awsapps.com/start
sso_region = us-east-1
sso_account_id = 111122223333
sso_role_name = ModelSigner
region = us-east-1
";

#[test]
fn an_sso_profile_without_a_valid_token_says_run_aws_sso_login() {
    let dir = signed_model();
    let d = dir.path();
    write_tree(d, &[(".aws/config", SSO_CONFIG)]);
    // Nothing listens there: the token is missing before any request is made.
    let verify = |profile: &str| {
        run_without_aws(
            d,
            &[
                "verify",
                "s3://bucket/m",
                "--key",
                "signer.pub",
                "--profile",
                profile,
                "--endpoint-url",
                "http://127.0.0.1:1",
            ],
            &[],
        )
    };
    let expected = |profile: &str| {
        format!(
            "error: the AWS SSO (IAM Identity Center) session has expired or was never started: no valid token in ~/.aws/sso/cache\n\
hint: run `aws sso login --profile {profile}`, then try again\n"
        )
    };
    // Never logged in.
    assert_golden(
        &verify("dev"),
        2,
        "an_sso_profile_without_a_valid_token_says_run_aws_sso_login-1",
    );
    // --verbose adds the SDK's causes after the two lines, and only then.
    let r = run_without_aws(
        d,
        &[
            "verify",
            "s3://bucket/m",
            "--key",
            "signer.pub",
            "--profile",
            "dev",
            "--endpoint-url",
            "http://127.0.0.1:1",
            "-v",
        ],
        &[],
    );
    assert!(r.stderr.starts_with(&expected("dev")), "{}", r.stderr);
    let debug: Vec<&str> = r.stderr.lines().skip(2).collect();
    assert!(
        !debug.is_empty() && debug.iter().all(|l| l.starts_with("debug: ")),
        "{}",
        r.stderr
    );
    assert!(r.stderr.contains("SSO token"), "{}", r.stderr);
    assert_golden(
        &verify("legacy"),
        2,
        "an_sso_profile_without_a_valid_token_says_run_aws_sso_login-2",
    );
    // Logged in once, and the token has expired (no refresh token to renew it with). The cache
    // file is named by the SHA-1 of the session name, as the aws CLI names it.
    let sha1 = std::process::Command::new("sha1sum")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .and_then(|mut c| {
            use std::io::Write as _;
            c.stdin.take().unwrap().write_all(b"corp")?;
            c.wait_with_output()
        })
        .unwrap();
    let name = String::from_utf8(sha1.stdout).unwrap()[..40].to_string();
    write_tree(
        d,
        &[(
            &format!(".aws/sso/cache/{name}.json"),
            br#"{"accessToken": "expired", "expiresAt": "2020-01-01T00:00:00Z", "region": "us-east-1", "startUrl": "https://corp.awsapps.com/start"}"#,
        )],
    );
    assert_golden(
        &verify("dev"),
        2,
        "an_sso_profile_without_a_valid_token_says_run_aws_sso_login-3",
    );
}

#[test]
fn credential_process_and_assume_role_profiles_reach_the_server() {
    let Some(moto) = common::aws::server("MODELSEAL_TEST_MOTO") else {
        return;
    };
    let dir = signed_model();
    let d = dir.path();
    let helper = d.join("creds.sh");
    std::fs::write(
        &helper,
        "#!/bin/sh\necho '{\"Version\": 1, \"AccessKeyId\": \"testing\", \"SecretAccessKey\": \"testing\"}'\n",
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::set_permissions(&helper, std::fs::Permissions::from_mode(0o755)).unwrap();
    let config = format!(
        "[profile proc]\ncredential_process = {}\nregion = us-east-1\n\n\
[profile chain]\nrole_arn = arn:aws:iam::123456789012:role/signer\nsource_profile = proc\nregion = us-east-1\n",
        helper.display()
    );
    write_tree(d, &[(".aws/config", config.as_bytes())]);
    for profile in ["proc", "chain"] {
        // AWS_ENDPOINT_URL sends STS (the assume-role step) to moto as well.
        let r = run_without_aws(
            d,
            &[
                "verify",
                "s3://no-such-bucket-for-profiles/m",
                "--key",
                "signer.pub",
                "--profile",
                profile,
            ],
            &[("AWS_ENDPOINT_URL", &moto)],
        );
        // Credentials were had and the request reached the server, which answered.
        assert_golden(
            &r,
            2,
            "credential_process_and_assume_role_profiles_reach_the_server",
        );
    }
}

#[test]
fn kms_failures_say_what_failed_not_key_usage() {
    let dir = signed_model();
    let d = dir.path();
    let verify = ["verify", "model", "--key", "awskms:///alias/somekey"];
    assert_golden(
        &run_without_aws(d, &verify, &[("AWS_REGION", "us-east-1")]),
        2,
        "kms_failures_say_what_failed_not_key_usage-1",
    );
    // A port nothing listens on.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let endpoint = format!("http://127.0.0.1:{port}");
    let mut unreachable = verify.to_vec();
    unreachable.extend(["--kms-endpoint-url", &endpoint, "--max-attempts", "1"]);
    let creds = [
        ("AWS_REGION", "us-east-1"),
        ("AWS_ACCESS_KEY_ID", "testing"),
        ("AWS_SECRET_ACCESS_KEY", "testing"),
    ];
    assert_golden(
        &run_without_aws(d, &unreachable, &creds),
        2,
        "kms_failures_say_what_failed_not_key_usage-2",
    );
}

#[test]
fn kms_endpoint_url_and_a_profile_endpoint_reach_kms_apart_from_s3() {
    let Some(moto) = common::aws::server("MODELSEAL_TEST_MOTO") else {
        return;
    };
    let dir = signed_model();
    let d = dir.path();
    let reference = format!("awskms:///alias/modelseal-endpoints-{}", std::process::id());
    let creds = [
        ("AWS_REGION", "us-east-1"),
        ("AWS_ACCESS_KEY_ID", "testing"),
        ("AWS_SECRET_ACCESS_KEY", "testing"),
    ];
    // S3 is somewhere else entirely; --kms-endpoint-url alone reaches KMS. (--endpoint-url, an
    // S3 flag, means nothing to generate-key-pair and is refused there.)
    let mut s3_elsewhere = creds.to_vec();
    s3_elsewhere.push(("AWS_ENDPOINT_URL_S3", "http://127.0.0.1:1"));
    let r = run_without_aws(
        d,
        &[
            "generate-key-pair",
            "--kms",
            &reference,
            "--endpoint-url",
            "http://127.0.0.1:1",
        ],
        &creds,
    );
    assert_eq!(r.code, 2, "{}", r.stderr);
    let r = run_without_aws(
        d,
        &[
            "generate-key-pair",
            "--kms",
            &reference,
            "--kms-endpoint-url",
            &moto,
        ],
        &s3_elsewhere,
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    let public = std::fs::read_to_string(d.join("cosign.pub")).unwrap();
    let r = run_without_aws(
        d,
        &[
            "public-key",
            "--key",
            &reference,
            "--kms-endpoint-url",
            &moto,
        ],
        &creds,
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(r.stdout, public);
    // A profile's endpoint_url, as the aws CLI reads it.
    let config = format!("[profile lab]\nregion = us-east-1\nendpoint_url = {moto}\n");
    write_tree(
        d,
        &[
            (".aws/config", config.as_bytes()),
            (
                ".aws/credentials",
                b"[lab]\naws_access_key_id = testing\naws_secret_access_key = testing\n",
            ),
        ],
    );
    let r = run_without_aws(
        d,
        &["public-key", "--key", &reference, "--profile", "lab"],
        &[],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(r.stdout, public);
}

#[test]
fn cosign_habits_env_keys_and_flags() {
    let dir = signed_model();
    let d = dir.path();
    let private = std::fs::read_to_string(d.join("signer.key")).unwrap();
    let public = std::fs::read_to_string(d.join("signer.pub")).unwrap();
    let env = [("MS_KEY", private.as_str()), ("MS_PUB", public.as_str())];
    // env://VAR keys, and cosign's flags with the meaning we share.
    let r = run_in(
        d,
        &[
            "sign",
            "model",
            "--key",
            "env://MS_KEY",
            "--tlog-upload=false",
            "-y",
        ],
        &env,
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    let r = run_in(d, &["verify", "model", "--key", "env://MS_PUB"], &env);
    assert_eq!(r.code, 0, "{}", r.stderr);
    // cosign's --output-signature (and --output) name where `sign` writes the signature.
    for flag in ["--output-signature", "--output"] {
        let out = format!("out{flag}.sig");
        let r = run_in(
            d,
            &["sign", "model", "--key", "env://MS_KEY", flag, &out],
            &env,
        );
        assert_eq!(r.code, 0, "{flag}: {}", r.stderr);
        let signature = ["--signature", out.as_str()];
        let r = run_in(
            d,
            &[
                &["verify", "model", "--key", "env://MS_PUB"][..],
                &signature,
            ]
            .concat(),
            &env,
        );
        assert_eq!(r.code, 0, "{flag}: {}", r.stderr);
    }
    let r = run_in(
        d,
        &[
            "sign-blob",
            "model/config.json",
            "--key",
            "env://MS_KEY",
            "--bundle",
            "b.json",
            "--new-bundle-format",
            "--tlog-upload=false",
            "--yes",
        ],
        &env,
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    let r = run_in(
        d,
        &[
            "verify-blob",
            "model/config.json",
            "--key",
            "env://MS_PUB",
            "--bundle",
            "b.json",
        ],
        &env,
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    // Meanings we do not share are refused, not ignored.
    assert_golden(
        &run_in(d, &["sign", "model", "--key", "env://MS_NOT_SET"], &[]),
        2,
        "cosign_habits_env_keys_and_flags-1",
    );
    assert_golden(
        &run_in(
            d,
            &[
                "sign",
                "model",
                "--key",
                "signer.key",
                "--identity-token",
                "t",
            ],
            &[],
        ),
        2,
        "cosign_habits_env_keys_and_flags-2",
    );
    assert_golden(
        &run_in(
            d,
            &[
                "sign-blob",
                "model/config.json",
                "--key",
                "signer.key",
                "--new-bundle-format=false",
            ],
            &[],
        ),
        2,
        "cosign_habits_env_keys_and_flags-3",
    );
}

/// `digest` prints what `--digest` compares: for a directory the signed root digest (the one
/// `verify --json` reports), for a file its SHA-256; a different model is refused (exit 1).
#[test]
fn digest_pin_refuses_a_different_signed_model() {
    let dir = signed_model();
    let d = dir.path();
    let digest = run_in(d, &["digest", "model"], &[]);
    assert_eq!(digest.code, 0, "{}", digest.stderr);
    let pin = digest.stdout.trim().to_string();
    let json = run_in(
        d,
        &["verify", "model", "--key", "signer.pub", "--json"],
        &[],
    );
    let v: serde_json::Value = serde_json::from_str(&json.stdout).unwrap();
    assert_eq!(
        pin,
        format!("sha256:{}", v["root_sha256"].as_str().unwrap())
    );
    let pinned = |pin: &str| {
        run_in(
            d,
            &["verify", "model", "--key", "signer.pub", "--digest", pin],
            &[],
        )
    };
    assert_eq!(pinned(&pin).code, 0);
    assert_eq!(
        pinned(&pin.to_uppercase().replace("SHA256:", "sha256:")).code,
        0
    );

    // An older signed release put in its place verifies, but not with the pin.
    std::fs::write(d.join("model/config.json"), b"{\"hidden_size\": 32}\n").unwrap();
    let r = run_in(d, &["sign", "model", "--key", "signer.key"], &[]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(verify(d, "signer.pub").code, 0);
    let other = run_in(d, &["digest", "model"], &[])
        .stdout
        .trim()
        .to_string();
    assert_golden_with(
        &pinned(&pin),
        1,
        "digest_pin_refuses_a_different_signed_model",
        &[("[PIN]", &pin), ("[SIGNED]", &other)],
    );

    // A single file: its own SHA-256, as KServe's VERIFICATION_DIGEST defines it.
    let weights = d.join("model/weights.bin");
    let r = run_in(
        d,
        &["sign", "model/weights.bin", "--key", "signer.key"],
        &[],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    let file_pin = format!(
        "sha256:{}",
        modelseal_kernel::HashAlgorithm::Sha256
            .digest(&std::fs::read(weights).unwrap())
            .to_hex()
    );
    let r = run_in(d, &["digest", "model/weights.bin"], &[]);
    assert_eq!(r.stdout.trim(), file_pin);
    let r = run_in(
        d,
        &[
            "verify",
            "model/weights.bin",
            "--key",
            "signer.pub",
            "--digest",
            &file_pin,
        ],
        &[],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    let r = pinned("sha256:abc");
    assert_eq!(r.code, 2, "{}", r.stderr);
}

/// With no trust at all, verify, pull, audit and verify-blob are refused while the arguments are
/// parsed (exit 2), the message naming every form of trust.
#[test]
fn no_trust_names_every_form() {
    let dir = signed_model();
    let d = dir.path();
    for args in [
        &["verify", "model"][..],
        &["pull", "s3://b/p", "dest"],
        &["audit", "s3://b"],
        &["verify-blob", "model/config.json", "--signature", "x"],
    ] {
        let r = run_in(d, args, &[]);
        assert_eq!(r.code, 2, "{args:?}: {}", r.stderr);
        for form in [
            "--policy",
            "--key",
            "--certificate-chain",
            "--certificate-identity",
        ] {
            assert!(
                r.stderr.contains(form),
                "{args:?} without {form}: {}",
                r.stderr
            );
        }
        assert!(!d.join("dest").exists());
    }
    // verify-blob names both signature forms; push both encryption forms.
    let r = run_in(
        d,
        &["verify-blob", "model/config.json", "--key", "signer.pub"],
        &[],
    );
    assert_eq!(r.code, 2);
    assert!(
        r.stderr.contains("--signature") && r.stderr.contains("--bundle"),
        "{}",
        r.stderr
    );
    let r = run_in(
        d,
        &["push", "model", "s3://b/p", "--key", "signer.key"],
        &[],
    );
    assert_eq!(r.code, 2);
    assert!(
        r.stderr.contains("--sse-kms-key-id") && r.stderr.contains("--sse"),
        "{}",
        r.stderr
    );
}

/// The peers' spellings work where the meaning is ours too: model_signing's --public_key,
/// cosign's --output; and --force on a local sign, which replaces model.sig as it always does.
#[test]
fn peer_spellings_and_force() {
    let dir = signed_model();
    let d = dir.path();
    let r = run_in(d, &["verify", "model", "--public_key", "signer.pub"], &[]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let r = run_in(d, &["verify", "model", "--public-key", "other.pub"], &[]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    let before = std::fs::read(d.join("model/model.sig")).unwrap();
    let r = run_in(d, &["sign", "model", "--key", "signer.key", "--force"], &[]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(std::fs::read(d.join("model/model.sig")).unwrap().len() >= before.len() / 2);
    assert_eq!(verify(d, "signer.pub").code, 0);
    let r = run_in(
        d,
        &[
            "sign-blob",
            "model/config.json",
            "--key",
            "signer.key",
            "--output",
            "c.sig",
        ],
        &[],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    let r = run_in(
        d,
        &[
            "verify-blob",
            "model/config.json",
            "--key",
            "signer.pub",
            "--signature",
            "c.sig",
        ],
        &[],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
}

/// `--version` names the commit; completions are generated for the four shells.
#[test]
fn version_and_completions() {
    let d = tempfile::tempdir().unwrap();
    let r = run_in(d.path(), &["--version"], &[]);
    assert_eq!(r.code, 0);
    let v = r.stdout.trim();
    assert!(
        v.starts_with(concat!("modelseal ", env!("CARGO_PKG_VERSION"), " (")) && v.ends_with(')'),
        "{v}"
    );
    for shell in ["bash", "zsh", "fish", "powershell"] {
        let r = run_in(d.path(), &["completions", shell], &[]);
        assert_eq!(r.code, 0, "{shell}: {}", r.stderr);
        assert!(r.stdout.contains("verify-blob"), "{shell}");
    }
    assert_eq!(run_in(d.path(), &["completions", "tcsh"], &[]).code, 2);
}

/// Creating a key with no password and no terminal says how to give one.
#[test]
fn new_key_without_a_password() {
    let d = tempfile::tempdir().unwrap();
    let r = run_in(d.path(), &["generate-key-pair"], &[]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(
        r.stderr.contains("no password for the new key"),
        "{}",
        r.stderr
    );
    assert!(r.stderr.contains("COSIGN_PASSWORD"), "{}", r.stderr);
    assert!(!d.path().join("cosign.key").exists());
}

/// `--shard-size` below 1 MiB, zero or not a number is a usage error (the floor is the flag's
/// only: a manifest may declare any positive size).
#[test]
fn shard_sizes_below_the_floor_are_refused() {
    let dir = signed_model();
    for (size, why) in [
        ("0", "floor"),
        ("4096", "floor"),
        ("1M", "not a whole number"),
        ("1.5e6", "not a whole number"),
    ] {
        let r = run_in(
            dir.path(),
            &["sign", "model", "--key", "signer.key", "--shard-size", size],
            &[],
        );
        assert_eq!(r.code, 2, "{size}: {}", r.stderr);
        assert!(r.stderr.contains(why), "{size}: {}", r.stderr);
        let r = run_in(dir.path(), &["digest", "model", "--shard-size", size], &[]);
        assert_eq!(r.code, 2, "{size}: {}", r.stderr);
    }
    let r = run_in(
        dir.path(),
        &["digest", "model", "--shard-size", "1048576"],
        &[],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
}
