//! `docker-deploy`: blue/green deploy of one container under a stable name and host
//! port, with a health check and automatic rollback.
//!
//! 1. The new image starts as `NAME-candidate` on `staging-port` while the current
//!    `NAME` keeps serving on `host-port`.
//! 2. The candidate must become healthy within `health.timeout`: HTTP (`GET
//!    http://127.0.0.1:STAGING-PORT/PATH` answers `expect-status`, through the `http`
//!    capability) or the image's own Docker health check (`health.mode = "container"`).
//!    If it never does, it is removed and the stage fails: **the old container was
//!    never touched and never stopped serving** (automatic rollback).
//! 3. If it does, the candidate is removed and the final container is created as
//!    `NAME-next` with `host-port` published (creating a container binds no port, so
//!    this happens while the old one serves). Then the switch: the old container is
//!    stopped, `NAME-next` started and checked again, polled every 20 ms. If that
//!    check fails, `NAME-next` is removed and the old container restarted (rollback).
//!    If it passes, the old container is renamed `NAME-previous`, `NAME-next` renamed
//!    `NAME` (renaming a running container leaves its ports alone) and the previous
//!    one removed. The switch-over window (stop old → first healthy answer of the new
//!    one) is reported as `cutover-ms`.
//!
//! **Requests fail during the switch-over window.** With plain port publishing a
//! host port belongs to one container at a time, and Docker moves it only by
//! stopping one container and starting another: no request reaches either during
//! that time. The window is what `docker stop` + `docker start` cost on the engine:
//! ~0.3 s of refused connections, then requests that stall ~1 s because the engine's
//! port proxy accepts before the container's network is attached (≈1.4 s as a client
//! with a 1 s timeout sees it on the 2-core test machine, see BENCHMARKS.md); removing it takes
//! something that holds the port across the switch — a reverse proxy in front, or
//! Swarm's routing mesh with `order = "start-first"` (needs IPVS) — not this plugin.
//!
//! Each deployed container carries the label `gantry.deploy.previous-image`, so
//! `with = { rollback = true }` redeploys the image that ran before the last deploy,
//! by the same procedure. Every create/start/stop/remove is in the run's journal.
//!
//! ```toml
//! [stage.deploy]
//! plugin = "builtin:docker-deploy"
//! with = { name = "app-staging", image = "${stages.image.outputs.pinned}", port = 8080,
//!          host-port = 8081, staging-port = 18081, health = { path = "/healthz" } }
//! grants.containers = { run = ["127.0.0.1:5000/app*"], manage = "app-staging",
//!                       network = ["bridge"], publish = [8081, 18081] }
//! grants.http = [{ url = "http://127.0.0.1:8081/", methods = ["GET"] },
//!                { url = "http://127.0.0.1:18081/", methods = ["GET"] }]
//! ```
//!
//! Tests: `tests/e2e/deploy.rs`.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use gantry_sdk::containers::{self, Container, ContainerSpec};
use gantry_sdk::prelude::*;

/// Label recording what ran before this container was deployed.
pub const PREVIOUS_LABEL: &str = "gantry.deploy.previous-image";

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct Health {
    /// `http` (default): GET `path` on the published port; `container`: the image's
    /// Docker HEALTHCHECK.
    #[serde(default = "http_mode")]
    pub mode: String,
    #[serde(default = "healthz")]
    pub path: String,
    #[serde(default = "ok_status")]
    pub expect_status: u16,
    /// How long a new container has to become healthy, e.g. `"30s"`.
    #[serde(default = "thirty")]
    pub timeout: String,
    #[serde(default = "half")]
    pub interval: String,
}

impl Default for Health {
    fn default() -> Health {
        Health {
            mode: http_mode(),
            path: healthz(),
            expect_status: 200,
            timeout: thirty(),
            interval: half(),
        }
    }
}

fn http_mode() -> String {
    "http".into()
}
fn healthz() -> String {
    "/healthz".into()
}
fn ok_status() -> u16 {
    200
}
fn thirty() -> String {
    "30s".into()
}
fn half() -> String {
    "500ms".into()
}

