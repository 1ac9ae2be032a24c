//! Docker test support: is there an engine, where is the test registry, scratch images
//! to run, and listings of engine objects for "nothing new appeared" assertions.
//!
//! Everything goes through the `docker` CLI on `PATH`, not the API gantry's broker
//! uses, so a broker bug cannot hide itself from the tests that check it.
//!
//! Policy for a missing engine (the "never skip silently"): with `CI=true` the
//! test panics and says to run `.ci/docker-up`; otherwise it prints a visible
//! `SKIPPED <test>: …` line to stderr and the test returns early. The same holds for
//! the registry. No image is ever pulled: images are built `FROM scratch` from
//! Debian's static busybox or from the `tests/healthz` server, built statically by a
//! nested `cargo build` into `target/healthz`.
//!
//! Engine-wide listings see every client of the engine. Tests in one process that
//! compare [`Snapshot`]s hold [`exclusive`], and tests that create objects hold
//! [`shared`], so a snapshot never sees a neighbour's objects; other processes using
//! the same engine are not covered. [`Cleanup`] waits until a removed service's task
//! containers are gone, so a test leaves nothing behind for the next snapshot.
//!
//! Tested by `tests/e2e/e2e_docker_env.rs`.

use std::collections::{BTreeMap, BTreeSet};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{OnceLock, RwLock, RwLockReadGuard, RwLockWriteGuard};
use std::time::{Duration, Instant};

/// Where `.ci/docker-up` writes the registry settings unless `GANTRY_CI_DIR` says.
pub const DEFAULT_CI_DIR: &str = "/var/lib/gantry-ci";
/// Label on every image the builders here make, for clean-up and listings.
pub const SUPPORT_LABEL: &str = "org.gantry.test-support";

/// What the engine reported when it answered.
#[derive(Debug, Clone)]
pub struct DockerFacts {
    pub server_version: String,
    pub api_version: String,
    pub storage_driver: String,
    /// `LocalNodeState`: `active` when Swarm is initialised.
    pub swarm_state: String,
}

impl DockerFacts {
    pub fn swarm_active(&self) -> bool {
        self.swarm_state == "active"
    }
}

/// True when `CI` is `true` or `1`: missing components are failures, not skips.
pub fn in_ci() -> bool {
    matches!(std::env::var("CI").as_deref(), Ok("true" | "1"))
}

/// Skips (outside CI) or fails (in CI) `test` for `reason`: for a test that needs
/// something else this machine lacks (an architecture, a library path), under the
/// same policy as a missing engine.
pub fn skip<T>(test: &str, reason: &str) -> Option<T> {
    skip_or_fail(test, reason)
}

/// Skips (outside CI) or fails (in CI) `test` for `reason`.
fn skip_or_fail<T>(test: &str, reason: &str) -> Option<T> {
    if in_ci() {
        panic!(
            "{test}: {reason}. CI=true, so this is a failure, not a skip: start the \
             components with `sudo .ci/docker-up` (installs docker.io, docker-registry; \
             starts dockerd, the registry on 127.0.0.1:5000 and Swarm), then \
             `set -a; . /var/lib/gantry-ci/env; set +a`"
        );
    }
    // Straight to the stderr handle: the test harness captures `eprintln!` of passing
    // tests, and a skip nobody sees is a silent one.
    let _ = writeln!(std::io::stderr(), "SKIPPED {test}: {reason}");
    None
}

/// The engine's facts when one answers; otherwise `None` after a visible SKIPPED line,
/// or a panic when `CI=true`.
pub fn docker_or_skip(test: &str) -> Option<DockerFacts> {
    match engine_facts() {
        Ok(f) => Some(f),
        Err(e) => skip_or_fail(test, &format!("no Docker engine ({e}); run .ci/docker-up")),
    }
}

