//! How the http capability describes itself to a reviewer ([`crate::caps::describe`]).

use crate::caps::describe::{Danger, Description};
use crate::manifest::{HttpGrant, Stage};

pub const DESCRIPTION: Description = Description {
    name: "http",
    imports: &[(
        "wasi:http/",
        "http: outgoing requests to the origins its stage grants (grants.http)",
    )],
    import_hint: "`wasi:http`",
    not_granted: super::super::describe::DENIED,
    also_keys: &[],
    grants,
    dangers,
    uses_fs: None,
    fixed: None,
};

fn methods(h: &HttpGrant) -> String {
    if h.methods.is_empty() {
        "any method".into()
    } else {
        h.methods.join(", ")
    }
}

fn grants(stage: &Stage) -> Vec<String> {
    stage
        .grants
        .http
        .iter()
        .map(|h| format!("`{}` ({})", h.url, methods(h)))
        .collect()
}

fn dangers(stage: &Stage) -> Vec<Danger> {
    let mut out = Vec::new();
    for h in &stage.grants.http {
        if h.scheme != "https" {
            out.push(Danger {
                severity: "high",
                grant: "grants.http".into(),
                subject: h.url.clone(),
                reason: format!(
                    "`{}` is not HTTPS: what the plugin sends (tokens included) and receives can be read and changed on the network",
                    h.scheme
                ),
            });
        }
        // The table the broker refuses resolved addresses by (`gantry_manifest::net`).
        let host = &h.host;
        if let Some(why) = crate::manifest::net::host_non_global(host) {
            out.push(Danger {
                severity: "high",
                grant: "grants.http".into(),
                subject: h.url.clone(),
                reason: format!("`{host}` is {why}"),
            });
        }
    }
    out
}
