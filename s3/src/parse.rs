//! The few header values the engine reads itself (the SDK parses listings and the rest), and
//! the versioning document moto sends in a shape the SDK refuses. Public so the fuzz targets can
//! reach them.

use std::time::Duration;

/// `bytes a-b/TOTAL` -> TOTAL.
pub fn content_range_total(cr: &str) -> Option<u64> {
    cr.rsplit_once('/')?.1.parse().ok()
}

/// `Retry-After` in seconds (S3 sends seconds; an HTTP date is not honoured, the backoff is).
pub fn retry_after(value: &str) -> Option<Duration> {
    value.trim().parse::<u64>().ok().map(Duration::from_secs)
}

/// The `<Status>` of a versioning document the SDK could not parse (moto's root element), or why
/// the document is not one.
pub fn versioning_status(body: &str) -> Result<Option<String>, String> {
    // A versioning configuration is a few hundred bytes; the text below goes into messages.
    const MAX_DOCUMENT: usize = 64 * 1024;
    const MAX_NAME: usize = 64;
    if body.len() > MAX_DOCUMENT {
        return Err(format!(
            "the store's answer ({} bytes) is not a versioning configuration",
            body.len()
        ));
    }
    let doc = body.trim_start();
    let doc = match doc.strip_prefix("<?xml") {
        Some(rest) => rest.split_once("?>").map_or("", |(_, r)| r).trim_start(),
        None => doc,
    };
    if !(doc.starts_with("<GetBucketVersioningResponse")
        || doc.starts_with("<VersioningConfiguration"))
    {
        let root: String = doc
            .chars()
            .skip(1)
            .take_while(|c| c.is_ascii_alphanumeric())
            .take(MAX_NAME)
            .collect();
        return Err(format!(
            "the store answered with <{root}>, not a versioning configuration"
        ));
    }
    Ok(doc
        .split_once("<Status>")
        .and_then(|(_, rest)| rest.split_once("</Status>"))
        .map(|(status, _)| status.chars().take(MAX_NAME).collect()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_values() {
        assert_eq!(content_range_total("bytes 0-9/100"), Some(100));
        assert_eq!(content_range_total("bytes 0-9/*"), None);
        assert_eq!(content_range_total("garbage"), None);
        assert_eq!(retry_after(" 7 "), Some(Duration::from_secs(7)));
        assert_eq!(retry_after("Wed, 21 Oct 2015 07:28:00 GMT"), None);
        assert_eq!(retry_after("-1"), None);
    }

    #[test]
    fn a_versioning_answer_is_read_only_from_a_versioning_document() {
        let moto = r#"<?xml version="1.0" encoding="UTF-8"?>
<GetBucketVersioningResponse xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Status>Enabled</Status></GetBucketVersioningResponse>"#;
        assert_eq!(versioning_status(moto), Ok(Some("Enabled".into())));
        assert_eq!(versioning_status("<VersioningConfiguration/>"), Ok(None));
        let long = format!("<{}>", "A".repeat(1000));
        assert_eq!(
            versioning_status(&long),
            Err(format!(
                "the store answered with <{}>, not a versioning configuration",
                "A".repeat(64)
            ))
        );
        assert!(versioning_status(&" ".repeat(70_000)).is_err());
        let s3rver = r#"<?xml version="1.0" encoding="UTF-8"?>
<ListBucketResult><Contents><Key>k</Key><Status>Enabled</Status></Contents></ListBucketResult>"#;
        assert_eq!(
            versioning_status(s3rver),
            Err(
                "the store answered with <ListBucketResult>, not a versioning configuration".into()
            )
        );
    }
}
