//! The gate: configuration, report discovery, merging, thresholds and findings.
//!
//! [`evaluate`] is pure Rust over `std::fs` under a root directory, so it runs the
//! same natively (tests, benchmark) and inside the component (root `/workspace`).
//!
//! Order of work: find the report files (`reports`: paths or globs) → parse each
//! (LCOV or Cobertura, sniffed from the content) → map every file to a workspace
//! path ([`crate::paths`]) → merge (union of hit lines) → drop `exclude`d files →
//! totals against `min-lines` / `min-branches` → per-file thresholds (`per-file`,
//! then the last matching `overrides` entry) → `uncovered-lines` regions, largest first,
//! capped by `max-uncovered-findings`.
//!
//! Refused: unknown keys (serde), thresholds outside 0–100, invalid globs (named with
//! the key), unreadable or malformed reports (`file:line:col`). A report pattern that
//! matches nothing is not an error of the stage but a `no-coverage-data` finding, so
//! it shows up in SARIF like any other gate failure.
//!
//! Fingerprints: first 32 hex digits of sha256 over `rule NUL path NUL key`, where the
//! key is `lines`/`branches` for totals, empty for per-file findings, and for
//! `uncovered-lines` the trimmed text of the uncovered source lines (so the finding
//! survives code moving up or down), or the line range when the source is not
//! readable. A repeated identical block in one file gets `#2`, `#3`… appended.
//!
//! Tests: `src/tests.rs`.

use std::collections::btree_map::Entry;
use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

pub use gantry_sdk::Level;
use gantry_sdk::Rule;
use gantry_sdk::glob::Glob;
use serde::Deserialize;
use sha2::{Digest, Sha256};

use crate::model::{Counts, Coverage, FileCoverage, fmt_percent};
use crate::paths::{Resolver, normalize};
use crate::{GateError, load_report};

/// Default cap on `uncovered-lines` findings.
pub const DEFAULT_MAX_UNCOVERED: usize = 50;

/// Stage configuration (`with = { … }` in pipeline.toml).
#[derive(Debug, Clone, Default, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct Config {
    /// Coverage reports (LCOV or Cobertura XML), workspace-relative paths or globs
    /// (`coverage/*.info`, `**/coverage.xml`). Several reports are merged: a line is
    /// covered when any report hit it.
    pub reports: Vec<String>,
    /// Minimum total line coverage in percent (0–100).
    #[serde(default)]
    pub min_lines: Option<f64>,
    /// Minimum total branch coverage in percent (0–100).
    #[serde(default)]
    pub min_branches: Option<f64>,
    /// Minimum coverage of every single file.
    #[serde(default)]
    pub per_file: Option<Thresholds>,
    /// Per-file thresholds for files matching globs; the last matching entry wins
    /// over `per-file`.
    #[serde(default)]
    pub overrides: Vec<Override>,
    /// Globs of workspace paths left out of every count (generated code, tests).
    #[serde(default)]
    pub exclude: Vec<String>,
    /// Prefixes removed from absolute paths in reports (`/home/runner/work/app/`).
    #[serde(default)]
    pub strip_prefix: Vec<String>,
    /// Workspace-relative directory that relative report paths are relative to, when
    /// the coverage tool ran in a subdirectory (`crates/core`).
    #[serde(default)]
    pub source_root: Option<String>,
    /// At most this many `uncovered-lines` findings (largest regions first); 0 turns
    /// them off. Default 50.
    #[serde(default)]
    pub max_uncovered_findings: Option<usize>,
}

/// Per-file minimums, in percent.
#[derive(Debug, Clone, Default, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct Thresholds {
    #[serde(default)]
    pub min_lines: Option<f64>,
    #[serde(default)]
    pub min_branches: Option<f64>,
}

