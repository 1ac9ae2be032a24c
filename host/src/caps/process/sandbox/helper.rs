//! The sandbox helper: gantry re-executed as `gantry __gantry-sandbox-helper PLAN STATUS`
//! (the first thing `main` does, before tracing, tokio or any thread starts), which
//! builds one sandbox from its [`Plan`] and runs one command in it.
//!
//! Why a re-executed, single-threaded process: creating a user namespace needs a
//! process with one thread, and mounting in a forked child of the multithreaded gantry
//! would run arbitrary code after `fork` where only async-signal-safe calls are allowed.
//! The helper is a fresh process of the same binary (`/proc/self/exe`, the very file
//! gantry runs even if the path has since been replaced), with an empty environment,
//! that inherits exactly: stdin/stdout/stderr (the command's), the plan (a sealed
//! memory file), the status pipe, and the descriptors to bind.
//!
//! Three processes, each with one job:
//!
//! 1. **helper** (outside): reads the plan, notes the path, device and inode of each
//!    descriptor to bind, creates new user, mount, PID, IPC, UTS and cgroup namespaces
//!    (and a network namespace unless the grant has `network = true`), maps gantry's uid
//!    and gid to themselves (`setgroups` denied), dies with gantry's thread
//!    (`PR_SET_PDEATHSIG`), forks **init**, drops its own capabilities and waits. Its
//!    exit status is init's.
//! 2. **init** (PID 1 of the new PID namespace): makes every mount private, builds the
//!    new root on a tmpfs (see [`Mount`]), enters it with `pivot_root` and detaches the
//!    host's tree, sets the hostname, brings up loopback, forbids further user
//!    namespaces (`user.max_user_namespaces = 0` in the sandbox's user namespace),
//!    drops every capability, becomes non-dumpable, joins a new empty session keyring,
//!    closes every descriptor it does not need, forks the command, reaps whatever is reparented to it and, when the command
//!    ends, reports its status and exits — which makes the kernel kill everything else
//!    in the namespace.
//! 3. **the command** (PID 2): `setsid`, enters its working directory through a
//!    descriptor opened without following symbolic links, restores default signal
//!    handling, closes every descriptor but 0, 1 and 2, and `execve`s the absolute path
//!    with the plan's argv and environment.
//!
//! Decisions, and why:
//!
//! - **Binds by identity, never by a path a plugin can change.** A descriptor from gantry
//!   lives in gantry's mount namespace, and Linux refuses to bind a mount of another
//!   namespace. So the helper reads the path the kernel reports for each descriptor
//!   (before leaving gantry's namespace), init re-opens that path in the copy
//!   without following any symbolic link (`openat2(RESOLVE_NO_SYMLINKS)`), and binds it
//!   only if it is the same file (device and inode); the bind then uses the verified
//!   descriptor (`/proc/self/fd/N`), so nothing is resolved again. A directory a
//!   concurrent stage swapped, moved or replaced by a link makes the set-up fail: the
//!   command does not run.
//! - **Destinations are made, not found.** Mount points are made and opened one
//!   component at a time beneath the new root, never following a symbolic link (a
//!   plugin may have planted one in the workspace), and each mount targets the opened
//!   descriptor. Covers (`.gantry`, credential files) follow links *within* the new
//!   root only (`RESOLVE_IN_ROOT`): covering what a link points at hides more, never
//!   shows more.
//! - **Read-only is the kernel's**: each bind is remounted `MS_RDONLY | MS_NOSUID |
//!   MS_NODEV` (device nodes keep `dev`, get `noexec`), keeping the flags the host
//!   locked (`noexec`, `ro`); the root tmpfs itself is read-only at the end, so nothing
//!   writes outside `/tmp`, `/dev/shm` and the write grants. Binds are not recursive: a
//!   file system mounted *below* a shown directory shows as its empty mount point,
//!   never writable.
//! - **Nothing privileged is left inside.** All capabilities are dropped (bounding,
//!   effective, permitted, inheritable, ambient), with `no_new_privs` and the
//!   `securebits` that keep uid 0 — gantry may run as root — from regaining any at
//!   `execve`. init drops them too and is non-dumpable, so the command can neither
//!   `ptrace` it nor read `/proc/1/root` or `/proc/1/fd`; the helper, which keeps none
//!   either, is outside the PID namespace and invisible.
//! - **Nested user namespaces are refused** by setting `user.max_user_namespaces` to 0
//!   in the sandbox's own user namespace (what bubblewrap's `--disable-userns` does)
//!   rather than by a seccomp filter: one write, checked by the kernel for every way of
//!   creating one (`unshare`, `clone`, `clone3`), and no filter to keep in step with
//!   new system calls. The `/proc/sys` the command sees is read-only besides.
//! - **Lifetime**: the helper dies with the gantry thread that started it, init dies with
//!   the helper, and the PID namespace dies with init. gantry kills the helper's process
//!   group on timeout or cancellation, which holds the helper and init.
//! - **Reporting**: set-up failures go to the status pipe as `E <sentence>` before any
//!   command starts; init writes `X <status>` (128 + N for signal N) after the command
//!   ends. The command never holds the pipe, so a sandbox that could not be built is
//!   never mistaken for a command that failed, and nothing runs half-sandboxed.
//!
//! What is not contained here: CPU time and memory (only the stage timeout bounds them;
//! `/tmp` and `/dev/shm` are size-limited), the number of processes (no cgroup; the
//! timeout kills the whole namespace), and the kernel's own attack surface.
//!
//! Tests: `tests/e2e/attack_process.rs` attacks a running sandbox through real plugin
//! calls; the unit tests here, in [`super`], `super::mounts` and [`super::plan`] cover
//! the parts that need no namespace.

