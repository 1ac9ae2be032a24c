//! Directory walk over `std::fs` (works under WASI preopens).
//!
//! Skipped, and listed in `ScanOutput::skipped` with a reason:
//! - symlinks (never followed, so a link cannot lead the scan out of the workspace),
//! - `.git` directories,
//! - paths matching `allow-paths` (a matching directory is listed once, not walked),
//! - files over `max-file-size`, binary files (NUL in the first 8 KiB, or not text),
//! - special files and unreadable entries.
//!
//! Entries are visited in name order, so output is deterministic.

use std::collections::HashSet;
use std::fs;
use std::path::Path;

use regex::Regex;

use super::{ScanOutput, binary_reason, glob};

type Visit<'a> = dyn FnMut(&str, &[u8], &mut ScanOutput) + 'a;

#[allow(clippy::too_many_arguments)]
pub(crate) fn walk(
    root: &Path,
    rel: &str,
    index: usize,
    allow: &[Regex],
    max_size: u64,
    seen: &mut HashSet<String>,
    out: &mut ScanOutput,
    visit: &mut Visit<'_>,
) -> Result<(), String> {
    let start = if rel.is_empty() {
        root.to_path_buf()
    } else {
        root.join(rel)
    };
    let meta = fs::symlink_metadata(&start).map_err(|e| {
        let shown = if rel.is_empty() { "." } else { rel };
        format!("paths[{index}]: cannot read `{shown}` in the workspace: {e}")
    })?;
    if meta.file_type().is_symlink() {
        out.skipped
            .push((rel.to_string(), "symlink (not followed)".into()));
        return Ok(());
    }
    if !rel.is_empty() && glob::matches_any(allow, rel) {
        out.skipped.push((rel.to_string(), "allow-paths".into()));
        return Ok(());
    }
    if meta.is_dir() {
        walk_dir(root, rel, allow, max_size, seen, out, visit);
    } else {
        visit_file(&start, rel, meta.len(), max_size, seen, out, visit);
    }
    Ok(())
}

fn walk_dir(
    root: &Path,
    rel: &str,
    allow: &[Regex],
    max_size: u64,
    seen: &mut HashSet<String>,
    out: &mut ScanOutput,
    visit: &mut Visit<'_>,
) {
    let dir = if rel.is_empty() {
        root.to_path_buf()
    } else {
        root.join(rel)
    };
    let mut entries: Vec<(String, fs::DirEntry)> = match fs::read_dir(&dir) {
        Ok(rd) => rd
            .filter_map(Result::ok)
            .map(|e| (e.file_name().to_string_lossy().into_owned(), e))
            .collect(),
        Err(e) => {
            out.skipped
                .push((display(rel), format!("unreadable directory: {e}")));
            return;
        }
    };
    entries.sort_by(|a, b| a.0.cmp(&b.0));
    for (name, entry) in entries {
        let child = if rel.is_empty() {
            name.clone()
        } else {
            format!("{rel}/{name}")
        };
        let ft = match entry.file_type() {
            Ok(ft) => ft,
            Err(e) => {
                out.skipped.push((child, format!("unreadable: {e}")));
                continue;
            }
        };
        if ft.is_symlink() {
            out.skipped.push((child, "symlink (not followed)".into()));
        } else if ft.is_dir() {
            if name == ".git" {
                out.skipped.push((child, ".git directory".into()));
            } else if glob::matches_any(allow, &child) {
                out.skipped.push((child, "allow-paths".into()));
            } else {
                walk_dir(root, &child, allow, max_size, seen, out, visit);
            }
        } else if ft.is_file() {
            if glob::matches_any(allow, &child) {
                out.skipped.push((child, "allow-paths".into()));
                continue;
            }
            let len = entry.metadata().map(|m| m.len()).unwrap_or(0);
            visit_file(&entry.path(), &child, len, max_size, seen, out, visit);
        } else {
            out.skipped.push((child, "not a regular file".into()));
        }
    }
}

fn visit_file(
    abs: &Path,
    rel: &str,
    len: u64,
    max_size: u64,
    seen: &mut HashSet<String>,
    out: &mut ScanOutput,
    visit: &mut Visit<'_>,
) {
    if !seen.insert(rel.to_string()) {
        return;
    }
    if len > max_size {
        out.skipped.push((
            rel.to_string(),
            format!("larger than max-file-size ({len} > {max_size} bytes)"),
        ));
        return;
    }
    let content = match fs::read(abs) {
        Ok(c) => c,
        Err(e) => {
            out.skipped
                .push((rel.to_string(), format!("unreadable: {e}")));
            return;
        }
    };
    if content.len() as u64 > max_size {
        out.skipped.push((
            rel.to_string(),
            format!(
                "larger than max-file-size ({} > {max_size} bytes)",
                content.len()
            ),
        ));
        return;
    }
    if let Some(reason) = binary_reason(&content) {
        out.skipped.push((rel.to_string(), reason.into()));
        return;
    }
    visit(rel, &content, out);
}

fn display(rel: &str) -> String {
    if rel.is_empty() {
        ".".into()
    } else {
        rel.to_string()
    }
}
