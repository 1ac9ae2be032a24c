//! One function per rule. Each reads the [`Analysis`] and reports through [`Out`];
//! the doc comment of each says what it checks when that is not obvious from the
//! rule's message in `mod.rs`.

use std::collections::{HashMap, HashSet};

use super::{Analysis, Out};
use crate::parser::{self, Args, ImageRef, Keyword};
use crate::shell::{Command, Script};

type Check = fn(&Analysis<'_>, &mut Out<'_>);

/// Every rule's check, in id order (ids match `RULES`).
pub(super) const ALL: &[(&str, Check)] = &[
    ("DL3000", dl3000),
    ("DL3001", dl3001),
    ("DL3002", dl3002),
    ("DL3003", dl3003),
    ("DL3004", dl3004),
    ("DL3006", dl3006),
    ("DL3007", dl3007),
    ("DL3008", dl3008),
    ("DL3009", dl3009),
    ("DL3010", dl3010),
    ("DL3011", dl3011),
    ("DL3012", dl3012),
    ("DL3013", dl3013),
    ("DL3014", dl3014),
    ("DL3015", dl3015),
    ("DL3016", dl3016),
    ("DL3018", dl3018),
    ("DL3019", dl3019),
    ("DL3020", dl3020),
    ("DL3021", dl3021),
    ("DL3022", dl3022),
    ("DL3023", dl3023),
    ("DL3024", dl3024),
    ("DL3025", dl3025),
    ("DL3026", dl3026),
    ("DL3027", dl3027),
    ("DL3028", dl3028),
    ("DL3029", dl3029),
    ("DL3030", dl3030),
    ("DL3032", dl3032),
    ("DL3033", dl3033),
    ("DL3034", dl3034),
    ("DL3035", dl3035),
    ("DL3036", dl3036),
    ("DL3037", dl3037),
    ("DL3038", dl3038),
    ("DL3040", dl3040),
    ("DL3041", dl3041),
    ("DL3042", dl3042),
    ("DL3043", dl3043),
    ("DL3044", dl3044),
    ("DL3045", dl3045),
    ("DL3046", dl3046),
    ("DL3047", dl3047),
    ("DL3048", dl3048),
    ("DL3059", dl3059),
    ("DL3060", dl3060),
    ("DL3061", dl3061),
    ("DL3062", dl3062),
    ("DL3063", dl3063),
    ("DL3064", dl3064),
    ("DL3065", dl3065),
    ("DL3066", dl3066),
    ("DL3067", dl3067),
    ("DL4000", dl4000),
    ("DL4001", dl4001),
    ("DL4003", dl4003),
    ("DL4004", dl4004),
    ("DL4005", dl4005),
    ("DL4006", dl4006),
];

fn drop_quotes(s: &str) -> &str {
    s.trim_matches(|c| c == '"' || c == '\'')
}

