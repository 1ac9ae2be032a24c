//! Host commands granted to the stage (`grants.process`).
//!
//! The host, not the plugin, runs the command: it must be granted by name with
//! argument globs in pipeline.toml, it is found on the host's `PATH`, it gets a scrubbed
//! environment (`PATH`, a private empty `HOME`, and only the variables you pass that
//! the grant lists in `env`), it starts in a workspace directory, and it is killed at
//! its timeout. Anything outside the grant is [`Error::Denied`] with the host's
//! explanation, which names the grant that would allow it — pass it on with `?`.
//!
//! The command runs in the host's OS sandbox (gantry's own, from Linux namespaces): it
//! sees the workspace read-only (the stage's `grants.fs.write` directories writable,
//! unless the grant is `read-only`), the system directories and the host directories
//! the grant's `read` names, and no network unless the grant says `network = true`. A command ended by
//! signal N reports status 128 + N; one the host killed (timeout) reports none.
//!
//! ```no_run
//! use std::time::Duration;
//! use gantry_sdk::process::Command;
//!
//! # fn demo() -> Result<(), gantry_sdk::Error> {
//! // pipeline.toml:
//! //   grants.process = [{ cmd = "cargo", args = ["clippy", "**"], env = ["CARGO_TERM_COLOR"], timeout = "10m" }]
//! let out = Command::new("cargo")
//!     .args(["clippy", "--", "-D", "warnings"])
//!     .cwd("crates/x")
//!     .env("CARGO_TERM_COLOR", "never")
//!     .timeout(Duration::from_secs(300))
//!     .run()?;
//! if !out.success() {
//!     gantry_sdk::log::warn("clippy failed", &[("stderr", &out.stderr_text())]);
//! }
//! # Ok(()) }
//! ```
//!
//! Under `gantry run --dry-run`, a command whose grant is not `read-only = true` does
//! not run: the host records it as planned and answers with [`Output::dry_run`] set,
//! status 0 and empty output. Check `dry_run` before parsing output you rely on.

use std::borrow::Cow;
use std::time::Duration;

use crate::Error;
use crate::bindings::gantry::plugin::process as wit;
use crate::bindings::gantry::plugin::types::CapError;

/// A host command to run; build it, then call [`Command::run`].
#[derive(Debug, Clone)]
pub struct Command {
    program: String,
    args: Vec<String>,
    env: Vec<(String, String)>,
    cwd: Option<String>,
    stdin: Option<Vec<u8>>,
    timeout: Option<Duration>,
}

impl Command {
    /// `program` is the command's name as granted (`"cargo"`), never a path.
    pub fn new(program: impl Into<String>) -> Command {
        Command {
            program: program.into(),
            args: Vec::new(),
            env: Vec::new(),
            cwd: None,
            stdin: None,
            timeout: None,
        }
    }

    pub fn arg(mut self, arg: impl Into<String>) -> Command {
        self.args.push(arg.into());
        self
    }

    pub fn args<I, S>(mut self, args: I) -> Command
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.args.extend(args.into_iter().map(Into::into));
        self
    }

    /// An environment variable for the command; its name must be in the grant's `env`.
    pub fn env(mut self, name: impl Into<String>, value: impl Into<String>) -> Command {
        self.env.push((name.into(), value.into()));
        self
    }

    /// Workspace-relative working directory (default: the workspace root).
    pub fn cwd(mut self, dir: impl Into<String>) -> Command {
        self.cwd = Some(dir.into());
        self
    }

    /// Bytes written to the command's stdin, which is then closed (default: no stdin).
    pub fn stdin(mut self, bytes: impl Into<Vec<u8>>) -> Command {
        self.stdin = Some(bytes.into());
        self
    }

    /// A shorter timeout than the grant's (the host also stops at the stage's own).
    pub fn timeout(mut self, timeout: Duration) -> Command {
        self.timeout = Some(timeout);
        self
    }

    /// Runs the command to its end or its timeout. A non-zero exit is not an error
    /// here (see [`Output::success`], [`Output::check`]); a refusal is
    /// [`Error::Denied`], anything else the host could not do is [`Error::Failed`].
    pub fn run(&self) -> Result<Output, Error> {
        let cmd = wit::Command {
            program: self.program.clone(),
            args: self.args.clone(),
            env: self.env.clone(),
            cwd: self.cwd.clone(),
            stdin: self.stdin.clone(),
            timeout_ms: self
                .timeout
                .map(|t| u64::try_from(t.as_millis()).unwrap_or(u64::MAX).max(1)),
        };
        match wit::run(&cmd) {
            Ok(o) => Ok(Output {
                status: o.status,
                stdout: o.stdout,
                stderr: o.stderr,
                truncated: o.truncated,
                timed_out: o.timed_out,
                dry_run: o.dry_run,
            }),
            Err(e) => Err(match e {
                CapError::Denied(m) => Error::Denied(m),
                CapError::NotFound(m) => Error::Failed(format!("not found: {m}")),
                CapError::Invalid(m) => Error::Failed(format!("invalid: {m}")),
                CapError::Failed(m) => Error::Failed(m),
            }),
        }
    }
}

/// What a command did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Output {
    /// Exit status; `None` when it was killed (timeout, signal).
    pub status: Option<i32>,
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
    /// Output beyond the grant's `output` cap was dropped.
    pub truncated: bool,
    pub timed_out: bool,
    /// `--dry-run` and the grant is not read-only: nothing ran.
    pub dry_run: bool,
}

impl Output {
    /// Exited with status 0 (also true for a dry-run answer).
    pub fn success(&self) -> bool {
        self.status == Some(0)
    }

    pub fn stdout_text(&self) -> Cow<'_, str> {
        String::from_utf8_lossy(&self.stdout)
    }

    pub fn stderr_text(&self) -> Cow<'_, str> {
        String::from_utf8_lossy(&self.stderr)
    }

    /// `self` if it succeeded, otherwise [`Error::Failed`] saying how it ended, with
    /// the last lines of stderr.
    pub fn check(self) -> Result<Output, Error> {
        if self.success() {
            return Ok(self);
        }
        let how = match (self.timed_out, self.status) {
            (true, _) => "timed out".to_string(),
            (false, Some(s)) => format!("exited with status {s}"),
            (false, None) => "was killed by a signal".to_string(),
        };
        let stderr = self.stderr_text();
        let tail: Vec<&str> = stderr.lines().rev().take(5).collect();
        let tail: Vec<&str> = tail.into_iter().rev().collect();
        if tail.is_empty() {
            Err(Error::Failed(format!("the command {how}")))
        } else {
            Err(Error::Failed(format!(
                "the command {how}: {}",
                tail.join("\n")
            )))
        }
    }
}
