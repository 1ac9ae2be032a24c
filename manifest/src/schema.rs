//! The validated, typed form of `pipeline.toml` that the rest of gantry consumes.
//!
//! Everything here has already been checked by [`crate::Manifest::parse`]:
//! names are valid, `needs` form a DAG, paths are normalized and inside the
//! workspace, limits are within bounds, placeholders refer to reachable stages.

use std::time::Duration;

use gantry_registry::PluginRef;
use serde::Serialize;

use super::diag::Span;
use super::findings::{Baseline, FailOn};
use super::grants::Grants;

/// Default wall-clock timeout of a stage.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10 * 60);
/// Longest timeout a stage may ask for.
pub const MAX_TIMEOUT: Duration = Duration::from_secs(24 * 60 * 60);
/// Largest `retries` value.
pub const MAX_RETRIES: u32 = 10;

const KIB: u64 = 1 << 10;
const MIB: u64 = 1 << 20;
const GIB: u64 = 1 << 30;

/// One `[stage.NAME]` table.
#[derive(Clone, Debug, PartialEq)]
pub struct Stage {
    pub name: String,
    /// The stage's header (`[stage.NAME]`), or its key when written inline.
    pub span: Span,
    /// The reference as written.
    pub plugin: String,
    /// Span of the `plugin` value (the quoted string).
    pub plugin_span: Span,
    /// The reference parsed (syntax only; resolved by `run::prepare`).
    pub plugin_ref: PluginRef,
    /// Plugin configuration: the `with` table as a JSON object (`{}` when absent).
    /// May contain `${…}` placeholders, see [`crate::interp`].
    pub with: serde_json::Value,
    /// Direct dependencies, in the order written.
    pub needs: Vec<String>,
    pub when: Option<When>,
    pub timeout: Duration,
    pub retries: u32,
    pub allow_failure: bool,
    pub grants: Grants,
    pub limits: Limits,
    /// `fail-on` (or `[defaults]`'s): see [`crate::findings`]. `None`: the plugin decides,
    /// or `error` when it leaves the decision to its findings.
    pub fail_on: Option<FailOn>,
    /// `baseline`: see [`crate::findings`].
    pub baseline: Option<Baseline>,
    /// `environment = "production"`: the `[environments]` entry this stage deploys to.
    pub environment: Option<String>,
}

/// Sandbox limits of a stage. Defaults are safe for a linter-sized plugin.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct Limits {
    /// Linear memory cap in bytes (default 256 MiB; 1 MiB..=4 GiB).
    pub memory: u64,
    /// Wasm stack cap in bytes (`max_wasm_stack`; default 1 MiB; 64 KiB..=64 MiB).
    pub stack: u64,
    /// Fuel budget; `None` = unmetered (the timeout still applies).
    pub fuel: Option<u64>,
    /// Cap in bytes on stdout and on stderr, each (default 1 MiB; 1 KiB..=1 GiB).
    /// Output beyond it is dropped and the log marked truncated.
    pub stdout: u64,
    /// How much the stage's write grants may grow, in bytes of allocated disk space
    /// (`limits.disk`; 1 KiB..=64 TiB); `None` (the default) = only the timeout bounds
    /// it. Enforced by measurement, not a quota: see the host's `runtime::disk`.
    pub disk: Option<u64>,
}

impl Limits {
    pub const MEMORY_RANGE: (u64, u64) = (MIB, 4 * GIB);
    pub const DISK_RANGE: (u64, u64) = (KIB, 64 * 1024 * GIB);
    pub const STACK_RANGE: (u64, u64) = (64 * KIB, 64 * MIB);
    pub const STDOUT_RANGE: (u64, u64) = (KIB, GIB);
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            memory: 256 * MIB,
            stack: MIB,
            fuel: None,
            stdout: MIB,
            disk: None,
        }
    }
}

/// `when = { branch = [...], tag = [...], env = [...], on-failure = [...] }`: every
/// non-empty condition must hold; within a list any glob may match.
///
/// `on-failure` names stages of the stage's `needs`: the stage runs only when one of
/// them failed — a rollback after a failed verification — and runs even though that
/// need failed and fail-fast stopped the rest (not after Ctrl-C). Its other needs
/// must have succeeded as usual; it sees the outputs the failed stage reported.
///
/// Globs: `*` matches any run of characters except `/`, `**` also matches `/`, `?` one
/// character except `/` (GitHub Actions' convention: `release/*` matches `release/1.0`
/// but not `release/1.0/hotfix`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct When {
    pub branch: Vec<String>,
    pub tag: Vec<String>,
    /// Variables that must be set and non-empty.
    pub env: Vec<String>,
    /// Stages (all in `needs`) of which one must have failed for this stage to run.
    #[serde(rename = "on-failure", skip_serializing_if = "Vec::is_empty")]
    pub on_failure: Vec<String>,
    /// Where each `on-failure` name is written (for diagnostics).
    #[serde(skip)]
    pub on_failure_spans: Vec<crate::diag::Span>,
}

