//! `[secrets]`: where secret values come from — never `pipeline.toml` itself.
//!
//! ```toml
//! [secrets]
//! REGISTRY_TOKEN = { env = "CI_REGISTRY_TOKEN" }   # an environment variable of the gantry process
//! DEPLOY_KEY = { file = "secrets/deploy.key" }     # a file, relative to the pipeline file's directory (or absolute)
//! ```
//!
//! Names are `[A-Z_][A-Z0-9_]*`. Each secret has exactly one source. A stage sees a
//! secret only through `grants.secrets` / `grants.reveal` (see [`super::grants`]).
//! Values are read at run time, not here: a missing variable or file is reported
//! when a stage asks for the secret.
//!
//! A value written into the file (`TOKEN = "abc…"`) is an error, and that error
//! never shows the value: the snippet line has it replaced by `"***"`. The same
//! masking applies to any other error on a line of `[secrets]` that may carry a
//! value (unknown keys, wrong types, TOML syntax errors, duplicate keys), so a
//! pasted token does not end up in CI logs through gantry's own diagnostics.

use serde::Serialize;
use toml::de::DeValue;

use super::diag::{Diagnostic, Span};
use super::suggest::{did_you_mean, list};
use super::walk::{Cx, Key, Val, entries, span_of, type_name};

/// One entry of `[secrets]`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct SecretDecl {
    pub name: String,
    pub source: SecretSource,
    /// The secret's key in `[secrets]`.
    #[serde(skip)]
    pub span: Span,
}

/// Where a secret's value is read from, at run time.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum SecretSource {
    /// An environment variable of the gantry process (the name, as written).
    Env(String),
    /// A file, as written: relative to the pipeline file's directory
    /// ([`crate::Manifest::dir`]), or absolute. `~` is not expanded.
    File(String),
}

/// What stage grants are checked against while `[stage.*]` is parsed.
#[derive(Debug, Default)]
pub(crate) struct Declared {
    /// Every key of `[secrets]`, valid or not (so one mistake is not reported twice).
    pub names: Vec<String>,
    /// (environment variable, secret) for every `env` source.
    pub env_sources: Vec<(String, String)>,
}

const SOURCE_KEYS: &[&str] = &["env", "file"];
/// Keys people use when they are about to write the value itself.
const VALUE_KEYS: &[&str] = &[
    "value", "val", "literal", "secret", "token", "password", "key", "data",
];

/// `[A-Z_][A-Z0-9_]*`.
pub(crate) fn check_secret_name(name: &str) -> Result<(), String> {
    let Some(first) = name.chars().next() else {
        return Err("the name is empty".into());
    };
    if !(first.is_ascii_uppercase() || first == '_') {
        return Err("it must start with an upper-case letter or `_`".into());
    }
    if let Some(c) = name
        .chars()
        .find(|c| !(c.is_ascii_uppercase() || c.is_ascii_digit() || *c == '_'))
    {
        return Err(format!(
            "`{}` is not allowed; use upper-case letters, digits and `_`",
            c.escape_debug()
        ));
    }
    Ok(())
}

fn sanitize_secret_name(name: &str) -> String {
    let s: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_uppercase()
            } else {
                '_'
            }
        })
        .collect();
    if s.starts_with(|c: char| c.is_ascii_digit()) {
        format!("_{s}")
    } else {
        s
    }
}

/// `[A-Za-z_][A-Za-z0-9_]*`: `None` if `name` is a valid environment variable name,
/// otherwise why not.
pub(crate) fn env_name_error(name: &str) -> Option<String> {
    if name.is_empty() {
        return Some("the name is empty".into());
    }
    if name.contains(['*', '?']) {
        return Some(format!(
            "`{name}` is a glob; environment variables are granted by name"
        ));
    }
    let ok = name.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_')
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    (!ok).then(|| {
        format!(
            "`{}` is not a valid environment variable name (letters, digits and `_`, not starting with a digit)",
            name.escape_debug()
        )
    })
}

