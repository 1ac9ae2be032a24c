//! Arbitrary bytes → `Manifest::parse` (TOML syntax, schema, grants, `needs`,
//! placeholders: everything `gantry check` does without the plugins).
//!
//! Properties:
//! - never panics, whatever the input;
//! - every diagnostic points into the input: its span lies within it, on char
//!   boundaries, and its line/column are those of the span's start;
//! - every diagnostic renders (`error: …`, the snippet line is a line of the input
//!   or a masked version of it);
//! - an accepted manifest is consistent: stage names are unique, `topo_order` lists
//!   each stage once and after everything it needs, `closure` of every stage works,
//!   `config_span` points into the input, and parsing the same text again gives the
//!   same result.
#![no_main]

use std::collections::HashSet;
use std::path::Path;

use gantry_manifest::{Diagnostic, Manifest, line_col};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(source) = std::str::from_utf8(data) else {
        return;
    };
    let path = Path::new("pipeline.toml");
    match Manifest::parse(path, source) {
        Ok(m) => check_manifest(&m, source),
        Err(diags) => {
            assert!(!diags.is_empty(), "an error without diagnostics");
            for d in diags.iter() {
                check_diagnostic(d, source);
            }
            let all = diags.to_string();
            assert!(all.starts_with("error: "), "{all}");
        }
    }
});

fn check_diagnostic(d: &Diagnostic, source: &str) {
    if let Some(span) = d.span() {
        assert!(
            span.start <= span.end && span.end <= source.len(),
            "span {span:?} outside the input ({} bytes): {}",
            source.len(),
            d.message
        );
        assert!(
            source.is_char_boundary(span.start) && source.is_char_boundary(span.end),
            "span {span:?} not on char boundaries: {}",
            d.message
        );
        assert_eq!(
            (d.line, d.column),
            line_col(source, span.start),
            "line/column are not those of the span start: {}",
            d.message
        );
        assert!(d.line >= 1 && d.column >= 1);
    } else {
        assert_eq!((d.line, d.column), (0, 0), "{}", d.message);
    }
    let text = d.render();
    assert!(text.starts_with("error: "), "{text}");
    if d.span().is_some() {
        assert!(text.contains(" --> pipeline.toml:"), "{text}");
    }
}

fn check_manifest(m: &Manifest, source: &str) {
    let names: HashSet<&str> = m.stages.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(names.len(), m.stages.len(), "duplicate stage names");

    let order = m.topo_order();
    assert_eq!(
        order.len(),
        m.stages.len(),
        "topo_order misses or repeats stages"
    );
    let pos = |name: &str| order.iter().position(|n| *n == name);
    for stage in &m.stages {
        let me = pos(&stage.name).expect("stage missing from topo_order");
        for need in &stage.needs {
            assert!(
                names.contains(need.as_str()),
                "unknown need `{need}` accepted"
            );
            let them = pos(need).expect("need missing from topo_order");
            assert!(them < me, "`{}` comes before its need `{need}`", stage.name);
        }
        let closure = m
            .closure(std::slice::from_ref(&stage.name))
            .expect("closure of an existing stage");
        assert_eq!(closure.last(), Some(&stage.name));
        for span in [
            stage.span,
            stage.plugin_span,
            m.config_span(&stage.name, "/x/0"),
        ] {
            assert!(
                span.start <= span.end && span.end <= source.len(),
                "{span:?}"
            );
        }
        let d = m.diag(stage.plugin_span, "probe");
        check_diagnostic(&d, source);
    }
    assert!(m.closure(&["\u{0}no such stage".to_string()]).is_err());

    let again = Manifest::parse(Path::new("pipeline.toml"), source).expect("parses twice");
    assert_eq!(again.stages, m.stages, "parsing is not deterministic");
    assert_eq!(again.secrets, m.secrets);
}
