//! Capability `http` (`wasi:http/outgoing-handler`): outbound HTTP(S) requests to
//! granted URLs, as Spin's `factor-outbound-http` does.
//!
//! Grant (pipeline.toml), parsed into [`HttpGrant`]:
//!
//! ```toml
//! grants.http = ["https://upload.example:443/legacy/", "http://127.0.0.1:8081"]
//! ```
//!
//! Plugins use the standard `wasi:http/outgoing-handler` import (Rust plugins: the
//! small blocking client `gantry_sdk::http`). The interface is linked for every
//! plugin; the hook [`Hooks::send_request`] replaces wasmtime-wasi-http's default
//! client, and the host sends every request itself, in this order (a refusal is the
//! `wasi:http` error code named below, plus a `deny` line in `audit.jsonl` naming the
//! stage, the plugin, the part that failed and the grant that would allow it):
//!
//! 1. **URL**: `http` or `https` only; no userinfo (`user@host`). `CONNECT` (a
//!    tunnel would bypass every later check) and `TRACE` (echoes credentials) are
//!    refused whatever the grant.
//! 2. **Grant**: scheme, host, port (default 80/443), path prefix and, if the grant
//!    lists methods, the method must match one [`HttpGrant`]
//!    ([`HttpGrant::allows`], which matches the *normalized* path: `/v1/../admin`
//!    and `/v1/%2e%2e/admin` are not under `/v1/`, and paths servers disagree about
//!    are refused); otherwise `http-request-denied`. The refusal says which part
//!    failed: host, port, scheme, path or method.
//! 3. **Secret handles in headers** (DESIGN: "brokers take handles"): a header whose
//!    value is `gantry-secret:NAME` is sent with the value of secret `NAME` instead,
//!    if the stage has `NAME` in `grants.secrets` (or `grants.reveal`); otherwise
//!    `http-request-denied`. The plugin never sees the value; the audit line names the
//!    secret, never its value.
//! 4. **Addresses**: the host name is resolved once, and *every* address it resolves
//!    to must be global: loopback, private (RFC 1918, `fc00::/7`), link-local
//!    (`169.254.0.0/16` — which holds the cloud metadata endpoint `169.254.169.254`
//!    — and `fe80::/10`), unspecified, CGNAT, multicast, documentation and every other
//!    block the IANA special-purpose registries mark not globally reachable, also in
//!    IPv4-mapped, NAT64, 6to4, IPv4-compatible and Teredo forms ([`non_global`], the
//!    manifest's one table) are refused with `destination-ip-prohibited`
//!    unless a matching grant names that exact IP (`http://127.0.0.1:8081`, see
//!    [`HttpGrant::names_ip`]). gantry then connects to the address it checked and
//!    never resolves the name again, so DNS rebinding cannot swap it. TLS still
//!    verifies the certificate against the host *name* (webpki roots, via rustls).
//! 5. **Dry-run** (`gantry run --dry-run`): `GET`, `HEAD` and `OPTIONS` are sent as
//!    usual (reads). Any other method is a mutating effect: it is recorded as planned
//!    (`journal.jsonl`, `plan.json`), its request body is read and discarded, nothing
//!    is sent, and the plugin gets a synthetic `200` with an empty body and the
//!    header `x-gantry-dry-run: 1` (200 rather than 202 because clients commonly
//!    check for exactly 200; the header lets a plugin tell).
//! 6. **Journal**: outside dry-run, a mutating request's intent (method, URL without
//!    query, address) is fsynced to `journal.jsonl` before the first byte is sent;
//!    its outcome is the status code (or the error).
//! 7. **Limits**: connect [`CONNECT_TIMEOUT`]; the whole exchange, from the hook to
//!    the last body byte, at most [`MAX_REQUEST_TIME`] and never past the stage's own
//!    deadline; a guest's `request-options` may shorten the connect, first-byte and
//!    between-bytes timeouts, never lengthen them. The response body is capped at
//!    [`MAX_RESPONSE_BODY`] (a larger `content-length` is refused before reading;
//!    a longer stream fails at the cap with `http-response-body-size`, and a `deny`
//!    line is audited). These limits are not configurable per grant yet. A cancelled
//!    stage (fail-fast, Ctrl-C) aborts its request in flight.
//! 8. **Host memory** ([`crate::caps::budget`]): what the plugin's `wasi:http`
//!    resources hold stays within its share of `limits.memory`: the size limit of a
//!    `fields`, of a request's `path-with-query` and `authority` ([`bound_requests`]:
//!    longer values are refused and audited), of an outgoing body's chunks; response
//!    headers and trailers over the fields limit are refused
//!    (`http-response-header-section-size`, `http-response-trailer-section-size`); at
//!    most [`MAX_REQUESTS_IN_FLIGHT`] requests in flight per stage (the next is refused,
//!    audited). A method with lower-case letters is refused in step 1, whatever the
//!    grants: methods are case-sensitive and servers disagree about them.
//!
//! `wasi:http` error codes carry no text, so each refusal's full message (the same as
//! the audit reason) is also written to the stage log, where the plugin's author
//! looks first; `gantry_sdk::http` turns the codes into `Error::Denied` and friends.
//!
//! Redirects are never followed by the host (`wasi:http` has no such notion): a
//! plugin that wants to follow one issues a new request, which is checked again.
//!
//! Every allowed request is audited with method, scheme, host, port, path (without
//! the query, which may carry tokens), the address connected to and the names of the
//! secrets used — never headers or bodies.
//!
//! Tests: `tests/e2e/attack_http.rs` (with the `http-probe` test plugin),
//! `tests/e2e/limits.rs` (fields, long paths, lower-case methods, with `limits-probe`)
//! and the unit tests below (address classification, path checks); the address table
//! itself is tested in `manifest/src/net.rs`.

pub mod describe;

use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, LazyLock};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::{HeaderValue, Method, Request, Response, Uri};
use http_body::{Body, Frame};
use http_body_util::BodyExt;
use serde_json::{Value, json};
use tokio::io::{AsyncRead, AsyncWrite};
use wasmtime::StoreContextMut;
use wasmtime::component::{Linker, Resource, ResourceTable};
use wasmtime_wasi_http::io::TokioIo;
use wasmtime_wasi_http::p2::bindings::http::types::ErrorCode as HttpErrorCode;
use wasmtime_wasi_http::{
    Error, RequestOptions, WasiBody, WasiHttpCtx, WasiHttpCtxView, WasiHttpHooks, WasiHttpView,
};

