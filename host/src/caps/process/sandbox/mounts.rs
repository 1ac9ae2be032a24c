//! The sandbox's new root: opening what it shows while the host's tree is still there,
//! building it on a tmpfs, and entering it (see [`super::helper`] for the processes and
//! the decisions; this module only mounts, as init, in the sandbox's fresh user and
//! mount namespaces).
//!
//! What it refuses: a descriptor that is no longer the file gantry opened (moved,
//! replaced, or reached through a symbolic link now); a mount point reached through a
//! symbolic link; a mount point that is a directory where a file is to be bound, or
//! the other way round. Each is a set-up failure: nothing runs.
//!
//! Tests: `tests/e2e/attack_process.rs` (from inside a running sandbox), the unit tests
//! below.

use std::ffi::{CString, OsString};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};

use rustix::fs::{CWD, FileType, Mode, OFlags, ResolveFlags, StatVfsMountFlags};
use rustix::io::Errno;
use rustix::mount::{MountFlags, MountPropagationFlags, UnmountFlags};

use super::helper::{Result, diagnose, inherited, io};
use super::plan::{Mount, Plan};

/// Size of the tmpfs holding the new root: directories and empty mount points only,
/// read-only once built.
const ROOT_TMPFS: &str = "mode=0755,size=1m";
/// `/dev/shm`'s size limit.
const SHM_SIZE: u64 = 64 << 20;
/// Where, in the helper's copy of the host's tree, the new root is assembled.
const BASE: &str = "/tmp";

/// A descriptor to bind, as gantry opened it, with the path and identity the kernel
/// reports for it in gantry's mount namespace.
pub(super) struct Inherited {
    /// Held until the re-opened file is verified: while it is open, its inode cannot
    /// be freed and its number given to another file.
    _open: OwnedFd,
    path: Vec<u8>,
    dev: u64,
    ino: u64,
}

impl Inherited {
    pub(super) fn take(n: i32) -> Result<Inherited> {
        let fd = inherited(Some(OsString::from(n.to_string())))
            .ok_or_else(|| format!("descriptor {n} of the sandbox plan is not open"))?;
        let link = rustix::fs::readlinkat(CWD, format!("/proc/self/fd/{n}"), Vec::new())
            .map_err(|e| format!("cannot read the path of descriptor {n}: {}", io(e)))?
            .into_bytes();
        if !link.starts_with(b"/") {
            return Err(format!(
                "descriptor {n} is not a file or directory (`{}`)",
                String::from_utf8_lossy(&link)
            ));
        }
        let st =
            rustix::fs::fstat(&fd).map_err(|e| format!("cannot stat descriptor {n}: {}", io(e)))?;
        Ok(Inherited {
            _open: fd,
            path: link,
            dev: st.st_dev,
            ino: st.st_ino,
        })
    }

    /// The same file, opened again in the sandbox's mount namespace by its path without
    /// following any symbolic link, and checked to be the same file.
    fn reopen(&self) -> Result<OwnedFd> {
        let shown = String::from_utf8_lossy(&self.path);
        let fd = rustix::fs::openat2(
            CWD,
            &self.path[..],
            OFlags::PATH | OFlags::CLOEXEC,
            Mode::empty(),
            ResolveFlags::NO_SYMLINKS | ResolveFlags::NO_MAGICLINKS,
        )
        .map_err(|e| match e {
            Errno::LOOP => format!(
                "`{shown}` now goes through a symbolic link (replaced while the sandbox was built)"
            ),
            e => format!("`{shown}` cannot be opened again: {}", io(e)),
        })?;
        let st = rustix::fs::fstat(&fd).map_err(|e| format!("cannot stat `{shown}`: {}", io(e)))?;
        if (st.st_dev, st.st_ino) != (self.dev, self.ino) {
            return Err(format!(
                "`{shown}` was moved or replaced while the sandbox was built (it is no longer the directory gantry checked)"
            ));
        }
        Ok(fd)
    }
}

