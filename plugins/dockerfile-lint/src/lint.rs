//! The linter: configuration, finding Dockerfiles in a tree, suppressions, findings
//! with stable fingerprints.
//!
//! Files: by default every `Dockerfile`, `*.Dockerfile` and `Dockerfile.*` (not
//! `*.dockerignore`) under the root; `paths` replaces that with globs and `exclude`
//! leaves files and whole directories out. Directories
//! named `target`, `.git` and `node_modules` are never entered and symlinks are never
//! followed (nothing outside the granted tree is read). Files over 1 MiB are skipped
//! and listed.
//!
//! Suppressions, as in hadolint: `# hadolint ignore=DL3008,DL3009` on the line right
//! before an instruction; `# hadolint global ignore=DL3003` anywhere in the file; the
//! config's `ignore` list. A file that does not parse gives one `DL1000` finding at the
//! line and column of the problem.
//!
//! Fingerprints: first 32 hex digits of `sha256(rule NUL path NUL instruction NUL
//! detail NUL n)`, where `instruction` is its normalised text and `n` counts identical
//! earlier findings in the file: stable when lines move, distinct for repeated
//! instructions. Tests: `src/lint.rs` (bottom) and `src/rules/tests.rs`.

use std::collections::{HashMap, HashSet};
use std::path::Path;

use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::parser;
use crate::rules::{self, Analysis, Options, Severity};
use gantry_sdk::glob::Glob;

/// Largest Dockerfile read (bytes).
pub const MAX_FILE_SIZE: u64 = 1024 * 1024;

const SKIP_DIRS: &[&str] = &["target", ".git", "node_modules"];

/// Stage configuration (`with = { … }` in pipeline.toml).
#[derive(Debug, Clone, Default, serde::Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct Config {
    /// Globs of Dockerfiles to lint, relative to the workspace, in gantry's glob
    /// dialect (`gantry_sdk::glob`: `*` within a path segment, `**` across
    /// directories, a name without `/` at any depth, `./` anchors). Default:
    /// `Dockerfile`, `*.Dockerfile` and `Dockerfile.*` at any depth.
    #[serde(default)]
    pub paths: Vec<String>,
    /// Globs of files and directories never linted or entered (same syntax as
    /// `paths`), e.g. `tests/fixtures/**`.
    #[serde(default)]
    pub exclude: Vec<String>,
    /// Rule ids never reported (`DL3008`). hadolint's `SC…` ids are accepted and have
    /// no effect (ShellCheck rules are not run).
    #[serde(default)]
    pub ignore: Vec<String>,
    /// DL3026: registries `FROM` may pull from (`docker.io`, `ghcr.io`,
    /// `*.example.com`). Empty: the rule is off.
    #[serde(default)]
    pub trusted_registries: Vec<String>,
}

/// One problem in one file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Finding {
    pub rule_id: String,
    pub severity: Severity,
    /// Workspace-relative, `/`-separated.
    pub path: String,
    pub line: u32,
    pub column: u32,
    pub end_line: u32,
    pub end_column: u32,
    pub message: String,
    pub fingerprint: String,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct LintOutput {
    pub findings: Vec<Finding>,
    /// Files linted.
    pub files: Vec<String>,
    /// (path, reason) of files not linted.
    pub skipped: Vec<(String, String)>,
    /// Findings dropped by ignore comments and the `ignore` list.
    pub suppressed: u64,
}

/// A configured linter.
pub struct Linter {
    globs: Vec<Glob>,
    exclude: Vec<Glob>,
    ignore: HashSet<String>,
    options: Options,
}

impl Linter {
    pub fn new(config: &Config) -> Result<Linter, String> {
        let patterns: Vec<String> = if config.paths.is_empty() {
            vec![
                "**/Dockerfile".into(),
                "**/*.Dockerfile".into(),
                "**/Dockerfile.*".into(),
            ]
        } else {
            config.paths.clone()
        };
        let globs = patterns
            .iter()
            .enumerate()
            .map(|(i, p)| Glob::new(p).map_err(|e| format!("paths[{i}]: invalid glob `{p}`: {e}")))
            .collect::<Result<Vec<_>, _>>()?;
        let exclude = config
            .exclude
            .iter()
            .enumerate()
            .map(|(i, p)| {
                Glob::new(p).map_err(|e| format!("exclude[{i}]: invalid glob `{p}`: {e}"))
            })
            .collect::<Result<Vec<_>, _>>()?;
        let mut ignore = HashSet::new();
        for (i, id) in config.ignore.iter().enumerate() {
            let shellcheck =
                id.len() > 2 && id.starts_with("SC") && id[2..].chars().all(|c| c.is_ascii_digit());
            if rules::meta(id).is_none() && !shellcheck {
                return Err(format!(
                    "ignore[{i}]: unknown rule id `{id}` (ids look like `DL3008`; RULES.md lists them)"
                ));
            }
            ignore.insert(id.clone());
        }
        for (i, r) in config.trusted_registries.iter().enumerate() {
            if r.is_empty() || r.contains('/') || r.contains(char::is_whitespace) {
                return Err(format!(
                    "trusted-registries[{i}]: `{r}` is not a registry host (like `ghcr.io` or `*.example.com`)"
                ));
            }
        }
        Ok(Linter {
            globs,
            exclude,
            ignore,
            options: Options {
                trusted_registries: config.trusted_registries.clone(),
            },
        })
    }

