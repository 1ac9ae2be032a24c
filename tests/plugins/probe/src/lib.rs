//! Test plugin `probe`: does what its config says, so end-to-end tests can build
//! pipelines with known behaviour (outputs, failures, errors, timing, retries).

use std::collections::BTreeMap;
use std::io::Write;

use gantry_sdk::prelude::*;

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct Config {
    /// Outputs to report.
    #[serde(default)]
    outputs: BTreeMap<String, String>,
    /// Report outcome `failure` (with one error-level finding).
    #[serde(default)]
    fail: bool,
    /// Return this plugin error.
    #[serde(default)]
    error: Option<String>,
    /// Busy-wait this many milliseconds (guest CPU, interruptible).
    #[serde(default)]
    spin_ms: u64,
    /// Append `<stage> start|end <unix-ms>` lines to this workspace file (needs fs.write).
    #[serde(default)]
    timeline: Option<String>,
    /// Fail with an error until the attempt counter file reaches this value.
    #[serde(default)]
    succeed_on_attempt: Option<u32>,
    /// Workspace file holding the attempt counter (needs fs.write).
    #[serde(default)]
    counter: Option<String>,
    /// Findings to report: (rule, level, path, line).
    #[serde(default)]
    findings: Vec<(String, String, String, u32)>,
    /// Artifacts to report.
    #[serde(default)]
    artifacts: Vec<String>,
    /// Echo every input as output `in.<stage>.<key>`.
    #[serde(default)]
    echo_inputs: bool,
    #[serde(default)]
    count: u32,
}

struct Probe;

fn now_ms() -> u128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis())
        .unwrap_or(0)
}

fn append(cx: &Context, rel: &str, line: &str) -> Result<(), Error> {
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(cx.workspace_path(rel))?;
    // One write per line: concurrent stages append to the same file.
    f.write_all(format!("{line}\n").as_bytes())?;
    Ok(())
}

impl Plugin for Probe {
    type Config = Config;

    fn info() -> Info {
        Info::new("probe", env!("CARGO_PKG_VERSION"))
            .kind(Kind::Other)
            .description("test plugin")
            .rule(Rule::new(
                "probe-error",
                Level::Error,
                "An error the probe was told to report",
            ))
            .rule(Rule::new("probe-note", Level::Note, "A note"))
    }

    fn run(cx: &Context, config: Config) -> Result<Report, Error> {
        if let Some(t) = &config.timeline {
            append(cx, t, &format!("{} start {}", cx.stage, now_ms()))?;
        }
        log::info("probe running", &[("stage", &cx.stage)]);
        if config.spin_ms > 0 {
            let until =
                std::time::Instant::now() + std::time::Duration::from_millis(config.spin_ms);
            let mut x = 0u64;
            while std::time::Instant::now() < until {
                x = std::hint::black_box(x.wrapping_add(1));
            }
        }
        if let (Some(n), Some(counter)) = (config.succeed_on_attempt, &config.counter) {
            let path = cx.workspace_path(counter);
            let attempt = std::fs::read_to_string(&path)
                .ok()
                .and_then(|s| s.trim().parse::<u32>().ok())
                .unwrap_or(0)
                + 1;
            std::fs::write(&path, attempt.to_string())?;
            if attempt < n {
                return Err(Error::failed(format!("flaky: attempt {attempt} < {n}")));
            }
        }
        if let Some(e) = config.error {
            return Err(Error::failed(e));
        }
        let mut report = Report::new().summary("probe done");
        for (k, v) in &config.outputs {
            report = report.output(k, v);
        }
        if config.echo_inputs {
            for (stage, outs) in &cx.inputs {
                for (k, v) in outs {
                    report = report.output(format!("in_{stage}_{k}"), v);
                }
            }
            report = report.output("git_sha", cx.git.sha.clone().unwrap_or_default());
        }
        for (rule, level, path, line) in &config.findings {
            let level = match level.as_str() {
                "error" => Level::Error,
                "warning" => Level::Warning,
                _ => Level::Note,
            };
            report.push(
                Finding::new(rule, level, format!("{rule} at {path}:{line}")).at(path, *line),
            );
        }
        for a in &config.artifacts {
            report = report.artifact(a);
        }
        if config.fail {
            report.push(Finding::new("probe-error", Level::Error, "told to fail"));
        }
        if let Some(t) = &config.timeline {
            append(cx, t, &format!("{} end {}", cx.stage, now_ms()))?;
        }
        let _ = config.count;
        Ok(report)
    }
}

gantry_sdk::export_plugin!(Probe);