fn list(items: &[&str]) -> String {
    items
        .iter()
        .map(|p| format!("`{p}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Reports each script whose commands match `bad`, with the offending words.
fn per_command(a: &Analysis<'_>, out: &mut Out<'_>, bad: impl Fn(&Command) -> Vec<String>) {
    for (i, s) in a.scripts() {
        let found: Vec<String> = s.commands.iter().flat_map(&bad).collect();
        if !found.is_empty() {
            let refs: Vec<&str> = found.iter().map(String::as_str).collect();
            out.detail(i, list(&refs));
        }
    }
}

/// Reports each script that has a command for which `bad` holds.
fn any_command(a: &Analysis<'_>, out: &mut Out<'_>, bad: impl Fn(&Command) -> bool) {
    for (i, s) in a.scripts() {
        if s.any(&bad) {
            out.at(i);
        }
    }
}

fn is_windows_absolute(p: &str) -> bool {
    let b = p.as_bytes();
    b.len() >= 2 && b[0].is_ascii_alphabetic() && b[1] == b':'
}

fn dl3000(a: &Analysis<'_>, out: &mut Out<'_>) {
    for (i, it) in a.with(Keyword::Workdir) {
        let raw = drop_quotes(it.ins.rest.trim());
        let path = match a.expand(i, raw) {
            Some(p) => p,
            // A variable with no known value: trust it, as hadolint does.
            None => continue,
        };
        let path = drop_quotes(&path);
        if !(path.starts_with('/') || is_windows_absolute(path) || path.starts_with('$')) {
            out.detail(i, format!("`{path}`"));
        }
    }
}

fn dl3001(a: &Analysis<'_>, out: &mut Out<'_>) {
    const NO_SENSE: &[&str] = &[
        "free", "kill", "mount", "ps", "service", "shutdown", "ssh", "top", "vim",
    ];
    per_command(a, out, |c| {
        if NO_SENSE.contains(&c.name.as_str()) {
            vec![c.name.clone()]
        } else {
            Vec::new()
        }
    });
}

fn is_root(user: &str) -> bool {
    user == "root" || user == "0" || user.starts_with("root:") || user.starts_with("0:")
}

/// The last USER of each stage, when it is root.
fn dl3002(a: &Analysis<'_>, out: &mut Out<'_>) {
    let mut last: HashMap<usize, (usize, bool)> = HashMap::new();
    for (i, it) in a.with(Keyword::User) {
        if let Some(st) = it.stage {
            let user = a
                .expand(i, it.ins.rest.trim())
                .unwrap_or_else(|| it.ins.rest.trim().to_string());
            last.insert(st, (i, is_root(&user)));
        }
    }
    let mut hits: Vec<usize> = last
        .values()
        .filter(|(_, root)| *root)
        .map(|(i, _)| *i)
        .collect();
    hits.sort_unstable();
    for i in hits {
        out.at(i);
    }
}

fn dl3003(a: &Analysis<'_>, out: &mut Out<'_>) {
    any_command(a, out, |c| c.name == "cd");
}

fn dl3004(a: &Analysis<'_>, out: &mut Out<'_>) {
    any_command(a, out, |c| c.name == "sudo");
}

/// Stage names defined before `item` (lower-cased, as Docker compares them).
fn aliases_before(a: &Analysis<'_>, item: usize) -> HashSet<String> {
    a.stages
        .iter()
        .filter(|s| s.item < item)
        .filter_map(|s| s.alias.as_ref().map(|x| x.to_ascii_lowercase()))
        .collect()
}

/// The stage's image as the rules see it: resolved through ARGs when possible; as
/// written when it has no variables; `None` when it depends on unknown values.
fn stage_image(a: &Analysis<'_>, st: usize) -> Option<ImageRef> {
    let s = &a.stages[st];
    match &s.image {
        Some(img) => Some(img.clone()),
        None => {
            let raw = ImageRef::parse(&s.image_raw);
            // `$IMG:1.0` still has a readable tag.
            raw.tag.is_some().then_some(raw)
        }
    }
}

fn dl3006(a: &Analysis<'_>, out: &mut Out<'_>) {
    for (st, s) in a.stages.iter().enumerate() {
        let Some(img) = stage_image(a, st) else {
            continue;
        };
        if img.name == "scratch" || img.digest.is_some() || img.tag.is_some() {
            continue;
        }
        if aliases_before(a, s.item).contains(&img.name.to_ascii_lowercase()) {
            continue;
        }
        out.detail(s.item, format!("`{}`", img.name));
    }
}

fn dl3007(a: &Analysis<'_>, out: &mut Out<'_>) {
    for (st, s) in a.stages.iter().enumerate() {
        if let Some(img) = stage_image(a, st)
            && img.tag.as_deref() == Some("latest")
            && img.digest.is_none()
        {
            out.at(s.item);
        }
    }
}

/// Packages of every `apt-get install` without `=version`, `/release` or `.deb`.
fn dl3008(a: &Analysis<'_>, out: &mut Out<'_>) {
    per_command(a, out, |c| {
        if !c.is("apt-get", &["install"]) {
            return Vec::new();
        }
        c.operands(&["t", "target-release"])
            .into_iter()
            .filter(|p| *p != "install")
            .filter(|p| !(p.contains('=') || p.contains('/') || p.ends_with(".deb")))
            .map(str::to_string)
            .collect()
    });
}

/// A `--mount=type=cache` whose target is `dir` or below it: the cache then never
/// lands in the layer.
fn mounts_cache(it: &super::Item<'_>, dir: &str) -> bool {
    cache_mount(it, |t| t.starts_with(dir))
}

fn cache_mount(it: &super::Item<'_>, target_ok: impl Fn(&str) -> bool) -> bool {
    it.ins.flag_values("mount").any(|m| {
        let mut cache = false;
        let mut target = false;
        for kv in m.split(',') {
            match kv.split_once('=') {
                Some(("type", "cache")) => cache = true,
                Some(("target" | "dst" | "destination", t)) => target |= target_ok(t),
                _ => {}
            }
        }
        cache && target
    })
}

/// `apt-get update` without removing `/var/lib/apt/lists` in the same RUN, in a stage
/// that ends up in an image (the last stage, or one another stage is built `FROM`).
fn dl3009(a: &Analysis<'_>, out: &mut Out<'_>) {
    for (i, s) in a.scripts() {
        let it = &a.items[i];
        if !s.any(|c| c.is("apt-get", &["update"])) {
            continue;
        }
        let cleaned =
            s.any(|c| c.name == "rm" && c.args.iter().any(|x| x.starts_with("/var/lib/apt/lists")));
        if cleaned
            || mounts_cache(it, "/var/lib/apt/lists")
            || (mounts_cache(it, "/var/lib/apt") && mounts_cache(it, "/var/cache/apt"))
        {
            continue;
        }
        if in_image(a, it.stage) {
            out.at(i);
        }
    }
}

/// Whether a stage ends up in the built image: the last stage, or one that a later
/// stage is built `FROM` (caches left in other stages cost nothing).
fn in_image(a: &Analysis<'_>, stage: Option<usize>) -> bool {
    let last = a.stages.len().checked_sub(1);
    stage.is_none_or(|st| {
        Some(st) == last
            || a.stages[st].alias.as_ref().is_some_and(|al| {
                a.stages[st + 1..].iter().any(|o| {
                    o.image
                        .as_ref()
                        .is_some_and(|img| img.name.eq_ignore_ascii_case(al))
                })
            })
    })
}

const ARCHIVES: &[&str] = &[
    ".tar",
    ".tar.gz",
    ".tgz",
    ".tar.bz2",
    ".tbz",
    ".tbz2",
    ".tb2",
    ".tar.xz",
    ".txz",
    ".tar.lz",
    ".tlz",
    ".tar.lzma",
    ".tar.Z",
    ".tZ",
    ".gz",
    ".bz2",
    ".xz",
    ".lz",
    ".lzma",
    ".Z",
    ".zip",
];

fn is_archive(p: &str) -> bool {
    let p = drop_quotes(p);
    ARCHIVES.iter().any(|e| p.ends_with(e))
}

fn file_name(p: &str) -> &str {
    drop_quotes(p).rsplit(['/', '\\']).next().unwrap_or(p)
}

/// A local archive COPYed and then extracted by `tar x…`/`unzip`/`gunzip`… later in
/// the stage.
fn dl3010(a: &Analysis<'_>, out: &mut Out<'_>) {
    const UNPACK: &[&str] = &[
        "unzip",
        "gunzip",
        "bunzip2",
        "unlzma",
        "unxz",
        "zgz",
        "uncompress",
        "zcat",
        "gzcat",
    ];
    let mut archives: Vec<(usize, String)> = Vec::new();
    let mut reported: HashSet<usize> = HashSet::new();
    for (i, it) in a.items.iter().enumerate() {
        match it.ins.keyword {
            Keyword::From => archives.clear(),
            Keyword::Copy if it.ins.flag("from").is_none() => {
                if let Some((srcs, dest)) = it.ins.copy_paths() {
                    if is_archive(&dest) {
                        archives.push((i, file_name(&dest).to_string()));
                    } else {
                        for s in srcs.iter().filter(|s| is_archive(s)) {
                            archives.push((i, file_name(s).to_string()));
                        }
                    }
                }
            }
            Keyword::Run => {
                let Some(s) = &it.script else { continue };
                for c in &s.commands {
                    let tar_x = c.name == "tar"
                        && c.args.iter().any(|x| {
                            x == "--extract"
                                || x == "--get"
                                || (x.starts_with('-') && !x.starts_with("--") && x.contains('x'))
                        });
                    if !(tar_x || UNPACK.contains(&c.name.as_str())) {
                        continue;
                    }
                    let names: HashSet<&str> = c.operands(&[]).into_iter().map(file_name).collect();
                    for (ci, name) in &archives {
                        if names.contains(name.as_str()) {
                            reported.insert(*ci);
                        }
                    }
                }
            }
            _ => {}
        }
    }
    let mut r: Vec<usize> = reported.into_iter().collect();
    r.sort_unstable();
    for i in r {
        out.at(i);
    }
}

fn dl3011(a: &Analysis<'_>, out: &mut Out<'_>) {
    for (i, it) in a.with(Keyword::Expose) {
        let text = a
            .expand(i, &it.ins.rest)
            .unwrap_or_else(|| it.ins.rest.clone());
        let bad: Vec<&str> = text
            .split_whitespace()
            .filter(|w| {
                let port = w.split('/').next().unwrap_or(w);
                port.split('-')
                    .any(|p| p.parse::<u64>().is_ok_and(|n| n > 65535))
            })
            .collect();
        if !bad.is_empty() {
            out.detail(i, list(&bad));
        }
    }
}

/// Reports the second and later `keyword` of each stage.
fn repeated_in_stage(a: &Analysis<'_>, out: &mut Out<'_>, keyword: Keyword) {
    let mut seen = false;
    for (i, it) in a.items.iter().enumerate() {
        match it.ins.keyword {
            Keyword::From => seen = false,
            k if k == keyword => {
                if seen {
                    out.at(i);
                }
                seen = true;
            }
            _ => {}
        }
    }
}

fn dl3012(a: &Analysis<'_>, out: &mut Out<'_>) {
    repeated_in_stage(a, out, Keyword::Healthcheck);
}

fn is_pip_install(c: &Command) -> bool {
    (c.name.starts_with("pip") && c.has_arg("install"))
        || (c.name.starts_with("python")
            && c.args.windows(3).any(|w| w == ["-m", "pip", "install"]))
}

const PIP_VALUE_FLAGS: &[&str] = &[
    "abi",
    "b",
    "build",
    "e",
    "editable",
    "extra-index-url",
    "f",
    "find-links",
    "i",
    "index-url",
    "implementation",
    "no-binary",
    "only-binary",
    "platform",
    "prefix",
    "progress-bar",
    "proxy",
    "python-version",
    "root",
    "src",
    "t",
    "target",
    "trusted-host",
    "upgrade-strategy",
];

const VCS: &[&str] = &["git+", "git:", "hg+", "svn+", "svn:", "bzr+"];

/// Unpinned packages of `pip install` (not `-r`/`--requirement`, `-c`, `.`).
fn dl3013(a: &Analysis<'_>, out: &mut Out<'_>) {
    per_command(a, out, |c| {
        if !is_pip_install(c)
            || c.has_arg("-r")
            || c.has_arg("--requirement")
            || c.has_arg(".")
            || c.has_any_flag(&["c", "constraint"])
        {
            return Vec::new();
        }
        let ops = c.operands(PIP_VALUE_FLAGS);
        let after: Vec<&str> = ops
            .iter()
            .skip_while(|o| **o != "install")
            .skip_while(|o| **o == "install")
            .copied()
            .collect();
        after
            .into_iter()
            .filter(|p| {
                let vcs = VCS.iter().any(|v| p.starts_with(v));
                let pinned = ["==", ">=", "<=", ">", "<", "!=", "~=", "==="]
                    .iter()
                    .any(|s| p.contains(s))
                    || (vcs && p.contains('@'))
                    || p.ends_with(".whl")
                    || p.ends_with(".tar.gz")
                    || (!vcs && p.contains('/'));
                !pinned
            })
            .map(str::to_string)
            .collect()
    });
}

fn dl3014(a: &Analysis<'_>, out: &mut Out<'_>) {
    any_command(a, out, |c| {
        c.is("apt-get", &["install"]) && !c.has_any_flag(&["y", "yes", "q", "assume-yes"])
    });
}

fn dl3015(a: &Analysis<'_>, out: &mut Out<'_>) {
    any_command(a, out, |c| {
        c.is("apt-get", &["install"])
            && !c.has_flag("no-install-recommends")
            && !c.has_arg("APT::Install-Recommends=false")
    });
}

/// `npm install <pkg>` without `@version` (git URLs need `#ref`; tarballs and folders
/// are fine; `npm install` alone installs the lock file).
fn dl3016(a: &Analysis<'_>, out: &mut Out<'_>) {
    per_command(a, out, |c| {
        if c.name != "npm" {
            return Vec::new();
        }
        let ops = c.operands(&[]);
        if ops.first() != Some(&"install") {
            return Vec::new();
        }
        ops.into_iter()
            .skip_while(|o| *o == "install")
            .filter(|p| {
                let pinned = if ["git://", "git+ssh://", "git+http://", "git+https://"]
                    .iter()
                    .any(|g| p.starts_with(g))
                {
                    p.contains('#')
                } else if [".tar", ".tar.gz", ".tgz"].iter().any(|t| p.ends_with(t))
                    || ["/", "./", "../", "~/"].iter().any(|f| p.starts_with(f))
                {
                    true
                } else {
                    let unscoped = if p.starts_with('@') {
                        p.split_once('/').map_or("", |(_, r)| r)
                    } else {
                        p
                    };
                    unscoped.contains('@')
                };
                !pinned
            })
            .map(str::to_string)
            .collect()
    });
}

fn dl3018(a: &Analysis<'_>, out: &mut Out<'_>) {
    per_command(a, out, |c| {
        if !c.is("apk", &["add"]) {
            return Vec::new();
        }
        c.operands(&["t", "virtual", "repository", "X"])
            .into_iter()
            .filter(|p| *p != "add")
            .filter(|p| !(p.contains('=') || p.contains('~') || p.ends_with(".apk")))
            .map(str::to_string)
            .collect()
    });
}

fn dl3019(a: &Analysis<'_>, out: &mut Out<'_>) {
    for (i, s) in a.scripts() {
        if s.any(|c| c.is("apk", &["add"]) && !c.has_flag("no-cache"))
            && !mounts_cache(&a.items[i], "/var/cache/apk")
        {
            out.at(i);
        }
    }
}

fn is_url(p: &str) -> bool {
    let p = drop_quotes(p);
    p.starts_with("https://") || p.starts_with("http://")
}

fn dl3020(a: &Analysis<'_>, out: &mut Out<'_>) {
    for (i, it) in a.with(Keyword::Add) {
        if let Some((srcs, _)) = it.ins.copy_paths() {
            let plain: Vec<&str> = srcs
                .iter()
                .map(String::as_str)
                .filter(|s| !(is_archive(s) || is_url(s)))
                .collect();
            if !plain.is_empty() {
                out.detail(i, list(&plain));
            }
        }
    }
}

fn dl3021(a: &Analysis<'_>, out: &mut Out<'_>) {
    for (i, it) in a.with(Keyword::Copy) {
        if let Some((srcs, dest)) = it.ins.copy_paths()
            && srcs.len() > 1
            && !drop_quotes(&dest).ends_with('/')
        {
            out.detail(i, format!("`{dest}`"));
        }
    }
}

/// `--from` that names no earlier stage (by name or by index). A bare name that is no
/// stage is reported even if it could be an image (a typo in a stage name looks the
/// same); `name:tag` references are images and are not.
fn dl3022(a: &Analysis<'_>, out: &mut Out<'_>) {
    for (i, it) in a.with(Keyword::Copy) {
        let Some(from) = it.ins.flag("from").and_then(|f| f.value.as_deref()) else {
            continue;
        };
        let from = a.expand(i, from).unwrap_or_else(|| from.to_string());
        // `--from=image:tag` copies from an image, not a stage.
        if from.contains('$') || from.contains(':') {
            continue;
        }
        let current = it.stage.unwrap_or(0);
        let by_index = from.parse::<usize>().is_ok_and(|n| n < current);
        if by_index || aliases_before(a, i).contains(&from.to_ascii_lowercase()) {
            continue;
        }
        out.detail(i, format!("`{from}`"));
    }
}

fn dl3023(a: &Analysis<'_>, out: &mut Out<'_>) {
    for (i, it) in a.with(Keyword::Copy) {
        let (Some(from), Some(st)) = (
            it.ins.flag("from").and_then(|f| f.value.as_deref()),
            it.stage,
        ) else {
            continue;
        };
        let own = a.stages[st]
            .alias
            .as_deref()
            .is_some_and(|al| al.eq_ignore_ascii_case(from));
        if own || from.parse::<usize>().is_ok_and(|n| n == st) {
            out.detail(i, format!("`{from}`"));
        }
    }
}

fn dl3024(a: &Analysis<'_>, out: &mut Out<'_>) {
    let mut seen = HashSet::new();
    for s in &a.stages {
        if let Some(al) = &s.alias
            && !seen.insert(al.to_ascii_lowercase())
        {
            out.detail(s.item, format!("`{al}`"));
        }
    }
}

fn dl3025(a: &Analysis<'_>, out: &mut Out<'_>) {
    for (i, it) in a.items.iter().enumerate() {
        if matches!(it.ins.keyword, Keyword::Cmd | Keyword::Entrypoint) && !it.ins.args().is_exec()
        {
            out.at(i);
        }
    }
}

fn registry_allowed(reg: &str, allowed: &[String]) -> bool {
    allowed.iter().any(|p| match p.strip_prefix('*') {
        Some(suffix) => reg.ends_with(suffix),
        None => p == reg,
    })
}

fn dl3026(a: &Analysis<'_>, out: &mut Out<'_>) {
    let allowed = &a.options.trusted_registries;
    if allowed.is_empty() {
        return;
    }
    for (st, s) in a.stages.iter().enumerate() {
        let Some(img) = stage_image(a, st) else {
            continue;
        };
        if aliases_before(a, s.item).contains(&img.name.to_ascii_lowercase()) {
            continue;
        }
        let ok = match &img.registry {
            Some(r) => registry_allowed(r, allowed),
            None => {
                img.name == "scratch"
                    || registry_allowed("docker.io", allowed)
                    || registry_allowed("hub.docker.com", allowed)
            }
        };
        if !ok {
            out.detail(
                s.item,
                format!("`{}`", img.registry.as_deref().unwrap_or("docker.io")),
            );
        }
    }
}

fn dl3027(a: &Analysis<'_>, out: &mut Out<'_>) {
    any_command(a, out, |c| c.name == "apt");
}

fn dl3028(a: &Analysis<'_>, out: &mut Out<'_>) {
    per_command(a, out, |c| {
        if !c.is("gem", &["install", "i"])
            || c.has_arg("-v")
            || c.has_arg("--version")
            || c.args.iter().any(|x| x.starts_with("--version="))
        {
            return Vec::new();
        }
        c.operands(&[])
            .into_iter()
            .filter(|g| !["install", "i", "--"].contains(g) && !g.contains(':'))
            .map(str::to_string)
            .collect()
    });
}

/// `FROM --platform=` with a fixed value. `$BUILDPLATFORM`-style variables are the
/// documented way to write multi-platform builds and are not reported.
fn dl3029(a: &Analysis<'_>, out: &mut Out<'_>) {
    for s in &a.stages {
        if let Some(p) = &s.platform
            && !p.is_empty()
            && !crate::subst::has_variable(p, a.file.escape)
        {
            out.detail(s.item, format!("`{p}`"));
        }
    }
}

fn dl3030(a: &Analysis<'_>, out: &mut Out<'_>) {
    any_command(a, out, |c| {
        c.is("yum", &["install", "groupinstall", "localinstall"])
            && !c.has_any_flag(&["y", "assumeyes"])
    });
}

/// A package-manager install in a RUN with no later clean-up command in it and no
/// cache mount on `cache_dir`.
fn install_without_clean(
    a: &Analysis<'_>,
    out: &mut Out<'_>,
    cache_dir: &str,
    install: impl Fn(&Command) -> bool,
    clean: impl Fn(&Command) -> bool,
) {
    for (i, s) in a.scripts() {
        let Some(first) = s.commands.iter().position(&install) else {
            continue;
        };
        if mounts_cache(&a.items[i], cache_dir) {
            continue;
        }
        if !s.commands[first..].iter().any(&clean) {
            out.at(i);
        }
    }
}

fn rm_rf(c: &Command, dir: &str) -> bool {
    c.name == "rm" && c.args.iter().any(|x| x.starts_with(dir))
}

fn dl3032(a: &Analysis<'_>, out: &mut Out<'_>) {
    install_without_clean(
        a,
        out,
        "/var/cache/yum",
        |c| c.is("yum", &["install"]),
        |c| {
            (c.name == "yum" && c.has_arg("clean") && c.has_arg("all"))
                || rm_rf(c, "/var/cache/yum")
        },
    );
}

/// Unpinned packages of `install_cmd install` where a version is `name-version`.
fn rpm_unpinned(c: &Command, tool: &str) -> Vec<String> {
    if !c.is(tool, &["install"]) {
        return Vec::new();
    }
    let module = c.has_arg("module");
    c.operands(&[])
        .into_iter()
        .filter(|p| *p != "install" && *p != "module")
        .filter(|p| {
            if module {
                !p.contains(':')
            } else {
                !(p.contains('-') || p.ends_with(".rpm"))
            }
        })
        .map(str::to_string)
        .collect()
}

fn dl3033(a: &Analysis<'_>, out: &mut Out<'_>) {
    per_command(a, out, |c| rpm_unpinned(c, "yum"));
}

fn dl3034(a: &Analysis<'_>, out: &mut Out<'_>) {
    any_command(a, out, |c| {
        c.is(
            "zypper",
            &[
                "install",
                "in",
                "remove",
                "rm",
                "source-install",
                "si",
                "patch",
            ],
        ) && !c.has_any_flag(&["n", "non-interactive", "y", "no-confirm"])
    });
}

fn dl3035(a: &Analysis<'_>, out: &mut Out<'_>) {
    any_command(a, out, |c| c.is("zypper", &["dist-upgrade", "dup"]));
}

fn dl3036(a: &Analysis<'_>, out: &mut Out<'_>) {
    install_without_clean(
        a,
        out,
        "/var/cache/zypp",
        |c| c.is("zypper", &["install", "in"]),
        |c| c.is("zypper", &["clean", "cc"]),
    );
}

fn dl3037(a: &Analysis<'_>, out: &mut Out<'_>) {
    per_command(a, out, |c| {
        if !c.is("zypper", &["install", "in"]) {
            return Vec::new();
        }
        c.operands(&[])
            .into_iter()
            .filter(|p| *p != "install" && *p != "in")
            .filter(|p| {
                !(p.contains('=') || p.contains('>') || p.contains('<') || p.ends_with(".rpm"))
            })
            .map(str::to_string)
            .collect()
    });
}

fn dl3038(a: &Analysis<'_>, out: &mut Out<'_>) {
    any_command(a, out, |c| {
        (c.is("dnf", &["install", "groupinstall", "localinstall"])
            || c.is("microdnf", &["install"]))
            && !c.has_any_flag(&["y", "assumeyes"])
    });
}

fn dl3040(a: &Analysis<'_>, out: &mut Out<'_>) {
    for tool in ["dnf", "microdnf"] {
        install_without_clean(
            a,
            out,
            "/var/cache/dnf",
            |c| c.is(tool, &["install"]),
            |c| {
                (c.name == tool && c.has_arg("clean") && c.has_arg("all"))
                    || rm_rf(c, "/var/cache/yum")
                    || rm_rf(c, "/var/cache/dnf")
            },
        );
    }
}

fn dl3041(a: &Analysis<'_>, out: &mut Out<'_>) {
    per_command(a, out, |c| {
        let mut v = rpm_unpinned(c, "dnf");
        v.extend(rpm_unpinned(c, "microdnf"));
        v
    });
}

const TRUTHY: &[&str] = &[
    "1", "true", "True", "TRUE", "on", "On", "ON", "yes", "Yes", "YES",
];

/// `pip install` without `--no-cache-dir`, unless `PIP_NO_CACHE_DIR` is truthy (ENV in
/// the stage or one it builds on, or set in the RUN itself); pipx/pipenv are exempt.
fn dl3042(a: &Analysis<'_>, out: &mut Out<'_>) {
    for (i, s) in a.scripts() {
        let it = &a.items[i];
        if it
            .vars
            .get("PIP_NO_CACHE_DIR")
            .is_some_and(|v| TRUTHY.contains(&v.as_str()))
            || cache_mount(it, |t| {
                t == "/root/.cache" || t.starts_with("/root/.cache/pip")
            })
        {
            continue;
        }
        let inline = it
            .run_text
            .match_indices("PIP_NO_CACHE_DIR=")
            .any(|(k, m)| {
                let v = &it.run_text[k + m.len()..];
                TRUTHY.iter().any(|t| v.starts_with(t))
            });
        if inline {
            continue;
        }
        let bad = s.any(|c| {
            let wrapper = ["pipx", "pipenv"].iter().any(|w| {
                c.name.contains(w)
                    || (c.name.starts_with("python") && c.args.windows(2).any(|x| x == ["-m", *w]))
            });
            is_pip_install(c) && !c.has_arg("--no-cache-dir") && !wrapper
        });
        if bad {
            out.at(i);
        }
    }
}

fn dl3043(a: &Analysis<'_>, out: &mut Out<'_>) {
    for (i, it) in a.with(Keyword::Onbuild) {
        if let Some(inner) = &it.ins.onbuild
            && matches!(
                inner.keyword,
                Keyword::Onbuild | Keyword::From | Keyword::Maintainer
            )
        {
            out.detail(i, format!("`{}`", inner.keyword));
        }
    }
}

/// `$name` or `${name…}` in `text`, with `name` not followed by more name characters.
fn references(text: &str, name: &str) -> bool {
    let braced = format!("${{{name}");
    if text.match_indices(&braced).any(|(k, m)| {
        text[k + m.len()..]
            .chars()
            .next()
            .is_some_and(|c| c == '}' || c == ':' || c == '-' || c == '+' || c == '?')
    }) {
        return true;
    }
    let bare = format!("${name}");
    text.match_indices(&bare).any(|(k, m)| {
        !text[k + m.len()..]
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphanumeric() || c == '_')
    })
}

/// An ENV value that refers to a key set by the same ENV, which was not set before.
fn dl3044(a: &Analysis<'_>, out: &mut Out<'_>) {
    let mut known: HashSet<String> = HashSet::new();
    for (i, it) in a.items.iter().enumerate() {
        match it.ins.keyword {
            Keyword::Arg | Keyword::Env => {
                let Ok(pairs) = parser::parse_pairs(it.ins, a.file.escape) else {
                    continue;
                };
                if it.ins.keyword == Keyword::Env {
                    let bad: Vec<&str> = pairs
                        .iter()
                        .enumerate()
                        .filter(|(k, p)| {
                            !known.contains(&p.key)
                                && pairs.iter().enumerate().any(|(j, q)| {
                                    j != *k
                                        && q.value.as_deref().is_some_and(|v| references(v, &p.key))
                                })
                        })
                        .map(|(_, p)| p.key.as_str())
                        .collect();
                    if !bad.is_empty() {
                        out.detail(i, list(&bad));
                    }
                }
                known.extend(pairs.into_iter().map(|p| p.key));
            }
            _ => {}
        }
    }
}

/// COPY to a relative destination in a stage (or its parent stages) without WORKDIR.
fn dl3045(a: &Analysis<'_>, out: &mut Out<'_>) {
    let mut workdir: Vec<bool> = vec![false; a.stages.len()];
    for (i, it) in a.items.iter().enumerate() {
        match it.ins.keyword {
            Keyword::From => {
                if let Some(st) = it.stage {
                    let parent = a.stages[st].image.as_ref().and_then(|img| {
                        a.stages[..st].iter().rposition(|s| {
                            s.alias
                                .as_ref()
                                .is_some_and(|al| al.eq_ignore_ascii_case(&img.name))
                        })
                    });
                    workdir[st] = parent.is_some_and(|p| workdir[p]);
                }
            }
            Keyword::Workdir => {
                if let Some(st) = it.stage {
                    workdir[st] = true;
                }
            }
            Keyword::Copy => {
                if it.stage.is_some_and(|st| workdir[st]) {
                    continue;
                }
                let Some((_, dest)) = it.ins.copy_paths() else {
                    continue;
                };
                let d = drop_quotes(&dest);
                if d.starts_with('/') || d.starts_with('$') || is_windows_absolute(d) {
                    continue;
                }
                out.detail(i, format!("`{dest}`"));
            }
            _ => {}
        }
    }
}

fn dl3046(a: &Analysis<'_>, out: &mut Out<'_>) {
    any_command(a, out, |c| {
        if c.name != "useradd" || c.has_any_flag(&["l", "no-log-init"]) {
            return false;
        }
        let mut uid = None;
        for (k, x) in c.args.iter().enumerate() {
            if x == "-u" || x == "--uid" {
                uid = c.args.get(k + 1).cloned();
            } else if let Some(v) = x.strip_prefix("--uid=") {
                uid = Some(v.to_string());
            }
        }
        uid.is_some_and(|u| u.len() > 5)
    });
}

fn dl3047(a: &Analysis<'_>, out: &mut Out<'_>) {
    any_command(a, out, |c| {
        c.name == "wget"
            && !c.has_flag("progress")
            && !c.has_any_flag(&[
                "q",
                "quiet",
                "o",
                "output-file",
                "a",
                "append-output",
                "no-verbose",
            ])
            && !c.has_arg("-nv")
    });
}

fn label_key_valid(k: &str) -> bool {
    let first_ok = k.chars().next().is_some_and(|c| c.is_ascii_lowercase());
    let last_ok = k
        .chars()
        .last()
        .is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit());
    let chars_ok = k
        .chars()
        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '.' | '-' | '_'));
    let reserved = ["com.docker.", "io.docker.", "org.dockerproject."]
        .iter()
        .any(|p| k.starts_with(p));
    first_ok && last_ok && chars_ok && !reserved && !k.contains("..") && !k.contains("--")
}

