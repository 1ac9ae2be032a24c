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

use std::io::{Read, Write};
use std::os::unix::process::CommandExt as _;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::manifest::text::{brief as shown, toml_string as toml_str};
use crate::manifest::ProcessGrant;
use crate::run::audit::Decision;
use crate::caps::context::StageState;
use crate::caps::bindings::process::{Command, Host, Output};
use crate::caps::bindings::types::CapError;
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

/// What `gantry check` reports about process grants that `gantry run` would fail on:
/// no working sandbox on this machine (for a pipeline with process grants), and
/// `read` directories that do not expand, do not exist, or are refused. Each
/// diagnostic points at the stage.
pub fn preflight(manifest: &crate::manifest::Manifest) -> Vec<crate::manifest::Diagnostic> {
    let mut out = Vec::new();
    let with_process: Vec<&crate::manifest::Stage> = manifest
        .stages
        .iter()
        .filter(|s| !s.grants.process.is_empty())
        .collect();
    if with_process.is_empty() {
        return out;
    }
    if let Err(why) = sandbox::probe() {
        let names: Vec<String> = with_process
            .iter()
            .map(|s| format!("`{}`", s.name))
            .collect();
        for s in &with_process {
            out.push(
                manifest
                    .diag(
                        s.span,
                        format!(
                            "stage `{}` has process grants, and no command can run on this machine: {why}",
                            s.name
                        ),
                    )
                    .with_hint(format!(
                        "stages with process grants: {}; gantry runs host commands only inside its OS sandbox",
                        names.join(", ")
                    )),
            );
        }
    }
    let home = std::env::var("HOME").ok();
    let secrets: Vec<PathBuf> = manifest
        .secrets
        .iter()
        .filter_map(|d| match &d.source {
            crate::manifest::SecretSource::File(f) => Some(manifest.dir().join(f)),
            _ => None,
        })
        .map(|p| p.canonicalize().unwrap_or(p))
        .collect();
    let workspace = manifest
        .dir()
        .canonicalize()
        .unwrap_or_else(|_| manifest.dir().to_path_buf());
    let protected = protected_dirs(&workspace);
    for s in &with_process {
        for g in &s.grants.process {
            for entry in &g.read {
                let problem = crate::manifest::expand_host_path(
                    entry,
                    &|n| std::env::var(n).ok(),
                    home.as_deref(),
                )
                .and_then(|at| {
                    let real = Path::new(&at)
                        .canonicalize()
                        .map_err(|e| format!("`{entry}` (`{at}`) cannot be opened: {e}"))?;
                    check_host_dir(&real, &workspace, &protected, home.as_deref())
                        .map_err(|why| format!("`{entry}` {why}"))?;
                    match secrets.iter().find(|f| f.starts_with(&real)) {
                        Some(f) => Err(format!(
                            "`{entry}` holds the source of a secret (`{}`): commands would read its value",
                            f.display()
                        )),
                        None => Ok(()),
                    }
                })
                .err();
                if let Some(why) = problem {
                    out.push(
                        manifest
                            .diag(
                                s.span,
                                format!(
                                    "stage `{}`: `read` of the process grant for `{}`: {why}",
                                    s.name, g.cmd
                                ),
                            )
                            .with_hint(
                                "`read` names host directories a command needs (a toolchain, a cache), e.g. `read = [\"~/.cargo\"]`",
                            ),
                    );
                }
            }
        }
    }
    out
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
    crate::manifest::code_variable(name).is_some()
}

/// Where the child starts: a directory inside the workspace, opened beneath the
/// workspace's descriptor; the command starts in the same path inside the sandbox.
struct Cwd {
    /// Workspace-relative, normalized (`.` is the root).
    rel: String,
}

enum CwdError {
    Escapes(String),
    Missing(String),
}

/// Opens `rel` (workspace-relative, normalized) beneath `root` without following
/// any symbolic link: `O_PATH`, so nothing is read; `ELOOP` for a link on the way,
/// `EXDEV` for an escape.
#[cfg(target_os = "linux")]
fn open_beneath(
    root: &std::os::fd::OwnedFd,
    rel: &str,
    follow_inside: bool,
) -> Result<std::os::fd::OwnedFd, rustix::io::Errno> {
    use rustix::fs::{Mode, OFlags, ResolveFlags};
    let mut resolve = ResolveFlags::BENEATH | ResolveFlags::NO_MAGICLINKS;
    if !follow_inside {
        resolve |= ResolveFlags::NO_SYMLINKS;
    }
    rustix::fs::openat2(
        root,
        rel,
        OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC,
        Mode::empty(),
        resolve,
    )
}

