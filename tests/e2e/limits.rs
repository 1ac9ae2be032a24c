//! Every wait and allocation a plugin can cause on the host is bounded by its stage's
//! limits (issue 13, class 5), against the purpose-built `limits-probe` plugin:
//! - a guest blocked in `wasi:io/poll.poll` or `pollable.block` on a pollable that is
//!   ready only after an hour, or in `blocking-write-and-flush` to a request body no
//!   one reads, ends at its 2 s timeout with the timeout reason, and a fail-fast
//!   cancellation reaches it too (`host/src/runtime/waits.rs`);
//! - a `describe` that blocks ends `gantry check` with a clear error at its deadline;
//!   an oversized `describe` is refused naming the limit;
//! - 4,000 `wasi:http` fields of 120 KiB under `limits.memory = "64MiB"` end the stage
//!   naming the fields limit, and gantry's peak RSS (of that child process only, from
//!   `wait4`) stays far below what they would have taken (`caps/budget.rs`);
//! - request paths beyond the stage's share are refused and audited; lower-case
//!   methods are refused and audited, and never sent (class 7);
//! - artifacts: a symlink in the write grant to an ungranted file yields no digest or
//!   size of it, a FIFO does not hang the host, a sparse file over the budget is not
//!   read, and 2,000 claimed artifacts are cut to 1,000 (`run/artifacts.rs`);
//! - `limits.disk`: a stage that writes past it fails with that reason, audited; one
//!   that stays under it succeeds (`runtime/disk.rs`).
//!
//! Time is used only as a hang watchdog: each `gantry` is killed (and the test fails)
//! if it has not ended within a minute.

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use gantry_test_plugins::{Run, Workspace, pinned, plugins};

const GANTRY: &str = env!("CARGO_BIN_EXE_gantry");
const WATCHDOG: Duration = Duration::from_secs(60);
/// The marker `tests/plugins/limits-probe` reads to choose how `describe` behaves.
const MARKER: &[u8; 24] = b"gantry-describe:normal\0\0";

fn result(r: &Run, stage: &str) -> String {
    r.output(stage, "result")
}

fn reason(r: &Run, stage: &str) -> String {
    let rec = r.stage(stage);
    rec["reason"]
        .as_str()
        .unwrap_or_else(|| panic!("stage {stage} has no reason: {rec}"))
        .to_string()
}

/// Deny lines of `audit.jsonl` for `stage`.
fn denials(r: &Run, stage: &str) -> Vec<String> {
    r.audit()
        .into_iter()
        .filter(|l| {
            l.contains(&format!("\"stage\":\"{stage}\"")) && l.contains("\"decision\":\"deny\"")
        })
        .collect()
}

/// A copy of the probe in the workspace whose `describe` behaves as `mode` says;
/// returns its pinned `file:` reference.
fn patched(ws: &Workspace, mode: &str) -> String {
    let mut bytes = std::fs::read(plugins::LIMITS_PROBE).expect("probe was built");
    let at: Vec<usize> = bytes
        .windows(MARKER.len())
        .enumerate()
        .filter(|(_, w)| *w == MARKER)
        .map(|(i, _)| i)
        .collect();
    assert_eq!(at.len(), 1, "the marker appears once in the component");
    let mut new = [0u8; 24];
    let text = format!("gantry-describe:{mode}");
    new[..text.len()].copy_from_slice(text.as_bytes());
    bytes[at[0]..at[0] + 24].copy_from_slice(&new);
    let name = format!("probe-{mode}.wasm");
    ws.write(&name, &bytes);
    format!("file:{name}#{}", gantry_registry::Digest::of(&bytes))
}

/// A one-answer-per-connection HTTP server on 127.0.0.1 that records request lines.
struct Server {
    port: u16,
    seen: Arc<Mutex<Vec<String>>>,
}

