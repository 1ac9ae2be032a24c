//! Python: installed distributions in a `site-packages` directory, read from each
//! `*.dist-info/METADATA` (core metadata, RFC 822 style headers).
//!
//! Order, first usable wins:
//! 1. `License-Expression:` (PEP 639) — an SPDX expression, taken as written;
//! 2. `License:` — a one-line SPDX expression, or a common free-text name mapped to
//!    SPDX (`MIT License` → `MIT`, `Apache 2.0` → `Apache-2.0`, `New BSD` →
//!    `BSD-3-Clause`); a multi-line value is a licence text and is identified; a name
//!    that does not say which licence (`BSD`, `Apache`, `GPL`, `UNKNOWN`) is not used;
//! 3. `Classifier: License :: …` trove classifiers that name one SPDX licence
//!    (`GNU General Public License v3 or later (GPLv3+)` → `GPL-3.0-or-later`);
//!    several are combined with AND (they may mean a choice; the conservative reading
//!    is that all apply — declare `License-Expression` to say OR). Classifiers without
//!    a version (`Apache Software License`, `BSD License`) are not guessed;
//! 4. licence files in the dist-info directory (`licenses/` of PEP 639 or top level),
//!    identified by text.
//!
//! `*.egg-info` directories (old setuptools) are not read. Tests: `tests/sources.rs`
//! (`python_*`, fixture `tests/fixtures/python`).

use std::path::Path;

use super::{Declared, Ecosystem, Location, Package, read_text};

/// A header field and its 1-based line.
#[derive(Debug, Clone)]
struct Field {
    name: String,
    value: String,
    line: u32,
    multiline: bool,
}

fn headers(text: &str) -> Vec<Field> {
    let mut out: Vec<Field> = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            break; // the body (long description) follows the first blank line
        }
        if line.starts_with([' ', '\t']) {
            if let Some(last) = out.last_mut() {
                let cont = line.trim_start();
                let cont = cont.strip_prefix('|').unwrap_or(cont);
                last.value.push('\n');
                last.value.push_str(cont);
                last.multiline = true;
            }
            continue;
        }
        if let Some((name, value)) = line.split_once(':') {
            out.push(Field {
                name: name.trim().to_ascii_lowercase(),
                value: value.trim().to_string(),
                line: i as u32 + 1,
                multiline: false,
            });
        }
    }
    out
}

/// Common free-text licence names and the SPDX id they unambiguously mean.
const NAMES: &[(&str, &str)] = &[
    ("mit", "MIT"),
    ("mit license", "MIT"),
    ("the mit license", "MIT"),
    ("expat", "MIT"),
    ("apache 2", "Apache-2.0"),
    ("apache 2.0", "Apache-2.0"),
    ("apache-2", "Apache-2.0"),
    ("apache license 2.0", "Apache-2.0"),
    ("apache license, version 2.0", "Apache-2.0"),
    ("apache license version 2.0", "Apache-2.0"),
    ("apache software license 2.0", "Apache-2.0"),
    ("apache software license, version 2.0", "Apache-2.0"),
    ("asl 2.0", "Apache-2.0"),
    ("bsd 3-clause", "BSD-3-Clause"),
    ("bsd-3", "BSD-3-Clause"),
    ("3-clause bsd", "BSD-3-Clause"),
    ("new bsd", "BSD-3-Clause"),
    ("new bsd license", "BSD-3-Clause"),
    ("modified bsd", "BSD-3-Clause"),
    ("bsd 2-clause", "BSD-2-Clause"),
    ("bsd-2", "BSD-2-Clause"),
    ("2-clause bsd", "BSD-2-Clause"),
    ("simplified bsd", "BSD-2-Clause"),
    ("freebsd", "BSD-2-Clause"),
    ("isc license", "ISC"),
    ("isc license (iscl)", "ISC"),
    ("mpl 2.0", "MPL-2.0"),
    ("mpl-2", "MPL-2.0"),
    ("mozilla public license 2.0", "MPL-2.0"),
    ("mozilla public license 2.0 (mpl 2.0)", "MPL-2.0"),
    ("psf", "PSF-2.0"),
    ("psf license", "PSF-2.0"),
    ("python software foundation license", "PSF-2.0"),
    ("gplv2", "GPL-2.0-only"),
    ("gplv2+", "GPL-2.0-or-later"),
    ("gplv3", "GPL-3.0-only"),
    ("gplv3+", "GPL-3.0-or-later"),
    ("lgplv3", "LGPL-3.0-only"),
    ("lgplv3+", "LGPL-3.0-or-later"),
    ("the unlicense", "Unlicense"),
    ("public domain (unlicense)", "Unlicense"),
    ("zlib/libpng", "Zlib"),
    ("boost software license 1.0", "BSL-1.0"),
];

