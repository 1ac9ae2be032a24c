//! SPDX licence expressions, parsed by the `spdx` crate (the whole SPDX License
//! List, its grammar and precedence: `WITH` > `AND` > `OR`), with gantry's
//! diagnostics and policy building blocks around it.
//!
//! What this module adds to the crate:
//! - **Case.** SPDX ids and operators are case-insensitive; the crate matches them
//!   case-sensitively. Before parsing, every word that is a known id or operator in
//!   any case is respelled canonically (`mit or apache-2.0` → `MIT OR Apache-2.0`),
//!   byte for byte, so the crate's spans still point into what the user wrote.
//! - **Quirks**, accepted but reported so a maintainer can modernise them: lower-case
//!   operators, the `/` separator of old Cargo manifests (`MIT/Apache-2.0`, OR's
//!   precedence, parsed by the crate's lax mode), deprecated ids mapped to the
//!   current ones (`GPL-2.0+` → `GPL-2.0-or-later`,
//!   `GPL-2.0-with-classpath-exception` → `GPL-2.0-only WITH Classpath-exception-2.0`).
//! - **Errors** with the 1-based column of the offending token, a caret rendering and
//!   a reason in words ("did you mean `Apache-2.0`?", "`MIT` is a licence, not an
//!   exception", "WITH must follow a single licence"), derived from the crate's error
//!   span and the crate's own lexer.
//! - A tree ([`Expr`]) the policy evaluator walks, and a canonical printer.
//!
//! Refused (the crate refuses it, or it cannot mean anything): unknown licence or
//! exception ids (the crate's "imprecise names" such as `apache` or `gpl v2` are not
//! guessed at), `WITH` after anything but a single licence, `+` on a `LicenseRef` or
//! after whitespace, empty or unbalanced parentheses, missing or doubled operators,
//! characters outside the SPDX id alphabet, `LicenseRef-` without a name, SPDX 3
//! `AdditionRef-…` (the policy has no way to allow one).
//!
//! Tests: `spdx::tests` (parser, printer, evaluator edge cases, the whole list).

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

/// How the crate is asked to parse: its lax mode (`/` as OR, deprecated ids, `+` on
/// GNU ids), minus the guessing of imprecise names.
const MODE: spdx::ParseMode = spdx::ParseMode {
    allow_slash_as_or_operator: true,
    allow_imprecise_license_names: false,
    allow_postfix_plus_on_gpl: true,
    allow_deprecated: true,
    allow_unknown: false,
};

fn is_id_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '-' || c == '.' || c == ':'
}

/// 1-based character column of byte offset `byte` in `s`.
fn column_of(s: &str, byte: usize) -> usize {
    s.char_indices().take_while(|(b, _)| *b < byte).count() + 1
}

/// Respells ids and operators canonically (same byte length: only ASCII words are
/// touched) and collects the quirks only the written text shows.
fn normalize(expression: &str) -> (String, Vec<Quirk>) {
    let mut out = String::with_capacity(expression.len());
    let mut quirks = Vec::new();
    let mut chars = expression.char_indices().peekable();
    while let Some((byte, c)) = chars.next() {
        if c == '/' {
            quirks.push(Quirk {
                column: column_of(expression, byte),
                message: "`/` is the deprecated Cargo separator; write `OR`".into(),
            });
            out.push(c);
            continue;
        }
        if !is_id_char(c) {
            out.push(c);
            continue;
        }
        let mut end = byte + c.len_utf8();
        while let Some(&(b, n)) = chars.peek() {
            if !is_id_char(n) {
                break;
            }
            end = b + n.len_utf8();
            chars.next();
        }
        let word = &expression[byte..end];
        let upper = word.to_ascii_uppercase();
        if matches!(upper.as_str(), "AND" | "OR" | "WITH") {
            if word != upper {
                quirks.push(Quirk {
                    column: column_of(expression, byte),
                    message: "operators should be upper case (AND, OR, WITH)".into(),
                });
            }
            out.push_str(&upper);
        } else if let Some(id) = ids::license_any(word) {
            out.push_str(id.name);
        } else if let Some(id) = ids::exception(word) {
            out.push_str(id);
        } else {
            out.push_str(&canonical_refs(word));
        }
    }
    (out, quirks)
}

