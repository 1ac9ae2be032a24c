//! HTTP(S) requests from a plugin: a small blocking client on the standard
//! `wasi:http/outgoing-handler` import.
//!
//! The host sends the request itself, and only if the stage grants it
//! (`grants.http = ["https://api.example.com/v1/"]`): scheme, host, port, path
//! prefix and, if the grant lists them, methods. Names that resolve to loopback,
//! private or link-local addresses are refused unless the grant names the address.
//! A refusal is [`Error::Denied`]; why is written to the run's `audit.jsonl`.
//!
//! ```no_run
//! use gantry_sdk::http;
//!
//! # fn demo() -> Result<(), gantry_sdk::Error> {
//! let index = http::get("https://api.example.com/v1/index.json")?;
//! if index.status != 200 {
//!     return Err(gantry_sdk::Error::failed(format!("index: HTTP {}", index.status)));
//! }
//!
//! // A token the plugin never sees: the host puts the value of secret
//! // `UPLOAD_TOKEN` in the header (needs `grants.secrets = ["UPLOAD_TOKEN"]`).
//! let sent = http::Request::post("https://api.example.com/v1/upload")
//!     .header("content-type", "application/json")
//!     .secret_header("authorization", "UPLOAD_TOKEN")
//!     .body(br#"{"version":"1.2.3"}"#.to_vec())
//!     .send()?;
//! if sent.dry_run() {
//!     // `gantry run --dry-run`: nothing was sent, the host answered 200 itself.
//! }
//! # Ok(())
//! # }
//! ```
//!
//! What to expect from the host:
//! - redirects are not followed: a `3xx` is returned as it is (see
//!   [`Response::location`]); following it is a new request, checked again;
//! - response bodies are capped (16 MiB) and a request takes at most 30 s;
//! - under `--dry-run`, `GET`/`HEAD`/`OPTIONS` are sent; any other method is not: the
//!   answer is a `200` with an empty body and the header `x-gantry-dry-run: 1`.
//!
//! Other languages use `wasi:http/outgoing-handler` directly; the host behaves the same.

use std::time::Duration;

/// Header value prefix the host replaces with a granted secret's value.
pub const SECRET_PREFIX: &str = "gantry-secret:";

/// Why a request did not produce a response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Error {
    /// The URL is not `http(s)://host[:port][/path][?query]`.
    InvalidUrl(String),
    /// The host refused the request: not granted, or a forbidden address.
    Denied(String),
    /// Connect, first byte, between bytes or total time ran out.
    Timeout(String),
    /// The response body is larger than the host's cap.
    TooLarge(String),
    /// Anything else (DNS, connection, TLS, protocol).
    Failed(String),
}

impl std::fmt::Display for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Error::InvalidUrl(m) => write!(f, "invalid URL: {m}"),
            Error::Denied(m) => write!(f, "denied: {m}"),
            Error::Timeout(m) => write!(f, "timed out: {m}"),
            Error::TooLarge(m) => write!(f, "response too large: {m}"),
            Error::Failed(m) => f.write_str(m),
        }
    }
}

impl std::error::Error for Error {}

impl From<Error> for crate::Error {
    fn from(e: Error) -> crate::Error {
        match e {
            Error::Denied(m) => crate::Error::Denied(m),
            other => crate::Error::Failed(other.to_string()),
        }
    }
}

/// A response, body read in full.
#[derive(Debug, Clone)]
pub struct Response {
    pub status: u16,
    /// As received, names lower-case.
    pub headers: Vec<(String, Vec<u8>)>,
    pub body: Vec<u8>,
}

impl Response {
    /// The first value of header `name` (case-insensitive), if it is UTF-8.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .and_then(|(_, v)| std::str::from_utf8(v).ok())
    }

    /// The body as text (invalid UTF-8 replaced).
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    pub fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
    }

    /// `Location` of a redirect (`3xx`), which the client does not follow.
    pub fn location(&self) -> Option<&str> {
        if (300..400).contains(&self.status) {
            self.header("location")
        } else {
            None
        }
    }

    /// Whether the host answered for a request it did not send (`--dry-run`).
    pub fn dry_run(&self) -> bool {
        self.header("x-gantry-dry-run") == Some("1")
    }
}

