//! Capability `containers` (`gantry:plugin/containers`): the Docker Engine, through
//! bollard, under argument-level grants.
//!
//! Grant: `grants.containers` (see [`crate::manifest::ContainersGrant`]). The plugin
//! never sends Docker API JSON: it fills typed records and this module writes every
//! request itself, so what it does not write cannot happen. In order, for each call:
//!
//! 1. **Always refused**, whatever the grant says (an audited `denied` whose text says
//!    no grant allows it): `host-access` with privileged, added capabilities, devices,
//!    `seccomp=unconfined`/`apparmor=unconfined` or any security option, host or
//!    container namespace modes; network modes other than `none`/`bridge`; mounts whose
//!    source is outside the workspace (absolute, `..`, or a symlink leading out: so
//!    never the Docker socket); a build whose Dockerfile downloads (`ADD <url>`) or
//!    names images in a way gantry cannot check before the build ([`dockerfile`]); and
//!    any container, image or service whose ownership tag does not verify
//!    ([`owner`]): the plugin cannot stop, inspect, read the logs of, tag, push or
//!    roll back anything this workspace's gantry did not make for this pipeline —
//!    labels alone prove nothing, anyone can set them. Mistakes are not refusals: a
//!    mount target that is not an absolute container path, a source that does not
//!    exist or is a file is `invalid`/`not-found` with what to change.
//! 2. **Granted or refused**: images by `run` globs — for a build, *every* image the
//!    Dockerfile makes the builder use (each `FROM`, `COPY --from`, `RUN --mount
//!    from=`, `ONBUILD` triggers, base images' triggers, `# syntax=`), after `ARG`
//!    substitution; building by `build`, pushes by `push` repositories, host ports by
//!    `publish`, networks by `network`, container and service names by the `manage`
//!    prefix, Swarm by `services`, CPU, memory and PIDs by the ceilings (a request
//!    above one, or below the smallest the engine honours, is refused; none asked →
//!    the ceiling). Mounts need `grants.fs.read` (read-only) or `grants.fs.write`
//!    (writable) over their source. Refusals name the grant that would allow them.
//! 3. **What the host adds**: labels `dev.gantry.{pipeline,stage,run,owner}` on every
//!    object, and on containers `managed`/`oneoff` set explicitly, so no label an
//!    image carries can stand in for them; `no-new-privileges`; ports bound to
//!    127.0.0.1 only; memory swap equal to memory; no restart policy; builds with
//!    network `none`. A built image carrying a `dev.gantry.*` label the host did not
//!    set (a Dockerfile `LABEL`, or inherited) is removed and the build refused.
//!    One-off containers are removed when the call returns, and again by
//!    [`State::cleanup`] when the stage ends for any reason (timeout, trap, cancel).
//! 4. **Effects**: everything that changes the engine goes through the journal
//!    (intent before, outcome after); under `--dry-run` it is recorded as planned. A
//!    dry-run build still reads and checks the context and the Dockerfile.
//! 5. **Time**: every engine call is bounded by the stage's remaining time and the
//!    call's own timeout, and gives up when the stage is cancelled; a one-off container
//!    still running then is killed and removed.
//!
//! Not contained: a bind mount is made by the daemon from a path. gantry resolves the
//! source beneath the workspace just before it asks, but a concurrent writer that can
//! create links pointing out of the workspace (a container with a writable mount of a
//! directory above the source, or a host command) could swap a directory on that path
//! in the moment between. Build contexts have no such gap ([`context`]).
//!
//! Layout: this file holds the engine connection, the per-stage [`State`], the WIT
//! dispatch and the shared refusal/effect helpers; `policy.rs` the pure checks (step 1
//! and 2 above); `convert.rs` bollard ↔ WIT; `run.rs` one-off containers; `images.rs`
//! builds, tags, pushes; `managed.rs` long-running containers; `services.rs` Swarm;
//! [`describe`] what audit says of the grant; [`planned`] dry-run digests;
//! [`dockerfile`] (what a Dockerfile reaches), [`dockerignore`] (Docker's
//! `.dockerignore` rules), [`context`] (archiving beneath a held handle), [`owner`]
//! (ownership tags). Tests: `tests.rs` and each submodule's; `tests/e2e/attack_containers.rs`
//! for each refusal against the real engine (nothing new in `docker ps -a`/`images`),
//! and `tests/e2e/deploy.rs` for build → push → pull by digest, runs and deploys.