fn engine_facts() -> Result<DockerFacts, String> {
    let out = Command::new("docker")
        .args([
            "info",
            "--format",
            "{{.ServerVersion}}|{{.Driver}}|{{.Swarm.LocalNodeState}}",
        ])
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("cannot run the docker CLI: {e}"))?;
    let text = String::from_utf8_lossy(&out.stdout).trim().to_string();
    let parts: Vec<&str> = text.split('|').collect();
    // `docker info` exits 0 with an empty server part on some client versions.
    if !out.status.success() || parts.len() != 3 || parts[0].is_empty() {
        let err = String::from_utf8_lossy(&out.stderr);
        return Err(err
            .lines()
            .next()
            .unwrap_or("docker info failed")
            .to_string());
    }
    let api = docker(&["version", "--format", "{{.Server.APIVersion}}"])?;
    Ok(DockerFacts {
        server_version: parts[0].to_string(),
        storage_driver: parts[1].to_string(),
        swarm_state: parts[2].to_string(),
        api_version: api,
    })
}

/// Runs `docker ARGS`; trimmed stdout, or an error with the command and its stderr.
pub fn docker(args: &[&str]) -> Result<String, String> {
    docker_env(args, &[])
}

/// [`docker`] with extra environment (e.g. `DOCKER_CONFIG`).
pub fn docker_env(args: &[&str], env: &[(&str, &Path)]) -> Result<String, String> {
    let mut cmd = Command::new("docker");
    cmd.args(args).stdin(Stdio::null());
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd
        .output()
        .map_err(|e| format!("cannot run `docker {}`: {e}", args.join(" ")))?;
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
    } else {
        Err(format!(
            "`docker {}` failed ({}): {}",
            args.join(" "),
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}

/// [`docker`] that panics with the error: for steps a test cannot go on without.
pub fn docker_ok(args: &[&str]) -> String {
    docker(args).unwrap_or_else(|e| panic!("{e}"))
}

// ---------------------------------------------------------------------------------
// Registry

/// The local test registry started by `.ci/docker-up`.
#[derive(Clone)]
pub struct Registry {
    /// `host:port`, e.g. `127.0.0.1:5000`.
    pub address: String,
    pub user: String,
    pub password: String,
}

impl std::fmt::Debug for Registry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Registry")
            .field("address", &self.address)
            .field("user", &self.user)
            .field("password", &"<redacted>")
            .finish()
    }
}

/// The registry's settings: `GANTRY_TEST_REGISTRY`, `GANTRY_TEST_REGISTRY_USER` and
/// `GANTRY_TEST_REGISTRY_PASSWORD` or `…_PASSWORD_FILE` from the environment, each
/// falling back to the env file `.ci/docker-up` wrote.
pub fn registry() -> Result<Registry, String> {
    let dir = std::env::var("GANTRY_CI_DIR").unwrap_or_else(|_| DEFAULT_CI_DIR.to_string());
    let env_file = Path::new(&dir).join("env");
    let file: BTreeMap<String, String> = std::fs::read_to_string(&env_file)
        .map(|t| {
            t.lines()
                .filter_map(|l| l.split_once('='))
                .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
                .collect()
        })
        .unwrap_or_default();
    let get = |k: &str| std::env::var(k).ok().or_else(|| file.get(k).cloned());
    let missing = |k: &str| {
        format!(
            "{k} is not set and {} does not define it",
            env_file.display()
        )
    };
    let address = get("GANTRY_TEST_REGISTRY").ok_or_else(|| missing("GANTRY_TEST_REGISTRY"))?;
    let user =
        get("GANTRY_TEST_REGISTRY_USER").ok_or_else(|| missing("GANTRY_TEST_REGISTRY_USER"))?;
    let password = match get("GANTRY_TEST_REGISTRY_PASSWORD") {
        Some(p) => p,
        None => {
            let f = get("GANTRY_TEST_REGISTRY_PASSWORD_FILE")
                .ok_or_else(|| missing("GANTRY_TEST_REGISTRY_PASSWORD_FILE"))?;
            std::fs::read_to_string(&f)
                .map_err(|e| format!("cannot read the registry password file {f}: {e}"))?
                .trim()
                .to_string()
        }
    };
    Ok(Registry {
        address,
        user,
        password,
    })
}

