//! The `process` capability against a plugin that tries everything
//! (`tests/plugins/proc-probe`): commands that are not granted, arguments outside the
//! globs, shells, paths instead of names, environment it may not set, working
//! directories outside the workspace, commands that never end or never stop talking.
//! Each refusal is what a user would notice: the plugin gets `denied` naming the grant
//! that would allow it, `audit.jsonl` has the line, the other stages finish, nothing
//! outside the grants changes. The positive controls show that granted commands run,
//! with a scrubbed environment, are journaled, and are planned (not run) in dry-run.
//!
//! Then what a granted command does once it runs (issue 13): every command runs in an
//! OS sandbox (bubblewrap), so a plugin that plants `core.fsmonitor` in a `.git/config`
//! it may write gets its code run only inside that sandbox — read-only workspace,
//! writes only where `grants.fs.write` allows (nowhere for a `read-only` grant), no
//! network, no `/etc/shadow`, no `$HOME`, no run records, no capabilities as root,
//! nothing alive after the call; and without bubblewrap nothing runs at all.
//!
//! Time is only a hang watchdog here ([`gantry_within`]): assertions are on statuses,
//! outputs and the host's log lines.

use std::collections::BTreeSet;
use std::path::Path;
use std::time::Duration;

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

/// Runs `gantry ARGS` with extra environment, killing it (and failing the test) if it
/// is still running after `limit`: a hang watchdog, not a measurement.
fn gantry_within(ws: &Workspace, args: &[&str], env: &[(&str, &str)], limit: Duration) -> Run {
    let mut cmd = ws.command(args);
    for (k, v) in env {
        cmd.env(k, v);
    }
    let child = cmd
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("start gantry");
    let pid = child.id();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(child.wait_with_output());
    });
    match rx.recv_timeout(limit) {
        Ok(out) => Run::from_output(out.expect("wait for gantry"), &ws.root),
        Err(_) => {
            let _ = std::process::Command::new("kill")
                .args(["-KILL", &pid.to_string()])
                .status();
            panic!("gantry {args:?} hung for more than {limit:?}");
        }
    }
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
        // A wildcard never stands for an option, an absolute path or `..` (issue 13:
        // `sort *` took `--output=<outside>`, `cat *.txt` took `/…` and `../`).
        (
            "sort-output",
            r#"program = "sort", args = ["--output=/tmp/gantry-sort-pwned"]"#,
            r#"[{ cmd = "sort", args = ["*"] }]"#,
        ),
        (
            "cat-absolute",
            r#"program = "cat", args = ["/etc/x.txt"]"#,
            r#"[{ cmd = "cat", args = ["*.txt"] }]"#,
        ),
        (
            "cat-dotdot",
            r#"program = "cat", args = ["../x.txt"]"#,
            r#"[{ cmd = "cat", args = ["*.txt"] }]"#,
        ),
        (
            "env-git-config",
            r#"program = "echo", args = ["hello", "world"], env = { GIT_CONFIG_PARAMETERS = "'core.fsmonitor=touch /tmp/x'" }"#,
            echo,
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
        "sort-output",
        &["argument 1 `--output=/tmp/gantry-sort-pwned` matches `*` only through a leading `-`"],
    );
    assert!(!Path::new("/tmp/gantry-sort-pwned").exists());
    assert_denied(
        &r,
        "cat-absolute",
        &["argument 1 `/etc/x.txt` matches `*.txt` only through an absolute path"],
    );
    assert_denied(
        &r,
        "cat-dotdot",
        &["argument 1 `../x.txt` matches `*.txt` only through `..`"],
    );
    // A variable that chooses the tool's configuration: no grant can allow it.
    let git_config = assert_denied(
        &r,
        "env-git-config",
        &["`GIT_CONFIG_PARAMETERS` cannot be granted"],
    );
    assert!(!git_config.contains("env = ["), "{git_config}");
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

    // Only PATH, HOME, the variable the plugin passed (not gantry's own value of it),
    // and PWD, which the sandbox sets to the working directory.
    let env = r.output("env", "stdout");
    let vars: BTreeSet<&str> = env
        .lines()
        .filter_map(|l| l.split_once('=').map(|(k, _)| k))
        .collect();
    assert_eq!(
        vars,
        BTreeSet::from(["GREETING", "HOME", "PATH", "PWD"]),
        "{env}"
    );
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
    assert_eq!(home, "/tmp/home", "the sandbox's private HOME");

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

    let r = gantry_within(&ws, &["run", "--jobs", "3"], &[], Duration::from_secs(120));
    assert_eq!(r.code, 0, "{}", r.stderr);

    for s in ["sleep", "shorter", "family"] {
        assert_eq!(result(&r, s), "ok:none:", "{s}");
        assert_eq!(r.output(s, "timed-out"), "true", "{s}");
        assert_eq!(r.output(s, "status"), "none", "{s}");
    }
    // Which timeout applied, from the host's own line (not from a clock).
    assert!(
        r.log("sleep")
            .contains("process `sleep`: killed after 1s (its timeout"),
        "{}",
        r.log("sleep")
    );
    assert!(
        r.log("shorter")
            .contains("process `sleep`: killed after 300ms (its timeout"),
        "the plugin's shorter timeout applies: {}",
        r.log("shorter")
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
    let r = gantry_within(&ws, &["run", "--jobs", "2"], &[], Duration::from_secs(120));
    assert_eq!(r.code, 1, "{}", r.stderr);
    // The host call does not hold the run hostage: the stage's cancellation reaches
    // the command, which the host says it killed (it would otherwise sleep 34 s and
    // exit 0).
    assert!(
        r.log("long")
            .contains("process `sleep`: failed: `sleep` was killed: the stage was cancelled"),
        "{}",
        r.log("long")
    );
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
    // The sandbox lets `touch` write only where the stage may write: `out`.
    p.push_str(
        &stage(
            &pp,
            "touch",
            r#"program = "touch", args = ["out/x"]"#,
            r#"[{ cmd = "touch", args = ["out/x"] }]"#,
        )
        .replace(
            "grants.process",
            "grants.fs.write = [\"out\"]\ngrants.process",
        ),
    );
    p.push_str(&stage(
        &pp,
        "look",
        r#"program = "echo", args = ["read", "only"]"#,
        r#"[{ cmd = "echo", args = ["read", "only"], read-only = true }]"#,
    ));
    ws.write("pipeline.toml", &p);

    let r = ws.gantry(&["run", "--dry-run"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(!ws.path("out/x").exists(), "dry-run created x");
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
    assert_eq!(touch[0]["detail"]["args"], serde_json::json!(["out/x"]));
    assert!(
        touch[0]["detail"]["path"]
            .as_str()
            .unwrap_or_default()
            .ends_with("/touch")
    );

    // The same pipeline for real: x is created, and the journal says so first.
    let r = ws.gantry(&["run"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(ws.path("out/x").exists());
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

// --- The sandbox (issue 13, class 1) ------------------------------------------------

/// The attack of issue 13: a stage may write `dist` and run the README's "safe"
/// `git status --short`. The plugin plants `dist/.git/config` with `core.fsmonitor`
/// set to a script and runs `git status` in `dist`. Git runs the script — inside the
/// sandbox, where it cannot write the workspace (nor, with `read-only = true`, even
/// `dist`), cannot reach anything outside, and leaves nothing alive behind.
#[test]
fn a_planted_fsmonitor_hook_runs_only_inside_the_sandbox() {
    let pp = pinned(plugins::PROC_PROBE);
    let ws = Workspace::new(GANTRY);
    ws.write("src/lib.rs", "// source\n");
    let outside = ws.root.with_extension("outside");
    std::fs::create_dir_all(&outside).expect("mkdir outside");
    let marker = format!(
        "gantry-fsmonitor-{}",
        ws.root.file_name().and_then(|n| n.to_str()).expect("name")
    );
    let root = ws.root.display().to_string();
    // Each target: `WROTE path` or `REFUSED path` on the hook's stderr, which git passes
    // on. No double quotes, `;` or `#` outside them: git config syntax. The survivor's
    // output goes nowhere, so git does not wait for it.
    let hook = |dir: &str| {
        format!(
            "for t in {root}/pwned-root {root}/{dir}/pwned-{dir} {out}/pwned-outside /tmp/{marker} $HOME/pwned-home; do if echo x > $t 2>/dev/null; then echo WROTE $t >&2; else echo REFUSED $t >&2; fi; done; setsid sh -c 'sleep 61.2345 & sleep 61.2346' </dev/null >/dev/null 2>&1 & cat /etc/shadow >&2; ls {root}/.gantry/runs >&2; true",
            out = outside.display()
        )
    };
    let plant = |dir: &str| {
        format!(
            r#"write = {{ "{dir}/.git/HEAD" = "ref: refs/heads/main\n", "{dir}/.git/objects/" = "", "{dir}/.git/refs/" = "", "{dir}/.git/config" = "[core]\n\trepositoryformatversion = 0\n\tfsmonitor = \"{}\"\n" }}"#,
            hook(dir).replace('\\', "\\\\").replace('"', "\\\"")
        )
    };
    let mut p = String::from("[pipeline]\nname = \"fsmonitor\"\n\n");
    // The README's grant, read-only: the sandbox makes everything read-only.
    p.push_str(&format!(
        "[stage.readonly]\nplugin = \"{pp}\"\nwith = {{ program = \"git\", args = [\"status\", \"--short\"], cwd = \"dist\", {} }}\ngrants.fs.write = [\"dist\"]\ngrants.process = [{{ cmd = \"git\", args = [\"status\", \"--short\"], read-only = true }}]\n\n",
        plant("dist")
    ));
    // Not read-only: the hook may write where the stage may write, and nowhere else.
    p.push_str(&format!(
        "[stage.writable]\nplugin = \"{pp}\"\nneeds = [\"readonly\"]\nwith = {{ program = \"git\", args = [\"status\", \"--short\"], cwd = \"out\", {} }}\ngrants.fs.write = [\"out\"]\ngrants.process = [{{ cmd = \"git\", args = [\"status\", \"--short\"] }}]\n\n",
        plant("out")
    ));
    ws.write("pipeline.toml", &p);
    let outside_before = snapshot(&outside);

    let r = gantry_within(&ws, &["run"], &[], Duration::from_secs(120));
    assert_eq!(r.code, 0, "{}", r.stderr);

    for stage in ["readonly", "writable"] {
        let res = result(&r, stage);
        assert!(res.starts_with("ok:"), "{stage}: git ran: {res}");
        let err = r.output(stage, "stderr");
        assert!(
            err.contains(&format!("REFUSED {root}/pwned-root")),
            "{stage}: the hook ran and could not write the workspace root:\n{err}"
        );
        assert!(
            err.contains(&format!("REFUSED {}/pwned-outside", outside.display())),
            "{stage}: nor outside the workspace:\n{err}"
        );
        assert!(
            err.contains(&format!("WROTE /tmp/{marker}")),
            "{stage}: /tmp is the sandbox's own:\n{err}"
        );
        assert!(
            err.contains("cat: /etc/shadow: No such file or directory")
                && !err.lines().any(|l| l.starts_with("root:")),
            "{stage}: no /etc/shadow:\n{err}"
        );
        assert!(
            !err.contains(".gantry/runs") || err.contains("No such file"),
            "{stage}: no run records:\n{err}"
        );
    }
    assert!(
        r.output("readonly", "stderr")
            .contains(&format!("REFUSED {root}/dist/pwned-dist")),
        "read-only means the sandbox refuses writes to the write grant too:\n{}",
        r.output("readonly", "stderr")
    );
    assert!(
        r.output("writable", "stderr")
            .contains(&format!("WROTE {root}/out/pwned-out")),
        "a grant that is not read-only writes where the stage may write:\n{}",
        r.output("writable", "stderr")
    );

    // On the host: nothing but what the grants allow.
    assert!(!ws.path("pwned-root").exists());
    assert!(!ws.path("dist/pwned-dist").exists());
    assert!(ws.path("out/pwned-out").exists());
    assert!(!Path::new(&format!("/tmp/{marker}")).exists());
    assert_eq!(
        snapshot(&outside),
        outside_before,
        "outside the workspace changed"
    );
    // Nothing the hook started outlives gantry.
    for m in ["sleep 61.2345", "sleep 61.2346"] {
        assert_eq!(alive_with(m), Vec::<String>::new(), "{m} survived");
    }

    // audit.jsonl: the allowed call names its sandbox: the workspace read-only, and for
    // the read-only grant no writable directory at all.
    let allow: Vec<serde_json::Value> = r
        .audit()
        .iter()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).expect("JSON line"))
        .filter(|v| v["capability"] == "process" && v["decision"] == "allow")
        .collect();
    let sandbox_of = |stage: &str| -> Vec<String> {
        let line = allow
            .iter()
            .find(|v| v["stage"] == stage)
            .unwrap_or_else(|| panic!("allow line of {stage}: {allow:#?}"));
        line["detail"]["sandbox"]
            .as_array()
            .expect("sandbox detail")
            .iter()
            .filter_map(|x| x.as_str().map(str::to_string))
            .collect()
    };
    let ro = sandbox_of("readonly");
    assert!(ro.contains(&format!("ro {root}")), "{ro:?}");
    assert!(!ro.iter().any(|m| m.starts_with("rw ")), "{ro:?}");
    let rw = sandbox_of("writable");
    assert!(rw.contains(&format!("rw {root}/out")), "{rw:?}");

    // `gantry audit` tells the reviewer before anything runs: a write grant plus git is
    // code of the plugin's choice, even behind the README's `read-only` grant.
    let a = ws.gantry(&["audit"]);
    assert_eq!(a.code, 0, "{}", a.stderr);
    let flat: String = a.stdout.split_whitespace().collect::<Vec<_>>().join(" ");
    assert!(
        flat.contains("!! CRITICAL grants.process `git status --short`: runs `git` on the host in an OS sandbox"),
        "{}",
        a.stdout
    );
    assert!(
        flat.contains("THE PLUGIN CAN RUN CODE OF ITS CHOICE IN THIS SANDBOX: it can write `dist` and `git` runs what it finds there (`.git/config`"),
        "{}",
        a.stdout
    );
    assert!(
        flat.contains("the read-only grant keeps that code from writing"),
        "{}",
        a.stdout
    );
    let _ = std::fs::remove_dir_all(&outside);
}

/// `--dry-run` runs read-only commands: with the sandbox they cannot change anything,
/// even when the workspace holds a hook (planted here by "part of the workspace" the
/// attacker wrote).
#[test]
fn dry_run_with_a_read_only_grant_writes_nothing_anywhere() {
    let pp = pinned(plugins::PROC_PROBE);
    let ws = Workspace::new(GANTRY);
    let marker = format!(
        "gantry-dry-{}",
        ws.root.file_name().and_then(|n| n.to_str()).expect("name")
    );
    let root = ws.root.display().to_string();
    ws.write("repo/.git/HEAD", "ref: refs/heads/main\n");
    std::fs::create_dir_all(ws.path("repo/.git/objects")).expect("mkdir");
    std::fs::create_dir_all(ws.path("repo/.git/refs")).expect("mkdir");
    ws.write(
        "repo/.git/config",
        format!(
            "[core]\n\trepositoryformatversion = 0\n\tfsmonitor = \"touch {root}/repo/pwned {root}/pwned /tmp/{marker} ; echo HOOK >&2\"\n"
        ),
    );
    ws.write(
        "pipeline.toml",
        format!(
            "[pipeline]\nname = \"dry\"\n\n{}",
            stage(
                &pp,
                "status",
                r#"program = "git", args = ["status", "--short"], cwd = "repo""#,
                r#"[{ cmd = "git", args = ["status", "--short"], read-only = true }]"#,
            )
        ),
    );
    // The stage may write `repo` itself: still nothing, since the grant is read-only.
    let p = ws.read("pipeline.toml").replace(
        "grants.process",
        "grants.fs.write = [\"repo\"]\ngrants.process",
    );
    ws.write("pipeline.toml", &p);
    let before = snapshot(&ws.root);
    let r = gantry_within(&ws, &["run", "--dry-run"], &[], Duration::from_secs(120));
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(
        r.output("status", "dry-run"),
        "false",
        "read-only commands run"
    );
    let err = r.output("status", "stderr");
    assert!(err.contains("HOOK"), "the hook ran, in the sandbox:\n{err}");
    assert!(err.contains("Read-only file system"), "{err}");
    assert_eq!(snapshot(&ws.root), before, "the workspace changed");
    assert!(!Path::new(&format!("/tmp/{marker}")).exists());
}

/// A command that leaves the process group (`setsid`) and double-forks is still in the
/// sandbox's PID namespace: it dies when the command ends.
#[test]
fn nothing_a_command_starts_outlives_the_call() {
    let pp = pinned(plugins::PROC_PROBE);
    let ws = Workspace::new(GANTRY);
    let script = "setsid sh -c '(sleep 71.2345 &) ; sleep 71.2346 &' ; nohup sleep 71.2347 >/dev/null 2>&1 & echo started";
    let with = format!(r#"program = "sh", args = ["-c", "{script}"]"#);
    let grant = format!(r#"[{{ cmd = "sh", args = ["-c", "{script}"] }}]"#);
    let mut p = String::from("[pipeline]\nname = \"survivors\"\n\n");
    p.push_str(&stage(&pp, "fork", &with, &grant));
    // A later stage runs while gantry is still alive: the survivors are gone already.
    p.push_str(&format!(
        "[stage.after]\nplugin = \"{pp}\"\nneeds = [\"fork\"]\nwith = {{ program = \"echo\", args = [\"after\"] }}\ngrants.process = [{{ cmd = \"echo\", args = [\"after\"] }}]\n"
    ));
    ws.write("pipeline.toml", &p);
    let r = gantry_within(&ws, &["run"], &[], Duration::from_secs(120));
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(result(&r, "fork"), "ok:0:started");
    assert_eq!(result(&r, "after"), "ok:0:after");
    for m in ["sleep 71.2345", "sleep 71.2346", "sleep 71.2347"] {
        assert_eq!(alive_with(m), Vec::<String>::new(), "{m} outlived the call");
    }
}

/// What the command sees of the workspace: all of it read-only, the stage's write
/// grants writable; `read-only = true` makes those read-only too.
#[test]
fn the_workspace_is_read_only_except_the_write_grants() {
    let pp = pinned(plugins::PROC_PROBE);
    let ws = Workspace::new(GANTRY);
    ws.write("src/main.rs", "fn main() {}\n");
    ws.write("dist/keep", "");
    let touch = |files: &str| {
        format!(
            r#"program = "sh", args = ["-c", "for f in {files}; do touch $f && echo WROTE $f || echo REFUSED $f; done"]"#
        )
    };
    let grant = |files: &str, ro: bool| {
        format!(
            r#"[{{ cmd = "sh", args = ["-c", "for f in {files}; do touch $f && echo WROTE $f || echo REFUSED $f; done"]{} }}]"#,
            if ro { ", read-only = true" } else { "" }
        )
    };
    let files = "src/new.rs dist/new pipeline.toml";
    let mut p = String::from("[pipeline]\nname = \"views\"\n\n");
    p.push_str(&stage(&pp, "rw", &touch(files), &grant(files, false)));
    p.push_str(&stage(&pp, "ro", &touch(files), &grant(files, true)));
    p.push_str(&stage(&pp, "none", &touch(files), &grant(files, false)));
    let p = p.replacen(
        "grants.process",
        "grants.fs.write = [\"dist\"]\ngrants.process",
        2,
    );
    ws.write("pipeline.toml", &p);
    let r = gantry_within(&ws, &["run", "--jobs", "1"], &[], Duration::from_secs(120));
    assert_eq!(r.code, 0, "{}", r.stderr);
    let out = |s: &str| r.output(s, "stdout");
    assert_eq!(
        out("rw"),
        "REFUSED src/new.rs\nWROTE dist/new\nREFUSED pipeline.toml\n"
    );
    assert_eq!(
        out("ro"),
        "REFUSED src/new.rs\nREFUSED dist/new\nREFUSED pipeline.toml\n"
    );
    assert_eq!(
        out("none"),
        "REFUSED src/new.rs\nREFUSED dist/new\nREFUSED pipeline.toml\n",
        "a stage without write grants writes nothing through a command"
    );
    assert!(r.output("rw", "stderr").contains("Read-only file system"));
    assert!(!ws.path("src/new.rs").exists());
    assert!(ws.path("dist/new").exists());
}

/// No network unless the grant says `network = true`: a listener on the host's
/// loopback gets no connection from the sandbox, and one from the granted command.
#[test]
fn network_is_refused_unless_the_grant_says_so() {
    let pp = pinned(plugins::PROC_PROBE);
    let ws = Workspace::new(GANTRY);
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("listen");
    let port = listener.local_addr().expect("addr").port();
    listener.set_nonblocking(true).expect("nonblocking");
    let script =
        format!("echo hello > /dev/tcp/127.0.0.1/{port} && echo CONNECTED || echo REFUSED");
    let with = format!(r#"program = "bash", args = ["-c", "{script}"]"#);
    let mut p = String::from("[pipeline]\nname = \"net\"\n\n");
    p.push_str(&stage(
        &pp,
        "default",
        &with,
        &format!(r#"[{{ cmd = "bash", args = ["-c", "{script}"] }}]"#),
    ));
    ws.write("pipeline.toml", &p);
    let r = gantry_within(&ws, &["run"], &[], Duration::from_secs(120));
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(r.output("default", "stdout"), "REFUSED\n");
    assert!(
        listener.accept().is_err(),
        "a connection reached the host from the sandbox"
    );

    // Positive control: the same command with `network = true`.
    let p = p
        .replace(
            "[pipeline]\nname = \"net\"",
            "[pipeline]\nname = \"net-granted\"",
        )
        .replace("\"] }]", "\"], network = true }]");
    ws.write("pipeline.toml", &p);
    let r = gantry_within(&ws, &["run"], &[], Duration::from_secs(120));
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(r.output("default", "stdout"), "CONNECTED\n");
    listener.set_nonblocking(false).expect("blocking");
    let (mut conn, _) = listener.accept().expect("the granted command connected");
    let mut got = String::new();
    std::io::Read::read_to_string(&mut conn, &mut got).expect("read");
    assert_eq!(got, "hello\n");
}

/// The host's secrets, the user's home, the Docker socket and gantry's run records
/// are not there; `HOME` is private and empty; root inside has no capabilities, so it
/// can neither remount a read-only bind writable nor write through it.
#[test]
fn host_secrets_home_records_and_privileges_are_out_of_reach() {
    let pp = pinned(plugins::PROC_PROBE);
    let ws = Workspace::new(GANTRY);
    ws.write("src/lib.rs", "");
    let root = ws.root.display().to_string();
    let script = format!(
        "cat /etc/shadow || echo SHADOW-REFUSED; ls -A $HOME; echo HOME=$HOME; ls -A /root /home 2>&1 | head -3; test -e /run/docker.sock || test -e /var/run/docker.sock && echo DOCKER || echo NODOCKER; ls -A {root}/.gantry/runs 2>/dev/null | head -1; echo RECORDS-EMPTY; grep CapEff /proc/self/status; mount -o remount,rw {root} && echo REMOUNTED; touch {root}/src/x && echo WROTE || echo RO; unshare -r true && echo USERNS || echo NOUSERNS; echo done"
    );
    let mut p = String::from("[pipeline]\nname = \"reach\"\n\n");
    // An earlier stage leaves records behind in `.gantry/runs` (this run's own).
    p.push_str(&format!(
        "[stage.first]\nplugin = \"{}\"\nwith = {{ outputs = {{ a = \"b\" }} }}\n\n",
        pinned(plugins::PROBE)
    ));
    p.push_str(&stage(
        &pp,
        "look",
        &format!(r#"program = "sh", args = ["-c", "{script}"]"#),
        &format!(r#"[{{ cmd = "sh", args = ["-c", "{script}"] }}]"#),
    ));
    let p = p.replace("[stage.look]\n", "[stage.look]\nneeds = [\"first\"]\n");
    ws.write("pipeline.toml", &p);
    let r = gantry_within(&ws, &["run"], &[], Duration::from_secs(120));
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        ws.path(".gantry/runs").is_dir(),
        "records exist on the host"
    );
    let out = r.output("look", "stdout");
    let lines: Vec<&str> = out.lines().collect();
    assert!(lines.contains(&"SHADOW-REFUSED"), "{out}");
    assert!(!out.contains("root:"), "{out}");
    assert!(lines.contains(&"HOME=/tmp/home"), "{out}");
    assert!(lines.contains(&"NODOCKER"), "{out}");
    // `.gantry` (a link to the records outside the workspace) leads nowhere: nothing
    // of the runs is listed.
    let records = out
        .lines()
        .skip_while(|l| !l.starts_with("NODOCKER"))
        .nth(1)
        .unwrap_or_default();
    assert_eq!(records, "RECORDS-EMPTY", "`.gantry` shows nothing:\n{out}");
    assert!(lines.contains(&"CapEff:\t0000000000000000"), "{out}");
    assert!(!lines.contains(&"REMOUNTED"), "{out}");
    assert!(lines.contains(&"RO"), "{out}");
    assert!(lines.contains(&"NOUSERNS"), "{out}");
    assert!(lines.contains(&"done"), "{out}");
    assert!(!ws.path("src/x").exists());
}

/// Host directories a grant names with `read` are readable and nothing more; a
/// credentials file inside one is covered.
#[test]
fn extra_host_directories_are_read_only() {
    let pp = pinned(plugins::PROC_PROBE);
    let ws = Workspace::new(GANTRY);
    let tool = ws.root.with_extension("tool");
    std::fs::create_dir_all(&tool).expect("mkdir tool");
    std::fs::write(tool.join("data.txt"), "tool data\n").expect("write");
    std::fs::write(tool.join("credentials.toml"), "token = \"secret-value\"\n").expect("write");
    let t = tool.display().to_string();
    let script = format!(
        "cat {t}/data.txt; cat {t}/credentials.toml && echo CRED-EMPTY; touch {t}/new && echo WROTE || echo RO"
    );
    let mut p = String::from("[pipeline]\nname = \"read\"\n\n");
    p.push_str(&stage(
        &pp,
        "tool",
        &format!(r#"program = "sh", args = ["-c", "{script}"]"#),
        &format!(r#"[{{ cmd = "sh", args = ["-c", "{script}"], read = ["{t}"] }}]"#),
    ));
    p.push_str(&stage(
        &pp,
        "without",
        &format!(r#"program = "sh", args = ["-c", "{script}"]"#),
        &format!(r#"[{{ cmd = "sh", args = ["-c", "{script}"] }}]"#),
    ));
    ws.write("pipeline.toml", &p);
    let r = gantry_within(&ws, &["run"], &[], Duration::from_secs(120));
    assert_eq!(r.code, 0, "{}", r.stderr);
    let out = r.output("tool", "stdout");
    assert!(
        out.starts_with("tool data\n"),
        "{out}\n{}\n{}",
        r.output("tool", "result"),
        r.output("tool", "stderr")
    );
    assert!(!out.contains("secret-value"), "{out}");
    assert!(out.contains("CRED-EMPTY") && out.ends_with("RO\n"), "{out}");
    let without = r.output("without", "stdout");
    assert!(!without.contains("tool data"), "{without}");
    assert!(!tool.join("new").exists());
    let _ = std::fs::remove_dir_all(&tool);
}

/// Without a working bubblewrap nothing runs unsandboxed: the call fails with one
/// sentence saying what to install (audited), and `gantry check` reports it for a
/// pipeline with process grants.
#[test]
fn without_bubblewrap_nothing_runs_and_check_says_what_to_install() {
    let pp = pinned(plugins::PROC_PROBE);
    let ws = Workspace::new(GANTRY);
    // A "bwrap" that cannot create namespaces, as on a machine that forbids them.
    ws.write(
        "fake-bwrap",
        "#!/bin/sh\necho 'bwrap: No permissions to create new namespace' >&2\nexit 1\n",
    );
    std::fs::set_permissions(
        ws.path("fake-bwrap"),
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .expect("chmod");
    let mut p = String::from("[pipeline]\nname = \"no-bwrap\"\n\n");
    p.push_str(&stage(
        &pp,
        "touch",
        r#"program = "touch", args = ["made"]"#,
        r#"[{ cmd = "touch", args = ["made"] }]"#,
    ));
    ws.write("pipeline.toml", &p);
    let fake = ws.path("fake-bwrap").display().to_string();
    for (bwrap, says) in [
        ("/nonexistent/bwrap", "is not an executable file"),
        (fake.as_str(), "No permissions to create new namespace"),
    ] {
        let env = [("GANTRY_BWRAP", bwrap)];
        let r = gantry_within(&ws, &["run"], &env, Duration::from_secs(120));
        assert_eq!(r.code, 0, "{}", r.stderr);
        let res = result(&r, "touch");
        assert!(res.starts_with("err:"), "failed, not denied: {res}");
        assert!(res.contains("install bubblewrap"), "{res}");
        assert!(res.contains(says), "{res}");
        assert!(!ws.path("made").exists(), "ran unsandboxed");
        let audit = denials(&r, "touch");
        assert_eq!(audit.len(), 1, "{audit:#?}");
        assert!(
            audit[0]["reason"]
                .as_str()
                .unwrap_or_default()
                .contains("install bubblewrap"),
            "{audit:#?}"
        );

        let c = gantry_within(&ws, &["check"], &env, Duration::from_secs(120));
        assert_ne!(c.code, 0, "check passes without a sandbox:\n{}", c.stderr);
        assert!(c.stderr.contains("install bubblewrap"), "{}", c.stderr);
        assert!(c.stderr.contains("stage `touch`"), "{}", c.stderr);
    }
    // The same pipeline with the real bubblewrap: check passes, the command runs.
    let c = ws.gantry(&["check"]);
    assert_eq!(c.code, 0, "{}", c.stderr);
}
