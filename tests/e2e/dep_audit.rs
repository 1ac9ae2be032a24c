//! `builtin:dep-audit` through the binary, in the wasm sandbox: a clean lockfile
//! passes, a vulnerable pin fails the run with the advisory id as SARIF rule id at
//! the lockfile line, and an `ignore` entry with a reason accepts it. The advisory is
//! a real RustSec OSV file (CC0) from the plugin's fixtures.

use gantry_test_plugins::Workspace;

const GANTRY: &str = env!("CARGO_BIN_EXE_gantry");

const ADVISORY: &str = include_str!(
    "../../plugins/dep-audit/tests/fixtures/advisories/rustsec-osv/RUSTSEC-2019-0009.json"
);

fn pipeline(ignore: &str) -> String {
    format!(
        r#"
[pipeline]
name = "deps"

[stage.deps]
plugin = "builtin:dep-audit"
with = {{ paths = ["Cargo.lock"], databases = ["advisories"]{ignore} }}
grants.fs.read = ["."]
"#
    )
}

fn lock(smallvec: &str) -> String {
    format!(
        "version = 4\n\n[[package]]\nname = \"app\"\nversion = \"0.1.0\"\ndependencies = [\"smallvec\"]\n\n[[package]]\nname = \"smallvec\"\nversion = \"{smallvec}\"\nsource = \"registry+https://github.com/rust-lang/crates.io-index\"\n"
    )
}

#[test]
fn vulnerable_pin_fails_with_the_advisory_id_and_ignore_accepts_it() {
    let ws = Workspace::new(GANTRY);
    ws.write("pipeline.toml", pipeline(""));
    ws.write("advisories/RUSTSEC-2019-0009.json", ADVISORY);

    ws.write("Cargo.lock", lock("0.6.10"));
    let r = ws.gantry(&["run"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(r.output("deps", "vulnerabilities"), "0");
    assert_eq!(
        r.output("deps", "packages"),
        "1",
        "the path crate `app` is not audited"
    );

    ws.write("Cargo.lock", lock("0.6.9"));
    let r = ws.gantry(&["run"]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    let stage = r.stage("deps");
    assert_eq!(
        stage["findings"]["error"], 1,
        "CVSS 9.8 is an error: {stage}"
    );
    let sarif: serde_json::Value =
        serde_json::from_str(&r.file("report.sarif")).expect("SARIF is JSON");
    let result = &sarif["runs"][0]["results"][0];
    assert_eq!(result["ruleId"], "RUSTSEC-2019-0009");
    let text = result["message"]["text"].as_str().unwrap_or_default();
    assert!(
        text.contains("CVE-2019-15551") && text.contains("`0.6.10`"),
        "{text}"
    );
    let loc = &result["locations"][0]["physicalLocation"];
    assert_eq!(loc["artifactLocation"]["uri"], "Cargo.lock");
    assert_eq!(
        loc["region"]["startLine"], 8,
        "the `[[package]]` line of smallvec"
    );

    ws.write(
        "pipeline.toml",
        pipeline(
            r#", ignore = [{ id = "CVE-2019-15551", reason = "SmallVec::grow is never called" }]"#,
        ),
    );
    let r = ws.gantry(&["run"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(r.output("deps", "findings"), "0");
}
