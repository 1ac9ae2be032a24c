//! Capability `fs`, bulk form (`gantry:plugin/files`): directory listings and
//! whole-file reads under the stage's `grants.fs.read` / `grants.fs.write`.
//!
//! Why it exists: through `wasi:filesystem` a plugin pays about six host calls per
//! file (open, stat, read until an empty read, drop) and wasmtime-wasi stats every
//! directory entry it lists. A scanner over thousands of small files spent more time
//! there than scanning. Here a directory is one call and a batch of files is one call,
//! each file costing what a native `std::fs::read` costs (openat2, fstat, read, close).
//!
//! What it can reach is exactly what the stage's preopens reach, or less:
//! - a path is a guest path under `/workspace`; it must lie under a granted directory
//!   (else `denied`, naming the grant line that would allow it, audited); a path
//!   outside the workspace or with a `..` component is refused whatever the grants
//!   (audited);
//! - every open is `openat2` from the granted directory's descriptor (opened when the
//!   stage starts, like the preopen) with `RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS`: the
//!   kernel refuses any symbolic link on the way and any escape, so a link swapped in
//!   mid-stage leads nowhere;
//! - files are opened read-only, non-blocking (a FIFO cannot hang the host) and only
//!   regular files are read; the interface has no way to write.
//!
//! Bounds: one `read-files` call returns at most [`MAX_BUDGET`] bytes plus one file,
//! and no file larger than the stage's memory limit is read into the host; a listing
//! over [`MAX_ENTRIES`] entries is `failed` (the SDK then lists it through WASI, which
//! streams).
//!
//! Allowed calls are not audited one by one, like `wasi:filesystem` reads: the audit
//! log's `fs preopen` records of the stage are the whole of what it could read.
//!
//! Tests: `tests/e2e/attack_files.rs`.

use std::io::Read as _;

use serde_json::json;

use super::{GUEST_ROOT, components};
use crate::caps::bindings::files::{DirEntry, EntryKind, FileRead, Host};
use crate::caps::bindings::types::CapError;
use crate::caps::context::StageState;
use crate::manifest::text::{brief as shown, toml_string as toml_str};

const CAP: &str = "fs";
/// Most bytes one `read-files` call returns (plus the one file that crosses it).
pub const MAX_BUDGET: u64 = 64 << 20;
/// Most names one `read-files` call handles; the answer is shorter, the plugin asks again.
pub const MAX_NAMES: usize = 4096;
/// Most entries `list-dir` returns; larger directories are `failed` (list them
/// through `wasi:filesystem`, which streams).
pub const MAX_ENTRIES: usize = 100_000;

/// A granted directory: its workspace-relative path, as guest path components, and
/// the descriptor opened when the stage started.
struct Root {
    components: Vec<String>,
    #[cfg(target_os = "linux")]
    fd: Result<std::os::fd::OwnedFd, String>,
}

/// Per-stage state: the granted directories, longest path first.
#[derive(Default)]
pub struct State {
    roots: Vec<Root>,
    /// Largest file read into the host (the stage's memory limit).
    max_file: u64,
}

impl State {
    /// The stage's granted directories (read and write grants alike: both may be
    /// read), sharing the descriptors [`super::open_granted`] opened beneath the
    /// workspace.
    pub fn new(granted: &[super::Granted], memory: u64) -> State {
        let mut roots: Vec<Root> = Vec::new();
        for g in granted {
            let components = components(&g.rel);
            if roots.iter().any(|r| r.components == components) {
                continue;
            }
            roots.push(Root {
                components,
                #[cfg(target_os = "linux")]
                fd: g
                    .dir
                    .try_clone()
                    .map_err(|e| format!("cannot use `{}`: {e}", g.rel)),
            });
        }
        roots.sort_by_key(|r| std::cmp::Reverse(r.components.len()));
        State {
            roots,
            max_file: memory,
        }
    }
}

/// A guest path resolved against the grants.
#[cfg_attr(not(target_os = "linux"), allow(dead_code))]
struct Resolved<'a> {
    root: &'a Root,
    /// The rest of the path below the root, `.` for the root itself.
    rest: String,
}

