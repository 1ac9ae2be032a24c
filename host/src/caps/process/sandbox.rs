//! The OS sandbox every granted host command runs in: bubblewrap (`bwrap`), one
//! sandbox per call.
//!
//! Why: argument globs cannot make a host tool safe. Tools read configuration they
//! find (git's `.git/config` with `core.fsmonitor`, cargo's `.cargo/config.toml`, a
//! Makefile, npm scripts), and a plugin with a write grant writes that configuration.
//! So the command itself is contained: it sees the workspace read-only, writes only
//! where the stage's `grants.fs.write` allows, and reaches nothing else of the host.
//!
//! [`Sandbox::new`] starts from these secure defaults; the builder methods add only
//! what the grant names:
//!
//! - **namespaces**: new user (gantry's uid mapped to itself, every capability dropped
//!   even when gantry runs as root, no further user namespaces), mount, PID, IPC, UTS
//!   and cgroup namespaces, and a network namespace with only loopback unless
//!   [`Sandbox::network`] is set;
//! - **lifetime**: `--die-with-parent` and its own PID namespace: when the command
//!   exits, or the broker kills `bwrap` (timeout, cancelled stage, gantry itself
//!   dying), every process it started dies with it, `setsid` and double forks
//!   included; `--new-session`, so it cannot push input into a terminal;
//! - **files**: `/usr` and `/bin`, `/sbin`, `/lib*` read-only as the host has them
//!   (symbolic links kept as links); a curated read-only `/etc` ([`ETC`]: users,
//!   name resolution, the loader cache, CA certificates, `alternatives`, time zone —
//!   never `shadow`, the host's ssh or git configuration); a fresh `/proc`; a minimal
//!   `/dev`; a private `/tmp` (tmpfs of at most [`TMP_SIZE`]) holding an empty private
//!   `HOME` ([`HOME`]); nothing else — no workspace, no home directory, no `/run`
//!   (so no Docker socket), no gantry state or cache;
//! - **environment**: cleared; only what [`Sandbox::env`] sets.
//!
//! Directories are bound from descriptors gantry opened itself (`--bind-fd`,
//! `--ro-bind-fd`): the workspace, each writable directory (opened beneath the
//! workspace's descriptor with `openat2(RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS)`) and
//! each extra read-only host directory. bwrap never resolves a source path that a
//! plugin could swap for a symbolic link. (Destinations are paths inside the new
//! mount namespace; a swapped destination can only rearrange what the sandbox
//! already shows.)
//!
//! If `bwrap` is missing or cannot create its namespaces (an old kernel, user
//! namespaces disabled), nothing runs unsandboxed: the call fails with
//! [`INSTALL_HINT`], and `gantry check` reports [`probe`]'s error for every pipeline
//! with process grants.
//!
//! Tests: `tests/e2e/attack_process.rs` (escapes from inside: `core.fsmonitor`,
//! `setsid` survivors, writes to read-only parts, network, `/etc/shadow`, `$HOME`,
//! remounts as root, the run records, a missing bwrap).

use std::ffi::OsString;
use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

/// The environment variable naming the `bwrap` binary (default: `bwrap` on gantry's
/// `PATH`, absolute entries outside the workspace only).
pub const BWRAP_ENV: &str = "GANTRY_BWRAP";

/// What the user does when there is no working sandbox.
pub const INSTALL_HINT: &str = "install bubblewrap 0.8 or later (Debian and Ubuntu: `apt-get install bubblewrap`; Fedora: `dnf install bubblewrap`) and allow user namespaces, or set `GANTRY_BWRAP` to its path; gantry never runs a host command unsandboxed";

/// `HOME` inside the sandbox: empty, private, gone when the command ends.
pub const HOME: &str = "/tmp/home";

/// Size limit of the private `/tmp` (and so of `HOME`), which lives in memory.
pub const TMP_SIZE: u64 = 1 << 30;

/// System directories shown read-only as the host has them (links kept as links).
const SYSTEM: &[&str] = &[
    "/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32",
];

/// Paths every sandbox shows: a program under one of them needs no extra bind.
pub const SYSTEM_PREFIXES: &[&str] = SYSTEM;

