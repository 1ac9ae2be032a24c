//! Sending a request that passed the policy (steps 4 to 8): resolving once,
//! connecting to the checked address, TLS, the exchange under its deadlines and
//! caps, the response body counted against its cap.

#[allow(unused_imports)]
use super::*;

/// One of the stage's [`MAX_REQUESTS_IN_FLIGHT`] requests, held until its response
/// body is dropped (or the request fails).
pub(super) struct Slot(pub(super) Arc<AtomicUsize>);

impl Slot {
    pub(super) fn take(count: &Arc<AtomicUsize>) -> Option<Slot> {
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
pub(super) fn fields_size(map: &http::HeaderMap) -> usize {
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
pub(super) fn fields_too_large(
    shared: &Shared,
    t: &Target,
    what: &str,
    size: usize,
    code: Error,
) -> Error {
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
pub(super) async fn cancelled(flag: Arc<AtomicBool>) {
    while !flag.load(Ordering::Relaxed) {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

pub(super) type IoFuture = Box<dyn Future<Output = Result<(), Error>> + Send>;

/// Steps 4 to 7, after the grant check.
pub(super) async fn perform(
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
pub(super) async fn resolve(host: &str, port: u16) -> Result<Vec<SocketAddr>, Error> {
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

pub(super) trait Stream: AsyncRead + AsyncWrite + Send + Sync + Unpin + 'static {}
impl<T> Stream for T where T: AsyncRead + AsyncWrite + Send + Sync + Unpin + 'static {}

/// rustls with the ring provider (the one wasmtime-wasi-http builds) and the webpki roots.
pub(super) static TLS: LazyLock<Result<Arc<rustls::ClientConfig>, String>> = LazyLock::new(|| {
    let roots = rustls::RootCertStore {
        roots: webpki_roots::TLS_SERVER_ROOTS.into(),
    };
    rustls::ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .with_safe_default_protocol_versions()
        .map(|b| Arc::new(b.with_root_certificates(roots).with_no_client_auth()))
        .map_err(|e| e.to_string())
});

pub(super) fn shorter(option: Option<Duration>, cap: Duration) -> Duration {
    option.map_or(cap, |o| o.min(cap))
}

/// Connects to one of the checked addresses (never resolving again), then TLS and
/// HTTP/1.1; mirrors wasmtime-wasi-http's `default_send_request`.
pub(super) async fn send(
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
pub(super) fn too_large(shared: &Shared, t: &Target, declared: Option<u64>) -> Error {
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
pub(super) struct LimitedBody {
    pub(super) incoming: hyper::body::Incoming,
    pub(super) remaining: u64,
    pub(super) deadline: Pin<Box<tokio::time::Sleep>>,
    pub(super) between: Duration,
    pub(super) idle: Pin<Box<tokio::time::Sleep>>,
    pub(super) cancel: Arc<AtomicBool>,
    pub(super) tick: tokio::time::Interval,
    pub(super) overflow: Option<Box<dyn FnOnce() + Send>>,
    pub(super) trailer_limit: usize,
    pub(super) trailers_too_large: Option<Box<dyn FnOnce(usize) -> Error + Send>>,
    /// The request's place among the stage's requests in flight, freed with the body.
    pub(super) _slot: Slot,
    pub(super) done: bool,
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
