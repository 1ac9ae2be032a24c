//! Native build of the coverage gate, for the benchmark (`benches/gates/`) and for
//! trying a configuration by hand.
//!
//! Usage: native-gate WORKSPACE CONFIG_JSON
//!
//! Prints one JSON line: `{"secs", "files", "lines_covered", "lines_total",
//! "lines_percent", "branches_covered", "branches_total", "findings"}`; exits 1 with
//! the error on stderr when the gate cannot judge.

use std::path::PathBuf;
use std::time::Instant;

use coverage_gate::{Config, evaluate};

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [dir, config] = args.as_slice() else {
        eprintln!("usage: native-gate WORKSPACE CONFIG_JSON");
        std::process::exit(2);
    };
    let config: Config = match serde_json::from_str(config) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("error: config: {e}");
            std::process::exit(2);
        }
    };
    let t0 = Instant::now();
    let out = match evaluate(&PathBuf::from(dir), &config) {
        Ok(o) => o,
        Err(e) => {
            eprintln!("error: {e}");
            std::process::exit(1);
        }
    };
    let secs = t0.elapsed().as_secs_f64();
    println!(
        "{}",
        serde_json::json!({
            "secs": secs,
            "files": out.files,
            "lines_covered": out.lines.covered,
            "lines_total": out.lines.total,
            "lines_percent": out.lines.percent(),
            "branches_covered": out.branches.covered,
            "branches_total": out.branches.total,
            "findings": out.findings.len(),
        })
    );
}