impl Server {
    fn start() -> Server {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind a test server");
        let port = listener.local_addr().expect("local addr").port();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let log = seen.clone();
        std::thread::spawn(move || {
            for conn in listener.incoming().flatten() {
                let mut reader = BufReader::new(match conn.try_clone() {
                    Ok(c) => c,
                    Err(_) => continue,
                });
                let mut line = String::new();
                let _ = reader.read_line(&mut line);
                log.lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .push(line.trim_end().to_string());
                loop {
                    let mut h = String::new();
                    if reader.read_line(&mut h).unwrap_or(0) == 0 || h == "\r\n" {
                        break;
                    }
                }
                let mut conn = conn;
                // `/big-headers`: 20 KiB of response headers.
                let extra = if line.contains("/big-headers") {
                    format!("x-big: {}\r\n", "h".repeat(20 << 10))
                } else {
                    String::new()
                };
                let _ = conn.write_all(
                    format!(
                        "HTTP/1.1 200 OK\r\n{extra}content-length: 2\r\nconnection: close\r\n\r\nok"
                    )
                    .as_bytes(),
                );
            }
        });
        Server { port, seen }
    }

    fn seen(&self) -> Vec<String> {
        self.seen.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }
}

#[test]
fn a_guest_waiting_in_a_host_call_ends_at_its_timeout_or_cancellation() {
    let p = pinned(plugins::LIMITS_PROBE);
    let h = pinned(plugins::HOSTILE);
    let ws = Workspace::new(GANTRY);
    ws.write(
        "pipeline.toml",
        format!(
            r#"
[pipeline]
name = "waits"

[stage.poll]
plugin = "{p}"
timeout = "2s"
with = {{ action = "poll" }}

[stage.block]
plugin = "{p}"
timeout = "2s"
with = {{ action = "block" }}

[stage.body-stall]
plugin = "{p}"
timeout = "2s"
with = {{ action = "body-stall" }}
"#
        ),
    );
    let r = ws.gantry_within(&["run", "--no-fail-fast", "--jobs", "2"], WATCHDOG);
    assert_eq!(r.code, 1, "{}", r.stderr);
    // `blocking-write-and-flush` on a body whose request is never sent: the host's
    // buffer fills and the write waits for a reader that never comes.
    for stage in ["poll", "block", "body-stall"] {
        let rec = r.stage(stage);
        assert_eq!(rec["status"], "failed", "{rec}");
        assert_eq!(rec["reason"], "timed out after 2s", "{rec}");
    }

    // Fail-fast: another stage fails, and the one waiting (for an hour, under a 1h
    // timeout) is cancelled in its host call.
    ws.write(
        "pipeline.toml",
        format!(
            r#"
[pipeline]
name = "cancel"

[stage.wait]
plugin = "{p}"
timeout = "1h"
with = {{ action = "poll" }}

[stage.crash]
plugin = "{h}"
with = {{ action = "panic" }}
"#
        ),
    );
    let r = ws.gantry_within(&["run", "--jobs", "2"], WATCHDOG);
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert_eq!(r.stage("crash")["status"], "failed");
    let wait = r.stage("wait");
    assert_eq!(wait["status"], "cancelled", "{wait}");
}

#[test]
fn a_describe_that_blocks_ends_check_with_a_clear_error() {
    let ws = Workspace::new(GANTRY);
    let blocking = patched(&ws, "block");
    ws.write(
        "pipeline.toml",
        format!("[pipeline]\nname = \"describe\"\n\n[stage.slow]\nplugin = \"{blocking}\"\n"),
    );
    let r = ws.gantry_within(&["check"], WATCHDOG);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(
        r.stderr
            .contains("stage `slow`: plugin `file:probe-block.wasm#sha256:")
            && r.stderr
                .contains("failed to describe itself: timed out after 10s"),
        "{}",
        r.stderr
    );
}

#[test]
fn an_oversized_describe_is_refused_naming_the_limit() {
    let ws = Workspace::new(GANTRY);
    let huge = patched(&ws, "huge");
    ws.write(
        "pipeline.toml",
        format!("[pipeline]\nname = \"describe\"\n\n[stage.big]\nplugin = \"{huge}\"\n"),
    );
    let r = ws.gantry_within(&["check"], WATCHDOG);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(
        r.stderr.contains(
            "failed to describe itself: its `describe` answer is refused: it declares 20000 rules, more than the 5000 gantry accepts"
        ),
        "{}",
        r.stderr
    );
    // The normal build of the same plugin passes: only the answer was refused.
    let normal = pinned(plugins::LIMITS_PROBE);
    ws.write(
        "pipeline.toml",
        format!(
            "[pipeline]\nname = \"describe\"\n\n[stage.fine]\nplugin = \"{normal}\"\nwith = {{ action = \"poll\" }}\n"
        ),
    );
    let r = ws.gantry_within(&["check"], WATCHDOG);
    assert_eq!(r.code, 0, "{}", r.stderr);
}

