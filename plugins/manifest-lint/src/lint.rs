//! The linter: configuration, finding the files, running the rules over every
//! object, suppressions, fingerprints.
//!
//! Files: by default every `*.yaml` and `*.yml` under the root (`paths` replaces
//! that with globs, `exclude` leaves files and whole directories out). A file is
//! linted for what it holds, not for its name: Kubernetes objects (a `List`'s items
//! included) and Compose services; other YAML (Helm `values.yaml`, CI configs) is
//! read and left alone. Directories named `target`, `.git` and `node_modules` are
//! never entered, symbolic links are never followed, files over [`MAX_FILE_SIZE`] are
//! skipped and listed. A file that does not parse gives an `invalid-yaml` finding
//! (its documents before the error are still linted), unless it is a Helm template
//! (it contains `{{`), which is skipped: lint `helm template` output instead.
//!
//! Objects from every file are linted together, so a PodDisruptionBudget or a
//! ServiceAccount in one file counts for a Deployment in another.
//!
//! Suppressions (a suppressed finding is counted, not reported):
//! - the config's `ignore` list: rule ids or checkov ids, for every file;
//! - checkov's annotations on an object, `checkov.io/skip1: CKV_K8S_20=reason`
//!   (`skip2`, … for more; gantry ids work too), for that object;
//! - a comment `# manifest-lint: ignore=RULE[,RULE…] [reason]`: at the end of a line
//!   it applies to that line; on a line of its own, to the next line with content.
//!   A finding is suppressed when that line is the finding's own, the first line of
//!   its container (`- name: app`), or the first line of its object
//!   (`apiVersion: …`): so a comment above an object covers the whole object.
//!
//! Fingerprints: first 32 hex digits of `sha256(rule NUL path NUL object NUL
//! container NUL message NUL n)`, with `n` counting identical earlier findings: they
//! survive lines moving. Tests: bottom of this file and `src/rules/tests.rs`.

use std::collections::{HashMap, HashSet};
use std::path::Path;

use gantry_sdk::files::{self, Kind, Read};
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::glob::Glob;
use crate::model::{self, Found as Content, Object, Service};
use crate::rules::{self, Check, Ctr, Level, Options, PodCx, Rule};
use crate::yaml::{self, Pos};

/// Largest file read (bytes); kustomize and Helm output of large applications runs
/// to a few MiB.
pub const MAX_FILE_SIZE: u64 = 8 * 1024 * 1024;

const SKIP_DIRS: &[&str] = &["target", ".git", "node_modules"];

/// Stage configuration (`with = { … }` in pipeline.toml).
#[derive(Debug, Clone, Default, serde::Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct Config {
    /// Globs of files to lint, relative to the workspace (`*` within a path segment,
    /// `**` across directories; a pattern without `/` matches at any depth, `./`
    /// anchors it at the root). Default: `*.yaml` and `*.yml` at any depth.
    #[serde(default)]
    pub paths: Vec<String>,
    /// Globs of files and directories never linted or entered (same syntax).
    #[serde(default)]
    pub exclude: Vec<String>,
    /// Rule ids never reported: gantry ids (`privileged-container`) or checkov ids
    /// (`CKV_K8S_16`; checkov ids of checks gantry does not have are accepted and do
    /// nothing, so a checkov skip list ports over).
    #[serde(default)]
    pub ignore: Vec<String>,
    /// `default-namespace` also reports namespaced objects that set no namespace (as
    /// checkov's CKV_K8S_21 does). Default false: kustomize and `kubectl -n` usually
    /// choose the namespace when the manifests are applied.
    #[serde(default)]
    pub require_namespace: bool,
}

/// The object a finding is about, as checkov names resources
/// (`Kind.namespace.name`, namespace `default` when unset).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ObjectRef {
    pub kind: String,
    pub namespace: String,
    pub name: String,
}

