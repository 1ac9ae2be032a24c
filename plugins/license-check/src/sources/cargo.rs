//! Cargo: which crates `Cargo.lock` pins, and the licence each one declares.
//!
//! The lockfile gives names, versions, sources and (for findings) the line of each
//! `[[package]]`. The licence of a crates.io crate comes from the first of:
//!
//! 1. a `cargo metadata --format-version 1` JSON export (`cargo.metadata`), which
//!    carries every package's `license` / `license_file` — produced by one offline
//!    `cargo metadata --locked --offline` before the stage;
//! 2. crate sources on disk (`cargo.registry`, repeatable): a Cargo registry source
//!    cache (`$CARGO_HOME/registry/src`, with its `index.crates.io-*` level), one index
//!    directory of it, or a `cargo vendor` directory (versioned or not). The crate's
//!    published `Cargo.toml` gives `license`; failing that its `license-file`, failing
//!    that its top-level LICENSE / COPYING files are identified by text.
//!
//! Workspace members (no `source` in the lockfile) are read from their own manifests,
//! resolving `license.workspace = true` through the root `[workspace.package]`.
//! Git dependencies are found only in a metadata export or a vendor directory.
//! Anything not found is [`Declared::Unknown`] with what was searched.
//!
//! Refused: a lockfile that is not TOML or has a `[[package]]` without name or
//! version (error with the line), a metadata file that is not `cargo metadata` JSON.
//!
//! Tests: `tests/sources.rs` (`cargo_*`, fixture `tests/fixtures/cargo`).

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::{Declared, Ecosystem, Location, Package, identify_dir, line_of, read_text};

#[derive(Deserialize)]
struct Lock {
    #[serde(default)]
    package: Vec<LockPackage>,
}

#[derive(Deserialize)]
struct LockPackage {
    name: toml::Spanned<String>,
    version: String,
    #[serde(default)]
    source: Option<String>,
}

/// A crate pinned by the lockfile.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Locked {
    pub name: String,
    pub version: String,
    pub source: Option<String>,
    /// 1-based line of its `name = …`.
    pub line: u32,
}

/// Parses `Cargo.lock` text (`path` for messages).
pub fn parse_lock(text: &str, path: &str) -> Result<Vec<Locked>, String> {
    let lock: Lock = toml::from_str(text).map_err(|e| {
        let at = e
            .span()
            .map(|s| format!(":{}", line_of(text, s.start)))
            .unwrap_or_default();
        format!(
            "{path}{at}: not a valid Cargo.lock: {}\nhint: regenerate it with `cargo generate-lockfile`",
            e.message()
        )
    })?;
    Ok(lock
        .package
        .into_iter()
        .map(|p| Locked {
            line: line_of(text, p.name.span().start),
            name: p.name.into_inner(),
            version: p.version,
            source: p.source,
        })
        .collect())
}

#[derive(Deserialize)]
struct Metadata {
    packages: Vec<MetaPackage>,
}

#[derive(Deserialize)]
struct MetaPackage {
    name: String,
    version: String,
    #[serde(default)]
    license: Option<String>,
    #[serde(default)]
    license_file: Option<String>,
    #[serde(default)]
    manifest_path: Option<String>,
}

/// Licence facts from a `cargo metadata` export, by (name, version).
pub type MetadataIndex =
    HashMap<(String, String), (Option<String>, Option<String>, Option<String>)>;

/// Parses `cargo metadata --format-version 1` output.
pub fn parse_metadata(text: &str, path: &str) -> Result<MetadataIndex, String> {
    let m: Metadata = serde_json::from_str(text).map_err(|e| {
        format!(
            "{path}:{}:{}: not `cargo metadata --format-version 1` output: {e}\nhint: write it with `cargo metadata --format-version 1 --locked --offline > {path}`",
            e.line(),
            e.column()
        )
    })?;
    Ok(m.packages
        .into_iter()
        .map(|p| {
            (
                (p.name, p.version),
                (p.license, p.license_file, p.manifest_path),
            )
        })
        .collect())
}

