//! From a parsed manifest to stages ready to run: resolve each plugin reference to
//! bytes with a verified digest, compile or load it from the cache, ask it to
//! `describe` itself, and validate the stage's `with` table against its schema.
//!
//! This is all of `gantry check`; `gantry run` does it before any stage starts, so a
//! typo in the last stage's config fails in a second rather than after the build.

use std::collections::HashMap;
use std::path::{Component, Path, PathBuf};
use std::sync::{Arc, OnceLock};

use gantry_registry::{Digest, PluginRef, RefError};
use serde_json::Value;
use sha2::{Digest as _, Sha256};

use crate::manifest::{Diagnostic, Diagnostics, Manifest, SecretSource, Stage, did_you_mean};
use crate::report::model::PluginInfo;
use crate::run::display::escape;
use crate::runtime::{LoadedPlugin, Runtime, builtins};

/// A stage whose plugin is loaded and whose config matched the plugin's schema.
pub struct PreparedStage {
    pub name: String,
    pub plugin: Arc<LoadedPlugin>,
    pub info: Arc<PluginInfo>,
    pub schema: Arc<ConfigSchema>,
}

/// A plugin's config schema, compiled only when a config has to be checked against it.
///
/// Compiling any draft 2020-12 schema makes `jsonschema` first compile and run the
/// 2020-12 meta-schema: about 40 ms of a `gantry check` that otherwise takes 15. So
/// outcomes are remembered in the compile cache directory (`config-ok/`): "this
/// schema compiles" and "this config (exact JSON) is valid against this schema", keyed
/// by sha256 of the schema, the config and the versions of gantry and `jsonschema`.
/// Only successes are remembered: an invalid config or schema is always compiled and
/// reported afresh. Deleting the directory is always safe.
pub struct ConfigSchema {
    schema: Value,
    key: String,
    memo: Option<PathBuf>,
    validator: OnceLock<Result<jsonschema::Validator, String>>,
}

impl ConfigSchema {
    pub fn new(schema: Value, memo: Option<PathBuf>) -> ConfigSchema {
        let mut h = Sha256::new();
        h.update(concat!(
            "gantry-",
            env!("CARGO_PKG_VERSION"),
            "/jsonschema-0.33\0"
        ));
        h.update(serde_json::to_vec(&schema).unwrap_or_default());
        ConfigSchema {
            key: hex::encode(h.finalize()),
            schema,
            memo,
            validator: OnceLock::new(),
        }
    }

    /// The compiled validator, or why the schema does not compile.
    pub fn validator(&self) -> Result<&jsonschema::Validator, &str> {
        self.validator
            .get_or_init(|| jsonschema::validator_for(&self.schema).map_err(|e| e.to_string()))
            .as_ref()
            .map_err(String::as_str)
    }

    /// Checks that the schema compiles (remembered once it did).
    pub fn check(&self) -> Result<(), String> {
        if self.remembered(&self.key) {
            return Ok(());
        }
        self.validator().map_err(str::to_string)?;
        self.remember(&self.key);
        Ok(())
    }

    fn config_key(&self, config: &Value) -> String {
        let mut h = Sha256::new();
        h.update(self.key.as_bytes());
        h.update(serde_json::to_vec(config).unwrap_or_default());
        hex::encode(h.finalize())
    }

    fn remembered(&self, key: &str) -> bool {
        self.memo.as_ref().is_some_and(|d| d.join(key).is_file())
    }

    fn remember(&self, key: &str) {
        if let Some(dir) = &self.memo {
            // Best effort: a failed write only means compiling again next time.
            let _ = std::fs::create_dir_all(dir).and_then(|()| std::fs::write(dir.join(key), b""));
        }
    }
}

pub struct Prepared {
    pub manifest: Manifest,
    pub stages: Vec<PreparedStage>,
}

impl Prepared {
    pub fn stage(&self, name: &str) -> Option<&PreparedStage> {
        self.stages.iter().find(|s| s.name == name)
    }
}

