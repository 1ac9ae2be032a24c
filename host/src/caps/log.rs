//! Capability `log` (`gantry:plugin/log`): always granted.
//!
//! Records go to the stage's log file (`logs/<stage>.log`), capped per stage by
//! `limits.stdout`. Logging is not audited line by line: it has no effect outside the
//! run records.

use crate::runtime::StageState;
use crate::runtime::bindings::log::{Field, Host, Level};

impl Host for StageState {
    fn log(&mut self, level: Level, message: String, fields: Vec<Field>) -> wasmtime::Result<()> {
        let level = match level {
            Level::Trace => "trace",
            Level::Debug => "debug",
            Level::Info => "info",
            Level::Warn => "warn",
            Level::Error => "error",
        };
        let fields: Vec<(String, String)> = fields.into_iter().map(|f| (f.key, f.value)).collect();
        self.log.record(level, &message, &fields);
        Ok(())
    }

    fn progress(&mut self, done: u64, total: Option<u64>, message: String) -> wasmtime::Result<()> {
        let text = match total {
            Some(t) => format!("{done}/{t} {message}"),
            None => format!("{done} {message}"),
        };
        self.log.record("progress", &text, &[]);
        Ok(())
    }
}

impl crate::runtime::bindings::types::Host for StageState {}
