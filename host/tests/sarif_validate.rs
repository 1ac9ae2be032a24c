//! Validates gantry's SARIF output with Microsoft's SARIF Multitool (`sarif-multitool validate`).
//!
//! The tool is found at `$GANTRY_SARIF_MULTITOOL`, else at
//! `<repo>/tools/sarif/node_modules/.bin/sarif-multitool` (install: `npm ci --prefix tools/sarif`).
//! Without it the tests print `SKIPPED: …` and pass, unless `CI=true`, where they fail.
//!
//! Note: the npm launcher (`bin.js`) runs the native binary through a shell, so the arguments
//! given here avoid spaces and `;` (the tool runs in the output directory with relative names).
//! The multitool exits 0 even when the log has errors, so the verdict is read from its
//! `--output` SARIF file.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;

use gantry::report::{
    Finding, Fix, Level, Location, Outcome, PluginInfo, Region, Rule, StageRecord, StageReport,
    StageStatus,
};
use serde_json::{Value, json};

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

const INSTALL_HINT: &str = "install it with `npm ci --prefix tools/sarif` from the repository root \
     (needs Node.js >= 18; pinned in tools/sarif/package.json), or point GANTRY_SARIF_MULTITOOL at a \
     sarif-multitool binary";

/// The validator, or `None` when it is not installed and the tests may be skipped.
fn multitool(test: &str) -> Option<PathBuf> {
    let path = match std::env::var_os("GANTRY_SARIF_MULTITOOL") {
        Some(p) if !p.is_empty() => PathBuf::from(p),
        _ => repo_root().join("tools/sarif/node_modules/.bin/sarif-multitool"),
    };
    if path.is_file() {
        return Some(path);
    }
    if gantry_test_plugins::in_ci() {
        panic!(
            "{test}: SARIF Multitool not found at {} and CI=true; {INSTALL_HINT}",
            path.display()
        );
    }
    // Straight to the process's stderr, so the notice shows even when output is captured.
    let _ = writeln!(
        std::io::stderr(),
        "SKIPPED: {test}: SARIF Multitool not found at {}; {INSTALL_HINT}",
        path.display()
    );
    None
}

struct Verdict {
    errors: Vec<String>,
    warnings: Vec<String>,
}

/// Run `sarif-multitool validate` on `log` and collect what it reports.
fn validate(tool: &Path, name: &str, log: &Value) -> Verdict {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("sarif_validate");
    std::fs::create_dir_all(&dir).expect("create temp dir");
    let input = format!("{name}.sarif");
    let output = format!("{name}.validation.sarif");
    let text = serde_json::to_string_pretty(log).expect("serialize SARIF");
    std::fs::write(dir.join(&input), text).expect("write SARIF");
    let _ = std::fs::remove_file(dir.join(&output));

    let out = Command::new(tool)
        .current_dir(&dir)
        .args([
            "validate",
            &input,
            "--output",
            &output,
            "--log",
            "ForceOverwrite",
        ])
        .output()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}; {INSTALL_HINT}", tool.display()));
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    println!("--- sarif-multitool validate {input} ---\n{stdout}{stderr}");
    assert!(
        out.status.success(),
        "sarif-multitool exited with {} (if it cannot find ICU, set DOTNET_SYSTEM_GLOBALIZATION_INVARIANT=1 \
         or install libicu):\n{stdout}\n{stderr}",
        out.status
    );

    let report = std::fs::read_to_string(dir.join(&output))
        .unwrap_or_else(|e| panic!("validator wrote no {output}: {e}\n{stdout}\n{stderr}"));
    let report: Value = serde_json::from_str(&report).expect("validator output is JSON");
    let mut verdict = Verdict {
        errors: Vec::new(),
        warnings: Vec::new(),
    };
    let runs = report["runs"]
        .as_array()
        .expect("validator output has runs");
    assert!(!runs.is_empty(), "validator output has no run");
    for run in runs {
        let rules = run["tool"]["driver"]["rules"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        for inv in run["invocations"].as_array().into_iter().flatten() {
            if inv["executionSuccessful"] != json!(true) {
                verdict
                    .errors
                    .push(format!("validator execution failed: {inv}"));
            }
            for n in inv["toolExecutionNotifications"]
                .as_array()
                .into_iter()
                .flatten()
            {
                if n["level"] == "error" {
                    verdict
                        .errors
                        .push(format!("validator notification: {}", n["message"]));
                }
            }
        }
        for result in run["results"].as_array().into_iter().flatten() {
            let rule = result["ruleIndex"]
                .as_u64()
                .and_then(|i| rules.get(i as usize));
            let level = result["level"]
                .as_str()
                .or_else(|| rule.and_then(|r| r["defaultConfiguration"]["level"].as_str()))
                .unwrap_or("warning");
            let line = describe(result, rule);
            match level {
                "error" => verdict.errors.push(line),
                "warning" => verdict.warnings.push(line),
                _ => {}
            }
        }
    }
    verdict
}

