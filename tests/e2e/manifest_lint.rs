//! `builtin:manifest-lint` through the binary: hardened manifests pass; a Helm-style
//! multi-document stream, a `List`, a Compose file and a key written twice to hide a
//! value fail the run with findings in SARIF at the offending key (rule id, level,
//! help link, fingerprint); the three suppression forms are honoured; only what the
//! stage's grant reaches is read (a file beside the grant and a symbolic link out of
//! it are not); config mistakes are reported before anything runs.

use gantry_test_plugins::Workspace;

const GANTRY: &str = env!("CARGO_BIN_EXE_gantry");

const PIPELINE: &str = r#"
[pipeline]
name = "manifests"

[stage.lint]
plugin = "builtin:manifest-lint"
with = { paths = ["deploy/**/*.yaml"], ignore = ["CKV_K8S_40"] }
grants.fs.read = ["deploy"]
"#;

/// Passes every rule.
const HARDENED: &str = r#"apiVersion: batch/v1
kind: Job
metadata: {name: migrate, namespace: shop}
spec:
  template:
    spec:
      automountServiceAccountToken: false
      restartPolicy: Never
      securityContext:
        runAsNonRoot: true
        runAsUser: 10001
        seccompProfile: {type: RuntimeDefault}
      containers:
      - name: migrate
        image: registry.example/migrate:1.4@sha256:4f1c2d3e4f5a6b7c8d9e0f1a2b3c4d5e6f7a8b9c0d1e2f3a4b5c6d7e8f9a0b1c
        securityContext:
          allowPrivilegeEscalation: false
          readOnlyRootFilesystem: true
          capabilities: {drop: [ALL]}
        resources:
          requests: {cpu: 100m, memory: 64Mi}
          limits: {cpu: 500m, memory: 128Mi}
"#;

/// Rendered-chart style: `# Source:` comments, several documents, a List, a key set
/// twice so that a reader of the first one sees `privileged: false`.
const RENDERED: &str = r#"---
# Source: shop/templates/web.yaml
apiVersion: v1
kind: List
items:
- apiVersion: apps/v1
  kind: Deployment
  metadata:
    name: web
    namespace: shop
    annotations:
      checkov.io/skip1: CKV_K8S_8=served by the mesh's health checks
  spec:
    template:
      spec:
        automountServiceAccountToken: false
        securityContext: {runAsNonRoot: true, runAsUser: 10001, seccompProfile: {type: RuntimeDefault}}
        containers:
        - name: web
          image: registry.example/web:2.0@sha256:4f1c2d3e4f5a6b7c8d9e0f1a2b3c4d5e6f7a8b9c0d1e2f3a4b5c6d7e8f9a0b1c
          readinessProbe: {httpGet: {path: /ready, port: 8080}}
          securityContext:
            privileged: false
            allowPrivilegeEscalation: false
            readOnlyRootFilesystem: true
            capabilities: {drop: [ALL]}
            privileged: true
          resources:
            requests: {cpu: 100m, memory: 64Mi}
            limits: {cpu: 500m, memory: 128Mi}
---
# Source: shop/templates/svc.yaml
# manifest-lint: ignore=service-type-node-port the lab cluster has no load balancer
apiVersion: v1
kind: Service
metadata: {name: web, namespace: shop}
spec:
  type: NodePort
  ports: [{port: 80}]
"#;

const COMPOSE: &str = "services:\n  db:\n    image: postgres:16.4@sha256:4f1c2d3e4f5a6b7c8d9e0f1a2b3c4d5e6f7a8b9c0d1e2f3a4b5c6d7e8f9a0b1c\n    network_mode: host\n    environment:\n      POSTGRES_PASSWORD: hunter2-hunter2\n";

/// A privileged pod: reported wherever the linter can read it.
const BAD: &str = "apiVersion: v1\nkind: Pod\nmetadata: {name: x}\nspec:\n  containers:\n  - {name: x, image: x, securityContext: {privileged: true}}\n";

fn results(r: &gantry_test_plugins::Run) -> Vec<(String, String, String, u64)> {
    let sarif: serde_json::Value =
        serde_json::from_str(&r.file("report.sarif")).expect("SARIF is JSON");
    let results = sarif["runs"][0]["results"].as_array().expect("results");
    results
        .iter()
        .map(|x| {
            let loc = &x["locations"][0]["physicalLocation"];
            (
                x["ruleId"].as_str().unwrap_or("").to_string(),
                x["level"].as_str().unwrap_or("").to_string(),
                loc["artifactLocation"]["uri"]
                    .as_str()
                    .unwrap_or("")
                    .to_string(),
                loc["region"]["startLine"].as_u64().unwrap_or(0),
            )
        })
        .collect()
}

