//! Opening paths of the workspace beneath a held directory handle.
//!
//! Every open is `openat2` relative to a directory descriptor with
//! `RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS`: the kernel resolves
//! the path in one step, refusing `..` above the handle, absolute paths, and any
//! symbolic link on the way. Nothing is checked by name and opened again, so a
//! concurrent change of the tree (a component swapped for a link to `/`) cannot
//! redirect the open. Linux 5.6 or later (openat2).
//!
//! Tests: unit tests below.

use std::os::fd::{AsFd, OwnedFd};
use std::path::{Path, PathBuf};

use rustix::fs::{Mode, OFlags, ResolveFlags};
use rustix::io::Errno;

const RESOLVE: ResolveFlags = ResolveFlags::BENEATH
    .union(ResolveFlags::NO_SYMLINKS)
    .union(ResolveFlags::NO_MAGICLINKS);

const DIR_FLAGS: OFlags = OFlags::RDONLY
    .union(OFlags::DIRECTORY)
    .union(OFlags::CLOEXEC)
    .union(OFlags::NOCTTY);

/// The workspace root (a path the user chose, not a plugin).
pub fn open_root(workspace: &Path) -> std::io::Result<OwnedFd> {
    Ok(rustix::fs::open(workspace, DIR_FLAGS, Mode::empty())?)
}

/// Why a granted path could not be opened, as the end of a sentence that starts with
/// the path: "`dist` in grants.fs.write {why}".
fn why(e: Errno) -> String {
    match e {
        Errno::NOENT => "does not exist".into(),
        Errno::NOTDIR => "is not a directory (grants name directories)".into(),
        Errno::LOOP => {
            "passes through a symbolic link; grants name real directories of the workspace (a link could be swapped to lead anywhere)".into()
        }
        Errno::XDEV => "leads outside the workspace".into(),
        Errno::NOSYS => "cannot be opened safely: this kernel has no openat2 (Linux 5.6 or later is required)".into(),
        e => format!("cannot be opened: {}", std::io::Error::from(e)),
    }
}

/// Opens directory `rel` (workspace-relative, `.` for the root) beneath `root`.
pub fn open_dir(root: &OwnedFd, rel: &str) -> Result<OwnedFd, String> {
    rustix::fs::openat2(root.as_fd(), rel, DIR_FLAGS, Mode::empty(), RESOLVE).map_err(why)
}

/// Opens directory `rel` beneath `root`, creating each missing component (mode 0755)
/// beneath the component opened before it.
pub fn create_dir_all(root: &OwnedFd, rel: &str) -> Result<OwnedFd, String> {
    let mut dir = rustix::io::dup(root).map_err(why)?;
    for part in rel.split('/').filter(|c| !c.is_empty() && *c != ".") {
        if part == ".." {
            return Err(why(Errno::XDEV));
        }
        match rustix::fs::mkdirat(&dir, part, Mode::from_raw_mode(0o755)) {
            Ok(()) | Err(Errno::EXIST) => {}
            Err(e) => return Err(format!("cannot be created: {}", std::io::Error::from(e))),
        }
        dir = rustix::fs::openat2(&dir, part, DIR_FLAGS, Mode::empty(), RESOLVE).map_err(why)?;
    }
    Ok(dir)
}

