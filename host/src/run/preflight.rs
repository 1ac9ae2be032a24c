//! What `gantry check` and `gantry run` verify against the workspace and the
//! environment before any stage starts, so that nothing the file alone could have
//! told fails after other stages have run:
//!
//! - every `grants.fs.read` directory exists and is a real directory of the workspace
//!   (no symbolic link on the way), unless a stage it needs has a write grant that
//!   covers it (that stage may create it); every `grants.fs.write` path that exists is
//!   a directory;
//! - every secret a stage is granted (`grants.secrets`, `grants.reveal`) can be read
//!   now: its variable is set, its file is readable;
//! - every config value that names a secret — a string at a key whose schema carries
//!   `"x-gantry-secret": true` ([`SECRET_KEYWORD`]) — names a secret declared in
//!   `[secrets]` and granted to that stage.
//!
//! Stages whose `when` does not hold now (evaluated as `run` would: branch, tag,
//! environment) are not checked: they will not run here.
//!
//! Tests: unit tests below; `tests/e2e/cli.rs` (golden `check` output).

use std::path::Path;

use serde_json::Value;

use super::git::GitFacts;
use crate::caps::fs::beneath;
use crate::caps::secrets::SecretStore;
use crate::manifest::{Diagnostic, Manifest, Stage};

/// The JSON Schema keyword a plugin puts on a config key whose value is the name of a
/// secret (the SDK: `#[schemars(extend("x-gantry-secret" = true))]`).
pub const SECRET_KEYWORD: &str = "x-gantry-secret";

/// Every problem found; empty when the pipeline can start.
pub fn check(
    manifest: &Manifest,
    workspace: &Path,
    git: &GitFacts,
    schemas: &dyn Fn(&str) -> Option<Value>,
) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    let root = beneath::open_root(workspace);
    let secrets = SecretStore::load(manifest);
    for stage in &manifest.stages {
        if let Some(when) = &stage.when
            && when
                .evaluate(git.branch.as_deref(), git.tag.as_deref(), &|v| {
                    std::env::var(v).ok()
                })
                .is_err()
        {
            continue;
        }
        if let Ok(root) = &root {
            fs_grants(manifest, stage, root, &mut out);
        }
        granted_secrets(manifest, stage, &secrets, &mut out);
        if let Some(schema) = schemas(&stage.name) {
            config_secrets(manifest, stage, &schema, &stage.with, "", &mut out);
        }
    }
    out
}

/// Write grants of `stage`'s ancestors (stages it needs, transitively).
fn ancestor_writes<'a>(manifest: &'a Manifest, stage: &Stage) -> Vec<&'a str> {
    let mut seen: Vec<&str> = Vec::new();
    let mut todo: Vec<&str> = stage.needs.iter().map(String::as_str).collect();
    let mut writes = Vec::new();
    while let Some(n) = todo.pop() {
        if seen.contains(&n) {
            continue;
        }
        seen.push(n);
        if let Some(s) = manifest.stage(n) {
            writes.extend(s.grants.fs.write.iter().map(String::as_str));
            todo.extend(s.needs.iter().map(String::as_str));
        }
    }
    writes
}

/// `rel` is `grant` or lies under it.
fn covered(rel: &str, grant: &str) -> bool {
    grant == "." || rel == grant || rel.starts_with(&format!("{grant}/"))
}

fn fs_grants(
    manifest: &Manifest,
    stage: &Stage,
    root: &std::os::fd::OwnedFd,
    out: &mut Vec<Diagnostic>,
) {
    let writes = ancestor_writes(manifest, stage);
    for (write, paths) in [
        (false, &stage.grants.fs.read),
        (true, &stage.grants.fs.write),
    ] {
        let key = if write {
            "grants.fs.write"
        } else {
            "grants.fs.read"
        };
        for rel in paths {
            let why = match beneath::open_dir(root, rel) {
                Ok(_) => continue,
                Err(why) if why == "does not exist" => {
                    if write || stage.grants.fs.write.contains(rel) {
                        continue; // created when the stage starts
                    }
                    if writes.iter().any(|w| covered(rel, w)) {
                        continue; // a stage it needs may create it
                    }
                    why
                }
                Err(why) => why,
            };
            let span = manifest.fs_grant_span(&stage.name, write, rel);
            let hint = if why == "does not exist" {
                format!(
                    "create `{rel}` in the workspace, or grant it as a write grant of this stage or of a stage it needs (`grants.fs.write = [\"{rel}\"]`), which creates it"
                )
            } else if why.starts_with("is not a directory") {
                "grant the directory that holds the file".to_string()
            } else {
                "grant the directory the link points to, by its real path".to_string()
            };
            out.push(
                manifest
                    .diag(
                        span,
                        format!("`{rel}` in {key} of stage `{}` {why}", stage.name),
                    )
                    .with_hint(hint),
            );
        }
    }
}

