//! The `containers` capability on a real Docker Engine against a plugin that tries
//! everything (`tests/plugins/ctr-probe`): privileged mode, added capabilities,
//! devices, unconfined seccomp, host namespaces and network, mounts of the Docker
//! socket and of paths outside the workspace, images, ports and resources beyond the
//! grant (CPU limits that would round to "unlimited" among them); builds that reach
//! images beyond the grant through any instruction, `ARG`, directive or base-image
//! trigger, that download with `ADD`, or that bake gantry's labels into an image; and
//! containers, images and services gantry did not make for this pipeline in this
//! workspace (labelled by hand, by an older gantry, or by another workspace's pipeline
//! of the same name). Each refusal is what a user would notice: the plugin gets
//! `denied` naming the grant that would allow it (or saying none does), `audit.jsonl`
//! has the line, and an engine snapshot (`docker ps -a` / `images -a` / `service ls` /
//! networks / volumes) shows nothing new — or, for other people's objects, each
//! exactly as it was.
//!
//! The positive controls: granted runs work, mounts are read-only unless granted
//! writable, network `none` is proved against a listener the `bridge` network reaches,
//! one-off output is complete every time, granted multi-stage builds work, a stage
//! killed by its timeout leaves nothing behind, dry-run runs nothing, and gantry's
//! build context leaves out exactly the files `docker build` leaves out.
//!
//! Needs a Docker Engine: skipped with a visible line locally, a failure under `CI=true`.

use gantry_test_plugins::docker::{
    Cleanup, Snapshot, build_image, busybox_image, docker, docker_ok, docker_or_skip, exclusive,
    shared, unique,
};
use gantry_test_plugins::{Run, Workspace, pinned, plugins};

const GANTRY: &str = env!("CARGO_BIN_EXE_gantry");

/// `[stage.NAME]` running ctr-probe with `with` (inline table body) and the
/// `grants.containers` value `grants`.
fn stage(name: &str, with: &str, grants: &str) -> String {
    format!(
        "[stage.{name}]\nplugin = \"{}\"\nwith = {{ {with} }}\ngrants.fs.read = [\".\"]\ngrants.fs.write = [\"out\"]\ngrants.containers = {grants}\n\n",
        pinned(plugins::CTR_PROBE)
    )
}

/// The deny lines of `audit.jsonl` for `stage`, parsed.
fn denials(r: &Run, stage: &str) -> Vec<serde_json::Value> {
    r.audit()
        .iter()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).expect("audit line is JSON"))
        .filter(|v| {
            v["stage"] == stage && v["capability"] == "containers" && v["decision"] == "deny"
        })
        .collect()
}

/// The plugin was told `denied` with the stage and every `must` text; the audit log
/// has exactly that refusal.
fn assert_denied(r: &Run, stage: &str, must: &[&str]) {
    let res = r.output(stage, "result");
    assert!(
        res.starts_with("denied:"),
        "{stage}: expected a denial, got {res}"
    );
    assert!(
        res.contains(&format!("stage `{stage}`")),
        "{stage}: names the stage: {res}"
    );
    for m in must {
        assert!(
            res.contains(m),
            "{stage}: the message should contain {m:?}: {res}"
        );
    }
    let audit = denials(r, stage);
    assert_eq!(
        audit.len(),
        1,
        "{stage}: one deny line in audit.jsonl: {audit:#?}"
    );
    assert_eq!(
        format!("denied:{}", audit[0]["reason"].as_str().unwrap_or_default()),
        res,
        "{stage}: the audit reason is what the plugin was told"
    );
}

const NEVER: &str = "gantry never allows this";

