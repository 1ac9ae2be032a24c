//! The component glue: `findings-gate` as a gantry plugin (see the crate docs).

use gantry_sdk::prelude::*;

use crate::{Config, Item, Upstream, evaluate};

const RULES_URL: &str = gantry_sdk::rules_url!("README.md");

struct FindingsGate;

impl Plugin for FindingsGate {
    type Config = Config;

    fn info() -> Info {
        Info::new(env!("CARGO_PKG_NAME"), env!("CARGO_PKG_VERSION"))
            .kind(Kind::Gate)
            .description("Fails the pipeline on findings of upstream stages at or above a level")
            .rule(
                Rule::new(
                    "findings-over-limit",
                    Level::Error,
                    "An upstream stage reported more findings at a level than the gate allows",
                )
                .full(
                    "The stages this gate counts reported findings at a level that `fail-on` \
                     forbids (or more than `max` tolerates). Fix them, or accept known ones \
                     in the upstream stage's `baseline` (`gantry baseline STAGE`).",
                )
                .help(format!("{RULES_URL}#findings-over-limit")),
            )
    }

    fn run(cx: &Context, config: Config) -> Result<Report, Error> {
        let upstream: Vec<Upstream> = cx
            .upstream
            .iter()
            .map(|s| Upstream {
                stage: s.stage.clone(),
                items: s
                    .findings
                    .iter()
                    .map(|u| Item {
                        rule: u.finding.rule_id.clone(),
                        level: u.finding.level,
                        path: u.finding.path.clone(),
                        line: u.finding.region.as_ref().map(|r| r.start_line),
                        baselined: u.baselined,
                    })
                    .collect(),
            })
            .collect();
        let verdict = evaluate(&config, &upstream).map_err(Error::config)?;
        let mut report = Report::new();
        for v in &verdict.violations {
            let mut f = Finding::new(
                "findings-over-limit",
                Level::Error,
                format!(
                    "stage `{}`: {} `{}` finding{} of rule `{}` ({} {} in all, {} allowed)",
                    v.stage,
                    v.count,
                    v.level.as_str(),
                    if v.count == 1 { "" } else { "s" },
                    v.rule,
                    v.total,
                    v.level.as_str(),
                    v.limit
                ),
            )
            .fingerprint(format!("{}/{}/{}", v.stage, v.rule, v.level.as_str()))
            .help(format!("{RULES_URL}#findings-over-limit"));
            if let Some(p) = &v.path {
                f = match v.line {
                    Some(l) if l > 0 => f.at(p, l),
                    _ => f.in_file(p),
                };
            }
            report.push(f);
        }
        let c = |k: &str| verdict.counts.get(k).copied().unwrap_or(0);
        let summary = format!(
            "{} error, {} warning, {} note finding{} in {} stage{} ({} baselined): {}",
            c("error"),
            c("warning"),
            c("note"),
            if c("note") == 1 { "" } else { "s" },
            verdict.stages.len(),
            if verdict.stages.len() == 1 { "" } else { "s" },
            verdict.baselined,
            if verdict.violations.is_empty() {
                "within limits".to_string()
            } else {
                over_the_limit(&verdict.violations)
            }
        );
        let outcome = if verdict.violations.is_empty() {
            Outcome::Success
        } else {
            Outcome::Failure
        };
        Ok(report
            .outcome(outcome)
            .summary(summary)
            .output("errors", c("error").to_string())
            .output("warnings", c("warning").to_string())
            .output("notes", c("note").to_string())
            .output("baselined", verdict.baselined.to_string())
            .output("violations", verdict.violations.len().to_string())
            .output("stages", verdict.stages.join(",")))
    }
}

/// Names what the gate counted against its limits: `over the limit: stage `deps`: 2
/// `error` of rule `RUSTSEC-2024-0001` (first at Cargo.lock:12); …`, at most three,
/// then how many more.
fn over_the_limit(violations: &[crate::Violation]) -> String {
    const SHOWN: usize = 3;
    let each: Vec<String> = violations
        .iter()
        .take(SHOWN)
        .map(|v| {
            let at = match (&v.path, v.line) {
                (Some(p), Some(l)) if l > 0 => format!(" (first at {p}:{l})"),
                (Some(p), _) => format!(" (first in {p})"),
                _ => String::new(),
            };
            format!(
                "stage `{}`: {} `{}` of rule `{}`{at}",
                v.stage,
                v.count,
                v.level.as_str(),
                v.rule
            )
        })
        .collect();
    let more = violations.len().saturating_sub(SHOWN);
    let mut out = format!("over the limit: {}", each.join("; "));
    if more > 0 {
        out.push_str(&format!("; and {more} more (see the findings)"));
    }
    out
}

gantry_sdk::export_plugin!(FindingsGate);
