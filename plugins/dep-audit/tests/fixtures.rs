//! Whole audits over `tests/fixtures/workspace` with real advisories copied from the
//! RustSec (CC0) and PyPA (CC-BY-4.0) databases, plus three synthetic ones
//! (`DEPAUDIT-TEST-*`, see `tests/fixtures/README.md`). Every test names the advisory
//! ids it expects.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use dep_audit::audit::{self, AuditError, AuditFinding, Config, Ignore, Level};

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

fn config(dbs: &[&str], paths: &[&str]) -> Config {
    Config {
        paths: paths.iter().map(|s| s.to_string()).collect(),
        databases: dbs.iter().map(|s| s.to_string()).collect(),
        ignore: Vec::new(),
        informational: true,
        index: None,
    }
}

fn run(cfg: &Config) -> audit::Audit {
    audit::run(&fixtures(), cfg).expect("audit runs")
}

fn ids(findings: &[AuditFinding]) -> BTreeSet<String> {
    findings
        .iter()
        .filter(|f| !f.ids.is_empty())
        .map(|f| f.rule_id.clone())
        .collect()
}

fn set(items: &[&str]) -> BTreeSet<String> {
    items.iter().map(|s| s.to_string()).collect()
}

fn find<'a>(out: &'a audit::Audit, id: &str) -> &'a AuditFinding {
    out.findings
        .iter()
        .find(|f| f.rule_id == id)
        .unwrap_or_else(|| panic!("no finding {id}"))
}

const CARGO_IDS: [&str; 10] = [
    "RUSTSEC-2018-0018",
    "RUSTSEC-2019-0009",
    "RUSTSEC-2019-0012",
    "RUSTSEC-2020-0071",
    "RUSTSEC-2021-0003",
    "RUSTSEC-2021-0145",
    "RUSTSEC-2022-0013",
    "RUSTSEC-2022-0022",
    "RUSTSEC-2024-0375",
    "RUSTSEC-2026-0009",
];

#[test]
fn cargo_lock_against_rustsec_osv() {
    let out = run(&config(
        &["advisories/rustsec-osv"],
        &["workspace/Cargo.lock"],
    ));
    assert_eq!(ids(&out.findings), set(&CARGO_IDS));
    // `dirs` 1.0.5 only has the withdrawn RUSTSEC-2020-0053; `time` 0.2.3 sits in an
    // unaffected hole of RUSTSEC-2020-0071; hyper 0.14.10 is the fixed version of
    // RUSTSEC-2021-0078/0079; the path crate `tokio` has no source and is skipped.
    assert!(
        out.findings
            .iter()
            .all(|f| f.package.as_deref() != Some("dirs"))
    );
    assert!(
        !out.findings
            .iter()
            .any(|f| f.version.as_deref() == Some("0.2.3"))
    );
    assert!(
        out.findings
            .iter()
            .all(|f| f.package.as_deref() != Some("tokio"))
    );
    assert_eq!(
        out.packages, 8,
        "10 [[package]] entries; `app` and `tokio` have no source (path crates)"
    );

    let t = find(&out, "RUSTSEC-2020-0071");
    assert_eq!(t.level, Level::Warning, "CVSS 6.2 is medium");
    assert_eq!(
        t.line,
        Some(45),
        "the `[[package]]` line of the time 0.1.45 entry"
    );
    assert!(
        t.message.contains("Severity: medium (CVSS 3.1 score 6.2)"),
        "{}",
        t.message
    );
    assert!(
        t.message.contains("`0.2.23`"),
        "fix suggested: {}",
        t.message
    );
    assert_eq!(
        t.ids,
        vec!["RUSTSEC-2020-0071", "GHSA-wcg3-cvx6-7396", "CVE-2020-26235"]
    );
    assert_eq!(
        t.help_uri.as_deref(),
        Some("https://rustsec.org/advisories/RUSTSEC-2020-0071.html")
    );

    let critical = find(&out, "RUSTSEC-2019-0009");
    assert_eq!(critical.level, Level::Error);
    assert!(critical.message.contains("critical (CVSS 3.0 score 9.8)"));
    let high = find(&out, "RUSTSEC-2022-0013");
    assert_eq!(high.level, Level::Error);
    assert!(high.message.contains("high (CVSS 3.1 score 7.5)"));

    // CVSS v4 only: scored by the `cvss` crate (it was "unknown" before issue 15).
    let v4 = find(&out, "RUSTSEC-2026-0009");
    assert_eq!(v4.level, Level::Warning, "{}", v4.message);
    assert!(
        v4.message.contains("Severity: medium (CVSS 4.0 score "),
        "{}",
        v4.message
    );

    let unsound = find(&out, "RUSTSEC-2021-0145");
    assert_eq!(
        (unsound.kind.as_str(), unsound.level),
        ("unsound", Level::Warning)
    );
    let unmaintained = find(&out, "RUSTSEC-2024-0375");
    assert_eq!(
        (unmaintained.kind.as_str(), unmaintained.level),
        ("unmaintained", Level::Note)
    );
}

