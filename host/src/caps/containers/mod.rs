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
//! Submodules: [`dockerfile`] (what a Dockerfile reaches), [`dockerignore`] (Docker's
//! `.dockerignore` rules), [`context`] (archiving beneath a held handle), [`owner`]
//! (ownership tags). Tests: unit tests here and in each; `tests/e2e/attack_containers.rs`
//! for each refusal against the real engine (nothing new in `docker ps -a`/`images`),
//! and `tests/e2e/deploy.rs` for build → push → pull by digest, runs and deploys.

pub mod describe;

pub mod context;
pub mod dockerfile;
pub mod dockerignore;
pub mod owner;
pub mod planned;

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
use crate::manifest::grants::normalize_workspace_path;
use crate::manifest::text::shown;
use crate::manifest::{ContainersGrant, ImageRef};
use crate::run::log::StageLog;
use crate::runtime::StageState;
use crate::runtime::bindings::containers as wit;
use crate::runtime::bindings::types::CapError;

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

/// Whether the engine knows `img` by the name `r` (a tag or digest it carries), and
/// did not merely take `r` as a prefix of its id.
fn image_has_name(img: &ImageInspect, r: &ImageRef) -> bool {
    let named = |list: &Option<Vec<String>>| -> Vec<ImageRef> {
        list.iter()
            .flatten()
            .filter_map(|t| ImageRef::parse(t).ok())
            .collect()
    };
    match &r.digest {
        Some(d) => named(&img.repo_digests)
            .iter()
            .any(|x| x.repository == r.repository && x.digest.as_ref() == Some(d)),
        None => named(&img.repo_tags)
            .iter()
            .any(|x| x.repository == r.repository && x.tag == r.tag),
    }
}

/// Why a `host-access` request is refused, or `None` when it asks for nothing.
pub fn host_access_refusal(h: &wit::HostAccess) -> Option<String> {
    let mut asked = Vec::new();
    if h.privileged {
        asked.push("privileged mode".to_string());
    }
    if !h.cap_add.is_empty() {
        asked.push(format!("added capabilities {}", shown_list(&h.cap_add)));
    }
    if !h.devices.is_empty() {
        asked.push(format!("devices {}", shown_list(&h.devices)));
    }
    if !h.security_opt.is_empty() {
        asked.push(format!("security options {}", shown_list(&h.security_opt)));
    }
    for (ns, v) in [
        ("PID", &h.pid),
        ("IPC", &h.ipc),
        ("UTS", &h.uts),
        ("user", &h.userns),
    ] {
        if let Some(v) = v {
            asked.push(format!("{ns} namespace mode `{}`", shown(v)));
        }
    }
    (!asked.is_empty()).then(|| asked.join(", "))
}


fn shown_list(v: &[String]) -> String {
    v.iter()
        .take(8)
        .map(|s| format!("`{}`", shown(s)))
        .collect::<Vec<_>>()
        .join(", ")
}

/// What a refused request looks like in the error: `(what, grant)`; `grant = None`
/// means no grant allows it.
type Refusal = (String, Option<String>);

/// What the common checks let through: network mode, (nano-CPUs, memory, PIDs), `K=V` env.
type Checked = (String, (i64, i64, i64), Vec<String>);

fn check_network(grant: &ContainersGrant, network: &str) -> Result<String, Refusal> {
    let mode = if network.is_empty() { "none" } else { network };
    match mode {
        "none" | "bridge" => {
            if grant.network.iter().any(|n| n == mode) {
                Ok(mode.to_string())
            } else {
                Err((
                    format!("network mode `{mode}` is not granted"),
                    Some(format!("grants.containers.network = [\"{mode}\"]")),
                ))
            }
        }
        "host" => Err((
            "the host network (a container on it reaches every service of the host)".into(),
            None,
        )),
        m if m.starts_with("container:") => Err((
            format!(
                "joining another container's network namespace (`{}`)",
                shown(m)
            ),
            None,
        )),
        m => Err((
            format!(
                "network `{}`: only `none` and `bridge` exist for plugins",
                shown(m)
            ),
            None,
        )),
    }
}

/// Why a mount cannot be made.
#[derive(Debug)]
enum MountError {
    /// Outside what grants allow (or not granted): an audited refusal.
    Refused(Refusal),
    /// The target is not a usable container path: `invalid`, saying how to fix it.
    BadTarget(String),
    /// The source does not exist or is not a directory: `not-found`/`invalid`,
    /// saying how to fix it.
    BadSource(CapError),
}

/// Checks a mount and returns the canonical host directory to bind.
fn check_mount(
    workspace: &Path,
    fs_read: &[String],
    fs_write: &[String],
    m: &wit::Mount,
) -> Result<PathBuf, MountError> {
    check_dir(workspace, fs_read, fs_write, m, Use::Mount)
}

/// What a checked workspace directory is for (the words of the errors).
#[derive(Clone, Copy, PartialEq)]
enum Use {
    Mount,
    BuildContext,
}

fn check_dir(
    workspace: &Path,
    fs_read: &[String],
    fs_write: &[String],
    m: &wit::Mount,
    used: Use,
) -> Result<PathBuf, MountError> {
    let (noun, verb) = match used {
        Use::Mount => ("mount source", "mount"),
        Use::BuildContext => ("build context", "name"),
    };
    let source = normalize_workspace_path(&m.source).map_err(|(why, _)| {
        MountError::Refused((format!("mount source `{}`: {why}", shown(&m.source)), None))
    })?;
    let target_ok = m.target.starts_with('/')
        && m.target != "/"
        && !m.target.split('/').any(|c| c == ".." || c == ".")
        && !m.target.contains(['\0', ':', ',']);
    if !target_ok {
        return Err(MountError::BadTarget(format!(
            "mount target `{}` is not a usable path inside the container: it must be absolute, not `/` itself, without `.` or `..` components and without `:` or `,` (for example `/workspace` or `/src/{}`)",
            shown(&m.target),
            if source == "." {
                "app"
            } else {
                source.rsplit('/').next().unwrap_or("app")
            }
        )));
    }
    let covers = |g: &String| g == "." || *g == source || source.starts_with(&format!("{g}/"));
    let granted = if m.writable {
        fs_write.iter().any(covers)
    } else {
        fs_read.iter().chain(fs_write).any(covers)
    };
    if !granted {
        let key = if m.writable { "write" } else { "read" };
        return Err(MountError::Refused((
            format!(
                "mounting workspace path `{source}` {} is not granted",
                if m.writable { "writable" } else { "read-only" }
            ),
            Some(format!("grants.fs.{key} = [\"{source}\"]")),
        )));
    }
    let full = workspace.join(&source);
    let canonical = full.canonicalize().map_err(|e| {
        MountError::BadSource(if e.kind() == std::io::ErrorKind::NotFound {
            CapError::NotFound(format!(
                "{noun} `{source}` does not exist in the workspace: create the directory before this stage runs (in the repository or in an earlier stage this one `needs`), or {verb} a directory that exists"
            ))
        } else {
            CapError::Invalid(format!(
                "{noun} `{source}` cannot be resolved ({e}): check that gantry may read the directory and every directory above it"
            ))
        })
    })?;
    if !canonical.starts_with(workspace) {
        return Err(MountError::Refused((
            format!(
                "mount source `{source}` resolves to `{}`, outside the workspace",
                canonical.display()
            ),
            None,
        )));
    }
    if !canonical.is_dir() {
        let parent = source.rsplit_once('/').map_or(".", |(p, _)| p);
        return Err(MountError::BadSource(CapError::Invalid(format!(
            "{noun} `{source}` is a file, not a directory: {verb} the directory that holds it (`{parent}`)"
        ))));
    }
    Ok(canonical)
}

/// The smallest CPU share the engine honours (`docker run --cpus` refuses less), and
/// what gantry accepts: a request below it would round to `NanoCpus = 0`, which the
/// engine reads as *unlimited*.
pub const MIN_CPUS: f64 = crate::manifest::grants::containers::MIN_CPUS;
/// The engine's smallest memory limit.
pub const MIN_MEMORY: u64 = crate::manifest::grants::containers::MIN_MEMORY;

fn check_resources(
    grant: &ContainersGrant,
    r: &wit::Resources,
) -> Result<(i64, i64, i64), Refusal> {
    let cpus = r.cpus.unwrap_or(grant.cpus);
    if !(cpus.is_finite() && cpus >= MIN_CPUS) {
        return Err((
            format!(
                "`cpus = {cpus}` is not a CPU limit the engine enforces: it must be at least {MIN_CPUS} (less would round to 0, which Docker reads as unlimited)"
            ),
            None,
        ));
    }
    if cpus > grant.cpus {
        return Err((
            format!("{cpus} CPUs is above the ceiling of {}", grant.cpus),
            Some(format!("grants.containers.cpus = {cpus}")),
        ));
    }
    let memory = r.memory_bytes.unwrap_or(grant.memory);
    if memory > grant.memory {
        return Err((
            format!(
                "memory {} is above the ceiling of {}",
                crate::manifest::units::format_size(memory),
                crate::manifest::units::format_size(grant.memory)
            ),
            Some(format!(
                "grants.containers.memory = \"{}\"",
                crate::manifest::units::format_size(memory)
            )),
        ));
    }
    if memory < MIN_MEMORY {
        return Err((
            format!(
                "memory {} is below the engine's minimum of {}",
                crate::manifest::units::format_size(memory),
                crate::manifest::units::format_size(MIN_MEMORY)
            ),
            None,
        ));
    }
    let pids = r.pids.unwrap_or(grant.pids);
    if pids > grant.pids || pids == 0 {
        return Err((
            format!("{pids} PIDs is outside 1..={}", grant.pids),
            Some(format!("grants.containers.pids = {pids}")),
        ));
    }
    // Rounded to the nearest nano-CPU and at least MIN_CPUS worth: never 0. Memory
    // is at most the grant's ceiling, which the manifest bounds below i64::MAX.
    let nano = ((cpus * 1e9).round() as i64).max((MIN_CPUS * 1e9) as i64);
    let memory = i64::try_from(memory).map_err(|_| {
        (
            "a memory limit that large cannot be given to the engine".to_string(),
            None,
        )
    })?;
    Ok((nano, memory, i64::from(pids)))
}

fn check_env(env: &[(String, String)]) -> Result<Vec<String>, Refusal> {
    env.iter()
        .map(|(k, v)| {
            let ok = !k.is_empty() && !k.contains(['=', '\0']) && !v.contains('\0');
            if ok {
                Ok(format!("{k}={v}"))
            } else {
                Err((
                    format!("environment variable name `{}` is invalid", shown(k)),
                    None,
                ))
            }
        })
        .collect()
}

