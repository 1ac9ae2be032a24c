//! `grants.http`: `HttpGrant::parse`, `HttpGrant::allows`, `HttpGrant::names_ip`.
//!
//! Properties:
//! - neither parsing nor matching panics;
//! - a parsed grant is normal: scheme `http`/`https`, lower-case host without a
//!   trailing dot, port ≠ 0, a path prefix starting with `/` without `//` or dot
//!   segments; parsing its URL again gives the same grant;
//! - a URL with credentials (`user:pw@`, with or without a scheme) is refused by
//!   the one message that does not repeat the URL;
//! - an allowed request has the grant's scheme and port, one of its methods (exactly:
//!   methods are case-sensitive), and
//!   its host: the same name (case and one trailing dot aside), the same address, or
//!   exactly one extra valid leftmost label for `*.` grants;
//! - an allowed request whose path is plain (no `%`, `.`/`..` segments, `//`, `;`)
//!   is under the prefix, segment-aware;
//! - a grant allows its own prefix (and a child of it) on its own origin, and
//!   dropping its method list never turns an allowed request into a refused one.
#![no_main]

use std::net::IpAddr;

use arbitrary::Arbitrary;
use gantry_manifest::HttpGrant;
use libfuzzer_sys::fuzz_target;

#[derive(Arbitrary, Debug)]
enum GrantUrl<'a> {
    Raw(&'a str),
    Parts {
        https: bool,
        host: &'a str,
        port: Option<u16>,
        path: &'a str,
    },
}

#[derive(Arbitrary, Debug)]
enum ReqHost<'a> {
    Raw(&'a str),
    /// The grant's own host, with `*` replaced by `label`, maybe upper-cased and
    /// with a trailing dot.
    Own {
        label: &'a str,
        upper: bool,
        dot: bool,
    },
    /// A suffix attack: the grant's host with something in front.
    Prefixed(&'a str),
}

#[derive(Arbitrary, Debug)]
enum ReqPath<'a> {
    Raw(&'a str),
    /// The grant's prefix followed by this.
    UnderPrefix(&'a str),
}

#[derive(Arbitrary, Debug)]
struct Input<'a> {
    url: GrantUrl<'a>,
    methods: Vec<&'a str>,
    method: &'a str,
    scheme: &'a str,
    same_scheme: bool,
    host: ReqHost<'a>,
    port: u16,
    same_port: bool,
    path: ReqPath<'a>,
    ip: IpAddr,
}

fuzz_target!(|input: Input<'_>| {
    let url = match input.url {
        GrantUrl::Raw(s) => s.to_string(),
        GrantUrl::Parts {
            https,
            host,
            port,
            path,
        } => {
            let scheme = if https { "https" } else { "http" };
            let port = port.map(|p| format!(":{p}")).unwrap_or_default();
            format!("{scheme}://{host}{port}{path}")
        }
    };
    let parsed = HttpGrant::parse(&url);
    // Credentials are refused before anything else, by a message that cannot show them.
    let rest = url.split_once("://").map_or(url.as_str(), |(_, r)| r);
    let authority = &rest[..rest.find(['/', '?', '#']).unwrap_or(rest.len())];
    if authority.contains('@') {
        assert_eq!(
            parsed.as_ref().map_err(String::as_str),
            Err("the URL contains credentials (`user:password@`)"),
            "{url}"
        );
    }
    let Ok(mut grant) = parsed else {
        return;
    };
    check_normal(&grant, &url);

    // A grant allows its own origin and prefix.
    let own_host = grant.host.replace('*', "a");
    let child = if grant.path_prefix.ends_with('/') {
        format!("{}x", grant.path_prefix)
    } else {
        format!("{}/x", grant.path_prefix)
    };
    for path in [grant.path_prefix.as_str(), child.as_str()] {
        assert!(
            grant.allows("GET", &grant.scheme, &own_host, grant.port, path),
            "{grant:?} refuses its own prefix {path}"
        );
    }

    grant.methods = input
        .methods
        .iter()
        .map(|m| m.to_ascii_uppercase())
        .collect();
    let scheme = if input.same_scheme {
        grant.scheme.to_ascii_uppercase()
    } else {
        input.scheme.to_string()
    };
    let port = if input.same_port {
        grant.port
    } else {
        input.port
    };
    let host = match input.host {
        ReqHost::Raw(h) => h.to_string(),
        ReqHost::Own { label, upper, dot } => {
            let mut h = grant.host.replace('*', label);
            if upper {
                h = h.to_ascii_uppercase();
            }
            if dot {
                h.push('.');
            }
            h
        }
        ReqHost::Prefixed(p) => format!("{p}{}", grant.host),
    };
    let path = match input.path {
        ReqPath::Raw(p) => p.to_string(),
        ReqPath::UnderPrefix(p) => format!("{}{p}", grant.path_prefix),
    };

    let allowed = grant.allows(input.method, &scheme, &host, port, &path);
    if allowed {
        check_allowed(&grant, input.method, &scheme, &host, port, &path);
        let mut any_method = grant.clone();
        any_method.methods.clear();
        assert!(any_method.allows(input.method, &scheme, &host, port, &path));
    }

    if grant.names_ip(input.ip) {
        assert!(
            !grant.host.starts_with('*'),
            "a wildcard names {}",
            input.ip
        );
    }
});

