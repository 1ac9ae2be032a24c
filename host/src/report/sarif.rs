//! SARIF 2.1.0 writer: one log per pipeline run, one `run` per stage that ran a plugin.
//!
//! Mapping decisions (see also the tests and `host/tests/sarif_validate.rs`, which checks the
//! output with Microsoft's SARIF Multitool):
//!
//! * A `run` is emitted for every record whose `plugin` is `Some`, in the order given.
//!   `run.automationDetails.id` is `"<stage>/"` (a SARIF *category*), so code-scanning services
//!   keep each stage's results apart.
//! * `run.results` is present (possibly empty) only when the stage produced a report. When the
//!   plugin never returned a report (it errored, trapped, timed out, was cancelled or skipped),
//!   `results` is *absent*: SARIF §3.14.23 distinguishes "ran and found nothing" (`[]`) from
//!   "could not produce results" (absent), and a consumer must not read the latter as "all
//!   previous alerts were fixed".
//! * `invocations[0].executionSuccessful` says whether the *plugin ran to completion and returned
//!   a report*, not whether the stage passed: a linter that reports error-level findings executed
//!   successfully (SARIF §3.20.14). So `Succeeded` → true; `Failed` / `FailedAllowed` → true when
//!   a report exists (the plugin's verdict was "failure"), false when it does not (plugin error,
//!   trap, timeout, …); `Cancelled` / `Skipped` / `Pending` / `Running` without a report → false.
//!   The stage verdict itself is in `run.properties["gantry/status"]` and
//!   `run.properties["gantry/outcome"]`, and for any non-successful status the stage's `reason`
//!   is a `toolExecutionNotification` (level `error` for `Failed`, `warning` for
//!   `FailedAllowed` / `Cancelled`, `note` otherwise).
//! * Paths are emitted as relative URIs (percent-encoded, UTF-8) against the `WORKSPACE`
//!   `uriBaseId`, defined in `run.originalUriBaseIds` as the `file:` URI of the workspace root.
//!   A path that is absolute outside the workspace, climbs out of it with `..`, or holds a
//!   `\` (a separator to Windows consumers) is never emitted: a plugin's `/etc/shadow`
//!   must not become a `file:///etc/shadow` link that viewers open. The result keeps no
//!   location and says why in `properties["gantry/locationDropped"]`; a fix on such a
//!   path is dropped. (The host already drops such paths from a report as it enters,
//!   `run::scheduler::workspace_relative`, and notes it in the finding's message; this
//!   covers records from elsewhere.)
//! * Rules come from `PluginInfo::rules` (first declaration of an id wins); a finding whose
//!   `rule_id` is not declared gets a synthesized rule (`properties["gantry/declared"] = false`),
//!   so every `ruleIndex` resolves.
//! * Regions are sanitized for locations (a field that would make the region invalid is
//!   dropped; a region without a valid `startLine` is dropped entirely), but a fix whose
//!   deleted region is not exactly valid is dropped, since altering it would change the edit.
//! * `helpUri` must be an absolute URI: a finding's `help_uri` fills its rule's `helpUri` when
//!   the rule has none; a per-finding `help_uri` that differs from the rule's lands in
//!   `result.properties["gantry/helpUri"]`. Values that are not absolute URIs are kept only in
//!   `properties["gantry/helpText"]`.
//! * Columns are declared as `unicodeCodePoints` (`run.columnKind`).
//! * gantry itself is recorded as the `run.conversion` tool (it converts the plugin's report to
//!   SARIF), with `gantry_version`.

use std::collections::HashMap;
use std::path::{Component, Path};

use serde_json::{Map, Value, json};

use super::model::{Finding, PluginInfo, Region, Rule, StageRecord, StageStatus};

pub const SARIF_SCHEMA: &str = "https://json.schemastore.org/sarif-2.1.0.json";
pub const SARIF_VERSION: &str = "2.1.0";
/// The `uriBaseId` every workspace-relative artifact location is expressed against.
pub const WORKSPACE_BASE_ID: &str = "WORKSPACE";
/// Key of the fingerprint in `result.partialFingerprints`.
pub const FINGERPRINT_KEY: &str = "gantry/v1";

/// Build one SARIF 2.1.0 log for a pipeline run.
pub fn sarif_log(records: &[StageRecord], workspace_root: &Path, gantry_version: &str) -> Value {
    let workspace = Workspace::new(workspace_root);
    let runs: Vec<Value> = records
        .iter()
        .filter_map(|record| {
            let plugin = record.plugin.as_ref()?;
            Some(stage_run(record, plugin, &workspace, gantry_version))
        })
        .collect();
    json!({
        "$schema": SARIF_SCHEMA,
        "version": SARIF_VERSION,
        "runs": runs,
    })
}

/// gantry's home page.
const GANTRY_URI: &str = env!("CARGO_PKG_REPOSITORY");

/// Where a reader learns about the tool of a run (SARIF's `informationUri`, which the
/// validator asks of every driver): an official plugin's folder in gantry's
/// repository; for any other plugin, which declares no home page, gantry's
/// documentation of plugins.
fn information_uri(plugin_ref: &str) -> String {
    match plugin_ref.strip_prefix("builtin:") {
        Some(name)
            if !name.is_empty()
                && name
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-') =>
        {
            format!("{GANTRY_URI}/tree/main/plugins/{name}")
        }
        _ => format!("{GANTRY_URI}/blob/main/README.md#plugins"),
    }
}