    /// Lints every matching file under `root`.
    pub fn lint_tree(&self, root: &Path) -> Result<LintOutput, String> {
        let meta = std::fs::metadata(root)
            .map_err(|e| format!("cannot read the workspace `{}`: {e}", root.display()))?;
        if !meta.is_dir() {
            return Err(format!("`{}` is not a directory", root.display()));
        }
        let mut out = LintOutput::default();
        self.walk(root, "", &mut out);
        out.findings.sort_by(|a, b| {
            (&a.path, a.line, a.column, &a.rule_id).cmp(&(&b.path, b.line, b.column, &b.rule_id))
        });
        Ok(out)
    }

    fn walk(&self, root: &Path, rel: &str, out: &mut LintOutput) {
        let dir = if rel.is_empty() {
            root.to_path_buf()
        } else {
            root.join(rel)
        };
        let mut entries: Vec<(String, std::fs::FileType)> = match std::fs::read_dir(&dir) {
            Ok(rd) => rd
                .filter_map(Result::ok)
                .filter_map(|e| {
                    Some((
                        e.file_name().to_string_lossy().into_owned(),
                        e.file_type().ok()?,
                    ))
                })
                .collect(),
            Err(e) => {
                out.skipped
                    .push((display(rel), format!("unreadable directory: {e}")));
                return;
            }
        };
        entries.sort_by(|a, b| a.0.cmp(&b.0));
        for (name, ft) in entries {
            let child = if rel.is_empty() {
                name.clone()
            } else {
                format!("{rel}/{name}")
            };
            if ft.is_symlink() || self.excluded(&child) {
                continue;
            }
            if ft.is_dir() {
                if !SKIP_DIRS.contains(&name.as_str()) {
                    self.walk(root, &child, out);
                }
                continue;
            }
            if !ft.is_file()
                || name.ends_with(".dockerignore")
                || !self.globs.iter().any(|g| g.is_match(&child))
            {
                continue;
            }
            let path = root.join(&child);
            match std::fs::metadata(&path) {
                Ok(m) if m.len() > MAX_FILE_SIZE => {
                    out.skipped
                        .push((child, format!("larger than {MAX_FILE_SIZE} bytes")));
                    continue;
                }
                Err(e) => {
                    out.skipped.push((child, format!("unreadable: {e}")));
                    continue;
                }
                Ok(_) => {}
            }
            match std::fs::read(&path) {
                Ok(bytes) => {
                    let text = String::from_utf8_lossy(&bytes);
                    let (findings, suppressed) = self.lint_text(&child, &text);
                    out.suppressed += suppressed;
                    out.findings.extend(findings);
                    out.files.push(child);
                }
                Err(e) => out.skipped.push((child, format!("unreadable: {e}"))),
            }
        }
    }

    /// `path` matches an `exclude` glob (a directory also matches `dir/**`).
    fn excluded(&self, path: &str) -> bool {
        self.exclude
            .iter()
            .any(|g| g.is_match(path) || g.is_match(&format!("{path}/x")))
    }

