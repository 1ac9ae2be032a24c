//! A Dockerfile parser that follows BuildKit's reading of the format.
//!
//! What it understands:
//! - parser directives at the top of the file (`# syntax=…`, `# escape=…`, `# check=…`);
//!   they stop at the first line that is not a directive, as in BuildKit;
//! - line continuations with the escape character (`\` or `` ` ``), with comment lines
//!   and blank lines inside a continuation dropped (BuildKit does the same);
//! - heredocs on `RUN`, `COPY` and `ADD` (`<<EOF`, `<<-EOF` strips leading tabs,
//!   `<<"EOF"` / `<<'EOF'` mark the body as not expanded), several per instruction;
//! - instruction flags (`--platform=…`, `--from=…`, `--mount=…`), checked against the
//!   flags each instruction accepts;
//! - exec (JSON array) versus shell form for `RUN`, `CMD`, `ENTRYPOINT`, `SHELL`,
//!   `COPY`, `ADD`, `VOLUME`, `HEALTHCHECK CMD`; invalid JSON falls back to shell
//!   form, as Docker does;
//! - `FROM [--platform=…] image[:tag][@digest] [AS name]`, `ENV`/`LABEL` pairs (both
//!   the `k=v` and the legacy `ENV k v` form), `ARG name[=default]`, `ONBUILD` with its
//!   inner instruction.
//!
//! What it refuses, with a [`ParseError`] naming `line:column`: unknown instructions,
//! unknown or malformed flags, an invalid `escape` directive or a repeated directive,
//! an unterminated heredoc, `FROM`/`ENV`/`LABEL`/`ARG` that cannot be read, and
//! instructions without their arguments. (`ONBUILD FROM` parses; rule DL3043 reports it.)
//!
//! Variable substitution is not done here (it depends on the build stage); see
//! [`crate::subst`]. Tests: `src/parser/tests.rs`.

#[cfg(test)]
mod tests;

use std::fmt;

/// A malformed Dockerfile: what is wrong and where (1-based line and column).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{line}:{column}: {message}")]
pub struct ParseError {
    pub line: u32,
    pub column: u32,
    pub message: String,
}

fn err<T>(line: u32, column: u32, message: impl Into<String>) -> Result<T, ParseError> {
    Err(ParseError {
        line,
        column,
        message: message.into(),
    })
}

/// A parsed Dockerfile.
#[derive(Debug, Clone)]
pub struct Dockerfile {
    /// The escape character (`\` unless `# escape=` says otherwise).
    pub escape: char,
    /// Parser directives, in file order.
    pub directives: Vec<Directive>,
    /// Instructions, in file order.
    pub instructions: Vec<Instruction>,
    /// Comment lines (not directives), including those inside continuations.
    pub comments: Vec<Comment>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Directive {
    pub name: String,
    pub value: String,
    pub line: u32,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Comment {
    pub line: u32,
    /// Text after `#`, trimmed.
    pub text: String,
}

/// The instructions Docker knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Keyword {
    Add,
    Arg,
    Cmd,
    Copy,
    Entrypoint,
    Env,
    Expose,
    From,
    Healthcheck,
    Label,
    Maintainer,
    Onbuild,
    Run,
    Shell,
    Stopsignal,
    User,
    Volume,
    Workdir,
}

impl Keyword {
    fn parse(word: &str) -> Option<Keyword> {
        Some(match word.to_ascii_uppercase().as_str() {
            "ADD" => Keyword::Add,
            "ARG" => Keyword::Arg,
            "CMD" => Keyword::Cmd,
            "COPY" => Keyword::Copy,
            "ENTRYPOINT" => Keyword::Entrypoint,
            "ENV" => Keyword::Env,
            "EXPOSE" => Keyword::Expose,
            "FROM" => Keyword::From,
            "HEALTHCHECK" => Keyword::Healthcheck,
            "LABEL" => Keyword::Label,
            "MAINTAINER" => Keyword::Maintainer,
            "ONBUILD" => Keyword::Onbuild,
            "RUN" => Keyword::Run,
            "SHELL" => Keyword::Shell,
            "STOPSIGNAL" => Keyword::Stopsignal,
            "USER" => Keyword::User,
            "VOLUME" => Keyword::Volume,
            "WORKDIR" => Keyword::Workdir,
            _ => return None,
        })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Keyword::Add => "ADD",
            Keyword::Arg => "ARG",
            Keyword::Cmd => "CMD",
            Keyword::Copy => "COPY",
            Keyword::Entrypoint => "ENTRYPOINT",
            Keyword::Env => "ENV",
            Keyword::Expose => "EXPOSE",
            Keyword::From => "FROM",
            Keyword::Healthcheck => "HEALTHCHECK",
            Keyword::Label => "LABEL",
            Keyword::Maintainer => "MAINTAINER",
            Keyword::Onbuild => "ONBUILD",
            Keyword::Run => "RUN",
            Keyword::Shell => "SHELL",
            Keyword::Stopsignal => "STOPSIGNAL",
            Keyword::User => "USER",
            Keyword::Volume => "VOLUME",
            Keyword::Workdir => "WORKDIR",
        }
    }

