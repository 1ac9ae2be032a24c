//! How the secrets capability describes itself to a reviewer ([`crate::caps::describe`]).

use crate::caps::describe::{Danger, Description, ticks};
use crate::manifest::Stage;

pub const DESCRIPTION: Description = Description {
    name: "secrets",
    imports: &[(
        "gantry:plugin/secrets",
        "secrets: handles to the secrets its stage grants (grants.secrets); values only with grants.reveal",
    )],
    import_hint: "`gantry:plugin/secrets`",
    not_granted: super::super::describe::DENIED,
    also_keys: &["reveal"],
    grants,
    dangers,
    uses_fs: None,
    fixed: None,
};

fn grants(stage: &Stage) -> Vec<String> {
    let g = &stage.grants;
    let mut out = Vec::new();
    if !g.secrets.is_empty() {
        out.push(format!(
            "handles to {} (value not readable by the plugin)",
            ticks(&g.secrets)
        ));
    }
    if !g.reveal.is_empty() {
        out.push(format!(
            "reveal {} (the plugin reads the value)",
            ticks(&g.reveal)
        ));
    }
    out
}

fn dangers(stage: &Stage) -> Vec<Danger> {
    stage
        .grants
        .reveal
        .iter()
        .map(|name| Danger {
            severity: "high",
            grant: "grants.reveal".into(),
            subject: name.clone(),
            reason: format!(
                "the plugin reads the value of secret `{name}`: gantry masks it in logs and records in its common \
                 encodings, but not transformed (reversed, encrypted) or cut in pieces, and the plugin can send \
                 it anywhere its other grants reach"
            ),
        })
        .collect()
}