pub mod describe;

pub mod context;
pub mod dockerfile;
pub mod dockerignore;
pub mod owner;
pub mod planned;

mod convert;
mod images;
mod managed;
mod policy;
mod run;
mod services;
/// The containers capability.
pub struct Containers;

impl super::Capability for Containers {
    type State = State;
    const DESCRIPTION: &'static super::describe::Description = &describe::DESCRIPTION;

    fn link(linker: &mut wasmtime::component::Linker<StageState>) -> anyhow::Result<()> {
        use wasmtime::component::HasSelf;
        crate::caps::bindings::containers::add_to_linker::<StageState, HasSelf<StageState>>(
            linker,
            |s| s,
        )?;
        Ok(())
    }

    fn prepare(cx: &super::Prepare<'_>) -> State {
        let s = cx.setup;
        State::new(
            s.grants.containers.as_ref(),
            &s.grants.fs.read,
            &s.grants.fs.write,
            Owner::new(&s.pipeline, &s.actor.stage, &s.actor.run, &s.owner_key),
            cx.deadline,
            s.cancel.clone(),
            s.log.clone(),
        )
    }

    /// One-off containers never outlive their stage, however it ended.
    fn finish(stage: &mut StageState) {
        stage.caps.containers.cleanup();
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests;

use convert::*;
pub use policy::host_access_refusal;
use policy::*;

use std::collections::HashMap;
use std::future::Future;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use bollard::Docker;
use bollard::auth::DockerCredentials;
use bollard::models::{
    ContainerCreateBody, ContainerInspectResponse, EndpointPortConfig,
    EndpointPortConfigPublishModeEnum, EndpointSpec, EndpointSpecModeEnum, HealthConfig,
    HostConfig, ImageInspect, Limit, PortBinding, ServiceSpec, ServiceSpecMode,
    ServiceSpecModeReplicated, ServiceSpecUpdateConfig, ServiceSpecUpdateConfigFailureActionEnum,
    ServiceSpecUpdateConfigOrderEnum, TaskSpec, TaskSpecContainerSpec, TaskSpecResources,
};
use bollard::query_parameters as q;
use futures_util::StreamExt;
use serde_json::{Value, json};
use wasmtime::component::Resource;

use super::secrets::SecretHandle;
use crate::caps::bindings::containers as wit;
use crate::caps::bindings::types::CapError;
use crate::caps::context::StageState;
use crate::manifest::grants::normalize_workspace_path;
use crate::manifest::text::shown;
use crate::manifest::{ContainersGrant, ImageRef};
use crate::run::log::StageLog;

pub const LABEL_PIPELINE: &str = "dev.gantry.pipeline";
pub const LABEL_STAGE: &str = "dev.gantry.stage";
pub const LABEL_RUN: &str = "dev.gantry.run";
pub const LABEL_ONEOFF: &str = "dev.gantry.oneoff";
pub const LABEL_MANAGED: &str = "dev.gantry.managed";
/// On services: the image of the spec before the last update (what a rollback restores).
pub const LABEL_PREVIOUS_IMAGE: &str = "dev.gantry.previous-image";

/// Cap on a one-off container's stdout and on its stderr, each.
pub const OUTPUT_CAP: usize = 4 << 20;
/// Largest build context sent to the engine.
pub const MAX_CONTEXT: u64 = 1 << 30;

/// How many entries of each list a spec may carry, and how many bytes of text in all.
/// Generous for real use (the engine itself has no such limits), small enough that a
/// plugin cannot make the host build a huge request or fill the audit log. A spec
/// over one is refused as `invalid` with [`OverLimit`]'s text, which names the
/// field, the count and the limit.
pub mod limits {
    /// Environment variables of a container or service.
    pub const ENV: usize = 256;
    /// Arguments: `command` plus `entrypoint`.
    pub const ARGS: usize = 1024;
    /// Published ports of a container or service.
    pub const PORTS: usize = 64;
    /// Workspace mounts of a one-off container.
    pub const MOUNTS: usize = 32;
    /// Labels the plugin sets on a container, service or image (gantry's own extra).
    pub const LABELS: usize = 128;
    /// Arguments of a health check command.
    pub const HEALTH_ARGS: usize = 64;
    /// Replicas of a Swarm service.
    pub const REPLICAS: usize = 64;
    /// Tags of one build.
    pub const TAGS: usize = 32;
    /// `--build-arg`s of one build.
    pub const BUILD_ARGS: usize = 128;
    /// All the text of one spec: arguments, variables, labels, build args.
    pub const SPEC_BYTES: usize = 256 << 10;
}

/// A spec over one of [`limits`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OverLimit {
    /// The spec's field, as the WIT record names it (`env`, `ports`, …).
    pub field: &'static str,
    pub count: usize,
    pub max: usize,
    /// `entries` or `bytes`.
    pub unit: &'static str,
}

impl std::fmt::Display for OverLimit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "`{}` has {} {}, above gantry's limit of {} per spec; split the work or pass fewer",
            self.field, self.count, self.unit, self.max
        )
    }
}