/// Trove classifiers (after `License :: `) that name exactly one SPDX licence.
const CLASSIFIERS: &[(&str, &str)] = &[
    ("OSI Approved :: MIT License", "MIT"),
    (
        "OSI Approved :: MIT No Attribution License (MIT-0)",
        "MIT-0",
    ),
    ("OSI Approved :: ISC License (ISCL)", "ISC"),
    (
        "OSI Approved :: Mozilla Public License 2.0 (MPL 2.0)",
        "MPL-2.0",
    ),
    (
        "OSI Approved :: Mozilla Public License 1.1 (MPL 1.1)",
        "MPL-1.1",
    ),
    (
        "OSI Approved :: GNU General Public License v2 (GPLv2)",
        "GPL-2.0-only",
    ),
    (
        "OSI Approved :: GNU General Public License v2 or later (GPLv2+)",
        "GPL-2.0-or-later",
    ),
    (
        "OSI Approved :: GNU General Public License v3 (GPLv3)",
        "GPL-3.0-only",
    ),
    (
        "OSI Approved :: GNU General Public License v3 or later (GPLv3+)",
        "GPL-3.0-or-later",
    ),
    (
        "OSI Approved :: GNU Lesser General Public License v2 (LGPLv2)",
        "LGPL-2.0-only",
    ),
    (
        "OSI Approved :: GNU Lesser General Public License v2 or later (LGPLv2+)",
        "LGPL-2.0-or-later",
    ),
    (
        "OSI Approved :: GNU Lesser General Public License v3 (LGPLv3)",
        "LGPL-3.0-only",
    ),
    (
        "OSI Approved :: GNU Lesser General Public License v3 or later (LGPLv3+)",
        "LGPL-3.0-or-later",
    ),
    (
        "OSI Approved :: GNU Affero General Public License v3",
        "AGPL-3.0-only",
    ),
    (
        "OSI Approved :: GNU Affero General Public License v3 or later (AGPLv3+)",
        "AGPL-3.0-or-later",
    ),
    (
        "OSI Approved :: Python Software Foundation License",
        "PSF-2.0",
    ),
    ("OSI Approved :: The Unlicense (Unlicense)", "Unlicense"),
    ("OSI Approved :: zlib/libpng License", "Zlib"),
    (
        "OSI Approved :: Boost Software License 1.0 (BSL-1.0)",
        "BSL-1.0",
    ),
    (
        "OSI Approved :: Eclipse Public License 2.0 (EPL-2.0)",
        "EPL-2.0",
    ),
    (
        "OSI Approved :: Universal Permissive License (UPL)",
        "UPL-1.0",
    ),
    (
        "OSI Approved :: Historical Permission Notice and Disclaimer (HPND)",
        "HPND",
    ),
    (
        "OSI Approved :: European Union Public Licence 1.2 (EUPL 1.2)",
        "EUPL-1.2",
    ),
    ("OSI Approved :: Artistic License", "Artistic-2.0"),
    (
        "CC0 1.0 Universal (CC0 1.0) Public Domain Dedication",
        "CC0-1.0",
    ),
];

/// Maps a one-line free-text `License:` value to SPDX, if it is unambiguous.
pub fn map_license_name(value: &str) -> Option<String> {
    let v = value.trim();
    if v.is_empty() {
        return None;
    }
    if crate::spdx::parse(v).is_ok() {
        return Some(v.to_string());
    }
    let lower = v
        .to_lowercase()
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ");
    let lower = lower.trim_end_matches(['.', ';']).to_string();
    NAMES
        .iter()
        .find(|(n, _)| *n == lower || lower.strip_suffix(" license").is_some_and(|s| s == *n))
        .map(|(_, id)| (*id).to_string())
}