#[test]
fn deny_listed_requests_are_refused_and_the_engine_is_untouched() {
    let Some(_facts) =
        docker_or_skip("deny_listed_requests_are_refused_and_the_engine_is_untouched")
    else {
        return;
    };
    let _guard = exclusive();
    let mut cleanup = Cleanup::new();
    let image = busybox_image(&format!("{}:1", unique("gantry-test/busybox")));
    cleanup.image(&image);
    let repo = image.split(':').next().unwrap_or_default().to_string();
    let prefix = format!("{}-", unique("app"));
    // Someone else's containers, one under the granted prefix and one labelled as if
    // another pipeline had made it.
    let foreign = format!("{prefix}foreign");
    let other = format!("{prefix}other");
    let id = docker_ok(&["run", "-d", "--name", &foreign, &image, "sleep", "600"]);
    cleanup.container(&id);
    let id2 = docker_ok(&[
        "create",
        "--name",
        &other,
        "--label",
        "dev.gantry.pipeline=someone-else",
        "--label",
        "dev.gantry.managed=true",
        &image,
        "true",
    ]);
    cleanup.container(&id2);

    let ws = Workspace::new(GANTRY);
    ws.write("src/main.rs", "fn main() {}\n");
    ws.write("out/.keep", "");
    std::os::unix::fs::symlink("/var/run", ws.path("sock")).expect("symlink");
    let g = format!(
        "{{ run = [\"{repo}:*\"], network = [\"none\", \"bridge\"], manage = \"{prefix}\", publish = [18081], memory = \"64MiB\" }}"
    );
    let run =
        |extra: &str| format!("op = \"run\", image = \"{image}\", command = [\"true\"]{extra}");
    let mut p = String::from("[pipeline]\nname = \"ctr-attacks\"\n\n");
    let cases: Vec<(&str, String, String)> = vec![
        ("privileged", run(", privileged = true"), g.clone()),
        ("cap-add", run(", cap-add = [\"SYS_ADMIN\"]"), g.clone()),
        ("devices", run(", devices = [\"/dev/sda\"]"), g.clone()),
        (
            "seccomp",
            run(", security-opt = [\"seccomp=unconfined\"]"),
            g.clone(),
        ),
        (
            "apparmor",
            run(", security-opt = [\"apparmor=unconfined\"]"),
            g.clone(),
        ),
        ("pid-host", run(", pid = \"host\""), g.clone()),
        ("ipc-host", run(", ipc = \"host\""), g.clone()),
        ("uts-host", run(", uts = \"host\""), g.clone()),
        ("userns-host", run(", userns = \"host\""), g.clone()),
        ("net-host", run(", network = \"host\""), g.clone()),
        (
            "net-join",
            run(&format!(", network = \"container:{foreign}\"")),
            g.clone(),
        ),
        (
            "sock-abs",
            run(", mounts = [{ source = \"/var/run/docker.sock\", target = \"/s\" }]"),
            g.clone(),
        ),
        (
            "escape",
            run(", mounts = [{ source = \"../..\", target = \"/s\" }]"),
            g.clone(),
        ),
        (
            "symlink",
            run(", mounts = [{ source = \"sock\", target = \"/s\" }]"),
            g.clone(),
        ),
        (
            "root-target",
            run(", mounts = [{ source = \"src\", target = \"/\" }]"),
            g.clone(),
        ),
        (
            "relative-target",
            run(", mounts = [{ source = \"src\", target = \"src\" }]"),
            g.clone(),
        ),
        (
            "missing-src",
            run(", mounts = [{ source = \"nope/dir\", target = \"/n\" }]"),
            g.clone(),
        ),
        (
            "file-src",
            run(", mounts = [{ source = \"src/main.rs\", target = \"/m\" }]"),
            g.clone(),
        ),
        (
            "rw-src",
            run(", mounts = [{ source = \"src\", target = \"/src\", writable = true }]"),
            g.clone(),
        ),
        (
            "image",
            "op = \"run\", image = \"alpine:3\", command = [\"true\"]".into(),
            g.clone(),
        ),
        ("memory", run(", memory = 1073741824"), g.clone()),
        (
            "bridge-ungranted",
            run(", network = \"bridge\""),
            format!("{{ run = [\"{repo}:*\"] }}"),
        ),
        ("empty-grant", run(""), "{ }".into()),
        (
            "port",
            format!(
                "op = \"create\", name = \"{prefix}web\", image = \"{image}\", ports = [[80, 18082]]"
            ),
            g.clone(),
        ),
        (
            "name",
            format!("op = \"create\", name = \"db\", image = \"{image}\""),
            g.clone(),
        ),
        (
            "stop-foreign",
            format!("op = \"stop\", name = \"{foreign}\""),
            g.clone(),
        ),
        (
            "logs-foreign",
            format!("op = \"logs\", name = \"{foreign}\""),
            g.clone(),
        ),
        (
            "inspect-other",
            format!("op = \"inspect\", name = \"{other}\""),
            g.clone(),
        ),
        (
            "remove-other",
            format!("op = \"remove\", name = \"{other}\""),
            g.clone(),
        ),
        (
            "rename-foreign",
            format!("op = \"rename\", name = \"{foreign}\", new-name = \"{prefix}mine\""),
            g.clone(),
        ),
        (
            "tag-foreign",
            format!("op = \"tag\", image = \"{image}\", target = \"{repo}:stolen\""),
            g.clone(),
        ),
        (
            "push-ungranted",
            format!("op = \"push\", image = \"{image}\""),
            g.clone(),
        ),
        (
            "build-ungranted",
            "op = \"build\", context = \".\"".into(),
            g.clone(),
        ),
        (
            "service-ungranted",
            format!("op = \"service-deploy\", name = \"{prefix}svc\", image = \"{image}\""),
            g.clone(),
        ),
    ];
    // Specs over gantry's count limits (host/src/caps/containers/mod.rs, `limits`).
    let many = |n: usize, f: &dyn Fn(usize) -> String| (0..n).map(f).collect::<Vec<_>>().join(", ");
    let mut cases = cases;
    cases.extend([
        (
            "env-count",
            run(&format!(", env = {{ {} }}", many(257, &|i| format!("V{i} = \"x\"")))),
            g.clone(),
        ),
        (
            "args-count",
            format!("op = \"run\", image = \"{image}\", command = [{}]", many(1025, &|_| "\"a\"".into())),
            g.clone(),
        ),
        (
            "mounts-count",
            run(&format!(", mounts = [{}]", many(33, &|i| format!("{{ source = \"src\", target = \"/m{i}\" }}")))),
            g.clone(),
        ),
        (
            "ports-count",
            format!(
                "op = \"create\", name = \"{prefix}many\", image = \"{image}\", network = \"bridge\", ports = [{}]",
                many(65, &|i| format!("[80, {}]", 20000 + i))
            ),
            g.clone(),
        ),
        (
            "replicas-count",
            format!("op = \"service-deploy\", name = \"{prefix}svc\", image = \"{image}\", replicas = 65"),
            format!("{{ run = [\"{repo}:*\"], manage = \"{prefix}\", services = true, network = [\"bridge\"] }}"),
        ),
    ]);
    for (name, with, grants) in &cases {
        p.push_str(&stage(name, with, grants));
    }
    ws.write("pipeline.toml", &p);

    let before = Snapshot::take();
    let r = ws.gantry(&["run", "--jobs", "2"]);
    before.assert_nothing_new("every refused request");
    assert_eq!(
        r.code, 0,
        "every probe stage reports and succeeds:\n{}",
        r.stderr
    );

    for s in [
        "privileged",
        "cap-add",
        "devices",
        "seccomp",
        "apparmor",
        "pid-host",
        "ipc-host",
        "uts-host",
        "userns-host",
        "net-host",
        "net-join",
        "escape",
        "symlink",
        "inspect-other",
        "remove-other",
        "tag-foreign",
    ] {
        assert_denied(&r, s, &[NEVER]);
    }
    assert_denied(&r, "privileged", &["privileged mode"]);
    assert_denied(&r, "cap-add", &["SYS_ADMIN"]);
    assert_denied(&r, "symlink", &["outside the workspace"]);
    // Mistakes are not refusals: the error says what is wrong and how to fix it, and
    // nothing is written to the audit log as a denial.
    for (s, must) in [
        (
            "root-target",
            &[
                "mount target `/`",
                "must be absolute, not `/` itself",
                "for example",
            ][..],
        ),
        (
            "relative-target",
            &[
                "mount target `src`",
                "must be absolute",
                "for example `/workspace`",
            ],
        ),
        (
            "missing-src",
            &[
                "mount source `nope/dir` does not exist in the workspace",
                "create the directory",
            ],
        ),
        (
            "file-src",
            &[
                "mount source `src/main.rs` is a file, not a directory",
                "(`src`)",
            ],
        ),
    ] {
        let res = r.output(s, "result");
        assert!(
            res.starts_with("err:") && !res.contains(NEVER),
            "{s}: {res}"
        );
        for m in must {
            assert!(
                res.contains(m),
                "{s}: the message should contain {m:?}: {res}"
            );
        }
        assert!(denials(&r, s).is_empty(), "{s}: not audited as a denial");
    }
    assert_denied(&r, "sock-abs", &["absolute path"]);
    assert_denied(&r, "rw-src", &["grants.fs.write = [\"src\"]"]);
    assert_denied(
        &r,
        "image",
        &["alpine:3", "grants.containers.run = [\"alpine:*\"]"],
    );
    assert_denied(&r, "memory", &["ceiling", "grants.containers.memory"]);
    assert_denied(
        &r,
        "bridge-ungranted",
        &["grants.containers.network = [\"bridge\"]"],
    );
    assert_denied(
        &r,
        "empty-grant",
        &[
            "is not granted",
            &format!("grants.containers.run = [\"{repo}:*\"]"),
        ],
    );
    assert_denied(
        &r,
        "port",
        &["18082", "grants.containers.publish = [18082]"],
    );
    assert_denied(&r, "name", &["does not start with the granted prefix"]);
    assert_denied(&r, "stop-foreign", &["was not created by gantry", NEVER]);
    assert_denied(&r, "logs-foreign", &["was not created by gantry"]);
    assert_denied(&r, "rename-foreign", &["was not created by gantry"]);
    assert_denied(&r, "push-ungranted", &["grants.containers.push"]);
    assert_denied(&r, "build-ungranted", &["grants.containers.build = true"]);
    assert_denied(
        &r,
        "service-ungranted",
        &["grants.containers.services = true"],
    );

    for (s, field, count, max) in [
        ("env-count", "env", 257, 256),
        ("args-count", "command", 1025, 1024),
        ("mounts-count", "mounts", 33, 32),
        ("ports-count", "ports", 65, 64),
        ("replicas-count", "replicas", 65, 64),
    ] {
        let res = r.output(s, "result");
        let want = format!("`{field}` has {count} entries, above gantry's limit of {max} per spec");
        assert!(
            res.starts_with("err:") && res.contains(&want),
            "{s}: expected {want:?}: {res}"
        );
        assert!(denials(&r, s).is_empty(), "{s}: a size error, not a denial");
    }
    // The other people's containers are as they were.
    assert_eq!(
        docker_ok(&["inspect", "--format", "{{.State.Running}}", &foreign]),
        "true",
        "the foreign container still runs"
    );
    assert!(
        docker(&["inspect", &other]).is_ok(),
        "the other pipeline's container still exists"
    );
}

