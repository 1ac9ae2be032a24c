//! The sandbox: one wasmtime [`Engine`], compiled components cached by digest, and a
//! fresh [`Store`] per stage with its limits.
//!
//! Secure defaults (each stage gets exactly this unless its grants add to it):
//! - no environment variables, no arguments, empty stdin, no network, no preopened
//!   directories — files only through `grants.fs` (see [`crate::caps::fs`]);
//! - stdout and stderr captured into the stage log, capped per stream;
//! - linear memory capped per stage (`limits.memory`, default 256 MiB);
//! - wall-clock timeout by epoch interruption (`timeout`, default 10 min), which also
//!   carries fail-fast cancellation;
//! - a wasm stack cap (`limits.stack`, default 1 MiB) and optional fuel;
//! - every host call that can wait ends at the deadline or on cancellation too
//!   ([`waits`]: epoch interruption cannot stop a guest inside a host call);
//! - host memory the plugin's resources hold bounded by `limits.memory` ([`budget`]);
//! - optionally, how much its write grants may grow (`limits.disk`, [`disk`]).
//!
//! Instantiation is cheap: components are compiled once (or loaded from the cache),
//! linked once into an `InstancePre`, and instantiated from a pooling allocator.
//!
//! Tests: `tests/e2e/sandbox.rs` (hostile plugins), `tests/e2e/runtime.rs` (cache),
//! `tests/e2e/limits.rs` (waits, host memory, `describe`, artifacts, disk).

pub mod builtins;
pub mod cache;
pub mod disk;
pub mod stdio;
mod waits;

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use gantry_registry::Digest;
use wasmtime::component::{Component, Linker};
use wasmtime::{Config, Engine, InstanceAllocationStrategy, PoolingAllocationConfig, Store};
use wasmtime::{Trap, UpdateDeadline};
use wasmtime_wasi::WasiCtxBuilder;

use crate::caps::context::{Limiter, bounded_table};
pub use crate::caps::context::{StageSetup, StageState};
use crate::caps::{self, Broker};
pub use crate::caps::{bindings, budget};
use crate::report::model::{PluginInfo, StageReport};
use crate::run::audit::{Actor, AuditLog};
use crate::run::journal::Journal;
use crate::run::log::StageLog;
use crate::run::redact::Redacted;
use bindings::{Plugin, PluginPre};
pub use budget::{HostBudget, MAX_RESOURCES};
pub use cache::{CacheLookup, CompileCache};
use stdio::CappedOutput;

/// How often the epoch ticks; the granularity of timeouts and cancellation.
const TICK: Duration = Duration::from_millis(5);

/// How long a plugin's `describe` may take (it is static facts: it returns at once).
pub const DESCRIBE_TIMEOUT: Duration = Duration::from_secs(10);

/// Largest component gantry agrees to compile.
pub const MAX_COMPONENT_SIZE: usize = 64 * 1024 * 1024;

/// Settings that are per engine rather than per stage.
#[derive(Debug, Clone)]
pub struct EngineOptions {
    /// Upper bound of any stage's memory limit (sizes pooling slots).
    pub max_memory: u64,
    /// `max_wasm_stack` (engine-wide in wasmtime): the largest `limits.stack` of the pipeline.
    pub max_stack: usize,
    /// Whether any stage sets `limits.fuel` (fuel metering slows every stage a little).
    pub fuel: bool,
    /// Compile cache directory; `None` disables it.
    pub cache_dir: Option<PathBuf>,
    /// Stages that may be alive at once (sizes the pool).
    pub concurrency: u32,
}

impl Default for EngineOptions {
    fn default() -> Self {
        EngineOptions {
            max_memory: 256 << 20,
            max_stack: 1 << 20,
            fuel: false,
            cache_dir: CompileCache::default_dir(),
            concurrency: 16,
        }
    }
}

