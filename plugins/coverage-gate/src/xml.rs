//! XML for the Cobertura reader: `quick-xml`'s streaming pull parser, plus the
//! well-formedness checks it leaves to its caller, with errors as `line:col`.
//!
//! `quick-xml` reads tags, attributes (quoted, no duplicates), references and end tags
//! (each must close the element it names); it streams, so memory stays flat on the
//! 40 MB reports of the benchmark, and it never expands a `<!DOCTYPE>`'s internal
//! subset (no entity bombs). This module adds what a document as a whole must be: one
//! root element, no text outside it, every element closed at the end of the file,
//! only the five predefined entities and character references. The XML declaration,
//! processing instructions, comments and the DOCTYPE are accepted and skipped; CDATA
//! sections are text. A UTF-8 byte order mark is allowed. Namespaces are not
//! interpreted: `a:b` is just a name.
//!
//! Positions: byte offsets while reading, turned into `line:col` (1-based, columns
//! in characters) only for an error ([`Reader::error_at`]).
//!
//! Tests: `mod tests` at the bottom of this file; Cobertura ones in `cobertura.rs`.

use std::borrow::Cow;

use quick_xml::events::{BytesStart, Event as QEvent};

/// A well-formedness error at a position in the input.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{line}:{column}: {message}")]
pub struct XmlError {
    pub line: usize,
    pub column: usize,
    pub message: String,
}

/// One piece of the document.
#[derive(Debug)]
pub enum Event<'a> {
    /// `<name attr="v">`, or `<name/>` (then `empty` is true and no `End` follows).
    /// Read the name and attributes with [`name`] and [`Reader::attrs`].
    Start {
        tag: BytesStart<'a>,
        empty: bool,
        /// Byte offset of `<`, for [`Reader::error_at`].
        offset: usize,
    },
    End,
    /// Character data between tags (references resolved), including whitespace.
    Text(Cow<'a, str>),
    Eof,
}

/// The element name of a start tag.
pub fn name<'t>(tag: &'t BytesStart<'_>) -> &'t str {
    tag.name().0
}

/// Pull reader over a whole document held in memory.
pub struct Reader<'a> {
    src: &'a str,
    /// Bytes skipped before `inner`'s input (a byte order mark).
    base: usize,
    inner: quick_xml::Reader<&'a [u8]>,
    open: Vec<String>,
    seen_root: bool,
}

impl<'a> Reader<'a> {
    pub fn new(src: &'a str) -> Reader<'a> {
        let body = src.strip_prefix('\u{feff}').unwrap_or(src);
        let mut inner = quick_xml::Reader::from_str(body);
        let config = inner.config_mut();
        config.check_end_names = true;
        config.allow_unmatched_ends = false;
        config.expand_empty_elements = false;
        Reader {
            src,
            base: src.len() - body.len(),
            inner,
            open: Vec::new(),
            seen_root: false,
        }
    }

    /// An error at byte `offset` of the document.
    pub fn error_at(&self, offset: usize, message: impl Into<String>) -> XmlError {
        let (line, column) = line_col(self.src, offset);
        XmlError {
            line,
            column,
            message: message.into(),
        }
    }

    /// Depth of open elements (the root's children are at depth 1 after its `Start`).
    pub fn depth(&self) -> usize {
        self.open.len()
    }

    /// The attributes of `tag` (values unescaped), or the error at the tag.
    pub fn attrs<'t>(
        &self,
        tag: &'t BytesStart<'_>,
        offset: usize,
    ) -> Result<Vec<(&'t str, Cow<'t, str>)>, XmlError> {
        let el = name(tag);
        let mut out = Vec::new();
        for a in tag.attributes() {
            let a = a.map_err(|e| {
                use quick_xml::events::attributes::AttrError;
                let why = match &e {
                    AttrError::Duplicated(..) => "a duplicate attribute".to_string(),
                    AttrError::UnquotedValue(_) => "an attribute value that is not quoted".into(),
                    AttrError::ExpectedEq(_) | AttrError::ExpectedValue(_) => {
                        "an attribute without `=value`".into()
                    }
                    other => other.to_string(),
                };
                self.error_at(offset, format!("<{el}> has {why}: {e}"))
            })?;
            let key = a.key.0;
            // Most values (numbers, paths) have nothing to resolve or normalise: keep
            // the borrowed text and skip a second pass over it.
            let value = if a.value.contains(['&', '\t', '\n', '\r']) {
                a.normalized_value(quick_xml::XmlVersion::Implicit1_0)
                    .map_err(|e| {
                        self.error_at(offset, format!("attribute `{key}` of <{el}>: {e}"))
                    })?
            } else {
                a.value
            };
            out.push((key, value));
        }
        Ok(out)
    }

