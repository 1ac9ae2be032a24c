//! The coverage data both parsers produce, and how reports are merged.
//!
//! A [`Coverage`] maps each source path (as written in the report, before path
//! mapping) to a [`FileCoverage`]: hit counts per instrumented line and per branch.
//! Merging is a union: a line is covered when any report hit it (hit counts add up,
//! saturating), a line instrumented in only one report still counts. Branches merge
//! by key; Cobertura gives only "n of m" per line, so its branches get synthetic
//! keys `0..m` with the first `n` taken, which makes the union of two Cobertura
//! reports the maximum per line (documented in RULES.md as an approximation).
//!
//! Tests: `src/tests.rs` (merging through the gate).

use std::collections::BTreeMap;

/// Coverage of one source file.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FileCoverage {
    /// Line number (1-based) → hit count.
    pub lines: BTreeMap<u32, u64>,
    /// (line, branch key) → times taken.
    pub branches: BTreeMap<(u32, String), u64>,
    /// Function name → (first line, hit count).
    pub functions: BTreeMap<String, (u32, u64)>,
}

impl FileCoverage {
    pub fn add_line(&mut self, line: u32, hits: u64) {
        let e = self.lines.entry(line).or_insert(0);
        *e = e.saturating_add(hits);
    }

    pub fn add_branch(&mut self, line: u32, key: String, taken: u64) {
        let e = self.branches.entry((line, key)).or_insert(0);
        *e = e.saturating_add(taken);
    }

    pub fn add_function(&mut self, name: &str, line: u32, hits: u64) {
        let e = self.functions.entry(name.to_string()).or_insert((line, 0));
        if e.0 == 0 {
            e.0 = line;
        }
        e.1 = e.1.saturating_add(hits);
    }

    pub fn merge(&mut self, other: FileCoverage) {
        for (l, h) in other.lines {
            self.add_line(l, h);
        }
        for ((l, k), t) in other.branches {
            self.add_branch(l, k, t);
        }
        for (name, (line, hits)) in other.functions {
            self.add_function(&name, line, hits);
        }
    }

    pub fn line_counts(&self) -> Counts {
        Counts {
            covered: self.lines.values().filter(|&&h| h > 0).count() as u64,
            total: self.lines.len() as u64,
        }
    }

    pub fn branch_counts(&self) -> Counts {
        Counts {
            covered: self.branches.values().filter(|&&h| h > 0).count() as u64,
            total: self.branches.len() as u64,
        }
    }
}

/// Covered out of total.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    pub covered: u64,
    pub total: u64,
}

impl Counts {
    /// Percentage, or `None` when nothing is instrumented.
    pub fn percent(self) -> Option<f64> {
        (self.total > 0).then(|| self.covered as f64 * 100.0 / self.total as f64)
    }

    pub fn add(&mut self, other: Counts) {
        self.covered += other.covered;
        self.total += other.total;
    }
}

/// Formats a percentage truncated (not rounded) to two decimals, so a value just
/// under a threshold never prints as the threshold itself (79.999 → `79.99`).
pub fn fmt_percent(p: f64) -> String {
    let t = (p * 100.0).floor() / 100.0;
    format!("{t:.2}")
}

/// All files of one or more reports, keyed by the path the report names.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Coverage {
    pub files: BTreeMap<String, FileCoverage>,
}

impl Coverage {
    pub fn file(&mut self, path: &str) -> &mut FileCoverage {
        self.files.entry(path.to_string()).or_default()
    }

    /// Adds one file's coverage, merging with what is already there.
    pub fn add_file(&mut self, path: String, fc: FileCoverage) {
        match self.files.get_mut(&path) {
            Some(existing) => existing.merge(fc),
            None => {
                self.files.insert(path, fc);
            }
        }
    }

    pub fn merge(&mut self, other: Coverage) {
        for (path, fc) in other.files {
            self.add_file(path, fc);
        }
    }
}
