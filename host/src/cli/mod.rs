//! The `gantry` command line: clap definitions and thin command functions.
//!
//! Logs and progress go to stderr, data (`--json`, `plan`, `inspect`) to stdout.

mod audit;
mod baseline;
pub mod exit;
mod inspect;
mod lock;
mod scaffold;
pub mod style;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use clap::{Parser, Subcommand};
use serde_json::json;

use crate::manifest::{Diagnostics, Manifest};
use crate::report::model::{StageRecord, StageStatus};
use crate::run::display::escape;
use crate::run::git::GitFacts;
use crate::run::prepare::{Prepared, prepare};
use crate::run::scheduler::{Event, Observer, RunOptions, execute};
use crate::run::state::{LINK, LinkState, StateDir};
use crate::runtime::{EngineOptions, Runtime};
use style::ColorChoice;

#[derive(Parser, Debug)]
#[command(
    name = "gantry",
    version,
    about = "Run CI/CD pipelines whose stages are sandboxed WebAssembly component plugins",
    after_help = exit::HELP
)]
pub struct Cli {
    /// The pipeline file.
    #[arg(
        short = 'f',
        long = "file",
        global = true,
        default_value = "pipeline.toml"
    )]
    pub file: PathBuf,
    /// Machine-readable JSON on stdout.
    #[arg(long, global = true)]
    pub json: bool,
    /// When to colour human output (`NO_COLOR` is honoured in `auto`).
    #[arg(long, global = true, value_enum, default_value = "auto")]
    pub color: ColorChoice,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Run the pipeline (or the named stages and what they need).
    Run(RunArgs),
    /// Validate pipeline.toml, plugin references, plugin configs and grants; run nothing.
    Check(CheckArgs),
    /// Show the stages in execution order with their needs and grants.
    Plan,
    /// For security reviewers: per stage, what its plugin's imports make possible,
    /// what it is granted, the difference, and dangerous grants. Runs nothing.
    Audit,
    /// Write `gantry.lock` next to the pipeline file: each stage's plugin, digest,
    /// imports and grants. Commit it; `--locked` enforces it.
    Lock(LockArgs),
    /// Deploy an earlier image again through a deploy stage (its plugin, grants and the
    /// stages that verify it), chosen from the deployment history: the last one before
    /// the current, or `--to IMAGE|RUN`.
    Rollback(RollbackArgs),
    /// The deployment history of this workspace: every deploy that ran, newest first
    /// (`--json`: the entries as recorded, with the engine effects of each).
    Deployments(DeploymentsArgs),
    /// Accept the findings of the latest run: write each stage's `baseline` file
    /// (default: every stage with one) so those findings no longer fail `fail-on`.
    Baseline(baseline::BaselineArgs),
    /// Work with plugins.
    #[command(subcommand)]
    Plugin(PluginCommand),
}

#[derive(clap::Args, Debug)]
pub struct RollbackArgs {
    /// The deploy stage to roll back.
    pub stage: String,
    /// The image, or the run id of a recorded deploy, to return to (default: the last
    /// successful deploy of another image than the current one).
    #[arg(long, value_name = "IMAGE|RUN")]
    pub to: Option<String>,
    /// Confirm a rollback in an environment that requires approval.
    #[arg(long)]
    pub yes: bool,
    /// Return to a version whose deploy was not verified (a stage that needs the
    /// deploy failed in that run).
    #[arg(long)]
    pub force: bool,
    /// Plan it: the plugin is told not to change anything.
    #[arg(long)]
    pub dry_run: bool,
    /// A value for one of the pipeline's `[inputs]`, as NAME=VALUE (repeatable).
    #[arg(long = "input", value_name = "NAME=VALUE")]
    pub inputs: Vec<String>,
    /// Refuse to run unless `gantry.lock` matches.
    #[arg(long)]
    pub locked: bool,
    /// Workspace root (default: the directory of the pipeline file).
    #[arg(long)]
    pub workspace: Option<PathBuf>,
}

#[derive(clap::Args, Debug)]
pub struct DeploymentsArgs {
    /// Only the deploys of this stage.
    pub stage: Option<String>,
    /// Workspace root (default: the directory of the pipeline file).
    #[arg(long)]
    pub workspace: Option<PathBuf>,
}

