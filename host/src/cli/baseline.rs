//! `gantry baseline [STAGE…]`: accept the findings of the latest run.
//!
//! Like detekt's `detektBaseline` or PHPStan's `--generate-baseline`, it writes each
//! stage's `baseline` file (the path in `pipeline.toml`) from what the stage reported in
//! the latest run (`--run ID` picks another): every finding's fingerprint, with rule,
//! path, level and message for the reviewer, sorted, so a regenerated baseline diffs
//! cleanly. Findings fixed since are dropped from the file; findings already baselined
//! stay. Without STAGE it writes every stage that has a `baseline` key; a named stage
//! without one is an error whose hint gives the key to add. The pipeline is loaded
//! without checking that baseline files exist — this is what creates them. It never
//! runs a stage: run the pipeline first (`gantry run`), then accept, review, commit.
//!
//! Tests: `tests/e2e/findings.rs`.

use std::path::{Path, PathBuf};

use serde_json::json;

use super::{Cli, Failure, exit, style, workspace_of};
use crate::manifest::{Diagnostics, Manifest};
use crate::report::model::{StageRecord, StageStatus};
use crate::run::findings::BaselineFile;

#[derive(clap::Args, Debug)]
pub struct BaselineArgs {
    /// Stages whose baseline to write (default: every stage with a `baseline` key).
    pub stages: Vec<String>,
    /// The run whose findings to accept (a directory name under `.gantry/runs`;
    /// default: the latest).
    #[arg(long)]
    pub run: Option<String>,
    /// Workspace root (default: the directory of the pipeline file).
    #[arg(long)]
    pub workspace: Option<PathBuf>,
}

fn latest_run(runs: &Path) -> Option<String> {
    let mut ids: Vec<String> = std::fs::read_dir(runs)
        .ok()?
        .filter_map(Result::ok)
        .filter(|e| e.path().join("run.json").is_file())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    // Run ids start with the UTC time (`20261126T105027Z-…`): the last sorts last.
    ids.sort();
    ids.pop()
}

pub fn run(cli: &Cli, args: &BaselineArgs) -> Result<i32, Failure> {
    let manifest = Manifest::load_allowing_missing_baselines(&cli.file)?;
    let workspace = workspace_of(cli, args.workspace.as_deref())?;
    let targets: Vec<&crate::manifest::Stage> = if args.stages.is_empty() {
        let with: Vec<_> = manifest
            .stages
            .iter()
            .filter(|s| s.baseline.is_some())
            .collect();
        if with.is_empty() {
            return Err(Failure::Usage(format!(
                "no stage of `{}` has a `baseline` key\n  hint: add one to the stage whose findings to accept, e.g. `baseline = \"baselines/{}.json\"`, then run `gantry baseline` again",
                cli.file.display(),
                manifest
                    .stages
                    .first()
                    .map_or("secrets", |s| s.name.as_str())
            )));
        }
        with
    } else {
        let mut out = Vec::new();
        for name in &args.stages {
            manifest
                .closure(std::slice::from_ref(name))
                .map_err(|d| Failure::Diagnostics(Diagnostics(vec![d])))?;
            let stage = manifest.stage(name).expect("closure checked the name");
            if stage.baseline.is_none() {
                return Err(Failure::Diagnostics(Diagnostics(vec![
                    manifest
                        .diag(stage.span, format!("stage `{name}` has no `baseline` key"))
                        .with_hint(format!(
                            "add `baseline = \"baselines/{name}.json\"` to `[stage.{name}]`: that is the file `gantry baseline` writes and `gantry run` reads"
                        )),
                ])));
            }
            out.push(stage);
        }
        out
    };
    let runs = crate::run::state::StateDir::locate(&workspace)
        .map_err(Failure::Usage)?
        .runs();
    let run_id = match &args.run {
        Some(id) => id.clone(),
        None => latest_run(&runs).ok_or_else(|| {
            Failure::Usage(format!(
                "no run records in `{}`\n  hint: run the pipeline first (`gantry run`), then accept its findings",
                runs.display()
            ))
        })?,
    };
    let state = runs.join(&run_id).join("run.json");
    let text = std::fs::read_to_string(&state)
        .map_err(|e| Failure::Usage(format!("cannot read `{}`: {e}", state.display())))?;
    let doc: serde_json::Value = serde_json::from_str(&text)
        .map_err(|e| Failure::Usage(format!("`{}` is not valid JSON: {e}", state.display())))?;
    let records: Vec<StageRecord> = serde_json::from_value(doc["stages"].clone())
        .map_err(|e| Failure::Usage(format!("`{}` has no stage records: {e}", state.display())))?;

    let mut written = Vec::new();
    for stage in targets {
        let b = stage.baseline.as_ref().expect("targets have a baseline");
        let rec = records.iter().find(|r| r.stage == stage.name);
        let Some(report) = rec.and_then(|r| r.report.as_ref()) else {
            let why = match rec {
                None => "did not take part in it".to_string(),
                Some(r) if r.status == StageStatus::Skipped => format!(
                    "was skipped ({})",
                    r.reason.as_deref().unwrap_or("no reason")
                ),
                Some(r) => format!(
                    "has no report in it ({})",
                    r.reason.as_deref().unwrap_or("it did not finish")
                ),
            };
            return Err(Failure::Usage(format!(
                "stage `{}` {why}: run `{run_id}` has no findings of it to accept\n  hint: `gantry run {}` first",
                stage.name, stage.name
            )));
        };
        let file = BaselineFile::from_findings(&stage.name, &report.findings);
        let path = b.resolve(manifest.dir());
        let before: std::collections::HashSet<String> = BaselineFile::read(&path)
            .map(|f| f.findings.into_iter().map(|e| e.fingerprint).collect())
            .unwrap_or_default();
        let now: std::collections::HashSet<String> = file
            .findings
            .iter()
            .map(|e| e.fingerprint.clone())
            .collect();
        let added = now.difference(&before).count();
        let removed = before.difference(&now).count();
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|e| {
                Failure::Internal(anyhow::anyhow!("cannot create `{}`: {e}", dir.display()))
            })?;
        }
        let mut bytes = serde_json::to_vec_pretty(&file).map_err(anyhow::Error::from)?;
        bytes.push(b'\n');
        crate::run::atomic::write(&path, &bytes).map_err(|e| {
            Failure::Internal(anyhow::anyhow!("cannot write `{}`: {e}", path.display()))
        })?;
        if !cli.json {
            eprintln!(
                "{} wrote `{}`: {} finding{} of stage `{}` (run `{run_id}`): +{added} −{removed}",
                style::green("ok"),
                path.display(),
                file.findings.len(),
                if file.findings.len() == 1 { "" } else { "s" },
                stage.name
            );
        }
        written.push(json!({
            "stage": stage.name,
            "path": path.display().to_string(),
            "findings": file.findings.len(),
            "added": added,
            "removed": removed,
        }));
    }
    if cli.json {
        println!("{}", json!({ "run": run_id, "written": written }));
    } else {
        eprintln!(
            "review the file(s), then commit them: findings listed there no longer fail their stage's `fail-on`"
        );
    }
    Ok(exit::SUCCESS)
}
