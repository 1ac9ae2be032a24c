//! `grants.http`: origins and path prefixes a plugin may send requests to.
//!
//! Parsing of grant URLs is strict and hand-written (what a grant means must not
//! depend on a URL library's leniency): see [`HttpGrant::parse`]. Matching
//! ([`HttpGrant::allows`], [`HttpGrant::names_ip`]) is pure, total and never panics —
//! it is a fuzz target.
//!
//! Request paths are normalized before matching: percent-encoded unreserved
//! characters are decoded (`%2e` → `.`, `%7E` → `~`), other escapes upper-cased,
//! then `.` and `..` segments removed (RFC 3986 §5.2.4). A request is allowed only if
//! the result is under the prefix both with and without merging empty segments
//! (`/v1//../x` is `/v1/x` to some servers and `/x` to others). Requests that servers
//! disagree about are refused outright: a literal `\`, a segment that hides a dot
//! segment behind an encoded separator (`..%2F`, `..%5C`) or a path parameter
//! (`..;x`), NUL, whitespace, control and non-ASCII bytes, malformed escapes.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use serde::{Deserialize, Serialize};
use toml::Spanned;
use toml::de::DeValue;

use crate::diag::{Diagnostic, Span};
use crate::suggest::{did_you_mean, list};
use crate::walk::{Cx, Val, span_of};

/// One entry of `grants.http`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct HttpGrant {
    /// The URL as written.
    pub url: String,
    /// `"http"` or `"https"`.
    pub scheme: String,
    /// Lower case, without a trailing dot: a DNS name, `*.example.com` (one leftmost
    /// label), an IPv4 address or a bracketed IPv6 address (`[::1]`, canonical form).
    pub host: String,
    /// Explicit, or the scheme's default (80, 443).
    pub port: u16,
    /// Starts with `/`, default `"/"`; percent-escapes normalized (unreserved
    /// characters decoded, hex digits upper-cased).
    pub path_prefix: String,
    /// Exactly as sent (upper case: methods are case-sensitive); empty = any method.
    pub methods: Vec<String>,
}

/// Methods a grant may name. `CONNECT` opens a tunnel to anywhere and `TRACE`
/// echoes requests (credentials included): neither can be granted.
const METHODS: &[&str] = &["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"];

/// Why a grant URL was refused.
#[derive(Debug, PartialEq, Eq)]
struct UrlError {
    reason: String,
    hint: String,
    /// Byte range of the URL that must not be shown (credentials).
    secret: Option<(usize, usize)>,
}

fn err(reason: impl Into<String>, hint: impl Into<String>) -> UrlError {
    UrlError {
        reason: reason.into(),
        hint: hint.into(),
        secret: None,
    }
}

impl HttpGrant {
    /// Parses a grant URL (`methods` empty). `Err` says why it is not one.
    pub fn parse(url: &str) -> Result<HttpGrant, String> {
        parse_url(url).map_err(|e| e.reason)
    }

    /// Does this grant allow a request? `host` is the request's authority host
    /// (IPv6 with or without brackets; compared case-insensitively, one trailing dot
    /// ignored), `path` the request path (a query or fragment, if passed, is ignored).
    /// Path-prefix match is segment-aware and done on the normalized path (see the
    /// module docs): `/v1/../admin` is not under `/v1/`.
    pub fn allows(&self, method: &str, scheme: &str, host: &str, port: u16, path: &str) -> bool {
        if !scheme.eq_ignore_ascii_case(&self.scheme) || port != self.port {
            return false;
        }
        // Methods are case-sensitive (RFC 9110 §9.1): `get` is not `GET`.
        if !self.methods.is_empty() && !self.methods.iter().any(|m| m == method) {
            return false;
        }
        if !self.host_matches(host) {
            return false;
        }
        [false, true].into_iter().all(|merge| {
            normalize_request_path(path, merge).is_some_and(|p| under_prefix(&self.path_prefix, &p))
        })
    }

    /// Whether this grant names exactly this IP address (IPv4-mapped IPv6 addresses
    /// count as their IPv4 address). Wildcards and DNS names name no address.
    pub fn names_ip(&self, ip: IpAddr) -> bool {
        self.ip()
            .is_some_and(|own| own.to_canonical() == ip.to_canonical())
    }

    /// Why this grant's host is not a global address (an IP literal in a
    /// non-global block, in any form, or `localhost`), from the one table of
    /// [`crate::net`] that the runtime also uses; `None` for DNS names and global IPs.
    pub fn non_global(&self) -> Option<crate::net::NonGlobal> {
        crate::net::host_non_global(&self.host)
    }

    fn ip(&self) -> Option<IpAddr> {
        parse_ip(&self.host)
    }

