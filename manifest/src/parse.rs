//! From the TOML tree to [`Manifest`]: every table, key and value is checked here,
//! errors are collected (not returned at the first), then the cross-stage rules run:
//! `needs` names exist, no cycles, placeholders refer to stages this stage needs.

use std::collections::HashMap;
use std::path::Path;
use std::time::Duration;

use gantry_registry::PluginRef;
use serde_json::Value as Json;
use toml::Spanned;
use toml::de::{DeTable, DeValue};

use super::diag::{Diagnostic, Diagnostics, Span};
use super::findings::{Baseline, FailOn, parse_baseline, parse_fail_on};
use super::grants::{Grants, parse_grants};
use super::graph::Graph;
use super::interp::{Placeholder, Token, tokenize};
use super::schema::{DEFAULT_TIMEOUT, Limits, MAX_RETRIES, MAX_TIMEOUT, Stage, When};
use super::secrets::{Declared, parse_secrets, syntax_error_mask};
use super::suggest::{did_you_mean, list, ticked};
use super::units::{format_duration, format_size, parse_duration, parse_size};
use super::walk::{Cx, Key, Val, entries, span_of, type_name};
use super::{Manifest, StageSpans};

const TOP_KEYS: &[&str] = &[
    "pipeline",
    "defaults",
    "secrets",
    "inputs",
    "environments",
    "stage",
];
const TOP_ALIASES: &[(&str, &str)] = &[
    ("stages", "stage"),
    ("jobs", "stage"),
    ("job", "stage"),
    ("steps", "stage"),
    ("step", "stage"),
    ("default", "defaults"),
];
const MINIMAL_STAGE: &str =
    "[stage.secrets]\nplugin = \"builtin:secret-scan\"\ngrants.fs.read = [\".\"]";
const MINIMAL: &str = "[pipeline]\nname = \"my-pipeline\"\n\n[stage.secrets]\nplugin = \"builtin:secret-scan\"\ngrants.fs.read = [\".\"]";
const PIPELINE_KEYS: &[&str] = &["name", "description"];
const STAGE_KEYS: &[&str] = &[
    "plugin",
    "with",
    "needs",
    "when",
    "timeout",
    "retries",
    "allow-failure",
    "grants",
    "limits",
    "fail-on",
    "baseline",
    "environment",
];
const STAGE_ALIASES: &[(&str, &str)] = &[
    ("uses", "plugin"),
    ("use", "plugin"),
    ("component", "plugin"),
    ("wasm", "plugin"),
    ("config", "with"),
    ("configuration", "with"),
    ("settings", "with"),
    ("params", "with"),
    ("options", "with"),
    ("inputs", "with"),
    ("args", "with"),
    ("depends-on", "needs"),
    ("depends_on", "needs"),
    ("dependencies", "needs"),
    ("after", "needs"),
    ("requires", "needs"),
    ("need", "needs"),
    ("if", "when"),
    ("only", "when"),
    ("rules", "when"),
    ("condition", "when"),
    ("retry", "retries"),
    ("attempts", "retries"),
    ("continue-on-error", "allow-failure"),
    ("continue_on_error", "allow-failure"),
    ("allowed-to-fail", "allow-failure"),
    ("permissions", "grants"),
    ("capabilities", "grants"),
    ("resources", "limits"),
    ("memory", "limits.memory"),
    ("stack", "limits.stack"),
    ("fuel", "limits.fuel"),
    ("stdout", "limits.stdout"),
    ("disk", "limits.disk"),
    ("fs", "grants.fs"),
    ("branch", "when.branch"),
    ("tag", "when.tag"),
    ("timeout-minutes", "timeout"),
    ("fail_on", "fail-on"),
    ("failon", "fail-on"),
    ("severity", "fail-on"),
    ("severity-threshold", "fail-on"),
    ("fail-level", "fail-on"),
    ("baseline-file", "baseline"),
    ("baseline_file", "baseline"),
];
const DEFAULTS_KEYS: &[&str] = &[
    "timeout",
    "retries",
    "allow-failure",
    "fail-on",
    "limits",
    "memory",
    "stack",
    "fuel",
    "stdout",
    "disk",
];
const LIMITS_KEYS: &[&str] = &["memory", "stack", "fuel", "stdout", "disk"];
const WHEN_KEYS: &[&str] = &["branch", "tag", "env", "on-failure"];
const WHEN_ALIASES: &[(&str, &str)] = &[
    ("branches", "branch"),
    ("tags", "tag"),
    ("vars", "env"),
    ("variables", "env"),
    ("environment", "env"),
    ("on_failure", "on-failure"),
    ("onfailure", "on-failure"),
    ("failure", "on-failure"),
];

/// Values of `[defaults]`, and of a stage before defaults are applied.
#[derive(Default)]
struct Settings {
    timeout: Option<Duration>,
    retries: Option<u32>,
    allow_failure: Option<bool>,
    fail_on: Option<FailOn>,
    limits: PartialLimits,
}

