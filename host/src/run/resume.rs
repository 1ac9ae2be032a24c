//! `gantry run --resume [RUN-ID]`: continue a run that was killed, interrupted or
//! failed, from its records.
//!
//! **Same directory, same run id.** A resumed run writes into the run directory it
//! continues (`.gantry/runs/<run-id>/`), under the same run id: `${run.id}`, Docker
//! labels and the journal's `run` field keep naming one pipeline execution, so its
//! leftovers stay attributable and a later `--resume` finds everything in one place.
//! `audit.jsonl` and `journal.jsonl` are appended to; the log of a stage that runs
//! again is appended to after a `resumed` marker line; `run.json` gains one entry in
//! `resumed` per resume (time, pid, reused stages, effects of unknown outcome);
//! `summary.json`, `report.sarif` and `junit.xml` are rewritten from every stage's
//! final record, reused or rerun.
//!
//! **What runs again.** Stages that `succeeded` (or `failed-allowed`: their failure
//! was accepted) keep their record and outputs, so `${stages.X.outputs.Y}` still
//! resolves; every other stage (failed, cancelled, skipped, never started, or
//! running when the process died) is decided and run again. The selection of stages
//! and `--dry-run` are those of the original run.
//!
//! **What is refused** (exit 2, nothing runs, nothing written): a run that finished
//! successfully; a run another gantry process still holds (`run.lock`, an advisory
//! `flock` released by the kernel when its holder dies, so a SIGKILLed run is never
//! "stuck"); and a run whose inputs changed — the bytes of pipeline.toml (sha256
//! recorded in `run.json` as `manifest_sha256`), any stage's grants (`grants`), any
//! stage's plugin digest, or the git commit. Reusing outputs computed from other
//! inputs would be a run that never happened.
//!
//! **Effects of unknown outcome.** An `intent` in `journal.jsonl` without a `done` or
//! `failed` line means the process died while the effect was under way: it may or may
//! not have happened. The resume says so, naming each effect, on the console, in the
//! stage's log, in `run.json` and `summary.json` (`resumed.unknown_effects`), and
//! closes each one in the journal with a line of phase `unknown`, so a later resume
//! does not report it again. It never replays or undoes them: that needs a human or
//! the plugin, which runs again and sees the world as it is.
//!
//! Tests: `tests/e2e/resume.rs`.

use std::collections::{BTreeMap, BTreeSet};
use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};

use serde_json::{Value, json};

use crate::report::model::{StageRecord, StageStatus};
use crate::run::git::GitFacts;
use crate::run::prepare::Prepared;

/// Held for as long as a process runs (or resumes) a run: an exclusive `flock` on
/// `<run-dir>/run.lock`, which also holds the holder's pid for messages.
pub struct RunLock {
    _file: File,
}

impl RunLock {
    /// Takes the lock, or says which process holds it.
    pub fn acquire(dir: &Path) -> Result<RunLock, String> {
        let path = dir.join("run.lock");
        let mut file = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .read(true)
            .write(true)
            .open(&path)
            .map_err(|e| format!("cannot open `{}`: {e}", path.display()))?;
        match file.try_lock() {
            Ok(()) => {}
            Err(std::fs::TryLockError::WouldBlock) => {
                let pid = std::fs::read_to_string(&path)
                    .ok()
                    .map(|s| s.trim().to_string())
                    .filter(|s| !s.is_empty())
                    .map(|p| format!(" (pid {p})"))
                    .unwrap_or_default();
                return Err(format!(
                    "another gantry process{pid} is still running this run"
                ));
            }
            Err(std::fs::TryLockError::Error(e)) => {
                return Err(format!("cannot lock `{}`: {e}", path.display()));
            }
        }
        let _ = file.set_len(0);
        let _ = file.write_all(std::process::id().to_string().as_bytes());
        Ok(RunLock { _file: file })
    }
}

