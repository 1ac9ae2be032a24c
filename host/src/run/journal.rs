//! `journal.jsonl`: every mutating effect, written and fsynced *before* the broker
//! performs it, then its result. A run killed between the two lines leaves an
//! `intent` without an outcome: exactly the effects whose state is unknown.
//!
//! In `--dry-run` the intent is recorded with `"dry_run": true` and nothing is
//! performed; the run's `plan.json` lists those intended effects.
//!
//! Line shape: `{"time","run","stage","seq","phase":"intent"|"done"|"failed"|"planned"|"unknown",
//! "capability","operation","detail",("result")}`. Secret values never appear:
//! brokers pass names, and every string of an entry is redacted before it is written
//! ([`Journal::redacting`]).

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use serde_json::{Value, json};

use super::clock::now_rfc3339;
use super::redact::Redactor;

/// How many planned image references one dry run remembers.
pub const MAX_PLANNED_IMAGES: usize = 10_000;

pub struct Journal {
    file: Mutex<Option<File>>,
    seq: AtomicU64,
    planned: Mutex<Vec<Value>>,
    /// Image references a dry run planned (built tags, pushed `repo@digest`): later
    /// stages of the same dry run may use them as planned; nothing else may.
    planned_images: Mutex<std::collections::BTreeSet<String>>,
    redactor: Arc<Redactor>,
}

impl Journal {
    pub fn create(path: &Path) -> std::io::Result<Journal> {
        let file = OpenOptions::new().create(true).append(true).open(path)?;
        Ok(Journal {
            file: Mutex::new(Some(file)),
            seq: AtomicU64::new(0),
            planned: Mutex::new(Vec::new()),
            planned_images: Mutex::default(),
            redactor: Arc::default(),
        })
    }

    /// Every string of every entry (and of `plan.json`) redacted with `redactor`: an
    /// effect's detail holds what the plugin passed.
    pub fn redacting(mut self, redactor: Arc<Redactor>) -> Journal {
        self.redactor = redactor;
        self
    }

    /// A journal that keeps nothing (describe calls, benchmarks).
    pub fn disabled() -> Journal {
        Journal {
            file: Mutex::new(None),
            seq: AtomicU64::new(0),
            planned: Mutex::new(Vec::new()),
            planned_images: Mutex::default(),
            redactor: Arc::default(),
        }
    }

    fn append(&self, line: &Value, sync: bool) -> std::io::Result<()> {
        let mut bytes = if self.redactor.is_empty() {
            serde_json::to_vec(line).unwrap_or_default()
        } else {
            let mut line = line.clone();
            self.redactor.redact_json(&mut line);
            serde_json::to_vec(&line).unwrap_or_default()
        };
        bytes.push(b'\n');
        let mut guard = self.file.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(f) = guard.as_mut() {
            f.write_all(&bytes)?;
            if sync {
                f.sync_data()?;
            }
        }
        Ok(())
    }

    /// Records the intent to perform an effect; returns its sequence number. Fails
    /// (and the broker must not act) if the intent cannot be made durable.
    pub fn intent(
        &self,
        run: &str,
        stage: &str,
        capability: &str,
        operation: &str,
        detail: Value,
    ) -> std::io::Result<u64> {
        let seq = self.seq.fetch_add(1, Ordering::SeqCst) + 1;
        self.append(
            &json!({"time": now_rfc3339(), "run": run, "stage": stage, "seq": seq, "phase": "intent",
                    "capability": capability, "operation": operation, "detail": detail}),
            true,
        )?;
        Ok(seq)
    }

    /// Records the outcome of effect `seq`.
    pub fn outcome(&self, run: &str, stage: &str, seq: u64, ok: bool, result: Value) {
        let phase = if ok { "done" } else { "failed" };
        if let Err(e) = self.append(
            &json!({"time": now_rfc3339(), "run": run, "stage": stage, "seq": seq, "phase": phase, "result": result}),
            true,
        ) {
            tracing::error!("cannot write journal: {e}");
        }
    }

    /// `--dry-run`: the effect is recorded as planned and not performed.
    pub fn planned(
        &self,
        run: &str,
        stage: &str,
        capability: &str,
        operation: &str,
        detail: Value,
    ) {
        let seq = self.seq.fetch_add(1, Ordering::SeqCst) + 1;
        let mut entry = json!({"time": now_rfc3339(), "run": run, "stage": stage, "seq": seq, "phase": "planned",
                           "capability": capability, "operation": operation, "detail": detail});
        self.redactor.redact_json(&mut entry);
        if let Err(e) = self.append(&entry, false) {
            tracing::error!("cannot write journal: {e}");
        }
        self.planned
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(entry);
    }

    /// A resumed run appends to its journal: continue the sequence numbers after `seq`.
    pub fn continue_after(&self, seq: u64) {
        self.seq.fetch_max(seq, Ordering::SeqCst);
    }

    /// Closes effect `seq`, left without an outcome by a process that died, as
    /// `unknown`: a resume reported it, later resumes need not (see `run::resume`).
    pub fn unknown(&self, run: &str, stage: &str, seq: u64) {
        if let Err(e) = self.append(
            &json!({"time": now_rfc3339(), "run": run, "stage": stage, "seq": seq, "phase": "unknown",
                    "result": "the run was killed before the outcome was recorded; reported by `gantry run --resume`"}),
            true,
        ) {
            tracing::error!("cannot write journal: {e}");
        }
    }

    /// Effects recorded as planned (for `plan.json`).
    /// Remembers an image reference this dry run planned (never performed), up to
    /// [`MAX_PLANNED_IMAGES`]: a plugin looping over planned builds cannot grow host
    /// memory without bound; past the cap a planned image is simply not known to later
    /// stages (they get the "no earlier stage of this dry run planned it" refusal).
    pub fn plan_image(&self, reference: &str) {
        let mut planned = self
            .planned_images
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        if planned.len() < MAX_PLANNED_IMAGES {
            planned.insert(reference.to_string());
        }
    }

    /// Whether an earlier effect of this dry run planned `reference`.
    pub fn image_planned(&self, reference: &str) -> bool {
        self.planned_images
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .contains(reference)
    }

    pub fn planned_effects(&self) -> Vec<Value> {
        self.planned
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }
}
