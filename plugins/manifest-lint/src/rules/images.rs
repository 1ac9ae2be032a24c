//! Image rules: tags, digests, pull policy.

use super::{ALL_CONTAINERS, Check, Ctr, Found, Level, Rule, key_pos};
use crate::yaml::Node;

pub static RULES: &[Rule] = &[
    Rule {
        id: "image-tag-latest",
        checkov: &["CKV_K8S_14"],
        level: Level::Warning,
        title: "An image is untagged or tagged `latest`.",
        why: "`latest` (what no tag means) moves: the same manifest runs different code on different nodes and days, and a rollback cannot name what ran before.",
        fix: "Name a release tag (`nginx:1.27.2`), or better a digest (`nginx@sha256:…`).",
        bad: &[
            "apiVersion: v1\nkind: Pod\nmetadata: {name: web}\nspec:\n  containers:\n  - name: app\n    image: nginx\n",
            "services:\n  app:\n    image: registry.example:5000/team/app:latest\n",
        ],
        good: &[
            "apiVersion: v1\nkind: Pod\nmetadata: {name: web}\nspec:\n  containers:\n  - name: app\n    image: registry.example:5000/nginx:1.27.2\n",
            "services:\n  app:\n    build: .\n",
        ],
        k8s: Check::Container {
            kinds: ALL_CONTAINERS,
            skip_kinds: &[],
            f: |x| latest(x.c.node),
        },
        compose: Some(|s| latest(s.node)),
    },
    Rule {
        id: "image-not-pinned-by-digest",
        checkov: &["CKV_K8S_43"],
        level: Level::Note,
        title: "An image is not pinned by digest.",
        why: "A tag can be pushed again, by the publisher or by whoever gets their credentials; only a digest names the exact bytes that were reviewed and scanned.",
        fix: "Reference the image as `name@sha256:<digest>` (`name:tag@sha256:<digest>` keeps the tag readable); let a bot such as Renovate update digests.",
        bad: &[
            "apiVersion: v1\nkind: Pod\nmetadata: {name: web}\nspec:\n  containers:\n  - name: app\n    image: nginx:1.27.2\n",
            "services:\n  app:\n    image: nginx:1.27.2\n",
        ],
        good: &[
            "apiVersion: v1\nkind: Pod\nmetadata: {name: web}\nspec:\n  containers:\n  - name: app\n    image: nginx:1.27.2@sha256:0f8e1b2f6f0d57c2a8ba9f6cb4c2b7b2a5d6c1e3f4a5b6c7d8e9f0a1b2c3d4e5\n",
        ],
        k8s: Check::Container {
            kinds: ALL_CONTAINERS,
            skip_kinds: &[],
            f: |x| unpinned(x.c.node),
        },
        compose: Some(|s| unpinned(s.node)),
    },
    Rule {
        id: "image-pull-policy-not-always",
        checkov: &["CKV_K8S_15"],
        level: Level::Note,
        title: "A tagged image is not pulled `Always`.",
        why: "With `IfNotPresent` (the default for a tag other than `latest`) a node keeps running whatever image it cached under that tag, and the registry's access checks (`imagePullSecrets`) are skipped for pods that reuse it.",
        fix: "Pin the image by digest (the pull policy then does not matter), or set `imagePullPolicy: Always`.",
        bad: &[
            "apiVersion: v1\nkind: Pod\nmetadata: {name: web}\nspec:\n  containers:\n  - name: app\n    image: nginx:1.27.2\n",
        ],
        good: &[
            "apiVersion: v1\nkind: Pod\nmetadata: {name: web}\nspec:\n  containers:\n  - name: app\n    image: nginx:1.27.2\n    imagePullPolicy: Always\n",
            "apiVersion: v1\nkind: Pod\nmetadata: {name: web}\nspec:\n  containers:\n  - name: app\n    image: nginx@sha256:0f8e1b2f6f0d57c2a8ba9f6cb4c2b7b2a5d6c1e3f4a5b6c7d8e9f0a1b2c3d4e5\n    imagePullPolicy: IfNotPresent\n",
        ],
        k8s: Check::Container {
            kinds: ALL_CONTAINERS,
            skip_kinds: &[],
            f: |x: &Ctr| {
                let image = x.c.node.get("image")?.str()?;
                let r = parse_image(image);
                if r.digest.is_some() {
                    return None;
                }
                match x.c.node.get("imagePullPolicy").and_then(Node::str) {
                    Some("Always") => None,
                    Some(p) => Some((
                        key_pos(x.c.node, "imagePullPolicy"),
                        format!("`imagePullPolicy` is {p} for `{image}`"),
                    )),
                    // Without a tag or with `latest`, the default is Always.
                    None if r.tag.is_none_or(|t| t == "latest") => None,
                    None => Some((
                        key_pos(x.c.node, "image"),
                        format!("`{image}` is pulled IfNotPresent (the default for a tag)"),
                    )),
                }
            },
        },
        compose: None,
    },
];

