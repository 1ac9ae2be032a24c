//! Capability `process` (`gantry:plugin/process`): allow-listed host commands, each
//! run in an OS sandbox.
//!
//! Grant (pipeline.toml):
//!
//! ```toml
//! grants.process = [
//!   { cmd = "cargo", args = ["clippy", "**"], env = ["CARGO_HOME"], read = ["${CARGO_HOME:-~/.cargo}"], timeout = "5m", output = "4MiB" },
//!   { cmd = "git", args = ["status", "--short"], read-only = true },
//! ]
//! ```
//!
//! A granted command runs on the host, outside the wasm sandbox — so in an OS sandbox
//! of its own ([`sandbox`], built by gantry from Linux namespaces): argument globs cannot make a tool safe when
//! it reads configuration the plugin may have written (`core.fsmonitor` in a
//! `.git/config` under a write grant). The sandbox sees the workspace read-only, the
//! stage's `grants.fs.write` directories read-write (none for a `read-only` grant),
//! the system directories, the program and the grant's `read` directories; no
//! network unless `network = true`; no capabilities; nothing it starts outlives it.
//!
//! What the broker does with each `run`, in order (any refusal is a `denied` error
//! naming the stage, the plugin, the failing argument and the grant that would allow
//! it, and a `deny` line in `audit.jsonl`):
//!
//! 1. **Sizes**: at most [`MAX_ARGS`] arguments and [`MAX_ENV`] variables, at most
//!    [`MAX_COMMAND_BYTES`] for program, arguments, environment and cwd together, at
//!    most [`MAX_STDIN`] of stdin; otherwise `invalid`.
//! 2. **Program**: a bare name equal to a granted `cmd`. Names with `/` (`/bin/sh`,
//!    `./echo`, `../bin/sh`) and `.`/`..` are refused: the plugin names a command, the
//!    host locates it.
//! 3. **Arguments**: matched by [`ProcessGrant::matches`] (a wildcard never stands for
//!    an option, an absolute path or `..`); the first grant for that `cmd` whose
//!    arguments match and whose `env` allows every variable passed wins.
//! 4. **Environment**: the child never inherits gantry's environment. It gets `PATH`
//!    (gantry's own `PATH` — the one the command was resolved on; [`DEFAULT_PATH`]
//!    when gantry has none), `HOME` (the sandbox's private, empty [`sandbox::HOME`]),
//!    `PWD` (set by the sandbox) and the variables the plugin passes whose names the grant's
//!    `env` lists (never one that chooses code or configuration:
//!    [`crate::manifest::code_variable`]). Tools that find their installation through
//!    `HOME` (rustup, cargo) need `RUSTUP_HOME`/`CARGO_HOME` passed and `read`.
//! 5. **Working directory**: workspace-relative (default: the root), normalized, and
//!    opened beneath the workspace's descriptor without following any symbolic link
//!    (`openat2(RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS)`); the command starts in the
//!    same path inside the sandbox, entered the same way.
//! 6. **Resolution**: the name is looked up on gantry's `PATH`, skipping relative
//!    entries and entries inside the workspace (a plugin that can write the workspace
//!    must not be able to plant the binary the host then runs). The absolute path is
//!    recorded in the audit detail. Not found → `not-found`.
//! 7. **Timeout**: the smallest of the grant's `timeout`, the call's `timeout-ms` and
//!    the time left to the stage. The sandbox's helper and init are their own process
//!    group; on timeout (or when the stage is cancelled) the group is killed with
//!    `SIGKILL`, which ends the sandbox's PID namespace and everything in it, and the answer has
//!    `timed-out = true` and no status. When the command itself exits, whatever it
//!    left behind (`setsid`, double forks) dies with the namespace.
//! 8. **Sandbox**: built only for a command that runs (not for one planned under
//!    `--dry-run`): see [`sandbox`]. A machine that cannot make the sandbox, a `read`
//!    directory that is refused or missing, or a write grant replaced by a link or
//!    moved: the call is `failed` with the reason and a `deny` line is audited;
//!    nothing runs unsandboxed. The sandbox's status pipe tells a set-up that failed
//!    from a command that failed.
//! 9. **Output**: stdout and stderr captured separately, each capped at the grant's
//!    `output`; the rest is read and discarded (so the child never blocks on a full
//!    pipe) and `truncated` is set. Stdin: the given bytes then EOF; none → `/dev/null`.
//! 10. **Effects**: `read-only = true` grants run as they are, also under
//!     `--dry-run` — their sandbox writes nothing. Any other run is a mutating
//!     effect: its intent is fsynced to `journal.jsonl` before it starts and its
//!     outcome (exit status, sizes — never the output) after; under `--dry-run` it is
//!     recorded as planned (listed in `plan.json`) and the plugin gets
//!     `dry-run = true`, status 0 and empty output.
//!
//! Every allowed run is audited with the program, its resolved path, the arguments
//! (passed through the run's secret redactor), the names (not values) of the
//! variables passed, the cwd, the timeout, `network` and what its sandbox shows
//! (`ro`/`rw` binds, hidden paths).
//!
//! The host call blocks the stage's thread; epoch interruption cannot fire during a
//! host call, so the timeout enforced here is what bounds it.
//!
//! Tests: `tests/e2e/attack_process.rs` (with the `proc-probe` test plugin), the unit
//! tests below and in [`sandbox`].

