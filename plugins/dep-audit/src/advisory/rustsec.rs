//! RustSec advisory-db native files → [`Advisory`].
//!
//! A file is a fenced ```` ```toml ```` block (the advisory metadata) followed by
//! markdown whose first `# ` heading is the title. Read: `[advisory]` `id`, `package`,
//! `aliases`, `cvss`, `informational`, `withdrawn`; `[versions]` `patched` and
//! `unaffected` as Cargo requirements. The affected package is on crates.io (the
//! advisory-db's `source` key for other registries is not supported; such files are
//! read as crates.io advisories). Errors name the line in the file.
//!
//! Tests: the `tests` module at the bottom of this file.

use std::path::PathBuf;

use serde::Deserialize;

use super::{Advisory, Affected, Ecosystem, Informational, RustsecVersions, line_of};
use crate::version::semver::VersionReq;

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
            .map(|r| VersionReq::parse(r).map_err(|e| format!("[versions] {what}: {e}")))
            .collect()
    };
    let meta = doc.advisory;
    Ok(Advisory {
        affected: vec![Affected {
            ecosystem: Ecosystem::CratesIo,
            package: meta.package.trim().to_string(),
            ranges: Vec::new(),
            versions: Vec::new(),
            rustsec: Some(RustsecVersions {
                patched: reqs(&versions.patched, "patched")?,
                unaffected: reqs(&versions.unaffected, "unaffected")?,
            }),
        }],
        id: meta.id,
        aliases: meta.aliases,
        summary: title,
        cvss: meta.cvss.filter(|c| c.starts_with("CVSS:3.")),
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
        assert!(aff.check("1.1.0").expect("ok").is_some());
        assert!(aff.check("0.4.0").expect("ok").is_none());
        assert!(aff.check("1.2.0").expect("ok").is_none());
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
        assert!(
            from_markdown(&bad)
                .expect_err("must be refused")
                .contains("[versions] patched")
        );
    }
}