    fn host_matches(&self, host: &str) -> bool {
        let host = host.to_ascii_lowercase();
        let host = host.strip_suffix('.').unwrap_or(&host);
        if let Some(own) = self.ip() {
            return parse_ip(host).is_some_and(|ip| ip.to_canonical() == own.to_canonical());
        }
        if let Some(suffix) = self.host.strip_prefix('*') {
            // `suffix` is `.example.com`: exactly one valid label before it.
            return host
                .strip_suffix(suffix)
                .is_some_and(|label| dns_label_ok(label) && parse_ip(host).is_none());
        }
        host == self.host
    }
}

/// An IP literal: `1.2.3.4`, `[::1]` or `::1` (strict: no leading zeros, no short forms).
fn parse_ip(host: &str) -> Option<IpAddr> {
    if let Some(inner) = host.strip_prefix('[').and_then(|h| h.strip_suffix(']')) {
        return inner.parse::<Ipv6Addr>().ok().map(IpAddr::V6);
    }
    host.parse::<IpAddr>().ok()
}

fn dns_label_ok(label: &str) -> bool {
    !label.is_empty()
        && label.len() <= 63
        && !label.starts_with('-')
        && !label.ends_with('-')
        && label
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
}

/// Looks like an IPv4 address to a URL parser or resolver (all digits, or `0x…`).
fn numeric_label(label: &str) -> bool {
    (!label.is_empty() && label.bytes().all(|b| b.is_ascii_digit()))
        || label.starts_with("0x")
        || label.starts_with("0X")
}

fn parse_url(url: &str) -> Result<HttpGrant, UrlError> {
    let general = "write a URL like `https://api.example.com/v1/`";
    if url.is_empty() {
        return Err(err("the URL is empty", general));
    }
    // Credentials first, with or without a scheme: every later message repeats the URL.
    let start = url.find("://").map_or(0, |i| i + 3);
    let rest = &url[start..];
    let authority = &rest[..rest.find(['/', '?', '#']).unwrap_or(rest.len())];
    if let Some(at) = authority.rfind('@') {
        return Err(UrlError {
            reason: "the URL contains credentials (`user:password@`)".into(),
            hint: "credentials never go into URLs: declare a secret in `[secrets]`, grant it with `grants.secrets`, and remove `…@` from the URL".into(),
            secret: Some((start, start + at)),
        });
    }
    if !url.is_ascii() {
        return Err(err(
            format!("`{url}` contains non-ASCII characters"),
            "write internationalized host names in their `xn--` form and percent-encode paths",
        ));
    }
    if url
        .bytes()
        .any(|b| b.is_ascii_whitespace() || b.is_ascii_control())
    {
        return Err(err(
            format!(
                "`{}` contains whitespace or control characters",
                url.escape_debug()
            ),
            general,
        ));
    }
    let Some((scheme, rest)) = url.split_once("://") else {
        let bare = url.trim_start_matches('/');
        return Err(err(
            format!("`{url}` is not a URL: it has no scheme"),
            format!("write `https://{bare}`"),
        ));
    };
    let scheme_l = scheme.to_ascii_lowercase();
    let default_port = match scheme_l.as_str() {
        "http" => 80,
        "https" => 443,
        _ => {
            return Err(err(
                format!("scheme `{scheme}` is not allowed"),
                "http grants take `http://` or `https://` URLs",
            ));
        }
    };
    let authority_len = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(authority_len);
    if let Some(q) = tail.find('?') {
        let shown = tail[q..].split('#').next().unwrap_or("");
        return Err(err(
            format!("`{url}` has a query (`{shown}`)"),
            "grants match scheme, host, port and path prefix only: remove the query",
        ));
    }
    if tail.contains('#') {
        return Err(err(
            format!("`{url}` has a fragment"),
            "fragments are never sent to servers: remove the `#…`",
        ));
    }
    let (host, port) = split_host_port(url, authority)?;
    let port = match port {
        None => default_port,
        Some("") => {
            return Err(err(
                format!("`{url}` has an empty port"),
                "remove the `:` or write a port number",
            ));
        }
        Some(p) if !p.bytes().all(|b| b.is_ascii_digit()) => {
            return Err(err(format!("port `{p}` is not a number"), general));
        }
        Some(p) => match p.parse::<u32>() {
            Ok(0) => {
                return Err(err(
                    "port 0 is not allowed",
                    "write the port the server listens on",
                ));
            }
            Ok(n) if n <= u32::from(u16::MAX) => n as u16,
            _ => {
                return Err(err(
                    format!("port `{p}` is out of range"),
                    "ports go from 1 to 65535",
                ));
            }
        },
    };
    let path_prefix = if tail.is_empty() {
        "/".to_string()
    } else {
        normalize_grant_path(tail)?
    };
    Ok(HttpGrant {
        url: url.to_string(),
        scheme: scheme_l,
        host,
        port,
        path_prefix,
        methods: Vec::new(),
    })
}