#[test]
fn http_fields_are_bounded_by_the_stage_memory_limit() {
    let p = pinned(plugins::LIMITS_PROBE);
    let ws = Workspace::new(GANTRY);
    ws.write(
        "pipeline.toml",
        format!(
            r#"
[pipeline]
name = "fields"

[stage.big-fields]
plugin = "{p}"
limits.memory = "64MiB"
with = {{ action = "fields", count = 4000, size = 122880 }}

[stage.many-fields]
plugin = "{p}"
limits.memory = "64MiB"
with = {{ action = "fields", count = 100000, size = 6000 }}
"#
        ),
    );
    let (r, rss) = ws.gantry_with_rss(&["run", "--no-fail-fast", "--jobs", "1"], WATCHDOG);
    assert_eq!(r.code, 1, "{}", r.stderr);

    // One fields of 120 KiB is over the 8 KiB a 64 MiB stage may put in one: the
    // stage ends with a reason naming the limit (it used to read as a crash).
    assert_eq!(
        reason(&r, "big-fields"),
        "built a `wasi:http` fields (headers or trailers) larger than 8KiB, this stage's limit per fields (derived from `limits.memory`: raise it for larger headers)"
    );
    let deny = denials(&r, "big-fields");
    assert_eq!(deny.len(), 1, "{deny:#?}");
    assert!(
        deny[0].contains("a `wasi:http` fields outgrew this stage's limit of 8192 bytes")
            && deny[0].contains("limits.memory = \\\"65MiB\\\""),
        "{}",
        deny[0]
    );
    assert!(r.log("big-fields").contains("fields outgrew"));

    // Fields under the limit, as many as the table holds: 4096 resources, then the
    // stage ends; 4096 × 8 KiB is the most they hold on the host.
    assert_eq!(
        reason(&r, "many-fields"),
        "held more than 4096 host resources at once (open files and directories, streams, HTTP requests, secret handles): the per-stage limit"
    );

    // 4,000 × 120 KiB would be 470 MiB of headers alone (the attack suite saw 585 MiB).
    assert!(
        rss < 320 << 20,
        "gantry peaked at {} MiB of resident memory",
        rss >> 20
    );
}