/// Reads every `*.dist-info` in `site_packages` (`rel` is its workspace-relative path).
pub fn packages(site_packages: &Path, rel: &str) -> Result<Vec<Package>, String> {
    let entries = std::fs::read_dir(site_packages).map_err(|e| {
        format!("cannot read `{rel}`: {e}\nhint: point `python` at a `site-packages` directory inside the granted workspace")
    })?;
    let mut dirs: Vec<String> = entries
        .flatten()
        .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".dist-info"))
        .collect();
    dirs.sort();
    let mut out = Vec::new();
    for d in dirs {
        let dir = site_packages.join(&d);
        let meta_rel = format!("{}/{d}/METADATA", rel.trim_end_matches('/'));
        let Some(text) = read_text(&dir.join("METADATA"), 8 << 20) else {
            continue;
        };
        out.push(package(&text, &dir, &meta_rel, &d));
    }
    Ok(out)
}

fn package(text: &str, dir: &Path, meta_rel: &str, dir_name: &str) -> Package {
    let fields = headers(text);
    let get = |n: &str| fields.iter().find(|f| f.name == n);
    // Fall back on the directory name (`name-1.0.dist-info`) if headers are missing.
    let stem = dir_name.trim_end_matches(".dist-info");
    let (dn, dv) = stem.rsplit_once('-').unwrap_or((stem, "0"));
    let name = get("name").map_or(dn.to_string(), |f| f.value.clone());
    let version = get("version").map_or(dv.to_string(), |f| f.value.clone());
    let mut location = Location {
        path: meta_rel.to_string(),
        line: None,
        column: None,
    };
    let declared = 'found: {
        if let Some(f) = get("license-expression").filter(|f| !f.value.is_empty()) {
            location.line = Some(f.line);
            location.column = Some("License-Expression: ".len() as u32 + 1);
            break 'found Declared::Expression {
                text: f.value.clone(),
                original: None,
            };
        }
        if let Some(f) = get("license").filter(|f| !f.value.trim().is_empty()) {
            if f.multiline {
                let ids: Vec<&'static str> = crate::textid::identify(&f.value)
                    .into_iter()
                    .map(|i| i.id)
                    .collect();
                if !ids.is_empty() {
                    location.line = Some(f.line);
                    break 'found Declared::Identified {
                        ids,
                        from: "the License field's text".into(),
                    };
                }
            } else if let Some(expr) = map_license_name(&f.value) {
                location.line = Some(f.line);
                let original = (expr != f.value).then(|| f.value.clone());
                break 'found Declared::Expression {
                    text: expr,
                    original,
                };
            }
        }
        let classifiers: Vec<&Field> = fields
            .iter()
            .filter(|f| f.name == "classifier" && f.value.starts_with("License ::"))
            .collect();
        let mut mapped = Vec::new();
        let mut vague = Vec::new();
        for c in &classifiers {
            let rest = c.value.trim_start_matches("License ::").trim();
            match CLASSIFIERS.iter().find(|(k, _)| *k == rest) {
                Some((_, id)) => {
                    if !mapped.contains(id) {
                        mapped.push(*id);
                    }
                    location.line.get_or_insert(c.line);
                }
                None => vague.push(rest.to_string()),
            }
        }
        if !mapped.is_empty() && vague.is_empty() {
            let text = mapped.join(" AND ");
            break 'found Declared::Expression {
                original: Some(format!(
                    "classifiers: {}",
                    classifiers
                        .iter()
                        .map(|c| c.value.as_str())
                        .collect::<Vec<_>>()
                        .join("; ")
                )),
                text,
            };
        }
        let lic_dir = dir.join("licenses");
        let from_files = if lic_dir.is_dir() {
            super::cargo::from_files(&lic_dir)
        } else {
            super::cargo::from_files(dir)
        };
        if let Declared::Identified { .. } = from_files {
            break 'found from_files;
        }
        let mut why = Vec::new();
        if let Some(f) = get("license") {
            location.line.get_or_insert(f.line);
            why.push(format!(
                "`License: {}` does not name one licence",
                first_line(&f.value)
            ));
        }
        if !vague.is_empty() {
            why.push(format!(
                "classifier `{}` names no single SPDX licence",
                vague.join("`, `")
            ));
        }
        if why.is_empty() {
            why.push("no License-Expression, License or licence classifier".into());
        }
        if let Declared::Unknown { why: w } = from_files {
            why.push(format!("licence files: {w}"));
        }
        Declared::Unknown {
            why: why.join("; "),
        }
    };
    Package {
        ecosystem: Ecosystem::PyPI,
        name,
        version,
        declared,
        location,
        origin: meta_rel.to_string(),
    }
}

fn first_line(s: &str) -> &str {
    s.lines().next().unwrap_or("")
}
