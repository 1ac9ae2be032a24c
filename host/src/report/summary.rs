//! Machine-readable run summary (`summary.json`).
//!
//! ```json
//! {
//!   "format": "gantry-summary/v1",
//!   "pipeline": "ci", "run_id": "…", "status": "failed", "exit_code": 1,
//!   "stage_counts": { "succeeded": 2, "failed": 1, … },
//!   "finding_counts": { "error": 3, "warning": 1, "note": 0, "baselined": 1 },
//!   "stages": [ {
//!     "stage": "lint", "plugin_ref": "builtin:lint", "plugin_digest": "sha256:…",
//!     "plugin": { "name": "lint", "version": "1.0.0" } | null,
//!     "status": "failed", "reason": "…" | null, "outcome": "failure" | null,
//!     "summary": "…" | null, "started_at": "…" | null, "duration_ms": 12, "attempts": 1,
//!     "outputs": { "name": "value" },
//!     "artifacts": [ { "path": "dist/app.tar.gz", "digest": "sha256:…" | null,
//!                      "size": 123 | null, "error": "…" | null } ],
//!     "findings": { "error": 3, "warning": 1, "note": 0, "baselined": 1 }
//!   } ]
//! }
//! ```
//!
//! Status strings are the kebab-case `StageStatus` names (`failed-allowed`, …). The overall
//! `status` is, by precedence: `running` if any stage is not final, `failed` if any stage
//! failed, `cancelled` if any stage was cancelled, `failed` if `exit_code != 0`, else
//! `succeeded` (allowed failures do not fail the run; see `stage_counts`).
//! `outputs` is an object; should a report repeat an output name, the last value wins.
//! `artifacts` are the host-checked `StageRecord::artifacts`, not the plugin's claimed paths.
//! `baselined` counts the findings (of any level, already counted under their level)
//! that matched the stage's `baseline` and so did not count against `fail-on`.

use serde_json::{Map, Value, json};

use super::model::{Level, StageRecord, StageStatus};

pub const SUMMARY_FORMAT: &str = "gantry-summary/v1";

const ALL_STATUSES: [StageStatus; 7] = [
    StageStatus::Pending,
    StageStatus::Running,
    StageStatus::Succeeded,
    StageStatus::Failed,
    StageStatus::FailedAllowed,
    StageStatus::Skipped,
    StageStatus::Cancelled,
];

pub fn summary_json(
    pipeline: &str,
    run_id: &str,
    records: &[StageRecord],
    exit_code: i32,
) -> Value {
    let mut totals = FindingCounts::default();
    let stages: Vec<Value> = records
        .iter()
        .map(|record| {
            let counts = FindingCounts::of(record);
            totals.add(&counts);
            stage_json(record, &counts)
        })
        .collect();

    let mut stage_counts = Map::new();
    for status in ALL_STATUSES {
        let n = records.iter().filter(|r| r.status == status).count();
        stage_counts.insert(status_str(status), json!(n));
    }

    json!({
        "format": SUMMARY_FORMAT,
        "pipeline": pipeline,
        "run_id": run_id,
        "status": overall_status(records, exit_code),
        "exit_code": exit_code,
        "stage_counts": stage_counts,
        "finding_counts": totals.json(),
        "stages": stages,
    })
}

/// Overall run status; see the module docs for the precedence.
pub fn overall_status(records: &[StageRecord], exit_code: i32) -> &'static str {
    let any = |s: StageStatus| records.iter().any(|r| r.status == s);
    if records.iter().any(|r| !r.status.is_final()) {
        "running"
    } else if any(StageStatus::Failed) {
        "failed"
    } else if any(StageStatus::Cancelled) {
        "cancelled"
    } else if exit_code != 0 {
        "failed"
    } else {
        "succeeded"
    }
}

fn status_str(status: StageStatus) -> String {
    match serde_json::to_value(status) {
        Ok(Value::String(s)) => s,
        _ => format!("{status:?}"),
    }
}

fn stage_json(record: &StageRecord, counts: &FindingCounts) -> Value {
    let report = record.report.as_ref();
    let outputs: Map<String, Value> = report
        .map(|r| {
            r.outputs
                .iter()
                .map(|(k, v)| (k.clone(), Value::String(v.clone())))
                .collect()
        })
        .unwrap_or_default();
    json!({
        "stage": record.stage,
        "plugin_ref": record.plugin_ref,
        "plugin_digest": record.plugin_digest,
        "plugin": record.plugin.as_ref().map(|p| json!({ "name": p.name, "version": p.version })),
        "status": status_str(record.status),
        "reason": record.reason,
        "outcome": report.map(|r| r.outcome),
        "summary": report.map(|r| r.summary.as_str()),
        "started_at": record.started_at,
        "duration_ms": record.duration_ms,
        "attempts": record.attempts,
        "outputs": outputs,
        "artifacts": serde_json::to_value(&record.artifacts).unwrap_or_else(|_| json!([])),
        "findings": counts.json(),
    })
}

#[derive(Default)]
struct FindingCounts {
    error: u64,
    warning: u64,
    note: u64,
    baselined: u64,
}

impl FindingCounts {
    fn of(record: &StageRecord) -> Self {
        let mut c = FindingCounts::default();
        for f in record.report.iter().flat_map(|r| &r.findings) {
            match f.level {
                Level::Error => c.error += 1,
                Level::Warning => c.warning += 1,
                Level::Note => c.note += 1,
            }
            c.baselined += u64::from(f.baselined);
        }
        c
    }

    fn add(&mut self, other: &FindingCounts) {
        self.error += other.error;
        self.warning += other.warning;
        self.note += other.note;
        self.baselined += other.baselined;
    }

