//! The host's finding policy, the same for every plugin: fingerprints, `baseline`,
//! `fail-on` (the keys are parsed by [`crate::manifest::findings`], which documents
//! them), and the upstream findings a stage receives.
//!
//! Order, after a plugin's report passed [`super::scheduler`]'s checks:
//!
//! 1. **Fingerprints.** A finding without one gets the host's:
//!    `sha256("gantry/v1" | rule | path | normalized content | occurrence)`, the first
//!    32 hex digits. The content is the text of the finding's start line in the file,
//!    whitespace trimmed and collapsed — never the line number, so baselines survive
//!    lines being inserted above. The host reads the file only when it lies under the
//!    stage's `grants.fs` (a plugin cannot make the host hash what it could not read);
//!    otherwise, and for findings without a line, the content is the message with every
//!    run of digits replaced by `0` (messages often quote line numbers). `occurrence`
//!    counts earlier findings with the same rule, path and content in the report, so two
//!    identical lines in one file are two entries.
//! 2. **Baseline.** Findings whose fingerprint is in the stage's baseline file are
//!    marked `baselined`: they stay in the report, SARIF, summary and `upstream`, and do
//!    not count towards `fail-on`.
//! 3. **Verdict.** A plugin's `failure` is final. Otherwise the threshold is the stage's
//!    `fail-on` (or `[defaults]`'s); without one, `error` when the plugin returned
//!    `by-findings` and none when it returned `success` (it decided). The stage fails
//!    when a non-baselined finding at or above the threshold remains.
//!
//! Baseline file (`gantry baseline` writes it; sorted, stable, reviewed in diffs):
//!
//! ```json
//! { "version": 1, "stage": "secrets",
//!   "findings": [ { "fingerprint": "…", "rule": "aws-access-key-id", "path": "src/a.rs",
//!                   "level": "error", "message": "…" } ] }
//! ```
//!
//! Only `fingerprint` is matched; the other fields are for the reviewer.
//!
//! Tests: unit tests below; `tests/e2e/findings.rs` (`e2e_findings`) through the binary.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::Path;

use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};

use crate::manifest::{FailOn, Stage};
use crate::report::model::{Finding, Level, Outcome, StageRecord, StageReport, StageStatus};
use crate::runtime::bindings::types as wit;

pub const BASELINE_VERSION: u32 = 1;
/// Files larger than this are not read for fingerprints (the message is used).
const MAX_FINGERPRINT_FILE: u64 = 16 << 20;

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BaselineFile {
    pub version: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stage: Option<String>,
    pub findings: Vec<BaselineEntry>,
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct BaselineEntry {
    pub fingerprint: String,
    #[serde(default)]
    pub rule: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub level: Option<Level>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

impl BaselineFile {
    /// The baseline of `stage` accepting every finding in `findings` (fingerprints set).
    pub fn from_findings(stage: &str, findings: &[Finding]) -> BaselineFile {
        let mut entries: Vec<BaselineEntry> = findings
            .iter()
            .filter_map(|f| {
                Some(BaselineEntry {
                    fingerprint: f.fingerprint.clone().filter(|s| !s.is_empty())?,
                    rule: f.rule_id.clone(),
                    path: f.location.as_ref().map(|l| l.path.clone()),
                    level: Some(f.level),
                    message: Some(f.message.clone()),
                })
            })
            .collect();
        entries.sort_by(|a, b| {
            (&a.path, &a.rule, &a.fingerprint).cmp(&(&b.path, &b.rule, &b.fingerprint))
        });
        entries.dedup_by(|a, b| a.fingerprint == b.fingerprint);
        BaselineFile {
            version: BASELINE_VERSION,
            stage: Some(stage.to_string()),
            findings: entries,
        }
    }

    pub fn read(path: &Path) -> Result<BaselineFile, String> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("cannot read baseline `{}`: {e}", path.display()))?;
        let file: BaselineFile = serde_json::from_str(&text).map_err(|e| {
            format!(
                "baseline `{}` is not a gantry baseline file: {e}",
                path.display()
            )
        })?;
        if file.version != BASELINE_VERSION {
            return Err(format!(
                "baseline `{}` has version {}; this gantry reads version {BASELINE_VERSION}",
                path.display(),
                file.version
            ));
        }
        Ok(file)
    }

    pub fn fingerprints(&self) -> HashSet<&str> {
        self.findings
            .iter()
            .map(|e| e.fingerprint.as_str())
            .collect()
    }
}

