//! Identifies every licence file under the given directories' immediate
//! subdirectories (a Cargo registry source cache) and compares with the crate's
//! declared `license`, for tuning and for the benchmark's accuracy table.
//!
//! Usage: identify-texts DIR... → one line per file: `crate file declared-ids -> found`.

use std::path::Path;

fn main() {
    for root in std::env::args().skip(1) {
        let mut dirs: Vec<_> = std::fs::read_dir(&root)
            .map(|r| r.flatten().map(|e| e.path()).collect())
            .unwrap_or_default();
        dirs.sort();
        for d in dirs {
            let declared = declared(&d);
            let Ok(entries) = std::fs::read_dir(&d) else {
                continue;
            };
            let mut files: Vec<_> = entries.flatten().map(|e| e.path()).collect();
            files.sort();
            for f in files {
                let name = f
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_default();
                if !f.is_file() || !license_check::sources::is_license_file_name(&name) {
                    continue;
                }
                let text =
                    String::from_utf8_lossy(&std::fs::read(&f).unwrap_or_default()).into_owned();
                let found: Vec<String> = license_check::textid::identify(&text)
                    .iter()
                    .map(|i| format!("{}({:.2})", i.id, i.score))
                    .collect();
                println!(
                    "{}\t{name}\t{declared}\t{}",
                    d.file_name()
                        .map(|n| n.to_string_lossy().into_owned())
                        .unwrap_or_default(),
                    found.join(" ")
                );
            }
        }
    }
}

fn declared(dir: &Path) -> String {
    match license_check::sources::cargo::from_manifest(dir) {
        license_check::sources::Declared::Expression { text, .. } => text,
        other => format!("{other:?}"),
    }
}