/// Per-file minimums for the files matching `paths`.
#[derive(Debug, Clone, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct Override {
    /// Globs of workspace paths.
    pub paths: Vec<String>,
    #[serde(default)]
    pub min_lines: Option<f64>,
    #[serde(default)]
    pub min_branches: Option<f64>,
}

const RULES_URL: &str = gantry_sdk::rules_url!();

/// Where rule `id` is documented (its section in RULES.md).
pub fn help_uri(id: &str) -> String {
    format!("{RULES_URL}#{id}")
}

/// Every rule this plugin reports: id, default level, short and full description.
pub fn rules() -> Vec<Rule> {
    [
        (
            "coverage-below-threshold",
            Level::Error,
            "Total coverage is below the minimum",
            "Total line (or branch) coverage over all reports, after `exclude`, is below \
               `min-lines` (or `min-branches`).",
        ),
        (
            "file-coverage-below-threshold",
            Level::Error,
            "A file's coverage is below the per-file minimum",
            "A file's line or branch coverage is below `per-file` or the last matching \
               `overrides` entry.",
        ),
        (
            "uncovered-lines",
            Level::Note,
            "Lines no test executes",
            "A run of consecutive instrumented lines that no test executed (no covered line \
               between them). Reported for files found in the workspace, largest runs first, \
               up to `max-uncovered-findings`.",
        ),
        (
            "no-coverage-data",
            Level::Error,
            "No coverage data to judge",
            "A `reports` entry matched no file, the reports instrument no line after \
               `exclude`, or `min-branches` is set but the reports carry no branch data \
               (warning). A gate that cannot see coverage does not pass silently.",
        ),
    ]
    .into_iter()
    .map(|(id, level, short, full)| Rule::new(id, level, short).full(full).help(help_uri(id)))
    .collect()
}

#[derive(Debug, Clone, PartialEq)]
pub struct Finding {
    pub rule_id: &'static str,
    pub level: Level,
    pub message: String,
    pub path: Option<String>,
    /// 1-based, inclusive.
    pub lines: Option<(u32, u32)>,
    pub fingerprint: String,
}

/// What the gate found.
#[derive(Debug, Clone, Default)]
pub struct Outcome {
    pub findings: Vec<Finding>,
    pub lines: Counts,
    pub branches: Counts,
    pub files: usize,
    /// Report files read, workspace-relative.
    pub reports: Vec<String>,
    /// Files mapped to no workspace file (still counted), for the log.
    pub unmapped: Vec<String>,
    /// `uncovered-lines` regions beyond the cap.
    pub uncovered_omitted: usize,
}

fn check_percent(key: &str, v: Option<f64>) -> Result<(), GateError> {
    match v {
        Some(p) if !(0.0..=100.0).contains(&p) || p.is_nan() => Err(GateError::Config(format!(
            "`{key}` = {p} is not a percentage; use a number from 0 to 100"
        ))),
        _ => Ok(()),
    }
}

/// A report pattern: anchored at the workspace root (`*.info` names files in the root,
/// as it always did here).
fn glob(key: &str, pattern: &str) -> Result<Glob, GateError> {
    let p = pattern.trim_start_matches("./");
    Glob::new(&format!("/{p}"))
        .map_err(|e| GateError::Config(format!("`{key}`: invalid glob `{pattern}`: {}", e.reason)))
}

/// Path patterns of `exclude` and `overrides[].paths`, in the plugins' one dialect
/// (`gantry_sdk::glob`): a pattern without `/` matches at any depth, and a matching
/// directory covers what is below it.
struct GlobSet(Vec<Glob>);

impl GlobSet {
    fn is_match(&self, path: &str) -> bool {
        gantry_sdk::glob::any_match_or_parent(&self.0, path)
    }
}

fn glob_set(key: &str, patterns: &[String]) -> Result<GlobSet, GateError> {
    patterns
        .iter()
        .map(|p| {
            Glob::new(p).map_err(|e| {
                GateError::Config(format!("`{key}`: invalid glob `{p}`: {}", e.reason))
            })
        })
        .collect::<Result<Vec<_>, _>>()
        .map(GlobSet)
}