/// A compiled, linked plugin, ready to instantiate any number of times.
pub struct LoadedPlugin {
    pub digest: Digest,
    pre: PluginPre<StageState>,
    /// WIT imports of the component (`gantry:plugin/log@0.1.0`, `wasi:filesystem/…`):
    /// the most it can ever do.
    pub imports: Vec<String>,
    pub cache: CacheLookup,
    pub compile_time: Duration,
}

/// Why a stage did not produce a report.
#[derive(Debug, Clone, thiserror::Error)]
pub enum RunError {
    #[error("timed out after {}", crate::manifest::units::format_duration(*.0))]
    Timeout(Duration),
    #[error("cancelled")]
    Cancelled,
    #[error("exceeded its memory limit of {}", crate::manifest::units::format_size(*.0))]
    MemoryLimit(u64),
    #[error("exhausted its fuel budget of {0} units")]
    Fuel(u64),
    #[error("overflowed its wasm stack (limit {})", crate::manifest::units::format_size(*.0 as u64))]
    StackOverflow(usize),
    #[error("exited with status {0}")]
    Exit(i32),
    #[error("crashed: {0}")]
    Trap(String),
    #[error("invalid config: {0}")]
    InvalidConfig(String),
    #[error("denied: {0}")]
    Denied(String),
    #[error("{0}")]
    Failed(String),
    #[error(
        "held more than {0} host resources at once (open files and directories, streams, HTTP requests, secret handles): the per-stage limit"
    )]
    TooManyResources(usize),
    #[error(
        "built a `wasi:http` fields (headers or trailers) larger than {}, this stage's limit per fields (derived from `limits.memory`: raise it for larger headers)",
        crate::manifest::units::format_size(*.0 as u64)
    )]
    HttpFields(usize),
    #[error(
        "wrote more than its disk limit of {}: its write grants grew by at least {} (`limits.disk`)",
        crate::manifest::units::format_size(.0.limit),
        crate::manifest::units::format_size(.0.grew)
    )]
    DiskLimit(disk::Exceeded),
    #[error("could not start: {0}")]
    Setup(String),
}

/// Raised from the epoch callback; distinguishes our interrupts from guest traps.
#[derive(Debug)]
enum Interrupt {
    Timeout,
    Cancelled,
}

impl std::fmt::Display for Interrupt {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Interrupt::Timeout => "stage timed out",
            Interrupt::Cancelled => "stage cancelled",
        })
    }
}

impl std::error::Error for Interrupt {}

/// The engine, linker and compile cache shared by every stage of a process.
pub struct Runtime {
    engine: Engine,
    linker: Linker<StageState>,
    cache: Option<CompileCache>,
    options: EngineOptions,
    ticker_stop: Arc<AtomicBool>,
}

impl Drop for Runtime {
    fn drop(&mut self) {
        self.ticker_stop.store(true, Ordering::Relaxed);
    }
}

fn engine_config(options: &EngineOptions, pooling: bool) -> Config {
    let mut config = Config::new();
    config.wasm_component_model(true);
    config.epoch_interruption(true);
    config.max_wasm_stack(options.max_stack);
    config.consume_fuel(options.fuel);
    config.parallel_compilation(true);
    // `GANTRY_PROFILE=perfmap` (or `jitdump`) names plugin functions in `perf`
    // profiles, as `wasmtime run --profile=perfmap` does; off unless asked for.
    match std::env::var("GANTRY_PROFILE").as_deref() {
        Ok("perfmap") => {
            config.profiler(wasmtime::ProfilingStrategy::PerfMap);
        }
        Ok("jitdump") => {
            config.profiler(wasmtime::ProfilingStrategy::JitDump);
        }
        Ok(other) => tracing::warn!(
            "GANTRY_PROFILE={other} is not a profiler gantry knows (perfmap, jitdump); ignored"
        ),
        Err(_) => {}
    }
    if pooling {
        let n = options.concurrency.max(1);
        let mut pool = PoolingAllocationConfig::default();
        pool.total_component_instances(n * 2);
        pool.total_core_instances(n * 16);
        pool.total_memories(n * 4);
        pool.total_tables(n * 8);
        pool.max_memory_size(options.max_memory as usize);
        pool.max_memories_per_component(8);
        pool.max_tables_per_component(16);
        // Stages run synchronously (no `async_support`), so fiber stacks are never
        // taken from the pool; the default 1000 slots cost 1000 guard-page
        // `mprotect`s (~20 ms) at every engine creation.
        pool.total_stacks(0);
        // A stage's instance is short-lived and the next one reuses its slot: reset
        // only the pages it dirtied (PAGEMAP_SCAN, Linux ≥ 6.7) with memset and keep
        // them mapped, instead of an madvise and fresh page faults per stage.
        pool.pagemap_scan(wasmtime::Enabled::Auto);
        pool.linear_memory_keep_resident(1 << 20);
        pool.table_keep_resident(64 << 10);
        config.allocation_strategy(InstanceAllocationStrategy::Pooling(pool));
    }
    config
}