/// The curated `/etc`: what programs need to start, resolve names and verify TLS.
/// Missing ones are skipped.
pub const ETC: &[&str] = &[
    "/etc/passwd",
    "/etc/group",
    "/etc/hosts",
    "/etc/hostname",
    "/etc/resolv.conf",
    "/etc/nsswitch.conf",
    "/etc/host.conf",
    "/etc/gai.conf",
    "/etc/services",
    "/etc/protocols",
    "/etc/ld.so.cache",
    "/etc/ld.so.conf",
    "/etc/ld.so.conf.d",
    "/etc/ssl/certs",
    "/etc/ca-certificates",
    "/etc/ca-certificates.conf",
    "/etc/pki/tls/certs",
    "/etc/pki/ca-trust",
    "/etc/alternatives",
    "/etc/localtime",
    "/etc/timezone",
    "/etc/os-release",
    "/etc/debian_version",
];

/// The `bwrap` gantry uses: `GANTRY_BWRAP`, else the first `bwrap` on gantry's
/// `PATH` (absolute entries outside `workspace`).
pub fn locate(workspace: Option<&Path>) -> Result<PathBuf, String> {
    if let Some(p) = std::env::var_os(BWRAP_ENV).filter(|p| !p.is_empty()) {
        let p = PathBuf::from(p);
        if !p.is_absolute() {
            return Err(format!(
                "`{BWRAP_ENV}` is `{}`, not an absolute path; {INSTALL_HINT}",
                p.display()
            ));
        }
        if !is_executable(&p) {
            return Err(format!(
                "the process sandbox needs bubblewrap, and `{BWRAP_ENV}` names `{}`, which is not an executable file; {INSTALL_HINT}",
                p.display()
            ));
        }
        return Ok(p);
    }
    let path = std::env::var_os("PATH").unwrap_or_default();
    for dir in std::env::split_paths(&path) {
        if !dir.is_absolute() || workspace.is_some_and(|w| dir.starts_with(w)) {
            continue;
        }
        let candidate = dir.join("bwrap");
        if is_executable(&candidate) {
            return Ok(candidate);
        }
    }
    Err(format!(
        "the process sandbox needs bubblewrap (`bwrap`), which is not on gantry's PATH; {INSTALL_HINT}"
    ))
}