/// One problem in one file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Finding {
    pub rule_id: String,
    pub level: Level,
    /// Workspace-relative, `/`-separated.
    pub path: String,
    pub line: u32,
    pub column: u32,
    pub message: String,
    pub fingerprint: String,
    /// The Kubernetes object (None for Compose services and file-level findings).
    pub object: Option<ObjectRef>,
    /// The container, or the Compose service.
    pub container: Option<String>,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct LintOutput {
    pub findings: Vec<Finding>,
    /// Files that held Kubernetes objects or Compose services.
    pub files: Vec<String>,
    /// Kubernetes objects and Compose services linted.
    pub objects: usize,
    /// (path, reason) of files not linted.
    pub skipped: Vec<(String, String)>,
    /// Findings dropped by the `ignore` list, annotations and comments.
    pub suppressed: u64,
}

/// A configured linter.
pub struct Linter {
    globs: Vec<Glob>,
    /// Directories the walk starts from: the fixed leading directories of the
    /// `paths` globs, so a stage granted only `deploy/kubernetes` never lists the
    /// workspace root (which its grant does not reach).
    starts: Vec<String>,
    exclude: Vec<Glob>,
    /// gantry rule ids (checkov ids resolved).
    ignore: HashSet<&'static str>,
    options: Options,
}

/// A rule hit before suppression.
struct Hit {
    rule: &'static Rule,
    file: usize,
    pos: Pos,
    message: String,
    /// Lines a suppression comment may name to cover this hit.
    scopes: Vec<u32>,
    object: Option<ObjectRef>,
    container: Option<String>,
    /// Rule ids skipped by the object's `checkov.io/skip*` annotations.
    skips: HashSet<&'static str>,
}

impl Linter {
    pub fn new(config: &Config) -> Result<Linter, String> {
        let patterns: Vec<String> = if config.paths.is_empty() {
            vec!["**/*.yaml".into(), "**/*.yml".into()]
        } else {
            config.paths.clone()
        };
        let globs = patterns
            .iter()
            .enumerate()
            .map(|(i, p)| Glob::new(p).map_err(|e| format!("paths[{i}]: invalid glob `{p}`: {e}")))
            .collect::<Result<Vec<_>, _>>()?;
        let exclude = config
            .exclude
            .iter()
            .enumerate()
            .map(|(i, p)| {
                Glob::new(p).map_err(|e| format!("exclude[{i}]: invalid glob `{p}`: {e}"))
            })
            .collect::<Result<Vec<_>, _>>()?;
        let mut ignore = HashSet::new();
        for (i, id) in config.ignore.iter().enumerate() {
            match rules::find(id) {
                Some(r) => {
                    ignore.insert(r.id);
                }
                None if rules::is_checkov_id(id) => {}
                None => {
                    return Err(format!(
                        "ignore[{i}]: unknown rule id `{id}` (ids look like `privileged-container` or checkov's `CKV_K8S_16`; RULES.md lists them)"
                    ));
                }
            }
        }
        Ok(Linter {
            globs,
            starts: starts(&patterns),
            exclude,
            ignore,
            options: Options {
                require_namespace: config.require_namespace,
            },
        })
    }

    /// Lints every matching file under `root`. The walk starts below the fixed
    /// directories of the `paths` globs; a start that cannot be listed is skipped
    /// (and listed), and when none can be, the error says which grant is missing.
    pub fn lint_tree(&self, root: &Path) -> Result<LintOutput, String> {
        let mut texts = Vec::new();
        let mut skipped = Vec::new();
        let mut unreadable = Vec::new();
        let mut walked = 0usize;
        for start in &self.starts {
            if !start.is_empty() && self.excluded(start) {
                continue;
            }
            let dir = if start.is_empty() {
                root.to_path_buf()
            } else {
                root.join(start)
            };
            if let Err(e) = files::list_dir(&dir) {
                unreadable.push((display(start), e.to_string()));
                continue;
            }
            walked += 1;
            self.walk(root, start, &mut texts, &mut skipped);
        }
        if walked == 0 && !unreadable.is_empty() {
            let (dir, e) = &unreadable[0];
            let hint = if dir == "." {
                "globs without a fixed leading directory (`**/*.yaml`, the default) walk the whole workspace: grant `grants.fs.read = [\".\"]`, or set `paths` to globs under a granted directory (`deploy/**/*.yaml`)".to_string()
            } else {
                format!("the stage needs `grants.fs.read = [\"{dir}\"]` (or a directory above it)")
            };
            return Err(format!("cannot list `{dir}` in the workspace: {e}; {hint}"));
        }
        skipped.extend(
            unreadable
                .into_iter()
                .map(|(d, e)| (d, format!("unreadable directory: {e}"))),
        );
        let mut out = self.lint_texts(&texts);
        out.skipped.extend(skipped);
        Ok(out)
    }