use std::convert::Infallible;
use std::ffi::{CString, OsStr, OsString};
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};

use rustix::fs::{Mode, OFlags, ResolveFlags};
use rustix::io::Errno;
use rustix::process::{Pid, Signal, WaitOptions, WaitStatus};
use rustix::thread::{CapabilitiesSecureBits, CapabilitySet, CapabilitySets, UnshareFlags};

use super::mounts::{Inherited, build_root, open_sources, relative};
use super::plan::{Mount, Plan};

/// The hidden first argument that turns `gantry` into the helper.
pub const ARG: &str = "__gantry-sandbox-helper";

/// The helper's exit status when the sandbox could not be built.
pub const SETUP_FAILED: i32 = 125;

pub(super) type Result<T> = std::result::Result<T, String>;

/// Runs the helper if this process was started as one; returns otherwise. Never
/// returns when it was.
pub fn main_if_requested() {
    let mut args = std::env::args_os().skip(1);
    if args.next().as_deref() != Some(OsStr::new(ARG)) {
        return;
    }
    let code = helper(args.next(), args.next());
    std::process::exit(code);
}

/// Takes ownership of a descriptor number gantry passed on the command line.
pub(super) fn inherited(arg: Option<OsString>) -> Option<OwnedFd> {
    let n: RawFd = arg?.to_str()?.parse().ok()?;
    if n < 3 {
        return None;
    }
    // SAFETY: only checks that `n` is an open descriptor; the borrow ends here.
    rustix::io::fcntl_getfd(unsafe { BorrowedFd::borrow_raw(n) }).ok()?;
    // SAFETY: gantry passed `n` as a descriptor this fresh process inherited for the
    // helper; nothing else in this process knows or owns it.
    Some(unsafe { OwnedFd::from_raw_fd(n) })
}

/// The status pipe to gantry: `E <why>` for a set-up failure, `X <status>` when the
/// command has ended.
struct Status(OwnedFd);

impl Status {
    fn send(&self, line: &str) {
        // One line, control characters escaped (a path in a message may hold names a
        // plugin chose), within PIPE_BUF bytes so that the write is atomic.
        let mut line: String = line
            .chars()
            .flat_map(|c| {
                let escaped: Vec<char> = if c.is_control() {
                    c.escape_debug().collect()
                } else {
                    vec![c]
                };
                escaped
            })
            .collect();
        let mut end = line.len().min(3800);
        while !line.is_char_boundary(end) {
            end -= 1;
        }
        line.truncate(end);
        line.push('\n');
        let _ = rustix::io::write(&self.0, line.as_bytes());
    }

    fn fail(&self, why: &str) -> i32 {
        self.send(&format!("E {why}"));
        SETUP_FAILED
    }
}