pub mod describe;

pub mod sandbox;

mod exec;
mod policy;
mod preflight;
#[cfg(test)]
mod tests;

use exec::*;
use policy::*;
pub use preflight::preflight;

use std::io::{Read, Write};
use std::os::unix::process::CommandExt as _;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::caps::bindings::process::{Command, Host, Output};
use crate::caps::bindings::types::CapError;
use crate::caps::context::StageState;
use crate::manifest::ProcessGrant;
use crate::manifest::text::{brief as shown, toml_string as toml_str};
use crate::run::audit::Decision;
use sandbox::{Sandbox, StatusPipe};

/// Most arguments a plugin may pass.
pub const MAX_ARGS: usize = 1024;
/// Most environment variables a plugin may pass.
pub const MAX_ENV: usize = 1024;
/// Most bytes of program, arguments, environment and cwd together.
pub const MAX_COMMAND_BYTES: usize = 1 << 20;
/// Most bytes of stdin.
pub const MAX_STDIN: usize = 16 << 20;
/// `PATH` of the child when gantry itself has none.
pub const DEFAULT_PATH: &str = "/usr/local/bin:/usr/bin:/bin";
/// Timeout when neither the grant, the call nor the stage gives one.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10 * 60);
/// How long the broker waits for the output pipes after the sandbox is gone (the
/// kernel tears its PID namespace down in that time).
pub const OUTPUT_GRACE: Duration = Duration::from_secs(1);

const CAP: &str = "process";
const OP: &str = "run";
/// How often the wait loop looks at the stage's cancel flag.
const POLL: Duration = Duration::from_millis(50);

/// Per-stage state: the stage's grants, its writable directories (`grants.fs.write`,
/// which the sandbox binds read-write), its deadline and its cancel flag.
#[derive(Default)]
pub struct State {
    grants: Vec<ProcessGrant>,
    write: Vec<String>,
    deadline: Option<Instant>,
    cancel: Option<Arc<AtomicBool>>,
}

impl State {
    pub fn new(
        grants: &[ProcessGrant],
        write: &[String],
        deadline: Instant,
        cancel: Arc<AtomicBool>,
    ) -> State {
        State {
            grants: grants.to_vec(),
            write: write.to_vec(),
            deadline: Some(deadline),
            cancel: Some(cancel),
        }
    }
}

impl Host for StageState {
    fn run(&mut self, cmd: Command) -> wasmtime::Result<Result<Output, CapError>> {
        Ok(self.run_process(cmd))
    }
}

