//! The check itself: stage configuration, rules, and the run that reads every
//! configured source, evaluates each licence against the policy and produces
//! findings with stable fingerprints and per-licence counts.
//!
//! Fingerprints are the first 32 hex digits of
//! `sha256(rule 0x00 ecosystem 0x00 package 0x00 version 0x00 licence)` for packages
//! and `sha256(rule 0x00 path 0x00 licence)` for files: they survive line moves and
//! lockfile reordering, and change when the licence or the version changes (a new
//! version deserves a new look).
//!
//! Refused with a configuration error naming the key: absolute or `..` paths, bad
//! allow/deny/exception entries (see [`crate::policy`]), bad globs.
//!
//! Tests: `tests/check.rs` (end-to-end over the fixtures), `policy::tests`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::policy::{ExceptionConfig, PackageRef, Policy, Verdict};
use crate::sources::files::FileScan;
use crate::sources::walk::Glob;
use crate::sources::{Declared, FileLicense, Location, Package, cargo, files, npm, python};
use crate::spdx::{self, Expr, Requirement};

/// Finding level: the SDK's, shared by every plugin (serde and JSON Schema derives,
/// `as_str`, `ALL`).
pub use gantry_sdk::Level;

/// `cargo` table of the stage config.
#[derive(Debug, Clone, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct CargoConfig {
    /// Workspace-relative `Cargo.lock` (default `Cargo.lock`).
    #[serde(default)]
    pub lockfile: Option<String>,
    /// Workspace-relative directories holding crate sources: a Cargo registry source
    /// cache (`$CARGO_HOME/registry/src`), one index directory of it, or a
    /// `cargo vendor` directory.
    #[serde(default)]
    pub registry: Vec<String>,
    /// Workspace-relative `cargo metadata --format-version 1` output.
    #[serde(default)]
    pub metadata: Option<String>,
    /// Run `cargo metadata --format-version 1 --locked --offline` through the process
    /// capability and read its output (instead of a `metadata` file). Needs
    /// `grants.process = [{ cmd = "cargo", args = ["metadata", "--format-version", "1",
    /// "--locked", "--offline"], env = ["CARGO_HOME", "RUSTUP_HOME"], read-only = true }]`
    /// and `grants.env = ["HOME"]` (or `CARGO_HOME`/`RUSTUP_HOME`): the broker gives
    /// commands an empty `HOME`, so the plugin passes where cargo's registry and
    /// toolchains are (`$CARGO_HOME`, else `$HOME/.cargo`; `$RUSTUP_HOME`, else
    /// `$HOME/.rustup`).
    #[serde(default)]
    pub metadata_command: bool,
    /// With `metadata-command`: only the crates built for this target
    /// (`cargo metadata --filter-platform PLATFORM`; `host-tuple` is the machine's
    /// own). Offline, `cargo metadata` needs every locked crate in the cache, including
    /// those of other platforms that a build never downloads; filtered, what `cargo
    /// build` fetched is enough. The process grant must name the same two arguments.
    #[serde(default)]
    pub platform: Option<String>,
    /// Check the workspace's own crates too (default true).
    #[serde(default)]
    pub workspace_members: Option<bool>,
}

/// `files` table of the stage config: the repository's own licence statements.
#[derive(Debug, Clone, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct FilesConfig {
    /// Workspace-relative roots (default ["."]; [] turns the file scan off).
    #[serde(default = "default_paths")]
    pub paths: Vec<String>,
    /// Globs never read (`target`, `node_modules`, `tests/fixtures/**`).
    #[serde(default)]
    pub exclude: Vec<String>,
    /// Read `SPDX-License-Identifier:` headers (default true).
    #[serde(default)]
    pub headers: Option<bool>,
    /// Identify LICENSE / COPYING files (default true).
    #[serde(default)]
    pub license_files: Option<bool>,
    /// Globs of files that must carry a header (`spdx-header-missing`); default none.
    #[serde(default)]
    pub require_header: Vec<String>,
}

fn default_paths() -> Vec<String> {
    vec![".".into()]
}

impl Default for FilesConfig {
    fn default() -> FilesConfig {
        FilesConfig {
            paths: default_paths(),
            exclude: Vec::new(),
            headers: None,
            license_files: None,
            require_header: Vec::new(),
        }
    }
}