#[derive(Default, Clone, Copy)]
struct PartialLimits {
    memory: Option<u64>,
    stack: Option<u64>,
    fuel: Option<u64>,
    stdout: Option<u64>,
    disk: Option<u64>,
}

struct RawStage {
    name: String,
    span: Span,
    plugin: Option<(String, Span, PluginRef)>,
    with: Json,
    spans: StageSpans,
    /// String values inside `with`, for the placeholder checks.
    strings: Vec<(String, Span)>,
    needs: Vec<(String, Span)>,
    when: Option<When>,
    environment: Option<(String, Span)>,
    settings: Settings,
    grants: Grants,
    baseline: Option<Baseline>,
}

pub(crate) fn parse(path: &Path, source: &str) -> Result<Manifest, Diagnostics> {
    let mut cx = Cx::new(path, source);
    let (root, errors) = DeTable::parse_recoverable(source);
    if !errors.is_empty() {
        // Recovery after a syntax error is best effort and may cascade; the first
        // error is the one to fix.
        let e = &errors[0];
        let span = e.span().map_or(Span::default(), Span::from);
        cx.push(syntax_error(&cx, span, e.message()));
        return Err(Diagnostics(cx.diags));
    }
    let root = root.get_ref();
    if root.is_empty() {
        cx.error(
            Span::default(),
            "the pipeline file is empty",
            Some(format!("a minimal pipeline:\n{MINIMAL}")),
        );
        return Err(Diagnostics(cx.diags));
    }

    let mut name = None;
    let mut pipeline_found = false;
    let mut misplaced_name = false;
    let mut stage_suggested = false;
    let mut description = None;
    let mut defaults = Settings::default();
    let mut stage_table = None;
    let mut secrets = Vec::new();
    let mut inputs = Vec::new();
    let mut environments = Vec::new();
    let mut declared = Declared::default();
    for (key, value) in entries(root) {
        match key.get_ref().as_ref() {
            "pipeline" => {
                pipeline_found = true;
                (name, description) = parse_pipeline(&mut cx, value);
            }
            "defaults" => defaults = parse_defaults(&mut cx, value),
            "secrets" => (secrets, declared) = parse_secrets(&mut cx, value),
            "inputs" => inputs = super::inputs::parse_inputs(&mut cx, value),
            "environments" => {
                environments = super::environments::parse_environments(&mut cx, value)
            }
            "stage" => stage_table = Some(value),
            k @ ("name" | "description") => {
                misplaced_name = true;
                let text = cx.source.get(value.span()).unwrap_or("\"…\"");
                cx.error(
                    span_of(key),
                    format!("`{k}` must be inside the `[pipeline]` table"),
                    Some(format!(
                        "move it under the `[pipeline]` header:\n[pipeline]\n{k} = {text}"
                    )),
                );
            }
            _ => {
                let suggestion = cx.unknown_key(key, "", TOP_KEYS, TOP_ALIASES);
                stage_suggested |= suggestion.as_deref() == Some("stage");
            }
        }
    }
    if !pipeline_found && !misplaced_name {
        cx.error(
            Span::default(),
            "missing `[pipeline]` table",
            Some("start the file with:\n[pipeline]\nname = \"my-pipeline\"".into()),
        );
    }

    let mut stages = Vec::new();
    match stage_table {
        None if stage_suggested => {}
        None => {
            let span = root.get("pipeline").map_or(Span::default(), span_of);
            cx.error(
                span,
                "the pipeline has no stages",
                Some(format!("add one, e.g.:\n{MINIMAL_STAGE}")),
            );
        }
        Some(v) => match v.get_ref() {
            DeValue::Table(t) => {
                if t.is_empty() {
                    cx.error(
                        span_of(v),
                        "the pipeline has no stages",
                        Some(format!("add one, e.g.:\n{MINIMAL_STAGE}")),
                    );
                }
                for (key, value) in entries(t) {
                    if let Some(s) = parse_stage(&mut cx, key, value, &declared) {
                        stages.push(s);
                    }
                }
            }
            DeValue::Array(_) => cx.error(
                span_of(v),
                "`stage` must be a table of named stages, not an array",
                Some("write `[stage.NAME]` instead of `[[stage]]`".into()),
            ),
            other => cx.error(
                span_of(v),
                format!(
                    "expected a table of stages for `stage`, found {}",
                    type_name(other)
                ),
                Some("write `[stage.NAME]` tables".into()),
            ),
        },
    }

    let graph = check_needs(&mut cx, &stages);
    check_placeholders(&mut cx, &stages, &graph, &inputs);
    for s in &stages {
        if let Some((env, span)) = &s.environment
            && !environments
                .iter()
                .any(|e: &super::environments::Environment| &e.name == env)
        {
            let names: Vec<&str> = environments.iter().map(|e| e.name.as_str()).collect();
            let hint = match did_you_mean(env, names.iter().copied()) {
                Some(m) => format!("did you mean `{m}`?"),
                None if names.is_empty() => format!("declare it: `[environments.{env}]`"),
                None => format!("environments: {}", ticked(&names)),
            };
            cx.error(
                *span,
                format!(
                    "stage `{}` deploys to undeclared environment `{env}`",
                    s.name
                ),
                Some(hint),
            );
        }
    }

    if !cx.diags.is_empty() {
        let mut diags = cx.diags;
        diags.sort_by_key(|d| d.span().map_or(0, |s| s.start));
        return Err(Diagnostics(diags));
    }
    let name = name.unwrap_or_default();
    let mut spans = HashMap::new();
    let stages = stages
        .into_iter()
        .filter_map(|s| {
            let (plugin, plugin_span, plugin_ref) = s.plugin?;
            spans.insert(s.name.clone(), s.spans);
            let l = s.settings.limits;
            let d = defaults.limits;
            let base = Limits::default();
            Some(Stage {
                name: s.name,
                span: s.span,
                plugin,
                plugin_span,
                plugin_ref,
                with: s.with,
                needs: s.needs.into_iter().map(|(n, _)| n).collect(),
                when: s.when,
                timeout: s
                    .settings
                    .timeout
                    .or(defaults.timeout)
                    .unwrap_or(DEFAULT_TIMEOUT),
                retries: s.settings.retries.or(defaults.retries).unwrap_or(0),
                allow_failure: s
                    .settings
                    .allow_failure
                    .or(defaults.allow_failure)
                    .unwrap_or(false),
                grants: s.grants,
                fail_on: s.settings.fail_on.or(defaults.fail_on),
                baseline: s.baseline,
                environment: s.environment.map(|(e, _)| e),
                limits: Limits {
                    memory: l.memory.or(d.memory).unwrap_or(base.memory),
                    stack: l.stack.or(d.stack).unwrap_or(base.stack),
                    fuel: l.fuel.or(d.fuel).or(base.fuel),
                    stdout: l.stdout.or(d.stdout).unwrap_or(base.stdout),
                    disk: l.disk.or(d.disk).or(base.disk),
                },
            })
        })
        .collect();
    Ok(Manifest {
        path: path.to_path_buf(),
        source: source.to_string(),
        name,
        description,
        secrets,
        inputs,
        environments,
        stages,
        spans,
    })
}

