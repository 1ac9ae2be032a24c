//! The `http` capability (`wasi:http/outgoing-handler`, `host/src/caps/http/`)
//! against the `http-probe` test plugin and a tiny HTTP server run by the test on
//! 127.0.0.1: hosts, ports, schemes, paths and methods outside the grant, names that
//! resolve to loopback, a redirect to the cloud metadata address, bodies over the
//! cap, secret handles in headers, and `--dry-run` of a POST. Each refusal is what a
//! user would notice: the plugin gets a `denied` error, `audit.jsonl` has a `deny`
//! line saying which part failed and the grant that would allow it, the stage log
//! has the same text, and the other stages finish.
//!
//! A granted *name* that resolves to the cloud metadata address 169.254.169.254 is
//! tested by running gantry in a private mount namespace (`unshare --mount`, as root)
//! where a temporary hosts file is bind-mounted over `/etc/hosts`: the host's own
//! `/etc/hosts` is never touched, and gantry resolves through the system resolver
//! (getaddrinfo, which reads the hosts file) exactly as it would a DNS answer. Without
//! root or `unshare` that test prints `SKIPPED` locally and fails under `CI=true`.
//! The classification of 169.254.0.0/16, fe80::/10, RFC 1918, fc00::/7, IPv4-mapped
//! and NAT64 forms is unit-tested in `host/src/caps/http/`.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};

use gantry_test_plugins::{Run, Workspace, pinned, plugins};

const GANTRY: &str = env!("CARGO_BIN_EXE_gantry");
const TOKEN: &str = "Bearer s3cr3t-http-token-value";
/// Larger than the host's 16 MiB cap.
const BIG: usize = 17 << 20;

/// A one-request-per-connection HTTP/1.1 server on 127.0.0.1 with fixed answers;
/// `seen` lists `METHOD PATH` of every request that reached it.
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
            for conn in listener.incoming() {
                let Ok(conn) = conn else { continue };
                let log = log.clone();
                std::thread::spawn(move || {
                    let _ = answer(conn, &log);
                });
            }
        });
        Server { port, seen }
    }

    fn seen(&self) -> Vec<String> {
        self.seen.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }
}

fn answer(conn: TcpStream, seen: &Mutex<Vec<String>>) -> std::io::Result<()> {
    let mut reader = BufReader::new(conn.try_clone()?);
    let mut line = String::new();
    reader.read_line(&mut line)?;
    let mut parts = line.split_whitespace();
    let (method, path) = (
        parts.next().unwrap_or("").to_string(),
        parts.next().unwrap_or("").to_string(),
    );
    let mut headers = BTreeMap::new();
    loop {
        let mut h = String::new();
        if reader.read_line(&mut h)? == 0 || h == "\r\n" {
            break;
        }
        if let Some((k, v)) = h.split_once(':') {
            headers.insert(k.trim().to_ascii_lowercase(), v.trim().to_string());
        }
    }
    let len: usize = headers
        .get("content-length")
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let mut body = vec![0; len.min(1 << 20)];
    reader.read_exact(&mut body)?;
    seen.lock()
        .unwrap_or_else(|p| p.into_inner())
        .push(format!("{method} {path}"));

    let mut out = conn;
    let reply = |out: &mut TcpStream, status: &str, extra: &str, body: &str| {
        write!(
            out,
            "HTTP/1.1 {status}\r\ncontent-length: {}\r\nconnection: close\r\n{extra}\r\n{body}",
            body.len()
        )
    };
    match path.split('?').next().unwrap_or_default() {
        "/v1/hello" => reply(&mut out, "200 OK", "", "hello from the test server"),
        "/v1/redirect" => reply(
            &mut out,
            "302 Found",
            "location: http://169.254.169.254/latest/meta-data/iam/security-credentials/\r\n",
            "moved",
        ),
        "/v1/auth" => {
            let ok = headers.get("authorization").map(String::as_str) == Some(TOKEN);
            reply(
                &mut out,
                "200 OK",
                "",
                if ok { "auth-ok" } else { "auth-bad" },
            )
        }
        "/v1/upload" => reply(
            &mut out,
            "201 Created",
            "",
            &format!("created {} bytes", body.len()),
        ),
        "/v1/big" => {
            write!(
                out,
                "HTTP/1.1 200 OK\r\ncontent-length: {BIG}\r\nconnection: close\r\n\r\n"
            )?;
            stream_zeros(&mut out)
        }
        "/v1/big-stream" => {
            // No length: the body ends when the connection closes.
            write!(out, "HTTP/1.1 200 OK\r\nconnection: close\r\n\r\n")?;
            stream_zeros(&mut out)
        }
        "/v1/slow" => {
            std::thread::sleep(std::time::Duration::from_secs(10));
            reply(&mut out, "200 OK", "", "too late")
        }
        "/admin" => reply(&mut out, "200 OK", "", "ADMIN PANEL"),
        _ => reply(&mut out, "404 Not Found", "", "not found"),
    }
}

