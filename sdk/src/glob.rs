//! Path globs: the one dialect every official plugin uses for its path options
//! (dep-audit `paths`, license-check `files.exclude` / `files.require-header`,
//! dockerfile-lint `paths`, secret-scan `allow-paths`), compiled by `globset`.
//!
//! Matched against workspace-relative, `/`-separated paths (no leading `./`):
//! - `*` any characters but `/`; `?` one character but `/`; `[abc]`, `[a-z]`,
//!   `[!a-z]` classes; `{a,b}` alternatives; `\x` the literal `x`;
//! - `**` as a whole segment: any number of directories, also none (`**/x`, `a/**/b`;
//!   `dir/**` = `dir` and everything below it); elsewhere (`a**b`) it is a plain `*`;
//! - a pattern without a `/` (a trailing one aside) matches the name at any depth,
//!   like `.gitignore` (`*.pem`, `node_modules`, `Dockerfile`);
//! - a leading `/` or `./` anchors it at the workspace root (`/target`, `./Dockerfile`);
//!   a trailing `/` is ignored;
//! - [`Glob::is_match_or_parent`] also matches when a parent directory matches, for
//!   exclusion lists ("a pattern that matches a directory excludes everything below
//!   it").
//!
//! Refused, with the reason: an empty pattern, a `..` segment (paths are normalised;
//! it could never match), an unclosed `[` or `{`, a dangling `\`.
//!
//! Why `globset`: it compiles a glob to a regular expression run by `regex-automata`,
//! whose matching time is linear in the path, whatever the pattern. The four
//! hand-written matchers it replaced recursed on every `*`, which is exponential on
//! patterns like `*a*a*a*a*b` — a plugin config is input a pipeline author (or an
//! attacker who writes part of it) controls. Case-sensitive, as paths are.
//!
//! Tests: the `tests` module at the bottom of this file.

use std::fmt;

/// A compiled path glob (see the module docs for the dialect).
#[derive(Clone)]
pub struct Glob {
    pattern: String,
    matcher: globset::GlobMatcher,
    /// For `dir/**`: `dir` itself, so a walker can leave the whole directory out.
    dir: Option<globset::GlobMatcher>,
}

impl fmt::Debug for Glob {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Glob").field(&self.pattern).finish()
    }
}

/// Why a pattern is not a glob of this dialect.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GlobError {
    pub pattern: String,
    pub reason: String,
}

impl fmt::Display for GlobError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "glob `{}`: {}", self.pattern, self.reason)
    }
}

impl std::error::Error for GlobError {}

impl Glob {
    /// Compiles `pattern`.
    pub fn new(pattern: &str) -> Result<Glob, GlobError> {
        let err = |reason: &str| GlobError {
            pattern: pattern.to_string(),
            reason: reason.to_string(),
        };
        let p = pattern.trim();
        let (anchored, body) = match p.strip_prefix("./") {
            Some(rest) => (true, rest),
            None => match p.strip_prefix('/') {
                Some(rest) => (true, rest),
                None => (false, p),
            },
        };
        let body = body.strip_suffix('/').unwrap_or(body);
        if body.is_empty() {
            return Err(err("empty pattern"));
        }
        if body.split('/').any(|s| s == "..") {
            return Err(err(
                "`..` cannot match a workspace-relative path; name the path from the workspace root",
            ));
        }
        let full = if anchored || body.contains('/') || body.starts_with("**") {
            body.to_string()
        } else {
            format!("**/{body}")
        };
        let compile = |text: &str| {
            globset::GlobBuilder::new(text)
                .literal_separator(true)
                .backslash_escape(true)
                .build()
                .map(|g| g.compile_matcher())
                .map_err(|e| err(&e.kind().to_string()))
        };
        let matcher = compile(&full)?;
        let dir = match full.strip_suffix("/**") {
            Some(prefix) if !prefix.is_empty() => Some(compile(prefix)?),
            _ => None,
        };
        Ok(Glob {
            pattern: p.to_string(),
            matcher,
            dir,
        })
    }

    fn matches(&self, path: &str) -> bool {
        self.matcher.is_match(path) || self.dir.as_ref().is_some_and(|d| d.is_match(path))
    }

    /// The pattern as written (trimmed).
    pub fn as_str(&self) -> &str {
        &self.pattern
    }

    /// Whether workspace-relative `path` matches.
    pub fn is_match(&self, path: &str) -> bool {
        self.matches(path.strip_prefix("./").unwrap_or(path))
    }

    /// Whether `path` or one of its parent directories matches.
    pub fn is_match_or_parent(&self, path: &str) -> bool {
        let path = path.strip_prefix("./").unwrap_or(path);
        let mut end = path.len();
        loop {
            let p = &path[..end];
            if self.matches(p) {
                return true;
            }
            match p.rfind('/') {
                Some(i) => end = i,
                None => return false,
            }
        }
    }
}

/// Whether `text` uses glob syntax (otherwise it is a plain path).
pub fn is_glob(text: &str) -> bool {
    text.contains(['*', '?', '[', '{'])
}

