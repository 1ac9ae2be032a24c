//! Semantic versions (crates.io, npm) and Cargo's requirement syntax (RustSec).
//!
//! [`Version`] orders by SemVer 2.0.0 precedence: pre-releases sort before their
//! release, numeric identifiers before alphanumeric ones, build metadata is ignored
//! (`1.0.0+a == 1.0.0+b`). Parsing is slightly lenient where lockfiles are: a leading
//! `v` or `=` is accepted and numeric identifiers may have leading zeros. It refuses
//! anything that does not have exactly three numeric components.
//!
//! [`VersionReq`] is the requirement syntax RustSec uses in `patched`/`unaffected`
//! (Cargo's: `^1.2`, `~1.2.3`, `>= 0.2.23, < 0.3`, `=0.2.0`, `1.*`, bare `1.2` = caret).
//! It follows Cargo exactly, including the pre-release rule: a pre-release version
//! matches only if some comparator names the same `major.minor.patch` with a
//! pre-release. So `0.3.0-beta.1` does not match `>= 0.2.23`, and an advisory whose
//! only patched range is `>= 0.2.23` still reports it, as cargo-audit does.
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

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    Exact,
    Greater,
    GreaterEq,
    Less,
    LessEq,
    Tilde,
    Caret,
    Wildcard,
}

/// One comparator of a requirement; `minor`/`patch` are `None` when omitted (`^1`, `1.*`).
#[derive(Debug, Clone)]
struct Comparator {
    op: Op,
    major: u64,
    minor: Option<u64>,
    patch: Option<u64>,
    pre: Vec<Ident>,
}

/// A Cargo version requirement: comparators joined by `,` (all must match).
#[derive(Debug, Clone)]
pub struct VersionReq {
    text: String,
    comparators: Vec<Comparator>,
}

impl fmt::Display for VersionReq {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl VersionReq {
    pub fn parse(text: &str) -> Result<VersionReq, String> {
        let trimmed = text.trim();
        if trimmed.is_empty() {
            return Err("empty version requirement".into());
        }
        let mut comparators = Vec::new();
        if trimmed != "*" {
            for part in trimmed.split(',') {
                comparators.push(
                    parse_comparator(part.trim())
                        .map_err(|e| format!("version requirement `{trimmed}`: {e}"))?,
                );
            }
        }
        Ok(VersionReq {
            text: trimmed.to_string(),
            comparators,
        })
    }

    /// Cargo's `VersionReq::matches`, pre-release rule included (see module docs).
    pub fn matches(&self, v: &Version) -> bool {
        if !self.comparators.iter().all(|c| c.matches(v)) {
            return false;
        }
        if v.pre.is_empty() {
            return true;
        }
        self.comparators.iter().any(|c| {
            c.major == v.major
                && c.minor == Some(v.minor)
                && c.patch == Some(v.patch)
                && !c.pre.is_empty()
        })
    }
}

fn parse_comparator(s: &str) -> Result<Comparator, String> {
    let (op, rest) = if let Some(r) = s.strip_prefix(">=") {
        (Some(Op::GreaterEq), r)
    } else if let Some(r) = s.strip_prefix("<=") {
        (Some(Op::LessEq), r)
    } else if let Some(r) = s.strip_prefix('>') {
        (Some(Op::Greater), r)
    } else if let Some(r) = s.strip_prefix('<') {
        (Some(Op::Less), r)
    } else if let Some(r) = s.strip_prefix('=') {
        (Some(Op::Exact), r)
    } else if let Some(r) = s.strip_prefix('~') {
        (Some(Op::Tilde), r)
    } else if let Some(r) = s.strip_prefix('^') {
        (Some(Op::Caret), r)
    } else {
        (None, s)
    };
    let rest = rest.trim();
    if rest.is_empty() {
        return Err(format!("comparator `{s}` has no version"));
    }
    let (core, pre) = match rest
        .split_once('+')
        .map_or(rest, |(a, _)| a)
        .split_once('-')
    {
        Some((a, b)) => (a, Some(b)),
        None => (rest.split_once('+').map_or(rest, |(a, _)| a), None),
    };
    let parts: Vec<&str> = core.split('.').collect();
    if parts.len() > 3 {
        return Err(format!("`{rest}` has more than three components"));
    }
    let is_wild = |p: &str| matches!(p, "*" | "x" | "X");
    let mut nums: [Option<u64>; 3] = [None; 3];
    let mut wildcard = false;
    for (i, p) in parts.iter().enumerate() {
        if is_wild(p) {
            wildcard = true;
            continue;
        }
        if wildcard {
            return Err(format!("`{rest}`: a number cannot follow a wildcard"));
        }
        nums[i] = Some(number(p).ok_or_else(|| format!("`{p}` in `{rest}` is not a number"))?);
    }
    let major = nums[0].ok_or_else(|| format!("`{rest}`: the major version is required"))?;
    let pre = match pre {
        Some(p) => {
            if nums[2].is_none() {
                return Err(format!("`{rest}`: a pre-release needs major.minor.patch"));
            }
            parse_pre(p)?
        }
        None => Vec::new(),
    };
    let op = match op {
        Some(o) if wildcard && o != Op::Exact => {
            return Err(format!("`{s}`: wildcards only work without an operator"));
        }
        Some(o) => o,
        None if wildcard => Op::Wildcard,
        None => Op::Caret,
    };
    Ok(Comparator {
        op,
        major,
        minor: nums[1],
        patch: nums[2],
        pre,
    })
}

impl Comparator {
    /// `v` compared with the version this comparator names, on the components it names.
    fn cmp_named(&self, v: &Version) -> Ordering {
        let mut o = v.major.cmp(&self.major);
        if let Some(minor) = self.minor {
            o = o.then(v.minor.cmp(&minor));
            if let Some(patch) = self.patch {
                o = o.then(v.patch.cmp(&patch));
                o = o.then_with(|| {
                    let me = Version {
                        major: self.major,
                        minor,
                        patch,
                        pre: self.pre.clone(),
                        build: String::new(),
                    };
                    v.cmp(&me)
                });
            }
        }
        o
    }

