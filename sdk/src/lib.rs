//! # gantry-sdk: write gantry pipeline plugins in Rust
//!
//! A gantry plugin is a WebAssembly component that gantry runs as one stage of a
//! pipeline, in a sandbox: it sees the files its stage grants (under `/workspace`),
//! nothing else, and reports findings, outputs and artifacts back to the host.
//!
//! You implement [`Plugin`] and call [`export_plugin!`] once:
//!
//! ```no_run
//! use gantry_sdk::prelude::*;
//!
//! /// The stage's `with` table. Unknown keys are rejected before the stage runs,
//! /// because the host validates `with` against the JSON Schema derived here.
//! #[derive(Deserialize, JsonSchema)]
//! #[serde(deny_unknown_fields, rename_all = "kebab-case")]
//! struct Config {
//!     /// Files to check, relative to the workspace.
//!     paths: Vec<String>,
//!     #[serde(default)]
//!     max_lines: Option<usize>,
//! }
//!
//! struct TodoFinder;
//!
//! impl Plugin for TodoFinder {
//!     type Config = Config;
//!
//!     fn info() -> Info {
//!         Info::new(env!("CARGO_PKG_NAME"), env!("CARGO_PKG_VERSION"))
//!             .kind(Kind::Linter)
//!             .description("Reports TODO comments")
//!             .rule(Rule::new("todo", Level::Warning, "A TODO comment was left in the code"))
//!     }
//!
//!     fn run(cx: &Context, config: Config) -> Result<Report, Error> {
//!         let mut report = Report::new();
//!         for path in &config.paths {
//!             let text = std::fs::read_to_string(cx.workspace_path(path))
//!                 .map_err(|e| Error::failed(format!("cannot read `{path}`: {e}")))?;
//!             for (i, line) in text.lines().enumerate() {
//!                 if config.max_lines.is_some_and(|m| i >= m) {
//!                     break;
//!                 }
//!                 if line.contains("TODO") {
//!                     report.push(
//!                         Finding::new("todo", Level::Warning, "TODO left in the code")
//!                             .at(path, i as u32 + 1),
//!                     );
//!                 }
//!             }
//!         }
//!         log::info("scan finished", &[("files", &config.paths.len().to_string())]);
//!         let n = report.findings().len();
//!         Ok(report.summary(format!("{n} TODOs")).output("count", n.to_string()))
//!     }
//! }
//!
//! gantry_sdk::export_plugin!(TodoFinder);
//! ```
//!
//! Build it with `cargo build --target wasm32-wasip2 --release` and refer to the
//! `.wasm` from `pipeline.toml` as `file:target/wasm32-wasip2/release/NAME.wasm#sha256:…`
//! (`gantry plugin inspect FILE` prints the digest). `gantry plugin new NAME` writes
//! such a crate for you.
//!
//! What the host guarantees: [`Plugin::run`] receives a config that already matched
//! the schema of [`Plugin::Config`]; [`Plugin::info`] may be called any number of
//! times and must not have side effects.

#![allow(clippy::new_without_default)]

extern crate self as gantry_sdk;

use std::collections::BTreeMap;
use std::path::PathBuf;

pub use schemars;
pub use serde;
pub use serde_json;

/// Generated WIT bindings. Not part of the stable API: use the types of this crate.
#[doc(hidden)]
pub mod bindings {
    wit_bindgen::generate!({
        path: "../wit",
        world: "plugin",
        pub_export_macro: true,
        export_macro_name: "__export_plugin_world",
        default_bindings_module: "gantry_sdk::bindings",
        runtime_path: "gantry_sdk::__private::wit_bindgen::rt",
    });
}

#[doc(hidden)]
pub mod __private {
    pub use wit_bindgen;

    use super::*;
    use bindings::gantry::plugin::types as wit;

    /// `describe` for plugin `P`.
    pub fn describe<P: Plugin>() -> wit::PluginInfo {
        let info = P::info();
        let schema = schemars::schema_for!(P::Config);
        wit::PluginInfo {
            name: info.name,
            version: info.version,
            kind: info.kind.into(),
            description: info.description,
            rules: info.rules.into_iter().map(Into::into).collect(),
            config_schema: serde_json::to_string(&schema).unwrap_or_else(|_| "{}".into()),
        }
    }

