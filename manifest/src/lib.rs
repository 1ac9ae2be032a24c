//! `pipeline.toml`: schema, parsing with spans, static validation, diagnostics.
//!
//! ```toml
//! [pipeline]
//! name = "gantry"                       # [a-z0-9][a-z0-9-]*
//!
//! [defaults]                            # optional: timeout, retries, allow-failure, limits
//! timeout = "10m"                       # (and memory/stack/fuel/stdout as shorthands for limits.*)
//!
//! [secrets]                             # optional: where secret values come from, never this file
//! REGISTRY_TOKEN = { env = "CI_REGISTRY_TOKEN" }   # an environment variable of gantry
//! DEPLOY_KEY = { file = "secrets/deploy.key" }     # relative to this file's directory, or absolute
//!
//! [stage.secrets]                       # [a-z0-9][a-z0-9_-]*, at most 63 characters
//! plugin = "builtin:secret-scan"        # or "file:plugins/x.wasm#sha256:<64 hex>"
//! with = { paths = ["."] }              # plugin config, any table (→ JSON object)
//! needs = []                            # stages that must succeed first
//! when = { branch = ["main", "release/*"], tag = "v*", env = ["DEPLOY_TOKEN"] }
//! timeout = "30s"                       # default 10m, at most 24h
//! retries = 1                           # 0..=10
//! allow-failure = false
//! grants.fs.read = ["."]                # workspace-relative; see [`grants`] for all grants:
//! grants.env = ["CI"]                   # host environment variables the plugin sees
//! grants.secrets = ["REGISTRY_TOKEN"]   # secret handles (declared in [secrets])
//! grants.reveal = ["DEPLOY_KEY"]        # secrets whose value the plugin may read
//! grants.http = ["https://api.example.com/v1/"]   # origins + path prefixes, optional methods
//! grants.process = [{ cmd = "cargo", args = ["clippy", "**"] }]   # host commands + argument globs
//! limits = { memory = "256MiB", stack = "1MiB", fuel = 1000000000, stdout = "1MiB" }
//! fail-on = "error"                     # note | warning | error | never (also in [defaults])
//! baseline = "baselines/secrets.json"   # accepted findings; see [`findings`]
//! ```
//!
//! What it refuses, each with file:line:column, the offending key or value, and a hint:
//! unknown keys at any level (with the nearest valid key), wrong types, invalid names,
//! `needs` naming unknown stages or the stage itself, dependency cycles (shown as
//! `a -> b -> a`), unpinned or malformed plugin references, grant paths outside the
//! workspace, unknown capabilities, malformed grants (env names, undeclared
//! secrets, http URLs with credentials/query/bad wildcards, process grants of paths,
//! globs or shells with free arguments — see [`grants`]), secrets written as
//! literal values (the error never shows the value — see [`secrets`]),
//! out-of-range timeouts/retries/limits, and `${…}` placeholders that are malformed
//! or use a stage the stage does not need (see [`interp`]). All errors of a file are reported at once, in file order —
//! except TOML syntax errors, where only the first is reported.
//!
//! What needs the plugins themselves (does `builtin:x` exist, does the digest match,
//! is `with` valid against the plugin's schema, does it import only granted
//! capabilities) is checked later; [`Manifest::config_span`] and [`Manifest::diag`]
//! let those checks point into this file too.
//!
//! Tests: unit tests in each submodule and below; golden error output in
//! `host/tests/ui/*.toml` → `*.err`, run by `host/tests/ui.rs`
//! (`UPDATE_GOLDEN=1 cargo test -p gantry --test ui` rewrites them).

mod diag;
pub mod environments;
pub mod findings;
pub mod grants;
mod graph;
pub mod inputs;
pub mod interp;
pub mod net;
mod parse;
mod schema;
pub mod secrets;
mod suggest;
pub mod text;
pub mod units;
mod walk;

use std::collections::HashMap;
use std::path::{Path, PathBuf};

pub use diag::{Diagnostic, Diagnostics, Span, line_col};
pub use findings::{Baseline, FailOn};
pub use grants::{
    CAPABILITIES, ContainersGrant, DEFAULT_PROCESS_OUTPUT, FsGrants, Grants, HttpGrant,
    ImagePattern, ImageRef, ProcessGrant, code_variable, covers, expand_host_path,
    host_path_refusal, launchers, normalize_workspace_path,
};
pub use schema::{DEFAULT_TIMEOUT, Limits, MAX_RETRIES, MAX_TIMEOUT, Stage, When, when_glob_match};
pub use secrets::{SecretDecl, SecretSource};
pub use suggest::did_you_mean;

