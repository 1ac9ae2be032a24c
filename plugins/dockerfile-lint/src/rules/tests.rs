//! One test per rule over `tests/fixtures/rules/<ID>.Dockerfile`: the instruction right
//! after a `# expect` comment must be reported for that rule, and every other
//! instruction of the file must not (each fixture has both kinds). The same fixtures
//! are run through hadolint by `benches/dockerfile-lint/compare.py --fixtures`.

use std::collections::BTreeSet;
use std::path::PathBuf;

use crate::lint::{Config, Linter};
use crate::parser;
use crate::rules::RULES;

fn fixture_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/rules")
}

fn check(id: &str) {
    let path = fixture_dir().join(format!("{id}.Dockerfile"));
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("fixture {}: {e}", path.display()));
    let df = parser::parse(&text).unwrap_or_else(|e| panic!("{id} fixture: {e}"));
    let expect_lines: BTreeSet<u32> = df
        .comments
        .iter()
        .filter(|c| c.text == "expect")
        .map(|c| c.line + 1)
        .collect();
    let instruction_lines: BTreeSet<u32> = df.instructions.iter().map(|i| i.line).collect();
    assert!(
        expect_lines.is_subset(&instruction_lines),
        "{id}: a `# expect` is not right before an instruction"
    );
    assert!(!expect_lines.is_empty(), "{id}: no positive case");
    assert!(
        instruction_lines.len() > expect_lines.len() + 1,
        "{id}: no negative case"
    );
    let config = Config {
        trusted_registries: vec!["docker.io".into(), "ghcr.io".into(), "*.example.com".into()],
        ..Config::default()
    };
    let (findings, _) = Linter::new(&config)
        .expect("config")
        .lint_text(&format!("{id}.Dockerfile"), &text);
    let got: BTreeSet<u32> = findings
        .iter()
        .filter(|f| f.rule_id == id)
        .map(|f| f.line)
        .collect();
    assert_eq!(
        got, expect_lines,
        "{id}: reported lines (left) vs `# expect` lines (right)"
    );
    let meta = crate::rules::meta(id).expect("known rule");
    for f in findings.iter().filter(|f| f.rule_id == id) {
        assert_eq!(f.severity, meta.severity);
        assert!(f.message.starts_with(meta.message), "{}", f.message);
    }
}

macro_rules! rule_test {
    ($name:ident, $id:literal) => {
        #[test]
        fn $name() {
            check($id);
        }
    };
}

rule_test!(dl3000, "DL3000");
rule_test!(dl3001, "DL3001");
rule_test!(dl3002, "DL3002");
rule_test!(dl3003, "DL3003");
rule_test!(dl3004, "DL3004");
rule_test!(dl3006, "DL3006");
rule_test!(dl3007, "DL3007");
rule_test!(dl3008, "DL3008");
rule_test!(dl3009, "DL3009");
rule_test!(dl3010, "DL3010");
rule_test!(dl3011, "DL3011");
rule_test!(dl3012, "DL3012");
rule_test!(dl3013, "DL3013");
rule_test!(dl3014, "DL3014");
rule_test!(dl3015, "DL3015");
rule_test!(dl3016, "DL3016");
rule_test!(dl3018, "DL3018");
rule_test!(dl3019, "DL3019");
rule_test!(dl3020, "DL3020");
rule_test!(dl3021, "DL3021");
rule_test!(dl3022, "DL3022");
rule_test!(dl3023, "DL3023");
rule_test!(dl3024, "DL3024");
rule_test!(dl3025, "DL3025");
rule_test!(dl3026, "DL3026");
rule_test!(dl3027, "DL3027");
rule_test!(dl3028, "DL3028");
rule_test!(dl3029, "DL3029");
rule_test!(dl3030, "DL3030");
rule_test!(dl3032, "DL3032");
rule_test!(dl3033, "DL3033");
rule_test!(dl3034, "DL3034");
rule_test!(dl3035, "DL3035");
rule_test!(dl3036, "DL3036");
rule_test!(dl3037, "DL3037");
rule_test!(dl3038, "DL3038");
rule_test!(dl3040, "DL3040");
rule_test!(dl3041, "DL3041");
rule_test!(dl3042, "DL3042");
rule_test!(dl3043, "DL3043");
rule_test!(dl3044, "DL3044");
rule_test!(dl3045, "DL3045");
rule_test!(dl3046, "DL3046");
rule_test!(dl3047, "DL3047");
rule_test!(dl3048, "DL3048");
rule_test!(dl3059, "DL3059");
rule_test!(dl3060, "DL3060");
rule_test!(dl3061, "DL3061");
rule_test!(dl3062, "DL3062");
rule_test!(dl3063, "DL3063");
rule_test!(dl3064, "DL3064");
rule_test!(dl3065, "DL3065");
rule_test!(dl3066, "DL3066");
rule_test!(dl3067, "DL3067");
rule_test!(dl4000, "DL4000");
rule_test!(dl4001, "DL4001");
rule_test!(dl4003, "DL4003");
rule_test!(dl4004, "DL4004");
rule_test!(dl4005, "DL4005");
rule_test!(dl4006, "DL4006");

#[test]
fn every_rule_has_a_fixture_and_every_fixture_a_rule() {
    let fixtures: BTreeSet<String> = std::fs::read_dir(fixture_dir())
        .expect("fixture dir")
        .filter_map(|e| {
            e.ok()?
                .file_name()
                .to_str()?
                .strip_suffix(".Dockerfile")
                .map(str::to_string)
        })
        .collect();
    let rules: BTreeSet<String> = RULES
        .iter()
        .map(|r| r.id.to_string())
        .filter(|id| id != "DL1000")
        .collect();
    assert_eq!(fixtures, rules);
}

#[test]
fn rules_md_has_a_section_per_rule() {
    let md = include_str!("../../RULES.md");
    for r in RULES {
        assert!(
            md.contains(&format!("\n## {}\n", r.id)),
            "RULES.md has no `## {}` section",
            r.id
        );
    }
}

/// (rule, line) of every finding of `text` with the default config.
fn hits(text: &str) -> Vec<(String, u32)> {
    let (f, _) = Linter::new(&Config::default())
        .expect("config")
        .lint_text("Dockerfile", text);
    f.into_iter().map(|f| (f.rule_id, f.line)).collect()
}

fn has(hits: &[(String, u32)], rule: &str, line: u32) -> bool {
    hits.iter().any(|(r, l)| r == rule && *l == line)
}

#[test]
fn onbuild_run_is_checked_like_run() {
    let h = hits("FROM debian:12\nONBUILD RUN apt-get install -y --no-install-recommends curl\n");
    assert!(has(&h, "DL3008", 2), "{h:?}");
}

#[test]
fn heredoc_scripts_are_checked() {
    let h = hits(
        "FROM debian:12\nRUN <<EOF\napt-get update\napt-get install -y --no-install-recommends curl\nEOF\nRUN python3 <<EOF\nprint('sudo')\nEOF\n",
    );
    assert!(has(&h, "DL3008", 2) && has(&h, "DL3009", 2), "{h:?}");
    assert!(!h.iter().any(|(r, _)| r == "DL3004"), "{h:?}");
}

#[test]
fn stage_variables_come_from_global_args_and_parent_stages() {
    let h = hits(
        "ARG BASE=debian\nARG TAG=latest\nFROM ${BASE}:${TAG} AS base\nFROM base\nARG TAG\nRUN true\n",
    );
    assert!(has(&h, "DL3007", 3), "{h:?}");
    assert!(!h.iter().any(|(r, _)| r == "DL3006"), "{h:?}");
}
