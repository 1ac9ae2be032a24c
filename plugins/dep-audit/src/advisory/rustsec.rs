//! RustSec advisory-db native files → [`Advisory`].
//!
//! A file is a fenced ```` ```toml ```` block (the advisory metadata) followed by
//! markdown whose first `# ` heading is the title. Read: `[advisory]` `id`, `package`,
//! `aliases`, `cvss`, `informational`, `withdrawn`; `[versions]` `patched` and
//! `unaffected` as Cargo requirements. The affected package is on crates.io (the
//! advisory-db's `source` key for other registries is not supported; such files are
//! read as crates.io advisories). Errors name the line in the file.
//!
//! Matching is RustSec's own, from the `rustsec` crate: `Versions::new` validates the
//! requirements (no overlaps, operators RustSec supports — the rules the advisory-db
//! linter enforces, so a file cargo-audit would refuse is refused here too) and
//! `Versions::is_vulnerable` decides. It turns the requirements into OSV-style
//! intervals and compares by SemVer precedence, so a pre-release is judged by where
//! it sorts: `1.0.0-rc.1` is above `>= 0.14.12`. Cargo's own requirement rule (a
//! pre-release only satisfies a comparator naming the same `x.y.z`) would call it
//! unpatched, and `semver::VersionReq::matches` applies that rule — which is why the
//! requirements are not matched one by one.
//!
//! Tests: the `tests` module at the bottom of this file; whole audits in
//! `tests/fixtures.rs` (`prerelease_versions_follow_rustsec_matching_…`).

use std::path::PathBuf;

use serde::Deserialize;

use ::rustsec::VersionReq;
use ::rustsec::advisory::Versions as Rules;

use super::{Advisory, Affected, Ecosystem, Informational, RustsecVersions, line_of};

#[derive(Deserialize)]
struct Doc {
    advisory: Meta,
    versions: Option<Versions>,
}

#[derive(Deserialize)]
struct Meta {
    id: String,
    package: String,
    #[serde(default)]
    aliases: Vec<String>,
    cvss: Option<String>,
    informational: Option<String>,
    withdrawn: Option<toml::Value>,
}

#[derive(Deserialize, Default)]
struct Versions {
    #[serde(default)]
    patched: Vec<String>,
    #[serde(default)]
    unaffected: Vec<String>,
}

