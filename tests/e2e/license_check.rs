//! `builtin:license-check` through the binary: a denied crate fails the run with a
//! SARIF result at its `Cargo.lock` line, an exception with a reason lets it pass, the
//! stage outputs count licences, and a crate-source path outside the workspace is a
//! configuration error (the sandbox could not read it anyway).

use gantry_test_plugins::Workspace;

const GANTRY: &str = env!("CARGO_BIN_EXE_gantry");

const LOCK: &str = r#"version = 4

[[package]]
name = "app"
version = "0.1.0"
dependencies = ["copyleft", "friendly"]

[[package]]
name = "copyleft"
version = "0.1.0"
source = "registry+https://github.com/rust-lang/crates.io-index"

[[package]]
name = "friendly"
version = "1.0.0"
source = "registry+https://github.com/rust-lang/crates.io-index"
"#;

const METADATA: &str = r#"{"packages": [
  {"name": "copyleft", "version": "0.1.0", "license": "GPL-3.0-only", "license_file": null, "manifest_path": "/ci/.cargo/registry/src/x/copyleft-0.1.0/Cargo.toml"},
  {"name": "friendly", "version": "1.0.0", "license": "MIT/Apache-2.0", "license_file": null, "manifest_path": "/ci/.cargo/registry/src/x/friendly-1.0.0/Cargo.toml"}
]}"#;

fn pipeline(extra: &str) -> String {
    format!(
        r#"
[pipeline]
name = "licenses"

[stage.licenses]
plugin = "builtin:license-check"
grants.fs.read = ["."]

[stage.licenses.with]
allow = ["MIT", "Apache-2.0"]
deny = ["GPL-3.0-only"]
cargo = {{ metadata = "target/cargo-metadata.json" }}
files = {{ exclude = [".gantry"] }}
{extra}
"#
    )
}

fn workspace() -> Workspace {
    let ws = Workspace::new(GANTRY);
    ws.write(
        "Cargo.toml",
        "[package]\nname = \"app\"\nversion = \"0.1.0\"\nlicense = \"MIT\"\n",
    );
    ws.write("Cargo.lock", LOCK);
    ws.write("target/cargo-metadata.json", METADATA);
    // A header built at run time, so this test file carries none itself.
    let tag = concat!("SPDX-License-", "Identifier:");
    ws.write("src/main.rs", format!("// {tag} MIT\nfn main() {{}}\n"));
    ws
}

#[test]
fn denied_crate_fails_with_its_lockfile_line_and_an_exception_accepts_it() {
    let ws = workspace();
    ws.write("pipeline.toml", pipeline(""));
    let r = ws.gantry(&["run"]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    let stage = r.stage("licenses");
    assert_eq!(stage["status"], "failed");
    assert_eq!(stage["findings"]["error"], 1, "{stage}");
    assert_eq!(r.output("licenses", "packages"), "3");
    assert_eq!(r.output("licenses", "denied"), "1");
    let licenses: serde_json::Value =
        serde_json::from_str(&r.output("licenses", "licenses")).expect("JSON output");
    assert_eq!(licenses["GPL-3.0-only"], 1);
    assert_eq!(licenses["MIT OR Apache-2.0"], 1);
    assert_eq!(
        licenses["MIT"], 2,
        "app's manifest and the src/main.rs header"
    );

    let sarif: serde_json::Value =
        serde_json::from_str(&r.file("report.sarif")).expect("SARIF is JSON");
    let results = sarif["runs"][0]["results"].as_array().expect("results");
    let denied = results
        .iter()
        .find(|x| x["ruleId"] == "license-denied")
        .unwrap_or_else(|| panic!("no license-denied in {results:?}"));
    let loc = &denied["locations"][0]["physicalLocation"];
    assert_eq!(loc["artifactLocation"]["uri"], "Cargo.lock");
    assert_eq!(loc["region"]["startLine"], 9);
    assert!(
        denied["message"]["text"]
            .as_str()
            .is_some_and(|m| m.contains("`copyleft 0.1.0`") && m.contains("GPL-3.0-only")),
        "{denied}"
    );
    // The deprecated `/` of `friendly` is a note, not a failure.
    assert!(
        results
            .iter()
            .any(|x| x["ruleId"] == "license-expression-deprecated" && x["level"] == "note")
    );

    ws.write(
        "pipeline.toml",
        pipeline(
            r#"exceptions = [{ package = "copyleft", version = "0.1.0", allow = ["GPL-3.0-only"], reason = "build tool, not shipped" }]"#,
        ),
    );
    let r = ws.gantry(&["run"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(r.output("licenses", "denied"), "0");
    assert_eq!(r.output("licenses", "not-allowed"), "0");
}

#[test]
fn crate_sources_outside_the_workspace_are_a_config_error() {
    let ws = workspace();
    ws.write(
        "pipeline.toml",
        pipeline("").replace(
            r#"cargo = { metadata = "target/cargo-metadata.json" }"#,
            r#"cargo = { registry = ["/root/.cargo/registry/src"] }"#,
        ),
    );
    let r = ws.gantry(&["run"]);
    assert_ne!(r.code, 0);
    let all = format!("{}{}", r.stderr, r.stdout);
    assert!(all.contains("cargo.registry[0]"), "{all}");
    assert!(all.contains("relative to the workspace"), "{all}");
}

#[test]
fn every_id_of_the_spdx_list_is_known() {
    // Issue 15: `Beerware`, `libtiff` and `ISC-Veillard` are on the SPDX list but were
    // refused as unknown ids by the hand-picked table license-check had before the
    // `spdx` crate; allowed by the policy, the run must pass.
    let ws = workspace();
    ws.write(
        "target/cargo-metadata.json",
        r#"{"packages": [
  {"name": "copyleft", "version": "0.1.0", "license": "Beerware/libtiff", "license_file": null, "manifest_path": "/ci/.cargo/registry/src/x/copyleft-0.1.0/Cargo.toml"},
  {"name": "friendly", "version": "1.0.0", "license": "MIT AND ISC-Veillard", "license_file": null, "manifest_path": "/ci/.cargo/registry/src/x/friendly-1.0.0/Cargo.toml"}
]}"#,
    );
    ws.write(
        "pipeline.toml",
        pipeline("").replace(
            r#"allow = ["MIT", "Apache-2.0"]"#,
            r#"allow = ["MIT", "Apache-2.0", "Beerware", "ISC-Veillard"]"#,
        ),
    );
    let r = ws.gantry(&["run"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(r.output("licenses", "not-allowed"), "0");
    assert_eq!(r.output("licenses", "denied"), "0");
    let licenses: serde_json::Value =
        serde_json::from_str(&r.output("licenses", "licenses")).expect("JSON output");
    assert_eq!(licenses["Beerware OR libtiff"], 1, "{licenses}");
    assert_eq!(licenses["MIT AND ISC-Veillard"], 1, "{licenses}");
    let sarif = r.file("report.sarif");
    assert!(!sarif.contains("unknown SPDX licence id"), "{sarif}");
}
