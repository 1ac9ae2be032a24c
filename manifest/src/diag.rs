//! User-facing diagnostics: `error:` + location + source snippet + `hint:`.
//!
//! The output is modelled on rustc and uv and reads well without colour:
//!
//! ```text
//! error: unknown key `plugn` in stage `lint`
//!  --> pipeline.toml:4:1
//!   |
//! 4 | plugn = "builtin:secret-scan"
//!   | ^^^^^
//!   = hint: did you mean `plugin`? valid keys: plugin, with, needs, …
//! ```
//!
//! Lines and columns are 1-based; columns count characters, not bytes. Tabs in the
//! snippet are shown as four spaces (and the carets follow), so the underline
//! stays aligned in any terminal. Only the first line of a multi-line span is shown.

use std::fmt;
use std::ops::Range;
use std::path::{Path, PathBuf};

/// A byte range in a source file (`start..end`, UTF-8 offsets as produced by the TOML parser).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Span {
    pub start: usize,
    pub end: usize,
}

impl Span {
    pub const fn new(start: usize, end: usize) -> Self {
        Span { start, end }
    }

    pub fn range(self) -> Range<usize> {
        self.start..self.end
    }
}

impl From<Range<usize>> for Span {
    fn from(r: Range<usize>) -> Self {
        Span {
            start: r.start,
            end: r.end,
        }
    }
}

/// One error, optionally located in a file. [`Diagnostic::render`] (also its `Display`)
/// gives the text shown to users.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Diagnostic {
    pub message: String,
    /// Path as given by the caller (not canonicalized), empty for [`Diagnostic::plain`].
    pub file: PathBuf,
    /// 1-based; 0 when the diagnostic has no location.
    pub line: usize,
    /// 1-based, in characters; 0 when the diagnostic has no location.
    pub column: usize,
    pub hint: Option<String>,
    /// Boxed so `Result<_, Diagnostic>` stays small.
    extra: Box<Extra>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
struct Extra {
    notes: Vec<String>,
    span: Option<Span>,
    snippet: Option<Snippet>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
struct Snippet {
    /// The source line, tabs expanded, trailing whitespace removed.
    text: String,
    /// Display column (0-based) where the carets start.
    caret_start: usize,
    caret_len: usize,
}

const TAB: &str = "    ";
/// What [`Diagnostic::at_masked`] shows instead of a masked quoted string, and
/// instead of anything else (a bare value, or part of a string).
const MASK_QUOTED: &str = "\"***\"";
const MASK: &str = "***";

/// Line (1-based), column (1-based, chars) of byte offset `pos` in `source`.
pub fn line_col(source: &str, pos: usize) -> (usize, usize) {
    let pos = clamp_to_char_boundary(source, pos);
    let before = &source[..pos];
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    (line, source[line_start..pos].chars().count() + 1)
}

fn clamp_to_char_boundary(source: &str, pos: usize) -> usize {
    let mut pos = pos.min(source.len());
    while !source.is_char_boundary(pos) {
        pos -= 1;
    }
    pos
}

impl Diagnostic {
    /// A diagnostic with no location, for errors outside any file
    /// (bad command-line arguments, an unreadable file, …).
    pub fn plain(message: impl Into<String>) -> Self {
        Diagnostic {
            message: message.into(),
            file: PathBuf::new(),
            line: 0,
            column: 0,
            hint: None,
            extra: Box::default(),
        }
    }

    /// A diagnostic pointing at `span` in `source`, the text of `file`.
    /// Usable for any file gantry reads (the lockfile, a plugin's config file, …).
    pub fn at(file: &Path, source: &str, span: Span, message: impl Into<String>) -> Self {
        Self::at_masked(file, source, span, message, &[])
    }

