//! Test plugin `limits-probe`: each `action` makes the host wait or allocate on the
//! plugin's behalf, through the raw WASI imports another language would use:
//! - `poll`, `block`: wait on a pollable that is ready only after an hour
//!   (`wasi:clocks` `subscribe-duration`), in `wasi:io/poll.poll` or
//!   `pollable.block`;
//! - `body-stall`: write to the body of a request that is never sent, until the
//!   host's buffer is full and `blocking-write-and-flush` waits for ever;
//! - `fields`: hold `count` `wasi:http` fields of `size` bytes each (headers of at
//!   most 4 KiB);
//! - `method`: one request to `url` with the method `method` exactly as given
//!   (`get` stays lower case);
//! - `long-path`: one request to `url` whose path is padded to `size` bytes;
//! - `fill`: write `size` bytes to the workspace file `path`;
//! - `artifacts`: report `artifacts`, plus `count` generated paths `dist/gen-N`.
//!
//! `describe` is normally well-behaved. The tests make copies of this component in
//! which the 24-byte marker [`MODE`] is patched (same length, so the component stays
//! valid): `gantry-describe:block` makes `describe` block in `pollable.block`,
//! `gantry-describe:huge` returns a 16 MiB description and 20,000 rules.
//!
//! Results are output `result`: `ok:…` or `err:…`.

use gantry_sdk::prelude::*;

/// Patched by `tests/e2e/limits.rs`; read at run time so it is never folded away.
static MODE: [u8; 24] = *b"gantry-describe:normal\0\0";

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct Config {
    action: Action,
    #[serde(default)]
    count: u64,
    #[serde(default)]
    size: u64,
    #[serde(default)]
    url: String,
    #[serde(default)]
    method: String,
    #[serde(default)]
    path: String,
    #[serde(default)]
    artifacts: Vec<String>,
}

#[derive(Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
enum Action {
    Poll,
    Block,
    BodyStall,
    Fields,
    Method,
    LongPath,
    Fill,
    Artifacts,
}

struct LimitsProbe;

fn mode() -> [u8; 24] {
    // SAFETY: a read of an initialized static.
    unsafe { std::ptr::read_volatile(&MODE) }
}

#[cfg(target_arch = "wasm32")]
mod raw {
    use wasip2::clocks::monotonic_clock::subscribe_duration;
    use wasip2::http::outgoing_handler;
    use wasip2::http::types::{Fields, Method, OutgoingRequest, Scheme};

    const HOUR_NS: u64 = 3600 * 1_000_000_000;

    pub fn poll() -> String {
        let p = subscribe_duration(HOUR_NS);
        let ready = wasip2::io::poll::poll(&[&p]);
        format!("ok:poll returned {ready:?}")
    }

    pub fn block() -> String {
        subscribe_duration(HOUR_NS).block();
        "ok:block returned".into()
    }

    pub fn body_stall() -> String {
        let req = OutgoingRequest::new(Fields::new());
        let Ok(body) = req.body() else {
            return "err:no body".into();
        };
        let Ok(out) = body.write() else {
            return "err:no stream".into();
        };
        let chunk = [0u8; 4096];
        let mut written = 0u64;
        loop {
            if let Err(e) = out.blocking_write_and_flush(&chunk) {
                return format!("err:after {written} bytes: {e:?}");
            }
            written += chunk.len() as u64;
        }
    }

    pub fn fields(count: u64, size: u64) -> String {
        let chunk = vec![b'v'; 4096];
        let mut held = Vec::new();
        for _ in 0..count {
            let f = Fields::new();
            let mut left = size as usize;
            let mut i = 0;
            while left > 0 {
                let n = left.min(chunk.len());
                if let Err(e) = f.append(&format!("x-pad-{i}"), &chunk[..n]) {
                    return format!("err:append refused after {} fields: {e:?}", held.len());
                }
                left -= n;
                i += 1;
            }
            held.push(f);
        }
        format!("ok:held {}", held.len())
    }

