//! Host bindings of the `gantry:plugin` world, version 0.1.0.
//!
//! When the contract gains a version, the new world gets its own module here and
//! [`super::LoadedPlugin`] picks the bindings matching what the component exports.

wasmtime::component::bindgen!({
    path: "../wit",
    world: "plugin",
    // Host functions return `wasmtime::Result` so host-side faults (a stale resource
    // handle) trap the guest instead of panicking the host.
    imports: { default: trappable },
    with: {
        "gantry:plugin/secrets.secret": crate::caps::secrets::SecretHandle,
    },
});

pub use self::gantry::plugin::containers;
pub use self::gantry::plugin::files;
pub use self::gantry::plugin::log;
pub use self::gantry::plugin::process;
pub use self::gantry::plugin::secrets;
pub use self::gantry::plugin::types;

use crate::report::model as m;

impl From<types::Level> for m::Level {
    fn from(l: types::Level) -> m::Level {
        match l {
            types::Level::Note => m::Level::Note,
            types::Level::Warning => m::Level::Warning,
            types::Level::Error => m::Level::Error,
        }
    }
}

impl From<types::Region> for m::Region {
    fn from(r: types::Region) -> m::Region {
        m::Region {
            start_line: r.start_line,
            start_column: r.start_column,
            end_line: r.end_line,
            end_column: r.end_column,
        }
    }
}

impl From<types::Finding> for m::Finding {
    fn from(f: types::Finding) -> m::Finding {
        m::Finding {
            rule_id: f.rule_id,
            level: f.level.into(),
            message: f.message,
            location: f.location.map(|l| m::Location {
                path: l.path,
                region: l.region.map(Into::into),
            }),
            fingerprint: f.fingerprint,
            help_uri: f.help_uri,
            fix: f.fix.map(|x| m::Fix {
                description: x.description,
                path: x.path,
                deleted: x.deleted.into(),
                inserted: x.inserted,
            }),
            baselined: false,
        }
    }
}

impl From<types::StageReport> for m::StageReport {
    fn from(r: types::StageReport) -> m::StageReport {
        m::StageReport {
            outcome: match r.outcome {
                types::Outcome::Success => m::Outcome::Success,
                types::Outcome::Failure => m::Outcome::Failure,
                types::Outcome::ByFindings => m::Outcome::ByFindings,
            },
            summary: r.summary,
            findings: r.findings.into_iter().map(Into::into).collect(),
            outputs: r.outputs,
            artifacts: r.artifacts,
            baseline_compared: false,
        }
    }
}

/// Most `describe` output gantry accepts, field by field: it is kept in every run's
/// `run.json` (once per stage), printed by `inspect` and `audit`, and exported as SARIF
/// rules. A larger answer is refused with the field and the limit, never cut. The
/// official plugins use a few percent of each (the largest: 61 rules, a 5 KiB schema).
pub mod describe_limits {
    pub const NAME: usize = 128;
    pub const VERSION: usize = 128;
    pub const DESCRIPTION: usize = 4 << 10;
    pub const RULES: usize = 5000;
    pub const RULE_ID: usize = 256;
    pub const RULE_SHORT: usize = 1 << 10;
    pub const RULE_FULL: usize = 8 << 10;
    pub const HELP_URI: usize = 2 << 10;
    pub const CONFIG_SCHEMA: usize = 256 << 10;
    /// All of it together.
    pub const TOTAL: usize = 1 << 20;
}

impl types::PluginInfo {
    /// Which `describe` limit this answer passes, if any ([`describe_limits`]).
    pub fn over_limits(&self) -> Option<String> {
        use crate::manifest::units::format_size;
        use describe_limits as l;
        let size = |n: usize| format_size(n as u64);
        let over = |what: &str, len: usize, max: usize| {
            (len > max).then(|| {
                format!(
                    "{what} is {len} bytes, more than the {} gantry accepts",
                    size(max)
                )
            })
        };
        if self.rules.len() > l::RULES {
            return Some(format!(
                "it declares {} rules, more than the {} gantry accepts",
                self.rules.len(),
                l::RULES
            ));
        }
        let mut total = self.name.len()
            + self.version.len()
            + self.description.len()
            + self.config_schema.len();
        let fields = [
            over("its name", self.name.len(), l::NAME),
            over("its version", self.version.len(), l::VERSION),
            over("its description", self.description.len(), l::DESCRIPTION),
            over(
                "its config schema",
                self.config_schema.len(),
                l::CONFIG_SCHEMA,
            ),
        ];
        if let Some(e) = fields.into_iter().flatten().next() {
            return Some(e);
        }
        for (i, r) in self.rules.iter().enumerate() {
            let rule = |what: &str| format!("rule {} ({what})", i + 1);
            let uri = r.help_uri.as_deref().map_or(0, str::len);
            let checks = [
                over(&rule("id"), r.id.len(), l::RULE_ID),
                over(
                    &rule("short description"),
                    r.short_description.len(),
                    l::RULE_SHORT,
                ),
                over(
                    &rule("full description"),
                    r.full_description.len(),
                    l::RULE_FULL,
                ),
                over(&rule("help URI"), uri, l::HELP_URI),
            ];
            if let Some(e) = checks.into_iter().flatten().next() {
                return Some(e);
            }
            total += r.id.len() + r.short_description.len() + r.full_description.len() + uri;
        }
        over("all of it together", total, l::TOTAL)
    }

