//! CVSS v3.0/v3.1 base score from a vector string, and its qualitative rating.
//!
//! The formula is the one published in the CVSS v3.1 specification (section 7.1,
//! with the v3.1 `Roundup`); v3.0 vectors use the same base equations. Only base
//! metrics are scored; temporal and environmental metrics after them are accepted
//! and ignored. Refused with a reason: other versions (CVSS v2, v4 — callers treat
//! those as unknown severity), missing or repeated base metrics, unknown values.
//!
//! Tests: the `tests` module at the bottom of this file (vectors with published scores).

use std::fmt;

/// Qualitative severity rating (CVSS v3.1 table 14).
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
}

/// v3.1 `Roundup`: smallest one-decimal number >= x, computed on integers so that
/// floating point noise (e.g. 4.000000000000001) does not round up.
fn roundup(x: f64) -> f64 {
    let int_input = (x * 100_000.0).round() as i64;
    if int_input % 10_000 == 0 {
        int_input as f64 / 100_000.0
    } else {
        ((int_input / 10_000) + 1) as f64 / 10.0
    }
}

fn rating(score: f64) -> Rating {
    match score {
        s if s <= 0.0 => Rating::None,
        s if s < 4.0 => Rating::Low,
        s if s < 7.0 => Rating::Medium,
        s if s < 9.0 => Rating::High,
        _ => Rating::Critical,
    }
}

/// Scores a `CVSS:3.x/AV:…/AC:…/PR:…/UI:…/S:…/C:…/I:…/A:…` vector.
pub fn base_score(vector: &str) -> Result<Score, String> {
    let v = vector.trim();
    let rest = v
        .strip_prefix("CVSS:3.1/")
        .or_else(|| v.strip_prefix("CVSS:3.0/"))
        .ok_or_else(|| format!("`{v}` is not a CVSS v3.0/v3.1 vector"))?;
    let mut metrics: [Option<&str>; 8] = [None; 8];
    const NAMES: [&str; 8] = ["AV", "AC", "PR", "UI", "S", "C", "I", "A"];
    for part in rest.split('/') {
        let (k, val) = part
            .split_once(':')
            .ok_or_else(|| format!("`{v}`: `{part}` is not METRIC:VALUE"))?;
        if let Some(i) = NAMES.iter().position(|n| *n == k)
            && metrics[i].replace(val).is_some()
        {
            return Err(format!("`{v}`: metric {k} is given twice"));
        }
    }
    let get =
        |i: usize| metrics[i].ok_or_else(|| format!("`{v}`: base metric {} is missing", NAMES[i]));
    let bad = |i: usize, val: &str| format!("`{v}`: unknown value `{val}` for {}", NAMES[i]);
    let scope_changed = match get(4)? {
        "U" => false,
        "C" => true,
        x => return Err(bad(4, x)),
    };
    let av = match get(0)? {
        "N" => 0.85,
        "A" => 0.62,
        "L" => 0.55,
        "P" => 0.2,
        x => return Err(bad(0, x)),
    };
    let ac = match get(1)? {
        "L" => 0.77,
        "H" => 0.44,
        x => return Err(bad(1, x)),
    };
    let pr = match (get(2)?, scope_changed) {
        ("N", _) => 0.85,
        ("L", false) => 0.62,
        ("L", true) => 0.68,
        ("H", false) => 0.27,
        ("H", true) => 0.5,
        (x, _) => return Err(bad(2, x)),
    };
    let ui = match get(3)? {
        "N" => 0.85,
        "R" => 0.62,
        x => return Err(bad(3, x)),
    };
    let cia = |i: usize| -> Result<f64, String> {
        match get(i)? {
            "H" => Ok(0.56),
            "L" => Ok(0.22),
            "N" => Ok(0.0),
            x => Err(bad(i, x)),
        }
    };
    let (c, i, a) = (cia(5)?, cia(6)?, cia(7)?);
    let iss = 1.0 - (1.0 - c) * (1.0 - i) * (1.0 - a);
    let impact = if scope_changed {
        7.52 * (iss - 0.029) - 3.25 * (iss - 0.02).powi(15)
    } else {
        6.42 * iss
    };
    let exploitability = 8.22 * av * ac * pr * ui;
    let base = if impact <= 0.0 {
        0.0
    } else if scope_changed {
        roundup((1.08 * (impact + exploitability)).min(10.0))
    } else {
        roundup((impact + exploitability).min(10.0))
    };
    Ok(Score {
        base,
        rating: rating(base),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn score(v: &str) -> f64 {
        base_score(v).expect(v).base
    }

    #[test]
    fn published_scores() {
        // Scores as shown by the FIRST CVSS v3.1 calculator / NVD for these vectors.
        assert_eq!(score("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"), 9.8);
        assert_eq!(score("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:C/C:H/I:H/A:H"), 10.0);
        assert_eq!(score("CVSS:3.1/AV:L/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:H"), 6.2);
        assert_eq!(score("CVSS:3.0/AV:N/AC:L/PR:L/UI:N/S:C/C:L/I:L/A:N"), 6.4);
        assert_eq!(score("CVSS:3.1/AV:N/AC:H/PR:N/UI:R/S:U/C:L/I:N/A:N"), 3.1);
        assert_eq!(score("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:H"), 7.5);
        assert_eq!(score("CVSS:3.1/AV:N/AC:L/PR:N/UI:R/S:C/C:L/I:L/A:N"), 6.1);
        assert_eq!(score("CVSS:3.1/AV:P/AC:H/PR:H/UI:R/S:U/C:L/I:N/A:N"), 1.6);
    }

    #[test]
    fn no_impact_scores_zero_and_rates_none() {
        let s = base_score("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:N").expect("v");
        assert_eq!(s.base, 0.0);
        assert_eq!(s.rating, Rating::None);
    }

    #[test]
    fn ratings_boundaries() {
        assert_eq!(rating(0.1), Rating::Low);
        assert_eq!(rating(3.9), Rating::Low);
        assert_eq!(rating(4.0), Rating::Medium);
        assert_eq!(rating(6.9), Rating::Medium);
        assert_eq!(rating(7.0), Rating::High);
        assert_eq!(rating(8.9), Rating::High);
        assert_eq!(rating(9.0), Rating::Critical);
    }

    #[test]
    fn roundup_is_exact_on_one_decimal_values() {
        assert_eq!(roundup(4.000_000_000_000_001), 4.0);
        assert_eq!(roundup(4.02), 4.1);
        assert_eq!(roundup(4.0), 4.0);
    }

    #[test]
    fn temporal_metrics_are_ignored() {
        assert_eq!(
            score("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H/E:P/RL:O/RC:C"),
            9.8
        );
    }

    #[test]
    fn bad_vectors_are_refused_with_reason() {
        assert!(
            base_score("AV:N/AC:L/Au:N/C:P/I:P/A:P")
                .expect_err("must be refused")
                .contains("not a CVSS v3")
        );
        assert!(
            base_score("CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N").is_err()
        );
        assert!(
            base_score("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H")
                .expect_err("must be refused")
                .contains("A is missing")
        );
        assert!(
            base_score("CVSS:3.1/AV:Q/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H")
                .expect_err("must be refused")
                .contains("`Q` for AV")
        );
        assert!(
            base_score("CVSS:3.1/AV:N/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H")
                .expect_err("must be refused")
                .contains("twice")
        );
    }
}
