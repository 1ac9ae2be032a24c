//! Host-side model of what plugins report.
//!
//! These types are the host's own, converted from the WIT bindings of whichever
//! contract version a plugin was built against, so records and reports do not
//! change shape when the contract gains a version.

use serde::{Deserialize, Serialize};

/// SARIF `level`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    Note,
    Warning,
    Error,
}

impl Level {
    pub fn as_str(self) -> &'static str {
        match self {
            Level::Note => "note",
            Level::Warning => "warning",
            Level::Error => "error",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rule {
    pub id: String,
    pub short_description: String,
    pub full_description: String,
    pub default_level: Level,
    pub help_uri: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PluginInfo {
    pub name: String,
    pub version: String,
    /// `linter`, `scanner`, `changelog`, `publisher`, `deployer`, `verifier`, `gate`, `other`.
    pub kind: String,
    pub description: String,
    pub rules: Vec<Rule>,
    /// JSON Schema of the stage's `with` table.
    pub config_schema: serde_json::Value,
}

/// 1-based lines and columns; end column exclusive (as SARIF).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Region {
    pub start_line: u32,
    pub start_column: Option<u32>,
    pub end_line: Option<u32>,
    pub end_column: Option<u32>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Location {
    /// Workspace-relative, `/`-separated.
    pub path: String,
    pub region: Option<Region>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Fix {
    pub description: String,
    pub path: String,
    pub deleted: Region,
    pub inserted: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Finding {
    pub rule_id: String,
    pub level: Level,
    pub message: String,
    pub location: Option<Location>,
    pub fingerprint: Option<String>,
    pub help_uri: Option<String>,
    pub fix: Option<Fix>,
    /// The fingerprint is in the stage's `baseline` file: kept in every report (SARIF
    /// `baselineState: unchanged` and an external suppression), not counted by `fail-on`.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub baselined: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Outcome {
    Success,
    Failure,
    /// The plugin left the decision to its findings (WIT `by-findings`); the host
    /// resolves it with the stage's `fail-on` and `baseline` before anything is recorded
    /// (see `run::findings`), so records only ever hold `success` or `failure`.
    ByFindings,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StageReport {
    pub outcome: Outcome,
    pub summary: String,
    pub findings: Vec<Finding>,
    pub outputs: Vec<(String, String)>,
    pub artifacts: Vec<String>,
    /// The findings were compared with the stage's `baseline` file (set by the host,
    /// even when none of them was in it): SARIF then marks every result `new` or
    /// `unchanged`.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub baseline_compared: bool,
}

/// How a stage ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum StageStatus {
    /// Not started yet (only in a run still in progress).
    Pending,
    Running,
    /// Ran, outcome success.
    Succeeded,
    /// Ran, outcome failure (e.g. error-level findings), or the plugin returned an error,
    /// or the sandbox stopped it (timeout, memory, trap).
    Failed,
    /// Failed, but the stage has `allow-failure = true`: the pipeline goes on.
    FailedAllowed,
    /// Its `when` did not hold, or a stage it needs did not succeed.
    Skipped,
    /// Stopped because another stage failed (fail-fast) or the run was interrupted.
    Cancelled,
}

impl StageStatus {
    pub fn is_final(self) -> bool {
        !matches!(self, StageStatus::Pending | StageStatus::Running)
    }
}

/// Everything the run records keep about one stage; input to every report format.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StageRecord {
    pub stage: String,
    /// As written in pipeline.toml, e.g. `builtin:secret-scan`.
    pub plugin_ref: String,
    /// `sha256:<hex>` of the component bytes.
    pub plugin_digest: String,
    pub plugin: Option<PluginInfo>,
    pub status: StageStatus,
    /// Why it was skipped / failed / cancelled, for humans.
    pub reason: Option<String>,
    pub report: Option<StageReport>,
    /// RFC 3339 UTC.
    pub started_at: Option<String>,
    pub duration_ms: u64,
    pub attempts: u32,
    /// Files the stage reported as artifacts, as the host found them.
    #[serde(default)]
    pub artifacts: Vec<Artifact>,
}

/// An artifact a stage reported, checked and digested by the host after the stage.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Artifact {
    /// Workspace-relative path as reported.
    pub path: String,
    /// `sha256:<hex>` when the file exists inside the stage's write grants.
    pub digest: Option<String>,
    pub size: Option<u64>,
    /// Why it was not collected (missing, outside the stage's `grants.fs.write`, …).
    pub error: Option<String>,
}