fn helper(plan_arg: Option<OsString>, status_arg: Option<OsString>) -> i32 {
    let Some(status) = inherited(status_arg).map(Status) else {
        eprintln!("gantry: the sandbox helper is started by gantry itself, not by hand");
        return SETUP_FAILED;
    };
    let plan = match read_plan(plan_arg) {
        Ok(p) => p,
        Err(e) => return status.fail(&e),
    };
    match outside(&plan, &status) {
        Ok(code) => code,
        Err(e) => status.fail(&e),
    }
}

fn read_plan(arg: Option<OsString>) -> Result<Plan> {
    let fd = inherited(arg).ok_or("the sandbox helper got no plan")?;
    let mut bytes = Vec::new();
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = rustix::io::pread(&fd, &mut buf[..], bytes.len() as u64)
            .map_err(|e| format!("cannot read the sandbox plan: {}", io(e)))?;
        if n == 0 {
            break;
        }
        bytes.extend_from_slice(&buf[..n]);
        if bytes.len() > super::plan::MAX_PLAN {
            return Err("the sandbox plan is larger than 8 MiB".into());
        }
    }
    Plan::decode(&bytes).map_err(|e| e.to_string())
}

pub(super) fn io(e: Errno) -> std::io::Error {
    std::io::Error::from(e)
}

/// The helper's own part, outside the new PID namespace.
fn outside(plan: &Plan, status: &Status) -> Result<i32> {
    let mut inherited = Vec::new();
    for m in &plan.mounts {
        if let Mount::Fd { fd, .. } = m {
            inherited.push(Inherited::take(*fd)?);
        }
    }
    let uid = rustix::process::getuid().as_raw();
    let gid = rustix::process::getgid().as_raw();
    let mut flags = UnshareFlags::NEWUSER
        | UnshareFlags::NEWNS
        | UnshareFlags::NEWPID
        | UnshareFlags::NEWIPC
        | UnshareFlags::NEWUTS
        | UnshareFlags::NEWCGROUP;
    if !plan.network {
        flags |= UnshareFlags::NEWNET;
    }
    // SAFETY: `unshare_unsafe` is unsafe only because of `CLONE_FILES`, which would
    // split the descriptor table between threads; it is not among the flags, and this
    // process has a single thread.
    unsafe { rustix::thread::unshare_unsafe(flags) }.map_err(|e| {
        format!(
            "creating the sandbox's namespaces failed: {}{}",
            io(e),
            diagnose(e, true)
        )
    })?;
    let map = |file: &str, text: String| {
        std::fs::write(file, text).map_err(|e| {
            format!(
                "writing `{file}` of the sandbox's user namespace failed: {e}{}",
                diagnose(
                    e.raw_os_error()
                        .map_or(Errno::PERM, Errno::from_raw_os_error),
                    false
                )
            )
        })
    };
    map("/proc/self/setgroups", "deny".into())?;
    map("/proc/self/uid_map", format!("{uid} {uid} 1\n"))?;
    map("/proc/self/gid_map", format!("{gid} {gid} 1\n"))?;
    // Die with gantry's thread; then make sure it had not already died.
    rustix::process::set_parent_process_death_signal(Some(Signal::KILL))
        .map_err(|e| format!("PR_SET_PDEATHSIG failed: {}", io(e)))?;
    if rustix::process::getppid().map(|p| p.as_raw_nonzero().get()) != Some(plan.parent as i32) {
        return Err("gantry ended before its sandbox was built".into());
    }
    // init's end tells it whether the helper is still there (EOF once it is gone).
    let (alive_r, alive_w) = rustix::pipe::pipe_with(
        rustix::pipe::PipeFlags::CLOEXEC | rustix::pipe::PipeFlags::NONBLOCK,
    )
    .map_err(|e| format!("cannot make a pipe: {}", io(e)))?;
    match fork()? {
        None => {
            drop(alive_w);
            let why = match init(plan, status, inherited, alive_r) {
                Ok(never) => match never {},
                Err(why) => why,
            };
            exit_now(status.fail(&why))
        }
        Some(init) => {
            drop((alive_r, inherited));
            // Nothing in the sandbox can reach this process (another PID namespace), but
            // it keeps no privilege either.
            if let Err(e) = drop_privileges() {
                let _ = rustix::process::kill_process(init, Signal::KILL);
                return Err(e);
            }
            let code = wait_for(Some(init))?;
            drop(alive_w);
            Ok(code)
        }
    }
}

