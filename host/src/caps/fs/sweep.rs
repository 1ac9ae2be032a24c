//! Removing, at the end of a stage, symbolic links that lead out of a write grant (and
//! device nodes) that something other than the plugin's own WASI calls made: a host command in its
//! sandbox (which may create any link inside a writable bind) or a container writing
//! into a mounted grant. The WASI path refuses such links when they are made
//! ([`super::symlink`]); these were made where gantry could not refuse them, so they
//! are removed before a later stage, a host tool or a CI step can follow them.
//!
//! The walk never follows a link: every directory is opened beneath its parent's
//! descriptor with `openat2(RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS)`. It is bounded by
//! [`MAX_ENTRIES`]; a tree larger than that is reported as not fully swept.
//!
//! Tests: unit tests below; `tests/e2e/attack_process.rs` (a command's link swept).

use std::os::fd::{AsFd, OwnedFd};

use rustix::fs::{AtFlags, FileType, Mode, OFlags, ResolveFlags};

use super::symlink::check_target;

/// Most directory entries one stage's sweep looks at.
pub const MAX_ENTRIES: usize = 1_000_000;

/// What a sweep did.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Swept {
    /// (path relative to the grant, target) of each link removed (`a device node`
    /// for a device node).
    pub removed: Vec<(String, String)>,
    /// Links found that could not be removed: (path, why).
    pub failed: Vec<(String, String)>,
    /// The walk stopped at [`MAX_ENTRIES`].
    pub incomplete: bool,
}

/// Sweeps the write grant whose directory is `root`.
pub fn sweep(root: &OwnedFd) -> Swept {
    let mut out = Swept::default();
    let mut seen = 0usize;
    let Ok(start) = rustix::io::dup(root) else {
        return out;
    };
    // (directory, its path below the grant, its depth below the grant)
    let mut stack: Vec<(OwnedFd, String, usize)> = vec![(start, String::new(), 0)];
    while let Some((dir, path, depth)) = stack.pop() {
        let Ok(mut entries) = rustix::fs::Dir::read_from(&dir) else {
            continue;
        };
        let mut links = Vec::new();
        while let Some(Ok(entry)) = entries.read() {
            let name = entry.file_name().to_bytes();
            if name == b"." || name == b".." {
                continue;
            }
            seen += 1;
            if seen > MAX_ENTRIES {
                out.incomplete = true;
                return out;
            }
            let Ok(name) = std::str::from_utf8(name) else {
                continue;
            };
            let kind = match entry.file_type() {
                FileType::Unknown => rustix::fs::statat(&dir, name, AtFlags::SYMLINK_NOFOLLOW)
                    .map(|st| FileType::from_raw_mode(st.st_mode))
                    .unwrap_or(FileType::Unknown),
                k => k,
            };
            let rel = if path.is_empty() {
                name.to_string()
            } else {
                format!("{path}/{name}")
            };
            match kind {
                FileType::Symlink => links.push((name.to_string(), rel)),
                // A device node in a workspace is the host's device for whoever opens
                // it (a container's root can `mknod` one in a writable mount).
                FileType::CharacterDevice | FileType::BlockDevice => {
                    match rustix::fs::unlinkat(&dir, name, AtFlags::empty()) {
                        Ok(()) => out.removed.push((rel, "a device node".into())),
                        Err(e) => out.failed.push((rel, std::io::Error::from(e).to_string())),
                    }
                }
                FileType::Directory => {
                    if let Ok(sub) = rustix::fs::openat2(
                        dir.as_fd(),
                        name,
                        OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC | OFlags::NOFOLLOW,
                        Mode::empty(),
                        ResolveFlags::BENEATH | ResolveFlags::NO_SYMLINKS,
                    ) {
                        stack.push((sub, rel, depth + 1));
                    }
                }
                _ => {}
            }
        }
        for (name, rel) in links {
            let Ok(target) = rustix::fs::readlinkat(&dir, name.as_str(), Vec::new()) else {
                continue;
            };
            let target = target.to_string_lossy().into_owned();
            if check_target(&target, depth).is_ok() {
                continue;
            }
            match rustix::fs::unlinkat(&dir, name.as_str(), AtFlags::empty()) {
                Ok(()) => out.removed.push((rel, target)),
                Err(e) => out.failed.push((rel, std::io::Error::from(e).to_string())),
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn removes_links_out_of_the_grant_and_keeps_the_rest() {
        let d = std::env::temp_dir().join(format!("gantry-sweep-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        let g = d.join("dist");
        std::fs::create_dir_all(g.join("lib/deep")).expect("mkdir");
        std::fs::write(g.join("lib/libx.so.1"), "x").expect("write");
        let link = |t: &str, at: &str| std::os::unix::fs::symlink(t, g.join(at)).expect("link");
        link("libx.so.1", "lib/libx.so");
        link("../lib/libx.so.1", "lib/deep/up");
        link("/etc/shadow", "shadow");
        link("../secret", "out");
        link("../../../../etc", "lib/deep/far");
        link("lib/../../x", "sneaky");
        // A device node (as a container's root could make in a writable mount): needs
        // root to create, which the test machines have.
        let dev =
            std::ffi::CString::new(g.join("lib/zero").to_str().expect("utf-8")).expect("path");
        // SAFETY: a valid NUL-terminated path; makedev(1, 5) is /dev/zero.
        let made_dev =
            unsafe { libc::mknod(dev.as_ptr(), libc::S_IFCHR | 0o600, libc::makedev(1, 5)) } == 0;
        let root = crate::caps::fs::beneath::open_root(&g).expect("root");
        let mut got = sweep(&root);
        got.removed.sort();
        if made_dev {
            let i = got
                .removed
                .iter()
                .position(|(p, t)| p == "lib/zero" && t == "a device node")
                .expect("the device node was removed");
            got.removed.remove(i);
            assert!(std::fs::symlink_metadata(g.join("lib/zero")).is_err());
        }
        assert_eq!(
            got.removed,
            vec![
                ("lib/deep/far".to_string(), "../../../../etc".to_string()),
                ("out".to_string(), "../secret".to_string()),
                ("shadow".to_string(), "/etc/shadow".to_string()),
                ("sneaky".to_string(), "lib/../../x".to_string()),
            ]
        );
        assert!(got.failed.is_empty() && !got.incomplete);
        assert!(std::fs::symlink_metadata(g.join("lib/libx.so")).is_ok());
        assert!(std::fs::symlink_metadata(g.join("lib/deep/up")).is_ok());
        assert!(std::fs::symlink_metadata(g.join("shadow")).is_err());
        let _ = std::fs::remove_dir_all(&d);
    }
}
