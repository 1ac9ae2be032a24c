//! The component glue: `dockerfile-lint` as a gantry plugin (see the crate docs).

use gantry_sdk::prelude::*;

use crate::lint::{Config, Linter};
use crate::rules::{self, Severity};

const RULES_URL: &str = gantry_sdk::rules_url!();

/// hadolint's `info` and `style` are SARIF notes.
fn level(s: Severity) -> Level {
    match s {
        Severity::Error => Level::Error,
        Severity::Warning => Level::Warning,
        Severity::Info | Severity::Style => Level::Note,
    }
}

fn help(id: &str) -> String {
    format!("{RULES_URL}#{}", id.to_ascii_lowercase())
}

struct DockerfileLint;

impl Plugin for DockerfileLint {
    type Config = Config;

    fn info() -> Info {
        let mut info = Info::new(env!("CARGO_PKG_NAME"), env!("CARGO_PKG_VERSION"))
            .kind(Kind::Linter)
            .description("Lints Dockerfiles with hadolint's DL rules (ids, levels and semantics)");
        for r in rules::RULES {
            info = info.rule(
                Rule::new(r.id, level(r.severity), r.message)
                    .full(r.why)
                    .help(help(r.id)),
            );
        }
        info
    }

    fn run(cx: &Context, config: Config) -> Result<Report, Error> {
        let linter = Linter::new(&config).map_err(Error::config)?;
        let out = linter.lint_tree(cx.workspace()).map_err(Error::failed)?;
        for (path, why) in out.skipped.iter().take(200) {
            log::debug("skipped", &[("path", path), ("why", why)]);
        }
        let mut report = Report::new();
        let n = out.findings.len();
        for f in out.findings {
            let help = help(&f.rule_id);
            report.push(
                Finding::new(&f.rule_id, level(f.severity), f.message)
                    .in_file(&f.path)
                    .region(Region {
                        start_line: f.line,
                        start_column: Some(f.column),
                        end_line: Some(f.end_line),
                        end_column: Some(f.end_column),
                    })
                    .fingerprint(f.fingerprint)
                    .help(help),
            );
        }
        let files = out.files.len();
        log::info(
            "lint finished",
            &[
                ("files", &files.to_string()),
                ("findings", &n.to_string()),
                ("suppressed", &out.suppressed.to_string()),
            ],
        );
        let summary = format!(
            "{files} Dockerfile{} linted, {n} finding{}{}",
            if files == 1 { "" } else { "s" },
            if n == 1 { "" } else { "s" },
            if out.suppressed > 0 {
                format!(", {} suppressed", out.suppressed)
            } else {
                String::new()
            }
        );
        Ok(report
            .summary(summary)
            .output("findings", n.to_string())
            .output("files", files.to_string()))
    }
}

gantry_sdk::export_plugin!(DockerfileLint);
