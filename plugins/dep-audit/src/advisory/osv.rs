//! OSV schema documents (<https://ossf.github.io/osv-schema/>) → [`Advisory`].
//!
//! Read: `id`, `aliases`, `summary` (or the first line of `details`), `withdrawn`,
//! `severity` (`CVSS_V2`, `CVSS_V3`, `CVSS_V4` vectors, top-level and per affected
//! package; scored by [`crate::cvss`]), `affected[]` with `package`, `ranges`
//! (`SEMVER`, `ECOSYSTEM`; `GIT` ranges name commits, not versions, and are skipped),
//! `versions`, and RustSec's `database_specific.informational` / `cvss`.
//! Unknown fields are ignored, as the schema asks of consumers.
//!
//! Tests: the `tests` module at the bottom of this file.

use std::path::PathBuf;

use serde::Deserialize;
use serde_json::Value;

use super::{Advisory, Affected, Ecosystem, Informational, Range, RangeKind, yaml};
use crate::version::range::Event;

#[derive(Deserialize)]
struct Doc {
    id: String,
    aliases: Option<Vec<String>>,
    summary: Option<String>,
    details: Option<String>,
    withdrawn: Option<String>,
    severity: Option<Vec<Severity>>,
    affected: Option<Vec<AffectedDoc>>,
}

#[derive(Deserialize)]
struct Severity {
    #[serde(rename = "type")]
    kind: String,
    score: String,
}

#[derive(Deserialize)]
struct AffectedDoc {
    package: Option<Package>,
    ranges: Option<Vec<RangeDoc>>,
    versions: Option<Vec<String>>,
    severity: Option<Vec<Severity>>,
    database_specific: Option<Value>,
}

#[derive(Deserialize)]
struct Package {
    ecosystem: String,
    name: String,
}

#[derive(Deserialize)]
struct RangeDoc {
    #[serde(rename = "type")]
    kind: String,
    events: Option<Vec<std::collections::BTreeMap<String, String>>>,
}

/// Parses an OSV JSON document.
pub fn from_json(text: &str) -> Result<Advisory, String> {
    let doc: Doc = serde_json::from_str(text).map_err(|e| format!("invalid OSV JSON: {e}"))?;
    convert(doc)
}

/// Parses an OSV YAML document.
pub fn from_yaml(text: &str) -> Result<Advisory, String> {
    let value = yaml::to_json(text).map_err(|e| format!("invalid YAML: {e}"))?;
    let doc: Doc = serde_json::from_value(value).map_err(|e| format!("invalid OSV YAML: {e}"))?;
    convert(doc)
}

/// CVSS vectors of a `severity` list (other kinds, e.g. `Ubuntu`, are not CVSS).
fn vectors(sev: Option<&[Severity]>) -> impl Iterator<Item = String> + '_ {
    sev.unwrap_or_default()
        .iter()
        .filter(|s| s.kind.starts_with("CVSS_V"))
        .map(|s| s.score.clone())
}