/// A hint for a namespace or mount failure: what on this machine forbids it, from the
/// kernel's settings.
pub(super) fn diagnose(e: Errno, creating: bool) -> String {
    let read = |p: &str| {
        std::fs::read_to_string(p)
            .ok()
            .map(|s| s.trim().to_string())
    };
    let cause = if e == Errno::NOSPC && creating {
        match read("/proc/sys/user/max_user_namespaces").as_deref() {
            Some("0") => "user namespaces are disabled on this machine (`user.max_user_namespaces` is 0); allow them with `sysctl -w user.max_user_namespaces=15000`".to_string(),
            _ => "the limit of user namespaces (`user.max_user_namespaces`) is reached".to_string(),
        }
    } else if e == Errno::PERM || e == Errno::ACCESS {
        if creating && read("/proc/sys/kernel/unprivileged_userns_clone").as_deref() == Some("0") {
            "unprivileged user namespaces are disabled (`kernel.unprivileged_userns_clone` is 0); allow them with `sysctl -w kernel.unprivileged_userns_clone=1`".to_string()
        } else if read("/proc/sys/kernel/apparmor_restrict_unprivileged_userns").as_deref()
            == Some("1")
        {
            "AppArmor restricts unprivileged user namespaces (`kernel.apparmor_restrict_unprivileged_userns` is 1); allow them for gantry with an AppArmor profile granting `userns,`, or `sysctl -w kernel.apparmor_restrict_unprivileged_userns=0`".to_string()
        } else {
            "the kernel refused: a container's seccomp profile or a security module may forbid user namespaces and mounts here".to_string()
        }
    } else if e == Errno::INVAL && creating {
        "the kernel is too old or lacks user, PID or cgroup namespaces (Linux 4.6 or later with CONFIG_USER_NS is needed)".to_string()
    } else {
        return String::new();
    };
    format!(": {cause}")
}

/// `fork()`: `None` in the child.
fn fork() -> Result<Option<Pid>> {
    // SAFETY: this process has a single thread (the helper starts before anything could
    // start one, and never does), so the child may run any code, allocation included.
    let pid = unsafe { libc::fork() };
    match pid {
        -1 => Err(format!("fork failed: {}", std::io::Error::last_os_error())),
        0 => Ok(None),
        n => Ok(Pid::from_raw(n)),
    }
}

/// Leaves the process at once, without running destructors or flushing anything the
/// parent also holds.
fn exit_now(code: i32) -> ! {
    // SAFETY: `_exit` has no preconditions; it ends this process.
    unsafe { libc::_exit(code) }
}

fn status_code(st: WaitStatus) -> i32 {
    match (st.exit_status(), st.terminating_signal()) {
        (Some(code), _) => code,
        (None, Some(sig)) => 128 + sig,
        (None, None) => SETUP_FAILED,
    }
}

/// Waits for `pid` (any child when `None`) to end; returns its status as a shell would.
fn wait_for(pid: Option<Pid>) -> Result<i32> {
    loop {
        match rustix::process::waitpid(pid, WaitOptions::empty()) {
            Ok(Some((_, st))) => return Ok(status_code(st)),
            Ok(None) | Err(Errno::INTR) => {}
            Err(e) => return Err(format!("waiting for the sandbox failed: {}", io(e))),
        }
    }
}

