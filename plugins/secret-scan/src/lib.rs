//! `secret-scan`: gantry's official plugin that finds committed credentials.
//!
//! The scanner ([`scanner`]) is plain Rust and runs natively too (unit tests, the
//! wasm-vs-native benchmark); [`plugin`] is the thin gantry glue exported as the
//! `builtin:secret-scan` component. Rule ids and what they find: `RULES.md`.

pub mod scanner;

mod plugin;
