//! Launchers: host commands that run whatever their arguments say. Granting one with
//! a free argument (a glob with `*` or `?`, or `**`) grants every command, so
//! [`free_launch`] makes that a `gantry check` error; `gantry audit` names launchers
//! granted with fixed arguments through [`launcher`]. This is the only list: the
//! manifest's check and the host's audit both read it.
//!
//! Two kinds:
//!
//! - **any free argument** ([`Kind::Any`]): shells, interpreters, exec wrappers,
//!   debuggers, `find`, `make`, … — any argument can be code or a command line;
//! - **subcommand tools** ([`Kind::Subcommand`]: `git`, `cargo`, `npm`, …): free
//!   leading options (`git -c`, `--exec-path`, `-C`; `cargo --config`), a free
//!   subcommand, or free arguments to a subcommand that runs commands (`git rebase
//!   --exec`, `git submodule foreach`, `npm exec`) choose what runs. Free arguments to
//!   other subcommands (`cargo clippy **`) are allowed: they are still code execution
//!   through the workspace's configuration and build scripts, which the OS sandbox of
//!   the process capability contains and `gantry audit` spells out.
//!
//! Not a boundary: a tool that is not listed still reads configuration it finds (the
//! sandbox is the boundary). The list exists so that a grant which plainly says
//! "anything" is refused where it is written.
//!
//! Tests: below, and `host/tests/ui/grant_process_shell.toml`.

/// How a launcher turns arguments into code.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// Any argument may be a command or code: every free argument grants everything.
    Any,
    /// `TOOL [OPTIONS] SUBCOMMAND [ARGS]`.
    Subcommand {
        /// Leading options that take the next argument as their value.
        valued: &'static [&'static str],
        /// Leading options whose value chooses code or configuration (`-c`,
        /// `--exec-path`, `--config`): never with a free value.
        config: &'static [&'static str],
        /// Subcommands that run commands named in their arguments: never with free
        /// arguments.
        running: &'static [&'static str],
    },
}

/// A launcher: its kind and what it is, for messages.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Launcher {
    pub kind: Kind,
    /// `a shell`, `an interpreter`, … (for "`bash` is a shell").
    pub what: &'static str,
}

const SHELLS: &[&str] = &[
    "sh",
    "bash",
    "dash",
    "zsh",
    "fish",
    "ksh",
    "ksh93",
    "mksh",
    "pdksh",
    "csh",
    "tcsh",
    "ash",
    "yash",
    "rc",
    "es",
    "elvish",
    "nu",
    "xonsh",
    "pwsh",
    "powershell",
    "cmd",
    "rbash",
];
const MULTICALL: &[&str] = &["busybox", "toybox"];
/// Run the command given as their arguments.
const WRAPPERS: &[&str] = &[
    "env",
    "xargs",
    "sudo",
    "doas",
    "su",
    "runuser",
    "sg",
    "newgrp",
    "pkexec",
    "nice",
    "nohup",
    "timeout",
    "setsid",
    "stdbuf",
    "ionice",
    "chrt",
    "taskset",
    "prlimit",
    "setpriv",
    "capsh",
    "flock",
    "chroot",
    "unshare",
    "nsenter",
    "watch",
    "script",
    "parallel",
    "time",
    "command",
    "exec",
    "systemd-run",
    "firejail",
    "bwrap",
    "proot",
    "fakeroot",
    "fakechroot",
    "tmux",
    "screen",
    "at",
    "batch",
    "expect",
    "ssh",
    "find",
    "ld.so",
    "npx",
    "pnpx",
    "bunx",
];
const DEBUGGERS: &[&str] = &["strace", "ltrace", "gdb", "lldb", "valgrind", "perf"];
/// Language interpreters: the argument is the program.
const INTERPRETERS: &[&str] = &[
    "awk",
    "gawk",
    "mawk",
    "nawk",
    "perl",
    "node",
    "nodejs",
    "deno",
    "bun",
    "ruby",
    "irb",
    "php",
    "lua",
    "luajit",
    "tclsh",
    "wish",
    "Rscript",
    "R",
    "guile",
    "racket",
    "julia",
    "java",
    "jshell",
    "groovy",
    "scala",
    "escript",
    "elixir",
    "erl",
    "sbcl",
    "ocaml",
    "runghc",
    "ghci",
    "osascript",
    "pypy",
    "pypy3",
];
/// Editors that run commands (`vim -c '!…'`, `ed` with `!`).
const EDITORS: &[&str] = &["vi", "vim", "nvim", "ex", "ed", "emacs"];
const BUILD: &[&str] = &["make", "gmake", "bmake", "remake"];