impl When {
    /// `Ok(())` if the stage should run; otherwise why it is skipped, e.g.
    /// ``branch `feature/x` does not match `main` ``.
    pub fn evaluate(
        &self,
        branch: Option<&str>,
        tag: Option<&str>,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<(), String> {
        check_ref("branch", "no branch is checked out", &self.branch, branch)?;
        check_ref("tag", "the commit has no tag", &self.tag, tag)?;
        for var in &self.env {
            match env(var) {
                None => return Err(format!("environment variable `{var}` is not set")),
                Some(v) if v.is_empty() => {
                    return Err(format!("environment variable `{var}` is empty"));
                }
                Some(_) => {}
            }
        }
        Ok(())
    }
}

fn check_ref(
    what: &str,
    absent: &str,
    globs: &[String],
    actual: Option<&str>,
) -> Result<(), String> {
    if globs.is_empty() {
        return Ok(());
    }
    let list = super::suggest::ticked(globs);
    match actual {
        Some(a) if globs.iter().any(|g| when_glob_match(g, a)) => Ok(()),
        Some(a) if globs.len() == 1 => Err(format!("{what} `{a}` does not match {list}")),
        Some(a) => Err(format!("{what} `{a}` matches none of {list}")),
        None if globs.len() == 1 => Err(format!("{absent} (`when.{what}` requires {list})")),
        None => Err(format!("{absent} (`when.{what}` requires one of {list})")),
    }
}

/// Matches `text` against `pattern` (`*`, `**`, `?`; everything else literal).
pub fn when_glob_match(pattern: &str, text: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let t: Vec<char> = text.chars().collect();
    // Iterative matcher with memo: (pi, ti) -> matched. Patterns are short.
    let mut memo = vec![None; (p.len() + 1) * (t.len() + 1)];
    fn go(p: &[char], t: &[char], pi: usize, ti: usize, memo: &mut Vec<Option<bool>>) -> bool {
        let key = pi * (t.len() + 1) + ti;
        if let Some(r) = memo[key] {
            return r;
        }
        let r = if pi == p.len() {
            ti == t.len()
        } else if p[pi] == '*' {
            let double = p.get(pi + 1) == Some(&'*');
            let next = if double { pi + 2 } else { pi + 1 };
            // Zero characters, or consume one (not `/` unless `**`) and stay.
            go(p, t, next, ti, memo)
                || (ti < t.len() && (double || t[ti] != '/') && go(p, t, pi, ti + 1, memo))
        } else if ti < t.len() && (p[pi] == t[ti] || (p[pi] == '?' && t[ti] != '/')) {
            go(p, t, pi + 1, ti + 1, memo)
        } else {
            false
        };
        memo[key] = Some(r);
        r
    }
    go(&p, &t, 0, 0, &mut memo)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs() {
        assert!(when_glob_match("main", "main"));
        assert!(!when_glob_match("main", "main2"));
        assert!(when_glob_match("release/*", "release/1.0"));
        assert!(!when_glob_match("release/*", "release/1.0/hotfix"));
        assert!(when_glob_match("release/**", "release/1.0/hotfix"));
        assert!(when_glob_match("v*", "v1.2.3"));
        assert!(when_glob_match("v?.*", "v1.2"));
        assert!(when_glob_match("*", ""));
        assert!(!when_glob_match("?", ""));
        assert!(when_glob_match("a*b*c", "aXXbYYc"));
    }

    #[test]
    fn evaluate() {
        let when = When {
            branch: vec!["main".into(), "release/*".into()],
            tag: vec![],
            env: vec!["DEPLOY_TOKEN".into()],
            ..When::default()
        };
        let set = |k: &str| (k == "DEPLOY_TOKEN").then(|| "x".to_string());
        let unset = |_: &str| None;
        let empty = |_: &str| Some(String::new());
        assert_eq!(when.evaluate(Some("main"), None, &set), Ok(()));
        assert_eq!(when.evaluate(Some("release/2"), None, &set), Ok(()));
        assert_eq!(
            when.evaluate(Some("feature/x"), None, &set),
            Err("branch `feature/x` matches none of `main`, `release/*`".into())
        );
        assert_eq!(
            when.evaluate(None, Some("v1"), &set),
            Err(
                "no branch is checked out (`when.branch` requires one of `main`, `release/*`)"
                    .into()
            )
        );
        assert_eq!(
            when.evaluate(Some("main"), None, &unset),
            Err("environment variable `DEPLOY_TOKEN` is not set".into())
        );
        assert_eq!(
            when.evaluate(Some("main"), None, &empty),
            Err("environment variable `DEPLOY_TOKEN` is empty".into())
        );
        let tag = When {
            tag: vec!["v*".into()],
            ..When::default()
        };
        assert_eq!(tag.evaluate(Some("main"), Some("v1.0"), &unset), Ok(()));
        assert_eq!(
            tag.evaluate(Some("main"), None, &unset),
            Err("the commit has no tag (`when.tag` requires `v*`)".into())
        );
        assert_eq!(
            tag.evaluate(None, Some("x1"), &unset),
            Err("tag `x1` does not match `v*`".into())
        );
        assert_eq!(When::default().evaluate(None, None, &unset), Ok(()));
    }
}
