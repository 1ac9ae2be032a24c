//! The `process` capability against a plugin that tries everything
//! (`tests/plugins/proc-probe`): commands that are not granted, arguments outside the
//! globs, shells, paths instead of names, environment it may not set, working
//! directories outside the workspace, commands that never end or never stop talking.
//! Each refusal is what a user would notice: the plugin gets `denied` naming the grant
//! that would allow it, `audit.jsonl` has the line, the other stages finish, nothing
//! outside the grants changes. The positive controls show that granted commands run,
//! with a scrubbed environment, are journaled, and are planned (not run) in dry-run.
//!
//! Then what a granted command does once it runs (issue 13): every command runs in
//! gantry's own OS sandbox (Linux namespaces, `host/src/caps/process/sandbox`), so a
//! plugin that plants `core.fsmonitor` in a `.git/config` it may write gets its code
//! run only inside that sandbox — read-only workspace, writes only where
//! `grants.fs.write` allows (nowhere for a `read-only` grant), no network, no
//! `/etc/shadow`, no `$HOME`, no run records, no capabilities as root, nothing alive
//! after the call. From inside, as root, the code tries to undo the sandbox: remount,
//! unmount covers, nested user namespaces, `pivot_root`/`chroot`, kernel knobs,
//! `ptrace` and `/proc` of PID 1, signals to the host, descriptors leaked into gantry,
//! writes through `/proc/self/fd`, the terminal (`TIOCSTI`), a fork bomb. On a machine
//! without user namespaces nothing runs at all, and `gantry check` says why.
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

