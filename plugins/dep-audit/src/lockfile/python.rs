//! Python: `requirements*.txt`, `poetry.lock`, `uv.lock`, `Pipfile.lock`.
//!
//! requirements files follow pip's line format: `\` continuations are joined, a `#`
//! at the start or after whitespace starts a comment, `--hash=…` options and
//! `; markers` are accepted and ignored (the audit is not platform-specific, so a
//! package pinned for another Python is still reported). A requirement is audited
//! only when pinned to one version (`name[extras]==1.2.3` or `===1.2.3`); ranges,
//! wildcards (`==1.*`), bare names, URLs, paths and `-e` installs become notes
//! ("cannot audit unpinned"). `-r`/`-c` includes are not followed: list the included
//! files in `paths` (or let discovery find them). Other `-`/`--` option lines are
//! skipped.
//!
//! Lockfiles: every package with a version; uv's editable/virtual/path/directory
//! sources (the project itself) are skipped, as are Pipfile.lock entries without
//! `version` (VCS/path), which become notes.
//!
//! Tests: the `tests` module at the bottom of this file.

use serde::Deserialize;
use toml::Spanned;

use super::{Note, Package, Parsed, jsonpos};
use crate::advisory::{Ecosystem, line_of};

fn pkg(name: &str, version: &str, line: Option<u32>) -> Package {
    Package {
        ecosystem: Ecosystem::PyPI,
        name: name.to_string(),
        version: version.to_string(),
        line,
    }
}

/// Removes a comment: `#` at the start or preceded by whitespace.
fn strip_comment(line: &str) -> &str {
    let b = line.as_bytes();
    for (i, &c) in b.iter().enumerate() {
        if c == b'#' && (i == 0 || b[i - 1].is_ascii_whitespace()) {
            return &line[..i];
        }
    }
    line
}

/// Logical lines: (first physical line, text) with continuations joined.
fn logical_lines(text: &str) -> Vec<(u32, String)> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut start = 0u32;
    for (i, raw) in text.lines().enumerate() {
        let line = strip_comment(raw);
        if cur.is_empty() {
            start = i as u32 + 1;
        }
        match line.trim_end().strip_suffix('\\') {
            Some(body) => {
                cur.push_str(body);
                cur.push(' ');
            }
            None => {
                cur.push_str(line);
                out.push((start, std::mem::take(&mut cur)));
            }
        }
    }
    if !cur.trim().is_empty() {
        out.push((start, cur));
    }
    out
}

fn is_name_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.')
}

pub fn parse_requirements(text: &str) -> Parsed {
    let mut out = Parsed::default();
    for (line, raw) in logical_lines(text) {
        let req = raw.trim();
        if req.is_empty() {
            continue;
        }
        let note = |reason: &str| Note {
            line,
            requirement: req.to_string(),
            reason: reason.to_string(),
        };
        if req.starts_with("-e") || req.starts_with("--editable") {
            out.notes.push(note(
                "editable install: cannot audit a local or VCS checkout",
            ));
            continue;
        }
        if req.starts_with('-') {
            continue; // -r, -c, --index-url, --hash on its own line, …
        }
        // Drop per-requirement options (`--hash=…`) and environment markers.
        let spec = req.split(" --").next().unwrap_or(req);
        let spec = spec.split(';').next().unwrap_or(spec).trim();
        let name_end = spec.find(|c: char| !is_name_char(c)).unwrap_or(spec.len());
        let name = &spec[..name_end];
        if name.is_empty()
            || !spec.starts_with(|c: char| c.is_ascii_alphanumeric())
            || spec.contains("://") && !spec.contains('@')
        {
            out.notes
                .push(note("not a named requirement (URL or path): cannot audit"));
            continue;
        }
        let mut rest = spec[name_end..].trim_start();
        if rest.starts_with('[') {
            match rest.find(']') {
                Some(end) => rest = rest[end + 1..].trim_start(),
                None => {
                    out.notes.push(note("unclosed `[extras]`: cannot audit"));
                    continue;
                }
            }
        }
        if rest.starts_with('@') {
            out.notes.push(note("direct URL reference: cannot audit"));
            continue;
        }
        if rest.starts_with('(') {
            rest = rest.trim_start_matches('(').trim_end_matches(')');
        }
        let specs: Vec<&str> = rest
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .collect();
        let pinned = match specs.as_slice() {
            [one] => one
                .strip_prefix("===")
                .or_else(|| one.strip_prefix("=="))
                .map(str::trim)
                .filter(|v| !v.is_empty() && !v.contains('*')),
            _ => None,
        };
        match pinned {
            Some(v) => out.packages.push(pkg(name, v, Some(line))),
            None if specs.is_empty() => out.notes.push(note("no version: cannot audit unpinned")),
            None => out
                .notes
                .push(note("not pinned with `==`: cannot audit unpinned")),
        }
    }
    out
}