/// Drops every capability for good, with `no_new_privs`; fails if any is left.
fn drop_privileges() -> Result<()> {
    let fail = |what: &str, e: Errno| format!("dropping capabilities ({what}) failed: {}", io(e));
    // First, while CAP_SETPCAP is still there: uid 0 gains nothing at execve, setuid
    // fix-ups are off, ambient capabilities can never be raised, all locked.
    rustix::thread::set_capabilities_secure_bits(
        CapabilitiesSecureBits::NO_ROOT
            | CapabilitiesSecureBits::NO_ROOT_LOCKED
            | CapabilitiesSecureBits::NO_SETUID_FIXUP
            | CapabilitiesSecureBits::NO_SETUID_FIXUP_LOCKED
            | CapabilitiesSecureBits::KEEP_CAPS_LOCKED
            | CapabilitiesSecureBits::NO_CAP_AMBIENT_RAISE
            | CapabilitiesSecureBits::NO_CAP_AMBIENT_RAISE_LOCKED,
    )
    .map_err(|e| fail("securebits", e))?;
    // Every capability the kernel knows; it answers EINVAL past the last one.
    let mut known = 0;
    for cap in 0..64u32 {
        match rustix::thread::remove_capability_from_bounding_set(CapabilitySet::from_bits_retain(
            1 << cap,
        )) {
            Ok(()) => known = cap + 1,
            Err(Errno::INVAL) => break,
            Err(e) => return Err(fail("bounding set", e)),
        }
    }
    rustix::thread::clear_ambient_capability_set().map_err(|e| fail("ambient set", e))?;
    let none = CapabilitySets {
        effective: CapabilitySet::empty(),
        permitted: CapabilitySet::empty(),
        inheritable: CapabilitySet::empty(),
    };
    rustix::thread::set_capabilities(None, none).map_err(|e| fail("capset", e))?;
    rustix::thread::set_no_new_privs(true).map_err(|e| fail("no_new_privs", e))?;
    // Checked, not assumed.
    let now = rustix::thread::capabilities(None).map_err(|e| fail("capget", e))?;
    let left = (0..known).any(|cap| {
        rustix::thread::capability_is_in_bounding_set(CapabilitySet::from_bits_retain(1 << cap))
            .unwrap_or(true)
    });
    if !now.effective.is_empty() || !now.permitted.is_empty() || !now.inheritable.is_empty() || left
    {
        return Err("capabilities are left after dropping them all".into());
    }
    Ok(())
}

/// init: PID 1 of the sandbox. Returns only with the reason the sandbox could not be
/// built.
fn init(
    plan: &Plan,
    status: &Status,
    inherited: Vec<Inherited>,
    alive: OwnedFd,
) -> Result<Infallible> {
    rustix::process::set_parent_process_death_signal(Some(Signal::KILL))
        .map_err(|e| format!("PR_SET_PDEATHSIG failed: {}", io(e)))?;
    // The helper may have died before the line above; its end of the pipe tells.
    if !matches!(rustix::io::read(&alive, &mut [0u8; 1]), Err(Errno::AGAIN)) {
        return Err("the sandbox helper ended before the sandbox was built".into());
    }

    let sources = open_sources(plan, inherited)?;
    build_root(plan, sources)?;
    rustix::system::sethostname(&plan.hostname)
        .map_err(|e| format!("sethostname failed: {}", io(e)))?;
    if !plan.network {
        loopback_up()?;
    }
    let root = rustix::fs::open(
        "/",
        OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC,
        Mode::empty(),
    )
    .map_err(|e| format!("cannot open the new root: {}", io(e)))?;
    let rel = relative(&plan.chdir)?;
    let cwd = rustix::fs::openat2(
        &root,
        if rel.is_empty() { &b"."[..] } else { &rel[..] },
        OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC,
        Mode::empty(),
        ResolveFlags::BENEATH | ResolveFlags::NO_SYMLINKS | ResolveFlags::NO_MAGICLINKS,
    )
    .map_err(|e| {
        format!(
            "the working directory `{}` cannot be entered inside the sandbox: {}",
            String::from_utf8_lossy(&plan.chdir),
            io(e)
        )
    })?;
    drop(root);

    drop_privileges()?;
    rustix::process::set_dumpable_behavior(rustix::process::DumpableBehavior::NotDumpable)
        .map_err(|e| format!("PR_SET_DUMPABLE failed: {}", io(e)))?;
    new_session_keyring()?;
    close_others(&[status.0.as_raw_fd(), alive.as_raw_fd(), cwd.as_raw_fd()])?;

    let (err_r, err_w) = rustix::pipe::pipe_with(rustix::pipe::PipeFlags::CLOEXEC)
        .map_err(|e| format!("cannot make a pipe: {}", io(e)))?;
    let Some(command) = fork()? else {
        drop(err_r);
        let e = exec(plan, &cwd, err_w.as_raw_fd());
        let code = e.raw_os_error().unwrap_or(libc::EINVAL);
        let _ = rustix::io::write(&err_w, &code.to_ne_bytes());
        exit_now(127);
    };
    drop((err_w, cwd));
    // Nothing to read means `execve` succeeded (the pipe closed on exec).
    let mut errno = [0u8; 4];
    let mut got = 0;
    while got < errno.len() {
        match rustix::io::read(&err_r, &mut errno[got..]) {
            Ok(0) => break,
            Ok(n) => got += n,
            Err(Errno::INTR) => {}
            Err(_) => break,
        }
    }
    if got == errno.len() {
        let _ = wait_for(Some(command));
        return Err(format!(
            "cannot execute `{}` inside the sandbox: {}",
            String::from_utf8_lossy(&plan.program),
            std::io::Error::from_raw_os_error(i32::from_ne_bytes(errno))
        ));
    }
    drop(err_r);
    // Reap everything reparented to PID 1 until the command itself ends.
    let code = loop {
        match rustix::process::wait(WaitOptions::empty()) {
            Ok(Some((pid, st))) if pid == command => break Ok(status_code(st)),
            Ok(_) | Err(Errno::INTR) => {}
            Err(e) => break Err(e),
        }
    };
    let code = match code {
        Ok(code) => {
            status.send(&format!("X {code}"));
            code
        }
        // Cannot happen while the command lives (it is this process's child); if it
        // does, gantry is told the command's status is unknown.
        Err(e) => status.fail(&format!("waiting for the command failed: {}", io(e))),
    };
    // PID 1 ends: the kernel kills whatever the command left in the namespace.
    exit_now(code)
}