fn stage_run(
    record: &StageRecord,
    plugin: &PluginInfo,
    workspace: &Workspace,
    gantry_version: &str,
) -> Value {
    let findings: &[Finding] = record
        .report
        .as_ref()
        .map(|r| r.findings.as_slice())
        .unwrap_or(&[]);
    let rules = RuleTable::build(plugin, findings);

    let mut driver = Map::new();
    let name = if plugin.name.trim().is_empty() {
        record.plugin_ref.clone()
    } else {
        plugin.name.clone()
    };
    driver.insert("name".into(), Value::String(name));
    driver.insert(
        "informationUri".into(),
        Value::String(information_uri(&record.plugin_ref)),
    );
    // A plugin that declares no version is identified by its digest, as semver build
    // metadata of version 0.0.0 (SARIF2005 asks every tool for a version that starts
    // with an integer): `0.0.0+sha256.ab12ab12ab12`.
    let version = if plugin.version.trim().is_empty() {
        let short = record
            .plugin_digest
            .get(..19)
            .unwrap_or(&record.plugin_digest);
        if short.is_empty() {
            String::new()
        } else {
            format!("0.0.0+{}", short.replace(':', "."))
        }
    } else {
        plugin.version.clone()
    };
    if !version.is_empty() {
        driver.insert("version".into(), Value::String(version));
    }
    if !plugin.description.trim().is_empty() {
        driver.insert("shortDescription".into(), text(&plugin.description));
    }
    driver.insert("rules".into(), Value::Array(rules.descriptors.clone()));
    if !plugin.kind.is_empty() {
        driver.insert("properties".into(), json!({ "gantry/kind": plugin.kind }));
    }

    let mut run = Map::new();
    run.insert("tool".into(), json!({ "driver": Value::Object(driver) }));
    run.insert("invocations".into(), json!([invocation(record)]));
    run.insert(
        "conversion".into(),
        json!({ "tool": { "driver": { "name": "gantry", "version": gantry_version, "informationUri": GANTRY_URI } } }),
    );
    run.insert(
        "automationDetails".into(),
        json!({ "id": format!("{}/", record.stage) }),
    );
    if let Some(base) = &workspace.base_uri {
        run.insert(
            "originalUriBaseIds".into(),
            json!({ WORKSPACE_BASE_ID: {
                "uri": base,
                "description": { "text": "The root of the gantry workspace." },
            } }),
        );
    }
    run.insert("columnKind".into(), json!("unicodeCodePoints"));
    if let Some(report) = &record.report {
        // Compared with a baseline: every result of the run says how it relates to
        // it, `new` or `unchanged` (all `new` when none was in it). Records written
        // before the flag existed still count as compared when a finding was baselined.
        let compared = report.baseline_compared || findings.iter().any(|f| f.baselined);
        let results: Vec<Value> = findings
            .iter()
            .map(|f| result(f, &rules, workspace, compared))
            .collect();
        run.insert("results".into(), Value::Array(results));
    }

    let mut props = Map::new();
    props.insert("gantry/stage".into(), json!(record.stage));
    props.insert("gantry/pluginRef".into(), json!(record.plugin_ref));
    props.insert("gantry/pluginDigest".into(), json!(record.plugin_digest));
    props.insert("gantry/status".into(), status_value(record.status));
    if let Some(report) = &record.report {
        props.insert(
            "gantry/outcome".into(),
            serde_json::to_value(report.outcome).unwrap_or(Value::Null),
        );
        if !report.summary.is_empty() {
            props.insert("gantry/summary".into(), json!(report.summary));
        }
    }
    run.insert("properties".into(), Value::Object(props));
    Value::Object(run)
}

fn status_value(status: StageStatus) -> Value {
    serde_json::to_value(status).unwrap_or(Value::Null)
}

fn invocation(record: &StageRecord) -> Value {
    let has_report = record.report.is_some();
    let execution_successful = match record.status {
        StageStatus::Succeeded => true,
        StageStatus::Failed | StageStatus::FailedAllowed => has_report,
        StageStatus::Cancelled
        | StageStatus::Skipped
        | StageStatus::Pending
        | StageStatus::Running => false,
    };
    let mut inv = Map::new();
    inv.insert("executionSuccessful".into(), json!(execution_successful));

    let start = record.started_at.as_deref().and_then(parse_rfc3339);
    if let Some(start) = start {
        let end = start + i128::from(record.duration_ms);
        inv.insert("startTimeUtc".into(), json!(format_utc_millis(start)));
        if record.status.is_final() {
            inv.insert("endTimeUtc".into(), json!(format_utc_millis(end)));
        }
    }

    let notification_level = match record.status {
        StageStatus::Succeeded => None,
        StageStatus::Failed => Some("error"),
        StageStatus::FailedAllowed | StageStatus::Cancelled => Some("warning"),
        StageStatus::Skipped | StageStatus::Pending | StageStatus::Running => Some("note"),
    };
    if let Some(level) = notification_level {
        let status = match record.status {
            StageStatus::Failed => "failed",
            StageStatus::FailedAllowed => "failed (allowed to fail)",
            StageStatus::Cancelled => "was cancelled",
            StageStatus::Skipped => "was skipped",
            StageStatus::Pending => "did not start",
            StageStatus::Running | StageStatus::Succeeded => "did not finish",
        };
        let reason = record
            .reason
            .as_deref()
            .filter(|r| !r.trim().is_empty())
            .or_else(|| {
                record
                    .report
                    .as_ref()
                    .map(|r| r.summary.as_str())
                    .filter(|s| !s.trim().is_empty())
            });
        let message = match reason {
            Some(reason) => format!("Stage '{}' {status}: {reason}", record.stage),
            None => format!("Stage '{}' {status}.", record.stage),
        };
        inv.insert(
            "toolExecutionNotifications".into(),
            json!([{ "level": level, "message": { "text": message } }]),
        );
    }

    let mut props = Map::new();
    props.insert("gantry/durationMs".into(), json!(record.duration_ms));
    props.insert("gantry/attempts".into(), json!(record.attempts));
    if start.is_none()
        && let Some(raw) = &record.started_at
    {
        props.insert("gantry/startedAt".into(), json!(raw));
    }
    inv.insert("properties".into(), Value::Object(props));
    Value::Object(inv)
}

// ---------------------------------------------------------------------------------------------
// Rules

struct RuleTable {
    descriptors: Vec<Value>,
    index: HashMap<String, usize>,
    /// The (absolute) helpUri each descriptor ended up with.
    help_uris: Vec<Option<String>>,
}

