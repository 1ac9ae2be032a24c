//! The component glue: `bench-gate` as a gantry plugin (see the crate docs).

use gantry_sdk::prelude::*;

use crate::BenchError;
use crate::compare::{self, Config};

struct BenchGate;

impl Plugin for BenchGate {
    type Config = Config;

    fn info() -> Info {
        let mut info = Info::new(env!("CARGO_PKG_NAME"), env!("CARGO_PKG_VERSION"))
            .kind(Kind::Gate)
            .description(
                "Compares benchmark results (criterion, cargo bench, JSON) with a baseline; \
                 fails on regressions beyond the noise",
            );
        for r in compare::rules() {
            info = info.rule(r);
        }
        info
    }

    fn run(cx: &Context, config: Config) -> Result<Report, Error> {
        // Under `--dry-run` the stages that write the reports were planned, not run: what
        // is on disk is an earlier run's (or nothing). A gate must not pass on it.
        if cx.dry_run {
            return Ok(Report::new().output("evaluated", "false").summary(format!(
                "dry run: not evaluated; would gate on the benchmark results `{}` this run writes (what is on disk now may be an earlier run's)",
                config.current.clone()
            )));
        }
        let out = compare::evaluate(cx.workspace(), &config).map_err(|e| match e {
            BenchError::Config(m) => Error::config(m),
            BenchError::Read { ref source, .. }
                if source.kind() == std::io::ErrorKind::PermissionDenied =>
            {
                Error::Denied(e.to_string())
            }
            e => Error::failed(e.to_string()),
        })?;
        for (name, change) in &out.within_noise {
            log::info(
                "change over the threshold but within the confidence intervals",
                &[
                    ("benchmark", name),
                    ("change-percent", &format!("{change:.1}")),
                ],
            );
        }
        let mut report = Report::new();
        for f in &out.findings {
            let mut finding = Finding::new(f.rule_id, f.level, &f.message)
                .fingerprint(&f.fingerprint)
                .help(compare::help_uri(f.rule_id));
            match (&f.path, f.line) {
                (Some(p), Some(l)) => finding = finding.at(p, l),
                (Some(p), None) => finding = finding.in_file(p),
                _ => {}
            }
            report.push(finding);
        }
        let mut summary = format!(
            "{} compared: {} regression{}, {} improvement{}, {} missing, {} new",
            out.compared,
            out.regressions,
            if out.regressions == 1 { "" } else { "s" },
            out.improvements,
            if out.improvements == 1 { "" } else { "s" },
            out.missing,
            out.new
        );
        if let Some((name, change)) = &out.worst {
            summary.push_str(&format!("; worst `{name}` +{change:.1}%"));
        }
        if !out.within_noise.is_empty() {
            summary.push_str(&format!("; {} within noise", out.within_noise.len()));
        }
        Ok(report
            .summary(summary)
            .output("compared", out.compared.to_string())
            .output("regressions", out.regressions.to_string())
            .output("improvements", out.improvements.to_string())
            .output("missing", out.missing.to_string())
            .output("new", out.new.to_string())
            .output("within-noise", out.within_noise.len().to_string())
            .output(
                "worst-regression",
                out.worst.as_ref().map(|w| w.0.clone()).unwrap_or_default(),
            )
            .output(
                "worst-regression-percent",
                out.worst
                    .as_ref()
                    .map(|w| format!("{:.2}", w.1))
                    .unwrap_or_default(),
            ))
    }
}

gantry_sdk::export_plugin!(BenchGate);
