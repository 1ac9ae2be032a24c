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
use crate::text::shown;
use crate::units::{format_size, parse_size};
use crate::walk::{Cx, Val, span_of, type_name};

use super::launchers;

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
    /// Host directories (or files) outside the workspace the command may read, as
    /// written and normalized: absolute (`/opt/tool`), home-relative (`~/.cargo`) or
    /// from gantry's environment (`$CARGO_HOME`, `${RUSTUP_HOME:-~/.rustup}`); see
    /// [`expand_host_path`] and [`host_path_refusal`]. The system directories
    /// (`/usr`, `/bin`, `/lib*`, a curated `/etc`) are always readable.
    pub read: Vec<String>,
    /// `network = true`: the command shares the host's network. Default `false`: it
    /// runs in a network namespace of its own, with nothing but loopback.
    pub network: bool,
}

impl ProcessGrant {
    /// Ok if `program` equals `cmd` and every argument matches its glob under
    /// [`arg_matches`] (`*` any characters including `/`, `?` one character, nothing
    /// else special; what a wildcard stands for never starts an option, an absolute
    /// path or a `..` segment the glob does not spell out); arguments a final `"**"`
    /// covers are free. Otherwise why not, naming the first failing argument (1-based)
    /// and the glob it had to match, or the number of arguments the grant takes.
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
                Some(glob) if arg_glob_match(glob, arg) => {
                    if let Some(why) = widened(glob, arg) {
                        return Err(format!(
                            "argument {} `{}` matches `{glob}` only through {why}",
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

/// The whole per-argument rule of [`ProcessGrant::matches`]: the glob matches and its
/// wildcards stand for nothing the glob does not spell out ([`widened`]). (Public only
/// through [`crate::fuzzing`].)
pub fn arg_matches(glob: &str, arg: &str) -> bool {
    arg_glob_match(glob, arg) && widened(glob, arg).is_none()
}

/// Separators after which a path may start inside one argument (`--out=/x`,
/// `host:/x`, `a,/x`).
const PATH_SEPARATORS: [char; 3] = ['=', ':', ','];

/// `..` path segments of `s`, counted across the separators an argument may hold.
fn dotdots(s: &str) -> usize {
    s.split(['/', '=', ':', ','])
        .filter(|seg| *seg == "..")
        .count()
}

/// Places in `s` where an absolute path starts: a `/` at the start, after one of
/// [`PATH_SEPARATORS`], or right after a short option (`-o/etc/x`).
fn absolute_starts(s: &str) -> usize {
    let b = s.as_bytes();
    let mut n = 0;
    for (i, c) in b.iter().enumerate() {
        if *c != b'/' {
            continue;
        }
        let starts = i == 0
            || PATH_SEPARATORS.contains(&(b[i - 1] as char))
            || (i == 2 && b[0] == b'-' && b[1] != b'-');
        if starts {
            n += 1;
        }
    }
    n
}

/// What a matching `arg` gets through `glob` that the glob does not spell out, or
/// `None`. Counting instead of aligning keeps it total and linear: the argument may
/// not hold more of these than its glob.
///
/// - a leading `-` (an option: `sort *` must not take `--output=/x`) unless the glob
///   starts with `-`;
/// - absolute paths (`cat *.txt` must not take `/etc/x.txt`; `--out=*` must not take
///   `--out=/x`) beyond those the glob writes;
/// - `..` segments (`cat *.txt` must not take `../x.txt`; `/lib/lib*.so*` must not
///   take `/lib/lib.so/../../etc/shadow`) beyond those the glob writes.
///
/// (Public only through [`crate::fuzzing`].)
pub fn widened(glob: &str, arg: &str) -> Option<&'static str> {
    if arg.starts_with('-') && !glob.starts_with('-') {
        return Some(
            "a leading `-`: a wildcard never stands for an option (the plugin would choose \
             flags such as `--output=`); spell the option out in the grant, or start the glob \
             with `-`",
        );
    }
    if absolute_starts(arg) > absolute_starts(glob) {
        return Some(
            "an absolute path: a wildcard never stands for a path outside the directory the \
             grant names; pass a workspace-relative path, or spell the absolute prefix out in \
             the grant",
        );
    }
    if dotdots(arg) > dotdots(glob) {
        return Some(
            "`..`: a wildcard never stands for a `..` segment (it would lead out of the \
             directory the grant names); pass the path without `..`",
        );
    }
    None
}

/// `*` any run of characters (including `/`), `?` one character, the rest literal.
/// (Public only through [`crate::fuzzing`].)
pub fn arg_glob_match(pattern: &str, text: &str) -> bool {
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
    #[serde(default)]
    read: Vec<Spanned<String>>,
    #[serde(default)]
    network: bool,
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
        let mut read: Vec<String> = Vec::new();
        for entry in &raw.read {
            match parse_host_path(entry.get_ref()) {
                Ok(p) if !read.contains(&p) => read.push(p),
                Ok(_) => {}
                Err((why, hint)) => {
                    cx.error(
                        span_of(entry),
                        format!(
                            "`read` in {what}: `{}` {why}",
                            entry.get_ref().escape_debug()
                        ),
                        Some(hint),
                    );
                    ok = false;
                }
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
                read,
                network: raw.network,
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
    for (i, arg) in args.iter().enumerate() {
        if arg.get_ref() == "**" && i + 1 != args.len() {
            cx.error(
                span_of(arg),
                format!("{what}: `**` matches all remaining arguments, so it must be the last element of `args`"),
                Some("use `*` for exactly one argument of any value".into()),
            );
            ok = false;
        }
    }
    let globs: Vec<String> = args.iter().map(|a| a.get_ref().clone()).collect();
    if let Some((i, why)) = launchers::free_launch(cmd, &globs)
        && let Some(arg) = args.get(i)
    {
        cx.error(
            span_of(arg),
            format!("{what}: {why}"),
            Some("grant the exact command line you want to run instead, e.g. `{ cmd = \"make\", args = [\"test\"] }`".into()),
        );
        ok = false;
    }
    ok
}

/// Variables a grant's `env` may never list, by exact (upper-case) name: each
/// chooses code, or configuration that names code, of the command or of a program it
/// starts. Not a boundary — tools read more variables than any list knows; the OS
/// sandbox is what contains the command — but a grant that plainly lets the plugin
/// pick the code that runs is refused where it is written.
const CODE_VARIABLES: &[&str] = &[
    // Which programs run, and how shells start.
    "PATH",
    "SHELL",
    "BASH_ENV",
    "ENV",
    "ZDOTDIR",
    "SHELLOPTS",
    "BASHOPTS",
    "PS4",
    "PROMPT_COMMAND",
    "IFS",
    "EDITOR",
    "VISUAL",
    "PAGER",
    "MANPAGER",
    "BROWSER",
    "SSH_ASKPASS",
    "SUDO_ASKPASS",
    "LESSOPEN",
    "LESSCLOSE",
    // Where configuration is read from (the sandbox's HOME is private and empty).
    "HOME",
    "XDG_CONFIG_HOME",
    "XDG_CONFIG_DIRS",
    "XDG_DATA_HOME",
    "XDG_DATA_DIRS",
    // glibc: loadable modules, tunables.
    "GCONV_PATH",
    "GLIBC_TUNABLES",
    "LOCPATH",
    "NLSPATH",
    "HOSTALIASES",
    // git.
    "GIT_EXEC_PATH",
    "GIT_ASKPASS",
    "GIT_EDITOR",
    "GIT_SEQUENCE_EDITOR",
    "GIT_PAGER",
    "GIT_EXTERNAL_DIFF",
    "GIT_PROXY_COMMAND",
    "GIT_TEMPLATE_DIR",
    "GIT_DIR",
    "GIT_WORK_TREE",
    "GIT_COMMON_DIR",
    // Rust, C and make.
    "RUSTC",
    "RUSTC_WRAPPER",
    "RUSTC_WORKSPACE_WRAPPER",
    "RUSTDOC",
    "RUSTFLAGS",
    "RUSTDOCFLAGS",
    "CARGO_ENCODED_RUSTFLAGS",
    "CARGO_ENCODED_RUSTDOCFLAGS",
    "CC",
    "CXX",
    "CPP",
    "LD",
    "AR",
    "AS",
    "MAKEFLAGS",
    "MFLAGS",
    "GNUMAKEFLAGS",
    "MAKEFILES",
    // Other languages and tools.
    "NODE_PATH",
    "GEM_HOME",
    "GEM_PATH",
    "BUNDLE_GEMFILE",
    "GOFLAGS",
    "GOTOOLCHAIN",
    "GOROOT",
    "GOENV",
    "TCLLIBPATH",
    "OPENSSL_CONF",
    "OPENSSL_ENGINES",
    "OPENSSL_MODULES",
    "DOCKER_HOST",
    "DOCKER_CONFIG",
    "KUBECONFIG",
];

/// Prefixes of variable families that choose code or its configuration.
const CODE_PREFIXES: &[&str] = &[
    "LD_",
    "DYLD_",
    "GIT_CONFIG",
    "GIT_SSH",
    "PYTHON",
    "PERL",
    "RUBY",
    "LUA_",
    "NPM_CONFIG_",
    "CARGO_BUILD_",
    "CARGO_TARGET_",
    "CARGO_HOST_",
    "CARGO_ALIAS_",
    "CARGO_REGISTRIES_",
    "CARGO_REGISTRY_",
    "CARGO_CREDENTIAL_",
];

/// Suffixes of option variables read by runtimes (`NODE_OPTIONS`, `JAVA_TOOL_OPTIONS`,
/// `MAVEN_OPTS`).
const CODE_SUFFIXES: &[&str] = &["_OPTIONS", "_OPTS"];

/// Why no grant may let a plugin set `name` for a command (it chooses code or the
/// configuration of the tool), or `None`. Case-insensitive.
pub fn code_variable(name: &str) -> Option<String> {
    let upper = name.to_ascii_uppercase();
    let family = CODE_VARIABLES.contains(&upper.as_str())
        || CODE_PREFIXES.iter().any(|p| upper.starts_with(p))
        || CODE_SUFFIXES.iter().any(|s| upper.ends_with(s))
        || upper == "NODE_OPTIONS";
    family.then(|| {
        format!(
            "a plugin that sets `{name}` chooses which code or configuration the command runs with"
        )
    })
}

/// Why a plugin may not set variable `name` for a command, with a hint.
fn env_error(name: &str) -> Option<(String, String)> {
    if let Some(why) = env_name_error(name) {
        return Some((
            why,
            "list each variable by its exact name, e.g. `env = [\"CARGO_HOME\"]`".into(),
        ));
    }
    code_variable(name).map(|why| {
        (
            why,
            "remove it: a grant cannot let a plugin choose a command's code, loader or configuration \
             (the command's sandbox, not this list, is the boundary); write fixed settings into \
             `args` instead"
                .into(),
        )
    })
}

/// Host roots `read` may never name, nor a directory containing them: the host's
/// configuration and secrets, kernel interfaces, sockets (the Docker socket lives in
/// `/run`), every user's home. `(root, what)`.
const WHOLE_ROOTS: &[(&str, &str)] = &[
    (
        "/etc",
        "the host's configuration, `/etc/shadow` included (commands get a curated `/etc`)",
    ),
    ("/root", "root's home directory as a whole"),
    ("/home", "every user's home directory"),
    (
        "/proc",
        "kernel and process interfaces (commands get their own `/proc`)",
    ),
    ("/sys", "kernel interfaces"),
    ("/dev", "devices (commands get a minimal `/dev`)"),
    (
        "/run",
        "runtime sockets and secrets, the Docker socket included",
    ),
    ("/var/run", "runtime sockets, the Docker socket included"),
    ("/var/lib/docker", "the Docker Engine's state"),
    ("/tmp", "every user's and every stage's temporary files"),
    ("/boot", "the kernel and boot loader"),
];

/// Roots under which nothing may be named at all.
const NEVER_UNDER: &[&str] = &[
    "/etc",
    "/proc",
    "/sys",
    "/dev",
    "/run",
    "/var/run",
    "/var/lib/docker",
    "/boot",
];

/// Credentials under a home directory: `read` may name none of them, nor a directory
/// containing one (so not the home directory itself).
const HOME_SECRETS: &[&str] = &[
    ".ssh",
    ".gnupg",
    ".docker",
    ".aws",
    ".azure",
    ".kube",
    ".netrc",
    ".git-credentials",
    ".config/gcloud",
    ".config/gh",
    ".password-store",
    ".local/share/keyrings",
];

/// Whether `a` is `b` or a directory above it (both absolute, normalized).
pub fn covers(a: &str, b: &str) -> bool {
    a == "/" || a == b || (b.starts_with(a) && b.as_bytes().get(a.len()) == Some(&b'/'))
}

/// Why a host path (absolute, normalized) may not be granted in `read`, or `None`.
/// `home` is gantry's home directory (`None` while only the file is parsed: entries
/// written with `~` are then checked by their text).
pub fn host_path_refusal(path: &str, home: Option<&str>) -> Option<String> {
    if path == "/" {
        return Some("is the whole host".into());
    }
    for (root, what) in WHOLE_ROOTS {
        if covers(path, root) {
            return Some(if path == *root {
                format!("is `{root}`: {what}")
            } else {
                format!("contains `{root}`: {what}")
            });
        }
    }
    if let Some(root) = NEVER_UNDER.iter().find(|r| covers(r, path)) {
        return Some(format!(
            "is inside `{root}`, which commands never read from the host"
        ));
    }
    if let Some(home) = home.filter(|h| !h.is_empty() && *h != "/") {
        if path == home {
            return Some("is the home directory as a whole: its credentials included".into());
        }
        for secret in HOME_SECRETS {
            let full = format!("{home}/{secret}");
            if covers(path, &full) || covers(&full, path) {
                return Some(format!(
                    "{} `~/{secret}`, where credentials live",
                    if covers(&full, path) {
                        "is inside"
                    } else {
                        "contains"
                    }
                ));
            }
        }
    }
    None
}

/// Normalizes an absolute path lexically: no `.`, no empty segments, no trailing `/`;
/// `..` refused.
fn normalize_absolute(path: &str) -> Result<String, String> {
    let mut out = String::new();
    for seg in path.split('/') {
        match seg {
            "" | "." => {}
            ".." => return Err("has a `..` segment".into()),
            s => {
                out.push('/');
                out.push_str(s);
            }
        }
    }
    Ok(if out.is_empty() { "/".into() } else { out })
}

/// An entry of `read` as written: `/abs`, `~`, `~/rest`, `$NAME[/rest]`,
/// `${NAME}[/rest]` or `${NAME:-FALLBACK}[/rest]` (FALLBACK absolute or `~/…`).
/// Returns the normalized form or why not with a hint.
fn parse_host_path(entry: &str) -> Result<String, (String, String)> {
    const HINT: &str = "name a host directory by an absolute path (`/opt/tool`), from your home (`~/.cargo`) or from gantry's environment (`${CARGO_HOME:-~/.cargo}`); the workspace is always readable";
    let bad = |why: &str| Err((why.to_string(), HINT.to_string()));
    if entry.is_empty() {
        return bad("is empty");
    }
    if entry.contains(['\0', '\n', '\r', '*', '?', '[']) {
        return bad("contains a glob or control character; name directories exactly");
    }
    let (head, rest) = split_var(entry).map_err(|w| (w, HINT.to_string()))?;
    let rest = if rest.is_empty() {
        String::new()
    } else {
        let n = normalize_absolute(rest).map_err(|w| (w, HINT.to_string()))?;
        if n == "/" { String::new() } else { n }
    };
    match head {
        Head::Absolute => {
            let n = normalize_absolute(entry).map_err(|w| (w, HINT.to_string()))?;
            match host_path_refusal(&n, None) {
                Some(why) => Err((
                    why,
                    "name the tool's own directory instead, e.g. `~/.cargo` or `/opt/tool`".into(),
                )),
                None => Ok(n),
            }
        }
        Head::Home => {
            let text = rest.trim_start_matches('/');
            if text.is_empty() {
                return Err((
                    "is the home directory as a whole: its credentials included".into(),
                    "name the tool's directory, e.g. `~/.cargo`".into(),
                ));
            }
            if let Some(secret) = HOME_SECRETS.iter().find(|s| {
                covers(&format!("/{s}"), &format!("/{text}"))
                    || covers(&format!("/{text}"), &format!("/{s}"))
            }) {
                return Err((
                    format!("reaches `~/{secret}`, where credentials live"),
                    "name the tool's directory, e.g. `~/.cargo`".into(),
                ));
            }
            Ok(format!("~{rest}"))
        }
        Head::Var { name, fallback } => {
            let fb = match fallback {
                None => String::new(),
                Some(f) => {
                    let inner = parse_host_path(f)
                        .map_err(|(w, h)| (format!("has a fallback `{f}` that {w}"), h))?;
                    if inner.starts_with('$') {
                        return bad(
                            "has a fallback that is a variable again; write an absolute or `~/` path",
                        );
                    }
                    format!(":-{inner}")
                }
            };
            Ok(format!("${{{name}{fb}}}{rest}"))
        }
        Head::Relative => {
            bad("is a relative path; `read` names host directories outside the workspace")
        }
    }
}

enum Head<'a> {
    Absolute,
    Home,
    Var {
        name: &'a str,
        fallback: Option<&'a str>,
    },
    Relative,
}

/// The head of an entry and the rest (`""` or starting with `/`).
fn split_var(entry: &str) -> Result<(Head<'_>, &str), String> {
    if entry.starts_with('/') {
        return Ok((Head::Absolute, ""));
    }
    if let Some(after) = entry.strip_prefix('~') {
        if after.is_empty() || after.starts_with('/') {
            return Ok((Head::Home, after));
        }
        return Err("names another user's home (`~user`); write the absolute path".into());
    }
    let Some(after) = entry.strip_prefix('$') else {
        return Ok((Head::Relative, ""));
    };
    let (inner, rest) = if let Some(braced) = after.strip_prefix('{') {
        let close = braced
            .find('}')
            .ok_or_else(|| "has `${` without a closing `}`".to_string())?;
        (&braced[..close], &braced[close + 1..])
    } else {
        let end = after.find('/').unwrap_or(after.len());
        (&after[..end], &after[end..])
    };
    if !rest.is_empty() && !rest.starts_with('/') {
        return Err("must continue with `/` after the variable".into());
    }
    let (name, fallback) = match inner.split_once(":-") {
        Some((n, f)) => (n, Some(f)),
        None => (inner, None),
    };
    if let Some(why) = env_name_error(name) {
        return Err(why);
    }
    Ok((Head::Var { name, fallback }, rest))
}

/// An entry of [`ProcessGrant::read`] (normalized by the parser) as a host path:
/// `~` is `home`, `${NAME}` is gantry's variable `NAME` (its fallback when unset or
/// empty). The result is absolute and normalized, and checked with
/// [`host_path_refusal`]. Errors say what is missing or refused.
pub fn expand_host_path(
    entry: &str,
    var: &dyn Fn(&str) -> Option<String>,
    home: Option<&str>,
) -> Result<String, String> {
    let (head, rest) = split_var(entry)?;
    let base = match head {
        Head::Absolute => String::new(),
        Head::Home => home
            .filter(|h| h.starts_with('/'))
            .ok_or_else(|| format!("`{entry}` needs gantry's `HOME`, which is not set"))?
            .to_string(),
        Head::Var { name, fallback } => match var(name).filter(|v| !v.is_empty()) {
            Some(v) if v.starts_with('/') => v,
            Some(v) => {
                return Err(format!(
                    "`{entry}`: `{name}` is `{v}`, not an absolute path"
                ));
            }
            None => match fallback {
                Some(f) => expand_host_path(f, var, home)?,
                None => {
                    return Err(format!("`{entry}`: gantry's environment has no `{name}`"));
                }
            },
        },
        Head::Relative => return Err(format!("`{entry}` is not a host path")),
    };
    let joined = match head_is_absolute(entry) {
        true => entry.to_string(),
        false => format!("{base}{rest}"),
    };
    let path = normalize_absolute(&joined).map_err(|w| format!("`{entry}` {w}"))?;
    match host_path_refusal(&path, home) {
        Some(why) => Err(format!("`{entry}` (`{path}`) {why}")),
        None => Ok(path),
    }
}

fn head_is_absolute(entry: &str) -> bool {
    entry.starts_with('/')
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
            read: Vec::new(),
            network: false,
        }
    }

    fn run(g: &ProcessGrant, program: &str, args: &[&str]) -> Result<(), String> {
        let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
        g.matches(program, &args)
    }

    #[test]
    fn globs() {
        assert!(arg_glob_match("", ""));
        assert!(!arg_glob_match("", "a"));
        assert!(arg_glob_match("*", ""));
        assert!(arg_glob_match("*", "a/b/c"));
        assert!(arg_glob_match("--out=*", "--out=dist/x"));
        assert!(!arg_glob_match("--out=*", "--ou=x"));
        assert!(arg_glob_match("?", "é"));
        assert!(!arg_glob_match("?", ""));
        assert!(!arg_glob_match("?", "ab"));
        assert!(arg_glob_match("a*b*c", "aXbYbZc"));
        assert!(!arg_glob_match("a*b*c", "aXbYbZ"));
        assert!(arg_glob_match("[ab]", "[ab]"));
        assert!(!arg_glob_match("[ab]", "a"));
        assert!(arg_glob_match("**", "x"));
        assert!(arg_glob_match("*.rs", "src/main.rs"));
        assert!(!arg_glob_match("*.rs", "src/main.rsx"));
        assert!(arg_glob_match("a?c*", "abc"));
        // Pathological input stays fast (iterative, no exponential backtracking).
        let long = "a".repeat(5000);
        assert!(!arg_glob_match(&("*a".repeat(50) + "b"), &long));
        assert!(arg_glob_match(&"*a".repeat(50), &long));
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
    /// glob spells out is allowed as written.
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
        .expect_err("refused");
        assert!(err.starts_with("argument 1 `/lib/x86_64-linux-gnu/lib.so/../../../etc/shadow` matches `/lib/x86_64-linux-gnu/lib*.so*` only through `..`"), "{err}");
        let err = run(
            &g,
            "cp",
            &["/lib/x86_64-linux-gnu/libc.so.6", "out/../../x"],
        )
        .expect_err("refused");
        assert!(err.starts_with("argument 2 "), "{err}");
        // Spelled out by the glob: allowed as written.
        let up = grant("ls", &["../shared/*"]);
        assert_eq!(run(&up, "ls", &["../shared/DESIGN.md"]), Ok(()));
        assert!(run(&up, "ls", &["../shared/../../etc"]).is_err());
        // `..` as part of a name is not a segment.
        assert_eq!(
            run(&g, "cp", &["/lib/x86_64-linux-gnu/lib..so", "out/a..b"]),
            Ok(())
        );
    }

    /// What a wildcard stands for never starts an option, an absolute path or a `..`
    /// segment (issue 13: `sort *` took `--output=<outside>`, `cat *.txt` took
    /// absolute and `../` paths), whatever the glob looks like.
    #[test]
    fn wildcards_never_stand_for_options_absolute_paths_or_dotdot() {
        let sort = grant("sort", &["*"]);
        let e = run(&sort, "sort", &["--output=/tmp/x"]).expect_err("refused");
        assert!(e.contains("only through a leading `-`"), "{e}");
        assert!(run(&sort, "sort", &["-o"]).is_err());
        assert_eq!(run(&sort, "sort", &["data.txt"]), Ok(()));
        let cat = grant("cat", &["*.txt"]);
        let e = run(&cat, "cat", &["/etc/x.txt"]).expect_err("refused");
        assert!(e.contains("only through an absolute path"), "{e}");
        let e = run(&cat, "cat", &["../x.txt"]).expect_err("refused");
        assert!(e.contains("only through `..`"), "{e}");
        assert!(run(&cat, "cat", &["a/../../x.txt"]).is_err());
        assert_eq!(run(&cat, "cat", &["notes/a.txt"]), Ok(()));
        // Values of options the glob spells out.
        let out = grant("tool", &["--out=*", "-o*"]);
        assert!(run(&out, "tool", &["--out=/x", "-oy"]).is_err());
        assert!(run(&out, "tool", &["--out=../x", "-oy"]).is_err());
        assert!(run(&out, "tool", &["--out=x", "-o/etc/y"]).is_err());
        assert_eq!(run(&out, "tool", &["--out=dist/x", "-oy"]), Ok(()));
        assert!(run(&grant("echo", &["*"]), "echo", &["a:/etc"]).is_err());
        // Spelled out: a glob starting with `-` may stand for options; an absolute
        // prefix the glob writes is allowed once.
        assert_eq!(run(&grant("ls", &["-*"]), "ls", &["-la"]), Ok(()));
        let abs = grant("ls", &["/usr/share/*"]);
        assert_eq!(run(&abs, "ls", &["/usr/share/doc"]), Ok(()));
        assert!(run(&abs, "ls", &["/usr/share/x=/etc"]).is_err());
        // `**` is the explicit "anything": the plugin chooses every flag.
        let any = grant("cargo", &["clippy", "**"]);
        assert_eq!(
            run(&any, "cargo", &["clippy", "--", "-D", "/x", "../y"]),
            Ok(())
        );
    }

    /// The fuzz target's properties, exhaustively on short strings over the characters
    /// that matter: an accepted argument never starts an option or an absolute path
    /// its glob does not, and never has more `..` segments.
    #[test]
    fn wildcard_properties_hold_on_every_short_input() {
        fn all(alphabet: &[char], max: usize) -> Vec<String> {
            let mut out = vec![String::new()];
            let mut layer = vec![String::new()];
            for _ in 0..max {
                let next: Vec<String> = layer
                    .iter()
                    .flat_map(|s| alphabet.iter().map(move |c| format!("{s}{c}")))
                    .collect();
                out.extend(next.iter().cloned());
                layer = next;
            }
            out
        }
        let globs = all(&['-', '/', '.', '=', 'a', '*', '?'], 3);
        let args = all(&['-', '/', '.', '=', 'a'], 4);
        for g in &globs {
            for a in &args {
                if !arg_matches(g, a) {
                    continue;
                }
                assert!(arg_glob_match(g, a));
                assert!(
                    !a.starts_with('-') || g.starts_with('-'),
                    "`{g}` took `{a}`"
                );
                assert!(
                    !a.starts_with('/') || g.starts_with('/'),
                    "`{g}` took `{a}`"
                );
                assert!(dotdots(a) <= dotdots(g), "`{g}` took `{a}`");
                assert!(absolute_starts(a) <= absolute_starts(g), "`{g}` took `{a}`");
            }
        }
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
        assert!(env_error("RUSTUP_HOME").is_none());
        assert!(env_error("RUST_LOG").is_none());
        assert!(env_error("CARGO_TERM_COLOR").is_none());
        assert!(env_error("LANG").is_none());
        for refused in [
            "PATH",
            "Path",
            "LD_PRELOAD",
            "DYLD_INSERT_LIBRARIES",
            "GIT_CONFIG_PARAMETERS",
            "GIT_CONFIG_COUNT",
            "GIT_CONFIG_GLOBAL",
            "GIT_EXEC_PATH",
            "GIT_SSH_COMMAND",
            "GIT_ASKPASS",
            "NODE_OPTIONS",
            "JAVA_TOOL_OPTIONS",
            "MAVEN_OPTS",
            "PYTHONPATH",
            "PYTHONSTARTUP",
            "PERL5OPT",
            "PERL5LIB",
            "RUBYOPT",
            "BASH_ENV",
            "ENV",
            "RUSTC_WRAPPER",
            "RUSTFLAGS",
            "CARGO_TARGET_X86_64_UNKNOWN_LINUX_GNU_RUNNER",
            "CARGO_BUILD_RUSTC",
            "HOME",
            "GLIBC_TUNABLES",
            "npm_config_script_shell",
        ] {
            let e = env_error(refused);
            assert!(e.is_some(), "{refused} is refused");
            let (why, hint) = e.unwrap_or_default();
            assert!(why.contains(refused), "{why}");
            assert!(hint.contains("sandbox"), "{hint}");
        }
        assert!(env_error("*").is_some());
        assert!(env_error("A=B").is_some());
    }

    #[test]
    fn read_paths_are_host_directories_outside_sensitive_roots() {
        let ok = |e: &str| parse_host_path(e).map_err(|(w, _)| w);
        assert_eq!(ok("~/.cargo"), Ok("~/.cargo".into()));
        assert_eq!(ok("~/.cargo/"), Ok("~/.cargo".into()));
        assert_eq!(ok("/opt//tool/."), Ok("/opt/tool".into()));
        assert_eq!(ok("$CARGO_HOME"), Ok("${CARGO_HOME}".into()));
        assert_eq!(
            ok("${RUSTUP_HOME:-~/.rustup}"),
            Ok("${RUSTUP_HOME:-~/.rustup}".into())
        );
        assert_eq!(ok("${X}/bin"), Ok("${X}/bin".into()));
        for bad in [
            "",
            "relative/dir",
            ".",
            "/",
            "/etc",
            "/etc/ssl",
            "/root",
            "/home",
            "/proc",
            "/proc/self",
            "/sys",
            "/dev",
            "/run",
            "/run/docker.sock",
            "/var/run/docker.sock",
            "/var",
            "/var/lib",
            "/tmp",
            "/usr/../etc",
            "~",
            "~/",
            "~/.ssh",
            "~/.config",
            "~other/x",
            "$",
            "${X",
            "${X:-relative}",
            "${X:-$Y}",
            "$X.y",
            "/opt/*",
        ] {
            assert!(ok(bad).is_err(), "`{bad}` is refused: {:?}", ok(bad));
        }
        assert!(host_path_refusal("/home/me/.cargo", Some("/home/me")).is_none());
        assert!(host_path_refusal("/root/.cargo", Some("/root")).is_none());
        assert!(host_path_refusal("/home/me", Some("/home/me")).is_some());
        assert!(host_path_refusal("/home/me/.ssh/x", Some("/home/me")).is_some());
        assert!(host_path_refusal("/usr/local", Some("/root")).is_none());
    }

    #[test]
    fn read_paths_expand_from_home_and_environment() {
        let env = |n: &str| match n {
            "CARGO_HOME" => Some("/opt/cargo".to_string()),
            "EMPTY" => Some(String::new()),
            "REL" => Some("x".to_string()),
            "ROOT" => Some("/".to_string()),
            _ => None,
        };
        let home = Some("/home/me");
        assert_eq!(
            expand_host_path("~/.cargo", &env, home),
            Ok("/home/me/.cargo".into())
        );
        assert_eq!(
            expand_host_path("${CARGO_HOME}/bin", &env, home),
            Ok("/opt/cargo/bin".into())
        );
        assert_eq!(
            expand_host_path("${RUSTUP_HOME:-~/.rustup}", &env, home),
            Ok("/home/me/.rustup".into())
        );
        assert_eq!(
            expand_host_path("${EMPTY:-/opt/x}", &env, home),
            Ok("/opt/x".into())
        );
        assert!(expand_host_path("${RUSTUP_HOME}", &env, home).is_err());
        assert!(expand_host_path("${REL}", &env, home).is_err());
        // A variable may not lead to a refused root.
        let e = expand_host_path("${ROOT}", &env, home).expect_err("refused");
        assert!(e.contains("whole host"), "{e}");
        assert!(expand_host_path("~/.cargo", &env, None).is_err());
    }
}
