//! LCOV tracefile parser (`geninfo`, `cargo llvm-cov --lcov`, grcov, c8/istanbul,
//! coverage.py's `coverage lcov`).
//!
//! Records read: `SF`, `DA`, `BRDA`, `FN`, `FNDA`, lcov 2's `FNL`/`FNA`, and
//! `end_of_record`. Counts are recomputed from the detail records, so `LF`/`LH`,
//! `BRF`/`BRH` and `FNF`/`FNH` summaries are accepted but not trusted (tools disagree
//! on them when a file appears in several sections). Tolerated because real tools emit
//! them: `TN:`/`VER:` and any other unknown record, `#` comments, CRLF line ends,
//! blank lines, a missing final `end_of_record`, a file appearing in several sections
//! (merged), `DA` checksums (third field), negative hit counts from old gcov (read as
//! 0), counts beyond `u64` (saturate), `BRDA` taken `-` (never reached: 0), `DA` on
//! line 0 (ignored: some generators emit it for synthetic code).
//!
//! Refused with `line:col`: detail records outside an `SF:` section, missing fields,
//! non-numeric line numbers or counts.
//!
//! Tests: `mod tests` below and the fixtures in `tests/fixtures/` (via `src/tests.rs`).

use crate::ParseError;
use crate::model::{Coverage, FileCoverage};

/// Parses LCOV text. `name` is used in error messages only.
pub fn parse(text: &str, name: &str) -> Result<Coverage, ParseError> {
    let mut cov = Coverage::default();
    // The open `SF:` section, added to `cov` at `end_of_record` (one map insert per
    // section instead of one per record).
    let mut current: Option<(String, FileCoverage)> = None;
    // lcov 2: FNL:<index>,<line> then FNA:<index>,<hits>,<name>.
    let mut fn_lines: std::collections::HashMap<String, u32> = std::collections::HashMap::new();
    for (i, raw) in text.split('\n').enumerate() {
        let lineno = i + 1;
        let line = raw.trim_end_matches('\r').trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let indent = raw.len() - raw.trim_start().len();
        let err = |col_in_line: usize, msg: String| ParseError {
            report: name.to_string(),
            line: lineno,
            column: raw[..(indent + col_in_line).min(raw.len())].chars().count() + 1,
            message: msg,
        };
        if line == "end_of_record" {
            if let Some((p, fc)) = current.take() {
                cov.add_file(p, fc);
            }
            fn_lines.clear();
            continue;
        }
        let Some((key, value)) = line.split_once(':') else {
            return Err(err(
                0,
                format!(
                    "expected `KEY:VALUE` or `end_of_record`, found `{}`",
                    clip(line)
                ),
            ));
        };
        let vcol = key.len() + 1;
        if key == "SF" {
            let path = value.trim();
            if path.is_empty() {
                return Err(err(vcol, "`SF:` without a file path".into()));
            }
            if let Some((p, fc)) = current.take() {
                cov.add_file(p, fc);
            }
            current = Some((path.to_string(), FileCoverage::default()));
            continue;
        }
        let detail = matches!(key, "DA" | "BRDA" | "FN" | "FNDA" | "FNL" | "FNA");
        if !detail {
            // TN, VER, LF, LH, BRF, BRH, FNF, FNH and records of newer lcov versions.
            continue;
        }
        let Some((_, fc)) = current.as_mut() else {
            return Err(err(
                0,
                format!("`{key}:` record outside a file section (no `SF:` line before it)"),
            ));
        };
        let fields = Fields { value, base: vcol };
        match key {
            "DA" => {
                let mut it = fields.split(3);
                let (l, lc) = it.next().unwrap_or(("", vcol));
                let (h, hc) = it
                    .next()
                    .ok_or_else(|| err(vcol, "`DA:` needs `line,hits`".into()))?;
                let l = parse_line(l).map_err(|m| err(lc, m))?;
                let h = parse_count(h).map_err(|m| err(hc, m))?;
                if l > 0 {
                    fc.add_line(l, h);
                }
            }
            "BRDA" => {
                let parts: Vec<(&str, usize)> = fields.split(usize::MAX).collect();
                if parts.len() < 4 {
                    return Err(err(vcol, "`BRDA:` needs `line,block,branch,taken`".into()));
                }
                let l = parse_line(parts[0].0).map_err(|m| err(parts[0].1, m))?;
                let (taken, tc) = parts[parts.len() - 1];
                let taken = if taken.trim() == "-" {
                    0
                } else {
                    parse_count(taken).map_err(|m| err(tc, m))?
                };
                let key: Vec<&str> = parts[1..parts.len() - 1].iter().map(|p| p.0).collect();
                fc.add_branch(l, key.join(","), taken);
            }
            "FN" => {
                // FN:<line>,<name> or FN:<line>,<end line>,<name>; names may contain commas.
                let (l, rest) = value
                    .split_once(',')
                    .ok_or_else(|| err(vcol, "`FN:` needs `line,name`".into()))?;
                let l = parse_line(l).map_err(|m| err(vcol, m))?;
                let name = match rest.split_once(',') {
                    Some((end, n)) if end.trim().parse::<u32>().is_ok() => n,
                    _ => rest,
                };
                fc.add_function(name.trim(), l, 0);
            }
            "FNDA" => {
                let (h, n) = value
                    .split_once(',')
                    .ok_or_else(|| err(vcol, "`FNDA:` needs `hits,name`".into()))?;
                let h = parse_count(h).map_err(|m| err(vcol, m))?;
                fc.add_function(n.trim(), 0, h);
            }
            "FNL" => {
                let mut it = fields.split(3);
                let (idx, _) = it.next().unwrap_or(("", vcol));
                let (l, lc) = it
                    .next()
                    .ok_or_else(|| err(vcol, "`FNL:` needs `index,line`".into()))?;
                let l = parse_line(l).map_err(|m| err(lc, m))?;
                fn_lines.insert(idx.trim().to_string(), l);
            }
            _ => {
                // FNA:<index>,<hits>,<name>
                let mut it = fields.split(3);
                let (idx, _) = it.next().unwrap_or(("", vcol));
                let (h, hc) = it
                    .next()
                    .ok_or_else(|| err(vcol, "`FNA:` needs `index,hits,name`".into()))?;
                let (n, _) = it
                    .next()
                    .ok_or_else(|| err(vcol, "`FNA:` needs `index,hits,name`".into()))?;
                let h = parse_count(h).map_err(|m| err(hc, m))?;
                let l = fn_lines.get(idx.trim()).copied().unwrap_or(0);
                fc.add_function(n.trim(), l, h);
            }
        }
    }
    if let Some((p, fc)) = current.take() {
        cov.add_file(p, fc);
    }
    Ok(cov)
}