impl StageState {
    fn invalid(&self, what: String, detail: Value) -> CapError {
        let reason = format!("invalid call: {what}");
        self.broker.actor.record(
            &self.broker.audit,
            CAP,
            OP,
            Decision::Deny,
            &reason,
            Some(detail),
        );
        CapError::Invalid(format!("process run: {what}"))
    }

    /// A command that cannot be sandboxed does not run: audited, and `failed` with
    /// the sentence that says what to do.
    fn no_sandbox(&self, why: String, detail: Value) -> CapError {
        self.broker.actor.record(
            &self.broker.audit,
            CAP,
            OP,
            Decision::Deny,
            &format!("not run: {why}"),
            Some(detail),
        );
        self.log.line("gantry", &format!("process: not run: {why}"));
        CapError::Failed(why)
    }

    /// The sandbox for one granted command (see [`sandbox`]): the workspace
    /// read-only, the stage's write grants read-write unless the grant is read-only,
    /// the grant's extra host directories and the program read-only, the run records
    /// hidden.
    fn build_sandbox(
        &self,
        grant: &ProcessGrant,
        exe: &Path,
        search_path: &str,
        env: &[(String, String)],
        cwd: &str,
        root: std::os::fd::OwnedFd,
    ) -> Result<Sandbox, String> {
        let ws = &self.broker.workspace;
        // Once per gantry process: can this machine make a sandbox at all?
        sandbox::probe()?;
        let mut sb = Sandbox::new();
        let home = std::env::var("HOME").ok();

        // Extra host directories first: the workspace lies on top of them.
        let protected = protected_dirs(ws);
        let mut shown_dirs: Vec<PathBuf> = Vec::new();
        for entry in &grant.read {
            let at = crate::manifest::expand_host_path(
                entry,
                &|n| std::env::var(n).ok(),
                home.as_deref(),
            )
            .map_err(|e| format!("`read` of the grant for `{}`: {e}", grant.cmd))?;
            let (fd, real) = open_host(Path::new(&at)).map_err(|e| {
                format!(
                    "`read` of the grant for `{}`: `{at}` cannot be opened: {e}",
                    grant.cmd
                )
            })?;
            check_host_dir(&real, ws, &protected, home.as_deref())
                .map_err(|why| format!("`read` of the grant for `{}`: `{at}` {why}", grant.cmd))?;
            sb.read_only(fd, Path::new(&at));
            mask_credentials(&mut sb, Path::new(&at), &real);
            shown_dirs.push(PathBuf::from(&at));
            shown_dirs.push(real);
        }

        // The program, where neither the system directories nor `read` show it.
        let (exe_fd, exe_real) =
            open_host(exe).map_err(|e| format!("`{}` cannot be opened: {e}", exe.display()))?;
        let seen = |p: &Path| {
            sandbox::SYSTEM_PREFIXES.iter().any(|s| p.starts_with(s))
                || shown_dirs.iter().any(|d| p.starts_with(d))
        };
        if !seen(&exe_real) {
            check_host_dir(&exe_real, ws, &protected, home.as_deref())
                .map_err(|why| format!("the program `{}` {why}", exe_real.display()))?;
            let (fd, _) = open_host(&exe_real)
                .map_err(|e| format!("`{}` cannot be opened: {e}", exe_real.display()))?;
            sb.read_only(fd, &exe_real);
        }
        if !seen(exe) && exe != exe_real {
            sb.read_only(exe_fd, exe);
        }

        // The workspace, read-only, from the descriptor the cwd was checked against.
        let ws_fd = open_beneath(&root, ".", false).map_err(|e| {
            format!(
                "the workspace cannot be opened: {}",
                std::io::Error::from(e)
            )
        })?;
        sb.read_only(ws_fd, ws);
        // The stage's write grants on top, unless the grant says read-only.
        if !grant.read_only {
            for rel in &self.caps.process.write {
                let at = if rel == "." { ws.clone() } else { ws.join(rel) };
                match open_beneath(&root, rel, false) {
                    Ok(fd) => {
                        sb.writable(fd, &at);
                    }
                    // Removed since the stage started: nothing to bind.
                    Err(rustix::io::Errno::NOENT) => {}
                    Err(e) => {
                        return Err(format!(
                            "the write grant `{rel}` cannot be opened beneath the workspace without following a symbolic link ({}): commands get write grants only as real directories, and a link swapped in during the stage leads nowhere",
                            std::io::Error::from(e)
                        ));
                    }
                }
            }
        }
        // The run records belong to the host: whatever the grants, the command does not
        // see them. (A `.gantry` that is a link leads out of the workspace, to nothing
        // the sandbox shows.)
        if open_beneath(&root, RECORDS, false).is_ok() {
            sb.hide(&ws.join(RECORDS));
        }

        sb.env("PATH", search_path);
        for (k, v) in env {
            sb.env(k, v);
        }
        sb.chdir(&if cwd == "." { ws.clone() } else { ws.join(cwd) });
        sb.network(grant.network);
        Ok(sb)
    }

