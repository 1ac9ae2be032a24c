//! End-to-end tests of `gantry audit` (what each stage can do, the difference between
//! imports and grants, dangerous grants) and of `gantry.lock` / `--locked` (round
//! trip, byte stability, and refusal of every kind of drift before anything runs).

use gantry_test_plugins::{Workspace, pinned, plugins};
use serde_json::Value;

const GANTRY: &str = env!("CARGO_BIN_EXE_gantry");

fn ws(pipeline: &str) -> Workspace {
    let ws = Workspace::new(GANTRY);
    ws.write("pipeline.toml", pipeline);
    // The directories the pipelines grant (`gantry check` verifies they exist).
    ws.write("src/lib.rs", "");
    ws
}

fn digest_of(path: &str) -> String {
    let bytes = std::fs::read(path).expect("test plugin was built");
    gantry_registry::Digest::of(&bytes).to_string()
}

/// A pipeline with one stage of each interesting shape.
fn audited_pipeline() -> String {
    let probe = pinned(plugins::PROBE);
    let hostile = pinned(plugins::HOSTILE);
    format!(
        r#"
[pipeline]
name = "audited"

[secrets]
NPM_TOKEN = {{ env = "NPM_TOKEN_FOR_TEST" }}
REGISTRY = {{ env = "REGISTRY_FOR_TEST" }}

[stage.scan]
plugin = "builtin:secret-scan"
with = {{ paths = ["."] }}
grants.fs.read = ["."]

[stage.build]
plugin = "{probe}"
grants.fs.write = ["out"]
grants.process = [{{ cmd = "cargo", args = ["build", "**"], env = ["CARGO_HOME"], timeout = "5m" }}]
grants.secrets = ["REGISTRY"]

[stage.wide]
plugin = "{probe}"
grants.fs.write = ["."]
grants.reveal = ["NPM_TOKEN"]
grants.http = ["http://127.0.0.1:8081/health", "https://api.example.com/v1/"]
grants.env = ["CI"]

[stage.bare]
plugin = "{hostile}"
with = {{ action = "env" }}
"#
    )
}

/// The lines of `stage NAME` in the human audit output, up to the next stage.
fn section<'a>(out: &'a str, stage: &str) -> &'a str {
    let start = out
        .find(&format!("stage `{stage}`"))
        .unwrap_or_else(|| panic!("no stage {stage} in:\n{out}"));
    let rest = &out[start..];
    let end = rest[1..]
        .find("\nstage `")
        .map(|i| i + 1)
        .unwrap_or(rest.len());
    &rest[..end]
}