/// Whether any of `globs` matches `path` or one of its parent directories.
pub fn any_match_or_parent(globs: &[Glob], path: &str) -> bool {
    globs.iter().any(|g| g.is_match_or_parent(path))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(p: &str, path: &str) -> bool {
        Glob::new(p).expect("valid glob").is_match(path)
    }

    #[test]
    fn star_and_question_mark_stay_in_one_segment() {
        assert!(m("src/*.rs", "src/main.rs"));
        assert!(!m("src/*.rs", "src/a/main.rs"));
        assert!(m("file?.txt", "file1.txt"));
        assert!(!m("a?b", "a/b"));
        assert!(m(
            "services/*/requirements*.txt",
            "services/api/requirements-dev.txt"
        ));
        assert!(!m(
            "services/*/requirements*.txt",
            "services/a/b/requirements.txt"
        ));
    }

    #[test]
    fn double_star_spans_directories_also_none() {
        assert!(m("**/Dockerfile", "Dockerfile"));
        assert!(m("**/Dockerfile", "a/b/Dockerfile"));
        assert!(!m("**/Dockerfile", "a/Dockerfile.dev"));
        assert!(m("src/**/*.rs", "src/main.rs"));
        assert!(m("src/**/*.rs", "src/a/b/main.rs"));
        assert!(m("docker/**", "docker/a/Dockerfile"));
        assert!(
            m("docker/**", "docker"),
            "the directory itself, for exclusions"
        );
        assert!(!m("docker/**", "dockerfile"));
        assert!(!m("tests/fixtures/**", "src/tests/fixtures/a.txt"));
        assert!(m("**/fixtures/**", "src/tests/fixtures/a.txt"));
    }

    #[test]
    fn names_without_slash_match_at_any_depth_and_slash_anchors() {
        assert!(m("*.pem", "deep/dir/key.pem"));
        assert!(!m("*.pem", "deep/dir/key.pem.txt"));
        assert!(m("Dockerfile", "a/b/Dockerfile"));
        assert!(m("node_modules", "tools/sarif/node_modules"));
        assert!(m("./Dockerfile", "Dockerfile"));
        assert!(m("./Dockerfile?", "Dockerfile2"));
        assert!(!m("./Dockerfile", "a/Dockerfile"));
        assert!(m("/target", "target"));
        assert!(!m("/target", "a/target"));
        assert!(m("target/", "a/target"), "a trailing `/` is ignored");
    }

    #[test]
    fn classes_alternatives_and_escapes() {
        assert!(m("svc/[ab]*/Dockerfile", "svc/api/Dockerfile"));
        assert!(!m("svc/[!ab]*/Dockerfile", "svc/api/Dockerfile"));
        assert!(m("LICENSE-[A-Z][A-Z][A-Z]", "LICENSE-MIT"));
        assert!(m("*.{pem,key}", "a/b.key"));
        assert!(m(r"\*.txt", "*.txt"));
        assert!(!m(r"\*.txt", "a.txt"));
    }

    #[test]
    fn a_matching_parent_directory_matches() {
        let g = Glob::new("tests/fixtures").expect("glob");
        assert!(g.is_match_or_parent("tests/fixtures/a/b.txt"));
        assert!(!g.is_match("tests/fixtures/a/b.txt"));
        assert!(!g.is_match_or_parent("tests/fixtures2/a"));
        let list = [
            Glob::new("*.pem").expect("glob"),
            Glob::new("/docs").expect("glob"),
        ];
        assert!(any_match_or_parent(&list, "docs/x.md"));
        assert!(!any_match_or_parent(&list, "a/docs/x.md"));
    }

    #[test]
    fn bad_patterns_are_refused_with_the_reason() {
        for (p, why) in [
            ("", "empty"),
            ("  ", "empty"),
            ("/", "empty"),
            ("../x", "`..`"),
            ("a/../b", "`..`"),
            ("a[b", "unclosed"),
            ("{a,b", "unclosed"),
            ("a\\", "dangling"),
        ] {
            let e = Glob::new(p).expect_err(p);
            assert!(e.to_string().contains(why), "{p}: {e}");
        }
        assert!(is_glob("a/*.txt") && is_glob("x[ab]") && !is_glob("Cargo.lock"));
    }

    #[test]
    fn pathological_patterns_are_answered_by_an_automaton() {
        // The matchers this module replaced recursed on every `*`: this pattern against
        // 60 `a`s explores about C(85, 25) ≈ 10^22 splits and never finishes. Compiled
        // to a regex automaton it is one linear pass. No clock here: the guarantee
        // comes from the construction (globset → regex-automata), and the answer must
        // be right.
        let pattern = format!("{}b", "*a".repeat(25));
        let g = Glob::new(&pattern).expect("valid glob");
        let path = "a".repeat(60);
        assert!(!g.is_match(&path));
        assert!(g.is_match(&format!("{path}b")));
        let deep = format!("{}x", "**/".repeat(40));
        let g = Glob::new(&deep).expect("valid glob");
        assert!(!g.is_match(&"d/".repeat(200)));
        assert!(g.is_match(&format!("{}x", "d/".repeat(200))));
    }
}
