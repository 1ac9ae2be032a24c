//! Attacks on the env and secrets capabilities with `tests/plugins/caps-probe`: each
//! case asserts what the plugin got (refused or contained), that the host went on and
//! a bystander stage finished, and what `audit.jsonl` recorded. Secret values must not
//! appear, in any form, in anything gantry writes; a grant that reaches a secret's
//! source file is refused.

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};
use gantry_test_plugins::{Run, Workspace, pinned, plugins};

const GANTRY: &str = env!("CARGO_BIN_EXE_gantry");
/// The secret's value, built at run time so this file stays clean for secret-scan.
fn token() -> String {
    format!("{}-{}", "tok3n", "Qx7vR2mL9pZs4Kd8")
}

/// A value with what encoders treat specially: `/`, `+`, spaces, quotes, `&`, non-ASCII.
fn special() -> String {
    format!(
        "{}/ial+V4lue w{}th \"q\" & {}",
        "sp3c", '\u{ef}', "more-9Zk"
    )
}

/// A multi-line value, as a PEM key is.
fn multi() -> String {
    format!(
        "-----BEGIN {} KEY-----\nMIIBOgIBAAJBAKj34GkxFhD9\nqXrT5vW8yZ1bC3dE6fG7\n-----END {} KEY-----",
        "TEST", "TEST"
    )
}

/// `value` cut in two at its middle character (as caps-probe cuts it).
fn halves(value: &str) -> (&str, &str) {
    let cut = value.char_indices().nth(value.chars().count() / 2);
    value.split_at(cut.map_or(0, |(i, _)| i))
}

fn percent(v: &str, every: bool, lower: bool, plus: bool) -> String {
    v.bytes()
        .map(|b| match b {
            b' ' if plus => "+".to_string(),
            b if !every && (b.is_ascii_alphanumeric() || b"-._~".contains(&b)) => {
                (b as char).to_string()
            }
            b if lower => format!("%{b:02x}"),
            b => format!("%{b:02X}"),
        })
        .collect()
}

/// Every form of `v` that must not appear in anything gantry writes.
fn forms(v: &str) -> Vec<String> {
    let json = serde_json::to_string(v).expect("a string is JSON");
    let json = json[1..json.len() - 1].to_string();
    let debug = format!("{v:?}");
    let mut out = vec![
        v.to_string(),
        v.to_ascii_uppercase(),
        STANDARD.encode(v),
        STANDARD_NO_PAD.encode(v),
        URL_SAFE.encode(v),
        URL_SAFE_NO_PAD.encode(v),
        STANDARD.encode(format!("ci:{v}")),
        hex::encode(v),
        hex::encode_upper(v),
        json.clone(),
        json.replace('/', "\\/"),
        debug[1..debug.len() - 1].to_string(),
        v.encode_utf16().map(|u| format!("\\u{u:04x}")).collect(),
        v.chars().map(|c| format!("&#{};", c as u32)).collect(),
        // As junit.xml would escape it.
        v.replace('&', "&amp;")
            .replace('"', "&quot;")
            .replace('<', "&lt;")
            .replace('>', "&gt;"),
    ];
    for every in [false, true] {
        for lower in [false, true] {
            for plus in [false, true] {
                out.push(percent(v, every, lower, plus));
            }
        }
    }
    if v.contains('\n') {
        out.push(v.replace('\n', "\r\n"));
        out.extend(v.lines().filter(|l| l.len() >= 6).map(String::from));
    } else {
        // The two halves a value is cut into.
        let (a, b) = halves(v);
        for half in [a, b] {
            out.push(half.to_string());
            let json = serde_json::to_string(half).expect("a string is JSON");
            out.push(json[1..json.len() - 1].to_string());
        }
    }
    out.sort();
    out.dedup();
    out
}

