//! RULES.md, generated from the rule table: the committed file is checked against
//! this by `tests.rs` (`MANIFEST_LINT_BLESS=1` rewrites it).

use std::fmt::Write as _;

use super::{Check, all};

const HEAD: &str = include_str!("../../RULES.head.md");

/// The whole of RULES.md.
pub fn markdown() -> String {
    let mut s = String::from(HEAD);
    s.push_str("\n## Index\n\n| rule | checkov | level | Kubernetes | Compose |\n| --- | --- | --- | --- | --- |\n");
    for r in all() {
        let k8s = !matches!(r.k8s, Check::None);
        // The engine's own rules (syntax, repeated keys) apply to every file it reads.
        let compose = r.compose.is_some() || matches!(r.k8s, Check::Engine);
        let _ = writeln!(
            s,
            "| [`{}`](#{}) | {} | {} | {} | {} |",
            r.id,
            r.id,
            if r.checkov.is_empty() {
                "—".to_string()
            } else {
                r.checkov.join(", ")
            },
            r.level.name(),
            if k8s { "yes" } else { "—" },
            if compose { "yes" } else { "—" },
        );
    }
    for r in all() {
        let _ = write!(s, "\n## {}\n\n", r.id);
        let _ = write!(s, "**Level:** {}.", r.level.name());
        if !r.checkov.is_empty() {
            let _ = write!(s, " **checkov:** {}.", r.checkov.join(", "));
        }
        let _ = write!(
            s,
            "\n\n**What:** {}\n\n**Why:** {}\n\n**Fix:** {}\n",
            r.title, r.why, r.fix
        );
        for (i, b) in r.bad.iter().enumerate() {
            let title = if i == 0 { "Reported" } else { "Also reported" };
            let _ = write!(s, "\n{title}:\n\n```yaml\n{b}```\n");
        }
        if let Some(g) = r.good.first() {
            let _ = write!(s, "\nNot reported:\n\n```yaml\n{g}```\n");
        }
    }
    s
}
