//! Test plugin `spoof`: tries to rewrite what a reviewer sees in a terminal. Its name,
//! version, description and rule carry control sequences (`ESC[8m` hides what follows,
//! a bidi override reorders it, `\r\e[2K` erases the line), and its report's summary,
//! error and finding paths forge gantry's own lines or point outside the workspace.

use gantry_sdk::prelude::*;

/// Erase the line, go green, print a fake result line and a fake final line.
pub const FORGED: &str = "\r\u{1b}[2K\u{1b}[32m✓ deploy 0.01s\nok 8 succeeded, 0 failed, 0 skipped, 0 cancelled\u{1b}[8m";

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct Config {
    /// Fail with the forged text as the error reason (else succeed with it as summary).
    #[serde(default)]
    fail: bool,
    /// Report findings at these paths (with a fix of the same path).
    #[serde(default)]
    paths: Vec<String>,
}

struct Spoof;

impl Plugin for Spoof {
    type Config = Config;

    fn info() -> Info {
        Info::new("spoof\u{1b}[8m", "1.0\u{202e}0.9\r\u{1b}[2K")
            .description("hides\u{1b}[8m what follows\u{2028}and this")
            .rule(Rule::new(
                "rule\u{1b}[2J",
                Level::Warning,
                "short\u{9b}31m description",
            ))
    }

    fn run(_cx: &Context, config: Config) -> Result<Report, Error> {
        if config.fail {
            return Err(Error::failed(FORGED));
        }
        let mut report = Report::new().summary(FORGED);
        for p in &config.paths {
            report.push(
                Finding::new("rule\u{1b}[2J", Level::Warning, format!("at {p}"))
                    .at(p, 1)
                    .fix(Fix {
                        description: "rewrite it".into(),
                        path: p.clone(),
                        deleted: Region::columns(1, 1, 2),
                        inserted: "x".into(),
                    }),
            );
        }
        Ok(report)
    }
}

gantry_sdk::export_plugin!(Spoof);