fn is_executable(p: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

/// Whether a sandbox can be made on this machine: runs `true` in the default sandbox
/// once per gantry process. The error is one sentence saying what to install.
pub fn probe() -> Result<(), String> {
    static RESULT: OnceLock<Result<(), String>> = OnceLock::new();
    RESULT
        .get_or_init(|| {
            let bwrap = locate(None)?;
            let program = ["/usr/bin/true", "/bin/true"]
                .into_iter()
                .map(Path::new)
                .find(|p| is_executable(p))
                .ok_or_else(|| "cannot find `true` to try the process sandbox".to_string())?;
            let sandbox = Sandbox::new(bwrap.clone());
            let status = StatusPipe::new().map_err(|e| format!("cannot try the sandbox: {e}"))?;
            let mut command = sandbox.command(program, "true", &[], &status);
            let out = command
                .stdin(std::process::Stdio::null())
                .output()
                .map_err(|e| {
                    format!(
                        "the process sandbox cannot start `{}`: {e}; {INSTALL_HINT}",
                        bwrap.display()
                    )
                })?;
            drop(command);
            let report = status.finish();
            if report.ran() && out.status.success() {
                Ok(())
            } else {
                Err(setup_failure(&bwrap, &out.stderr))
            }
        })
        .clone()
}

/// The message for a sandbox that could not be set up, from bwrap's stderr.
pub fn setup_failure(bwrap: &Path, stderr: &[u8]) -> String {
    let text = String::from_utf8_lossy(stderr);
    let line = text
        .lines()
        .find(|l| l.starts_with("bwrap:"))
        .or_else(|| text.lines().find(|l| !l.trim().is_empty()))
        .unwrap_or("no message");
    let line: String = line.chars().filter(|c| !c.is_control()).take(300).collect();
    format!(
        "the process sandbox (`{}`) could not be set up ({line}); {INSTALL_HINT}",
        bwrap.display()
    )
}

/// A bubblewrap sandbox for one command, with the secure defaults listed in the
/// module documentation. Descriptors handed to it stay open until it is dropped.
pub struct Sandbox {
    bwrap: PathBuf,
    mounts: Vec<OsString>,
    fds: Vec<OwnedFd>,
    env: Vec<(String, String)>,
    network: bool,
    chdir: Option<PathBuf>,
}

impl Sandbox {
    /// The default sandbox: see the module documentation.
    pub fn new(bwrap: PathBuf) -> Sandbox {
        let mut s = Sandbox {
            bwrap,
            mounts: Vec::new(),
            fds: Vec::new(),
            env: Vec::new(),
            network: false,
            chdir: None,
        };
        for dir in SYSTEM {
            let p = Path::new(dir);
            match std::fs::symlink_metadata(p) {
                Ok(m) if m.file_type().is_symlink() => {
                    if let Ok(target) = std::fs::read_link(p) {
                        s.arg("--symlink").arg(target).arg(p);
                    }
                }
                Ok(m) if m.is_dir() => {
                    s.arg("--ro-bind").arg(p).arg(p);
                }
                _ => {}
            }
        }
        s.arg("--proc").arg("/proc").arg("--dev").arg("/dev");
        s.arg("--size")
            .arg(TMP_SIZE.to_string())
            .arg("--tmpfs")
            .arg("/tmp");
        s.arg("--perms").arg("0700").arg("--dir").arg(HOME);
        s.arg("--tmpfs").arg("/etc");
        for f in ETC {
            s.arg("--ro-bind-try").arg(f).arg(f);
        }
        s.arg("--symlink")
            .arg("../proc/self/mounts")
            .arg("/etc/mtab");
        s.arg("--remount-ro").arg("/etc");
        s
    }

    fn arg(&mut self, a: impl Into<OsString>) -> &mut Self {
        self.mounts.push(a.into());
        self
    }

    fn arg_path(&mut self, p: &Path) -> &mut Self {
        self.mounts.push(p.as_os_str().to_os_string());
        self
    }

    /// Shares the host's network instead of a namespace with only loopback.
    pub fn network(&mut self, on: bool) -> &mut Self {
        self.network = on;
        self
    }

    /// Binds the directory (or file) `fd` read-only at `at`.
    pub fn read_only(&mut self, fd: OwnedFd, at: &Path) -> &mut Self {
        let n = fd.as_raw_fd();
        self.fds.push(fd);
        self.arg("--ro-bind-fd").arg(n.to_string()).arg_path(at)
    }

    /// Binds the directory `fd` read-write at `at`.
    pub fn writable(&mut self, fd: OwnedFd, at: &Path) -> &mut Self {
        let n = fd.as_raw_fd();
        self.fds.push(fd);
        self.arg("--bind-fd").arg(n.to_string()).arg_path(at)
    }

    /// Covers the directory at `at` (already shown by an earlier bind) with an empty,
    /// read-only one.
    pub fn hide(&mut self, at: &Path) -> &mut Self {
        self.arg("--tmpfs").arg_path(at);
        self.arg("--remount-ro").arg_path(at)
    }

    /// Covers the file at `at` (already shown) with an empty read-only file: bwrap
    /// copies what it reads from `/dev/null` (nothing) into a file of its own
    /// (`--ro-bind-data`; binding `/dev/null` itself would be unreadable on bwrap's
    /// `nodev` binds). If `/dev/null` cannot be opened, a tmpfs is asked for instead,
    /// which bwrap cannot mount on a file: the sandbox then fails to start and
    /// nothing runs, rather than showing the file.
    pub fn hide_file(&mut self, at: &Path) -> &mut Self {
        match std::fs::File::open("/dev/null") {
            Ok(f) => {
                let fd = OwnedFd::from(f);
                let n = fd.as_raw_fd();
                self.fds.push(fd);
                self.arg("--perms")
                    .arg("0444")
                    .arg("--ro-bind-data")
                    .arg(n.to_string())
                    .arg_path(at)
            }
            Err(_) => self.arg("--tmpfs").arg_path(at),
        }
    }

    /// The directory the command starts in (a path inside the sandbox).
    pub fn chdir(&mut self, at: &Path) -> &mut Self {
        self.chdir = Some(at.to_path_buf());
        self
    }

    /// Sets a variable of the command's environment (which starts empty).
    pub fn env(&mut self, name: &str, value: &str) -> &mut Self {
        self.env.push((name.to_string(), value.to_string()));
        self
    }

    /// The `bwrap` command line that runs `program` (an absolute path visible inside)
    /// as `arg0` with `args`, writing bwrap's JSON status to `status`. The returned
    /// command inherits exactly the sandbox's descriptors and the status pipe; keep
    /// the sandbox alive until it is spawned.
    pub fn command(
        &self,
        program: &Path,
        arg0: &str,
        args: &[String],
        status: &StatusPipe,
    ) -> std::process::Command {
        let mut c = std::process::Command::new(&self.bwrap);
        c.env_clear();
        c.args([
            "--unshare-user",
            "--disable-userns",
            "--unshare-pid",
            "--unshare-ipc",
            "--unshare-uts",
            "--unshare-cgroup-try",
            "--hostname",
            "gantry-sandbox",
            "--die-with-parent",
            "--new-session",
            "--cap-drop",
            "ALL",
            "--clearenv",
        ]);
        if !self.network {
            c.arg("--unshare-net");
        }
        c.args(&self.mounts);
        c.arg("--setenv").arg("HOME").arg(HOME);
        for (k, v) in &self.env {
            c.arg("--setenv").arg(k).arg(v);
        }
        if let Some(d) = &self.chdir {
            c.arg("--chdir").arg(d);
        }
        let status_fd = status.write_fd();
        c.arg("--json-status-fd").arg(status_fd.to_string());
        // bwrap 0.8 has no `--argv0`: the command sees its resolved path as argv[0].
        let _ = arg0;
        c.arg("--").arg(program).args(args);
        let inherit: Vec<RawFd> = self
            .fds
            .iter()
            .map(AsRawFd::as_raw_fd)
            .chain(std::iter::once(status_fd))
            .collect();
        // SAFETY: between fork and exec only `fcntl` runs, which is async-signal-safe;
        // it clears close-on-exec on descriptors this process owns and keeps open
        // until the spawn returns, so bwrap inherits exactly these.
        unsafe {
            c.pre_exec(move || {
                for fd in &inherit {
                    if libc::fcntl(*fd, libc::F_SETFD, 0) == -1 {
                        return Err(std::io::Error::last_os_error());
                    }
                }
                Ok(())
            });
        }
        c
    }

    /// The host paths this sandbox shows, for the audit record (descriptors as the
    /// paths they were opened at).
    pub fn describe(&self) -> Vec<String> {
        let mut out = Vec::new();
        let mut it = self.mounts.iter();
        while let Some(a) = it.next() {
            let a = a.as_bytes();
            let take = |it: &mut std::slice::Iter<'_, OsString>| {
                it.next()
                    .map(|s| s.to_string_lossy().into_owned())
                    .unwrap_or_default()
            };
            match a {
                b"--ro-bind-fd" => {
                    let _ = take(&mut it);
                    out.push(format!("ro {}", take(&mut it)));
                }
                b"--bind-fd" => {
                    let _ = take(&mut it);
                    out.push(format!("rw {}", take(&mut it)));
                }
                b"--tmpfs" => {
                    let at = take(&mut it);
                    if at != "/tmp" && at != "/etc" {
                        out.push(format!("hidden {at}"));
                    }
                }
                b"--ro-bind-data" => {
                    let _ = take(&mut it);
                    out.push(format!("hidden {}", take(&mut it)));
                }
                b"--ro-bind" | b"--ro-bind-try" | b"--symlink" => {
                    let _ = (take(&mut it), take(&mut it));
                }
                b"--size" | b"--perms" | b"--dir" | b"--remount-ro" | b"--proc" | b"--dev" => {
                    let _ = take(&mut it);
                }
                _ => {}
            }
        }
        out
    }
}