/// A request under construction; [`Request::send`] sends it and reads the answer.
#[derive(Debug, Clone)]
pub struct Request {
    method: String,
    url: String,
    headers: Vec<(String, Vec<u8>)>,
    body: Option<Vec<u8>>,
    timeout: Option<Duration>,
}

impl Request {
    /// Any method (`"GET"`, `"PROPFIND"`, …).
    pub fn new(method: &str, url: impl Into<String>) -> Request {
        Request {
            method: method.to_ascii_uppercase(),
            url: url.into(),
            headers: Vec::new(),
            body: None,
            timeout: None,
        }
    }
    pub fn get(url: impl Into<String>) -> Request {
        Request::new("GET", url)
    }
    pub fn head(url: impl Into<String>) -> Request {
        Request::new("HEAD", url)
    }
    pub fn post(url: impl Into<String>) -> Request {
        Request::new("POST", url)
    }
    pub fn put(url: impl Into<String>) -> Request {
        Request::new("PUT", url)
    }
    pub fn patch(url: impl Into<String>) -> Request {
        Request::new("PATCH", url)
    }
    pub fn delete(url: impl Into<String>) -> Request {
        Request::new("DELETE", url)
    }

    /// Adds a header (`host`, `connection`, `transfer-encoding` and the like are
    /// set by the host and refused here).
    pub fn header(mut self, name: &str, value: impl AsRef<[u8]>) -> Request {
        self.headers
            .push((name.to_ascii_lowercase(), value.as_ref().to_vec()));
        self
    }

    /// Adds a header whose value is the granted secret `secret`, filled in by the
    /// host: the plugin never holds the value.
    pub fn secret_header(self, name: &str, secret: &str) -> Request {
        self.header(name, format!("{SECRET_PREFIX}{secret}"))
    }

    pub fn body(mut self, body: impl Into<Vec<u8>>) -> Request {
        self.body = Some(body.into());
        self
    }

    /// Shortens the host's timeouts (connect, first byte, between bytes); the host
    /// caps them anyway.
    pub fn timeout(mut self, timeout: Duration) -> Request {
        self.timeout = Some(timeout);
        self
    }

    /// Sends the request and reads the whole response.
    pub fn send(self) -> Result<Response, Error> {
        let url = Url::parse(&self.url)?;
        imp::send(self, url)
    }
}

/// `GET url`.
pub fn get(url: &str) -> Result<Response, Error> {
    Request::get(url).send()
}

/// The parts of a URL that `wasi:http` takes separately.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Url {
    https: bool,
    authority: String,
    path_with_query: String,
}

impl Url {
    fn parse(url: &str) -> Result<Url, Error> {
        let bad = |why: &str| Error::InvalidUrl(format!("`{}`: {why}", shown(url)));
        let (scheme, rest) = url
            .split_once("://")
            .ok_or_else(|| bad("expected `http://` or `https://`"))?;
        let https = match scheme.to_ascii_lowercase().as_str() {
            "https" => true,
            "http" => false,
            _ => return Err(bad("the scheme must be `http` or `https`")),
        };
        let rest = rest.split('#').next().unwrap_or_default();
        let end = rest.find(['/', '?']).unwrap_or(rest.len());
        let (authority, tail) = rest.split_at(end);
        if authority.is_empty() {
            return Err(bad("no host"));
        }
        if authority.contains('@') {
            return Err(bad(
                "credentials in the URL are not supported; use a header",
            ));
        }
        if authority
            .chars()
            .any(|c| c.is_whitespace() || c.is_control())
            || tail.chars().any(|c| c.is_control() || c == ' ')
        {
            return Err(bad("spaces or control characters (percent-encode them)"));
        }
        let path_with_query = if tail.starts_with('?') || tail.is_empty() {
            format!("/{tail}")
        } else {
            tail.to_string()
        };
        Ok(Url {
            https,
            authority: authority.to_string(),
            path_with_query,
        })
    }

    /// The URL without its query, for messages (a query may carry tokens).
    fn shown(&self) -> String {
        let path = self.path_with_query.split('?').next().unwrap_or("/");
        let scheme = if self.https { "https" } else { "http" };
        format!("{scheme}://{}{path}", self.authority)
    }
}

