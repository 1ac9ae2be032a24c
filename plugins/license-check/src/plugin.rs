//! The component glue: `license-check` as a gantry plugin (see the crate docs).

use gantry_sdk::prelude::*;

use crate::check::{self, Checker, Config, RULES};

const RULES_URL: &str = concat!(
    env!("CARGO_PKG_REPOSITORY"),
    "/blob/main/plugins/license-check/RULES.md"
);

fn level(l: check::Level) -> Level {
    match l {
        check::Level::Note => Level::Note,
        check::Level::Warning => Level::Warning,
        check::Level::Error => Level::Error,
    }
}

struct LicenseCheck;

impl Plugin for LicenseCheck {
    type Config = Config;

    fn info() -> Info {
        let mut info = Info::new(env!("CARGO_PKG_NAME"), env!("CARGO_PKG_VERSION"))
            .kind(Kind::Scanner)
            .description(
                "Checks the licences of Cargo, Python and npm dependencies and of the repository's own files against an SPDX allow/deny policy",
            );
        for r in RULES {
            info = info.rule(
                Rule::new(r.id, level(r.level), r.short)
                    .full(r.full)
                    .help(format!("{RULES_URL}#{}", r.id)),
            );
        }
        info
    }

    fn run(cx: &Context, config: Config) -> Result<Report, Error> {
        let checker = Checker::new(&config).map_err(Error::config)?;
        let out = checker.run(cx.workspace()).map_err(Error::failed)?;
        let mut report = Report::new();
        let count = |rule: &str| out.findings.iter().filter(|f| f.rule_id == rule).count();
        let (denied, not_allowed) = (count("license-denied"), count("license-not-allowed"));
        let unknown = count("license-unknown") + count("license-expression-invalid");
        for f in &out.findings {
            let mut finding = Finding::new(f.rule_id, level(f.level), f.message.clone())
                .fingerprint(f.fingerprint.clone())
                .help(format!("{RULES_URL}#{}", f.rule_id));
            if !f.path.is_empty() {
                finding = match (f.line, f.column) {
                    (Some(l), Some(c)) => {
                        finding
                            .in_file(&f.path)
                            .region(Region::columns(l, c, c + 1))
                    }
                    (Some(l), None) => finding.at(&f.path, l),
                    _ => finding.in_file(&f.path),
                };
            }
            report.push(finding);
        }
        log::info(
            "licence check finished",
            &[
                ("packages", &out.packages.len().to_string()),
                ("files", &out.files_read.to_string()),
                ("findings", &out.findings.len().to_string()),
            ],
        );
        let summary = format!(
            "{} packages, {} files read: {denied} denied, {not_allowed} not allowed, {unknown} unknown",
            out.packages.len(),
            out.files_read,
        );
        let json = |m: &std::collections::BTreeMap<String, u64>| {
            serde_json::to_string(m).unwrap_or_else(|_| "{}".into())
        };
        Ok(report
            .summary(summary)
            .output("packages", out.packages.len().to_string())
            .output("denied", denied.to_string())
            .output("not-allowed", not_allowed.to_string())
            .output("unknown", unknown.to_string())
            .output("findings", out.findings.len().to_string())
            .output("licenses", json(&out.by_expression))
            .output("license-ids", json(&out.by_license)))
    }
}

gantry_sdk::export_plugin!(LicenseCheck);
