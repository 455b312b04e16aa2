//! `s3://bucket/key` URIs.

use std::fmt;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct S3Uri {
    pub bucket: String,
    /// The key or prefix, without a leading `/`; may be empty (the whole bucket).
    pub key: String,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum UriError {
    NotS3(String),
    NoBucket(String),
}

impl fmt::Display for UriError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            UriError::NotS3(u) => write!(f, "'{u}' is not an s3:// URI"),
            UriError::NoBucket(u) => write!(f, "'{u}' names no bucket"),
        }
    }
}

impl std::error::Error for UriError {}

/// Whether `s` was meant as an S3 URI but is not one: `S3://b/k`, `s3:/b/k`, `s3:b/k`,
/// `s3//b/k`. Such a string must not be taken for a local path.
pub fn is_malformed_s3(s: &str) -> bool {
    let b = s.as_bytes();
    let starts = |p: &[u8]| b.len() >= p.len() && b[..p.len()].eq_ignore_ascii_case(p);
    !s.starts_with("s3://") && (starts(b"s3:") || starts(b"s3//"))
}

impl S3Uri {
    pub fn parse(uri: &str) -> Result<Self, UriError> {
        let rest = uri
            .strip_prefix("s3://")
            .ok_or_else(|| UriError::NotS3(uri.to_string()))?;
        let (bucket, key) = rest.split_once('/').unwrap_or((rest, ""));
        if bucket.is_empty() {
            return Err(UriError::NoBucket(uri.to_string()));
        }
        Ok(S3Uri {
            bucket: bucket.to_string(),
            key: key.to_string(),
        })
    }

    /// The key as a directory prefix: empty, or ending in exactly one `/`. Listing under it
    /// cannot match `model-v2/` when asked for `model`.
    pub fn dir_prefix(&self) -> String {
        let k = self.key.trim_end_matches('/');
        if k.is_empty() {
            String::new()
        } else {
            format!("{k}/")
        }
    }

    pub fn with_key(&self, key: impl Into<String>) -> S3Uri {
        S3Uri {
            bucket: self.bucket.clone(),
            key: key.into(),
        }
    }
}

impl fmt::Display for S3Uri {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "s3://{}/{}", self.bucket, self.key)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_and_prefix() {
        let u = S3Uri::parse("s3://b/models/m").unwrap();
        assert_eq!((u.bucket.as_str(), u.key.as_str()), ("b", "models/m"));
        assert_eq!(u.dir_prefix(), "models/m/");
        assert_eq!(S3Uri::parse("s3://b/m//").unwrap().dir_prefix(), "m/");
        assert_eq!(S3Uri::parse("s3://b").unwrap().dir_prefix(), "");
        assert!(S3Uri::parse("gs://b/x").is_err());
        assert!(S3Uri::parse("s3:///x").is_err());
    }

    #[test]
    fn malformed_s3_uris() {
        for s in ["S3://b/k", "s3:/b/k", "s3:b", "s3//b/k", "S3//b", "s3:"] {
            assert!(is_malformed_s3(s), "{s}");
        }
        for s in [
            "s3://b/k",
            "s3",
            "s3/b",
            "s3x",
            "model",
            "./s3//x",
            "",
            "s\u{e9}3:",
        ] {
            assert!(!is_malformed_s3(s), "{s}");
        }
    }
}
