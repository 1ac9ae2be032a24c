//! `gantry.lock`, `gantry lock [--check]` and `--locked`: what every stage can do,
//! pinned and committed, so that widening it is a visible diff in review.
//!
//! The lock lives next to the pipeline file. For each stage, sorted by name, it
//! records the plugin reference as written, the sha256 digest of the component, its
//! WIT imports (sorted: the most it can ever do) and its grants (what pipeline.toml
//! lets it do). It is TOML written by hand here, not by a serializer, so the text is
//! stable and diff-friendly: one key per line, arrays one element per line, keys and
//! stages sorted, nothing that changes between runs (no dates, no paths of the
//! machine). Two `gantry lock` runs on the same inputs give the same bytes.
//!
//! ```toml
//! version = 1
//!
//! [stage.secrets]
//! plugin = "builtin:secret-scan"
//! digest = "sha256:…"
//! imports = [
//!     "gantry:plugin/log@0.1.0",
//!     "wasi:filesystem/preopens@0.2.6",
//! ]
//! grants.fs.read = [
//!     ".",
//! ]
//! ```
//!
//! Grants are flattened from their `Serialize` form into dotted keys, so a capability
//! added to [`crate::manifest::Grants`] is locked without a change here. Grants that
//! grant nothing (empty lists, `false`, absent) are left out, and top-level grant lists
//! are sets: sorted and deduplicated, so reordering pipeline.toml is not drift (lists
//! inside an entry, like a process grant's `args`, keep their order: it matters).
//!
//! `gantry run --locked` and `gantry check --locked` compare the lock with what the
//! pipeline resolves to now — after every plugin is loaded and its digest checked,
//! before any stage runs or any run record is written — and refuse (exit 2) when the
//! lock is missing or unreadable, a stage was added or removed, or a stage's plugin,
//! digest, imports or grants differ; every difference is printed, one line each.
//! The pipeline's `[secrets]` declarations (where each value comes from, never the
//! value) are locked too: they decide which credential a grant hands out.
//! Each stage's configuration (its `with` table, as written: `${…}` placeholders
//! unexpanded) is locked as a digest, `config = "sha256:…"` of its canonical JSON
//! (keys sorted, no whitespace): configuration is not authority, but it decides what a
//! stage does with its authority — which command a `container-run` stage runs, which
//! service a deploy replaces — so a reviewer of `gantry.lock` sees that it changed,
//! and `--locked` refuses until it is re-locked. The digest, not the table, because
//! configuration can be long and is reviewed in pipeline.toml itself.
//! What is not locked: `needs`, `when`, limits and timeouts (they bound or order what
//! a stage does; they give it nothing).
//!
//! Tests: `tests/e2e/audit_lock.rs`.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use serde::Serialize;
use serde_json::{Value, json};

use super::audit::is_empty;
use super::{Cli, Failure, exit, load_and_prepare, style};
use crate::manifest::text::toml_string as string;
use crate::run::prepare::Prepared;

/// Name of the lock file, next to the pipeline file.
pub const FILE_NAME: &str = "gantry.lock";
/// Format version written in the file; a different one is refused.
pub const VERSION: i64 = 1;

/// One stage as locked.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct LockedStage {
    pub plugin: String,
    pub digest: String,
    /// `sha256:` of the canonical JSON of the stage's `with` table.
    pub config: String,
    /// Sorted, deduplicated.
    pub imports: Vec<String>,
    /// Flattened grants: `fs.read` → `["."]`; only grants that grant something.
    pub grants: BTreeMap<String, Value>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Lock {
    /// `[secrets]` of the pipeline: name → where its value comes from. Locked because
    /// it decides which credential a stage's `secrets`/`reveal` grant hands out.
    pub secrets: BTreeMap<String, Value>,
    pub stages: BTreeMap<String, LockedStage>,
}

/// `gantry.lock` next to `pipeline`.
pub fn lock_path(pipeline: &Path) -> PathBuf {
    pipeline.with_file_name(FILE_NAME)
}

