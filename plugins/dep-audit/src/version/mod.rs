//! Version schemes of the ecosystems dep-audit understands, and OSV range evaluation.
//!
//! - [`semver`]: crates.io and npm versions (RustSec's native requirements are matched
//!   by the `rustsec` crate, see `advisory::rustsec`).
//! - [`pep440`]: PyPI versions.
//! - [`range`]: OSV `affected[].ranges` events (introduced / fixed / last_affected /
//!   limit) and `versions` lists, generic over the scheme.
//!
//! Each module carries its own unit tests.

pub mod pep440;
pub mod range;
pub mod semver;
