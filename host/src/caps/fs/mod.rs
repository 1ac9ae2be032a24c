//! Capability `fs`: the workspace's files, through `wasi:filesystem` preopens and the
//! bulk interface `gantry:plugin/files` ([`files`]), both over the same granted
//! directories.
//!
//! Grant: `grants.fs.read = ["."]`, `grants.fs.write = ["dist"]` — workspace-relative
//! directories (validated by the manifest: no absolute paths, no `..`, nothing under
//! `.gantry`). Each becomes a preopen at `/workspace/<path>`, read-only or read-write;
//! a path in both lists is preopened once, read-write.
//!
//! **Opened beneath a held handle, once.** When a stage starts, the host opens the
//! workspace root and then each granted directory relative to it with
//! `openat2(RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS)` ([`beneath`]): the kernel refuses a
//! symbolic link anywhere on the way and any escape, so a path component that another
//! stage swaps for a link between two checks leads nowhere — there is no second
//! lookup by name to race. The preopen and the bulk interface both use the descriptors
//! opened then (the preopen through `/proc/self/fd/N`, which names the open directory,
//! not a path). A write grant whose directory is missing is created beneath the same
//! handle.
//!
//! Refused during the stage by WASI's capability-based filesystem (cap-std): `..`
//! above a preopen, absolute paths outside the preopens, symlinks leading out of a
//! preopen, and any write through a read-only preopen. Refused here: **creating a
//! symbolic link that leads out of the write grant it is made in** (an absolute
//! target, or more `..` than the link's depth below its grant) — such a link is a trap
//! for whatever reads the directory later without a sandbox (a CI step that uploads
//! `dist/`, a host tool). `symlink-at` is answered by [`symlink`] instead of
//! wasmtime-wasi; the refusal is `not-permitted` to the plugin, a `deny` line in the
//! audit log and a note in the stage log.
//!
//! Run records are not reachable: they live outside the workspace
//! ([`crate::run::state`]), and the `.gantry` link to them is a symlink that no
//! preopen follows.
//!
//! Tests: `tests/e2e/sandbox.rs`, `tests/e2e/attack_files.rs`; unit tests in
//! [`beneath`] and [`symlink`].

pub mod describe;

pub mod beneath;
pub mod files;
pub mod open;
pub mod sweep;
pub mod symlink;

/// The `wasi:filesystem` calls the host answers instead of wasmtime-wasi (call after
/// wasmtime-wasi added its own): `symlink-at` ([`symlink`]) and `open-at` ([`open`]).
pub fn add_to_linker(
    linker: &mut wasmtime::component::Linker<crate::caps::context::StageState>,
) -> anyhow::Result<()> {
    symlink::add_to_linker(linker)?;
    open::add_to_linker(linker)
}

use std::os::fd::{AsRawFd, OwnedFd};
use std::path::Path;

use wasmtime_wasi::{FsPerms, WasiCtxBuilder};

use crate::caps::context::StageSetup;

/// Guest directory under which the workspace appears.
pub const GUEST_ROOT: &str = "/workspace";

pub fn guest_path(rel: &str) -> String {
    if rel == "." {
        GUEST_ROOT.to_string()
    } else {
        format!("{GUEST_ROOT}/{rel}")
    }
}

/// One granted directory, opened beneath the workspace when the stage started.
pub struct Granted {
    /// Workspace-relative, as granted (`.` is the root).
    pub rel: String,
    pub write: bool,
    pub dir: OwnedFd,
}

/// Per-stage state of `fs` beyond what WASI keeps: the stage's write grants (where a
/// plugin may create symbolic links, and how far up they may point).
#[derive(Default)]
pub struct State {
    /// Workspace-relative write grants, as path components.
    pub(crate) write_roots: Vec<Vec<String>>,
    /// The write grants' directories (as opened when the stage started), for the
    /// sweep at its end.
    write_dirs: Vec<(String, OwnedFd)>,
    /// Something other than the plugin's WASI calls may have written into a write
    /// grant (a host command, a container): sweep at the end of the stage.
    pub(crate) written_by_others: bool,
    /// `gantry:plugin/files`: the bulk interface over the same grants.
    pub(crate) files: files::State,
}

impl State {
    pub fn new(granted: &[Granted]) -> State {
        State {
            write_roots: granted
                .iter()
                .filter(|g| g.write)
                .map(|g| components(&g.rel))
                .collect(),
            write_dirs: granted
                .iter()
                .filter(|g| g.write)
                .filter_map(|g| g.dir.try_clone().ok().map(|d| (g.rel.clone(), d)))
                .collect(),
            written_by_others: false,
            files: files::State::default(),
        }
    }
}

