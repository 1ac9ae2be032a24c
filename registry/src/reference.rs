//! Plugin references: the syntax of a stage's `plugin = "…"`, and reading the file
//! a `file:` reference names.
//!
//! Accepted forms:
//! - `builtin:NAME` — an official plugin embedded in the binary (`NAME` is `[a-z0-9-]+`);
//! - `file:PATH#sha256:HEX` — a component on disk, relative to the pipeline file's
//!   directory, pinned by the sha256 of its bytes (64 hex digits, either case);
//! - `PATH.wasm#sha256:HEX` — the same without the `file:` prefix.
//!
//! Refused: unpinned files (nothing runs that is not pinned), other digest
//! algorithms, URLs (download, then pin), and — for now — `oci://` references.
//! [`PluginRef::parse`] only checks syntax; whether a builtin exists is for the host
//! (which embeds them) to say, and whether a file's digest matches its pin is checked
//! by [`PluginRef::read_file`] when the plugin is loaded.
//!
//! Tests: unit tests below; the messages are pinned by the host's golden files
//! (`host/tests/ui/plugin_*.err`, `tests/ui-check/*.err`).

use std::fmt;
use std::path::{Path, PathBuf};

use crate::{Digest, DigestProblem};

/// A syntactically valid plugin reference. Its `Display` is the canonical form:
/// `builtin:NAME` or `file:PATH#sha256:<64 lowercase hex>`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum PluginRef {
    /// `builtin:NAME`
    Builtin { name: String },
    /// `file:PATH#sha256:HEX`; `path` as written (relative to the pipeline file's
    /// directory unless absolute).
    File { path: PathBuf, digest: Digest },
}

/// Why a reference was refused or could not be resolved. `Display` is the one-line
/// reason, [`RefError::hint`] how to fix it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RefError {
    /// Not a plugin reference: empty, surrounded by spaces, a URL, `oci://`, an
    /// unknown scheme, an invalid builtin name, …; `message` says which.
    #[error("{message}")]
    Syntax { reference: String, message: String },
    /// A file reference without `#sha256:…`; `path` as written.
    #[error("plugin `{reference}` is not pinned by a sha256 digest")]
    Unpinned { reference: String, path: String },
    /// A pin that is not `sha256:` and 64 hex digits; `path` as written.
    #[error("{}", bad_digest_message(.reference, .problem))]
    BadDigest {
        reference: String,
        path: String,
        problem: DigestProblem,
    },
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

fn bad_digest_message(reference: &str, problem: &DigestProblem) -> String {
    match problem {
        DigestProblem::Algorithm(algo) => {
            format!("unsupported digest `{algo}` in `{reference}`: plugins are pinned by `sha256:`")
        }
        other => format!("malformed sha256 digest in plugin reference: {other}"),
    }
}

impl PluginRef {
    /// The accepted forms, for hints.
    pub const FORMS: &'static str = "`builtin:NAME` or `file:PATH#sha256:HEX`";