#[derive(Deserialize)]
struct TomlLock {
    #[serde(default)]
    package: Vec<Spanned<TomlPkg>>,
}

#[derive(Deserialize)]
struct TomlPkg {
    name: String,
    version: Option<String>,
    source: Option<toml::Value>,
}

fn parse_toml_lock(text: &str, what: &str) -> Result<Vec<(u32, TomlPkg)>, String> {
    let lock: TomlLock = toml::from_str(text).map_err(|e| {
        let at = e.span().map_or(0, |s| s.start);
        format!(
            "line {}: invalid {what}: {}",
            line_of(text, at),
            e.message()
        )
    })?;
    Ok(lock
        .package
        .into_iter()
        .map(|p| (line_of(text, p.span().start), p.into_inner()))
        .collect())
}

pub fn parse_poetry(text: &str) -> Result<Parsed, String> {
    let mut out = Parsed::default();
    for (line, p) in parse_toml_lock(text, "poetry.lock")? {
        // poetry's `source.type = "directory"` is a local project, not a PyPI release.
        let local = p
            .source
            .as_ref()
            .and_then(|s| s.get("type"))
            .and_then(toml::Value::as_str)
            .is_some_and(|t| matches!(t, "directory" | "file"));
        if let (Some(v), false) = (p.version, local) {
            out.packages.push(pkg(&p.name, &v, Some(line)));
        }
    }
    Ok(out)
}

pub fn parse_uv(text: &str) -> Result<Parsed, String> {
    let mut out = Parsed::default();
    for (line, p) in parse_toml_lock(text, "uv.lock")? {
        let local = p.source.as_ref().is_some_and(|s| {
            ["editable", "virtual", "path", "directory"]
                .iter()
                .any(|k| s.get(k).is_some())
        });
        if let (Some(v), false) = (p.version, local) {
            out.packages.push(pkg(&p.name, &v, Some(line)));
        }
    }
    Ok(out)
}

