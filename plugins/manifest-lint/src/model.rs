//! What a YAML document is, for the rules: Kubernetes objects (a `List`'s items
//! included), the pod spec and containers of every pod-bearing kind, and Compose
//! services.
//!
//! - A document whose root has a string `apiVersion` and `kind` is a Kubernetes
//!   object; `kind: List` (or any `…List` with `items`) contributes each item instead,
//!   recursively. Helm-rendered (`helm template`) and kustomize (`kustomize build`)
//!   output are such streams.
//! - A document without `apiVersion`/`kind` whose `services` is a mapping of mappings
//!   is a Compose file (any file name: detection is by content).
//! - Anything else (Helm `values.yaml`, CI configs, OpenAPI…) is not linted.
//!
//! Pod-bearing kinds and where their pod spec is: `Pod` (`spec`), `PodTemplate`
//! (`template.spec`), `Deployment`, `StatefulSet`, `DaemonSet`, `ReplicaSet`,
//! `ReplicationController`, `Job`, OpenShift's `DeploymentConfig` and Argo's
//! `Rollout` (`spec.template.spec`), `CronJob` (`spec.jobTemplate.spec.template.spec`).
//! Containers are `containers`, `initContainers` and `ephemeralContainers`.
//!
//! Tests: `src/rules/tests.rs` (through the rules) and the bottom of this file.

use crate::yaml::{Document, Node, Pos};

/// Which list of the pod spec a container is in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ContainerKind {
    Container,
    Init,
    Ephemeral,
}

impl ContainerKind {
    pub fn key(self) -> &'static str {
        match self {
            ContainerKind::Container => "containers",
            ContainerKind::Init => "initContainers",
            ContainerKind::Ephemeral => "ephemeralContainers",
        }
    }

    pub fn noun(self) -> &'static str {
        match self {
            ContainerKind::Container => "container",
            ContainerKind::Init => "init container",
            ContainerKind::Ephemeral => "ephemeral container",
        }
    }
}

/// A Kubernetes object found in a file.
#[derive(Debug)]
pub struct Object<'a> {
    /// Index of the file in the lint run.
    pub file: usize,
    pub doc: usize,
    pub kind: &'a str,
    pub api_version: &'a str,
    pub name: &'a str,
    /// `metadata.namespace` as written.
    pub namespace: Option<&'a str>,
    pub node: &'a Node,
}

impl<'a> Object<'a> {
    pub fn metadata(&self) -> Option<&'a Node> {
        self.node.get("metadata")
    }

    /// `Kind/name` for messages.
    pub fn display(&self) -> String {
        if self.name.is_empty() {
            self.kind.to_string()
        } else {
            format!("{}/{}", self.kind, self.name)
        }
    }

    /// The pod this object runs, if it is a pod-bearing kind.
    pub fn pod(&self) -> Option<Pod<'a>> {
        let (template, spec): (Option<&Node>, Option<&Node>) = match self.kind {
            "Pod" => (None, self.node.get("spec")),
            "PodTemplate" => {
                let t = self.node.get("template");
                (t, t.and_then(|t| t.get("spec")))
            }
            "Deployment"
            | "StatefulSet"
            | "DaemonSet"
            | "ReplicaSet"
            | "ReplicationController"
            | "Job"
            | "DeploymentConfig" => {
                let t = self.node.at(&["spec", "template"]);
                (t, t.and_then(|t| t.get("spec")))
            }
            // Argo Rollouts' Deployment replacement.
            "Rollout" if self.api_version.starts_with("argoproj.io/") => {
                let t = self.node.at(&["spec", "template"]);
                (t, t.and_then(|t| t.get("spec")))
            }
            "CronJob" => {
                let t = self.node.at(&["spec", "jobTemplate", "spec", "template"]);
                (t, t.and_then(|t| t.get("spec")))
            }
            _ => return None,
        };
        let spec = spec.filter(|s| s.is_map())?;
        let meta = match template {
            Some(t) => t.get("metadata"),
            None => self.metadata(),
        };
        Some(Pod { spec, meta })
    }

    /// `spec.replicas` when written as a number (absent: `None`, which means 1).
    pub fn replicas(&self) -> Option<i64> {
        self.node.at(&["spec", "replicas"]).and_then(Node::int)
    }
}

/// A pod spec and the metadata of its template.
#[derive(Debug, Clone, Copy)]
pub struct Pod<'a> {
    pub spec: &'a Node,
    pub meta: Option<&'a Node>,
}

