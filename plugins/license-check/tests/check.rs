//! The whole check over the fixtures (see `tests/fixtures/README.md`): which findings
//! a user gets for a policy, where they point, and that fingerprints are stable.

use std::path::{Path, PathBuf};

use license_check::check::{CheckOutput, Checker, Config, Finding, Level};

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

fn config(json: serde_json::Value) -> Config {
    serde_json::from_value(json).expect("valid config")
}

fn run(root: &Path, json: serde_json::Value) -> CheckOutput {
    Checker::new(&config(json))
        .expect("valid config")
        .run(root)
        .expect("runs")
}

fn base() -> serde_json::Value {
    serde_json::json!({
        "allow": ["MIT", "Apache-2.0", "BSD-3-Clause", "ISC", "Zlib", "CC0-1.0"],
        "deny": ["GPL-3.0-only", "GPL-3.0-or-later"],
        "cargo": { "lockfile": "cargo/Cargo.lock", "registry": ["cargo/registry/src"] },
        "python": ["python/site-packages"],
        "npm": ["npm/node_modules"],
        "files": { "paths": ["repo"], "exclude": ["vendor"] },
    })
}

fn find<'a>(out: &'a CheckOutput, rule: &str, needle: &str) -> &'a Finding {
    out.findings
        .iter()
        .find(|f| {
            f.rule_id == rule
                && (f.package.as_deref().is_some_and(|p| p.contains(needle))
                    || f.path.contains(needle))
        })
        .unwrap_or_else(|| {
            panic!(
                "no `{rule}` finding for `{needle}`; got:\n{}",
                out.findings
                    .iter()
                    .map(|f| format!("{} {} {:?} {}", f.rule_id, f.path, f.package, f.message))
                    .collect::<Vec<_>>()
                    .join("\n")
            )
        })
}

fn verdict<'a>(out: &'a CheckOutput, name: &str) -> &'a str {
    out.packages
        .iter()
        .find(|p| p.name == name)
        .map(|p| p.verdict)
        .unwrap_or_else(|| panic!("no package {name}"))
}

#[test]
fn denied_licence_is_an_error_at_the_lockfile_line() {
    let out = run(&fixtures(), base());
    let f = find(&out, "license-denied", "cargo:gamma@2.0.0");
    assert_eq!(f.level, Level::Error);
    assert_eq!((f.path.as_str(), f.line), ("cargo/Cargo.lock", Some(49)));
    assert!(f.message.contains("`GPL-3.0-only`"), "{}", f.message);
    assert!(
        f.message.contains("gamma-2.0.0/Cargo.toml"),
        "names where it was read: {}",
        f.message
    );
    let f = find(&out, "license-denied", "pypi:oldlib@1.0");
    assert_eq!(f.path, "python/site-packages/oldlib-1.0.dist-info/METADATA");
    assert_eq!(f.line, Some(6));
}

#[test]
fn not_allowed_names_the_licence_and_how_to_accept_it() {
    let out = run(&fixtures(), base());
    let f = find(&out, "license-not-allowed", "npm:left-pad@1.3.0");
    assert!(f.message.contains("not allowed: `WTFPL`"), "{}", f.message);
    assert!(
        f.message.contains("exceptions = [{ package = \"left-pad\""),
        "{}",
        f.message
    );
    let f = find(&out, "license-not-allowed", "npm:private@0.1.0");
    assert!(
        f.message.contains("declared as UNLICENSED"),
        "{}",
        f.message
    );
}

#[test]
fn allowed_packages_produce_no_findings() {
    let out = run(&fixtures(), base());
    for name in [
        "alpha",
        "beta",
        "eta",
        "app",
        "attrs",
        "requests",
        "textlic",
        "@scope/thing",
        "legacy",
        "nested",
        "seefile",
        "objtype",
    ] {
        assert_eq!(verdict(&out, name), "allowed", "{name}");
        assert!(
            out.findings
                .iter()
                .all(|f| f.rule_id == "license-expression-deprecated"
                    || !f
                        .package
                        .as_deref()
                        .is_some_and(|p| p.contains(&format!(":{name}@")))),
            "{name} has findings"
        );
    }
}

