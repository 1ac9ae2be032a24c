//! Gate tests over real criterion and libtest output and a JSON pair written for the
//! format (`tests/fixtures/`, see its README). Expected verdicts follow from the
//! numbers criterion and libtest printed when the fixtures were made.

use std::path::{Path, PathBuf};

use crate::compare::{Config, Finding, Level, Noise, Override, evaluate};
use crate::results::Statistic;
use crate::{BenchError, Outcome};

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

fn config(current: &str, baseline: Option<&str>) -> Config {
    Config {
        current: current.into(),
        baseline: baseline.map(Into::into),
        baseline_name: None,
        current_name: None,
        statistic: Statistic::Mean,
        max_regression: None,
        min_improvement: None,
        noise: Noise::ConfidenceInterval,
        overrides: Vec::new(),
        require_baseline: false,
    }
}

fn run(c: &Config) -> Outcome {
    evaluate(&fixtures(), c).unwrap_or_else(|e| panic!("gate failed: {e}"))
}

fn names<'a>(out: &'a Outcome, rule: &str) -> Vec<&'a str> {
    out.findings
        .iter()
        .filter(|f| f.rule_id == rule)
        .filter_map(|f| f.benchmark.as_deref())
        .collect()
}

fn one<'a>(out: &'a Outcome, rule: &str) -> &'a Finding {
    let v: Vec<_> = out.findings.iter().filter(|f| f.rule_id == rule).collect();
    assert_eq!(v.len(), 1, "{rule}: {:?}", out.findings);
    v[0]
}

#[test]
fn criterion_against_a_saved_baseline() {
    // criterion printed: sum_digits "Performance has regressed" (code made 2x slower),
    // sort/vec/* "Performance has improved" (a noisy first run).
    let mut c = config("criterion", None);
    c.baseline_name = Some("main".into());
    let out = run(&c);
    assert_eq!(out.compared, 3);
    assert_eq!(names(&out, "benchmark-regression"), vec!["sum_digits"]);
    assert_eq!(
        names(&out, "benchmark-improvement"),
        vec!["sort/vec/100", "sort/vec/1000"]
    );
    let (worst, pct) = out.worst.clone().expect("worst");
    assert_eq!(worst, "sum_digits");
    assert!((pct - 135.67).abs() < 0.01, "{pct}");
    let r = one(&out, "benchmark-regression");
    assert_eq!(r.level, Level::Error);
    assert_eq!(
        r.path.as_deref(),
        Some("criterion/sum_digits/new/estimates.json")
    );
    assert!(r.message.contains("135.7% slower"), "{}", r.message);
    assert!(
        r.message.contains("5.159 µs [4.677 µs … 5.663 µs] now"),
        "{}",
        r.message
    );
}

#[test]
fn criterion_base_overwritten_by_the_run_is_flagged() {
    let out = run(&config("criterion", None));
    assert_eq!(out.regressions + out.improvements, 0);
    assert_eq!(one(&out, "baseline-identical").level, Level::Warning);
}

#[test]
fn confidence_intervals_keep_noise_from_failing_the_gate() {
    // +135.7% point change; intervals [4677, 5663] vs [1765, 2652]: apart by 76% only.
    let mut c = config("criterion", None);
    c.baseline_name = Some("main".into());
    c.max_regression = Some(100.0);
    let out = run(&c);
    assert!(names(&out, "benchmark-regression").is_empty());
    assert_eq!(out.within_noise.len(), 1);
    assert_eq!(out.within_noise[0].0, "sum_digits");
    c.noise = Noise::Point;
    let out = run(&c);
    assert_eq!(names(&out, "benchmark-regression"), vec!["sum_digits"]);
}

#[test]
fn criterion_median_statistic() {
    let mut c = config("criterion", None);
    c.baseline_name = Some("main".into());
    c.statistic = Statistic::Median;
    let out = run(&c);
    assert_eq!(out.compared, 3);
    assert_eq!(names(&out, "benchmark-regression"), vec!["sum_digits"]);
}

#[test]
fn missing_criterion_baseline_warns_or_fails_when_required() {
    let mut c = config("criterion", None);
    c.baseline_name = Some("release-1.0".into());
    let out = run(&c);
    let f = one(&out, "baseline-missing");
    assert_eq!(f.level, Level::Warning);
    assert!(
        f.message.contains("--save-baseline release-1.0"),
        "{}",
        f.message
    );
    assert_eq!(out.new, 3);
    c.require_baseline = true;
    assert_eq!(one(&run(&c), "baseline-missing").level, Level::Error);
    let out = run(&config("json/current.json", Some("json/nope.json")));
    assert!(
        one(&out, "baseline-missing")
            .message
            .contains("does not exist")
    );
}

#[test]
fn libtest_bencher_output_with_overrides() {
    // fib_20 now computes fib(22); fib_10 changed by noise alone (301.82 → 388.97 ns).
    let c = config("libtest-current.txt", Some("libtest-baseline.txt"));
    let out = run(&c);
    assert_eq!(
        names(&out, "benchmark-regression"),
        vec!["benches::fib_10", "benches::fib_20"]
    );
    let r = out
        .findings
        .iter()
        .find(|f| f.benchmark.as_deref() == Some("benches::fib_20"))
        .expect("fib_20");
    assert_eq!(
        (r.path.as_deref(), r.line),
        (Some("libtest-current.txt"), Some(4))
    );
    assert!(r.message.contains("106.2% slower"), "{}", r.message);

    let mut c = config("libtest-current.txt", Some("libtest-baseline.txt"));
    c.overrides = vec![Override {
        benchmarks: vec!["*::fib_1?".into()],
        max_regression: Some(50.0),
        min_improvement: None,
        ignore: false,
    }];
    assert_eq!(
        names(&run(&c), "benchmark-regression"),
        vec!["benches::fib_20"]
    );
    c.overrides[0].ignore = true;
    let out = run(&c);
    assert_eq!(out.ignored, 1);
    assert_eq!(out.compared, 2);
}

