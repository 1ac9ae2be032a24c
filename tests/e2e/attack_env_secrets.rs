//! Attacks on the env and secrets capabilities with `tests/plugins/caps-probe`: each
//! case asserts what the plugin got (refused or contained), that the host went on and
//! a bystander stage finished, and what `audit.jsonl` recorded. Secret values must not
//! appear, in any form, in anything gantry writes.

use base64::Engine as _;
use gantry_test_plugins::{Run, Workspace, pinned, plugins};

const GANTRY: &str = env!("CARGO_BIN_EXE_gantry");
/// The secret's value, built at run time so this file stays clean for secret-scan.
fn token() -> String {
    format!("{}-{}", "tok3n", "Qx7vR2mL9pZs4Kd8")
}

fn pipeline(stages: &str) -> String {
    format!(
        r#"[pipeline]
name = "caps"

[secrets]
TOKEN = {{ env = "GANTRY_TEST_TOKEN" }}
FROM_FILE = {{ file = "secret.txt" }}
MISSING = {{ env = "GANTRY_TEST_NOT_SET" }}

[stage.bystander]
plugin = "{probe}"

{stages}"#,
        probe = pinned(plugins::PROBE)
    )
}

fn run(stages: &str) -> (Workspace, Run) {
    let ws = Workspace::new(GANTRY);
    ws.write(
        "pipeline.toml",
        pipeline(&stages.replace("CAPS", &pinned(plugins::CAPS_PROBE))),
    );
    ws.write("secret.txt", "file-s3cret-value-0042\n");
    let t = token();
    let r = ws.gantry_env(
        &["run", "--no-fail-fast"],
        &[
            ("GANTRY_TEST_TOKEN", t.as_str()),
            ("GANTRY_TEST_LEAK", "leaky-host-value"),
            ("CI_FLAG", "yes"),
        ],
    );
    assert_eq!(r.stage("bystander")["status"], "succeeded", "{}", r.stderr);
    (ws, r)
}

fn audit_has(r: &Run, stage: &str, needles: &[&str]) -> bool {
    r.audit().iter().any(|l| {
        l.contains(&format!("\"stage\":\"{stage}\"")) && needles.iter().all(|n| l.contains(n))
    })
}

