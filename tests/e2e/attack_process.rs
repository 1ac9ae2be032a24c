//! The `process` capability against a plugin that tries everything
//! (`tests/plugins/proc-probe`): commands that are not granted, arguments outside the
//! globs, shells, paths instead of names, environment it may not set, working
//! directories outside the workspace, commands that never end or never stop talking.
//! Each refusal is what a user would notice: the plugin gets `denied` naming the grant
//! that would allow it, `audit.jsonl` has the line, the other stages finish, nothing
//! outside the grants changes. The positive controls show that granted commands run,
//! with a scrubbed environment, are journaled, and are planned (not run) in dry-run.

use std::collections::BTreeSet;
use std::path::Path;

use gantry_test_plugins::{Run, Workspace, pinned, plugins, snapshot};

const GANTRY: &str = env!("CARGO_BIN_EXE_gantry");

fn result(r: &Run, stage: &str) -> String {
    r.output(stage, "result")
}

/// `[stage.NAME]` running proc-probe with `with` (inline TOML table body) and `grants`
/// (the TOML value of `grants.process`).
fn stage(plugin: &str, name: &str, with: &str, grants: &str) -> String {
    format!(
        "[stage.{name}]\nplugin = \"{plugin}\"\nwith = {{ {with} }}\ngrants.process = {grants}\n\n"
    )
}

/// The deny lines of `audit.jsonl` for `stage`, parsed.
fn denials(r: &Run, stage: &str) -> Vec<serde_json::Value> {
    r.audit()
        .iter()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).expect("audit line is JSON"))
        .filter(|v| v["stage"] == stage && v["capability"] == "process" && v["decision"] == "deny")
        .collect()
}

/// A refused call: the plugin got `denied` with the stage, the capability, and the
/// grant text; the audit log has the same refusal.
fn assert_denied(r: &Run, stage: &str, must_contain: &[&str]) -> String {
    let res = result(r, stage);
    assert!(
        res.starts_with("denied:"),
        "{stage}: expected a denial, got {res}"
    );
    assert!(
        res.contains(&format!("stage `{stage}`")),
        "{stage}: the message names the stage: {res}"
    );
    assert!(res.contains("process run refused"), "{stage}: {res}");
    for s in must_contain {
        assert!(
            res.contains(s),
            "{stage}: the message should contain {s:?}: {res}"
        );
    }
    let audit = denials(r, stage);
    assert_eq!(
        audit.len(),
        1,
        "{stage}: one deny line in audit.jsonl: {audit:#?}"
    );
    assert_eq!(audit[0]["operation"], "run");
    let reason = audit[0]["reason"].as_str().unwrap_or_default();
    assert_eq!(
        format!("denied:{reason}"),
        res,
        "{stage}: the audit reason is what the plugin was told"
    );
    res
}

