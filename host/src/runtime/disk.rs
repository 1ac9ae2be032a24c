//! `limits.disk`: how much a stage's write grants may grow.
//!
//! What it guarantees, exactly. It is enforced by **measurement**, not by a quota
//! (a quota needs root and a filesystem that supports project quotas; gantry needs
//! neither):
//! - when the stage starts, gantry measures the allocated size of everything under the
//!   stage's `grants.fs.write` directories (each file, directory and symbolic link
//!   counts its allocated blocks, at least 512 bytes, so a million empty files count
//!   too; a hard-linked file counts once; sparse files count what they allocate; a
//!   filesystem mounted inside a grant is not entered);
//! - while the stage runs, it measures again, on a background thread, every
//!   [`MIN_INTERVAL`] or ten times as long as the last measurement took, whichever is
//!   longer (so measuring costs at most about a tenth of one core);
//! - when the stage ends (its plugin returned, trapped or timed out, its process
//!   children and one-off containers gone), it measures once more;
//! - a measurement that finds the grants grew by more than the limit stops there,
//!   stops the stage like a cancellation (the guest, host commands, containers) and
//!   fails it with `wrote more than its disk limit of …`. The final measurement fails
//!   the stage too, even if the plugin reported success. A failed stage is not retried.
//!
//! What it does not guarantee: between two measurements a stage can write whatever
//! the disk accepts in that time (at 1 GB/s and a 250 ms interval, a quarter of a
//! gigabyte over the limit), so it does not protect a nearly full disk; it counts
//! growth, so deleting files frees room for new ones; it sees only the write grants:
//! container volumes, temporary files of host commands outside the workspace and the
//! run records are not counted. Files moved into a grant from elsewhere count.
//!
//! Measurement walks beneath the grant directories opened once from the workspace
//! with `openat2(RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_XDEV)`, never
//! following a symbolic link, so a plugin cannot point the walk at something else.
//!
//! Tests: unit tests below (measuring a tree), `tests/e2e/limits.rs` (a stage that
//! writes past its disk limit fails with that reason; one under it succeeds).

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use crate::run::log::StageLog;

/// Shortest time between two measurements while a stage runs.
pub const MIN_INTERVAL: Duration = Duration::from_millis(250);

/// What a stage's write grants grew by, when more than its limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Exceeded {
    pub limit: u64,
    /// At least this much (a measurement stops once past the limit).
    pub grew: u64,
}

/// The write grants of one stage, opened beneath the workspace, and their size when
/// the stage started.
pub struct DiskWatch {
    limit: u64,
    baseline: u64,
    stop: Option<mpsc::Sender<()>>,
    thread: Option<std::thread::JoinHandle<Option<Exceeded>>>,
    roots: Arc<tree::Roots>,
}

impl DiskWatch {
    /// Measures the grants and starts watching them. `cancel` is the stage's flag,
    /// set when the limit is passed.
    pub fn start(
        workspace: &Path,
        write: &[String],
        limit: u64,
        cancel: Arc<AtomicBool>,
        log: Arc<StageLog>,
    ) -> Result<DiskWatch, String> {
        let roots = Arc::new(tree::Roots::open(workspace, write)?);
        let baseline = roots.measure(None);
        let (tx, rx) = mpsc::channel::<()>();
        let watched = roots.clone();
        let thread = std::thread::Builder::new()
            .name("gantry-disk".into())
            .spawn(move || {
                let mut interval = MIN_INTERVAL;
                loop {
                    match rx.recv_timeout(interval) {
                        Err(mpsc::RecvTimeoutError::Timeout) => {}
                        _ => return None,
                    }
                    let started = Instant::now();
                    let now = watched.measure(Some(baseline.saturating_add(limit)));
                    let grew = now.saturating_sub(baseline);
                    if grew > limit {
                        log.line(
                            "gantry",
                            &format!(
                                "stopping the stage: its write grants grew by at least {}, more than its disk limit of {}",
                                crate::manifest::units::format_size(grew),
                                crate::manifest::units::format_size(limit)
                            ),
                        );
                        cancel.store(true, Ordering::Relaxed);
                        return Some(Exceeded { limit, grew });
                    }
                    interval = (started.elapsed() * 10).max(MIN_INTERVAL);
                }
            })
            .map_err(|e| format!("cannot start the disk watcher: {e}"))?;
        Ok(DiskWatch {
            limit,
            baseline,
            stop: Some(tx),
            thread: Some(thread),
            roots,
        })
    }

    /// Stops watching and measures a last time (call once the stage's guest, host
    /// commands and containers are gone).
    pub fn finish(mut self) -> Option<Exceeded> {
        drop(self.stop.take());
        let during = self.thread.take().and_then(|t| t.join().ok()).flatten();
        if during.is_some() {
            return during;
        }
        let now = self
            .roots
            .measure(Some(self.baseline.saturating_add(self.limit)));
        let grew = now.saturating_sub(self.baseline);
        (grew > self.limit).then_some(Exceeded {
            limit: self.limit,
            grew,
        })
    }
}

