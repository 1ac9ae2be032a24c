//! Reading benchmark results: criterion directories, bench-gate's JSON format and
//! `cargo bench` bencher text.
//!
//! Formats, chosen by what the path is:
//! - **a directory**: criterion's output (`target/criterion`). Every
//!   `…/<run>/estimates.json` under it is one benchmark, where `<run>` is `new`
//!   (the latest run), `base` (criterion's default baseline) or a name given to
//!   `--save-baseline`. The id is `full_id` from the `benchmark.json` beside it
//!   (falling back to the directory path). The value is the chosen statistic's point
//!   estimate (ns per iteration) and its confidence interval.
//! - **a file starting with `{`**: bench-gate's JSON format (documented in RULES.md):
//!   `{"benchmarks": [{"name", "value", "unit", "lower-is-better", "interval"}]}`.
//! - **any other file**: libtest/criterion bencher lines,
//!   `test NAME ... bench: 1,234.5 ns/iter (+/- 56)`; other lines are ignored. The
//!   `+/-` figure is libtest's min–max spread, not a confidence interval, so it is
//!   not used for noise decisions.
//!
//! Refused (with the file, and line:col where known): a JSON file that does not match
//! the format (unknown keys included), a benchmark named twice, non-finite values,
//! an interval that does not contain its value, a criterion `estimates.json` without
//! the chosen statistic, a bencher file with no bencher line.
//!
//! Tests: `src/tests.rs` (the fixtures in `tests/fixtures/`) and `mod tests` below.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::BenchError;

/// One benchmark's result.
#[derive(Debug, Clone, PartialEq)]
pub struct Bench {
    pub name: String,
    /// In `unit`; time units are normalised to nanoseconds.
    pub value: f64,
    /// `ns` for every time unit, else the unit as written (compared verbatim).
    pub unit: String,
    pub lower_is_better: bool,
    /// Confidence interval (lower, upper) in `unit`, when the tool gives one.
    pub interval: Option<(f64, f64)>,
    /// Workspace-relative file it came from, and its line when known.
    pub source: String,
    pub line: Option<u32>,
}

/// Which criterion estimate is compared.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum Statistic {
    /// The mean time per iteration (what criterion's own change report uses).
    #[default]
    Mean,
    Median,
    /// The linear-regression slope; falls back to the mean for benchmarks that have
    /// none (criterion omits it for flat sampling).
    Slope,
}

/// All benchmarks of one side, by name.
pub type Results = BTreeMap<String, Bench>;

/// Time units → factor to nanoseconds.
pub fn time_factor(unit: &str) -> Option<f64> {
    Some(match unit {
        "ps" => 1e-3,
        "ns" => 1.0,
        "us" | "µs" | "μs" => 1e3,
        "ms" => 1e6,
        "s" => 1e9,
        _ => return None,
    })
}

