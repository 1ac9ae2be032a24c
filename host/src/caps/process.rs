//! Capability `process` (`gantry:plugin/process`): allow-listed host commands.
//!
//! Grant (pipeline.toml):
//!
//! ```toml
//! grants.process = [
//!   { cmd = "cargo", args = ["clippy", "**"], env = ["CARGO_TERM_COLOR"], timeout = "5m", output = "4MiB" },
//!   { cmd = "git", args = ["status", "--short"], read-only = true },
//! ]
//! ```
//!
//! A granted command runs **on the host, with gantry's own OS privileges** — outside
//! the wasm sandbox, so `grants.fs` does not bind it. The grant is the boundary: which
//! program, which arguments, which environment. This is the most powerful grant; grant
//! commands and argument patterns, never shells or interpreters with free arguments.
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
//! 3. **Arguments**: matched by [`ProcessGrant::matches`]; the first grant for that
//!    `cmd` whose arguments match and whose `env` allows every variable passed wins.
//! 4. **Environment**: the child never inherits gantry's environment. It gets `PATH`
//!    (gantry's own `PATH` — the one the command was resolved on, so `cargo` finds the
//!    `rustc` the user expects; [`DEFAULT_PATH`] when gantry has none), `HOME` (a fresh
//!    private temporary directory per call, removed afterwards, so no dotfile of the
//!    user's is read or written), and the variables the plugin passes whose names the
//!    grant's `env` lists (a granted `HOME` replaces the temporary one; `PATH`,
//!    `LD_*` and `DYLD_*` cannot be granted).
//!    Tools that find their installation through `HOME` (rustup, cargo) need
//!    `RUSTUP_HOME`/`CARGO_HOME` passed explicitly.
//! 5. **Working directory**: workspace-relative (default: the root), normalized,
//!    and, after resolving symlinks, inside the workspace. The directory is opened
//!    once and the child enters *that* directory (`/proc/self/fd/N` on Linux), so
//!    swapping a path component for a symlink after the check does not move it.
//! 6. **Resolution**: the name is looked up on gantry's `PATH`, skipping relative
//!    entries and entries inside the workspace (a plugin that can write the workspace
//!    must not be able to plant the binary the host then runs). The absolute path is
//!    recorded in the audit detail. Not found → `not-found`.
//! 7. **Timeout**: the smallest of the grant's `timeout`, the call's `timeout-ms` and
//!    the time left to the stage. The child is its own process group; on timeout (or
//!    when the stage is cancelled) the whole group is killed with `SIGKILL`, and the
//!    answer has `timed-out = true` and no status. Leftover members of the group are
//!    also killed when the command itself exits. A process that leaves the group
//!    (`setsid`) escapes this; its pipes are waited for at most [`OUTPUT_GRACE`].
//! 8. **Output**: stdout and stderr captured separately, each capped at the grant's
//!    `output`; the rest is read and discarded (so the child never blocks on a full
//!    pipe) and `truncated` is set. Stdin: the given bytes then EOF; none → `/dev/null`.
//! 9. **Effects**: `read-only = true` grants run as they are, also under
//!    `--dry-run`. Any other run is a mutating effect: its intent is fsynced to
//!    `journal.jsonl` before it starts and its outcome (exit status, sizes — never the
//!    output) after; under `--dry-run` it is recorded as planned (listed in
//!    `plan.json`) and the plugin gets `dry-run = true`, status 0 and empty output.
//!
//! Every allowed run is audited with the program, its resolved path, the arguments
//! (passed through the run's secret redactor), the names (not values) of the
//! variables passed, the cwd and the timeout.
//!
//! The host call blocks the stage's thread; epoch interruption cannot fire during a
//! host call, so the timeout enforced here is what bounds it.
//!
//! Tests: `tests/e2e/attack_process.rs` (with the `proc-probe` test plugin).

use std::io::{Read, Write};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::manifest::ProcessGrant;
use crate::run::audit::Decision;
use crate::runtime::StageState;
use crate::runtime::bindings::process::{Command, Host, Output};
use crate::runtime::bindings::types::CapError;

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
/// How long the broker waits for the output pipes after the command's group is gone.
pub const OUTPUT_GRACE: Duration = Duration::from_secs(1);

