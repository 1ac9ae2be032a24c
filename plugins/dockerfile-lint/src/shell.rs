//! Just enough POSIX shell to find the commands a `RUN` executes.
//!
//! [`parse`] splits a script into simple commands (name + arguments with quotes
//! removed) across `;`, `&&`, `||`, `|`, `&`, newlines, subshells, `{ …; }`, `if`/
//! `while`/`for`/`case` bodies, and the insides of `$(…)` and backticks. Leading
//! `NAME=value` assignments and redirections (`> f`, `2>&1`, `<<EOF` with its body)
//! are not arguments. It records whether the script has a pipe (`|`, `|&`, not `||`).
//!
//! What it does not do: expansion (`$VAR` stays as written), aliases, functions,
//! arithmetic, and `sh -c '…'` strings (they stay one argument). Rules that need more
//! (ShellCheck's SC rules) are out of scope. It never fails: unbalanced quotes
//! end at the end of the script. Tests: at the bottom of this file.

/// One simple command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Command {
    pub name: String,
    pub args: Vec<String>,
}

/// The commands of a script, in order of appearance (inner `$(…)` after the outer).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Script {
    pub commands: Vec<Command>,
    pub has_pipe: bool,
}

impl Script {
    pub fn any(&self, f: impl Fn(&Command) -> bool) -> bool {
        self.commands.iter().any(f)
    }

    pub fn uses(&self, name: &str) -> bool {
        self.commands.iter().any(|c| c.name == name)
    }
}

impl Command {
    /// Named `name` and has one of `args` among its arguments.
    pub fn is(&self, name: &str, args: &[&str]) -> bool {
        self.name == name && self.args.iter().any(|a| args.contains(&a.as_str()))
    }

    pub fn has_arg(&self, arg: &str) -> bool {
        self.args.iter().any(|a| a == arg)
    }

    /// Flags the way option parsers read them: `--name[=v]` gives `name`, `-abc` gives
    /// `a`, `b`, `c`; `-` and `--` are not flags. Yields (argument index, flag).
    pub fn flags(&self) -> impl Iterator<Item = (usize, &str)> {
        self.args.iter().enumerate().flat_map(|(i, a)| {
            let v: Vec<(usize, &str)> = if a == "-" || a == "--" {
                Vec::new()
            } else if let Some(long) = a.strip_prefix("--") {
                vec![(i, long.split('=').next().unwrap_or(long))]
            } else if let Some(short) = a.strip_prefix('-') {
                short
                    .char_indices()
                    .map(|(k, c)| (i, &short[k..k + c.len_utf8()]))
                    .collect()
            } else {
                Vec::new()
            };
            v
        })
    }

    pub fn has_flag(&self, flag: &str) -> bool {
        self.flags().any(|(_, f)| f == flag)
    }

    pub fn has_any_flag(&self, flags: &[&str]) -> bool {
        self.flags().any(|(_, f)| flags.contains(&f))
    }

