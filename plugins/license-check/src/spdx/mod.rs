//! SPDX licence expressions: a hand-written lexer and precedence parser, a
//! canonical printer, and the policy evaluator's building blocks.
//!
//! Grammar (SPDX 2.3 annex D, with `WITH` > `AND` > `OR`):
//!
//! ```text
//! or     = and *( ("OR" / "/") and )
//! and    = with *( "AND" with )
//! with   = simple [ "WITH" exception-id ] / "(" or ")"
//! simple = license-id ["+"] / ["DocumentRef-" idstring ":"] "LicenseRef-" idstring
//! ```
//!
//! Accepted but reported as [`Quirk`]s (the expression still means what its author
//! meant): lower-case operators (`mit or apache-2.0`), the `/` separator of old Cargo
//! manifests (`MIT/Apache-2.0`, read as `OR`), deprecated ids (`GPL-2.0+` →
//! `GPL-2.0-or-later`, `GPL-2.0-with-classpath-exception` →
//! `GPL-2.0-only WITH Classpath-exception-2.0`). Ids are matched case-insensitively
//! and printed in their canonical spelling.
//!
//! Refused, with the 1-based column of the offending token: unknown licence or
//! exception ids (with a "did you mean" hint), `WITH` after anything but a single
//! licence, `+` on a `LicenseRef`, empty or unbalanced parentheses, missing or
//! doubled operators, characters outside the SPDX id alphabet.
//!
//! Tests: `spdx::tests` (parser, printer, evaluator edge cases).

pub mod ids;

#[cfg(test)]
mod tests;

use std::fmt;

/// A single licence term of an expression.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum License {
    /// A listed SPDX licence in canonical spelling; `or_later` is the `+` suffix.
    Spdx { id: &'static str, or_later: bool },
    /// `[DocumentRef-doc:]LicenseRef-name` (spelling kept as written).
    Ref { doc: Option<String>, name: String },
}

/// A licence with an optional exception: one leaf of an expression.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Requirement {
    pub license: License,
    pub exception: Option<&'static str>,
}

/// A parsed licence expression.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Expr {
    Leaf(Requirement),
    And(Vec<Expr>),
    Or(Vec<Expr>),
}

/// Something accepted for compatibility that a maintainer should modernise.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Quirk {
    /// 1-based column (characters) in the expression.
    pub column: usize,
    pub message: String,
}

/// A parsed expression and the compatibility quirks met on the way.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Parsed {
    pub expr: Expr,
    pub quirks: Vec<Quirk>,
}

/// Why an expression is not valid SPDX.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("column {column}: {message}")]
pub struct ParseError {
    /// 1-based column (characters) of the offending token in the expression.
    pub column: usize,
    /// Length of the offending token in characters (at least 1).
    pub len: usize,
    pub message: String,
}

impl ParseError {
    /// The expression with a caret line under the offending token, for messages.
    pub fn render(&self, expression: &str) -> String {
        format!(
            "{expression}\n{}{}",
            " ".repeat(self.column.saturating_sub(1)),
            "^".repeat(self.len.max(1))
        )
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Tok<'a> {
    Open,
    Close,
    And,
    Or,
    With,
    /// `/`: OR in old Cargo manifests.
    Slash,
    Plus,
    Word(&'a str),
}

#[derive(Debug, Clone)]
struct Token<'a> {
    tok: Tok<'a>,
    /// 1-based character column.
    column: usize,
    len: usize,
    /// Operator written in lower or mixed case.
    odd_case: bool,
}

fn is_id_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '-' || c == '.' || c == ':'
}

