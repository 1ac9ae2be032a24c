//! `swarm-deploy`: create or update a Docker Swarm service with a rolling update
//! policy, wait for the rollout, and report what happened. When the update fails
//! (tasks do not stay up for `monitor`, or their health check fails), Swarm rolls the
//! service back to its previous spec by itself (`failure-action = "rollback"`); the
//! stage then fails with a `swarm-rolled-back` finding and reports the image that is
//! serving again. `rollback = true` asks Swarm to return to the previous spec.
//!
//! Ports are published in host mode (the routing mesh needs IPVS, missing on many CI
//! kernels), so with published ports a single-node update must be `stop-first`: the
//! new task cannot bind the port while the old one holds it. That is the default.
//!
//! ```toml
//! [stage.swarm]
//! plugin = "builtin:swarm-deploy"
//! with = { name = "app-web", image = "127.0.0.1:5000/app:2", replicas = 2,
//!          update = { parallelism = 1, monitor = "5s" } }
//! grants.containers = { run = ["127.0.0.1:5000/app:*"], manage = "app-", services = true,
//!                       network = ["bridge"] }
//! ```
//!
//! A service that publishes ports needs them in `publish` and `expose = "all-interfaces"`
//! as well: Swarm binds a published port on every interface of every node, never on
//! 127.0.0.1 alone, and the grant must say so (audit flags it).
//!
//! Tests: `tests/e2e/deploy.rs` (`swarm_update_and_automatic_rollback`).

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use gantry_sdk::containers::{
    self, HealthCheck, Port, Resources, Service, ServiceSpec, UpdatePolicy,
};
use gantry_sdk::prelude::*;

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct Update {
    #[serde(default = "one")]
    pub parallelism: u32,
    #[serde(default = "zero")]
    pub delay: String,
    /// How long each new task must stay up before the update goes on.
    #[serde(default = "five")]
    pub monitor: String,
    /// `rollback` (default), `pause` or `continue`.
    #[serde(default = "rollback_action")]
    pub failure_action: String,
    /// `stop-first` (default) or `start-first`.
    #[serde(default = "stop_first")]
    pub order: String,
}

impl Default for Update {
    fn default() -> Update {
        Update {
            parallelism: 1,
            delay: zero(),
            monitor: five(),
            failure_action: rollback_action(),
            order: stop_first(),
        }
    }
}

fn one() -> u32 {
    1
}
fn zero() -> String {
    "0s".into()
}
fn five() -> String {
    "5s".into()
}
fn rollback_action() -> String {
    "rollback".into()
}
fn stop_first() -> String {
    "stop-first".into()
}
fn two_minutes() -> String {
    "2m".into()
}

/// Configuration (`with`).
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct Config {
    /// Service name (under the grant's `manage` prefix).
    pub name: String,
    /// Image to deploy; required unless `rollback = true`.
    #[serde(default)]
    pub image: Option<String>,
    #[serde(default = "one")]
    pub replicas: u32,
    #[serde(default)]
    pub command: Vec<String>,
    #[serde(default)]
    pub env: BTreeMap<String, String>,
    /// `[container-port, host-port]` pairs, published in host mode.
    #[serde(default)]
    pub ports: Vec<(u16, u16)>,
    /// Health check command run in each task (exec form).
    #[serde(default)]
    pub health_cmd: Vec<String>,
    #[serde(default)]
    pub update: Update,
    /// How long to wait for the rollout to settle.
    #[serde(default = "two_minutes")]
    pub wait: String,
    /// Return the service to its previous spec.
    #[serde(default)]
    pub rollback: bool,
}

fn dur(key: &str, v: &str) -> Result<Duration, Error> {
    gantry_sdk::units::duration(v).map_err(|e| Error::config(format!("`{key}`: {e}")))
}