/// [`registry`] under the same skip/fail policy as [`docker_or_skip`]; also checks
/// the registry answers.
pub fn registry_or_skip(test: &str) -> Option<Registry> {
    let r = match registry() {
        Ok(r) => r,
        Err(e) => {
            return skip_or_fail(test, &format!("no test registry: {e}; run .ci/docker-up"));
        }
    };
    match http_get(&r.address, "/v2/") {
        // 401: up, and demanding the credentials the tests are meant to exercise.
        Ok((401 | 200, _)) => Some(r),
        Ok((code, _)) => skip_or_fail(
            test,
            &format!(
                "registry {} answered /v2/ with {code}; run .ci/docker-up",
                r.address
            ),
        ),
        Err(e) => skip_or_fail(
            test,
            &format!(
                "registry {} does not answer: {e}; run .ci/docker-up",
                r.address
            ),
        ),
    }
}

impl Registry {
    /// A fresh client config directory (for `DOCKER_CONFIG`) logged in to the
    /// registry; removed on drop. Keeps the tests independent of `~/.docker`.
    pub fn logged_in_config(&self) -> DockerConfig {
        let cfg = DockerConfig::empty();
        let mut child = Command::new("docker")
            .args(["login", "-u", &self.user, "--password-stdin", &self.address])
            .env("DOCKER_CONFIG", &cfg.dir)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("run docker login");
        child
            .stdin
            .take()
            .expect("piped stdin")
            .write_all(self.password.as_bytes())
            .expect("send the password to docker login");
        let out = child.wait_with_output().expect("docker login finished");
        assert!(
            out.status.success(),
            "docker login {} as {} failed: {}",
            self.address,
            self.user,
            String::from_utf8_lossy(&out.stderr)
        );
        cfg
    }
}

/// A private `DOCKER_CONFIG` directory, removed on drop.
pub struct DockerConfig {
    pub dir: PathBuf,
}

impl DockerConfig {
    /// No credentials at all: pushes with it are anonymous.
    pub fn empty() -> DockerConfig {
        let dir = std::env::temp_dir().join(unique("gantry-docker-config"));
        std::fs::create_dir_all(&dir).expect("create a DOCKER_CONFIG dir");
        DockerConfig { dir }
    }

    /// `docker ARGS` with this config.
    pub fn docker(&self, args: &[&str]) -> Result<String, String> {
        docker_env(args, &[("DOCKER_CONFIG", &self.dir)])
    }
}