use crate::caps::Broker;
use crate::caps::secrets::SecretStore;
use crate::manifest::HttpGrant;
use crate::manifest::text::brief as shown;
use crate::run::log::StageLog;
use crate::caps::context::StageState;
use crate::caps::bindings::types::CapError;
use crate::caps::budget::{HostBudget, MAX_REQUESTS_IN_FLIGHT};

const CAP: &str = "http";

/// Largest response body a plugin may receive.
pub const MAX_RESPONSE_BODY: u64 = 16 << 20;
/// Longest a request may take, from the call to the last byte of the body.
pub const MAX_REQUEST_TIME: Duration = Duration::from_secs(30);
/// Longest a TCP connect (and TLS handshake) may take.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// Longest a name resolution may take.
pub const DNS_TIMEOUT: Duration = Duration::from_secs(10);
/// Largest request body read (and discarded) for a dry-run request.
const MAX_DRY_RUN_BODY: usize = 64 << 20;
/// A header value `gantry-secret:NAME` is replaced by the value of secret `NAME`.
pub const SECRET_PREFIX: &str = "gantry-secret:";
/// Header of the synthetic dry-run response.
pub const DRY_RUN_HEADER: &str = "x-gantry-dry-run";

/// The per-stage state behind `wasi:http`: the crate's context plus our hooks.
pub struct State {
    ctx: WasiHttpCtx,
    hooks: Hooks,
    /// Longest `path-with-query` and `authority` of an outgoing request ([`State::bound`]).
    path_limit: usize,
    authority_limit: usize,
}

/// What the hooks need; shared with the futures that outlive a host call.
struct Shared {
    grants: Vec<HttpGrant>,
    broker: Broker,
    /// Secrets the stage may pass by handle (`grants.secrets` + `grants.reveal`).
    secret_names: Vec<String>,
    secrets: Arc<SecretStore>,
    deadline: Instant,
    cancel: Arc<AtomicBool>,
    /// Refusals are also noted in the stage log: `wasi:http` error codes carry no text.
    log: Arc<StageLog>,
    /// Size limit of one `fields`: response headers and trailers beyond it are refused.
    fields_limit: AtomicUsize,
    /// Requests in flight ([`MAX_REQUESTS_IN_FLIGHT`] at most).
    in_flight: Arc<AtomicUsize>,
}

/// [`WasiHttpHooks`] of a stage: every request goes through [`Shared::check`].
pub struct Hooks {
    shared: Arc<Shared>,
    /// Largest outgoing body chunk (one written, one buffered).
    body_chunk: usize,
}

impl State {
    /// `broker` is a copy of the stage's broker (same actor, audit log and journal).
    pub fn new(
        grants: &[HttpGrant],
        broker: Broker,
        secrets: (&[String], &[String], Arc<SecretStore>),
        deadline: Instant,
        cancel: Arc<AtomicBool>,
        log: Arc<StageLog>,
    ) -> State {
        let (granted, reveal, store) = secrets;
        let budget = HostBudget::for_memory(crate::manifest::Limits::default().memory);
        let mut state = State {
            ctx: WasiHttpCtx::new(),
            hooks: Hooks {
                shared: Arc::new(Shared {
                    grants: grants.to_vec(),
                    broker,
                    secret_names: granted.iter().chain(reveal).cloned().collect(),
                    secrets: store,
                    deadline,
                    cancel,
                    log,
                    fields_limit: AtomicUsize::new(0),
                    in_flight: Arc::new(AtomicUsize::new(0)),
                }),
                body_chunk: 0,
            },
            path_limit: 0,
            authority_limit: 0,
        };
        state.bound(&budget);
        state
    }

    /// Holds what the plugin's `wasi:http` resources can make the host keep to the
    /// stage's share (see [`crate::caps::budget`]).
    pub fn bound(&mut self, budget: &HostBudget) {
        self.ctx.set_field_size_limit(budget.fields());
        self.hooks
            .shared
            .fields_limit
            .store(budget.fields(), Ordering::Relaxed);
        self.hooks.body_chunk = budget.body_chunk();
        self.path_limit = budget.path_with_query();
        self.authority_limit = budget.authority();
    }

    /// The view `wasi:http` works on; `table` is the store's resource table.
    pub fn view<'a>(&'a mut self, table: &'a mut ResourceTable) -> WasiHttpCtxView<'a> {
        WasiHttpCtxView {
            ctx: &mut self.ctx,
            table,
            hooks: &mut self.hooks,
        }
    }
}

/// No grants (every request refused), nothing recorded: for `describe` calls.
impl Default for State {
    fn default() -> State {
        let broker = Broker {
            actor: crate::run::audit::Actor {
                run: String::new(),
                stage: "(describe)".into(),
                plugin: String::new(),
            },
            audit: Arc::new(crate::run::audit::AuditLog::disabled()),
            journal: Arc::new(crate::run::journal::Journal::disabled()),
            dry_run: true,
            workspace: std::path::PathBuf::new(),
        };
        State::new(
            &[],
            broker,
            (&[], &[], Arc::new(SecretStore::default())),
            Instant::now(),
            Arc::new(AtomicBool::new(false)),
            Arc::new(StageLog::sink()),
        )
    }
}

/// A copy of a broker for the futures of this module (which outlive a host call).
pub fn broker_copy(b: &Broker) -> Broker {
    Broker {
        actor: b.actor.clone(),
        audit: b.audit.clone(),
        journal: b.journal.clone(),
        dry_run: b.dry_run,
        workspace: b.workspace.clone(),
    }
}

/// The `wasi:http` types interface wasmtime-wasi-http 48 links.
const HTTP_TYPES: &str = "wasi:http/types@0.2.12";