fn dl3048(a: &Analysis<'_>, out: &mut Out<'_>) {
    for (i, it) in a.with(Keyword::Label) {
        let Ok(pairs) = parser::parse_pairs(it.ins, a.file.escape) else {
            continue;
        };
        let bad: Vec<&str> = pairs
            .iter()
            .map(|p| p.key.as_str())
            .filter(|k| !label_key_valid(k))
            .collect();
        if !bad.is_empty() {
            out.detail(i, list(&bad));
        }
    }
}

/// A RUN right after another RUN (comments between are fine) with the same flags,
/// when each runs a single command (a chain like `a && b` is taken as deliberate).
fn dl3059(a: &Analysis<'_>, out: &mut Out<'_>) {
    let mut prev: Option<(String, usize)> = None;
    for (i, it) in a.items.iter().enumerate() {
        if it.ins.keyword != Keyword::Run {
            prev = None;
            continue;
        }
        let flags = format!("{:?}", it.ins.flags);
        let n = it.script.as_ref().map_or(0, |s| s.commands.len());
        if let Some((pf, pn)) = &prev
            && *pf == flags
            && n <= 1
            && *pn <= 1
        {
            out.at(i);
        }
        prev = Some((flags, n));
    }
}

fn dl3060(a: &Analysis<'_>, out: &mut Out<'_>) {
    for (i, s) in a.scripts() {
        if s.any(|c| c.is("yarn", &["install"]))
            && !s.any(|c| c.is("yarn", &["cache"]) && c.has_arg("clean"))
            && !cache_mount(&a.items[i], |t| t.contains("yarn"))
            && in_image(a, a.items[i].stage)
        {
            out.at(i);
        }
    }
}

