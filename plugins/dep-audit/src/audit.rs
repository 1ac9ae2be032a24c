//! The audit: configuration, lockfile selection, matching packages to advisories,
//! grouping records of one advisory, severity, ignores, and the findings that come out.
//!
//! One finding per (lockfile, package, version, advisory). Records are one advisory
//! by identity: the same id, one listing the other's id among its aliases (the same
//! issue in RustSec and GHSA, or PyPA and GHSA), or a placeholder-id copy
//! (`RUSTSEC-2025-0000`) of a real record. A shared alias alone does not merge two
//! records — one GHSA can cover several RustSec advisories. The finding's rule id is
//! the group's own id first by preference RUSTSEC > PYSEC > GHSA > other > CVE, ties
//! broken alphabetically (never a placeholder when a real id exists): the id of the
//! database closest to the ecosystem, which is where its help page lives.
//!
//! Levels: a vulnerability's level comes from the CVSS base score of the newest CVSS
//! version the advisory gives (v4.0, v3.x, v2.0; critical/high → error, medium →
//! warning, low/none → note). **Unknown severity is an error**, as cargo-audit and
//! pip-audit fail on any vulnerability: most PyPA advisories carry no vector, and
//! rating them warnings let them pass the default `fail-on = "error"`. RustSec
//! informational advisories: `unsound` → warning, `unmaintained`/`notice` → note.
//! The fingerprint hashes the primary id, ecosystem, normalised package name,
//! version and lockfile path (never the line), so it survives edits elsewhere in the
//! lockfile and distinguishes the same pin in two lockfiles.
//!
//! An advisory range that cannot be evaluated (a bound the ecosystem's scheme cannot
//! parse) never passes silently: unless the explicit `versions` list or another
//! range shows the version affected, the finding says it *may* be affected, at the
//! level the advisory's severity gives, and names the bound.
//!
//! Ignores: an `ignore` entry hides the one advisory it names, by any of its ids or
//! aliases. An id that several distinct advisories of a package answer to (an alias
//! they share) names none of them exactly: it hides nothing and is reported
//! ([`Audit::ambiguous_ignores`]).
//!
//! What it refuses (configuration errors, before anything is read): no database,
//! absolute or `..` paths, a path or glob that matches no lockfile, an `ignore`
//! entry without a reason. A database file that does not parse fails the audit. A
//! lockfile that does not parse is an `invalid-lockfile` finding (the other
//! lockfiles are still audited).
//!
//! Tests: the `tests` module at the bottom of this file; `tests/fixtures.rs` runs
//! whole audits on the fixture workspace with real advisories.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use gantry_sdk::glob;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::advisory::{Advisory, Check, Database, Ecosystem, Informational};
use crate::cvss;
use crate::lockfile::{self, Kind};
use crate::yanked::{Index, Yank};

/// The stage's `with` table.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct Config {
    /// Lockfiles, directories or globs (`services/*/requirements*.txt`), relative to
    /// the workspace. Default: every lockfile in the workspace, skipping `.git`,
    /// `target`, `node_modules`, `.venv`.
    #[serde(default)]
    pub paths: Vec<String>,
    /// Advisory database directories or files, relative to the workspace (OSV JSON or
    /// YAML, RustSec `RUSTSEC-*.md`). The stage needs `grants.fs.read` on them.
    pub databases: Vec<String>,
    /// Advisories not to report, by any of their ids, each with the reason.
    #[serde(default)]
    pub ignore: Vec<Ignore>,
    /// Report RustSec informational advisories (unmaintained, unsound, notice).
    #[serde(default = "yes")]
    pub informational: bool,
    /// A crates.io index snapshot (a clone of `rust-lang/crates.io-index`, or the
    /// sparse index files of the locked crates in the same layout), relative to the
    /// workspace: crates.io versions it marks yanked are reported. Without it, yanked
    /// versions are not checked (that needs the index, i.e. the network otherwise).
    #[serde(default)]
    pub index: Option<String>,
}

fn yes() -> bool {
    true
}

/// One `ignore` entry.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct Ignore {
    /// Any id of the advisory (RUSTSEC-…, GHSA-…, CVE-…, PYSEC-…).
    pub id: String,
    /// Why it does not apply, for the reviewer.
    pub reason: String,
}

/// Finding level: the SDK's, shared by every plugin (serde and JSON Schema derives,
/// `as_str`, `ALL`).
pub use gantry_sdk::Level;

/// A rule kind, as listed by `describe`.
pub struct RuleKind {
    pub id: &'static str,
    pub level: Level,
    pub short: &'static str,
    pub full: &'static str,
}

