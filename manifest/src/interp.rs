//! `${…}` placeholders in string values of a stage's `with` table.
//!
//! | placeholder | value |
//! | --- | --- |
//! | `${stages.NAME.outputs.KEY}` | output `KEY` of stage `NAME`, which must be in this stage's `needs` (directly or transitively) |
//! | `${git.sha}` / `${git.short-sha}` | commit id / its first 7 hex digits |
//! | `${git.branch}` / `${git.tag}` | checked-out branch / tag on the commit (error if none) |
//! | `${pipeline.name}` | `[pipeline] name` |
//! | `${run.id}` | the run's id |
//! | `${inputs.NAME}` | the value of input `NAME` of this run (`[inputs]`, `gantry run --input NAME=VALUE`) |
//!
//! `$${` is a literal `${`; a `$` not followed by `{` is literal. Whitespace inside the
//! braces is ignored. Only string values are rewritten (keys never are), and a
//! substituted value is never re-scanned, so an output cannot inject placeholders.
//!
//! [`crate::Manifest::parse`] checks every placeholder statically
//! (syntax, namespaces, reachable stages); [`interpolate`] substitutes at run time.

use serde_json::Value;

use super::suggest::did_you_mean;

/// What [`interpolate`] substitutes from.
pub struct Context<'a> {
    /// `(stage, key)` → output value, for stages that have finished.
    pub outputs: &'a dyn Fn(&str, &str) -> Option<String>,
    /// Output keys a finished stage produced, for the error when a key is missing.
    pub output_keys: &'a dyn Fn(&str) -> Vec<String>,
    pub git_sha: Option<&'a str>,
    pub git_branch: Option<&'a str>,
    pub git_tag: Option<&'a str>,
    pub pipeline: &'a str,
    pub run_id: &'a str,
    /// The run's inputs, every declared one with its value.
    pub inputs: &'a std::collections::BTreeMap<String, String>,
}

/// A well-formed placeholder.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Placeholder {
    Output { stage: String, key: String },
    GitSha,
    GitShortSha,
    GitBranch,
    GitTag,
    PipelineName,
    RunId,
    Input(String),
}

/// Why a placeholder is malformed; `message` quotes the placeholder.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct PhError {
    pub message: String,
    pub hint: Option<String>,
}

pub(crate) enum Token<'s> {
    Text(&'s str),
    /// `$${` → `${`
    Escaped,
    Placeholder {
        /// The placeholder as written, `${` to `}` (or to the end if unterminated).
        raw: &'s str,
        parsed: Result<Placeholder, PhError>,
    },
}

const ALL: &str = "`${stages.NAME.outputs.KEY}`, `${git.sha}`, `${git.short-sha}`, `${git.branch}`, `${git.tag}`, `${pipeline.name}`, `${run.id}`, `${inputs.NAME}`";

pub(crate) fn tokenize(s: &str) -> Vec<Token<'_>> {
    let mut out = Vec::new();
    let mut text_start = 0;
    let mut i = 0;
    let b = s.as_bytes();
    while i < b.len() {
        if b[i] == b'$' && s[i..].starts_with("$${") {
            if text_start < i {
                out.push(Token::Text(&s[text_start..i]));
            }
            out.push(Token::Escaped);
            i += 3;
            text_start = i;
        } else if b[i] == b'$' && s[i..].starts_with("${") {
            if text_start < i {
                out.push(Token::Text(&s[text_start..i]));
            }
            match s[i + 2..].find('}') {
                Some(len) => {
                    let end = i + 2 + len + 1;
                    let raw = &s[i..end];
                    out.push(Token::Placeholder {
                        raw,
                        parsed: parse_inner(raw, &s[i + 2..end - 1]),
                    });
                    i = end;
                }
                None => {
                    let raw = &s[i..];
                    let shown = raw.lines().next().unwrap_or(raw).trim_end();
                    let shown = if shown.chars().count() > 40 {
                        format!("{}…", shown.chars().take(40).collect::<String>())
                    } else {
                        shown.to_string()
                    };
                    out.push(Token::Placeholder {
                        raw,
                        parsed: Err(PhError {
                            message: format!("unterminated placeholder `{shown}`"),
                            hint: Some(
                                "close it with `}`, or write `$${` for a literal `${`".into(),
                            ),
                        }),
                    });
                    i = s.len();
                }
            }
            text_start = i;
        } else {
            i += 1;
        }
    }
    if text_start < s.len() {
        out.push(Token::Text(&s[text_start..]));
    }
    out
}

