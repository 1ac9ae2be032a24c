//! How untrusted text is shown: one definition, used by every console writer
//! (`host/src/cli/*`) and by the stage logs.
//!
//! A plugin controls its name, version, description, rules, summaries, error reasons,
//! finding texts, log records and output. Printed raw, a control sequence in any of
//! them rewrites what a reviewer sees: `\r\e[2K` erases the line it is on, `\n` starts
//! a line that looks like gantry's own (`ok 8 succeeded…`), `\e[8m` hides what
//! follows, a bidi override (U+202E) shows text in another order. [`escape`] makes
//! every such character visible instead: C0 controls (`\n`, `\r`, `\t`, ESC, …), DEL,
//! C1 controls, the bidi embeddings, overrides, isolates and marks (U+202A–U+202E,
//! U+2066–U+2069, U+200E, U+200F, U+061C) and the Unicode line and paragraph
//! separators (U+2028, U+2029). Text escaped this way stays on one line.
//!
//! Other `shown` helpers that shorten plugin text inside broker messages remain in
//! `caps/process/`, `caps/http/`, `caps/containers/` and
//! `manifest/src/grants/process.rs`: those messages go to the plugin and the records,
//! and reach a terminal only through the writers here, which escape them again.
//!
//! Tests: unit tests below; `tests/e2e/attack_env_secrets.rs`
//! (`console_output_cannot_be_spoofed`).

use std::borrow::Cow;
use std::fmt::Write as _;

/// Characters that change how a terminal shows what follows (see the module docs).
pub fn is_unsafe(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{202A}'..='\u{202E}'
                | '\u{2066}'..='\u{2069}'
                | '\u{200E}'
                | '\u{200F}'
                | '\u{061C}'
                | '\u{2028}'
                | '\u{2029}'
        )
}

/// `s` on one line, with every unsafe character written as an escape: `\n`, `\r`,
/// `\t`, else `\u{…}` (e.g. ESC is `\u{1b}`).
pub fn escape(s: &str) -> Cow<'_, str> {
    if !s.chars().any(is_unsafe) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 16);
    for c in s.chars() {
        match c {
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if is_unsafe(c) => {
                let _ = write!(out, "\\u{{{:x}}}", c as u32);
            }
            c => out.push(c),
        }
    }
    Cow::Owned(out)
}

/// JSON text for a terminal (`--json` output): JSON itself escapes only C0 controls,
/// so DEL, C1 controls, bidi characters and line separators left in its strings are
/// written as `\uXXXX` escapes, which read back as the same characters.
pub fn json(text: &str) -> Cow<'_, str> {
    let unsafe_in_json = |c: char| is_unsafe(c) && !matches!(c, '\n' | '\r' | '\t');
    if !text.chars().any(unsafe_in_json) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 16);
    for c in text.chars() {
        if unsafe_in_json(c) {
            let _ = write!(out, "\\u{:04x}", c as u32);
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

/// At most `max` characters of `s`, escaped, with `…` when it was cut: plugin text
/// quoted inside a message.
pub fn shown(s: &str, max: usize) -> String {
    let cut = s.char_indices().nth(max).map_or(s.len(), |(i, _)| i);
    let mut out = escape(&s[..cut]).into_owned();
    if cut < s.len() {
        out.push('…');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn terminal_controls_are_made_visible() {
        let forged = "done\r\x1b[2K\x1b[32m✓ all\nok 8 succeeded\x1b[8m\u{9b}2J";
        assert_eq!(
            escape(forged),
            "done\\r\\u{1b}[2K\\u{1b}[32m✓ all\\nok 8 succeeded\\u{1b}[8m\\u{9b}2J"
        );
        assert_eq!(escape("a\tb\x7fc"), "a\\tb\\u{7f}c");
        assert_eq!(
            escape("abc\u{202E}fed\u{2066}x\u{2069}\u{2028}\u{200F}"),
            "abc\\u{202e}fed\\u{2066}x\\u{2069}\\u{2028}\\u{200f}"
        );
        // Printable text, non-ASCII included, is kept as it is.
        assert!(matches!(escape("✓ café — 日本 🔑"), Cow::Borrowed(_)));
    }

    #[test]
    fn json_keeps_its_meaning_and_loses_its_controls() {
        let v = serde_json::json!({"name": "a\u{1b}[8m\u{9b}\u{7f}\u{202e}b\u{2028}", "n": 1});
        let text = serde_json::to_string_pretty(&v).expect("json");
        let safe = json(&text);
        assert!(!safe.chars().any(|c| is_unsafe(c) && c != '\n'), "{safe}");
        let back: serde_json::Value = serde_json::from_str(&safe).expect("still JSON");
        assert_eq!(back, v);
    }

    #[test]
    fn shown_cuts_on_characters_and_escapes() {
        assert_eq!(shown("héllo", 10), "héllo");
        assert_eq!(shown("héllo", 2), "hé…");
        assert_eq!(shown("a\nb", 2), "a\\n…");
    }
}