fn lex(s: &str) -> Result<Vec<Token<'_>>, ParseError> {
    let mut out = Vec::new();
    let chars: Vec<(usize, char)> = s.char_indices().collect();
    let mut i = 0;
    while i < chars.len() {
        let (byte, c) = chars[i];
        let column = i + 1;
        let single = |tok| Token {
            tok,
            column,
            len: 1,
            odd_case: false,
        };
        match c {
            c if c.is_whitespace() => i += 1,
            '(' => {
                out.push(single(Tok::Open));
                i += 1;
            }
            ')' => {
                out.push(single(Tok::Close));
                i += 1;
            }
            '/' => {
                out.push(single(Tok::Slash));
                i += 1;
            }
            '+' => {
                out.push(single(Tok::Plus));
                i += 1;
            }
            c if is_id_char(c) => {
                let start = i;
                while i < chars.len() && is_id_char(chars[i].1) {
                    i += 1;
                }
                let end_byte = chars.get(i).map_or(s.len(), |(b, _)| *b);
                let word = &s[byte..end_byte];
                let len = i - start;
                let (tok, odd_case) = match word {
                    "AND" => (Tok::And, false),
                    "OR" => (Tok::Or, false),
                    "WITH" => (Tok::With, false),
                    w if w.eq_ignore_ascii_case("and") => (Tok::And, true),
                    w if w.eq_ignore_ascii_case("or") => (Tok::Or, true),
                    w if w.eq_ignore_ascii_case("with") => (Tok::With, true),
                    w => (Tok::Word(w), false),
                };
                out.push(Token {
                    tok,
                    column,
                    len,
                    odd_case,
                });
            }
            other => {
                return Err(ParseError {
                    column,
                    len: 1,
                    message: format!(
                        "unexpected character `{other}`; SPDX ids use letters, digits, `-` and `.`, joined by AND, OR, WITH and parentheses"
                    ),
                });
            }
        }
    }
    Ok(out)
}

struct Parser<'a> {
    toks: Vec<Token<'a>>,
    pos: usize,
    /// Column just past the end of the input, for "unexpected end" errors.
    end_column: usize,
    quirks: Vec<Quirk>,
}

/// Parses an SPDX licence expression. See the module docs for what is accepted.
pub fn parse(expression: &str) -> Result<Parsed, ParseError> {
    let toks = lex(expression)?;
    let end_column = expression.chars().count() + 1;
    if toks.is_empty() {
        return Err(ParseError {
            column: 1,
            len: 1,
            message: "empty licence expression".into(),
        });
    }
    let mut p = Parser {
        toks,
        pos: 0,
        end_column,
        quirks: Vec::new(),
    };
    let expr = p.or()?;
    if let Some(t) = p.peek() {
        let message = match t.tok {
            Tok::Close => "unmatched `)`".to_string(),
            Tok::Word(w) => format!("expected AND, OR or WITH before `{w}`"),
            Tok::Plus => "`+` must directly follow a licence id".to_string(),
            _ => "unexpected token".to_string(),
        };
        return Err(ParseError {
            column: t.column,
            len: t.len,
            message,
        });
    }
    Ok(Parsed {
        expr,
        quirks: p.quirks,
    })
}