/// An effect the interrupted process started and never recorded the end of.
#[derive(Debug, Clone)]
pub struct UnknownEffect {
    pub stage: String,
    pub seq: u64,
    pub capability: String,
    pub operation: String,
    pub detail: Value,
    pub time: String,
}

impl UnknownEffect {
    /// One line for humans: `effect #3 (process run {"cmd":"sh",…}, started …)`.
    pub fn describe(&self) -> String {
        let mut detail = self.detail.to_string();
        if detail.len() > 300 {
            let cut = (0..=300)
                .rev()
                .find(|&i| detail.is_char_boundary(i))
                .unwrap_or(0);
            detail.truncate(cut);
            detail.push('…');
        }
        format!(
            "effect #{} `{} {}` {detail} (intent recorded {}) may or may not have happened: \
             the run was killed before its outcome was recorded; check it before relying on it",
            self.seq, self.capability, self.operation, self.time
        )
    }

    pub fn to_json(&self) -> Value {
        json!({"stage": self.stage, "seq": self.seq, "capability": self.capability,
               "operation": self.operation, "detail": self.detail, "intent_time": self.time})
    }
}

/// A run to continue, checked and locked.
pub struct Resume {
    pub run_id: String,
    pub dir: PathBuf,
    pub lock: RunLock,
    /// `state` recorded by the interrupted process (`running` if it was killed).
    pub previous_state: String,
    pub started_at: String,
    /// Stages of the original run, in order (its selection and what it needs).
    pub selected: Vec<String>,
    pub dry_run: bool,
    /// The inputs the run was started with (`run.json`): a resumed run keeps them.
    pub inputs: BTreeMap<String, String>,
    /// The environments the run was approved for.
    pub approved: Vec<String>,
    /// Records of stages that are not run again.
    pub kept: BTreeMap<String, StageRecord>,
    pub unknown_effects: Vec<UnknownEffect>,
    /// Highest journal sequence number so far; new effects continue after it.
    pub last_seq: u64,
    /// Earlier `resumed` entries of `run.json`.
    pub history: Vec<Value>,
    /// `run.json` as the interrupted process left it.
    recorded: Value,
}

/// Which directory `--resume [RUN-ID]` means.
pub fn find(records_root: &Path, id: Option<&str>) -> Result<PathBuf, String> {
    if let Some(id) = id {
        if id.is_empty()
            || !id
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        {
            return Err(format!(
                "`{id}` is not a run id (e.g. `20261126T105027Z-a1b2c3`)"
            ));
        }
        let dir = records_root.join(id);
        if !dir.join("run.json").is_file() {
            return Err(format!("no run `{id}` in `{}`", records_root.display()));
        }
        return Ok(dir);
    }
    // Run ids start with their UTC start time, so the greatest is the latest.
    let latest = std::fs::read_dir(records_root)
        .into_iter()
        .flatten()
        .flatten()
        .filter(|e| e.path().join("run.json").is_file())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .max();
    match latest {
        Some(id) => Ok(records_root.join(id)),
        None => Err(format!(
            "there is no run to resume in `{}`",
            records_root.display()
        )),
    }
}