    /// `url` is `http://HOST:PORT/PATH`.
    fn request(method: Method, url: &str, path: Option<String>) -> String {
        let Some(rest) = url.strip_prefix("http://") else {
            return "err:url must start with http://".into();
        };
        let (authority, url_path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
        let req = OutgoingRequest::new(Fields::new());
        if req.set_method(&method).is_err() {
            return "err:method refused".into();
        }
        let _ = req.set_scheme(Some(&Scheme::Http));
        if req.set_authority(Some(authority)).is_err() {
            return "err:authority refused".into();
        }
        let path = path.unwrap_or_else(|| url_path.to_string());
        if req.set_path_with_query(Some(&path)).is_err() {
            return format!("err:path-with-query of {} bytes refused", path.len());
        }
        let future = match outgoing_handler::handle(req, None) {
            Ok(f) => f,
            Err(e) => return format!("err:{e:?}"),
        };
        future.subscribe().block();
        match future.get() {
            Some(Ok(Ok(resp))) => format!("ok:{}", resp.status()),
            Some(Ok(Err(e))) => format!("err:{e:?}"),
            other => format!("err:{other:?}"),
        }
    }

    pub fn method(method: &str, url: &str) -> String {
        request(Method::Other(method.to_string()), url, None)
    }

    /// The path of `url`, padded to `size` bytes.
    pub fn long_path(url: &str, size: u64) -> String {
        let rest = url.strip_prefix("http://").unwrap_or(url);
        let base = &rest[rest.find('/').unwrap_or(rest.len())..];
        let pad = (size as usize).saturating_sub(base.len());
        request(Method::Get, url, Some(format!("{base}{}", "p".repeat(pad))))
    }

    pub fn block_forever() {
        subscribe_duration(HOUR_NS).block();
    }
}

#[cfg(not(target_arch = "wasm32"))]
mod raw {
    pub fn poll() -> String {
        unimplemented()
    }
    pub fn block() -> String {
        unimplemented()
    }
    pub fn body_stall() -> String {
        unimplemented()
    }
    pub fn fields(_: u64, _: u64) -> String {
        unimplemented()
    }
    pub fn method(_: &str, _: &str) -> String {
        unimplemented()
    }
    pub fn long_path(_: &str, _: u64) -> String {
        unimplemented()
    }
    pub fn block_forever() {}
    fn unimplemented() -> String {
        "err:only built for wasm32".into()
    }
}

fn fill(path: &str, size: u64) -> String {
    use std::io::Write;
    let full = format!("/workspace/{path}");
    let mut f = match std::fs::File::create(&full) {
        Ok(f) => f,
        Err(e) => return format!("err:{e}"),
    };
    let chunk = vec![0x5a_u8; 1 << 20];
    let mut left = size;
    while left > 0 {
        let n = left.min(chunk.len() as u64) as usize;
        if let Err(e) = f.write_all(&chunk[..n]) {
            return format!("err:{e}");
        }
        left -= n as u64;
    }
    format!("ok:wrote {size}")
}

impl Plugin for LimitsProbe {
    type Config = Config;

    fn info() -> Info {
        let mode = mode();
        if mode.starts_with(b"gantry-describe:block") {
            raw::block_forever();
        }
        let info = Info::new("limits-probe", env!("CARGO_PKG_VERSION"))
            .description("attack plugin for tests: host-side waits and allocations");
        if mode.starts_with(b"gantry-describe:huge") {
            let mut info = info.description("D".repeat(16 << 20));
            for i in 0..20_000 {
                info = info.rule(Rule::new(format!("r{i}"), Level::Note, "a rule"));
            }
            return info;
        }
        info
    }

    fn run(_cx: &Context, config: Config) -> Result<Report, Error> {
        let result = match config.action {
            Action::Poll => raw::poll(),
            Action::Block => raw::block(),
            Action::BodyStall => raw::body_stall(),
            Action::Fields => raw::fields(config.count, config.size),
            Action::Method => raw::method(&config.method, &config.url),
            Action::LongPath => raw::long_path(&config.url, config.size),
            Action::Fill => fill(&config.path, config.size),
            Action::Artifacts => {
                let mut report = Report::new().summary("artifacts reported");
                for a in config.artifacts {
                    report = report.artifact(a);
                }
                for i in 0..config.count {
                    report = report.artifact(format!("dist/gen-{i}"));
                }
                return Ok(report.output("result", "ok:reported"));
            }
        };
        Ok(Report::new()
            .summary(result.clone())
            .output("result", result))
    }
}

gantry_sdk::export_plugin!(LimitsProbe);
