//! `gantry-registry`: where plugins come from and how gantry knows they are the ones
//! the pipeline asked for.
//!
//! A plugin reference is one of
//! - `builtin:NAME` — an official plugin compiled into the gantry binary;
//! - `file:PATH#sha256:HEX` (or `PATH.wasm#sha256:HEX`) — a component on disk, pinned
//!   by the sha256 of its bytes. The pin is required: a reference without one is
//!   refused, and bytes whose digest differs are refused before they are compiled.
//!
//! OCI references (`oci://`) and signatures come later; they will be new variants of
//! [`PluginRef`], resolved to bytes plus a verified [`Digest`] like the others.
//!
//! Tests: unit tests below.

use std::fmt;
use std::path::{Path, PathBuf};

use sha2::{Digest as _, Sha256};

/// A sha256 digest of a plugin's bytes.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Digest([u8; 32]);

impl Digest {
    pub fn of(bytes: &[u8]) -> Digest {
        Digest(Sha256::digest(bytes).into())
    }

    /// Parses `sha256:<64 lowercase or uppercase hex>` or bare 64 hex digits.
    pub fn parse(text: &str) -> Result<Digest, RefError> {
        let hex_part = text.strip_prefix("sha256:").unwrap_or(text);
        if hex_part.len() != 64 {
            return Err(RefError::BadDigest {
                digest: text.to_string(),
                why: format!("expected 64 hex digits, found {}", hex_part.len()),
            });
        }
        let mut out = [0u8; 32];
        hex::decode_to_slice(hex_part, &mut out).map_err(|e| RefError::BadDigest {
            digest: text.to_string(),
            why: e.to_string(),
        })?;
        Ok(Digest(out))
    }

    pub fn hex(&self) -> String {
        hex::encode(self.0)
    }

    pub fn bytes(&self) -> &[u8; 32] {
        &self.0
    }
}

impl fmt::Display for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "sha256:{}", self.hex())
    }
}

impl fmt::Debug for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

/// A parsed plugin reference.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PluginRef {
    Builtin { name: String },
    File { path: PathBuf, digest: Digest },
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RefError {
    #[error("`{0}` is not a plugin reference")]
    Syntax(String, #[source] SyntaxHint),
    #[error("`{digest}` is not a sha256 digest: {why}")]
    BadDigest { digest: String, why: String },
    #[error("plugin file `{path}` is not pinned by digest")]
    Unpinned { path: String },
    #[error("plugin file `{path}` has digest {actual}, but the pipeline pins {expected}")]
    DigestMismatch {
        path: String,
        expected: Digest,
        actual: Digest,
    },
    #[error("cannot read plugin file `{path}`: {why}")]
    Read { path: String, why: String },
    #[error("there is no builtin plugin `{name}`")]
    UnknownBuiltin { name: String, known: Vec<String> },
}

/// Carries the "how to fix it" of a syntax error.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct SyntaxHint(pub String);

impl RefError {
    /// How to fix it, for the `hint:` line.
    pub fn hint(&self) -> Option<String> {
        match self {
            RefError::Syntax(_, h) => Some(h.0.clone()),
            RefError::BadDigest { .. } => {
                Some("a pin is `sha256:` followed by 64 hex digits".to_string())
            }
            RefError::Unpinned { path } => Some(format!(
                "pin it: `file:{path}#sha256:<digest>`; `sha256sum {path}` or `gantry plugin inspect {path}` prints the digest"
            )),
            RefError::DigestMismatch { .. } => Some(
                "if the new file is the one you trust, update the pin; otherwise the file was changed or replaced"
                    .to_string(),
            ),
            RefError::Read { .. } => Some(
                "paths of `file:` plugins are relative to the directory of the pipeline file".to_string(),
            ),
            RefError::UnknownBuiltin { name, known } => {
                let near = known
                    .iter()
                    .filter(|k| close(k, name))
                    .map(|k| format!("`builtin:{k}`"))
                    .next();
                Some(match near {
                    Some(n) => format!("did you mean {n}? builtin plugins: {}", known.join(", ")),
                    None => format!("builtin plugins: {}", known.join(", ")),
                })
            }
        }
    }
}

fn close(a: &str, b: &str) -> bool {
    // Cheap similarity: same after removing separators, or one edit apart in length and prefix.
    let norm = |s: &str| s.replace(['-', '_'], "");
    norm(a) == norm(b) || (a.len().abs_diff(b.len()) <= 2 && a.chars().take(3).eq(b.chars().take(3)))
}

fn valid_builtin_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !name.starts_with('-')
}