    /// Lints one file's text; returns the findings and how many were suppressed.
    pub fn lint_text(&self, path: &str, text: &str) -> (Vec<Finding>, u64) {
        let parsed = parser::parse(text).and_then(|df| {
            let hits = Analysis::new(&df, &self.options)?.run();
            Ok((df, hits))
        });
        let (df, hits) = match parsed {
            Ok(x) => x,
            Err(e) => {
                if self.ignore.contains("DL1000") {
                    return (Vec::new(), 1);
                }
                let end = text
                    .lines()
                    .nth(e.line.saturating_sub(1) as usize)
                    .map_or(e.column + 1, |l| l.chars().count() as u32 + 1);
                let f = Finding {
                    rule_id: "DL1000".into(),
                    severity: Severity::Error,
                    path: path.to_string(),
                    line: e.line,
                    column: e.column,
                    end_line: e.line,
                    end_column: end.max(e.column + 1),
                    message: format!("The Dockerfile could not be parsed: {}", e.message),
                    fingerprint: fingerprint(&["DL1000", path, &e.message, "0"]),
                };
                return (vec![f], 0);
            }
        };
        let (line_ignores, global) = pragmas(&df);
        let mut seen: HashMap<String, u32> = HashMap::new();
        let mut out = Vec::new();
        let mut suppressed = 0;
        for h in hits {
            let ins = &df.instructions[h.item];
            let ignored_here = line_ignores
                .get(&ins.line)
                .is_some_and(|ids| ids.contains(h.rule));
            if self.ignore.contains(h.rule) || global.contains(h.rule) || ignored_here {
                suppressed += 1;
                continue;
            }
            let Some(meta) = rules::meta(h.rule) else {
                continue;
            };
            let message = match &h.detail {
                Some(d) => format!("{} Found: {d}.", meta.message),
                None => meta.message.to_string(),
            };
            let detail = h.detail.clone().unwrap_or_default();
            let key = format!("{}\0{}\0{}", h.rule, ins.normalized(), detail);
            let n = seen.entry(key).or_insert(0);
            let fp = fingerprint(&[h.rule, path, &ins.normalized(), &detail, &n.to_string()]);
            *n += 1;
            out.push(Finding {
                rule_id: h.rule.to_string(),
                severity: meta.severity,
                path: path.to_string(),
                line: ins.line,
                column: ins.column,
                end_line: ins.end_line,
                end_column: ins.end_column,
                message,
                fingerprint: fp,
            });
        }
        out.sort_by(|a, b| (a.line, a.column, &a.rule_id).cmp(&(b.line, b.column, &b.rule_id)));
        (out, suppressed)
    }
}

fn display(rel: &str) -> String {
    if rel.is_empty() {
        ".".into()
    } else {
        rel.to_string()
    }
}

fn fingerprint(parts: &[&str]) -> String {
    let mut h = Sha256::new();
    for (i, p) in parts.iter().enumerate() {
        if i > 0 {
            h.update([0]);
        }
        h.update(p.as_bytes());
    }
    hex::encode(h.finalize())[..32].to_string()
}

/// `hadolint ignore=…` comments (by the line they apply to) and `hadolint global
/// ignore=…` ids.
fn pragmas(df: &parser::Dockerfile) -> (HashMap<u32, HashSet<String>>, HashSet<String>) {
    let mut lines: HashMap<u32, HashSet<String>> = HashMap::new();
    let mut global = HashSet::new();
    for c in &df.comments {
        if let Some((is_global, ids)) = parse_pragma(&c.text) {
            if is_global {
                global.extend(ids);
            } else {
                lines.entry(c.line + 1).or_default().extend(ids);
            }
        }
    }
    (lines, global)
}