    fn walk(
        &self,
        root: &Path,
        rel: &str,
        texts: &mut Vec<(String, String)>,
        skipped: &mut Vec<(String, String)>,
    ) {
        let dir = if rel.is_empty() {
            root.to_path_buf()
        } else {
            root.join(rel)
        };
        let mut entries = match files::list_dir(&dir) {
            Ok(e) => e,
            Err(e) => {
                skipped.push((display(rel), format!("unreadable directory: {e}")));
                return;
            }
        };
        entries.sort();
        let join = |name: &str| {
            if rel.is_empty() {
                name.to_string()
            } else {
                format!("{rel}/{name}")
            }
        };
        let mut wanted = Vec::new();
        for (name, kind) in &entries {
            let child = join(name);
            if self.excluded(&child) {
                continue;
            }
            match kind {
                Kind::Dir if !SKIP_DIRS.contains(&name.as_str()) => {
                    self.walk(root, &child, texts, skipped)
                }
                Kind::File if self.globs.iter().any(|g| g.matches(&child)) => {
                    wanted.push(name.clone())
                }
                _ => {}
            }
        }
        for (name, read) in files::read_each(&dir, wanted, MAX_FILE_SIZE) {
            let child = join(&name);
            match read {
                Ok(Read::Content(bytes)) => {
                    texts.push((child, String::from_utf8_lossy(&bytes).into_owned()))
                }
                Ok(Read::TooLarge(n)) => {
                    skipped.push((child, format!("{n} bytes, larger than {MAX_FILE_SIZE}")))
                }
                Err(e) => skipped.push((child, format!("unreadable: {e}"))),
            }
        }
    }

    /// `path` matches an `exclude` glob (a directory also matches `dir/**`).
    fn excluded(&self, path: &str) -> bool {
        self.exclude
            .iter()
            .any(|g| g.matches(path) || g.matches(&format!("{path}/x")))
    }