fn source_hint(name: &str) -> String {
    format!(
        "read it from where it lives, e.g.\n{name} = {{ env = \"…\" }}    # an environment variable of gantry\n{name} = {{ file = \"…\" }}   # a file, relative to this file's directory"
    )
}

/// A diagnostic at `span` with the values at `masks` hidden in the snippet.
fn masked(cx: &Cx<'_>, span: Span, masks: &[Span], message: impl Into<String>) -> Diagnostic {
    Diagnostic::at_masked(cx.file, cx.source, span, message, masks)
}

pub(crate) fn parse_secrets(cx: &mut Cx<'_>, v: &Val<'_>) -> (Vec<SecretDecl>, Declared) {
    let mut decls = Vec::new();
    let mut declared = Declared::default();
    let DeValue::Table(table) = v.get_ref() else {
        // `secrets = "…"` may be a pasted value: do not show it.
        let d = masked(
            cx,
            span_of(v),
            &[span_of(v)],
            format!(
                "expected a table for `secrets`, found {}",
                type_name(v.get_ref())
            ),
        )
        .with_hint(format!(
            "declare each secret in a table:\n[secrets]\n{}",
            source_hint("NAME")
                .lines()
                .skip(1)
                .collect::<Vec<_>>()
                .join("\n")
        ));
        cx.push(d);
        return (decls, declared);
    };
    let entries = entries(table);
    // Every value that may be a secret, masked in every diagnostic of the table: an
    // inline `secrets = { A = "…", B = "…" }` has them all on one line.
    let masks: Vec<Span> = entries.iter().flat_map(|(_, v)| value_masks(v)).collect();
    for (key, value) in entries {
        let name: &str = key.get_ref();
        declared.names.push(name.to_string());
        if let Err(why) = check_secret_name(name) {
            let fixed = sanitize_secret_name(name);
            let hint = if check_secret_name(&fixed).is_ok() && fixed != name {
                format!("try `{fixed}`")
            } else {
                "secret names are like `REGISTRY_TOKEN`".to_string()
            };
            let d = masked(
                cx,
                span_of(key),
                &masks,
                format!("invalid secret name `{}`: {why}", name.escape_debug()),
            );
            cx.push(d.with_hint(hint));
        }
        if let Some(source) = parse_source(cx, key, value, &masks) {
            if let SecretSource::Env(var) = &source {
                declared.env_sources.push((var.clone(), name.to_string()));
            }
            decls.push(SecretDecl {
                name: name.to_string(),
                source,
                span: span_of(key),
            });
        }
    }
    (decls, declared)
}

/// What to hide on the line of a secret's key: its value unless it is a table
/// (whose parts are masked one by one where they are reported).
fn value_masks(value: &Val<'_>) -> Vec<Span> {
    match value.get_ref() {
        DeValue::Table(t) => t
            .iter()
            .filter(|(k, v)| {
                !(SOURCE_KEYS.contains(&k.get_ref().as_ref()) && v.get_ref().as_str().is_some())
            })
            .map(|(_, v)| span_of(v))
            .collect(),
        _ => vec![span_of(value)],
    }
}

