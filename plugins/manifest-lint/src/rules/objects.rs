//! Object rules: namespaces, Services, RBAC, ServiceAccounts, and the two rules the
//! engine checks itself (YAML syntax, repeated keys).

use super::{Check, Level, Rule, key_pos, strings};
use crate::model::Object;
use crate::yaml::Node;

/// Namespaced kinds checked for a missing namespace with `require-namespace` (the
/// core kinds: a custom resource may be cluster-scoped, which a file cannot tell).
const NAMESPACED: &[&str] = &[
    "Pod",
    "PodTemplate",
    "Deployment",
    "DaemonSet",
    "StatefulSet",
    "ReplicaSet",
    "ReplicationController",
    "Job",
    "CronJob",
    "Service",
    "Secret",
    "ServiceAccount",
    "Role",
    "RoleBinding",
    "ConfigMap",
    "Ingress",
    "PersistentVolumeClaim",
    "PodDisruptionBudget",
    "HorizontalPodAutoscaler",
    "NetworkPolicy",
];

pub static RULES: &[Rule] = &[
    Rule {
        id: "default-namespace",
        checkov: &["CKV_K8S_21"],
        level: Level::Warning,
        title: "An object is placed in the `default` namespace.",
        why: "`default` is where everything lands by accident: policies, quotas and RBAC are written for dedicated namespaces, and workloads sharing `default` can reach each other's secrets through shared service accounts. By default only an explicit `namespace: default` is reported, since kustomize and `kubectl -n` usually choose the namespace at apply time; `require-namespace = true` also reports namespaced objects without one.",
        fix: "Set `metadata.namespace` to the application's own namespace (or let kustomize's `namespace:` set it).",
        bad: &[
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: settings\n  namespace: default\n",
        ],
        good: &[
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: settings\n  namespace: shop\n",
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: settings\n",
        ],
        k8s: Check::Object(|obj, opts| {
            let meta = obj.metadata()?;
            match obj.namespace {
                Some("default") => Some((
                    key_pos(meta, "namespace"),
                    "`metadata.namespace` is `default`".to_string(),
                )),
                Some(_) => None,
                None if opts.require_namespace && NAMESPACED.contains(&obj.kind) => {
                    // What Kubernetes itself keeps in `default`.
                    let builtin = (obj.kind == "ServiceAccount" && obj.name == "default")
                        || (obj.kind == "Service" && obj.name == "kubernetes");
                    (!builtin).then(|| (meta.pos, "`metadata.namespace` is not set, so it is applied to `default` unless the command says otherwise".to_string()))
                }
                None => None,
            }
        }),
        compose: None,
    },
    Rule {
        id: "service-type-load-balancer",
        checkov: &[],
        level: Level::Warning,
        title: "A Service of type `LoadBalancer` exposes its pods outside the cluster.",
        why: "A cloud load balancer gets a public address by default, bypassing the Ingress (TLS, authentication, rate limits) and most NetworkPolicies; it also costs money per Service.",
        fix: "Use `ClusterIP` behind an Ingress or Gateway; if a LoadBalancer is intended, restrict it (`loadBalancerSourceRanges`, an internal-LB annotation) and suppress this finding with the reason.",
        bad: &[
            "apiVersion: v1\nkind: Service\nmetadata: {name: web}\nspec:\n  type: LoadBalancer\n  ports: [{port: 80}]\n",
        ],
        good: &[
            "apiVersion: v1\nkind: Service\nmetadata: {name: web}\nspec:\n  ports: [{port: 80}]\n",
        ],
        k8s: Check::Object(|obj, _| service_type(obj, "LoadBalancer")),
        compose: None,
    },
    Rule {
        id: "service-type-node-port",
        checkov: &[],
        level: Level::Warning,
        title: "A Service of type `NodePort` opens a port on every node.",
        why: "A NodePort listens on every node's address (a high port, the same on all nodes), outside the Ingress and usually outside the firewall rules written for it.",
        fix: "Use `ClusterIP` behind an Ingress or Gateway.",
        bad: &[
            "apiVersion: v1\nkind: Service\nmetadata: {name: web}\nspec:\n  type: NodePort\n  ports: [{port: 80, nodePort: 30080}]\n",
        ],
        good: &[
            "apiVersion: v1\nkind: Service\nmetadata: {name: web}\nspec:\n  type: ClusterIP\n  ports: [{port: 80}]\n",
        ],
        k8s: Check::Object(|obj, _| service_type(obj, "NodePort")),
        compose: None,
    },
    Rule {
        id: "default-service-account-token",
        checkov: &["CKV_K8S_41"],
        level: Level::Note,
        title: "The namespace's `default` ServiceAccount mounts its token into pods.",
        why: "Every pod that names no service account runs as `default`; unless `default` turns token mounting off, each of them carries an API token.",
        fix: "Declare the `default` ServiceAccount with `automountServiceAccountToken: false`, and give pods that need the API their own account.",
        bad: &[
            "apiVersion: v1\nkind: ServiceAccount\nmetadata: {name: default, namespace: shop}\n",
        ],
        good: &[
            "apiVersion: v1\nkind: ServiceAccount\nmetadata: {name: default, namespace: shop}\nautomountServiceAccountToken: false\n",
        ],
        k8s: Check::Object(|obj, _| {
            if obj.kind != "ServiceAccount" || obj.name != "default" {
                return None;
            }
            match obj.node.get("automountServiceAccountToken") {
                Some(v) if v.bool() == Some(false) => None,
                Some(v) => Some((
                    v.pos,
                    "`automountServiceAccountToken` is not false".to_string(),
                )),
                None => Some((
                    obj.node.pos,
                    "`automountServiceAccountToken` is not set (it defaults to true)".to_string(),
                )),
            }
        }),
        compose: None,
    },
    Rule {
        id: "rbac-wildcard",
        checkov: &["CKV_K8S_49"],
        level: Level::Warning,
        title: "A Role or ClusterRole grants `*` (all verbs, resources or API groups).",
        why: "A wildcard grants what exists now and everything added later (new resources, CRDs, subresources such as `pods/exec`): the role's reach cannot be reviewed.",
        fix: "List the verbs, resources and API groups the subject needs.",
        bad: &[
            "apiVersion: rbac.authorization.k8s.io/v1\nkind: Role\nmetadata: {name: deployer, namespace: shop}\nrules:\n- apiGroups: [apps]\n  resources: ['*']\n  verbs: [get, list]\n",
        ],
        good: &[
            "apiVersion: rbac.authorization.k8s.io/v1\nkind: Role\nmetadata: {name: deployer, namespace: shop}\nrules:\n- apiGroups: [apps]\n  resources: [deployments]\n  verbs: [get, list, patch]\n",
        ],
        k8s: Check::Object(|obj, _| {
            if !matches!(obj.kind, "Role" | "ClusterRole") {
                return None;
            }
            obj.node.get("rules")?.items().iter().find_map(|r| {
                ["verbs", "resources", "apiGroups"].iter().find_map(|k| {
                    strings(r.get(k))
                        .contains(&"*")
                        .then(|| (key_pos(r, k), format!("`{k}` contains `*`")))
                })
            })
        }),
        compose: None,
    },
    Rule {
        id: "duplicate-key",
        checkov: &[],
        level: Level::Error,
        title: "A mapping sets the same key twice.",
        why: "Tools disagree on which occurrence wins (Kubernetes' decoder keeps the last; others keep the first or refuse the file), so a reviewer, a linter and the cluster can each read a different value: `privileged: false` above `privileged: true` hides the second. gantry's rules read the last, as the cluster does.",
        fix: "Delete one of the two keys.",
        bad: &[
            "apiVersion: v1\nkind: Pod\nmetadata: {name: web}\nspec:\n  containers:\n  - name: app\n    image: app:1.0\n    securityContext:\n      privileged: false\n      privileged: true\n",
        ],
        good: &[
            "apiVersion: v1\nkind: Pod\nmetadata: {name: web}\nspec:\n  containers:\n  - name: app\n    image: app:1.0\n    securityContext:\n      privileged: false\n",
        ],
        k8s: Check::Engine,
        compose: None,
    },
    Rule {
        id: "invalid-yaml",
        checkov: &[],
        level: Level::Error,
        title: "The file is not valid YAML.",
        why: "`kubectl apply` refuses it, and no other rule can check what follows the error. (Helm templates, and files that contain `{{`, are skipped, not reported: lint the output of `helm template` instead.)",
        fix: "Fix the syntax at the reported line and column.",
        bad: &["apiVersion: v1\nkind: ConfigMap\nmetadata: {name: settings\n"],
        good: &["apiVersion: v1\nkind: ConfigMap\nmetadata: {name: settings}\n"],
        k8s: Check::Engine,
        compose: None,
    },
];

fn service_type(obj: &Object, what: &str) -> super::Found {
    if obj.kind != "Service" {
        return None;
    }
    let spec = obj.node.get("spec")?;
    let t = spec.get("type").and_then(Node::str)?;
    (t == what).then(|| (key_pos(spec, "type"), format!("`spec.type` is {what}")))
}