/// Stage configuration (`with` in pipeline.toml).
#[derive(Debug, Clone, Default, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct Config {
    /// Accepted licences (SPDX ids, optionally `WITH` an exception). Empty = inventory
    /// mode: only `deny` and unknown licences are reported.
    #[serde(default)]
    pub allow: Vec<String>,
    /// Licences never accepted: an expression is denied when every choice needs one.
    #[serde(default)]
    pub deny: Vec<String>,
    /// Per-package additions to `allow`.
    #[serde(default)]
    pub exceptions: Vec<ExceptionConfig>,
    /// Level of `license-unknown` and `license-expression-invalid` (default error).
    #[serde(default)]
    pub unknown: Option<Level>,
    /// Rust dependencies from `Cargo.lock`.
    #[serde(default)]
    pub cargo: Option<CargoConfig>,
    /// Workspace-relative `site-packages` directories.
    #[serde(default)]
    pub python: Vec<String>,
    /// Workspace-relative `node_modules` directories.
    #[serde(default)]
    pub npm: Vec<String>,
    /// The repository's own headers and licence files (on by default).
    #[serde(default)]
    pub files: Option<FilesConfig>,
}

/// Rule metadata.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct RuleMeta {
    pub id: &'static str,
    pub short: &'static str,
    pub full: &'static str,
    pub level: Level,
}

pub const RULES: &[RuleMeta] = &[
    RuleMeta {
        id: "license-denied",
        short: "A licence on the deny list is required",
        full: "Every way to comply with this licence expression needs a licence on the `deny` list.",
        level: Level::Error,
    },
    RuleMeta {
        id: "license-not-allowed",
        short: "The licence is not on the allow list",
        full: "No choice of this expression's OR branches uses only licences on the `allow` list (or a package exception).",
        level: Level::Error,
    },
    RuleMeta {
        id: "license-unknown",
        short: "The licence could not be determined",
        full: "No licence was declared, or the declaration or licence text could not be read as SPDX. Unknown licences are never assumed acceptable.",
        level: Level::Error,
    },
    RuleMeta {
        id: "license-expression-invalid",
        short: "The licence is not a valid SPDX expression",
        full: "The declared licence does not parse as an SPDX expression (unknown id, bad operator, unbalanced parentheses); the column of the bad token is given.",
        level: Level::Error,
    },
    RuleMeta {
        id: "license-expression-deprecated",
        short: "The licence uses deprecated SPDX syntax",
        full: "The expression is understood but uses deprecated forms: `/` as OR, lower-case operators, or deprecated ids such as `GPL-2.0+`.",
        level: Level::Note,
    },
    RuleMeta {
        id: "license-exception-unused",
        short: "A package exception matched nothing",
        full: "An `exceptions` entry did not change the verdict for any package: the package is gone, has another version, or is already allowed.",
        level: Level::Note,
    },
    RuleMeta {
        id: "spdx-header-missing",
        short: "A file required to carry an SPDX header has none",
        full: "The file matches `files.require-header` but has no `SPDX-License-Identifier:` line in its first 8 KiB.",
        level: Level::Warning,
    },
];

/// One finding.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Finding {
    pub rule_id: &'static str,
    pub level: Level,
    pub path: String,
    pub line: Option<u32>,
    pub column: Option<u32>,
    pub message: String,
    pub fingerprint: String,
    /// `ecosystem:name@version` for package findings.
    pub package: Option<String>,
}

/// The verdict for one package, for reports and comparisons.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PackageResult {
    pub ecosystem: &'static str,
    pub name: String,
    pub version: String,
    /// Canonical expression, `None` when unknown or invalid.
    pub license: Option<String>,
    /// `allowed`, `not-allowed`, `denied`, `unknown`, `invalid` (or `listed` in
    /// inventory mode: no allow list).
    pub verdict: &'static str,
}

/// Everything a run produced.
#[derive(Debug, Clone, Default, Serialize)]
pub struct CheckOutput {
    pub findings: Vec<Finding>,
    pub packages: Vec<PackageResult>,
    pub files_read: u64,
    /// Canonical expression → number of packages and files declaring it.
    pub by_expression: BTreeMap<String, u64>,
    /// Licence id → number of packages and files whose expression mentions it.
    pub by_license: BTreeMap<String, u64>,
}