/// Defines `set-path-with-query` and `set-authority` of `outgoing-request` again,
/// refusing values longer than the stage's share of host memory allows (see
/// [`crate::caps::budget`]): the guest gets the call's own error (as for an
/// invalid value), the stage log says which limit. Call after wasmtime-wasi-http's
/// linking.
pub fn bound_requests(linker: &mut Linker<StageState>) -> wasmtime::Result<()> {
    use wasmtime_wasi_http::p2::bindings::http::types::HostOutgoingRequest as _;
    use wasmtime_wasi_http::p2::types::HostOutgoingRequest;

    /// Whether `value` fits `limit`; audits a refusal (and notes it in the stage log,
    /// since the guest only gets the call's bare error).
    fn fits(
        state: &StageState,
        what: &str,
        value: &Option<String>,
        limit: usize,
        part: fn(&HostBudget) -> usize,
    ) -> bool {
        let len = value.as_ref().map_or(0, String::len);
        if len <= limit {
            return true;
        }
        let why = format!(
            "an outgoing request's {what} of {len} bytes is longer than this stage's limit of {limit} bytes (derived from `limits.memory`)"
        );
        let grant = HostBudget::memory_for(len, part)
            .map(|m| {
                format!(
                    "limits.memory = \"{}\"",
                    crate::manifest::units::format_size(m)
                )
            })
            .unwrap_or_default();
        let denied = if grant.is_empty() {
            state.broker.refuse(CAP, what, &why, None)
        } else {
            state.broker.deny(CAP, what, &why, &grant, None)
        };
        if let CapError::Denied(message) = denied {
            state.log.line("gantry", &message);
        }
        false
    }

    linker.allow_shadowing(true);
    let mut types = linker.instance(HTTP_TYPES)?;
    types.func_wrap(
        "[method]outgoing-request.set-path-with-query",
        |mut store: StoreContextMut<'_, StageState>,
         (req, value): (Resource<HostOutgoingRequest>, Option<String>)| {
            let state = store.data_mut();
            let limit = state.caps.http.path_limit;
            if !fits(
                state,
                "path-with-query",
                &value,
                limit,
                HostBudget::path_with_query,
            ) {
                return Ok((Err(()),));
            }
            Ok((state.http().set_path_with_query(req, value)?,))
        },
    )?;
    types.func_wrap(
        "[method]outgoing-request.set-authority",
        |mut store: StoreContextMut<'_, StageState>,
         (req, value): (Resource<HostOutgoingRequest>, Option<String>)| {
            let state = store.data_mut();
            let limit = state.caps.http.authority_limit;
            if !fits(state, "authority", &value, limit, HostBudget::authority) {
                return Ok((Err(()),));
            }
            Ok((state.http().set_authority(req, value)?,))
        },
    )?;
    linker.allow_shadowing(false);
    Ok(())
}

/// Why an address may not be contacted unless a grant names it; `None` for a
/// globally reachable unicast address. The one table of `gantry_manifest::net`,
/// which `gantry check` and `gantry audit` use too.
pub fn non_global(ip: IpAddr) -> Option<crate::manifest::net::NonGlobal> {
    crate::manifest::net::non_global(ip)
}

/// Why `path` looks like an attempt to leave a prefix (for messages only: matching
/// itself is [`HttpGrant::allows`], which normalizes the path).
pub fn path_problem(path: &str) -> Option<String> {
    let decoded = percent_decode(path);
    if decoded.contains('\\') {
        return Some(format!("path `{}` contains a backslash", shown(path)));
    }
    if decoded.split('/').any(|seg| seg == "." || seg == "..") {
        return Some(format!(
            "path `{}` contains `.` or `..` segments (after percent-decoding), which could leave the granted prefix",
            shown(path)
        ));
    }
    if decoded.contains('\0') {
        return Some(format!("path `{}` contains a NUL byte", shown(path)));
    }
    None
}

/// Percent-decodes twice (a server or proxy may decode once more than expected).
fn percent_decode(s: &str) -> String {
    fn once(s: &str) -> String {
        let b = s.as_bytes();
        let mut out = Vec::with_capacity(b.len());
        let mut i = 0;
        while i < b.len() {
            if b[i] == b'%' && i + 2 < b.len() {
                let hex = |c: u8| (c as char).to_digit(16);
                if let (Some(h), Some(l)) = (hex(b[i + 1]), hex(b[i + 2])) {
                    out.push((h * 16 + l) as u8);
                    i += 3;
                    continue;
                }
            }
            out.push(b[i]);
            i += 1;
        }
        String::from_utf8_lossy(&out).into_owned()
    }
    once(&once(s))
}


fn is_read_only(method: &Method) -> bool {
    *method == Method::GET || *method == Method::HEAD || *method == Method::OPTIONS
}

/// The parts of a request that grants are about.
#[derive(Clone, Debug)]
struct Target {
    method: String,
    scheme: String,
    /// Host as written, lowercased, IPv6 without brackets.
    host: String,
    port: u16,
    path: String,
    /// Index into `grants` of every grant that allows the request.
    grants: Vec<usize>,
}

impl Target {
    fn url(&self) -> String {
        let host = if self.host.contains(':') {
            format!("[{}]", self.host)
        } else {
            self.host.clone()
        };
        let default = if self.scheme == "https" { 443 } else { 80 };
        if self.port == default {
            format!("{}://{host}{}", self.scheme, self.path)
        } else {
            format!("{}://{host}:{}{}", self.scheme, self.port, self.path)
        }
    }

    fn detail(&self) -> Value {
        json!({ "scheme": self.scheme, "host": self.host, "port": self.port, "path": shown(&self.path) })
    }
}

/// A refusal: audited by [`Shared::refuse`], turned into a `wasi:http` error code.
struct Refusal {
    what: String,
    /// The grant that would allow it; empty when no grant can.
    grant: String,
    code: Error,
}

impl Shared {
    fn refuse(&self, method: &str, detail: Value, r: Refusal) -> Error {
        let error = if r.grant.is_empty() {
            self.broker.refuse(CAP, method, &r.what, Some(detail))
        } else {
            self.broker
                .deny(CAP, method, &r.what, &r.grant, Some(detail))
        };
        if let CapError::Denied(message) = error {
            self.log.line("gantry", &message);
        }
        r.code
    }