/// Where to look for crate sources and metadata.
#[derive(Debug, Clone, Default)]
pub struct CargoInputs {
    /// Absolute path of `Cargo.lock` and its workspace-relative spelling.
    pub lockfile: PathBuf,
    pub lockfile_rel: String,
    /// Registry source caches / vendor directories.
    pub registries: Vec<PathBuf>,
    pub metadata: Option<MetadataIndex>,
    /// The metadata export is filtered to one platform (`--filter-platform`): a locked
    /// crate missing from it is not built for that platform and is not checked (rather
    /// than reported as unknown).
    pub platform_filtered: bool,
    /// Read workspace members' own manifests.
    pub workspace_members: bool,
}

/// Reads the lockfile and resolves each crate's licence.
pub fn packages(inputs: &CargoInputs) -> Result<Vec<Package>, String> {
    let text = std::fs::read_to_string(&inputs.lockfile).map_err(|e| {
        format!(
            "cannot read `{}`: {e}\nhint: grant it with `grants.fs.read` or set `cargo.lockfile`",
            inputs.lockfile_rel
        )
    })?;
    let locked = parse_lock(&text, &inputs.lockfile_rel)?;
    let root = inputs
        .lockfile
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_default();
    let rel_root = inputs
        .lockfile_rel
        .rsplit_once('/')
        .map(|(d, _)| d.to_string())
        .unwrap_or_default();
    let members = if inputs.workspace_members {
        workspace_members(&root, &rel_root)
    } else {
        HashMap::new()
    };
    let finder = CrateFinder::new(&inputs.registries);
    let mut out = Vec::new();
    for l in locked {
        let mut location = Location {
            path: inputs.lockfile_rel.clone(),
            line: Some(l.line),
            column: None,
        };
        let (declared, origin) = if l.source.is_none() {
            if !inputs.workspace_members {
                continue;
            }
            match members.get(&(l.name.clone(), l.version.clone())) {
                Some((declared, manifest)) => {
                    // A member's licence is fixed in its own manifest: point there.
                    location = Location {
                        path: manifest.clone(),
                        line: None,
                        column: None,
                    };
                    (declared.clone(), manifest.clone())
                }
                None => (
                    Declared::Unknown {
                        why: "path dependency outside the workspace members; its manifest was not found".into(),
                    },
                    String::new(),
                ),
            }
        } else {
            if inputs.platform_filtered
                && inputs
                    .metadata
                    .as_ref()
                    .is_some_and(|m| !m.contains_key(&(l.name.clone(), l.version.clone())))
            {
                continue; // not built for the filtered platform
            }
            resolve(&l, inputs.metadata.as_ref(), &finder)
        };
        out.push(Package {
            ecosystem: Ecosystem::Cargo,
            name: l.name,
            version: l.version,
            declared,
            location,
            origin,
        });
    }
    Ok(out)
}

fn resolve(l: &Locked, meta: Option<&MetadataIndex>, finder: &CrateFinder) -> (Declared, String) {
    if let Some(m) = meta
        && let Some((license, license_file, manifest)) = m.get(&(l.name.clone(), l.version.clone()))
    {
        let origin = manifest.clone().unwrap_or_else(|| "cargo metadata".into());
        if let Some(text) = license.as_deref().filter(|t| !t.trim().is_empty()) {
            return (
                Declared::Expression {
                    text: text.to_string(),
                    original: None,
                },
                origin,
            );
        }
        if let (Some(file), Some(manifest)) = (license_file, manifest) {
            let dir = Path::new(manifest).parent().unwrap_or(Path::new(""));
            return (from_license_file(&dir.join(file), file), origin);
        }
        if license_file.is_none() && !finder.has_roots() {
            return (
                Declared::Unknown {
                    why: "its manifest declares neither `license` nor `license-file`".into(),
                },
                origin,
            );
        }
    }
    match finder.find(&l.name, &l.version) {
        Some(dir) => {
            let manifest = dir.join("Cargo.toml");
            (from_manifest(&dir), manifest.display().to_string())
        }
        None => {
            let kind = match l.source.as_deref() {
                Some(s) if s.starts_with("git+") => "git dependency",
                _ => "crate",
            };
            let why = match (meta.is_some(), finder.has_roots()) {
                (true, false) => format!(
                    "{kind} missing from the `cargo.metadata` export; regenerate it after changing Cargo.lock"
                ),
                (true, true) => format!(
                    "{kind} missing from the `cargo.metadata` export and from the `cargo.registry` directories"
                ),
                (false, true) => format!(
                    "{kind} sources not found in the `cargo.registry` directories; run `cargo fetch`, or export `cargo metadata`"
                ),
                (false, false) => format!(
                    "{kind} licence not available: set `cargo.registry` or `cargo.metadata`"
                ),
            };
            (Declared::Unknown { why }, String::new())
        }
    }
}