    /// Lints files given as (workspace-relative path, text), together.
    pub fn lint_texts(&self, texts: &[(String, String)]) -> LintOutput {
        let mut out = LintOutput::default();
        let mut hits: Vec<Hit> = Vec::new();
        let mut parsed: Vec<yaml::Parsed> = Vec::with_capacity(texts.len());
        for (i, (path, text)) in texts.iter().enumerate() {
            // A Helm template is not a manifest until rendered: its values come from
            // elsewhere, and whether it parses as YAML is luck (`image: "{{ … }}"`
            // parses, `{{- toYaml … }}` does not). Either way it is skipped.
            if helm_template(text) {
                out.skipped.push((
                    path.clone(),
                    "a Helm template (lint the output of `helm template`)".into(),
                ));
                parsed.push(yaml::Parsed::default());
                continue;
            }
            let p = yaml::parse(text);
            if let Some(e) = &p.error {
                if text.contains("{{") {
                    out.skipped.push((
                        path.clone(),
                        "not YAML and contains `{{`: a template (lint its rendered output)".into(),
                    ));
                    parsed.push(yaml::Parsed::default());
                    continue;
                }
                hits.push(file_hit(
                    "invalid-yaml",
                    i,
                    e.pos,
                    format!("not valid YAML: {}", e.message),
                ));
            }
            parsed.push(p);
        }
        let mut objects: Vec<Object> = Vec::new();
        let mut services: Vec<Service> = Vec::new();
        let mut linted = vec![false; texts.len()];
        for (i, p) in parsed.iter().enumerate() {
            for doc in &p.documents {
                let before = objects.len() + services.len();
                match model::find(i, doc) {
                    Content::Objects(o) => objects.extend(o),
                    Content::Compose(s) => services.extend(s),
                    Content::Nothing => continue,
                }
                if objects.len() + services.len() > before {
                    linted[i] = true;
                }
                for (key, pos) in &doc.duplicates {
                    hits.push(file_hit(
                        "duplicate-key",
                        i,
                        *pos,
                        format!(
                            "`{key}` is set twice in the same mapping; Kubernetes keeps the last"
                        ),
                    ));
                }
            }
        }
        out.objects = objects.len() + services.len();
        for obj in &objects {
            self.check_object(obj, &objects, &mut hits);
        }
        for svc in &services {
            check_service(svc, &mut hits);
        }
        let directives: Vec<HashMap<u32, HashSet<&'static str>>> =
            texts.iter().map(|(_, t)| directives(t)).collect();
        let mut seen: HashMap<String, u32> = HashMap::new();
        for h in hits {
            let by_comment = h.scopes.iter().any(|l| {
                directives[h.file]
                    .get(l)
                    .is_some_and(|ids| ids.contains(h.rule.id))
            });
            if self.ignore.contains(h.rule.id) || h.skips.contains(h.rule.id) || by_comment {
                out.suppressed += 1;
                continue;
            }
            let path = &texts[h.file].0;
            let object = h
                .object
                .as_ref()
                .map(|o| format!("{}.{}.{}", o.kind, o.namespace, o.name))
                .unwrap_or_default();
            let container = h.container.clone().unwrap_or_default();
            let key = format!(
                "{}\0{path}\0{object}\0{container}\0{}",
                h.rule.id, h.message
            );
            let n = seen.entry(key.clone()).or_insert(0);
            let fingerprint = fingerprint(&format!("{key}\0{n}"));
            *n += 1;
            out.findings.push(Finding {
                rule_id: h.rule.id.to_string(),
                level: h.rule.level,
                path: path.clone(),
                line: h.pos.line.max(1),
                column: h.pos.col.max(1),
                message: h.message,
                fingerprint,
                object: h.object,
                container: h.container,
            });
        }
        out.findings.sort_by(|a, b| {
            (&a.path, a.line, a.column, &a.rule_id).cmp(&(&b.path, b.line, b.column, &b.rule_id))
        });
        out.files = texts
            .iter()
            .zip(&linted)
            .filter(|(_, l)| **l)
            .map(|((p, _), _)| p.clone())
            .collect();
        out
    }

    fn check_object<'a>(&self, obj: &'a Object<'a>, all: &[Object], hits: &mut Vec<Hit>) {
        let object = ObjectRef {
            kind: obj.kind.to_string(),
            namespace: obj.namespace.unwrap_or("default").to_string(),
            name: obj.name.to_string(),
        };
        let skips = checkov_skips(obj);
        let pod = obj.pod();
        let containers = pod.map(|p| p.containers()).unwrap_or_default();
        let obj_line = obj.node.pos.line;
        let mut hit = |rule: &'static Rule, pos: Pos, message: String, ctr: Option<(&str, u32)>| {
            let mut scopes = vec![pos.line, obj_line];
            if let Some((_, line)) = ctr {
                scopes.push(line);
            }
            hits.push(Hit {
                rule,
                file: obj.file,
                pos,
                message,
                scopes,
                object: Some(object.clone()),
                container: ctr.map(|(n, _)| n.to_string()),
                skips: skips.clone(),
            });
        };
        for rule in rules::all() {
            match rule.k8s {
                Check::Container {
                    kinds,
                    skip_kinds,
                    f,
                } => {
                    let Some(pod) = pod else { continue };
                    if skip_kinds.contains(&obj.kind) {
                        continue;
                    }
                    for c in containers.iter().filter(|c| kinds.contains(&c.kind)) {
                        let x = Ctr { obj, pod, c };
                        if let Some((pos, detail)) = f(&x) {
                            let msg = format!("{} of {}: {detail}", c.display(), obj.display());
                            hit(rule, pos, msg, Some((&c.name, c.node.pos.line)));
                        }
                    }
                }
                Check::Pod(f) => {
                    let Some(pod) = pod else { continue };
                    if let Some((pos, detail)) = f(&PodCx { obj, pod }) {
                        hit(rule, pos, format!("{}: {detail}", obj.display()), None);
                    }
                }
                Check::Object(f) => {
                    if let Some((pos, detail)) = f(obj, &self.options) {
                        hit(rule, pos, format!("{}: {detail}", obj.display()), None);
                    }
                }
                Check::Cross(f) => {
                    if let Some((pos, detail)) = f(obj, all) {
                        hit(rule, pos, format!("{}: {detail}", obj.display()), None);
                    }
                }
                Check::Engine | Check::None => {}
            }
        }
    }
}

