//! A small, tolerant PEM reader and a strict PEM writer.
//!
//! Reading accepts CRLF line ends, blank lines and trailing whitespace, as cosign and openssl do.
//! Writing produces the canonical form Python `cryptography` and openssl write: 64-column base64
//! and a trailing newline, because the OMS key hint is a hash of exactly that text.

use base64::Engine as _;

/// One PEM block: its label and decoded DER.
pub(crate) struct Block {
    pub label: String,
    pub der: Vec<u8>,
}

#[derive(Debug, PartialEq, Eq)]
pub(crate) enum PemError {
    NoBlock,
    Unterminated(String),
    Base64(String),
}

/// Reads the first PEM block in `text`.
pub(crate) fn parse(text: &[u8]) -> Result<Block, PemError> {
    let text = String::from_utf8_lossy(text);
    let mut lines = text.lines().map(|l| l.trim());
    next_block(&mut lines)?.ok_or(PemError::NoBlock)
}

/// Reads every PEM block in `text` (a CA bundle); text between blocks is ignored, as openssl
/// does. No block at all is an error.
pub(crate) fn parse_all(text: &[u8]) -> Result<Vec<Block>, PemError> {
    let text = String::from_utf8_lossy(text);
    let mut lines = text.lines().map(|l| l.trim());
    let mut blocks = Vec::new();
    while let Some(block) = next_block(&mut lines)? {
        blocks.push(block);
    }
    if blocks.is_empty() {
        return Err(PemError::NoBlock);
    }
    Ok(blocks)
}

/// The next block from `lines`, or `None` when no BEGIN line is left.
fn next_block<'a>(lines: &mut impl Iterator<Item = &'a str>) -> Result<Option<Block>, PemError> {
    let label = loop {
        let Some(line) = lines.next() else {
            return Ok(None);
        };
        if let Some(rest) = line.strip_prefix("-----BEGIN ") {
            if let Some(label) = rest.strip_suffix("-----") {
                break label.to_string();
            }
        }
    };
    let end = format!("-----END {label}-----");
    let mut body = String::new();
    for line in lines {
        if line == end {
            let der = base64::engine::general_purpose::STANDARD
                .decode(body.as_bytes())
                .map_err(|_| PemError::Base64(label.clone()))?;
            return Ok(Some(Block { label, der }));
        }
        // Encapsulated headers (RFC 1421 "Proc-Type:" etc.) are not part of the body.
        if line.contains(':') {
            continue;
        }
        body.push_str(line);
    }
    Err(PemError::Unterminated(label))
}

/// Writes `der` under `label`, 64 columns, trailing newline.
pub(crate) fn encode(label: &str, der: &[u8]) -> String {
    let b64 = base64::engine::general_purpose::STANDARD.encode(der);
    let mut out = format!("-----BEGIN {label}-----\n");
    for chunk in b64.as_bytes().chunks(64) {
        // base64 output is ASCII, so every chunk is valid UTF-8.
        out.push_str(&String::from_utf8_lossy(chunk));
        out.push('\n');
    }
    out.push_str(&format!("-----END {label}-----\n"));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crlf_and_trailing_lines_are_accepted() {
        let text = b"\r\n-----BEGIN X-----\r\nAAEC\r\n-----END X-----\r\n\r\n\r\n";
        let block = parse(text).unwrap();
        assert_eq!(block.label, "X");
        assert_eq!(block.der, vec![0, 1, 2]);
    }

    #[test]
    fn round_trip_is_canonical() {
        let der: Vec<u8> = (0..100).collect();
        let text = encode("PUBLIC KEY", &der);
        assert!(text.ends_with("-----END PUBLIC KEY-----\n"));
        assert!(text.lines().all(|l| l.len() <= 64));
        assert_eq!(parse(text.as_bytes()).unwrap().der, der);
    }

    #[test]
    fn bundles_of_blocks() {
        let text = format!(
            "{}junk between\n{}",
            encode("A", &[1]),
            encode("B", &[2, 3])
        );
        let blocks = parse_all(text.as_bytes()).unwrap();
        let labels: Vec<&str> = blocks.iter().map(|b| b.label.as_str()).collect();
        assert_eq!(labels, ["A", "B"]);
        assert_eq!(blocks[1].der, vec![2, 3]);
        assert_eq!(parse_all(b"none").err(), Some(PemError::NoBlock));
        let cut = format!("{}-----BEGIN C-----\nAA==\n", encode("A", &[1]));
        assert_eq!(
            parse_all(cut.as_bytes()).err(),
            Some(PemError::Unterminated("C".into()))
        );
    }

    #[test]
    fn refusals() {
        assert_eq!(parse(b"hello").err(), Some(PemError::NoBlock));
        assert_eq!(
            parse(b"-----BEGIN X-----\nAAEC\n").err(),
            Some(PemError::Unterminated("X".into()))
        );
        assert_eq!(
            parse(b"-----BEGIN X-----\n!!\n-----END X-----\n").err(),
            Some(PemError::Base64("X".into()))
        );
    }
}