/// Leaves the session keyring inherited from gantry for a new, empty one. A session
/// keyring is inherited across `fork`, `execve` and user namespaces alike: without this,
/// the command could read every key gantry's session holds (login or CI credentials)
/// with `keyctl`. Keys of the old one stay out of reach: their owner's permissions
/// are only to view them, and possession is gone. A kernel without keys (`ENOSYS`) has
/// nothing to leak.
fn new_session_keyring() -> Result<()> {
    const KEYCTL_JOIN_SESSION_KEYRING: libc::c_long = 1;
    // SAFETY: keyctl(KEYCTL_JOIN_SESSION_KEYRING, NULL) takes no pointer but the null
    // name, which asks for a new anonymous keyring; it touches no memory of ours.
    let r = unsafe {
        libc::syscall(
            libc::SYS_keyctl,
            KEYCTL_JOIN_SESSION_KEYRING,
            std::ptr::null::<libc::c_char>(),
        )
    };
    if r < 0 {
        let e = std::io::Error::last_os_error();
        if e.raw_os_error() != Some(libc::ENOSYS) {
            return Err(format!(
                "cannot give the sandbox its own session keyring: {e}"
            ));
        }
    }
    Ok(())
}

/// The command, PID 2. Returns only if `execve` failed.
fn exec(plan: &Plan, cwd: &OwnedFd, err: RawFd) -> std::io::Error {
    if let Err(e) = rustix::process::setsid() {
        return io(e);
    }
    if let Err(e) = rustix::process::fchdir(cwd) {
        return io(e);
    }
    // Default dispositions and an empty mask, whatever gantry's parent left.
    // SAFETY: plain system calls in this single-threaded process; no handler is
    // installed, only the defaults restored (invalid numbers fail harmlessly).
    unsafe {
        for sig in 1..=64 {
            if sig != libc::SIGKILL && sig != libc::SIGSTOP {
                libc::signal(sig, libc::SIG_DFL);
            }
        }
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        libc::sigprocmask(libc::SIG_SETMASK, &set, std::ptr::null_mut());
    }
    // Every descriptor but 0, 1 and 2 closes at execve (the error pipe already does).
    if let Err(e) = cloexec_all(err) {
        return e;
    }
    let cstr = |b: &[u8]| CString::new(b.to_vec());
    let (Ok(program), Ok(argv), Ok(env)) = (
        cstr(&plan.program),
        plan.argv
            .iter()
            .map(|a| cstr(a))
            .collect::<std::result::Result<Vec<_>, _>>(),
        plan.env
            .iter()
            .map(|a| cstr(a))
            .collect::<std::result::Result<Vec<_>, _>>(),
    ) else {
        return std::io::Error::from_raw_os_error(libc::EINVAL);
    };
    let mut argv_p: Vec<*const libc::c_char> = argv.iter().map(|a| a.as_ptr()).collect();
    argv_p.push(std::ptr::null());
    let mut env_p: Vec<*const libc::c_char> = env.iter().map(|a| a.as_ptr()).collect();
    env_p.push(std::ptr::null());
    // SAFETY: every pointer is to a NUL-terminated string owned above, and both arrays
    // end with a null pointer, as execve requires.
    unsafe { libc::execve(program.as_ptr(), argv_p.as_ptr(), env_p.as_ptr()) };
    std::io::Error::last_os_error()
}