/// What a [`Mount`] needs opened before the host's tree goes away.
pub(super) enum Source {
    None,
    /// A host path that is missing and optional.
    Skip,
    One(OwnedFd),
    /// `/dev`'s device nodes, by name.
    Devices(Vec<(&'static str, OwnedFd)>),
}

const DEVICES: &[&str] = &["null", "zero", "full", "random", "urandom", "tty"];

pub(super) fn open_sources(plan: &Plan, inherited: Vec<Inherited>) -> Result<Vec<Source>> {
    let mut inherited = inherited.into_iter();
    let mut out = Vec::with_capacity(plan.mounts.len());
    for m in &plan.mounts {
        out.push(match m {
            Mount::Host { path, optional } => {
                match rustix::fs::open(&path[..], OFlags::PATH | OFlags::CLOEXEC, Mode::empty()) {
                    Ok(fd) => Source::One(fd),
                    Err(Errno::NOENT) if *optional => Source::Skip,
                    Err(e) => {
                        return Err(format!(
                            "cannot open the host's `{}`: {}",
                            String::from_utf8_lossy(path),
                            io(e)
                        ));
                    }
                }
            }
            Mount::Fd { .. } => {
                let i = inherited
                    .next()
                    .ok_or("the sandbox plan lists more descriptors than it passed")?;
                let fd = i.reopen()?;
                drop(i);
                Source::One(fd)
            }
            Mount::Dev { .. } => {
                let mut devs = Vec::new();
                for name in DEVICES {
                    let p = format!("/dev/{name}");
                    match rustix::fs::open(&p, OFlags::PATH | OFlags::CLOEXEC, Mode::empty()) {
                        Ok(fd) => devs.push((*name, fd)),
                        Err(Errno::NOENT) if *name == "tty" => {}
                        Err(e) => return Err(format!("cannot open the host's `{p}`: {}", io(e))),
                    }
                }
                Source::Devices(devs)
            }
            _ => Source::None,
        });
    }
    Ok(out)
}

/// `/proc/self/fd/N`: the path that names exactly the file descriptor `fd` is open on.
fn fd_path(fd: BorrowedFd<'_>) -> String {
    format!("/proc/self/fd/{}", fd.as_raw_fd())
}

/// `at` without its leading `/`, refused if it has `.`, `..` or empty components.
pub(super) fn relative(at: &[u8]) -> Result<Vec<u8>> {
    let shown = || String::from_utf8_lossy(at).into_owned();
    let Some(rest) = at.strip_prefix(b"/") else {
        return Err(format!("`{}` is not an absolute path", shown()));
    };
    let rest = rest.strip_suffix(b"/").unwrap_or(rest);
    if !rest.is_empty()
        && rest
            .split(|b| *b == b'/')
            .any(|c| c.is_empty() || c == b"." || c == b"..")
    {
        return Err(format!("`{}` is not a normalized path", shown()));
    }
    Ok(rest.to_vec())
}

/// A mount point inside the new root: its parent directory, its name there, and the
/// mount point itself, all opened.
struct Target {
    parent: OwnedFd,
    name: Vec<u8>,
    fd: OwnedFd,
    shown: String,
}

impl Target {
    /// What is at the mount point now (after a mount: the mounted file system's root).
    fn reopen(&self) -> Result<OwnedFd> {
        rustix::fs::openat2(
            &self.parent,
            &self.name[..],
            OFlags::PATH | OFlags::CLOEXEC,
            Mode::empty(),
            ResolveFlags::BENEATH | ResolveFlags::NO_SYMLINKS | ResolveFlags::NO_MAGICLINKS,
        )
        .map_err(|e| format!("cannot open `{}` again: {}", self.shown, io(e)))
    }
}

#[derive(Clone, Copy, PartialEq)]
enum Kind {
    Dir,
    File,
}

fn kind_of(fd: &OwnedFd, shown: &str) -> Result<Kind> {
    let st = rustix::fs::fstat(fd).map_err(|e| format!("cannot stat `{shown}`: {}", io(e)))?;
    Ok(match FileType::from_raw_mode(st.st_mode) {
        FileType::Directory => Kind::Dir,
        _ => Kind::File,
    })
}

fn open_step(dir: &OwnedFd, name: &[u8]) -> rustix::io::Result<OwnedFd> {
    rustix::fs::openat2(
        dir,
        name,
        OFlags::PATH | OFlags::CLOEXEC,
        Mode::empty(),
        ResolveFlags::BENEATH | ResolveFlags::NO_SYMLINKS | ResolveFlags::NO_MAGICLINKS,
    )
}

/// Opens the mount point `at` beneath `root`, making the missing directories (and, for
/// a file, the missing file) on the way, one component at a time and never following
/// a symbolic link.
fn ensure(root: &OwnedFd, at: &[u8], kind: Kind) -> Result<Target> {
    let shown = String::from_utf8_lossy(at).into_owned();
    let rel = relative(at)?;
    if rel.is_empty() {
        return Err("cannot mount on the sandbox's root".into());
    }
    let parts: Vec<&[u8]> = rel.split(|b| *b == b'/').collect();
    let fail = |e: Errno| match e {
        Errno::LOOP => format!(
            "`{shown}` goes through a symbolic link inside the sandbox (nothing is mounted through one)"
        ),
        e => format!("cannot make the mount point `{shown}`: {}", io(e)),
    };
    let mut dir = rustix::io::dup(root).map_err(fail)?;
    for (i, name) in parts.iter().enumerate() {
        let last = i + 1 == parts.len();
        let fd = match open_step(&dir, name) {
            Ok(fd) => fd,
            Err(Errno::NOENT) => {
                let made = if last && kind == Kind::File {
                    rustix::fs::openat(
                        &dir,
                        *name,
                        OFlags::CREATE
                            | OFlags::EXCL
                            | OFlags::WRONLY
                            | OFlags::CLOEXEC
                            | OFlags::NOFOLLOW,
                        Mode::from_raw_mode(0o444),
                    )
                    .map(drop)
                } else {
                    rustix::fs::mkdirat(&dir, *name, Mode::from_raw_mode(0o755))
                };
                match made {
                    Ok(()) | Err(Errno::EXIST) => {}
                    Err(e) => return Err(fail(e)),
                }
                open_step(&dir, name).map_err(fail)?
            }
            Err(e) => return Err(fail(e)),
        };
        let is = kind_of(&fd, &shown)?;
        if last {
            if is != kind {
                return Err(format!(
                    "`{shown}` is {} inside the sandbox, where {} is to be mounted",
                    if is == Kind::Dir {
                        "a directory"
                    } else {
                        "a file"
                    },
                    if kind == Kind::Dir {
                        "a directory"
                    } else {
                        "a file"
                    },
                ));
            }
            return Ok(Target {
                parent: dir,
                name: name.to_vec(),
                fd,
                shown,
            });
        }
        if is != Kind::Dir {
            return Err(fail(Errno::NOTDIR));
        }
        dir = fd;
    }
    Err(fail(Errno::INVAL))
}

/// Covers whatever `at` shows inside the new root — following symbolic links within
/// that root only, so a link planted in the workspace can make a cover hide more, never
/// less — with an empty read-only directory or the empty read-only file `empty`.
/// Nothing to cover when nothing is there.
fn cover(root: &OwnedFd, at: &[u8], empty: &OwnedFd) -> Result<()> {
    let shown = String::from_utf8_lossy(at).into_owned();
    let rel = relative(at)?;
    if rel.is_empty() {
        return Err("cannot cover the sandbox's root".into());
    }
    let fd = match rustix::fs::openat2(
        root,
        &rel[..],
        OFlags::PATH | OFlags::CLOEXEC,
        Mode::empty(),
        ResolveFlags::IN_ROOT | ResolveFlags::NO_MAGICLINKS,
    ) {
        Ok(fd) => fd,
        Err(Errno::NOENT) => return Ok(()),
        Err(e) => return Err(format!("cannot open `{shown}` to cover it: {}", io(e))),
    };
    if kind_of(&fd, &shown)? == Kind::Dir {
        tmpfs(
            fd.as_fd(),
            &shown,
            MountFlags::NOSUID | MountFlags::NODEV | MountFlags::NOEXEC | MountFlags::RDONLY,
            "mode=0755,size=4k",
        )
    } else {
        // A bind copies the flags of its source's mount: `empty` is on a read-only one.
        rustix::mount::mount_bind(fd_path(empty.as_fd()), fd_path(fd.as_fd()))
            .map_err(|e| format!("covering `{shown}` failed: {}", io(e)))
    }
}

#[derive(Clone, Copy, PartialEq)]
enum Access {
    ReadOnly,
    ReadWrite,
    Device,
}

/// Binds `src` on `target`, then remounts the bind with the flags `access` asks for,
/// plus those the host's mount has locked.
fn bind(src: BorrowedFd<'_>, target: &Target, access: Access) -> Result<()> {
    rustix::mount::mount_bind(fd_path(src), fd_path(target.fd.as_fd())).map_err(|e| {
        format!(
            "binding `{}` failed: {}{}",
            target.shown,
            io(e),
            diagnose(e, false)
        )
    })?;
    let top = target.reopen()?;
    remount(&top, &target.shown, access)
}

fn remount(top: &OwnedFd, shown: &str, access: Access) -> Result<()> {
    let have = rustix::fs::fstatvfs(top)
        .map_err(|e| format!("cannot read the mount flags of `{shown}`: {}", io(e)))?
        .f_flag;
    let mut flags = MountFlags::BIND | MountFlags::NOSUID;
    match access {
        Access::ReadOnly => flags |= MountFlags::RDONLY | MountFlags::NODEV,
        Access::ReadWrite => flags |= MountFlags::NODEV,
        Access::Device => flags |= MountFlags::NOEXEC,
    }
    // The host may have locked these on its mount; a remount must keep them.
    if have.contains(StatVfsMountFlags::RDONLY) {
        flags |= MountFlags::RDONLY;
    }
    if have.contains(StatVfsMountFlags::NOEXEC) {
        flags |= MountFlags::NOEXEC;
    }
    if have.contains(StatVfsMountFlags::NODEV) {
        flags |= MountFlags::NODEV;
    }
    rustix::mount::mount_remount(fd_path(top.as_fd()), flags, "")
        .map_err(|e| format!("making `{shown}` read-only failed: {}", io(e)))
}

fn tmpfs(at: BorrowedFd<'_>, shown: &str, flags: MountFlags, options: &str) -> Result<()> {
    let data = CString::new(options).map_err(|_| "tmpfs options with a NUL".to_string())?;
    rustix::mount::mount("tmpfs", fd_path(at), "tmpfs", flags, data.as_c_str()).map_err(|e| {
        format!(
            "mounting a tmpfs on `{shown}` failed: {}{}",
            io(e),
            diagnose(e, false)
        )
    })
}

/// Builds the new root and enters it.
pub(super) fn build_root(plan: &Plan, sources: Vec<Source>) -> Result<()> {
    rustix::mount::mount_change(
        "/",
        MountPropagationFlags::PRIVATE | MountPropagationFlags::REC,
    )
    .map_err(|e| {
        format!(
            "making the sandbox's mounts private failed: {}{}",
            io(e),
            diagnose(e, false)
        )
    })?;
    // A scratch tmpfs over the helper's copy of `/tmp` (everything from the host is open
    // already): the empty file covers show, and the new root.
    let base = rustix::fs::open(
        BASE,
        OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC,
        Mode::empty(),
    )
    .map_err(|e| format!("the sandbox needs the host's `{BASE}` directory: {}", io(e)))?;
    let base = Target {
        parent: rustix::fs::open(
            "/",
            OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC,
            Mode::empty(),
        )
        .map_err(|e| format!("cannot open `/`: {}", io(e)))?,
        name: BASE.trim_start_matches('/').as_bytes().to_vec(),
        fd: base,
        shown: BASE.to_string(),
    };
    tmpfs(
        base.fd.as_fd(),
        BASE,
        MountFlags::NOSUID | MountFlags::NODEV | MountFlags::NOEXEC,
        "mode=0700,size=64k",
    )?;
    let base = base.reopen()?;
    // The empty file that file covers show, on a read-only mount of its own.
    let empty = ensure(&base, b"/empty", Kind::File)?;
    bind(empty.fd.as_fd(), &empty, Access::ReadOnly)?;
    let empty = empty.reopen()?;
    let root = ensure(&base, b"/root", Kind::Dir)?;
    tmpfs(
        root.fd.as_fd(),
        "/",
        MountFlags::NOSUID | MountFlags::NODEV,
        ROOT_TMPFS,
    )?;
    let root = root.reopen()?;

    for (m, src) in plan.mounts.iter().zip(sources) {
        apply(&root, m, src, &empty)?;
    }

    // Into the new root; the host's tree is detached and gone from this namespace.
    rustix::process::fchdir(&root).map_err(|e| format!("cannot enter the new root: {}", io(e)))?;
    rustix::process::pivot_root(".", ".")
        .map_err(|e| format!("pivot_root failed: {}{}", io(e), diagnose(e, false)))?;
    rustix::mount::unmount(".", UnmountFlags::DETACH)
        .map_err(|e| format!("detaching the host's tree failed: {}", io(e)))?;
    rustix::process::chdir("/").map_err(|e| format!("cannot enter `/`: {}", io(e)))?;
    rustix::mount::mount_remount(
        "/",
        MountFlags::BIND | MountFlags::RDONLY | MountFlags::NOSUID | MountFlags::NODEV,
        "",
    )
    .map_err(|e| format!("making the sandbox's root read-only failed: {}", io(e)))
}

fn apply(root: &OwnedFd, m: &Mount, src: Source, empty: &OwnedFd) -> Result<()> {
    match (m, src) {
        (Mount::Host { .. }, Source::Skip) => Ok(()),
        (Mount::Host { path: at, .. } | Mount::Fd { at, .. }, Source::One(src)) => {
            let shown = String::from_utf8_lossy(at);
            let kind = kind_of(&src, &shown)?;
            let target = ensure(root, at, kind)?;
            let writable = matches!(m, Mount::Fd { writable: true, .. });
            bind(
                src.as_fd(),
                &target,
                if writable {
                    Access::ReadWrite
                } else {
                    Access::ReadOnly
                },
            )
        }
        (Mount::Symlink { target, at }, _) => {
            let (parent, name) = parent_of(root, at)?;
            rustix::fs::symlinkat(&target[..], &parent, &name[..]).map_err(|e| {
                format!(
                    "cannot make the link `{}` inside the sandbox: {}",
                    String::from_utf8_lossy(at),
                    io(e)
                )
            })
        }
        (Mount::Proc { at }, _) => proc(root, at),
        (Mount::Dev { at }, Source::Devices(devs)) => dev(root, at, devs),
        (Mount::Tmpfs { at, size, mode }, _) => {
            let target = ensure(root, at, Kind::Dir)?;
            tmpfs(
                target.fd.as_fd(),
                &target.shown,
                MountFlags::NOSUID | MountFlags::NODEV,
                &format!("mode={mode:o},size={size}"),
            )
        }
        (Mount::Dir { at, mode }, _) => {
            let target = ensure(root, at, Kind::Dir)?;
            rustix::fs::fchmod(
                rustix::fs::openat(
                    &target.parent,
                    &target.name[..],
                    OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
                    Mode::empty(),
                )
                .map_err(|e| format!("cannot open `{}`: {}", target.shown, io(e)))?,
                Mode::from_raw_mode(*mode),
            )
            .map_err(|e| {
                format!(
                    "cannot set the permissions of `{}`: {}",
                    target.shown,
                    io(e)
                )
            })
        }
        (Mount::Hide { at } | Mount::HideFile { at }, _) => cover(root, at, empty),
        (m, _) => Err(format!("the sandbox plan is inconsistent at {m:?}")),
    }
}

/// The parent directory of `at` (made if missing) and `at`'s last component.
fn parent_of(root: &OwnedFd, at: &[u8]) -> Result<(OwnedFd, Vec<u8>)> {
    let rel = relative(at)?;
    match rel.iter().rposition(|b| *b == b'/') {
        Some(i) => {
            let mut parent = b"/".to_vec();
            parent.extend_from_slice(&rel[..i]);
            Ok((ensure(root, &parent, Kind::Dir)?.fd, rel[i + 1..].to_vec()))
        }
        None if !rel.is_empty() => Ok((
            rustix::io::dup(root).map_err(|e| format!("dup failed: {}", io(e)))?,
            rel,
        )),
        None => Err("cannot replace the sandbox's root".into()),
    }
}

/// A new `proc` for the sandbox's PID namespace; its kernel knobs read-only, and no
/// further user namespace.
fn proc(root: &OwnedFd, at: &[u8]) -> Result<()> {
    let target = ensure(root, at, Kind::Dir)?;
    rustix::mount::mount(
        "proc",
        fd_path(target.fd.as_fd()),
        "proc",
        MountFlags::NOSUID | MountFlags::NODEV | MountFlags::NOEXEC,
        None,
    )
    .map_err(|e| {
        let why = if e == Errno::PERM {
            ": the kernel lets a sandbox mount its own /proc only where the host's /proc is fully visible (in a container, /proc is usually partly masked)".to_string()
        } else {
            diagnose(e, false)
        };
        format!("mounting the sandbox's /proc failed: {}{why}", io(e))
    })?;
    let p = target.reopen()?;
    // Writable only by this user namespace's root, which is about to drop its
    // capabilities: no process in the sandbox can create a user namespace after this.
    rustix::fs::openat(
        &p,
        "sys/user/max_user_namespaces",
        OFlags::WRONLY | OFlags::CLOEXEC,
        Mode::empty(),
    )
    .and_then(|f| rustix::io::write(&f, b"0"))
    .map_err(|e| {
        format!(
            "cannot forbid nested user namespaces (user.max_user_namespaces): {}",
            io(e)
        )
    })?;
    for name in ["sys", "sysrq-trigger", "irq", "bus"] {
        let Ok(fd) = open_step(&p, name.as_bytes()) else {
            continue;
        };
        let sub = Target {
            parent: rustix::io::dup(&p).map_err(|e| format!("dup failed: {}", io(e)))?,
            name: name.as_bytes().to_vec(),
            fd,
            shown: format!("{}/{name}", String::from_utf8_lossy(at)),
        };
        bind(sub.fd.as_fd(), &sub, Access::ReadOnly)?;
    }
    Ok(())
}

/// A minimal `/dev`: the host's harmless device nodes, the standard links, a private
/// `pts` and `shm`; the directory itself read-only.
fn dev(root: &OwnedFd, at: &[u8], devices: Vec<(&'static str, OwnedFd)>) -> Result<()> {
    let target = ensure(root, at, Kind::Dir)?;
    tmpfs(
        target.fd.as_fd(),
        &target.shown,
        MountFlags::NOSUID | MountFlags::NOEXEC,
        "mode=0755,size=64k",
    )?;
    let d = target.reopen()?;
    let shown = String::from_utf8_lossy(at).into_owned();
    let sub = |name: &str| format!("{shown}/{name}").into_bytes();
    for (name, src) in devices {
        let t = ensure(root, &sub(name), Kind::File)?;
        bind(src.as_fd(), &t, Access::Device)?;
    }
    for (name, to) in [
        ("fd", "/proc/self/fd"),
        ("stdin", "/proc/self/fd/0"),
        ("stdout", "/proc/self/fd/1"),
        ("stderr", "/proc/self/fd/2"),
        ("ptmx", "pts/ptmx"),
    ] {
        rustix::fs::symlinkat(to, &d, name)
            .map_err(|e| format!("cannot make `{shown}/{name}`: {}", io(e)))?;
    }
    let pts = ensure(root, &sub("pts"), Kind::Dir)?;
    let opts = CString::new("newinstance,ptmxmode=0666,mode=620").unwrap_or_default();
    rustix::mount::mount(
        "devpts",
        fd_path(pts.fd.as_fd()),
        "devpts",
        MountFlags::NOSUID | MountFlags::NOEXEC,
        opts.as_c_str(),
    )
    .map_err(|e| format!("mounting `{shown}/pts` failed: {}", io(e)))?;
    let shm = ensure(root, &sub("shm"), Kind::Dir)?;
    tmpfs(
        shm.fd.as_fd(),
        &shm.shown,
        MountFlags::NOSUID | MountFlags::NODEV | MountFlags::NOEXEC,
        &format!("mode=1777,size={SHM_SIZE}"),
    )?;
    rustix::mount::mount_remount(
        fd_path(d.as_fd()),
        MountFlags::BIND | MountFlags::RDONLY | MountFlags::NOSUID | MountFlags::NOEXEC,
        "",
    )
    .map_err(|e| format!("making `{shown}` read-only failed: {}", io(e)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mount_points_are_normalized_absolute_paths() {
        assert_eq!(relative(b"/").unwrap_or_default(), b"");
        assert_eq!(relative(b"/a/b/").unwrap_or_default(), b"a/b");
        for bad in [&b"a/b"[..], b"/a/../b", b"/a//b", b"/./a", b"/a/."] {
            assert!(relative(bad).is_err(), "{}", String::from_utf8_lossy(bad));
        }
    }

    /// The identity check that keeps a concurrent stage from swapping what a bind
    /// shows: the directory gantry opened, moved away and replaced by another one or by
    /// a link, is refused; left alone, it is found again.
    #[test]
    fn a_descriptor_is_bound_only_if_its_path_still_names_it() {
        use std::os::fd::IntoRawFd;
        let base = std::env::temp_dir().join(format!("gantry-identity-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&base);
        std::fs::create_dir_all(base.join("ws/dist")).expect("mkdir");
        std::fs::create_dir_all(base.join("elsewhere")).expect("mkdir");
        let take = |p: &std::path::Path| {
            let fd = std::fs::File::open(p).expect("open").into_raw_fd();
            Inherited::take(fd).expect("take")
        };

        let same = take(&base.join("ws/dist"));
        assert!(same.reopen().is_ok());

        let moved = take(&base.join("ws/dist"));
        std::fs::rename(base.join("ws/dist"), base.join("ws/old")).expect("rename");
        std::fs::create_dir(base.join("ws/dist")).expect("mkdir");
        let why = moved.reopen().err().unwrap_or_default();
        assert!(
            why.contains("moved or replaced") || why.contains("cannot be opened again"),
            "{why}"
        );
        // Moved before the helper took it: the kernel reports where it is now, and it
        // is the directory gantry opened, so that is what is bound.
        let fd = std::fs::File::open(base.join("ws/dist")).expect("open");
        std::fs::rename(base.join("ws/dist"), base.join("ws/newer")).expect("rename");
        let before = Inherited::take(std::os::fd::IntoRawFd::into_raw_fd(fd)).expect("take");
        assert!(String::from_utf8_lossy(&before.path).ends_with("/ws/newer"));
        assert!(before.reopen().is_ok());
        std::fs::create_dir(base.join("ws/dist")).expect("mkdir");

        let linked = take(&base.join("ws/dist"));
        std::fs::remove_dir(base.join("ws/dist")).expect("rmdir");
        std::os::unix::fs::symlink(base.join("elsewhere"), base.join("ws/dist")).expect("ln");
        let why = linked.reopen().err().unwrap_or_default();
        assert!(
            why.contains("moved or replaced") || why.contains("symbolic link"),
            "{why}"
        );

        // A link anywhere on the way is refused too, even to the same directory.
        let through = take(&base.join("ws/old"));
        std::fs::rename(base.join("ws"), base.join("ws2")).expect("rename");
        std::os::unix::fs::symlink(base.join("ws2"), base.join("ws")).expect("ln");
        let why = through.reopen().err().unwrap_or_default();
        assert!(why.contains("symbolic link"), "{why}");
        let _ = std::fs::remove_dir_all(&base);
    }
}
