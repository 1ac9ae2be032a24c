//! `grants.containers`: what a stage may do on the Docker Engine.
//!
//! ```toml
//! grants.containers = { run = ["127.0.0.1:5000/app:*"], build = true,
//!                       push = ["127.0.0.1:5000/app"], publish = [8081, "9000-9009"],
//!                       network = ["bridge"], manage = "app-", services = true,
//!                       cpus = 2.0, memory = "1GiB", pids = 256 }
//! ```
//!
//! | key | default | meaning |
//! | --- | --- | --- |
//! | `run` | none | image reference globs the stage may run (one-off and long-running) |
//! | `build` | `false` | may build images from workspace directories it can read (every image the build uses must match `run`) |
//! | `push` | none | repository globs (no tag) it may push to |
//! | `publish` | none | host ports (on 127.0.0.1) it may publish; integers or `"A-B"` ranges |
//! | `network` | `["none"]` | network modes: `none`, `bridge` (never `host`) |
//! | `manage` | none | name prefix of the long-running containers and services it may manage |
//! | `services` | `false` | may manage Swarm services (under `manage`); their tasks run on `bridge`, so `network` must list it |
//! | `expose` | none | `"all-interfaces"`: Swarm services may publish the `publish` ports, which Swarm binds on **every** interface of every node (`0.0.0.0` and `::`); it cannot bind one address. Without it a service publishes nothing |
//! | `cpus`, `memory`, `pids` | 2 CPUs, 1 GiB, 512 | ceilings of every container it starts (`cpus` 0.01–256, `memory` 4MiB–1024TiB, `pids` ≥ 1) |
//!
//! Image globs: `REPOSITORY[:TAG][@DIGEST]`, where `*` matches within one path
//! component and `**` across components; a pattern without tag or digest matches every
//! tag and digest of the repository. `docker.io/library/x` and `x` are the same image.
//! What the engine refuses whatever the grant says is in `gantry::caps::containers`.

use serde::{Deserialize, Serialize};
use toml::Spanned;
use toml::de::DeValue;

use crate::units::parse_size;
use crate::walk::{Cx, Val, span_of, type_name};

/// The one value of `expose`.
pub const EXPOSE_ALL: &str = "all-interfaces";

/// Default ceilings.
pub const DEFAULT_CPUS: f64 = 2.0;
pub const DEFAULT_MEMORY: u64 = 1 << 30;
pub const DEFAULT_PIDS: u32 = 512;

/// The smallest CPU limit the engine enforces (`docker run --cpus` refuses less). A
/// smaller one would become `NanoCpus = 0` — no limit at all — so it is refused, in
/// the grant and in every request.
pub const MIN_CPUS: f64 = 0.01;
/// The most CPUs a grant may name.
pub const MAX_CPUS: f64 = 256.0;
/// The engine's smallest memory limit.
pub const MIN_MEMORY: u64 = 4 << 20;
/// The largest memory ceiling: the engine takes a signed 64-bit count, where a wrapped
/// value would mean "unlimited"; 1024 TiB is beyond any real host.
pub const MAX_MEMORY: u64 = 1 << 50;

/// The parsed `grants.containers` table.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ContainersGrant {
    pub run: Vec<ImagePattern>,
    pub build: bool,
    pub push: Vec<String>,
    /// Inclusive host port ranges.
    pub publish: Vec<(u16, u16)>,
    pub network: Vec<String>,
    pub manage: Option<String>,
    pub services: bool,
    /// `Some("all-interfaces")`: Swarm services may publish ports (on every interface).
    pub expose: Option<String>,
    pub cpus: f64,
    pub memory: u64,
    pub pids: u32,
}

impl Eq for ContainersGrant {}

impl Default for ContainersGrant {
    fn default() -> Self {
        ContainersGrant {
            run: Vec::new(),
            build: false,
            push: Vec::new(),
            publish: Vec::new(),
            network: vec!["none".into()],
            manage: None,
            services: false,
            expose: None,
            cpus: DEFAULT_CPUS,
            memory: DEFAULT_MEMORY,
            pids: DEFAULT_PIDS,
        }
    }
}

