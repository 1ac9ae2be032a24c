//! OSV range evaluation, generic over a version scheme.
//!
//! Follows the OSV schema's evaluation: the events of one range are sorted by version
//! (`introduced: "0"` first); walking them, the version is affected from each
//! `introduced` it reaches up to the next `fixed` it reaches (exclusive), or up to and
//! including a `last_affected`; a `limit` caps the whole range (exclusive). A package
//! is affected if any range or the explicit `versions` list says so.
//!
//! A range with an event this scheme cannot parse is not guessed at: the caller gets
//! the error and reports it (see `advisory`), it is never silently "not affected".
//!
//! Tests: the `tests` module at the bottom of this file.

use std::cmp::Ordering;

/// One OSV range event, version text as written in the advisory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    Introduced(String),
    Fixed(String),
    LastAffected(String),
    Limit(String),
}

/// A version scheme: how to parse and order versions of one ecosystem.
pub trait Scheme {
    type V: Ord + Clone;
    fn parse(text: &str) -> Result<Self::V, String>;
}

/// Scheme for SemVer ecosystems (crates.io, npm).
pub struct SemverScheme;
impl Scheme for SemverScheme {
    type V = super::semver::Version;
    fn parse(text: &str) -> Result<Self::V, String> {
        super::semver::Version::parse(text)
    }
}

/// Scheme for PyPI.
pub struct Pep440Scheme;
impl Scheme for Pep440Scheme {
    type V = super::pep440::Pep440;
    fn parse(text: &str) -> Result<Self::V, String> {
        super::pep440::Pep440::parse(text)
    }
}

/// A parsed bound: `None` is OSV's `"0"`, lower than every version.
type Bound<V> = Option<V>;

fn bound<S: Scheme>(text: &str) -> Result<Bound<S::V>, String> {
    if text.trim() == "0" {
        Ok(None)
    } else {
        S::parse(text).map(Some)
    }
}

fn cmp_bound<V: Ord>(a: &Bound<V>, b: &Bound<V>) -> Ordering {
    match (a, b) {
        (None, None) => Ordering::Equal,
        (None, Some(_)) => Ordering::Less,
        (Some(_), None) => Ordering::Greater,
        (Some(x), Some(y)) => x.cmp(y),
    }
}

/// Whether `version` falls in the range described by `events`.
pub fn in_range<S: Scheme>(version: &S::V, events: &[Event]) -> Result<bool, String> {
    // Rank breaks ties at equal versions so that `introduced` opens before a
    // `fixed` at the same point closes (an empty interval stays empty).
    let mut parsed: Vec<(Bound<S::V>, u8, &Event)> = Vec::with_capacity(events.len());
    let mut limits = Vec::new();
    for e in events {
        match e {
            Event::Introduced(t) => parsed.push((bound::<S>(t)?, 0, e)),
            Event::Fixed(t) => parsed.push((bound::<S>(t)?, 1, e)),
            Event::LastAffected(t) => parsed.push((bound::<S>(t)?, 2, e)),
            Event::Limit(t) => {
                if t.trim() != "*" {
                    limits.push(bound::<S>(t)?)
                }
            }
        }
    }
    let v = Some(version.clone());
    if limits.iter().any(|l| cmp_bound(&v, l) != Ordering::Less) {
        return Ok(false);
    }
    parsed.sort_by(|a, b| cmp_bound(&a.0, &b.0).then(a.1.cmp(&b.1)));
    let mut affected = false;
    for (at, _, e) in &parsed {
        let o = cmp_bound(&v, at);
        match e {
            Event::Introduced(_) if o != Ordering::Less => affected = true,
            Event::Fixed(_) if o != Ordering::Less => affected = false,
            Event::LastAffected(_) if o == Ordering::Greater => affected = false,
            _ => {}
        }
    }
    Ok(affected)
}