    /// Steps 1 and 2 of the module doc: the URL and the grant.
    fn check(&self, method: &Method, uri: &Uri) -> Result<Target, Refusal> {
        let denied = |what: String, grant: String| Refusal {
            what,
            grant,
            code: Error::HttpRequestDenied,
        };
        let m = method.as_str().to_string();
        let scheme = uri.scheme_str().unwrap_or("").to_ascii_lowercase();
        if scheme != "http" && scheme != "https" {
            return Err(denied(
                format!("scheme `{}` is not supported", shown(&scheme)),
                "a URL starting with `http://` or `https://`".into(),
            ));
        }
        let authority = uri.authority().map(|a| a.as_str()).unwrap_or("");
        if authority.contains('@') {
            return Err(denied(
                "URLs with userinfo (`user@host`) are refused".into(),
                "pass credentials in a header (e.g. `authorization: gantry-secret:NAME`)".into(),
            ));
        }
        let host = uri
            .host()
            .unwrap_or("")
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_ascii_lowercase();
        if host.is_empty() {
            return Err(denied(
                "the URL has no host".into(),
                "a URL with a host".into(),
            ));
        }
        let port = uri
            .port_u16()
            .unwrap_or(if scheme == "https" { 443 } else { 80 });
        let path = match uri.path() {
            "" => "/".to_string(),
            p => p.to_string(),
        };
        let mut t = Target {
            method: m.clone(),
            scheme,
            host,
            port,
            path,
            grants: Vec::new(),
        };
        // Methods are case-sensitive (RFC 9110 §9.1) but servers disagree: some read
        // `get` as `GET`, some `connect` as `CONNECT`. Such a request could be matched,
        // journaled and dry-run as one method and served as another, so it is refused.
        if m.bytes().any(|b| b.is_ascii_lowercase()) {
            return Err(denied(
                format!(
                    "method `{}` is not upper case (HTTP methods are case-sensitive and servers disagree about lower-case ones): send `{}`",
                    shown(&m),
                    shown(&m.to_ascii_uppercase())
                ),
                String::new(),
            ));
        }
        if *method == Method::CONNECT || *method == Method::TRACE {
            return Err(denied(
                format!(
                    "method `{m}` is never allowed (a tunnel, or an echo of the request's credentials)"
                ),
                String::new(),
            ));
        }
        t.grants = self
            .grants
            .iter()
            .enumerate()
            .filter(|(_, g)| g.allows(&m, &t.scheme, &t.host, t.port, &t.path))
            .map(|(i, _)| i)
            .collect();
        if t.grants.is_empty() {
            return Err(denied(self.explain(&t), self.suggest(&t)));
        }
        Ok(t)
    }

    /// Which part of the request no grant matches, for the refusal message. Probes
    /// [`HttpGrant::allows`] part by part (so wildcards, brackets and path
    /// normalization mean exactly what they mean when matching): host, then port,
    /// scheme, path, method.
    fn explain(&self, t: &Target) -> String {
        if self.grants.is_empty() {
            return format!(
                "`{}` is not granted (the stage has no `grants.http`)",
                shown(&t.url())
            );
        }
        // A method each grant accepts, to probe the other parts.
        let any = |g: &HttpGrant| {
            g.methods
                .first()
                .cloned()
                .unwrap_or_else(|| t.method.clone())
        };
        let list = |gs: &[&HttpGrant], f: &dyn Fn(&HttpGrant) -> String| {
            let mut v: Vec<String> = gs.iter().map(|g| format!("`{}`", f(g))).collect();
            v.dedup();
            v.join(", ")
        };
        let host: Vec<&HttpGrant> = self
            .grants
            .iter()
            .filter(|g| g.allows(&any(g), &g.scheme, &t.host, g.port, &g.path_prefix))
            .collect();
        if host.is_empty() {
            return format!("host `{}` is not granted", shown(&t.host));
        }
        let port: Vec<&HttpGrant> = host
            .iter()
            .copied()
            .filter(|g| g.allows(&any(g), &g.scheme, &t.host, t.port, &g.path_prefix))
            .collect();
        if port.is_empty() {
            return format!(
                "port {} of host `{}` is not granted (granted: {})",
                t.port,
                shown(&t.host),
                list(&host, &|g| g.port.to_string())
            );
        }
        let scheme: Vec<&HttpGrant> = port
            .iter()
            .copied()
            .filter(|g| g.allows(&any(g), &t.scheme, &t.host, t.port, &g.path_prefix))
            .collect();
        if scheme.is_empty() {
            return format!(
                "scheme `{}` is not granted for `{}:{}` (granted: {})",
                t.scheme,
                shown(&t.host),
                t.port,
                list(&port, &|g| g.scheme.clone())
            );
        }
        let path: Vec<&HttpGrant> = scheme
            .iter()
            .copied()
            .filter(|g| g.allows(&any(g), &t.scheme, &t.host, t.port, &t.path))
            .collect();
        if path.is_empty() {
            let why = match path_problem(&t.path) {
                Some(p) => format!("{p}; "),
                None => String::new(),
            };
            return format!(
                "{why}path `{}` is not under a granted prefix ({})",
                shown(&t.path),
                list(&scheme, &|g| g.path_prefix.clone())
            );
        }
        format!(
            "method `{}` is not granted for `{}` (granted: {})",
            shown(&t.method),
            shown(&t.url()),
            path.iter()
                .flat_map(|g| g.methods.iter().map(|m| format!("`{m}`")))
                .collect::<Vec<_>>()
                .join(", ")
        )
    }

    fn suggest(&self, t: &Target) -> String {
        if path_problem(&t.path).is_some() {
            return "nothing: request the resolved path (without `.` or `..` segments) under a granted prefix".into();
        }
        let url = t.url();
        if is_read_only(&Method::from_bytes(t.method.as_bytes()).unwrap_or(Method::GET)) {
            format!("grants.http = [\"{}\"]", shown(&url))
        } else {
            format!(
                "grants.http = [\"{}\"] (or `{{ url = \"{}\", methods = [\"{}\"] }}`)",
                shown(&url),
                shown(&url),
                shown(&t.method)
            )
        }
    }

    /// Step 3: replaces `gantry-secret:NAME` header values; returns the names used.
    fn substitute_secrets(
        &self,
        headers: &mut http::HeaderMap,
    ) -> Result<Vec<String>, (String, Refusal)> {
        let mut used = Vec::new();
        for (name, value) in headers.iter_mut() {
            let Some(secret) = value.as_bytes().strip_prefix(SECRET_PREFIX.as_bytes()) else {
                continue;
            };
            let secret = String::from_utf8_lossy(secret).trim().to_string();
            let refusal = |what: String, grant: String| {
                (
                    secret.clone(),
                    Refusal {
                        what,
                        grant,
                        code: Error::HttpRequestDenied,
                    },
                )
            };
            if !self.secret_names.contains(&secret) {
                return Err(refusal(
                    format!(
                        "header `{name}` refers to secret `{}`, which is not granted",
                        shown(&secret)
                    ),
                    format!("grants.secrets = [\"{}\"]", shown(&secret)),
                ));
            }
            let v = match self.secrets.value(&secret) {
                Some(Ok(v)) => v,
                Some(Err(why)) => {
                    return Err(refusal(
                        format!(
                            "header `{name}` refers to secret `{secret}`, which is not available: {why}"
                        ),
                        format!("make secret `{secret}` available (see `[secrets]`)"),
                    ));
                }
                None => {
                    return Err(refusal(
                        format!(
                            "header `{name}` refers to secret `{secret}`, which is not declared"
                        ),
                        format!("declare `{secret}` in `[secrets]`"),
                    ));
                }
            };
            let Ok(mut hv) = HeaderValue::from_str(v) else {
                return Err(refusal(
                    format!("the value of secret `{secret}` is not a valid header value"),
                    "a secret without control characters".into(),
                ));
            };
            hv.set_sensitive(true);
            *value = hv;
            used.push(secret);
        }
        Ok(used)
    }

