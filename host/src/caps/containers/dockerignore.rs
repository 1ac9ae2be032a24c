//! `.dockerignore` exactly as the Docker CLI applies it when it sends a build context.
//!
//! A user writes `.dockerignore` to keep files (keys, `.env`, caches) out of what
//! reaches the daemon. gantry archives build contexts itself, so it must leave out
//! exactly what `docker build` would: a file Docker would leave out but gantry sends is
//! a secret handed to the daemon (and to any `COPY . .`). The reference is the CLI's
//! code path, ported step by step:
//!
//! 1. reading the file (`moby/patternmatcher/ignorefile.ReadAll`): a UTF-8 BOM on the
//!    first line is dropped; lines starting with `#` are comments (only in column 1);
//!    lines are trimmed; a leading `!` marks an exception; each pattern is cleaned like
//!    Go's `filepath.Clean` and a leading `/` is dropped;
//! 2. the patterns (`patternmatcher.New`): cleaned again, syntax-checked with Go's
//!    `filepath.Match` (so `[a-`, a trailing `\`, a lone `!` make the build fail, as
//!    they make `docker build` fail), then compiled: a pattern without wildcards is an
//!    exact match, one ending in `**` a prefix, one starting with `**` and otherwise
//!    literal a suffix, anything else the regular expression the CLI builds from it
//!    (`*` → `[^/]*`, `?` → `[^/]`, `**` → `(.*/)?`, `\x` escapes, `[...]` passed
//!    through). That expression is evaluated here with Go's regexp semantics for the
//!    constructs it can contain — which is why `[!c]` is a class of `!` and `c` (Go
//!    negates only with `^`), and `[*]` matches `]` and `[]`;
//! 3. the walk (`go-archive.TarWithOptions`): files in lexical order, each matched
//!    with its parent directory's per-pattern results (`MatchesUsingParentResults`),
//!    later patterns overriding earlier ones; an excluded directory is descended into
//!    only if an exception pattern starts with its path, and is then not itself sent;
//! 4. `Dockerfile` and `.dockerignore` are always sent (`TrimBuildFilesFromExcludes`,
//!    with the CLI's deprecated `Matches`): the daemon drops them after reading.
//!
//! Refused, with an error naming the line: what makes the CLI fail (the cases above),
//! and what this port does not reproduce — a Go-regexp escape that is not a
//! punctuation character (`\d`, `\pL`), a POSIX class (`[[:alpha:]]`), a line that is
//! not UTF-8 or longer than the CLI's 64 KiB line buffer. Refusing is the safe side:
//! the build does not happen rather than sending something the user excluded.
//!
//! Tests: unit tests below (each form against what Docker 28's CLI did);
//! `tests/e2e/attack_containers.rs` builds one context with gantry and with
//! `docker build` and compares the files of both images.

/// One line of `.dockerignore` that cannot be used, and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`.dockerignore` line {line}: {why}")]
pub struct IgnoreError {
    pub line: usize,
    pub why: String,
}

/// The bufio.Scanner limit the CLI reads `.dockerignore` with.
const MAX_LINE: usize = 64 * 1024 - 1;

/// Reads `.dockerignore` like `ignorefile.ReadAll`: the patterns, with the 1-based
/// line each came from.
pub fn read_all(text: &[u8]) -> Result<Vec<(usize, String)>, IgnoreError> {
    let mut out = Vec::new();
    let mut lines: Vec<&[u8]> = text.split(|b| *b == b'\n').collect();
    // A final newline ends the last line; it does not start an empty one.
    if text.ends_with(b"\n") {
        lines.pop();
    }
    for (i, raw) in lines.into_iter().enumerate() {
        let line = i + 1;
        let mut raw = raw.strip_suffix(b"\r").unwrap_or(raw);
        if i == 0 {
            raw = raw.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(raw);
        }
        if raw.len() > MAX_LINE {
            return Err(IgnoreError {
                line,
                why: "is longer than the 64 KiB Docker reads per line".into(),
            });
        }
        let Ok(pattern) = std::str::from_utf8(raw) else {
            return Err(IgnoreError {
                line,
                why: "is not valid UTF-8".into(),
            });
        };
        if pattern.starts_with('#') {
            continue;
        }
        let mut pattern = pattern.trim();
        if pattern.is_empty() {
            continue;
        }
        let invert = pattern.starts_with('!');
        if invert {
            pattern = pattern[1..].trim();
        }
        let mut p = String::new();
        if !pattern.is_empty() {
            p = clean(pattern);
            if p.len() > 1 && p.starts_with('/') {
                p.remove(0);
            }
        }
        if invert {
            p.insert(0, '!');
        }
        out.push((line, p));
    }
    Ok(out)
}

