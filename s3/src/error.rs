//! Errors from S3, classified so callers can tell "not there" from "not allowed" from "changed".

use std::fmt;

use crate::credentials::CredentialsProblem;

use aws_sdk_s3::error::{ProvideErrorMetadata, SdkError};

#[derive(Debug)]
pub enum S3Error {
    NoSuchBucket {
        bucket: String,
    },
    NoSuchKey {
        bucket: String,
        key: String,
    },
    AccessDenied {
        bucket: String,
        key: String,
        message: String,
    },
    /// The object's ETag or size changed since it was listed (If-Match failed).
    ObjectChanged {
        bucket: String,
        key: String,
    },
    /// A small object (a signature) is larger than the caller's limit; its body was not read.
    TooLarge {
        bucket: String,
        key: String,
        size: u64,
        limit: u64,
    },
    /// S3 answered with an error we do not classify further.
    Service {
        op: &'static str,
        bucket: String,
        key: String,
        status: Option<u16>,
        code: String,
        message: String,
        /// The server's `Retry-After`, when it sent one (503 SlowDown, say).
        retry_after: Option<std::time::Duration>,
    },
    /// The connection failed, timed out or broke, after all retries.
    Transport {
        op: &'static str,
        bucket: String,
        key: String,
        message: String,
    },
    /// A retryable failure that lasted through every attempt.
    GaveUp {
        attempts: u32,
        last: Box<S3Error>,
    },
    /// No usable AWS credentials: the chain found none, or a provider in it failed. Never
    /// retried; the message is one line (the SDK's list of providers tried is left out).
    Credentials(CredentialsProblem),
    /// Reading a local file to upload, or the caller's sink, failed.
    Local {
        what: String,
        error: std::io::Error,
    },
    Interrupted,
}

impl fmt::Display for S3Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            S3Error::NoSuchBucket { bucket } => write!(f, "bucket '{bucket}' does not exist"),
            S3Error::NoSuchKey { bucket, key } => write!(f, "s3://{bucket}/{key} does not exist"),
            S3Error::AccessDenied {
                bucket,
                key,
                message,
            } => {
                write!(f, "access denied to s3://{bucket}/{key}")?;
                if !message.is_empty() {
                    write!(f, ": {message}")?;
                }
                Ok(())
            }
            S3Error::ObjectChanged { bucket, key } => {
                write!(f, "s3://{bucket}/{key} changed while it was being read")
            }
            S3Error::TooLarge {
                bucket,
                key,
                size,
                limit,
            } => write!(
                f,
                "s3://{bucket}/{key} is {size} bytes; the limit is {limit}"
            ),
            S3Error::Service {
                op,
                bucket,
                key,
                status,
                code,
                message,
                ..
            } => {
                write!(f, "{op} s3://{bucket}/{key} failed: ")?;
                // A HEAD answer has no body, so no error code: the status says what happened.
                match (code.is_empty(), status) {
                    (false, Some(s)) => write!(f, "{code} (HTTP {s})")?,
                    (false, None) => f.write_str(code)?,
                    (true, Some(s)) => write!(f, "HTTP {s} {}", reason(*s))?,
                    (true, None) => f.write_str("an error with no code")?,
                }
                if !message.is_empty() {
                    write!(f, ": {message}")?;
                }
                Ok(())
            }
            S3Error::Transport {
                op,
                bucket,
                key,
                message,
            } => {
                write!(f, "{op} s3://{bucket}/{key} failed: {message}")
            }
            S3Error::GaveUp { attempts, last } => {
                write!(f, "{last} (gave up after {attempts} attempts)")
            }
            S3Error::Credentials(p) => f.write_str(&p.message),
            S3Error::Local { what, error } => write!(f, "{what}: {error}"),
            S3Error::Interrupted => f.write_str("interrupted"),
        }
    }
}

impl std::error::Error for S3Error {}

/// The standard reason phrase of the statuses S3 answers with.
fn reason(status: u16) -> &'static str {
    match status {
        400 => "Bad Request",
        403 => "Forbidden",
        404 => "Not Found",
        409 => "Conflict",
        412 => "Precondition Failed",
        416 => "Range Not Satisfiable",
        429 => "Too Many Requests",
        500 => "Internal Server Error",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        _ => "",
    }
}

impl S3Error {
    /// Why a call was refused for good, in one line: access denied, or a store that does not
    /// implement it (501 NotImplemented, 405 MethodNotAllowed). `None` for anything else.
    pub fn refusal(&self) -> Option<String> {
        match self {
            S3Error::AccessDenied { message, .. } => Some(format!("access denied: {message}")),
            S3Error::Service {
                status: Some(status @ (405 | 501)),
                code,
                ..
            } => Some(format!("{code} (HTTP {status})")),
            _ => None,
        }
    }