impl PluginRef {
    /// Parses a reference as written in pipeline.toml.
    pub fn parse(text: &str) -> Result<PluginRef, RefError> {
        let syntax = |hint: &str| RefError::Syntax(text.to_string(), SyntaxHint(hint.to_string()));
        if let Some(name) = text.strip_prefix("builtin:") {
            if !valid_builtin_name(name) {
                return Err(syntax(
                    "builtin names are lowercase letters, digits and `-`, e.g. `builtin:secret-scan`",
                ));
            }
            return Ok(PluginRef::Builtin {
                name: name.to_string(),
            });
        }
        let file = if let Some(rest) = text.strip_prefix("file:") {
            rest
        } else if text.contains(".wasm") {
            text
        } else {
            return Err(syntax(
                "use `builtin:NAME` or `file:PATH.wasm#sha256:DIGEST`",
            ));
        };
        let (path, pin) = match file.split_once('#') {
            Some((p, pin)) => (p, Some(pin)),
            None => (file, None),
        };
        if path.is_empty() {
            return Err(syntax("the path is empty: `file:PATH.wasm#sha256:DIGEST`"));
        }
        let Some(pin) = pin else {
            return Err(RefError::Unpinned {
                path: path.to_string(),
            });
        };
        if !pin.starts_with("sha256:") {
            return Err(RefError::BadDigest {
                digest: pin.to_string(),
                why: "only `sha256:` pins are supported".to_string(),
            });
        }
        Ok(PluginRef::File {
            path: PathBuf::from(path),
            digest: Digest::parse(pin)?,
        })
    }

    /// Reads a `file:` plugin relative to `base` and checks its pin, before anything
    /// compiles it. Builtins are resolved by the host, which embeds them.
    pub fn read_file(&self, base: &Path, reference: &str) -> Result<(Vec<u8>, Digest), RefError> {
        let PluginRef::File { path, digest } = self else {
            return Err(RefError::Read {
                path: reference.to_string(),
                why: "not a file reference".to_string(),
            });
        };
        let full = base.join(path);
        let bytes = std::fs::read(&full).map_err(|e| RefError::Read {
            path: path.display().to_string(),
            why: e.to_string(),
        })?;
        let actual = Digest::of(&bytes);
        if actual != *digest {
            return Err(RefError::DigestMismatch {
                path: path.display().to_string(),
                expected: *digest,
                actual,
            });
        }
        Ok((bytes, actual))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const D: &str = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

    #[test]
    fn parses_builtin_and_pinned_files() {
        assert_eq!(
            PluginRef::parse("builtin:secret-scan").unwrap(),
            PluginRef::Builtin {
                name: "secret-scan".into()
            }
        );
        let r = PluginRef::parse(&format!("file:p/x.wasm#{D}")).unwrap();
        assert!(matches!(r, PluginRef::File { ref path, .. } if path == Path::new("p/x.wasm")));
        let r = PluginRef::parse(&format!("p/x.wasm#{D}")).unwrap();
        assert!(matches!(r, PluginRef::File { .. }));
    }

    #[test]
    fn refuses_unpinned_and_malformed() {
        assert!(matches!(
            PluginRef::parse("file:x.wasm"),
            Err(RefError::Unpinned { .. })
        ));
        assert!(matches!(
            PluginRef::parse("file:x.wasm#sha256:abc"),
            Err(RefError::BadDigest { .. })
        ));
        assert!(matches!(
            PluginRef::parse("file:x.wasm#md5:abc"),
            Err(RefError::BadDigest { .. })
        ));
        assert!(matches!(
            PluginRef::parse("builtin:Secret Scan"),
            Err(RefError::Syntax(..))
        ));
        assert!(matches!(
            PluginRef::parse("docker.io/x"),
            Err(RefError::Syntax(..))
        ));
    }

    #[test]
    fn digest_mismatch_names_both() {
        let dir = std::env::temp_dir().join(format!("gantry-reg-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("p.wasm"), b"not really wasm").unwrap();
        let reference = format!("file:p.wasm#{D}");
        let r = PluginRef::parse(&reference).unwrap();
        let err = r.read_file(&dir, &reference).unwrap_err();
        let text = err.to_string();
        assert!(text.contains(D), "{text}");
        assert!(text.contains(&Digest::of(b"not really wasm").to_string()), "{text}");
        let good = format!("file:p.wasm#{}", Digest::of(b"not really wasm"));
        let (bytes, _) = PluginRef::parse(&good).unwrap().read_file(&dir, &good).unwrap();
        assert_eq!(bytes, b"not really wasm");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