/// Checks `(field, count, max)` triples and the total text size.
fn check_counts(counts: &[(&'static str, usize, usize)], bytes: usize) -> Result<(), CapError> {
    for &(field, count, max) in counts {
        if count > max {
            return Err(CapError::Invalid(
                OverLimit {
                    field,
                    count,
                    max,
                    unit: "entries",
                }
                .to_string(),
            ));
        }
    }
    if bytes > limits::SPEC_BYTES {
        return Err(CapError::Invalid(
            OverLimit {
                field: "the spec's text",
                count: bytes,
                max: limits::SPEC_BYTES,
                unit: "bytes",
            }
            .to_string(),
        ));
    }
    Ok(())
}

/// Bytes of text in argument lists and key/value lists.
fn text_bytes(lists: &[&[String]], pairs: &[&[(String, String)]]) -> usize {
    lists
        .iter()
        .flat_map(|l| l.iter())
        .map(String::len)
        .sum::<usize>()
        + pairs
            .iter()
            .flat_map(|p| p.iter())
            .map(|(k, v)| k.len() + v.len())
            .sum::<usize>()
}

/// Where the labels come from.
#[derive(Clone, Default)]
pub struct Owner {
    pub pipeline: String,
    pub stage: String,
    pub run: String,
    /// [`owner::tag`] of the pipeline under the workspace's key: never shown to the
    /// plugin, never logged.
    tag: String,
}

impl Owner {
    pub fn new(pipeline: &str, stage: &str, run: &str, key: &[u8; 32]) -> Owner {
        Owner {
            pipeline: pipeline.to_string(),
            stage: stage.to_string(),
            run: run.to_string(),
            tag: owner::tag(key, pipeline),
        }
    }
}

impl std::fmt::Debug for Owner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Owner")
            .field("pipeline", &self.pipeline)
            .field("stage", &self.stage)
            .field("run", &self.run)
            .field("tag", &"<hidden>")
            .finish()
    }
}

/// Per-stage state of the broker.
#[derive(Default)]
pub struct State {
    grant: Option<ContainersGrant>,
    fs_read: Vec<String>,
    fs_write: Vec<String>,
    owner: Owner,
    deadline: Option<Instant>,
    cancel: Arc<AtomicBool>,
    log: Option<Arc<StageLog>>,
    docker: Option<Docker>,
    runtime: Option<tokio::runtime::Runtime>,
    handle: Option<tokio::runtime::Handle>,
    /// One-off containers this stage started that may still exist.
    oneoffs: Vec<String>,
}