/// Prefixes of versioned names (`python3.11`, `lua5.4`, `ld-linux-x86-64.so.2`).
const PREFIXED: &[(&str, &str)] = &[
    ("python", "an interpreter"),
    ("lua5", "an interpreter"),
    ("perl5", "an interpreter"),
    ("ld-linux", "the dynamic loader, which runs any program"),
];

const GIT: Launcher = Launcher {
    kind: Kind::Subcommand {
        valued: &[
            "-c",
            "-C",
            "--config-env",
            "--git-dir",
            "--work-tree",
            "--namespace",
            "--super-prefix",
            "--exec-path",
        ],
        config: &[
            "-c",
            "-C",
            "--config-env",
            "--exec-path",
            "--git-dir",
            "--work-tree",
        ],
        running: &[
            "submodule",
            "bisect",
            "rebase",
            "filter-branch",
            "difftool",
            "mergetool",
            "fetch",
            "pull",
            "clone",
            "push",
            "ls-remote",
            "archive",
            "remote",
            "daemon",
            "upload-pack",
            "receive-pack",
            "send-email",
            "config",
            "var",
            "help",
            "instaweb",
            "web--browse",
        ],
    },
    what: "a tool whose options and configuration choose commands it runs (`-c core.fsmonitor=…`, `--exec-path`, `rebase --exec`)",
};
const CARGO: Launcher = Launcher {
    kind: Kind::Subcommand {
        valued: &["--config", "-Z", "-C", "--color"],
        config: &["--config", "-Z", "-C"],
        running: &["run", "install", "script"],
    },
    what: "a tool whose subcommand (any `cargo-*` on PATH) and `--config` choose what runs",
};
const NPM: Launcher = Launcher {
    kind: Kind::Subcommand {
        valued: &["--prefix", "-C", "--userconfig", "--globalconfig"],
        config: &["--prefix", "-C", "--userconfig", "--globalconfig"],
        running: &[
            "exec",
            "x",
            "dlx",
            "run",
            "run-script",
            "rum",
            "urn",
            "start",
            "test",
            "restart",
            "stop",
            "install",
            "i",
            "add",
            "create",
            "init",
            "explore",
        ],
    },
    what: "a package manager whose subcommands run package scripts and binaries",
};
const CONTAINERS: Launcher = Launcher {
    kind: Kind::Subcommand {
        valued: &["-H", "--host", "--context", "--config", "--kubeconfig"],
        config: &["-H", "--host", "--context", "--config", "--kubeconfig"],
        running: &[
            "run", "exec", "create", "build", "compose", "debug", "attach", "cp",
        ],
    },
    what: "a client that starts arbitrary containers or processes",
};
const GO: Launcher = Launcher {
    kind: Kind::Subcommand {
        valued: &["-C"],
        config: &["-C"],
        running: &["run", "generate", "tool", "test", "env"],
    },
    what: "a tool whose subcommands run programs (`go run`, `go generate`)",
};

/// The launcher `cmd` is, if any.
pub fn launcher(cmd: &str) -> Option<Launcher> {
    let any = |what| {
        Some(Launcher {
            kind: Kind::Any,
            what,
        })
    };
    match cmd {
        c if SHELLS.contains(&c) => any("a shell"),
        c if MULTICALL.contains(&c) => any("a multi-call binary that contains a shell"),
        c if WRAPPERS.contains(&c) => any("a launcher: it runs the command in its arguments"),
        c if DEBUGGERS.contains(&c) => {
            any("a tracer or debugger: it runs and controls any program")
        }
        c if INTERPRETERS.contains(&c) => any("an interpreter"),
        c if EDITORS.contains(&c) => any("an editor that runs commands"),
        c if BUILD.contains(&c) => {
            any("a build tool that runs the recipes of any makefile (`-f`, `--eval`, variables)")
        }
        "git" => Some(GIT),
        "cargo" => Some(CARGO),
        "npm" | "pnpm" | "yarn" => Some(NPM),
        "docker" | "podman" | "nerdctl" | "kubectl" => Some(CONTAINERS),
        "go" => Some(GO),
        c => PREFIXED
            .iter()
            .find(|(p, _)| c.starts_with(p))
            .and_then(|(_, what)| any(what)),
    }
}

