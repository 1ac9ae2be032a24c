//! What a Dockerfile makes the builder reach, read the way the builder reads it.
//!
//! A build is not one image: every `FROM`, `COPY --from=`, `RUN --mount=…,from=`, the
//! `ONBUILD` triggers of a base image and (for BuildKit) the `# syntax=` frontend
//! name images the daemon fetches or runs, and `ADD <url>` makes the daemon download
//! whatever the URL serves and bake it into the image — with none of the stage's
//! grants in the way. This module lists every such reference, with variables
//! substituted, so the broker can hold each one to `grants.containers.run` before
//! anything is built.
//!
//! **Which reading.** gantry builds with the classic builder (`BuilderV1`, what Engine
//! 20.10 runs for the API), so this is a port of *its* parser (moby/buildkit's
//! `frontend/dockerfile/parser` before heredocs, as vendored by the engine): parser
//! directives only at the very top (`escape`, `syntax`), continuation lines joined
//! with the escape character, comment and blank lines inside a continuation dropped,
//! builder flags split off the way `extractBuilderFlags` does, `FROM` substituted from
//! the global `ARG`s with build-arg overrides. Where BuildKit would read the same file
//! differently, the file is refused rather than guessed at: heredocs (`<<EOF`: the
//! classic builder reads the body lines as instructions, BuildKit as text), an
//! `escape`/`syntax` directive BuildKit might honour and the classic parser ignores,
//! flags without `=` (`--from x` is `--from=x` for newer parsers, an error for older).
//!
//! **Refused** (an audited denial, no grant allows it): `ADD` of a URL (`http://`,
//! `https://`, `git://`, `git@host:…`, any `scheme://`) — remote content would bypass
//! `grants.http`, so gantry refuses it rather than routing it (fetch it in a stage with
//! an http grant and `COPY` it); `ADD` sources with a variable (it could expand to a
//! URL); a variable in `--from`/`from=` (BuildKit expands it, the classic builder does
//! not); a `FROM` variable that is not a global `ARG` (the builder would substitute
//! build args the Dockerfile never declared, or BuildKit's automatic platform args);
//! a global `ARG` declared twice; an `ONBUILD` trigger naming a stage by number.
//! **Malformed** (`invalid`, the builder would fail too): unknown instructions,
//! unterminated quotes or substitutions, a stage index out of range, `FROM` without
//! an image, an invalid `escape` directive, a file that is not UTF-8 or has a line
//! over the parser's 64 KiB.
//!
//! The result is a list of [`ImageUse`]s; matching them against the grant, checking
//! that each is on the engine under that name, and reading base images' `ONBUILD`
//! triggers ([`analyze_triggers`]) is the broker's part (`super`).
//!
//! Tests: unit tests below; `tests/e2e/attack_containers.rs` (each form on a real
//! engine, refused before any build starts).

use std::collections::HashMap;

use crate::manifest::text::shown;

/// Largest Dockerfile gantry reads (the engine has no such limit; real ones are a few
/// KiB).
pub const MAX_DOCKERFILE: usize = 1 << 20;

/// The parser's line limit (`bufio.Scanner`'s default token size).
const MAX_LINE: usize = 64 * 1024 - 1;

/// One image a build makes the daemon use.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageUse {
    /// The reference after substitution, as the builder resolves it.
    pub reference: String,
    /// 1-based line of the instruction (0 for a build arg).
    pub line: u32,
    /// What names it, for messages: `FROM`, `COPY --from`, …
    pub by: String,
    /// For a stage's base image: the stage's index (its `ONBUILD` triggers run there).
    pub base_of: Option<usize>,
    /// Whether the classic builder fetches it (it ignores `# syntax=`): such images
    /// must be on the engine under this name.
    pub fetched: bool,
}

/// What [`analyze`] found.
#[derive(Debug, Clone, Default)]
pub struct Analysis {
    pub images: Vec<ImageUse>,
    /// Stage names in order (lowercase; `None` for a stage without `AS`).
    pub stages: Vec<Option<String>>,
}

/// Why a Dockerfile cannot be built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Problem {
    /// The builder would fail on it: reported as `invalid`.
    #[error("line {line}: {why}")]
    Malformed { line: u32, why: String },
    /// Something gantry never lets a build do: an audited refusal.
    #[error("line {line}: {why}")]
    Refused { line: u32, why: String },
}

fn malformed<T>(line: u32, why: impl Into<String>) -> Result<T, Problem> {
    Err(Problem::Malformed {
        line,
        why: why.into(),
    })
}

fn refused<T>(line: u32, why: impl Into<String>) -> Result<T, Problem> {
    Err(Problem::Refused {
        line,
        why: why.into(),
    })
}

/// One instruction after continuation lines are joined.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Logical {
    line: u32,
    text: String,
}

/// The parsed top of the file and its instructions.
#[derive(Debug)]
struct Lines {
    escape: char,
    syntax: Option<(u32, String)>,
    logical: Vec<Logical>,
}

/// Go's `\s` in the directive expression.
fn go_space(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\x0C' | '\r' | ' ')
}

/// `^#\s*([a-zA-Z][a-zA-Z0-9]*)\s*=\s*(.+?)\s*$`: name and value of a directive line.
fn directive(token: &str) -> Option<(String, String)> {
    let rest = token.strip_prefix('#')?.trim_start_matches(go_space);
    let name_len = rest
        .char_indices()
        .find(|(i, c)| !(c.is_ascii_alphabetic() || (*i > 0 && c.is_ascii_digit())))
        .map_or(rest.len(), |(i, _)| i);
    if name_len == 0 {
        return None;
    }
    let (name, rest) = rest.split_at(name_len);
    let rest = rest.trim_start_matches(go_space).strip_prefix('=')?;
    let value = rest.trim_matches(go_space);
    if value.is_empty() {
        // `.+?` still takes one of the spaces if there are any: a value nobody means.
        return (!rest.is_empty()).then(|| (name.to_string(), " ".to_string()));
    }
    Some((name.to_string(), value.to_string()))
}