fn syntax_error(cx: &Cx<'_>, span: Span, message: &str) -> Diagnostic {
    // On a line of `[secrets]` the value may be a pasted secret: never show it.
    let masks: Vec<Span> = syntax_error_mask(cx.source, span.start)
        .into_iter()
        .collect();
    let diag = |span: Span, message: String| {
        Diagnostic::at_masked(cx.file, cx.source, span, message, &masks)
    };
    if message == "duplicate key" {
        let line_start = cx.source[..span.start.min(cx.source.len())]
            .rfind('\n')
            .map_or(0, |i| i + 1);
        let line = cx.source[line_start..].lines().next().unwrap_or("").trim();
        let compact = |l: &str| l.chars().filter(|c| !c.is_whitespace()).collect::<String>();
        let key = cx.source.get(span.range()).unwrap_or("").to_string();
        if line.starts_with('[') {
            let header = line
                .split(']')
                .next()
                .map(|h| format!("{h}]"))
                .unwrap_or_default();
            let header = if line.starts_with("[[") {
                format!("{header}]")
            } else {
                header
            };
            let first = cx.source[..line_start]
                .lines()
                .position(|l| compact(l).starts_with(&compact(&header)))
                .map(|i| format!("first defined on line {}", i + 1));
            let what = match header
                .strip_prefix("[stage.")
                .and_then(|h| h.strip_suffix(']'))
            {
                Some(stage) if !stage.contains('.') => {
                    format!("stage `{stage}` is defined more than once")
                }
                _ => format!("table `{header}` is defined more than once"),
            };
            let d = diag(span, what);
            return match first {
                Some(f) => d.with_hint(format!("{f}; merge the two tables or rename one")),
                None => d.with_hint("a table can be defined only once; merge them"),
            };
        }
        return diag(
            span,
            format!("key `{key}` is set more than once in the same table"),
        )
        .with_hint("keep one of them");
    }
    diag(span, format!("invalid TOML: {message}"))
}

/// `[a-z0-9][a-z0-9-]*` (pipeline) or `[a-z0-9][a-z0-9_-]*` (stage), at most 63 characters.
fn check_name(name: &str, underscore: bool) -> Result<(), String> {
    let valid_rest = |c: char| {
        c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || (underscore && c == '_')
    };
    if name.is_empty() {
        return Err("the name is empty".into());
    }
    if name.chars().count() > 63 {
        return Err(format!(
            "it is {} characters long; the maximum is 63",
            name.chars().count()
        ));
    }
    let first = name.chars().next().unwrap_or('-');
    if !(first.is_ascii_lowercase() || first.is_ascii_digit()) {
        return Err("it must start with a lowercase letter or a digit".into());
    }
    if let Some(c) = name.chars().find(|c| !valid_rest(*c)) {
        let allowed = if underscore {
            "lowercase letters, digits, `-` and `_`"
        } else {
            "lowercase letters, digits and `-`"
        };
        return Err(format!("`{c}` is not allowed; use {allowed}"));
    }
    Ok(())
}

