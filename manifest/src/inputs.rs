//! `[inputs]`: typed values a run is started with (`gantry run --input version=1.2.3`),
//! used in `with` tables as `${inputs.NAME}`.
//!
//! ```toml
//! [inputs]
//! version = { type = "version", description = "the release to deploy" }
//! replicas = { type = "integer", default = 2 }
//! canary = { type = "boolean", default = false }
//! note = { default = "" }                    # type "string" unless said
//! ```
//!
//! | key | meaning |
//! | --- | --- |
//! | `type` | `string` (default), `integer`, `boolean`, `version` (semantic version `MAJOR.MINOR.PATCH[-PRE][+BUILD]`) |
//! | `default` | the value when the run is not given one, of that type; without it the input is required |
//! | `description` | shown by `gantry plan` |
//!
//! `gantry check` validates declarations and defaults (with file:line:col), and every
//! `${inputs.NAME}` against them; a value given on the command line is checked against
//! its type before anything runs ([`InputDecl::check`]). The values a run used are
//! recorded in `run.json` and `summary.json`, and `--resume` keeps them.

use std::collections::BTreeMap;

use serde::Serialize;
use toml::de::DeValue;

use crate::diag::Span;
use crate::suggest::did_you_mean;
use crate::walk::{Cx, Val, entries, span_of, type_name};

/// The type of an input.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum InputType {
    String,
    Integer,
    Boolean,
    Version,
}

impl InputType {
    pub fn as_str(self) -> &'static str {
        match self {
            InputType::String => "string",
            InputType::Integer => "integer",
            InputType::Boolean => "boolean",
            InputType::Version => "version",
        }
    }

    fn a(self) -> &'static str {
        match self {
            InputType::String => "a string",
            InputType::Integer => "an integer",
            InputType::Boolean => "a boolean",
            InputType::Version => "a version",
        }
    }

    fn example(self) -> &'static str {
        match self {
            InputType::String => "text",
            InputType::Integer => "3",
            InputType::Boolean => "true",
            InputType::Version => "1.2.3",
        }
    }
}

const TYPES: &[&str] = &["string", "integer", "boolean", "version"];
const KEYS: &[&str] = &["type", "default", "description"];

/// One `[inputs]` entry.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct InputDecl {
    pub name: String,
    #[serde(rename = "type")]
    pub kind: InputType,
    /// Already checked against `kind`, in its canonical text form.
    pub default: Option<String>,
    pub description: Option<String>,
    #[serde(skip)]
    pub span: Span,
}

impl InputDecl {
    /// `value` as this input's type, in canonical text form (`+3` → `3`), or why not.
    pub fn check(&self, value: &str) -> Result<String, String> {
        check_value(self.kind, value).map_err(|why| {
            format!(
                "input `{}` is {}: {why} (e.g. `--input {}={}`)",
                self.name,
                self.kind.a(),
                self.name,
                self.kind.example()
            )
        })
    }
}

fn check_value(kind: InputType, value: &str) -> Result<String, String> {
    let shown = value.escape_debug();
    match kind {
        InputType::String => Ok(value.to_string()),
        InputType::Integer => value
            .trim()
            .parse::<i64>()
            .map(|n| n.to_string())
            .map_err(|_| format!("`{shown}` is not a whole number")),
        InputType::Boolean => match value.trim() {
            "true" => Ok("true".into()),
            "false" => Ok("false".into()),
            _ => Err(format!("`{shown}` is not `true` or `false`")),
        },
        InputType::Version => {
            if is_semver(value) {
                Ok(value.to_string())
            } else {
                Err(format!(
                    "`{shown}` is not a semantic version `MAJOR.MINOR.PATCH[-PRE][+BUILD]` (no leading `v`)"
                ))
            }
        }
    }
}

/// `MAJOR.MINOR.PATCH[-PRE][+BUILD]` as SemVer 2.0.0 defines it: numbers without
/// leading zeros; identifiers of `[0-9A-Za-z-]`, numeric pre-release ones without
/// leading zeros.
fn is_semver(v: &str) -> bool {
    let (rest, build) = match v.split_once('+') {
        Some((r, b)) => (r, Some(b)),
        None => (v, None),
    };
    let (core, pre) = match rest.split_once('-') {
        Some((c, p)) => (c, Some(p)),
        None => (rest, None),
    };
    let number = |s: &str| {
        !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) && (s == "0" || !s.starts_with('0'))
    };
    let ident =
        |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-');
    let parts: Vec<&str> = core.split('.').collect();
    parts.len() == 3
        && parts.iter().all(|p| number(p))
        && pre.is_none_or(|p| {
            p.split('.')
                .all(|i| ident(i) && (!i.bytes().all(|b| b.is_ascii_digit()) || number(i)))
        })
        && build.is_none_or(|b| b.split('.').all(ident))
}

