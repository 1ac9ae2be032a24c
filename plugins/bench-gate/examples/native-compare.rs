//! Native build of the bench gate, for the benchmark (`benches/gates/`) and for
//! trying a configuration by hand.
//!
//! Usage: native-compare WORKSPACE CONFIG_JSON
//!
//! Prints one JSON line: `{"secs", "compared", "regressions", "improvements",
//! "missing", "new", "within_noise", "worst"}`; exits 1 with the error on stderr
//! when the comparison cannot be made.

use std::path::PathBuf;
use std::time::Instant;

use bench_gate::{Config, evaluate};

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [dir, config] = args.as_slice() else {
        eprintln!("usage: native-compare WORKSPACE CONFIG_JSON");
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
    println!(
        "{}",
        serde_json::json!({
            "secs": t0.elapsed().as_secs_f64(),
            "compared": out.compared,
            "regressions": out.regressions,
            "improvements": out.improvements,
            "missing": out.missing,
            "new": out.new,
            "within_noise": out.within_noise.len(),
            "worst": out.worst.as_ref().map(|w| &w.0),
        })
    );
}
