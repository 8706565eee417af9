//! Redis's glob-style pattern matching (`stringmatchlen`): `*`, `?`, `[abc]`, `[^a-z]`
//! and `\` escapes, byte-wise.

/// Whether `string` matches `pattern`.
pub fn matches(pattern: &[u8], string: &[u8]) -> bool {
    let (mut p, mut s) = (0, 0);
    // Position to resume from after the last `*`: (pattern index, string index).
    let mut star: Option<(usize, usize)> = None;
    while s < string.len() {
        if let Some((advance, ok)) = step(pattern, p, string[s]) {
            if ok {
                p += advance;
                s += 1;
                continue;
            }
        } else if pattern.get(p) == Some(&b'*') {
            while pattern.get(p) == Some(&b'*') {
                p += 1;
            }
            star = Some((p, s));
            continue;
        }
        match star {
            Some((sp, ss)) => {
                p = sp;
                s = ss + 1;
                star = Some((sp, ss + 1));
            }
            None => return false,
        }
    }
    pattern[p.min(pattern.len())..].iter().all(|&c| c == b'*')
}

/// Matches one pattern token at `p` against byte `c`: `Some((token length, matched))`,
/// or `None` when the token is `*` or the pattern is exhausted.
fn step(pattern: &[u8], p: usize, c: u8) -> Option<(usize, bool)> {
    match *pattern.get(p)? {
        b'*' => None,
        b'?' => Some((1, true)),
        b'\\' if p + 1 < pattern.len() => Some((2, pattern[p + 1] == c)),
        b'[' => Some(class(pattern, p, c)),
        other => Some((1, other == c)),
    }
}

fn class(pattern: &[u8], start: usize, c: u8) -> (usize, bool) {
    let mut i = start + 1;
    let negate = pattern.get(i) == Some(&b'^');
    if negate {
        i += 1;
    }
    let mut matched = false;
    while i < pattern.len() && pattern[i] != b']' {
        if pattern[i] == b'\\' && i + 1 < pattern.len() {
            matched |= pattern[i + 1] == c;
            i += 2;
        } else if i + 2 < pattern.len() && pattern[i + 1] == b'-' && pattern[i + 2] != b']' {
            let (lo, hi) = (
                pattern[i].min(pattern[i + 2]),
                pattern[i].max(pattern[i + 2]),
            );
            matched |= (lo..=hi).contains(&c);
            i += 3;
        } else {
            matched |= pattern[i] == c;
            i += 1;
        }
    }
    let len = (i + 1).min(pattern.len()) - start;
    (len.max(1), matched != negate)
}

/// The literal prefix every match of `pattern` starts with.
pub fn literal_prefix(pattern: &[u8]) -> Vec<u8> {
    let mut prefix = Vec::new();
    let mut i = 0;
    while i < pattern.len() {
        match pattern[i] {
            b'*' | b'?' | b'[' => break,
            b'\\' if i + 1 < pattern.len() => {
                prefix.push(pattern[i + 1]);
                i += 2;
            }
            other => {
                prefix.push(other);
                i += 1;
            }
        }
    }
    prefix
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redis_glob_cases() {
        assert!(matches(b"*", b""));
        assert!(matches(b"h?llo", b"hello"));
        assert!(matches(b"h*llo", b"heeeello"));
        assert!(matches(b"h[ae]llo", b"hallo"));
        assert!(!matches(b"h[^e]llo", b"hello"));
        assert!(matches(b"h[a-b]llo", b"hbllo"));
        assert!(matches(b"user:*", b"user:1000"));
        assert!(!matches(b"user:*", b"users"));
        assert!(matches(b"a\\*b", b"a*b"));
        assert!(!matches(b"a\\*b", b"axb"));
        assert!(matches(b"*a*b*", b"xxaxxbxx"));
        assert_eq!(literal_prefix(b"stocks:*"), b"stocks:");
        assert_eq!(literal_prefix(b"a\\*b?"), b"a*b");
    }
}