/// The values of a run: each declared input from `given` (checked against its type) or
/// its default. Errors name every problem: unknown names (with a suggestion), values of
/// the wrong type, required inputs not given.
pub fn resolve(
    decls: &[InputDecl],
    given: &[(String, String)],
) -> Result<BTreeMap<String, String>, Vec<String>> {
    let mut out = BTreeMap::new();
    let mut errors = Vec::new();
    let names: Vec<&str> = decls.iter().map(|d| d.name.as_str()).collect();
    for (name, value) in given {
        match decls.iter().find(|d| &d.name == name) {
            None => {
                let hint = match did_you_mean(name, names.iter().copied()) {
                    Some(s) => format!("; did you mean `{s}`?"),
                    None if names.is_empty() => "; the pipeline declares no `[inputs]`".into(),
                    None => format!(
                        "; declared: {}",
                        names
                            .iter()
                            .map(|n| format!("`{n}`"))
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                };
                errors.push(format!("unknown input `{}`{hint}", name.escape_debug()));
            }
            Some(d) if out.contains_key(name) => {
                errors.push(format!("input `{}` is given twice", d.name));
            }
            Some(d) => match d.check(value) {
                Ok(v) => {
                    out.insert(name.clone(), v);
                }
                Err(why) => errors.push(why),
            },
        }
    }
    for d in decls {
        if out.contains_key(&d.name) {
            continue;
        }
        match &d.default {
            Some(v) => {
                out.insert(d.name.clone(), v.clone());
            }
            None => errors.push(format!(
                "input `{}` ({}) has no default: pass `--input {}={}`",
                d.name,
                d.kind.as_str(),
                d.name,
                d.kind.example()
            )),
        }
    }
    if errors.is_empty() {
        Ok(out)
    } else {
        Err(errors)
    }
}

fn is_input_name(s: &str) -> bool {
    !s.is_empty()
        && s.bytes().next().is_some_and(|b| b.is_ascii_alphabetic())
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

pub(crate) fn parse_inputs(cx: &mut Cx<'_>, v: &Val<'_>) -> Vec<InputDecl> {
    let mut out = Vec::new();
    let DeValue::Table(table) = v.get_ref() else {
        let d = cx.type_error(v, "a table", "`inputs`");
        cx.push(d.with_hint(
            "declare each input in a table:\n[inputs]\nversion = { type = \"version\" }",
        ));
        return out;
    };
    for (key, value) in entries(table) {
        let name: &str = key.get_ref();
        if !is_input_name(name) {
            cx.error(
                span_of(key),
                format!("invalid input name `{}`", name.escape_debug()),
                Some(
                    "input names start with a letter and use `[A-Za-z0-9_-]`, e.g. `version`"
                        .into(),
                ),
            );
            continue;
        }
        let what = format!("input `{name}`");
        let DeValue::Table(t) = value.get_ref() else {
            let d = cx.type_error(value, "a table", &format!("`inputs.{name}`"));
            cx.push(d.with_hint(format!(
                "write `{name} = {{ type = \"string\", default = \"…\" }}`"
            )));
            continue;
        };
        let mut kind = InputType::String;
        let mut default: Option<&Val<'_>> = None;
        let mut description = None;
        for (k, item) in entries(t) {
            match k.get_ref().as_ref() {
                "type" => match item.get_ref() {
                    DeValue::String(s) => match s.as_ref() {
                        "string" => kind = InputType::String,
                        "integer" => kind = InputType::Integer,
                        "boolean" => kind = InputType::Boolean,
                        "version" => kind = InputType::Version,
                        other => {
                            let hint = match did_you_mean(other, TYPES.iter().copied()) {
                                Some(s) => format!(
                                    "did you mean `{s}`? types: string, integer, boolean, version"
                                ),
                                None => "types: string, integer, boolean, version".into(),
                            };
                            cx.error(
                                span_of(item),
                                format!("unknown type `{}` of {what}", other.escape_debug()),
                                Some(hint),
                            );
                        }
                    },
                    other => cx.error(
                        span_of(item),
                        format!(
                            "expected a string for the type of {what}, found {}",
                            type_name(other)
                        ),
                        Some("e.g. `type = \"version\"`".into()),
                    ),
                },
                "default" => default = Some(item),
                "description" => match item.get_ref() {
                    DeValue::String(s) => description = Some(s.to_string()),
                    other => cx.error(
                        span_of(item),
                        format!(
                            "expected a string for the description of {what}, found {}",
                            type_name(other)
                        ),
                        None,
                    ),
                },
                _ => {
                    cx.unknown_key(k, &what, KEYS, &[]);
                }
            }
        }
        let default = default.and_then(|d| {
            let text = match d.get_ref() {
                DeValue::String(s) => Some(s.to_string()),
                DeValue::Integer(i) => Some(i.as_str().to_string()),
                DeValue::Boolean(b) => Some(b.to_string()),
                _ => None,
            };
            let checked = text.ok_or_else(|| {
                format!(
                    "expected {} for the default of {what}, found {}",
                    kind.a(),
                    type_name(d.get_ref())
                )
            });
            let checked = checked.and_then(|t| {
                let typed_ok = matches!(
                    (kind, d.get_ref()),
                    (InputType::String | InputType::Version, DeValue::String(_))
                        | (InputType::Integer, DeValue::Integer(_))
                        | (InputType::Boolean, DeValue::Boolean(_))
                );
                if !typed_ok {
                    return Err(format!(
                        "the default of {what} must be {}, found {}",
                        kind.a(),
                        type_name(d.get_ref())
                    ));
                }
                check_value(kind, &t).map_err(|why| format!("the default of {what}: {why}"))
            });
            match checked {
                Ok(v) => Some(v),
                Err(message) => {
                    cx.error(
                        span_of(d),
                        message,
                        Some(format!(
                            "e.g. `default = {}`",
                            match kind {
                                InputType::String | InputType::Version =>
                                    format!("\"{}\"", kind.example()),
                                _ => kind.example().to_string(),
                            }
                        )),
                    );
                    None
                }
            }
        });
        out.push(InputDecl {
            name: name.to_string(),
            kind,
            default,
            description,
            span: span_of(key),
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decl(name: &str, kind: InputType, default: Option<&str>) -> InputDecl {
        InputDecl {
            name: name.into(),
            kind,
            default: default.map(str::to_string),
            description: None,
            span: Span::default(),
        }
    }

    #[test]
    fn semantic_versions_as_semver_2_defines_them() {
        for ok in [
            "1.2.3",
            "0.0.0",
            "10.20.30",
            "1.0.0-rc.1",
            "1.0.0-alpha-a.b-c",
            "1.0.0+build.5",
            "1.0.0-0.3.7+x",
        ] {
            assert!(is_semver(ok), "{ok}");
        }
        for bad in [
            "v1.2.3",
            "1.2",
            "1.2.3.4",
            "01.2.3",
            "1.2.3-",
            "1.2.3-01",
            "1.2.3+",
            "1.2.3-a..b",
            " 1.2.3",
            "",
        ] {
            assert!(!is_semver(bad), "{bad}");
        }
    }

    #[test]
    fn resolve_checks_types_defaults_and_names() {
        let decls = [
            decl("version", InputType::Version, None),
            decl("replicas", InputType::Integer, Some("2")),
            decl("canary", InputType::Boolean, Some("false")),
        ];
        let given = |v: &[(&str, &str)]| -> Vec<(String, String)> {
            v.iter()
                .map(|(a, b)| (a.to_string(), b.to_string()))
                .collect()
        };
        let r = resolve(&decls, &given(&[("version", "1.4.0"), ("replicas", "+3")])).unwrap();
        assert_eq!(r["version"], "1.4.0");
        assert_eq!(r["replicas"], "3");
        assert_eq!(r["canary"], "false");
        let e = resolve(
            &decls,
            &given(&[("versoin", "1"), ("replicas", "many"), ("canary", "yes")]),
        )
        .unwrap_err();
        assert!(
            e[0].contains("unknown input `versoin`; did you mean `version`?"),
            "{e:?}"
        );
        assert!(
            e[1].contains("input `replicas` is an integer: `many` is not a whole number"),
            "{e:?}"
        );
        assert!(e[2].contains("`yes` is not `true` or `false`"), "{e:?}");
        assert!(
            e[3].contains("input `version` (version) has no default: pass `--input version=1.2.3`"),
            "{e:?}"
        );
    }
}