    /// `run` for plugin `P`: parse the config (naming the key on error), call the plugin.
    pub fn run<P: Plugin>(ctx: wit::StageContext) -> Result<wit::StageReport, wit::StageError> {
        let de = &mut serde_json::Deserializer::from_str(&ctx.config);
        let config: P::Config = serde_path_to_error::deserialize(de).map_err(|e| {
            let path = e.path().to_string();
            let inner = e.into_inner();
            if path == "." {
                wit::StageError::InvalidConfig(inner.to_string())
            } else {
                wit::StageError::InvalidConfig(format!("`{path}`: {inner}"))
            }
        })?;
        let cx = Context::from(ctx);
        match P::run(&cx, config) {
            Ok(mut report) => {
                report.summary = without_os_error(&report.summary);
                for f in &mut report.findings {
                    f.message = without_os_error(&f.message);
                }
                Ok(report.into())
            }
            Err(e) => Err(e.into()),
        }
    }

    /// `No such file or directory (os error 44)` → `No such file or directory`.
    ///
    /// Inside the sandbox `std::io::Error` carries WASI's error numbers, which are not
    /// the host's (44 is WASI's `ENOENT`, Linux's `ECHRNG`): shown to a user, the number
    /// only misleads. The description before it says the same thing.
    pub fn without_os_error(text: &str) -> String {
        const MARK: &str = " (os error ";
        let mut out = String::with_capacity(text.len());
        let mut rest = text;
        while let Some(i) = rest.find(MARK) {
            let after = &rest[i + MARK.len()..];
            let digits = after.bytes().take_while(u8::is_ascii_digit).count();
            if digits > 0 && after[digits..].starts_with(')') {
                out.push_str(&rest[..i]);
                rest = &after[digits + 1..];
            } else {
                out.push_str(&rest[..i + MARK.len()]);
                rest = after;
            }
        }
        out.push_str(rest);
        out
    }
}

pub mod containers;
pub mod files;
pub mod glob;
pub mod http;
pub mod process;
pub mod secrets;
pub mod units;

/// Plugin authors: `use gantry_sdk::prelude::*;`
pub mod prelude {
    pub use crate::{
        Context, Error, Finding, Fix, Info, Kind, Level, Outcome, Plugin, Region, Report, Rule,
        StageFindings, UpstreamFinding, log, process,
    };
    pub use schemars::JsonSchema;
    pub use serde::Deserialize;
}

/// What a plugin implements. See the crate docs for a complete example.
pub trait Plugin {
    /// The stage's `with` table. Derive `Deserialize` and `JsonSchema`; use
    /// `#[serde(deny_unknown_fields, rename_all = "kebab-case")]` so typos are caught
    /// by `gantry check` and keys look like the rest of pipeline.toml.
    ///
    /// A key whose value is the *name* of a secret (which the plugin then passes to
    /// [`secrets::get`]) should say so in the schema, so `gantry check` verifies that
    /// the secret is declared in `[secrets]` and granted to the stage before anything
    /// runs: `#[schemars(extend("x-gantry-secret" = true))]` on the field.
    type Config: serde::de::DeserializeOwned + schemars::JsonSchema;

    /// Name, version, kind, rules. Called by `gantry check`, `inspect` and before runs.
    fn info() -> Info;

    /// Do the stage's work.
    fn run(cx: &Context, config: Self::Config) -> Result<Report, Error>;
}

/// Exports `P` as the component's `describe` and `run`. Call it once per crate.
#[macro_export]
macro_rules! export_plugin {
    ($plugin:ty) => {
        #[doc(hidden)]
        struct __GantryExport;
        impl $crate::bindings::Guest for __GantryExport {
            fn describe() -> $crate::bindings::gantry::plugin::types::PluginInfo {
                $crate::__private::describe::<$plugin>()
            }
            fn run(
                ctx: $crate::bindings::gantry::plugin::types::StageContext,
            ) -> ::core::result::Result<
                $crate::bindings::gantry::plugin::types::StageReport,
                $crate::bindings::gantry::plugin::types::StageError,
            > {
                $crate::__private::run::<$plugin>(ctx)
            }
        }
        $crate::bindings::__export_plugin_world!(__GantryExport with_types_in $crate::bindings);
    };
}

/// SARIF level of a finding or rule, ordered `Note < Warning < Error`. Serialised
/// (and described in a config's JSON Schema) as `note`, `warning`, `error`, so a
/// plugin uses it directly in its config and its own reports instead of redefining it.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    serde::Serialize,
    serde::Deserialize,
    schemars::JsonSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    Note,
    Warning,
    Error,
}

impl Level {
    /// Most severe first.
    pub const ALL: [Level; 3] = [Level::Error, Level::Warning, Level::Note];

