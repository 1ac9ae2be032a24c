//! What a request may do, decided before anything is sent (steps 1 to 3 of the
//! module docs, and the address table of step 4): the grant check, the explanation
//! of a refusal, secret handles in headers.

#[allow(unused_imports)]
use super::*;

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
pub(super) fn percent_decode(s: &str) -> String {
    pub(super) fn once(s: &str) -> String {
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

pub(super) fn is_read_only(method: &Method) -> bool {
    *method == Method::GET || *method == Method::HEAD || *method == Method::OPTIONS
}

/// The parts of a request that grants are about.
#[derive(Clone, Debug)]
pub(super) struct Target {
    pub(super) method: String,
    pub(super) scheme: String,
    /// Host as written, lowercased, IPv6 without brackets.
    pub(super) host: String,
    pub(super) port: u16,
    pub(super) path: String,
    /// Index into `grants` of every grant that allows the request.
    pub(super) grants: Vec<usize>,
}

impl Target {
    pub(super) fn url(&self) -> String {
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

    pub(super) fn detail(&self) -> Value {
        json!({ "scheme": self.scheme, "host": self.host, "port": self.port, "path": shown(&self.path) })
    }
}

/// A refusal: audited by [`Shared::refuse`], turned into a `wasi:http` error code.
pub(super) struct Refusal {
    pub(super) what: String,
    /// The grant that would allow it; empty when no grant can.
    pub(super) grant: String,
    pub(super) code: Error,
}

impl Shared {
    pub(super) fn refuse(&self, method: &str, detail: Value, r: Refusal) -> Error {
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
    pub(super) fn check(&self, method: &Method, uri: &Uri) -> Result<Target, Refusal> {
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
    pub(super) fn explain(&self, t: &Target) -> String {
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

    pub(super) fn suggest(&self, t: &Target) -> String {
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
    pub(super) fn substitute_secrets(
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

    pub(super) fn remaining(&self, started: Instant) -> Duration {
        let end = (started + MAX_REQUEST_TIME).min(self.deadline);
        end.saturating_duration_since(Instant::now())
    }
}
