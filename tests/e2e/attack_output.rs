//! Output spoofing, with `tests/plugins/spoof`: a plugin whose name, version,
//! description, rules, summary and error carry terminal control sequences, and whose
//! findings name files outside the workspace. What gantry prints must hold none of the
//! plugin's control characters (so its last line is gantry's own), and SARIF must not
//! turn the plugin's paths into links to host files.

use gantry_test_plugins::{Workspace, pinned, plugins};

const GANTRY: &str = env!("CARGO_BIN_EXE_gantry");

/// Characters that would let the plugin rewrite the terminal, and whether `text` holds
/// one (the newlines gantry prints itself are allowed).
fn control(text: &str) -> Option<char> {
    text.chars().find(|&c| {
        (c.is_control() && c != '\n')
            || matches!(
                c,
                '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}' | '\u{2028}' | '\u{2029}'
            )
    })
}

fn workspace(stages: &str) -> Workspace {
    let ws = Workspace::new(GANTRY);
    ws.write("src/ok.rs", "fn ok() {}\n");
    ws.write(
        "pipeline.toml",
        format!(
            "[pipeline]\nname = \"spoof\"\n\n{}",
            stages.replace("SPOOF", &pinned(plugins::SPOOF))
        ),
    );
    ws
}

#[test]
fn console_output_cannot_be_spoofed() {
    let ws = workspace(
        r#"
[stage.summary]
plugin = "SPOOF"

[stage.error]
plugin = "SPOOF"
with = { fail = true }
allow-failure = true
"#,
    );
    let r = ws.gantry(&["run", "--color", "always"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    // Colour is on, so gantry's own escapes are expected: strip exactly those.
    let plain = r
        .stderr
        .replace("\u{1b}[0m", "")
        .replace("\u{1b}[31m", "")
        .replace("\u{1b}[32m", "")
        .replace("\u{1b}[33m", "")
        .replace("\u{1b}[2m", "")
        .replace("\u{1b}[1m", "");
    assert_eq!(
        control(&plain),
        None,
        "a control character reached the terminal:\n{plain:?}"
    );
    let lines: Vec<&str> = plain.lines().collect();
    let last = lines.last().copied().unwrap_or_default();
    assert!(
        last.starts_with("ok 2 succeeded, 0 failed, 0 skipped, 0 cancelled; records in"),
        "{plain}"
    );
    assert_eq!(
        lines.iter().filter(|l| l.starts_with("ok ")).count(),
        1,
        "a forged final line: {plain}"
    );
    // The plugin's text is there, made visible.
    assert!(
        plain.contains("\\r\\u{1b}[2K\\u{1b}[32m✓ deploy 0.01s\\nok 8 succeeded"),
        "{plain}"
    );
    // The stage log keeps each record on its line too.
    let log = r.log("error");
    assert_eq!(control(&log), None, "{log:?}");
}

#[test]
fn audit_and_inspect_show_the_plugin_s_words_escaped() {
    let ws = workspace("[stage.summary]\nplugin = \"SPOOF\"\n");
    let r = ws.gantry(&["audit"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(control(&r.stdout), None, "{:?}", r.stdout);
    assert!(
        r.stdout
            .contains("(spoof\\u{1b}[8m 1.0\\u{202e}0.9\\r\\u{1b}[2K)"),
        "{}",
        r.stdout
    );
    assert!(r.stdout.contains("capabilities (imported → granted):"));

    // `--json` too: JSON escapes C0 controls itself; gantry escapes the rest.
    for args in [
        &["audit", "--json"][..],
        &["check", "--json"],
        &["plugin", "inspect", plugins::SPOOF, "--json"],
    ] {
        let r = ws.gantry(args);
        assert_eq!(r.code, 0, "{args:?}: {}", r.stderr);
        assert_eq!(control(&r.stdout), None, "{args:?}: {:?}", r.stdout);
        let v: serde_json::Value = serde_json::from_str(&r.stdout).expect("JSON");
        assert!(v.to_string().contains("1.0\u{202e}0.9"), "{args:?}: {v}");
    }

    let r = ws.gantry(&["plugin", "inspect", plugins::SPOOF]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(control(&r.stdout), None, "{:?}", r.stdout);
    let first = r.stdout.lines().next().unwrap_or_default();
    assert_eq!(first, "spoof\\u{1b}[8m 1.0\\u{202e}0.9\\r\\u{1b}[2K");
    for needle in [
        "  description: hides\\u{1b}[8m what follows\\u{2028}and this",
        "imports (the most it can ever do):",
        "rule\\u{1b}[2J",
        "short\\u{9b}31m description",
    ] {
        assert!(r.stdout.contains(needle), "no {needle:?} in\n{}", r.stdout);
    }
}

#[test]
fn finding_paths_outside_the_workspace_never_become_links() {
    let ws = workspace(
        r#"
[stage.paths]
plugin = "SPOOF"
with = { paths = ["../../etc/passwd", "/etc/shadow", "src/..\\..\\..\\etc\\passwd", "/workspace/src/ok.rs", "src/../src/./ok.rs"] }
"#,
    );
    let r = ws.gantry(&["run"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let sarif: serde_json::Value =
        serde_json::from_str(&r.file("report.sarif")).expect("SARIF is JSON");
    let results = sarif["runs"][0]["results"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert_eq!(results.len(), 5, "{sarif:#}");
    let text = sarif.to_string();
    assert!(!text.contains("file:///etc"), "{text}");
    for r in &results[..3] {
        assert!(r.get("locations").is_none(), "{r}");
        assert!(r.get("fixes").is_none(), "{r}");
        assert!(
            r["message"]["text"]
                .as_str()
                .is_some_and(|m| m.contains("dropped by gantry")),
            "{r}"
        );
    }
    // Inside the workspace (the plugin's own `/workspace/…` view included): normalized.
    for r in &results[3..] {
        let loc = &r["locations"][0]["physicalLocation"]["artifactLocation"];
        assert_eq!(loc["uri"], "src/ok.rs", "{r}");
        assert_eq!(loc["uriBaseId"], "WORKSPACE", "{r}");
        assert_eq!(
            r["fixes"][0]["artifactChanges"][0]["artifactLocation"]["uri"],
            "src/ok.rs"
        );
    }
    let log = r.log("paths");
    for (path, why) in [
        (
            "../../etc/passwd",
            "it climbs out of the workspace with `..`",
        ),
        ("/etc/shadow", "an absolute path outside the workspace"),
        ("src/..\\..\\..\\etc\\passwd", "the path contains `\\`"),
    ] {
        assert!(
            log.contains(&format!(
                "location `{path}` dropped: {why}; the finding is kept without it"
            )),
            "{path}: {log}"
        );
        assert!(
            log.contains(&format!("fix of `{path}` dropped: {why}")),
            "{log}"
        );
    }
    // run.json keeps the findings, without the locations.
    let run: serde_json::Value = serde_json::from_str(&r.file("run.json")).expect("JSON");
    let findings = &run["stages"][0]["report"]["findings"];
    assert!(findings[0]["location"].is_null(), "{findings}");
    assert_eq!(findings[3]["location"]["path"], "src/ok.rs");
}
