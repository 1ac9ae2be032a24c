//! Good-path tests of the whole manifest; error output is covered by `host/tests/ui`.
#![allow(clippy::unwrap_used)]

use std::path::Path;
use std::time::Duration;

use gantry_registry::{Digest, PluginRef};
use serde_json::json;

use super::*;

const HEX: &str = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";

fn parse(src: &str) -> Manifest {
    match Manifest::parse(Path::new("pipeline.toml"), src) {
        Ok(m) => m,
        Err(e) => panic!("expected a valid pipeline, got:\n{e}"),
    }
}

fn errors(src: &str) -> String {
    match Manifest::parse(Path::new("pipeline.toml"), src) {
        Ok(_) => panic!("expected errors"),
        Err(e) => e.to_string(),
    }
}

const FULL: &str = r#"
[pipeline]
name = "gantry"
description = "gantry's own pipeline"

[defaults]
timeout = "5m"
memory = "512MiB"
retries = 2

[stage.secrets]
plugin = "builtin:secret-scan"
with = { paths = ["."], exclude = { globs = ["target/**"] } }
grants.fs.read = ["./", "./src/", "src"]

[stage.lint]
plugin = "file:plugins/lint.wasm#sha256:HEX"
timeout = "30s"
retries = 0
allow-failure = true
limits = { memory = "64MiB", fuel = 1000000000, stdout = "2MiB", stack = "512KiB" }
grants.fs.read = ["."]
grants.fs.write = ["dist/lint"]

[stage.image]
plugin = "plugins/image.wasm#sha256:HEX"
needs = ["secrets", "lint"]
with.context = "."
with.tag = "127.0.0.1:5000/gantry:${git.sha}"

[stage.deploy]
plugin = "builtin:docker-deploy"
needs = ["image"]
when = { branch = ["main", "release/*"], tag = "v*", env = "DEPLOY_TOKEN" }

[stage.deploy.with]
image = "${stages.image.outputs.ref}"
scan = "${ stages.secrets.outputs.count }"
name = "${pipeline.name}-${run.id}"
literal = "$${not.a.placeholder}"
when = 2024-01-01T00:00:00Z
ratio = 0.5
"#;

fn full() -> Manifest {
    parse(&FULL.replace("HEX", HEX))
}

#[test]
fn full_pipeline() {
    let m = full();
    assert_eq!(m.name, "gantry");
    assert_eq!(m.description.as_deref(), Some("gantry's own pipeline"));
    let names: Vec<&str> = m.stages.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(names, ["secrets", "lint", "image", "deploy"]);

    let secrets = m.stage("secrets").unwrap();
    assert_eq!(
        secrets.plugin_ref,
        PluginRef::Builtin {
            name: "secret-scan".into()
        }
    );
    assert_eq!(
        secrets.with,
        json!({ "paths": ["."], "exclude": { "globs": ["target/**"] } })
    );
    assert_eq!(secrets.grants.fs.read, [".", "src"]);
    assert!(secrets.grants.fs.write.is_empty());
    assert_eq!(secrets.timeout, Duration::from_secs(300));
    assert_eq!(secrets.retries, 2);
    assert!(!secrets.allow_failure);
    assert_eq!(
        secrets.limits,
        Limits {
            memory: 512 << 20,
            ..Limits::default()
        }
    );
    assert_eq!(secrets.when, None);
    assert_eq!(&m.source[secrets.span.range()], "[stage.secrets]");
    assert_eq!(
        &m.source[secrets.plugin_span.range()],
        "\"builtin:secret-scan\""
    );

    let lint = m.stage("lint").unwrap();
    assert_eq!(
        lint.plugin_ref,
        PluginRef::File {
            path: "plugins/lint.wasm".into(),
            digest: Digest::parse(HEX).unwrap()
        }
    );
    assert_eq!(lint.timeout, Duration::from_secs(30));
    assert_eq!(lint.retries, 0);
    assert!(lint.allow_failure);
    assert_eq!(
        lint.limits,
        Limits {
            memory: 64 << 20,
            stack: 512 << 10,
            fuel: Some(1_000_000_000),
            stdout: 2 << 20,
            disk: None,
        }
    );
    assert_eq!(lint.grants.fs.write, ["dist/lint"]);
    assert_eq!(lint.with, json!({}));

    let image = m.stage("image").unwrap();
    assert_eq!(
        image.plugin_ref,
        PluginRef::File {
            path: "plugins/image.wasm".into(),
            digest: Digest::parse(HEX).unwrap()
        }
    );
    assert_eq!(image.needs, ["secrets", "lint"]);
    assert_eq!(
        image.with,
        json!({ "context": ".", "tag": "127.0.0.1:5000/gantry:${git.sha}" })
    );

    let deploy = m.stage("deploy").unwrap();
    assert_eq!(
        deploy.when,
        Some(When {
            branch: vec!["main".into(), "release/*".into()],
            tag: vec!["v*".into()],
            env: vec!["DEPLOY_TOKEN".into()],
            ..When::default()
        })
    );
    assert_eq!(deploy.with["when"], json!("2024-01-01T00:00:00Z"));
    assert_eq!(deploy.with["ratio"], json!(0.5));
    assert_eq!(deploy.timeout, Duration::from_secs(300));
}