impl Config {
    fn validate(&self) -> Result<(), GateError> {
        if self.reports.is_empty() {
            return Err(GateError::Config(
                "`reports` is empty; name at least one report, e.g. `reports = [\"lcov.info\"]`"
                    .into(),
            ));
        }
        check_percent("min-lines", self.min_lines)?;
        check_percent("min-branches", self.min_branches)?;
        if let Some(t) = &self.per_file {
            check_percent("per-file.min-lines", t.min_lines)?;
            check_percent("per-file.min-branches", t.min_branches)?;
        }
        for (i, o) in self.overrides.iter().enumerate() {
            check_percent(&format!("overrides[{i}].min-lines"), o.min_lines)?;
            check_percent(&format!("overrides[{i}].min-branches"), o.min_branches)?;
            if o.paths.is_empty() {
                return Err(GateError::Config(format!(
                    "`overrides[{i}].paths` is empty"
                )));
            }
        }
        for r in &self.reports {
            if Path::new(r).is_absolute() || r.split(['/', '\\']).any(|s| s == "..") {
                return Err(GateError::Config(format!(
                    "`reports`: `{r}` must be relative to the workspace, without `..`"
                )));
            }
        }
        Ok(())
    }
}

fn fingerprint(rule: &str, path: &str, key: &str) -> String {
    let mut h = Sha256::new();
    h.update(rule.as_bytes());
    h.update([0]);
    h.update(path.as_bytes());
    h.update([0]);
    h.update(key.as_bytes());
    hex::encode(&h.finalize()[..16])
}

fn has_glob_meta(s: &str) -> bool {
    s.contains(['*', '?', '[', '{'])
}

/// Files under `root` matching the report pattern, sorted. Walks only below the
/// pattern's literal leading directories, skips `.git` and never follows symlinks.
fn find_reports(root: &Path, pattern: &str) -> Result<Vec<String>, GateError> {
    let pat = pattern.trim_start_matches("./");
    if !has_glob_meta(pat) {
        let Some(rel) = normalize(pat) else {
            return Ok(Vec::new());
        };
        return Ok(if root.join(&rel).is_file() {
            vec![rel]
        } else {
            Vec::new()
        });
    }
    let matcher = glob("reports", pat)?;
    let literal: Vec<&str> = pat.split('/').take_while(|s| !has_glob_meta(s)).collect();
    let base = literal.join("/");
    let mut out = Vec::new();
    let mut stack: Vec<(PathBuf, String)> = vec![(root.join(&base), base.clone())];
    while let Some((dir, rel)) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for e in entries.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            let Ok(ft) = e.file_type() else { continue };
            let child = if rel.is_empty() {
                name.clone()
            } else {
                format!("{rel}/{name}")
            };
            if ft.is_dir() && name != ".git" {
                stack.push((e.path(), child));
            } else if ft.is_file() && matcher.is_match(&child) {
                out.push(child);
            }
        }
    }
    out.sort();
    Ok(out)
}

