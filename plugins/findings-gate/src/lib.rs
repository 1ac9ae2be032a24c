//! `findings-gate`: gantry's official plugin that fails the pipeline on the findings of
//! upstream stages — "zero error-level findings across every scanner".
//!
//! It reads nothing from the workspace and needs no grant: the host hands every stage
//! the findings of the stages in its `needs` (WIT `stage-context.upstream`, after each
//! upstream stage's `baseline` was applied), and the gate counts them.
//!
//! ```toml
//! [stage.gate]
//! plugin = "builtin:findings-gate"
//! needs = ["secrets", "dependencies", "licences"]
//! with = { fail-on = "error", max = { warning = 10 }, stages = ["secrets", "dependencies"] }
//! ```
//!
//! - `stages`: which of the needed stages count (default: all of `needs`); naming a
//!   stage outside `needs` is a configuration error.
//! - `fail-on` (`error` default, `warning`, `note`, `never`): findings at or above it
//!   may not exist at all, unless `max` says otherwise for their level.
//! - `max`: per level, how many findings (summed over the counted stages) are tolerated;
//!   overrides `fail-on` for that level (`max = { error = 2 }` tolerates two errors).
//! - `include-baselined` (default `false`): count findings the upstream stage's baseline
//!   accepted too.
//!
//! Each violation is one `findings-over-limit` finding per (stage, rule, level) that
//! pushed a level over its limit, located at the first such finding. Outputs: `errors`,
//! `warnings`, `notes` (counted findings), `baselined` (not counted), `violations`.
//!
//! Tests: `mod tests` below; `tests/e2e/findings.rs` through the binary.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::Deserialize;

mod plugin;

/// Finding level: the SDK's, shared by every plugin (serde and JSON Schema derives,
/// `as_str`, `ALL`).
pub use gantry_sdk::Level;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum FailOn {
    Note,
    Warning,
    #[default]
    Error,
    Never,
}

/// Tolerated counts per level.
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Max {
    pub error: Option<u64>,
    pub warning: Option<u64>,
    pub note: Option<u64>,
}

/// The stage's `with` table.
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct Config {
    /// Needed stages whose findings count (default: every stage in `needs`).
    #[serde(default)]
    pub stages: Option<Vec<String>>,
    /// Findings at or above this level fail the gate (unless `max` tolerates some).
    #[serde(default)]
    pub fail_on: FailOn,
    /// Findings tolerated per level, summed over the counted stages.
    #[serde(default)]
    pub max: Max,
    /// Also count findings that the upstream stage's `baseline` accepted.
    #[serde(default)]
    pub include_baselined: bool,
}

/// One upstream finding, as much as the gate needs of it.
#[derive(Debug, Clone)]
pub struct Item {
    pub rule: String,
    pub level: Level,
    pub path: Option<String>,
    pub line: Option<u32>,
    pub baselined: bool,
}

/// One upstream stage.
#[derive(Debug, Clone)]
pub struct Upstream {
    pub stage: String,
    pub items: Vec<Item>,
}

/// A (stage, rule, level) group over its level's limit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation {
    pub stage: String,
    pub rule: String,
    pub level: Level,
    pub count: u64,
    /// The limit of the level and the total found at it, over all counted stages.
    pub limit: u64,
    pub total: u64,
    pub path: Option<String>,
    pub line: Option<u32>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Verdict {
    pub counts: BTreeMap<&'static str, u64>,
    pub baselined: u64,
    pub violations: Vec<Violation>,
    pub stages: Vec<String>,
}

impl Config {
    /// The tolerated count at `level`, `None` = unlimited.
    pub fn limit(&self, level: Level) -> Option<u64> {
        let explicit = match level {
            Level::Error => self.max.error,
            Level::Warning => self.max.warning,
            Level::Note => self.max.note,
        };
        let by_fail_on = match self.fail_on {
            FailOn::Never => false,
            FailOn::Note => true,
            FailOn::Warning => level >= Level::Warning,
            FailOn::Error => level >= Level::Error,
        };
        explicit.or(by_fail_on.then_some(0))
    }
}