impl RuleTable {
    fn build(plugin: &PluginInfo, findings: &[Finding]) -> Self {
        let mut table = RuleTable {
            descriptors: Vec::new(),
            index: HashMap::new(),
            help_uris: Vec::new(),
        };
        for rule in &plugin.rules {
            if table.index.contains_key(&rule.id) {
                continue;
            }
            table.push(declared_rule(rule), rule.help_uri.as_deref());
        }
        for finding in findings {
            let id = rule_id(finding);
            if let Some(&i) = table.index.get(id) {
                // A declared rule without a helpUri borrows the first finding's.
                if table.help_uris[i].is_none()
                    && let Some(uri) = finding.help_uri.as_deref().and_then(absolute_uri)
                {
                    table.descriptors[i]["helpUri"] = json!(uri);
                    table.help_uris[i] = Some(uri);
                }
                continue;
            }
            table.push(
                synthesized_rule(id, finding, plugin),
                finding.help_uri.as_deref(),
            );
        }
        table
    }

    fn push(&mut self, mut descriptor: Value, help: Option<&str>) {
        let id = descriptor["id"].as_str().unwrap_or_default().to_owned();
        let uri = help.and_then(absolute_uri);
        match (&uri, help) {
            (Some(uri), _) => descriptor["helpUri"] = json!(uri),
            (None, Some(raw)) if !raw.trim().is_empty() => {
                descriptor["properties"]["gantry/helpText"] = json!(raw)
            }
            _ => {}
        }
        self.index.insert(id, self.descriptors.len());
        self.descriptors.push(descriptor);
        self.help_uris.push(uri);
    }
}

/// Rule id of a finding, never empty (SARIF needs one to tie the result to a rule).
fn rule_id(finding: &Finding) -> &str {
    if finding.rule_id.trim().is_empty() {
        "unspecified"
    } else {
        &finding.rule_id
    }
}

fn declared_rule(rule: &Rule) -> Value {
    let mut d = Map::new();
    d.insert("id".into(), json!(rule.id));
    if !rule.short_description.trim().is_empty() {
        d.insert("shortDescription".into(), text(&rule.short_description));
    }
    if !rule.full_description.trim().is_empty() {
        d.insert("fullDescription".into(), text(&rule.full_description));
    }
    d.insert(
        "defaultConfiguration".into(),
        json!({ "level": rule.default_level.as_str() }),
    );
    Value::Object(d)
}

fn synthesized_rule(id: &str, first: &Finding, plugin: &PluginInfo) -> Value {
    json!({
        "id": id,
        "shortDescription": {
            "text": format!("Rule '{id}' reported by plugin '{}' but not declared by it.", plugin.name),
        },
        "defaultConfiguration": { "level": first.level.as_str() },
        "properties": { "gantry/declared": false },
    })
}

// ---------------------------------------------------------------------------------------------
// Results

fn result(finding: &Finding, rules: &RuleTable, workspace: &Workspace, compared: bool) -> Value {
    let id = rule_id(finding);
    let index = rules.index.get(id).copied().unwrap_or(0);
    let message = if finding.message.trim().is_empty() {
        format!("Finding of rule '{id}'.")
    } else {
        finding.message.clone()
    };
    let mut r = Map::new();
    r.insert("ruleId".into(), json!(id));
    r.insert("ruleIndex".into(), json!(index));
    r.insert("level".into(), json!(finding.level.as_str()));
    r.insert("message".into(), json!({ "text": message }));

    let mut dropped = None;
    if let Some(loc) = &finding.location
        && let Some(artifact) = workspace
            .artifact_location(&loc.path)
            .map_err(|why| dropped = Some(why))
            .ok()
            .flatten()
    {
        let mut physical = Map::new();
        physical.insert("artifactLocation".into(), artifact);
        if let Some(region) = loc.region.as_ref().and_then(location_region) {
            physical.insert("region".into(), region);
        } else if let Some(size) = workspace.file_size(&loc.path) {
            // A finding about a whole file: SARIF's whole-artifact region (the
            // validator's SARIF2017 asks for one; a line would point at line 1 only).
            physical.insert(
                "region".into(),
                json!({ "byteOffset": 0, "byteLength": size }),
            );
        }
        r.insert(
            "locations".into(),
            json!([{ "physicalLocation": Value::Object(physical) }]),
        );
    }

    if let Some(fp) = finding.fingerprint.as_deref().filter(|f| !f.is_empty()) {
        r.insert("partialFingerprints".into(), json!({ FINGERPRINT_KEY: fp }));
    }

    // A baselined finding stays in the log (SARIF 2.1.0 §3.27.23-24): it is known
    // (`unchanged` relative to the baseline) and accepted outside the source, so
    // viewers hide it by default and nothing counts it as new.
    if finding.baselined {
        r.insert("baselineState".into(), json!("unchanged"));
        r.insert(
            "suppressions".into(),
            json!([{
                "kind": "external",
                "status": "accepted",
                "justification": "fingerprint listed in the stage's `baseline` file",
            }]),
        );
    } else if compared {
        r.insert("baselineState".into(), json!("new"));
    }

    if let Some(fix) = &finding.fix
        && let Ok(Some(artifact)) = workspace.artifact_location(&fix.path)
        && let Some(deleted) = exact_region(&fix.deleted)
    {
        let mut f = Map::new();
        if !fix.description.trim().is_empty() {
            f.insert("description".into(), text(&fix.description));
        }
        f.insert(
            "artifactChanges".into(),
            json!([{
                "artifactLocation": artifact,
                "replacements": [{
                    "deletedRegion": deleted,
                    "insertedContent": { "text": fix.inserted },
                }],
            }]),
        );
        r.insert("fixes".into(), json!([Value::Object(f)]));
    }

    let mut props = Map::new();
    if let Some(why) = dropped {
        props.insert("gantry/locationDropped".into(), json!(why));
    }
    if let Some(raw) = finding.help_uri.as_deref().filter(|s| !s.trim().is_empty()) {
        match absolute_uri(raw) {
            Some(uri) if rules.help_uris.get(index).and_then(Option::as_deref) == Some(&uri) => {}
            Some(uri) => {
                props.insert("gantry/helpUri".into(), json!(uri));
            }
            None => {
                props.insert("gantry/helpText".into(), json!(raw));
            }
        }
    }
    if !props.is_empty() {
        r.insert("properties".into(), Value::Object(props));
    }
    Value::Object(r)
}