#[test]
fn rustsec_native_format_agrees_with_osv_and_both_merge() {
    let native = run(&config(&["advisories/rustsec"], &["workspace/Cargo.lock"]));
    assert_eq!(ids(&native.findings), set(&CARGO_IDS));
    let t = find(&native, "RUSTSEC-2020-0071");
    assert!(t.message.contains("`>= 0.2.23`"), "{}", t.message);

    let both = run(&config(
        &["advisories/rustsec", "advisories/rustsec-osv"],
        &["workspace/Cargo.lock"],
    ));
    assert_eq!(ids(&both.findings), set(&CARGO_IDS));
    assert_eq!(
        both.findings.len(),
        CARGO_IDS.len(),
        "one finding per advisory, not two"
    );
}

#[test]
fn python_lockfiles_of_every_format() {
    let out = run(&config(
        &["advisories/pypa"],
        &[
            "workspace/requirements.txt",
            "workspace/poetry/poetry.lock",
            "workspace/uv/uv.lock",
            "workspace/pipenv/Pipfile.lock",
        ],
    ));
    let by_file = |file: &str| -> BTreeSet<String> {
        out.findings
            .iter()
            .filter(|f| f.path == file && !f.ids.is_empty())
            .map(|f| f.rule_id.clone())
            .collect()
    };
    assert_eq!(
        by_file("workspace/requirements.txt"),
        set(&[
            // Jinja2 2.10
            "PYSEC-2019-217",
            "PYSEC-2021-66",
            // requests 2.19.1
            "PYSEC-2018-28",
            "PYSEC-2023-74",
            // urllib3 1.24.1 (pinned with ===)
            "PYSEC-2019-132",
            "PYSEC-2019-133",
            "PYSEC-2020-148",
            "PYSEC-2021-108",
            "PYSEC-2023-192",
            "PYSEC-2023-207",
            "PYSEC-2023-212",
            // py 1.11.0: `last_affected: 1.11.0` is inclusive
            "PYSEC-2022-42969",
        ])
    );
    assert_eq!(
        by_file("workspace/poetry/poetry.lock"),
        set(&[
            "PYSEC-2023-120",
            "PYSEC-2023-246",
            "PYSEC-2023-250",
            "PYSEC-2023-251",
            "PYSEC-2024-24",
            "PYSEC-2024-26",
        ]),
        "aiohttp 3.8.4; jinja2 3.1.4 has no PyPA advisory in the fixtures"
    );
    assert_eq!(
        by_file("workspace/uv/uv.lock"),
        set(&["PYSEC-2021-108", "PYSEC-2023-192", "PYSEC-2023-212"]),
        "urllib3 1.26.4; the editable project `demo` is skipped"
    );
    assert_eq!(
        by_file("workspace/pipenv/Pipfile.lock"),
        set(&["PYSEC-2021-142"])
    );

    // Names are compared after PEP 503 normalisation (`Jinja2` vs `jinja2`), the line
    // is the first physical line of a continued requirement.
    let j = out
        .findings
        .iter()
        .find(|f| f.rule_id == "PYSEC-2019-217")
        .expect("jinja2");
    assert_eq!(j.line, Some(3));
    assert_eq!(j.package.as_deref(), Some("Jinja2"));
    let u = out
        .findings
        .iter()
        .find(|f| f.rule_id == "PYSEC-2023-192" && f.path.ends_with("requirements.txt"))
        .expect("urllib3");
    assert!(
        u.message.contains("Fixed in `1.26.17`, `2.0.6`"),
        "{}",
        u.message
    );
    assert_eq!(u.level, Level::Error, "CVSS 8.1 is high");
    let pysec_no_cvss = out
        .findings
        .iter()
        .find(|f| f.rule_id == "PYSEC-2018-28")
        .expect("requests");
    assert_eq!(
        pysec_no_cvss.level,
        Level::Error,
        "unknown severity fails a default gate"
    );
}