    /// Parses a reference as written in pipeline.toml (syntax only).
    pub fn parse(text: &str) -> Result<PluginRef, RefError> {
        let syntax = |message: String| RefError::Syntax {
            reference: text.to_string(),
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
            return Ok(PluginRef::Builtin {
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
                && scheme.len() > 1
                && scheme
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'+' || b == b'-' || b == b'.')
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
            return Err(RefError::Unpinned {
                reference: text.to_string(),
                path: path.to_string(),
            });
        };
        let bad_digest = |problem: DigestProblem| RefError::BadDigest {
            reference: text.to_string(),
            path: path.to_string(),
            problem,
        };
        let Some(hex) = pin.strip_prefix("sha256:") else {
            let algo = pin.split_once(':').map_or(pin, |(a, _)| a);
            return Err(bad_digest(DigestProblem::Algorithm(algo.to_string())));
        };
        Ok(PluginRef::File {
            path: PathBuf::from(path),
            digest: Digest::from_hex(hex).map_err(bad_digest)?,
        })
    }

    /// Reads a `file:` plugin relative to `base` and checks its pin, before anything
    /// compiles it. Builtins are resolved by the host, which embeds them.
    pub fn read_file(&self, base: &Path) -> Result<(Vec<u8>, Digest), RefError> {
        let PluginRef::File { path, digest } = self else {
            return Err(RefError::Read {
                path: self.to_string(),
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

impl fmt::Display for PluginRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PluginRef::Builtin { name } => write!(f, "builtin:{name}"),
            PluginRef::File { path, digest } => write!(f, "file:{}#{digest}", path.display()),
        }
    }
}

impl RefError {
    /// How to fix it, for the `hint:` line; file paths are shown as written.
    pub fn hint(&self) -> Option<String> {
        self.hint_relative_to(Path::new(""))
    }

    /// [`RefError::hint`], with the commands it suggests naming a relative file path
    /// through `dir`: the directory the path is relative to, as the user wrote it
    /// (the pipeline file's parent; `""` for the current directory).
    pub fn hint_relative_to(&self, dir: &Path) -> Option<String> {
        let shown = |path: &str| {
            if !dir.as_os_str().is_empty() && !Path::new(path).is_absolute() {
                dir.join(path).display().to_string()
            } else {
                path.to_string()
            }
        };
        let forms = PluginRef::FORMS;
        Some(match self {
            RefError::Syntax { reference, .. } => {
                if !reference.is_empty()
                    && reference
                        .bytes()
                        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
                {
                    format!("did you mean `builtin:{reference}`? a plugin is {forms}")
                } else if reference.starts_with("http") {
                    "download it, then pin it: `file:PATH#sha256:HEX`".to_string()
                } else {
                    format!("a plugin is {forms}")
                }
            }
            RefError::Unpinned { path, .. } => {
                let shown = shown(path);
                format!(
                    "pin it: `file:{path}#sha256:<digest>`; get the digest with `sha256sum {shown}` or `gantry plugin inspect {shown}`"
                )
            }
            RefError::BadDigest { path, .. } => format!(
                "a pin is `#sha256:` and 64 hex digits, as printed by `sha256sum {}`",
                shown(path)
            ),
            RefError::DigestMismatch { .. } => {
                "if the new file is the one you trust, update the pin; otherwise the file was changed or replaced"
                    .to_string()
            }
            RefError::Read { .. } => {
                "paths of `file:` plugins are relative to the directory of the pipeline file"
                    .to_string()
            }
            RefError::UnknownBuiltin { name, known } => {
                let near = known
                    .iter()
                    .filter(|k| close(k, name))
                    .map(|k| format!("`builtin:{k}`"))
                    .next();
                match near {
                    Some(n) => format!("did you mean {n}? builtin plugins: {}", known.join(", ")),
                    None => format!("builtin plugins: {}", known.join(", ")),
                }
            }
        })
    }
}

fn close(a: &str, b: &str) -> bool {
    // Cheap similarity: same after removing separators, or one edit apart in length and prefix.
    let norm = |s: &str| s.replace(['-', '_'], "");
    norm(a) == norm(b)
        || (a.len().abs_diff(b.len()) <= 2 && a.chars().take(3).eq(b.chars().take(3)))
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEX: &str = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

    #[test]
    fn forms() {
        assert_eq!(
            PluginRef::parse("builtin:secret-scan"),
            Ok(PluginRef::Builtin {
                name: "secret-scan".into()
            })
        );
        let file = PluginRef::File {
            path: "plugins/x.wasm".into(),
            digest: Digest::parse(HEX).unwrap(),
        };
        assert_eq!(
            PluginRef::parse(&format!("file:plugins/x.wasm#sha256:{HEX}")),
            Ok(file.clone())
        );
        assert_eq!(
            PluginRef::parse(&format!("plugins/x.wasm#sha256:{}", HEX.to_uppercase())),
            Ok(file.clone())
        );
        assert_eq!(
            file.to_string(),
            format!("file:plugins/x.wasm#sha256:{HEX}")
        );
        assert_eq!(
            PluginRef::parse("builtin:secret-scan").unwrap().to_string(),
            "builtin:secret-scan"
        );
    }

    #[test]
    fn refusals() {
        #[derive(Debug, PartialEq)]
        enum Kind {
            Unpinned(String),
            BadDigest(String),
            Syntax,
        }
        let kind = |s: &str| {
            PluginRef::parse(s).map_err(|e| match e {
                RefError::Unpinned { path, .. } => Kind::Unpinned(path),
                RefError::BadDigest { path, .. } => Kind::BadDigest(path),
                RefError::Syntax { .. } => Kind::Syntax,
                other => panic!("{s}: unexpected {other:?}"),
            })
        };
        assert_eq!(kind("file:x.wasm"), Err(Kind::Unpinned("x.wasm".into())));
        assert_eq!(kind("x.wasm"), Err(Kind::Unpinned("x.wasm".into())));
        let bad = Err(Kind::BadDigest("x.wasm".into()));
        assert_eq!(kind("file:x.wasm#sha256:abc"), bad);
        assert_eq!(kind(&format!("file:x.wasm#sha256:{}", "g".repeat(64))), bad);
        assert_eq!(kind("x.wasm#md5:abc"), bad);
        assert_eq!(kind("file:x.wasm#"), bad);
        for bad in [
            "",
            "builtin:",
            "builtin:Secret_Scan",
            "builtin:Secret Scan",
            "oci://r/x:1",
            "https://x/y.wasm",
            "docker:x",
            "docker.io/x",
            "secret-scan",
            "file:#sha256:00",
            " builtin:x",
        ] {
            assert_eq!(kind(bad), Err(Kind::Syntax), "{bad}");
        }
    }

    #[test]
    fn messages_and_hints() {
        let err = |s: &str| PluginRef::parse(s).unwrap_err();
        let e = err("file:p/x.wasm");
        assert_eq!(
            e.to_string(),
            "plugin `file:p/x.wasm` is not pinned by a sha256 digest"
        );
        assert_eq!(
            e.hint_relative_to(Path::new("ci")).unwrap(),
            "pin it: `file:p/x.wasm#sha256:<digest>`; get the digest with `sha256sum ci/p/x.wasm` or `gantry plugin inspect ci/p/x.wasm`"
        );
        let e = err("p/x.wasm#sha256:abc");
        assert_eq!(
            e.to_string(),
            "malformed sha256 digest in plugin reference: it has 3 hex digits instead of 64"
        );
        assert_eq!(
            e.hint().unwrap(),
            "a pin is `#sha256:` and 64 hex digits, as printed by `sha256sum p/x.wasm`"
        );
        let e = err("p/x.wasm#md5:abc");
        assert_eq!(
            e.to_string(),
            "unsupported digest `md5` in `p/x.wasm#md5:abc`: plugins are pinned by `sha256:`"
        );
        let e = err("secret-scan");
        assert_eq!(e.to_string(), "unrecognized plugin reference `secret-scan`");
        assert_eq!(
            e.hint().unwrap(),
            format!(
                "did you mean `builtin:secret-scan`? a plugin is {}",
                PluginRef::FORMS
            )
        );
        assert_eq!(
            err("https://x/y.wasm").hint().unwrap(),
            "download it, then pin it: `file:PATH#sha256:HEX`"
        );
        let e = RefError::UnknownBuiltin {
            name: "secret-scn".into(),
            known: vec!["secret-scan".into()],
        };
        assert_eq!(
            e.hint().unwrap(),
            "did you mean `builtin:secret-scan`? builtin plugins: secret-scan"
        );
    }

    #[test]
    fn digest_mismatch_names_both() {
        let d = format!("sha256:{HEX}");
        let dir = std::env::temp_dir().join(format!("gantry-reg-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("p.wasm"), b"not really wasm").unwrap();
        let r = PluginRef::parse(&format!("file:p.wasm#{d}")).unwrap();
        let err = r.read_file(&dir).unwrap_err();
        let text = err.to_string();
        assert!(text.contains(&d), "{text}");
        assert!(
            text.contains(&Digest::of(b"not really wasm").to_string()),
            "{text}"
        );
        let good = format!("file:p.wasm#{}", Digest::of(b"not really wasm"));
        let (bytes, _) = PluginRef::parse(&good).unwrap().read_file(&dir).unwrap();
        assert_eq!(bytes, b"not really wasm");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
