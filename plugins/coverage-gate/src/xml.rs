//! A small, strict, pull-style XML reader: just enough XML 1.0 for coverage reports.
//!
//! It yields start tags (with decoded attributes), end tags and text, and checks
//! well-formedness as it goes: every tag closed in order, attribute values quoted,
//! no duplicate attributes, known entities only, one root element, nothing but
//! comments and whitespace after it. The XML declaration, processing instructions,
//! comments and a `<!DOCTYPE …>` (including an internal subset, which is skipped,
//! never expanded, so entity bombs cannot happen) are accepted and ignored. CDATA
//! sections are text.
//!
//! What it refuses: anything that is not well-formed (reported with `line:col`,
//! 1-based, columns counted in characters), entity references other than the five
//! predefined ones and character references, and input that is not UTF-8.
//! Namespaces are not interpreted: `a:b` is just a name.
//!
//! Positions are byte offsets while reading and are turned into `line:col` only when
//! an error is reported ([`Reader::position`]), so the fast path does no counting.
//!
//! Tests: `mod tests` at the bottom of this file.

use std::borrow::Cow;

/// A well-formedness error at a position in the input.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{line}:{column}: {message}")]
pub struct XmlError {
    pub line: usize,
    pub column: usize,
    pub message: String,
}

/// One piece of the document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event<'a> {
    /// `<name attr="v">`, or `<name/>` (then `empty` is true and no `End` follows).
    Start {
        name: &'a str,
        attrs: Vec<(&'a str, Cow<'a, str>)>,
        empty: bool,
        /// Byte offset of `<`, for [`Reader::position`].
        offset: usize,
    },
    End {
        name: &'a str,
    },
    /// Character data between tags (entities decoded), including whitespace.
    Text(Cow<'a, str>),
    Eof,
}

/// Pull reader over a whole document held in memory.
pub struct Reader<'a> {
    src: &'a str,
    pos: usize,
    stack: Vec<&'a str>,
    seen_root: bool,
}

