//! Artifacts a stage reports: the host checks each claimed path and records the
//! file's sha256 and size (`run.json`, `summary.json`).
//!
//! A report is input from the plugin like any other, and the host reads the files it
//! names with the host's own rights, after the stage, so:
//! - a path is a workspace path (normalized, no `..` out, no absolute path) under one
//!   of the stage's `grants.fs.write` directories (else not collected, and the entry
//!   says which grant would cover it);
//! - it is opened beneath that grant directory (itself opened beneath the workspace)
//!   with `openat2(RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_XDEV)`: the
//!   kernel refuses any symbolic link on the way, so a link in the write grant that
//!   points at a file the stage may not read (`dist/x -> ../../secret`) yields no
//!   digest or size of that file (it was an oracle for them);
//! - the open is non-blocking and only regular files are hashed (a FIFO, device or
//!   directory is refused, never waited on);
//! - a stage gets at most [`MAX_ARTIFACTS`] artifacts (later ones are dropped, the
//!   summary and the stage log say how many) and [`MAX_ARTIFACT_BYTES`] hashed in all:
//!   a file larger than what is left is refused from its size (`fstat`) without
//!   reading it, so a sparse file of terabytes costs nothing; files are hashed as they
//!   stream through a 256 KiB buffer, never read whole into memory.
//!
//! Each artifact not collected has its `error` in the records and a line in the stage
//! log; each refusal (anything but a missing file) is also a `deny` in `audit.jsonl`
//! ([`audit`]).
//!
//! Tests: unit tests below; `tests/e2e/limits.rs` (a symlink to an ungranted file,
//! 2,000 artifacts, a sparse file over the budget, a FIFO).

use std::path::Path;

use crate::manifest::units::format_size;
use crate::report::model::Artifact;
use crate::run::audit::{Actor, AuditLog, Decision};
use crate::run::log::StageLog;

/// Most artifacts recorded for one stage.
pub const MAX_ARTIFACTS: usize = 1000;
/// Most bytes hashed for one stage's artifacts, in all.
pub const MAX_ARTIFACT_BYTES: u64 = 1 << 30;
/// Longest artifact path (Linux's `PATH_MAX`).
pub const MAX_PATH: usize = 4096;
/// The error of an artifact that does not exist: recorded, but not a refusal.
pub const MISSING: &str = "missing: nothing at this path";

/// Checks and digests the artifacts of a report (at most [`MAX_ARTIFACTS`]: the
/// caller drops the rest, see [`excess`]).
pub fn collect(
    paths: &[String],
    write: &[String],
    workspace: &Path,
    log: &StageLog,
) -> Vec<Artifact> {
    let mut budget = MAX_ARTIFACT_BYTES;
    let mut grants = imp::Grants::new(workspace);
    let out: Vec<Artifact> = paths
        .iter()
        .take(MAX_ARTIFACTS)
        .map(|p| one(p, write, &mut grants, &mut budget))
        .collect();
    for a in out.iter().filter(|a| a.error.is_some()) {
        log.line(
            "gantry",
            &format!(
                "artifact `{}` not collected: {}",
                a.path,
                a.error.as_deref().unwrap_or_default()
            ),
        );
    }
    out
}

/// Records each artifact that was not collected in `audit.jsonl` (a `deny` of
/// capability `fs`, operation `artifact`), as every refusal is.
/// `dropped` counts the claims beyond [`MAX_ARTIFACTS`] (one line for all of them).
pub fn audit(artifacts: &[Artifact], dropped: usize, actor: &Actor, log: &AuditLog) {
    let deny = |what: String, detail: serde_json::Value| {
        let reason = format!(
            "stage `{}` (plugin {}): fs artifact refused: {what}",
            actor.stage, actor.plugin
        );
        actor.record(log, "fs", "artifact", Decision::Deny, &reason, Some(detail));
    };
    for a in artifacts {
        let Some(why) = a.error.as_ref().filter(|e| *e != MISSING) else {
            continue;
        };
        let path = crate::caps::log::clip(a.path.clone(), 200);
        deny(
            format!("`{path}`: {why}"),
            serde_json::json!({ "path": path }),
        );
    }
    if dropped > 0 {
        deny(
            format!(
                "{dropped} artifacts beyond the {MAX_ARTIFACTS} a stage may report; gantry never collects more"
            ),
            serde_json::json!({ "dropped": dropped }),
        );
    }
}

/// How many artifacts beyond [`MAX_ARTIFACTS`] a report claims.
pub fn excess(paths: &[String]) -> usize {
    paths.len().saturating_sub(MAX_ARTIFACTS)
}

fn refused(path: &str, why: String) -> Artifact {
    Artifact {
        path: path.to_string(),
        digest: None,
        size: None,
        error: Some(why),
    }
}

