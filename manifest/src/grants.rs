//! `grants.*` of a stage: what the host lets a stage's plugin do. Deny by default:
//! a stage without grants gets no files, no environment, no secrets, no network and
//! no host commands.
//!
//! ```toml
//! [stage.publish]
//! plugin = "file:plugins/publish.wasm#sha256:…"
//! grants.fs.read = ["dist"]
//! grants.env = ["CI", "GIT_SHA"]
//! grants.secrets = ["REGISTRY_TOKEN"]
//! grants.reveal = ["DEPLOY_KEY"]
//! grants.http = ["https://api.example.com/v1/", { url = "http://127.0.0.1:8081", methods = ["GET"] }]
//! grants.process = [{ cmd = "cargo", args = ["clippy", "**"], env = ["CARGO_HOME"], read-only = true, timeout = "5m" }]
//! ```
//!
//! | grant | what the plugin gets |
//! | --- | --- |
//! | `fs.read`, `fs.write` | workspace-relative directories, preopened read-only / read-write at `/workspace/<path>` |
//! | `env` | these environment variables of the gantry process, by exact name (unset ones are simply absent); every other variable is invisible |
//! | `secrets` | a handle to each named secret of `[secrets]`, which it can pass to brokers that use the value on the host side; the value itself never enters the sandbox |
//! | `reveal` | the values of these secrets (which must be declared in `[secrets]`); implies `secrets` for them |
//! | `http` | HTTP requests to these origins and path prefixes (see [`HttpGrant`]) |
//! | `process` | running these host commands with arguments matching these globs (see [`ProcessGrant`]) — the most powerful grant |
//! | `containers` | images it may run, build and push, ports, networks, resource ceilings on the Docker Engine (see [`ContainersGrant`]) |
//!
//! Each capability is its own field of [`Grants`] with its own type and its own
//! parser, registered in [`CAPABILITIES`]; an unknown capability name is an error
//! listing the known ones. A new capability (git, containers, cluster) adds: a field
//! on `Grants`, an entry in `CAPABILITIES`, and a parser — typically a
//! `#[serde(deny_unknown_fields)]` struct read through `Cx::deserialize`, then
//! checked value by value. What the host does at run time lives with the capability
//! under `src/caps/<name>.rs`; here is only what can be checked in the file.
//!
//! **fs** paths are workspace-relative and normalized lexically (`./src/` → `src`,
//! `a/../b` → `b`, the root is `.`). Absolute paths, `~`, backslashes, globs and
//! any `..` that climbs out of the workspace are refused here; symlinks that
//! point outside are the fs broker's job at run time.
//!
//! **env** names are `[A-Za-z_][A-Za-z0-9_]*` (no globs). Granting the variable a
//! secret is read from (`[secrets] X = { env = "VAR" }`) is refused: grant the
//! secret instead, so its value stays redacted and behind `reveal`.
//!
//! **secrets** and **reveal** name secrets declared in `[secrets]`. The lists are
//! kept separate as written; a name in `reveal` may also be fetched as a handle
//! without being listed in `secrets`.
//!
//! **http** entries are URLs (`"https://api.example.com/v1/"`) or tables
//! `{ url = "…", methods = ["GET", "HEAD"] }`. Scheme `http` or `https`; no
//! credentials, query or fragment; the host is a DNS name, `*.example.com` (exactly
//! one extra leftmost label, never the bare `example.com`, and at least two labels
//! after the `*`), an IPv4 address or a bracketed IPv6 address; the port defaults to
//! the scheme's. The path is a segment-aware prefix (`/v1/` allows `/v1/x`; `/v1`
//! allows `/v1` and `/v1/x`, not `/v10`). Requests are normalized (`.`/`..`,
//! percent-encoded dots) before they are matched. Private and loopback addresses
//! are reachable only through a grant that names the address itself
//! ([`HttpGrant::names_ip`]).
//!
//! **process** entries are tables: `cmd` is a bare command name (the host resolves it
//! on its own `PATH`; no `/`, no whitespace, no globs); `args` has one glob per
//! argument position (`*` any characters including `/`, `?` one character, nothing
//! else special; `"**"` as the last element matches any number of remaining
//! arguments; absent or `[]` means no arguments); `env` lists variables the plugin may
//! set for the command (never one that chooses code or configuration: `PATH`, `LD_*`,
//! `GIT_CONFIG*`, `*_OPTIONS`, … — [`code_variable`]); `read-only = true` makes the
//! whole sandbox read-only, so the command still runs under `gantry run --dry-run`
//! (default `false`: it is skipped); `read` lists host directories outside the
//! workspace the command may read (`~/.cargo`, `${RUSTUP_HOME:-~/.rustup}`; never `/`,
//! `/etc`, a whole home, `/proc`, the Docker socket — [`host_path_refusal`]);
//! `network = true` shares the host's network (default: none); `timeout` (at most
//! 24h, default the stage's) and `output` (cap on stdout and on stderr, each; default
//! 4MiB). What a wildcard stands for never starts an option, an absolute path or a
//! `..` segment that the glob does not spell out. A launcher ([`launchers`]: shells,
//! interpreters, `env`, `xargs`, `find`, `make`, `git -c`, …) with a free argument is
//! refused: it would grant every command.

