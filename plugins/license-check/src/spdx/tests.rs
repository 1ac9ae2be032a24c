use super::*;

fn canon(s: &str) -> String {
    match parse(s) {
        Ok(p) => p.expr.to_string(),
        Err(e) => panic!("`{s}` should parse: {e}"),
    }
}

fn err(s: &str) -> ParseError {
    match parse(s) {
        Ok(p) => panic!("`{s}` should not parse, got `{}`", p.expr),
        Err(e) => e,
    }
}

fn leaf(id: &'static str) -> Expr {
    Expr::Leaf(Requirement {
        license: License::Spdx {
            id,
            or_later: false,
        },
        exception: None,
    })
}

#[test]
fn single_ids_parse_in_canonical_spelling() {
    assert_eq!(canon("MIT"), "MIT");
    assert_eq!(canon("mit"), "MIT");
    assert_eq!(canon("apache-2.0"), "Apache-2.0");
    assert_eq!(canon("  BSD-3-CLAUSE  "), "BSD-3-Clause");
    assert_eq!(canon("unicode-3.0"), "Unicode-3.0");
}

#[test]
fn and_binds_tighter_than_or() {
    let p = parse("MIT OR Apache-2.0 AND ISC").expect("parses");
    assert_eq!(
        p.expr,
        Expr::Or(vec![
            leaf("MIT"),
            Expr::And(vec![leaf("Apache-2.0"), leaf("ISC")])
        ])
    );
    let p = parse("MIT AND Apache-2.0 OR ISC").expect("parses");
    assert_eq!(
        p.expr,
        Expr::Or(vec![
            Expr::And(vec![leaf("MIT"), leaf("Apache-2.0")]),
            leaf("ISC")
        ])
    );
}

#[test]
fn with_binds_tighter_than_and() {
    let p = parse("MIT AND Apache-2.0 WITH LLVM-exception").expect("parses");
    let Expr::And(items) = &p.expr else {
        panic!("expected AND, got {:?}", p.expr)
    };
    assert_eq!(items.len(), 2);
    assert_eq!(
        items[1],
        Expr::Leaf(Requirement {
            license: License::Spdx {
                id: "Apache-2.0",
                or_later: false
            },
            exception: Some("LLVM-exception"),
        })
    );
}

#[test]
fn parentheses_override_precedence_and_print_back() {
    assert_eq!(
        canon("(MIT OR Apache-2.0) AND ISC"),
        "(MIT OR Apache-2.0) AND ISC"
    );
    assert_eq!(
        canon("MIT OR (Apache-2.0 AND ISC)"),
        "MIT OR Apache-2.0 AND ISC"
    );
    assert_eq!(canon("((MIT))"), "MIT");
}

#[test]
fn same_operator_nests_flatten() {
    assert_eq!(
        parse("MIT OR (Apache-2.0 OR Zlib)").expect("parses").expr,
        Expr::Or(vec![leaf("MIT"), leaf("Apache-2.0"), leaf("Zlib")])
    );
    assert_eq!(
        parse("(MIT AND ISC) AND Zlib").expect("parses").expr,
        Expr::And(vec![leaf("MIT"), leaf("ISC"), leaf("Zlib")])
    );
}

#[test]
fn gantry_tree_expressions_all_parse() {
    // Every distinct `license` string found in gantry's dependency tree.
    for s in [
        "MIT OR Apache-2.0",
        "Apache-2.0 WITH LLVM-exception OR Apache-2.0 OR MIT",
        "Unlicense OR MIT",
        "(Apache-2.0 OR MIT) AND BSD-3-Clause",
        "MIT OR Apache-2.0 OR LGPL-2.1-or-later",
        "(MIT OR Apache-2.0) AND Unicode-3.0",
        "ISC AND (Apache-2.0 OR ISC) AND Apache-2.0 AND MIT AND BSD-3-Clause AND (Apache-2.0 OR ISC OR MIT) AND (Apache-2.0 OR ISC OR MIT-0)",
        "CDLA-Permissive-2.0",
        "CC0-1.0 OR MIT-0 OR Apache-2.0",
        "Apache-2.0 OR BSL-1.0",
        "0BSD OR MIT OR Apache-2.0",
        "(MIT OR Apache-2.0) AND Unicode-DFS-2016",
        "BSD-3-Clause AND BSD-2-Clause",
        "Apache-2.0 AND ISC",
        "MPL-2.0",
    ] {
        let p = parse(s).unwrap_or_else(|e| panic!("`{s}`: {e}"));
        assert!(p.quirks.is_empty(), "`{s}`: {:?}", p.quirks);
    }
}

