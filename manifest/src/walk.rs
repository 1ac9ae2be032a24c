//! Walking the span-carrying TOML tree (`toml::de::DeTable`) and collecting diagnostics.
//!
//! The manifest is read by hand from the parsed tree rather than through
//! `#[derive(Deserialize)]` alone: serde stops at the first error, while a user
//! fixing a pipeline wants every mistake at once, each with its own span and a
//! precise hint. Capability grants, which other modules will own, can still use
//! serde: [`Cx::deserialize`] runs a `#[serde(deny_unknown_fields)]` struct over a
//! subtree and turns serde's messages ("unknown field `x`, expected one of …",
//! "invalid type: …") into the same diagnostics, with the span toml reports.

use std::path::Path;

use serde::de::DeserializeOwned;
use toml::Spanned;
use toml::de::{DeString, DeTable, DeValue};

use super::diag::{Diagnostic, Span};
use super::suggest::{did_you_mean, list};

pub(crate) type Val<'i> = Spanned<DeValue<'i>>;
pub(crate) type Key<'i> = Spanned<DeString<'i>>;

pub(crate) fn span_of<T>(s: &Spanned<T>) -> Span {
    s.span().into()
}

/// "a string", "an integer", … for messages.
pub(crate) fn type_name(v: &DeValue<'_>) -> &'static str {
    match v {
        DeValue::String(_) => "a string",
        DeValue::Integer(_) => "an integer",
        DeValue::Float(_) => "a float",
        DeValue::Boolean(_) => "a boolean",
        DeValue::Datetime(_) => "a datetime",
        DeValue::Array(_) => "an array",
        DeValue::Table(_) => "a table",
    }
}

/// Entries of a table in file order (the tree itself is sorted by key).
pub(crate) fn entries<'t, 'i>(t: &'t DeTable<'i>) -> Vec<(&'t Key<'i>, &'t Val<'i>)> {
    let mut v: Vec<_> = t.iter().collect();
    v.sort_by_key(|(k, _)| k.span().start);
    v
}

/// Parsing context: the file, its text, and the diagnostics collected so far.
/// Messages name where a key lives as a "place": ``stage `lint` ``, `` `[pipeline]` ``, …
pub(crate) struct Cx<'a> {
    pub file: &'a Path,
    pub source: &'a str,
    pub diags: Vec<Diagnostic>,
}

impl<'a> Cx<'a> {
    pub fn new(file: &'a Path, source: &'a str) -> Self {
        Cx {
            file,
            source,
            diags: Vec::new(),
        }
    }

    pub fn diag(&self, span: Span, message: impl Into<String>) -> Diagnostic {
        Diagnostic::at(self.file, self.source, span, message)
    }

    pub fn push(&mut self, d: Diagnostic) {
        self.diags.push(d);
    }

    pub fn error(&mut self, span: Span, message: impl Into<String>, hint: Option<String>) {
        let mut d = self.diag(span, message);
        d.hint = hint;
        self.push(d);
    }

    /// Pushes the error if any, returns the value if not.
    pub fn ok<T>(&mut self, r: Result<T, Diagnostic>) -> Option<T> {
        match r {
            Ok(v) => Some(v),
            Err(d) => {
                self.push(d);
                None
            }
        }
    }