impl<'a> Parser<'a> {
    fn peek(&self) -> Option<&Token<'a>> {
        self.toks.get(self.pos)
    }

    fn next(&mut self) -> Option<Token<'a>> {
        let t = self.toks.get(self.pos).cloned();
        self.pos += 1;
        t
    }

    fn end_error(&self, what: &str) -> ParseError {
        ParseError {
            column: self.end_column,
            len: 1,
            message: format!("unexpected end of expression: expected {what}"),
        }
    }

    fn note_operator(&mut self, t: &Token<'_>) {
        if t.odd_case {
            self.quirks.push(Quirk {
                column: t.column,
                message: "operators should be upper case (AND, OR, WITH)".into(),
            });
        }
    }

    fn or(&mut self) -> Result<Expr, ParseError> {
        let mut items = vec![self.and()?];
        while let Some(t) = self.peek().cloned() {
            match t.tok {
                Tok::Or => self.note_operator(&t),
                Tok::Slash => self.quirks.push(Quirk {
                    column: t.column,
                    message: "`/` is the deprecated Cargo separator; write `OR`".into(),
                }),
                _ => break,
            }
            self.pos += 1;
            items.push(self.and()?);
        }
        Ok(flatten(items, false))
    }

    fn and(&mut self) -> Result<Expr, ParseError> {
        let mut items = vec![self.with()?];
        while let Some(t) = self.peek().cloned() {
            if t.tok != Tok::And {
                break;
            }
            self.note_operator(&t);
            self.pos += 1;
            items.push(self.with()?);
        }
        Ok(flatten(items, true))
    }

    fn with(&mut self) -> Result<Expr, ParseError> {
        let Some(t) = self.next() else {
            return Err(self.end_error("a licence id or `(`"));
        };
        let mut req = match t.tok {
            Tok::Open => {
                let inner = self.or()?;
                match self.next() {
                    Some(Token {
                        tok: Tok::Close, ..
                    }) => {}
                    Some(other) => {
                        return Err(ParseError {
                            column: other.column,
                            len: other.len,
                            message: "expected `)` or an operator".into(),
                        });
                    }
                    None => {
                        return Err(ParseError {
                            column: t.column,
                            len: 1,
                            message: "`(` is never closed".into(),
                        });
                    }
                }
                if let Some(w) = self.peek().filter(|w| w.tok == Tok::With) {
                    return Err(ParseError {
                        column: w.column,
                        len: w.len,
                        message:
                            "WITH must follow a single licence, not a parenthesised expression"
                                .into(),
                    });
                }
                return Ok(inner);
            }
            Tok::Word(w) => self.simple(w, &t)?,
            Tok::Close => {
                return Err(ParseError {
                    column: t.column,
                    len: 1,
                    message: "expected a licence id, found `)`".into(),
                });
            }
            Tok::And | Tok::Or | Tok::With | Tok::Slash => {
                return Err(ParseError {
                    column: t.column,
                    len: t.len,
                    message: "expected a licence id before this operator".into(),
                });
            }
            Tok::Plus => {
                return Err(ParseError {
                    column: t.column,
                    len: 1,
                    message: "`+` must directly follow a licence id".into(),
                });
            }
        };
        if let Some(w) = self.peek().filter(|w| w.tok == Tok::With).cloned() {
            self.note_operator(&w);
            self.pos += 1;
            let Some(e) = self.next() else {
                return Err(self.end_error("an exception id after WITH"));
            };
            let Tok::Word(name) = e.tok else {
                return Err(ParseError {
                    column: e.column,
                    len: e.len,
                    message: "expected an exception id after WITH".into(),
                });
            };
            if req.exception.is_some() {
                return Err(ParseError {
                    column: w.column,
                    len: w.len,
                    message: "this licence id already includes an exception".into(),
                });
            }
            let Some(exc) = ids::exception(name) else {
                let hint = ids::nearest(name, ids::EXCEPTIONS)
                    .map(|n| format!("; did you mean `{n}`?"))
                    .unwrap_or_default();
                let message = if ids::license(name).is_some() {
                    format!(
                        "`{name}` is a licence, not an exception; combine licences with AND or OR"
                    )
                } else {
                    format!("unknown licence exception `{name}`{hint}")
                };
                return Err(ParseError {
                    column: e.column,
                    len: e.len,
                    message,
                });
            };
            req.exception = Some(exc);
        }
        Ok(Expr::Leaf(req))
    }

    fn simple(&mut self, word: &str, t: &Token<'_>) -> Result<Requirement, ParseError> {
        let plus = match self.peek() {
            Some(p) if p.tok == Tok::Plus && p.column == t.column + t.len => {
                self.pos += 1;
                true
            }
            Some(p) if p.tok == Tok::Plus => {
                return Err(ParseError {
                    column: p.column,
                    len: 1,
                    message: format!("no space allowed before `+`: write `{word}+`"),
                });
            }
            _ => false,
        };
        if let Some(r) = license_ref(word, t)? {
            if plus {
                return Err(ParseError {
                    column: t.column + t.len,
                    len: 1,
                    message: "`+` is not allowed after a LicenseRef".into(),
                });
            }
            return Ok(Requirement {
                license: r,
                exception: None,
            });
        }
        if word.contains(':') {
            return Err(ParseError {
                column: t.column,
                len: t.len,
                message: format!(
                    "`:` only appears in `DocumentRef-…:LicenseRef-…`, found `{word}`"
                ),
            });
        }
        if let Some(id) = ids::license(word) {
            return Ok(Requirement {
                license: Self::or_later(id, plus),
                exception: None,
            });
        }
        let spelled = if plus {
            format!("{word}+")
        } else {
            word.to_string()
        };
        if let Some((old, new)) = ids::deprecated(&spelled) {
            self.quirks.push(Quirk {
                column: t.column,
                message: format!("`{old}` is a deprecated SPDX id; write `{new}`"),
            });
            return Ok(Requirement {
                license: Self::or_later(canonical_license(new), false),
                exception: None,
            });
        }
        if let Some((old, lic, exc)) = ids::deprecated_with(word) {
            self.quirks.push(Quirk {
                column: t.column,
                message: format!("`{old}` is a deprecated SPDX id; write `{lic} WITH {exc}`"),
            });
            return Ok(Requirement {
                license: Self::or_later(canonical_license(lic), plus),
                exception: Some(canonical_exception(exc)),
            });
        }
        let message = if ids::exception(word).is_some() {
            format!(
                "`{word}` is a licence exception; write it after WITH (`Apache-2.0 WITH {word}`)"
            )
        } else {
            let hint = ids::nearest(word, ids::LICENSES)
                .map(|n| format!("; did you mean `{n}`?"))
                .unwrap_or_else(|| "; name a private licence `LicenseRef-…`".to_string());
            format!("unknown SPDX licence id `{word}`{hint}")
        };
        Err(ParseError {
            column: t.column,
            len: t.len,
            message,
        })
    }

    fn or_later(id: &'static str, plus: bool) -> License {
        // `GPL-2.0-only+` is contradictory but means "or later" in practice.
        if plus && let Some(base) = id.strip_suffix("-only") {
            let later = format!("{base}-or-later");
            if let Some(l) = ids::license(&later) {
                return License::Spdx {
                    id: l,
                    or_later: false,
                };
            }
        }
        License::Spdx { id, or_later: plus }
    }
}

