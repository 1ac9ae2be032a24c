//! The secret-scan engine: rules, file walking, allowlists, inline markers and
//! baselines. Pure Rust over `std::fs`, so the same code runs natively (tests,
//! benchmarks) and in the wasm32-wasip2 component (root `/workspace`).
//!
//! Pipeline per file: skip checks (size, binary) → one keyword pass (Aho-Corasick DFA) →
//! rule regexes on keyword lines → validation (entropy, placeholders, structure) →
//! allow-values, inline `gantry:allow` markers → (in [`Scanner::scan_tree`]) baseline.
//!
//! Columns are 1-based and count UTF-16 code units (SARIF's default `columnKind`);
//! for ASCII lines that is the byte offset + 1.
//!
//! Fingerprints are the first 32 hex digits of
//! `sha256(rule_id 0x00 path 0x00 secret)`: stable when lines move, different per
//! file, never the secret. (For low-entropy values a hash can be brute-forced;
//! the generic rule only reports values above the entropy threshold.)

mod baseline;
mod detect;
mod entropy;
mod keywords;
mod rules;
mod walk;

#[cfg(test)]
mod tests;

use std::path::Path;
use std::sync::LazyLock;

use gantry_sdk::glob::{self, Glob};

use regex::Regex;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

pub use baseline::baseline_json;
pub use entropy::shannon_entropy;

use detect::{Engine, FileKind, Raw};

/// Default `entropy-threshold` (bits per character) for the generic rule.
pub const DEFAULT_ENTROPY_THRESHOLD: f64 = 3.5;
/// Default `max-file-size`: 2 MiB. Larger files are skipped and listed in `skipped`.
pub const DEFAULT_MAX_FILE_SIZE: u64 = 2 * 1024 * 1024;

fn default_paths() -> Vec<String> {
    vec![".".to_string()]
}

/// Stage configuration (`[stages.<name>.config]` in pipeline.toml).
#[derive(Debug, Clone, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct Config {
    /// Workspace-relative paths to scan (default ["."]).
    #[serde(default = "default_paths")]
    pub paths: Vec<String>,
    /// Glob patterns of paths never scanned (e.g. "tests/fixtures/**", "*.pem"), in
    /// gantry's glob dialect (`gantry_sdk::glob`). A pattern without '/' matches at any
    /// depth; a matching directory excludes its contents.
    #[serde(default)]
    pub allow_paths: Vec<String>,
    /// Regexes: a match whose secret value matches one of these is not reported.
    #[serde(default)]
    pub allow_values: Vec<String>,
    /// Workspace-relative path of a baseline file of accepted findings.
    #[serde(default)]
    pub baseline: Option<String>,
    /// Minimum Shannon entropy (bits/char) of values of the generic-secret-assignment
    /// rule (default 3.5; short values need at most 0.85 * log2(length)).
    #[serde(default)]
    pub entropy_threshold: Option<f64>,
    /// Files larger than this many bytes are skipped (default 2 MiB).
    #[serde(default)]
    pub max_file_size: Option<u64>,
    /// Rule ids to disable.
    #[serde(default)]
    pub disable: Vec<String>,
}

impl Default for Config {
    fn default() -> Config {
        Config {
            paths: default_paths(),
            allow_paths: Vec::new(),
            allow_values: Vec::new(),
            baseline: None,
            entropy_threshold: None,
            max_file_size: None,
            disable: Vec::new(),
        }
    }
}

/// Finding level: the SDK's, shared by every plugin (serde and JSON Schema derives,
/// `as_str`, `ALL`).
pub use gantry_sdk::Level;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct RuleMeta {
    /// Stable kebab-case id.
    pub id: &'static str,
    /// One-line name (SARIF shortDescription).
    pub short: &'static str,
    /// Description (SARIF fullDescription).
    pub full: &'static str,
    /// Default level.
    pub level: Level,
    /// Anchor of the rule's section in `RULES.md` (the section heading is the id).
    pub help: &'static str,
}

