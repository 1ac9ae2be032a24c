//! Durations as pipeline authors write them in `with` tables: `"500ms"`, `"30s"`,
//! `"5m"`, `"1h30m"` — the same syntax as `timeout` in pipeline.toml.

use std::time::Duration;

/// Parses `"1h30m"`, `"45s"`, `"250ms"`; a bare number is refused (say the unit).
pub fn duration(text: &str) -> Result<Duration, String> {
    let t = text.trim();
    if t.is_empty() {
        return Err("empty duration; write e.g. `30s`".into());
    }
    let mut total = Duration::ZERO;
    let mut rest = t;
    while !rest.is_empty() {
        let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 {
            return Err(format!(
                "`{t}` is not a duration; write e.g. `500ms`, `30s`, `5m`"
            ));
        }
        let n: u64 = rest[..digits]
            .parse()
            .map_err(|_| format!("`{t}`: number too large"))?;
        rest = &rest[digits..];
        let unit_len = rest.bytes().take_while(u8::is_ascii_alphabetic).count();
        let unit = &rest[..unit_len];
        rest = &rest[unit_len..];
        let d = match unit {
            "ms" => Duration::from_millis(n),
            "s" => Duration::from_secs(n),
            "m" => Duration::from_secs(n.saturating_mul(60)),
            "h" => Duration::from_secs(n.saturating_mul(3600)),
            "" => {
                return Err(format!(
                    "`{t}`: a number needs a unit (`ms`, `s`, `m`, `h`)"
                ));
            }
            u => {
                return Err(format!(
                    "`{t}`: unknown unit `{u}`; use `ms`, `s`, `m` or `h`"
                ));
            }
        };
        total = total.saturating_add(d);
    }
    Ok(total)
}

/// Parses a size as `limits.memory` takes it: `"256MiB"`, `"1GiB"`, `"512KiB"`, `"100MB"`,
/// `"1024B"`; binary (`KiB`…`TiB`) and decimal (`KB`…`TB`) units, a unit is required.
pub fn size(text: &str) -> Result<u64, String> {
    let t = text.trim();
    let digits = t.bytes().take_while(u8::is_ascii_digit).count();
    if digits == 0 {
        return Err(format!("`{t}` is not a size; write e.g. `256MiB`"));
    }
    let n: u64 = t[..digits]
        .parse()
        .map_err(|_| format!("`{t}`: number too large"))?;
    let factor: u64 = match t[digits..].trim() {
        "B" => 1,
        "KiB" => 1 << 10,
        "MiB" => 1 << 20,
        "GiB" => 1 << 30,
        "TiB" => 1 << 40,
        "KB" => 1_000,
        "MB" => 1_000_000,
        "GB" => 1_000_000_000,
        "TB" => 1_000_000_000_000,
        "" => {
            return Err(format!(
                "`{t}`: a size needs a unit (`B`, `KiB`, `MiB`, `GiB`, …)"
            ));
        }
        u => {
            return Err(format!(
                "`{t}`: unknown unit `{u}`; use `B`, `KiB`, `MiB`, `GiB`, `TiB` or `KB`, `MB`, `GB`, `TB`"
            ));
        }
    };
    n.checked_mul(factor)
        .ok_or_else(|| format!("`{t}`: too large"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(duration("30s"), Ok(Duration::from_secs(30)));
        assert_eq!(duration("1h30m"), Ok(Duration::from_secs(5400)));
        assert_eq!(duration("250ms"), Ok(Duration::from_millis(250)));
        assert!(duration("30").is_err());
        assert!(duration("3 days").is_err());
        assert!(duration("").is_err());
    }

    #[test]
    fn sizes() {
        assert_eq!(size("256MiB"), Ok(256 << 20));
        assert_eq!(size("1 GiB"), Ok(1 << 30));
        assert_eq!(size("100MB"), Ok(100_000_000));
        assert_eq!(size("1024B"), Ok(1024));
        assert!(size("256").is_err());
        assert!(size("MiB").is_err());
        assert!(size("1PiB").is_err());
        assert!(size("99999999999TiB").is_err());
    }
}