impl<'a> Reader<'a> {
    pub fn new(src: &'a str) -> Reader<'a> {
        // A UTF-8 byte order mark is allowed before the declaration.
        let pos = if src.starts_with('\u{feff}') { 3 } else { 0 };
        Reader {
            src,
            pos,
            stack: Vec::new(),
            seen_root: false,
        }
    }

    /// `(line, column)` of a byte offset, both 1-based; columns count characters.
    pub fn position(&self, offset: usize) -> (usize, usize) {
        line_col(self.src, offset)
    }

    /// An error at byte `offset`.
    pub fn error_at(&self, offset: usize, message: impl Into<String>) -> XmlError {
        let (line, column) = self.position(offset);
        XmlError {
            line,
            column,
            message: message.into(),
        }
    }

    /// Depth of open elements (the root's children are at depth 1 after its `Start`).
    pub fn depth(&self) -> usize {
        self.stack.len()
    }

    pub fn next_event(&mut self) -> Result<Event<'a>, XmlError> {
        loop {
            if self.pos >= self.src.len() {
                if let Some(open) = self.stack.last() {
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
            let rest = &self.src[self.pos..];
            if !rest.starts_with('<') {
                let end = rest.find('<').map_or(self.src.len(), |i| self.pos + i);
                let start = self.pos;
                let raw = &self.src[start..end];
                self.pos = end;
                if self.stack.is_empty() {
                    if let Some(i) = raw.find(|c: char| !c.is_ascii_whitespace()) {
                        let what = if self.seen_root {
                            "after the root element"
                        } else {
                            "before the root element"
                        };
                        return Err(self.error_at(start + i, format!("text {what}")));
                    }
                    continue;
                }
                return Ok(Event::Text(self.decode(raw, start)?));
            }
            if let Some(comment) = rest.strip_prefix("<!--") {
                let end = comment.find("-->").ok_or_else(|| {
                    self.error_at(self.pos, "comment `<!--` is never closed by `-->`")
                })?;
                self.pos += 4 + end + 3;
                continue;
            }
            if rest.starts_with("<?") {
                let end = rest.find("?>").ok_or_else(|| {
                    self.error_at(
                        self.pos,
                        "processing instruction `<?` is never closed by `?>`",
                    )
                })?;
                self.pos += end + 2;
                continue;
            }
            if let Some(body) = rest.strip_prefix("<![CDATA[") {
                if self.stack.is_empty() {
                    return Err(self.error_at(self.pos, "CDATA section outside the root element"));
                }
                let end = body.find("]]>").ok_or_else(|| {
                    self.error_at(self.pos, "CDATA section is never closed by `]]>`")
                })?;
                self.pos += 9 + end + 3;
                return Ok(Event::Text(Cow::Borrowed(&body[..end])));
            }
            if rest.starts_with("<!DOCTYPE") {
                if self.seen_root {
                    return Err(self.error_at(self.pos, "<!DOCTYPE> after the root element"));
                }
                self.skip_doctype()?;
                continue;
            }
            if rest.starts_with("</") {
                return self.end_tag();
            }
            return self.start_tag();
        }
    }

    /// Skips `<!DOCTYPE name … [ internal subset ]>`; quoted strings may contain `>`.
    fn skip_doctype(&mut self) -> Result<(), XmlError> {
        let start = self.pos;
        let bytes = self.src.as_bytes();
        let mut i = self.pos + 9;
        let mut bracket = 0usize;
        let mut quote: Option<u8> = None;
        while i < bytes.len() {
            let b = bytes[i];
            match quote {
                Some(q) if b == q => quote = None,
                Some(_) => {}
                None => match b {
                    b'"' | b'\'' => quote = Some(b),
                    b'[' => bracket += 1,
                    b']' => bracket = bracket.saturating_sub(1),
                    b'>' if bracket == 0 => {
                        self.pos = i + 1;
                        return Ok(());
                    }
                    _ => {}
                },
            }
            i += 1;
        }
        Err(self.error_at(start, "<!DOCTYPE is never closed by `>`"))
    }

    fn name_at(&self, at: usize) -> Result<&'a str, XmlError> {
        let rest = &self.src[at..];
        let len = rest
            .find(|c: char| {
                c.is_ascii_whitespace() || matches!(c, '/' | '>' | '=' | '<' | '"' | '\'')
            })
            .unwrap_or(rest.len());
        let name = &rest[..len];
        let valid_start = name
            .chars()
            .next()
            .is_some_and(|c| c.is_alphabetic() || c == '_' || c == ':');
        if !valid_start {
            let found = rest
                .chars()
                .next()
                .map_or("end of file".to_string(), |c| format!("`{c}`"));
            return Err(self.error_at(at, format!("expected a name, found {found}")));
        }
        Ok(name)
    }

    fn skip_ws(&mut self) {
        let rest = &self.src[self.pos..];
        let n = rest.len()
            - rest
                .trim_start_matches(|c: char| c.is_ascii_whitespace())
                .len();
        self.pos += n;
    }

    fn start_tag(&mut self) -> Result<Event<'a>, XmlError> {
        let offset = self.pos;
        if self.stack.is_empty() && self.seen_root {
            return Err(self.error_at(
                offset,
                "a second root element: an XML document has exactly one",
            ));
        }
        let name = self.name_at(offset + 1)?;
        self.pos = offset + 1 + name.len();
        let mut attrs: Vec<(&'a str, Cow<'a, str>)> = Vec::new();
        loop {
            let before_ws = self.pos;
            self.skip_ws();
            let rest = &self.src[self.pos..];
            if rest.starts_with("/>") {
                self.pos += 2;
                self.seen_root = true;
                return Ok(Event::Start {
                    name,
                    attrs,
                    empty: true,
                    offset,
                });
            }
            if rest.starts_with('>') {
                self.pos += 1;
                self.seen_root = true;
                self.stack.push(name);
                return Ok(Event::Start {
                    name,
                    attrs,
                    empty: false,
                    offset,
                });
            }
            if rest.is_empty() {
                return Err(self.error_at(offset, format!("tag <{name}> is never closed by `>`")));
            }
            if self.pos == before_ws {
                return Err(self.error_at(
                    self.pos,
                    format!("expected whitespace, `>` or `/>` in tag <{name}>"),
                ));
            }
            let attr_at = self.pos;
            let key = self.name_at(attr_at)?;
            self.pos += key.len();
            self.skip_ws();
            if self.pos >= self.src.len() {
                return Err(self.error_at(
                    offset,
                    format!("unexpected end of file inside the tag <{name}>"),
                ));
            }
            if !self.src[self.pos..].starts_with('=') {
                return Err(self.error_at(
                    self.pos,
                    format!("attribute `{key}` of <{name}> has no `=value`"),
                ));
            }
            self.pos += 1;
            self.skip_ws();
            let q = self.src[self.pos..].chars().next();
            let q = match q {
                Some(c @ ('"' | '\'')) => c,
                _ => {
                    return Err(self.error_at(
                        self.pos,
                        format!("value of attribute `{key}` of <{name}> must be quoted"),
                    ));
                }
            };
            let vstart = self.pos + 1;
            let vlen = self.src[vstart..].find(q).ok_or_else(|| {
                self.error_at(
                    self.pos,
                    format!("value of attribute `{key}` is never closed by {q}"),
                )
            })?;
            let raw = &self.src[vstart..vstart + vlen];
            if let Some(i) = raw.find('<') {
                return Err(
                    self.error_at(vstart + i, format!("`<` in the value of attribute `{key}`"))
                );
            }
            if attrs.iter().any(|(k, _)| *k == key) {
                return Err(
                    self.error_at(attr_at, format!("duplicate attribute `{key}` in <{name}>"))
                );
            }
            let value = self.decode(raw, vstart)?;
            attrs.push((key, value));
            self.pos = vstart + vlen + 1;
        }
    }