#[test]
fn lints_manifests_in_the_granted_tree_only() {
    let ws = Workspace::new(GANTRY);
    ws.write("pipeline.toml", PIPELINE);
    ws.write("deploy/k8s/job.yaml", HARDENED);
    // Not values of a chart nor a manifest: read and left alone.
    ws.write(
        "deploy/k8s/values.yaml",
        "replicaCount: 3\nimage: {tag: latest}\n",
    );
    // Beside the grant, and a link from inside the grant to it: neither is read.
    ws.write("outside/bad.yaml", BAD);
    std::os::unix::fs::symlink("../../outside/bad.yaml", ws.path("deploy/k8s/link.yaml"))
        .expect("symlink");
    std::os::unix::fs::symlink("/etc", ws.path("deploy/etc")).expect("symlink");
    let r = ws.gantry(&["run"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let stage = r.stage("lint");
    assert_eq!(stage["outputs"]["findings"], "0", "{stage}");
    assert_eq!(stage["outputs"]["files"], "1", "{stage}");
    assert_eq!(stage["outputs"]["objects"], "1", "{stage}");
    assert!(results(&r).is_empty());

    ws.write("deploy/chart/rendered.yaml", RENDERED);
    ws.write("deploy/compose.yaml", COMPOSE);
    let r = ws.gantry(&["run"]);
    assert_eq!(r.code, 1, "errors fail the stage: {}", r.stderr);
    let stage = r.stage("lint");
    assert_eq!(stage["status"], "failed", "{stage}");
    assert_eq!(stage["outputs"]["files"], "3", "{stage}");
    let got = results(&r);
    let want: Vec<(String, String, String, u64)> = [
        ("duplicate-key", "error", "deploy/chart/rendered.yaml", 27),
        (
            "privileged-container",
            "error",
            "deploy/chart/rendered.yaml",
            27,
        ),
        ("host-network", "error", "deploy/compose.yaml", 4),
        ("secret-in-env-literal", "error", "deploy/compose.yaml", 6),
    ]
    .iter()
    .map(|(a, b, c, d)| (a.to_string(), b.to_string(), c.to_string(), *d))
    .collect();
    let mut sorted = got.clone();
    sorted.sort_by(|a, b| (&a.2, a.3, &a.0).cmp(&(&b.2, b.3, &b.0)));
    assert_eq!(
        sorted, want,
        "liveness (annotation), NodePort (comment) and low-uid (config) are suppressed"
    );
    let log = r.log("lint");
    assert!(log.contains("suppressed"), "{log}");

    let sarif: serde_json::Value =
        serde_json::from_str(&r.file("report.sarif")).expect("SARIF is JSON");
    let result = &sarif["runs"][0]["results"]
        .as_array()
        .expect("results")
        .iter()
        .find(|x| x["ruleId"] == "privileged-container")
        .cloned()
        .expect("privileged-container");
    let text = result["message"]["text"].as_str().unwrap_or("");
    assert!(
        text.contains("container `web` of Deployment/web") && text.contains("privileged"),
        "{text}"
    );
    let rules = sarif["runs"][0]["tool"]["driver"]["rules"]
        .as_array()
        .expect("rules");
    assert!(rules.len() >= 25, "{} rules", rules.len());
    let rule = rules
        .iter()
        .find(|x| x["id"] == "privileged-container")
        .expect("rule metadata");
    let help = rule["helpUri"]
        .as_str()
        .or(rule["properties"]["gantry/helpText"].as_str());
    assert!(
        help.is_some_and(|u| u.ends_with("plugins/manifest-lint/RULES.md#privileged-container")),
        "{rule}"
    );
    assert!(
        rule.to_string().contains("CKV_K8S_16"),
        "the checkov alias is in the rule's description: {rule}"
    );
}

#[test]
fn config_mistakes_are_reported_before_anything_runs() {
    let ws = Workspace::new(GANTRY);
    ws.write("deploy/job.yaml", HARDENED);
    ws.write(
        "pipeline.toml",
        "[pipeline]\nname = \"m\"\n\n[stage.lint]\nplugin = \"builtin:manifest-lint\"\nwith = { require_namespace = true }\ngrants.fs.read = [\"deploy\"]\n",
    );
    let r = ws.gantry(&["check"]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(
        r.stderr.contains("require_namespace") && r.stderr.contains("require-namespace"),
        "names the key and the nearest valid one: {}",
        r.stderr
    );

    ws.write(
        "pipeline.toml",
        "[pipeline]\nname = \"m\"\n\n[stage.lint]\nplugin = \"builtin:manifest-lint\"\nwith = { ignore = [\"privileged\"] }\ngrants.fs.read = [\"deploy\"]\n",
    );
    let r = ws.gantry(&["run"]);
    assert_ne!(r.code, 0, "{}", r.stderr);
    let all = format!("{}{}", r.stderr, r.stdout);
    assert!(
        all.contains("unknown rule id `privileged`") && all.contains("RULES.md"),
        "{all}"
    );
}