/// Strips a trailing escape character (and the spaces/tabs after it): `(text, ended)`.
fn trim_continuation(line: &str, escape: char) -> (String, bool) {
    let t = line.trim_end_matches([' ', '\t']);
    match t.strip_suffix(escape) {
        Some(body) => (body.to_string(), false),
        None => (line.to_string(), true),
    }
}

/// The classic parser's `Parse`: directives, then logical lines.
fn split_lines(text: &str) -> Result<Lines, Problem> {
    let mut lines: Vec<&str> = text.split('\n').collect();
    if text.ends_with('\n') {
        lines.pop();
    }
    let mut escape = '\\';
    let mut syntax = None;
    let mut seen: Vec<String> = Vec::new();
    let mut done = false;
    // After an unknown directive ended the block, a later escape/syntax line would be
    // a comment to this parser and a directive to BuildKit: refused.
    let mut after_unknown = false;
    let mut logical = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        let number = i as u32 + 1;
        let mut raw = lines[i].strip_suffix('\r').unwrap_or(lines[i]);
        if i == 0 {
            raw = raw.strip_prefix('\u{FEFF}').unwrap_or(raw);
        }
        if raw.len() > MAX_LINE {
            return malformed(number, "the line is longer than the builder's 64 KiB");
        }
        let token = raw.trim_start();
        match directive(token) {
            Some((name, value)) if !done => {
                let lower = name.to_ascii_lowercase();
                if lower == "escape" || lower == "syntax" {
                    if seen.contains(&lower) {
                        return malformed(
                            number,
                            format!("only one `{lower}` parser directive can be used"),
                        );
                    }
                    seen.push(lower.clone());
                    if lower == "escape" {
                        escape = match value.as_str() {
                            "\\" => '\\',
                            "`" => '`',
                            other => {
                                return malformed(
                                    number,
                                    format!(
                                        "invalid escape character `{}`: use `\\` or `` ` ``",
                                        shown(other)
                                    ),
                                );
                            }
                        };
                    } else {
                        syntax = Some((number, value));
                    }
                } else {
                    done = true;
                    after_unknown = true;
                }
            }
            Some((name, _)) if after_unknown => {
                let lower = name.to_ascii_lowercase();
                if lower == "escape" || lower == "syntax" {
                    return refused(
                        number,
                        format!(
                            "a `{lower}` directive after another directive: the classic builder reads it as a comment and BuildKit as a directive, so gantry cannot tell how the file is read; put `{lower}` first"
                        ),
                    );
                }
            }
            _ => {
                done = true;
                after_unknown = false;
            }
        }
        i += 1;
        let processed = if token.starts_with('#') { "" } else { token };
        let (mut joined, mut ended) = trim_continuation(processed, escape);
        if ended && joined.is_empty() {
            continue;
        }
        while !ended && i < lines.len() {
            let raw = lines[i].strip_suffix('\r').unwrap_or(lines[i]);
            if raw.len() > MAX_LINE {
                return malformed(i as u32 + 1, "the line is longer than the builder's 64 KiB");
            }
            i += 1;
            let trimmed = raw.trim_start();
            if trimmed.starts_with('#') || trimmed.is_empty() {
                continue;
            }
            let (part, e) = trim_continuation(raw, escape);
            joined.push_str(&part);
            ended = e;
        }
        logical.push(Logical {
            line: number,
            text: joined,
        });
    }
    Ok(Lines {
        escape,
        syntax,
        logical,
    })
}

/// `tokenWhitespace`/`reWhitespace`: `[\t\v\f\r ]`.
fn ascii_ws(c: char) -> bool {
    matches!(c, '\t' | '\x0B' | '\x0C' | '\r' | ' ')
}

/// Go's `unicode.IsSpace` of a byte cast to a rune (how `extractBuilderFlags` reads).
fn byte_space(b: u8) -> bool {
    matches!(b, b'\t' | b'\n' | 0x0B | 0x0C | b'\r' | b' ' | 0x85 | 0xA0)
}

/// One instruction: lowercase command, `--name=value` flags, and its arguments.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Instruction {
    line: u32,
    cmd: String,
    flags: Vec<(String, String)>,
    args: String,
}

/// `splitCommand` + the classic `extractBuilderFlags`.
fn split_command(text: &str, line: u32) -> Result<Instruction, Problem> {
    let t = text.trim();
    let (word, rest) = match t.find(ascii_ws) {
        Some(i) => (&t[..i], t[i..].trim_start_matches(ascii_ws)),
        None => (t, ""),
    };
    if !word.is_ascii() {
        return malformed(line, format!("unknown instruction `{}`", shown(word)));
    }
    let cmd = word.to_ascii_lowercase();
    let (args, words) = extract_flags(rest);
    let mut flags = Vec::new();
    for w in words {
        let name_value = w.strip_prefix("--").unwrap_or(&w);
        match name_value.split_once('=') {
            Some((n, v)) => flags.push((n.to_string(), v.to_string())),
            None => {
                return malformed(
                    line,
                    format!(
                        "flag `--{}` has no value: write `--{}=VALUE` (builders disagree on what a value in the next word means)",
                        shown(name_value),
                        shown(name_value)
                    ),
                );
            }
        }
    }
    Ok(Instruction {
        line,
        cmd,
        flags,
        args: args.trim().to_string(),
    })
}

