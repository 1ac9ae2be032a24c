//! Running a planned command in gantry's sandbox: output captured under its caps,
//! the process group waited for and killed at the deadline or on cancel.

#[allow(unused_imports)]
use super::*;

/// Everything checked; what [`execute`] needs.
pub(super) struct Plan {
    pub(super) program: String,
    pub(super) exe: PathBuf,
    pub(super) args: Vec<String>,
    pub(super) stdin: Option<Vec<u8>>,
    pub(super) timeout: Duration,
    /// Whether the timeout is the stage's own remaining time.
    pub(super) stage_bound: bool,
    pub(super) output_cap: u64,
    pub(super) cancel: Option<Arc<AtomicBool>>,
    /// Where the command runs: see [`sandbox`].
    pub(super) sandbox: Sandbox,
}

/// What happened to one stream.
#[derive(Default)]
pub(super) struct Capture {
    pub(super) kept: Vec<u8>,
    pub(super) dropped: u64,
}

pub(super) fn spawn_reader(
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
pub(super) fn spawn_waiter(pid: i32, done: mpsc::Sender<()>) -> bool {
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

pub(super) fn kill_group(pgid: i32) {
    if pgid > 0 {
        // SAFETY: plain syscall; a negative pid names the process group.
        unsafe {
            libc::kill(-pgid, libc::SIGKILL);
        }
    }
}

pub(super) enum Ended {
    Exited,
    TimedOut,
    Cancelled,
}

pub(super) struct Ran {
    pub(super) output: Output,
    pub(super) ended: Ended,
    pub(super) dropped: (u64, u64),
    pub(super) elapsed: Duration,
}

/// A sandbox that could not be set up: nothing ran. Carries the sentence for the
/// plugin (what is missing).
pub(super) struct Unsandboxed(pub(super) String);

/// Runs a checked command in its sandbox to its end, its timeout or the stage's
/// cancellation.
pub(super) fn execute(plan: &Plan) -> Result<Ran, Unsandboxed> {
    // Every error of `run_sandboxed` means the sandbox did not start or could not be
    // followed: the command did not run as granted.
    run_sandboxed(plan).map_err(|e| match e {
        CapError::Failed(m)
        | CapError::Denied(m)
        | CapError::NotFound(m)
        | CapError::Invalid(m) => Unsandboxed(m),
    })
}

pub(super) fn run_sandboxed(plan: &Plan) -> Result<Ran, CapError> {
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