fn stream_zeros(out: &mut TcpStream) -> std::io::Result<()> {
    let chunk = vec![b'0'; 64 * 1024];
    for _ in 0..BIG / chunk.len() {
        out.write_all(&chunk)?;
    }
    Ok(())
}

fn result(r: &Run, stage: &str) -> String {
    r.output(stage, "result")
}

fn audit(r: &Run, stage: &str, decision: &str) -> Vec<serde_json::Value> {
    r.audit()
        .iter()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).expect("audit line is JSON"))
        .filter(|v| v["stage"] == stage && v["capability"] == "http" && v["decision"] == decision)
        .collect()
}

/// `[stage.NAME]` running http-probe with `with` (inline table body) and extra lines.
fn stage(plugin: &str, name: &str, with: &str, grants: &str) -> String {
    format!("[stage.{name}]\nplugin = \"{plugin}\"\nwith = {{ {with} }}\n{grants}\n\n")
}

/// The plugin got a refusal (`kind`: `denied` or `too-large`); `audit.jsonl` has one
/// `deny` line whose reason names the stage and contains `must_contain`; the stage
/// log has the same text (wasi:http error codes carry none).
fn assert_refused(r: &Run, stage: &str, kind: &str, must_contain: &[&str]) -> serde_json::Value {
    let res = result(r, stage);
    assert!(
        res.starts_with(&format!("{kind}:")),
        "{stage}: expected `{kind}`, got {res}"
    );
    let lines = audit(r, stage, "deny");
    assert_eq!(
        lines.len(),
        1,
        "{stage}: one deny line in audit.jsonl: {lines:#?}"
    );
    let reason = lines[0]["reason"].as_str().unwrap_or_default().to_string();
    assert!(
        reason.contains(&format!("stage `{stage}`")),
        "{stage}: names the stage: {reason}"
    );
    assert!(
        reason.contains("http") && reason.contains("refused"),
        "{stage}: {reason}"
    );
    for s in must_contain {
        assert!(
            reason.contains(s),
            "{stage}: the reason should contain {s:?}: {reason}"
        );
    }
    assert!(
        r.log(stage).contains(&reason),
        "{stage}: the stage log has the refusal:\n{}",
        r.log(stage)
    );
    lines[0].clone()
}

