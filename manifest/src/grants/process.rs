//! `grants.process`: host commands a plugin may run, with argument globs.
//!
//! [`ProcessGrant::matches`] is pure, total and never panics (a fuzz target); its
//! glob matcher is iterative (no recursion, `O(pattern × argument)` at worst).

use std::time::Duration;

use serde::{Deserialize, Serialize};
use toml::Spanned;
use toml::de::DeValue;

use crate::parse::parse_timeout;
use crate::secrets::env_name_error;
use crate::units::{format_size, parse_size};
use crate::walk::{Cx, Val, span_of, type_name};

/// Default cap on a command's stdout and on its stderr, each: 4 MiB.
pub const DEFAULT_PROCESS_OUTPUT: u64 = 4 << 20;
/// Range of `output`.
const OUTPUT_RANGE: (u64, u64) = (1 << 10, 1 << 30);

/// One entry of `grants.process`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ProcessGrant {
    /// A bare command name (no `/`), resolved on the host's `PATH`.
    pub cmd: String,
    /// One glob per argument position; `"**"` as the last element matches any
    /// number of remaining arguments (including none). Empty: no arguments.
    pub args: Vec<String>,
    /// Variable names the plugin may set for the command.
    pub env: Vec<String>,
    /// `read-only = true`: the command changes nothing, so it runs under `--dry-run`
    /// too. Default `false`: under `--dry-run` the command is not run.
    pub read_only: bool,
    /// At most 24h; `None`: the stage's timeout bounds it.
    pub timeout: Option<Duration>,
    /// Cap in bytes on stdout and on stderr, each (default [`DEFAULT_PROCESS_OUTPUT`]).
    pub output: u64,
}

/// Commands that run whatever their arguments say: granting one with a free
/// argument grants every command.
const LAUNCHERS: &[&str] = &[
    "sh", "bash", "dash", "zsh", "fish", "ksh", "mksh", "csh", "tcsh", "ash", "busybox", "env",
    "xargs", "sudo", "doas", "su", "pkexec", "nice", "nohup", "timeout", "setsid", "stdbuf",
];

/// Longest argument value quoted in a denial.
const SHOWN: usize = 80;

fn shown(s: &str) -> String {
    let mut out: String = s
        .chars()
        .take(SHOWN)
        .collect::<String>()
        .escape_debug()
        .to_string();
    if s.chars().count() > SHOWN {
        out.push('…');
    }
    out
}

impl ProcessGrant {
    /// Ok if `program` equals `cmd` and every argument matches its glob (`*` any
    /// characters including `/`, `?` one character, nothing else special; in a glob
    /// that contains `/`, wildcards never stand for a `..` segment); otherwise
    /// why not, naming the first failing argument (1-based) and the glob it had to
    /// match, or the number of arguments the grant takes.
    pub fn matches(&self, program: &str, args: &[String]) -> Result<(), String> {
        if program != self.cmd {
            return Err(format!(
                "command `{}` is not the granted command `{}`",
                shown(program),
                self.cmd
            ));
        }
        let (fixed, rest) = match self.args.split_last() {
            Some((last, fixed)) if last == "**" => (fixed, true),
            _ => (self.args.as_slice(), false),
        };
        for (i, arg) in args.iter().enumerate() {
            match fixed.get(i) {
                Some(glob) if glob_match(glob, arg) => {
                    if !arg_matches(glob, arg) {
                        return Err(format!(
                            "argument {} `{}` matches `{glob}` only through `..`: in a glob \
                             that names a path, a wildcard never stands for a `..` segment \
                             (it would lead out of the directory the grant names); pass the \
                             path without `..`",
                            i + 1,
                            shown(arg)
                        ));
                    }
                }
                Some(glob) => {
                    return Err(format!(
                        "argument {} `{}` does not match `{glob}`",
                        i + 1,
                        shown(arg)
                    ));
                }
                None if rest => return Ok(()),
                None => {
                    let n = fixed.len();
                    return Err(format!(
                        "`{}` takes at most {n} argument{} under this grant, got {}",
                        self.cmd,
                        if n == 1 { "" } else { "s" },
                        args.len()
                    ));
                }
            }
        }
        if let Some(glob) = fixed.get(args.len()) {
            return Err(format!(
                "argument {} is missing: the grant requires one matching `{glob}`",
                args.len() + 1
            ));
        }
        Ok(())
    }
}