/// The kinds of findings. Advisory findings use the advisory id as rule id; these
/// are the kinds they belong to (see RULES.md).
pub fn rule_kinds() -> &'static [RuleKind] {
    &[
        RuleKind {
            id: "vulnerability",
            level: Level::Error,
            short: "A locked dependency version has a known vulnerability",
            full: "A package version pinned in a lockfile is in the affected range of a security advisory (or may be: a range that cannot be evaluated is reported, never passed). The finding's rule id is the advisory's id; its level follows the CVSS base score of the newest CVSS version given (critical/high: error, medium: warning, low/none: note, unknown: error).",
        },
        RuleKind {
            id: "unsound",
            level: Level::Warning,
            short: "A locked crate version is unsound (RustSec informational)",
            full: "RustSec reports that safe code can cause undefined behaviour with this crate version.",
        },
        RuleKind {
            id: "unmaintained",
            level: Level::Note,
            short: "A locked dependency is unmaintained (RustSec informational)",
            full: "RustSec reports that the crate is no longer maintained; security fixes may never come.",
        },
        RuleKind {
            id: "notice",
            level: Level::Note,
            short: "An informational notice applies to a locked dependency",
            full: "A RustSec informational advisory of kind `notice` (or another non-vulnerability kind) applies.",
        },
        RuleKind {
            id: "yanked",
            level: Level::Warning,
            short: "A locked crate version is yanked (index snapshot)",
            full: "The crates.io index snapshot given as `index` marks this version yanked: its publisher withdrew it. Checked only with `index`; cargo-audit reports the same as a warning.",
        },
        RuleKind {
            id: "unpinned",
            level: Level::Note,
            short: "A requirement is not pinned to one version: cannot audit",
            full: "A requirements line without `==VERSION` (ranges, bare names, URLs, paths, editable installs) or a lockfile entry without a registry version cannot be checked against advisories.",
        },
        RuleKind {
            id: "invalid-lockfile",
            level: Level::Error,
            short: "A lockfile could not be parsed",
            full: "The lockfile is not valid for its format, so none of its packages were audited.",
        },
    ]
}

/// One result.
#[derive(Debug, Clone, Serialize)]
pub struct AuditFinding {
    /// Primary advisory id, or the rule kind for non-advisory findings.
    pub rule_id: String,
    /// Rule kind (`vulnerability`, `unsound`, …) — the anchor in RULES.md.
    pub kind: String,
    pub level: Level,
    pub message: String,
    pub path: String,
    pub line: Option<u32>,
    pub fingerprint: String,
    pub help_uri: Option<String>,
    /// All ids of the advisory group, primary first (empty for non-advisory findings).
    pub ids: Vec<String>,
    pub package: Option<String>,
    pub version: Option<String>,
}

/// Everything an audit produced.
#[derive(Debug, Default, Serialize)]
pub struct Audit {
    pub findings: Vec<AuditFinding>,
    pub lockfiles: Vec<String>,
    pub packages: usize,
    pub advisories: usize,
    pub database_files: usize,
    pub withdrawn: usize,
    pub ignored: usize,
    /// `ignore` ids that matched nothing in this run.
    pub unused_ignores: Vec<String>,
    /// `ignore` ids that name several distinct advisories of one package (an alias
    /// they share), so ignored none of them: one message each.
    pub ambiguous_ignores: Vec<String>,
    /// Advisory ranges that could not be evaluated (bad versions in the advisory).
    pub problems: Vec<String>,
    /// With `index`: crates.io `name@version`s the snapshot does not have (or whose
    /// index file does not parse), so not checked for yanking.
    pub not_in_index: Vec<String>,
}

/// Why an audit could not run.
#[derive(Debug, thiserror::Error)]
pub enum AuditError {
    #[error("invalid configuration: {0}")]
    Config(String),
    #[error("advisory database: {0}")]
    Database(String),
    #[error("{0}")]
    Io(String),
}

fn check_rel(what: &str, p: &str) -> Result<(), AuditError> {
    let bad = p.starts_with('/')
        || p.contains('\\')
        || p.split('/').any(|s| s == "..")
        || p.trim().is_empty();
    if bad {
        return Err(AuditError::Config(format!(
            "`{what}` entry `{p}` must be a workspace-relative path without `..`"
        )));
    }
    Ok(())
}

fn rel_clean(p: &str) -> String {
    let t = p.trim().trim_start_matches("./").trim_end_matches('/');
    if t == "." {
        String::new()
    } else {
        t.to_string()
    }
}

impl Config {
    /// Checks what the JSON Schema cannot express.
    pub fn validate(&self) -> Result<(), AuditError> {
        if self.databases.is_empty() {
            return Err(AuditError::Config(
                "`databases` is empty: name at least one advisory database directory, e.g. `databases = [\"vendor/advisory-db\"]`".into(),
            ));
        }
        for d in &self.databases {
            check_rel("databases", d)?;
        }
        for p in &self.paths {
            check_rel("paths", p)?;
        }
        if let Some(i) = &self.index {
            check_rel("index", i)?;
        }
        for (i, ig) in self.ignore.iter().enumerate() {
            if ig.id.trim().is_empty() {
                return Err(AuditError::Config(format!("`ignore[{i}].id` is empty")));
            }
            if ig.reason.trim().is_empty() {
                return Err(AuditError::Config(format!(
                    "`ignore[{i}]` ({}) has no `reason`: say why the advisory does not apply",
                    ig.id
                )));
            }
        }
        Ok(())
    }
}

/// Loads the configured databases (paths relative to `root`).
pub fn load_databases(root: &Path, config: &Config) -> Result<Database, AuditError> {
    let roots: Vec<PathBuf> = config
        .databases
        .iter()
        .map(|d| root.join(rel_clean(d)))
        .collect();
    Database::load(&roots).map_err(|errors| {
        let n = errors.len();
        let mut msg: Vec<String> = errors
            .iter()
            .take(10)
            .map(|e| {
                let p = e.path.strip_prefix(root).unwrap_or(&e.path);
                format!("{}: {}", p.display(), e.message)
            })
            .collect();
        if n > 10 {
            msg.push(format!("… and {} more", n - 10));
        }
        AuditError::Database(msg.join("\n"))
    })
}