fn text(s: &str) -> Value {
    json!({ "text": s })
}

/// A location region, with invalid parts dropped. `None` without a valid start line.
fn location_region(region: &Region) -> Option<Value> {
    if region.start_line == 0 {
        return None;
    }
    let mut out = Map::new();
    out.insert("startLine".into(), json!(region.start_line));
    let start_col = region.start_column.filter(|&c| c >= 1);
    if let Some(c) = start_col {
        out.insert("startColumn".into(), json!(c));
    }
    let end_line = region.end_line.filter(|&l| l >= region.start_line);
    if let Some(l) = end_line {
        out.insert("endLine".into(), json!(l));
    }
    let same_line = end_line.is_none_or(|l| l == region.start_line);
    if let Some(c) = region
        .end_column
        .filter(|&c| c >= 1 && (!same_line || c >= start_col.unwrap_or(1)))
    {
        out.insert("endColumn".into(), json!(c));
    }
    Some(Value::Object(out))
}

/// A region used as `deletedRegion`: all of it valid, or nothing.
fn exact_region(region: &Region) -> Option<Value> {
    let out = location_region(region)?;
    let kept = out.as_object().map_or(0, Map::len);
    let given = 1
        + usize::from(region.start_column.is_some())
        + usize::from(region.end_line.is_some())
        + usize::from(region.end_column.is_some());
    (kept == given).then_some(out)
}

// ---------------------------------------------------------------------------------------------
// URIs

struct Workspace {
    /// Absolute workspace root, as given (made absolute lexically).
    root: std::path::PathBuf,
    /// `file:` URI of the root, with a trailing slash.
    base_uri: Option<String>,
}

impl Workspace {
    fn new(root: &Path) -> Self {
        let root = std::path::absolute(root).unwrap_or_else(|_| root.to_path_buf());
        let root = normalize(&root);
        let base_uri = file_uri(&root).map(|mut u| {
            if !u.ends_with('/') {
                u.push('/');
            }
            u
        });
        Workspace { root, base_uri }
    }

    /// `artifactLocation` for a workspace-relative `/`-separated path; `Ok(None)` for
    /// the empty path and the root; `Err(why)` for a path outside the workspace.
    /// Size of the regular file at workspace-relative `path` (never through a link).
    fn file_size(&self, path: &str) -> Option<u64> {
        let rel = crate::manifest::normalize_workspace_path(path).ok()?;
        let meta = std::fs::symlink_metadata(self.root.join(rel)).ok()?;
        meta.is_file().then(|| meta.len())
    }

    fn artifact_location(&self, path: &str) -> Result<Option<Value>, &'static str> {
        if path.is_empty() {
            return Ok(None);
        }
        if path.contains('\\') {
            return Err("the path contains `\\`");
        }
        let as_path = Path::new(path);
        if as_path.is_absolute() || path.starts_with('/') {
            let abs = normalize(as_path);
            if let Ok(rel) = abs.strip_prefix(&self.root) {
                return Ok(self.relative_location(rel));
            }
            return Err("an absolute path outside the workspace");
        }
        let mut segments: Vec<&str> = Vec::new();
        for seg in path.split('/') {
            match seg {
                "" | "." => {}
                ".." => {
                    if segments.pop().is_none() {
                        return Err("it climbs out of the workspace with `..`");
                    }
                }
                s => segments.push(s),
            }
        }
        if segments.is_empty() {
            return Ok(None);
        }
        let uri = segments
            .iter()
            .map(|s| percent_encode(s.as_bytes()))
            .collect::<Vec<_>>()
            .join("/");
        Ok(Some(json!({ "uri": uri, "uriBaseId": WORKSPACE_BASE_ID })))
    }

    fn relative_location(&self, rel: &Path) -> Option<Value> {
        let segments: Vec<String> = rel
            .components()
            .filter_map(|c| match c {
                Component::Normal(s) => Some(percent_encode(os_bytes(s).as_ref())),
                _ => None,
            })
            .collect();
        if segments.is_empty() {
            return None;
        }
        Some(json!({ "uri": segments.join("/"), "uriBaseId": WORKSPACE_BASE_ID }))
    }
}

/// Lexically resolve `.` and `..` (no filesystem access).
fn normalize(path: &Path) -> std::path::PathBuf {
    let mut out = std::path::PathBuf::new();
    for c in path.components() {
        match c {
            Component::CurDir => {}
            Component::ParentDir => {
                if !out.pop() {
                    out.push(c);
                }
            }
            other => out.push(other),
        }
    }
    out
}

fn os_bytes(s: &std::ffi::OsStr) -> std::borrow::Cow<'_, [u8]> {
    #[cfg(unix)]
    {
        use std::os::unix::ffi::OsStrExt;
        std::borrow::Cow::Borrowed(s.as_bytes())
    }
    #[cfg(not(unix))]
    {
        match s.to_string_lossy() {
            std::borrow::Cow::Borrowed(b) => std::borrow::Cow::Borrowed(b.as_bytes()),
            std::borrow::Cow::Owned(o) => std::borrow::Cow::Owned(o.into_bytes()),
        }
    }
}

