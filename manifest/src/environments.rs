//! `[environments]`: where deploy stages deploy to, and who may deploy there.
//!
//! ```toml
//! [environments.staging]
//!
//! [environments.production]
//! approval = true            # its stages run only with `gantry run --approve production`
//! branches = ["main"]        # globs: the commit's branch must match one
//! tags = ["v*"]              # or its tag one of these (either list may be given alone)
//!
//! [stage.deploy]
//! plugin = "builtin:docker-deploy"
//! environment = "production"
//! ```
//!
//! A stage naming an environment that does not allow the run is skipped with the
//! reason (exit 0 if nothing failed): approval not given, or neither the branch nor the
//! tag matches. The environment and the approval are recorded in `run.json` and in the
//! deployment history; `gantry plan` and `gantry audit` show them.

use serde::Serialize;
use toml::de::DeValue;

use crate::diag::Span;
use crate::schema::when_glob_match;
use crate::walk::{Cx, Val, entries, span_of};

const KEYS: &[&str] = &["approval", "branches", "tags", "description"];

/// One `[environments.NAME]` table.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Environment {
    pub name: String,
    /// Its stages run only when the run is started with `--approve NAME`.
    pub approval: bool,
    /// Branch globs (`*` stops at `/`); empty with `tags` empty: any ref.
    pub branches: Vec<String>,
    /// Tag globs.
    pub tags: Vec<String>,
    pub description: Option<String>,
    #[serde(skip)]
    pub span: Span,
}

impl Environment {
    /// `Ok(())` when a stage of this environment may run; otherwise why not.
    pub fn admits(
        &self,
        approved: bool,
        branch: Option<&str>,
        tag: Option<&str>,
    ) -> Result<(), String> {
        if self.approval && !approved {
            return Err(format!(
                "environment `{}` requires approval: run with `--approve {}`",
                self.name, self.name
            ));
        }
        if self.branches.is_empty() && self.tags.is_empty() {
            return Ok(());
        }
        let branch_ok = branch.is_some_and(|b| self.branches.iter().any(|g| when_glob_match(g, b)));
        let tag_ok = tag.is_some_and(|t| self.tags.iter().any(|g| when_glob_match(g, t)));
        if branch_ok || tag_ok {
            return Ok(());
        }
        let mut allowed = Vec::new();
        if !self.branches.is_empty() {
            allowed.push(format!("branch {}", crate::suggest::ticked(&self.branches)));
        }
        if !self.tags.is_empty() {
            allowed.push(format!("tag {}", crate::suggest::ticked(&self.tags)));
        }
        let here = match (branch, tag) {
            (Some(b), Some(t)) => format!("branch `{b}`, tag `{t}`"),
            (Some(b), None) => format!("branch `{b}`"),
            (None, Some(t)) => format!("tag `{t}`"),
            (None, None) => "no branch or tag".into(),
        };
        Err(format!(
            "environment `{}` accepts deploys from {} only (this run: {here})",
            self.name,
            allowed.join(" or ")
        ))
    }
}

pub(crate) fn parse_environments(cx: &mut Cx<'_>, v: &Val<'_>) -> Vec<Environment> {
    let mut out = Vec::new();
    let DeValue::Table(table) = v.get_ref() else {
        let d = cx.type_error(v, "a table", "`environments`");
        cx.push(
            d.with_hint("declare each in a table:\n[environments.production]\napproval = true"),
        );
        return out;
    };
    for (key, value) in entries(table) {
        let name: &str = key.get_ref();
        let ok_name = !name.is_empty()
            && name.bytes().next().is_some_and(|b| b.is_ascii_alphabetic())
            && name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        if !ok_name {
            cx.error(
                span_of(key),
                format!("invalid environment name `{}`", name.escape_debug()),
                Some("names start with a letter and use `[A-Za-z0-9_-]`, e.g. `production`".into()),
            );
            continue;
        }
        let what = format!("environment `{name}`");
        let DeValue::Table(t) = value.get_ref() else {
            let d = cx.type_error(value, "a table", &format!("`environments.{name}`"));
            cx.push(d.with_hint(format!(
                "write `[environments.{name}]` with `approval = true`, `branches = [\"main\"]`, …"
            )));
            continue;
        };
        let mut env = Environment {
            name: name.to_string(),
            span: span_of(key),
            ..Environment::default()
        };
        for (k, item) in entries(t) {
            match k.get_ref().as_ref() {
                "approval" => {
                    if let Some(b) = cx.ok(cx.boolean(item, &format!("`approval` of {what}"))) {
                        env.approval = b;
                    }
                }
                key @ ("branches" | "tags") => {
                    if let Some(list) = cx.ok(cx.strings(item, &format!("`{key}` of {what}"), true))
                    {
                        let list: Vec<String> = list.into_iter().map(|s| s.into_inner()).collect();
                        if list.iter().any(String::is_empty) {
                            cx.error(
                                span_of(item),
                                format!("an empty glob in `{key}` of {what}"),
                                None,
                            );
                        }
                        if key == "branches" {
                            env.branches = list;
                        } else {
                            env.tags = list;
                        }
                    }
                }
                "description" => match item.get_ref() {
                    DeValue::String(s) => env.description = Some(s.to_string()),
                    _ => {
                        let d =
                            cx.type_error(item, "a string", &format!("`description` of {what}"));
                        cx.push(d);
                    }
                },
                _ => {
                    cx.unknown_key(
                        k,
                        &what,
                        KEYS,
                        &[
                            ("approve", "approval"),
                            ("branch", "branches"),
                            ("tag", "tags"),
                        ],
                    );
                }
            }
        }
        out.push(env);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn approval_and_refs_decide_whether_a_stage_may_deploy() {
        let prod = Environment {
            name: "production".into(),
            approval: true,
            branches: vec!["main".into()],
            tags: vec!["v*".into()],
            ..Environment::default()
        };
        assert_eq!(
            prod.admits(false, Some("main"), None),
            Err(
                "environment `production` requires approval: run with `--approve production`"
                    .into()
            )
        );
        assert_eq!(prod.admits(true, Some("main"), None), Ok(()));
        assert_eq!(prod.admits(true, None, Some("v1.2.0")), Ok(()));
        assert_eq!(
            prod.admits(true, Some("feature/x"), None),
            Err("environment `production` accepts deploys from branch `main` or tag `v*` only (this run: branch `feature/x`)".into())
        );
        let staging = Environment {
            name: "staging".into(),
            ..Environment::default()
        };
        assert_eq!(staging.admits(false, None, None), Ok(()));
    }
}