pub fn parse_pipfile(text: &str) -> Result<Parsed, String> {
    let doc: serde_json::Value = serde_json::from_str(text).map_err(|e| {
        format!(
            "line {} column {}: invalid Pipfile.lock: {e}",
            e.line(),
            e.column()
        )
    })?;
    let lines = jsonpos::key_lines(text);
    let mut out = Parsed::default();
    for section in ["default", "develop"] {
        let Some(map) = doc.get(section).and_then(|s| s.as_object()) else {
            continue;
        };
        for (name, entry) in map {
            let line = lines.get(&[section, name]);
            match entry.get("version").and_then(|v| v.as_str()) {
                Some(v) if v.starts_with("==") => {
                    let v = v.trim_start_matches('=').trim();
                    out.packages.push(pkg(name, v, line));
                }
                _ => out.notes.push(Note {
                    line: line.unwrap_or(1),
                    requirement: name.clone(),
                    reason: format!(
                        "[{section}] entry without a `==` version (VCS, path or file): cannot audit"
                    ),
                }),
            }
        }
    }
    // serde_json's map is sorted by key; report in file order.
    out.packages.sort_by_key(|p| p.line);
    out.notes.sort_by_key(|n| n.line);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(p: &Parsed) -> Vec<(String, String, Option<u32>)> {
        p.packages
            .iter()
            .map(|x| (x.name.clone(), x.version.clone(), x.line))
            .collect()
    }

    #[test]
    fn requirements_pins_hashes_markers_comments_continuations() {
        let text = "\
# top comment
-r base.txt
--index-url https://pypi.example/simple
Django==1.11.0  # pinned
requests[security,socks] == 2.19.1 ; python_version >= \"3.6\"
jinja2==2.10 \\
    --hash=sha256:aaaa \\
    --hash=sha256:bbbb
urllib3===1.24.1
flask>=1.0
numpy
pyyaml==5.*
-e git+https://example.invalid/x.git#egg=x
pkg @ https://example.invalid/pkg-1.0.tar.gz
./local/dir
url#frag==1.0
";
        let p = parse_requirements(text);
        assert_eq!(
            names(&p),
            vec![
                ("Django".into(), "1.11.0".into(), Some(4)),
                ("requests".into(), "2.19.1".into(), Some(5)),
                ("jinja2".into(), "2.10".into(), Some(6)),
                ("urllib3".into(), "1.24.1".into(), Some(9)),
            ]
        );
        let notes: Vec<(u32, &str)> = p
            .notes
            .iter()
            .map(|n| (n.line, n.requirement.as_str()))
            .collect();
        assert_eq!(
            notes,
            vec![
                (10, "flask>=1.0"),
                (11, "numpy"),
                (12, "pyyaml==5.*"),
                (13, "-e git+https://example.invalid/x.git#egg=x"),
                (14, "pkg @ https://example.invalid/pkg-1.0.tar.gz"),
                (15, "./local/dir"),
                (16, "url#frag==1.0"),
            ]
        );
        assert!(p.notes[0].reason.contains("cannot audit unpinned"));
    }

    #[test]
    fn poetry_and_uv_locks() {
        let poetry = "[[package]]\nname = \"Jinja2\"\nversion = \"2.10\"\n\n[[package]]\nname = \"mylib\"\nversion = \"0.1.0\"\n[package.source]\ntype = \"directory\"\nurl = \"../mylib\"\n";
        let p = parse_poetry(poetry).expect("poetry");
        assert_eq!(names(&p), vec![("Jinja2".into(), "2.10".into(), Some(1))]);
        let uv = "version = 1\n\n[[package]]\nname = \"app\"\nversion = \"0.1.0\"\nsource = { editable = \".\" }\n\n[[package]]\nname = \"urllib3\"\nversion = \"1.26.4\"\nsource = { registry = \"https://pypi.org/simple\" }\n";
        let p = parse_uv(uv).expect("uv");
        assert_eq!(
            names(&p),
            vec![("urllib3".into(), "1.26.4".into(), Some(8))]
        );
        assert!(
            parse_uv("[[package]]\nname = 3\n")
                .expect_err("must be refused")
                .contains("line")
        );
    }

    #[test]
    fn pipfile_lock_sections_and_vcs_entries() {
        let text = "{\n  \"_meta\": {},\n  \"default\": {\n    \"requests\": {\n      \"version\": \"==2.19.1\"\n    },\n    \"mine\": {\n      \"git\": \"https://example.invalid/m.git\"\n    }\n  },\n  \"develop\": {\n    \"pytest\": {\"version\": \"==3.0.0\"}\n  }\n}\n";
        let p = parse_pipfile(text).expect("pipfile");
        assert_eq!(
            names(&p),
            vec![
                ("requests".into(), "2.19.1".into(), Some(4)),
                ("pytest".into(), "3.0.0".into(), Some(12)),
            ]
        );
        assert_eq!(p.notes.len(), 1);
        assert_eq!(p.notes[0].line, 7);
        assert!(
            parse_pipfile("{\n\"default\": [}")
                .expect_err("must be refused")
                .contains("line 2")
        );
    }
}