fn one(path: &str, write: &[String], grants: &mut imp::Grants, budget: &mut u64) -> Artifact {
    if path.len() > MAX_PATH {
        let shown = crate::caps::log::clip(path.to_string(), 200);
        return refused(&shown, format!("the path is longer than {MAX_PATH} bytes"));
    }
    let rel = match crate::manifest::normalize_workspace_path(path) {
        Ok(r) => r,
        Err((why, _)) => return refused(path, format!("not a workspace path: {why}")),
    };
    // The most specific grant holding it (a longer grant is the one its path resolves in).
    let grant = write
        .iter()
        .filter(|w| *w == "." || rel == **w || rel.starts_with(&format!("{w}/")))
        .max_by_key(|w| if *w == "." { 0 } else { w.len() });
    let Some(grant) = grant else {
        return refused(
            path,
            format!(
                "outside the stage's `grants.fs.write`; not collected (`grants.fs.write = [\"{}\"]` would cover it)",
                rel.rsplit_once('/').map_or(rel.as_str(), |(d, _)| d)
            ),
        );
    };
    let rest = if grant == "." {
        rel.as_str()
    } else {
        rel.strip_prefix(grant.as_str())
            .map(|r| r.trim_start_matches('/'))
            .unwrap_or("")
    };
    if rest.is_empty() || rest == "." {
        return refused(path, "names a granted directory, not a file".into());
    }
    match grants.digest(grant, rest, *budget) {
        Ok((digest, size)) => {
            *budget -= size;
            Artifact {
                path: path.to_string(),
                digest: Some(digest),
                size: Some(size),
                error: None,
            }
        }
        Err(why) => refused(path, why),
    }
}

fn over_budget(size: u64, left: u64) -> String {
    format!(
        "{} is more than what is left of the stage's {} artifact budget ({left} bytes); not hashed",
        format_size(size),
        format_size(MAX_ARTIFACT_BYTES)
    )
}

#[cfg(target_os = "linux")]
mod imp {
    use std::collections::HashMap;
    use std::io::Read;
    use std::os::fd::OwnedFd;
    use std::path::Path;

    use rustix::fs::{FileType, Mode, OFlags, ResolveFlags};
    use rustix::io::Errno;
    use sha2::Digest as _;

    const RESOLVE: ResolveFlags = ResolveFlags::BENEATH
        .union(ResolveFlags::NO_SYMLINKS)
        .union(ResolveFlags::NO_MAGICLINKS)
        .union(ResolveFlags::NO_XDEV);

    /// The workspace and the write grants it opened, each once.
    pub struct Grants {
        workspace: Result<OwnedFd, String>,
        open: HashMap<String, Result<OwnedFd, String>>,
    }

    fn errno(e: Errno, what: &str) -> String {
        match e {
            Errno::LOOP => format!(
                "{what} goes through a symbolic link; artifacts are never read through links"
            ),
            Errno::XDEV => format!("{what} leaves its write grant (or crosses a mount)"),
            Errno::NOENT => super::MISSING.to_string(),
            Errno::NOTDIR => format!("{what} has a file where a directory was expected"),
            Errno::NOSYS => "this kernel has no openat2 (Linux 5.6 or later)".into(),
            e => format!("{what} cannot be opened: {}", std::io::Error::from(e)),
        }
    }

    impl Grants {
        pub fn new(workspace: &Path) -> Grants {
            let workspace = rustix::fs::open(
                workspace,
                OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
                Mode::empty(),
            )
            .map_err(|e| format!("cannot open the workspace: {}", std::io::Error::from(e)));
            Grants {
                workspace,
                open: HashMap::new(),
            }
        }

        fn grant(&mut self, grant: &str) -> Result<&OwnedFd, String> {
            let ws = self.workspace.as_ref().map_err(Clone::clone)?;
            let entry = self.open.entry(grant.to_string()).or_insert_with(|| {
                let fd = if grant == "." {
                    rustix::io::dup(ws)
                } else {
                    rustix::fs::openat2(
                        ws,
                        grant,
                        OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
                        Mode::empty(),
                        RESOLVE,
                    )
                };
                fd.map_err(|e| errno(e, &format!("its write grant `{grant}`")))
            });
            entry.as_ref().map_err(Clone::clone)
        }

        /// `sha256:…` and size of regular file `rest` beneath `grant`, reading at most
        /// `budget` bytes.
        pub fn digest(
            &mut self,
            grant: &str,
            rest: &str,
            budget: u64,
        ) -> Result<(String, u64), String> {
            let dir = self.grant(grant)?;
            let fd = rustix::fs::openat2(
                dir,
                rest,
                OFlags::RDONLY
                    | OFlags::NONBLOCK
                    | OFlags::NOCTTY
                    | OFlags::NOFOLLOW
                    | OFlags::CLOEXEC,
                Mode::empty(),
                RESOLVE,
            )
            .map_err(|e| errno(e, "the path"))?;
            let st = rustix::fs::fstat(&fd).map_err(|e| errno(e, "the file"))?;
            if FileType::from_raw_mode(st.st_mode) != FileType::RegularFile {
                return Err(
                    "not a regular file (a directory, FIFO, socket or device); not collected"
                        .into(),
                );
            }
            let size = st.st_size as u64;
            if size > budget {
                return Err(super::over_budget(size, budget));
            }
            let mut file = std::fs::File::from(fd);
            let mut hash = sha2::Sha256::new();
            let mut buf = vec![0u8; 256 << 10];
            let mut read = 0u64;
            loop {
                let n = file
                    .read(&mut buf)
                    .map_err(|e| format!("cannot be read: {e}"))?;
                if n == 0 {
                    break;
                }
                read += n as u64;
                if read > budget {
                    return Err(super::over_budget(read, budget));
                }
                hash.update(&buf[..n]);
            }
            Ok((format!("sha256:{}", hex::encode(hash.finalize())), read))
        }
    }
}

