//! The licence policy: allow and deny lists, per-package exceptions, and the
//! evaluation of an SPDX expression against them.
//!
//! An expression is acceptable when some choice of its `OR` branches needs only
//! allowed licences. It is *denied* when every choice needs at least one denied
//! licence, and *not allowed* otherwise. Evaluated on the tree without expanding it
//! (no exponential blow-up): `OR` takes the best branch, `AND` the worst operand,
//! over `Allowed > NotAllowed > Denied`.
//!
//! A package exception adds its `allow` entries for that package only, and lifts a
//! global `deny` of exactly those licences for it (an exception is explicit, names
//! the package and carries a reason). Refused at load time, with the entry named:
//! entries that are not valid single licences, a licence both allowed and denied,
//! exceptions without a package or without any `allow`.
//!
//! Tests: `policy::tests`.

use serde::Deserialize;

use crate::spdx::{Expr, Requirement};

/// One `exceptions` entry of the stage config.
#[derive(Debug, Clone, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct ExceptionConfig {
    /// Package name as its ecosystem spells it (`ring`, `certifi`, `@scope/pkg`).
    pub package: String,
    /// Exact version; absent = every version of the package.
    #[serde(default)]
    pub version: Option<String>,
    /// Ecosystem (`cargo`, `pypi`, `npm`); absent = any.
    #[serde(default)]
    pub ecosystem: Option<String>,
    /// Licences allowed for this package in addition to the global `allow`.
    pub allow: Vec<String>,
    /// Why this is acceptable (kept for reviewers; shown in messages).
    #[serde(default)]
    pub reason: Option<String>,
}

#[derive(Debug, Clone)]
struct Exception {
    package: String,
    version: Option<String>,
    ecosystem: Option<String>,
    allow: Vec<Requirement>,
    reason: Option<String>,
}

/// A validated policy.
#[derive(Debug, Clone, Default)]
pub struct Policy {
    allow: Vec<Requirement>,
    deny: Vec<Requirement>,
    exceptions: Vec<Exception>,
}

/// Which package an expression belongs to (for exceptions).
#[derive(Debug, Clone, Copy)]
pub struct PackageRef<'a> {
    pub ecosystem: &'a str,
    pub name: &'a str,
    pub version: &'a str,
}

/// The outcome for one expression.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Acceptable; `chosen` is the licences of the first acceptable choice.
    Allowed { chosen: Vec<Requirement> },
    /// No acceptable choice; `missing` lists the licences of the closest choice
    /// that are not on the allow list.
    NotAllowed { missing: Vec<Requirement> },
    /// Every choice needs a denied licence; `denied` lists them.
    Denied { denied: Vec<Requirement> },
}

/// A verdict and, when a package exception made the difference, its index and reason.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Evaluation {
    pub verdict: Verdict,
    pub exception: Option<usize>,
    pub exception_reason: Option<String>,
}

fn parse_list(key: &str, entries: &[String]) -> Result<Vec<Requirement>, String> {
    entries
        .iter()
        .enumerate()
        .map(|(i, e)| {
            Requirement::parse_single(e).map_err(|err| {
                format!(
                    "`{key}[{i}]` = `{e}`: {err}\n{}\nhint: list SPDX ids such as `MIT` or `Apache-2.0 WITH LLVM-exception`, one per entry",
                    err.render(e)
                )
            })
        })
        .collect()
}

impl Policy {
    /// Validates the lists (see the module docs for what is refused).
    pub fn new(
        allow: &[String],
        deny: &[String],
        exceptions: &[ExceptionConfig],
    ) -> Result<Policy, String> {
        let allow_r = parse_list("allow", allow)?;
        let deny_r = parse_list("deny", deny)?;
        for (i, a) in allow_r.iter().enumerate() {
            if let Some(j) = deny_r.iter().position(|d| d == a) {
                return Err(format!(
                    "`{a}` is both allowed (`allow[{i}]`) and denied (`deny[{j}]`); remove one of them (use `exceptions` to allow it for one package)"
                ));
            }
        }
        let mut ex = Vec::new();
        for (i, e) in exceptions.iter().enumerate() {
            if e.package.trim().is_empty() {
                return Err(format!("`exceptions[{i}].package` is empty"));
            }
            if e.allow.is_empty() {
                return Err(format!(
                    "`exceptions[{i}]` (`{}`) has an empty `allow`; list the licences accepted for this package",
                    e.package
                ));
            }
            if let Some(eco) = &e.ecosystem
                && !["cargo", "pypi", "npm"].contains(&eco.as_str())
            {
                return Err(format!(
                    "`exceptions[{i}].ecosystem` = `{eco}`: expected `cargo`, `pypi` or `npm`"
                ));
            }
            ex.push(Exception {
                package: e.package.clone(),
                version: e.version.clone(),
                ecosystem: e.ecosystem.clone(),
                allow: parse_list(&format!("exceptions[{i}].allow"), &e.allow)?,
                reason: e.reason.clone(),
            });
        }
        Ok(Policy {
            allow: allow_r,
            deny: deny_r,
            exceptions: ex,
        })
    }

