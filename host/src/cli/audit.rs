//! `gantry audit`: what each stage can do, for a security reviewer who does not read WIT.
//!
//! For every stage (in file order) it shows the plugin reference and digest, then, per
//! capability, the two halves of the question "what can this stage do?":
//!
//! - what the plugin's WIT **imports** make possible — the most it could ever do
//!   (`wasi:filesystem/*` and `gantry:plugin/files` → fs, `wasi:cli/environment` → env, `gantry:plugin/secrets`
//!   → secrets, `wasi:http/*` → http, `gantry:plugin/process` → process,
//!   `gantry:plugin/containers` → containers,
//!   `wasi:sockets/*` → network, `gantry:plugin/log` → log);
//! - what the stage **grants** in pipeline.toml;
//!
//! and the difference between them. An import without a grant is not a hole: the host
//! links one world for every plugin, and a call outside the grant is refused with
//! `denied` and written to `audit.jsonl` (for fs and env there is simply nothing to
//! reach: no preopened directory, an empty environment). A grant without an import
//! cannot be used by this plugin and should be removed — it would silently widen
//! what a later version of the plugin may do.
//!
//! Grants that give a plugin power outside its sandbox are flagged, each with its
//! reason: `containers` grants that manage long-running containers or give them a
//! network (high), every `process` grant (what its OS sandbox shows the command; high,
//! critical when the plugin can choose the code that runs — a write grant of the stage
//! plus a tool that reads workspace configuration, `**` arguments — or with
//! `network = true`; launchers come from [`crate::manifest::launchers`]), `fs.write` on `.` (the whole workspace,
//! `.git/hooks` included), `http` without TLS or to private/loopback addresses, and
//! every `reveal`.
//!
//! Every capability is known here only through its [`Description`]
//! (`host/src/caps/*/describe.rs`, listed once in [`crate::caps::ALL`]): the imports it
//! answers for, one line per thing granted, its dangers, whether its broker reads the
//! fs grants. Each is written next to the broker that enforces it.
//! The exit code is 0 whatever is found: this is a report, not a gate (`gantry.lock`
//! and `--locked` are the gate). Tests: `tests/e2e/audit_lock.rs`.

use std::io::IsTerminal;

use serde::Serialize;
use serde_json::{Value, json};

use super::{Cli, Failure, exit, load_and_prepare, style};
pub use crate::caps::describe::Danger;
use crate::caps::describe::{Description, explain_import, of_import};
use crate::manifest::Stage;
use crate::run::display::escape;
use crate::run::prepare::Prepared;

#[derive(Serialize)]
pub struct PipelineAudit {
    pub pipeline: String,
    pub file: String,
    pub stages: Vec<StageAudit>,
    pub summary: Summary,
}

#[derive(Serialize)]
pub struct Summary {
    pub stages: usize,
    pub critical: usize,
    pub dangers: usize,
    pub warnings: usize,
}

#[derive(Serialize)]
pub struct StageAudit {
    pub stage: String,
    /// The reference as written in pipeline.toml.
    pub plugin: String,
    pub name: String,
    pub version: String,
    pub digest: String,
    /// Every WIT import with the capability it gives (null: none) and its meaning.
    pub imports: Vec<Value>,
    /// `grants` of the stage as pipeline.toml resolved them.
    pub grants: Value,
    /// Per capability that is imported or granted: the comparison.
    pub capabilities: Vec<CapabilityAudit>,
    pub dangers: Vec<Danger>,
    pub warnings: Vec<Warning>,
}

#[derive(Serialize)]
pub struct CapabilityAudit {
    pub capability: String,
    /// `granted`, `not-granted`, `unused-grant`, `always` (log), `never` (network).
    pub status: &'static str,
    pub imported: bool,
    pub granted: bool,
    /// The imports that give it.
    pub imports: Vec<String>,
    /// What the stage grants, one line each.
    pub grants: Vec<String>,
    /// What this means, in a sentence.
    pub note: String,
}

#[derive(Serialize)]
pub struct Warning {
    pub capability: String,
    pub message: String,
}

