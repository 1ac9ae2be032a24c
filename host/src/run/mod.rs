//! Running a pipeline: preparation, the scheduler, and the run records.
//!
//! Records of a run live in `runs/<run-id>/` of the workspace's directory in gantry's
//! state directory, outside the workspace ([`state`]; `.gantry` in the workspace links
//! to it):
//! `run.json` (state, replaced atomically at every stage transition), `audit.jsonl`,
//! `logs/<stage>.log`, and at the end `summary.json`, `report.sarif`, `junit.xml`.
//! `run.lock` is held (flock) by the process running it; `gantry run --resume`
//! continues a run that did not finish, in the same directory ([`resume`]).
//!
//! Tests: `tests/e2e/run.rs` (DAG order, parallelism, fail-fast, retries, `when`,
//! outputs, exit codes).

pub mod artifacts;
pub mod atomic;
pub mod audit;
pub mod clock;
pub mod display;
pub mod findings;
pub mod git;
pub mod history;
pub mod journal;
pub mod log;
pub mod preflight;
pub mod prepare;
pub mod redact;
pub mod resume;
pub mod scheduler;
pub mod state;

pub use scheduler::{RunOptions, RunOutcome, execute};