/// `extractBuilderFlags` of the classic builder: leading `--` words (quotes and
/// backslashes processed), and the rest of the line.
fn extract_flags(line: &str) -> (String, Vec<String>) {
    #[derive(PartialEq)]
    enum Phase {
        Spaces,
        Word,
        Quote,
    }
    let b = line.as_bytes();
    let mut words = Vec::new();
    let mut phase = Phase::Spaces;
    let mut word: Vec<u8> = Vec::new();
    let mut quote = 0u8;
    let mut blank_ok = false;
    let mut pos = 0;
    let finish = |w: &[u8]| String::from_utf8_lossy(w).into_owned();
    while pos <= b.len() {
        let ch = b.get(pos).copied().unwrap_or(0);
        if phase == Phase::Spaces {
            if pos == b.len() {
                break;
            }
            if byte_space(ch) {
                pos += 1;
                continue;
            }
            if ch != b'-' || pos + 1 == b.len() || b[pos + 1] != b'-' {
                return (line[pos..].to_string(), words);
            }
            phase = Phase::Word;
        }
        if pos == b.len() {
            if word != b"--" && (blank_ok || !word.is_empty()) {
                words.push(finish(&word));
            }
            break;
        }
        if phase == Phase::Word {
            if byte_space(ch) {
                phase = Phase::Spaces;
                if word == b"--" {
                    return (line[pos..].to_string(), words);
                }
                if blank_ok || !word.is_empty() {
                    words.push(finish(&word));
                }
                word.clear();
                blank_ok = false;
                pos += 1;
                continue;
            }
            if ch == b'\'' || ch == b'"' {
                quote = ch;
                blank_ok = true;
                phase = Phase::Quote;
                pos += 1;
                continue;
            }
            let mut c = ch;
            if c == b'\\' {
                if pos + 1 == b.len() {
                    pos += 1;
                    continue;
                }
                pos += 1;
                c = b[pos];
            }
            word.push(c);
            pos += 1;
            continue;
        }
        // In a quote.
        if ch == quote {
            phase = Phase::Word;
            pos += 1;
            continue;
        }
        let mut c = ch;
        if c == b'\\' {
            if pos + 1 == b.len() {
                phase = Phase::Word;
                pos += 1;
                continue;
            }
            pos += 1;
            c = b[pos];
        }
        word.push(c);
        pos += 1;
    }
    (String::new(), words)
}

/// Instructions the classic parser dispatches; anything else fails the build.
const KNOWN: [&str; 18] = [
    "add",
    "arg",
    "cmd",
    "copy",
    "entrypoint",
    "env",
    "expose",
    "from",
    "healthcheck",
    "label",
    "maintainer",
    "onbuild",
    "run",
    "shell",
    "stopsignal",
    "user",
    "volume",
    "workdir",
];

/// Variables visible to a substitution: declared name → value (`None`: declared, no
/// value).
type Vars = HashMap<String, Option<String>>;

/// Shell-word processing (`shell.Lex.ProcessWord`) of the forms gantry reproduces:
/// quotes, the escape character, `$NAME`, `${NAME}`, `${NAME:-word}`,
/// `${NAME:+word}`. Anything else, and any name not in `vars`, is an error naming it.
fn expand(word: &str, escape: char, vars: &Vars) -> Result<String, String> {
    let chars: Vec<char> = word.chars().collect();
    let mut pos = 0;
    let out = expand_until(&chars, &mut pos, escape, vars, None)?;
    Ok(out)
}

fn expand_until(
    s: &[char],
    pos: &mut usize,
    escape: char,
    vars: &Vars,
    stop: Option<char>,
) -> Result<String, String> {
    let mut out = String::new();
    while *pos < s.len() {
        let c = s[*pos];
        if Some(c) == stop {
            *pos += 1;
            return Ok(out);
        }
        match c {
            '$' => out.push_str(&dollar(s, pos, escape, vars)?),
            '\'' => {
                *pos += 1;
                loop {
                    let Some(&q) = s.get(*pos) else {
                        return Err("an unterminated `'` quote".into());
                    };
                    *pos += 1;
                    if q == '\'' {
                        break;
                    }
                    out.push(q);
                }
            }
            '"' => {
                *pos += 1;
                loop {
                    let Some(&q) = s.get(*pos) else {
                        return Err("an unterminated `\"` quote".into());
                    };
                    if q == '"' {
                        *pos += 1;
                        break;
                    }
                    if q == '$' {
                        out.push_str(&dollar(s, pos, escape, vars)?);
                        continue;
                    }
                    *pos += 1;
                    if q == escape {
                        match s.get(*pos) {
                            None => continue,
                            Some(&n) if n == '"' || n == '$' || n == escape => {
                                out.push(n);
                                *pos += 1;
                            }
                            Some(_) => out.push(q),
                        }
                        continue;
                    }
                    out.push(q);
                }
            }
            _ => {
                *pos += 1;
                if c == escape {
                    match s.get(*pos) {
                        None => break,
                        Some(&n) => {
                            out.push(n);
                            *pos += 1;
                        }
                    }
                } else {
                    out.push(c);
                }
            }
        }
    }
    match stop {
        Some(c) => Err(format!("a `${{` without its closing `{c}`")),
        None => Ok(out),
    }
}

