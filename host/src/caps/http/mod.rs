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
mod policy;
#[cfg(test)]
mod tests;
mod transport;

use policy::*;
pub use policy::{non_global, path_problem};
use transport::*;

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
use crate::caps::bindings::types::CapError;
use crate::caps::budget::{HostBudget, MAX_REQUESTS_IN_FLIGHT};
use crate::caps::context::StageState;
use crate::caps::secrets::SecretStore;
use crate::manifest::HttpGrant;
use crate::manifest::text::brief as shown;
use crate::run::log::StageLog;

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
