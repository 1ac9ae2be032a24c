//! Capability `env`: `wasi:cli/environment` holds only the variables the stage names.
//!
//! Grant: `grants.env = ["CI", "GIT_SHA"]`. Each named variable that is set in
//! gantry's own environment is copied in; nothing else is (no `PATH`, no `HOME`, no
//! tokens). There is no per-call check to make — a variable that is not granted is
//! simply absent — so the audit log records, when the stage starts, which granted
//! variables were provided and which were not set.
//!
//! Tests: `tests/e2e/attack_env_secrets.rs`.

pub mod describe;

use wasmtime_wasi::WasiCtxBuilder;

use super::Broker;

pub fn provide(wasi: &mut WasiCtxBuilder, granted: &[String], broker: &Broker) {
    for name in granted {
        match std::env::var(name) {
            Ok(value) => {
                wasi.env(name, &value);
                broker.allow(
                    "env",
                    "provide",
                    "granted by grants.env",
                    Some(serde_json::json!({ "name": name })),
                );
            }
            Err(_) => broker.allow(
                "env",
                "provide",
                "granted by grants.env, but not set in gantry's environment",
                Some(serde_json::json!({ "name": name, "set": false })),
            ),
        }
    }
}

/// The env capability: the granted variables in the stage's WASI environment.
pub struct Env;

impl super::Capability for Env {
    type State = ();
    const DESCRIPTION: &'static super::describe::Description = &describe::DESCRIPTION;

    /// `wasi:cli/environment` comes with wasmtime-wasi's own interfaces.
    fn link(
        _: &mut wasmtime::component::Linker<crate::caps::context::StageState>,
    ) -> anyhow::Result<()> {
        Ok(())
    }

    fn wasi(
        builder: &mut wasmtime_wasi::WasiCtxBuilder,
        cx: &super::Prepare<'_>,
    ) -> Result<(), String> {
        provide(builder, &cx.setup.grants.env, cx.broker);
        Ok(())
    }

    fn prepare(_: &super::Prepare<'_>) {}
}
