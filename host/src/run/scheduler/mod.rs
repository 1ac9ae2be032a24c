//! The scheduler: runs the stage DAG on tokio with bounded parallelism.
//!
//! - A stage starts when everything it `needs` has finished; it is skipped when a
//!   needed stage did not succeed (`allow-failure` counts as success) or its `when`
//!   does not hold.
//! - At most `jobs` stages run at once; each runs on a blocking thread with its own
//!   wasmtime store.
//! - Fail-fast (default): the first failure cancels stages in flight (through the
//!   epoch callback, so even a guest in a tight loop stops within a tick) and stages
//!   not yet started are recorded as cancelled.
//! - Retries: a stage that errored (trap, timeout, plugin error) is retried up to
//!   `retries` times; a stage whose plugin reported `failure` is not (the same input
//!   would give the same findings), nor one that was cancelled, denied or misconfigured.
//!
//! Exit codes: see [`crate::cli::exit`].

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use serde_json::json;
use tokio::sync::Semaphore;
use tokio::task::JoinSet;

use super::audit::{Actor, AuditLog};
use super::clock::now_rfc3339;
use super::git::GitFacts;
use super::journal::Journal;
use super::log::StageLog;
use super::prepare::{Prepared, validate_config};
use super::redact::Redactor;
use super::resume::{Resume, RunLock};
use crate::caps::secrets::SecretStore;
use crate::manifest::{Manifest, Stage, interp};
use crate::report::model::{Artifact, Outcome, PluginInfo, StageRecord, StageReport, StageStatus};
use crate::runtime::bindings::types as wit;
use crate::runtime::{RunError, Runtime, StageSetup};

mod checks;
mod records;

pub use checks::workspace_relative;
use checks::*;
use records::*;

/// Output keys: what `${stages.X.outputs.KEY}` can name.
const MAX_OUTPUTS: usize = 256;
const MAX_OUTPUT_VALUE: usize = 64 * 1024;
const MAX_FINDINGS: usize = 100_000;
/// Longest summary, finding message, fix description, location path or
/// fingerprint, in bytes; longer ones are cut with a marker (a report is only bounded
/// by the plugin's memory otherwise, and every byte of it goes to SARIF and run.json).
const MAX_REPORT_TEXT: usize = 64 * 1024;
/// Longest text a fix inserts.
const MAX_FIX_TEXT: usize = 1024 * 1024;

pub struct RunOptions {
    /// Canonical workspace root.
    pub workspace: PathBuf,
    /// Where run directories go (`runs/` of the workspace's state directory).
    pub records_root: PathBuf,
    /// The workspace's directory in gantry's state directory (outside the workspace).
    pub state: super::state::StateDir,
    /// Stages to run (with what they need); empty = all.
    pub selected: Vec<String>,
    pub jobs: usize,
    pub dry_run: bool,
    pub fail_fast: bool,
    pub git: GitFacts,
    /// The run's inputs (`[inputs]`, `--input`): every declared one, with its value.
    pub inputs: BTreeMap<String, String>,
    /// Environments the run was started with approval for (`--approve ENV`).
    pub approved: Vec<String>,
    /// `gantry rollback`: run this deploy stage again with an earlier image, then the
    /// stages that need it; nothing upstream runs.
    pub rollback: Option<Rollback>,
    /// Continue this run (`--resume`) instead of starting a new one: same run id and
    /// directory, its succeeded stages reused (see [`super::resume`]).
    pub resume: Option<Resume>,
}

/// A rollback of one deploy stage to an image from the deployment history.
#[derive(Clone, Debug, serde::Serialize)]
pub struct Rollback {
    pub stage: String,
    /// The image deployed again (set as the stage's `with.image`).
    pub to: String,
    /// The image deployed now, as the history says.
    pub from: Option<String>,
    /// The run whose deploy of `to` this returns to.
    pub run: Option<String>,
}