/// Go's `path.Clean` (what `filepath.Clean` does on Unix).
pub fn clean(path: &str) -> String {
    let p = path.as_bytes();
    if p.is_empty() {
        return ".".into();
    }
    let rooted = p[0] == b'/';
    let n = p.len();
    let mut out: Vec<u8> = Vec::with_capacity(n);
    let (mut r, mut dotdot) = (0, 0);
    if rooted {
        out.push(b'/');
        r = 1;
        dotdot = 1;
    }
    while r < n {
        if p[r] == b'/' || (p[r] == b'.' && (r + 1 == n || p[r + 1] == b'/')) {
            // An empty or `.` element.
            r += 1;
        } else if p[r] == b'.' && p[r + 1] == b'.' && (r + 2 == n || p[r + 2] == b'/') {
            r += 2;
            if out.len() > dotdot {
                // Back to the last `/` (or to `dotdot`), as Go's lazybuf does.
                let mut w = out.len() - 1;
                while w > dotdot && out[w] != b'/' {
                    w -= 1;
                }
                out.truncate(w);
            } else if !rooted {
                if !out.is_empty() {
                    out.push(b'/');
                }
                out.extend_from_slice(b"..");
                dotdot = out.len();
            }
        } else {
            if (rooted && out.len() != 1) || (!rooted && !out.is_empty()) {
                out.push(b'/');
            }
            while r < n && p[r] != b'/' {
                out.push(p[r]);
                r += 1;
            }
        }
    }
    if out.is_empty() {
        return ".".into();
    }
    // Only whole ASCII bytes were removed from valid UTF-8.
    String::from_utf8(out).unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned())
}

/// Go's `filepath.Dir` for a slash path.
fn dir_of(path: &str) -> String {
    match path.rfind('/') {
        Some(i) => clean(&path[..=i]),
        None => ".".into(),
    }
}

/// How a compiled pattern matches (`patternmatcher.matchType`).
#[derive(Debug, Clone)]
enum Kind {
    Exact,
    /// The pattern minus its trailing `**`.
    Prefix(String),
    /// The pattern minus its leading `**`.
    Suffix(String),
    Regexp(Vec<Node>),
}

/// One pattern of the matcher.
#[derive(Debug, Clone)]
pub struct Pattern {
    cleaned: String,
    exclusion: bool,
    /// Components of `cleaned` (the deprecated `Matches` compares parent prefixes).
    dirs: usize,
    kind: Kind,
}

/// `.dockerignore` patterns, ready to match (`patternmatcher.PatternMatcher`).
#[derive(Debug, Clone, Default)]
pub struct Ignore {
    patterns: Vec<Pattern>,
}

/// Per-pattern results of a directory, handed to its entries
/// (`patternmatcher.MatchInfo`); empty for entries of the context's root.
#[derive(Debug, Clone, Default)]
pub struct MatchInfo(Vec<bool>);

impl Ignore {
    /// `patternmatcher.New` over `(line, pattern)` pairs.
    pub fn new(patterns: &[(usize, String)]) -> Result<Ignore, IgnoreError> {
        let mut out = Vec::new();
        for (line, p) in patterns {
            let fail = |why: String| IgnoreError { line: *line, why };
            let p = p.trim();
            if p.is_empty() {
                continue;
            }
            let mut p = clean(p);
            let mut exclusion = false;
            if let Some(rest) = p.strip_prefix('!') {
                if rest.is_empty() {
                    return Err(fail(
                        "`!` alone is not a pattern (Docker refuses it: \"illegal exclusion pattern\")"
                            .into(),
                    ));
                }
                exclusion = true;
                p = rest.to_string();
            }
            check_go_match_syntax(&p).map_err(|why| {
                fail(format!(
                    "`{}` is not a valid pattern ({why}); Docker refuses it too",
                    p.escape_debug()
                ))
            })?;
            let kind = compile(&p).map_err(|why| {
                fail(format!(
                    "`{}` uses {why}, which gantry does not reproduce exactly; write the pattern without it",
                    p.escape_debug()
                ))
            })?;
            out.push(Pattern {
                dirs: p.split('/').count(),
                cleaned: p,
                exclusion,
                kind,
            });
        }
        Ok(Ignore { patterns: out })
    }

