//! `container-run`: the generic CI step in a container — run a command in an image
//! with the workspace mounted, stream its output to the stage log, fail the stage when
//! it exits non-zero. Like a workflow's `run:` with `container:`, but every field goes
//! through gantry's `containers` grant: the image must be granted, the workspace is
//! mounted read-only unless a directory is listed in `writable` (and granted
//! `fs.write`), the network is `none` unless asked for and granted.
//!
//! ```toml
//! [stage.unit]
//! plugin = "builtin:container-run"
//! with = { image = "127.0.0.1:5000/ci/rust:1", run = "cargo test", writable = ["target"] }
//! grants.fs = { read = ["."], write = ["target"] }
//! grants.containers = { run = ["127.0.0.1:5000/ci/*"] }
//! ```
//!
//! Tests: `tests/e2e/containers.rs` (`container_run_*`).

use std::collections::BTreeMap;

use gantry_sdk::containers::{self, Mount, Resources, RunSpec};
use gantry_sdk::prelude::*;

/// Configuration (`with`).
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct Config {
    /// Image reference; must match the stage's `grants.containers.run`.
    pub image: String,
    /// A shell command line, run as `sh -c RUN` (the image needs a shell).
    #[serde(default)]
    pub run: Option<String>,
    /// Or the exact arguments (exec form); with neither, the image's default command.
    #[serde(default)]
    pub command: Vec<String>,
    #[serde(default)]
    pub env: BTreeMap<String, String>,
    /// Where the workspace is mounted (read-only), also the working directory.
    #[serde(default = "default_mount")]
    pub workspace: String,
    /// Working directory inside the container (default: the workspace mount).
    #[serde(default)]
    pub workdir: Option<String>,
    /// Workspace directories mounted writable at the same place under `workspace`.
    #[serde(default)]
    pub writable: Vec<String>,
    /// `none` (default) or `bridge`.
    #[serde(default)]
    pub network: Option<String>,
    /// e.g. `"10m"`; default: the stage's timeout.
    #[serde(default)]
    pub timeout: Option<String>,
    #[serde(default)]
    pub cpus: Option<f64>,
    /// Bytes.
    #[serde(default)]
    pub memory: Option<u64>,
    #[serde(default)]
    pub pids: Option<u32>,
    /// User (name or uid[:gid]) inside the container.
    #[serde(default)]
    pub user: Option<String>,
}

fn default_mount() -> String {
    "/workspace".into()
}

/// The run spec the config describes (pure, unit-tested).
pub fn spec(c: &Config) -> Result<RunSpec, Error> {
    if c.run.is_some() && !c.command.is_empty() {
        return Err(Error::config(
            "set `run` (a shell line) or `command` (arguments), not both",
        ));
    }
    if !c.workspace.starts_with('/') || c.workspace == "/" {
        return Err(Error::config(
            "`workspace` must be an absolute path other than `/`",
        ));
    }
    let mut s = RunSpec::new(&c.image).mount(Mount::read_only(".", &c.workspace));
    for w in &c.writable {
        let rel = w.trim_matches('/');
        if rel.is_empty() || rel.split('/').any(|p| p == ".." || p == ".") {
            return Err(Error::config(format!(
                "`writable` entry `{w}` must be a workspace subdirectory"
            )));
        }
        s = s.mount(Mount::writable(
            rel,
            format!("{}/{rel}", c.workspace.trim_end_matches('/')),
        ));
    }
    s = match (&c.run, c.command.is_empty()) {
        (Some(line), _) => s.command(["sh", "-c", line.as_str()]),
        (None, false) => s.command(c.command.iter().cloned()),
        (None, true) => s,
    };
    for (k, v) in &c.env {
        s = s.env(k, v);
    }
    s = s.workdir(c.workdir.clone().unwrap_or_else(|| c.workspace.clone()));
    if let Some(n) = &c.network {
        s = s.network(n);
    }
    if let Some(t) = &c.timeout {
        let d =
            gantry_sdk::units::duration(t).map_err(|e| Error::config(format!("`timeout`: {e}")))?;
        s = s.timeout(d);
    }
    s.resources = Resources {
        cpus: c.cpus,
        memory_bytes: c.memory,
        pids: c.pids,
    };
    s.user = c.user.clone();
    Ok(s)
}