/// Fixed versions named by `events` that are above `version` (upgrade targets).
pub fn fixed_above<S: Scheme>(version: &S::V, events: &[Event]) -> Vec<String> {
    events
        .iter()
        .filter_map(|e| match e {
            Event::Fixed(t) => S::parse(t).ok().filter(|f| f > version).map(|_| t.clone()),
            _ => None,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use Event::*;

    fn semver(v: &str, events: &[Event]) -> bool {
        let v = SemverScheme::parse(v).expect(v);
        in_range::<SemverScheme>(&v, events).expect("range")
    }
    fn pypi(v: &str, events: &[Event]) -> bool {
        let v = Pep440Scheme::parse(v).expect(v);
        in_range::<Pep440Scheme>(&v, events).expect("range")
    }
    fn s(x: &str) -> String {
        x.to_string()
    }

    #[test]
    fn introduced_fixed_half_open() {
        let ev = [Introduced(s("1.0.0")), Fixed(s("1.2.3"))];
        assert!(!semver("0.9.9", &ev));
        assert!(semver("1.0.0", &ev));
        assert!(semver("1.2.2", &ev));
        assert!(
            semver("1.2.3-rc.1", &ev),
            "pre-release of the fix is before it"
        );
        assert!(!semver("1.2.3", &ev));
    }

    #[test]
    fn zero_means_every_version_and_unsorted_events_are_sorted() {
        let ev = [Fixed(s("2.7.2")), Introduced(s("0"))];
        assert!(pypi("0.1", &ev));
        assert!(pypi("2.7.2rc1", &ev));
        assert!(!pypi("2.7.2", &ev));
        assert!(!pypi("2.8", &ev));
    }

    #[test]
    fn several_intervals_like_rustsec_unaffected_holes() {
        // Shape of RUSTSEC-2020-0071: affected except 0.2.0..=0.2.6, fixed at 0.2.23.
        let ev = [
            Introduced(s("0.0.0-0")),
            Fixed(s("0.2.0")),
            Introduced(s("0.2.7-0")),
            Fixed(s("0.2.23")),
        ];
        assert!(semver("0.1.45", &ev));
        assert!(!semver("0.2.3", &ev));
        assert!(semver("0.2.22", &ev));
        assert!(!semver("0.3.17", &ev));
    }

    #[test]
    fn last_affected_is_inclusive_and_limit_caps() {
        let ev = [Introduced(s("0")), LastAffected(s("4.1"))];
        assert!(pypi("4.1", &ev));
        assert!(pypi("4.1.0", &ev));
        assert!(!pypi("4.1.post1", &ev));
        let ev = [Introduced(s("1.0.0")), Limit(s("1.5.0"))];
        assert!(semver("1.4.9", &ev));
        assert!(!semver("1.5.0", &ev));
        let ev = [Introduced(s("1.0.0")), Limit(s("*"))];
        assert!(semver("9.0.0", &ev));
    }

    #[test]
    fn pep440_ranges_use_pep440_order() {
        let ev = [Introduced(s("1.0")), Fixed(s("1.0.post1"))];
        assert!(pypi("1.0.0", &ev));
        assert!(!pypi("1.0.post1", &ev));
        assert!(!pypi("1.0rc1", &ev), "1.0rc1 < 1.0: not introduced yet");
        assert!(
            pypi("1.0+local", &ev),
            "local builds of an affected version"
        );
        let ev = [Introduced(s("1!0")), Fixed(s("1!2.0"))];
        assert!(!pypi("5.0", &ev), "epoch 0 is below the introduced epoch 1");
    }

    #[test]
    fn bad_event_version_is_an_error_not_a_pass() {
        let v = SemverScheme::parse("1.0.0").expect("v");
        let e = in_range::<SemverScheme>(&v, &[Introduced(s("one"))]).expect_err("must be refused");
        assert!(e.contains("`one`"), "{e}");
    }

    #[test]
    fn fixed_versions_above_installed() {
        let v = SemverScheme::parse("1.2.0").expect("v");
        let ev = [
            Introduced(s("0")),
            Fixed(s("1.1.0")),
            Introduced(s("1.2.0")),
            Fixed(s("1.2.5")),
            Introduced(s("2.0.0")),
            Fixed(s("2.0.1")),
        ];
        assert_eq!(fixed_above::<SemverScheme>(&v, &ev), vec!["1.2.5", "2.0.1"]);
    }
}