#[cfg(not(target_os = "linux"))]
mod imp {
    use std::path::Path;

    pub struct Grants;

    impl Grants {
        pub fn new(_: &Path) -> Grants {
            Grants
        }

        pub fn digest(&mut self, _: &str, _: &str, _: u64) -> Result<(String, u64), String> {
            Err("artifacts are collected on Linux only".into())
        }
    }
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use super::*;

    fn ws(name: &str) -> std::path::PathBuf {
        let d =
            std::env::temp_dir().join(format!("gantry-artifacts-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(d.join("dist/sub")).expect("temp dir");
        d.canonicalize().expect("canonical")
    }

    fn collect_one(ws: &Path, path: &str) -> Artifact {
        let write = vec!["dist".to_string()];
        collect(&[path.to_string()], &write, ws, &StageLog::sink())
            .pop()
            .expect("one")
    }

    #[test]
    fn a_regular_file_in_a_write_grant_is_digested() {
        let ws = ws("ok");
        std::fs::write(ws.join("dist/sub/app.tar"), b"hello").expect("write");
        let a = collect_one(&ws, "dist/sub/app.tar");
        assert_eq!(a.error, None);
        assert_eq!(a.size, Some(5));
        assert_eq!(
            a.digest.as_deref(),
            Some("sha256:2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824")
        );
        let _ = std::fs::remove_dir_all(&ws);
    }

    #[test]
    fn links_outside_paths_and_special_files_are_refused() {
        let ws = ws("refused");
        std::fs::write(ws.join("secret.txt"), b"not granted").expect("write");
        std::os::unix::fs::symlink("../secret.txt", ws.join("dist/link")).expect("symlink");
        std::os::unix::fs::symlink(ws.join("secret.txt"), ws.join("dist/abs")).expect("symlink");
        std::os::unix::fs::symlink(ws.join("dist/sub"), ws.join("dist/dirlink")).expect("symlink");
        std::fs::write(ws.join("dist/sub/f"), b"x").expect("write");
        let fifo = ws.join("dist/fifo");
        let made = std::process::Command::new("mkfifo").arg(&fifo).status();
        assert!(made.is_ok_and(|s| s.success()), "mkfifo");
        for (path, expect) in [
            ("dist/link", "symbolic link"),
            ("dist/abs", "symbolic link"),
            ("dist/dirlink/f", "symbolic link"),
            ("dist/fifo", "not a regular file"),
            ("dist/sub", "not a regular file"),
            ("dist", "granted directory"),
            ("secret.txt", "outside the stage's `grants.fs.write`"),
            (
                "dist/../secret.txt",
                "outside the stage's `grants.fs.write`",
            ),
            ("../x", "not a workspace path: `../x` escapes the workspace"),
            ("/etc/passwd", "not a workspace path: absolute path"),
            (
                "dist/a\0b",
                "not a workspace path: the path contains a NUL byte",
            ),
            ("dist/missing", "missing: nothing at this path"),
        ] {
            let a = collect_one(&ws, path);
            assert_eq!((a.digest.as_deref(), a.size), (None, None), "{path}");
            let e = a.error.unwrap_or_default();
            assert!(e.contains(expect), "{path}: {e}");
        }
        let _ = std::fs::remove_dir_all(&ws);
    }

    #[test]
    fn count_and_size_are_capped() {
        let ws = ws("caps");
        let f = std::fs::File::create(ws.join("dist/sparse")).expect("create");
        f.set_len(MAX_ARTIFACT_BYTES + 1).expect("sparse");
        let a = collect_one(&ws, "dist/sparse");
        let e = a.error.unwrap_or_default();
        assert!(
            e.contains("is more than what is left of the stage's 1GiB artifact budget"),
            "{e}"
        );
        let many: Vec<String> = (0..MAX_ARTIFACTS + 5)
            .map(|i| format!("dist/{i}"))
            .collect();
        assert_eq!(excess(&many), 5);
        let got = collect(&many, &["dist".to_string()], &ws, &StageLog::sink());
        assert_eq!(got.len(), MAX_ARTIFACTS);
        let _ = std::fs::remove_dir_all(&ws);
    }
}
