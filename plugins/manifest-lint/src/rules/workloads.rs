//! Reliability rules: resources, probes, disruption budgets, spreading replicas.

use super::{Check, Ctr, Found, Level, RUNNING_CONTAINERS, Rule, key_pos};
use crate::model::ContainerKind;
use crate::yaml::Node;

/// Kinds whose pods run to completion: probes do not apply.
const BATCH: &[&str] = &["Job", "CronJob"];

pub static RULES: &[Rule] = &[
    Rule {
        id: "cpu-requests-missing",
        checkov: &["CKV_K8S_10"],
        level: Level::Warning,
        title: "A container requests no CPU.",
        why: "The scheduler places pods by their requests: without one, the pod lands on a busy node and is the first to starve. (A limit alone counts: Kubernetes then requests the limit.)",
        fix: "Set `resources.requests.cpu` to what the container uses under normal load.",
        bad: &[
            "apiVersion: v1\nkind: Pod\nmetadata: {name: web}\nspec:\n  containers:\n  - name: app\n    image: app:1.0\n    resources:\n      requests: {memory: 64Mi}\n",
        ],
        good: &[
            "apiVersion: v1\nkind: Pod\nmetadata: {name: web}\nspec:\n  containers:\n  - name: app\n    image: app:1.0\n    resources:\n      requests: {cpu: 100m}\n",
            "apiVersion: v1\nkind: Pod\nmetadata: {name: web}\nspec:\n  containers:\n  - name: app\n    image: app:1.0\n    resources:\n      limits: {cpu: 500m}\n",
        ],
        k8s: Check::Container {
            kinds: RUNNING_CONTAINERS,
            skip_kinds: &[],
            f: |x| request(x, "cpu"),
        },
        compose: None,
    },
    Rule {
        id: "cpu-limits-missing",
        checkov: &["CKV_K8S_11"],
        level: Level::Note,
        title: "A container has no CPU limit.",
        why: "Without a limit a busy container takes every idle CPU of the node, and its latency changes with its neighbours' load. (Some teams leave CPU unlimited on purpose to avoid throttling; suppress this rule then.)",
        fix: "Set `resources.limits.cpu`.",
        bad: &[
            "apiVersion: v1\nkind: Pod\nmetadata: {name: web}\nspec:\n  containers:\n  - name: app\n    image: app:1.0\n",
        ],
        good: &[
            "apiVersion: v1\nkind: Pod\nmetadata: {name: web}\nspec:\n  containers:\n  - name: app\n    image: app:1.0\n    resources:\n      limits: {cpu: \"1\"}\n",
        ],
        k8s: Check::Container {
            kinds: RUNNING_CONTAINERS,
            skip_kinds: &[],
            f: |x| limit(x, "cpu"),
        },
        compose: None,
    },
    Rule {
        id: "memory-requests-missing",
        checkov: &["CKV_K8S_12"],
        level: Level::Warning,
        title: "A container requests no memory.",
        why: "Pods without a memory request are scheduled onto nodes that cannot hold them and are evicted first under memory pressure. (A limit alone counts: Kubernetes then requests the limit.)",
        fix: "Set `resources.requests.memory` to the container's working set.",
        bad: &[
            "apiVersion: v1\nkind: Pod\nmetadata: {name: web}\nspec:\n  containers:\n  - name: app\n    image: app:1.0\n",
        ],
        good: &[
            "apiVersion: v1\nkind: Pod\nmetadata: {name: web}\nspec:\n  containers:\n  - name: app\n    image: app:1.0\n    resources:\n      requests: {memory: 128Mi}\n",
        ],
        k8s: Check::Container {
            kinds: RUNNING_CONTAINERS,
            skip_kinds: &[],
            f: |x| request(x, "memory"),
        },
        compose: None,
    },
    Rule {
        id: "memory-limits-missing",
        checkov: &["CKV_K8S_13"],
        level: Level::Warning,
        title: "A container has no memory limit.",
        why: "A leak or a hostile input then grows until the node runs out of memory and the kernel kills other pods' processes.",
        fix: "Set `resources.limits.memory`.",
        bad: &[
            "apiVersion: v1\nkind: Pod\nmetadata: {name: web}\nspec:\n  containers:\n  - name: app\n    image: app:1.0\n    resources:\n      limits: {cpu: 500m}\n",
        ],
        good: &[
            "apiVersion: v1\nkind: Pod\nmetadata: {name: web}\nspec:\n  containers:\n  - name: app\n    image: app:1.0\n    resources:\n      limits: {memory: 256Mi}\n",
        ],
        k8s: Check::Container {
            kinds: RUNNING_CONTAINERS,
            skip_kinds: &[],
            f: |x| limit(x, "memory"),
        },
        compose: None,
    },
    Rule {
        id: "liveness-probe-missing",
        checkov: &["CKV_K8S_8"],
        level: Level::Warning,
        title: "A long-running container has no liveness probe.",
        why: "A process that hangs without exiting is never restarted. (Jobs and CronJobs run to completion and are not checked; neither are init and ephemeral containers.)",
        fix: "Add a `livenessProbe` that fails only when the process cannot recover by itself.",
        bad: &[
            "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web}\nspec:\n  template:\n    spec:\n      containers:\n      - name: app\n        image: app:1.0\n",
        ],
        good: &[
            "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web}\nspec:\n  template:\n    spec:\n      containers:\n      - name: app\n        image: app:1.0\n        livenessProbe:\n          httpGet: {path: /healthz, port: 8080}\n",
            "apiVersion: batch/v1\nkind: Job\nmetadata: {name: migrate}\nspec:\n  template:\n    spec:\n      containers:\n      - name: migrate\n        image: app:1.0\n",
        ],
        k8s: Check::Container {
            kinds: &[ContainerKind::Container],
            skip_kinds: BATCH,
            f: |x| probe(x, "livenessProbe"),
        },
        compose: None,
    },
    Rule {
        id: "readiness-probe-missing",
        checkov: &["CKV_K8S_9"],
        level: Level::Warning,
        title: "A long-running container has no readiness probe.",
        why: "Without one, a pod receives traffic as soon as its process starts, before it can answer, and keeps receiving it while it cannot; rollouts proceed over replicas that are not serving. (Jobs and CronJobs are not checked.)",
        fix: "Add a `readinessProbe` that succeeds when the container can serve requests.",
        bad: &[
            "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web}\nspec:\n  template:\n    spec:\n      containers:\n      - name: app\n        image: app:1.0\n",
        ],
        good: &[
            "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web}\nspec:\n  template:\n    spec:\n      containers:\n      - name: app\n        image: app:1.0\n        readinessProbe:\n          tcpSocket: {port: 8080}\n",
        ],
        k8s: Check::Container {
            kinds: &[ContainerKind::Container],
            skip_kinds: BATCH,
            f: |x| probe(x, "readinessProbe"),
        },
        compose: None,
    },
    Rule {
        id: "pod-disruption-budget-missing",
        checkov: &[],
        level: Level::Warning,
        title: "A Deployment or StatefulSet with several replicas has no PodDisruptionBudget.",
        why: "Node drains (upgrades, autoscaler scale-downs) may then evict every replica at once: the service goes down during routine maintenance although it runs several copies.",
        fix: "Add a `PodDisruptionBudget` in the same namespace whose selector matches the pod template's labels, with `maxUnavailable: 1` (or a `minAvailable`). The budget is looked for among all the files linted together.",
        bad: &[
            "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web, namespace: shop}\nspec:\n  replicas: 3\n  selector:\n    matchLabels: {app: web}\n  template:\n    metadata:\n      labels: {app: web}\n    spec:\n      containers:\n      - name: app\n        image: app:1.0\n",
        ],
        good: &[
            "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web, namespace: shop}\nspec:\n  replicas: 3\n  selector:\n    matchLabels: {app: web}\n  template:\n    metadata:\n      labels: {app: web, tier: front}\n    spec:\n      containers:\n      - name: app\n        image: app:1.0\n---\napiVersion: policy/v1\nkind: PodDisruptionBudget\nmetadata: {name: web, namespace: shop}\nspec:\n  maxUnavailable: 1\n  selector:\n    matchLabels: {app: web}\n",
        ],
        k8s: Check::Cross(|obj, all| {
            if !matches!(obj.kind, "Deployment" | "StatefulSet") {
                return None;
            }
            let replicas = obj.replicas().filter(|r| *r >= 2)?;
            let labels = obj.pod()?.labels();
            let covered = all.iter().any(|o| {
                o.kind == "PodDisruptionBudget"
                    && o.namespace == obj.namespace
                    && o.node
                        .at(&["spec", "selector"])
                        .is_some_and(|s| selects(s, &labels))
            });
            (!covered).then(|| {
                (
                    obj.node
                        .at(&["spec"])
                        .map_or(obj.node.pos, |s| key_pos(s, "replicas")),
                    format!("{replicas} replicas and no PodDisruptionBudget selects its pods"),
                )
            })
        }),
        compose: None,
    },
    Rule {
        id: "pod-anti-affinity-missing",
        checkov: &[],
        level: Level::Warning,
        title: "A Deployment or StatefulSet with 3 or more replicas does not spread them across nodes.",
        why: "The scheduler may put every replica on one node (or zone); losing it loses the service although it runs several copies.",
        fix: "Add `topologySpreadConstraints` (topologyKey `kubernetes.io/hostname` or `topology.kubernetes.io/zone`) or a `podAntiAffinity` rule to the pod template.",
        bad: &[
            "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web}\nspec:\n  replicas: 3\n  template:\n    metadata:\n      labels: {app: web}\n    spec:\n      containers:\n      - name: app\n        image: app:1.0\n",
        ],
        good: &[
            "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web}\nspec:\n  replicas: 3\n  template:\n    metadata:\n      labels: {app: web}\n    spec:\n      topologySpreadConstraints:\n      - maxSkew: 1\n        topologyKey: kubernetes.io/hostname\n        whenUnsatisfiable: ScheduleAnyway\n        labelSelector:\n          matchLabels: {app: web}\n      containers:\n      - name: app\n        image: app:1.0\n",
            "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web}\nspec:\n  replicas: 2\n  template:\n    spec:\n      containers:\n      - name: app\n        image: app:1.0\n",
        ],
        k8s: Check::Object(|obj, _| {
            if !matches!(obj.kind, "Deployment" | "StatefulSet") {
                return None;
            }
            let replicas = obj.replicas().filter(|r| *r >= 3)?;
            let pod = obj.pod()?;
            let spread = pod.spec.at(&["affinity", "podAntiAffinity"]).is_some()
                || !pod
                    .spec
                    .get("topologySpreadConstraints")
                    .map(Node::items)
                    .unwrap_or_default()
                    .is_empty();
            (!spread).then(|| {
                (
                    obj.node.at(&["spec"]).map_or(obj.node.pos, |s| key_pos(s, "replicas")),
                    format!("{replicas} replicas without `podAntiAffinity` or `topologySpreadConstraints`"),
                )
            })
        }),
        compose: None,
    },
];