fn dl3061(a: &Analysis<'_>, out: &mut Out<'_>) {
    if let Some((i, _)) = a
        .items
        .iter()
        .enumerate()
        .find(|(_, it)| it.ins.keyword != Keyword::Arg)
        .filter(|(_, it)| it.ins.keyword != Keyword::From)
    {
        out.at(i);
    }
}

/// `go install`/`go get`/`go run` of a package without `@version` (local `./…`
/// paths are fine).
fn dl3062(a: &Analysis<'_>, out: &mut Out<'_>) {
    const VALUE_FLAGS: &[&str] = &[
        "-ldflags",
        "-gcflags",
        "-asmflags",
        "-gccgoflags",
        "-tags",
        "-o",
        "-mod",
        "-modfile",
        "-p",
        "-exec",
        "-overlay",
        "-pkgdir",
        "-toolexec",
        "-C",
    ];
    per_command(a, out, |c| {
        if c.name != "go" {
            return Vec::new();
        }
        if !c
            .args
            .first()
            .is_some_and(|s| ["install", "get", "run"].contains(&s.as_str()))
        {
            return Vec::new();
        }
        let mut pkgs = Vec::new();
        let mut skip = false;
        for x in &c.args[1..] {
            if skip {
                skip = false;
                continue;
            }
            if x.starts_with('-') {
                skip = !x.contains('=') && VALUE_FLAGS.contains(&x.as_str());
                continue;
            }
            let local = x == "."
                || x == ".."
                || x.starts_with("./")
                || x.starts_with("../")
                || x.starts_with('/');
            if !local && !x.contains('@') {
                pkgs.push(x.clone());
            }
        }
        pkgs
    });
}