    fn json(&self) -> Value {
        json!({
            "error": self.error,
            "warning": self.warning,
            "note": self.note,
            "baselined": self.baselined,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::model::{Artifact, Finding, Outcome, PluginInfo, StageReport};

    fn record(stage: &str, status: StageStatus) -> StageRecord {
        StageRecord {
            stage: stage.into(),
            plugin_ref: format!("builtin:{stage}"),
            plugin_digest: "sha256:ff".into(),
            plugin: None,
            status,
            reason: None,
            report: None,
            started_at: None,
            duration_ms: 10,
            attempts: 1,
            artifacts: vec![],
        }
    }

    fn finding(level: Level) -> Finding {
        Finding {
            rule_id: "R".into(),
            level,
            message: "m".into(),
            location: None,
            fingerprint: None,
            help_uri: None,
            fix: None,
            baselined: false,
        }
    }

    #[test]
    fn full_summary() {
        let mut lint = record("lint", StageStatus::FailedAllowed);
        lint.reason = Some("1 error".into());
        lint.attempts = 2;
        lint.started_at = Some("2025-01-01T00:00:00Z".into());
        lint.artifacts = vec![
            Artifact {
                path: "dist/app.tar.gz".into(),
                digest: Some("sha256:12".into()),
                size: Some(42),
                error: None,
            },
            Artifact {
                path: "dist/missing".into(),
                digest: None,
                size: None,
                error: Some("missing".into()),
            },
        ];
        lint.plugin = Some(PluginInfo {
            name: "lint".into(),
            version: "1.0.0".into(),
            kind: "linter".into(),
            description: String::new(),
            rules: vec![],
            config_schema: json!({}),
        });
        lint.report = Some(StageReport {
            outcome: Outcome::Failure,
            summary: "1 error, 2 warnings".into(),
            findings: vec![
                finding(Level::Error),
                finding(Level::Warning),
                finding(Level::Warning),
            ],
            outputs: vec![
                ("version".into(), "1.2.3".into()),
                ("sha".into(), "abc".into()),
            ],
            artifacts: vec!["dist/app.tar.gz".into(), "dist/missing".into()],
            baseline_compared: false,
        });
        let mut scan = record("scan", StageStatus::Succeeded);
        scan.report = Some(StageReport {
            outcome: Outcome::Success,
            summary: "clean".into(),
            findings: vec![Finding {
                baselined: true,
                ..finding(Level::Note)
            }],
            outputs: vec![],
            artifacts: vec![],
            baseline_compared: false,
        });
        let mut docs = record("docs", StageStatus::Skipped);
        docs.reason = Some("when was false".into());

        let v = summary_json("ci", "run-42", &[lint, scan, docs], 0);
        assert_eq!(v["format"], "gantry-summary/v1");
        assert_eq!(v["pipeline"], "ci");
        assert_eq!(v["run_id"], "run-42");
        assert_eq!(v["status"], "succeeded");
        assert_eq!(v["exit_code"], 0);
        assert_eq!(
            v["finding_counts"],
            json!({"error": 1, "warning": 2, "note": 1, "baselined": 1})
        );
        assert_eq!(v["stage_counts"]["failed-allowed"], 1);
        assert_eq!(v["stage_counts"]["succeeded"], 1);
        assert_eq!(v["stage_counts"]["skipped"], 1);
        assert_eq!(v["stage_counts"]["failed"], 0);
        assert_eq!(
            v["stages"][0],
            json!({
                "stage": "lint",
                "plugin_ref": "builtin:lint",
                "plugin_digest": "sha256:ff",
                "plugin": {"name": "lint", "version": "1.0.0"},
                "status": "failed-allowed",
                "reason": "1 error",
                "outcome": "failure",
                "summary": "1 error, 2 warnings",
                "started_at": "2025-01-01T00:00:00Z",
                "duration_ms": 10,
                "attempts": 2,
                "outputs": {"version": "1.2.3", "sha": "abc"},
                "artifacts": [
                    {"path": "dist/app.tar.gz", "digest": "sha256:12", "size": 42, "error": null},
                    {"path": "dist/missing", "digest": null, "size": null, "error": "missing"},
                ],
                "findings": {"error": 1, "warning": 2, "note": 0, "baselined": 0},
            })
        );
        assert_eq!(
            v["stages"][2],
            json!({
                "stage": "docs",
                "plugin_ref": "builtin:docs",
                "plugin_digest": "sha256:ff",
                "plugin": null,
                "status": "skipped",
                "reason": "when was false",
                "outcome": null,
                "summary": null,
                "started_at": null,
                "duration_ms": 10,
                "attempts": 1,
                "outputs": {},
                "artifacts": [],
                "findings": {"error": 0, "warning": 0, "note": 0, "baselined": 0},
            })
        );
    }

    #[test]
    fn overall_status_precedence() {
        let r = |s| record("x", s);
        use StageStatus::*;
        assert_eq!(overall_status(&[], 0), "succeeded");
        assert_eq!(
            overall_status(&[r(Succeeded), r(FailedAllowed), r(Skipped)], 0),
            "succeeded"
        );
        assert_eq!(overall_status(&[r(Succeeded)], 2), "failed");
        assert_eq!(overall_status(&[r(Failed), r(Cancelled)], 1), "failed");
        assert_eq!(
            overall_status(&[r(Succeeded), r(Cancelled)], 130),
            "cancelled"
        );
        assert_eq!(overall_status(&[r(Failed), r(Running)], 1), "running");
        assert_eq!(overall_status(&[r(Pending)], 0), "running");
    }
}
