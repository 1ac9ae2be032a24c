//! Where licences come from: readers that turn locally available package data into
//! [`Package`] records, and the repository's own files into [`FileLicense`] records.
//!
//! Every reader is plain `std::fs` over paths it is given, so the same code runs
//! natively and inside the wasm sandbox (where only granted workspace directories
//! exist). Nothing is fetched from the network, and nothing is guessed: a package
//! whose licence cannot be read is [`Declared::Unknown`] with the reason.
//!
//! - [`cargo`] reads `Cargo.lock` + a Cargo registry source cache, `cargo vendor`
//!   directory or `cargo metadata` JSON export;
//! - [`python`] reads `site-packages/*.dist-info/METADATA`;
//! - [`npm`] reads `node_modules/**/package.json`;
//! - [`files`] reads `SPDX-License-Identifier:` headers and LICENSE / COPYING files.
//!
//! Tests: `tests/sources.rs` (fixtures under `tests/fixtures/`).

pub mod cargo;
pub mod files;
pub mod npm;
pub mod python;
pub mod walk;

use std::fmt;
use std::path::Path;

/// Package ecosystem.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Ecosystem {
    Cargo,
    PyPI,
    Npm,
}

impl Ecosystem {
    /// The name used in config (`exceptions[].ecosystem`) and fingerprints.
    pub fn as_str(self) -> &'static str {
        match self {
            Ecosystem::Cargo => "cargo",
            Ecosystem::PyPI => "pypi",
            Ecosystem::Npm => "npm",
        }
    }
}

impl fmt::Display for Ecosystem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A place in the workspace a finding points at.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Location {
    /// Workspace-relative, `/`-separated.
    pub path: String,
    /// 1-based, when known.
    pub line: Option<u32>,
    /// 1-based column of the licence text on that line, when known.
    pub column: Option<u32>,
}

/// What a package says about its licence.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Declared {
    /// An SPDX expression to parse (`text`), possibly mapped from a free-text
    /// licence name (`original` is then what the package wrote).
    Expression {
        text: String,
        original: Option<String>,
    },
    /// Licences identified from licence texts (`from` names the files); all apply.
    Identified {
        ids: Vec<&'static str>,
        from: String,
    },
    /// Nothing usable; `why` says what was looked at.
    Unknown { why: String },
}

/// One dependency and its declared licence.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Package {
    pub ecosystem: Ecosystem,
    pub name: String,
    pub version: String,
    pub declared: Declared,
    /// Where findings about it point (lockfile line, METADATA line, package.json line).
    pub location: Location,
    /// Where the licence was read (may be outside the workspace, for messages only).
    pub origin: String,
}

/// A licence statement found in one of the repository's own files.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FileLicense {
    /// `SPDX-License-Identifier: <expression>`; `location.column` is where the
    /// expression starts.
    Header {
        location: Location,
        expression: String,
    },
    /// A LICENSE / COPYING file and what its text was identified as (empty = unknown).
    Text {
        location: Location,
        ids: Vec<&'static str>,
    },
    /// A file required to carry a header (`require-header`) that has none.
    MissingHeader { location: Location },
}

/// Extensions of code and data files that are never licence texts, even when named
/// `license_check.rs` or `license.json`.
const CODE_EXTENSIONS: &[&str] = &[
    "rs", "py", "js", "mjs", "cjs", "ts", "go", "c", "h", "cc", "cpp", "hpp", "java", "kt", "rb",
    "php", "cs", "swift", "sh", "json", "toml", "yaml", "yml", "xml", "html", "css", "lock",
    "wasm", "o", "so", "pyc",
];

/// Whether a file name is a licence file (`LICENSE`, `LICENCE-MIT`, `COPYING.txt`,
/// `UNLICENSE`, `license.md`…), not code that happens to start with the word.
pub fn is_license_file_name(name: &str) -> bool {
    let lower = name.to_ascii_lowercase();
    let named = ["license", "licence", "copying", "unlicense"]
        .iter()
        .any(|p| {
            lower
                .strip_prefix(p)
                .is_some_and(|rest| rest.is_empty() || rest.starts_with(['.', '-', '_']))
        });
    let code = lower
        .rsplit_once('.')
        .is_some_and(|(_, ext)| CODE_EXTENSIONS.contains(&ext));
    named && !code
}

/// Reads a text file of at most `max` bytes, as lossy UTF-8. `None` if unreadable,
/// too large or binary.
pub(crate) fn read_text(path: &Path, max: u64) -> Option<String> {
    let meta = std::fs::metadata(path).ok()?;
    if !meta.is_file() || meta.len() > max {
        return None;
    }
    let bytes = std::fs::read(path).ok()?;
    if bytes.iter().take(8192).any(|&b| b == 0) {
        return None;
    }
    Some(String::from_utf8_lossy(&bytes).into_owned())
}

/// Licence files directly in `dir`, identified. `None` when there are none.
pub(crate) fn identify_dir(dir: &Path) -> Option<(Vec<&'static str>, Vec<String>, Vec<String>)> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .ok()?
        .flatten()
        .filter(|e| e.file_type().is_ok_and(|t| t.is_file()))
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| is_license_file_name(n))
        .collect();
    if names.is_empty() {
        return None;
    }
    names.sort();
    let mut ids: Vec<&'static str> = Vec::new();
    let mut unknown = Vec::new();
    for n in &names {
        let found = read_text(&dir.join(n), 1 << 20)
            .map(|t| crate::textid::identify(&t))
            .unwrap_or_default();
        if found.is_empty() {
            unknown.push(n.clone());
        }
        for f in found {
            if !ids.contains(&f.id) {
                ids.push(f.id);
            }
        }
    }
    Some((ids, names, unknown))
}

/// 1-based line of byte offset `at` in `text`.
pub(crate) fn line_of(text: &str, at: usize) -> u32 {
    let at = at.min(text.len());
    text.as_bytes()[..at]
        .iter()
        .filter(|&&b| b == b'\n')
        .count() as u32
        + 1
}

#[cfg(test)]
mod tests {
    use super::is_license_file_name;

    #[test]
    fn licence_file_names() {
        for n in [
            "LICENSE",
            "LICENCE-MIT",
            "license.md",
            "COPYING.LESSER",
            "LICENSE_APACHE",
            "UNLICENSE",
            "LICENSE-THIRD-PARTY.txt",
        ] {
            assert!(is_license_file_name(n), "{n}");
        }
        for n in [
            "license_check.rs",
            "license.json",
            "licenses",
            "LICENSES.toml",
            "unlicensed.py",
            "README.md",
            "copyright",
        ] {
            assert!(!is_license_file_name(n), "{n}");
        }
    }
}