static RULE_METAS: LazyLock<Vec<RuleMeta>> = LazyLock::new(rules::metas);

/// All rules, in detection-priority order.
pub fn rules() -> &'static [RuleMeta] {
    &RULE_METAS
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Finding {
    pub rule_id: String,
    pub level: Level,
    /// Relative to the scan root, '/'-separated.
    pub path: String,
    /// 1-based.
    pub line: u32,
    /// 1-based, UTF-16 code units.
    pub column: u32,
    /// Exclusive.
    pub end_column: u32,
    /// Never contains the secret: a redacted preview like `AKIA****************`.
    pub message: String,
    /// 32 hex digits of sha256(rule_id \0 path \0 secret).
    pub fingerprint: String,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct ScanOutput {
    pub findings: Vec<Finding>,
    pub files_scanned: u64,
    pub bytes_scanned: u64,
    /// (path, reason): symlinks, binary files, too large, allow-paths, `.git`, unreadable.
    pub skipped: Vec<(String, String)>,
    /// Findings dropped by allow-values, inline markers and the baseline.
    pub suppressed: u64,
}

pub struct Scanner {
    engine: Engine,
    paths: Vec<String>,
    allow_paths: Vec<Glob>,
    allow_values: Vec<Regex>,
    baseline: Option<String>,
    max_file_size: u64,
}

/// Why a file's content is not scanned: a NUL byte in the first 8 KiB, or a first
/// 8 KiB that is not UTF-8 and does not look like legacy 8-bit text either.
pub(crate) fn binary_reason(content: &[u8]) -> Option<&'static str> {
    let head = &content[..content.len().min(8192)];
    if memchr::memchr(0, head).is_some() {
        return Some("binary (NUL byte)");
    }
    // Only the head is checked, like the NUL test (a character cut at 8 KiB is fine).
    // ASCII first: an OR over all bytes compiles to vector code (wasm simd128 too),
    // where `from_utf8`'s ASCII path goes a word (4 bytes in wasm32) at a time.
    let ascii = head.iter().fold(0u8, |acc, &b| acc | b) < 0x80;
    let utf8_ok = ascii
        || match std::str::from_utf8(head) {
            Ok(_) => true,
            Err(e) => e.error_len().is_none(),
        };
    if !utf8_ok {
        // Tolerate legacy 8-bit text (latin-1 comments); refuse data.
        let ctrl = head
            .iter()
            .filter(|&&b| b < 0x09 || (0x0e..0x20).contains(&b) || b == 0x7f)
            .count();
        let high = head.iter().filter(|&&b| b >= 0x80).count();
        if ctrl * 20 > head.len() || high * 3 > head.len() {
            return Some("binary (not UTF-8 text)");
        }
    }
    None
}

fn check_relative(key: &str, p: &str) -> Result<String, String> {
    let norm = p.replace('\\', "/");
    if norm.starts_with('/')
        || norm.split('/').any(|c| c == "..")
        || norm.contains(':') && norm.len() > 1 && norm.as_bytes()[1] == b':'
    {
        return Err(format!(
            "{key}: `{p}` must be a relative path inside the workspace (no leading '/', no '..')"
        ));
    }
    let parts: Vec<&str> = norm
        .split('/')
        .filter(|c| !c.is_empty() && *c != ".")
        .collect();
    Ok(parts.join("/"))
}