fn check_name(grant: &ContainersGrant, name: &str, what: &str) -> Result<(), Refusal> {
    let Some(prefix) = &grant.manage else {
        return Err((
            format!("managing long-running {what}s is not granted"),
            Some(format!(
                "grants.containers.manage = \"{}\"",
                name.split(['-', '_', '.'])
                    .next()
                    .map(|p| format!("{p}-"))
                    .unwrap_or_default()
            )),
        ));
    };
    let valid = name.len() <= 128
        && name
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphanumeric())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'));
    if !valid {
        return Err((
            format!("`{}` is not a valid {what} name", shown(name)),
            None,
        ));
    }
    if !name.starts_with(prefix.as_str()) {
        return Err((
            format!("{what} name `{name}` does not start with the granted prefix `{prefix}`"),
            Some(format!(
                "a name starting with `{prefix}`, or grants.containers.manage = \"{name}\""
            )),
        ));
    }
    Ok(())
}

fn to_host_config(
    network: String,
    (nano_cpus, memory, pids): (i64, i64, i64),
    binds: Vec<String>,
    ports: &[wit::Port],
) -> HostConfig {
    let mut port_bindings = HashMap::new();
    for p in ports {
        port_bindings.insert(
            format!("{}/tcp", p.container_port),
            Some(vec![PortBinding {
                host_ip: Some("127.0.0.1".into()),
                host_port: Some(p.host_port.to_string()),
            }]),
        );
    }
    HostConfig {
        network_mode: Some(network),
        nano_cpus: Some(nano_cpus),
        memory: Some(memory),
        memory_swap: Some(memory),
        pids_limit: Some(pids),
        binds: (!binds.is_empty()).then_some(binds),
        port_bindings: (!port_bindings.is_empty()).then_some(port_bindings),
        privileged: Some(false),
        security_opt: Some(vec!["no-new-privileges:true".into()]),
        readonly_rootfs: Some(false),
        ..Default::default()
    }
}

fn health_config(h: &wit::HealthCheck) -> HealthConfig {
    let ms = |v: u64| (v.min(24 * 3600 * 1000) * 1_000_000) as i64;
    let mut test = vec!["CMD".to_string()];
    test.extend(h.test.iter().cloned());
    HealthConfig {
        test: Some(test),
        interval: Some(ms(h.interval_ms.max(100))),
        timeout: Some(ms(h.timeout_ms.max(100))),
        retries: Some(i64::from(h.retries)),
        start_period: Some(ms(h.start_period_ms)),
        start_interval: None,
    }
}

fn enum_str<T: serde::Serialize>(v: &Option<T>) -> Option<String> {
    v.as_ref()
        .and_then(|v| serde_json::to_value(v).ok())
        .and_then(|v| v.as_str().map(str::to_string))
        .filter(|s| !s.is_empty())
}

fn to_container(c: &ContainerInspectResponse) -> wit::Container {
    let state = c.state.as_ref();
    let mut ports = Vec::new();
    if let Some(map) = c.network_settings.as_ref().and_then(|n| n.ports.as_ref()) {
        for (k, v) in map {
            let cport = k
                .split('/')
                .next()
                .and_then(|p| p.parse().ok())
                .unwrap_or(0);
            for b in v.iter().flatten() {
                if let Some(hp) = b.host_port.as_ref().and_then(|p| p.parse().ok()) {
                    ports.push(wit::Port {
                        container_port: cport,
                        host_port: hp,
                    });
                }
            }
        }
    }
    ports.sort_by_key(|p| (p.container_port, p.host_port));
    ports.dedup_by_key(|p| (p.container_port, p.host_port));
    let labels = owner::visible(
        c.config
            .as_ref()
            .and_then(|c| c.labels.clone())
            .unwrap_or_default(),
    );
    wit::Container {
        id: c.id.clone().unwrap_or_default(),
        name: c
            .name
            .clone()
            .unwrap_or_default()
            .trim_start_matches('/')
            .to_string(),
        image: c
            .config
            .as_ref()
            .and_then(|c| c.image.clone())
            .unwrap_or_default(),
        state: enum_str(&state.and_then(|s| s.status)).unwrap_or_default(),
        health: enum_str(&state.and_then(|s| s.health.as_ref()).and_then(|h| h.status)),
        exit_code: state
            .and_then(|s| s.exit_code)
            .filter(|_| state.and_then(|s| s.running) == Some(false)),
        ports,
        labels,
    }
}

/// A `container` record from one entry of the list API (`GET /containers/json`),
/// with the same values [`to_container`] takes from an inspect. Engine 20.10 (API
/// 1.41) has no `Health` field in the list, so health and exit code come from the
/// `Status` text (`Up 3 seconds (healthy)`, `Exited (137) 2 minutes ago`).
fn summary_to_container(c: &bollard::models::ContainerSummary) -> wit::Container {
    let status = c.status.clone().unwrap_or_default();
    let state = enum_str(&c.state).unwrap_or_default();
    let health = c
        .health
        .as_ref()
        .and_then(|h| enum_str(&h.status))
        .filter(|h| h != "none")
        .or_else(|| {
            let s = status.as_str();
            if s.contains("(healthy)") {
                Some("healthy".to_string())
            } else if s.contains("(unhealthy)") {
                Some("unhealthy".to_string())
            } else if s.contains("(health: starting)") {
                Some("starting".to_string())
            } else {
                None
            }
        });
    let exit_code = if matches!(state.as_str(), "exited" | "dead") {
        status
            .split_once("Exited (")
            .and_then(|(_, rest)| rest.split_once(')'))
            .and_then(|(code, _)| code.parse().ok())
    } else {
        None
    };
    let mut ports: Vec<wit::Port> = c
        .ports
        .iter()
        .flatten()
        .filter_map(|p| {
            p.public_port.map(|hp| wit::Port {
                container_port: p.private_port,
                host_port: hp,
            })
        })
        .collect();
    ports.sort_by_key(|p| (p.container_port, p.host_port));
    ports.dedup_by_key(|p| (p.container_port, p.host_port));
    let labels = owner::visible(c.labels.clone().unwrap_or_default());
    wit::Container {
        id: c.id.clone().unwrap_or_default(),
        name: c
            .names
            .as_ref()
            .and_then(|n| n.first())
            .map(|n| n.trim_start_matches('/').to_string())
            .unwrap_or_default(),
        image: c.image.clone().unwrap_or_default(),
        state,
        health,
        exit_code,
        ports,
        labels,
    }
}

fn to_image(i: &ImageInspect) -> wit::Image {
    let labels = owner::visible(
        i.config
            .as_ref()
            .and_then(|c| c.labels.clone())
            .unwrap_or_default(),
    );
    wit::Image {
        id: i.id.clone().unwrap_or_default(),
        tags: i.repo_tags.clone().unwrap_or_default(),
        repo_digests: i.repo_digests.clone().unwrap_or_default(),
        size: i.size.unwrap_or(0).max(0) as u64,
        labels,
    }
}