pub fn run(cli: &Cli) -> Result<i32, Failure> {
    let (_rt, prepared) = load_and_prepare(cli, 1)?;
    let audit = audit(&prepared, &cli.file.display().to_string());
    if cli.json {
        let text = serde_json::to_string_pretty(&audit).unwrap_or_default();
        println!("{}", crate::run::display::json(&text));
    } else {
        print!("{}", render(&audit));
    }
    Ok(exit::SUCCESS)
}

pub fn audit(prepared: &Prepared, file: &str) -> PipelineAudit {
    let mut stages = Vec::new();
    for stage in &prepared.manifest.stages {
        let Some(p) = prepared.stage(&stage.name) else {
            continue;
        };
        stages.push(audit_stage(
            stage,
            &p.info.name,
            &p.info.version,
            &p.plugin.digest.to_string(),
            &p.plugin.imports,
        ));
    }
    let count = |f: &dyn Fn(&StageAudit) -> usize| stages.iter().map(f).sum();
    let summary = Summary {
        stages: stages.len(),
        critical: count(&|s| {
            s.dangers
                .iter()
                .filter(|d| d.severity == "critical")
                .count()
        }),
        dangers: count(&|s| s.dangers.len()),
        warnings: count(&|s| s.warnings.len()),
    };
    PipelineAudit {
        pipeline: prepared.manifest.name.clone(),
        file: file.to_string(),
        stages,
        summary,
    }
}

/// Every grant of a stage as `(capability, line)`, in the reviewer's order: the lines
/// `gantry audit` shows, for `gantry plan` (one description of a grant, not two).
pub fn grant_lines(stage: &Stage) -> Vec<(&'static str, String)> {
    crate::caps::ALL
        .iter()
        .flat_map(|d| (d.grants)(stage).into_iter().map(move |l| (d.name, l)))
        .collect()
}

fn audit_stage(
    stage: &Stage,
    name: &str,
    version: &str,
    digest: &str,
    imports: &[String],
) -> StageAudit {
    let import_rows = imports
        .iter()
        .map(|i| json!({"name": i, "capability": of_import(i).map(|d| d.name), "meaning": explain_import(i)}))
        .collect();
    // The capabilities whose broker reads the fs grants that this plugin imports.
    let fs_users: Vec<&Description> = crate::caps::ALL
        .iter()
        .copied()
        .filter(|d| d.uses_fs.is_some() && imports.iter().any(|i| d.answers(i)))
        .collect();

    let mut capabilities = Vec::new();
    let mut warnings = Vec::new();
    let mut dangers = Vec::new();
    for cap in crate::caps::ALL {
        let imported: Vec<String> = imports.iter().filter(|i| cap.answers(i)).cloned().collect();
        let granted = (cap.grants)(stage);
        dangers.extend((cap.dangers)(stage));
        let (is_imported, is_granted) = (!imported.is_empty(), !granted.is_empty());
        let (status, note) = match (cap.fixed, is_imported, is_granted) {
            (_, false, false) => continue,
            (Some(fixed), true, _) => (
                if cap.name == "log" { "always" } else { "never" },
                fixed.to_string(),
            ),
            (_, true, true) => (
                "granted",
                "granted: the host allows the calls listed, and audits each".to_string(),
            ),
            (_, true, false) => ("not-granted", cap.not_granted.to_string()),
            (_, false, true) if cap.name == "fs" && !fs_users.is_empty() => (
                "granted",
                format!(
                    "granted, used through other brokers: {}",
                    fs_users
                        .iter()
                        .filter_map(|d| d.uses_fs)
                        .collect::<Vec<_>>()
                        .join("; ")
                ),
            ),
            (_, false, true) => {
                let message = "granted but unused by this plugin: remove it".to_string();
                warnings.push(Warning {
                    capability: cap.name.to_string(),
                    message: format!(
                        "{}: {message} (the plugin does not import {}; the grant would only widen what a future version may do)",
                        cap.name, cap.import_hint
                    ),
                });
                ("unused-grant", message)
            }
        };
        capabilities.push(CapabilityAudit {
            capability: cap.name.to_string(),
            status,
            imported: is_imported,
            granted: is_granted,
            imports: imported,
            grants: granted,
            note,
        });
    }
    // Critical first, then in the capabilities' order.
    dangers.sort_by_key(|d| d.severity != "critical");

    StageAudit {
        stage: stage.name.clone(),
        plugin: stage.plugin.clone(),
        name: name.to_string(),
        version: version.to_string(),
        digest: digest.to_string(),
        imports: import_rows,
        dangers,
        grants: serde_json::to_value(&stage.grants).unwrap_or(Value::Null),
        capabilities,
        warnings,
    }
}

