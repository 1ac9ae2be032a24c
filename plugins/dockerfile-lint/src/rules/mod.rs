//! The rules: hadolint's DL ids, default severities and meaning, implemented over
//! [`crate::parser`] and [`crate::shell`].
//!
//! [`Analysis::new`] walks a parsed Dockerfile once: it splits it into build stages,
//! tracks `ARG`/`ENV` values per stage (global `ARG`s before the first `FROM` are
//! visible to `FROM` lines only, as in Docker), resolves each `FROM` image through
//! them, and parses every `RUN` (shell form, exec form, heredoc scripts, and the
//! `RUN` of `ONBUILD RUN`) into commands. Each rule in `checks.rs` is then a function
//! over that analysis that returns [`Hit`]s.
//!
//! Where hadolint reads text as written and we can do better (a `FROM debian:$TAG`
//! whose `ARG TAG=latest` resolves to `latest`), we resolve; a variable with no known
//! value leaves the text as written, so nothing is reported about values nobody chose.
//! Differences from hadolint are listed in `benches/dockerfile-lint/RESULTS.md`.
//!
//! One rule, one row: [`RULES`] (id, level, message, reason) is the source; the check
//! in `checks.rs`, the fixture and test in `tests.rs` and the section of `RULES.md`
//! are each compared with it by a test, so none can be added, dropped or reworded
//! alone.
//!
//! Tests: `src/rules/tests.rs` (a positive and a negative case per rule).

mod checks;
#[cfg(test)]
mod tests;

use crate::parser::{self, Args, Dockerfile, ImageRef, Instruction, Keyword};
use crate::shell::{self, Script};
use crate::subst::{self, Vars};

/// hadolint's severities; `info` and `style` are SARIF `note`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Error,
    Warning,
    Info,
    Style,
}

/// Static facts about a rule.
#[derive(Debug, Clone, Copy)]
pub struct RuleMeta {
    pub id: &'static str,
    pub severity: Severity,
    /// hadolint's message (what the finding says).
    pub message: &'static str,
    /// Why it matters (SARIF fullDescription).
    pub why: &'static str,
}

macro_rules! rules {
    ($( $id:literal $sev:ident $msg:literal $why:literal; )*) => {
        /// Every rule, in id order.
        pub const RULES: &[RuleMeta] = &[
            $( RuleMeta { id: $id, severity: Severity::$sev, message: $msg, why: $why }, )*
        ];
    };
}

