//! Test support for gantry's end-to-end tests: paths of the test plugins (built to
//! wasm by `build.rs`), throwaway workspaces with a pipeline.toml, and (module
//! [`docker`]) the Docker Engine, test registry and scratch images of the container
//! tests.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::atomic::{AtomicUsize, Ordering};

pub mod docker;
pub use docker::{DockerFacts, Registry, Snapshot, docker_or_skip, in_ci, registry_or_skip};

/// Paths of the compiled test plugins.
pub mod plugins {
    include!(concat!(env!("OUT_DIR"), "/plugins.rs"));
}

/// Whether golden files are to be rewritten: `UPDATE_GOLDEN=1` (or `true`), never under
/// CI (a CI run that blesses its own output would pass whatever it printed).
pub fn update_golden() -> bool {
    let asked = matches!(
        std::env::var("UPDATE_GOLDEN").as_deref(),
        Ok("1" | "true" | "yes")
    );
    if asked && docker::in_ci() {
        panic!(
            "UPDATE_GOLDEN is set under CI: golden files are rewritten by developers, never by CI"
        );
    }
    asked
}

/// Every file under `dir`, recursively (run records, for leak checks).
pub fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(files_under(&p));
        } else {
            out.push(p);
        }
    }
    out
}

/// Every file, directory and symbolic link under `root` (except run records in
/// `.gantry/`), with its content or link target: compare two to show that nothing
/// changed.
pub fn snapshot(root: &Path) -> BTreeSet<(PathBuf, Vec<u8>)> {
    let mut out = BTreeSet::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for e in entries.flatten() {
            let p = e.path();
            let rel = p.strip_prefix(root).unwrap_or(&p).to_path_buf();
            if rel.starts_with(".gantry") {
                continue;
            }
            let meta = std::fs::symlink_metadata(&p).expect("metadata");
            if meta.is_dir() {
                stack.push(p.clone());
                out.insert((rel, Vec::new()));
            } else if meta.file_type().is_symlink() {
                let target = std::fs::read_link(&p).expect("link");
                out.insert((rel, target.into_os_string().into_encoded_bytes()));
            } else if meta.is_file() {
                out.insert((rel, std::fs::read(&p).expect("read")));
            } else {
                // FIFOs, sockets: their presence, never their content (reading blocks).
                out.insert((rel, b"<special>".to_vec()));
            }
        }
    }
    out
}

/// `file:` reference with its sha256 pin, for a pipeline.toml.
pub fn pinned(path: &str) -> String {
    let bytes = std::fs::read(path).expect("test plugin was built");
    format!("file:{path}#{}", gantry_registry::Digest::of(&bytes))
}

static COUNTER: AtomicUsize = AtomicUsize::new(0);

/// A temporary workspace; removed on drop unless `GANTRY_KEEP_TEST_DIRS` is set.
pub struct Workspace {
    pub root: PathBuf,
    gantry: PathBuf,
    cache: PathBuf,
    /// gantry's state directory for this workspace's runs (outside it, as gantry
    /// requires; `.gantry` in the workspace links into it). Removed with the workspace.
    pub state: PathBuf,
}

