//! `http-verify`: post-deploy verification over HTTP. Each check names a URL, the
//! statuses it accepts, text the body must contain, and a latency limit; a failing
//! check is retried with exponential back-off before it counts. The stage reports one
//! finding per failed check and outputs per check (`CHECK-status`, `CHECK-latency-ms`,
//! `CHECK-attempts`; other characters of the name become `-`) plus `passed` and `failed` counts.
//!
//! `resources = [{ container = "app-web", max-memory = "256MiB", max-cpu-percent = 80,
//! max-pids = 64 }]` samples each deployed container once (`containers.stats`, contract
//! 0.1.1; needs `grants.containers.manage` over it) and fails on what is over a limit
//! (`resources-exceeded`); outputs `NAME-memory-bytes`, `NAME-cpu-percent`, `NAME-pids`.
//!
//! Requests go through the `http` capability: every URL needs `grants.http`. Under
//! `--dry-run` nothing is sent (the deploy it verifies was only planned): the stage
//! succeeds with `planned` = the number of checks and says what it would check.
//!
//! ```toml
//! [stage.verify]
//! plugin = "builtin:http-verify"
//! needs = ["deploy"]
//! with = { checks = [{ name = "health", url = "http://127.0.0.1:8081/healthz" },
//!                    { name = "home", url = "http://127.0.0.1:8081/", body-contains = "v2", max-latency = "200ms" }],
//!          retries = 5, backoff = "200ms" }
//! grants.http = [{ url = "http://127.0.0.1:8081/", methods = ["GET"] }]
//! ```
//!
//! Tests: unit tests below (the evaluation of answers); `tests/e2e/deploy.rs`.

use std::time::{Duration, Instant};

use gantry_sdk::http::Request;
use gantry_sdk::prelude::*;

#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct Check {
    /// Short name used in outputs and findings (default: the URL).
    #[serde(default)]
    pub name: Option<String>,
    pub url: String,
    #[serde(default = "get")]
    pub method: String,
    /// Accepted statuses (default 200).
    #[serde(default = "ok")]
    pub expect_status: Vec<u16>,
    /// Text the body must contain.
    #[serde(default)]
    pub body_contains: Option<String>,
    /// Text the body must not contain.
    #[serde(default)]
    pub body_excludes: Option<String>,
    /// e.g. `"500ms"`: an answer slower than this fails the attempt.
    #[serde(default)]
    pub max_latency: Option<String>,
}

fn get() -> String {
    "GET".into()
}
fn ok() -> Vec<u16> {
    vec![200]
}
fn three() -> u32 {
    3
}
fn backoff() -> String {
    "250ms".into()
}

/// A resource check of a deployed container (`containers.stats`, contract 0.1.1).
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct Resources {
    /// The managed container to sample (needs `grants.containers.manage` over it).
    pub container: String,
    /// e.g. `"256MiB"`: more memory in use fails the stage.
    #[serde(default)]
    pub max_memory: Option<String>,
    /// CPU in percent of one CPU (200 = two busy CPUs); more fails the stage.
    #[serde(default)]
    pub max_cpu_percent: Option<f64>,
    /// More processes and threads fail the stage.
    #[serde(default)]
    pub max_pids: Option<u64>,
}

/// Why a sample breaks a resource limit, or `None` (pure, unit-tested).
pub fn judge_resources(
    r: &Resources,
    memory: u64,
    max_memory: Option<u64>,
    cpu_percent: f64,
    pids: u64,
) -> Option<String> {
    if let Some(m) = max_memory
        && memory > m
    {
        return Some(format!(
            "`{}` uses {memory} bytes of memory, limit {m}",
            r.container
        ));
    }
    if let Some(c) = r.max_cpu_percent
        && cpu_percent > c
    {
        return Some(format!(
            "`{}` uses {cpu_percent:.1}% CPU, limit {c}%",
            r.container
        ));
    }
    if let Some(p) = r.max_pids
        && pids > p
    {
        return Some(format!(
            "`{}` runs {pids} processes and threads, limit {p}",
            r.container
        ));
    }
    None
}

/// Configuration (`with`).
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct Config {
    pub checks: Vec<Check>,
    /// Resource checks of deployed containers, after the HTTP checks.
    #[serde(default)]
    pub resources: Vec<Resources>,
    /// Extra attempts per check after the first.
    #[serde(default = "three")]
    pub retries: u32,
    /// First back-off; doubled after every failed attempt (capped at 10 s).
    #[serde(default = "backoff")]
    pub backoff: String,
}

