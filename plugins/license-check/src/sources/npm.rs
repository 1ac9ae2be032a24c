//! npm: installed packages under a `node_modules` directory, read from each
//! package's `package.json`.
//!
//! Packages are `node_modules/NAME` and `node_modules/@SCOPE/NAME`, recursively
//! through nested `node_modules`; other `package.json` files inside a package (test
//! fixtures, examples) are not packages and are not read. The same `name@version`
//! installed twice is reported once, at its first path.
//!
//! `license` is an SPDX expression; `"SEE LICENSE IN <file>"` reads and identifies
//! that file; `"UNLICENSED"` (npm's "no licence granted") becomes
//! `LicenseRef-UNLICENSED`, which policies can deny or allow per package. The legacy
//! forms `license: { "type": … }` and `licenses: [{ "type": … }, …]` are read; several
//! legacy entries are a choice (npm documents them as `(A OR B)`).
//!
//! Tests: `tests/sources.rs` (`npm_*`, fixture `tests/fixtures/npm`).

use std::collections::HashSet;
use std::path::Path;

use serde_json::Value;

use super::{Declared, Ecosystem, Location, Package, line_of, read_text};

/// Reads every package under `node_modules` (`rel` is its workspace-relative path).
pub fn packages(node_modules: &Path, rel: &str) -> Result<Vec<Package>, String> {
    if !node_modules.is_dir() {
        return Err(format!(
            "`{rel}` is not a directory\nhint: point `npm` at a `node_modules` directory inside the granted workspace"
        ));
    }
    let mut out = Vec::new();
    let mut seen = HashSet::new();
    walk(
        node_modules,
        rel.trim_end_matches('/'),
        &mut out,
        &mut seen,
        0,
    );
    Ok(out)
}

fn package_dirs(nm: &Path) -> Vec<(String, std::path::PathBuf)> {
    let mut dirs = Vec::new();
    let Ok(entries) = std::fs::read_dir(nm) else {
        return dirs;
    };
    for e in entries.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        if name.starts_with('.') || !e.file_type().is_ok_and(|t| t.is_dir()) {
            continue;
        }
        if name.starts_with('@') {
            for s in std::fs::read_dir(e.path()).into_iter().flatten().flatten() {
                if s.file_type().is_ok_and(|t| t.is_dir()) {
                    let sub = s.file_name().to_string_lossy().into_owned();
                    dirs.push((format!("{name}/{sub}"), s.path()));
                }
            }
        } else {
            dirs.push((name, e.path()));
        }
    }
    dirs.sort();
    dirs
}

fn walk(
    nm: &Path,
    rel: &str,
    out: &mut Vec<Package>,
    seen: &mut HashSet<(String, String)>,
    depth: usize,
) {
    // Real trees nest a handful of levels; a cycle through odd layouts must not hang.
    if depth > 32 {
        return;
    }
    for (dir_name, dir) in package_dirs(nm) {
        let pkg_rel = format!("{rel}/{dir_name}");
        if let Some(text) = read_text(&dir.join("package.json"), 4 << 20) {
            let json_rel = format!("{pkg_rel}/package.json");
            if let Some(p) = package(&text, &dir, &json_rel, &dir_name)
                && seen.insert((p.name.clone(), p.version.clone()))
            {
                out.push(p);
            }
        }
        let nested = dir.join("node_modules");
        if nested.is_dir() {
            walk(
                &nested,
                &format!("{pkg_rel}/node_modules"),
                out,
                seen,
                depth + 1,
            );
        }
    }
}

fn legacy_type(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Object(o) => o.get("type").and_then(Value::as_str).map(str::to_string),
        _ => None,
    }
}