/// Whether a glob admits more than one value.
pub fn is_free(glob: &str) -> bool {
    glob.contains(['*', '?'])
}

/// Why granting `cmd` with these argument globs grants everything: the index of the
/// glob at fault and the reason. `None` when the globs pin down what runs.
pub fn free_launch(cmd: &str, globs: &[String]) -> Option<(usize, String)> {
    let l = launcher(cmd)?;
    match l.kind {
        Kind::Any => globs.iter().position(|g| is_free(g)).map(|i| {
            (
                i,
                format!(
                    "granting `{cmd}` with free arguments (`{}`) grants everything: `{cmd}` is {}, so the plugin chooses what it runs",
                    globs[i].escape_debug(),
                    l.what
                ),
            )
        }),
        Kind::Subcommand {
            valued,
            config,
            running,
        } => {
            let mut i = 0;
            // Leading options, up to the subcommand.
            while let Some(g) = globs.get(i) {
                if g == "**" || (is_free(g) && g.starts_with('-')) {
                    let what = if g == "**" {
                        "free options and subcommand"
                    } else {
                        "free leading options"
                    };
                    return Some((
                        i,
                        format!(
                            "granting `{cmd}` with {what} (`{}`) grants everything: `{cmd}` is {}",
                            g.escape_debug(),
                            l.what
                        ),
                    ));
                }
                if !g.starts_with('-') {
                    break;
                }
                let (name, inline) = match g.split_once('=') {
                    Some((n, v)) => (n, Some(v)),
                    None => (g.as_str(), None),
                };
                let takes_next = inline.is_none() && valued.contains(&name);
                let value = if takes_next {
                    globs.get(i + 1).map(String::as_str)
                } else {
                    inline
                };
                if config.contains(&name) && value.is_none_or(is_free) {
                    let at = if takes_next { i + 1 } else { i };
                    return Some((
                        at.min(globs.len().saturating_sub(1)),
                        format!(
                            "granting `{cmd} {name}` with a free value grants everything: `{cmd}` is {}",
                            l.what
                        ),
                    ));
                }
                i += if takes_next { 2 } else { 1 };
            }
            let sub = globs.get(i)?;
            if is_free(sub) {
                return Some((
                    i,
                    format!(
                        "granting `{cmd}` with a free subcommand (`{}`) grants everything: `{cmd}` is {}",
                        sub.escape_debug(),
                        l.what
                    ),
                ));
            }
            if running.contains(&sub.as_str())
                && let Some(j) = globs[i + 1..].iter().position(|g| is_free(g))
            {
                return Some((
                    i + 1 + j,
                    format!(
                        "granting `{cmd} {sub}` with free arguments (`{}`) grants everything: `{cmd} {sub}` runs commands its arguments name",
                        globs[i + 1 + j].escape_debug()
                    ),
                ));
            }
            None
        }
    }
}