/// `hadolint [global] ignore=DL3008, DL3009 [# comment]` → (global, ids).
pub fn parse_pragma(text: &str) -> Option<(bool, Vec<String>)> {
    let rest = text.trim_start().strip_prefix("hadolint")?;
    if !rest.starts_with([' ', '\t']) {
        return None;
    }
    let mut rest = rest.trim_start();
    let global = match rest.strip_prefix("global") {
        Some(r) if r.starts_with([' ', '\t']) => {
            rest = r.trim_start();
            true
        }
        _ => false,
    };
    let rest = rest
        .strip_prefix("ignore")?
        .trim_start()
        .strip_prefix('=')?;
    let rest = rest.split('#').next().unwrap_or(rest);
    let ids: Vec<String> = rest
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect();
    if ids.is_empty()
        || ids
            .iter()
            .any(|id| !id.chars().all(|c| "DLSC0123456789".contains(c)))
    {
        return None;
    }
    Some((global, ids))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lint(text: &str) -> Vec<Finding> {
        Linter::new(&Config::default())
            .expect("default config")
            .lint_text("Dockerfile", text)
            .0
    }

    fn ids(text: &str) -> Vec<String> {
        lint(text).into_iter().map(|f| f.rule_id).collect()
    }

    #[test]
    fn ignore_comment_applies_to_the_next_instruction_only() {
        let text = "FROM debian:12\n# hadolint ignore=DL3008,DL3015\nRUN apt-get install -y curl\nRUN apt-get install -y wget\n";
        let f = lint(text);
        let on3: Vec<&str> = f
            .iter()
            .filter(|f| f.line == 3)
            .map(|f| f.rule_id.as_str())
            .collect();
        assert!(on3.is_empty(), "{on3:?}");
        assert!(f.iter().any(|f| f.line == 4 && f.rule_id == "DL3008"));
    }

    #[test]
    fn global_ignore_applies_everywhere() {
        let text = "# hadolint global ignore=DL3008\nFROM debian:12\nRUN apt-get install -y --no-install-recommends curl\n";
        assert!(!ids(text).contains(&"DL3008".to_string()));
        assert!(
            ids("FROM debian:12\nRUN apt-get install -y --no-install-recommends curl\n")
                .contains(&"DL3008".to_string())
        );
    }

    #[test]
    fn config_ignore_and_unknown_ids() {
        let l = Linter::new(&Config {
            ignore: vec!["DL3007".into(), "SC2086".into()],
            ..Config::default()
        })
        .expect("valid");
        let (f, suppressed) = l.lint_text("Dockerfile", "FROM debian:latest\n");
        assert!(f.is_empty());
        assert_eq!(suppressed, 1);
        let e = Linter::new(&Config {
            ignore: vec!["DL9999".into()],
            ..Config::default()
        })
        .err()
        .expect("unknown id refused");
        assert!(e.contains("ignore[0]") && e.contains("DL9999"), "{e}");
    }

    #[test]
    fn parse_errors_are_dl1000_findings_with_position() {
        let f = lint("FROM debian:12\nRUNN echo hi\n");
        assert_eq!(f.len(), 1);
        assert_eq!(f[0].rule_id, "DL1000");
        assert_eq!((f[0].line, f[0].column), (2, 1));
        assert!(
            f[0].message.contains("unknown instruction `RUNN`"),
            "{}",
            f[0].message
        );
    }

    #[test]
    fn fingerprints_survive_line_moves_and_differ_per_instruction() {
        let a = lint("FROM debian:latest\n");
        let b = lint("\n\n# moved\nFROM debian:latest\n");
        assert_eq!(a[0].fingerprint, b[0].fingerprint);
        assert_ne!(a[0].line, b[0].line);
        let c = lint("FROM debian:latest AS x\n");
        assert_ne!(a[0].fingerprint, c[0].fingerprint);
        let twice = lint("FROM debian:12\nUSER app\nCMD a\nCMD a\nCMD a\n");
        let fps: Vec<&str> = twice
            .iter()
            .filter(|f| f.rule_id == "DL4003")
            .map(|f| f.fingerprint.as_str())
            .collect();
        assert_eq!(fps.len(), 2);
        assert_ne!(fps[0], fps[1]);
    }

    #[test]
    fn finding_region_covers_the_instruction() {
        let f = lint(
            "FROM debian:12\nRUN apt-get update && \\\n    apt-get install -y --no-install-recommends curl=1\n",
        );
        let dl3009 = f.iter().find(|f| f.rule_id == "DL3009").expect("DL3009");
        assert_eq!((dl3009.line, dl3009.column, dl3009.end_line), (2, 1, 3));
        assert_eq!(dl3009.end_column, 54);
    }

    #[test]
    fn pragma_syntax() {
        assert_eq!(
            parse_pragma("hadolint ignore=DL3008, DL3009 # why"),
            Some((false, vec!["DL3008".into(), "DL3009".into()]))
        );
        assert_eq!(
            parse_pragma("hadolint global ignore=DL3003"),
            Some((true, vec!["DL3003".into()]))
        );
        assert_eq!(parse_pragma("hadolintignore=DL3003"), None);
        assert_eq!(parse_pragma("hadolint ignore="), None);
        assert_eq!(parse_pragma("just a comment"), None);
    }

    #[test]
    fn tree_walk_finds_default_names_and_skips_build_dirs() {
        let dir = std::env::temp_dir().join(format!("dfl-walk-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        for (p, body) in [
            ("Dockerfile", "FROM debian:latest\n"),
            ("svc/api.Dockerfile", "FROM debian:latest\n"),
            ("svc/Dockerfile.dev", "FROM debian:latest\n"),
            ("svc/Dockerfile.dockerignore", "*\n"),
            ("target/Dockerfile", "FROM debian:latest\n"),
            ("node_modules/x/Dockerfile", "FROM debian:latest\n"),
            ("README.md", "FROM debian:latest\n"),
        ] {
            let f = dir.join(p);
            std::fs::create_dir_all(f.parent().expect("parent")).expect("mkdir");
            std::fs::write(f, body).expect("write");
        }
        let out = Linter::new(&Config::default())
            .expect("config")
            .lint_tree(&dir)
            .expect("lint");
        assert_eq!(
            out.files,
            ["Dockerfile", "svc/Dockerfile.dev", "svc/api.Dockerfile"]
        );
        let only = Linter::new(&Config {
            paths: vec!["svc/*.Dockerfile".into()],
            ..Config::default()
        })
        .expect("config")
        .lint_tree(&dir)
        .expect("lint");
        assert_eq!(only.files, ["svc/api.Dockerfile"]);
        let root_only = Linter::new(&Config {
            paths: vec!["./Dockerfile".into(), "*.Dockerfile".into()],
            exclude: vec!["svc".into()],
            ..Config::default()
        })
        .expect("config")
        .lint_tree(&dir)
        .expect("lint");
        assert_eq!(root_only.files, ["Dockerfile"]);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