/// A parsed and statically validated `pipeline.toml`.
#[derive(Clone, Debug)]
pub struct Manifest {
    /// The path as given to [`Manifest::load`] / [`Manifest::parse`] (used in messages).
    pub path: PathBuf,
    pub source: String,
    pub name: String,
    pub description: Option<String>,
    /// `[secrets]`, in file order: where each secret's value comes from.
    pub secrets: Vec<SecretDecl>,
    /// `[inputs]`, in file order: the typed values a run is started with.
    pub inputs: Vec<inputs::InputDecl>,
    /// `[environments]`: where deploy stages deploy to, and who may.
    pub environments: Vec<environments::Environment>,
    /// In file order.
    pub stages: Vec<Stage>,
    spans: HashMap<String, StageSpans>,
}

/// Where a stage's parts are in the source, for diagnostics raised after parsing.
#[derive(Clone, Debug, Default)]
pub(crate) struct StageSpans {
    header: Span,
    with_key: Option<Span>,
    /// JSON pointer inside `with` → (span of its key if it has one, span of its value).
    config: HashMap<String, (Option<Span>, Span)>,
    /// `read/<path>` and `write/<path>` of `grants.fs` (normalized path) → span of the
    /// path as written.
    pub(crate) fs: HashMap<String, Span>,
}

impl Manifest {
    /// The `[environments]` entry named `name`.
    pub fn environment(&self, name: &str) -> Option<&environments::Environment> {
        self.environments.iter().find(|e| e.name == name)
    }

    /// Reads and validates `path`, and checks that every stage's `baseline` file
    /// exists. Messages show `path` as given.
    pub fn load(path: &Path) -> Result<Manifest, Diagnostics> {
        let m = Self::load_allowing_missing_baselines(path)?;
        let missing: Vec<Diagnostic> = m
            .stages
            .iter()
            .filter_map(|s| {
                let b = s.baseline.as_ref()?;
                let file = b.resolve(m.dir());
                if file.is_file() {
                    return None;
                }
                let why = if file.exists() {
                    "is not a file"
                } else {
                    "does not exist"
                };
                Some(
                    m.diag(
                        b.span,
                        format!(
                            "baseline file `{}` of stage `{}` {why}",
                            file.display(),
                            s.name
                        ),
                    )
                    .with_hint(format!(
                        "write it from the latest run's findings with `gantry baseline {}`, or remove `baseline`",
                        s.name
                    )),
                )
            })
            .collect();
        if missing.is_empty() {
            Ok(m)
        } else {
            Err(Diagnostics(missing))
        }
    }

    /// [`Manifest::load`] without the check that baseline files exist: what
    /// `gantry baseline` uses, since it is what creates them.
    pub fn load_allowing_missing_baselines(path: &Path) -> Result<Manifest, Diagnostics> {
        let bytes = std::fs::read(path).map_err(|e| {
            let d = Diagnostic::plain(format!("cannot read `{}`: {e}", path.display()));
            Diagnostics(vec![d])
        })?;
        let source = String::from_utf8(bytes).map_err(|e| {
            let d = Diagnostic::plain(format!(
                "`{}` is not valid UTF-8 (invalid byte at offset {})",
                path.display(),
                e.utf8_error().valid_up_to()
            ));
            Diagnostics(vec![d])
        })?;
        Self::parse(path, &source)
    }

    /// Parses and validates `source`; `path_for_messages` is shown in diagnostics and
    /// its directory is where `file:` plugin paths are relative to.
    pub fn parse(path_for_messages: &Path, source: &str) -> Result<Manifest, Diagnostics> {
        parse::parse(path_for_messages, source)
    }

    /// The directory `file:` plugin paths are relative to (`.` for a bare file name).
    pub fn dir(&self) -> &Path {
        match self.path.parent() {
            Some(p) if !p.as_os_str().is_empty() => p,
            _ => Path::new("."),
        }
    }