fn check_normal(g: &HttpGrant, url: &str) {
    assert!(g.scheme == "http" || g.scheme == "https", "{g:?}");
    assert_ne!(g.port, 0, "{g:?}");
    assert!(!g.host.is_empty() && !g.host.ends_with('.'), "{g:?}");
    assert_eq!(g.host, g.host.to_ascii_lowercase(), "{g:?}");
    assert!(g.path_prefix.starts_with('/'), "{g:?}");
    assert!(!g.path_prefix.contains("//"), "{g:?}");
    assert!(
        !g.path_prefix[1..].split('/').any(|s| s == "." || s == ".."),
        "{g:?}"
    );
    if let Some(rest) = g.host.strip_prefix('*') {
        assert!(rest.starts_with('.') && !rest.contains('*'), "{g:?}");
        assert!(rest[1..].contains('.'), "wildcard over a TLD: {g:?}");
    }
    assert!(g.methods.is_empty());
    assert_eq!(g.url, url);
    assert_eq!(
        HttpGrant::parse(url).as_ref(),
        Ok(g),
        "parsing is not deterministic"
    );
}

fn ip_of(host: &str) -> Option<IpAddr> {
    let inner = host
        .strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host);
    inner.parse().ok()
}

fn check_allowed(g: &HttpGrant, method: &str, scheme: &str, host: &str, port: u16, path: &str) {
    let what = format!("{g:?} allows {method} {scheme}://{host}:{port}{path}");
    assert!(scheme.eq_ignore_ascii_case(&g.scheme), "{what}");
    assert_eq!(port, g.port, "{what}");
    assert!(
        // Methods are case-sensitive: exactly one of the grant's.
        g.methods.is_empty() || g.methods.iter().any(|m| m == method),
        "{what}"
    );
    let h = host.to_ascii_lowercase();
    let h = h.strip_suffix('.').unwrap_or(&h);
    if let Some(own) = ip_of(&g.host) {
        let ip = ip_of(h).unwrap_or_else(|| panic!("not an address: {what}"));
        assert_eq!(ip.to_canonical(), own.to_canonical(), "{what}");
    } else if let Some(suffix) = g.host.strip_prefix('*') {
        let label = h
            .strip_suffix(suffix)
            .unwrap_or_else(|| panic!("wrong domain: {what}"));
        assert!(
            !label.is_empty() && !label.contains(['.', '*', '/', ':', '@', '[']),
            "{what}"
        );
    } else {
        assert_eq!(h, g.host, "{what}");
    }
    let p = path.split(['?', '#']).next().unwrap_or("");
    let p = if p.is_empty() { "/" } else { p };
    let segments = p
        .strip_prefix('/')
        .unwrap_or_else(|| panic!("a relative path: {what}"));
    let plain = !p.contains(['%', ';'])
        && !p.contains("//")
        && !segments.split('/').any(|s| s == "." || s == "..");
    if plain {
        let prefix = &g.path_prefix;
        let under = if prefix.ends_with('/') {
            p.starts_with(prefix.as_str())
        } else {
            p == prefix
                || p.strip_prefix(prefix.as_str())
                    .is_some_and(|r| r.starts_with('/'))
        };
        assert!(under, "not under the prefix: {what}");
    }
    assert!(
        !p.contains('\\') && p.bytes().all(|b| b.is_ascii_graphic()),
        "{what}"
    );
}