    /// Number of package exceptions, for "unused exception" bookkeeping.
    pub fn exception_count(&self) -> usize {
        self.exceptions.len()
    }

    /// `package@version` of exception `i`, for messages.
    pub fn exception_label(&self, i: usize) -> String {
        self.exceptions
            .get(i)
            .map_or_else(String::new, |e| match &e.version {
                Some(v) => format!("{}@{v}", e.package),
                None => e.package.clone(),
            })
    }

    /// Whether `req` is on the global allow list (used for file headers).
    pub fn allows(&self, req: &Requirement) -> bool {
        self.allow.iter().any(|a| req.covered_by(a))
    }

    /// Evaluates `expr`, for `package` if it belongs to one.
    pub fn evaluate(&self, expr: &Expr, package: Option<PackageRef<'_>>) -> Evaluation {
        let global = eval(expr, &|r| self.status(r, &[]));
        if matches!(global, Verdict::Allowed { .. }) {
            return Evaluation {
                verdict: global,
                exception: None,
                exception_reason: None,
            };
        }
        if let Some(p) = package {
            for (i, ex) in self.exceptions.iter().enumerate() {
                let applies = ex.package == p.name
                    && ex.version.as_deref().is_none_or(|v| v == p.version)
                    && ex.ecosystem.as_deref().is_none_or(|e| e == p.ecosystem);
                if !applies {
                    continue;
                }
                let v = eval(expr, &|r| self.status(r, &ex.allow));
                if matches!(v, Verdict::Allowed { .. }) {
                    return Evaluation {
                        verdict: v,
                        exception: Some(i),
                        exception_reason: ex.reason.clone(),
                    };
                }
            }
        }
        Evaluation {
            verdict: global,
            exception: None,
            exception_reason: None,
        }
    }

    fn status(&self, r: &Requirement, extra_allow: &[Requirement]) -> Status {
        if extra_allow.iter().any(|a| r.covered_by(a)) {
            return Status::Allowed;
        }
        if self.deny.iter().any(|d| denies(d, r)) {
            return Status::Denied;
        }
        if self.allow.iter().any(|a| r.covered_by(a)) {
            Status::Allowed
        } else {
            Status::NotAllowed
        }
    }
}

/// A deny entry without an exception denies the licence with any exception too
/// (denying `GPL-3.0-only` is about the base licence); with an exception it denies
/// only that combination. Versions must match exactly: `deny = ["GPL-3.0-only"]`
/// does not deny `GPL-2.0-or-later`, whose licensee may stay on 2.0.
fn denies(entry: &Requirement, r: &Requirement) -> bool {
    if entry.exception.is_some() && entry.exception != r.exception {
        return false;
    }
    let base = Requirement {
        license: r.license.clone(),
        exception: entry.exception,
    };
    base == *entry
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Status {
    Denied,
    NotAllowed,
    Allowed,
}

fn eval(expr: &Expr, status: &dyn Fn(&Requirement) -> Status) -> Verdict {
    match expr {
        Expr::Leaf(r) => match status(r) {
            Status::Allowed => Verdict::Allowed {
                chosen: vec![r.clone()],
            },
            Status::NotAllowed => Verdict::NotAllowed {
                missing: vec![r.clone()],
            },
            Status::Denied => Verdict::Denied {
                denied: vec![r.clone()],
            },
        },
        Expr::And(items) => {
            let (mut chosen, mut missing, mut denied) = (Vec::new(), Vec::new(), Vec::new());
            for e in items {
                match eval(e, status) {
                    Verdict::Allowed { chosen: c } => chosen.extend(c),
                    Verdict::NotAllowed { missing: m } => missing.extend(m),
                    Verdict::Denied { denied: d } => denied.extend(d),
                }
            }
            if !denied.is_empty() {
                Verdict::Denied {
                    denied: dedup(denied),
                }
            } else if !missing.is_empty() {
                Verdict::NotAllowed {
                    missing: dedup(missing),
                }
            } else {
                Verdict::Allowed {
                    chosen: dedup(chosen),
                }
            }
        }
        Expr::Or(items) => {
            let mut best_missing: Option<Vec<Requirement>> = None;
            let mut denied = Vec::new();
            for e in items {
                match eval(e, status) {
                    v @ Verdict::Allowed { .. } => return v,
                    Verdict::NotAllowed { missing } => {
                        if best_missing
                            .as_ref()
                            .is_none_or(|b| missing.len() < b.len())
                        {
                            best_missing = Some(missing);
                        }
                    }
                    Verdict::Denied { denied: d } => denied.extend(d),
                }
            }
            match best_missing {
                Some(missing) => Verdict::NotAllowed { missing },
                None => Verdict::Denied {
                    denied: dedup(denied),
                },
            }
        }
    }
}

fn dedup(mut v: Vec<Requirement>) -> Vec<Requirement> {
    let mut seen = Vec::new();
    v.retain(|r| {
        if seen.contains(r) {
            false
        } else {
            seen.push(r.clone());
            true
        }
    });
    v
}

#[cfg(test)]
mod tests;