#[test]
fn audit_names_imports_grants_differences_and_dangers() {
    let ws = ws(&audited_pipeline());
    let r = ws.gantry(&["audit"]);
    assert_eq!(r.code, 0, "stderr:\n{}", r.stderr);
    let out = &r.stdout;
    assert!(!out.contains('\x1b'), "no colour when piped:\n{out}");

    // Plugin and digest of each stage.
    let scan = section(out, "scan");
    assert!(scan.contains("builtin:secret-scan (secret-scan "), "{scan}");
    assert!(scan.contains("digest   sha256:"), "{scan}");
    // The bulk interface is the fs capability too, not an import "with no authority".
    assert!(
        scan.contains("fs       imported (gantry:plugin/files, wasi:filesystem/"),
        "{scan}"
    );
    assert!(!scan.contains("unknown to this gantry"), "{scan}");
    assert!(
        scan.contains("granted: read `.` (the whole workspace)"),
        "{scan}"
    );
    assert!(
        scan.contains("log      imported (gantry:plugin/log)"),
        "{scan}"
    );
    assert!(
        scan.contains("env      imported (wasi:cli/environment)"),
        "{scan}"
    );
    assert!(
        scan.contains("not granted: its environment is empty"),
        "{scan}"
    );
    assert!(
        !scan.contains("!!"),
        "a read-only scan is not dangerous:\n{scan}"
    );

    // Process and secrets granted to a plugin that imports neither: flagged and unused.
    let build = section(out, "build");
    assert!(build.contains(&digest_of(plugins::PROBE)), "{build}");
    assert!(
        build.contains("!! CRITICAL grants.process `cargo build **`:\n"),
        "{build}"
    );
    // Reasons are wrapped; compare them with whitespace collapsed.
    let flat = |s: &str| s.split_whitespace().collect::<Vec<_>>().join(" ");
    assert!(
        flat(build).contains("runs `cargo` on the host in an OS sandbox"),
        "{build}"
    );
    // A write grant plus a tool that reads workspace configuration: the plugin
    // chooses the code (issue 13), and audit says what the sandbox shows.
    assert!(
        flat(build)
            .contains("THE PLUGIN CAN RUN CODE OF ITS CHOICE IN THIS SANDBOX: it can write `out`"),
        "{build}"
    );
    assert!(
        flat(build).contains("sees the whole workspace read-only (whatever grants.fs says), writes `out` (grants.fs.write)"),
        "{build}"
    );
    assert!(flat(build).contains("; no network"), "{build}");
    assert!(
        flat(build).contains("AND `**` MATCHES ANY ARGUMENTS"),
        "{build}"
    );
    assert!(
        build.contains(
            "granted: run `cargo` args [`build`, `**`], env `CARGO_HOME`, not read-only, timeout 5m"
        ),
        "{build}"
    );
    assert!(build.contains("process  not imported"), "{build}");
    assert!(build.contains("secrets  not imported"), "{build}");
    assert!(build.contains("granted: handles to `REGISTRY`"), "{build}");
    assert!(
        build.contains("! warning process: granted but unused by this plugin: remove it"),
        "{build}"
    );
    assert!(
        build.contains("! warning secrets: granted but unused by this plugin: remove it"),
        "{build}"
    );
    assert!(build.contains("granted: write `out`"), "{build}");

    // Whole-workspace write, plain HTTP to loopback, reveal.
    let wide = section(out, "wide");
    assert!(
        wide.contains("!! DANGER grants.fs.write `.`:\n       the whole workspace is writable"),
        "{wide}"
    );
    assert!(
        wide.contains(
            "!! DANGER grants.http `http://127.0.0.1:8081/health`:\n       `http` is not HTTPS"
        ),
        "{wide}"
    );
    assert!(flat(wide).contains("`127.0.0.1` is loopback"), "{wide}");
    assert!(
        !wide.contains("`https://api.example.com/v1/`:"),
        "HTTPS to a public name is fine:\n{wide}"
    );
    assert!(
        wide.contains("!! DANGER grants.reveal `NPM_TOKEN`"),
        "{wide}"
    );
    assert!(wide.contains("granted: variables `CI`"), "{wide}");
    assert!(
        wide.contains("granted: `https://api.example.com/v1/` (any method)"),
        "{wide}"
    );

    // Imports without grants: what happens to their calls.
    let bare = section(out, "bare");
    assert!(bare.contains(&digest_of(plugins::HOSTILE)), "{bare}");
    assert!(
        bare.contains("not granted: no directory is preopened, so it cannot open any file"),
        "{bare}"
    );
    assert!(
        !bare.contains("gantry:plugin/process"),
        "hostile does not import process:\n{bare}"
    );
    assert!(
        bare.contains("also imports, with no authority: types, streams, clocks,"),
        "{bare}"
    );

    // reveal and http on a plugin that imports neither: two more unused grants.
    assert!(
        wide.contains("! warning secrets: granted but unused"),
        "{wide}"
    );
    assert!(
        wide.contains("! warning http: granted but unused"),
        "{wide}"
    );
    assert!(
        out.contains("4 stages: 5 dangerous grants (1 critical), 4 warnings"),
        "{out}"
    );
}