#[derive(clap::Args, Debug)]
pub struct RunArgs {
    /// Stages to run; each brings the stages it needs. Default: all.
    pub stages: Vec<String>,
    /// Stages run at once (default: the number of cores).
    #[arg(short, long)]
    pub jobs: Option<usize>,
    /// Plugins run, but are told not to change anything outside the sandbox.
    #[arg(long)]
    pub dry_run: bool,
    /// Keep running independent stages after a failure.
    #[arg(long)]
    pub no_fail_fast: bool,
    /// A value for one of the pipeline's `[inputs]`, as NAME=VALUE (repeatable);
    /// checked against its type before anything runs.
    #[arg(long = "input", value_name = "NAME=VALUE", conflicts_with = "resume")]
    pub inputs: Vec<String>,
    /// Approve deploys to this environment for this run (repeatable): stages of an
    /// `[environments]` entry with `approval = true` run only with it. Recorded.
    #[arg(long = "approve", value_name = "ENV", conflicts_with = "resume")]
    pub approve: Vec<String>,
    /// Workspace root (default: the directory of the pipeline file).
    #[arg(long)]
    pub workspace: Option<PathBuf>,
    /// Refuse to run unless `gantry.lock` matches every stage's plugin, digest,
    /// imports and grants.
    #[arg(long)]
    pub locked: bool,
    /// Continue the latest run (or run RUN-ID) that did not finish successfully.
    ///
    /// The run continues in its own directory `.gantry/runs/RUN-ID/`, under the same
    /// run id: stages that succeeded (or failed with `allow-failure`) are not run
    /// again and their outputs are reused; failed, cancelled, skipped and unstarted
    /// stages, and a stage that was running when gantry was killed, run again. The
    /// stage selection and `--dry-run` are the original run's. An effect whose intent
    /// is in `journal.jsonl` without an outcome may or may not have happened: it is
    /// named in the console, the stage's log, `run.json` and `summary.json`.
    ///
    /// Refused (exit 2, nothing runs) when the run finished successfully, when
    /// another gantry process still runs it (`run.lock`), or when pipeline.toml, a
    /// stage's grants, a plugin digest or the git commit changed since it ran.
    #[arg(
        long,
        value_name = "RUN-ID",
        num_args = 0..=1,
        default_missing_value = "",
        conflicts_with_all = ["stages", "dry_run"]
    )]
    pub resume: Option<String>,
}

#[derive(clap::Args, Debug)]
pub struct CheckArgs {
    /// Also fail unless `gantry.lock` matches every stage's plugin, digest, imports
    /// and grants.
    #[arg(long)]
    pub locked: bool,
}

#[derive(clap::Args, Debug)]
pub struct LockArgs {
    /// Write nothing; exit 1 if `gantry.lock` is missing or stale.
    #[arg(long)]
    pub check: bool,
}

#[derive(Subcommand, Debug)]
pub enum PluginCommand {
    /// Show a plugin's digest, what it says about itself, and its WIT imports —
    /// everything it could ever reach.
    Inspect {
        /// `builtin:NAME`, a `.wasm` file, or `file:PATH#sha256:DIGEST`.
        reference: String,
    },
    /// Create a new plugin crate that builds with `cargo build --target wasm32-wasip2`.
    New {
        /// Plugin (and crate) name, e.g. `todo-check`.
        name: String,
        /// Directory to create (default: ./NAME).
        #[arg(long)]
        path: Option<PathBuf>,
        /// Path of a gantry-sdk crate to depend on (default: a copy of the SDK this
        /// gantry was built with, written into the crate's `vendor/`).
        #[arg(long)]
        sdk_path: Option<PathBuf>,
    },
    /// Builds the plugin crate for wasm32-wasip2 and pins the component in
    /// pipeline.toml (`-f`), and in gantry.lock when there is one.
    Build {
        /// The plugin crate (default: the current directory).
        #[arg(long, default_value = ".")]
        path: PathBuf,
    },
}

/// Runs the command line; returns the process exit code.
pub fn main(cli: Cli) -> i32 {
    style::init(cli.color);
    let result = match &cli.command {
        Command::Run(args) => cmd_run(&cli, args),
        Command::Check(args) => cmd_check(&cli, args),
        Command::Plan => cmd_plan(&cli),
        Command::Audit => audit::run(&cli),
        Command::Lock(args) => lock::run(&cli, args.check),
        Command::Baseline(args) => baseline::run(&cli, args),
        Command::Deployments(args) => cmd_deployments(&cli, args),
        Command::Rollback(args) => cmd_rollback(&cli, args),
        Command::Plugin(PluginCommand::Inspect { reference }) => inspect::run(&cli, reference),
        Command::Plugin(PluginCommand::New {
            name,
            path,
            sdk_path,
        }) => scaffold::run(name, path.as_deref(), sdk_path.as_deref()),
        Command::Plugin(PluginCommand::Build { path }) => scaffold::build(&cli, path),
    };
    match result {
        Ok(code) => code,
        Err(Failure::Diagnostics(d)) => {
            eprintln!("{}", d);
            exit::USAGE
        }
        Err(Failure::Usage(msg)) => {
            eprintln!("{}: {msg}", style::red("error"));
            exit::USAGE
        }
        Err(Failure::Internal(e)) => {
            eprintln!("{}: {e:#}", style::red("error"));
            exit::INTERNAL
        }
    }
}

pub enum Failure {
    Diagnostics(Diagnostics),
    Usage(String),
    Internal(anyhow::Error),
}

impl From<Diagnostics> for Failure {
    fn from(d: Diagnostics) -> Self {
        Failure::Diagnostics(d)
    }
}