/// Configuration (`with`).
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct Config {
    /// Stable container name (under the grant's `manage` prefix).
    pub name: String,
    /// Image to deploy; required unless `rollback = true`.
    #[serde(default)]
    pub image: Option<String>,
    /// Container port the service listens on.
    pub port: u16,
    /// Host port (on 127.0.0.1) the service is reached at.
    pub host_port: u16,
    /// Host port the candidate is verified on before the switch.
    pub staging_port: u16,
    #[serde(default)]
    pub command: Vec<String>,
    #[serde(default)]
    pub env: BTreeMap<String, String>,
    #[serde(default)]
    pub health: Health,
    /// Redeploy the image that ran before the current one.
    #[serde(default)]
    pub rollback: bool,
}

struct Deploy;

struct Timing {
    timeout: Duration,
    interval: Duration,
}

fn timing(h: &Health) -> Result<Timing, Error> {
    let parse = |key: &str, v: &str| {
        gantry_sdk::units::duration(v).map_err(|e| Error::config(format!("`health.{key}`: {e}")))
    };
    Ok(Timing {
        timeout: parse("timeout", &h.timeout)?,
        interval: parse("interval", &h.interval)?.max(Duration::from_millis(50)),
    })
}

/// Waits until `name` is healthy; `Err(reason)` when it is not within the timeout.
fn wait_healthy(c: &Config, name: &str, host_port: u16, t: &Timing) -> Result<Duration, String> {
    let start = Instant::now();
    let mut last = String::from("no answer yet");
    while start.elapsed() < t.timeout {
        match c.health.mode.as_str() {
            "container" => match containers::inspect(name) {
                Ok(Some(ctr)) if ctr.health.as_deref() == Some("healthy") => {
                    return Ok(start.elapsed());
                }
                Ok(Some(ctr)) if ctr.state == "exited" || ctr.state == "dead" => {
                    return Err(format!(
                        "the container exited (code {})",
                        ctr.exit_code.unwrap_or(-1)
                    ));
                }
                Ok(Some(ctr)) => {
                    last = format!(
                        "health `{}`",
                        ctr.health
                            .unwrap_or_else(|| "none: the image has no HEALTHCHECK".into())
                    )
                }
                Ok(None) => return Err("the container disappeared".into()),
                Err(e) => return Err(e.to_string()),
            },
            _ => {
                let url = format!("http://127.0.0.1:{host_port}{}", c.health.path);
                match gantry_sdk::http::get(&url) {
                    Ok(r) if r.status == c.health.expect_status => return Ok(start.elapsed()),
                    Ok(r) => last = format!("{url} answered {}", r.status),
                    Err(gantry_sdk::http::Error::Denied(m)) => return Err(m),
                    Err(e) => last = format!("{url}: {e}"),
                }
                if let Ok(Some(ctr)) = containers::inspect(name)
                    && (ctr.state == "exited" || ctr.state == "dead")
                {
                    return Err(format!(
                        "the container exited (code {})",
                        ctr.exit_code.unwrap_or(-1)
                    ));
                }
            }
        }
        std::thread::sleep(t.interval);
    }
    Err(format!("not healthy within {:?}: {last}", t.timeout))
}

fn spec(
    c: &Config,
    name: &str,
    image: &str,
    host_port: u16,
    previous: Option<&str>,
) -> ContainerSpec {
    let mut s = ContainerSpec::new(name, image)
        .command(c.command.iter().cloned())
        .publish(c.port, host_port)
        .label("gantry.deploy.name", &c.name);
    if let Some(p) = previous {
        s = s.label(PREVIOUS_LABEL, p);
    }
    for (k, v) in &c.env {
        s = s.env(k, v);
    }
    s
}

fn label<'a>(c: &'a Container, key: &str) -> Option<&'a str> {
    c.labels
        .iter()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.as_str())
}

/// Starts `name` right after the old container on its port was stopped; the engine
/// may release the port a moment after `stop` returns, so "already allocated" / "in
/// use" is retried for up to a second.
fn start_on_freed_port(name: &str) -> Result<(), String> {
    let start = Instant::now();
    loop {
        match containers::start(name) {
            Ok(()) => return Ok(()),
            Err(e) => {
                let text = e.to_string();
                let busy =
                    text.contains("already allocated") || text.contains("address already in use");
                if !busy || start.elapsed() > Duration::from_secs(1) {
                    return Err(text);
                }
                std::thread::sleep(Duration::from_millis(20));
            }
        }
    }
}