/// `masks`: what diagnostics must hide (see [`value_masks`]), for the whole table.
fn parse_source(
    cx: &mut Cx<'_>,
    key: &Key<'_>,
    value: &Val<'_>,
    masks: &[Span],
) -> Option<SecretSource> {
    let name: &str = key.get_ref();
    let DeValue::Table(table) = value.get_ref() else {
        // Strings and anything else written in place of a source are literals: the
        // message names the key, the snippet hides the value.
        let d = masked(
            cx,
            span_of(key),
            masks,
            format!(
                "secret `{}` has a literal value: secrets are never written in pipeline.toml",
                name.escape_debug()
            ),
        )
        .with_note("anyone who can read this file, or its history, can read the value: if it is a real secret, rotate it")
        .with_hint(source_hint(name));
        cx.push(d);
        return None;
    };
    let place = format!("secret `{}`", name.escape_debug());
    let mut env: Option<(String, Span)> = None;
    let mut file: Option<(String, Span)> = None;
    let mut ok = true;
    for (k, v) in entries(table) {
        let kname: &str = k.get_ref();
        if !SOURCE_KEYS.contains(&kname) {
            ok = false;
            let hint = if VALUE_KEYS.contains(&kname.to_ascii_lowercase().as_str()) {
                format!(
                    "secrets are never written in pipeline.toml; {}",
                    source_hint(name)
                )
            } else {
                match did_you_mean(kname, SOURCE_KEYS.iter().copied()) {
                    Some(s) => format!("did you mean `{s}`? valid keys: {}", list(SOURCE_KEYS)),
                    None => format!("valid keys: {}", list(SOURCE_KEYS)),
                }
            };
            let d = masked(
                cx,
                span_of(k),
                masks,
                format!("unknown key `{}` in {place}", kname.escape_debug()),
            );
            cx.push(d.with_hint(hint));
            continue;
        }
        let Some(text) = v.get_ref().as_str() else {
            ok = false;
            let d = masked(
                cx,
                span_of(v),
                masks,
                format!(
                    "expected a string for `{kname}` of {place}, found {}",
                    type_name(v.get_ref())
                ),
            );
            let example = if kname == "env" {
                "CI_TOKEN"
            } else {
                "secrets/token"
            };
            cx.push(d.with_hint(format!("e.g. `{kname} = \"{example}\"`")));
            continue;
        };
        let slot = if kname == "env" { &mut env } else { &mut file };
        *slot = Some((text.to_string(), span_of(v)));
    }
    let source = match (env, file) {
        (Some(_), Some((_, file_span))) => {
            let d = masked(
                cx,
                file_span,
                masks,
                format!("{place} has both `env` and `file`"),
            );
            cx.push(d.with_hint("a secret has exactly one source: keep one of them"));
            return None;
        }
        (None, None) => {
            if ok {
                let d = masked(cx, span_of(key), masks, format!("{place} has no source"));
                cx.push(d.with_hint(source_hint(name)));
            }
            return None;
        }
        (Some((var, span)), None) => {
            if let Some(why) = env_name_error(&var) {
                let d = masked(cx, span, masks, format!("`env` of {place}: {why}"));
                cx.push(d.with_hint(
                    "`env` names the variable that holds the value, e.g. `env = \"CI_REGISTRY_TOKEN\"`",
                ));
                return None;
            }
            SecretSource::Env(var)
        }
        (None, Some((path, span))) => {
            let why = if path.is_empty() {
                Some("the path is empty")
            } else if path.contains('\0') {
                Some("the path contains a NUL byte")
            } else if path.starts_with('~') {
                Some("`~` is not expanded")
            } else {
                None
            };
            if let Some(why) = why {
                let d = masked(cx, span, masks, format!("`file` of {place}: {why}"));
                cx.push(d.with_hint(
                    "write a path relative to the pipeline file's directory, or an absolute path",
                ));
                return None;
            }
            SecretSource::File(path)
        }
    };
    ok.then_some(source)
}

/// Whether fs grant `grant` (normalized, workspace-relative: `.` is the whole
/// workspace) reaches `file` (normalized, workspace-relative): a stage holding the
/// grant can read the file — for a secret's `file` source, its value without
/// `grants.reveal`. The host resolves both paths (symbolic links included) and refuses
/// such a stage in `gantry check` and `gantry run` (`run::prepare::secret_exposures`).
pub fn grant_reaches(grant: &str, file: &str) -> bool {
    grant == "."
        || file == grant
        || file
            .strip_prefix(grant)
            .is_some_and(|rest| rest.starts_with('/'))
}

