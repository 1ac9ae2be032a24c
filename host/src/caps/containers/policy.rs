//! What the containers broker allows whatever the grant says, and what the grant
//! allows: host access, networks, mounts beneath the workspace, resource ceilings,
//! environment, object names. Pure checks, no engine calls (unit tests in `tests.rs`).

#[allow(unused_imports)]
use super::*;

/// Why a `host-access` request is refused, or `None` when it asks for nothing.
pub fn host_access_refusal(h: &wit::HostAccess) -> Option<String> {
    let mut asked = Vec::new();
    if h.privileged {
        asked.push("privileged mode".to_string());
    }
    if !h.cap_add.is_empty() {
        asked.push(format!("added capabilities {}", shown_list(&h.cap_add)));
    }
    if !h.devices.is_empty() {
        asked.push(format!("devices {}", shown_list(&h.devices)));
    }
    if !h.security_opt.is_empty() {
        asked.push(format!("security options {}", shown_list(&h.security_opt)));
    }
    for (ns, v) in [
        ("PID", &h.pid),
        ("IPC", &h.ipc),
        ("UTS", &h.uts),
        ("user", &h.userns),
    ] {
        if let Some(v) = v {
            asked.push(format!("{ns} namespace mode `{}`", shown(v)));
        }
    }
    (!asked.is_empty()).then(|| asked.join(", "))
}

pub(super) fn shown_list(v: &[String]) -> String {
    v.iter()
        .take(8)
        .map(|s| format!("`{}`", shown(s)))
        .collect::<Vec<_>>()
        .join(", ")
}

/// What a refused request looks like in the error: `(what, grant)`; `grant = None`
/// means no grant allows it.
pub(super) type Refusal = (String, Option<String>);

/// What the common checks let through: network mode, (nano-CPUs, memory, PIDs), `K=V` env.
pub(super) type Checked = (String, (i64, i64, i64), Vec<String>);

pub(super) fn check_network(grant: &ContainersGrant, network: &str) -> Result<String, Refusal> {
    let mode = if network.is_empty() { "none" } else { network };
    match mode {
        "none" | "bridge" => {
            if grant.network.iter().any(|n| n == mode) {
                Ok(mode.to_string())
            } else {
                Err((
                    format!("network mode `{mode}` is not granted"),
                    Some(format!("grants.containers.network = [\"{mode}\"]")),
                ))
            }
        }
        "host" => Err((
            "the host network (a container on it reaches every service of the host)".into(),
            None,
        )),
        m if m.starts_with("container:") => Err((
            format!(
                "joining another container's network namespace (`{}`)",
                shown(m)
            ),
            None,
        )),
        m => Err((
            format!(
                "network `{}`: only `none` and `bridge` exist for plugins",
                shown(m)
            ),
            None,
        )),
    }
}

/// Why a mount cannot be made.
#[derive(Debug)]
pub(super) enum MountError {
    /// Outside what grants allow (or not granted): an audited refusal.
    Refused(Refusal),
    /// The target is not a usable container path: `invalid`, saying how to fix it.
    BadTarget(String),
    /// The source does not exist or is not a directory: `not-found`/`invalid`,
    /// saying how to fix it.
    BadSource(CapError),
}

/// Checks a mount and returns the canonical host directory to bind.
pub(super) fn check_mount(
    workspace: &Path,
    fs_read: &[String],
    fs_write: &[String],
    m: &wit::Mount,
) -> Result<PathBuf, MountError> {
    check_dir(workspace, fs_read, fs_write, m, Use::Mount)
}

/// What a checked workspace directory is for (the words of the errors).
#[derive(Clone, Copy, PartialEq)]
pub(super) enum Use {
    Mount,
    BuildContext,
}

pub(super) fn check_dir(
    workspace: &Path,
    fs_read: &[String],
    fs_write: &[String],
    m: &wit::Mount,
    used: Use,
) -> Result<PathBuf, MountError> {
    let (noun, verb) = match used {
        Use::Mount => ("mount source", "mount"),
        Use::BuildContext => ("build context", "name"),
    };
    let source = normalize_workspace_path(&m.source).map_err(|(why, _)| {
        MountError::Refused((format!("mount source `{}`: {why}", shown(&m.source)), None))
    })?;
    let target_ok = m.target.starts_with('/')
        && m.target != "/"
        && !m.target.split('/').any(|c| c == ".." || c == ".")
        && !m.target.contains(['\0', ':', ',']);
    if !target_ok {
        return Err(MountError::BadTarget(format!(
            "mount target `{}` is not a usable path inside the container: it must be absolute, not `/` itself, without `.` or `..` components and without `:` or `,` (for example `/workspace` or `/src/{}`)",
            shown(&m.target),
            if source == "." {
                "app"
            } else {
                source.rsplit('/').next().unwrap_or("app")
            }
        )));
    }
    let covers = |g: &String| g == "." || *g == source || source.starts_with(&format!("{g}/"));
    let granted = if m.writable {
        fs_write.iter().any(covers)
    } else {
        fs_read.iter().chain(fs_write).any(covers)
    };
    if !granted {
        let key = if m.writable { "write" } else { "read" };
        return Err(MountError::Refused((
            format!(
                "mounting workspace path `{source}` {} is not granted",
                if m.writable { "writable" } else { "read-only" }
            ),
            Some(format!("grants.fs.{key} = [\"{source}\"]")),
        )));
    }
    let full = workspace.join(&source);
    let canonical = full.canonicalize().map_err(|e| {
        MountError::BadSource(if e.kind() == std::io::ErrorKind::NotFound {
            CapError::NotFound(format!(
                "{noun} `{source}` does not exist in the workspace: create the directory before this stage runs (in the repository or in an earlier stage this one `needs`), or {verb} a directory that exists"
            ))
        } else {
            CapError::Invalid(format!(
                "{noun} `{source}` cannot be resolved ({e}): check that gantry may read the directory and every directory above it"
            ))
        })
    })?;
    if !canonical.starts_with(workspace) {
        return Err(MountError::Refused((
            format!(
                "mount source `{source}` resolves to `{}`, outside the workspace",
                canonical.display()
            ),
            None,
        )));
    }
    if !canonical.is_dir() {
        let parent = source.rsplit_once('/').map_or(".", |(p, _)| p);
        return Err(MountError::BadSource(CapError::Invalid(format!(
            "{noun} `{source}` is a file, not a directory: {verb} the directory that holds it (`{parent}`)"
        ))));
    }
    Ok(canonical)
}

