//! Test plugin `proc-probe`: runs the one host command its config names through
//! `gantry:plugin/process` and reports what happened as outputs, so end-to-end tests
//! (`tests/e2e/attack_process.rs`) can try everything a hostile plugin would.
//!
//! Outputs: `result` is `ok:<status>:<stdout prefix>` (status `none` when killed),
//! `denied:<host message>` or `err:<message>`; plus `stdout`, `stderr`, `status`,
//! `stdout-bytes`, `stderr-bytes`, `truncated`, `timed-out`, `dry-run`, `elapsed-ms`.
//! The stage itself always succeeds, so a refusal is data for the test to check.
//!
//! Before the command, `write` plants files through the stage's `grants.fs.write`
//! (keys are workspace-relative; a key ending in `/` is a directory): what a hostile
//! plugin does to make a host tool run its code (`dist/.git/config` with
//! `core.fsmonitor`). A failed write is reported as `write-error`.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use gantry_sdk::prelude::*;
use gantry_sdk::process::Command;

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct Config {
    /// The command name (or whatever the test wants to try in its place).
    program: String,
    #[serde(default)]
    args: Vec<String>,
    /// Variables passed to the command.
    #[serde(default)]
    env: BTreeMap<String, String>,
    #[serde(default)]
    cwd: Option<String>,
    /// Text written to the command's stdin.
    #[serde(default)]
    stdin: Option<String>,
    #[serde(default)]
    timeout_ms: Option<u64>,
    /// Files (and, with a trailing `/`, directories) to write under `/workspace`
    /// before the command runs.
    #[serde(default)]
    write: BTreeMap<String, String>,
}

struct ProcProbe;

/// Keeps outputs under the host's per-value cap.
fn clip(bytes: &[u8], max: usize) -> String {
    let text = String::from_utf8_lossy(bytes);
    text.chars().take(max).collect()
}

impl Plugin for ProcProbe {
    type Config = Config;

    fn info() -> Info {
        Info::new("proc-probe", env!("CARGO_PKG_VERSION"))
            .kind(Kind::Other)
            .description("test plugin for the process capability")
    }

    fn run(_cx: &Context, config: Config) -> Result<Report, Error> {
        for (rel, content) in &config.write {
            let path = format!("/workspace/{rel}");
            let done = if rel.ends_with('/') {
                std::fs::create_dir_all(&path)
            } else {
                let parent = std::path::Path::new(&path).parent();
                parent
                    .map_or(Ok(()), std::fs::create_dir_all)
                    .and_then(|()| std::fs::write(&path, content))
            };
            if let Err(e) = done {
                return Ok(Report::new()
                    .summary("proc-probe could not plant its files")
                    .output("result", format!("write-error:{rel}: {e}")));
            }
        }
        let mut cmd = Command::new(&config.program).args(config.args.iter().cloned());
        for (k, v) in &config.env {
            cmd = cmd.env(k, v);
        }
        if let Some(c) = &config.cwd {
            cmd = cmd.cwd(c);
        }
        if let Some(s) = &config.stdin {
            cmd = cmd.stdin(s.as_bytes());
        }
        if let Some(ms) = config.timeout_ms {
            cmd = cmd.timeout(Duration::from_millis(ms));
        }
        let start = Instant::now();
        let report = Report::new().summary("proc-probe done");
        let out = match cmd.run() {
            Ok(out) => out,
            Err(Error::Denied(m)) => return Ok(report.output("result", format!("denied:{m}"))),
            Err(e) => return Ok(report.output("result", format!("err:{e}"))),
        };
        let status = out
            .status
            .map_or_else(|| "none".to_string(), |s| s.to_string());
        let prefix: String = clip(&out.stdout, 64).trim_end().to_string();
        Ok(report
            .output("result", format!("ok:{status}:{prefix}"))
            .output("status", status)
            .output("stdout", clip(&out.stdout, 16 * 1024))
            .output("stderr", clip(&out.stderr, 4 * 1024))
            .output("stdout-bytes", out.stdout.len().to_string())
            .output("stderr-bytes", out.stderr.len().to_string())
            .output("truncated", out.truncated.to_string())
            .output("timed-out", out.timed_out.to_string())
            .output("dry-run", out.dry_run.to_string())
            .output("elapsed-ms", start.elapsed().as_millis().to_string()))
    }
}

gantry_sdk::export_plugin!(ProcProbe);
