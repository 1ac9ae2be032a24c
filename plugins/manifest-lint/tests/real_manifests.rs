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

/// gantry's own `deploy/kubernetes` passes every rule with the configuration its
/// pipeline uses; weakening any of the hardening there is reported.
#[test]
fn gantrys_own_manifests_pass_and_weakening_them_is_reported() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let config = Config {
        paths: vec!["deploy/kubernetes/*.yaml".into()],
        require_namespace: true,
        ..Config::default()
    };
    let linter = Linter::new(&config).expect("the pipeline's config");
    let out = linter.lint_tree(&root).expect("lint");
    assert!(out.files.len() >= 4, "{:?}", out.files);
    assert!(out.findings.is_empty(), "{:#?}", out.findings);

    let cronjob =
        std::fs::read_to_string(root.join("deploy/kubernetes/cronjob.yaml")).expect("cronjob.yaml");
    for (from, to, rule) in [
        ("runAsUser: 10001", "runAsUser: 0", "run-as-root"),
        (
            "allowPrivilegeEscalation: false",
            "allowPrivilegeEscalation: true",
            "privilege-escalation-allowed",
        ),
        (
            "readOnlyRootFilesystem: true",
            "",
            "read-only-root-filesystem-missing",
        ),
        (
            "type: RuntimeDefault",
            "type: Unconfined",
            "seccomp-profile-unset",
        ),
        (
            "automountServiceAccountToken: false",
            "",
            "service-account-token-mounted",
        ),
        ("drop: [ALL]", "drop: [NET_RAW]", "capabilities-not-dropped"),
        (
            "namespace: gantry-ci",
            "namespace: default",
            "default-namespace",
        ),
        (
            "limits: {cpu: \"2\", memory: 4Gi",
            "limits: {cpu: \"2\"",
            "memory-limits-missing",
        ),
    ] {
        assert!(cronjob.contains(from), "{from}");
        let weakened = cronjob.replace(from, to);
        let out = linter.lint_texts(&[("cronjob.yaml".to_string(), weakened)]);
        assert!(
            out.findings.iter().any(|f| f.rule_id == rule),
            "`{from}` → `{to}` is not reported as `{rule}`: {:#?}",
            out.findings
        );
    }
}