fn from_license_file(path: &Path, shown: &str) -> Declared {
    match read_text(path, 1 << 20) {
        Some(text) => {
            let ids: Vec<&'static str> = crate::textid::identify(&text)
                .into_iter()
                .map(|i| i.id)
                .collect();
            if ids.is_empty() {
                Declared::Unknown {
                    why: format!(
                        "`license-file = \"{shown}\"` is not a licence text gantry recognises"
                    ),
                }
            } else {
                Declared::Identified {
                    ids,
                    from: shown.to_string(),
                }
            }
        }
        None => Declared::Unknown {
            why: format!("`license-file = \"{shown}\"` cannot be read"),
        },
    }
}

/// The licence a crate's own `Cargo.toml` declares (see the module docs for the order).
pub fn from_manifest(dir: &Path) -> Declared {
    let manifest = dir.join("Cargo.toml");
    let Some(text) = read_text(&manifest, 4 << 20) else {
        return Declared::Unknown {
            why: format!("cannot read {}", manifest.display()),
        };
    };
    let table: toml::Table = match toml::from_str(&text) {
        Ok(t) => t,
        Err(e) => {
            return Declared::Unknown {
                why: format!("{} is not valid TOML: {}", manifest.display(), e.message()),
            };
        }
    };
    let pkg = table.get("package").and_then(|p| p.as_table());
    if let Some(l) = pkg
        .and_then(|p| p.get("license"))
        .and_then(|v| v.as_str())
        .filter(|s| !s.trim().is_empty())
    {
        return Declared::Expression {
            text: l.to_string(),
            original: None,
        };
    }
    if let Some(f) = pkg
        .and_then(|p| p.get("license-file"))
        .and_then(|v| v.as_str())
    {
        return from_license_file(&dir.join(f), f);
    }
    from_files(dir)
}

/// The licence files at the top of a package directory, when nothing else is declared.
pub(crate) fn from_files(dir: &Path) -> Declared {
    match identify_dir(dir) {
        None => Declared::Unknown {
            why: "declares no licence and ships no LICENSE or COPYING file".into(),
        },
        Some((ids, names, unknown)) if unknown.is_empty() && !ids.is_empty() => {
            Declared::Identified {
                ids,
                from: names.join(", "),
            }
        }
        Some((ids, _, unknown)) => Declared::Unknown {
            why: format!(
                "declares no licence; {} not recognised{}",
                unknown.join(", "),
                if ids.is_empty() {
                    String::new()
                } else {
                    format!(" (others read as {})", ids.join(", "))
                }
            ),
        },
    }
}

/// Finds `NAME-VERSION` source directories under the configured roots.
struct CrateFinder {
    /// Directories that directly hold crate directories.
    dirs: Vec<PathBuf>,
}

impl CrateFinder {
    fn new(roots: &[PathBuf]) -> CrateFinder {
        let mut dirs = Vec::new();
        for r in roots {
            dirs.push(r.clone());
            // A registry `src` directory holds one directory per index.
            if let Ok(entries) = std::fs::read_dir(r) {
                let mut idx: Vec<PathBuf> = entries
                    .flatten()
                    .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
                    .map(|e| e.path())
                    .filter(|p| !p.join("Cargo.toml").exists())
                    .collect();
                idx.sort();
                dirs.extend(idx);
            }
        }
        CrateFinder { dirs }
    }

    fn has_roots(&self) -> bool {
        !self.dirs.is_empty()
    }

    fn find(&self, name: &str, version: &str) -> Option<PathBuf> {
        for d in &self.dirs {
            let versioned = d.join(format!("{name}-{version}"));
            if versioned.join("Cargo.toml").is_file() {
                return Some(versioned);
            }
            // `cargo vendor` without `--versioned-dirs`.
            let plain = d.join(name);
            if plain.join("Cargo.toml").is_file()
                && manifest_version(&plain).as_deref() == Some(version)
            {
                return Some(plain);
            }
        }
        None
    }
}