/// Why one answer fails the check, or `None` when it passes (pure, unit-tested).
pub fn judge(
    c: &Check,
    status: u16,
    body: &str,
    latency: Duration,
    max: Option<Duration>,
) -> Option<String> {
    if !c.expect_status.contains(&status) {
        return Some(format!(
            "status {status}, expected {}",
            list(&c.expect_status)
        ));
    }
    if let Some(t) = &c.body_contains
        && !body.contains(t.as_str())
    {
        return Some(format!("body does not contain `{t}`"));
    }
    if let Some(t) = &c.body_excludes
        && body.contains(t.as_str())
    {
        return Some(format!("body contains `{t}`"));
    }
    if let Some(m) = max
        && latency > m
    {
        return Some(format!(
            "answered in {} ms, limit {} ms",
            latency.as_millis(),
            m.as_millis()
        ));
    }
    None
}

/// An output key prefix: letters, digits, `-` and `_`; anything else becomes `-`.
pub fn output_name(name: &str) -> String {
    name.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' || c == '-' {
                c
            } else {
                '-'
            }
        })
        .collect()
}

fn list(v: &[u16]) -> String {
    v.iter()
        .map(u16::to_string)
        .collect::<Vec<_>>()
        .join(" or ")
}

struct Verify;

impl Plugin for Verify {
    type Config = Config;

    fn info() -> Info {
        Info::new(env!("CARGO_PKG_NAME"), env!("CARGO_PKG_VERSION"))
            .kind(Kind::Verifier)
            .description("Post-deploy HTTP verification: status, body and latency checks with retries")
            .rule(Rule::new("resources-exceeded", Level::Error, "A deployed container uses more than a resource check allows")
                .full("One sample of the container's memory (page cache excluded), CPU or processes was over `max-memory`, `max-cpu-percent` or `max-pids`."))
            .rule(Rule::new("verify-failed", Level::Error, "An HTTP check failed after all retries")
                .full("The URL did not answer with an accepted status, the body did not match, or it was slower than `max-latency`, on every attempt."))
    }