    /// Flags the instruction accepts (BuildKit's list, Dockerfile 1.x).
    fn flags(self) -> &'static [&'static str] {
        match self {
            Keyword::From => &["platform"],
            Keyword::Copy => &[
                "from", "chown", "chmod", "link", "parents", "exclude", "checksum",
            ],
            Keyword::Add => &[
                "chown",
                "chmod",
                "link",
                "checksum",
                "keep-git-dir",
                "exclude",
                "parents",
                "unpack",
            ],
            Keyword::Run => &["mount", "network", "security", "device"],
            Keyword::Healthcheck => &[
                "interval",
                "timeout",
                "start-period",
                "start-interval",
                "retries",
            ],
            _ => &[],
        }
    }
}

impl fmt::Display for Keyword {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// `--name=value` (or a bare `--name`) before an instruction's arguments.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Flag {
    pub name: String,
    pub value: Option<String>,
}

/// A heredoc body attached to an instruction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Heredoc {
    /// The delimiter word, without quotes.
    pub name: String,
    /// `<<-`: leading tabs were stripped from the body and the terminator.
    pub strip_tabs: bool,
    /// The delimiter was quoted: the body is not expanded.
    pub quoted: bool,
    /// Body lines joined with `\n` (ending with `\n` unless empty).
    pub body: String,
    /// Line of the first body line.
    pub line: u32,
}

/// Exec (JSON array) or shell form of an instruction's arguments.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Args {
    Exec(Vec<String>),
    Shell(String),
}

impl Args {
    /// Exec form if `text` is a JSON array of strings, shell form otherwise.
    pub fn parse(text: &str) -> Args {
        let t = text.trim();
        if t.starts_with('[')
            && let Ok(v) = serde_json::from_str::<Vec<String>>(t)
        {
            return Args::Exec(v);
        }
        Args::Shell(t.to_string())
    }

    pub fn is_exec(&self) -> bool {
        matches!(self, Args::Exec(_))
    }
}

/// One instruction with its position.
#[derive(Debug, Clone)]
pub struct Instruction {
    pub keyword: Keyword,
    /// Line of the keyword (1-based).
    pub line: u32,
    /// Column of the keyword (1-based).
    pub column: u32,
    /// Last line of the instruction (its last continuation or heredoc line).
    pub end_line: u32,
    /// Column after the last character of `end_line` (1-based, exclusive).
    pub end_column: u32,
    pub flags: Vec<Flag>,
    /// Arguments after the keyword and the flags, continuation lines joined.
    pub rest: String,
    pub heredocs: Vec<Heredoc>,
    /// The instruction of `ONBUILD <instruction>`.
    pub onbuild: Option<Box<Instruction>>,
}

impl Instruction {
    pub fn flag(&self, name: &str) -> Option<&Flag> {
        self.flags.iter().find(|f| f.name == name)
    }

