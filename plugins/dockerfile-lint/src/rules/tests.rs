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

/// One `#[test]` per rule, and the list of the ids it covers: `every_rule_is_tested`
/// compares that list with `RULES`, so a rule cannot be added without its test.
macro_rules! rule_tests {
    ($( $name:ident $id:literal; )*) => {
        $(
            #[test]
            fn $name() {
                check($id);
            }
        )*
        const TESTED: &[&str] = &[$( $id ),*];
    };
}

rule_tests! {
    dl3000 "DL3000";
    dl3001 "DL3001";
    dl3002 "DL3002";
    dl3003 "DL3003";
    dl3004 "DL3004";
    dl3006 "DL3006";
    dl3007 "DL3007";
    dl3008 "DL3008";
    dl3009 "DL3009";
    dl3010 "DL3010";
    dl3011 "DL3011";
    dl3012 "DL3012";
    dl3013 "DL3013";
    dl3014 "DL3014";
    dl3015 "DL3015";
    dl3016 "DL3016";
    dl3018 "DL3018";
    dl3019 "DL3019";
    dl3020 "DL3020";
    dl3021 "DL3021";
    dl3022 "DL3022";
    dl3023 "DL3023";
    dl3024 "DL3024";
    dl3025 "DL3025";
    dl3026 "DL3026";
    dl3027 "DL3027";
    dl3028 "DL3028";
    dl3029 "DL3029";
    dl3030 "DL3030";
    dl3032 "DL3032";
    dl3033 "DL3033";
    dl3034 "DL3034";
    dl3035 "DL3035";
    dl3036 "DL3036";
    dl3037 "DL3037";
    dl3038 "DL3038";
    dl3040 "DL3040";
    dl3041 "DL3041";
    dl3042 "DL3042";
    dl3043 "DL3043";
    dl3044 "DL3044";
    dl3045 "DL3045";
    dl3046 "DL3046";
    dl3047 "DL3047";
    dl3048 "DL3048";
    dl3059 "DL3059";
    dl3060 "DL3060";
    dl3061 "DL3061";
    dl3062 "DL3062";
    dl3063 "DL3063";
    dl3064 "DL3064";
    dl3065 "DL3065";
    dl3066 "DL3066";
    dl3067 "DL3067";
    dl4000 "DL4000";
    dl4001 "DL4001";
    dl4003 "DL4003";
    dl4004 "DL4004";
    dl4005 "DL4005";
    dl4006 "DL4006";
}

#[test]
fn every_rule_is_tested_and_has_a_check() {
    let rules: Vec<&str> = RULES
        .iter()
        .map(|r| r.id)
        .filter(|id| *id != "DL1000")
        .collect();
    assert_eq!(TESTED, rules.as_slice(), "rule_tests! vs RULES");
    assert_eq!(
        crate::rules::check_ids(),
        rules,
        "checks::ALL vs RULES (DL1000 is the parser's)"
    );
}

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

/// RULES.md is checked against the table, so the two cannot drift: exactly one
/// `## ID` section per rule, in id order, each with the table's level, message
/// (`**What:**`) and reason (`**Why:**`).
#[test]
fn rules_md_agrees_with_the_rule_table() {
    use crate::rules::Severity;
    let md = include_str!("../../RULES.md");
    let sections: Vec<(&str, &str)> = md
        .split("\n## ")
        .skip(1)
        .filter_map(|sec| {
            let (head, body) = sec.split_once('\n')?;
            head.starts_with("DL").then_some((head.trim(), body))
        })
        .collect();
    let ids: Vec<&str> = sections.iter().map(|(id, _)| *id).collect();
    let table: Vec<&str> = RULES.iter().map(|r| r.id).collect();
    assert_eq!(ids, table, "`## DL…` sections of RULES.md vs RULES");
    for ((id, body), r) in sections.iter().zip(RULES) {
        let level = match r.severity {
            Severity::Error => "error".to_string(),
            Severity::Warning => "warning".to_string(),
            Severity::Info => "note (hadolint: info)".to_string(),
            Severity::Style => "note (hadolint: style)".to_string(),
        };
        let line = format!("**Level:** {level}. **What:** {}", r.message);
        assert!(body.contains(&line), "{id}: RULES.md lacks `{line}`");
        let why = format!("**Why:** {}", r.why);
        assert!(body.contains(&why), "{id}: RULES.md lacks `{why}`");
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