pub mod containers;
mod http;
pub mod launchers;
pub(crate) mod process;

use serde::{Deserialize, Serialize};
use toml::Spanned;

use super::secrets::{Declared, env_name_error};
use super::suggest::{did_you_mean, list};
use super::walk::{Cx, Val, entries, span_of};

pub use containers::{ContainersGrant, ImagePattern, ImageRef};
pub use http::HttpGrant;
pub use process::{
    DEFAULT_PROCESS_OUTPUT, ProcessGrant, code_variable, covers, expand_host_path,
    host_path_refusal,
};

/// Everything a stage may do beyond pure computation.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Grants {
    pub fs: FsGrants,
    /// `grants.env = ["CI", "GIT_SHA"]`: names of host environment variables the plugin sees.
    pub env: Vec<String>,
    /// `grants.secrets = ["REGISTRY_TOKEN"]`: secret handles the plugin may get; each is
    /// declared in `[secrets]`.
    pub secrets: Vec<String>,
    /// `grants.reveal = ["REGISTRY_TOKEN"]`: secrets whose value the plugin may read;
    /// each is declared in `[secrets]`. Implies access to the handle: a name here need
    /// not be repeated in [`Grants::secrets`] (the lists are kept as written).
    pub reveal: Vec<String>,
    /// `grants.http = ["https://api.example.com/v1/", { url = "http://127.0.0.1:8081", methods = ["GET"] }]`
    pub http: Vec<HttpGrant>,
    /// `grants.process = [{ cmd = "cargo", args = ["clippy", "**"], env = ["CARGO_HOME"], read-only = true, timeout = "5m" }]`
    pub process: Vec<ProcessGrant>,
    /// `grants.containers = { run = ["127.0.0.1:5000/app:*"], build = true, … }`;
    /// `None`: no access to the Docker Engine at all.
    pub containers: Option<ContainersGrant>,
}

/// `grants.fs`: preopened directories (or files), by workspace-relative path.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct FsGrants {
    /// Readable paths, normalized (`"."` is the whole workspace), deduplicated, in written order.
    pub read: Vec<String>,
    /// Writable (and readable) paths, same form.
    pub write: Vec<String>,
}

/// Known capability names, in the order shown to users.
pub const CAPABILITIES: &[&str] = &[
    "fs",
    "env",
    "secrets",
    "reveal",
    "http",
    "process",
    "containers",
];

/// Capabilities in the design that this version does not implement yet: named so
/// the error says "not available yet" rather than "unknown".
const PLANNED: &[&str] = &["git", "cluster"];

