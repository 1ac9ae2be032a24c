//! "Did you mean …?" suggestions for keys, stage names and placeholders.

/// The candidate closest to `input`, if it is close enough to be a plausible typo:
/// Damerau-Levenshtein distance at most a third of the length (at least 1), or a
/// Jaro-Winkler similarity of 0.9 and more (catches long shared prefixes).
/// Ties go to the earlier candidate, so callers list candidates in a meaningful order.
pub fn did_you_mean<'c, I>(input: &str, candidates: I) -> Option<&'c str>
where
    I: IntoIterator<Item = &'c str>,
{
    let input_l = input.to_ascii_lowercase();
    let mut best: Option<(usize, f64, &'c str)> = None;
    for cand in candidates {
        if cand == input {
            continue;
        }
        let cand_l = cand.to_ascii_lowercase();
        let dist = strsim::damerau_levenshtein(&input_l, &cand_l);
        let jw = strsim::jaro_winkler(&input_l, &cand_l);
        let max = (cand.chars().count().max(input.chars().count()) / 3).max(1);
        if dist > max && jw < 0.9 {
            continue;
        }
        let better = match best {
            None => true,
            Some((d, j, _)) => dist < d || (dist == d && jw > j),
        };
        if better {
            best = Some((dist, jw, cand));
        }
    }
    best.map(|(_, _, c)| c)
}

/// `a, b, c` — for "valid keys: …" lists.
pub fn list(items: &[&str]) -> String {
    items.join(", ")
}

/// `` `a`, `b` `` — for lists of values in messages.
pub fn ticked<S: AsRef<str>>(items: &[S]) -> String {
    items
        .iter()
        .map(|s| format!("`{}`", s.as_ref()))
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn typos() {
        let keys = [
            "plugin",
            "with",
            "needs",
            "when",
            "timeout",
            "retries",
            "allow-failure",
        ];
        assert_eq!(did_you_mean("plugn", keys), Some("plugin"));
        assert_eq!(did_you_mean("timout", keys), Some("timeout"));
        assert_eq!(did_you_mean("allow_failure", keys), Some("allow-failure"));
        assert_eq!(did_you_mean("zzz", keys), None);
        assert_eq!(did_you_mean("net", ["fs"]), None);
        assert_eq!(did_you_mean("imgae", ["lint", "image"]), Some("image"));
        assert_eq!(
            did_you_mean("stages", ["pipeline", "defaults", "stage"]),
            Some("stage")
        );
    }
}