fn check_service(svc: &Service, hits: &mut Vec<Hit>) {
    for rule in rules::all() {
        let Some(f) = rule.compose else { continue };
        if let Some((pos, detail)) = f(svc) {
            hits.push(Hit {
                rule,
                file: svc.file,
                pos,
                message: format!("Compose service `{}`: {detail}", svc.name),
                scopes: vec![pos.line, svc.name_pos.line],
                object: None,
                container: Some(svc.name.to_string()),
                skips: HashSet::new(),
            });
        }
    }
}

fn file_hit(id: &str, file: usize, pos: Pos, message: String) -> Hit {
    let rule = rules::find(id).expect("engine rules are in the table");
    Hit {
        rule,
        file,
        pos,
        message,
        scopes: vec![pos.line],
        object: None,
        container: None,
        skips: HashSet::new(),
    }
}

/// Go template actions that only Helm charts use.
fn helm_template(text: &str) -> bool {
    text.contains("{{")
        && [
            ".Values",
            ".Release.",
            ".Chart.",
            "include \"",
            "toYaml",
            ".Capabilities.",
        ]
        .iter()
        .any(|w| text.contains(w))
}

/// Rules skipped by checkov's annotations: `checkov.io/skip<N>: ID[=reason]`.
fn checkov_skips(obj: &Object) -> HashSet<&'static str> {
    let mut out = HashSet::new();
    let Some(ann) = obj.metadata().and_then(|m| m.get("annotations")) else {
        return out;
    };
    for e in ann.unique_entries() {
        if !e.key.starts_with("checkov.io/skip") {
            continue;
        }
        let Some(v) = e.value.str() else { continue };
        let id = v.split('=').next().unwrap_or("").trim();
        if let Some(r) = rules::find(id) {
            out.insert(r.id);
        }
    }
    out
}

/// `# manifest-lint: ignore=…` comments: line they apply to → rule ids.
fn directives(text: &str) -> HashMap<u32, HashSet<&'static str>> {
    let lines: Vec<&str> = text.lines().collect();
    let mut out: HashMap<u32, HashSet<&'static str>> = HashMap::new();
    for (i, line) in lines.iter().enumerate() {
        let Some((before, ids)) = parse_directive(line) else {
            continue;
        };
        let target = if before.trim().is_empty() {
            // The next line with content (not blank, not a comment, not `---`).
            lines[i + 1..]
                .iter()
                .position(|l| {
                    let t = l.trim();
                    !(t.is_empty() || t.starts_with('#') || t == "---")
                })
                .map(|off| i + 1 + off)
        } else {
            Some(i)
        };
        let Some(t) = target else { continue };
        let set = out
            .entry(u32::try_from(t + 1).unwrap_or(u32::MAX))
            .or_default();
        set.extend(ids.iter().filter_map(|id| rules::find(id)).map(|r| r.id));
    }
    out
}