impl StageState {
    fn containers_grant(&self, operation: &str) -> Result<ContainersGrant, CapError> {
        match &self.containers.grant {
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
        let docker = self.containers.docker()?;
        let n = name.to_string();
        let c = self
            .containers
            .call(operation, Some(Duration::from_secs(30)), async move {
                docker
                    .inspect_container(&n, None::<q::InspectContainerOptions>)
                    .await
                    .map_err(engine_error)
            })?;
        let labels = c.config.as_ref().and_then(|c| c.labels.as_ref());
        let ownership = self.containers.ownership(labels);
        let managed = labels
            .and_then(|l| l.get(LABEL_MANAGED))
            .is_some_and(|v| v == "true");
        if ownership != owner::Ownership::Ours || !managed {
            let why = if ownership == owner::Ownership::Ours {
                "is one of gantry's one-off containers, not a managed one".to_string()
            } else {
                owner::why_not_ours(
                    ownership,
                    &self.containers.owner.pipeline,
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

    fn check_image_run(
        &self,
        operation: &str,
        grant: &ContainersGrant,
        image: &str,
    ) -> Result<ImageRef, CapError> {
        let detail = json!({ "image": shown(image) });
        let r = parse_ref("image", image)?;
        if r.digest.as_deref().is_some_and(planned::is_planned)
            && !(self.broker.dry_run && self.broker.journal.image_planned(&r.to_string()))
        {
            return Err(CapError::Invalid(format!(
                "`{r}` carries a digest a `--dry-run` planned (`{}…`), not one of an image: {}",
                planned::PREFIX,
                if self.broker.dry_run {
                    "no earlier stage of this dry run planned it"
                } else {
                    "run the stage that builds and pushes it without `--dry-run`"
                }
            )));
        }
        if !grant.may_run(&r) {
            return Err(self.refuse(
                operation,
                (
                    format!("image `{r}` is not granted"),
                    Some(format!("grants.containers.run = [\"{}:*\"]", r.repository)),
                ),
                detail,
            ));
        }
        Ok(r)
    }

    #[allow(clippy::too_many_arguments)]
    fn check_common(
        &self,
        operation: &str,
        grant: &ContainersGrant,
        network: Option<&str>,
        resources: &wit::Resources,
        env: &[(String, String)],
        access: &Option<wit::HostAccess>,
        ports: &[wit::Port],
    ) -> Result<Checked, CapError> {
        if let Some(why) = access.as_ref().and_then(host_access_refusal) {
            return Err(self.refuse(operation, (why, None), json!({ "host-access": true })));
        }
        // Services: their tasks run on `bridge`, which `check` requires of a grant with
        // `services = true`; their ports must be exposable (below).
        let net = match network {
            Some(n) => check_network(grant, n)
                .map_err(|r| self.refuse(operation, r, json!({ "network": shown(n) })))?,
            None => "swarm".to_string(),
        };
        let res = check_resources(grant, resources)
            .map_err(|r| self.refuse(operation, r, json!({ "resources": true })))?;
        let env = check_env(env).map_err(|(what, _)| CapError::Invalid(what))?;
        for p in ports {
            if p.container_port == 0 || p.host_port == 0 {
                return Err(CapError::Invalid("port 0 cannot be published".into()));
            }
            if !grant.may_publish(p.host_port) {
                return Err(self.refuse(
                    operation,
                    (
                        format!("publishing host port {} is not granted", p.host_port),
                        Some(format!("grants.containers.publish = [{}]", p.host_port)),
                    ),
                    json!({ "port": p.host_port }),
                ));
            }
            // Swarm binds a published port on every interface of every node (it has
            // no host IP for a port), so a service's port needs the grant to say so.
            if net == "swarm" && !grant.may_publish_service(p.host_port) {
                return Err(self.refuse(
                    operation,
                    (
                        format!(
                            "a Swarm service publishes port {} on every interface (0.0.0.0 and ::), not on 127.0.0.1, and the grant does not allow exposing it",
                            p.host_port
                        ),
                        Some(format!(
                            "grants.containers.expose = \"{}\"",
                            crate::manifest::grants::containers::EXPOSE_ALL
                        )),
                    ),
                    json!({ "port": p.host_port, "expose": "all-interfaces" }),
                ));
            }
            if net == "none" {
                return Err(CapError::Invalid(format!(
                    "port {} cannot be published on network `none`: use `bridge`",
                    p.host_port
                )));
            }
        }
        Ok((net, res, env))
    }

    fn run_oneoff(&mut self, spec: wit::RunSpec) -> Result<wit::RunOutput, CapError> {
        let op = "run";
        let grant = self.containers_grant(op)?;
        let entrypoint = spec.entrypoint.clone().unwrap_or_default();
        check_counts(
            &[
                (
                    "command",
                    spec.command.len() + entrypoint.len(),
                    limits::ARGS,
                ),
                ("env", spec.env.len(), limits::ENV),
                ("mounts", spec.mounts.len(), limits::MOUNTS),
            ],
            text_bytes(&[&spec.command, &entrypoint], &[&spec.env]),
        )?;
        let image = self.check_image_run(op, &grant, &spec.image)?;
        let (net, res, env) = self.check_common(
            op,
            &grant,
            Some(&spec.network),
            &spec.resources,
            &spec.env,
            &spec.host_access,
            &[],
        )?;
        let mut binds = Vec::new();
        for m in &spec.mounts {
            let host = check_mount(
                &self.broker.workspace,
                &self.containers.fs_read,
                &self.containers.fs_write,
                m,
            )
            .map_err(|e| match e {
                MountError::Refused(r) => self.refuse(op, r, json!({ "mount": shown(&m.source) })),
                MountError::BadTarget(why) => CapError::Invalid(why),
                MountError::BadSource(e) => e,
            })?;
            binds.push(format!(
                "{}:{}:{}",
                host.display(),
                m.target,
                if m.writable { "rw" } else { "ro" }
            ));
            if m.writable && !self.broker.dry_run {
                // The container may leave links out of the grant: swept at stage end.
                self.fs.written_by_others = true;
            }
        }
        if let Some(w) = &spec.workdir
            && (!w.starts_with('/') || w.contains('\0'))
        {
            return Err(CapError::Invalid(format!(
                "workdir `{}` must be an absolute path",
                shown(w)
            )));
        }
        let limit = spec.timeout_ms.map(Duration::from_millis);
        let detail = json!({
            "image": image.to_string(),
            "command": spec.command.iter().take(16).map(|a| shown(a)).collect::<Vec<_>>(),
            "network": net,
            "mounts": binds.iter().map(|b| b.rsplit_once(':').map(|x| x.0).unwrap_or(b).to_string()).collect::<Vec<_>>(),
        });
        let body = ContainerCreateBody {
            image: Some(image.to_string()),
            cmd: (!spec.command.is_empty()).then(|| spec.command.clone()),
            entrypoint: spec.entrypoint.clone(),
            env: Some(env),
            working_dir: spec.workdir.clone(),
            user: spec.user.clone(),
            labels: Some(self.containers.labels(true)),
            network_disabled: Some(net == "none"),
            host_config: Some(to_host_config(net, res, binds, &[])),
            ..Default::default()
        };
        self.broker
            .allow("containers", op, "image granted", Some(detail.clone()));
        let log = self.log.clone();
        let StageState {
            broker, containers, ..
        } = self;
        broker.effect(
            "containers",
            op,
            detail,
            false,
            || wit::RunOutput {
                exit_code: Some(0),
                stdout: Vec::new(),
                stderr: Vec::new(),
                truncated: false,
                timed_out: false,
                dry_run: true,
            },
            || run_container(containers, body, limit, log),
            |r| match r {
                Ok(o) => json!({ "exit-code": o.exit_code, "timed-out": o.timed_out, "stdout-bytes": o.stdout.len(), "stderr-bytes": o.stderr.len() }),
                Err(e) => json!({ "error": e.to_string() }),
            },
        )
    }
}

fn run_container(
    st: &mut State,
    body: ContainerCreateBody,
    limit: Option<Duration>,
    log: Arc<StageLog>,
) -> Result<wit::RunOutput, CapError> {
    let docker = st.docker()?;
    if st.expired() {
        return Ok(timed_out(&log));
    }
    // Create and start are never abandoned half-way, even at the stage's deadline: a
    // create that completes after gantry stopped waiting leaves a container nobody
    // knows of, and a remove racing an unfinished start can leave the engine with a
    // running container it had listed as removed. Each has its own short budget; the
    // run proper is what the deadline cuts.
    let d = docker.clone();
    let created = st.call_grace("create container", async move {
        d.create_container(None::<q::CreateContainerOptions>, body)
            .await
            .map_err(engine_error)
    })?;
    let id = created.id;
    st.oneoffs.push(id.clone());
    let d = docker.clone();
    let cid = id.clone();
    let log2 = log.clone();
    let started = if st.expired() {
        Err(None)
    } else {
        let (d2, cid2) = (docker.clone(), id.clone());
        st.call_grace("start container", async move {
            d2.start_container(&cid2, None::<q::StartContainerOptions>)
                .await
                .map_err(engine_error)
        })
        .map_err(Some)
    };
    let outcome = match started {
        Err(e) => Err(e),
        Ok(()) => st.block(limit, async move {
            let log = log2;
            // The output is followed until its stream ends, and the exit code waited for,
            // at the same time; both must finish. A stream that fails is an error, never
            // an empty output with exit code 0.
            let read = async {
                let mut logs = d.logs(
                    &cid,
                    Some(q::LogsOptions {
                        follow: true,
                        stdout: true,
                        stderr: true,
                        ..Default::default()
                    }),
                );
                let (mut out, mut err, mut truncated) = (Vec::new(), Vec::new(), false);
                while let Some(item) = logs.next().await {
                    let (buf, src, msg) = match item {
                        Ok(bollard::container::LogOutput::StdOut { message }) => {
                            (&mut out, "stdout", message)
                        }
                        Ok(bollard::container::LogOutput::StdErr { message }) => {
                            (&mut err, "stderr", message)
                        }
                        Ok(_) => continue,
                        Err(e) => {
                            return Err(CapError::Failed(format!(
                                "reading the container's output failed: {}",
                                engine_error(e)
                            )));
                        }
                    };
                    for line in String::from_utf8_lossy(&msg).lines() {
                        log.line(src, line);
                    }
                    let room = OUTPUT_CAP.saturating_sub(buf.len());
                    if msg.len() > room {
                        truncated = true;
                    }
                    buf.extend_from_slice(&msg[..msg.len().min(room)]);
                }
                Ok((out, err, truncated))
            };
            let wait = async {
                let mut wait = d.wait_container(&cid, None::<q::WaitContainerOptions>);
                match wait.next().await {
                    Some(Ok(r)) => Ok(r.status_code),
                    // bollard reports a non-zero exit as an error carrying the code.
                    Some(Err(bollard::errors::Error::DockerContainerWaitError {
                        code, ..
                    })) => Ok(code),
                    Some(Err(e)) => Err(engine_error(e)),
                    None => Err(CapError::Failed(
                        "the engine ended the wait for the container without an exit code".into(),
                    )),
                }
            };
            let (read, code) = futures_util::future::join(read, wait).await;
            let (out, err, truncated) = read?;
            Ok((code?, out, err, truncated))
        }),
    };
    let d = docker.clone();
    let cid = id.clone();
    // Also (above all) when the run was cut at the stage's deadline.
    let removed = st.call_grace(
        "remove container",
        async move { remove_forced(&d, &cid).await },
    );
    if removed.is_ok() {
        st.oneoffs.retain(|x| x != &id);
    }
    match outcome {
        Ok((code, stdout, stderr, truncated)) => Ok(wit::RunOutput {
            exit_code: Some(code),
            stdout,
            stderr,
            truncated,
            timed_out: false,
            dry_run: false,
        }),
        Err(None) => Ok(timed_out(&log)),
        Err(Some(e)) => Err(e),
    }
}

/// What a one-off run that hit its timeout (or the stage's) reports.
fn timed_out(log: &StageLog) -> wit::RunOutput {
    log.line("gantry", "container killed at its timeout");
    wit::RunOutput {
        exit_code: None,
        stdout: Vec::new(),
        stderr: Vec::new(),
        truncated: false,
        timed_out: true,
        dry_run: false,
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
        let StageState {
            broker, containers, ..
        } = self;
        broker.effect(
            "containers",
            op,
            detail,
            false,
            || (),
            || {
                let d = containers.docker()?;
                containers.call(op, Some(limit), call(d))
            },
            |r| json!({ "ok": r.is_ok() }),
        )
    }

    fn build_image(&mut self, spec: wit::BuildSpec) -> Result<wit::Image, CapError> {
        let op = "build";
        let grant = self.containers_grant(op)?;
        check_counts(
            &[
                ("tags", spec.tags.len(), limits::TAGS),
                ("build-args", spec.build_args.len(), limits::BUILD_ARGS),
                ("labels", spec.labels.len(), limits::LABELS),
            ],
            text_bytes(&[&spec.tags], &[&spec.build_args, &spec.labels]),
        )?;
        let detail = json!({ "context": shown(&spec.context), "tags": spec.tags.iter().map(|t| shown(t)).collect::<Vec<_>>() });
        if !grant.build {
            return Err(self.refuse(
                op,
                (
                    "building images is not granted".into(),
                    Some("grants.containers.build = true".into()),
                ),
                detail,
            ));
        }
        let m = wit::Mount {
            source: spec.context.clone(),
            target: "/context".into(),
            writable: false,
        };
        // The grant check and the messages about a missing context; then the directory
        // is opened beneath the workspace and everything is read from that handle.
        check_dir(
            &self.broker.workspace,
            &self.containers.fs_read,
            &self.containers.fs_write,
            &m,
            Use::BuildContext,
        )
        .map_err(|e| match e {
            MountError::Refused((what, grant)) => self.refuse(
                op,
                (what.replace("mounting", "building from"), grant),
                detail.clone(),
            ),
            MountError::BadTarget(why) => CapError::Invalid(why),
            MountError::BadSource(e) => e,
        })?;
        let context_rel = normalize_workspace_path(&spec.context).map_err(|(why, _)| {
            CapError::Invalid(format!("build context `{}`: {why}", shown(&spec.context)))
        })?;
        let ctx_fd = crate::caps::fs::beneath::open_root(&self.broker.workspace)
            .map_err(|e| CapError::Failed(format!("cannot open the workspace: {e}")))
            .and_then(|root| {
                crate::caps::fs::beneath::open_dir(&root, &context_rel).map_err(|why| {
                    CapError::Invalid(format!("build context `{context_rel}` {why}"))
                })
            })?;
        let dockerfile = spec
            .dockerfile
            .clone()
            .unwrap_or_else(|| "Dockerfile".into());
        let df_rel = normalize_workspace_path(&dockerfile).map_err(|(why, _)| {
            CapError::Invalid(format!("dockerfile `{}`: {why}", shown(&dockerfile)))
        })?;
        let files = context::read_build_files(&ctx_fd, &df_rel).map_err(|why| {
            if why.contains("does not exist") {
                CapError::NotFound(format!("{why} `{}`", spec.context))
            } else {
                CapError::Invalid(why)
            }
        })?;
        let where_ = format!("`{}/{df_rel}`", spec.context.trim_end_matches('/'));
        let text = std::str::from_utf8(&files.dockerfile)
            .map_err(|_| CapError::Invalid(format!("{where_} is not UTF-8 text")))?;
        let analysis = match dockerfile::analyze(text, &spec.build_args) {
            Ok(a) => a,
            Err(dockerfile::Problem::Malformed { line, why }) => {
                return Err(CapError::Invalid(format!("{where_} line {line}: {why}")));
            }
            Err(dockerfile::Problem::Refused { line, why }) => {
                return Err(self.refuse(
                    op,
                    (format!("{where_} line {line}: {why}"), None),
                    detail,
                ));
            }
        };
        for u in &analysis.images {
            self.check_build_image(op, &grant, u, &where_, &detail)?;
        }
        let mut tags = Vec::new();
        for t in &spec.tags {
            let r = parse_ref("tag", t)?;
            if !grant.may_run(&r) && !grant.may_push(&r) {
                return Err(self.refuse(
                    op,
                    (
                        format!("tag `{r}` matches neither `run` nor `push`"),
                        Some(format!("grants.containers.push = [\"{}\"]", r.repository)),
                    ),
                    detail,
                ));
            }
            tags.push(r);
        }
        // Images must be on the engine under the names checked (the builder would
        // otherwise pull them), and base images' ONBUILD triggers obey the same rules.
        // Read-only, and skipped under --dry-run, which needs no engine.
        if !self.broker.dry_run {
            self.check_build_images_on_engine(op, &grant, &analysis, &where_, &detail)?;
            for t in &tags {
                self.free_or_ours(op, t)?;
            }
        }
        let host_labels = self.containers.object_labels();
        let mut labels: HashMap<String, String> = spec
            .labels
            .iter()
            .filter(|(k, _)| !k.starts_with(owner::PREFIX))
            .cloned()
            .collect();
        labels.extend(host_labels.clone());
        let build_args: HashMap<String, String> = spec.build_args.iter().cloned().collect();
        let detail = json!({
            "context": shown(&spec.context),
            "tags": spec.tags.iter().map(|t| shown(t)).collect::<Vec<_>>(),
            "images": analysis.images.iter().map(|u| shown(&u.reference)).collect::<Vec<_>>(),
        });
        self.broker.allow(
            "containers",
            op,
            "build and every image it uses granted",
            Some(detail.clone()),
        );
        let log = self.log.clone();
        let target = spec.target.clone().unwrap_or_default();
        let tag_list = tags.iter().map(ToString::to_string).collect::<Vec<_>>();
        let planned_id = planned::digest(&self.broker.actor.run, &format!("build {}", tag_list.join(" ")));
        if self.broker.dry_run {
            for t in &tag_list {
                self.broker.journal.plan_image(t);
            }
        }
        let StageState {
            broker, containers, ..
        } = self;
        let refusal_detail = detail.clone();
        broker.effect(
            "containers",
            op,
            detail,
            false,
            || wit::Image {
                id: planned_id.clone(),
                tags: tags.iter().map(ToString::to_string).collect(),
                repo_digests: vec![],
                size: 0,
                labels: vec![],
            },
            || {
                let archive =
                    context::archive(&ctx_fd, &files, MAX_CONTEXT).map_err(CapError::Failed)?;
                let body = archive.body().map_err(CapError::Failed)?;
                let docker = containers.docker()?;
                let d = docker.clone();
                // Untagged until its labels are checked: a refused image never takes
                // over a tag.
                let options = q::BuildImageOptions {
                    dockerfile: df_rel.clone(),
                    t: None,
                    rm: true,
                    forcerm: true,
                    buildargs: Some(build_args),
                    labels: Some(labels),
                    target,
                    networkmode: Some("none".into()),
                    ..Default::default()
                };
                let log2 = log.clone();
                // The builder echoes the label steps; the tag stays out of the records.
                let tag = containers.owner.tag.clone();
                let id = containers.call("build", None, async move {
                    let mut stream =
                        d.build_image(options, None, Some(bollard::body_try_stream(body)));
                    let (mut id, mut built) = (None, None);
                    while let Some(item) = stream.next().await {
                        let info = item.map_err(|e| match e {
                            bollard::errors::Error::DockerStreamError { error } => {
                                CapError::Failed(format!(
                                    "build failed: {}",
                                    error.replace(&tag, "<ownership tag>")
                                ))
                            }
                            e => engine_error(e),
                        })?;
                        if let Some(s) = &info.stream {
                            for l in s.lines().filter(|l| !l.trim().is_empty()) {
                                log2.line("build", &l.replace(&tag, "<ownership tag>"));
                                if let Some(short) = l.trim().strip_prefix("Successfully built ") {
                                    built = Some(short.trim().to_string());
                                }
                            }
                        }
                        if let Some(e) = info.error_detail.and_then(|e| e.message) {
                            return Err(CapError::Failed(format!(
                                "build failed: {}",
                                e.replace(&tag, "<ownership tag>")
                            )));
                        }
                        if let Some(i) = info.aux {
                            id = i.id.or(id);
                        }
                    }
                    Ok(id.or(built))
                })?;
                let reference =
                    id.ok_or_else(|| CapError::Failed("the engine reported no image id".into()))?;
                let d = docker.clone();
                let r = reference.clone();
                let img = containers.call(
                    "inspect image",
                    Some(Duration::from_secs(30)),
                    async move { d.inspect_image(&r).await.map_err(engine_error) },
                )?;
                let foreign = owner::foreign_gantry_labels(
                    img.config.as_ref().and_then(|c| c.labels.as_ref()),
                    &host_labels,
                );
                if !foreign.is_empty() {
                    let d = docker.clone();
                    let r = img.id.clone().unwrap_or(reference);
                    let removed = containers.call_grace("remove refused image", async move {
                        d.remove_image(
                            &r,
                            Some(q::RemoveImageOptions {
                                force: true,
                                noprune: false,
                                ..Default::default()
                            }),
                            None,
                        )
                        .await
                        .map(|_| ())
                        .map_err(engine_error)
                    });
                    let mut what = format!(
                        "the built image carries gantry's own label{} {} (set by the Dockerfile or inherited from its base image); only gantry sets `dev.gantry.*` labels, which decide what gantry may act on",
                        if foreign.len() == 1 { "" } else { "s" },
                        shown_list(&foreign)
                    );
                    what.push_str(match removed {
                        Ok(()) => "; the image was removed",
                        Err(_) => "; removing the image failed: remove it by hand",
                    });
                    return Err(broker.refuse("containers", op, &what, Some(refusal_detail)));
                }
                let id = img.id.clone().unwrap_or(reference);
                for t in &tags {
                    let d = docker.clone();
                    let (src, repo, tag) = (id.clone(), t.repository.clone(), t.tag.clone());
                    containers.call("tag", Some(Duration::from_secs(30)), async move {
                        d.tag_image(
                            &src,
                            Some(q::TagImageOptions {
                                repo: Some(repo),
                                tag,
                            }),
                        )
                        .await
                        .map_err(engine_error)
                    })?;
                }
                let d = docker.clone();
                let img = containers.call(
                    "inspect image",
                    Some(Duration::from_secs(30)),
                    async move { d.inspect_image(&id).await.map_err(engine_error) },
                )?;
                Ok(to_image(&img))
            },
            |r| match r {
                Ok(i) => json!({ "id": i.id, "tags": i.tags }),
                Err(e) => json!({ "error": e.to_string() }),
            },
        )
    }

    /// One image a build uses, held to `grants.containers.run`.
    fn check_build_image(
        &self,
        op: &str,
        grant: &ContainersGrant,
        u: &dockerfile::ImageUse,
        where_: &str,
        detail: &Value,
    ) -> Result<ImageRef, CapError> {
        let at = if u.line > 0 {
            format!("{where_} line {}, {}", u.line, u.by)
        } else {
            format!("{where_}, {}", u.by)
        };
        let r = ImageRef::parse(&u.reference)
            .map_err(|why| CapError::Invalid(format!("{at}: `{}`: {why}", shown(&u.reference))))?;
        if !grant.may_run(&r) {
            return Err(self.refuse(
                op,
                (
                    format!(
                        "{at} uses image `{r}`, which is not granted: every image a build uses must match `run`"
                    ),
                    Some(format!("grants.containers.run = [\"{}:*\"]", r.repository)),
                ),
                detail.clone(),
            ));
        }
        Ok(r)
    }

    /// The images a build fetches, on the engine: each must be there under the name
    /// checked (not found by an id prefix, not pulled), and the `ONBUILD` triggers of
    /// each base image are checked like Dockerfile instructions.
    fn check_build_images_on_engine(
        &mut self,
        op: &str,
        grant: &ContainersGrant,
        analysis: &dockerfile::Analysis,
        where_: &str,
        detail: &Value,
    ) -> Result<(), CapError> {
        let mut queue: Vec<dockerfile::ImageUse> = analysis
            .images
            .iter()
            .filter(|u| u.fetched)
            .cloned()
            .collect();
        let mut seen_triggers = 0usize;
        while let Some(u) = queue.pop() {
            let r = self.check_build_image(op, grant, &u, where_, detail)?;
            let d = self.containers.docker()?;
            let name = r.to_string();
            let found = self
                .containers
                .call(op, Some(Duration::from_secs(30)), async move {
                    match d.inspect_image(&name).await {
                        Ok(i) => Ok(Some(i)),
                        Err(bollard::errors::Error::DockerResponseServerError {
                            status_code: 404,
                            ..
                        }) => Ok(None),
                        Err(e) => Err(engine_error(e)),
                    }
                })?;
            let Some(img) = found else {
                return Err(CapError::NotFound(format!(
                    "{where_} uses image `{r}` ({}), which is not on the Docker Engine; gantry does not pull images during a build: pull it on the engine first (`docker pull {r}`)",
                    u.by
                )));
            };
            if !image_has_name(&img, &r) {
                return Err(self.refuse(
                    op,
                    (
                        format!(
                            "{where_}: `{r}` ({}) names no image by that name; the engine would take it as a prefix of another image's id, which the grant does not cover",
                            u.by
                        ),
                        None,
                    ),
                    detail.clone(),
                ));
            }
            if let Some(stage) = u.base_of {
                let triggers = img
                    .config
                    .as_ref()
                    .and_then(|c| c.on_build.clone())
                    .unwrap_or_default();
                seen_triggers += triggers.len();
                if seen_triggers > 256 {
                    return Err(CapError::Invalid(format!(
                        "{where_}: the base images carry more than 256 ONBUILD triggers"
                    )));
                }
                let earlier = &analysis.stages[..stage.min(analysis.stages.len())];
                let uses = dockerfile::analyze_triggers(&triggers, earlier, &r.to_string())
                    .map_err(|p| match p {
                        dockerfile::Problem::Malformed { why, .. } => {
                            CapError::Invalid(format!("{where_}: {why}"))
                        }
                        dockerfile::Problem::Refused { why, .. } => {
                            self.refuse(op, (format!("{where_}: {why}"), None), detail.clone())
                        }
                    })?;
                queue.extend(uses);
            }
        }
        Ok(())
    }

    /// A tag may be set only where it names nothing yet or one of this pipeline's own
    /// images: moving a tag off someone else's image changes what their deploys run.
    fn free_or_ours(&mut self, op: &str, tag: &ImageRef) -> Result<(), CapError> {
        let d = self.containers.docker()?;
        let name = tag.to_string();
        let found = self
            .containers
            .call(op, Some(Duration::from_secs(30)), async move {
                match d.inspect_image(&name).await {
                    Ok(i) => Ok(Some(i)),
                    Err(bollard::errors::Error::DockerResponseServerError {
                        status_code: 404,
                        ..
                    }) => Ok(None),
                    Err(e) => Err(engine_error(e)),
                }
            })?;
        let Some(img) = found.filter(|i| image_has_name(i, tag)) else {
            return Ok(());
        };
        match self
            .containers
            .ownership(img.config.as_ref().and_then(|c| c.labels.as_ref()))
        {
            owner::Ownership::Ours => Ok(()),
            o => Err(self.refuse(
                op,
                (
                    format!(
                        "tag `{tag}` now names an image that {}",
                        owner::why_not_ours(
                            o,
                            &self.containers.owner.pipeline,
                            &format!("docker rmi {tag}")
                        )
                    ),
                    None,
                ),
                json!({ "tag": tag.to_string() }),
            )),
        }
    }

    /// This pipeline's image behind `reference`; a refusal for anyone else's.
    fn our_image(&mut self, op: &str, reference: &str) -> Result<ImageInspect, CapError> {
        let docker = self.containers.docker()?;
        let r = reference.to_string();
        let img = self
            .containers
            .call(op, Some(Duration::from_secs(30)), async move {
                docker.inspect_image(&r).await.map_err(engine_error)
            })?;
        let labels = img.config.as_ref().and_then(|c| c.labels.as_ref());
        match self.containers.ownership(labels) {
            owner::Ownership::Ours => Ok(img),
            o => Err(self.refuse(
                op,
                (
                    format!(
                        "image `{}` {}",
                        shown(reference),
                        owner::why_not_ours(
                            o,
                            &self.containers.owner.pipeline,
                            &format!("docker rmi {}", shown(reference))
                        )
                    ),
                    None,
                ),
                json!({ "image": shown(reference) }),
            )),
        }
    }

    fn tag_image(&mut self, source: &str, target: &str) -> Result<(), CapError> {
        let op = "tag";
        let grant = self.containers_grant(op)?;
        let t = parse_ref("target", target)?;
        if t.digest.is_some() {
            return Err(CapError::Invalid(
                "a tag target cannot carry a digest".into(),
            ));
        }
        if !grant.may_run(&t) && !grant.may_push(&t) {
            return Err(self.refuse(
                op,
                (
                    format!("tag `{t}` matches neither `run` nor `push`"),
                    Some(format!("grants.containers.push = [\"{}\"]", t.repository)),
                ),
                json!({ "target": t.to_string() }),
            ));
        }
        let img = self.our_image(op, source)?;
        self.free_or_ours(op, &t)?;
        let id = img.id.clone().unwrap_or_default();
        let detail = json!({ "source": shown(source), "target": t.to_string() });
        self.engine_op(
            op,
            "tag granted",
            detail,
            Duration::from_secs(30),
            move |d| async move {
                d.tag_image(
                    &id,
                    Some(q::TagImageOptions {
                        repo: Some(t.repository.clone()),
                        tag: t.tag.clone(),
                    }),
                )
                .await
                .map_err(engine_error)
            },
        )
    }

    fn push_image(
        &mut self,
        reference: &str,
        username: Option<String>,
        secret: Option<String>,
    ) -> Result<wit::Pushed, CapError> {
        let op = "push";
        let grant = self.containers_grant(op)?;
        let r = parse_ref("image", reference)?;
        let detail =
            json!({ "image": r.to_string(), "username": username, "password-secret": secret });
        if r.digest.is_some() {
            return Err(CapError::Invalid("push a tag, not a digest".into()));
        }
        if !grant.may_push(&r) {
            return Err(self.refuse(
                op,
                (
                    format!("pushing to `{}` is not granted", r.repository),
                    Some(format!("grants.containers.push = [\"{}\"]", r.repository)),
                ),
                detail,
            ));
        }
        let Some(registry) = r.registry().map(str::to_string) else {
            return Err(self.refuse(op, (format!("`{}` names no registry host; gantry does not push to Docker Hub implicitly", r.repository), Some("a repository with a registry host, e.g. `127.0.0.1:5000/app`".into())), detail));
        };
        // An image an earlier build of this dry run planned is not on the engine: it is
        // ours by construction (planned under this run's labels), and its push is planned.
        let planned_here = self.broker.dry_run && self.broker.journal.image_planned(&r.to_string());
        if !planned_here {
            self.our_image(op, &r.to_string())?;
        }
        let password = match &secret {
            Some(name) => match self.secrets.store.value(name) {
                Some(Ok(v)) => Some(v.clone()),
                _ => return Err(CapError::NotFound(format!("secret `{name}` has no value"))),
            },
            None => None,
        };
        let credentials = (username.is_some() || password.is_some()).then(|| DockerCredentials {
            username: username.clone(),
            password,
            serveraddress: Some(registry.clone()),
            ..Default::default()
        });
        self.broker
            .allow("containers", op, "push granted", Some(detail.clone()));
        let log = self.log.clone();
        let shown_ref = r.to_string();
        let planned_digest = planned::digest(&self.broker.actor.run, &shown_ref);
        if self.broker.dry_run {
            self.broker
                .journal
                .plan_image(&format!("{}@{planned_digest}", r.repository));
        }
        let StageState {
            broker, containers, ..
        } = self;
        broker.effect(
            "containers",
            op,
            detail,
            false,
            || wit::Pushed {
                reference: shown_ref.clone(),
                digest: planned_digest.clone(),
            },
            || {
                let d = containers.docker()?;
                let (repo, tag) = (r.repository.clone(), r.tag.clone());
                let log2 = log.clone();
                let digest = containers.call("push", None, async move {
                    let mut s = d.push_image(
                        &repo,
                        Some(q::PushImageOptions {
                            tag,
                            ..Default::default()
                        }),
                        credentials,
                    );
                    let mut digest = None;
                    while let Some(item) = s.next().await {
                        let info = item.map_err(|e| match e {
                            bollard::errors::Error::DockerStreamError { error } => {
                                CapError::Failed(format!("push failed: {error}"))
                            }
                            e => engine_error(e),
                        })?;
                        if let Some(e) = info.error_detail.and_then(|e| e.message) {
                            return Err(CapError::Failed(format!("push to `{repo}` failed: {e}")));
                        }
                        if let Some(st) = &info.status {
                            if let Some(i) = st.find("digest: ") {
                                digest = st[i + 8..].split_whitespace().next().map(str::to_string);
                            }
                            log2.line("push", st);
                        }
                    }
                    Ok(digest)
                })?;
                let digest = digest
                    .ok_or_else(|| CapError::Failed("the registry reported no digest".into()))?;
                Ok(wit::Pushed {
                    reference: shown_ref.clone(),
                    digest,
                })
            },
            |res| match res {
                Ok(p) => json!({ "digest": p.digest }),
                Err(e) => json!({ "error": e.to_string() }),
            },
        )
    }

    fn inspect_image_checked(&mut self, reference: &str) -> Result<wit::Image, CapError> {
        let op = "inspect-image";
        let grant = self.containers_grant(op)?;
        let r = parse_ref("image", reference)?;
        if grant.may_run(&r) {
            let d = self.containers.docker()?;
            let s = r.to_string();
            let img = self
                .containers
                .call(op, Some(Duration::from_secs(30)), async move {
                    d.inspect_image(&s).await.map_err(engine_error)
                })?;
            return Ok(to_image(&img));
        }
        self.our_image(op, &r.to_string()).map(|i| to_image(&i))
    }

    fn create_managed(&mut self, spec: wit::ContainerSpec) -> Result<wit::Container, CapError> {
        let op = "create";
        let grant = self.containers_grant(op)?;
        if let Err(r) = check_name(&grant, &spec.name, "container") {
            return Err(self.refuse(op, r, json!({ "name": shown(&spec.name) })));
        }
        let entrypoint = spec.entrypoint.clone().unwrap_or_default();
        check_counts(
            &[
                (
                    "command",
                    spec.command.len() + entrypoint.len(),
                    limits::ARGS,
                ),
                ("env", spec.env.len(), limits::ENV),
                ("ports", spec.ports.len(), limits::PORTS),
                ("labels", spec.labels.len(), limits::LABELS),
                (
                    "health-check.test",
                    spec.health_check.as_ref().map_or(0, |h| h.test.len()),
                    limits::HEALTH_ARGS,
                ),
            ],
            text_bytes(&[&spec.command, &entrypoint], &[&spec.env, &spec.labels]),
        )?;
        let image = self.check_image_run(op, &grant, &spec.image)?;
        let (net, res, env) = self.check_common(
            op,
            &grant,
            Some(&spec.network),
            &spec.resources,
            &spec.env,
            &spec.host_access,
            &spec.ports,
        )?;
        let labels = self.containers.with_labels(&spec.labels);
        let body = ContainerCreateBody {
            image: Some(image.to_string()),
            cmd: (!spec.command.is_empty()).then(|| spec.command.clone()),
            entrypoint: spec.entrypoint.clone(),
            env: Some(env),
            labels: Some(labels),
            healthcheck: spec.health_check.as_ref().map(health_config),
            exposed_ports: (!spec.ports.is_empty()).then(|| {
                spec.ports
                    .iter()
                    .map(|p| format!("{}/tcp", p.container_port))
                    .collect()
            }),
            network_disabled: Some(net == "none"),
            host_config: Some(to_host_config(net, res, Vec::new(), &spec.ports)),
            ..Default::default()
        };
        let detail = json!({ "name": spec.name, "image": image.to_string(), "ports": spec.ports.iter().map(|p| p.host_port).collect::<Vec<_>>() });
        self.broker.allow(
            "containers",
            op,
            "name and image granted",
            Some(detail.clone()),
        );
        let name = spec.name.clone();
        let StageState {
            broker, containers, ..
        } = self;
        broker.effect(
            "containers",
            op,
            detail,
            false,
            || wit::Container {
                id: String::new(),
                name: name.clone(),
                image: image.to_string(),
                state: "created".into(),
                health: None,
                exit_code: None,
                ports: spec.ports.clone(),
                labels: vec![],
            },
            || {
                let d = containers.docker()?;
                let n = name.clone();
                containers.call(op, Some(Duration::from_secs(60)), async move {
                    d.create_container(
                        Some(q::CreateContainerOptions {
                            name: Some(n.clone()),
                            ..Default::default()
                        }),
                        body,
                    )
                    .await
                    .map_err(engine_error)?;
                    let c = d
                        .inspect_container(&n, None::<q::InspectContainerOptions>)
                        .await
                        .map_err(engine_error)?;
                    Ok(to_container(&c))
                })
            },
            |r| match r {
                Ok(c) => json!({ "id": c.id }),
                Err(e) => json!({ "error": e.to_string() }),
            },
        )
    }

    fn lifecycle(&mut self, op: &str, name: &str, timeout_s: Option<u32>) -> Result<(), CapError> {
        let (_, c) = self.owned_container(op, name)?;
        let id = c.id.clone().unwrap_or_default();
        let detail = json!({ "name": name, "id": id });
        self.broker
            .allow("containers", op, "managed container", Some(detail.clone()));
        let op_owned = op.to_string();
        let StageState {
            broker, containers, ..
        } = self;
        broker.effect(
            "containers",
            op,
            detail,
            false,
            || (),
            || {
                let d = containers.docker()?;
                let wait = Duration::from_secs(u64::from(timeout_s.unwrap_or(10)) + 30);
                containers.call(&op_owned.clone(), Some(wait), async move {
                    match op_owned.as_str() {
                        "start" => d
                            .start_container(&id, None::<q::StartContainerOptions>)
                            .await
                            .map_err(engine_error),
                        "stop" => match d
                            .stop_container(
                                &id,
                                Some(q::StopContainerOptions {
                                    t: timeout_s.map(|t| t.min(3600) as i32),
                                    signal: None,
                                }),
                            )
                            .await
                        {
                            Err(bollard::errors::Error::DockerResponseServerError {
                                status_code: 304,
                                ..
                            }) => Ok(()),
                            r => r.map_err(engine_error),
                        },
                        _ => remove_forced(&d, &id).await,
                    }
                })
            },
            |r| json!({ "ok": r.is_ok() }),
        )
    }

    fn rename_managed(&mut self, name: &str, new_name: &str) -> Result<(), CapError> {
        let op = "rename";
        let (grant, c) = self.owned_container(op, name)?;
        if let Err(r) = check_name(&grant, new_name, "container") {
            return Err(self.refuse(op, r, json!({ "name": shown(new_name) })));
        }
        let id = c.id.clone().unwrap_or_default();
        let detail = json!({ "name": name, "new-name": new_name });
        let nn = new_name.to_string();
        self.engine_op(
            op,
            "managed container",
            detail,
            Duration::from_secs(30),
            move |d| async move {
                d.rename_container(&id, q::RenameContainerOptions { name: nn })
                    .await
                    .map_err(engine_error)
            },
        )
    }

    fn list_managed(&mut self) -> Result<Vec<wit::Container>, CapError> {
        let op = "list";
        let grant = self.containers_grant(op)?;
        let Some(prefix) = grant.manage.clone() else {
            return Err(self.refuse(
                op,
                (
                    "listing managed containers needs a name prefix".into(),
                    Some("grants.containers.manage = \"app-\"".into()),
                ),
                json!({}),
            ));
        };
        let d = self.containers.docker()?;
        let filters = HashMap::from([(
            "label".to_string(),
            vec![
                format!("{}={}", owner::LABEL_OWNER, self.containers.owner.tag),
                format!("{LABEL_MANAGED}=true"),
            ],
        )]);
        let found = self
            .containers
            .call(op, Some(Duration::from_secs(30)), async move {
                let list = d
                    .list_containers(Some(q::ListContainersOptions {
                        all: true,
                        filters: Some(filters),
                        ..Default::default()
                    }))
                    .await
                    .map_err(engine_error)?;
                // One request: the list's own fields carry everything a `container`
                // record holds (no inspect per container).
                Ok(list.iter().map(summary_to_container).collect::<Vec<_>>())
            })?;
        Ok(found
            .into_iter()
            .filter(|c| c.name.starts_with(&prefix))
            .collect())
    }

    fn logs_managed(&mut self, name: &str, tail: u32) -> Result<String, CapError> {
        let (_, c) = self.owned_container("logs", name)?;
        let id = c.id.unwrap_or_default();
        let d = self.containers.docker()?;
        self.containers
            .call("logs", Some(Duration::from_secs(30)), async move {
                let mut s = d.logs(
                    &id,
                    Some(q::LogsOptions {
                        stdout: true,
                        stderr: true,
                        tail: tail.min(10_000).to_string(),
                        ..Default::default()
                    }),
                );
                let mut out = String::new();
                while let Some(item) = s.next().await {
                    let o = item.map_err(|e| {
                        CapError::Failed(format!(
                            "reading the container's logs failed: {}",
                            engine_error(e)
                        ))
                    })?;
                    out.push_str(&o.to_string());
                    if out.len() > OUTPUT_CAP {
                        break;
                    }
                }
                Ok(out)
            })
    }

    fn check_service_name(
        &self,
        op: &str,
        grant: &ContainersGrant,
        name: &str,
    ) -> Result<(), CapError> {
        if !grant.services {
            return Err(self.refuse(
                op,
                (
                    "managing Swarm services is not granted".into(),
                    Some("grants.containers.services = true".into()),
                ),
                json!({ "name": shown(name) }),
            ));
        }
        check_name(grant, name, "service")
            .map_err(|r| self.refuse(op, r, json!({ "name": shown(name) })))
    }

    /// Inspects a service and checks it is this pipeline's.
    fn owned_service(
        &mut self,
        op: &str,
        name: &str,
    ) -> Result<(bollard::models::Service, wit::Service), CapError> {
        let grant = self.containers_grant(op)?;
        self.check_service_name(op, &grant, name)?;
        let d = self.containers.docker()?;
        let n = name.to_string();
        let (svc, tasks) = self
            .containers
            .call(op, Some(Duration::from_secs(30)), async move {
                let s = d
                    .inspect_service(&n, None::<q::InspectServiceOptions>)
                    .await
                    .map_err(engine_error)?;
                let id = s.id.clone().unwrap_or_default();
                let tasks = d
                    .list_tasks(Some(q::ListTasksOptions {
                        filters: Some(HashMap::from([("service".to_string(), vec![id])])),
                    }))
                    .await
                    .map_err(engine_error)?;
                Ok((s, tasks))
            })?;
        let ownership = self
            .containers
            .ownership(svc.spec.as_ref().and_then(|s| s.labels.as_ref()));
        if ownership != owner::Ownership::Ours {
            return Err(self.refuse(
                op,
                (
                    format!(
                        "service `{}` {}",
                        shown(name),
                        owner::why_not_ours(
                            ownership,
                            &self.containers.owner.pipeline,
                            &format!("docker service rm {}", shown(name))
                        )
                    ),
                    None,
                ),
                json!({ "name": shown(name) }),
            ));
        }
        let view = to_service(&svc, &tasks);
        Ok((svc, view))
    }

    fn deploy_service(&mut self, spec: wit::ServiceSpec) -> Result<wit::Service, CapError> {
        let op = "service-deploy";
        let grant = self.containers_grant(op)?;
        self.check_service_name(op, &grant, &spec.name)?;
        check_counts(
            &[
                ("command", spec.command.len(), limits::ARGS),
                ("env", spec.env.len(), limits::ENV),
                ("ports", spec.ports.len(), limits::PORTS),
                ("labels", spec.labels.len(), limits::LABELS),
                ("replicas", spec.replicas as usize, limits::REPLICAS),
                (
                    "health-check.test",
                    spec.health_check.as_ref().map_or(0, |h| h.test.len()),
                    limits::HEALTH_ARGS,
                ),
            ],
            text_bytes(&[&spec.command], &[&spec.env, &spec.labels]),
        )?;
        let image = self.check_image_run(op, &grant, &spec.image)?;
        let (_, (nano, mem, pids), env) = self.check_common(
            op,
            &grant,
            None,
            &spec.resources,
            &spec.env,
            &None,
            &spec.ports,
        )?;
        let labels = self.containers.with_labels(&spec.labels);
        let ms = |v: u64| (v.min(24 * 3600 * 1000) * 1_000_000) as i64;
        let failure_action = match spec.update.failure_action.as_str() {
            "" | "rollback" => ServiceSpecUpdateConfigFailureActionEnum::ROLLBACK,
            "pause" => ServiceSpecUpdateConfigFailureActionEnum::PAUSE,
            "continue" => ServiceSpecUpdateConfigFailureActionEnum::CONTINUE,
            other => {
                return Err(CapError::Invalid(format!(
                    "failure-action `{}`: use `rollback`, `pause` or `continue`",
                    shown(other)
                )));
            }
        };
        let order = match spec.update.order.as_str() {
            "" | "stop-first" => ServiceSpecUpdateConfigOrderEnum::STOP_FIRST,
            "start-first" => ServiceSpecUpdateConfigOrderEnum::START_FIRST,
            other => {
                return Err(CapError::Invalid(format!(
                    "order `{}`: use `start-first` or `stop-first`",
                    shown(other)
                )));
            }
        };
        let mut svc_spec = ServiceSpec {
            name: Some(spec.name.clone()),
            labels: Some(labels.clone()),
            task_template: Some(TaskSpec {
                container_spec: Some(TaskSpecContainerSpec {
                    image: Some(image.to_string()),
                    labels: Some(labels),
                    args: (!spec.command.is_empty()).then(|| spec.command.clone()),
                    env: Some(env),
                    health_check: spec.health_check.as_ref().map(health_config),
                    stop_grace_period: Some(ms(2000)),
                    ..Default::default()
                }),
                resources: Some(TaskSpecResources {
                    limits: Some(Limit {
                        nano_cpus: Some(nano),
                        memory_bytes: Some(mem),
                        pids: Some(pids),
                    }),
                    ..Default::default()
                }),
                ..Default::default()
            }),
            mode: Some(ServiceSpecMode {
                replicated: Some(ServiceSpecModeReplicated {
                    // 0 asks for the default, one task; above the limit was refused.
                    replicas: Some(i64::from(spec.replicas.max(1))),
                }),
                ..Default::default()
            }),
            update_config: Some(ServiceSpecUpdateConfig {
                parallelism: Some(i64::from(spec.update.parallelism.max(1))),
                delay: Some(ms(spec.update.delay_ms)),
                monitor: Some(ms(spec.update.monitor_ms.max(1000))),
                failure_action: Some(failure_action),
                max_failure_ratio: Some(0.0),
                order: Some(order),
            }),
            endpoint_spec: Some(EndpointSpec {
                ports: Some(
                    spec.ports
                        .iter()
                        .map(|p| EndpointPortConfig {
                            target_port: Some(i64::from(p.container_port)),
                            published_port: Some(i64::from(p.host_port)),
                            // Host mode: the routing mesh needs IPVS, which many kernels
                            // (CI sandboxes among them) lack; a host-mode port answers anywhere.
                            publish_mode: Some(EndpointPortConfigPublishModeEnum::HOST),
                            ..Default::default()
                        })
                        .collect(),
                ),
                mode: Some(EndpointSpecModeEnum::DNSRR),
            }),
            ..Default::default()
        };
        let d = self.containers.docker()?;
        let n = spec.name.clone();
        let existing = self
            .containers
            .call(op, Some(Duration::from_secs(30)), async move {
                match d
                    .inspect_service(&n, None::<q::InspectServiceOptions>)
                    .await
                {
                    Ok(s) => Ok(Some(s)),
                    Err(bollard::errors::Error::DockerResponseServerError {
                        status_code: 404,
                        ..
                    }) => Ok(None),
                    Err(e) => Err(engine_error(e)),
                }
            })?;
        if let Some(old) = &existing {
            self.owned_service(op, &spec.name)?;
            let old_image = old
                .spec
                .as_ref()
                .and_then(|s| s.task_template.as_ref())
                .and_then(|t| t.container_spec.as_ref())
                .and_then(|c| c.image.clone());
            if let (Some(img), Some(l)) = (old_image, svc_spec.labels.as_mut()) {
                l.insert(LABEL_PREVIOUS_IMAGE.into(), img);
            }
        }
        let version = existing
            .as_ref()
            .and_then(|s| s.version.as_ref())
            .and_then(|v| v.index)
            .unwrap_or(0);
        let detail =
            json!({ "name": spec.name, "image": image.to_string(), "update": existing.is_some() });
        self.broker
            .allow("containers", op, "service granted", Some(detail.clone()));
        let name = spec.name.clone();
        let updating = existing.is_some();
        {
            let StageState {
                broker, containers, ..
            } = self;
            broker.effect(
                "containers",
                op,
                detail,
                false,
                || (),
                || {
                    let d = containers.docker()?;
                    let n = name.clone();
                    containers.call(op, Some(Duration::from_secs(60)), async move {
                        if updating {
                            d.update_service(
                                &n,
                                svc_spec,
                                q::UpdateServiceOptions {
                                    version: version as i32,
                                    ..Default::default()
                                },
                                None,
                            )
                            .await
                            .map(|_| ())
                            .map_err(engine_error)
                        } else {
                            d.create_service(svc_spec, None)
                                .await
                                .map(|_| ())
                                .map_err(engine_error)
                        }
                    })
                },
                |r| json!({ "ok": r.is_ok() }),
            )?;
        }
        if self.broker.dry_run {
            return Ok(wit::Service {
                id: String::new(),
                name,
                image: image.to_string(),
                version: 0,
                update_state: String::new(),
                update_message: "dry run: nothing deployed".into(),
                previous_image: None,
                tasks: vec![],
            });
        }
        self.owned_service("service-inspect", &name).map(|(_, s)| s)
    }

    fn rollback_service(&mut self, name: &str) -> Result<wit::Service, CapError> {
        let op = "service-rollback";
        let (svc, _) = self.owned_service(op, name)?;
        if svc
            .spec
            .as_ref()
            .and_then(|s| s.labels.as_ref())
            .and_then(|l| l.get(LABEL_PREVIOUS_IMAGE))
            .is_none()
        {
            return Err(CapError::Failed(format!(
                "service `{name}` has no previous spec to roll back to"
            )));
        }
        // The engine keeps the previous spec itself; `rollback=previous` makes it use it.
        let previous = svc.spec.clone().unwrap_or_default();
        let version = svc.version.as_ref().and_then(|v| v.index).unwrap_or(0);
        let detail = json!({ "name": name });
        let n = name.to_string();
        self.engine_op(
            op,
            "managed service",
            detail,
            Duration::from_secs(60),
            move |d| async move {
                d.update_service(
                    &n,
                    previous,
                    q::UpdateServiceOptions {
                        version: version as i32,
                        rollback: Some("previous".into()),
                        ..Default::default()
                    },
                    None,
                )
                .await
                .map(|_| ())
                .map_err(engine_error)
            },
        )?;
        self.owned_service("service-inspect", name).map(|(_, s)| s)
    }

    fn remove_service(&mut self, name: &str) -> Result<(), CapError> {
        let op = "service-remove";
        self.owned_service(op, name)?;
        let detail = json!({ "name": name });
        let n = name.to_string();
        self.engine_op(
            op,
            "managed service",
            detail,
            Duration::from_secs(60),
            move |d| async move { d.delete_service(&n).await.map_err(engine_error) },
        )
    }
}

fn to_service(s: &bollard::models::Service, tasks: &[bollard::models::Task]) -> wit::Service {
    let image_of = |spec: &Option<ServiceSpec>| {
        spec.as_ref()
            .and_then(|s| s.task_template.as_ref())
            .and_then(|t| t.container_spec.as_ref())
            .and_then(|c| c.image.clone())
    };
    let status = s.update_status.as_ref();
    let mut tasks: Vec<wit::Task> = tasks
        .iter()
        .map(|t| wit::Task {
            id: t.id.clone().unwrap_or_default(),
            state: enum_str(&t.status.as_ref().and_then(|s| s.state)).unwrap_or_default(),
            desired_state: enum_str(&t.desired_state).unwrap_or_default(),
            image: t
                .spec
                .as_ref()
                .and_then(|s| s.container_spec.as_ref())
                .and_then(|c| c.image.clone())
                .unwrap_or_default(),
            message: t
                .status
                .as_ref()
                .and_then(|s| s.message.clone())
                .unwrap_or_default(),
            error: t.status.as_ref().and_then(|s| s.err.clone()),
        })
        .collect();
    tasks.sort_by(|a, b| a.id.cmp(&b.id));
    wit::Service {
        id: s.id.clone().unwrap_or_default(),
        name: s
            .spec
            .as_ref()
            .and_then(|s| s.name.clone())
            .unwrap_or_default(),
        image: image_of(&s.spec).unwrap_or_default(),
        version: s.version.as_ref().and_then(|v| v.index).unwrap_or(0),
        update_state: enum_str(&status.and_then(|u| u.state)).unwrap_or_default(),
        update_message: status.and_then(|u| u.message.clone()).unwrap_or_default(),
        previous_image: s
            .spec
            .as_ref()
            .and_then(|s| s.labels.as_ref())
            .and_then(|l| l.get(LABEL_PREVIOUS_IMAGE))
            .cloned(),
        tasks,
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn grant() -> ContainersGrant {
        ContainersGrant {
            network: vec!["none".into(), "bridge".into()],
            publish: vec![(8080, 8080)],
            manage: Some("app-".into()),
            ..ContainersGrant::default()
        }
    }

    #[test]
    fn host_access_is_always_refused() {
        let none = wit::HostAccess {
            privileged: false,
            cap_add: vec![],
            devices: vec![],
            security_opt: vec![],
            pid: None,
            ipc: None,
            uts: None,
            userns: None,
        };
        assert_eq!(host_access_refusal(&none), None);
        let bad = wit::HostAccess {
            privileged: true,
            cap_add: vec!["SYS_ADMIN".into()],
            pid: Some("host".into()),
            ..none
        };
        let why = host_access_refusal(&bad).unwrap();
        assert!(
            why.contains("privileged") && why.contains("SYS_ADMIN") && why.contains("PID"),
            "{why}"
        );
    }

    #[test]
    fn networks() {
        let g = grant();
        assert_eq!(check_network(&g, "").unwrap(), "none");
        assert_eq!(check_network(&g, "bridge").unwrap(), "bridge");
        assert!(check_network(&g, "host").unwrap_err().1.is_none());
        assert!(check_network(&g, "container:db").unwrap_err().1.is_none());
        let only_none = ContainersGrant::default();
        assert!(check_network(&only_none, "bridge").unwrap_err().1.is_some());
    }

    #[test]
    fn resources_ceilings() {
        let g = grant();
        let r = |cpus, memory_bytes, pids| wit::Resources {
            cpus,
            memory_bytes,
            pids,
        };
        assert!(check_resources(&g, &r(None, None, None)).is_ok());
        assert!(
            check_resources(&g, &r(Some(64.0), None, None))
                .unwrap_err()
                .1
                .is_some()
        );
        assert!(check_resources(&g, &r(None, Some(1 << 40), None)).is_err());
        assert!(check_resources(&g, &r(Some(f64::NAN), None, None)).is_err());
        // Below the engine's smallest share: never rounded to 0 (= unlimited).
        for tiny in [1e-10, 0.0, 0.009, -1.0] {
            let (why, grant) = check_resources(&g, &r(Some(tiny), None, None)).unwrap_err();
            assert!(
                why.contains("at least 0.01") && grant.is_none(),
                "{tiny}: {why}"
            );
        }
        assert_eq!(
            check_resources(&g, &r(Some(0.01), None, None)).unwrap().0,
            10_000_000
        );
        assert_eq!(
            check_resources(&g, &r(Some(0.0100000004), None, None))
                .unwrap()
                .0,
            10_000_000
        );
        assert!(check_resources(&g, &r(None, Some(1 << 20), None)).is_err());
        assert!(check_resources(&g, &r(None, None, Some(1 << 20))).is_err());
    }

    #[test]
    fn names() {
        let g = grant();
        assert!(check_name(&g, "app-web", "container").is_ok());
        assert!(check_name(&g, "db", "container").is_err());
        assert!(check_name(&g, "app-/x", "container").is_err());
        assert!(check_name(&ContainersGrant::default(), "app-web", "container").is_err());
    }

    #[test]
    fn counts_are_capped_with_errors_naming_the_limit() {
        assert!(check_counts(&[("env", limits::ENV, limits::ENV)], 0).is_ok());
        let over =
            |field, count, max| match check_counts(&[("command", 1, 2), (field, count, max)], 10) {
                Err(CapError::Invalid(m)) => m,
                other => panic!("{other:?}"),
            };
        let m = over("env", 257, limits::ENV);
        assert!(
            m.contains("`env` has 257 entries") && m.contains("limit of 256"),
            "{m}"
        );
        let m = over("replicas", 65, limits::REPLICAS);
        assert!(m.contains("`replicas` has 65") && m.contains("64"), "{m}");
        match check_counts(&[], limits::SPEC_BYTES + 1) {
            Err(CapError::Invalid(m)) => assert!(
                m.contains("bytes") && m.contains(&limits::SPEC_BYTES.to_string()),
                "{m}"
            ),
            other => panic!("{other:?}"),
        }
        let env = vec![("K".to_string(), "vv".to_string())];
        assert_eq!(text_bytes(&[&["ab".to_string()]], &[&env]), 5);
    }

    #[test]
    fn mounts_stay_in_the_workspace() {
        let ws = std::env::temp_dir().join(format!("gantry-mount-{}", std::process::id()));
        std::fs::create_dir_all(ws.join("src")).unwrap();
        std::os::unix::fs::symlink("/var/run", ws.join("sock")).unwrap();
        let ws = ws.canonicalize().unwrap();
        let m = |source: &str, target: &str, writable| wit::Mount {
            source: source.into(),
            target: target.into(),
            writable,
        };
        let read = vec![".".to_string()];
        let refused = |r: Result<PathBuf, MountError>| match r {
            Err(MountError::Refused(r)) => r,
            other => panic!("expected a refusal, got {other:?}"),
        };
        assert!(check_mount(&ws, &read, &[], &m("src", "/src", false)).is_ok());
        assert!(
            refused(check_mount(&ws, &read, &[], &m("src", "/src", true)))
                .1
                .is_some()
        );
        assert!(
            refused(check_mount(&ws, &read, &[], &m("sock", "/s", false)))
                .0
                .contains("outside")
        );
        refused(check_mount(&ws, &read, &[], &m("../", "/s", false)));
        refused(check_mount(
            &ws,
            &read,
            &[],
            &m("/var/run/docker.sock", "/s", false),
        ));
        refused(check_mount(&ws, &[], &[], &m("src", "/src", false)));
        // Mistakes, not refusals: the error says what is wrong and how to fix it.
        for target in ["/", "rel", "/a/../b", "/a:b"] {
            match check_mount(&ws, &read, &[], &m("src", target, false)) {
                Err(MountError::BadTarget(why)) => {
                    assert!(
                        why.contains("must be absolute") && why.contains("for example"),
                        "{why}"
                    )
                }
                other => panic!("{target}: {other:?}"),
            }
        }
        match check_mount(&ws, &read, &[], &m("missing/dir", "/m", false)) {
            Err(MountError::BadSource(CapError::NotFound(why))) => {
                assert!(
                    why.contains("does not exist") && why.contains("create the directory"),
                    "{why}"
                )
            }
            other => panic!("{other:?}"),
        }
        std::fs::write(ws.join("src/file.txt"), "x").unwrap();
        match check_mount(&ws, &read, &[], &m("src/file.txt", "/m", false)) {
            Err(MountError::BadSource(CapError::Invalid(why))) => {
                assert!(
                    why.contains("not a directory") && why.contains("`src`"),
                    "{why}"
                )
            }
            other => panic!("{other:?}"),
        }
        let _ = std::fs::remove_dir_all(&ws);
    }

    /// A context directory held open as the broker holds it.
    fn held(dir: &Path) -> std::os::fd::OwnedFd {
        crate::caps::fs::beneath::open_root(dir).unwrap()
    }

    fn archived_names(archive: &context::ContextArchive) -> Vec<String> {
        let mut names: Vec<String> = tar::Archive::new(std::fs::File::open(&archive.path).unwrap())
            .entries()
            .unwrap()
            .map(|e| e.unwrap().path().unwrap().display().to_string())
            .collect();
        names.sort();
        names
    }

    #[test]
    fn build_context_goes_to_a_temporary_file_under_a_cap() {
        let ws = std::env::temp_dir().join(format!("gantry-ctx-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&ws);
        std::fs::create_dir_all(ws.join("sub")).unwrap();
        std::fs::write(ws.join("Dockerfile"), "FROM scratch\n").unwrap();
        std::fs::write(ws.join("sub/a.txt"), "hello").unwrap();
        std::fs::write(ws.join("skip.log"), "no").unwrap();
        std::fs::write(ws.join("file1.log"), "no").unwrap();
        std::fs::write(ws.join("a.txt"), "no").unwrap();
        std::fs::write(ws.join(".dockerignore"), "*.log\nfile?.log\n[ab].txt\n").unwrap();
        let fd = held(&ws);
        let files = context::read_build_files(&fd, "Dockerfile").unwrap();
        let archive = context::archive(&fd, &files, MAX_CONTEXT).unwrap();
        let path = archive.path.clone();
        assert_eq!(archive.content, 25 + 13 + 5);
        let mode = std::os::unix::fs::PermissionsExt::mode(
            &std::fs::metadata(&path).unwrap().permissions(),
        );
        assert_eq!(mode & 0o777, 0o600, "the archive is private");
        assert_eq!(
            archived_names(&archive),
            [".dockerignore", "Dockerfile", "sub", "sub/a.txt"]
        );
        drop(archive);
        assert!(!path.exists(), "the archive is removed once used");

        // Over the real cap: a sparse file, so the test writes nothing; the error names
        // the cap and comes before anything is read.
        let big = std::fs::File::create(ws.join("sub/big.bin")).unwrap();
        big.set_len(MAX_CONTEXT + 1).unwrap();
        let ours = |n: &std::ffi::OsString| {
            n.to_string_lossy()
                .starts_with(&format!("gantry-context-{}-", std::process::id()))
        };
        let list = || -> Vec<std::ffi::OsString> {
            std::fs::read_dir(std::env::temp_dir())
                .unwrap()
                .filter_map(Result::ok)
                .map(|e| e.file_name())
                .filter(ours)
                .collect()
        };
        let before = list();
        let err = context::archive(&fd, &files, MAX_CONTEXT)
            .err()
            .expect("over the cap");
        assert!(
            err.contains("larger than gantry's cap of 1GiB")
                && err.contains("sub/big.bin")
                && err.contains(".dockerignore"),
            "{err}"
        );
        assert_eq!(before, list(), "no archive is left behind");
        let _ = std::fs::remove_dir_all(&ws);
    }

    /// What the daemon builds from is what was checked: links are archived as links,
    /// the Dockerfile's bytes are the ones read first, and a Dockerfile behind a link
    /// is refused.
    #[test]
    fn build_context_never_follows_links_and_keeps_the_checked_dockerfile() {
        let ws = std::env::temp_dir().join(format!("gantry-ctx-links-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&ws);
        std::fs::create_dir_all(ws.join("d")).unwrap();
        std::fs::write(ws.join("d/Dockerfile"), "FROM scratch\n").unwrap();
        std::os::unix::fs::symlink("/etc", ws.join("etc")).unwrap();
        std::os::unix::fs::symlink("/etc/hostname", ws.join("host")).unwrap();
        let fd = held(&ws);
        let files = context::read_build_files(&fd, "d/Dockerfile").unwrap();
        // The workspace copy changes after the check: the archive still carries the
        // bytes that were checked.
        std::fs::write(ws.join("d/Dockerfile"), "FROM evil\n").unwrap();
        let archive = context::archive(&fd, &files, MAX_CONTEXT).unwrap();
        let mut a = tar::Archive::new(std::fs::File::open(&archive.path).unwrap());
        let mut seen = Vec::new();
        for e in a.entries().unwrap() {
            let mut e = e.unwrap();
            let name = e.path().unwrap().display().to_string();
            let kind = e.header().entry_type();
            if name == "d/Dockerfile" {
                let mut text = String::new();
                std::io::Read::read_to_string(&mut e, &mut text).unwrap();
                assert_eq!(text, "FROM scratch\n");
            }
            seen.push((name, kind));
        }
        seen.sort_by(|a, b| a.0.cmp(&b.0));
        assert_eq!(
            seen,
            [
                ("d".to_string(), tar::EntryType::Directory),
                ("d/Dockerfile".to_string(), tar::EntryType::Regular),
                ("etc".to_string(), tar::EntryType::Symlink),
                ("host".to_string(), tar::EntryType::Symlink),
            ]
        );
        drop(archive);
        std::os::unix::fs::symlink("d", ws.join("l")).unwrap();
        let e = context::read_build_files(&fd, "l/Dockerfile")
            .err()
            .unwrap();
        assert!(e.contains("symbolic link"), "{e}");
        std::os::unix::fs::symlink("/etc/passwd", ws.join("d/Dockerfile2")).unwrap();
        let e = context::read_build_files(&fd, "d/Dockerfile2")
            .err()
            .unwrap();
        assert!(e.contains("symbolic link"), "{e}");
        let e = context::read_build_files(&fd, "missing").err().unwrap();
        assert!(e.contains("does not exist"), "{e}");
        let _ = std::fs::remove_dir_all(&ws);
    }

    #[test]
    fn images_are_found_by_name_not_by_id_prefix() {
        let img = ImageInspect {
            id: Some(format!("sha256:cafe{}", "0".repeat(60))),
            repo_tags: Some(vec![
                "busybox:latest".into(),
                "127.0.0.1:5000/app:v1".into(),
            ]),
            repo_digests: Some(vec![format!(
                "127.0.0.1:5000/app@sha256:{}",
                "a".repeat(64)
            )]),
            ..Default::default()
        };
        let r = |s: &str| ImageRef::parse(s).unwrap();
        assert!(image_has_name(&img, &r("docker.io/library/busybox")));
        assert!(image_has_name(&img, &r("127.0.0.1:5000/app:v1")));
        assert!(image_has_name(
            &img,
            &r(&format!("127.0.0.1:5000/app@sha256:{}", "a".repeat(64)))
        ));
        assert!(!image_has_name(&img, &r("cafe")));
        assert!(!image_has_name(&img, &r("127.0.0.1:5000/app:v2")));
    }

    /// Listing builds the records from the list API alone; they equal what an inspect
    /// per container gave (real Engine 20.10 answers, captured into fixtures).
    #[test]
    fn list_entries_equal_inspects() {
        let list: Vec<bollard::models::ContainerSummary> = serde_json::from_str(include_str!(
            "../../../tests/fixtures/docker-api-1.41/containers-list.json"
        ))
        .unwrap();
        let inspects: Vec<ContainerInspectResponse> = serde_json::from_str(include_str!(
            "../../../tests/fixtures/docker-api-1.41/containers-inspect.json"
        ))
        .unwrap();
        assert_eq!(list.len(), 3);
        for summary in &list {
            let from_list = summary_to_container(summary);
            let inspect = inspects
                .iter()
                .find(|i| i.id == summary.id)
                .expect("an inspect of the same container");
            let mut from_inspect = to_container(inspect);
            if from_inspect.state == "created" {
                // An inspect of a never-started container says exit code 0; the list
                // (rightly) has none.
                assert_eq!(from_inspect.exit_code, Some(0));
                from_inspect.exit_code = None;
            }
            assert_eq!(
                format!("{from_list:?}"),
                format!("{from_inspect:?}"),
                "{}",
                from_list.name
            );
        }
        let by = |n: &str| {
            list.iter()
                .map(summary_to_container)
                .find(|c| c.name == n)
                .unwrap()
        };
        assert_eq!(by("lt-exited").exit_code, Some(3));
        assert_eq!(by("lt-healthy").health.as_deref(), Some("unhealthy"));
        assert_eq!(by("lt-healthy").ports.len(), 1);
        assert_eq!(
            by("lt-created").labels,
            [("dev.gantry.x".to_string(), "1".to_string())]
        );
    }
}
