//! The promise of `gantry_manifest::secrets`: a value written into `[secrets]`
//! (a pasted token) is refused, and no diagnostic ever shows it — not in the
//! message, the snippet, a note or a hint — however it is written: quoted or not,
//! multi-line, unterminated, in an array or inline table, under `[secrets]`,
//! `[secrets.NAME]`, `secrets.NAME = …` or `secrets = { … }`, anywhere in the file.
//!
//! The input is structured (see [`Input`]) so that the token is always a *value* in
//! the secrets table (the promise does not cover a token pasted as a key or into
//! another table, nor `env = "…"`/`file = "…"`, which say where the value comes
//! from). The token is `ghp_`, fuzzer-chosen letters and digits, then `7Zq`: the rest
//! of the generated file never contains `ghp_`, and no message contains the tail, so
//! finding either in the output is always a leak.
#![no_main]

use std::path::Path;

use arbitrary::Arbitrary;
use gantry_manifest::Manifest;
use libfuzzer_sys::fuzz_target;

#[derive(Arbitrary, Debug)]
struct Input {
    /// Characters of the token after `ghp_` (mapped to `[A-Za-z0-9]`, padded to 4).
    token: Vec<u8>,
    container: Container,
    value: Value,
    /// The name the value is written under.
    name: Name,
    /// Where the secrets part goes: before `[pipeline]`, between it and the stage, at the end.
    position: u8,
    /// A valid secret declared before the bad one, in the same table.
    valid_sibling: bool,
    /// Whitespace around `=`.
    spaces: u8,
    /// `# comment` after the value.
    comment: bool,
    /// The stage grants the secret.
    granted: bool,
}

#[derive(Arbitrary, Debug, Clone, Copy)]
enum Container {
    Table,
    /// `[secrets.NAME]` with `KEY = <value>` inside.
    SubTable,
    /// Top-level `secrets.NAME = <value>`.
    Dotted,
    /// Top-level `secrets = { NAME = <value> }`.
    Inline,
    /// Top-level `secrets = <value>`.
    Whole,
}

#[derive(Arbitrary, Debug, Clone, Copy)]
enum Name {
    Token,
    Lower,
    Invalid,
    Quoted,
}

#[derive(Arbitrary, Debug, Clone, Copy)]
enum Value {
    /// `"…"`, `'…'`, `"""…"""`, `'''…'''`; `newline`: the token on the next line
    /// (multi-line only); `open`: the closing quote is missing.
    Str {
        quote: Quote,
        newline: bool,
        open: bool,
    },
    /// Unquoted.
    Bare,
    /// `["…"]`, or `["CI", "…"]`.
    Array { second: bool, open: bool },
    /// `{ KEY = "…" }`, with `env = "CI_TOKEN"` first if `with_env`.
    Table {
        key: ValueKey,
        with_env: bool,
        open: bool,
    },
    /// The token without `ghp_` split across escapes: `"\u0067hp_…"`.
    Escaped,
}

#[derive(Arbitrary, Debug, Clone, Copy)]
enum Quote {
    Basic,
    Literal,
    MultiBasic,
    MultiLiteral,
}

#[derive(Arbitrary, Debug, Clone, Copy)]
enum ValueKey {
    Value,
    Token,
    Env,
    File,
    Other,
}

const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

fn quoted(q: Quote, s: &str, newline: bool, open: bool) -> String {
    let (o, c) = match q {
        Quote::Basic => ("\"", "\""),
        Quote::Literal => ("'", "'"),
        Quote::MultiBasic => ("\"\"\"", "\"\"\""),
        Quote::MultiLiteral => ("'''", "'''"),
    };
    let multi = matches!(q, Quote::MultiBasic | Quote::MultiLiteral);
    let nl = if newline && multi { "\n" } else { "" };
    let close = if open { "" } else { c };
    format!("{o}{nl}{s}{close}")
}

