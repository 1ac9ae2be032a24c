//! Git facts of the workspace (sha, branch, tag), read by the host — plugins never
//! run git themselves for this.
//!
//! CI systems often check out a detached HEAD; `GANTRY_GIT_SHA`, `GANTRY_GIT_BRANCH`
//! and `GANTRY_GIT_TAG` override what git says.

use std::path::Path;
use std::process::{Child, Command, Stdio};

#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct GitFacts {
    pub sha: Option<String>,
    pub branch: Option<String>,
    pub tag: Option<String>,
}

/// Starts `git -C dir ARGS…` (or does nothing when `preset` already answers).
fn spawn(dir: &Path, args: &[&str], preset: &Option<String>) -> Option<Child> {
    if preset.is_some() {
        return None;
    }
    Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(args)
        .env_remove("GIT_DIR")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .ok()
}

fn answer(preset: Option<String>, child: Option<Child>) -> Option<String> {
    if preset.is_some() {
        return preset;
    }
    let out = child?.wait_with_output().ok()?;
    if !out.status.success() {
        return None;
    }
    let s = String::from_utf8(out.stdout).ok()?.trim().to_string();
    (!s.is_empty()).then_some(s)
}

fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}

impl GitFacts {
    /// Asks git the three questions at once (three processes in parallel: the run
    /// waits for the slowest, not for their sum).
    pub fn read(workspace: &Path) -> GitFacts {
        let (sha, branch, tag) = (
            env("GANTRY_GIT_SHA"),
            env("GANTRY_GIT_BRANCH"),
            env("GANTRY_GIT_TAG"),
        );
        let sha_child = spawn(workspace, &["rev-parse", "--verify", "-q", "HEAD"], &sha);
        let branch_child = spawn(
            workspace,
            &["symbolic-ref", "-q", "--short", "HEAD"],
            &branch,
        );
        let tag_child = spawn(
            workspace,
            &["describe", "--tags", "--exact-match", "HEAD"],
            &tag,
        );
        GitFacts {
            sha: answer(sha, sha_child),
            branch: answer(branch, branch_child),
            tag: answer(tag, tag_child),
        }
    }
}