impl From<anyhow::Error> for Failure {
    fn from(e: anyhow::Error) -> Self {
        Failure::Internal(e)
    }
}

fn jobs_default() -> usize {
    std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(2)
}

/// Engine settings sized for this pipeline.
pub fn engine_options(manifest: &Manifest, jobs: usize) -> EngineOptions {
    let mut o = EngineOptions::default();
    for s in &manifest.stages {
        o.max_memory = o.max_memory.max(s.limits.memory);
        o.max_stack = o.max_stack.max(s.limits.stack as usize);
        o.fuel |= s.limits.fuel.is_some();
    }
    o.concurrency = (jobs as u32).clamp(1, 256) + 1;
    o
}

fn load_and_prepare(cli: &Cli, jobs: usize) -> Result<(Arc<Runtime>, Prepared), Failure> {
    let manifest = Manifest::load(&cli.file)?;
    let runtime = Arc::new(Runtime::new(engine_options(&manifest, jobs))?);
    let prepared = prepare(manifest, &runtime)?;
    Ok((runtime, prepared))
}

fn workspace_of(cli: &Cli, explicit: Option<&Path>) -> Result<PathBuf, Failure> {
    let dir = match explicit {
        Some(d) => d.to_path_buf(),
        None => match cli.file.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
            _ => PathBuf::from("."),
        },
    };
    dir.canonicalize().map_err(|e| {
        Failure::Usage(format!(
            "workspace `{}` cannot be opened: {e}",
            dir.display()
        ))
    })
}

/// [`crate::run::preflight`]: what the workspace and environment must hold before
/// any stage starts.
fn preflight(prepared: &Prepared, workspace: &Path, git: &GitFacts) -> Result<(), Failure> {
    let schema = |name: &str| prepared.stage(name).map(|s| s.info.config_schema.clone());
    let diags = crate::run::preflight::check(&prepared.manifest, workspace, git, &schema);
    if diags.is_empty() {
        Ok(())
    } else {
        Err(Failure::Diagnostics(Diagnostics(diags)))
    }
}

fn cmd_check(cli: &Cli, args: &CheckArgs) -> Result<i32, Failure> {
    let workspace = workspace_of(cli, None)?;
    let git = {
        let ws = workspace.clone();
        std::thread::spawn(move || GitFacts::read(&ws))
    };
    let (_rt, prepared) = load_and_prepare(cli, 1)?;
    let sandbox = crate::caps::process::preflight(&prepared.manifest);
    if !sandbox.is_empty() {
        return Err(Failure::Diagnostics(crate::manifest::Diagnostics(sandbox)));
    }
    if args.locked {
        lock::verify(&prepared)?;
    }
    preflight(&prepared, &workspace, &git.join().unwrap_or_default())?;
    if cli.json {
        let stages: Vec<_> = prepared
            .stages
            .iter()
            .map(|s| json!({"stage": s.name, "plugin": s.info.name, "version": s.info.version, "digest": s.plugin.digest.to_string()}))
            .collect();
        let out = json!({"ok": true, "pipeline": prepared.manifest.name, "stages": stages});
        println!("{}", crate::run::display::json(&out.to_string()));
    } else {
        let n = prepared.stages.len();
        eprintln!(
            "{} `{}`: {n} stage{}, plugins loaded, configs valid{}",
            style::green("ok"),
            cli.file.display(),
            if n == 1 { "" } else { "s" },
            if args.locked {
                ", matches `gantry.lock`"
            } else {
                ""
            }
        );
    }
    Ok(exit::SUCCESS)
}

