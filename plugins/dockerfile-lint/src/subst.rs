//! `ARG`/`ENV` variable substitution as Docker does it in `FROM`, `COPY`, `WORKDIR`,
//! `USER`, `LABEL`, `EXPOSE` …: `$NAME`, `${NAME}`, `${NAME:-default}`,
//! `${NAME-default}`, `${NAME:+alternative}`, `${NAME+alternative}`, `${NAME:?message}`
//! and `${NAME?message}`; the escape character before `$` makes it literal.
//!
//! Unlike a build, a linter does not know the values of build arguments passed on
//! the command line: a variable that is not defined (and has no default) makes the
//! result [`None`] rather than an empty string, so rules can fall back to the text as
//! written instead of reporting something about a value that nobody chose.
//!
//! Refuses (with [`SubstError`]): an unterminated `${`, an empty or invalid name in
//! `${…}`, an unknown modifier. Tests: at the bottom of this file.

use std::collections::HashMap;

/// A malformed substitution; `offset` is the character index in the input.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct SubstError {
    pub offset: usize,
    pub message: String,
}

/// Variables visible at an instruction: name → value.
pub type Vars = HashMap<String, String>;

/// Expands `text`. `Ok(None)`: a variable without value was referenced.
pub fn expand(text: &str, escape: char, vars: &Vars) -> Result<Option<String>, SubstError> {
    let chars: Vec<char> = text.chars().collect();
    let mut pos = 0;
    let mut unresolved = false;
    let out = expand_until(&chars, &mut pos, escape, vars, None, &mut unresolved)?;
    Ok(if unresolved { None } else { Some(out) })
}

/// True when `text` references a variable at all (`$x`, `${x}`), ignoring escaped `$`.
pub fn has_variable(text: &str, escape: char) -> bool {
    let chars: Vec<char> = text.chars().collect();
    let mut k = 0;
    while k < chars.len() {
        if chars[k] == escape {
            k += 2;
            continue;
        }
        if chars[k] == '$'
            && chars
                .get(k + 1)
                .is_some_and(|c| *c == '{' || c.is_ascii_alphabetic() || *c == '_')
        {
            return true;
        }
        k += 1;
    }
    false
}

fn is_name_start(c: char) -> bool {
    c.is_ascii_alphabetic() || c == '_'
}

fn is_name_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