fn manifest_version(dir: &Path) -> Option<String> {
    let text = read_text(&dir.join("Cargo.toml"), 4 << 20)?;
    let t: toml::Table = toml::from_str(&text).ok()?;
    Some(t.get("package")?.get("version")?.as_str()?.to_string())
}

/// Workspace members: (name, version) → (declared licence, manifest path).
fn workspace_members(root: &Path, rel_root: &str) -> HashMap<(String, String), (Declared, String)> {
    let mut out = HashMap::new();
    let Some(text) = read_text(&root.join("Cargo.toml"), 4 << 20) else {
        return out;
    };
    let Ok(table) = toml::from_str::<toml::Table>(&text) else {
        return out;
    };
    let ws = table.get("workspace").and_then(|w| w.as_table());
    let ws_pkg = ws
        .and_then(|w| w.get("package"))
        .and_then(|p| p.as_table())
        .cloned()
        .unwrap_or_default();
    let mut dirs: BTreeMap<String, PathBuf> = BTreeMap::new();
    if table.contains_key("package") {
        dirs.insert(String::new(), root.to_path_buf());
    }
    let members = ws
        .and_then(|w| w.get("members"))
        .and_then(|m| m.as_array())
        .cloned()
        .unwrap_or_default();
    for m in members.iter().filter_map(|m| m.as_str()) {
        for (rel, abs) in expand(root, m) {
            dirs.insert(rel, abs);
        }
    }
    for (rel, dir) in dirs {
        let manifest_rel = [rel_root, rel.as_str(), "Cargo.toml"]
            .iter()
            .filter(|s| !s.is_empty())
            .copied()
            .collect::<Vec<_>>()
            .join("/");
        let Some(mt) = read_text(&dir.join("Cargo.toml"), 4 << 20)
            .and_then(|t| toml::from_str::<toml::Table>(&t).ok())
        else {
            continue;
        };
        let Some(pkg) = mt.get("package").and_then(|p| p.as_table()) else {
            continue;
        };
        let inherit = |key: &str| -> Option<toml::Value> {
            match pkg.get(key) {
                Some(toml::Value::Table(t))
                    if t.get("workspace").and_then(|w| w.as_bool()) == Some(true) =>
                {
                    ws_pkg.get(key).cloned()
                }
                other => other.cloned(),
            }
        };
        let Some(name) = pkg.get("name").and_then(|n| n.as_str()) else {
            continue;
        };
        let version = inherit("version")
            .and_then(|v| v.as_str().map(str::to_string))
            .unwrap_or_else(|| "0.0.0".into());
        let declared = if let Some(l) =
            inherit("license").and_then(|v| v.as_str().map(str::to_string))
        {
            Declared::Expression {
                text: l,
                original: None,
            }
        } else if let Some(f) = inherit("license-file").and_then(|v| v.as_str().map(str::to_string))
        {
            from_license_file(&dir.join(&f), &f)
        } else {
            Declared::Unknown {
                why: format!("workspace member `{manifest_rel}` declares no `license`"),
            }
        };
        out.insert((name.to_string(), version), (declared, manifest_rel));
    }
    out
}

/// Expands a `members` entry (`*` allowed per segment) to (relative, absolute) dirs.
fn expand(root: &Path, pattern: &str) -> Vec<(String, PathBuf)> {
    let mut current = vec![(String::new(), root.to_path_buf())];
    for seg in pattern.trim_matches('/').split('/') {
        let mut next = Vec::new();
        for (rel, abs) in current {
            let join = |n: &str| {
                if rel.is_empty() {
                    n.to_string()
                } else {
                    format!("{rel}/{n}")
                }
            };
            if seg.contains(['*', '?']) {
                let Ok(g) = super::walk::Glob::new(seg) else {
                    continue;
                };
                let mut names: Vec<String> = std::fs::read_dir(&abs)
                    .into_iter()
                    .flatten()
                    .flatten()
                    .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .filter(|n| g.is_match(n))
                    .collect();
                names.sort();
                for n in names {
                    next.push((join(&n), abs.join(&n)));
                }
            } else if seg == "." {
                next.push((rel, abs));
            } else {
                next.push((join(seg), abs.join(seg)));
            }
        }
        current = next;
    }
    current
        .into_iter()
        .filter(|(_, abs)| abs.join("Cargo.toml").is_file())
        .collect()
}