/// Workspace-relative lockfile paths selected by `config.paths`.
pub fn select_lockfiles(root: &Path, config: &Config) -> Result<Vec<String>, AuditError> {
    let mut out = BTreeSet::new();
    let mut all: Option<Vec<String>> = None;
    let discover_all = |all: &mut Option<Vec<String>>| -> Result<Vec<String>, AuditError> {
        if all.is_none() {
            let mut v = Vec::new();
            lockfile::discover(root, "", &mut v).map_err(AuditError::Io)?;
            *all = Some(v);
        }
        Ok(all.clone().unwrap_or_default())
    };
    if config.paths.is_empty() {
        return discover_all(&mut all);
    }
    for p in &config.paths {
        let rel = rel_clean(p);
        if glob::is_glob(&rel) {
            let g = glob::Glob::new(p)
                .map_err(|e| AuditError::Config(format!("`paths` entry: {e}")))?;
            let matched: Vec<String> = discover_all(&mut all)?
                .into_iter()
                .filter(|f| g.is_match(f))
                .collect();
            if matched.is_empty() {
                return Err(AuditError::Config(format!(
                    "`paths` glob `{p}` matches no lockfile (looked for Cargo.lock, requirements*.txt, poetry.lock, uv.lock, Pipfile.lock, package-lock.json)"
                )));
            }
            out.extend(matched);
            continue;
        }
        let full = root.join(&rel);
        let meta = std::fs::metadata(&full).map_err(|e| {
            AuditError::Config(format!(
                "`paths` entry `{p}`: {e} (is it granted in `grants.fs.read`?)"
            ))
        })?;
        if meta.is_dir() {
            let mut v = Vec::new();
            lockfile::discover(&full, &rel, &mut v).map_err(AuditError::Io)?;
            out.extend(v);
        } else if Kind::detect(&rel).is_some() || rel.ends_with(".txt") {
            out.insert(rel);
        } else {
            return Err(AuditError::Config(format!(
                "`paths` entry `{p}` is not a lockfile dep-audit reads: Cargo.lock, requirements*.txt (or any .txt named explicitly), poetry.lock, uv.lock, Pipfile.lock, package-lock.json, npm-shrinkwrap.json"
            )));
        }
    }
    Ok(out.into_iter().collect())
}

fn id_rank(id: &str) -> u8 {
    if id.starts_with("RUSTSEC-") {
        0
    } else if id.starts_with("PYSEC-") {
        1
    } else if id.starts_with("GHSA-") {
        2
    } else if id.starts_with("CVE-") {
        4
    } else {
        3
    }
}

/// The advisory's help page by the primary id's database.
pub fn help_uri(id: &str) -> String {
    if id.starts_with("RUSTSEC-") {
        format!("https://rustsec.org/advisories/{id}.html")
    } else if id.starts_with("GHSA-") {
        format!("https://github.com/advisories/{id}")
    } else {
        format!("https://osv.dev/vulnerability/{id}")
    }
}

fn fingerprint(parts: &[&str]) -> String {
    let mut h = Sha256::new();
    h.update(b"dep-audit/v1");
    for p in parts {
        h.update([0u8]);
        h.update(p.as_bytes());
    }
    hex::encode(h.finalize())[..32].to_string()
}

/// Whether `id` is a placeholder (`RUSTSEC-2025-0000`, `RUSTSEC-0000-0000`): the
/// serial RustSec's template carries before a real id is assigned. A copy left under
/// that id in an export is never the advisory's name.
pub fn is_placeholder(id: &str) -> bool {
    let mut parts = id.split('-');
    let serial = parts.next_back().unwrap_or_default();
    parts.count() >= 2 && !serial.is_empty() && serial.bytes().all(|b| b == b'0')
}

fn database_of(id: &str) -> &str {
    id.split('-').next().unwrap_or_default()
}

/// One advisory that names the package being audited, and what it said.
pub(crate) struct Matched<'a> {
    pub(crate) adv: &'a Advisory,
    /// Upgrade targets when the version is affected.
    pub(crate) fixed: Vec<String>,
    /// `true` when a list or an evaluated range names the version; `false` when
    /// only undecided ranges ([`Matched::undecided`]) leave it possibly affected.
    pub(crate) hit: bool,
    pub(crate) undecided: Vec<String>,
}