impl Scanner {
    pub fn new(config: &Config) -> Result<Scanner, String> {
        let mut enabled: u64 = (1u64 << rules::SPECS.len()) - 1;
        for (i, id) in config.disable.iter().enumerate() {
            match rules::SPECS.iter().position(|s| s.id == id) {
                Some(r) => enabled &= !(1 << r),
                None => {
                    let ids: Vec<&str> = rules::SPECS.iter().map(|s| s.id).collect();
                    return Err(format!(
                        "disable[{i}]: unknown rule id `{id}` (known: {})",
                        ids.join(", ")
                    ));
                }
            }
        }
        let threshold = config
            .entropy_threshold
            .unwrap_or(DEFAULT_ENTROPY_THRESHOLD);
        if !(0.0..=8.0).contains(&threshold) {
            return Err(format!(
                "entropy-threshold: {threshold} is out of range (0 to 8 bits per character)"
            ));
        }
        if config.max_file_size == Some(0) {
            return Err("max-file-size: must be greater than 0".into());
        }
        if config.paths.is_empty() {
            return Err("paths: must name at least one path (default [\".\"])".into());
        }
        let paths = config
            .paths
            .iter()
            .enumerate()
            .map(|(i, p)| check_relative(&format!("paths[{i}]"), p))
            .collect::<Result<Vec<_>, _>>()?;
        let allow_paths = config
            .allow_paths
            .iter()
            .enumerate()
            .map(|(i, g)| {
                Glob::new(g)
                    .map_err(|e| format!("allow-paths[{i}]: invalid glob `{g}`: {}", e.reason))
            })
            .collect::<Result<Vec<_>, _>>()?;
        let allow_values = config
            .allow_values
            .iter()
            .enumerate()
            .map(|(i, r)| {
                Regex::new(r).map_err(|e| format!("allow-values[{i}]: invalid regex `{r}`: {e}"))
            })
            .collect::<Result<Vec<_>, _>>()?;
        let baseline = match &config.baseline {
            Some(b) => Some(check_relative("baseline", b)?),
            None => None,
        };
        Ok(Scanner {
            engine: Engine::new(enabled, threshold)?,
            paths,
            allow_paths,
            allow_values,
            baseline,
            max_file_size: config.max_file_size.unwrap_or(DEFAULT_MAX_FILE_SIZE),
        })
    }

    /// Walk `root/<p>` for each configured path and scan every text file. See
    /// [`walk`] for what is skipped. Errors: unreadable or malformed baseline, a
    /// configured path that does not exist.
    pub fn scan_tree(&self, root: &Path) -> Result<ScanOutput, String> {
        let baseline = match &self.baseline {
            Some(b) => {
                let text = std::fs::read_to_string(root.join(b))
                    .map_err(|e| format!("baseline: cannot read `{b}`: {e}"))?;
                Some(baseline::parse(b, &text)?)
            }
            None => None,
        };
        let mut out = ScanOutput::default();
        let mut seen = walk::Seen::new(self.paths.len());
        for (i, p) in self.paths.iter().enumerate() {
            walk::walk(
                root,
                p,
                i,
                &self.allow_paths,
                self.max_file_size,
                &mut seen,
                &mut out,
                &mut |rel, content, out| {
                    out.files_scanned += 1;
                    out.bytes_scanned += content.len() as u64;
                    let mut suppressed = 0;
                    let findings = self.scan_content(rel, content, &mut suppressed);
                    out.suppressed += suppressed;
                    for f in findings {
                        if baseline
                            .as_ref()
                            .is_some_and(|b| b.contains(&f.fingerprint))
                        {
                            out.suppressed += 1;
                        } else {
                            out.findings.push(f);
                        }
                    }
                },
            )?;
        }
        out.findings.sort_by(|a, b| {
            (&a.path, a.line, a.column, &a.rule_id).cmp(&(&b.path, b.line, b.column, &b.rule_id))
        });
        Ok(out)
    }

    /// Scan one file's content as `scan_tree` would (allow-paths, size and binary
    /// checks, allow-values, inline markers), without the baseline.
    pub fn scan_bytes(&self, path: &str, content: &[u8]) -> Vec<Finding> {
        let path = path.replace('\\', "/");
        let path = path.trim_start_matches("./");
        if glob::any_match_or_parent(&self.allow_paths, path)
            || content.len() as u64 > self.max_file_size
            || binary_reason(content).is_some()
        {
            return Vec::new();
        }
        let mut suppressed = 0;
        self.scan_content(path, content, &mut suppressed)
    }