fn sanitize_name(name: &str, underscore: bool) -> String {
    let s: String = name
        .to_lowercase()
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || (underscore && c == '_') {
                c
            } else {
                '-'
            }
        })
        .collect();
    let s = s.trim_matches(|c| c == '-' || c == '_');
    s.chars().take(63).collect()
}

fn parse_pipeline(cx: &mut Cx<'_>, v: &Val<'_>) -> (Option<String>, Option<String>) {
    let Some(table) = cx.ok(cx
        .table(v, "`pipeline`")
        .map_err(|d| d.with_hint("write:\n[pipeline]\nname = \"my-pipeline\"")))
    else {
        return (None, None);
    };
    let (mut name, mut description) = (None, None);
    for (key, value) in entries(table) {
        match key.get_ref().as_ref() {
            "name" => {
                if let Some(s) = cx.ok(cx.string(value, "`name` in `[pipeline]`")) {
                    match check_name(s, false) {
                        Ok(()) => name = Some(s.to_string()),
                        Err(why) => {
                            let fixed = sanitize_name(s, false);
                            let hint = (!fixed.is_empty() && s.is_ascii())
                                .then(|| format!("try `name = \"{fixed}\"`"));
                            cx.error(
                                span_of(value),
                                format!("invalid pipeline name `{s}`: {why}"),
                                hint,
                            );
                        }
                    }
                }
            }
            "description" => {
                description = cx
                    .ok(cx.string(value, "`description` in `[pipeline]`"))
                    .map(String::from)
            }
            _ => {
                cx.unknown_key(
                    key,
                    "`[pipeline]`",
                    PIPELINE_KEYS,
                    &[("desc", "description"), ("title", "name")],
                );
            }
        }
    }
    if name.is_none() && !table.contains_key("name") {
        cx.error(
            span_of(v),
            "missing `name` in `[pipeline]`",
            Some("add `name = \"my-pipeline\"`".into()),
        );
    }
    (name, description)
}

fn parse_defaults(cx: &mut Cx<'_>, v: &Val<'_>) -> Settings {
    let mut settings = Settings::default();
    let Some(table) = cx.ok(cx.table(v, "`defaults`")) else {
        return settings;
    };
    let place = "`[defaults]`";
    let mut flat = PartialLimits::default();
    let mut flat_spans: Vec<(&str, Span)> = Vec::new();
    let mut nested = PartialLimits::default();
    let mut nested_table = None;
    for (key, value) in entries(table) {
        let k: &str = key.get_ref();
        match k {
            "timeout" => settings.timeout = parse_timeout(cx, value, place),
            "fail-on" => settings.fail_on = parse_fail_on(cx, value, place),
            "retries" => settings.retries = parse_retries(cx, value, place),
            "allow-failure" => {
                settings.allow_failure =
                    cx.ok(cx.boolean(value, &format!("`allow-failure` in {place}")))
            }
            "limits" => {
                nested = parse_limits(cx, value, place);
                nested_table = value.get_ref().as_table();
            }
            "memory" | "stack" | "fuel" | "stdout" | "disk" => {
                parse_limit(cx, k, value, place, &mut flat);
                flat_spans.push((
                    LIMITS_KEYS
                        .iter()
                        .find(|l| **l == k)
                        .copied()
                        .unwrap_or("memory"),
                    span_of(key),
                ));
            }
            "grants" => cx.error(
                span_of(key),
                "`grants` cannot be set in `[defaults]`",
                Some("grants are per stage by design: give each stage only what it needs".into()),
            ),
            "plugin" | "with" | "needs" | "when" | "baseline" => cx.error(
                span_of(key),
                format!("`{k}` cannot be set in `[defaults]`"),
                Some(format!(
                    "set `{k}` in each `[stage.NAME]`; valid keys here: {}",
                    list(DEFAULTS_KEYS)
                )),
            ),
            _ => {
                cx.unknown_key(
                    key,
                    place,
                    DEFAULTS_KEYS,
                    &[("allow_failure", "allow-failure"), ("retry", "retries")],
                );
            }
        }
    }
    if let Some(t) = nested_table {
        for (k, span) in &flat_spans {
            if t.contains_key(*k) {
                cx.error(
                    *span,
                    format!("`{k}` is set twice in `[defaults]`: here and in `limits.{k}`"),
                    Some("keep one".into()),
                );
            }
        }
    }
    settings.limits = PartialLimits {
        memory: flat.memory.or(nested.memory),
        stack: flat.stack.or(nested.stack),
        fuel: flat.fuel.or(nested.fuel),
        stdout: flat.stdout.or(nested.stdout),
        disk: flat.disk.or(nested.disk),
    };
    settings
}