pub struct RunOutcome {
    pub run_id: String,
    pub dir: PathBuf,
    pub records: Vec<StageRecord>,
    pub exit_code: i32,
    pub interrupted: bool,
}

/// What the scheduler tells the console as the run goes.
pub enum Event<'a> {
    Started {
        stage: &'a str,
        plugin: &'a str,
    },
    Retrying {
        stage: &'a str,
        attempt: u32,
        reason: &'a str,
    },
    Finished(&'a StageRecord),
}

pub trait Observer: Send + Sync {
    fn event(&self, event: Event<'_>);
}

/// An observer that ignores everything.
pub struct Quiet;
impl Observer for Quiet {
    fn event(&self, _: Event<'_>) {}
}

pub fn new_run_id() -> String {
    let now = now_rfc3339(); // 2026-11-26T01:51:07.123Z
    let compact: String = now
        .chars()
        .filter(|c| c.is_ascii_digit())
        .take(14)
        .collect();
    let mut nonce = [0u8; 3];
    let seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0)
        ^ std::process::id().rotate_left(16);
    nonce.copy_from_slice(&seed.to_le_bytes()[..3]);
    format!(
        "{}T{}Z-{}",
        &compact[..8],
        &compact[8..],
        hex::encode(nonce)
    )
}

struct Shared {
    runtime: Arc<Runtime>,
    prepared: Arc<Prepared>,
    audit: Arc<AuditLog>,
    journal: Arc<Journal>,
    secrets: Arc<SecretStore>,
    redactor: Arc<Redactor>,
    run_id: String,
    run_dir: PathBuf,
    workspace: PathBuf,
    dry_run: bool,
    git: GitFacts,
    inputs: BTreeMap<String, String>,
    rollback: Option<Rollback>,
    /// The workspace's ownership key (see [`super::state::StateDir::owner_key`]).
    owner_key: [u8; 32],
    observer: Arc<dyn Observer>,
    /// A resumed run appends to the logs of the stages it runs again.
    resumed: bool,
}

/// Runs the pipeline. `interrupt` resolving (e.g. Ctrl-C) cancels everything in flight.
pub async fn execute(
    runtime: Arc<Runtime>,
    prepared: Arc<Prepared>,
    mut opts: RunOptions,
    observer: Arc<dyn Observer>,
    interrupt: impl std::future::Future<Output = ()> + Send,
) -> anyhow::Result<RunOutcome> {
    let manifest = &prepared.manifest;
    let order: Vec<String> = if let Some(rb) = &opts.rollback {
        manifest.dependents(&rb.stage)
    } else if opts.selected.is_empty() {
        manifest
            .topo_order()
            .into_iter()
            .map(String::from)
            .collect()
    } else {
        manifest
            .closure(&opts.selected)
            .map_err(|d| anyhow::anyhow!("{}", d.render()))?
    };
    let resume = opts.resume.take();
    let run_id = match &resume {
        Some(r) => r.run_id.clone(),
        None => new_run_id(),
    };
    let run_dir = opts.records_root.join(&run_id);
    std::fs::create_dir_all(run_dir.join("logs")).map_err(|e| {
        anyhow::anyhow!("cannot create run records in `{}`: {e}", run_dir.display())
    })?;
    // Held until the run ends, so `--resume` can tell a live run from a dead one.
    let _lock = match &resume {
        Some(_) => None,
        None => Some(RunLock::acquire(&run_dir).map_err(|e| anyhow::anyhow!("{e}"))?),
    };
    // Values first: every record of the run is redacted with them.
    let secrets = Arc::new(SecretStore::load(manifest));
    let redactor = Arc::new(secrets.redactor());
    let owner_key = opts.state.owner_key().map_err(|e| anyhow::anyhow!("{e}"))?;
    let audit =
        Arc::new(AuditLog::create(&run_dir.join("audit.jsonl"))?.redacting(redactor.clone()));
    let journal =
        Arc::new(Journal::create(&run_dir.join("journal.jsonl"))?.redacting(redactor.clone()));
    let shared = Arc::new(Shared {
        runtime,
        prepared: prepared.clone(),
        audit,
        journal: journal.clone(),
        secrets,
        redactor,
        run_id: run_id.clone(),
        run_dir: run_dir.clone(),
        workspace: opts.workspace.clone(),
        dry_run: opts.dry_run,
        git: opts.git.clone(),
        inputs: opts.inputs.clone(),
        rollback: opts.rollback.clone(),
        owner_key,
        observer: observer.clone(),
        resumed: resume.is_some(),
    });

    let mut records: BTreeMap<String, StageRecord> = BTreeMap::new();
    for name in &order {
        let stage = manifest.stage(name).expect("closure yields known stages");
        let prepared_stage = prepared.stage(name).expect("prepared every stage");
        if let Some(kept) = resume.as_ref().and_then(|r| r.kept.get(name)) {
            records.insert(name.clone(), kept.clone());
            continue;
        }
        records.insert(
            name.clone(),
            StageRecord {
                stage: name.clone(),
                plugin_ref: stage.plugin.clone(),
                plugin_digest: prepared_stage.plugin.digest.to_string(),
                plugin: Some(plugin_info(&shared, prepared_stage)),
                status: StageStatus::Pending,
                reason: None,
                report: None,
                started_at: None,
                duration_ms: 0,
                attempts: 0,
                artifacts: Vec::new(),
            },
        );
    }
    let started_at = match &resume {
        Some(r) => r.started_at.clone(),
        None => now_rfc3339(),
    };
    let fingerprint = super::resume::fingerprint(&prepared);
    let resumed = match &resume {
        Some(r) => {
            journal.continue_after(r.last_seq);
            let mut history = r.history.clone();
            history.push(json!({
                "at": now_rfc3339(),
                "pid": std::process::id(),
                "from_state": r.previous_state,
                "reused": r.kept.keys().collect::<Vec<_>>(),
                "unknown_effects": r.unknown_effects.iter().map(|u| u.to_json()).collect::<Vec<_>>(),
            }));
            note_resume(&shared, r, &order, &records);
            Some(history)
        }
        None => None,
    };
    let state_file = run_dir.join("run.json");
    let state_writer = StateWriter::start(state_file.clone());
    let state_doc = |records: &BTreeMap<String, StageRecord>, state: &str, exit: Option<i32>| {
        let list: Vec<&StageRecord> = order.iter().filter_map(|n| records.get(n)).collect();
        let mut doc = json!({
            "run": run_id,
            "pipeline": manifest.name,
            "state": state,
            "started_at": started_at,
            "dry_run": opts.dry_run,
            "git": opts.git,
            "inputs": opts.inputs,
            "approved": opts.approved,
            "rollback": opts.rollback,
            "manifest_sha256": fingerprint["manifest_sha256"],
            "grants": fingerprint["grants"],
            "stages": list,
        });
        if let Some(code) = exit {
            doc["exit_code"] = json!(code);
        }
        if let Some(h) = &resumed {
            doc["resumed"] = json!(h);
        }
        serde_json::to_vec_pretty(&doc).unwrap_or_default()
    };
    state_writer.submit(state_doc(&records, "running", None));

    let cancels: HashMap<String, Arc<AtomicBool>> = order
        .iter()
        .map(|n| (n.clone(), Arc::new(AtomicBool::new(false))))
        .collect();
    let semaphore = Arc::new(Semaphore::new(opts.jobs.max(1)));
    let mut running: JoinSet<StageRecord> = JoinSet::new();
    let mut aborting: Option<String> = None;
    let mut interrupted = false;
    let mut interrupt = std::pin::pin!(interrupt);

    loop {
        // Decide every stage whose needs are final; repeat until nothing changes,
        // because a skip can make the next stage decidable.
        let mut changed = true;
        while changed {
            changed = false;
            for name in &order {
                if records[name].status != StageStatus::Pending {
                    continue;
                }
                let stage = manifest.stage(name).expect("known stage");
                if !stage
                    .needs
                    .iter()
                    .all(|n| records.get(n).is_none_or(|r| r.status.is_final()))
                {
                    continue;
                }
                changed = true;
                let decision = decide(
                    stage,
                    &records,
                    aborting.as_deref(),
                    interrupted,
                    &opts.git,
                    stage
                        .environment
                        .as_deref()
                        .and_then(|e| manifest.environment(e)),
                    &opts.approved,
                );
                let rec = records.get_mut(name).expect("known stage");
                match decision {
                    Some((status, reason)) => {
                        rec.status = status;
                        rec.reason = Some(reason);
                        observer.event(Event::Finished(rec));
                    }
                    None => {
                        rec.status = StageStatus::Running;
                        rec.started_at = Some(now_rfc3339());
                        let outputs = ancestor_outputs(manifest, name, &records);
                        let upstream = super::findings::upstream(stage, &records);
                        let shared = shared.clone();
                        let cancel = cancels[name].clone();
                        let semaphore = semaphore.clone();
                        let name = name.clone();
                        running.spawn(async move {
                            let _permit = semaphore.acquire_owned().await;
                            let sh = shared.clone();
                            let n = name.clone();
                            match tokio::task::spawn_blocking(move || {
                                run_stage(&sh, &n, outputs, upstream, cancel)
                            })
                            .await
                            {
                                Ok(rec) => rec,
                                Err(e) => panic_record(&shared, &name, &e.to_string()),
                            }
                        });
                    }
                }
            }
        }
        state_writer.submit(state_doc(&records, "running", None));
        if running.is_empty() {
            break;
        }
        let done = tokio::select! {
            done = running.join_next() => done,
            () = &mut interrupt, if !interrupted => {
                interrupted = true;
                aborting.get_or_insert_with(|| "the run was interrupted".to_string());
                for c in cancels.values() {
                    c.store(true, Ordering::Relaxed);
                }
                continue;
            }
        };
        let Some(done) = done else { break };
        let rec = match done {
            Ok(rec) => rec,
            Err(e) => anyhow::bail!("a stage task failed: {e}"),
        };
        if rec.status == StageStatus::Failed && opts.fail_fast && aborting.is_none() {
            aborting = Some(format!("stage `{}` failed (fail-fast)", rec.stage));
            // Stages that run on a failure are what fail-fast leaves to run.
            for (name, c) in &cancels {
                let on_failure = manifest
                    .stage(name)
                    .and_then(|s| s.when.as_ref())
                    .is_some_and(|w| !w.on_failure.is_empty());
                if !on_failure {
                    c.store(true, Ordering::Relaxed);
                }
            }
        }
        observer.event(Event::Finished(&rec));
        records.insert(rec.stage.clone(), rec);
    }

    let list: Vec<StageRecord> = order.iter().filter_map(|n| records.remove(n)).collect();
    let failed = list.iter().any(|r| r.status == StageStatus::Failed);
    let exit_code = if interrupted {
        crate::cli::exit::INTERRUPTED
    } else if failed {
        crate::cli::exit::STAGE_FAILED
    } else {
        crate::cli::exit::SUCCESS
    };
    let mut map: BTreeMap<String, StageRecord> = BTreeMap::new();
    for r in &list {
        map.insert(r.stage.clone(), r.clone());
    }
    let final_state = state_doc(
        &map,
        if interrupted {
            "interrupted"
        } else {
            "finished"
        },
        Some(exit_code),
    );
    // The final state and the reports are written (and fsynced) at the same time.
    let state_written = state_writer.finish(final_state);
    if opts.dry_run {
        let plan = json!({
            "run": run_id,
            "pipeline": manifest.name,
            "dry_run": true,
            "effects": journal.planned_effects(),
        });
        write_atomic(
            &run_dir.join("plan.json"),
            &serde_json::to_vec_pretty(&plan)?,
        )?;
    }
    // Deploys that ran for real join the workspace's deployment history.
    if !opts.dry_run {
        let deploys = super::history::entries(
            &list,
            &run_id,
            &manifest.name,
            opts.git.sha.as_deref(),
            &run_dir.join("journal.jsonl"),
            &|stage| manifest.stage(stage).and_then(|s| s.environment.clone()),
            &opts.approved,
            opts.rollback.as_ref().map(|r| r.stage.as_str()),
            &|stage| manifest.dependents(stage),
        );
        if let Err(e) = super::history::append(opts.state.root(), &deploys) {
            tracing::error!("cannot write the deployment history: {e}");
        }
    }
    write_reports(
        &run_dir,
        &manifest.name,
        &run_id,
        &list,
        &opts.workspace,
        exit_code,
        resumed.as_ref().and_then(|h| h.last()),
        &opts.inputs,
    )?;
    if let Err(e) = state_written.wait() {
        tracing::error!("cannot write {}: {e}", state_file.display());
    }
    Ok(RunOutcome {
        run_id,
        dir: run_dir,
        records: list,
        exit_code,
        interrupted,
    })
}

/// Writes the `resumed` marker into the log of every stage that will be decided
/// again, and into the log of every stage with an effect of unknown outcome, the
/// effect named; marks those effects `unknown` in the journal.
fn note_resume(sh: &Shared, r: &Resume, order: &[String], records: &BTreeMap<String, StageRecord>) {
    for name in order {
        let kept = records.get(name).is_some_and(|rec| rec.status.is_final());
        let effects: Vec<_> = r
            .unknown_effects
            .iter()
            .filter(|u| &u.stage == name)
            .collect();
        if kept && effects.is_empty() {
            continue;
        }
        let cap = sh
            .prepared
            .manifest
            .stage(name)
            .map(|s| s.limits.stdout)
            .unwrap_or(1 << 20);
        let path = sh.run_dir.join("logs").join(format!("{name}.log"));
        let Ok(log) = StageLog::append(&path, cap, sh.redactor.clone()) else {
            continue;
        };
        log.line(
            "gantry",
            &format!(
                "--- resumed by `gantry run --resume` (pid {}; the run was {}){} ---",
                std::process::id(),
                r.previous_state,
                if kept {
                    "; this stage is not run again"
                } else {
                    ""
                }
            ),
        );
        for u in effects {
            log.line("gantry", &format!("warning: {}", u.describe()));
            sh.journal.unknown(&sh.run_id, name, u.seq);
        }
        log.flush();
    }
}

/// `Some((status, reason))` when the stage will not run.
fn decide(
    stage: &Stage,
    records: &BTreeMap<String, StageRecord>,
    aborting: Option<&str>,
    interrupted: bool,
    git: &GitFacts,
    environment: Option<&crate::manifest::environments::Environment>,
    approved: &[String],
) -> Option<(StageStatus, String)> {
    let on_failure = stage.when.as_ref().map_or(&[][..], |w| &w.on_failure[..]);
    for need in &stage.needs {
        if on_failure.contains(need) {
            continue;
        }
        if let Some(r) = records.get(need)
            && !matches!(
                r.status,
                StageStatus::Succeeded | StageStatus::FailedAllowed
            )
        {
            let what = match r.status {
                StageStatus::Skipped => "was skipped",
                StageStatus::Cancelled => "was cancelled",
                _ => "failed",
            };
            return Some((
                StageStatus::Skipped,
                format!("needs `{need}`, which {what}"),
            ));
        }
    }
    // `when.on-failure`: runs when one of the named stages failed, fail-fast or not
    // (it is what a failure calls for); never after an interrupt.
    let triggered = !on_failure.is_empty()
        && on_failure.iter().any(|n| {
            records.get(n).is_some_and(|r| {
                matches!(r.status, StageStatus::Failed | StageStatus::FailedAllowed)
            })
        });
    if !on_failure.is_empty() && !triggered {
        return Some((
            StageStatus::Skipped,
            format!(
                "`when.on-failure`: {} did not fail",
                on_failure
                    .iter()
                    .map(|n| format!("`{n}`"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        ));
    }
    if let Some(why) = aborting
        && (!triggered || interrupted)
    {
        return Some((StageStatus::Cancelled, format!("not started: {why}")));
    }
    if let Some(when) = &stage.when
        && let Err(why) = when.evaluate(git.branch.as_deref(), git.tag.as_deref(), &|v| {
            std::env::var(v).ok()
        })
    {
        return Some((StageStatus::Skipped, format!("`when` does not hold: {why}")));
    }
    if let Some(env) = environment
        && let Err(why) = env.admits(
            approved.contains(&env.name),
            git.branch.as_deref(),
            git.tag.as_deref(),
        )
    {
        return Some((StageStatus::Skipped, why));
    }
    None
}

/// Outputs of every stage `name` needs, directly or transitively, that succeeded.
fn ancestor_outputs(
    manifest: &Manifest,
    name: &str,
    records: &BTreeMap<String, StageRecord>,
) -> BTreeMap<String, Vec<(String, String)>> {
    let mut out = BTreeMap::new();
    let Ok(closure) = manifest.closure(&[name.to_string()]) else {
        return out;
    };
    for anc in closure.iter().filter(|n| n.as_str() != name) {
        if let Some(report) = records.get(anc).and_then(|r| r.report.as_ref()) {
            out.insert(anc.clone(), report.outputs.clone());
        }
    }
    out
}

fn panic_record(shared: &Shared, name: &str, why: &str) -> StageRecord {
    let stage = shared.prepared.stage(name).expect("known stage");
    StageRecord {
        stage: name.to_string(),
        plugin_ref: shared
            .prepared
            .manifest
            .stage(name)
            .map(|s| s.plugin.clone())
            .unwrap_or_default(),
        plugin_digest: stage.plugin.digest.to_string(),
        plugin: Some(plugin_info(shared, stage)),
        status: StageStatus::Failed,
        reason: Some(format!("internal error in gantry: {why}")),
        report: None,
        started_at: None,
        duration_ms: 0,
        attempts: 0,
        artifacts: Vec::new(),
    }
}

/// Runs one stage with its retries. Blocking.
fn run_stage(
    sh: &Shared,
    name: &str,
    outputs: BTreeMap<String, Vec<(String, String)>>,
    upstream: Vec<wit::StageFindings>,
    cancel: Arc<AtomicBool>,
) -> StageRecord {
    let manifest = &sh.prepared.manifest;
    let stage = manifest.stage(name).expect("known stage");
    let prepared = sh.prepared.stage(name).expect("prepared stage");
    let start = Instant::now();
    let mut rec = StageRecord {
        stage: name.to_string(),
        plugin_ref: stage.plugin.clone(),
        plugin_digest: prepared.plugin.digest.to_string(),
        plugin: Some(plugin_info(sh, prepared)),
        status: StageStatus::Running,
        reason: None,
        report: None,
        started_at: Some(now_rfc3339()),
        duration_ms: 0,
        attempts: 0,
        artifacts: Vec::new(),
    };
    let log_path = sh.run_dir.join("logs").join(format!("{name}.log"));
    let log = match if sh.resumed {
        StageLog::append(&log_path, stage.limits.stdout, sh.redactor.clone())
    } else {
        StageLog::create(&log_path, stage.limits.stdout, sh.redactor.clone())
    } {
        Ok(l) => Arc::new(l),
        Err(e) => {
            rec.status = StageStatus::Failed;
            rec.reason = Some(format!("cannot create the stage log: {e}"));
            return rec;
        }
    };
    sh.observer.event(Event::Started {
        stage: name,
        plugin: &stage.plugin,
    });
    log.line(
        "gantry",
        &format!(
            "stage `{name}` plugin `{}` {}",
            stage.plugin, prepared.plugin.digest
        ),
    );
    let result = prepare_context(sh, stage, prepared, &outputs, upstream).and_then(|ctx| {
        let attempts = 1 + stage.retries;
        let mut last = Err(RunError::Cancelled);
        for attempt in 1..=attempts {
            rec.attempts = attempt;
            log.line("gantry", &format!("attempt {attempt} of {attempts}"));
            let setup = StageSetup {
                actor: Actor {
                    run: sh.run_id.clone(),
                    stage: name.to_string(),
                    plugin: prepared.plugin.digest.to_string(),
                },
                pipeline: sh.prepared.manifest.name.clone(),
                audit: sh.audit.clone(),
                journal: sh.journal.clone(),
                log: log.clone(),
                workspace: sh.workspace.clone(),
                dry_run: sh.dry_run,
                grants: stage.grants.clone(),
                secrets: sh.secrets.clone(),
                limits: stage.limits,
                timeout: stage.timeout,
                cancel: cancel.clone(),
                owner_key: sh.owner_key,
            };
            // Sealed by the runtime: redacted before anything here reads it.
            last = sh
                .runtime
                .run(&prepared.plugin, setup, ctx.clone())
                .into_inner();
            match &last {
                Ok(_) => break,
                Err(
                    RunError::Cancelled
                    | RunError::InvalidConfig(_)
                    | RunError::Denied(_)
                    | RunError::Setup(_)
                    | RunError::TooManyResources(_)
                    | RunError::HttpFields(_)
                    | RunError::DiskLimit(_),
                ) => break,
                Err(e) if attempt < attempts && !cancel.load(Ordering::Relaxed) => {
                    let why = e.to_string();
                    log.line(
                        "gantry",
                        &format!("attempt {attempt} failed: {why}; retrying"),
                    );
                    sh.observer.event(Event::Retrying {
                        stage: name,
                        attempt: attempt + 1,
                        reason: &why,
                    });
                }
                Err(_) => break,
            }
        }
        last
    });
    match result {
        Ok(report) => match (
            super::artifacts::excess(&report.artifacts),
            check_report(report, stage, &sh.workspace, &log),
        ) {
            (dropped, Ok((mut report, artifacts))) => {
                let actor = Actor {
                    run: sh.run_id.clone(),
                    stage: name.to_string(),
                    plugin: prepared.plugin.digest.to_string(),
                };
                super::artifacts::audit(&artifacts, dropped, &actor, &sh.audit);
                // Fingerprints, `baseline` and `fail-on`: resolves `by-findings`.
                let host_reason = super::findings::judge(
                    &mut report,
                    stage,
                    &sh.workspace,
                    sh.prepared.manifest.dir(),
                );
                rec.status = match report.outcome {
                    Outcome::Success => StageStatus::Succeeded,
                    Outcome::Failure | Outcome::ByFindings => StageStatus::Failed,
                };
                if rec.status == StageStatus::Failed {
                    rec.reason = Some(if let Some(why) = host_reason {
                        why
                    } else if report.summary.is_empty() {
                        "the plugin reported failure".to_string()
                    } else {
                        report.summary.clone()
                    });
                }
                rec.artifacts = artifacts;
                rec.report = Some(report);
            }
            (_, Err(why)) => {
                rec.status = StageStatus::Failed;
                rec.reason = Some(format!("the plugin's report was refused: {why}"));
            }
        },
        Err(RunError::Cancelled) => {
            rec.status = StageStatus::Cancelled;
            rec.reason = Some("cancelled while running".to_string());
        }
        Err(e) => {
            rec.status = StageStatus::Failed;
            rec.reason = Some(e.to_string());
        }
    }
    if rec.status == StageStatus::Failed && stage.allow_failure {
        rec.status = StageStatus::FailedAllowed;
    }
    rec.duration_ms = start.elapsed().as_millis() as u64;
    log.line(
        "gantry",
        &format!(
            "stage `{name}` {:?}{} in {} ms",
            rec.status,
            rec.reason
                .as_deref()
                .map(|r| format!(": {r}"))
                .unwrap_or_default(),
            rec.duration_ms
        ),
    );
    log.flush();
    rec
}

/// What the plugin said about itself, as the records keep it. `describe` runs with no
/// grants, so it cannot know a value; sealed all the same, like everything a plugin says.
fn plugin_info(sh: &Shared, p: &super::prepare::PreparedStage) -> PluginInfo {
    sh.redactor.seal((*p.info).clone()).into_inner()
}

/// Interpolates and re-validates the config, builds the WIT context.
fn prepare_context(
    sh: &Shared,
    stage: &Stage,
    prepared: &super::prepare::PreparedStage,
    outputs: &BTreeMap<String, Vec<(String, String)>>,
    upstream: Vec<wit::StageFindings>,
) -> Result<wit::StageContext, RunError> {
    let manifest = &sh.prepared.manifest;
    let get = |s: &str, k: &str| {
        outputs
            .get(s)
            .and_then(|o| o.iter().find(|(key, _)| key == k))
            .map(|(_, v)| v.clone())
    };
    let keys = |s: &str| {
        outputs
            .get(s)
            .map(|o| o.iter().map(|(k, _)| k.clone()).collect())
            .unwrap_or_default()
    };
    let cx = interp::Context {
        outputs: &get,
        output_keys: &keys,
        git_sha: sh.git.sha.as_deref(),
        git_branch: sh.git.branch.as_deref(),
        git_tag: sh.git.tag.as_deref(),
        pipeline: &manifest.name,
        run_id: &sh.run_id,
        inputs: &sh.inputs,
    };
    // A rollback deploys the image it names, whatever `with.image` says.
    let with = match &sh.rollback {
        Some(rb) if rb.stage == stage.name => {
            let mut w = stage.with.clone();
            if let Some(obj) = w.as_object_mut() {
                obj.insert("image".into(), serde_json::Value::String(rb.to.clone()));
                obj.remove("rollback");
            }
            w
        }
        _ => stage.with.clone(),
    };
    let config = interp::interpolate(&with, &cx)
        .map_err(|e| RunError::InvalidConfig(format!("`with`: {e}")))?;
    if let Some(d) = validate_config(manifest, stage, &prepared.info, &prepared.schema, &config)
        .into_iter()
        .next()
    {
        return Err(RunError::InvalidConfig(format!(
            "after substituting placeholders: {}",
            d.message
        )));
    }
    Ok(wit::StageContext {
        pipeline: manifest.name.clone(),
        stage: stage.name.clone(),
        run_id: sh.run_id.clone(),
        config: config.to_string(),
        inputs: outputs
            .iter()
            .map(|(s, o)| wit::StageInput {
                stage: s.clone(),
                outputs: o.clone(),
            })
            .collect(),
        upstream,
        dry_run: sh.dry_run,
        git: wit::GitFacts {
            sha: sh.git.sha.clone(),
            branch: sh.git.branch.clone(),
            tag: sh.git.tag.clone(),
        },
        workspace: crate::caps::fs::GUEST_ROOT.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::workspace_relative;

    #[test]
    fn finding_paths_are_workspace_relative_or_refused() {
        for (path, want) in [
            ("src/a.rs", "src/a.rs"),
            ("./src//b/../a.rs", "src/a.rs"),
            ("/workspace/src/a.rs", "src/a.rs"),
            ("/workspace", "."),
            ("src/[id].tsx", "src/[id].tsx"),
        ] {
            assert_eq!(workspace_relative(path).as_deref(), Ok(want), "{path}");
        }
        for path in [
            "",
            "../../etc/passwd",
            "src/../../x",
            "/etc/shadow",
            "/workspacex/a",
            "C:/Windows/x",
            "..\\..\\etc\\passwd",
            "a\0b",
        ] {
            assert!(workspace_relative(path).is_err(), "{path}");
        }
    }
}
