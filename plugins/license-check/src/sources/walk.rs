//! Directory walking and the small glob dialect of `files.exclude` and
//! `files.require-header`.
//!
//! Globs match `/`-separated workspace-relative paths: `*` and `?` stay inside one
//! segment, `**` spans any number of segments, a pattern without `/` matches the
//! file or directory name at any depth (`node_modules`, `*.rs`), and a pattern that
//! matches a directory excludes everything below it. Symlinks are never followed
//! (nothing outside the granted tree is read) and `.git` is never entered.
//!
//! Tests: `sources::walk::tests`.

use std::path::{Path, PathBuf};

/// A compiled glob.
#[derive(Debug, Clone)]
pub struct Glob {
    pattern: Vec<u8>,
    /// No `/` in the pattern: match the last segment only.
    basename: bool,
}

impl Glob {
    pub fn new(pattern: &str) -> Result<Glob, String> {
        let p = pattern.trim();
        if p.is_empty() {
            return Err("empty glob".into());
        }
        if p.contains('\\') {
            return Err(format!("glob `{p}`: use `/` as the path separator"));
        }
        let anchored = p.strip_prefix('/').unwrap_or(p);
        let trimmed = anchored.strip_suffix('/').unwrap_or(anchored);
        Ok(Glob {
            basename: !p.contains('/'),
            pattern: trimmed.as_bytes().to_vec(),
        })
    }

    /// Whether workspace-relative `path` matches.
    pub fn matches(&self, path: &str) -> bool {
        let subject = if self.basename {
            path.rsplit('/').next().unwrap_or(path)
        } else {
            path
        };
        glob_match(&self.pattern, subject.as_bytes())
    }
}

fn glob_match(p: &[u8], s: &[u8]) -> bool {
    if p.is_empty() {
        return s.is_empty();
    }
    if p.starts_with(b"**") {
        let rest = p[2..].strip_prefix(b"/").unwrap_or(&p[2..]);
        // `**` matches zero or more whole segments.
        if glob_match(rest, s) {
            return true;
        }
        for (i, &c) in s.iter().enumerate() {
            if c == b'/' && glob_match(rest, &s[i + 1..]) {
                return true;
            }
        }
        return rest.is_empty();
    }
    match p[0] {
        b'*' => {
            for i in 0..=s.len() {
                if glob_match(&p[1..], &s[i..]) {
                    return true;
                }
                if i < s.len() && s[i] == b'/' {
                    break;
                }
            }
            false
        }
        b'?' => !s.is_empty() && s[0] != b'/' && glob_match(&p[1..], &s[1..]),
        c => !s.is_empty() && s[0] == c && glob_match(&p[1..], &s[1..]),
    }
}

/// Whether any glob matches.
pub fn any_match(globs: &[Glob], rel: &str) -> bool {
    globs.iter().any(|g| g.matches(rel))
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
        Glob::new(p).map(|g| g.matches(s)).unwrap_or(false)
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
        assert!(Glob::new("a\\b").is_err());
    }
}