fn expand_until(
    chars: &[char],
    pos: &mut usize,
    escape: char,
    vars: &Vars,
    stop: Option<char>,
    unresolved: &mut bool,
) -> Result<String, SubstError> {
    let mut out = String::new();
    while *pos < chars.len() {
        let c = chars[*pos];
        if Some(c) == stop {
            return Ok(out);
        }
        if c == escape && chars.get(*pos + 1) == Some(&'$') {
            out.push('$');
            *pos += 2;
            continue;
        }
        if c != '$' {
            out.push(c);
            *pos += 1;
            continue;
        }
        let start = *pos;
        *pos += 1;
        match chars.get(*pos) {
            Some('{') => {
                *pos += 1;
                let name_start = *pos;
                while *pos < chars.len() && is_name_char(chars[*pos]) {
                    *pos += 1;
                }
                let name: String = chars[name_start..*pos].iter().collect();
                if name.is_empty() || !name.starts_with(is_name_start) {
                    return Err(SubstError {
                        offset: start,
                        message: "`${` must be followed by a variable name".into(),
                    });
                }
                let value = vars.get(&name);
                let Some(&next) = chars.get(*pos) else {
                    return Err(SubstError {
                        offset: start,
                        message: format!("`${{{name}` is not closed with `}}`"),
                    });
                };
                if next == '}' {
                    *pos += 1;
                    match value {
                        Some(v) => out.push_str(v),
                        None => *unresolved = true,
                    }
                    continue;
                }
                let colon = next == ':';
                if colon {
                    *pos += 1;
                }
                let op = chars.get(*pos).copied();
                if !matches!(op, Some('-') | Some('+') | Some('?')) {
                    return Err(SubstError {
                        offset: start,
                        message: format!(
                            "unsupported modifier in `${{{name}…}}`: use `:-`, `-`, `:+`, `+`, `:?` or `?`"
                        ),
                    });
                }
                *pos += 1;
                let mut inner_unresolved = false;
                let word =
                    expand_until(chars, pos, escape, vars, Some('}'), &mut inner_unresolved)?;
                if chars.get(*pos) != Some(&'}') {
                    return Err(SubstError {
                        offset: start,
                        message: format!("`${{{name}` is not closed with `}}`"),
                    });
                }
                *pos += 1;
                // `:` variants treat an empty value like an unset one.
                let set = match value {
                    Some(v) => !(colon && v.is_empty()),
                    None => false,
                };
                match op {
                    Some('-') => {
                        if set {
                            out.push_str(value.map_or("", String::as_str));
                        } else {
                            *unresolved |= inner_unresolved;
                            out.push_str(&word);
                        }
                    }
                    Some('+') => {
                        if value.is_none() && !colon {
                            // `${x+alt}` with x unknown: we cannot tell set from unset.
                            *unresolved = true;
                        } else if set {
                            *unresolved |= inner_unresolved;
                            out.push_str(&word);
                        } else if value.is_none() {
                            *unresolved = true;
                        }
                    }
                    _ => match value {
                        Some(v) if set => out.push_str(v),
                        _ => *unresolved = true,
                    },
                }
            }
            Some(&n) if is_name_start(n) => {
                let name_start = *pos;
                while *pos < chars.len() && is_name_char(chars[*pos]) {
                    *pos += 1;
                }
                let name: String = chars[name_start..*pos].iter().collect();
                match vars.get(&name) {
                    Some(v) => out.push_str(v),
                    None => *unresolved = true,
                }
            }
            _ => out.push('$'),
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars() -> Vars {
        [("TAG", "1.2"), ("EMPTY", ""), ("IMG", "debian")]
            .into_iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn x(t: &str) -> Option<String> {
        expand(t, '\\', &vars()).expect("valid")
    }

    #[test]
    fn plain_and_braced_names() {
        assert_eq!(x("$IMG:$TAG").as_deref(), Some("debian:1.2"));
        assert_eq!(x("${IMG}:${TAG}-slim").as_deref(), Some("debian:1.2-slim"));
        assert_eq!(x("no vars").as_deref(), Some("no vars"));
        assert_eq!(x("cost $5").as_deref(), Some("cost $5"));
    }

    #[test]
    fn unknown_variable_is_unresolved_not_empty() {
        assert_eq!(x("debian:$NOPE"), None);
        assert_eq!(x("${NOPE}"), None);
    }

    #[test]
    fn defaults_and_alternatives() {
        assert_eq!(x("${NOPE:-latest}").as_deref(), Some("latest"));
        assert_eq!(x("${EMPTY:-latest}").as_deref(), Some("latest"));
        assert_eq!(x("${EMPTY-latest}").as_deref(), Some(""));
        assert_eq!(x("${TAG:-latest}").as_deref(), Some("1.2"));
        assert_eq!(x("${TAG:+set}").as_deref(), Some("set"));
        assert_eq!(x("${EMPTY:+set}").as_deref(), Some(""));
        assert_eq!(x("${NOPE:+set}"), None);
        assert_eq!(x("${NOPE:-$IMG}").as_deref(), Some("debian"));
        assert_eq!(x("${NOPE:-$ALSO_NOPE}"), None);
        assert_eq!(x("${NOPE:?must be set}"), None);
    }

    #[test]
    fn escaped_dollar_is_literal() {
        assert_eq!(x("\\$TAG").as_deref(), Some("$TAG"));
        assert_eq!(
            expand("`$TAG", '`', &vars()).expect("valid").as_deref(),
            Some("$TAG")
        );
        assert!(!has_variable("\\$TAG", '\\'));
        assert!(has_variable("a${TAG}", '\\'));
    }

    #[test]
    fn malformed_substitutions_are_errors() {
        let e = expand("x${TAG", '\\', &vars()).expect_err("unterminated");
        assert_eq!(e.offset, 1);
        assert!(e.message.contains("not closed"), "{e}");
        assert!(expand("${}", '\\', &vars()).is_err());
        assert!(expand("${TAG/a/b}", '\\', &vars()).is_err());
    }
}
