use super::*;
use crate::spdx::parse;

fn s(v: &[&str]) -> Vec<String> {
    v.iter().map(|x| x.to_string()).collect()
}

fn policy(allow: &[&str], deny: &[&str]) -> Policy {
    Policy::new(&s(allow), &s(deny), &[]).expect("valid policy")
}

fn verdict(p: &Policy, expr: &str) -> Verdict {
    p.evaluate(&parse(expr).expect("parses").expr, None).verdict
}

fn names(v: &[Requirement]) -> Vec<String> {
    v.iter().map(|r| r.to_string()).collect()
}

#[test]
fn one_allowed_branch_is_enough() {
    let p = policy(&["MIT"], &[]);
    match verdict(&p, "GPL-3.0-only OR MIT") {
        Verdict::Allowed { chosen } => assert_eq!(names(&chosen), ["MIT"]),
        v => panic!("{v:?}"),
    }
}

#[test]
fn and_needs_every_operand() {
    let p = policy(&["MIT", "Apache-2.0"], &[]);
    match verdict(&p, "(MIT OR Apache-2.0) AND ISC") {
        Verdict::NotAllowed { missing } => assert_eq!(names(&missing), ["ISC"]),
        v => panic!("{v:?}"),
    }
    let p = policy(&["MIT", "ISC"], &[]);
    match verdict(&p, "(Apache-2.0 OR MIT) AND ISC") {
        Verdict::Allowed { chosen } => assert_eq!(names(&chosen), ["MIT", "ISC"]),
        v => panic!("{v:?}"),
    }
}

#[test]
fn not_allowed_reports_the_closest_choice() {
    let p = policy(&["MIT"], &[]);
    // Branch 1 misses two licences, branch 2 only one.
    match verdict(&p, "(GPL-3.0-only AND LGPL-3.0-only) OR (MIT AND Zlib)") {
        Verdict::NotAllowed { missing } => assert_eq!(names(&missing), ["Zlib"]),
        v => panic!("{v:?}"),
    }
}

#[test]
fn denied_only_when_every_choice_needs_a_denied_licence() {
    let p = policy(&["MIT"], &["GPL-3.0-only"]);
    assert!(matches!(
        verdict(&p, "GPL-3.0-only OR MIT"),
        Verdict::Allowed { .. }
    ));
    match verdict(&p, "GPL-3.0-only AND MIT") {
        Verdict::Denied { denied } => assert_eq!(names(&denied), ["GPL-3.0-only"]),
        v => panic!("{v:?}"),
    }
    // One branch is denied, the other merely not allowed: not allowed wins.
    assert!(matches!(
        verdict(&p, "GPL-3.0-only OR Zlib"),
        Verdict::NotAllowed { .. }
    ));
}

#[test]
fn deny_without_exception_covers_the_licence_with_any_exception() {
    let p = policy(&["MIT"], &["GPL-2.0-only"]);
    assert!(matches!(
        verdict(&p, "GPL-2.0-only WITH Classpath-exception-2.0"),
        Verdict::Denied { .. }
    ));
    let p = policy(&["MIT"], &["GPL-2.0-only WITH Classpath-exception-2.0"]);
    assert!(matches!(
        verdict(&p, "GPL-2.0-only"),
        Verdict::NotAllowed { .. }
    ));
}

#[test]
fn deprecated_spellings_meet_current_entries() {
    let p = policy(&["GPL-2.0-or-later"], &[]);
    assert!(matches!(verdict(&p, "GPL-2.0+"), Verdict::Allowed { .. }));
    let p = policy(&["MIT", "Apache-2.0"], &[]);
    assert!(matches!(
        verdict(&p, "MIT/Apache-2.0"),
        Verdict::Allowed { .. }
    ));
}

#[test]
fn or_later_dependency_fits_a_later_allowed_version() {
    let p = policy(&["GPL-3.0-only"], &[]);
    assert!(matches!(
        verdict(&p, "GPL-2.0-or-later"),
        Verdict::Allowed { .. }
    ));
    assert!(matches!(
        verdict(&p, "GPL-2.0-only"),
        Verdict::NotAllowed { .. }
    ));
}

#[test]
fn llvm_exception_needs_its_own_entry() {
    let p = policy(&["Apache-2.0"], &[]);
    assert!(matches!(
        verdict(&p, "Apache-2.0 WITH LLVM-exception"),
        Verdict::NotAllowed { .. }
    ));
    // wasmtime's crates offer a plain Apache-2.0 branch too.
    assert!(matches!(
        verdict(&p, "Apache-2.0 WITH LLVM-exception OR Apache-2.0 OR MIT"),
        Verdict::Allowed { .. }
    ));
}