fn dl3063(a: &Analysis<'_>, out: &mut Out<'_>) {
    for s in &a.stages {
        if let Some(al) = &s.alias
            && ["scratch", "context"].contains(&al.to_ascii_lowercase().as_str())
        {
            out.detail(s.item, format!("`{al}`"));
        }
    }
}

/// Names that are credentials in well-known tools, and name parts that suggest one.
const SENSITIVE_NAMES: &[&str] = &[
    "ACCESS_TOKEN",
    "APPLICATION_KEY",
    "APP_SECRET",
    "AUTH_TOKEN",
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "CF_PASSWORD",
    "CF_USERNAME",
    "CI_DEPLOY_PASSWORD",
    "CI_DEPLOY_USER",
    "DOCKER_EMAIL",
    "DOCKER_PASSWORD",
    "DOCKER_USERNAME",
    "FACEBOOK_APP_ID",
    "HEROKU_API_USER",
    "OKTA_AUTHN_GROUPID",
    "OKTA_CLIENT_ORGURL",
    "OKTA_OAUTH2_CLIENTID",
    "STRIPE_DEVICE_NAME",
    "TRAVIS_OS_NAME",
    "TRAVIS_SECURE_ENV_VARS",
    "TRAVIS_SUDO",
];
const SENSITIVE_PARTS: &[&str] = &[
    "api_key",
    "client_key",
    "password",
    "private",
    "secret",
    "token",
    "username",
];