rules! {
    "DL1000" Error "The Dockerfile could not be parsed." "Docker refuses to build it; no other rule can check the file until it parses.";
    "DL3000" Error "Use absolute WORKDIR." "A relative WORKDIR depends on the previous one and is easy to misread; absolute paths say where files go.";
    "DL3001" Info "For some bash commands it makes no sense running them in a Docker container like `ssh`, `vim`, `shutdown`, `service`, `ps`, `free`, `top`, `kill`, `mount`, `ifconfig`." "Interactive tools and service managers do nothing useful while an image is built.";
    "DL3002" Warning "Last USER should not be root." "Containers that run as root turn any escape into root on the host; switch to an unprivileged user at the end of the stage.";
    "DL3003" Warning "Use WORKDIR to switch to a directory." "`cd` in RUN only lasts for that RUN; WORKDIR is explicit and applies to later instructions.";
    "DL3004" Error "Do not use sudo as it leads to unpredictable behavior. Use a tool like gosu to enforce root." "sudo has TTY and signal behaviour unsuited to containers; build steps already run as the current USER.";
    "DL3006" Warning "Always tag the version of an image explicitly." "An untagged image means `latest`, which changes under you and makes builds unreproducible.";
    "DL3007" Warning "Using latest is prone to errors if the image will ever update. Pin the version explicitly to a release tag." "`latest` moves; the same Dockerfile builds different images on different days.";
    "DL3008" Warning "Pin versions in apt get install. Instead of `apt-get install <package>` use `apt-get install <package>=<version>`." "Unpinned packages make builds unreproducible and can pull in breaking changes.";
    "DL3009" Info "Delete the apt-get lists after installing something." "`/var/lib/apt/lists` left in a layer adds tens of megabytes to the image.";
    "DL3010" Info "Use ADD for extracting archives into an image." "COPY of an archive followed by extracting it in RUN keeps the archive in a layer; ADD extracts local tar archives directly.";
    "DL3011" Error "Valid UNIX ports range from 0 to 65535." "EXPOSE of a port outside the range is an error at run time.";
    "DL3012" Error "Multiple `HEALTHCHECK` instructions." "Only the last HEALTHCHECK of a stage takes effect; the others are dead code.";
    "DL3013" Warning "Pin versions in pip. Instead of `pip install <package>` use `pip install <package>==<version>` or `pip install --requirement <requirements file>`." "Unpinned Python packages make builds unreproducible.";
    "DL3014" Warning "Use the `-y` switch to avoid manual input `apt-get -y install <package>`." "Without `-y` apt-get asks for confirmation and the build fails or hangs.";
    "DL3015" Info "Avoid additional packages by specifying `--no-install-recommends`." "Recommended packages bloat the image and widen its attack surface.";
    "DL3016" Warning "Pin versions in npm. Instead of `npm install <package>` use `npm install <package>@<version>`." "Unpinned npm packages make builds unreproducible.";
    "DL3018" Warning "Pin versions in apk add. Instead of `apk add <package>` use `apk add <package>=<version>`." "Unpinned Alpine packages make builds unreproducible.";
    "DL3019" Info "Use the `--no-cache` switch to avoid the need to use `--update` and remove `/var/cache/apk/*` when done installing packages." "The apk index cache stays in the layer unless `--no-cache` is used.";
    "DL3020" Error "Use COPY instead of ADD for files and folders." "ADD also fetches URLs and extracts archives; COPY does only what it says.";
    "DL3021" Error "COPY with more than 2 arguments requires the last argument to end with /." "With several sources Docker needs a directory destination; the build fails otherwise.";
    "DL3022" Warning "COPY --from should reference a previously defined FROM alias." "A `--from` that is not a stage is pulled as an image, usually by mistake.";
    "DL3023" Error "`COPY --from` cannot reference its own `FROM` alias." "A stage cannot copy from itself; the build fails.";
    "DL3024" Error "FROM aliases (stage names) must be unique." "Duplicate stage names make `--from` and `--target` ambiguous.";
    "DL3025" Warning "Use arguments JSON notation for CMD and ENTRYPOINT arguments." "Shell form runs the program under `/bin/sh -c`, so it does not receive signals such as SIGTERM.";
    "DL3026" Error "Use only an allowed registry in the FROM image." "Images from unvetted registries are a supply-chain risk (configure `trusted-registries`).";
    "DL3027" Warning "Do not use apt as it is meant to be a end-user tool, use apt-get or apt-cache instead." "apt's interface is not stable for scripts.";
    "DL3028" Warning "Pin versions in gem install. Instead of `gem install <gem>` use `gem install <gem>:<version>`." "Unpinned gems make builds unreproducible.";
    "DL3029" Warning "Do not use --platform flag with FROM." "A hard-coded platform breaks multi-platform builds; use `$BUILDPLATFORM`/`$TARGETPLATFORM`.";
    "DL3030" Warning "Use the -y switch to avoid manual input `yum install -y <package>`." "Without `-y` yum asks for confirmation.";
    "DL3032" Warning "`yum clean all` missing after yum command." "yum's cache stays in the layer.";
    "DL3033" Warning "Specify version with `yum install -y <package>-<version>`." "Unpinned packages make builds unreproducible.";
    "DL3034" Warning "Non-interactive switch missing from `zypper` command: `zypper install -y`." "Without `-n`/`-y` zypper asks for confirmation.";
    "DL3035" Warning "Do not use `zypper dist-upgrade`." "A distribution upgrade inside a build makes the base image tag meaningless.";
    "DL3036" Warning "`zypper clean` missing after zypper use." "zypper's cache stays in the layer.";
    "DL3037" Warning "Specify version with `zypper install -y <package>=<version>`." "Unpinned packages make builds unreproducible.";
    "DL3038" Warning "Use the -y switch to avoid manual input `dnf install -y <package>`." "Without `-y` dnf asks for confirmation.";
    "DL3040" Warning "`dnf clean all` missing after dnf command." "dnf's cache stays in the layer.";
    "DL3041" Warning "Specify version with `dnf install -y <package>-<version>`." "Unpinned packages make builds unreproducible.";
    "DL3042" Warning "Avoid use of cache directory with pip. Use `pip install --no-cache-dir <package>`." "pip's cache stays in the layer.";
    "DL3043" Error "`ONBUILD`, `FROM` or `MAINTAINER` triggered from within `ONBUILD` instruction." "Docker refuses these as ONBUILD triggers.";
    "DL3044" Error "Do not refer to an environment variable within the same `ENV` statement where it is defined." "Within one ENV the new value is not visible yet; the reference gets the old (often empty) value.";
    "DL3045" Warning "`COPY` to a relative destination without `WORKDIR` set." "The destination then depends on the base image's WORKDIR, which can change.";
    "DL3046" Warning "`useradd` without flag `-l` and high UID will result in excessively large Image." "useradd writes a sparse lastlog entry sized by the UID; `-l` skips it.";
    "DL3047" Info "Avoid use of wget without progress bar. Use `wget --progress=dot:giga <url>`. Or consider using `-q` or `-nv` (shorthands for `--quiet` or `--no-verbose`)." "wget's default progress bar floods build logs.";
    "DL3048" Style "Invalid label key." "Label keys should be lower-case reverse-DNS names without reserved Docker namespaces.";
    "DL3059" Info "Multiple consecutive `RUN` instructions. Consider consolidation." "Each RUN is a layer; simple consecutive RUNs can be one.";
    "DL3060" Info "`yarn cache clean` missing after `yarn install` was run." "yarn's cache stays in the layer.";
    "DL3061" Error "Invalid instruction order. Dockerfile must begin with `FROM`, `ARG` or comment." "Docker refuses other instructions before the first FROM.";
    "DL3062" Warning "Pin versions in go. Instead of `go install <package>` use `go install <package>@<version>`." "Unpinned Go tools make builds unreproducible.";
    "DL3063" Warning "Stage name should not be a reserved word." "`scratch` and `context` have special meanings as build sources; a stage with that name is ambiguous.";
    "DL3064" Warning "Potentially sensitive data should not be used in the `ARG` or `ENV` commands." "ARG and ENV values are stored in the image history and metadata, readable by anyone with the image; use secret mounts.";
    "DL3065" Warning "Setting `FROM --platform` to predefined `$TARGETPLATFORM` is redundant as this is the default behavior." "It adds noise without changing the build.";
    "DL3066" Info "Non-numeric user-id may not be resolvable by host system." "Kubernetes `runAsNonRoot` and host tools can only check numeric ids.";
    "DL3067" Warning "Do not copy an entire filesystem from another stage." "`COPY --from=stage / /` drags the whole stage, package caches and build tools included, into the image.";
    "DL4000" Error "MAINTAINER is deprecated." "Use `LABEL org.opencontainers.image.authors=…` instead.";
    "DL4001" Warning "Either use Wget or Curl but not both." "Installing both tools doubles what the image carries for the same job.";
    "DL4003" Warning "Multiple `CMD` instructions found. If you list more than one `CMD` then only the last `CMD` will take effect." "Earlier CMDs in a stage are dead code.";
    "DL4004" Error "Multiple `ENTRYPOINT` instructions found. If you list more than one `ENTRYPOINT` then only the last `ENTRYPOINT` will take effect." "Earlier ENTRYPOINTs in a stage are dead code.";
    "DL4005" Warning "Use SHELL to change the default shell." "Replacing /bin/sh with `ln` changes it for everything in the image; SHELL changes it for the build.";
    "DL4006" Warning "Set the SHELL option -o pipefail before RUN with a pipe in it. If you are using /bin/sh in an alpine image or if your shell is symlinked to busybox then consider explicitly setting your SHELL to /bin/ash, or disable this check." "Without pipefail a failing command before `|` does not fail the build.";
}

