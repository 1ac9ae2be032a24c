//! Advisories: one model for OSV (JSON and YAML) and RustSec's native format, and an
//! offline database loaded from directories.
//!
//! - [`osv`]: OSV schema documents (`*.json`, `*.yaml`, `*.yml`), e.g. RustSec's `osv`
//!   branch or the PyPA advisory-database.
//! - [`rustsec`]: RustSec advisory-db markdown files with TOML front matter
//!   (`crates/NAME/RUSTSEC-*.md`), whose `[versions]` are Cargo requirements.
//! - [`yaml`]: the YAML reader behind OSV YAML.
//!
//! What it refuses: a database file that cannot be parsed fails the load with its
//! path and line/column, because a silently skipped advisory is a silently missed
//! vulnerability. Ecosystems other than crates.io, PyPI and npm are ignored (counted).
//! Files not named like advisories (README.md, LICENSE…) and hidden directories
//! (`.git`) are not read.
//!
//! Tests: unit tests at the bottom of each module; `tests/fixtures.rs` loads real
//! advisories copied into `tests/fixtures/advisories`.

pub mod osv;
pub mod rustsec;
pub mod yaml;

use std::collections::HashMap;
use std::fmt;
use std::path::{Path, PathBuf};

use crate::version::pep440::{Pep440, normalize_name};
use crate::version::range::{self, Event, Pep440Scheme, Scheme, SemverScheme};
use crate::version::semver::Version;

/// A package ecosystem dep-audit can audit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Ecosystem {
    CratesIo,
    PyPI,
    Npm,
}

impl Ecosystem {
    /// From an OSV `ecosystem` value; `None` for ecosystems dep-audit does not audit.
    pub fn from_osv(name: &str) -> Option<Ecosystem> {
        match name {
            "crates.io" => Some(Ecosystem::CratesIo),
            "PyPI" => Some(Ecosystem::PyPI),
            "npm" => Some(Ecosystem::Npm),
            _ => None,
        }
    }

    /// The OSV spelling, used in messages and fingerprints.
    pub fn as_str(self) -> &'static str {
        match self {
            Ecosystem::CratesIo => "crates.io",
            Ecosystem::PyPI => "PyPI",
            Ecosystem::Npm => "npm",
        }
    }

    /// Whether `version` is valid in this ecosystem's version scheme.
    pub fn validate_version(self, version: &str) -> Result<(), String> {
        match self {
            Ecosystem::PyPI => Pep440::parse(version).map(drop),
            Ecosystem::CratesIo | Ecosystem::Npm => Version::parse(version).map(drop),
        }
    }

    /// The key package names are compared by: PEP 503 for PyPI, exact elsewhere.
    pub fn normalize(self, name: &str) -> String {
        match self {
            Ecosystem::PyPI => normalize_name(name),
            _ => name.trim().to_string(),
        }
    }
}

impl fmt::Display for Ecosystem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// RustSec's informational advisory kinds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Informational {
    Unmaintained,
    Unsound,
    Notice,
    Other(String),
}

impl Informational {
    pub fn parse(s: &str) -> Informational {
        match s {
            "unmaintained" => Informational::Unmaintained,
            "unsound" => Informational::Unsound,
            "notice" => Informational::Notice,
            other => Informational::Other(other.to_string()),
        }
    }
    pub fn as_str(&self) -> &str {
        match self {
            Informational::Unmaintained => "unmaintained",
            Informational::Unsound => "unsound",
            Informational::Notice => "notice",
            Informational::Other(s) => s,
        }
    }
}

/// How an OSV range's versions are ordered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RangeKind {
    Semver,
    Ecosystem,
}

#[derive(Debug, Clone)]
pub struct Range {
    pub kind: RangeKind,
    pub events: Vec<Event>,
}

/// One affected package of an advisory.
#[derive(Debug, Clone)]
pub struct Affected {
    pub ecosystem: Ecosystem,
    /// Normalised with [`Ecosystem::normalize`].
    pub package: String,
    pub ranges: Vec<Range>,
    /// Explicitly listed affected versions (OSV `versions`).
    pub versions: Vec<String>,
    /// RustSec native `[versions]`: affected = matches neither list.
    pub rustsec: Option<RustsecVersions>,
}

/// RustSec native `[versions]`, validated and matched by the `rustsec` crate.
#[derive(Debug, Clone)]
pub struct RustsecVersions {
    /// `patched` as the advisory wrote it (shown as the fix).
    pub patched_text: Vec<String>,
    pub rules: ::rustsec::advisory::Versions,
}