struct ContainerRun;

impl Plugin for ContainerRun {
    type Config = Config;

    fn info() -> Info {
        Info::new(env!("CARGO_PKG_NAME"), env!("CARGO_PKG_VERSION"))
            .kind(Kind::Other)
            .description("Runs a command in a container image with the workspace mounted")
    }

    fn run(cx: &Context, config: Config) -> Result<Report, Error> {
        let out = containers::run(spec(&config)?)?;
        let report = Report::new()
            .output(
                "exit-code",
                out.exit_code.map_or("none".into(), |c| c.to_string()),
            )
            .output("timed-out", out.timed_out.to_string());
        if out.dry_run || cx.dry_run {
            return Ok(report.summary(format!(
                "dry run: would run {} in `{}`",
                describe(&config),
                config.image
            )));
        }
        if out.timed_out {
            return Ok(report
                .summary(format!(
                    "{} timed out in `{}`",
                    describe(&config),
                    config.image
                ))
                .outcome(Outcome::Failure));
        }
        match out.exit_code {
            Some(0) => Ok(report.summary(format!(
                "{} succeeded in `{}`",
                describe(&config),
                config.image
            ))),
            code => {
                let tail: Vec<String> = out
                    .stderr_text()
                    .lines()
                    .rev()
                    .take(5)
                    .map(String::from)
                    .collect();
                let tail: Vec<String> = tail.into_iter().rev().collect();
                Ok(report
                    .summary(format!(
                        "{} exited with {} in `{}`{}",
                        describe(&config),
                        code.map_or("no status".into(), |c| c.to_string()),
                        config.image,
                        if tail.is_empty() {
                            String::new()
                        } else {
                            format!(": {}", tail.join(" | "))
                        }
                    ))
                    .outcome(Outcome::Failure))
            }
        }
    }
}

fn describe(c: &Config) -> String {
    match (&c.run, c.command.is_empty()) {
        (Some(r), _) => format!("`{}`", r.chars().take(60).collect::<String>()),
        (None, false) => format!(
            "`{}`",
            c.command.join(" ").chars().take(60).collect::<String>()
        ),
        (None, true) => "the default command".into(),
    }
}

gantry_sdk::export_plugin!(ContainerRun);

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn cfg(toml_json: serde_json::Value) -> Config {
        serde_json::from_value(toml_json).expect("config")
    }

    #[test]
    fn shell_line_workspace_and_writable_dirs() {
        let s = spec(&cfg(
            serde_json::json!({ "image": "x:1", "run": "make test", "writable": ["target/"] }),
        ))
        .unwrap();
        assert_eq!(s.command, ["sh", "-c", "make test"]);
        assert_eq!(s.workdir.as_deref(), Some("/workspace"));
        assert_eq!(s.mounts.len(), 2);
        assert!(!s.mounts[0].writable && s.mounts[0].source == ".");
        assert!(s.mounts[1].writable && s.mounts[1].target == "/workspace/target");
    }

    #[test]
    fn bad_configs_say_which_key() {
        let both = cfg(serde_json::json!({ "image": "x", "run": "a", "command": ["b"] }));
        assert!(matches!(spec(&both), Err(Error::InvalidConfig(m)) if m.contains("not both")));
        let esc = cfg(serde_json::json!({ "image": "x", "writable": ["../etc"] }));
        assert!(matches!(spec(&esc), Err(Error::InvalidConfig(m)) if m.contains("writable")));
        let t = cfg(serde_json::json!({ "image": "x", "timeout": "10" }));
        assert!(matches!(spec(&t), Err(Error::InvalidConfig(m)) if m.contains("timeout")));
    }
}
