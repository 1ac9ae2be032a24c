//! npm `package-lock.json` / `npm-shrinkwrap.json`, lockfile versions 1, 2 and 3.
//!
//! v2 and v3 list every installed package under `packages`, keyed by its path
//! (`node_modules/@scope/name`, nested `node_modules/a/node_modules/b`); the name is
//! the part after the last `node_modules/`. The root (`""`), workspace members (keys
//! without `node_modules/`) and `link: true` entries are local and skipped. v1 has a
//! nested `dependencies` tree instead, walked recursively. Versions that are not
//! SemVer (git URLs, `file:` tarballs) become notes: they cannot be matched against
//! advisories.
//!
//! Tests: the `tests` module at the bottom of this file.

use serde_json::Value;

use super::jsonpos::{self, KeyLines};
use super::{Note, Package, Parsed};
use crate::advisory::Ecosystem;
use crate::version::semver::Version;

pub fn parse(text: &str) -> Result<Parsed, String> {
    let doc: Value = serde_json::from_str(text).map_err(|e| {
        format!(
            "line {} column {}: invalid package-lock.json: {e}",
            e.line(),
            e.column()
        )
    })?;
    let lines = jsonpos::key_lines(text);
    let mut out = Parsed::default();
    if let Some(packages) = doc.get("packages").and_then(Value::as_object) {
        for (key, entry) in packages {
            let Some(idx) = key.rfind("node_modules/") else {
                continue; // root or workspace member
            };
            if entry.get("link").and_then(Value::as_bool) == Some(true) {
                continue;
            }
            let name = entry
                .get("name")
                .and_then(Value::as_str)
                .unwrap_or(&key[idx + "node_modules/".len()..]);
            let line = lines.get(&["packages", key]);
            push(&mut out, name, entry.get("version"), line);
        }
    } else if let Some(deps) = doc.get("dependencies").and_then(Value::as_object) {
        walk_v1(
            deps,
            &mut vec!["dependencies".to_string()],
            &lines,
            &mut out,
        );
    } else if doc.get("lockfileVersion").is_none() {
        return Err(
            "not a package-lock.json: no `lockfileVersion`, `packages` or `dependencies`".into(),
        );
    }
    // serde_json's map is sorted by key; report in file order.
    out.packages.sort_by_key(|p| p.line);
    out.notes.sort_by_key(|n| n.line);
    Ok(out)
}

fn walk_v1(
    deps: &serde_json::Map<String, Value>,
    path: &mut Vec<String>,
    lines: &KeyLines,
    out: &mut Parsed,
) {
    for (name, entry) in deps {
        path.push(name.clone());
        let keys: Vec<&str> = path.iter().map(String::as_str).collect();
        let line = lines.get(&keys);
        push(out, name, entry.get("version"), line);
        if let Some(sub) = entry.get("dependencies").and_then(Value::as_object) {
            path.push("dependencies".into());
            walk_v1(sub, path, lines, out);
            path.pop();
        }
        path.pop();
    }
}

fn push(out: &mut Parsed, name: &str, version: Option<&Value>, line: Option<u32>) {
    match version.and_then(Value::as_str) {
        Some(v) if Version::parse(v).is_ok() => out.packages.push(Package {
            ecosystem: Ecosystem::Npm,
            name: name.to_string(),
            version: v.to_string(),
            line,
        }),
        other => out.notes.push(Note {
            line: line.unwrap_or(1),
            requirement: format!("{name}@{}", other.unwrap_or("?")),
            reason: "not a registry version (git, file or URL dependency): cannot audit".into(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn list(p: &Parsed) -> Vec<(String, String, Option<u32>)> {
        p.packages
            .iter()
            .map(|x| (x.name.clone(), x.version.clone(), x.line))
            .collect()
    }

    #[test]
    fn v3_packages_scoped_nested_links_and_workspaces() {
        let text = r#"{
  "name": "app",
  "lockfileVersion": 3,
  "packages": {
    "": {"name": "app", "version": "1.0.0"},
    "packages/ui": {"name": "ui", "version": "0.1.0"},
    "node_modules/ui": {"resolved": "packages/ui", "link": true},
    "node_modules/lodash": {
      "version": "4.17.20"
    },
    "node_modules/@babel/core": {"version": "7.0.0"},
    "node_modules/a/node_modules/lodash": {"version": "3.10.1"},
    "node_modules/gitdep": {"version": "git+ssh://git@example.invalid/x.git#abc"}
  }
}"#;
        let p = parse(text).expect("lock");
        assert_eq!(
            list(&p),
            vec![
                ("lodash".into(), "4.17.20".into(), Some(8)),
                ("@babel/core".into(), "7.0.0".into(), Some(11)),
                ("lodash".into(), "3.10.1".into(), Some(12)),
            ]
        );
        assert_eq!(p.notes.len(), 1);
        assert_eq!(p.notes[0].line, 13);
    }

    #[test]
    fn v1_nested_dependencies() {
        let text = r#"{
  "lockfileVersion": 1,
  "dependencies": {
    "a": {
      "version": "1.0.0",
      "dependencies": {
        "minimist": {"version": "0.0.8"}
      }
    },
    "minimist": {"version": "1.2.5"}
  }
}"#;
        let p = parse(text).expect("lock");
        let mut l = list(&p);
        l.sort();
        assert_eq!(
            l,
            vec![
                ("a".into(), "1.0.0".into(), Some(4)),
                ("minimist".into(), "0.0.8".into(), Some(7)),
                ("minimist".into(), "1.2.5".into(), Some(10)),
            ]
        );
    }

    #[test]
    fn invalid_json_names_line_and_column() {
        let e = parse("{\n  \"packages\": {,}\n}").expect_err("must be refused");
        assert!(e.starts_with("line 2 column"), "{e}");
        assert!(
            parse("{\"x\": 1}")
                .expect_err("must be refused")
                .contains("not a package-lock.json")
        );
    }
}
