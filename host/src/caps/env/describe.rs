//! How the env capability describes itself to a reviewer ([`crate::caps::describe`]).

use crate::caps::describe::{Danger, Description, ticks};
use crate::manifest::Stage;

pub const DESCRIPTION: Description = Description {
    name: "env",
    imports: &[(
        "wasi:cli/environment",
        "env: environment variables (none unless granted)",
    )],
    import_hint: "`wasi:cli/environment`",
    not_granted: "not granted: its environment is empty",
    also_keys: &[],
    grants,
    dangers,
    uses_fs: None,
    fixed: None,
};

fn grants(stage: &Stage) -> Vec<String> {
    let names = &stage.grants.env;
    if names.is_empty() {
        Vec::new()
    } else {
        vec![format!("variables {}", ticks(names))]
    }
}

fn dangers(_: &Stage) -> Vec<Danger> {
    Vec::new()
}