impl StageState {
    /// Finds the granted directory holding guest path `path`, or the refusal (audited).
    fn resolve_guest<'a>(
        broker: &crate::caps::Broker,
        roots: &'a [Root],
        op: &str,
        path: &str,
    ) -> Result<Resolved<'a>, CapError> {
        let shown = shown(path);
        let detail = Some(json!({ "path": shown }));
        let mut parts = path.split('/').filter(|c| !c.is_empty() && *c != ".");
        let root_name = GUEST_ROOT.trim_start_matches('/');
        if !path.starts_with('/') || parts.next() != Some(root_name) {
            return Err(broker.refuse(
                CAP,
                op,
                &format!("`{shown}` is outside the workspace (`{GUEST_ROOT}`)"),
                detail,
            ));
        }
        let parts: Vec<&str> = parts.collect();
        if parts.contains(&"..") || path.contains('\0') {
            return Err(broker.refuse(
                CAP,
                op,
                &format!(
                    "`{shown}` has a `..` component or a NUL byte; name the directory directly"
                ),
                detail,
            ));
        }
        let under = |r: &Root| {
            r.components.len() <= parts.len()
                && r.components.iter().zip(&parts).all(|(a, b)| a == b)
        };
        match roots.iter().find(|r| under(r)) {
            Some(root) => {
                let rest = parts[root.components.len()..].join("/");
                Ok(Resolved {
                    root,
                    rest: if rest.is_empty() { ".".into() } else { rest },
                })
            }
            None => {
                let rel = if parts.is_empty() {
                    ".".to_string()
                } else {
                    parts.join("/")
                };
                Err(broker.deny(
                    CAP,
                    op,
                    &format!("`{shown}` is not under a directory the stage may read"),
                    &format!("grants.fs.read = [{}]", toml_str(&rel)),
                    detail,
                ))
            }
        }
    }
}

impl Host for StageState {
    fn list_dir(&mut self, path: String) -> wasmtime::Result<Result<Vec<DirEntry>, CapError>> {
        let resolved =
            match Self::resolve_guest(&self.broker, &self.caps.fs.files.roots, "list-dir", &path) {
                Ok(r) => r,
                Err(e) => return Ok(Err(e)),
            };
        Ok(sys::list_dir(&resolved, &path))
    }

    fn read_files(
        &mut self,
        dir: String,
        names: Vec<String>,
        max_size: u64,
        budget: u64,
    ) -> wasmtime::Result<Result<Vec<FileRead>, CapError>> {
        let resolved = match Self::resolve_guest(
            &self.broker,
            &self.caps.fs.files.roots,
            "read-files",
            &dir,
        ) {
            Ok(r) => r,
            Err(e) => return Ok(Err(e)),
        };
        let max_size = max_size.min(self.caps.fs.files.max_file);
        let budget = budget.min(MAX_BUDGET);
        Ok(sys::read_files(&resolved, &dir, &names, max_size, budget))
    }
}

/// A single path component a plugin may name in `read-files`.
fn valid_name(name: &str) -> bool {
    !name.is_empty() && name != "." && name != ".." && !name.contains(['/', '\0'])
}

#[cfg(target_os = "linux")]
mod sys {
    use std::os::fd::{AsFd, OwnedFd};

    use rustix::fs::{FileType, Mode, OFlags, ResolveFlags};
    use rustix::io::Errno;

    use super::*;

    const RESOLVE: ResolveFlags = ResolveFlags::BENEATH
        .union(ResolveFlags::NO_SYMLINKS)
        .union(ResolveFlags::NO_MAGICLINKS);

    fn open_dir(r: &Resolved<'_>, path: &str) -> Result<OwnedFd, CapError> {
        let root = r
            .root
            .fd
            .as_ref()
            .map_err(|e| CapError::Failed(e.clone()))?;
        rustix::fs::openat2(
            root.as_fd(),
            r.rest.as_str(),
            OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
            Mode::empty(),
            RESOLVE,
        )
        .map_err(|e| error(e, &shown(path)))
    }

    /// The error a whole call gets. `failed` is what the SDK answers by reading
    /// through `wasi:filesystem` instead.
    fn error(e: Errno, path: &str) -> CapError {
        match e {
            Errno::NOENT => CapError::NotFound(format!("`{path}` does not exist")),
            Errno::LOOP => CapError::Invalid(format!(
                "`{path}`: a symbolic link is on the way; links are not followed"
            )),
            Errno::XDEV => CapError::Invalid(format!("`{path}` leads outside its grant")),
            Errno::NOTDIR => CapError::Invalid(format!("`{path}` is not a directory")),
            Errno::NOSYS => CapError::Failed(
                "this kernel has no openat2 (Linux 5.6 or later): read through wasi:filesystem"
                    .into(),
            ),
            e => CapError::Failed(format!("`{path}`: {}", std::io::Error::from(e))),
        }
    }

    fn kind(t: FileType) -> Option<EntryKind> {
        Some(match t {
            FileType::RegularFile => EntryKind::File,
            FileType::Directory => EntryKind::Directory,
            FileType::Symlink => EntryKind::Symlink,
            FileType::Unknown => return None,
            _ => EntryKind::Other,
        })
    }