    /// Converts to the host model; the schema must be JSON (else the plugin is broken),
    /// and the answer within [`describe_limits`].
    pub fn into_model(self) -> Result<m::PluginInfo, String> {
        if let Some(why) = self.over_limits() {
            return Err(format!("its `describe` answer is refused: {why}"));
        }
        let schema: serde_json::Value = serde_json::from_str(&self.config_schema)
            .map_err(|e| format!("the plugin's config schema is not JSON: {e}"))?;
        Ok(m::PluginInfo {
            name: self.name,
            version: self.version,
            kind: match self.kind {
                types::PluginKind::Linter => "linter",
                types::PluginKind::Scanner => "scanner",
                types::PluginKind::Changelog => "changelog",
                types::PluginKind::Publisher => "publisher",
                types::PluginKind::Deployer => "deployer",
                types::PluginKind::Verifier => "verifier",
                types::PluginKind::Gate => "gate",
                types::PluginKind::Other => "other",
            }
            .to_string(),
            description: self.description,
            rules: self
                .rules
                .into_iter()
                .map(|r| m::Rule {
                    id: r.id,
                    short_description: r.short_description,
                    full_description: r.full_description,
                    default_level: r.default_level.into(),
                    help_uri: r.help_uri,
                })
                .collect(),
            config_schema: schema,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::describe_limits as l;
    use super::types;

    fn info() -> types::PluginInfo {
        types::PluginInfo {
            name: "p".into(),
            version: "1.0.0".into(),
            kind: types::PluginKind::Linter,
            description: "d".into(),
            rules: vec![rule()],
            config_schema: "{}".into(),
        }
    }

    fn rule() -> types::Rule {
        types::Rule {
            id: "r1".into(),
            short_description: "s".into(),
            full_description: "f".into(),
            default_level: types::Level::Warning,
            help_uri: Some("https://example.invalid/r1".into()),
        }
    }

    fn refused(i: types::PluginInfo) -> String {
        i.into_model().err().unwrap_or_else(|| "accepted".into())
    }

    #[test]
    fn each_field_and_the_rule_count_are_capped() {
        assert!(info().into_model().is_ok());
        let big = |n: usize| "x".repeat(n + 1);
        let cases: Vec<(types::PluginInfo, &str)> = vec![
            (
                types::PluginInfo {
                    name: big(l::NAME),
                    ..info()
                },
                "its name is 129 bytes, more than the 128B",
            ),
            (
                types::PluginInfo {
                    version: big(l::VERSION),
                    ..info()
                },
                "its version is 129 bytes",
            ),
            (
                types::PluginInfo {
                    description: big(16 << 20),
                    ..info()
                },
                "its description is 16777217 bytes, more than the 4KiB gantry accepts",
            ),
            (
                types::PluginInfo {
                    config_schema: big(l::CONFIG_SCHEMA),
                    ..info()
                },
                "its config schema is",
            ),
            (
                types::PluginInfo {
                    rules: vec![rule(); 20_000],
                    ..info()
                },
                "it declares 20000 rules, more than the 5000 gantry accepts",
            ),
            (
                types::PluginInfo {
                    rules: vec![
                        rule(),
                        types::Rule {
                            id: big(l::RULE_ID),
                            ..rule()
                        },
                    ],
                    ..info()
                },
                "rule 2 (id) is 257 bytes",
            ),
            (
                types::PluginInfo {
                    rules: vec![types::Rule {
                        short_description: big(l::RULE_SHORT),
                        ..rule()
                    }],
                    ..info()
                },
                "rule 1 (short description)",
            ),
            (
                types::PluginInfo {
                    rules: vec![types::Rule {
                        full_description: big(l::RULE_FULL),
                        ..rule()
                    }],
                    ..info()
                },
                "rule 1 (full description)",
            ),
            (
                types::PluginInfo {
                    rules: vec![types::Rule {
                        help_uri: Some(big(l::HELP_URI)),
                        ..rule()
                    }],
                    ..info()
                },
                "rule 1 (help URI)",
            ),
            (
                types::PluginInfo {
                    rules: vec![
                        types::Rule {
                            full_description: "f".repeat(l::RULE_FULL),
                            ..rule()
                        };
                        200
                    ],
                    ..info()
                },
                "all of it together is",
            ),
        ];
        for (i, expect) in cases {
            let e = refused(i);
            assert!(e.starts_with("its `describe` answer is refused: "), "{e}");
            assert!(e.contains(expect), "{e}");
        }
    }
}
