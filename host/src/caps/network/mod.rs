//! The network capability: `wasi:sockets`, never granted. The host links the
//! interfaces (one world for every plugin) but gives the `WasiCtx` no network, so
//! every socket operation fails at once (`runtime::waits`); a plugin reaches the
//! network only through `grants.http` (`caps::http`), where each request is checked
//! and audited. This module is its description for reviewers.

use crate::caps::describe::{Danger, Description};
use crate::manifest::Stage;

pub const DESCRIPTION: Description = Description {
    name: "network",
    imports: &[(
        "wasi:sockets/",
        "network sockets (never granted: no network)",
    )],
    import_hint: "`wasi:sockets`",
    not_granted: "",
    also_keys: &[],
    grants: |_: &Stage| Vec::new(),
    dangers: |_: &Stage| Vec::<Danger>::new(),
    uses_fs: None,
    fixed: Some(
        "never granted: every socket call fails (outgoing requests go through grants.http only)",
    ),
};

/// The network capability: nothing to link beyond wasmtime-wasi's `wasi:sockets`,
/// nothing per stage (the `WasiCtx` has no network).
pub struct Network;

impl super::Capability for Network {
    type State = ();
    const DESCRIPTION: &'static Description = &DESCRIPTION;

    fn link(
        _: &mut wasmtime::component::Linker<crate::caps::context::StageState>,
    ) -> anyhow::Result<()> {
        Ok(())
    }

    fn prepare(_: &super::Prepare<'_>) {}
}
