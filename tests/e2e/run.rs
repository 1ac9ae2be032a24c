//! End-to-end runs of fixture pipelines through the `gantry` binary: DAG order,
//! parallelism, fail-fast, retries, `when`, outputs between stages, exit codes.

use gantry_test_plugins::{Workspace, pinned, plugins};

const GANTRY: &str = env!("CARGO_BIN_EXE_gantry");

fn probe() -> String {
    pinned(plugins::PROBE)
}

fn ws(pipeline: &str) -> Workspace {
    let ws = Workspace::new(GANTRY);
    ws.write("pipeline.toml", pipeline);
    ws
}

/// `(stage, event, ms)` lines a probe wrote to its timeline file.
fn timeline(ws: &Workspace, rel: &str) -> Vec<(String, String, u128)> {
    ws.read(rel)
        .lines()
        .map(|l| {
            let mut p = l.split(' ');
            (
                p.next().unwrap().to_string(),
                p.next().unwrap().to_string(),
                p.next().unwrap().parse().unwrap(),
            )
        })
        .collect()
}

fn time_of(t: &[(String, String, u128)], stage: &str, ev: &str) -> u128 {
    t.iter()
        .find(|(s, e, _)| s == stage && e == ev)
        .unwrap_or_else(|| panic!("no {stage} {ev} in {t:?}"))
        .2
}

#[test]
fn stages_run_after_their_needs_and_receive_outputs() {
    let p = probe();
    let ws = ws(&format!(
        r#"
[pipeline]
name = "order"

[stage.c]
plugin = "{p}"
needs = ["b"]
with = {{ timeline = "out/t", outputs = {{ final = "${{stages.b.outputs.tag}}-${{stages.a.outputs.ref}}" }}, echo-inputs = true }}
grants.fs.write = ["out"]

[stage.b]
plugin = "{p}"
needs = ["a"]
with = {{ timeline = "out/t", outputs = {{ tag = "v${{stages.a.outputs.ref}}" }} }}
grants.fs.write = ["out"]

[stage.a]
plugin = "{p}"
with = {{ timeline = "out/t", outputs = {{ ref = "1.2" }} }}
grants.fs.write = ["out"]
"#
    ));
    let r = ws.gantry(&["run"]);
    assert_eq!(r.code, 0, "stderr:\n{}", r.stderr);
    let t = timeline(&ws, "out/t");
    assert!(time_of(&t, "a", "end") <= time_of(&t, "b", "start"));
    assert!(time_of(&t, "b", "end") <= time_of(&t, "c", "start"));
    let c = r.stage("c");
    assert_eq!(c["outputs"]["final"], "v1.2-1.2");
    // Inputs include transitive needs.
    assert_eq!(c["outputs"]["in_a_ref"], "1.2");
    assert_eq!(c["outputs"]["in_b_tag"], "v1.2");
    assert_eq!(r.summary()["status"], "succeeded");
}

