//! `gantry plugin inspect REF`: digest, `describe` output, and WIT imports.

use gantry_registry::{Digest, PluginRef, RefError};
use serde_json::json;

use super::{Cli, Failure, exit, style};
use crate::run::display::escape;
use crate::run::prepare::resolve_bytes;
use crate::runtime::{EngineOptions, Runtime};

/// What an import means for a reviewer who does not read WIT.
pub fn explain_import(name: &str) -> &'static str {
    let iface = name.split('@').next().unwrap_or(name);
    match iface {
        "gantry:plugin/log" => "log: write to its stage log (always granted)",
        "gantry:plugin/types" => "types only (no capability)",
        "gantry:plugin/secrets" => {
            "secrets: handles to the secrets its stage grants (grants.secrets); values only with grants.reveal"
        }
        "gantry:plugin/process" => {
            "process: run the host commands its stage allow-lists (grants.process)"
        }
        i if i.starts_with("wasi:filesystem/") => {
            "fs: files under the directories its stage grants (grants.fs)"
        }
        "gantry:plugin/files" => {
            "fs: list and read (never write) files under the directories its stage grants (grants.fs), in bulk"
        }
        "gantry:plugin/containers" => {
            "containers: Docker images, containers and Swarm services as its stage grants (grants.containers)"
        }
        "wasi:cli/environment" => "env: environment variables (none unless granted)",
        "wasi:cli/stdout" | "wasi:cli/stderr" => {
            "stdout/stderr: captured into its stage log, capped"
        }
        "wasi:cli/stdin" => "stdin: always empty",
        "wasi:cli/exit" => "exit: end itself early",
        i if i.starts_with("wasi:cli/terminal") => "terminal detection (never a terminal)",
        i if i.starts_with("wasi:clocks/") => "clocks: read the time",
        i if i.starts_with("wasi:random/") => "random numbers",
        i if i.starts_with("wasi:io/") => "streams and polling (used with the imports above)",
        i if i.starts_with("wasi:sockets/") => "network sockets (never granted: no network)",
        i if i.starts_with("wasi:http/") => {
            "http: outgoing requests to the origins its stage grants (grants.http)"
        }
        _ => "unknown to this gantry: the plugin cannot be linked",
    }
}

pub fn run(cli: &Cli, reference: &str) -> Result<i32, Failure> {
    // A bare path to a .wasm is accepted here unpinned: inspect is how you learn the digest.
    let (pin, bytes, digest) = if !reference.contains('#') && !reference.starts_with("builtin:") {
        let path = reference.strip_prefix("file:").unwrap_or(reference);
        let bytes = std::fs::read(path)
            .map_err(|e| Failure::Usage(format!("cannot read `{path}`: {e}")))?;
        let digest = Digest::of(&bytes);
        let pin = PluginRef::File {
            path: path.into(),
            digest,
        };
        (pin, bytes, digest)
    } else {
        let usage = |e: RefError| {
            Failure::Usage(match e.hint() {
                Some(h) => format!("{e}\n  hint: {h}"),
                None => e.to_string(),
            })
        };
        // A `file:` reference is only resolved if the file matches its pin, so the
        // parsed reference is the pin.
        let pin = PluginRef::parse(reference).map_err(usage)?;
        let (bytes, digest) = resolve_bytes(std::path::Path::new("."), &pin).map_err(usage)?;
        (pin, bytes, digest)
    };
    let runtime = Runtime::new(EngineOptions::default())?;
    let plugin = runtime
        .load(&bytes, digest)
        .map_err(|e| Failure::Usage(format!("`{reference}` cannot be loaded: {e:#}")))?;
    let info = runtime
        .describe(&plugin)
        .map_err(|e| Failure::Usage(format!("`{reference}` failed to describe itself: {e}")))?;
    let pin = pin.to_string();
    if cli.json {
        let imports: Vec<_> = plugin
            .imports
            .iter()
            .map(|i| json!({"name": i, "meaning": explain_import(i)}))
            .collect();
        let out = json!({
            "reference": reference,
            "pin": pin,
            "digest": digest.to_string(),
            "size": bytes.len(),
            "plugin": info,
            "imports": imports,
        });
        let text = serde_json::to_string_pretty(&out).unwrap_or_default();
        println!("{}", crate::run::display::json(&text));
        return Ok(exit::SUCCESS);
    }
    // Everything `describe` returned is the plugin's own text: escaped, so a control
    // sequence in it cannot hide or rewrite the listing below (`run::display`).
    println!(
        "{}",
        style::bold(&format!("{} {}", escape(&info.name), escape(&info.version)))
    );
    println!("  kind:        {}", info.kind);
    if !info.description.is_empty() {
        println!("  description: {}", escape(&info.description));
    }
    println!("  digest:      {digest}");
    println!("  size:        {} bytes", bytes.len());
    println!("  pin:         {pin}");
    println!();
    println!("imports (the most it can ever do):");
    for i in &plugin.imports {
        println!("  {i:<40} {}", explain_import(i));
    }
    println!();
    println!("rules ({}):", info.rules.len());
    for r in &info.rules {
        println!(
            "  {:<32} {:<8} {}",
            escape(&r.id),
            r.default_level.as_str(),
            escape(&r.short_description)
        );
    }
    println!();
    println!("config schema:");
    // JSON escapes C0 controls but not C1, bidi overrides or line separators.
    for line in serde_json::to_string_pretty(&info.config_schema)
        .unwrap_or_default()
        .lines()
    {
        println!("{}", escape(line));
    }
    Ok(exit::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::explain_import;

    /// Every interface the `plugin` world imports is explained to a reviewer: a new
    /// capability cannot ship while `plugin inspect` and `gantry audit` call it
    /// "unknown to this gantry".
    #[test]
    fn every_import_of_the_plugin_world_is_explained() {
        let world = include_str!("../../../wit/world.wit");
        let imports: Vec<&str> = world
            .lines()
            .filter_map(|l| l.trim().strip_prefix("import "))
            .map(|l| l.trim_end_matches(';').trim())
            .collect();
        assert!(imports.contains(&"files"), "{imports:?}");
        for name in imports {
            let full = format!("gantry:plugin/{name}@0.1.0");
            let meaning = explain_import(&full);
            assert!(!meaning.starts_with("unknown"), "{full}: {meaning}");
        }
    }
}