impl Lock {
    /// What the pipeline resolves to now.
    pub fn of(prepared: &Prepared) -> Lock {
        let mut stages = BTreeMap::new();
        for stage in &prepared.manifest.stages {
            let Some(p) = prepared.stage(&stage.name) else {
                continue;
            };
            let mut imports = p.plugin.imports.clone();
            imports.sort();
            imports.dedup();
            let grants = serde_json::to_value(&stage.grants).unwrap_or(Value::Null);
            stages.insert(
                stage.name.clone(),
                LockedStage {
                    plugin: stage.plugin.clone(),
                    digest: p.plugin.digest.to_string(),
                    config: config_digest(&stage.with),
                    imports,
                    grants: flatten_grants(&grants),
                },
            );
        }
        let secrets = prepared
            .manifest
            .secrets
            .iter()
            .map(|d| {
                (
                    d.name.clone(),
                    normalize(&serde_json::to_value(&d.source).unwrap_or(Value::Null)),
                )
            })
            .collect();
        Lock { secrets, stages }
    }

    /// The file's text; `pipeline_file` (a file name) is named in the header.
    pub fn render(&self, pipeline_file: &str) -> String {
        let mut o = String::new();
        o.push_str(&format!(
            "# {FILE_NAME}: generated by `gantry lock` from `{pipeline_file}`. Commit it; do not edit it by hand.\n"
        ));
        o.push_str(
            "#\n\
             # For each stage: the plugin, the sha256 digest of its component, its WIT imports\n\
             # (the most it can ever do) and its grants (what the pipeline lets it do).\n\
             # Review a change to this file like a change to code (`gantry audit` explains\n\
             # each stage). `gantry run --locked` and `gantry check --locked` refuse to run\n\
             # while the pipeline or a plugin differs from it; after reviewing, run\n\
             # `gantry lock` again and commit the result.\n\n",
        );
        o.push_str(&format!("version = {VERSION}\n"));
        if !self.secrets.is_empty() {
            o.push_str("\n# Where each secret's value comes from (never the value).\n[secrets]\n");
            for (name, source) in &self.secrets {
                o.push_str(&format!("{} = {}\n", key(name), inline(source)));
            }
        }
        for (name, s) in &self.stages {
            o.push_str(&format!("\n[stage.{}]\n", key(name)));
            o.push_str(&format!("plugin = {}\n", string(&s.plugin)));
            o.push_str(&format!("digest = {}\n", string(&s.digest)));
            o.push_str(&format!("config = {}\n", string(&s.config)));
            push_array(
                &mut o,
                "imports",
                &s.imports
                    .iter()
                    .map(|i| Value::String(i.clone()))
                    .collect::<Vec<_>>(),
            );
            for (k, v) in &s.grants {
                let dotted = std::iter::once("grants")
                    .chain(k.split('.'))
                    .map(key)
                    .collect::<Vec<_>>()
                    .join(".");
                match v {
                    Value::Array(items) => push_array(&mut o, &dotted, items),
                    v => o.push_str(&format!("{dotted} = {}\n", inline(v))),
                }
            }
        }
        o
    }

    /// Reads a lock file's text.
    pub fn parse(text: &str) -> Result<Lock, String> {
        let table: toml::Table =
            toml::from_str(text).map_err(|e| e.to_string().trim_end().to_string())?;
        let doc = serde_json::to_value(table).map_err(|e| e.to_string())?;
        match doc.get("version").and_then(Value::as_i64) {
            Some(VERSION) => {}
            Some(v) => {
                return Err(format!(
                    "format version {v} is not supported by this gantry (it reads version {VERSION})"
                ));
            }
            None => return Err("`version` is missing".into()),
        }
        let mut stages = BTreeMap::new();
        if let Some(obj) = doc.get("stage") {
            let obj = obj.as_object().ok_or("`stage` is not a table")?;
            for (name, s) in obj {
                let text = |k: &str| {
                    s.get(k)
                        .and_then(Value::as_str)
                        .map(str::to_string)
                        .ok_or_else(|| format!("stage `{name}`: `{k}` is missing or not a string"))
                };
                let mut imports = Vec::new();
                for i in s
                    .get("imports")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                {
                    imports.push(
                        i.as_str()
                            .ok_or_else(|| format!("stage `{name}`: `imports` holds a non-string"))?
                            .to_string(),
                    );
                }
                imports.sort();
                imports.dedup();
                stages.insert(
                    name.clone(),
                    LockedStage {
                        plugin: text("plugin")?,
                        digest: text("digest")?,
                        config: text("config").map_err(|e| {
                            format!("{e} (a lock written before configuration was locked: run `gantry lock` again)")
                        })?,
                        imports,
                        grants: flatten_grants(s.get("grants").unwrap_or(&Value::Null)),
                    },
                );
            }
        }
        let secrets = match doc.get("secrets") {
            None => BTreeMap::new(),
            Some(Value::Object(o)) => o.iter().map(|(k, v)| (k.clone(), normalize(v))).collect(),
            Some(_) => return Err("`secrets` is not a table".into()),
        };
        Ok(Lock { secrets, stages })
    }
}

