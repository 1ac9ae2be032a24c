//! Durations (`"500ms"`, `"30s"`, `"1h30m"`) and sizes (`"256MiB"`) as written in `pipeline.toml`.
//!
//! Durations are a sequence of `<integer><unit>` parts, optionally separated by spaces;
//! units are `ms`, `s`, `m`, `h`, `d` and their long forms (`sec`, `minutes`, …), as
//! humantime accepts. Fractions (`1.5h`) are refused with a hint to write `1h30m`.
//!
//! Sizes are `<integer><unit>` with binary units only (`B`, `KiB`, `MiB`, `GiB`, `TiB`).
//! `MB`, `M`, `GB`, … are refused: they mean 10^6 to some tools and 2^20 to others
//! (Docker's `256m`), and a memory limit is no place to guess.

use std::time::Duration;

/// Why a duration or size did not parse; the caller adds which key it was.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UnitError {
    pub reason: String,
    pub hint: Option<String>,
}

impl UnitError {
    fn new(reason: impl Into<String>, hint: impl Into<String>) -> Self {
        UnitError {
            reason: reason.into(),
            hint: Some(hint.into()),
        }
    }
}

const DURATION_HINT: &str =
    "write a number and a unit (`ms`, `s`, `m`, `h`), e.g. `30s`, `5m` or `1h30m`";

fn duration_unit(unit: &str) -> Option<u128> {
    const MS: u128 = 1;
    Some(match unit {
        "ms" | "msec" | "msecs" | "millis" | "millisecond" | "milliseconds" => MS,
        "s" | "sec" | "secs" | "second" | "seconds" => 1000 * MS,
        "m" | "min" | "mins" | "minute" | "minutes" => 60 * 1000 * MS,
        "h" | "hr" | "hrs" | "hour" | "hours" => 3600 * 1000 * MS,
        "d" | "day" | "days" => 24 * 3600 * 1000 * MS,
        _ => return None,
    })
}

/// Parses `"500ms"`, `"30s"`, `"5m"`, `"1h30m"`, `"1h 30m"`.
pub fn parse_duration(text: &str) -> Result<Duration, UnitError> {
    let s = text.trim();
    if s.is_empty() {
        return Err(UnitError::new("the duration is empty", DURATION_HINT));
    }
    let mut total_ms: u128 = 0;
    let mut rest = s;
    while !rest.is_empty() {
        let digits = rest.len() - rest.trim_start_matches(|c: char| c.is_ascii_digit()).len();
        if digits == 0 {
            let bad = rest.chars().next().unwrap_or(' ');
            return Err(if bad == '-' {
                UnitError::new("a duration cannot be negative", DURATION_HINT)
            } else {
                UnitError::new(format!("expected a number, found `{rest}`"), DURATION_HINT)
            });
        }
        let (num, after) = rest.split_at(digits);
        if after.starts_with('.') {
            return Err(UnitError::new(
                "fractions are not supported",
                "combine units instead, e.g. `1h30m` for an hour and a half, `1500ms` for 1.5s",
            ));
        }
        let after = after.trim_start();
        let unit_len = after.len() - after.trim_start_matches(|c: char| c.is_alphabetic()).len();
        let (unit, after) = after.split_at(unit_len);
        if unit.is_empty() {
            return Err(UnitError::new(
                format!("`{num}` has no unit"),
                format!("write `{num}s` for seconds or `{num}m` for minutes"),
            ));
        }
        let Some(factor) = duration_unit(&unit.to_ascii_lowercase()) else {
            return Err(UnitError::new(
                format!("unknown unit `{unit}`"),
                DURATION_HINT,
            ));
        };
        let n: u128 = num
            .parse()
            .map_err(|_| UnitError::new("the number is too large", DURATION_HINT))?;
        total_ms = n
            .checked_mul(factor)
            .and_then(|v| total_ms.checked_add(v))
            .filter(|v| *v <= u128::from(u64::MAX))
            .ok_or_else(|| UnitError::new("the duration is too large", DURATION_HINT))?;
        rest = after.trim_start();
    }
    Ok(Duration::from_millis(total_ms as u64))
}

/// `1h30m`, `500ms`, `10m`, `24h`: a form [`parse_duration`] reads back (hours are the largest unit).
pub fn format_duration(d: Duration) -> String {
    let mut ms = d.as_millis();
    if ms == 0 {
        return "0s".into();
    }
    let mut out = String::new();
    for (unit, size) in [("h", 3_600_000u128), ("m", 60_000), ("s", 1000), ("ms", 1)] {
        if ms >= size {
            out.push_str(&format!("{}{unit}", ms / size));
            ms %= size;
        }
    }
    out
}

const SIZE_HINT: &str =
    "write a number and a binary unit (`B`, `KiB`, `MiB`, `GiB`), e.g. `256MiB`";