#[test]
fn topo_and_closure() {
    let m = full();
    assert_eq!(m.topo_order(), ["secrets", "lint", "image", "deploy"]);
    assert_eq!(
        m.closure(&["image".into()]).unwrap(),
        ["secrets", "lint", "image"]
    );
    assert_eq!(
        m.closure(&["lint".into(), "lint".into()]).unwrap(),
        ["lint"]
    );
    assert_eq!(m.closure(&["deploy".into()]).unwrap().len(), 4);
    let e = m.closure(&["imgae".into()]).unwrap_err();
    assert_eq!(
        e.render(),
        "error: no stage named `imgae` in pipeline `gantry`\n  = hint: did you mean `image`?"
    );
    let e = m.closure(&["zzz".into()]).unwrap_err();
    assert_eq!(
        e.hint.as_deref(),
        Some("stages in `pipeline.toml`: `secrets`, `lint`, `image`, `deploy`")
    );
}

#[test]
fn topo_order_is_deterministic_by_file_order() {
    let m = parse(
        r#"
[pipeline]
name = "p"
[stage.d]
plugin = "builtin:x"
needs = ["c", "a"]
[stage.c]
plugin = "builtin:x"
[stage.b]
plugin = "builtin:x"
needs = ["c"]
[stage.a]
plugin = "builtin:x"
"#,
    );
    assert_eq!(m.topo_order(), ["c", "b", "a", "d"]);
    assert_eq!(m.closure(&["d".into()]).unwrap(), ["c", "a", "d"]);
}

#[test]
fn config_span_falls_back() {
    let m = full();
    let text = |stage: &str, p: &str| m.source[m.config_span(stage, p).range()].to_string();
    assert_eq!(text("secrets", "/paths/0"), "\".\"");
    assert_eq!(text("secrets", "/paths"), "[\".\"]");
    assert_eq!(text("secrets", "/exclude/globs/0"), "\"target/**\"");
    // Missing index → nearest enclosing key; missing key → `with` key.
    assert_eq!(text("secrets", "/paths/7"), "paths");
    assert_eq!(text("secrets", "/exclude/nope/1"), "exclude");
    assert_eq!(text("secrets", "/nope"), "with");
    assert!(text("secrets", "").starts_with("{ paths"));
    assert_eq!(text("deploy", "/image"), "\"${stages.image.outputs.ref}\"");
    assert_eq!(text("deploy", ""), "[stage.deploy.with]");
    assert_eq!(
        text("image", "/tag"),
        "\"127.0.0.1:5000/gantry:${git.sha}\""
    );
    // No `with` at all → the stage header.
    assert_eq!(text("lint", "/x"), "[stage.lint]");
    let d = m.diag(
        m.config_span("secrets", "/paths/0"),
        "path `.` is too broad",
    );
    assert_eq!((d.line, d.column), (13, 19));
}

