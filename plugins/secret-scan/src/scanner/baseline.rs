//! Baseline file of accepted findings:
//! `{"version":1,"findings":[{"rule":"…","path":"…","fingerprint":"…"}]}`.
//! A finding is suppressed when its fingerprint is listed; `rule` and `path` are
//! there for the reader (and for tools that prune stale entries).

use std::collections::HashSet;

use serde::{Deserialize, Serialize};

use super::Finding;

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct BaselineFile {
    version: u32,
    #[serde(default)]
    findings: Vec<Entry>,
}

#[derive(Debug, Serialize, Deserialize, PartialEq, Eq, PartialOrd, Ord)]
#[serde(deny_unknown_fields)]
struct Entry {
    rule: String,
    path: String,
    fingerprint: String,
}

/// Parse baseline text; `name` (the workspace-relative path) is used in errors.
pub(crate) fn parse(name: &str, text: &str) -> Result<HashSet<String>, String> {
    let file: BaselineFile = serde_json::from_str(text).map_err(|e| {
        if e.line() > 0 {
            format!(
                "baseline `{name}`: line {} column {}: {e}",
                e.line(),
                e.column()
            )
        } else {
            format!("baseline `{name}`: {e}")
        }
    })?;
    if file.version != 1 {
        return Err(format!(
            "baseline `{name}`: unsupported version {} (expected 1)",
            file.version
        ));
    }
    Ok(file.findings.into_iter().map(|e| e.fingerprint).collect())
}

/// Serialize findings as a baseline (sorted, one entry per fingerprint).
pub fn baseline_json(findings: &[Finding]) -> String {
    let mut entries: Vec<Entry> = findings
        .iter()
        .map(|f| Entry {
            rule: f.rule_id.clone(),
            path: f.path.clone(),
            fingerprint: f.fingerprint.clone(),
        })
        .collect();
    entries.sort();
    entries.dedup_by(|a, b| a.fingerprint == b.fingerprint);
    let file = BaselineFile {
        version: 1,
        findings: entries,
    };
    let mut s = serde_json::to_string_pretty(&file)
        .unwrap_or_else(|_| String::from("{\"version\":1,\"findings\":[]}"));
    s.push('\n');
    s
}