/// `RULE at jsonPath: message` from a validator result (messages are rule templates + args).
fn describe(result: &Value, rule: Option<&Value>) -> String {
    let id = result["ruleId"].as_str().unwrap_or("?");
    let args: Vec<String> = result["message"]["arguments"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|a| a.as_str().map_or_else(|| a.to_string(), str::to_owned))
        .collect();
    let template = result["message"]["text"]
        .as_str()
        .map(str::to_owned)
        .or_else(|| {
            let msg_id = result["message"]["id"].as_str()?;
            rule?["messageStrings"][msg_id]["text"]
                .as_str()
                .map(str::to_owned)
        });
    let message = match template {
        Some(mut t) => {
            for (i, a) in args.iter().enumerate() {
                t = t.replace(&format!("{{{i}}}"), a);
            }
            t.replace("{{", "{").replace("}}", "}")
        }
        None => args.join(" | "),
    };
    format!("{id}: {message}")
}

// ---------------------------------------------------------------------------------------------
// A realistic multi-stage run

fn region(
    start_line: u32,
    start_column: Option<u32>,
    end_line: Option<u32>,
    end_column: Option<u32>,
) -> Option<Region> {
    Some(Region {
        start_line,
        start_column,
        end_line,
        end_column,
    })
}

fn finding(
    rule_id: &str,
    level: Level,
    message: &str,
    path: Option<&str>,
    region: Option<Region>,
) -> Finding {
    Finding {
        rule_id: rule_id.into(),
        level,
        message: message.into(),
        location: path.map(|p| Location {
            path: p.into(),
            region,
        }),
        fingerprint: None,
        help_uri: None,
        fix: None,
        baselined: false,
    }
}

fn rule(id: &str, short: &str, full: &str, level: Level, help: Option<&str>) -> Rule {
    Rule {
        id: id.into(),
        short_description: short.into(),
        full_description: full.into(),
        default_level: level,
        help_uri: help.map(Into::into),
    }
}

fn plugin(
    name: &str,
    version: &str,
    kind: &str,
    description: &str,
    rules: Vec<Rule>,
) -> PluginInfo {
    PluginInfo {
        name: name.into(),
        version: version.into(),
        kind: kind.into(),
        description: description.into(),
        rules,
        config_schema: json!({ "type": "object" }),
    }
}

fn report(outcome: Outcome, summary: &str, findings: Vec<Finding>) -> Option<StageReport> {
    Some(StageReport {
        outcome,
        summary: summary.into(),
        findings,
        outputs: vec![],
        artifacts: vec![],
        baseline_compared: false,
    })
}

fn record(
    stage: &str,
    plugin_ref: &str,
    plugin: Option<PluginInfo>,
    status: StageStatus,
) -> StageRecord {
    StageRecord {
        stage: stage.into(),
        plugin_ref: plugin_ref.into(),
        plugin_digest: format!("sha256:{}", "ab12".repeat(16)),
        plugin,
        status,
        reason: None,
        report: None,
        started_at: Some("2025-06-01T08:30:00.250Z".into()),
        duration_ms: 4_321,
        attempts: 1,
        artifacts: vec![],
    }
}

