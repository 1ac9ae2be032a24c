//! `healthz`: the HTTP server gantry's container tests run inside `FROM scratch` images.
//!
//! It exists so deploy tests have a real service whose health they control: `/healthz`
//! answers with the status in `HEALTHZ_STATUS` (default 200), or 500 once
//! `HEALTHZ_FAIL_AFTER` health requests have been served, and `/` answers with the
//! `VERSION` the container was started with, so a test can tell which deployment is
//! serving. Settings come only from the command line and the environment (the
//! container's `ENV`/`-e`), never from files: the image holds nothing but the binary.
//!
//! What it refuses: anything but `GET` (405), unknown paths (404), request heads over
//! 8 KiB or that are not HTTP (400), and settings that do not parse (a startup error
//! naming the variable — a test that mistypes `HEALTHZ_STATUS=5OO` must not get a
//! silently healthy server).
//!
//! This module is the pure part (settings and routing, unit-tested below); `main.rs`
//! holds the sockets, threads and the SIGTERM handler, tested end to end by
//! `tests/server.rs` against the built binary.

use std::time::Duration;

/// The port when neither the command line nor `PORT` names one.
pub const DEFAULT_PORT: u16 = 8080;
/// Longest request head accepted; the tests send a few hundred bytes.
pub const MAX_HEAD: usize = 8 * 1024;

/// How the server behaves, from argv and the environment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    pub port: u16,
    /// Status of `/healthz` while healthy.
    pub status: u16,
    /// After this many `/healthz` requests, answer 500.
    pub fail_after: Option<u64>,
    /// Body of `/`.
    pub version: String,
    /// Added before every response (for latency-limit tests).
    pub delay: Duration,
}

impl Config {
    /// `args` are the arguments after the program name (`[PORT]`); `env` looks up a
    /// variable. Errors name the offending setting and what would be valid.
    pub fn from_sources(
        args: &[String],
        env: impl Fn(&str) -> Option<String>,
    ) -> Result<Config, String> {
        let port = match (args.first(), env("PORT")) {
            (Some(a), _) => parse_port(a, "the port argument")?,
            (None, Some(p)) => parse_port(&p, "PORT")?,
            (None, None) => DEFAULT_PORT,
        };
        if args.len() > 1 {
            return Err(format!(
                "unexpected arguments after the port: {:?} (usage: healthz [PORT] | healthz probe [PORT])",
                &args[1..]
            ));
        }
        let status = match env("HEALTHZ_STATUS") {
            Some(s) => parse_status(&s)?,
            None => 200,
        };
        let fail_after = match env("HEALTHZ_FAIL_AFTER") {
            Some(s) => Some(s.trim().parse::<u64>().map_err(|_| {
                format!("HEALTHZ_FAIL_AFTER={s:?} is not a whole number of requests")
            })?),
            None => None,
        };
        let delay = match env("HEALTHZ_DELAY_MS") {
            Some(s) => Duration::from_millis(s.trim().parse::<u64>().map_err(|_| {
                format!("HEALTHZ_DELAY_MS={s:?} is not a whole number of milliseconds")
            })?),
            None => Duration::ZERO,
        };
        Ok(Config {
            port,
            status,
            fail_after,
            version: env("VERSION").unwrap_or_else(|| "unversioned".to_string()),
            delay,
        })
    }
}

/// Port for `healthz probe [PORT]`: the argument, else `PORT`, else the default.
pub fn probe_port(args: &[String], env: impl Fn(&str) -> Option<String>) -> Result<u16, String> {
    match (args.first(), env("PORT")) {
        (Some(a), _) => parse_port(a, "the probe's port argument"),
        (None, Some(p)) => parse_port(&p, "PORT"),
        (None, None) => Ok(DEFAULT_PORT),
    }
}

fn parse_port(s: &str, what: &str) -> Result<u16, String> {
    match s.trim().parse::<u16>() {
        Ok(p) if p > 0 => Ok(p),
        _ => Err(format!("{what} is {s:?}; expected a port number 1-65535")),
    }
}

fn parse_status(s: &str) -> Result<u16, String> {
    match s.trim().parse::<u16>() {
        Ok(c) if (100..=599).contains(&c) => Ok(c),
        _ => Err(format!(
            "HEALTHZ_STATUS={s:?} is not an HTTP status code (100-599)"
        )),
    }
}

/// One answer: status code and plain-text body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    pub status: u16,
    pub body: String,
}

impl Response {
    fn new(status: u16, body: impl Into<String>) -> Response {
        Response {
            status,
            body: body.into(),
        }
    }

    /// The full HTTP/1.1 message; every connection is closed after one response.
    pub fn to_http(&self) -> Vec<u8> {
        format!(
            "HTTP/1.1 {} {}\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{}",
            self.status,
            reason(self.status),
            self.body.len(),
            self.body
        )
        .into_bytes()
    }
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        204 => "No Content",
        400 => "Bad Request",
        404 => "Not Found",
        405 => "Method Not Allowed",
        500 => "Internal Server Error",
        503 => "Service Unavailable",
        _ => "Status",
    }
}