/// Reads `rel` (workspace-relative) under `root`; `run` is the criterion run name.
pub fn load(root: &Path, rel: &str, run: &str, stat: Statistic) -> Result<Results, BenchError> {
    let path = root.join(rel);
    let meta = std::fs::metadata(&path).map_err(|e| BenchError::Read {
        path: rel.to_string(),
        source: e,
    })?;
    if meta.is_dir() {
        return load_criterion(&path, rel, run, stat);
    }
    let bytes = std::fs::read(&path).map_err(|e| BenchError::Read {
        path: rel.to_string(),
        source: e,
    })?;
    let text = String::from_utf8(bytes).map_err(|_| BenchError::Invalid {
        path: rel.to_string(),
        message: "not UTF-8 text".into(),
    })?;
    if text
        .trim_start_matches('\u{feff}')
        .trim_start()
        .starts_with('{')
    {
        parse_json(&text, rel)
    } else {
        parse_bencher(&text, rel)
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct JsonFile {
    #[serde(default)]
    version: Option<u32>,
    benchmarks: Vec<JsonBench>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct JsonBench {
    name: String,
    value: f64,
    #[serde(default)]
    unit: Option<String>,
    #[serde(default = "yes")]
    lower_is_better: bool,
    #[serde(default)]
    interval: Option<[f64; 2]>,
}

fn yes() -> bool {
    true
}

fn insert(out: &mut Results, b: Bench) -> Result<(), BenchError> {
    if out.contains_key(&b.name) {
        return Err(BenchError::Invalid {
            path: b.source.clone(),
            message: format!("benchmark `{}` appears twice; names must be unique", b.name),
        });
    }
    out.insert(b.name.clone(), b);
    Ok(())
}

/// Normalises a value and interval to nanoseconds when `unit` is a time unit.
fn normalise(
    value: f64,
    interval: Option<(f64, f64)>,
    unit: &str,
) -> (f64, Option<(f64, f64)>, String) {
    match time_factor(unit) {
        Some(f) => (
            value * f,
            interval.map(|(l, u)| (l * f, u * f)),
            "ns".to_string(),
        ),
        None => (value, interval, unit.to_string()),
    }
}

pub fn parse_json(text: &str, rel: &str) -> Result<Results, BenchError> {
    let file: JsonFile = serde_json::from_str(text).map_err(|e| BenchError::Invalid {
        path: rel.to_string(),
        message: format!(
            "{}:{}: {} (expected {{\"benchmarks\": [{{\"name\": …, \"value\": …, \"unit\": \"ns\"}}]}})",
            e.line(),
            e.column(),
            e
        ),
    })?;
    if let Some(v) = file.version
        && v != 1
    {
        return Err(BenchError::Invalid {
            path: rel.to_string(),
            message: format!(
                "format version {v} is not supported (this bench-gate reads version 1)"
            ),
        });
    }
    let mut out = Results::new();
    for b in file.benchmarks {
        let invalid = |m: String| BenchError::Invalid {
            path: rel.to_string(),
            message: m,
        };
        if b.name.trim().is_empty() {
            return Err(invalid("a benchmark has an empty `name`".into()));
        }
        if !b.value.is_finite() || b.value < 0.0 {
            return Err(invalid(format!(
                "benchmark `{}`: `value` must be a finite number ≥ 0",
                b.name
            )));
        }
        let interval = b.interval.map(|[l, u]| (l, u));
        if let Some((l, u)) = interval
            && !(l <= b.value && b.value <= u)
        {
            return Err(invalid(format!(
                "benchmark `{}`: `interval` [{l}, {u}] must contain `value` {}",
                b.name, b.value
            )));
        }
        let unit = b.unit.unwrap_or_default();
        let (value, interval, unit) = normalise(b.value, interval, unit.trim());
        insert(
            &mut out,
            Bench {
                name: b.name,
                value,
                unit,
                lower_is_better: b.lower_is_better,
                interval,
                source: rel.to_string(),
                line: None,
            },
        )?;
    }
    Ok(out)
}

/// `test NAME ... bench: 1,234.56 ns/iter (+/- 78)` (libtest; criterion's
/// `--output-format bencher` prints the same without separators).
pub fn parse_bencher(text: &str, rel: &str) -> Result<Results, BenchError> {
    let mut out = Results::new();
    for (i, line) in text.lines().enumerate() {
        let Some(rest) = line.trim_start().strip_prefix("test ") else {
            continue;
        };
        let Some((name, after)) = rest.split_once(" ... bench:") else {
            continue;
        };
        let after = after.trim_start();
        let num_len = after
            .find(|c: char| !(c.is_ascii_digit() || c == ',' || c == '.'))
            .unwrap_or(after.len());
        let number = after[..num_len].replace(',', "");
        let unit_part = after[num_len..].trim_start();
        let unit = unit_part.split_whitespace().next().unwrap_or("");
        let unit = unit.strip_suffix("/iter").unwrap_or(unit);
        let value: f64 = number.parse().map_err(|_| BenchError::Invalid {
            path: rel.to_string(),
            message: format!(
                "{}:{}: expected a number after `bench:`",
                i + 1,
                line.len() - after.len() + 1
            ),
        })?;
        let (value, _, unit) = normalise(value, None, unit);
        insert(
            &mut out,
            Bench {
                name: name.trim().to_string(),
                value,
                unit,
                lower_is_better: true,
                interval: None,
                source: rel.to_string(),
                line: Some(i as u32 + 1),
            },
        )?;
    }
    if out.is_empty() {
        return Err(BenchError::Invalid {
            path: rel.to_string(),
            message: "no benchmark results: expected criterion's directory, a JSON file \
                      ({\"benchmarks\": […]}) or `cargo bench` lines like \
                      `test name ... bench: 1,234 ns/iter (+/- 56)`"
                .into(),
        });
    }
    Ok(out)
}

#[derive(Deserialize)]
struct Estimate {
    point_estimate: f64,
    confidence_interval: Option<Interval>,
}

#[derive(Deserialize)]
struct Interval {
    lower_bound: f64,
    upper_bound: f64,
}

#[derive(Deserialize)]
struct Estimates {
    mean: Option<Estimate>,
    median: Option<Estimate>,
    slope: Option<Estimate>,
}

#[derive(Deserialize)]
struct BenchmarkId {
    full_id: Option<String>,
}

/// Every `<bench dir>/<run>/estimates.json` below `dir`; directories are walked
/// without following symlinks, `report/` (criterion's HTML) is skipped.
fn load_criterion(
    dir: &Path,
    rel: &str,
    run: &str,
    stat: Statistic,
) -> Result<Results, BenchError> {
    let mut out = Results::new();
    let mut stack: Vec<PathBuf> = vec![dir.to_path_buf()];
    let mut found: Vec<PathBuf> = Vec::new();
    while let Some(d) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        let dirs: Vec<(std::ffi::OsString, PathBuf)> = entries
            .flatten()
            .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
            .map(|e| (e.file_name(), e.path()))
            .collect();
        // In a benchmark's directory the other children are criterion's runs
        // (`new`, `base`, saved baselines, `change`): not worth walking, which matters
        // in the sandbox, where every directory read is a host call.
        let mut is_bench_dir = false;
        for (name, path) in &dirs {
            if name == run && path.join("estimates.json").is_file() {
                found.push(path.clone());
                is_bench_dir = true;
            }
        }
        for (name, path) in dirs {
            if name == "report" || name == run {
                continue;
            }
            if is_bench_dir && (name == "change" || path.join("estimates.json").is_file()) {
                continue;
            }
            stack.push(path);
        }
    }
    found.sort();
    for run_dir in found {
        let bench_dir = run_dir.parent().unwrap_or(dir);
        let dir_id = bench_dir
            .strip_prefix(dir)
            .map(|p| p.to_string_lossy().replace('\\', "/"))
            .unwrap_or_default();
        let est_rel = format!(
            "{}/{dir_id}/{run}/estimates.json",
            rel.trim_end_matches('/')
        );
        let read = |p: PathBuf, shown: &str| -> Result<String, BenchError> {
            std::fs::read_to_string(p).map_err(|e| BenchError::Read {
                path: shown.to_string(),
                source: e,
            })
        };
        let text = read(run_dir.join("estimates.json"), &est_rel)?;
        let est: Estimates = serde_json::from_str(&text).map_err(|e| BenchError::Invalid {
            path: est_rel.clone(),
            message: format!(
                "{}:{}: not a criterion estimates file: {e}",
                e.line(),
                e.column()
            ),
        })?;
        let name = std::fs::read_to_string(run_dir.join("benchmark.json"))
            .ok()
            .and_then(|t| serde_json::from_str::<BenchmarkId>(&t).ok())
            .and_then(|b| b.full_id)
            .unwrap_or_else(|| dir_id.clone());
        let chosen = match stat {
            Statistic::Mean => est.mean.as_ref(),
            Statistic::Median => est.median.as_ref(),
            Statistic::Slope => est.slope.as_ref().or(est.mean.as_ref()),
        };
        let Some(e) = chosen else {
            return Err(BenchError::Invalid {
                path: est_rel,
                message: format!(
                    "no `{stat:?}` estimate (criterion writes mean and median for every benchmark)"
                )
                .to_lowercase(),
            });
        };
        if !e.point_estimate.is_finite() {
            return Err(BenchError::Invalid {
                path: est_rel,
                message: "point estimate is not a finite number".into(),
            });
        }
        let interval = e
            .confidence_interval
            .as_ref()
            .map(|ci| (ci.lower_bound, ci.upper_bound))
            .filter(|(l, u)| l.is_finite() && u.is_finite() && l <= u);
        insert(
            &mut out,
            Bench {
                name,
                value: e.point_estimate,
                unit: "ns".into(),
                lower_is_better: true,
                interval,
                source: est_rel,
                line: None,
            },
        )?;
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_format_units_intervals_and_errors() {
        let r = parse_json(
            r#"{"version":1,"benchmarks":[
                {"name":"parse","value":1.5,"unit":"us","interval":[1.4,1.7]},
                {"name":"throughput","value":900,"unit":"MB/s","lower-is-better":false}]}"#,
            "bench.json",
        )
        .expect("valid");
        assert_eq!(r["parse"].value, 1500.0);
        assert_eq!(r["parse"].unit, "ns");
        assert_eq!(r["parse"].interval, Some((1400.0, 1700.0)));
        assert!(!r["throughput"].lower_is_better);
        assert_eq!(r["throughput"].unit, "MB/s");

        let e = parse_json(
            "{\"benchmarks\":[\n {\"name\":\"a\",\"valu\":1}]}",
            "b.json",
        )
        .expect_err("typo");
        let m = e.to_string();
        assert!(m.starts_with("b.json: 2:") && m.contains("`valu`"), "{m}");
        let e = parse_json(
            r#"{"benchmarks":[{"name":"a","value":1},{"name":"a","value":2}]}"#,
            "b.json",
        )
        .expect_err("dup");
        assert!(e.to_string().contains("appears twice"), "{e}");
        let e = parse_json(
            r#"{"benchmarks":[{"name":"a","value":5,"interval":[1,2]}]}"#,
            "b.json",
        )
        .expect_err("interval");
        assert!(e.to_string().contains("must contain"), "{e}");
    }

    #[test]
    fn bencher_lines_with_separators_and_other_units() {
        let r = parse_bencher(
            "running 2 tests\ntest a::b ... bench:      51,201.66 ns/iter (+/- 25,882.40)\n\
             test c  ... bench:  3 ms/iter (+/- 1) = 10 MB/s\ntest d ... ok\n",
            "out.txt",
        )
        .expect("valid");
        assert_eq!(r["a::b"].value, 51201.66);
        assert_eq!(r["a::b"].line, Some(2));
        assert_eq!(r["c"].value, 3e6);
        assert!(
            r["a::b"].interval.is_none(),
            "+/- is not a confidence interval"
        );
        assert_eq!(r.len(), 2);
        let e = parse_bencher("hello\n", "out.txt").expect_err("nothing");
        assert!(e.to_string().contains("no benchmark results"), "{e}");
    }
}