/// `sha256:` of `with` as canonical JSON: object keys sorted, no whitespace; so
/// reordering or reformatting the TOML is no change (the keys are sorted here, not
/// left to the map type, whose order a cargo feature of serde_json can change).
pub fn config_digest(with: &Value) -> String {
    use sha2::{Digest, Sha256};
    fn canonical(v: &Value, out: &mut String) {
        match v {
            Value::Object(o) => {
                let mut keys: Vec<&String> = o.keys().collect();
                keys.sort();
                out.push('{');
                for (i, k) in keys.into_iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    out.push_str(&Value::String(k.clone()).to_string());
                    out.push(':');
                    canonical(&o[k], out);
                }
                out.push('}');
            }
            Value::Array(a) => {
                out.push('[');
                for (i, x) in a.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    canonical(x, out);
                }
                out.push(']');
            }
            scalar => out.push_str(&scalar.to_string()),
        }
    }
    let mut text = String::new();
    canonical(with, &mut text);
    format!("sha256:{}", hex::encode(Sha256::digest(text.as_bytes())))
}

/// Every difference from `locked` to `now`, one line each, grouped by stage (sorted).
pub fn diff(locked: &Lock, now: &Lock) -> Vec<String> {
    let mut out = Vec::new();
    let secrets: BTreeSet<&String> = locked.secrets.keys().chain(now.secrets.keys()).collect();
    for name in secrets {
        match (locked.secrets.get(name), now.secrets.get(name)) {
            (Some(a), Some(b)) if a == b => {}
            (Some(a), Some(b)) => out.push(format!(
                "secret {name}: source {} → {}",
                inline(a),
                inline(b)
            )),
            (None, Some(b)) => out.push(format!(
                "secret {name}: added (not in {FILE_NAME}): source {}",
                inline(b)
            )),
            (Some(_), None) => out.push(format!(
                "secret {name}: removed (in {FILE_NAME}, not in the pipeline)"
            )),
            (None, None) => {}
        }
    }
    let names: BTreeSet<&String> = locked.stages.keys().chain(now.stages.keys()).collect();
    for name in names {
        match (locked.stages.get(name), now.stages.get(name)) {
            (None, None) => {}
            (None, Some(n)) => {
                out.push(format!(
                    "stage {name}: added (not in {FILE_NAME}): plugin {}, digest {}",
                    n.plugin, n.digest
                ));
                for i in &n.imports {
                    out.push(format!("stage {name}: + import {i}"));
                }
                for (k, v) in &n.grants {
                    out.push(format!("stage {name}: + grants.{k} = {}", inline(v)));
                }
            }
            (Some(_), None) => out.push(format!(
                "stage {name}: removed (in {FILE_NAME}, not in the pipeline)"
            )),
            (Some(l), Some(n)) => {
                if l.plugin != n.plugin {
                    out.push(format!("stage {name}: plugin {} → {}", l.plugin, n.plugin));
                }
                if l.digest != n.digest {
                    out.push(format!("stage {name}: digest {} → {}", l.digest, n.digest));
                }
                if l.config != n.config {
                    out.push(format!(
                        "stage {name}: configuration (`with`) changed: config {} → {} (`gantry plan --json` shows it)",
                        l.config, n.config
                    ));
                }
                for i in l.imports.iter().filter(|i| !n.imports.contains(i)) {
                    out.push(format!("stage {name}: - import {i}"));
                }
                for i in n.imports.iter().filter(|i| !l.imports.contains(i)) {
                    out.push(format!("stage {name}: + import {i}"));
                }
                let keys: BTreeSet<&String> = l.grants.keys().chain(n.grants.keys()).collect();
                for k in keys {
                    match (l.grants.get(k), n.grants.get(k)) {
                        (Some(a), Some(b)) if a == b => {}
                        (a, b) => {
                            if let Some(a) = a {
                                out.push(format!("stage {name}: - grants.{k} = {}", inline(a)));
                            }
                            if let Some(b) = b {
                                out.push(format!("stage {name}: + grants.{k} = {}", inline(b)));
                            }
                        }
                    }
                }
            }
        }
    }
    out
}