/// Groups the advisories of one package by identity (union-find): two records are
/// one advisory when they have the same id, or one lists the other's id among its
/// aliases (the same issue in RustSec and GHSA, or PyPA and GHSA), or one is a
/// placeholder-id copy of the other (same database, summary and aliases). Sharing an
/// alias alone does not make two records one: hpke-rs's RUSTSEC-2026-0069, -0070 and
/// -0071 are three bugs that all list the one GHSA upstream published, and merging
/// them hid a critical advisory behind an unscored one.
fn group(hits: &[Matched<'_>]) -> Vec<Vec<usize>> {
    let n = hits.len();
    let mut parent: Vec<usize> = (0..n).collect();
    fn find(p: &mut [usize], i: usize) -> usize {
        let mut r = i;
        while p[r] != r {
            r = p[r];
        }
        p[i] = r;
        r
    }
    let union = |p: &mut Vec<usize>, i: usize, j: usize| {
        let (ri, rj) = (find(p, i), find(p, j));
        p[ri] = rj;
    };
    let mut by_id: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
    for (i, m) in hits.iter().enumerate() {
        by_id.entry(m.adv.id.as_str()).or_default().push(i);
    }
    for (i, m) in hits.iter().enumerate() {
        for id in std::iter::once(&m.adv.id).chain(&m.adv.aliases) {
            for &j in by_id.get(id.as_str()).into_iter().flatten() {
                union(&mut parent, i, j);
            }
        }
    }
    let alias_set = |a: &Advisory| -> BTreeSet<String> { a.aliases.iter().cloned().collect() };
    for (i, m) in hits.iter().enumerate() {
        if !is_placeholder(&m.adv.id) {
            continue;
        }
        for (j, o) in hits.iter().enumerate() {
            if !is_placeholder(&o.adv.id)
                && database_of(&o.adv.id) == database_of(&m.adv.id)
                && o.adv.summary == m.adv.summary
                && alias_set(o.adv) == alias_set(m.adv)
            {
                union(&mut parent, i, j);
            }
        }
    }
    let mut groups: BTreeMap<usize, Vec<usize>> = BTreeMap::new();
    for i in 0..n {
        let r = find(&mut parent, i);
        groups.entry(r).or_default().push(i);
    }
    groups.into_values().collect()
}

/// Every id a group answers to: the primary (the members' own id first by preference
/// RUSTSEC > PYSEC > GHSA > other > CVE, then alphabetical), then every other id and
/// alias in the same order. Placeholder ids are left out unless nothing else names
/// the group.
fn group_ids(advs: &[&Advisory]) -> Vec<String> {
    let by_rank = |v: &mut Vec<&str>| v.sort_by(|a, b| id_rank(a).cmp(&id_rank(b)).then(a.cmp(b)));
    let mut own: Vec<&str> = advs.iter().map(|a| a.id.as_str()).collect();
    if own.iter().any(|id| !is_placeholder(id)) {
        own.retain(|id| !is_placeholder(id));
    }
    by_rank(&mut own);
    let primary = own[0];
    let mut rest: Vec<&str> = advs
        .iter()
        .flat_map(|a| std::iter::once(a.id.as_str()).chain(a.aliases.iter().map(String::as_str)))
        .filter(|id| *id != primary && !is_placeholder(id))
        .collect::<BTreeSet<&str>>()
        .into_iter()
        .collect();
    by_rank(&mut rest);
    std::iter::once(primary)
        .chain(rest)
        .map(str::to_string)
        .collect()
}

/// What one package's advisory groups came to, and what the ignores did to them.
struct PackageOutcome {
    findings: Vec<Result<AuditFinding, Skip>>,
    /// Ignore ids that hid a finding here.
    used: Vec<String>,
    /// Ignore ids that named several distinct groups here: explained, not applied.
    ambiguous: Vec<String>,
}

/// Findings for one package from the advisories that named it. An `ignore` entry
/// hides the one advisory group it names (by any of its ids or aliases); an id that
/// several distinct groups answer to (an alias they share) names none exactly, so it
/// hides nothing and the caller reports it.
fn package_findings(
    rel: &str,
    pkg: &lockfile::Package,
    name: &str,
    hits: &[Matched<'_>],
    config: &Config,
) -> PackageOutcome {
    let groups: Vec<(Vec<usize>, Vec<String>)> = group(hits)
        .into_iter()
        .map(|members| {
            let advs: Vec<&Advisory> = members.iter().map(|&i| hits[i].adv).collect();
            let ids = group_ids(&advs);
            (members, ids)
        })
        .collect();
    let mut out = PackageOutcome {
        findings: Vec::new(),
        used: Vec::new(),
        ambiguous: Vec::new(),
    };
    let mut ignored = vec![false; groups.len()];
    for ig in &config.ignore {
        let named: Vec<usize> = (0..groups.len())
            .filter(|&g| groups[g].1.contains(&ig.id))
            .collect();
        match named.as_slice() {
            [] => {}
            [g] => {
                ignored[*g] = true;
                out.used.push(ig.id.clone());
            }
            many => {
                let primaries: Vec<&str> = many.iter().map(|&g| groups[g].1[0].as_str()).collect();
                out.ambiguous.push(format!(
                    "`ignore` entry `{}` names {} distinct advisories of `{}` {} in `{rel}` ({}), so it ignores none of them: ignore each by its own id",
                    ig.id,
                    many.len(),
                    pkg.name,
                    pkg.version,
                    primaries.join(", ")
                ));
            }
        }
    }
    for (g, (members, ids)) in groups.iter().enumerate() {
        if ignored[g] {
            out.findings.push(Err(Skip::Ignored));
        } else {
            out.findings
                .push(finding(rel, pkg, name, hits, members, ids, config));
        }
    }
    out
}

/// Runs the audit over the workspace at `root`.
pub fn run(root: &Path, config: &Config) -> Result<Audit, AuditError> {
    config.validate()?;
    if let Some(i) = &config.index {
        let dir = root.join(rel_clean(i));
        if !dir.is_dir() {
            return Err(AuditError::Config(format!(
                "`index` `{i}` is not a directory in the workspace (is it granted in `grants.fs.read`?): name a crates.io index snapshot, e.g. `vendor/crates-index`"
            )));
        }
    }
    let db = load_databases(root, config)?;
    let lockfiles = select_lockfiles(root, config)?;
    Ok(audit_files(root, config, &db, lockfiles))
}

/// The audit proper, once the database is loaded and lockfiles chosen.
pub fn audit_files(root: &Path, config: &Config, db: &Database, lockfiles: Vec<String>) -> Audit {
    let mut out = Audit {
        advisories: db.advisories.len(),
        database_files: db.files,
        withdrawn: db.withdrawn,
        ..Audit::default()
    };
    let mut used_ignores = BTreeSet::new();
    let mut seen = BTreeSet::new();
    let mut index = config
        .index
        .as_deref()
        .map(|i| Index::new(root.join(rel_clean(i))));
    for rel in &lockfiles {
        let kind = Kind::detect(rel).unwrap_or(Kind::Requirements);
        let parsed = std::fs::read_to_string(root.join(rel))
            .map_err(|e| format!("cannot read: {e}"))
            .and_then(|text| kind.parse(&text));
        let parsed = match parsed {
            Ok(p) => p,
            Err(e) => {
                let line = e
                    .strip_prefix("line ")
                    .and_then(|r| r.split(|c: char| !c.is_ascii_digit()).next())
                    .and_then(|n| n.parse().ok());
                out.findings.push(AuditFinding {
                    rule_id: "invalid-lockfile".into(),
                    kind: "invalid-lockfile".into(),
                    level: Level::Error,
                    message: format!("`{rel}` could not be audited: {e}"),
                    path: rel.clone(),
                    line,
                    fingerprint: fingerprint(&["invalid-lockfile", rel]),
                    help_uri: None,
                    ids: Vec::new(),
                    package: None,
                    version: None,
                });
                continue;
            }
        };
        for note in &parsed.notes {
            out.findings.push(AuditFinding {
                rule_id: "unpinned".into(),
                kind: "unpinned".into(),
                level: Level::Note,
                message: format!("`{}`: {}", note.requirement, note.reason),
                path: rel.clone(),
                line: Some(note.line),
                fingerprint: fingerprint(&["unpinned", rel, note.requirement.trim()]),
                help_uri: None,
                ids: Vec::new(),
                package: None,
                version: None,
            });
        }
        out.packages += parsed.packages.len();
        for pkg in &parsed.packages {
            let name = pkg.ecosystem.normalize(&pkg.name);
            let mut hits: Vec<Matched<'_>> = Vec::new();
            let candidates = db.for_package(pkg.ecosystem, &name);
            let bad_version = match pkg.ecosystem.validate_version(&pkg.version) {
                Err(e) if !candidates.is_empty() => Some(e),
                _ => None,
            };
            for (adv, aff) in candidates {
                if bad_version.is_some() {
                    break;
                }
                // An entry that cannot be evaluated is reported twice: as a problem
                // (logged with the advisory's file) and, unless something else shows
                // the version affected, as a finding that says it may be.
                let check = aff.check(&pkg.version).unwrap_or_else(|e| Check {
                    hit: None,
                    undecided: vec![e],
                });
                for u in &check.undecided {
                    out.problems.push(format!(
                        "{} ({}): cannot evaluate for {} {}: {u}",
                        adv.id,
                        adv.source.display(),
                        pkg.name,
                        pkg.version
                    ));
                }
                if check.hit.is_some() || !check.undecided.is_empty() {
                    hits.push(Matched {
                        adv,
                        hit: check.hit.is_some(),
                        fixed: check.hit.map(|h| h.fixed).unwrap_or_default(),
                        undecided: check.undecided,
                    });
                }
            }
            if let Some(e) = bad_version {
                out.findings.push(AuditFinding {
                    rule_id: "unpinned".into(),
                    kind: "unpinned".into(),
                    level: Level::Note,
                    message: format!(
                        "`{}` {}: {e}; advisories for this package cannot be checked",
                        pkg.name, pkg.version
                    ),
                    path: rel.clone(),
                    line: pkg.line,
                    fingerprint: fingerprint(&["unpinned", rel, &name, &pkg.version]),
                    help_uri: None,
                    ids: Vec::new(),
                    package: Some(pkg.name.clone()),
                    version: Some(pkg.version.clone()),
                });
            }
            if let (Some(idx), Ecosystem::CratesIo) = (index.as_mut(), pkg.ecosystem) {
                yank_check(idx, rel, pkg, &name, &mut out);
            }
            let outcome = package_findings(rel, pkg, &name, &hits, config);
            used_ignores.extend(outcome.used);
            for a in outcome.ambiguous {
                if !out.ambiguous_ignores.contains(&a) {
                    out.ambiguous_ignores.push(a);
                }
            }
            for f in outcome.findings {
                match f {
                    Ok(f) if seen.insert(f.fingerprint.clone()) => out.findings.push(f),
                    Ok(_) => {} // same package and version again (npm nesting)
                    Err(Skip::Ignored) => out.ignored += 1,
                    Err(Skip::InformationalOff) => {}
                }
            }
        }
    }
    out.unused_ignores = config
        .ignore
        .iter()
        .filter(|i| {
            !used_ignores.contains(&i.id)
                && !out
                    .ambiguous_ignores
                    .iter()
                    .any(|a| a.starts_with(&format!("`ignore` entry `{}` ", i.id)))
        })
        .map(|i| i.id.clone())
        .collect();
    out.lockfiles = lockfiles;
    out
}

/// The yanked check of one crates.io package against the index snapshot.
fn yank_check(idx: &mut Index, rel: &str, pkg: &lockfile::Package, name: &str, out: &mut Audit) {
    match idx.check(name, &pkg.version) {
        Ok(Yank::Yanked) => out.findings.push(AuditFinding {
            rule_id: "yanked".into(),
            kind: "yanked".into(),
            level: Level::Warning,
            message: format!(
                "`{}` {} (crates.io) is yanked in the index snapshot: its publisher withdrew this version. Update to a version that is not yanked (`cargo update -p {}`).",
                pkg.name, pkg.version, pkg.name
            ),
            path: rel.to_string(),
            line: pkg.line,
            fingerprint: fingerprint(&["yanked", rel, name, &pkg.version]),
            help_uri: Some(format!("https://crates.io/crates/{}/versions", pkg.name)),
            ids: Vec::new(),
            package: Some(pkg.name.clone()),
            version: Some(pkg.version.clone()),
        }),
        Ok(Yank::Live) => {}
        Ok(Yank::Unknown) => out.not_in_index.push(format!("{}@{}", pkg.name, pkg.version)),
        Err(e) => {
            out.problems.push(e);
            out.not_in_index.push(format!("{}@{}", pkg.name, pkg.version));
        }
    }
}

/// Why an advisory group produced no finding.
enum Skip {
    Ignored,
    InformationalOff,
}

fn finding(
    rel: &str,
    pkg: &lockfile::Package,
    name: &str,
    hits: &[Matched<'_>],
    members: &[usize],
    ids: &[String],
    config: &Config,
) -> Result<AuditFinding, Skip> {
    let advs: Vec<&Advisory> = members.iter().map(|&i| hits[i].adv).collect();
    let primary = ids[0].clone();
    // A group is a vulnerability if any member is; otherwise informational.
    let informational = if advs.iter().any(|a| a.informational.is_none()) {
        None
    } else {
        advs.iter().find_map(|a| a.informational.clone())
    };
    if informational.is_some() && !config.informational {
        return Err(Skip::InformationalOff);
    }
    // Each record's newest CVSS version, then the group's highest.
    let score = advs
        .iter()
        .filter_map(|a| cvss::best(&a.cvss))
        .max_by(|a, b| a.base.total_cmp(&b.base));
    let (kind, level, what, severity) = match &informational {
        Some(Informational::Unsound) => ("unsound", Level::Warning, "is unsound".to_string(), None),
        Some(Informational::Unmaintained) => (
            "unmaintained",
            Level::Note,
            "is unmaintained".to_string(),
            None,
        ),
        Some(other) => (
            "notice",
            Level::Note,
            format!("has a `{}` notice", other.as_str()),
            None,
        ),
        None => {
            let (level, sev) = match score {
                Some(s) => (
                    match s.rating {
                        cvss::Rating::Critical | cvss::Rating::High => Level::Error,
                        cvss::Rating::Medium => Level::Warning,
                        cvss::Rating::Low | cvss::Rating::None => Level::Note,
                    },
                    format!("Severity: {s}."),
                ),
                // Unknown is not "probably harmless": like cargo-audit and pip-audit,
                // which fail on any vulnerability, it fails a default gate.
                None => (
                    Level::Error,
                    "Severity: unknown (the advisory has no CVSS vector), reported as an error."
                        .to_string(),
                ),
            };
            (
                "vulnerability",
                level,
                "is affected by".to_string(),
                Some(sev),
            )
        }
    };
    let decided = members.iter().any(|&i| hits[i].hit);
    let summary = advs
        .iter()
        .map(|a| short_summary(&a.summary))
        .find(|s| !s.is_empty())
        .unwrap_or_else(|| "no summary".into());
    let mut fixed: Vec<String> = Vec::new();
    for &i in members {
        for f in &hits[i].fixed {
            if !fixed.contains(f) {
                fixed.push(f.clone());
            }
        }
    }
    let fix = if !decided {
        let why: Vec<&str> = members
            .iter()
            .flat_map(|&i| hits[i].undecided.iter().map(String::as_str))
            .collect();
        format!(
            "dep-audit cannot tell whether this version is affected, so it is reported as if it were: {}. Read the advisory; if the version is not affected, add it to `ignore` with the reason.",
            why.join("; ")
        )
    } else if fixed.is_empty() {
        "No fixed version is known.".to_string()
    } else if fixed
        .iter()
        .any(|f| f.starts_with(['<', '>', '=', '^', '~']))
    {
        format!(
            "Upgrade to a version matching {}.",
            quote_list(&fixed, " or ")
        )
    } else if fixed.len() > 3 {
        // RustSec's OSV export turns each unaffected release into a `fixed` event;
        // the lowest and the highest say enough.
        format!(
            "Fixed in `{}` … `{}` ({} fixed versions listed): upgrade to one of them.",
            fixed[0],
            fixed[fixed.len() - 1],
            fixed.len()
        )
    } else {
        format!(
            "Fixed in {}: upgrade to one of them.",
            quote_list(&fixed, ", ")
        )
    };
    let also = if ids.len() > 1 {
        format!(" (also {})", ids[1..].join(", "))
    } else {
        String::new()
    };
    let what = if decided {
        what
    } else {
        what.replacen("is ", "may be ", 1)
            .replacen("has ", "may have ", 1)
    };
    let head = if kind == "vulnerability" {
        format!(
            "`{}` {} ({}) {what} {primary}{also}",
            pkg.name, pkg.version, pkg.ecosystem
        )
    } else {
        format!(
            "`{}` {} ({}) {what}: {primary}{also}",
            pkg.name, pkg.version, pkg.ecosystem
        )
    };
    let message = match severity {
        Some(sev) => format!("{head}: {summary}. {sev} {fix}"),
        None => format!("{head}: {summary}. {fix}"),
    };
    Ok(AuditFinding {
        fingerprint: fingerprint(&[&primary, pkg.ecosystem.as_str(), name, &pkg.version, rel]),
        help_uri: Some(help_uri(&primary)),
        rule_id: primary,
        kind: kind.into(),
        level,
        message,
        path: rel.to_string(),
        line: pkg.line,
        ids: ids.to_vec(),
        package: Some(pkg.name.clone()),
        version: Some(pkg.version.clone()),
    })
}

/// The first sentence of a summary (OSV `details` can be pages long), at most
/// about 200 characters, without its final period.
fn short_summary(text: &str) -> String {
    let t = text.split_whitespace().collect::<Vec<_>>().join(" ");
    let first = match t.find(". ") {
        Some(i) => &t[..i],
        None => t.as_str(),
    };
    let first = first.trim().trim_end_matches('.');
    if first.chars().count() > 200 {
        let cut: String = first.chars().take(197).collect();
        format!("{}…", cut.trim_end())
    } else {
        first.to_string()
    }
}

fn quote_list(items: &[String], sep: &str) -> String {
    items
        .iter()
        .map(|s| format!("`{s}`"))
        .collect::<Vec<_>>()
        .join(sep)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::advisory::{Affected, Ecosystem};

    fn adv(
        id: &str,
        aliases: &[&str],
        cvss: Option<&str>,
        info: Option<Informational>,
    ) -> Advisory {
        Advisory {
            id: id.into(),
            aliases: aliases.iter().map(|s| s.to_string()).collect(),
            summary: format!("summary of {id}."),
            cvss: cvss.map(str::to_string).into_iter().collect(),
            informational: info,
            withdrawn: false,
            affected: vec![Affected {
                ecosystem: Ecosystem::Npm,
                package: "p".into(),
                ranges: Vec::new(),
                versions: vec!["1.0.0".into()],
                rustsec: None,
            }],
            source: PathBuf::new(),
        }
    }

    fn pkg() -> lockfile::Package {
        lockfile::Package {
            ecosystem: Ecosystem::Npm,
            name: "p".into(),
            version: "1.0.0".into(),
            line: Some(3),
        }
    }

    fn cfg() -> Config {
        Config {
            paths: Vec::new(),
            databases: vec!["db".into()],
            ignore: Vec::new(),
            informational: true,
            index: None,
        }
    }

    fn outcome(advs: &[Advisory], config: &Config) -> PackageOutcome {
        let hits: Vec<Matched<'_>> = advs
            .iter()
            .map(|a| Matched {
                adv: a,
                fixed: vec!["1.0.1".to_string()],
                hit: true,
                undecided: Vec::new(),
            })
            .collect();
        package_findings("package-lock.json", &pkg(), "p", &hits, config)
    }

    fn one(advs: &[Advisory], config: &Config) -> Vec<Result<AuditFinding, Skip>> {
        outcome(advs, config).findings
    }

    fn ignore(id: &str) -> Ignore {
        Ignore {
            id: id.into(),
            reason: "not reachable".into(),
        }
    }

    const HIGH: &str = "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:H";
    const LOW: &str = "CVSS:3.1/AV:N/AC:H/PR:N/UI:R/S:U/C:L/I:N/A:N";

    #[test]
    fn records_naming_each_other_form_one_group_with_preferred_primary() {
        // PYSEC lists the GHSA's id; the GHSA lists the CVE. OTHER-1 is alone.
        let advs = [
            adv("GHSA-aaaa", &["CVE-2000-1"], None, None),
            adv("OTHER-1", &[], None, None),
            adv(
                "PYSEC-2000-1",
                &["CVE-2000-1", "GHSA-aaaa"],
                Some(LOW),
                None,
            ),
        ];
        let out = one(&advs, &cfg());
        assert_eq!(out.len(), 2);
        let merged = out
            .iter()
            .flatten()
            .find(|f| f.ids.len() > 1)
            .expect("merged group");
        assert_eq!(merged.rule_id, "PYSEC-2000-1");
        assert_eq!(merged.ids, vec!["PYSEC-2000-1", "GHSA-aaaa", "CVE-2000-1"]);
        assert_eq!(
            merged.help_uri.as_deref(),
            Some("https://osv.dev/vulnerability/PYSEC-2000-1")
        );
    }

    #[test]
    fn a_shared_alias_alone_does_not_merge_records() {
        let advs = [
            adv("GHSA-aaaa", &["CVE-2000-1"], None, None),
            adv("PYSEC-2000-1", &["CVE-2000-1"], Some(LOW), None),
        ];
        let out = one(&advs, &cfg());
        let ids: Vec<Vec<String>> = out.iter().flatten().map(|f| f.ids.clone()).collect();
        assert_eq!(
            ids,
            vec![
                vec!["GHSA-aaaa".to_string(), "CVE-2000-1".to_string()],
                vec!["PYSEC-2000-1".to_string(), "CVE-2000-1".to_string()],
            ]
        );
    }

    #[test]
    fn placeholder_ids_are_never_primary_and_copies_join_the_real_record() {
        assert!(is_placeholder("RUSTSEC-2025-0000"));
        assert!(is_placeholder("RUSTSEC-0000-0000"));
        assert!(!is_placeholder("RUSTSEC-2025-0065"));
        assert!(!is_placeholder("GHSA-0000"), "not PREFIX-YEAR-SERIAL");
        assert!(!is_placeholder("RUSTSEC-2025-"));
        let advs = [
            adv("RUSTSEC-2025-0000", &["CVE-1", "GHSA-1"], None, None),
            adv("RUSTSEC-2025-0065", &["GHSA-1", "CVE-1"], None, None),
        ];
        // `adv` writes each id into its summary; the copy has the real one's text.
        let mut advs = advs;
        advs[0].summary = advs[1].summary.clone();
        let out = one(&advs, &cfg());
        assert_eq!(out.len(), 1);
        let f = out[0].as_ref().ok().expect("finding");
        assert_eq!(f.ids, vec!["RUSTSEC-2025-0065", "GHSA-1", "CVE-1"]);
        // A placeholder with nothing to join is still reported, under its own id.
        let alone = one(&[adv("RUSTSEC-2025-0000", &["CVE-1"], None, None)], &cfg());
        assert_eq!(
            alone[0].as_ref().ok().map(|f| f.rule_id.as_str()),
            Some("RUSTSEC-2025-0000")
        );
    }

    #[test]
    fn group_level_is_the_highest_known_score() {
        let advs = [
            adv("GHSA-x", &["CVE-1"], Some(LOW), None),
            adv("RUSTSEC-1", &["CVE-1", "GHSA-x"], Some(HIGH), None),
        ];
        let out = one(&advs, &cfg());
        let f = out[0].as_ref().ok().expect("finding");
        assert_eq!(f.rule_id, "RUSTSEC-1");
        assert_eq!(f.level, Level::Error);
        assert!(
            f.message.contains("high (CVSS 3.1 score 7.5)"),
            "{}",
            f.message
        );
        assert!(f.message.contains("Fixed in `1.0.1`"), "{}", f.message);
        assert_eq!(f.kind, "vulnerability");
    }

    #[test]
    fn levels_for_low_unknown_and_informational() {
        let low = one(&[adv("X-1", &[], Some(LOW), None)], &cfg());
        assert_eq!(low[0].as_ref().ok().map(|f| f.level), Some(Level::Note));
        let unknown = one(&[adv("X-2", &[], None, None)], &cfg());
        let f = unknown[0].as_ref().ok().expect("finding");
        assert_eq!(
            f.level,
            Level::Error,
            "unknown severity fails a default gate"
        );
        assert!(f.message.contains("Severity: unknown"));
        let unsound = one(
            &[adv("RUSTSEC-3", &[], None, Some(Informational::Unsound))],
            &cfg(),
        );
        let f = unsound[0].as_ref().ok().expect("finding");
        assert_eq!((f.kind.as_str(), f.level), ("unsound", Level::Warning));
        let notice = one(
            &[adv("RUSTSEC-4", &[], None, Some(Informational::Notice))],
            &cfg(),
        );
        let f = notice[0].as_ref().ok().expect("finding");
        assert_eq!((f.kind.as_str(), f.level), ("notice", Level::Note));
        // A vulnerability merged with an informational advisory stays a vulnerability.
        let mixed = one(
            &[
                adv(
                    "RUSTSEC-5",
                    &["GHSA-5"],
                    None,
                    Some(Informational::Unmaintained),
                ),
                adv("GHSA-5", &["CVE-5"], Some(HIGH), None),
            ],
            &cfg(),
        );
        assert_eq!(
            mixed[0].as_ref().ok().map(|f| f.kind.as_str()),
            Some("vulnerability")
        );
    }

    #[test]
    fn ignore_and_informational_switch() {
        let mut c = cfg();
        c.ignore = vec![ignore("CVE-9")];
        let out = one(&[adv("GHSA-9", &["CVE-9"], None, None)], &c);
        assert!(matches!(out[0], Err(Skip::Ignored)));
        let mut c = cfg();
        c.informational = false;
        let out = one(
            &[adv(
                "RUSTSEC-6",
                &[],
                None,
                Some(Informational::Unmaintained),
            )],
            &c,
        );
        assert!(matches!(out[0], Err(Skip::InformationalOff)));
    }

    #[test]
    fn an_ignore_shared_by_several_groups_ignores_none_and_says_so() {
        let advs = [
            adv("RUSTSEC-1", &["GHSA-x"], None, None),
            adv("RUSTSEC-2", &["GHSA-x"], Some(HIGH), None),
        ];
        let mut c = cfg();
        c.ignore = vec![ignore("GHSA-x")];
        let out = outcome(&advs, &c);
        assert!(out.findings.iter().all(Result::is_ok));
        assert!(out.used.is_empty());
        assert_eq!(out.ambiguous.len(), 1);
        assert!(
            out.ambiguous[0].contains("names 2 distinct advisories of `p` 1.0.0")
                && out.ambiguous[0].contains("RUSTSEC-1, RUSTSEC-2"),
            "{}",
            out.ambiguous[0]
        );
        c.ignore = vec![ignore("RUSTSEC-2")];
        let out = outcome(&advs, &c);
        assert_eq!(out.used, vec!["RUSTSEC-2"]);
        assert!(matches!(out.findings[1], Err(Skip::Ignored)));
        assert!(out.findings[0].is_ok());
    }

    #[test]
    fn an_undecided_group_is_reported_as_possibly_affected() {
        let a = adv("PYSEC-1", &[], None, None);
        let hits = [Matched {
            adv: &a,
            fixed: Vec::new(),
            hit: false,
            undecided: vec!["range 1 (fixed `x`): `x` is not a version".into()],
        }];
        let out = package_findings("r.txt", &pkg(), "p", &hits, &cfg());
        let f = out.findings[0].as_ref().ok().expect("finding");
        assert_eq!((f.kind.as_str(), f.level), ("vulnerability", Level::Error));
        assert!(
            f.message.contains("may be affected by PYSEC-1")
                && f.message.contains("`x` is not a version")
                && f.message.contains("`ignore`"),
            "{}",
            f.message
        );
    }

    #[test]
    fn summaries_are_cut_to_the_first_sentence() {
        assert_eq!(
            short_summary("One thing.  Then\nanother. More."),
            "One thing"
        );
        assert_eq!(short_summary("No period"), "No period");
        let long = "word ".repeat(100);
        let s = short_summary(&long);
        assert!(s.ends_with('…') && s.chars().count() <= 198, "{s}");
    }

    #[test]
    fn config_validation() {
        let mut c = cfg();
        assert!(c.validate().is_ok());
        c.paths = vec!["a/../../etc".into()];
        assert!(c.validate().is_err());
        c.paths = vec!["C:\\x".into()];
        assert!(c.validate().is_err());
        let mut c = cfg();
        c.ignore = vec![Ignore {
            id: String::new(),
            reason: "r".into(),
        }];
        assert!(c.validate().is_err());
    }
}