fn ms(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

/// Settled: the update finished either way, or (new service) all replicas run.
fn settled(s: &Service, replicas: u32, creating: bool) -> bool {
    match s.update_state.as_str() {
        "completed" | "rollback_completed" | "paused" | "rollback_paused" => true,
        "" if creating => {
            s.tasks
                .iter()
                .filter(|t| t.state == "running" && t.desired_state == "running")
                .count() as u32
                >= replicas
        }
        _ => false,
    }
}

struct SwarmDeploy;

impl Plugin for SwarmDeploy {
    type Config = Config;

    fn info() -> Info {
        Info::new(env!("CARGO_PKG_NAME"), env!("CARGO_PKG_VERSION"))
            .kind(Kind::Deployer)
            .description("Rolling updates of Docker Swarm services with automatic rollback")
            .rule(Rule::new("swarm-rolled-back", Level::Error, "The update failed and Swarm rolled the service back")
                .full("New tasks did not stay up (or failed their health check) during the monitor period; Swarm returned the service to its previous spec. The previous image is serving."))
            .rule(Rule::new("swarm-paused", Level::Error, "The update failed and was paused")
                .full("With `failure-action = \"pause\"`, a failed update stops half-way; inspect the service and either roll back or fix forward."))
            .rule(Rule::new("swarm-timeout", Level::Error, "The rollout did not settle in time")
                .full("The service was still updating when `wait` ran out."))
    }

    fn run(cx: &Context, c: Config) -> Result<Report, Error> {
        let wait = dur("wait", &c.wait)?;
        let before = containers::service_inspect(&c.name)?;
        let creating = before.is_none();
        let fp = |rule: &str| format!("{rule}:{}", c.name);
        if c.rollback {
            if cx.dry_run {
                return Ok(Report::new().summary(format!("dry run: would roll `{}` back", c.name)));
            }
            let s = containers::service_rollback(&c.name)?;
            return Ok(Report::new()
                .output("image", s.image.clone())
                .summary(format!("rolled `{}` back (now `{}`)", c.name, s.image)));
        }
        let image = c
            .image
            .clone()
            .ok_or_else(|| Error::config("`image` is required unless `rollback = true`"))?;
        let spec = ServiceSpec {
            name: c.name.clone(),
            image: image.clone(),
            command: c.command.clone(),
            env: c.env.iter().map(|(k, v)| (k.clone(), v.clone())).collect(),
            replicas: c.replicas,
            ports: c
                .ports
                .iter()
                .map(|(ctr, host)| Port {
                    container_port: *ctr,
                    host_port: *host,
                })
                .collect(),
            resources: Resources::ceilings(),
            health_check: (!c.health_cmd.is_empty()).then(|| HealthCheck {
                test: c.health_cmd.clone(),
                interval_ms: 1000,
                timeout_ms: 2000,
                retries: 2,
                start_period_ms: 0,
            }),
            update: UpdatePolicy {
                parallelism: c.update.parallelism,
                delay_ms: ms(dur("update.delay", &c.update.delay)?),
                monitor_ms: ms(dur("update.monitor", &c.update.monitor)?),
                failure_action: c.update.failure_action.clone(),
                order: c.update.order.clone(),
            },
            labels: Vec::new(),
        };
        let deployed = containers::service_deploy(spec)?;
        let previous = before.as_ref().map(|s| s.image.clone()).unwrap_or_default();
        let base = Report::new().output("previous-image", previous.clone());
        if cx.dry_run {
            return Ok(base.output("image", image.clone()).summary(format!(
                "dry run: would {} `{}` with `{image}`",
                if creating { "create" } else { "update" },
                c.name
            )));
        }
        let start = Instant::now();
        let mut last = deployed;
        // The update status appears a moment after the update call.
        std::thread::sleep(Duration::from_millis(500));
        while start.elapsed() < wait {
            if let Some(s) = containers::service_inspect(&c.name)? {
                last = s;
                if settled(&last, c.replicas, creating) {
                    break;
                }
            }
            std::thread::sleep(Duration::from_millis(500));
        }
        let report = base
            .output("image", last.image.clone())
            .output("update-state", last.update_state.clone())
            .output("elapsed-ms", start.elapsed().as_millis().to_string());
        let failed_tasks: Vec<String> = last
            .tasks
            .iter()
            .filter(|t| t.state == "failed" || t.error.is_some())
            .take(3)
            .map(|t| t.error.clone().unwrap_or_else(|| t.message.clone()))
            .collect();
        match last.update_state.as_str() {
            "rollback_completed" | "rollback_started" | "rollback_paused" => {
                let msg = format!(
                    "updating `{}` to `{image}` failed ({}); Swarm rolled it back to `{}`",
                    c.name,
                    if failed_tasks.is_empty() {
                        last.update_message.clone()
                    } else {
                        failed_tasks.join("; ")
                    },
                    last.image
                );
                Ok(report
                    .summary(msg.clone())
                    .finding(
                        Finding::new("swarm-rolled-back", Level::Error, msg)
                            .fingerprint(fp("swarm-rolled-back")),
                    )
                    .outcome(Outcome::Failure))
            }
            "paused" => {
                let msg = format!(
                    "updating `{}` to `{image}` failed and is paused: {}",
                    c.name, last.update_message
                );
                Ok(report
                    .summary(msg.clone())
                    .finding(
                        Finding::new("swarm-paused", Level::Error, msg)
                            .fingerprint(fp("swarm-paused")),
                    )
                    .outcome(Outcome::Failure))
            }
            _ if !settled(&last, c.replicas, creating) => {
                let msg = format!(
                    "`{}` did not settle within {}: {}",
                    c.name, c.wait, last.update_message
                );
                Ok(report
                    .summary(msg.clone())
                    .finding(
                        Finding::new("swarm-timeout", Level::Error, msg)
                            .fingerprint(fp("swarm-timeout")),
                    )
                    .outcome(Outcome::Failure))
            }
            _ => Ok(report.summary(format!(
                "{} `{}` with `{image}` ({} replica{})",
                if creating { "created" } else { "updated" },
                c.name,
                c.replicas,
                if c.replicas == 1 { "" } else { "s" }
            ))),
        }
    }
}

gantry_sdk::export_plugin!(SwarmDeploy);

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use gantry_sdk::containers::Task;

    fn svc(state: &str, tasks: &[(&str, &str)]) -> Service {
        Service {
            id: "x".into(),
            name: "app".into(),
            image: "i".into(),
            version: 1,
            update_state: state.into(),
            update_message: String::new(),
            previous_image: None,
            tasks: tasks
                .iter()
                .map(|(s, d)| Task {
                    id: "t".into(),
                    state: (*s).into(),
                    desired_state: (*d).into(),
                    image: "i".into(),
                    message: String::new(),
                    error: None,
                })
                .collect(),
        }
    }

    #[test]
    fn settling() {
        assert!(settled(&svc("completed", &[]), 1, false));
        assert!(settled(&svc("rollback_completed", &[]), 1, false));
        assert!(!settled(&svc("updating", &[]), 1, false));
        assert!(!settled(&svc("", &[("starting", "running")]), 1, true));
        assert!(settled(
            &svc("", &[("running", "running"), ("shutdown", "shutdown")]),
            1,
            true
        ));
        assert!(!settled(&svc("", &[("running", "running")]), 2, true));
    }
}