fn canonical_license(id: &str) -> &'static str {
    ids::license(id).unwrap_or("NOASSERTION")
}

fn canonical_exception(id: &str) -> &'static str {
    ids::exception(id).unwrap_or("NOASSERTION")
}

fn license_ref(word: &str, t: &Token<'_>) -> Result<Option<License>, ParseError> {
    let (doc, rest) = match word.split_once(':') {
        Some((d, r)) => {
            let Some(doc) = strip_prefix_ci(d, "DocumentRef-") else {
                return Ok(None);
            };
            if doc.is_empty() || doc.contains(':') {
                return Err(ParseError {
                    column: t.column,
                    len: t.len,
                    message: "malformed DocumentRef".into(),
                });
            }
            (Some(doc.to_string()), r)
        }
        None => (None, word),
    };
    let Some(name) = strip_prefix_ci(rest, "LicenseRef-") else {
        if doc.is_some() {
            return Err(ParseError {
                column: t.column,
                len: t.len,
                message: "expected `LicenseRef-…` after `DocumentRef-…:`".into(),
            });
        }
        return Ok(None);
    };
    if name.is_empty() || name.contains(':') {
        return Err(ParseError {
            column: t.column,
            len: t.len,
            message: "`LicenseRef-` needs a name of letters, digits, `-` and `.`".into(),
        });
    }
    Ok(Some(License::Ref {
        doc,
        name: name.to_string(),
    }))
}

fn strip_prefix_ci<'s>(s: &'s str, prefix: &str) -> Option<&'s str> {
    let head = s.get(..prefix.len())?;
    head.eq_ignore_ascii_case(prefix)
        .then(|| &s[prefix.len()..])
}

/// Joins operands, merging nested nodes of the same operator (`A OR (B OR C)`).
fn flatten(items: Vec<Expr>, and: bool) -> Expr {
    if items.len() == 1 {
        return items.into_iter().next().unwrap_or(Expr::Or(Vec::new()));
    }
    let mut out = Vec::with_capacity(items.len());
    for e in items {
        match (e, and) {
            (Expr::And(v), true) | (Expr::Or(v), false) => out.extend(v),
            (e, _) => out.push(e),
        }
    }
    if and { Expr::And(out) } else { Expr::Or(out) }
}

