//! What the host accepts of a plugin's report before anything is recorded: sizes
//! capped with a note, finding and artifact paths made workspace-relative or dropped
//! with the reason (`outside_paths`), texts clipped.

#[allow(unused_imports)]
use super::*;

/// A plugin's report is input like any other: bounded, well-formed, and its artifact
/// claims are checked against what the stage could actually write.
pub(super) fn check_report(
    mut report: StageReport,
    stage: &Stage,
    workspace: &Path,
    log: &StageLog,
) -> Result<(StageReport, Vec<Artifact>), String> {
    if report.outputs.len() > MAX_OUTPUTS {
        return Err(format!(
            "{} outputs, more than {MAX_OUTPUTS}",
            report.outputs.len()
        ));
    }
    for (k, v) in &report.outputs {
        if k.is_empty()
            || !k
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        {
            return Err(format!(
                "output key `{}` is not made of letters, digits, `-` and `_`",
                crate::run::display::shown(k, 80)
            ));
        }
        if v.len() > MAX_OUTPUT_VALUE {
            return Err(format!(
                "output `{k}` is {} bytes, more than {MAX_OUTPUT_VALUE}",
                v.len()
            ));
        }
    }
    if report.findings.len() > MAX_FINDINGS {
        let extra = report.findings.len() - MAX_FINDINGS;
        report.findings.truncate(MAX_FINDINGS);
        report.summary = format!(
            "{} ({extra} findings beyond {MAX_FINDINGS} dropped)",
            report.summary
        );
    }
    let mut cut = 0usize;
    let mut clip = |s: &mut String, max: usize| {
        if s.len() > max {
            cut += 1;
            *s = crate::caps::log::clip(std::mem::take(s), max);
        }
    };
    clip(&mut report.summary, MAX_REPORT_TEXT);
    for f in report.findings.iter_mut() {
        clip(&mut f.message, MAX_REPORT_TEXT);
        clip(&mut f.rule_id, MAX_REPORT_TEXT);
        if let Some(u) = f.help_uri.as_mut() {
            clip(u, MAX_REPORT_TEXT);
        }
        if let Some(fp) = f.fingerprint.as_mut() {
            clip(fp, MAX_REPORT_TEXT);
        }
        if let Some(l) = f.location.as_mut() {
            clip(&mut l.path, MAX_REPORT_TEXT);
        }
        if let Some(fix) = f.fix.as_mut() {
            clip(&mut fix.description, MAX_REPORT_TEXT);
            clip(&mut fix.inserted, MAX_FIX_TEXT);
        }
    }
    if cut > 0 {
        log.line(
            "gantry",
            &format!(
                "report: {cut} texts longer than {MAX_REPORT_TEXT} bytes (fix text: {MAX_FIX_TEXT}) were truncated"
            ),
        );
    }
    outside_paths(&mut report, log);
    let extra = crate::run::artifacts::excess(&report.artifacts);
    if extra > 0 {
        report
            .artifacts
            .truncate(crate::run::artifacts::MAX_ARTIFACTS);
        report.summary = format!(
            "{} ({extra} artifacts beyond {} dropped)",
            report.summary,
            crate::run::artifacts::MAX_ARTIFACTS
        );
        log.line(
            "gantry",
            &format!(
                "report: {extra} artifacts beyond {} dropped, not collected",
                crate::run::artifacts::MAX_ARTIFACTS
            ),
        );
    }
    for p in report.artifacts.iter_mut() {
        if p.len() > crate::run::artifacts::MAX_PATH {
            *p = crate::caps::log::clip(std::mem::take(p), crate::run::artifacts::MAX_PATH);
        }
    }
    let artifacts =
        crate::run::artifacts::collect(&report.artifacts, &stage.grants.fs.write, workspace, log);
    Ok((report, artifacts))
}

/// Most notes about dropped finding locations written to a stage's log.
pub(super) const MAX_PATH_NOTES: usize = 20;

/// A finding's path as a workspace-relative, `/`-separated path without `.` or `..`
/// segments; the plugin's own view of the workspace (`/workspace/…`) is accepted.
/// `Err`: why it does not name a workspace file.
pub fn workspace_relative(path: &str) -> Result<String, &'static str> {
    let root = crate::caps::fs::GUEST_ROOT;
    let rel = match path.strip_prefix(root) {
        Some("") => ".",
        Some(rest) if rest.starts_with('/') => &rest[1..],
        _ => path,
    };
    if rel.is_empty() {
        return Err("the path is empty");
    }
    if rel.contains('\0') {
        return Err("the path contains a NUL byte");
    }
    // Windows consumers of SARIF read `\` as a separator (`..\..\x` climbs out).
    if rel.contains('\\') {
        return Err("the path contains `\\`");
    }
    let b = rel.as_bytes();
    if rel.starts_with('/') || (b.len() >= 2 && b[0].is_ascii_alphabetic() && b[1] == b':') {
        return Err("an absolute path outside the workspace");
    }
    let mut parts: Vec<&str> = Vec::new();
    for seg in rel.split('/') {
        match seg {
            "" | "." => {}
            ".." => {
                if parts.pop().is_none() {
                    return Err("it climbs out of the workspace with `..`");
                }
            }
            s => parts.push(s),
        }
    }
    Ok(if parts.is_empty() {
        ".".to_string()
    } else {
        parts.join("/")
    })
}

/// Finding locations and fixes must name workspace files: a plugin's
/// `../../etc/passwd` or `/etc/shadow` would otherwise become a link in SARIF
/// (`file:///etc/shadow`) and a file a reviewer's tools open or patch. Such a
/// location is dropped, the finding kept with a note in its message; such a fix is
/// dropped; each is said in the stage log. Other paths are normalized.
pub(super) fn outside_paths(report: &mut StageReport, log: &StageLog) {
    use crate::run::display::shown;
    let mut notes = 0usize;
    let mut note = |what: String| {
        notes += 1;
        if notes <= MAX_PATH_NOTES {
            log.line("gantry", &what);
        }
    };
    for (i, f) in report.findings.iter_mut().enumerate() {
        if let Some(l) = f.location.as_mut() {
            match workspace_relative(&l.path) {
                Ok(p) => l.path = p,
                Err(why) => {
                    note(format!(
                        "report: finding {} (rule `{}`): location `{}` dropped: {why}; the finding is kept without it",
                        i + 1,
                        shown(&f.rule_id, 80),
                        shown(&l.path, 200)
                    ));
                    f.message.push_str(&format!(
                        " [location `{}` dropped by gantry: {why}]",
                        shown(&l.path, 200)
                    ));
                    f.location = None;
                }
            }
        }
        if let Some(fix) = f.fix.as_mut() {
            match workspace_relative(&fix.path) {
                Ok(p) => fix.path = p,
                Err(why) => {
                    note(format!(
                        "report: finding {} (rule `{}`): fix of `{}` dropped: {why}",
                        i + 1,
                        shown(&f.rule_id, 80),
                        shown(&fix.path, 200)
                    ));
                    f.fix = None;
                }
            }
        }
    }
    if notes > MAX_PATH_NOTES {
        log.line(
            "gantry",
            &format!(
                "report: {} more locations or fixes outside the workspace dropped",
                notes - MAX_PATH_NOTES
            ),
        );
    }
}