    /// Like [`Diagnostic::at`], but the parts of the snippet line covered by `masks`
    /// (byte spans of `source`) are hidden: for errors next to values that may be
    /// secrets. A mask that starts with a quote is shown as `"***"`, any other
    /// (a bare value, part of a string) as `***`. A mask that runs past the end of the line hides the rest of
    /// the line; carets that fall inside a mask underline the `"***"`. Line and
    /// column still refer to the real source.
    pub fn at_masked(
        file: &Path,
        source: &str,
        span: Span,
        message: impl Into<String>,
        masks: &[Span],
    ) -> Self {
        let start = clamp_to_char_boundary(source, span.start);
        let end = clamp_to_char_boundary(source, span.end.max(start));
        let (line, column) = line_col(source, start);
        let line_start = source[..start].rfind('\n').map_or(0, |i| i + 1);
        let line_end = source[start..]
            .find('\n')
            .map_or(source.len(), |i| start + i);
        let raw_line = source[line_start..line_end].trim_end_matches('\r');
        let raw_end = line_start + raw_line.len();
        // Masks clipped to the line, in order, merged.
        let mut clipped: Vec<(usize, usize)> = masks
            .iter()
            .map(|m| (m.start.max(line_start), m.end.min(raw_end)))
            .filter(|(s, e)| s < e)
            .collect();
        clipped.sort_unstable();
        let mut merged: Vec<(usize, usize)> = Vec::new();
        for (s, e) in clipped {
            match merged.last_mut() {
                Some(last) if s <= last.1 => last.1 = last.1.max(e),
                _ => merged.push((s, e)),
            }
        }
        // Walk the line once, building the shown text and noting the display
        // columns where the underlined span starts and ends.
        let mut text = String::new();
        let mut width = 0;
        let (mut caret_start, mut caret_end) = (None, None);
        let mut pos = line_start;
        let mut masks = merged.into_iter().peekable();
        loop {
            if caret_start.is_none() && pos >= start {
                caret_start = Some(width);
            }
            if caret_end.is_none() && pos >= end.min(raw_end) {
                caret_end = Some(width);
            }
            if pos >= raw_end {
                break;
            }
            if let Some(&(ms, me)) = masks.peek()
                && ms == pos
            {
                masks.next();
                if caret_start.is_none() && start < me {
                    caret_start = Some(width);
                }
                let shown = if source[ms..].starts_with(['"', '\'']) {
                    MASK_QUOTED
                } else {
                    MASK
                };
                text.push_str(shown);
                width += shown.len();
                if caret_end.is_none() && end.min(raw_end) <= me {
                    caret_end = Some(width);
                }
                pos = me;
                continue;
            }
            let c = source[pos..].chars().next().unwrap_or(' ');
            if c == '\t' {
                text.push_str(TAB);
                width += TAB.len();
            } else {
                text.push(c);
                width += 1;
            }
            pos += c.len_utf8();
        }
        let caret_start = caret_start.unwrap_or(width);
        let caret_len = caret_end
            .unwrap_or(width)
            .saturating_sub(caret_start)
            .max(1);
        Diagnostic {
            message: message.into(),
            file: file.to_path_buf(),
            line,
            column,
            hint: None,
            extra: Box::new(Extra {
                notes: Vec::new(),
                span: Some(Span::new(start, end)),
                snippet: Some(Snippet {
                    text: text.trim_end().to_string(),
                    caret_start,
                    caret_len,
                }),
            }),
        }
    }

    pub fn with_hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }

    /// Adds a `= note:` line (shown before the hint). Notes give context; the hint says what to do.
    pub fn with_note(mut self, note: impl Into<String>) -> Self {
        self.extra.notes.push(note.into());
        self
    }

    pub fn notes(&self) -> &[String] {
        &self.extra.notes
    }

    /// The byte span this diagnostic points at, if it has a location.
    pub fn span(&self) -> Option<Span> {
        self.extra.span
    }

    /// The text shown to users (no trailing newline, no colour).
    pub fn render(&self) -> String {
        let mut out = format!("error: {}", self.message);
        let gutter = if self.extra.snippet.is_some() {
            self.line.to_string().len()
        } else {
            1
        };
        let pad = " ".repeat(gutter);
        if let Some(snippet) = &self.extra.snippet {
            out.push_str(&format!(
                "\n{pad}--> {}:{}:{}\n{pad} |\n{} |",
                self.file.display(),
                self.line,
                self.column,
                self.line
            ));
            if !snippet.text.is_empty() {
                out.push(' ');
                out.push_str(&snippet.text);
            }
            out.push_str(&format!(
                "\n{pad} | {}{}",
                " ".repeat(snippet.caret_start),
                "^".repeat(snippet.caret_len)
            ));
        }
        let mut extra = |label: &str, text: &str| {
            let indent = " ".repeat(gutter + 1 + "= ".len() + label.len() + 2);
            let mut lines = text.lines();
            out.push_str(&format!(
                "\n{pad} = {label}: {}",
                lines.next().unwrap_or("")
            ));
            for l in lines {
                out.push('\n');
                if !l.is_empty() {
                    out.push_str(&indent);
                    out.push_str(l);
                }
            }
        };
        for note in &self.extra.notes {
            extra("note", note);
        }
        if let Some(hint) = &self.hint {
            extra("hint", hint);
        }
        out
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.render())
    }
}

impl std::error::Error for Diagnostic {}

/// Several diagnostics; `Display` renders them all, separated by a blank line.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Diagnostics(pub Vec<Diagnostic>);