fn is_name(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

fn parse_inner(raw: &str, inner: &str) -> Result<Placeholder, PhError> {
    let err = |message: String, hint: Option<String>| Err(PhError { message, hint });
    let t = inner.trim();
    if t.is_empty() {
        return err(
            "empty placeholder `${}`".into(),
            Some(format!(
                "placeholders are {ALL}; write `$${{` for a literal `${{`"
            )),
        );
    }
    let parts: Vec<&str> = t.split('.').collect();
    let field = |ns: &str,
                 fields: &[&str],
                 make: &dyn Fn(&str) -> Placeholder|
     -> Result<Placeholder, PhError> {
        match parts.as_slice() {
            [_, f] if fields.contains(f) => Ok(make(f)),
            [_, f] => {
                let known = fields
                    .iter()
                    .map(|f| format!("`${{{ns}.{f}}}`"))
                    .collect::<Vec<_>>()
                    .join(", ");
                let hint = match did_you_mean(f, fields.iter().copied()) {
                    Some(s) => format!("did you mean `${{{ns}.{s}}}`? available: {known}"),
                    None => format!("available: {known}"),
                };
                err(format!("unknown placeholder `{raw}`"), Some(hint))
            }
            _ => {
                let known = fields
                    .iter()
                    .map(|f| format!("`${{{ns}.{f}}}`"))
                    .collect::<Vec<_>>()
                    .join(", ");
                err(
                    format!("malformed placeholder `{raw}`"),
                    Some(format!("available: {known}")),
                )
            }
        }
    };
    match parts[0] {
        "stages" => match parts.as_slice() {
            [_, stage, "outputs", key] if is_name(stage) && is_name(key) => {
                Ok(Placeholder::Output {
                    stage: stage.to_string(),
                    key: key.to_string(),
                })
            }
            [_, stage, other, key] if is_name(stage) && is_name(key) => err(
                format!(
                    "malformed placeholder `{raw}`: expected `outputs` after the stage name, found `{other}`"
                ),
                Some(format!("write `${{stages.{stage}.outputs.{key}}}`")),
            ),
            _ => err(
                format!("malformed placeholder `{raw}`"),
                Some("stage outputs are written `${stages.NAME.outputs.KEY}`".into()),
            ),
        },
        "git" => field(
            "git",
            &["sha", "short-sha", "branch", "tag"],
            &|f| match f {
                "sha" => Placeholder::GitSha,
                "short-sha" => Placeholder::GitShortSha,
                "branch" => Placeholder::GitBranch,
                _ => Placeholder::GitTag,
            },
        ),
        "pipeline" => field("pipeline", &["name"], &|_| Placeholder::PipelineName),
        "run" => field("run", &["id"], &|_| Placeholder::RunId),
        "inputs" => match parts.as_slice() {
            [_, name] if is_name(name) => Ok(Placeholder::Input(name.to_string())),
            _ => err(
                format!("malformed placeholder `{raw}`"),
                Some("inputs are written `${inputs.NAME}`".into()),
            ),
        },
        ns => {
            let hint = match did_you_mean(ns, ["stages", "git", "pipeline", "run", "inputs"]) {
                Some(s) => format!("did you mean `{s}`? placeholders are {ALL}"),
                None => format!("placeholders are {ALL}"),
            };
            err(
                format!("unknown placeholder namespace `{ns}` in `{raw}`"),
                Some(hint),
            )
        }
    }
}

/// Every well-formed placeholder in the string values of `value`, in document order
/// (lets the planner see which outputs a stage consumes).
pub fn references(value: &Value) -> Vec<Placeholder> {
    let mut out = Vec::new();
    walk_strings(value, &mut |s| {
        for t in tokenize(s) {
            if let Token::Placeholder { parsed: Ok(p), .. } = t {
                out.push(p);
            }
        }
    });
    out
}

fn walk_strings(value: &Value, f: &mut dyn FnMut(&str)) {
    match value {
        Value::String(s) => f(s),
        Value::Array(items) => items.iter().for_each(|v| walk_strings(v, f)),
        Value::Object(map) => map.values().for_each(|v| walk_strings(v, f)),
        _ => {}
    }
}

/// Substitutes every placeholder in the string values of `value`. The error names the
/// placeholder and why it has no value, e.g.
/// ``${stages.image.outputs.ref}`: stage `image` has no output `ref`; it produced: digest, size``.
pub fn interpolate(value: &Value, cx: &Context<'_>) -> Result<Value, String> {
    Ok(match value {
        Value::String(s) => Value::String(interpolate_str(s, cx)?),
        Value::Array(items) => Value::Array(
            items
                .iter()
                .map(|v| interpolate(v, cx))
                .collect::<Result<_, _>>()?,
        ),
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(k, v)| Ok((k.clone(), interpolate(v, cx)?)))
                .collect::<Result<_, String>>()?,
        ),
        other => other.clone(),
    })
}