#[test]
fn audit_json_has_the_same_data() {
    let ws = ws(&audited_pipeline());
    let r = ws.gantry(&["audit", "--json"]);
    assert_eq!(r.code, 0, "stderr:\n{}", r.stderr);
    let v: Value = serde_json::from_str(&r.stdout).expect("JSON on stdout");
    assert_eq!(v["pipeline"], "audited");
    assert_eq!(v["summary"]["stages"], 4);
    assert_eq!(v["summary"]["critical"], 1);
    assert_eq!(v["summary"]["dangers"], 5);
    assert_eq!(v["summary"]["warnings"], 4);
    let stages = v["stages"].as_array().expect("stages");
    let names: Vec<&str> = stages.iter().filter_map(|s| s["stage"].as_str()).collect();
    assert_eq!(names, ["scan", "build", "wide", "bare"], "file order");
    let stage = |n: &str| stages.iter().find(|s| s["stage"] == n).expect("stage");
    let cap = |s: &Value, c: &str| {
        s["capabilities"]
            .as_array()
            .and_then(|a| a.iter().find(|x| x["capability"] == c).cloned())
            .unwrap_or(Value::Null)
    };

    let build = stage("build");
    assert_eq!(build["digest"], digest_of(plugins::PROBE));
    assert_eq!(build["plugin"], pinned(plugins::PROBE));
    assert_eq!(build["name"], "probe");
    assert_eq!(cap(build, "process")["status"], "unused-grant");
    assert_eq!(cap(build, "process")["imported"], false);
    assert_eq!(cap(build, "process")["granted"], true);
    assert_eq!(cap(build, "fs")["status"], "granted");
    assert_eq!(cap(build, "log")["status"], "always");
    assert_eq!(build["dangers"][0]["severity"], "critical");
    assert_eq!(build["dangers"][0]["grant"], "grants.process");
    assert_eq!(build["grants"]["process"][0]["cmd"], "cargo");
    assert_eq!(build["warnings"].as_array().map(Vec::len), Some(2));
    let imports = build["imports"].as_array().expect("imports");
    assert!(imports.iter().any(|i| {
        i["name"]
            .as_str()
            .is_some_and(|n| n.starts_with("wasi:filesystem/"))
            && i["capability"] == "fs"
            && i["meaning"].as_str().is_some_and(|m| m.starts_with("fs:"))
    }));
    assert!(
        imports.iter().any(|i| i["capability"].is_null()),
        "imports with no authority are listed too"
    );

    let bare = stage("bare");
    assert_eq!(cap(bare, "fs")["status"], "not-granted");
    assert_eq!(cap(bare, "env")["status"], "not-granted");
    assert!(
        cap(bare, "process").is_null(),
        "not imported, not granted: not listed"
    );
    assert_eq!(bare["dangers"].as_array().map(Vec::len), Some(0));

    let wide = stage("wide");
    let reasons: Vec<&str> = wide["dangers"]
        .as_array()
        .expect("dangers")
        .iter()
        .filter_map(|d| d["grant"].as_str())
        .collect();
    // Critical first, then in the order of the capabilities (fs, env, secrets, http, …).
    assert_eq!(
        reasons,
        [
            "grants.fs.write",
            "grants.reveal",
            "grants.http",
            "grants.http"
        ]
    );
    assert!(
        wide["dangers"]
            .as_array()
            .expect("dangers")
            .iter()
            .all(|d| d["severity"] == "high")
    );
}

fn lock_pipeline(extra_grant: &str) -> String {
    let probe = pinned(plugins::PROBE);
    format!(
        r#"
[pipeline]
name = "locked"

[stage.secrets]
plugin = "builtin:secret-scan"
with = {{ paths = ["."], allow-paths = [".gantry/**"] }}
grants.fs.read = ["."]

[stage.lint]
plugin = "{probe}"
needs = ["secrets"]
grants.fs.read = ["src", "."]
{extra_grant}
"#
    )
}