/// Metadata of rule `id`.
/// The ids of the implemented checks, in their order (tests compare them with
/// [`RULES`]).
pub fn check_ids() -> Vec<&'static str> {
    checks::ALL.iter().map(|(id, _)| *id).collect()
}

pub fn meta(id: &str) -> Option<&'static RuleMeta> {
    RULES.iter().find(|r| r.id == id)
}

/// A rule violation at an instruction, before suppression and fingerprinting.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hit {
    pub rule: &'static str,
    /// Index into [`Analysis::items`].
    pub item: usize,
    /// What exactly is wrong (`curl`, `8080000`), appended to the message.
    pub detail: Option<String>,
}

/// Rule options from the stage config.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// DL3026: registries `FROM` may use (empty: rule off).
    pub trusted_registries: Vec<String>,
}

/// A build stage.
#[derive(Debug, Clone)]
pub struct Stage {
    /// Index of its `FROM` in [`Analysis::items`].
    pub item: usize,
    /// The image as written.
    pub image_raw: String,
    /// The image with `ARG`s substituted, when they all have values.
    pub image: Option<ImageRef>,
    pub alias: Option<String>,
    pub platform: Option<String>,
}

/// One instruction with what the rules need to know about it.
#[derive(Debug, Clone)]
pub struct Item<'a> {
    pub ins: &'a Instruction,
    /// The build stage (None before the first FROM).
    pub stage: Option<usize>,
    /// Commands of a `RUN` (or `ONBUILD RUN`).
    pub script: Option<Script>,
    /// The RUN text for rules that look at it as written (`PIP_NO_CACHE_DIR=1`).
    pub run_text: String,
    /// Variables visible at this instruction (after it for ARG/ENV).
    pub vars: Vars,
}