/// Runs the gate over the workspace at `root`.
pub fn evaluate(root: &Path, config: &Config) -> Result<Outcome, GateError> {
    config.validate()?;
    let exclude = glob_set("exclude", &config.exclude)?;
    let overrides: Vec<(GlobSet, &Override)> = config
        .overrides
        .iter()
        .enumerate()
        .map(|(i, o)| Ok((glob_set(&format!("overrides[{i}].paths"), &o.paths)?, o)))
        .collect::<Result<_, GateError>>()?;
    let mut out = Outcome::default();

    let mut resolver = Resolver::new(root, &config.strip_prefix, config.source_root.as_deref());
    // Resolved path → (coverage, found in the workspace).
    let mut merged: BTreeMap<String, (FileCoverage, bool)> = BTreeMap::new();
    for pattern in &config.reports {
        let files = find_reports(root, pattern)?;
        if files.is_empty() {
            out.findings.push(Finding {
                rule_id: "no-coverage-data",
                level: Level::Error,
                message: format!(
                    "no coverage report matches `{pattern}`: run the coverage tool in an earlier \
                     stage (`needs`), and check that `grants.fs.read` covers the report"
                ),
                path: None,
                lines: None,
                fingerprint: fingerprint("no-coverage-data", pattern, "missing"),
            });
            continue;
        }
        for rel in files {
            if out.reports.contains(&rel) {
                continue;
            }
            let (cov, sources): (Coverage, Vec<String>) = load_report(&root.join(&rel), &rel)?;
            for (raw, fc) in cov.files {
                let r = resolver.resolve(&raw, &sources);
                match merged.entry(r.path) {
                    Entry::Vacant(v) => {
                        v.insert((fc, r.in_workspace));
                    }
                    Entry::Occupied(mut o) => o.get_mut().0.merge(fc),
                }
            }
            out.reports.push(rel);
        }
    }

    let mut per_file_counts: Vec<(String, Counts, Counts, bool)> = Vec::new();
    for (path, (fc, in_ws)) in &merged {
        if exclude.is_match(path.as_str()) {
            continue;
        }
        if !in_ws {
            out.unmapped.push(path.clone());
        }
        let (l, b) = (fc.line_counts(), fc.branch_counts());
        out.lines.add(l);
        out.branches.add(b);
        out.files += 1;
        per_file_counts.push((path.clone(), l, b, *in_ws));
    }

    if !out.reports.is_empty() && out.lines.total == 0 {
        out.findings.push(Finding {
            rule_id: "no-coverage-data",
            level: Level::Error,
            message: format!(
                "the reports ({}) instrument no line{}",
                out.reports.join(", "),
                if config.exclude.is_empty() {
                    ""
                } else {
                    " outside `exclude`"
                }
            ),
            path: None,
            lines: None,
            fingerprint: fingerprint("no-coverage-data", "", "empty"),
        });
    }

    let (lines, branches) = (out.lines, out.branches);
    total_check(&mut out, "lines", "line", config.min_lines, lines);
    if config.min_branches.is_some() && out.branches.total == 0 && out.lines.total > 0 {
        out.findings.push(Finding {
            rule_id: "no-coverage-data",
            level: Level::Warning,
            message: "`min-branches` is set but the reports carry no branch data; enable branch \
                      coverage in the tool (`coverage run --branch`, `cargo llvm-cov --branch`, \
                      `lcov --rc branch_coverage=1`)"
                .into(),
            path: None,
            lines: None,
            fingerprint: fingerprint("no-coverage-data", "", "branches"),
        });
    } else {
        total_check(
            &mut out,
            "branches",
            "branch",
            config.min_branches,
            branches,
        );
    }

    for (path, l, b, _) in &per_file_counts {
        let mut t = config.per_file.clone().unwrap_or_default();
        for (set, o) in &overrides {
            if set.is_match(path.as_str()) {
                t = Thresholds {
                    min_lines: o.min_lines,
                    min_branches: o.min_branches,
                };
            }
        }
        for (what, plural, min, counts) in [
            ("line", "lines", t.min_lines, *l),
            ("branch", "branches", t.min_branches, *b),
        ] {
            let (Some(min), Some(p)) = (min, counts.percent()) else {
                continue;
            };
            if p < min {
                out.findings.push(Finding {
                    rule_id: "file-coverage-below-threshold",
                    level: Level::Error,
                    message: format!(
                        "{what} coverage of `{path}` is {}% ({} of {} {plural}), below the per-file minimum of {min}%",
                        fmt_percent(p),
                        counts.covered,
                        counts.total
                    ),
                    path: Some(path.clone()),
                    lines: None,
                    fingerprint: fingerprint("file-coverage-below-threshold", path, what),
                });
            }
        }
    }

    let cap = config
        .max_uncovered_findings
        .unwrap_or(DEFAULT_MAX_UNCOVERED);
    if cap > 0 {
        let mut regions: Vec<(String, u32, u32, Vec<u32>)> = Vec::new();
        for (path, _, _, in_ws) in &per_file_counts {
            if !in_ws {
                continue;
            }
            let fc = &merged[path].0;
            for (start, end, lines) in uncovered_runs(fc) {
                regions.push((path.clone(), start, end, lines));
            }
        }
        // Largest runs first: those are where tests are missing most.
        regions.sort_by(|a, b| {
            b.3.len()
                .cmp(&a.3.len())
                .then_with(|| a.0.cmp(&b.0))
                .then(a.1.cmp(&b.1))
        });
        out.uncovered_omitted = regions.len().saturating_sub(cap);
        regions.truncate(cap);
        regions.sort_by(|a, b| a.0.cmp(&b.0).then(a.1.cmp(&b.1)));
        let mut sources: HashMap<String, Option<Vec<String>>> = HashMap::new();
        let mut seen: HashMap<(String, String), usize> = HashMap::new();
        for (path, start, end, lines) in regions {
            let text = sources
                .entry(path.clone())
                .or_insert_with(|| {
                    std::fs::read(root.join(&path)).ok().map(|b| {
                        String::from_utf8_lossy(&b)
                            .lines()
                            .map(|l| l.trim().to_string())
                            .collect()
                    })
                })
                .as_ref();
            let key = match text {
                Some(src) if lines.iter().all(|&l| (l as usize) <= src.len()) => lines
                    .iter()
                    .map(|&l| src[l as usize - 1].as_str())
                    .collect::<Vec<_>>()
                    .join("\n"),
                _ => format!("lines {start}-{end}"),
            };
            let n = seen.entry((path.clone(), key.clone())).or_insert(0);
            *n += 1;
            let key = if *n > 1 { format!("{key}#{n}") } else { key };
            let count = lines.len();
            let message = if start == end {
                format!("line {start} of `{path}` is not covered by any test")
            } else {
                format!(
                    "{count} instrumented line{} in {start}–{end} of `{path}` {} not covered by any test",
                    if count == 1 { "" } else { "s" },
                    if count == 1 { "is" } else { "are" }
                )
            };
            out.findings.push(Finding {
                rule_id: "uncovered-lines",
                level: Level::Note,
                message,
                fingerprint: fingerprint("uncovered-lines", &path, &key),
                path: Some(path),
                lines: Some((start, end)),
            });
        }
    }
    Ok(out)
}

