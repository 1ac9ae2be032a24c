//! The Docker Engine, through the host (`grants.containers`).
//!
//! The plugin fills typed specs; the host checks each field against the stage's grant
//! and writes the Docker API request itself. Privileged containers, host namespaces,
//! devices, added capabilities and mounts outside the workspace are refused whatever
//! the grant says, as is touching any container, image or service this pipeline did
//! not create. Refusals are [`Error::Denied`] naming the grant that would allow them.
//!
//! ```no_run
//! use gantry_sdk::containers::{self, Mount, RunSpec};
//!
//! # fn demo() -> Result<(), gantry_sdk::Error> {
//! // pipeline.toml:
//! //   grants.fs.read = ["."]
//! //   grants.containers = { run = ["gantry-test/busybox:*"] }
//! let out = containers::run(
//!     RunSpec::new("gantry-test/busybox:1")
//!         .command(["sh", "-c", "ls /src"])
//!         .mount(Mount::read_only(".", "/src")),
//! )?;
//! if out.exit_code != Some(0) {
//!     return Err(gantry_sdk::Error::failed("ls failed"));
//! }
//! # Ok(()) }
//! ```
//!
//! Under `gantry run --dry-run` nothing that changes the engine happens: runs, pushes
//! and deploys answer with plausible values (`RunOutput::dry_run` set) and are listed
//! in the plan.

use crate::Error;
use crate::bindings::gantry::plugin::containers as wit;
use crate::secrets::Secret;

pub use wit::{
    BuildSpec, Container, ContainerSpec, ContainerStats, HealthCheck, HostAccess, Image, Mount,
    Port, Pushed, Resources, RunOutput, RunSpec, Service, ServiceSpec, Task, UpdatePolicy,
};

impl Resources {
    /// The grant's ceilings.
    pub fn ceilings() -> Resources {
        Resources {
            cpus: None,
            memory_bytes: None,
            pids: None,
        }
    }
}

impl Mount {
    pub fn read_only(source: impl Into<String>, target: impl Into<String>) -> Mount {
        Mount {
            source: source.into(),
            target: target.into(),
            writable: false,
        }
    }
    pub fn writable(source: impl Into<String>, target: impl Into<String>) -> Mount {
        Mount {
            source: source.into(),
            target: target.into(),
            writable: true,
        }
    }
}

impl RunSpec {
    /// A one-off container of `image`, network `none`, the grant's ceilings.
    pub fn new(image: impl Into<String>) -> RunSpec {
        RunSpec {
            image: image.into(),
            command: Vec::new(),
            entrypoint: None,
            env: Vec::new(),
            workdir: None,
            mounts: Vec::new(),
            network: String::new(),
            resources: Resources::ceilings(),
            user: None,
            timeout_ms: None,
            host_access: None,
        }
    }
    pub fn command<I: IntoIterator<Item = S>, S: Into<String>>(mut self, args: I) -> RunSpec {
        self.command = args.into_iter().map(Into::into).collect();
        self
    }
    pub fn entrypoint<I: IntoIterator<Item = S>, S: Into<String>>(mut self, args: I) -> RunSpec {
        self.entrypoint = Some(args.into_iter().map(Into::into).collect());
        self
    }
    pub fn env(mut self, name: impl Into<String>, value: impl Into<String>) -> RunSpec {
        self.env.push((name.into(), value.into()));
        self
    }
    pub fn workdir(mut self, dir: impl Into<String>) -> RunSpec {
        self.workdir = Some(dir.into());
        self
    }
    pub fn mount(mut self, m: Mount) -> RunSpec {
        self.mounts.push(m);
        self
    }
    /// `none` (default) or `bridge`.
    pub fn network(mut self, mode: impl Into<String>) -> RunSpec {
        self.network = mode.into();
        self
    }
    pub fn timeout(mut self, t: std::time::Duration) -> RunSpec {
        self.timeout_ms = Some(u64::try_from(t.as_millis()).unwrap_or(u64::MAX).max(1));
        self
    }
}

impl RunOutput {
    pub fn stdout_text(&self) -> String {
        String::from_utf8_lossy(&self.stdout).into_owned()
    }
    pub fn stderr_text(&self) -> String {
        String::from_utf8_lossy(&self.stderr).into_owned()
    }
}

impl BuildSpec {
    /// Build the workspace directory `context` with its `Dockerfile`.
    pub fn new(context: impl Into<String>) -> BuildSpec {
        BuildSpec {
            context: context.into(),
            dockerfile: None,
            tags: Vec::new(),
            build_args: Vec::new(),
            target: None,
            labels: Vec::new(),
        }
    }
    pub fn dockerfile(mut self, path: impl Into<String>) -> BuildSpec {
        self.dockerfile = Some(path.into());
        self
    }
    pub fn tag(mut self, reference: impl Into<String>) -> BuildSpec {
        self.tags.push(reference.into());
        self
    }
    pub fn build_arg(mut self, name: impl Into<String>, value: impl Into<String>) -> BuildSpec {
        self.build_args.push((name.into(), value.into()));
        self
    }
    pub fn label(mut self, key: impl Into<String>, value: impl Into<String>) -> BuildSpec {
        self.labels.push((key.into(), value.into()));
        self
    }
}