#[test]
fn granted_runs_work_with_read_only_mounts_and_no_network() {
    let Some(_facts) = docker_or_skip("granted_runs_work_with_read_only_mounts_and_no_network")
    else {
        return;
    };
    let _guard = exclusive();
    let mut cleanup = Cleanup::new();
    let image = busybox_image(&format!("{}:1", unique("gantry-test/busybox")));
    cleanup.image(&image);
    let repo = image.split(':').next().unwrap_or_default().to_string();
    let ws = Workspace::new(GANTRY);
    ws.write("src/hello.txt", "hello from the workspace\n");
    ws.write("out/.keep", "");
    let g = format!("{{ run = [\"{repo}:*\"] }}");
    let mut p = String::from("[pipeline]\nname = \"ctr-runs\"\n\n");
    let sh = |script: &str, mounts: &str| {
        format!(
            "op = \"run\", image = \"{image}\", command = [\"sh\", \"-c\", \"{script}\"], mounts = [{mounts}]"
        )
    };
    p.push_str(&stage(
        "cat",
        &sh(
            "cat /w/src/hello.txt",
            "{ source = \".\", target = \"/w\" }",
        ),
        &g,
    ));
    p.push_str(&stage(
        "ro",
        &sh(
            "echo x > /w/src/evil.txt",
            "{ source = \".\", target = \"/w\" }",
        ),
        &g,
    ));
    p.push_str(&stage(
        "rw",
        &sh(
            "echo built > /o/result.txt",
            "{ source = \"out\", target = \"/o\", writable = true }",
        ),
        &g,
    ));
    p.push_str(&stage("exit", &sh("exit 7", ""), &g));
    // Network `none`, proved against something a container with a network reaches:
    // a listener on the host's address on Docker's bridge.
    let gateway = gantry_test_plugins::docker::bridge_gateway();
    let host = Listener::start(&gateway);
    // busybox's `nc`: its `wget` crashes in a scratch image (no NSS files).
    let fetch = format!(
        "echo GET | nc -w 5 {} || echo unreachable",
        host.addr.replace(':', " ")
    );
    p.push_str(&stage(
        "bridge",
        &format!(
            "op = \"run\", image = \"{image}\", network = \"bridge\", command = [\"sh\", \"-c\", \"{fetch}\"]"
        ),
        &format!("{{ run = [\"{repo}:*\"], network = [\"bridge\"] }}"),
    ));
    p.push_str(&stage("nonet", &sh(&fetch, ""), &g));
    ws.write("pipeline.toml", &p);
    let before = Snapshot::take();
    let r = ws.gantry(&["run", "--jobs", "1"]);
    before.assert_nothing_new("one-off runs");
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(r.output("cat", "result"), "ok");
    assert_eq!(r.output("cat", "stdout"), "hello from the workspace\n");
    assert!(
        r.log("cat").contains("hello from the workspace"),
        "the container's output is in the stage log"
    );
    assert_ne!(
        r.output("ro", "exit-code"),
        "0",
        "a read-only mount cannot be written"
    );
    assert!(!ws.path("src/evil.txt").exists());
    assert_eq!(r.output("rw", "exit-code"), "0");
    assert_eq!(
        ws.read("out/result.txt"),
        "built\n",
        "a writable mount writes the workspace"
    );
    assert_eq!(r.output("exit", "exit-code"), "7");
    assert!(
        r.output("bridge", "stdout").ends_with("\r\n\r\nreached\n"),
        "with a network, the host's bridge address answers: {:?}",
        r.output("bridge", "stdout")
    );
    assert_eq!(
        r.output("nonet", "stdout"),
        "unreachable\n",
        "network `none` has no network"
    );
    assert_eq!(host.hits(), 1, "only the bridge container reached the host");
    // Each run was journaled (and, above, no container or anything else is left).
    assert_eq!(intents(&r, "run").len(), 6);
}

