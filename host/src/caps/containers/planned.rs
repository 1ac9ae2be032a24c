//! Images a `--dry-run` plans. A dry run builds and pushes nothing, yet the stages
//! after a build use what it made (`image = "${stages.build.outputs.pinned}"`):
//! the broker answers a planned build or push with a **planned digest**, and later
//! stages of the same dry run may use it, through every check a real image goes
//! through (grants, ownership of what they replace), while their own effects are
//! planned too.
//!
//! A planned digest is `sha256:` followed by sixteen zeros and 48 hex digits of a
//! hash of what was planned: it parses wherever a digest does, and it cannot be
//! mistaken for a real one (a real sha256 starts with 64 zero bits once in 2^64).
//! Outside the dry run that planned it, the broker refuses it by name.

use sha2::{Digest, Sha256};

/// What every planned digest starts with.
pub const PREFIX: &str = "sha256:0000000000000000";

/// The planned digest of `what` (a reference, in the run `run`): stable within a run.
pub fn digest(run: &str, what: &str) -> String {
    let h = hex::encode(Sha256::digest(format!("gantry dry run {run}\0{what}")));
    format!("{PREFIX}{}", &h[..48])
}

/// Whether `digest` (or a reference ending in `@digest`) is a planned one.
pub fn is_planned(reference: &str) -> bool {
    reference
        .rsplit_once('@')
        .map_or(reference, |(_, d)| d)
        .starts_with(PREFIX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn planned_digests_parse_as_digests_and_are_recognised() {
        let d = digest("run-1", "127.0.0.1:5000/app:1");
        assert_eq!(d.len(), "sha256:".len() + 64);
        assert!(
            d[7..]
                .bytes()
                .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
        );
        assert!(is_planned(&d));
        assert!(is_planned(&format!("127.0.0.1:5000/app@{d}")));
        assert_eq!(
            d,
            digest("run-1", "127.0.0.1:5000/app:1"),
            "stable in a run"
        );
        assert_ne!(d, digest("run-2", "127.0.0.1:5000/app:1"));
        assert!(!is_planned(
            "sha256:4f1c2b0e9d8a7c6b5a4f3e2d1c0b9a8f7e6d5c4b3a291807f6e5d4c3b2a19080"
        ));
        assert!(!is_planned("127.0.0.1:5000/app:1"));
        let parsed = crate::manifest::ImageRef::parse(&format!("127.0.0.1:5000/app@{d}"));
        assert!(parsed.is_ok(), "{parsed:?}");
    }
}