/// Comma-separated fields of a record value, with their columns (0-based, in the line).
struct Fields<'a> {
    value: &'a str,
    base: usize,
}

impl<'a> Fields<'a> {
    /// At most `n` fields; the last one keeps any further commas.
    fn split(&self, n: usize) -> impl Iterator<Item = (&'a str, usize)> + 'a {
        let base = self.base;
        let value = self.value;
        let mut offset = 0usize;
        value.splitn(n, ',').map(move |f| {
            let col = base + offset;
            offset += f.len() + 1;
            (f, col)
        })
    }
}

fn parse_line(s: &str) -> Result<u32, String> {
    s.trim()
        .parse::<u32>()
        .map_err(|_| format!("expected a line number, found `{}`", clip(s.trim())))
}

/// Hit counts: integers, possibly negative (old gcov) or too large (saturate); some
/// generators write floats (`1.0`, `1e3`).
fn parse_count(s: &str) -> Result<u64, String> {
    let t = s.trim();
    if let Ok(n) = t.parse::<u64>() {
        return Ok(n);
    }
    if t.starts_with('-') && t[1..].bytes().all(|b| b.is_ascii_digit()) && t.len() > 1 {
        return Ok(0);
    }
    if !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit()) {
        return Ok(u64::MAX);
    }
    match t.parse::<f64>() {
        Ok(f) if f.is_finite() => Ok(if f <= 0.0 {
            0
        } else {
            f.min(u64::MAX as f64) as u64
        }),
        _ => Err(format!("expected a hit count, found `{}`", clip(t))),
    }
}

fn clip(s: &str) -> String {
    if s.chars().count() > 40 {
        format!("{}…", s.chars().take(40).collect::<String>())
    } else {
        s.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_lines_branches_functions_and_merges_sections() {
        let text = "TN:unit\r\nSF:src/a.rs\r\nFN:1,3,a::f\nFN:5,a::<impl X, Y>::g\nFNDA:2,a::f\nFNDA:0,a::<impl X, Y>::g\n\
                    DA:1,2\nDA:2,0,abc123\nDA:3,-1\nBRDA:2,0,0,1\nBRDA:2,0,1,-\nLF:3\nLH:1\nend_of_record\n\
                    TN:other\nSF:src/a.rs\nDA:2,5\nBRDA:2,0,1,1\nend_of_record\nSF:src/b.rs\nDA:1,1";
        let cov = parse(text, "lcov.info").expect("valid");
        let a = &cov.files["src/a.rs"];
        assert_eq!(a.lines.get(&1), Some(&2));
        assert_eq!(a.lines.get(&2), Some(&5), "second section's hits add up");
        assert_eq!(a.lines.get(&3), Some(&0), "negative count is 0");
        assert_eq!(a.line_counts().covered, 2);
        assert_eq!(
            a.branch_counts().covered,
            2,
            "branch 0,1 taken in the second section"
        );
        assert_eq!(a.functions["a::<impl X, Y>::g"], (5, 0));
        assert_eq!(a.functions["a::f"], (1, 2));
        assert_eq!(
            cov.files["src/b.rs"].line_counts().total,
            1,
            "no final end_of_record is fine"
        );
    }

    #[test]
    fn lcov2_function_records() {
        let cov = parse("SF:x.c\nFNL:0,10,12\nFNA:0,3,main\nend_of_record\n", "t").expect("valid");
        assert_eq!(cov.files["x.c"].functions["main"], (10, 3));
    }

    #[test]
    fn errors_name_line_and_column() {
        let e = parse("SF:a\nDA:1,1\nDA:x,1\n", "cov/lcov.info").expect_err("bad line");
        assert_eq!(
            e.to_string().lines().next(),
            Some("cov/lcov.info:3:4: expected a line number, found `x`")
        );
        let e = parse("SF:a\nDA:12,many\n", "r").expect_err("bad count");
        assert_eq!((e.line, e.column), (2, 7));
        let e = parse("DA:1,1\n", "r").expect_err("no SF");
        assert!(e.message.contains("no `SF:`"), "{e}");
        let e = parse("SF:a\nbogus line\n", "r").expect_err("no colon");
        assert!(e.message.contains("KEY:VALUE"), "{e}");
    }
}