#[test]
fn requests_outside_the_grant_are_refused_audited_and_the_pipeline_goes_on() {
    let hp = pinned(plugins::HTTP_PROBE);
    let probe = pinned(plugins::PROBE);
    let server = Server::start();
    let port = server.port;
    let other_port = if port == 65535 { port - 1 } else { port + 1 };
    let ws = Workspace::new(GANTRY);

    let grant = format!("grants.http = [\"http://127.0.0.1:{port}/v1/\"]");
    let url = |p: &str| server.url(p);
    let mut p = String::from(
        "[pipeline]\nname = \"http-attacks\"\n\n[secrets]\nTOKEN = { env = \"GANTRY_TEST_HTTP_TOKEN\" }\n\n",
    );
    let cases: Vec<(&str, String, String)> = vec![
        // Positive controls: a grant naming 127.0.0.1 itself reaches the test server.
        (
            "works",
            format!("url = \"{}\"", url("/v1/hello")),
            grant.clone(),
        ),
        (
            "secret-header",
            format!(
                "url = \"{}\", secret-headers = {{ authorization = \"TOKEN\" }}",
                url("/v1/auth")
            ),
            format!("{grant}\ngrants.secrets = [\"TOKEN\"]"),
        ),
        // Refusals.
        (
            "no-grant",
            format!("url = \"{}\"", url("/v1/hello")),
            String::new(),
        ),
        (
            "other-host",
            "url = \"http://example.com/v1/hello\"".into(),
            grant.clone(),
        ),
        (
            "localhost-name",
            format!("url = \"http://localhost:{port}/v1/hello\""),
            format!("grants.http = [\"http://localhost:{port}/v1/\"]"),
        ),
        (
            "path-escape",
            format!("url = \"{}\"", url("/v1/../admin")),
            grant.clone(),
        ),
        (
            "path-escape-encoded",
            format!("url = \"{}\"", url("/v1/%2e%2e/admin")),
            grant.clone(),
        ),
        (
            "wrong-port",
            format!("url = \"http://127.0.0.1:{other_port}/v1/hello\""),
            grant.clone(),
        ),
        (
            "wrong-scheme",
            format!("url = \"https://127.0.0.1:{port}/v1/hello\""),
            grant.clone(),
        ),
        (
            "wrong-method",
            format!("url = \"{}\", method = \"DELETE\"", url("/v1/hello")),
            format!(
                "grants.http = [{{ url = \"http://127.0.0.1:{port}/v1/\", methods = [\"GET\"] }}]"
            ),
        ),
        (
            "metadata",
            "url = \"http://169.254.169.254/latest/meta-data/\"".into(),
            grant.clone(),
        ),
        (
            "redirect",
            format!("url = \"{}\", follow = true", url("/v1/redirect")),
            grant.clone(),
        ),
        (
            "too-big",
            format!("url = \"{}\"", url("/v1/big")),
            grant.clone(),
        ),
        (
            "too-big-stream",
            format!("url = \"{}\"", url("/v1/big-stream")),
            grant.clone(),
        ),
        // TLS is attempted (against the plain-HTTP server: a TLS error, not a refusal).
        (
            "tls-to-plain",
            format!("url = \"https://127.0.0.1:{port}/v1/hello\""),
            format!("grants.http = [\"https://127.0.0.1:{port}/v1/\"]"),
        ),
        // The plugin may shorten the host's timeouts (never lengthen them).
        (
            "slow",
            format!("url = \"{}\", timeout-ms = 500", url("/v1/slow")),
            grant.clone(),
        ),
        (
            "secret-not-granted",
            format!(
                "url = \"{}\", secret-headers = {{ authorization = \"TOKEN\" }}",
                url("/v1/auth")
            ),
            grant.clone(),
        ),
    ];
    for (name, with, grants) in &cases {
        p.push_str(&stage(&hp, name, with, grants));
    }
    // A stage that needs refused ones still runs: refusals are data, not crashes.
    p.push_str(&format!(
        "[stage.bystander]\nplugin = \"{probe}\"\nneeds = [\"localhost-name\", \"redirect\", \"too-big-stream\"]\nwith = {{ outputs = {{ ran = \"yes\" }} }}\n"
    ));
    ws.write("pipeline.toml", &p);

    let r = ws.gantry_env(
        &["run", "--no-fail-fast", "--jobs", "2"],
        &[("GANTRY_TEST_HTTP_TOKEN", TOKEN)],
    );
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);

    // Positive controls.
    assert_eq!(result(&r, "works"), "ok:200:hello from the test server");
    let allowed = audit(&r, "works", "allow");
    assert_eq!(allowed.len(), 1, "{allowed:#?}");
    assert_eq!(allowed[0]["operation"], "GET");
    assert_eq!(allowed[0]["detail"]["host"], "127.0.0.1");
    assert_eq!(allowed[0]["detail"]["port"], port);
    assert_eq!(allowed[0]["detail"]["path"], "/v1/hello");
    assert_eq!(
        result(&r, "secret-header"),
        "ok:200:auth-ok",
        "the host put the secret's value in the header"
    );
    let allowed = audit(&r, "secret-header", "allow");
    assert_eq!(
        allowed[0]["detail"]["secrets"],
        serde_json::json!(["TOKEN"])
    );

    assert_refused(
        &r,
        "no-grant",
        "denied",
        &[
            "the stage has no `grants.http`",
            &format!("grants.http = [\"http://127.0.0.1:{port}/v1/hello\"]"),
        ],
    );
    assert_refused(
        &r,
        "other-host",
        "denied",
        &[
            "host `example.com` is not granted",
            "grants.http = [\"http://example.com/v1/hello\"]",
        ],
    );
    let deny = assert_refused(
        &r,
        "localhost-name",
        "denied",
        &[
            "host `localhost` resolves to",
            "which is loopback",
            "naming the address itself",
        ],
    );
    assert_eq!(deny["detail"]["host"], "localhost");
    for s in ["path-escape", "path-escape-encoded"] {
        let deny = assert_refused(
            &r,
            s,
            "denied",
            &[
                "is not under a granted prefix (`/v1/`)",
                "`.` or `..` segments",
            ],
        );
        assert!(
            !deny["reason"]
                .as_str()
                .unwrap_or_default()
                .contains("grants.http = [\"http://127.0.0.1"),
            "no grant of a `..` path is suggested: {deny}"
        );
    }
    assert_refused(
        &r,
        "wrong-port",
        "denied",
        &[&format!(
            "port {other_port} of host `127.0.0.1` is not granted (granted: `{port}`)"
        )],
    );
    assert_refused(
        &r,
        "wrong-scheme",
        "denied",
        &["scheme `https` is not granted"],
    );
    assert_refused(
        &r,
        "wrong-method",
        "denied",
        &[
            "method `DELETE` is not granted",
            "(granted: `GET`)",
            "methods = [\"DELETE\"]",
        ],
    );
    assert_refused(
        &r,
        "metadata",
        "denied",
        &["host `169.254.169.254` is not granted"],
    );
    // The redirect itself is answered; following it is a new request, refused.
    assert_eq!(r.output("redirect", "first"), "ok:302:moved");
    let deny = assert_refused(
        &r,
        "redirect",
        "denied",
        &["host `169.254.169.254` is not granted"],
    );
    assert_eq!(
        deny["detail"]["path"],
        "/latest/meta-data/iam/security-credentials/"
    );
    assert_eq!(deny["detail"]["port"], 80);
    assert_refused(
        &r,
        "too-big",
        "too-large",
        &[&format!(
            "declares {BIG} bytes, more than the 16777216-byte cap"
        )],
    );
    assert_refused(
        &r,
        "too-big-stream",
        "too-large",
        &["is longer than the 16777216-byte cap"],
    );
    let tls = result(&r, "tls-to-plain");
    assert!(tls.starts_with("err:") && tls.contains("Tls"), "{tls}");
    assert!(audit(&r, "tls-to-plain", "deny").is_empty());
    let slow = result(&r, "slow");
    assert!(slow.starts_with("timeout:"), "{slow}");
    assert!(
        audit(&r, "slow", "deny").is_empty(),
        "a timeout is not a refusal"
    );
    assert_refused(
        &r,
        "secret-not-granted",
        "denied",
        &[
            "refers to secret `TOKEN`, which is not granted",
            "grants.secrets = [\"TOKEN\"]",
        ],
    );

    // Nothing refused reached the server; what was allowed did.
    let seen = server.seen();
    assert!(!seen.iter().any(|s| s.contains("admin")), "{seen:?}");
    assert!(seen.contains(&"GET /v1/hello".to_string()), "{seen:?}");
    assert_eq!(
        seen.iter().filter(|s| *s == "GET /v1/auth").count(),
        1,
        "only the granted secret request: {seen:?}"
    );
    assert!(!seen.iter().any(|s| s.starts_with("DELETE")), "{seen:?}");

    // The secret's value is nowhere in the records: every file of the run, each read.
    let dir = r.dir.clone().expect("the run left records");
    let files = gantry_test_plugins::files_under(&dir);
    for required in ["audit.jsonl", "summary.json", "run.json", "report.sarif"] {
        assert!(
            files.iter().any(|f| f.ends_with(required)),
            "{required} missing from {files:?}"
        );
    }
    for f in &files {
        let text = std::fs::read(f).unwrap_or_else(|e| panic!("{}: {e}", f.display()));
        assert!(
            !String::from_utf8_lossy(&text).contains("s3cr3t-http-token"),
            "{} contains the secret",
            f.display()
        );
    }

    assert_eq!(r.output("bystander", "ran"), "yes");
    for (name, _, _) in &cases {
        assert_eq!(
            r.stage(name)["status"],
            "succeeded",
            "{name}: {}",
            r.stage(name)
        );
    }
}