fn sensitive(name: &str) -> bool {
    let lower = name.to_ascii_lowercase();
    SENSITIVE_NAMES.contains(&name.to_ascii_uppercase().as_str())
        || SENSITIVE_PARTS.iter().any(|p| lower.contains(p))
}

/// ARG/ENV names that look like credentials (by name only; values are not read).
fn dl3064(a: &Analysis<'_>, out: &mut Out<'_>) {
    for (i, it) in a.items.iter().enumerate() {
        let ins = match it.ins.keyword {
            Keyword::Arg | Keyword::Env => it.ins,
            Keyword::Onbuild => match it.ins.onbuild.as_deref() {
                Some(inner) if matches!(inner.keyword, Keyword::Arg | Keyword::Env) => inner,
                _ => continue,
            },
            _ => continue,
        };
        let Ok(pairs) = parser::parse_pairs(ins, a.file.escape) else {
            continue;
        };
        let bad: Vec<&str> = pairs
            .iter()
            .map(|p| p.key.as_str())
            .filter(|k| sensitive(k))
            .collect();
        if !bad.is_empty() {
            out.detail(i, list(&bad));
        }
    }
}

fn dl3065(a: &Analysis<'_>, out: &mut Out<'_>) {
    for s in &a.stages {
        if matches!(
            s.platform.as_deref(),
            Some("$TARGETPLATFORM" | "${TARGETPLATFORM}")
        ) {
            out.at(s.item);
        }
    }
}