impl Workspace {
    /// `gantry` is the binary under test (`env!("CARGO_BIN_EXE_gantry")`).
    pub fn new(gantry: &str) -> Workspace {
        let n = COUNTER.fetch_add(1, Ordering::SeqCst);
        let base = std::env::temp_dir().join(format!("gantry-e2e-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&base);
        std::fs::create_dir_all(&base).expect("create temp workspace");
        let root = base.canonicalize().expect("canonical temp dir");
        let state =
            std::env::temp_dir().join(format!("gantry-e2e-state-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&state);
        // One compile cache for all tests of a process: compile each plugin once.
        let cache = std::env::temp_dir().join(format!("gantry-e2e-cache-{}", std::process::id()));
        Workspace {
            root,
            gantry: PathBuf::from(gantry),
            cache,
            state,
        }
    }

    pub fn write(&self, rel: &str, content: impl AsRef<[u8]>) -> &Self {
        let p = self.root.join(rel);
        if let Some(d) = p.parent() {
            std::fs::create_dir_all(d).expect("create dirs");
        }
        std::fs::write(p, content).expect("write file");
        self
    }

    pub fn read(&self, rel: &str) -> String {
        std::fs::read_to_string(self.root.join(rel)).unwrap_or_else(|e| panic!("read {rel}: {e}"))
    }

    pub fn path(&self, rel: &str) -> PathBuf {
        self.root.join(rel)
    }

    /// Runs `gantry ARGS` in the workspace with colour off and a private compile cache.
    pub fn gantry(&self, args: &[&str]) -> Run {
        let out = Command::new(&self.gantry)
            .args(args)
            .current_dir(&self.root)
            .env("NO_COLOR", "1")
            .env("GANTRY_CACHE_DIR", &self.cache)
            .env("GANTRY_STATE_DIR", &self.state)
            .env_remove("GANTRY_GIT_SHA")
            .env_remove("GANTRY_GIT_BRANCH")
            .env_remove("GANTRY_GIT_TAG")
            .output()
            .expect("run gantry");
        Run::new(out, &self.root, Some(&self.state))
    }

    /// `gantry ARGS` as [`Workspace::gantry`] runs it, not started: for tests that
    /// run gantry in the background (and kill it).
    pub fn command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(&self.gantry);
        cmd.args(args)
            .current_dir(&self.root)
            .env("NO_COLOR", "1")
            .env("GANTRY_CACHE_DIR", &self.cache)
            .env("GANTRY_STATE_DIR", &self.state)
            .env_remove("GANTRY_GIT_SHA")
            .env_remove("GANTRY_GIT_BRANCH")
            .env_remove("GANTRY_GIT_TAG");
        cmd
    }

    /// [`Workspace::gantry`], but killed (and the test failed) if it has not ended
    /// within `limit`: for tests whose failure mode is a hang.
    pub fn gantry_within(&self, args: &[&str], limit: std::time::Duration) -> Run {
        use std::io::Read as _;
        let mut child = self
            .command(args)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("start gantry");
        // Drained while it runs, so a chatty gantry cannot block on a full pipe.
        let drain = |mut r: Box<dyn std::io::Read + Send>| {
            std::thread::spawn(move || {
                let mut buf = Vec::new();
                let _ = r.read_to_end(&mut buf);
                buf
            })
        };
        let stdout = drain(Box::new(child.stdout.take().expect("piped")));
        let stderr = drain(Box::new(child.stderr.take().expect("piped")));
        let deadline = std::time::Instant::now() + limit;
        let status = loop {
            if let Some(status) = child.try_wait().expect("wait for gantry") {
                break status;
            }
            if std::time::Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                let err = stderr.join().unwrap_or_default();
                panic!(
                    "gantry {args:?} did not end within {limit:?}; stderr:\n{}",
                    String::from_utf8_lossy(&err)
                );
            }
            std::thread::sleep(std::time::Duration::from_millis(20));
        };
        let out = Output {
            status,
            stdout: stdout.join().unwrap_or_default(),
            stderr: stderr.join().unwrap_or_default(),
        };
        Run::new(out, &self.root, Some(&self.state))
    }

    /// Runs `gantry ARGS` and returns its result and its peak resident memory: `wait4`
    /// reports the usage of that one child (not `RUSAGE_CHILDREN`, which parallel tests
    /// share). Killed after `watchdog` (a hang, never a timing assertion).
    // The child is reaped by `wait4`, which `Child::wait` would not report usage for.
    #[allow(clippy::zombie_processes)]
    pub fn gantry_with_rss(&self, args: &[&str], watchdog: std::time::Duration) -> (Run, u64) {
        let mut child = self
            .command(args)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("start gantry");
        let drain = |mut r: Box<dyn std::io::Read + Send>| {
            std::thread::spawn(move || {
                let mut buf = Vec::new();
                let _ = r.read_to_end(&mut buf);
                buf
            })
        };
        let stdout = drain(Box::new(child.stdout.take().expect("piped")));
        let stderr = drain(Box::new(child.stderr.take().expect("piped")));
        let pid = child.id() as libc::pid_t;
        let done = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let guard = {
            let done = done.clone();
            std::thread::spawn(move || {
                let until = std::time::Instant::now() + watchdog;
                while std::time::Instant::now() < until {
                    if done.load(std::sync::atomic::Ordering::Relaxed) {
                        return false;
                    }
                    std::thread::sleep(std::time::Duration::from_millis(50));
                }
                // SAFETY: signals the child this test started and has not reaped.
                unsafe { libc::kill(pid, libc::SIGKILL) };
                true
            })
        };
        let mut status = 0;
        // SAFETY: rusage is plain data that wait4 fills in.
        let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
        // SAFETY: waits for our own child; `child` is never waited on again.
        let waited = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
        assert_eq!(waited, pid, "wait4");
        done.store(true, std::sync::atomic::Ordering::Relaxed);
        let killed = guard.join().unwrap_or(false);
        let out = std::process::Output {
            status: std::os::unix::process::ExitStatusExt::from_raw(status),
            stdout: stdout.join().unwrap_or_default(),
            stderr: stderr.join().unwrap_or_default(),
        };
        assert!(
            !killed,
            "gantry {args:?} did not end within {watchdog:?}; stderr:\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        (
            Run::from_output(out, &self.root),
            usage.ru_maxrss as u64 * 1024,
        )
    }

    pub fn gantry_env(&self, args: &[&str], env: &[(&str, &str)]) -> Run {
        let mut cmd = self.command(args);
        for (k, v) in env {
            cmd.env(k, v);
        }
        Run::new(
            cmd.output().expect("run gantry"),
            &self.root,
            Some(&self.state),
        )
    }
}

impl Drop for Workspace {
    fn drop(&mut self) {
        if std::env::var_os("GANTRY_KEEP_TEST_DIRS").is_none() {
            let _ = std::fs::remove_dir_all(&self.root);
            let _ = std::fs::remove_dir_all(&self.state);
        }
    }
}

/// The result of one `gantry` invocation, with the run directory if one was made.
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
    pub dir: Option<PathBuf>,
}

impl Run {
    /// The result of a gantry process the test started itself (e.g. under `unshare`).
    pub fn from_output(out: Output, root: &Path) -> Run {
        Run::new(out, root, None)
    }