impl Diagnostics {
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn iter(&self) -> std::slice::Iter<'_, Diagnostic> {
        self.0.iter()
    }
}

impl fmt::Display for Diagnostics {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, d) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str("\n\n")?;
            }
            f.write_str(&d.render())?;
        }
        Ok(())
    }
}

impl std::error::Error for Diagnostics {}

impl From<Diagnostic> for Diagnostics {
    fn from(d: Diagnostic) -> Self {
        Diagnostics(vec![d])
    }
}

impl IntoIterator for Diagnostics {
    type Item = Diagnostic;
    type IntoIter = std::vec::IntoIter<Diagnostic>;
    fn into_iter(self) -> Self::IntoIter {
        self.0.into_iter()
    }
}

impl<'a> IntoIterator for &'a Diagnostics {
    type Item = &'a Diagnostic;
    type IntoIter = std::slice::Iter<'a, Diagnostic>;
    fn into_iter(self) -> Self::IntoIter {
        self.0.iter()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_like_rustc() {
        let src = "[stage.lint]\nplugn = \"x\"\n";
        let d = Diagnostic::at(
            Path::new("p.toml"),
            src,
            Span::new(13, 18),
            "unknown key `plugn`",
        )
        .with_hint("did you mean `plugin`?");
        assert_eq!(
            d.render(),
            "error: unknown key `plugn`\n --> p.toml:2:1\n  |\n2 | plugn = \"x\"\n  | ^^^^^\n  = hint: did you mean `plugin`?"
        );
    }

    #[test]
    fn columns_count_chars_and_tabs_align() {
        let src = "a = \"é\"\tb = 1\n";
        let pos = src.find('b').unwrap_or(0);
        let d = Diagnostic::at(Path::new("p.toml"), src, Span::new(pos, pos + 1), "m");
        assert_eq!((d.line, d.column), (1, 9));
        assert!(
            d.render()
                .ends_with("1 | a = \"é\"    b = 1\n  |            ^"),
            "{}",
            d.render()
        );
    }

    #[test]
    fn plain_and_multiline_hint() {
        let d = Diagnostic::plain("no such stage `x`")
            .with_note("n")
            .with_hint("one\ntwo");
        assert_eq!(
            d.render(),
            "error: no such stage `x`\n  = note: n\n  = hint: one\n          two"
        );
    }

    #[test]
    fn empty_source_and_eof() {
        let d = Diagnostic::at(Path::new("p.toml"), "", Span::new(0, 0), "empty");
        assert_eq!(d.render(), "error: empty\n --> p.toml:1:1\n  |\n1 |\n  | ^");
        let d = Diagnostic::at(Path::new("p.toml"), "ab", Span::new(99, 120), "eof");
        assert_eq!((d.line, d.column), (1, 3));
    }

    #[test]
    fn masked_values_are_not_shown() {
        let src = "[secrets]\nTOKEN = \"hunter2\"  # real\n";
        let key = src.find("TOKEN").unwrap_or(0);
        let value = src.find('"').unwrap_or(0);
        let mask = Span::new(value, value + "\"hunter2\"".len());
        let d = Diagnostic::at_masked(
            Path::new("p.toml"),
            src,
            Span::new(key, key + 5),
            "literal",
            &[mask],
        );
        assert_eq!(
            d.render(),
            "error: literal\n --> p.toml:2:1\n  |\n2 | TOKEN = \"***\"  # real\n  | ^^^^^"
        );
        // Carets inside a mask underline the mask; a mask past the line end hides the rest.
        let d = Diagnostic::at_masked(
            Path::new("p.toml"),
            src,
            Span::new(value + 2, value + 4),
            "m",
            &[Span::new(value, src.len())],
        );
        assert_eq!((d.line, d.column), (2, 11));
        assert!(
            d.render()
                .ends_with("2 | TOKEN = \"***\"\n  |         ^^^^^"),
            "{}",
            d.render()
        );
        // Masks on other lines change nothing.
        let plain = Diagnostic::at(Path::new("p.toml"), src, Span::new(0, 9), "m");
        let masked = Diagnostic::at_masked(Path::new("p.toml"), src, Span::new(0, 9), "m", &[mask]);
        assert_eq!(plain, masked);
    }

    #[test]
    fn wide_gutter() {
        let src = "\n".repeat(11) + "x = 1";
        let d = Diagnostic::at(Path::new("p.toml"), &src, Span::new(11, 12), "m");
        assert_eq!(
            d.render(),
            "error: m\n  --> p.toml:12:1\n   |\n12 | x = 1\n   | ^"
        );
    }
}