#[test]
fn slash_is_deprecated_or_with_quirk_column() {
    let p = parse("MIT/Apache-2.0").expect("parses");
    assert_eq!(p.expr.to_string(), "MIT OR Apache-2.0");
    assert_eq!(p.quirks.len(), 1);
    assert_eq!(p.quirks[0].column, 4);
    assert!(p.quirks[0].message.contains("`/`"));
    let p = parse("Apache-2.0 / MIT").expect("parses");
    assert_eq!(p.expr.to_string(), "Apache-2.0 OR MIT");
    assert_eq!(p.quirks[0].column, 12);
    // `/` has OR's precedence: A/B AND C = A OR (B AND C).
    assert_eq!(canon("MIT/Apache-2.0 AND ISC"), "MIT OR Apache-2.0 AND ISC");
}

#[test]
fn lower_case_operators_are_accepted_and_reported() {
    let p = parse("mit or apache-2.0 and isc").expect("parses");
    assert_eq!(p.expr.to_string(), "MIT OR Apache-2.0 AND ISC");
    assert_eq!(p.quirks.len(), 2);
    assert_eq!(p.quirks[0].column, 5);
    let p = parse("Apache-2.0 with LLVM-exception").expect("parses");
    assert_eq!(p.expr.to_string(), "Apache-2.0 WITH LLVM-exception");
    assert_eq!(p.quirks.len(), 1);
}

#[test]
fn plus_suffix_means_or_later() {
    let p = parse("MPL-1.1+").expect("parses");
    assert_eq!(
        p.expr,
        Expr::Leaf(Requirement {
            license: License::Spdx {
                id: "MPL-1.1",
                or_later: true
            },
            exception: None
        })
    );
    assert_eq!(p.expr.to_string(), "MPL-1.1+");
    assert!(p.quirks.is_empty());
}

#[test]
fn deprecated_gnu_ids_map_to_current_ones() {
    let p = parse("GPL-2.0+").expect("parses");
    assert_eq!(p.expr.to_string(), "GPL-2.0-or-later");
    assert!(p.quirks[0].message.contains("GPL-2.0-or-later"));
    assert_eq!(canon("GPL-3.0"), "GPL-3.0-only");
    assert_eq!(canon("LGPL-2.1+"), "LGPL-2.1-or-later");
    assert_eq!(canon("lgpl-2.1"), "LGPL-2.1-only");
    assert_eq!(
        canon("GPL-2.0-with-classpath-exception"),
        "GPL-2.0-only WITH Classpath-exception-2.0"
    );
    // `-only+` is contradictory; read as or-later.
    assert_eq!(canon("GPL-2.0-only+"), "GPL-2.0-or-later");
}

#[test]
fn license_refs_keep_their_spelling() {
    assert_eq!(canon("LicenseRef-Acme-1.0"), "LicenseRef-Acme-1.0");
    assert_eq!(canon("licenseref-acme"), "LicenseRef-acme");
    assert_eq!(
        canon("DocumentRef-spdx-tool-1.2:LicenseRef-MIT-Style-2"),
        "DocumentRef-spdx-tool-1.2:LicenseRef-MIT-Style-2"
    );
    assert_eq!(canon("MIT AND LicenseRef-x"), "MIT AND LicenseRef-x");
}

#[test]
fn unknown_id_names_its_column_and_a_suggestion() {
    let e = err("MIT OR Apache-2");
    assert_eq!(e.column, 8);
    assert_eq!(e.len, 8);
    assert!(
        e.message.contains("unknown SPDX licence id `Apache-2`"),
        "{e}"
    );
    assert!(e.message.contains("did you mean `Apache-2.0`"), "{e}");
    assert_eq!(e.to_string().split(':').next(), Some("column 8"));
}

#[test]
fn unknown_id_without_close_match_suggests_licenseref() {
    let e = err("Proprietary");
    assert_eq!(e.column, 1);
    assert!(e.message.contains("LicenseRef-"), "{e}");
}

#[test]
fn free_text_is_refused_at_the_second_word() {
    let e = err("MIT License");
    assert_eq!(e.column, 5);
    assert!(e.message.contains("expected AND, OR or WITH"), "{e}");
}

#[test]
fn unknown_exception_is_refused_with_hint() {
    let e = err("Apache-2.0 WITH LLVM-exeption");
    assert_eq!(e.column, 17);
    assert!(e.message.contains("unknown licence exception"), "{e}");
    assert!(e.message.contains("LLVM-exception"), "{e}");
}