#[test]
fn config_span_escapes_pointer_tokens() {
    let m = parse(
        "[pipeline]\nname = \"p\"\n[stage.a]\nplugin = \"builtin:x\"\nwith = { \"a/b\" = 1, \"t~\" = [2] }\n",
    );
    assert_eq!(&m.source[m.config_span("a", "/a~1b").range()], "1");
    assert_eq!(&m.source[m.config_span("a", "/t~0/0").range()], "2");
}

#[test]
fn disk_limit_is_optional_and_inherited() {
    let m = parse(
        r#"
[pipeline]
name = "p"
[defaults]
disk = "1GiB"
[stage.a]
plugin = "builtin:x"
[stage.b]
plugin = "builtin:x"
limits.disk = "10MiB"
[stage.c]
plugin = "builtin:x"
"#,
    );
    assert_eq!(m.stage("a").unwrap().limits.disk, Some(1 << 30));
    assert_eq!(m.stage("b").unwrap().limits.disk, Some(10 << 20));
    let none = parse("[pipeline]\nname = \"p\"\n[stage.a]\nplugin = \"builtin:x\"\n");
    assert_eq!(none.stages[0].limits.disk, None);
    let e = errors(
        "[pipeline]\nname = \"p\"\n[stage.a]\nplugin = \"builtin:x\"\nlimits.disk = \"10B\"\n",
    );
    assert!(
        e.contains("`limits.disk` in stage `a` must be between `1KiB` and `64TiB`"),
        "{e}"
    );
    let e =
        errors("[pipeline]\nname = \"p\"\n[stage.a]\nplugin = \"builtin:x\"\ndisk = \"1GiB\"\n");
    assert!(e.contains("`limits.disk`"), "{e}");
}

#[test]
fn defaults_apply_unless_stage_overrides() {
    let m = parse(
        r#"
[pipeline]
name = "p"
[defaults]
timeout = "1h"
allow-failure = true
limits = { memory = "1GiB", fuel = 5 }
stdout = "4MiB"
[stage.a]
plugin = "builtin:x"
[stage.b]
plugin = "builtin:x"
timeout = "2s"
allow-failure = false
limits.memory = "2MiB"
"#,
    );
    let (a, b) = (m.stage("a").unwrap(), m.stage("b").unwrap());
    assert_eq!(a.timeout, Duration::from_secs(3600));
    assert!(a.allow_failure);
    assert_eq!(
        a.limits,
        Limits {
            memory: 1 << 30,
            stack: 1 << 20,
            fuel: Some(5),
            stdout: 4 << 20,
            disk: None,
        }
    );
    assert_eq!(b.timeout, Duration::from_secs(2));
    assert!(!b.allow_failure);
    assert_eq!(
        b.limits,
        Limits {
            memory: 2 << 20,
            stack: 1 << 20,
            fuel: Some(5),
            stdout: 4 << 20,
            disk: None,
        }
    );
}

#[test]
fn builtin_defaults() {
    let m = parse("[pipeline]\nname = \"p\"\n[stage.a]\nplugin = \"builtin:x\"\n");
    let a = &m.stages[0];
    assert_eq!(a.timeout, DEFAULT_TIMEOUT);
    assert_eq!(a.retries, 0);
    assert!(!a.allow_failure);
    assert_eq!(
        a.limits,
        Limits {
            memory: 256 << 20,
            stack: 1 << 20,
            fuel: None,
            stdout: 1 << 20,
            disk: None,
        }
    );
    assert_eq!(a.grants, Grants::default());
    assert!(a.needs.is_empty());
    assert_eq!(a.with, json!({}));
    assert_eq!(m.dir(), Path::new("."));
}

