//! JUnit XML writer: one `<testsuite>` for the pipeline, one `<testcase>` per stage.
//!
//! * `Succeeded` → a passing test case.
//! * `Failed` → `<failure message="reason or summary" type="failed">` whose body lists the
//!   error-level findings, one per line, as `path:line: rule: message`.
//! * `FailedAllowed` → a passing test case with a `<system-out>` note (reason, summary and
//!   error-level findings), since the pipeline went on.
//! * `Skipped` / `Cancelled` (and `Pending` / `Running`, for a run that did not finish) →
//!   `<skipped message="…"/>`.
//!
//! The document is wrapped in `<testsuites>` (accepted by Jenkins, GitLab, Azure DevOps,
//! GitHub test-reporter actions). Text is escaped by hand; characters XML 1.0 cannot represent
//! (C0 controls other than tab/LF/CR, U+FFFE, U+FFFF) are replaced with U+FFFD.

use std::fmt::Write as _;

use super::model::{Finding, Level, StageRecord, StageStatus};

pub fn junit_xml(pipeline: &str, records: &[StageRecord]) -> String {
    let tests = records.len();
    let failures = records
        .iter()
        .filter(|r| r.status == StageStatus::Failed)
        .count();
    let skipped = records.iter().filter(|r| is_skipped(r.status)).count();
    let total_ms: u64 = records.iter().map(|r| r.duration_ms).sum();
    let name = attr(pipeline);
    let counts = format!(
        r#"tests="{tests}" failures="{failures}" errors="0" skipped="{skipped}" time="{}""#,
        seconds(total_ms)
    );

    let mut out = String::new();
    out.push_str("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let _ = writeln!(out, r#"<testsuites name="{name}" {counts}>"#);
    let _ = writeln!(out, r#"  <testsuite name="{name}" {counts}>"#);
    for record in records {
        testcase(&mut out, &name, record);
    }
    out.push_str("  </testsuite>\n</testsuites>\n");
    out
}

fn is_skipped(status: StageStatus) -> bool {
    matches!(
        status,
        StageStatus::Skipped | StageStatus::Cancelled | StageStatus::Pending | StageStatus::Running
    )
}

fn testcase(out: &mut String, classname: &str, record: &StageRecord) {
    let _ = write!(
        out,
        r#"    <testcase classname="{classname}" name="{}" time="{}""#,
        attr(&record.stage),
        seconds(record.duration_ms)
    );
    let summary = record
        .report
        .as_ref()
        .map(|r| r.summary.trim())
        .filter(|s| !s.is_empty());
    let reason = record
        .reason
        .as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty());
    match record.status {
        StageStatus::Succeeded => out.push_str("/>\n"),
        StageStatus::Failed => {
            let message = reason.or(summary).unwrap_or("stage failed");
            let mut body = error_lines(record);
            if body.is_empty()
                && let Some(summary) = summary.filter(|s| *s != message)
            {
                body = summary.to_owned();
            }
            let _ = write!(
                out,
                ">\n      <failure message=\"{}\" type=\"failed\">",
                attr(message)
            );
            out.push_str(&text(&body));
            out.push_str("</failure>\n    </testcase>\n");
        }
        StageStatus::FailedAllowed => {
            let mut note =
                String::from("Stage failed, but allow-failure = true: the pipeline went on.");
            for line in [reason, summary].into_iter().flatten() {
                note.push('\n');
                note.push_str(line);
            }
            let errors = error_lines(record);
            if !errors.is_empty() {
                note.push('\n');
                note.push_str(&errors);
            }
            let _ = write!(
                out,
                ">\n      <system-out>{}</system-out>\n    </testcase>\n",
                text(&note)
            );
        }
        StageStatus::Skipped
        | StageStatus::Cancelled
        | StageStatus::Pending
        | StageStatus::Running => {
            let what = match record.status {
                StageStatus::Skipped => "skipped",
                StageStatus::Cancelled => "cancelled",
                StageStatus::Pending => "not started",
                _ => "not finished",
            };
            let message = match reason {
                Some(reason) => format!("{what}: {reason}"),
                None => what.to_owned(),
            };
            let _ = write!(
                out,
                ">\n      <skipped message=\"{}\"/>\n    </testcase>\n",
                attr(&message)
            );
        }
    }
}

/// Error-level findings, one per line: `path:line: rule: message`.
fn error_lines(record: &StageRecord) -> String {
    let Some(report) = &record.report else {
        return String::new();
    };
    report
        .findings
        .iter()
        .filter(|f| f.level == Level::Error)
        .map(finding_line)
        .collect::<Vec<_>>()
        .join("\n")
}

fn finding_line(f: &Finding) -> String {
    let place = match &f.location {
        Some(loc) => match &loc.region {
            Some(region) => format!("{}:{}: ", loc.path, region.start_line),
            None => format!("{}: ", loc.path),
        },
        None => String::new(),
    };
    format!("{place}{}: {}", f.rule_id, f.message)
}

fn seconds(ms: u64) -> String {
    format!("{}.{:03}", ms / 1000, ms % 1000)
}

/// Escape for element content.
fn text(s: &str) -> String {
    escape(s, false)
}

/// Escape for a double-quoted attribute value (whitespace kept as character references so
/// attribute-value normalization does not turn newlines into spaces).
fn attr(s: &str) -> String {
    escape(s, true)
}

fn escape(s: &str, attribute: bool) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' if attribute => out.push_str("&quot;"),
            '\'' if attribute => out.push_str("&apos;"),
            '\n' if attribute => out.push_str("&#10;"),
            '\t' if attribute => out.push_str("&#9;"),
            '\r' => out.push_str("&#13;"),
            '\t' | '\n' => out.push(c),
            c if is_xml_char(c) => out.push(c),
            _ => out.push('\u{FFFD}'),
        }
    }
    out
}

