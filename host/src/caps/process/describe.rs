//! How the process capability describes itself to a reviewer
//! ([`crate::caps::describe`]): each grant, what its OS sandbox ([`super::sandbox`])
//! shows the command, and whether the plugin can choose the code that runs.

use crate::caps::describe::{Danger, Description, ticks};
use crate::manifest::units::{format_duration, format_size};
use crate::manifest::{ProcessGrant, Stage, launchers};

pub const DESCRIPTION: Description = Description {
    name: "process",
    imports: &[(
        "gantry:plugin/process",
        "process: run the host commands its stage allow-lists (grants.process)",
    )],
    import_hint: "`gantry:plugin/process`",
    not_granted: super::super::describe::DENIED,
    also_keys: &[],
    grants,
    dangers,
    uses_fs: Some(
        "the process sandbox mounts the `fs.write` directories writable for the command (the workspace is read-only to it otherwise)",
    ),
    fixed: None,
};

fn grants(stage: &Stage) -> Vec<String> {
    stage.grants.process.iter().map(line).collect()
}

fn line(p: &ProcessGrant) -> String {
    let mut s = format!("run `{}` args [{}]", p.cmd, ticks(&p.args));
    if !p.env.is_empty() {
        s.push_str(&format!(", env {}", ticks(&p.env)));
    }
    s.push_str(if p.read_only {
        ", read-only"
    } else {
        ", not read-only"
    });
    if !p.read.is_empty() {
        s.push_str(&format!(", reads host {}", ticks(&p.read)));
    }
    if p.network {
        s.push_str(", network");
    }
    if let Some(t) = p.timeout {
        s.push_str(&format!(", timeout {}", format_duration(t)));
    }
    s.push_str(&format!(", output cap {}", format_size(p.output)));
    s
}

/// What the OS sandbox of a process grant shows the command, in one phrase.
fn sandbox(p: &ProcessGrant, writes: &[String]) -> String {
    let mut s = String::from("sees the whole workspace read-only (whatever grants.fs says)");
    if p.read_only || writes.is_empty() {
        s.push_str(if p.read_only && !writes.is_empty() {
            ", writes nothing (read-only grant: the stage's write grants stay read-only for it)"
        } else {
            ", writes nothing"
        });
    } else {
        s.push_str(&format!(", writes {} (grants.fs.write)", ticks(writes)));
    }
    s.push_str(", reads the system directories and a curated /etc");
    if !p.read.is_empty() {
        s.push_str(&format!(" and host {}", ticks(&p.read)));
    }
    s.push_str(if p.network {
        "; SHARES THE HOST'S NETWORK"
    } else {
        "; no network"
    });
    s
}

fn dangers(stage: &Stage) -> Vec<Danger> {
    let writes = &stage.grants.fs.write;
    stage
        .grants
        .process
        .iter()
        .map(|p| danger(p, writes))
        .collect()
}

/// The danger of one process grant: what the sandbox lets the command do, and whether
/// the plugin can choose the code it runs (critical) or only run the tool (high).
fn danger(p: &ProcessGrant, writes: &[String]) -> Danger {
    let cmd = &p.cmd;
    let base = cmd.rsplit('/').next().unwrap_or(cmd).to_string();
    let mut reason = format!(
        "runs `{base}` on the host in an OS sandbox (gantry's own: no capabilities, its own PID namespace, \
         nothing outlives the call): it {}",
        sandbox(p, writes)
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
            if p.read_only {
                "; the read-only grant keeps that code from writing, not from reading the workspace"
            } else {
                ""
            }
        ));
    }
    if p.args.iter().any(|a| a == "**") {
        code = true;
        reason.push_str(&format!(
            ". AND `**` MATCHES ANY ARGUMENTS: the plugin chooses every flag, file and subcommand \
             (`--config`, `-c`, `--exec`, …), so the grant is as wide as `{base}` itself"
        ));
    }
    if p.network {
        reason.push_str(
            ". With `network = true` whatever runs reaches every address the host reaches, \
             which grants.http does not govern",
        );
    }
    Danger {
        severity: if code || p.network {
            "critical"
        } else {
            "high"
        },
        grant: "grants.process".into(),
        subject: if p.args.is_empty() {
            cmd.clone()
        } else {
            format!("{cmd} {}", p.args.join(" "))
        },
        reason,
    }
}