    /// `note`, `warning` or `error`, as in SARIF.
    pub fn as_str(self) -> &'static str {
        match self {
            Level::Note => "note",
            Level::Warning => "warning",
            Level::Error => "error",
        }
    }
}

/// The URL of a file of the calling plugin's crate in the repository, for rule help
/// links: `rules_url!()` is `<repository>/blob/main/plugins/<crate name>/RULES.md`,
/// `rules_url!("README.md")` names another file. Expands in the plugin's crate, so
/// the repository and name are the plugin's (`CARGO_PKG_REPOSITORY`, `CARGO_PKG_NAME`).
#[macro_export]
macro_rules! rules_url {
    () => {
        $crate::rules_url!("RULES.md")
    };
    ($file:literal) => {
        concat!(
            env!("CARGO_PKG_REPOSITORY"),
            "/blob/main/plugins/",
            env!("CARGO_PKG_NAME"),
            "/",
            $file
        )
    };
}

/// What the plugin is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Linter,
    Scanner,
    Changelog,
    Publisher,
    Deployer,
    Verifier,
    Gate,
    Other,
}

/// A rule the plugin may report; becomes SARIF rule metadata.
#[derive(Debug, Clone)]
pub struct Rule {
    pub id: String,
    pub default_level: Level,
    pub short_description: String,
    pub full_description: String,
    pub help_uri: Option<String>,
}

impl Rule {
    pub fn new(id: impl Into<String>, level: Level, short: impl Into<String>) -> Rule {
        let short = short.into();
        Rule {
            id: id.into(),
            default_level: level,
            full_description: short.clone(),
            short_description: short,
            help_uri: None,
        }
    }
    pub fn full(mut self, text: impl Into<String>) -> Rule {
        self.full_description = text.into();
        self
    }
    pub fn help(mut self, uri: impl Into<String>) -> Rule {
        self.help_uri = Some(uri.into());
        self
    }
}

/// Static facts about a plugin.
#[derive(Debug, Clone)]
pub struct Info {
    pub name: String,
    pub version: String,
    pub kind: Kind,
    pub description: String,
    pub rules: Vec<Rule>,
}

impl Info {
    /// Usually `Info::new(env!("CARGO_PKG_NAME"), env!("CARGO_PKG_VERSION"))`.
    pub fn new(name: impl Into<String>, version: impl Into<String>) -> Info {
        Info {
            name: name.into(),
            version: version.into(),
            kind: Kind::Other,
            description: String::new(),
            rules: Vec::new(),
        }
    }
    pub fn kind(mut self, kind: Kind) -> Info {
        self.kind = kind;
        self
    }
    pub fn description(mut self, text: impl Into<String>) -> Info {
        self.description = text.into();
        self
    }
    pub fn rule(mut self, rule: Rule) -> Info {
        self.rules.push(rule);
        self
    }
}

/// Git facts the host knows about the checkout.
#[derive(Debug, Clone, Default)]
pub struct Git {
    pub sha: Option<String>,
    pub branch: Option<String>,
    pub tag: Option<String>,
}

/// What a stage knows about its run.
#[derive(Debug, Clone)]
pub struct Context {
    pub pipeline: String,
    pub stage: String,
    pub run_id: String,
    /// `gantry run --dry-run`: do not change anything outside the sandbox; say what
    /// you would do instead.
    pub dry_run: bool,
    pub git: Git,
    /// Outputs of the stages this stage `needs`: stage → key → value.
    pub inputs: BTreeMap<String, BTreeMap<String, String>>,
    /// Findings of the stages in this stage's `needs` (direct only), in `needs` order.
    pub upstream: Vec<StageFindings>,
    workspace: PathBuf,
}

impl Context {
    /// Guest path of a workspace-relative path (`src/main.rs` → `/workspace/src/main.rs`).
    /// Only paths under the stage's `grants.fs` are actually reachable.
    pub fn workspace_path(&self, relative: &str) -> PathBuf {
        let rel = relative.trim_start_matches("./");
        if rel.is_empty() || rel == "." {
            self.workspace.clone()
        } else {
            self.workspace.join(rel)
        }
    }

    /// The guest directory under which granted paths are preopened.
    pub fn workspace(&self) -> &std::path::Path {
        &self.workspace
    }

    /// Output `key` of a needed stage.
    pub fn input(&self, stage: &str, key: &str) -> Option<&str> {
        self.inputs.get(stage)?.get(key).map(String::as_str)
    }
}