/// For a TOML syntax error at `pos`: if its line belongs to `[secrets]`, the span
/// of the value part of that line (after the first `=`, or after the key when
/// there is none), to be masked in the snippet.
pub(crate) fn syntax_error_mask(source: &str, pos: usize) -> Option<Span> {
    let pos = pos.min(source.len());
    let line_start = source.get(..pos)?.rfind('\n').map_or(0, |i| i + 1);
    let line_end = source[line_start..]
        .find('\n')
        .map_or(source.len(), |i| line_start + i);
    let line = &source[line_start..line_end];
    let compact = |l: &str| l.chars().filter(|c| !c.is_whitespace()).collect::<String>();
    let trimmed = line.trim_start();
    // The table this line is in: the last header above it (best effort: a header
    // inside a multi-line string fools it, which only costs a masked line).
    let header = source[..line_start]
        .lines()
        .rev()
        .map(str::trim_start)
        .find(|l| l.starts_with('['))
        .map(compact);
    let in_secrets_table = header
        .as_deref()
        .is_some_and(|h| h.starts_with("[secrets]") || h.starts_with("[secrets."));
    let top_level_dotted = header.is_none() && {
        let c = compact(trimmed);
        c.starts_with("secrets.") || c.starts_with("secrets=")
    };
    let own_header = trimmed.starts_with('[');
    if own_header || !(in_secrets_table || top_level_dotted) {
        return None;
    }
    let value_start = match line.find('=') {
        Some(i) => line_start + i + 1,
        None => {
            let key_len = trimmed
                .find(|c: char| !(c.is_ascii_alphanumeric() || "_-.\"'".contains(c)))
                .unwrap_or(trimmed.len());
            line_start + (line.len() - trimmed.len()) + key_len
        }
    };
    let rest = &source[value_start..line_end];
    let value_start = value_start + (rest.len() - rest.trim_start().len());
    let value_end = line_start + line.trim_end().len();
    (value_start < value_end).then(|| Span::new(value_start, value_end))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert!(check_secret_name("REGISTRY_TOKEN").is_ok());
        assert!(check_secret_name("_X1").is_ok());
        assert!(check_secret_name("").is_err());
        assert!(check_secret_name("1X").is_err());
        assert!(check_secret_name("registry_token").is_err());
        assert!(check_secret_name("A-B").is_err());
        assert_eq!(sanitize_secret_name("registry-token"), "REGISTRY_TOKEN");
        assert_eq!(sanitize_secret_name("1x"), "_1X");
        assert_eq!(env_name_error("CI_TOKEN"), None);
        assert_eq!(env_name_error("path"), None);
        assert!(env_name_error("A=B").is_some());
        assert!(env_name_error("9A").is_some());
        assert!(env_name_error("*").is_some());
        assert!(env_name_error("").is_some());
    }

    #[test]
    fn grants_reaching_a_file() {
        assert!(grant_reaches(".", "secrets/deploy.key"));
        assert!(grant_reaches("secrets", "secrets/deploy.key"));
        assert!(grant_reaches("secrets/deploy.key", "secrets/deploy.key"));
        assert!(grant_reaches("a/b", "a/b/c/d"));
        assert!(!grant_reaches("secret", "secrets/deploy.key"));
        assert!(!grant_reaches("src", "secrets/deploy.key"));
        assert!(!grant_reaches("secrets/deploy.key/x", "secrets/deploy.key"));
    }

    #[test]
    fn syntax_error_masks_only_secret_lines() {
        let src = "[pipeline]\nname = x\n[secrets]\nTOKEN = abc123 \nX\n[stage.a]\ny = z\n";
        let at = |needle: &str| src.find(needle).unwrap_or(0);
        let m = syntax_error_mask(src, at("abc")).unwrap_or_default();
        assert_eq!(&src[m.range()], "abc123");
        assert_eq!(syntax_error_mask(src, at("name")), None);
        assert_eq!(syntax_error_mask(src, at("y = z")), None);
        assert_eq!(syntax_error_mask(src, at("[secrets]")), None);
        assert_eq!(syntax_error_mask(src, at("X\n")), None);
        let src = "secrets.TOKEN = abc\n[pipeline]\n";
        let m = syntax_error_mask(src, 0).unwrap_or_default();
        assert_eq!(&src[m.range()], "abc");
        let src = "[secrets.TOKEN]\nvalue = \"x\n";
        let m = syntax_error_mask(src, src.len() - 1).unwrap_or_default();
        assert_eq!(&src[m.range()], "\"x");
        let src = "[secrets]\nTOKEN \"abc\"\n";
        let m = syntax_error_mask(src, 12).unwrap_or_default();
        assert_eq!(&src[m.range()], "\"abc\"");
    }
}