    /// Byte span of the value at JSON pointer `pointer` (e.g. `/paths/0`) in stage
    /// `stage`'s `with` table; if there is no such value, the key of the nearest
    /// enclosing entry, then the `with` key, then the stage header. An unknown stage
    /// gives the start of the file.
    pub fn config_span(&self, stage: &str, pointer: &str) -> Span {
        let Some(spans) = self.spans.get(stage) else {
            return Span::default();
        };
        if let Some((_, value)) = spans.config.get(pointer) {
            return *value;
        }
        let mut p = pointer;
        while let Some(i) = p.rfind('/') {
            p = &p[..i];
            if p.is_empty() {
                break;
            }
            if let Some((key, value)) = spans.config.get(p) {
                return key.unwrap_or(*value);
            }
        }
        spans.with_key.unwrap_or(spans.header)
    }

    /// Span of `path` (normalized, as stored) in `grants.fs.read` (`write = false`) or
    /// `grants.fs.write` of stage `stage`; the stage header if unknown.
    pub fn fs_grant_span(&self, stage: &str, write: bool, path: &str) -> Span {
        let Some(spans) = self.spans.get(stage) else {
            return Span::default();
        };
        let key = format!("{}/{path}", if write { "write" } else { "read" });
        spans.fs.get(&key).copied().unwrap_or(spans.header)
    }

    /// A diagnostic pointing at `span` in this file.
    pub fn diag(&self, span: Span, message: impl Into<String>) -> Diagnostic {
        Diagnostic::at(&self.path, &self.source, span, message)
    }

    pub fn stage(&self, name: &str) -> Option<&Stage> {
        self.stages.iter().find(|s| s.name == name)
    }

    /// The `[secrets]` entry named `name`.
    pub fn secret(&self, name: &str) -> Option<&SecretDecl> {
        self.secrets.iter().find(|s| s.name == name)
    }

    fn graph(&self) -> graph::Graph {
        let index: HashMap<&str, usize> = self
            .stages
            .iter()
            .enumerate()
            .map(|(i, s)| (s.name.as_str(), i))
            .collect();
        graph::Graph {
            deps: self
                .stages
                .iter()
                .map(|s| {
                    s.needs
                        .iter()
                        .filter_map(|n| index.get(n.as_str()).copied())
                        .collect()
                })
                .collect(),
        }
    }

    /// Stage names in a deterministic topological order: a stage comes after
    /// everything it needs; among stages that are ready together, file order wins.
    pub fn topo_order(&self) -> Vec<&str> {
        self.graph()
            .topo()
            .into_iter()
            .map(|i| self.stages[i].name.as_str())
            .collect()
    }

    /// `names` plus every stage they need, transitively, in [`Manifest::topo_order`].
    /// An unknown name is an error suggesting the nearest stage.
    pub fn closure(&self, names: &[String]) -> Result<Vec<String>, Diagnostic> {
        let graph = self.graph();
        let mut wanted = vec![false; self.stages.len()];
        for name in names {
            let Some(i) = self.stages.iter().position(|s| &s.name == name) else {
                let all: Vec<&str> = self.stages.iter().map(|s| s.name.as_str()).collect();
                let hint = match did_you_mean(name, all.iter().copied()) {
                    Some(m) => format!("did you mean `{m}`?"),
                    None => format!(
                        "stages in `{}`: {}",
                        self.path.display(),
                        suggest::ticked(&all)
                    ),
                };
                return Err(Diagnostic::plain(format!(
                    "no stage named `{name}` in pipeline `{}`",
                    self.name
                ))
                .with_hint(hint));
            };
            wanted[i] = true;
            for (j, r) in graph.ancestors(i).into_iter().enumerate() {
                wanted[j] |= r;
            }
        }
        Ok(graph
            .topo()
            .into_iter()
            .filter(|&i| wanted[i])
            .map(|i| self.stages[i].name.clone())
            .collect())
    }

    /// Stage `name` and every stage that needs it, directly or transitively, in
    /// [`Manifest::topo_order`] (what a rollback of `name` runs again: the deploy and
    /// its verification). Empty for an unknown name.
    pub fn dependents(&self, name: &str) -> Vec<String> {
        let graph = self.graph();
        let Some(i) = self.stages.iter().position(|s| s.name == name) else {
            return Vec::new();
        };
        graph
            .topo()
            .into_iter()
            .filter(|&j| j == i || graph.ancestors(j)[i])
            .map(|j| self.stages[j].name.clone())
            .collect()
    }
}

/// Internals the fuzz targets in `fuzz/` exercise directly. Not a stable API.
#[doc(hidden)]
pub mod fuzzing {
    /// The argument glob of `grants.process` and of image tags (`*` crosses `/`).
    pub use crate::grants::process::arg_glob_match;
    pub use crate::grants::process::{arg_matches, widened};
}

#[cfg(test)]
mod tests;