    /// Values of every `--name=` flag (`--mount` may repeat).
    pub fn flag_values<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.flags
            .iter()
            .filter(move |f| f.name == name)
            .filter_map(|f| f.value.as_deref())
    }

    /// `RUN`, `CMD`, `ENTRYPOINT`, `SHELL`: exec or shell form.
    pub fn args(&self) -> Args {
        Args::parse(&self.rest)
    }

    /// Normalised text (`KEYWORD flags rest` with runs of whitespace collapsed), used
    /// for fingerprints: it does not change when the instruction moves.
    pub fn normalized(&self) -> String {
        let mut s = self.keyword.as_str().to_string();
        for f in &self.flags {
            s.push_str(" --");
            s.push_str(&f.name);
            if let Some(v) = &f.value {
                s.push('=');
                s.push_str(v);
            }
        }
        for w in self.rest.split_whitespace() {
            s.push(' ');
            s.push_str(w);
        }
        for h in &self.heredocs {
            s.push('\n');
            s.push_str(&h.body);
        }
        s
    }

    /// Sources and destination of `COPY`/`ADD` (JSON or whitespace-separated form).
    /// Heredoc sources appear as `<<NAME`.
    pub fn copy_paths(&self) -> Option<(Vec<String>, String)> {
        let mut words = match Args::parse(&self.rest) {
            Args::Exec(v) => v,
            Args::Shell(s) => s.split_whitespace().map(str::to_string).collect(),
        };
        if words.len() < 2 {
            return None;
        }
        let dest = words.pop()?;
        Some((words, dest))
    }
}

/// `FROM` arguments.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct From {
    /// The image reference as written (may contain `$VAR`).
    pub image: String,
    /// Stage name after `AS`.
    pub alias: Option<String>,
    pub platform: Option<String>,
}

/// An image reference split into registry, name, tag and digest.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ImageRef {
    /// `registry.example:5000` when the first path component looks like a host.
    pub registry: Option<String>,
    /// Repository path without the registry (`library/debian`, `debian`).
    pub name: String,
    pub tag: Option<String>,
    pub digest: Option<String>,
}

impl ImageRef {
    /// Splits `[registry/]name[:tag][@digest]` the way Docker's reference grammar
    /// does: the first component is a registry when it has a `.` or `:` or is
    /// `localhost`.
    pub fn parse(reference: &str) -> ImageRef {
        let (rest, digest) = match reference.split_once('@') {
            Some((r, d)) => (r, Some(d.to_string())),
            None => (reference, None),
        };
        let (registry, path) = match rest.split_once('/') {
            Some((first, tail))
                if first.contains('.') || first.contains(':') || first == "localhost" =>
            {
                (Some(first.to_string()), tail)
            }
            _ => (None, rest),
        };
        // A tag is after the last ':' that follows the last '/'.
        let last_slash = path.rfind('/').map_or(0, |i| i + 1);
        let (name, tag) = match path[last_slash..].rfind(':') {
            Some(i) => (
                path[..last_slash + i].to_string(),
                Some(path[last_slash + i + 1..].to_string()),
            ),
            None => (path.to_string(), None),
        };
        ImageRef {
            registry,
            name,
            tag,
            digest,
        }
    }
}

/// Parses `FROM` arguments; errors name the position of the instruction.
pub fn parse_from(ins: &Instruction) -> Result<From, ParseError> {
    let words: Vec<&str> = ins.rest.split_whitespace().collect();
    let platform = ins.flag("platform").and_then(|f| f.value.clone());
    match words.as_slice() {
        [image] => Ok(From {
            image: (*image).to_string(),
            alias: None,
            platform,
        }),
        [image, as_kw, alias] if as_kw.eq_ignore_ascii_case("as") => Ok(From {
            image: (*image).to_string(),
            alias: Some((*alias).to_string()),
            platform,
        }),
        _ => err(
            ins.line,
            ins.column,
            format!(
                "FROM takes `image[:tag] [AS name]`, found `{}`",
                ins.rest.trim()
            ),
        ),
    }
}

/// A `key=value` pair of `ENV`, `LABEL` or `ARG` (value unquoted, not expanded).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pair {
    pub key: String,
    pub value: Option<String>,
}