impl ContainerSpec {
    /// A long-running container `name` (under the grant's `manage` prefix).
    pub fn new(name: impl Into<String>, image: impl Into<String>) -> ContainerSpec {
        ContainerSpec {
            name: name.into(),
            image: image.into(),
            command: Vec::new(),
            entrypoint: None,
            env: Vec::new(),
            ports: Vec::new(),
            network: String::new(),
            resources: Resources::ceilings(),
            health_check: None,
            labels: Vec::new(),
            host_access: None,
        }
    }
    pub fn command<I: IntoIterator<Item = S>, S: Into<String>>(mut self, args: I) -> ContainerSpec {
        self.command = args.into_iter().map(Into::into).collect();
        self
    }
    pub fn env(mut self, name: impl Into<String>, value: impl Into<String>) -> ContainerSpec {
        self.env.push((name.into(), value.into()));
        self
    }
    /// Publishes `container_port` on 127.0.0.1:`host_port` (network `bridge`).
    pub fn publish(mut self, container_port: u16, host_port: u16) -> ContainerSpec {
        self.ports.push(Port {
            container_port,
            host_port,
        });
        if self.network.is_empty() {
            self.network = "bridge".into();
        }
        self
    }
    pub fn label(mut self, key: impl Into<String>, value: impl Into<String>) -> ContainerSpec {
        self.labels.push((key.into(), value.into()));
        self
    }
}

impl UpdatePolicy {
    /// One task at a time, start the new before stopping the old, roll back on failure.
    pub fn rolling() -> UpdatePolicy {
        UpdatePolicy {
            parallelism: 1,
            delay_ms: 0,
            monitor_ms: 5_000,
            failure_action: "rollback".into(),
            order: "start-first".into(),
        }
    }
}

/// Runs a one-off container to its end (or timeout) and removes it.
pub fn run(spec: RunSpec) -> Result<RunOutput, Error> {
    wit::run(&spec).map_err(Error::from)
}

pub fn build(spec: BuildSpec) -> Result<Image, Error> {
    wit::build(&spec).map_err(Error::from)
}

pub fn tag(source: &str, target: &str) -> Result<(), Error> {
    wit::tag(source, target).map_err(Error::from)
}

/// Pushes `reference`; `credentials` is a username and a secret handle for the password.
pub fn push(reference: &str, credentials: Option<(&str, &Secret)>) -> Result<Pushed, Error> {
    match credentials {
        Some((user, secret)) => wit::push(reference, Some(user), Some(secret.handle())),
        None => wit::push(reference, None, None),
    }
    .map_err(Error::from)
}

pub fn inspect_image(reference: &str) -> Result<Image, Error> {
    wit::inspect_image(reference).map_err(Error::from)
}

pub fn create(spec: ContainerSpec) -> Result<Container, Error> {
    wit::create(&spec).map_err(Error::from)
}

pub fn start(name: &str) -> Result<(), Error> {
    wit::start(name).map_err(Error::from)
}

pub fn stop(name: &str, timeout_s: Option<u32>) -> Result<(), Error> {
    wit::stop(name, timeout_s).map_err(Error::from)
}

pub fn remove(name: &str) -> Result<(), Error> {
    wit::remove(name).map_err(Error::from)
}

pub fn rename(name: &str, new_name: &str) -> Result<(), Error> {
    wit::rename(name, new_name).map_err(Error::from)
}

/// The managed container `name`; `Ok(None)` when it does not exist.
pub fn inspect(name: &str) -> Result<Option<Container>, Error> {
    match wit::inspect(name) {
        Ok(c) => Ok(Some(c)),
        Err(crate::bindings::gantry::plugin::types::CapError::NotFound(_)) => Ok(None),
        Err(e) => Err(e.into()),
    }
}

pub fn list() -> Result<Vec<Container>, Error> {
    wit::list_containers().map_err(Error::from)
}

/// One sample of a managed container's resource use (contract 0.1.1).
pub fn stats(name: &str) -> Result<ContainerStats, Error> {
    wit::stats(name).map_err(Error::from)
}

pub fn logs(name: &str, tail: u32) -> Result<String, Error> {
    wit::logs(name, tail).map_err(Error::from)
}

pub fn service_deploy(spec: ServiceSpec) -> Result<Service, Error> {
    wit::service_deploy(&spec).map_err(Error::from)
}

pub fn service_rollback(name: &str) -> Result<Service, Error> {
    wit::service_rollback(name).map_err(Error::from)
}

/// The service `name`; `Ok(None)` when it does not exist.
pub fn service_inspect(name: &str) -> Result<Option<Service>, Error> {
    match wit::service_inspect(name) {
        Ok(s) => Ok(Some(s)),
        Err(crate::bindings::gantry::plugin::types::CapError::NotFound(_)) => Ok(None),
        Err(e) => Err(e.into()),
    }
}

pub fn service_remove(name: &str) -> Result<(), Error> {
    wit::service_remove(name).map_err(Error::from)
}
