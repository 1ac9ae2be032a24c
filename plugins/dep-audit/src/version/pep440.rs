//! PEP 440 versions (PyPI): parsing, normalisation and ordering.
//!
//! Accepted: everything PEP 440 calls a valid version after normalisation — optional
//! `v` prefix, epochs (`1!2.0`), any number of release components, pre-releases with
//! every spelling (`a`/`alpha`, `b`/`beta`, `rc`/`c`/`pre`/`preview`, with or without
//! `.`/`-`/`_` separators and an implicit `0`), post-releases (`.post1`, `-1`, `rev`,
//! `r`), dev releases, local versions (`+ubuntu.1`), any letter case. Refused (with the
//! reason): legacy versions such as `2004d` or `1.0-foo`, which pip no longer installs.
//!
//! Ordering is PEP 440's: epoch, then release with trailing zeros ignored (`1.0 ==
//! 1.0.0`), then `X.devN < X.aN < X.bN < X.rcN < X < X.postN`, dev releases of a pre
//! or post release before it, and local versions after the public one they extend.
//!
//! Tests: the `tests` module at the bottom of this file.

use std::cmp::Ordering;
use std::fmt;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum PreKind {
    Alpha,
    Beta,
    Rc,
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum LocalSegment {
    // Variant order is precedence: alphanumeric segments sort before numeric ones.
    Alpha(String),
    Numeric(u64),
}

/// A PEP 440 version.
#[derive(Debug, Clone)]
pub struct Pep440 {
    pub epoch: u64,
    pub release: Vec<u64>,
    pub pre: Option<(PreKind, u64)>,
    pub post: Option<u64>,
    pub dev: Option<u64>,
    pub local: Vec<LocalSegment>,
}

/// Parser over the lower-cased text.
struct Cursor<'a> {
    s: &'a [u8],
    i: usize,
}

impl Cursor<'_> {
    fn peek(&self) -> Option<u8> {
        self.s.get(self.i).copied()
    }
    fn digits(&mut self) -> Option<u64> {
        let start = self.i;
        while self.peek().is_some_and(|b| b.is_ascii_digit()) {
            self.i += 1;
        }
        if start == self.i {
            return None;
        }
        // Up to u64; an absurdly long number is treated as not a number.
        std::str::from_utf8(&self.s[start..self.i])
            .ok()?
            .parse()
            .ok()
    }
    fn sep(&mut self) -> bool {
        if matches!(self.peek(), Some(b'.' | b'-' | b'_')) {
            self.i += 1;
            true
        } else {
            false
        }
    }
    /// Consumes the longest of `words` at the cursor.
    fn word(&mut self, words: &[&str]) -> Option<usize> {
        let rest = &self.s[self.i..];
        let mut best: Option<(usize, usize)> = None;
        for (k, w) in words.iter().enumerate() {
            if rest.starts_with(w.as_bytes()) && best.is_none_or(|(_, l)| w.len() > l) {
                best = Some((k, w.len()));
            }
        }
        let (k, len) = best?;
        self.i += len;
        Some(k)
    }
}