fn rank(l: Level) -> u8 {
    match l {
        Level::Note => 0,
        Level::Warning => 1,
        Level::Error => 2,
    }
}

/// The host fingerprint of a finding with `content` (see the module docs).
pub fn fingerprint(rule: &str, path: &str, content: &str, occurrence: usize) -> String {
    let mut h = Sha256::new();
    for part in ["gantry/v1", rule, path, content, &occurrence.to_string()] {
        h.update(part.as_bytes());
        h.update([0]);
    }
    hex::encode(h.finalize())[..32].to_string()
}

/// Whitespace trimmed and collapsed: re-indenting a line keeps its fingerprint.
fn normalize(line: &str) -> String {
    line.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn mask_digits(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut in_digits = false;
    for c in s.chars() {
        if c.is_ascii_digit() {
            if !in_digits {
                out.push('0');
            }
            in_digits = true;
        } else {
            out.push(c);
            in_digits = false;
        }
    }
    out
}

/// Lines of workspace file `rel` if the stage may read it.
fn granted_lines(stage: &Stage, workspace: &Path, rel: &str) -> Option<Vec<String>> {
    let rel = crate::manifest::normalize_workspace_path(rel).ok()?;
    let under = |g: &String| g == "." || rel == *g || rel.starts_with(&format!("{g}/"));
    let fs = &stage.grants.fs;
    if !fs.read.iter().chain(fs.write.iter()).any(under) {
        return None;
    }
    // Symlinks resolved: the file itself, not only the name the plugin gave, must lie
    // under a grant (else a link in a granted directory would let the host hash a
    // line the plugin could not read, and the fingerprint would be an oracle for it).
    let real = workspace.join(&rel).canonicalize().ok()?;
    let real_rel = real.strip_prefix(workspace).ok()?.to_str()?.to_string();
    if !fs
        .read
        .iter()
        .chain(fs.write.iter())
        .any(|g| g == "." || real_rel == *g || real_rel.starts_with(&format!("{g}/")))
    {
        return None;
    }
    let meta = std::fs::metadata(&real).ok()?;
    if !meta.is_file() || meta.len() > MAX_FINGERPRINT_FILE {
        return None;
    }
    let bytes = std::fs::read(&real).ok()?;
    Some(
        String::from_utf8_lossy(&bytes)
            .lines()
            .map(str::to_string)
            .collect(),
    )
}

/// Gives every finding without a fingerprint the host's (see the module docs).
pub fn fill_fingerprints(findings: &mut [Finding], stage: &Stage, workspace: &Path) {
    let mut files: HashMap<String, Option<Vec<String>>> = HashMap::new();
    let mut seen: HashMap<(String, String, String), usize> = HashMap::new();
    for f in findings.iter_mut() {
        if f.fingerprint
            .as_deref()
            .is_some_and(|s| !s.trim().is_empty())
        {
            continue;
        }
        let path = f
            .location
            .as_ref()
            .map(|l| l.path.clone())
            .unwrap_or_default();
        let line = f
            .location
            .as_ref()
            .and_then(|l| l.region.as_ref())
            .map(|r| r.start_line);
        let content = line
            .filter(|_| !path.is_empty())
            .and_then(|n| {
                let lines = files
                    .entry(path.clone())
                    .or_insert_with(|| granted_lines(stage, workspace, &path));
                let text = lines.as_ref()?.get((n as usize).checked_sub(1)?)?;
                Some(format!("line:{}", normalize(text)))
            })
            .unwrap_or_else(|| format!("message:{}", mask_digits(&f.message)));
        let n = seen
            .entry((f.rule_id.clone(), path.clone(), content.clone()))
            .or_default();
        f.fingerprint = Some(fingerprint(&f.rule_id, &path, &content, *n));
        *n += 1;
    }
}

/// Fingerprints, baseline and verdict for a stage's report. Resolves `by-findings`, so
/// the report's outcome is `success` or `failure` afterwards. Returns why the host failed
/// the stage, when it did (a plugin's own failure keeps the plugin's reason).
pub fn judge(
    report: &mut StageReport,
    stage: &Stage,
    workspace: &Path,
    pipeline_dir: &Path,
) -> Option<String> {
    fill_fingerprints(&mut report.findings, stage, workspace);
    if let Some(b) = &stage.baseline {
        match BaselineFile::read(&b.resolve(pipeline_dir)) {
            Ok(file) => {
                report.baseline_compared = true;
                let known = file.fingerprints();
                for f in report.findings.iter_mut() {
                    f.baselined = f.fingerprint.as_deref().is_some_and(|p| known.contains(p));
                }
            }
            Err(why) => {
                report.outcome = Outcome::Failure;
                return Some(why);
            }
        }
    }
    let threshold = match (report.outcome, stage.fail_on) {
        (_, Some(t)) => Some(t),
        (Outcome::ByFindings, None) => Some(FailOn::Error),
        (_, None) => None,
    };
    let plugin_failed = report.outcome == Outcome::Failure;
    let mut failing: BTreeMap<&str, usize> = BTreeMap::new();
    if let Some(t) = threshold {
        for f in report
            .findings
            .iter()
            .filter(|f| !f.baselined && t.fails(rank(f.level)))
        {
            *failing.entry(f.rule_id.as_str()).or_default() += 1;
        }
    }
    if plugin_failed {
        return None;
    }
    if failing.is_empty() {
        report.outcome = Outcome::Success;
        return None;
    }
    report.outcome = Outcome::Failure;
    let total: usize = failing.values().sum();
    let t = threshold.map_or("error", FailOn::as_str);
    let rules = failing
        .iter()
        .map(|(r, n)| format!("{n} × `{r}`"))
        .collect::<Vec<_>>()
        .join(", ");
    let baselined = report.findings.iter().filter(|f| f.baselined).count();
    Some(format!(
        "{total} finding{} at or above `{t}` (fail-on){}: {rules}",
        if total == 1 { "" } else { "s" },
        if stage.baseline.is_some() {
            format!(" not in the baseline ({baselined} baselined)")
        } else {
            String::new()
        }
    ))
}

/// The findings of the stages `stage` needs directly, for its WIT context.
pub fn upstream(stage: &Stage, records: &BTreeMap<String, StageRecord>) -> Vec<wit::StageFindings> {
    stage
        .needs
        .iter()
        .filter_map(|n| records.get(n))
        .filter(|r| {
            matches!(
                r.status,
                StageStatus::Succeeded | StageStatus::FailedAllowed
            )
        })
        .map(|r| wit::StageFindings {
            stage: r.stage.clone(),
            plugin: r
                .plugin
                .as_ref()
                .map(|p| p.name.clone())
                .unwrap_or_default(),
            status: match r.status {
                StageStatus::FailedAllowed => "failed-allowed",
                _ => "succeeded",
            }
            .to_string(),
            findings: r
                .report
                .iter()
                .flat_map(|rep| rep.findings.iter())
                .map(|f| wit::UpstreamFinding {
                    finding: to_wit(f),
                    baselined: f.baselined,
                })
                .collect(),
        })
        .collect()
}

fn to_wit(f: &Finding) -> wit::Finding {
    let region = |r: &crate::report::model::Region| wit::Region {
        start_line: r.start_line,
        start_column: r.start_column,
        end_line: r.end_line,
        end_column: r.end_column,
    };
    wit::Finding {
        rule_id: f.rule_id.clone(),
        level: match f.level {
            Level::Note => wit::Level::Note,
            Level::Warning => wit::Level::Warning,
            Level::Error => wit::Level::Error,
        },
        message: f.message.clone(),
        location: f.location.as_ref().map(|l| wit::Location {
            path: l.path.clone(),
            region: l.region.as_ref().map(region),
        }),
        fingerprint: f.fingerprint.clone(),
        help_uri: f.help_uri.clone(),
        fix: f.fix.as_ref().map(|x| wit::Fix {
            description: x.description.clone(),
            path: x.path.clone(),
            deleted: region(&x.deleted),
            inserted: x.inserted.clone(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::model::{Location, Region};

    fn stage(toml_extra: &str) -> Stage {
        let src = format!(
            "[pipeline]\nname = \"t\"\n[stage.s]\nplugin = \"builtin:x\"\ngrants.fs.read = [\".\"]\n{toml_extra}\n"
        );
        let m = crate::manifest::Manifest::parse(Path::new("pipeline.toml"), &src)
            .expect("valid pipeline");
        m.stages[0].clone()
    }

    fn finding(rule: &str, level: Level, path: &str, line: u32) -> Finding {
        Finding {
            rule_id: rule.into(),
            level,
            message: format!("{rule} at line {line}"),
            location: Some(Location {
                path: path.into(),
                region: Some(Region {
                    start_line: line,
                    start_column: None,
                    end_line: None,
                    end_column: None,
                }),
            }),
            fingerprint: None,
            help_uri: None,
            fix: None,
            baselined: false,
        }
    }

    fn report(outcome: Outcome, findings: Vec<Finding>) -> StageReport {
        StageReport {
            outcome,
            summary: String::new(),
            findings,
            outputs: vec![],
            artifacts: vec![],
            baseline_compared: false,
        }
    }

    #[test]
    fn fingerprints_survive_line_moves_and_reindentation() {
        let dir = tempdir();
        let ws = dir.as_path();
        std::fs::write(ws.join("a.rs"), "fn main() {\n    let k = \"AKIA\";\n}\n").unwrap();
        let s = stage("");
        let mut before = vec![finding("r", Level::Error, "a.rs", 2)];
        fill_fingerprints(&mut before, &s, ws);
        std::fs::write(
            ws.join("a.rs"),
            "// new\n// lines\nfn main() {\n\tlet   k = \"AKIA\";\n}\n",
        )
        .unwrap();
        let mut after = vec![finding("r", Level::Error, "a.rs", 4)];
        fill_fingerprints(&mut after, &s, ws);
        assert_eq!(before[0].fingerprint, after[0].fingerprint);
        // A different line, or another rule on it, is another finding.
        let mut other = vec![
            finding("r", Level::Error, "a.rs", 3),
            finding("q", Level::Error, "a.rs", 4),
        ];
        fill_fingerprints(&mut other, &s, ws);
        assert_ne!(other[0].fingerprint, after[0].fingerprint);
        assert_ne!(other[1].fingerprint, after[0].fingerprint);
        // The same content twice: two distinct fingerprints.
        std::fs::write(ws.join("b.rs"), "x = 1\nx = 1\n").unwrap();
        let mut twice = vec![
            finding("r", Level::Error, "b.rs", 1),
            finding("r", Level::Error, "b.rs", 2),
        ];
        fill_fingerprints(&mut twice, &s, ws);
        assert_ne!(twice[0].fingerprint, twice[1].fingerprint);
        // A plugin's own fingerprint is kept.
        let mut own = vec![finding("r", Level::Error, "a.rs", 4)];
        own[0].fingerprint = Some("mine".into());
        fill_fingerprints(&mut own, &s, ws);
        assert_eq!(own[0].fingerprint.as_deref(), Some("mine"));
    }

    #[test]
    fn files_outside_the_grants_are_not_read() {
        let dir = tempdir();
        let ws = dir.as_path();
        std::fs::create_dir_all(ws.join("src")).unwrap();
        std::fs::write(ws.join("secret.txt"), "one\ntwo\n").unwrap();
        let s = stage("").clone();
        let mut narrow = s.clone();
        narrow.grants.fs.read = vec!["src".into()];
        let mut a = vec![finding("r", Level::Error, "secret.txt", 2)];
        let mut b = a.clone();
        fill_fingerprints(&mut a, &s, ws);
        fill_fingerprints(&mut b, &narrow, ws);
        assert_ne!(
            a[0].fingerprint, b[0].fingerprint,
            "narrow grant: message-based"
        );
        assert_eq!(
            b[0].fingerprint.as_deref(),
            Some(fingerprint("r", "secret.txt", "message:r at line 0", 0).as_str())
        );
        // A link inside the grant to a file outside it is not followed either.
        std::os::unix::fs::symlink("../secret.txt", ws.join("src/link.txt")).unwrap();
        let mut c = vec![finding("r", Level::Error, "src/link.txt", 2)];
        fill_fingerprints(&mut c, &narrow, ws);
        assert_eq!(
            c[0].fingerprint.as_deref(),
            Some(fingerprint("r", "src/link.txt", "message:r at line 0", 0).as_str()),
            "a symlink out of the grant: message-based"
        );
    }

    #[test]
    fn verdicts() {
        let dir = tempdir();
        let ws = dir.as_path();
        let warn = || finding("w", Level::Warning, "x", 1);
        let err = || finding("e", Level::Error, "x", 1);
        // by-findings: default threshold `error`.
        let mut r = report(Outcome::ByFindings, vec![warn()]);
        assert_eq!(judge(&mut r, &stage(""), ws, ws), None);
        assert_eq!(r.outcome, Outcome::Success);
        let mut r = report(Outcome::ByFindings, vec![err()]);
        assert!(judge(&mut r, &stage(""), ws, ws).is_some());
        assert_eq!(r.outcome, Outcome::Failure);
        // An explicit `success` is the plugin's decision, unless fail-on is set.
        let mut r = report(Outcome::Success, vec![err()]);
        assert_eq!(judge(&mut r, &stage(""), ws, ws), None);
        let mut r = report(Outcome::Success, vec![warn()]);
        let why = judge(&mut r, &stage("fail-on = \"warning\""), ws, ws).unwrap();
        assert!(why.contains("1 finding at or above `warning`"), "{why}");
        // `never` makes a scanner report-only; a plugin's failure stays a failure.
        let mut r = report(Outcome::ByFindings, vec![err()]);
        assert_eq!(judge(&mut r, &stage("fail-on = \"never\""), ws, ws), None);
        assert_eq!(r.outcome, Outcome::Success);
        let mut r = report(Outcome::Failure, vec![]);
        assert_eq!(judge(&mut r, &stage("fail-on = \"never\""), ws, ws), None);
        assert_eq!(r.outcome, Outcome::Failure);
    }

    #[test]
    fn baselined_findings_do_not_count() {
        let dir = tempdir();
        let ws = dir.as_path();
        let s = stage("baseline = \"base.json\"");
        let mut first = report(
            Outcome::ByFindings,
            vec![finding("e", Level::Error, "x", 1)],
        );
        fill_fingerprints(&mut first.findings, &s, ws);
        let file = BaselineFile::from_findings("s", &first.findings);
        std::fs::write(ws.join("base.json"), serde_json::to_vec(&file).unwrap()).unwrap();
        let mut again = report(
            Outcome::ByFindings,
            vec![
                finding("e", Level::Error, "x", 1),
                finding("n", Level::Error, "y", 1),
            ],
        );
        let why = judge(&mut again, &s, ws, ws).unwrap();
        assert!(again.findings[0].baselined && !again.findings[1].baselined);
        assert!(
            why.contains("1 finding") && why.contains("(1 baselined)"),
            "{why}"
        );
        again.findings.pop();
        again.outcome = Outcome::ByFindings;
        assert_eq!(judge(&mut again, &s, ws, ws), None);
        std::fs::write(ws.join("base.json"), "{").unwrap();
        let mut r = report(Outcome::ByFindings, vec![]);
        assert!(
            judge(&mut r, &s, ws, ws)
                .unwrap()
                .contains("not a gantry baseline")
        );
    }

    struct TempDir(std::path::PathBuf);
    impl TempDir {
        fn as_path(&self) -> &Path {
            &self.0
        }
    }
    impl Drop for TempDir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
    fn tempdir() -> TempDir {
        use std::sync::atomic::{AtomicU32, Ordering};
        static N: AtomicU32 = AtomicU32::new(0);
        let p = std::env::temp_dir().join(format!(
            "gantry-findings-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&p).unwrap();
        TempDir(p.canonicalize().unwrap())
    }
}