/// Parses `"256MiB"`, `"1 GiB"`, `"4096B"` into bytes.
pub fn parse_size(text: &str) -> Result<u64, UnitError> {
    let s = text.trim();
    if s.is_empty() {
        return Err(UnitError::new("the size is empty", SIZE_HINT));
    }
    let digits = s.len() - s.trim_start_matches(|c: char| c.is_ascii_digit()).len();
    if digits == 0 {
        return Err(if s.starts_with('-') {
            UnitError::new("a size cannot be negative", SIZE_HINT)
        } else {
            UnitError::new(format!("expected a number, found `{s}`"), SIZE_HINT)
        });
    }
    let (num, unit) = s.split_at(digits);
    if unit.starts_with('.') {
        return Err(UnitError::new(
            "fractions are not supported",
            "use a smaller unit, e.g. `1536MiB` for 1.5GiB",
        ));
    }
    let unit = unit.trim_start();
    let shift = match unit.to_ascii_lowercase().as_str() {
        "b" => 0,
        "kib" => 10,
        "mib" => 20,
        "gib" => 30,
        "tib" => 40,
        "" => {
            return Err(UnitError::new(
                format!("`{num}` has no unit"),
                format!("write `{num}MiB`, or `{num}B` for bytes"),
            ));
        }
        u @ ("k" | "kb" | "m" | "mb" | "g" | "gb" | "t" | "tb") => {
            let binary = match u.as_bytes()[0] {
                b'k' => "KiB",
                b'm' => "MiB",
                b'g' => "GiB",
                _ => "TiB",
            };
            return Err(UnitError::new(
                format!("ambiguous unit `{unit}`"),
                format!("sizes use binary units: write `{num}{binary}`"),
            ));
        }
        _ => return Err(UnitError::new(format!("unknown unit `{unit}`"), SIZE_HINT)),
    };
    num.parse::<u64>()
        .ok()
        .and_then(|n| n.checked_mul(1u64 << shift))
        .ok_or_else(|| UnitError::new("the size is too large", SIZE_HINT))
}

/// `256MiB`, `1GiB`, `1536KiB`, `100B`: the largest unit that divides exactly.
pub fn format_size(bytes: u64) -> String {
    for (unit, shift) in [("TiB", 40), ("GiB", 30), ("MiB", 20), ("KiB", 10)] {
        if bytes != 0 && bytes.is_multiple_of(1u64 << shift) {
            return format!("{}{unit}", bytes >> shift);
        }
    }
    format!("{bytes}B")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> Result<u128, String> {
        parse_duration(s)
            .map(|d| d.as_millis())
            .map_err(|e| e.reason)
    }

    #[test]
    fn durations() {
        assert_eq!(d("500ms"), Ok(500));
        assert_eq!(d("30s"), Ok(30_000));
        assert_eq!(d("5m"), Ok(300_000));
        assert_eq!(d("1h30m"), Ok(5_400_000));
        assert_eq!(d(" 1h 30m 5s "), Ok(5_405_000));
        assert_eq!(d("2 minutes"), Ok(120_000));
        assert_eq!(d("1d"), Ok(86_400_000));
        assert_eq!(d("10 parsecs"), Err("unknown unit `parsecs`".into()));
        assert_eq!(d("30"), Err("`30` has no unit".into()));
        assert_eq!(d("1.5h"), Err("fractions are not supported".into()));
        assert_eq!(d("-1s"), Err("a duration cannot be negative".into()));
        assert_eq!(d(""), Err("the duration is empty".into()));
        assert_eq!(d("h"), Err("expected a number, found `h`".into()));
        assert!(d("99999999999999999999999999999999999999999h").is_err());
    }

    #[test]
    fn duration_round_trip() {
        for s in ["1h30m", "500ms", "10m", "48h", "1m1s1ms"] {
            assert_eq!(format_duration(parse_duration(s).expect(s)), s);
        }
    }

    #[test]
    fn sizes() {
        assert_eq!(parse_size("256MiB"), Ok(256 << 20));
        assert_eq!(parse_size("1 GiB"), Ok(1 << 30));
        assert_eq!(parse_size("4096B"), Ok(4096));
        assert_eq!(parse_size("64kib"), Ok(64 << 10));
        let e = parse_size("256MB").expect_err("ambiguous");
        assert_eq!(
            e.hint.as_deref(),
            Some("sizes use binary units: write `256MiB`")
        );
        assert!(parse_size("256").is_err());
        assert!(parse_size("lots").is_err());
        assert!(parse_size("99999999999TiB").is_err());
        assert_eq!(format_size(256 << 20), "256MiB");
        assert_eq!(format_size(1536 << 10), "1536KiB");
        assert_eq!(format_size(100), "100B");
    }
}
