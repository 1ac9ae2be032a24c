//! The sandbox against a purpose-built hostile plugin (`tests/plugins/hostile`):
//! resource exhaustion ends the stage and the host carries on; filesystem escapes are
//! refused, and nothing outside the grants is read or changed.

use gantry_test_plugins::{Workspace, pinned, plugins};

const GANTRY: &str = env!("CARGO_BIN_EXE_gantry");

fn result(r: &gantry_test_plugins::Run, stage: &str) -> String {
    r.stage(stage)["outputs"]["result"]
        .as_str()
        .unwrap_or_else(|| panic!("stage {stage} reported no result: {}", r.stage(stage)))
        .to_string()
}

#[test]
fn resource_exhaustion_is_contained_and_other_stages_finish() {
    let h = pinned(plugins::HOSTILE);
    let p = pinned(plugins::PROBE);
    let ws = Workspace::new(GANTRY);
    ws.write(
        "pipeline.toml",
        format!(
            r#"
[pipeline]
name = "exhaust"

[stage.spin]
plugin = "{h}"
timeout = "1s"
with = {{ action = "loop" }}

[stage.bomb]
plugin = "{h}"
limits.memory = "64MiB"
with = {{ action = "memory-bomb" }}

[stage.deep]
plugin = "{h}"
with = {{ action = "recursion" }}

[stage.flood]
plugin = "{h}"
limits.stdout = "64KiB"
with = {{ action = "stdout-flood" }}

[stage.crash]
plugin = "{h}"
with = {{ action = "panic" }}

[stage.bystander]
plugin = "{p}"
needs = ["spin-free"]

[stage.spin-free]
plugin = "{p}"
with = {{ spin-ms = 50 }}
"#
        ),
    );
    // A hang watchdog only: how long it takes depends on the machine's load.
    let r = ws.gantry_within(
        &["run", "--no-fail-fast", "--jobs", "2"],
        std::time::Duration::from_secs(600),
    );
    assert_eq!(r.code, 1, "{}", r.stderr);

    let spin = r.stage("spin");
    assert_eq!(spin["status"], "failed");
    assert_eq!(spin["reason"], "timed out after 1s");

    let bomb = r.stage("bomb");
    assert_eq!(bomb["status"], "failed");
    assert_eq!(bomb["reason"], "exceeded its memory limit of 64MiB");

    let deep = r.stage("deep");
    assert_eq!(deep["status"], "failed");
    // Rust keeps its stack in linear memory: either that shadow stack or wasm's own
    // stack overflows first; both must end the stage cleanly with a readable reason.
    let why = deep["reason"].as_str().unwrap();
    assert!(
        why.starts_with("overflowed its wasm stack") || why.contains("deep recursion"),
        "{deep}"
    );
    assert!(!why.contains('\n'), "the reason is one line: {why}");

    // 1 GiB written, 64 KiB kept, the log says it was truncated, the stage still succeeds.
    let flood = r.stage("flood");
    assert_eq!(flood["status"], "succeeded", "{flood}");
    assert_eq!(flood["outputs"]["result"], format!("ok:{}", 1u64 << 30));
    let log = r.log("flood");
    assert!(
        log.contains("stdout truncated: kept the first 65536 bytes, dropped 1073676288 bytes"),
        "{}",
        &log[log.len().saturating_sub(500)..]
    );
    assert!(log.len() < 200 * 1024, "log is {} bytes", log.len());

    let crash = r.stage("crash");
    assert_eq!(crash["status"], "failed");
    assert!(
        crash["reason"].as_str().unwrap().starts_with("crashed"),
        "{crash}"
    );
    assert!(
        r.log("crash").contains("hostile plugin panics on purpose"),
        "panic message goes to the stage log"
    );

    assert_eq!(r.stage("spin-free")["status"], "succeeded");
    assert_eq!(r.stage("bystander")["status"], "succeeded");
}

/// Files outside every grant, and the state of every file the plugin may not change.
struct Fixture {
    ws: Workspace,
    outside: std::path::PathBuf,
}

fn fs_fixture() -> Fixture {
    let ws = Workspace::new(GANTRY);
    ws.write("ro/data.txt", "read-only content");
    ws.write("rw/keep.txt", "writable");
    ws.write("private/secret.txt", "not granted");
    let outside = ws.root.with_extension("outside");
    std::fs::create_dir_all(&outside).unwrap();
    std::fs::write(outside.join("secret.txt"), "outside the workspace").unwrap();
    // A symlink committed in the repository, pointing outside the workspace.
    std::os::unix::fs::symlink(outside.join("secret.txt"), ws.path("ro/escape-link")).unwrap();
    std::os::unix::fs::symlink(&outside, ws.path("linkdir")).unwrap();
    Fixture { ws, outside }
}

