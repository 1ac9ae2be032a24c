//! Mapping the paths a report names to workspace-relative paths.
//!
//! Coverage tools write whatever path the compiler or interpreter saw: absolute paths
//! of the CI machine (`/home/runner/work/app/src/lib.rs`), paths relative to a
//! `<source>` root (Cobertura), `./` prefixes, Windows separators. For each file the
//! candidates are tried in this order, and the first one that names an existing
//! regular file under the workspace wins:
//!
//! 1. the path itself, when relative;
//! 2. the configured `source-root` joined with it, then each Cobertura `<source>`;
//! 3. for absolute candidates: each configured `strip-prefix` removed;
//! 4. for absolute candidates: a prefix learned from an earlier file of this run;
//! 5. for absolute candidates: the longest suffix that exists in the workspace
//!    (`/home/ci/app/src/a.rs` → `app/src/a.rs` → `src/a.rs`); the prefix it
//!    removed is learned for step 4, so the search usually runs once per report.
//!
//! A file found nowhere keeps its best-effort mapped path and is marked as not in
//! the workspace: it still counts toward the totals (the tests did run that code) and
//! toward per-file thresholds, but gets no `uncovered-lines` findings, because there
//! is no source to point at. `..` that would leave the workspace never resolves.
//!
//! Tests: `mod tests` below.

use std::collections::HashMap;
use std::path::Path;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resolved {
    /// Workspace-relative `/`-separated path when `in_workspace`, else the best guess.
    pub path: String,
    pub in_workspace: bool,
}

pub struct Resolver<'a> {
    root: &'a Path,
    strip: Vec<String>,
    source_root: Option<String>,
    learned: Vec<String>,
    exists: HashMap<String, bool>,
}

impl<'a> Resolver<'a> {
    pub fn new(root: &'a Path, strip_prefix: &[String], source_root: Option<&str>) -> Resolver<'a> {
        Resolver {
            root,
            strip: strip_prefix.iter().map(|s| slashes(s)).collect(),
            source_root: source_root.map(slashes),
            learned: Vec::new(),
            exists: HashMap::new(),
        }
    }

    fn exists(&mut self, rel: &str) -> bool {
        if let Some(&e) = self.exists.get(rel) {
            return e;
        }
        let e = self.root.join(rel).is_file();
        self.exists.insert(rel.to_string(), e);
        e
    }

    pub fn resolve(&mut self, raw: &str, sources: &[String]) -> Resolved {
        let raw = slashes(raw);
        let mut candidates: Vec<String> = Vec::new();
        if !is_absolute(&raw) {
            candidates.push(raw.clone());
            if let Some(r) = &self.source_root {
                candidates.push(format!("{}/{}", r.trim_end_matches('/'), raw));
            }
            for s in sources {
                candidates.push(format!("{}/{}", slashes(s).trim_end_matches('/'), raw));
            }
        } else {
            candidates.push(raw.clone());
        }
        let mut fallback: Option<String> = None;
        for c in &candidates {
            if !is_absolute(c) {
                if let Some(rel) = normalize(c) {
                    if self.exists(&rel) {
                        return Resolved {
                            path: rel,
                            in_workspace: true,
                        };
                    }
                    fallback.get_or_insert(rel);
                }
                continue;
            }
            for p in self.strip.clone() {
                if let Some(rest) = strip(c, &p)
                    && let Some(rel) = normalize(rest)
                {
                    if self.exists(&rel) {
                        return Resolved {
                            path: rel,
                            in_workspace: true,
                        };
                    }
                    fallback.get_or_insert(rel);
                }
            }
            for p in self.learned.clone() {
                if let Some(rest) = strip(c, &p)
                    && let Some(rel) = normalize(rest)
                    && self.exists(&rel)
                {
                    return Resolved {
                        path: rel,
                        in_workspace: true,
                    };
                }
            }
            if let Some(norm) = normalize(c.trim_start_matches('/')) {
                let mut at = 0usize;
                while let Some(i) = norm[at..].find('/') {
                    let suffix = &norm[at..];
                    if self.exists(suffix) {
                        let prefix = &c[..c.len() - suffix.len()];
                        if !prefix.is_empty() && !self.learned.iter().any(|l| l == prefix) {
                            self.learned.push(prefix.to_string());
                        }
                        return Resolved {
                            path: suffix.to_string(),
                            in_workspace: true,
                        };
                    }
                    at += i + 1;
                }
                let last = &norm[at..];
                if self.exists(last) {
                    return Resolved {
                        path: last.to_string(),
                        in_workspace: true,
                    };
                }
            }
        }
        Resolved {
            path: fallback.unwrap_or(raw),
            in_workspace: false,
        }
    }
}

fn slashes(s: &str) -> String {
    s.trim().replace('\\', "/")
}

fn is_absolute(p: &str) -> bool {
    p.starts_with('/') || (p.len() > 2 && p.as_bytes()[1] == b':' && p.as_bytes()[2] == b'/')
}

/// `path` with `prefix` removed, on a path-segment boundary.
fn strip<'p>(path: &'p str, prefix: &str) -> Option<&'p str> {
    let prefix = prefix.trim_end_matches('/');
    let rest = path.strip_prefix(prefix)?;
    if prefix.is_empty() {
        return Some(rest.trim_start_matches('/'));
    }
    rest.strip_prefix('/')
}