fn convert(doc: Doc) -> Result<Advisory, String> {
    if doc.id.trim().is_empty() {
        return Err("OSV document has an empty `id`".into());
    }
    let mut cvss: Vec<String> = vectors(doc.severity.as_deref()).collect();
    let mut informational = None;
    let mut affected = Vec::new();
    for (i, a) in doc.affected.unwrap_or_default().into_iter().enumerate() {
        let Some(pkg) = a.package else { continue };
        cvss.extend(vectors(a.severity.as_deref()));
        if let Some(ds) = &a.database_specific {
            if informational.is_none() {
                informational = ds
                    .get("informational")
                    .and_then(Value::as_str)
                    .map(Informational::parse);
            }
            if let Some(v) = ds.get("cvss").and_then(Value::as_str) {
                cvss.push(v.to_string());
            }
        }
        let eco = match Ecosystem::from_osv(&pkg.ecosystem) {
            Some(e) => e,
            None => continue,
        };
        let mut ranges = Vec::new();
        for (j, r) in a.ranges.unwrap_or_default().into_iter().enumerate() {
            let kind = match r.kind.as_str() {
                "SEMVER" => RangeKind::Semver,
                "ECOSYSTEM" => RangeKind::Ecosystem,
                _ => continue,
            };
            let mut events = Vec::new();
            for ev in r.events.unwrap_or_default() {
                for (k, v) in ev {
                    events.push(match k.as_str() {
                        "introduced" => Event::Introduced(v),
                        "fixed" => Event::Fixed(v),
                        "last_affected" => Event::LastAffected(v),
                        "limit" => Event::Limit(v),
                        other => {
                            return Err(format!(
                                "affected[{i}].ranges[{j}]: unknown event `{other}`"
                            ));
                        }
                    });
                }
            }
            ranges.push(Range { kind, events });
        }
        affected.push(Affected {
            ecosystem: eco,
            package: eco.normalize(&pkg.name),
            ranges,
            versions: a.versions.unwrap_or_default(),
            rustsec: None,
        });
    }
    let summary = doc
        .summary
        .filter(|s| !s.trim().is_empty())
        .or_else(|| {
            doc.details
                .as_deref()
                .and_then(|d| d.lines().map(str::trim).find(|l| !l.is_empty()))
                .map(str::to_string)
        })
        .unwrap_or_default();
    Ok(Advisory {
        id: doc.id,
        aliases: doc.aliases.unwrap_or_default(),
        summary,
        cvss: {
            cvss.sort();
            cvss.dedup();
            cvss
        },
        informational,
        withdrawn: doc.withdrawn.is_some_and(|w| !w.trim().is_empty()),
        affected,
        source: PathBuf::new(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_with_rustsec_informational_and_cvss_in_database_specific() {
        let a = from_json(
            r#"{"id":"RUSTSEC-2099-0001","aliases":["GHSA-xxxx-yyyy-zzzz"],
            "summary":"s","affected":[{"package":{"ecosystem":"crates.io","name":"foo"},
            "database_specific":{"informational":"unmaintained","cvss":null},
            "ranges":[{"type":"SEMVER","events":[{"introduced":"0.0.0-0"}]}]}]}"#,
        )
        .expect("osv");
        assert_eq!(a.id, "RUSTSEC-2099-0001");
        assert_eq!(a.informational, Some(Informational::Unmaintained));
        assert_eq!(
            a.affected[0].ranges[0].events,
            vec![Event::Introduced("0.0.0-0".into())]
        );
        assert!(a.cvss.is_empty());
    }

    #[test]
    fn yaml_pypi_with_versions_and_normalised_name() {
        let a = from_yaml(
            "id: PYSEC-2099-1\ndetails: |\n  First line.\n  More.\naffected:\n- package:\n    name: Zope.Interface\n    ecosystem: PyPI\n  ranges:\n  - type: ECOSYSTEM\n    events:\n    - introduced: \"0\"\n    - fixed: 2.0\n  - type: GIT\n    repo: https://example.invalid\n    events:\n    - introduced: abc\n  versions:\n  - \"1.0\"\naliases:\n- CVE-2099-1\n",
        )
        .expect("osv yaml");
        assert_eq!(a.summary, "First line.");
        assert_eq!(a.affected[0].package, "zope-interface");
        assert_eq!(a.affected[0].ranges.len(), 1, "GIT range skipped");
        assert_eq!(
            a.affected[0].ranges[0].events[1],
            Event::Fixed("2.0".into())
        );
        assert_eq!(a.aliases, vec!["CVE-2099-1"]);
    }

    #[test]
    fn withdrawn_cvss4_and_foreign_ecosystems() {
        let a = from_json(
            r#"{"id":"GHSA-1","withdrawn":"2024-01-01T00:00:00Z",
            "severity":[{"type":"CVSS_V4","score":"CVSS:4.0/AV:N"}],
            "affected":[{"package":{"ecosystem":"Debian:12","name":"x"}}]}"#,
        )
        .expect("osv");
        assert!(a.withdrawn);
        assert_eq!(
            a.cvss,
            vec!["CVSS:4.0/AV:N"],
            "v4 vectors are kept for scoring"
        );
        assert!(a.affected.is_empty());
    }

    #[test]
    fn errors_say_what_is_wrong() {
        let e = from_json("{\"id\": 5}").expect_err("must be refused");
        assert!(
            e.contains("invalid OSV JSON") && e.contains("line 1"),
            "{e}"
        );
        let e = from_json(r#"{"id":"X","affected":[{"package":{"ecosystem":"npm","name":"a"},"ranges":[{"type":"SEMVER","events":[{"broken":"1"}]}]}]}"#).expect_err("must be refused");
        assert!(e.contains("unknown event `broken`"), "{e}");
    }
}