    pub fn next_event(&mut self) -> Result<Event<'a>, XmlError> {
        loop {
            let at = self.base + self.inner.buffer_position() as usize;
            let ev = self.inner.read_event().map_err(|e| {
                let pos = self.base + self.inner.error_position() as usize;
                self.error_at(pos, describe(&e))
            })?;
            match ev {
                QEvent::Start(tag) | QEvent::Empty(tag)
                    if self.open.is_empty() && self.seen_root =>
                {
                    let _ = tag;
                    return Err(
                        self.error_at(at, "a second root element: an XML document has exactly one")
                    );
                }
                QEvent::Start(tag) => {
                    self.seen_root = true;
                    self.open.push(name(&tag).to_string());
                    return Ok(Event::Start {
                        tag,
                        empty: false,
                        offset: at,
                    });
                }
                QEvent::Empty(tag) => {
                    self.seen_root = true;
                    return Ok(Event::Start {
                        tag,
                        empty: true,
                        offset: at,
                    });
                }
                QEvent::End(_) => {
                    self.open.pop();
                    return Ok(Event::End);
                }
                QEvent::Text(t) => {
                    let text = t.xml10_content();
                    if self.open.is_empty() {
                        if let Some(i) = text.find(|c: char| !c.is_ascii_whitespace()) {
                            let what = if self.seen_root {
                                "after the root element"
                            } else {
                                "before the root element"
                            };
                            return Err(self.error_at(at + i, format!("text {what}")));
                        }
                        continue;
                    }
                    return Ok(Event::Text(text));
                }
                QEvent::CData(c) => {
                    if self.open.is_empty() {
                        return Err(self.error_at(at, "CDATA section outside the root element"));
                    }
                    return Ok(Event::Text(c.into_inner()));
                }
                QEvent::GeneralRef(r) => {
                    let resolved = if r.is_char_ref() {
                        r.resolve_char_ref().ok().flatten()
                    } else {
                        quick_xml::escape::resolve_predefined_entity(&r)
                            .and_then(|s| s.chars().next())
                    };
                    let Some(c) = resolved else {
                        return Err(self.error_at(at, format!("unknown entity `&{};`", &*r)));
                    };
                    if self.open.is_empty() {
                        return Err(self.error_at(at, "text outside the root element"));
                    }
                    return Ok(Event::Text(Cow::Owned(c.to_string())));
                }
                QEvent::DocType(_) if self.seen_root => {
                    return Err(self.error_at(at, "<!DOCTYPE> after the root element"));
                }
                QEvent::Decl(_) | QEvent::PI(_) | QEvent::Comment(_) | QEvent::DocType(_) => {}
                QEvent::Eof => {
                    if let Some(open) = self.open.last() {
                        return Err(self.error_at(
                            self.src.len(),
                            format!("unexpected end of file: element <{open}> is not closed"),
                        ));
                    }
                    if !self.seen_root {
                        return Err(self.error_at(
                            self.src.len(),
                            "no root element: the file is empty or not XML",
                        ));
                    }
                    return Ok(Event::Eof);
                }
            }
        }
    }
}

/// quick-xml's error in the words of a coverage report's reader.
fn describe(e: &quick_xml::Error) -> String {
    use quick_xml::errors::{IllFormedError, SyntaxError};
    match e {
        quick_xml::Error::IllFormed(IllFormedError::MismatchedEndTag { expected, found }) => {
            format!("closing tag </{found}> does not match the open element <{expected}>")
        }
        quick_xml::Error::IllFormed(IllFormedError::UnmatchedEndTag(found)) => {
            format!("closing tag </{found}> without an open element")
        }
        quick_xml::Error::Syntax(
            s @ (SyntaxError::UnclosedTag
            | SyntaxError::UnclosedComment
            | SyntaxError::UnclosedCData
            | SyntaxError::UnclosedDoctype
            | SyntaxError::UnclosedPI
            | SyntaxError::UnclosedXmlDecl
            | SyntaxError::UnclosedSingleQuotedAttributeValue
            | SyntaxError::UnclosedDoubleQuotedAttributeValue),
        ) => format!("unexpected end of file: {s}"),
        other => other.to_string(),
    }
}