    fn redacted(&self, s: &str) -> String {
        self.log.redactor().redact(s).into_owned()
    }

    fn run_process(&mut self, cmd: Command) -> Result<Output, CapError> {
        let Command {
            program,
            args,
            env,
            cwd,
            stdin,
            timeout_ms,
        } = cmd;
        let program_shown = shown(&program);
        let base = json!({ "program": program_shown, "args": args.len() });

        // 1. Sizes, before anything is copied or formatted.
        if args.len() > MAX_ARGS {
            return Err(self.invalid(
                format!("{} arguments, more than {MAX_ARGS}", args.len()),
                base,
            ));
        }
        if env.len() > MAX_ENV {
            return Err(self.invalid(
                format!("{} environment variables, more than {MAX_ENV}", env.len()),
                base,
            ));
        }
        let total = program.len()
            + args.iter().map(String::len).sum::<usize>()
            + env.iter().map(|(k, v)| k.len() + v.len()).sum::<usize>()
            + cwd.as_ref().map_or(0, String::len);
        if total > MAX_COMMAND_BYTES {
            return Err(self.invalid(
                format!("program, arguments, environment and cwd take {total} bytes, more than {MAX_COMMAND_BYTES}"),
                base,
            ));
        }
        if let Some(s) = &stdin
            && s.len() > MAX_STDIN
        {
            return Err(self.invalid(
                format!("stdin is {} bytes, more than {MAX_STDIN}", s.len()),
                base,
            ));
        }
        if program.is_empty() {
            return Err(self.invalid("the program name is empty".into(), base));
        }
        if program.contains('\0') || args.iter().any(|a| a.contains('\0')) {
            return Err(self.invalid(
                "the program or an argument contains a NUL byte".into(),
                base,
            ));
        }
        for (k, v) in &env {
            if k.is_empty() || k.contains(['=', '\0']) || v.contains('\0') {
                return Err(self.invalid(
                    format!(
                        "environment variable name `{}` is not valid (empty, `=` or NUL)",
                        shown(k)
                    ),
                    base,
                ));
            }
        }
        if cwd.as_ref().is_some_and(|c| c.contains('\0')) {
            return Err(self.invalid("the working directory contains a NUL byte".into(), base));
        }
        if timeout_ms == Some(0) {
            return Err(self.invalid("`timeout-ms` is 0".into(), base));
        }

        let args_red: Vec<String> = args.iter().map(|a| self.redacted(a)).collect();
        let env_names: Vec<&str> = env.iter().map(|(k, _)| k.as_str()).collect();
        let detail = json!({
            "program": program_shown,
            "args": args_red,
            "env": env_names,
            "cwd": cwd,
        });

        // 2. A name, never a path.
        if program.contains('/') || program == "." || program == ".." {
            let name = program.rsplit('/').next().unwrap_or_default();
            let grant = if name.is_empty() || name == "." || name == ".." {
                "nothing: the plugin must name a granted command, not a path".to_string()
            } else {
                format!(
                    "{}, and call it by its name `{}` (the host finds it on its PATH)",
                    grant_line(name, &args_red, &[]),
                    shown(name)
                )
            };
            return Err(self.broker.deny(
                CAP,
                OP,
                &format!(
                    "`{program_shown}` is a path; a plugin names a command and the host resolves it"
                ),
                &grant,
                Some(detail),
            ));
        }

        // 3. A granted command with matching arguments.
        let for_cmd: Vec<&ProcessGrant> = self
            .caps
            .process
            .grants
            .iter()
            .filter(|g| g.cmd == program)
            .collect();
        if for_cmd.is_empty() {
            let granted: Vec<String> = {
                let mut v: Vec<String> = self
                    .caps
                    .process
                    .grants
                    .iter()
                    .map(|g| format!("`{}`", g.cmd))
                    .collect();
                v.dedup();
                v
            };
            let what = if granted.is_empty() {
                format!("command `{program_shown}` is not granted (the stage grants no commands)")
            } else {
                format!(
                    "command `{program_shown}` is not granted (granted: {})",
                    granted.join(", ")
                )
            };
            return Err(self.broker.deny(
                CAP,
                OP,
                &what,
                &grant_line(&program, &args_red, &env_names),
                Some(detail),
            ));
        }
        let mut reasons = Vec::new();
        let mut matching: Vec<&ProcessGrant> = Vec::new();
        for g in &for_cmd {
            match g.matches(&program, &args) {
                Ok(()) => matching.push(g),
                Err(why) => reasons.push(self.redacted(&why)),
            }
        }
        if matching.is_empty() {
            let what = if reasons.len() == 1 {
                format!(
                    "arguments of `{program_shown}` are outside the grant: {}",
                    reasons[0]
                )
            } else {
                let each: Vec<String> = reasons
                    .iter()
                    .enumerate()
                    .map(|(i, r)| format!("grant {}: {r}", i + 1))
                    .collect();
                format!(
                    "arguments of `{program_shown}` are outside every grant for it: {}",
                    each.join("; ")
                )
            };
            return Err(self.broker.deny(
                CAP,
                OP,
                &what,
                &grant_line(&program, &args_red, &env_names),
                Some(detail),
            ));
        }

        // 4. Every variable passed is named by the grant.
        let Some(grant) = matching
            .iter()
            .find(|g| env_names.iter().all(|n| g.env.iter().any(|e| e == n)))
            .map(|g| (*g).clone())
        else {
            let first = matching[0];
            let missing: Vec<&str> = env_names
                .iter()
                .copied()
                .filter(|n| !first.env.iter().any(|e| e == n))
                .collect();
            let shown_missing: Vec<String> =
                missing.iter().map(|n| format!("`{}`", shown(n))).collect();
            let what = if missing.len() == 1 {
                format!(
                    "environment variable {} is not in the `env` of the grant for `{program_shown}`",
                    shown_missing.join(", ")
                )
            } else {
                format!(
                    "environment variables {} are not in the `env` of the grant for `{program_shown}`",
                    shown_missing.join(", ")
                )
            };
            let grant = match missing.iter().find(|n| never_grantable(n)) {
                Some(n) => format!(
                    "nothing: `{}` cannot be granted, because a plugin that sets it chooses which code the command loads or runs",
                    shown(n)
                ),
                None => {
                    let mut wanted: Vec<&str> = first.env.iter().map(String::as_str).collect();
                    wanted.extend(missing.iter().copied());
                    format!(
                        "env = {} in that grant, e.g. {}",
                        toml_list(missing.iter().copied(), 32),
                        grant_line(&program, &args_red, &wanted)
                    )
                }
            };
            return Err(self.broker.deny(CAP, OP, &what, &grant, Some(detail)));
        };

        // 5. The working directory, opened beneath the workspace's descriptor.
        let root = match open_workspace(&self.broker.workspace) {
            Ok(r) => r,
            Err(e) => {
                return Err(CapError::Failed(format!(
                    "the workspace cannot be opened: {e}"
                )));
            }
        };
        let cwd = match resolve_cwd(&root, cwd.as_deref()) {
            Ok(c) => c,
            Err(CwdError::Escapes(what)) => {
                return Err(self.broker.deny(
                    CAP,
                    OP,
                    &what,
                    "nothing: commands run inside the workspace; pass a workspace-relative `cwd`",
                    Some(detail),
                ));
            }
            Err(CwdError::Missing(what)) => return Err(CapError::NotFound(what)),
        };

        // 6. The executable, on gantry's PATH.
        let (exe, search_path) = resolve_program(&program, &self.broker.workspace);
        let Some(exe) = exe else {
            self.broker.allow(
                CAP,
                OP,
                "granted by grants.process, but the command is not on gantry's PATH",
                Some(detail),
            );
            return Err(CapError::NotFound(format!(
                "command `{program_shown}` is granted but not found on gantry's PATH (`{}`; relative entries and directories inside the workspace are skipped)",
                shown(&search_path)
            )));
        };

        // 7. The timeout.
        let remaining = self
            .caps
            .process
            .deadline
            .map(|d| d.saturating_duration_since(Instant::now()));
        if remaining.is_some_and(|r| r.is_zero()) {
            return Err(CapError::Failed(
                "the stage has no time left to run a command".into(),
            ));
        }
        let candidates = [
            grant.timeout,
            timeout_ms.map(Duration::from_millis),
            remaining,
        ];
        let timeout = candidates
            .iter()
            .flatten()
            .min()
            .copied()
            .unwrap_or(DEFAULT_TIMEOUT);
        let stage_bound = remaining == Some(timeout) && grant.timeout != Some(timeout);

        let mut detail = json!({
            "program": program_shown,
            "path": exe.display().to_string(),
            "args": args_red,
            "env": env_names,
            "cwd": cwd.rel,
            "timeout_ms": timeout.as_millis() as u64,
            "read_only": grant.read_only,
            "network": grant.network,
            "stdin_bytes": stdin.as_ref().map(Vec::len),
        });

        // 8. The sandbox, built only for a command that will run.
        let runs = grant.read_only || !self.broker.dry_run;
        let sandbox = if runs {
            match self.build_sandbox(&grant, &exe, &search_path, &env, &cwd.rel, root) {
                Ok(built) => built,
                Err(why) => return Err(self.no_sandbox(why, detail)),
            }
        } else {
            Sandbox::new()
        };
        if runs {
            detail["sandbox"] = json!(sandbox.describe());
        }
        let reason = if grant.read_only {
            "granted by grants.process (read-only: the sandbox shows everything read-only)"
        } else if self.broker.dry_run {
            "granted by grants.process; dry-run: recorded as planned, not run"
        } else {
            "granted by grants.process"
        };
        self.broker.allow(CAP, OP, reason, Some(detail.clone()));

        let plan = Plan {
            program: program.clone(),
            exe,
            args,
            stdin,
            timeout,
            stage_bound,
            output_cap: grant.output,
            cancel: self.caps.process.cancel.clone(),
            sandbox,
        };
        let unsandboxed = std::cell::Cell::new(false);
        let audit_detail = detail.clone();
        if !grant.read_only && !self.broker.dry_run && !self.caps.process.write.is_empty() {
            // It may leave links out of a write grant: swept when the stage ends.
            self.caps.fs.written_by_others = true;
        }
        let result = self.broker.effect(
            CAP,
            OP,
            detail,
            grant.read_only,
            || Ran {
                output: Output {
                    status: Some(0),
                    stdout: Vec::new(),
                    stderr: Vec::new(),
                    truncated: false,
                    timed_out: false,
                    dry_run: true,
                },
                ended: Ended::Exited,
                dropped: (0, 0),
                elapsed: Duration::ZERO,
            },
            || match execute(&plan) {
                Ok(ran) if matches!(ran.ended, Ended::Cancelled) => Err(CapError::Failed(format!(
                    "`{program_shown}` was killed: the stage was cancelled"
                ))),
                Err(Unsandboxed(why)) => {
                    unsandboxed.set(true);
                    Err(CapError::Failed(why))
                }
                Ok(ran) => Ok(ran),
            },
            |r| match r {
                Ok(ran) => json!({
                    "status": ran.output.status,
                    "timed_out": ran.output.timed_out,
                    "truncated": ran.output.truncated,
                    "stdout_bytes": ran.output.stdout.len() as u64 + ran.dropped.0,
                    "stderr_bytes": ran.output.stderr.len() as u64 + ran.dropped.1,
                    "elapsed_ms": ran.elapsed.as_millis() as u64,
                }),
                Err(e) => json!({ "error": error_text(e) }),
            },
        );
        let ran = match result {
            Ok(r) => r,
            Err(CapError::Failed(why)) if unsandboxed.get() => {
                return Err(self.no_sandbox(why, audit_detail));
            }
            Err(e) => {
                self.log.line(
                    "gantry",
                    &format!("process `{program_shown}`: {}", error_text(&e)),
                );
                return Err(e);
            }
        };
        self.log.line("gantry", &note(&program_shown, &plan, &ran));
        Ok(ran.output)
    }
}