impl fmt::Display for License {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            License::Spdx { id, or_later } => {
                f.write_str(id)?;
                if *or_later {
                    f.write_str("+")?;
                }
                Ok(())
            }
            License::Ref { doc, name } => {
                if let Some(d) = doc {
                    write!(f, "DocumentRef-{d}:")?;
                }
                write!(f, "LicenseRef-{name}")
            }
        }
    }
}

impl fmt::Display for Requirement {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.license)?;
        if let Some(e) = self.exception {
            write!(f, " WITH {e}")?;
        }
        Ok(())
    }
}

impl fmt::Display for Expr {
    /// Canonical form: canonical ids, upper-case operators, parentheses only where
    /// precedence needs them (an OR inside an AND).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Expr::Leaf(r) => write!(f, "{r}"),
            Expr::Or(v) => {
                for (i, e) in v.iter().enumerate() {
                    if i > 0 {
                        f.write_str(" OR ")?;
                    }
                    write!(f, "{e}")?;
                }
                Ok(())
            }
            Expr::And(v) => {
                for (i, e) in v.iter().enumerate() {
                    if i > 0 {
                        f.write_str(" AND ")?;
                    }
                    if matches!(e, Expr::Or(_)) {
                        write!(f, "({e})")?;
                    } else {
                        write!(f, "{e}")?;
                    }
                }
                Ok(())
            }
        }
    }
}

impl Expr {
    /// Every leaf, left to right (duplicates kept).
    pub fn requirements(&self) -> Vec<&Requirement> {
        let mut out = Vec::new();
        self.collect(&mut out);
        out
    }

    fn collect<'a>(&'a self, out: &mut Vec<&'a Requirement>) {
        match self {
            Expr::Leaf(r) => out.push(r),
            Expr::And(v) | Expr::Or(v) => v.iter().for_each(|e| e.collect(out)),
        }
    }
}

impl Requirement {
    /// Parses an allow/deny list entry: one licence, optionally `WITH` an exception.
    pub fn parse_single(entry: &str) -> Result<Requirement, ParseError> {
        match parse(entry)?.expr {
            Expr::Leaf(r) => Ok(r),
            _ => Err(ParseError {
                column: 1,
                len: entry.chars().count().max(1),
                message: "a list entry names one licence (optionally `WITH` an exception), not an expression".into(),
            }),
        }
    }

    /// Whether a licence list entry `entry` covers this requirement. Exceptions must
    /// match exactly (`Apache-2.0` does not cover `Apache-2.0 WITH LLVM-exception`).
    /// An "or later" requirement (`GPL-2.0+`, `GPL-2.0-or-later`, `MPL-1.1+`) is
    /// covered by the same licence at any version at or above its own, because the
    /// licensee may pick that version.
    pub fn covered_by(&self, entry: &Requirement) -> bool {
        if self.exception != entry.exception {
            return false;
        }
        match (&self.license, &entry.license) {
            (License::Ref { doc: d1, name: n1 }, License::Ref { doc: d2, name: n2 }) => {
                n1.eq_ignore_ascii_case(n2)
                    && match (d1, d2) {
                        (None, None) => true,
                        (Some(a), Some(b)) => a.eq_ignore_ascii_case(b),
                        _ => false,
                    }
            }
            (
                License::Spdx {
                    id: a,
                    or_later: pa,
                },
                License::Spdx {
                    id: b,
                    or_later: pb,
                },
            ) => {
                if a == b && pa == pb {
                    return true;
                }
                let Some((fa, va, la)) = ids::family_version(a) else {
                    return false;
                };
                let Some((fb, vb, lb)) = ids::family_version(b) else {
                    return false;
                };
                if fa != fb {
                    return false;
                }
                let req_later = *pa || la == Some(true);
                let entry_later = *pb || lb == Some(true);
                if req_later {
                    // Any version >= ours satisfies the requirement; an "or later"
                    // entry is the same grant as a plain one for that purpose.
                    vb >= va
                } else {
                    // A fixed version is covered only by that version; an entry that
                    // allows "X or later" does not allow a bare X written differently
                    // unless it is the same version.
                    va == vb && !entry_later
                }
            }
            _ => false,
        }
    }
}
