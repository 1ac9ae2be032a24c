//! Severity from CVSS vectors, scored by RustSec's `cvss` crate: v2.0, v3.0, v3.1 and
//! v4.0 base scores and the specification's qualitative rating.
//!
//! An advisory may carry several vectors (OSV `severity[]` lists one per version);
//! [`best`] scores the newest CVSS version it gives (4.0 over 3.x over 2.0), the one
//! NVD and GitHub show, not the highest number. A vector that does not parse is not
//! guessed at: it is skipped, and an advisory with no scorable vector has unknown
//! severity (which `audit` rates as an error).
//!
//! Tests: the `tests` module at the bottom of this file (vectors with published scores).

use std::fmt;
use std::str::FromStr;

use cvss::Cvss;

/// Qualitative severity rating (CVSS v3.1 table 14; v4.0 uses the same bands).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Rating {
    None,
    Low,
    Medium,
    High,
    Critical,
}

impl fmt::Display for Rating {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Rating::None => "none",
            Rating::Low => "low",
            Rating::Medium => "medium",
            Rating::High => "high",
            Rating::Critical => "critical",
        })
    }
}

/// A scored vector.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Score {
    /// 0.0 – 10.0, one decimal.
    pub base: f64,
    pub rating: Rating,
    /// The CVSS version of the vector: `2.0`, `3.0`, `3.1` or `4.0`.
    pub version: &'static str,
}

impl fmt::Display for Score {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} (CVSS {} score {:.1})",
            self.rating, self.version, self.base
        )
    }
}

/// Scores one vector (`CVSS:4.0/AV:N/…`, `CVSS:3.1/…`, or a v2 vector without prefix).
pub fn score(vector: &str) -> Result<Score, String> {
    let v = vector.trim();
    let parsed = Cvss::from_str(v).map_err(|e| format!("`{v}` is not a CVSS vector: {e}"))?;
    // The crate's v3 parser scores a vector with base metrics left out as if they
    // were absent impacts; the specification requires all eight (its v2 and v4
    // parsers already refuse a missing one).
    if let Cvss::CvssV30(x) | Cvss::CvssV31(x) = &parsed {
        let missing: Vec<&str> = [
            ("AV", x.av.is_none()),
            ("AC", x.ac.is_none()),
            ("PR", x.pr.is_none()),
            ("UI", x.ui.is_none()),
            ("S", x.s.is_none()),
            ("C", x.c.is_none()),
            ("I", x.i.is_none()),
            ("A", x.a.is_none()),
        ]
        .into_iter()
        .filter_map(|(m, absent)| absent.then_some(m))
        .collect();
        if !missing.is_empty() {
            return Err(format!(
                "`{v}` is not a CVSS vector: base metric {} is missing",
                missing.join(", ")
            ));
        }
    }
    let version = match parsed {
        Cvss::CvssV20(_) => "2.0",
        Cvss::CvssV30(_) => "3.0",
        Cvss::CvssV31(_) => "3.1",
        Cvss::CvssV40(_) => "4.0",
        // `Cvss` is non-exhaustive: a version a later crate adds is scored but named
        // by its prefix.
        _ => "?",
    };
    let rating = match parsed.severity() {
        cvss::Severity::None => Rating::None,
        cvss::Severity::Low => Rating::Low,
        cvss::Severity::Medium => Rating::Medium,
        cvss::Severity::High => Rating::High,
        cvss::Severity::Critical => Rating::Critical,
    };
    Ok(Score {
        base: parsed.score(),
        rating,
        version,
    })
}