/// The smallest CPU share the engine honours (`docker run --cpus` refuses less), and
/// what gantry accepts: a request below it would round to `NanoCpus = 0`, which the
/// engine reads as *unlimited*.
pub const MIN_CPUS: f64 = crate::manifest::grants::containers::MIN_CPUS;
/// The engine's smallest memory limit.
pub const MIN_MEMORY: u64 = crate::manifest::grants::containers::MIN_MEMORY;

pub(super) fn check_resources(
    grant: &ContainersGrant,
    r: &wit::Resources,
) -> Result<(i64, i64, i64), Refusal> {
    let cpus = r.cpus.unwrap_or(grant.cpus);
    if !(cpus.is_finite() && cpus >= MIN_CPUS) {
        return Err((
            format!(
                "`cpus = {cpus}` is not a CPU limit the engine enforces: it must be at least {MIN_CPUS} (less would round to 0, which Docker reads as unlimited)"
            ),
            None,
        ));
    }
    if cpus > grant.cpus {
        return Err((
            format!("{cpus} CPUs is above the ceiling of {}", grant.cpus),
            Some(format!("grants.containers.cpus = {cpus}")),
        ));
    }
    let memory = r.memory_bytes.unwrap_or(grant.memory);
    if memory > grant.memory {
        return Err((
            format!(
                "memory {} is above the ceiling of {}",
                crate::manifest::units::format_size(memory),
                crate::manifest::units::format_size(grant.memory)
            ),
            Some(format!(
                "grants.containers.memory = \"{}\"",
                crate::manifest::units::format_size(memory)
            )),
        ));
    }
    if memory < MIN_MEMORY {
        return Err((
            format!(
                "memory {} is below the engine's minimum of {}",
                crate::manifest::units::format_size(memory),
                crate::manifest::units::format_size(MIN_MEMORY)
            ),
            None,
        ));
    }
    let pids = r.pids.unwrap_or(grant.pids);
    if pids > grant.pids || pids == 0 {
        return Err((
            format!("{pids} PIDs is outside 1..={}", grant.pids),
            Some(format!("grants.containers.pids = {pids}")),
        ));
    }
    // Rounded to the nearest nano-CPU and at least MIN_CPUS worth: never 0. Memory
    // is at most the grant's ceiling, which the manifest bounds below i64::MAX.
    let nano = ((cpus * 1e9).round() as i64).max((MIN_CPUS * 1e9) as i64);
    let memory = i64::try_from(memory).map_err(|_| {
        (
            "a memory limit that large cannot be given to the engine".to_string(),
            None,
        )
    })?;
    Ok((nano, memory, i64::from(pids)))
}

pub(super) fn check_env(env: &[(String, String)]) -> Result<Vec<String>, Refusal> {
    env.iter()
        .map(|(k, v)| {
            let ok = !k.is_empty() && !k.contains(['=', '\0']) && !v.contains('\0');
            if ok {
                Ok(format!("{k}={v}"))
            } else {
                Err((
                    format!("environment variable name `{}` is invalid", shown(k)),
                    None,
                ))
            }
        })
        .collect()
}

pub(super) fn check_name(grant: &ContainersGrant, name: &str, what: &str) -> Result<(), Refusal> {
    let Some(prefix) = &grant.manage else {
        return Err((
            format!("managing long-running {what}s is not granted"),
            Some(format!(
                "grants.containers.manage = \"{}\"",
                name.split(['-', '_', '.'])
                    .next()
                    .map(|p| format!("{p}-"))
                    .unwrap_or_default()
            )),
        ));
    };
    let valid = name.len() <= 128
        && name
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphanumeric())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'));
    if !valid {
        return Err((
            format!("`{}` is not a valid {what} name", shown(name)),
            None,
        ));
    }
    if !name.starts_with(prefix.as_str()) {
        return Err((
            format!("{what} name `{name}` does not start with the granted prefix `{prefix}`"),
            Some(format!(
                "a name starting with `{prefix}`, or grants.containers.manage = \"{name}\""
            )),
        ));
    }
    Ok(())
}