impl Drop for Fixture {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.outside);
    }
}

#[test]
fn filesystem_escapes_are_refused_and_nothing_outside_the_grants_changes() {
    let f = fs_fixture();
    let h = pinned(plugins::HOSTILE);
    let stage = |name: &str, action: &str, path: &str, to: &str| {
        format!(
            "[stage.{name}]\nplugin = \"{h}\"\nwith = {{ action = \"{action}\", path = \"{path}\", to = \"{to}\" }}\ngrants.fs.read = [\"ro\"]\ngrants.fs.write = [\"rw\"]\n\n"
        )
    };
    let mut pipeline = String::from("[pipeline]\nname = \"escape\"\n\n");
    for (name, action, path, to) in [
        ("etc-passwd", "read", "/etc/passwd", ""),
        ("dotdot", "read", "/workspace/ro/../private/secret.txt", ""),
        ("dotdot-outside", "read", "/workspace/ro/../../", ""),
        ("symlink-out", "read", "ro/escape-link", ""),
        ("ungranted", "read", "private/secret.txt", ""),
        ("list-root", "list", "/", ""),
        ("write-ro", "write", "ro/data.txt", ""),
        ("create-in-ro", "write", "ro/new.txt", ""),
        ("truncate-ro", "truncate", "ro/data.txt", ""),
        ("rename-ro-to-rw", "rename", "ro/data.txt", "rw/stolen.txt"),
        (
            "hardlink-ro-to-rw",
            "hard-link",
            "ro/data.txt",
            "rw/linked.txt",
        ),
        ("write-via-dotdot", "write", "rw/../ro/data.txt", ""),
        ("env", "env", "", ""),
        ("read-ro", "read", "ro/data.txt", ""),
        ("write-rw", "write", "rw/new.txt", ""),
    ] {
        pipeline.push_str(&stage(name, action, path, to));
    }
    f.ws.write("pipeline.toml", &pipeline);
    let r = f.ws.gantry(&["run", "--no-fail-fast"]);
    assert_eq!(r.code, 0, "{}", r.stderr);

    for refused in [
        "etc-passwd",
        "dotdot",
        "dotdot-outside",
        "symlink-out",
        "ungranted",
        "list-root",
        "write-ro",
        "create-in-ro",
        "truncate-ro",
        "rename-ro-to-rw",
        "hardlink-ro-to-rw",
        "write-via-dotdot",
    ] {
        let res = result(&r, refused);
        assert!(
            res.starts_with("err:"),
            "{refused}: the plugin succeeded: {res}"
        );
    }
    assert!(!result(&r, "etc-passwd").contains("root:"));
    assert_eq!(
        result(&r, "env"),
        "ok:",
        "the plugin saw environment variables"
    );
    // Positive controls: the grants do work.
    assert_eq!(result(&r, "read-ro"), "ok:read-only content");
    assert_eq!(result(&r, "write-rw"), "ok:written");
    assert_eq!(f.ws.read("rw/new.txt"), "pwned by hostile plugin");

    // Nothing outside the write grant changed.
    assert_eq!(f.ws.read("ro/data.txt"), "read-only content");
    assert!(!f.ws.path("ro/new.txt").exists());
    assert!(!f.ws.path("rw/stolen.txt").exists());
    assert!(!f.ws.path("rw/linked.txt").exists());
    assert_eq!(
        std::fs::read_to_string(f.outside.join("secret.txt")).unwrap(),
        "outside the workspace"
    );
    assert_eq!(f.ws.read("private/secret.txt"), "not granted");

    // Each stage's preopens are on record.
    let audit = r.audit();
    let preopens: Vec<&String> = audit
        .iter()
        .filter(|l| l.contains("\"stage\":\"write-ro\"") && l.contains("\"operation\":\"preopen\""))
        .collect();
    assert_eq!(preopens.len(), 2, "{audit:#?}");
    assert!(
        preopens
            .iter()
            .any(|l| l.contains("\"mode\":\"read-only\"") && l.contains("\"path\":\"ro\""))
    );
    assert!(
        preopens
            .iter()
            .any(|l| l.contains("\"mode\":\"read-write\"") && l.contains("\"path\":\"rw\""))
    );
}