fn realistic_records() -> Vec<StageRecord> {
    // 1. Secret scanner: error findings with full regions, a fix, fingerprints, an undeclared
    //    rule id, a finding without a location, unicode paths and messages.
    let mut secrets = record(
        "secrets",
        "builtin:secret-scan",
        Some(plugin(
            "secret-scan",
            "0.3.1",
            "scanner",
            "Finds credentials committed to the repository.",
            vec![
                rule(
                    "secret-scan/aws-access-key",
                    "AWS access key committed.",
                    "An AWS access key id was found in a tracked file. Rotate the key and remove it from history.",
                    Level::Error,
                    Some("https://example.invalid/gantry/rules/aws-access-key"),
                ),
                rule(
                    "secret-scan/high-entropy",
                    "High-entropy string.",
                    "A string with high Shannon entropy may be a secret.",
                    Level::Warning,
                    None,
                ),
            ],
        )),
        StageStatus::Failed,
    );
    secrets.reason = Some("2 error-level findings".into());
    let mut aws = finding(
        "secret-scan/aws-access-key",
        Level::Error,
        "AWS access key `AKIA…` found in configuration.",
        Some("config/prod settings.toml"),
        region(12, Some(9), Some(12), Some(29)),
    );
    aws.fingerprint = Some("3f9a0c1e77d2b6a4".into());
    aws.fix = Some(Fix {
        description: "Replace the key with an environment variable reference.".into(),
        path: "config/prod settings.toml".into(),
        deleted: Region {
            start_line: 12,
            start_column: Some(9),
            end_line: Some(12),
            end_column: Some(29),
        },
        inserted: "\"${AWS_ACCESS_KEY_ID}\"".into(),
    });
    let mut unicode = finding(
        "secret-scan/aws-access-key",
        Level::Error,
        "Clé d'accès trouvée dans « données » — 鍵が見つかりました 🔑 (line\u{2028}separator, tab\there, nul\u{0}).",
        Some("src/ünïcödé/日本語 ファイル.rs"),
        region(3, None, None, None),
    );
    unicode.fingerprint = Some("c0ffee".into());
    let mut entropy = finding(
        "secret-scan/high-entropy",
        Level::Warning,
        "Possible secret (entropy 4.9 bits/char).",
        Some("scripts/deploy#1?.sh"),
        region(40, Some(1), Some(42), Some(5)),
    );
    entropy.help_uri = Some("https://example.invalid/gantry/rules/high entropy".into());
    let mut insertion_fix = finding(
        "secret-scan/high-entropy",
        Level::Warning,
        "Mark this test fixture as a known false positive.",
        Some("tests/fixtures/keys.txt"),
        region(1, Some(1), Some(1), Some(1)),
    );
    insertion_fix.fix = Some(Fix {
        description: String::new(),
        path: "tests/fixtures/keys.txt".into(),
        deleted: Region {
            start_line: 1,
            start_column: Some(1),
            end_line: Some(1),
            end_column: Some(1),
        },
        inserted: "# gantry: allow secret-scan/high-entropy\n".into(),
    });
    let undeclared = finding(
        "secret-scan/private-key",
        Level::Error,
        "PEM private key block found.",
        Some("deploy/id_rsa"),
        region(1, None, Some(27), None),
    );
    let mut no_location = finding(
        "secret-scan/history",
        Level::Note,
        "Git history was not scanned (shallow clone).",
        None,
        None,
    );
    no_location.help_uri = Some("docs/secret-scan.md#history".into()); // not absolute: kept as text
    let whole_file = finding(
        "secret-scan/high-entropy",
        Level::Warning,
        "File looks like a key store.",
        Some("./keys/../keys/store.jks"),
        None,
    );
    // Paths outside the workspace: the location and the fix are left out, the result
    // says why in its properties.
    let mut outside = finding(
        "secret-scan/high-entropy",
        Level::Warning,
        "Reported outside the workspace.",
        Some("../../etc/passwd"),
        region(1, None, None, None),
    );
    outside.fix = Some(Fix {
        description: "Edit a host file.".into(),
        path: "/etc/shadow".into(),
        deleted: Region {
            start_line: 1,
            start_column: Some(1),
            end_line: Some(1),
            end_column: Some(2),
        },
        inserted: "x".into(),
    });
    secrets.report = report(
        Outcome::Failure,
        "2 errors, 3 warnings, 1 note",
        vec![
            aws,
            unicode,
            entropy,
            insertion_fix,
            undeclared,
            no_location,
            whole_file,
            outside,
        ],
    );

    // 2. Linter that ran and found nothing.
    let mut lint = record(
        "lint",
        "oci://registry.example/gantry/lint@1.0.0",
        Some(plugin(
            "lint",
            "1.0.0",
            "linter",
            "Lints TOML and YAML.",
            vec![rule(
                "lint/trailing-space",
                "Trailing whitespace.",
                "Lines should not end with whitespace.",
                Level::Note,
                Some("https://example.invalid/gantry/rules/trailing-space"),
            )],
        )),
        StageStatus::Succeeded,
    );
    lint.report = report(Outcome::Success, "No problems.", vec![]);

    // 3. Audit failed but allowed; its plugin declares no rules at all.
    let mut audit = record(
        "audit",
        "builtin:cargo-audit",
        Some(plugin("cargo-audit", "2.0.0", "verifier", "", vec![])),
        StageStatus::FailedAllowed,
    );
    audit.reason = Some("1 vulnerable dependency".into());
    audit.attempts = 2;
    audit.report = report(
        Outcome::Failure,
        "1 advisory",
        vec![finding(
            "RUSTSEC-2024-0001",
            Level::Error,
            "crate `foo` 0.1.0 is vulnerable",
            Some("Cargo.lock"),
            region(120, None, None, None),
        )],
    );

    // 4. Plugin trapped: no report, results absent.
    let mut deploy = record(
        "deploy",
        "builtin:deployer",
        Some(plugin("deployer", "", "deployer", "Deploys.", vec![])),
        StageStatus::Failed,
    );
    deploy.reason = Some("wasm trap: out of fuel after 30s".into());

    // 5. Cancelled by fail-fast, started_at unknown.
    let mut publish = record(
        "publish",
        "builtin:publisher",
        Some(plugin(
            "publisher",
            "0.9.0",
            "publisher",
            "Publishes crates.",
            vec![],
        )),
        StageStatus::Cancelled,
    );
    publish.reason = Some("cancelled: stage 'secrets' failed (fail-fast)".into());
    publish.started_at = None;

    // 6. A stage that never ran a plugin: no run.
    let mut docs = record("docs", "builtin:docs", None, StageStatus::Skipped);
    docs.reason = Some("when = branch == 'main' did not hold".into());

    vec![secrets, lint, audit, deploy, publish, docs]
}