/// The workspace root, opened (`O_PATH`): every other workspace directory the
/// sandbox binds is opened beneath it.
#[cfg(target_os = "linux")]
fn open_workspace(workspace: &Path) -> std::io::Result<std::os::fd::OwnedFd> {
    use rustix::fs::{Mode, OFlags};
    Ok(rustix::fs::open(
        workspace,
        OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC,
        Mode::empty(),
    )?)
}

#[cfg(target_os = "linux")]
fn resolve_cwd(root: &std::os::fd::OwnedFd, cwd: Option<&str>) -> Result<Cwd, CwdError> {
    use rustix::io::Errno;
    let requested = cwd.unwrap_or(".");
    let rel = crate::manifest::normalize_workspace_path(requested)
        .map_err(|(why, _)| CwdError::Escapes(format!("working directory: {why}")))?;
    match open_beneath(root, &rel, false) {
        Ok(_) => Ok(Cwd { rel }),
        Err(Errno::LOOP) | Err(Errno::XDEV) => {
            // A link on the way: say whether it leads out, or only is a link.
            match open_beneath(root, &rel, true) {
                Err(Errno::XDEV) => Err(CwdError::Escapes(format!(
                    "working directory `{}` resolves outside the workspace (through a symlink)",
                    shown(requested)
                ))),
                _ => Err(CwdError::Escapes(format!(
                    "working directory `{}` goes through a symbolic link, which commands never follow; pass the directory's real path",
                    shown(requested)
                ))),
            }
        }
        Err(e) => Err(CwdError::Missing(format!(
            "working directory `{}` cannot be used: {}",
            shown(requested),
            std::io::Error::from(e)
        ))),
    }
}

/// gantry's run records, relative to the workspace: never shown to a command.
const RECORDS: &str = ".gantry";

/// Files in a granted host directory that hold credentials (cargo's registry
/// tokens, netrc, …): covered with an empty file inside the sandbox.
const CREDENTIAL_FILES: &[&str] = &[
    "credentials",
    "credentials.toml",
    ".credentials.toml",
    ".netrc",
    ".git-credentials",
    ".npmrc",
    ".pypirc",
];
/// Directories in a granted host directory that hold credentials: covered with an
/// empty one.
const CREDENTIAL_DIRS: &[&str] = &[".ssh", ".gnupg", ".docker", ".aws", ".kube"];

/// Host directories no `read` may show, nor a directory above them: gantry's run
/// records (wherever `.gantry` leads) and its compile cache.
fn protected_dirs(workspace: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    if let Ok(p) = workspace.join(RECORDS).canonicalize() {
        out.push(p);
    }
    if let Some(p) = crate::run::state::cache_dir() {
        out.push(p.canonicalize().unwrap_or(p));
    }
    out
}

/// Opens a host path gantry's grant names (`O_PATH`, following links: the pipeline's
/// author wrote it) and returns it with the real path the kernel opened.
#[cfg(target_os = "linux")]
fn open_host(path: &Path) -> std::io::Result<(std::os::fd::OwnedFd, PathBuf)> {
    use rustix::fs::{Mode, OFlags};
    use std::os::fd::AsRawFd;
    let fd = rustix::fs::open(path, OFlags::PATH | OFlags::CLOEXEC, Mode::empty())?;
    let real = std::fs::read_link(format!("/proc/self/fd/{}", fd.as_raw_fd()))?;
    Ok((fd, real))
}

/// Why the host path `real` (what was opened) may not be shown to a command.
fn check_host_dir(
    real: &Path,
    workspace: &Path,
    protected: &[PathBuf],
    home: Option<&str>,
) -> Result<(), String> {
    let text = real.to_string_lossy();
    if let Some(why) = crate::manifest::host_path_refusal(&text, home) {
        return Err(format!("(`{text}`) {why}"));
    }
    if real.starts_with(workspace) {
        return Err(format!(
            "(`{text}`) is inside the workspace, which commands see already"
        ));
    }
    if workspace.starts_with(real) {
        return Err(format!(
            "(`{text}`) contains the workspace; name the tool's own directory"
        ));
    }
    if let Some(p) = protected
        .iter()
        .find(|p| p.starts_with(real) || real.starts_with(p))
    {
        return Err(format!(
            "(`{text}`) reaches gantry's own records or cache (`{}`)",
            p.display()
        ));
    }
    Ok(())
}