#[test]
fn placeholders_through_transitive_needs_are_allowed() {
    parse(
        r#"
[pipeline]
name = "p"
[stage.a]
plugin = "builtin:x"
[stage.b]
plugin = "builtin:x"
needs = ["a"]
[stage.c]
plugin = "builtin:x"
needs = ["b"]
with = { v = "${stages.a.outputs.k}", w = ["${stages.b.outputs.k}"], t = "${git.tag}${git.branch}${git.short-sha}" }
"#,
    );
}

#[test]
fn many_errors_at_once_in_file_order() {
    let out = errors(
        r#"
[pipeline]
name = "p"
[stage.a]
plugn = "builtin:x"
retries = 11
[stage.c]
with = {}
[stage.b]
plugin = "builtin:x"
needs = ["zz"]
timeout = "1y"
"#,
    );
    let firsts: Vec<&str> = out.lines().filter(|l| l.starts_with("error:")).collect();
    assert_eq!(
        firsts,
        [
            "error: unknown key `plugn` in stage `a`",
            "error: `retries` in stage `a` must be between 0 and 10, found `11`",
            "error: stage `c` has no `plugin`",
            "error: stage `b` needs unknown stage `zz`",
            "error: invalid timeout `1y` in stage `b`: unknown unit `y`",
        ]
    );
}

#[test]
fn load_reports_missing_file_plainly() {
    let e = Manifest::load(Path::new("/nonexistent/gantry/pipeline.toml")).unwrap_err();
    assert_eq!(e.len(), 1);
    assert!(
        e.to_string()
            .starts_with("error: cannot read `/nonexistent/gantry/pipeline.toml`: ")
    );
}

#[test]
fn manifest_diag_points_into_file() {
    let m = full();
    let s = m.stage("deploy").unwrap();
    let d = m
        .diag(s.plugin_span, "plugin `docker-deploy` is not built in")
        .with_hint("built-in plugins: secret-scan");
    let r = d.render();
    assert!(
        r.starts_with("error: plugin `docker-deploy` is not built in\n  --> pipeline.toml:32:10\n"),
        "{r}"
    );
    assert!(
        r.contains(
            "32 | plugin = \"builtin:docker-deploy\"\n   |          ^^^^^^^^^^^^^^^^^^^^^^^\n"
        ),
        "{r}"
    );
}

#[test]
fn interp_references_and_substitution_on_parsed_with() {
    let m = full();
    let deploy = m.stage("deploy").unwrap();
    let refs = interp::references(&deploy.with);
    assert!(refs.contains(&interp::Placeholder::Output {
        stage: "image".into(),
        key: "ref".into()
    }));
    let outputs = |s: &str, k: &str| match (s, k) {
        ("image", "ref") => Some("reg/gantry@sha256:1".to_string()),
        ("secrets", "count") => Some("0".to_string()),
        _ => None,
    };
    let keys = |_: &str| Vec::new();
    let cx = interp::Context {
        outputs: &outputs,
        output_keys: &keys,
        git_sha: Some("abc"),
        git_branch: Some("main"),
        git_tag: None,
        pipeline: &m.name,
        run_id: "42",
        inputs: &Default::default(),
    };
    let out = interp::interpolate(&deploy.with, &cx).unwrap();
    assert_eq!(out["image"], "reg/gantry@sha256:1");
    assert_eq!(out["scan"], "0");
    assert_eq!(out["name"], "gantry-42");
    assert_eq!(out["literal"], "${not.a.placeholder}");
}

const GRANTS: &str = r#"
[pipeline]
name = "p"