fn resource<'a>(x: &Ctr<'a>, section: &str, what: &str) -> Option<&'a Node> {
    x.c.node.at(&["resources", section, what])
}

fn request(x: &Ctr, what: &str) -> Found {
    if resource(x, "requests", what).is_some() || resource(x, "limits", what).is_some() {
        return None;
    }
    Some((
        key_pos(x.c.node, "resources"),
        format!("`resources.requests.{what}` is not set"),
    ))
}

fn limit(x: &Ctr, what: &str) -> Found {
    if resource(x, "limits", what).is_some() {
        return None;
    }
    Some((
        key_pos(x.c.node, "resources"),
        format!("`resources.limits.{what}` is not set"),
    ))
}

fn probe(x: &Ctr, key: &str) -> Found {
    let has = x.c.node.get(key).is_some_and(|p| !p.entries().is_empty());
    (!has).then(|| (x.c.node.pos, format!("no `{key}`")))
}

/// A label selector (`matchLabels`, `matchExpressions`) selects a pod with `labels`.
/// An empty selector selects every pod; an operator we do not know counts as matching,
/// so an unusual budget never causes a false report.
pub fn selects(selector: &Node, labels: &[(&str, &str)]) -> bool {
    let get = |k: &str| labels.iter().rev().find(|(l, _)| *l == k).map(|(_, v)| *v);
    let ok_labels = selector
        .get("matchLabels")
        .map(|m| {
            m.unique_entries()
                .into_iter()
                .all(|e| get(&e.key) == e.value.str())
        })
        .unwrap_or(true);
    let exprs = selector
        .get("matchExpressions")
        .map(Node::items)
        .unwrap_or_default();
    let ok_exprs = exprs.iter().all(|e| {
        let key = e.get("key").and_then(Node::str).unwrap_or("");
        let values: Vec<&str> = e
            .get("values")
            .map(|v| v.items().iter().filter_map(Node::str).collect())
            .unwrap_or_default();
        match e.get("operator").and_then(Node::str) {
            Some("In") => get(key).is_some_and(|v| values.contains(&v)),
            Some("NotIn") => get(key).is_none_or(|v| !values.contains(&v)),
            Some("Exists") => get(key).is_some(),
            Some("DoesNotExist") => get(key).is_none(),
            _ => true,
        }
    });
    ok_labels && ok_exprs
}

#[cfg(test)]
mod unit {
    use super::*;
    use crate::yaml::parse;

    #[test]
    fn selectors() {
        let p = parse(
            "matchLabels: {app: web}\nmatchExpressions:\n- {key: tier, operator: In, values: [front, back]}\n",
        );
        let s = &p.documents[0].root;
        assert!(selects(s, &[("app", "web"), ("tier", "front")]));
        assert!(!selects(s, &[("app", "web"), ("tier", "db")]));
        assert!(!selects(s, &[("app", "api"), ("tier", "front")]));
    }
}