impl Runtime {
    pub fn new(options: EngineOptions) -> anyhow::Result<Runtime> {
        // The pooling allocator reserves address space up front; where that is not
        // allowed (tight ulimit -v), fall back to on-demand allocation.
        let engine = match Engine::new(&engine_config(&options, true)) {
            Ok(e) => e,
            Err(e) => {
                tracing::warn!("pooling allocator unavailable ({e}); using on-demand allocation");
                Engine::new(&engine_config(&options, false))?
            }
        };
        let mut linker: Linker<StageState> = Linker::new(&engine);
        wasmtime_wasi::p2::add_to_linker_sync(&mut linker)?;
        // The waiting `wasi:io` functions again, bounded by the stage's deadline.
        waits::shadow(&mut linker)?;
        // Every capability links its own interfaces (and its replacements of
        // wasmtime-wasi's answers).
        caps::link_all(&mut linker)?;

        let ticker_stop = Arc::new(AtomicBool::new(false));
        {
            let engine = engine.weak();
            let stop = ticker_stop.clone();
            std::thread::Builder::new()
                .name("gantry-epoch".into())
                .spawn(move || {
                    while !stop.load(Ordering::Relaxed) {
                        std::thread::sleep(TICK);
                        match engine.upgrade() {
                            Some(e) => e.increment_epoch(),
                            None => break,
                        }
                    }
                })?;
        }
        let cache = options
            .cache_dir
            .clone()
            .map(|dir| CompileCache::new(dir, &engine));
        Ok(Runtime {
            engine,
            linker,
            cache,
            options,
            ticker_stop,
        })
    }

    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    /// A subdirectory of the compile cache for remembered outcomes of pure checks
    /// (`None` when the cache is disabled).
    pub fn memo_dir(&self, name: &str) -> Option<PathBuf> {
        self.options.cache_dir.as_ref().map(|d| d.join(name))
    }

    pub fn options(&self) -> &EngineOptions {
        &self.options
    }

    /// Compiles (or loads from the cache) and links a component whose digest the
    /// caller has already verified.
    pub fn load(&self, bytes: &[u8], digest: Digest) -> anyhow::Result<LoadedPlugin> {
        if bytes.len() > MAX_COMPONENT_SIZE {
            anyhow::bail!(
                "the component is {} bytes, more than the {} bytes gantry compiles",
                bytes.len(),
                MAX_COMPONENT_SIZE
            );
        }
        let start = Instant::now();
        let (cached, lookup) = match &self.cache {
            Some(c) => c.get(&self.engine, &digest),
            None => (None, CacheLookup::Miss),
        };
        let component = match cached {
            Some(c) => c,
            None => {
                let artifact = self.engine.precompile_component(bytes).map_err(|e| {
                    let first = e.to_string().lines().next().unwrap_or_default().to_string();
                    anyhow::anyhow!("not a valid WebAssembly component ({first})")
                })?;
                if let Some(c) = &self.cache {
                    c.put(&digest, &artifact);
                }
                // SAFETY: produced just now by this engine.
                unsafe { Component::deserialize(&self.engine, &artifact) }
                    .map_err(|e| anyhow::anyhow!("{e:#}"))?
            }
        };
        let compile_time = start.elapsed();
        let imports = component
            .component_type()
            .imports(&self.engine)
            .map(|(name, _)| name.to_string())
            .collect();
        let pre = self
            .linker
            .instantiate_pre(&component)
            .map_err(|e| anyhow::anyhow!("cannot link the component: {e:#}"))?;
        let pre = PluginPre::new(pre).map_err(|e| {
            anyhow::anyhow!(
                "the component is not a gantry plugin (it must export `describe` and `run` of `gantry:plugin@0.1`): {e:#}"
            )
        })?;
        Ok(LoadedPlugin {
            digest,
            pre,
            imports,
            cache: lookup,
            compile_time,
        })
    }