#[test]
fn licence_after_with_is_refused() {
    let e = err("Apache-2.0 WITH MIT");
    assert_eq!(e.column, 17);
    assert!(e.message.contains("is a licence, not an exception"), "{e}");
}

#[test]
fn exception_in_licence_position_is_refused() {
    let e = err("MIT OR LLVM-exception");
    assert_eq!(e.column, 8);
    assert!(e.message.contains("write it after WITH"), "{e}");
}

#[test]
fn with_after_parentheses_is_refused() {
    let e = err("(MIT OR Apache-2.0) WITH LLVM-exception");
    assert_eq!(e.column, 21);
    assert!(e.message.contains("single licence"), "{e}");
}

#[test]
fn unbalanced_parentheses_are_refused() {
    let e = err("(MIT OR Apache-2.0");
    assert_eq!(e.column, 1);
    assert!(e.message.contains("never closed"), "{e}");
    let e = err("MIT OR Apache-2.0)");
    assert_eq!(e.column, 18);
    assert!(e.message.contains("unmatched `)`"), "{e}");
    let e = err("()");
    assert_eq!(e.column, 2);
}

#[test]
fn dangling_and_doubled_operators_are_refused() {
    let e = err("MIT OR");
    assert_eq!(e.column, 7);
    assert!(e.message.contains("unexpected end"), "{e}");
    let e = err("MIT AND OR ISC");
    assert_eq!(e.column, 9);
    let e = err("OR MIT");
    assert_eq!(e.column, 1);
    let e = err("Apache-2.0 WITH");
    assert!(e.message.contains("exception id after WITH"), "{e}");
}

#[test]
fn empty_expression_is_refused() {
    assert!(err("").message.contains("empty"));
    assert!(err("   ").message.contains("empty"));
}

#[test]
fn bad_characters_are_refused_with_column() {
    let e = err("MIT, Apache-2.0");
    assert_eq!(e.column, 4);
    assert!(e.message.contains("unexpected character `,`"), "{e}");
    let e = err("MIT OR Apache-2.0 & ISC");
    assert_eq!(e.column, 19);
}

#[test]
fn columns_count_characters_not_bytes() {
    let e = err("MIT OR ünknown");
    assert_eq!(e.column, 8);
    let e = err("« MIT");
    assert_eq!(e.column, 1);
}

#[test]
fn plus_rules() {
    let e = err("LicenseRef-x+");
    assert!(e.message.contains("not allowed after a LicenseRef"), "{e}");
    let e = err("MIT +");
    assert_eq!(e.column, 5);
    assert!(e.message.contains("no space"), "{e}");
    let e = err("+MIT");
    assert_eq!(e.column, 1);
}

#[test]
fn malformed_refs_are_refused() {
    assert!(err("LicenseRef-").message.contains("needs a name"));
    assert!(err("DocumentRef-x:MIT").message.contains("LicenseRef"));
    assert!(err("foo:bar").message.contains("`:`"));
}

#[test]
fn render_points_at_the_token() {
    let s = "MIT OR Apache-2";
    let e = err(s);
    assert_eq!(e.render(s), "MIT OR Apache-2\n       ^^^^^^^^");
}

#[test]
fn requirements_lists_leaves_in_order() {
    let p = parse("(MIT OR Apache-2.0) AND ISC").expect("parses");
    let ids: Vec<String> = p
        .expr
        .requirements()
        .iter()
        .map(|r| r.to_string())
        .collect();
    assert_eq!(ids, ["MIT", "Apache-2.0", "ISC"]);
}

#[test]
fn parse_single_refuses_compound_entries() {
    assert!(Requirement::parse_single("Apache-2.0 WITH LLVM-exception").is_ok());
    let e = Requirement::parse_single("MIT OR ISC").expect_err("compound");
    assert!(e.message.contains("one licence"));
}

fn req(s: &str) -> Requirement {
    Requirement::parse_single(s).unwrap_or_else(|e| panic!("{s}: {e}"))
}

#[test]
fn covered_by_exact_and_case_insensitive() {
    assert!(req("mit").covered_by(&req("MIT")));
    assert!(!req("MIT").covered_by(&req("MIT-0")));
    assert!(req("LicenseRef-Acme").covered_by(&req("licenseref-acme")));
    assert!(!req("LicenseRef-Acme").covered_by(&req("DocumentRef-d:LicenseRef-Acme")));
}

#[test]
fn exceptions_must_match_exactly() {
    let with = req("Apache-2.0 WITH LLVM-exception");
    assert!(!with.covered_by(&req("Apache-2.0")));
    assert!(with.covered_by(&req("Apache-2.0 WITH LLVM-exception")));
    assert!(!req("Apache-2.0").covered_by(&with));
}