#[test]
fn a_stage_killed_by_its_timeout_leaves_no_container() {
    let Some(_facts) = docker_or_skip("a_stage_killed_by_its_timeout_leaves_no_container") else {
        return;
    };
    let _guard = exclusive();
    let mut cleanup = Cleanup::new();
    let image = busybox_image(&format!("{}:1", unique("gantry-test/busybox")));
    cleanup.image(&image);
    let repo = image.split(':').next().unwrap_or_default().to_string();
    let ws = Workspace::new(GANTRY);
    let name = unique("ctr-timeout");
    let mut p = format!("[pipeline]\nname = \"{name}\"\n\n");
    p.push_str(&stage(
        "slow",
        &format!("op = \"run\", image = \"{image}\", command = [\"sleep\", \"600\"]"),
        &format!("{{ run = [\"{repo}:*\"] }}"),
    ));
    p.push_str("timeout = \"3s\"\n");
    ws.write("pipeline.toml", &p);
    let before = Snapshot::take();
    // The limit only catches a hang (a container nobody stopped); nothing is timed.
    let r = ws.gantry_within(&["run"], std::time::Duration::from_secs(120));
    before.assert_nothing_new("a stage killed by its timeout");
    // The broker gives up at the stage's deadline and the sandbox stops the stage.
    let rec = r.stage("slow");
    assert_eq!(rec["status"], "failed", "{rec}");
    assert!(
        rec["reason"]
            .as_str()
            .unwrap_or_default()
            .contains("timed out"),
        "{rec}"
    );
}

#[test]
fn dry_run_runs_no_container_and_plans_it() {
    let Some(_facts) = docker_or_skip("dry_run_runs_no_container_and_plans_it") else {
        return;
    };
    let _guard = exclusive();
    let mut cleanup = Cleanup::new();
    let image = busybox_image(&format!("{}:1", unique("gantry-test/busybox")));
    cleanup.image(&image);
    let repo = image.split(':').next().unwrap_or_default().to_string();
    let ws = Workspace::new(GANTRY);
    ws.write("out/.keep", "");
    let mut p = String::from("[pipeline]\nname = \"ctr-dry\"\n\n");
    p.push_str(&stage(
        "touch",
        &format!("op = \"run\", image = \"{image}\", command = [\"sh\", \"-c\", \"echo x > /o/x\"], mounts = [{{ source = \"out\", target = \"/o\", writable = true }}]"),
        &format!("{{ run = [\"{repo}:*\"] }}"),
    ));
    ws.write("pipeline.toml", &p);
    let before = Snapshot::take();
    let r = ws.gantry(&["run", "--dry-run"]);
    before.assert_nothing_new("a dry run");
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(r.output("touch", "dry-run"), "true");
    assert!(!ws.path("out/x").exists(), "nothing ran");
    let plan = r.file("plan.json");
    assert!(
        plan.contains("\"containers\"") && plan.contains(&repo),
        "{plan}"
    );
}

