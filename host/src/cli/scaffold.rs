//! `gantry plugin new NAME`: a plugin crate that builds anywhere with
//! `cargo build --target wasm32-wasip2 --release` and runs under gantry unchanged;
//! `gantry plugin build`: builds it and updates its pin in `pipeline.toml` (and
//! `gantry.lock` when there is one), the whole edit-build-run loop in one command.
//!
//! How the SDK reaches a new plugin: `gantry-sdk` is not published to a registry yet,
//! so `plugin new` writes the exact SDK and WIT contract this gantry was built with
//! into the crate (`vendor/gantry-sdk`, `vendor/wit`, embedded in the binary by
//! `build.rs`): the crate builds on any machine, with nothing but crates.io. When the
//! SDK is published, the scaffold will depend on `gantry-sdk = "<this version>"`
//! instead. `--sdk-path` points at another SDK (a gantry checkout, for gantry's own
//! developers).
//!
//! Tests: `tests/e2e/cli.rs` (`plugin_new_scaffolds_a_crate_that_builds_and_runs`).

use std::path::{Path, PathBuf};

use super::{Failure, exit};

include!(concat!(env!("OUT_DIR"), "/sdk_files.rs"));

/// `Cargo.toml` of the vendored SDK: the workspace's `sdk/Cargo.toml` with the values it
/// inherits written out (checked against the workspace by a test below).
fn sdk_cargo_toml() -> String {
    format!(
        r#"[package]
name = "gantry-sdk"
description = "Write gantry pipeline plugins: implement a trait, call one macro"
version = "{version}"
edition = "2024"
rust-version = "1.95"
license = "Apache-2.0"

# Vendored by `gantry plugin new` from gantry {version}: the SDK this gantry speaks.

[dependencies]
wit-bindgen = "0.61"
serde = {{ version = "1", features = ["derive"] }}
serde_json = "1"
schemars = "1"
serde_path_to_error = "0.1"

[target.'cfg(target_arch = "wasm32")'.dependencies]
wasip2 = "1"
"#,
        version = env!("CARGO_PKG_VERSION")
    )
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
    let sdk_dep = match sdk {
        Some(p) => p
            .canonicalize()
            .map_err(|e| Failure::Usage(format!("`--sdk-path {}`: {e}", p.display())))?
            .display()
            .to_string(),
        None => "vendor/gantry-sdk".to_string(),
    };
    let write = |file: &str, bytes: &[u8]| -> Result<(), Failure> {
        let path = dir.join(file);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(|e| {
                Failure::Usage(format!("cannot create `{}`: {e}", parent.display()))
            })?;
        }
        std::fs::write(&path, bytes)
            .map_err(|e| Failure::Usage(format!("cannot write `{}`: {e}", path.display())))
    };
    let crate_name = name.replace('-', "_");
    let files = [
        ("Cargo.toml", cargo_toml(name, &sdk_dep)),
        ("src/lib.rs", lib_rs(name)),
        ("pipeline.toml", pipeline_toml(name, &crate_name)),
        ("README.md", readme(name)),
        (".gitignore", "/target\n/.gantry\n".to_string()),
    ];
    for (file, text) in &files {
        write(file, text.as_bytes())?;
    }
    if sdk.is_none() {
        write("vendor/gantry-sdk/Cargo.toml", sdk_cargo_toml().as_bytes())?;
        for (file, bytes) in SDK_FILES {
            write(&format!("vendor/{file}"), bytes)?;
        }
    }
    eprintln!("created plugin `{name}` in `{}`", dir.display());
    eprintln!("next:");
    eprintln!("  cd {}", dir.display());
    eprintln!("  gantry plugin build     # builds it and pins it in pipeline.toml");
    eprintln!("  gantry run");
    Ok(exit::SUCCESS)
}

fn cargo_toml(name: &str, sdk: &str) -> String {
    format!(
        r#"[package]
name = "{name}"
version = "0.1.0"
edition = "2024"

# A gantry plugin is a WebAssembly component: `cargo build --target wasm32-wasip2`.
[lib]
crate-type = ["cdylib"]

[dependencies]
# The SDK of the gantry that made this crate (see vendor/gantry-sdk/Cargo.toml).
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
"#
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
        r#"# Runs this plugin on its own sources. `gantry plugin build` builds the component and
# writes its digest into the pin below (and into gantry.lock, if you keep one).
[pipeline]
name = "{name}-demo"

[stage.{name}]
plugin = "file:target/wasm32-wasip2/release/{crate_name}.wasm#sha256:0000000000000000000000000000000000000000000000000000000000000000"
with = {{ paths = ["src/lib.rs"] }}
grants.fs.read = ["src"]
"#
    )
}