impl From<bindings::gantry::plugin::types::StageContext> for Context {
    fn from(c: bindings::gantry::plugin::types::StageContext) -> Context {
        Context {
            pipeline: c.pipeline,
            stage: c.stage,
            run_id: c.run_id,
            dry_run: c.dry_run,
            git: Git {
                sha: c.git.sha,
                branch: c.git.branch,
                tag: c.git.tag,
            },
            inputs: c
                .inputs
                .into_iter()
                .map(|i| (i.stage, i.outputs.into_iter().collect()))
                .collect(),
            upstream: c
                .upstream
                .into_iter()
                .map(|u| StageFindings {
                    stage: u.stage,
                    plugin: u.plugin,
                    status: u.status,
                    findings: u
                        .findings
                        .into_iter()
                        .map(|f| UpstreamFinding {
                            baselined: f.baselined,
                            finding: f.finding.into(),
                        })
                        .collect(),
                })
                .collect(),
            workspace: PathBuf::from(c.workspace),
        }
    }
}

/// The findings of a stage this stage `needs` directly ([`Context::upstream`]).
#[derive(Debug, Clone)]
pub struct StageFindings {
    pub stage: String,
    /// The upstream plugin's name.
    pub plugin: String,
    /// `succeeded` or `failed-allowed`.
    pub status: String,
    pub findings: Vec<UpstreamFinding>,
}

/// An upstream finding and whether the upstream stage's `baseline` accepted it.
#[derive(Debug, Clone)]
pub struct UpstreamFinding {
    /// Its fingerprint is always set (the host computes one when a plugin did not).
    pub finding: Finding,
    /// In the upstream stage's baseline: known, accepted, not counted by its `fail-on`.
    pub baselined: bool,
}

/// A region of a text file: 1-based lines and columns, end column exclusive.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Region {
    pub start_line: u32,
    pub start_column: Option<u32>,
    pub end_line: Option<u32>,
    pub end_column: Option<u32>,
}

impl Region {
    pub fn line(line: u32) -> Region {
        Region {
            start_line: line,
            start_column: None,
            end_line: None,
            end_column: None,
        }
    }
    /// One line, columns `start..end` (end exclusive).
    pub fn columns(line: u32, start: u32, end: u32) -> Region {
        Region {
            start_line: line,
            start_column: Some(start),
            end_line: Some(line),
            end_column: Some(end),
        }
    }
}

/// A proposed edit.
#[derive(Debug, Clone)]
pub struct Fix {
    pub description: String,
    pub path: String,
    pub deleted: Region,
    pub inserted: String,
}

/// One result; maps one-to-one to a SARIF result.
#[derive(Debug, Clone)]
pub struct Finding {
    pub rule_id: String,
    pub level: Level,
    pub message: String,
    pub path: Option<String>,
    pub region: Option<Region>,
    pub fingerprint: Option<String>,
    pub help_uri: Option<String>,
    pub fix: Option<Fix>,
}

impl Finding {
    pub fn new(rule_id: impl Into<String>, level: Level, message: impl Into<String>) -> Finding {
        Finding {
            rule_id: rule_id.into(),
            level,
            message: message.into(),
            path: None,
            region: None,
            fingerprint: None,
            help_uri: None,
            fix: None,
        }
    }
    /// Workspace-relative path and 1-based line.
    pub fn at(mut self, path: impl Into<String>, line: u32) -> Finding {
        self.path = Some(path.into());
        self.region = Some(Region::line(line));
        self
    }
    /// Workspace-relative path without a region (whole file).
    pub fn in_file(mut self, path: impl Into<String>) -> Finding {
        self.path = Some(path.into());
        self
    }
    pub fn region(mut self, region: Region) -> Finding {
        self.region = Some(region);
        self
    }
    /// A value stable across line moves (e.g. a hash of rule, path and matched text);
    /// baselines match on it.
    pub fn fingerprint(mut self, fp: impl Into<String>) -> Finding {
        self.fingerprint = Some(fp.into());
        self
    }
    pub fn help(mut self, uri: impl Into<String>) -> Finding {
        self.help_uri = Some(uri.into());
        self
    }
    pub fn fix(mut self, fix: Fix) -> Finding {
        self.fix = Some(fix);
        self
    }
}

/// Whether the stage lets the pipeline go on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Success,
    Failure,
}

