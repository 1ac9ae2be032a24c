//! `builtin:dockerfile-lint` through the binary: a clean Dockerfile passes; a broken
//! one fails the run with hadolint-id findings in SARIF (location, level, help link),
//! `# hadolint ignore=` and the `ignore` list are honoured, and Dockerfiles under
//! `target/` are not read.

use gantry_test_plugins::Workspace;

const GANTRY: &str = env!("CARGO_BIN_EXE_gantry");

const PIPELINE: &str = r#"
[pipeline]
name = "dockerfiles"

[stage.lint]
plugin = "builtin:dockerfile-lint"
with = { ignore = ["DL3059"] }
grants.fs.read = ["."]
"#;

#[test]
fn lints_dockerfiles_in_the_granted_tree() {
    let ws = Workspace::new(GANTRY);
    ws.write("pipeline.toml", PIPELINE);
    ws.write(
        "Dockerfile",
        "FROM debian:12.5\nUSER 10001\nCMD [\"true\"]\n",
    );
    // Never entered: build output.
    ws.write("target/Dockerfile", "MAINTAINER nobody\n");
    let r = ws.gantry(&["run"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let stage = r.stage("lint");
    assert_eq!(stage["outputs"]["findings"], "0", "{stage}");
    assert_eq!(stage["outputs"]["files"], "1", "{stage}");

    ws.write(
        "svc/api.Dockerfile",
        "FROM debian:latest\nMAINTAINER someone\n# hadolint ignore=DL3008\nRUN apt-get install -y --no-install-recommends curl\nRUN echo a\nRUN echo b\n",
    );
    let r = ws.gantry(&["run"]);
    assert_eq!(r.code, 1, "MAINTAINER is an error: {}", r.stderr);
    let stage = r.stage("lint");
    assert_eq!(stage["status"], "failed");
    assert_eq!(stage["outputs"]["files"], "2", "{stage}");

    let sarif: serde_json::Value =
        serde_json::from_str(&r.file("report.sarif")).expect("SARIF is JSON");
    let results = sarif["runs"][0]["results"].as_array().expect("results");
    let ids: Vec<(&str, &str, u64)> = results
        .iter()
        .map(|x| {
            (
                x["ruleId"].as_str().unwrap_or(""),
                x["level"].as_str().unwrap_or(""),
                x["locations"][0]["physicalLocation"]["region"]["startLine"]
                    .as_u64()
                    .unwrap_or(0),
            )
        })
        .collect();
    assert_eq!(
        ids,
        [("DL3007", "warning", 1), ("DL4000", "error", 2)],
        "DL3008 is ignored inline and DL3059 by config: {ids:?}"
    );
    let loc = &results[1]["locations"][0]["physicalLocation"];
    assert_eq!(loc["artifactLocation"]["uri"], "svc/api.Dockerfile");
    assert!(
        results[1]["fingerprints"]
            .as_object()
            .is_some_and(|f| !f.is_empty())
            || results[1]["partialFingerprints"]
                .as_object()
                .is_some_and(|f| !f.is_empty()),
        "{}",
        results[1]
    );
    let rules = sarif["runs"][0]["tool"]["driver"]["rules"]
        .as_array()
        .expect("rules");
    let dl4000 = rules
        .iter()
        .find(|x| x["id"] == "DL4000")
        .expect("DL4000 rule");
    // The host keeps the link as `helpUri` when it is absolute and resolvable, and as
    // a property otherwise (the workspace's repository URL is a placeholder).
    let help = dl4000["helpUri"]
        .as_str()
        .or(dl4000["properties"]["gantry/helpText"].as_str());
    assert!(
        help.is_some_and(|u| u.ends_with("plugins/dockerfile-lint/RULES.md#dl4000")),
        "{dl4000}"
    );
}
