//! The yanked check, offline: crates.io versions their authors withdrew, read from a
//! snapshot of the crates.io index the stage is granted (config `index`).
//!
//! The snapshot is a directory in the index's own layout, which the git index
//! (`rust-lang/crates.io-index`) and the sparse one (`https://index.crates.io/…`)
//! share: `1/a`, `2/ab`, `3/a/abc`, `se/rd/serde`, each file one JSON object per
//! published version with `vers` and `yanked`. A full clone works, and so does a
//! directory holding only the files of the locked crates (a few hundred small files,
//! vendored like the advisory databases and refreshed with them). Like those, it is
//! frozen: a version yanked after the snapshot is not known.
//!
//! Nothing is guessed: a crate or version the snapshot does not have, or whose index
//! file does not parse (reported with its path and line), is listed as not checked
//! ([`crate::audit::Audit::not_in_index`]) and the plugin logs the list.
//!
//! Tests: the `tests` module at the bottom of this file; `tests/fixtures.rs`
//! (`yanked_versions_from_an_index_snapshot`).

use std::collections::HashMap;
use std::path::PathBuf;

use serde::Deserialize;

/// What the snapshot says about one crate version.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Yank {
    Yanked,
    Live,
    /// The crate or this version is not in the snapshot.
    Unknown,
}

#[derive(Deserialize)]
struct Entry {
    vers: String,
    #[serde(default)]
    yanked: bool,
}

/// A crates.io index snapshot, read lazily, one file per crate.
pub struct Index {
    root: PathBuf,
    /// Crate name → (version → yanked); `None` when the snapshot has no file for it.
    files: HashMap<String, Option<HashMap<String, bool>>>,
}

/// The index path of a crate name (lower-cased, as crates.io files it).
pub fn index_path(name: &str) -> String {
    let n = name.to_ascii_lowercase();
    match n.len() {
        0 => String::new(),
        1 => format!("1/{n}"),
        2 => format!("2/{n}"),
        3 => format!("3/{}/{n}", &n[..1]),
        _ => format!("{}/{}/{n}", &n[..2], &n[2..4]),
    }
}

impl Index {
    pub fn new(root: PathBuf) -> Index {
        Index {
            root,
            files: HashMap::new(),
        }
    }

    /// Whether `name` `version` is yanked. `Err` names the index file and line that
    /// does not parse.
    pub fn check(&mut self, name: &str, version: &str) -> Result<Yank, String> {
        if !self.files.contains_key(name) {
            let loaded = self.load(name)?;
            self.files.insert(name.to_string(), loaded);
        }
        let versions = self.files.get(name).and_then(Option::as_ref);
        Ok(match versions.and_then(|v| v.get(version.trim())) {
            Some(true) => Yank::Yanked,
            Some(false) => Yank::Live,
            None => Yank::Unknown,
        })
    }

    fn load(&self, name: &str) -> Result<Option<HashMap<String, bool>>, String> {
        let rel = index_path(name);
        // Names are crates.io names from a lockfile: never a path of their own.
        if rel.is_empty()
            || !name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        {
            return Ok(None);
        }
        let path = self.root.join(&rel);
        let text = match std::fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(format!("index file `{rel}`: {e}")),
        };
        let mut out = HashMap::new();
        for (i, line) in text.lines().enumerate() {
            if line.trim().is_empty() {
                continue;
            }
            let e: Entry = serde_json::from_str(line)
                .map_err(|e| format!("index file `{rel}` line {}: {e}", i + 1))?;
            out.insert(e.vers, e.yanked);
        }
        Ok(Some(out))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn index_paths_follow_the_crates_io_layout() {
        assert_eq!(index_path("a"), "1/a");
        assert_eq!(index_path("ab"), "2/ab");
        assert_eq!(index_path("syn"), "3/s/syn");
        assert_eq!(index_path("serde"), "se/rd/serde");
        assert_eq!(index_path("SmallVec"), "sm/al/smallvec");
    }

    #[test]
    fn versions_are_yanked_live_or_unknown() {
        let dir = std::env::temp_dir().join(format!("dep-audit-index-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("3/a")).expect("mkdir");
        std::fs::write(
            dir.join("3/a/abc"),
            "{\"name\":\"abc\",\"vers\":\"1.0.0\",\"yanked\":true}\n{\"name\":\"abc\",\"vers\":\"1.0.1\",\"yanked\":false}\n",
        )
        .expect("write");
        std::fs::create_dir_all(dir.join("2")).expect("mkdir");
        std::fs::write(dir.join("2/xy"), "not json\n").expect("write");
        let mut idx = Index::new(dir.clone());
        let got = (
            idx.check("abc", "1.0.0"),
            idx.check("abc", "1.0.1"),
            idx.check("abc", "9.9.9"),
            idx.check("nope", "1.0.0"),
            idx.check("../etc", "1"),
        );
        let bad = idx.check("xy", "1.0.0");
        let _ = std::fs::remove_dir_all(&dir);
        assert_eq!(
            got,
            (
                Ok(Yank::Yanked),
                Ok(Yank::Live),
                Ok(Yank::Unknown),
                Ok(Yank::Unknown),
                Ok(Yank::Unknown)
            )
        );
        let e = bad.expect_err("corrupt file");
        assert!(e.contains("`2/xy` line 1"), "{e}");
    }
}