impl ContainersGrant {
    pub fn may_publish(&self, port: u16) -> bool {
        self.publish.iter().any(|(a, b)| (*a..=*b).contains(&port))
    }
    /// Whether a Swarm service may publish `port`: Swarm binds a published port on
    /// every interface, so it needs `expose = "all-interfaces"` as well as `publish`.
    pub fn may_publish_service(&self, port: u16) -> bool {
        self.expose.is_some() && self.may_publish(port)
    }
    pub fn may_run(&self, image: &ImageRef) -> bool {
        self.run.iter().any(|p| p.matches(image))
    }
    pub fn may_push(&self, image: &ImageRef) -> bool {
        self.push.iter().any(|p| path_glob(p, &image.repository))
    }
}

/// A parsed image reference: `repository[:tag][@digest]`, normalized.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ImageRef {
    /// Without `docker.io/library/` or `docker.io/`.
    pub repository: String,
    /// `latest` when neither tag nor digest is given.
    pub tag: Option<String>,
    pub digest: Option<String>,
}

impl std::fmt::Display for ImageRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.repository)?;
        if let Some(t) = &self.tag {
            write!(f, ":{t}")?;
        }
        if let Some(d) = &self.digest {
            write!(f, "@{d}")?;
        }
        Ok(())
    }
}

impl ImageRef {
    /// Parses what `docker run` accepts (lowercase repository components, optional
    /// registry host with port, tag, `sha256:` digest). Errors say what is wrong.
    pub fn parse(text: &str) -> Result<ImageRef, String> {
        let (repository, tag, digest) = split_reference(text)?;
        check_repository(&repository, false)?;
        if let Some(t) = &tag {
            let ok = !t.is_empty()
                && t.len() <= 128
                && t.chars()
                    .next()
                    .is_some_and(|c| c.is_ascii_alphanumeric() || c == '_')
                && t.chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'));
            if !ok {
                return Err(format!("tag `{}` is not a valid tag", t.escape_debug()));
            }
        }
        if let Some(d) = &digest {
            let hex = d.strip_prefix("sha256:").unwrap_or("");
            if hex.len() != 64 || !hex.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
                return Err(format!(
                    "digest `{}` is not `sha256:` followed by 64 lowercase hex digits",
                    d.escape_debug()
                ));
            }
        }
        let tag = if tag.is_none() && digest.is_none() {
            Some("latest".to_string())
        } else {
            tag
        };
        Ok(ImageRef {
            repository,
            tag,
            digest,
        })
    }

    /// The registry host (`127.0.0.1:5000`) when the first component names one.
    pub fn registry(&self) -> Option<&str> {
        let (first, _) = self.repository.split_once('/')?;
        names_registry(&self.repository).then_some(first)
    }
}

/// `repo[:tag][@digest]` → parts, with Docker Hub prefixes removed.
fn split_reference(text: &str) -> Result<(String, Option<String>, Option<String>), String> {
    if text.is_empty() {
        return Err("the image reference is empty".into());
    }
    if text.len() > 512 {
        return Err("the image reference is longer than 512 bytes".into());
    }
    let (rest, digest) = match text.split_once('@') {
        Some((r, d)) => (r, Some(d.to_string())),
        None => (text, None),
    };
    let last_slash = rest.rfind('/').map_or(0, |i| i + 1);
    let (repo, tag) = match rest[last_slash..].rfind(':') {
        Some(i) => (
            &rest[..last_slash + i],
            Some(rest[last_slash + i + 1..].to_string()),
        ),
        None => (rest, None),
    };
    // Docker Hub's prefixes go, unless what remains would then name a registry:
    // `docker.io/docker.io/x` is Hub's `docker.io/x`, not `x` on Docker Hub, and the
    // host passes `Display` to the engine, so it must read back the same.
    let repo = repo
        .strip_prefix("docker.io/library/")
        .or_else(|| repo.strip_prefix("docker.io/"))
        .or_else(|| repo.strip_prefix("index.docker.io/library/"))
        .filter(|rest| !names_registry(rest))
        .unwrap_or(repo);
    Ok((repo.to_string(), tag, digest))
}