/// `documentref-x:licenseref-y` → `DocumentRef-x:LicenseRef-y` (names kept).
fn canonical_refs(word: &str) -> String {
    word.split(':')
        .map(|part| {
            for prefix in ["DocumentRef-", "LicenseRef-", "AdditionRef-"] {
                if let Some(rest) = strip_prefix_ci(part, prefix) {
                    return format!("{prefix}{rest}");
                }
            }
            part.to_string()
        })
        .collect::<Vec<_>>()
        .join(":")
}

/// Parses an SPDX licence expression. See the module docs for what is accepted.
pub fn parse(expression: &str) -> Result<Parsed, ParseError> {
    if expression.trim().is_empty() {
        return Err(ParseError {
            column: 1,
            len: 1,
            message: "empty licence expression".into(),
        });
    }
    let (text, mut quirks) = normalize(expression);
    let parsed =
        spdx::Expression::parse_mode(&text, MODE).map_err(|e| explain(expression, &text, &e))?;
    let mut stack: Vec<Expr> = Vec::new();
    for node in parsed.iter() {
        match node {
            spdx::expression::ExprNode::Req(r) => {
                let span = r.span.start as usize..r.span.end as usize;
                stack.push(Expr::Leaf(requirement(
                    expression,
                    &text,
                    span,
                    &r.req,
                    &mut quirks,
                )?));
            }
            spdx::expression::ExprNode::Op(op) => {
                let (Some(b), Some(a)) = (stack.pop(), stack.pop()) else {
                    return Err(ParseError {
                        column: 1,
                        len: 1,
                        message: "malformed expression".into(),
                    });
                };
                let and = matches!(op, spdx::expression::Operator::And);
                stack.push(flatten(vec![a, b], and));
            }
        }
    }
    let expr = match (stack.pop(), stack.is_empty()) {
        (Some(e), true) => e,
        _ => {
            return Err(ParseError {
                column: 1,
                len: 1,
                message: "malformed expression".into(),
            });
        }
    };
    quirks.sort_by_key(|q| q.column);
    Ok(Parsed { expr, quirks })
}

/// One leaf from the crate's requirement: deprecated ids resolved (with a quirk),
/// refs checked.
fn requirement(
    original: &str,
    text: &str,
    span: std::ops::Range<usize>,
    req: &spdx::LicenseReq,
    quirks: &mut Vec<Quirk>,
) -> Result<Requirement, ParseError> {
    let column = column_of(original, span.start);
    let len = original
        .get(span.clone())
        .map_or(1, |w| w.chars().count().max(1));
    let err = |message: String| ParseError {
        column,
        len,
        message,
    };
    let exception = match &req.addition {
        None => None,
        Some(spdx::AdditionItem::Spdx(e)) => Some(e.name),
        Some(spdx::AdditionItem::Other(r)) => {
            return Err(err(format!(
                "`AdditionRef-{}` (an SPDX 3 custom addition) cannot be named in a policy; use a listed exception",
                r.add_ref
            )));
        }
    };
    let license = match &req.license {
        spdx::LicenseItem::Other(r) => {
            if r.lic_ref.is_empty() {
                return Err(err(
                    "`LicenseRef-` needs a name of letters, digits, `-` and `.`".into(),
                ));
            }
            License::Ref {
                doc: r.doc_ref.clone(),
                name: r.lic_ref.clone(),
            }
        }
        spdx::LicenseItem::Spdx { id, or_later } => {
            // What was written: the crate turns `GPL-2.0+` into `GPL-2.0-or-later`
            // itself, so a deprecated spelling is only visible in the text.
            let written = text.get(span.clone()).unwrap_or(id.name);
            let plus = text[span.end..].starts_with('+');
            let written_id = ids::license_any(written).filter(|w| w.is_deprecated());
            match written_id {
                Some(old) => {
                    let spelled = if plus {
                        format!("{}+", old.name)
                    } else {
                        old.name.to_string()
                    };
                    match ids::replacement(old, plus) {
                        Some((lic, exc)) => {
                            let new = match exc {
                                Some(e) => format!("{lic} WITH {e}"),
                                None => lic.to_string(),
                            };
                            quirks.push(Quirk {
                                column,
                                message: format!(
                                    "`{spelled}` is a deprecated SPDX id; write `{new}`"
                                ),
                            });
                            if let Some(e) = exc {
                                if exception.is_some() {
                                    return Err(err(
                                        "this licence id already includes an exception".into(),
                                    ));
                                }
                                return Ok(Requirement {
                                    license: License::Spdx {
                                        id: lic,
                                        or_later: false,
                                    },
                                    exception: Some(e),
                                });
                            }
                            License::Spdx {
                                id: lic,
                                or_later: false,
                            }
                        }
                        None => {
                            quirks.push(Quirk {
                                column,
                                message: format!(
                                    "`{spelled}` is a deprecated SPDX id with no direct replacement"
                                ),
                            });
                            License::Spdx {
                                id: id.name,
                                or_later: *or_later,
                            }
                        }
                    }
                }
                None => License::Spdx {
                    id: id.name,
                    or_later: *or_later,
                },
            }
        }
    };
    Ok(Requirement { license, exception })
}

