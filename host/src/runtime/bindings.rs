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

impl types::PluginInfo {
    /// Converts to the host model; the schema must be JSON (else the plugin is broken).
    pub fn into_model(self) -> Result<m::PluginInfo, String> {
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