/// A Dockerfile ready for the rules.
pub struct Analysis<'a> {
    pub file: &'a Dockerfile,
    pub items: Vec<Item<'a>>,
    pub stages: Vec<Stage>,
    pub options: &'a Options,
}

const SHELLS: &[&str] = &["sh", "bash", "ash", "dash", "zsh", "ksh", "busybox"];

fn basename(p: &str) -> &str {
    p.rsplit('/').next().unwrap_or(p)
}

/// Commands of a RUN: exec form is one command; shell form is parsed; heredoc bodies
/// are parsed too when they are the script (`RUN <<EOF`) or fed to a shell.
fn run_script(ins: &Instruction) -> (Script, String) {
    match ins.args() {
        Args::Exec(v) => {
            let mut s = Script::default();
            if let Some((name, args)) = v.split_first() {
                s.commands.push(shell::Command {
                    name: name.clone(),
                    args: args.to_vec(),
                });
            }
            (s, v.join(" "))
        }
        Args::Shell(text) => {
            let mut s = shell::parse(&text);
            let mut all = text.clone();
            let fed_to_shell = s
                .commands
                .first()
                .is_none_or(|c| SHELLS.contains(&basename(&c.name)));
            for h in &ins.heredocs {
                let shebang_other = h
                    .body
                    .strip_prefix("#!")
                    .and_then(|l| l.lines().next())
                    .is_some_and(|l| !l.split_whitespace().any(|w| SHELLS.contains(&basename(w))));
                if fed_to_shell && !shebang_other {
                    let inner = shell::parse(&h.body);
                    s.has_pipe |= inner.has_pipe;
                    s.commands.extend(inner.commands);
                    all.push('\n');
                    all.push_str(&h.body);
                }
            }
            (s, all)
        }
    }
}