/// What a stage hands back.
///
/// By default the outcome follows the findings, and the host decides: the stage fails
/// when a finding at or above the stage's `fail-on` level (default `error`) is not in
/// the stage's `baseline`. Set it explicitly with [`Report::outcome`] when the plugin
/// decides for itself (a gate below its threshold); an explicit failure is final.
#[derive(Debug, Clone)]
pub struct Report {
    outcome: Option<Outcome>,
    summary: String,
    findings: Vec<Finding>,
    outputs: Vec<(String, String)>,
    artifacts: Vec<String>,
}

impl Report {
    pub fn new() -> Report {
        Report {
            outcome: None,
            summary: String::new(),
            findings: Vec::new(),
            outputs: Vec::new(),
            artifacts: Vec::new(),
        }
    }
    pub fn summary(mut self, text: impl Into<String>) -> Report {
        self.summary = text.into();
        self
    }
    pub fn outcome(mut self, outcome: Outcome) -> Report {
        self.outcome = Some(outcome);
        self
    }
    pub fn push(&mut self, finding: Finding) {
        self.findings.push(finding);
    }
    pub fn finding(mut self, finding: Finding) -> Report {
        self.findings.push(finding);
        self
    }
    pub fn findings(&self) -> &[Finding] {
        &self.findings
    }
    /// A value later stages read as `${stages.THIS.outputs.KEY}`.
    pub fn output(mut self, key: impl Into<String>, value: impl Into<String>) -> Report {
        self.outputs.push((key.into(), value.into()));
        self
    }
    /// A workspace-relative file the host collects and digests after the stage.
    pub fn artifact(mut self, path: impl Into<String>) -> Report {
        self.artifacts.push(path.into());
        self
    }
    /// `None`: the plugin did not decide, its findings do (see [`Report::outcome`]).
    fn effective_outcome(&self) -> Option<Outcome> {
        self.outcome
    }
}

/// Why a stage could not do its job.
#[derive(Debug, Clone)]
pub enum Error {
    /// The config is unusable; say which key.
    InvalidConfig(String),
    /// A capability was refused; pass the host's message on.
    Denied(String),
    Failed(String),
}

impl Error {
    pub fn failed(msg: impl Into<String>) -> Error {
        Error::Failed(msg.into())
    }
    pub fn config(msg: impl Into<String>) -> Error {
        Error::InvalidConfig(msg.into())
    }
}

impl std::fmt::Display for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Error::InvalidConfig(m) => write!(f, "invalid config: {m}"),
            Error::Denied(m) => write!(f, "denied: {m}"),
            Error::Failed(m) => f.write_str(m),
        }
    }
}

impl std::error::Error for Error {}

impl From<std::io::Error> for Error {
    fn from(e: std::io::Error) -> Error {
        if e.kind() == std::io::ErrorKind::PermissionDenied {
            Error::Denied(e.to_string())
        } else {
            Error::Failed(e.to_string())
        }
    }
}

/// Structured logging into the stage's log (redacted and capped by the host).
pub mod log {
    use crate::bindings::gantry::plugin::log as wit;

    fn emit(level: wit::Level, message: &str, fields: &[(&str, &str)]) {
        use crate::__private::without_os_error;
        let fields: Vec<wit::Field> = fields
            .iter()
            .map(|(k, v)| wit::Field {
                key: (*k).to_string(),
                value: without_os_error(v),
            })
            .collect();
        wit::log(level, &without_os_error(message), &fields);
    }
    pub fn trace(message: &str, fields: &[(&str, &str)]) {
        emit(wit::Level::Trace, message, fields)
    }
    pub fn debug(message: &str, fields: &[(&str, &str)]) {
        emit(wit::Level::Debug, message, fields)
    }
    pub fn info(message: &str, fields: &[(&str, &str)]) {
        emit(wit::Level::Info, message, fields)
    }
    pub fn warn(message: &str, fields: &[(&str, &str)]) {
        emit(wit::Level::Warn, message, fields)
    }
    pub fn error(message: &str, fields: &[(&str, &str)]) {
        emit(wit::Level::Error, message, fields)
    }
    /// `done` of `total` units.
    pub fn progress(done: u64, total: Option<u64>, message: &str) {
        wit::progress(done, total, message)
    }
}

mod convert {
    use super::*;
    use bindings::gantry::plugin::types as wit;

