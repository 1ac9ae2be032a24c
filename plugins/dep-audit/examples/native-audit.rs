//! Native build of the dep-audit engine, for the cargo-audit comparison and for
//! auditing by hand.
//!
//! Usage: native-audit WORKSPACE --db DIR [--db DIR…] [--path P…] [--json]
//!        [--config JSON]
//!
//! Paths after `--db`/`--path` are relative to WORKSPACE, as in a stage config.
//! Prints one line `lockfiles=N packages=N advisories=N findings=N secs=F ids=A,B,…`
//! (`ids` = sorted primary ids of advisory findings), then one line per finding; with
//! `--json` the findings follow as one JSON array line instead. Exit status 0 even
//! with findings (the host decides what fails a stage), 2 on a usage/config error.

use std::path::PathBuf;
use std::time::Instant;

use dep_audit::audit::{self, Config};

fn main() {
    let mut root: Option<PathBuf> = None;
    let mut json = false;
    let mut config: Option<Config> = None;
    let mut dbs = Vec::new();
    let mut paths = Vec::new();
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--json" => json = true,
            "--db" => dbs.push(
                args.next()
                    .unwrap_or_else(|| fail("--db needs a directory")),
            ),
            "--path" => paths.push(args.next().unwrap_or_else(|| fail("--path needs a path"))),
            "--config" => {
                let text = args.next().unwrap_or_default();
                config = Some(
                    serde_json::from_str(&text).unwrap_or_else(|e| fail(&format!("--config: {e}"))),
                );
            }
            "-h" | "--help" => {
                println!(
                    "usage: native-audit WORKSPACE --db DIR [--path P] [--json] [--config JSON]"
                );
                return;
            }
            _ if root.is_none() => root = Some(PathBuf::from(a)),
            _ => fail(&format!("unexpected argument `{a}`")),
        }
    }
    let root = root.unwrap_or_else(|| fail("usage: native-audit WORKSPACE --db DIR"));
    let mut config = config.unwrap_or(Config {
        paths: Vec::new(),
        databases: Vec::new(),
        ignore: Vec::new(),
        informational: true,
        index: None,
    });
    config.databases.extend(dbs);
    config.paths.extend(paths);
    let t0 = Instant::now();
    let out = audit::run(&root, &config).unwrap_or_else(|e| fail(&e.to_string()));
    let secs = t0.elapsed().as_secs_f64();
    let ids: std::collections::BTreeSet<&str> = out
        .findings
        .iter()
        .filter(|f| !f.ids.is_empty())
        .map(|f| f.rule_id.as_str())
        .collect();
    println!(
        "lockfiles={} packages={} advisories={} findings={} secs={:.3} ids={}",
        out.lockfiles.len(),
        out.packages,
        out.advisories,
        out.findings.len(),
        secs,
        ids.into_iter().collect::<Vec<_>>().join(",")
    );
    if json {
        println!(
            "{}",
            serde_json::to_string(&out.findings).unwrap_or_default()
        );
    } else {
        for f in &out.findings {
            println!(
                "{:?} {}:{} [{}] {}",
                f.level,
                f.path,
                f.line.map(|l| l.to_string()).unwrap_or_default(),
                f.rule_id,
                f.message
            );
        }
    }
    for p in &out.problems {
        eprintln!("native-audit: warning: {p}");
    }
}

fn fail(msg: &str) -> ! {
    eprintln!("native-audit: error: {msg}");
    std::process::exit(2)
}