#[test]
fn realistic_log_passes_microsoft_validator() {
    let workspace = Path::new(env!("CARGO_TARGET_TMPDIR")).join("wörk space");
    // The whole-file finding's file exists, as in a real run: its region is the
    // whole artifact, by size.
    std::fs::create_dir_all(workspace.join("keys")).expect("create the workspace");
    std::fs::write(
        workspace.join("keys/store.jks"),
        b"\xfe\xed\xfe\xed key store",
    )
    .expect("write the key store");
    let log = gantry::report::sarif::sarif_log(&realistic_records(), &workspace, "0.1.0");

    // Shape checks that hold whether or not the validator is installed.
    let runs = log["runs"].as_array().expect("runs");
    assert_eq!(runs.len(), 5, "one run per stage with a plugin");
    for run in runs {
        let rules = run["tool"]["driver"]["rules"].as_array().expect("rules");
        for result in run["results"].as_array().into_iter().flatten() {
            let i = result["ruleIndex"].as_u64().expect("ruleIndex") as usize;
            assert_eq!(rules[i]["id"], result["ruleId"], "ruleIndex resolves");
        }
    }
    assert!(
        runs[3].get("results").is_none(),
        "trapped stage has no results"
    );
    assert_eq!(runs[1]["results"], json!([]));
    let outside = &runs[0]["results"][7];
    assert!(
        outside.get("locations").is_none() && outside.get("fixes").is_none(),
        "{outside}"
    );
    assert!(
        outside["properties"]["gantry/locationDropped"].is_string(),
        "{outside}"
    );
    assert!(!log.to_string().contains("file:///etc"));

    assert_eq!(
        runs[3]["tool"]["driver"]["version"], "0.0.0+sha256.ab12ab12ab12",
        "a plugin without a version is named by its digest, in a version SARIF accepts"
    );
    let whole = &runs[0]["results"][6]["locations"][0]["physicalLocation"]["region"];
    assert_eq!(whole["byteOffset"], 0, "{whole}");
    let Some(tool) = multitool("realistic_log_passes_microsoft_validator") else {
        return;
    };
    let verdict = validate(&tool, "gantry", &log);
    assert!(
        verdict.errors.is_empty() && verdict.warnings.is_empty(),
        "SARIF Multitool reported {} error(s) and {} warning(s):\n{}\n{}",
        verdict.errors.len(),
        verdict.warnings.len(),
        verdict.errors.join("\n"),
        verdict.warnings.join("\n")
    );
}

/// Guards against a vacuous pass (validator output format changed, wrong file read, …).
#[test]
fn validator_reports_errors_for_a_broken_log() {
    let Some(tool) = multitool("validator_reports_errors_for_a_broken_log") else {
        return;
    };
    let mut log = gantry::report::sarif::sarif_log(&realistic_records(), Path::new("/ws"), "0.1.0");
    let location = &mut log["runs"][0]["results"][0]["locations"][0]["physicalLocation"];
    location["region"]["startLine"] = json!(0);
    location["artifactLocation"]["uri"] = json!("not a valid uri");
    let verdict = validate(&tool, "broken", &log);
    let joined = verdict.errors.join("\n");
    assert!(
        joined.contains("JSON1008"),
        "startLine 0 not reported:\n{joined}"
    );
    assert!(
        joined.contains("SARIF1002"),
        "invalid URI not reported:\n{joined}"
    );
}