/// Why a container could not be brought up: `(rule, reason)`.
type Failed = (&'static str, String);

/// Starts `name` from `spec` and waits until it is healthy; removes it if it is not.
fn start_checked(c: &Config, s: ContainerSpec, port: u16, t: &Timing) -> Result<Duration, Failed> {
    let name = s.name.clone();
    containers::create(s).map_err(|e| ("deploy-failed", e.to_string()))?;
    if let Err(e) = containers::start(&name) {
        let _ = containers::remove(&name);
        return Err(("deploy-failed", e.to_string()));
    }
    match wait_healthy(c, &name, port, t) {
        Ok(d) => Ok(d),
        Err(why) => {
            let logs = containers::logs(&name, 20).unwrap_or_default();
            for line in logs
                .lines()
                .rev()
                .take(20)
                .collect::<Vec<_>>()
                .into_iter()
                .rev()
            {
                gantry_sdk::log::warn(
                    "unhealthy container output",
                    &[("name", &name), ("line", line)],
                );
            }
            let _ = containers::remove(&name);
            Err(("deploy-unhealthy", why))
        }
    }
}

fn failure(c: &Config, rule: &str, message: String) -> Report {
    Report::new()
        .summary(message.clone())
        .finding(
            Finding::new(rule, Level::Error, message).fingerprint(format!("{rule}:{}", c.name)),
        )
        .outcome(Outcome::Failure)
}

impl Plugin for Deploy {
    type Config = Config;

    fn info() -> Info {
        Info::new(env!("CARGO_PKG_NAME"), env!("CARGO_PKG_VERSION"))
            .kind(Kind::Deployer)
            .description("Blue/green deploy of a container with health checks and automatic rollback")
            .rule(Rule::new("deploy-unhealthy", Level::Error, "The new version never became healthy; the old one kept serving")
                .full("The candidate container did not pass its health check within the timeout. It was removed and the running version was left untouched. Check the container output in the stage log."))
            .rule(Rule::new("deploy-rolled-back", Level::Error, "The new version failed after the switch; the previous one was restored")
                .full("The candidate passed on the staging port but failed on the service port; the previous container was renamed back and restarted."))
            .rule(Rule::new("deploy-failed", Level::Error, "The deploy could not be carried out")
                .full("The engine refused or failed an operation (missing image, port in use, …); the running version was left as it was."))
    }

    fn run(cx: &Context, c: Config) -> Result<Report, Error> {
        let t = timing(&c.health)?;
        if !matches!(c.health.mode.as_str(), "http" | "container") {
            return Err(Error::config("`health.mode` is `http` or `container`"));
        }
        if c.host_port == c.staging_port {
            return Err(Error::config("`staging-port` must differ from `host-port`"));
        }
        let current = containers::inspect(&c.name)?;
        let current_image = current.as_ref().map(|x| x.image.clone());
        let image = if c.rollback {
            match current.as_ref().and_then(|x| label(x, PREVIOUS_LABEL)) {
                Some(p) => p.to_string(),
                None => {
                    return Ok(failure(
                        &c,
                        "deploy-failed",
                        format!(
                            "nothing to roll back to: `{}` records no previous image",
                            c.name
                        ),
                    ));
                }
            }
        } else {
            c.image
                .clone()
                .ok_or_else(|| Error::config("`image` is required unless `rollback = true`"))?
        };
        let base = Report::new()
            .output("image", image.clone())
            .output("previous-image", current_image.clone().unwrap_or_default());
        if cx.dry_run {
            return Ok(base.summary(format!(
                "dry run: would deploy `{image}` as `{}` (now: {})",
                c.name,
                current_image.as_deref().unwrap_or("nothing")
            )));
        }
        // 1–2: the candidate on the staging port.
        let candidate = format!("{}-candidate", c.name);
        if containers::inspect(&candidate)?.is_some() {
            containers::remove(&candidate)?;
        }
        let cand_spec = spec(
            &c,
            &candidate,
            &image,
            c.staging_port,
            current_image.as_deref(),
        );
        match start_checked(&c, cand_spec, c.staging_port, &t) {
            Ok(d) => gantry_sdk::log::info(
                "candidate healthy",
                &[("after-ms", &d.as_millis().to_string())],
            ),
            Err((rule, why)) => {
                let verb = if current.is_some() {
                    "kept serving"
                } else {
                    "nothing was running"
                };
                let what = if rule == "deploy-failed" {
                    "could not be started"
                } else {
                    "never became healthy"
                };
                return Ok(failure(
                    &c,
                    rule,
                    format!("`{image}` {what} ({why}); `{}` {verb}, untouched", c.name),
                )
                .output("rolled-back", "true")
                .output("image", current_image.unwrap_or_default()));
            }
        }
        containers::remove(&candidate)?;
        // 3: the switch. Everything that can be done while the old version serves is
        // done first: the new container is created (creating binds no port), so the
        // window is only stop old → start new → first answer, polled every 20 ms.
        let next = format!("{}-next", c.name);
        let previous = format!("{}-previous", c.name);
        for stale in [&next, &previous] {
            if containers::inspect(stale)?.is_some() {
                containers::remove(stale)?;
            }
        }
        let final_spec = spec(&c, &next, &image, c.host_port, current_image.as_deref());
        if let Err(e) = containers::create(final_spec) {
            return Ok(failure(
                &c,
                "deploy-failed",
                format!(
                    "`{image}` could not be created ({e}); `{}` untouched",
                    c.name
                ),
            )
            .output("rolled-back", "true"));
        }
        let fast = Timing {
            timeout: t.timeout,
            interval: Duration::from_millis(20),
        };
        let switch_start = Instant::now();
        if current.is_some() {
            // SIGTERM, SIGKILL after 5 s: a server that exits on SIGTERM frees the port
            // at once.
            if let Err(e) = containers::stop(&c.name, Some(5)) {
                let _ = containers::remove(&next);
                return Err(e);
            }
        }
        let switched =
            start_on_freed_port(&next).and_then(|()| wait_healthy(&c, &next, c.host_port, &fast));
        match switched {
            Ok(_) => {
                let cutover = switch_start.elapsed();
                // The new one serves; the names follow (renaming a running container
                // does not touch its ports).
                if current.is_some() {
                    containers::rename(&c.name, &previous)?;
                }
                containers::rename(&next, &c.name)?;
                if current.is_some() {
                    containers::remove(&previous)?;
                }
                Ok(base
                    .output("rolled-back", "false")
                    .output("cutover-ms", cutover.as_millis().to_string())
                    .summary(format!(
                        "deployed `{image}` as `{}` on 127.0.0.1:{} (switch-over {} ms{})",
                        c.name,
                        c.host_port,
                        cutover.as_millis(),
                        current_image
                            .as_deref()
                            .map(|p| format!(", replaced `{p}`"))
                            .unwrap_or_default()
                    )))
            }
            Err(why) => {
                let logs = containers::logs(&next, 20).unwrap_or_default();
                for line in logs.lines() {
                    gantry_sdk::log::warn(
                        "unhealthy container output",
                        &[("name", &next), ("line", line)],
                    );
                }
                let _ = containers::remove(&next);
                if current.is_some() {
                    containers::start(&c.name)?;
                }
                Ok(failure(&c, "deploy-rolled-back", format!("`{image}` failed on the service port ({why}); restored the previous container")).output("rolled-back", "true"))
            }
        }
    }
}

gantry_sdk::export_plugin!(Deploy);

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn health_defaults_and_durations() {
        let c: Config = serde_json::from_value(serde_json::json!({
            "name": "app-x", "image": "i:1", "port": 8080, "host-port": 8081, "staging-port": 18081
        }))
        .unwrap();
        assert_eq!(c.health.path, "/healthz");
        let t = timing(&c.health).unwrap();
        assert_eq!(t.timeout, Duration::from_secs(30));
        let bad = Health {
            timeout: "soon".into(),
            ..Health::default()
        };
        assert!(
            matches!(timing(&bad), Err(Error::InvalidConfig(m)) if m.contains("health.timeout"))
        );
    }
}