#[test]
fn or_later_is_covered_by_later_versions_only() {
    assert!(req("GPL-2.0-or-later").covered_by(&req("GPL-3.0-only")));
    assert!(req("GPL-2.0-or-later").covered_by(&req("GPL-2.0-only")));
    assert!(req("GPL-2.0+").covered_by(&req("GPL-3.0-or-later")));
    assert!(req("MPL-1.1+").covered_by(&req("MPL-2.0")));
    assert!(!req("GPL-3.0-or-later").covered_by(&req("GPL-2.0-only")));
    assert!(!req("GPL-2.0-or-later").covered_by(&req("LGPL-3.0-only")));
    assert!(!req("GPL-2.0-only").covered_by(&req("GPL-3.0-only")));
    // A fixed version is not covered by an "or later" grant of the same version:
    // the entry names a different licence grant.
    assert!(!req("GPL-2.0-only").covered_by(&req("GPL-2.0-or-later")));
    assert!(!req("MPL-2.0").covered_by(&req("MPL-1.1+")));
}

#[test]
fn table_deprecations_resolve_to_current_ids() {
    for (old, lic, exc) in ids::DEPRECATED_WITH {
        let id = ids::license_any(old).unwrap_or_else(|| panic!("{old} not on the list"));
        assert!(id.is_deprecated(), "{old} is current");
        assert!(ids::license(lic).is_some(), "{lic} unknown");
        assert!(ids::exception(exc).is_some(), "{exc} unknown");
    }
    for (old, new) in ids::RENAMED {
        let id = ids::license_any(old).unwrap_or_else(|| panic!("{old} not on the list"));
        assert!(id.is_deprecated(), "{old} is current");
        assert!(ids::license(new).is_some(), "{new} unknown");
    }
    // Every deprecated GNU id of the list has a current `-only` / `-or-later` form.
    for l in spdx::identifiers::LICENSES {
        let id = ids::license_any(l.name).expect("listed");
        if id.is_deprecated() && id.is_gnu() {
            let (new, _) = ids::replacement(id, false)
                .unwrap_or_else(|| panic!("{} has no replacement", l.name));
            assert!(ids::license(new).is_some(), "{} -> {new}", l.name);
        }
    }
}

#[test]
fn table_family_versions() {
    assert_eq!(
        ids::family_version("GPL-2.0-only"),
        Some(("GPL", vec![2, 0], Some(false)))
    );
    assert_eq!(
        ids::family_version("LGPL-2.1-or-later"),
        Some(("LGPL", vec![2, 1], Some(true)))
    );
    assert_eq!(
        ids::family_version("CC-BY-SA-4.0"),
        Some(("CC-BY-SA", vec![4, 0], None))
    );
    assert_eq!(ids::family_version("BSD-3-Clause"), None);
    assert_eq!(ids::family_version("MIT"), None);
}

#[test]
fn the_whole_spdx_list_is_known() {
    // Issue 15: on the SPDX list, refused by the hand-picked table of before.
    for id in ["Beerware", "libtiff", "ISC-Veillard", "Unicode-3.0", "Zlib"] {
        assert_eq!(canon(id), id);
    }
    assert_eq!(canon("beerware OR LIBTIFF"), "Beerware OR libtiff");
    assert_eq!(canon("MIT AND isc-veillard"), "MIT AND ISC-Veillard");
}

#[test]
fn legacy_cargo_slash_form() {
    let p = parse("MIT/Apache-2.0/Beerware").expect("parses");
    assert_eq!(p.expr.to_string(), "MIT OR Apache-2.0 OR Beerware");
    assert_eq!(
        p.quirks.iter().map(|q| q.column).collect::<Vec<_>>(),
        vec![4, 15]
    );
}

#[test]
fn imprecise_names_are_not_guessed() {
    // The crate's lax mode would read `apache` as Apache-2.0 and `gpl v2` as
    // GPL-2.0-only; a licence policy must not guess.
    assert!(
        err("apache")
            .message
            .contains("unknown SPDX licence id `apache`")
    );
    assert!(parse("gpl v2").is_err());
}

#[test]
fn deprecated_ids_without_a_replacement_are_kept_and_reported() {
    let p = parse("Nunit").expect("parses");
    assert_eq!(p.expr.to_string(), "zlib-acknowledgement");
    assert!(p.quirks[0].message.contains("zlib-acknowledgement"));
    let p = parse("eCos-2.0").expect("parses");
    assert_eq!(
        p.expr.to_string(),
        "GPL-2.0-or-later WITH eCos-exception-2.0"
    );
}