fn cmd_rollback(cli: &Cli, args: &RollbackArgs) -> Result<i32, Failure> {
    let run_args = RunArgs {
        stages: Vec::new(),
        jobs: None,
        dry_run: args.dry_run,
        no_fail_fast: false,
        inputs: args.inputs.clone(),
        approve: Vec::new(),
        workspace: args.workspace.clone(),
        locked: args.locked,
        resume: None,
    };
    let workspace = workspace_of(cli, args.workspace.as_deref())?;
    let decide =
        |prepared: &Prepared| -> Result<(crate::run::scheduler::Rollback, Vec<String>), Failure> {
            let m = &prepared.manifest;
            let Some(stage) = m.stage(&args.stage) else {
                let names: Vec<&str> = m.stages.iter().map(|s| s.name.as_str()).collect();
                let hint = crate::manifest::did_you_mean(&args.stage, names.iter().copied())
                    .map(|n| format!("did you mean `{n}`?"))
                    .unwrap_or_else(|| format!("stages: {}", names.join(", ")));
                return Err(Failure::Usage(format!(
                    "no stage named `{}`; nothing ran\n  hint: {hint}",
                    escape(&args.stage)
                )));
            };
            let kind = prepared
                .stage(&stage.name)
                .map(|p| p.info.kind.clone())
                .unwrap_or_default();
            if kind != "deployer" {
                return Err(Failure::Usage(format!(
                    "stage `{}` is not a deploy (its plugin `{}` is a {kind}); nothing ran\n  hint: roll back a stage of a `deployer` plugin (docker-deploy, swarm-deploy); `gantry deployments` lists them",
                    stage.name, stage.plugin
                )));
            }
            let state = StateDir::locate(&workspace).map_err(Failure::Usage)?;
            let (entries, _) = crate::run::history::read(state.root()).map_err(|e| {
                Failure::Internal(anyhow::anyhow!("cannot read the deployment history: {e}"))
            })?;
            let deploys: Vec<&serde_json::Value> = entries
                .iter()
                .filter(|e| {
                    e["stage"] == stage.name.as_str()
                        && e["status"] == "succeeded"
                        && e["image"].is_string()
                })
                .collect();
            let Some(current) = deploys.last() else {
                return Err(Failure::Usage(format!(
                    "no successful deploy of stage `{}` is recorded, so there is nothing to roll back to; nothing ran\n  hint: `gantry deployments` shows the history",
                    stage.name
                )));
            };
            let image = |e: &serde_json::Value| e["image"].as_str().unwrap_or_default().to_string();
            let target = match &args.to {
            Some(to) => deploys
                .iter()
                .rev()
                .find(|e| e["image"] == to.as_str() || e["run"] == to.as_str())
                .ok_or_else(|| {
                    let mut known: Vec<String> = deploys.iter().map(|e| image(e)).collect();
                    known.dedup();
                    Failure::Usage(format!(
                        "`--to {}` is neither an image nor a run of a successful deploy of `{}`; nothing ran\n  hint: recorded: {}",
                        escape(to),
                        stage.name,
                        known.join(", ")
                    ))
                })?,
            None => deploys
                .iter()
                .rev()
                .find(|e| e["image"] != current["image"])
                .ok_or_else(|| {
                    Failure::Usage(format!(
                        "nothing to roll back to: every recorded deploy of `{}` is `{}`; nothing ran",
                        stage.name,
                        escape(&image(current))
                    ))
                })?,
        };
            if target["verified"] == false && !args.force {
                return Err(Failure::Usage(format!(
                    "`{}` was deployed by run `{}` but not verified there (a stage that needs `{}` failed); nothing ran\n  hint: `--force` deploys it anyway",
                    escape(&image(target)),
                    target["run"].as_str().unwrap_or("?"),
                    stage.name
                )));
            }
            let mut approved = Vec::new();
            if let Some(env) = stage.environment.as_deref().and_then(|e| m.environment(e)) {
                if env.approval && !args.yes {
                    return Err(Failure::Usage(format!(
                        "stage `{}` deploys to environment `{}`, which requires approval; nothing ran\n  hint: confirm with `--yes`",
                        stage.name, env.name
                    )));
                }
                approved.push(env.name.clone());
            }
            let rb = crate::run::scheduler::Rollback {
                stage: stage.name.clone(),
                to: image(target),
                from: Some(image(current)),
                run: target["run"].as_str().map(String::from),
            };
            eprintln!(
                "{} `{}`: `{}` → `{}` (deployed by run `{}`)",
                style::bold("rolling back"),
                rb.stage,
                escape(rb.from.as_deref().unwrap_or("?")),
                escape(&rb.to),
                rb.run.as_deref().unwrap_or("?")
            );
            Ok((rb, approved))
        };
    run_with(cli, &run_args, Some(&decide))
}

fn cmd_deployments(cli: &Cli, args: &DeploymentsArgs) -> Result<i32, Failure> {
    let workspace = workspace_of(cli, args.workspace.as_deref())?;
    let state = StateDir::locate(&workspace).map_err(Failure::Usage)?;
    let (mut entries, notes) = crate::run::history::read(state.root()).map_err(|e| {
        Failure::Internal(anyhow::anyhow!(
            "cannot read the deployment history in `{}`: {e}",
            state.root().display()
        ))
    })?;
    for n in &notes {
        eprintln!("{}: {n}", style::yellow("note"));
    }
    if let Some(stage) = &args.stage {
        entries.retain(|e| e["stage"] == stage.as_str());
    }
    entries.reverse();
    if cli.json {
        let text = serde_json::to_string_pretty(&entries).unwrap_or_default();
        println!("{}", crate::run::display::json(&text));
        return Ok(exit::SUCCESS);
    }
    if entries.is_empty() {
        eprintln!("no deploys recorded for this workspace yet");
        return Ok(exit::SUCCESS);
    }
    let field = |e: &serde_json::Value, k: &str| escape(e[k].as_str().unwrap_or("-")).into_owned();
    for e in &entries {
        let previous = e["previous_image"]
            .as_str()
            .filter(|p| !p.is_empty())
            .map(|p| format!(" (was {})", escape(p)))
            .unwrap_or_default();
        let env = e["environment"]
            .as_str()
            .map(|n| format!(" → {}", escape(n)))
            .unwrap_or_default();
        println!(
            "{}  {}{env}  {}  {}{previous}  run {}{}",
            field(e, "time"),
            style::bold(&field(e, "stage")),
            field(e, "status"),
            field(e, "image"),
            field(e, "run"),
            e["commit"]
                .as_str()
                .map(|c| format!(
                    ", commit {}",
                    escape(&c.chars().take(12).collect::<String>())
                ))
                .unwrap_or_default()
        );
    }
    Ok(exit::SUCCESS)
}

