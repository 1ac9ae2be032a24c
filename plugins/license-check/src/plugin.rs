//! The component glue: `license-check` as a gantry plugin (see the crate docs).

use gantry_sdk::prelude::*;

use crate::check::{Checker, Config, RULES};

const RULES_URL: &str = gantry_sdk::rules_url!();

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
                Rule::new(r.id, r.level, r.short)
                    .full(r.full)
                    .help(format!("{RULES_URL}#{}", r.id)),
            );
        }
        info
    }

    fn run(cx: &Context, config: Config) -> Result<Report, Error> {
        let mut checker = Checker::new(&config).map_err(Error::config)?;
        if config.cargo.as_ref().is_some_and(|c| c.metadata_command) {
            let platform = config.cargo.as_ref().and_then(|c| c.platform.as_deref());
            checker = checker
                .with_metadata_text(cargo_metadata(platform)?)
                .platform_filtered(platform.is_some());
        }
        let out = checker.run(cx.workspace()).map_err(Error::failed)?;
        let mut report = Report::new();
        let count = |rule: &str| out.findings.iter().filter(|f| f.rule_id == rule).count();
        let (denied, not_allowed) = (count("license-denied"), count("license-not-allowed"));
        let unknown = count("license-unknown") + count("license-expression-invalid");
        for f in &out.findings {
            let mut finding = Finding::new(f.rule_id, f.level, f.message.clone())
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

/// `cargo metadata --format-version 1 --locked --offline [--filter-platform P]`
/// through the process broker.
fn cargo_metadata(platform: Option<&str>) -> Result<String, Error> {
    let var = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
    let home = var("HOME");
    let under_home = |d: &str| home.as_ref().map(|h| format!("{h}/{d}"));
    let mut cmd = process::Command::new("cargo").args([
        "metadata",
        "--format-version",
        "1",
        "--locked",
        "--offline",
    ]);
    if let Some(p) = platform {
        cmd = cmd.args(["--filter-platform", p]);
    }
    if let Some(c) = var("CARGO_HOME").or_else(|| under_home(".cargo")) {
        cmd = cmd.env("CARGO_HOME", c);
    }
    if let Some(r) = var("RUSTUP_HOME").or_else(|| under_home(".rustup")) {
        cmd = cmd.env("RUSTUP_HOME", r);
    }
    let out = cmd.run()?;
    if out.dry_run {
        return Err(Error::failed(
            "`cargo metadata` did not run under --dry-run: mark its process grant `read-only = true`",
        ));
    }
    if out.truncated {
        return Err(Error::failed(
            "the output of `cargo metadata` was truncated: raise the process grant's `output`",
        ));
    }
    if !out.success() {
        return Err(Error::failed(format!(
            "`cargo metadata --locked --offline` failed ({}): {}",
            out.status
                .map_or("killed".to_string(), |s| format!("exit {s}")),
            out.stderr_text().trim()
        )));
    }
    Ok(out.stdout_text().into_owned())
}

gantry_sdk::export_plugin!(LicenseCheck);