/// Parses a RustSec `RUSTSEC-*.md` file.
pub fn from_markdown(text: &str) -> Result<Advisory, String> {
    let first_nl = text
        .find('\n')
        .ok_or("not a RustSec advisory: no ```toml front matter")?;
    if text[..first_nl].trim() != "```toml" {
        return Err("line 1: not a RustSec advisory: expected a ```toml front matter".into());
    }
    let body_start = first_nl + 1;
    let close = text[body_start..]
        .match_indices("```")
        .map(|(i, _)| body_start + i)
        .find(|&i| text[..i].ends_with('\n'))
        .ok_or("the ```toml front matter is never closed")?;
    let front = &text[body_start..close];
    let doc: Doc = toml::from_str(front).map_err(|e| {
        let at = e.span().map_or(0, |s| s.start);
        format!(
            "line {}: invalid advisory TOML: {}",
            line_of(text, body_start + at),
            e.message()
        )
    })?;
    let title = text[close..]
        .lines()
        .find_map(|l| l.strip_prefix("# "))
        .map(|t| t.trim().to_string())
        .unwrap_or_default();
    let versions = doc.versions.unwrap_or_default();
    let reqs = |list: &[String], what: &str| -> Result<Vec<VersionReq>, String> {
        list.iter()
            .map(|r| {
                VersionReq::parse(r).map_err(|e| {
                    format!("[versions] {what}: `{r}` is not a version requirement: {e}")
                })
            })
            .collect()
    };
    let rules = Rules::new(
        reqs(&versions.patched, "patched")?,
        reqs(&versions.unaffected, "unaffected")?,
    )
    .map_err(|e| format!("[versions]: {e}"))?;
    let meta = doc.advisory;
    Ok(Advisory {
        affected: vec![Affected {
            ecosystem: Ecosystem::CratesIo,
            package: meta.package.trim().to_string(),
            ranges: Vec::new(),
            versions: Vec::new(),
            rustsec: Some(RustsecVersions {
                patched_text: versions.patched,
                rules,
            }),
        }],
        id: meta.id,
        aliases: meta.aliases,
        summary: title,
        cvss: meta.cvss.into_iter().collect(),
        informational: meta.informational.as_deref().map(Informational::parse),
        withdrawn: meta.withdrawn.is_some(),
        source: PathBuf::new(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLE: &str = "```toml\n[advisory]\nid = \"RUSTSEC-2099-0002\"\npackage = \"foo\"\ndate = \"2099-01-01\"\naliases = [\"CVE-2099-2\"]\ninformational = \"unsound\"\n\n[versions]\npatched = [\">= 1.2.0\"]\nunaffected = [\"< 0.5\"]\n```\n\n# Foo is unsound\n\nText.\n";

    #[test]
    fn reads_front_matter_and_title() {
        let a = from_markdown(SAMPLE).expect("advisory");
        assert_eq!(a.id, "RUSTSEC-2099-0002");
        assert_eq!(a.summary, "Foo is unsound");
        assert_eq!(a.informational, Some(Informational::Unsound));
        let aff = &a.affected[0];
        assert!(aff.check("1.1.0").expect("ok").is_hit());
        assert!(!aff.check("0.4.0").expect("ok").is_hit());
        assert!(!aff.check("1.2.0").expect("ok").is_hit());
    }

    #[test]
    fn withdrawn_date_is_detected() {
        let text = SAMPLE.replace("date = ", "withdrawn = \"2099-02-02\"\ndate = ");
        assert!(from_markdown(&text).expect("advisory").withdrawn);
    }

    #[test]
    fn errors_point_at_the_file_line() {
        let bad = SAMPLE.replace("package = \"foo\"", "package = foo");
        let e = from_markdown(&bad).expect_err("must be refused");
        assert!(e.starts_with("line 4:"), "{e}");
        let e = from_markdown("# just markdown\n").expect_err("must be refused");
        assert!(e.contains("front matter"), "{e}");
        let bad = SAMPLE.replace(">= 1.2.0", ">= one");
        let e = from_markdown(&bad).expect_err("must be refused");
        assert!(e.contains("[versions] patched: `>= one`"), "{e}");
        // Overlapping requirements are refused, as RustSec's linter refuses them.
        let bad = SAMPLE.replace("\"< 0.5\"", "\"< 1.3\"");
        let e = from_markdown(&bad).expect_err("must be refused");
        assert!(e.contains("Overlapping"), "{e}");
    }

    #[test]
    fn prereleases_are_judged_by_precedence_as_rustsec_does() {
        // RustSec: a pre-release above a patched lower bound is patched; one inside
        // an affected interval is affected. Cargo's requirement rule said both were
        // unpatched.
        let text = SAMPLE.replace("[\">= 1.2.0\"]", "[\">= 0.14.12\"]");
        let aff = &from_markdown(&text).expect("advisory").affected[0];
        assert!(!aff.check("1.0.0-rc.1").expect("ok").is_hit());
        assert!(aff.check("0.14.12-rc.1").expect("ok").is_hit());
        assert!(aff.check("0.14.11").expect("ok").is_hit());
        // `< 0.5` means below 0.5.0 by precedence, and 0.5.0-alpha sorts below it.
        assert!(!aff.check("0.5.0-alpha").expect("ok").is_hit());
        assert!(aff.check("0.5.1-alpha").expect("ok").is_hit());
        // The fix is suggested as the advisory wrote it.
        assert_eq!(
            aff.check("0.14.11").expect("ok").hit.expect("hit").fixed,
            vec![">= 0.14.12"]
        );
    }
}