/// Locks the run in `dir` and reads what it recorded. Refuses a finished run.
pub fn load(dir: &Path, named: bool) -> Result<Resume, String> {
    let run_id = dir
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let lock = RunLock::acquire(dir).map_err(|e| format!("cannot resume run `{run_id}`: {e}"))?;
    let text = std::fs::read_to_string(dir.join("run.json"))
        .map_err(|e| format!("cannot read `{}`: {e}", dir.join("run.json").display()))?;
    let doc: Value = serde_json::from_str(&text).map_err(|e| {
        format!(
            "`{}` is not valid JSON: {e}",
            dir.join("run.json").display()
        )
    })?;
    let state = doc["state"].as_str().unwrap_or("running").to_string();
    let stages: Vec<StageRecord> = serde_json::from_value(doc["stages"].clone())
        .map_err(|e| format!("`run.json` of run `{run_id}` has unreadable stages: {e}"))?;
    let exit_code = doc["exit_code"].as_i64();
    let all_done = stages.iter().all(|r| {
        matches!(
            r.status,
            StageStatus::Succeeded | StageStatus::FailedAllowed | StageStatus::Skipped
        )
    });
    if state == "finished" && (exit_code == Some(0) || (exit_code.is_none() && all_done)) {
        let hint = if named {
            String::new()
        } else {
            "; to continue an older run, name it: `gantry run --resume RUN-ID`".to_string()
        };
        return Err(format!(
            "run `{run_id}` finished successfully: nothing to resume{hint}"
        ));
    }
    if !doc["manifest_sha256"].is_string() {
        return Err(format!(
            "run `{run_id}` was recorded by an older gantry, without the fingerprint of its pipeline; it cannot be resumed safely: start a new run"
        ));
    }
    let selected: Vec<String> = stages.iter().map(|r| r.stage.clone()).collect();
    let kept = stages
        .into_iter()
        .filter(|r| {
            matches!(
                r.status,
                StageStatus::Succeeded | StageStatus::FailedAllowed
            )
        })
        .map(|r| (r.stage.clone(), r))
        .collect();
    let (unknown_effects, last_seq) = unfinished_effects(&dir.join("journal.jsonl"));
    Ok(Resume {
        run_id,
        dir: dir.to_path_buf(),
        lock,
        previous_state: state,
        started_at: doc["started_at"].as_str().unwrap_or_default().to_string(),
        selected,
        dry_run: doc["dry_run"].as_bool().unwrap_or(false),
        inputs: doc["inputs"]
            .as_object()
            .map(|o| {
                o.iter()
                    .filter_map(|(k, v)| v.as_str().map(|v| (k.clone(), v.to_string())))
                    .collect()
            })
            .unwrap_or_default(),
        approved: doc["approved"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|v| v.as_str().map(String::from))
                    .collect()
            })
            .unwrap_or_default(),
        kept,
        unknown_effects,
        last_seq,
        history: doc["resumed"].as_array().cloned().unwrap_or_default(),
        recorded: doc,
    })
}

impl Resume {
    /// Differences between what the run recorded and what would run now; empty when
    /// resuming is safe.
    pub fn changes(&self, prepared: &Prepared, git: &GitFacts) -> Vec<String> {
        let doc = &self.recorded;
        let fp = fingerprint(prepared);
        let mut out = Vec::new();
        let file = prepared.manifest.path.display();
        if doc["manifest_sha256"] != fp["manifest_sha256"] {
            out.push(format!(
                "`{file}` changed (sha256 {} → {})",
                short(&doc["manifest_sha256"]),
                short(&fp["manifest_sha256"])
            ));
        }
        let old_grants = doc["grants"].as_object().cloned().unwrap_or_default();
        let new_grants = fp["grants"].as_object().cloned().unwrap_or_default();
        let names: BTreeSet<&String> = old_grants.keys().chain(new_grants.keys()).collect();
        for name in names {
            match (old_grants.get(name), new_grants.get(name)) {
                (Some(a), Some(b)) if a != b => {
                    out.push(format!("stage `{name}`: grants changed: {a} → {b}"))
                }
                (Some(_), None) => out.push(format!("stage `{name}`: removed from the pipeline")),
                (None, Some(_)) => out.push(format!("stage `{name}`: added to the pipeline")),
                _ => {}
            }
        }
        for rec in doc["stages"].as_array().into_iter().flatten() {
            let name = rec["stage"].as_str().unwrap_or_default();
            let old = rec["plugin_digest"].as_str().unwrap_or_default();
            if let Some(p) = prepared.stage(name) {
                let now = p.plugin.digest.to_string();
                if now != old {
                    out.push(format!("stage `{name}`: plugin digest {old} → {now}"));
                }
            }
        }
        let old_sha = doc["git"]["sha"].as_str();
        if old_sha != git.sha.as_deref() {
            out.push(format!(
                "git commit {} → {}",
                old_sha.unwrap_or("(none)"),
                git.sha.as_deref().unwrap_or("(none)")
            ));
        }
        out
    }
}