    impl From<Level> for wit::Level {
        fn from(l: Level) -> wit::Level {
            match l {
                Level::Note => wit::Level::Note,
                Level::Warning => wit::Level::Warning,
                Level::Error => wit::Level::Error,
            }
        }
    }
    impl From<Kind> for wit::PluginKind {
        fn from(k: Kind) -> wit::PluginKind {
            match k {
                Kind::Linter => wit::PluginKind::Linter,
                Kind::Scanner => wit::PluginKind::Scanner,
                Kind::Changelog => wit::PluginKind::Changelog,
                Kind::Publisher => wit::PluginKind::Publisher,
                Kind::Deployer => wit::PluginKind::Deployer,
                Kind::Verifier => wit::PluginKind::Verifier,
                Kind::Gate => wit::PluginKind::Gate,
                Kind::Other => wit::PluginKind::Other,
            }
        }
    }
    impl From<Rule> for wit::Rule {
        fn from(r: Rule) -> wit::Rule {
            wit::Rule {
                id: r.id,
                short_description: r.short_description,
                full_description: r.full_description,
                default_level: r.default_level.into(),
                help_uri: r.help_uri,
            }
        }
    }
    impl From<Region> for wit::Region {
        fn from(r: Region) -> wit::Region {
            wit::Region {
                start_line: r.start_line,
                start_column: r.start_column,
                end_line: r.end_line,
                end_column: r.end_column,
            }
        }
    }
    impl From<wit::Level> for Level {
        fn from(l: wit::Level) -> Level {
            match l {
                wit::Level::Note => Level::Note,
                wit::Level::Warning => Level::Warning,
                wit::Level::Error => Level::Error,
            }
        }
    }
    impl From<wit::Region> for Region {
        fn from(r: wit::Region) -> Region {
            Region {
                start_line: r.start_line,
                start_column: r.start_column,
                end_line: r.end_line,
                end_column: r.end_column,
            }
        }
    }
    impl From<wit::Finding> for Finding {
        fn from(f: wit::Finding) -> Finding {
            let (path, region) = match f.location {
                Some(l) => (Some(l.path), l.region.map(Into::into)),
                None => (None, None),
            };
            Finding {
                rule_id: f.rule_id,
                level: f.level.into(),
                message: f.message,
                path,
                region,
                fingerprint: f.fingerprint,
                help_uri: f.help_uri,
                fix: f.fix.map(|x| Fix {
                    description: x.description,
                    path: x.path,
                    deleted: x.deleted.into(),
                    inserted: x.inserted,
                }),
            }
        }
    }
    impl From<Finding> for wit::Finding {
        fn from(f: Finding) -> wit::Finding {
            wit::Finding {
                rule_id: f.rule_id,
                level: f.level.into(),
                message: f.message,
                location: f.path.map(|path| wit::Location {
                    path,
                    region: f.region.map(Into::into),
                }),
                fingerprint: f.fingerprint,
                help_uri: f.help_uri,
                fix: f.fix.map(|x| wit::Fix {
                    description: x.description,
                    path: x.path,
                    deleted: x.deleted.into(),
                    inserted: x.inserted,
                }),
            }
        }
    }
    impl From<Report> for wit::StageReport {
        fn from(r: Report) -> wit::StageReport {
            let outcome = match r.effective_outcome() {
                Some(Outcome::Success) => wit::Outcome::Success,
                Some(Outcome::Failure) => wit::Outcome::Failure,
                None => wit::Outcome::ByFindings,
            };
            wit::StageReport {
                outcome,
                summary: r.summary,
                findings: r.findings.into_iter().map(Into::into).collect(),
                outputs: r.outputs,
                artifacts: r.artifacts,
            }
        }
    }
    impl From<Error> for wit::StageError {
        fn from(e: Error) -> wit::StageError {
            use crate::__private::without_os_error as clean;
            match e {
                Error::InvalidConfig(m) => wit::StageError::InvalidConfig(clean(&m)),
                Error::Denied(m) => wit::StageError::Denied(clean(&m)),
                Error::Failed(m) => wit::StageError::Failed(clean(&m)),
            }
        }
    }
}

#[cfg(test)]
mod os_error_tests {
    use super::__private::without_os_error;

    #[test]
    fn wasi_error_numbers_are_dropped() {
        assert_eq!(
            without_os_error("`a.txt`: No such file or directory (os error 44)"),
            "`a.txt`: No such file or directory"
        );
        assert_eq!(
            without_os_error("x (os error 2) and y (os error 76)!"),
            "x and y!"
        );
        // Not the std form: left alone.
        for s in ["(os error )", "a (os error x)", "a (os error 12", "plain"] {
            assert_eq!(without_os_error(s), s);
        }
    }
}
