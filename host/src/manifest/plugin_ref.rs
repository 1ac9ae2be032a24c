//! Syntax of a stage's `plugin = "…"` reference.
//!
//! Accepted forms:
//! - `builtin:NAME` — an official plugin embedded in the binary (`NAME` is `[a-z0-9-]+`);
//! - `file:PATH#sha256:HEX` — a component on disk, relative to the pipeline file's
//!   directory, pinned by the sha256 of its bytes (64 hex digits);
//! - `PATH.wasm#sha256:HEX` — the same without the `file:` prefix.
//!
//! Refused: unpinned files (nothing runs that is not pinned), other digest
//! algorithms, URLs (download, then pin), and — for now — `oci://` references.
//! This parser only checks syntax; whether a builtin exists or a file's digest
//! matches is the registry's job when the plugin is loaded.
//!
//! Owned here until `gantry-registry` grows a reference parser; then this moves there.

use serde::Serialize;

/// A syntactically valid plugin reference.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum PluginRefSyntax {
    /// `builtin:NAME`
    Builtin { name: String },
    /// `file:PATH#sha256:HEX`; `path` as written (relative to the pipeline file's
    /// directory unless absolute), `sha256` as 64 lowercase hex digits.
    File { path: String, sha256: String },
}

impl std::fmt::Display for PluginRefSyntax {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PluginRefSyntax::Builtin { name } => write!(f, "builtin:{name}"),
            PluginRefSyntax::File { path, sha256 } => write!(f, "file:{path}#sha256:{sha256}"),
        }
    }
}

/// Why a reference was refused; `kind` lets the manifest add a precise hint.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct RefError {
    pub kind: RefErrorKind,
    pub message: String,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum RefErrorKind {
    /// A file reference without `#sha256:`; carries the path.
    Unpinned(String),
    /// A pin that is not `sha256:` + 64 hex digits; carries the path.
    BadDigest(String),
    /// Anything else: shape not recognised, bad builtin name, URL, …
    Syntax,
}

pub(crate) const FORMS: &str = "`builtin:NAME` or `file:PATH#sha256:HEX`";

/// Parses a plugin reference. The error is a one-line reason, e.g.
/// ``plugin `file:x.wasm` is not pinned by a sha256 digest``.
pub fn parse_plugin_ref(text: &str) -> Result<PluginRefSyntax, String> {
    parse(text).map_err(|e| e.message)
}

pub(crate) fn parse(text: &str) -> Result<PluginRefSyntax, RefError> {
    let syntax = |message: String| RefError {
        kind: RefErrorKind::Syntax,
        message,
    };
    if text.trim().is_empty() {
        return Err(syntax("the plugin reference is empty".into()));
    }
    if text.trim() != text {
        return Err(syntax(format!(
            "plugin reference `{text}` has leading or trailing spaces"
        )));
    }
    if let Some(name) = text.strip_prefix("builtin:") {
        if name.is_empty() {
            return Err(syntax(
                "`builtin:` needs a plugin name, e.g. `builtin:secret-scan`".into(),
            ));
        }
        if !name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        {
            return Err(syntax(format!(
                "invalid builtin plugin name `{name}`: use lowercase letters, digits and `-`"
            )));
        }
        return Ok(PluginRefSyntax::Builtin {
            name: name.to_string(),
        });
    }
    if text.starts_with("oci://") {
        return Err(syntax(format!(
            "OCI plugin references are not supported yet: `{text}`"
        )));
    }
    if text.starts_with("http://") || text.starts_with("https://") {
        return Err(syntax(format!(
            "plugins cannot be fetched from a URL: `{text}`"
        )));
    }
    let (body, explicit_file) = match text.strip_prefix("file:") {
        Some(rest) => (rest, true),
        None => (text, false),
    };
    let (path, pin) = match body.split_once('#') {
        Some((p, pin)) => (p, Some(pin)),
        None => (body, None),
    };
    if !explicit_file {
        if let Some((scheme, _)) = text.split_once(':')
            && !scheme.is_empty()
            && scheme
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'+' || b == b'-' || b == b'.')
            && scheme.len() > 1
        {
            return Err(syntax(format!(
                "unknown plugin reference scheme `{scheme}:` in `{text}`"
            )));
        }
        if !path.ends_with(".wasm") {
            return Err(syntax(format!("unrecognized plugin reference `{text}`")));
        }
    }
    if path.is_empty() {
        return Err(syntax(format!(
            "plugin reference `{text}` has an empty path"
        )));
    }
    let Some(pin) = pin else {
        return Err(RefError {
            kind: RefErrorKind::Unpinned(path.to_string()),
            message: format!("plugin `{text}` is not pinned by a sha256 digest"),
        });
    };
    let bad_digest = |message: String| RefError {
        kind: RefErrorKind::BadDigest(path.to_string()),
        message,
    };
    let Some(hex) = pin.strip_prefix("sha256:") else {
        let algo = pin.split_once(':').map_or(pin, |(a, _)| a);
        return Err(bad_digest(format!(
            "unsupported digest `{algo}` in `{text}`: plugins are pinned by `sha256:`"
        )));
    };
    if hex.len() != 64 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        let what = if let Some(c) = hex.chars().find(|c| !c.is_ascii_hexdigit()) {
            format!("it contains `{c}`, which is not a hex digit")
        } else {
            format!("it has {} hex digits instead of 64", hex.len())
        };
        return Err(bad_digest(format!(
            "malformed sha256 digest in plugin reference: {what}"
        )));
    }
    Ok(PluginRefSyntax::File {
        path: path.to_string(),
        sha256: hex.to_ascii_lowercase(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEX: &str = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

    #[test]
    fn forms() {
        assert_eq!(
            parse_plugin_ref("builtin:secret-scan"),
            Ok(PluginRefSyntax::Builtin {
                name: "secret-scan".into()
            })
        );
        let file = PluginRefSyntax::File {
            path: "plugins/x.wasm".into(),
            sha256: HEX.into(),
        };
        assert_eq!(
            parse_plugin_ref(&format!("file:plugins/x.wasm#sha256:{HEX}")),
            Ok(file.clone())
        );
        assert_eq!(
            parse_plugin_ref(&format!("plugins/x.wasm#sha256:{}", HEX.to_uppercase())),
            Ok(file.clone())
        );
        assert_eq!(
            file.to_string(),
            format!("file:plugins/x.wasm#sha256:{HEX}")
        );
    }

    #[test]
    fn refusals() {
        let kind = |s: &str| parse(s).map_err(|e| e.kind);
        assert_eq!(
            kind("file:x.wasm"),
            Err(RefErrorKind::Unpinned("x.wasm".into()))
        );
        assert_eq!(kind("x.wasm"), Err(RefErrorKind::Unpinned("x.wasm".into())));
        let bad = Err(RefErrorKind::BadDigest("x.wasm".into()));
        assert_eq!(kind("file:x.wasm#sha256:abc"), bad);
        assert_eq!(kind(&format!("file:x.wasm#sha256:{}", "g".repeat(64))), bad);
        assert_eq!(kind("x.wasm#md5:abc"), bad);
        for bad in [
            "",
            "builtin:",
            "builtin:Secret_Scan",
            "oci://r/x:1",
            "https://x/y.wasm",
            "docker:x",
            "secret-scan",
            "file:#sha256:00",
            " builtin:x",
        ] {
            assert_eq!(kind(bad), Err(RefErrorKind::Syntax), "{bad}");
        }
    }
}