#[test]
fn invalid_expressions_point_at_the_bad_token() {
    let out = run(&fixtures(), base());
    let f = find(&out, "license-expression-invalid", "cargo:epsilon@1.2.3");
    assert!(
        f.message
            .contains("column 8: unknown SPDX licence id `Apache`; did you mean `Apache-2.0`?"),
        "{}",
        f.message
    );
    assert!(
        f.message.contains("MIT OR Apache 2.0\n       ^^^^^^"),
        "{}",
        f.message
    );
    let f = find(&out, "license-expression-invalid", "npm:badexpr@1.0.0");
    // "license": "MIT AND" — the expression starts at column 15 of line 4; the
    // missing operand is reported just past its end.
    assert_eq!((f.line, f.column), (Some(4), Some(22)));
    let f = find(&out, "license-expression-invalid", "src/bad.py");
    assert_eq!((f.line, f.column), (Some(2), Some(35)));
    assert!(
        f.message.contains("did you mean `Apache-2.0`"),
        "{}",
        f.message
    );
}

#[test]
fn unknown_licences_are_errors_by_default_and_warnings_on_request() {
    let out = run(&fixtures(), base());
    for needle in [
        "cargo:delta@0.1.0",
        "cargo:zeta@0.9.0",
        "cargo:tool@0.1.0",
        "pypi:vague@0.1",
        "npm:nolicense@1.0.0",
        "third_party/notice/COPYING",
    ] {
        assert_eq!(
            find(&out, "license-unknown", needle).level,
            Level::Error,
            "{needle}"
        );
    }
    let mut cfg = base();
    cfg["unknown"] = "warning".into();
    let out = run(&fixtures(), cfg);
    assert_eq!(
        find(&out, "license-unknown", "cargo:delta").level,
        Level::Warning
    );
    assert_eq!(
        find(&out, "license-expression-invalid", "cargo:epsilon").level,
        Level::Warning
    );
}

#[test]
fn deprecated_syntax_is_a_note_and_still_evaluated() {
    let out = run(&fixtures(), base());
    let f = find(&out, "license-expression-deprecated", "cargo:alpha@1.0.0");
    assert_eq!(f.level, Level::Note);
    assert!(
        f.message.contains("read as `MIT OR Apache-2.0`"),
        "{}",
        f.message
    );
    assert_eq!(verdict(&out, "alpha"), "allowed");
    let f = find(&out, "license-expression-deprecated", "src/old.sh");
    assert_eq!((f.line, f.column), (Some(2), Some(28)));
}

#[test]
fn file_headers_and_licence_files_follow_the_policy() {
    let out = run(&fixtures(), base());
    let f = find(&out, "license-not-allowed", "src/gpl.c");
    assert!(f.message.contains("`GPL-2.0-or-later`"), "{}", f.message);
    assert_eq!((f.line, f.column), (Some(1), Some(29)));
    assert!(
        out.findings.iter().all(|f| f.path != "repo/LICENSE"),
        "MIT LICENSE is allowed"
    );
    assert!(
        out.findings
            .iter()
            .all(|f| !f.path.starts_with("repo/vendor")),
        "excluded"
    );
    // LICENSE, src/main.rs, attrs, longtext.
    assert_eq!(
        out.by_expression.get("MIT").copied(),
        Some(4),
        "{:?}",
        out.by_expression
    );
}

#[test]
fn spdx_header_missing_is_off_by_default() {
    let out = run(&fixtures(), base());
    assert!(
        out.findings
            .iter()
            .all(|f| f.rule_id != "spdx-header-missing")
    );
    let mut cfg = base();
    cfg["files"]["require-header"] = serde_json::json!(["repo/src/*.rs"]);
    let out = run(&fixtures(), cfg);
    let f = find(&out, "spdx-header-missing", "repo/src/nohdr.rs");
    assert_eq!(f.level, Level::Warning);
}

#[test]
fn exceptions_accept_one_package_and_unused_ones_are_noted() {
    let mut cfg = base();
    cfg["exceptions"] = serde_json::json!([
        { "package": "left-pad", "allow": ["WTFPL"], "reason": "vendored build tool" },
        { "package": "gamma", "version": "2.0.0", "ecosystem": "cargo", "allow": ["GPL-3.0-only"], "reason": "dev tool only" },
        { "package": "gone", "allow": ["MIT"] },
    ]);
    let out = run(&fixtures(), cfg);
    assert_eq!(verdict(&out, "left-pad"), "allowed");
    assert_eq!(verdict(&out, "gamma"), "allowed");
    let f = find(&out, "license-exception-unused", "");
    assert!(f.message.contains("`gone`"), "{}", f.message);
    assert_eq!(
        out.findings
            .iter()
            .filter(|f| f.rule_id == "license-exception-unused")
            .count(),
        1
    );
}