impl Drop for DockerConfig {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

// ---------------------------------------------------------------------------------
// Images

static UNIQUE: AtomicUsize = AtomicUsize::new(0);

/// `prefix-<pid>-<n>`: a name no other test or test process uses (valid as an image
/// repository, container or service name when `prefix` is lowercase).
pub fn unique(prefix: &str) -> String {
    format!(
        "{prefix}-{}-{}",
        std::process::id(),
        UNIQUE.fetch_add(1, Ordering::SeqCst)
    )
}

/// Whether the ELF file at `path` needs no program interpreter (static or static-pie).
pub fn is_static_elf(path: &Path) -> Result<bool, String> {
    let bytes = std::fs::read(path).map_err(|e| format!("read {}: {e}", path.display()))?;
    let not_elf = || format!("{} is not a 64-bit little-endian ELF file", path.display());
    if bytes.len() < 64 || &bytes[..4] != b"\x7fELF" || bytes[4] != 2 || bytes[5] != 1 {
        return Err(not_elf());
    }
    let u16_at = |o: usize| u16::from_le_bytes([bytes[o], bytes[o + 1]]) as usize;
    let mut phoff = [0u8; 8];
    phoff.copy_from_slice(&bytes[0x20..0x28]);
    let (phoff, phentsize, phnum) = (
        u64::from_le_bytes(phoff) as usize,
        u16_at(0x36),
        u16_at(0x38),
    );
    const PT_INTERP: u32 = 3;
    for i in 0..phnum {
        let o = phoff + i * phentsize;
        let Some(t) = bytes.get(o..o + 4) else {
            return Err(not_elf());
        };
        if u32::from_le_bytes([t[0], t[1], t[2], t[3]]) == PT_INTERP {
            return Ok(false);
        }
    }
    Ok(true)
}

fn busybox_path() -> PathBuf {
    let candidates = std::env::var_os("GANTRY_TEST_BUSYBOX")
        .map(|p| vec![PathBuf::from(p)])
        .unwrap_or_else(|| vec!["/bin/busybox".into(), "/usr/bin/busybox".into()]);
    for p in &candidates {
        if p.exists() {
            match is_static_elf(p) {
                Ok(true) => return p.clone(),
                Ok(false) => panic!(
                    "{} is dynamically linked and cannot run in a scratch image; install \
                     Debian's busybox-static (.ci/docker-up does)",
                    p.display()
                ),
                Err(e) => panic!("{e}"),
            }
        }
    }
    panic!("no busybox at {candidates:?}; install busybox-static (.ci/docker-up does)")
}

/// A build context directory, removed on drop.
struct Context(PathBuf);

impl Context {
    fn new() -> Context {
        let dir = std::env::temp_dir().join(unique("gantry-image-context"));
        std::fs::create_dir_all(&dir).expect("create a build context");
        Context(dir)
    }
}

impl Drop for Context {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn build(tag: &str, ctx: &Context, dockerfile: &str) -> String {
    std::fs::write(ctx.0.join("Dockerfile"), dockerfile).expect("write Dockerfile");
    let dir = ctx.0.to_string_lossy().into_owned();
    docker(&["build", "-q", "-t", tag, &dir])
        .unwrap_or_else(|e| panic!("building {tag} failed: {e}\nDockerfile:\n{dockerfile}"));
    tag.to_string()
}

/// Builds `tag` from `dockerfile` with an empty context (with `docker build`, not
/// gantry). Returns `tag`.
pub fn build_image(tag: &str, dockerfile: &str) -> String {
    build(tag, &Context::new(), dockerfile)
}

/// Builds `tag`: `FROM scratch` with Debian's static busybox as `/bin/busybox` and
/// every applet (`sh`, `true`, `sleep`, `cat`, `wget`, …) linked beside it in `/bin`;
/// `PATH=/bin`, default command `sh`. Returns `tag`.
///
/// As PID 1, busybox applets ignore SIGTERM: stop such containers with `-t 0`/`1`.
pub fn busybox_image(tag: &str) -> String {
    let ctx = Context::new();
    let bin = ctx.0.join("bin");
    std::fs::create_dir_all(&bin).expect("create bin/");
    let busybox = busybox_path();
    std::fs::copy(&busybox, bin.join("busybox")).expect("copy busybox");
    let list = Command::new(&busybox)
        .arg("--list")
        .output()
        .expect("run busybox --list");
    for applet in String::from_utf8_lossy(&list.stdout).lines() {
        let applet = applet.trim();
        if !applet.is_empty() && applet != "busybox" && !applet.contains('/') {
            std::os::unix::fs::symlink("busybox", bin.join(applet))
                .unwrap_or_else(|e| panic!("link applet {applet}: {e}"));
        }
    }
    build(
        tag,
        &ctx,
        &format!(
            "FROM scratch\nCOPY bin/ /bin/\nENV PATH=/bin\nLABEL {SUPPORT_LABEL}=busybox\nCMD [\"sh\"]\n"
        ),
    )
}

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ is inside the workspace")
        .to_path_buf()
}

/// The `tests/healthz` server built as a fully static binary (built once per test
/// process; cargo skips the work when nothing changed). Its own target dir keeps the
/// static flags away from the rest of the workspace's artefacts.
pub fn healthz_binary() -> PathBuf {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        let root = workspace_root();
        let target = format!("{}-unknown-linux-gnu", std::env::consts::ARCH);
        let target_dir = root.join("target").join("healthz");
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_string());
        // `--target` keeps the static flags off build scripts, which must stay dynamic.
        let out = Command::new(cargo)
            .args([
                "build",
                "--release",
                "-p",
                "gantry-healthz",
                "--target",
                &target,
            ])
            .arg("--target-dir")
            .arg(&target_dir)
            .current_dir(&root)
            .env(
                "CARGO_ENCODED_RUSTFLAGS",
                "-Ctarget-feature=+crt-static\x1f-Cstrip=symbols",
            )
            .env_remove("RUSTFLAGS")
            .stdin(Stdio::null())
            .output()
            .expect("run cargo to build tests/healthz");
        assert!(
            out.status.success(),
            "building tests/healthz statically failed:\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let bin = target_dir.join(&target).join("release").join("healthz");
        match is_static_elf(&bin) {
            Ok(true) => bin,
            Ok(false) => panic!(
                "{} was linked dynamically despite +crt-static",
                bin.display()
            ),
            Err(e) => panic!("{e}"),
        }
    })
    .clone()
}

