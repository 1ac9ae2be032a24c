//! `manifest-lint`: gantry's official plugin that lints Kubernetes manifests and
//! Compose files for security and reliability problems, without a cluster.
//!
//! Layers, each plain Rust that also runs natively (unit tests, the comparison with
//! checkov in `benches/manifest-lint`):
//! - [`yaml`]: YAML to a tree that keeps every key's line and column, read as the
//!   cluster reads it (last repeated key, merge keys, YAML 1.1 booleans), bounded;
//! - [`model`]: Kubernetes objects (`List` items included), pod specs and containers
//!   of every pod-bearing kind, Compose services;
//! - [`rules`]: the rule table, one entry per rule with its checkov aliases, docs,
//!   examples (its test) and check; RULES.md is generated from it;
//! - [`lint`]: configuration, file discovery ([`glob`]), the engine, suppressions
//!   (config, checkov annotations, `# manifest-lint: ignore=` comments),
//!   fingerprints.
//!
//! `plugin` is the thin gantry glue exported as `builtin:manifest-lint`. The plugin
//! reads only what its stage's `grants.fs.read` reaches and imports no other
//! capability. Tests: in each module, `src/rules/tests.rs`, and
//! `tests/e2e/manifest_lint.rs` through the gantry binary.

pub mod glob;
pub mod lint;
pub mod model;
pub mod rules;
pub mod yaml;

mod plugin;