[stage.publish]
plugin = "builtin:x"
grants.env = ["CI", "GIT_SHA", "CI"]
grants.secrets = ["REGISTRY_TOKEN", "REGISTRY_TOKEN"]
grants.reveal = ["DEPLOY_KEY"]
grants.http = [
  "https://API.example.com/v1/",
  { url = "http://127.0.0.1:8081", methods = ["GET", "HEAD", "GET"] },
  "https://*.s3.example.com",
]
grants.process = [
  { cmd = "cargo", args = ["clippy", "**"], env = ["CARGO_HOME"], read-only = true, timeout = "5m" },
  { cmd = "git", output = "64KiB" },
]

[secrets]
REGISTRY_TOKEN = { env = "CI_REGISTRY_TOKEN" }
DEPLOY_KEY = { file = "secrets/deploy.key" }
ABSOLUTE = { file = "/run/secrets/x" }

[secrets.HEADER_FORM]
env = "OTHER"
"#;

#[test]
fn secrets_and_grants() {
    let m = parse(GRANTS);
    assert_eq!(
        m.secrets,
        [
            SecretDecl {
                name: "REGISTRY_TOKEN".into(),
                source: SecretSource::Env("CI_REGISTRY_TOKEN".into()),
                span: m.secrets[0].span,
            },
            SecretDecl {
                name: "DEPLOY_KEY".into(),
                source: SecretSource::File("secrets/deploy.key".into()),
                span: m.secrets[1].span,
            },
            SecretDecl {
                name: "ABSOLUTE".into(),
                source: SecretSource::File("/run/secrets/x".into()),
                span: m.secrets[2].span,
            },
            SecretDecl {
                name: "HEADER_FORM".into(),
                source: SecretSource::Env("OTHER".into()),
                span: m.secrets[3].span,
            },
        ]
    );
    assert_eq!(&m.source[m.secrets[0].span.range()], "REGISTRY_TOKEN");
    assert_eq!(
        m.secret("DEPLOY_KEY").map(|s| &s.source),
        Some(&SecretSource::File("secrets/deploy.key".into()))
    );
    assert_eq!(
        serde_json::to_value(&m.secrets[0]).unwrap(),
        json!({ "name": "REGISTRY_TOKEN", "source": { "env": "CI_REGISTRY_TOKEN" } })
    );

    let g = &m.stage("publish").unwrap().grants;
    assert_eq!(g.env, ["CI", "GIT_SHA"]);
    assert_eq!(g.secrets, ["REGISTRY_TOKEN"]);
    assert_eq!(g.reveal, ["DEPLOY_KEY"]);
    assert_eq!(g.http.len(), 3);
    assert_eq!(
        g.http[0],
        HttpGrant {
            url: "https://API.example.com/v1/".into(),
            scheme: "https".into(),
            host: "api.example.com".into(),
            port: 443,
            path_prefix: "/v1/".into(),
            methods: vec![],
        }
    );
    assert_eq!(g.http[1].methods, ["GET", "HEAD"]);
    assert_eq!(
        (g.http[1].host.as_str(), g.http[1].port),
        ("127.0.0.1", 8081)
    );
    assert!(g.http[1].names_ip("127.0.0.1".parse().unwrap()));
    assert!(g.http[2].allows("PUT", "https", "bucket.s3.example.com", 443, "/k"));
    assert!(!g.http[2].allows("PUT", "https", "s3.example.com", 443, "/k"));
    assert_eq!(
        g.process,
        [
            ProcessGrant {
                cmd: "cargo".into(),
                args: vec!["clippy".into(), "**".into()],
                env: vec!["CARGO_HOME".into()],
                read_only: true,
                timeout: Some(Duration::from_secs(300)),
                output: DEFAULT_PROCESS_OUTPUT,
                read: vec![],
                network: false,
            },
            ProcessGrant {
                cmd: "git".into(),
                args: vec![],
                env: vec![],
                read_only: false,
                timeout: None,
                output: 64 << 10,
                read: vec![],
                network: false,
            },
        ]
    );
    assert_eq!(
        g.process[0].matches("cargo", &["clippy".into(), "--all".into()]),
        Ok(())
    );
    assert!(g.process[1].matches("git", &["push".into()]).is_err());
}