/// What a tool reads from the directory it works in that decides which code runs,
/// or `None` for tools not known to. A plugin that can write those files (a
/// `grants.fs.write` of its stage) chooses the code the tool runs inside its sandbox;
/// `gantry audit` says so. Launchers count: their arguments name scripts.
pub fn reads_workspace(cmd: &str) -> Option<&'static str> {
    Some(match cmd {
        "git" => "`.git/config` (`core.fsmonitor`, `core.hooksPath`, aliases, filters) and hooks",
        "cargo" | "rustc" | "rustdoc" | "cross" => {
            "`.cargo/config.toml` (runners, `rustc-wrapper`), build scripts and proc macros"
        }
        "npm" | "pnpm" | "yarn" | "bun" | "deno" | "npx" | "pnpx" | "bunx" => {
            "`package.json` scripts, `.npmrc` and installed packages"
        }
        "make" | "gmake" | "bmake" | "remake" => "the makefiles' recipes",
        "cmake" | "ninja" | "meson" | "bazel" | "bazelisk" | "just" | "task" | "scons" => {
            "its build files"
        }
        "go" => "`go.mod` (toolchain), `go:generate` lines and cgo flags",
        "pip" | "pip3" | "pytest" | "tox" | "nox" | "poetry" | "uv" | "hatch" | "pdm" => {
            "`conftest.py`, `setup.py` and `pyproject.toml` build back-ends"
        }
        "gradle" | "gradlew" | "mvn" | "mvnw" | "ant" | "sbt" => "its build files and wrappers",
        "bundle" | "rake" | "gem" => "the Gemfile and Rakefile",
        "mix" | "composer" | "dotnet" | "msbuild" | "terraform" | "pre-commit" | "direnv" => {
            "its project files, which name code to run"
        }
        c => match launcher(c) {
            Some(Launcher {
                kind: Kind::Any, ..
            }) => "the scripts and files its arguments name",
            _ => return None,
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn free(cmd: &str, globs: &[&str]) -> Option<usize> {
        let globs: Vec<String> = globs.iter().map(|s| s.to_string()).collect();
        free_launch(cmd, &globs).map(|(i, _)| i)
    }

    #[test]
    fn the_brief_s_launchers_are_all_listed() {
        for c in [
            "sh",
            "bash",
            "zsh",
            "busybox",
            "env",
            "xargs",
            "sudo",
            "doas",
            "su",
            "pkexec",
            "nice",
            "nohup",
            "timeout",
            "setsid",
            "stdbuf",
            "find",
            "awk",
            "gawk",
            "mawk",
            "perl",
            "python",
            "python3",
            "python3.11",
            "node",
            "ruby",
            "php",
            "lua",
            "lua5.4",
            "flock",
            "chroot",
            "watch",
            "unshare",
            "nsenter",
            "strace",
            "gdb",
            "ssh",
            "script",
            "parallel",
            "make",
            "npx",
        ] {
            assert_eq!(
                launcher(c).map(|l| l.kind),
                Some(Kind::Any),
                "{c} is a launcher"
            );
            assert_eq!(free(c, &["*"]), Some(0), "{c} *");
            assert_eq!(free(c, &["x", "**"]), Some(1), "{c} x **");
            assert_eq!(
                free(c, &["scripts/ci.sh"]),
                None,
                "{c} with fixed arguments"
            );
        }
        assert!(launcher("ls").is_none());
        assert!(launcher("cat").is_none());
    }

    #[test]
    fn git_leading_options_subcommands_and_running_subcommands() {
        assert_eq!(free("git", &["status", "--short"]), None);
        assert_eq!(free("git", &["log", "-n", "5", "--format=*"]), None);
        assert_eq!(free("git", &["-c", "*", "status"]), Some(1));
        assert_eq!(free("git", &["-c", "core.fsmonitor=*", "status"]), Some(1));
        assert_eq!(free("git", &["-c"]), Some(0));
        assert_eq!(free("git", &["--exec-path=*", "status"]), Some(0));
        assert_eq!(free("git", &["-C", "*", "status"]), Some(1));
        assert_eq!(free("git", &["-C", "sub", "status"]), None);
        assert_eq!(free("git", &["--*", "status"]), Some(0));
        assert_eq!(free("git", &["**"]), Some(0));
        assert_eq!(free("git", &["*"]), Some(0));
        assert_eq!(free("git", &["rebase", "**"]), Some(1));
        assert_eq!(free("git", &["submodule", "foreach", "*"]), Some(2));
        assert_eq!(free("git", &["fetch", "origin"]), None);
    }

    #[test]
    fn tools_that_read_workspace_configuration() {
        for c in [
            "git", "cargo", "npm", "make", "go", "pytest", "sh", "python3",
        ] {
            assert!(reads_workspace(c).is_some(), "{c}");
        }
        for c in ["ls", "cat", "ldd", "strip", "cp", "echo"] {
            assert!(reads_workspace(c).is_none(), "{c}");
        }
    }

    #[test]
    fn cargo_and_npm_decide_by_subcommand() {
        assert_eq!(free("cargo", &["clippy", "**"]), None);
        assert_eq!(free("cargo", &["**"]), Some(0));
        assert_eq!(free("cargo", &["*", "--offline"]), Some(0));
        assert_eq!(free("cargo", &["--config", "*", "build"]), Some(1));
        assert_eq!(free("cargo", &["--config=*", "build"]), Some(0));
        assert_eq!(free("cargo", &["--offline", "build", "**"]), None);
        assert_eq!(free("cargo", &["run", "**"]), Some(1));
        assert_eq!(free("npm", &["ci"]), None);
        assert_eq!(free("npm", &["exec", "*"]), Some(1));
        assert_eq!(free("npm", &["*"]), Some(0));
    }
}
