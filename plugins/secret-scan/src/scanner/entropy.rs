//! Shannon entropy and the placeholder / decoy heuristics shared by the rules.

/// Shannon entropy of `s` in bits per byte (0 for an empty string). A random
/// string over an alphabet of N symbols approaches log2(N): hex ≈ 3.7–4.0,
/// base62/base64 ≈ 4.5–5.5 for 20–40 chars; words and identifiers ≈ 2.5–3.3.
pub fn shannon_entropy(s: &[u8]) -> f64 {
    if s.is_empty() {
        return 0.0;
    }
    let mut counts = [0u32; 256];
    for &b in s {
        counts[b as usize] += 1;
    }
    let n = s.len() as f64;
    counts
        .iter()
        .filter(|&&c| c > 0)
        .map(|&c| {
            let p = f64::from(c) / n;
            -p * p.log2()
        })
        .sum()
}

/// Words that mark a value as a placeholder, documentation or test value, matched
/// ASCII-case-insensitively anywhere in the value.
const PLACEHOLDER_WORDS: &[&str] = &[
    "example",
    "placeholder",
    "changeme",
    "change_me",
    "change-me",
    "dummy",
    "sample",
    "your_",
    "your-",
    "yourkey",
    "yourtoken",
    "yourpass",
    "yoursecret",
    "redacted",
    "xxxx",
    "****",
    "...",
    "\u{2026}",
    "<",
    ">",
    "${",
    "{{",
    "}}",
    "$(",
    "#{",
    "%(",
];

/// Extra words for values of the generic rule, where a human picked the text.
const GENERIC_PLACEHOLDER_WORDS: &[&str] = &[
    "test", "fake", "mock", "secret", "password", "passwd", "token", "todo", "fixme", "insert",
    "replace", "default", "foobar", "foo_bar", "hunter2", "letmein", "qwerty", "not-a-", "not_a_",
    "notreal", "invalid", "sample", "demo", "foo",
];

fn contains_ci(hay: &[u8], needle: &str) -> bool {
    let n = needle.as_bytes();
    if n.len() > hay.len() {
        return false;
    }
    hay.windows(n.len()).any(|w| w.eq_ignore_ascii_case(n))
}

/// True when `v` looks like a placeholder rather than a real credential:
/// placeholder words, template syntax, or runs like `abcdef` / `123456` / `000000`.
pub fn looks_placeholder(v: &[u8]) -> bool {
    if PLACEHOLDER_WORDS.iter().any(|w| contains_ci(v, w)) {
        return true;
    }
    has_sequence_run(v, 6)
}

/// Placeholder test for human-chosen values (generic assignments, URL passwords).
pub fn looks_placeholder_generic(v: &[u8]) -> bool {
    looks_placeholder(v) || GENERIC_PLACEHOLDER_WORDS.iter().any(|w| contains_ci(v, w))
}

/// A run of `n` characters each equal to, or one more than, the previous one
/// (`aaaaaa`, `abcdef`, `123456`).
fn has_sequence_run(v: &[u8], n: usize) -> bool {
    let (mut same, mut up) = (1usize, 1usize);
    for w in v.windows(2) {
        same = if w[1] == w[0] { same + 1 } else { 1 };
        up = if w[1] == w[0].wrapping_add(1) && w[0].is_ascii_alphanumeric() {
            up + 1
        } else {
            1
        };
        if same >= n || up >= n {
            return true;
        }
    }
    false
}

pub fn is_hex(v: &[u8]) -> bool {
    !v.is_empty() && v.iter().all(u8::is_ascii_hexdigit)
}

pub fn is_uuid(v: &[u8]) -> bool {
    v.len() == 36
        && v.iter().enumerate().all(|(i, &b)| match i {
            8 | 13 | 18 | 23 => b == b'-',
            _ => b.is_ascii_hexdigit(),
        })
}

pub fn has_digit(v: &[u8]) -> bool {
    v.iter().any(u8::is_ascii_digit)
}

/// Decode base64 (standard or URL-safe alphabet, padding optional). `None` when a
/// byte is outside both alphabets.
pub fn base64_decode(s: &[u8]) -> Option<Vec<u8>> {
    let s = s
        .strip_suffix(b"==")
        .or_else(|| s.strip_suffix(b"="))
        .unwrap_or(s);
    let mut out = Vec::with_capacity(s.len() * 3 / 4);
    let (mut acc, mut bits) = (0u32, 0u32);
    for &c in s {
        let v = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' | b'-' => 62,
            b'/' | b'_' => 63,
            _ => return None,
        };
        acc = (acc << 6) | u32::from(v);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entropy_values() {
        assert_eq!(shannon_entropy(b""), 0.0);
        assert_eq!(shannon_entropy(b"aaaaaaaa"), 0.0);
        assert!((shannon_entropy(b"abcd") - 2.0).abs() < 1e-9);
        assert!((shannon_entropy(b"0123456789abcdef") - 4.0).abs() < 1e-9);
        assert!(shannon_entropy(b"password") < 2.8);
        assert!(shannon_entropy(b"q8Zr2LmX7vK0pW4tN9sB") > 4.0);
    }

    #[test]
    fn placeholders() {
        for p in [
            "changeme",
            "YOUR_API_KEY",
            "xxxxxxxxxxxx",
            "${TOKEN}",
            "{{ token }}",
            "<token>",
            "abcdef123",
            "1234567890",
            "AKIAIOSFODNN7EXAMPLE",
        ] {
            assert!(looks_placeholder_generic(p.as_bytes()), "{p}");
        }
        for p in ["q8Zr2LmX7vK0pW4tN9sB", "Zk3-9fQw_aP0"] {
            assert!(!looks_placeholder_generic(p.as_bytes()), "{p}");
        }
        assert!(looks_placeholder_generic(b"my-test-token-1"));
        assert!(!looks_placeholder(b"my-test-token-1"));
    }

    #[test]
    fn shapes() {
        assert!(is_uuid(b"123e4567-e89b-12d3-a456-426614174000"));
        assert!(!is_uuid(b"123e4567e89b12d3a456426614174000"));
        assert!(is_hex(b"deadBEEF09"));
        assert!(!is_hex(b"deadbeefg"));
        assert_eq!(
            base64_decode(b"dXNlcjpwYXNz").as_deref(),
            Some(&b"user:pass"[..])
        );
        assert_eq!(
            base64_decode(b"eyJhIjoxfQ").as_deref(),
            Some(&b"{\"a\":1}"[..])
        );
        assert_eq!(base64_decode(b"a.b"), None);
    }
}
