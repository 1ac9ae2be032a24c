//! Golden tests of user-facing `pipeline.toml` errors.
//!
//! Each `tests/ui/NAME.toml` is a broken pipeline; `tests/ui/NAME.err` is exactly what
//! gantry prints for it. Paths are passed relative (`tests/ui/NAME.toml`), so the
//! output is the same on every machine. After an intended change, rewrite them with
//! `UPDATE_GOLDEN=1 cargo test -p gantry --test ui` and review the diff.
//!
//! A case may also say what must never be printed (a secret written into the file):
//! each `# ui-absent: TEXT` line of the `.toml` fails the test if TEXT appears in the
//! output, in update mode too, so such a golden file cannot be blessed.

use std::fs;
use std::path::{Path, PathBuf};

use gantry::manifest::Manifest;

/// Fewer cases than this means files went missing.
const MIN_CASES: usize = 15;

fn cases() -> Vec<PathBuf> {
    let mut cases: Vec<PathBuf> = fs::read_dir("tests/ui")
        .expect("run from the crate root: tests/ui exists")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        .map(|p| Path::new("tests/ui").join(p.file_name().unwrap_or_default()))
        .collect();
    cases.sort();
    cases
}

/// A line diff (longest common subsequence), `-` expected, `+` actual.
fn diff(expected: &str, actual: &str) -> String {
    let (a, b): (Vec<&str>, Vec<&str>) = (expected.lines().collect(), actual.lines().collect());
    let mut lcs = vec![vec![0usize; b.len() + 1]; a.len() + 1];
    for i in (0..a.len()).rev() {
        for j in (0..b.len()).rev() {
            lcs[i][j] = if a[i] == b[j] {
                lcs[i + 1][j + 1] + 1
            } else {
                lcs[i + 1][j].max(lcs[i][j + 1])
            };
        }
    }
    let (mut i, mut j, mut out) = (0, 0, String::new());
    while i < a.len() || j < b.len() {
        if i < a.len() && j < b.len() && a[i] == b[j] {
            out += &format!("  {}\n", a[i]);
            (i, j) = (i + 1, j + 1);
        } else if j < b.len() && (i == a.len() || lcs[i][j + 1] >= lcs[i + 1][j]) {
            out += &format!("+ {}\n", b[j]);
            j += 1;
        } else {
            out += &format!("- {}\n", a[i]);
            i += 1;
        }
    }
    out
}

#[test]
fn ui() {
    let update = gantry_test_plugins::update_golden();
    let cases = cases();
    assert!(
        cases.len() >= MIN_CASES,
        "only {} cases in tests/ui",
        cases.len()
    );
    let mut failures = Vec::new();
    let mut absent_checks = 0;
    for toml in &cases {
        let golden = toml.with_extension("err");
        let actual = match Manifest::load(toml) {
            Ok(_) => {
                failures.push(format!(
                    "{}: loaded without errors; every ui case must fail",
                    toml.display()
                ));
                continue;
            }
            Err(e) => format!("{e}\n"),
        };
        let source = fs::read_to_string(toml).unwrap_or_default();
        absent_checks += source.matches("# ui-absent:").count();
        let leaked: Vec<&str> = source
            .lines()
            .filter_map(|l| l.trim().strip_prefix("# ui-absent:"))
            .map(str::trim)
            .filter(|t| !t.is_empty() && actual.contains(t))
            .collect();
        if !leaked.is_empty() {
            failures.push(format!(
                "{}: output shows {} (marked `# ui-absent`):\n{actual}",
                toml.display(),
                leaked
                    .iter()
                    .map(|t| format!("`{t}`"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
            continue;
        }
        if update {
            fs::write(&golden, &actual).expect("write golden file");
            continue;
        }
        match fs::read_to_string(&golden) {
            Ok(expected) if expected == actual => {}
            Ok(expected) => failures.push(format!(
                "{}: output differs from {} (- expected, + actual):\n{}",
                toml.display(),
                golden.display(),
                diff(&expected, &actual)
            )),
            Err(_) => failures.push(format!(
                "{}: missing; output was:\n{actual}",
                golden.display()
            )),
        }
    }
    assert!(
        absent_checks > 0,
        "no `# ui-absent:` check left: the cases proving secrets are masked went missing"
    );
    // A golden file without its case is a deleted test.
    for entry in fs::read_dir("tests/ui")
        .expect("tests/ui")
        .filter_map(Result::ok)
    {
        let p = entry.path();
        if p.extension().is_some_and(|e| e == "err") && !p.with_extension("toml").exists() {
            failures.push(format!("{}: no matching .toml", p.display()));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} ui cases failed (UPDATE_GOLDEN=1 rewrites the .err files):\n\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n\n")
    );
}
