//! Per-command cost of the process capability's OS sandbox
//! (`cargo bench -p gantry --bench process`), printed as a markdown table for
//! BENCHMARKS.md. Not a test: nothing here asserts a time.
//!
//! Each row starts `true` and waits for it, N times, and reports the median:
//!
//! 1. unsandboxed: `std::process::Command` spawn + wait, what the broker did before
//!    the sandbox;
//! 2. sandboxed as the broker does it: the default [`Sandbox`], the workspace bound
//!    read-only from a descriptor, one write grant read-write, `.gantry` hidden, the
//!    environment and working directory set, the status read back: gantry's own
//!    sandbox (this binary re-executed as the helper, namespaces, mounts, PID 1).
//!
//! The difference is what every granted command now costs. `GANTRY_BENCH_RUNS` sets N
//! (default 50). Needs user namespaces; prints why not and exits 0 without them.

use std::os::fd::OwnedFd;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use gantry::caps::process::sandbox::{self, Sandbox, StatusPipe};

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn fmt(d: Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1e3)
}

fn open_dir(p: &Path) -> OwnedFd {
    OwnedFd::from(std::fs::File::open(p).expect("open directory"))
}

fn main() {
    // This binary is the helper of the sandboxes it starts (`/proc/self/exe`), as
    // `gantry` is.
    sandbox::helper::main_if_requested();
    let runs: usize = std::env::var("GANTRY_BENCH_RUNS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(50);
    if let Err(why) = sandbox::probe() {
        println!("SKIPPED: {why}");
        return;
    }
    let ws = std::env::temp_dir().join(format!("gantry-bench-process-{}", std::process::id()));
    std::fs::create_dir_all(ws.join("dist")).expect("mkdir");
    std::fs::create_dir_all(ws.join(".gantry/runs")).expect("mkdir");
    let ws = ws.canonicalize().expect("canonical");
    let truth = Path::new("/usr/bin/true");

    let mut plain = Vec::new();
    let mut boxed = Vec::new();
    for _ in 0..runs {
        let t = Instant::now();
        let status = Command::new(truth)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .status()
            .expect("spawn true");
        assert!(status.success());
        plain.push(t.elapsed());

        let t = Instant::now();
        let mut sb = Sandbox::new();
        sb.read_only(open_dir(&ws), &ws);
        sb.writable(open_dir(&ws.join("dist")), &ws.join("dist"));
        sb.hide(&ws.join(".gantry"));
        sb.env("PATH", "/usr/bin:/bin");
        sb.chdir(&ws);
        let mut pipe = StatusPipe::new().expect("pipe");
        let mut cmd = sb.command(truth, "true", &[], &pipe).expect("plan");
        let mut child = cmd
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .process_group(0)
            .spawn()
            .expect("spawn the sandbox");
        pipe.spawned();
        let status = child.wait().expect("wait");
        let report = pipe.finish();
        assert!(status.success() && report.ran() && report.exit_code == Some(0));
        boxed.push(t.elapsed());
    }
    let _ = std::fs::remove_dir_all(&ws);
    let (p, b) = (median(plain), median(boxed));
    println!("| `true`, median of {runs} | per command |");
    println!("| --- | ---: |");
    println!("| spawn + wait, unsandboxed | {} |", fmt(p));
    println!("| in the broker's sandbox | {} |", fmt(b));
    println!("| cost of the sandbox | {} |", fmt(b.saturating_sub(p)));
}