/// `--locked`: refuses (exit 2, before anything runs) unless the lock matches.
pub fn verify(prepared: &Prepared) -> Result<(), Failure> {
    let pipeline = &prepared.manifest.path;
    let path = lock_path(pipeline);
    let shown = path.display();
    let hint = format!(
        "  hint: review what changed (`gantry audit` shows what each stage can do), then run `gantry lock` and commit `{FILE_NAME}`"
    );
    let text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(Failure::Usage(format!(
                "`--locked` needs `{shown}`, and there is none; nothing ran\n  hint: run `gantry lock`, review the file (`gantry audit` explains it) and commit it"
            )));
        }
        Err(e) => {
            return Err(Failure::Usage(format!(
                "cannot read `{shown}`: {e}; nothing ran"
            )));
        }
    };
    let locked = Lock::parse(&text).map_err(|e| {
        Failure::Usage(format!(
            "`{shown}` is not a valid lock file: {e}; nothing ran\n  hint: regenerate it with `gantry lock`"
        ))
    })?;
    let differences = diff(&locked, &Lock::of(prepared));
    if differences.is_empty() {
        return Ok(());
    }
    Err(Failure::Usage(format!(
        "`{}` differs from `{shown}` (`--locked`); nothing ran\n{}\n{hint}",
        pipeline.display(),
        differences
            .iter()
            .map(|d| format!("  {d}"))
            .collect::<Vec<_>>()
            .join("\n"),
    )))
}

/// `gantry lock [--check]`.
pub fn run(cli: &Cli, check: bool) -> Result<i32, Failure> {
    let (_rt, prepared) = load_and_prepare(cli, 1)?;
    let pipeline = &prepared.manifest.path;
    let path = lock_path(pipeline);
    let shown = path.display().to_string();
    let file_name = pipeline
        .file_name()
        .map(|f| f.to_string_lossy().into_owned())
        .unwrap_or_else(|| "pipeline.toml".into());
    let lock = Lock::of(&prepared);
    let text = lock.render(&file_name);
    let old = match std::fs::read_to_string(&path) {
        Ok(t) => Some(t),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(e) => return Err(Failure::Usage(format!("cannot read `{shown}`: {e}"))),
    };
    let differences = match old.as_deref().map(Lock::parse) {
        None => Vec::new(),
        Some(Ok(l)) => diff(&l, &lock),
        Some(Err(e)) => vec![format!("the previous lock could not be read: {e}")],
    };
    let stale = old.is_none() || !differences.is_empty();
    let report = |written: bool| {
        if cli.json {
            println!(
                "{}",
                serde_json::to_string_pretty(&json!({
                    "lock": shown,
                    "exists": old.is_some(),
                    "stale": stale,
                    "written": written,
                    "differences": differences,
                    "stages": lock.stages,
                }))
                .unwrap_or_default()
            );
        }
    };
    if check {
        report(false);
        if !cli.json {
            if old.is_none() {
                eprintln!(
                    "{}: `{shown}` does not exist\n  hint: run `gantry lock` and commit it",
                    style::red("stale")
                );
            } else if stale {
                eprintln!(
                    "{}: `{shown}` differs from `{}`",
                    style::red("stale"),
                    pipeline.display()
                );
                for d in &differences {
                    // Read from a `gantry.lock` anyone with the workspace could write.
                    eprintln!("  {}", crate::run::display::escape(d));
                }
                eprintln!(
                    "  hint: review the changes, then run `gantry lock` and commit `{FILE_NAME}`"
                );
            } else {
                eprintln!("{} `{shown}` is up to date", style::green("ok"));
            }
        }
        return Ok(if stale {
            exit::STAGE_FAILED
        } else {
            exit::SUCCESS
        });
    }
    let written = old.as_deref() != Some(text.as_str());
    if written {
        write_atomically(&path, &text)
            .map_err(|e| Failure::Internal(anyhow::anyhow!("cannot write `{shown}`: {e}")))?;
    }
    report(written);
    if !cli.json {
        for d in &differences {
            eprintln!("  {}", crate::run::display::escape(d));
        }
        let n = lock.stages.len();
        let what = format!("{n} stage{}", if n == 1 { "" } else { "s" });
        match (old.is_some(), written) {
            (false, _) => eprintln!(
                "{} wrote `{shown}` ({what}); review and commit it",
                style::green("ok")
            ),
            (true, true) => eprintln!(
                "{} updated `{shown}` ({what}); review the changes above and commit it",
                style::green("ok")
            ),
            (true, false) => eprintln!("{} `{shown}` is up to date ({what})", style::green("ok")),
        }
    }
    Ok(exit::SUCCESS)
}

