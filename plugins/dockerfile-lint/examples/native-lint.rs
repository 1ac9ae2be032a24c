//! Native build of the linter, for the comparison with hadolint and for trying
//! rules by hand.
//!
//! Usage: native-lint [--config JSON] FILE|DIR…
//!
//! Lints each FILE (whatever its name) and each DIR (files found as the plugin finds
//! them), then prints one JSON array of findings on stdout (hadolint's `-f json` shape:
//! `code`, `level`, `file`, `line`, `column`, `message`, plus `fingerprint`) and
//! `files=N findings=N secs=F` on stderr.

use std::path::{Path, PathBuf};
use std::time::Instant;

use dockerfile_lint::lint::{Config, Finding, Linter};

fn main() {
    let mut config = Config::default();
    let mut targets: Vec<PathBuf> = Vec::new();
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--config" => {
                let text = args.next().unwrap_or_default();
                config =
                    serde_json::from_str(&text).unwrap_or_else(|e| fail(&format!("--config: {e}")));
            }
            "-h" | "--help" => {
                println!("usage: native-lint [--config JSON] FILE|DIR…");
                return;
            }
            _ => targets.push(PathBuf::from(a)),
        }
    }
    if targets.is_empty() {
        fail("usage: native-lint [--config JSON] FILE|DIR…");
    }
    let t0 = Instant::now();
    let linter = Linter::new(&config).unwrap_or_else(|e| fail(&e));
    let mut findings: Vec<Finding> = Vec::new();
    let mut files = 0usize;
    for t in &targets {
        if t.is_dir() {
            let out = linter.lint_tree(t).unwrap_or_else(|e| fail(&e));
            files += out.files.len();
            findings.extend(out.findings.into_iter().map(|mut f| {
                f.path = t.join(&f.path).display().to_string();
                f
            }));
        } else {
            let text = std::fs::read(t).unwrap_or_else(|e| fail(&format!("{}: {e}", t.display())));
            let shown = display(t);
            let (f, _) = linter.lint_text(&shown, &String::from_utf8_lossy(&text));
            files += 1;
            findings.extend(f);
        }
    }
    let secs = t0.elapsed().as_secs_f64();
    let rows: Vec<serde_json::Value> = findings
        .iter()
        .map(|f| {
            serde_json::json!({
                "code": f.rule_id,
                "level": f.severity,
                "file": f.path,
                "line": f.line,
                "column": f.column,
                "message": f.message,
                "fingerprint": f.fingerprint,
            })
        })
        .collect();
    println!("{}", serde_json::Value::Array(rows));
    eprintln!("files={files} findings={} secs={secs:.4}", findings.len());
}

fn display(p: &Path) -> String {
    p.display().to_string()
}

fn fail(msg: &str) -> ! {
    eprintln!("native-lint: {msg}");
    std::process::exit(2)
}
