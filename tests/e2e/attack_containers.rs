//! The `containers` capability on a real Docker Engine against a plugin that tries
//! everything (`tests/plugins/ctr-probe`): privileged mode, added capabilities,
//! devices, unconfined seccomp, host namespaces and network, mounts of the Docker
//! socket and of paths outside the workspace, images, ports and resources beyond the
//! grant, and other people's containers. Each refusal is what a user would notice: the
//! plugin gets `denied` naming the grant that would allow it (or saying none does),
//! `audit.jsonl` has the line, and `docker ps -a` / `images` / `service ls` show
//! nothing new. The positive controls show granted runs work, mounts are read-only
//! unless granted writable, a stage killed by its timeout leaves no container behind,
//! and dry-run runs nothing.
//!
//! Needs a Docker Engine: skipped with a visible line locally, a failure under `CI=true`.

use gantry_test_plugins::docker::{
    Cleanup, Snapshot, busybox_image, docker, docker_ok, docker_or_skip, exclusive, unique,
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
    // Specs over gantry's count limits (host/src/caps/containers.rs, `limits`).
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
            format!("{{ run = [\"{repo}:*\"], manage = \"{prefix}\", services = true }}"),
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
    p.push_str(&stage(
        "nonet",
        &sh(
            "wget -T 2 -q -O- http://1.1.1.1/ && echo reached || echo unreachable",
            "",
        ),
        &g,
    ));
    ws.write("pipeline.toml", &p);
    let r = ws.gantry(&["run"]);
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
    assert_eq!(
        r.output("nonet", "stdout"),
        "unreachable\n",
        "network `none` has no network"
    );
    // Each run was journaled and its container removed.
    let journal = r.file("journal.jsonl");
    assert!(journal.matches("\"containers\"").count() >= 5, "{journal}");
    assert!(
        gantry_test_plugins::docker::containers_with_label("dev.gantry.pipeline=ctr-runs")
            .is_empty(),
        "no one-off container is left"
    );
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
    let start = std::time::Instant::now();
    let r = ws.gantry(&["run"]);
    assert!(
        start.elapsed().as_secs() < 60,
        "the stage stopped near its timeout"
    );
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
    let left =
        gantry_test_plugins::docker::containers_with_label(&format!("dev.gantry.pipeline={name}"));
    assert!(left.is_empty(), "containers left behind: {left:?}");
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
