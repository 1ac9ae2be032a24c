//! gantry: run CI/CD pipelines whose stages are sandboxed WebAssembly component plugins.
//!
//! - [`manifest`]: `pipeline.toml` schema, parsing with spans, validation (the
//!   `gantry-manifest` crate, re-exported so it can be fuzzed without wasmtime);
//! - [`runtime`]: the wasmtime engine, compile cache, per-stage stores and limits;
//! - [`caps`]: one module per capability a plugin can be granted;
//! - [`run`]: preparation, the scheduler, run records and the audit log;
//! - [`report`]: SARIF, JUnit and JSON summaries;
//! - [`cli`]: the `gantry` command line.

pub mod caps;
pub mod cli;
pub use gantry_manifest as manifest;
pub mod report;
pub mod run;
pub mod runtime;
