//! Python `fnmatch` patterns, as KServe applies STORAGE_ALLOW_PATTERNS / STORAGE_IGNORE_PATTERNS:
//! `*` matches any run of characters (slashes included), `?` one character, `[seq]` and
//! `[!seq]` a character class with ranges.

pub fn fnmatch(pattern: &str, name: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let n: Vec<char> = name.chars().collect();
    matches(&p, &n)
}

fn matches(p: &[char], n: &[char]) -> bool {
    // Iterative with one backtrack point for the last `*`, so no pattern is exponential.
    let (mut pi, mut ni) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while ni < n.len() {
        if pi < p.len() {
            match p[pi] {
                '*' => {
                    star = Some((pi, ni));
                    pi += 1;
                    continue;
                }
                '?' => {
                    pi += 1;
                    ni += 1;
                    continue;
                }
                '[' => {
                    if let Some((ok, len)) = class(&p[pi..], n[ni]) {
                        if ok {
                            pi += len;
                            ni += 1;
                            continue;
                        }
                    } else if n[ni] == '[' {
                        // An unclosed '[' is a literal, as in Python.
                        pi += 1;
                        ni += 1;
                        continue;
                    }
                }
                c if c == n[ni] => {
                    pi += 1;
                    ni += 1;
                    continue;
                }
                _ => {}
            }
        }
        match star {
            Some((sp, sn)) => {
                pi = sp + 1;
                ni = sn + 1;
                star = Some((sp, sn + 1));
            }
            None => return false,
        }
    }
    p[pi..].iter().all(|&c| c == '*')
}

/// Matches `c` against the class starting at `p[0] == '['`; returns (matched, pattern length),
/// or None when the class is not closed.
fn class(p: &[char], c: char) -> Option<(bool, usize)> {
    let mut i = 1;
    let negate = matches!(p.get(i), Some('!'));
    if negate {
        i += 1;
    }
    let start = i;
    let mut hit = false;
    while i < p.len() {
        if p[i] == ']' && i > start {
            return Some((hit != negate, i + 1));
        }
        if i + 2 < p.len() && p[i + 1] == '-' && p[i + 2] != ']' {
            hit |= p[i] <= c && c <= p[i + 2];
            i += 3;
        } else {
            hit |= p[i] == c;
            i += 1;
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::fnmatch;

    #[test]
    fn like_python() {
        assert!(fnmatch("*.safetensors", "model-00001.safetensors"));
        assert!(fnmatch("*.json", "tokenizer/config.json")); // `*` crosses '/'
        assert!(!fnmatch("*.json", "config.json.bak"));
        assert!(fnmatch("model-?????.bin", "model-00001.bin"));
        assert!(fnmatch("[ab]*", "b.txt"));
        assert!(!fnmatch("[!ab]*", "b.txt"));
        assert!(fnmatch("shard-[0-3]", "shard-2"));
        assert!(!fnmatch("shard-[0-3]", "shard-7"));
        assert!(fnmatch("*", ""));
        assert!(fnmatch("a[b", "a[b"));
        assert!(!fnmatch("*a*a*a*a*a*b", &"a".repeat(60)));
    }
}