    pub(super) fn list_dir(r: &Resolved<'_>, path: &str) -> Result<Vec<DirEntry>, CapError> {
        let fd = open_dir(r, path)?;
        let mut dir = rustix::fs::Dir::read_from(&fd).map_err(|e| error(e, path))?;
        let mut out = Vec::new();
        while let Some(entry) = dir.read() {
            let entry = entry.map_err(|e| error(e, path))?;
            let name = entry.file_name().to_bytes();
            if name == b"." || name == b".." {
                continue;
            }
            let Ok(name) = std::str::from_utf8(name) else {
                return Err(CapError::Failed(format!(
                    "`{}` has a name that is not UTF-8",
                    shown(path)
                )));
            };
            if out.len() == MAX_ENTRIES {
                return Err(CapError::Failed(format!(
                    "`{}` has more than {MAX_ENTRIES} entries",
                    shown(path)
                )));
            }
            // Some file systems leave the type out of the listing: ask, not following.
            let kind = match kind(entry.file_type()) {
                Some(k) => k,
                None => rustix::fs::statat(&fd, name, rustix::fs::AtFlags::SYMLINK_NOFOLLOW)
                    .ok()
                    .and_then(|st| kind(FileType::from_raw_mode(st.st_mode)))
                    .unwrap_or(EntryKind::Other),
            };
            out.push(DirEntry {
                name: name.to_string(),
                kind,
            });
        }
        Ok(out)
    }

    pub(super) fn read_files(
        r: &Resolved<'_>,
        path: &str,
        names: &[String],
        max_size: u64,
        budget: u64,
    ) -> Result<Vec<FileRead>, CapError> {
        let dir = open_dir(r, path)?;
        let mut out = Vec::with_capacity(names.len().min(MAX_NAMES));
        let mut total = 0u64;
        for name in names.iter().take(MAX_NAMES) {
            let read = read_one(&dir, name, max_size);
            if let FileRead::Content(c) = &read {
                total += c.len() as u64;
            }
            out.push(read);
            if total >= budget {
                break;
            }
        }
        Ok(out)
    }

    fn read_one(dir: &OwnedFd, name: &str, max_size: u64) -> FileRead {
        if !valid_name(name) {
            return FileRead::Failed(format!("`{}` is not a single file name", shown(name)));
        }
        let fd = match rustix::fs::openat2(
            dir.as_fd(),
            name,
            OFlags::RDONLY | OFlags::CLOEXEC | OFlags::NOFOLLOW | OFlags::NONBLOCK | OFlags::NOCTTY,
            Mode::empty(),
            RESOLVE,
        ) {
            Ok(fd) => fd,
            Err(Errno::LOOP) => {
                return FileRead::Failed("a symbolic link (not followed)".into());
            }
            Err(e) => return FileRead::Failed(std::io::Error::from(e).to_string()),
        };
        let st = match rustix::fs::fstat(&fd) {
            Ok(st) => st,
            Err(e) => return FileRead::Failed(std::io::Error::from(e).to_string()),
        };
        if FileType::from_raw_mode(st.st_mode) != FileType::RegularFile {
            return FileRead::Failed("not a regular file".into());
        }
        let len = st.st_size as u64;
        if len > max_size {
            return FileRead::TooLarge(len);
        }
        let mut content = Vec::with_capacity(len as usize + 1);
        // `take`: a file that grows while it is read stops at the limit plus one byte.
        match std::fs::File::from(fd)
            .take(max_size + 1)
            .read_to_end(&mut content)
        {
            Ok(n) if n as u64 > max_size => FileRead::TooLarge(n as u64),
            Ok(_) => FileRead::Content(content),
            Err(e) => FileRead::Failed(e.to_string()),
        }
    }
}

#[cfg(not(target_os = "linux"))]
mod sys {
    use super::*;

    const UNSUPPORTED: &str = "bulk reads need Linux (openat2): read through wasi:filesystem";

    pub(super) fn list_dir(_: &Resolved<'_>, _: &str) -> Result<Vec<DirEntry>, CapError> {
        Err(CapError::Failed(UNSUPPORTED.into()))
    }

    pub(super) fn read_files(
        _: &Resolved<'_>,
        _: &str,
        _: &[String],
        _: u64,
        _: u64,
    ) -> Result<Vec<FileRead>, CapError> {
        Err(CapError::Failed(UNSUPPORTED.into()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_single_components() {
        for ok in ["a", "a.txt", ".env", "..a", "a b"] {
            assert!(valid_name(ok), "{ok}");
        }
        for bad in ["", ".", "..", "a/b", "/a", "a\0b"] {
            assert!(!valid_name(bad), "{bad:?}");
        }
    }
}