/// The pipe bwrap writes its JSON status to (`--json-status-fd`): whether the
/// command was started at all (so a failed set-up is told apart from a command that
/// failed) and its exit code. bwrap writes `{"child-pid": N}` as soon as it has cloned
/// (before any mount), and `{"exit-code": N}` only when the command was executed —
/// never after a failed set-up or `execvp` — so the exit code is the proof that the
/// sandbox was complete when the command started.
pub struct StatusPipe {
    read: OwnedFd,
    write: Option<OwnedFd>,
}

/// What bwrap reported.
#[derive(Debug, Default)]
pub struct StatusReport {
    /// bwrap created the namespaces (its set-up may still have failed).
    pub cloned: bool,
    /// The command's exit code (128 + N when signal N ended it): present only when
    /// the sandbox was set up and the command executed.
    pub exit_code: Option<i32>,
}

impl StatusReport {
    /// The command ran inside a complete sandbox.
    pub fn ran(&self) -> bool {
        self.exit_code.is_some()
    }
}

impl StatusPipe {
    pub fn new() -> std::io::Result<StatusPipe> {
        use std::os::fd::FromRawFd;
        let mut fds = [0 as RawFd; 2];
        // SAFETY: `fds` has room for the two descriptors pipe2 writes.
        if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC | libc::O_NONBLOCK) } != 0 {
            return Err(std::io::Error::last_os_error());
        }
        // SAFETY: pipe2 succeeded, so both are fresh descriptors owned by nobody else.
        let (read, write) = unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) };
        Ok(StatusPipe {
            read,
            write: Some(write),
        })
    }

    fn write_fd(&self) -> RawFd {
        self.write.as_ref().map_or(-1, AsRawFd::as_raw_fd)
    }

    /// Closes gantry's copy of the write end (call once bwrap is spawned).
    pub fn spawned(&mut self) {
        self.write = None;
    }

    /// Reads what bwrap wrote; call after bwrap has exited. Never blocks.
    pub fn finish(mut self) -> StatusReport {
        self.write = None;
        let mut text = Vec::new();
        let mut buf = [0u8; 4096];
        loop {
            // SAFETY: reads into a buffer of the given length from a descriptor we own.
            let n =
                unsafe { libc::read(self.read.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len()) };
            if n <= 0 || text.len() > 1 << 16 {
                break;
            }
            text.extend_from_slice(&buf[..n as usize]);
        }
        parse_status(&String::from_utf8_lossy(&text))
    }
}