impl<'a> Pod<'a> {
    pub fn containers(&self) -> Vec<Container<'a>> {
        let mut out = Vec::new();
        for kind in [
            ContainerKind::Init,
            ContainerKind::Container,
            ContainerKind::Ephemeral,
        ] {
            if let Some(list) = self.spec.get(kind.key()) {
                for c in list.items().iter().filter(|c| c.is_map()) {
                    out.push(Container {
                        node: c,
                        kind,
                        name: c.get("name").and_then(Node::str).unwrap_or("").to_string(),
                    });
                }
            }
        }
        out
    }

    /// `spec.securityContext.<key>`.
    pub fn security(&self, key: &str) -> Option<&'a Node> {
        self.spec.at(&["securityContext", key])
    }

    /// The pod template's labels.
    pub fn labels(&self) -> Vec<(&'a str, &'a str)> {
        self.meta
            .and_then(|m| m.get("labels"))
            .map(|l| {
                l.unique_entries()
                    .into_iter()
                    .filter_map(|e| Some((e.key.as_str(), e.value.str()?)))
                    .collect()
            })
            .unwrap_or_default()
    }

    pub fn annotation(&self, key: &str) -> Option<&'a str> {
        self.meta?.at(&["annotations", key])?.str()
    }
}

#[derive(Debug, Clone)]
pub struct Container<'a> {
    pub node: &'a Node,
    pub kind: ContainerKind,
    pub name: String,
}

impl<'a> Container<'a> {
    /// `securityContext.<key>` of the container itself.
    pub fn security(&self, key: &str) -> Option<&'a Node> {
        self.node.at(&["securityContext", key])
    }

    pub fn display(&self) -> String {
        format!("{} `{}`", self.kind.noun(), self.name)
    }
}

/// A Compose service.
#[derive(Debug)]
pub struct Service<'a> {
    pub file: usize,
    pub doc: usize,
    pub name: &'a str,
    pub name_pos: Pos,
    pub node: &'a Node,
}

/// Everything lintable in one document.
pub enum Found<'a> {
    Objects(Vec<Object<'a>>),
    Compose(Vec<Service<'a>>),
    Nothing,
}

/// Kinds that are `…List` wrappers; `items` holds the objects.
fn is_list(kind: &str, node: &Node) -> bool {
    kind.ends_with("List") && node.get("items").is_some_and(|i| !i.items().is_empty())
}

fn collect<'a>(file: usize, doc: usize, node: &'a Node, depth: usize, out: &mut Vec<Object<'a>>) {
    let (Some(kind), Some(api_version)) = (
        node.get("kind").and_then(Node::str),
        node.get("apiVersion").and_then(Node::str),
    ) else {
        return;
    };
    if is_list(kind, node) {
        if depth < 8 {
            for item in node.get("items").map(Node::items).unwrap_or_default() {
                collect(file, doc, item, depth + 1, out);
            }
        }
        return;
    }
    let meta = node.get("metadata");
    out.push(Object {
        file,
        doc,
        kind,
        api_version,
        name: meta
            .and_then(|m| m.get("name").or_else(|| m.get("generateName")))
            .and_then(Node::str)
            .unwrap_or(""),
        namespace: meta.and_then(|m| m.get("namespace")).and_then(Node::str),
        node,
    });
}

/// What document `doc` of file `file` holds.
pub fn find(file: usize, doc: &Document) -> Found<'_> {
    let root = &doc.root;
    if root.get("apiVersion").is_some() || root.get("kind").is_some() {
        let mut out = Vec::new();
        collect(file, doc.index, root, 0, &mut out);
        return if out.is_empty() {
            Found::Nothing
        } else {
            Found::Objects(out)
        };
    }
    if let Some(services) = root.get("services").filter(|s| s.is_map()) {
        let entries = services.unique_entries();
        if !entries.is_empty() && entries.iter().all(|e| e.value.is_map()) {
            return Found::Compose(
                entries
                    .into_iter()
                    .map(|e| Service {
                        file,
                        doc: doc.index,
                        name: e.key.as_str(),
                        name_pos: e.key_pos,
                        node: &e.value,
                    })
                    .collect(),
            );
        }
    }
    Found::Nothing
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::yaml::parse;

    #[test]
    fn lists_pods_and_compose_are_found() {
        let p = parse(
            "apiVersion: v1\nkind: List\nitems:\n- apiVersion: batch/v1\n  kind: CronJob\n  metadata: {name: c, namespace: ci}\n  spec:\n    jobTemplate:\n      spec:\n        template:\n          spec:\n            initContainers: [{name: i, image: a}]\n            containers: [{name: m, image: b}]\n---\nservices:\n  web: {image: nginx}\n---\nreplicaCount: 3\n",
        );
        let Found::Objects(objs) = find(0, &p.documents[0]) else {
            panic!("objects")
        };
        assert_eq!(objs.len(), 1);
        assert_eq!(
            (objs[0].kind, objs[0].name, objs[0].namespace),
            ("CronJob", "c", Some("ci"))
        );
        let names: Vec<String> = objs[0]
            .pod()
            .expect("pod")
            .containers()
            .into_iter()
            .map(|c| c.display())
            .collect();
        assert_eq!(names, ["init container `i`", "container `m`"]);
        assert!(matches!(find(0, &p.documents[1]), Found::Compose(s) if s[0].name == "web"));
        assert!(matches!(find(0, &p.documents[2]), Found::Nothing));
    }
}
