//! The gate: configuration, comparison of current results with a baseline, findings.
//!
//! For each benchmark present on both sides, `change` is the relative difference of
//! the point estimates, `(current − baseline) / baseline`, signed so that positive
//! is worse (slower, or lower throughput for `lower-is-better: false`). With a
//! threshold `t` (`max-regression`, percent):
//!
//! - **without confidence intervals**: a regression when `change > t`;
//! - **with intervals on both sides** (criterion; `interval` in the JSON format) and
//!   `noise = "confidence-interval"` (the default): a regression only when the
//!   current interval lies entirely beyond the baseline's by the threshold, i.e.
//!   `current.lower > baseline.upper × (1 + t/100)` for lower-is-better, or
//!   `current.upper < baseline.lower × (1 − t/100)` for higher-is-better. A point
//!   change over `t` whose intervals do not separate that far is counted as
//!   "within noise" (logged and in the summary, no finding).
//!
//! Improvements mirror this with `min-improvement` (default: `max-regression`).
//! Benchmarks whose units differ (after normalising time units to ns), whose baseline
//! is 0, or whose direction differs are `benchmark-incomparable`.
//!
//! Fingerprints: first 32 hex digits of sha256 over `rule NUL benchmark name`, so a
//! finding keeps its identity while the numbers move.
//!
//! Tests: `src/tests.rs`.

use std::path::Path;

pub use gantry_sdk::Level;
use gantry_sdk::Rule;
use globset::{GlobBuilder, GlobSet, GlobSetBuilder};
use serde::Deserialize;
use sha2::{Digest, Sha256};

use crate::BenchError;
use crate::results::{Bench, Statistic, load};

/// Default `max-regression`, percent.
pub const DEFAULT_MAX_REGRESSION: f64 = 10.0;

/// Stage configuration (`with = { … }` in pipeline.toml).
#[derive(Debug, Clone, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct Config {
    /// Current results, workspace-relative: criterion's directory (`target/criterion`),
    /// a JSON file in bench-gate's format, or saved `cargo bench` output.
    pub current: String,
    /// Baseline results, same formats. Defaults to `current` when that is a criterion
    /// directory (then the `baseline-name` run inside it is the baseline).
    #[serde(default)]
    pub baseline: Option<String>,
    /// criterion: the run to compare against: `base` (criterion's default) or the NAME
    /// given to `cargo bench -- --save-baseline NAME`. Default `base`.
    #[serde(default)]
    pub baseline_name: Option<String>,
    /// criterion: the run holding the current results. Default `new`.
    #[serde(default)]
    pub current_name: Option<String>,
    /// criterion estimate compared: `mean` (default), `median` or `slope`.
    #[serde(default)]
    pub statistic: Statistic,
    /// Largest tolerated slowdown in percent (default 10).
    #[serde(default)]
    pub max_regression: Option<f64>,
    /// Smallest change in percent reported as an improvement (default: max-regression).
    #[serde(default)]
    pub min_improvement: Option<f64>,
    /// `confidence-interval` (default): use intervals when both sides have them;
    /// `point`: compare point estimates only.
    #[serde(default)]
    pub noise: Noise,
    /// Per-benchmark settings; the last entry whose glob matches the name wins.
    #[serde(default)]
    pub overrides: Vec<Override>,
    /// Fail (error) instead of warning when the baseline is absent. Default false, so
    /// the first run on a new branch passes and records its results.
    #[serde(default)]
    pub require_baseline: bool,
}

/// How measurement noise is handled.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum Noise {
    #[default]
    ConfidenceInterval,
    Point,
}