fn value_text(v: Value, token: &str) -> String {
    match v {
        Value::Str {
            quote,
            newline,
            open,
        } => quoted(quote, token, newline, open),
        Value::Bare => token.to_string(),
        Value::Array { second, open } => {
            let items = if second {
                format!("\"CI\", \"{token}\"")
            } else {
                format!("\"{token}\"")
            };
            format!("[{items}{}", if open { "" } else { "]" })
        }
        Value::Table {
            key,
            with_env,
            open,
        } => {
            let k = match key {
                ValueKey::Value => "value",
                ValueKey::Token => "token",
                ValueKey::Env => "env",
                ValueKey::File => "file",
                ValueKey::Other => "v",
            };
            let env = if with_env { "env = \"CI_TOKEN\", " } else { "" };
            format!("{{ {env}{k} = \"{token}\"{}", if open { "" } else { " }" })
        }
        Value::Escaped => format!("\"\\u0067hp_{}\"", &token[4..]),
    }
}

fuzz_target!(|input: Input| {
    let mut token = String::from("ghp_");
    token.extend(
        input
            .token
            .iter()
            .take(40)
            .map(|b| ALPHABET[*b as usize % ALPHABET.len()] as char),
    );
    while token.len() < 8 {
        token.push('x');
    }
    // A tail no message of gantry contains, so finding `token[4..]` is a leak too.
    token.push_str("7Zq");
    let name = match input.name {
        Name::Token => "TOKEN",
        Name::Lower => "token",
        Name::Invalid => "9-TOKEN",
        Name::Quoted => "\"TO KEN\"",
    };
    let eq = match input.spaces % 3 {
        0 => " = ",
        1 => "=",
        _ => "\t=  ",
    };
    let comment = if input.comment {
        " # pasted by mistake"
    } else {
        ""
    };
    let value = value_text(input.value, &token);
    let sibling = |prefix: &str| {
        if input.valid_sibling {
            format!("{prefix}OTHER = {{ env = \"CI_OTHER\" }}\n")
        } else {
            String::new()
        }
    };
    let secrets = match input.container {
        Container::Table => format!("[secrets]\n{}{name}{eq}{value}{comment}\n", sibling("")),
        Container::SubTable => format!(
            "{}[secrets.{name}]\nvalue{eq}{value}{comment}\n",
            if input.valid_sibling {
                "[secrets.OTHER]\nenv = \"CI_OTHER\"\n"
            } else {
                ""
            }
        ),
        Container::Dotted => format!(
            "{}secrets.{name}{eq}{value}{comment}\n",
            sibling("secrets.")
        ),
        Container::Inline => format!("secrets = {{ {name}{eq}{value} }}{comment}\n"),
        Container::Whole => format!("secrets{eq}{value}{comment}\n"),
    };
    // Dotted keys and inline tables are top-level: they must come before any header.
    let top_level = matches!(
        input.container,
        Container::Dotted | Container::Inline | Container::Whole
    );
    let grants = if input.granted {
        "grants.secrets = [\"TOKEN\"]\n"
    } else {
        ""
    };
    let pipeline = "[pipeline]\nname = \"p\"\n";
    let stage = format!("[stage.a]\nplugin = \"builtin:x\"\n{grants}");
    let source = match (top_level, input.position % 3) {
        (true, _) | (false, 0) => format!("{secrets}{pipeline}{stage}"),
        (false, 1) => format!("{pipeline}{secrets}{stage}"),
        (false, _) => format!("{pipeline}{stage}{secrets}"),
    };
    debug_assert_eq!(
        source.matches("ghp_").count(),
        usize::from(!matches!(input.value, Value::Escaped))
    );

    // `env = "…"` and `file = "…"` in a secret's table are where the value comes
    // from (a variable name, a path), not the value: they may be shown.
    let is_source = matches!(
        input.value,
        Value::Table {
            key: ValueKey::Env | ValueKey::File,
            ..
        }
    ) && !matches!(input.container, Container::Whole);
    let out = match Manifest::parse(Path::new("pipeline.toml"), &source) {
        Ok(_) => return,
        Err(_) if is_source => return,
        Err(diags) => diags.to_string(),
    };
    assert!(
        !out.contains(&token[4..]) && !out.contains("ghp_"),
        "the secret `{token}` is shown in a diagnostic:\n--- pipeline.toml\n{source}\n--- diagnostics\n{out}"
    );
});