    /// `unknown key `plugn` in stage `lint`` + "did you mean" + the valid keys.
    /// `aliases` maps words users bring from other CI systems to what to write here.
    /// `place` empty means the top level. Returns the suggestion, if any.
    pub fn unknown_key(
        &mut self,
        key: &Key<'_>,
        place: &str,
        known: &[&str],
        aliases: &[(&str, &'static str)],
    ) -> Option<String> {
        let name: &str = key.get_ref();
        let suggestion = aliases
            .iter()
            .find(|(a, _)| a.eq_ignore_ascii_case(name))
            .map(|(_, s)| s.to_string())
            .or_else(|| did_you_mean(name, known.iter().copied()).map(String::from));
        let hint = match &suggestion {
            Some(s) => format!("did you mean `{s}`? valid keys: {}", list(known)),
            None => format!("valid keys: {}", list(known)),
        };
        let message = if place.is_empty() {
            format!("unknown top-level key `{name}`")
        } else {
            format!("unknown key `{name}` in {place}")
        };
        self.error(span_of(key), message, Some(hint));
        suggestion
    }

    pub fn type_error(&self, v: &Val<'_>, expected: &str, what: &str) -> Diagnostic {
        self.diag(
            span_of(v),
            format!(
                "expected {expected} for {what}, found {}",
                type_name(v.get_ref())
            ),
        )
    }

    pub fn table<'t, 'i>(&self, v: &'t Val<'i>, what: &str) -> Result<&'t DeTable<'i>, Diagnostic> {
        v.get_ref()
            .as_table()
            .ok_or_else(|| self.type_error(v, "a table", what))
    }

    pub fn string<'t>(&self, v: &'t Val<'_>, what: &str) -> Result<&'t str, Diagnostic> {
        v.get_ref()
            .as_str()
            .ok_or_else(|| self.type_error(v, "a string", what))
    }

    pub fn boolean(&self, v: &Val<'_>, what: &str) -> Result<bool, Diagnostic> {
        match v.get_ref() {
            DeValue::Boolean(b) => Ok(*b),
            DeValue::String(s) if s == "true" || s == "false" => Err(self
                .type_error(v, "a boolean", what)
                .with_hint(format!("remove the quotes: `{s}`"))),
            _ => Err(self.type_error(v, "a boolean (`true` or `false`)", what)),
        }
    }

    /// An integer as i128 (TOML integers are i64; wider input is reported as out of range).
    pub fn integer(&self, v: &Val<'_>, what: &str) -> Result<i128, Diagnostic> {
        match v.get_ref() {
            DeValue::Integer(i) => i128::from_str_radix(i.as_str(), i.radix())
                .map_err(|_| self.diag(span_of(v), format!("{what} is out of range"))),
            DeValue::String(s) if s.trim().parse::<i128>().is_ok() => Err(self
                .type_error(v, "an integer", what)
                .with_hint(format!("remove the quotes: `{}`", s.trim()))),
            _ => Err(self.type_error(v, "an integer", what)),
        }
    }

    /// A list of strings; with `single_ok`, a lone string counts as a one-item list.
    pub fn strings(
        &self,
        v: &Val<'_>,
        what: &str,
        single_ok: bool,
    ) -> Result<Vec<Spanned<String>>, Diagnostic> {
        match v.get_ref() {
            DeValue::String(s) if single_ok => Ok(vec![Spanned::new(v.span(), s.to_string())]),
            DeValue::String(s) => Err(self
                .type_error(v, "a list of strings", what)
                .with_hint(format!("write a list: `[\"{s}\"]`"))),
            DeValue::Array(items) => items
                .iter()
                .map(|item| match item.get_ref() {
                    DeValue::String(s) => Ok(Spanned::new(item.span(), s.to_string())),
                    other => Err(self.diag(
                        span_of(item),
                        format!("expected a string in {what}, found {}", type_name(other)),
                    )),
                })
                .collect(),
            _ => Err(self.type_error(v, "a list of strings", what)),
        }
    }

    /// Deserializes a subtree with serde (`deny_unknown_fields` recommended), turning
    /// serde's errors into diagnostics at toml's span. Messages name the table as
    /// `` `{path}` of {owner} `` (e.g. `` `grants.fs` of stage `lint` ``), or the
    /// offending key inside it when toml's span says which.
    pub fn deserialize<T: DeserializeOwned>(
        &self,
        v: &Val<'_>,
        path: &str,
        owner: &str,
    ) -> Result<T, Diagnostic> {
        T::deserialize(toml::de::ValueDeserializer::from(v.clone())).map_err(|e| {
            let span = e.span().map_or(span_of(v), Span::from);
            let inner = key_path_at(v, span);
            let place = if inner.is_empty() || e.message().starts_with("unknown field") {
                format!("`{path}` of {owner}")
            } else {
                format!("`{path}.{}` of {owner}", inner.join("."))
            };
            serde_error(self, span, e.message(), &place)
        })
    }
}

/// Keys leading to the deepest value (inside `v`) whose span contains `span`.
fn key_path_at(v: &Val<'_>, span: Span) -> Vec<String> {
    let mut path = Vec::new();
    let mut cur = v;
    'descend: loop {
        match cur.get_ref() {
            DeValue::Table(t) => {
                for (k, item) in t.iter() {
                    let s = span_of(item);
                    if s.start <= span.start && span.end <= s.end && s != span_of(cur) {
                        path.push(k.get_ref().to_string());
                        cur = item;
                        continue 'descend;
                    }
                }
            }
            DeValue::Array(items) => {
                for item in items.iter() {
                    let s = span_of(item);
                    if s.start <= span.start && span.end <= s.end {
                        cur = item;
                        continue 'descend;
                    }
                }
            }
            _ => {}
        }
        return path;
    }
}

/// Rewrites serde's wording into gantry's.
fn serde_error(cx: &Cx<'_>, span: Span, message: &str, place: &str) -> Diagnostic {
    let ticked: Vec<&str> = message.split('`').skip(1).step_by(2).collect();
    if let Some(rest) = message.strip_prefix("unknown field `") {
        let name = rest.split('`').next().unwrap_or_default();
        let known: Vec<&str> = ticked.iter().skip(1).copied().collect();
        let hint = match did_you_mean(name, known.iter().copied()) {
            Some(s) => format!("did you mean `{s}`? valid keys: {}", list(&known)),
            None if known.is_empty() => "this table takes no keys".to_string(),
            None => format!("valid keys: {}", list(&known)),
        };
        return cx
            .diag(span, format!("unknown key `{name}` in {place}"))
            .with_hint(hint);
    }
    if let Some(rest) = message.strip_prefix("missing field `") {
        let name = rest.split('`').next().unwrap_or_default();
        return cx.diag(span, format!("missing key `{name}` in {place}"));
    }
    if let Some(rest) = message.strip_prefix("invalid type: ")
        && let Some((found, expected)) = rest.split_once(", expected ")
    {
        let found = found.split([' ', '`']).next().unwrap_or(found);
        let found = match found {
            "integer" => "an integer",
            "string" => "a string",
            "boolean" => "a boolean",
            "floating" => "a float",
            "sequence" => "an array",
            "map" => "a table",
            other => other,
        };
        let expected = match expected {
            "a sequence" => "a list",
            e if e.starts_with("struct ") || e == "a map" => "a table",
            "u8" | "u16" | "u32" | "u64" | "usize" | "i8" | "i16" | "i32" | "i64" | "isize" => {
                "an integer"
            }
            e => e,
        };
        let d = cx.diag(
            span,
            format!("expected {expected} for {place}, found {found}"),
        );
        if expected == "a list" && found == "a string" {
            let written = cx.source.get(span.range()).unwrap_or("\"…\"");
            return d.with_hint(format!("write a list: `[{written}]`"));
        }
        return d;
    }
    cx.diag(span, format!("{message} (in {place})"))
}
