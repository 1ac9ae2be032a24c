//! `allow-paths` globs, translated to anchored regexes.
//!
//! Matched against workspace-relative, `/`-separated paths (no leading `./`):
//! - `*` any characters but `/`; `?` one character but `/`; `[abc]`, `[!a-z]` classes;
//!   `{a,b}` alternatives; `\x` a literal `x`;
//! - `**` any number of directories (`a/**/b`, `**/x`, `dir/**`);
//! - a pattern without a `/` (other than a trailing one) matches at any depth,
//!   like `.gitignore` (`*.pem`, `testdata`);
//! - a leading `/` anchors at the workspace root; a trailing `/` is ignored;
//! - a pattern that matches a directory excludes everything below it.

use regex::Regex;

pub(crate) fn compile(glob: &str) -> Result<Regex, String> {
    let trimmed = glob.strip_suffix('/').unwrap_or(glob);
    let anchored = trimmed.contains('/');
    let body = trimmed.strip_prefix('/').unwrap_or(trimmed);
    let body = body.strip_prefix("./").unwrap_or(body);
    if body.is_empty() {
        return Err("empty pattern".into());
    }
    let mut re = String::from("^");
    if !anchored {
        re.push_str("(?:.*/)?");
    }
    let chars: Vec<char> = body.chars().collect();
    let mut i = 0;
    let mut brace_depth = 0usize;
    while i < chars.len() {
        let c = chars[i];
        match c {
            '*' if chars.get(i + 1) == Some(&'*') => {
                i += 1;
                if chars.get(i + 1) == Some(&'/') {
                    i += 1;
                    re.push_str("(?:.*/)?");
                } else {
                    re.push_str(".*");
                }
            }
            '/' if chars[i + 1..] == ['*', '*'] => {
                re.push_str("(?:/.*)?");
                break;
            }
            '*' => re.push_str("[^/]*"),
            '?' => re.push_str("[^/]"),
            '[' => {
                let close = chars[i + 1..]
                    .iter()
                    .enumerate()
                    .skip(1)
                    .find(|(_, c)| **c == ']')
                    .map(|(j, _)| i + 1 + j)
                    .ok_or_else(|| "unclosed `[`".to_string())?;
                re.push('[');
                let mut inner: String = chars[i + 1..close].iter().collect();
                if let Some(rest) = inner.strip_prefix('!') {
                    inner = format!("^{rest}");
                }
                re.push_str(&inner.replace('\\', "\\\\").replace('[', "\\["));
                re.push(']');
                i = close;
            }
            '{' => {
                brace_depth += 1;
                re.push_str("(?:");
            }
            '}' if brace_depth > 0 => {
                brace_depth -= 1;
                re.push(')');
            }
            ',' if brace_depth > 0 => re.push('|'),
            '\\' => {
                i += 1;
                let lit = chars.get(i).ok_or_else(|| "trailing `\\`".to_string())?;
                re.push_str(&regex::escape(&lit.to_string()));
            }
            c => re.push_str(&regex::escape(&c.to_string())),
        }
        i += 1;
    }
    if brace_depth > 0 {
        return Err("unclosed `{`".into());
    }
    re.push('$');
    Regex::new(&re).map_err(|e| e.to_string())
}

/// True when `path` or one of its parent directories matches one of `globs`.
pub(crate) fn matches_any(globs: &[Regex], path: &str) -> bool {
    if globs.is_empty() {
        return false;
    }
    let mut end = path.len();
    loop {
        let p = &path[..end];
        if globs.iter().any(|g| g.is_match(p)) {
            return true;
        }
        match p.rfind('/') {
            Some(i) => end = i,
            None => return false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(glob: &str, path: &str) -> bool {
        matches_any(&[compile(glob).expect("glob")], path)
    }

    #[test]
    fn globs() {
        assert!(m("tests/fixtures/**", "tests/fixtures/a/b.txt"));
        assert!(m("tests/fixtures", "tests/fixtures/a/b.txt"));
        assert!(!m("tests/fixtures/**", "src/tests/fixtures/a.txt"));
        assert!(m("**/fixtures/**", "src/tests/fixtures/a.txt"));
        assert!(m("*.pem", "deep/dir/key.pem"));
        assert!(!m("*.pem", "deep/dir/key.pem.txt"));
        assert!(m("src/*.rs", "src/main.rs"));
        assert!(!m("src/*.rs", "src/a/main.rs"));
        assert!(m("src/**/*.rs", "src/main.rs"));
        assert!(m("src/**/*.rs", "src/a/b/main.rs"));
        assert!(m("/docs", "docs/x.md"));
        assert!(!m("/docs", "a/docs/x.md"));
        assert!(m("*.{pem,key}", "a.key"));
        assert!(m("file?.txt", "file1.txt"));
        assert!(m("[!a]x", "bx"));
        assert!(!m("[!a]x", "ax"));
        assert!(compile("a[b").is_err());
        assert!(compile("{a,b").is_err());
        assert!(compile("").is_err());
    }
}
