//! gantry's state directory: what belongs to the host alone — run records and the
//! workspace's ownership key — kept **outside the workspace**.
//!
//! Why outside: everything inside the workspace is within reach of some plugin (a
//! `grants.fs.read = ["."]` preopen, a write grant, a host command's sandbox, a Docker
//! build context). Records that a plugin can read leak other runs' logs; records it can
//! write can be forged (an appended `audit.jsonl` line). Instead of filtering every path
//! of every capability, the records live where no capability ever points, the way
//! Bazel keeps its output base outside the source tree:
//!
//! ```text
//! $GANTRY_STATE_DIR                       (default $XDG_STATE_HOME/gantry,
//!                                          else ~/.local/state/gantry)
//!   workspaces/<name>-<sha256(path)[..16]>/
//!     workspace                           the workspace's canonical path
//!     owner.key                           32 random bytes, mode 0600
//!     runs/<run-id>/…                     run.json, audit.jsonl, journal.jsonl, logs/…
//! <workspace>/.gantry  ->  that directory (a symlink, for people and CI scripts)
//! ```
//!
//! The `.gantry` link is a convenience only: gantry never reads or writes records
//! through it, and no sandbox follows it (WASI preopens refuse symlinks that lead out
//! of a preopen; host commands do not see the state directory; build contexts archive
//! the link itself). A plugin that replaces the link changes nothing gantry trusts; the
//! next run puts the link back, or leaves a directory of that name alone and says so.
//!
//! Refused: a state directory inside the workspace (it would be within plugins' reach)
//! and a relative `GANTRY_STATE_DIR`.
//!
//! Tests: unit tests below; `tests/e2e/sandbox.rs` (records out of plugins' reach).

use std::io::{Read as _, Write as _};
use std::path::{Path, PathBuf};

use sha2::{Digest as _, Sha256};

/// Name of the link in the workspace.
pub const LINK: &str = crate::manifest::grants::RECORDS_LINK;

/// One workspace's directory inside gantry's state directory.
#[derive(Debug, Clone)]
pub struct StateDir {
    /// `<state>/workspaces/<name>-<hash>`.
    root: PathBuf,
    /// Canonical workspace root.
    workspace: PathBuf,
}

/// What [`StateDir::link`] found at `<workspace>/.gantry`.
#[derive(Debug, PartialEq, Eq)]
pub enum LinkState {
    /// The link points at the state directory (now, or already).
    Linked,
    /// Something other than a symlink is there (a directory of an older gantry, or
    /// one a plugin made): left alone.
    Occupied,
}

impl StateDir {
    /// The state directory of `workspace` (canonical), from the environment.
    pub fn locate(workspace: &Path) -> Result<StateDir, String> {
        let base = base_dir(
            std::env::var_os("GANTRY_STATE_DIR").map(PathBuf::from),
            std::env::var_os("XDG_STATE_HOME").map(PathBuf::from),
            std::env::var_os("HOME").map(PathBuf::from),
        )?;
        StateDir::under(&base, workspace)
    }