/// `(line, column)` of byte `offset` in `src`, 1-based; columns count characters.
pub fn line_col(src: &str, offset: usize) -> (usize, usize) {
    let mut offset = offset.min(src.len());
    while !src.is_char_boundary(offset) {
        offset -= 1;
    }
    let before = &src[..offset];
    let line = before.bytes().filter(|&b| b == b'\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    (line, before[line_start..].chars().count() + 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn events(src: &str) -> Result<Vec<String>, XmlError> {
        let mut r = Reader::new(src);
        let mut out = Vec::new();
        let mut open: Vec<String> = Vec::new();
        loop {
            match r.next_event()? {
                Event::Start { tag, empty, offset } => {
                    let a: Vec<String> = r
                        .attrs(&tag, offset)?
                        .iter()
                        .map(|(k, v)| format!("{k}={v}"))
                        .collect();
                    out.push(format!(
                        "<{} {}{}>",
                        name(&tag),
                        a.join(" "),
                        if empty { "/" } else { "" }
                    ));
                    if !empty {
                        open.push(name(&tag).to_string());
                    }
                }
                Event::End => out.push(format!("</{}>", open.pop().unwrap_or_default())),
                Event::Text(t) if t.trim().is_empty() => {}
                Event::Text(t) => out.push(format!("text:{t}")),
                Event::Eof => return Ok(out),
            }
        }
    }

    #[test]
    fn reads_declaration_doctype_comments_entities_and_cdata() {
        let src = "\u{feff}<?xml version=\"1.0\" ?>\n<!DOCTYPE coverage SYSTEM 'http://x/y.dtd' [ <!ENTITY a \"]>\"> ]>\n\
                   <!-- c --><a x='1 &lt; 2' y=\"&#x41;&#66;\"><b/>t&amp;u<![CDATA[<raw>]]></a>\n<!-- tail -->\n";
        assert_eq!(
            events(src).expect("well-formed"),
            vec![
                "<a x=1 < 2 y=AB>",
                "<b />",
                "text:t",
                "text:&",
                "text:u",
                "text:<raw>",
                "</a>"
            ]
        );
    }

    #[test]
    fn errors_carry_line_and_column() {
        let e = events("<a>\n  <b></c>\n</a>").expect_err("mismatch");
        assert_eq!(e.line, 2, "{e}");
        assert!(
            e.message.contains("</c>") && e.message.contains("<b>"),
            "{e}"
        );

        let e = events("<a>\n<b x=1/></a>").expect_err("unquoted");
        assert_eq!((e.line, e.column), (2, 1));
        assert!(e.message.contains("quoted"), "{e}");

        let e = events("<a>\n<b>").expect_err("eof");
        assert!(e.message.contains("<b> is not closed"), "{e}");

        let e = events("<a>&nbsp;</a>").expect_err("entity");
        assert_eq!((e.line, e.column), (1, 4));
        assert!(e.message.contains("&nbsp;"), "{e}");

        let e = events("<a x='&nbsp;'/>").expect_err("entity in attribute");
        assert!(e.message.contains("nbsp"), "{e}");

        let e = events("<a/><b/>").expect_err("two roots");
        assert!(e.message.contains("second root"), "{e}");

        let e = events("<a x='1' x='2'/>").expect_err("dup");
        assert!(e.message.contains("duplicate attribute"), "{e}");

        let e = events("").expect_err("empty");
        assert!(e.message.contains("no root element"), "{e}");

        let e = events("SF:foo\n").expect_err("not xml");
        assert_eq!((e.line, e.column), (1, 1));

        let e = events("<a>\n<b x='1'").expect_err("truncated tag");
        assert!(e.message.contains("end of file"), "{e}");
    }

    #[test]
    fn columns_count_characters_not_bytes() {
        let e = events("<é>ü<x y='1' y='2'/></é>").expect_err("dup");
        assert_eq!((e.line, e.column), (1, 5));
    }
}