    fn store(&self, state: StageState, fuel: Option<u64>) -> Store<StageState> {
        let mut store = Store::new(&self.engine, state);
        store.limiter(|s| &mut s.limiter);
        if self.options.fuel {
            // Without a budget a stage still needs fuel when metering is on.
            let _ = store.set_fuel(fuel.unwrap_or(u64::MAX));
        }
        store.set_epoch_deadline(1);
        store.epoch_deadline_callback(|cx| {
            let s = cx.data();
            if s.cancel.load(Ordering::Relaxed) {
                return Err(wasmtime::Error::new(Interrupt::Cancelled));
            }
            if Instant::now() >= s.deadline {
                return Err(wasmtime::Error::new(Interrupt::Timeout));
            }
            Ok(UpdateDeadline::Continue(1))
        });
        store
    }

    /// Instantiates the plugin with no grants and calls `describe`.
    pub fn describe(&self, plugin: &LoadedPlugin) -> Result<PluginInfo, RunError> {
        let log = Arc::new(StageLog::sink());
        let mut wasi = WasiCtxBuilder::new();
        let out = CappedOutput::new("stdout", 64 * 1024, log.clone());
        wasi.stdout(out.clone()).stderr(out);
        let memory = 256 << 20;
        let budget = HostBudget::for_memory(memory);
        let state = StageState {
            wasi: wasi.build(),
            table: bounded_table(&budget),
            limiter: Limiter {
                memory: memory as usize,
                hit: false,
            },
            log,
            broker: Broker {
                actor: Actor {
                    run: String::new(),
                    stage: "(describe)".into(),
                    plugin: plugin.digest.to_string(),
                },
                audit: Arc::new(AuditLog::disabled()),
                journal: Arc::new(Journal::disabled()),
                dry_run: true,
                workspace: PathBuf::new(),
            },
            // No grants: every capability's default state.
            caps: caps::States::default(),
            budget,
            deadline: Instant::now() + DESCRIBE_TIMEOUT,
            cancel: Arc::new(AtomicBool::new(false)),
        };
        let mut store = self.store(state, None);
        let result = plugin
            .pre
            .instantiate(&mut store)
            .and_then(|p| p.call_describe(&mut store));
        match result {
            Ok(info) => info.into_model().map_err(RunError::Failed),
            Err(e) => Err(classify(e, &store, DESCRIBE_TIMEOUT, &self.options)),
        }
    }

    /// Runs one stage to its end. Blocking: call from a blocking thread.
    ///
    /// What the plugin returned (its report, or its error and the host's account of a
    /// trap) is sealed here, where it enters the host, with the stage log's redactor:
    /// the scheduler only ever holds it redacted (see [`crate::run::redact`]).
    pub fn run(
        &self,
        plugin: &LoadedPlugin,
        setup: StageSetup,
        ctx: bindings::types::StageContext,
    ) -> Redacted<Result<StageReport, RunError>> {
        let log = setup.log.clone();
        log.redactor().seal(self.run_plugin(plugin, setup, ctx))
    }

