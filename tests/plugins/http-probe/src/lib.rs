//! Test plugin `http-probe`: makes the request its config describes with
//! `gantry_sdk::http` and reports output `result` = `ok:<status>:<body prefix>`,
//! `denied:<message>`, `too-large:<message>`, `timeout:<message>` or `err:<message>`.
//! With `follow`, a `3xx` answer is followed once by a new request (the host checks
//! it again); `first` then holds the first answer. Never fails the stage, so tests
//! can check what the plugin saw.

use std::collections::BTreeMap;

use gantry_sdk::http;
use gantry_sdk::prelude::*;

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct Config {
    url: String,
    #[serde(default)]
    method: Option<String>,
    #[serde(default)]
    headers: BTreeMap<String, String>,
    /// Header name → secret name, sent as `gantry-secret:NAME`.
    #[serde(default)]
    secret_headers: BTreeMap<String, String>,
    #[serde(default)]
    body: Option<String>,
    /// Follow one redirect by issuing a new request.
    #[serde(default)]
    follow: bool,
    /// Shorten the host's timeouts to this many milliseconds.
    #[serde(default)]
    timeout_ms: Option<u64>,
    /// Characters of the body to report (default 40).
    #[serde(default)]
    prefix: Option<usize>,
}

struct HttpProbe;

fn describe(r: &Result<http::Response, http::Error>, prefix: usize) -> String {
    match r {
        Ok(resp) => {
            let text: String = resp.text().chars().take(prefix).collect();
            format!("ok:{}:{text}", resp.status)
        }
        Err(http::Error::Denied(m)) => format!("denied:{m}"),
        Err(http::Error::TooLarge(m)) => format!("too-large:{m}"),
        Err(http::Error::Timeout(m)) => format!("timeout:{m}"),
        Err(e) => format!("err:{e}"),
    }
}

impl Plugin for HttpProbe {
    type Config = Config;

    fn info() -> Info {
        Info::new("http-probe", env!("CARGO_PKG_VERSION"))
            .kind(Kind::Other)
            .description("test plugin: one HTTP request")
    }

    fn run(_cx: &Context, config: Config) -> Result<Report, Error> {
        let prefix = config.prefix.unwrap_or(40);
        let mut req = http::Request::new(
            config.method.as_deref().unwrap_or("GET"),
            config.url.clone(),
        );
        for (k, v) in &config.headers {
            req = req.header(k, v);
        }
        for (k, secret) in &config.secret_headers {
            req = req.secret_header(k, secret);
        }
        if let Some(ms) = config.timeout_ms {
            req = req.timeout(std::time::Duration::from_millis(ms));
        }
        if let Some(b) = &config.body {
            req = req.body(b.clone().into_bytes());
        }
        let first = req.send();
        let mut report = Report::new().summary("request made");
        if let Ok(resp) = &first {
            report = report
                .output("dry_run", if resp.dry_run() { "1" } else { "0" })
                .output("length", resp.body.len().to_string());
        }
        let mut result = describe(&first, prefix);
        let location = first
            .as_ref()
            .ok()
            .and_then(|r| r.location())
            .map(String::from);
        if let (true, Some(location)) = (config.follow, location) {
            report = report.output("first", result);
            result = describe(&http::get(&location), prefix);
        }
        log::info("http-probe", &[("result", &result)]);
        Ok(report.output("result", result))
    }
}

gantry_sdk::export_plugin!(HttpProbe);
