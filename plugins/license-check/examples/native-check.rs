//! Native build of the licence check, for the cargo-deny comparison and for trying
//! policies by hand.
//!
//! Usage: native-check ROOT [--config JSON] [--registry DIR]... [--json] [--findings]
//!
//! `--config` takes the stage config as JSON text (kebab-case keys, as in `with`).
//! `--registry` adds a crate source directory that may lie outside ROOT (e.g.
//! `~/.cargo/registry/src`), which the sandboxed plugin could not read.
//! Prints `packages=N findings=N denied=N not-allowed=N unknown=N secs=F`; `--json`
//! then prints the per-package verdicts as one JSON array line; `--findings` prints
//! each finding as `level rule path:line message`.

use std::path::PathBuf;
use std::time::Instant;

use license_check::check::{Checker, Config};

fn main() {
    let mut root: Option<PathBuf> = None;
    let mut config = Config::default();
    let mut registries = Vec::new();
    let (mut json, mut show) = (false, false);
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--json" => json = true,
            "--findings" => show = true,
            "--registry" => registries.push(PathBuf::from(
                args.next()
                    .unwrap_or_else(|| fail("--registry needs a directory")),
            )),
            "--config" => {
                let text = args.next().unwrap_or_default();
                config =
                    serde_json::from_str(&text).unwrap_or_else(|e| fail(&format!("--config: {e}")));
            }
            "-h" | "--help" => {
                println!(
                    "usage: native-check ROOT [--config JSON] [--registry DIR]... [--json] [--findings]"
                );
                return;
            }
            _ if root.is_none() => root = Some(PathBuf::from(a)),
            _ => fail(&format!("unexpected argument `{a}`")),
        }
    }
    let root = root.unwrap_or_else(|| fail("usage: native-check ROOT [--json]"));
    let t0 = Instant::now();
    let mut checker = Checker::new(&config).unwrap_or_else(|e| fail(&e));
    for r in registries {
        checker = checker.with_registry_dir(r);
    }
    let out = checker.run(&root).unwrap_or_else(|e| fail(&e));
    let secs = t0.elapsed().as_secs_f64();
    let n = |rule: &str| out.findings.iter().filter(|f| f.rule_id == rule).count();
    println!(
        "packages={} findings={} denied={} not-allowed={} unknown={} secs={:.3}",
        out.packages.len(),
        out.findings.len(),
        n("license-denied"),
        n("license-not-allowed"),
        n("license-unknown") + n("license-expression-invalid"),
        secs
    );
    if show {
        for f in &out.findings {
            println!(
                "{} {} {}:{} {}",
                f.level.as_str(),
                f.rule_id,
                f.path,
                f.line.unwrap_or(0),
                f.message.lines().next().unwrap_or("")
            );
        }
    }
    if json {
        println!(
            "{}",
            serde_json::to_string(&out.packages).unwrap_or_default()
        );
    }
}

fn fail(msg: &str) -> ! {
    eprintln!("native-check: {msg}");
    std::process::exit(2)
}