#[test]
fn unpinned_requirements_are_notes() {
    let out = run(&config(
        &["advisories/pypa"],
        &[
            "workspace/requirements.txt",
            "workspace/pipenv/Pipfile.lock",
        ],
    ));
    let notes: Vec<(&str, Option<u32>)> = out
        .findings
        .iter()
        .filter(|f| f.rule_id == "unpinned")
        .map(|f| (f.path.as_str(), f.line))
        .collect();
    assert_eq!(
        notes,
        vec![
            ("workspace/pipenv/Pipfile.lock", Some(19)),
            ("workspace/requirements.txt", Some(9)),
            ("workspace/requirements.txt", Some(10)),
        ]
    );
    let flask = out
        .findings
        .iter()
        .find(|f| f.rule_id == "unpinned" && f.line == Some(9))
        .expect("flask");
    assert_eq!(flask.level, Level::Note);
    assert!(
        flask.message.contains("cannot audit unpinned"),
        "{}",
        flask.message
    );
}

#[test]
fn aliases_merge_across_databases() {
    let out = run(&config(
        &["advisories/pypa", "advisories/synthetic"],
        &["workspace/requirements.txt"],
    ));
    let jinja: Vec<&AuditFinding> = out
        .findings
        .iter()
        .filter(|f| f.package.as_deref() == Some("Jinja2"))
        .collect();
    assert_eq!(
        jinja.len(),
        2,
        "PYSEC-2019-217 + DEPAUDIT-TEST-0002 are one finding"
    );
    let merged = find(&out, "PYSEC-2019-217");
    assert_eq!(
        merged.ids,
        vec![
            "PYSEC-2019-217",
            "GHSA-462w-v97r-4m45",
            "DEPAUDIT-TEST-0002",
            "CVE-2019-10906"
        ]
    );
    assert!(!ids(&out.findings).contains("DEPAUDIT-TEST-0002"));
    assert_eq!(
        merged.level,
        Level::Error,
        "the merged group takes the CVSS score it has"
    );
}

#[test]
fn npm_lockfiles_v1_and_v3() {
    let out = run(&config(
        &["advisories/synthetic"],
        &[
            "workspace/npm-v1/package-lock.json",
            "workspace/npm-v3/package-lock.json",
        ],
    ));
    let hits: Vec<(&str, &str, &str, Option<u32>)> = out
        .findings
        .iter()
        .filter(|f| f.rule_id == "DEPAUDIT-TEST-0001")
        .map(|f| {
            (
                f.path.as_str(),
                f.package.as_deref().unwrap_or(""),
                f.version.as_deref().unwrap_or(""),
                f.line,
            )
        })
        .collect();
    assert_eq!(
        hits,
        vec![
            (
                "workspace/npm-v1/package-lock.json",
                "@scope/widget",
                "1.0.0",
                Some(7)
            ),
            (
                "workspace/npm-v1/package-lock.json",
                "lodash",
                "3.10.1",
                Some(10)
            ),
            (
                "workspace/npm-v3/package-lock.json",
                "lodash",
                "4.17.20",
                Some(12)
            ),
            (
                "workspace/npm-v3/package-lock.json",
                "@scope/widget",
                "2.0.0-rc.1",
                Some(16)
            ),
        ],
        "nested lodash 4.17.21 is fixed; minimist only has a withdrawn advisory"
    );
    assert!(!ids(&out.findings).contains("DEPAUDIT-TEST-0003"));
    let git = out
        .findings
        .iter()
        .find(|f| f.rule_id == "unpinned")
        .expect("git dep");
    assert_eq!(git.line, Some(15));
}

#[test]
fn broken_lockfile_is_an_error_finding_and_others_still_run() {
    let out = run(&config(
        &["advisories/rustsec-osv"],
        &["workspace/broken/Cargo.lock", "workspace/Cargo.lock"],
    ));
    let bad = find(&out, "invalid-lockfile");
    assert_eq!(bad.level, Level::Error);
    assert_eq!(bad.line, Some(5));
    assert!(bad.message.contains("workspace/broken/Cargo.lock"));
    assert_eq!(ids(&out.findings), set(&CARGO_IDS));
}

