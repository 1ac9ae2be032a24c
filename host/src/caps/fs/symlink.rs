//! `wasi:filesystem` `symlink-at`, answered by the host instead of wasmtime-wasi: a
//! plugin may create a symbolic link only if it stays inside the write grant it is
//! made in.
//!
//! WASI never follows a link out of a preopen, so such a link cannot hurt the plugin's
//! own stage; it is a trap for what reads the directory later without that sandbox —
//! a CI step that uploads `dist/`, an archiver, a host tool. So the target must be
//! relative, written as some `..` followed by names (`../lib/libx.so.1`, `libx.so.1`),
//! with no more `..` than the link's depth below its grant. A `..` after a name is
//! refused too: where `a/..` leads depends on whether `a` is a link.
//!
//! The link's directory is opened beneath the plugin's descriptor once and the link is
//! created relative to that open directory (`symlinkat`), so its depth is measured on
//! the directory the link really lands in.
//!
//! Tests: unit tests below; `tests/e2e/sandbox.rs` (a plugin's links).

use std::os::fd::AsFd;

use rustix::fs::{Mode, OFlags, ResolveFlags};
use serde_json::json;
use wasmtime::component::{Linker, Resource};
use wasmtime_wasi::filesystem::Descriptor;
use wasmtime_wasi::p2::bindings::filesystem::types::ErrorCode;

use crate::caps::context::StageState;
use crate::manifest::text::brief as shown;

/// The `wasi:filesystem/types` instance wasmtime-wasi 48 defines (guests importing any
/// 0.2.x version are linked to it).
const TYPES: &str = "wasi:filesystem/types@0.2.12";

/// Replaces wasmtime-wasi's `symlink-at` in `linker` (call after wasmtime-wasi added
/// its own).
pub fn add_to_linker(linker: &mut Linker<StageState>) -> anyhow::Result<()> {
    linker.allow_shadowing(true);
    let defined = linker.instance(TYPES).and_then(|mut types| {
        types.func_wrap(
            "[method]descriptor.symlink-at",
            |mut cx: wasmtime::StoreContextMut<'_, StageState>,
             (fd, target, link): (Resource<Descriptor>, String, String)| {
                Ok((cx.data_mut().symlink_at(fd, &target, &link),))
            },
        )
    });
    linker.allow_shadowing(false);
    defined?;
    Ok(())
}

/// Whether a link `depth` directories below its grant may point at `target`; why not.
pub fn check_target(target: &str, depth: usize) -> Result<(), String> {
    if target.is_empty() {
        return Err("its target is empty".into());
    }
    if target.starts_with('/') {
        return Err("its target is an absolute path".into());
    }
    let mut ups = 0;
    let mut named = false;
    for part in target.split('/').filter(|p| !p.is_empty() && *p != ".") {
        match part {
            ".." if named => {
                return Err("its target has `..` after a name (where that leads depends on links on the way); write it as `../…/name`".into());
            }
            ".." => ups += 1,
            _ => named = true,
        }
    }
    if ups > depth {
        return Err(format!(
            "its target climbs {ups} level{} from a directory {depth} level{} below the write grant",
            if ups == 1 { "" } else { "s" },
            if depth == 1 { "" } else { "s" },
        ));
    }
    Ok(())
}

/// `a/b/c` → (`a/b`, `c`); `c` → (`.`, `c`).
fn split_link(link: &str) -> (&str, &str) {
    let trimmed = link.trim_end_matches('/');
    match trimmed.rsplit_once('/') {
        Some((parent, name)) if !parent.is_empty() => (parent, name),
        Some((_, name)) => ("/", name),
        None => (".", trimmed),
    }
}

fn io_code(e: rustix::io::Errno) -> ErrorCode {
    ErrorCode::from(&std::io::Error::from(e))
}

impl StageState {
    fn symlink_at(
        &mut self,
        fd: Resource<Descriptor>,
        target: &str,
        link: &str,
    ) -> Result<(), ErrorCode> {
        let dir = match self.table().get(&fd) {
            Ok(Descriptor::Dir(d)) => d,
            Ok(Descriptor::File(_)) => return Err(ErrorCode::NotDirectory),
            Err(_) => return Err(ErrorCode::BadDescriptor),
        };
        if dir.perms.write_not_permitted() {
            return Err(ErrorCode::NotPermitted);
        }
        let base = dir.dir.clone();
        let (parent, name) = split_link(link);
        if parent == "/" || name.is_empty() || name == "." || name == ".." {
            return Err(ErrorCode::Invalid);
        }
        // Links inside the tree are followed on the way to the link's directory, as
        // wasmtime-wasi does; never out of the descriptor's directory.
        let parent_fd = rustix::fs::openat2(
            base.as_fd(),
            parent,
            OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC,
            Mode::empty(),
            ResolveFlags::BENEATH | ResolveFlags::NO_MAGICLINKS,
        )
        .map_err(io_code)?;
        let real = super::beneath::real_path(&parent_fd).map_err(|e| ErrorCode::from(&e))?;
        let rel: Vec<String> = match real.strip_prefix(&self.broker.workspace) {
            Ok(r) => r
                .components()
                .map(|c| c.as_os_str().to_string_lossy().into_owned())
                .collect(),
            Err(_) => return Err(ErrorCode::NotPermitted),
        };
        let grant = self
            .caps
            .fs
            .write_roots
            .iter()
            .filter(|g| rel.starts_with(g))
            .max_by_key(|g| g.len());
        let verdict = match grant {
            Some(g) => check_target(target, rel.len() - g.len()).map_err(|why| (why, g.join("/"))),
            None => Err(("it is not under a write grant".into(), String::new())),
        };
        let link_rel = if rel.is_empty() {
            name.to_string()
        } else {
            format!("{}/{name}", rel.join("/"))
        };
        if let Err((why, grant)) = verdict {
            let grant = if grant.is_empty() { ".".into() } else { grant };
            let what = format!(
                "symbolic link `{}` → `{}` would lead out of the write grant `{}`: {why}",
                shown(&link_rel),
                shown(target),
                shown(&grant)
            );
            let detail =
                json!({ "link": shown(&link_rel), "target": shown(target), "grant": grant });
            let e = self.broker.refuse("fs", "symlink", &what, Some(detail));
            self.log.line("gantry", &e.to_string());
            return Err(ErrorCode::NotPermitted);
        }
        rustix::fs::symlinkat(target, &parent_fd, name).map_err(io_code)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_stay_inside_their_grant() {
        assert_eq!(check_target("libx.so.1", 0), Ok(()));
        assert_eq!(check_target("./a/b", 0), Ok(()));
        assert_eq!(check_target("../lib/libx.so", 1), Ok(()));
        assert_eq!(check_target("../../x", 2), Ok(()));
        assert!(check_target("../x", 0).is_err());
        assert!(check_target("../../x", 1).is_err());
        assert!(check_target("/etc/passwd", 5).is_err());
        assert!(check_target("", 1).is_err());
        // `..` after a name: depends on whether `a` is a link.
        assert!(check_target("a/../../x", 5).is_err());
        assert!(check_target("a/..", 5).is_err());
    }

    #[test]
    fn links_split_into_directory_and_name() {
        assert_eq!(split_link("a/b/c"), ("a/b", "c"));
        assert_eq!(split_link("c"), (".", "c"));
        assert_eq!(split_link("a/c/"), ("a", "c"));
        assert_eq!(split_link("/c"), ("/", "c"));
    }
}
