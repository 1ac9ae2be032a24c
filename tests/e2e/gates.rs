//! `builtin:coverage-gate` and `builtin:bench-gate` through the binary: thresholds
//! decide the run's exit code, findings reach SARIF with their locations, outputs
//! reach `summary.json`, and a report outside `grants.fs.read` is not seen.

use std::path::Path;

use gantry_test_plugins::Workspace;

const GANTRY: &str = env!("CARGO_BIN_EXE_gantry");

/// An LCOV report as CI writes it: absolute paths of another machine.
const LCOV: &str = "TN:\nSF:/home/runner/work/app/src/calc.py\nDA:1,1\nDA:2,1\nDA:3,0\nDA:4,0\nDA:5,1\nend_of_record\n";

const CALC: &str = "def f(x):\n    y = x + 1\n    if y > 10:\n        return 0\n    return y\n";

fn coverage_pipeline(min_lines: u32, read: &str) -> String {
    format!(
        r#"
[pipeline]
name = "gates"

[stage.coverage]
plugin = "builtin:coverage-gate"
with = {{ reports = ["coverage/lcov.info"], min-lines = {min_lines} }}
grants.fs.read = [{read}]
"#
    )
}

#[test]
fn coverage_gate_fails_below_the_minimum_and_points_at_uncovered_lines() {
    let ws = Workspace::new(GANTRY);
    ws.write("src/calc.py", CALC);
    ws.write("coverage/lcov.info", LCOV);
    ws.write("pipeline.toml", coverage_pipeline(80, r#"".""#));
    let r = ws.gantry(&["run"]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert_eq!(r.output("coverage", "lines-percent"), "60.00");
    assert_eq!(r.output("coverage", "lines-total"), "5");
    let sarif: serde_json::Value =
        serde_json::from_str(&r.file("report.sarif")).expect("SARIF is JSON");
    let results = sarif["runs"][0]["results"].as_array().expect("results");
    let rule_ids: Vec<&str> = results
        .iter()
        .filter_map(|x| x["ruleId"].as_str())
        .collect();
    assert!(
        rule_ids.contains(&"coverage-below-threshold"),
        "{rule_ids:?}"
    );
    let uncovered = results
        .iter()
        .find(|x| x["ruleId"] == "uncovered-lines")
        .expect("uncovered-lines finding");
    let loc = &uncovered["locations"][0]["physicalLocation"];
    assert_eq!(loc["artifactLocation"]["uri"], "src/calc.py");
    assert_eq!(loc["region"]["startLine"], 3);
    assert_eq!(loc["region"]["endLine"], 4);

    ws.write("pipeline.toml", coverage_pipeline(60, r#"".""#));
    let r = ws.gantry(&["run"]);
    assert_eq!(r.code, 0, "60% meets min-lines = 60: {}", r.stderr);
}

/// Under `--dry-run` the stage that writes a coverage report is planned, not run: the
/// report on disk is an earlier run's. The gate neither passes nor fails on it; it says
/// it did not evaluate, and a dry run on a fresh checkout (no report yet) gets through.
#[test]
fn gates_do_not_judge_stale_reports_under_dry_run() {
    let ws = Workspace::new(GANTRY);
    ws.write("src/calc.py", CALC);
    ws.write("coverage/lcov.info", LCOV);
    ws.write("pipeline.toml", coverage_pipeline(80, r#"".""#));
    assert_eq!(
        ws.gantry(&["run"]).code,
        1,
        "60% is below 80% in a real run"
    );
    let r = ws.gantry(&["run", "--dry-run"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(r.output("coverage", "evaluated"), "false");
    assert!(
        r.stage("coverage")["outputs"]
            .get("lines-percent")
            .is_none(),
        "nothing was judged: {}",
        r.stage("coverage")
    );
    let summary = r.stage("coverage")["summary"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert!(summary.starts_with("dry run: not evaluated"), "{summary}");

    std::fs::remove_dir_all(ws.path("coverage")).expect("remove the report");
    let r = ws.gantry(&["run", "--dry-run"]);
    assert_eq!(r.code, 0, "no report yet: {}", r.stderr);
}

#[test]
fn coverage_report_outside_the_read_grant_is_not_seen() {
    let ws = Workspace::new(GANTRY);
    ws.write("src/calc.py", CALC);
    ws.write("coverage/lcov.info", LCOV);
    ws.write("pipeline.toml", coverage_pipeline(0, r#""src""#));
    let r = ws.gantry(&["run"]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    let sarif: serde_json::Value =
        serde_json::from_str(&r.file("report.sarif")).expect("SARIF is JSON");
    let result = &sarif["runs"][0]["results"][0];
    assert_eq!(result["ruleId"], "no-coverage-data");
    let msg = result["message"]["text"].as_str().unwrap_or_default();
    assert!(msg.contains("grants.fs.read"), "{msg}");
}

fn copy_dir(from: &Path, ws: &Workspace, to: &str) {
    for e in std::fs::read_dir(from).expect("fixture dir").flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        let rel = format!("{to}/{name}");
        if e.path().is_dir() {
            copy_dir(&e.path(), ws, &rel);
        } else {
            ws.write(&rel, std::fs::read(e.path()).expect("fixture file"));
        }
    }
}

#[test]
fn bench_gate_fails_on_a_criterion_regression() {
    let ws = Workspace::new(GANTRY);
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../plugins/bench-gate/tests/fixtures/criterion");
    copy_dir(&fixtures, &ws, "target/criterion");
    ws.write(
        "pipeline.toml",
        r#"
[pipeline]
name = "gates"

[stage.bench]
plugin = "builtin:bench-gate"
with = { current = "target/criterion", baseline-name = "main", max-regression = 10 }
grants.fs.read = ["target/criterion"]
"#,
    );
    let r = ws.gantry(&["run"]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert_eq!(r.output("bench", "regressions"), "1");
    assert_eq!(r.output("bench", "improvements"), "2");
    assert_eq!(r.output("bench", "worst-regression"), "sum_digits");
    let sarif: serde_json::Value =
        serde_json::from_str(&r.file("report.sarif")).expect("SARIF is JSON");
    let results = sarif["runs"][0]["results"].as_array().expect("results");
    let regression = results
        .iter()
        .find(|x| x["ruleId"] == "benchmark-regression")
        .expect("regression finding");
    assert_eq!(
        regression["locations"][0]["physicalLocation"]["artifactLocation"]["uri"],
        "target/criterion/sum_digits/new/estimates.json"
    );
}
