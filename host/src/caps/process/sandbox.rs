//! The OS sandbox every granted host command runs in: gantry's own, built from Linux
//! namespaces by gantry itself (no bubblewrap or other tool to install), one sandbox
//! per call.
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
//! - **namespaces**: new user (gantry's uid and gid mapped to themselves, `setgroups`
//!   denied, every capability dropped even when gantry runs as root, no further user
//!   namespaces), mount, PID, IPC, UTS (hostname [`HOSTNAME`]) and cgroup namespaces,
//!   and a network namespace with only loopback unless [`Sandbox::network`] is set;
//! - **lifetime**: the command is PID 2 of its own PID namespace under an init that
//!   dies with gantry: when the command exits, or the broker kills the sandbox
//!   (timeout, cancelled stage, gantry itself dying), every process it started dies
//!   with it, `setsid` and double forks included; the command runs in a new session,
//!   so it has no terminal to push input into;
//! - **files**: `/usr` and `/bin`, `/sbin`, `/lib*` read-only as the host has them
//!   (symbolic links kept as links); a curated read-only `/etc` ([`ETC`]: users, name
//!   resolution, the loader cache, CA certificates, `alternatives`, time zone — never
//!   `shadow`, the host's ssh or git configuration); a fresh `/proc` whose kernel knobs
//!   are read-only; a minimal `/dev`; a private `/tmp` (tmpfs of at most [`TMP_SIZE`])
//!   holding an empty private `HOME` ([`HOME`]); everything else read-only and empty —
//!   no workspace unless bound, no home directory, no `/run` (so no Docker socket), no
//!   `/var`, no gantry state or cache;
//! - **descriptors and keys**: the command holds stdin, stdout and stderr, nothing
//!   else, and a new empty session keyring (not gantry's: its keys stay out of reach);
//! - **environment**: only `HOME`, what [`Sandbox::env`] sets, and `PWD`.
//!
//! Directories are bound from descriptors gantry opened itself: the workspace, each
//! writable directory (opened beneath the workspace's descriptor with
//! `openat2(RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS)`) and each extra read-only host
//! directory. The helper binds exactly those files — re-opened without following
//! symbolic links and checked by device and inode, see [`helper`] — so a path a plugin
//! swaps for a link or another directory during the stage makes the set-up fail
//! instead of binding something else.
//!
//! How it is built: gantry re-executes itself (`/proc/self/exe`) as a single-threaded
//! helper that creates the namespaces and mounts ([`helper`], which documents each
//! decision), given the [`plan::Plan`] in a sealed memory file. Set-up failures and
//! the command's status come back on a [`StatusPipe`]: a sandbox that could not be
//! built is never mistaken for a command that failed, and nothing runs unsandboxed.
//! If the machine cannot make the sandbox (user namespaces disabled or restricted, a
//! container's seccomp profile, a masked `/proc`), every call fails with one sentence
//! saying what is missing and how to allow it, and `gantry check` reports [`probe`]'s
//! error for every pipeline with process grants. There is deliberately no fallback and
//! no second implementation: one sandbox, tested from inside.
//!
//! Tests: `tests/e2e/attack_process.rs` (escapes from inside: `core.fsmonitor`,
//! `setsid` survivors, writes to read-only parts, network, `/etc/shadow`, `$HOME`,
//! remounts, unmounts, nested namespaces, `pivot_root`/`chroot`, `ptrace` of PID 1,
//! signals to the host, leaked descriptors, `/proc/self/fd` writes, `/dev/tty`, a fork
//! bomb, the run records, a machine without user namespaces); the unit tests below and
//! in [`plan`] and [`helper`].

pub mod helper;
mod mounts;
pub mod plan;

use std::ffi::OsString;
use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use plan::{Mount, Plan};

/// What gantry says after any reason a sandbox could not be built.
pub const NOTHING_RAN: &str =
    "the command did not run: gantry never runs a host command outside its sandbox";

/// `HOME` inside the sandbox: empty, private, gone when the command ends.
pub const HOME: &str = "/tmp/home";

/// The sandbox's hostname.
pub const HOSTNAME: &str = "gantry-sandbox";

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

/// The program the helper runs as: this very binary, as the kernel has it open (a
/// rebuilt or replaced file at gantry's path does not matter).
const SELF_EXE: &str = "/proc/self/exe";

