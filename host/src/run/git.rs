//! Git facts of the workspace (sha, branch, tag), read by the host — plugins never
//! run git themselves for this.
//!
//! CI systems often check out a detached HEAD; `GANTRY_GIT_SHA`, `GANTRY_GIT_BRANCH`
//! and `GANTRY_GIT_TAG` override what git says.

use std::path::Path;
use std::process::Command;

#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct GitFacts {
    pub sha: Option<String>,
    pub branch: Option<String>,
    pub tag: Option<String>,
}

fn git(dir: &Path, args: &[&str]) -> Option<String> {
    let out = Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(args)
        .env_remove("GIT_DIR")
        .output()
        .ok()?;
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
    pub fn read(workspace: &Path) -> GitFacts {
        GitFacts {
            sha: env("GANTRY_GIT_SHA")
                .or_else(|| git(workspace, &["rev-parse", "--verify", "-q", "HEAD"])),
            branch: env("GANTRY_GIT_BRANCH")
                .or_else(|| git(workspace, &["symbolic-ref", "-q", "--short", "HEAD"])),
            tag: env("GANTRY_GIT_TAG")
                .or_else(|| git(workspace, &["describe", "--tags", "--exact-match", "HEAD"])),
        }
    }
}