fn shown(s: &str) -> String {
    let s = s.split('?').next().unwrap_or_default();
    s.chars().take(200).collect()
}

#[cfg(target_arch = "wasm32")]
mod imp {
    use super::{Error, Request, Response, Url};
    use wasip2::http::outgoing_handler;
    use wasip2::http::types::{
        ErrorCode, Fields, IncomingBody, Method, OutgoingBody, OutgoingRequest, RequestOptions,
        Scheme,
    };
    use wasip2::io::streams::StreamError;

    fn method(m: &str) -> Method {
        match m {
            "GET" => Method::Get,
            "HEAD" => Method::Head,
            "POST" => Method::Post,
            "PUT" => Method::Put,
            "DELETE" => Method::Delete,
            "CONNECT" => Method::Connect,
            "OPTIONS" => Method::Options,
            "TRACE" => Method::Trace,
            "PATCH" => Method::Patch,
            other => Method::Other(other.to_string()),
        }
    }

    fn from_code(code: ErrorCode, what: &str) -> Error {
        match code {
            ErrorCode::HttpRequestDenied => Error::Denied(format!(
                "the host refused `{what}`: not allowed by the stage's `grants.http` (the run's audit.jsonl says which part)"
            )),
            ErrorCode::DestinationIpProhibited => Error::Denied(format!(
                "the host refused `{what}`: its address is loopback, private or link-local and no grant names it (see audit.jsonl)"
            )),
            ErrorCode::HttpResponseBodySize(n) => Error::TooLarge(match n {
                Some(n) => format!("`{what}`: {n} bytes is over the host's cap"),
                None => format!("`{what}`: the body is over the host's cap"),
            }),
            ErrorCode::DnsTimeout
            | ErrorCode::ConnectionTimeout
            | ErrorCode::ConnectionReadTimeout
            | ErrorCode::ConnectionWriteTimeout
            | ErrorCode::HttpResponseTimeout => Error::Timeout(format!("`{what}`: {code:?}")),
            other => Error::Failed(format!("`{what}`: {other:?}")),
        }
    }

