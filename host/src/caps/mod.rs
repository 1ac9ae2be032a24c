//! Capabilities: one folder per capability, each holding its host implementation, the
//! checks it makes against the stage's grant, the audit records it writes, and how it
//! describes itself to a reviewer (`describe.rs`, listed in [`ALL`]).
//!
//! | capability | module | grant |
//! | --- | --- | --- |
//! | log | [`log`] | always |
//! | fs | [`fs`] (bulk interface `gantry:plugin/files`: [`fs::files`]) | `grants.fs.read` / `grants.fs.write` (WASI preopens) |
//! | env | [`env`] | `grants.env` (WASI environment) |
//! | secrets | [`secrets`] | `grants.secrets`, `grants.reveal` |
//! | http | [`http`] | `grants.http` (`wasi:http/outgoing-handler`) |
//! | process | [`process`] | `grants.process` |
//! | containers | [`containers`] | `grants.containers` (Docker Engine through bollard) |
//! | network | [`network`] | never (`wasi:sockets` fails; requests go through `http`) |
//!
//! Every broker goes through a [`Broker`]: it audits each use and refusal, and runs
//! every mutating effect through the journal (fsynced intent before acting) or, in
//! `--dry-run`, records it as planned instead. A refusal is a typed `denied` error
//! whose text names the stage, the plugin, the capability, the argument that failed
//! and the grant that would allow it.
//!
//! Adding a capability: see [`ALL`].

pub mod bindings;
pub mod budget;
pub mod containers;
pub mod context;
pub mod describe;
pub mod env;
pub mod fs;
pub mod http;
pub mod log;
pub mod network;
pub mod process;
pub mod secrets;

use std::path::PathBuf;
use std::sync::Arc;

use wasmtime::component::Linker;

use serde_json::Value;

use crate::caps::bindings::types::CapError;
use crate::caps::context::StageState;
use crate::run::audit::{Actor, AuditLog, Decision};
use crate::run::journal::Journal;

/// What a capability gets to set up its part of one stage.
pub struct Prepare<'a> {
    pub setup: &'a crate::caps::context::StageSetup,
    /// The stage's fs grants, opened beneath the workspace.
    pub granted: &'a [fs::Granted],
    /// The stage's broker (actor, audit log, journal, dry-run).
    pub broker: &'a Broker,
    /// When the stage's time is up.
    pub deadline: std::time::Instant,
    /// The host memory the stage's resources may hold.
    pub budget: &'a crate::caps::budget::HostBudget,
}

/// One capability in the runtime. Each implements it once, in its folder; the
/// runtime knows them only through [`capabilities!`]'s list below.
pub trait Capability {
    /// Its per-stage state. `Default` is a stage with no grants (for `describe`).
    type State: Default;
    /// How `gantry audit`, `plan` and `plugin inspect` describe it.
    const DESCRIPTION: &'static describe::Description;
    /// Links its WIT interfaces, and any host answers that replace wasmtime-wasi's
    /// own, into `linker` (after `wasmtime_wasi::p2::add_to_linker_sync`).
    fn link(linker: &mut Linker<StageState>) -> anyhow::Result<()>;
    /// What it adds to the stage's WASI context (preopens, environment).
    fn wasi(_builder: &mut wasmtime_wasi::WasiCtxBuilder, _cx: &Prepare<'_>) -> Result<(), String> {
        Ok(())
    }
    /// Its state for one stage, from the stage's grants.
    fn prepare(cx: &Prepare<'_>) -> Self::State;
    /// When the stage has ended, however it ended (timeout, trap, cancel too).
    fn finish(_stage: &mut StageState) {}
}

/// The list of capabilities, written once: the per-stage [`States`], [`ALL`] (their
/// descriptions, in the order a reviewer reads them), and the runtime's
/// [`link_all`], [`wasi_all`], [`States::prepare`] and [`finish_all`].
macro_rules! capabilities {
    ($($field:ident: $cap:ty),* $(,)?) => {
        /// The per-stage state of every capability.
        #[derive(Default)]
        pub struct States {
            $(pub $field: <$cap as Capability>::State,)*
        }

        impl States {
            /// Every capability's state for one stage.
            pub fn prepare(cx: &Prepare<'_>) -> States {
                States { $($field: <$cap as Capability>::prepare(cx),)* }
            }
        }

        /// Every capability, in the order a reviewer reads them.
        pub const ALL: &[&describe::Description] = &[$(<$cap as Capability>::DESCRIPTION,)*];

        /// Links every capability's interfaces.
        pub fn link_all(linker: &mut Linker<StageState>) -> anyhow::Result<()> {
            $(<$cap as Capability>::link(linker)?;)*
            Ok(())
        }

        /// What every capability adds to a stage's WASI context.
        pub fn wasi_all(builder: &mut wasmtime_wasi::WasiCtxBuilder, cx: &Prepare<'_>) -> Result<(), String> {
            $(<$cap as Capability>::wasi(builder, cx)?;)*
            Ok(())
        }

        /// Ends the stage for every capability, in the reverse order (containers
        /// are removed before the fs grants they wrote to are swept).
        pub fn finish_all(stage: &mut StageState) {
            let finishers: &[fn(&mut StageState)] = &[$(<$cap as Capability>::finish,)*];
            for f in finishers.iter().rev() {
                f(stage);
            }
        }
    };
}

// Adding a capability: its WIT interface in `wit/`, its folder here (broker,
// `describe.rs`, an `impl Capability`), one line in this list, its grant in
// [`crate::manifest::Grants`] (parsed and fuzzed in `manifest/`), its SDK module, and
// its tests. `gantry audit`, `plan` and `plugin inspect` know it from its
// [`describe::Description`] alone; the runtime from this list alone.
capabilities! {
    fs: fs::Fs,
    env: env::Env,
    secrets: secrets::Secrets,
    http: http::Http,
    process: process::Process,
    containers: containers::Containers,
    network: network::Network,
    log: log::Log,
}

/// What every broker of a stage shares.
pub struct Broker {
    pub actor: Actor,
    pub audit: Arc<AuditLog>,
    pub journal: Arc<Journal>,
    pub dry_run: bool,
    /// Canonical workspace root.
    pub workspace: PathBuf,
}

impl Broker {
    pub fn allow(&self, capability: &str, operation: &str, reason: &str, detail: Option<Value>) {
        self.actor.record(
            &self.audit,
            capability,
            operation,
            Decision::Allow,
            reason,
            detail,
        );
    }