/// A `timeout` value (duration string, more than zero, at most [`MAX_TIMEOUT`]).
pub(crate) fn parse_timeout(cx: &mut Cx<'_>, v: &Val<'_>, place: &str) -> Option<Duration> {
    let text = match v.get_ref() {
        DeValue::String(s) => s,
        DeValue::Integer(i) => {
            let d = cx
                .type_error(v, "a duration string", &format!("`timeout` in {place}"))
                .with_hint(format!(
                    "durations have a unit: `timeout = \"{}s\"`",
                    i.as_str()
                ));
            cx.push(d);
            return None;
        }
        _ => {
            let d = cx.type_error(v, "a duration string", &format!("`timeout` in {place}"));
            cx.push(d.with_hint("e.g. `timeout = \"30s\"`, `\"5m\"` or `\"1h30m\"`"));
            return None;
        }
    };
    match parse_duration(text) {
        Err(e) => {
            cx.error(
                span_of(v),
                format!("invalid timeout `{text}` in {place}: {}", e.reason),
                e.hint,
            );
            None
        }
        Ok(d) if d.is_zero() => {
            cx.error(
                span_of(v),
                format!("timeout in {place} must be longer than zero"),
                None,
            );
            None
        }
        Ok(d) if d > MAX_TIMEOUT => {
            cx.error(
                span_of(v),
                format!(
                    "timeout `{text}` in {place} is longer than the maximum of `{}`",
                    format_duration(MAX_TIMEOUT)
                ),
                None,
            );
            None
        }
        Ok(d) => Some(d),
    }
}

fn parse_retries(cx: &mut Cx<'_>, v: &Val<'_>, place: &str) -> Option<u32> {
    let what = format!("`retries` in {place}");
    let n = cx.ok(cx.integer(v, &what))?;
    if (0..=i128::from(MAX_RETRIES)).contains(&n) {
        return u32::try_from(n).ok();
    }
    let hint = (n < 0).then(|| "use `0` for no retries".to_string());
    cx.error(
        span_of(v),
        format!("{what} must be between 0 and {MAX_RETRIES}, found `{n}`"),
        hint,
    );
    None
}

fn parse_limits(cx: &mut Cx<'_>, v: &Val<'_>, place: &str) -> PartialLimits {
    let mut limits = PartialLimits::default();
    let Some(table) = cx.ok(cx.table(v, &format!("`limits` of {place}"))) else {
        return limits;
    };
    for (key, value) in entries(table) {
        let k: &str = key.get_ref();
        if LIMITS_KEYS.contains(&k) {
            parse_limit(cx, k, value, place, &mut limits);
        } else {
            cx.unknown_key(
                key,
                &format!("`limits` of {place}"),
                LIMITS_KEYS,
                &[("mem", "memory"), ("stderr", "stdout")],
            );
        }
    }
    limits
}

fn parse_limit(cx: &mut Cx<'_>, key: &str, v: &Val<'_>, place: &str, out: &mut PartialLimits) {
    let what = format!("`limits.{key}` in {place}");
    if key == "fuel" {
        if let Some(n) = cx.ok(cx.integer(v, &what)) {
            if n >= 1 {
                out.fuel = u64::try_from(n).ok();
            } else {
                cx.error(
                    span_of(v),
                    format!("{what} must be at least 1, found `{n}`"),
                    Some("remove `fuel` for no fuel limit".into()),
                );
            }
        }
        return;
    }
    let (lo, hi) = match key {
        "memory" => Limits::MEMORY_RANGE,
        "stack" => Limits::STACK_RANGE,
        "disk" => Limits::DISK_RANGE,
        _ => Limits::STDOUT_RANGE,
    };
    let text = match v.get_ref() {
        DeValue::String(s) => s,
        other => {
            let mut d = cx.diag(
                span_of(v),
                format!(
                    "expected a size string for {what}, found {}",
                    type_name(other)
                ),
            );
            if let DeValue::Integer(_) = other {
                d = d.with_hint(format!(
                    "sizes are strings with a unit, e.g. `{key} = \"{}\"`",
                    format_size(lo.max(256 << 20).min(hi))
                ));
            }
            cx.push(d);
            return;
        }
    };
    match parse_size(text) {
        Err(e) => cx.error(
            span_of(v),
            format!("invalid size `{text}` for {what}: {}", e.reason),
            e.hint,
        ),
        Ok(n) if n < lo || n > hi => cx.error(
            span_of(v),
            format!(
                "{what} must be between `{}` and `{}`, found `{text}`",
                format_size(lo),
                format_size(hi)
            ),
            None,
        ),
        Ok(n) => match key {
            "memory" => out.memory = Some(n),
            "stack" => out.stack = Some(n),
            "disk" => out.disk = Some(n),
            _ => out.stdout = Some(n),
        },
    }
}