fn cmd_plan(cli: &Cli) -> Result<i32, Failure> {
    let (_rt, prepared) = load_and_prepare(cli, 1)?;
    let m = &prepared.manifest;
    let order = m.topo_order();
    if cli.json {
        let stages: Vec<_> = order
            .iter()
            .filter_map(|n| m.stage(n))
            .map(|s| {
                let p = prepared.stage(&s.name).expect("prepared");
                json!({
                    "stage": s.name,
                    "plugin": s.plugin,
                    "digest": p.plugin.digest.to_string(),
                    "needs": s.needs,
                    "when": s.when,
                    "environment": s.environment,
                    "timeout_ms": s.timeout.as_millis() as u64,
                    "retries": s.retries,
                    "allow_failure": s.allow_failure,
                    "grants": s.grants,
                    "limits": s.limits,
                })
            })
            .collect();
        println!(
            "{}",
            serde_json::to_string_pretty(
                &json!({"pipeline": m.name, "inputs": m.inputs, "environments": m.environments, "stages": stages})
            )
            .unwrap_or_default()
        );
        return Ok(exit::SUCCESS);
    }
    println!("pipeline `{}`: {} stages", m.name, order.len());
    for i in &m.inputs {
        let default = match &i.default {
            Some(d) => format!("default `{}`", escape(d)),
            None => "required: `--input NAME=VALUE`".replace("NAME", &i.name),
        };
        let description = i
            .description
            .as_deref()
            .map(|d| format!(": {}", escape(d)))
            .unwrap_or_default();
        println!(
            "  input {} ({}, {default}){description}",
            style::bold(&i.name),
            i.kind.as_str()
        );
    }
    for (i, name) in order.iter().enumerate() {
        let Some(s) = m.stage(name) else { continue };
        println!("{:>3}. {}  {}", i + 1, style::bold(name), s.plugin);
        if !s.needs.is_empty() {
            println!("       needs: {}", s.needs.join(", "));
        }
        if let Some(env) = s.environment.as_deref().and_then(|e| m.environment(e)) {
            let mut rules = Vec::new();
            if env.approval {
                rules.push(format!("approval required (`--approve {}`)", env.name));
            }
            if !env.branches.is_empty() {
                rules.push(format!("branches {}", env.branches.join("|")));
            }
            if !env.tags.is_empty() {
                rules.push(format!("tags {}", env.tags.join("|")));
            }
            println!(
                "       environment: {}{}",
                env.name,
                if rules.is_empty() {
                    String::new()
                } else {
                    format!(" ({})", rules.join("; "))
                }
            );
        }
        if let Some(w) = &s.when {
            let mut parts = Vec::new();
            if !w.branch.is_empty() {
                parts.push(format!("branch {}", w.branch.join("|")));
            }
            if !w.tag.is_empty() {
                parts.push(format!("tag {}", w.tag.join("|")));
            }
            if !w.env.is_empty() {
                parts.push(format!("env {}", w.env.join(", ")));
            }
            if !w.on_failure.is_empty() {
                parts.push(format!("{} failed", w.on_failure.join(" or ")));
            }
            println!("       when: {}", parts.join(" and "));
        }
        // The lines `gantry audit` shows (one description of each grant).
        let lines = audit::grant_lines(s);
        if lines.is_empty() {
            println!("       grants: none");
        }
        for (cap, line) in lines {
            println!("       grants: {cap}: {}", escape(&line));
        }
        println!(
            "       limits: timeout {}, memory {}{}{}",
            crate::manifest::units::format_duration(s.timeout),
            crate::manifest::units::format_size(s.limits.memory),
            s.limits
                .disk
                .map(|d| format!(", disk {}", crate::manifest::units::format_size(d)))
                .unwrap_or_default(),
            if s.retries > 0 {
                format!(", retries {}", s.retries)
            } else {
                String::new()
            }
        );
    }
    Ok(exit::SUCCESS)
}

struct Console {
    json: bool,
}

impl Observer for Console {
    fn event(&self, event: Event<'_>) {
        if self.json {
            return;
        }
        match event {
            Event::Started { stage, plugin } => {
                eprintln!("{} {stage} {}", style::dim("▶"), style::dim(plugin));
            }
            Event::Retrying {
                stage,
                attempt,
                reason,
            } => {
                eprintln!(
                    "{} {stage}: {}; attempt {attempt}",
                    style::yellow("↻"),
                    escape(reason)
                );
            }
            Event::Finished(rec) => {
                eprintln!("{}", finished_line(rec));
                for line in failure_block(rec).into_iter().chain(top_findings(rec)) {
                    eprintln!("{line}");
                }
            }
        }
    }
}