    pub(super) fn send(req: Request, url: Url) -> Result<Response, Error> {
        let what = format!("{} {}", req.method, url.shown());
        let failed = |m: String| Error::Failed(format!("`{what}`: {m}"));
        let mut headers = req.headers.clone();
        let has_length = headers.iter().any(|(k, _)| k == "content-length");
        if let (Some(body), false) = (&req.body, has_length) {
            headers.push(("content-length".into(), body.len().to_string().into_bytes()));
        }
        let fields =
            Fields::from_list(&headers).map_err(|e| failed(format!("header refused: {e:?}")))?;
        let request = OutgoingRequest::new(fields);
        request
            .set_method(&method(&req.method))
            .map_err(|()| failed("invalid method".into()))?;
        let scheme = if url.https {
            Scheme::Https
        } else {
            Scheme::Http
        };
        request
            .set_scheme(Some(&scheme))
            .map_err(|()| failed("invalid scheme".into()))?;
        request
            .set_authority(Some(&url.authority))
            .map_err(|()| Error::InvalidUrl(format!("invalid host `{}`", url.authority)))?;
        request
            .set_path_with_query(Some(&url.path_with_query))
            .map_err(|()| Error::InvalidUrl(format!("invalid path `{}`", url.shown())))?;
        let out_body = match &req.body {
            Some(_) => Some(
                request
                    .body()
                    .map_err(|()| failed("request body unavailable".into()))?,
            ),
            None => None,
        };
        let options = RequestOptions::new();
        if let Some(t) = req.timeout {
            let ns = u64::try_from(t.as_nanos()).unwrap_or(u64::MAX);
            let _ = options.set_connect_timeout(Some(ns));
            let _ = options.set_first_byte_timeout(Some(ns));
            let _ = options.set_between_bytes_timeout(Some(ns));
        }
        let future =
            outgoing_handler::handle(request, Some(options)).map_err(|c| from_code(c, &what))?;

        // The body is written after `handle`: the host streams it as it comes.
        let mut write_error = None;
        if let (Some(out), Some(bytes)) = (out_body, &req.body) {
            match out.write() {
                Ok(stream) => {
                    for chunk in bytes.chunks(4096) {
                        if let Err(e) = stream.blocking_write_and_flush(chunk) {
                            write_error = Some(match e {
                                StreamError::Closed => {
                                    "the host closed the request body".to_string()
                                }
                                StreamError::LastOperationFailed(e) => e.to_debug_string(),
                            });
                            break;
                        }
                    }
                    drop(stream);
                }
                Err(()) => write_error = Some("request body stream unavailable".into()),
            }
            if write_error.is_none() {
                write_error = OutgoingBody::finish(out, None)
                    .err()
                    .map(|code| format!("{code:?}"));
            }
        }

        let answer = loop {
            if let Some(answer) = future.get() {
                break answer;
            }
            future.subscribe().block();
        };
        drop(future);
        // A refusal explains a failed body write: report the refusal.
        let response = match answer {
            Ok(Ok(r)) => r,
            Ok(Err(code)) => return Err(from_code(code, &what)),
            Err(()) => return Err(failed("response already taken".into())),
        };
        if let Some(e) = write_error {
            return Err(failed(format!("writing the request body: {e}")));
        }
        let status = response.status();
        let headers = response.headers().entries();
        let incoming = response
            .consume()
            .map_err(|()| failed("response body unavailable".into()))?;
        let mut body = Vec::new();
        {
            let stream = incoming
                .stream()
                .map_err(|()| failed("response body unavailable".into()))?;
            loop {
                match stream.blocking_read(64 * 1024) {
                    Ok(chunk) => body.extend_from_slice(&chunk),
                    Err(StreamError::Closed) => break,
                    Err(StreamError::LastOperationFailed(e)) => {
                        return Err(match wasip2::http::types::http_error_code(&e) {
                            Some(code) => from_code(code, &what),
                            // wasmtime-wasi-http 48 passes body errors as text only.
                            None => {
                                let text = e.to_debug_string();
                                if text.contains("body size exceeds limit") {
                                    Error::TooLarge(format!(
                                        "`{what}`: the body is over the host's cap"
                                    ))
                                } else if text.to_ascii_lowercase().contains("timeout") {
                                    Error::Timeout(format!("`{what}`: {text}"))
                                } else {
                                    failed(text)
                                }
                            }
                        });
                    }
                }
            }
        }
        drop(IncomingBody::finish(incoming));
        drop(response);
        Ok(Response {
            status,
            headers,
            body,
        })
    }
}

#[cfg(not(target_arch = "wasm32"))]
mod imp {
    use super::{Error, Request, Response, Url};

    pub(super) fn send(req: Request, url: Url) -> Result<Response, Error> {
        Err(Error::Failed(format!(
            "`{} {}`: gantry_sdk::http works only inside a plugin (wasm32-wasip2)",
            req.method,
            url.shown()
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls() {
        let u = Url::parse("https://api.example.com/v1/x?a=1#frag").expect("valid");
        assert_eq!(
            u,
            Url {
                https: true,
                authority: "api.example.com".into(),
                path_with_query: "/v1/x?a=1".into()
            }
        );
        assert_eq!(u.shown(), "https://api.example.com/v1/x");
        let u = Url::parse("http://127.0.0.1:8080").expect("valid");
        assert_eq!(
            (u.authority.as_str(), u.path_with_query.as_str()),
            ("127.0.0.1:8080", "/")
        );
        let u = Url::parse("HTTP://[::1]:80?q").expect("valid");
        assert_eq!(
            (u.https, u.authority.as_str(), u.path_with_query.as_str()),
            (false, "[::1]:80", "/?q")
        );
        for bad in [
            "ftp://x/",
            "example.com",
            "https:///x",
            "https://user:pw@x/",
            "https://x/a b",
        ] {
            assert!(
                matches!(Url::parse(bad), Err(Error::InvalidUrl(_))),
                "{bad}"
            );
        }
    }

    #[test]
    fn native_build_refuses() {
        assert!(matches!(get("https://example.com/"), Err(Error::Failed(_))));
        let e: crate::Error = Error::Denied("x".into()).into();
        assert!(matches!(e, crate::Error::Denied(_)));
    }
}