    /// The state directory of `workspace` under the state base `base`.
    pub fn under(base: &Path, workspace: &Path) -> Result<StateDir, String> {
        if !base.is_absolute() {
            return Err(format!(
                "gantry's state directory `{}` is not an absolute path\n  hint: set `GANTRY_STATE_DIR` to an absolute path outside the workspace",
                base.display()
            ));
        }
        // Compare real paths: the part of `base` that exists may be reached through
        // links.
        let real_base = real_prefix(base);
        if real_base.starts_with(workspace) {
            return Err(format!(
                "gantry's state directory `{}` is inside the workspace `{}`, where plugins could read or forge run records\n  hint: set `GANTRY_STATE_DIR` to a directory outside the workspace",
                base.display(),
                workspace.display()
            ));
        }
        let name: String = workspace
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| "root".into())
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.' {
                    c
                } else {
                    '_'
                }
            })
            .take(40)
            .collect();
        let hash = hex::encode(Sha256::digest(workspace.as_os_str().as_encoded_bytes()));
        Ok(StateDir {
            root: base
                .join("workspaces")
                .join(format!("{name}-{}", &hash[..16])),
            workspace: workspace.to_path_buf(),
        })
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Where run directories go.
    pub fn runs(&self) -> PathBuf {
        self.root.join("runs")
    }

    /// The run directory as people reach it: `.gantry/runs/<id>` relative to the
    /// workspace when the link is in place, the real path otherwise.
    pub fn shown_run_dir(&self, run_dir: &Path) -> PathBuf {
        let link = self.workspace.join(LINK);
        let linked = std::fs::read_link(&link).is_ok_and(|t| t == self.root);
        match run_dir.strip_prefix(&self.root) {
            Ok(rest) if linked => Path::new(LINK).join(rest),
            _ => run_dir.to_path_buf(),
        }
    }

    /// Creates the directory (mode 0700) and records which workspace it belongs to.
    pub fn create(&self) -> Result<(), String> {
        use std::os::unix::fs::DirBuilderExt;
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(self.runs())
            .map_err(|e| {
                format!(
                    "cannot create gantry's state directory `{}`: {e}\n  hint: set `GANTRY_STATE_DIR` to a writable directory outside the workspace",
                    self.root.display()
                )
            })?;
        let marker = self.root.join("workspace");
        let want = self.workspace.as_os_str().as_encoded_bytes();
        if std::fs::read(&marker).ok().as_deref() != Some(want) {
            let _ = super::atomic::write(&marker, want);
        }
        Ok(())
    }

    /// Puts the `.gantry` link in the workspace (replacing a link that points
    /// elsewhere, atomically); leaves anything that is not a symlink alone.
    pub fn link(&self) -> std::io::Result<LinkState> {
        let link = self.workspace.join(LINK);
        match std::fs::symlink_metadata(&link) {
            Ok(m) if !m.file_type().is_symlink() => return Ok(LinkState::Occupied),
            Ok(_) if std::fs::read_link(&link).is_ok_and(|t| t == self.root) => {
                return Ok(LinkState::Linked);
            }
            _ => {}
        }
        let tmp = self
            .workspace
            .join(format!("{LINK}.link-{}", std::process::id()));
        let _ = std::fs::remove_file(&tmp);
        std::os::unix::fs::symlink(&self.root, &tmp)?;
        // rename(2) replaces a symlink (or nothing) at `link` atomically; it would also
        // replace an empty directory created since the check above, which is harmless.
        std::fs::rename(&tmp, &link).inspect_err(|_| {
            let _ = std::fs::remove_file(&tmp);
        })?;
        Ok(LinkState::Linked)
    }

    /// The workspace's ownership key: 32 random bytes made on first use, readable only
    /// by the user running gantry. Objects gantry creates elsewhere (Docker containers,
    /// services, images) carry a tag derived from it, which neither a plugin (it never
    /// sees the key) nor another workspace (it has its own) can produce.
    pub fn owner_key(&self) -> Result<[u8; 32], String> {
        use std::os::unix::fs::OpenOptionsExt;
        let path = self.root.join("owner.key");
        let fail = |e: std::io::Error| {
            format!(
                "cannot read or create the workspace's ownership key `{}`: {e}",
                path.display()
            )
        };
        let read = |mut f: std::fs::File| -> Result<[u8; 32], String> {
            let mut key = [0u8; 32];
            f.read_exact(&mut key).map_err(fail)?;
            Ok(key)
        };
        match std::fs::File::open(&path) {
            Ok(f) => return read(f),
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(fail(e)),
            Err(_) => {}
        }
        let mut key = [0u8; 32];
        std::fs::File::open("/dev/urandom")
            .and_then(|mut r| r.read_exact(&mut key))
            .map_err(fail)?;
        // Written under a temporary name and linked into place, so a concurrent
        // gantry never reads a half-written key; whoever links first wins.
        let tmp = self
            .root
            .join(format!("owner.key.tmp-{}", std::process::id()));
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(&tmp)
            .map_err(fail)?;
        f.write_all(&key)
            .and_then(|()| f.sync_all())
            .map_err(fail)?;
        let linked = std::fs::hard_link(&tmp, &path);
        let _ = std::fs::remove_file(&tmp);
        match linked {
            Ok(()) => Ok(key),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                read(std::fs::File::open(&path).map_err(fail)?)
            }
            Err(e) => Err(fail(e)),
        }
    }
}

/// `GANTRY_STATE_DIR`, else `$XDG_STATE_HOME/gantry`, else `~/.local/state/gantry`.
fn base_dir(
    explicit: Option<PathBuf>,
    xdg: Option<PathBuf>,
    home: Option<PathBuf>,
) -> Result<PathBuf, String> {
    if let Some(d) = explicit.filter(|d| !d.as_os_str().is_empty()) {
        return Ok(d);
    }
    // The XDG spec: a relative XDG_STATE_HOME is invalid and must be ignored.
    if let Some(x) = xdg.filter(|x| x.is_absolute()) {
        return Ok(x.join("gantry"));
    }
    match home.filter(|h| h.is_absolute()) {
        Some(h) => Ok(h.join(".local").join("state").join("gantry")),
        None => Err(
            "gantry has nowhere to keep run records: neither `GANTRY_STATE_DIR`, `XDG_STATE_HOME` nor `HOME` is set\n  hint: set `GANTRY_STATE_DIR` to a directory outside the workspace"
                .into(),
        ),
    }
}

/// The real path of the longest existing prefix of `path`, with the rest appended.
fn real_prefix(path: &Path) -> PathBuf {
    let mut existing = path.to_path_buf();
    let mut rest = Vec::new();
    loop {
        if let Ok(real) = existing.canonicalize() {
            let mut out = real;
            out.extend(rest.iter().rev());
            return out;
        }
        match (
            existing.file_name().map(|n| n.to_os_string()),
            existing.parent(),
        ) {
            (Some(name), Some(parent)) => {
                rest.push(name);
                existing = parent.to_path_buf();
            }
            _ => return path.to_path_buf(),
        }
    }
}

