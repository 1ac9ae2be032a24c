//! Compiles the official plugins in `plugins/` to wasm32-wasip2 components and embeds
//! them in the binary as `builtin:NAME` (see `src/runtime/builtins.rs`).

#[path = "build/wasm.rs"]
mod wasm;

use std::path::PathBuf;

fn main() {
    let manifest_dir = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").expect("set by cargo"));
    let workspace = manifest_dir
        .parent()
        .expect("host/ is inside the workspace")
        .to_path_buf();
    let plugins_dir = workspace.join("plugins");
    let mut names: Vec<String> = std::fs::read_dir(&plugins_dir)
        .expect("plugins/ exists")
        .filter_map(|e| e.ok())
        .filter(|e| e.path().join("Cargo.toml").exists())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    wasm::rerun_if_changed(&[
        plugins_dir.clone(),
        workspace.join("sdk"),
        workspace.join("wit"),
        workspace.join("Cargo.lock"),
        manifest_dir.join("build"),
    ]);
    let refs: Vec<&str> = names.iter().map(String::as_str).collect();
    let built = wasm::build_components(&workspace, &refs, "plugin");
    let out = PathBuf::from(std::env::var("OUT_DIR").expect("set by cargo"));
    let mut code = String::from(
        "/// Official plugins compiled into this binary: (name, component bytes).\npub static BUILTINS: &[(&str, &[u8])] = &[\n",
    );
    for (name, path) in built {
        code.push_str(&format!(
            "    ({name:?}, include_bytes!({:?})),\n",
            path.display().to_string()
        ));
    }
    code.push_str("];\n");
    std::fs::write(out.join("builtins.rs"), code).expect("write builtins.rs");
    embed_sdk(&workspace, &out);
}

/// The SDK's sources and the WIT contract, embedded so that `gantry plugin new` can
/// give a new plugin the exact SDK of this gantry (`vendor/gantry-sdk`, `vendor/wit`)
/// wherever it runs.
fn embed_sdk(workspace: &std::path::Path, out: &std::path::Path) {
    let mut files: Vec<(String, PathBuf)> = Vec::new();
    for (dir, prefix) in [("sdk/src", "gantry-sdk/src"), ("wit", "wit")] {
        let mut entries: Vec<PathBuf> = std::fs::read_dir(workspace.join(dir))
            .expect("sdk/src and wit exist")
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.is_file())
            .collect();
        entries.sort();
        for p in entries {
            let name = p
                .file_name()
                .expect("a file")
                .to_string_lossy()
                .into_owned();
            files.push((format!("{prefix}/{name}"), p));
        }
    }
    let mut code = String::from(
        "/// The SDK and WIT this gantry was built with: (path under `vendor/`, bytes).\npub static SDK_FILES: &[(&str, &[u8])] = &[\n",
    );
    for (name, path) in files {
        code.push_str(&format!(
            "    ({name:?}, include_bytes!({:?})),\n",
            path.display().to_string()
        ));
    }
    code.push_str("];\n");
    std::fs::write(out.join("sdk_files.rs"), code).expect("write sdk_files.rs");
}