    /// The matcher the CLI archives a context with: the file's patterns, plus
    /// exceptions for `.dockerignore` and the Dockerfile when they match
    /// (`TrimBuildFilesFromExcludes`), so both are always sent.
    pub fn for_context(text: &[u8], dockerfile: &str) -> Result<Ignore, IgnoreError> {
        let mut patterns = read_all(text)?;
        let last = patterns.last().map_or(0, |(l, _)| *l);
        let probe = Ignore::new(&patterns)?;
        if probe.matches_deprecated(".dockerignore") {
            patterns.push((last, "!.dockerignore".into()));
        }
        let probe = Ignore::new(&patterns)?;
        if probe.matches_deprecated(dockerfile) {
            patterns.push((last, format!("!{dockerfile}")));
        }
        Ignore::new(&patterns)
    }

    /// Whether any pattern is an exception (`!…`).
    pub fn has_exclusions(&self) -> bool {
        self.patterns.iter().any(|p| p.exclusion)
    }

    /// `patternmatcher.Matches` (deprecated, still what `TrimBuildFilesFromExcludes`
    /// uses): only one parent prefix is tried per pattern.
    pub fn matches_deprecated(&self, file: &str) -> bool {
        let file = clean(file);
        if file == "." {
            return false;
        }
        let parent = dir_of(&file);
        let parent_dirs: Vec<&str> = parent.split('/').collect();
        let mut matched = false;
        for p in &self.patterns {
            if p.exclusion != matched {
                continue;
            }
            let mut hit = p.matches(file.as_bytes());
            if !hit && parent != "." && p.dirs <= parent_dirs.len() {
                hit = p.matches(parent_dirs[..p.dirs].join("/").as_bytes());
            }
            if hit {
                matched = !p.exclusion;
            }
        }
        matched
    }

    /// `MatchesUsingParentResults`: whether `file` (context-relative, `/`-separated)
    /// is excluded, given its directory's results; and its own results for its entries.
    pub fn matches(&self, file: &[u8], parent: &MatchInfo) -> (bool, MatchInfo) {
        let mut matched = false;
        let mut info = vec![false; self.patterns.len()];
        for (i, p) in self.patterns.iter().enumerate() {
            let mut hit = parent.0.get(i).copied().unwrap_or(false);
            if !hit {
                if p.exclusion != matched {
                    continue;
                }
                hit = p.matches(file);
                // With no parent results (an entry of the root), the CLI tries the
                // parent directories; the root's entries have none.
            }
            info[i] = hit;
            if hit {
                matched = !p.exclusion;
            }
        }
        (matched, MatchInfo(info))
    }

    /// For an excluded directory: whether the CLI still descends into it, because an
    /// exception pattern starts with its path (`dir/` is a prefix of `pattern/`).
    pub fn descend_excluded(&self, dir: &[u8]) -> bool {
        if !self.has_exclusions() {
            return false;
        }
        let mut dir_slash = dir.to_vec();
        dir_slash.push(b'/');
        self.patterns.iter().filter(|p| p.exclusion).any(|p| {
            let mut with = p.cleaned.as_bytes().to_vec();
            with.push(b'/');
            with.starts_with(&dir_slash)
        })
    }
}

impl Pattern {
    fn matches(&self, path: &[u8]) -> bool {
        match &self.kind {
            Kind::Exact => path == self.cleaned.as_bytes(),
            Kind::Prefix(prefix) => path.starts_with(prefix.as_bytes()),
            Kind::Suffix(suffix) => {
                path.ends_with(suffix.as_bytes())
                    || (suffix.starts_with('/') && path == &suffix.as_bytes()[1..])
            }
            Kind::Regexp(nodes) => regexp_matches(nodes, &go_chars(path)),
        }
    }
}