impl<'a> Analysis<'a> {
    pub fn new(
        file: &'a Dockerfile,
        options: &'a Options,
    ) -> Result<Analysis<'a>, parser::ParseError> {
        let esc = file.escape;
        let mut items = Vec::with_capacity(file.instructions.len());
        let mut stages: Vec<Stage> = Vec::new();
        let mut global: Vars = Vars::new();
        let mut vars: Vars = Vars::new();
        for ins in &file.instructions {
            let idx = items.len();
            match ins.keyword {
                Keyword::From => {
                    let from = parser::parse_from(ins)?;
                    let resolved = subst::expand(&from.image, esc, &global).map_err(|e| {
                        parser::ParseError {
                            line: ins.line,
                            column: ins.column,
                            message: format!("FROM `{}`: {e}", from.image),
                        }
                    })?;
                    // A stage starts with the environment of the stage it builds on.
                    let parent = resolved.as_deref().and_then(|img| {
                        stages.iter().rposition(|s| s.alias.as_deref() == Some(img))
                    });
                    vars = match parent {
                        Some(p) => items
                            .iter()
                            .rev()
                            .find(|it: &&Item<'_>| it.stage == Some(p))
                            .map(|it| it.vars.clone())
                            .unwrap_or_default(),
                        None => Vars::new(),
                    };
                    stages.push(Stage {
                        item: idx,
                        image_raw: from.image.clone(),
                        image: resolved.as_deref().map(ImageRef::parse),
                        alias: from.alias,
                        platform: from.platform,
                    });
                }
                Keyword::Arg => {
                    let pairs = parser::parse_pairs(ins, esc)?;
                    let in_stage = !stages.is_empty();
                    for p in pairs {
                        let value = match &p.value {
                            Some(v) => {
                                let scope = if in_stage { &vars } else { &global };
                                subst::expand(v, esc, scope).ok().flatten()
                            }
                            // Re-declaring a global ARG in a stage brings its default in.
                            None => global.get(&p.key).cloned(),
                        };
                        let target = if in_stage { &mut vars } else { &mut global };
                        match value {
                            Some(v) => {
                                target.insert(p.key, v);
                            }
                            None => {
                                target.remove(&p.key);
                            }
                        }
                    }
                }
                Keyword::Env => {
                    let pairs = parser::parse_pairs(ins, esc)?;
                    // All values of one ENV see the variables from before it (DL3044).
                    let before = vars.clone();
                    for p in pairs {
                        let v = p.value.unwrap_or_default();
                        match subst::expand(&v, esc, &before).ok().flatten() {
                            Some(x) => vars.insert(p.key, x),
                            None => vars.remove(&p.key),
                        };
                    }
                }
                Keyword::Label => {
                    parser::parse_pairs(ins, esc)?;
                }
                _ => {}
            }
            let run = match ins.keyword {
                Keyword::Run => Some(run_script(ins)),
                Keyword::Onbuild => ins
                    .onbuild
                    .as_deref()
                    .filter(|i| i.keyword == Keyword::Run)
                    .map(run_script),
                _ => None,
            };
            let (script, run_text) = match run {
                Some((s, t)) => (Some(s), t),
                None => (None, String::new()),
            };
            items.push(Item {
                ins,
                stage: stages.len().checked_sub(1),
                script,
                run_text,
                vars: if stages.is_empty() {
                    global.clone()
                } else {
                    vars.clone()
                },
            });
        }
        Ok(Analysis {
            file,
            items,
            stages,
            options,
        })
    }

    /// `text` with this item's variables substituted; `None` when a variable has no
    /// known value (or the substitution is malformed).
    pub fn expand(&self, item: usize, text: &str) -> Option<String> {
        subst::expand(text, self.file.escape, &self.items[item].vars)
            .ok()
            .flatten()
    }

    /// Runs every rule; hits are in rule order, then file order.
    pub fn run(&self) -> Vec<Hit> {
        let mut hits = Vec::new();
        for (id, check) in checks::ALL {
            let mut out = Out {
                rule: id,
                hits: &mut hits,
            };
            check(self, &mut out);
        }
        hits
    }

    /// Items that have RUN commands (`RUN` and `ONBUILD RUN`).
    pub fn scripts(&self) -> impl Iterator<Item = (usize, &Script)> {
        self.items
            .iter()
            .enumerate()
            .filter_map(|(i, it)| it.script.as_ref().map(|s| (i, s)))
    }

    /// Items with `keyword` (top level, not inside ONBUILD).
    pub fn with(&self, keyword: Keyword) -> impl Iterator<Item = (usize, &Item<'a>)> {
        self.items
            .iter()
            .enumerate()
            .filter(move |(_, it)| it.ins.keyword == keyword)
    }
}

/// Where one rule writes its hits.
pub struct Out<'h> {
    rule: &'static str,
    hits: &'h mut Vec<Hit>,
}

impl Out<'_> {
    pub fn at(&mut self, item: usize) {
        self.hits.push(Hit {
            rule: self.rule,
            item,
            detail: None,
        });
    }

    pub fn detail(&mut self, item: usize, detail: impl Into<String>) {
        self.hits.push(Hit {
            rule: self.rule,
            item,
            detail: Some(detail.into()),
        });
    }
}
