//! `dockerfile-lint`: gantry's official plugin that lints Dockerfiles with hadolint's
//! rule ids and semantics (the DL rules; ShellCheck's SC rules are out of scope).
//!
//! Layers, each plain Rust that also runs natively (unit tests, the comparison with
//! hadolint in `benches/dockerfile-lint`):
//! - [`parser`]: Dockerfile syntax (directives, continuations, heredocs, flags, forms);
//! - [`subst`]: `ARG`/`ENV` substitution;
//! - [`shell`]: the commands a `RUN` executes;
//! - [`rules`]: the DL rules over a parsed file;
//! - [`lint`]: configuration, file discovery (globs: `gantry_sdk::glob`), suppressions, findings,
//!   fingerprints.
//!
//! `plugin` is the thin gantry glue exported as `builtin:dockerfile-lint`. What each
//! rule checks, why and how to fix it: `RULES.md`.

pub mod lint;
pub mod parser;
pub mod rules;
pub mod shell;
pub mod subst;

mod plugin;
