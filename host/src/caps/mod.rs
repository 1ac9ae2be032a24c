//! Capabilities: one module per capability, each holding what the host does for it,
//! the checks it makes and the audit records it writes.
//!
//! - [`log`]: structured logs and progress (always granted);
//! - [`fs`]: `wasi:filesystem` through preopens of the paths in `grants.fs`.
//!
//! Adding a capability = one `.wit` interface in `wit/` + one module here + its grant
//! in [`crate::manifest::Grants`].

pub mod fs;
pub mod log;
