//! Where a command may run and what it may see: the working directory beneath the
//! workspace, host directories a grant may show (never gantry's records, cache or
//! credential directories), the program, and the grant line a refusal suggests.

#[allow(unused_imports)]
use super::*;

pub(super) fn toml_list<'a>(items: impl Iterator<Item = &'a str>, max: usize) -> String {
    let items: Vec<&str> = items.collect();
    let mut parts: Vec<String> = items
        .iter()
        .take(max)
        .map(|a| toml_str(&shown(a)))
        .collect();
    if items.len() > max {
        parts.push(format!("… {} more", items.len() - max));
    }
    format!("[{}]", parts.join(", "))
}

/// The pipeline.toml text that grants exactly this call.
pub(super) fn grant_line(program: &str, args: &[String], env: &[&str]) -> String {
    let mut line = format!(
        "grants.process = [{{ cmd = {}, args = {}",
        toml_str(&shown(program)),
        toml_list(args.iter().map(String::as_str), 32)
    );
    if !env.is_empty() {
        line.push_str(&format!(", env = {}", toml_list(env.iter().copied(), 32)));
    }
    line.push_str(" }]");
    line
}

/// Variables the grant schema refuses in `env`: they choose what code runs.
pub(super) fn never_grantable(name: &str) -> bool {
    crate::manifest::code_variable(name).is_some()
}

/// Where the child starts: a directory inside the workspace, opened beneath the
/// workspace's descriptor; the command starts in the same path inside the sandbox.
pub(super) struct Cwd {
    /// Workspace-relative, normalized (`.` is the root).
    pub(super) rel: String,
}

pub(super) enum CwdError {
    Escapes(String),
    Missing(String),
}

/// Opens `rel` (workspace-relative, normalized) beneath `root` without following
/// any symbolic link: `O_PATH`, so nothing is read; `ELOOP` for a link on the way,
/// `EXDEV` for an escape.
#[cfg(target_os = "linux")]
pub(super) fn open_beneath(
    root: &std::os::fd::OwnedFd,
    rel: &str,
    follow_inside: bool,
) -> Result<std::os::fd::OwnedFd, rustix::io::Errno> {
    use rustix::fs::{Mode, OFlags, ResolveFlags};
    let mut resolve = ResolveFlags::BENEATH | ResolveFlags::NO_MAGICLINKS;
    if !follow_inside {
        resolve |= ResolveFlags::NO_SYMLINKS;
    }
    rustix::fs::openat2(
        root,
        rel,
        OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC,
        Mode::empty(),
        resolve,
    )
}

/// The workspace root, opened (`O_PATH`): every other workspace directory the
/// sandbox binds is opened beneath it.
#[cfg(target_os = "linux")]
pub(super) fn open_workspace(workspace: &Path) -> std::io::Result<std::os::fd::OwnedFd> {
    use rustix::fs::{Mode, OFlags};
    Ok(rustix::fs::open(
        workspace,
        OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC,
        Mode::empty(),
    )?)
}

#[cfg(target_os = "linux")]
pub(super) fn resolve_cwd(root: &std::os::fd::OwnedFd, cwd: Option<&str>) -> Result<Cwd, CwdError> {
    use rustix::io::Errno;
    let requested = cwd.unwrap_or(".");
    let rel = crate::manifest::normalize_workspace_path(requested)
        .map_err(|(why, _)| CwdError::Escapes(format!("working directory: {why}")))?;
    match open_beneath(root, &rel, false) {
        Ok(_) => Ok(Cwd { rel }),
        Err(Errno::LOOP) | Err(Errno::XDEV) => {
            // A link on the way: say whether it leads out, or only is a link.
            match open_beneath(root, &rel, true) {
                Err(Errno::XDEV) => Err(CwdError::Escapes(format!(
                    "working directory `{}` resolves outside the workspace (through a symlink)",
                    shown(requested)
                ))),
                _ => Err(CwdError::Escapes(format!(
                    "working directory `{}` goes through a symbolic link, which commands never follow; pass the directory's real path",
                    shown(requested)
                ))),
            }
        }
        Err(e) => Err(CwdError::Missing(format!(
            "working directory `{}` cannot be used: {}",
            shown(requested),
            std::io::Error::from(e)
        ))),
    }
}

/// gantry's run records, relative to the workspace: never shown to a command.
pub(super) const RECORDS: &str = ".gantry";

