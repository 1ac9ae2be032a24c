//! Path globs: the one dialect every official plugin uses for its path options
//! (dep-audit `paths`, license-check `files.exclude` / `files.require-header`,
//! dockerfile-lint `paths`, secret-scan `allow-paths`), matched by a small automaton.
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
//! How it matches: a pattern is compiled to a list of tokens, and a path is matched by
//! simulating all positions in that list at once (a Thompson-style NFA), so the time
//! is linear in the path for any pattern — `*a*a*a*a*b` costs what `*b` costs. The
//! four hand-written matchers this replaced recursed on every `*`, which is
//! exponential on such patterns, and a plugin config is input a pipeline author (or
//! an attacker who writes part of it) controls. `{a,b}` alternatives are expanded
//! (at most [`MAX_ALTERNATIVES`] patterns). Not `globset`: it compiles globs to
//! `regex`, whose engine roughly doubled the size of three plugins (issue 15 asks
//! plugins to stay within 10%). Case-sensitive, as paths are.
//!
//! Tests: the `tests` module at the bottom of this file.

use std::fmt;

/// Most patterns one glob expands to through `{a,b}` alternatives.
pub const MAX_ALTERNATIVES: usize = 256;

/// One element of a compiled pattern.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Tok {
    /// This character.
    Lit(char),
    /// `?`: one character but `/`.
    One,
    /// `*`: any characters but `/`, also none.
    Star,
    /// `**/` (a whole segment followed by `/`): nothing, or anything ending in `/`.
    Dirs,
    /// `**` at the end: anything, also nothing.
    Rest,
    /// `[...]`: one character (never `/`) in (or, negated, not in) the ranges.
    Class {
        negated: bool,
        ranges: Vec<(char, char)>,
    },
}

/// A pattern without alternatives, compiled.
#[derive(Clone, Debug)]
struct Pattern(Vec<Tok>);

impl Pattern {
    /// Simulates every position of the pattern at once: linear in `path`.
    ///
    /// `at[i]`: the pattern is at token `i`. For a `**/` token there is a second
    /// state, `inside[i]`: part of a directory name has been read, so it may only be
    /// left after the next `/` (it matches nothing, or anything *ending* in `/`).
    fn is_match(&self, path: &str) -> bool {
        let toks = &self.0;
        let n = toks.len();
        let (mut at, mut inside) = (vec![false; n + 1], vec![false; n + 1]);
        let (mut at2, mut inside2) = (vec![false; n + 1], vec![false; n + 1]);
        at[0] = true;
        close(toks, &mut at);
        for c in path.chars() {
            at2.iter_mut().for_each(|x| *x = false);
            inside2.iter_mut().for_each(|x| *x = false);
            for i in 0..n {
                if inside[i] {
                    // Only `**/` tokens are ever inside.
                    if c == '/' {
                        at2[i] = true;
                    } else {
                        inside2[i] = true;
                    }
                }
                if !at[i] {
                    continue;
                }
                match &toks[i] {
                    Tok::Lit(l) if *l == c => at2[i + 1] = true,
                    Tok::One if c != '/' => at2[i + 1] = true,
                    Tok::Star if c != '/' => at2[i] = true,
                    Tok::Dirs if c == '/' => at2[i] = true,
                    Tok::Dirs => inside2[i] = true,
                    Tok::Rest => at2[i] = true,
                    Tok::Class { negated, ranges } if c != '/' => {
                        let hit = ranges.iter().any(|(a, b)| *a <= c && c <= *b);
                        if hit != *negated {
                            at2[i + 1] = true;
                        }
                    }
                    _ => {}
                }
            }
            close(toks, &mut at2);
            std::mem::swap(&mut at, &mut at2);
            std::mem::swap(&mut inside, &mut inside2);
            if !at.iter().chain(inside.iter()).any(|x| *x) {
                return false;
            }
        }
        at[n]
    }
}

/// Adds the positions reachable without reading a character (`*`, `**/` and `**`
/// may match nothing; `**/` only at a directory boundary, which is where `at` holds
/// it).
fn close(toks: &[Tok], set: &mut [bool]) {
    for i in 0..toks.len() {
        if set[i] && matches!(toks[i], Tok::Star | Tok::Dirs | Tok::Rest) {
            set[i + 1] = true;
        }
    }
}

/// Expands `{a,b}` alternatives (nested too) into plain patterns.
fn expand(p: &str) -> Result<Vec<String>, &'static str> {
    let chars: Vec<char> = p.chars().collect();
    // Find the first top-level `{` outside a class, not escaped.
    let mut i = 0;
    let mut in_class = false;
    while i < chars.len() {
        match chars[i] {
            '\\' => i += 1,
            '[' if !in_class => in_class = true,
            ']' if in_class => in_class = false,
            '{' if !in_class => break,
            _ => {}
        }
        i += 1;
    }
    if i >= chars.len() {
        return Ok(vec![p.to_string()]);
    }
    // Its matching `}` and the top-level commas between.
    let (mut depth, mut j, mut commas) = (0usize, i, Vec::new());
    while j < chars.len() {
        match chars[j] {
            '\\' => j += 1,
            '{' => depth += 1,
            '}' => {
                depth -= 1;
                if depth == 0 {
                    break;
                }
            }
            ',' if depth == 1 => commas.push(j),
            _ => {}
        }
        j += 1;
    }
    if j >= chars.len() {
        return Err("unclosed `{`");
    }
    let head: String = chars[..i].iter().collect();
    let tail: String = chars[j + 1..].iter().collect();
    let mut bounds = vec![i];
    bounds.extend(commas);
    bounds.push(j);
    let mut out = Vec::new();
    for w in bounds.windows(2) {
        let alt: String = chars[w[0] + 1..w[1]].iter().collect();
        for rest in expand(&format!("{alt}{tail}"))? {
            out.push(format!("{head}{rest}"));
            if out.len() > MAX_ALTERNATIVES {
                return Err("too many `{a,b}` alternatives");
            }
        }
    }
    Ok(out)
}

