//! What each capability tells a reviewer. `gantry audit`, `gantry plan` and
//! `gantry plugin inspect` know a capability only through its [`Description`] (listed
//! once, in [`super::ALL`]): the WIT imports it answers for and what they mean, one
//! line per thing a stage's grants allow, and the grants that reach outside the
//! sandbox. A capability describes its grants next to the code that enforces them, so
//! what audit says and what the broker does are written side by side.

use serde::Serialize;

use crate::manifest::Stage;

/// One capability as a reviewer sees it.
pub struct Description {
    /// The capability's name (`fs`, `http`, …): the `grants.NAME` key.
    pub name: &'static str,
    /// The WIT interfaces it answers for and what each lets a plugin do: an exact
    /// `namespace:package/interface`, or a prefix ending in `/` for a whole package.
    pub imports: &'static [(&'static str, &'static str)],
    /// How an "unused grant" warning names the imports that would use it.
    pub import_hint: &'static str,
    /// What a stage that imports it without a grant gets.
    pub not_granted: &'static str,
    /// Other `grants.KEY` keys that belong to it (`reveal` belongs to `secrets`).
    pub also_keys: &'static [&'static str],
    /// One line per thing the stage's grants allow (empty: nothing granted).
    pub grants: fn(&Stage) -> Vec<String>,
    /// The grants that give power outside the sandbox, each with its reason.
    pub dangers: fn(&Stage) -> Vec<Danger>,
    /// Set when the capability's broker reads the stage's fs grants: how. A plugin
    /// importing it uses its fs grants even without a filesystem import.
    pub uses_fs: Option<&'static str>,
    /// Always available, whatever the grants (`log`), or never (`network`): audit shows
    /// this note instead of comparing imports with grants.
    pub fixed: Option<&'static str>,
}

impl Description {
    /// Whether `import` (`ns:pkg/iface@version`) is one of this capability's.
    pub fn answers(&self, import: &str) -> bool {
        self.meaning(import).is_some()
    }

    fn meaning(&self, import: &str) -> Option<&'static str> {
        lookup(self.imports, import)
    }
}

/// The meaning of `import` in `table`: an entry is an exact interface, or a prefix when
/// it ends in `/` (a package) or `-` (a family of interfaces).
fn lookup(table: &[(&'static str, &'static str)], import: &str) -> Option<&'static str> {
    let iface = import.split('@').next().unwrap_or(import);
    table
        .iter()
        .find(|(name, _)| {
            if name.ends_with('/') || name.ends_with('-') {
                iface.starts_with(name)
            } else {
                iface == *name
            }
        })
        .map(|(_, meaning)| *meaning)
}

/// What a stage gets from a capability it imports without a grant, for the
/// capabilities whose every call is checked.
pub const DENIED: &str = "not granted: every call is denied — the host links the same interfaces for every plugin, \
refuses each call with `denied` and records it in audit.jsonl";

/// A grant that gives a plugin power outside its sandbox.
#[derive(Debug, Serialize)]
pub struct Danger {
    /// `critical` (code of the plugin's choice on the host) or `high`.
    pub severity: &'static str,
    /// The grant, as a pipeline.toml key (`grants.process`, `grants.fs.write`, …).
    pub grant: String,
    /// The value it is about (command, path, URL, secret name).
    pub subject: String,
    pub reason: String,
}

/// Imports that give no authority: what they mean.
const AMBIENT: &[(&str, &str)] = &[
    ("gantry:plugin/types", "types only (no capability)"),
    (
        "wasi:cli/stdout",
        "stdout/stderr: captured into its stage log, capped",
    ),
    (
        "wasi:cli/stderr",
        "stdout/stderr: captured into its stage log, capped",
    ),
    ("wasi:cli/stdin", "stdin: always empty"),
    ("wasi:cli/exit", "exit: end itself early"),
    (
        "wasi:cli/terminal-",
        "terminal detection (never a terminal)",
    ),
    ("wasi:clocks/", "clocks: read the time"),
    ("wasi:random/", "random numbers"),
    (
        "wasi:io/",
        "streams and polling (used with the imports above)",
    ),
];