/// XML 1.0 `Char` production (surrogates cannot occur in a `char`).
fn is_xml_char(c: char) -> bool {
    matches!(c, '\u{9}' | '\u{A}' | '\u{D}' | '\u{20}'..='\u{FFFD}' | '\u{10000}'..)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::model::{Location, Outcome, Region, StageReport};

    fn record(stage: &str, status: StageStatus) -> StageRecord {
        StageRecord {
            stage: stage.into(),
            plugin_ref: "builtin:lint".into(),
            plugin_digest: "sha256:00".into(),
            plugin: None,
            status,
            reason: None,
            report: None,
            started_at: None,
            duration_ms: 1234,
            attempts: 1,
            artifacts: vec![],
        }
    }

    fn finding(level: Level, path: Option<&str>, line: Option<u32>) -> Finding {
        Finding {
            rule_id: "R1".into(),
            level,
            message: "bad <thing> & \"stuff\"".into(),
            location: path.map(|p| Location {
                path: p.into(),
                region: line.map(|l| Region {
                    start_line: l,
                    start_column: None,
                    end_line: None,
                    end_column: None,
                }),
            }),
            fingerprint: None,
            help_uri: None,
            fix: None,
            baselined: false,
        }
    }

    fn report(summary: &str, findings: Vec<Finding>) -> Option<StageReport> {
        Some(StageReport {
            outcome: Outcome::Failure,
            summary: summary.into(),
            findings,
            outputs: vec![],
            artifacts: vec![],
            baseline_compared: false,
        })
    }

    #[test]
    fn escaping() {
        assert_eq!(text("a<b>&c\"'"), "a&lt;b&gt;&amp;c\"'");
        assert_eq!(attr("a\"b'c\n\td\r"), "a&quot;b&apos;c&#10;&#9;d&#13;");
        assert_eq!(
            text("x\u{0}y\u{1b}[31m\u{b}\u{c}\u{7f}\u{fffe}\u{ffff}\u{1F600}\n\t"),
            "x\u{FFFD}y\u{FFFD}[31m\u{FFFD}\u{FFFD}\u{7f}\u{FFFD}\u{FFFD}\u{1F600}\n\t"
        );
        assert_eq!(text("]]>"), "]]&gt;");
    }

    #[test]
    fn statuses() {
        let ok = record("build", StageStatus::Succeeded);

        let mut failed = record("lint", StageStatus::Failed);
        failed.reason = Some("2 errors".into());
        failed.report = report(
            "lint found problems",
            vec![
                finding(Level::Error, Some("src/a.rs"), Some(7)),
                finding(Level::Warning, Some("src/b.rs"), Some(1)),
                finding(Level::Error, Some("README.md"), None),
                finding(Level::Error, None, None),
            ],
        );

        let mut failed_summary_only = record("test", StageStatus::Failed);
        failed_summary_only.report = report("tests failed", vec![]);
        let failed_bare = record("deploy", StageStatus::Failed);

        let mut allowed = record("audit", StageStatus::FailedAllowed);
        allowed.reason = Some("1 error".into());
        allowed.report = report(
            "audit summary",
            vec![finding(Level::Error, Some("Cargo.lock"), Some(3))],
        );

        let mut skipped = record("docs", StageStatus::Skipped);
        skipped.reason = Some("when: branch == \"main\"".into());
        let cancelled = record("publish", StageStatus::Cancelled);

        let xml = junit_xml(
            "ci & <release>",
            &[
                ok,
                failed,
                failed_summary_only,
                failed_bare,
                allowed,
                skipped,
                cancelled,
            ],
        );
        let expected = r#"<?xml version="1.0" encoding="UTF-8"?>
<testsuites name="ci &amp; &lt;release&gt;" tests="7" failures="3" errors="0" skipped="2" time="8.638">
  <testsuite name="ci &amp; &lt;release&gt;" tests="7" failures="3" errors="0" skipped="2" time="8.638">
    <testcase classname="ci &amp; &lt;release&gt;" name="build" time="1.234"/>
    <testcase classname="ci &amp; &lt;release&gt;" name="lint" time="1.234">
      <failure message="2 errors" type="failed">src/a.rs:7: R1: bad &lt;thing&gt; &amp; "stuff"
README.md: R1: bad &lt;thing&gt; &amp; "stuff"
R1: bad &lt;thing&gt; &amp; "stuff"</failure>
    </testcase>
    <testcase classname="ci &amp; &lt;release&gt;" name="test" time="1.234">
      <failure message="tests failed" type="failed"></failure>
    </testcase>
    <testcase classname="ci &amp; &lt;release&gt;" name="deploy" time="1.234">
      <failure message="stage failed" type="failed"></failure>
    </testcase>
    <testcase classname="ci &amp; &lt;release&gt;" name="audit" time="1.234">
      <system-out>Stage failed, but allow-failure = true: the pipeline went on.
1 error
audit summary
Cargo.lock:3: R1: bad &lt;thing&gt; &amp; "stuff"</system-out>
    </testcase>
    <testcase classname="ci &amp; &lt;release&gt;" name="docs" time="1.234">
      <skipped message="skipped: when: branch == &quot;main&quot;"/>
    </testcase>
    <testcase classname="ci &amp; &lt;release&gt;" name="publish" time="1.234">
      <skipped message="cancelled"/>
    </testcase>
  </testsuite>
</testsuites>
"#;
        assert_eq!(xml, expected);
    }

    #[test]
    fn failure_body_falls_back_to_summary() {
        let mut r = record("x", StageStatus::Failed);
        r.reason = Some("exit".into());
        r.report = report("warnings only", vec![finding(Level::Warning, None, None)]);
        let xml = junit_xml("p", &[r]);
        assert!(
            xml.contains(r#"<failure message="exit" type="failed">warnings only</failure>"#),
            "{xml}"
        );
    }

    #[test]
    fn empty_pipeline_and_times() {
        let xml = junit_xml("p", &[]);
        assert!(xml.contains(
            r#"<testsuite name="p" tests="0" failures="0" errors="0" skipped="0" time="0.000">"#
        ));
        assert_eq!(seconds(5), "0.005");
        assert_eq!(seconds(61_020), "61.020");
    }
}