/// `ENV`/`LABEL` pairs. `legacy` allows `ENV key value with spaces`.
pub fn parse_pairs(ins: &Instruction, escape: char) -> Result<Vec<Pair>, ParseError> {
    let text = ins.rest.trim();
    let first_raw = text.split_whitespace().next().unwrap_or("");
    if !first_raw.contains('=') && matches!(ins.keyword, Keyword::Env | Keyword::Label) {
        // Legacy `ENV key value`: everything after the first word is the value.
        let value = text[first_raw.len()..].trim();
        if value.is_empty() && ins.keyword == Keyword::Env {
            return err(
                ins.line,
                ins.column,
                format!("ENV `{first_raw}` has no value; write `ENV {first_raw}=value`"),
            );
        }
        return Ok(vec![Pair {
            key: unquote(first_raw, escape),
            value: Some(unquote(value, escape)),
        }]);
    }
    let words = split_words(text, escape).map_err(|m| ParseError {
        line: ins.line,
        column: ins.column,
        message: format!("{}: {m}", ins.keyword),
    })?;
    if words.is_empty() {
        return err(
            ins.line,
            ins.column,
            format!("{} needs at least one `key=value`", ins.keyword),
        );
    }
    let mut out = Vec::new();
    for w in &words {
        match w.raw.split_once('=') {
            Some((k, _)) => {
                let v = w.unquoted.split_once('=').map_or("", |(_, v)| v);
                out.push(Pair {
                    key: unquote(k, escape),
                    value: Some(v.to_string()),
                });
            }
            None if ins.keyword == Keyword::Arg => out.push(Pair {
                key: w.unquoted.clone(),
                value: None,
            }),
            None => {
                return err(
                    ins.line,
                    ins.column,
                    format!(
                        "{}: `{}` is not `key=value` (mixing the `key value` and `key=value` forms)",
                        ins.keyword, w.raw
                    ),
                );
            }
        }
    }
    Ok(out)
}

/// A whitespace-separated word, as written and with quotes removed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Word {
    pub raw: String,
    pub unquoted: String,
}

/// Splits on unquoted whitespace; quotes and escapes are kept in `raw` and removed
/// in `unquoted`.
pub fn split_words(text: &str, escape: char) -> Result<Vec<Word>, String> {
    let mut out = Vec::new();
    let mut raw = String::new();
    let mut unq = String::new();
    let mut quote: Option<char> = None;
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match quote {
            None if c.is_whitespace() => {
                if !raw.is_empty() {
                    out.push(Word {
                        raw: std::mem::take(&mut raw),
                        unquoted: std::mem::take(&mut unq),
                    });
                }
            }
            None if c == '"' || c == '\'' => {
                quote = Some(c);
                raw.push(c);
            }
            Some(q) if c == q => {
                quote = None;
                raw.push(c);
            }
            Some('\'') => {
                raw.push(c);
                unq.push(c);
            }
            _ if c == escape => {
                raw.push(c);
                if let Some(n) = chars.next() {
                    raw.push(n);
                    // Inside double quotes only the quote, the escape and `$` are escapable.
                    if quote == Some('"') && n != '"' && n != escape && n != '$' {
                        unq.push(c);
                    }
                    unq.push(n);
                } else {
                    unq.push(c);
                }
            }
            _ => {
                raw.push(c);
                unq.push(c);
            }
        }
    }
    if let Some(q) = quote {
        return Err(format!("unterminated {q} quote in `{text}`"));
    }
    if !raw.is_empty() {
        out.push(Word { raw, unquoted: unq });
    }
    Ok(out)
}

/// Removes quotes and escapes from a single value (legacy `ENV k v` values).
pub fn unquote(text: &str, escape: char) -> String {
    match split_words(text, escape) {
        Ok(words) => words
            .iter()
            .map(|w| w.unquoted.as_str())
            .collect::<Vec<_>>()
            .join(" "),
        Err(_) => text.to_string(),
    }
}

