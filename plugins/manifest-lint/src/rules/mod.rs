//! The rules: one [`Rule`] value per rule, holding its id, checkov aliases, level,
//! documentation, the examples that are its test, and its check.
//!
//! A rule is written once, in one place: its entry in `security.rs`, `images.rs`,
//! `workloads.rs` or `objects.rs`. `RULES.md` is generated from these entries
//! (`doc.rs`; a test fails when the committed file differs, and
//! `MANIFEST_LINT_BLESS=1 cargo test -p manifest-lint` rewrites it), and
//! `tests.rs` lints every rule's `bad` examples (each must report the rule) and `good`
//! examples (none may).
//!
//! Checks run at one of five scopes ([`Check`]): each container of each pod-bearing
//! object, each pod, each object, each object against all others (a
//! PodDisruptionBudget for a Deployment), or each Compose service. A check returns
//! where the problem is (the offending key, or where the missing key belongs) and
//! what it is; the engine in `crate::lint` adds the object and container to the
//! message, the suppressions and the fingerprint.

mod doc;
mod images;
mod objects;
mod security;
#[cfg(test)]
mod tests;
mod workloads;

pub use doc::markdown;

use crate::model::{Container, ContainerKind, Object, Pod, Service};
use crate::yaml::{Node, Pos};

/// How serious a finding is (SARIF's levels).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    Note,
    Warning,
    Error,
}

impl Level {
    pub fn name(self) -> &'static str {
        match self {
            Level::Note => "note",
            Level::Warning => "warning",
            Level::Error => "error",
        }
    }
}

/// Options from the stage config that rules read.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// `default-namespace` also reports namespaced objects without `metadata.namespace`.
    pub require_namespace: bool,
}

/// One container of one pod-bearing object.
pub struct Ctr<'a> {
    pub obj: &'a Object<'a>,
    pub pod: Pod<'a>,
    pub c: &'a Container<'a>,
}

impl<'a> Ctr<'a> {
    /// A pod-level security setting as the container sees it: its own, else the pod's.
    pub fn effective(&self, key: &str) -> Option<&'a Node> {
        self.c.security(key).or_else(|| self.pod.security(key))
    }

    /// Where a missing `securityContext` key belongs: the container's
    /// `securityContext` if it has one, else the container.
    pub fn sc_pos(&self) -> Pos {
        key_pos(self.c.node, "securityContext")
    }
}

/// One pod-bearing object.
pub struct PodCx<'a> {
    pub obj: &'a Object<'a>,
    pub pod: Pod<'a>,
}

impl PodCx<'_> {
    /// The pod spec's position (where a missing pod-level key belongs).
    pub fn pos(&self) -> Pos {
        self.pod.spec.pos
    }
}

/// A problem found by a check: where, and what (the engine prefixes the object and
/// container).
pub type Found = Option<(Pos, String)>;

/// What a rule looks at.
#[derive(Clone, Copy)]
pub enum Check {
    /// Each container of the given kinds, in pod-bearing objects not of `skip_kinds`.
    Container {
        kinds: &'static [ContainerKind],
        skip_kinds: &'static [&'static str],
        f: fn(&Ctr) -> Found,
    },
    /// Each pod-bearing object.
    Pod(fn(&PodCx) -> Found),
    /// Each object.
    Object(fn(&Object, &Options) -> Found),
    /// Each object, with every object of the run (cross-object rules).
    Cross(fn(&Object, &[Object]) -> Found),
    /// Checked by the engine itself (YAML syntax, repeated keys).
    Engine,
    /// Not checked on Kubernetes objects.
    None,
}

/// Every container list.
pub const ALL_CONTAINERS: &[ContainerKind] = &[
    ContainerKind::Container,
    ContainerKind::Init,
    ContainerKind::Ephemeral,
];
/// Containers that may set resources and ports (ephemeral containers may not).
pub const RUNNING_CONTAINERS: &[ContainerKind] = &[ContainerKind::Container, ContainerKind::Init];

/// A rule: what it is, why it matters, how to fix it, its examples (its test) and its
/// check.
pub struct Rule {
    /// gantry's id (SARIF `ruleId`), kebab-case.
    pub id: &'static str,
    /// checkov's ids for the same check: accepted wherever an id is (the `ignore`
    /// list, comments, `checkov.io/skip` annotations).
    pub checkov: &'static [&'static str],
    pub level: Level,
    /// One line: what is wrong.
    pub title: &'static str,
    /// Why it matters.
    pub why: &'static str,
    /// How to fix it.
    pub fix: &'static str,
    /// Documents that must report this rule (shown in RULES.md).
    pub bad: &'static [&'static str],
    /// Documents that must not.
    pub good: &'static [&'static str],
    pub k8s: Check,
    /// The check on a Compose service, if the rule applies to Compose files.
    pub compose: Option<fn(&Service) -> Found>,
}

/// Every rule, in the order of RULES.md.
pub fn all() -> impl Iterator<Item = &'static Rule> {
    security::RULES
        .iter()
        .chain(images::RULES)
        .chain(workloads::RULES)
        .chain(objects::RULES)
}

/// The rule with id `id`, or with `id` among its checkov aliases.
pub fn find(id: &str) -> Option<&'static Rule> {
    all().find(|r| r.id == id || r.checkov.contains(&id))
}

/// A checkov id (`CKV_K8S_21`, `CKV2_K8S_6`) — accepted even when no rule has it, so
/// a checkov configuration ports over.
pub fn is_checkov_id(id: &str) -> bool {
    let rest = id.strip_prefix("CKV_").or_else(|| id.strip_prefix("CKV2_"));
    rest.and_then(|r| r.split_once('_')).is_some_and(|(fw, n)| {
        !fw.is_empty() && !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit())
    })
}

// Helpers shared by the rule files.

/// Where key `key` of `node` is written, or the node itself when it is absent.
pub fn key_pos(node: &Node, key: &str) -> Pos {
    node.entry(key).map_or(node.pos, |e| e.key_pos)
}

/// The position of the key at the end of `path` under `node`, if it is there.
pub fn path_pos(node: &Node, path: &[&str]) -> Option<Pos> {
    let (last, parents) = path.split_last()?;
    let parent = if parents.is_empty() {
        node
    } else {
        node.at(parents)?
    };
    parent.entry(last).map(|e| e.key_pos)
}

/// The strings of a sequence (others skipped).
pub fn strings(node: Option<&Node>) -> Vec<&str> {
    node.map(|n| n.items().iter().filter_map(Node::str).collect())
        .unwrap_or_default()
}

/// A Linux capability as the runtime reads it: upper case, without `CAP_`.
pub fn capability(c: &str) -> String {
    let up = c.trim().to_ascii_uppercase();
    up.strip_prefix("CAP_").map(str::to_string).unwrap_or(up)
}