/// Host (normalized) and port text, if any.
fn split_host_port<'a>(
    url: &str,
    authority: &'a str,
) -> Result<(String, Option<&'a str>), UrlError> {
    if authority.is_empty() {
        return Err(err(
            format!("`{url}` has no host"),
            "write a URL like `https://api.example.com/v1/`",
        ));
    }
    if let Some(rest) = authority.strip_prefix('[') {
        let Some((inner, after)) = rest.split_once(']') else {
            return Err(err(
                format!("`{url}`: `[` without `]`"),
                "write IPv6 addresses in brackets, e.g. `http://[::1]:8080/`",
            ));
        };
        let port = match after {
            "" => None,
            a => match a.strip_prefix(':') {
                Some(p) => Some(p),
                None => {
                    return Err(err(
                        format!("`{url}`: unexpected `{a}` after the IPv6 address"),
                        "write `http://[::1]:8080/`",
                    ));
                }
            },
        };
        if inner.contains('%') {
            return Err(err(
                format!("`{url}`: IPv6 zone identifiers are not supported"),
                "grant the address without `%…`",
            ));
        }
        let Ok(ip) = inner.parse::<Ipv6Addr>() else {
            return Err(err(
                format!("`[{inner}]` is not a valid IPv6 address"),
                "e.g. `http://[::1]:8080/`",
            ));
        };
        return Ok((format!("[{ip}]"), port));
    }
    if authority.matches(':').count() > 1 {
        return Err(err(
            format!("`{url}`: an IPv6 address must be in brackets"),
            "write it in brackets, with the port after them: `http://[::1]:8080/`",
        ));
    }
    let (host, port) = match authority.rsplit_once(':') {
        Some((h, p)) => (h, Some(p)),
        None => (authority, None),
    };
    Ok((check_host(url, host)?, port))
}

fn check_host(url: &str, host: &str) -> Result<String, UrlError> {
    let lower = host.to_ascii_lowercase();
    let h = lower.strip_suffix('.').unwrap_or(&lower);
    if h.is_empty() {
        return Err(err(
            format!("`{url}` has no host"),
            "write a URL like `https://api.example.com/v1/`",
        ));
    }
    if h.contains('%') {
        return Err(err(
            format!("host `{host}` is percent-encoded"),
            "write the host name as it is",
        ));
    }
    let (wildcard, name) = match h.strip_prefix("*.") {
        Some(rest) => (true, rest),
        None => (false, h),
    };
    if name.contains('*') || (h.contains('*') && !wildcard) {
        return Err(err(
            format!("wildcard in `{host}` is not the leftmost label"),
            "`*` may only be the whole leftmost label, as in `*.example.com`",
        ));
    }
    let labels: Vec<&str> = name.split('.').collect();
    if labels.last().is_some_and(|l| numeric_label(l)) {
        if wildcard {
            return Err(err(
                format!("`{host}`: a wildcard cannot cover IP addresses"),
                "grant each address",
            ));
        }
        return match name.parse::<Ipv4Addr>() {
            Ok(ip) => Ok(ip.to_string()),
            Err(_) => Err(err(
                format!("`{host}` is not a valid IPv4 address"),
                "write all four decimal parts without leading zeros, e.g. `127.0.0.1`",
            )),
        };
    }
    if name.len() > 253 || !labels.iter().all(|l| dns_label_ok(l)) {
        return Err(err(
            format!("`{host}` is not a valid host name"),
            "host names are labels of letters, digits and `-`, separated by `.`",
        ));
    }
    if wildcard && labels.len() < 2 {
        return Err(err(
            format!("`{host}` matches every host under a top-level domain"),
            "name the domain, e.g. `*.example.com`",
        ));
    }
    Ok(h.to_string())
}

fn is_unreserved(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~')
}

fn hex(b: u8) -> Option<u8> {
    (b as char).to_digit(16).map(|d| d as u8)
}

/// Decodes escapes of unreserved characters and upper-cases the others. `None` on a
/// malformed escape or a byte that has no place in a request path (`\`, space,
/// controls, non-ASCII).
fn normalize_escapes(path: &str) -> Option<String> {
    let b = path.as_bytes();
    let mut out = String::with_capacity(path.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'%' => {
                let hi = hex(*b.get(i + 1)?)?;
                let lo = hex(*b.get(i + 2)?)?;
                let byte = hi * 16 + lo;
                if is_unreserved(byte) {
                    out.push(byte as char);
                } else {
                    out.push_str(&format!("%{byte:02X}"));
                }
                i += 3;
            }
            c @ 0x21..=0x7e if c != b'\\' => {
                out.push(c as char);
                i += 1;
            }
            _ => return None,
        }
    }
    Some(out)
}