/// Settings for the benchmarks whose names match `benchmarks` (globs; `*` also
/// matches `/`, so `parse/*` covers `parse/small/10`).
#[derive(Debug, Clone, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct Override {
    pub benchmarks: Vec<String>,
    #[serde(default)]
    pub max_regression: Option<f64>,
    #[serde(default)]
    pub min_improvement: Option<f64>,
    /// Leave these benchmarks out entirely (no finding of any rule).
    #[serde(default)]
    pub ignore: bool,
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
            "benchmark-regression",
            Level::Error,
            "A benchmark got slower than the baseline allows",
            "The benchmark is worse than the baseline by more than `max-regression` percent; \
               with confidence intervals on both sides, only when the intervals are that far apart.",
        ),
        (
            "benchmark-improvement",
            Level::Note,
            "A benchmark got faster",
            "The benchmark is better than the baseline by at least `min-improvement` percent \
               (same noise rule as regressions). Consider saving a new baseline.",
        ),
        (
            "benchmark-missing",
            Level::Warning,
            "A baseline benchmark has no current result",
            "The baseline has this benchmark but the current results do not: it was renamed, \
               removed or did not run (a filter, a panic).",
        ),
        (
            "benchmark-new",
            Level::Note,
            "A benchmark has no baseline yet",
            "The current results have a benchmark the baseline lacks; it is compared from the \
               next baseline on.",
        ),
        (
            "benchmark-incomparable",
            Level::Warning,
            "A benchmark cannot be compared",
            "The two sides use different units or directions (`lower-is-better`), or the \
               baseline value is 0.",
        ),
        (
            "baseline-missing",
            Level::Warning,
            "No baseline to compare with",
            "The baseline path does not exist or holds no results for `baseline-name` \
               (error with `require-baseline = true`).",
        ),
        (
            "baseline-identical",
            Level::Warning,
            "The baseline is the current run",
            "Every benchmark's baseline equals its current result exactly: criterion \
               overwrites `base/` with each run, so compare against a saved baseline \
               (`--save-baseline main` on the main branch, `baseline-name = \"main\"`).",
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
    pub line: Option<u32>,
    pub fingerprint: String,
    pub benchmark: Option<String>,
}

/// What the comparison found.
#[derive(Debug, Clone, Default)]
pub struct Outcome {
    pub findings: Vec<Finding>,
    pub compared: usize,
    pub regressions: usize,
    pub improvements: usize,
    pub missing: usize,
    pub new: usize,
    pub ignored: usize,
    /// Point change over the threshold that the confidence intervals do not support.
    pub within_noise: Vec<(String, f64)>,
    /// (name, change in percent) of the largest regression.
    pub worst: Option<(String, f64)>,
}

fn fingerprint(rule: &str, name: &str) -> String {
    let mut h = Sha256::new();
    h.update(rule.as_bytes());
    h.update([0]);
    h.update(name.as_bytes());
    hex::encode(&h.finalize()[..16])
}

fn check_threshold(key: &str, v: Option<f64>) -> Result<(), BenchError> {
    match v {
        Some(p) if !(p >= 0.0 && p.is_finite()) => Err(BenchError::Config(format!(
            "`{key}` = {p} must be a percentage ≥ 0 (e.g. 10 for 10%)"
        ))),
        _ => Ok(()),
    }
}

fn rel_ok(key: &str, p: &str) -> Result<(), BenchError> {
    if Path::new(p).is_absolute() || p.split(['/', '\\']).any(|s| s == "..") || p.trim().is_empty()
    {
        return Err(BenchError::Config(format!(
            "`{key}` = `{p}` must be a path relative to the workspace, without `..`"
        )));
    }
    Ok(())
}

/// A time in ns, the way criterion prints it (`5.16 µs`); other units verbatim.
pub fn fmt_value(v: f64, unit: &str) -> String {
    if unit != "ns" {
        return format!("{} {unit}", sig3(v)).trim_end().to_string();
    }
    let (x, u) = if v < 1e3 {
        (v, "ns")
    } else if v < 1e6 {
        (v / 1e3, "µs")
    } else if v < 1e9 {
        (v / 1e6, "ms")
    } else {
        (v / 1e9, "s")
    };
    format!("{} {u}", sig3(x))
}

fn sig3(x: f64) -> String {
    if x >= 100.0 {
        format!("{x:.1}")
    } else if x >= 10.0 {
        format!("{x:.2}")
    } else {
        format!("{x:.3}")
    }
}

fn interval_text(b: &Bench) -> String {
    b.interval
        .map(|(l, u)| format!(" [{} … {}]", fmt_value(l, &b.unit), fmt_value(u, &b.unit)))
        .unwrap_or_default()
}