impl State {
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        grant: Option<&ContainersGrant>,
        fs_read: &[String],
        fs_write: &[String],
        owner: Owner,
        deadline: Instant,
        cancel: Arc<AtomicBool>,
        log: Arc<StageLog>,
    ) -> State {
        State {
            grant: grant.cloned(),
            fs_read: fs_read.to_vec(),
            fs_write: fs_write.to_vec(),
            owner,
            deadline: Some(deadline),
            cancel,
            log: Some(log),
            docker: None,
            runtime: None,
            handle: tokio::runtime::Handle::try_current().ok(),
            oneoffs: Vec::new(),
        }
    }

    /// The labels of every object this stage creates, the ownership tag among them.
    fn object_labels(&self) -> HashMap<String, String> {
        HashMap::from([
            (LABEL_PIPELINE.to_string(), self.owner.pipeline.clone()),
            (LABEL_STAGE.to_string(), self.owner.stage.clone()),
            (LABEL_RUN.to_string(), self.owner.run.clone()),
            (owner::LABEL_OWNER.to_string(), self.owner.tag.clone()),
        ])
    }

    /// The labels of a container: [`Self::object_labels`] and both kind labels set
    /// explicitly, so a `dev.gantry.managed` or `oneoff` label baked into its image
    /// (labels are inherited) never decides what it is.
    fn labels(&self, oneoff: bool) -> HashMap<String, String> {
        let mut l = self.object_labels();
        l.insert(LABEL_ONEOFF.into(), oneoff.to_string());
        l.insert(LABEL_MANAGED.into(), (!oneoff).to_string());
        l
    }

    /// The plugin's labels (minus any `dev.gantry.*`, which only the host sets) plus
    /// the labels of a managed object.
    fn with_labels(&self, theirs: &[(String, String)]) -> HashMap<String, String> {
        let mut l: HashMap<String, String> = theirs
            .iter()
            .filter(|(k, _)| !k.starts_with(owner::PREFIX))
            .cloned()
            .collect();
        l.extend(self.labels(false));
        l
    }

    /// Who owns an object with `labels`.
    fn ownership(&self, labels: Option<&HashMap<String, String>>) -> owner::Ownership {
        owner::ownership(
            labels,
            LABEL_PIPELINE,
            &self.owner.pipeline,
            &self.owner.tag,
        )
    }

    fn remaining(&self) -> Duration {
        self.deadline
            .map(|d| d.saturating_duration_since(Instant::now()))
            .unwrap_or(Duration::from_secs(60))
    }

    /// Runs an engine call on tokio, bounded by `limit` and the stage's remaining time,
    /// and abandoned when the stage is cancelled. `Err(None)` = timed out/cancelled.
    fn block<T>(
        &mut self,
        limit: Option<Duration>,
        fut: impl Future<Output = Result<T, CapError>>,
    ) -> Result<T, Option<CapError>> {
        let budget = limit.map_or(self.remaining(), |l| l.min(self.remaining()));
        let cancel = self.cancel.clone();
        let guarded = async move {
            let watch = async {
                loop {
                    if cancel.load(Ordering::Relaxed) {
                        return;
                    }
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            };
            tokio::select! {
                r = fut => r.map_err(Some),
                _ = tokio::time::sleep(budget) => Err(None),
                _ = watch => Err(None),
            }
        };
        if let Some(h) = &self.handle {
            return h.block_on(guarded);
        }
        if self.runtime.is_none() {
            match tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            {
                Ok(rt) => self.runtime = Some(rt),
                Err(e) => {
                    return Err(Some(CapError::Failed(format!(
                        "cannot start an async runtime for the Docker client: {e}"
                    ))));
                }
            }
        }
        self.runtime
            .as_ref()
            .map(|rt| rt.block_on(guarded))
            .unwrap_or(Err(None))
    }

    /// `block` with a timeout turned into a `failed` error naming the operation.
    fn call<T>(
        &mut self,
        what: &str,
        limit: Option<Duration>,
        fut: impl Future<Output = Result<T, CapError>>,
    ) -> Result<T, CapError> {
        self.block(limit, fut).map_err(|e| {
            e.unwrap_or_else(|| {
                CapError::Failed(format!(
                    "{what}: gave up: the stage's time ran out or it was cancelled"
                ))
            })
        })
    }

    /// A clean-up call that must run even when the stage's time is up or it was
    /// cancelled: its own 30 s budget, then the stage's deadline again.
    fn call_grace<T>(
        &mut self,
        what: &str,
        fut: impl Future<Output = Result<T, CapError>>,
    ) -> Result<T, CapError> {
        let deadline = self
            .deadline
            .replace(Instant::now() + Duration::from_secs(30));
        let cancel = std::mem::replace(&mut self.cancel, Arc::new(AtomicBool::new(false)));
        let r = self.call(what, None, fut);
        self.deadline = deadline;
        self.cancel = cancel;
        r
    }

    /// Whether the stage's time is up or it was cancelled.
    fn expired(&self) -> bool {
        self.remaining().is_zero() || self.cancel.load(Ordering::Relaxed)
    }

    /// The engine client, connected and version-negotiated on first use.
    fn docker(&mut self) -> Result<Docker, CapError> {
        if let Some(d) = &self.docker {
            return Ok(d.clone());
        }
        let d = connect(self)?;
        self.docker = Some(d.clone());
        Ok(d)
    }

    /// Removes every one-off container this stage started; called when the stage ends
    /// whatever the outcome. Also sweeps by label, in case a create answered after
    /// the call had given up.
    pub fn cleanup(&mut self) {
        if self.grant.is_none() || self.docker.is_none() {
            return;
        }
        let Ok(docker) = self.docker() else { return };
        let mut ids = std::mem::take(&mut self.oneoffs);
        // Only containers whose ownership tag verifies: anyone can label a container
        // with this run's id.
        let filters = HashMap::from([(
            "label".to_string(),
            vec![
                format!("{LABEL_RUN}={}", self.owner.run),
                format!("{LABEL_STAGE}={}", self.owner.stage),
                format!("{LABEL_ONEOFF}=true"),
                format!("{}={}", owner::LABEL_OWNER, self.owner.tag),
            ],
        )]);
        // The stage's own deadline may be past: cleanup gets its own budget.
        let d = docker.clone();
        if let Ok(found) = self.call_grace("cleanup", async move {
            d.list_containers(Some(q::ListContainersOptions {
                all: true,
                filters: Some(filters),
                ..Default::default()
            }))
            .await
            .map_err(engine_error)
        }) {
            ids.extend(found.into_iter().filter_map(|c| c.id));
        }
        ids.sort();
        ids.dedup();
        for id in ids {
            let d = docker.clone();
            let short: String = id.chars().take(12).collect();
            let result = self.call_grace("cleanup", async move { remove_forced(&d, &id).await });
            if let Some(log) = &self.log {
                let text = match result {
                    Ok(()) => format!("removed one-off container {short} left by the stage"),
                    Err(e) => format!("could not remove one-off container {short}: {e}"),
                };
                log.line("gantry", &text);
            }
        }
    }
}