#[test]
fn environment_holds_only_granted_variables() {
    let (_ws, r) = run(r#"
[stage.probe-all]
plugin = "CAPS"
with = { list-env = true, read-env = ["GANTRY_TEST_LEAK", "HOME", "PATH", "GANTRY_TEST_TOKEN"] }

[stage.granted]
plugin = "CAPS"
with = { list-env = true, read-env = ["CI_FLAG"] }
grants.env = ["CI_FLAG", "NOT_SET_ANYWHERE"]
"#);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(r.output("probe-all", "env_names"), "");
    for v in ["GANTRY_TEST_LEAK", "HOME", "PATH", "GANTRY_TEST_TOKEN"] {
        assert_eq!(r.output("probe-all", &format!("env_{v}")), "<unset>");
    }
    assert_eq!(r.output("granted", "env_names"), "CI_FLAG");
    assert_eq!(r.output("granted", "env_CI_FLAG"), "yes");
    assert!(audit_has(
        &r,
        "granted",
        &[
            "\"capability\":\"env\"",
            "\"name\":\"CI_FLAG\"",
            "\"decision\":\"allow\""
        ]
    ));
    assert!(audit_has(
        &r,
        "granted",
        &["\"name\":\"NOT_SET_ANYWHERE\"", "not set"]
    ));
}

#[test]
fn secrets_without_grant_are_refused_naming_the_grant() {
    let (_ws, r) = run(r#"
[stage.no-grant]
plugin = "CAPS"
with = { get = ["TOKEN"] }

[stage.no-reveal]
plugin = "CAPS"
with = { get = ["TOKEN"], reveal = ["TOKEN"] }
grants.secrets = ["TOKEN"]

[stage.revealed]
plugin = "CAPS"
with = { reveal = ["TOKEN", "FROM_FILE"] }
grants.reveal = ["TOKEN", "FROM_FILE"]

[stage.missing]
plugin = "CAPS"
with = { get = ["MISSING"] }
grants.secrets = ["MISSING"]
"#);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let denied = r.output("no-grant", "get_TOKEN");
    assert!(denied.starts_with("denied:"), "{denied}");
    assert!(denied.contains("grants.secrets = [\"TOKEN\"]"), "{denied}");
    assert!(denied.contains("stage `no-grant`"), "{denied}");
    assert!(audit_has(
        &r,
        "no-grant",
        &[
            "\"capability\":\"secrets\"",
            "\"operation\":\"get\"",
            "\"decision\":\"deny\""
        ]
    ));

    assert_eq!(r.output("no-reveal", "get_TOKEN"), "ok:TOKEN");
    let denied = r.output("no-reveal", "reveal_TOKEN");
    assert!(
        denied.starts_with("denied:") && denied.contains("grants.reveal = [\"TOKEN\"]"),
        "{denied}"
    );
    assert!(audit_has(
        &r,
        "no-reveal",
        &["\"operation\":\"reveal\"", "\"decision\":\"deny\""]
    ));
    assert!(audit_has(
        &r,
        "no-reveal",
        &["\"operation\":\"get\"", "\"decision\":\"allow\""]
    ));

    assert_eq!(
        r.output("revealed", "reveal_TOKEN"),
        format!("ok:{} bytes", token().len())
    );
    assert_eq!(
        r.output("revealed", "reveal_FROM_FILE"),
        "ok:22 bytes",
        "file value without its newline"
    );
    assert!(audit_has(
        &r,
        "revealed",
        &[
            "\"operation\":\"reveal\"",
            "\"decision\":\"allow\"",
            "\"name\":\"TOKEN\""
        ]
    ));

    let missing = r.output("missing", "get_MISSING");
    assert!(
        missing.contains("environment variable `GANTRY_TEST_NOT_SET` is not set"),
        "{missing}"
    );
    // Names only: the audit log never holds a value.
    assert!(!r.file("audit.jsonl").contains(&token()));
}

#[test]
fn leaked_secret_values_are_redacted_everywhere() {
    let (_ws, r) = run(r#"
[stage.leaker]
plugin = "CAPS"
with = { leak-secret = "TOKEN", leak = ["plain", "base64", "basic-auth", "hex", "split", "json", "output", "finding", "summary"] }
grants.reveal = ["TOKEN"]

[stage.reader]
plugin = "CAPS"
needs = ["leaker"]
with = { read-env = ["X"] }
"#);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let t = token();
    let forms = [
        t.clone(),
        base64::engine::general_purpose::STANDARD.encode(&t),
        base64::engine::general_purpose::STANDARD.encode(format!("ci:{t}")),
        hex::encode(&t),
        t[..t.len() / 2].to_string() + &t[t.len() / 2..],
    ];
    let dir = r.dir.clone().unwrap();
    let mut files = 0;
    for entry in gantry_test_plugins::files_under(&dir) {
        let text = std::fs::read_to_string(&entry).unwrap_or_default();
        for f in &forms {
            assert!(
                !text.contains(f.as_str()),
                "{} contains {f}",
                entry.display()
            );
        }
        files += 1;
    }
    assert!(files >= 7);
    assert!(!r.stdout.contains(&t) && !r.stderr.contains(&t));
    let log = r.log("leaker");
    assert!(log.contains("the token is [secret:TOKEN]"), "{log}");
    assert!(log.contains("b64 [secret:TOKEN]"), "{log}");
    assert!(log.contains("hex [secret:TOKEN]"), "{log}");
    // Split across two records: both halves masked.
    assert!(log.contains("first half [secret:TOKEN]"), "{log}");
    assert_eq!(r.output("leaker", "leaked"), "[secret:TOKEN]");
    assert_eq!(r.stage("leaker")["summary"], "leaking [secret:TOKEN]");
    let sarif = r.file("report.sarif");
    assert!(sarif.contains("found [secret:TOKEN]"));
}

#[test]
fn handle_floods_are_capped() {
    let (_ws, r) = run(r#"
[stage.flood]
plugin = "CAPS"
with = { flood-secret = "TOKEN", flood = 5000 }
grants.secrets = ["TOKEN"]
"#);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(r.output("flood", "flood_held"), "1024");
    let refused = r.output("flood", "flood_refused");
    assert!(
        refused.starts_with("1024:denied:") && refused.contains("more than 1024 secret handles"),
        "{refused}"
    );
    assert!(audit_has(
        &r,
        "flood",
        &["\"decision\":\"deny\"", "handles"]
    ));
}