    fn run_plugin(
        &self,
        plugin: &LoadedPlugin,
        setup: StageSetup,
        ctx: bindings::types::StageContext,
    ) -> Result<StageReport, RunError> {
        let mut wasi = WasiCtxBuilder::new();
        // Stages run on blocking threads of their own: do file I/O on this thread
        // instead of hopping to tokio's blocking pool for every call (set before the
        // preopens, which capture it).
        wasi.allow_blocking_current_thread(true);
        let stdout = CappedOutput::new("stdout", setup.limits.stdout, setup.log.clone());
        let stderr = CappedOutput::new("stderr", setup.limits.stdout, setup.log.clone());
        wasi.stdout(stdout.clone()).stderr(stderr.clone());
        let broker = Broker {
            actor: setup.actor.clone(),
            audit: setup.audit.clone(),
            journal: setup.journal.clone(),
            dry_run: setup.dry_run,
            workspace: setup.workspace.clone(),
        };
        // Every effect goes through the broker, the preopens of the fs grants too.
        let granted = caps::fs::open_granted(&setup, &broker).map_err(RunError::Setup)?;
        let budget = HostBudget::for_memory(setup.limits.memory);
        let deadline = Instant::now() + setup.timeout;
        let cx = caps::Prepare {
            setup: &setup,
            granted: &granted,
            broker: &broker,
            deadline,
            budget: &budget,
        };
        caps::wasi_all(&mut wasi, &cx).map_err(RunError::Setup)?;
        let states = caps::States::prepare(&cx);
        let state = StageState {
            wasi: wasi.build(),
            table: bounded_table(&budget),
            limiter: Limiter {
                memory: setup.limits.memory as usize,
                hit: false,
            },
            log: setup.log.clone(),
            broker,
            caps: states,
            budget,
            deadline,
            cancel: setup.cancel.clone(),
        };
        let disk = match setup.limits.disk {
            Some(limit) => Some(
                disk::DiskWatch::start(
                    &setup.workspace,
                    &setup.grants.fs.write,
                    limit,
                    setup.cancel.clone(),
                    setup.log.clone(),
                )
                .map_err(RunError::Setup)?,
            ),
            None => None,
        };
        let mut store = self.store(state, setup.limits.fuel);
        let result = plugin
            .pre
            .instantiate(&mut store)
            .and_then(|p: Plugin| p.call_run(&mut store, &ctx));
        // However it ended: one-off containers removed, links out of a write grant
        // that a command or container made swept (each capability's `finish`).
        caps::finish_all(store.data_mut());
        stdout.finish();
        stderr.finish();
        // Measured last, once nothing of the stage can write any more.
        if let Some(exceeded) = disk.and_then(disk::DiskWatch::finish) {
            let size = crate::manifest::units::format_size;
            store.data().over_limit(
                "fs",
                "write",
                &format!(
                    "its write grants grew by at least {}, more than its disk limit of {}",
                    size(exceeded.grew),
                    size(exceeded.limit)
                ),
                Some(format!(
                    "a larger `limits.disk` (it grew by at least {})",
                    size(exceeded.grew)
                )),
            );
            return Err(RunError::DiskLimit(exceeded));
        }
        match result {
            Ok(Ok(report)) => Ok(report.into()),
            Ok(Err(e)) => Err(match e {
                bindings::types::StageError::InvalidConfig(m) => RunError::InvalidConfig(m),
                bindings::types::StageError::Denied(m) => RunError::Denied(m),
                bindings::types::StageError::Failed(m) => RunError::Failed(m),
            }),
            Err(e) => Err(classify(e, &store, setup.timeout, &self.options)),
        }
    }
}

