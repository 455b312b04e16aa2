//! Why AWS credentials could not be had, said in one line. Shared by the S3 engine and the KMS
//! signer, so a credentials problem reads the same whichever service met it first.

use aws_credential_types::provider::error::CredentialsError;

/// Why credentials could not be had, for the hint.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CredentialsKind {
    /// Every provider in the chain came up empty.
    NotFound,
    /// The instance metadata service (IMDS) could not be reached or refused.
    Imds,
    /// An IAM Identity Center (SSO) profile has no valid cached token: `aws sso login` was not
    /// run, or its session expired.
    SsoLogin,
    /// Another provider failed (web identity, credential_process, assume-role, a timeout).
    Provider,
}

/// A credentials failure: its kind, one line for people, and every cause the SDK gave (for
/// `--verbose`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CredentialsProblem {
    pub kind: CredentialsKind,
    pub message: String,
    pub detail: String,
}

/// The credentials failure somewhere in `e`'s causes.
pub fn classify(e: &(dyn std::error::Error + 'static)) -> Option<CredentialsProblem> {
    let mut next = Some(e);
    let c: &CredentialsError = loop {
        let err = next?;
        if let Some(c) = err.downcast_ref() {
            break c;
        }
        next = err.source();
    };
    let detail = crate::error::source_text(c);
    let first = detail.lines().next().unwrap_or("").trim().to_string();
    let (kind, message) = match c {
        CredentialsError::CredentialsNotLoaded(_) => (
            CredentialsKind::NotFound,
            "no AWS credentials found (looked in the environment, the shared config and credentials files, web identity, ECS and instance metadata)".into(),
        ),
        // The SSO token provider says "failed to load the cached SSO token" or "the SSO token
        // has expired"; the legacy SSO profile names the missing file under ~/.aws/sso/cache.
        _ if detail.contains("SSO token") || detail.contains("/.aws/sso/cache/") => (
            CredentialsKind::SsoLogin,
            "the AWS SSO (IAM Identity Center) session has expired or was never started: no valid token in ~/.aws/sso/cache".into(),
        ),
        _ if detail.contains("IMDS") => (
            CredentialsKind::Imds,
            // Every place looked, as for NotFound: on a machine whose IMDS refuses, naming only
            // IMDS would hide that nothing was found anywhere else either.
            "no AWS credentials found (looked in the environment, the shared config and credentials files, web identity and ECS; the instance metadata service (IMDS) could not be reached or refused)".into(),
        ),
        _ => (
            CredentialsKind::Provider,
            format!("AWS credentials could not be loaded: {first}"),
        ),
    };
    Some(CredentialsProblem {
        kind,
        message,
        detail,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn problem(e: CredentialsError) -> CredentialsProblem {
        classify(&e).expect("a credentials error is classified")
    }

    /// Whatever failed last, the message says where we looked, the same on every machine.
    #[test]
    fn every_kind_names_where_it_looked() {
        let not_found = problem(CredentialsError::not_loaded("no providers in chain"));
        let imds = problem(CredentialsError::provider_error(
            "failed to load credentials from IMDS: connection refused",
        ));
        assert_eq!(not_found.kind, CredentialsKind::NotFound);
        assert_eq!(imds.kind, CredentialsKind::Imds);
        for p in [&not_found, &imds] {
            assert!(
                p.message
                    .contains("the environment, the shared config and credentials files"),
                "{}",
                p.message
            );
        }
        assert!(imds.message.contains("IMDS"));
        let sso = problem(CredentialsError::provider_error(
            "failed to load the cached SSO token",
        ));
        assert_eq!(sso.kind, CredentialsKind::SsoLogin);
    }
}