#[test]
fn default_discovery_and_globs() {
    let out = run(&config(&["advisories/rustsec-osv"], &[]));
    assert_eq!(
        out.lockfiles,
        vec![
            "workspace/Cargo.lock",
            "workspace/broken/Cargo.lock",
            "workspace/identity/Cargo.lock",
            "workspace/npm-v1/package-lock.json",
            "workspace/npm-v3/package-lock.json",
            "workspace/pipenv/Pipfile.lock",
            "workspace/poetry/poetry.lock",
            "workspace/prerelease/Cargo.lock",
            "workspace/requirements.txt",
            "workspace/unparsable/requirements.txt",
            "workspace/uv/uv.lock",
        ]
    );
    let out = run(&config(
        &["advisories/rustsec-osv"],
        &["workspace/npm-*/package-lock.json"],
    ));
    assert_eq!(out.lockfiles.len(), 2);
    let out = run(&config(&["advisories/rustsec-osv"], &["workspace/poetry"]));
    assert_eq!(out.lockfiles, vec!["workspace/poetry/poetry.lock"]);
    // gantry's one glob dialect: a name pattern matches at any depth, `./` anchors.
    let out = run(&config(&["advisories/rustsec-osv"], &["requirements*.txt"]));
    assert_eq!(
        out.lockfiles,
        vec![
            "workspace/requirements.txt",
            "workspace/unparsable/requirements.txt"
        ]
    );
    let e = audit::run(
        &fixtures(),
        &config(&["advisories/rustsec-osv"], &["./requirements*.txt"]),
    )
    .expect_err("nothing at the root");
    assert!(e.to_string().contains("matches no lockfile"), "{e}");
    let e = audit::run(
        &fixtures(),
        &config(&["advisories/rustsec-osv"], &["workspace/[ab"]),
    )
    .expect_err("bad glob");
    assert!(e.to_string().contains("unclosed"), "{e}");
}

#[test]
fn ignore_by_any_alias_needs_a_reason() {
    let mut cfg = config(&["advisories/rustsec-osv"], &["workspace/Cargo.lock"]);
    cfg.ignore = vec![
        Ignore {
            id: "CVE-2020-26235".into(),
            reason: "time::now is never called".into(),
        },
        Ignore {
            id: "RUSTSEC-2000-0000".into(),
            reason: "stale".into(),
        },
    ];
    let out = run(&cfg);
    assert!(!ids(&out.findings).contains("RUSTSEC-2020-0071"));
    assert_eq!(out.ignored, 1);
    assert_eq!(out.unused_ignores, vec!["RUSTSEC-2000-0000"]);

    cfg.ignore[0].reason = "  ".into();
    let err = audit::run(&fixtures(), &cfg).expect_err("must be refused");
    assert!(
        matches!(err, AuditError::Config(ref m) if m.contains("has no `reason`")),
        "{err}"
    );
}

#[test]
fn informational_advisories_can_be_switched_off() {
    let mut cfg = config(&["advisories/rustsec-osv"], &["workspace/Cargo.lock"]);
    cfg.informational = false;
    let got = ids(&run(&cfg).findings);
    for id in [
        "RUSTSEC-2021-0145",
        "RUSTSEC-2024-0375",
        "RUSTSEC-2018-0018",
        "RUSTSEC-2022-0022",
    ] {
        assert!(!got.contains(id), "{id} is informational");
    }
    assert!(got.contains("RUSTSEC-2019-0009"));
}

