//! Real manifests (tests/fixtures/README.md names their sources and licences) give
//! exactly the findings in `tests/fixtures/real/expected.txt`: a change in what a rule
//! reports on real files shows up as a diff to review.
//! `MANIFEST_LINT_BLESS=1 cargo test -p manifest-lint --test real_manifests` rewrites it.

use std::path::Path;

use manifest_lint::lint::{Config, Linter};

#[test]
fn real_manifests_give_the_expected_findings() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/real");
    let out = Linter::new(&Config::default())
        .expect("default config")
        .lint_tree(&dir)
        .expect("lint");
    assert_eq!(out.files.len(), 3, "{:?}", out.files);
    let got: String = out
        .findings
        .iter()
        .map(|f| format!("{}:{} {} {}\n", f.path, f.line, f.rule_id, f.message))
        .collect();
    let expected = dir.join("expected.txt");
    if std::env::var_os("MANIFEST_LINT_BLESS").is_some() {
        std::fs::write(&expected, &got).expect("write expected.txt");
        return;
    }
    let want = std::fs::read_to_string(&expected).unwrap_or_default();
    assert!(
        got == want,
        "findings on real manifests changed; review and bless:\n--- expected\n{want}\n--- got\n{got}"
    );
}
