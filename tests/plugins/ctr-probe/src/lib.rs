//! Test plugin `ctr-probe`: performs the one `gantry:plugin/containers` operation its
//! config names, with whatever arguments the test wants to try, and reports what
//! happened as outputs, so end-to-end tests (`tests/e2e/attack_containers.rs`,
//! `tests/e2e/audit_lock.rs`) can try everything a hostile plugin would.
//!
//! Outputs: `result` is `ok`, `denied:<host message>`, `not-found:<message>` or
//! `err:<message>`; plus per operation: `exit-code`, `stdout`, `stderr`, `timed-out`,
//! `dry-run` (run); `id`, `tags`, `labels` (build), `id`, `repo-digests`, `labels`
//! (inspect-image); `digest` (push); `id`, `state` (create); `state`, `labels`,
//! `health`, `ports` (inspect); `names`, `labels` (list); `logs`;
//! `image`, `update-state`, `previous-image`, `tasks` (services). The stage itself
//! always succeeds, so a refusal is data for the test to check.

use std::collections::BTreeMap;
use std::time::Duration;

use gantry_sdk::containers::{
    self as c, BuildSpec, ContainerSpec, HostAccess, Mount, Port, Resources, RunSpec, ServiceSpec,
    UpdatePolicy,
};
use gantry_sdk::prelude::*;

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct MountCfg {
    source: String,
    target: String,
    #[serde(default)]
    writable: bool,
}

#[derive(Deserialize, JsonSchema, Default)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct Config {
    op: String,
    #[serde(default)]
    image: String,
    #[serde(default)]
    command: Vec<String>,
    #[serde(default)]
    env: BTreeMap<String, String>,
    #[serde(default)]
    network: String,
    #[serde(default)]
    mounts: Vec<MountCfg>,
    /// `[container, host]` pairs.
    #[serde(default)]
    ports: Vec<(u16, u16)>,
    #[serde(default)]
    workdir: Option<String>,
    #[serde(default)]
    user: Option<String>,
    #[serde(default)]
    timeout_ms: Option<u64>,
    #[serde(default)]
    cpus: Option<f64>,
    #[serde(default)]
    memory: Option<u64>,
    #[serde(default)]
    pids: Option<u32>,
    // host-access
    #[serde(default)]
    privileged: bool,
    #[serde(default)]
    cap_add: Vec<String>,
    #[serde(default)]
    devices: Vec<String>,
    #[serde(default)]
    security_opt: Vec<String>,
    #[serde(default)]
    pid: Option<String>,
    #[serde(default)]
    ipc: Option<String>,
    #[serde(default)]
    uts: Option<String>,
    #[serde(default)]
    userns: Option<String>,
    // build / tag / push
    #[serde(default)]
    context: String,
    #[serde(default)]
    dockerfile: Option<String>,
    #[serde(default)]
    tags: Vec<String>,
    #[serde(default)]
    target: String,
    /// `build`: `--build-arg`s, labels and the multi-stage target.
    #[serde(default)]
    build_args: BTreeMap<String, String>,
    #[serde(default)]
    labels: BTreeMap<String, String>,
    #[serde(default)]
    build_target: Option<String>,
    #[serde(default)]
    username: Option<String>,
    #[serde(default)]
    password_secret: Option<String>,
    // managed containers / services
    #[serde(default)]
    name: String,
    #[serde(default)]
    new_name: String,
    #[serde(default)]
    replicas: Option<u32>,
    #[serde(default)]
    order: Option<String>,
    /// Health check command (exec form) for create / service-deploy.
    #[serde(default)]
    health: Vec<String>,
}

struct CtrProbe;

/// `k=v` pairs joined with `,`: how label lists are reported.
fn pairs(labels: &[(String, String)]) -> String {
    labels
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join(",")
}

fn clip(s: &str, max: usize) -> String {
    s.chars().take(max).collect()
}