const CAP: &str = "process";
const OP: &str = "run";
/// How often the wait loop looks at the stage's cancel flag.
const POLL: Duration = Duration::from_millis(50);

/// Per-stage state: the stage's grants, its deadline and its cancel flag.
#[derive(Default)]
pub struct State {
    grants: Vec<ProcessGrant>,
    deadline: Option<Instant>,
    cancel: Option<Arc<AtomicBool>>,
}

impl State {
    pub fn new(grants: &[ProcessGrant], deadline: Instant, cancel: Arc<AtomicBool>) -> State {
        State {
            grants: grants.to_vec(),
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

/// A TOML basic string: what the user pastes into pipeline.toml.
pub(crate) fn toml_str(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c if c.is_control() => out.push_str(&format!("\\u{:04X}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// Shortened for messages (a plugin controls these strings).
pub(crate) fn shown(s: &str) -> String {
    const MAX: usize = 200;
    if s.chars().count() > MAX {
        let head: String = s.chars().take(MAX).collect();
        format!("{head}…")
    } else {
        s.to_string()
    }
}

fn toml_list<'a>(items: impl Iterator<Item = &'a str>, max: usize) -> String {
    let items: Vec<&str> = items.collect();
    let mut parts: Vec<String> = items
        .iter()
        .take(max)
        .map(|a| toml_str(&shown(a)))
        .collect();
    if items.len() > max {
        parts.push(format!("… {} more", items.len() - max));
    }
    format!("[{}]", parts.join(", "))
}

/// The pipeline.toml text that grants exactly this call.
fn grant_line(program: &str, args: &[String], env: &[&str]) -> String {
    let mut line = format!(
        "grants.process = [{{ cmd = {}, args = {}",
        toml_str(&shown(program)),
        toml_list(args.iter().map(String::as_str), 32)
    );
    if !env.is_empty() {
        line.push_str(&format!(", env = {}", toml_list(env.iter().copied(), 32)));
    }
    line.push_str(" }]");
    line
}

/// Variables the grant schema refuses in `env`: they choose what code runs.
fn never_grantable(name: &str) -> bool {
    let upper = name.to_ascii_uppercase();
    upper == "PATH" || upper.starts_with("LD_") || upper.starts_with("DYLD_")
}

/// Where the child starts: a directory inside the workspace, held open.
struct Cwd {
    /// Workspace-relative, normalized (`.` is the root).
    rel: String,
    /// The directory, opened when checked.
    dir: std::fs::File,
    canonical: PathBuf,
}

impl Cwd {
    /// The path the child changes into: the directory that was checked, whatever
    /// happens to its path afterwards.
    fn path(&self) -> PathBuf {
        #[cfg(target_os = "linux")]
        {
            use std::os::fd::AsRawFd;
            let p = PathBuf::from(format!("/proc/self/fd/{}", self.dir.as_raw_fd()));
            if p.exists() {
                return p;
            }
        }
        self.canonical.clone()
    }
}

enum CwdError {
    Escapes(String),
    Missing(String),
}

fn resolve_cwd(workspace: &Path, cwd: Option<&str>) -> Result<Cwd, CwdError> {
    let requested = cwd.unwrap_or(".");
    let rel = crate::manifest::normalize_workspace_path(requested)
        .map_err(|(why, _)| CwdError::Escapes(format!("working directory: {why}")))?;
    let joined = if rel == "." {
        workspace.to_path_buf()
    } else {
        workspace.join(&rel)
    };
    let canonical = joined.canonicalize().map_err(|e| {
        CwdError::Missing(format!(
            "working directory `{}` cannot be used: {e}",
            shown(requested)
        ))
    })?;
    if !canonical.starts_with(workspace) {
        return Err(CwdError::Escapes(format!(
            "working directory `{}` resolves outside the workspace (through a symlink)",
            shown(requested)
        )));
    }
    let dir = open_dir(&canonical).map_err(|e| {
        CwdError::Missing(format!(
            "working directory `{}` cannot be used: {e}",
            shown(requested)
        ))
    })?;
    // The path may have changed between canonicalize and open: check what was opened.
    #[cfg(target_os = "linux")]
    {
        use std::os::fd::AsRawFd;
        if let Ok(real) = std::fs::read_link(format!("/proc/self/fd/{}", dir.as_raw_fd()))
            && !real.starts_with(workspace)
        {
            return Err(CwdError::Escapes(format!(
                "working directory `{}` resolves outside the workspace",
                shown(requested)
            )));
        }
    }
    Ok(Cwd {
        rel,
        dir,
        canonical,
    })
}

fn open_dir(path: &Path) -> std::io::Result<std::fs::File> {
    use std::os::unix::fs::OpenOptionsExt;
    let file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_DIRECTORY | libc::O_NOFOLLOW | libc::O_CLOEXEC)
        .open(path)?;
    Ok(file)
}

/// Looks `program` up on gantry's `PATH`; returns the executable and the `PATH` used.
fn resolve_program(program: &str, workspace: &Path) -> (Option<PathBuf>, String) {
    use std::os::unix::fs::PermissionsExt;
    let path = std::env::var("PATH")
        .ok()
        .filter(|p| !p.is_empty())
        .unwrap_or_else(|| DEFAULT_PATH.to_string());
    for dir in std::env::split_paths(&path) {
        // A relative entry (including the empty one, which means ".") would resolve
        // against gantry's current directory; entries in the workspace are writable
        // by plugins. Neither may supply the binary.
        if !dir.is_absolute() {
            continue;
        }
        let in_workspace = dir
            .canonicalize()
            .map(|d| d.starts_with(workspace))
            .unwrap_or(true);
        if in_workspace {
            continue;
        }
        let candidate = dir.join(program);
        if let Ok(meta) = std::fs::metadata(&candidate)
            && meta.is_file()
            && meta.permissions().mode() & 0o111 != 0
        {
            return (Some(candidate), path);
        }
    }
    (None, path)
}

/// A private, empty `HOME` for one call; removed on drop.
struct TempHome(PathBuf);

impl TempHome {
    fn create() -> std::io::Result<TempHome> {
        use std::os::unix::fs::DirBuilderExt;
        static SEQ: AtomicU64 = AtomicU64::new(0);
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0);
        let dir = std::env::temp_dir().join(format!(
            "gantry-home-{}-{}-{nanos:08x}",
            std::process::id(),
            SEQ.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::DirBuilder::new().mode(0o700).create(&dir)?;
        Ok(TempHome(dir))
    }
}

impl Drop for TempHome {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Everything checked; what [`execute`] needs.
struct Plan {
    program: String,
    exe: PathBuf,
    search_path: String,
    args: Vec<String>,
    env: Vec<(String, String)>,
    cwd: Cwd,
    stdin: Option<Vec<u8>>,
    timeout: Duration,
    /// Whether the timeout is the stage's own remaining time.
    stage_bound: bool,
    output_cap: u64,
    cancel: Option<Arc<AtomicBool>>,
}

/// What happened to one stream.
#[derive(Default)]
struct Capture {
    kept: Vec<u8>,
    dropped: u64,
}

fn spawn_reader(
    mut stream: impl Read + Send + 'static,
    cap: u64,
    done: mpsc::Sender<()>,
) -> Arc<Mutex<Capture>> {
    let capture = Arc::new(Mutex::new(Capture::default()));
    let shared = capture.clone();
    let spawned = std::thread::Builder::new()
        .name("gantry-proc-out".into())
        .spawn(move || {
            let mut buf = vec![0u8; 64 * 1024];
            loop {
                match stream.read(&mut buf) {
                    Ok(0) => break,
                    Ok(n) => {
                        let mut c = shared.lock().unwrap_or_else(|p| p.into_inner());
                        let room = cap.saturating_sub(c.kept.len() as u64) as usize;
                        let keep = room.min(n);
                        c.kept.extend_from_slice(&buf[..keep]);
                        c.dropped += (n - keep) as u64;
                    }
                    Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                    Err(_) => break,
                }
            }
            let _ = done.send(());
        });
    if spawned.is_err() {
        tracing::error!("cannot start a thread to read a command's output");
    }
    capture
}

/// Waits for `pid` to exit without reaping it (`WNOWAIT`), so its process-group id
/// stays reserved until the broker has killed the rest of the group.
fn spawn_waiter(pid: i32, done: mpsc::Sender<()>) -> bool {
    std::thread::Builder::new()
        .name("gantry-proc-wait".into())
        .spawn(move || {
            loop {
                // SAFETY: `info` is a valid, zeroed siginfo_t the kernel writes into.
                let mut info: libc::siginfo_t = unsafe { std::mem::zeroed() };
                let r = unsafe {
                    libc::waitid(
                        libc::P_PID,
                        pid as libc::id_t,
                        &mut info,
                        libc::WEXITED | libc::WNOWAIT,
                    )
                };
                if r == 0
                    || std::io::Error::last_os_error().kind() != std::io::ErrorKind::Interrupted
                {
                    break;
                }
            }
            let _ = done.send(());
        })
        .is_ok()
}

fn kill_group(pgid: i32) {
    if pgid > 0 {
        // SAFETY: plain syscall; a negative pid names the process group.
        unsafe {
            libc::kill(-pgid, libc::SIGKILL);
        }
    }
}

enum Ended {
    Exited,
    TimedOut,
    Cancelled,
}

struct Ran {
    output: Output,
    ended: Ended,
    dropped: (u64, u64),
    elapsed: Duration,
}

/// Runs a checked command to its end, its timeout or the stage's cancellation.
fn execute(plan: &Plan) -> Result<Ran, CapError> {
    let home = if plan.env.iter().any(|(k, _)| k == "HOME") {
        None
    } else {
        Some(TempHome::create().map_err(|e| {
            CapError::Failed(format!(
                "cannot create a HOME directory for the command: {e}"
            ))
        })?)
    };
    let mut command = std::process::Command::new(&plan.exe);
    command
        .arg0(&plan.program)
        .args(&plan.args)
        .env_clear()
        .env("PATH", &plan.search_path);
    if let Some(h) = &home {
        command.env("HOME", &h.0);
    }
    command
        .envs(plan.env.iter().map(|(k, v)| (k, v)))
        .current_dir(plan.cwd.path())
        .stdin(if plan.stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0);

    let start = Instant::now();
    let mut child = command
        .spawn()
        .map_err(|e| CapError::Failed(format!("cannot start `{}`: {e}", plan.exe.display())))?;
    let pid = child.id() as i32;

    if let (Some(mut stdin), Some(bytes)) = (child.stdin.take(), plan.stdin.clone()) {
        let _ = std::thread::Builder::new()
            .name("gantry-proc-in".into())
            .spawn(move || {
                // A command that does not read its stdin closes the pipe: not an error.
                let _ = stdin.write_all(&bytes);
            });
    }
    let (out_tx, out_rx) = mpsc::channel();
    let stdout = child
        .stdout
        .take()
        .map(|s| spawn_reader(s, plan.output_cap, out_tx.clone()));
    let stderr = child
        .stderr
        .take()
        .map(|s| spawn_reader(s, plan.output_cap, out_tx.clone()));
    drop(out_tx);

    let (exit_tx, exit_rx) = mpsc::channel();
    if !spawn_waiter(pid, exit_tx) {
        kill_group(pid);
        let _ = child.wait();
        return Err(CapError::Failed(
            "cannot start a thread to wait for the command".into(),
        ));
    }
    let deadline = start + plan.timeout;
    let ended = loop {
        if plan
            .cancel
            .as_ref()
            .is_some_and(|c| c.load(Ordering::Relaxed))
        {
            break Ended::Cancelled;
        }
        let now = Instant::now();
        if now >= deadline {
            break Ended::TimedOut;
        }
        match exit_rx.recv_timeout(POLL.min(deadline - now)) {
            Ok(()) | Err(mpsc::RecvTimeoutError::Disconnected) => break Ended::Exited,
            Err(mpsc::RecvTimeoutError::Timeout) => {}
        }
    };
    // The leader is not reaped yet (WNOWAIT), so the group id still names our group:
    // kill everything left in it — all of it on timeout, stragglers after an exit.
    kill_group(pid);
    let status = child
        .wait()
        .map_err(|e| CapError::Failed(format!("cannot wait for the command: {e}")))?;
    let elapsed = start.elapsed();

    // Pipes close when the last holder is gone; a process that left the group may
    // hold them longer, and is not waited for beyond the grace period.
    let grace = Instant::now() + OUTPUT_GRACE;
    let mut open = usize::from(stdout.is_some()) + usize::from(stderr.is_some());
    while open > 0 {
        let left = grace.saturating_duration_since(Instant::now());
        if left.is_zero() || out_rx.recv_timeout(left).is_err() {
            break;
        }
        open -= 1;
    }
    let take = |c: &Option<Arc<Mutex<Capture>>>| -> (Vec<u8>, u64) {
        match c {
            Some(c) => {
                let mut c = c.lock().unwrap_or_else(|p| p.into_inner());
                (std::mem::take(&mut c.kept), c.dropped)
            }
            None => (Vec::new(), 0),
        }
    };
    let (out, out_dropped) = take(&stdout);
    let (err, err_dropped) = take(&stderr);
    drop(home);

    let timed_out = matches!(ended, Ended::TimedOut);
    let status = match ended {
        // None when a signal ended it.
        Ended::Exited => status.code(),
        Ended::TimedOut | Ended::Cancelled => None,
    };
    Ok(Ran {
        output: Output {
            status,
            stdout: out,
            stderr: err,
            truncated: out_dropped > 0 || err_dropped > 0,
            timed_out,
            dry_run: false,
        },
        ended,
        dropped: (out_dropped, err_dropped),
        elapsed,
    })
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
            .process
            .grants
            .iter()
            .filter(|g| g.cmd == program)
            .collect();
        if for_cmd.is_empty() {
            let granted: Vec<String> = {
                let mut v: Vec<String> = self
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

        // 5. The working directory.
        let cwd = match resolve_cwd(&self.broker.workspace, cwd.as_deref()) {
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

        let detail = json!({
            "program": program_shown,
            "path": exe.display().to_string(),
            "args": args_red,
            "env": env_names,
            "cwd": cwd.rel,
            "timeout_ms": timeout.as_millis() as u64,
            "read_only": grant.read_only,
            "stdin_bytes": stdin.as_ref().map(Vec::len),
        });
        let reason = if grant.read_only {
            "granted by grants.process (read-only)"
        } else if self.broker.dry_run {
            "granted by grants.process; dry-run: recorded as planned, not run"
        } else {
            "granted by grants.process"
        };
        self.broker.allow(CAP, OP, reason, Some(detail.clone()));

        let plan = Plan {
            program: program.clone(),
            exe,
            search_path,
            args,
            env,
            cwd,
            stdin,
            timeout,
            stage_bound,
            output_cap: grant.output,
            cancel: self.process.cancel.clone(),
        };
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
                other => other,
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hint_is_pasteable_toml() {
        let line = grant_line("git", &["log".into(), "a\"b".into()], &["X"]);
        assert_eq!(
            line,
            r#"grants.process = [{ cmd = "git", args = ["log", "a\"b"], env = ["X"] }]"#
        );
        let v: toml::Table = toml::from_str(&line).expect("the hint parses as TOML");
        assert!(v.contains_key("grants"));
    }

    #[test]
    fn cwd_stays_inside() {
        let base = std::env::temp_dir().join(format!("gantry-proc-unit-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&base);
        std::fs::create_dir_all(base.join("ws/sub")).expect("mkdir");
        std::fs::create_dir_all(base.join("out")).expect("mkdir");
        std::os::unix::fs::symlink(base.join("out"), base.join("ws/link")).expect("symlink");
        let ws = base.join("ws").canonicalize().expect("canonical");
        assert!(matches!(resolve_cwd(&ws, None), Ok(c) if c.rel == "."));
        assert!(matches!(resolve_cwd(&ws, Some("./sub/")), Ok(c) if c.rel == "sub"));
        assert!(matches!(
            resolve_cwd(&ws, Some("..")),
            Err(CwdError::Escapes(_))
        ));
        assert!(matches!(
            resolve_cwd(&ws, Some("/tmp")),
            Err(CwdError::Escapes(_))
        ));
        assert!(matches!(
            resolve_cwd(&ws, Some("link")),
            Err(CwdError::Escapes(_))
        ));
        assert!(matches!(
            resolve_cwd(&ws, Some("missing")),
            Err(CwdError::Missing(_))
        ));
        let _ = std::fs::remove_dir_all(&base);
    }
}