/// gantry's compile cache: `$GANTRY_CACHE_DIR`, else `$XDG_CACHE_HOME/gantry`, else
/// `~/.cache/gantry`. (The process sandbox never shows it to a command.)
pub fn cache_dir() -> Option<PathBuf> {
    if let Some(d) = std::env::var_os("GANTRY_CACHE_DIR") {
        return Some(PathBuf::from(d));
    }
    if let Some(d) = std::env::var_os("XDG_CACHE_HOME") {
        return Some(PathBuf::from(d).join("gantry"));
    }
    std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache").join("gantry"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp(name: &str) -> PathBuf {
        let d =
            std::env::temp_dir().join(format!("gantry-state-unit-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).expect("mkdir");
        d.canonicalize().expect("canonical")
    }

    #[test]
    fn base_follows_the_environment_in_order() {
        let p = |s: &str| Some(PathBuf::from(s));
        assert_eq!(base_dir(p("/s"), p("/x"), p("/h")), Ok(PathBuf::from("/s")));
        assert_eq!(
            base_dir(None, p("/x"), p("/h")),
            Ok(PathBuf::from("/x/gantry"))
        );
        assert_eq!(
            base_dir(None, p("rel"), p("/h")),
            Ok(PathBuf::from("/h/.local/state/gantry"))
        );
        assert!(base_dir(None, None, None).is_err());
        assert!(base_dir(p(""), None, p("rel")).is_err());
    }

    #[test]
    fn refuses_a_state_directory_inside_the_workspace() {
        let d = temp("inside");
        let ws = d.join("ws");
        std::fs::create_dir_all(&ws).expect("mkdir");
        let err = StateDir::under(&ws.join("state"), &ws).expect_err("inside");
        assert!(err.contains("inside the workspace"), "{err}");
        // Also through a link that leads into it.
        std::os::unix::fs::symlink(&ws, d.join("alias")).expect("symlink");
        let err = StateDir::under(&d.join("alias/state"), &ws).expect_err("via a link");
        assert!(err.contains("inside the workspace"), "{err}");
        assert!(StateDir::under(Path::new("rel"), &ws).is_err());
        assert!(StateDir::under(&d.join("state"), &ws).is_ok());
        let _ = std::fs::remove_dir_all(&d);
    }

    #[test]
    fn one_directory_per_workspace_and_a_link_to_it() {
        let d = temp("link");
        let (a, b) = (d.join("a/ws"), d.join("b/ws"));
        std::fs::create_dir_all(&a).expect("mkdir");
        std::fs::create_dir_all(&b).expect("mkdir");
        let (sa, sb) = (
            StateDir::under(&d.join("state"), &a).expect("a"),
            StateDir::under(&d.join("state"), &b).expect("b"),
        );
        assert_ne!(sa.root(), sb.root(), "same name, different workspaces");
        sa.create().expect("create");
        assert_eq!(sa.link().expect("link"), LinkState::Linked);
        assert_eq!(std::fs::read_link(a.join(LINK)).expect("link"), sa.root());
        // A link pointing elsewhere (a plugin's) is put back.
        std::fs::remove_file(a.join(LINK)).expect("rm");
        std::os::unix::fs::symlink("/etc", a.join(LINK)).expect("symlink");
        assert_eq!(sa.link().expect("relink"), LinkState::Linked);
        assert_eq!(std::fs::read_link(a.join(LINK)).expect("link"), sa.root());
        let run = sa.runs().join("r1");
        assert_eq!(sa.shown_run_dir(&run), Path::new(".gantry/runs/r1"));
        // A directory is left alone, and the real path is shown.
        std::fs::create_dir_all(b.join(LINK)).expect("mkdir");
        sb.create().expect("create");
        assert_eq!(sb.link().expect("occupied"), LinkState::Occupied);
        assert!(b.join(LINK).is_dir());
        assert_eq!(sb.shown_run_dir(&sb.runs().join("r")), sb.runs().join("r"));
        let _ = std::fs::remove_dir_all(&d);
    }

    #[test]
    fn owner_key_is_private_stable_and_per_workspace() {
        use std::os::unix::fs::PermissionsExt;
        let d = temp("key");
        let (a, b) = (d.join("a"), d.join("b"));
        std::fs::create_dir_all(&a).expect("mkdir");
        std::fs::create_dir_all(&b).expect("mkdir");
        let sa = StateDir::under(&d.join("state"), &a).expect("a");
        let sb = StateDir::under(&d.join("state"), &b).expect("b");
        sa.create().expect("create");
        sb.create().expect("create");
        let k1 = sa.owner_key().expect("key");
        assert_eq!(sa.owner_key().expect("again"), k1, "stable");
        assert_ne!(sb.owner_key().expect("b"), k1, "per workspace");
        let mode = std::fs::metadata(sa.root().join("owner.key"))
            .expect("meta")
            .permissions()
            .mode();
        assert_eq!(mode & 0o077, 0, "readable by its owner only: {mode:o}");
        let _ = std::fs::remove_dir_all(&d);
    }
}