    fn remaining(&self, started: Instant) -> Duration {
        let end = (started + MAX_REQUEST_TIME).min(self.deadline);
        end.saturating_duration_since(Instant::now())
    }
}

impl WasiHttpHooks for Hooks {
    /// A lost connection or protocol error: the plugin gets the error code, the stage
    /// log says what happened (wasmtime-wasi-http's default prints it on gantry's
    /// console, between other stages' lines).
    fn p2_error_from_hyper(&mut self, err: &hyper::Error) -> HttpErrorCode {
        self.shared
            .log
            .line("gantry", &format!("http: the connection failed: {err}"));
        HttpErrorCode::HttpProtocolError
    }

    fn p2_error_from_connect(&mut self, err: &std::io::Error) -> HttpErrorCode {
        self.shared
            .log
            .line("gantry", &format!("http: cannot connect: {err}"));
        HttpErrorCode::ConnectionRefused
    }

    fn p2_outgoing_body_buffer_chunks(&mut self) -> usize {
        1
    }

    fn p2_outgoing_body_chunk_size(&mut self) -> usize {
        self.body_chunk
    }

    fn send_request(
        &mut self,
        mut request: Request<WasiBody>,
        options: Option<RequestOptions>,
        _fut: Box<dyn Future<Output = Result<(), Error>> + Send>,
    ) -> Box<
        dyn Future<
                Output = Result<
                    (
                        Response<WasiBody>,
                        Box<dyn Future<Output = Result<(), Error>> + Send>,
                    ),
                    Error,
                >,
            > + Send,
    > {
        let shared = self.shared.clone();
        let started = Instant::now();
        let method = request.method().clone();
        let target = match shared.check(&method, request.uri()) {
            Ok(t) => t,
            Err(r) => {
                let uri = request.uri();
                let default = if uri.scheme_str() == Some("https") {
                    443
                } else {
                    80
                };
                let detail = json!({
                    "scheme": uri.scheme_str(),
                    "host": uri.host().map(shown),
                    "port": uri.port_u16().unwrap_or(default),
                    "path": shown(uri.path()),
                });
                let e = shared.refuse(method.as_str(), detail, r);
                return Box::new(async move { Err(e) });
            }
        };
        let secrets = match shared.substitute_secrets(request.headers_mut()) {
            Ok(used) => used,
            Err((name, r)) => {
                let mut detail = target.detail();
                detail["secret"] = json!(shown(&name));
                let e = shared.refuse(method.as_str(), detail, r);
                return Box::new(async move { Err(e) });
            }
        };
        let Some(slot) = Slot::take(&shared.in_flight) else {
            let e = shared.refuse(
                method.as_str(),
                target.detail(),
                Refusal {
                    what: format!(
                        "more than {MAX_REQUESTS_IN_FLIGHT} requests in flight at once (the per-stage limit): read or drop earlier responses first"
                    ),
                    grant: String::new(),
                    code: Error::HttpRequestDenied,
                },
            );
            return Box::new(async move { Err(e) });
        };
        Box::new(async move {
            let work = perform(
                shared.clone(),
                target,
                request,
                options,
                secrets,
                started,
                slot,
            );
            let limit = shared.remaining(started);
            tokio::select! {
                r = tokio::time::timeout(limit, work) => r.unwrap_or(Err(Error::HttpResponseTimeout)),
                () = cancelled(shared.cancel.clone()) => Err(Error::HttpResponseTimeout),
            }
        })
    }
}

/// One of the stage's [`MAX_REQUESTS_IN_FLIGHT`] requests, held until its response
/// body is dropped (or the request fails).
struct Slot(Arc<AtomicUsize>);

impl Slot {
    fn take(count: &Arc<AtomicUsize>) -> Option<Slot> {
        count
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                (n < MAX_REQUESTS_IN_FLIGHT).then_some(n + 1)
            })
            .ok()
            .map(|_| Slot(count.clone()))
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

/// Size of a header map as wasmtime-wasi-http counts a `fields` (each name and value
/// with its in-memory header; names once per value, so never less than its count).
fn fields_size(map: &http::HeaderMap) -> usize {
    map.iter()
        .map(|(k, v)| {
            k.as_str().len()
                + v.len()
                + std::mem::size_of::<http::HeaderName>()
                + std::mem::size_of::<HeaderValue>()
        })
        .sum()
}

/// The refusal of response headers or trailers over the stage's fields limit.
fn fields_too_large(shared: &Shared, t: &Target, what: &str, size: usize, code: Error) -> Error {
    let limit = shared.fields_limit.load(Ordering::Relaxed);
    shared.refuse(
        &t.method,
        t.detail(),
        Refusal {
            what: format!(
                "the response {what} of `{}` take {size} bytes, more than this stage's limit of {limit} per fields (derived from `limits.memory`)",
                shown(&t.url())
            ),
            grant: HostBudget::memory_for(size, HostBudget::fields)
                .map(|m| {
                    format!(
                        "limits.memory = \"{}\"",
                        crate::manifest::units::format_size(m)
                    )
                })
                .unwrap_or_default(),
            code,
        },
    )
}

