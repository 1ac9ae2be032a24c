//! The component glue: `secret-scan` as a gantry plugin (see the crate docs).

use gantry_sdk::prelude::*;

use crate::scanner::{self, Config, Scanner};

const RULES_URL: &str = gantry_sdk::rules_url!();

struct SecretScan;

impl Plugin for SecretScan {
    type Config = Config;

    fn info() -> Info {
        let mut info = Info::new(env!("CARGO_PKG_NAME"), env!("CARGO_PKG_VERSION"))
            .kind(Kind::Scanner)
            .description(
                "Finds committed credentials: cloud keys, tokens, private keys, passwords",
            );
        for r in scanner::rules() {
            info = info.rule(
                Rule::new(r.id, r.level, r.short)
                    .full(r.full)
                    .help(format!("{RULES_URL}#{}", r.help)),
            );
        }
        info
    }

    fn run(cx: &Context, config: Config) -> Result<Report, Error> {
        let scanner = Scanner::new(&config).map_err(Error::config)?;
        let out = scanner.scan_tree(cx.workspace()).map_err(Error::failed)?;
        for (path, why) in out.skipped.iter().take(200) {
            log::debug("skipped", &[("path", path), ("why", why)]);
        }
        let mut report = Report::new();
        let n = out.findings.len();
        for f in out.findings {
            let help = scanner::rules()
                .iter()
                .find(|r| r.id == f.rule_id)
                .map(|r| format!("{RULES_URL}#{}", r.help));
            let mut finding = Finding::new(&f.rule_id, f.level, f.message)
                .in_file(&f.path)
                .region(Region::columns(f.line, f.column, f.end_column))
                .fingerprint(f.fingerprint);
            if let Some(h) = help {
                finding = finding.help(h);
            }
            report.push(finding);
        }
        log::info(
            "scan finished",
            &[
                ("files", &out.files_scanned.to_string()),
                ("bytes", &out.bytes_scanned.to_string()),
                ("findings", &n.to_string()),
                ("suppressed", &out.suppressed.to_string()),
            ],
        );
        let summary = format!(
            "{} files scanned, {} secret{} found{}",
            out.files_scanned,
            n,
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
            .output("files", out.files_scanned.to_string())
            .output("bytes", out.bytes_scanned.to_string()))
    }
}

gantry_sdk::export_plugin!(SecretScan);
