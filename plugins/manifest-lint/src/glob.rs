//! Path globs for the `paths` option, matched segment by segment against
//! workspace-relative `/`-separated paths.
//!
//! `*` any run of characters within a segment, `?` one character, `[abc]`/`[a-z]`/
//! `[!x]` a class, `**` as a whole segment any number of directories (also none).
//! A pattern without `/` matches a file name at any depth (`*.yaml`) unless it
//! starts with `./`, which anchors it at the workspace root (`./deploy.yaml`).
//! Refused: empty patterns, absolute paths, `..`, an unclosed `[`.
//! Tests: at the bottom of this file.

#[derive(Debug, Clone)]
pub struct Glob {
    segments: Vec<String>,
}

impl Glob {
    pub fn new(pattern: &str) -> Result<Glob, String> {
        let anchored = pattern.starts_with("./");
        let p = pattern.strip_prefix("./").unwrap_or(pattern);
        if p.is_empty() {
            return Err("empty pattern".into());
        }
        if p.starts_with('/') || p.split('/').any(|s| s == "..") {
            return Err("must be relative to the workspace (no leading `/`, no `..`)".into());
        }
        let mut segments: Vec<String> = p
            .split('/')
            .filter(|s| !s.is_empty())
            .map(str::to_string)
            .collect();
        for s in &segments {
            check_classes(s)?;
        }
        if segments.len() == 1 && segments[0] != "**" && !anchored {
            segments.insert(0, "**".into());
        }
        Ok(Glob { segments })
    }

    pub fn matches(&self, path: &str) -> bool {
        let parts: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
        match_segments(&self.segments, &parts)
    }
}

fn check_classes(seg: &str) -> Result<(), String> {
    let mut open = false;
    for c in seg.chars() {
        match c {
            '[' if !open => open = true,
            ']' if open => open = false,
            _ => {}
        }
    }
    if open {
        Err(format!("unclosed `[` in `{seg}`"))
    } else {
        Ok(())
    }
}

fn match_segments(pat: &[String], path: &[&str]) -> bool {
    match pat.split_first() {
        None => path.is_empty(),
        Some((first, rest)) if first == "**" => {
            (0..=path.len()).any(|k| match_segments(rest, &path[k..]))
        }
        Some((first, rest)) => {
            !path.is_empty()
                && match_segment(
                    &first.chars().collect::<Vec<_>>(),
                    &path[0].chars().collect::<Vec<_>>(),
                )
                && match_segments(rest, &path[1..])
        }
    }
}

fn match_segment(p: &[char], s: &[char]) -> bool {
    match p.first() {
        None => s.is_empty(),
        Some('*') => (0..=s.len()).any(|k| match_segment(&p[1..], &s[k..])),
        Some('?') => !s.is_empty() && match_segment(&p[1..], &s[1..]),
        Some('[') => {
            let Some(close) = p.iter().skip(1).position(|c| *c == ']').map(|k| k + 1) else {
                return false;
            };
            let Some(&c) = s.first() else { return false };
            let mut class = &p[1..close];
            let negate = class.first() == Some(&'!');
            if negate {
                class = &class[1..];
            }
            let mut hit = false;
            let mut k = 0;
            while k < class.len() {
                if k + 2 < class.len() && class[k + 1] == '-' {
                    hit |= class[k] <= c && c <= class[k + 2];
                    k += 3;
                } else {
                    hit |= class[k] == c;
                    k += 1;
                }
            }
            hit != negate && match_segment(&p[close + 1..], &s[1..])
        }
        Some(&lit) => s.first() == Some(&lit) && match_segment(&p[1..], &s[1..]),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(p: &str, path: &str) -> bool {
        Glob::new(p).expect("valid").matches(path)
    }

    #[test]
    fn globs() {
        assert!(m("**/Dockerfile", "Dockerfile"));
        assert!(m("**/Dockerfile", "a/b/Dockerfile"));
        assert!(!m("**/Dockerfile", "a/Dockerfile.dev"));
        assert!(m("**/Dockerfile.*", "a/Dockerfile.dev"));
        assert!(m("*.Dockerfile", "deep/x/api.Dockerfile"));
        assert!(m("docker/*", "docker/Dockerfile"));
        assert!(!m("docker/*", "docker/a/Dockerfile"));
        assert!(m("docker/**", "docker/a/Dockerfile"));
        assert!(m("svc/[ab]*/Dockerfile", "svc/api/Dockerfile"));
        assert!(!m("svc/[!ab]*/Dockerfile", "svc/api/Dockerfile"));
        assert!(m("./Dockerfile?", "Dockerfile2"));
        assert!(m("Dockerfile", "a/b/Dockerfile"));
        assert!(m("./Dockerfile", "Dockerfile"));
        assert!(!m("./Dockerfile", "a/Dockerfile"));
        assert!(Glob::new("").is_err());
        assert!(Glob::new("/etc/x").is_err());
        assert!(Glob::new("../x").is_err());
        assert!(Glob::new("a[b").is_err());
    }
}