/// Builds `tag`: `FROM scratch` with only the static `/healthz` server, `VERSION`
/// baked in, port 8080 exposed and a `HEALTHCHECK` running `/healthz probe` every
/// second. Returns `tag`. `HEALTHZ_STATUS`/`HEALTHZ_FAIL_AFTER` are set per container
/// (`-e`); the health probes count towards `HEALTHZ_FAIL_AFTER`.
pub fn healthz_image(tag: &str, version: &str) -> String {
    healthz_image_with(tag, version, true)
}

/// [`healthz_image`], with or without the image's own `HEALTHCHECK`.
pub fn healthz_image_with(tag: &str, version: &str, healthcheck: bool) -> String {
    assert!(
        !version.is_empty()
            && version
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "._-+".contains(c)),
        "healthz version {version:?}: use letters, digits and . _ - + only"
    );
    let ctx = Context::new();
    std::fs::copy(healthz_binary(), ctx.0.join("healthz")).expect("copy healthz into the context");
    let check = if healthcheck {
        "HEALTHCHECK --interval=1s --timeout=2s --start-period=2s --retries=2 CMD [\"/healthz\", \"probe\"]\n"
    } else {
        ""
    };
    build(
        tag,
        &ctx,
        &format!(
            "FROM scratch\nCOPY healthz /healthz\nENV VERSION={version} PORT=8080\nEXPOSE 8080\n{check}\
             LABEL {SUPPORT_LABEL}=healthz {SUPPORT_LABEL}.version={version}\nENTRYPOINT [\"/healthz\"]\n"
        ),
    )
}

// ---------------------------------------------------------------------------------
// Listings and snapshots

fn ids(args: &[&str]) -> Vec<String> {
    docker(args)
        .unwrap_or_else(|e| panic!("{e}"))
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(String::from)
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect()
}

/// Full ids of containers, running or not, carrying `label` (`key` or `key=value`).
pub fn containers_with_label(label: &str) -> Vec<String> {
    ids(&[
        "ps",
        "-a",
        "-q",
        "--no-trunc",
        "--filter",
        &format!("label={label}"),
    ])
}

/// Full ids of images carrying `label`.
pub fn images_with_label(label: &str) -> Vec<String> {
    ids(&[
        "images",
        "-q",
        "--no-trunc",
        "--filter",
        &format!("label={label}"),
    ])
}

/// Ids of Swarm services carrying `label`; empty when Swarm is not active.
pub fn services_with_label(label: &str) -> Vec<String> {
    if !swarm_active() {
        return Vec::new();
    }
    ids(&["service", "ls", "-q", "--filter", &format!("label={label}")])
}

fn swarm_active() -> bool {
    docker(&["info", "--format", "{{.Swarm.LocalNodeState}}"]).is_ok_and(|s| s == "active")
}

/// The host address (`127.0.0.1:PORT`) Docker published `container_port/tcp` of
/// `container` on.
pub fn published_addr(container: &str, container_port: u16) -> String {
    let out = docker_ok(&["port", container, &format!("{container_port}/tcp")]);
    out.lines()
        .find(|l| l.starts_with("127.0.0.1:") || l.starts_with("0.0.0.0:"))
        .map(|l| l.replacen("0.0.0.0:", "127.0.0.1:", 1))
        .unwrap_or_else(|| {
            panic!("{container} publishes {container_port}/tcp nowhere on IPv4: {out:?}")
        })
}