#[test]
fn methods_are_case_sensitive_and_long_paths_bounded() {
    let p = pinned(plugins::LIMITS_PROBE);
    let server = Server::start();
    let url = format!("http://127.0.0.1:{}/v1/x", server.port);
    let get_only = format!(
        "grants.http = [{{ url = \"http://127.0.0.1:{}/v1/\", methods = [\"GET\"] }}]",
        server.port
    );
    let any = format!("grants.http = [\"http://127.0.0.1:{}/v1/\"]", server.port);
    let ws = Workspace::new(GANTRY);
    let stage = |name: &str, with: &str, grant: &str| {
        format!(
            "[stage.{name}]\nplugin = \"{p}\"\nlimits.memory = \"64MiB\"\nwith = {{ {with} }}\n{grant}\n\n"
        )
    };
    let mut toml = String::from("[pipeline]\nname = \"methods\"\n\n");
    toml += &stage(
        "lower-get",
        &format!("action = \"method\", method = \"get\", url = \"{url}\""),
        &get_only,
    );
    toml += &stage(
        "lower-any",
        &format!("action = \"method\", method = \"delete\", url = \"{url}\""),
        &any,
    );
    toml += &stage(
        "upper-get",
        &format!("action = \"method\", method = \"GET\", url = \"{url}\""),
        &get_only,
    );
    toml += &stage(
        "big-headers",
        &format!(
            "action = \"method\", method = \"GET\", url = \"http://127.0.0.1:{}/v1/big-headers\"",
            server.port
        ),
        &any,
    );
    toml += &stage(
        "long-path",
        &format!("action = \"long-path\", size = 5000, url = \"{url}\""),
        &any,
    );
    toml += &stage(
        "short-path",
        &format!("action = \"long-path\", size = 3000, url = \"{url}\""),
        &any,
    );
    ws.write("pipeline.toml", &toml);
    let r = ws.gantry_within(&["run", "--no-fail-fast"], WATCHDOG);
    assert_eq!(r.code, 0, "{}", r.stderr);

    for stage in ["lower-get", "lower-any"] {
        assert_eq!(
            result(&r, stage),
            "err:ErrorCode::HttpRequestDenied",
            "{stage}"
        );
        let deny = denials(&r, stage);
        assert_eq!(deny.len(), 1, "{deny:#?}");
        assert!(
            deny[0].contains("is not upper case (HTTP methods are case-sensitive")
                && deny[0].contains("gantry never allows this"),
            "{}",
            deny[0]
        );
    }
    assert_eq!(result(&r, "upper-get"), "ok:200");

    // 20 KiB of response headers are more than a 64 MiB stage's 8 KiB per fields.
    // (The size counts each header's in-memory struct too, as wasmtime-wasi-http does.)
    let big = result(&r, "big-headers");
    assert!(
        big.starts_with("err:ErrorCode::HttpResponseHeaderSectionSize(Some(20"),
        "{big}"
    );
    let deny = denials(&r, "big-headers");
    assert_eq!(deny.len(), 1, "{deny:#?}");
    assert!(
        deny[0].contains("the response headers of `http://127.0.0.1:")
            && deny[0].contains("more than this stage's limit of 8192 per fields")
            && deny[0].contains("to allow it, add to the stage: limits.memory = \\\"16"),
        "{}",
        deny[0]
    );

    // At 64 MiB a path-with-query may be 4 KiB: 5000 bytes are refused, audited with
    // the memory limit that would allow it; 3000 bytes go through.
    assert_eq!(
        result(&r, "long-path"),
        "err:path-with-query of 5000 bytes refused"
    );
    let deny = denials(&r, "long-path");
    assert_eq!(deny.len(), 1, "{deny:#?}");
    assert!(
        deny[0].contains(
            "path-with-query of 5000 bytes is longer than this stage's limit of 4096 bytes"
        ) && deny[0].contains("limits.memory = \\\"79MiB\\\""),
        "{}",
        deny[0]
    );
    assert_eq!(result(&r, "short-path"), "ok:200");

    // Only the upper-case requests with short paths reached the server.
    let seen = server.seen();
    assert_eq!(seen.len(), 3, "{seen:#?}");
    assert!(seen.iter().all(|l| l.starts_with("GET /")), "{seen:#?}");
}