    /// The last error of a request that ran out of attempts.
    pub(crate) fn gave_up(self, attempts: u32) -> Self {
        if attempts > 1 {
            S3Error::GaveUp {
                attempts,
                last: Box::new(self),
            }
        } else {
            self
        }
    }

    /// The error itself, or the last one of a request that ran out of attempts.
    pub fn cause(&self) -> &S3Error {
        match self {
            S3Error::GaveUp { last, .. } => last,
            other => other,
        }
    }

    /// How long the server asked us to wait before trying again.
    pub fn retry_after(&self) -> Option<std::time::Duration> {
        match self {
            S3Error::Service { retry_after, .. } => *retry_after,
            _ => None,
        }
    }

    pub(crate) fn transport(op: &'static str, bucket: &str, key: &str, message: String) -> Self {
        S3Error::Transport {
            op,
            bucket: bucket.to_string(),
            key: key.to_string(),
            message,
        }
    }
}

/// What to do with a failed request.
pub(crate) enum Retry {
    Yes(S3Error),
    No(S3Error),
}

impl Retry {
    fn when(retryable: bool, e: S3Error) -> Self {
        if retryable {
            Retry::Yes(e)
        } else {
            Retry::No(e)
        }
    }
}

/// What went wrong, from the error and its causes, without the SDK's generic wrappers
/// ("dispatch failure", "streaming error", "io error"): the causes that say something, outermost
/// first, each once.
pub(crate) fn source_text(e: &(dyn std::error::Error + 'static)) -> String {
    const GENERIC: [&str; 6] = [
        "dispatch failure",
        "streaming error",
        "io error",
        "response error",
        "other",
        "timeout",
    ];
    let mut parts: Vec<String> = Vec::new();
    let mut next = Some(e);
    while let Some(err) = next {
        let text = err.to_string();
        let t = text.trim();
        if !t.is_empty() && !GENERIC.contains(&t) && !parts.iter().any(|p| p.contains(t)) {
            parts.push(t.to_string());
        }
        next = err.source();
    }
    if parts.is_empty() {
        e.to_string()
    } else {
        parts.join(": ")
    }
}

fn retry_after(resp: &aws_smithy_runtime_api::http::Response) -> Option<std::time::Duration> {
    crate::parse::retry_after(resp.headers().get("retry-after")?)
}

pub(crate) fn classify<E>(
    op: &'static str,
    bucket: &str,
    key: &str,
    err: SdkError<E, aws_smithy_runtime_api::http::Response>,
) -> Retry
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    if let Some(p) = crate::credentials::classify(&err) {
        return Retry::No(S3Error::Credentials(p));
    }
    let (bucket, key) = (bucket.to_string(), key.to_string());
    let status = err.raw_response().map(|r| r.status().as_u16());
    let after = err.raw_response().and_then(retry_after);
    match &err {
        SdkError::ServiceError(se) => {
            let e = se.err();
            let code = e.code().unwrap_or("").to_string();
            let message = e.message().unwrap_or("").to_string();
            match (code.as_str(), status) {
                ("NoSuchBucket", _) => Retry::No(S3Error::NoSuchBucket { bucket }),
                ("NoSuchKey", _) | ("NotFound", _) | (_, Some(404)) => {
                    Retry::No(S3Error::NoSuchKey { bucket, key })
                }
                ("AccessDenied", _)
                | ("InvalidAccessKeyId", _)
                | ("SignatureDoesNotMatch", _)
                | (_, Some(403)) => {
                    let message = if message.is_empty() { code } else { message };
                    Retry::No(S3Error::AccessDenied {
                        bucket,
                        key,
                        message,
                    })
                }
                ("PreconditionFailed", _) | (_, Some(412)) => {
                    Retry::No(S3Error::ObjectChanged { bucket, key })
                }
                _ => {
                    // 501 NotImplemented is the store's lasting answer, not a fault.
                    let retryable = status.is_some_and(|s| (s >= 500 && s != 501) || s == 429);
                    let e = S3Error::Service {
                        op,
                        bucket,
                        key,
                        status,
                        code,
                        message,
                        retry_after: after,
                    };
                    Retry::when(retryable, e)
                }
            }
        }
        _ => {
            let retryable = matches!(
                err,
                SdkError::DispatchFailure(_)
                    | SdkError::TimeoutError(_)
                    | SdkError::ResponseError(_)
            );
            Retry::when(
                retryable,
                S3Error::transport(op, &bucket, &key, source_text(&err)),
            )
        }
    }
}