#[test]
fn secret_values_never_appear_in_errors() {
    let secret = "ghp_Zq8xW2vB7nM4"; // gantry:allow (a fake value the test proves is masked)
    for entry in [
        format!("TOKEN = \"{secret}\""),
        format!("TOKEN = '{secret}'"),
        format!("TOKEN = \"\"\"{secret}\n\"\"\""),
        format!("TOKEN = [\"{secret}\"]"),
        format!("TOKEN = {{ value = \"{secret}\" }}"),
        format!("TOKEN = {{ env = \"CI_TOKEN\", token = \"{secret}\" }}"),
        format!("TOKEN = {{ env = \"CI_TOKEN\", file = \"x\", v = \"{secret}\" }}"),
        format!("token = \"{secret}\""),
        format!("TOKEN = {secret}"),
        format!("TOKEN = \"{secret}"),
        format!("TOKEN = {{ env = \"A\" }}\nTOKEN = \"{secret}\""),
    ] {
        let src = format!(
            "[pipeline]\nname = \"p\"\n[secrets]\n{entry}\n[stage.a]\nplugin = \"builtin:x\"\n"
        );
        let out = errors(&src);
        assert!(!out.contains(secret), "{entry}:\n{out}");
        assert!(!out.contains("ghp_"), "{entry}:\n{out}");
    }
    let src = format!(
        "secrets.TOKEN = \"{secret}\"\n[pipeline]\nname = \"p\"\n[stage.a]\nplugin = \"builtin:x\"\n"
    );
    assert!(!errors(&src).contains(secret));
    let src = format!(
        "secrets = \"{secret}\"\n[pipeline]\nname = \"p\"\n[stage.a]\nplugin = \"builtin:x\"\n"
    );
    assert!(!errors(&src).contains(secret));
    let src = format!(
        "[pipeline]\nname = \"p\"\n[stage.a]\nplugin = \"builtin:x\"\ngrants.http = [\"https://u:{secret}@example.com/\"]\n"
    );
    let out = errors(&src);
    assert!(!out.contains(secret), "{out}");
    assert!(out.contains("\"https://***@example.com/\""), "{out}");
}

/// Found by `fuzz/run manifest_secrets`: an error about one secret of an inline
/// `secrets = { … }` showed the values of the others on the same line.
#[test]
fn secret_values_on_the_same_line_are_all_masked() {
    let secret = "ghp_Zq8xW2vB7nM4"; // gantry:allow (a fake value the test proves is masked)
    for table in [
        format!("secrets = {{ env = \"CI_TOKEN\", value = \"{secret}\" }}"),
        format!("secrets = {{ A = {{ env = \"X\" }}, b = {{ env = \"Y\" }}, T = \"{secret}\" }}"),
        format!("secrets = {{ TOKEN = {{ env = \"CI\", file = \"x\" }}, T = [\"{secret}\"] }}"),
        format!("secrets = {{ T = {{ env = \"1X\" }}, U = {{ token = \"{secret}\" }} }}"),
    ] {
        let src = format!("{table}\n[pipeline]\nname = \"p\"\n[stage.a]\nplugin = \"builtin:x\"\n");
        let out = errors(&src);
        assert!(!out.contains(secret), "{table}:\n{out}");
    }
}

#[test]
fn grants_check_secrets_declared_anywhere_in_the_file() {
    // `[secrets]` after the stages that use it.
    let m = parse(
        "[pipeline]\nname = \"p\"\n[stage.a]\nplugin = \"builtin:x\"\ngrants.reveal = [\"T\"]\n[secrets]\nT = { env = \"X\" }\n",
    );
    assert_eq!(m.stages[0].grants.reveal, ["T"]);
    assert!(m.stages[0].grants.secrets.is_empty());
}