/// `… # manifest-lint: ignore=A,B reason` → (text before the `#`, [A, B]).
pub fn parse_directive(line: &str) -> Option<(&str, Vec<&str>)> {
    let mut from = 0;
    while let Some(off) = line[from..].find('#') {
        let at = from + off;
        let rest = line[at + 1..].trim_start();
        if let Some(r) = rest.strip_prefix("manifest-lint:") {
            let r = r
                .trim_start()
                .strip_prefix("ignore")?
                .trim_start()
                .strip_prefix('=')?;
            let list = r.split_whitespace().next().unwrap_or("");
            let ids: Vec<&str> = list
                .split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .collect();
            let before = &line[..at];
            // A `#` inside a word (`a#b`) does not start a YAML comment.
            if ids.is_empty() || !(before.is_empty() || before.ends_with([' ', '\t'])) {
                return None;
            }
            return Some((before, ids));
        }
        from = at + 1;
    }
    None
}

/// The directories a walk must start from to find every file `patterns` match:
/// each pattern's leading segments without wildcards (a pattern of one segment matches
/// at any depth: the root), with directories inside another start dropped.
fn starts(patterns: &[String]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for p in patterns {
        let anchored = p.starts_with("./");
        let segs: Vec<&str> = p
            .trim_start_matches("./")
            .split('/')
            .filter(|s| !s.is_empty())
            .collect();
        if segs.len() < 2 && !anchored {
            return vec![String::new()];
        }
        let fixed: Vec<&str> = segs[..segs.len().saturating_sub(1)]
            .iter()
            .take_while(|s| !s.contains(['*', '?', '[']))
            .copied()
            .collect();
        out.push(fixed.join("/"));
    }
    out.sort();
    let mut kept: Vec<String> = Vec::new();
    for d in out {
        let inside = kept
            .iter()
            .any(|k| k.is_empty() || d == *k || d.starts_with(&format!("{k}/")));
        if !inside {
            kept.push(d);
        }
    }
    kept
}

fn display(rel: &str) -> String {
    if rel.is_empty() {
        ".".into()
    } else {
        rel.to_string()
    }
}