fn connect(state: &mut State) -> Result<Docker, CapError> {
    let unreachable = |e: &dyn std::fmt::Display| {
        CapError::Failed(format!(
            "no Docker Engine answers ({}): {e}; start one (`sudo .ci/docker-up` in the gantry repository) or point DOCKER_HOST at it",
            std::env::var("DOCKER_HOST").unwrap_or_else(|_| "unix:///var/run/docker.sock".into())
        ))
    };
    let docker = Docker::connect_with_local_defaults().map_err(|e| unreachable(&e))?;
    // Debian's engine speaks an older API than bollard's default: negotiate first.
    state.call("connect", Some(Duration::from_secs(10)), async move {
        docker
            .negotiate_version()
            .await
            .map_err(|e| unreachable(&e))
    })
}

fn engine_error(e: bollard::errors::Error) -> CapError {
    match e {
        bollard::errors::Error::DockerResponseServerError {
            status_code: 404,
            message,
        } => CapError::NotFound(message),
        bollard::errors::Error::DockerResponseServerError {
            status_code,
            message,
        } => CapError::Failed(format!("the engine answered {status_code}: {message}")),
        other => CapError::Failed(format!("Docker Engine: {other}")),
    }
}

async fn remove_forced(d: &Docker, id: &str) -> Result<(), CapError> {
    match d
        .remove_container(
            id,
            Some(q::RemoveContainerOptions {
                force: true,
                v: true,
                ..Default::default()
            }),
        )
        .await
    {
        Ok(()) => Ok(()),
        Err(bollard::errors::Error::DockerResponseServerError {
            status_code: 404, ..
        }) => Ok(()),
        // "removal already in progress" (an earlier request was abandoned): wait until
        // it is gone, so nobody sees the container after gantry said it was removed.
        Err(bollard::errors::Error::DockerResponseServerError {
            status_code: 409, ..
        }) => {
            for _ in 0..200 {
                match d
                    .inspect_container(id, None::<q::InspectContainerOptions>)
                    .await
                {
                    Err(bollard::errors::Error::DockerResponseServerError {
                        status_code: 404,
                        ..
                    }) => return Ok(()),
                    _ => tokio::time::sleep(Duration::from_millis(100)).await,
                }
            }
            Err(CapError::Failed(format!(
                "container {id} is still being removed"
            )))
        }
        Err(e) => Err(engine_error(e)),
    }
}

