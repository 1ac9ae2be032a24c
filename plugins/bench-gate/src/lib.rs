//! `bench-gate`: gantry's official plugin that compares benchmark results with a
//! stored baseline and fails the pipeline on regressions.
//!
//! [`results`] reads criterion's output directory, bench-gate's JSON format and
//! `cargo bench` bencher lines; [`compare`] decides regressions, improvements, missing
//! and new benchmarks, using criterion's confidence intervals to tell change from
//! noise. Both are plain Rust over `std::fs` and run natively too (tests, benchmark);
//! `plugin` is the thin gantry glue exported as the `builtin:bench-gate` component.
//! Rules, configuration, the JSON format and the noise rule: `RULES.md`.
//!
//! Tests: `mod tests` in [`results`], and `src/tests.rs` over real criterion and
//! libtest output in `tests/fixtures/` (how it was produced: `tests/fixtures/README.md`).
//!
//! Under `--dry-run` it reads nothing and judges nothing: the stages that write its
//! reports were planned, not run, so what is on disk is an earlier run's. It succeeds
//! with `evaluated = "false"` and a summary saying so (`tests/e2e/gates.rs`).

pub mod compare;
pub mod results;

mod plugin;

#[cfg(test)]
mod tests;

pub use compare::{Config, Outcome, evaluate};

/// Why the gate could not compare.
#[derive(Debug, thiserror::Error)]
pub enum BenchError {
    #[error("{0}")]
    Config(String),
    #[error("cannot read benchmark results `{path}`: {source}")]
    Read {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}: {message}")]
    Invalid { path: String, message: String },
}
