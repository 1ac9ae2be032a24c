//! Semantic versions (crates.io, npm) for OSV ranges and `versions` lists.
//!
//! [`Version`] orders by SemVer 2.0.0 precedence: pre-releases sort before their
//! release, numeric identifiers before alphanumeric ones, build metadata is ignored
//! (`1.0.0+a == 1.0.0+b`). Parsing is slightly lenient where lockfiles are: a leading
//! `v` or `=` is accepted and numeric identifiers may have leading zeros. It refuses
//! anything that does not have exactly three numeric components.
//!
//! RustSec's native `[versions]` requirements are not matched here but by the
//! `rustsec` crate (see `advisory::rustsec`): Cargo's requirement rule for
//! pre-releases is not the rule RustSec applies to advisories.
//!
//! Tests: the `tests` module at the bottom of this file.

use std::cmp::Ordering;
use std::fmt;

/// One dot-separated pre-release identifier.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Ident {
    // Variant order is precedence order: numeric identifiers sort first.
    Numeric(u64),
    Alpha(String),
}

/// A SemVer 2.0.0 version.
#[derive(Debug, Clone)]
pub struct Version {
    pub major: u64,
    pub minor: u64,
    pub patch: u64,
    pub pre: Vec<Ident>,
    pub build: String,
}

impl Version {
    pub fn new(major: u64, minor: u64, patch: u64) -> Version {
        Version {
            major,
            minor,
            patch,
            pre: Vec::new(),
            build: String::new(),
        }
    }

    /// Parses `1.2.3`, `1.2.3-rc.1+build.5`; also `v1.2.3` and `=1.2.3`.
    pub fn parse(text: &str) -> Result<Version, String> {
        let t = text.trim();
        let t = t
            .strip_prefix('v')
            .or_else(|| t.strip_prefix('='))
            .unwrap_or(t);
        let (core_pre, build) = match t.split_once('+') {
            Some((a, b)) => (a, b),
            None => (t, ""),
        };
        let (core, pre) = match core_pre.split_once('-') {
            Some((a, b)) => (a, Some(b)),
            None => (core_pre, None),
        };
        let mut nums = core.split('.');
        let mut next = |what: &str| -> Result<u64, String> {
            let part = nums
                .next()
                .ok_or_else(|| format!("`{text}` is not a semantic version: {what} is missing"))?;
            number(part).ok_or_else(|| {
                format!("`{text}` is not a semantic version: {what} `{part}` is not a number")
            })
        };
        let major = next("major")?;
        let minor = next("minor")?;
        let patch = next("patch")?;
        if nums.next().is_some() {
            return Err(format!(
                "`{text}` is not a semantic version: more than three numeric components"
            ));
        }
        let pre = match pre {
            Some(p) => parse_pre(p).map_err(|e| format!("`{text}`: {e}"))?,
            None => Vec::new(),
        };
        if !build
            .split('.')
            .all(|s| s.is_empty() || s.chars().all(|c| c.is_ascii_alphanumeric() || c == '-'))
        {
            return Err(format!("`{text}`: invalid build metadata `{build}`"));
        }
        Ok(Version {
            major,
            minor,
            patch,
            pre,
            build: build.to_string(),
        })
    }

    pub fn is_prerelease(&self) -> bool {
        !self.pre.is_empty()
    }
}

fn number(s: &str) -> Option<u64> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

fn parse_pre(p: &str) -> Result<Vec<Ident>, String> {
    p.split('.')
        .map(|id| {
            if id.is_empty() {
                Err(format!("empty pre-release identifier in `{p}`"))
            } else if let Some(n) = number(id) {
                Ok(Ident::Numeric(n))
            } else if id.chars().all(|c| c.is_ascii_alphanumeric() || c == '-') {
                Ok(Ident::Alpha(id.to_string()))
            } else {
                Err(format!("invalid pre-release identifier `{id}`"))
            }
        })
        .collect()
}

impl Ord for Version {
    fn cmp(&self, other: &Self) -> Ordering {
        (self.major, self.minor, self.patch)
            .cmp(&(other.major, other.minor, other.patch))
            .then_with(|| match (self.pre.is_empty(), other.pre.is_empty()) {
                (true, true) => Ordering::Equal,
                // A release has higher precedence than any of its pre-releases.
                (true, false) => Ordering::Greater,
                (false, true) => Ordering::Less,
                (false, false) => self.pre.cmp(&other.pre),
            })
    }
}
impl PartialOrd for Version {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl PartialEq for Version {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}
impl Eq for Version {}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}.{}", self.major, self.minor, self.patch)?;
        for (i, id) in self.pre.iter().enumerate() {
            f.write_str(if i == 0 { "-" } else { "." })?;
            match id {
                Ident::Numeric(n) => write!(f, "{n}")?,
                Ident::Alpha(s) => f.write_str(s)?,
            }
        }
        if !self.build.is_empty() {
            write!(f, "+{}", self.build)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(s: &str) -> Version {
        Version::parse(s).expect(s)
    }

    #[test]
    fn precedence_follows_semver_spec_example_chain() {
        // The chain from semver.org §11.
        let chain = [
            "1.0.0-alpha",
            "1.0.0-alpha.1",
            "1.0.0-alpha.beta",
            "1.0.0-beta",
            "1.0.0-beta.2",
            "1.0.0-beta.11",
            "1.0.0-rc.1",
            "1.0.0",
            "1.0.1",
            "1.1.0",
            "2.0.0",
        ];
        for w in chain.windows(2) {
            assert!(v(w[0]) < v(w[1]), "{} < {}", w[0], w[1]);
        }
    }

    #[test]
    fn build_metadata_is_ignored_for_precedence_but_kept_for_display() {
        assert_eq!(v("0.9.12+spec-1.1.0"), v("0.9.12"));
        assert_eq!(v("0.9.12+spec-1.1.0").to_string(), "0.9.12+spec-1.1.0");
    }

    #[test]
    fn numeric_identifiers_compare_numerically() {
        assert!(v("1.0.0-rc.2") < v("1.0.0-rc.10"));
        assert!(v("0.2.1-0") < v("0.2.1"));
        assert!(v("10.0.0") > v("9.99.99"));
    }

    #[test]
    fn parse_rejects_non_semver_with_reason() {
        assert!(
            Version::parse("1.2")
                .expect_err("must be refused")
                .contains("patch is missing")
        );
        assert!(
            Version::parse("1.2.3.4")
                .expect_err("must be refused")
                .contains("more than three")
        );
        assert!(
            Version::parse("1.x.3")
                .expect_err("must be refused")
                .contains("not a number")
        );
        assert!(Version::parse("1.0.0-").is_err());
        assert!(Version::parse("git+https://x/y.git").is_err());
        assert_eq!(v("v1.2.3"), v("1.2.3"));
    }
}