/// Covers the credential files and directories of a granted host directory.
fn mask_credentials(sb: &mut Sandbox, at: &Path, real: &Path) {
    for name in CREDENTIAL_FILES {
        if std::fs::symlink_metadata(real.join(name)).is_ok_and(|m| !m.is_dir()) {
            sb.hide_file(&at.join(name));
        }
    }
    for name in CREDENTIAL_DIRS {
        if std::fs::symlink_metadata(real.join(name)).is_ok_and(|m| m.is_dir()) {
            sb.hide(&at.join(name));
        }
    }
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

/// Everything checked; what [`execute`] needs.
struct Plan {
    program: String,
    exe: PathBuf,
    args: Vec<String>,
    stdin: Option<Vec<u8>>,
    timeout: Duration,
    /// Whether the timeout is the stage's own remaining time.
    stage_bound: bool,
    output_cap: u64,
    cancel: Option<Arc<AtomicBool>>,
    /// Where the command runs: see [`sandbox`].
    sandbox: Sandbox,
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

/// A sandbox that could not be set up: nothing ran. Carries the sentence for the
/// plugin (what is missing).
struct Unsandboxed(String);

/// Runs a checked command in its sandbox to its end, its timeout or the stage's
/// cancellation.
fn execute(plan: &Plan) -> Result<Ran, Unsandboxed> {
    // Every error of `run_sandboxed` means the sandbox did not start or could not be
    // followed: the command did not run as granted.
    run_sandboxed(plan).map_err(|e| match e {
        CapError::Failed(m)
        | CapError::Denied(m)
        | CapError::NotFound(m)
        | CapError::Invalid(m) => Unsandboxed(m),
    })
}

fn run_sandboxed(plan: &Plan) -> Result<Ran, CapError> {
    let mut status = StatusPipe::new()
        .map_err(|e| CapError::Failed(format!("cannot set up the process sandbox: {e}")))?;
    let mut command = plan
        .sandbox
        .command(&plan.exe, &plan.program, &plan.args, &status)
        .map_err(|e| CapError::Failed(format!("cannot set up the process sandbox: {e}")))?;
    command
        .stdin(if plan.stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0);

    let start = Instant::now();
    let mut child = command.spawn().map_err(|e| {
        CapError::Failed(format!(
            "cannot start the process sandbox: {}; {}",
            sandbox::spawn_error(e),
            sandbox::NOTHING_RAN
        ))
    })?;
    status.spawned();
    drop(command);
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
    // The leader (the sandbox's helper) is not reaped yet (WNOWAIT), so the group id
    // still names our group: kill everything left in it. The group holds the helper
    // and the sandbox's init, whose end ends the PID namespace and every process in it.
    kill_group(pid);
    let exit = child
        .wait()
        .map_err(|e| CapError::Failed(format!("cannot wait for the command: {e}")))?;
    let elapsed = start.elapsed();

    // Pipes close when the last holder is gone: every holder was the helper or in the
    // sandbox's PID namespace, which is gone with its init; the grace period only
    // bounds the kernel's teardown.
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
    let report = status.finish();
    if !report.ran() && matches!(ended, Ended::Exited) {
        return Err(CapError::Failed(sandbox::setup_failure(&report, &err)));
    }

    let timed_out = matches!(ended, Ended::TimedOut);
    let status = match ended {
        // The sandbox reports the command's code (128 + N when signal N ended it).
        Ended::Exited => report.exit_code.or(exit.code()),
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
            .caps.process
            .grants
            .iter()
            .filter(|g| g.cmd == program)
            .collect();
        if for_cmd.is_empty() {
            let granted: Vec<String> = {
                let mut v: Vec<String> = self
                    .caps.process
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
            .caps.process
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
        crate::caps::bindings::process::add_to_linker::<StageState, HasSelf<StageState>>(linker, |s| s)?;
        Ok(())
    }

    fn prepare(cx: &super::Prepare<'_>) -> State {
        let g = &cx.setup.grants;
        State::new(&g.process, &g.fs.write, cx.deadline, cx.setup.cancel.clone())
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
        let ws = open_workspace(&ws).expect("open workspace");
        std::fs::create_dir_all(base.join("ws/real")).expect("mkdir");
        std::os::unix::fs::symlink("real", base.join("ws/inner")).expect("symlink");
        // A link that stays inside is still a link: commands never follow one.
        assert!(matches!(
            resolve_cwd(&ws, Some("inner")),
            Err(CwdError::Escapes(m)) if m.contains("goes through a symbolic link")
        ));
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