impl Pep440 {
    pub fn parse(text: &str) -> Result<Pep440, String> {
        let lower = text.trim().to_ascii_lowercase();
        let err = |why: &str| format!("`{}` is not a PEP 440 version: {why}", text.trim());
        let mut c = Cursor {
            s: lower.as_bytes(),
            i: 0,
        };
        if c.peek() == Some(b'v') {
            c.i += 1;
        }
        let first = c
            .digits()
            .ok_or_else(|| err("it must start with a number"))?;
        let mut epoch = 0;
        let mut release = vec![first];
        if c.peek() == Some(b'!') {
            c.i += 1;
            epoch = first;
            release = vec![
                c.digits()
                    .ok_or_else(|| err("no release after the epoch"))?,
            ];
        }
        loop {
            let save = c.i;
            if c.peek() == Some(b'.') {
                c.i += 1;
                if let Some(n) = c.digits() {
                    release.push(n);
                    continue;
                }
            }
            c.i = save;
            break;
        }
        // Pre-release.
        let mut pre = None;
        let save = c.i;
        c.sep();
        match c.word(&["alpha", "a", "beta", "b", "preview", "pre", "rc", "c"]) {
            Some(k) => {
                let kind = match k {
                    0 | 1 => PreKind::Alpha,
                    2 | 3 => PreKind::Beta,
                    _ => PreKind::Rc,
                };
                let save_n = c.i;
                c.sep();
                let n = match c.digits() {
                    Some(n) => n,
                    None => {
                        c.i = save_n;
                        0
                    }
                };
                pre = Some((kind, n));
            }
            None => c.i = save,
        }
        // Post-release: `-N` or [sep](post|rev|r)[sep][N].
        let mut post = None;
        let save = c.i;
        if c.peek() == Some(b'-') {
            c.i += 1;
            if let Some(n) = c.digits() {
                post = Some(n);
            } else {
                c.i = save;
            }
        }
        if post.is_none() {
            c.sep();
            if c.word(&["post", "rev", "r"]).is_some() {
                let save_n = c.i;
                c.sep();
                post = Some(match c.digits() {
                    Some(n) => n,
                    None => {
                        c.i = save_n;
                        0
                    }
                });
            } else {
                c.i = save;
            }
        }
        // Dev release.
        let mut dev = None;
        let save = c.i;
        c.sep();
        if c.word(&["dev"]).is_some() {
            let save_n = c.i;
            c.sep();
            dev = Some(match c.digits() {
                Some(n) => n,
                None => {
                    c.i = save_n;
                    0
                }
            });
        } else {
            c.i = save;
        }
        // Local version.
        let mut local = Vec::new();
        if c.peek() == Some(b'+') {
            c.i += 1;
            let rest = std::str::from_utf8(&c.s[c.i..]).map_err(|_| err("not ASCII"))?;
            for seg in rest.split(['.', '-', '_']) {
                if seg.is_empty() || !seg.bytes().all(|b| b.is_ascii_alphanumeric()) {
                    return Err(err(&format!("invalid local version segment `{seg}`")));
                }
                local.push(match seg.parse::<u64>() {
                    Ok(n) if seg.bytes().all(|b| b.is_ascii_digit()) => LocalSegment::Numeric(n),
                    _ => LocalSegment::Alpha(seg.to_string()),
                });
            }
            c.i = c.s.len();
        }
        if c.i != c.s.len() {
            let rest = String::from_utf8_lossy(&c.s[c.i..]).into_owned();
            return Err(err(&format!("unexpected `{rest}`")));
        }
        Ok(Pep440 {
            epoch,
            release,
            pre,
            post,
            dev,
            local,
        })
    }

    pub fn is_prerelease(&self) -> bool {
        self.pre.is_some() || self.dev.is_some()
    }

    /// The same version without its local segment (`1.0+ubuntu1` → `1.0`).
    pub fn public(&self) -> Pep440 {
        Pep440 {
            local: Vec::new(),
            ..self.clone()
        }
    }

    fn release_trimmed(&self) -> &[u64] {
        let mut end = self.release.len();
        while end > 1 && self.release[end - 1] == 0 {
            end -= 1;
        }
        &self.release[..end]
    }
}

/// Sort key helpers: `Min`/`Max` stand in for PEP 440's "absent" cases.
#[derive(PartialEq, Eq, PartialOrd, Ord)]
enum Key<T> {
    Min,
    Val(T),
    Max,
}

impl Ord for Pep440 {
    fn cmp(&self, other: &Self) -> Ordering {
        fn pre_key(v: &Pep440) -> Key<(PreKind, u64)> {
            match (v.pre, v.post, v.dev) {
                // `1.0.dev0` sorts before `1.0a0`.
                (None, None, Some(_)) => Key::Min,
                (None, _, _) => Key::Max,
                (Some(p), _, _) => Key::Val(p),
            }
        }
        fn post_key(v: &Pep440) -> Key<u64> {
            v.post.map_or(Key::Min, Key::Val)
        }
        fn dev_key(v: &Pep440) -> Key<u64> {
            v.dev.map_or(Key::Max, Key::Val)
        }
        self.epoch
            .cmp(&other.epoch)
            .then_with(|| {
                // Compare releases as if padded with zeros.
                let (a, b) = (self.release_trimmed(), other.release_trimmed());
                a.cmp(b)
            })
            .then_with(|| pre_key(self).cmp(&pre_key(other)))
            .then_with(|| post_key(self).cmp(&post_key(other)))
            .then_with(|| dev_key(self).cmp(&dev_key(other)))
            .then_with(|| self.local.cmp(&other.local))
    }
}
impl PartialOrd for Pep440 {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl PartialEq for Pep440 {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}
impl Eq for Pep440 {}

impl fmt::Display for Pep440 {
    /// The normalised form (`1.0-ALPHA_2` → `1.0a2`).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.epoch != 0 {
            write!(f, "{}!", self.epoch)?;
        }
        let rel: Vec<String> = self.release.iter().map(u64::to_string).collect();
        f.write_str(&rel.join("."))?;
        if let Some((k, n)) = self.pre {
            let k = match k {
                PreKind::Alpha => "a",
                PreKind::Beta => "b",
                PreKind::Rc => "rc",
            };
            write!(f, "{k}{n}")?;
        }
        if let Some(n) = self.post {
            write!(f, ".post{n}")?;
        }
        if let Some(n) = self.dev {
            write!(f, ".dev{n}")?;
        }
        for (i, seg) in self.local.iter().enumerate() {
            f.write_str(if i == 0 { "+" } else { "." })?;
            match seg {
                LocalSegment::Alpha(s) => f.write_str(s)?,
                LocalSegment::Numeric(n) => write!(f, "{n}")?,
            }
        }
        Ok(())
    }
}