fn dollar(s: &[char], pos: &mut usize, escape: char, vars: &Vars) -> Result<String, String> {
    *pos += 1;
    let name_char = |c: char| c.is_ascii_alphanumeric() || c == '_';
    let read_name = |pos: &mut usize| -> Result<String, String> {
        let start = *pos;
        if !s
            .get(start)
            .is_some_and(|c| c.is_ascii_alphabetic() || *c == '_')
        {
            return Err("a `$` that does not start a variable name".into());
        }
        while s.get(*pos).is_some_and(|c| name_char(*c)) {
            *pos += 1;
        }
        // The builder's names also take non-ASCII letters and digits: refuse rather
        // than cut the name short.
        if s.get(*pos)
            .is_some_and(|c| !c.is_ascii() && c.is_alphanumeric())
        {
            return Err("a variable name with non-ASCII letters".into());
        }
        Ok(s[start..*pos].iter().collect())
    };
    let value = |name: &str| -> Result<String, String> {
        match vars.get(name) {
            Some(v) => Ok(v.clone().unwrap_or_default()),
            None => Err(format!(
                "`${name}`, which is not a global `ARG` declared above it"
            )),
        }
    };
    if s.get(*pos) != Some(&'{') {
        let name = read_name(pos)?;
        return value(&name);
    }
    *pos += 1;
    let name = read_name(pos)?;
    match s.get(*pos) {
        Some('}') => {
            *pos += 1;
            value(&name)
        }
        Some(':') => {
            let modifier = s.get(*pos + 1).copied();
            *pos += 2;
            if !matches!(modifier, Some('-' | '+')) {
                return Err(format!(
                    "`${{{name}:…}}` with a modifier other than `:-` and `:+`"
                ));
            }
            let word = expand_until(s, pos, escape, vars, Some('}'))?;
            let current = value(&name)?;
            Ok(match modifier {
                Some('-') if current.is_empty() => word,
                Some('+') if !current.is_empty() => word,
                Some('+') => String::new(),
                _ => current,
            })
        }
        _ => Err(format!(
            "`${{{name}` in a form other than `${{NAME}}`, `${{NAME:-…}}`, `${{NAME:+…}}`"
        )),
    }
}

/// BuildKit's heredoc word: `^(\d*)<<(-?)([^<]*)$`.
fn heredoc_word(w: &str) -> bool {
    let rest = w.trim_start_matches(|c: char| c.is_ascii_digit());
    rest.strip_prefix("<<")
        .map(|r| r.strip_prefix('-').unwrap_or(r))
        .is_some_and(|r| !r.contains('<'))
}

/// A URL or a git remote, in text whose quotes and escapes may still be there.
fn remote_source(word: &str) -> bool {
    let bare: String = word
        .chars()
        .filter(|c| !matches!(c, '"' | '\'' | '\\' | '`'))
        .collect();
    if bare.contains("://") {
        return true;
    }
    // scp-like git remotes: `git@github.com:org/repo.git`.
    match bare.split_once('@') {
        Some((user, host)) => {
            !user.is_empty()
                && !user.contains('/')
                && host
                    .split_once(':')
                    .is_some_and(|(h, _)| !h.is_empty() && !h.contains('/'))
        }
        None => false,
    }
}

/// How `--from=`/`from=` values are resolved.
enum Scope<'a> {
    /// In a build: earlier stages of this Dockerfile (lowercase names), by name or
    /// index.
    Build(&'a [Option<String>]),
    /// In an `ONBUILD` trigger declared here: resolved in some later build, so every
    /// name is taken as an image and indexes are refused.
    Trigger,
}

/// What one `--from`/`from=` value refers to.
fn resolve_from(
    value: &str,
    scope: &Scope<'_>,
    line: u32,
    by: &str,
) -> Result<Option<ImageUse>, Problem> {
    if value.is_empty() {
        // `--from=` means the build context.
        return Ok(None);
    }
    if value.contains('$') {
        return refused(
            line,
            format!(
                "`{by}={}` uses a variable: gantry checks every image before the build starts and cannot know its value (BuildKit substitutes it, the classic builder does not); name the stage or image literally",
                shown(value)
            ),
        );
    }
    if let Ok(index) = value.parse::<i64>() {
        return match scope {
            Scope::Build(stages) if index >= 0 && (index as usize) < stages.len() => Ok(None),
            Scope::Build(stages) => malformed(
                line,
                format!(
                    "`{by}={value}`: there is no earlier stage number {index} ({} before this one)",
                    stages.len()
                ),
            ),
            Scope::Trigger => refused(
                line,
                format!(
                    "`ONBUILD … {by}={value}` names a stage by number, which only the build that runs the trigger knows; name an image"
                ),
            ),
        };
    }
    if let Scope::Build(stages) = scope {
        let lower = value.to_ascii_lowercase();
        if value.is_ascii() && stages.iter().flatten().any(|s| *s == lower) {
            return Ok(None);
        }
    }
    Ok(Some(ImageUse {
        reference: value.to_string(),
        line,
        by: by.to_string(),
        base_of: None,
        fetched: true,
    }))
}

/// `key=value` fields of a `--mount` (Go `encoding/csv`: `"…"` quoting, `""` inside).
fn csv_fields(value: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut field = String::new();
    let mut chars = value.chars().peekable();
    let mut quoted = false;
    let mut at_start = true;
    while let Some(c) = chars.next() {
        if quoted {
            if c == '"' {
                if chars.peek() == Some(&'"') {
                    field.push('"');
                    chars.next();
                } else {
                    quoted = false;
                }
            } else {
                field.push(c);
            }
            continue;
        }
        match c {
            '"' if at_start => {
                quoted = true;
                at_start = false;
            }
            ',' => {
                out.push(std::mem::take(&mut field));
                at_start = true;
            }
            _ => {
                field.push(c);
                at_start = false;
            }
        }
    }
    out.push(field);
    out
}