/// The score of the newest CVSS version among `vectors`; `None` if none parses.
pub fn best<S: AsRef<str>>(vectors: &[S]) -> Option<Score> {
    let rank = |s: &Score| match s.version {
        "4.0" => 3,
        "3.1" => 2,
        "3.0" => 1,
        _ => 0,
    };
    vectors
        .iter()
        .filter_map(|v| score(v.as_ref()).ok())
        .max_by(|a, b| rank(a).cmp(&rank(b)).then(a.base.total_cmp(&b.base)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn base(v: &str) -> f64 {
        score(v).expect(v).base
    }

    #[test]
    fn published_v3_scores() {
        // Scores as shown by the FIRST CVSS v3.1 calculator / NVD for these vectors.
        assert_eq!(base("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"), 9.8);
        assert_eq!(base("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:C/C:H/I:H/A:H"), 10.0);
        assert_eq!(base("CVSS:3.1/AV:L/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:H"), 6.2);
        assert_eq!(base("CVSS:3.0/AV:N/AC:L/PR:L/UI:N/S:C/C:L/I:L/A:N"), 6.4);
        assert_eq!(base("CVSS:3.1/AV:N/AC:H/PR:N/UI:R/S:U/C:L/I:N/A:N"), 3.1);
        assert_eq!(base("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:H"), 7.5);
        assert_eq!(base("CVSS:3.1/AV:N/AC:L/PR:N/UI:R/S:C/C:L/I:L/A:N"), 6.1);
        assert_eq!(base("CVSS:3.1/AV:P/AC:H/PR:H/UI:R/S:U/C:L/I:N/A:N"), 1.6);
        // Temporal metrics after the base ones do not change the base score.
        assert_eq!(
            base("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H/E:P/RL:O/RC:C"),
            9.8
        );
    }

    #[test]
    fn published_v4_scores() {
        // RUSTSEC-2026-0071 (hpke-rs nonce reuse): 9.3 critical, as GitHub shows it.
        let s =
            score("CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:N/SC:N/SI:N/SA:N").expect("v4");
        assert_eq!(
            (s.base, s.rating, s.version),
            (9.3, Rating::Critical, "4.0")
        );
        assert_eq!(s.to_string(), "critical (CVSS 4.0 score 9.3)");
        // FIRST's calculator examples.
        assert_eq!(
            base("CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N"),
            9.3
        );
        assert_eq!(
            base("CVSS:4.0/AV:L/AC:L/AT:N/PR:N/UI:N/VC:N/VI:N/VA:N/SC:N/SI:N/SA:N"),
            0.0
        );
    }

    #[test]
    fn no_impact_rates_none() {
        let s = score("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:N").expect("v");
        assert_eq!((s.base, s.rating), (0.0, Rating::None));
    }

    #[test]
    fn the_newest_version_is_chosen_not_the_highest_number() {
        let v3 = "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"; // 9.8
        let v4 = "CVSS:4.0/AV:N/AC:H/AT:N/PR:L/UI:A/VC:N/VI:N/VA:H/SC:N/SI:N/SA:H";
        let s = best(&[v3, v4]).expect("scored");
        assert_eq!(s.version, "4.0");
        assert!(s.base < 9.8);
        assert_eq!(best(&[v3, "garbage"]).map(|s| s.version), Some("3.1"));
        assert_eq!(best::<&str>(&[]), None);
        assert_eq!(best(&["CVSS:9.9/AV:N"]), None);
    }

    #[test]
    fn bad_vectors_are_refused_with_reason() {
        for bad in [
            "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H",
            "CVSS:3.1/AV:Q/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H",
            "CVSS:3.1/AV:N/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H",
            "CVSS:4.0/AV:N",
            "CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:N/SC:N/SI:N",
            "not a vector",
        ] {
            let e = score(bad).expect_err(bad);
            assert!(e.contains(bad) && e.contains("not a CVSS vector"), "{e}");
        }
        let e = score("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H").expect_err("A");
        assert!(e.contains("base metric A is missing"), "{e}");
        // v2 vectors have no prefix.
        let s = score("AV:N/AC:L/Au:N/C:P/I:P/A:P").expect("v2");
        assert_eq!((s.base, s.version), (7.5, "2.0"));
    }
}