const ALIASES: &[(&str, &str)] = &[
    ("filesystem", "fs"),
    ("files", "fs"),
    ("file", "fs"),
    ("fs-read", "fs"),
    ("environment", "env"),
    ("vars", "env"),
    ("variables", "env"),
    ("secret", "secrets"),
    ("network", "http"),
    ("net", "http"),
    ("https", "http"),
    ("urls", "http"),
    ("exec", "process"),
    ("command", "process"),
    ("commands", "process"),
    ("processes", "process"),
    ("docker", "containers"),
    ("container", "containers"),
    ("images", "containers"),
];

pub(crate) fn parse_grants(
    cx: &mut Cx<'_>,
    v: &Val<'_>,
    stage: &str,
    declared: &Declared,
    fs_spans: &mut std::collections::HashMap<String, crate::Span>,
) -> Grants {
    let mut grants = Grants::default();
    let Some(table) = cx.ok(cx.table(v, &format!("`grants` in stage `{stage}`"))) else {
        return grants;
    };
    for (key, value) in entries(table) {
        match key.get_ref().as_ref() {
            "fs" => grants.fs = parse_fs(cx, value, stage, fs_spans),
            "env" => grants.env = parse_env(cx, value, stage, declared),
            k @ ("secrets" | "reveal") => {
                let names = parse_secret_names(cx, value, stage, k, declared);
                if k == "secrets" {
                    grants.secrets = names;
                } else {
                    grants.reveal = names;
                }
            }
            "http" => grants.http = http::parse(cx, value, stage),
            "process" => grants.process = process::parse(cx, value, stage),
            "containers" => grants.containers = Some(containers::parse(cx, value, stage)),
            name => {
                let known = format!("known capabilities: {}", list(CAPABILITIES));
                let suggestion = ALIASES
                    .iter()
                    .find(|(a, _)| *a == name)
                    .map(|(_, s)| *s)
                    .or_else(|| did_you_mean(name, CAPABILITIES.iter().copied()));
                let (message, hint) = if PLANNED.contains(&name) {
                    (
                        format!("capability `{name}` is not available in this version of gantry"),
                        known,
                    )
                } else if let Some(s) = suggestion {
                    (
                        format!("unknown capability `{name}` in `grants` of stage `{stage}`"),
                        format!("did you mean `{s}`? {known}"),
                    )
                } else {
                    (
                        format!("unknown capability `{name}` in `grants` of stage `{stage}`"),
                        known,
                    )
                };
                cx.error(span_of(key), message, Some(hint));
            }
        }
    }
    grants
}

/// `grants.env`: variable names, deduplicated, in written order.
fn parse_env(cx: &mut Cx<'_>, v: &Val<'_>, stage: &str, declared: &Declared) -> Vec<String> {
    let what = format!("`grants.env` of stage `{stage}`");
    let Some(items) = cx.ok(cx.strings(v, &what, false)) else {
        return Vec::new();
    };
    let mut out: Vec<String> = Vec::new();
    for item in items {
        let name = item.get_ref();
        if let Some(why) = env_name_error(name) {
            cx.error(
                span_of(&item),
                format!("{what}: {why}"),
                Some("list each variable by its exact name, e.g. `grants.env = [\"CI\", \"GIT_SHA\"]`".into()),
            );
            continue;
        }
        if let Some((_, secret)) = declared.env_sources.iter().find(|(var, _)| var == name) {
            cx.error(
                span_of(&item),
                format!("{what} exposes `{name}`, the source of secret `{secret}`"),
                Some(format!(
                    "grant the secret instead, so its value is redacted and read only when revealed: `grants.secrets = [\"{secret}\"]` (add `grants.reveal = [\"{secret}\"]` if the plugin must read the value)"
                )),
            );
            continue;
        }
        if !out.contains(name) {
            out.push(name.clone());
        }
    }
    out
}

