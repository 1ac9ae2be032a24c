//! Directory walk over [`super::read`] (`std::fs` natively, `wasi:filesystem` under
//! WASI preopens).
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

use super::read::{Kind, Read, list_dir, read_file};
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
        visit_file(&start, rel, max_size, seen, out, visit);
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
    let mut entries = match list_dir(&dir) {
        Ok(entries) => entries,
        Err(e) => {
            out.skipped
                .push((display(rel), format!("unreadable directory: {e}")));
            return;
        }
    };
    entries.sort_by(|a, b| a.0.cmp(&b.0));
    for (name, kind) in entries {
        let child = if rel.is_empty() {
            name.clone()
        } else {
            format!("{rel}/{name}")
        };
        let kind = match kind {
            Ok(kind) => kind,
            Err(e) => {
                out.skipped.push((child, format!("unreadable: {e}")));
                continue;
            }
        };
        if kind == Kind::Symlink {
            out.skipped.push((child, "symlink (not followed)".into()));
        } else if kind == Kind::Dir {
            if name == ".git" {
                out.skipped.push((child, ".git directory".into()));
            } else if glob::matches_any(allow, &child) {
                out.skipped.push((child, "allow-paths".into()));
            } else {
                walk_dir(root, &child, allow, max_size, seen, out, visit);
            }
        } else if kind == Kind::File {
            if glob::matches_any(allow, &child) {
                out.skipped.push((child, "allow-paths".into()));
                continue;
            }
            visit_file(&dir.join(&name), &child, max_size, seen, out, visit);
        } else {
            out.skipped.push((child, "not a regular file".into()));
        }
    }
}

fn visit_file(
    abs: &Path,
    rel: &str,
    max_size: u64,
    seen: &mut HashSet<String>,
    out: &mut ScanOutput,
    visit: &mut Visit<'_>,
) {
    if !seen.insert(rel.to_string()) {
        return;
    }
    let too_large = |len: u64| format!("larger than max-file-size ({len} > {max_size} bytes)");
    let content = match read_file(abs, max_size) {
        Ok(Read::Content(c)) if c.len() as u64 > max_size => {
            out.skipped
                .push((rel.to_string(), too_large(c.len() as u64)));
            return;
        }
        Ok(Read::Content(c)) => c,
        Ok(Read::TooLarge(len)) => {
            out.skipped.push((rel.to_string(), too_large(len)));
            return;
        }
        Err(e) => {
            out.skipped
                .push((rel.to_string(), format!("unreadable: {e}")));
            return;
        }
    };
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