/// Runs the comparison over the workspace at `root`.
pub fn evaluate(root: &Path, config: &Config) -> Result<Outcome, BenchError> {
    check_threshold("max-regression", config.max_regression)?;
    check_threshold("min-improvement", config.min_improvement)?;
    rel_ok("current", &config.current)?;
    if let Some(b) = &config.baseline {
        rel_ok("baseline", b)?;
    }
    let mut overrides: Vec<(GlobSet, &Override)> = Vec::new();
    for (i, o) in config.overrides.iter().enumerate() {
        check_threshold(&format!("overrides[{i}].max-regression"), o.max_regression)?;
        check_threshold(
            &format!("overrides[{i}].min-improvement"),
            o.min_improvement,
        )?;
        let mut b = GlobSetBuilder::new();
        for g in &o.benchmarks {
            b.add(
                GlobBuilder::new(g)
                    .literal_separator(false)
                    .build()
                    .map_err(|e| {
                        BenchError::Config(format!(
                            "`overrides[{i}].benchmarks`: invalid glob `{g}`: {e}"
                        ))
                    })?,
            );
        }
        let set = b
            .build()
            .map_err(|e| BenchError::Config(format!("`overrides[{i}].benchmarks`: {e}")))?;
        overrides.push((set, o));
    }
    let current_name = config.current_name.as_deref().unwrap_or("new");
    let baseline_name = config.baseline_name.as_deref().unwrap_or("base");
    let current = load(root, &config.current, current_name, config.statistic)?;
    if current.is_empty() {
        return Err(BenchError::Invalid {
            path: config.current.clone(),
            message: format!(
                "no benchmark results (looked for `*/{current_name}/estimates.json`); run `cargo bench` \
                 in an earlier stage and grant `fs.read` on its output"
            ),
        });
    }
    let baseline_path = config
        .baseline
        .clone()
        .unwrap_or_else(|| config.current.clone());
    let mut out = Outcome::default();
    let baseline = match load(root, &baseline_path, baseline_name, config.statistic) {
        Ok(b) if !b.is_empty() => Some(b),
        Ok(_) => None,
        Err(BenchError::Read { source, .. }) if source.kind() == std::io::ErrorKind::NotFound => {
            None
        }
        Err(e) => return Err(e),
    };
    let Some(baseline) = baseline else {
        let is_dir = root.join(&baseline_path).is_dir();
        out.findings.push(Finding {
            rule_id: "baseline-missing",
            level: if config.require_baseline {
                Level::Error
            } else {
                Level::Warning
            },
            message: if is_dir {
                format!(
                    "no `{baseline_name}` baseline in `{baseline_path}`: save one with \
                     `cargo bench -- --save-baseline {baseline_name}` on the reference branch"
                )
            } else {
                format!(
                    "baseline `{baseline_path}` does not exist; {} benchmarks not compared",
                    current.len()
                )
            },
            path: None,
            line: None,
            fingerprint: fingerprint("baseline-missing", &baseline_path),
            benchmark: None,
        });
        out.new = current.len();
        return Ok(out);
    };

    let settings = |name: &str| {
        let mut max = config.max_regression.unwrap_or(DEFAULT_MAX_REGRESSION);
        let mut imp = config.min_improvement;
        let mut ignore = false;
        for (set, o) in &overrides {
            if set.is_match(name) {
                if let Some(m) = o.max_regression {
                    max = m;
                }
                if o.min_improvement.is_some() {
                    imp = o.min_improvement;
                }
                ignore = o.ignore;
            }
        }
        (max, imp.unwrap_or(max), ignore)
    };

    let mut identical = 0usize;
    for (name, cur) in &current {
        let (max, min_imp, ignore) = settings(name);
        if ignore {
            out.ignored += 1;
            continue;
        }
        let Some(base) = baseline.get(name) else {
            out.new += 1;
            out.findings.push(Finding {
                rule_id: "benchmark-new",
                level: Level::Note,
                message: format!(
                    "`{name}` is new: {}, no baseline yet",
                    fmt_value(cur.value, &cur.unit)
                ),
                path: Some(cur.source.clone()),
                line: cur.line,
                fingerprint: fingerprint("benchmark-new", name),
                benchmark: Some(name.clone()),
            });
            continue;
        };
        let incomparable = if base.unit != cur.unit {
            Some(format!(
                "units differ: `{}` in the baseline, `{}` now",
                base.unit, cur.unit
            ))
        } else if base.lower_is_better != cur.lower_is_better {
            Some("`lower-is-better` differs between baseline and current".to_string())
        } else if base.value <= 0.0 {
            Some("the baseline value is 0, so a relative change is undefined".to_string())
        } else {
            None
        };
        if let Some(why) = incomparable {
            out.findings.push(Finding {
                rule_id: "benchmark-incomparable",
                level: Level::Warning,
                message: format!("`{name}` cannot be compared: {why}"),
                path: Some(cur.source.clone()),
                line: cur.line,
                fingerprint: fingerprint("benchmark-incomparable", name),
                benchmark: Some(name.clone()),
            });
            continue;
        }
        out.compared += 1;
        if cur.value == base.value && cur.interval == base.interval {
            identical += 1;
        }
        // Positive = worse, in percent.
        let raw = (cur.value - base.value) / base.value * 100.0;
        let change = if cur.lower_is_better { raw } else { -raw };
        let intervals = match (config.noise, cur.interval, base.interval) {
            (Noise::ConfidenceInterval, Some(c), Some(b)) => Some((c, b)),
            _ => None,
        };
        let (regressed, improved) = match intervals {
            Some(((cl, cu), (bl, bu))) => {
                if cur.lower_is_better {
                    (
                        cl > bu * (1.0 + max / 100.0),
                        cu < bl * (1.0 - min_imp / 100.0),
                    )
                } else {
                    (
                        cu < bl * (1.0 - max / 100.0),
                        cl > bu * (1.0 + min_imp / 100.0),
                    )
                }
            }
            None => (change > max, -change > min_imp),
        };
        let worse_word = if cur.lower_is_better {
            "slower"
        } else {
            "lower"
        };
        let better_word = if cur.lower_is_better {
            "faster"
        } else {
            "higher"
        };
        let detail = format!(
            "{}{} now, {}{} in the baseline",
            fmt_value(cur.value, &cur.unit),
            interval_text(cur),
            fmt_value(base.value, &base.unit),
            interval_text(base)
        );
        if regressed {
            out.regressions += 1;
            if out.worst.as_ref().is_none_or(|(_, w)| change > *w) {
                out.worst = Some((name.clone(), change));
            }
            out.findings.push(Finding {
                rule_id: "benchmark-regression",
                level: Level::Error,
                message: format!(
                    "`{name}` is {change:.1}% {worse_word} than the baseline (max-regression {max}%{}): {detail}",
                    if intervals.is_some() { ", confidence intervals apart" } else { "" }
                ),
                path: Some(cur.source.clone()),
                line: cur.line,
                fingerprint: fingerprint("benchmark-regression", name),
                benchmark: Some(name.clone()),
            });
        } else if improved {
            out.improvements += 1;
            out.findings.push(Finding {
                rule_id: "benchmark-improvement",
                level: Level::Note,
                message: format!(
                    "`{name}` is {:.1}% {better_word} than the baseline: {detail}",
                    -change
                ),
                path: Some(cur.source.clone()),
                line: cur.line,
                fingerprint: fingerprint("benchmark-improvement", name),
                benchmark: Some(name.clone()),
            });
        } else if change > max {
            out.within_noise.push((name.clone(), change));
        }
    }
    for (name, base) in &baseline {
        if current.contains_key(name) || settings(name).2 {
            continue;
        }
        out.missing += 1;
        out.findings.push(Finding {
            rule_id: "benchmark-missing",
            level: Level::Warning,
            message: format!(
                "`{name}` is in the baseline ({}) but has no current result: renamed, removed or not run?",
                fmt_value(base.value, &base.unit)
            ),
            path: Some(base.source.clone()),
            line: base.line,
            fingerprint: fingerprint("benchmark-missing", name),
            benchmark: Some(name.clone()),
        });
    }
    if out.compared > 0 && identical == out.compared {
        out.findings.push(Finding {
            rule_id: "baseline-identical",
            level: Level::Warning,
            message: format!(
                "all {} benchmarks equal their baseline exactly, so nothing was really compared: \
                 criterion overwrites `{baseline_name}/` on every run; save a reference with \
                 `cargo bench -- --save-baseline main` and set `baseline-name = \"main\"`",
                out.compared
            ),
            path: None,
            line: None,
            fingerprint: fingerprint("baseline-identical", &baseline_path),
            benchmark: None,
        });
    }
    Ok(out)
}
