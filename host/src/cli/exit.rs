//! Exit codes of the `gantry` binary (also in `gantry --help` and the README).

/// Everything ran; every stage succeeded, was skipped, or failed with `allow-failure`.
pub const SUCCESS: i32 = 0;
/// At least one stage failed.
pub const STAGE_FAILED: i32 = 1;
/// pipeline.toml, a plugin's config, or the command line is wrong; nothing ran.
pub const USAGE: i32 = 2;
/// gantry itself could not work (records not writable, engine failure).
pub const INTERNAL: i32 = 3;
/// Interrupted (Ctrl-C); stages in flight were cancelled, records written.
pub const INTERRUPTED: i32 = 130;

pub const HELP: &str = "\
Exit codes:
  0    success (stages succeeded, were skipped, or failed with allow-failure)
  1    a stage failed
  2    configuration or usage error (nothing ran)
  3    internal error (e.g. run records not writable)
  130  interrupted";