/// A grant through a symbolic link (here one that leads outside the workspace) is
/// refused before anything runs, by `check` and by `run`, pointing at the grant. (A
/// link swapped in after that check is refused when the stage starts, and audited:
/// `tests/e2e/attack_fs.rs`.)
#[test]
fn a_grant_through_a_symlink_is_refused_before_anything_runs() {
    let f = fs_fixture();
    let h = pinned(plugins::HOSTILE);
    f.ws.write(
        "pipeline.toml",
        format!(
            "[pipeline]\nname = \"linkgrant\"\n[stage.sneaky]\nplugin = \"{h}\"\nwith = {{ action = \"list\", path = \"linkdir\" }}\ngrants.fs.read = [\"linkdir\"]\n"
        ),
    );
    for cmd in ["check", "run"] {
        let r = f.ws.gantry(&[cmd]);
        assert_eq!(r.code, 2, "{cmd}: {}", r.stderr);
        assert!(
            r.stderr.contains(
                "`linkdir` in grants.fs.read of stage `sneaky` passes through a symbolic link"
            ),
            "{cmd}: {}",
            r.stderr
        );
        assert!(r.stderr.contains("pipeline.toml:6:"), "{cmd}: {}", r.stderr);
    }
    assert!(
        !f.ws.path(".gantry").exists(),
        "no run started, so no records"
    );
}

/// Host-call floods and huge strings across the boundary: a million `log` calls, a
/// log message and field of 64 MiB and of 4 MiB, a finding and a summary of 64 MiB and
/// of 4 MiB, an output of 64 MiB. Each is contained — capped with a marker or refused
/// with a clear reason — the stage logs say so, memory stays bounded, and an unrelated
/// stage finishes.
#[test]
fn log_floods_and_huge_strings_are_bounded() {
    let h = pinned(plugins::HOSTILE);
    let p = pinned(plugins::PROBE);
    let ws = Workspace::new(GANTRY);
    ws.write(
        "pipeline.toml",
        format!(
            r#"
[pipeline]
name = "strings"

[stage.log-flood]
plugin = "{h}"
timeout = "120s"
limits.stdout = "64KiB"
with = {{ action = "log-flood", count = 1000000 }}

[stage.huge-log]
plugin = "{h}"
limits.memory = "512MiB"
with = {{ action = "huge-log" }}

[stage.big-log]
plugin = "{h}"
with = {{ action = "huge-log", count = 4194304 }}

[stage.huge-finding]
plugin = "{h}"
limits.memory = "512MiB"
with = {{ action = "huge-finding" }}

[stage.big-finding]
plugin = "{h}"
with = {{ action = "huge-finding", count = 4194304 }}

[stage.huge-output]
plugin = "{h}"
limits.memory = "512MiB"
with = {{ action = "huge-output" }}

[stage.bystander]
plugin = "{p}"
with = {{ outputs = {{ ran = "yes" }} }}
"#
        ),
    );
    // Peak memory of this one gantry process (wait4), not `RUSAGE_CHILDREN`, which
    // every test of this binary running in parallel shares.
    let (r, rss) = ws.gantry_with_rss(
        &["run", "--no-fail-fast", "--jobs", "2"],
        std::time::Duration::from_secs(600),
    );
    assert_eq!(r.code, 1, "{}", r.stderr);

    // The flood: the host keeps 64 KiB, says so, and the stage completes (or, on a
    // very slow machine, ends by its timeout — never by exhausting the host).
    let flood = r.stage("log-flood");
    let log = r.log("log-flood");
    assert!(
        flood["status"] == "succeeded" || flood["reason"] == "timed out after 2m",
        "{flood}"
    );
    assert!(
        log.contains("log records truncated: more than 65536 bytes; later records dropped"),
        "{}",
        &log[log.len().saturating_sub(500)..]
    );
    assert!(log.len() < 200 * 1024, "flood log is {} bytes", log.len());

    // 64 MiB message + 64 MiB field in one call, and a 64 MiB summary + 64 MiB finding
    // in one report: more than wasmtime copies across the boundary in one call (128 MiB
    // of "hostcall fuel"), so the call traps and the stage fails with that reason.
    for stage in ["huge-log", "huge-finding"] {
        let rec = r.stage(stage);
        assert_eq!(rec["status"], "failed", "{rec}");
        assert!(
            rec["reason"]
                .as_str()
                .unwrap_or_default()
                .contains("too much data is being copied between the host and the guest"),
            "{rec}"
        );
    }

    // A 4 MiB record gets through wasmtime: gantry cuts it to 16 KiB (message) and
    // 4 KiB (field), with a marker.
    assert_eq!(r.stage("big-log")["status"], "succeeded");
    let log = r.log("big-log");
    assert!(log.len() < 64 * 1024, "big-log log is {} bytes", log.len());
    assert!(
        log.contains("…[truncated by gantry: 4177920 bytes dropped]"),
        "message marker: {}",
        &log[log.len().saturating_sub(300)..]
    );
    assert!(
        log.contains("…[truncated by gantry: 4190208 bytes dropped]"),
        "field marker"
    );
    assert!(log.contains("after the huge record"), "later records kept");

    // A 4 MiB finding message and summary: cut to 64 KiB each, noted in the log.
    let finding = r.stage("big-finding");
    assert_eq!(finding["status"], "succeeded", "{finding}");
    assert!(
        r.log("big-finding")
            .contains("report: 2 texts longer than 65536 bytes (fix text: 1048576) were truncated"),
        "{}",
        r.log("big-finding")
    );
    let sarif = r.file("report.sarif");
    assert!(
        sarif.len() < 1 << 20,
        "report.sarif is {} bytes",
        sarif.len()
    );
    assert!(sarif.contains("[truncated by gantry: 4128768 bytes dropped]"));
    assert!(r.file("run.json").len() < 1 << 20);

    // A 64 MiB output: refused, the stage fails with the reason, in its log too.
    let out = r.stage("huge-output");
    assert_eq!(out["status"], "failed");
    let why = "the plugin's report was refused: output `big` is 67108864 bytes, more than 65536";
    assert_eq!(out["reason"], why, "{out}");
    assert!(r.log("huge-output").contains(why));

    assert_eq!(r.output("bystander", "ran"), "yes");
    // Linear memories of the plugins live in gantry's process too; the huge strings
    // are copied a bounded number of times, never accumulated.
    assert!(
        rss < 1536 << 20,
        "a gantry process peaked at {} MiB",
        rss >> 20
    );
}