/// A reference the plugin passed as `what` (`image`, `tag`, `target`), parsed.
fn parse_ref(what: &str, text: &str) -> Result<ImageRef, CapError> {
    ImageRef::parse(text)
        .map_err(|why| CapError::Invalid(format!("{what} `{}`: {why}", shown(text))))
}

impl StageState {
    fn containers_grant(&self, operation: &str) -> Result<ContainersGrant, CapError> {
        match &self.caps.containers.grant {
            Some(g) => Ok(g.clone()),
            None => Err(self.broker.deny(
                "containers",
                operation,
                "the stage has no access to the Docker Engine",
                "grants.containers = { … } (see `gantry plugin inspect` for what the plugin needs)",
                None,
            )),
        }
    }

    fn refuse(&self, operation: &str, (what, grant): Refusal, detail: Value) -> CapError {
        match grant {
            Some(g) => self
                .broker
                .deny("containers", operation, &what, &g, Some(detail)),
            None => self
                .broker
                .refuse("containers", operation, &what, Some(detail)),
        }
    }

    /// Inspects a container by name and checks it is one of this pipeline's managed
    /// containers under the granted prefix.
    fn owned_container(
        &mut self,
        operation: &str,
        name: &str,
    ) -> Result<(ContainersGrant, ContainerInspectResponse), CapError> {
        let grant = self.containers_grant(operation)?;
        let detail = json!({ "name": shown(name) });
        if let Err(r) = check_name(&grant, name, "container") {
            return Err(self.refuse(operation, r, detail));
        }
        let docker = self.caps.containers.docker()?;
        let n = name.to_string();
        let c =
            self.caps
                .containers
                .call(operation, Some(Duration::from_secs(30)), async move {
                    docker
                        .inspect_container(&n, None::<q::InspectContainerOptions>)
                        .await
                        .map_err(engine_error)
                })?;
        let labels = c.config.as_ref().and_then(|c| c.labels.as_ref());
        let ownership = self.caps.containers.ownership(labels);
        let managed = labels
            .and_then(|l| l.get(LABEL_MANAGED))
            .is_some_and(|v| v == "true");
        if ownership != owner::Ownership::Ours || !managed {
            let why = if ownership == owner::Ownership::Ours {
                "is one of gantry's one-off containers, not a managed one".to_string()
            } else {
                owner::why_not_ours(
                    ownership,
                    &self.caps.containers.owner.pipeline,
                    &format!("docker rm -f {}", shown(name)),
                )
            };
            return Err(self.refuse(
                operation,
                (format!("container `{}` {why}", shown(name)), None),
                detail,
            ));
        }
        Ok((grant, c))
    }
}

impl wit::Host for StageState {
    fn run(&mut self, spec: wit::RunSpec) -> wasmtime::Result<Result<wit::RunOutput, CapError>> {
        Ok(self.run_oneoff(spec))
    }

    fn build(&mut self, spec: wit::BuildSpec) -> wasmtime::Result<Result<wit::Image, CapError>> {
        Ok(self.build_image(spec))
    }

    fn tag(&mut self, source: String, target: String) -> wasmtime::Result<Result<(), CapError>> {
        Ok(self.tag_image(&source, &target))
    }

    fn push(
        &mut self,
        reference: String,
        username: Option<String>,
        password: Option<Resource<SecretHandle>>,
    ) -> wasmtime::Result<Result<wit::Pushed, CapError>> {
        let secret = match password {
            Some(h) => Some(self.table().get(&h)?.name().to_string()),
            None => None,
        };
        Ok(self.push_image(&reference, username, secret))
    }

