//! `image-build`: build a container image from a Dockerfile in the workspace, tag it,
//! and optionally publish it to a registry — outputs the image id, the pushed digest
//! and a pinned `repo@sha256:…` reference later stages can deploy.
//!
//! ```toml
//! [stage.image]
//! plugin = "builtin:image-build"
//! with = { context = ".", dockerfile = "Dockerfile", tags = ["127.0.0.1:5000/app:${git.sha}"],
//!          push = true, username = "ci", password-secret = "REGISTRY_PASSWORD" }
//! grants.fs.read = ["."]
//! grants.secrets = ["REGISTRY_PASSWORD"]
//! grants.containers = { build = true, push = ["127.0.0.1:5000/app"] }
//! ```
//!
//! The password reaches the engine as a secret handle: the plugin never sees it.
//! Under `--dry-run` the context and Dockerfile are checked, nothing is built or pushed.
//! Tests: `tests/e2e/containers.rs` (`build_push_pull_by_digest`).

use std::collections::BTreeMap;

use gantry_sdk::containers::{self, BuildSpec};
use gantry_sdk::prelude::*;

/// Configuration (`with`).
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct Config {
    /// Workspace-relative build context directory.
    #[serde(default = "dot")]
    pub context: String,
    /// Dockerfile path relative to the context.
    #[serde(default)]
    pub dockerfile: Option<String>,
    /// References to tag the image with; the first is the primary one.
    pub tags: Vec<String>,
    #[serde(default)]
    pub build_args: BTreeMap<String, String>,
    /// Multi-stage target.
    #[serde(default)]
    pub target: Option<String>,
    /// OCI labels added to the image.
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    /// Push every tag to its registry after the build.
    #[serde(default)]
    pub push: bool,
    /// Registry user name.
    #[serde(default)]
    pub username: Option<String>,
    /// Name of the secret (granted in `grants.secrets`) holding the registry password.
    /// Marked as a secret's name, so `gantry check` verifies it is declared and granted.
    #[serde(default)]
    #[schemars(extend("x-gantry-secret" = true))]
    pub password_secret: Option<String>,
}

fn dot() -> String {
    ".".into()
}

struct ImageBuild;

impl Plugin for ImageBuild {
    type Config = Config;

    fn info() -> Info {
        Info::new(env!("CARGO_PKG_NAME"), env!("CARGO_PKG_VERSION"))
            .kind(Kind::Publisher)
            .description("Builds, tags and publishes container images")
    }

    fn run(cx: &Context, c: Config) -> Result<Report, Error> {
        if c.tags.is_empty() {
            return Err(Error::config(
                "`tags` must name at least one image reference",
            ));
        }
        if c.username.is_some() != c.password_secret.is_some() {
            return Err(Error::config(
                "set both `username` and `password-secret`, or neither",
            ));
        }
        let mut spec = BuildSpec::new(&c.context);
        spec.dockerfile = c.dockerfile.clone();
        spec.target = c.target.clone();
        for t in &c.tags {
            spec = spec.tag(t);
        }
        for (k, v) in &c.build_args {
            spec = spec.build_arg(k, v);
        }
        for (k, v) in &c.labels {
            spec = spec.label(k, v);
        }
        if let Some(sha) = &cx.git.sha {
            spec = spec.label("org.opencontainers.image.revision", sha);
        }
        let image = containers::build(spec)?;
        let mut report = Report::new()
            .output("image-id", image.id.clone())
            .output("reference", c.tags[0].clone());
        if !c.push {
            return Ok(report.summary(format!("built `{}` ({})", c.tags[0], short(&image.id))));
        }
        let secret = match &c.password_secret {
            Some(name) => Some(gantry_sdk::secrets::get(name)?),
            None => None,
        };
        let mut pushed = Vec::new();
        for t in &c.tags {
            let creds = match (&c.username, &secret) {
                (Some(u), Some(s)) => Some((u.as_str(), s)),
                _ => None,
            };
            let p = containers::push(t, creds)?;
            pushed.push((t.clone(), p.digest));
        }
        let (first, digest) = &pushed[0];
        let repo = repository(first);
        report = report
            .output("digest", digest.clone())
            .output("pinned", format!("{repo}@{digest}"));
        let summary = if cx.dry_run {
            format!("dry run: would build and push {}", c.tags.join(", "))
        } else {
            format!("built and pushed {} ({digest})", c.tags.join(", "))
        };
        Ok(report.summary(summary))
    }
}

/// `host:5000/app:tag` → `host:5000/app`.
pub fn repository(reference: &str) -> &str {
    let no_digest = reference.split('@').next().unwrap_or(reference);
    let slash = no_digest.rfind('/').map_or(0, |i| i + 1);
    match no_digest[slash..].rfind(':') {
        Some(i) => &no_digest[..slash + i],
        None => no_digest,
    }
}

fn short(id: &str) -> &str {
    let hex = id.strip_prefix("sha256:").unwrap_or(id);
    &hex[..hex.len().min(12)]
}

gantry_sdk::export_plugin!(ImageBuild);

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn repository_of_references() {
        assert_eq!(repository("127.0.0.1:5000/app:v1"), "127.0.0.1:5000/app");
        assert_eq!(repository("127.0.0.1:5000/app"), "127.0.0.1:5000/app");
        assert_eq!(repository("app@sha256:ab"), "app");
        assert_eq!(short("sha256:0123456789abcdef"), "0123456789ab");
    }
}