/// Runs a command the test built (gantry under `sh`, `unshare` or `script`) with the
/// same hang watchdog as [`gantry_within`].
fn output_within(mut cmd: std::process::Command, limit: Duration) -> Run {
    let root = cmd
        .get_current_dir()
        .map(Path::to_path_buf)
        .expect("the command runs in the workspace");
    let child = cmd
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("start the command");
    let pid = child.id();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(child.wait_with_output());
    });
    match rx.recv_timeout(limit) {
        Ok(out) => Run::from_output(out.expect("wait for the command"), &root),
        Err(_) => {
            let _ = std::process::Command::new("kill")
                .args(["-KILL", &pid.to_string()])
                .status();
            panic!("{cmd:?} hung for more than {limit:?}");
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
        "cat /etc/shadow || echo SHADOW-REFUSED; ls -A $HOME; echo HOME=$HOME; ls -A /root /home 2>&1 | head -3; test -e /run/docker.sock || test -e /var/run/docker.sock && echo DOCKER || echo NODOCKER; ls -A {root}/.gantry/ 2>/dev/null | grep -q . && echo RECORDS-SHOWN || echo RECORDS-EMPTY; grep CapEff /proc/self/status; mount -o remount,rw {root} && echo REMOUNTED; touch {root}/src/x && echo WROTE || echo RO; unshare -r true && echo USERNS || echo NOUSERNS; echo done"
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
    // The records live outside the workspace (`.gantry` is a link to gantry's state
    // directory, which the sandbox does not show): nothing is listed there.
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

/// `sh -c SCRIPT` as a granted command of stage `name`, with `extra` TOML lines for
/// the stage (grants, timeout).
fn sh_stage(pp: &str, name: &str, script: &str, grant_extra: &str, extra: &str) -> String {
    let script = script.replace('\\', "\\\\").replace('"', "\\\"");
    format!(
        "[stage.{name}]\nplugin = \"{pp}\"\nwith = {{ program = \"sh\", args = [\"-c\", \"{script}\"] }}\n{extra}grants.process = [{{ cmd = \"sh\", args = [\"-c\", \"{script}\"]{grant_extra} }}]\n\n"
    )
}

/// The `NAME:…` lines of a probe script's output, by name.
fn probes(out: &str) -> std::collections::BTreeMap<String, String> {
    out.lines()
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// Shell function of the probe scripts: `p NAME CMD…` runs CMD and prints `NAME:DONE`
/// or `NAME:REFUSED:<its error>`; `NAME:MISSING` when CMD is not installed, so that a
/// missing tool can never pass for a refusal.
const PROBE_FN: &str = "PATH=$PATH:/usr/sbin:/sbin; p() { n=$1; shift; if ! command -v \"$1\" >/dev/null; then echo $n:MISSING; elif \"$@\" >/tmp/o 2>&1; then echo $n:DONE; else echo $n:REFUSED:$(tr '\\n' ' ' </tmp/o | head -c 300); fi; }";

/// Root inside the sandbox (gantry runs as root on CI) tries to undo it: remount the
/// workspace or a write grant's parent writable, unmount covers, mount over `/tmp`,
/// create nested user namespaces (which needs no privilege at all), `pivot_root`,
/// `chroot`, kernel knobs, the hostname, writes through `/proc/self/fd` of a read-only
/// file. Each is refused by the kernel, with the kernel's reason; the one write grant
/// is the positive control.
#[test]
fn root_inside_cannot_undo_the_sandbox() {
    let pp = pinned(plugins::PROC_PROBE);
    let ws = Workspace::new(GANTRY);
    ws.write("src/lib.rs", "// source\n");
    ws.write("out/dist/keep", "");
    let tool = ws.root.with_extension("tool");
    std::fs::create_dir_all(tool.join(".ssh")).expect("mkdir tool");
    std::fs::write(tool.join(".ssh/id_ed25519"), "PRIVATE KEY\n").expect("write");
    std::fs::write(tool.join("credentials.toml"), "token = \"secret-value\"\n").expect("write");
    let root = ws.root.display().to_string();
    let t = tool.display().to_string();
    let script = format!(
        "{PROBE_FN}; mkdir -p /tmp/x; exec 3< {root}/src/lib.rs; \
         p remount-ws mount -o remount,bind,rw {root}; \
         p remount-parent mount -o remount,bind,rw {root}/out; \
         p remount-root mount -o remount,rw /; \
         p mount-tmpfs mount -t tmpfs none /tmp/x; \
         p bind-rw mount --bind {root}/out/dist {root}/src; \
         p umount-dir umount {t}/.ssh; \
         p umount-lazy umount -l {t}/.ssh; \
         p umount-file umount {t}/credentials.toml; \
         p umount-ws umount -l {root}; \
         p userns unshare -U true; \
         p userns-root unshare -r true; \
         p mountns unshare -m true; \
         p pivot pivot_root /tmp /tmp/x; \
         p chroot chroot / true; \
         p sysctl sh -c 'echo 100 > /proc/sys/user/max_user_namespaces'; \
         p hostname hostname evil; \
         p write-ws touch {root}/src/new; \
         p write-parent touch {root}/out/new; \
         p fd-write sh -c 'echo pwned > /proc/self/fd/3'; \
         p devfd-write sh -c 'echo pwned > /dev/fd/3'; \
         p cred-write sh -c 'echo x > {t}/credentials.toml'; \
         p ssh-write touch {t}/.ssh/new; \
         p write-grant touch {root}/out/dist/new; \
         echo cred:$(cat {t}/credentials.toml | wc -c); echo ssh:$(ls -A {t}/.ssh | wc -l); \
         echo host:$(hostname); echo done"
    );
    let mut p = String::from("[pipeline]\nname = \"undo\"\n\n");
    p.push_str(&sh_stage(
        &pp,
        "undo",
        &script,
        &format!(", read = [\"{t}\"]"),
        "grants.fs.write = [\"out/dist\"]\n",
    ));
    ws.write("pipeline.toml", &p);
    let before = snapshot(&ws.root);
    let tool_before = snapshot(&tool);
    let r = gantry_within(&ws, &["run"], &[], Duration::from_secs(120));
    assert_eq!(r.code, 0, "{}", r.stderr);
    let out = r.output("undo", "stdout");
    assert!(
        out.ends_with("done\n"),
        "{out}\n{}\n{}",
        r.output("undo", "result"),
        r.output("undo", "stderr")
    );
    let got = probes(&out);
    let refused_with = |name: &str, why: &[&str]| {
        let v = got
            .get(name)
            .unwrap_or_else(|| panic!("{name} missing:\n{out}"));
        assert!(
            v.starts_with("REFUSED:"),
            "{name} was not refused: {v}\n{out}"
        );
        assert!(
            why.iter().any(|w| v.contains(w)),
            "{name}: refused for another reason than {why:?}: {v}"
        );
    };
    // No capability: mount(2) and umount(2) answer EPERM, which util-linux prints as
    // "permission denied" or "must be superuser".
    let eperm = [
        "ermission denied",
        "Operation not permitted",
        "must be superuser",
        "must be root",
    ];
    for name in [
        "remount-ws",
        "remount-parent",
        "remount-root",
        "mount-tmpfs",
        "bind-rw",
        "umount-dir",
        "umount-lazy",
        "umount-file",
        "umount-ws",
        "mountns",
        "pivot",
        "chroot",
        "hostname",
    ] {
        refused_with(name, &eperm);
    }
    // A user namespace needs no privilege at all: only the sandbox's limit refuses it.
    for name in ["userns", "userns-root"] {
        refused_with(name, &["No space left on device"]);
    }
    for name in [
        "sysctl",
        "write-ws",
        "write-parent",
        "fd-write",
        "devfd-write",
        "cred-write",
        "ssh-write",
    ] {
        refused_with(name, &["Read-only file system"]);
    }
    assert_eq!(
        got.get("write-grant").map(String::as_str),
        Some("DONE"),
        "{out}"
    );
    // The covers held: an empty credentials file, an empty `.ssh`.
    assert_eq!(got.get("cred").map(String::as_str), Some("0"), "{out}");
    assert_eq!(got.get("ssh").map(String::as_str), Some("0"), "{out}");
    assert_eq!(
        got.get("host").map(String::as_str),
        Some("gantry-sandbox"),
        "{out}"
    );
    assert!(
        !out.contains("secret-value") && !out.contains("PRIVATE KEY"),
        "{out}"
    );

    // On the host: only the write grant changed.
    assert!(ws.path("out/dist/new").exists());
    std::fs::remove_file(ws.path("out/dist/new")).expect("rm");
    assert_eq!(snapshot(&ws.root), before, "the workspace changed");
    assert_eq!(snapshot(&tool), tool_before, "the read directory changed");
    let _ = std::fs::remove_dir_all(&tool);
}

/// What the command can find of the processes and descriptors around it: it is PID 2
/// of its own namespace, in its own session; PID 1 (the sandbox's init) is neither
/// traceable nor readable through `/proc/1`, and ignores its signals; nothing outside
/// the namespace exists for it (not the test, not gantry: `kill -9 -1` reaches nothing
/// of the host); it holds stdin, stdout and stderr only — not even a descriptor that
/// whoever started gantry leaked into it (fd 9 here, open on a file outside the
/// workspace); `/run`, `/var` and the Docker socket are not there.
#[test]
fn processes_and_descriptors_of_the_host_are_out_of_reach() {
    let pp = pinned(plugins::PROC_PROBE);
    let ws = Workspace::new(GANTRY);
    let outside = ws.root.with_extension("leak");
    std::fs::write(&outside, "LEAKED CONTENT\n").expect("write outside");
    let ptrace = if cfg!(target_arch = "aarch64") {
        117
    } else {
        101
    };
    let (add_key, keyctl) = if cfg!(target_arch = "aarch64") {
        (217, 219)
    } else {
        (248, 250)
    };
    let me = std::process::id();
    // The descriptors first, before any redirection makes the shell keep a copy of
    // one (dash saves a redirected descriptor above 9 while the command runs).
    let script = format!(
        "echo fds-begin; ls /proc/$$/fd; echo fds-end; {PROBE_FN}; \
         read -r pid comm state ppid pgrp sid rest < /proc/self/stat; echo self:PID=$pid SID=$sid; \
         echo pids:$(ls /proc | grep -E '^[0-9]+$' | sort -n | tr '\\n' ' '); \
         p fd9 cat /proc/self/fd/9; \
         p root1 ls /proc/1/root/; \
         p cwd1 ls /proc/1/cwd/; \
         p fd1 readlink -v /proc/1/fd/0; \
         p fdw1 sh -c 'for f in $(ls /proc/1/fd); do echo X 0 > /proc/1/fd/$f || exit 1; done'; \
         p environ1 cat /proc/1/environ; \
         p mem1 dd if=/proc/1/mem of=/dev/null bs=1 count=1; \
         p ptrace1 perl -e '$!=0; syscall({ptrace}, 16, 1, 0, 0) == 0 or die qq($!\\n)'; \
         p kill1 kill -9 1; \
         p host kill -0 {me}; \
         p run ls /run; \
         p var ls /var/run/docker.sock; \
         p tty sh -c ': </dev/tty'; \
         perl -e 'my ($t, $d) = (q(user), q(gantry-test-key)); my $r = syscall({keyctl}, 10, -3, $t, $d, 0); $r < 0 and print qq(keyring:NOKEY:$!\\n) or print qq(keyring:FOUND\\n)'; \
         echo keys:$(grep -c gantry-test-key /proc/keys); \
         kill -9 -1; sleep 0.1; echo init:$(ls /proc | grep -cx 1); echo done"
    );
    let mut p = String::from("[pipeline]\nname = \"reach\"\n\n");
    // A stage timeout well below the watchdog's: a sandbox whose init could be traced
    // (and so stopped) would hang the command until then.
    p.push_str(&sh_stage(&pp, "look", &script, "", "timeout = \"1m\"\n"));
    // gantry goes on: a later stage runs after the command's `kill -9 -1`.
    p.push_str(&format!(
        "[stage.after]\nplugin = \"{pp}\"\nneeds = [\"look\"]\nwith = {{ program = \"echo\", args = [\"after\"] }}\ngrants.process = [{{ cmd = \"echo\", args = [\"after\"] }}]\n"
    ));
    ws.write("pipeline.toml", &p);
    // gantry started with fd 9 open (not close-on-exec) on a file outside the workspace,
    // as a careless parent process would leave it, and with a key in its session
    // keyring (as a login or CI agent leaves credentials there).
    let mut leak = ws.command(&["run"]);
    let envs: Vec<(std::ffi::OsString, Option<std::ffi::OsString>)> = leak
        .get_envs()
        .map(|(k, v)| (k.to_os_string(), v.map(|v| v.to_os_string())))
        .collect();
    let with_key = format!(
        "my $n = q(gantry-test-session); syscall({keyctl}, 1, $n) >= 0 or die qq(join: $!); \
         my ($t, $d, $v) = (q(user), q(gantry-test-key), q(TOPSECRET)); \
         syscall({add_key}, $t, $d, $v, 9, -3) >= 0 or die qq(add_key: $!); exec @ARGV"
    );
    let mut cmd = std::process::Command::new("perl");
    cmd.args([
        "-e",
        &with_key,
        "sh",
        "-c",
        "exec 9<\"$1\"; exec \"$0\" run",
        GANTRY,
    ])
    .arg(&outside)
    .current_dir(&ws.root);
    for (k, v) in envs {
        match v {
            Some(v) => cmd.env(k, v),
            None => cmd.env_remove(k),
        };
    }
    leak = cmd;
    let r = output_within(leak, Duration::from_secs(180));
    assert_eq!(r.code, 0, "{}", r.stderr);
    let out = r.output("look", "stdout");
    assert!(
        out.ends_with("done\n"),
        "{out}\n{}\n{}",
        r.output("look", "result"),
        r.output("look", "stderr")
    );
    let got = probes(&out);
    let get = |k: &str| got.get(k).cloned().unwrap_or_else(|| panic!("{k}:\n{out}"));
    assert_eq!(
        get("self"),
        "PID=2 SID=2",
        "PID 2, leader of its own session"
    );
    let pids: Vec<u32> = get("pids")
        .split_whitespace()
        .filter_map(|p| p.parse().ok())
        .collect();
    assert_eq!(pids.first(), Some(&1), "{out}");
    assert!(
        pids.iter().all(|p| *p < 100),
        "only the sandbox's own processes are visible: {pids:?}"
    );
    let fds: Vec<&str> = out
        .lines()
        .skip_while(|l| *l != "fds-begin")
        .skip(1)
        .take_while(|l| *l != "fds-end")
        .collect();
    assert_eq!(fds, ["0", "1", "2"], "no descriptor but stdio:\n{out}");
    let refused = |name: &str, why: &str| {
        let v = get(name);
        assert!(
            v.starts_with("REFUSED:") && v.contains(why),
            "{name}: expected a refusal with {why:?}: {v}\n{out}"
        );
    };
    refused("fd9", "No such file or directory");
    // (`/proc/1/fd` may list numbers to the same uid; none of them can be followed,
    // so the command cannot write to init's status pipe.)
    for name in ["root1", "cwd1", "fd1", "fdw1", "environ1", "mem1"] {
        refused(name, "ermission denied");
    }
    refused("ptrace1", "Operation not permitted");
    refused("host", "No such process");
    refused("run", "No such file or directory");
    refused("var", "No such file or directory");
    refused("tty", "No such device or address");
    // SIGKILL from inside does not end PID 1 (the kernel protects a namespace's init),
    // and the command got to its end.
    assert_eq!(get("kill1"), "DONE", "{out}");
    assert_eq!(get("init"), "1", "{out}");
    assert!(!out.contains("LEAKED CONTENT"), "{out}");
    // Not gantry's session keyring, nor the names of its keys.
    assert_eq!(get("keyring"), "NOKEY:Required key not available", "{out}");
    assert_eq!(get("keys"), "0", "{out}");
    assert!(!out.contains("TOPSECRET"), "{out}");
    assert_eq!(result(&r, "after"), "ok:0:after");
    let _ = std::fs::remove_file(&outside);
}

/// With gantry in a terminal (as when a developer runs it), the command has none: it
/// is in a new session, so `/dev/tty` does not open and `TIOCSTI` cannot push a
/// command line into the developer's shell. `script` gives gantry the terminal; the
/// control shows that, outside the sandbox, the same check finds one.
#[test]
fn a_command_cannot_reach_gantrys_terminal() {
    let pp = pinned(plugins::PROC_PROBE);
    let ws = Workspace::new(GANTRY);
    let inject = "perl -e 'open(my $t, q(+<), q(/dev/tty)) or die qq(NOTTY:$!\\n); my $c = q(x); ioctl($t, 0x5412, $c) or die qq(TIOCSTI:$!\\n); print qq(INJECTED\\n)'";
    let mut p = String::from("[pipeline]\nname = \"tty\"\n\n");
    p.push_str(&sh_stage(
        &pp,
        "inject",
        &format!("{inject} 2>&1; echo done"),
        "",
        "",
    ));
    ws.write("pipeline.toml", &p);
    let script = |cmd: &str| {
        let mut c = std::process::Command::new("script");
        c.args(["-qec", cmd, "/dev/null"]).current_dir(&ws.root);
        for (k, v) in ws.command(&[]).get_envs() {
            match v {
                Some(v) => c.env(k, v),
                None => c.env_remove(k),
            };
        }
        output_within(c, Duration::from_secs(180))
    };
    let control = script("sh -c ': </dev/tty && echo HAVE-TTY'");
    assert!(
        control.stdout.contains("HAVE-TTY"),
        "`script` (util-linux) must give its command a controlling terminal: {}\n{}",
        control.stdout,
        control.stderr
    );
    let r = script(&format!("'{GANTRY}' run"));
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    let got = r.output("inject", "stdout");
    assert_eq!(got, "NOTTY:No such device or address\ndone\n");
}

/// A fork bomb (bounded here at 2047 processes, to spare the machine the tests share)
/// is ended with everything it started by the command's timeout: the whole PID
/// namespace is killed. There is no limit on the number of processes (no cgroup).
#[test]
fn a_fork_bomb_ends_with_its_timeout() {
    let pp = pinned(plugins::PROC_PROBE);
    let ws = Workspace::new(GANTRY);
    let bomb = "b() { if [ $1 -lt 10 ]; then b $(($1+1)) & b $(($1+1)) & fi; sleep 93.1415; }; b 0";
    let mut p = String::from("[pipeline]\nname = \"bomb\"\n\n");
    p.push_str(&sh_stage(&pp, "bomb", bomb, ", timeout = \"3s\"", ""));
    p.push_str(&format!(
        "[stage.after]\nplugin = \"{pp}\"\nneeds = [\"bomb\"]\nwith = {{ program = \"echo\", args = [\"after\"] }}\ngrants.process = [{{ cmd = \"echo\", args = [\"after\"] }}]\n"
    ));
    ws.write("pipeline.toml", &p);
    let r = gantry_within(&ws, &["run"], &[], Duration::from_secs(120));
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(r.output("bomb", "timed-out"), "true");
    assert_eq!(result(&r, "bomb"), "ok:none:");
    assert_eq!(alive_with("sleep 93.1415"), Vec::<String>::new());
    assert_eq!(result(&r, "after"), "ok:0:after");
}

/// On a machine that cannot make the sandbox, nothing runs unsandboxed: the call fails
/// with one sentence saying what is missing and how to allow it (audited), and `gantry
/// check` reports it for a pipeline with process grants. Simulated for real: gantry
/// runs inside a user namespace whose `user.max_user_namespaces` is 0, so the kernel
/// refuses the sandbox's own user namespace.
#[test]
fn without_user_namespaces_nothing_runs_and_check_says_why() {
    let pp = pinned(plugins::PROC_PROBE);
    let ws = Workspace::new(GANTRY);
    let mut p = String::from("[pipeline]\nname = \"no-userns\"\n\n");
    p.push_str(
        &stage(
            &pp,
            "touch",
            r#"program = "touch", args = ["out/made"]"#,
            r#"[{ cmd = "touch", args = ["out/made"] }]"#,
        )
        .replace(
            "grants.process",
            "grants.fs.write = [\"out\"]\ngrants.process",
        ),
    );
    ws.write("pipeline.toml", &p);
    ws.write("out/keep", "");
    let confined = |args: &[&str]| {
        let mut c = std::process::Command::new("unshare");
        c.args([
            "--user",
            "--map-root-user",
            "sh",
            "-c",
            "echo 0 > /proc/sys/user/max_user_namespaces && exec \"$0\" \"$@\"",
            GANTRY,
        ])
        .args(args)
        .current_dir(&ws.root);
        for (k, v) in ws.command(&[]).get_envs() {
            match v {
                Some(v) => c.env(k, v),
                None => c.env_remove(k),
            };
        }
        output_within(c, Duration::from_secs(180))
    };
    let why = "user namespaces are disabled on this machine (`user.max_user_namespaces` is 0); allow them with `sysctl -w user.max_user_namespaces=15000`";
    let r = confined(&["run"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let res = result(&r, "touch");
    assert!(res.starts_with("err:"), "failed, not denied: {res}");
    assert!(res.contains(why), "{res}");
    assert!(
        res.contains("gantry never runs a host command outside its sandbox"),
        "{res}"
    );
    assert!(!ws.path("out/made").exists(), "ran unsandboxed");
    let audit = denials(&r, "touch");
    assert_eq!(audit.len(), 1, "{audit:#?}");
    assert!(
        audit[0]["reason"]
            .as_str()
            .unwrap_or_default()
            .contains(why),
        "{audit:#?}"
    );

    let c = confined(&["check"]);
    assert_ne!(c.code, 0, "check passes without a sandbox:\n{}", c.stderr);
    assert!(c.stderr.contains(why), "{}", c.stderr);
    assert!(c.stderr.contains("stage `touch`"), "{}", c.stderr);

    // The same pipeline where user namespaces work: check passes, the command runs.
    let c = ws.gantry(&["check"]);
    assert_eq!(c.code, 0, "{}", c.stderr);
    let r = ws.gantry(&["run"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(result(&r, "touch"), "ok:0:");
    assert!(ws.path("out/made").exists());
}