fn readme(name: &str) -> String {
    format!(
        "# {name}\n\nA [gantry](https://example.invalid/gantry) plugin.\n\n```sh\ngantry plugin build   # cargo build --target wasm32-wasip2 --release, then pins it in pipeline.toml\ngantry run\n```\n\n`vendor/` holds the gantry SDK and WIT contract this crate was made with.\n"
    )
}

/// `gantry plugin build`: builds the plugin crate in `dir` for wasm32-wasip2 (adding
/// the target with rustup if it is missing), then rewrites every `file:` pin of
/// `pipeline` that names the built component to its new digest, and `gantry.lock`
/// next to it when there is one.
pub fn build(cli: &super::Cli, dir: &Path) -> Result<i32, Failure> {
    let manifest = dir.join("Cargo.toml");
    let text = std::fs::read_to_string(&manifest).map_err(|e| {
        Failure::Usage(format!(
            "cannot read `{}`: {e}\n  hint: run it in a plugin crate (`gantry plugin new NAME` makes one), or pass `--path`",
            manifest.display()
        ))
    })?;
    let table: toml::Table = toml::from_str(&text)
        .map_err(|e| Failure::Usage(format!("`{}` is not valid TOML: {e}", manifest.display())))?;
    let name = table
        .get("package")
        .and_then(|p| p.get("name"))
        .and_then(|n| n.as_str())
        .ok_or_else(|| Failure::Usage(format!("`{}` has no `[package] name`", manifest.display())))?
        .replace('-', "_");
    ensure_wasm_target()?;
    let status =
        std::process::Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
            .args(["build", "--target", "wasm32-wasip2", "--release"])
            .current_dir(dir)
            .status()
            .map_err(|e| {
                Failure::Usage(format!(
                    "cannot run `cargo`: {e}\n  hint: install Rust with rustup"
                ))
            })?;
    if !status.success() {
        return Err(Failure::Usage(format!(
            "`cargo build --target wasm32-wasip2 --release` failed in `{}` (its errors are above)",
            dir.display()
        )));
    }
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| dir.join("target"));
    let wasm = target
        .join("wasm32-wasip2/release")
        .join(format!("{name}.wasm"));
    let bytes = std::fs::read(&wasm)
        .map_err(|e| Failure::Usage(format!("cargo built no `{}`: {e}", wasm.display())))?;
    let digest = gantry_registry::Digest::of(&bytes).to_string();
    eprintln!(
        "built `{}` ({} bytes), {digest}",
        wasm.display(),
        bytes.len()
    );
    let pipeline = &cli.file;
    let Ok(source) = std::fs::read_to_string(pipeline) else {
        eprintln!("no `{}` here: nothing to pin", pipeline.display());
        return Ok(exit::SUCCESS);
    };
    let base = match pipeline.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let (updated, pinned) = repin(&source, &base, &wasm, &digest);
    if pinned == 0 {
        eprintln!(
            "`{}` has no `file:` reference to `{}`: nothing pinned",
            pipeline.display(),
            wasm.display()
        );
        return Ok(exit::SUCCESS);
    }
    if updated != source {
        crate::run::atomic::write(pipeline, updated.as_bytes())
            .map_err(|e| Failure::Usage(format!("cannot write `{}`: {e}", pipeline.display())))?;
    }
    eprintln!(
        "pinned {pinned} reference{} in `{}` to {digest}",
        if pinned == 1 { "" } else { "s" },
        pipeline.display()
    );
    if super::lock::lock_path(pipeline).exists() {
        return super::lock::run(cli, false);
    }
    Ok(exit::SUCCESS)
}