fn parse_stage(
    cx: &mut Cx<'_>,
    key: &Key<'_>,
    v: &Val<'_>,
    declared: &Declared,
) -> Option<RawStage> {
    let name: &str = key.get_ref();
    let header = match v.get_ref() {
        // `[stage.x]` gives the header's span; `stage.x = {…}` or `x = {…}` the inline table's.
        DeValue::Table(_) if cx.source.get(v.span()).is_some_and(|s| s.starts_with('[')) => {
            span_of(v)
        }
        _ => span_of(key),
    };
    if let Err(why) = check_name(name, true) {
        let fixed = sanitize_name(name, true);
        let hint = (!fixed.is_empty() && name.is_ascii()).then(|| format!("try `[stage.{fixed}]`"));
        cx.error(
            span_of(key),
            format!("invalid stage name `{name}`: {why}"),
            hint,
        );
    }
    let place = format!("stage `{name}`");
    let table = cx.ok(cx.table(v, &format!("stage `{name}`")).map_err(|d| {
        d.with_hint(format!(
            "a stage is a table: `[stage.{name}]` followed by `plugin = \"…\"`"
        ))
    }))?;
    let mut stage = RawStage {
        name: name.to_string(),
        span: header,
        plugin: None,
        with: Json::Object(Default::default()),
        spans: StageSpans {
            header,
            ..Default::default()
        },
        strings: Vec::new(),
        needs: Vec::new(),
        when: None,
        environment: None,
        settings: Settings::default(),
        grants: Grants::default(),
        baseline: None,
    };
    let mut plugin_present = false;
    for (k, value) in entries(table) {
        match k.get_ref().as_ref() {
            "plugin" => {
                plugin_present = true;
                stage.plugin = parse_plugin(cx, value, name);
            }
            "with" => {
                stage.spans.with_key = Some(span_of(k));
                if value.get_ref().as_table().is_none() {
                    let d = cx.type_error(value, "a table", &format!("`with` in {place}"));
                    cx.push(d.with_hint(
                        "plugin configuration is a table, e.g. `with = { paths = [\".\"] }`",
                    ));
                } else if let Some(j) = to_json(
                    cx,
                    value,
                    String::new(),
                    None,
                    &mut stage.spans.config,
                    &mut stage.strings,
                ) {
                    stage.with = j;
                }
            }
            "needs" => {
                if let Some(list) = cx.ok(cx.strings(value, &format!("`needs` of {place}"), false))
                {
                    stage.needs = list
                        .into_iter()
                        .map(|s| (s.get_ref().clone(), Span::from(s.span())))
                        .collect();
                }
            }
            "when" => stage.when = parse_when(cx, value, name),
            "environment" => {
                if let Some(e) = cx.ok(cx.string(value, &format!("`environment` of {place}"))) {
                    stage.environment = Some((e.to_string(), span_of(value)));
                }
            }
            "timeout" => stage.settings.timeout = parse_timeout(cx, value, &place),
            "retries" => stage.settings.retries = parse_retries(cx, value, &place),
            "allow-failure" => {
                stage.settings.allow_failure =
                    cx.ok(cx.boolean(value, &format!("`allow-failure` in {place}")))
            }
            "grants" => stage.grants = parse_grants(cx, value, name, declared, &mut stage.spans.fs),
            "limits" => stage.settings.limits = parse_limits(cx, value, &place),
            "fail-on" => stage.settings.fail_on = parse_fail_on(cx, value, &place),
            "baseline" => stage.baseline = parse_baseline(cx, value, &place),
            _ => {
                let suggestion = cx.unknown_key(k, &place, STAGE_KEYS, STAGE_ALIASES);
                plugin_present |= suggestion.as_deref() == Some("plugin");
            }
        }
    }
    if !plugin_present {
        cx.error(
            header,
            format!("stage `{name}` has no `plugin`"),
            Some(format!(
                "add e.g. `plugin = \"builtin:secret-scan\"`; a plugin is {}",
                PluginRef::FORMS
            )),
        );
    }
    Some(stage)
}

fn parse_plugin(cx: &mut Cx<'_>, v: &Val<'_>, stage: &str) -> Option<(String, Span, PluginRef)> {
    let text = cx.ok(cx.string(v, &format!("`plugin` in stage `{stage}`")))?;
    match PluginRef::parse(text) {
        Ok(r) => Some((text.to_string(), span_of(v), r)),
        Err(e) => {
            // The hint names files through the pipeline file's directory, so the
            // commands it suggests work from where gantry was run.
            let hint = e.hint_relative_to(cx.file.parent().unwrap_or(Path::new("")));
            cx.error(span_of(v), e.to_string(), hint);
            None
        }
    }
}

