//! Capability `secrets` (`gantry:plugin/secrets`): handles to granted secrets.
//!
//! Values come from where `[secrets]` in pipeline.toml says — an environment variable
//! of the gantry process or a file — never from pipeline.toml itself. A stage gets a
//! handle only for names in `grants.secrets` (or `grants.reveal`), and reads a value
//! only for names in `grants.reveal`. Everything else is refused with a `denied`
//! error naming the grant, and audited; allowed uses are audited by name (never value).
//! Handles per stage are capped ([`MAX_HANDLES`]) so a plugin cannot exhaust the host.
//!
//! Every available value is registered with the run's [`Redactor`] before any stage
//! starts, so it is masked in logs and reports whichever stage leaks it.
//!
//! Tests: `tests/e2e/attack_env_secrets.rs`.

pub mod describe;

use std::collections::BTreeMap;
use std::path::Path;

use wasmtime::component::Resource;

use crate::caps::bindings::secrets::{Host, HostSecret};
use crate::caps::bindings::types::CapError;
use crate::caps::context::StageState;
use crate::manifest::{Manifest, SecretSource};
use crate::run::redact::Redactor;

/// Most secret handles a stage may hold at once.
pub const MAX_HANDLES: usize = 1024;

/// The run's secrets: name → value, or why it is unavailable.
#[derive(Default)]
pub struct SecretStore {
    values: BTreeMap<String, Result<String, String>>,
}

impl SecretStore {
    /// Reads every secret declared in `[secrets]`. Missing ones are kept as errors and
    /// reported when a stage asks for them (a skipped deploy stage needs no token).
    pub fn load(manifest: &Manifest) -> SecretStore {
        let mut values = BTreeMap::new();
        for decl in &manifest.secrets {
            let value = match &decl.source {
                SecretSource::Env(var) => match std::env::var(var) {
                    Ok(v) if !v.is_empty() => Ok(v),
                    Ok(_) => Err(format!("environment variable `{var}` is empty")),
                    Err(_) => Err(format!("environment variable `{var}` is not set")),
                },
                SecretSource::File(path) => {
                    let full = manifest.dir().join(Path::new(path));
                    match std::fs::read_to_string(&full) {
                        // A trailing newline is not part of a token written by `echo`.
                        Ok(v) => Ok(v.trim_end_matches(['\n', '\r']).to_string()),
                        Err(e) => Err(format!("file `{path}` cannot be read: {e}")),
                    }
                }
            };
            values.insert(decl.name.clone(), value);
        }
        SecretStore { values }
    }

    pub fn redactor(&self) -> Redactor {
        let pairs: Vec<(String, String)> = self
            .values
            .iter()
            .filter_map(|(k, v)| v.as_ref().ok().map(|v| (k.clone(), v.clone())))
            .collect();
        Redactor::new(&pairs)
    }

    pub fn value(&self, name: &str) -> Option<&Result<String, String>> {
        self.values.get(name)
    }
}

/// The host side of a `secret` resource: only the name; the value stays in the store.
pub struct SecretHandle {
    name: String,
}

impl SecretHandle {
    /// The granted secret's name; brokers look the value up in the store themselves.
    pub(crate) fn name(&self) -> &str {
        &self.name
    }
}

/// Per-stage state.
#[derive(Default)]
pub struct State {
    pub granted: Vec<String>,
    pub reveal: Vec<String>,
    pub store: std::sync::Arc<SecretStore>,
    handles: usize,
}

impl State {
    pub fn new(granted: &[String], reveal: &[String], store: std::sync::Arc<SecretStore>) -> State {
        State {
            granted: granted.to_vec(),
            reveal: reveal.to_vec(),
            store,
            handles: 0,
        }
    }

    fn may_get(&self, name: &str) -> bool {
        self.granted.iter().chain(&self.reveal).any(|g| g == name)
    }
}

