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
//! Grants are read through their `Serialize` form, so a capability this module does
//! not know yet is still listed (as raw values) rather than silently left out.
//! The exit code is 0 whatever is found: this is a report, not a gate (`gantry.lock`
//! and `--locked` are the gate). Tests: `tests/e2e/audit_lock.rs`.

use std::io::IsTerminal;

use serde::Serialize;
use serde_json::{Value, json};

use super::inspect::explain_import;
use super::{Cli, Failure, exit, load_and_prepare, style};
use crate::run::display::escape;
use crate::run::prepare::Prepared;

/// Capabilities in the order a reviewer reads them; grant keys not listed here follow.
const ORDER: &[&str] = &[
    "fs",
    "env",
    "secrets",
    "http",
    "process",
    "containers",
    "network",
    "log",
];

/// The capability an import gives, or `None` for imports with no authority
/// (clocks, random, stdio, exit, types).
pub fn capability_of(import: &str) -> Option<&'static str> {
    let iface = import.split('@').next().unwrap_or(import);
    match iface {
        i if i.starts_with("wasi:filesystem/") => Some("fs"),
        "gantry:plugin/files" => Some("fs"),
        "wasi:cli/environment" => Some("env"),
        "gantry:plugin/secrets" => Some("secrets"),
        "gantry:plugin/process" => Some("process"),
        "gantry:plugin/containers" => Some("containers"),
        i if i.starts_with("wasi:http/") => Some("http"),
        i if i.starts_with("wasi:sockets/") => Some("network"),
        "gantry:plugin/log" => Some("log"),
        _ => None,
    }
}