#[test]
fn refusals_are_denied_with_the_grant_audited_and_the_pipeline_goes_on() {
    let pp = pinned(plugins::PROC_PROBE);
    let probe = pinned(plugins::PROBE);
    let ws = Workspace::new(GANTRY);
    ws.write("src/main.rs", "fn main() {}\n");
    ws.write("sub/keep.txt", "keep");
    let outside = ws.root.with_extension("outside");
    std::fs::create_dir_all(&outside).expect("mkdir outside");
    std::fs::write(outside.join("secret.txt"), "outside the workspace").expect("write outside");
    std::os::unix::fs::symlink(&outside, ws.path("linkdir")).expect("symlink");

    ws.write("sub/logs.txt/today", "log");
    let escape = format!(
        r#"program = "cat", args = ["sub/logs.txt/../../../{}/secret.txt"]"#,
        outside.file_name().and_then(|n| n.to_str()).expect("name")
    );
    let echo = r#"[{ cmd = "echo", args = ["hello", "w*"] }]"#;
    let mut p = String::from("[pipeline]\nname = \"process-attacks\"\n\n");
    for (name, with, grants) in [
        (
            "not-listed",
            r#"program = "cat", args = ["/etc/passwd"]"#,
            echo,
        ),
        (
            "bad-arg",
            r#"program = "echo", args = ["hello", "evil"]"#,
            echo,
        ),
        (
            "extra-arg",
            r#"program = "echo", args = ["hello", "world", "--and-more"]"#,
            echo,
        ),
        ("missing-arg", r#"program = "echo", args = ["hello"]"#, echo),
        (
            "sh-c",
            r#"program = "sh", args = ["-c", "echo pwned > pwned.txt"]"#,
            echo,
        ),
        (
            "dotdot-path",
            r#"program = "../bin/sh", args = ["-c", "id"]"#,
            r#"[{ cmd = "sh", args = ["-c", "id"] }]"#,
        ),
        (
            "absolute-path",
            r#"program = "/bin/sh", args = ["-c", "id"]"#,
            r#"[{ cmd = "sh", args = ["-c", "id"] }]"#,
        ),
        (
            "dot-slash",
            r#"program = "./echo", args = ["hello", "world"]"#,
            echo,
        ),
        ("dotdot-name", r#"program = "..""#, echo),
        (
            "env-not-granted",
            r#"program = "echo", args = ["hello", "world"], env = { RUST_LOG = "trace" }"#,
            echo,
        ),
        (
            "env-preload",
            r#"program = "echo", args = ["hello", "world"], env = { LD_PRELOAD = "/tmp/evil.so" }"#,
            r#"[{ cmd = "echo", args = ["hello", "world"], env = ["RUST_LOG"] }]"#,
        ),
        (
            "cwd-dotdot",
            r#"program = "pwd", cwd = "..""#,
            r#"[{ cmd = "pwd" }]"#,
        ),
        (
            "cwd-inner-dotdot",
            r#"program = "pwd", cwd = "sub/../../x""#,
            r#"[{ cmd = "pwd" }]"#,
        ),
        (
            "cwd-absolute",
            r#"program = "pwd", cwd = "/tmp""#,
            r#"[{ cmd = "pwd" }]"#,
        ),
        (
            "cwd-symlink",
            r#"program = "pwd", cwd = "linkdir""#,
            r#"[{ cmd = "pwd" }]"#,
        ),
        (
            "no-grant-at-all",
            r#"program = "echo", args = ["hello", "world"]"#,
            "[]",
        ),
        // A path glob's wildcard standing for `..`: `cat` would print the file
        // outside the workspace (`sub/logs.txt` is a directory).
        (
            "glob-dotdot",
            escape.as_str(),
            r#"[{ cmd = "cat", args = ["sub/*.txt*"] }]"#,
        ),
        // Positive control, in the same pipeline.
        (
            "works",
            r#"program = "echo", args = ["hello", "world"]"#,
            echo,
        ),
    ] {
        p.push_str(&stage(&pp, name, with, grants));
    }
    // Too much for the host to accept: `invalid`, before anything is matched.
    let many: Vec<String> = (0..1100).map(|i| format!("\"{i}\"")).collect();
    p.push_str(&stage(
        &pp,
        "too-many-args",
        &format!("program = \"echo\", args = [{}]", many.join(", ")),
        echo,
    ));
    // A stage that needs the refused ones still runs: refusals are data, not crashes.
    p.push_str(&format!(
        "[stage.bystander]\nplugin = \"{probe}\"\nneeds = [\"sh-c\", \"absolute-path\", \"cwd-symlink\"]\nwith = {{ outputs = {{ ran = \"yes\" }} }}\n"
    ));
    ws.write("pipeline.toml", &p);

    let before = snapshot(&ws.root);
    let outside_before = snapshot(&outside);
    let r = ws.gantry(&["run", "--no-fail-fast", "--jobs", "2"]);
    assert_eq!(r.code, 0, "{}", r.stderr);

    assert_denied(
        &r,
        "not-listed",
        &[
            "command `cat` is not granted (granted: `echo`)",
            r#"grants.process = [{ cmd = "cat", args = ["/etc/passwd"] }]"#,
        ],
    );
    assert!(!result(&r, "not-listed").contains("root:"));
    for (stage, args) in [
        ("bad-arg", r#"["hello", "evil"]"#),
        ("extra-arg", r#"["hello", "world", "--and-more"]"#),
        ("missing-arg", r#"["hello"]"#),
    ] {
        assert_denied(
            &r,
            stage,
            &[
                "arguments of `echo` are outside the grant",
                &format!(r#"grants.process = [{{ cmd = "echo", args = {args} }}]"#),
            ],
        );
    }
    assert!(
        result(&r, "bad-arg").contains("evil"),
        "names the argument: {}",
        result(&r, "bad-arg")
    );
    assert_denied(
        &r,
        "glob-dotdot",
        &[
            "arguments of `cat` are outside the grant",
            "matches `sub/*.txt*` only through `..`",
        ],
    );
    assert!(!result(&r, "glob-dotdot").contains("outside the workspace"));
    assert_denied(
        &r,
        "sh-c",
        &[
            "command `sh` is not granted",
            r#"grants.process = [{ cmd = "sh", args = ["-c", "echo pwned > pwned.txt"] }]"#,
        ],
    );
    for (stage, path) in [
        ("dotdot-path", "../bin/sh"),
        ("absolute-path", "/bin/sh"),
        ("dot-slash", "./echo"),
        ("dotdot-name", ".."),
    ] {
        assert_denied(&r, stage, &[&format!("`{path}` is a path")]);
    }
    assert_denied(
        &r,
        "absolute-path",
        &[
            r#"grants.process = [{ cmd = "sh", args = ["-c", "id"] }], and call it by its name `sh`"#,
        ],
    );
    assert_denied(
        &r,
        "env-not-granted",
        &[
            "environment variable `RUST_LOG` is not in the `env` of the grant for `echo`",
            r#"grants.process = [{ cmd = "echo", args = ["hello", "world"], env = ["RUST_LOG"] }]"#,
        ],
    );
    // No grant can allow this one, and the message says so instead of suggesting it.
    let preload = assert_denied(&r, "env-preload", &["`LD_PRELOAD` cannot be granted"]);
    assert!(!preload.contains(r#"env = ["LD_PRELOAD"]"#), "{preload}");
    for stage in ["cwd-dotdot", "cwd-inner-dotdot", "cwd-absolute"] {
        assert_denied(&r, stage, &["working directory"]);
    }
    assert_denied(
        &r,
        "cwd-symlink",
        &["working directory `linkdir` resolves outside the workspace"],
    );
    assert_denied(
        &r,
        "no-grant-at-all",
        &[
            "the stage grants no commands",
            r#"grants.process = [{ cmd = "echo", args = ["hello", "world"] }]"#,
        ],
    );

    let invalid = result(&r, "too-many-args");
    assert!(
        invalid.starts_with("err:invalid:") && invalid.contains("1100 arguments, more than 1024"),
        "{invalid}"
    );

    // The positive control and the bystander ran.
    assert_eq!(result(&r, "works"), "ok:0:hello world");
    assert_eq!(r.output("bystander", "ran"), "yes");
    for s in ["not-listed", "sh-c", "cwd-symlink", "works", "bystander"] {
        assert_eq!(r.stage(s)["status"], "succeeded", "{s}: {}", r.stage(s));
    }

    // Nothing changed: no `pwned.txt`, nothing outside the workspace.
    assert!(!ws.path("pwned.txt").exists());
    assert_eq!(snapshot(&ws.root), before, "the workspace changed");
    assert_eq!(
        snapshot(&outside),
        outside_before,
        "files outside the workspace changed"
    );
    let _ = std::fs::remove_dir_all(&outside);
}

#[test]
fn granted_commands_run_with_a_scrubbed_environment_inside_the_workspace() {
    let pp = pinned(plugins::PROC_PROBE);
    let ws = Workspace::new(GANTRY);
    ws.write("sub/dir/file.txt", "x");
    let mut p = String::from("[pipeline]\nname = \"process-ok\"\n\n");
    p.push_str(&stage(
        &pp,
        "echo",
        r#"program = "echo", args = ["hello"]"#,
        r#"[{ cmd = "echo", args = ["hello"] }]"#,
    ));
    p.push_str(&stage(
        &pp,
        "env",
        r#"program = "env", env = { GREETING = "hi there" }"#,
        r#"[{ cmd = "env", env = ["GREETING"] }]"#,
    ));
    p.push_str(&stage(
        &pp,
        "pwd",
        r#"program = "pwd", cwd = "./sub/dir/""#,
        r#"[{ cmd = "pwd", read-only = true }]"#,
    ));
    p.push_str(&stage(
        &pp,
        "stdin",
        r#"program = "cat", stdin = "piped in""#,
        r#"[{ cmd = "cat" }]"#,
    ));
    p.push_str(&stage(
        &pp,
        "exit-code",
        r#"program = "ls", args = ["no-such-file"]"#,
        r#"[{ cmd = "ls", args = ["no-such-file"] }]"#,
    ));
    p.push_str(&stage(
        &pp,
        "not-on-path",
        r#"program = "gantry-no-such-command""#,
        r#"[{ cmd = "gantry-no-such-command" }]"#,
    ));
    ws.write("pipeline.toml", &p);
    let r = ws.gantry_env(
        &["run", "--jobs", "2"],
        &[("GANTRY_TEST_LEAK", "1"), ("GREETING", "from gantry")],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);

    assert_eq!(result(&r, "echo"), "ok:0:hello");

    // Only PATH, HOME and the variable the plugin passed (not gantry's own value of it).
    let env = r.output("env", "stdout");
    let vars: BTreeSet<&str> = env
        .lines()
        .filter_map(|l| l.split_once('=').map(|(k, _)| k))
        .collect();
    assert_eq!(vars, BTreeSet::from(["GREETING", "HOME", "PATH"]), "{env}");
    assert!(env.lines().any(|l| l == "GREETING=hi there"), "{env}");
    assert!(
        !env.contains("GANTRY_TEST_LEAK") && !env.contains("from gantry"),
        "{env}"
    );
    let home = env
        .lines()
        .find_map(|l| l.strip_prefix("HOME="))
        .expect("HOME");
    assert_ne!(
        Some(home.to_string()),
        std::env::var("HOME").ok(),
        "HOME is not the user's"
    );
    assert!(
        !Path::new(home).starts_with(&ws.root),
        "HOME is not in the workspace: {home}"
    );
    assert!(
        !Path::new(home).exists(),
        "the private HOME is removed afterwards: {home}"
    );

    let pwd = r.output("pwd", "stdout");
    assert_eq!(pwd.trim_end(), ws.path("sub/dir").display().to_string());
    assert_eq!(result(&r, "stdin"), "ok:0:piped in");
    let code = result(&r, "exit-code");
    assert!(
        code.starts_with("ok:") && !code.starts_with("ok:0:"),
        "a failing command is an answer, not an error: {code}"
    );
    assert!(r.output("exit-code", "stderr").contains("no-such-file"));
    let nf = result(&r, "not-on-path");
    assert!(
        nf.starts_with("err:not found:") && nf.contains("not found on gantry's PATH"),
        "{nf}"
    );

    // Audited with the resolved absolute path.
    let allow: Vec<serde_json::Value> = r
        .audit()
        .iter()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).expect("JSON line"))
        .filter(|v| {
            v["stage"] == "echo" && v["capability"] == "process" && v["decision"] == "allow"
        })
        .collect();
    assert_eq!(allow.len(), 1, "{allow:#?}");
    let path = allow[0]["detail"]["path"].as_str().expect("resolved path");
    assert!(path.starts_with('/') && path.ends_with("/echo"), "{path}");
    assert_eq!(allow[0]["detail"]["args"], serde_json::json!(["hello"]));

    // Journal: intent (fsynced first) and done with the exit status, never the output.
    let journal: Vec<serde_json::Value> = r
        .file("journal.jsonl")
        .lines()
        .map(|l| serde_json::from_str(l).expect("JSON line"))
        .collect();
    let intent = journal
        .iter()
        .find(|v| v["stage"] == "echo" && v["phase"] == "intent" && v["capability"] == "process")
        .unwrap_or_else(|| panic!("intent for echo: {journal:#?}"));
    let done = journal
        .iter()
        .find(|v| v["stage"] == "echo" && v["phase"] == "done" && v["seq"] == intent["seq"])
        .unwrap_or_else(|| panic!("done for echo: {journal:#?}"));
    assert_eq!(done["result"]["status"], 0);
    assert!(
        !done.to_string().contains("hello\\n"),
        "the journal does not hold output: {done}"
    );
    // A read-only grant is not an effect: nothing journaled.
    assert!(!journal.iter().any(|v| v["stage"] == "pwd"), "{journal:#?}");
}

/// Live processes (not zombies) whose command line contains `marker`.
fn alive_with(marker: &str) -> Vec<String> {
    let mut found = Vec::new();
    for e in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let dir = e.path();
        let Ok(cmdline) = std::fs::read(dir.join("cmdline")) else {
            continue;
        };
        let cmdline = String::from_utf8_lossy(&cmdline).replace('\0', " ");
        if !cmdline.contains(marker) {
            continue;
        }
        let stat = std::fs::read_to_string(dir.join("stat")).unwrap_or_default();
        let state = stat
            .rsplit_once(") ")
            .map(|(_, rest)| rest.chars().next().unwrap_or('?'));
        if !matches!(state, Some('Z') | Some('X') | None) {
            found.push(format!("{}: {cmdline}", dir.display()));
        }
    }
    found
}

#[test]
fn a_command_that_runs_too_long_is_killed_with_its_children() {
    let pp = pinned(plugins::PROC_PROBE);
    let ws = Workspace::new(GANTRY);
    let mut p = String::from("[pipeline]\nname = \"process-timeout\"\n\n");
    p.push_str(&stage(
        &pp,
        "sleep",
        r#"program = "sleep", args = ["30"]"#,
        r#"[{ cmd = "sleep", args = ["30"], timeout = "1s" }]"#,
    ));
    // The plugin may ask for less than the grant.
    p.push_str(&stage(
        &pp,
        "shorter",
        r#"program = "sleep", args = ["30"], timeout-ms = 300"#,
        r#"[{ cmd = "sleep", args = ["30"], timeout = "1m" }]"#,
    ));
    // Children (and grandchildren) of the command die with it.
    p.push_str(&stage(
        &pp,
        "family",
        r#"program = "sh", args = ["-c", "sleep 31.4159 & (sleep 32.7183 &) ; sleep 33.1416; echo never"]"#,
        r#"[{ cmd = "sh", args = ["-c", "sleep 31.4159 & (sleep 32.7183 &) ; sleep 33.1416; echo never"], timeout = "1s" }]"#,
    ));
    p.push_str("[stage.after]\nplugin = \"");
    p.push_str(&pp);
    p.push_str("\"\nneeds = [\"sleep\", \"family\"]\nwith = { program = \"echo\", args = [\"still here\"] }\ngrants.process = [{ cmd = \"echo\", args = [\"still here\"] }]\n");
    ws.write("pipeline.toml", &p);

    let start = std::time::Instant::now();
    let r = ws.gantry(&["run", "--jobs", "3"]);
    let took = start.elapsed();
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(took.as_secs() < 20, "took {took:?}");

    for s in ["sleep", "shorter", "family"] {
        assert_eq!(result(&r, s), "ok:none:", "{s}");
        assert_eq!(r.output(s, "timed-out"), "true", "{s}");
        assert_eq!(r.output(s, "status"), "none", "{s}");
    }
    let ms = |s: &str| {
        r.output(s, "elapsed-ms")
            .parse::<u64>()
            .expect("elapsed-ms")
    };
    assert!(
        (900..5000).contains(&ms("sleep")),
        "sleep took {} ms",
        ms("sleep")
    );
    assert!(
        ms("shorter") < 1000,
        "the shorter timeout applies: {} ms",
        ms("shorter")
    );
    assert!(
        r.log("sleep").contains("process `sleep`: killed after 1s"),
        "{}",
        r.log("sleep")
    );

    for marker in ["sleep 31.4159", "sleep 32.7183", "sleep 33.1416"] {
        assert_eq!(
            alive_with(marker),
            Vec::<String>::new(),
            "{marker} outlived its timeout"
        );
    }
    assert_eq!(result(&r, "after"), "ok:0:still here");
}

#[test]
fn fail_fast_kills_a_command_in_flight() {
    let pp = pinned(plugins::PROC_PROBE);
    let probe = pinned(plugins::PROBE);
    let ws = Workspace::new(GANTRY);
    let mut p = String::from("[pipeline]\nname = \"process-cancel\"\n\n");
    p.push_str(&stage(
        &pp,
        "long",
        r#"program = "sleep", args = ["34.5678"]"#,
        r#"[{ cmd = "sleep", args = ["34.5678"], timeout = "1m" }]"#,
    ));
    p.push_str(&format!(
        "[stage.boom]\nplugin = \"{probe}\"\nwith = {{ spin-ms = 500, error = \"boom\" }}\n"
    ));
    ws.write("pipeline.toml", &p);
    let start = std::time::Instant::now();
    let r = ws.gantry(&["run", "--jobs", "2"]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    // The host call does not hold the run hostage: the stage's cancellation reaches it.
    assert!(start.elapsed().as_secs() < 20, "took {:?}", start.elapsed());
    assert_eq!(r.stage("boom")["status"], "failed");
    assert_ne!(
        r.stage("long")["status"],
        "succeeded",
        "{}",
        r.stage("long")
    );
    assert_eq!(
        alive_with("sleep 34.5678"),
        Vec::<String>::new(),
        "the command outlived the cancelled stage"
    );
}

#[test]
fn output_is_capped_per_stream_and_the_command_still_finishes() {
    let pp = pinned(plugins::PROC_PROBE);
    let ws = Workspace::new(GANTRY);
    let mut p = String::from("[pipeline]\nname = \"process-output\"\n\n");
    // ~1.3 MB of output against a 1 KiB cap: read and discarded, so `seq` is never blocked.
    p.push_str(&stage(
        &pp,
        "flood",
        r#"program = "seq", args = ["1", "200000"]"#,
        r#"[{ cmd = "seq", args = ["1", "200000"], output = "1KiB", timeout = "30s" }]"#,
    ));
    ws.write("pipeline.toml", &p);
    let r = ws.gantry(&["run"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(r.output("flood", "status"), "0", "seq ran to its end");
    assert_eq!(r.output("flood", "stdout-bytes"), "1024");
    assert_eq!(r.output("flood", "truncated"), "true");
    assert_eq!(r.output("flood", "timed-out"), "false");
    assert!(
        result(&r, "flood").starts_with("ok:0:1\n2\n3"),
        "{}",
        result(&r, "flood")
    );
    let log = r.log("flood");
    assert!(
        log.contains("stdout truncated: kept the first 1024 bytes, dropped 1287871 bytes"),
        "{log}"
    );
}

#[test]
fn dry_run_plans_mutating_commands_and_runs_read_only_ones() {
    let pp = pinned(plugins::PROC_PROBE);
    let ws = Workspace::new(GANTRY);
    let mut p = String::from("[pipeline]\nname = \"process-dry-run\"\n\n");
    p.push_str(&stage(
        &pp,
        "touch",
        r#"program = "touch", args = ["x"]"#,
        r#"[{ cmd = "touch", args = ["x"] }]"#,
    ));
    p.push_str(&stage(
        &pp,
        "look",
        r#"program = "echo", args = ["read", "only"]"#,
        r#"[{ cmd = "echo", args = ["read", "only"], read-only = true }]"#,
    ));
    ws.write("pipeline.toml", &p);

    let r = ws.gantry(&["run", "--dry-run"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(!ws.path("x").exists(), "dry-run created x");
    assert_eq!(result(&r, "touch"), "ok:0:");
    assert_eq!(r.output("touch", "dry-run"), "true");
    assert_eq!(
        result(&r, "look"),
        "ok:0:read only",
        "a read-only grant runs in dry-run"
    );
    assert_eq!(r.output("look", "dry-run"), "false");
    let plan: serde_json::Value = serde_json::from_str(&r.file("plan.json")).expect("plan.json");
    let effects = plan["effects"].as_array().expect("effects");
    let touch: Vec<&serde_json::Value> = effects
        .iter()
        .filter(|e| e["capability"] == "process")
        .collect();
    assert_eq!(touch.len(), 1, "{plan:#}");
    assert_eq!(touch[0]["stage"], "touch");
    assert_eq!(touch[0]["detail"]["program"], "touch");
    assert_eq!(touch[0]["detail"]["args"], serde_json::json!(["x"]));
    assert!(
        touch[0]["detail"]["path"]
            .as_str()
            .unwrap_or_default()
            .ends_with("/touch")
    );

    // The same pipeline for real: x is created, and the journal says so first.
    let r = ws.gantry(&["run"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(ws.path("x").exists());
    assert_eq!(r.output("touch", "dry-run"), "false");
    let journal = r.file("journal.jsonl");
    let phases: Vec<String> = journal
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).expect("JSON line"))
        .filter(|v| v["stage"] == "touch")
        .map(|v| v["phase"].as_str().unwrap_or_default().to_string())
        .collect();
    assert_eq!(phases, ["intent", "done"], "{journal}");
}
