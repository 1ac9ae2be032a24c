//! Every rule's examples are its test: each `bad` document must report the rule,
//! each `good` one must not. RULES.md must be what the table generates.

use super::{Check, all, find, markdown};
use crate::lint::{Config, Linter};

fn rules_reported(doc: &str) -> Vec<String> {
    let linter = Linter::new(&Config::default()).expect("default config");
    linter
        .lint_texts(&[("example.yaml".to_string(), doc.to_string())])
        .findings
        .into_iter()
        .map(|f| f.rule_id)
        .collect()
}

#[test]
fn every_bad_example_reports_its_rule_and_no_good_example_does() {
    let mut failures = Vec::new();
    for r in all() {
        assert!(
            !r.bad.is_empty() && !r.good.is_empty(),
            "`{}` needs examples",
            r.id
        );
        for (i, b) in r.bad.iter().enumerate() {
            let got = rules_reported(b);
            if !got.iter().any(|g| g == r.id) {
                failures.push(format!("`{}` bad[{i}] not reported; got {got:?}", r.id));
            }
        }
        for (i, g) in r.good.iter().enumerate() {
            let got = rules_reported(g);
            if got.iter().any(|x| x == r.id) {
                failures.push(format!("`{}` good[{i}] reported", r.id));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn ids_are_unique_kebab_case_and_aliases_resolve() {
    let mut seen = std::collections::HashSet::new();
    for r in all() {
        assert!(seen.insert(r.id), "duplicate id `{}`", r.id);
        assert!(
            r.id.bytes().all(|b| b.is_ascii_lowercase() || b == b'-'),
            "`{}` is not kebab-case",
            r.id
        );
        for c in r.checkov {
            assert!(seen.insert(c), "checkov id `{c}` on two rules");
            assert_eq!(find(c).map(|x| x.id), Some(r.id));
        }
        if r.compose.is_some() {
            assert!(
                r.bad.iter().any(|b| b.starts_with("services:")),
                "`{}` applies to Compose and needs a Compose example",
                r.id
            );
        }
        if !matches!(r.k8s, Check::None | Check::Engine) {
            assert!(
                r.bad.iter().any(|b| b.starts_with("apiVersion:")),
                "`{}` needs a Kubernetes example",
                r.id
            );
        }
    }
    assert!(
        seen.len() >= 25 + 20,
        "at least 25 rules, most with checkov ids"
    );
}

#[test]
fn rules_md_is_generated_from_the_table() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/RULES.md");
    let want = markdown();
    if std::env::var_os("MANIFEST_LINT_BLESS").is_some() {
        std::fs::write(path, &want).expect("write RULES.md");
        return;
    }
    let have = std::fs::read_to_string(path).unwrap_or_default();
    assert!(
        have == want,
        "plugins/manifest-lint/RULES.md is stale: run `MANIFEST_LINT_BLESS=1 cargo test -p manifest-lint rules_md`"
    );
}

#[test]
fn every_pod_bearing_kind_and_container_list_is_checked() {
    let spec = "containers:\n- name: app\n  image: app:1.0\n  securityContext: {privileged: true}\ninitContainers:\n- name: init\n  image: app:1.0\n  securityContext: {privileged: true}\nephemeralContainers:\n- name: debug\n  image: app:1.0\n  securityContext: {privileged: true}\n";
    let indent = |n: usize| {
        spec.lines()
            .map(|l| format!("{}{l}\n", " ".repeat(n)))
            .collect::<String>()
    };
    let docs = [
        format!("apiVersion: v1\nkind: Pod\nmetadata: {{name: p}}\nspec:\n{}", indent(2)),
        format!("apiVersion: v1\nkind: PodTemplate\nmetadata: {{name: p}}\ntemplate:\n  spec:\n{}", indent(4)),
        format!("apiVersion: batch/v1\nkind: CronJob\nmetadata: {{name: p}}\nspec:\n  jobTemplate:\n    spec:\n      template:\n        spec:\n{}", indent(10)),
    ]
    .into_iter()
    .chain(
        ["Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "ReplicationController", "Job"]
            .iter()
            .map(|k| format!("apiVersion: apps/v1\nkind: {k}\nmetadata: {{name: p}}\nspec:\n  template:\n    spec:\n{}", indent(6))),
    );
    let docs = docs.chain(std::iter::once(format!(
        "apiVersion: argoproj.io/v1alpha1\nkind: Rollout\nmetadata: {{name: p}}\nspec:\n  template:\n    spec:\n{}",
        indent(6)
    )));
    for d in docs {
        let got = rules_reported(&d);
        let n = got.iter().filter(|r| *r == "privileged-container").count();
        assert_eq!(n, 3, "{d}\n{got:?}");
    }
    // A List's items are objects too.
    let list = format!(
        "apiVersion: v1\nkind: List\nitems:\n- apiVersion: v1\n  kind: Pod\n  metadata: {{name: p}}\n  spec:\n{}",
        indent(4)
    );
    assert_eq!(
        rules_reported(&list)
            .iter()
            .filter(|r| *r == "privileged-container")
            .count(),
        3
    );
}
