//! The deployment history: one line per deploy that ran for real, kept by the host
//! across runs in the workspace's state directory (`deployments.jsonl`, next to
//! `runs/`, outside the workspace, so no plugin can rewrite it).
//!
//! A deploy is a stage whose plugin describes itself as a `deployer` (docker-deploy,
//! swarm-deploy) and that ran (not skipped, not a dry run). Its entry holds what a
//! reviewer asks afterwards — when, to which environment (and whether the run was
//! approved for it), which run and commit, which stage and plugin
//! (digest), the outcome and its reason, the image deployed and the one before it
//! (the plugin's `image` and `previous-image` outputs), and the engine effects the
//! host performed for it, read back from the run's effect journal (operation, detail,
//! outcome): the record of what was done is the host's, not the plugin's.
//!
//! Each entry is one line appended and fsynced, so a crash loses at most the line being
//! written; a torn last line is skipped when reading, with a note. `gantry
//! deployments` lists the history (`--json` for the entries as written).
//! Tests: `tests/e2e/deploy.rs`.

use std::fs::OpenOptions;
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

use serde_json::{Value, json};

use crate::report::model::{StageRecord, StageStatus};

/// The history file, in the workspace's state directory.
pub const FILE: &str = "deployments.jsonl";

/// The entries of the deploys among `records` (one run), effects from its journal.
pub fn entries(
    records: &[StageRecord],
    run_id: &str,
    pipeline: &str,
    commit: Option<&str>,
    journal: &Path,
    environment_of: &dyn Fn(&str) -> Option<String>,
    approved: &[String],
    rollback: Option<&str>,
    dependents: &dyn Fn(&str) -> Vec<String>,
) -> Vec<Value> {
    let deploys: Vec<&str> = records
        .iter()
        .filter(|r| r.plugin.as_ref().is_some_and(|p| p.kind == "deployer"))
        .map(|r| r.stage.as_str())
        .collect();
    if deploys.is_empty() {
        // Most runs deploy nothing: the journal is not read at all.
        return Vec::new();
    }
    // The deploy stages' lines only, and their outcomes by sequence number: one pass,
    // however many effects other stages journaled.
    let mut intents: Vec<Value> = Vec::new();
    let mut outcomes: std::collections::HashMap<u64, Value> = std::collections::HashMap::new();
    for line in std::fs::read_to_string(journal).unwrap_or_default().lines() {
        let Ok(e) = serde_json::from_str::<Value>(line) else {
            continue;
        };
        if !e["stage"].as_str().is_some_and(|s| deploys.contains(&s)) {
            continue;
        }
        match (e["phase"].as_str(), e["seq"].as_u64()) {
            (Some("intent"), _) => intents.push(e),
            (Some(_), Some(seq)) => {
                outcomes.insert(seq, e["phase"].clone());
            }
            _ => {}
        }
    }
    records
        .iter()
        .filter(|r| r.plugin.as_ref().is_some_and(|p| p.kind == "deployer"))
        .filter(|r| {
            r.attempts > 0 && !matches!(r.status, StageStatus::Pending | StageStatus::Skipped)
        })
        .map(|r| {
            let output = |k: &str| {
                r.report
                    .as_ref()
                    .and_then(|rep| rep.outputs.iter().find(|(key, _)| key == k))
                    .map(|(_, v)| v.clone())
            };
            // Intent lines carry the detail; their outcome line (same seq) the result.
            let done: Vec<Value> = intents
                .iter()
                .filter(|e| e["stage"] == r.stage.as_str())
                .map(|intent| {
                    let outcome = intent["seq"].as_u64().and_then(|s| outcomes.get(&s));
                    json!({
                        "capability": intent["capability"],
                        "operation": intent["operation"],
                        "detail": intent["detail"],
                        "outcome": outcome.cloned().unwrap_or_else(|| Value::from("unknown")),
                    })
                })
                .collect();
            let environment = environment_of(&r.stage);
            // Verified: every stage of this run that needs the deploy succeeded (null
            // when none ran); what `gantry rollback` requires of a version it returns to.
            let checks: Vec<&StageRecord> = dependents(&r.stage)
                .iter()
                .filter(|d| **d != r.stage)
                .filter_map(|d| records.iter().find(|x| &x.stage == d))
                .filter(|x| x.attempts > 0)
                .collect();
            let verified = if r.status != StageStatus::Succeeded {
                Value::Bool(false)
            } else if checks.is_empty() {
                Value::Null
            } else {
                Value::Bool(checks.iter().all(|x| x.status == StageStatus::Succeeded))
            };
            let approved = environment.as_ref().is_some_and(|e| approved.contains(e));
            json!({
                "time": r.started_at,
                "environment": environment,
                "approved": approved,
                "rollback": rollback == Some(r.stage.as_str()),
                "verified": verified,
                "run": run_id,
                "pipeline": pipeline,
                "commit": commit,
                "stage": r.stage,
                "plugin": r.plugin_ref,
                "digest": r.plugin_digest,
                "status": r.status,
                "reason": r.reason,
                "image": output("image"),
                "previous_image": output("previous-image"),
                "effects": done,
            })
        })
        .collect()
}

/// Appends `entries` to the history in `state_root`, one line each, fsynced.
pub fn append(state_root: &Path, entries: &[Value]) -> std::io::Result<()> {
    if entries.is_empty() {
        return Ok(());
    }
    let mut text = String::new();
    for e in entries {
        text.push_str(&e.to_string());
        text.push('\n');
    }
    let mut f = OpenOptions::new()
        .create(true)
        .append(true)
        .mode(0o600)
        .open(state_root.join(FILE))?;
    f.write_all(text.as_bytes())?;
    f.sync_all()
}

/// The history, oldest first, and notes about lines that could not be read (a torn
/// last line after a crash).
pub fn read(state_root: &Path) -> std::io::Result<(Vec<Value>, Vec<String>)> {
    let text = match std::fs::read_to_string(state_root.join(FILE)) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok((Vec::new(), Vec::new())),
        Err(e) => return Err(e),
    };
    let mut entries = Vec::new();
    let mut notes = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        match serde_json::from_str::<Value>(line) {
            Ok(v) => entries.push(v),
            Err(e) => notes.push(format!("line {} of `{FILE}` skipped: {e}", i + 1)),
        }
    }
    Ok((entries, notes))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn appended_lines_read_back_and_a_torn_line_is_skipped() {
        let dir = std::env::temp_dir().join(format!("gantry-history-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        append(&dir, &[json!({"stage": "a"}), json!({"stage": "b"})]).unwrap();
        // A crash in the middle of a line.
        let mut f = OpenOptions::new()
            .append(true)
            .open(dir.join(FILE))
            .unwrap();
        f.write_all(b"{\"stage\": \"tor").unwrap();
        let (entries, notes) = read(&dir).unwrap();
        assert_eq!(entries.len(), 2);
        assert_eq!(entries[1]["stage"], "b");
        assert_eq!(notes.len(), 1, "{notes:?}");
        assert!(
            notes[0].starts_with("line 3 of `deployments.jsonl` skipped"),
            "{notes:?}"
        );
        let _ = std::fs::remove_dir_all(&dir);
    }
}
