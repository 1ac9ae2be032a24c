//! Lockfiles and manifests: finding them in the workspace and reading the pinned
//! packages out of them.
//!
//! | file | module | ecosystem |
//! | --- | --- | --- |
//! | `Cargo.lock` (v1–v4) | [`cargo`] | crates.io |
//! | `requirements*.txt`, `requirements/*.txt` | [`python`] | PyPI |
//! | `poetry.lock`, `uv.lock`, `Pipfile.lock` | [`python`] | PyPI |
//! | `package-lock.json` (v1, v2, v3), `npm-shrinkwrap.json` | [`npm`] | npm |
//!
//! Each parser returns the packages with the line of their entry, and "notes" for
//! what cannot be audited (unpinned requirements, URL/path/editable installs).
//! Workspace-local packages (Cargo path crates, uv editable/virtual projects, npm
//! links and workspace members) are skipped: advisories are about published
//! packages, and a local crate that shares a name with a published one is not it.
//! A file that does not parse is an error naming the file and the line/column.
//!
//! Discovery walks the workspace without following symlinks and skips `.git`,
//! `target`, `node_modules`, `.venv`/`venv` and `__pycache__`.
//!
//! Tests: unit tests at the bottom of each module, `tests/fixtures.rs` for whole files.

pub mod cargo;
pub mod jsonpos;
pub mod npm;
pub mod python;

use std::path::Path;

use crate::advisory::Ecosystem;

/// One pinned package found in a lockfile.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Package {
    pub ecosystem: Ecosystem,
    /// As written in the lockfile.
    pub name: String,
    pub version: String,
    /// 1-based line of the package's entry, when known.
    pub line: Option<u32>,
}

/// A requirement that cannot be audited (reported as an `unpinned` note).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Note {
    pub line: u32,
    /// The requirement as written (continuations joined, comments removed).
    pub requirement: String,
    pub reason: String,
}

/// What one lockfile yields.
#[derive(Debug, Default)]
pub struct Parsed {
    pub packages: Vec<Package>,
    pub notes: Vec<Note>,
}

/// The formats dep-audit reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    CargoLock,
    Requirements,
    PoetryLock,
    UvLock,
    PipfileLock,
    PackageLock,
}

impl Kind {
    /// By file name (and, for `requirements/*.txt`, the parent directory).
    pub fn detect(rel_path: &str) -> Option<Kind> {
        let mut parts = rel_path.rsplit('/');
        let name = parts.next().unwrap_or_default();
        let parent = parts.next().unwrap_or_default();
        match name {
            "Cargo.lock" => Some(Kind::CargoLock),
            "poetry.lock" => Some(Kind::PoetryLock),
            "uv.lock" => Some(Kind::UvLock),
            "Pipfile.lock" => Some(Kind::PipfileLock),
            "package-lock.json" | "npm-shrinkwrap.json" => Some(Kind::PackageLock),
            n if n.ends_with(".txt")
                && (n.starts_with("requirements") || parent == "requirements") =>
            {
                Some(Kind::Requirements)
            }
            _ => None,
        }
    }

    pub fn parse(self, text: &str) -> Result<Parsed, String> {
        match self {
            Kind::CargoLock => cargo::parse(text),
            Kind::Requirements => Ok(python::parse_requirements(text)),
            Kind::PoetryLock => python::parse_poetry(text),
            Kind::UvLock => python::parse_uv(text),
            Kind::PipfileLock => python::parse_pipfile(text),
            Kind::PackageLock => npm::parse(text),
        }
    }
}

const SKIP_DIRS: [&str; 6] = [
    ".git",
    "target",
    "node_modules",
    ".venv",
    "venv",
    "__pycache__",
];

/// Workspace-relative paths (with `/`) of every lockfile under `dir`, sorted.
/// `rel` is `dir`'s own workspace-relative path (`""` for the root).
pub fn discover(dir: &Path, rel: &str, out: &mut Vec<String>) -> Result<(), String> {
    let entries =
        std::fs::read_dir(dir).map_err(|e| format!("cannot list `{}`: {e}", display(rel)))?;
    let mut list: Vec<_> = entries.filter_map(Result::ok).collect();
    list.sort_by_key(|e| e.file_name());
    for entry in list {
        let name = entry.file_name().to_string_lossy().into_owned();
        let child = if rel.is_empty() {
            name.clone()
        } else {
            format!("{rel}/{name}")
        };
        let Ok(ft) = entry.file_type() else { continue };
        if ft.is_dir() {
            if !SKIP_DIRS.contains(&name.as_str()) {
                discover(&entry.path(), &child, out)?;
            }
        } else if ft.is_file() && Kind::detect(&child).is_some() {
            out.push(child);
        }
    }
    Ok(())
}

fn display(rel: &str) -> &str {
    if rel.is_empty() { "." } else { rel }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_by_name() {
        assert_eq!(Kind::detect("Cargo.lock"), Some(Kind::CargoLock));
        assert_eq!(
            Kind::detect("a/requirements-dev.txt"),
            Some(Kind::Requirements)
        );
        assert_eq!(
            Kind::detect("requirements/prod.txt"),
            Some(Kind::Requirements)
        );
        assert_eq!(Kind::detect("notes.txt"), None);
        assert_eq!(
            Kind::detect("web/package-lock.json"),
            Some(Kind::PackageLock)
        );
        assert_eq!(Kind::detect("package.json"), None);
        assert_eq!(Kind::detect("x/uv.lock"), Some(Kind::UvLock));
    }

    #[test]
    fn discovery_skips_build_and_vendor_dirs() {
        let dir = std::env::temp_dir().join(format!("dep-audit-discover-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        for p in ["a", "target/debug", "node_modules/x", ".git", "web"] {
            std::fs::create_dir_all(dir.join(p)).expect("mkdir");
        }
        for f in [
            "Cargo.lock",
            "a/requirements.txt",
            "target/debug/Cargo.lock",
            "node_modules/x/package-lock.json",
            ".git/uv.lock",
            "web/package-lock.json",
            "web/README.md",
        ] {
            std::fs::write(dir.join(f), "").expect("write");
        }
        let mut out = Vec::new();
        discover(&dir, "", &mut out).expect("discover");
        let _ = std::fs::remove_dir_all(&dir);
        assert_eq!(
            out,
            vec!["Cargo.lock", "a/requirements.txt", "web/package-lock.json"]
        );
    }
}
