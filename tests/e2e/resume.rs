//! `gantry run --resume [RUN-ID]` through the binary (`host/src/run/resume.rs`):
//! a run SIGKILLed while a stage's effect is under way is continued in the same run
//! directory — the stage that succeeded is not run again and its outputs still flow,
//! the killed stage runs again, the effect whose outcome was never recorded is named —
//! and resuming is refused (exit 2, nothing runs) while the run is still alive, once
//! it finished successfully, and when pipeline.toml (here, a grant) changed.

use std::time::{Duration, Instant};

use gantry_test_plugins::{Workspace, pinned, plugins};
use serde_json::Value;

const GANTRY: &str = env!("CARGO_BIN_EXE_gantry");

/// The only run directory of the workspace.
fn only_run(ws: &Workspace) -> std::path::PathBuf {
    let dirs: Vec<_> = std::fs::read_dir(ws.path(".gantry/runs"))
        .expect("runs directory")
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.is_dir())
        .collect();
    assert_eq!(dirs.len(), 1, "expected one run directory: {dirs:?}");
    dirs[0].clone()
}

fn json(path: &std::path::Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(path).expect("read JSON")).expect("JSON")
}

#[test]
fn a_killed_run_resumes_where_it_stopped() {
    let probe = pinned(plugins::PROBE);
    let proc_probe = pinned(plugins::PROC_PROBE);
    let ws = Workspace::new(GANTRY);
    // The effect: a granted command that waits until the test lets it finish.
    ws.write(
        "wait.sh",
        "while [ ! -e go ]; do sleep 0.05; done; echo went\n",
    );
    ws.write(
        "pipeline.toml",
        format!(
            r#"
[pipeline]
name = "resume"

[stage.first]
plugin = "{probe}"
with = {{ outputs = {{ ref = "abc123" }}, timeline = "first.txt" }}
grants.fs.write = ["."]

[stage.effect]
plugin = "{proc_probe}"
needs = ["first"]
with = {{ program = "sh", args = ["wait.sh"] }}
grants.process = [{{ cmd = "sh", args = ["wait.sh"] }}]

[stage.last]
plugin = "{probe}"
needs = ["effect"]
with = {{ outputs = {{ got = "${{stages.first.outputs.ref}}" }} }}
"#
        ),
    );
    let mut child = ws
        .command(&["run", "--jobs", "1"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("start gantry");

    // Wait until the effect's intent is journaled: the stage is inside the command.
    let deadline = Instant::now() + Duration::from_secs(120);
    let run_dir = loop {
        let found = std::fs::read_dir(ws.path(".gantry/runs"))
            .into_iter()
            .flatten()
            .flatten()
            .map(|e| e.path())
            .find(|d| {
                std::fs::read_to_string(d.join("journal.jsonl")).is_ok_and(|j| {
                    j.contains(r#""phase":"intent""#) && j.contains(r#""stage":"effect""#)
                })
            });
        if let Some(d) = found {
            break d;
        }
        if let Ok(Some(status)) = child.try_wait() {
            panic!("gantry ended before the effect started: {status}");
        }
        assert!(Instant::now() < deadline, "the effect never started");
        std::thread::sleep(Duration::from_millis(50));
    };
    let run_id = run_dir.file_name().unwrap().to_string_lossy().into_owned();

    // While the first process lives, the run is its own.
    let busy = ws.gantry(&["run", "--resume"]);
    assert_eq!(busy.code, 2, "{}", busy.stderr);
    assert!(
        busy.stderr.contains(&format!(
            "another gantry process (pid {}) is still running this run",
            child.id()
        )),
        "{}",
        busy.stderr
    );

    child.kill().expect("SIGKILL gantry");
    child.wait().expect("reap gantry");
    let killed = json(&run_dir.join("run.json"));
    assert_eq!(killed["state"], "running", "{killed}");
    assert_eq!(ws.read("first.txt").matches("first start").count(), 1);
    ws.write("go", ""); // lets the orphaned command finish; the rerun passes at once

    let r = ws.gantry(&["run", "--resume"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        r.stderr.contains(&format!(
            "resuming run `{run_id}` (was killed): reusing `first`; running again: `effect`, `last`"
        )),
        "{}",
        r.stderr
    );
    assert!(
        r.stderr
            .contains("warning: stage `effect`: effect #1 `process run`"),
        "{}",
        r.stderr
    );
    assert!(
        r.stderr.contains("may or may not have happened"),
        "{}",
        r.stderr
    );

    // Same directory, same run id; `first` not run again, its output still flows.
    assert_eq!(only_run(&ws), run_dir);
    assert_eq!(
        ws.read("first.txt").matches("first start").count(),
        1,
        "`first` ran again"
    );
    assert_eq!(r.output("last", "got"), "abc123");
    assert_eq!(r.stage("first")["status"], "succeeded");
    assert_eq!(r.stage("effect")["status"], "succeeded");
    assert_eq!(r.output("effect", "result"), "ok:0:went");

    // The unknown effect is named in the stage's log, run.json, summary and journal.
    let log = r.log("effect");
    assert!(
        log.contains("--- resumed by `gantry run --resume`"),
        "{log}"
    );
    assert!(log.contains("effect #1 `process run`"), "{log}");
    assert!(log.contains("wait.sh"), "{log}");
    // The rerun's lines come after the marker (what the killed attempt had written
    // is kept before it; lines still buffered when it was killed are lost).
    assert!(
        log.find("--- resumed").unwrap() < log.rfind("attempt 1 of 1").unwrap(),
        "{log}"
    );
    let state = json(&run_dir.join("run.json"));
    assert_eq!(state["state"], "finished");
    assert_eq!(state["exit_code"], 0);
    assert_eq!(state["resumed"].as_array().unwrap().len(), 1, "{state}");
    assert_eq!(state["resumed"][0]["from_state"], "running");
    assert_eq!(state["resumed"][0]["reused"][0], "first");
    let summary = r.summary();
    assert_eq!(summary["resumed"]["unknown_effects"][0]["stage"], "effect");
    assert_eq!(summary["resumed"]["unknown_effects"][0]["seq"], 1);
    let journal = r.file("journal.jsonl");
    assert!(journal.contains(r#""phase":"unknown""#), "{journal}");
    // The rerun's effect continues the sequence instead of reusing #1.
    assert!(journal.contains(r#""seq":2"#), "{journal}");

    // Finished successfully: nothing to resume.
    let again = ws.gantry(&["run", "--resume"]);
    assert_eq!(again.code, 2, "{}", again.stderr);
    assert!(
        again.stderr.contains(&format!(
            "run `{run_id}` finished successfully: nothing to resume"
        )),
        "{}",
        again.stderr
    );
    let named = ws.gantry(&["run", "--resume", &run_id]);
    assert_eq!(named.code, 2, "{}", named.stderr);
    assert_eq!(
        ws.read("first.txt").matches("first start").count(),
        1,
        "a refused resume ran something"
    );
}

#[test]
fn a_failed_run_resumes_only_when_nothing_changed() {
    let probe = pinned(plugins::PROBE);
    let ws = Workspace::new(GANTRY);
    let pipeline = format!(
        r#"
[pipeline]
name = "resume-failed"

[stage.a]
plugin = "{probe}"
with = {{ outputs = {{ v = "1" }}, timeline = "a.txt" }}
grants.fs.write = ["."]

[stage.b]
plugin = "{probe}"
needs = ["a"]
with = {{ succeed-on-attempt = 2, counter = "b.count", echo-inputs = true }}
grants.fs.write = ["."]

[stage.c]
plugin = "{probe}"
needs = ["b"]
"#
    );
    ws.write("pipeline.toml", &pipeline);

    let none = ws.gantry(&["run", "--resume"]);
    assert_eq!(none.code, 2, "{}", none.stderr);
    assert!(
        none.stderr.contains("there is no run to resume"),
        "{}",
        none.stderr
    );

    let first = ws.gantry(&["run"]);
    assert_eq!(first.code, 1, "{}", first.stderr);
    assert_eq!(first.stage("b")["status"], "failed");
    assert_eq!(first.stage("c")["status"], "skipped");
    let run_dir = only_run(&ws);
    let run_id = run_dir.file_name().unwrap().to_string_lossy().into_owned();

    // A changed grant: refused, named, nothing ran or was written.
    ws.write(
        "pipeline.toml",
        pipeline.replace(
            "[stage.c]\nplugin",
            "[stage.c]\ngrants.env = [\"CI\"]\nplugin",
        ),
    );
    let before = std::fs::read(run_dir.join("run.json")).unwrap();
    let changed = ws.gantry(&["run", "--resume", &run_id]);
    assert_eq!(changed.code, 2, "{}", changed.stderr);
    for needle in [
        &format!("cannot resume run `{run_id}`"),
        "`pipeline.toml` changed (sha256 ",
        "stage `c`: grants changed",
        "nothing ran",
    ] {
        assert!(
            changed.stderr.contains(needle),
            "{needle}: {}",
            changed.stderr
        );
    }
    assert_eq!(std::fs::read(run_dir.join("run.json")).unwrap(), before);
    assert_eq!(ws.read("b.count").trim(), "1");

    // Usage errors.
    let bad = ws.gantry(&["run", "--resume", "no-such-run"]);
    assert_eq!(bad.code, 2, "{}", bad.stderr);
    assert!(
        bad.stderr.contains("no run `no-such-run`"),
        "{}",
        bad.stderr
    );
    let with_dry = ws.gantry(&["run", "--resume", &run_id, "--dry-run"]);
    assert_eq!(with_dry.code, 2, "{}", with_dry.stderr);

    // Restored: the failed stage and the one it blocked run; `a` is reused.
    ws.write("pipeline.toml", &pipeline);
    let r = ws.gantry(&["run", "--resume", &run_id]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        r.stderr
            .contains("(finished with failures): reusing `a`; running again: `b`, `c`"),
        "{}",
        r.stderr
    );
    assert_eq!(
        ws.read("a.txt").matches("a start").count(),
        1,
        "`a` ran again"
    );
    assert_eq!(ws.read("b.count").trim(), "2");
    assert_eq!(r.output("b", "in_a_v"), "1");
    assert_eq!(r.stage("c")["status"], "succeeded");
    assert_eq!(only_run(&ws), run_dir);
    let sarif = r.file("report.sarif");
    assert_eq!(
        serde_json::from_str::<Value>(&sarif).unwrap()["runs"]
            .as_array()
            .map(Vec::len),
        Some(3),
        "reports cover reused and rerun stages"
    );
}