    fn scan_content(&self, path: &str, content: &[u8], suppressed: &mut u64) -> Vec<Finding> {
        let raws = self.engine.detect(content, FileKind::of(path));
        let mut out = Vec::with_capacity(raws.len());
        for raw in raws {
            let spec = &rules::SPECS[raw.rule];
            if self.value_allowed(&raw.secret) || marker_allows(content, &raw, spec.id) {
                *suppressed += 1;
                continue;
            }
            out.push(to_finding(path, content, raw));
        }
        out
    }

    fn value_allowed(&self, secret: &[u8]) -> bool {
        if self.allow_values.is_empty() {
            return false;
        }
        let s = String::from_utf8_lossy(secret);
        self.allow_values.iter().any(|r| r.is_match(&s))
    }
}

fn to_finding(path: &str, content: &[u8], raw: Raw) -> Finding {
    let spec = &rules::SPECS[raw.rule];
    let col = |off: usize| 1 + utf16_len(&content[raw.line_start..off]);
    let mut h = Sha256::new();
    h.update(spec.id.as_bytes());
    h.update([0]);
    h.update(path.as_bytes());
    h.update([0]);
    h.update(&raw.secret);
    let fp = hex::encode(h.finalize());
    Finding {
        rule_id: spec.id.to_string(),
        level: spec.level,
        path: path.to_string(),
        line: raw.line,
        column: col(raw.start),
        end_column: col(raw.end),
        message: raw.message,
        fingerprint: fp[..32].to_string(),
    }
}

fn utf16_len(b: &[u8]) -> u32 {
    if b.is_ascii() {
        return b.len() as u32;
    }
    String::from_utf8_lossy(b).encode_utf16().count() as u32
}

const MARKER: &[u8] = b"gantry:allow";

/// Inline markers:
/// - `gantry:allow` on the finding's line suppresses every finding on it;
/// - `gantry:allow rule-a, rule-b` only those rules (ids are read while they are known ids);
/// - `gantry:allow-next-line [rule-ids]` on the line before does the same for the next line.
fn marker_allows(content: &[u8], raw: &Raw, rule_id: &str) -> bool {
    let line_end = memchr::memchr(b'\n', &content[raw.line_start..])
        .map_or(content.len(), |i| raw.line_start + i);
    if line_allows(&content[raw.line_start..line_end], false, rule_id) {
        return true;
    }
    if raw.line_start == 0 {
        return false;
    }
    let prev_end = raw.line_start - 1;
    let prev_start = memchr::memrchr(b'\n', &content[..prev_end]).map_or(0, |i| i + 1);
    line_allows(&content[prev_start..prev_end], true, rule_id)
}

fn line_allows(line: &[u8], next_line_form: bool, rule_id: &str) -> bool {
    let mut from = 0;
    while let Some(i) = memchr::memmem::find(&line[from..], MARKER) {
        let mut rest = &line[from + i + MARKER.len()..];
        from += i + MARKER.len();
        let is_next = rest.starts_with(b"-next-line");
        if is_next {
            rest = &rest[b"-next-line".len()..];
        }
        if is_next != next_line_form
            || rest
                .first()
                .is_some_and(|b| b.is_ascii_alphanumeric() || *b == b'-' || *b == b'_')
        {
            continue;
        }
        let ids = marker_rule_ids(rest);
        if ids.is_empty() || ids.contains(&rule_id) {
            return true;
        }
    }
    false
}

/// Known rule ids listed right after a marker, separated by spaces, commas or a colon.
fn marker_rule_ids(rest: &[u8]) -> Vec<&'static str> {
    let text = String::from_utf8_lossy(rest);
    let mut ids = Vec::new();
    for tok in text
        .split(|c: char| c.is_whitespace() || c == ',' || c == ':' || c == '(' || c == ')')
        .filter(|t| !t.is_empty())
    {
        match rules::SPECS.iter().find(|s| s.id == tok) {
            Some(s) => ids.push(s.id),
            None => break,
        }
    }
    ids
}