/// `file:` URI of an absolute path (`file:///a/b`, `file:///C:/a`, `file://server/share/a`).
fn file_uri(path: &Path) -> Option<String> {
    if !path.is_absolute() {
        return None;
    }
    let mut uri = String::from("file://");
    let mut needs_slash = true;
    for c in path.components() {
        match c {
            Component::Prefix(prefix) => {
                use std::path::Prefix;
                match prefix.kind() {
                    Prefix::Disk(d) | Prefix::VerbatimDisk(d) => {
                        uri.push('/');
                        uri.push(char::from(d));
                        uri.push(':');
                    }
                    Prefix::UNC(server, share) | Prefix::VerbatimUNC(server, share) => {
                        uri.push_str(&percent_encode(os_bytes(server).as_ref()));
                        uri.push('/');
                        uri.push_str(&percent_encode(os_bytes(share).as_ref()));
                    }
                    _ => return None,
                }
            }
            Component::RootDir => {
                uri.push('/');
                needs_slash = false;
            }
            Component::Normal(s) => {
                if needs_slash {
                    uri.push('/');
                }
                uri.push_str(&percent_encode(os_bytes(s).as_ref()));
                needs_slash = true;
            }
            Component::CurDir | Component::ParentDir => {}
        }
    }
    Some(uri)
}