/// One advisory, whatever format it came from.
#[derive(Debug, Clone)]
pub struct Advisory {
    pub id: String,
    pub aliases: Vec<String>,
    pub summary: String,
    /// Every CVSS vector the advisory gives (any version; see [`crate::cvss::best`]).
    pub cvss: Vec<String>,
    pub informational: Option<Informational>,
    pub withdrawn: bool,
    pub affected: Vec<Affected>,
    /// The file it was read from (for error messages).
    pub source: PathBuf,
}

/// Result of checking one installed version against one affected entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hit {
    /// Upgrade targets, as text to show (`1.2.5`, or `>= 0.2.23` for RustSec).
    pub fixed: Vec<String>,
}

/// What one affected entry says about one installed version.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Check {
    /// `Some` when the explicit `versions` list or an evaluated range names it.
    pub hit: Option<Hit>,
    /// Ranges that could not be evaluated (a bound this ecosystem's scheme cannot
    /// parse), each with the reason. With no hit, the version may be affected: the
    /// caller reports that, it is never taken as "not affected".
    pub undecided: Vec<String>,
}

impl Check {
    pub fn is_hit(&self) -> bool {
        self.hit.is_some()
    }
}

impl Affected {
    /// What this entry says about `version`. `Err` only when the installed version
    /// itself cannot be parsed in this ecosystem's scheme; a range bound that cannot
    /// be parsed leaves that range undecided ([`Check::undecided`]) and never hides
    /// what the explicit `versions` list or the other ranges say.
    pub fn check(&self, version: &str) -> Result<Check, String> {
        if let Some(rs) = &self.rustsec {
            let v = ::rustsec::Version::parse(version.trim())
                .map_err(|e| format!("`{version}` is not a semantic version: {e}"))?;
            let hit = rs.rules.is_vulnerable(&v).then(|| Hit {
                fixed: rs.patched_text.clone(),
            });
            return Ok(Check {
                hit,
                undecided: Vec::new(),
            });
        }
        match self.ecosystem {
            Ecosystem::PyPI => self.check_osv::<Pep440Scheme>(version, |listed, v| {
                // A local build (`1.0+ubuntu1`) is the code of its public version.
                Pep440::parse(listed).is_ok_and(|l| {
                    if l.local.is_empty() {
                        l == v.public()
                    } else {
                        l == *v
                    }
                })
            }),
            Ecosystem::CratesIo | Ecosystem::Npm => self
                .check_osv::<SemverScheme>(version, |listed, v| {
                    Version::parse(listed).is_ok_and(|l| l == *v)
                }),
        }
    }

    fn check_osv<S: Scheme>(
        &self,
        version: &str,
        listed_eq: impl Fn(&str, &S::V) -> bool,
    ) -> Result<Check, String> {
        let v = S::parse(version)?;
        // The explicit list is evidence on its own, whatever the ranges say.
        let mut hit = self.versions.iter().any(|l| listed_eq(l, &v));
        let mut fixed = Vec::new();
        let mut undecided = Vec::new();
        for (i, r) in self.ranges.iter().enumerate() {
            let in_r = match r.kind {
                RangeKind::Ecosystem => range::in_range::<S>(&v, &r.events),
                RangeKind::Semver => {
                    // SEMVER ranges are SemVer even in an ecosystem with another scheme.
                    Version::parse(version)
                        .and_then(|sv| range::in_range::<SemverScheme>(&sv, &r.events))
                }
            };
            match in_r {
                Ok(true) => {
                    hit = true;
                    fixed.extend(match r.kind {
                        RangeKind::Ecosystem => range::fixed_above::<S>(&v, &r.events),
                        RangeKind::Semver => match Version::parse(version) {
                            Ok(sv) => range::fixed_above::<SemverScheme>(&sv, &r.events),
                            Err(_) => Vec::new(),
                        },
                    });
                }
                Ok(false) => {}
                Err(e) => undecided.push(format!("range {} ({}): {e}", i + 1, r.describe())),
            }
        }
        // Lowest first; text that does not parse (cannot happen for fixed events
        // that passed `in_range`) sorts last.
        fixed.sort_by(|a, b| match (S::parse(a), S::parse(b)) {
            (Ok(x), Ok(y)) => x.cmp(&y),
            (Ok(_), Err(_)) => std::cmp::Ordering::Less,
            (Err(_), Ok(_)) => std::cmp::Ordering::Greater,
            (Err(_), Err(_)) => a.cmp(b),
        });
        fixed.dedup();
        Ok(Check {
            hit: hit.then_some(Hit { fixed }),
            undecided,
        })
    }
}