fn write_atomically(path: &Path, text: &str) -> std::io::Result<()> {
    crate::run::atomic::write(path, text.as_bytes())
}

/// Grants (their `Serialize` form) as dotted keys → normalized values, without the
/// ones that grant nothing.
fn flatten_grants(grants: &Value) -> BTreeMap<String, Value> {
    let mut out = BTreeMap::new();
    flatten("", grants, &mut out);
    out
}

fn flatten(prefix: &str, v: &Value, out: &mut BTreeMap<String, Value>) {
    match v {
        Value::Object(o) if duration(v).is_none() => {
            for (k, v) in o {
                let p = if prefix.is_empty() {
                    k.clone()
                } else {
                    format!("{prefix}.{k}")
                };
                flatten(&p, v, out);
            }
        }
        _ if is_empty(v) || prefix.is_empty() => {}
        Value::Array(items) => {
            // A top-level grant list is a set.
            let mut items: Vec<Value> = items
                .iter()
                .filter(|i| !i.is_null())
                .map(normalize)
                .collect();
            items.sort_by_key(inline);
            items.dedup();
            out.insert(prefix.to_string(), Value::Array(items));
        }
        v => {
            out.insert(prefix.to_string(), normalize(v));
        }
    }
}

/// A `Duration` as serde writes it (`{ secs, nanos }`), as `5m`.
fn duration(v: &Value) -> Option<String> {
    let o = v.as_object()?;
    if o.len() != 2 {
        return None;
    }
    let secs = o.get("secs")?.as_u64()?;
    let nanos = u32::try_from(o.get("nanos")?.as_u64()?).ok()?;
    Some(crate::manifest::units::format_duration(
        std::time::Duration::new(secs, nanos),
    ))
}

/// Drops nulls (TOML has none) and writes durations as text (`5m`), so a value
/// reads well and compares equal after a round trip.
fn normalize(v: &Value) -> Value {
    if let Some(d) = duration(v) {
        return Value::String(d);
    }
    match v {
        Value::Object(o) => Value::Object(
            o.iter()
                .filter(|(_, v)| !v.is_null())
                .map(|(k, v)| (k.clone(), normalize(v)))
                .collect(),
        ),
        Value::Array(a) => Value::Array(a.iter().filter(|v| !v.is_null()).map(normalize).collect()),
        v => v.clone(),
    }
}

fn push_array(o: &mut String, k: &str, items: &[Value]) {
    if items.is_empty() {
        o.push_str(&format!("{k} = []\n"));
        return;
    }
    o.push_str(&format!("{k} = [\n"));
    for i in items {
        o.push_str(&format!("    {},\n", inline(i)));
    }
    o.push_str("]\n");
}