/// One plain HTTP/1.1 GET to `addr` (`host:port`): status and body.
pub fn http_get(addr: &str, path: &str) -> std::io::Result<(u16, String)> {
    let mut s = TcpStream::connect(addr)?;
    s.set_read_timeout(Some(Duration::from_secs(5)))?;
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )?;
    let mut raw = Vec::new();
    s.read_to_end(&mut raw)?;
    let text = String::from_utf8_lossy(&raw);
    let status = text
        .split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .ok_or_else(|| std::io::Error::other(format!("not an HTTP reply: {text:?}")))?;
    let body = text
        .split_once("\r\n\r\n")
        .map(|(_, b)| b)
        .unwrap_or_default();
    Ok((status, body.to_string()))
}

/// [`http_get`] retried until it gets any HTTP answer or `timeout` passes (a
/// container's server needs a moment after `docker run` returns).
pub fn wait_for_http(addr: &str, path: &str, timeout: Duration) -> (u16, String) {
    let deadline = Instant::now() + timeout;
    loop {
        match http_get(addr, path) {
            Ok(r) => return r,
            Err(e) if Instant::now() >= deadline => {
                panic!("http://{addr}{path} did not answer within {timeout:?}: {e}")
            }
            Err(_) => std::thread::sleep(Duration::from_millis(50)),
        }
    }
}

/// The paths of every file, directory and link in `image` (`docker create` + `docker
/// export`, listed by the host's `tar -t`), without a leading
/// `/` or a trailing `/`. The container is removed again.
pub fn image_files(image: &str) -> BTreeSet<String> {
    let id = docker_ok(&["create", image, "/nothing"]);
    let out = Command::new("sh")
        .arg("-c")
        .arg(format!("docker export {id} | tar -t"))
        .stdin(Stdio::null())
        .output();
    let _ = docker(&["rm", "-f", &id]);
    let out = out.expect("run docker export | tar -t");
    assert!(
        out.status.success(),
        "docker export {image} | tar -t failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| l.trim_start_matches("./").trim_end_matches('/').to_string())
        .filter(|l| !l.is_empty())
        .collect()
}

/// The host's address on Docker's default `bridge` network, as its containers reach
/// it: the network's gateway, or (Engine 20.10 often leaves it out) the first address
/// of its IPv4 subnet, which is what the engine gives `docker0`.
pub fn bridge_gateway() -> String {
    let gateway = docker_ok(&[
        "network",
        "inspect",
        "bridge",
        "--format",
        "{{range .IPAM.Config}}{{.Gateway}}{{end}}",
    ]);
    if !gateway.is_empty() {
        return gateway;
    }
    let subnet = docker_ok(&[
        "network",
        "inspect",
        "bridge",
        "--format",
        "{{range .IPAM.Config}}{{.Subnet}} {{end}}",
    ]);
    let net = subnet
        .split_whitespace()
        .find_map(|s| s.split_once('/')?.0.parse::<std::net::Ipv4Addr>().ok())
        .unwrap_or_else(|| panic!("the bridge network has no IPv4 subnet: {subnet:?}"));
    std::net::Ipv4Addr::from(u32::from(net) + 1).to_string()
}

/// What a test compares to show an object was left alone: name, running state (for
/// containers), image and labels of `kind` `id`.
pub fn object_state(kind: &str, id: &str) -> String {
    describe(kind, id)
}

static ENGINE: RwLock<()> = RwLock::new(());

/// Held by a test that compares [`Snapshot`]s: no other test of this process that
/// holds [`shared`] runs meanwhile. Take it first, so it is dropped last, after the
/// test's [`Cleanup`].
pub fn exclusive() -> RwLockWriteGuard<'static, ()> {
    // A test that panicked while holding it leaves nothing to repair.
    ENGINE.write().unwrap_or_else(|p| p.into_inner())
}

/// Held by a test that creates engine objects without comparing snapshots: such tests
/// run in parallel with each other, never during an [`exclusive`] one. Take it first.
pub fn shared() -> RwLockReadGuard<'static, ()> {
    ENGINE.read().unwrap_or_else(|p| p.into_inner())
}