/// Rewrites the pin of every `file:PATH#sha256:HEX` in `source` whose PATH (relative to
/// `base`) is `wasm`; returns the new text and how many references name it.
fn repin(source: &str, base: &Path, wasm: &Path, digest: &str) -> (String, usize) {
    const PIN: &str = "#sha256:";
    let same = |p: &str| {
        let candidate = base.join(p);
        match (candidate.canonicalize(), wasm.canonicalize()) {
            (Ok(a), Ok(b)) => a == b,
            _ => candidate == wasm,
        }
    };
    let mut out = String::with_capacity(source.len());
    let mut rest = source;
    let mut count = 0;
    while let Some(i) = rest.find("file:") {
        let (head, tail) = rest.split_at(i);
        out.push_str(head);
        let end = tail
            .find(|c: char| c == '"' || c == '\'' || c.is_whitespace())
            .unwrap_or(tail.len());
        let reference = &tail[..end];
        match reference[5..].split_once(PIN) {
            Some((path, hex))
                if hex.len() == 64 && hex.bytes().all(|b| b.is_ascii_hexdigit()) && same(path) =>
            {
                count += 1;
                out.push_str(&format!(
                    "file:{path}{PIN}{}",
                    digest.trim_start_matches("sha256:")
                ));
            }
            _ => out.push_str(reference),
        }
        rest = &tail[end..];
    }
    out.push_str(rest);
    (out, count)
}

/// The wasm32-wasip2 standard library, added with rustup when it is missing.
fn ensure_wasm_target() -> Result<(), Failure> {
    let installed = || {
        std::process::Command::new("rustc")
            .args(["--print", "sysroot"])
            .output()
            .ok()
            .filter(|o| o.status.success())
            .is_some_and(|o| {
                Path::new(String::from_utf8_lossy(&o.stdout).trim())
                    .join("lib/rustlib/wasm32-wasip2/lib")
                    .is_dir()
            })
    };
    if installed() {
        return Ok(());
    }
    eprintln!("adding the wasm32-wasip2 target: `rustup target add wasm32-wasip2`");
    match std::process::Command::new("rustup")
        .args(["target", "add", "wasm32-wasip2"])
        .status()
    {
        Ok(s) if s.success() => Ok(()),
        _ => Err(Failure::Usage(
            "the wasm32-wasip2 standard library is missing and `rustup target add wasm32-wasip2` did not add it\n  hint: install it for the Rust toolchain that builds the plugin".into(),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The vendored SDK's manifest says what the workspace's `sdk/Cargo.toml` inherits.
    #[test]
    fn vendored_sdk_manifest_matches_the_workspace() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
        let ws: toml::Table =
            toml::from_str(&std::fs::read_to_string(root.join("Cargo.toml")).expect("read"))
                .expect("workspace toml");
        let sdk: toml::Table =
            toml::from_str(&std::fs::read_to_string(root.join("sdk/Cargo.toml")).expect("read"))
                .expect("sdk toml");
        let vendored: toml::Table = toml::from_str(&sdk_cargo_toml()).expect("vendored toml");
        let ws_deps = &ws["workspace"]["dependencies"];
        let version_of = |v: &toml::Value| match v {
            toml::Value::String(s) => s.clone(),
            t => t["version"].as_str().expect("a version").to_string(),
        };
        for (dep, spec) in sdk["dependencies"].as_table().expect("deps") {
            let want = if spec.get("workspace").is_some() {
                version_of(&ws_deps[dep])
            } else {
                version_of(spec)
            };
            let got = version_of(&vendored["dependencies"][dep]);
            assert_eq!(got, want, "{dep}");
        }
        let pkg = &ws["workspace"]["package"];
        for key in ["version", "edition", "rust-version", "license"] {
            assert_eq!(vendored["package"][key], pkg[key], "{key}");
        }
        assert!(SDK_FILES.iter().any(|(p, _)| *p == "gantry-sdk/src/lib.rs"));
        assert!(SDK_FILES.iter().any(|(p, _)| *p == "wit/world.wit"));
    }

    #[test]
    fn repin_rewrites_only_the_built_component() {
        let d = std::env::temp_dir().join(format!("gantry-repin-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(d.join("target")).expect("mkdir");
        std::fs::write(d.join("target/p.wasm"), b"x").expect("write");
        let zeros = "0".repeat(64);
        let other = "1".repeat(64);
        let src = format!(
            "a = \"file:target/p.wasm#sha256:{zeros}\"\nb = \"file:./target/p.wasm#sha256:{zeros}\"\nc = \"file:other.wasm#sha256:{other}\"\n"
        );
        let (out, n) = repin(
            &src,
            &d,
            &d.join("target/p.wasm"),
            &format!("sha256:{}", "a".repeat(64)),
        );
        assert_eq!(n, 2);
        assert_eq!(out.matches(&"a".repeat(64)).count(), 2);
        assert!(out.contains(&other));
        let _ = std::fs::remove_dir_all(&d);
    }
}