/// Checks one instruction (top level or the inner one of `ONBUILD`) and collects the
/// images it names.
fn check_instruction(
    ins: &Instruction,
    scope: &Scope<'_>,
    prefix: &str,
    images: &mut Vec<ImageUse>,
) -> Result<(), Problem> {
    let line = ins.line;
    if !KNOWN.contains(&ins.cmd.as_str()) {
        return malformed(
            line,
            format!(
                "unknown instruction `{}` (the builder refuses it)",
                shown(&ins.cmd.to_uppercase())
            ),
        );
    }
    let upper = ins.cmd.to_uppercase();
    // Any `--from` or `--mount` flag, on whatever instruction carries it: the builder
    // refuses misplaced ones, and checking them costs nothing.
    for (name, value) in &ins.flags {
        if name.eq_ignore_ascii_case("from") {
            let by = format!("{prefix}{upper} --from");
            images.extend(resolve_from(value, scope, line, &by)?);
        } else if name.eq_ignore_ascii_case("mount") {
            for field in csv_fields(value) {
                if let Some((k, v)) = field.split_once('=')
                    && k.trim().eq_ignore_ascii_case("from")
                {
                    let by = format!("{prefix}{upper} --mount from");
                    images.extend(resolve_from(v, scope, line, &by)?);
                }
            }
        }
    }
    match ins.cmd.as_str() {
        "run" | "copy" | "add" => {
            let json = parse_json_list(&ins.args);
            if json.is_none()
                && let Some(w) = ins.args.split(ascii_ws).find(|w| heredoc_word(w))
            {
                return refused(
                    line,
                    format!(
                        "`{}` starts a heredoc: gantry builds with the classic builder, which reads the lines below it as instructions, while BuildKit reads them as text; put the content in a file of the context and COPY it",
                        shown(w)
                    ),
                );
            }
            if ins.cmd == "add" {
                let words: Vec<String> = match json {
                    Some(Ok(v)) => v,
                    Some(Err(why)) => return malformed(line, why),
                    None => ins
                        .args
                        .split(ascii_ws)
                        .filter(|w| !w.is_empty())
                        .map(str::to_string)
                        .collect(),
                };
                for w in &words {
                    if remote_source(w) {
                        return refused(
                            line,
                            format!(
                                "`{prefix}ADD {}` downloads from the network: the daemon would fetch it with none of the stage's grants in the way, so gantry refuses remote ADD; fetch it in a stage with an http grant and COPY it from the context",
                                shown(w)
                            ),
                        );
                    }
                    if w.contains('$') {
                        return refused(
                            line,
                            format!(
                                "`{prefix}ADD {}` has a variable in its sources, which could expand to a URL; write the path literally or use COPY",
                                shown(w)
                            ),
                        );
                    }
                }
            }
        }
        "onbuild" => {
            if !prefix.is_empty() {
                return malformed(line, "ONBUILD ONBUILD is not allowed");
            }
            if ins.args.is_empty() {
                return malformed(line, "ONBUILD needs an instruction");
            }
            let inner = split_command(&ins.args, line)?;
            if matches!(inner.cmd.as_str(), "from" | "maintainer" | "onbuild") {
                return malformed(
                    line,
                    format!(
                        "{} isn't allowed as an ONBUILD trigger",
                        inner.cmd.to_uppercase()
                    ),
                );
            }
            check_instruction(&inner, &Scope::Trigger, "ONBUILD ", images)?;
        }
        _ => {}
    }
    Ok(())
}

/// `parseJSON`: `Some(Ok(strings))` for a JSON array of strings, `Some(Err)` for an
/// array with a non-string, `None` when it is not JSON (shell form).
fn parse_json_list(args: &str) -> Option<Result<Vec<String>, String>> {
    let t = args.trim_start();
    if !t.starts_with('[') {
        return None;
    }
    let values: Vec<serde_json::Value> = serde_json::from_str(t).ok()?;
    Some(
        values
            .into_iter()
            .map(|v| match v {
                serde_json::Value::String(s) => Ok(s),
                _ => Err(
                    "when using JSON array syntax, arrays must be comprised of strings only".into(),
                ),
            })
            .collect(),
    )
}

/// Stage names must be what the builder accepts after lowercasing.
fn stage_name(alias: &str, line: u32) -> Result<String, Problem> {
    let lower = alias.to_ascii_lowercase();
    let ok = lower.is_ascii()
        && lower.starts_with(|c: char| c.is_ascii_lowercase())
        && lower
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '-' | '_' | '.'));
    if ok {
        Ok(lower)
    } else {
        malformed(
            line,
            format!(
                "invalid name for build stage: `{}` (a letter, then letters, digits, `-`, `_`, `.`)",
                shown(alias)
            ),
        )
    }
}