#[test]
fn artifacts_are_resolved_beneath_the_write_grant_and_capped() {
    let p = pinned(plugins::LIMITS_PROBE);
    let ws = Workspace::new(GANTRY);
    let secret = "only the host may read this";
    ws.write("private/secret.txt", secret);
    ws.write("dist/app.txt", "hello");
    // Part of the workspace the attacker wrote: links in the write grant.
    std::os::unix::fs::symlink("../private/secret.txt", ws.path("dist/link")).expect("symlink");
    std::os::unix::fs::symlink(ws.path("private"), ws.path("dist/dirlink")).expect("symlink");
    let made = std::process::Command::new("mkfifo")
        .arg(ws.path("dist/fifo"))
        .status();
    assert!(made.is_ok_and(|s| s.success()), "mkfifo");
    // 2 GiB that occupy no disk: never read, refused by its size.
    let sparse = std::fs::File::create(ws.path("dist/sparse")).expect("create");
    sparse.set_len(2 << 30).expect("sparse file");
    ws.write(
        "pipeline.toml",
        format!(
            r#"
[pipeline]
name = "artifacts"

[stage.report]
plugin = "{p}"
grants.fs.write = ["dist"]
with = {{ action = "artifacts", count = 2000, artifacts = ["dist/app.txt", "dist/link", "dist/dirlink/secret.txt", "dist/fifo", "dist/sparse", "private/secret.txt"] }}
"#
        ),
    );
    let r = ws.gantry_within(&["run"], WATCHDOG);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let rec = r.stage("report");
    let artifacts = rec["artifacts"].as_array().expect("artifacts");
    assert_eq!(artifacts.len(), 1000, "capped at 1000");
    let by_path = |p: &str| {
        artifacts
            .iter()
            .find(|a| a["path"] == p)
            .unwrap_or_else(|| panic!("no artifact {p}: {rec}"))
            .clone()
    };
    let app = by_path("dist/app.txt");
    assert_eq!(
        app["digest"],
        "sha256:2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824"
    );
    assert_eq!(app["size"], 5);
    for (path, why) in [
        ("dist/link", "symbolic link"),
        ("dist/dirlink/secret.txt", "symbolic link"),
        ("dist/fifo", "not a regular file"),
        (
            "dist/sparse",
            "2GiB is more than what is left of the stage's 1GiB artifact budget",
        ),
        (
            "private/secret.txt",
            "outside the stage's `grants.fs.write`",
        ),
    ] {
        let a = by_path(path);
        assert!(a["digest"].is_null() && a["size"].is_null(), "{a}");
        assert!(a["error"].as_str().unwrap_or_default().contains(why), "{a}");
    }
    // No record holds the digest or size of the file behind the link.
    let secret_digest = gantry_registry::Digest::of(secret.as_bytes()).to_string();
    for file in ["run.json", "summary.json", "report.sarif"] {
        assert!(!r.file(file).contains(&secret_digest), "{file}");
    }
    assert!(
        rec["summary"]
            .as_str()
            .unwrap_or_default()
            .contains("(1006 artifacts beyond 1000 dropped)"),
        "{rec}"
    );
    // Each refusal is audited: the five above and one line for the dropped claims.
    let deny = denials(&r, "report");
    assert_eq!(deny.len(), 6, "{deny:#?}");
    assert!(
        deny.iter().any(
            |l| l.contains("fs artifact refused: `dist/link`: ") && l.contains("symbolic link")
        ),
        "{deny:#?}"
    );
    assert!(
        deny.iter()
            .any(|l| l.contains("1006 artifacts beyond the 1000 a stage may report")),
        "{deny:#?}"
    );
    let log = r.log("report");
    assert!(log.contains("report: 1006 artifacts beyond 1000 dropped, not collected"));
    assert!(log.contains("artifact `dist/link` not collected:"), "{log}");
}

#[test]
fn a_stage_that_writes_past_its_disk_limit_fails() {
    let p = pinned(plugins::LIMITS_PROBE);
    let ws = Workspace::new(GANTRY);
    ws.write("dist/.keep", "");
    ws.write("small/.keep", "");
    ws.write(
        "pipeline.toml",
        format!(
            r#"
[pipeline]
name = "disk"

[stage.fill]
plugin = "{p}"
limits.disk = "16MiB"
grants.fs.write = ["dist"]
with = {{ action = "fill", path = "dist/big", size = 67108864 }}

[stage.within]
plugin = "{p}"
limits.disk = "16MiB"
grants.fs.write = ["small"]
with = {{ action = "fill", path = "small/ok", size = 4194304 }}
"#
        ),
    );
    let r = ws.gantry_within(&["run", "--no-fail-fast"], WATCHDOG);
    assert_eq!(r.code, 1, "{}", r.stderr);
    let why = reason(&r, "fill");
    assert!(
        why.starts_with(
            "wrote more than its disk limit of 16MiB: its write grants grew by at least "
        ) && why.ends_with("(`limits.disk`)"),
        "{why}"
    );
    let deny = denials(&r, "fill");
    assert_eq!(deny.len(), 1, "{deny:#?}");
    assert!(
        deny[0].contains("\"capability\":\"fs\"")
            && deny[0].contains("more than its disk limit of 16MiB")
            && deny[0].contains("a larger `limits.disk`"),
        "{}",
        deny[0]
    );
    assert_eq!(r.stage("within")["status"], "succeeded");
    assert_eq!(result(&r, "within"), "ok:wrote 4194304");
}
