//! Test plugin `files-probe`: calls `gantry:plugin/files` directly (not through the
//! SDK's `gantry_sdk::files`, which falls back to `std::fs`), with whatever paths and
//! names its config gives, and reports exactly what the host answered, so end-to-end
//! tests (`tests/e2e/attack_files.rs`) can try what a hostile plugin would.
//!
//! Outputs (the stage itself always succeeds, so a refusal is data for the test):
//! - `list`: `ok:NAME=KIND,…` (sorted) or `denied:…` / `not-found:…` / `invalid:…` /
//!   `failed:…`;
//! - `read`: `ok:N` (N answers) or the error as for `list`; then `read-I` for the
//!   I-th answer: `content:TEXT` (first 200 characters), `too-large:SIZE` or
//!   `failed:MESSAGE`.

use gantry_sdk::bindings::gantry::plugin::files as wit;
use gantry_sdk::bindings::gantry::plugin::types::CapError;
use gantry_sdk::prelude::*;

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct Config {
    /// Guest path to list.
    #[serde(default)]
    list: Option<String>,
    /// Guest directory to read `names` from.
    #[serde(default)]
    read: Option<String>,
    #[serde(default)]
    names: Vec<String>,
    #[serde(default = "max")]
    max_size: u64,
    #[serde(default = "max")]
    budget: u64,
}

fn max() -> u64 {
    1 << 20
}

fn error(e: CapError) -> String {
    match e {
        CapError::Denied(m) => format!("denied:{m}"),
        CapError::NotFound(m) => format!("not-found:{m}"),
        CapError::Invalid(m) => format!("invalid:{m}"),
        CapError::Failed(m) => format!("failed:{m}"),
    }
}

struct FilesProbe;

impl Plugin for FilesProbe {
    type Config = Config;

    fn info() -> Info {
        Info::new("files-probe", env!("CARGO_PKG_VERSION"))
            .kind(Kind::Other)
            .description("test plugin for the bulk files capability")
    }

    fn run(_cx: &Context, config: Config) -> Result<Report, Error> {
        let mut report = Report::new().summary("files-probe done");
        if let Some(path) = &config.list {
            let answer = match wit::list_dir(path) {
                Ok(entries) => {
                    let mut shown: Vec<String> = entries
                        .iter()
                        .map(|e| {
                            let kind = match e.kind {
                                wit::EntryKind::File => "file",
                                wit::EntryKind::Directory => "dir",
                                wit::EntryKind::Symlink => "symlink",
                                wit::EntryKind::Other => "other",
                            };
                            format!("{}={kind}", e.name)
                        })
                        .collect();
                    shown.sort();
                    format!("ok:{}", shown.join(","))
                }
                Err(e) => error(e),
            };
            report = report.output("list", answer);
        }
        if let Some(dir) = &config.read {
            match wit::read_files(dir, &config.names, config.max_size, config.budget) {
                Ok(reads) => {
                    report = report.output("read", format!("ok:{}", reads.len()));
                    for (i, read) in reads.into_iter().enumerate() {
                        let shown = match read {
                            wit::FileRead::Content(c) => format!(
                                "content:{}",
                                String::from_utf8_lossy(&c)
                                    .chars()
                                    .take(200)
                                    .collect::<String>()
                            ),
                            wit::FileRead::TooLarge(n) => format!("too-large:{n}"),
                            wit::FileRead::Failed(m) => format!("failed:{m}"),
                        };
                        report = report.output(format!("read-{i}"), shown);
                    }
                }
                Err(e) => report = report.output("read", error(e)),
            }
        }
        Ok(report)
    }
}

gantry_sdk::export_plugin!(FilesProbe);