/// The capability `import` belongs to, or `None` for imports with no authority.
pub fn of_import(import: &str) -> Option<&'static Description> {
    super::ALL.iter().copied().find(|d| d.answers(import))
}

/// What an import means for a reviewer who does not read WIT.
pub fn explain_import(import: &str) -> &'static str {
    super::ALL
        .iter()
        .find_map(|d| d.meaning(import))
        .or_else(|| lookup(AMBIENT, import))
        .unwrap_or("unknown to this gantry: the plugin cannot be linked")
}

/// The capability a `grants.KEY` belongs to.
pub fn of_grant_key(key: &str) -> Option<&'static Description> {
    super::ALL
        .iter()
        .copied()
        .find(|d| d.name == key || d.also_keys.contains(&key))
}

/// `` `a`, `b` `` for a list of names.
pub fn ticks(items: &[String]) -> String {
    items
        .iter()
        .map(|s| format!("`{s}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The ports of a `publish` list: `8081, 9000-9009`.
pub fn port_ranges(ranges: &[(u16, u16)]) -> String {
    ranges
        .iter()
        .map(|(a, b)| {
            if a == b {
                a.to_string()
            } else {
                format!("{a}-{b}")
            }
        })
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every interface the `plugin` world imports is explained to a reviewer: a new
    /// capability cannot ship while `plugin inspect` and `gantry audit` call it
    /// "unknown to this gantry".
    #[test]
    fn every_import_of_the_plugin_world_is_explained() {
        let world = include_str!("../../../wit/world.wit");
        let imports: Vec<&str> = world
            .lines()
            .filter_map(|l| l.trim().strip_prefix("import "))
            .map(|l| l.trim_end_matches(';').trim())
            .collect();
        assert!(imports.contains(&"files"), "{imports:?}");
        for name in imports {
            let full = format!("gantry:plugin/{name}@0.1.0");
            let meaning = explain_import(&full);
            assert!(!meaning.starts_with("unknown"), "{full}: {meaning}");
        }
        for wasi in [
            "wasi:filesystem/preopens@0.2.6",
            "wasi:cli/environment@0.2.6",
            "wasi:cli/terminal-output@0.2.6",
            "wasi:http/outgoing-handler@0.2.6",
            "wasi:sockets/tcp@0.2.6",
            "wasi:io/streams@0.2.6",
        ] {
            assert!(!explain_import(wasi).starts_with("unknown"), "{wasi}");
        }
        assert!(explain_import("evil:x/y@1.0.0").starts_with("unknown"));
    }

    /// Each capability answers for its own imports and no two claim the same one.
    #[test]
    fn imports_map_to_one_capability() {
        for (import, cap) in [
            ("wasi:filesystem/types@0.2.6", "fs"),
            ("gantry:plugin/files@0.1.0", "fs"),
            ("wasi:cli/environment@0.2.6", "env"),
            ("gantry:plugin/secrets@0.1.0", "secrets"),
            ("wasi:http/types@0.2.6", "http"),
            ("gantry:plugin/process@0.1.0", "process"),
            ("gantry:plugin/containers@0.1.0", "containers"),
            ("wasi:sockets/udp@0.2.6", "network"),
            ("gantry:plugin/log@0.1.0", "log"),
        ] {
            let owners: Vec<&str> = super::super::ALL
                .iter()
                .filter(|d| d.answers(import))
                .map(|d| d.name)
                .collect();
            assert_eq!(owners, [cap], "{import}");
        }
        assert!(of_import("wasi:clocks/monotonic-clock@0.2.6").is_none());
        assert_eq!(of_grant_key("reveal").map(|d| d.name), Some("secrets"));
    }
}