/// The crate's error in gantry's words, at the column of what the user wrote.
fn explain(original: &str, text: &str, e: &spdx::ParseError) -> ParseError {
    use spdx::error::Reason;
    use spdx::lexer::Token;
    let at = |byte: usize, message: String| {
        let len = original
            .get(byte..)
            .and_then(|rest| {
                let n = rest.chars().take_while(|c| is_id_char(*c)).count();
                (n > 0).then_some(n)
            })
            .unwrap_or(1);
        ParseError {
            column: column_of(original, byte),
            len,
            message,
        }
    };
    // The tokens before the error, by the crate's own lexer (unknown words allowed,
    // so the lexer goes as far as the parser did).
    let lenient = spdx::ParseMode {
        allow_unknown: true,
        ..MODE
    };
    let tokens: Vec<(Token<'_>, std::ops::Range<usize>)> =
        spdx::lexer::Lexer::new_mode(text, lenient)
            .map_while(Result::ok)
            .map(|t| (t.token, t.span))
            .collect();
    let here = tokens.iter().position(|(_, s)| s.start >= e.span.start);
    let before = match here {
        Some(0) => None,
        Some(i) => tokens.get(i - 1).map(|t| &t.0),
        None => tokens.last().map(|t| &t.0),
    };
    let current = here.and_then(|i| tokens.get(i)).map(|t| &t.0);
    let word = text
        .get(e.span.clone())
        .filter(|w| !w.is_empty())
        .unwrap_or_default();
    let after_with = matches!(before, Some(Token::With));
    let after_term = matches!(
        before,
        Some(
            Token::Spdx(_)
                | Token::LicenseRef { .. }
                | Token::Plus
                | Token::CloseParen
                | Token::Exception(_)
                | Token::AdditionRef { .. }
                | Token::Unknown(_)
        )
    );
    match &e.reason {
        Reason::InvalidCharacters => {
            let c = original[e.span.start.min(original.len())..]
                .chars()
                .next()
                .unwrap_or(' ');
            ParseError {
                column: column_of(original, e.span.start),
                len: 1,
                message: format!(
                    "unexpected character `{c}`; SPDX ids use letters, digits, `-` and `.`, joined by AND, OR, WITH and parentheses"
                ),
            }
        }
        Reason::SeparatedPlus => {
            let prev = tokens
                .iter()
                .rev()
                .find(|(_, s)| s.end <= e.span.start)
                .and_then(|(_, s)| text.get(s.clone()))
                .unwrap_or("MIT");
            ParseError {
                column: column_of(original, e.span.end),
                len: 1,
                message: format!("no space allowed before `+`: write `{prev}+`"),
            }
        }
        Reason::UnclosedParens => ParseError {
            column: column_of(original, e.span.start),
            len: 1,
            message: "`(` is never closed".into(),
        },
        Reason::UnopenedParens => ParseError {
            column: column_of(original, e.span.start),
            len: 1,
            message: "unmatched `)`".into(),
        },
        Reason::Empty => ParseError {
            column: 1,
            len: 1,
            message: "empty licence expression".into(),
        },
        Reason::GnuPlusWithSuffix => at(
            e.span.start,
            "`+` after an `-or-later` id says the same thing twice; drop the `+`".into(),
        ),
        Reason::UnknownTerm | Reason::UnknownLicense | Reason::UnknownException => {
            if after_term && !after_with {
                at(
                    e.span.start,
                    format!("expected AND, OR or WITH before `{word}`"),
                )
            } else if after_with {
                let hint = ids::nearest(word, ids::exceptions())
                    .map(|n| format!("; did you mean `{n}`?"))
                    .unwrap_or_default();
                at(
                    e.span.start,
                    format!("unknown licence exception `{word}`{hint}"),
                )
            } else {
                at(e.span.start, unknown_word(word))
            }
        }
        _ if e.span.start >= text.len() => {
            // Ran out of input after an operator.
            let what = if after_with {
                "an exception id after WITH"
            } else {
                "a licence id or `(`"
            };
            ParseError {
                column: column_of(original, original.len()),
                len: 1,
                message: format!("unexpected end of expression: expected {what}"),
            }
        }
        _ => {
            let message = match (current, before) {
                (Some(Token::With), Some(Token::CloseParen)) => {
                    "WITH must follow a single licence, not a parenthesised expression".into()
                }
                (Some(Token::Spdx(id)), Some(Token::With)) => format!(
                    "`{}` is a licence, not an exception; combine licences with AND or OR",
                    id.name
                ),
                (Some(Token::Exception(x)), _) if after_term => {
                    format!("expected AND, OR or WITH before `{}`", x.name)
                }
                (Some(Token::Exception(x)), _) => format!(
                    "`{0}` is a licence exception; write it after WITH (`Apache-2.0 WITH {0}`)",
                    x.name
                ),
                (Some(Token::With), Some(Token::Exception(_))) => {
                    "this licence id already includes an exception".into()
                }
                (Some(Token::Plus), Some(Token::LicenseRef { .. })) => {
                    "`+` is not allowed after a LicenseRef".into()
                }
                (Some(Token::Plus), _) => "`+` must directly follow a licence id".into(),
                (Some(Token::CloseParen), _) => "expected a licence id, found `)`".into(),
                (Some(Token::And | Token::Or | Token::With), _) if !after_term => {
                    "expected a licence id before this operator".into()
                }
                (Some(t), _) if after_term => {
                    format!("expected AND, OR or WITH before `{}`", token_text(t, word))
                }
                _ => format!("unexpected `{word}`"),
            };
            at(e.span.start, message)
        }
    }
}

fn token_text<'a>(t: &spdx::lexer::Token<'a>, word: &'a str) -> String {
    match t {
        spdx::lexer::Token::Spdx(id) => id.name.to_string(),
        spdx::lexer::Token::LicenseRef { lic_ref, .. } => format!("LicenseRef-{lic_ref}"),
        _ => word.to_string(),
    }
}

/// Why a word in licence position is not a licence.
fn unknown_word(word: &str) -> String {
    if let Some((doc, _)) = word.split_once(':') {
        return if strip_prefix_ci(doc, "DocumentRef-").is_some() {
            "expected `LicenseRef-…` after `DocumentRef-…:`".into()
        } else {
            format!("`:` only appears in `DocumentRef-…:LicenseRef-…`, found `{word}`")
        };
    }
    let hint = ids::nearest(word, ids::current_licenses())
        .map(|n| format!("; did you mean `{n}`?"))
        .unwrap_or_else(|| "; name a private licence `LicenseRef-…`".to_string());
    format!("unknown SPDX licence id `{word}`{hint}")
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
