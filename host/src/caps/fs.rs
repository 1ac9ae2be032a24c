//! Capability `fs`: `wasi:filesystem` through preopened directories.
//!
//! Grant: `grants.fs.read = ["."]`, `grants.fs.write = ["dist"]` — workspace-relative
//! paths (validated by the manifest: no absolute paths, no `..`). Each becomes a
//! preopen at `/workspace/<path>`, read-only or read-write. A path in both lists is
//! preopened once, read-write.
//!
//! Refused here, before the stage starts: a granted path that resolves (through
//! symlinks) outside the workspace. Refused by WASI's capability-based filesystem
//! (cap-std) during the stage: `..` above a preopen, absolute paths outside the
//! preopens, symlinks leading out of a preopen, and any write through a read-only
//! preopen. Those refusals happen inside WASI and reach the plugin as errors;
//! the audit log records the preopens each stage started with, which is the whole of
//! what it could touch.
//!
//! Tests: `tests/e2e/sandbox.rs`.

use std::path::Path;

use wasmtime_wasi::{FsPerms, WasiCtxBuilder};

use crate::run::audit::Decision;
use crate::runtime::StageSetup;

/// Guest directory under which the workspace appears.
pub const GUEST_ROOT: &str = "/workspace";

pub fn guest_path(rel: &str) -> String {
    if rel == "." {
        GUEST_ROOT.to_string()
    } else {
        format!("{GUEST_ROOT}/{rel}")
    }
}

pub fn preopen(wasi: &mut WasiCtxBuilder, setup: &StageSetup) -> Result<(), String> {
    let mut grants: Vec<(&str, bool)> = Vec::new();
    for w in &setup.grants.fs.write {
        grants.push((w.as_str(), true));
    }
    for r in &setup.grants.fs.read {
        if !setup.grants.fs.write.contains(r) {
            grants.push((r.as_str(), false));
        }
    }
    for (rel, write) in grants {
        let (mode, grant) = if write {
            ("read-write", "grants.fs.write")
        } else {
            ("read-only", "grants.fs.read")
        };
        let host = setup.workspace.join(rel);
        if write && !host.exists() {
            std::fs::create_dir_all(&host)
                .map_err(|e| format!("cannot create `{rel}` for {grant}: {e}"))?;
        }
        let detail = serde_json::json!({ "path": rel, "guest": guest_path(rel), "mode": mode });
        match check_inside(&setup.workspace, &host) {
            Ok(()) => {}
            Err(why) => {
                let reason = format!("`{rel}` in {grant} {why}");
                setup.actor.record(
                    &setup.audit,
                    "fs",
                    "preopen",
                    Decision::Deny,
                    &reason,
                    Some(detail),
                );
                return Err(reason);
            }
        }
        let perms = if write {
            FsPerms::ReadWrite
        } else {
            FsPerms::ReadOnly
        };
        wasi.preopened_dir(&host, guest_path(rel), perms)
            .map_err(|e| format!("cannot open `{rel}` for {grant}: {e}"))?;
        setup.actor.record(
            &setup.audit,
            "fs",
            "preopen",
            Decision::Allow,
            &format!("granted by {grant}"),
            Some(detail),
        );
    }
    Ok(())
}

fn check_inside(workspace: &Path, host: &Path) -> Result<(), String> {
    let real = host
        .canonicalize()
        .map_err(|e| format!("cannot be opened: {e}"))?;
    if !real.starts_with(workspace) {
        return Err(format!(
            "resolves to `{}`, outside the workspace (through a symlink)",
            real.display()
        ));
    }
    if !real.is_dir() {
        return Err("is not a directory (grants name directories)".to_string());
    }
    Ok(())
}