#[test]
fn inventory_mode_without_allow_reports_only_deny_and_unknown() {
    let mut cfg = base();
    cfg["allow"] = serde_json::json!([]);
    let out = run(&fixtures(), cfg);
    assert!(
        out.findings
            .iter()
            .all(|f| f.rule_id != "license-not-allowed")
    );
    assert_eq!(verdict(&out, "left-pad"), "listed");
    assert_eq!(verdict(&out, "gamma"), "denied");
    assert!(
        out.by_license.get("MIT").copied().unwrap_or(0) >= 8,
        "{:?}",
        out.by_license
    );
}

#[test]
fn fingerprints_survive_line_moves_and_change_with_the_version() {
    let tmp = std::env::temp_dir().join(format!("license-check-fp-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&tmp);
    copy_dir(&fixtures().join("cargo"), &tmp);
    let cfg = serde_json::json!({
        "allow": ["MIT"], "deny": ["GPL-3.0-only"],
        "cargo": { "registry": ["registry/src"] }, "files": { "paths": [] },
    });
    let before = run(&tmp, cfg.clone());
    let lock = std::fs::read_to_string(tmp.join("Cargo.lock")).expect("copied");
    std::fs::write(tmp.join("Cargo.lock"), format!("# moved\n\n\n{lock}")).expect("write");
    let after = run(&tmp, cfg.clone());
    let fps = |o: &CheckOutput| {
        o.findings
            .iter()
            .map(|f| (f.rule_id, f.fingerprint.clone()))
            .collect::<Vec<_>>()
    };
    assert_eq!(fps(&before), fps(&after));
    let gamma = |o: &CheckOutput| find(o, "license-denied", "gamma").clone();
    assert_eq!(gamma(&after).line, gamma(&before).line.map(|l| l + 3));
    // A different version of the same crate is a different finding.
    std::fs::write(
        tmp.join("Cargo.lock"),
        lock.replace(
            "name = \"gamma\"\nversion = \"2.0.0\"",
            "name = \"gamma\"\nversion = \"1.0.0\"",
        ),
    )
    .expect("write");
    std::fs::write(
        tmp.join("registry/src/index.example-0123456789abcdef/gamma-1.0.0/Cargo.toml"),
        "[package]\nname = \"gamma\"\nversion = \"1.0.0\"\nlicense = \"GPL-3.0-only\"\n",
    )
    .expect("write");
    let bumped = run(&tmp, cfg);
    assert_ne!(gamma(&bumped).fingerprint, gamma(&before).fingerprint);
    assert_eq!(gamma(&before).fingerprint.len(), 32);
    let _ = std::fs::remove_dir_all(&tmp);
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("mkdir");
    for e in std::fs::read_dir(from).expect("read").flatten() {
        let p = e.path();
        if p.is_dir() {
            copy_dir(&p, &to.join(e.file_name()));
        } else {
            std::fs::copy(&p, to.join(e.file_name())).expect("copy");
        }
    }
}

#[test]
fn config_errors_name_the_key() {
    let bad = |json: serde_json::Value| match Checker::new(&config(json)) {
        Ok(_) => panic!("should be refused"),
        Err(e) => e,
    };
    assert!(
        bad(serde_json::json!({ "cargo": { "registry": ["/root/.cargo/registry/src"] } }))
            .contains("`cargo.registry[0]`")
    );
    assert!(bad(serde_json::json!({ "python": ["../venv"] })).contains("`python[0]`"));
    assert!(
        bad(serde_json::json!({ "files": { "exclude": [""] } })).contains("`files.exclude[0]`")
    );
    assert!(bad(serde_json::json!({ "allow": ["MIT License"] })).contains("`allow[0]`"));
    let e = serde_json::from_value::<Config>(serde_json::json!({ "alow": ["MIT"] }))
        .expect_err("unknown key");
    assert!(e.to_string().contains("unknown field `alow`"), "{e}");
}

#[test]
fn a_missing_registry_directory_is_a_run_error_with_a_hint() {
    let e = Checker::new(&config(serde_json::json!({
        "cargo": { "lockfile": "cargo/Cargo.lock", "registry": ["no/such/dir"] }
    })))
    .expect("valid config")
    .run(&fixtures())
    .expect_err("missing dir");
    assert!(e.contains("`no/such/dir`") && e.contains("hint:"), "{e}");
}