/// Whether the first component of `repo` is a registry host, as Docker reads it.
fn names_registry(repo: &str) -> bool {
    repo.split_once('/')
        .is_some_and(|(first, _)| first.contains(['.', ':']) || first == "localhost")
}

/// Docker's limit on a repository name (`NameTotalLengthMax`); longer names are
/// refused by the engine, and would not fit the glob matcher's bounds.
const MAX_REPOSITORY: usize = 255;

/// Repository syntax; `glob` also allows `*`.
fn check_repository(repo: &str, glob: bool) -> Result<(), String> {
    if repo.is_empty() {
        return Err("the repository name is empty".into());
    }
    if repo.len() > MAX_REPOSITORY {
        return Err(format!(
            "the repository name is longer than {MAX_REPOSITORY} bytes"
        ));
    }
    for (i, comp) in repo.split('/').enumerate() {
        if comp.is_empty() {
            return Err(format!(
                "`{}` has an empty path component",
                repo.escape_debug()
            ));
        }
        let host_like =
            i == 0 && repo.contains('/') && (comp.contains(['.', ':']) || comp == "localhost");
        let ok = comp.chars().all(|c| {
            c.is_ascii_lowercase()
                || c.is_ascii_digit()
                || matches!(c, '.' | '_' | '-')
                || (host_like && (c == ':' || c.is_ascii_uppercase()))
                || (glob && c == '*')
        });
        if !ok || comp == "." || comp == ".." {
            return Err(format!(
                "`{}` is not a valid repository name (lowercase letters, digits, `.`, `_`, `-`, separated by `/`; a registry host may come first)",
                repo.escape_debug()
            ));
        }
    }
    Ok(())
}

/// One glob of `grants.containers.run`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ImagePattern {
    pub repository: String,
    pub tag: Option<String>,
    pub digest: Option<String>,
}

impl ImagePattern {
    pub fn parse(text: &str) -> Result<ImagePattern, String> {
        let (repository, tag, digest) = split_reference(text)?;
        check_repository(&repository, true)?;
        if repository.split('/').all(|c| c.chars().all(|ch| ch == '*')) {
            return Err(format!("`{}` matches every image", text.escape_debug()));
        }
        Ok(ImagePattern {
            repository,
            tag,
            digest,
        })
    }

    pub fn matches(&self, image: &ImageRef) -> bool {
        if !path_glob(&self.repository, &image.repository) {
            return false;
        }
        match (&self.tag, &image.tag) {
            (Some(p), Some(t)) if !crate::grants::process::arg_glob_match(p, t) => {
                return false;
            }
            (Some(_), None) if self.digest.is_none() => return false,
            _ => {}
        }
        match (&self.digest, &image.digest) {
            (Some(p), Some(d)) => crate::grants::process::arg_glob_match(p, d),
            (Some(_), None) => false,
            (None, _) => true,
        }
    }
}

impl std::fmt::Display for ImagePattern {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.repository)?;
        if let Some(t) = &self.tag {
            write!(f, ":{t}")?;
        }
        if let Some(d) = &self.digest {
            write!(f, "@{d}")?;
        }
        Ok(())
    }
}

