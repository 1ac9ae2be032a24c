//! Cobertura XML reader (coverage.py `coverage xml`, cargo-tarpaulin `--out Xml`,
//! gcovr `--cobertura`, c8/istanbul `cobertura` reporter).
//!
//! Read: `<sources><source>` (the roots that relative `filename`s are relative to),
//! each `<class filename="…">` and the `<line number hits [branch condition-coverage]>`
//! elements directly under the class's `<lines>`. The copies of those lines under
//! `<methods>` are skipped so lines are not counted twice. Several classes naming the
//! same file (Java inner classes, some istanbul output) are merged. Branches come from
//! `condition-coverage="50% (1/2)"`; a `branch="true"` line without it counts as one
//! branch taken when the line was hit (what gcovr does for such lines).
//!
//! The summary attributes on `<coverage>` (`line-rate`, `lines-valid`, …) are not
//! trusted: everything is recomputed from the lines.
//!
//! Refused with `line:col`: malformed XML (`quick-xml` plus the document checks of
//! [`crate::xml`]), a root element other
//! than `<coverage>`, a `<class>` without `filename`, a `<line>` without a numeric
//! `number` or `hits`, an unreadable `condition-coverage`.
//!
//! Tests: `mod tests` below and the real-tool fixtures via `src/tests.rs`.

use crate::ParseError;
use crate::model::{Coverage, FileCoverage};
use crate::xml::{self, Event, Reader, XmlError};

/// A parsed report: coverage keyed by the `filename` attributes, and the source roots.
#[derive(Debug, Default)]
pub struct Parsed {
    pub coverage: Coverage,
    pub sources: Vec<String>,
}

pub fn parse(text: &str, name: &str) -> Result<Parsed, ParseError> {
    let mut r = Reader::new(text);
    let xml_err = |e: XmlError| ParseError {
        report: name.to_string(),
        line: e.line,
        column: e.column,
        message: e.message,
    };
    let mut out = Parsed::default();
    // Names of the open elements, to know where a <line> or <source> sits.
    let mut path: Vec<String> = Vec::new();
    // The open <class>, added to the coverage at </class>.
    let mut current_file: Option<(String, FileCoverage)> = None;
    let mut source_text: Option<String> = None;
    loop {
        let ev = r.next_event().map_err(xml_err)?;
        match ev {
            Event::Start { tag, empty, offset } => {
                let el = xml::name(&tag);
                if path.is_empty() && el != "coverage" {
                    return Err(xml_err(r.error_at(
                        offset,
                        format!("not a Cobertura report: the root element is <{el}>, expected <coverage>"),
                    )));
                }
                let attrs = r.attrs(&tag, offset).map_err(xml_err)?;
                let attr = |k: &str| attrs.iter().find(|(n, _)| *n == k).map(|(_, v)| v.as_ref());
                let parent = path.last().map(String::as_str);
                match el {
                    "source" if parent == Some("sources") => source_text = Some(String::new()),
                    "class" => {
                        let f = attr("filename").ok_or_else(|| {
                            xml_err(r.error_at(offset, "<class> has no `filename` attribute"))
                        })?;
                        if let Some((p, fc)) = current_file.take() {
                            out.coverage.add_file(p, fc);
                        }
                        let fc = FileCoverage::default();
                        if empty {
                            out.coverage.add_file(f.to_string(), fc);
                        } else {
                            current_file = Some((f.to_string(), fc));
                        }
                    }
                    "line"
                        if parent == Some("lines")
                            && path.len() >= 2
                            && path[path.len() - 2] == "class" =>
                    {
                        let Some((_, fc)) = current_file.as_mut() else {
                            if !empty {
                                path.push(el.to_string());
                            }
                            continue;
                        };
                        let number = attr("number")
                            .and_then(|v| v.trim().parse::<u32>().ok())
                            .ok_or_else(|| {
                                xml_err(
                                    r.error_at(offset, "<line> needs a numeric `number` attribute"),
                                )
                            })?;
                        let hits = attr("hits").and_then(parse_hits).ok_or_else(|| {
                            xml_err(r.error_at(offset, "<line> needs a numeric `hits` attribute"))
                        })?;
                        if number > 0 {
                            fc.add_line(number, hits);
                        }
                        if attr("branch").is_some_and(|b| b.trim().eq_ignore_ascii_case("true")) {
                            match attr("condition-coverage") {
                                Some(cc) => {
                                    let (taken, total) = parse_condition(cc).ok_or_else(|| {
                                        xml_err(r.error_at(
                                            offset,
                                            format!("unreadable condition-coverage `{cc}`, expected like `50% (1/2)`"),
                                        ))
                                    })?;
                                    for b in 0..total {
                                        fc.add_branch(number, b.to_string(), u64::from(b < taken));
                                    }
                                }
                                None => fc.add_branch(number, "0".into(), u64::from(hits > 0)),
                            }
                        }
                    }
                    _ => {}
                }
                if !empty {
                    path.push(el.to_string());
                }
            }
            Event::Text(t) => {
                if let Some(s) = source_text.as_mut() {
                    s.push_str(&t);
                }
            }
            Event::End => {
                let el = path.pop().unwrap_or_default();
                match el.as_str() {
                    "source" => {
                        if let Some(s) = source_text.take() {
                            let s = s.trim();
                            if !s.is_empty() {
                                out.sources.push(s.to_string());
                            }
                        }
                    }
                    "class" => {
                        if let Some((p, fc)) = current_file.take() {
                            out.coverage.add_file(p, fc);
                        }
                    }
                    _ => {}
                }
            }
            Event::Eof => return Ok(out),
        }
    }
}