/// Files in a granted host directory that hold credentials (cargo's registry
/// tokens, netrc, …): covered with an empty file inside the sandbox.
pub(super) const CREDENTIAL_FILES: &[&str] = &[
    "credentials",
    "credentials.toml",
    ".credentials.toml",
    ".netrc",
    ".git-credentials",
    ".npmrc",
    ".pypirc",
];
/// Directories in a granted host directory that hold credentials: covered with an
/// empty one.
pub(super) const CREDENTIAL_DIRS: &[&str] = &[".ssh", ".gnupg", ".docker", ".aws", ".kube"];

/// Host directories no `read` may show, nor a directory above them: gantry's run
/// records (wherever `.gantry` leads) and its compile cache.
pub(super) fn protected_dirs(workspace: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    if let Ok(p) = workspace.join(RECORDS).canonicalize() {
        out.push(p);
    }
    if let Some(p) = crate::run::state::cache_dir() {
        out.push(p.canonicalize().unwrap_or(p));
    }
    out
}

/// Opens a host path gantry's grant names (`O_PATH`, following links: the pipeline's
/// author wrote it) and returns it with the real path the kernel opened.
#[cfg(target_os = "linux")]
pub(super) fn open_host(path: &Path) -> std::io::Result<(std::os::fd::OwnedFd, PathBuf)> {
    use rustix::fs::{Mode, OFlags};
    use std::os::fd::AsRawFd;
    let fd = rustix::fs::open(path, OFlags::PATH | OFlags::CLOEXEC, Mode::empty())?;
    let real = std::fs::read_link(format!("/proc/self/fd/{}", fd.as_raw_fd()))?;
    Ok((fd, real))
}

/// Why the host path `real` (what was opened) may not be shown to a command.
pub(super) fn check_host_dir(
    real: &Path,
    workspace: &Path,
    protected: &[PathBuf],
    home: Option<&str>,
) -> Result<(), String> {
    let text = real.to_string_lossy();
    if let Some(why) = crate::manifest::host_path_refusal(&text, home) {
        return Err(format!("(`{text}`) {why}"));
    }
    if real.starts_with(workspace) {
        return Err(format!(
            "(`{text}`) is inside the workspace, which commands see already"
        ));
    }
    if workspace.starts_with(real) {
        return Err(format!(
            "(`{text}`) contains the workspace; name the tool's own directory"
        ));
    }
    if let Some(p) = protected
        .iter()
        .find(|p| p.starts_with(real) || real.starts_with(p))
    {
        return Err(format!(
            "(`{text}`) reaches gantry's own records or cache (`{}`)",
            p.display()
        ));
    }
    Ok(())
}

/// Covers the credential files and directories of a granted host directory.
pub(super) fn mask_credentials(sb: &mut Sandbox, at: &Path, real: &Path) {
    for name in CREDENTIAL_FILES {
        if std::fs::symlink_metadata(real.join(name)).is_ok_and(|m| !m.is_dir()) {
            sb.hide_file(&at.join(name));
        }
    }
    for name in CREDENTIAL_DIRS {
        if std::fs::symlink_metadata(real.join(name)).is_ok_and(|m| m.is_dir()) {
            sb.hide(&at.join(name));
        }
    }
}

/// Looks `program` up on gantry's `PATH`; returns the executable and the `PATH` used.
pub(super) fn resolve_program(program: &str, workspace: &Path) -> (Option<PathBuf>, String) {
    use std::os::unix::fs::PermissionsExt;
    let path = std::env::var("PATH")
        .ok()
        .filter(|p| !p.is_empty())
        .unwrap_or_else(|| DEFAULT_PATH.to_string());
    for dir in std::env::split_paths(&path) {
        // A relative entry (including the empty one, which means ".") would resolve
        // against gantry's current directory; entries in the workspace are writable
        // by plugins. Neither may supply the binary.
        if !dir.is_absolute() {
            continue;
        }
        let in_workspace = dir
            .canonicalize()
            .map(|d| d.starts_with(workspace))
            .unwrap_or(true);
        if in_workspace {
            continue;
        }
        let candidate = dir.join(program);
        if let Ok(meta) = std::fs::metadata(&candidate)
            && meta.is_file()
            && meta.permissions().mode() & 0o111 != 0
        {
            return (Some(candidate), path);
        }
    }
    (None, path)
}