    /// The newest run directory: in the test's state directory when there is one (so
    /// a plugin that moved the workspace's `.gantry` link away changes nothing), else
    /// through `.gantry/runs`.
    fn new(out: Output, root: &Path, state: Option<&Path>) -> Run {
        let newest = |runs: &Path| {
            std::fs::read_dir(runs).ok().and_then(|d| {
                d.filter_map(|e| e.ok())
                    .filter(|e| e.path().is_dir())
                    .max_by_key(|e| e.metadata().and_then(|m| m.modified()).ok())
                    .map(|e| e.path())
            })
        };
        let in_state = state.and_then(|s| {
            std::fs::read_dir(s.join("workspaces"))
                .ok()?
                .filter_map(|e| e.ok())
                .filter_map(|e| newest(&e.path().join("runs")))
                .max_by_key(|p| std::fs::metadata(p).and_then(|m| m.modified()).ok())
        });
        let dir = in_state.or_else(|| newest(&root.join(".gantry/runs")));
        Run {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
            dir,
        }
    }

    /// `summary.json` of the run.
    pub fn summary(&self) -> serde_json::Value {
        serde_json::from_str(&self.file("summary.json")).expect("summary.json is JSON")
    }

    /// The record of one stage in `summary.json`.
    pub fn stage(&self, name: &str) -> serde_json::Value {
        let s = self.summary();
        s["stages"]
            .as_array()
            .and_then(|a| a.iter().find(|x| x["stage"] == name).cloned())
            .unwrap_or_else(|| panic!("no stage {name} in summary: {s}"))
    }

    /// Output `key` of `stage` (from `summary.json`); panics with the stage record and
    /// gantry's stderr when it is missing.
    pub fn output(&self, stage: &str, key: &str) -> String {
        let rec = self.stage(stage);
        rec["outputs"][key]
            .as_str()
            .unwrap_or_else(|| {
                panic!(
                    "stage {stage} reported no `{key}`: {rec}\nstderr:\n{}",
                    self.stderr
                )
            })
            .to_string()
    }

    pub fn file(&self, rel: &str) -> String {
        let dir = self
            .dir
            .as_ref()
            .unwrap_or_else(|| panic!("no run directory; stderr:\n{}", self.stderr));
        std::fs::read_to_string(dir.join(rel))
            .unwrap_or_else(|e| panic!("read {rel}: {e}\nstderr:\n{}", self.stderr))
    }

    /// Lines of `audit.jsonl`.
    pub fn audit(&self) -> Vec<String> {
        self.file("audit.jsonl").lines().map(String::from).collect()
    }

    pub fn log(&self, stage: &str) -> String {
        self.file(&format!("logs/{stage}.log"))
    }
}