    /// Arguments that are not flags, leaving out the value that follows any flag in
    /// `with_value` (`-t release`, `--index-url URL`; `--x=v` carries its own).
    pub fn operands(&self, with_value: &[&str]) -> Vec<&str> {
        let mut out = Vec::new();
        let mut skip_next = false;
        for a in &self.args {
            if skip_next {
                skip_next = false;
                continue;
            }
            if a == "-" || a == "--" || !a.starts_with('-') {
                out.push(a.as_str());
                continue;
            }
            if a.contains('=') {
                continue;
            }
            let takes_value = if let Some(long) = a.strip_prefix("--") {
                with_value.contains(&long)
            } else {
                // Short flags cluster; only the last one can take the value.
                a.chars()
                    .last()
                    .is_some_and(|c| with_value.contains(&c.to_string().as_str()))
            };
            skip_next = takes_value;
        }
        out
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Tok {
    Word(String),
    /// `;`, `&&`, `||`, `|`, `|&`, `&`, `(`, `)`, `;;`, newline.
    Sep(&'static str),
    /// A redirection operator; the next word is its target.
    Redir,
    /// `<<` or `<<-`: the next word is a heredoc delimiter.
    Heredoc(bool),
}

/// Parses a shell script. Never fails.
pub fn parse(script: &str) -> Script {
    let mut out = Script::default();
    parse_into(script, &mut out, 0);
    out
}

fn parse_into(script: &str, out: &mut Script, depth: usize) {
    let chars: Vec<char> = script.chars().collect();
    let mut nested: Vec<String> = Vec::new();
    let toks = tokenize(&chars, &mut nested, &mut out.has_pipe);
    group(&toks, &mut out.commands);
    if depth < 8 {
        for n in nested {
            parse_into(&n, out, depth + 1);
        }
    }
}

fn tokenize(c: &[char], nested: &mut Vec<String>, has_pipe: &mut bool) -> Vec<Tok> {
    let mut toks = Vec::new();
    let mut i = 0;
    let mut word = String::new();
    let mut in_word = false;
    let mut pending_heredocs: Vec<(String, bool)> = Vec::new();
    macro_rules! flush {
        () => {
            if in_word {
                toks.push(Tok::Word(std::mem::take(&mut word)));
            }
            #[allow(unused_assignments)]
            {
                in_word = false;
            }
        };
    }
    while i < c.len() {
        let ch = c[i];
        match ch {
            '\\' => {
                if c.get(i + 1) == Some(&'\n') {
                    i += 2;
                    continue;
                }
                if let Some(&n) = c.get(i + 1) {
                    word.push(n);
                }
                in_word = true;
                i += 2;
            }
            '\'' => {
                in_word = true;
                i += 1;
                while i < c.len() && c[i] != '\'' {
                    word.push(c[i]);
                    i += 1;
                }
                i += 1;
            }
            '"' => {
                in_word = true;
                i += 1;
                while i < c.len() && c[i] != '"' {
                    if c[i] == '\\' && i + 1 < c.len() {
                        let n = c[i + 1];
                        if !matches!(n, '"' | '\\' | '$' | '`' | '\n') {
                            word.push('\\');
                        }
                        if n != '\n' {
                            word.push(n);
                        }
                        i += 2;
                        continue;
                    }
                    if c[i] == '$' && c.get(i + 1) == Some(&'(') {
                        i = substitution(c, i, &mut word, nested);
                        continue;
                    }
                    if c[i] == '`' {
                        i = backtick(c, i, &mut word, nested);
                        continue;
                    }
                    word.push(c[i]);
                    i += 1;
                }
                i += 1;
            }
            '$' if c.get(i + 1) == Some(&'(') => {
                in_word = true;
                i = substitution(c, i, &mut word, nested);
            }
            '$' if c.get(i + 1) == Some(&'\'') => {
                // ANSI-C quoting: keep the text, backslash escapes as written.
                in_word = true;
                i += 2;
                while i < c.len() && c[i] != '\'' {
                    if c[i] == '\\' && i + 1 < c.len() {
                        word.push(c[i]);
                        i += 1;
                    }
                    word.push(c[i]);
                    i += 1;
                }
                i += 1;
            }
            '`' => {
                in_word = true;
                i = backtick(c, i, &mut word, nested);
            }
            '#' if !in_word => {
                while i < c.len() && c[i] != '\n' {
                    i += 1;
                }
            }
            ' ' | '\t' | '\r' => {
                flush!();
                i += 1;
            }
            '\n' => {
                flush!();
                toks.push(Tok::Sep("\n"));
                i += 1;
                // Skip the bodies of heredocs opened on this line.
                for (delim, strip) in pending_heredocs.drain(..) {
                    while i < c.len() {
                        let end = c[i..]
                            .iter()
                            .position(|&x| x == '\n')
                            .map_or(c.len(), |p| i + p);
                        let line: String = c[i..end].iter().collect();
                        i = (end + 1).min(c.len());
                        let l = if strip {
                            line.trim_start_matches('\t')
                        } else {
                            &line
                        };
                        if l == delim {
                            break;
                        }
                    }
                }
            }
            ';' | '&' | '|' | '(' | ')' | '<' | '>' => {
                // `2>`: a word of digits right before a redirection is its fd.
                if (ch == '<' || ch == '>') && in_word && word.chars().all(|d| d.is_ascii_digit()) {
                    word.clear();
                    in_word = false;
                }
                flush!();
                let two: String = c[i..(i + 2).min(c.len())].iter().collect();
                let three: String = c[i..(i + 3).min(c.len())].iter().collect();
                if three == "<<<" {
                    toks.push(Tok::Redir);
                    i += 3;
                } else if two == "<<" {
                    let strip = c.get(i + 2) == Some(&'-');
                    i += 2 + usize::from(strip);
                    // Read the delimiter word now (quotes removed).
                    while i < c.len() && (c[i] == ' ' || c[i] == '\t') {
                        i += 1;
                    }
                    let mut d = String::new();
                    while i < c.len() && !c[i].is_whitespace() && !";&|<>()".contains(c[i]) {
                        if c[i] != '\'' && c[i] != '"' && c[i] != '\\' {
                            d.push(c[i]);
                        }
                        i += 1;
                    }
                    if !d.is_empty() {
                        pending_heredocs.push((d, strip));
                    }
                    toks.push(Tok::Heredoc(strip));
                } else if ["&&", "||", ";;"].contains(&two.as_str()) {
                    toks.push(Tok::Sep(match two.as_str() {
                        "&&" => "&&",
                        "||" => "||",
                        _ => ";;",
                    }));
                    i += 2;
                } else if two == "|&" {
                    *has_pipe = true;
                    toks.push(Tok::Sep("|"));
                    i += 2;
                } else if ["&>", ">>", ">&", "<&", ">|", "<>"].contains(&two.as_str()) {
                    toks.push(Tok::Redir);
                    i += 2;
                    if c.get(i) == Some(&'>') {
                        i += 1;
                    }
                    // `>&2`, `2>&1`: the fd is glued to the operator.
                    if two.ends_with('&')
                        && c.get(i).is_some_and(|d| d.is_ascii_digit() || *d == '-')
                    {
                        while i < c.len() && (c[i].is_ascii_digit() || c[i] == '-') {
                            i += 1;
                        }
                        toks.pop();
                    }
                } else {
                    match ch {
                        '<' | '>' => toks.push(Tok::Redir),
                        '|' => {
                            *has_pipe = true;
                            toks.push(Tok::Sep("|"));
                        }
                        ';' => toks.push(Tok::Sep(";")),
                        '&' => toks.push(Tok::Sep("&")),
                        '(' => toks.push(Tok::Sep("(")),
                        _ => toks.push(Tok::Sep(")")),
                    }
                    i += 1;
                }
            }
            _ => {
                in_word = true;
                word.push(ch);
                i += 1;
            }
        }
    }
    flush!();
    toks
}

/// `$(…)` at `i` (or `$((…))`, arithmetic, not a command): appends the raw text to
/// `word`, queues the inside for parsing, returns the index after `)`.
fn substitution(c: &[char], i: usize, word: &mut String, nested: &mut Vec<String>) -> usize {
    let arithmetic = c.get(i + 2) == Some(&'(');
    let mut depth = 0usize;
    let mut j = i + 1;
    let mut quote: Option<char> = None;
    while j < c.len() {
        let ch = c[j];
        match quote {
            Some(q) => {
                if ch == '\\' && q == '"' {
                    j += 1;
                } else if ch == q {
                    quote = None;
                }
            }
            None => match ch {
                '\\' => j += 1,
                '\'' | '"' => quote = Some(ch),
                '(' => depth += 1,
                ')' => {
                    depth -= 1;
                    if depth == 0 {
                        break;
                    }
                }
                _ => {}
            },
        }
        j += 1;
    }
    let end = j.min(c.len());
    let inner: String = c[(i + 2).min(end)..end].iter().collect();
    word.push_str(&c[i..(end + 1).min(c.len())].iter().collect::<String>());
    if !arithmetic {
        nested.push(inner);
    }
    end + 1
}

fn backtick(c: &[char], i: usize, word: &mut String, nested: &mut Vec<String>) -> usize {
    let mut j = i + 1;
    let mut inner = String::new();
    while j < c.len() && c[j] != '`' {
        if c[j] == '\\' && j + 1 < c.len() {
            inner.push(c[j + 1]);
            j += 2;
            continue;
        }
        inner.push(c[j]);
        j += 1;
    }
    word.push('`');
    word.push_str(&inner);
    word.push('`');
    nested.push(inner);
    j + 1
}

const RESERVED: &[&str] = &[
    "if", "then", "else", "elif", "fi", "do", "done", "while", "until", "!", "{", "}", "time",
    "esac",
];

fn is_assignment(w: &str) -> bool {
    match w.split_once('=') {
        Some((name, _)) => {
            let name = name.strip_suffix('+').unwrap_or(name);
            !name.is_empty()
                && name.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_')
                && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        }
        None => false,
    }
}

fn group(toks: &[Tok], out: &mut Vec<Command>) {
    let mut cur: Option<Command> = None;
    let mut i = 0;
    // `for x in …` / `case w in`: words that are not a command until the separator.
    let mut skip_until_sep = false;
    let mut case_depth = 0usize;
    let mut in_case_pattern = false;
    while i < toks.len() {
        match &toks[i] {
            Tok::Sep(s) => {
                if let Some(c) = cur.take() {
                    push(out, c);
                }
                skip_until_sep = false;
                if *s == ";;" && case_depth > 0 {
                    in_case_pattern = true;
                }
                if *s == ")" && in_case_pattern {
                    in_case_pattern = false;
                }
            }
            Tok::Redir | Tok::Heredoc(_) => {
                // The target word is not an argument.
                if matches!(toks.get(i + 1), Some(Tok::Word(_))) {
                    i += 1;
                }
            }
            Tok::Word(w) => {
                if w == "esac" && cur.is_none() && case_depth > 0 {
                    case_depth -= 1;
                    in_case_pattern = false;
                    i += 1;
                    continue;
                }
                if in_case_pattern || skip_until_sep {
                    if w == "do" && skip_until_sep {
                        skip_until_sep = false;
                    }
                    i += 1;
                    continue;
                }
                match &mut cur {
                    Some(c) => c.args.push(w.clone()),
                    None => {
                        if RESERVED.contains(&w.as_str()) || is_assignment(w) {
                        } else if w == "for" || w == "select" {
                            skip_until_sep = true;
                        } else if w == "case" {
                            case_depth += 1;
                            // `case WORD in`, then patterns up to `)`.
                            i += 1;
                            while i < toks.len() {
                                if let Tok::Word(x) = &toks[i]
                                    && x == "in"
                                {
                                    break;
                                }
                                i += 1;
                            }
                            in_case_pattern = true;
                        } else {
                            cur = Some(Command {
                                name: w.clone(),
                                args: Vec::new(),
                            });
                        }
                    }
                }
            }
        }
        i += 1;
    }
    if let Some(c) = cur.take() {
        push(out, c);
    }
}

/// `[ … ]` and `[[ … ]]` are conditions, not commands that do anything a rule cares
/// about (ShellCheck, and so hadolint, does not count them as commands either).
fn push(out: &mut Vec<Command>, c: Command) {
    if c.name != "[" && c.name != "[[" {
        out.push(c);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(s: &str) -> Vec<String> {
        parse(s).commands.into_iter().map(|c| c.name).collect()
    }

    #[test]
    fn splits_lists_and_pipelines() {
        assert_eq!(
            names("apt-get update && apt-get install -y curl; rm -rf /x || true"),
            ["apt-get", "apt-get", "rm", "true"]
        );
        let s = parse("curl -sL x | bash -");
        assert!(s.has_pipe);
        assert_eq!(s.commands[1].args, ["-"]);
        assert!(!parse("a || b").has_pipe);
        assert!(!parse("echo 'a | b'").has_pipe);
    }

    #[test]
    fn quotes_are_removed_from_arguments() {
        let s = parse(r#"echo "a b" 'c d' e\ f "x\"y""#);
        assert_eq!(s.commands[0].args, ["a b", "c d", "e f", "x\"y"]);
    }

    #[test]
    fn assignments_redirections_and_keywords_are_not_commands() {
        assert_eq!(names("FOO=1 BAR=2 make install > /dev/null 2>&1"), ["make"]);
        let s = parse("make install > /dev/null 2>&1");
        assert_eq!(s.commands[0].args, ["install"]);
        assert_eq!(
            names("if [ -f x ]; then cd /x; else echo no; fi"),
            ["cd", "echo"]
        );
        assert_eq!(names("for p in a b c; do pip install $p; done"), ["pip"]);
        assert_eq!(names("(cd /tmp && make) && { ls; }"), ["cd", "make", "ls"]);
        assert_eq!(
            names("case $(uname -m) in x86_64) echo amd ;; *) echo other ;; esac"),
            ["echo", "echo", "uname"]
        );
    }

    #[test]
    fn command_substitutions_are_parsed() {
        assert_eq!(
            names("echo $(curl -s x) `wget y`"),
            ["echo", "curl", "wget"]
        );
        assert_eq!(names("echo $((1 + 2))"), ["echo"]);
    }

    #[test]
    fn heredoc_bodies_are_skipped() {
        assert_eq!(
            names("cat <<EOF > /etc/x\nsudo rm -rf /\nEOF\napt-get update"),
            ["cat", "apt-get"]
        );
    }

    #[test]
    fn comments_are_ignored() {
        assert_eq!(names("# sudo make\nls # cd /x"), ["ls"]);
    }

    #[test]
    fn flags_and_operands() {
        let c =
            &parse("apt-get install -yq --no-install-recommends -t buster curl=1 wget").commands[0];
        assert!(c.has_flag("y") && c.has_flag("q") && c.has_flag("no-install-recommends"));
        assert_eq!(c.operands(&["t"]), ["install", "curl=1", "wget"]);
        assert_eq!(c.operands(&[]), ["install", "buster", "curl=1", "wget"]);
    }
}
