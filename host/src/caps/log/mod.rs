//! Capability `log` (`gantry:plugin/log`): always granted.
//!
//! Records go to the stage's log file (`logs/<stage>.log`), capped per stage by
//! `limits.stdout`. Logging is not audited line by line: it has no effect outside the
//! run records.
//!
//! A single record is bounded too, whatever the plugin's memory allows: a message is
//! cut at [`MAX_MESSAGE`] bytes, at most [`MAX_FIELDS`] fields are kept, each key at
//! [`MAX_KEY`] and each value at [`MAX_VALUE`] bytes; what was cut is said in the
//! record itself (`…[truncated by gantry: N bytes dropped]`). The cutting is done by
//! [`crate::run::log::StageLog::record`], after it redacted each text whole (a value
//! cut in half by the limit would otherwise keep its first half). A flood of records
//! costs the host a counter once the stage's cap is reached: nothing is buffered.
//! Before any of this, wasmtime refuses to copy more than 128 MiB across the boundary
//! in one call ("hostcall fuel"): such a call traps and the stage fails.
//!
//! Tests: `tests/e2e/sandbox.rs` (`log_floods_and_huge_strings_are_bounded`).

pub mod describe;

use crate::caps::bindings::log::{Field, Host, Level};
use crate::caps::context::StageState;

/// Longest message of one record, in bytes.
pub const MAX_MESSAGE: usize = 16 * 1024;
/// Most fields kept in one record.
pub const MAX_FIELDS: usize = 64;
/// Longest field key, in bytes.
pub const MAX_KEY: usize = 256;
/// Longest field value, in bytes.
pub const MAX_VALUE: usize = 4 * 1024;

/// Cuts `s` to at most `max` bytes (on a character boundary) and says how much went.
pub fn clip(mut s: String, max: usize) -> String {
    if s.len() <= max {
        return s;
    }
    let cut = (0..=max)
        .rev()
        .find(|&i| s.is_char_boundary(i))
        .unwrap_or(0);
    let dropped = s.len() - cut;
    s.truncate(cut);
    s.push_str(&format!("…[truncated by gantry: {dropped} bytes dropped]"));
    s
}

/// At most [`MAX_FIELDS`] fields, as the plugin gave them (the log redacts, then cuts).
fn bounded_fields(fields: Vec<Field>) -> Vec<(String, String)> {
    let extra = fields.len().saturating_sub(MAX_FIELDS);
    let mut out: Vec<(String, String)> = fields
        .into_iter()
        .take(MAX_FIELDS)
        .map(|f| (f.key, f.value))
        .collect();
    if extra > 0 {
        out.push((
            "gantry.truncated".to_string(),
            format!("{extra} more fields dropped"),
        ));
    }
    out
}

impl Host for StageState {
    fn log(&mut self, level: Level, message: String, fields: Vec<Field>) -> wasmtime::Result<()> {
        let level = match level {
            Level::Trace => "trace",
            Level::Debug => "debug",
            Level::Info => "info",
            Level::Warn => "warn",
            Level::Error => "error",
        };
        self.log.record(level, message, bounded_fields(fields));
        Ok(())
    }

    fn progress(&mut self, done: u64, total: Option<u64>, message: String) -> wasmtime::Result<()> {
        let text = match total {
            Some(t) => format!("{done}/{t} {message}"),
            None => format!("{done} {message}"),
        };
        self.log.record("progress", text, Vec::new());
        Ok(())
    }
}

impl crate::caps::bindings::types::Host for StageState {}

/// The log capability: always granted, nothing per stage.
pub struct Log;

impl super::Capability for Log {
    type State = ();
    const DESCRIPTION: &'static super::describe::Description = &describe::DESCRIPTION;

    fn link(linker: &mut wasmtime::component::Linker<StageState>) -> anyhow::Result<()> {
        use wasmtime::component::HasSelf;
        crate::caps::bindings::log::add_to_linker::<StageState, HasSelf<StageState>>(
            linker,
            |s| s,
        )?;
        // The contract's types (no functions) come with the log: every plugin imports both.
        crate::caps::bindings::types::add_to_linker::<StageState, HasSelf<StageState>>(
            linker,
            |s| s,
        )?;
        Ok(())
    }

    fn prepare(_: &super::Prepare<'_>) {}
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clip_keeps_char_boundaries_and_says_what_it_dropped() {
        assert_eq!(clip("abc".into(), 3), "abc");
        assert_eq!(
            clip("aé".into(), 2),
            "a…[truncated by gantry: 2 bytes dropped]"
        );
    }
}