/// `*` within one `/`-separated component, `**` across components.
pub fn path_glob(pattern: &str, text: &str) -> bool {
    // Dynamic programming over (pattern position, text position): O(pattern × text)
    // whatever the stars, so a hostile reference cannot make matching backtrack
    // exponentially. `reach[j]`: the pattern so far can consume exactly `text[..j]`.
    let (p, t) = (pattern.as_bytes(), text.as_bytes());
    if p.len() > 256 || t.len() > 4096 {
        return false;
    }
    let mut reach = vec![false; t.len() + 1];
    reach[0] = true;
    let mut i = 0;
    while i < p.len() {
        let mut next = vec![false; t.len() + 1];
        if p[i] == b'*' {
            let cross = p.get(i + 1) == Some(&b'*');
            // From each reachable j, a star extends over any run (not crossing `/`
            // for a single star).
            let mut open = false;
            for j in 0..=t.len() {
                if reach[j] {
                    open = true;
                }
                next[j] = open;
                if !cross && j < t.len() && t[j] == b'/' {
                    open = false;
                }
            }
            i += if cross { 2 } else { 1 };
        } else {
            for j in 0..t.len() {
                next[j + 1] = reach[j] && t[j] == p[i];
            }
            i += 1;
        }
        reach = next;
    }
    reach[t.len()]
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ContainersToml {
    #[serde(default)]
    run: Vec<Spanned<String>>,
    #[serde(default)]
    build: bool,
    #[serde(default)]
    push: Vec<Spanned<String>>,
    #[allow(dead_code)]
    publish: Option<serde::de::IgnoredAny>,
    #[serde(default)]
    network: Option<Vec<Spanned<String>>>,
    manage: Option<Spanned<String>>,
    #[serde(default)]
    services: bool,
    expose: Option<Spanned<String>>,
    cpus: Option<Spanned<f64>>,
    #[allow(dead_code)]
    memory: Option<serde::de::IgnoredAny>,
    pids: Option<Spanned<u32>>,
}

pub(crate) fn parse(cx: &mut Cx<'_>, v: &Val<'_>, stage: &str) -> ContainersGrant {
    let what = format!("`grants.containers` of stage `{stage}`");
    let mut g = ContainersGrant::default();
    let DeValue::Table(table) = v.get_ref() else {
        let d = cx.type_error(v, "a table", &what);
        cx.push(d.with_hint(
            "e.g. `grants.containers = { run = [\"127.0.0.1:5000/app:*\"], network = [\"bridge\"] }`",
        ));
        return g;
    };
    let Some(raw) = cx.ok(cx.deserialize::<ContainersToml>(
        v,
        "grants.containers",
        &format!("stage `{stage}`"),
    )) else {
        return g;
    };
    for p in &raw.run {
        match ImagePattern::parse(p.get_ref()) {
            Ok(pat) => g.run.push(pat),
            Err(why) => cx.error(
                span_of(p),
                format!("`run` in {what}: {why}"),
                Some(
                    "grant images by repository and tag glob, e.g. `\"127.0.0.1:5000/app:*\"`"
                        .into(),
                ),
            ),
        }
    }
    g.build = raw.build;
    for p in &raw.push {
        let text = p.get_ref();
        let err = if text.contains('@') || split_reference(text).is_ok_and(|(_, t, _)| t.is_some())
        {
            Some("push targets are repositories, without tag or digest".to_string())
        } else {
            check_repository(text, true).err()
        };
        match err {
            Some(why) => cx.error(
                span_of(p),
                format!("`push` in {what}: {why}"),
                Some("e.g. `push = [\"127.0.0.1:5000/app\"]`".into()),
            ),
            None => g.push.push(text.clone()),
        }
    }
    if let Some(list) = table.get("publish") {
        g.publish = parse_publish(cx, list, &what);
    }
    if let Some(nets) = &raw.network {
        g.network.clear();
        for n in nets {
            match n.get_ref().as_str() {
                m @ ("none" | "bridge") => {
                    if !g.network.iter().any(|x| x == m) {
                        g.network.push(m.to_string());
                    }
                }
                "host" => cx.error(
                    span_of(n),
                    format!("`network` in {what}: the host network is never granted: a container on it reaches every service of the host, the Docker socket's TCP port and the cloud metadata endpoint"),
                    Some("use `bridge` and publish the ports you need with `publish`".into()),
                ),
                other => cx.error(
                    span_of(n),
                    format!("`network` in {what}: unknown network mode `{}`", other.escape_debug()),
                    Some("network modes are `none` and `bridge`".into()),
                ),
            }
        }
    }
    if let Some(m) = &raw.manage {
        let p = m.get_ref();
        let ok = p.len() >= 2
            && p.len() <= 40
            && p.chars().next().is_some_and(|c| c.is_ascii_alphanumeric())
            && p.chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'));
        if ok {
            g.manage = Some(p.clone());
        } else {
            cx.error(
                span_of(m),
                format!("`manage` in {what}: `{}` is not a usable name prefix", p.escape_debug()),
                Some("a prefix of at least 2 characters from `[A-Za-z0-9_.-]`, starting with a letter or digit, e.g. `manage = \"app-staging-\"`".into()),
            );
        }
    }
    g.services = raw.services;
    if g.services && g.manage.is_none() {
        cx.error(
            span_of(v),
            format!("{what}: `services = true` needs `manage`, the name prefix of the services the stage may manage"),
            Some("add e.g. `manage = \"app-\"`".into()),
        );
    }
    if g.services && g.manage.is_some() && !g.network.iter().any(|n| n == "bridge") {
        cx.error(
            span_of(v),
            format!("{what}: `services = true`, but Swarm runs a service's tasks on the `bridge` network and this grant does not give it"),
            Some("add `network = [\"bridge\"]` (a Swarm service cannot run on `none`)".into()),
        );
    }
    if let Some(e) = &raw.expose {
        if e.get_ref() != EXPOSE_ALL {
            cx.error(
                span_of(e),
                format!("`expose` in {what}: `{}` is not a known exposure", e.get_ref().escape_debug()),
                Some(format!("the only value is `expose = \"{EXPOSE_ALL}\"`: Swarm binds a service's published ports on every interface of every node")),
            );
        } else if !g.services || g.publish.is_empty() {
            cx.error(
                span_of(e),
                format!("{what}: `expose` applies to the ports Swarm services publish, and this grant has {}", if g.services { "no `publish` ports" } else { "no `services = true`" }),
                Some("remove `expose`, or grant `services = true` and the `publish` ports the services may bind on all interfaces".into()),
            );
        } else {
            g.expose = Some(EXPOSE_ALL.into());
        }
    }
    if let Some(c) = &raw.cpus {
        match check_cpus(*c.get_ref()) {
            Ok(n) => g.cpus = n,
            Err(why) => cx.error(
                span_of(c),
                format!("`cpus` in {what} {why}"),
                Some("e.g. `cpus = 1.5`".into()),
            ),
        }
    }
    if let Some(m) = table.get("memory") {
        match m.get_ref().as_str().map(parse_size) {
            Some(Ok(n)) if (MIN_MEMORY..=MAX_MEMORY).contains(&n) => g.memory = n,
            Some(Ok(n)) => cx.error(
                span_of(m),
                if n < MIN_MEMORY {
                    format!("`memory` in {what} is below the engine's minimum of 4MiB")
                } else {
                    format!(
                        "`memory` in {what} is above gantry's maximum of {}",
                        crate::units::format_size(MAX_MEMORY)
                    )
                },
                Some("e.g. `memory = \"512MiB\"`".into()),
            ),
            Some(Err(e)) => cx.error(
                span_of(m),
                format!("`memory` in {what}: {}", e.reason),
                e.hint.or_else(|| Some("e.g. `memory = \"512MiB\"`".into())),
            ),
            None => {
                let d = cx.type_error(m, "a size string", &format!("`memory` in {what}"));
                cx.push(d.with_hint("e.g. `memory = \"512MiB\"`"));
            }
        }
    }
    if let Some(p) = &raw.pids {
        if *p.get_ref() == 0 {
            cx.error(
                span_of(p),
                format!("`pids` in {what} must be at least 1"),
                Some("e.g. `pids = 256`".into()),
            );
        } else {
            g.pids = *p.get_ref();
        }
    }
    g
}

/// A CPU ceiling the engine enforces as written, or why not (the end of a sentence
/// starting with the key).
pub fn check_cpus(n: f64) -> Result<f64, String> {
    if n.is_finite() && (MIN_CPUS..=MAX_CPUS).contains(&n) {
        Ok(n)
    } else {
        Err(format!(
            "must be at least {MIN_CPUS} (less rounds to 0, which Docker reads as unlimited) and at most {MAX_CPUS}, got {n}"
        ))
    }
}

fn parse_publish(cx: &mut Cx<'_>, v: &Val<'_>, what: &str) -> Vec<(u16, u16)> {
    let hint = "list host ports or ranges, e.g. `publish = [8080, \"9000-9009\"]`";
    let DeValue::Array(items) = v.get_ref() else {
        let d = cx.type_error(v, "a list of ports", &format!("`publish` in {what}"));
        cx.push(d.with_hint(hint));
        return Vec::new();
    };
    let mut out = Vec::new();
    for item in items {
        let range = match item.get_ref() {
            DeValue::Integer(i) => i
                .as_str()
                .parse::<u16>()
                .ok()
                .filter(|p| *p > 0)
                .map(|p| (p, p)),
            DeValue::String(s) => s.split_once('-').and_then(|(a, b)| {
                let a = a.trim().parse::<u16>().ok().filter(|p| *p > 0)?;
                let b = b.trim().parse::<u16>().ok()?;
                (a <= b).then_some((a, b))
            }),
            other => {
                cx.error(
                    span_of(item),
                    format!(
                        "`publish` in {what}: expected a port or a range, found {}",
                        type_name(other)
                    ),
                    Some(hint.into()),
                );
                continue;
            }
        };
        match range {
            Some(r) => out.push(r),
            None => cx.error(
                span_of(item),
                format!("`publish` in {what}: not a port (1-65535) or a range `A-B` with A ≤ B"),
                Some(hint.into()),
            ),
        }
    }
    out
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn r(s: &str) -> ImageRef {
        ImageRef::parse(s).unwrap()
    }

    #[test]
    fn references() {
        assert_eq!(r("busybox").to_string(), "busybox:latest");
        assert_eq!(r("docker.io/library/busybox:1").to_string(), "busybox:1");
        assert_eq!(
            r("127.0.0.1:5000/app").to_string(),
            "127.0.0.1:5000/app:latest"
        );
        assert_eq!(
            r("127.0.0.1:5000/app:v1").registry(),
            Some("127.0.0.1:5000")
        );
        assert_eq!(r("app:v1").registry(), None);
        let d = format!("app@sha256:{}", "a".repeat(64));
        assert_eq!(r(&d).tag, None);
        assert!(ImageRef::parse("App:v1").is_err());
        assert!(ImageRef::parse("app:-x").is_err());
        assert!(ImageRef::parse("app@sha256:xyz").is_err());
        assert!(ImageRef::parse("a/../b").is_err());
        assert!(ImageRef::parse("").is_err());
    }

    /// Found by `fuzz/run image_ref`: what is checked must be what the engine is
    /// given (`Display`), so a reference reads back as itself.
    #[test]
    fn display_reads_back_as_the_same_image() {
        let long = format!("a/{}", "b".repeat(254));
        for text in [
            "docker.io/docker.io/x",
            "docker.io/library/localhost/x:1",
            "docker.io/library/busybox",
            "docker.io/x/y",
            "docker.io/x",
            &long[..255],
        ] {
            let image = r(text);
            assert_eq!(
                ImageRef::parse(&image.to_string()),
                Ok(image.clone()),
                "{text}"
            );
        }
        assert_eq!(
            r("docker.io/docker.io/x").repository,
            "docker.io/docker.io/x"
        );
        assert_eq!(r("docker.io/docker.io/x").registry(), Some("docker.io"));
        assert_eq!(r("docker.io/x/y").repository, "x/y");
        // Docker reads `a:5000` as a path component here, where `:` is invalid.
        assert!(ImageRef::parse("index.docker.io/library/a:5000/b").is_err());
        // A repository Docker refuses (over 255 bytes); with `:latest` added, its
        // `Display` was also over the 512-byte limit and did not parse.
        let e = ImageRef::parse(&format!("{long}/c")).unwrap_err();
        assert!(e.contains("longer than 255"), "{e}");
        assert!(ImagePattern::parse(&format!("{long}/*")).is_err());
    }

    #[test]
    fn patterns() {
        let p = ImagePattern::parse("127.0.0.1:5000/app:*").unwrap();
        assert!(p.matches(&r("127.0.0.1:5000/app:v1")));
        assert!(!p.matches(&r("127.0.0.1:5000/app-evil:v1")));
        assert!(!p.matches(&r("127.0.0.1:5000/app/sub:v1")));
        assert!(!p.matches(&r("127.0.0.2:5000/app:v1")));
        let p = ImagePattern::parse("gantry-test/*").unwrap();
        assert!(p.matches(&r("gantry-test/busybox:1")));
        assert!(!p.matches(&r("gantry-test/a/b:1")));
        let p = ImagePattern::parse("gantry-test/**").unwrap();
        assert!(p.matches(&r("gantry-test/a/b:1")));
        let p = ImagePattern::parse("busybox:1.*").unwrap();
        assert!(p.matches(&r("docker.io/library/busybox:1.36")));
        assert!(!p.matches(&r("busybox")));
        assert!(ImagePattern::parse("*").is_err());
        assert!(ImagePattern::parse("**").is_err());
        assert!(ImagePattern::parse("*/*").is_err());
    }

    #[test]
    fn cpu_ceilings_never_round_to_unlimited() {
        assert_eq!(check_cpus(1.5), Ok(1.5));
        assert_eq!(check_cpus(MIN_CPUS), Ok(MIN_CPUS));
        for bad in [0.0, 1e-10, 0.009, -1.0, 257.0, f64::NAN, f64::INFINITY] {
            let e = check_cpus(bad).unwrap_err();
            assert!(
                e.contains("at least 0.01") && e.contains("unlimited"),
                "{bad}: {e}"
            );
        }
        let check = |grant: &str| {
            let src = format!(
                "[pipeline]\nname = \"p\"\n\n[stage.s]\nplugin = \"builtin:x\"\ngrants.containers = {grant}\n"
            );
            crate::Manifest::parse(std::path::Path::new("pipeline.toml"), &src)
                .err()
                .map(|e| e.to_string())
                .unwrap_or_default()
        };
        let e = check("{ cpus = 1e-10 }");
        assert!(e.contains("`cpus`") && e.contains("unlimited"), "{e}");
        let e = check("{ memory = \"2048TiB\" }");
        assert!(e.contains("above gantry's maximum"), "{e}");
        assert_eq!(check("{ cpus = 0.01, memory = \"4MiB\" }"), "");
    }

    #[test]
    fn globs_are_bounded() {
        assert!(!path_glob(&"*".repeat(300), "a"));
        assert!(path_glob("a*b*c", "aXXbYYc"));
        assert!(!path_glob("a*c", "ab/c"));
        assert!(path_glob("a**c", "ab/c"));
        assert!(path_glob("**", ""));
        assert!(path_glob("a/**/b", "a/x/y/b"));
        assert!(!path_glob("a/*", "a/x/y"));
        // Many stars against a long near-miss: linear in each, not exponential.
        let pattern = "a**a**a**a**a**a**a**a**a**a**b";
        assert!(!path_glob(pattern, &"a".repeat(512)));
    }
}