fn short(v: &Value) -> String {
    v.as_str()
        .map(|s| s.chars().take(12).collect())
        .unwrap_or_else(|| "(none)".to_string())
}

/// What a run records about its inputs so that a resume can tell whether they changed:
/// `manifest_sha256` (the pipeline file's bytes) and `grants` (per stage). Plugin
/// digests are in each stage's record.
pub fn fingerprint(prepared: &Prepared) -> Value {
    use sha2::{Digest as _, Sha256};
    let m = &prepared.manifest;
    let grants: serde_json::Map<String, Value> = m
        .stages
        .iter()
        .map(|s| {
            (
                s.name.clone(),
                serde_json::to_value(&s.grants).unwrap_or(Value::Null),
            )
        })
        .collect();
    json!({
        "manifest_sha256": hex::encode(Sha256::digest(m.source.as_bytes())),
        "grants": grants,
    })
}

/// Intents without an outcome, and the highest sequence number in the journal.
fn unfinished_effects(path: &Path) -> (Vec<UnknownEffect>, u64) {
    let Ok(text) = std::fs::read_to_string(path) else {
        return (Vec::new(), 0);
    };
    let mut intents: BTreeMap<u64, UnknownEffect> = BTreeMap::new();
    let mut last = 0;
    // A torn last line (killed mid-write) is skipped: its intent was never durable,
    // so its effect was never started.
    for line in text
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
    {
        let Some(seq) = line["seq"].as_u64() else {
            continue;
        };
        last = last.max(seq);
        match line["phase"].as_str() {
            Some("intent") => {
                intents.insert(
                    seq,
                    UnknownEffect {
                        stage: line["stage"].as_str().unwrap_or_default().to_string(),
                        seq,
                        capability: line["capability"].as_str().unwrap_or_default().to_string(),
                        operation: line["operation"].as_str().unwrap_or_default().to_string(),
                        detail: line["detail"].clone(),
                        time: line["time"].as_str().unwrap_or_default().to_string(),
                    },
                );
            }
            Some("done" | "failed" | "unknown") => {
                intents.remove(&seq);
            }
            _ => {}
        }
    }
    (intents.into_values().collect(), last)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn intents_without_outcome_are_unknown_and_torn_lines_ignored() {
        let dir = std::env::temp_dir().join(format!("gantry-resume-unit-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let j = dir.join("journal.jsonl");
        std::fs::write(
            &j,
            concat!(
                r#"{"seq":1,"phase":"intent","stage":"a","capability":"process","operation":"run","detail":{"cmd":"x"},"time":"t"}"#, "\n",
                r#"{"seq":1,"phase":"done","stage":"a"}"#, "\n",
                r#"{"seq":2,"phase":"intent","stage":"b","capability":"http","operation":"POST","detail":{},"time":"t"}"#, "\n",
                r#"{"seq":3,"phase":"intent","stage":"c","capability":"process","operation":"run","detail":{},"time":"t"}"#, "\n",
                r#"{"seq":3,"phase":"unknown","stage":"c"}"#, "\n",
                r#"{"seq":4,"phase":"inte"#,
            ),
        )
        .unwrap();
        let (u, last) = unfinished_effects(&j);
        assert_eq!(last, 3);
        assert_eq!(u.len(), 1);
        assert_eq!((u[0].stage.as_str(), u[0].seq), ("b", 2));
        assert!(u[0].describe().contains("`http POST`"));
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn a_held_lock_names_its_holder() {
        let dir = std::env::temp_dir().join(format!("gantry-resume-lock-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let held = RunLock::acquire(&dir).unwrap();
        let err = RunLock::acquire(&dir).err().unwrap();
        assert!(
            err.contains(&format!("pid {}", std::process::id())),
            "{err}"
        );
        drop(held);
        assert!(RunLock::acquire(&dir).is_ok());
        let _ = std::fs::remove_dir_all(&dir);
    }
}