fn fingerprint(text: &str) -> String {
    hex::encode(Sha256::digest(text.as_bytes()))[..32].to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lint(files: &[(&str, &str)]) -> LintOutput {
        lint_with(Config::default(), files)
    }

    fn lint_with(config: Config, files: &[(&str, &str)]) -> LintOutput {
        let texts: Vec<(String, String)> = files
            .iter()
            .map(|(p, t)| (p.to_string(), t.to_string()))
            .collect();
        Linter::new(&config).expect("config").lint_texts(&texts)
    }

    fn ids(out: &LintOutput) -> Vec<(&str, u32)> {
        out.findings
            .iter()
            .map(|f| (f.rule_id.as_str(), f.line))
            .collect()
    }

    const POD: &str = "apiVersion: v1\nkind: Pod\nmetadata: {name: web}\nspec:\n  containers:\n  - name: app\n    image: app:1.0\n    securityContext:\n      privileged: true\n";

    #[test]
    fn findings_point_at_the_offending_key_and_name_object_and_container() {
        let out = lint(&[("k8s/pod.yaml", POD)]);
        let f = out
            .findings
            .iter()
            .find(|f| f.rule_id == "privileged-container")
            .expect("privileged");
        assert_eq!((f.line, f.column), (9, 7));
        assert_eq!(
            f.message,
            "container `app` of Pod/web: `securityContext.privileged` is true"
        );
        assert_eq!(
            f.object,
            Some(ObjectRef {
                kind: "Pod".into(),
                namespace: "default".into(),
                name: "web".into()
            })
        );
        assert_eq!(out.files, ["k8s/pod.yaml"]);
        assert_eq!(out.objects, 1);
    }

    #[test]
    fn comments_suppress_a_line_a_container_or_an_object() {
        let key = POD.replace(
            "privileged: true",
            "privileged: true  # manifest-lint: ignore=CKV_K8S_16 reviewed",
        );
        let out = lint(&[("a.yaml", &key)]);
        assert!(!ids(&out).iter().any(|(r, _)| *r == "privileged-container"));
        let ctr = POD.replace("  - name: app", "  # manifest-lint: ignore=privileged-container,read-only-root-filesystem-missing\n  - name: app");
        let out = lint(&[("a.yaml", &ctr)]);
        let found = ids(&out);
        assert!(
            !found
                .iter()
                .any(|(r, _)| *r == "privileged-container"
                    || *r == "read-only-root-filesystem-missing"),
            "{found:?}"
        );
        assert!(found.iter().any(|(r, _)| *r == "run-as-root"));
        let obj = format!("# manifest-lint: ignore=run-as-root\n---\n{POD}");
        let out = lint(&[("a.yaml", &obj)]);
        assert!(!ids(&out).iter().any(|(r, _)| *r == "run-as-root"));
        assert!(out.suppressed >= 1);
        // Elsewhere, the comment does not reach.
        let other = POD.replace(
            "image: app:1.0",
            "image: app:1.0  # manifest-lint: ignore=privileged-container",
        );
        assert!(
            ids(&lint(&[("a.yaml", &other)]))
                .iter()
                .any(|(r, _)| *r == "privileged-container")
        );
    }

    #[test]
    fn checkov_annotations_and_the_ignore_list() {
        let ann = POD.replace(
            "metadata: {name: web}",
            "metadata:\n  name: web\n  annotations:\n    checkov.io/skip1: CKV_K8S_16=needs the GPU driver\n    checkov.io/skip2: run-as-root",
        );
        let out = lint(&[("a.yaml", &ann)]);
        let found = ids(&out);
        assert!(
            !found
                .iter()
                .any(|(r, _)| *r == "privileged-container" || *r == "run-as-root"),
            "{found:?}"
        );
        let out = lint_with(
            Config {
                ignore: vec!["CKV_K8S_16".into(), "CKV_K8S_33".into(), "low-uid".into()],
                ..Config::default()
            },
            &[("a.yaml", POD)],
        );
        assert!(
            !ids(&out)
                .iter()
                .any(|(r, _)| *r == "privileged-container" || *r == "low-uid")
        );
        let e = Linter::new(&Config {
            ignore: vec!["privileged".into()],
            ..Config::default()
        })
        .err()
        .expect("unknown id refused");
        assert!(e.contains("ignore[0]") && e.contains("`privileged`"), "{e}");
    }

    #[test]
    fn cross_file_objects_and_helm_templates() {
        let deploy = "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web}\nspec:\n  replicas: 2\n  template:\n    metadata:\n      labels: {app: web}\n    spec:\n      containers:\n      - {name: app, image: app:1.0}\n";
        let pdb = "apiVersion: policy/v1\nkind: PodDisruptionBudget\nmetadata: {name: web}\nspec:\n  maxUnavailable: 1\n  selector:\n    matchLabels: {app: web}\n";
        let alone = lint(&[("d.yaml", deploy)]);
        assert!(
            ids(&alone)
                .iter()
                .any(|(r, _)| *r == "pod-disruption-budget-missing")
        );
        let both = lint(&[("d.yaml", deploy), ("pdb.yaml", pdb)]);
        assert!(
            !ids(&both)
                .iter()
                .any(|(r, _)| *r == "pod-disruption-budget-missing")
        );
        let helm = lint(&[(
            "templates/d.yaml",
            "apiVersion: v1\nkind: Pod\nmetadata:\n  name: {{ .Release.Name }}\n  labels: {{- include \"x\" . | nindent 4 }}\n",
        )]);
        assert!(helm.findings.is_empty(), "{:?}", helm.findings);
        assert_eq!(helm.skipped.len(), 1);
        // A template that happens to parse is still a template.
        let parses = POD.replace("image: app:1.0", "image: \"{{ .Values.image }}\"");
        let helm = lint(&[("templates/pod.yaml", &parses)]);
        assert!(helm.findings.is_empty(), "{:?}", helm.findings);
        assert_eq!(helm.skipped.len(), 1);
        // Argo Workflows' `{{inputs.parameters.x}}` is not Helm: linted.
        let argo = POD.replace(
            "image: app:1.0",
            "image: app:1.0\n    args: [\"{{inputs.parameters.msg}}\"]",
        );
        assert!(!lint(&[("wf.yaml", &argo)]).findings.is_empty());
    }

    #[test]
    fn fingerprints_survive_moves() {
        let a = lint(&[("a.yaml", POD)]);
        let b = lint(&[("a.yaml", &format!("# moved\n\n{POD}"))]);
        let fa: Vec<&str> = a.findings.iter().map(|f| f.fingerprint.as_str()).collect();
        let fb: Vec<&str> = b.findings.iter().map(|f| f.fingerprint.as_str()).collect();
        assert_eq!(fa, fb);
        assert_ne!(a.findings[0].line, b.findings[0].line);
    }

    #[test]
    fn walks_start_below_the_fixed_part_of_the_globs() {
        let s = |p: &[&str]| starts(&p.iter().map(|x| x.to_string()).collect::<Vec<_>>());
        assert_eq!(
            s(&["deploy/kubernetes/*.yaml", "deploy/kubernetes/base/x.yml"]),
            ["deploy/kubernetes"]
        );
        assert_eq!(s(&["a/**/*.yaml", "b/c/*.yaml"]), ["a", "b/c"]);
        assert_eq!(s(&["*.yaml", "deploy/x.yaml"]), [""]);
        assert_eq!(s(&["./pod.yaml"]), [""]);
        assert_eq!(s(&["**/*.yaml"]), [""]);
    }

    #[test]
    fn directive_syntax() {
        assert_eq!(
            parse_directive("  # manifest-lint: ignore=a, because"),
            Some(("  ", vec!["a"]))
        );
        assert_eq!(
            parse_directive("x: 1 # manifest-lint: ignore=a,b"),
            Some(("x: 1 ", vec!["a", "b"]))
        );
        assert_eq!(parse_directive("x: a#manifest-lint: ignore=a"), None);
        assert_eq!(parse_directive("# manifest-lint: ignore="), None);
        assert_eq!(parse_directive("# manifest-lint ignore=a"), None);
    }

    #[test]
    fn tree_walk_skips_build_dirs_and_links() {
        let dir = std::env::temp_dir().join(format!("mlint-walk-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        for (p, body) in [
            ("deploy/pod.yaml", POD),
            ("deploy/values.yml", "replicaCount: 3\n"),
            ("target/pod.yaml", POD),
            ("node_modules/x/pod.yaml", POD),
            ("README.md", POD),
        ] {
            let f = dir.join(p);
            std::fs::create_dir_all(f.parent().expect("parent")).expect("mkdir");
            std::fs::write(f, body).expect("write");
        }
        #[cfg(unix)]
        std::os::unix::fs::symlink("/etc", dir.join("deploy/etc")).expect("symlink");
        let out = Linter::new(&Config::default())
            .expect("config")
            .lint_tree(&dir)
            .expect("lint");
        assert_eq!(out.files, ["deploy/pod.yaml"]);
        // Globs under one directory start there; a missing one names the grant.
        let under = Linter::new(&Config {
            paths: vec!["deploy/*.yaml".into(), "deploy/*.yml".into()],
            ..Config::default()
        })
        .expect("config");
        assert_eq!(
            under.lint_tree(&dir).expect("lint").files,
            ["deploy/pod.yaml"]
        );
        let e = under
            .lint_tree(&dir.join("target"))
            .expect_err("no deploy/ there");
        assert!(
            e.contains("`deploy`") && e.contains("grants.fs.read = [\"deploy\"]"),
            "{e}"
        );
        let _ = std::fs::remove_dir_all(&dir);
    }
}
