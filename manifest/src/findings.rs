//! Host-level finding policy of a stage, whatever its plugin: `fail-on` and `baseline`.
//!
//! ```toml
//! [defaults]
//! fail-on = "error"                 # the default for every stage
//!
//! [stage.secrets]
//! plugin = "builtin:secret-scan"
//! fail-on = "warning"               # note | warning | error | never
//! baseline = "baselines/secrets.json"   # relative to this file's directory
//! ```
//!
//! - `fail-on = LEVEL`: the stage fails when a finding at or above LEVEL remains after
//!   the baseline is applied. `never` makes a scanner report-only (a `findings-gate`
//!   downstream decides). Without `fail-on`, a plugin that leaves the decision to its
//!   findings (WIT outcome `by-findings`, the SDK's default) fails on `error`, and one
//!   that decides for itself is taken at its word.
//! - A plugin's own `failure` is final: `fail-on` and `baseline` can only make a stage
//!   stricter than its plugin, never laxer. A plugin's `success` is overridden when a
//!   finding at or above an explicit `fail-on` remains.
//! - `baseline = PATH`: a JSON file written by `gantry baseline`; findings whose
//!   fingerprint it lists are kept in every report, marked as baselined (SARIF
//!   `baselineState: "unchanged"` with an accepted external suppression), and do not
//!   count towards `fail-on`. The file must exist when the pipeline is loaded
//!   ([`crate::Manifest::load`]); `gantry baseline` itself loads the pipeline without
//!   that check, so it can create it.
//!
//! Refused with file:line:column: an unknown level (with the nearest valid one, and
//! `high`/`critical`/`low`-style severities mapped to SARIF levels in the hint), a
//! `baseline` that is not a string, empty, absolute or leaving the directory with `..`,
//! and a missing baseline file.

use std::path::Path;

use serde::Serialize;

use super::diag::Span;
use super::suggest::did_you_mean;
use super::walk::{Cx, Val, span_of};

/// The lowest finding level that fails a stage, or `never`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum FailOn {
    Note,
    Warning,
    Error,
    Never,
}

impl FailOn {
    pub const VALUES: &[&str] = &["error", "warning", "note", "never"];

    pub fn parse(s: &str) -> Option<FailOn> {
        Some(match s {
            "note" => FailOn::Note,
            "warning" => FailOn::Warning,
            "error" => FailOn::Error,
            "never" => FailOn::Never,
            _ => return None,
        })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            FailOn::Note => "note",
            FailOn::Warning => "warning",
            FailOn::Error => "error",
            FailOn::Never => "never",
        }
    }

    /// Whether a finding of `level` (`note` < `warning` < `error`, by rank 0..=2) fails.
    pub fn fails(self, level_rank: u8) -> bool {
        match self {
            FailOn::Never => false,
            t => level_rank >= t as u8,
        }
    }
}

/// `baseline = "PATH"` of a stage.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Baseline {
    /// As written, `/`-separated, relative to the pipeline file's directory.
    pub path: String,
    #[serde(skip)]
    pub span: Span,
}

impl Baseline {
    /// The file on disk, relative to `dir` (the pipeline file's directory).
    pub fn resolve(&self, dir: &Path) -> std::path::PathBuf {
        dir.join(&self.path)
    }
}

pub(crate) fn parse_fail_on(cx: &mut Cx<'_>, v: &Val<'_>, place: &str) -> Option<FailOn> {
    let s = cx.ok(cx.string(v, &format!("`fail-on` in {place}")).map_err(|d| {
        d.with_hint(
            "a SARIF level: `fail-on = \"error\"`, `\"warning\"`, `\"note\"` or `\"never\"`",
        )
    }))?;
    if let Some(f) = FailOn::parse(s) {
        return Some(f);
    }
    let mapped = match s.to_ascii_lowercase().as_str() {
        "critical" | "high" | "fatal" | "blocker" | "err" => Some("error"),
        "medium" | "moderate" | "warn" | "major" => Some("warning"),
        "low" | "info" | "minor" | "none" | "informational" => Some("note"),
        "off" | "false" | "no" => Some("never"),
        _ => None,
    };
    let hint = match mapped.or_else(|| did_you_mean(s, FailOn::VALUES.iter().copied())) {
        Some(m) if mapped.is_some() => format!(
            "levels are SARIF's, not severities: did you mean `fail-on = \"{m}\"`? valid values: `error`, `warning`, `note`, `never`"
        ),
        Some(m) => format!("did you mean `{m}`? valid values: `error`, `warning`, `note`, `never`"),
        None => "valid values: `error`, `warning`, `note`, `never`".to_string(),
    };
    cx.error(
        span_of(v),
        format!("invalid `fail-on` in {place}: `{s}` is not a finding level"),
        Some(hint),
    );
    None
}

pub(crate) fn parse_baseline(cx: &mut Cx<'_>, v: &Val<'_>, place: &str) -> Option<Baseline> {
    let s = cx.ok(cx
        .string(v, &format!("`baseline` in {place}"))
        .map_err(|d| {
            d.with_hint("the path of a baseline file: `baseline = \"baselines/secrets.json\"`")
        }))?;
    let bad = if s.trim().is_empty() {
        Some("the path is empty")
    } else if s.starts_with('/') || s.starts_with('\\') || s.get(1..2) == Some(":") {
        Some("the path is absolute")
    } else if s.split(['/', '\\']).any(|c| c == "..") {
        Some("the path leaves the pipeline's directory with `..`")
    } else {
        None
    };
    if let Some(why) = bad {
        cx.error(
            span_of(v),
            format!("invalid `baseline` in {place}: {why}"),
            Some("give a path relative to the pipeline file's directory, e.g. `baseline = \"baselines/secrets.json\"`".into()),
        );
        return None;
    }
    Some(Baseline {
        path: s.trim_start_matches("./").to_string(),
        span: span_of(v),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thresholds() {
        assert!(FailOn::Error.fails(2));
        assert!(!FailOn::Error.fails(1));
        assert!(FailOn::Warning.fails(1));
        assert!(FailOn::Note.fails(0));
        assert!(!FailOn::Never.fails(2));
    }
}