/// What a denial says after what was refused (`caps::Broker::deny`).
const TO_ALLOW: &str = "; to allow it, add to the stage: ";

/// Why a stage failed, in uv's style, under its `✗` line: `error:` with the first
/// line of the reason, `Caused by:` for each further line of its chain, and `hint:`
/// with the grant that would allow a denial. The reason is the plugin's or the
/// host's words: each line escaped (`run::display`).
fn failure_block(rec: &StageRecord) -> Vec<String> {
    if !matches!(rec.status, StageStatus::Failed | StageStatus::FailedAllowed) {
        return Vec::new();
    }
    let Some(reason) = rec.reason.as_deref().filter(|r| !r.trim().is_empty()) else {
        return Vec::new();
    };
    let (reason, hint) = match reason.split_once(TO_ALLOW) {
        Some((what, grant)) => (what, Some(grant)),
        None => (reason, None),
    };
    let mut lines = reason
        .lines()
        .map(str::trim)
        // A tool's own chain marker (`cargo`, `anyhow`): the lines after it are causes.
        .filter(|l| !l.is_empty() && *l != "Caused by:");
    let mut out = Vec::new();
    if let Some(first) = lines.next() {
        out.push(format!("  {} {}", style::red("error:"), escape(first)));
    }
    for cause in lines {
        // anyhow numbers its causes (`0: …`).
        let cause = match cause.split_once(": ") {
            Some((n, rest)) if !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()) => rest,
            _ => cause,
        };
        out.push(format!("    Caused by: {}", escape(cause)));
    }
    if let Some(grant) = hint {
        out.push(format!(
            "  {} add to the stage: {}",
            style::cyan("hint:"),
            escape(grant.trim())
        ));
    }
    out
}

/// How many findings of a failed stage the console shows.
const TOP_FINDINGS: usize = 5;

/// The findings that failed a stage, most severe first (file order within a level),
/// one line each: `level rule path:line: message`, then how many more there are and
/// where they all are. Baselined findings are left out: they do not fail a stage.
/// Only for failed stages (allowed failures included): a passing stage's findings are
/// in the reports, not in the way.
fn top_findings(rec: &StageRecord) -> Vec<String> {
    if !matches!(rec.status, StageStatus::Failed | StageStatus::FailedAllowed) {
        return Vec::new();
    }
    let Some(report) = &rec.report else {
        return Vec::new();
    };
    let mut found: Vec<_> = report.findings.iter().filter(|f| !f.baselined).collect();
    found.sort_by_key(|f| std::cmp::Reverse(f.level));
    let mut out: Vec<String> = found
        .iter()
        .take(TOP_FINDINGS)
        .map(|f| {
            let place = f
                .location
                .as_ref()
                .map(|l| match &l.region {
                    Some(r) => format!(" {}:{}", l.path, r.start_line),
                    None => format!(" {}", l.path),
                })
                .unwrap_or_default();
            let level = match f.level {
                crate::report::model::Level::Error => style::red("error"),
                crate::report::model::Level::Warning => style::yellow("warning"),
                crate::report::model::Level::Note => style::dim("note"),
            };
            let message = f.message.lines().next().unwrap_or_default();
            let message: String = if message.chars().count() > 160 {
                message.chars().take(159).chain(['…']).collect()
            } else {
                message.to_string()
            };
            // The plugin's words: escaped like the stage line.
            format!(
                "    {level} {}{}: {}",
                escape(&f.rule_id),
                escape(&place),
                escape(&message)
            )
        })
        .collect();
    if found.len() > TOP_FINDINGS {
        out.push(format!(
            "    … and {} more (all of them: the run's report.sarif)",
            found.len() - TOP_FINDINGS
        ));
    }
    out
}

/// One line per stage. Summaries and reasons are the plugin's words: escaped, so a
/// control sequence in them cannot rewrite this line or forge the next.
fn finished_line(rec: &StageRecord) -> String {
    let reason = rec.reason.as_deref().map(escape);
    let secs = format!("{:.2}s", rec.duration_ms as f64 / 1000.0);
    let findings = rec
        .report
        .as_ref()
        .map(|r| {
            (
                r.findings.len(),
                r.findings.iter().filter(|f| f.baselined).count(),
            )
        })
        .filter(|(n, _)| *n > 0)
        .map(|(n, b)| match b {
            0 => format!(", {n} findings"),
            b => format!(", {n} findings ({b} baselined)"),
        })
        .unwrap_or_default();
    let summary = rec
        .report
        .as_ref()
        .map(|r| escape(&r.summary).into_owned())
        .filter(|s| !s.is_empty());
    match rec.status {
        StageStatus::Succeeded => format!(
            "{} {} {}{findings}{}",
            style::green("✓"),
            rec.stage,
            style::dim(&secs),
            summary.map(|s| format!(": {s}")).unwrap_or_default()
        ),
        // The reason follows on its own lines (`failure_block`).
        StageStatus::Failed => format!(
            "{} {} {}{findings}: failed",
            style::red("✗"),
            rec.stage,
            style::dim(&secs),
        ),
        StageStatus::FailedAllowed => format!(
            "{} {} {}{findings}: failed (allowed)",
            style::yellow("!"),
            rec.stage,
            style::dim(&secs),
        ),
        StageStatus::Skipped => format!(
            "{} {} skipped: {}",
            style::dim("-"),
            rec.stage,
            reason.as_deref().unwrap_or("")
        ),
        StageStatus::Cancelled => format!(
            "{} {} cancelled: {}",
            style::yellow("-"),
            rec.stage,
            reason.as_deref().unwrap_or("")
        ),
        StageStatus::Pending | StageStatus::Running => format!("  {} {:?}", rec.stage, rec.status),
    }
}