fn pipeline(stages: &str) -> String {
    format!(
        r#"[pipeline]
name = "caps"

[secrets]
TOKEN = {{ env = "GANTRY_TEST_TOKEN" }}
SPECIAL = {{ env = "GANTRY_TEST_SPECIAL" }}
MULTI = {{ env = "GANTRY_TEST_MULTI" }}
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
    let (t, sp, m) = (token(), special(), multi());
    let r = ws.gantry_env(
        &["run", "--no-fail-fast"],
        &[
            ("GANTRY_TEST_TOKEN", t.as_str()),
            ("GANTRY_TEST_SPECIAL", sp.as_str()),
            ("GANTRY_TEST_MULTI", m.as_str()),
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

    // Names only: the audit log never holds a value.
    assert!(!r.file("audit.jsonl").contains(&token()));

    // A granted secret that cannot be read stops the run before any stage starts,
    // pointing at its declaration (and `check` says the same).
    let ws = Workspace::new(GANTRY);
    ws.write(
        "pipeline.toml",
        pipeline(
            &r#"
[stage.missing]
plugin = "CAPS"
with = { get = ["MISSING"] }
grants.secrets = ["MISSING"]
"#
            .replace("CAPS", &pinned(plugins::CAPS_PROBE)),
        ),
    );
    for cmd in ["check", "run"] {
        let r = ws.gantry(&[cmd]);
        assert_eq!(r.code, 2, "{cmd}: {}", r.stderr);
        assert!(
            r.stderr.contains("secret `MISSING`, granted to stage `missing`, cannot be read: environment variable `GANTRY_TEST_NOT_SET` is not set"),
            "{cmd}: {}",
            r.stderr
        );
    }
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
    let files = assert_nowhere(&r, &forms(&t));
    assert!(files >= 7);
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

/// Asserts no file of the run and neither of gantry's output streams holds any of
/// `forms`; returns how many files were read.
fn assert_nowhere(r: &Run, forms: &[String]) -> usize {
    let dir = r.dir.clone().expect("a run directory");
    let mut files = 0;
    for entry in gantry_test_plugins::files_under(&dir) {
        let text = std::fs::read_to_string(&entry).unwrap_or_default();
        for f in forms {
            assert!(
                !text.contains(f.as_str()),
                "{} contains {f:?}:\n{text}",
                entry.display()
            );
        }
        files += 1;
    }
    for f in forms {
        assert!(!r.stdout.contains(f.as_str()), "stdout contains {f:?}");
        assert!(!r.stderr.contains(f.as_str()), "stderr contains {f:?}");
    }
    files
}

/// Every form caps-probe leaks a value in that does not end its stage.
const LEAKS: &str = r#"["plain", "upper", "base64", "basic-auth", "hex", "hex-upper", "split",
    "split-between", "json", "json-slash", "json-u", "url", "url-lower", "url-every", "url-plus",
    "html", "multi-line", "long-line", "output", "finding", "summary", "rule-id", "help-uri",
    "fix", "fingerprint", "location", "artifact", "audit"]"#;

#[test]
fn every_report_field_and_log_form_is_redacted() {
    let stages = ["TOKEN", "SPECIAL", "MULTI"]
        .iter()
        .map(|name| {
            let l = name.to_lowercase();
            format!(
                r#"
[stage.leak-{l}]
plugin = "CAPS"
with = {{ leak-secret = "{name}", leak = {LEAKS} }}
grants.reveal = ["{name}"]

[stage.key-{l}]
plugin = "CAPS"
with = {{ leak-secret = "{name}", leak = ["output-key"] }}
grants.reveal = ["{name}"]

[stage.error-{l}]
plugin = "CAPS"
with = {{ leak-secret = "{name}", leak = ["error"] }}
grants.reveal = ["{name}"]
"#
            )
        })
        .collect::<String>();
    let (_ws, r) = run(&stages);
    assert_eq!(r.code, 1, "{}", r.stderr);
    for (name, value) in [
        ("TOKEN", token()),
        ("SPECIAL", special()),
        ("MULTI", multi()),
    ] {
        let l = name.to_lowercase();
        let mask = format!("[secret:{name}]");
        assert_eq!(
            r.stage(&format!("leak-{l}"))["status"],
            "succeeded",
            "{}",
            r.stderr
        );
        // The value as an output key: a mask is no key, so the report is refused.
        let key = r.stage(&format!("key-{l}"));
        assert_eq!(key["status"], "failed");
        assert!(
            key["reason"]
                .as_str()
                .unwrap_or_default()
                .contains(&format!("output key `{mask}`")),
            "{key}"
        );
        let err = r.stage(&format!("error-{l}"));
        assert_eq!(err["status"], "failed");
        assert_eq!(err["reason"], format!("cannot go on: {mask}"), "{err}");
        // Each form was masked where it was leaked, not dropped.
        let log = r.log(&format!("leak-{l}"));
        for needle in [
            format!("the token is {mask}"),
            format!("begins {mask}"),
            format!("{mask} ends"),
            format!("url ?t={mask}"),
            format!("html {mask}"),
            format!("b64 {mask}"),
        ] {
            assert!(log.contains(&needle), "{name}: no {needle:?} in\n{log}");
        }
        assert!(
            r.audit()
                .iter()
                .any(|l| l.contains(&mask) && l.contains("\"decision\":\"deny\"")),
            "{name}: the refused get is audited, masked"
        );
        assert_nowhere(&r, &forms(&value));
    }
    let sarif = r.file("report.sarif");
    assert!(
        sarif.contains("[secret:TOKEN]"),
        "rule ids and messages keep the mask"
    );
}

#[test]
fn a_grant_reaching_a_secret_file_is_refused() {
    let ws = Workspace::new(GANTRY);
    let probe = pinned(plugins::CAPS_PROBE);
    ws.write("keys/deploy.key", "file-s3cret-value-0042\n");
    ws.write("src/main.rs", "fn main() {}\n");
    std::os::unix::fs::symlink("keys", ws.path("conf")).expect("symlink");
    // Outside the workspace: what the hint recommends.
    let outside = ws.root.with_extension("key");
    std::fs::write(&outside, "outside-s3cret-value\n").expect("write outside the workspace");
    let pipeline = |grant: &str, file: &str| {
        format!(
            "[pipeline]\nname = \"exposed\"\n\n[secrets]\nDEPLOY_KEY = {{ file = \"{file}\" }}\n\n\
             [stage.lint]\nplugin = \"{probe}\"\n{grant}\n"
        )
    };
    for (grant, why) in [
        ("grants.fs.read = [\".\"]", "grants.fs.read = [\".\"]"),
        ("grants.fs.read = [\"keys\"]", "grants.fs.read = [\"keys\"]"),
        (
            "grants.fs.write = [\"keys\"]",
            "grants.fs.write = [\"keys\"]",
        ),
        // Through a symbolic link to the directory that holds it.
        ("grants.fs.read = [\"conf\"]", "grants.fs.read = [\"conf\"]"),
    ] {
        ws.write("pipeline.toml", pipeline(grant, "keys/deploy.key"));
        for cmd in [&["check"][..], &["run"], &["audit"]] {
            let r = ws.gantry(cmd);
            assert_eq!(r.code, 2, "{cmd:?} {grant}: {}", r.stderr);
            for needle in [
                "stage `lint` can read secret `DEPLOY_KEY` without `grants.reveal`",
                why,
                "reaches `keys/deploy.key`",
                "hint: move the file out of the workspace",
                "or narrow stage `lint`'s grant",
            ] {
                assert!(
                    r.stderr.contains(needle),
                    "{cmd:?} {grant}: no {needle:?} in\n{}",
                    r.stderr
                );
            }
            assert!(!r.stderr.contains("file-s3cret-value"), "{}", r.stderr);
        }
    }
    // A grant that does not reach it, and a file outside the workspace, are fine.
    ws.write(
        "pipeline.toml",
        pipeline("grants.fs.read = [\"src\"]", "keys/deploy.key"),
    );
    let r = ws.gantry(&["check"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    // Grants are relative to `--workspace` when it is given.
    ws.write("ws2/sub/deploy.key", "file-s3cret-value-0042\n");
    // `check` looks at the default workspace, where `sub` exists without the key.
    ws.write("sub/.keep", "");
    ws.write(
        "pipeline.toml",
        pipeline("grants.fs.read = [\"sub\"]", "ws2/sub/deploy.key"),
    );
    assert_eq!(ws.gantry(&["check"]).code, 0);
    let r = ws.gantry(&["run", "--workspace", "ws2"]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(
        r.stderr
            .contains("`grants.fs.read = [\"sub\"]` reaches `sub/deploy.key`"),
        "{}",
        r.stderr
    );
    let file = outside.display().to_string();
    ws.write("pipeline.toml", pipeline("grants.fs.read = [\".\"]", &file));
    let r = ws.gantry(&["check"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let _ = std::fs::remove_file(&outside);
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