/// Percent-encode one path segment: keeps RFC 3986 unreserved characters and the sub-delims
/// that are safe in a path; everything else (including `:`, `%`, `?`, `#`, spaces, non-ASCII
/// as UTF-8) is encoded.
fn percent_encode(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len());
    for &b in bytes {
        if b.is_ascii_alphanumeric() || b"-._~!$&'()*+,;=@".contains(&b) {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// An absolute RFC 3986 URI from a plugin-supplied string, percent-encoding characters URIs
/// may not contain. `None` if it does not look like an absolute URI.
fn absolute_uri(raw: &str) -> Option<String> {
    let raw = raw.trim();
    let colon = raw.find(':')?;
    let scheme = &raw[..colon];
    let mut chars = scheme.chars();
    if !chars.next()?.is_ascii_alphabetic()
        || !chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'))
    {
        return None;
    }
    let rest = &raw[colon + 1..];
    if rest.is_empty() {
        return None;
    }
    let hierarchical = matches!(
        scheme.to_ascii_lowercase().as_str(),
        "http" | "https" | "ftp" | "ws" | "wss"
    );
    if !hierarchical && rest.contains(char::is_whitespace) {
        // Prose such as "see: the docs", not an opaque URI.
        return None;
    }
    if hierarchical {
        let authority = rest.strip_prefix("//")?;
        let host_end = authority.find(['/', '?', '#']).unwrap_or(authority.len());
        if authority[..host_end].is_empty() {
            return None;
        }
    }
    let mut out = String::with_capacity(raw.len());
    out.push_str(scheme);
    out.push(':');
    let bytes = rest.as_bytes();
    let mut seen_hash = false;
    for (i, &b) in bytes.iter().enumerate() {
        let keep = match b {
            b'%' => {
                bytes.get(i + 1).is_some_and(u8::is_ascii_hexdigit)
                    && bytes.get(i + 2).is_some_and(u8::is_ascii_hexdigit)
            }
            b'#' => !std::mem::replace(&mut seen_hash, true),
            b'[' | b']' => false,
            _ => b.is_ascii_alphanumeric() || b"-._~:/?@!$&'()*+,;=".contains(&b),
        };
        if keep {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    Some(out)
}

// ---------------------------------------------------------------------------------------------
// Time

/// Milliseconds since the Unix epoch of an RFC 3339 timestamp (any offset).
fn parse_rfc3339(s: &str) -> Option<i128> {
    let b = s.trim().as_bytes();
    let num = |r: std::ops::Range<usize>| -> Option<i64> {
        let part = b.get(r)?;
        if part.is_empty() || !part.iter().all(u8::is_ascii_digit) {
            return None;
        }
        std::str::from_utf8(part).ok()?.parse().ok()
    };
    if b.len() < 20 || b[4] != b'-' || b[7] != b'-' || !matches!(b[10], b'T' | b't' | b' ') {
        return None;
    }
    if b[13] != b':' || b[16] != b':' {
        return None;
    }
    let (year, month, day) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (hour, minute, second) = (num(11..13)?, num(14..16)?, num(17..19)?);
    if !(1..=12).contains(&month)
        || day < 1
        || day > days_in_month(year, month)
        || hour > 23
        || minute > 59
        || second > 60
    {
        return None;
    }
    let mut i = 19;
    let mut millis = 0i64;
    if b[i] == b'.' {
        let start = i + 1;
        i = start;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
        if i == start {
            return None;
        }
        let frac = &b[start..i.min(start + 3)];
        let mut m = 0i64;
        for k in 0..3 {
            m = m * 10 + frac.get(k).map_or(0, |d| i64::from(d - b'0'));
        }
        millis = m;
    }
    let offset_minutes = match b.get(i)? {
        b'Z' | b'z' if i + 1 == b.len() => 0,
        sign @ (b'+' | b'-') if i + 6 == b.len() && b[i + 3] == b':' => {
            let (h, m) = (num(i + 1..i + 3)?, num(i + 4..i + 6)?);
            if h > 23 || m > 59 {
                return None;
            }
            let total = h * 60 + m;
            if *sign == b'-' { -total } else { total }
        }
        _ => return None,
    };
    let days = days_from_civil(year, month, day);
    let secs = days * 86_400 + hour * 3600 + minute * 60 + second.min(59) - offset_minutes * 60;
    Some(i128::from(secs) * 1000 + i128::from(millis))
}

fn days_in_month(year: i64, month: i64) -> i64 {
    match month {
        2 if (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days since 1970-01-01 (Howard Hinnant's algorithm).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (
        if m <= 2 {
            yoe + era * 400 + 1
        } else {
            yoe + era * 400
        },
        m,
        d,
    )
}

/// `YYYY-MM-DDTHH:MM:SS.mmmZ`.
fn format_utc_millis(ms: i128) -> String {
    let ms = i64::try_from(ms).unwrap_or(i64::MAX);
    let (secs, millis) = (ms.div_euclid(1000), ms.rem_euclid(1000));
    let (days, sod) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{millis:03}Z",
        sod / 3600,
        sod % 3600 / 60,
        sod % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::model::{Fix, Level, Location, Outcome, StageReport};

    fn rule(id: &str, level: Level, help: Option<&str>) -> Rule {
        Rule {
            id: id.into(),
            short_description: format!("{id} short."),
            full_description: format!("{id} full description."),
            default_level: level,
            help_uri: help.map(Into::into),
        }
    }

    fn plugin(rules: Vec<Rule>) -> PluginInfo {
        PluginInfo {
            name: "secret-scan".into(),
            version: "1.2.0".into(),
            kind: "scanner".into(),
            description: "Finds secrets.".into(),
            rules,
            config_schema: json!({}),
        }
    }

    fn finding(rule_id: &str, level: Level, path: Option<&str>, region: Option<Region>) -> Finding {
        Finding {
            rule_id: rule_id.into(),
            level,
            message: format!("{rule_id} here"),
            location: path.map(|p| Location {
                path: p.into(),
                region,
            }),
            fingerprint: None,
            help_uri: None,
            fix: None,
            baselined: false,
        }
    }

    fn region(sl: u32, sc: Option<u32>, el: Option<u32>, ec: Option<u32>) -> Region {
        Region {
            start_line: sl,
            start_column: sc,
            end_line: el,
            end_column: ec,
        }
    }

    fn record(stage: &str, status: StageStatus, findings: Option<Vec<Finding>>) -> StageRecord {
        StageRecord {
            stage: stage.into(),
            plugin_ref: "builtin:secret-scan".into(),
            plugin_digest: "sha256:abcd".into(),
            plugin: Some(plugin(vec![
                rule(
                    "SS001",
                    Level::Error,
                    Some("https://example.com/rules/SS001"),
                ),
                rule("SS002", Level::Warning, None),
            ])),
            status,
            reason: None,
            report: findings.map(|findings| StageReport {
                outcome: Outcome::Success,
                summary: "scanned".into(),
                findings,
                outputs: vec![],
                artifacts: vec![],
                baseline_compared: false,
            }),
            started_at: Some("2025-03-01T12:00:59.500Z".into()),
            duration_ms: 1_750,
            attempts: 1,
            artifacts: vec![],
        }
    }

    fn log(records: &[StageRecord]) -> Value {
        sarif_log(records, Path::new("/work/ws"), "0.1.0")
    }

    #[test]
    fn skeleton_and_runs_only_for_stages_with_plugins() {
        let mut no_plugin = record("build", StageStatus::Succeeded, Some(vec![]));
        no_plugin.plugin = None;
        let v = log(&[
            record("lint", StageStatus::Succeeded, Some(vec![])),
            no_plugin,
            record("scan", StageStatus::Succeeded, Some(vec![])),
        ]);
        assert_eq!(v["$schema"], SARIF_SCHEMA);
        assert_eq!(v["version"], "2.1.0");
        let runs = v["runs"].as_array().expect("runs");
        assert_eq!(runs.len(), 2);
        assert_eq!(runs[0]["automationDetails"]["id"], "lint/");
        assert_eq!(runs[1]["automationDetails"]["id"], "scan/");
        let run = &runs[0];
        assert_eq!(run["tool"]["driver"]["name"], "secret-scan");
        assert_eq!(run["tool"]["driver"]["version"], "1.2.0");
        assert_eq!(
            run["originalUriBaseIds"]["WORKSPACE"]["uri"],
            "file:///work/ws/"
        );
        assert_eq!(run["results"], json!([]));
        assert_eq!(run["properties"]["gantry/stage"], "lint");
        assert_eq!(run["properties"]["gantry/pluginRef"], "builtin:secret-scan");
        assert_eq!(run["properties"]["gantry/pluginDigest"], "sha256:abcd");
        assert_eq!(run["conversion"]["tool"]["driver"]["version"], "0.1.0");
        let inv = &run["invocations"][0];
        assert_eq!(inv["executionSuccessful"], true);
        assert_eq!(inv["startTimeUtc"], "2025-03-01T12:00:59.500Z");
        assert_eq!(inv["endTimeUtc"], "2025-03-01T12:01:01.250Z");
        assert!(inv.get("toolExecutionNotifications").is_none());
        assert_eq!(sarif_log(&[], Path::new("/"), "0")["runs"], json!([]));
    }

    #[test]
    fn rules_results_and_synthesized_rules() {
        let mut f1 = finding(
            "SS001",
            Level::Error,
            Some("src/a.rs"),
            Some(region(3, Some(5), None, Some(9))),
        );
        f1.fingerprint = Some("fp-1".into());
        let f2 = finding("XX999", Level::Note, None, None);
        let mut f3 = finding("XX999", Level::Error, Some("b.txt"), None);
        f3.help_uri = Some("https://example.com/xx".into());
        let mut f4 = finding(
            "SS002",
            Level::Warning,
            Some("c.txt"),
            Some(region(1, None, None, None)),
        );
        f4.help_uri = Some("https://example.com/ss2".into());
        let mut f5 = finding("SS002", Level::Warning, Some("d.txt"), None);
        f5.help_uri = Some("https://example.com/other".into());
        let v = log(&[record(
            "scan",
            StageStatus::Succeeded,
            Some(vec![f1, f2, f3, f4, f5]),
        )]);
        let run = &v["runs"][0];
        let rules = run["tool"]["driver"]["rules"].as_array().expect("rules");
        assert_eq!(rules.len(), 3);
        assert_eq!(rules[0]["id"], "SS001");
        assert_eq!(rules[0]["shortDescription"]["text"], "SS001 short.");
        assert_eq!(
            rules[0]["fullDescription"]["text"],
            "SS001 full description."
        );
        assert_eq!(rules[0]["defaultConfiguration"]["level"], "error");
        assert_eq!(rules[0]["helpUri"], "https://example.com/rules/SS001");
        assert_eq!(
            rules[1]["helpUri"], "https://example.com/ss2",
            "borrowed from finding"
        );
        assert_eq!(rules[2]["id"], "XX999");
        assert_eq!(rules[2]["properties"]["gantry/declared"], false);
        assert_eq!(rules[2]["defaultConfiguration"]["level"], "note");
        assert_eq!(rules[2]["helpUri"], "https://example.com/xx");

        let results = run["results"].as_array().expect("results");
        assert_eq!(results.len(), 5);
        let r0 = &results[0];
        assert_eq!(r0["ruleId"], "SS001");
        assert_eq!(r0["ruleIndex"], 0);
        assert_eq!(r0["level"], "error");
        assert_eq!(r0["message"]["text"], "SS001 here");
        assert_eq!(r0["partialFingerprints"]["gantry/v1"], "fp-1");
        let loc = &r0["locations"][0]["physicalLocation"];
        assert_eq!(
            loc["artifactLocation"],
            json!({"uri": "src/a.rs", "uriBaseId": "WORKSPACE"})
        );
        assert_eq!(
            loc["region"],
            json!({"startLine": 3, "startColumn": 5, "endColumn": 9})
        );
        assert!(results[1].get("locations").is_none());
        assert_eq!(results[1]["ruleIndex"], 2);
        assert_eq!(results[2]["ruleIndex"], 2);
        assert!(results[2].get("properties").is_none());
        assert_eq!(results[3]["ruleIndex"], 1);
        assert_eq!(
            results[3]["locations"][0]["physicalLocation"]["region"],
            json!({"startLine": 1})
        );
        assert!(results[3].get("properties").is_none());
        assert_eq!(
            results[4]["properties"]["gantry/helpUri"],
            "https://example.com/other"
        );
        for r in results {
            let i = r["ruleIndex"].as_u64().expect("index") as usize;
            assert_eq!(rules[i]["id"], r["ruleId"]);
        }
    }

    #[test]
    fn duplicate_declared_rules_keep_first() {
        let mut rec = record(
            "scan",
            StageStatus::Succeeded,
            Some(vec![finding("SS002", Level::Note, None, None)]),
        );
        if let Some(p) = rec.plugin.as_mut() {
            p.rules.push(rule("SS001", Level::Note, None));
        }
        let v = log(&[rec]);
        assert_eq!(
            v["runs"][0]["tool"]["driver"]["rules"]
                .as_array()
                .map(Vec::len),
            Some(2)
        );
        assert_eq!(v["runs"][0]["results"][0]["ruleIndex"], 1);
    }

    #[test]
    fn fixes() {
        let mut f = finding(
            "SS001",
            Level::Error,
            Some("src/a.rs"),
            Some(region(2, Some(1), Some(2), Some(10))),
        );
        f.fix = Some(Fix {
            description: "Remove the key.".into(),
            path: "src/a.rs".into(),
            deleted: region(2, Some(1), Some(2), Some(10)),
            inserted: "REDACTED".into(),
        });
        let mut bad = f.clone();
        if let Some(fix) = bad.fix.as_mut() {
            fix.deleted = region(2, Some(5), Some(2), Some(3));
        }
        let v = log(&[record("scan", StageStatus::Succeeded, Some(vec![f, bad]))]);
        let fixes = &v["runs"][0]["results"][0]["fixes"];
        assert_eq!(
            fixes,
            &json!([{
                "description": {"text": "Remove the key."},
                "artifactChanges": [{
                    "artifactLocation": {"uri": "src/a.rs", "uriBaseId": "WORKSPACE"},
                    "replacements": [{
                        "deletedRegion": {"startLine": 2, "startColumn": 1, "endLine": 2, "endColumn": 10},
                        "insertedContent": {"text": "REDACTED"},
                    }],
                }],
            }])
        );
        assert!(
            v["runs"][0]["results"][1].get("fixes").is_none(),
            "invalid deleted region"
        );
    }

    #[test]
    fn paths_outside_the_workspace_are_dropped_and_marked() {
        let mut f = finding("SS001", Level::Error, Some("../../etc/passwd"), None);
        f.fix = Some(Fix {
            description: "Overwrite it.".into(),
            path: "/etc/shadow".into(),
            deleted: region(1, Some(1), Some(1), Some(2)),
            inserted: "x".into(),
        });
        let g = finding("SS001", Level::Error, Some("/etc/shadow"), None);
        let v = log(&[record("scan", StageStatus::Succeeded, Some(vec![f, g]))]);
        let text = v.to_string();
        assert!(
            !text.contains("etc/passwd") && !text.contains("etc/shadow"),
            "{text}"
        );
        for r in v["runs"][0]["results"].as_array().into_iter().flatten() {
            assert!(r.get("locations").is_none(), "{r}");
            assert!(r.get("fixes").is_none(), "{r}");
            assert!(
                r["properties"]["gantry/locationDropped"]
                    .as_str()
                    .is_some_and(
                        |w| w.contains("outside the workspace") || w.contains("climbs out")
                    ),
                "{r}"
            );
        }
    }

    #[test]
    fn region_sanitizing() {
        assert_eq!(location_region(&region(0, Some(1), None, None)), None);
        assert_eq!(
            location_region(&region(5, Some(0), Some(4), Some(2))),
            Some(json!({"startLine": 5, "endColumn": 2}))
        );
        assert_eq!(
            location_region(&region(5, Some(8), Some(5), Some(2))),
            Some(json!({"startLine": 5, "startColumn": 8, "endLine": 5}))
        );
        assert_eq!(
            location_region(&region(5, Some(8), Some(6), Some(2))),
            Some(json!({"startLine": 5, "startColumn": 8, "endLine": 6, "endColumn": 2}))
        );
        assert_eq!(
            exact_region(&region(5, Some(3), Some(5), Some(3))),
            Some(json!({"startLine": 5, "startColumn": 3, "endLine": 5, "endColumn": 3}))
        );
        assert_eq!(exact_region(&region(5, Some(3), Some(4), None)), None);
    }

    #[test]
    fn paths_become_uris() {
        let ws = Workspace::new(Path::new("/work/my ws"));
        assert_eq!(ws.base_uri.as_deref(), Some("file:///work/my%20ws/"));
        let loc = |p: &str| ws.artifact_location(p).ok().flatten();
        assert_eq!(
            loc("src/café 1.rs"),
            Some(json!({"uri": "src/caf%C3%A9%201.rs", "uriBaseId": "WORKSPACE"}))
        );
        assert_eq!(
            loc("./a//b/../c:d#e?%.rs"),
            Some(json!({"uri": "a/c%3Ad%23e%3F%25.rs", "uriBaseId": "WORKSPACE"}))
        );
        assert_eq!(
            loc("/work/my ws/x/y"),
            Some(json!({"uri": "x/y", "uriBaseId": "WORKSPACE"}))
        );
        // Outside the workspace: never a `file:` URI a viewer would open.
        for outside in [
            "/etc/passwd",
            "../other/z",
            "../../etc/shadow",
            "a/../../b",
            "/work/my ws/../x",
            "..\\..\\etc\\passwd",
        ] {
            assert!(ws.artifact_location(outside).is_err(), "{outside}");
        }
        assert_eq!(loc(""), None);
        assert_eq!(loc("."), None);
        assert_eq!(
            Workspace::new(Path::new("/")).base_uri.as_deref(),
            Some("file:///")
        );
        assert_eq!(
            Workspace::new(Path::new("/a/./b/../c/"))
                .base_uri
                .as_deref(),
            Some("file:///a/c/")
        );
    }

    #[test]
    fn help_uris() {
        assert_eq!(
            absolute_uri("https://x.dev/a b#c#d").as_deref(),
            Some("https://x.dev/a%20b#c%23d")
        );
        assert_eq!(
            absolute_uri(" https://x.dev/é?q=1&r=%zz ").as_deref(),
            Some("https://x.dev/%C3%A9?q=1&r=%25zz")
        );
        assert_eq!(
            absolute_uri("urn:gantry:rule").as_deref(),
            Some("urn:gantry:rule")
        );
        assert_eq!(absolute_uri("docs/rules.md"), None);
        assert_eq!(absolute_uri("https:/nohost"), None);
        assert_eq!(absolute_uri("https://"), None);
        assert_eq!(absolute_uri("see: the docs"), None);
        assert_eq!(absolute_uri("1http://x"), None);

        let mut f = finding("SS002", Level::Warning, None, None);
        f.help_uri = Some("see the wiki".into());
        let v = log(&[record("scan", StageStatus::Succeeded, Some(vec![f]))]);
        let run = &v["runs"][0];
        assert!(run["tool"]["driver"]["rules"][1].get("helpUri").is_none());
        assert_eq!(
            run["results"][0]["properties"]["gantry/helpText"],
            "see the wiki"
        );
    }

    #[test]
    fn execution_status_and_notifications() {
        let mut failed_findings = record("a", StageStatus::Failed, Some(vec![]));
        failed_findings.reason = Some("2 error-level findings".into());
        let mut crashed = record("b", StageStatus::Failed, None);
        crashed.reason = Some("timed out after 30s".into());
        let mut allowed = record("c", StageStatus::FailedAllowed, None);
        allowed.reason = Some("trap: unreachable".into());
        let mut cancelled = record("d", StageStatus::Cancelled, None);
        cancelled.reason = None;
        cancelled.started_at = Some("garbage".into());
        let v = log(&[failed_findings, crashed, allowed, cancelled]);
        let runs = v["runs"].as_array().expect("runs");
        let inv = |i: usize| &runs[i]["invocations"][0];

        assert_eq!(inv(0)["executionSuccessful"], true);
        assert_eq!(runs[0]["results"], json!([]));
        assert_eq!(inv(0)["toolExecutionNotifications"][0]["level"], "error");
        assert_eq!(
            inv(0)["toolExecutionNotifications"][0]["message"]["text"],
            "Stage 'a' failed: 2 error-level findings"
        );

        assert_eq!(inv(1)["executionSuccessful"], false);
        assert!(
            runs[1].get("results").is_none(),
            "no report → results absent"
        );
        assert_eq!(
            inv(1)["toolExecutionNotifications"][0]["message"]["text"],
            "Stage 'b' failed: timed out after 30s"
        );

        assert_eq!(inv(2)["executionSuccessful"], false);
        assert_eq!(inv(2)["toolExecutionNotifications"][0]["level"], "warning");
        assert_eq!(runs[2]["properties"]["gantry/status"], "failed-allowed");

        assert_eq!(inv(3)["executionSuccessful"], false);
        assert_eq!(
            inv(3)["toolExecutionNotifications"][0]["message"]["text"],
            "Stage 'd' was cancelled."
        );
        assert!(inv(3).get("startTimeUtc").is_none());
        assert_eq!(inv(3)["properties"]["gantry/startedAt"], "garbage");
        assert_eq!(inv(3)["properties"]["gantry/durationMs"], 1750);
    }

    #[test]
    fn timestamps() {
        let t = |s: &str| parse_rfc3339(s).map(format_utc_millis);
        assert_eq!(
            t("1970-01-01T00:00:00Z").as_deref(),
            Some("1970-01-01T00:00:00.000Z")
        );
        assert_eq!(
            t("2024-02-29T23:59:59.9999+01:30").as_deref(),
            Some("2024-02-29T22:29:59.999Z")
        );
        assert_eq!(
            t("2000-03-01t00:00:00.1-00:30").as_deref(),
            Some("2000-03-01T00:30:00.100Z")
        );
        assert_eq!(
            t("1969-12-31T23:59:59.5Z").as_deref(),
            Some("1969-12-31T23:59:59.500Z")
        );
        assert_eq!(t("2023-02-29T00:00:00Z"), None);
        assert_eq!(t("2023-01-01T00:00:00"), None);
        assert_eq!(t("2023-01-01T00:00:00.Z"), None);
        assert_eq!(t("yesterday"), None);
        assert_eq!(
            parse_rfc3339("2025-01-01T00:00:00Z")
                .map(|ms| format_utc_millis(ms + 86_400_000))
                .as_deref(),
            Some("2025-01-02T00:00:00.000Z")
        );
    }
}
