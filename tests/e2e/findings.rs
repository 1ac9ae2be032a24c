//! Host-level `fail-on` and `baseline`, `gantry baseline`, and `builtin:findings-gate`
//! through the binary: verdicts decide the exit code, baselined findings stay in SARIF
//! as `unchanged` + suppressed, host fingerprints survive line moves, and the gate sees
//! the findings of the stages it needs.

use gantry_test_plugins::{Workspace, pinned, plugins};

const GANTRY: &str = env!("CARGO_BIN_EXE_gantry");

const SOURCE: &str = "fn main() {\n    let password = \"hunter2\";\n}\n";
const MOVED: &str =
    "// a comment\n// and another\nfn main() {\n        let password = \"hunter2\";\n}\n";

/// A probe stage reporting `findings` as `(rule, level, path, line)`, plus `extra` keys.
fn probe_stage(name: &str, findings: &[(&str, &str, &str, u32)], extra: &str) -> String {
    let list = findings
        .iter()
        .map(|(r, l, p, n)| format!("[\"{r}\", \"{l}\", \"{p}\", {n}]"))
        .collect::<Vec<_>>()
        .join(", ");
    format!(
        "[stage.{name}]\nplugin = \"{}\"\nwith = {{ findings = [{list}] }}\ngrants.fs.read = [\".\"]\n{extra}\n",
        pinned(plugins::PROBE)
    )
}

fn pipeline(stages: &[String]) -> String {
    format!("[pipeline]\nname = \"findings\"\n\n{}", stages.join("\n"))
}

/// Writes a pipeline of one probe stage, `scan`, reporting `findings`.
fn write_scan(ws: &Workspace, findings: &[(&str, &str, &str, u32)], extra: &str) {
    ws.write(
        "pipeline.toml",
        pipeline(&[probe_stage("scan", findings, extra)]),
    );
}

