//! Directory walk over [`gantry_sdk::files`]: in the component, one host call per
//! directory listed and one per batch of files read (the host's bulk interface under
//! the stage's grants); natively, `std::fs`.
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
use std::io;
use std::path::Path;

use gantry_sdk::files::{self, Kind, Read};

use gantry_sdk::glob::{self, Glob};

use super::{ScanOutput, binary_reason};

/// Files already scanned, when several `paths` may name the same file; with one path
/// every file is met once and nothing is recorded (no set insert per file).
pub(crate) struct Seen(Option<HashSet<String>>);

impl Seen {
    pub fn new(paths: usize) -> Seen {
        Seen((paths > 1).then(HashSet::new))
    }

    /// True the first time `rel` is met.
    fn first(&mut self, rel: &str) -> bool {
        self.0.as_mut().is_none_or(|s| s.insert(rel.to_string()))
    }
}

type Visit<'a> = dyn FnMut(&str, &[u8], &mut ScanOutput) + 'a;

#[allow(clippy::too_many_arguments)]
pub(crate) fn walk(
    root: &Path,
    rel: &str,
    index: usize,
    allow: &[Glob],
    max_size: u64,
    seen: &mut Seen,
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
    if !rel.is_empty() && glob::any_match_or_parent(allow, rel) {
        out.skipped.push((rel.to_string(), "allow-paths".into()));
        return Ok(());
    }
    if meta.is_dir() {
        walk_dir(root, rel, allow, max_size, seen, out, visit);
    } else if seen.first(rel) {
        let parent = start.parent().unwrap_or(root);
        let name = start
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        if let Some((_, read)) = files::read_each(parent, vec![name], max_size).next() {
            visit_file(rel, read, max_size, out, visit);
        }
    }
    Ok(())
}

/// An entry of a directory, in name order: reported as skipped, or read and scanned.
enum Step {
    Skip(String, &'static str),
    /// (name in the directory, path relative to the scan root)
    File(String, String),
}

fn walk_dir(
    root: &Path,
    rel: &str,
    allow: &[Glob],
    max_size: u64,
    seen: &mut Seen,
    out: &mut ScanOutput,
    visit: &mut Visit<'_>,
) {
    let dir = if rel.is_empty() {
        root.to_path_buf()
    } else {
        root.join(rel)
    };
    let mut entries = match files::list_dir(&dir) {
        Ok(entries) => entries,
        Err(e) => {
            out.skipped
                .push((display(rel), format!("unreadable directory: {e}")));
            return;
        }
    };
    entries.sort_by(|a, b| a.0.cmp(&b.0));
    // Consecutive files are read in one batch; a subdirectory is walked in its place,
    // so output keeps name order.
    let mut steps: Vec<Step> = Vec::new();
    for (name, kind) in entries {
        let child = if rel.is_empty() {
            name.clone()
        } else {
            format!("{rel}/{name}")
        };
        match kind {
            Kind::Symlink => steps.push(Step::Skip(child, "symlink (not followed)")),
            Kind::Dir if name == ".git" => steps.push(Step::Skip(child, ".git directory")),
            Kind::Dir | Kind::File if glob::any_match_or_parent(allow, &child) => {
                steps.push(Step::Skip(child, "allow-paths"));
            }
            Kind::Dir => {
                run_steps(&dir, &mut steps, max_size, out, visit);
                walk_dir(root, &child, allow, max_size, seen, out, visit);
            }
            Kind::File => {
                if seen.first(&child) {
                    steps.push(Step::File(name, child));
                }
            }
            Kind::Other => steps.push(Step::Skip(child, "not a regular file")),
        }
    }
    run_steps(&dir, &mut steps, max_size, out, visit);
}

/// Records the skips and reads and scans the files of `steps`, in order.
fn run_steps(
    dir: &Path,
    steps: &mut Vec<Step>,
    max_size: u64,
    out: &mut ScanOutput,
    visit: &mut Visit<'_>,
) {
    let names: Vec<String> = steps
        .iter()
        .filter_map(|s| match s {
            Step::File(name, _) => Some(name.clone()),
            Step::Skip(..) => None,
        })
        .collect();
    let mut reads = files::read_each(dir, names, max_size);
    for step in steps.drain(..) {
        match step {
            Step::Skip(child, why) => out.skipped.push((child, why.into())),
            Step::File(_, child) => {
                let read = match reads.next() {
                    Some((_, read)) => read,
                    None => Err(io::Error::other("not read")),
                };
                visit_file(&child, read, max_size, out, visit);
            }
        }
    }
}

fn visit_file(
    rel: &str,
    read: io::Result<Read>,
    max_size: u64,
    out: &mut ScanOutput,
    visit: &mut Visit<'_>,
) {
    let too_large = |len: u64| format!("larger than max-file-size ({len} > {max_size} bytes)");
    let content = match read {
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