fn dl3067(a: &Analysis<'_>, out: &mut Out<'_>) {
    for (i, it) in a.with(Keyword::Copy) {
        if it.ins.flag("from").is_some()
            && let Some((srcs, dest)) = it.ins.copy_paths()
            && drop_quotes(&dest) == "/"
            && srcs.iter().any(|s| drop_quotes(s) == "/")
        {
            out.at(i);
        }
    }
}

fn dl3066(a: &Analysis<'_>, out: &mut Out<'_>) {
    for (i, it) in a.with(Keyword::User) {
        let user = it.ins.rest.trim();
        let uid = user.split(':').next().unwrap_or(user);
        if !uid.chars().all(|c| c.is_ascii_digit()) {
            out.detail(i, format!("`{uid}`"));
        }
    }
}

fn dl4000(a: &Analysis<'_>, out: &mut Out<'_>) {
    for (i, _) in a.with(Keyword::Maintainer) {
        out.at(i);
    }
}

/// Once a stage has used both `curl` and `wget`, every RUN in it that uses either.
fn dl4001(a: &Analysis<'_>, out: &mut Out<'_>) {
    let mut seen: HashSet<&str> = HashSet::new();
    for (i, it) in a.items.iter().enumerate() {
        if it.ins.keyword == Keyword::From {
            seen.clear();
            continue;
        }
        let Some(s) = &it.script else { continue };
        let mut used = false;
        for c in &s.commands {
            if c.name == "curl" || c.name == "wget" {
                seen.insert(if c.name == "curl" { "curl" } else { "wget" });
                used = true;
            }
        }
        if used && seen.len() == 2 {
            out.at(i);
        }
    }
}