/// [`interpolate`] for one string.
pub fn interpolate_str(s: &str, cx: &Context<'_>) -> Result<String, String> {
    if !s.contains('$') {
        return Ok(s.to_string());
    }
    let mut out = String::with_capacity(s.len());
    for token in tokenize(s) {
        match token {
            Token::Text(t) => out.push_str(t),
            Token::Escaped => out.push_str("${"),
            Token::Placeholder { parsed: Err(e), .. } => return Err(e.message),
            Token::Placeholder {
                raw, parsed: Ok(p), ..
            } => {
                let missing = |why: String| format!("`{raw}`: {why}");
                let v = match &p {
                    Placeholder::Output { stage, key } => match (cx.outputs)(stage, key) {
                        Some(v) => v,
                        None => {
                            let mut keys = (cx.output_keys)(stage);
                            keys.sort();
                            let produced = if keys.is_empty() {
                                "it produced no outputs".to_string()
                            } else {
                                format!("it produced: {}", keys.join(", "))
                            };
                            return Err(missing(format!(
                                "stage `{stage}` has no output `{key}`; {produced}"
                            )));
                        }
                    },
                    Placeholder::GitSha => cx
                        .git_sha
                        .ok_or_else(|| missing("the git commit is unknown".into()))?
                        .to_string(),
                    Placeholder::GitShortSha => {
                        let sha = cx
                            .git_sha
                            .ok_or_else(|| missing("the git commit is unknown".into()))?;
                        sha.chars().take(7).collect()
                    }
                    Placeholder::GitBranch => cx
                        .git_branch
                        .ok_or_else(|| missing("no branch is checked out".into()))?
                        .to_string(),
                    Placeholder::GitTag => cx
                        .git_tag
                        .ok_or_else(|| missing("the commit has no tag".into()))?
                        .to_string(),
                    Placeholder::PipelineName => cx.pipeline.to_string(),
                    Placeholder::RunId => cx.run_id.to_string(),
                    Placeholder::Input(name) => cx
                        .inputs
                        .get(name)
                        .ok_or_else(|| missing(format!("the run has no input `{name}`")))?
                        .clone(),
                };
                out.push_str(&v);
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn cx_with<'a>(
        outputs: &'a dyn Fn(&str, &str) -> Option<String>,
        keys: &'a dyn Fn(&str) -> Vec<String>,
    ) -> Context<'a> {
        Context {
            outputs,
            output_keys: keys,
            git_sha: Some("0123456789abcdef"),
            git_branch: Some("main"),
            git_tag: None,
            pipeline: "gantry",
            run_id: "r1",
            inputs: &INPUTS,
        }
    }

    static INPUTS: std::sync::LazyLock<std::collections::BTreeMap<String, String>> =
        std::sync::LazyLock::new(|| {
            std::collections::BTreeMap::from([("version".to_string(), "1.4.0".to_string())])
        });

    #[test]
    fn inputs_are_substituted_and_malformed_ones_named() {
        let none = |_: &str, _: &str| None;
        let keys = |_: &str| Vec::new();
        let cx = cx_with(&none, &keys);
        assert_eq!(
            interpolate_str("app:${inputs.version}", &cx).unwrap(),
            "app:1.4.0"
        );
        assert!(
            interpolate_str("${inputs.other}", &cx)
                .unwrap_err()
                .contains("the run has no input `other`")
        );
        assert_eq!(
            references(&json!("${ inputs.version }")),
            [Placeholder::Input("version".into())]
        );
        let Token::Placeholder { parsed: Err(e), .. } = &tokenize("${inputs.a.b}")[0] else {
            panic!("malformed")
        };
        assert!(e.message.contains("malformed placeholder"), "{}", e.message);
    }

    #[test]
    fn substitutes_everywhere_in_with() {
        let outputs =
            |s: &str, k: &str| (s == "image" && k == "ref").then(|| "reg/x@sha256:1".to_string());
        let keys = |_: &str| vec!["ref".to_string()];
        let cx = cx_with(&outputs, &keys);
        let v = json!({
            "image": "${stages.image.outputs.ref}",
            "tags": ["${git.short-sha}", "x-${ git.sha }-y", 3],
            "nested": { "n": "${pipeline.name}/${run.id}/${git.branch}" },
            "literal": "$${git.sha} and $5 and $",
        });
        let out = interpolate(&v, &cx).expect("interpolates");
        assert_eq!(
            out,
            json!({
                "image": "reg/x@sha256:1",
                "tags": ["0123456", "x-0123456789abcdef-y", 3],
                "nested": { "n": "gantry/r1/main" },
                "literal": "${git.sha} and $5 and $",
            })
        );
    }

    #[test]
    fn runtime_errors_name_the_placeholder() {
        let outputs = |_: &str, _: &str| None;
        let keys = |_: &str| vec!["size".to_string(), "digest".to_string()];
        let cx = cx_with(&outputs, &keys);
        assert_eq!(
            interpolate(&json!("${stages.image.outputs.ref}"), &cx),
            Err("`${stages.image.outputs.ref}`: stage `image` has no output `ref`; it produced: digest, size".into())
        );
        assert_eq!(
            interpolate(&json!(["${git.tag}"]), &cx),
            Err("`${git.tag}`: the commit has no tag".into())
        );
        assert_eq!(
            interpolate(&json!("${git.nope}"), &cx),
            Err("unknown placeholder `${git.nope}`".into())
        );
    }

    #[test]
    fn syntax() {
        let errs = |s: &str| -> Vec<String> {
            tokenize(s)
                .into_iter()
                .filter_map(|t| match t {
                    Token::Placeholder { parsed: Err(e), .. } => Some(e.message),
                    _ => None,
                })
                .collect()
        };
        assert!(
            errs("${git.sha} ${stages.a-b.outputs.k_1} ${pipeline.name} ${run.id} $${x").is_empty()
        );
        assert_eq!(
            errs("${git.sha"),
            vec!["unterminated placeholder `${git.sha`"]
        );
        assert_eq!(errs("${}"), vec!["empty placeholder `${}`"]);
        assert_eq!(
            errs("${env.HOME}"),
            vec!["unknown placeholder namespace `env` in `${env.HOME}`"]
        );
        assert_eq!(errs("${stages.a}").len(), 1);
        assert_eq!(errs("${stages.a.output.k}").len(), 1);
        assert_eq!(errs("${git.xyz} ${run.ids}").len(), 2);
        assert_eq!(
            references(&json!({"a": ["${stages.x.outputs.y}", "${git.sha}"]})),
            vec![
                Placeholder::Output {
                    stage: "x".into(),
                    key: "y".into()
                },
                Placeholder::GitSha
            ]
        );
    }
}
