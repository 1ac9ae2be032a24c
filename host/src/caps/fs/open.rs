//! `wasi:filesystem` `open-at`, checked by the host before wasmtime-wasi opens: only
//! regular files and directories are opened.
//!
//! Why: an open runs in the kernel on the stage's own thread, where neither epoch
//! interruption nor the deadline of [`crate::runtime::waits`] can stop it, and opening
//! a FIFO blocks until something opens its other end — a stage that reads a FIFO a
//! host command or container left in a write grant would hang past its timeout. A
//! device node (a container's root can `mknod` one in a writable mount) would give the
//! plugin the host device itself. So the target is looked at first — opened `O_PATH`
//! beneath the plugin's descriptor, as the open would resolve it — and a FIFO,
//! socket or device is refused with `access` (audited, noted in the stage log). A
//! path that does not exist yet (a file being created) goes through unchanged.
//!
//! Not contained: the look and the open are two lookups. A regular file swapped for a
//! FIFO between them — which needs another stage running at the same moment with a
//! host command or container writing that directory — still blocks the opening
//! stage's thread until the FIFO's other end is opened. Device nodes such a writer
//! leaves are removed at the end of its stage ([`super::sweep`]).
//!
//! Tests: `tests/e2e/attack_fs.rs` (a FIFO and a device node in a granted directory).

use std::os::fd::AsFd;

use rustix::fs::{FileType, Mode, OFlags, ResolveFlags};
use serde_json::json;
use wasmtime::component::{Linker, Resource};
use wasmtime_wasi::filesystem::{Descriptor, WasiFilesystemView};
use wasmtime_wasi::p2::bindings::sync::filesystem::types::{
    DescriptorFlags, ErrorCode, HostDescriptor, OpenFlags, PathFlags,
};

use crate::caps::context::StageState;
use crate::manifest::text::brief as shown;

const TYPES: &str = "wasi:filesystem/types@0.2.12";

/// Replaces wasmtime-wasi's `open-at` in `linker` by the checked one.
pub fn add_to_linker(linker: &mut Linker<StageState>) -> anyhow::Result<()> {
    linker.allow_shadowing(true);
    let defined = linker.instance(TYPES).and_then(|mut types| {
        types.func_wrap(
            "[method]descriptor.open-at",
            |mut cx: wasmtime::StoreContextMut<'_, StageState>,
             (fd, path_flags, path, oflags, flags): (
                Resource<Descriptor>,
                PathFlags,
                String,
                OpenFlags,
                DescriptorFlags,
            )| {
                let state = cx.data_mut();
                if let Some(code) = state.special_file(&fd, path_flags, &path) {
                    return Ok((Err(code),));
                }
                let mut view = state.filesystem();
                match HostDescriptor::open_at(&mut view, fd, path_flags, path, oflags, flags) {
                    Ok(opened) => Ok((Ok(opened),)),
                    Err(e) => {
                        let code: wasmtime_wasi::p2::bindings::filesystem::types::ErrorCode =
                            e.downcast()?;
                        Ok((Err(code.into()),))
                    }
                }
            },
        )
    });
    linker.allow_shadowing(false);
    defined?;
    Ok(())
}

/// What kind of file `path` beneath `fd` is, if it is one gantry refuses to open.
fn refused_kind(t: FileType) -> Option<&'static str> {
    match t {
        FileType::Fifo => Some("a FIFO (named pipe), whose open would block the host"),
        FileType::Socket => Some("a socket"),
        FileType::CharacterDevice => Some("a character device"),
        FileType::BlockDevice => Some("a block device"),
        _ => None,
    }
}

impl StageState {
    /// `Some(access)` when `path` names a FIFO, socket or device (refused, audited).
    fn special_file(
        &mut self,
        fd: &Resource<Descriptor>,
        path_flags: PathFlags,
        path: &str,
    ) -> Option<ErrorCode> {
        let dir = match self.table().get(fd) {
            Ok(Descriptor::Dir(d)) => d.dir.clone(),
            _ => return None, // wasmtime-wasi answers these itself
        };
        let mut oflags = OFlags::PATH | OFlags::CLOEXEC;
        if !path_flags.contains(PathFlags::SYMLINK_FOLLOW) {
            oflags |= OFlags::NOFOLLOW;
        }
        let target = rustix::fs::openat2(
            dir.as_fd(),
            path,
            oflags,
            Mode::empty(),
            ResolveFlags::BENEATH | ResolveFlags::NO_MAGICLINKS,
        )
        .ok()?;
        let st = rustix::fs::fstat(&target).ok()?;
        let what = refused_kind(FileType::from_raw_mode(st.st_mode))?;
        let message = format!(
            "`{}` is {what}: only regular files and directories are opened",
            shown(path)
        );
        let e = self
            .broker
            .refuse("fs", "open", &message, Some(json!({ "path": shown(path) })));
        self.log.line("gantry", &e.to_string());
        Some(ErrorCode::Access)
    }
}