/// The method and path (query string dropped) of a complete request head, or why it
/// is not one.
pub fn parse_head(head: &[u8]) -> Result<(String, String), String> {
    let text = std::str::from_utf8(head).map_err(|_| "request head is not UTF-8".to_string())?;
    let line = text.lines().next().unwrap_or_default();
    let mut parts = line.split(' ');
    match (parts.next(), parts.next(), parts.next(), parts.next()) {
        (Some(method), Some(target), Some(version), None)
            if !method.is_empty() && target.starts_with('/') && version.starts_with("HTTP/1.") =>
        {
            let path = target.split('?').next().unwrap_or(target);
            Ok((method.to_string(), path.to_string()))
        }
        _ => Err(format!("not an HTTP/1.x request line: {line:?}")),
    }
}

/// The answer to `method path`; `healthz_seen` is how many `/healthz` requests came
/// before this one (so the first request is 0).
pub fn respond(cfg: &Config, method: &str, path: &str, healthz_seen: u64) -> Response {
    if method != "GET" {
        return Response::new(405, format!("{method} not allowed: only GET\n"));
    }
    match path {
        "/healthz" => {
            let failing = cfg.fail_after.is_some_and(|n| healthz_seen >= n);
            if failing {
                Response::new(500, "failing\n")
            } else if (200..300).contains(&cfg.status) {
                Response::new(cfg.status, "ok\n")
            } else {
                Response::new(cfg.status, "unhealthy\n")
            }
        }
        "/" => Response::new(200, format!("{}\n", cfg.version)),
        _ => Response::new(404, format!("no such path {path}: try / or /healthz\n")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn cfg(args: &[&str], env: &[(&str, &str)]) -> Result<Config, String> {
        let env: HashMap<String, String> = env
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
        Config::from_sources(&args, |k| env.get(k).cloned())
    }

    #[test]
    fn defaults_are_port_8080_healthy_and_unversioned() {
        let c = cfg(&[], &[]).expect("defaults");
        assert_eq!(c.port, 8080);
        assert_eq!(c.status, 200);
        assert_eq!(c.fail_after, None);
        assert_eq!(respond(&c, "GET", "/", 0).body, "unversioned\n");
    }

    #[test]
    fn argument_port_wins_over_env() {
        assert_eq!(cfg(&["9000"], &[("PORT", "7000")]).expect("ok").port, 9000);
        assert_eq!(cfg(&[], &[("PORT", "7000")]).expect("ok").port, 7000);
    }

    #[test]
    fn bad_settings_are_named() {
        let e = cfg(&[], &[("HEALTHZ_STATUS", "5OO")]).expect_err("bad status");
        assert!(e.contains("HEALTHZ_STATUS"), "{e}");
        let e = cfg(&[], &[("HEALTHZ_STATUS", "999")]).expect_err("out of range");
        assert!(e.contains("100-599"), "{e}");
        let e = cfg(&["0"], &[]).expect_err("port 0");
        assert!(e.contains("port"), "{e}");
        let e = cfg(&[], &[("HEALTHZ_FAIL_AFTER", "-1")]).expect_err("negative");
        assert!(e.contains("HEALTHZ_FAIL_AFTER"), "{e}");
        let e = cfg(&["80", "x"], &[]).expect_err("extra arg");
        assert!(e.contains("usage"), "{e}");
    }

    #[test]
    fn healthz_answers_the_configured_status() {
        let c = cfg(&[], &[("HEALTHZ_STATUS", "503")]).expect("ok");
        let r = respond(&c, "GET", "/healthz", 0);
        assert_eq!((r.status, r.body.as_str()), (503, "unhealthy\n"));
    }

    #[test]
    fn healthz_fails_after_n_requests() {
        let c = cfg(&[], &[("HEALTHZ_FAIL_AFTER", "2")]).expect("ok");
        let codes: Vec<u16> = (0..4)
            .map(|n| respond(&c, "GET", "/healthz", n).status)
            .collect();
        assert_eq!(codes, [200, 200, 500, 500]);
        let zero = cfg(&[], &[("HEALTHZ_FAIL_AFTER", "0")]).expect("ok");
        assert_eq!(respond(&zero, "GET", "/healthz", 0).status, 500);
    }

    #[test]
    fn root_answers_the_version_and_others_are_refused() {
        let c = cfg(&[], &[("VERSION", "v2")]).expect("ok");
        assert_eq!(respond(&c, "GET", "/", 0), Response::new(200, "v2\n"));
        assert_eq!(respond(&c, "POST", "/", 0).status, 405);
        assert_eq!(respond(&c, "GET", "/admin", 0).status, 404);
    }

    #[test]
    fn request_heads_are_parsed_strictly() {
        assert_eq!(
            parse_head(b"GET /healthz?x=1 HTTP/1.1\r\nHost: a\r\n\r\n"),
            Ok(("GET".into(), "/healthz".into()))
        );
        assert!(parse_head(b"SSH-2.0-OpenSSH\r\n\r\n").is_err());
        assert!(parse_head(b"GET healthz HTTP/1.1\r\n\r\n").is_err());
        assert!(parse_head(&[0xff, 0xfe]).is_err());
    }

    #[test]
    fn http_message_has_length_and_closes() {
        let m = String::from_utf8(Response::new(200, "ok\n").to_http()).expect("utf8");
        assert!(m.starts_with("HTTP/1.1 200 OK\r\n"), "{m}");
        assert!(m.contains("Content-Length: 3\r\n"), "{m}");
        assert!(m.contains("Connection: close\r\n"), "{m}");
        assert!(m.ends_with("\r\n\r\nok\n"), "{m}");
    }
}
