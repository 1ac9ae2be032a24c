//! Text quoted in messages and written into TOML: one definition each, used by the
//! manifest's diagnostics, the host's brokers and `gantry lock`.

/// Longest piece of plugin- or user-controlled text quoted in a refusal.
pub const SHOWN: usize = 80;

/// At most [`SHOWN`] characters of `s`, escaped as a Rust string body (quotes,
/// backslashes, controls, non-printables), with `…` when it was cut: an argument
/// quoted between backticks in a denial.
pub fn shown(s: &str) -> String {
    let mut out = cut(s, SHOWN).escape_debug().to_string();
    if s.chars().count() > SHOWN {
        out.push('…');
    }
    out
}

/// Longest piece of plugin-controlled text carried, unescaped, in a broker's message.
pub const BRIEF: usize = 200;

/// At most [`BRIEF`] characters of `s`, unescaped, `…` when cut (the console and the
/// records escape at their own boundary).
pub fn brief(s: &str) -> String {
    shortened(s, BRIEF)
}

/// The first `max` characters of `s`, unescaped, with `…` when it was cut (for text the
/// console escapes anyway at its boundary, `run::display`).
pub fn shortened(s: &str, max: usize) -> String {
    let mut out = cut(s, max).to_string();
    if out.len() < s.len() {
        out.push('…');
    }
    out
}

fn cut(s: &str, max: usize) -> &str {
    &s[..s.char_indices().nth(max).map_or(s.len(), |(i, _)| i)]
}

/// A TOML basic string (`"…"`): what the user pastes into pipeline.toml and what
/// `gantry lock` writes. Every control character is escaped (TOML allows only tab
/// raw; C1 controls are escaped too, so no terminal reads them).
pub fn toml_string(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c if c.is_control() => out.push_str(&format!("\\u{:04X}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shown_cuts_on_characters_and_escapes() {
        assert_eq!(shown("a\"b\n"), "a\\\"b\\n");
        let long = "é".repeat(SHOWN + 5);
        assert_eq!(shown(&long), format!("{}…", "é".repeat(SHOWN)));
        assert_eq!(shortened("héllo", 2), "hé…");
        assert_eq!(shortened("hé", 2), "hé");
    }

    #[test]
    fn toml_strings_parse_back_to_the_same_text() {
        for s in [
            "plain",
            "q\"uote",
            "back\\slash",
            "nl\nl",
            "\u{1b}[2J",
            "\u{9b}",
            "\u{7f}",
            "日本",
        ] {
            let doc = format!("k = {}", toml_string(s));
            let t: toml::Table = toml::from_str(&doc).unwrap_or_else(|e| panic!("{doc}: {e}"));
            assert_eq!(t["k"].as_str(), Some(s), "{doc}");
        }
    }
}