    /// Audits a refusal and builds the error the plugin receives. `what` says which
    /// argument failed; `grant` is the pipeline.toml line that would allow it.
    pub fn deny(
        &self,
        capability: &str,
        operation: &str,
        what: &str,
        grant: &str,
        detail: Option<Value>,
    ) -> CapError {
        let why = format!("to allow it, add to the stage: {grant}");
        self.denied(capability, operation, what, &why, detail)
    }

    /// Audits a granted use that could not be set up (a grant's directory that cannot
    /// be opened beneath the workspace): a `deny` whose reason says what failed.
    pub fn failed(&self, capability: &str, operation: &str, reason: &str, detail: Option<Value>) {
        self.actor.record(
            &self.audit,
            capability,
            operation,
            Decision::Deny,
            reason,
            detail,
        );
    }

    /// Audits a request that no grant can allow (a privileged container, the host
    /// network, someone else's container) and builds the error the plugin receives.
    pub fn refuse(
        &self,
        capability: &str,
        operation: &str,
        what: &str,
        detail: Option<Value>,
    ) -> CapError {
        let why = "gantry never allows this, whatever the stage's grants say";
        self.denied(capability, operation, what, why, detail)
    }

    fn denied(
        &self,
        capability: &str,
        operation: &str,
        what: &str,
        why: &str,
        detail: Option<Value>,
    ) -> CapError {
        let message = format!(
            "stage `{}` (plugin {}): {capability} {operation} refused: {what}; {why}",
            self.actor.stage, self.actor.plugin
        );
        self.actor.record(
            &self.audit,
            capability,
            operation,
            Decision::Deny,
            &message,
            detail,
        );
        CapError::Denied(message)
    }

    /// Performs a mutating effect under the journal: the intent is made durable
    /// first; in dry-run it is recorded as planned and `plausible` answers instead.
    pub fn effect<T>(
        &self,
        capability: &str,
        operation: &str,
        detail: Value,
        read_only: bool,
        plausible: impl FnOnce() -> T,
        perform: impl FnOnce() -> Result<T, CapError>,
        describe: impl Fn(&Result<T, CapError>) -> Value,
    ) -> Result<T, CapError> {
        let (run, stage) = (&self.actor.run, &self.actor.stage);
        if read_only {
            return perform();
        }
        if self.dry_run {
            self.journal
                .planned(run, stage, capability, operation, detail);
            return Ok(plausible());
        }
        let seq = self
            .journal
            .intent(run, stage, capability, operation, detail)
            .map_err(|e| {
                CapError::Failed(format!(
                    "cannot write the effect journal, so nothing was done: {e}"
                ))
            })?;
        let result = perform();
        self.journal
            .outcome(run, stage, seq, result.is_ok(), describe(&result));
        result
    }
}