/// Parses a whole Dockerfile.
pub fn parse(text: &str) -> Result<Dockerfile, ParseError> {
    let lines: Vec<&str> = text
        .split('\n')
        .map(|l| l.strip_suffix('\r').unwrap_or(l))
        .collect();
    // A trailing newline yields one empty last element; it is not a line.
    let n = if text.ends_with('\n') {
        lines.len() - 1
    } else {
        lines.len()
    };
    let mut df = Dockerfile {
        escape: '\\',
        directives: Vec::new(),
        instructions: Vec::new(),
        comments: Vec::new(),
    };
    let mut i = 0;
    // Parser directives: `# name=value` lines at the very top.
    while i < n {
        let Some((name, value)) = directive(lines[i]) else {
            break;
        };
        let line = i as u32 + 1;
        if df
            .directives
            .iter()
            .any(|d| d.name.eq_ignore_ascii_case(&name))
        {
            return err(
                line,
                1,
                format!("parser directive `{name}` is given twice; keep one"),
            );
        }
        if name.eq_ignore_ascii_case("escape") {
            df.escape = match value.as_str() {
                "\\" => '\\',
                "`" => '`',
                _ => {
                    let col = lines[i].find(&value).map_or(1, |c| c as u32 + 1);
                    return err(
                        line,
                        col,
                        format!("invalid escape character `{value}`: use `\\` or `` ` ``"),
                    );
                }
            };
        }
        df.directives.push(Directive {
            name: name.to_ascii_lowercase(),
            value,
            line,
        });
        i += 1;
    }
    let esc = df.escape;
    while i < n {
        let line = lines[i];
        let trimmed = line.trim_start();
        if trimmed.is_empty() {
            i += 1;
            continue;
        }
        if let Some(c) = trimmed.strip_prefix('#') {
            df.comments.push(Comment {
                line: i as u32 + 1,
                text: c.trim().to_string(),
            });
            i += 1;
            continue;
        }
        let start = i;
        let indent = (line.len() - trimmed.len()) as u32;
        // Join continuation lines.
        let mut joined = String::new();
        let mut cur = trimmed;
        loop {
            let t = cur.trim_end();
            match t.strip_suffix(esc) {
                Some(body) => {
                    joined.push_str(body);
                    i += 1;
                    // Comment and blank lines inside a continuation are dropped.
                    while i < n {
                        let l = lines[i].trim_start();
                        if l.is_empty() {
                            i += 1;
                        } else if let Some(c) = l.strip_prefix('#') {
                            df.comments.push(Comment {
                                line: i as u32 + 1,
                                text: c.trim().to_string(),
                            });
                            i += 1;
                        } else {
                            break;
                        }
                    }
                    if i >= n {
                        break;
                    }
                    cur = lines[i];
                }
                _ => {
                    joined.push_str(cur);
                    break;
                }
            }
        }
        let mut end_line = i.min(n - 1);
        i += 1;
        let mut ins = parse_instruction(&joined, start as u32 + 1, indent + 1)?;
        // Heredoc bodies follow the (joined) instruction line.
        if matches!(ins.keyword, Keyword::Run | Keyword::Copy | Keyword::Add) {
            for (name, strip_tabs, quoted) in heredoc_markers(&ins.rest, esc) {
                let body_start = i;
                let mut body = String::new();
                let mut found = false;
                while i < n {
                    let l = if strip_tabs {
                        lines[i].trim_start_matches('\t')
                    } else {
                        lines[i]
                    };
                    i += 1;
                    if l == name {
                        found = true;
                        break;
                    }
                    body.push_str(l);
                    body.push('\n');
                }
                if !found {
                    return err(
                        ins.line,
                        ins.column,
                        format!(
                            "heredoc `<<{name}` of {} is not terminated: add a line `{name}`",
                            ins.keyword
                        ),
                    );
                }
                end_line = i - 1;
                ins.heredocs.push(Heredoc {
                    name,
                    strip_tabs,
                    quoted,
                    body,
                    line: body_start as u32 + 1,
                });
            }
        }
        ins.end_line = end_line as u32 + 1;
        ins.end_column = lines[end_line].chars().count() as u32 + 1;
        df.instructions.push(ins);
    }
    Ok(df)
}

/// `# name=value` with a name made of letters (BuildKit's directive syntax).
fn directive(line: &str) -> Option<(String, String)> {
    let rest = line.trim_start().strip_prefix('#')?;
    let (name, value) = rest.split_once('=')?;
    let name = name.trim();
    if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphabetic()) {
        return None;
    }
    Some((name.to_string(), value.trim().to_string()))
}