/// Judges `upstream` (the stages in `needs`, in order). `Err`: a configuration error.
pub fn evaluate(config: &Config, upstream: &[Upstream]) -> Result<Verdict, String> {
    let chosen: Vec<&Upstream> = match &config.stages {
        None => upstream.iter().collect(),
        Some(names) => {
            let mut out = Vec::new();
            for n in names {
                match upstream.iter().find(|u| &u.stage == n) {
                    Some(u) => out.push(u),
                    None => {
                        let needs: Vec<String> =
                            upstream.iter().map(|u| format!("`{}`", u.stage)).collect();
                        return Err(format!(
                            "`stages`: `{n}` is not in this stage's `needs` ({}); the gate sees only the findings of stages it needs",
                            if needs.is_empty() {
                                "it needs none".to_string()
                            } else {
                                needs.join(", ")
                            }
                        ));
                    }
                }
            }
            out
        }
    };
    let mut v = Verdict {
        stages: chosen.iter().map(|u| u.stage.clone()).collect(),
        ..Verdict::default()
    };
    for l in Level::ALL {
        v.counts.insert(l.as_str(), 0);
    }
    // (level) → (stage, rule) → (count, first location)
    let mut groups: BTreeMap<Level, Vec<((String, String), u64, Option<String>, Option<u32>)>> =
        BTreeMap::new();
    for u in &chosen {
        for it in &u.items {
            if it.baselined && !config.include_baselined {
                v.baselined += 1;
                continue;
            }
            *v.counts.entry(it.level.as_str()).or_default() += 1;
            let list = groups.entry(it.level).or_default();
            let key = (u.stage.clone(), it.rule.clone());
            match list.iter_mut().find(|g| g.0 == key) {
                Some(g) => g.1 += 1,
                None => list.push((key, 1, it.path.clone(), it.line)),
            }
        }
    }
    for l in Level::ALL {
        let total = v.counts[l.as_str()];
        let Some(limit) = config.limit(l) else {
            continue;
        };
        if total <= limit {
            continue;
        }
        for ((stage, rule), count, path, line) in groups.remove(&l).unwrap_or_default() {
            v.violations.push(Violation {
                stage,
                rule,
                level: l,
                count,
                limit,
                total,
                path,
                line,
            });
        }
    }
    Ok(v)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item(rule: &str, level: Level, baselined: bool) -> Item {
        Item {
            rule: rule.into(),
            level,
            path: Some("a".into()),
            line: Some(1),
            baselined,
        }
    }

    fn up(stage: &str, items: Vec<Item>) -> Upstream {
        Upstream {
            stage: stage.into(),
            items,
        }
    }

    #[test]
    fn clean_and_dirty() {
        let c = Config::default();
        let clean = [up("a", vec![item("w", Level::Warning, false)])];
        let v = evaluate(&c, &clean).unwrap();
        assert!(v.violations.is_empty());
        assert_eq!(v.counts["warning"], 1);
        let dirty = [
            up(
                "a",
                vec![
                    item("e", Level::Error, false),
                    item("e", Level::Error, false),
                ],
            ),
            up("b", vec![item("x", Level::Error, false)]),
        ];
        let v = evaluate(&c, &dirty).unwrap();
        assert_eq!(v.violations.len(), 2);
        assert_eq!(
            (v.violations[0].stage.as_str(), v.violations[0].count),
            ("a", 2)
        );
        assert_eq!(v.violations[0].total, 3);
    }

    #[test]
    fn limits_stages_and_baselines() {
        let ups = [
            up(
                "a",
                vec![
                    item("e", Level::Error, true),
                    item("w", Level::Warning, false),
                ],
            ),
            up("b", vec![item("x", Level::Error, false)]),
        ];
        let only_a = Config {
            stages: Some(vec!["a".into()]),
            ..Config::default()
        };
        let v = evaluate(&only_a, &ups).unwrap();
        assert!(v.violations.is_empty());
        assert_eq!(v.baselined, 1);
        let with_baselined = Config {
            include_baselined: true,
            ..only_a.clone()
        };
        assert_eq!(evaluate(&with_baselined, &ups).unwrap().violations.len(), 1);
        let tolerant = Config {
            max: Max {
                error: Some(1),
                warning: Some(0),
                note: None,
            },
            ..Config::default()
        };
        let v = evaluate(&tolerant, &ups).unwrap();
        assert_eq!(v.violations.len(), 1);
        assert_eq!(v.violations[0].level, Level::Warning);
        let never = Config {
            fail_on: FailOn::Never,
            ..Config::default()
        };
        assert!(evaluate(&never, &ups).unwrap().violations.is_empty());
        let bad = Config {
            stages: Some(vec!["zzz".into()]),
            ..Config::default()
        };
        assert!(
            evaluate(&bad, &ups)
                .unwrap_err()
                .contains("`zzz` is not in")
        );
    }
}