impl Range {
    /// `introduced 0, fixed 0.2.0-n653`: the events as the advisory wrote them.
    pub fn describe(&self) -> String {
        self.events
            .iter()
            .map(|e| match e {
                Event::Introduced(t) => format!("introduced `{t}`"),
                Event::Fixed(t) => format!("fixed `{t}`"),
                Event::LastAffected(t) => format!("last_affected `{t}`"),
                Event::Limit(t) => format!("limit `{t}`"),
            })
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// An error loading one database file.
#[derive(Debug, thiserror::Error)]
#[error("{}: {message}", path.display())]
pub struct LoadError {
    pub path: PathBuf,
    pub message: String,
}

/// Every advisory of the configured databases, indexed by package.
#[derive(Debug, Default)]
pub struct Database {
    pub advisories: Vec<Advisory>,
    index: HashMap<(Ecosystem, String), Vec<(usize, usize)>>,
    /// Files read.
    pub files: usize,
    /// Withdrawn advisories, kept out of the index.
    pub withdrawn: usize,
    /// Affected entries in ecosystems dep-audit does not audit.
    pub other_ecosystems: usize,
}

impl Database {
    /// Loads every advisory file under `roots` (directories or single files).
    pub fn load(roots: &[PathBuf]) -> Result<Database, Vec<LoadError>> {
        let mut db = Database::default();
        let mut errors = Vec::new();
        let mut files = Vec::new();
        for root in roots {
            let before = files.len();
            // The root itself was named by the user: follow it if it is a symlink.
            let named = std::fs::metadata(root).map_err(|e| LoadError {
                path: root.clone(),
                message: format!("cannot read advisory database: {e}"),
            });
            let res = named.and_then(|m| {
                if m.is_file() {
                    files.push(root.clone());
                    Ok(())
                } else {
                    collect(root, &mut files)
                }
            });
            if let Err(e) = res {
                errors.push(e);
            } else if files.len() == before {
                errors.push(LoadError {
                    path: root.clone(),
                    message: "no advisory files here (looked for *.json, *.yaml, *.yml, RUSTSEC-*.md); an empty database would report nothing".into(),
                });
            }
        }
        files.sort();
        for path in files {
            match read_file(&path) {
                Ok(Some(mut adv)) => {
                    db.files += 1;
                    adv.source = path;
                    db.add(adv);
                }
                Ok(None) => {}
                Err(message) => errors.push(LoadError { path, message }),
            }
        }
        if errors.is_empty() {
            Ok(db)
        } else {
            Err(errors)
        }
    }

    /// Adds one advisory (withdrawn ones are counted, not indexed).
    pub fn add(&mut self, adv: Advisory) {
        if adv.withdrawn {
            self.withdrawn += 1;
            return;
        }
        let n = self.advisories.len();
        for (i, a) in adv.affected.iter().enumerate() {
            self.index
                .entry((a.ecosystem, a.package.clone()))
                .or_default()
                .push((n, i));
        }
        self.advisories.push(adv);
    }

    /// Advisory and affected entry pairs naming `package` (already normalised).
    pub fn for_package(&self, eco: Ecosystem, package: &str) -> Vec<(&Advisory, &Affected)> {
        self.index
            .get(&(eco, package.to_string()))
            .map(|v| {
                v.iter()
                    .map(|&(a, i)| (&self.advisories[a], &self.advisories[a].affected[i]))
                    .collect()
            })
            .unwrap_or_default()
    }
}

/// Advisory files under directory `path`; symlinks below it are not followed.
fn collect(path: &Path, out: &mut Vec<PathBuf>) -> Result<(), LoadError> {
    let err = |e: std::io::Error| LoadError {
        path: path.to_path_buf(),
        message: format!("cannot read advisory database: {e}"),
    };
    for entry in std::fs::read_dir(path).map_err(err)? {
        let entry = entry.map_err(err)?;
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if name.starts_with('.') {
            continue;
        }
        let ft = entry.file_type().map_err(err)?;
        let p = entry.path();
        if ft.is_dir() {
            collect(&p, out)?;
        } else if ft.is_file() && is_advisory_file(&name) {
            out.push(p);
        }
    }
    Ok(())
}

fn is_advisory_file(name: &str) -> bool {
    name.ends_with(".json")
        || name.ends_with(".yaml")
        || name.ends_with(".yml")
        || (name.ends_with(".md") && name.starts_with("RUSTSEC-"))
}

/// Parses one file by its extension; `Ok(None)` for files that are not advisories.
fn read_file(path: &Path) -> Result<Option<Advisory>, String> {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    if !is_advisory_file(&name) {
        return Ok(None);
    }
    let text = std::fs::read_to_string(path).map_err(|e| format!("cannot read: {e}"))?;
    if name.ends_with(".json") {
        osv::from_json(&text).map(Some)
    } else if name.ends_with(".md") {
        rustsec::from_markdown(&text).map(Some)
    } else {
        osv::from_yaml(&text).map(Some)
    }
}

/// 1-based line of byte offset `at` in `text`.
pub fn line_of(text: &str, at: usize) -> u32 {
    let at = at.min(text.len());
    text.as_bytes()[..at]
        .iter()
        .filter(|&&b| b == b'\n')
        .count() as u32
        + 1
}

#[cfg(test)]
mod tests {
    use super::*;

    fn affected(eco: Ecosystem, ranges: Vec<Range>, versions: &[&str]) -> Affected {
        Affected {
            ecosystem: eco,
            package: "p".into(),
            ranges,
            versions: versions.iter().map(|s| s.to_string()).collect(),
            rustsec: None,
        }
    }

    #[test]
    fn explicit_versions_list_matches_by_scheme_equality() {
        let a = affected(Ecosystem::PyPI, vec![], &["2.0", "2.1.1"]);
        assert!(
            a.check("2.0.0").expect("ok").is_hit(),
            "2.0.0 == 2.0 in PEP 440"
        );
        assert!(
            a.check("2.1.1+deb1").expect("ok").is_hit(),
            "local build of 2.1.1"
        );
        assert!(!a.check("2.1").expect("ok").is_hit());
    }

    #[test]
    fn rustsec_requirements_decide_and_suggest_patched() {
        let rules = ::rustsec::advisory::Versions::new(
            vec![::rustsec::VersionReq::parse(">= 0.2.23").expect("req")],
            vec![::rustsec::VersionReq::parse("=0.2.0").expect("req")],
        )
        .expect("valid");
        let a = Affected {
            rustsec: Some(RustsecVersions {
                patched_text: vec![">= 0.2.23".into()],
                rules,
            }),
            ..affected(Ecosystem::CratesIo, vec![], &[])
        };
        let hit = a.check("0.1.45").expect("ok").hit.expect("affected");
        assert_eq!(hit.fixed, vec![">= 0.2.23"]);
        assert!(!a.check("0.2.0").expect("ok").is_hit());
        assert!(!a.check("0.3.36").expect("ok").is_hit());
        assert!(a.check("not-a-version").is_err());
    }

    #[test]
    fn an_unparsable_bound_leaves_its_range_undecided_and_the_list_still_counts() {
        let bad = Range {
            kind: RangeKind::Ecosystem,
            events: vec![
                Event::Introduced("0".into()),
                Event::Fixed("0.2.0-n653".into()),
            ],
        };
        let good = Range {
            kind: RangeKind::Ecosystem,
            events: vec![Event::Introduced("1.0".into()), Event::Fixed("1.1".into())],
        };
        let a = affected(Ecosystem::PyPI, vec![bad.clone(), good], &["0.1.0"]);
        let c = a.check("0.1.0").expect("ok");
        assert!(c.is_hit(), "the versions list names 0.1.0");
        assert_eq!(c.undecided.len(), 1);
        assert!(c.undecided[0].contains("`0.2.0-n653`"), "{:?}", c.undecided);
        let c = a.check("1.0.5").expect("ok");
        assert!(c.is_hit(), "the second range decides");
        let c = a.check("0.5").expect("ok");
        assert!(!c.is_hit());
        assert_eq!(
            c.undecided.len(),
            1,
            "not affected by what is known, undecided"
        );
        let only_bad = affected(Ecosystem::PyPI, vec![bad], &[]);
        let c = only_bad.check("0.1.0").expect("ok");
        assert!(
            !c.is_hit() && c.undecided[0].contains("range 1 (introduced `0`, fixed `0.2.0-n653`)")
        );
    }

    #[test]
    fn semver_range_in_pypi_entry_uses_semver() {
        let a = affected(
            Ecosystem::PyPI,
            vec![Range {
                kind: RangeKind::Semver,
                events: vec![Event::Introduced("0".into()), Event::Fixed("1.2.0".into())],
            }],
            &[],
        );
        let hit = a.check("1.1.0").expect("ok").hit.expect("affected");
        assert_eq!(hit.fixed, vec!["1.2.0"]);
    }

    #[test]
    fn withdrawn_advisories_are_not_indexed() {
        let mut db = Database::default();
        let adv = Advisory {
            id: "X-1".into(),
            aliases: vec![],
            summary: String::new(),
            cvss: Vec::new(),
            informational: None,
            withdrawn: true,
            affected: vec![affected(Ecosystem::Npm, vec![], &["1.0.0"])],
            source: PathBuf::new(),
        };
        db.add(adv);
        assert_eq!(db.withdrawn, 1);
        assert!(db.for_package(Ecosystem::Npm, "p").is_empty());
    }

    #[test]
    fn line_numbers_are_one_based() {
        assert_eq!(line_of("a\nb\nc", 0), 1);
        assert_eq!(line_of("a\nb\nc", 2), 2);
        assert_eq!(line_of("a\nb\nc", 99), 3);
    }
}
