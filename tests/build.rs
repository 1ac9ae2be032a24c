//! Builds every crate in `tests/plugins/` to a wasm32-wasip2 component and writes
//! `plugins.rs` with one constant per plugin: `pub const PROBE: &str = "/…/probe.wasm";`.
//!
//! Like wasmtime's test-programs, it also checks that every test plugin is used by at
//! least one end-to-end test in `tests/e2e/`, so no purpose-built plugin goes untested.

#[path = "../host/build/wasm.rs"]
mod wasm;

use std::path::PathBuf;

fn main() {
    let here = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").expect("set by cargo"));
    let workspace = here
        .parent()
        .expect("tests/ is in the workspace")
        .to_path_buf();
    let plugins_dir = here.join("plugins");
    let mut names: Vec<String> = std::fs::read_dir(&plugins_dir)
        .expect("tests/plugins exists")
        .filter_map(|e| e.ok())
        .filter(|e| e.path().join("Cargo.toml").exists())
        .map(|e| format!("test-plugin-{}", e.file_name().to_string_lossy()))
        .collect();
    names.sort();
    wasm::rerun_if_changed(&[
        plugins_dir,
        here.join("e2e"),
        workspace.join("sdk"),
        workspace.join("wit"),
    ]);

    let tests: String = std::fs::read_dir(here.join("e2e"))
        .expect("tests/e2e exists")
        .filter_map(|e| e.ok())
        .filter_map(|e| std::fs::read_to_string(e.path()).ok())
        .collect();

    let refs: Vec<&str> = names.iter().map(String::as_str).collect();
    let built = wasm::build_components(&workspace, &refs, "plugin");
    let mut code = String::new();
    for (name, path) in built {
        let konst = name
            .trim_start_matches("test-plugin-")
            .replace('-', "_")
            .to_uppercase();
        assert!(
            tests.contains(&format!("plugins::{konst}")),
            "test plugin `{name}` is not used by any test in tests/e2e (expected a reference to `plugins::{konst}`)"
        );
        code.push_str(&format!(
            "pub const {konst}: &str = {:?};\n",
            path.display().to_string()
        ));
    }
    let out = PathBuf::from(std::env::var("OUT_DIR").expect("set by cargo"));
    std::fs::write(out.join("plugins.rs"), code).expect("write plugins.rs");
}