/// `path` as Go ranges over it: valid UTF-8 as characters, each invalid byte as
/// U+FFFD.
fn go_chars(path: &[u8]) -> Vec<char> {
    let mut out = Vec::with_capacity(path.len());
    let mut rest = path;
    while !rest.is_empty() {
        match std::str::from_utf8(rest) {
            Ok(s) => {
                out.extend(s.chars());
                break;
            }
            Err(e) => {
                let (good, bad) = rest.split_at(e.valid_up_to());
                out.extend(std::str::from_utf8(good).unwrap_or_default().chars());
                out.push('\u{FFFD}');
                rest = &bad[1..];
            }
        }
    }
    out
}

/// The syntax check `patternmatcher.New` runs through Go's `filepath.Match(p, ".")`:
/// every chunk between unbracketed `*`s must parse as `filepath.Match` reads it.
fn check_go_match_syntax(pattern: &str) -> Result<(), String> {
    let b = pattern.as_bytes();
    let mut i = 0;
    while i < b.len() {
        while i < b.len() && b[i] == b'*' {
            i += 1;
        }
        // scanChunk: up to the next `*` outside brackets.
        let start = i;
        let mut inrange = false;
        while i < b.len() {
            match b[i] {
                b'\\' if i + 1 < b.len() => i += 1,
                b'[' => inrange = true,
                b']' => inrange = false,
                b'*' if !inrange => break,
                _ => {}
            }
            i += 1;
        }
        check_chunk(&pattern[start..i])?;
    }
    Ok(())
}

/// `filepath.matchChunk`'s parse of one chunk.
fn check_chunk(chunk: &str) -> Result<(), String> {
    let mut c = chunk;
    while let Some(first) = c.chars().next() {
        match first {
            '[' => {
                c = &c[1..];
                if let Some(rest) = c.strip_prefix('^') {
                    c = rest;
                }
                let mut nrange = 0;
                loop {
                    if nrange > 0 && c.starts_with(']') {
                        c = &c[1..];
                        break;
                    }
                    c = class_escape(c)?;
                    if let Some(rest) = c.strip_prefix('-') {
                        c = class_escape(rest)?;
                    }
                    nrange += 1;
                }
            }
            '\\' => {
                c = &c[1..];
                let Some(next) = c.chars().next() else {
                    return Err("it ends with an unescaped `\\`".into());
                };
                c = &c[next.len_utf8()..];
            }
            other => c = &c[other.len_utf8()..],
        }
    }
    Ok(())
}

/// `filepath.getEsc`: one (possibly escaped) character of a class; what follows it.
fn class_escape(c: &str) -> Result<&str, String> {
    let bad = || "a `[` class is unterminated, empty, or has an unescaped `-` or `]`".to_string();
    let mut c = c;
    if c.is_empty() || c.starts_with('-') || c.starts_with(']') {
        return Err(bad());
    }
    if let Some(rest) = c.strip_prefix('\\') {
        c = rest;
        if c.is_empty() {
            return Err(bad());
        }
    }
    let ch = c.chars().next().ok_or_else(bad)?;
    let rest = &c[ch.len_utf8()..];
    if rest.is_empty() {
        return Err(bad());
    }
    Ok(rest)
}

/// What `Pattern.compile` produces: the match kind, and for expressions the Go
/// regexp source parsed into [`Node`]s.
fn compile(pattern: &str) -> Result<Kind, String> {
    #[derive(PartialEq, Clone, Copy)]
    enum T {
        Exact,
        Prefix,
        Suffix,
        Regexp,
    }
    let chars: Vec<char> = pattern.chars().collect();
    if chars.contains(&'\u{FEFF}') {
        return Err("a byte-order mark".into());
    }
    let mut re = String::from("^");
    let mut t = T::Exact;
    let mut k = 0;
    let mut i = 0;
    while k < chars.len() {
        let ch = chars[k];
        k += 1;
        match ch {
            '*' if chars.get(k) == Some(&'*') => {
                k += 1;
                if chars.get(k) == Some(&'/') {
                    k += 1;
                }
                if k == chars.len() {
                    if t == T::Exact {
                        t = T::Prefix;
                    } else {
                        re.push_str(".*");
                        t = T::Regexp;
                    }
                } else {
                    re.push_str("(.*/)?");
                    t = T::Regexp;
                }
                if i == 0 {
                    t = T::Suffix;
                }
            }
            '*' => {
                re.push_str("[^/]*");
                t = T::Regexp;
            }
            '?' => {
                re.push_str("[^/]");
                t = T::Regexp;
            }
            '.' | '+' | '(' | ')' | '|' | '{' | '}' | '$' => {
                re.push('\\');
                re.push(ch);
            }
            '\\' => {
                if k < chars.len() {
                    re.push('\\');
                    re.push(chars[k]);
                    k += 1;
                    t = T::Regexp;
                } else {
                    re.push('\\');
                }
            }
            '[' | ']' => {
                re.push(ch);
                t = T::Regexp;
            }
            other => re.push(other),
        }
        i += 1;
    }
    Ok(match t {
        T::Exact => Kind::Exact,
        T::Prefix => Kind::Prefix(pattern[..pattern.len() - 2].to_string()),
        T::Suffix => Kind::Suffix(pattern[2..].to_string()),
        T::Regexp => {
            re.push('$');
            Kind::Regexp(parse_go_regexp(&re.chars().collect::<Vec<_>>())?)
        }
    })
}