#[test]
fn independent_stages_run_in_parallel_up_to_jobs() {
    let p = probe();
    let ws = ws(&format!(
        r#"
[pipeline]
name = "parallel"

[stage.x]
plugin = "{p}"
with = {{ timeline = "out/t", spin-ms = 600 }}
grants.fs.write = ["out"]

[stage.y]
plugin = "{p}"
with = {{ timeline = "out/t", spin-ms = 600 }}
grants.fs.write = ["out"]
"#
    ));
    let r = ws.gantry(&["run", "--jobs", "2"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let t = timeline(&ws, "out/t");
    // Overlap: each started before the other ended.
    assert!(time_of(&t, "x", "start") < time_of(&t, "y", "end"), "{t:?}");
    assert!(time_of(&t, "y", "start") < time_of(&t, "x", "end"), "{t:?}");

    std::fs::remove_file(ws.path("out/t")).unwrap();
    let r = ws.gantry(&["run", "--jobs", "1"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let t = timeline(&ws, "out/t");
    let (first, second) = if time_of(&t, "x", "start") < time_of(&t, "y", "start") {
        ("x", "y")
    } else {
        ("y", "x")
    };
    assert!(
        time_of(&t, first, "end") <= time_of(&t, second, "start"),
        "--jobs 1 overlapped: {t:?}"
    );
}

#[test]
fn fail_fast_cancels_stages_in_flight_and_skips_dependents() {
    let p = probe();
    let ws = ws(&format!(
        r#"
[pipeline]
name = "failfast"

[stage.bad]
plugin = "{p}"
with = {{ error = "boom" }}

[stage.slow]
plugin = "{p}"
with = {{ spin-ms = 30000 }}

[stage.after]
plugin = "{p}"
needs = ["bad"]
"#
    ));
    // The slow stage would spin for 30 s; `cancelled` below says it was stopped. The
    // limit is only a hang watchdog.
    let r = ws.gantry_within(&["run", "--jobs", "2"], std::time::Duration::from_secs(600));
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert_eq!(r.stage("bad")["status"], "failed");
    assert_eq!(r.stage("bad")["reason"], "boom");
    assert_eq!(r.stage("slow")["status"], "cancelled");
    assert_eq!(r.stage("after")["status"], "skipped");
    assert!(r.stderr.contains("✗ bad"), "{}", r.stderr);

    // Without fail-fast the independent stage completes.
    let ws2 = Workspace::new(GANTRY);
    ws2.write(
        "pipeline.toml",
        format!(
            r#"
[pipeline]
name = "nofailfast"
[stage.bad]
plugin = "{p}"
with = {{ error = "boom" }}
[stage.ok]
plugin = "{p}"
with = {{ spin-ms = 200 }}
"#
        ),
    );
    let r = ws2.gantry(&["run", "--no-fail-fast", "--jobs", "1"]);
    assert_eq!(r.code, 1);
    assert_eq!(r.stage("ok")["status"], "succeeded");
}

#[test]
fn retries_rerun_erroring_stages_until_they_succeed() {
    let p = probe();
    let ws = ws(&format!(
        r#"
[pipeline]
name = "retry"

[stage.flaky]
plugin = "{p}"
retries = 3
with = {{ succeed-on-attempt = 3, counter = "state/n" }}
grants.fs.write = ["state"]

[stage.hopeless]
plugin = "{p}"
retries = 1
allow-failure = true
with = {{ error = "always" }}
"#
    ));
    let r = ws.gantry(&["run"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(r.stage("flaky")["status"], "succeeded");
    assert_eq!(r.stage("flaky")["attempts"], 3);
    assert_eq!(ws.read("state/n"), "3");
    assert!(
        r.log("flaky")
            .contains("attempt 2 failed: flaky: attempt 2 < 3; retrying")
    );
    assert_eq!(r.stage("hopeless")["status"], "failed-allowed");
    assert_eq!(r.stage("hopeless")["attempts"], 2);
}

#[test]
fn a_reported_failure_is_not_retried_and_fails_the_run() {
    let p = probe();
    let ws = ws(&format!(
        r#"
[pipeline]
name = "findings"

[stage.scan]
plugin = "{p}"
retries = 2
with = {{ fail = true }}
"#
    ));
    let r = ws.gantry(&["run"]);
    assert_eq!(r.code, 1);
    assert_eq!(r.stage("scan")["attempts"], 1);
    assert_eq!(r.stage("scan")["findings"]["error"], 1);
}

#[test]
fn when_conditions_skip_stages_with_a_reason() {
    let p = probe();
    let ws = ws(&format!(
        r#"
[pipeline]
name = "when"

[stage.main-only]
plugin = "{p}"
when = {{ branch = "main" }}

[stage.tagged]
plugin = "{p}"
when = {{ tag = "v*" }}

[stage.with-token]
plugin = "{p}"
when = {{ env = ["DEPLOY_TOKEN"] }}

[stage.after-tagged]
plugin = "{p}"
needs = ["tagged"]
"#
    ));
    let r = ws.gantry_env(
        &["run"],
        &[("GANTRY_GIT_BRANCH", "feature/x"), ("DEPLOY_TOKEN", "t")],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(r.stage("main-only")["status"], "skipped");
    let reason = r.stage("main-only")["reason"].as_str().unwrap().to_string();
    assert!(
        reason.contains("branch `feature/x` does not match `main`"),
        "{reason}"
    );
    assert_eq!(r.stage("tagged")["status"], "skipped");
    assert_eq!(r.stage("with-token")["status"], "succeeded");
    assert_eq!(r.stage("after-tagged")["status"], "skipped");
    assert!(
        r.stage("after-tagged")["reason"]
            .as_str()
            .unwrap()
            .contains("needs `tagged`")
    );

    let r = ws.gantry_env(
        &["run"],
        &[("GANTRY_GIT_BRANCH", "main"), ("GANTRY_GIT_TAG", "v1.0.0")],
    );
    assert_eq!(r.stage("main-only")["status"], "succeeded");
    assert_eq!(r.stage("tagged")["status"], "succeeded");
    assert_eq!(r.stage("after-tagged")["status"], "succeeded");
    assert_eq!(r.stage("with-token")["status"], "skipped");
}

#[test]
fn running_named_stages_brings_their_needs_only() {
    let p = probe();
    let ws = ws(&format!(
        r#"
[pipeline]
name = "select"
[stage.a]
plugin = "{p}"
[stage.b]
plugin = "{p}"
needs = ["a"]
[stage.other]
plugin = "{p}"
"#
    ));
    let r = ws.gantry(&["run", "b"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let s = r.summary();
    let names: Vec<&str> = s["stages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["stage"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["a", "b"]);

    let r = ws.gantry(&["run", "bb"]);
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("no stage named `bb`"), "{}", r.stderr);
    assert!(r.stderr.contains("did you mean `b`?"), "{}", r.stderr);
}

#[test]
fn records_are_written_for_every_run() {
    let p = probe();
    let ws = ws(&format!(
        r#"
[pipeline]
name = "records"
[stage.lint]
plugin = "{p}"
with = {{ findings = [["probe-note", "note", "src/x.rs", 3]], artifacts = ["dist/a.txt", "../etc/passwd"] }}
grants.fs.write = ["dist"]
"#
    ));
    ws.write("dist/a.txt", "artifact");
    let r = ws.gantry(&["run", "--json"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    // --json prints the summary on stdout.
    let printed: serde_json::Value = serde_json::from_str(&r.stdout).expect("stdout is JSON");
    assert_eq!(printed["pipeline"], "records");
    for f in [
        "run.json",
        "summary.json",
        "report.sarif",
        "junit.xml",
        "audit.jsonl",
        "logs/lint.log",
    ] {
        assert!(r.dir.as_ref().unwrap().join(f).exists(), "{f} missing");
    }
    let run: serde_json::Value = serde_json::from_str(&r.file("run.json")).unwrap();
    assert_eq!(run["state"], "finished");
    let sarif: serde_json::Value = serde_json::from_str(&r.file("report.sarif")).unwrap();
    assert_eq!(sarif["version"], "2.1.0");
    assert_eq!(sarif["runs"][0]["results"][0]["ruleId"], "probe-note");
    let artifacts = &r.stage("lint")["artifacts"];
    assert_eq!(artifacts[0]["path"], "dist/a.txt");
    assert!(
        artifacts[0]["digest"]
            .as_str()
            .unwrap()
            .starts_with("sha256:")
    );
    assert!(
        artifacts[1]["digest"].is_null(),
        "an artifact outside the workspace was collected"
    );
    assert!(r.log("lint").contains("probe running stage=lint"));
    assert!(r.file("junit.xml").contains("<testcase"));
}

/// `[inputs]`: typed values a run is started with. Wrong values are refused before
/// anything runs, each named, with how to give it; good ones reach the stages through
/// `${inputs.NAME}` (defaults filling the rest) and are recorded with the run.
#[test]
fn typed_inputs_from_the_command_line_reach_the_stages_and_the_records() {
    let ws = ws(&format!(
        r#"[pipeline]
name = "inputs"

[inputs]
version = {{ type = "version", description = "the release to deploy" }}
replicas = {{ type = "integer", default = 2 }}

[stage.deploy]
plugin = "{}"
with = {{ outputs = {{ image = "app:${{inputs.version}}", replicas = "${{inputs.replicas}}" }} }}
"#,
        probe()
    ));
    let plan = ws.gantry(&["plan"]);
    assert!(
        plan.stdout.contains(
            "input version (version, required: `--input version=VALUE`): the release to deploy"
        ) && plan
            .stdout
            .contains("input replicas (integer, default `2`)"),
        "{}",
        plan.stdout
    );

    for (args, expected) in [
        (
            vec!["run"],
            "input `version` (version) has no default: pass `--input version=1.2.3`",
        ),
        (
            vec!["run", "--input", "version=v1.4"],
            "input `version` is a version: `v1.4` is not a semantic version",
        ),
        (
            vec!["run", "--input", "versoin=1.4.0"],
            "unknown input `versoin`; did you mean `version`?",
        ),
        (
            vec![
                "run",
                "--input",
                "version=1.4.0",
                "--input",
                "replicas=many",
            ],
            "input `replicas` is an integer: `many` is not a whole number",
        ),
        (
            vec!["run", "--input", "version"],
            "`--input version` is not NAME=VALUE",
        ),
    ] {
        let r = ws.gantry(&args);
        assert_eq!(r.code, 2, "{args:?}: {}", r.stderr);
        assert!(r.stderr.contains(expected), "{args:?}: {}", r.stderr);
        assert!(r.dir.is_none(), "{args:?}: nothing ran, no run records");
    }

    let r = ws.gantry(&["run", "--input", "version=1.4.0-rc.1"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(r.output("deploy", "image"), "app:1.4.0-rc.1");
    assert_eq!(r.output("deploy", "replicas"), "2", "the default");
    let run: serde_json::Value = serde_json::from_str(&r.file("run.json")).expect("run.json");
    assert_eq!(
        run["inputs"],
        serde_json::json!({"version": "1.4.0-rc.1", "replicas": "2"})
    );
    let summary = r.summary();
    assert_eq!(summary["inputs"]["version"], "1.4.0-rc.1");
}

/// A resumed run keeps the inputs it was started with: `--input` is refused next to
/// `--resume`, and the stage that runs again sees the original value.
#[test]
fn a_resumed_run_keeps_its_inputs() {
    let ws = ws(&format!(
        r#"[pipeline]
name = "inputs-resume"

[inputs]
reason = {{ type = "string" }}

[stage.flaky]
plugin = "{}"
with = {{ error = "failed because ${{inputs.reason}}" }}
"#,
        probe()
    ));
    let r = ws.gantry(&["run", "--input", "reason=the-first-value"]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    let r = ws.gantry(&["run", "--resume", "--input", "reason=another"]);
    assert_eq!(r.code, 2, "`--input` with `--resume`: {}", r.stderr);
    let r = ws.gantry(&["run", "--resume"]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(
        r.stage("flaky")["reason"]
            .as_str()
            .unwrap_or_default()
            .contains("failed because the-first-value"),
        "{}",
        r.stage("flaky")
    );
    let run: serde_json::Value = serde_json::from_str(&r.file("run.json")).expect("run.json");
    assert_eq!(run["inputs"]["reason"], "the-first-value");
    assert!(run["resumed"].is_array(), "{run}");
}

/// `when.on-failure`: a rollback stage runs when the stage it names failed — even
/// under fail-fast, which stops everything else — with the outputs the failed stage
/// reported; the run still fails. When nothing failed it is skipped, and says why.
#[test]
fn on_failure_stages_run_when_what_they_name_failed() {
    let pipeline = |fail: bool| {
        format!(
            r#"[pipeline]
name = "rollback"

[stage.deploy]
plugin = "{p}"
with = {{ outputs = {{ previous = "v1" }} }}

[stage.verify]
plugin = "{p}"
needs = ["deploy"]
with = {{ fail = {fail}, outputs = {{ checked = "v2" }} }}

[stage.rollback]
plugin = "{p}"
needs = ["deploy", "verify"]
when = {{ on-failure = ["verify"] }}
with = {{ outputs = {{ to = "${{stages.deploy.outputs.previous}}", after = "${{stages.verify.outputs.checked}}" }} }}

[stage.announce]
plugin = "{p}"
needs = ["verify"]
"#,
            p = probe()
        )
    };
    let ws = ws(&pipeline(true));
    let r = ws.gantry(&["run"]);
    assert_eq!(r.code, 1, "the verification failed: {}", r.stderr);
    assert_eq!(r.stage("verify")["status"], "failed");
    assert_eq!(r.stage("rollback")["status"], "succeeded", "{}", r.stderr);
    assert_eq!(r.output("rollback", "to"), "v1");
    assert_eq!(
        r.output("rollback", "after"),
        "v2",
        "the failed stage's outputs"
    );
    assert_eq!(r.stage("announce")["status"], "skipped");

    ws.write("pipeline.toml", pipeline(false));
    let r = ws.gantry(&["run"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(r.stage("rollback")["status"], "skipped");
    assert_eq!(
        r.stage("rollback")["reason"],
        "`when.on-failure`: `verify` did not fail"
    );
    let plan = ws.gantry(&["plan"]);
    assert!(
        plan.stdout.contains("when: verify failed"),
        "{}",
        plan.stdout
    );

    // A stage can only run on the failure of a stage it needs.
    ws.write(
        "pipeline.toml",
        pipeline(false).replace(r#"needs = ["deploy", "verify"]"#, r#"needs = ["deploy"]"#),
    );
    let r = ws.gantry(&["check"]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(
        r.stderr.contains(
            "`when.on-failure` of stage `rollback` names `verify`, which it does not need"
        ) && r.stderr.contains(r#"needs = ["deploy", "verify"]"#),
        "{}",
        r.stderr
    );
}

/// `[environments]`: a stage deploying to an environment that wants approval runs
/// only with `--approve`, and only from the refs the environment accepts; otherwise
/// it is skipped with the reason. Approvals are recorded with the run.
#[test]
fn environments_gate_their_stages_by_approval_and_ref() {
    let ws = ws(&format!(
        r#"[pipeline]
name = "envs"

[environments.staging]

[environments.production]
approval = true
branches = ["main"]
tags = ["v*"]

[stage.deploy-staging]
plugin = "{p}"
environment = "staging"

[stage.deploy-production]
plugin = "{p}"
needs = ["deploy-staging"]
environment = "production"
"#,
        p = probe()
    ));
    let on = |branch: &str, args: &[&str]| ws.gantry_env(args, &[("GANTRY_GIT_BRANCH", branch)]);

    let r = on("main", &["run"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(r.stage("deploy-staging")["status"], "succeeded");
    assert_eq!(r.stage("deploy-production")["status"], "skipped");
    assert_eq!(
        r.stage("deploy-production")["reason"],
        "environment `production` requires approval: run with `--approve production`"
    );

    let r = on("main", &["run", "--approve", "production"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(r.stage("deploy-production")["status"], "succeeded");
    let run: serde_json::Value = serde_json::from_str(&r.file("run.json")).expect("run.json");
    assert_eq!(run["approved"], serde_json::json!(["production"]));

    let r = on("feature/x", &["run", "--approve", "production"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(
        r.stage("deploy-production")["reason"],
        "environment `production` accepts deploys from branch `main` or tag `v*` only (this run: branch `feature/x`)"
    );

    let r = on("main", &["run", "--approve", "prod"]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(
        r.stderr.contains("`--approve prod`: no such environment"),
        "{}",
        r.stderr
    );

    let plan = ws.gantry(&["plan"]);
    assert!(
        plan.stdout.contains("environment: production (approval required (`--approve production`); branches main; tags v*)"),
        "{}",
        plan.stdout
    );

    ws.write(
        "pipeline.toml",
        ws.read("pipeline.toml").replace(
            r#"environment = "production""#,
            r#"environment = "prodution""#,
        ),
    );
    let r = ws.gantry(&["check"]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(
        r.stderr
            .contains("stage `deploy-production` deploys to undeclared environment `prodution`")
            && r.stderr.contains("did you mean `production`?"),
        "{}",
        r.stderr
    );
}

/// `gantry rollback` refuses, before anything runs, to return to a version whose
/// deploy was not verified (unless `--force`) and to roll back a stage of an
/// environment that requires approval (unless `--yes`). The deployment history here
/// is written as gantry writes it; nothing reaches a Docker engine.
#[test]
fn rollback_refuses_unverified_targets_and_unconfirmed_protected_environments() {
    let ws = ws(&format!(
        r#"[pipeline]
name = "rollback-guards"

[environments.production]
approval = true

[stage.prep]
plugin = "{}"

[stage.deploy]
plugin = "builtin:docker-deploy"
environment = "production"
with = {{ name = "app-web", image = "app:3", port = 8080, host-port = 18080, staging-port = 18081 }}
"#,
        probe()
    ));
    // A run creates the workspace's state directory; the history goes next to `runs/`.
    assert_eq!(ws.gantry(&["run", "prep"]).code, 0);
    let state = std::fs::read_dir(ws.state.join("workspaces"))
        .expect("state base")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .find(|p| p.join("runs").is_dir())
        .expect("the workspace's state directory");
    let entry = |image: &str, run: &str, verified: bool| {
        serde_json::json!({"stage": "deploy", "status": "succeeded", "image": image, "run": run, "verified": verified}).to_string()
    };
    std::fs::write(
        state.join("deployments.jsonl"),
        [
            entry("app:1", "r1", true),
            entry("app:2", "r2", false),
            entry("app:3", "r3", true),
        ]
        .join("\n")
            + "\n",
    )
    .expect("write the history");

    let r = ws.gantry(&["rollback", "deploy"]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(
        r.stderr
            .contains("`app:2` was deployed by run `r2` but not verified there")
            && r.stderr.contains("`--force` deploys it anyway"),
        "{}",
        r.stderr
    );
    let r = ws.gantry(&["rollback", "deploy", "--to", "r1"]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(
        r.stderr
            .contains("deploys to environment `production`, which requires approval")
            && r.stderr.contains("confirm with `--yes`"),
        "{}",
        r.stderr
    );
    let listed = ws.gantry(&["deployments", "deploy"]);
    assert_eq!(listed.stdout.lines().count(), 3, "{}", listed.stdout);
}
