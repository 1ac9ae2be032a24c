//! `gantry plugin inspect REF`: digest, `describe` output, and WIT imports.

use gantry_registry::{Digest, PluginRef, RefError};
use serde_json::json;

use super::{Cli, Failure, exit, style};
use crate::caps::describe::explain_import;
use crate::run::display::escape;
use crate::run::prepare::resolve_bytes;
use crate::runtime::{EngineOptions, Runtime};

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