/// Every escape decoded (for inspection only).
fn decode_all(segment: &str) -> Vec<u8> {
    let b = segment.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%'
            && let (Some(hi), Some(lo)) = (
                b.get(i + 1).and_then(|c| hex(*c)),
                b.get(i + 2).and_then(|c| hex(*c)),
            )
        {
            out.push(hi * 16 + lo);
            i += 3;
            continue;
        }
        out.push(b[i]);
        i += 1;
    }
    out
}

/// A segment that some server could read as `.` or `..` although it is neither:
/// a dot segment behind an encoded `/` or `\`, or before a `;` parameter; or NUL.
fn ambiguous_segment(segment: &str) -> bool {
    if segment == "." || segment == ".." {
        return false;
    }
    let decoded = decode_all(segment);
    decoded.contains(&0)
        || decoded.split(|b| *b == b'/' || *b == b'\\').any(|piece| {
            let before_param = piece.split(|b| *b == b';').next().unwrap_or(&[]);
            before_param == b"." || before_param == b".."
        })
}

/// The request path normalized for matching, or `None` if it must be refused.
fn normalize_request_path(path: &str, merge_empty: bool) -> Option<String> {
    let path = path.split(['?', '#']).next().unwrap_or("");
    let path = if path.is_empty() { "/" } else { path };
    if !path.starts_with('/') {
        return None;
    }
    let path = normalize_escapes(path)?;
    let segments: Vec<&str> = path[1..].split('/').collect();
    let mut out: Vec<&str> = Vec::with_capacity(segments.len());
    let n = segments.len();
    for (i, seg) in segments.into_iter().enumerate() {
        let last = i + 1 == n;
        if ambiguous_segment(seg) {
            return None;
        }
        match seg {
            "." => {}
            ".." => {
                out.pop();
            }
            "" if merge_empty && !last => continue,
            s => {
                out.push(s);
                continue;
            }
        }
        if last {
            out.push("");
        }
    }
    Some(format!("/{}", out.join("/")))
}

/// `/v1/` covers `/v1/…`; `/v1` covers `/v1` and `/v1/…`, not `/v10`.
fn under_prefix(prefix: &str, path: &str) -> bool {
    if prefix.ends_with('/') {
        path.starts_with(prefix)
    } else {
        path == prefix
            || path
                .strip_prefix(prefix)
                .is_some_and(|rest| rest.starts_with('/'))
    }
}