    fn inspect_image(
        &mut self,
        reference: String,
    ) -> wasmtime::Result<Result<wit::Image, CapError>> {
        Ok(self.inspect_image_checked(&reference))
    }

    fn create(
        &mut self,
        spec: wit::ContainerSpec,
    ) -> wasmtime::Result<Result<wit::Container, CapError>> {
        Ok(self.create_managed(spec))
    }

    fn start(&mut self, name: String) -> wasmtime::Result<Result<(), CapError>> {
        Ok(self.lifecycle("start", &name, None))
    }

    fn stop(
        &mut self,
        name: String,
        timeout_s: Option<u32>,
    ) -> wasmtime::Result<Result<(), CapError>> {
        Ok(self.lifecycle("stop", &name, timeout_s.or(Some(10))))
    }

    fn remove(&mut self, name: String) -> wasmtime::Result<Result<(), CapError>> {
        Ok(self.lifecycle("remove", &name, None))
    }

    fn rename(&mut self, name: String, new_name: String) -> wasmtime::Result<Result<(), CapError>> {
        Ok(self.rename_managed(&name, &new_name))
    }

    fn inspect(&mut self, name: String) -> wasmtime::Result<Result<wit::Container, CapError>> {
        Ok(self
            .owned_container("inspect", &name)
            .map(|(_, c)| to_container(&c)))
    }

    fn list_containers(&mut self) -> wasmtime::Result<Result<Vec<wit::Container>, CapError>> {
        Ok(self.list_managed())
    }

    fn logs(&mut self, name: String, tail: u32) -> wasmtime::Result<Result<String, CapError>> {
        Ok(self.logs_managed(&name, tail))
    }

    fn stats(&mut self, name: String) -> wasmtime::Result<Result<wit::ContainerStats, CapError>> {
        Ok(self.stats_managed(&name))
    }

    fn service_deploy(
        &mut self,
        spec: wit::ServiceSpec,
    ) -> wasmtime::Result<Result<wit::Service, CapError>> {
        Ok(self.deploy_service(spec))
    }

    fn service_rollback(
        &mut self,
        name: String,
    ) -> wasmtime::Result<Result<wit::Service, CapError>> {
        Ok(self.rollback_service(&name))
    }

    fn service_inspect(
        &mut self,
        name: String,
    ) -> wasmtime::Result<Result<wit::Service, CapError>> {
        Ok(self.owned_service("service-inspect", &name).map(|(_, s)| s))
    }

    fn service_remove(&mut self, name: String) -> wasmtime::Result<Result<(), CapError>> {
        Ok(self.remove_service(&name))
    }
}

impl StageState {
    /// Performs one effect on the engine through the stage's broker: journaled (intent,
    /// then outcome) or, under `--dry-run`, planned with `plausible` as the answer. The
    /// one path of every mutating engine call; the caller audits the allowance first.
    fn on_engine<T>(
        &mut self,
        op: &str,
        detail: Value,
        plausible: impl FnOnce() -> T,
        perform: impl FnOnce(&mut State, &crate::caps::Broker) -> Result<T, CapError>,
        describe: impl Fn(&Result<T, CapError>) -> Value,
    ) -> Result<T, CapError> {
        let StageState {
            broker,
            caps: crate::caps::States { containers, .. },
            ..
        } = self;
        broker.effect(
            "containers",
            op,
            detail,
            false,
            plausible,
            || perform(containers, broker),
            describe,
        )
    }

    /// Audits, journals and performs one engine operation whose only result is success
    /// (under `--dry-run`: planned, not performed).
    fn engine_op<Fut>(
        &mut self,
        op: &str,
        reason: &str,
        detail: Value,
        limit: Duration,
        call: impl FnOnce(Docker) -> Fut,
    ) -> Result<(), CapError>
    where
        Fut: Future<Output = Result<(), CapError>>,
    {
        self.broker
            .allow("containers", op, reason, Some(detail.clone()));
        self.on_engine(
            op,
            detail,
            || (),
            |containers, _| {
                let d = containers.docker()?;
                containers.call(op, Some(limit), call(d))
            },
            |r| json!({ "ok": r.is_ok() }),
        )
    }
}