/// Every image `text` makes the builder use, given the build args the plugin passes.
pub fn analyze(text: &str, build_args: &[(String, String)]) -> Result<Analysis, Problem> {
    let lines = split_lines(text)?;
    let args: HashMap<&str, &str> = build_args
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let mut out = Analysis::default();
    if let Some((line, value)) = &lines.syntax {
        out.images.push(ImageUse {
            reference: value.clone(),
            line: *line,
            by: "the `# syntax=` directive (BuildKit's frontend image)".into(),
            base_of: None,
            fetched: false,
        });
    }
    if let Some(v) = args.get("BUILDKIT_SYNTAX") {
        out.images.push(ImageUse {
            reference: (*v).to_string(),
            line: 0,
            by: "the build arg `BUILDKIT_SYNTAX` (BuildKit's frontend image)".into(),
            base_of: None,
            fetched: false,
        });
    }
    let mut globals: Vars = HashMap::new();
    if lines.logical.is_empty() {
        return malformed(0, "the Dockerfile has no instructions");
    }
    for l in &lines.logical {
        let ins = split_command(&l.text, l.line)?;
        let line = ins.line;
        if ins.cmd == "from" {
            let words: Vec<&str> = ins.args.split(ascii_ws).filter(|w| !w.is_empty()).collect();
            let (image, alias) = match words.as_slice() {
                [image] => (*image, None),
                [image, as_kw, alias] if as_kw.eq_ignore_ascii_case("as") => {
                    (*image, Some(stage_name(alias, line)?))
                }
                _ => {
                    return malformed(
                        line,
                        format!("FROM takes `image [AS name]`, found `{}`", shown(&ins.args)),
                    );
                }
            };
            let name = expand(image, lines.escape, &globals).map_err(|why| Problem::Refused {
                line,
                why: format!(
                    "the image of `FROM {}` cannot be resolved before the build: it uses {why}; gantry substitutes only global ARGs (declared before the first FROM) and the build args that override them",
                    shown(image)
                ),
            })?;
            if name.is_empty() {
                return malformed(line, format!("`FROM {}` names no image", shown(image)));
            }
            let k = out.stages.len();
            let is_stage = name.is_ascii()
                && out
                    .stages
                    .iter()
                    .flatten()
                    .any(|s| *s == name.to_ascii_lowercase());
            if name != "scratch" && !is_stage {
                out.images.push(ImageUse {
                    reference: name,
                    line,
                    by: "FROM".into(),
                    base_of: Some(k),
                    fetched: true,
                });
            }
            for (flag, _) in &ins.flags {
                if !flag.eq_ignore_ascii_case("platform") {
                    return malformed(line, format!("FROM has no flag `--{}`", shown(flag)));
                }
            }
            out.stages.push(alias);
            continue;
        }
        if out.stages.is_empty() {
            if ins.cmd != "arg" {
                return malformed(
                    line,
                    format!(
                        "the first instruction must be `FROM` (after parser directives, comments and global `ARG`s), found `{}`",
                        shown(&ins.cmd.to_uppercase())
                    ),
                );
            }
            global_arg(&ins, lines.escape, &args, &mut globals)?;
            continue;
        }
        // Only the stages before this one: a name equal to the current stage's is taken
        // as an image, which is the stricter reading.
        let earlier = out.stages[..out.stages.len() - 1].to_vec();
        check_instruction(&ins, &Scope::Build(&earlier), "", &mut out.images)?;
    }
    Ok(out)
}

/// A global `ARG` (before the first `FROM`): declares names for `FROM` substitution,
/// with the build arg's value if the plugin passed one, else the default.
fn global_arg(
    ins: &Instruction,
    escape: char,
    build_args: &HashMap<&str, &str>,
    globals: &mut Vars,
) -> Result<(), Problem> {
    let line = ins.line;
    let words = split_words(&ins.args, escape).map_err(|why| Problem::Malformed {
        line,
        why: format!("ARG: {why}"),
    })?;
    if words.is_empty() {
        return malformed(line, "ARG needs a name");
    }
    for w in words {
        let (name, default) = match w.split_once('=') {
            Some((n, v)) => (n.to_string(), Some(v.to_string())),
            None => (w.clone(), None),
        };
        let valid = name.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_')
            && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
        if !valid {
            return refused(
                line,
                format!(
                    "ARG name `{}` is not a plain name (letters, digits, `_`), so gantry cannot follow its substitutions",
                    shown(&name)
                ),
            );
        }
        if globals.contains_key(&name) {
            return refused(
                line,
                format!(
                    "global ARG `{name}` is declared twice; builders differ on which value a later FROM sees, so declare it once"
                ),
            );
        }
        let value = match build_args.get(name.as_str()) {
            Some(v) => Some((*v).to_string()),
            None => match default {
                Some(d) => Some(expand(&d, escape, globals).map_err(|why| Problem::Refused {
                    line,
                    why: format!(
                        "the default of ARG `{name}` cannot be resolved before the build: it uses {why}"
                    ),
                })?),
                None => None,
            },
        };
        globals.insert(name, value);
    }
    Ok(())
}

/// `parseWords`: whitespace-separated words with their quotes and escapes kept (they
/// are processed by [`expand`]).
fn split_words(text: &str, escape: char) -> Result<Vec<String>, String> {
    let mut out = Vec::new();
    let mut word = String::new();
    let mut quote: Option<char> = None;
    let mut started = false;
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match quote {
            Some(q) => {
                word.push(c);
                if c == q {
                    quote = None;
                } else if c == escape
                    && q != '\''
                    && let Some(n) = chars.next()
                {
                    word.push(n);
                }
            }
            None if c.is_whitespace() => {
                if started {
                    out.push(std::mem::take(&mut word));
                    started = false;
                }
            }
            None => {
                started = true;
                word.push(c);
                if c == '"' || c == '\'' {
                    quote = Some(c);
                } else if c == escape
                    && let Some(n) = chars.next()
                {
                    word.push(n);
                }
            }
        }
    }
    if quote.is_some() {
        return Err("an unterminated quote".into());
    }
    if started {
        out.push(word);
    }
    Ok(out)
}

