//! `audit.jsonl`: one JSON line per capability use or refusal.
//!
//! Fields: `time`, `run`, `stage`, `plugin` (digest), `capability`, `operation`,
//! `decision` (`allow` / `deny`), `reason`, and optional `detail`. Lines are written
//! whole and flushed at once, so a crash loses at most the line being written.
//! Secret values never reach this file: brokers log handles and names, not values, and
//! what a plugin passed (which may be a value it may read) is redacted by
//! [`AuditLog::write`] ([`super::redact`]).

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::Path;
use std::sync::{Arc, Mutex};

use serde::Serialize;

use super::clock::now_rfc3339;
use super::redact::Redactor;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Decision {
    Allow,
    Deny,
}

#[derive(Debug, Clone, Serialize)]
pub struct AuditRecord<'a> {
    pub time: String,
    pub run: &'a str,
    pub stage: &'a str,
    pub plugin: &'a str,
    pub capability: &'a str,
    pub operation: &'a str,
    pub decision: Decision,
    pub reason: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<serde_json::Value>,
}

/// The run's audit log. Cheap to share (`Arc<AuditLog>`).
pub struct AuditLog {
    file: Mutex<Option<File>>,
    redactor: Arc<Redactor>,
}

impl AuditLog {
    pub fn create(path: &Path) -> std::io::Result<AuditLog> {
        let file = OpenOptions::new().create(true).append(true).open(path)?;
        Ok(AuditLog {
            file: Mutex::new(Some(file)),
            redactor: Arc::default(),
        })
    }

    /// Every string of every record redacted with `redactor` before it is written:
    /// brokers record what the plugin passed (arguments, paths, names it asked for),
    /// which may be a value it was allowed to read.
    pub fn redacting(mut self, redactor: Arc<Redactor>) -> AuditLog {
        self.redactor = redactor;
        self
    }

    /// An audit log that records nothing (used by `describe` calls outside a run).
    pub fn disabled() -> AuditLog {
        AuditLog {
            file: Mutex::new(None),
            redactor: Arc::default(),
        }
    }

    pub fn write(&self, record: &AuditRecord<'_>) {
        let line = if self.redactor.is_empty() {
            serde_json::to_vec(record)
        } else {
            let reason = self.redactor.redact(record.reason);
            let mut detail = record.detail.clone();
            if let Some(d) = detail.as_mut() {
                self.redactor.redact_json(d);
            }
            serde_json::to_vec(&AuditRecord {
                reason: &reason,
                detail,
                ..record.clone()
            })
        };
        let Ok(mut line) = line else {
            return;
        };
        line.push(b'\n');
        let mut guard = self.file.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(f) = guard.as_mut() {
            // One write per line: O_APPEND keeps lines whole.
            if let Err(e) = f.write_all(&line) {
                tracing::error!("cannot write audit log: {e}");
            }
        }
    }
}

/// Who is acting: the stage and plugin an audit record is about.
#[derive(Debug, Clone)]
pub struct Actor {
    pub run: String,
    pub stage: String,
    pub plugin: String,
}

impl Actor {
    pub fn record(
        &self,
        log: &AuditLog,
        capability: &str,
        operation: &str,
        decision: Decision,
        reason: &str,
        detail: Option<serde_json::Value>,
    ) {
        log.write(&AuditRecord {
            time: now_rfc3339(),
            run: &self.run,
            stage: &self.stage,
            plugin: &self.plugin,
            capability,
            operation,
            decision,
            reason,
            detail,
        });
    }
}