/// `--resume [RUN-ID]`: finds, locks and checks the run; tells the user what will
/// be reused and which effects have an unknown outcome.
fn open_resume(
    cli: &Cli,
    records_root: &Path,
    id: &str,
    prepared: &Prepared,
    git: &GitFacts,
) -> Result<crate::run::resume::Resume, Failure> {
    use crate::run::resume;
    let named = !id.is_empty();
    let dir = resume::find(records_root, named.then_some(id)).map_err(Failure::Usage)?;
    let r = resume::load(&dir, named).map_err(Failure::Usage)?;
    let changes = r.changes(prepared, git);
    if !changes.is_empty() {
        let mut msg = format!(
            "cannot resume run `{}`: what it ran with changed since, so its results cannot be reused; nothing ran",
            r.run_id
        );
        for c in &changes {
            msg.push_str(&format!("\n  {c}"));
        }
        msg.push_str("\n  hint: restore what changed, or start a new run with `gantry run`");
        return Err(Failure::Usage(msg));
    }
    if !cli.json {
        let was = match r.previous_state.as_str() {
            "running" => "was killed",
            "interrupted" => "was interrupted",
            _ => "finished with failures",
        };
        let reused: Vec<String> = r.kept.keys().map(|k| format!("`{k}`")).collect();
        let again: Vec<String> = r
            .selected
            .iter()
            .filter(|s| !r.kept.contains_key(*s))
            .map(|k| format!("`{k}`"))
            .collect();
        eprintln!(
            "{} run `{}` ({was}): reusing {}; running again: {}",
            style::bold("resuming"),
            r.run_id,
            if reused.is_empty() {
                "nothing".to_string()
            } else {
                reused.join(", ")
            },
            if again.is_empty() {
                "nothing".to_string()
            } else {
                again.join(", ")
            },
        );
    }
    for u in &r.unknown_effects {
        eprintln!(
            "{}: stage `{}`: {}",
            style::yellow("warning"),
            u.stage,
            u.describe()
        );
    }
    Ok(r)
}

/// The run's inputs from `--input NAME=VALUE` and the declared defaults; every problem
/// named at once, before anything runs (exit 2).
fn run_inputs(
    manifest: &Manifest,
    given: &[String],
) -> Result<std::collections::BTreeMap<String, String>, Failure> {
    let mut pairs = Vec::new();
    for g in given {
        match g.split_once('=') {
            Some((k, v)) if !k.trim().is_empty() => {
                pairs.push((k.trim().to_string(), v.to_string()))
            }
            _ => {
                return Err(Failure::Usage(format!(
                    "`--input {}` is not NAME=VALUE\n  hint: e.g. `--input version=1.2.3`",
                    escape(g)
                )));
            }
        }
    }
    crate::manifest::inputs::resolve(&manifest.inputs, &pairs).map_err(|errors| {
        let file = manifest.path.display();
        Failure::Usage(format!(
            "the run's inputs are not valid ({file} `[inputs]`); nothing ran\n{}",
            errors
                .iter()
                .map(|e| format!("  {}", escape(e)))
                .collect::<Vec<_>>()
                .join("\n")
        ))
    })
}

fn cmd_run(cli: &Cli, args: &RunArgs) -> Result<i32, Failure> {
    run_with(cli, args, None)
}

