//! What `gantry check` can tell about process grants before a run: a machine
//! that cannot sandbox, `read` directories that do not resolve or are refused.

#[allow(unused_imports)]
use super::*;

/// What `gantry check` reports about process grants that `gantry run` would fail on:
/// no working sandbox on this machine (for a pipeline with process grants), and
/// `read` directories that do not expand, do not exist, or are refused. Each
/// diagnostic points at the stage.
pub fn preflight(manifest: &crate::manifest::Manifest) -> Vec<crate::manifest::Diagnostic> {
    let mut out = Vec::new();
    let with_process: Vec<&crate::manifest::Stage> = manifest
        .stages
        .iter()
        .filter(|s| !s.grants.process.is_empty())
        .collect();
    if with_process.is_empty() {
        return out;
    }
    if let Err(why) = sandbox::probe() {
        let names: Vec<String> = with_process
            .iter()
            .map(|s| format!("`{}`", s.name))
            .collect();
        for s in &with_process {
            out.push(
                manifest
                    .diag(
                        s.span,
                        format!(
                            "stage `{}` has process grants, and no command can run on this machine: {why}",
                            s.name
                        ),
                    )
                    .with_hint(format!(
                        "stages with process grants: {}; gantry runs host commands only inside its OS sandbox",
                        names.join(", ")
                    )),
            );
        }
    }
    let home = std::env::var("HOME").ok();
    let secrets: Vec<PathBuf> = manifest
        .secrets
        .iter()
        .filter_map(|d| match &d.source {
            crate::manifest::SecretSource::File(f) => Some(manifest.dir().join(f)),
            _ => None,
        })
        .map(|p| p.canonicalize().unwrap_or(p))
        .collect();
    let workspace = manifest
        .dir()
        .canonicalize()
        .unwrap_or_else(|_| manifest.dir().to_path_buf());
    let protected = protected_dirs(&workspace);
    for s in &with_process {
        for g in &s.grants.process {
            for entry in &g.read {
                let problem = crate::manifest::expand_host_path(
                    entry,
                    &|n| std::env::var(n).ok(),
                    home.as_deref(),
                )
                .and_then(|at| {
                    let real = Path::new(&at)
                        .canonicalize()
                        .map_err(|e| format!("`{entry}` (`{at}`) cannot be opened: {e}"))?;
                    check_host_dir(&real, &workspace, &protected, home.as_deref())
                        .map_err(|why| format!("`{entry}` {why}"))?;
                    match secrets.iter().find(|f| f.starts_with(&real)) {
                        Some(f) => Err(format!(
                            "`{entry}` holds the source of a secret (`{}`): commands would read its value",
                            f.display()
                        )),
                        None => Ok(()),
                    }
                })
                .err();
                if let Some(why) = problem {
                    out.push(
                        manifest
                            .diag(
                                s.span,
                                format!(
                                    "stage `{}`: `read` of the process grant for `{}`: {why}",
                                    s.name, g.cmd
                                ),
                            )
                            .with_hint(
                                "`read` names host directories a command needs (a toolchain, a cache), e.g. `read = [\"~/.cargo\"]`",
                            ),
                    );
                }
            }
        }
    }
    out
}
