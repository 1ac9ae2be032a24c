//! The plugin contract across versions. `tests/fixtures/contract-0.1.0.wasm` is the
//! `contract` test plugin built against `gantry:plugin@0.1.0` and kept byte for byte;
//! the same plugin is built from source against today's contract. Both run in one
//! pipeline with no grant and must link, call every interface and get the same answers:
//! the contract is now 0.1.1 (`containers.stats` added), and wasmtime's linker resolves
//! the fixture's `@0.1.0` imports with the host's `@0.1.1`: a plugin built against
//! 0.1.0 keeps running unchanged.

use gantry_test_plugins::{Workspace, pinned, plugins};

const GANTRY: &str = env!("CARGO_BIN_EXE_gantry");

/// The frozen 0.1.0 build (see `tests/fixtures/README.md`).
const FIXTURE: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../tests/fixtures/contract-0.1.0.wasm"
);

#[test]
fn a_plugin_built_against_contract_0_1_0_runs_and_gets_todays_answers() {
    let ws = Workspace::new(GANTRY);
    let frozen = std::fs::read(FIXTURE).expect("the 0.1.0 fixture is in the repository");
    ws.write("contract-0.1.0.wasm", &frozen);
    let frozen_ref = format!(
        "file:contract-0.1.0.wasm#{}",
        gantry_registry::Digest::of(&frozen)
    );

    // What the fixture imports: the 0.1.0 contract, whatever today's version is.
    let r = ws.gantry(&["plugin", "inspect", "--json", "contract-0.1.0.wasm"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let v: serde_json::Value = serde_json::from_str(&r.stdout).expect("JSON");
    let gantry_imports: Vec<&str> = v["imports"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|i| i["name"].as_str())
        .filter(|n| n.starts_with("gantry:plugin/"))
        .collect();
    for iface in ["log", "types", "secrets", "process", "containers", "files"] {
        assert!(
            gantry_imports.contains(&format!("gantry:plugin/{iface}@0.1.0").as_str()),
            "{iface}: {gantry_imports:?}"
        );
    }

    // Today's build imports the current contract version, a later one.
    let r = ws.gantry(&["plugin", "inspect", "--json", plugins::CONTRACT]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.stdout.contains("gantry:plugin/log@0.1.1"), "{}", r.stdout);
    assert!(
        !r.stdout.contains("gantry:plugin/log@0.1.0"),
        "{}",
        r.stdout
    );

    ws.write(
        "pipeline.toml",
        format!(
            "[pipeline]\nname = \"contract\"\n\n[stage.frozen]\nplugin = \"{frozen_ref}\"\n\n[stage.today]\nplugin = \"{}\"\n",
            pinned(plugins::CONTRACT)
        ),
    );
    let r = ws.gantry(&["run"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    for stage in ["frozen", "today"] {
        let rec = r.stage(stage);
        assert_eq!(rec["status"], "succeeded", "{rec}");
        assert_eq!(r.output(stage, "log"), "ok");
        // No grant at all: every capability call is refused (`files`: no fs grant).
        for capability in ["secrets", "process", "containers", "files"] {
            assert_eq!(r.output(stage, capability), "denied", "{stage}: {rec}");
        }
    }
    assert_eq!(r.stage("frozen")["outputs"], r.stage("today")["outputs"]);
    // The denials are audited, for the frozen plugin as for today's.
    let audit = r.audit();
    for capability in ["secrets", "process", "containers"] {
        assert_eq!(
            audit
                .iter()
                .filter(|l| l.contains("\"decision\":\"deny\"")
                    && l.contains(&format!("\"capability\":\"{capability}\"")))
                .count(),
            2,
            "{capability}: {audit:?}"
        );
    }
}