/// `gantry run`, or (with `rollback`) `gantry rollback`: the deploy stage again with an
/// earlier image, then the stages that need it.
fn run_with(
    cli: &Cli,
    args: &RunArgs,
    rollback: Option<
        &dyn Fn(&Prepared) -> Result<(crate::run::scheduler::Rollback, Vec<String>), Failure>,
    >,
) -> Result<i32, Failure> {
    let jobs = args.jobs.unwrap_or_else(jobs_default);
    if jobs == 0 {
        return Err(Failure::Usage("`--jobs` must be at least 1".into()));
    }
    let workspace = workspace_of(cli, args.workspace.as_deref())?;
    // git answers while the engine starts and the plugins load.
    let git = {
        let ws = workspace.clone();
        std::thread::spawn(move || GitFacts::read(&ws))
    };
    let (runtime, prepared) = load_and_prepare(cli, jobs)?;
    if args.locked {
        lock::verify(&prepared)?;
    }
    if args.workspace.is_some() {
        // `prepare` checked against the pipeline's directory; grants are relative to this.
        let exposed = crate::run::prepare::secret_exposures(&prepared.manifest, &workspace);
        if !exposed.is_empty() {
            return Err(Failure::Diagnostics(Diagnostics(exposed)));
        }
    }
    if !args.stages.is_empty() {
        prepared
            .manifest
            .closure(&args.stages)
            .map_err(|d| Failure::Diagnostics(Diagnostics(vec![d])))?;
    }
    let git = git.join().unwrap_or_default();
    preflight(&prepared, &workspace, &git)?;
    let state = StateDir::locate(&workspace).map_err(Failure::Usage)?;
    state.create().map_err(Failure::Usage)?;
    if let Ok(LinkState::Occupied) = state.link() {
        eprintln!(
            "{}: `{}` is not gantry's link to its records (a directory of an older gantry, or one a plugin made); left alone. Records are in `{}`",
            style::yellow("note"),
            workspace.join(LINK).display(),
            state.runs().display()
        );
    }
    let records_root = state.runs();
    let resume = match &args.resume {
        Some(id) => Some(open_resume(cli, &records_root, id, &prepared, &git)?),
        None => None,
    };
    let (selected, dry_run) = match &resume {
        Some(r) => (r.selected.clone(), r.dry_run),
        None => (args.stages.clone(), args.dry_run),
    };
    let inputs = match &resume {
        // A resumed run keeps the inputs it was started with.
        Some(r) => r.inputs.clone(),
        None => run_inputs(&prepared.manifest, &args.inputs)?,
    };
    let rollback = match rollback {
        Some(decide) => Some(decide(&prepared)?),
        None => None,
    };
    let approved = match (&resume, &rollback) {
        (_, Some((_, approved))) => approved.clone(),
        // ... and the approvals.
        (Some(r), None) => r.approved.clone(),
        (None, None) => {
            for env in &args.approve {
                if prepared.manifest.environment(env).is_none() {
                    let names: Vec<&str> = prepared
                        .manifest
                        .environments
                        .iter()
                        .map(|e| e.name.as_str())
                        .collect();
                    let hint = match crate::manifest::did_you_mean(env, names.iter().copied()) {
                        Some(m) => format!("did you mean `{m}`?"),
                        None if names.is_empty() => {
                            "the pipeline declares no `[environments]`".into()
                        }
                        None => format!("environments: {}", names.join(", ")),
                    };
                    return Err(Failure::Usage(format!(
                        "`--approve {}`: no such environment; nothing ran\n  hint: {hint}",
                        escape(env)
                    )));
                }
            }
            args.approve.clone()
        }
    };
    let opts = RunOptions {
        records_root,
        state: state.clone(),
        git,
        workspace,
        selected,
        jobs,
        dry_run,
        fail_fast: !args.no_fail_fast,
        inputs,
        approved,
        rollback: rollback.map(|(r, _)| r),
        resume,
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .max_blocking_threads(jobs.max(1) + 4)
        .enable_all()
        .build()
        .map_err(|e| Failure::Internal(e.into()))?;
    let observer = Arc::new(Console { json: cli.json });
    let prepared = Arc::new(prepared);
    let outcome = rt.block_on(async {
        let interrupt = async {
            if tokio::signal::ctrl_c().await.is_err() {
                std::future::pending::<()>().await;
            }
        };
        execute(runtime, prepared, opts, observer, interrupt).await
    })?;
    // Stages still in their last host call finish on their own; don't wait for them.
    rt.shutdown_timeout(std::time::Duration::from_millis(100));
    if cli.json {
        let summary = std::fs::read_to_string(outcome.dir.join("summary.json")).unwrap_or_default();
        println!("{}", crate::run::display::json(&summary));
    } else {
        let count = |s: StageStatus| outcome.records.iter().filter(|r| r.status == s).count();
        let line = format!(
            "{} succeeded, {} failed, {} skipped, {} cancelled",
            count(StageStatus::Succeeded) + count(StageStatus::FailedAllowed),
            count(StageStatus::Failed),
            count(StageStatus::Skipped),
            count(StageStatus::Cancelled)
        );
        let records = state.shown_run_dir(&outcome.dir);
        let records = records.display();
        match outcome.exit_code {
            exit::SUCCESS => eprintln!("{} {line}; records in `{records}`", style::green("ok")),
            exit::INTERRUPTED => eprintln!(
                "{} {line}; records in `{records}`",
                style::yellow("interrupted")
            ),
            _ => eprintln!("{} {line}; records in `{records}`", style::red("failed")),
        }
    }
    Ok(outcome.exit_code)
}
