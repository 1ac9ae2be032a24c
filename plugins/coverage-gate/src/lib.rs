//! `coverage-gate`: gantry's official plugin that fails a pipeline when test coverage
//! drops below a threshold, and points at the code no test runs.
//!
//! It reads LCOV tracefiles ([`lcov`]) and Cobertura XML ([`cobertura`], over
//! `quick-xml` with the document checks of [`xml`]), maps the paths they name to the workspace
//! ([`paths`]), merges several reports ([`model`]) and judges them ([`gate`]). All of
//! that is plain Rust over `std::fs` and runs natively too (unit tests, benchmark);
//! `plugin` is the thin gantry glue exported as the `builtin:coverage-gate`
//! component. Rules, configuration and examples: `RULES.md`.
//!
//! Tests: each module's `mod tests`, and `src/tests.rs`, which runs the gate over the
//! real-tool outputs in `tests/fixtures/` (how each was produced:
//! `tests/fixtures/README.md`).
//!
//! Under `--dry-run` it reads nothing and judges nothing: the stages that write its
//! reports were planned, not run, so what is on disk is an earlier run's. It succeeds
//! with `evaluated = "false"` and a summary saying so (`tests/e2e/gates.rs`).

pub mod cobertura;
pub mod gate;
pub mod lcov;
pub mod model;
pub mod paths;
pub mod xml;

mod plugin;

#[cfg(test)]
mod tests;

use std::path::Path;

pub use gate::{Config, Outcome, evaluate};

/// A malformed report, with the position of the problem.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "{report}:{line}:{column}: {message}\nhint: coverage-gate reads LCOV (`lcov.info`) and Cobertura XML (`coverage.xml`); regenerate the report or fix the line above"
)]
pub struct ParseError {
    /// Workspace-relative path of the report.
    pub report: String,
    pub line: usize,
    pub column: usize,
    pub message: String,
}

/// Why the gate could not judge.
#[derive(Debug, thiserror::Error)]
pub enum GateError {
    #[error("{0}")]
    Config(String),
    #[error("{0}")]
    Parse(#[from] ParseError),
    #[error("cannot read coverage report `{path}`: {source}")]
    Read {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("coverage report `{0}` is not UTF-8 text; coverage-gate reads LCOV and Cobertura XML")]
    NotText(String),
}

/// Reads one report, detecting the format from its content: XML (first non-blank
/// character `<`) is Cobertura, anything else LCOV. Returns the coverage keyed by the
/// paths the report names, and Cobertura's `<source>` roots.
pub fn load_report(path: &Path, name: &str) -> Result<(model::Coverage, Vec<String>), GateError> {
    let bytes = std::fs::read(path).map_err(|source| GateError::Read {
        path: name.to_string(),
        source,
    })?;
    let text = String::from_utf8(bytes).map_err(|_| GateError::NotText(name.to_string()))?;
    parse_report(&text, name)
}

/// [`load_report`] on text already in memory.
pub fn parse_report(text: &str, name: &str) -> Result<(model::Coverage, Vec<String>), GateError> {
    let head = text.trim_start_matches('\u{feff}').trim_start();
    if head.starts_with('<') {
        let p = cobertura::parse(text, name)?;
        Ok((p.coverage, p.sources))
    } else {
        Ok((lcov::parse(text, name)?, Vec::new()))
    }
}