/// The images the `ONBUILD` triggers of a base image make the builder use when they
/// run in stage `stage` (`earlier`: the stages before it). Each trigger is parsed as
/// its own Dockerfile, as the builder does.
pub fn analyze_triggers(
    triggers: &[String],
    earlier: &[Option<String>],
    image: &str,
) -> Result<Vec<ImageUse>, Problem> {
    let mut images = Vec::new();
    for t in triggers {
        let lines = split_lines(t)?;
        let [l] = lines.logical.as_slice() else {
            return malformed(
                0,
                format!(
                    "base image `{}` has an ONBUILD trigger that is not one instruction",
                    shown(image)
                ),
            );
        };
        let ins = split_command(&l.text, 0)?;
        if matches!(ins.cmd.as_str(), "from" | "maintainer" | "onbuild") {
            return malformed(
                0,
                format!(
                    "base image `{}` has an ONBUILD {} trigger, which the builder refuses",
                    shown(image),
                    ins.cmd.to_uppercase()
                ),
            );
        }
        let prefix = format!("ONBUILD trigger of `{}`: ", shown(image));
        check_instruction(&ins, &Scope::Build(earlier), &prefix, &mut images).map_err(
            |p| match p {
                Problem::Refused { why, .. } => Problem::Refused {
                    line: 0,
                    why: format!(
                        "base image `{}` has an ONBUILD trigger: {why}",
                        shown(image)
                    ),
                },
                other => other,
            },
        )?;
    }
    Ok(images)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn refs(text: &str) -> Vec<(String, String)> {
        refs_with(text, &[])
    }

    fn refs_with(text: &str, args: &[(&str, &str)]) -> Vec<(String, String)> {
        let args: Vec<(String, String)> = args
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        analyze(text, &args)
            .unwrap_or_else(|e| panic!("{text:?}: {e}"))
            .images
            .into_iter()
            .map(|i| (i.by, i.reference))
            .collect()
    }

    fn refused_why(text: &str) -> String {
        match analyze(text, &[]) {
            Err(Problem::Refused { why, .. }) => why,
            other => panic!("{text:?}: expected a refusal, got {other:?}"),
        }
    }

    fn malformed_why(text: &str) -> String {
        match analyze(text, &[]) {
            Err(Problem::Malformed { why, .. }) => why,
            other => panic!("{text:?}: expected malformed, got {other:?}"),
        }
    }

    fn r(by: &str, reference: &str) -> (String, String) {
        (by.to_string(), reference.to_string())
    }

    #[test]
    fn every_from_and_copy_from_is_listed_but_stages_and_scratch_are_not() {
        let text = "FROM a.example/base:1 AS build\nRUN make\nFROM scratch AS out\nCOPY --from=build /x /x\nCOPY --from=0 /y /y\nCOPY --from=other:2 /z /z\nFROM BUILD\nFROM out\n";
        assert_eq!(
            refs(text),
            [r("FROM", "a.example/base:1"), r("COPY --from", "other:2"),]
        );
        let a = analyze(text, &[]).unwrap();
        assert_eq!(a.images[0].base_of, Some(0));
        assert_eq!(
            a.stages,
            [Some("build".into()), Some("out".into()), None, None]
        );
        // A stage is known only after its FROM: naming it earlier names an image.
        assert_eq!(
            refs("FROM later\nFROM scratch AS later\n"),
            [r("FROM", "later")]
        );
        assert!(malformed_why("FROM scratch\nCOPY --from=1 a b\n").contains("no earlier stage"));
    }

    #[test]
    fn mounts_and_onbuild_triggers_are_checked() {
        assert_eq!(
            refs(
                "FROM scratch AS s\nFROM scratch\nRUN --mount=type=bind,from=img:1,target=/x --mount=\"type=cache,FROM=s\" true\n"
            ),
            [r("RUN --mount from", "img:1")]
        );
        assert_eq!(
            refs("FROM scratch\nONBUILD COPY --from=trig:1 / /\n"),
            [r("ONBUILD COPY --from", "trig:1")]
        );
        assert!(refused_why("FROM scratch\nONBUILD COPY --from=0 / /\n").contains("by number"));
        assert!(refused_why("FROM scratch\nONBUILD ADD http://x/y /y\n").contains("network"));
        assert!(malformed_why("FROM scratch\nONBUILD FROM x\n").contains("ONBUILD trigger"));
        let trig = analyze_triggers(
            &[
                "COPY --from=build /a /a".into(),
                "COPY --from=evil:1 /b /b".into(),
            ],
            &[Some("build".into())],
            "base:1",
        )
        .unwrap();
        assert_eq!(trig.len(), 1);
        assert_eq!(trig[0].reference, "evil:1");
        let e = analyze_triggers(&["ADD https://x/y /y".into()], &[], "base:1").unwrap_err();
        assert!(matches!(e, Problem::Refused { .. }) && e.to_string().contains("base:1"));
    }

    #[test]
    fn global_args_and_build_args_are_substituted() {
        let text = "ARG REG=a.example\nARG BASE=${REG}/base\nARG TAG\nFROM ${BASE}:${TAG:-1} AS b\nFROM \"$REG\"/other:${TAG:+x}y\n";
        assert_eq!(
            refs(text),
            [
                r("FROM", "a.example/base:1"),
                r("FROM", "a.example/other:y")
            ]
        );
        assert_eq!(
            refs_with(text, &[("BASE", "evil/image"), ("TAG", "2")]),
            [r("FROM", "evil/image:2"), r("FROM", "a.example/other:xy")]
        );
        // Empty counts as unset for `:-`.
        assert_eq!(
            refs_with("ARG B=good\nFROM ${B:-evil}\n", &[("B", "")]),
            [r("FROM", "evil")]
        );
        assert_eq!(
            refs_with("ARG B\nFROM $B\n", &[("B", "passed:1")]),
            [r("FROM", "passed:1")]
        );
        // Only global ARGs: not build args the file never declared, not BuildKit's
        // automatic ones, not an ARG of an earlier stage.
        for text in [
            "FROM $UNDECLARED\n",
            "FROM base-$TARGETARCH\n",
            "FROM scratch\nARG X=a\nFROM $X\n",
            "ARG X=$HTTP_PROXY\nFROM scratch\n",
            "ARG X=a\nARG X\nFROM $X\n",
            "FROM ${X/a/b}\n",
            "FROM ${X:?err}\n",
            "ARG X=1\nFROM ${X:=2}\n",
        ] {
            let why = refused_why(text);
            assert!(!why.is_empty(), "{text}");
        }
        assert!(refused_why("FROM $UNDECLARED\n").contains("not a global `ARG`"));
        assert!(refused_why("ARG X=a\nARG X\nFROM $X\n").contains("declared twice"));
    }

    #[test]
    fn remote_add_is_refused_in_every_spelling() {
        for text in [
            "FROM scratch\nADD http://127.0.0.1:9/x /x\n",
            "FROM scratch\nADD HTTPS://h/x /x\n",
            "FROM scratch\nadd --chown=1:1 git://h/r /r\n",
            "FROM scratch\nADD git@github.com:org/repo.git /r\n",
            "FROM scratch\nADD [\"http:\\/\\/127.0.0.1\\/x\", \"/x\"]\n",
            "FROM scratch\nADD \"http\"://h/x /x\n",
            "FROM scratch\nADD http:\\/\\/h/x /x\n",
            "FROM scratch\nADD a.txt \\\n  ftp://h/x /x\n",
            "# escape=`\nFROM scratch\nADD h`ttp://h/x /x\n",
        ] {
            let why = refused_why(text);
            assert!(why.contains("downloads from the network"), "{text}: {why}");
        }
        assert!(refused_why("FROM scratch\nARG U=http://h/x\nADD $U /x\n").contains("variable"));
        // Local sources are fine, as is COPY (which never downloads).
        assert!(
            refs("FROM scratch\nADD app.tar.gz /app/\nADD [\"a b\", \"/c\"]\nCOPY a@b:c /d\n")
                .is_empty()
        );
    }

    #[test]
    fn the_parse_is_the_classic_builders() {
        // With `escape` set to a backtick, a trailing backslash continues nothing: the
        // next line is an instruction of its own.
        assert_eq!(
            refs("# escape=`\nFROM scratch\nCOPY a /a \\\nFROM hidden:1\n"),
            [r("FROM", "hidden:1")]
        );
        // ... and with the default escape it is joined to the COPY.
        assert!(refs("FROM scratch\nCOPY a /a \\\nFROM hidden:1\n").is_empty());
        // Comment and blank lines inside a continuation are dropped.
        assert_eq!(
            refs("FROM scratch\nCOPY \\\n# comment\n\n  --from=x:1 a b\n"),
            [r("COPY --from", "x:1")]
        );
        // A directive after the first instruction or comment is a comment.
        assert!(refs("FROM scratch\n# escape=`\nCOPY a /a \\\nFROM hidden:1\n").is_empty());
        assert_eq!(
            refs("# syntax=docker/dockerfile:1\nFROM scratch\n"),
            [r(
                "the `# syntax=` directive (BuildKit's frontend image)",
                "docker/dockerfile:1"
            )]
        );
        assert!(refused_why("# check=skip=all\n# escape=`\nFROM scratch\n").contains("escape"));
        // Flags: quotes and backslashes are processed as the builder does.
        assert_eq!(
            refs("FROM scratch\nCOPY --chown=1 --from=\"ev il\" a b\n"),
            [r("COPY --from", "ev il")]
        );
        assert_eq!(
            refs("FROM scratch\nCOPY --from=e\\vil:1 a b\n"),
            [r("COPY --from", "evil:1")]
        );
        assert!(malformed_why("FROM scratch\nCOPY --from evil a b\n").contains("has no value"));
        assert!(refused_why("FROM scratch\nCOPY --from=$X a b\n").contains("variable"));
        assert!(malformed_why("RUN true\n").contains("first instruction must be `FROM`"));
        assert!(malformed_why("\n# only comments\n").contains("no instructions"));
        assert!(malformed_why("FROM scratch\nFETCH x\n").contains("unknown instruction"));
        assert!(malformed_why("# escape=x\nFROM scratch\n").contains("invalid escape"));
        assert!(malformed_why("FROM a b\n").contains("FROM takes"));
    }

    #[test]
    fn heredocs_are_refused_because_builders_disagree() {
        // The classic builder would read `FROM evil` as an instruction.
        for text in [
            "FROM scratch\nRUN <<EOF\nFROM evil\nEOF\n",
            "FROM scratch\nCOPY <<-\"EOF\" /x\nhi\nEOF\n",
            "FROM scratch\nRUN cat 3<<X\nX\n",
        ] {
            assert!(refused_why(text).contains("heredoc"), "{text}");
        }
        // Shift operators and here-strings are not heredocs.
        assert!(refs("FROM scratch\nRUN echo $((1<<2)) <<<x\n").is_empty());
    }

    #[test]
    fn build_arg_syntax_and_csv() {
        let a = analyze(
            "FROM scratch\n",
            &[("BUILDKIT_SYNTAX".into(), "evil/frontend:1".into())],
        )
        .unwrap();
        assert_eq!(a.images[0].reference, "evil/frontend:1");
        assert!(!a.images[0].fetched);
        assert_eq!(
            csv_fields("type=bind,\"from=a,b\",x=\"\"q\"\"\""),
            ["type=bind", "from=a,b", "x=\"\"q\"\"\""]
        );
        assert!(remote_source("git@github.com:o/r.git"));
        assert!(!remote_source("user@example.txt"));
        assert!(!remote_source("dir/a@b:c"));
    }
}