/// Reads the bytes behind a parsed plugin reference and their digest (checked against
/// the pin for `file:` references, relative to `manifest_dir`, before anything
/// compiles them).
pub fn resolve_bytes(
    manifest_dir: &std::path::Path,
    reference: &PluginRef,
) -> Result<(Vec<u8>, Digest), RefError> {
    match reference {
        PluginRef::Builtin { name } => match builtins::get(name) {
            Some(bytes) => Ok((bytes.to_vec(), Digest::of(bytes))),
            None => Err(RefError::UnknownBuiltin {
                name: name.clone(),
                known: builtins::names(),
            }),
        },
        PluginRef::File { .. } => reference.read_file(manifest_dir),
    }
}

/// Loads every plugin of the manifest (each distinct one once) and validates configs.
/// Returns every problem found, each pointing into pipeline.toml.
pub fn prepare(manifest: Manifest, runtime: &Runtime) -> Result<Prepared, Diagnostics> {
    let mut diags = Vec::new();
    let mut by_ref: HashMap<
        String,
        Result<(Arc<LoadedPlugin>, Arc<PluginInfo>, Arc<ConfigSchema>), ()>,
    > = HashMap::new();
    let mut stages = Vec::new();
    for stage in &manifest.stages {
        let entry = by_ref
            .entry(stage.plugin.clone())
            .or_insert_with(|| load_one(&manifest, stage, runtime).map_err(|d| diags.push(d)));
        let Ok((plugin, info, schema)) = entry.clone() else {
            continue;
        };
        diags.extend(validate_config(
            &manifest,
            stage,
            &info,
            &schema,
            &stage.with,
        ));
        stages.push(PreparedStage {
            name: stage.name.clone(),
            plugin,
            info,
            schema,
        });
    }
    diags.extend(secret_exposures(&manifest, manifest.dir()));
    if diags.is_empty() {
        Ok(Prepared { manifest, stages })
    } else {
        Err(Diagnostics(diags))
    }
}

/// `path` made absolute (against the current directory) and lexically normalized.
fn absolute_lexical(path: &Path) -> PathBuf {
    let abs = std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf());
    let mut out = PathBuf::new();
    for c in abs.components() {
        match c {
            Component::CurDir => {}
            Component::ParentDir => {
                out.pop();
            }
            other => out.push(other),
        }
    }
    out
}

/// `path` relative to `root`, `/`-separated (`.` for the root itself).
fn relative_to(path: &Path, root: &Path) -> Option<String> {
    let rel = path.strip_prefix(root).ok()?;
    let parts: Vec<String> = rel
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect();
    Some(if parts.is_empty() {
        ".".into()
    } else {
        parts.join("/")
    })
}

/// Every stage whose `grants.fs` reaches the file a `[secrets]` value is read from:
/// such a stage could read the value without `grants.reveal`, and no audit line would
/// say so. Refused (by `gantry check`, `run`, `audit`, `plan` and `lock`), not merely
/// flagged: the fix never costs a legitimate pipeline anything but moving a file.
///
/// `workspace` is what grants are relative to. Both the path as written and the file
/// it resolves to (symbolic links followed) are compared with each grant, as written
/// and resolved. Not detected: a hard link to the file elsewhere in a granted
/// directory.
pub fn secret_exposures(manifest: &Manifest, workspace: &Path) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    let roots: Vec<PathBuf> = [
        Some(absolute_lexical(workspace)),
        workspace.canonicalize().ok(),
    ]
    .into_iter()
    .flatten()
    .collect();
    // A path relative to the workspace, from either root.
    let rel = |p: &Path| roots.iter().find_map(|r| relative_to(p, r));
    for decl in &manifest.secrets {
        let SecretSource::File(path) = &decl.source else {
            continue;
        };
        let full = manifest.dir().join(path);
        let files: Vec<String> = [Some(absolute_lexical(&full)), full.canonicalize().ok()]
            .into_iter()
            .flatten()
            .filter_map(|p| rel(&p))
            .collect();
        if files.is_empty() {
            continue;
        }
        for stage in &manifest.stages {
            let fs = &stage.grants.fs;
            let reaching = [("read", &fs.read), ("write", &fs.write)]
                .into_iter()
                .flat_map(|(kind, grants)| grants.iter().map(move |g| (kind, g)))
                .find(|(_, g)| {
                    let resolved = workspace.join(g.as_str()).canonicalize().ok();
                    let forms: Vec<String> = std::iter::once(g.to_string())
                        .chain(resolved.as_deref().and_then(rel))
                        .collect();
                    forms.iter().any(|g| {
                        files
                            .iter()
                            .any(|f| crate::manifest::secrets::grant_reaches(g, f))
                    })
                });
            let Some((kind, grant)) = reaching else {
                continue;
            };
            let name = &decl.name;
            let file = files.first().map(String::as_str).unwrap_or(path);
            out.push(
                manifest
                    .diag(
                        decl.span,
                        format!(
                            "stage `{}` can read secret `{name}` without `grants.reveal`: its `grants.fs.{kind} = [\"{grant}\"]` reaches `{file}`, the file the secret's value is read from",
                            stage.name
                        ),
                    )
                    .with_hint(format!(
                        "move the file out of the workspace (e.g. `{name} = {{ file = \"/etc/gantry/{}\" }}`) or read it from an environment variable (`{name} = {{ env = \"…\" }}`); or narrow stage `{}`'s grant to directories that do not hold `{file}`",
                        Path::new(path)
                            .file_name()
                            .map(|n| n.to_string_lossy().into_owned())
                            .unwrap_or_else(|| "secret".into()),
                        stage.name
                    )),
            );
        }
    }
    out
}