fn resources(cfg: &Config) -> Resources {
    Resources {
        cpus: cfg.cpus,
        memory_bytes: cfg.memory,
        pids: cfg.pids,
    }
}

fn host_access(cfg: &Config) -> Option<HostAccess> {
    Some(HostAccess {
        privileged: cfg.privileged,
        cap_add: cfg.cap_add.clone(),
        devices: cfg.devices.clone(),
        security_opt: cfg.security_opt.clone(),
        pid: cfg.pid.clone(),
        ipc: cfg.ipc.clone(),
        uts: cfg.uts.clone(),
        userns: cfg.userns.clone(),
    })
}

fn health(cfg: &Config) -> Option<c::HealthCheck> {
    (!cfg.health.is_empty()).then(|| c::HealthCheck {
        test: cfg.health.clone(),
        interval_ms: 500,
        timeout_ms: 1000,
        retries: 3,
        start_period_ms: 0,
    })
}

fn perform(cfg: &Config, mut report: Report) -> Result<Report, Error> {
    match cfg.op.as_str() {
        "run" => {
            let mut spec = RunSpec::new(&cfg.image)
                .command(cfg.command.iter().cloned())
                .network(&cfg.network);
            for (k, v) in &cfg.env {
                spec = spec.env(k, v);
            }
            for m in &cfg.mounts {
                spec = spec.mount(Mount {
                    source: m.source.clone(),
                    target: m.target.clone(),
                    writable: m.writable,
                });
            }
            if let Some(w) = &cfg.workdir {
                spec = spec.workdir(w);
            }
            if let Some(t) = cfg.timeout_ms {
                spec = spec.timeout(Duration::from_millis(t));
            }
            spec.user = cfg.user.clone();
            spec.resources = resources(cfg);
            spec.host_access = host_access(cfg);
            let out = c::run(spec)?;
            report = report
                .output(
                    "exit-code",
                    out.exit_code.map_or("none".into(), |c| c.to_string()),
                )
                .output("stdout", clip(&out.stdout_text(), 8192))
                .output("stderr", clip(&out.stderr_text(), 4096))
                .output("timed-out", out.timed_out.to_string())
                .output("dry-run", out.dry_run.to_string());
        }
        "build" => {
            let mut spec = BuildSpec::new(&cfg.context);
            spec.dockerfile = cfg.dockerfile.clone();
            for t in &cfg.tags {
                spec = spec.tag(t);
            }
            for (k, v) in &cfg.build_args {
                spec = spec.build_arg(k, v);
            }
            for (k, v) in &cfg.labels {
                spec = spec.label(k, v);
            }
            spec.target = cfg.build_target.clone();
            let img = c::build(spec)?;
            report = report
                .output("id", img.id)
                .output("tags", img.tags.join(","))
                .output("labels", pairs(&img.labels));
        }
        "tag" => c::tag(&cfg.image, &cfg.target)?,
        "push" => {
            let secret = match &cfg.password_secret {
                Some(s) => Some(gantry_sdk::secrets::get(s)?),
                None => None,
            };
            let creds = match (&cfg.username, &secret) {
                (Some(u), Some(s)) => Some((u.as_str(), s)),
                _ => None,
            };
            let p = c::push(&cfg.image, creds)?;
            report = report.output("digest", p.digest);
        }
        "inspect-image" => {
            let img = c::inspect_image(&cfg.image)?;
            report = report
                .output("id", img.id)
                .output("repo-digests", img.repo_digests.join(","))
                .output("labels", pairs(&img.labels));
        }
        "create" => {
            let mut spec =
                ContainerSpec::new(&cfg.name, &cfg.image).command(cfg.command.iter().cloned());
            for (ctr, host) in &cfg.ports {
                spec = spec.publish(*ctr, *host);
            }
            if !cfg.network.is_empty() {
                spec.network = cfg.network.clone();
            }
            spec.resources = resources(cfg);
            spec.host_access = host_access(cfg);
            spec.health_check = health(cfg);
            let ctr = c::create(spec)?;
            report = report.output("id", ctr.id).output("state", ctr.state);
        }
        "start" => c::start(&cfg.name)?,
        "stop" => c::stop(&cfg.name, Some(1))?,
        "remove" => c::remove(&cfg.name)?,
        "rename" => c::rename(&cfg.name, &cfg.new_name)?,
        "inspect" => match c::inspect(&cfg.name)? {
            Some(ctr) => {
                report = report
                    .output("state", ctr.state)
                    .output("labels", pairs(&ctr.labels))
                    .output("health", ctr.health.unwrap_or_default())
                    .output(
                        "ports",
                        ctr.ports
                            .iter()
                            .map(|p: &Port| format!("{}:{}", p.host_port, p.container_port))
                            .collect::<Vec<_>>()
                            .join(","),
                    );
            }
            None => return Ok(report.output("result", "not-found:")),
        },
        "list" => {
            let all = c::list()?;
            let names: Vec<String> = all.iter().map(|c| c.name.clone()).collect();
            let labels: Vec<String> = all.iter().map(|c| pairs(&c.labels)).collect();
            report = report
                .output("names", names.join(","))
                .output("labels", labels.join(";"));
        }
        "logs" => {
            let l = c::logs(&cfg.name, 100)?;
            report = report.output("logs", clip(&l, 8192));
        }
        "stats" => {
            let s = c::stats(&cfg.name)?;
            report = report
                .output("memory-bytes", s.memory_bytes.to_string())
                .output("memory-limit", s.memory_limit.to_string())
                .output("pids", s.pids.to_string())
                .output("cpu-percent", format!("{:.1}", s.cpu_percent));
        }
        "service-deploy" => {
            let mut update = UpdatePolicy::rolling();
            if let Some(o) = &cfg.order {
                update.order = o.clone();
            }
            update.monitor_ms = 3000;
            let spec = ServiceSpec {
                name: cfg.name.clone(),
                image: cfg.image.clone(),
                command: cfg.command.clone(),
                env: cfg
                    .env
                    .iter()
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect(),
                replicas: cfg.replicas.unwrap_or(1),
                ports: cfg
                    .ports
                    .iter()
                    .map(|(ctr, host)| Port {
                        container_port: *ctr,
                        host_port: *host,
                    })
                    .collect(),
                resources: resources(cfg),
                health_check: health(cfg),
                update,
                labels: Vec::new(),
            };
            let s = c::service_deploy(spec)?;
            report = report
                .output("image", s.image)
                .output("version", s.version.to_string());
        }
        "service-rollback" => {
            let s = c::service_rollback(&cfg.name)?;
            report = report.output("image", s.image);
        }
        "service-inspect" => match c::service_inspect(&cfg.name)? {
            Some(s) => {
                report = report
                    .output("image", s.image)
                    .output("update-state", s.update_state)
                    .output("previous-image", s.previous_image.unwrap_or_default())
                    .output("tasks", s.tasks.len().to_string());
            }
            None => return Ok(report.output("result", "not-found:")),
        },
        "service-remove" => c::service_remove(&cfg.name)?,
        other => return Err(Error::config(format!("unknown op `{other}`"))),
    }
    Ok(report.output("result", "ok"))
}

impl Plugin for CtrProbe {
    type Config = Config;

    fn info() -> Info {
        Info::new("ctr-probe", env!("CARGO_PKG_VERSION"))
            .kind(Kind::Other)
            .description("test plugin for the containers capability")
    }

    fn run(_cx: &Context, config: Config) -> Result<Report, Error> {
        let report = Report::new().summary("ctr-probe done");
        match perform(&config, report.clone()) {
            Ok(r) => Ok(r),
            Err(Error::Denied(m)) => Ok(report.output("result", format!("denied:{m}"))),
            Err(Error::InvalidConfig(m)) => Err(Error::InvalidConfig(m)),
            Err(e) => Ok(report.output("result", format!("err:{e}"))),
        }
    }
}

gantry_sdk::export_plugin!(CtrProbe);
