//! `gantry plugin new NAME`: a plugin crate that builds with
//! `cargo build --target wasm32-wasip2 --release` and runs under gantry unchanged.

use std::path::{Path, PathBuf};

use super::{Failure, exit};

/// Where the SDK of this gantry's source tree is, if it is still there.
fn default_sdk() -> Option<PathBuf> {
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("../sdk");
    p.canonicalize()
        .ok()
        .filter(|p| p.join("Cargo.toml").exists())
}

fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && name.starts_with(|c: char| c.is_ascii_lowercase())
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

pub fn run(name: &str, path: Option<&Path>, sdk: Option<&Path>) -> Result<i32, Failure> {
    if !valid_name(name) {
        return Err(Failure::Usage(format!(
            "`{name}` is not a plugin name: use lowercase letters, digits and `-`, starting with a letter"
        )));
    }
    let dir = path
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from(name));
    if dir.exists()
        && std::fs::read_dir(&dir)
            .map(|mut d| d.next().is_some())
            .unwrap_or(true)
    {
        return Err(Failure::Usage(format!(
            "`{}` already exists and is not empty; choose another `--path`",
            dir.display()
        )));
    }
    let sdk = match sdk {
        Some(p) => p
            .canonicalize()
            .map_err(|e| Failure::Usage(format!("`--sdk-path {}`: {e}", p.display())))?,
        None => default_sdk().ok_or_else(|| {
            Failure::Usage(
                "the gantry-sdk sources this gantry was built from are not here; pass `--sdk-path PATH/TO/gantry/sdk`"
                    .into(),
            )
        })?,
    };
    std::fs::create_dir_all(dir.join("src"))
        .map_err(|e| Failure::Usage(format!("cannot create `{}`: {e}", dir.display())))?;
    let crate_name = name.replace('-', "_");
    let files = [
        ("Cargo.toml", cargo_toml(name, &sdk)),
        ("src/lib.rs", lib_rs(name)),
        ("pipeline.toml", pipeline_toml(name, &crate_name)),
        ("README.md", readme(name, &crate_name)),
        (".gitignore", "/target\n/.gantry\n".to_string()),
    ];
    for (file, text) in files {
        std::fs::write(dir.join(file), text)
            .map_err(|e| Failure::Usage(format!("cannot write `{file}`: {e}")))?;
    }
    eprintln!("created plugin `{name}` in `{}`", dir.display());
    eprintln!("next:");
    eprintln!("  cd {}", dir.display());
    eprintln!("  cargo build --target wasm32-wasip2 --release");
    eprintln!("  gantry plugin inspect target/wasm32-wasip2/release/{crate_name}.wasm");
    Ok(exit::SUCCESS)
}

fn cargo_toml(name: &str, sdk: &Path) -> String {
    format!(
        r#"[package]
name = "{name}"
version = "0.1.0"
edition = "2024"

# A gantry plugin is a WebAssembly component: `cargo build --target wasm32-wasip2`.
[lib]
crate-type = ["cdylib"]

[dependencies]
gantry-sdk = {{ path = {sdk:?} }}
# The derives in src/lib.rs expand to paths in these crates.
serde = {{ version = "1", features = ["derive"] }}
schemars = "1"

[profile.release]
opt-level = "s"
lto = true
strip = true

# Not part of any enclosing workspace.
[workspace]
"#,
        sdk = sdk.display().to_string()
    )
}

fn lib_rs(name: &str) -> String {
    format!(
        r#"//! `{name}`: a gantry plugin. Reports lines containing a configured marker.

use gantry_sdk::prelude::*;

/// The stage's `with` table.
#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct Config {{
    /// Files to check, relative to the workspace (they must be under `grants.fs.read`).
    paths: Vec<String>,
    /// The text to look for.
    #[serde(default = "default_marker")]
    marker: String,
}}

fn default_marker() -> String {{
    "TODO".to_string()
}}

struct Plugin_;

impl Plugin for Plugin_ {{
    type Config = Config;

    fn info() -> Info {{
        Info::new(env!("CARGO_PKG_NAME"), env!("CARGO_PKG_VERSION"))
            .kind(Kind::Linter)
            .description("Reports lines containing a marker")
            .rule(Rule::new("marker", Level::Warning, "A line contains the marker"))
    }}

    fn run(cx: &Context, config: Config) -> Result<Report, Error> {{
        let mut report = Report::new();
        for path in &config.paths {{
            let text = std::fs::read_to_string(cx.workspace_path(path))
                .map_err(|e| Error::failed(format!("cannot read `{{path}}`: {{e}}")))?;
            for (i, line) in text.lines().enumerate() {{
                if line.contains(&config.marker) {{
                    report.push(
                        Finding::new("marker", Level::Warning, format!("`{{}}` found", config.marker))
                            .at(path, i as u32 + 1),
                    );
                }}
            }}
        }}
        let n = report.findings().len();
        log::info("done", &[("findings", &n.to_string())]);
        Ok(report.summary(format!("{{n}} lines with the marker")).output("count", n.to_string()))
    }}
}}

gantry_sdk::export_plugin!(Plugin_);
"#
    )
}

fn pipeline_toml(name: &str, crate_name: &str) -> String {
    format!(
        r#"# Runs this plugin on its own sources. After `cargo build --target wasm32-wasip2 --release`,
# put the digest printed by `gantry plugin inspect` in place of the zeros.
[pipeline]
name = "{name}-demo"

[stage.{name}]
plugin = "file:target/wasm32-wasip2/release/{crate_name}.wasm#sha256:0000000000000000000000000000000000000000000000000000000000000000"
with = {{ paths = ["src/lib.rs"] }}
grants.fs.read = ["src"]
"#
    )
}

fn readme(name: &str, crate_name: &str) -> String {
    format!(
        "# {name}\n\nA [gantry](https://example.invalid/gantry) plugin.\n\n```sh\ncargo build --target wasm32-wasip2 --release\ngantry plugin inspect target/wasm32-wasip2/release/{crate_name}.wasm\n```\n"
    )
}