fn load_one(
    manifest: &Manifest,
    stage: &Stage,
    runtime: &Runtime,
) -> Result<(Arc<LoadedPlugin>, Arc<PluginInfo>, Arc<ConfigSchema>), Diagnostic> {
    let at = |message: String| manifest.diag(stage.plugin_span, message);
    let (bytes, digest) = resolve_bytes(manifest.dir(), &stage.plugin_ref).map_err(|e| {
        let d = at(format!("stage `{}`: {e}", stage.name));
        match e.hint() {
            Some(h) => d.with_hint(h),
            None => d,
        }
    })?;
    let plugin = runtime
        .load(&bytes, digest)
        .map_err(|e| {
            at(format!("stage `{}`: the plugin cannot be loaded: {e:#}", stage.name)).with_hint(
                "a plugin is a WebAssembly component exporting `gantry:plugin`; build one with `cargo build --target wasm32-wasip2` (see `gantry plugin new`)",
            )
        })?;
    let info = runtime.describe(&plugin).map_err(|e| {
        at(format!(
            "stage `{}`: plugin `{}` failed to describe itself: {}",
            stage.name,
            stage.plugin,
            escape(&e.to_string())
        ))
    })?;
    let schema = ConfigSchema::new(info.config_schema.clone(), runtime.memo_dir("config-ok"));
    schema.check().map_err(|e| {
        at(format!(
            "stage `{}`: plugin `{}` declares an invalid config schema: {}",
            stage.name,
            stage.plugin,
            escape(&e)
        ))
    })?;
    Ok((Arc::new(plugin), Arc::new(info), Arc::new(schema)))
}

