//! The context every capability works in: the per-stage store data
//! ([`StageState`]: WASI context, resource table, memory limiter, stage log, broker,
//! every capability's state) and what the scheduler hands the runtime for a stage
//! ([`StageSetup`]). Defined here, next to the capabilities, so that they depend on it
//! and the runtime depends on them — not the other way round.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::{Duration, Instant};

use wasmtime::ResourceLimiter;
use wasmtime::component::ResourceTable;
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};

use super::Broker;
use super::budget::HostBudget;
use crate::run::audit::{Actor, AuditLog};
use crate::run::journal::Journal;
use crate::run::log::StageLog;

/// Everything a stage's store needs from the scheduler.
pub struct StageSetup {
    pub actor: Actor,
    /// The pipeline's name (labels of the Docker objects the stage creates).
    pub pipeline: String,
    pub audit: Arc<AuditLog>,
    pub journal: Arc<Journal>,
    pub log: Arc<StageLog>,
    /// Absolute, canonical workspace root.
    pub workspace: PathBuf,
    pub dry_run: bool,
    pub grants: crate::manifest::Grants,
    pub secrets: Arc<super::secrets::SecretStore>,
    pub limits: crate::manifest::Limits,
    pub timeout: Duration,
    /// Set by the scheduler to stop the stage (fail-fast, Ctrl-C).
    pub cancel: Arc<AtomicBool>,
    /// The workspace's ownership key, from gantry's state directory (never shown to
    /// plugins): brokers derive unforgeable ownership tags of the objects they create.
    pub owner_key: [u8; 32],
}

/// A resource table holding at most `budget.resources` host resources: WASI
/// descriptors (each an open file or directory of the host), streams, pollables,
/// `wasi:http` requests and responses, secret handles. wasmtime's default is a
/// million; open files count against gantry's own descriptor limit, which every stage
/// and the run records share, and every resource costs host memory ([`budget`]).
/// Reaching it ends the stage with [`RunError::TooManyResources`]
/// (`tests/e2e/sandbox.rs`).
pub(crate) fn bounded_table(budget: &HostBudget) -> ResourceTable {
    let mut table = ResourceTable::new();
    table.set_max_capacity(budget.resources);
    table
}

/// Per-stage store data.
pub struct StageState {
    pub(crate) wasi: WasiCtx,
    pub(crate) table: ResourceTable,
    pub(crate) limiter: Limiter,
    pub(crate) log: Arc<StageLog>,
    pub(crate) broker: Broker,
    /// Every capability's part of the stage ([`super::States`], one list in `caps`).
    pub(crate) caps: super::States,
    pub(crate) budget: HostBudget,
    pub(crate) deadline: Instant,
    pub(crate) cancel: Arc<AtomicBool>,
}

impl StageState {
    pub(crate) fn table(&mut self) -> &mut ResourceTable {
        &mut self.table
    }

    /// Audits (and logs) a limit the stage ran into; `grant` is what would allow it,
    /// `None` when nothing can.
    pub(crate) fn over_limit(
        &self,
        capability: &str,
        operation: &str,
        what: &str,
        grant: Option<String>,
    ) {
        let denied = match grant {
            Some(g) => self.broker.deny(capability, operation, what, &g, None),
            None => self.broker.refuse(capability, operation, what, None),
        };
        if let super::bindings::types::CapError::Denied(message) = denied {
            self.log.line("gantry", &message);
        }
    }
}

impl WasiView for StageState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

impl wasmtime_wasi_http::WasiHttpView for StageState {
    fn http(&mut self) -> wasmtime_wasi_http::WasiHttpCtxView<'_> {
        self.caps.http.view(&mut self.table)
    }
}

pub(crate) struct Limiter {
    pub(crate) memory: usize,
    pub(crate) hit: bool,
}

impl ResourceLimiter for Limiter {
    fn memory_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        if desired > self.memory {
            self.hit = true;
            return Ok(false);
        }
        Ok(true)
    }
    fn table_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        Ok(desired <= 1_000_000)
    }
}