fn sarif_results(r: &gantry_test_plugins::Run, run: usize) -> Vec<serde_json::Value> {
    let sarif: serde_json::Value =
        serde_json::from_str(&r.file("report.sarif")).expect("SARIF is JSON");
    sarif["runs"][run]["results"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

#[test]
fn fail_on_sets_the_threshold_for_any_plugin() {
    let ws = Workspace::new(GANTRY);
    ws.write("src/main.rs", SOURCE);
    let warn = [("probe-note", "warning", "src/main.rs", 2)];
    // A warning does not fail by default (the SDK leaves the verdict to the host: `error`).
    write_scan(&ws, &warn, "");
    let r = ws.gantry(&["run"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    // `fail-on = "warning"` makes it fail, and says why.
    write_scan(&ws, &warn, "fail-on = \"warning\"");
    let r = ws.gantry(&["run"]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(
        r.stderr
            .contains("1 finding at or above `warning` (fail-on): 1 × `probe-note`"),
        "{}",
        r.stderr
    );
    // `never` makes an error-level finding report-only.
    let err = [("probe-error", "error", "src/main.rs", 2)];
    write_scan(&ws, &err, "fail-on = \"never\"");
    let r = ws.gantry(&["run"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(sarif_results(&r, 0).len(), 1);
}

#[test]
fn baseline_accepts_known_findings_and_survives_line_moves() {
    let ws = Workspace::new(GANTRY);
    ws.write("src/main.rs", SOURCE);
    let at2 = [("probe-error", "error", "src/main.rs", 2)];
    let with_baseline = "baseline = \"baselines/scan.json\"";
    write_scan(&ws, &at2, with_baseline);
    // The file must exist before a run; the error says how to create it.
    let r = ws.gantry(&["run"]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.contains("gantry baseline scan"), "{}", r.stderr);
    // A run without the key, then accept its findings.
    write_scan(&ws, &at2, "");
    let r = ws.gantry(&["run"]);
    assert_eq!(r.code, 1, "an error-level finding fails: {}", r.stderr);
    write_scan(&ws, &at2, with_baseline);
    let r = ws.gantry(&["baseline"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        r.stderr.contains("1 finding of stage `scan`"),
        "{}",
        r.stderr
    );
    let base: serde_json::Value =
        serde_json::from_str(&ws.read("baselines/scan.json")).expect("baseline is JSON");
    assert_eq!(base["version"], 1);
    assert_eq!(base["findings"][0]["rule"], "probe-error");
    let fp = base["findings"][0]["fingerprint"]
        .as_str()
        .expect("fingerprint")
        .to_string();

    // Now the run passes; the finding is kept, marked as baselined.
    let r = ws.gantry(&["run"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    // summary.json: still counted under its level, and as baselined.
    assert_eq!(
        r.stage("scan")["findings"]["error"],
        1,
        "{}",
        r.stage("scan")
    );
    assert_eq!(r.stage("scan")["findings"]["baselined"], 1);
    assert!(
        r.stderr.contains("1 findings (1 baselined)"),
        "{}",
        r.stderr
    );
    let results = sarif_results(&r, 0);
    assert_eq!(results.len(), 1);
    assert_eq!(results[0]["baselineState"], "unchanged");
    assert_eq!(results[0]["suppressions"][0]["kind"], "external");
    assert_eq!(results[0]["partialFingerprints"]["gantry/v1"], fp.as_str());

    // Lines inserted above, re-indented: the probe reports line 4, still baselined.
    ws.write("src/main.rs", MOVED);
    let at4 = [("probe-error", "error", "src/main.rs", 4)];
    write_scan(&ws, &at4, with_baseline);
    let r = ws.gantry(&["run"]);
    assert_eq!(
        r.code, 0,
        "a moved line keeps its fingerprint: {}",
        r.stderr
    );
    assert_eq!(
        sarif_results(&r, 0)[0]["partialFingerprints"]["gantry/v1"],
        fp.as_str()
    );

    // A new finding on another line is not in the baseline: the stage fails.
    let both = [
        ("probe-error", "error", "src/main.rs", 4),
        ("probe-error", "error", "src/main.rs", 3),
    ];
    write_scan(&ws, &both, with_baseline);
    let r = ws.gantry(&["run"]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(
        r.stderr.contains("not in the baseline (1 baselined)"),
        "{}",
        r.stderr
    );
    // In SARIF, a run compared with a baseline says so for every result.
    let states: Vec<_> = sarif_results(&r, 0)
        .iter()
        .map(|x| x["baselineState"].as_str().unwrap_or("absent").to_string())
        .collect();
    assert_eq!(
        states,
        ["unchanged", "new"],
        "in the probe's order (line 4, then 3)"
    );

    // Only the new finding: none is in the baseline, and the result still says `new`
    // (compared with a baseline), not nothing.
    let only_new = [("probe-error", "error", "src/main.rs", 3)];
    write_scan(&ws, &only_new, with_baseline);
    let r = ws.gantry(&["run"]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert_eq!(
        sarif_results(&r, 0)[0]["baselineState"],
        "new",
        "{:#?}",
        sarif_results(&r, 0)
    );
}

#[test]
fn baseline_command_explains_what_is_missing() {
    let ws = Workspace::new(GANTRY);
    ws.write("src/main.rs", SOURCE);
    write_scan(&ws, &[], "");
    let r = ws.gantry(&["baseline"]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.contains("has a `baseline` key"), "{}", r.stderr);
    let r = ws.gantry(&["baseline", "scan"]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(
        r.stderr
            .contains("add `baseline = \"baselines/scan.json\"`"),
        "{}",
        r.stderr
    );
    write_scan(&ws, &[], "baseline = \"b.json\"");
    let r = ws.gantry(&["baseline"]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.contains("gantry run"), "{}", r.stderr);
}

fn gate_pipeline(upstream_findings: &[(&str, &str, &str, u32)], gate_with: &str) -> String {
    pipeline(&[
        probe_stage(
            "scan",
            upstream_findings,
            "fail-on = \"never\"\nbaseline = \"b.json\"",
        ),
        probe_stage("clean", &[], ""),
        format!(
            "[stage.gate]\nplugin = \"builtin:findings-gate\"\nneeds = [\"scan\", \"clean\"]\nwith = {gate_with}\n"
        ),
    ])
}

#[test]
fn findings_gate_passes_on_clean_upstream_and_fails_on_errors() {
    let ws = Workspace::new(GANTRY);
    ws.write("src/main.rs", SOURCE);
    ws.write("b.json", "{\"version\": 1, \"findings\": []}");
    let note = [("probe-note", "note", "src/main.rs", 1)];
    ws.write("pipeline.toml", gate_pipeline(&note, "{}"));
    let r = ws.gantry(&["run"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(r.output("gate", "notes"), "1");
    assert_eq!(r.output("gate", "violations"), "0");
    assert_eq!(r.output("gate", "stages"), "scan,clean");

    let err = [
        ("probe-error", "error", "src/main.rs", 2),
        ("probe-error", "error", "src/main.rs", 3),
    ];
    ws.write("pipeline.toml", gate_pipeline(&err, "{}"));
    let r = ws.gantry(&["run"]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert_eq!(r.stage("scan")["status"], "succeeded", "fail-on = never");
    assert_eq!(r.output("gate", "errors"), "2");
    assert_eq!(r.output("gate", "violations"), "1");
    // The summary names what the gate counted.
    let over =
        "over the limit: stage `scan`: 2 `error` of rule `probe-error` (first at src/main.rs:2)";
    assert!(
        r.stage("gate")["summary"]
            .as_str()
            .unwrap_or_default()
            .contains(over),
        "{}",
        r.stage("gate")
    );
    let results = sarif_results(&r, 2);
    assert_eq!(
        results.len(),
        1,
        "one finding per (stage, rule): {results:?}"
    );
    assert_eq!(results[0]["ruleId"], "findings-over-limit");
    let msg = results[0]["message"]["text"].as_str().unwrap_or_default();
    assert!(
        msg.contains("stage `scan`: 2 `error` findings of rule `probe-error`"),
        "{msg}"
    );
    assert_eq!(
        results[0]["locations"][0]["physicalLocation"]["region"]["startLine"],
        2
    );

    // `max` tolerates them; `stages` can leave a stage out; a stage outside `needs` is
    // a configuration error.
    ws.write(
        "pipeline.toml",
        gate_pipeline(&err, "{ max = { error = 2 } }"),
    );
    assert_eq!(ws.gantry(&["run"]).code, 0);
    ws.write(
        "pipeline.toml",
        gate_pipeline(&err, "{ stages = [\"clean\"] }"),
    );
    assert_eq!(ws.gantry(&["run"]).code, 0);
    ws.write(
        "pipeline.toml",
        gate_pipeline(&err, "{ stages = [\"nope\"] }"),
    );
    let r = ws.gantry(&["run"]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(
        r.stderr.contains("`nope` is not in this stage's `needs`"),
        "{}",
        r.stderr
    );
}

#[test]
fn findings_gate_respects_upstream_baselines() {
    let ws = Workspace::new(GANTRY);
    ws.write("src/main.rs", SOURCE);
    ws.write("b.json", "{\"version\": 1, \"findings\": []}");
    let err = [("probe-error", "error", "src/main.rs", 2)];
    ws.write("pipeline.toml", gate_pipeline(&err, "{}"));
    assert_eq!(ws.gantry(&["run"]).code, 1);
    let r = ws.gantry(&["baseline", "scan"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let r = ws.gantry(&["run"]);
    assert_eq!(r.code, 0, "the only error is baselined: {}", r.stderr);
    assert_eq!(r.output("gate", "baselined"), "1");
    assert_eq!(r.output("gate", "errors"), "0");
    ws.write(
        "pipeline.toml",
        gate_pipeline(&err, "{ include-baselined = true }"),
    );
    assert_eq!(ws.gantry(&["run"]).code, 1);
}
