//! `license-check`: gantry's official plugin for licence policy — the licences of
//! a workspace's dependencies (Cargo, Python, npm) and of its own files.
//!
//! - [`spdx`]: SPDX expression parser, printer and id table (no external SPDX crate);
//! - [`policy`]: allow / deny lists, package exceptions, expression evaluation;
//! - [`textid`]: licence text identification by normalised-text templates;
//! - [`sources`]: readers for `Cargo.lock` + crate sources, `cargo metadata`,
//!   `*.dist-info/METADATA`, `node_modules/**/package.json`, headers and LICENSE files;
//! - [`check`]: the stage config, rules and the run that ties them together;
//! - `plugin` (private): the gantry glue exported as `builtin:license-check`.
//!
//! Everything but `plugin` is plain Rust over `std::fs` and runs natively too (unit
//! tests, the cargo-deny comparison in `benches/license-check`). Rules: `RULES.md`.

pub mod check;
pub mod policy;
pub mod sources;
pub mod spdx;
pub mod textid;

mod plugin;