    fn matches(&self, v: &Version) -> bool {
        let o = self.cmp_named(v);
        match self.op {
            Op::Exact | Op::Wildcard => o == Ordering::Equal,
            Op::Greater => o == Ordering::Greater,
            Op::GreaterEq => o != Ordering::Less,
            Op::Less => o == Ordering::Less,
            Op::LessEq => o != Ordering::Greater,
            Op::Tilde => {
                // ~I.J.K: same major.minor, at least K. ~I.J and ~I: same prefix.
                v.major == self.major
                    && self.minor.is_none_or(|m| v.minor == m)
                    && o != Ordering::Less
            }
            Op::Caret => {
                if o == Ordering::Less || v.major != self.major {
                    return false;
                }
                match (self.minor, self.patch) {
                    (None, _) => true,
                    (Some(minor), patch) if self.major == 0 => {
                        // ^0.J: same minor; ^0.0.K: exactly that patch.
                        v.minor == minor && (minor != 0 || patch.is_none_or(|p| v.patch == p))
                    }
                    _ => true,
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(s: &str) -> Version {
        Version::parse(s).expect(s)
    }
    fn req(s: &str) -> VersionReq {
        VersionReq::parse(s).expect(s)
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

    #[test]
    fn caret_requirements() {
        assert!(req("^0.1").matches(&v("0.1.45")));
        assert!(!req("^0.1").matches(&v("0.2.0")));
        assert!(req("^1.2.3").matches(&v("1.9.0")));
        assert!(!req("^1.2.3").matches(&v("1.2.2")));
        assert!(!req("^1.2.3").matches(&v("2.0.0")));
        assert!(req("^0.0.3").matches(&v("0.0.3")));
        assert!(!req("^0.0.3").matches(&v("0.0.4")));
        assert!(req("^0.2.3").matches(&v("0.2.9")));
        assert!(!req("^0.2.3").matches(&v("0.3.0")));
        // Bare versions are caret requirements, as in Cargo.toml.
        assert!(req("1.4").matches(&v("1.7.0")));
        assert!(!req("1.4").matches(&v("1.3.9")));
    }

    #[test]
    fn tilde_exact_wildcard_and_ranges() {
        assert!(req("~1.2.3").matches(&v("1.2.9")));
        assert!(!req("~1.2.3").matches(&v("1.3.0")));
        assert!(req("~1").matches(&v("1.9.9")));
        assert!(req("=0.2.0").matches(&v("0.2.0")));
        assert!(!req("=0.2.0").matches(&v("0.2.1")));
        assert!(req("=0.2").matches(&v("0.2.7")));
        assert!(req("1.*").matches(&v("1.5.0")));
        assert!(!req("1.*").matches(&v("2.0.0")));
        assert!(req("*").matches(&v("3.1.4")));
        assert!(req(">= 0.2.23").matches(&v("0.3.0")));
        assert!(!req(">= 0.2.23").matches(&v("0.2.22")));
        assert!(req(">= 1.0.5, < 1.1.0").matches(&v("1.0.7")));
        assert!(!req(">= 1.0.5, < 1.1.0").matches(&v("1.1.0")));
        assert!(req("<0.1.5").matches(&v("0.1.4")));
        assert!(req("<= 0.1.5").matches(&v("0.1.5")));
        assert!(req("> 0.1").matches(&v("0.2.0")));
        assert!(!req("> 0.1").matches(&v("0.1.9")));
    }

    #[test]
    fn prerelease_matches_only_a_comparator_naming_it() {
        // Cargo semantics: `>= 0.2.23` is not satisfied by a pre-release...
        assert!(!req(">= 0.2.23").matches(&v("0.3.0-beta.1")));
        assert!(!req(">= 0.2.23").matches(&v("0.2.23-rc.1")));
        // ...unless a comparator names the same major.minor.patch with a pre-release.
        assert!(req(">= 0.3.0-alpha").matches(&v("0.3.0-beta.1")));
        assert!(!req(">= 0.3.0-alpha").matches(&v("0.4.0-beta.1")));
        assert!(!req(">= 0.3.0-beta.2").matches(&v("0.3.0-beta.1")));
    }

    #[test]
    fn requirement_errors_name_the_problem() {
        assert!(VersionReq::parse("").is_err());
        assert!(
            VersionReq::parse(">=")
                .expect_err("must be refused")
                .contains("no version")
        );
        assert!(
            VersionReq::parse("^1.x.3")
                .expect_err("must be refused")
                .contains("wildcard")
        );
        assert!(VersionReq::parse(">= 1.2.3.4").is_err());
        assert!(
            VersionReq::parse("1.2-rc1")
                .expect_err("must be refused")
                .contains("major.minor.patch")
        );
    }
}
