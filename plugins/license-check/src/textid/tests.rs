use super::*;

/// Re-wraps `text` at `width` columns behind a comment marker, the way licence
/// notices sit at the top of source files.
fn reflow(text: &str, width: usize, marker: &str) -> String {
    let mut out = String::new();
    let mut line = String::new();
    for w in text.split_whitespace() {
        if line.len() + w.len() + 1 > width {
            out.push_str(marker);
            out.push_str(&line);
            out.push('\n');
            line.clear();
        }
        if !line.is_empty() {
            line.push(' ');
        }
        line.push_str(w);
    }
    out.push_str(marker);
    out.push_str(&line);
    out.push('\n');
    out
}

fn ids(text: &str) -> Vec<&'static str> {
    identify(text).into_iter().map(|i| i.id).collect()
}

fn fill(t: &str) -> String {
    // Fill the template's holes the way real files do.
    t.replace("<authors>", "AUTHORS OR COPYRIGHT HOLDERS")
        .replace("<holders>", "THE COPYRIGHT HOLDERS AND CONTRIBUTORS")
        .replace("<holder>", "the copyright holder")
}

#[test]
fn every_template_identifies_itself_reflowed_and_commented() {
    for t in TEMPLATES {
        let text = format!(
            "Copyright (c) 2021 Jane Doe <jane@example.org>\n\n{}",
            reflow(&fill(t.text), 60, " * ")
        );
        assert_eq!(ids(&text), [t.id], "template {}", t.id);
    }
}

#[test]
fn bsd_2_is_not_bsd_3_and_vice_versa() {
    assert_eq!(ids(&fill(BSD_2)), ["BSD-2-Clause"]);
    assert_eq!(ids(&fill(BSD_3)), ["BSD-3-Clause"]);
}

#[test]
fn mit_and_mit_0_and_isc_and_0bsd_are_told_apart() {
    assert_eq!(ids(&fill(MIT)), ["MIT"]);
    assert_eq!(ids(&fill(MIT_0)), ["MIT-0"]);
    assert_eq!(ids(ISC), ["ISC"]);
    assert_eq!(ids(ZERO_BSD), ["0BSD"]);
}

#[test]
fn gpl_version_and_or_later_come_from_the_notice() {
    assert_eq!(ids(GPL_NOTICE_2_LATER), ["GPL-2.0-or-later"]);
    assert_eq!(ids(GPL_NOTICE_3_LATER), ["GPL-3.0-or-later"]);
    assert_eq!(ids(LGPL_NOTICE_21_LATER), ["LGPL-2.1-or-later"]);
    // A full GPL-3.0 text carries the sample "or any later version" notice at its end;
    // the text alone is GPL-3.0-only.
    let full = format!(
        "{GPL_3_TEXT}\n\n[... terms ...]\n\nHow to Apply These Terms\n\n{GPL_NOTICE_3_LATER}"
    );
    assert_eq!(ids(&full), ["GPL-3.0-only"]);
}

#[test]
fn british_spelling_and_https_are_normalised() {
    let text = APACHE_2_NOTICE
        .replace("License", "Licence")
        .replace("http://", "https://");
    assert_eq!(ids(&text), ["Apache-2.0"]);
}

#[test]
fn a_dual_licence_file_yields_both() {
    let text = format!("{}\n\n-----\n\n{APACHE_2}", fill(MIT));
    let mut got = ids(&text);
    got.sort();
    assert_eq!(got, ["Apache-2.0", "MIT"]);
}

#[test]
fn truncated_or_altered_text_is_unknown() {
    let half: String = fill(MIT).chars().take(MIT.len() / 2).collect();
    assert!(ids(&half).is_empty(), "half of MIT must not match");
    // A "MIT with a non-commercial clause" is not MIT.
    let altered = fill(MIT)
        .replace(
            "to use, copy, modify, merge, publish, distribute, sublicense, and/or sell copies",
            "to use, copy and modify, for non-commercial purposes only, copies",
        )
        .replace(
            "shall be included in all copies",
            "must be kept in all copies",
        );
    assert!(ids(&altered).is_empty(), "{:?}", ids(&altered));
}

#[test]
fn prose_is_unknown() {
    assert!(ids("This crate is a fast SPDX parser. It is licensed like Rust itself.").is_empty());
    assert!(ids("").is_empty());
}

#[test]
fn copyright_lines_are_dropped_but_wrapped_notice_lines_kept() {
    assert!(is_copyright_line("Copyright (c) 2016 Alex Crichton"));
    assert!(is_copyright_line(
        "// Copyright 2018 Developers of the Rand project."
    ));
    assert!(is_copyright_line("(c) Example Corp"));
    assert!(!is_copyright_line(
        "copyright notice, this list of conditions and the following"
    ));
}