    fn end_tag(&mut self) -> Result<Event<'a>, XmlError> {
        let at = self.pos;
        let name = self.name_at(at + 2)?;
        self.pos = at + 2 + name.len();
        self.skip_ws();
        if self.pos >= self.src.len() {
            return Err(self.error_at(
                at,
                format!("unexpected end of file inside the closing tag </{name}"),
            ));
        }
        if !self.src[self.pos..].starts_with('>') {
            return Err(self.error_at(self.pos, format!("expected `>` to close </{name}")));
        }
        self.pos += 1;
        match self.stack.pop() {
            Some(open) if open == name => Ok(Event::End { name }),
            Some(open) => Err(self.error_at(
                at,
                format!("closing tag </{name}> does not match the open element <{open}>"),
            )),
            None => {
                Err(self.error_at(at, format!("closing tag </{name}> without an open element")))
            }
        }
    }

    /// Decodes entity and character references in `raw` (found at byte `at`).
    fn decode(&self, raw: &'a str, at: usize) -> Result<Cow<'a, str>, XmlError> {
        if !raw.contains('&') {
            return Ok(Cow::Borrowed(raw));
        }
        let mut out = String::with_capacity(raw.len());
        let mut rest = raw;
        while let Some(i) = rest.find('&') {
            out.push_str(&rest[..i]);
            let amp = at + (raw.len() - rest.len()) + i;
            let after = &rest[i + 1..];
            let semi = after
                .find(';')
                .filter(|&n| n <= 10)
                .ok_or_else(|| self.error_at(amp, "`&` must start a reference like `&amp;`"))?;
            let ent = &after[..semi];
            let c = match ent {
                "lt" => '<',
                "gt" => '>',
                "amp" => '&',
                "quot" => '"',
                "apos" => '\'',
                _ => {
                    let code = if let Some(hex) = ent.strip_prefix("#x") {
                        u32::from_str_radix(hex, 16).ok()
                    } else if let Some(dec) = ent.strip_prefix('#') {
                        dec.parse::<u32>().ok()
                    } else {
                        return Err(self.error_at(amp, format!("unknown entity `&{ent};`")));
                    };
                    code.and_then(char::from_u32).ok_or_else(|| {
                        self.error_at(amp, format!("invalid character reference `&{ent};`"))
                    })?
                }
            };
            out.push(c);
            rest = &after[semi + 1..];
        }
        out.push_str(rest);
        Ok(Cow::Owned(out))
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
        loop {
            match r.next_event()? {
                Event::Start {
                    name, attrs, empty, ..
                } => {
                    let a: Vec<String> = attrs.iter().map(|(k, v)| format!("{k}={v}")).collect();
                    out.push(format!(
                        "<{name} {}{}>",
                        a.join(" "),
                        if empty { "/" } else { "" }
                    ));
                }
                Event::End { name } => out.push(format!("</{name}>")),
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
                "text:t&u",
                "text:<raw>",
                "</a>"
            ]
        );
    }

    #[test]
    fn errors_carry_line_and_column() {
        let e = events("<a>\n  <b></c>\n</a>").expect_err("mismatch");
        assert_eq!((e.line, e.column), (2, 6));
        assert!(
            e.message.contains("</c>") && e.message.contains("<b>"),
            "{e}"
        );

        let e = events("<a>\n<b x=1/></a>").expect_err("unquoted");
        assert_eq!((e.line, e.column), (2, 6));
        assert!(e.message.contains("quoted"), "{e}");

        let e = events("<a>\n<b>").expect_err("eof");
        assert!(e.message.contains("<b> is not closed"), "{e}");

        let e = events("<a>&nbsp;</a>").expect_err("entity");
        assert_eq!((e.line, e.column), (1, 4));
        assert!(e.message.contains("&nbsp;"), "{e}");

        let e = events("<a/><b/>").expect_err("two roots");
        assert!(e.message.contains("second root"), "{e}");

        let e = events("<a x='1' x='2'/>").expect_err("dup");
        assert!(e.message.contains("duplicate attribute `x`"), "{e}");

        let e = events("").expect_err("empty");
        assert!(e.message.contains("no root element"), "{e}");

        let e = events("SF:foo\n").expect_err("not xml");
        assert_eq!((e.line, e.column), (1, 1));
    }

    #[test]
    fn columns_count_characters_not_bytes() {
        let e = events("<é>ü</x>").expect_err("mismatch");
        assert_eq!((e.line, e.column), (1, 5));
    }
}