/// Validates `config` against the plugin's schema; each error points at the offending
/// value inside `with` and, for unknown keys, suggests the nearest known one.
pub fn validate_config(
    manifest: &Manifest,
    stage: &Stage,
    info: &PluginInfo,
    schema: &ConfigSchema,
    config: &Value,
) -> Vec<Diagnostic> {
    let config_key = schema.config_key(config);
    if schema.remembered(&config_key) {
        return Vec::new();
    }
    let validator = match schema.validator() {
        Ok(v) => v,
        Err(e) => {
            return vec![manifest.diag(
                stage.plugin_span,
                format!(
                    "stage `{}`: plugin `{}` declares an invalid config schema: {}",
                    stage.name,
                    stage.plugin,
                    escape(e)
                ),
            )];
        }
    };
    let mut out = Vec::new();
    for err in validator.iter_errors(config) {
        let pointer = err.instance_path.as_str().to_string();
        let shown = display_path(&pointer);
        match &err.kind {
            jsonschema::error::ValidationErrorKind::AdditionalProperties { unexpected } => {
                let parent_schema = err
                    .schema_path
                    .as_str()
                    .rsplit_once('/')
                    .map(|(p, _)| p.to_string())
                    .unwrap_or_default();
                let known: Vec<String> = info
                    .config_schema
                    .pointer(&parent_schema)
                    .and_then(|s| s.get("properties"))
                    .and_then(Value::as_object)
                    .map(|o| o.keys().cloned().collect())
                    .unwrap_or_default();
                for key in unexpected {
                    let span = manifest
                        .config_span(&stage.name, &format!("{pointer}/{}", escape_pointer(key)));
                    let mut d = manifest.diag(
                        span,
                        format!(
                            "unknown key `{key}` in `with{}` of stage `{}` (plugin `{}`)",
                            if shown.is_empty() {
                                String::new()
                            } else {
                                format!(".{shown}")
                            },
                            stage.name,
                            escape(&info.name)
                        ),
                    );
                    let list = known
                        .iter()
                        .map(|k| format!("`{}`", escape(k)))
                        .collect::<Vec<_>>()
                        .join(", ");
                    d = match did_you_mean(key, known.iter().map(String::as_str)) {
                        Some(m) => {
                            d.with_hint(format!("did you mean `{}`? valid keys: {list}", escape(m)))
                        }
                        None if !known.is_empty() => d.with_hint(format!("valid keys: {list}")),
                        None => d,
                    };
                    out.push(d);
                }
            }
            _ => {
                let span = manifest.config_span(&stage.name, &pointer);
                let what = if shown.is_empty() {
                    "`with`".to_string()
                } else {
                    format!("`with.{shown}`")
                };
                let d = manifest.diag(
                    span,
                    format!(
                        "{what} of stage `{}` does not match the config schema of plugin `{}`: {}",
                        stage.name,
                        escape(&info.name),
                        escape(&err.to_string())
                    ),
                )
                .with_hint(format!("`gantry plugin inspect {}` shows the schema", stage.plugin));
                out.push(d);
            }
        }
    }
    if out.is_empty() {
        schema.remember(&config_key);
    }
    out
}

fn escape_pointer(key: &str) -> String {
    key.replace('~', "~0").replace('/', "~1")
}

/// `/paths/0/name` → `paths[0].name`.
fn display_path(pointer: &str) -> String {
    let mut out = String::new();
    for seg in pointer.split('/').skip(1) {
        let seg = seg.replace("~1", "/").replace("~0", "~");
        if !seg.is_empty() && seg.bytes().all(|b| b.is_ascii_digit()) {
            out.push_str(&format!("[{seg}]"));
        } else {
            if !out.is_empty() {
                out.push('.');
            }
            out.push_str(&seg);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::{ConfigSchema, display_path};
    use serde_json::json;

    /// The memo only ever skips work for a (schema, config) pair that was valid: an
    /// invalid config is checked again every time, and a changed schema or config
    /// misses.
    #[test]
    fn remembered_outcomes_never_hide_an_invalid_config() {
        let dir = std::env::temp_dir().join(format!("gantry-memo-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let schema = json!({
            "$schema": "https://json-schema.org/draft/2020-12/schema",
            "type": "object",
            "properties": { "level": { "type": "string" } },
            "additionalProperties": false
        });
        let cs = ConfigSchema::new(schema.clone(), Some(dir.clone()));
        cs.check().expect("schema compiles");
        assert!(cs.remembered(&cs.key), "a compiling schema is remembered");

        let good = json!({ "level": "error" });
        let bad = json!({ "levle": "error" });
        assert!(
            cs.validator()
                .expect("compiles")
                .iter_errors(&good)
                .next()
                .is_none()
        );
        cs.remember(&cs.config_key(&good));
        // A fresh process (new ConfigSchema, same memo): the valid pair is known…
        let again = ConfigSchema::new(schema.clone(), Some(dir.clone()));
        assert!(again.remembered(&again.config_key(&good)));
        // …the invalid one is not, and neither is the valid config under another schema.
        assert!(!again.remembered(&again.config_key(&bad)));
        let other = ConfigSchema::new(json!({ "type": "object" }), Some(dir.clone()));
        assert!(!other.remembered(&other.config_key(&good)));
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn pointers_read_like_toml_paths() {
        assert_eq!(display_path(""), "");
        assert_eq!(display_path("/paths/0"), "paths[0]");
        assert_eq!(display_path("/a/b~1c/2/d"), "a.b/c[2].d");
    }
}