/// The whole per-argument rule of [`ProcessGrant::matches`]: the glob matches and does
/// not admit a `..` escape. (Public only through [`crate::fuzzing`].)
pub fn arg_matches(glob: &str, arg: &str) -> bool {
    glob_match(glob, arg) && !escapes_through_dotdot(glob, arg)
}

/// Whether `arg` has more `..` path segments than `glob` spells out, for a glob that
/// names a path (contains `/`): `/lib/lib*.so*` must not admit
/// `/lib/lib.so/../../etc/shadow`. A glob without `/` (`*`, `--format=*`) grants any
/// value on purpose and is left alone.
fn escapes_through_dotdot(glob: &str, arg: &str) -> bool {
    let dotdots = |s: &str| {
        s.split(['/', '=', ':', ','])
            .filter(|seg| *seg == "..")
            .count()
    };
    glob.contains('/') && dotdots(arg) > dotdots(glob)
}

/// `*` any run of characters (including `/`), `?` one character, the rest literal.
/// (Public only through [`crate::fuzzing`].)
pub fn glob_match(pattern: &str, text: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let t: Vec<char> = text.chars().collect();
    let (mut pi, mut ti) = (0, 0);
    // Where the last `*` was, and the text position it currently stands for.
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        if pi < p.len() && p[pi] == '*' {
            star = Some((pi, ti));
            pi += 1;
        } else if pi < p.len() && (p[pi] == '?' || p[pi] == t[ti]) {
            pi += 1;
            ti += 1;
        } else if let Some((sp, st)) = star {
            pi = sp + 1;
            ti = st + 1;
            star = Some((sp, st + 1));
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|c| *c == '*')
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ProcessToml {
    cmd: Spanned<String>,
    #[serde(default)]
    args: Vec<Spanned<String>>,
    #[serde(default)]
    env: Vec<Spanned<String>>,
    #[serde(default, rename = "read-only")]
    read_only: bool,
    // Read from the tree with the duration and size parsers (better errors than serde's).
    #[allow(dead_code)]
    timeout: Option<serde::de::IgnoredAny>,
    #[allow(dead_code)]
    output: Option<serde::de::IgnoredAny>,
}

const EXAMPLE: &str = "e.g. `grants.process = [{ cmd = \"cargo\", args = [\"clippy\", \"**\"] }]`";

pub(crate) fn parse(cx: &mut Cx<'_>, v: &Val<'_>, stage: &str) -> Vec<ProcessGrant> {
    let what = format!("`grants.process` of stage `{stage}`");
    let DeValue::Array(items) = v.get_ref() else {
        let d = cx.type_error(v, "a list of commands", &what);
        // An inline table written alone: show it wrapped in a list.
        let written = cx.source.get(v.span()).unwrap_or("");
        let hint = if v.get_ref().is_table() && written.starts_with('{') && !written.contains('\n')
        {
            format!("write a list: `grants.process = [{written}]`")
        } else {
            EXAMPLE.to_string()
        };
        cx.push(d.with_hint(hint));
        return Vec::new();
    };
    let mut out = Vec::new();
    for item in items {
        let DeValue::Table(table) = item.get_ref() else {
            let d = cx.diag(
                span_of(item),
                format!(
                    "expected a table in {what}, found {}",
                    type_name(item.get_ref())
                ),
            );
            let hint = match item.get_ref().as_str() {
                Some(s) if !s.contains(char::is_whitespace) => format!(
                    "a command is a table: `{{ cmd = \"{}\", args = [...] }}`",
                    s.escape_debug()
                ),
                _ => EXAMPLE.to_string(),
            };
            cx.push(d.with_hint(hint));
            continue;
        };
        let Some(raw) = cx.ok(cx.deserialize::<ProcessToml>(
            item,
            "grants.process",
            &format!("stage `{stage}`"),
        )) else {
            continue;
        };
        let mut ok = check_cmd(cx, &raw.cmd, &what);
        ok &= check_args(cx, raw.cmd.get_ref(), &raw.args, &what);
        let mut env: Vec<String> = Vec::new();
        for name in &raw.env {
            match env_error(name.get_ref()) {
                Some((why, hint)) => {
                    cx.error(span_of(name), format!("`env` in {what}: {why}"), Some(hint));
                    ok = false;
                }
                None if !env.contains(name.get_ref()) => env.push(name.get_ref().clone()),
                None => {}
            }
        }
        let mut timeout = None;
        if let Some(t) = table.get("timeout") {
            timeout = parse_timeout(cx, t, &what);
            ok &= timeout.is_some();
        }
        let mut output = DEFAULT_PROCESS_OUTPUT;
        if let Some(o) = table.get("output") {
            match parse_output(cx, o, &what) {
                Some(n) => output = n,
                None => ok = false,
            }
        }
        if ok {
            out.push(ProcessGrant {
                cmd: raw.cmd.into_inner(),
                args: raw.args.into_iter().map(Spanned::into_inner).collect(),
                env,
                read_only: raw.read_only,
                timeout,
                output,
            });
        }
    }
    out
}

fn check_cmd(cx: &mut Cx<'_>, cmd: &Spanned<String>, what: &str) -> bool {
    let c = cmd.get_ref();
    let problem = if c.is_empty() {
        Some((
            "`cmd` is empty".to_string(),
            "name the command, e.g. `cmd = \"cargo\"`".to_string(),
        ))
    } else if c.chars().all(|ch| ch == '*' || ch == '?') {
        Some((
            format!(
                "`cmd = \"{}\"` matches every command, which grants everything",
                c.escape_debug()
            ),
            "grant each command by its exact name, e.g. `cmd = \"cargo\"`".to_string(),
        ))
    } else if c.contains(['*', '?']) {
        Some((
            format!(
                "`cmd = \"{}\"` is a glob; commands are granted by their exact name",
                c.escape_debug()
            ),
            "grant each command by its exact name, e.g. `cmd = \"cargo\"`".to_string(),
        ))
    } else if c.contains(['/', '\\']) {
        let base = c.rsplit(['/', '\\']).next().unwrap_or("");
        Some((
            format!(
                "`cmd = \"{}\"` is a path; a command is granted by its name",
                c.escape_debug()
            ),
            if base.is_empty() {
                "the host finds the command on its own `PATH`".to_string()
            } else {
                format!(
                    "the host finds the command on its own `PATH`: `cmd = \"{}\"`",
                    base.escape_debug()
                )
            },
        ))
    } else if c.chars().any(|ch| ch.is_whitespace() || ch.is_control()) {
        let mut words = c.split_whitespace();
        let first = words.next().unwrap_or("");
        let rest: Vec<String> = words.map(|w| format!("\"{}\"", w.escape_debug())).collect();
        Some((
            format!("`cmd = \"{}\"` contains whitespace", c.escape_debug()),
            format!(
                "put the arguments in `args`: `cmd = \"{}\", args = [{}]`",
                first.escape_debug(),
                rest.join(", ")
            ),
        ))
    } else if c == "." || c == ".." {
        Some((
            format!("`cmd = \"{c}\"` is not a command"),
            "name the command, e.g. `cmd = \"cargo\"`".to_string(),
        ))
    } else {
        None
    };
    match problem {
        Some((why, hint)) => {
            cx.error(span_of(cmd), format!("{what}: {why}"), Some(hint));
            false
        }
        None => true,
    }
}

fn check_args(cx: &mut Cx<'_>, cmd: &str, args: &[Spanned<String>], what: &str) -> bool {
    let mut ok = true;
    let launcher = LAUNCHERS.contains(&cmd);
    for (i, arg) in args.iter().enumerate() {
        let a = arg.get_ref();
        if a == "**" && i + 1 != args.len() {
            cx.error(
                span_of(arg),
                format!("{what}: `**` matches all remaining arguments, so it must be the last element of `args`"),
                Some("use `*` for exactly one argument of any value".into()),
            );
            ok = false;
        } else if launcher && a.contains('*') {
            cx.error(
                span_of(arg),
                format!("{what}: granting `{cmd}` with free arguments (`{}`) grants everything: the plugin chooses what it runs", a.escape_debug()),
                Some("grant the command you want to run instead, e.g. `{ cmd = \"make\", args = [\"test\"] }`".into()),
            );
            // One such error per command is enough.
            return false;
        }
    }
    ok
}

/// Why a plugin may not set variable `name` for a command, with a hint.
fn env_error(name: &str) -> Option<(String, String)> {
    if let Some(why) = env_name_error(name) {
        return Some((
            why,
            "list each variable by its exact name, e.g. `env = [\"CARGO_HOME\"]`".into(),
        ));
    }
    let upper = name.to_ascii_uppercase();
    if upper == "PATH" || upper.starts_with("LD_") || upper.starts_with("DYLD_") {
        return Some((
            format!("a plugin that sets `{name}` chooses which code the command loads or runs"),
            "remove it: a grant cannot let a plugin choose a command's `PATH` or dynamic loader settings".into(),
        ));
    }
    None
}

fn parse_output(cx: &mut Cx<'_>, v: &Val<'_>, what: &str) -> Option<u64> {
    let (lo, hi) = OUTPUT_RANGE;
    let Some(text) = v.get_ref().as_str() else {
        let d = cx.type_error(v, "a size string", &format!("`output` in {what}"));
        cx.push(d.with_hint(format!(
            "e.g. `output = \"{}\"`",
            format_size(DEFAULT_PROCESS_OUTPUT)
        )));
        return None;
    };
    match parse_size(text) {
        Err(e) => {
            cx.error(
                span_of(v),
                format!("invalid size `{text}` for `output` in {what}: {}", e.reason),
                e.hint,
            );
            None
        }
        Ok(n) if n < lo || n > hi => {
            cx.error(
                span_of(v),
                format!(
                    "`output` in {what} must be between `{}` and `{}`, found `{text}`",
                    format_size(lo),
                    format_size(hi)
                ),
                None,
            );
            None
        }
        Ok(n) => Some(n),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn grant(cmd: &str, args: &[&str]) -> ProcessGrant {
        ProcessGrant {
            cmd: cmd.into(),
            args: args.iter().map(|s| s.to_string()).collect(),
            env: Vec::new(),
            read_only: false,
            timeout: None,
            output: DEFAULT_PROCESS_OUTPUT,
        }
    }

    fn run(g: &ProcessGrant, program: &str, args: &[&str]) -> Result<(), String> {
        let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
        g.matches(program, &args)
    }

    #[test]
    fn globs() {
        assert!(glob_match("", ""));
        assert!(!glob_match("", "a"));
        assert!(glob_match("*", ""));
        assert!(glob_match("*", "a/b/c"));
        assert!(glob_match("--out=*", "--out=dist/x"));
        assert!(!glob_match("--out=*", "--ou=x"));
        assert!(glob_match("?", "é"));
        assert!(!glob_match("?", ""));
        assert!(!glob_match("?", "ab"));
        assert!(glob_match("a*b*c", "aXbYbZc"));
        assert!(!glob_match("a*b*c", "aXbYbZ"));
        assert!(glob_match("[ab]", "[ab]"));
        assert!(!glob_match("[ab]", "a"));
        assert!(glob_match("**", "x"));
        assert!(glob_match("*.rs", "src/main.rs"));
        assert!(!glob_match("*.rs", "src/main.rsx"));
        assert!(glob_match("a?c*", "abc"));
        // Pathological input stays fast (iterative, no exponential backtracking).
        let long = "a".repeat(5000);
        assert!(!glob_match(&("*a".repeat(50) + "b"), &long));
        assert!(glob_match(&"*a".repeat(50), &long));
    }

    #[test]
    fn matches() {
        let g = grant("cargo", &["clippy", "**"]);
        assert_eq!(run(&g, "cargo", &["clippy"]), Ok(()));
        assert_eq!(
            run(&g, "cargo", &["clippy", "--", "-D", "warnings"]),
            Ok(())
        );
        assert_eq!(
            run(&g, "cargo", &["build"]),
            Err("argument 1 `build` does not match `clippy`".into())
        );
        assert_eq!(
            run(&g, "cargo", &[]),
            Err("argument 1 is missing: the grant requires one matching `clippy`".into())
        );
        assert_eq!(
            run(&g, "/usr/bin/cargo", &["clippy"]),
            Err("command `/usr/bin/cargo` is not the granted command `cargo`".into())
        );
        assert!(run(&g, "cargo2", &["clippy"]).is_err());
        assert!(run(&g, "Cargo", &["clippy"]).is_err());

        let g = grant("git", &["log", "-n", "?", "--format=*"]);
        assert_eq!(
            run(&g, "git", &["log", "-n", "5", "--format=%H %s"]),
            Ok(())
        );
        assert_eq!(
            run(&g, "git", &["log", "-n", "50", "--format=%H"]),
            Err("argument 3 `50` does not match `?`".into())
        );
        assert_eq!(
            run(&g, "git", &["log", "-n", "5", "--format=x", "--all"]),
            Err("`git` takes at most 4 arguments under this grant, got 5".into())
        );
        assert_eq!(
            run(&g, "git", &["log", "-n"]),
            Err("argument 3 is missing: the grant requires one matching `?`".into())
        );

        let none = grant("true", &[]);
        assert_eq!(run(&none, "true", &[]), Ok(()));
        assert_eq!(
            run(&none, "true", &["x"]),
            Err("`true` takes at most 0 arguments under this grant, got 1".into())
        );
        let one = grant("echo", &["*"]);
        assert_eq!(
            run(&one, "echo", &["a", "b"]),
            Err("`echo` takes at most 1 argument under this grant, got 2".into())
        );
        let any = grant("ls", &["**"]);
        assert_eq!(run(&any, "ls", &[]), Ok(()));
        assert_eq!(run(&any, "ls", &["-la", "/"]), Ok(()));
        // `**` that is not last is an ordinary glob (load time refuses it anyway).
        let mid = grant("x", &["**", "y"]);
        assert_eq!(run(&mid, "x", &["anything", "y"]), Ok(()));
        assert!(run(&mid, "x", &["a", "b", "y"]).is_err());
    }

    /// A path glob cannot be left through `..` that a wildcard stands for; a `..` the
    /// glob spells out, and globs that are not paths, are unaffected.
    #[test]
    fn path_globs_refuse_dotdot_escapes() {
        let g = grant("cp", &["/lib/x86_64-linux-gnu/lib*.so*", "out/*"]);
        assert_eq!(
            run(
                &g,
                "cp",
                &["/lib/x86_64-linux-gnu/libc.so.6", "out/libc.so.6"]
            ),
            Ok(())
        );
        let err = run(
            &g,
            "cp",
            &["/lib/x86_64-linux-gnu/lib.so/../../../etc/shadow", "out/x"],
        )
        .unwrap_err();
        assert!(err.starts_with("argument 1 `/lib/x86_64-linux-gnu/lib.so/../../../etc/shadow` matches `/lib/x86_64-linux-gnu/lib*.so*` only through `..`"), "{err}");
        let err = run(
            &g,
            "cp",
            &["/lib/x86_64-linux-gnu/libc.so.6", "out/../../x"],
        )
        .unwrap_err();
        assert!(err.starts_with("argument 2 "), "{err}");
        // Spelled out by the glob: allowed as written.
        let up = grant("ls", &["../shared/*"]);
        assert_eq!(run(&up, "ls", &["../shared/DESIGN.md"]), Ok(()));
        assert!(run(&up, "ls", &["../shared/../../etc"]).is_err());
        // Not a path glob: any value was granted.
        let any = grant("echo", &["*", "--out=*"]);
        assert_eq!(run(&any, "echo", &["../x", "--out=../y"]), Ok(()));
        // `..` as part of a name is not a segment.
        assert_eq!(
            run(&g, "cp", &["/lib/x86_64-linux-gnu/lib..so", "out/a..b"]),
            Ok(())
        );
    }

    #[test]
    fn denials_quote_safely() {
        let g = grant("cargo", &["clippy"]);
        let long = "x".repeat(500);
        let e = run(&g, "cargo", &[&long]).expect_err("denied");
        assert!(e.len() < 200, "{e}");
        assert!(e.contains('…'));
        let e = run(&g, "cargo", &["a\nerror: fake"]).expect_err("denied");
        assert!(!e.contains('\n'), "{e}");
        let e = run(&g, "car\ngo", &[]).expect_err("denied");
        assert!(!e.contains('\n'), "{e}");
    }

    #[test]
    fn env_names() {
        assert!(env_error("CARGO_HOME").is_none());
        assert!(env_error("RUST_LOG").is_none());
        assert!(env_error("PATH").is_some());
        assert!(env_error("Path").is_some());
        assert!(env_error("LD_PRELOAD").is_some());
        assert!(env_error("DYLD_INSERT_LIBRARIES").is_some());
        assert!(env_error("*").is_some());
        assert!(env_error("A=B").is_some());
    }
}
