//! The `gantry` command line: `check` (with golden files of the errors that need a
//! plugin to detect), `plan`, `plugin inspect`, `plugin new`, exit codes.

use std::path::{Path, PathBuf};
use std::process::Command;

use gantry_test_plugins::{Workspace, pinned, plugins};

const GANTRY: &str = env!("CARGO_BIN_EXE_gantry");

fn ui_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/ui-check")
}

/// Every `tests/ui-check/NAME.toml` is checked with `gantry check -f NAME.toml`; its
/// stderr must equal `NAME.err` (`UPDATE_GOLDEN=1` rewrites them).
#[test]
fn check_errors_match_golden_files() {
    let dir = ui_dir();
    let mut cases: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        .collect();
    cases.sort();
    assert!(cases.len() >= 4, "golden cases missing");
    let cache = std::env::temp_dir().join(format!("gantry-ui-cache-{}", std::process::id()));
    let mut failures = Vec::new();
    for case in &cases {
        let name = case.file_name().unwrap().to_str().unwrap();
        let out = Command::new(GANTRY)
            .args(["check", "-f", name])
            .current_dir(&dir)
            .env("NO_COLOR", "1")
            .env("GANTRY_CACHE_DIR", &cache)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{name}: expected exit 2");
        let actual = String::from_utf8_lossy(&out.stderr).into_owned();
        let golden = case.with_extension("err");
        if gantry_test_plugins::update_golden() {
            std::fs::write(&golden, &actual).unwrap();
            continue;
        }
        let expected = std::fs::read_to_string(&golden).unwrap_or_default();
        if expected != actual {
            failures.push(format!(
                "{name}:\n--- expected\n{expected}\n--- actual\n{actual}"
            ));
        }
    }
    let _ = std::fs::remove_dir_all(&cache);
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// What varies between runs of the same pipeline: durations (`0.12s`), digests and
/// run ids. Replaced so the console output can be compared with a golden file.
fn stable(text: &str) -> String {
    let mut out = String::new();
    for line in text.lines() {
        let c: Vec<char> = line.chars().collect();
        let at = |i: usize, s: &str| {
            c.get(i..i + s.chars().count())
                .is_some_and(|w| w.iter().copied().eq(s.chars()))
        };
        let mut l = String::new();
        let mut i = 0;
        while i < c.len() {
            // `sha256:` + 64 hex digits.
            if at(i, "sha256:")
                && c.get(i + 7..i + 71)
                    .is_some_and(|h| h.iter().all(char::is_ascii_hexdigit))
            {
                l.push_str("sha256:…");
                i += 71;
                continue;
            }
            // A duration: digits, `.`, two digits, `s`.
            if c[i].is_ascii_digit() && (i == 0 || !c[i - 1].is_ascii_alphanumeric()) {
                let mut j = i;
                while j < c.len() && c[j].is_ascii_digit() {
                    j += 1;
                }
                if c.get(j..j + 4).is_some_and(|t| {
                    t[0] == '.' && t[1].is_ascii_digit() && t[2].is_ascii_digit() && t[3] == 's'
                }) {
                    l.push_str("N.NNs");
                    i = j + 4;
                    continue;
                }
            }
            l.push(c[i]);
            i += 1;
        }
        // Records of a run: `.gantry/runs/<run id>`.
        if let Some(start) = l.find(".gantry/runs/") {
            let end = l[start..].find('`').map_or(l.len(), |e| start + e);
            l.replace_range(start..end, ".gantry/runs/RUN");
        }
        out.push_str(&l);
        out.push('\n');
    }
    out
}

/// Every `tests/ui-run/NAME.toml` is run with `gantry run` (`{probe}` replaced by the
/// pinned probe plugin); its console output, with durations, digests and run ids made
/// stable, must equal `NAME.err` (`UPDATE_GOLDEN=1` rewrites them). What a user reads
/// when a stage fails: `error:`, `Caused by:`, `hint:`, the findings that failed it.
#[test]
fn run_console_output_matches_golden_files() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/ui-run");
    let mut cases: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        .collect();
    cases.sort();
    assert!(cases.len() >= 2, "golden cases missing");
    let mut failures = Vec::new();
    for case in &cases {
        let name = case.file_name().unwrap().to_str().unwrap();
        let ws = Workspace::new(GANTRY);
        let text = std::fs::read_to_string(case).unwrap();
        let probe = pinned(plugins::PROBE);
        ws.write("pipeline.toml", text.replace("{probe}", &probe));
        let r = ws.gantry_env(&["run"], &[("NO_COLOR", "1")]);
        assert_eq!(r.code, 1, "{name}: a stage fails: {}", r.stderr);
        // Each case is one chain of stages, so the order of the lines is fixed.
        let actual = stable(&r.stderr.replace(&probe, "{probe}"));
        let golden = case.with_extension("err");
        if gantry_test_plugins::update_golden() {
            std::fs::write(&golden, &actual).unwrap();
            continue;
        }
        let expected = std::fs::read_to_string(&golden).unwrap_or_default();
        if expected != actual {
            failures.push(format!(
                "{name}:\n--- expected\n{expected}\n--- actual\n{actual}"
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn check_accepts_a_valid_pipeline_and_plan_lists_stages_in_order() {
    let p = pinned(plugins::PROBE);
    let ws = Workspace::new(GANTRY);
    ws.write(
        "pipeline.toml",
        format!(
            r#"
[pipeline]
name = "plan"
[stage.deploy]
plugin = "{p}"
needs = ["build"]
when = {{ branch = "main" }}
grants.http = [{{ url = "https://deploy.example.com/api/", methods = ["POST"] }}]
grants.env = ["CI"]
[stage.build]
plugin = "{p}"
grants.fs.read = ["."]
grants.fs.write = ["dist"]
timeout = "2m"
[stage.scan]
plugin = "builtin:secret-scan"
grants.fs.read = ["."]
"#
        ),
    );
    let r = ws.gantry(&["check"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        r.stderr.contains("ok `pipeline.toml`: 3 stages"),
        "{}",
        r.stderr
    );
    assert!(
        !ws.path(".gantry").exists(),
        "check must not create run records"
    );

    let r = ws.gantry(&["plan"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let build = r.stdout.find("build").unwrap();
    let deploy = r.stdout.find("deploy").unwrap();
    assert!(build < deploy, "{}", r.stdout);
    assert!(r.stdout.contains("needs: build"), "{}", r.stdout);
    assert!(r.stdout.contains("when: branch main"), "{}", r.stdout);
    // Every grant, in the words `gantry audit` uses, not only the fs ones.
    assert!(
        r.stdout.contains("grants: fs: write `dist`"),
        "{}",
        r.stdout
    );
    assert!(
        r.stdout
            .contains("grants: http: `https://deploy.example.com/api/` (POST)"),
        "{}",
        r.stdout
    );
    assert!(
        r.stdout.contains("grants: env: variables `CI`"),
        "{}",
        r.stdout
    );
    assert_eq!(r.stdout.matches("grants: none").count(), 0, "{}", r.stdout);
    assert!(r.stdout.contains("timeout 2m"), "{}", r.stdout);

    let r = ws.gantry(&["plan", "--json"]);
    let v: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    let order: Vec<&str> = v["stages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["stage"].as_str().unwrap())
        .collect();
    assert_eq!(order, ["build", "deploy", "scan"]);
    assert_eq!(v["stages"][0]["grants"]["fs"]["write"][0], "dist");
}

#[test]
fn inspect_shows_digest_rules_and_imports() {
    let ws = Workspace::new(GANTRY);
    let r = ws.gantry(&["plugin", "inspect", "builtin:secret-scan", "--json"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let v: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(v["plugin"]["name"], "secret-scan");
    assert_eq!(v["plugin"]["kind"], "scanner");
    assert!(v["digest"].as_str().unwrap().starts_with("sha256:"));
    assert!(v["plugin"]["rules"].as_array().unwrap().len() >= 20);
    let imports: Vec<&str> = v["imports"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["name"].as_str().unwrap())
        .collect();
    assert!(
        imports.iter().any(|i| i.starts_with("gantry:plugin/log")),
        "{imports:?}"
    );
    assert!(
        imports
            .iter()
            .any(|i| i.starts_with("wasi:filesystem/preopens")),
        "{imports:?}"
    );
    assert!(
        !imports.iter().any(|i| i.starts_with("wasi:sockets")),
        "{imports:?}"
    );

    // A file: inspect prints the pin to paste into pipeline.toml.
    let r = ws.gantry(&["plugin", "inspect", plugins::HOSTILE]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.stdout.contains(&pinned(plugins::HOSTILE)), "{}", r.stdout);

    let r = ws.gantry(&["plugin", "inspect", "builtin:secret-scam"]);
    assert_eq!(r.code, 2);
    assert!(
        r.stderr.contains("did you mean `builtin:secret-scan`?"),
        "{}",
        r.stderr
    );
}

#[test]
fn a_digest_mismatch_is_refused_before_compiling() {
    let ws = Workspace::new(GANTRY);
    ws.write("p.wasm", std::fs::read(plugins::PROBE).unwrap());
    let real = gantry_registry::Digest::of(&std::fs::read(plugins::PROBE).unwrap());
    let wrong = gantry_registry::Digest::of(b"something else");
    ws.write(
        "pipeline.toml",
        format!("[pipeline]\nname = \"pin\"\n[stage.a]\nplugin = \"file:p.wasm#{wrong}\"\n"),
    );
    let r = ws.gantry(&["run"]);
    assert_eq!(r.code, 2);
    assert!(
        r.stderr
            .contains(&format!("has digest {real}, but the pipeline pins {wrong}")),
        "{}",
        r.stderr
    );
    assert!(r.stderr.contains("pipeline.toml:4:10"), "{}", r.stderr);
    assert!(r.dir.is_none(), "nothing may run");
}

/// `gantry plugin new` writes a crate that builds with cargo for wasm32-wasip2 and runs
/// under gantry unchanged (this test runs cargo: about a minute on a cold cache).
#[test]
fn plugin_new_scaffolds_a_crate_that_builds_and_runs() {
    let ws = Workspace::new(GANTRY);
    let r = ws.gantry(&["plugin", "new", "todo-check"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let dir = ws.path("todo-check");
    // The crate builds anywhere: its SDK is a copy inside it, not a path into the
    // checkout gantry was built from.
    let cargo_toml = std::fs::read_to_string(dir.join("Cargo.toml")).expect("Cargo.toml");
    assert!(
        cargo_toml.contains("path = \"vendor/gantry-sdk\""),
        "{cargo_toml}"
    );
    let checkout = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .canonicalize()
        .unwrap();
    assert!(
        !cargo_toml.contains(checkout.to_str().unwrap()),
        "{cargo_toml}"
    );
    assert!(dir.join("vendor/gantry-sdk/src/lib.rs").is_file());
    assert!(dir.join("vendor/wit/world.wit").is_file());
    // Share the wasm target dir of the workspace build so dependencies compile once:
    // the crate's own `target/` is a link to it.
    let target = Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/scaffold");
    std::fs::create_dir_all(&target).unwrap();
    std::os::unix::fs::symlink(&target, dir.join("target")).unwrap();
    let in_crate = |args: &[&str]| {
        let out = Command::new(GANTRY)
            .args(args)
            .current_dir(&dir)
            .env("NO_COLOR", "1")
            .env("GANTRY_STATE_DIR", &ws.state)
            .env_remove("CARGO_TARGET_DIR")
            .env_remove("RUSTFLAGS")
            .env_remove("CARGO_ENCODED_RUSTFLAGS")
            .output()
            .unwrap();
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let zeros = "0".repeat(64);
    // Build and pin in one command, then run: no digest copied by hand.
    let (code, err) = in_crate(&["plugin", "build"]);
    assert_eq!(code, 0, "{err}");
    assert!(
        err.contains("pinned 1 reference in `pipeline.toml`"),
        "{err}"
    );
    let pipeline = std::fs::read_to_string(dir.join("pipeline.toml")).unwrap();
    assert!(!pipeline.contains(&zeros), "{pipeline}");
    let (code, err) = in_crate(&["run"]);
    assert_eq!(code, 0, "{err}");
    let todos = std::fs::read_to_string(dir.join("src/lib.rs"))
        .unwrap()
        .lines()
        .filter(|l| l.contains("TODO"))
        .count();
    assert!(
        err.contains(&format!("{todos} lines with the marker")),
        "{err}"
    );

    // The edit-build-run loop, with a lock file: one command keeps both pinned.
    let (code, err) = in_crate(&["lock"]);
    assert_eq!(code, 0, "{err}");
    let lib = std::fs::read_to_string(dir.join("src/lib.rs")).unwrap();
    std::fs::write(
        dir.join("src/lib.rs"),
        lib.replace("Reports lines containing a marker", "Reports marked lines"),
    )
    .unwrap();
    let (code, err) = in_crate(&["plugin", "build"]);
    assert_eq!(code, 0, "{err}");
    assert_ne!(
        std::fs::read_to_string(dir.join("pipeline.toml")).unwrap(),
        pipeline
    );
    let (code, err) = in_crate(&["check", "--locked"]);
    assert_eq!(code, 0, "{err}");

    let r = ws.gantry(&["plugin", "new", "todo-check"]);
    assert_eq!(r.code, 2, "refuses to overwrite");
    let r = ws.gantry(&["plugin", "new", "Bad Name"]);
    assert_eq!(r.code, 2);
}

#[test]
fn usage_errors_exit_2_and_help_lists_exit_codes() {
    let ws = Workspace::new(GANTRY);
    let r = ws.gantry(&["frobnicate"]);
    assert_eq!(r.code, 2);
    let r = ws.gantry(&["run"]);
    assert_eq!(r.code, 2, "missing pipeline.toml");
    assert!(
        r.stderr.contains("cannot read `pipeline.toml`"),
        "{}",
        r.stderr
    );
    let r = ws.gantry(&["--help"]);
    assert_eq!(r.code, 0);
    assert!(r.stdout.contains("130  interrupted"), "{}", r.stdout);
}
