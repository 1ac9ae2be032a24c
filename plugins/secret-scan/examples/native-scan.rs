//! Native build of the secret-scan engine, for benchmarks (wasm vs native) and
//! for trying rules by hand.
//!
//! Usage: native-scan DIR [--json] [--baseline-out FILE] [--config JSON]
//!
//! Prints `files=N bytes=N findings=N secs=F skipped=N suppressed=N MB/s=F` on one
//! line (secs covers scanner set-up and the whole walk); with `--json` the findings
//! follow as one JSON array line. `--baseline-out` writes a baseline of all findings.
//! `--config` takes the stage config as JSON text (kebab-case keys).

use std::path::PathBuf;
use std::time::Instant;

use secret_scan::scanner::{Config, Scanner, baseline_json};

fn main() {
    let mut dir: Option<PathBuf> = None;
    let mut json = false;
    let mut baseline_out: Option<PathBuf> = None;
    let mut config = Config::default();
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--json" => json = true,
            "--baseline-out" => baseline_out = args.next().map(PathBuf::from),
            "--config" => {
                let text = args.next().unwrap_or_default();
                config =
                    serde_json::from_str(&text).unwrap_or_else(|e| fail(&format!("--config: {e}")));
            }
            "-h" | "--help" => {
                println!("usage: native-scan DIR [--json] [--baseline-out FILE] [--config JSON]");
                return;
            }
            _ if dir.is_none() => dir = Some(PathBuf::from(a)),
            _ => fail(&format!("unexpected argument `{a}`")),
        }
    }
    let dir = dir.unwrap_or_else(|| fail("usage: native-scan DIR [--json]"));
    let t0 = Instant::now();
    let scanner = Scanner::new(&config).unwrap_or_else(|e| fail(&e));
    let out = scanner.scan_tree(&dir).unwrap_or_else(|e| fail(&e));
    let secs = t0.elapsed().as_secs_f64();
    println!(
        "files={} bytes={} findings={} secs={:.3} skipped={} suppressed={} MB/s={:.1}",
        out.files_scanned,
        out.bytes_scanned,
        out.findings.len(),
        secs,
        out.skipped.len(),
        out.suppressed,
        out.bytes_scanned as f64 / 1e6 / secs.max(1e-9),
    );
    if json {
        println!(
            "{}",
            serde_json::to_string(&out.findings).unwrap_or_default()
        );
    }
    if let Some(p) = baseline_out {
        std::fs::write(&p, baseline_json(&out.findings))
            .unwrap_or_else(|e| fail(&format!("{}: {e}", p.display())));
    }
}

fn fail(msg: &str) -> ! {
    eprintln!("native-scan: {msg}");
    std::process::exit(2)
}
