//! The component glue: `coverage-gate` as a gantry plugin (see the crate docs).

use gantry_sdk::prelude::*;

use crate::gate::{self, Config};
use crate::model::fmt_percent;

struct CoverageGate;

impl Plugin for CoverageGate {
    type Config = Config;

    fn info() -> Info {
        let mut info = Info::new(env!("CARGO_PKG_NAME"), env!("CARGO_PKG_VERSION"))
            .kind(Kind::Gate)
            .description(
                "Fails when line or branch coverage (LCOV, Cobertura) is below a threshold; \
                 points at uncovered code",
            );
        for r in gate::rules() {
            info = info.rule(r);
        }
        info
    }

    fn run(cx: &Context, config: Config) -> Result<Report, Error> {
        // Under `--dry-run` the stages that write the reports were planned, not run: what
        // is on disk is an earlier run's (or nothing). A gate must not pass on it.
        if cx.dry_run {
            return Ok(Report::new().output("evaluated", "false").summary(format!(
                "dry run: not evaluated; would gate on the coverage reports `{}` this run writes (what is on disk now may be an earlier run's)",
                config.reports.join(", ")
            )));
        }
        let out = gate::evaluate(cx.workspace(), &config).map_err(|e| match e {
            crate::GateError::Config(m) => Error::config(m),
            crate::GateError::Read { ref source, .. }
                if source.kind() == std::io::ErrorKind::PermissionDenied =>
            {
                Error::Denied(e.to_string())
            }
            e => Error::failed(e.to_string()),
        })?;
        for p in out.unmapped.iter().take(50) {
            log::debug(
                "not in the workspace (counted, no uncovered-lines)",
                &[("path", p)],
            );
        }
        let mut report = Report::new();
        for f in &out.findings {
            let mut finding = Finding::new(f.rule_id, f.level, &f.message)
                .fingerprint(&f.fingerprint)
                .help(gate::help_uri(f.rule_id));
            if let Some(p) = &f.path {
                finding = finding.in_file(p);
            }
            if let Some((start, end)) = f.lines {
                finding = finding.region(Region {
                    start_line: start,
                    start_column: None,
                    end_line: Some(end),
                    end_column: None,
                });
            }
            report.push(finding);
        }
        let lines = out.lines.percent().map(fmt_percent);
        let branches = out.branches.percent().map(fmt_percent);
        log::info(
            "coverage",
            &[
                ("reports", &out.reports.join(",")),
                ("files", &out.files.to_string()),
                ("lines", lines.as_deref().unwrap_or("n/a")),
                ("branches", branches.as_deref().unwrap_or("n/a")),
                ("unmapped", &out.unmapped.len().to_string()),
                ("uncovered-omitted", &out.uncovered_omitted.to_string()),
            ],
        );
        let mut summary = format!(
            "lines {}% ({} of {}) in {} files",
            lines.as_deref().unwrap_or("n/a"),
            out.lines.covered,
            out.lines.total,
            out.files
        );
        if let Some(b) = &branches {
            summary.push_str(&format!(", branches {b}%"));
        }
        if out.uncovered_omitted > 0 {
            summary.push_str(&format!(
                "; {} more uncovered regions not listed (max-uncovered-findings)",
                out.uncovered_omitted
            ));
        }
        Ok(report
            .summary(summary)
            .output("lines-percent", lines.unwrap_or_else(|| "n/a".into()))
            .output("lines-covered", out.lines.covered.to_string())
            .output("lines-total", out.lines.total.to_string())
            .output("branches-percent", branches.unwrap_or_else(|| "n/a".into()))
            .output("branches-covered", out.branches.covered.to_string())
            .output("branches-total", out.branches.total.to_string())
            .output("files", out.files.to_string()))
    }
}

gantry_sdk::export_plugin!(CoverageGate);