/// bwrap's status: JSON documents, one per line (`{"child-pid": N, …}` then
/// `{"exit-code": N}`).
fn parse_status(text: &str) -> StatusReport {
    let mut r = StatusReport::default();
    for line in text.lines() {
        let Ok(v) = serde_json::from_str::<serde_json::Value>(line) else {
            continue;
        };
        if v.get("child-pid").is_some() {
            r.cloned = true;
        }
        if let Some(c) = v.get("exit-code").and_then(serde_json::Value::as_i64) {
            r.exit_code = i32::try_from(c).ok();
        }
    }
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_tells_setup_failures_from_commands() {
        let r = parse_status("");
        assert!(!r.cloned && !r.ran());
        // A mount that failed after the clone: no exit code, nothing ran.
        let r = parse_status("{ \"child-pid\": 12, \"mnt-namespace\": 4 }\n");
        assert!(r.cloned && !r.ran());
        let r = parse_status("{ \"child-pid\": 12, \"mnt-namespace\": 4 }\n{ \"exit-code\": 3 }\n");
        assert!(r.cloned && r.ran());
        assert_eq!(r.exit_code, Some(3));
    }

    #[test]
    fn defaults_show_no_host_state() {
        let s = Sandbox::new(PathBuf::from("/usr/bin/bwrap"));
        let args: Vec<String> = s
            .mounts
            .iter()
            .map(|a| a.to_string_lossy().into_owned())
            .collect();
        for never in ["/etc/shadow", "/run", "/root", "/home", "/var"] {
            assert!(
                !args.iter().any(|a| a == never),
                "{never} is not shown: {args:?}"
            );
        }
        assert!(args.windows(2).any(|w| w == ["--tmpfs", "/etc"]));
        assert!(s.describe().is_empty(), "{:?}", s.describe());
        let status = StatusPipe::new().expect("pipe");
        let c = s.command(Path::new("/usr/bin/true"), "true", &[], &status);
        let argv: Vec<String> = c
            .get_args()
            .map(|a| a.to_string_lossy().into_owned())
            .collect();
        for flag in [
            "--unshare-user",
            "--disable-userns",
            "--unshare-pid",
            "--unshare-net",
            "--die-with-parent",
            "--new-session",
            "--clearenv",
        ] {
            assert!(argv.iter().any(|a| a == flag), "{flag}: {argv:?}");
        }
        assert!(argv.windows(2).any(|w| w == ["--cap-drop", "ALL"]));
        assert_eq!(c.get_envs().count(), 0, "bwrap itself gets no environment");
    }
}