/// A validated configuration, ready to run against a workspace root.
pub struct Checker {
    policy: Policy,
    inventory: bool,
    unknown: Level,
    cargo: Option<(String, Vec<String>, Option<String>, bool)>,
    extra_registries: Vec<PathBuf>,
    /// `cargo metadata` output obtained by the plugin (`cargo.metadata-command`).
    metadata_text: Option<String>,
    platform_filtered: bool,
    python: Vec<String>,
    npm: Vec<String>,
    files: Option<(FilesConfig, Vec<Glob>, Vec<Glob>)>,
}

fn check_relative(key: &str, p: &str) -> Result<(), String> {
    let norm = p.replace('\\', "/");
    if norm.starts_with('/')
        || norm.split('/').any(|c| c == "..")
        || norm.contains(':') && norm.len() > 1 && norm.as_bytes()[1] == b':'
    {
        return Err(format!(
            "`{key}` = `{p}`: paths are relative to the workspace, without `..`; the stage only sees what `grants.fs.read` grants"
        ));
    }
    Ok(())
}

fn globs(key: &str, list: &[String]) -> Result<Vec<Glob>, String> {
    list.iter()
        .enumerate()
        .map(|(i, g)| Glob::new(g).map_err(|e| format!("`{key}[{i}]`: {e}")))
        .collect()
}

fn fingerprint(parts: &[&str]) -> String {
    let mut h = Sha256::new();
    for (i, p) in parts.iter().enumerate() {
        if i > 0 {
            h.update([0u8]);
        }
        h.update(p.as_bytes());
    }
    hex::encode(&h.finalize()[..16])
}

