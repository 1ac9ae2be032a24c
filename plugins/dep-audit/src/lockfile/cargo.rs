//! `Cargo.lock` (format versions 1 to 4).
//!
//! Every `[[package]]` with a `source` (crates.io, another registry, or git) is
//! audited; packages without `source` are the workspace's own path crates and are
//! skipped. Tests: the `tests` module at the bottom of this file.

use serde::Deserialize;
use toml::Spanned;

use super::{Package, Parsed};
use crate::advisory::{Ecosystem, line_of};

#[derive(Deserialize)]
struct Lock {
    #[serde(default)]
    package: Vec<Spanned<Entry>>,
}

#[derive(Deserialize)]
struct Entry {
    name: String,
    version: String,
    source: Option<String>,
}

pub fn parse(text: &str) -> Result<Parsed, String> {
    let lock: Lock = toml::from_str(text).map_err(|e| {
        let at = e.span().map_or(0, |s| s.start);
        format!(
            "line {}: invalid Cargo.lock: {}",
            line_of(text, at),
            e.message()
        )
    })?;
    let mut out = Parsed::default();
    for p in lock.package {
        let line = line_of(text, p.span().start);
        let e = p.into_inner();
        if e.source.is_none() {
            continue;
        }
        out.packages.push(Package {
            ecosystem: Ecosystem::CratesIo,
            name: e.name,
            version: e.version,
            line: Some(line),
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registry_packages_with_lines_and_path_crates_skipped() {
        let text = "version = 4\n\n[[package]]\nname = \"gantry\"\nversion = \"0.1.0\"\n\n[[package]]\nname = \"time\"\nversion = \"0.1.45\"\nsource = \"registry+https://github.com/rust-lang/crates.io-index\"\nchecksum = \"ab\"\n";
        let p = parse(text).expect("lock");
        assert_eq!(p.packages.len(), 1);
        assert_eq!(p.packages[0].name, "time");
        assert_eq!(p.packages[0].version, "0.1.45");
        let line = p.packages[0].line.expect("line");
        assert!(
            (7..=8).contains(&line),
            "line of the [[package]] entry, got {line}"
        );
    }

    #[test]
    fn errors_have_a_line() {
        let e = parse("[[package]]\nname = \"a\"\nversion = 1\nsource = \"x\"\n")
            .expect_err("must be refused");
        assert!(e.starts_with("line 3:"), "{e}");
    }
}