/// A plain HTTP listener on `ip` that counts the requests it gets and answers each
/// with `reached`: the thing a build or a container must not (or must) reach.
struct Listener {
    addr: String,
    hits: std::sync::Arc<std::sync::atomic::AtomicUsize>,
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Listener {
    fn start(ip: &str) -> Listener {
        use std::io::{Read, Write};
        use std::sync::atomic::Ordering;
        let l = std::net::TcpListener::bind((ip, 0)).expect("bind a test listener");
        l.set_nonblocking(true).expect("non-blocking listener");
        let addr = l.local_addr().expect("listener address").to_string();
        let hits = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let (h, s) = (hits.clone(), stop.clone());
        let thread = std::thread::spawn(move || {
            while !s.load(Ordering::Relaxed) {
                match l.accept() {
                    Ok((mut c, _)) => {
                        h.fetch_add(1, Ordering::SeqCst);
                        let _ = c.set_nonblocking(false);
                        let _ = c.set_read_timeout(Some(std::time::Duration::from_secs(2)));
                        let mut buf = [0u8; 1024];
                        let _ = c.read(&mut buf);
                        let _ = c.write_all(
                            b"HTTP/1.1 200 OK\r\nContent-Length: 8\r\nConnection: close\r\n\r\nreached\n",
                        );
                    }
                    Err(_) => std::thread::sleep(std::time::Duration::from_millis(20)),
                }
            }
        });
        Listener {
            addr,
            hits,
            stop,
            thread: Some(thread),
        }
    }

    fn hits(&self) -> usize {
        self.hits.load(std::sync::atomic::Ordering::SeqCst)
    }
}

impl Drop for Listener {
    fn drop(&mut self) {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// The stages of `journal.jsonl` that journaled an intent to perform `operation`.
fn intents(r: &Run, operation: &str) -> Vec<String> {
    let mut out: Vec<String> = r
        .file("journal.jsonl")
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|v| v["phase"] == "intent" && v["operation"] == operation)
        .map(|v| v["stage"].as_str().unwrap_or_default().to_string())
        .collect();
    out.sort();
    out
}

/// Every image a build can make the daemon use is held to `run`, before anything is
/// built: each `FROM`, `COPY --from`, `RUN --mount from=`, `ONBUILD` trigger (in the
/// Dockerfile and in a base image), `# syntax=`, after ARG and build-arg substitution;
/// remote `ADD` is refused in every spelling and nothing is fetched. A Dockerfile
/// that bakes gantry's own labels into the image gets it removed.
#[test]
fn builds_use_only_granted_images_and_fetch_nothing() {
    let test = "builds_use_only_granted_images_and_fetch_nothing";
    let Some(_facts) = docker_or_skip(test) else {
        return;
    };
    let _guard = exclusive();
    let mut cleanup = Cleanup::new();
    let ok_repo = unique("gantry-test/ok");
    let no_repo = unique("gantry-test/no");
    let ok = busybox_image(&format!("{ok_repo}:1"));
    let no = busybox_image(&format!("{no_repo}:1"));
    cleanup.image(&ok).image(&no);
    let web = Listener::start("127.0.0.1");
    let url = format!("http://{}/payload", web.addr);
    // Granted base images whose ONBUILD triggers reach beyond the grant, and one that
    // carries a label only gantry may set.
    let trig = build_image(
        &format!("{ok_repo}:trig"),
        &format!("FROM {ok}\nONBUILD COPY --from={no} /bin/busybox /stolen\n"),
    );
    let trig_add = build_image(
        &format!("{ok_repo}:trigadd"),
        &format!("FROM {ok}\nONBUILD ADD {url} /payload\n"),
    );
    let labelled = build_image(
        &format!("{ok_repo}:labelled"),
        &format!("FROM {ok}\nLABEL dev.gantry.oneoff=true\n"),
    );
    cleanup.image(&trig).image(&trig_add).image(&labelled);

    let ws = Workspace::new(GANTRY);
    ws.write("out/.keep", "");
    let g = format!("{{ run = [\"{ok_repo}:*\"], build = true }}");
    let mut p = String::from("[pipeline]\nname = \"ctr-builds\"\n\n");
    let (url_https, url_git) = (
        format!("https://{}/x", web.addr),
        format!("git@{}:org/repo.git", web.addr.replace(':', "-")),
    );
    let cases: Vec<(&str, String, &str)> = vec![
        ("add-http", format!("FROM {ok}\nADD {url} /payload\n"), ""),
        (
            "add-json",
            format!(
                "FROM scratch\nADD [\"{}\", \"/x\"]\n",
                url_https.replace('/', "\\/")
            ),
            "",
        ),
        ("add-git", format!("FROM scratch\nADD {url_git} /r\n"), ""),
        (
            "add-var",
            format!("FROM scratch\nARG U={url}\nADD $U /payload\n"),
            "",
        ),
        ("from", format!("FROM {no}\n"), ""),
        (
            "second-from",
            format!("FROM {ok} AS a\nFROM {no}\nCOPY --from=a /bin/true /t\n"),
            "",
        ),
        (
            "copy-from",
            format!("FROM scratch\nCOPY --from={no} /bin/busybox /b\n"),
            "",
        ),
        (
            "mount-from",
            format!("FROM {ok}\nRUN --mount=type=bind,from={no},target=/u true\n"),
            "",
        ),
        (
            "onbuild",
            format!("FROM scratch\nONBUILD COPY --from={no} / /\n"),
            "",
        ),
        (
            "arg-default",
            format!("ARG BASE={no}\nFROM ${{BASE}}\n"),
            "",
        ),
        (
            "arg-override",
            format!("ARG BASE={ok}\nFROM $BASE\n"),
            ", build-args = { BASE = \"NO\" }",
        ),
        (
            "undeclared",
            "FROM $X\n".into(),
            ", build-args = { X = \"NO\" }",
        ),
        ("syntax", format!("# syntax={no}\nFROM scratch\n"), ""),
        (
            "heredoc",
            format!("FROM scratch\nRUN <<EOF\nFROM {no}\nEOF\n"),
            "",
        ),
        (
            "escape",
            format!("# escape=`\nFROM {ok}\nCOPY a /a \\\nFROM {no}\n"),
            "",
        ),
        ("trigger", format!("FROM {trig}\n"), ""),
        ("trigger-add", format!("FROM {trig_add}\n"), ""),
        ("absent", format!("FROM {ok_repo}:absent\n"), ""),
        (
            "label-forge",
            format!("FROM {ok}\nLABEL dev.gantry.managed=true\n"),
            "",
        ),
        ("label-inherit", format!("FROM {labelled}\n"), ""),
    ];
    for (name, dockerfile, extra) in &cases {
        ws.write(&format!("c/{name}/Dockerfile"), dockerfile);
        let extra = extra.replace("NO", &no);
        p.push_str(&stage(
            name,
            &format!(
                "op = \"build\", context = \"c/{name}\", tags = [\"{ok_repo}:{name}\"]{extra}"
            ),
            &g,
        ));
    }
    p.push_str(&stage(
        "cpus-tiny",
        &format!("op = \"run\", image = \"{ok}\", command = [\"true\"], cpus = 1e-10"),
        &g,
    ));
    ws.write("pipeline.toml", &p);

    let before = Snapshot::take();
    let r = ws.gantry(&["run", "--jobs", "2"]);
    before.assert_nothing_new("every refused build");
    assert_eq!(r.code, 0, "every probe stage reports:\n{}", r.stderr);
    assert_eq!(web.hits(), 0, "the daemon fetched nothing");

    let net = "downloads from the network";
    let not_granted = format!("grants.containers.run = [\"{no_repo}:*\"]");
    let no_ref = no.as_str();
    for (s, must) in [
        ("add-http", vec![net, "line 2", NEVER]),
        ("add-json", vec![net]),
        ("add-git", vec![net]),
        ("add-var", vec!["variable", NEVER]),
        ("from", vec![no_ref, "line 1, FROM", &not_granted]),
        ("second-from", vec![no_ref, "line 2, FROM", &not_granted]),
        ("copy-from", vec![no_ref, "COPY --from", &not_granted]),
        ("mount-from", vec![no_ref, "RUN --mount from", &not_granted]),
        ("onbuild", vec![no_ref, "ONBUILD COPY --from", &not_granted]),
        ("arg-default", vec![no_ref, &not_granted]),
        ("arg-override", vec![no_ref, &not_granted]),
        ("undeclared", vec!["not a global `ARG`", NEVER]),
        ("syntax", vec![no_ref, "syntax", &not_granted]),
        ("heredoc", vec!["heredoc", NEVER]),
        ("escape", vec![no_ref, "line 4", &not_granted]),
        ("trigger", vec![no_ref, "ONBUILD trigger", &not_granted]),
        ("trigger-add", vec![net, "ONBUILD trigger"]),
        (
            "label-forge",
            vec!["dev.gantry.managed", "the image was removed", NEVER],
        ),
        (
            "label-inherit",
            vec!["dev.gantry.oneoff", "the image was removed", NEVER],
        ),
        ("cpus-tiny", vec!["at least 0.01", "unlimited", NEVER]),
    ] {
        assert_denied(&r, s, &must);
    }
    let absent = r.output("absent", "result");
    assert!(
        absent.starts_with("not-found:") || absent.starts_with("err:"),
        "{absent}"
    );
    assert!(
        absent.contains("not on the Docker Engine") && absent.contains("docker pull"),
        "{absent}"
    );
    // Only the two whose problem shows after the build was built; everything else
    // was refused before any build started.
    assert_eq!(intents(&r, "build"), ["label-forge", "label-inherit"]);

    // A grant of `cpus` below what the engine enforces is refused by `check`.
    let ws2 = Workspace::new(GANTRY);
    ws2.write(
        "pipeline.toml",
        format!(
            "[pipeline]\nname = \"tiny\"\n\n{}",
            stage(
                "s",
                "op = \"list\"",
                &format!("{{ run = [\"{ok_repo}:*\"], cpus = 1e-10 }}")
            )
        ),
    );
    ws2.write("out/.keep", "");
    let c = ws2.gantry(&["check"]);
    assert_ne!(c.code, 0, "{}", c.stdout);
    assert!(
        c.stderr.contains("`cpus`") && c.stderr.contains("unlimited"),
        "{}",
        c.stderr
    );
}

/// What a granted build may do: stages by name and number, `FROM scratch`, ARG
/// substitution to a granted image; labels the Dockerfile or the plugin set under
/// `dev.gantry.` never survive, and the ownership tag is never shown to the plugin.
#[test]
fn granted_builds_work_and_carry_only_gantrys_labels() {
    let test = "granted_builds_work_and_carry_only_gantrys_labels";
    let Some(_facts) = docker_or_skip(test) else {
        return;
    };
    let _guard = shared();
    let mut cleanup = Cleanup::new();
    let ok_repo = unique("gantry-test/ok");
    let ok = busybox_image(&format!("{ok_repo}:1"));
    cleanup
        .image(&ok)
        .image(&format!("{ok_repo}:multi"))
        .image(&format!("{ok_repo}:arg"));
    let ws = Workspace::new(GANTRY);
    ws.write("out/.keep", "");
    ws.write(
        "multi/Dockerfile",
        format!(
            "FROM {ok} AS tools\nFROM scratch AS out\nCOPY --from=tools /bin/busybox /busybox\nFROM out\nCOPY --from=0 /bin/true /true\n"
        ),
    );
    ws.write(
        "arg/Dockerfile",
        "ARG BASE\nFROM ${BASE:-nothing}\nLABEL dev.gantry.owner=forged org.example.kind=arg\n",
    );
    let g = format!("{{ run = [\"{ok_repo}:*\"], build = true }}");
    let mut p = String::from("[pipeline]\nname = \"ctr-builds-ok\"\n\n");
    p.push_str(&stage(
        "multi",
        &format!("op = \"build\", context = \"multi\", tags = [\"{ok_repo}:multi\"]"),
        &g,
    ));
    p.push_str(&stage(
        "arg",
        &format!(
            "op = \"build\", context = \"arg\", tags = [\"{ok_repo}:arg\"], build-args = {{ BASE = \"{ok}\" }}, labels = {{ \"dev.gantry.owner\" = \"forged\", \"org.example.x\" = \"1\" }}"
        ),
        &g,
    ));
    ws.write("pipeline.toml", &p);
    let r = ws.gantry(&["run"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(r.output("multi", "result"), "ok");
    assert_eq!(r.output("arg", "result"), "ok");
    let files = gantry_test_plugins::docker::image_files(&format!("{ok_repo}:multi"));
    assert!(
        files.contains("busybox") && files.contains("true"),
        "{files:?}"
    );
    let labels = r.output("arg", "labels");
    assert!(
        labels.contains("dev.gantry.pipeline=ctr-builds-ok")
            && labels.contains("org.example.x=1")
            && labels.contains("org.example.kind=arg")
            && !labels.contains("dev.gantry.owner"),
        "the plugin sees gantry's labels but never the ownership tag: {labels}"
    );
    let owner = docker_ok(&[
        "image",
        "inspect",
        "--format",
        "{{index .Config.Labels \"dev.gantry.owner\"}}",
        &format!("{ok_repo}:arg"),
    ]);
    assert!(
        owner.len() == 64 && owner.chars().all(|c| c.is_ascii_hexdigit()),
        "gantry's tag replaced the forged one: {owner}"
    );
}

/// Ownership rests on the workspace's secret, not on labels: a container labelled by
/// hand as gantry's, one of a gantry from before ownership tags, and the containers,
/// images and services another workspace's pipeline of the same name made are all
/// out of reach — the engine shows each exactly as it was — while the stage's own
/// container is managed as usual, and the tag never reaches the plugin.
#[test]
fn objects_gantry_did_not_make_for_this_workspace_are_untouchable() {
    let test = "objects_gantry_did_not_make_for_this_workspace_are_untouchable";
    let Some(facts) = docker_or_skip(test) else {
        return;
    };
    assert!(
        facts.swarm_active(),
        "Swarm is not active: run .ci/docker-up"
    );
    let _guard = exclusive();
    let mut cleanup = Cleanup::new();
    let repo = unique("gantry-test/own");
    let image = busybox_image(&format!("{repo}:1"));
    cleanup.image(&image);
    let prefix = format!("{}-", unique("own"));
    let pipeline = "same-name";
    let g = format!(
        "{{ run = [\"{repo}:*\"], build = true, manage = \"{prefix}\", services = true, network = [\"none\", \"bridge\"] }}"
    );

    // Workspace B: the same pipeline name, its own key. It makes a container, an
    // image and a service.
    let b = Workspace::new(GANTRY);
    b.write("out/.keep", "");
    b.write("img/Dockerfile", format!("FROM {image}\n"));
    let mut p = format!("[pipeline]\nname = \"{pipeline}\"\n\n");
    p.push_str(&stage(
        "create",
        &format!(
            "op = \"create\", name = \"{prefix}b\", image = \"{image}\", command = [\"sleep\", \"600\"]"
        ),
        &g,
    ));
    p.push_str(&stage(
        "build",
        &format!("op = \"build\", context = \"img\", tags = [\"{repo}:b\"]"),
        &g,
    ));
    p.push_str(&stage(
        "svc",
        &format!(
            "op = \"service-deploy\", name = \"{prefix}svc\", image = \"{image}\", command = [\"sleep\", \"600\"]"
        ),
        &g,
    ));
    b.write("pipeline.toml", &p);
    cleanup
        .container(&format!("{prefix}b"))
        .image(&format!("{repo}:b"))
        .service(&format!("{prefix}svc"));
    let rb = b.gantry(&["run"]);
    assert_eq!(rb.code, 0, "{}", rb.stderr);
    for s in ["create", "build", "svc"] {
        assert_eq!(rb.output(s, "result"), "ok", "workspace B's {s}");
    }
    // By hand: one labelled as gantry's with a made-up tag, one as an older gantry
    // labelled its containers (no tag at all).
    let forged = format!("{prefix}hand");
    let old = format!("{prefix}old");
    let tag = "0".repeat(64);
    for (name, owner) in [(&forged, Some(tag.as_str())), (&old, None)] {
        let mut args = vec![
            "create".to_string(),
            "--name".into(),
            name.clone(),
            "--label".into(),
            format!("dev.gantry.pipeline={pipeline}"),
            "--label".into(),
            "dev.gantry.managed=true".into(),
            "--label".into(),
            "dev.gantry.oneoff=false".into(),
        ];
        if let Some(t) = owner {
            args.extend(["--label".into(), format!("dev.gantry.owner={t}")]);
        }
        args.extend([image.clone(), "sleep".into(), "600".into()]);
        let refs: Vec<&str> = args.iter().map(String::as_str).collect();
        let id = docker_ok(&refs);
        cleanup.container(&id);
    }
    docker_ok(&["start", &forged]);

    // Workspace A: same pipeline name, its own key; it tries everything on them.
    let a = Workspace::new(GANTRY);
    a.write("out/.keep", "");
    let mine = format!("{prefix}a");
    cleanup.container(&mine);
    let mut p = format!("[pipeline]\nname = \"{pipeline}\"\n\n");
    let b_ctr = format!("{prefix}b");
    let svc = format!("{prefix}svc");
    let attempts: Vec<(&str, String)> = vec![
        ("stop-b", format!("op = \"stop\", name = \"{b_ctr}\"")),
        ("remove-b", format!("op = \"remove\", name = \"{b_ctr}\"")),
        ("inspect-b", format!("op = \"inspect\", name = \"{b_ctr}\"")),
        ("logs-b", format!("op = \"logs\", name = \"{b_ctr}\"")),
        ("stats-b", format!("op = \"stats\", name = \"{b_ctr}\"")),
        (
            "rename-b",
            format!("op = \"rename\", name = \"{b_ctr}\", new-name = \"{prefix}mine\""),
        ),
        ("stop-hand", format!("op = \"stop\", name = \"{forged}\"")),
        (
            "remove-hand",
            format!("op = \"remove\", name = \"{forged}\""),
        ),
        ("start-old", format!("op = \"start\", name = \"{old}\"")),
        ("remove-old", format!("op = \"remove\", name = \"{old}\"")),
        (
            "tag-b",
            format!("op = \"tag\", image = \"{repo}:b\", target = \"{repo}:stolen\""),
        ),
        (
            "svc-rollback",
            format!("op = \"service-rollback\", name = \"{svc}\""),
        ),
        (
            "svc-remove",
            format!("op = \"service-remove\", name = \"{svc}\""),
        ),
        (
            "svc-update",
            format!(
                "op = \"service-deploy\", name = \"{svc}\", image = \"{image}\", command = [\"true\"]"
            ),
        ),
    ];
    for (name, with) in &attempts {
        p.push_str(&stage(name, with, &g));
    }
    // Tags are names others may deploy: neither a build nor a tag may move one off
    // their image.
    a.write("img/Dockerfile", format!("FROM {image}\n"));
    cleanup.image(&format!("{repo}:a"));
    p.push_str(&stage(
        "build-over-b",
        &format!("op = \"build\", context = \"img\", tags = [\"{repo}:b\"]"),
        &g,
    ));
    p.push_str(&stage(
        "build-a",
        &format!("op = \"build\", context = \"img\", tags = [\"{repo}:a\"]"),
        &g,
    ));
    p.push_str(&format!(
        "[stage.tag-over-b]\nplugin = \"{}\"\nneeds = [\"build-a\"]\nwith = {{ op = \"tag\", image = \"{repo}:a\", target = \"{repo}:b\" }}\ngrants.containers = {g}\n\n",
        pinned(plugins::CTR_PROBE)
    ));
    p.push_str(&stage("list", "op = \"list\"", &g));
    p.push_str(&stage(
        "mine",
        &format!("op = \"create\", name = \"{mine}\", image = \"{image}\", command = [\"true\"]"),
        &g,
    ));
    p.push_str(&format!(
        "[stage.mine-inspect]\nplugin = \"{}\"\nneeds = [\"mine\"]\nwith = {{ op = \"inspect\", name = \"{mine}\" }}\ngrants.containers = {g}\n",
        pinned(plugins::CTR_PROBE)
    ));
    // `stats` (contract 0.1.1) on its own container: a sample from the engine.
    p.push_str(&format!(
        "\n[stage.mine-stats]\nplugin = \"{}\"\nneeds = [\"mine\"]\nwith = {{ op = \"stats\", name = \"{mine}\" }}\ngrants.containers = {g}\n",
        pinned(plugins::CTR_PROBE)
    ));
    a.write("pipeline.toml", &p);

    let objects = [
        ("container", b_ctr.clone()),
        ("container", forged.clone()),
        ("container", old.clone()),
        ("image", format!("{repo}:b")),
        ("service", svc.clone()),
    ];
    let state = || -> Vec<String> {
        objects
            .iter()
            .map(|(k, id)| gantry_test_plugins::docker::object_state(k, id))
            .collect()
    };
    let before_state = state();
    let before = Snapshot::take();
    let ra = a.gantry(&["run", "--jobs", "1"]);
    assert_eq!(ra.code, 0, "{}", ra.stderr);
    // What is new is the stage's own (its container, its image and the build's
    // intermediate images, all carrying this workspace's tag), and theirs is exactly
    // as it was.
    let tag_a = docker_ok(&[
        "inspect",
        "--format",
        "{{index .Config.Labels \"dev.gantry.owner\"}}",
        &mine,
    ]);
    assert_eq!(tag_a.len(), 64, "{tag_a}");
    let new = before.new_since();
    assert!(
        new.iter().all(|n| n.contains(&tag_a))
            && new.iter().any(|n| n.contains(&mine))
            && new.iter().any(|n| n.contains(&format!("{repo}:a"))),
        "only this workspace's own objects are new: {new:#?}"
    );
    assert_eq!(state(), before_state, "nothing of theirs changed");
    assert_eq!(
        docker_ok(&["inspect", "--format", "{{.State.Running}}", &forged]),
        "true"
    );

    let foreign = "was not created by gantry for pipeline `same-name` in this workspace";
    for s in [
        "stop-b",
        "remove-b",
        "inspect-b",
        "logs-b",
        "stats-b",
        "rename-b",
        "stop-hand",
        "remove-hand",
        "svc-rollback",
        "svc-remove",
        "svc-update",
        "tag-b",
        "build-over-b",
        "tag-over-b",
    ] {
        assert_denied(&ra, s, &[foreign, NEVER]);
    }
    assert_eq!(ra.output("build-a", "result"), "ok");
    for s in ["start-old", "remove-old"] {
        assert_denied(
            &ra,
            s,
            &["no ownership tag", "before ownership tags", NEVER],
        );
    }
    assert_eq!(ra.output("list", "names"), "", "theirs are not listed");
    assert_eq!(ra.output("mine", "result"), "ok");
    assert_eq!(
        ra.output("mine-inspect", "result"),
        "ok",
        "its own is managed"
    );
    assert_eq!(
        ra.output("mine-stats", "result"),
        "ok",
        "{}",
        ra.stage("mine-stats")
    );
    assert!(ra.output("mine-stats", "pids").parse::<u64>().is_ok());
    let labels = ra.output("mine-inspect", "labels");
    assert!(
        labels.contains(&format!("dev.gantry.pipeline={pipeline}"))
            && labels.contains("dev.gantry.managed=true")
            && labels.contains("dev.gantry.oneoff=false")
            && !labels.contains("dev.gantry.owner"),
        "{labels}"
    );
    // The engine has the tag; the plugin never saw it anywhere.
    let tag_b = docker_ok(&[
        "inspect",
        "--format",
        "{{index .Config.Labels \"dev.gantry.owner\"}}",
        &b_ctr,
    ]);
    assert_ne!(tag_a, tag_b, "same pipeline name, different workspaces");
    for f in gantry_test_plugins::files_under(&a.state) {
        let text = String::from_utf8_lossy(&std::fs::read(&f).unwrap_or_default()).into_owned();
        assert!(
            !text.contains(&tag_a),
            "the ownership tag is in {}",
            f.display()
        );
    }
}

/// gantry sends exactly what `docker build` sends: one context whose `.dockerignore`
/// uses every form Docker knows (`?`, `[...]` classes with ranges and `^`, a `!`
/// inside a class that Go takes literally, `\` escapes, `**` at either end, leading
/// `/`, `!` exceptions in order, a pattern cleaned of `..`), built `FROM scratch` with
/// `COPY . /ctx/` once by gantry and once by the Docker CLI: both images hold the
/// same files, and the excluded ones are in neither.
#[test]
fn dockerignore_leaves_out_exactly_what_docker_leaves_out() {
    let test = "dockerignore_leaves_out_exactly_what_docker_leaves_out";
    let Some(_facts) = docker_or_skip(test) else {
        return;
    };
    let _guard = shared();
    let mut cleanup = Cleanup::new();
    let repo = unique("gantry-test/ctx");
    let (by_gantry, by_docker) = (format!("{repo}:gantry"), format!("{repo}:docker"));
    cleanup.image(&by_gantry).image(&by_docker);
    let ws = Workspace::new(GANTRY);
    ws.write("out/.keep", "");
    let files = [
        "file1.log",
        "file12.log",
        "a.txt",
        "b.txt",
        "c.txt",
        "!.txt",
        "^.txt",
        "*.md",
        "x.md",
        "]",
        "[]",
        "afoo",
        "foo",
        "sub/foo",
        "sub/deep/foo.txt",
        "keep/k.txt",
        "keep/other.txt",
        "d1/d2/keep.txt",
        "d1/d2/drop.txt",
        "sp ace",
        "q?.x",
        "qa.x",
        "ay",
        "xy",
        "secrets/id.key",
        "deep/er/id.key",
        "target/debug/x",
        "target.txt",
        "z/cleaned",
    ];
    for f in files {
        ws.write(&format!("ctx/{f}"), "x\n");
    }
    ws.write(
        "ctx/.dockerignore",
        "# comment\nfile?.log\n[ab].txt\n[!c].txt\n\\*.md\n[*]\n**foo\nkeep\n!keep/k.txt\nd1\n!d1/d2/keep.txt\n/sp ace\nq\\?.x\n[^x-z]y\n**/*.key\ntarget/**\n  y/../z/cleaned  \n",
    );
    ws.write("ctx/Dockerfile", "FROM scratch\nCOPY . /ctx/\n");
    ws.write(
        "pipeline.toml",
        format!(
            "[pipeline]\nname = \"ctx-parity\"\n\n{}",
            stage(
                "build",
                &format!("op = \"build\", context = \"ctx\", tags = [\"{by_gantry}\"]"),
                &format!("{{ run = [\"{repo}:*\"], build = true }}"),
            )
        ),
    );
    let r = ws.gantry(&["run"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(r.output("build", "result"), "ok");
    let ctx = ws.path("ctx").to_string_lossy().into_owned();
    docker_ok(&["build", "-q", "-t", &by_docker, &ctx]);
    let listing = |image: &str| -> std::collections::BTreeSet<String> {
        gantry_test_plugins::docker::image_files(image)
            .into_iter()
            .filter_map(|f| f.strip_prefix("ctx/").map(str::to_string))
            .collect()
    };
    let (g, d) = (listing(&by_gantry), listing(&by_docker));
    assert_eq!(g, d, "gantry and docker build sent different files");
    for gone in [
        "file1.log",
        "a.txt",
        "b.txt",
        "c.txt",
        "!.txt",
        "*.md",
        "]",
        "[]",
        "afoo",
        "foo",
        "sub/foo",
        "keep/other.txt",
        "d1/d2/drop.txt",
        "sp ace",
        "q?.x",
        "ay",
        "secrets/id.key",
        "deep/er/id.key",
        "target/debug",
        "z/cleaned",
    ] {
        assert!(!g.contains(gone), "{gone} was sent: {g:?}");
    }
    for kept in [
        "file12.log",
        "^.txt",
        "x.md",
        "sub/deep/foo.txt",
        "keep/k.txt",
        "d1/d2/keep.txt",
        "qa.x",
        "xy",
        "target.txt",
        "Dockerfile",
        ".dockerignore",
    ] {
        assert!(g.contains(kept), "{kept} is missing: {g:?}");
    }
}

/// A one-off container's output is always all of it: many short runs, each must
/// report what it printed (a log stream that ends early is an error, never an empty
/// output with exit code 0).
#[test]
fn one_off_output_is_complete_every_time() {
    let test = "one_off_output_is_complete_every_time";
    let Some(_facts) = docker_or_skip(test) else {
        return;
    };
    let _guard = shared();
    let mut cleanup = Cleanup::new();
    let image = busybox_image(&format!("{}:1", unique("gantry-test/busybox")));
    cleanup.image(&image);
    let repo = image.split(':').next().unwrap_or_default().to_string();
    let ws = Workspace::new(GANTRY);
    ws.write("out/.keep", "");
    let mut p = String::from("[pipeline]\nname = \"ctr-output\"\n\n");
    for i in 0..12 {
        p.push_str(&stage(
            &format!("echo{i}"),
            &format!(
                "op = \"run\", image = \"{image}\", command = [\"sh\", \"-c\", \"echo out-{i}; echo err-{i} >&2\"]"
            ),
            &format!("{{ run = [\"{repo}:*\"] }}"),
        ));
    }
    ws.write("pipeline.toml", &p);
    let r = ws.gantry(&["run", "--jobs", "4"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    for i in 0..12 {
        let s = format!("echo{i}");
        assert_eq!(r.output(&s, "result"), "ok", "{s}");
        assert_eq!(r.output(&s, "exit-code"), "0", "{s}");
        assert_eq!(r.output(&s, "stdout"), format!("out-{i}\n"), "{s}");
        assert_eq!(r.output(&s, "stderr"), format!("err-{i}\n"), "{s}");
    }
}
