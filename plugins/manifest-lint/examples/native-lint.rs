//! Native build of the linter, for the comparison with checkov and for trying rules
//! by hand.
//!
//! Usage: native-lint [--config JSON] DIR|FILE…  |  native-lint --rules
//!
//! Lints each DIR on its own (files found as the plugin finds them; paths printed as
//! DIR/PATH) and the FILEs (whatever their names) together, and prints one JSON object on stdout: `findings` (rule,
//! checkov ids, level, file, line, column, object, container, message), `files`,
//! `objects`, `skipped`, `suppressed`; `files=N objects=N findings=N secs=F` goes to
//! stderr. `--rules` prints the rule table (id, checkov ids, level) instead.

use std::path::PathBuf;
use std::time::Instant;

use manifest_lint::lint::{Config, LintOutput, Linter};
use manifest_lint::rules;

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
            "--rules" => {
                let table: Vec<serde_json::Value> = rules::all()
                    .map(
                        |r| serde_json::json!({"id": r.id, "checkov": r.checkov, "level": r.level}),
                    )
                    .collect();
                println!("{}", serde_json::Value::Array(table));
                return;
            }
            "-h" | "--help" => {
                println!("usage: native-lint [--config JSON] DIR|FILE…");
                return;
            }
            _ => targets.push(PathBuf::from(a)),
        }
    }
    if targets.is_empty() {
        fail("usage: native-lint [--config JSON] DIR|FILE…");
    }
    let t0 = Instant::now();
    let linter = Linter::new(&config).unwrap_or_else(|e| fail(&e));
    let mut out = LintOutput::default();
    let mut texts = Vec::new();
    for t in &targets {
        if t.is_dir() {
            // Each directory is linted on its own (cross-object rules look only
            // inside it); paths are printed as DIR/PATH.
            let o = linter.lint_tree(t).unwrap_or_else(|e| fail(&e));
            let join = |p: &str| t.join(p).display().to_string();
            out.files.extend(o.files.iter().map(|f| join(f)));
            out.objects += o.objects;
            out.suppressed += o.suppressed;
            out.skipped
                .extend(o.skipped.into_iter().map(|(p, why)| (join(&p), why)));
            out.findings.extend(o.findings.into_iter().map(|mut f| {
                f.path = join(&f.path);
                f
            }));
        } else {
            let bytes = std::fs::read(t).unwrap_or_else(|e| fail(&format!("{}: {e}", t.display())));
            texts.push((
                t.display().to_string(),
                String::from_utf8_lossy(&bytes).into_owned(),
            ));
        }
    }
    if !texts.is_empty() {
        let o = linter.lint_texts(&texts);
        out.files.extend(o.files);
        out.objects += o.objects;
        out.suppressed += o.suppressed;
        out.skipped.extend(o.skipped);
        out.findings.extend(o.findings);
    }
    let secs = t0.elapsed().as_secs_f64();
    let findings: Vec<serde_json::Value> = out
        .findings
        .iter()
        .map(|f| {
            let checkov = rules::find(&f.rule_id)
                .map(|r| r.checkov)
                .unwrap_or_default();
            serde_json::json!({
                "rule": f.rule_id, "checkov": checkov, "level": f.level, "file": f.path,
                "line": f.line, "column": f.column, "object": f.object,
                "container": f.container, "message": f.message,
            })
        })
        .collect();
    let doc = serde_json::json!({
        "findings": findings, "files": out.files, "objects": out.objects,
        "skipped": out.skipped, "suppressed": out.suppressed,
    });
    println!("{doc}");
    eprintln!(
        "files={} objects={} findings={} secs={secs:.4}",
        out.files.len(),
        out.objects,
        out.findings.len()
    );
}

fn fail(msg: &str) -> ! {
    eprintln!("native-lint: {msg}");
    std::process::exit(2)
}