fn classify(
    e: wasmtime::Error,
    store: &Store<StageState>,
    timeout: Duration,
    options: &EngineOptions,
) -> RunError {
    if let Some(i) = e.downcast_ref::<Interrupt>() {
        return match i {
            Interrupt::Timeout => RunError::Timeout(timeout),
            Interrupt::Cancelled => RunError::Cancelled,
        };
    }
    if let Some(exit) = e.downcast_ref::<wasmtime_wasi::I32Exit>() {
        return RunError::Exit(exit.0);
    }
    if store.data().limiter.hit {
        return RunError::MemoryLimit(store.data().limiter.memory as u64);
    }
    let budget = store.data().budget;
    if matches!(
        e.downcast_ref::<wasmtime::component::ResourceTableError>(),
        Some(wasmtime::component::ResourceTableError::Full)
    ) {
        store.data().log.line(
            "gantry",
            &format!(
                "plugin stopped: its resource table is full ({} entries): {e:?}",
                budget.resources
            ),
        );
        store.data().over_limit(
            "resources",
            "hold",
            &format!(
                "it held more than {} host resources at once",
                budget.resources
            ),
            (budget.resources < MAX_RESOURCES).then(|| {
                "limits.memory = \"32MiB\" (or more: each 8KiB of it is one resource, up to 4096)"
                    .to_string()
            }),
        );
        return RunError::TooManyResources(budget.resources);
    }
    if matches!(
        e.downcast_ref::<wasmtime_wasi_http::FieldMapError>(),
        Some(
            wasmtime_wasi_http::FieldMapError::TotalSizeTooBig
                | wasmtime_wasi_http::FieldMapError::TooManyFields
        )
    ) {
        store.data().log.line(
            "gantry",
            &format!(
                "plugin stopped: a `wasi:http` fields outgrew its limit of {} bytes: {e:?}",
                budget.fields()
            ),
        );
        store.data().over_limit(
            "http",
            "fields",
            &format!(
                "a `wasi:http` fields outgrew this stage's limit of {} bytes per fields",
                budget.fields()
            ),
            HostBudget::memory_for(budget.fields() + 1, HostBudget::fields).map(|m| {
                format!(
                    "limits.memory = \"{}\" (or more: a fields may hold limits.memory / 8192 bytes, up to 128KiB)",
                    crate::manifest::units::format_size(m)
                )
            }),
        );
        return RunError::HttpFields(budget.fields());
    }
    match e.downcast_ref::<Trap>() {
        Some(Trap::StackOverflow) => RunError::StackOverflow(options.max_stack),
        Some(Trap::OutOfFuel) => RunError::Fuel(store.get_fuel().map(|_| 0).unwrap_or(0)),
        _ => {
            // The whole backtrace goes to the stage log; the reason stays one line.
            store
                .data()
                .log
                .line("gantry", &format!("plugin crashed: {e:?}"));
            RunError::Trap(describe_trap(&e))
        }
    }
}

/// One line: the trap, where, and what it most likely means.
fn describe_trap(e: &wasmtime::Error) -> String {
    let cause = match e.downcast_ref::<Trap>() {
        Some(t) => t.to_string(),
        None => format!("{e:?}")
            .lines()
            .rev()
            .find(|l| !l.trim().is_empty())
            .unwrap_or("unknown error")
            .trim()
            .to_string(),
    };
    let names: Vec<String> = e
        .downcast_ref::<wasmtime::WasmBacktrace>()
        .map(|bt| {
            bt.frames()
                .iter()
                .take(32)
                .map(|f| short_name(f.func_name().unwrap_or("?")))
                .collect()
        })
        .unwrap_or_default();
    let mut out = cause;
    if let Some(top) = names.first() {
        out.push_str(&format!(" in `{top}`"));
        if names.len() >= 16 && names.iter().take(16).all(|n| n == top) {
            out.push_str(" (deep recursion: the plugin overflowed its stack in linear memory)");
        }
    }
    if matches!(e.downcast_ref::<Trap>(), Some(Trap::UnreachableCodeReached)) {
        out.push_str("; a Rust plugin that panics ends here — its message is in the stage log");
    }
    out
}

/// `crate::module::func::h0123456789abcdef` → `module::func`.
fn short_name(name: &str) -> String {
    let name = match name.rsplit_once("::h") {
        Some((head, hash)) if hash.len() == 16 && hash.bytes().all(|b| b.is_ascii_hexdigit()) => {
            head
        }
        _ => name,
    };
    let parts: Vec<&str> = name.split("::").collect();
    if parts.len() > 2 {
        parts[parts.len() - 2..].join("::")
    } else {
        name.to_string()
    }
}
