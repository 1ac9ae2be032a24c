//! The component glue: `dep-audit` as a gantry plugin (see the crate docs).

use gantry_sdk::prelude::*;

use crate::audit::{self, AuditError, Config};

const RULES_URL: &str = gantry_sdk::rules_url!();

struct DepAudit;

impl Plugin for DepAudit {
    type Config = Config;

    fn info() -> Info {
        let mut info = Info::new(env!("CARGO_PKG_NAME"), env!("CARGO_PKG_VERSION"))
            .kind(Kind::Scanner)
            .description(
                "Audits lockfiles (Cargo, pip/poetry/uv/pipenv, npm) against offline OSV and RustSec advisory databases",
            );
        for r in audit::rule_kinds() {
            info = info.rule(
                Rule::new(r.id, r.level, r.short)
                    .full(r.full)
                    .help(format!("{RULES_URL}#{}", r.id)),
            );
        }
        info
    }

    fn run(cx: &Context, config: Config) -> Result<Report, Error> {
        let out = audit::run(cx.workspace(), &config).map_err(|e| match e {
            AuditError::Config(m) => Error::config(m),
            other => Error::failed(other.to_string()),
        })?;
        // Each is also a finding ("may be affected") unless the version was shown
        // affected another way; the log keeps the advisory's file for the reviewer.
        for p in out.problems.iter().take(50) {
            log::warn("advisory range not evaluated", &[("problem", p)]);
        }
        for m in &out.ambiguous_ignores {
            log::warn(m, &[]);
        }
        if !out.not_in_index.is_empty() {
            let first: Vec<&str> = out
                .not_in_index
                .iter()
                .take(20)
                .map(String::as_str)
                .collect();
            log::warn(
                "crates not in the index snapshot were not checked for yanked versions; refresh the snapshot",
                &[
                    ("count", &out.not_in_index.len().to_string()),
                    ("first", &first.join(", ")),
                ],
            );
        }
        for id in &out.unused_ignores {
            log::warn(
                "ignore entry matched no finding; remove it if the advisory no longer applies",
                &[("id", id)],
            );
        }
        let mut report = Report::new();
        let mut vulns = 0usize;
        let mut yanked = 0usize;
        for f in &out.findings {
            if f.kind == "vulnerability" {
                vulns += 1;
            }
            if f.kind == "yanked" {
                yanked += 1;
            }
            let help = f
                .help_uri
                .clone()
                .unwrap_or_else(|| format!("{RULES_URL}#{}", f.kind));
            let mut finding = Finding::new(&f.rule_id, f.level, &f.message)
                .in_file(&f.path)
                .fingerprint(&f.fingerprint)
                .help(help);
            if let Some(line) = f.line {
                finding = finding.region(Region::line(line));
            }
            report.push(finding);
        }
        log::info(
            "audit finished",
            &[
                ("lockfiles", &out.lockfiles.len().to_string()),
                ("packages", &out.packages.to_string()),
                ("advisories", &out.advisories.to_string()),
                ("withdrawn", &out.withdrawn.to_string()),
                ("findings", &out.findings.len().to_string()),
                ("ignored", &out.ignored.to_string()),
            ],
        );
        let summary = format!(
            "{} lockfile{}, {} packages, {} advisories: {} vulnerable, {} other finding{}{}",
            out.lockfiles.len(),
            if out.lockfiles.len() == 1 { "" } else { "s" },
            out.packages,
            out.advisories,
            vulns,
            out.findings.len() - vulns,
            if out.findings.len() - vulns == 1 {
                ""
            } else {
                "s"
            },
            if out.ignored > 0 {
                format!(", {} ignored", out.ignored)
            } else {
                String::new()
            }
        );
        Ok(report
            .summary(summary)
            .output("findings", out.findings.len().to_string())
            .output("vulnerabilities", vulns.to_string())
            .output("yanked", yanked.to_string())
            .output("packages", out.packages.to_string())
            .output("lockfiles", out.lockfiles.len().to_string()))
    }
}

gantry_sdk::export_plugin!(DepAudit);
