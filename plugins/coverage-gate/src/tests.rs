//! Gate tests over real tool output (`tests/fixtures/`, see its README): coverage.py
//! (Cobertura and LCOV), gcc + lcov and gcovr, node + c8. Expected numbers were read
//! off each tool's own summary (`coverage report`, gcovr's `lines-covered`, c8's
//! `LH`), not computed by this crate.

use std::path::{Path, PathBuf};

use crate::gate::{Config, Finding, Level, Override, Thresholds, evaluate};
use crate::{GateError, Outcome};

/// A scratch directory under the system temp dir, removed on drop.
pub(crate) struct TempDir(PathBuf);

impl TempDir {
    pub(crate) fn new(tag: &str) -> TempDir {
        use std::sync::atomic::{AtomicUsize, Ordering};
        static N: AtomicUsize = AtomicUsize::new(0);
        let p = std::env::temp_dir().join(format!(
            "coverage-gate-{tag}-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&p);
        std::fs::create_dir_all(&p).expect("create temp dir");
        TempDir(p)
    }
    pub(crate) fn path(&self) -> &Path {
        &self.0
    }
    pub(crate) fn write(&self, rel: &str, text: &str) {
        let p = self.0.join(rel);
        std::fs::create_dir_all(p.parent().expect("parent")).expect("mkdir");
        std::fs::write(p, text).expect("write");
    }
    /// Copies fixture directory `name` into the temp dir.
    fn copy_fixture(&self, name: &str) {
        fn copy(from: &Path, to: &Path) {
            std::fs::create_dir_all(to).expect("mkdir");
            for e in std::fs::read_dir(from).expect("read fixture dir").flatten() {
                let target = to.join(e.file_name());
                if e.path().is_dir() {
                    copy(&e.path(), &target);
                } else {
                    std::fs::copy(e.path(), target).expect("copy");
                }
            }
        }
        copy(&fixture(name), &self.0);
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

fn config(reports: &[&str]) -> Config {
    Config {
        reports: reports.iter().map(|s| s.to_string()).collect(),
        ..Config::default()
    }
}

fn run(dir: &str, c: &Config) -> Outcome {
    evaluate(&fixture(dir), c).unwrap_or_else(|e| panic!("gate failed on {dir}: {e}"))
}

fn of<'a>(out: &'a Outcome, rule: &str) -> Vec<&'a Finding> {
    out.findings.iter().filter(|f| f.rule_id == rule).collect()
}

#[test]
fn coverage_py_cobertura_and_lcov_give_the_tools_own_numbers() {
    // `coverage report`: calc/ops.py 25 statements, 11 missed; 10 branches, 6 taken.
    let xml = run("py", &config(&["coverage.xml"]));
    assert_eq!((xml.lines.covered, xml.lines.total), (14, 25));
    assert_eq!((xml.branches.covered, xml.branches.total), (6, 10));
    assert!(
        xml.unmapped.is_empty(),
        "absolute <source> mapped by suffix: {:?}",
        xml.unmapped
    );
    let lcov = run("py", &config(&["coverage.lcov"]));
    assert_eq!((lcov.lines.covered, lcov.lines.total), (14, 25));
    assert_eq!(lcov.branches.total, 10);
}

#[test]
fn gcc_lcov_with_absolute_paths_and_gcovr_cobertura_agree() {
    // gcovr: lines-covered="14" lines-valid="24" branches-covered="6" branches-valid="12".
    let lcov = run("c", &config(&["lcov.info"]));
    assert_eq!((lcov.lines.covered, lcov.lines.total), (14, 24));
    assert_eq!((lcov.branches.covered, lcov.branches.total), (6, 12));
    assert!(
        lcov.unmapped.is_empty(),
        "SF:/tmp/fx/c/src/… maps to src/…: {:?}",
        lcov.unmapped
    );
    let cob = run("c", &config(&["cobertura.xml"]));
    assert_eq!((cob.lines.covered, cob.lines.total), (14, 24));
    assert_eq!((cob.branches.covered, cob.branches.total), (6, 12));
}

#[test]
fn c8_lcov_and_cobertura_agree() {
    // c8: LF:20 LH:12 BRF:3 BRH:2.
    for report in ["lcov.info", "cobertura.xml"] {
        let out = run("js", &config(&[report]));
        assert_eq!((out.lines.covered, out.lines.total), (12, 20), "{report}");
        assert_eq!(
            (out.branches.covered, out.branches.total),
            (2, 3),
            "{report}"
        );
    }
}

#[test]
fn merged_reports_count_a_line_covered_when_any_report_hit_it() {
    // more.xml (run_more.py) runs parse_ratio: lines 19–23 become covered.
    let out = run("py", &config(&["coverage.xml", "more.xml"]));
    assert_eq!((out.lines.covered, out.lines.total), (19, 25));
    let globbed = run("py", &config(&["*.xml"]));
    assert_eq!(globbed.reports, vec!["coverage.xml", "more.xml"]);
    assert_eq!(globbed.lines.covered, 19);
    let regions: Vec<_> = of(&out, "uncovered-lines")
        .iter()
        .map(|f| f.lines)
        .collect();
    assert_eq!(
        regions,
        vec![
            Some((8, 8)),
            Some((14, 14)),
            Some((24, 25)),
            Some((30, 30)),
            Some((32, 32))
        ]
    );
}

#[test]
fn total_threshold_fails_below_and_passes_at_or_above() {
    let mut c = config(&["coverage.xml"]);
    c.min_lines = Some(60.0);
    let out = run("py", &c);
    let below = of(&out, "coverage-below-threshold");
    assert_eq!(below.len(), 1);
    assert_eq!(below[0].level, Level::Error);
    assert!(
        below[0].message.contains("56.00% (14 of 25 lines)"),
        "{}",
        below[0].message
    );
    assert!(
        below[0].message.contains("minimum of 60%"),
        "{}",
        below[0].message
    );

    c.min_lines = Some(56.0);
    c.min_branches = Some(60.0);
    assert!(
        of(&run("py", &c), "coverage-below-threshold").is_empty(),
        "14/25 = 56%, 6/10 = 60%"
    );
    c.min_branches = Some(61.0);
    let out = run("py", &c);
    let b = of(&out, "coverage-below-threshold");
    assert_eq!(b.len(), 1);
    assert!(
        b[0].message
            .contains("branch coverage is 60.00% (6 of 10 branches)"),
        "{}",
        b[0].message
    );
}

#[test]
fn per_file_thresholds_and_overrides() {
    let mut c = config(&["lcov.info"]);
    c.per_file = Some(Thresholds {
        min_lines: Some(80.0),
        min_branches: None,
    });
    let out = run("c", &c);
    let files = of(&out, "file-coverage-below-threshold");
    assert_eq!(files.len(), 1, "main.c is at 100%");
    assert_eq!(files[0].path.as_deref(), Some("src/mathx.c"));
    assert!(
        files[0].message.contains("52.38% (11 of 21 lines)"),
        "{}",
        files[0].message
    );

    c.overrides = vec![Override {
        paths: vec!["src/math*.c".into()],
        min_lines: Some(50.0),
        min_branches: None,
    }];
    assert!(of(&run("c", &c), "file-coverage-below-threshold").is_empty());
}

#[test]
fn excluded_files_leave_every_count() {
    let mut c = config(&["cobertura.xml"]);
    c.exclude = vec!["src/mathx.c".into()];
    c.min_lines = Some(100.0);
    let out = run("c", &c);
    assert_eq!((out.lines.covered, out.lines.total, out.files), (3, 3, 1));
    assert!(out.findings.is_empty(), "{:?}", out.findings);
    c.exclude = vec!["src".into()];
    let out = run("c", &c);
    assert_eq!(
        of(&out, "no-coverage-data").len(),
        1,
        "a directory excludes its files"
    );
    c.exclude = vec!["mathx.*".into()];
    assert_eq!(
        run("c", &c).files,
        1,
        "a pattern without `/` matches at any depth"
    );
}

#[test]
fn uncovered_regions_are_capped_largest_first() {
    let mut c = config(&["coverage.xml"]);
    c.max_uncovered_findings = Some(2);
    let out = run("py", &c);
    let regions = of(&out, "uncovered-lines");
    assert_eq!(regions.len(), 2);
    assert_eq!(out.uncovered_omitted, 3, "8, 14, 19–25, 30, 32 → two kept");
    assert_eq!(regions[0].lines, Some((8, 8)));
    assert_eq!(regions[1].lines, Some((19, 25)));
    assert_eq!(regions[1].level, Level::Note);
    assert_eq!(regions[1].path.as_deref(), Some("calc/ops.py"));
    assert!(
        regions[1].message.contains("7 instrumented lines in 19–25"),
        "{}",
        regions[1].message
    );
    c.max_uncovered_findings = Some(0);
    assert!(of(&run("py", &c), "uncovered-lines").is_empty());
}

#[test]
fn uncovered_fingerprints_survive_moved_code_and_change_with_it() {
    let ws = TempDir::new("fp");
    ws.copy_fixture("py");
    let c = config(&["coverage.lcov"]);
    let fps = |out: &Outcome| -> Vec<String> {
        of(out, "uncovered-lines")
            .iter()
            .map(|f| f.fingerprint.clone())
            .collect()
    };
    let before = evaluate(ws.path(), &c).expect("gate");
    // Three new lines at the top of the file, and the report shifted to match.
    let src = std::fs::read_to_string(ws.path().join("calc/ops.py")).expect("read");
    ws.write("calc/ops.py", &format!("import os\nimport sys\n\n{src}"));
    let lcov = std::fs::read_to_string(ws.path().join("coverage.lcov")).expect("read");
    let shifted: String = lcov
        .lines()
        .map(|l| {
            let shift = |rest: &str, key: &str| {
                let (n, tail) = rest.split_once(',').expect("n,rest");
                format!("{key}{},{tail}", n.parse::<u32>().expect("n") + 3)
            };
            if let Some(rest) = l.strip_prefix("DA:") {
                shift(rest, "DA:")
            } else if let Some(rest) = l.strip_prefix("BRDA:") {
                shift(rest, "BRDA:")
            } else {
                l.to_string()
            }
        })
        .collect::<Vec<_>>()
        .join("\n");
    ws.write("coverage.lcov", &shifted);
    let after = evaluate(ws.path(), &c).expect("gate");
    assert_ne!(
        of(&before, "uncovered-lines")[0].lines,
        of(&after, "uncovered-lines")[0].lines,
        "the regions did move"
    );
    assert_eq!(fps(&before), fps(&after));

    let edited = std::fs::read_to_string(ws.path().join("calc/ops.py"))
        .expect("read")
        .replace("return high", "return high  # clamp");
    ws.write("calc/ops.py", &edited);
    let changed = evaluate(ws.path(), &c).expect("gate");
    let (b, a) = (fps(&after), fps(&changed));
    assert_eq!(
        b.iter().filter(|f| !a.contains(f)).count(),
        1,
        "only the edited region changes"
    );
}

#[test]
fn missing_and_malformed_reports() {
    let out = run("py", &config(&["coverage.xml", "build/*.info"]));
    let missing = of(&out, "no-coverage-data");
    assert_eq!(missing.len(), 1);
    assert!(
        missing[0].message.contains("`build/*.info`"),
        "{}",
        missing[0].message
    );
    assert_eq!(out.lines.total, 25, "the other report still counts");

    let ws = TempDir::new("bad");
    let xml = std::fs::read_to_string(fixture("c/cobertura.xml")).expect("read");
    let cut = xml[..xml.len() / 2].rfind('\n').expect("newline");
    ws.write("cut.xml", &xml[..cut]);
    let err = evaluate(ws.path(), &config(&["cut.xml"])).expect_err("truncated XML");
    let msg = err.to_string();
    assert!(matches!(err, GateError::Parse(_)), "{msg}");
    assert!(msg.starts_with("cut.xml:"), "{msg}");
    assert!(
        msg.contains("unexpected end of file: element <") && msg.contains("is not closed"),
        "{msg}"
    );

    let lcov = std::fs::read_to_string(fixture("c/lcov.info")).expect("read");
    ws.write("bad.info", &lcov.replace("DA:13,1", "DA:13,one"));
    let msg = evaluate(ws.path(), &config(&["bad.info"]))
        .expect_err("bad count")
        .to_string();
    assert!(
        msg.starts_with("bad.info:18:7: expected a hit count, found `one`"),
        "{msg}"
    );
}

#[test]
fn min_branches_without_branch_data_warns() {
    let ws = TempDir::new("nobranch");
    ws.write("a.rs", "fn a() {}\n");
    ws.write("lcov.info", "SF:a.rs\nDA:1,1\nend_of_record\n");
    let mut c = config(&["lcov.info"]);
    c.min_branches = Some(50.0);
    let out = evaluate(ws.path(), &c).expect("gate");
    let w = of(&out, "no-coverage-data");
    assert_eq!(w.len(), 1);
    assert_eq!(w[0].level, Level::Warning);
}

#[test]
fn strip_prefix_maps_paths_the_suffix_search_cannot() {
    let ws = TempDir::new("strip");
    ws.write("src/a.rs", "fn a() {}\n");
    // Without the file in the workspace, the path is kept but marked unmapped.
    ws.write("lcov.info", "SF:/build/src/b.rs\nDA:1,0\nend_of_record\n");
    let mut c = config(&["lcov.info"]);
    c.strip_prefix = vec!["/build".into()];
    let out = evaluate(ws.path(), &c).expect("gate");
    assert_eq!(out.unmapped, vec!["src/b.rs"]);
    assert!(
        of(&out, "uncovered-lines").is_empty(),
        "no source to point at"
    );
    assert_eq!(out.lines.total, 1, "still counted");
}

#[test]
fn bad_config_is_refused_with_the_key() {
    let mut c = config(&["lcov.info"]);
    c.min_lines = Some(120.0);
    let e = evaluate(&fixture("c"), &c).expect_err("range");
    assert!(e.to_string().contains("`min-lines` = 120"), "{e}");
    let mut c = config(&["lcov.info"]);
    c.exclude = vec!["src/[".into()];
    let e = evaluate(&fixture("c"), &c).expect_err("glob");
    assert!(
        e.to_string().contains("`exclude`: invalid glob `src/[`"),
        "{e}"
    );
    let e = evaluate(&fixture("c"), &config(&["../x.info"])).expect_err("escape");
    assert!(e.to_string().contains("without `..`"), "{e}");
    let e = serde_json::from_str::<Config>(r#"{"reports":["a"],"min-line":80}"#).expect_err("typo");
    assert!(e.to_string().contains("min-line"), "{e}");
}

#[test]
fn every_rule_has_a_section_in_rules_md_and_a_help_uri() {
    let md = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("RULES.md"))
        .expect("RULES.md");
    let rules = crate::gate::rules();
    assert_eq!(rules.len(), 4);
    for r in rules {
        assert!(
            md.lines().any(|l| l == format!("## {}", r.id)),
            "RULES.md lacks `## {}`",
            r.id
        );
        assert!(
            r.help_uri
                .as_deref()
                .is_some_and(|u| u.ends_with(&format!("coverage-gate/RULES.md#{}", r.id)))
        );
    }
}
