//! `dep-audit`: gantry's official plugin that audits lockfiles against offline
//! advisory databases.
//!
//! It reads `Cargo.lock`, pinned `requirements*.txt`, `poetry.lock`, `uv.lock`,
//! `Pipfile.lock` and `package-lock.json` ([`lockfile`]), loads OSV (JSON/YAML) and
//! RustSec advisories from directories the stage is granted ([`advisory`]), decides
//! which pinned versions are affected with each ecosystem's own version semantics
//! ([`version`]: SemVer, PEP 440; RustSec's own matching for its native format),
//! scores CVSS v2/v3/v4 vectors ([`cvss`]) and reports one finding per package and
//! advisory ([`audit`]); with a crates.io index snapshot it also reports yanked
//! crate versions ([`yanked`]). Nothing
//! touches the network: databases are data the pipeline vendors or mounts.
//!
//! Everything except [`plugin`] (the SDK glue exported as `builtin:dep-audit`) is
//! plain Rust that runs natively too: unit tests live next to each module,
//! whole-workspace tests in `tests/fixtures.rs`, and `examples/native-audit.rs` is the
//! binary the cargo-audit comparison in `benches/dep-audit/` runs. Rule kinds and
//! configuration: `RULES.md`.

pub mod advisory;
pub mod audit;
pub mod cvss;
pub mod lockfile;
pub mod version;
pub mod yanked;

mod plugin;