/// The path the kernel has for an open descriptor (`/proc/self/fd/N`): where the
/// object *is*, not a name that was looked up.
pub fn real_path(fd: &impl AsFd) -> std::io::Result<PathBuf> {
    use std::os::fd::AsRawFd;
    std::fs::read_link(format!("/proc/self/fd/{}", fd.as_fd().as_raw_fd()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp(name: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("gantry-beneath-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).expect("mkdir");
        d.canonicalize().expect("canonical")
    }

    #[test]
    fn opens_only_real_directories_beneath_the_root() {
        let d = temp("open");
        let ws = d.join("ws");
        std::fs::create_dir_all(ws.join("a/b")).expect("mkdir");
        std::fs::write(ws.join("file"), "x").expect("write");
        std::os::unix::fs::symlink("/", ws.join("up")).expect("symlink");
        std::os::unix::fs::symlink("a", ws.join("inner")).expect("symlink");
        let root = open_root(&ws).expect("root");
        let b = open_dir(&root, "a/b").expect("a/b");
        assert_eq!(real_path(&b).expect("path"), ws.join("a/b"));
        assert!(open_dir(&root, ".").is_ok());
        assert!(
            open_dir(&root, "missing")
                .expect_err("missing")
                .contains("does not exist")
        );
        assert!(
            open_dir(&root, "file")
                .expect_err("file")
                .contains("not a directory")
        );
        // A link, even one that stays inside, is refused: it could be swapped.
        assert!(
            open_dir(&root, "up")
                .expect_err("link")
                .contains("symbolic link")
        );
        assert!(
            open_dir(&root, "inner/b")
                .expect_err("link")
                .contains("symbolic link")
        );
        assert!(open_dir(&root, "../ws").is_err());
        assert!(open_dir(&root, "/tmp").is_err());
        let _ = std::fs::remove_dir_all(&d);
    }

    #[test]
    fn creates_beneath_and_never_through_a_link() {
        let d = temp("create");
        let ws = d.join("ws");
        let outside = d.join("outside");
        std::fs::create_dir_all(&ws).expect("mkdir");
        std::fs::create_dir_all(&outside).expect("mkdir");
        std::os::unix::fs::symlink(&outside, ws.join("out")).expect("symlink");
        let root = open_root(&ws).expect("root");
        let made = create_dir_all(&root, "dist/x/y").expect("create");
        assert_eq!(real_path(&made).expect("path"), ws.join("dist/x/y"));
        assert!(create_dir_all(&root, "dist/x").is_ok(), "existing is fine");
        let err = create_dir_all(&root, "out/z").expect_err("through a link");
        assert!(err.contains("symbolic link"), "{err}");
        assert!(!outside.join("z").exists(), "nothing created outside");
        assert!(create_dir_all(&root, "a/../..").is_err());
        let _ = std::fs::remove_dir_all(&d);
    }

    /// The race the attack suite won: one thread swaps `rw/sub` between a directory and
    /// a link to `/` while another opens it. Every open either gets the directory or
    /// is refused; none reaches `/`.
    #[test]
    fn a_swapped_component_never_redirects_an_open() {
        let d = temp("race");
        let ws = d.join("ws");
        std::fs::create_dir_all(ws.join("rw/sub")).expect("mkdir");
        std::fs::write(ws.join("rw/sub/marker"), "inside").expect("write");
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let swapper = {
            let (ws, stop) = (ws.clone(), stop.clone());
            std::thread::spawn(move || {
                let (sub, held, link) = (ws.join("rw/sub"), ws.join("rw/held"), ws.join("rw/link"));
                let _ = std::fs::remove_file(&link);
                std::os::unix::fs::symlink("/", &link).expect("symlink");
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    let _ = std::fs::rename(&sub, &held);
                    let _ = std::fs::rename(&link, &sub);
                    let _ = std::fs::rename(&sub, &link);
                    let _ = std::fs::rename(&held, &sub);
                    std::thread::yield_now();
                }
            })
        };
        let root = open_root(&ws).expect("root");
        let (mut opened, mut tries) = (0, 0);
        // At least 2000 opens while the swapper runs, and at least one that found the
        // directory (how they interleave is up to the scheduler).
        while tries < 2000 || (opened == 0 && tries < 2_000_000) {
            tries += 1;
            if let Ok(fd) = open_dir(&root, "rw/sub") {
                opened += 1;
                let p = real_path(&fd).expect("path");
                assert!(p.starts_with(&ws), "escaped to {}", p.display());
            }
        }
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        swapper.join().expect("swapper");
        assert!(opened > 0, "the directory was never opened");
        let _ = std::fs::remove_dir_all(&d);
    }
}
