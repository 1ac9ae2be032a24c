//! The repository's own licence statements: `SPDX-License-Identifier:` headers in
//! source files and LICENSE / COPYING files.
//!
//! A header counts only when it is the first thing on its line after comment
//! markers (`//`, `#`, `/*`, `*`, `--`, `;`, `%`, `<!--`, `{-`, `..`, `REM`), within
//! the first [`HEAD_BYTES`] of the file, so code that merely mentions the tag (a
//! string literal, documentation) is not read as a header. Trailing comment closers
//! (`*/`, `-->`, `-}`) are stripped. Binary files (a NUL byte) are skipped.
//!
//! LICENSE files are any file named `LICENSE*`, `LICENCE*`, `COPYING*` or
//! `UNLICENSE*` (any case); their text is identified by [`crate::textid`].
//!
//! Tests: `tests/sources.rs` (`files_*`, fixture `tests/fixtures/repo`).

use std::io::Read;
use std::path::Path;

use super::walk::{Glob, any_match, files};
use super::{FileLicense, Location, is_license_file_name, read_text};

/// Only the head of a file is searched for a header.
pub const HEAD_BYTES: usize = 8192;

const TAG: &str = "SPDX-License-Identifier:";

/// What to read.
#[derive(Debug, Clone)]
pub struct FileScan {
    pub paths: Vec<String>,
    pub exclude: Vec<Glob>,
    pub headers: bool,
    pub license_files: bool,
    pub require_header: Vec<Glob>,
}

/// Results of a scan: licence statements and how many files were read.
#[derive(Debug, Clone, Default)]
pub struct FileScanOutput {
    pub found: Vec<FileLicense>,
    pub files_read: u64,
}

/// Finds a header in `head`: (1-based line, 1-based column of the expression, expression).
pub fn find_header(head: &str) -> Option<(u32, u32, String)> {
    for (i, line) in head.lines().enumerate() {
        let Some(at) = line.find(TAG) else { continue };
        let prefix = line[..at].trim();
        if !is_comment_prefix(prefix) {
            continue;
        }
        let after = &line[at + TAG.len()..];
        let lead = after.len() - after.trim_start().len();
        let mut expr = after.trim();
        for closer in ["*/", "-->", "-}", "#}", "%>"] {
            if let Some(e) = expr.strip_suffix(closer) {
                expr = e.trim_end();
            }
        }
        let col = line[..at + TAG.len() + lead].chars().count() as u32 + 1;
        return Some((i as u32 + 1, col, expr.to_string()));
    }
    None
}

fn is_comment_prefix(p: &str) -> bool {
    if p.is_empty() {
        return true;
    }
    if p.eq_ignore_ascii_case("rem") || p == "::" || p == ".." {
        return true;
    }
    p.chars().all(|c| {
        matches!(
            c,
            '/' | '*' | '#' | '-' | ';' | '%' | '<' | '!' | '{' | '\''
        )
    })
}

fn head_of(path: &Path) -> Option<String> {
    let mut f = std::fs::File::open(path).ok()?;
    let mut buf = vec![0u8; HEAD_BYTES];
    let mut n = 0;
    while n < buf.len() {
        match f.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(_) => return None,
        }
    }
    buf.truncate(n);
    if buf.contains(&0) {
        return None;
    }
    Some(String::from_utf8_lossy(&buf).into_owned())
}

/// Scans the workspace at `root`.
pub fn scan(root: &Path, scan: &FileScan) -> FileScanOutput {
    let mut out = FileScanOutput::default();
    let mut seen = std::collections::HashSet::new();
    for p in &scan.paths {
        for (abs, rel) in files(root, p, &scan.exclude) {
            if !seen.insert(rel.clone()) {
                continue;
            }
            let name = rel.rsplit('/').next().unwrap_or(&rel);
            if scan.license_files && is_license_file_name(name) {
                out.files_read += 1;
                let ids = read_text(&abs, 1 << 20)
                    .map(|t| crate::textid::identify(&t))
                    .unwrap_or_default()
                    .into_iter()
                    .map(|i| i.id)
                    .collect();
                out.found.push(FileLicense::Text {
                    location: Location {
                        path: rel.clone(),
                        line: None,
                        column: None,
                    },
                    ids,
                });
                continue;
            }
            let required = any_match(&scan.require_header, &rel);
            if !scan.headers && !required {
                continue;
            }
            let Some(head) = head_of(&abs) else { continue };
            out.files_read += 1;
            match find_header(&head) {
                Some((line, column, expression)) if scan.headers || required => {
                    out.found.push(FileLicense::Header {
                        location: Location {
                            path: rel.clone(),
                            line: Some(line),
                            column: Some(column),
                        },
                        expression,
                    });
                }
                None if required => out.found.push(FileLicense::MissingHeader {
                    location: Location {
                        path: rel.clone(),
                        line: Some(1),
                        column: None,
                    },
                }),
                _ => {}
            }
        }
    }
    out
}
