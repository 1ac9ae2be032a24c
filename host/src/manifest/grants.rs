//! `grants.*` of a stage: what the host lets a stage's plugin do. Deny by default:
//! a stage without grants gets no files, no environment, no network.
//!
//! Each capability is its own field of [`Grants`] with its own type and its own
//! parser, registered in [`CAPABILITIES`]; an unknown capability name is an error
//! listing the known ones. Only `fs` exists for now. A new capability (env,
//! secrets, http, process, git, containers, cluster) adds: a field on `Grants`, an
//! entry in `CAPABILITIES`, and a parser — typically a `#[serde(deny_unknown_fields)]`
//! struct read through [`Cx::deserialize`], then checked value by value. Its schema
//! and checks are meant to live with the capability under `src/caps/<name>.rs`.
//!
//! fs paths are workspace-relative and normalized lexically (`./src/` → `src`,
//! `a/../b` → `b`, the root is `.`). Absolute paths, `~`, backslashes, globs and
//! any `..` that climbs out of the workspace are refused here; symlinks that
//! point outside are the fs broker's job at run time.

use serde::{Deserialize, Serialize};
use toml::Spanned;

use super::suggest::{did_you_mean, list};
use super::walk::{Cx, Val, entries, span_of};

/// Everything a stage may do beyond pure computation.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Grants {
    pub fs: FsGrants,
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
pub const CAPABILITIES: &[&str] = &["fs"];

/// Capabilities in the design that this version does not implement yet: named so
/// the error says "not available yet" rather than "unknown".
const PLANNED: &[&str] = &[
    "env",
    "secrets",
    "http",
    "process",
    "git",
    "containers",
    "cluster",
];

const ALIASES: &[(&str, &str)] = &[
    ("filesystem", "fs"),
    ("files", "fs"),
    ("file", "fs"),
    ("fs-read", "fs"),
];

pub(crate) fn parse_grants(cx: &mut Cx<'_>, v: &Val<'_>, stage: &str) -> Grants {
    let mut grants = Grants::default();
    let Some(table) = cx.ok(cx.table(v, &format!("`grants` in stage `{stage}`"))) else {
        return grants;
    };
    for (key, value) in entries(table) {
        match key.get_ref().as_ref() {
            "fs" => grants.fs = parse_fs(cx, value, stage),
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

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FsToml {
    #[serde(default)]
    read: Vec<Spanned<String>>,
    #[serde(default)]
    write: Vec<Spanned<String>>,
}

fn parse_fs(cx: &mut Cx<'_>, v: &Val<'_>, stage: &str) -> FsGrants {
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

/// Normalizes a workspace-relative path lexically; `Err((reason, hint))` if it is not one.
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
    let bytes = path.as_bytes();
    if path.starts_with('/')
        || (bytes.len() >= 2 && bytes[0].is_ascii_alphabetic() && bytes[1] == b':')
    {
        return Err((
            format!("absolute path `{path}` is not allowed"),
            relative_hint.into(),
        ));
    }
    if path.starts_with('~') {
        return Err((
            format!("`{path}`: `~` is not expanded"),
            relative_hint.into(),
        ));
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
    Ok(if parts.is_empty() {
        ".".into()
    } else {
        parts.join("/")
    })
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
    }
}