/// A value as one line of TOML: strings quoted, tables inline with sorted keys.
fn inline(v: &Value) -> String {
    match v {
        Value::Null => "\"\"".into(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        Value::String(s) => string(s),
        Value::Array(a) => format!(
            "[{}]",
            a.iter()
                .filter(|v| !v.is_null())
                .map(inline)
                .collect::<Vec<_>>()
                .join(", ")
        ),
        Value::Object(o) => {
            let mut fields: Vec<(&String, &Value)> =
                o.iter().filter(|(_, v)| !v.is_null()).collect();
            fields.sort_by(|a, b| a.0.cmp(b.0));
            if fields.is_empty() {
                return "{}".into();
            }
            let body = fields
                .iter()
                .map(|(k, v)| format!("{} = {}", key(k), inline(v)))
                .collect::<Vec<_>>()
                .join(", ");
            format!("{{ {body} }}")
        }
    }
}

/// A TOML key: bare when it can be, quoted otherwise.
fn key(k: &str) -> String {
    if !k.is_empty()
        && k.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    {
        k.to_string()
    } else {
        string(k)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Lock {
        let grants = json!({
            "fs": {"read": ["src", "."], "write": []},
            "env": ["CI"],
            "secrets": [],
            "reveal": [],
            "http": [{"url": "https://x.example/a\"b/", "scheme": "https", "host": "x.example", "port": 443, "path_prefix": "/a\"b/", "methods": ["GET"]}],
            "process": [{"cmd": "cargo", "args": ["clippy", "**"], "env": [], "read_only": true, "timeout": {"secs": 300, "nanos": 0}, "output": 1048576}],
        });
        let mut stages = BTreeMap::new();
        stages.insert(
            "lint".to_string(),
            LockedStage {
                plugin: "builtin:x".into(),
                digest: "sha256:00".into(),
                config: config_digest(&json!({"fail-on": "error"})),
                imports: vec!["a:b/c@0.1.0".into(), "wasi:cli/environment@0.2.6".into()],
                grants: flatten_grants(&grants),
            },
        );
        stages.insert(
            "bare".to_string(),
            LockedStage {
                plugin: "builtin:y".into(),
                digest: "sha256:11".into(),
                config: config_digest(&Value::Null),
                imports: vec![],
                grants: BTreeMap::new(),
            },
        );
        let mut secrets = BTreeMap::new();
        secrets.insert("NPM_TOKEN".to_string(), json!({"env": "NPM"}));
        Lock { secrets, stages }
    }

    #[test]
    fn round_trips_and_is_sorted() {
        let lock = sample();
        let text = lock.render("pipeline.toml");
        assert_eq!(Lock::parse(&text).expect("parses"), lock, "{text}");
        assert!(text.find("[stage.bare]") < text.find("[stage.lint]"));
        assert!(
            text.contains("grants.fs.read = [\n    \".\",\n    \"src\",\n]\n"),
            "{text}"
        );
        assert!(
            !text.contains("grants.secrets"),
            "empty grants are left out:\n{text}"
        );
        assert!(
            text.contains("timeout = \"5m\""),
            "durations read as text:\n{text}"
        );
    }

    #[test]
    fn diff_names_each_change() {
        let old = sample();
        let mut new = sample();
        let lint = new.stages.get_mut("lint").expect("lint");
        lint.digest = "sha256:22".into();
        lint.imports.push("wasi:http/outgoing-handler@0.2.6".into());
        lint.grants.insert("fs.write".into(), json!(["dist"]));
        new.stages.remove("bare");
        new.secrets
            .insert("NPM_TOKEN".into(), json!({"file": "npm.key"}));
        let d = diff(&old, &new);
        assert!(
            d.contains(&"stage lint: digest sha256:00 → sha256:22".to_string()),
            "{d:?}"
        );
        assert!(
            d.contains(&"stage lint: + import wasi:http/outgoing-handler@0.2.6".to_string()),
            "{d:?}"
        );
        assert!(
            d.contains(&"stage lint: + grants.fs.write = [\"dist\"]".to_string()),
            "{d:?}"
        );
        assert!(
            d.iter().any(|l| l.starts_with("stage bare: removed")),
            "{d:?}"
        );
        assert!(
            d.contains(
                &r#"secret NPM_TOKEN: source { env = "NPM" } → { file = "npm.key" }"#.to_string()
            ),
            "{d:?}"
        );
        assert!(diff(&old, &old).is_empty());
    }
}