fn is_executable(p: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

/// Whether a sandbox can be made on this machine: runs `true` in the default sandbox
/// once per gantry process. The error is one sentence saying what is missing.
pub fn probe() -> Result<(), String> {
    static RESULT: OnceLock<Result<(), String>> = OnceLock::new();
    RESULT
        .get_or_init(|| {
            let program = ["/usr/bin/true", "/bin/true"]
                .into_iter()
                .map(Path::new)
                .find(|p| is_executable(p))
                .ok_or_else(|| "cannot find `true` to try the process sandbox".to_string())?;
            let cannot = |e: std::io::Error| {
                format!("the process sandbox cannot be tried on this machine: {e}; {NOTHING_RAN}")
            };
            let sandbox = Sandbox::new();
            let mut status = StatusPipe::new().map_err(cannot)?;
            let mut command = sandbox
                .command(program, "true", &[], &status)
                .map_err(cannot)?;
            let out = command
                .stdin(std::process::Stdio::null())
                .output()
                .map_err(|e| cannot(spawn_error(e)))?;
            status.spawned();
            drop(command);
            let report = status.finish();
            if report.ran() && out.status.success() {
                Ok(())
            } else {
                Err(setup_failure(&report, &out.stderr))
            }
        })
        .clone()
}

/// What a failure to start the helper means.
pub fn spawn_error(e: std::io::Error) -> std::io::Error {
    if e.kind() == std::io::ErrorKind::NotFound {
        std::io::Error::other(format!(
            "`{SELF_EXE}` is missing: the sandbox needs /proc mounted"
        ))
    } else {
        e
    }
}

/// The sentence for a sandbox that could not be set up, from the helper's report (or,
/// if it died before reporting, its stderr).
pub fn setup_failure(report: &StatusReport, stderr: &[u8]) -> String {
    let why = match &report.error {
        Some(e) => e.clone(),
        None => {
            let text = String::from_utf8_lossy(stderr);
            let line = text
                .lines()
                .find(|l| !l.trim().is_empty())
                .unwrap_or("no message");
            let line: String = line.chars().filter(|c| !c.is_control()).take(300).collect();
            format!("its helper ended without a report ({line})")
        }
    };
    format!("the process sandbox could not be set up: {why}; {NOTHING_RAN}")
}

/// A sandbox for one command, with the secure defaults listed in the module
/// documentation. Descriptors handed to it stay open until it is dropped.
pub struct Sandbox {
    mounts: Vec<Mount>,
    /// How many of `mounts` are the defaults of [`Sandbox::new`] (not described).
    defaults: usize,
    fds: Vec<OwnedFd>,
    env: Vec<(String, String)>,
    network: bool,
    chdir: Option<PathBuf>,
}

impl Default for Sandbox {
    fn default() -> Self {
        Self::new()
    }
}

fn bytes(p: &Path) -> Vec<u8> {
    p.as_os_str().as_bytes().to_vec()
}

impl Sandbox {
    /// The default sandbox: see the module documentation.
    pub fn new() -> Sandbox {
        let mut mounts = Vec::new();
        for dir in SYSTEM {
            let p = Path::new(dir);
            match std::fs::symlink_metadata(p) {
                Ok(m) if m.file_type().is_symlink() => {
                    if let Ok(target) = std::fs::read_link(p) {
                        mounts.push(Mount::Symlink {
                            target: bytes(&target),
                            at: bytes(p),
                        });
                    }
                }
                Ok(m) if m.is_dir() => mounts.push(Mount::Host {
                    path: bytes(p),
                    optional: false,
                }),
                _ => {}
            }
        }
        mounts.push(Mount::Proc {
            at: b"/proc".to_vec(),
        });
        // The descriptions of the host's keys its uid may view (the keys themselves are
        // out of reach: the sandbox has its own session keyring).
        mounts.push(Mount::HideFile {
            at: b"/proc/keys".to_vec(),
        });
        mounts.push(Mount::Dev {
            at: b"/dev".to_vec(),
        });
        mounts.push(Mount::Tmpfs {
            at: b"/tmp".to_vec(),
            size: TMP_SIZE,
            mode: 0o1777,
        });
        mounts.push(Mount::Dir {
            at: HOME.as_bytes().to_vec(),
            mode: 0o700,
        });
        for f in ETC {
            mounts.push(Mount::Host {
                path: f.as_bytes().to_vec(),
                optional: true,
            });
        }
        mounts.push(Mount::Symlink {
            target: b"../proc/self/mounts".to_vec(),
            at: b"/etc/mtab".to_vec(),
        });
        Sandbox {
            defaults: mounts.len(),
            mounts,
            fds: Vec::new(),
            env: Vec::new(),
            network: false,
            chdir: None,
        }
    }

    /// Shares the host's network instead of a namespace with only loopback.
    pub fn network(&mut self, on: bool) -> &mut Self {
        self.network = on;
        self
    }

    /// Binds the directory (or file) `fd` read-only at `at`.
    pub fn read_only(&mut self, fd: OwnedFd, at: &Path) -> &mut Self {
        self.mounts.push(Mount::Fd {
            fd: fd.as_raw_fd(),
            at: bytes(at),
            writable: false,
        });
        self.fds.push(fd);
        self
    }

    /// Binds the directory `fd` read-write at `at`.
    pub fn writable(&mut self, fd: OwnedFd, at: &Path) -> &mut Self {
        self.mounts.push(Mount::Fd {
            fd: fd.as_raw_fd(),
            at: bytes(at),
            writable: true,
        });
        self.fds.push(fd);
        self
    }

    /// Covers the directory at `at` (already shown by an earlier bind) with an empty,
    /// read-only one.
    pub fn hide(&mut self, at: &Path) -> &mut Self {
        self.mounts.push(Mount::Hide { at: bytes(at) });
        self
    }

    /// Covers the file at `at` (already shown) with an empty read-only file.
    pub fn hide_file(&mut self, at: &Path) -> &mut Self {
        self.mounts.push(Mount::HideFile { at: bytes(at) });
        self
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

    /// The plan the helper executes for `program` (an absolute path visible inside)
    /// run as `arg0` with `args`.
    fn plan(&self, program: &Path, arg0: &str, args: &[String]) -> Plan {
        let chdir = self.chdir.clone().unwrap_or_else(|| PathBuf::from("/"));
        // `HOME` first, then the caller's variables (a later one wins), `PWD` last.
        let mut env: Vec<(OsString, OsString)> = vec![("HOME".into(), HOME.into())];
        let mut set = |k: OsString, v: OsString| {
            env.retain(|(name, _)| *name != k);
            env.push((k, v));
        };
        for (k, v) in &self.env {
            set(k.into(), v.into());
        }
        set("PWD".into(), chdir.clone().into_os_string());
        Plan {
            parent: std::process::id(),
            network: self.network,
            hostname: HOSTNAME.as_bytes().to_vec(),
            mounts: self.mounts.clone(),
            chdir: bytes(&chdir),
            program: bytes(program),
            argv: std::iter::once(arg0.as_bytes().to_vec())
                .chain(args.iter().map(|a| a.as_bytes().to_vec()))
                .collect(),
            env: env
                .into_iter()
                .map(|(k, v)| {
                    let mut e = k.into_vec();
                    e.push(b'=');
                    e.extend(v.into_vec());
                    e
                })
                .collect(),
        }
    }

    /// The command that builds this sandbox and runs `program` (an absolute path
    /// visible inside) as `arg0` with `args`, reporting to `status`. The returned
    /// command is gantry's own binary as the sandbox helper: it inherits exactly the
    /// sandbox's descriptors, the plan and the status pipe, and no environment. Keep
    /// the sandbox alive until it is spawned.
    pub fn command(
        &self,
        program: &Path,
        arg0: &str,
        args: &[String],
        status: &StatusPipe,
    ) -> std::io::Result<std::process::Command> {
        use rustix::fs::{MemfdFlags, SealFlags};
        let encoded = self.plan(program, arg0, args).encode();
        let plan = rustix::fs::memfd_create(
            "gantry-sandbox-plan",
            MemfdFlags::CLOEXEC | MemfdFlags::ALLOW_SEALING,
        )?;
        let mut written = 0;
        while written < encoded.len() {
            written += rustix::io::write(&plan, &encoded[written..])?;
        }
        // Sealed: nobody changes the plan between here and the helper's reading it.
        rustix::fs::fcntl_add_seals(
            &plan,
            SealFlags::WRITE | SealFlags::GROW | SealFlags::SHRINK | SealFlags::SEAL,
        )?;
        let status_fd = status.write_fd();
        let mut c = std::process::Command::new(SELF_EXE);
        c.arg0("gantry")
            .arg(helper::ARG)
            .arg(plan.as_raw_fd().to_string())
            .arg(status_fd.to_string())
            .env_clear();
        let inherit: Vec<RawFd> = self
            .fds
            .iter()
            .map(AsRawFd::as_raw_fd)
            .chain([plan.as_raw_fd(), status_fd])
            .collect();
        // SAFETY: between fork and exec only `fcntl` runs, which is async-signal-safe;
        // it clears close-on-exec on descriptors this process owns and keeps open until
        // the spawn returns (the plan's is owned by this closure), so the helper
        // inherits exactly these.
        unsafe {
            c.pre_exec(move || {
                let _owned = &plan;
                for fd in &inherit {
                    if libc::fcntl(*fd, libc::F_SETFD, 0) == -1 {
                        return Err(std::io::Error::last_os_error());
                    }
                }
                Ok(())
            });
        }
        Ok(c)
    }

    /// The host paths this sandbox shows beyond its defaults, for the audit record
    /// (descriptors as the paths they are shown at).
    pub fn describe(&self) -> Vec<String> {
        let shown = |at: &[u8]| String::from_utf8_lossy(at).into_owned();
        self.mounts[self.defaults..]
            .iter()
            .filter_map(|m| match m {
                Mount::Fd {
                    at, writable: true, ..
                } => Some(format!("rw {}", shown(at))),
                Mount::Fd { at, .. } => Some(format!("ro {}", shown(at))),
                Mount::Hide { at } | Mount::HideFile { at } => {
                    Some(format!("hidden {}", shown(at)))
                }
                _ => None,
            })
            .collect()
    }
}

/// The pipe the sandbox reports to: `E <why>` when it could not be built (before any
/// command starts), `X <status>` when the command has ended (128 + N for signal N).
/// The command never holds it, so the status is proof that the sandbox was complete
/// when the command started.
pub struct StatusPipe {
    read: OwnedFd,
    write: Option<OwnedFd>,
}

/// What the sandbox reported.
#[derive(Debug, Default)]
pub struct StatusReport {
    /// The command's exit status (128 + N when signal N ended it): present only when
    /// the sandbox was built and the command executed.
    pub exit_code: Option<i32>,
    /// Why the sandbox could not be built.
    pub error: Option<String>,
}

impl StatusReport {
    /// The command ran inside a complete sandbox.
    pub fn ran(&self) -> bool {
        self.exit_code.is_some()
    }
}

impl StatusPipe {
    pub fn new() -> std::io::Result<StatusPipe> {
        use rustix::pipe::PipeFlags;
        let (read, write) = rustix::pipe::pipe_with(PipeFlags::CLOEXEC | PipeFlags::NONBLOCK)?;
        Ok(StatusPipe {
            read,
            write: Some(write),
        })
    }

    fn write_fd(&self) -> RawFd {
        self.write.as_ref().map_or(-1, AsRawFd::as_raw_fd)
    }

    /// Closes gantry's copy of the write end (call once the helper is spawned).
    pub fn spawned(&mut self) {
        self.write = None;
    }

    /// Reads what the sandbox wrote; call after the helper has exited. Never blocks.
    pub fn finish(mut self) -> StatusReport {
        self.write = None;
        let mut text = Vec::new();
        let mut buf = [0u8; 4096];
        while text.len() <= 1 << 16 {
            match rustix::io::read(&self.read, &mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => text.extend_from_slice(&buf[..n]),
            }
        }
        parse_status(&String::from_utf8_lossy(&text))
    }
}

/// The status lines: `E <why>` (the first one counts) and `X <status>`.
fn parse_status(text: &str) -> StatusReport {
    let mut r = StatusReport::default();
    for line in text.lines() {
        if let Some(why) = line.strip_prefix("E ") {
            r.error.get_or_insert_with(|| why.to_string());
        } else if let Some(code) = line.strip_prefix("X ") {
            r.exit_code = code.trim().parse().ok();
        }
    }
    // A report of both cannot come from a sound helper: trust neither the status.
    if r.error.is_some() {
        r.exit_code = None;
    }
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_tells_setup_failures_from_commands() {
        let r = parse_status("");
        assert!(!r.ran() && r.error.is_none());
        let r = parse_status("E mounting the workspace failed: Permission denied\n");
        assert!(!r.ran());
        assert_eq!(
            r.error.as_deref(),
            Some("mounting the workspace failed: Permission denied")
        );
        let r = parse_status("X 3\n");
        assert!(r.ran());
        assert_eq!(r.exit_code, Some(3));
        let r = parse_status("X 137\n");
        assert_eq!(r.exit_code, Some(137));
        // An error wins over any status.
        let r = parse_status("E first\nX 0\nE second\n");
        assert!(!r.ran());
        assert_eq!(r.error.as_deref(), Some("first"));
        let msg = setup_failure(&parse_status(""), b"\n gantry: boom\x1b[2J\n");
        assert!(
            msg.contains("its helper ended without a report ( gantry: boom[2J)"),
            "{msg}"
        );
        assert!(msg.ends_with(NOTHING_RAN), "{msg}");
    }

    #[test]
    fn defaults_show_no_host_state() {
        let s = Sandbox::new();
        let plan = s.plan(Path::new("/usr/bin/true"), "true", &["x".into()]);
        let paths: Vec<String> = plan
            .mounts
            .iter()
            .filter_map(|m| match m {
                Mount::Host { path, .. } => Some(String::from_utf8_lossy(path).into_owned()),
                _ => None,
            })
            .collect();
        for never in ["/etc/shadow", "/run", "/root", "/home", "/var", "/etc", "/"] {
            assert!(
                !paths.iter().any(|a| a == never),
                "{never} is not shown: {paths:?}"
            );
        }
        assert!(
            paths
                .iter()
                .all(|p| p.starts_with("/etc/") || SYSTEM.contains(&p.as_str())),
            "{paths:?}"
        );
        assert!(plan.mounts.contains(&Mount::Tmpfs {
            at: b"/tmp".to_vec(),
            size: TMP_SIZE,
            mode: 0o1777
        }));
        assert!(s.describe().is_empty(), "{:?}", s.describe());
        assert!(!plan.network, "no network by default");
        assert_eq!(plan.argv, [b"true".to_vec(), b"x".to_vec()]);
        assert_eq!(
            plan.env,
            [b"HOME=/tmp/home".to_vec(), b"PWD=/".to_vec()],
            "nothing of gantry's environment"
        );
        assert_eq!(plan.parent, std::process::id());
    }

    #[test]
    fn the_builder_adds_what_the_grant_names() {
        let mut s = Sandbox::new();
        let dev_null = || OwnedFd::from(std::fs::File::open("/dev/null").expect("open"));
        s.read_only(dev_null(), Path::new("/w"))
            .writable(dev_null(), Path::new("/w/dist"))
            .hide(Path::new("/w/.gantry"))
            .hide_file(Path::new("/opt/t/.netrc"))
            .env("A", "1")
            .env("PWD", "/elsewhere")
            .env("A", "2")
            .chdir(Path::new("/w/dist"))
            .network(true);
        assert_eq!(
            s.describe(),
            [
                "ro /w",
                "rw /w/dist",
                "hidden /w/.gantry",
                "hidden /opt/t/.netrc"
            ]
        );
        let plan = s.plan(Path::new("/usr/bin/env"), "env", &[]);
        assert!(plan.network);
        assert_eq!(plan.chdir, b"/w/dist");
        assert_eq!(
            plan.env,
            [
                b"HOME=/tmp/home".to_vec(),
                b"A=2".to_vec(),
                b"PWD=/w/dist".to_vec()
            ],
            "later values win, and PWD is the working directory"
        );
        let fds: Vec<i32> = plan
            .mounts
            .iter()
            .filter_map(|m| match m {
                Mount::Fd { fd, .. } => Some(*fd),
                _ => None,
            })
            .collect();
        assert_eq!(
            fds,
            s.fds.iter().map(AsRawFd::as_raw_fd).collect::<Vec<_>>(),
            "the plan names the descriptors the sandbox keeps open"
        );
        // The helper gets gantry's own binary, its hidden argument, and no environment.
        let status = StatusPipe::new().expect("pipe");
        let c = s
            .command(Path::new("/usr/bin/env"), "env", &[], &status)
            .expect("command");
        assert_eq!(c.get_program(), SELF_EXE);
        let args: Vec<String> = c
            .get_args()
            .map(|a| a.to_string_lossy().into_owned())
            .collect();
        assert_eq!(args.first().map(String::as_str), Some(helper::ARG));
        assert_eq!(args.len(), 3, "{args:?}");
        assert_eq!(c.get_envs().count(), 0, "env_clear: nothing set");
    }
}