impl crate::caps::context::StageState {
    /// At the end of a stage in which a host command or a container could write into
    /// a write grant: removes the links that lead out of it ([`sweep`]), and says so
    /// in the stage log and the audit log.
    pub(crate) fn sweep_write_grants(&mut self) {
        if !self.caps.fs.written_by_others {
            return;
        }
        for (rel, dir) in &self.caps.fs.write_dirs {
            let swept = sweep::sweep(dir);
            let at = |p: &str| {
                if rel == "." {
                    p.to_string()
                } else {
                    format!("{rel}/{p}")
                }
            };
            for (path, target) in &swept.removed {
                let path = at(path);
                let line = if target == "a device node" {
                    format!(
                        "removed device node `{}` from the write grant `{rel}` (made by a host command or a container; it would give whoever opens it the host's device)",
                        crate::manifest::text::brief(&path)
                    )
                } else {
                    format!(
                        "removed symbolic link `{}` → `{}`: it leads out of the write grant `{rel}` (made by a host command or a container, where gantry could not refuse it)",
                        crate::manifest::text::brief(&path),
                        crate::manifest::text::brief(target)
                    )
                };
                self.log.line("gantry", &line);
                self.broker.allow(
                    "fs",
                    "sweep",
                    &line,
                    Some(serde_json::json!({ "link": path, "target": target, "grant": rel })),
                );
            }
            for (path, why) in &swept.failed {
                self.log.line(
                    "gantry",
                    &format!(
                        "could not remove symbolic link `{}`, which leads out of the write grant `{rel}`: {why}",
                        crate::manifest::text::brief(&at(path))
                    ),
                );
            }
            if swept.incomplete {
                self.log.line(
                    "gantry",
                    &format!(
                        "the write grant `{rel}` has more than {} entries: links beyond them were not checked",
                        sweep::MAX_ENTRIES
                    ),
                );
            }
        }
    }
}

/// `src/./x/` → `["src", "x"]`; `.` → `[]`.
pub(crate) fn components(rel: &str) -> Vec<String> {
    rel.split('/')
        .filter(|c| !c.is_empty() && *c != ".")
        .map(str::to_string)
        .collect()
}

/// Opens every granted directory of the stage beneath the workspace (creating missing
/// write grants), auditing each as a `preopen`. The first failure ends the stage
/// before it starts.
pub fn open_granted(setup: &StageSetup, broker: &super::Broker) -> Result<Vec<Granted>, String> {
    let mut grants: Vec<(&str, bool)> = Vec::new();
    for w in &setup.grants.fs.write {
        grants.push((w.as_str(), true));
    }
    for r in &setup.grants.fs.read {
        if !setup.grants.fs.write.contains(r) {
            grants.push((r.as_str(), false));
        }
    }
    if grants.is_empty() {
        return Ok(Vec::new());
    }
    let root = beneath::open_root(&setup.workspace).map_err(|e| {
        format!(
            "cannot open the workspace `{}`: {e}",
            setup.workspace.display()
        )
    })?;
    let mut out = Vec::with_capacity(grants.len());
    for (rel, write) in grants {
        let (mode, grant) = if write {
            ("read-write", "grants.fs.write")
        } else {
            ("read-only", "grants.fs.read")
        };
        let detail = serde_json::json!({ "path": rel, "guest": guest_path(rel), "mode": mode });
        let opened = if write {
            beneath::create_dir_all(&root, rel)
        } else {
            beneath::open_dir(&root, rel)
        };
        match opened {
            Ok(dir) => {
                broker.allow(
                    "fs",
                    "preopen",
                    &format!("granted by {grant}"),
                    Some(detail),
                );
                out.push(Granted {
                    rel: rel.to_string(),
                    write,
                    dir,
                });
            }
            Err(why) => {
                let reason = format!("`{rel}` in {grant} {why}");
                broker.failed("fs", "preopen", &reason, Some(detail));
                return Err(reason);
            }
        }
    }
    Ok(out)
}

/// Preopens the granted directories for WASI, each through the descriptor opened by
/// [`open_granted`].
pub fn preopen(wasi: &mut WasiCtxBuilder, granted: &[Granted]) -> Result<(), String> {
    for g in granted {
        let perms = if g.write {
            FsPerms::ReadWrite
        } else {
            FsPerms::ReadOnly
        };
        // `/proc/self/fd/N` is the directory opened beneath the workspace, whatever
        // its path names now.
        let handle = Path::new("/proc/self/fd").join(g.dir.as_raw_fd().to_string());
        wasi.preopened_dir(&handle, guest_path(&g.rel), perms)
            .map_err(|e| format!("cannot preopen `{}`: {e}", g.rel))?;
    }
    Ok(())
}

/// The fs capability: WASI preopens of the granted directories (opened beneath the
/// workspace), `gantry:plugin/files`, and the host answers that replace
/// wasmtime-wasi's `open-at` and `symlink-at`.
pub struct Fs;

impl super::Capability for Fs {
    type State = State;
    const DESCRIPTION: &'static super::describe::Description = &describe::DESCRIPTION;

    fn link(
        linker: &mut wasmtime::component::Linker<crate::caps::context::StageState>,
    ) -> anyhow::Result<()> {
        use crate::caps::context::StageState;
        use wasmtime::component::HasSelf;
        crate::caps::bindings::files::add_to_linker::<StageState, HasSelf<StageState>>(
            linker,
            |s| s,
        )?;
        add_to_linker(linker)
    }

    fn wasi(builder: &mut WasiCtxBuilder, cx: &super::Prepare<'_>) -> Result<(), String> {
        preopen(builder, cx.granted)
    }

    fn prepare(cx: &super::Prepare<'_>) -> State {
        let mut state = State::new(cx.granted);
        state.files = files::State::new(cx.granted, cx.setup.limits.memory);
        state
    }

    /// Links out of a write grant that a command or container made are removed.
    fn finish(stage: &mut crate::caps::context::StageState) {
        stage.sweep_write_grants();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grant_paths_split_into_components() {
        assert!(components(".").is_empty());
        assert_eq!(components("src/./x/"), vec!["src", "x"]);
    }
}