/// `grants.secrets` / `grants.reveal`: names declared in `[secrets]`, deduplicated.
fn parse_secret_names(
    cx: &mut Cx<'_>,
    v: &Val<'_>,
    stage: &str,
    key: &str,
    declared: &Declared,
) -> Vec<String> {
    let what = format!("`grants.{key}` of stage `{stage}`");
    let Some(items) = cx.ok(cx.strings(v, &what, false)) else {
        return Vec::new();
    };
    let mut out: Vec<String> = Vec::new();
    for item in items {
        let name = item.get_ref();
        if !declared.names.contains(name) {
            let hint = match did_you_mean(name, declared.names.iter().map(String::as_str)) {
                Some(m) => format!("did you mean `{m}`?"),
                None if declared.names.is_empty() => format!(
                    "declare where its value comes from:\n[secrets]\n{name} = {{ env = \"…\" }}   # or {{ file = \"…\" }}"
                ),
                None => format!(
                    "declared secrets: {}; declare it in `[secrets]`, e.g. `{name} = {{ env = \"…\" }}`",
                    super::suggest::ticked(&declared.names)
                ),
            };
            cx.error(
                span_of(&item),
                format!("{what} names undeclared secret `{}`", name.escape_debug()),
                Some(hint),
            );
            continue;
        }
        if !out.contains(name) {
            out.push(name.clone());
        }
    }
    out
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FsToml {
    #[serde(default)]
    read: Vec<Spanned<String>>,
    #[serde(default)]
    write: Vec<Spanned<String>>,
}

fn parse_fs(
    cx: &mut Cx<'_>,
    v: &Val<'_>,
    stage: &str,
    spans: &mut std::collections::HashMap<String, crate::Span>,
) -> FsGrants {
    let mut fs = FsGrants::default();
    // Checked before serde: a list would be read as a tuple struct, with a confusing error.
    if !v.get_ref().is_table() {
        let d = cx.type_error(v, "a table", &format!("`grants.fs` of stage `{stage}`"));
        cx.push(d.with_hint("e.g. `grants.fs.read = [\".\"]` or `grants.fs = { read = [\".\"], write = [\"dist\"] }`"));
        return fs;
    }
    let Some(raw) = cx.ok(cx.deserialize::<FsToml>(v, "grants.fs", &format!("stage `{stage}`")))
    else {
        return fs;
    };
    for (paths, out, key) in [
        (&raw.read, &mut fs.read, "read"),
        (&raw.write, &mut fs.write, "write"),
    ] {
        for p in paths {
            match normalize_workspace_path(p.get_ref()) {
                Ok(n) => {
                    spans
                        .entry(format!("{key}/{n}"))
                        .or_insert_with(|| span_of(p));
                    if !out.contains(&n) {
                        out.push(n);
                    }
                }
                Err((why, hint)) => {
                    let d = cx.diag(
                        span_of(p),
                        format!("`grants.fs.{key}` of stage `{stage}`: {why}"),
                    );
                    cx.push(d.with_hint(hint));
                }
            }
        }
    }
    fs
}

/// The workspace entry that links to gantry's run records (which live outside the
/// workspace). No grant, working directory, mount or build context may name it.
pub const RECORDS_LINK: &str = ".gantry";

/// Normalizes a workspace-relative path lexically; `Err((reason, hint))` if it is not
/// one, or if it names gantry's run records ([`RECORDS_LINK`]).
pub fn normalize_workspace_path(path: &str) -> Result<String, (String, String)> {
    let relative_hint =
        "grants are relative to the workspace root; use `.` for the whole workspace";
    if path.is_empty() {
        return Err((
            "the path is empty".into(),
            "use `.` for the whole workspace".into(),
        ));
    }
    if path.contains('\0') {
        return Err(("the path contains a NUL byte".into(), relative_hint.into()));
    }
    if path.contains('\\') {
        return Err((
            format!("`{path}` contains `\\`"),
            "separate path components with `/`".into(),
        ));
    }
    let absolute = || {
        Err((
            format!("absolute path `{path}` is not allowed"),
            relative_hint.into(),
        ))
    };
    let tilde = || {
        Err((
            format!("`{path}`: `~` is not expanded"),
            relative_hint.into(),
        ))
    };
    if path.starts_with('/') || has_drive(path) {
        return absolute();
    }
    if path.starts_with('~') {
        return tilde();
    }
    if path.contains(['*', '?', '[']) {
        return Err((
            format!("`{path}` looks like a glob; fs grants take plain paths"),
            "grant the directory that contains the files".into(),
        ));
    }
    let mut parts: Vec<&str> = Vec::new();
    for comp in path.split('/') {
        match comp {
            "" | "." => {}
            ".." => {
                if parts.pop().is_none() {
                    return Err((
                        format!("`{path}` escapes the workspace"),
                        "a stage can only be granted paths inside the workspace".into(),
                    ));
                }
            }
            c => parts.push(c),
        }
    }
    // `./~/x` and `./C:/x` are refused like `~/x` and `C:/x`: a normalized path is
    // itself accepted (normalizing is idempotent), so what is stored, shown and
    // locked can be written back into `pipeline.toml` as it is.
    match parts.first() {
        None => Ok(".".into()),
        Some(first) if first.starts_with('~') => tilde(),
        Some(first) if has_drive(first) => absolute(),
        Some(first) if *first == RECORDS_LINK => Err((
            format!("`{path}` names `{RECORDS_LINK}`, gantry's run records"),
            "run records belong to the host: no stage can be granted them (read a run's records after it ends)".into(),
        )),
        Some(_) => Ok(parts.join("/")),
    }
}

/// `C:…`: a Windows drive letter.
fn has_drive(path: &str) -> bool {
    let bytes = path.as_bytes();
    bytes.len() >= 2 && bytes[0].is_ascii_alphabetic() && bytes[1] == b':'
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalize() {
        let ok = |p: &str| normalize_workspace_path(p).map_err(|e| e.0);
        assert_eq!(ok("."), Ok(".".into()));
        assert_eq!(ok("./"), Ok(".".into()));
        assert_eq!(ok("./src/"), Ok("src".into()));
        assert_eq!(ok("a//b/./c"), Ok("a/b/c".into()));
        assert_eq!(ok("a/../b"), Ok("b".into()));
        assert_eq!(ok("a/.."), Ok(".".into()));
        assert!(ok("../x").is_err());
        assert!(ok("a/../../x").is_err());
        assert!(ok("/etc").is_err());
        assert!(ok("C:/x").is_err());
        assert!(ok("~/x").is_err());
        assert!(ok("a\\b").is_err());
        assert!(ok("src/*.rs").is_err());
        assert!(ok("").is_err());
        // Found by `fuzz/run grant_paths`: these normalized to `~/x` and `C:/x`,
        // which normalizing refuses.
        assert!(ok("./~/x").is_err());
        assert!(ok("a/../~").is_err());
        assert!(ok("./C:/x").is_err());
        assert!(ok(".//c:").is_err());
        assert_eq!(ok("a/~"), Ok("a/~".into()));
        // The run records' link, however it is spelled.
        for p in [
            ".gantry",
            ".gantry/runs",
            "./.gantry/",
            "x/../.gantry/runs/r1",
        ] {
            assert!(ok(p).is_err_and(|e| e.contains("run records")), "{p}");
        }
        assert_eq!(ok("a/.gantry"), Ok("a/.gantry".into()));
        assert_eq!(ok(".gantry-x"), Ok(".gantry-x".into()));
        assert_eq!(
            ok("x:/y"),
            Err("absolute path `x:/y` is not allowed".into())
        );
    }

    #[test]
    fn normalize_is_idempotent() {
        for p in [
            ".", "a/./b/", "./~/x", "./C:/x", "a/../b", "a/~", "./.x", "x/..y",
        ] {
            if let Ok(n) = normalize_workspace_path(p) {
                assert_eq!(normalize_workspace_path(&n), Ok(n.clone()), "{p} → {n}");
            }
        }
    }
}