#[test]
fn dry_run_plans_mutating_requests_and_sends_reads_and_a_real_run_journals_them() {
    let hp = pinned(plugins::HTTP_PROBE);
    let server = Server::start();
    let ws = Workspace::new(GANTRY);
    let grant = format!("grants.http = [\"http://127.0.0.1:{}/v1/\"]", server.port);
    let mut p = String::from("[pipeline]\nname = \"http-dry-run\"\n\n");
    p.push_str(&stage(
        &hp,
        "upload",
        &format!("url = \"{}\", method = \"POST\", body = \"payload\", headers = {{ content-type = \"text/plain\" }}", server.url("/v1/upload?token=abc")),
        &grant,
    ));
    p.push_str(&stage(
        &hp,
        "read",
        &format!("url = \"{}\"", server.url("/v1/hello")),
        &grant,
    ));
    ws.write("pipeline.toml", &p);

    let r = ws.gantry(&["run", "--dry-run"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(result(&r, "upload"), "ok:200:", "a synthetic, empty 200");
    assert_eq!(r.output("upload", "dry_run"), "1");
    assert_eq!(
        result(&r, "read"),
        "ok:200:hello from the test server",
        "reads are sent in dry-run"
    );
    assert_eq!(r.output("read", "dry_run"), "0");
    let seen = server.seen();
    assert!(
        !seen.iter().any(|s| s.starts_with("POST")),
        "the POST reached the server in dry-run: {seen:?}"
    );
    assert!(seen.contains(&"GET /v1/hello".to_string()), "{seen:?}");

    let plan: serde_json::Value =
        serde_json::from_str(&r.file("plan.json")).expect("plan.json is JSON");
    let effects = plan["effects"].as_array().expect("effects");
    let post: Vec<&serde_json::Value> = effects
        .iter()
        .filter(|e| e["capability"] == "http")
        .collect();
    assert_eq!(post.len(), 1, "{plan:#}");
    assert_eq!(post[0]["operation"], "POST");
    assert_eq!(post[0]["stage"], "upload");
    assert_eq!(post[0]["detail"]["path"], "/v1/upload");
    assert_eq!(post[0]["detail"]["body_bytes"], 7);
    assert!(
        !plan.to_string().contains("token=abc"),
        "the query is not recorded: {plan:#}"
    );
    let allowed = audit(&r, "upload", "allow");
    assert!(
        allowed[0]["reason"]
            .as_str()
            .unwrap_or_default()
            .contains("dry-run"),
        "{allowed:#?}"
    );

    // For real: sent, and journaled (intent before, status after).
    let r = ws.gantry(&["run"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(result(&r, "upload"), "ok:201:created 7 bytes");
    assert_eq!(r.output("upload", "dry_run"), "0");
    assert!(
        server
            .seen()
            .iter()
            .any(|s| s == "POST /v1/upload?token=abc"),
        "{:?}",
        server.seen()
    );
    let journal: Vec<serde_json::Value> = r
        .file("journal.jsonl")
        .lines()
        .map(|l| serde_json::from_str(l).expect("journal line is JSON"))
        .filter(|v: &serde_json::Value| v["stage"] == "upload")
        .collect();
    assert_eq!(journal.len(), 2, "{journal:#?}");
    assert_eq!(journal[0]["phase"], "intent");
    assert_eq!(journal[0]["operation"], "POST");
    assert_eq!(journal[1]["phase"], "done");
    assert_eq!(journal[1]["result"]["status"], 201);
    assert_eq!(journal[0]["seq"], journal[1]["seq"]);
    // GET is a read: not journaled.
    assert!(
        !r.file("journal.jsonl").contains("\"read\""),
        "{}",
        r.file("journal.jsonl")
    );
}

/// Runs `gantry ARGS` in the workspace inside a private mount namespace whose
/// `/etc/hosts` is `hosts`; `None` (after a visible SKIPPED line, or a panic under
/// `CI=true`) when this machine cannot make one.
fn gantry_with_hosts(ws: &Workspace, hosts: &str, args: &[&str], test: &str) -> Option<Run> {
    let skip = |why: &str| -> Option<Run> {
        if gantry_test_plugins::docker::in_ci() {
            panic!(
                "{test}: {why}; CI=true, so this is a failure, not a skip: run the tests as root on a machine with util-linux `unshare`"
            );
        }
        let _ = writeln!(
            std::io::stderr(),
            "SKIPPED {test}: {why} (needs root and `unshare --mount`)"
        );
        None
    };
    // SAFETY: geteuid has no preconditions and cannot fail.
    if unsafe { libc::geteuid() } != 0 {
        return skip("not root, so no private mount namespace");
    }
    let file = ws.path("hosts.test");
    std::fs::write(&file, hosts).expect("write the test hosts file");
    let probe = std::process::Command::new("unshare")
        .args(["--mount", "--propagation", "private", "--", "sh", "-c"])
        .arg("mount --bind \"$0\" /etc/hosts && getent hosts metadata.gantry.test")
        .arg(&file)
        .output();
    match probe {
        Err(e) => return skip(&format!("cannot run `unshare`: {e}")),
        Ok(o)
            if !o.status.success()
                || !String::from_utf8_lossy(&o.stdout).contains("169.254.169.254") =>
        {
            return skip(&format!(
                "`unshare --mount` + bind mount over /etc/hosts did not work: {}",
                String::from_utf8_lossy(&o.stderr).trim()
            ));
        }
        Ok(_) => {}
    }
    let inner = ws.command(args);
    let mut cmd = std::process::Command::new("unshare");
    cmd.args(["--mount", "--propagation", "private", "--", "sh", "-c"])
        .arg("mount --bind \"$0\" /etc/hosts && exec \"$@\"")
        .arg(&file)
        .arg(inner.get_program())
        .args(inner.get_args())
        .current_dir(&ws.root);
    for (k, v) in inner.get_envs() {
        match v {
            Some(v) => cmd.env(k, v),
            None => cmd.env_remove(k),
        };
    }
    let out = cmd.output().expect("run gantry under unshare");
    Some(Run::from_output(out, &ws.root))
}

#[test]
fn a_granted_name_resolving_to_the_metadata_address_is_refused() {
    let test = "a_granted_name_resolving_to_the_metadata_address_is_refused";
    let server = Server::start();
    let port = server.port;
    let hp = pinned(plugins::HTTP_PROBE);
    let ws = Workspace::new(GANTRY);
    let mut toml = String::from("[pipeline]\nname = \"metadata\"\n\n");
    toml.push_str(&stage(
        &hp,
        "metadata",
        "url = \"http://metadata.gantry.test/latest/meta-data/\"",
        "grants.http = [\"http://metadata.gantry.test\"]",
    ));
    toml.push_str(&stage(
        &hp,
        "loopback",
        &format!("url = \"http://loopback.gantry.test:{port}/v1/hello\""),
        &format!("grants.http = [\"http://loopback.gantry.test:{port}/v1/\"]"),
    ));
    ws.write("pipeline.toml", toml);
    let hosts = "127.0.0.1 localhost\n169.254.169.254 metadata.gantry.test\n127.0.0.1 loopback.gantry.test\n";
    let Some(r) = gantry_with_hosts(&ws, hosts, &["run", "--no-fail-fast"], test) else {
        return;
    };
    assert_eq!(r.code, 0, "{}", r.stderr);
    let deny = assert_refused(
        &r,
        "metadata",
        "denied",
        &[
            "host `metadata.gantry.test` resolves to `169.254.169.254`, which is link-local",
            "grants.http = [\"http://169.254.169.254:80/latest/meta-data/\"] (naming the address itself)",
        ],
    );
    assert_eq!(deny["detail"]["host"], "metadata.gantry.test");
    assert_eq!(deny["detail"]["address"], "169.254.169.254");
    assert_refused(
        &r,
        "loopback",
        "denied",
        &["host `loopback.gantry.test` resolves to `127.0.0.1`, which is loopback"],
    );
    assert!(server.seen().is_empty(), "{:?}", server.seen());
}