/// Many resources: 100 000 secret handles and 100 000 open files held at once. Secret
/// handles stop at 1024 with a `denied` error the plugin sees (audited); host resources
/// of any kind stop at 4096 per stage (`MAX_RESOURCES`), which ends the stage with a
/// clear reason before the host runs out of file descriptors. Another stage finishes.
#[test]
fn many_resources_are_bounded_per_stage() {
    let h = pinned(plugins::HOSTILE);
    let p = pinned(plugins::PROBE);
    let ws = Workspace::new(GANTRY);
    ws.write("token.txt", "a-secret-token-value");
    ws.write("ro/data.txt", "x");
    ws.write(
        "pipeline.toml",
        format!(
            r#"
[pipeline]
name = "resources"

[secrets]
TOKEN = {{ file = "token.txt" }}

[stage.handles]
plugin = "{h}"
with = {{ action = "secret-handles", secret = "TOKEN" }}
grants.secrets = ["TOKEN"]

[stage.files]
plugin = "{h}"
with = {{ action = "open-files", path = "ro/data.txt" }}
grants.fs.read = ["ro"]

[stage.bystander]
plugin = "{p}"
with = {{ outputs = {{ ran = "yes" }} }}
"#
        ),
    );
    let r = ws.gantry(&["run", "--no-fail-fast", "--jobs", "2"]);
    assert_eq!(r.code, 1, "{}", r.stderr);

    let handles = r.output("handles", "result");
    assert!(
        handles.starts_with("held:1024:")
            && handles.contains("more than 1024 secret handles held at once"),
        "{handles}"
    );
    let denies: Vec<String> = r
        .audit()
        .into_iter()
        .filter(|l| l.contains(r#""stage":"handles""#) && l.contains(r#""decision":"deny""#))
        .collect();
    assert_eq!(denies.len(), 1, "{denies:#?}");
    assert!(
        denies[0].contains("more than 1024 secret handles"),
        "{}",
        denies[0]
    );

    let files = r.stage("files");
    assert_eq!(files["status"], "failed", "{files}");
    assert_eq!(
        files["reason"],
        "held more than 4096 host resources at once (open files and directories, streams, HTTP requests, secret handles): the per-stage limit",
        "{files}"
    );
    assert!(
        r.log("files")
            .contains("resource table is full (4096 entries)"),
        "{}",
        r.log("files")
    );
    assert_eq!(r.output("bystander", "ran"), "yes");
}
