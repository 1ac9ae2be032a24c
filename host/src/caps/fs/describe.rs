//! How the fs capability describes itself to a reviewer ([`crate::caps::describe`]).

use crate::caps::describe::{Danger, Description};
use crate::manifest::Stage;

pub const DESCRIPTION: Description = Description {
    name: "fs",
    imports: &[
        (
            "wasi:filesystem/",
            "fs: files under the directories its stage grants (grants.fs)",
        ),
        (
            "gantry:plugin/files",
            "fs: list and read (never write) files under the directories its stage grants (grants.fs), in bulk",
        ),
    ],
    import_hint: "`wasi:filesystem` or `gantry:plugin/files`",
    not_granted: "not granted: no directory is preopened, so it cannot open any file",
    also_keys: &[],
    grants,
    dangers,
    uses_fs: None,
    fixed: None,
};

fn whole(p: &str) -> &'static str {
    if p == "." {
        " (the whole workspace)"
    } else {
        ""
    }
}

fn grants(stage: &Stage) -> Vec<String> {
    let fs = &stage.grants.fs;
    let mut out: Vec<String> = fs
        .read
        .iter()
        .map(|p| format!("read `{p}`{}", whole(p)))
        .chain(fs.write.iter().map(|p| format!("write `{p}`{}", whole(p))))
        .collect();
    if !fs.write.is_empty() {
        // What bounds the disk space its writes can fill (`caps::fs` measures it).
        out.push(match stage.limits.disk {
            Some(n) => format!(
                "disk: its write grants may grow by at most {} (`limits.disk`; measured while it runs, not a quota)",
                crate::manifest::units::format_size(n)
            ),
            None => "disk: no limit on what its writes fill but the timeout (set `limits.disk`)".into(),
        });
    }
    out
}

fn dangers(stage: &Stage) -> Vec<Danger> {
    if !stage.grants.fs.write.iter().any(|p| p == ".") {
        return Vec::new();
    }
    vec![Danger {
        severity: "high",
        grant: "grants.fs.write".into(),
        subject: ".".into(),
        reason: "the whole workspace is writable: sources, pipeline.toml, gantry.lock and `.git` \
                 (a hook written there runs on the next git command)"
            .into(),
    }]
}