/// One item of the expressions [`compile`] builds, as Go's regexp parses them.
#[derive(Debug, Clone, PartialEq)]
enum Atom {
    Lit(char),
    /// `[...]`: inclusive ranges, negated with `^`.
    Class(bool, Vec<(char, char)>),
    /// `.`: any character but `\n`.
    Dot,
    /// `(.*/)`: any run without `\n`, then `/`.
    DirsGroup,
    Start,
    End,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Rep {
    One,
    Star,
    Opt,
}

#[derive(Debug, Clone, PartialEq)]
struct Node(Atom, Rep);

/// Parses the subset of Go regexp syntax [`compile`] can emit; anything else is an
/// error (the caller refuses the pattern).
fn parse_go_regexp(s: &[char]) -> Result<Vec<Node>, String> {
    let mut out: Vec<Node> = Vec::new();
    let mut k = 0;
    while k < s.len() {
        let c = s[k];
        k += 1;
        let atom = match c {
            '^' => Atom::Start,
            '$' => Atom::End,
            '\\' => {
                let e = *s.get(k).ok_or("a trailing `\\`")?;
                k += 1;
                Atom::Lit(punct_escape(e)?)
            }
            '[' => {
                let (atom, next) = parse_class(s, k)?;
                k = next;
                atom
            }
            '(' => {
                let rest: String = s[k..].iter().take(5).collect();
                if rest != ".*/)?" {
                    return Err("a `(` group".into());
                }
                k += 5;
                out.push(Node(Atom::DirsGroup, Rep::Opt));
                continue;
            }
            '.' => Atom::Dot,
            '*' | '?' => {
                let Some(Node(last, rep)) = out.last_mut() else {
                    return Err("a repetition with nothing to repeat".into());
                };
                if *rep != Rep::One || matches!(last, Atom::Start | Atom::End) {
                    return Err("a repetition of a repetition or an anchor".into());
                }
                *rep = if c == '*' { Rep::Star } else { Rep::Opt };
                continue;
            }
            '+' | '{' | '}' | '|' | ')' => return Err(format!("a bare `{c}`")),
            other => Atom::Lit(other),
        };
        out.push(Node(atom, Rep::One));
    }
    Ok(out)
}

/// Go regexp: a backslash before ASCII punctuation is that character; every other
/// escape (`\d`, `\pL`, `\x41`, `\1`) means something else and is not reproduced.
fn punct_escape(e: char) -> Result<char, String> {
    if e.is_ascii() && !e.is_ascii_alphanumeric() {
        Ok(e)
    } else {
        Err(format!("the regular-expression escape `\\{e}`"))
    }
}

/// A Go regexp class starting after its `[`; the atom and the index after its `]`.
fn parse_class(s: &[char], mut k: usize) -> Result<(Atom, usize), String> {
    let unterminated = || "a `[` class the regular expression never closes".to_string();
    let mut negated = false;
    if s.get(k) == Some(&'^') {
        negated = true;
        k += 1;
    }
    let mut ranges = Vec::new();
    let mut first = true;
    loop {
        let c = *s.get(k).ok_or_else(unterminated)?;
        if c == ']' && !first {
            k += 1;
            break;
        }
        first = false;
        if c == '[' && s.get(k + 1) == Some(&':') {
            return Err("a POSIX class `[:name:]`".into());
        }
        let (lo, next) = class_char(s, k)?;
        k = next;
        let mut hi = lo;
        if s.get(k) == Some(&'-') && s.get(k + 1).is_some_and(|c| *c != ']') {
            let (h, next) = class_char(s, k + 1)?;
            if h < lo {
                return Err(format!("the reversed range `{lo}-{h}`"));
            }
            hi = h;
            k = next;
        }
        ranges.push((lo, hi));
    }
    Ok((Atom::Class(negated, ranges), k))
}

fn class_char(s: &[char], k: usize) -> Result<(char, usize), String> {
    match s.get(k) {
        None => Err("a `[` class the regular expression never closes".into()),
        Some('\\') => {
            let e = *s.get(k + 1).ok_or("a trailing `\\`")?;
            Ok((punct_escape(e)?, k + 2))
        }
        Some(c) => Ok((*c, k + 1)),
    }
}

impl Atom {
    fn accepts(&self, c: char) -> bool {
        match self {
            Atom::Lit(l) => *l == c,
            Atom::Class(negated, ranges) => {
                ranges.iter().any(|(lo, hi)| (*lo..=*hi).contains(&c)) != *negated
            }
            Atom::Dot => c != '\n',
            Atom::DirsGroup | Atom::Start | Atom::End => false,
        }
    }
}

/// Whether `nodes` match all of `t`: a simulation over the set of positions reached,
/// linear in `nodes × t` (no backtracking).
fn regexp_matches(nodes: &[Node], t: &[char]) -> bool {
    let n = t.len();
    let mut reach = vec![false; n + 1];
    reach[0] = true;
    for Node(atom, rep) in nodes {
        let mut next = vec![false; n + 1];
        match (atom, rep) {
            (Atom::Start, _) => next[0] = reach[0],
            (Atom::End, _) => next[n] = reach[n],
            (Atom::DirsGroup, _) => {
                next.copy_from_slice(&reach);
                let mut open = false;
                for j in 0..n {
                    open |= reach[j];
                    if open && t[j] == '/' {
                        next[j + 1] = true;
                    }
                    if t[j] == '\n' {
                        open = false;
                    }
                }
            }
            (a, Rep::One) => {
                for j in 0..n {
                    next[j + 1] = reach[j] && a.accepts(t[j]);
                }
            }
            (a, Rep::Opt) => {
                next.copy_from_slice(&reach);
                for j in 0..n {
                    if reach[j] && a.accepts(t[j]) {
                        next[j + 1] = true;
                    }
                }
            }
            (a, Rep::Star) => {
                let mut open = false;
                for j in 0..=n {
                    open |= reach[j];
                    next[j] = open;
                    if j < n && !a.accepts(t[j]) {
                        open = false;
                    }
                }
            }
        }
        reach = next;
    }
    reach[n]
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn ignore(text: &str) -> Ignore {
        Ignore::new(&read_all(text.as_bytes()).unwrap()).unwrap()
    }

    /// Whether `path` is left out, walking its parents first as the CLI does.
    fn excluded(i: &Ignore, path: &str) -> bool {
        let mut info = MatchInfo::default();
        let mut so_far = String::new();
        let parts: Vec<&str> = path.split('/').collect();
        for (n, part) in parts.iter().enumerate() {
            if !so_far.is_empty() {
                so_far.push('/');
            }
            so_far.push_str(part);
            let (skip, next) = i.matches(so_far.as_bytes(), &info);
            if n + 1 == parts.len() {
                return skip;
            }
            if skip && !i.descend_excluded(so_far.as_bytes()) {
                return true;
            }
            info = next;
        }
        false
    }

    #[test]
    fn reading_follows_ignorefile_read_all() {
        let text = "\u{FEFF}test1\n/test2\n/a/file/here\n\nlastfile\n# this is a comment\n! /inverted/abs/path\n!\n! \n #x\r\na/../b/./c//\n";
        let got: Vec<String> = read_all(text.as_bytes())
            .unwrap()
            .into_iter()
            .map(|(_, p)| p)
            .collect();
        assert_eq!(
            got,
            [
                "test1",
                "test2",
                "a/file/here",
                "lastfile",
                "!inverted/abs/path",
                "!",
                "!",
                "#x",
                "b/c"
            ]
        );
        assert_eq!(clean("../a/../../b"), "../../b");
        assert_eq!(clean("/../a"), "/a");
        assert_eq!(clean(""), ".");
        assert_eq!(clean("a/.."), ".");
        assert_eq!(clean("a/b/../c/./d/"), "a/c/d");
        assert_eq!(clean("//a//b"), "/a/b");
    }

    /// What Docker 28's CLI left out of a context with this `.dockerignore` (checked
    /// by building it: `tests/e2e/attack_containers.rs` repeats it on every run).
    #[test]
    fn each_form_matches_what_docker_leaves_out() {
        let i = ignore(
            "file?.log\n[ab].txt\n[!c].txt\n\\*.md\n[*]\n**foo\nkeep\n!keep/k.txt\nd1\n!d1/d2/keep.txt\n/sp ace\nq\\?.x\n[^x-z]y\n**/*.key\ntarget/**\n",
        );
        for out in [
            "file1.log",
            "a.txt",
            "b.txt",
            "c.txt",
            "!.txt",
            "*.md",
            "]",
            "[]",
            "afoo",
            "foo",
            "sub/foo",
            "keep/other.txt",
            "d1/d2/drop.txt",
            "sp ace",
            "q?.x",
            "ay",
            "deep/er/id.key",
            "top.key",
            "target/debug/x",
        ] {
            assert!(excluded(&i, out), "{out} is left out");
        }
        for kept in [
            "file12.log",
            "^.txt",
            "x.md",
            "sub/deep/foo.txt",
            "keep/k.txt",
            "d1/d2/keep.txt",
            "qa.x",
            "xy",
            "zy",
            "target",
        ] {
            assert!(!excluded(&i, kept), "{kept} is sent");
        }
        // `target/**` is a prefix match: `target` itself does not start with `target/`.
        assert!(!i.descend_excluded(b"keepx"));
        assert!(i.descend_excluded(b"keep"));
        assert!(i.descend_excluded(b"d1/d2"));
    }

    #[test]
    fn later_patterns_override_earlier_ones() {
        let i = ignore("*.log\n!important.log\nimportant.log\n");
        assert!(excluded(&i, "important.log"));
        let i = ignore("*.log\n!important.log\n");
        assert!(!excluded(&i, "important.log"));
        assert!(excluded(&i, "other.log"));
        // A parent's match carries to its entries, and only an exception naming a
        // path below it opens the directory again.
        let i = ignore("secrets\n!secrets/public.pem\n");
        assert!(excluded(&i, "secrets/private.pem"));
        assert!(!excluded(&i, "secrets/public.pem"));
        let i = ignore("secrets\n!*/public.pem\n");
        assert!(excluded(&i, "secrets/public.pem"), "the CLI never descends");
    }

    #[test]
    fn docker_syntax_errors_are_errors() {
        for bad in ["[a-", "a\\", "[]", "[a-]", "!", "[^]"] {
            let r = Ignore::new(&read_all(bad.as_bytes()).unwrap());
            assert!(r.is_err(), "{bad:?} must fail as Docker fails");
        }
        for unsupported in ["\\d", "a[[:alpha:]]", "\\pL"] {
            let e = Ignore::new(&read_all(unsupported.as_bytes()).unwrap()).unwrap_err();
            assert!(e.why.contains("does not reproduce"), "{e}");
        }
        let e = read_all(b"ok\n\xff\n").unwrap_err();
        assert_eq!(e.line, 2);
    }

    #[test]
    fn dockerfile_and_dockerignore_are_always_sent() {
        let i = Ignore::for_context(b"*\n", "build/Dockerfile").unwrap();
        assert!(!excluded(&i, ".dockerignore"));
        assert!(!excluded(&i, "build/Dockerfile"));
        assert!(excluded(&i, "build/other"));
        assert!(excluded(&i, "src/main.rs"));
    }

    #[test]
    fn matching_is_linear_in_the_path() {
        let i = ignore(&format!("{}b\n", "*a".repeat(100)));
        let long = "a".repeat(20_000);
        assert!(!excluded(&i, &long));
        // Invalid UTF-8 in a file name counts one character per byte, as in Go.
        let i = ignore("?\n");
        assert!(i.matches(b"\xff", &MatchInfo::default()).0);
        assert!(!i.matches(b"\xff\xfe", &MatchInfo::default()).0);
    }
}