impl Host for StageState {
    fn get(&mut self, name: String) -> wasmtime::Result<Result<Resource<SecretHandle>, CapError>> {
        let detail = Some(serde_json::json!({ "name": name }));
        // Marked `…` when cut, so the records' redaction knows a value may end there.
        let shown = crate::run::display::shown(&name, 128);
        if !self.caps.secrets.may_get(&name) {
            // A grant alone is not enough for a secret `[secrets]` does not declare.
            let grant = if self.caps.secrets.store.value(&name).is_some() {
                format!("grants.secrets = [\"{shown}\"]")
            } else {
                format!(
                    "grants.secrets = [\"{shown}\"], and declare it in `[secrets]` (e.g. `{shown} = {{ env = \"{shown}\" }}`)"
                )
            };
            return Ok(Err(self.broker.deny(
                "secrets",
                "get",
                &format!("secret `{shown}` is not granted"),
                &grant,
                detail,
            )));
        }
        match self.caps.secrets.store.value(&name) {
            Some(Ok(_)) => {}
            Some(Err(why)) => {
                return Ok(Err(CapError::NotFound(format!(
                    "secret `{name}` is not available: {why}"
                ))));
            }
            None => {
                return Ok(Err(CapError::NotFound(format!(
                    "secret `{name}` is granted but not declared in `[secrets]`"
                ))));
            }
        }
        if self.caps.secrets.handles >= MAX_HANDLES {
            return Ok(Err(self.broker.deny(
                "secrets",
                "get",
                &format!("more than {MAX_HANDLES} secret handles held at once"),
                "drop handles that are no longer needed (this limit is not configurable)",
                detail,
            )));
        }
        self.caps.secrets.handles += 1;
        self.broker
            .allow("secrets", "get", "granted by grants.secrets", detail);
        Ok(Ok(self.table().push(SecretHandle { name })?))
    }
}

impl HostSecret for StageState {
    fn name(&mut self, handle: Resource<SecretHandle>) -> wasmtime::Result<String> {
        Ok(self.table().get(&handle)?.name.clone())
    }

    fn reveal(
        &mut self,
        handle: Resource<SecretHandle>,
    ) -> wasmtime::Result<Result<String, CapError>> {
        let name = self.table().get(&handle)?.name.clone();
        let detail = Some(serde_json::json!({ "name": name }));
        if !self.caps.secrets.reveal.contains(&name) {
            return Ok(Err(self.broker.deny(
                "secrets",
                "reveal",
                &format!("the value of secret `{name}` may not be read by the plugin"),
                &format!("grants.reveal = [\"{name}\"] (or pass the handle to a broker that takes secrets)"),
                detail,
            )));
        }
        match self.caps.secrets.store.value(&name) {
            Some(Ok(v)) => {
                self.broker
                    .allow("secrets", "reveal", "granted by grants.reveal", detail);
                Ok(Ok(v.clone()))
            }
            Some(Err(why)) => Ok(Err(CapError::NotFound(format!(
                "secret `{name}` is not available: {why}"
            )))),
            None => Ok(Err(CapError::NotFound(format!(
                "secret `{name}` is not declared"
            )))),
        }
    }

    fn drop(&mut self, handle: Resource<SecretHandle>) -> wasmtime::Result<()> {
        self.table().delete(handle)?;
        self.caps.secrets.handles = self.caps.secrets.handles.saturating_sub(1);
        Ok(())
    }
}

/// The secrets capability.
pub struct Secrets;

impl super::Capability for Secrets {
    type State = State;
    const DESCRIPTION: &'static super::describe::Description = &describe::DESCRIPTION;

    fn link(linker: &mut wasmtime::component::Linker<StageState>) -> anyhow::Result<()> {
        use wasmtime::component::HasSelf;
        crate::caps::bindings::secrets::add_to_linker::<StageState, HasSelf<StageState>>(
            linker,
            |s| s,
        )?;
        Ok(())
    }

    fn prepare(cx: &super::Prepare<'_>) -> State {
        let g = &cx.setup.grants;
        State::new(&g.secrets, &g.reveal, cx.setup.secrets.clone())
    }
}