/// Lexically normalises a relative path: drops `.` and empty segments, applies `..`.
/// `None` when `..` would climb out of the root or nothing is left.
pub fn normalize(p: &str) -> Option<String> {
    let mut parts: Vec<&str> = Vec::new();
    for seg in p.split('/') {
        match seg {
            "" | "." => {}
            ".." => {
                parts.pop()?;
            }
            s => parts.push(s),
        }
    }
    (!parts.is_empty()).then(|| parts.join("/"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tests::TempDir;

    #[test]
    fn resolves_relative_source_rooted_stripped_and_suffix_paths() {
        let ws = TempDir::new("paths");
        ws.write("src/lib.rs", "");
        ws.write("src/util/mod.rs", "");
        ws.write("pkg/m.py", "");
        ws.write("lib/q.py", "");
        let mut r = Resolver::new(ws.path(), &["/opt/build".to_string()], Some("pkg"));
        let got = |r: &mut Resolver, raw: &str, sources: &[String]| r.resolve(raw, sources);

        assert_eq!(
            got(&mut r, "./src/lib.rs", &[]),
            Resolved {
                path: "src/lib.rs".into(),
                in_workspace: true
            }
        );
        assert_eq!(
            got(&mut r, "q.py", &["/ci/checkout/lib".to_string()]),
            Resolved {
                path: "lib/q.py".into(),
                in_workspace: true
            },
            "Cobertura source root + relative filename, then suffix search"
        );
        assert_eq!(got(&mut r, "/opt/build/src/lib.rs", &[]).path, "src/lib.rs");
        assert_eq!(
            got(&mut r, "m.py", &[]).path,
            "pkg/m.py",
            "relative to source-root"
        );
        assert_eq!(
            got(&mut r, "C:\\work\\app\\src\\util\\mod.rs", &[]).path,
            "src/util/mod.rs"
        );
        let learned = got(&mut r, "/home/runner/app/src/util/mod.rs", &[]);
        assert!(learned.in_workspace);
        assert!(
            r.learned.iter().any(|p| p == "/home/runner/app/"),
            "{:?}",
            r.learned
        );

        let missing = got(&mut r, "/usr/include/stdio.h", &[]);
        assert!(!missing.in_workspace);
        assert_eq!(missing.path, "/usr/include/stdio.h");
        assert!(!got(&mut r, "../outside.rs", &[]).in_workspace);
    }
}