/// An image reference's parts (`registry:5000/repo/name:tag@sha256:…`).
#[derive(Debug, PartialEq, Eq)]
pub struct ImageRef<'a> {
    pub name: &'a str,
    pub tag: Option<&'a str>,
    pub digest: Option<&'a str>,
}

pub fn parse_image(image: &str) -> ImageRef<'_> {
    let (rest, digest) = match image.split_once('@') {
        Some((r, d)) => (r, Some(d)),
        None => (image, None),
    };
    // A `:` after the last `/` is a tag; before it, a registry port.
    let last_slash = rest.rfind('/').map_or(0, |i| i + 1);
    match rest[last_slash..].rfind(':') {
        Some(i) => ImageRef {
            name: &rest[..last_slash + i],
            tag: Some(&rest[last_slash + i + 1..]),
            digest,
        },
        None => ImageRef {
            name: rest,
            tag: None,
            digest,
        },
    }
}

/// A digest the runtime checks: `algorithm:hex` of a known length.
fn valid_digest(d: &str) -> bool {
    let Some((alg, hex)) = d.split_once(':') else {
        return false;
    };
    let len = match alg {
        "sha256" => 64,
        "sha384" => 96,
        "sha512" => 128,
        _ => return false,
    };
    hex.len() == len && hex.bytes().all(|b| b.is_ascii_hexdigit())
}

/// Images with template placeholders (`{{ .Values.image }}`, `${IMAGE}`) are not
/// judged: their value is chosen elsewhere.
fn templated(image: &str) -> bool {
    image.contains("{{") || image.contains("${") || image.contains("$(")
}

fn latest(node: &Node) -> Found {
    let image = node.get("image")?.str()?.trim();
    if image.is_empty() || templated(image) {
        return None;
    }
    let r = parse_image(image);
    if r.digest.is_some() {
        return None;
    }
    let what = match r.tag {
        None => "has no tag (so it means `latest`)",
        Some("latest") => "is tagged `latest`",
        Some(_) => return None,
    };
    Some((
        node.entry("image").map_or(node.pos, |e| e.key_pos),
        format!("image `{image}` {what}"),
    ))
}

fn unpinned(node: &Node) -> Found {
    let image = node.get("image")?.str()?.trim();
    if image.is_empty() || templated(image) {
        return None;
    }
    let r = parse_image(image);
    if r.digest.is_some_and(valid_digest) {
        return None;
    }
    Some((
        key_pos(node, "image"),
        format!("image `{image}` is not pinned by digest"),
    ))
}

#[cfg(test)]
mod unit {
    use super::*;

    #[test]
    fn image_references() {
        assert_eq!(
            parse_image("registry.example:5000/team/app:1.2@sha256:ab"),
            ImageRef {
                name: "registry.example:5000/team/app",
                tag: Some("1.2"),
                digest: Some("sha256:ab")
            }
        );
        assert_eq!(parse_image("registry.example:5000/app").tag, None);
        assert_eq!(parse_image("nginx").name, "nginx");
        assert!(valid_digest(&format!("sha256:{}", "a".repeat(64))));
        assert!(!valid_digest("sha256:abc"));
    }
}