/// The host's line in the stage log about one command.
fn note(program: &str, plan: &Plan, ran: &Ran) -> String {
    let o = &ran.output;
    if o.dry_run {
        return format!("process `{program}`: dry-run, not run (planned)");
    }
    let mut line = if o.timed_out {
        let by = if plan.stage_bound {
            "the stage's remaining time"
        } else {
            "its timeout"
        };
        format!(
            "process `{program}`: killed after {} ({by}, {} ms)",
            crate::manifest::units::format_duration(plan.timeout),
            ran.elapsed.as_millis()
        )
    } else {
        match o.status {
            Some(s) => format!(
                "process `{program}`: exited with status {s} in {} ms",
                ran.elapsed.as_millis()
            ),
            None => format!(
                "process `{program}`: killed by a signal after {} ms",
                ran.elapsed.as_millis()
            ),
        }
    };
    for (name, kept, dropped) in [
        ("stdout", o.stdout.len(), ran.dropped.0),
        ("stderr", o.stderr.len(), ran.dropped.1),
    ] {
        if dropped > 0 {
            line.push_str(&format!(
                "; {name} truncated: kept the first {kept} bytes, dropped {dropped} bytes"
            ));
        }
    }
    line
}

/// One line for the stage log and the journal.
fn error_text(e: &CapError) -> String {
    match e {
        CapError::Denied(m) => format!("denied: {m}"),
        CapError::NotFound(m) => format!("not found: {m}"),
        CapError::Invalid(m) => format!("invalid: {m}"),
        CapError::Failed(m) => format!("failed: {m}"),
    }
}

/// The process capability.
pub struct Process;

impl super::Capability for Process {
    type State = State;
    const DESCRIPTION: &'static super::describe::Description = &describe::DESCRIPTION;

    fn link(linker: &mut wasmtime::component::Linker<StageState>) -> anyhow::Result<()> {
        use wasmtime::component::HasSelf;
        crate::caps::bindings::process::add_to_linker::<StageState, HasSelf<StageState>>(
            linker,
            |s| s,
        )?;
        Ok(())
    }

    fn prepare(cx: &super::Prepare<'_>) -> State {
        let g = &cx.setup.grants;
        State::new(
            &g.process,
            &g.fs.write,
            cx.deadline,
            cx.setup.cancel.clone(),
        )
    }
}