/// Compiles a pattern without alternatives.
fn compile(p: &str) -> Result<Pattern, &'static str> {
    let chars: Vec<char> = p.chars().collect();
    let mut toks = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        match c {
            '\\' => {
                let Some(&next) = chars.get(i + 1) else {
                    return Err("dangling `\\` at the end");
                };
                toks.push(Tok::Lit(next));
                i += 2;
                continue;
            }
            '*' if chars.get(i + 1) == Some(&'*') => {
                let at_start = i == 0 || chars[i - 1] == '/';
                let end = i + 2;
                if at_start && chars.get(end) == Some(&'/') {
                    toks.push(Tok::Dirs);
                    i = end + 1;
                    continue;
                }
                if at_start && end == chars.len() {
                    toks.push(Tok::Rest);
                    i = end;
                    continue;
                }
                // `a**b`: a plain `*`.
                toks.push(Tok::Star);
                i = end;
                while chars.get(i) == Some(&'*') {
                    i += 1;
                }
                continue;
            }
            '*' => toks.push(Tok::Star),
            '?' => toks.push(Tok::One),
            '[' => {
                let mut j = i + 1;
                let negated = matches!(chars.get(j), Some('!' | '^'));
                if negated {
                    j += 1;
                }
                let mut ranges = Vec::new();
                let mut first = true;
                loop {
                    let Some(&a) = chars.get(j) else {
                        return Err("unclosed `[`");
                    };
                    if a == ']' && !first {
                        break;
                    }
                    first = false;
                    let a = if a == '\\' {
                        j += 1;
                        *chars.get(j).ok_or("unclosed `[`")?
                    } else {
                        a
                    };
                    if chars.get(j + 1) == Some(&'-') && chars.get(j + 2).is_some_and(|b| *b != ']')
                    {
                        let b = chars[j + 2];
                        ranges.push((a.min(b), a.max(b)));
                        j += 3;
                    } else {
                        ranges.push((a, a));
                        j += 1;
                    }
                }
                toks.push(Tok::Class { negated, ranges });
                i = j + 1;
                continue;
            }
            c => toks.push(Tok::Lit(c)),
        }
        i += 1;
    }
    Ok(Pattern(toks))
}

/// A compiled path glob (see the module docs for the dialect).
#[derive(Clone)]
pub struct Glob {
    pattern: String,
    /// One per `{a,b}` alternative.
    patterns: Vec<Pattern>,
    /// For `dir/**`: `dir` itself, so a walker can leave the whole directory out.
    dirs: Vec<Pattern>,
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
        let mut patterns = Vec::new();
        let mut dirs = Vec::new();
        for alt in expand(&full).map_err(err)? {
            patterns.push(compile(&alt).map_err(err)?);
            if let Some(prefix) = alt.strip_suffix("/**")
                && !prefix.is_empty()
            {
                dirs.push(compile(prefix).map_err(err)?);
            }
        }
        Ok(Glob {
            pattern: p.to_string(),
            patterns,
            dirs,
        })
    }

    fn matches(&self, path: &str) -> bool {
        self.patterns
            .iter()
            .chain(&self.dirs)
            .any(|p| p.is_match(path))
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
        // comes from the construction (every position simulated at once), and the answer must
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

    /// The automaton agrees with a direct recursive reading of the dialect on every
    /// small pattern and path (the reference is exponential, fine at this size).
    #[test]
    fn automaton_agrees_with_a_reference_matcher() {
        fn reference(p: &[Tok], t: &[char]) -> bool {
            match p.split_first() {
                None => t.is_empty(),
                Some((tok, rest)) => match tok {
                    Tok::Lit(c) => t.first() == Some(c) && reference(rest, &t[1..]),
                    Tok::One => t.first().is_some_and(|c| *c != '/') && reference(rest, &t[1..]),
                    Tok::Class { negated, ranges } => {
                        t.first().is_some_and(|c| {
                            *c != '/' && ranges.iter().any(|(a, b)| a <= c && c <= b) != *negated
                        }) && reference(rest, &t[1..])
                    }
                    Tok::Star => (0..=t.len())
                        .take_while(|k| t[..*k].iter().all(|c| *c != '/'))
                        .any(|k| reference(rest, &t[k..])),
                    Tok::Dirs => (0..=t.len())
                        .filter(|k| *k == 0 || t[k - 1] == '/')
                        .any(|k| reference(rest, &t[k..])),
                    Tok::Rest => (0..=t.len()).any(|k| reference(rest, &t[k..])),
                },
            }
        }
        let pieces = ["a", "b", "/", "*", "?", "**/", "[ab]", "[!a]"];
        let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut rand = |n: usize| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            (seed % n as u64) as usize
        };
        for _ in 0..3000 {
            let pattern: String = (0..1 + rand(5))
                .map(|_| pieces[rand(pieces.len())])
                .collect();
            let Ok(compiled) = compile(&pattern) else {
                continue;
            };
            for _ in 0..8 {
                let path: String = (0..rand(7)).map(|_| ["a", "b", "/"][rand(3)]).collect();
                let chars: Vec<char> = path.chars().collect();
                assert_eq!(
                    compiled.is_match(&path),
                    reference(&compiled.0, &chars),
                    "pattern {pattern:?} path {path:?}"
                );
            }
        }
    }
}