/// The capability a `grants.KEY` belongs to.
fn capability_of_grant(key: &str) -> &str {
    match key {
        "reveal" => "secrets",
        k => k,
    }
}

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
pub struct Danger {
    /// `critical` (code on the host) or `high`.
    pub severity: &'static str,
    /// The grant, as a pipeline.toml key (`grants.process`, `grants.fs.write`, …).
    pub grant: String,
    /// The value it is about (command, path, URL, secret name).
    pub subject: String,
    pub reason: String,
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
        let grants = serde_json::to_value(&stage.grants).unwrap_or(Value::Null);
        let mut audited = audit_stage(
            &stage.name,
            &stage.plugin,
            &p.info.name,
            &p.info.version,
            &p.plugin.digest.to_string(),
            &p.plugin.imports,
            grants,
        );
        if !stage.grants.fs.write.is_empty()
            && let Some(fs) = audited
                .capabilities
                .iter_mut()
                .find(|c| c.capability == "fs")
        {
            fs.grants.push(disk_line(stage.limits.disk));
        }
        stages.push(audited);
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

fn audit_stage(
    stage: &str,
    plugin: &str,
    name: &str,
    version: &str,
    digest: &str,
    imports: &[String],
    grants: Value,
) -> StageAudit {
    let import_rows = imports
        .iter()
        .map(|i| json!({"name": i, "capability": capability_of(i), "meaning": explain_import(i)}))
        .collect();

    // Capabilities to show: the known ones in order, then any other granted key.
    let mut caps: Vec<String> = ORDER.iter().map(|s| s.to_string()).collect();
    if let Some(obj) = grants.as_object() {
        let mut extra: Vec<String> = obj
            .iter()
            .filter(|(_, v)| !is_empty(v))
            .map(|(k, _)| capability_of_grant(k).to_string())
            .filter(|c| !caps.contains(c))
            .collect();
        extra.sort();
        extra.dedup();
        caps.extend(extra);
    }

    let mut capabilities = Vec::new();
    let mut warnings = Vec::new();
    for cap in caps {
        let imported: Vec<String> = imports
            .iter()
            .filter(|i| capability_of(i) == Some(cap.as_str()))
            .cloned()
            .collect();
        let granted = describe_grants(&cap, &grants);
        let is_imported = !imported.is_empty();
        let is_granted = !granted.is_empty();
        let (status, note) = match (cap.as_str(), is_imported, is_granted) {
            (_, false, false) => continue,
            ("log", true, _) => ("always", "always allowed: writes to its stage log (redacted, capped)".to_string()),
            ("network", true, _) => (
                "never",
                "never granted: every socket call fails (outgoing requests go through grants.http only)".to_string(),
            ),
            (_, true, true) => ("granted", "granted: the host allows the calls listed, and audits each".to_string()),
            (c, true, false) => ("not-granted", not_granted_note(c)),
            ("fs", false, true) if fs_users(imports).next().is_some() => (
                "granted",
                format!(
                    "granted, used through other brokers: {}",
                    fs_users(imports).map(|(_, how)| *how).collect::<Vec<_>>().join("; ")
                ),
            ),
            (c, false, true) => {
                let message = "granted but unused by this plugin: remove it".to_string();
                warnings.push(Warning {
                    capability: c.to_string(),
                    message: format!(
                        "{c}: {message} (the plugin does not import {}; the grant would only widen what a future version may do)",
                        import_hint(c)
                    ),
                });
                ("unused-grant", message)
            }
        };
        capabilities.push(CapabilityAudit {
            capability: cap,
            status,
            imported: is_imported,
            granted: is_granted,
            imports: imported,
            grants: granted,
            note,
        });
    }

    StageAudit {
        stage: stage.to_string(),
        plugin: plugin.to_string(),
        name: name.to_string(),
        version: version.to_string(),
        digest: digest.to_string(),
        imports: import_rows,
        dangers: dangers(&grants),
        grants,
        capabilities,
        warnings,
    }
}

/// The brokers the plugin imports that read its fs grants ([`crate::caps::USES_FS_GRANTS`]).
fn fs_users(imports: &[String]) -> impl Iterator<Item = &'static (&'static str, &'static str)> + '_ {
    crate::caps::USES_FS_GRANTS
        .iter()
        .filter(move |(cap, _)| imports.iter().any(|i| capability_of(i) == Some(cap)))
}

/// What bounds the disk space a stage with write grants can fill.
fn disk_line(limit: Option<u64>) -> String {
    match limit {
        Some(n) => format!(
            "disk: its write grants may grow by at most {} (`limits.disk`; measured while it runs, not a quota)",
            crate::manifest::units::format_size(n)
        ),
        None => "disk: no limit on what its writes fill but the timeout (set `limits.disk`)".into(),
    }
}

fn not_granted_note(cap: &str) -> String {
    match cap {
        "fs" => "not granted: no directory is preopened, so it cannot open any file".into(),
        "env" => "not granted: its environment is empty".into(),
        _ => "not granted: every call is denied — the host links the same interfaces for every plugin, \
              refuses each call with `denied` and records it in audit.jsonl"
            .into(),
    }
}

fn import_hint(cap: &str) -> &'static str {
    match cap {
        "fs" => "`wasi:filesystem` or `gantry:plugin/files`",
        "env" => "`wasi:cli/environment`",
        "secrets" => "`gantry:plugin/secrets`",
        "process" => "`gantry:plugin/process`",
        "containers" => "`gantry:plugin/containers`",
        "http" => "`wasi:http`",
        _ => "an interface for it",
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

fn strs(v: Option<&Value>) -> Vec<String> {
    v.and_then(Value::as_array)
        .map(|a| a.iter().map(scalar).collect())
        .unwrap_or_default()
}

/// A scalar (or small value) as text: strings bare, durations as `{secs, nanos}` read.
fn scalar(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Object(o) if o.contains_key("secs") => {
            let secs = o.get("secs").and_then(Value::as_u64).unwrap_or(0);
            let nanos = o.get("nanos").and_then(Value::as_u64).unwrap_or(0);
            crate::manifest::units::format_duration(std::time::Duration::new(secs, nanos as u32))
        }
        other => other.to_string(),
    }
}

fn ticks(items: &[String]) -> String {
    items
        .iter()
        .map(|s| format!("`{s}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Every grant of a stage as `(capability, line)`, in the reviewer's order: the lines
/// `gantry audit` shows, for `gantry plan` (one description of a grant, not two).
pub fn grant_lines(grants: &Value) -> Vec<(String, String)> {
    let mut caps: Vec<String> = ORDER.iter().map(|s| s.to_string()).collect();
    if let Some(obj) = grants.as_object() {
        for k in obj.keys() {
            let c = capability_of_grant(k).to_string();
            if !caps.contains(&c) {
                caps.push(c);
            }
        }
    }
    caps.into_iter()
        .flat_map(|c| {
            describe_grants(&c, grants)
                .into_iter()
                .map(move |l| (c.clone(), l))
        })
        .collect()
}

/// One line per thing granted for capability `cap`.
fn describe_grants(cap: &str, grants: &Value) -> Vec<String> {
    let mut out = Vec::new();
    match cap {
        "fs" => {
            for p in strs(grants.pointer("/fs/read")) {
                out.push(format!(
                    "read `{p}`{}",
                    if p == "." {
                        " (the whole workspace)"
                    } else {
                        ""
                    }
                ));
            }
            for p in strs(grants.pointer("/fs/write")) {
                out.push(format!(
                    "write `{p}`{}",
                    if p == "." {
                        " (the whole workspace)"
                    } else {
                        ""
                    }
                ));
            }
        }
        "env" => {
            let names = strs(grants.get("env"));
            if !names.is_empty() {
                out.push(format!("variables {}", ticks(&names)));
            }
        }
        "secrets" => {
            let handles = strs(grants.get("secrets"));
            if !handles.is_empty() {
                out.push(format!(
                    "handles to {} (value not readable by the plugin)",
                    ticks(&handles)
                ));
            }
            let reveal = strs(grants.get("reveal"));
            if !reveal.is_empty() {
                out.push(format!(
                    "reveal {} (the plugin reads the value)",
                    ticks(&reveal)
                ));
            }
        }
        "http" => {
            for h in grants
                .get("http")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                let methods = strs(h.get("methods"));
                let methods = if methods.is_empty() {
                    "any method".to_string()
                } else {
                    methods.join(", ")
                };
                out.push(format!("`{}` ({methods})", http_url(h)));
            }
        }
        "process" => {
            for p in grants
                .get("process")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                out.push(describe_process(p));
            }
        }
        "containers" => {
            if let Some(c) = grants.get("containers").filter(|c| !c.is_null()) {
                out.extend(describe_containers(c));
            }
        }
        other => {
            // A capability this gantry's audit does not know: show the raw grant.
            if let Some(obj) = grants.as_object() {
                for (k, v) in obj {
                    if capability_of_grant(k) == other && !is_empty(v) {
                        out.push(format!("grants.{k} = {v}"));
                    }
                }
            }
        }
    }
    out
}

/// One line per power a `grants.containers` table gives.
fn describe_containers(c: &Value) -> Vec<String> {
    let mut out = Vec::new();
    let images: Vec<String> = c
        .get("run")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .map(|p| {
            let mut s = p.get("repository").map(scalar).unwrap_or_default();
            if let Some(t) = p.get("tag").filter(|v| !v.is_null()) {
                s.push_str(&format!(":{}", scalar(t)));
            }
            if let Some(d) = p.get("digest").filter(|v| !v.is_null()) {
                s.push_str(&format!("@{}", scalar(d)));
            }
            s
        })
        .collect();
    if !images.is_empty() {
        out.push(format!("run images {}", ticks(&images)));
    }
    if c.get("build") == Some(&Value::Bool(true)) {
        // What the broker enforces (caps/containers): every image a build uses is held
        // to `run`, and nothing is downloaded by the daemon.
        out.push(
            "build images from readable workspace directories (every image the Dockerfile uses must match `run`; remote `ADD` refused)"
                .into(),
        );
    }
    let push = strs(c.get("push"));
    if !push.is_empty() {
        out.push(format!("push to {}", ticks(&push)));
    }
    let ports: Vec<String> = c
        .get("publish")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_array)
        .map(|r| match (r.first().map(scalar), r.get(1).map(scalar)) {
            (Some(a), Some(b)) if a == b => a,
            (Some(a), Some(b)) => format!("{a}-{b}"),
            _ => String::new(),
        })
        .collect();
    let services = c.get("services") == Some(&Value::Bool(true));
    let exposed = c.get("expose").is_some_and(|e| !e.is_null());
    if !ports.is_empty() {
        // What the broker enforces (caps/containers `check_common`): containers bind
        // 127.0.0.1; a Swarm service's port needs `expose`, and Swarm binds it on every
        // interface, because it has no host address for a published port.
        out.push(format!("publish containers' ports {} on 127.0.0.1", ports.join(", ")));
        if services && exposed {
            out.push(format!(
                "publish Swarm services' ports {} on every interface of every node (0.0.0.0 and ::)",
                ports.join(", ")
            ));
        } else if services {
            out.push("Swarm services publish no ports (Swarm would bind them on every interface; `expose` is not granted)".into());
        }
    }
    out.push(format!("networks {}", ticks(&strs(c.get("network")))));
    if services {
        out.push("Swarm services' tasks run on `bridge`".into());
    }
    if let Some(m) = c.get("manage").filter(|v| !v.is_null()) {
        let what = if c.get("services") == Some(&Value::Bool(true)) {
            "containers and Swarm services"
        } else {
            "long-running containers"
        };
        out.push(format!("manage {what} named `{}*`", scalar(m)));
    }
    out.push(format!(
        "ceilings: {} CPUs, {}, {} PIDs",
        c.get("cpus").map(scalar).unwrap_or_default(),
        c.get("memory")
            .and_then(Value::as_u64)
            .map(crate::manifest::units::format_size)
            .unwrap_or_default(),
        c.get("pids").map(scalar).unwrap_or_default()
    ));
    out
}

fn describe_process(p: &Value) -> String {
    let Some(obj) = p.as_object() else {
        return scalar(p);
    };
    let mut s = format!("run `{}`", obj.get("cmd").map(scalar).unwrap_or_default());
    let args = strs(obj.get("args"));
    s.push_str(&format!(" args [{}]", ticks(&args)));
    let env = strs(obj.get("env"));
    if !env.is_empty() {
        s.push_str(&format!(", env {}", ticks(&env)));
    }
    match obj.get("read_only").or_else(|| obj.get("read-only")) {
        Some(Value::Bool(true)) => s.push_str(", read-only"),
        Some(Value::Bool(false)) => s.push_str(", not read-only"),
        _ => {}
    }
    let reads = strs(obj.get("read"));
    if !reads.is_empty() {
        s.push_str(&format!(", reads host {}", ticks(&reads)));
    }
    if obj.get("network") == Some(&Value::Bool(true)) {
        s.push_str(", network");
    }
    if let Some(t) = obj.get("timeout").filter(|v| !v.is_null()) {
        s.push_str(&format!(", timeout {}", scalar(t)));
    }
    if let Some(o) = obj.get("output").filter(|v| !v.is_null()) {
        let shown = o
            .as_u64()
            .map(crate::manifest::units::format_size)
            .unwrap_or_else(|| scalar(o));
        s.push_str(&format!(", output cap {shown}"));
    }
    s
}

fn http_url(h: &Value) -> String {
    if let Some(s) = h.as_str() {
        return s.to_string();
    }
    if let Some(u) = h.get("url").and_then(Value::as_str) {
        return u.to_string();
    }
    let part = |k: &str| h.get(k).map(scalar).unwrap_or_default();
    format!(
        "{}://{}:{}{}",
        part("scheme"),
        part("host"),
        part("port"),
        part("path_prefix")
    )
}

/// `(scheme, host)` of an http grant, from its fields or its URL.
fn http_scheme_host(h: &Value) -> (String, String) {
    let url = http_url(h);
    let (url_scheme, rest) = url.split_once("://").unwrap_or(("", url.as_str()));
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    let authority = authority
        .rsplit_once('@')
        .map(|(_, a)| a)
        .unwrap_or(authority);
    let url_host = if let Some(v6) = authority.strip_prefix('[') {
        v6.split(']').next().unwrap_or("").to_string()
    } else {
        authority.split(':').next().unwrap_or("").to_string()
    };
    let field = |k: &str| {
        h.get(k)
            .and_then(Value::as_str)
            .map(str::to_string)
            .filter(|s| !s.is_empty())
    };
    (
        field("scheme")
            .unwrap_or_else(|| url_scheme.to_string())
            .to_ascii_lowercase(),
        field("host").unwrap_or(url_host),
    )
}

/// Why a grant's host is not a public address, or `None`: the table of
/// `gantry_manifest::net`, the one the http broker refuses addresses by at run time.
fn private_address(host: &str) -> Option<String> {
    crate::manifest::net::host_non_global(host).map(|n| n.to_string())
}

/// What the OS sandbox of a process grant shows the command, in one phrase.
fn process_sandbox(p: &Value, writes: &[String]) -> String {
    let read_only = p.get("read_only") == Some(&Value::Bool(true));
    let mut s = String::from("sees the whole workspace read-only (whatever grants.fs says)");
    if read_only || writes.is_empty() {
        s.push_str(if read_only && !writes.is_empty() {
            ", writes nothing (read-only grant: the stage's write grants stay read-only for it)"
        } else {
            ", writes nothing"
        });
    } else {
        s.push_str(&format!(", writes {} (grants.fs.write)", ticks(writes)));
    }
    let reads = strs(p.get("read"));
    s.push_str(", reads the system directories and a curated /etc");
    if !reads.is_empty() {
        s.push_str(&format!(" and host {}", ticks(&reads)));
    }
    if p.get("network") == Some(&Value::Bool(true)) {
        s.push_str("; SHARES THE HOST'S NETWORK");
    } else {
        s.push_str("; no network");
    }
    s
}

/// The danger of one process grant: what the sandbox lets the command do, and
/// whether the plugin can choose the code it runs (critical) or only run the tool
/// (high).
fn process_danger(p: &Value, writes: &[String]) -> Danger {
    use crate::manifest::launchers;
    let cmd = p.get("cmd").map(scalar).unwrap_or_else(|| scalar(p));
    let args = strs(p.get("args"));
    let base = cmd.rsplit('/').next().unwrap_or(&cmd).to_string();
    let read_only = p.get("read_only") == Some(&Value::Bool(true));
    let network = p.get("network") == Some(&Value::Bool(true));
    let mut reason = format!(
        "runs `{base}` on the host in an OS sandbox (gantry's own: no capabilities, its own PID namespace, \
         nothing outlives the call): it {}",
        process_sandbox(p, writes)
    );
    let mut code = false;
    if let Some(l) = launchers::launcher(&base) {
        reason.push_str(&format!("; `{base}` is {}", l.what));
    }
    // The plugin writes through its own grants.fs.write, whatever the command's
    // `read-only` says; a read-only grant only keeps that code from writing.
    if !writes.is_empty()
        && let Some(what) = launchers::reads_workspace(&base)
    {
        code = true;
        reason.push_str(&format!(
            ". THE PLUGIN CAN RUN CODE OF ITS CHOICE IN THIS SANDBOX: it can write {} and `{base}` runs what it \
             finds there ({what}){}",
            ticks(writes),
            if read_only {
                "; the read-only grant keeps that code from writing, not from reading the workspace"
            } else {
                ""
            }
        ));
    }
    if args.iter().any(|a| a == "**") {
        code = true;
        reason.push_str(&format!(
            ". AND `**` MATCHES ANY ARGUMENTS: the plugin chooses every flag, file and subcommand \
             (`--config`, `-c`, `--exec`, …), so the grant is as wide as `{base}` itself"
        ));
    }
    if network {
        reason.push_str(
            ". With `network = true` whatever runs reaches every address the host reaches, \
             which grants.http does not govern",
        );
    }
    Danger {
        severity: if code || network { "critical" } else { "high" },
        grant: "grants.process".into(),
        subject: if args.is_empty() {
            cmd
        } else {
            format!("{cmd} {}", args.join(" "))
        },
        reason,
    }
}

fn dangers(grants: &Value) -> Vec<Danger> {
    let mut out = Vec::new();
    let writes = strs(grants.pointer("/fs/write"));
    for p in grants
        .get("process")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        out.push(process_danger(p, &writes));
    }
    if let Some(c) = grants.get("containers").filter(|c| !c.is_null()) {
        if c.get("manage").is_some_and(|m| !m.is_null()) {
            out.push(Danger {
                severity: "high",
                grant: "grants.containers.manage".into(),
                subject: c.get("manage").map(scalar).unwrap_or_default(),
                reason: "starts and stops long-running containers (and, with `services`, Swarm services) that outlive the run: a deploy"
                    .into(),
            });
        }
        if c.get("expose").is_some_and(|e| !e.is_null()) {
            let ports: Vec<String> = c
                .get("publish")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter_map(Value::as_array)
                .map(|r| {
                    let (a, b) = (r.first().map(scalar), r.get(1).map(scalar));
                    if a == b { a.unwrap_or_default() } else { format!("{}-{}", a.unwrap_or_default(), b.unwrap_or_default()) }
                })
                .collect();
            out.push(Danger {
                severity: "high",
                grant: "grants.containers.expose".into(),
                subject: ports.join(", "),
                reason: "Swarm services publish these ports on every interface of every node (0.0.0.0 and ::): reachable from every network the hosts are on, not only from this machine"
                    .into(),
            });
        }
        if strs(c.get("network")).iter().any(|n| n == "bridge") {
            out.push(Danger {
                severity: "high",
                grant: "grants.containers.network".into(),
                subject: "bridge".into(),
                reason: "its containers have network access, which the wasm sandbox's own http grant does not govern"
                    .into(),
            });
        }
    }
    if strs(grants.pointer("/fs/write")).iter().any(|p| p == ".") {
        out.push(Danger {
            severity: "high",
            grant: "grants.fs.write".into(),
            subject: ".".into(),
            reason:
                "the whole workspace is writable: sources, pipeline.toml, gantry.lock and `.git` \
                     (a hook written there runs on the next git command)"
                    .into(),
        });
    }
    for h in grants
        .get("http")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let url = http_url(h);
        let (scheme, host) = http_scheme_host(h);
        if scheme != "https" {
            out.push(Danger {
                severity: "high",
                grant: "grants.http".into(),
                subject: url.clone(),
                reason: format!(
                    "`{scheme}` is not HTTPS: what the plugin sends (tokens included) and receives can be read and changed on the network"
                ),
            });
        }
        if let Some(why) = private_address(&host) {
            out.push(Danger {
                severity: "high",
                grant: "grants.http".into(),
                subject: url,
                reason: format!("`{host}` is {why}"),
            });
        }
    }
    for name in strs(grants.get("reveal")) {
        out.push(Danger {
            severity: "high",
            grant: "grants.reveal".into(),
            subject: name.clone(),
            reason: format!(
                "the plugin reads the value of secret `{name}`: gantry masks it in logs and records in its common \
                 encodings, but not transformed (reversed, encrypted) or cut in pieces, and the plugin can send \
                 it anywhere its other grants reach"
            ),
        });
    }
    out
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

    #[test]
    fn imports_map_to_capabilities() {
        assert_eq!(capability_of("wasi:filesystem/preopens@0.2.6"), Some("fs"));
        assert_eq!(capability_of("gantry:plugin/files@0.1.0"), Some("fs"));
        assert_eq!(capability_of("wasi:cli/environment@0.2.6"), Some("env"));
        assert_eq!(
            capability_of("gantry:plugin/secrets@0.1.0"),
            Some("secrets")
        );
        assert_eq!(
            capability_of("gantry:plugin/process@0.1.0"),
            Some("process")
        );
        assert_eq!(
            capability_of("wasi:http/outgoing-handler@0.2.6"),
            Some("http")
        );
        assert_eq!(capability_of("wasi:sockets/tcp@0.2.6"), Some("network"));
        assert_eq!(capability_of("gantry:plugin/log@0.1.0"), Some("log"));
        assert_eq!(capability_of("wasi:clocks/wall-clock@0.2.6"), None);
    }

    #[test]
    fn private_addresses() {
        assert!(private_address("127.0.0.1").is_some());
        assert!(private_address("[::1]").is_some());
        assert!(private_address("10.1.2.3").is_some());
        assert!(private_address("192.168.0.1").is_some());
        assert!(private_address("169.254.169.254").is_some());
        assert!(private_address("fd00::1").is_some());
        assert!(private_address("::ffff:10.0.0.1").is_some());
        assert!(private_address("localhost").is_some());
        assert!(private_address("example.com").is_none());
        assert!(private_address("8.8.8.8").is_none());
        // Forms the attack suite found that a copy of the table missed: audit and the
        // runtime now answer from the same table.
        for host in [
            "[64:ff9b::7f00:1]",
            "[::7f00:1]",
            "0.1.2.3",
            "198.18.0.1",
            "[64:ff9b:1::1]",
            "[3fff::1]",
            "[5f00::1]",
        ] {
            let why = private_address(host);
            let ip = host.trim_start_matches('[').trim_end_matches(']');
            let runtime = crate::caps::http::non_global(ip.parse().expect("an IP"));
            assert!(why.is_some(), "{host}");
            assert_eq!(why, runtime.map(|n| n.to_string()), "{host}");
        }
    }

    #[test]
    fn dangerous_grants_are_flagged() {
        let g = json!({
            "fs": {"read": [], "write": ["."]},
            "reveal": ["NPM"],
            "http": [{"url": "http://10.0.0.1:80/", "scheme": "http", "host": "10.0.0.1", "port": 80, "path_prefix": "/", "methods": []}],
            "process": [{"cmd": "cargo", "args": ["build", "**"], "env": [], "read_only": false, "timeout": null, "output": null}],
        });
        let d = dangers(&g);
        assert_eq!(d.iter().filter(|d| d.severity == "critical").count(), 1);
        assert!(d[0].reason.contains("`**`"), "{}", d[0].reason);
        assert!(d.iter().any(|d| d.grant == "grants.fs.write"));
        assert_eq!(d.iter().filter(|d| d.grant == "grants.http").count(), 2);
        assert!(d.iter().any(|d| d.grant == "grants.reveal"));
        let https = json!({"http": [{"url": "https://example.com/x/"}]});
        assert!(dangers(&https).is_empty());
    }

    /// Issue 13: a "read-only" `git status` next to a write grant is code execution in
    /// the sandbox (`core.fsmonitor` in a `.git/config` the plugin writes); audit says so.
    #[test]
    fn process_dangers_say_what_the_sandbox_allows() {
        let git = json!({"cmd": "git", "args": ["status", "--short"], "read_only": false, "read": [], "network": false});
        let d = process_danger(&git, &["dist".to_string()]);
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
        let d = process_danger(&git, &[]);
        assert_eq!(d.severity, "high", "{}", d.reason);
        assert!(!d.reason.contains("CODE OF ITS CHOICE"), "{}", d.reason);
        // The README's "safe" grant of issue 13, `read-only`, next to a write grant:
        // the plugin writes `.git/config` itself, so the hook is still its code — it
        // only cannot write.
        let ro = json!({"cmd": "git", "args": ["status"], "read_only": true});
        let d = process_danger(&ro, &["dist".to_string()]);
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
        let strip = json!({"cmd": "strip", "args": ["-o", "out/x", "x"]});
        assert_eq!(
            process_danger(&strip, &["out".to_string()]).severity,
            "high"
        );
        // Network is shown, and critical.
        let net = json!({"cmd": "curl", "args": ["https://example.com/"], "network": true, "read": ["~/.cache/x"]});
        let d = process_danger(&net, &[]);
        assert_eq!(d.severity, "critical");
        assert!(
            d.reason.contains("SHARES THE HOST'S NETWORK"),
            "{}",
            d.reason
        );
        assert!(d.reason.contains("host `~/.cache/x`"), "{}", d.reason);
        // Launchers are named from the one list in the manifest.
        let sh = json!({"cmd": "sh", "args": ["scripts/ci.sh"]});
        assert!(process_danger(&sh, &[]).reason.contains("`sh` is a shell"));
    }

    #[test]
    fn a_build_grant_says_what_builds_are_held_to() {
        let lines = describe_containers(&json!({"build": true, "network": ["none"]}));
        assert!(
            lines.iter().any(
                |l| l.contains("every image the Dockerfile uses must match `run`")
                    && l.contains("remote `ADD` refused")
            ),
            "{lines:?}"
        );
    }
}
