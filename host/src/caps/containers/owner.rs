//! Who owns a Docker object: an ownership tag nobody but this workspace's gantry can
//! produce.
//!
//! Labels are plain text anyone with the Docker socket can set (`docker run -l
//! dev.gantry.pipeline=app`), that a Dockerfile can bake into an image (`LABEL
//! dev.gantry.managed=true`, inherited by every container made from it), and that a
//! second workspace whose pipeline has the same name sets as well. Acting on an object
//! because its labels name this pipeline therefore let a plugin stop, remove, retag or
//! roll back objects it never made. So every object the broker creates carries
//! `dev.gantry.owner = hex(HMAC-SHA256(key, "gantry/docker-owner/v1\0" ‖ pipeline))`,
//! keyed with the workspace's secret ([`crate::run::state::StateDir::owner_key`],
//! outside the workspace, never given to a plugin), and the broker acts only on
//! objects whose tag verifies. The tag itself is never returned to a plugin (it is
//! stripped from every label list the broker hands out), so a plugin cannot copy it
//! onto an object it has the engine make for it.
//!
//! Objects labelled by gantry before this tag existed carry the other labels and no
//! tag: they are no longer owned, and the refusal says so.
//!
//! Tests: unit tests below; `tests/e2e/attack_containers.rs` (hand-labelled
//! containers and another workspace's containers are untouchable).

use std::collections::HashMap;

use hmac::{Hmac, Mac};
use sha2::Sha256;

/// The label holding the ownership tag.
pub const LABEL_OWNER: &str = "dev.gantry.owner";
/// The prefix of every label gantry sets; a plugin can set none of them.
pub const PREFIX: &str = "dev.gantry.";

/// The ownership tag of `pipeline`'s objects under `key` (64 lowercase hex digits).
pub fn tag(key: &[u8; 32], pipeline: &str) -> String {
    // `new_from_slice` accepts keys of any length; a 32-byte key cannot fail.
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(key)
        .unwrap_or_else(|_| unreachable!("HMAC takes keys of any length"));
    mac.update(b"gantry/docker-owner/v1\0");
    mac.update(pipeline.as_bytes());
    hex::encode(mac.finalize().into_bytes())
}

/// What an object's labels say about who owns it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ownership {
    /// The tag verifies: this workspace's gantry made it for this pipeline.
    Ours,
    /// gantry's labels for this pipeline but no tag: made by a gantry from before
    /// ownership tags, or labelled by hand.
    Untagged,
    /// A tag that does not verify (another workspace, or forged), or no gantry labels
    /// for this pipeline at all.
    Foreign,
}

/// Compares without stopping at the first difference, so response times say nothing
/// about how much of a guessed tag was right.
fn same(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

/// Who owns an object with `labels`, for the pipeline whose tag is `expected`.
pub fn ownership(
    labels: Option<&HashMap<String, String>>,
    pipeline_label: &str,
    pipeline: &str,
    expected: &str,
) -> Ownership {
    let Some(labels) = labels else {
        return Ownership::Foreign;
    };
    match labels.get(LABEL_OWNER) {
        Some(t) if same(t, expected) => Ownership::Ours,
        Some(_) => Ownership::Foreign,
        None if labels.get(pipeline_label).is_some_and(|p| p == pipeline) => Ownership::Untagged,
        None => Ownership::Foreign,
    }
}

/// The end of a refusal sentence that starts with "`NAME` …", for a non-owned object.
pub fn why_not_ours(o: Ownership, pipeline: &str, remove_hint: &str) -> String {
    match o {
        Ownership::Untagged => format!(
            "carries gantry's labels for pipeline `{pipeline}` but no ownership tag: it was made by a gantry from before ownership tags (or labelled by hand), and gantry no longer acts on it; if it is yours, remove it yourself (`{remove_hint}`) and let the pipeline create it again"
        ),
        _ => format!(
            "was not created by gantry for pipeline `{pipeline}` in this workspace (its labels do not carry this workspace's ownership tag)"
        ),
    }
}

/// `labels` without the ownership tag: what the plugin may see.
pub fn visible(labels: impl IntoIterator<Item = (String, String)>) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = labels
        .into_iter()
        .filter(|(k, _)| k != LABEL_OWNER)
        .collect();
    out.sort();
    out
}

/// The `dev.gantry.*` labels of an image that the host did not set (key, value): an
/// image carrying any is refused and removed after its build.
pub fn foreign_gantry_labels(
    image: Option<&HashMap<String, String>>,
    ours: &HashMap<String, String>,
) -> Vec<String> {
    let mut out: Vec<String> = image
        .into_iter()
        .flatten()
        .filter(|(k, v)| k.starts_with(PREFIX) && ours.get(*k) != Some(v))
        .map(|(k, _)| k.clone())
        .collect();
    out.sort();
    out
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn labels(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn tags_depend_on_key_and_pipeline_and_verify_only_with_both() {
        let (k1, k2) = ([1u8; 32], [2u8; 32]);
        let t = tag(&k1, "app");
        assert_eq!(t.len(), 64);
        assert_eq!(t, tag(&k1, "app"), "stable");
        assert_ne!(t, tag(&k2, "app"), "another workspace, same pipeline name");
        assert_ne!(t, tag(&k1, "app2"));
        // RFC 4231 test case 2 checks the HMAC itself.
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(b"Jefe").unwrap();
        mac.update(b"what do ya want for nothing?");
        assert_eq!(
            hex::encode(mac.finalize().into_bytes()),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );

        let p = "dev.gantry.pipeline";
        let ours = labels(&[(p, "app"), (LABEL_OWNER, &t)]);
        assert_eq!(ownership(Some(&ours), p, "app", &t), Ownership::Ours);
        let forged = labels(&[
            (p, "app"),
            ("dev.gantry.managed", "true"),
            (LABEL_OWNER, "x"),
        ]);
        assert_eq!(ownership(Some(&forged), p, "app", &t), Ownership::Foreign);
        let other_ws = labels(&[(p, "app"), (LABEL_OWNER, &tag(&k2, "app"))]);
        assert_eq!(ownership(Some(&other_ws), p, "app", &t), Ownership::Foreign);
        let old = labels(&[(p, "app"), ("dev.gantry.managed", "true")]);
        assert_eq!(ownership(Some(&old), p, "app", &t), Ownership::Untagged);
        assert_eq!(ownership(None, p, "app", &t), Ownership::Foreign);
        assert!(
            why_not_ours(Ownership::Untagged, "app", "docker rm -f x")
                .contains("before ownership tags")
        );
    }

    #[test]
    fn the_tag_is_never_shown_and_foreign_labels_are_found() {
        let shown = visible(labels(&[(LABEL_OWNER, "secret"), ("a", "1")]));
        assert_eq!(shown, [("a".to_string(), "1".to_string())]);
        let ours = labels(&[("dev.gantry.pipeline", "app"), (LABEL_OWNER, "t")]);
        let image = labels(&[
            ("dev.gantry.pipeline", "app"),
            (LABEL_OWNER, "t"),
            ("dev.gantry.managed", "true"),
            ("org.opencontainers.image.title", "x"),
        ]);
        assert_eq!(
            foreign_gantry_labels(Some(&image), &ours),
            ["dev.gantry.managed"]
        );
        let forged = labels(&[(LABEL_OWNER, "forged")]);
        assert_eq!(foreign_gantry_labels(Some(&forged), &ours), [LABEL_OWNER]);
        assert!(foreign_gantry_labels(Some(&ours), &ours).is_empty());
    }
}
