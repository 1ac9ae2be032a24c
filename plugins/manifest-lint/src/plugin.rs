//! The component glue: `manifest-lint` as a gantry plugin (see the crate docs).

use gantry_sdk::prelude::*;

use crate::lint::{Config, Linter};
use crate::rules::{self, Level as RuleLevel};

const RULES_URL: &str = concat!(
    env!("CARGO_PKG_REPOSITORY"),
    "/blob/main/plugins/manifest-lint/RULES.md"
);

fn level(l: RuleLevel) -> Level {
    match l {
        RuleLevel::Error => Level::Error,
        RuleLevel::Warning => Level::Warning,
        RuleLevel::Note => Level::Note,
    }
}

fn help(id: &str) -> String {
    format!("{RULES_URL}#{id}")
}

struct ManifestLint;

impl Plugin for ManifestLint {
    type Config = Config;

    fn info() -> Info {
        let mut info = Info::new(env!("CARGO_PKG_NAME"), env!("CARGO_PKG_VERSION"))
            .kind(Kind::Linter)
            .description(
                "Lints Kubernetes manifests (also Helm and kustomize output) and Compose files for security and reliability problems, with checkov's ids as aliases",
            );
        for r in rules::all() {
            let mut full = format!("{} {} Fix: {}", r.title, r.why, r.fix);
            if !r.checkov.is_empty() {
                full.push_str(&format!(" (checkov: {})", r.checkov.join(", ")));
            }
            info = info.rule(
                Rule::new(r.id, level(r.level), r.title)
                    .full(full)
                    .help(help(r.id)),
            );
        }
        info
    }

    fn run(cx: &Context, config: Config) -> Result<Report, Error> {
        let linter = Linter::new(&config).map_err(Error::config)?;
        let out = linter.lint_tree(cx.workspace()).map_err(Error::failed)?;
        for (path, why) in out.skipped.iter().take(200) {
            log::info("skipped", &[("path", path), ("why", why)]);
        }
        let mut report = Report::new();
        let n = out.findings.len();
        for f in out.findings {
            let help = help(&f.rule_id);
            report.push(
                Finding::new(&f.rule_id, level(f.level), f.message)
                    .in_file(&f.path)
                    .region(Region {
                        start_line: f.line,
                        start_column: Some(f.column),
                        end_line: None,
                        end_column: None,
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
                ("objects", &out.objects.to_string()),
                ("findings", &n.to_string()),
                ("suppressed", &out.suppressed.to_string()),
            ],
        );
        let summary = format!(
            "{files} manifest file{}, {} object{} linted, {n} finding{}{}",
            if files == 1 { "" } else { "s" },
            out.objects,
            if out.objects == 1 { "" } else { "s" },
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
            .output("files", files.to_string())
            .output("objects", out.objects.to_string()))
    }
}

gantry_sdk::export_plugin!(ManifestLint);
