//! Directory walking for `files`, skipping what `files.exclude` names.
//!
//! Globs are gantry's one dialect (`gantry_sdk::glob`, compiled by `globset`): `*`
//! and `?` stay inside one segment, `**` spans any number of segments, `[a-z]`,
//! `{a,b}`, `\x`; a pattern without `/` matches the file or directory name at any
//! depth (`node_modules`, `*.rs`), a leading `/` anchors it at the workspace root,
//! and a pattern that matches a directory excludes everything below it (the walk
//! does not enter it). Symlinks are never followed (nothing outside the granted tree
//! is read) and `.git` is never entered.
//!
//! Tests: `sources::walk::tests`; the dialect's own in `gantry_sdk::glob`.

use std::path::{Path, PathBuf};

pub use gantry_sdk::glob::Glob;

/// Whether any glob matches.
pub fn any_match(globs: &[Glob], rel: &str) -> bool {
    globs.iter().any(|g| g.is_match(rel))
}

/// Regular files under `root/start` (not following symlinks, skipping `.git` and
/// excluded paths), as (absolute path, workspace-relative path), sorted.
pub fn files(root: &Path, start: &str, exclude: &[Glob]) -> Vec<(PathBuf, String)> {
    let mut out = Vec::new();
    let start_rel = start.trim_matches('/');
    let start_rel = if start_rel == "." { "" } else { start_rel };
    let abs = if start_rel.is_empty() {
        root.to_path_buf()
    } else {
        root.join(start_rel)
    };
    match std::fs::symlink_metadata(&abs) {
        Ok(m) if m.is_file() => out.push((abs, start_rel.to_string())),
        Ok(m) if m.is_dir() => walk(&abs, start_rel, exclude, &mut out),
        _ => {}
    }
    out.sort_by(|a, b| a.1.cmp(&b.1));
    out
}

fn walk(dir: &Path, rel: &str, exclude: &[Glob], out: &mut Vec<(PathBuf, String)>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        let child_rel = if rel.is_empty() {
            name.clone()
        } else {
            format!("{rel}/{name}")
        };
        let Ok(t) = e.file_type() else { continue };
        if t.is_symlink() || name == ".git" || any_match(exclude, &child_rel) {
            continue;
        }
        if t.is_dir() {
            walk(&e.path(), &child_rel, exclude, out);
        } else if t.is_file() {
            out.push((e.path(), child_rel));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(p: &str, s: &str) -> bool {
        Glob::new(p).map(|g| g.is_match(s)).unwrap_or(false)
    }

    #[test]
    fn basename_patterns_match_at_any_depth() {
        assert!(m("*.rs", "src/lib.rs"));
        assert!(m("*.rs", "lib.rs"));
        assert!(m("node_modules", "tools/sarif/node_modules"));
        assert!(!m("*.rs", "src/lib.rsx"));
    }

    #[test]
    fn star_stays_in_one_segment_double_star_spans() {
        assert!(m("src/*.rs", "src/lib.rs"));
        assert!(!m("src/*.rs", "src/a/lib.rs"));
        assert!(m("src/**/*.rs", "src/a/b/lib.rs"));
        assert!(m("src/**/*.rs", "src/lib.rs"));
        assert!(m("target/**", "target/debug/x"));
        assert!(m("/target", "target"));
        assert!(!m("/target", "a/target/x"));
        assert!(m("plugins/*/tests/fixtures", "plugins/x/tests/fixtures"));
    }

    #[test]
    fn question_mark_is_one_character() {
        assert!(m("LICENSE-???", "LICENSE-MIT"));
        assert!(!m("LICENSE-???", "LICENSE-APACHE"));
    }

    #[test]
    fn bad_globs_are_refused() {
        assert!(Glob::new("").is_err());
        // `\` escapes the next character in gantry's glob dialect; a dangling one is
        // refused (before the shared dialect, any `\` was refused as a separator).
        assert!(Glob::new("a\\").is_err());
        assert!(Glob::new("a[b").is_err());
    }

    #[test]
    fn excluded_directories_are_not_entered() {
        let root = std::env::temp_dir().join(format!("lc-walk-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        std::fs::create_dir_all(root.join("a/fixtures/deep")).expect("mkdir");
        std::fs::create_dir_all(root.join("b")).expect("mkdir");
        std::fs::write(root.join("a/fixtures/deep/LICENSE"), "x").expect("write");
        std::fs::write(root.join("a/keep.rs"), "x").expect("write");
        std::fs::write(root.join("b/LICENSE-[x]"), "x").expect("write");
        let exclude = [
            Glob::new("fixtures").expect("glob"),
            Glob::new(r"b/LICENSE-\[x\]").expect("glob"),
        ];
        let got: Vec<String> = files(&root, "", &exclude)
            .into_iter()
            .map(|f| f.1)
            .collect();
        let _ = std::fs::remove_dir_all(&root);
        assert_eq!(got, vec!["a/keep.rs"]);
    }
}