fn dl4003(a: &Analysis<'_>, out: &mut Out<'_>) {
    repeated_in_stage(a, out, Keyword::Cmd);
}

fn dl4004(a: &Analysis<'_>, out: &mut Out<'_>) {
    repeated_in_stage(a, out, Keyword::Entrypoint);
}

fn dl4005(a: &Analysis<'_>, out: &mut Out<'_>) {
    any_command(a, out, |c| c.is("ln", &["/bin/sh"]));
}

/// A SHELL that makes pipes safe: one with `-o pipefail`, or a non-POSIX shell.
fn shell_is_safe(args: &Args) -> bool {
    let words: Vec<String> = match args {
        Args::Exec(v) => v.clone(),
        Args::Shell(s) => s.split_whitespace().map(str::to_string).collect(),
    };
    let Some(first) = words.first() else {
        return false;
    };
    let base = first
        .rsplit(['/', '\\'])
        .next()
        .unwrap_or(first)
        .to_ascii_lowercase();
    if ["pwsh", "powershell", "cmd"]
        .iter()
        .any(|p| base.starts_with(p))
    {
        return true;
    }
    let script = Script {
        commands: vec![Command {
            name: base.clone(),
            args: words[1..].to_vec(),
        }],
        has_pipe: false,
    };
    ["bash", "zsh", "ash"].contains(&base.as_str())
        && script.commands[0].has_flag("o")
        && script.commands[0].has_arg("pipefail")
}

fn dl4006(a: &Analysis<'_>, out: &mut Out<'_>) {
    let mut safe = false;
    for (i, it) in a.items.iter().enumerate() {
        match it.ins.keyword {
            Keyword::From => safe = false,
            Keyword::Shell => safe = shell_is_safe(&it.ins.args()),
            Keyword::Run if !safe && it.script.as_ref().is_some_and(|s| s.has_pipe) => {
                out.at(i);
            }
            _ => {}
        }
    }
}