impl Drop for DiskWatch {
    fn drop(&mut self) {
        drop(self.stop.take());
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

#[cfg(target_os = "linux")]
mod tree {
    use std::collections::HashSet;
    use std::os::fd::{AsFd, OwnedFd};
    use std::path::Path;

    use rustix::fs::{AtFlags, FileType, Mode, OFlags, ResolveFlags};

    const RESOLVE: ResolveFlags = ResolveFlags::BENEATH
        .union(ResolveFlags::NO_SYMLINKS)
        .union(ResolveFlags::NO_MAGICLINKS)
        .union(ResolveFlags::NO_XDEV);
    const DIR: OFlags = OFlags::RDONLY
        .union(OFlags::DIRECTORY)
        .union(OFlags::NOFOLLOW)
        .union(OFlags::CLOEXEC);

    /// The grant directories, each opened once.
    pub struct Roots(Vec<OwnedFd>);

    impl Roots {
        pub fn open(workspace: &Path, write: &[String]) -> Result<Roots, String> {
            let ws = rustix::fs::open(workspace, DIR, Mode::empty()).map_err(|e| {
                format!(
                    "`limits.disk`: cannot open the workspace `{}`: {e}",
                    workspace.display()
                )
            })?;
            // A grant inside another is measured with it, once.
            let covered = |w: &str| {
                write
                    .iter()
                    .any(|o| o != w && (o == "." || w.starts_with(&format!("{o}/"))))
            };
            let mut fds = Vec::new();
            for w in write.iter().filter(|w| !covered(w)) {
                let fd = if w == "." {
                    rustix::io::dup(&ws)
                } else {
                    rustix::fs::openat2(&ws, w.as_str(), DIR, Mode::empty(), RESOLVE)
                }
                .map_err(|e| {
                    format!(
                        "`limits.disk`: cannot open `{w}` of grants.fs.write beneath the workspace: {e}"
                    )
                })?;
                fds.push(fd);
            }
            Ok(Roots(fds))
        }

        /// Allocated bytes under every root; stops early once past `stop_above`.
        pub fn measure(&self, stop_above: Option<u64>) -> u64 {
            let mut total = 0u64;
            let mut linked: HashSet<(u64, u64)> = HashSet::new();
            for root in &self.0 {
                let Ok(dev) = rustix::fs::fstat(root).map(|s| s.st_dev) else {
                    continue;
                };
                let mut pending: Vec<String> = vec![String::new()];
                while let Some(rel) = pending.pop() {
                    let opened;
                    let dir = if rel.is_empty() {
                        root.as_fd()
                    } else {
                        // Gone, or swapped for a link since it was listed: not counted.
                        let Ok(fd) =
                            rustix::fs::openat2(root, rel.as_str(), DIR, Mode::empty(), RESOLVE)
                        else {
                            continue;
                        };
                        opened = fd;
                        opened.as_fd()
                    };
                    let Ok(mut entries) = rustix::fs::Dir::read_from(dir) else {
                        continue;
                    };
                    while let Some(Ok(entry)) = entries.read() {
                        let name = entry.file_name();
                        if name.to_bytes() == b"." || name.to_bytes() == b".." {
                            continue;
                        }
                        let Ok(st) = rustix::fs::statat(dir, name, AtFlags::SYMLINK_NOFOLLOW)
                        else {
                            continue;
                        };
                        if st.st_dev != dev {
                            continue;
                        }
                        if st.st_nlink > 1
                            && FileType::from_raw_mode(st.st_mode) != FileType::Directory
                            && !linked.insert((st.st_dev, st.st_ino))
                        {
                            continue;
                        }
                        total = total.saturating_add((st.st_blocks as u64 * 512).max(512));
                        if stop_above.is_some_and(|s| total > s) {
                            return total;
                        }
                        if FileType::from_raw_mode(st.st_mode) == FileType::Directory {
                            let name = name.to_string_lossy();
                            pending.push(if rel.is_empty() {
                                name.into_owned()
                            } else {
                                format!("{rel}/{name}")
                            });
                        }
                    }
                }
            }
            total
        }
    }
}

#[cfg(not(target_os = "linux"))]
mod tree {
    use std::path::Path;

    pub struct Roots;

    impl Roots {
        pub fn open(_: &Path, _: &[String]) -> Result<Roots, String> {
            Err("`limits.disk` is enforced on Linux only".into())
        }

        pub fn measure(&self, _: Option<u64>) -> u64 {
            0
        }
    }
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use super::*;

    fn dir(name: &str) -> std::path::PathBuf {
        let d = std::env::temp_dir().join(format!("gantry-disk-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).expect("temp dir");
        d.canonicalize().expect("canonical")
    }

    fn grants(w: &[&str]) -> Vec<String> {
        w.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn measures_growth_beneath_the_grants_only() {
        let ws = dir("growth");
        std::fs::create_dir_all(ws.join("dist/sub")).expect("mkdir");
        std::fs::create_dir_all(ws.join("other")).expect("mkdir");
        let roots = tree::Roots::open(&ws, &grants(&["dist", "dist/sub"])).expect("open");
        let before = roots.measure(None);
        std::fs::write(ws.join("dist/sub/a"), vec![1u8; 1 << 20]).expect("write");
        std::fs::write(ws.join("other/b"), vec![1u8; 4 << 20]).expect("write");
        let grew = roots.measure(None) - before;
        // 1 MiB of data (and its file), counted once though `dist/sub` is granted too;
        // nothing of `other`.
        assert!((1 << 20..(1 << 20) + 64 * 1024).contains(&grew), "{grew}");
        // Empty files count, so creating many of them is growth too.
        for i in 0..100 {
            std::fs::write(ws.join(format!("dist/e{i}")), b"").expect("write");
        }
        assert!(roots.measure(None) - before >= grew + 100 * 512);
        // A hard link adds nothing; a measurement stops past its bound.
        std::fs::hard_link(ws.join("dist/sub/a"), ws.join("dist/a-link")).expect("link");
        assert!(roots.measure(None) - before < grew + 101 * 512 + 4096);
        assert!(roots.measure(Some(before + 4096)) <= before + 4096 + (1 << 20) + 4096);
        let _ = std::fs::remove_dir_all(&ws);
    }

    #[test]
    fn symlinks_are_never_followed() {
        let ws = dir("links");
        let outside = dir("links-outside");
        std::fs::write(outside.join("big"), vec![1u8; 2 << 20]).expect("write");
        std::fs::create_dir_all(ws.join("dist")).expect("mkdir");
        std::os::unix::fs::symlink(&outside, ws.join("dist/out")).expect("symlink");
        std::os::unix::fs::symlink(&outside, ws.join("linkgrant")).expect("symlink");
        let roots = tree::Roots::open(&ws, &grants(&["dist"])).expect("open");
        assert!(roots.measure(None) < 64 * 1024);
        // A grant that is itself a link is refused, not followed.
        let e = tree::Roots::open(&ws, &grants(&["linkgrant"]))
            .err()
            .expect("refused");
        assert!(e.contains("`linkgrant`"), "{e}");
        let _ = std::fs::remove_dir_all(&ws);
        let _ = std::fs::remove_dir_all(&outside);
    }

    #[test]
    fn the_watcher_stops_a_stage_that_writes_too_much() {
        let ws = dir("watch");
        std::fs::create_dir_all(ws.join("dist")).expect("mkdir");
        let cancel = Arc::new(AtomicBool::new(false));
        let watch = DiskWatch::start(
            &ws,
            &grants(&["dist"]),
            64 * 1024,
            cancel.clone(),
            Arc::new(StageLog::sink()),
        )
        .expect("start");
        std::fs::write(ws.join("dist/big"), vec![1u8; 1 << 20]).expect("write");
        // The watcher notices within a few intervals (hang watchdog only).
        let until = Instant::now() + Duration::from_secs(30);
        while !cancel.load(Ordering::Relaxed) && Instant::now() < until {
            std::thread::sleep(Duration::from_millis(20));
        }
        assert!(cancel.load(Ordering::Relaxed), "the stage was not stopped");
        let e = watch.finish().expect("exceeded");
        assert_eq!(e.limit, 64 * 1024);
        assert!(e.grew > 64 * 1024);
        let _ = std::fs::remove_dir_all(&ws);
    }

    #[test]
    fn a_stage_within_its_limit_passes() {
        let ws = dir("within");
        std::fs::create_dir_all(ws.join("dist")).expect("mkdir");
        std::fs::write(ws.join("dist/old"), vec![1u8; 4 << 20]).expect("write");
        let cancel = Arc::new(AtomicBool::new(false));
        let watch = DiskWatch::start(
            &ws,
            &grants(&["dist"]),
            1 << 20,
            cancel.clone(),
            Arc::new(StageLog::sink()),
        )
        .expect("start");
        // Replacing a big file by a small one is within the limit: growth is net.
        std::fs::remove_file(ws.join("dist/old")).expect("rm");
        std::fs::write(ws.join("dist/new"), vec![1u8; 512 * 1024]).expect("write");
        assert_eq!(watch.finish(), None);
        assert!(!cancel.load(Ordering::Relaxed));
        let _ = std::fs::remove_dir_all(&ws);
    }
}