/// Empty grants grant nothing: `null`, `false`, `""`, `[]`, `{}` or a table of those.
pub(crate) fn is_empty(v: &Value) -> bool {
    match v {
        Value::Null | Value::Bool(false) => true,
        Value::String(s) => s.is_empty(),
        Value::Array(a) => a.is_empty(),
        Value::Object(o) => o.values().all(is_empty),
        _ => false,
    }
}

/// Colour only when stdout is a terminal: the markers carry the meaning without it.
fn paint(f: fn(&str) -> String, s: &str) -> String {
    if std::io::stdout().is_terminal() {
        f(s)
    } else {
        s.to_string()
    }
}

/// A short name for an import that gives no authority (unknown ones in full).
fn harmless_label(import: &str) -> String {
    let iface = import.split('@').next().unwrap_or(import);
    match iface {
        i if i.starts_with("wasi:clocks/") => "clocks".into(),
        i if i.starts_with("wasi:random/") => "random".into(),
        i if i.starts_with("wasi:io/") => "streams".into(),
        i if i.starts_with("wasi:cli/terminal-") => "terminal detection".into(),
        "wasi:cli/stdout" | "wasi:cli/stderr" => "stdout/stderr (captured)".into(),
        "wasi:cli/stdin" => "stdin (empty)".into(),
        "wasi:cli/exit" => "exit".into(),
        "gantry:plugin/types" => "types".into(),
        other => format!("{other} ({})", explain_import(import)),
    }
}

/// `text` wrapped at 100 columns, each line starting with `indent`.
fn wrap(text: &str, indent: &str) -> String {
    let mut out = String::new();
    let mut line = String::from(indent);
    for word in text.split(' ') {
        if line.len() > indent.len() && line.len() + 1 + word.len() > 100 {
            out.push_str(line.trim_end());
            out.push('\n');
            line = String::from(indent);
        }
        if line.len() > indent.len() {
            line.push(' ');
        }
        line.push_str(word);
    }
    out.push_str(line.trim_end());
    out.push('\n');
    out
}