fn total_check(out: &mut Outcome, key: &str, what: &str, min: Option<f64>, counts: Counts) {
    let (Some(min), Some(p)) = (min, counts.percent()) else {
        return;
    };
    if p < min {
        out.findings.push(Finding {
            rule_id: "coverage-below-threshold",
            level: Level::Error,
            message: format!(
                "total {what} coverage is {}% ({} of {} {key}), below the minimum of {min}% (`min-{key}`)",
                fmt_percent(p),
                counts.covered,
                counts.total
            ),
            path: None,
            lines: None,
            fingerprint: fingerprint("coverage-below-threshold", "", key),
        });
    }
}

/// Maximal runs of uncovered instrumented lines with no covered line between them:
/// (first, last, the uncovered line numbers).
pub fn uncovered_runs(fc: &FileCoverage) -> Vec<(u32, u32, Vec<u32>)> {
    let mut runs = Vec::new();
    let mut cur: Vec<u32> = Vec::new();
    for (&line, &hits) in &fc.lines {
        if hits == 0 {
            cur.push(line);
        } else if !cur.is_empty() {
            runs.push((cur[0], cur[cur.len() - 1], std::mem::take(&mut cur)));
        }
    }
    if !cur.is_empty() {
        runs.push((cur[0], cur[cur.len() - 1], cur));
    }
    runs
}