    fn run(cx: &Context, c: Config) -> Result<Report, Error> {
        if c.checks.is_empty() && c.resources.is_empty() {
            return Err(Error::config(
                "`checks` and `resources` are both empty: nothing to verify",
            ));
        }
        let first_backoff = gantry_sdk::units::duration(&c.backoff)
            .map_err(|e| Error::config(format!("`backoff`: {e}")))?;
        // Under `--dry-run` the deploy this stage verifies was planned, not made: a check
        // would measure whatever ran before (a stale deployment passes, a first deploy
        // fails). Nothing is sent; the stage says what it would check.
        if cx.dry_run {
            let urls: Vec<&str> = c.checks.iter().map(|k| k.url.as_str()).collect();
            return Ok(Report::new()
                .output("planned", c.checks.len().to_string())
                .summary(format!(
                    "dry run: would run {} check{} ({}); nothing sent, since what they verify was planned, not deployed",
                    c.checks.len(),
                    if c.checks.len() == 1 { "" } else { "s" },
                    urls.join(", ")
                )));
        }
        let mut report = Report::new();
        let (mut passed, mut failed) = (0, 0);
        for (i, check) in c.checks.iter().enumerate() {
            let name = output_name(check.name.as_deref().unwrap_or(&check.url));
            let max = match &check.max_latency {
                Some(m) => Some(
                    gantry_sdk::units::duration(m)
                        .map_err(|e| Error::config(format!("`checks[{i}].max-latency`: {e}")))?,
                ),
                None => None,
            };
            let mut wait = first_backoff;
            let mut attempts = 0;
            let mut verdict: Option<String> = None;
            let mut last: Option<(u16, Duration)> = None;
            for attempt in 0..=c.retries {
                attempts = attempt + 1;
                let start = Instant::now();
                let answer = Request::new(&check.method, &check.url).send();
                let latency = start.elapsed();
                verdict = match answer {
                    Ok(r) => {
                        last = Some((r.status, latency));
                        judge(check, r.status, &r.text(), latency, max)
                    }
                    Err(gantry_sdk::http::Error::Denied(m)) => return Err(Error::Denied(m)),
                    Err(e) => Some(e.to_string()),
                };
                if verdict.is_none() {
                    break;
                }
                if attempt < c.retries {
                    gantry_sdk::log::info(
                        "check failed, retrying",
                        &[("check", &name), ("why", verdict.as_deref().unwrap_or(""))],
                    );
                    std::thread::sleep(wait);
                    wait = (wait * 2).min(Duration::from_secs(10));
                }
            }
            if let Some((status, latency)) = last {
                report = report
                    .output(format!("{name}-status"), status.to_string())
                    .output(
                        format!("{name}-latency-ms"),
                        latency.as_millis().to_string(),
                    );
            }
            report = report.output(format!("{name}-attempts"), attempts.to_string());
            match verdict {
                None => passed += 1,
                Some(why) => {
                    failed += 1;
                    report.push(
                        Finding::new(
                            "verify-failed",
                            Level::Error,
                            format!("{name}: {why} ({attempts} attempts)"),
                        )
                        .fingerprint(format!("verify-failed:{}", check.url)),
                    );
                }
            }
        }
        for r in &c.resources {
            let max_memory = match &r.max_memory {
                Some(m) => Some(gantry_sdk::units::size(m).map_err(|e| {
                    Error::config(format!("`resources.max-memory` of `{}`: {e}", r.container))
                })?),
                None => None,
            };
            let s = gantry_sdk::containers::stats(&r.container)?;
            let name = output_name(&r.container);
            report = report
                .output(format!("{name}-memory-bytes"), s.memory_bytes.to_string())
                .output(
                    format!("{name}-cpu-percent"),
                    format!("{:.1}", s.cpu_percent),
                )
                .output(format!("{name}-pids"), s.pids.to_string());
            match judge_resources(r, s.memory_bytes, max_memory, s.cpu_percent, s.pids) {
                None => passed += 1,
                Some(why) => {
                    failed += 1;
                    report.push(
                        Finding::new("resources-exceeded", Level::Error, why)
                            .fingerprint(format!("resources-exceeded:{}", r.container)),
                    );
                }
            }
        }
        let total = c.checks.len() + c.resources.len();
        Ok(report
            .output("passed", passed.to_string())
            .output("failed", failed.to_string())
            .summary(format!("{passed} of {total} checks passed")))
    }
}

gantry_sdk::export_plugin!(Verify);

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn resource_limits_name_what_is_over() {
        let r = Resources {
            container: "app-web".into(),
            max_memory: Some("64MiB".into()),
            max_cpu_percent: Some(80.0),
            max_pids: Some(10),
        };
        assert_eq!(judge_resources(&r, 1 << 20, Some(64 << 20), 5.0, 3), None);
        assert_eq!(
            judge_resources(&r, 65 << 20, Some(64 << 20), 5.0, 3).as_deref(),
            Some("`app-web` uses 68157440 bytes of memory, limit 67108864")
        );
        assert!(
            judge_resources(&r, 1, Some(64 << 20), 95.0, 3)
                .unwrap()
                .contains("95.0% CPU, limit 80%")
        );
        assert!(
            judge_resources(&r, 1, Some(64 << 20), 5.0, 11)
                .unwrap()
                .contains("11 processes")
        );
    }

    fn check(v: serde_json::Value) -> Check {
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn judging_answers() {
        let c = check(
            serde_json::json!({ "url": "http://x/", "body-contains": "v2", "expect-status": [200, 204] }),
        );
        assert_eq!(judge(&c, 200, "version v2", Duration::ZERO, None), None);
        assert_eq!(judge(&c, 204, "v2", Duration::ZERO, None), None);
        assert!(
            judge(&c, 500, "v2", Duration::ZERO, None)
                .unwrap()
                .contains("status 500, expected 200 or 204")
        );
        assert!(
            judge(&c, 200, "v1", Duration::ZERO, None)
                .unwrap()
                .contains("does not contain")
        );
        let slow = judge(
            &c,
            200,
            "v2",
            Duration::from_millis(900),
            Some(Duration::from_millis(100)),
        );
        assert!(slow.unwrap().contains("limit 100 ms"));
        assert_eq!(
            output_name("http://127.0.0.1:8081/healthz"),
            "http---127-0-0-1-8081-healthz"
        );
    }
}
