//! The few header values the engine reads itself (the SDK parses listings and the rest). Public
//! so the fuzz targets can reach them.

use std::time::Duration;

/// `bytes a-b/TOTAL` -> TOTAL.
pub fn content_range_total(cr: &str) -> Option<u64> {
    cr.rsplit_once('/')?.1.parse().ok()
}

/// `Retry-After` in seconds (S3 sends seconds; an HTTP date is not honoured, the backoff is).
pub fn retry_after(value: &str) -> Option<Duration> {
    value.trim().parse::<u64>().ok().map(Duration::from_secs)
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
}