/// Kinds of engine objects a snapshot records, with the command listing their ids.
const KINDS: [(&str, &[&str]); 5] = [
    ("container", &["ps", "-a", "-q", "--no-trunc"]),
    ("image", &["images", "-a", "-q", "--no-trunc"]),
    ("service", &["service", "ls", "-q"]),
    ("network", &["network", "ls", "-q", "--no-trunc"]),
    ("volume", &["volume", "ls", "-q"]),
];

/// Ids of every container, image, service, network and volume at one moment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Snapshot {
    objects: BTreeMap<&'static str, BTreeSet<String>>,
}

impl Snapshot {
    pub fn take() -> Snapshot {
        let swarm = swarm_active();
        let objects = KINDS
            .iter()
            .map(|(kind, args)| {
                let set = if *kind == "service" && !swarm {
                    BTreeSet::new()
                } else {
                    ids(args).into_iter().collect()
                };
                (*kind, set)
            })
            .collect();
        Snapshot { objects }
    }

    /// Objects that exist now but did not when `self` was taken, described as
    /// `kind id (name, image, labels)`.
    pub fn new_since(&self) -> Vec<String> {
        let now = Snapshot::take();
        let mut out = Vec::new();
        for (kind, ids) in &now.objects {
            let before = self.objects.get(kind);
            for id in ids {
                if !before.is_some_and(|b| b.contains(id)) {
                    out.push(format!("{kind} {id} ({})", describe(kind, id)));
                }
            }
        }
        out
    }

    /// Panics listing every object that appeared since `self` was taken.
    pub fn assert_nothing_new(&self, after: &str) {
        let new = self.new_since();
        assert!(
            new.is_empty(),
            "after {after}, the engine has new objects:\n  {}",
            new.join("\n  ")
        );
    }
}

fn describe(kind: &str, id: &str) -> String {
    let format = match kind {
        "container" => {
            "{{.Name}} running={{.State.Running}} image={{.Config.Image}} labels={{json .Config.Labels}}"
        }
        "image" => "{{.Id}} {{.RepoTags}} labels={{json .Config.Labels}}",
        "service" => {
            "{{.Spec.Name}} version={{.Version.Index}} image={{.Spec.TaskTemplate.ContainerSpec.Image}} labels={{json .Spec.Labels}}"
        }
        _ => "{{.Name}} labels={{json .Labels}}",
    };
    docker(&["inspect", "--type", kind, "--format", format, id])
        .unwrap_or_else(|e| format!("gone again: {e}"))
}

/// Removes the containers, services and images registered with it when dropped, so
/// a failing test does not leave them behind.
#[derive(Default)]
pub struct Cleanup {
    objects: Vec<(&'static str, String)>,
}

impl Cleanup {
    pub fn new() -> Cleanup {
        Cleanup::default()
    }
    pub fn container(&mut self, id: &str) -> &mut Self {
        self.objects.push(("container", id.to_string()));
        self
    }
    pub fn service(&mut self, id: &str) -> &mut Self {
        self.objects.push(("service", id.to_string()));
        self
    }
    pub fn image(&mut self, reference: &str) -> &mut Self {
        self.objects.push(("image", reference.to_string()));
        self
    }
}

impl Drop for Cleanup {
    fn drop(&mut self) {
        // Newest first: containers go before the images they run.
        for (kind, id) in self.objects.iter().rev() {
            match *kind {
                "container" => drop(docker(&["rm", "-f", "-v", id])),
                "service" => remove_service(id),
                _ => drop(docker(&["rmi", "-f", id])),
            }
        }
    }
}

/// `docker service rm` returns before Swarm has stopped the tasks; wait (bounded)
/// for their containers, then remove whatever is left.
fn remove_service(id: &str) {
    // Labels carry the full id; `id` may be a name or a short id.
    let full = docker(&["service", "inspect", "--format", "{{.ID}}", id]);
    let _ = docker(&["service", "rm", id]);
    let Ok(full) = full else { return };
    let label = format!("com.docker.swarm.service.id={full}");
    let deadline = Instant::now() + Duration::from_secs(30);
    while Instant::now() < deadline {
        if containers_with_label(&label).is_empty() {
            return;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    for c in containers_with_label(&label) {
        let _ = docker(&["rm", "-f", "-v", &c]);
    }
}