#[test]
fn lock_round_trip_is_byte_stable_and_locked_runs() {
    let ws = ws(&lock_pipeline(""));
    let r = ws.gantry(&["lock"]);
    assert_eq!(r.code, 0, "stderr:\n{}", r.stderr);
    assert!(r.stderr.contains("wrote `"), "{}", r.stderr);
    let first = ws.read("gantry.lock");
    assert!(
        first.starts_with(
            "# gantry.lock: generated by `gantry lock` from `pipeline.toml`. Commit it"
        ),
        "{first}"
    );
    let probe_digest = digest_of(plugins::PROBE);
    let expected_lint = format!(
        "[stage.lint]\nplugin = \"{}\"\ndigest = \"{probe_digest}\"\nconfig = \"sha256:",
        pinned(plugins::PROBE)
    );
    assert!(first.contains(&expected_lint), "{first}");
    assert!(
        first.contains("\"\nimports = [\n    \"gantry:plugin/log@0.1.1\",\n"),
        "{first}"
    );
    // Grant lists are sets: sorted.
    assert!(
        first.contains("grants.fs.read = [\n    \".\",\n    \"src\",\n]\n"),
        "{first}"
    );
    assert!(
        first.find("[stage.lint]") < first.find("[stage.secrets]"),
        "stages sorted by name:\n{first}"
    );
    assert!(first.contains("version = 1\n"), "{first}");
    assert!(
        !first.contains("grants.fs.write"),
        "empty grants are left out:\n{first}"
    );

    let r = ws.gantry(&["lock"]);
    assert_eq!(r.code, 0, "stderr:\n{}", r.stderr);
    assert!(r.stderr.contains("is up to date"), "{}", r.stderr);
    assert_eq!(ws.read("gantry.lock"), first, "byte-stable across runs");

    let r = ws.gantry(&["lock", "--check"]);
    assert_eq!(r.code, 0, "stderr:\n{}", r.stderr);
    let r = ws.gantry(&["check", "--locked"]);
    assert_eq!(r.code, 0, "stderr:\n{}", r.stderr);
    assert!(r.stderr.contains("matches `gantry.lock`"), "{}", r.stderr);

    // Reordering a grant list is not drift.
    ws.write(
        "pipeline.toml",
        lock_pipeline("").replace(r#"["src", "."]"#, r#"[".", "src"]"#),
    );
    let r = ws.gantry(&["check", "--locked"]);
    assert_eq!(r.code, 0, "stderr:\n{}", r.stderr);

    ws.write("src/main.rs", "fn main() {}\n");
    let r = ws.gantry(&["run", "--locked"]);
    assert_eq!(r.code, 0, "stderr:\n{}", r.stderr);
    assert!(r.dir.is_some(), "the run happened");
    assert_eq!(
        ws.read("gantry.lock"),
        first,
        "running does not touch the lock"
    );
}

/// `check --locked` and `run --locked` both refuse with exit 2, print `expected`
/// lines, and nothing runs.
fn assert_refused(ws: &Workspace, expected: &[&str]) {
    for args in [&["check", "--locked"][..], &["run", "--locked"][..]] {
        let r = ws.gantry(args);
        assert_eq!(r.code, 2, "{args:?} must refuse; stderr:\n{}", r.stderr);
        for e in expected {
            assert!(
                r.stderr.contains(e),
                "{args:?}: missing `{e}` in:\n{}",
                r.stderr
            );
        }
        assert!(r.stderr.contains("nothing ran"), "{}", r.stderr);
        assert!(r.stderr.contains("then run `gantry lock`"), "{}", r.stderr);
        assert!(
            !ws.path(".gantry/runs").exists(),
            "{args:?} created run records"
        );
    }
    let r = ws.gantry(&["lock", "--check"]);
    assert_eq!(
        r.code, 1,
        "lock --check on a stale lock; stderr:\n{}",
        r.stderr
    );
}

/// A stage's configuration decides what it does with its grants (the command a
/// `container-run` stage runs, the paths a scanner skips): a changed `with` is a
/// change of the lock, shown as such; the same table reordered or reformatted is not.
#[test]
fn locked_refuses_a_changed_configuration() {
    let ws = ws(&lock_pipeline(""));
    assert_eq!(ws.gantry(&["lock"]).code, 0);
    let lock = ws.read("gantry.lock");
    assert_eq!(lock.matches("\nconfig = \"sha256:").count(), 2, "{lock}");

    // The same table, keys reordered and spaced differently: no change.
    ws.write(
        "pipeline.toml",
        lock_pipeline("").replace(
            r#"with = { paths = ["."], allow-paths = [".gantry/**"] }"#,
            r#"with = {allow-paths=[".gantry/**"],paths=["."]}"#,
        ),
    );
    let r = ws.gantry(&["check", "--locked"]);
    assert_eq!(r.code, 0, "stderr:\n{}", r.stderr);

    // Skipping more paths is a change a reviewer must see.
    ws.write(
        "pipeline.toml",
        lock_pipeline("").replace(r#"[".gantry/**"]"#, r#"[".gantry/**", "src/**"]"#),
    );
    assert_refused(
        &ws,
        &["stage secrets: configuration (`with`) changed: config sha256:"],
    );
    let r = ws.gantry(&["lock"]);
    assert_eq!(r.code, 0, "stderr:\n{}", r.stderr);
    assert_eq!(ws.gantry(&["check", "--locked"]).code, 0);
}

#[test]
fn locked_refuses_a_missing_lock() {
    let ws = ws(&lock_pipeline(""));
    for args in [&["check", "--locked"][..], &["run", "--locked"][..]] {
        let r = ws.gantry(args);
        assert_eq!(r.code, 2, "stderr:\n{}", r.stderr);
        assert!(r.stderr.contains("gantry.lock"), "{}", r.stderr);
        assert!(
            r.stderr.contains("and there is none; nothing ran"),
            "{}",
            r.stderr
        );
        assert!(r.stderr.contains("hint: run `gantry lock`"), "{}", r.stderr);
        assert!(!ws.path(".gantry/runs").exists());
    }
    let r = ws.gantry(&["lock", "--check"]);
    assert_eq!(r.code, 1, "stderr:\n{}", r.stderr);
    // Without --locked, a missing lock changes nothing.
    let r = ws.gantry(&["check"]);
    assert_eq!(r.code, 0, "stderr:\n{}", r.stderr);
}

#[test]
fn locked_refuses_an_added_grant() {
    let ws = ws(&lock_pipeline(""));
    assert_eq!(ws.gantry(&["lock"]).code, 0);
    ws.write(
        "pipeline.toml",
        lock_pipeline(r#"grants.fs.write = ["dist"]"#),
    );
    assert_refused(&ws, &[r#"stage lint: + grants.fs.write = ["dist"]"#]);

    // Process grants are locked whole, durations as text; they round-trip.
    ws.write(
        "pipeline.toml",
        lock_pipeline(
            r#"grants.process = [{ cmd = "cargo", args = ["build", "**"], timeout = "5m" }]"#,
        ),
    );
    let r = ws.gantry(&["check", "--locked"]);
    assert_eq!(r.code, 2, "stderr:\n{}", r.stderr);
    assert!(
        r.stderr.contains(
            r#"stage lint: + grants.process = [{ args = ["build", "**"], cmd = "cargo", "#
        ),
        "{}",
        r.stderr
    );
    assert!(r.stderr.contains(r#"timeout = "5m" }]"#), "{}", r.stderr);
    assert_eq!(ws.gantry(&["lock"]).code, 0);
    let r = ws.gantry(&["check", "--locked"]);
    assert_eq!(
        r.code,
        0,
        "a locked process grant matches itself; stderr:\n{}\nlock:\n{}",
        r.stderr,
        ws.read("gantry.lock")
    );

    // A changed grant shows both sides.
    ws.write(
        "pipeline.toml",
        lock_pipeline("").replace(r#"["src", "."]"#, r#"["src"]"#),
    );
    assert_refused(
        &ws,
        &[
            r#"stage lint: - grants.fs.read = [".", "src"]"#,
            r#"stage lint: + grants.fs.read = ["src"]"#,
            r#"stage lint: - grants.process = [{ args = ["build", "**"]"#,
        ],
    );

    // `gantry lock` accepts the change after review, and prints what it accepted.
    let r = ws.gantry(&["lock"]);
    assert_eq!(r.code, 0, "stderr:\n{}", r.stderr);
    assert!(
        r.stderr
            .contains(r#"stage lint: + grants.fs.read = ["src"]"#),
        "{}",
        r.stderr
    );
    assert!(r.stderr.contains("updated `"), "{}", r.stderr);
    assert_eq!(ws.gantry(&["check", "--locked"]).code, 0);
}

#[test]
fn locked_refuses_a_changed_plugin_digest() {
    let probe_digest = digest_of(plugins::PROBE);
    let hostile_digest = digest_of(plugins::HOSTILE);
    let pipeline = |digest: &str, with: &str| {
        format!(
            r#"
[pipeline]
name = "swap"

[stage.tool]
plugin = "file:plugins/tool.wasm#{digest}"
with = {with}
grants.fs.read = ["src"]
"#
        )
    };
    let ws = ws(&pipeline(&probe_digest, "{}"));
    ws.write(
        "plugins/tool.wasm",
        std::fs::read(plugins::PROBE).expect("probe"),
    );
    let r = ws.gantry(&["lock"]);
    assert_eq!(r.code, 0, "stderr:\n{}", r.stderr);
    assert!(ws.read("gantry.lock").contains(&format!(
        "plugin = \"file:plugins/tool.wasm#{probe_digest}\""
    )));
    assert_eq!(ws.gantry(&["check", "--locked"]).code, 0);

    // Someone replaces the plugin and re-pins it: pipeline.toml is consistent, the lock is not.
    ws.write(
        "plugins/tool.wasm",
        std::fs::read(plugins::HOSTILE).expect("hostile"),
    );
    ws.write(
        "pipeline.toml",
        pipeline(&hostile_digest, r#"{ action = "env" }"#),
    );
    assert_eq!(ws.gantry(&["check"]).code, 0, "the new pin itself is valid");
    assert_refused(
        &ws,
        &[
            &format!("stage tool: digest {probe_digest} → {hostile_digest}"),
            &format!(
                "stage tool: plugin file:plugins/tool.wasm#{probe_digest} → file:plugins/tool.wasm#{hostile_digest}"
            ),
            // The hostile plugin asks for secrets, the probe does not: imports differ too.
            "stage tool: + import gantry:plugin/secrets@0.1.1",
        ],
    );
}

#[test]
fn locked_refuses_added_and_removed_stages() {
    let ws = ws(&lock_pipeline(""));
    assert_eq!(ws.gantry(&["lock"]).code, 0);
    let probe = pinned(plugins::PROBE);
    let changed = format!(
        r#"
[pipeline]
name = "locked"

[stage.secrets]
plugin = "builtin:secret-scan"
with = {{ paths = ["."], allow-paths = [".gantry/**"] }}
grants.fs.read = ["."]

[stage.deploy]
plugin = "{probe}"
grants.fs.write = ["out"]
"#
    );
    ws.write("pipeline.toml", &changed);
    assert_refused(
        &ws,
        &[
            &format!(
                "stage deploy: added (not in gantry.lock): plugin {probe}, digest {}",
                digest_of(plugins::PROBE)
            ),
            r#"stage deploy: + grants.fs.write = ["out"]"#,
            "stage lint: removed (in gantry.lock, not in the pipeline)",
        ],
    );
    // The unchanged stage is not mentioned.
    let r = ws.gantry(&["check", "--locked"]);
    assert!(!r.stderr.contains("stage secrets:"), "{}", r.stderr);
}

#[test]
fn a_corrupt_lock_is_refused() {
    let ws = ws(&lock_pipeline(""));
    ws.write("gantry.lock", "version = 1\n[stage.lint\n");
    let r = ws.gantry(&["check", "--locked"]);
    assert_eq!(r.code, 2, "stderr:\n{}", r.stderr);
    assert!(
        r.stderr.contains("is not a valid lock file"),
        "{}",
        r.stderr
    );
    assert!(
        r.stderr.contains("hint: regenerate it with `gantry lock`"),
        "{}",
        r.stderr
    );
    ws.write("gantry.lock", "version = 7\n");
    let r = ws.gantry(&["check", "--locked"]);
    assert_eq!(r.code, 2, "stderr:\n{}", r.stderr);
    assert!(
        r.stderr.contains("format version 7 is not supported"),
        "{}",
        r.stderr
    );
}

#[test]
fn locked_refuses_a_changed_secret_source() {
    let with_source = |var: &str| {
        lock_pipeline(&format!(
            "grants.secrets = [\"TOKEN\"]\n\n[secrets]\nTOKEN = {{ env = \"{var}\" }}\n"
        ))
    };
    let ws = ws(&with_source("STAGING_TOKEN"));
    assert_eq!(ws.gantry(&["lock"]).code, 0);
    let lock = ws.read("gantry.lock");
    assert!(
        lock.contains("[secrets]\nTOKEN = { env = \"STAGING_TOKEN\" }\n"),
        "{lock}"
    );
    assert!(
        lock.contains("grants.secrets = [\n    \"TOKEN\",\n]\n"),
        "{lock}"
    );
    // Same grant, but it now hands out another credential.
    ws.write("pipeline.toml", with_source("PROD_TOKEN"));
    assert_refused(
        &ws,
        &[r#"secret TOKEN: source { env = "STAGING_TOKEN" } → { env = "PROD_TOKEN" }"#],
    );
}

/// A deploy stage's containers grant, as a reviewer reads it: what it may run, push,
/// publish and manage, and why managing containers with a network is flagged.
#[test]
fn audit_shows_container_grants_and_flags_deploys() {
    let ws = ws(&format!(
        r#"[pipeline]
name = "deploys"

[stage.deploy]
plugin = "{}"
with = {{ op = "list" }}
grants.containers = {{ run = ["127.0.0.1:5000/app:*"], push = ["127.0.0.1:5000/app"], publish = [8081, "9000-9001"], network = ["bridge"], manage = "app-", memory = "512MiB" }}
"#,
        pinned(plugins::CTR_PROBE)
    ));
    let r = ws.gantry(&["audit", "--json"]);
    assert_eq!(r.code, 0, "stderr:\n{}", r.stderr);
    let v: Value = serde_json::from_str(&r.stdout).expect("JSON on stdout");
    let stage = &v["stages"][0];
    let cap = stage["capabilities"]
        .as_array()
        .and_then(|c| c.iter().find(|c| c["capability"] == "containers"))
        .unwrap_or_else(|| panic!("no containers capability: {stage}"));
    assert_eq!(cap["status"], "granted", "{cap}");
    assert_eq!(
        cap["imports"][0]
            .as_str()
            .map(|s| s.starts_with("gantry:plugin/containers")),
        Some(true),
        "{cap}"
    );
    let lines: Vec<&str> = cap["grants"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .collect();
    assert!(
        lines.contains(&"run images `127.0.0.1:5000/app:*`"),
        "{lines:?}"
    );
    assert!(lines.contains(&"push to `127.0.0.1:5000/app`"), "{lines:?}");
    assert!(
        lines.contains(&"publish containers' ports 8081, 9000-9001 on 127.0.0.1"),
        "{lines:?}"
    );
    assert!(
        lines.contains(&"manage long-running containers named `app-*`"),
        "{lines:?}"
    );
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("ceilings: 2") && l.contains("512MiB")),
        "{lines:?}"
    );
    let dangers: Vec<&str> = stage["dangers"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|d| d["grant"].as_str())
        .collect();
    assert_eq!(
        dangers,
        ["grants.containers.manage", "grants.containers.network"]
    );
    let text = ws.gantry(&["audit"]);
    assert!(text.stdout.contains("containers"), "{}", text.stdout);
}

/// The containers broker mounts and builds only from directories the fs grants cover,
/// so a `container-run` stage's fs grant is used even though the plugin imports no
/// filesystem interface: audit must not tell the reviewer to remove it (removing it
/// breaks the stage). Grants no broker of the plugin reads are still flagged:
/// `audit_names_imports_grants_differences_and_dangers`.
#[test]
fn audit_counts_fs_grants_the_containers_broker_uses() {
    let ws = ws(r#"[pipeline]
name = "ci"

[stage.test]
plugin = "builtin:container-run"
with = { image = "127.0.0.1:5000/ci:1", command = ["make", "test"] }
grants.fs.read = ["."]
grants.containers = { run = ["127.0.0.1:5000/ci:*"] }
"#);
    let r = ws.gantry(&["audit", "--json"]);
    assert_eq!(r.code, 0, "stderr:\n{}", r.stderr);
    let v: Value = serde_json::from_str(&r.stdout).expect("JSON on stdout");
    let stage = |name: &str| {
        v["stages"]
            .as_array()
            .and_then(|s| s.iter().find(|s| s["stage"] == name))
            .cloned()
            .unwrap_or_else(|| panic!("no stage {name}: {v}"))
    };
    let test = stage("test");
    let fs = test["capabilities"]
        .as_array()
        .and_then(|c| c.iter().find(|c| c["capability"] == "fs"))
        .cloned()
        .unwrap_or_else(|| panic!("no fs capability: {test}"));
    assert_eq!(fs["status"], "granted", "{fs}");
    assert!(
        fs["note"]
            .as_str()
            .unwrap_or_default()
            .contains("containers broker mounts and builds"),
        "{fs}"
    );
    assert_eq!(test["warnings"].as_array().map(Vec::len), Some(0), "{test}");
}

/// Swarm binds a service's published port on every interface of every node: audit says
/// so, and flags it, exactly when the grant allows it (`expose = "all-interfaces"`);
/// without it audit says services publish nothing (the broker refuses their ports:
/// `tests/e2e/deploy.rs`). A services grant without `bridge` is refused by `check`,
/// since Swarm runs a service's tasks there.
#[test]
fn audit_says_where_swarm_services_publish_and_check_requires_bridge() {
    let grants = |extra: &str| {
        format!(
            r#"[pipeline]
name = "swarm"

[stage.deploy]
plugin = "{}"
with = {{ op = "list" }}
grants.containers = {{ run = ["127.0.0.1:5000/app:*"], publish = [18090], manage = "app-", services = true{extra} }}
"#,
            pinned(plugins::CTR_PROBE)
        )
    };
    let lines_and_dangers = |ws: &Workspace| {
        let r = ws.gantry(&["audit", "--json"]);
        assert_eq!(r.code, 0, "stderr:\n{}", r.stderr);
        let v: Value = serde_json::from_str(&r.stdout).expect("JSON on stdout");
        let stage = &v["stages"][0];
        let cap = stage["capabilities"]
            .as_array()
            .and_then(|c| c.iter().find(|c| c["capability"] == "containers"))
            .cloned()
            .unwrap_or_else(|| panic!("no containers capability: {stage}"));
        let lines: Vec<String> = cap["grants"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|l| l.as_str().map(String::from))
            .collect();
        let dangers: Vec<String> = stage["dangers"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|d| d["grant"].as_str().map(String::from))
            .collect();
        (lines, dangers)
    };

    let ws = self::ws(&grants(", network = [\"bridge\"]"));
    let (lines, dangers) = lines_and_dangers(&ws);
    assert!(lines.iter().any(|l| l == "Swarm services publish no ports (Swarm would bind them on every interface; `expose` is not granted)"), "{lines:?}");
    assert!(
        lines
            .iter()
            .any(|l| l == "Swarm services' tasks run on `bridge`"),
        "{lines:?}"
    );
    assert!(
        !dangers.iter().any(|d| d == "grants.containers.expose"),
        "{dangers:?}"
    );

    let ws = self::ws(&grants(
        ", network = [\"bridge\"], expose = \"all-interfaces\"",
    ));
    let (lines, dangers) = lines_and_dangers(&ws);
    assert!(
        lines.iter().any(|l| l == "publish Swarm services' ports 18090 on every interface of every node (0.0.0.0 and ::)"),
        "{lines:?}"
    );
    assert!(
        dangers.iter().any(|d| d == "grants.containers.expose"),
        "{dangers:?}"
    );

    let ws = self::ws(&grants(""));
    let r = ws.gantry(&["check"]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(
        r.stderr
            .contains("Swarm runs a service's tasks on the `bridge` network")
            && r.stderr.contains("network = [\"bridge\"]"),
        "{}",
        r.stderr
    );
}