/// Heredoc markers in an instruction line: `<<NAME`, `<<-NAME`, `<<"NAME"`, `<<'NAME'`.
/// Not inside quotes, not `<<<` (a here-string) and not in exec form.
fn heredoc_markers(rest: &str, escape: char) -> Vec<(String, bool, bool)> {
    if rest.trim_start().starts_with('[') {
        return Vec::new();
    }
    let b: Vec<char> = rest.chars().collect();
    let mut out = Vec::new();
    let mut quote: Option<char> = None;
    let mut k = 0;
    while k < b.len() {
        let c = b[k];
        if let Some(q) = quote {
            if c == q {
                quote = None;
            } else if c == escape && q == '"' {
                k += 1;
            }
            k += 1;
            continue;
        }
        if c == escape {
            k += 2;
            continue;
        }
        if c == '"' || c == '\'' {
            quote = Some(c);
            k += 1;
            continue;
        }
        if c == '<' && b.get(k + 1) == Some(&'<') && b.get(k + 2) != Some(&'<') {
            let mut j = k + 2;
            let strip = b.get(j) == Some(&'-');
            if strip {
                j += 1;
            }
            let q = match b.get(j) {
                Some(&q) if q == '"' || q == '\'' => {
                    j += 1;
                    Some(q)
                }
                _ => None,
            };
            let s = j;
            // A delimiter starts with a letter or `_`: `$((1<<2))` is no heredoc.
            if !b.get(j).is_some_and(|c| c.is_alphabetic() || *c == '_') {
                k = j;
                continue;
            }
            while j < b.len()
                && (b[j].is_alphanumeric() || b[j] == '_' || b[j] == '-' || b[j] == '.')
            {
                j += 1;
            }
            let name: String = b[s..j].iter().collect();
            let closed = match q {
                Some(q) => b.get(j) == Some(&q),
                None => true,
            };
            if !name.is_empty() && closed {
                out.push((name, strip, q.is_some()));
                k = j + usize::from(q.is_some());
                continue;
            }
            k = j;
            continue;
        }
        k += 1;
    }
    out
}

/// Parses one logical (continuation-joined) instruction line.
fn parse_instruction(text: &str, line: u32, column: u32) -> Result<Instruction, ParseError> {
    let word_end = text.find(char::is_whitespace).unwrap_or(text.len());
    let word = &text[..word_end];
    let Some(keyword) = Keyword::parse(word) else {
        return err(
            line,
            column,
            format!("unknown instruction `{word}` (instructions are FROM, RUN, COPY, …)"),
        );
    };
    let mut rest = text[word_end..].trim_start();
    let mut flags = Vec::new();
    let allowed = keyword.flags();
    if !allowed.is_empty() {
        while let Some(f) = rest.strip_prefix("--") {
            let end = f.find(char::is_whitespace).unwrap_or(f.len());
            let (name, value) = match f[..end].split_once('=') {
                Some((n, v)) => (n.to_string(), Some(v.to_string())),
                None => (f[..end].to_string(), None),
            };
            let col = column + (text.len() - rest.len()) as u32;
            if name.is_empty() {
                return err(line, col, format!("{keyword}: empty flag `--`"));
            }
            if !allowed.contains(&name.as_str()) {
                return err(
                    line,
                    col,
                    format!(
                        "{keyword}: unknown flag `--{name}` (allowed: {})",
                        allowed
                            .iter()
                            .map(|a| format!("--{a}"))
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                );
            }
            flags.push(Flag { name, value });
            rest = f[end..].trim_start();
        }
    }
    let rest = rest.trim_end().to_string();
    let mut ins = Instruction {
        keyword,
        line,
        column,
        end_line: line,
        end_column: column,
        flags,
        rest,
        heredocs: Vec::new(),
        onbuild: None,
    };
    if ins.rest.is_empty() {
        return err(
            line,
            column,
            format!("{keyword} needs arguments (`{keyword} …`)"),
        );
    }
    if keyword == Keyword::Onbuild {
        let inner_col = column + (text.len() - text[word_end..].trim_start().len()) as u32;
        // `ONBUILD FROM`/`MAINTAINER`/`ONBUILD` are parsed and left to rule DL3043.
        let inner = parse_instruction(ins.rest.trim(), line, inner_col)?;
        ins.onbuild = Some(Box::new(inner));
    }
    Ok(ins)
}