fn parse_when(cx: &mut Cx<'_>, v: &Val<'_>, stage: &str) -> Option<When> {
    let place = format!("`when` of stage `{stage}`");
    let table = cx.ok(cx
        .table(v, &place)
        .map_err(|d| d.with_hint("e.g. `when = { branch = \"main\" }`")))?;
    let mut when = When::default();
    let mut ok = true;
    for (key, value) in entries(table) {
        let k: &str = key.get_ref();
        if !WHEN_KEYS.contains(&k) {
            cx.unknown_key(key, &place, WHEN_KEYS, WHEN_ALIASES);
            ok = false;
            continue;
        }
        let Some(items) = cx.ok(cx.strings(value, &format!("`when.{k}` of stage `{stage}`"), true))
        else {
            ok = false;
            continue;
        };
        if items.is_empty() {
            cx.error(
                span_of(value),
                format!("`when.{k}` of stage `{stage}` is empty, so the stage would never run"),
                Some(format!("remove `{k}` to run regardless of it")),
            );
            ok = false;
        }
        for item in &items {
            let s = item.get_ref();
            let bad = if s.is_empty() {
                Some("an empty string".to_string())
            } else if k == "env"
                && !(s.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_')
                    && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'))
            {
                Some(format!("`{s}` is not a valid environment variable name"))
            } else {
                None
            };
            if let Some(bad) = bad {
                cx.error(
                    span_of(item),
                    format!("invalid entry in `when.{k}` of stage `{stage}`: {bad}"),
                    None,
                );
                ok = false;
            }
        }
        if k == "on-failure" {
            when.on_failure_spans = items.iter().map(span_of).collect();
        }
        let items = items.into_iter().map(Spanned::into_inner).collect();
        match k {
            "branch" => when.branch = items,
            "tag" => when.tag = items,
            "on-failure" => when.on_failure = items,
            _ => when.env = items,
        }
    }
    ok.then_some(when)
}

fn escape_pointer(key: &str) -> String {
    key.replace('~', "~0").replace('/', "~1")
}

/// TOML → JSON, recording the span of every value by JSON pointer.
fn to_json(
    cx: &mut Cx<'_>,
    v: &Val<'_>,
    pointer: String,
    key_span: Option<Span>,
    spans: &mut HashMap<String, (Option<Span>, Span)>,
    strings: &mut Vec<(String, Span)>,
) -> Option<Json> {
    spans.insert(pointer.clone(), (key_span, span_of(v)));
    Some(match v.get_ref() {
        DeValue::String(s) => {
            strings.push((s.to_string(), span_of(v)));
            Json::String(s.to_string())
        }
        DeValue::Integer(i) => match i64::from_str_radix(i.as_str(), i.radix()) {
            Ok(n) => Json::from(n),
            Err(_) => {
                cx.error(span_of(v), "integer out of range", None);
                return None;
            }
        },
        DeValue::Float(f) => match f
            .as_str()
            .parse::<f64>()
            .ok()
            .and_then(serde_json::Number::from_f64)
        {
            Some(n) => Json::Number(n),
            None => {
                cx.error(
                    span_of(v),
                    format!(
                        "`{}` cannot be passed to a plugin (JSON has no NaN or infinity)",
                        f.as_str()
                    ),
                    None,
                );
                return None;
            }
        },
        DeValue::Boolean(b) => Json::Bool(*b),
        DeValue::Datetime(d) => Json::String(d.to_string()),
        DeValue::Array(items) => {
            let mut out = Vec::with_capacity(items.len());
            let mut ok = true;
            for (i, item) in items.iter().enumerate() {
                match to_json(cx, item, format!("{pointer}/{i}"), None, spans, strings) {
                    Some(j) => out.push(j),
                    None => ok = false,
                }
            }
            if !ok {
                return None;
            }
            Json::Array(out)
        }
        DeValue::Table(t) => {
            let mut out = serde_json::Map::new();
            let mut ok = true;
            for (k, item) in entries(t) {
                let p = format!("{pointer}/{}", escape_pointer(k.get_ref()));
                match to_json(cx, item, p, Some(span_of(k)), spans, strings) {
                    Some(j) => {
                        out.insert(k.get_ref().to_string(), j);
                    }
                    None => ok = false,
                }
            }
            if !ok {
                return None;
            }
            Json::Object(out)
        }
    })
}

fn check_needs(cx: &mut Cx<'_>, stages: &[RawStage]) -> Graph {
    let index: HashMap<&str, usize> = stages
        .iter()
        .enumerate()
        .map(|(i, s)| (s.name.as_str(), i))
        .collect();
    let names: Vec<&str> = stages.iter().map(|s| s.name.as_str()).collect();
    let mut deps = vec![Vec::new(); stages.len()];
    for (i, s) in stages.iter().enumerate() {
        for (j, (need, span)) in s.needs.iter().enumerate() {
            if s.needs[..j].iter().any(|(n, _)| n == need) {
                cx.error(
                    *span,
                    format!("`{need}` is listed twice in `needs` of stage `{}`", s.name),
                    Some("remove the duplicate".into()),
                );
                continue;
            }
            if *need == s.name {
                cx.error(
                    *span,
                    format!("stage `{need}` needs itself"),
                    Some(format!("remove `{need}` from its `needs`")),
                );
                continue;
            }
            match index.get(need.as_str()) {
                Some(&d) => deps[i].push(d),
                None => {
                    let others = names.iter().copied().filter(|n| *n != s.name);
                    let hint = match did_you_mean(need, others) {
                        Some(m) => format!("did you mean `{m}`?"),
                        None => format!("stages in this pipeline: {}", ticked(&names)),
                    };
                    cx.error(
                        *span,
                        format!("stage `{}` needs unknown stage `{need}`", s.name),
                        Some(hint),
                    );
                }
            }
        }
    }
    // `when.on-failure` names stages the stage needs: it runs after them, when one failed.
    for s in stages {
        let Some(w) = &s.when else { continue };
        for (name, span) in w.on_failure.iter().zip(&w.on_failure_spans) {
            if !s.needs.iter().any(|(n, _)| n == name) {
                let mut needs: Vec<String> =
                    s.needs.iter().map(|(n, _)| format!("\"{n}\"")).collect();
                needs.push(format!("\"{name}\""));
                cx.error(
                    *span,
                    format!(
                        "`when.on-failure` of stage `{}` names `{name}`, which it does not need",
                        s.name
                    ),
                    Some(format!(
                        "a stage runs on the failure of stages it needs: add it, `needs = [{}]`",
                        needs.join(", ")
                    )),
                );
            }
        }
    }
    let graph = Graph { deps };
    for cycle in graph.cycles() {
        let (a, b) = (cycle[0], cycle[1]);
        let span = stages[a]
            .needs
            .iter()
            .find(|(n, _)| *n == stages[b].name)
            .map_or(stages[a].span, |(_, s)| *s);
        let path = cycle
            .iter()
            .map(|&i| stages[i].name.as_str())
            .collect::<Vec<_>>()
            .join(" -> ");
        cx.error(
            span,
            format!("dependency cycle: `{path}`"),
            Some("each arrow means \"needs\"; remove one of these dependencies".into()),
        );
    }
    graph
}

fn check_placeholders(
    cx: &mut Cx<'_>,
    stages: &[RawStage],
    graph: &Graph,
    inputs: &[super::inputs::InputDecl],
) {
    let names: Vec<&str> = stages.iter().map(|s| s.name.as_str()).collect();
    for (i, s) in stages.iter().enumerate() {
        let reach = graph.ancestors(i);
        for (text, vspan) in &s.strings {
            let raw_source = cx.source.get(vspan.range()).unwrap_or("");
            let mut seen: HashMap<&str, usize> = HashMap::new();
            for token in tokenize(text) {
                let Token::Placeholder { raw, parsed, .. } = token else {
                    continue;
                };
                let nth = seen.entry(raw).or_default();
                let span = raw_source
                    .match_indices(raw)
                    .nth(*nth)
                    .map_or(*vspan, |(at, _)| {
                        Span::new(vspan.start + at, vspan.start + at + raw.len())
                    });
                *nth += 1;
                match parsed {
                    Err(e) => cx.error(span, e.message, e.hint),
                    Ok(Placeholder::Output { stage, .. }) => {
                        if stage == s.name {
                            cx.error(
                                span,
                                format!("stage `{stage}` cannot use its own outputs (`{raw}`)"),
                                None,
                            );
                        } else if let Some(j) = names.iter().position(|n| *n == stage) {
                            if !reach[j] {
                                let mut needs: Vec<String> =
                                    s.needs.iter().map(|(n, _)| n.clone()).collect();
                                needs.push(stage.clone());
                                cx.error(
                                    span,
                                    format!("`{raw}` uses stage `{stage}`, which stage `{}` does not need", s.name),
                                    Some(format!(
                                        "outputs are available only from stages in `needs` (directly or transitively); add it: `needs = [{}]`",
                                        needs.iter().map(|n| format!("\"{n}\"")).collect::<Vec<_>>().join(", ")
                                    )),
                                );
                            }
                        } else {
                            let hint = match did_you_mean(&stage, names.iter().copied()) {
                                Some(m) => format!("did you mean `{m}`?"),
                                None => format!("stages in this pipeline: {}", ticked(&names)),
                            };
                            cx.error(
                                span,
                                format!("`{raw}` refers to unknown stage `{stage}`"),
                                Some(hint),
                            );
                        }
                    }
                    Ok(Placeholder::Input(name)) => {
                        if !inputs.iter().any(|d| d.name == name) {
                            let names: Vec<&str> = inputs.iter().map(|d| d.name.as_str()).collect();
                            let hint = match did_you_mean(&name, names.iter().copied()) {
                                Some(m) => format!("did you mean `${{inputs.{m}}}`?"),
                                None => format!(
                                    "declare it: `[inputs]` with `{name} = {{ type = \"string\" }}`, then `gantry run --input {name}=…`"
                                ),
                            };
                            cx.error(
                                span,
                                format!("`{raw}` refers to undeclared input `{name}`"),
                                Some(hint),
                            );
                        }
                    }
                    Ok(_) => {}
                }
            }
        }
    }
}