/// Human output: plain text, markers `!!` (danger) and `!` (warning) readable without colour.
pub fn render(a: &PipelineAudit) -> String {
    use std::fmt::Write;
    let mut o = String::new();
    let _ = writeln!(
        o,
        "audit of pipeline `{}` (`{}`): {} stage{}",
        a.pipeline,
        a.file,
        a.stages.len(),
        if a.stages.len() == 1 { "" } else { "s" }
    );
    let _ = writeln!(
        o,
        "A plugin's WIT imports are the most it can ever do; its stage's grants narrow that. Imports without a grant are refused at every call."
    );
    for s in &a.stages {
        let _ = writeln!(o);
        let _ = writeln!(o, "{}", paint(style::bold, &format!("stage `{}`", s.stage)));
        // Name and version are the plugin's own words (`run::display`).
        let _ = writeln!(
            o,
            "  plugin   {} ({} {})",
            s.plugin,
            escape(&s.name),
            escape(&s.version)
        );
        let _ = writeln!(o, "  digest   {}", s.digest);
        for d in &s.dangers {
            let label = if d.severity == "critical" {
                "!! CRITICAL"
            } else {
                "!! DANGER"
            };
            let _ = writeln!(
                o,
                "  {} {} `{}`:",
                paint(style::red, label),
                d.grant,
                d.subject
            );
            o.push_str(&wrap(&d.reason, "       "));
        }
        for w in &s.warnings {
            let (head, rest) = w.message.split_once(" (").unwrap_or((&w.message, ""));
            let _ = writeln!(o, "  {} {head}", paint(style::yellow, "! warning"));
            if !rest.is_empty() {
                o.push_str(&wrap(&format!("({rest}"), "       "));
            }
        }
        let _ = writeln!(o, "  capabilities (imported → granted):");
        for c in &s.capabilities {
            let imported = if c.imported {
                let short: Vec<String> = c
                    .imports
                    .iter()
                    .map(|i| i.split('@').next().unwrap_or(i).to_string())
                    .collect();
                format!("imported ({})", short.join(", "))
            } else {
                "not imported".to_string()
            };
            let _ = writeln!(o, "    {:<8} {imported}", c.capability);
            if c.grants.is_empty() {
                let _ = writeln!(o, "    {:<8}   {}", "", c.note);
            } else {
                for g in &c.grants {
                    let _ = writeln!(o, "    {:<8}   granted: {g}", "");
                }
                if c.status == "unused-grant" {
                    let _ = writeln!(
                        o,
                        "    {:<8}   {} {}",
                        "",
                        paint(style::yellow, "!"),
                        c.note
                    );
                }
            }
        }
        if s.capabilities.is_empty() {
            let _ = writeln!(o, "    none: pure computation");
        }
        let mut other: Vec<String> = Vec::new();
        for label in s
            .imports
            .iter()
            .filter(|i| i["capability"].is_null())
            .filter_map(|i| i["name"].as_str())
            .map(harmless_label)
        {
            if !other.contains(&label) {
                other.push(label);
            }
        }
        if !other.is_empty() {
            // Continuation lines hang under the list.
            let w = wrap(
                &format!("also imports, with no authority: {}", other.join(", ")),
                "    ",
            );
            o.push_str(&w[2..]);
        }
    }
    let _ = writeln!(o);
    let sum = &a.summary;
    let _ = writeln!(
        o,
        "{} stage{}: {} dangerous grant{} ({} critical), {} warning{}",
        sum.stages,
        if sum.stages == 1 { "" } else { "s" },
        sum.dangers,
        if sum.dangers == 1 { "" } else { "s" },
        sum.critical,
        sum.warnings,
        if sum.warnings == 1 { "" } else { "s" }
    );
    o
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The one stage of a pipeline whose stage `s` has `grants` (TOML lines).
    fn stage(grants: &str) -> Stage {
        let text = format!(
            "[pipeline]\nname = \"t\"\n[secrets]\nNPM = {{ env = \"NPM\" }}\n[stage.s]\nplugin = \"builtin:secret-scan\"\n{grants}\n"
        );
        let m = crate::manifest::Manifest::parse(std::path::Path::new("pipeline.toml"), &text)
            .unwrap_or_else(|e| panic!("{text}\n{e:?}"));
        m.stages.into_iter().next().expect("a stage")
    }

    fn dangers(s: &Stage) -> Vec<Danger> {
        crate::caps::ALL
            .iter()
            .flat_map(|d| (d.dangers)(s))
            .collect()
    }

    fn process_danger(grant: &str, write: &str) -> Danger {
        let s = stage(&format!("grants.process = [{grant}]\n{write}"));
        dangers(&s)
            .into_iter()
            .find(|d| d.grant == "grants.process")
            .expect("a process danger")
    }

    #[test]
    fn private_addresses_are_the_runtimes() {
        // Forms the attack suite found that a copy of the table missed: audit and the
        // runtime answer from the same table.
        for host in [
            "127.0.0.1",
            "10.1.2.3",
            "169.254.169.254",
            "[::1]",
            "[fd00::1]",
            "[64:ff9b::7f00:1]",
            "[64:ff9b:1::1]",
            "[3fff::1]",
            "[5f00::1]",
            "198.18.0.1",
        ] {
            let s = stage(&format!("grants.http = [\"https://{host}/\"]"));
            let d = dangers(&s);
            assert_eq!(d.len(), 1, "{host}: {d:?}");
            let ip = host.trim_start_matches('[').trim_end_matches(']');
            let runtime = crate::caps::http::non_global(ip.parse().expect("an IP"))
                .map(|n| n.to_string())
                .expect("non-global at run time");
            assert!(d[0].reason.ends_with(&runtime), "{host}: {}", d[0].reason);
        }
        assert!(dangers(&stage("grants.http = [\"https://example.com/x/\"]")).is_empty());
    }

    #[test]
    fn dangerous_grants_are_flagged() {
        let s = stage(
            "grants.fs.write = [\".\"]\ngrants.reveal = [\"NPM\"]\ngrants.http = [\"http://10.0.0.1/\"]\ngrants.process = [{ cmd = \"cargo\", args = [\"build\", \"**\"] }]",
        );
        let d = dangers(&s);
        assert_eq!(d.iter().filter(|d| d.severity == "critical").count(), 1);
        assert!(d.iter().any(|d| d.grant == "grants.fs.write"));
        assert_eq!(d.iter().filter(|d| d.grant == "grants.http").count(), 2);
        assert!(d.iter().any(|d| d.grant == "grants.reveal"));
        let critical = d
            .iter()
            .find(|d| d.severity == "critical")
            .expect("critical");
        assert!(critical.reason.contains("`**`"), "{}", critical.reason);
    }

    /// Issue 13: a "read-only" `git status` next to a write grant is code execution in
    /// the sandbox (`core.fsmonitor` in a `.git/config` the plugin writes); audit says so.
    #[test]
    fn process_dangers_say_what_the_sandbox_allows() {
        let git = r#"{ cmd = "git", args = ["status", "--short"] }"#;
        let dist = "grants.fs.write = [\"dist\"]";
        let d = process_danger(git, dist);
        assert_eq!(d.severity, "critical");
        assert!(
            d.reason
                .contains("THE PLUGIN CAN RUN CODE OF ITS CHOICE IN THIS SANDBOX"),
            "{}",
            d.reason
        );
        assert!(d.reason.contains("`.git/config`"), "{}", d.reason);
        assert!(d.reason.contains("writes `dist`"), "{}", d.reason);
        assert!(d.reason.contains("no network"), "{}", d.reason);
        // The same tool in a stage without write grants: the plugin cannot plant
        // configuration for it.
        let d = process_danger(git, "");
        assert_eq!(d.severity, "high", "{}", d.reason);
        assert!(!d.reason.contains("CODE OF ITS CHOICE"), "{}", d.reason);
        // The README's "safe" grant of issue 13, `read-only`, next to a write grant:
        // the plugin writes `.git/config` itself, so the hook is still its code — it
        // only cannot write.
        let d = process_danger(
            r#"{ cmd = "git", args = ["status"], read-only = true }"#,
            dist,
        );
        assert_eq!(d.severity, "critical", "{}", d.reason);
        assert!(
            d.reason.contains("writes nothing (read-only grant"),
            "{}",
            d.reason
        );
        assert!(
            d.reason.contains("keeps that code from writing"),
            "{}",
            d.reason
        );
        // A tool that reads no configuration, with a write grant: high.
        let strip = r#"{ cmd = "strip", args = ["-o", "out/x", "x"] }"#;
        assert_eq!(
            process_danger(strip, "grants.fs.write = [\"out\"]").severity,
            "high"
        );
        // Network is shown, and critical.
        let d = process_danger(
            r#"{ cmd = "curl", args = ["https://example.com/"], network = true, read = ["/opt/x"] }"#,
            "",
        );
        assert_eq!(d.severity, "critical");
        assert!(
            d.reason.contains("SHARES THE HOST'S NETWORK"),
            "{}",
            d.reason
        );
        assert!(d.reason.contains("host `/opt/x`"), "{}", d.reason);
        // Launchers are named from the one list in the manifest.
        let d = process_danger(r#"{ cmd = "sh", args = ["scripts/ci.sh"] }"#, "");
        assert!(d.reason.contains("`sh` is a shell"), "{}", d.reason);
    }

    #[test]
    fn a_build_grant_says_what_builds_are_held_to() {
        let s = stage("grants.containers = { build = true }");
        let lines = grant_lines(&s);
        assert!(
            lines.iter().any(|(cap, l)| *cap == "containers"
                && l.contains("every image the Dockerfile uses must match `run`")
                && l.contains("remote `ADD` refused")),
            "{lines:?}"
        );
    }
}
