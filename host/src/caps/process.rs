//! Capability `process` (`gantry:plugin/process`): allow-listed host commands.
//!
//! Not implemented in this version: every call is refused with a `denied` error and
//! audited. (The grant syntax is validated by the manifest already.)

use crate::runtime::StageState;
use crate::runtime::bindings::process::{Command, Host, Output};
use crate::runtime::bindings::types::CapError;

impl Host for StageState {
    fn run(&mut self, cmd: Command) -> wasmtime::Result<Result<Output, CapError>> {
        let program: String = cmd.program.chars().take(128).collect();
        Ok(Err(self.broker.deny(
            "process",
            "run",
            &format!("command `{program}` is not granted"),
            &format!("grants.process = [{{ cmd = \"{program}\", args = [...] }}]"),
            Some(serde_json::json!({ "program": program, "args": cmd.args.len() })),
        )))
    }
}