#[test]
fn ring_style_conjunction() {
    let p = policy(&["MIT", "Apache-2.0", "BSD-3-Clause"], &[]);
    let ring = "ISC AND (Apache-2.0 OR ISC) AND Apache-2.0 AND MIT AND BSD-3-Clause AND (Apache-2.0 OR ISC OR MIT) AND (Apache-2.0 OR ISC OR MIT-0)";
    match verdict(&p, ring) {
        Verdict::NotAllowed { missing } => assert_eq!(names(&missing), ["ISC"]),
        v => panic!("{v:?}"),
    }
    let p = policy(&["MIT", "Apache-2.0", "BSD-3-Clause", "ISC"], &[]);
    assert!(matches!(verdict(&p, ring), Verdict::Allowed { .. }));
}

#[test]
fn exceptions_apply_to_their_package_and_version_only() {
    let ex = vec![ExceptionConfig {
        package: "webpki-roots".into(),
        version: Some("1.0.10".into()),
        ecosystem: Some("cargo".into()),
        allow: s(&["CDLA-Permissive-2.0"]),
        reason: Some("CA data, not code".into()),
    }];
    let p = Policy::new(&s(&["MIT"]), &[], &ex).expect("valid");
    let expr = parse("CDLA-Permissive-2.0").expect("parses").expr;
    let pkg = |name, version, ecosystem| {
        Some(PackageRef {
            ecosystem,
            name,
            version,
        })
    };
    let e = p.evaluate(&expr, pkg("webpki-roots", "1.0.10", "cargo"));
    assert!(matches!(e.verdict, Verdict::Allowed { .. }));
    assert_eq!(e.exception, Some(0));
    assert_eq!(e.exception_reason.as_deref(), Some("CA data, not code"));
    for (n, v, eco) in [
        ("webpki-roots", "1.0.9", "cargo"),
        ("other", "1.0.10", "cargo"),
        ("webpki-roots", "1.0.10", "npm"),
    ] {
        let e = p.evaluate(&expr, pkg(n, v, eco));
        assert!(
            matches!(e.verdict, Verdict::NotAllowed { .. }),
            "{n} {v} {eco}"
        );
        assert_eq!(e.exception, None);
    }
    // Already allowed: the exception is not credited.
    let e = p.evaluate(
        &parse("MIT").expect("parses").expr,
        pkg("webpki-roots", "1.0.10", "cargo"),
    );
    assert_eq!(e.exception, None);
}

#[test]
fn exception_lifts_a_global_deny_for_its_package() {
    let ex = vec![ExceptionConfig {
        package: "readline".into(),
        version: None,
        ecosystem: None,
        allow: s(&["GPL-3.0-only"]),
        reason: None,
    }];
    let p = Policy::new(&s(&["MIT"]), &s(&["GPL-3.0-only"]), &ex).expect("valid");
    let expr = parse("GPL-3.0-only").expect("parses").expr;
    let e = p.evaluate(
        &expr,
        Some(PackageRef {
            ecosystem: "pypi",
            name: "readline",
            version: "8",
        }),
    );
    assert!(matches!(e.verdict, Verdict::Allowed { .. }));
    assert!(matches!(
        p.evaluate(&expr, None).verdict,
        Verdict::Denied { .. }
    ));
}

#[test]
fn bad_entries_are_refused_with_their_key() {
    let e = Policy::new(&s(&["MIT", "Apache 2.0"]), &[], &[]).expect_err("bad");
    assert!(e.contains("`allow[1]` = `Apache 2.0`"), "{e}");
    assert!(
        e.contains("column 1: unknown SPDX licence id `Apache`; did you mean `Apache-2.0`?"),
        "{e}"
    );
    let e = Policy::new(&s(&["MIT OR ISC"]), &[], &[]).expect_err("compound");
    assert!(e.contains("one licence"), "{e}");
    let e = Policy::new(&s(&["MIT"]), &s(&["mit"]), &[]).expect_err("conflict");
    assert!(e.contains("both allowed"), "{e}");
    let ex = vec![ExceptionConfig {
        package: "x".into(),
        version: None,
        ecosystem: Some("maven".into()),
        allow: s(&["MIT"]),
        reason: None,
    }];
    let e = Policy::new(&[], &[], &ex).expect_err("ecosystem");
    assert!(e.contains("exceptions[0].ecosystem"), "{e}");
    let ex = vec![ExceptionConfig {
        package: "x".into(),
        version: None,
        ecosystem: None,
        allow: vec![],
        reason: None,
    }];
    assert!(
        Policy::new(&[], &[], &ex)
            .expect_err("empty")
            .contains("empty `allow`")
    );
}