/// Marks every descriptor above 2 close-on-exec (`err` is already): after `execve`
/// the command holds 0, 1 and 2 only.
fn cloexec_all(err: RawFd) -> std::result::Result<(), std::io::Error> {
    let open: Vec<RawFd> = std::fs::read_dir("/proc/self/fd")?
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
        .collect();
    for fd in open {
        if fd > 2 && fd != err {
            // SAFETY: only sets a flag on the descriptor, if it is still open (the
            // listing's own is closed by now: EBADF, ignored); nothing is closed.
            let _ = rustix::io::fcntl_setfd(
                unsafe { BorrowedFd::borrow_raw(fd) },
                rustix::io::FdFlags::CLOEXEC,
            );
        }
    }
    Ok(())
}

/// Closes every descriptor of this process except 0, 1, 2 and `keep`. Every descriptor
/// a Rust value still owns must be in `keep`.
fn close_others(keep: &[RawFd]) -> Result<()> {
    let dir = std::fs::read_dir("/proc/self/fd")
        .map_err(|e| format!("cannot list this process's descriptors: {e}"))?;
    let open: Vec<RawFd> = dir
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
        .collect();
    for fd in open {
        if fd > 2 && !keep.contains(&fd) {
            // SAFETY: no Rust value owns `fd` (the caller keeps every owned one in
            // `keep`): it is a descriptor inherited from outside, or the directory
            // listing's own, already closed (then EBADF, ignored).
            unsafe { libc::close(fd) };
        }
    }
    Ok(())
}

/// Brings the loopback interface of the sandbox's network namespace up (the kernel
/// gives it 127.0.0.1 and ::1), so that a command can talk to itself.
fn loopback_up() -> Result<()> {
    let sock = std::net::UdpSocket::bind("0.0.0.0:0")
        .map_err(|e| format!("cannot open a socket to bring up loopback: {e}"))?;
    // SAFETY: `ifreq` is plain data; all-zero is a valid value.
    let mut req: libc::ifreq = unsafe { std::mem::zeroed() };
    for (d, s) in req.ifr_name.iter_mut().zip(b"lo\0") {
        *d = *s as libc::c_char;
    }
    // SAFETY: SIOCGIFFLAGS/SIOCSIFFLAGS read and write the `ifreq` passed, which lives
    // across both calls; the socket is open.
    let ok = unsafe {
        libc::ioctl(sock.as_raw_fd(), libc::SIOCGIFFLAGS, &mut req) == 0 && {
            req.ifr_ifru.ifru_flags |= libc::IFF_UP as libc::c_short;
            libc::ioctl(sock.as_raw_fd(), libc::SIOCSIFFLAGS, &req) == 0
        }
    };
    if !ok {
        return Err(format!(
            "cannot bring up the sandbox's loopback interface: {}",
            std::io::Error::last_os_error()
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_report_is_one_escaped_line_within_pipe_buf() {
        let (r, w) = rustix::pipe::pipe().expect("pipe");
        let status = Status(w);
        status.send("E `/w/\u{1b}[2Jdist`\nwas moved");
        status.send(&format!("E {}", "é".repeat(3000)));
        drop(status);
        let mut got = Vec::new();
        let mut buf = [0u8; 8192];
        loop {
            match rustix::io::read(&r, &mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => got.extend_from_slice(&buf[..n]),
            }
        }
        let text = String::from_utf8(got).expect("UTF-8, cut at a character boundary");
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 2, "{text}");
        assert_eq!(lines[0], "E `/w/\\u{1b}[2Jdist`\\nwas moved");
        assert!(
            lines[1].len() < 3801 && lines[1].starts_with("E éé"),
            "{}",
            lines[1].len()
        );
    }
}
