//! The globs a trust policy's rules match model locations with.
//!
//! A location is split on `/` into segments, and so is the pattern. A pattern segment that is
//! exactly `**` matches zero or more whole segments; in any other segment `*` matches zero or
//! more characters (never a `/`, which no segment holds). Matching is case-sensitive and there
//! are no other metacharacters, so `**` alone matches every location, `s3://` ones included,
//! and `s3://models/team-a/**` also matches `s3://models/team-a`.

/// A checked model glob.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Glob {
    text: String,
}

/// Patterns longer than this are refused (a policy is configuration, not data).
pub const MAX_GLOB: usize = 4096;

impl Glob {
    pub fn parse(text: &str) -> Result<Self, &'static str> {
        if text.is_empty() {
            return Err("a model glob is empty");
        }
        if text.len() > MAX_GLOB {
            return Err("a model glob is longer than 4096 bytes");
        }
        Ok(Glob {
            text: text.to_string(),
        })
    }

    pub fn as_str(&self) -> &str {
        &self.text
    }

    pub fn matches(&self, location: &str) -> bool {
        let pattern: Vec<&str> = self.text.split('/').collect();
        let location: Vec<&str> = location.split('/').collect();
        segments_match(&pattern, &location)
    }
}

/// `**` segments by dynamic programming over (pattern, location) positions: linear in their
/// product, whatever the pattern, so no input can make matching slow.
fn segments_match(pattern: &[&str], location: &[&str]) -> bool {
    // reach[j]: the first i pattern segments can match the first j location segments.
    let mut reach = vec![false; location.len() + 1];
    reach[0] = true;
    for p in pattern {
        let mut next = vec![false; location.len() + 1];
        if *p == "**" {
            // Zero or more segments: once reachable, every later position is.
            let mut seen = false;
            for j in 0..=location.len() {
                seen |= reach[j];
                next[j] = seen;
            }
        } else {
            for j in 0..location.len() {
                if reach[j] && segment_matches(p.as_bytes(), location[j].as_bytes()) {
                    next[j + 1] = true;
                }
            }
        }
        reach = next;
    }
    reach[location.len()]
}

/// One segment: `*` matches any run of bytes (a segment holds no `/`), everything else itself.
fn segment_matches(pattern: &[u8], text: &[u8]) -> bool {
    // The classic greedy wildcard match: on a mismatch, retry from the last `*` one byte later.
    let (mut p, mut t) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while t < text.len() {
        if p < pattern.len() && pattern[p] == b'*' {
            star = Some((p, t));
            p += 1;
        } else if p < pattern.len() && pattern[p] == text[t] {
            p += 1;
            t += 1;
        } else if let Some((sp, st)) = star {
            p = sp + 1;
            t = st + 1;
            star = Some((sp, st + 1));
        } else {
            return false;
        }
    }
    pattern[p..].iter().all(|&b| b == b'*')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(pattern: &str, location: &str) -> bool {
        Glob::parse(pattern).unwrap().matches(location)
    }

    #[test]
    fn double_star_is_any_number_of_segments() {
        assert!(m("**", "s3://models/a/b"));
        assert!(m("**", "/home/me/model"));
        assert!(m("s3://models/team-a/**", "s3://models/team-a"));
        assert!(m("s3://models/team-a/**", "s3://models/team-a/llm/v1"));
        assert!(!m("s3://models/team-a/**", "s3://models/team-ab"));
        assert!(!m("s3://models/team-a/**", "s3://models/team-b/x"));
        assert!(m("s3://models/**/prod", "s3://models/prod"));
        assert!(m("s3://models/**/prod", "s3://models/a/b/prod"));
        assert!(!m("s3://models/**/prod", "s3://models/a/b/prod/x"));
    }

    #[test]
    fn single_star_stays_in_its_segment() {
        assert!(m("s3://models/*", "s3://models/resnet"));
        assert!(!m("s3://models/*", "s3://models/resnet/v1"));
        assert!(m("s3://models/*-prod", "s3://models/llm-prod"));
        assert!(m("s3://models/*-prod", "s3://models/-prod"));
        assert!(!m("s3://models/*-prod", "s3://models/llm-dev"));
        assert!(
            m("/models/a**b", "/models/axxb"),
            "** inside a segment is *"
        );
        assert!(!m("/models/a**b", "/models/ax/b"));
    }

    #[test]
    fn matching_is_exact_and_case_sensitive() {
        assert!(m("s3://models/resnet", "s3://models/resnet"));
        assert!(!m("s3://models/resnet", "s3://models/Resnet"));
        assert!(!m("s3://models/resnet", "s3://models/resnet/"));
        assert!(
            !m("s3://models/re?net", "s3://models/resnet"),
            "no ? metacharacter"
        );
        assert!(Glob::parse("").is_err());
    }

    #[test]
    fn hostile_patterns_stay_fast() {
        let pattern = format!("{}x", "**/".repeat(200));
        let location = "a/".repeat(2000);
        assert!(!m(&pattern, &location));
        let star = format!("{}b", "*".repeat(2000));
        assert!(!m(&star, &"a".repeat(4000)));
    }
}