/// Resolves when the stage is cancelled.
async fn cancelled(flag: Arc<AtomicBool>) {
    while !flag.load(Ordering::Relaxed) {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

type IoFuture = Box<dyn Future<Output = Result<(), Error>> + Send>;

/// Steps 4 to 7, after the grant check.
async fn perform(
    shared: Arc<Shared>,
    t: Target,
    request: Request<WasiBody>,
    options: Option<RequestOptions>,
    secrets: Vec<String>,
    started: Instant,
    slot: Slot,
) -> Result<(Response<WasiBody>, IoFuture), Error> {
    let method = request.method().clone();
    let addrs = resolve(&t.host, t.port).await?;
    for addr in &addrs {
        if let Some(kind) = non_global(addr.ip()) {
            let named = t
                .grants
                .iter()
                .any(|&i| shared.grants[i].names_ip(addr.ip()));
            if !named {
                let mut detail = t.detail();
                detail["address"] = json!(addr.ip().to_string());
                let ip = match addr.ip() {
                    IpAddr::V6(v6) => format!("[{v6}]"),
                    v4 => v4.to_string(),
                };
                let what = if t.host == addr.ip().to_string() {
                    format!("address `{}` is {kind}", addr.ip())
                } else {
                    format!(
                        "host `{}` resolves to `{}`, which is {kind}",
                        shown(&t.host),
                        addr.ip()
                    )
                };
                return Err(shared.refuse(
                    &t.method,
                    detail,
                    Refusal {
                        what,
                        grant: format!(
                            "grants.http = [\"{}://{ip}:{}{}\"] (naming the address itself)",
                            t.scheme,
                            t.port,
                            shown(&t.path)
                        ),
                        code: Error::DestinationIpProhibited,
                    },
                ));
            }
        }
    }
    let mut detail = t.detail();
    detail["address"] = json!(addrs.iter().map(|a| a.ip().to_string()).collect::<Vec<_>>());
    if !secrets.is_empty() {
        detail["secrets"] = json!(secrets);
    }
    let grant_url = shared.grants[t.grants[0]].url.clone();
    let mutating = !is_read_only(&method);

    if mutating && shared.broker.dry_run {
        let mut plan = detail.clone();
        plan["url"] = json!(shown(&t.url()));
        shared.broker.allow(
            CAP,
            &t.method,
            &format!("dry-run: planned, not sent (granted by `{grant_url}`)"),
            Some(detail),
        );
        // Read (and discard) what the plugin writes, so its body writes succeed.
        let body = http_body_util::Limited::new(request.into_body(), MAX_DRY_RUN_BODY);
        let bytes = match tokio::time::timeout(shared.remaining(started), body.collect()).await {
            Ok(Ok(c)) => Some(c.to_bytes().len()),
            _ => None,
        };
        plan["body_bytes"] = json!(bytes);
        let planned = shared.broker.effect(
            CAP,
            &t.method,
            plan,
            false,
            || true,
            || Ok(false),
            |_| Value::Null,
        );
        debug_assert!(matches!(planned, Ok(true)));
        let response = Response::builder()
            .status(200)
            .header(DRY_RUN_HEADER, "1")
            .header(http::header::CONTENT_LENGTH, "0")
            .body(
                http_body_util::Empty::<Bytes>::new()
                    .map_err(|never| match never {})
                    .boxed_unsync(),
            )
            .map_err(|e| Error::InternalError(Some(e.to_string())))?;
        return Ok((response, Box::new(async { Ok(()) })));
    }

    shared.broker.allow(
        CAP,
        &t.method,
        &format!("granted by `{grant_url}`"),
        Some(detail.clone()),
    );
    let seq = if mutating {
        let journal = shared.broker.journal.clone();
        let (run, stage) = (
            shared.broker.actor.run.clone(),
            shared.broker.actor.stage.clone(),
        );
        let (op, mut intent) = (t.method.clone(), detail);
        intent["url"] = json!(shown(&t.url()));
        let written =
            tokio::task::spawn_blocking(move || journal.intent(&run, &stage, CAP, &op, intent))
                .await;
        match written {
            Ok(Ok(seq)) => Some(seq),
            Ok(Err(e)) => {
                return Err(Error::InternalError(Some(format!(
                    "cannot write the effect journal, so nothing was sent: {e}"
                ))));
            }
            Err(e) => {
                return Err(Error::InternalError(Some(format!(
                    "journal task failed: {e}"
                ))));
            }
        }
    } else {
        None
    };
    let result = send(&shared, &t, addrs, request, options, started, slot).await;
    if let Some(seq) = seq {
        let (ok, outcome) = match &result {
            Ok((r, _)) => (true, json!({ "status": r.status().as_u16() })),
            Err(e) => (false, json!({ "error": e.to_string() })),
        };
        let journal = shared.broker.journal.clone();
        let (run, stage) = (
            shared.broker.actor.run.clone(),
            shared.broker.actor.stage.clone(),
        );
        let _ =
            tokio::task::spawn_blocking(move || journal.outcome(&run, &stage, seq, ok, outcome))
                .await;
    }
    result
}

/// Resolves `host` once; an IP literal is its own answer.
async fn resolve(host: &str, port: u16) -> Result<Vec<SocketAddr>, Error> {
    if let Ok(ip) = host.parse::<IpAddr>() {
        return Ok(vec![SocketAddr::new(ip, port)]);
    }
    let found = tokio::time::timeout(
        DNS_TIMEOUT,
        tokio::net::lookup_host((host.to_string(), port)),
    )
    .await
    .map_err(|_| Error::DnsTimeout)?
    .map_err(|e| Error::DnsError {
        rcode: Some(e.to_string()),
        info_code: None,
    })?;
    let mut addrs: Vec<SocketAddr> = Vec::new();
    for a in found {
        if !addrs.contains(&a) {
            addrs.push(a);
        }
    }
    if addrs.is_empty() {
        return Err(Error::DestinationNotFound);
    }
    Ok(addrs)
}

trait Stream: AsyncRead + AsyncWrite + Send + Sync + Unpin + 'static {}
impl<T> Stream for T where T: AsyncRead + AsyncWrite + Send + Sync + Unpin + 'static {}

/// rustls with the ring provider (the one wasmtime-wasi-http builds) and the webpki roots.
static TLS: LazyLock<Result<Arc<rustls::ClientConfig>, String>> = LazyLock::new(|| {
    let roots = rustls::RootCertStore {
        roots: webpki_roots::TLS_SERVER_ROOTS.into(),
    };
    rustls::ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .with_safe_default_protocol_versions()
        .map(|b| Arc::new(b.with_root_certificates(roots).with_no_client_auth()))
        .map_err(|e| e.to_string())
});

fn shorter(option: Option<Duration>, cap: Duration) -> Duration {
    option.map_or(cap, |o| o.min(cap))
}

/// Connects to one of the checked addresses (never resolving again), then TLS and
/// HTTP/1.1; mirrors wasmtime-wasi-http's `default_send_request`.
async fn send(
    shared: &Arc<Shared>,
    t: &Target,
    addrs: Vec<SocketAddr>,
    mut request: Request<WasiBody>,
    options: Option<RequestOptions>,
    started: Instant,
    slot: Slot,
) -> Result<(Response<WasiBody>, IoFuture), Error> {
    let connect_timeout = shorter(options.and_then(|o| o.connect_timeout), CONNECT_TIMEOUT);
    let first_byte = shorter(options.and_then(|o| o.first_byte_timeout), MAX_REQUEST_TIME);
    let between = shorter(
        options.and_then(|o| o.between_bytes_timeout),
        MAX_REQUEST_TIME,
    );

    let mut last = Error::ConnectionRefused;
    let mut tcp = None;
    for addr in &addrs {
        match tokio::time::timeout(connect_timeout, tokio::net::TcpStream::connect(addr)).await {
            Ok(Ok(s)) => {
                tcp = Some(s);
                break;
            }
            Ok(Err(e)) => last = Error::Connect(e),
            Err(_) => last = Error::ConnectionTimeout,
        }
    }
    let tcp = tcp.ok_or(last)?;
    let stream: Box<dyn Stream> = if t.scheme == "https" {
        let name = match t.host.parse::<IpAddr>() {
            Ok(ip) => rustls::pki_types::ServerName::from(ip),
            Err(_) => rustls::pki_types::ServerName::try_from(t.host.clone())
                .map_err(Error::InvalidDnsNameError)?,
        };
        let config = TLS
            .clone()
            .map_err(|e| Error::InternalError(Some(format!("TLS set-up failed: {e}"))))?;
        let connector = tokio_rustls::TlsConnector::from(config);
        let tls = tokio::time::timeout(connect_timeout, connector.connect(name, tcp))
            .await
            .map_err(|_| Error::ConnectionTimeout)?
            .map_err(Error::Tls)?;
        Box::new(tls)
    } else {
        Box::new(tcp)
    };
    let (mut sender, conn) = tokio::time::timeout(
        connect_timeout,
        hyper::client::conn::http1::Builder::new().handshake::<_, WasiBody>(TokioIo::new(stream)),
    )
    .await
    .map_err(|_| Error::ConnectionTimeout)??;

    // Origin-form request line: the authority travels in the `host` header only.
    let pq = request
        .uri()
        .path_and_query()
        .map(|p| p.as_str().to_string())
        .unwrap_or_else(|| "/".into());
    *request.uri_mut() = Uri::builder()
        .path_and_query(pq)
        .build()
        .map_err(|_| Error::HttpRequestUriInvalid)?;

    let send = async move {
        tokio::time::timeout(first_byte, sender.send_request(request))
            .await
            .map_err(|_| Error::ConnectionReadTimeout)?
            .map_err(Error::from)
    };
    let mut send = std::pin::pin!(send);
    let mut conn = Some(conn);
    // Drive the connection while waiting for the response head.
    let response = std::future::poll_fn(|cx| match send.as_mut().poll(cx) {
        Poll::Ready(r) => Poll::Ready(r),
        Poll::Pending => {
            let Some(c) = conn.as_mut() else {
                return Poll::Pending;
            };
            match Pin::new(c).poll(cx) {
                Poll::Pending => Poll::Pending,
                Poll::Ready(r) => {
                    conn = None;
                    match r {
                        Ok(()) => send.as_mut().poll(cx),
                        Err(e) => Poll::Ready(Err(Error::from(e))),
                    }
                }
            }
        }
    })
    .await?;

    let declared = response
        .headers()
        .get(http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if let Some(n) = declared.filter(|n| *n > MAX_RESPONSE_BODY) {
        return Err(too_large(shared, t, Some(n)));
    }
    let head = fields_size(response.headers());
    if head > shared.fields_limit.load(Ordering::Relaxed) {
        let code = Error::HttpResponseHeaderSectionSize(u32::try_from(head).ok());
        return Err(fields_too_large(shared, t, "headers", head, code));
    }
    let trailers_too_large = {
        let (shared, t) = (shared.clone(), t.clone());
        Box::new(move |size: usize| {
            let code = Error::HttpResponseTrailerSectionSize(u32::try_from(size).ok());
            fields_too_large(&shared, &t, "trailers", size, code)
        }) as Box<dyn FnOnce(usize) -> Error + Send>
    };
    let end = tokio::time::Instant::now() + shared.remaining(started);
    let overflow = {
        let (shared, t) = (shared.clone(), t.clone());
        Box::new(move || {
            too_large(&shared, &t, None);
        }) as Box<dyn FnOnce() + Send>
    };
    let mut tick = tokio::time::interval(Duration::from_millis(50));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    let response = response.map(|incoming| {
        LimitedBody {
            incoming,
            remaining: MAX_RESPONSE_BODY,
            deadline: Box::pin(tokio::time::sleep_until(end)),
            between,
            idle: Box::pin(tokio::time::sleep(between)),
            cancel: shared.cancel.clone(),
            tick,
            overflow: Some(overflow),
            trailer_limit: shared.fields_limit.load(Ordering::Relaxed),
            trailers_too_large: Some(trailers_too_large),
            _slot: slot,
            done: false,
        }
        .boxed_unsync()
    });
    let io: IoFuture = Box::new(async move {
        match conn {
            Some(c) => c.await.map_err(Error::from),
            None => Ok(()),
        }
    });
    Ok((response, io))
}

/// Audits a response over [`MAX_RESPONSE_BODY`] and returns its error code.
fn too_large(shared: &Shared, t: &Target, declared: Option<u64>) -> Error {
    let what = match declared {
        Some(n) => format!(
            "the response of `{}` declares {n} bytes, more than the {MAX_RESPONSE_BODY}-byte cap",
            shown(&t.url())
        ),
        None => format!(
            "the response of `{}` is longer than the {MAX_RESPONSE_BODY}-byte cap",
            shown(&t.url())
        ),
    };
    shared.refuse(
        &t.method,
        t.detail(),
        Refusal {
            what,
            grant: "nothing yet: the response cap is not configurable (fetch a smaller resource)"
                .into(),
            code: Error::HttpResponseBodySize(declared),
        },
    )
}

/// The response body as the plugin reads it: capped in size, in total time (the
/// request's deadline) and between bytes, and aborted when the stage is cancelled.
struct LimitedBody {
    incoming: hyper::body::Incoming,
    remaining: u64,
    deadline: Pin<Box<tokio::time::Sleep>>,
    between: Duration,
    idle: Pin<Box<tokio::time::Sleep>>,
    cancel: Arc<AtomicBool>,
    tick: tokio::time::Interval,
    overflow: Option<Box<dyn FnOnce() + Send>>,
    trailer_limit: usize,
    trailers_too_large: Option<Box<dyn FnOnce(usize) -> Error + Send>>,
    /// The request's place among the stage's requests in flight, freed with the body.
    _slot: Slot,
    done: bool,
}

impl Body for LimitedBody {
    type Data = Bytes;
    type Error = Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Error>>> {
        let this = self.get_mut();
        if this.done {
            return Poll::Ready(None);
        }
        let fail = |this: &mut LimitedBody, e: Error| {
            this.done = true;
            Poll::Ready(Some(Err(e)))
        };
        if this.cancel.load(Ordering::Relaxed) {
            return fail(this, Error::HttpResponseTimeout);
        }
        match Pin::new(&mut this.incoming).poll_frame(cx) {
            Poll::Ready(Some(Ok(frame))) => {
                if let Some(trailers) = frame.trailers_ref() {
                    let size = fields_size(trailers);
                    if size > this.trailer_limit {
                        let e = match this.trailers_too_large.take() {
                            Some(f) => f(size),
                            None => Error::HttpResponseTrailerSectionSize(None),
                        };
                        return fail(this, e);
                    }
                }
                if let Some(data) = frame.data_ref() {
                    let n = data.len() as u64;
                    if n > this.remaining {
                        if let Some(f) = this.overflow.take() {
                            f();
                        }
                        return fail(this, Error::HttpResponseBodySize(None));
                    }
                    this.remaining -= n;
                }
                this.idle
                    .as_mut()
                    .reset(tokio::time::Instant::now() + this.between);
                Poll::Ready(Some(Ok(frame)))
            }
            Poll::Ready(Some(Err(e))) => {
                let e = if e.is_timeout() {
                    Error::HttpResponseTimeout
                } else {
                    Error::from(e)
                };
                fail(this, e)
            }
            Poll::Ready(None) => {
                this.done = true;
                Poll::Ready(None)
            }
            Poll::Pending => {
                if this.deadline.as_mut().poll(cx).is_ready() {
                    return fail(this, Error::HttpResponseTimeout);
                }
                if this.idle.as_mut().poll(cx).is_ready() {
                    return fail(this, Error::ConnectionReadTimeout);
                }
                while this.tick.poll_tick(cx).is_ready() {
                    if this.cancel.load(Ordering::Relaxed) {
                        return fail(this, Error::HttpResponseTimeout);
                    }
                }
                Poll::Pending
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.done || self.incoming.is_end_stream()
    }
}

/// The http capability (`wasi:http`, through wasmtime-wasi-http and [`Hooks`]).
pub struct Http;

impl super::Capability for Http {
    type State = State;
    const DESCRIPTION: &'static super::describe::Description = &describe::DESCRIPTION;

    fn link(linker: &mut Linker<StageState>) -> anyhow::Result<()> {
        // `wasi:http/outgoing-handler`: every request goes through the hooks; then the
        // same names again, bounded by the stage's deadline and budget.
        wasmtime_wasi_http::p2::add_only_http_to_linker_sync(linker)?;
        bound_requests(linker)?;
        Ok(())
    }

    fn prepare(cx: &super::Prepare<'_>) -> State {
        let g = &cx.setup.grants;
        let mut state = State::new(
            &g.http,
            broker_copy(cx.broker),
            (&g.secrets, &g.reveal, cx.setup.secrets.clone()),
            cx.deadline,
            cx.setup.cancel.clone(),
            cx.setup.log.clone(),
        );
        state.bound(cx.budget);
        state
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().expect("test address")
    }

    #[test]
    fn global_addresses_pass() {
        for a in [
            "1.1.1.1",
            "8.8.8.8",
            "93.184.216.34",
            "172.15.0.1",
            "172.32.0.1",
            "100.63.255.255",
            "2606:4700::1111",
            "2a00:1450::1",
        ] {
            assert_eq!(non_global(ip(a)), None, "{a}");
        }
    }

    #[test]
    fn non_global_addresses_are_refused() {
        for a in [
            "127.0.0.1",
            "127.1.2.3",
            "0.0.0.0",
            "0.1.2.3",
            "10.0.0.1",
            "172.16.0.1",
            "172.31.255.255",
            "192.168.1.1",
            "169.254.169.254",
            "169.254.0.1",
            "100.64.0.1",
            "192.0.2.1",
            "198.18.0.1",
            "224.0.0.1",
            "255.255.255.255",
            "::",
            "::1",
            "fe80::1",
            "fc00::1",
            "fd12:3456::1",
            "ff02::1",
            "::ffff:127.0.0.1",
            "::ffff:169.254.169.254",
            "::ffff:10.0.0.1",
            "64:ff9b::a9fe:a9fe",
            "2002:7f00:1::",
            "2001:db8::1",
            "::127.0.0.1",
            // Found by the attack suite: forms the old copy of the table missed.
            "64:ff9b::7f00:1",
            "::7f00:1",
            "64:ff9b:1::7f00:1",
            "3fff::1",
            "5f00::1",
        ] {
            assert!(non_global(ip(a)).is_some(), "{a} should be refused");
        }
        assert!(
            non_global(ip("169.254.169.254")).is_some_and(|k| k.to_string().contains("metadata"))
        );
        assert_eq!(non_global(ip("::ffff:8.8.8.8")), None);
        assert_eq!(non_global(ip("64:ff9b::808:808")), None);
    }

    #[test]
    fn at_most_so_many_requests_in_flight() {
        let count = Arc::new(AtomicUsize::new(0));
        let held: Vec<Slot> = (0..MAX_REQUESTS_IN_FLIGHT)
            .filter_map(|_| Slot::take(&count))
            .collect();
        assert_eq!(held.len(), MAX_REQUESTS_IN_FLIGHT);
        assert!(Slot::take(&count).is_none());
        drop(held);
        assert_eq!(count.load(Ordering::Relaxed), 0);
        assert!(Slot::take(&count).is_some());
    }

    #[test]
    fn response_fields_are_counted_as_wasmtime_counts_them() {
        let mut map = http::HeaderMap::new();
        map.insert("x-a", HeaderValue::from_static("12345"));
        map.append("x-a", HeaderValue::from_static("6"));
        let per = std::mem::size_of::<http::HeaderName>() + std::mem::size_of::<HeaderValue>();
        assert_eq!(fields_size(&map), 3 + 5 + 3 + 1 + 2 * per);
    }

    #[test]
    fn paths_that_could_escape_a_prefix() {
        for p in [
            "/v1/../admin",
            "/v1/./x",
            "/v1/%2e%2e/admin",
            "/v1/%2E%2e/admin",
            "/v1/%252e%252e/admin",
            "/v1/..%2fadmin",
            "/v1\\..\\admin",
            "/..",
        ] {
            assert!(path_problem(p).is_some(), "{p}");
        }
        for p in [
            "/",
            "/v1/",
            "/v1/a..b/c",
            "/v1/...",
            "/v1/x%2fy",
            "/v1/.well-known",
        ] {
            assert_eq!(path_problem(p), None, "{p}");
        }
    }
}
