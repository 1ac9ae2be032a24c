//! `builtin:secret-scan` through the binary: a clean tree passes, a planted credential
//! fails the run, and the credential's value appears in no record gantry writes.

use gantry_test_plugins::Workspace;

const GANTRY: &str = env!("CARGO_BIN_EXE_gantry");

const PIPELINE: &str = r#"
[pipeline]
name = "dogfood"

[stage.secrets]
plugin = "builtin:secret-scan"
with = { paths = ["."], allow-paths = ["vendor/**"] }
grants.fs.read = ["."]
"#;

/// A credential built at run time, so this file itself stays clean.
fn planted() -> String {
    format!("{}{}", "ghp_", "Zq3kT9vLm2Xw8Rb4Nc6Yd1Hf5Gj7Ks0Pa2Ue")
}

#[test]
fn clean_tree_passes_and_a_planted_secret_fails_without_leaking() {
    let ws = Workspace::new(GANTRY);
    ws.write("pipeline.toml", PIPELINE);
    ws.write(
        "src/main.rs",
        "fn main() { let token = std::env::var(\"GITHUB_TOKEN\"); }\n",
    );
    ws.write(
        "README.md",
        "Set `GITHUB_TOKEN=<your-token>` before running.\n",
    );
    let r = ws.gantry(&["run"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(r.stage("secrets")["outputs"]["findings"], "0");

    let secret = planted();
    ws.write(
        "src/config.rs",
        format!("\n\nconst TOKEN: &str = \"{secret}\";\n"),
    );
    ws.write("vendor/lib.rs", format!("const T: &str = \"{secret}\";\n"));
    let r = ws.gantry(&["run"]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    let stage = r.stage("secrets");
    assert_eq!(stage["status"], "failed");
    assert_eq!(
        stage["findings"]["error"], 1,
        "vendor/ is allowlisted: {stage}"
    );

    let sarif: serde_json::Value = serde_json::from_str(&r.file("report.sarif")).unwrap();
    let result = &sarif["runs"][0]["results"][0];
    assert_eq!(result["ruleId"], "github-token");
    let loc = &result["locations"][0]["physicalLocation"];
    assert_eq!(loc["artifactLocation"]["uri"], "src/config.rs");
    assert_eq!(loc["region"]["startLine"], 3);
    // The console says why the stage failed (`error:`) and names the finding under
    // it: level, rule, place.
    let under: Vec<&str> = r
        .stderr
        .lines()
        .skip_while(|l| !l.contains("✗ secrets"))
        .skip(1)
        .take(2)
        .collect();
    assert!(under[0].starts_with("  error: "), "{}", r.stderr);
    assert!(
        under[1].starts_with("    error github-token src/config.rs:3: "),
        "{}",
        r.stderr
    );

    // The value is in no record: SARIF, summary, logs, run.json, audit, junit, stdout/stderr.
    let dir = r.dir.clone().unwrap();
    let mut checked = 0;
    for entry in gantry_test_plugins::files_under(&dir) {
        let text = std::fs::read_to_string(&entry).unwrap_or_default();
        assert!(
            !text.contains(&secret),
            "{} contains the secret",
            entry.display()
        );
        assert!(
            !text.contains(&secret[4..]),
            "{} contains the secret's body",
            entry.display()
        );
        checked += 1;
    }
    assert!(checked >= 6);
    assert!(!r.stderr.contains(&secret) && !r.stdout.contains(&secret));

    // Inline marker accepts it.
    ws.write(
        "src/config.rs",
        format!("\n\nconst TOKEN: &str = \"{secret}\"; // gantry:allow\n"),
    );
    let r = ws.gantry(&["run"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
}

/// The plugin reads files through `wasi:filesystem` directly, and the host returns at
/// most 64 KiB per `read`: a credential deep in a large file is still found, at the
/// right line, and the byte count covers the whole file. An empty file and one over
/// `max-file-size` are handled too. (Before the fix, files were cut at 64 KiB.)
#[test]
fn credentials_deep_in_large_files_are_found() {
    let ws = Workspace::new(GANTRY);
    ws.write(
        "pipeline.toml",
        r#"
[pipeline]
name = "large"

[stage.secrets]
plugin = "builtin:secret-scan"
with = { paths = ["."], max-file-size = 1000000 }
grants.fs.read = ["."]
"#,
    );
    let secret = planted();
    // 300 KiB of filler lines, the credential, more filler: beyond four host reads.
    let line = "let value = compute_something(alpha, beta, gamma); // filler\n";
    let before = line.repeat(300 * 1024 / line.len());
    let after = line.repeat(1000);
    let body = format!("{before}const TOKEN: &str = \"{secret}\";\n{after}");
    ws.write("src/big.rs", &body);
    ws.write("src/empty.rs", "");
    ws.write("data/huge.txt", "x".repeat(1_000_001));
    let r = ws.gantry(&["run"]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    let stage = r.stage("secrets");
    assert_eq!(stage["findings"]["error"], 1, "{stage}");
    let sarif: serde_json::Value = serde_json::from_str(&r.file("report.sarif")).unwrap();
    let loc = &sarif["runs"][0]["results"][0]["locations"][0]["physicalLocation"];
    assert_eq!(loc["artifactLocation"]["uri"], "src/big.rs");
    assert_eq!(loc["region"]["startLine"], before.lines().count() + 1);
    let bytes: usize = stage["outputs"]["bytes"]
        .as_str()
        .and_then(|b| b.parse().ok())
        .unwrap_or_default();
    // The workspace also holds gantry's own records of this run, so at least.
    assert!(
        bytes >= body.len(),
        "every byte of the large file was read: {stage}"
    );
    assert!(
        r.file("logs/secrets.log")
            .contains("larger than max-file-size (1000001 > 1000000 bytes)"),
        "{}",
        r.file("logs/secrets.log")
    );
}