#[test]
fn fingerprints_survive_line_moves() {
    let tmp = std::env::temp_dir().join(format!("dep-audit-fp-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&tmp);
    std::fs::create_dir_all(tmp.join("ws")).expect("mkdir");
    let lock = std::fs::read_to_string(fixtures().join("workspace/Cargo.lock")).expect("lock");
    let db = fixtures().join("advisories/rustsec-osv");
    let cfg = Config {
        paths: vec!["ws/Cargo.lock".into()],
        databases: vec!["db".into()],
        ignore: Vec::new(),
        informational: true,
        index: None,
    };
    let copy_db = |dst: &Path| {
        std::fs::create_dir_all(dst).expect("mkdir");
        for e in std::fs::read_dir(&db).expect("db") {
            let e = e.expect("entry");
            std::fs::copy(e.path(), dst.join(e.file_name())).expect("copy");
        }
    };
    copy_db(&tmp.join("db"));
    std::fs::write(tmp.join("ws/Cargo.lock"), &lock).expect("write");
    let before = audit::run(&tmp, &cfg).expect("audit");
    std::fs::write(tmp.join("ws/Cargo.lock"), format!("\n\n\n{lock}")).expect("write");
    let after = audit::run(&tmp, &cfg).expect("audit");
    let _ = std::fs::remove_dir_all(&tmp);
    let fp = |a: &audit::Audit| -> Vec<String> {
        a.findings.iter().map(|f| f.fingerprint.clone()).collect()
    };
    assert_eq!(fp(&before), fp(&after));
    assert_ne!(before.findings[0].line, after.findings[0].line);
    let unique: BTreeSet<String> = fp(&before).into_iter().collect();
    assert_eq!(
        unique.len(),
        before.findings.len(),
        "fingerprints are distinct"
    );
}

#[test]
fn configuration_errors_are_explained() {
    let err = |cfg: Config| {
        audit::run(&fixtures(), &cfg)
            .expect_err("must be refused")
            .to_string()
    };
    assert!(err(config(&[], &[])).contains("`databases` is empty"));
    assert!(err(config(&["../x"], &[])).contains("without `..`"));
    assert!(err(config(&["/abs"], &[])).contains("workspace-relative"));
    let e = err(config(&["advisories/nope"], &[]));
    assert!(e.contains("advisories/nope"), "{e}");
    let e = err(config(
        &["advisories/rustsec-osv"],
        &["workspace/*.nothing"],
    ));
    assert!(e.contains("matches no lockfile"), "{e}");
    let e = err(config(
        &["advisories/rustsec-osv"],
        &["workspace/missing.lock"],
    ));
    assert!(e.contains("missing.lock"), "{e}");
    let e = err(config(&["advisories/rustsec-osv"], &["README.md"]));
    assert!(e.contains("not a lockfile"), "{e}");
    let e = err(config(&["workspace/uv"], &[]));
    assert!(e.contains("no advisory files"), "{e}");
}

#[test]
fn corrupt_database_file_fails_with_its_path_and_line() {
    let tmp = std::env::temp_dir().join(format!("dep-audit-db-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&tmp);
    std::fs::create_dir_all(tmp.join("db/vulns/x")).expect("mkdir");
    std::fs::write(
        tmp.join("db/vulns/x/PYSEC-0-0.yaml"),
        "id: PYSEC-0-0\naffected: [\n",
    )
    .expect("w");
    std::fs::write(tmp.join("requirements.txt"), "x==1.0\n").expect("w");
    let e = audit::run(&tmp, &config(&["db"], &[]))
        .expect_err("must be refused")
        .to_string();
    let _ = std::fs::remove_dir_all(&tmp);
    assert!(e.contains("db/vulns/x/PYSEC-0-0.yaml"), "{e}");
    assert!(e.contains("line"), "{e}");
}

#[test]
fn describe_lists_rule_kinds() {
    let kinds: Vec<&str> = audit::rule_kinds().iter().map(|r| r.id).collect();
    assert_eq!(
        kinds,
        vec![
            "vulnerability",
            "unsound",
            "unmaintained",
            "notice",
            "yanked",
            "unpinned",
            "invalid-lockfile"
        ]
    );
}

// ---------------------------------------------------------------------------------
// Regressions of issue 15 (each failed before its fix).

#[test]
fn prerelease_versions_follow_rustsec_matching_in_both_database_forms() {
    // hyper 1.0.0-rc.1 is above every patched requirement of hyper's seven
    // advisories; Cargo's pre-release rule (a pre-release only satisfies a comparator
    // naming the same x.y.z) made all seven report it from the markdown database,
    // while cargo-audit and the OSV export report none.
    for db in ["advisories/rustsec", "advisories/rustsec-osv"] {
        let out = run(&config(&[db], &["workspace/prerelease/Cargo.lock"]));
        assert_eq!(out.packages, 1);
        assert_eq!(ids(&out.findings), set(&[]), "{db}: {:#?}", out.findings);
        assert!(out.problems.is_empty(), "{db}: {:?}", out.problems);
    }
}

fn hpke(out: &audit::Audit) -> Vec<(String, Level)> {
    out.findings
        .iter()
        .filter(|f| f.package.as_deref() == Some("hpke-rs"))
        .map(|f| (f.rule_id.clone(), f.level))
        .collect()
}

#[test]
fn advisories_sharing_only_an_alias_stay_distinct_findings() {
    // RUSTSEC-2026-0069, -0070 and -0071 are three different hpke-rs bugs that all
    // list the one GHSA the upstream project published for them.
    let expected = vec![
        ("RUSTSEC-2026-0069".to_string(), Level::Error), // no CVSS: unknown severity
        ("RUSTSEC-2026-0070".to_string(), Level::Error), // CVSS v4 8.2, high
        ("RUSTSEC-2026-0071".to_string(), Level::Error), // CVSS v4 9.3, critical
    ];
    for dbs in [
        &["advisories/rustsec"][..],
        &["advisories/rustsec-osv"],
        &["advisories/rustsec", "advisories/rustsec-osv"],
    ] {
        let out = run(&config(dbs, &["workspace/identity/Cargo.lock"]));
        assert_eq!(hpke(&out), expected, "{dbs:?}");
    }
    let out = run(&config(
        &["advisories/rustsec-osv"],
        &["workspace/identity/Cargo.lock"],
    ));
    let nonce = find(&out, "RUSTSEC-2026-0071");
    assert_eq!(nonce.ids, vec!["RUSTSEC-2026-0071", "GHSA-g433-pq76-6cmf"]);
    assert!(
        nonce
            .message
            .contains("Severity: critical (CVSS 4.0 score 9.3)"),
        "{}",
        nonce.message
    );
}

#[test]
fn an_ignore_names_exactly_the_advisory_it_ignores() {
    let mut cfg = config(
        &["advisories/rustsec-osv"],
        &["workspace/identity/Cargo.lock"],
    );
    cfg.ignore = vec![Ignore {
        id: "RUSTSEC-2026-0069".into(),
        reason: "export is never called".into(),
    }];
    let out = run(&cfg);
    assert_eq!(out.ignored, 1);
    let left: Vec<String> = hpke(&out).into_iter().map(|(id, _)| id).collect();
    assert_eq!(left, vec!["RUSTSEC-2026-0070", "RUSTSEC-2026-0071"]);

    // An alias shared by three distinct advisories names none of them exactly: it
    // ignores nothing and says so, listing the ids to ignore instead.
    cfg.ignore[0].id = "GHSA-g433-pq76-6cmf".into();
    let out = run(&cfg);
    assert_eq!(out.ignored, 0);
    assert_eq!(hpke(&out).len(), 3);
    assert_eq!(out.unused_ignores, Vec::<String>::new());
    assert_eq!(
        out.ambiguous_ignores.len(),
        1,
        "{:?}",
        out.ambiguous_ignores
    );
    let msg = &out.ambiguous_ignores[0];
    for id in [
        "GHSA-g433-pq76-6cmf",
        "RUSTSEC-2026-0069",
        "RUSTSEC-2026-0070",
        "RUSTSEC-2026-0071",
        "hpke-rs",
    ] {
        assert!(msg.contains(id), "{msg}");
    }
}

#[test]
fn a_placeholder_id_copy_is_reported_once_under_the_real_id() {
    // The OSV export carries matrix-sdk-base's advisory twice: as RUSTSEC-2025-0065
    // and as a leftover copy with the placeholder id RUSTSEC-2025-0000.
    let out = run(&config(
        &["advisories/rustsec-osv"],
        &["workspace/identity/Cargo.lock"],
    ));
    let matrix: Vec<&AuditFinding> = out
        .findings
        .iter()
        .filter(|f| f.package.as_deref() == Some("matrix-sdk-base"))
        .collect();
    assert_eq!(matrix.len(), 1, "{matrix:#?}");
    assert_eq!(matrix[0].rule_id, "RUSTSEC-2025-0065");
    assert_eq!(
        matrix[0].ids,
        vec!["RUSTSEC-2025-0065", "GHSA-qhj8-q5r6-8q6j", "CVE-2025-59047"]
    );
    let md = run(&config(
        &["advisories/rustsec"],
        &["workspace/identity/Cargo.lock"],
    ));
    assert_eq!(find(&md, "RUSTSEC-2025-0065").ids, matrix[0].ids);
}

#[test]
fn an_explicit_versions_list_is_evidence_on_its_own() {
    // DEPAUDIT-TEST-0004 lists 0.1.0 in `versions`; its range's `fixed` bound
    // (`0.2.0-n653`, copied from PYSEC-2021-371) is not a PEP 440 version.
    let out = run(&config(
        &["advisories/synthetic"],
        &["workspace/unparsable/requirements.txt"],
    ));
    let f = find(&out, "DEPAUDIT-TEST-0004");
    assert_eq!(f.package.as_deref(), Some("demo-pkg"));
    assert_eq!(f.level, Level::Error, "unknown severity");
    assert!(!f.message.contains("may be affected"), "{}", f.message);
    assert!(
        out.problems.iter().any(|p| p.contains("`0.2.0-n653`")),
        "the bad bound is still reported: {:?}",
        out.problems
    );
}

#[test]
fn an_unparsable_range_bound_is_reported_never_a_silent_pass() {
    // Real PyPA advisories whose only range has a `fixed` bound that is not a PEP
    // 440 version: dep-audit cannot decide, so it says so in a finding at the
    // advisory's level instead of passing the pin.
    let out = run(&config(
        &["advisories/pypa"],
        &["workspace/unparsable/requirements.txt"],
    ));
    for (id, pkg, bound) in [
        ("PYSEC-2021-371", "binderhub", "0.2.0-n653"),
        ("PYSEC-2019-125", "steam", "2019-09-12"),
    ] {
        let f = find(&out, id);
        assert_eq!(f.package.as_deref(), Some(pkg));
        assert_eq!(f.kind, "vulnerability");
        assert_eq!(f.level, Level::Error, "unknown severity");
        assert!(
            f.message.contains("may be affected")
                && f.message.contains(&format!("`{bound}`"))
                && f.message.contains("ignore"),
            "{}",
            f.message
        );
    }
}

#[test]
fn a_vulnerability_of_unknown_severity_fails_a_default_gate() {
    // Issue 14 §5: PyPA advisories carry no CVSS vector. Every vulnerability found in
    // the planted requirements file must be an error (the default `fail-on`), unless
    // a CVSS score says it is lower.
    let out = run(&config(
        &["advisories/pypa"],
        &["workspace/requirements.txt"],
    ));
    let vulns: Vec<&AuditFinding> = out
        .findings
        .iter()
        .filter(|f| f.kind == "vulnerability")
        .collect();
    assert_eq!(vulns.len(), 12);
    for f in &vulns {
        if f.message.contains("Severity: unknown") {
            assert_eq!(f.level, Level::Error, "{}", f.message);
        }
    }
    assert!(
        vulns
            .iter()
            .filter(|f| f.message.contains("Severity: unknown"))
            .count()
            >= 8
    );
}

#[test]
fn yanked_versions_from_an_index_snapshot() {
    // `crates-index/` holds real crates.io index entries (name, vers, cksum, yanked) of
    // four crates. smallvec 0.6.9 and time 0.2.3 are yanked on crates.io; atty and
    // dirs are not in the snapshot and are listed as not checked.
    let mut cfg = config(&["advisories/rustsec-osv"], &["workspace/Cargo.lock"]);
    let before = run(&cfg);
    assert!(before.findings.iter().all(|f| f.kind != "yanked"));
    assert!(before.not_in_index.is_empty(), "no index, no list");

    cfg.index = Some("crates-index".into());
    let out = run(&cfg);
    let yanked: Vec<(String, String, Level, Option<u32>)> = out
        .findings
        .iter()
        .filter(|f| f.kind == "yanked")
        .map(|f| {
            (
                f.package.clone().unwrap_or_default(),
                f.version.clone().unwrap_or_default(),
                f.level,
                f.line,
            )
        })
        .collect();
    assert_eq!(
        yanked,
        vec![
            (
                "smallvec".to_string(),
                "0.6.9".to_string(),
                Level::Warning,
                Some(40)
            ),
            (
                "time".to_string(),
                "0.2.3".to_string(),
                Level::Warning,
                Some(50)
            ),
        ]
    );
    assert_eq!(out.not_in_index, vec!["atty@0.2.14", "dirs@1.0.5"]);
    // The advisories are still all there.
    assert_eq!(ids(&out.findings), set(&CARGO_IDS));

    cfg.index = Some("no-such-index".into());
    let e = audit::run(&fixtures(), &cfg).expect_err("missing index");
    assert!(e.to_string().contains("`index` `no-such-index`"), "{e}");
}