/// The path part of a grant URL, normalized like a request's; dot segments,
/// globs and anything a request could not match are refused.
fn normalize_grant_path(path: &str) -> Result<String, UrlError> {
    if !path.starts_with('/') {
        return Err(err(
            format!("path `{path}` must start with `/`"),
            "e.g. `https://api.example.com/v1/`",
        ));
    }
    if path.contains('*') {
        return Err(err(
            format!("`*` in path `{path}`: paths are prefixes, not globs"),
            format!(
                "a prefix already covers everything under it: write `{}`",
                &path[..path.find('*').unwrap_or(path.len())]
            ),
        ));
    }
    let Some(normal) = normalize_escapes(path) else {
        return Err(err(
            format!(
                "path `{path}` has a malformed `%` escape or a character that must be percent-encoded"
            ),
            "percent-encode the path as it is sent, e.g. `%20` for a space",
        ));
    };
    if normal.contains("//") {
        return Err(err(
            format!("path `{path}` has an empty segment (`//`)"),
            "servers disagree about what `//` means: write a single `/`",
        ));
    }
    if decode_all(&normal).contains(&0) {
        return Err(err(
            format!("path `{path}` contains a NUL byte (`%00`)"),
            "no request path may contain NUL: remove it",
        ));
    }
    if normal[1..]
        .split('/')
        .any(|s| s == "." || s == ".." || ambiguous_segment(s))
    {
        return Err(err(
            format!("path `{path}` has `.` or `..` segments"),
            "write the path they lead to",
        ));
    }
    Ok(normal)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct HttpToml {
    url: Spanned<String>,
    methods: Option<Vec<Spanned<String>>>,
}

const EXAMPLE: &str = "e.g. `grants.http = [\"https://api.example.com/v1/\", { url = \"http://127.0.0.1:8081\", methods = [\"GET\"] }]`";

pub(crate) fn parse(cx: &mut Cx<'_>, v: &Val<'_>, stage: &str) -> Vec<HttpGrant> {
    let what = format!("`grants.http` of stage `{stage}`");
    let items = match v.get_ref() {
        DeValue::Array(items) => items,
        DeValue::String(s) => {
            let d = cx.type_error(v, "a list", &what);
            cx.push(d.with_hint(format!("write a list: `[\"{}\"]`", s.escape_debug())));
            return Vec::new();
        }
        _ => {
            let d = cx.type_error(v, "a list", &what);
            cx.push(d.with_hint(EXAMPLE));
            return Vec::new();
        }
    };
    let mut out = Vec::new();
    for item in items {
        let (url, methods) = match item.get_ref() {
            DeValue::String(s) => (Spanned::new(item.span(), s.to_string()), None),
            DeValue::Table(_) => {
                let Some(raw) = cx.ok(cx.deserialize::<HttpToml>(
                    item,
                    "grants.http",
                    &format!("stage `{stage}`"),
                )) else {
                    continue;
                };
                (raw.url, raw.methods)
            }
            _ => {
                let d = cx.diag(
                    span_of(item),
                    format!(
                        "expected a URL or a table in {what}, found {}",
                        crate::walk::type_name(item.get_ref())
                    ),
                );
                cx.push(d.with_hint(EXAMPLE));
                continue;
            }
        };
        let mut grant = match parse_url(url.get_ref()) {
            Ok(g) => g,
            Err(e) => {
                let span = span_of(&url);
                let mut masks = Vec::new();
                if let Some((s, e2)) = e.secret {
                    // Hide the credentials; exactly if the string has no escapes.
                    let raw = cx.source.get(span.range()).unwrap_or("");
                    if raw.len() == url.get_ref().len() + 2 {
                        masks.push(Span::new(span.start + 1 + s, span.start + 1 + e2));
                    } else {
                        masks.push(span);
                    }
                }
                let d = Diagnostic::at_masked(
                    cx.file,
                    cx.source,
                    span,
                    format!("{what}: {}", e.reason),
                    &masks,
                );
                cx.push(d.with_hint(e.hint));
                continue;
            }
        };
        if let Some(methods) = methods {
            let Some(m) = parse_methods(cx, &methods, &what, item) else {
                continue;
            };
            grant.methods = m;
        }
        out.push(grant);
    }
    out
}

fn parse_methods(
    cx: &mut Cx<'_>,
    methods: &[Spanned<String>],
    what: &str,
    item: &Val<'_>,
) -> Option<Vec<String>> {
    if methods.is_empty() {
        let span = item
            .get_ref()
            .as_table()
            .and_then(|t| t.get("methods"))
            .map_or(span_of(item), span_of);
        cx.error(
            span,
            format!("{what}: `methods` is empty, so no request would be allowed"),
            Some("remove `methods` to allow any method".into()),
        );
        return None;
    }
    let mut out: Vec<String> = Vec::new();
    let mut ok = true;
    for m in methods {
        let upper = m.get_ref().to_ascii_uppercase();
        if METHODS.contains(&upper.as_str()) && *m.get_ref() == upper {
            if !out.contains(&upper) {
                out.push(upper);
            }
            continue;
        }
        ok = false;
        let (reason, hint) = match upper.as_str() {
            // `get` would never match a request: methods are case-sensitive (RFC 9110
            // §9.1), and the broker refuses lower-case request methods outright.
            u if METHODS.contains(&u) => (
                format!(
                    "method `{}` is not upper case; HTTP methods are case-sensitive",
                    m.get_ref().escape_debug()
                ),
                format!("write `{u}`"),
            ),
            "*" | "ANY" | "ALL" => (
                format!("`{}` is not a method", m.get_ref()),
                "remove `methods` to allow any method".to_string(),
            ),
            "CONNECT" | "TRACE" => (
                format!("method `{upper}` cannot be granted"),
                format!("grantable methods: {}", list(METHODS)),
            ),
            _ => (
                format!("unknown HTTP method `{}`", m.get_ref().escape_debug()),
                match did_you_mean(&upper, METHODS.iter().copied()) {
                    Some(s) => format!("did you mean `{s}`? methods: {}", list(METHODS)),
                    None => format!("methods: {}", list(METHODS)),
                },
            ),
        };
        cx.error(span_of(m), format!("{what}: {reason}"), Some(hint));
    }
    ok.then_some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn g(url: &str) -> HttpGrant {
        match HttpGrant::parse(url) {
            Ok(g) => g,
            Err(e) => panic!("{url}: {e}"),
        }
    }

    fn bad(url: &str) -> String {
        match HttpGrant::parse(url) {
            Ok(g) => panic!("{url} parsed: {g:?}"),
            Err(e) => e,
        }
    }

    #[test]
    fn parse_ok() {
        let a = g("https://API.Example.com/v1/");
        assert_eq!(
            (
                a.scheme.as_str(),
                a.host.as_str(),
                a.port,
                a.path_prefix.as_str()
            ),
            ("https", "api.example.com", 443, "/v1/")
        );
        assert_eq!(a.url, "https://API.Example.com/v1/");
        let b = g("HTTP://127.0.0.1:8081");
        assert_eq!(
            (
                b.scheme.as_str(),
                b.host.as_str(),
                b.port,
                b.path_prefix.as_str()
            ),
            ("http", "127.0.0.1", 8081, "/")
        );
        assert_eq!(g("http://[0:0::1]:99/x").host, "[::1]");
        assert_eq!(g("http://[::1]").port, 80);
        assert_eq!(g("https://example.com.").host, "example.com");
        assert_eq!(g("https://*.example.com/").host, "*.example.com");
        assert_eq!(g("https://h/a%7eb/%2a/%2f").path_prefix, "/a~b/%2A/%2F");
        assert_eq!(g("https://h:00443").port, 443);
        assert_eq!(g("https://my_host.internal").host, "my_host.internal");
        assert_eq!(g("https://h/v1").path_prefix, "/v1");
    }

    #[test]
    fn parse_errors() {
        assert!(bad("ftp://example.com").contains("scheme `ftp`"));
        assert!(bad("example.com/v1").contains("no scheme"));
        assert!(bad("https://user:pw@example.com").contains("credentials"));
        assert!(!bad("https://user:hunter2@example.com").contains("hunter2"));
        // Found by `fuzz/run grant_http`: the non-ASCII, whitespace and no-scheme
        // errors repeated the URL, credentials included.
        for url in [
            "https://user:hünter2@example.com/",
            "https://user:hunter 2@example.com/",
            "https://user:hunter2\t@example.com/",
            "user:hunter2@example.com/v1",
            "user:hunter2@example.com:443",
        ] {
            let e = bad(url);
            assert!(
                e.contains("credentials") && !e.contains("unter"),
                "{url}: {e}"
            );
        }
        assert_eq!(parse_url("x:pw@h").map_err(|e| e.secret), Err(Some((0, 4))));
        assert!(bad("https://example.com/v1?x=1").contains("query"));
        assert!(bad("https://example.com?x").contains("query"));
        assert!(bad("https://example.com/#top").contains("fragment"));
        assert!(bad("https://example.com:0/").contains("port 0"));
        assert!(bad("https://example.com:65536/").contains("out of range"));
        assert!(bad("https://example.com:/").contains("empty port"));
        assert!(bad("https://example.com:https/").contains("not a number"));
        assert!(bad("https://a.*.example.com").contains("leftmost"));
        assert!(bad("https://api*.example.com").contains("leftmost"));
        assert!(bad("https://*").contains("leftmost") || bad("https://*").contains("top-level"));
        assert!(bad("https://*.com").contains("top-level"));
        assert!(bad("https://*.*.example.com").contains("leftmost"));
        assert!(bad("https://*.1.2.3").contains("IP"));
        assert!(bad("https://127.1/").contains("IPv4"));
        assert!(bad("https://0x7f.0.0.1/").contains("IPv4"));
        assert!(bad("https://2130706433/").contains("IPv4"));
        assert!(bad("https://127.0.0.01/").contains("IPv4"));
        assert!(bad("https://::1/").contains("brackets"));
        assert!(bad("https://[::1/").contains("`]`"));
        assert!(bad("https://[fe80::1%25eth0]/").contains("zone"));
        assert!(bad("https://[::1]x/").contains("unexpected"));
        assert!(bad("https:///v1").contains("no host"));
        assert!(bad("https://exa mple.com").contains("whitespace"));
        assert!(bad("https://bücher.de").contains("non-ASCII"));
        assert!(bad("https://-x.com").contains("not a valid host"));
        assert!(bad("https://ex%41mple.com").contains("percent"));
        assert!(bad("https://h/v1/../admin").contains("`..`"));
        assert!(bad("https://h/v1/%2e%2e/admin").contains("`..`"));
        assert!(bad("https://h/v1/*").contains("prefixes, not globs"));
        assert!(bad("https://h/a%zz").contains("escape"));
        // A NUL is named as such, not as a dot segment.
        let nul = bad("https://h/v1/a%00b/");
        assert!(nul.contains("NUL") && !nul.contains("`..`"), "{nul}");
        assert!(bad("https://h/a\\b").contains("escape"));
        assert!(bad("").contains("empty"));
    }

    fn allows(grant: &str, path: &str) -> bool {
        g(grant).allows("GET", "https", "h", 443, path)
    }

    #[test]
    fn path_prefix_is_segment_aware() {
        assert!(allows("https://h/v1/", "/v1/x"));
        assert!(allows("https://h/v1/", "/v1/"));
        assert!(!allows("https://h/v1/", "/v1"));
        assert!(!allows("https://h/v1/", "/v10/x"));
        assert!(allows("https://h/v1", "/v1"));
        assert!(allows("https://h/v1", "/v1/x/y"));
        assert!(!allows("https://h/v1", "/v10"));
        assert!(!allows("https://h/v1", "/v"));
        assert!(allows("https://h", "/anything"));
        assert!(allows("https://h", ""));
        assert!(allows("https://h/", "/"));
        assert!(allows("https://h/v1/", "/v1/x?y=/../admin"));
        assert!(!allows("https://h/", "v1"));
        assert!(!allows("https://h/", "*"));
    }

    #[test]
    fn traversal_is_normalized_or_refused() {
        for p in [
            "/v1/../admin",
            "/v1/./../admin",
            "/v1/%2e%2e/admin",
            "/v1/%2E%2E/admin",
            "/v1/.%2e/admin",
            "/v1/x/../../admin",
            "/v1//../admin",
            "/v1/..%2fadmin",
            "/v1/..%2Fadmin",
            "/v1/..%5cadmin",
            "/v1/%2e%2e%2fadmin",
            "/v1/..;/admin",
            "/v1/..;x/admin",
            "/v1/.;/../admin",
            "/v1\\..\\admin",
            "/v1/a%00",
            "/v1/a b",
            "/v1/é",
            "/v1/%",
            "/v1/%4",
            "/v1/%g0",
            "/v1/x\n",
        ] {
            assert!(!allows("https://h/v1/", p), "{p:?}");
        }
        assert!(allows("https://h/v1/", "/v1/x/../y"));
        assert!(allows("https://h/v1/", "/v1/./x"));
        assert!(allows("https://h/v1/", "/v1/x/.."));
        assert!(allows("https://h/v1/", "/v1/%78"));
        assert!(allows("https://h/v1/", "/%76%31/x"));
        assert!(allows("https://h/v1/", "/x/../v1/y"));
        assert!(allows("https://h/v1/", "/../v1/y"));
        assert!(allows("https://h/v1/", "/v1//x"));
        // Encoded slashes that hide no dot segment are ordinary characters.
        assert!(allows(
            "https://h/api/v4/",
            "/api/v4/projects/group%2Fproject"
        ));
        assert!(allows(
            "https://h/api/v4/",
            "/api/v4/projects/group%2fproject"
        ));
        assert!(!allows(
            "https://h/api/v4/projects/group/",
            "/api/v4/projects/group%2Fx"
        ));
        assert!(allows("https://h/v1/", "/v1/a;b=1/c"));
        assert!(allows("https://h/v1/", "/v1/...x"));
        assert!(allows("https://h/a~b/", "/a%7Eb/c"));
        assert!(allows("https://h/a%7eb/", "/a~b/c"));
        assert!(allows("https://h/a%2a/", "/a%2A/c"));
    }

    #[test]
    fn normalization() {
        let n = |p: &str, m: bool| normalize_request_path(p, m);
        assert_eq!(n("/a/b/../c", false).as_deref(), Some("/a/c"));
        assert_eq!(n("/a/b/..", false).as_deref(), Some("/a/"));
        assert_eq!(n("/a/.", false).as_deref(), Some("/a/"));
        assert_eq!(n("/..", false).as_deref(), Some("/"));
        assert_eq!(n("/a//../b", false).as_deref(), Some("/a/b"));
        assert_eq!(n("/a//../b", true).as_deref(), Some("/b"));
        assert_eq!(n("/a//b/", true).as_deref(), Some("/a/b/"));
        assert_eq!(n("/%7e%41%2f", false).as_deref(), Some("/~A%2F"));
        assert_eq!(n("", false).as_deref(), Some("/"));
        assert_eq!(n("/x?q#f", false).as_deref(), Some("/x"));
        assert_eq!(n("x", false), None);
    }

    #[test]
    fn scheme_host_port_method() {
        let a = g("https://api.example.com/v1/");
        assert!(a.allows("GET", "https", "api.example.com", 443, "/v1/x"));
        assert!(a.allows("DELETE", "HTTPS", "API.EXAMPLE.COM.", 443, "/v1/x"));
        assert!(!a.allows("GET", "http", "api.example.com", 443, "/v1/x"));
        assert!(!a.allows("GET", "https", "api.example.com", 80, "/v1/x"));
        assert!(!a.allows("GET", "https", "api.example.com", 8443, "/v1/x"));
        assert!(!a.allows("GET", "https", "example.com", 443, "/v1/x"));
        assert!(!a.allows("GET", "https", "x.api.example.com", 443, "/v1/x"));
        assert!(!a.allows("GET", "https", "api.example.com.evil", 443, "/v1/x"));
        assert!(!a.allows("GET", "https", "api.example.com..", 443, "/v1/x"));
        let m = HttpGrant {
            methods: vec!["GET".into(), "HEAD".into()],
            ..g("http://127.0.0.1:8081")
        };
        assert!(m.allows("GET", "http", "127.0.0.1", 8081, "/"));
        assert!(m.allows("HEAD", "http", "127.0.0.1", 8081, "/x"));
        // Methods are case-sensitive: `get` is another (extension) method.
        assert!(!m.allows("get", "http", "127.0.0.1", 8081, "/"));
        assert!(!m.allows("Get", "http", "127.0.0.1", 8081, "/"));
        assert!(!m.allows("POST", "http", "127.0.0.1", 8081, "/"));
        assert!(!m.allows("GET", "http", "localhost", 8081, "/"));
        assert!(!m.allows("GET", "http", "127.1", 8081, "/"));
        assert!(!m.allows("GET", "http", "2130706433", 8081, "/"));
        assert!(m.allows("GET", "http", "[::ffff:127.0.0.1]", 8081, "/"));
    }

    #[test]
    fn wildcard_is_one_leftmost_label() {
        let w = g("https://*.example.com");
        assert!(w.allows("GET", "https", "a.example.com", 443, "/"));
        assert!(w.allows("GET", "https", "A-1.Example.COM", 443, "/"));
        assert!(!w.allows("GET", "https", "example.com", 443, "/"));
        assert!(!w.allows("GET", "https", ".example.com", 443, "/"));
        assert!(!w.allows("GET", "https", "a.b.example.com", 443, "/"));
        assert!(!w.allows("GET", "https", "aexample.com", 443, "/"));
        assert!(!w.allows("GET", "https", "a.example.com.evil.org", 443, "/"));
        assert!(!w.allows("GET", "https", "a b.example.com", 443, "/"));
        assert!(!w.allows("GET", "https", "a/.example.com", 443, "/"));
        assert!(!w.allows("GET", "https", "a\0.example.com", 443, "/"));
        assert!(!w.allows("GET", "https", "-a.example.com", 443, "/"));
        assert!(
            !w.names_ip(
                "93.184.216.34"
                    .parse()
                    .unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED))
            )
        );
    }

    #[test]
    fn ipv6_hosts() {
        let v6 = g("http://[::1]:8080/");
        assert!(v6.allows("GET", "http", "[::1]", 8080, "/"));
        assert!(v6.allows("GET", "http", "::1", 8080, "/"));
        assert!(v6.allows("GET", "http", "[0:0:0:0:0:0:0:1]", 8080, "/"));
        assert!(!v6.allows("GET", "http", "127.0.0.1", 8080, "/"));
        assert!(!v6.allows("GET", "http", "[::2]", 8080, "/"));
    }

    #[test]
    fn a_grant_allows_its_own_prefix() {
        for url in [
            "https://h",
            "https://h/",
            "https://h/v1",
            "https://h/v1/",
            "https://h/a%7eb/%2a/%2F/",
            "https://h/a;b/c=d/",
            "http://[::1]:8080/x/",
            "https://*.example.com/v1/",
        ] {
            let gr = g(url);
            let host = gr.host.replace('*', "a");
            for m in ["GET", "POST"] {
                assert!(
                    gr.allows(m, &gr.scheme, &host, gr.port, &gr.path_prefix),
                    "{url}"
                );
            }
        }
        assert!(bad("https://h/a//b/").contains("empty segment"));
    }

    #[test]
    fn names_ip() {
        let ip = |s: &str| {
            s.parse::<IpAddr>()
                .unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED))
        };
        let v4 = g("http://127.0.0.1:8081");
        assert!(v4.names_ip(ip("127.0.0.1")));
        assert!(v4.names_ip(ip("::ffff:127.0.0.1")));
        assert!(!v4.names_ip(ip("127.0.0.2")));
        assert!(!v4.names_ip(ip("::1")));
        let v6 = g("http://[::1]");
        assert!(v6.names_ip(ip("::1")));
        assert!(!v6.names_ip(ip("127.0.0.1")));
        let mapped = g("http://[::ffff:10.0.0.1]");
        assert!(mapped.names_ip(ip("10.0.0.1")));
        assert!(!g("http://localhost").names_ip(ip("127.0.0.1")));
        assert!(!g("https://10.0.0.1.nip.io").names_ip(ip("10.0.0.1")));
    }

    #[test]
    fn matching_never_panics_on_odd_input() {
        let grants = [
            g("https://*.example.com/a/"),
            g("http://[::1]/"),
            g("http://10.0.0.1/x"),
        ];
        let odd = [
            "",
            "%",
            "%%",
            "/%",
            "/%e",
            "/\u{0}",
            "/é/../",
            "/..",
            "//",
            "/;",
            "/%2e%2e%2f%2e%2e",
            "[",
            "[]",
            "[::1",
            "*.example.com",
            "é.example.com",
        ];
        for gr in &grants {
            for a in odd {
                for b in odd {
                    let _ = gr.allows(a, a, b, 0, b);
                    let _ = gr.allows("GET", &gr.scheme, a, gr.port, b);
                }
            }
        }
        for a in odd {
            let _ = HttpGrant::parse(&format!("https://{a}"));
            let _ = HttpGrant::parse(&format!("https://h/{a}"));
            let _ = HttpGrant::parse(a);
        }
    }
}