fn granted_secrets(
    manifest: &Manifest,
    stage: &Stage,
    secrets: &SecretStore,
    out: &mut Vec<Diagnostic>,
) {
    let mut names: Vec<&String> = stage.grants.secrets.iter().collect();
    names.extend(
        stage
            .grants
            .reveal
            .iter()
            .filter(|n| !stage.grants.secrets.contains(n)),
    );
    for name in names {
        let (Some(decl), Some(Err(why))) = (manifest.secret(name), secrets.value(name)) else {
            continue;
        };
        out.push(
            manifest
                .diag(
                    decl.span,
                    format!(
                        "secret `{name}`, granted to stage `{}`, cannot be read: {why}",
                        stage.name
                    ),
                )
                .with_hint(match &decl.source {
                    crate::manifest::SecretSource::Env(var) => {
                        format!("set `{var}` in gantry's environment")
                    }
                    crate::manifest::SecretSource::File(path) => format!(
                        "create `{path}` (relative to the pipeline file's directory), readable by the user running gantry"
                    ),
                }),
        );
    }
}

/// Walks `config` along `schema`, checking each string at a [`SECRET_KEYWORD`] key.
fn config_secrets(
    manifest: &Manifest,
    stage: &Stage,
    schema: &Value,
    config: &Value,
    pointer: &str,
    out: &mut Vec<Diagnostic>,
) {
    let schema = resolve_ref(schema, schema);
    match config {
        Value::Object(map) => {
            let Some(props) = schema.get("properties").and_then(Value::as_object) else {
                return;
            };
            for (k, v) in map {
                let Some(sub) = props.get(k) else { continue };
                let sub_resolved = resolve_ref(schema, sub);
                let p = format!("{pointer}/{}", k.replace('~', "~0").replace('/', "~1"));
                if sub_resolved.get(SECRET_KEYWORD) == Some(&Value::Bool(true))
                    && let Some(name) = v.as_str()
                {
                    secret_named(manifest, stage, k, name, &p, out);
                } else {
                    config_secrets(manifest, stage, sub, v, &p, out);
                }
            }
        }
        Value::Array(items) => {
            if let Some(item_schema) = schema.get("items") {
                for (i, v) in items.iter().enumerate() {
                    config_secrets(
                        manifest,
                        stage,
                        item_schema,
                        v,
                        &format!("{pointer}/{i}"),
                        out,
                    );
                }
            }
        }
        _ => {}
    }
}

/// Follows one local `$ref` (`#/$defs/X`), as schemars writes them.
fn resolve_ref<'a>(root: &'a Value, schema: &'a Value) -> &'a Value {
    match schema.get("$ref").and_then(Value::as_str) {
        Some(r) if r.starts_with("#/") => root.pointer(&r[1..]).unwrap_or(schema),
        _ => schema,
    }
}

fn secret_named(
    manifest: &Manifest,
    stage: &Stage,
    key: &str,
    name: &str,
    pointer: &str,
    out: &mut Vec<Diagnostic>,
) {
    if name.contains("${") {
        return; // interpolated at run time
    }
    let declared = manifest.secret(name).is_some();
    let granted = stage.grants.secrets.iter().any(|n| n == name)
        || stage.grants.reveal.iter().any(|n| n == name);
    if declared && granted {
        return;
    }
    let span = manifest.config_span(&stage.name, pointer);
    let (what, hint) = match (declared, granted) {
        (false, _) => (
            format!(
                "`{key}` of stage `{}` names secret `{name}`, which is not declared in `[secrets]` nor granted to the stage",
                stage.name
            ),
            format!(
                "declare it, e.g. `[secrets]` `{name} = {{ env = \"{name}\" }}` (or `{{ file = \"…\" }}`), and grant it to the stage: `grants.secrets = [\"{name}\"]`"
            ),
        ),
        (true, _) => (
            format!(
                "`{key}` of stage `{}` names secret `{name}`, which the stage is not granted",
                stage.name
            ),
            format!(
                "add to `[stage.{}]`: `grants.secrets = [\"{name}\"]` (the plugin gets a handle; the value stays on the host)",
                stage.name
            ),
        ),
    };
    out.push(manifest.diag(span, what).with_hint(hint));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn coverage_of_write_grants() {
        assert!(covered("target/img", "target"));
        assert!(covered("target", "target"));
        assert!(covered("x", "."));
        assert!(!covered("targets", "target"));
        assert!(!covered("target", "target/img"));
    }
}