/// 1-based line and column of the value of the first `"key":` in the JSON text.
fn key_position(text: &str, key: &str) -> Option<(u32, u32)> {
    let needle = format!("\"{key}\"");
    let mut from = 0;
    while let Some(i) = text[from..].find(&needle) {
        let at = from + i;
        let after = text[at + needle.len()..].trim_start();
        if let Some(v) = after.strip_prefix(':') {
            let value_at = text.len() - v.trim_start().len();
            let line = line_of(text, value_at);
            let line_start = text[..value_at].rfind('\n').map_or(0, |n| n + 1);
            let col = text[line_start..value_at].chars().count() as u32 + 1;
            return Some((line, col));
        }
        from = at + needle.len();
    }
    None
}

fn package(text: &str, dir: &Path, json_rel: &str, dir_name: &str) -> Option<Package> {
    let v: Value = serde_json::from_str(text).ok()?;
    let name = v
        .get("name")
        .and_then(Value::as_str)
        .unwrap_or(dir_name)
        .to_string();
    let version = v
        .get("version")
        .and_then(Value::as_str)
        .unwrap_or("0.0.0")
        .to_string();
    let mut location = Location {
        path: json_rel.to_string(),
        line: None,
        column: None,
    };
    let declared = if let Some(lic) = v.get("license") {
        if let Some((l, c)) = key_position(text, "license") {
            location.line = Some(l);
            // Column of the expression inside the quotes.
            location.column = Some(c + 1);
        }
        match lic {
            Value::String(s) => from_string(s, dir),
            other => match legacy_type(other) {
                Some(t) => {
                    location.column = None;
                    Declared::Expression {
                        text: t.clone(),
                        original: Some(format!("legacy `license: {{ \"type\": \"{t}\" }}`")),
                    }
                }
                None => Declared::Unknown {
                    why: "`license` is neither a string nor `{ \"type\": … }`".into(),
                },
            },
        }
    } else if let Some(Value::Array(list)) = v.get("licenses") {
        if let Some((l, _)) = key_position(text, "licenses") {
            location.line = Some(l);
        }
        let types: Vec<String> = list.iter().filter_map(legacy_type).collect();
        if types.is_empty() {
            Declared::Unknown {
                why: "legacy `licenses` array names no licence type".into(),
            }
        } else {
            let text = types
                .iter()
                .map(|t| {
                    if t.contains(' ') {
                        format!("({t})")
                    } else {
                        t.clone()
                    }
                })
                .collect::<Vec<_>>()
                .join(" OR ");
            Declared::Expression {
                text,
                original: Some("legacy `licenses` array".into()),
            }
        }
    } else {
        match super::cargo::from_files(dir) {
            d @ Declared::Identified { .. } => d,
            Declared::Unknown { why } => Declared::Unknown {
                why: format!("package.json has no `license`; {why}"),
            },
            d => d,
        }
    };
    Some(Package {
        ecosystem: Ecosystem::Npm,
        name,
        version,
        declared,
        location,
        origin: json_rel.to_string(),
    })
}

fn from_string(s: &str, dir: &Path) -> Declared {
    let t = s.trim();
    if t == "UNLICENSED" {
        return Declared::Expression {
            text: "LicenseRef-UNLICENSED".into(),
            original: Some("UNLICENSED (npm: no licence granted)".into()),
        };
    }
    let lower = t.to_ascii_lowercase();
    if let Some(file) = lower.strip_prefix("see license in ") {
        let file = &t[t.len() - file.len()..];
        let path = dir.join(file.trim());
        let ids: Vec<&'static str> = read_text(&path, 1 << 20)
            .map(|text| crate::textid::identify(&text))
            .unwrap_or_default()
            .into_iter()
            .map(|i| i.id)
            .collect();
        return if ids.is_empty() {
            Declared::Unknown {
                why: format!("`{t}`: that file is missing or not a licence text gantry recognises"),
            }
        } else {
            Declared::Identified {
                ids,
                from: file.trim().to_string(),
            }
        };
    }
    Declared::Expression {
        text: t.to_string(),
        original: None,
    }
}