fn list(reqs: &[Requirement]) -> String {
    reqs.iter()
        .map(|r| format!("`{r}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

impl Checker {
    pub fn new(config: &Config) -> Result<Checker, String> {
        let policy = Policy::new(&config.allow, &config.deny, &config.exceptions)?;
        let cargo = match &config.cargo {
            Some(c) => {
                let lock = c.lockfile.clone().unwrap_or_else(|| "Cargo.lock".into());
                check_relative("cargo.lockfile", &lock)?;
                for (i, r) in c.registry.iter().enumerate() {
                    check_relative(&format!("cargo.registry[{i}]"), r)?;
                }
                if let Some(m) = &c.metadata {
                    check_relative("cargo.metadata", m)?;
                }
                Some((
                    lock,
                    c.registry.clone(),
                    c.metadata.clone(),
                    c.workspace_members.unwrap_or(true),
                ))
            }
            None => None,
        };
        for (i, p) in config.python.iter().enumerate() {
            check_relative(&format!("python[{i}]"), p)?;
        }
        for (i, p) in config.npm.iter().enumerate() {
            check_relative(&format!("npm[{i}]"), p)?;
        }
        let fc = config.files.clone().unwrap_or_default();
        for (i, p) in fc.paths.iter().enumerate() {
            check_relative(&format!("files.paths[{i}]"), p)?;
        }
        let exclude = globs("files.exclude", &fc.exclude)?;
        let require = globs("files.require-header", &fc.require_header)?;
        let files = (!fc.paths.is_empty()).then_some((fc, exclude, require));
        Ok(Checker {
            policy,
            inventory: config.allow.is_empty(),
            unknown: config.unknown.unwrap_or(Level::Error),
            cargo,
            extra_registries: Vec::new(),
            metadata_text: None,
            platform_filtered: false,
            python: config.python.clone(),
            npm: config.npm.clone(),
            files,
        })
    }

    /// Uses `text` as the `cargo metadata` export (what `cargo.metadata-command` ran).
    pub fn with_metadata_text(mut self, text: String) -> Checker {
        self.metadata_text = Some(text);
        self
    }

    /// The metadata is filtered to one platform (`cargo.platform`): locked crates it
    /// leaves out are not built there and are not checked.
    pub fn platform_filtered(mut self, on: bool) -> Checker {
        self.platform_filtered = on;
        self
    }

    /// Adds a crate source directory outside the workspace (native use: benchmarks,
    /// the example binary). The plugin never calls this.
    pub fn with_registry_dir(mut self, dir: PathBuf) -> Checker {
        self.extra_registries.push(dir);
        self
    }

    /// Runs over the workspace at `root`.
    pub fn run(&self, root: &Path) -> Result<CheckOutput, String> {
        let mut packages: Vec<Package> = Vec::new();
        if let Some((lock, regs, meta, members)) = &self.cargo {
            let metadata = match (meta, &self.metadata_text) {
                (_, Some(text)) => Some(cargo::parse_metadata(text, "cargo metadata")?),
                (Some(m), None) => {
                    let text = std::fs::read_to_string(root.join(m))
                        .map_err(|e| format!("cannot read `cargo.metadata` file `{m}`: {e}"))?;
                    Some(cargo::parse_metadata(&text, m)?)
                }
                (None, None) => None,
            };
            let mut registries: Vec<PathBuf> = regs.iter().map(|r| root.join(r)).collect();
            for (r, abs) in regs.iter().zip(&registries) {
                if !abs.is_dir() {
                    return Err(format!(
                        "`cargo.registry` = `{r}` is not a directory in the workspace\nhint: grant it with `grants.fs.read`, or export `cargo metadata` and set `cargo.metadata`"
                    ));
                }
            }
            registries.extend(self.extra_registries.iter().cloned());
            packages.extend(cargo::packages(&cargo::CargoInputs {
                lockfile: root.join(lock),
                lockfile_rel: lock.clone(),
                registries,
                metadata,
                platform_filtered: self.platform_filtered,
                workspace_members: *members,
            })?);
        }
        for p in &self.python {
            packages.extend(python::packages(&root.join(p), p)?);
        }
        for p in &self.npm {
            packages.extend(npm::packages(&root.join(p), p)?);
        }
        let mut out = CheckOutput::default();
        let mut used = vec![false; self.policy.exception_count()];
        for p in &packages {
            self.check_package(p, &mut out, &mut used);
        }
        for (i, u) in used.iter().enumerate() {
            if !u {
                let label = self.policy.exception_label(i);
                out.findings.push(Finding {
                    rule_id: "license-exception-unused",
                    level: Level::Note,
                    path: String::new(),
                    line: None,
                    column: None,
                    message: format!(
                        "exception `exceptions[{i}]` for `{label}` changed no verdict; remove it or fix its package name or version"
                    ),
                    fingerprint: fingerprint(&["license-exception-unused", &label]),
                    package: None,
                });
            }
        }
        if let Some((fc, exclude, require)) = &self.files {
            let scan = files::scan(
                root,
                &FileScan {
                    paths: fc.paths.clone(),
                    exclude: exclude.clone(),
                    headers: fc.headers.unwrap_or(true),
                    license_files: fc.license_files.unwrap_or(true),
                    require_header: require.clone(),
                },
            );
            out.files_read = scan.files_read;
            for f in &scan.found {
                self.check_file(f, &mut out);
            }
        }
        out.findings.sort_by(|a, b| {
            (&a.path, a.line, a.rule_id, &a.package).cmp(&(&b.path, b.line, b.rule_id, &b.package))
        });
        Ok(out)
    }

    fn count(out: &mut CheckOutput, expr: &Expr) {
        *out.by_expression.entry(expr.to_string()).or_default() += 1;
        let mut ids: Vec<String> = expr.requirements().iter().map(|r| r.to_string()).collect();
        ids.sort();
        ids.dedup();
        for id in ids {
            *out.by_license.entry(id).or_default() += 1;
        }
    }

    fn check_package(&self, p: &Package, out: &mut CheckOutput, used: &mut [bool]) {
        let eco = p.ecosystem.as_str();
        let label = format!("{eco}:{}@{}", p.name, p.version);
        let who = format!("`{} {}` ({eco})", p.name, p.version);
        let origin = if p.origin.is_empty() || p.origin == p.location.path {
            String::new()
        } else {
            format!(" (from {})", p.origin)
        };
        let mut result = PackageResult {
            ecosystem: eco,
            name: p.name.clone(),
            version: p.version.clone(),
            license: None,
            verdict: "unknown",
        };
        let mk =
            |rule: &'static str, level: Level, column: Option<u32>, message: String, lic: &str| {
                Finding {
                    rule_id: rule,
                    level,
                    path: p.location.path.clone(),
                    line: p.location.line,
                    column,
                    message,
                    fingerprint: fingerprint(&[rule, eco, &p.name, &p.version, lic]),
                    package: Some(label.clone()),
                }
            };
        let (expr, shown) = match &p.declared {
            Declared::Unknown { why } => {
                let origin = if why.contains(&p.origin) {
                    ""
                } else {
                    origin.as_str()
                };
                out.findings.push(mk(
                    "license-unknown",
                    self.unknown,
                    None,
                    format!("{who}: licence unknown: {why}{origin}"),
                    "",
                ));
                *out.by_expression.entry("(unknown)".into()).or_default() += 1;
                out.packages.push(result);
                return;
            }
            Declared::Identified { ids, from } => {
                let leaves: Vec<Expr> = ids
                    .iter()
                    .filter_map(|id| Requirement::parse_single(id).ok().map(Expr::Leaf))
                    .collect();
                let expr = if leaves.len() == 1 {
                    leaves.into_iter().next().unwrap_or(Expr::And(Vec::new()))
                } else {
                    Expr::And(leaves)
                };
                let shown = format!("`{expr}` (identified from the text of {from})");
                (expr, shown)
            }
            Declared::Expression { text, original } => match spdx::parse(text) {
                Ok(parsed) => {
                    if !parsed.quirks.is_empty() {
                        let what: Vec<String> =
                            parsed.quirks.iter().map(|q| q.message.clone()).collect();
                        out.findings.push(mk(
                            "license-expression-deprecated",
                            Level::Note,
                            p.location
                                .column
                                .map(|c| c + parsed.quirks[0].column as u32 - 1),
                            format!(
                                "{who}: licence `{text}` is read as `{}`: {}",
                                parsed.expr,
                                what.join("; ")
                            ),
                            text,
                        ));
                    }
                    let shown = match original {
                        Some(o) => format!("`{}` (declared as {o})", parsed.expr),
                        None => format!("`{}`", parsed.expr),
                    };
                    (parsed.expr, shown)
                }
                Err(e) => {
                    out.findings.push(mk(
                        "license-expression-invalid",
                        self.unknown,
                        p.location.column.map(|c| c + e.column as u32 - 1),
                        format!(
                            "{who}: licence `{text}` is not a valid SPDX expression: {e}{origin}\n{}",
                            e.render(text)
                        ),
                        text,
                    ));
                    *out.by_expression.entry("(invalid)".into()).or_default() += 1;
                    result.verdict = "invalid";
                    out.packages.push(result);
                    return;
                }
            },
        };
        Self::count(out, &expr);
        let canonical = expr.to_string();
        result.license = Some(canonical.clone());
        let eval = self.policy.evaluate(
            &expr,
            Some(PackageRef {
                ecosystem: eco,
                name: &p.name,
                version: &p.version,
            }),
        );
        if let Some(i) = eval.exception {
            used[i] = true;
        }
        result.verdict = match eval.verdict {
            Verdict::Allowed { .. } => "allowed",
            Verdict::Denied { denied } => {
                out.findings.push(mk(
                    "license-denied",
                    Level::Error,
                    None,
                    format!(
                        "{who} is licensed {shown}{origin}: every choice needs a denied licence ({})",
                        list(&denied)
                    ),
                    &canonical,
                ));
                "denied"
            }
            Verdict::NotAllowed { .. } if self.inventory => "listed",
            Verdict::NotAllowed { missing } => {
                out.findings.push(mk(
                    "license-not-allowed",
                    Level::Error,
                    None,
                    format!(
                        "{who} is licensed {shown}{origin}: not allowed: {}\nhint: add it to `allow`, or add `exceptions = [{{ package = \"{}\", allow = [\"…\"], reason = \"…\" }}]`",
                        list(&missing),
                        p.name
                    ),
                    &canonical,
                ));
                "not-allowed"
            }
        };
        out.packages.push(result);
    }

    fn check_file(&self, f: &FileLicense, out: &mut CheckOutput) {
        let file_finding = |rule: &'static str,
                            level: Level,
                            loc: &Location,
                            column: Option<u32>,
                            message: String,
                            lic: &str| Finding {
            rule_id: rule,
            level,
            path: loc.path.clone(),
            line: loc.line,
            column,
            message,
            fingerprint: fingerprint(&[rule, &loc.path, lic]),
            package: None,
        };
        match f {
            FileLicense::MissingHeader { location } => out.findings.push(file_finding(
                "spdx-header-missing",
                Level::Warning,
                location,
                None,
                format!(
                    "`{}` has no `SPDX-License-Identifier:` header\nhint: add a comment such as `// SPDX-License-Identifier: Apache-2.0` near the top",
                    location.path
                ),
                "",
            )),
            FileLicense::Text { location, ids } => {
                if ids.is_empty() {
                    out.findings.push(file_finding(
                        "license-unknown",
                        self.unknown,
                        location,
                        None,
                        format!(
                            "`{}` is not a licence text gantry recognises (templates: {})",
                            location.path,
                            crate::textid::template_ids().join(", ")
                        ),
                        "",
                    ));
                    *out.by_expression.entry("(unknown)".into()).or_default() += 1;
                    return;
                }
                let leaves: Vec<Expr> = ids
                    .iter()
                    .filter_map(|id| Requirement::parse_single(id).ok().map(Expr::Leaf))
                    .collect();
                let expr = if leaves.len() == 1 {
                    leaves.into_iter().next().unwrap_or(Expr::And(Vec::new()))
                } else {
                    Expr::And(leaves)
                };
                self.file_verdict(&expr, location, "licence file", out);
            }
            FileLicense::Header {
                location,
                expression,
            } => match spdx::parse(expression) {
                Ok(parsed) => {
                    if !parsed.quirks.is_empty() {
                        let q = &parsed.quirks[0];
                        out.findings.push(file_finding(
                            "license-expression-deprecated",
                            Level::Note,
                            location,
                            location.column.map(|c| c + q.column as u32 - 1),
                            format!(
                                "header `{expression}` is read as `{}`: {}",
                                parsed.expr, q.message
                            ),
                            expression,
                        ));
                    }
                    self.file_verdict(&parsed.expr, location, "header", out);
                }
                Err(e) => {
                    out.findings.push(file_finding(
                        "license-expression-invalid",
                        self.unknown,
                        location,
                        location.column.map(|c| c + e.column as u32 - 1),
                        format!(
                            "header `SPDX-License-Identifier: {expression}` is not a valid SPDX expression: {e}\n{}",
                            e.render(expression)
                        ),
                        expression,
                    ));
                    *out.by_expression.entry("(invalid)".into()).or_default() += 1;
                }
            },
        }
    }

    fn file_verdict(&self, expr: &Expr, loc: &Location, what: &str, out: &mut CheckOutput) {
        Self::count(out, expr);
        let canonical = expr.to_string();
        let fp = |rule: &str| fingerprint(&[rule, &loc.path, &canonical]);
        match self.policy.evaluate(expr, None).verdict {
            Verdict::Allowed { .. } => {}
            Verdict::Denied { denied } => out.findings.push(Finding {
                rule_id: "license-denied",
                level: Level::Error,
                path: loc.path.clone(),
                line: loc.line,
                column: loc.column,
                message: format!(
                    "{what} `{canonical}` in `{}`: every choice needs a denied licence ({})",
                    loc.path,
                    list(&denied)
                ),
                fingerprint: fp("license-denied"),
                package: None,
            }),
            Verdict::NotAllowed { .. } if self.inventory => {}
            Verdict::NotAllowed { missing } => out.findings.push(Finding {
                rule_id: "license-not-allowed",
                level: Level::Error,
                path: loc.path.clone(),
                line: loc.line,
                column: loc.column,
                message: format!(
                    "{what} `{canonical}` in `{}`: not allowed: {}\nhint: add it to `allow`, or exclude the path with `files.exclude`",
                    loc.path,
                    list(&missing)
                ),
                fingerprint: fp("license-not-allowed"),
                package: None,
            }),
        }
    }
}