#[test]
fn criterion_bencher_lines_compare_with_criterion_directories() {
    // The bencher-format run (sum_digits 5227 ns) against the saved `main` run (2189 ns).
    let mut c = config("criterion-bencher.txt", Some("criterion"));
    c.baseline_name = Some("main".into());
    let out = run(&c);
    assert_eq!(names(&out, "benchmark-regression"), vec!["sum_digits"]);
    assert_eq!(out.compared, 3);
}

#[test]
fn json_format_units_directions_missing_new_and_incomparable() {
    let out = run(&config("json/current.json", Some("json/baseline.json")));
    assert_eq!(
        names(&out, "benchmark-regression"),
        vec!["http/post", "throughput"]
    );
    assert_eq!(
        names(&out, "benchmark-improvement"),
        vec!["db/insert"],
        "850 µs → 0.70 ms"
    );
    assert_eq!(names(&out, "benchmark-incomparable"), vec!["binary-size"]);
    assert_eq!(names(&out, "benchmark-missing"), vec!["legacy/parse"]);
    assert_eq!(names(&out, "benchmark-new"), vec!["cache/hit"]);
    assert_eq!(
        out.within_noise
            .iter()
            .map(|w| w.0.as_str())
            .collect::<Vec<_>>(),
        vec!["http/get"]
    );
    assert_eq!(out.worst.as_ref().map(|w| w.0.as_str()), Some("http/post"));
    let t = out
        .findings
        .iter()
        .find(|f| f.benchmark.as_deref() == Some("throughput"))
        .expect("t");
    assert!(t.message.contains("14.3% lower"), "{}", t.message);
    assert_eq!(one(&out, "benchmark-missing").level, Level::Warning);
    assert_eq!(one(&out, "benchmark-new").level, Level::Note);
}

#[test]
fn fingerprints_follow_the_benchmark_not_the_numbers() {
    let a = run(&config("libtest-current.txt", Some("libtest-baseline.txt")));
    let mut c = config("criterion", None);
    c.baseline_name = Some("main".into());
    let b = run(&c);
    let fp = |o: &Outcome, n: &str| {
        o.findings
            .iter()
            .find(|f| f.benchmark.as_deref() == Some(n))
            .map(|f| f.fingerprint.clone())
    };
    let fib10 = fp(&a, "benches::fib_10").expect("fib_10");
    let fib20 = fp(&a, "benches::fib_20").expect("fib_20");
    assert_ne!(fib10, fib20);
    assert_eq!(fib10.len(), 32);
    let mut c2 = config("libtest-current.txt", Some("libtest-baseline.txt"));
    c2.max_regression = Some(5.0);
    assert_eq!(
        fp(&run(&c2), "benches::fib_20"),
        Some(fib20),
        "same finding, other threshold"
    );
    assert!(fp(&b, "sum_digits").is_some());
}

#[test]
fn bad_input_and_config_are_refused_clearly() {
    let mut c = config("criterion", None);
    c.max_regression = Some(-5.0);
    let e = evaluate(&fixtures(), &c).expect_err("negative");
    assert!(
        matches!(e, BenchError::Config(_)) && e.to_string().contains("`max-regression` = -5"),
        "{e}"
    );
    let e = evaluate(&fixtures(), &config("/tmp/x", None)).expect_err("absolute");
    assert!(e.to_string().contains("relative to the workspace"), "{e}");
    let e = evaluate(&fixtures(), &config("target/criterion", None)).expect_err("absent");
    assert!(matches!(e, BenchError::Read { .. }), "{e}");
    let e = evaluate(&fixtures(), &config("README.md", None)).expect_err("not results");
    assert!(
        e.to_string().starts_with("README.md: no benchmark results"),
        "{e}"
    );
    let mut c = config("json/current.json", Some("json/baseline.json"));
    c.current_name = Some("x".into());
    c.overrides = vec![Override {
        benchmarks: vec!["a[".into()],
        max_regression: None,
        min_improvement: None,
        ignore: false,
    }];
    let e = evaluate(&fixtures(), &c).expect_err("glob");
    assert!(e.to_string().contains("invalid glob `a[`"), "{e}");
    let e =
        serde_json::from_str::<Config>(r#"{"current":"x","max-regresion":5}"#).expect_err("typo");
    assert!(e.to_string().contains("max-regresion"), "{e}");
}

#[test]
fn every_rule_has_a_section_in_rules_md_and_a_help_uri() {
    let md = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("RULES.md"))
        .expect("RULES.md");
    let rules = crate::compare::rules();
    assert_eq!(rules.len(), 7);
    for r in rules {
        assert!(
            md.lines().any(|l| l == format!("## {}", r.id)),
            "RULES.md lacks `## {}`",
            r.id
        );
        assert!(
            r.help_uri
                .as_deref()
                .is_some_and(|u| u.ends_with(&format!("bench-gate/RULES.md#{}", r.id)))
        );
    }
}