/// PEP 503 name normalisation: lower case, runs of `-`, `_`, `.` become one `-`.
pub fn normalize_name(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    let mut sep = false;
    for ch in name.trim().chars() {
        if matches!(ch, '-' | '_' | '.') {
            sep = true;
        } else {
            if sep && !out.is_empty() {
                out.push('-');
            }
            sep = false;
            out.push(ch.to_ascii_lowercase());
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> Pep440 {
        Pep440::parse(s).expect(s)
    }

    #[test]
    fn normalisation_of_spellings() {
        let cases = [
            ("1.0-ALPHA_2", "1.0a2"),
            ("1.0alpha", "1.0a0"),
            ("1.0.beta.3", "1.0b3"),
            ("1.0c1", "1.0rc1"),
            ("1.0-pre4", "1.0rc4"),
            ("1.0preview", "1.0rc0"),
            ("1.0-1", "1.0.post1"),
            ("1.0.rev2", "1.0.post2"),
            ("1.0r", "1.0.post0"),
            ("1.0.post", "1.0.post0"),
            ("1.0-dev", "1.0.dev0"),
            ("1.0.DEV_7", "1.0.dev7"),
            ("v2.1", "2.1"),
            ("1!2.0", "1!2.0"),
            ("1.0+Ubuntu-1_x", "1.0+ubuntu.1.x"),
            ("  01.002  ", "1.2"),
            ("1.0rc1.post2.dev3", "1.0rc1.post2.dev3"),
        ];
        for (input, normal) in cases {
            assert_eq!(p(input).to_string(), normal, "{input}");
        }
    }

    #[test]
    fn ordering_follows_pep_440() {
        // The ordering example from PEP 440 ("Summary of permitted suffixes").
        let chain = [
            "1.dev0",
            "1.0.dev456",
            "1.0a1",
            "1.0a2.dev456",
            "1.0a12.dev456",
            "1.0a12",
            "1.0b1.dev456",
            "1.0b2",
            "1.0b2.post345.dev456",
            "1.0b2.post345",
            "1.0rc1.dev456",
            "1.0rc1",
            "1.0",
            "1.0+abc.5",
            "1.0+abc.7",
            "1.0+5",
            "1.0.post456.dev34",
            "1.0.post456",
            "1.0.15",
            "1.1.dev1",
        ];
        for w in chain.windows(2) {
            assert!(p(w[0]) < p(w[1]), "{} < {}", w[0], w[1]);
        }
    }

    #[test]
    fn trailing_zeros_and_epochs() {
        assert_eq!(p("1.0"), p("1.0.0"));
        assert_eq!(p("1"), p("1.0.0.0"));
        assert!(p("1.0.1") > p("1.0"));
        // Any epoch beats any release of a lower epoch.
        assert!(p("1!0.1") > p("2024.10"));
        assert!(p("0!2.0") == p("2.0"));
    }

    #[test]
    fn local_versions_sort_after_public_and_compare_segmentwise() {
        assert!(p("1.0+local") > p("1.0"));
        assert!(p("1.0+1") > p("1.0+abc"));
        assert!(p("1.0+abc.2") < p("1.0+abc.10"));
        assert!(p("1.0+abc") < p("1.0+abc.0"));
        assert_eq!(p("1.0+ubuntu1").public(), p("1.0"));
    }

    #[test]
    fn prerelease_detection() {
        assert!(p("2.0rc1").is_prerelease());
        assert!(p("2.0.dev1").is_prerelease());
        assert!(!p("2.0.post1").is_prerelease());
    }

    #[test]
    fn invalid_versions_are_refused_with_reason() {
        for bad in [
            "", "abc", "1.0-foo", "2004d", "1.0+", "1.0+a..b", "1..0", "1.0 beta",
        ] {
            let e = Pep440::parse(bad).expect_err(bad);
            assert!(e.contains("not a PEP 440 version"), "{bad}: {e}");
        }
    }

    #[test]
    fn names_are_normalised_like_pep_503() {
        assert_eq!(normalize_name("Django"), "django");
        assert_eq!(normalize_name("zope.interface"), "zope-interface");
        assert_eq!(normalize_name("Foo__Bar-.baz"), "foo-bar-baz");
    }
}