fn parse_hits(v: &str) -> Option<u64> {
    let t = v.trim();
    t.parse::<u64>().ok().or_else(|| {
        let f = t.parse::<f64>().ok().filter(|f| f.is_finite())?;
        Some(if f <= 0.0 {
            0
        } else {
            f.min(u64::MAX as f64) as u64
        })
    })
}

/// `50% (1/2)` → (1, 2). Totals are capped so a corrupt value cannot allocate wildly.
fn parse_condition(cc: &str) -> Option<(u32, u32)> {
    let inner = cc.split_once('(')?.1.split_once(')')?.0;
    let (a, b) = inner.split_once('/')?;
    let (a, b) = (a.trim().parse::<u32>().ok()?, b.trim().parse::<u32>().ok()?);
    (a <= b && b <= 4096).then_some((a, b))
}

#[cfg(test)]
mod tests {
    use super::*;

    const SMALL: &str = r#"<?xml version="1.0" ?>
<!DOCTYPE coverage SYSTEM "http://cobertura.sourceforge.net/xml/coverage-04.dtd">
<coverage line-rate="0.99" branch-rate="0" version="7">
  <sources><source>/home/ci/proj</source></sources>
  <packages><package name="p"><classes>
    <class name="m.py" filename="p/m.py">
      <methods><method name="f"><lines><line number="1" hits="1"/></lines></method></methods>
      <lines>
        <line number="1" hits="1"/>
        <line number="2" hits="0" branch="true" condition-coverage="50% (1/2)"/>
        <line number="3" hits="0"/>
      </lines>
    </class>
  </classes></package></packages>
</coverage>"#;

    #[test]
    fn reads_sources_lines_and_branches_and_ignores_method_copies() {
        let p = parse(SMALL, "coverage.xml").expect("valid");
        assert_eq!(p.sources, vec!["/home/ci/proj"]);
        let f = &p.coverage.files["p/m.py"];
        assert_eq!(f.lines.len(), 3, "method lines are not counted again");
        assert_eq!(
            f.line_counts().covered,
            1,
            "summary line-rate=0.99 is not trusted"
        );
        assert_eq!(f.branch_counts().total, 2);
        assert_eq!(f.branch_counts().covered, 1);
    }

    #[test]
    fn errors_point_at_the_element() {
        let bad = SMALL.replace(
            r#"<line number="3" hits="0"/>"#,
            r#"<line number="three" hits="0"/>"#,
        );
        let e = parse(&bad, "coverage.xml").expect_err("bad number");
        assert_eq!(e.line, 11);
        assert_eq!(e.column, 9);
        assert!(e.message.contains("number"), "{e}");

        let e = parse("<report/>", "x.xml").expect_err("not cobertura");
        assert!(e.message.contains("not a Cobertura report"), "{e}");

        let truncated = &SMALL[..SMALL.len() - 40];
        let e = parse(truncated, "x.xml").expect_err("truncated");
        assert!(e.message.contains("end of file"), "{e}");
    }
}
