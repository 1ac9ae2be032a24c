//! How the log capability describes itself to a reviewer ([`crate::caps::describe`]).

use crate::caps::describe::{Danger, Description};
use crate::manifest::Stage;

pub const DESCRIPTION: Description = Description {
    name: "log",
    imports: &[(
        "gantry:plugin/log",
        "log: write to its stage log (always granted)",
    )],
    import_hint: "`gantry:plugin/log`",
    not_granted: "",
    also_keys: &[],
    grants: |_: &Stage| Vec::new(),
    dangers: |_: &Stage| Vec::<Danger>::new(),
    uses_fs: None,
    fixed: Some("always allowed: writes to its stage log (redacted, capped)"),
};
