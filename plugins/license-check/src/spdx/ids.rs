//! SPDX identifiers: lookups over the whole SPDX License List as the `spdx` crate
//! ships it (licences and exceptions, deprecated ones flagged), plus what that list
//! does not say in machine-readable form — which current ids a few deprecated
//! non-GNU ids were replaced by.
//!
//! Lookups are case-insensitive, as the SPDX specification requires, and return the
//! canonical spelling. An id that is not on the list is reported as invalid with the
//! nearest current id as a hint; private licences are written `LicenseRef-…`.
//! Tests: `spdx::tests` (`table_*`, `whole_list_*`).

use spdx::identifiers::{EXCEPTIONS, LICENSES};

/// Deprecated ids SPDX replaced by a licence `WITH` an exception (the list keeps
/// them, flagged deprecated, but does not name the replacement).
pub const DEPRECATED_WITH: &[(&str, &str, &str)] = &[
    (
        "GPL-2.0-with-classpath-exception",
        "GPL-2.0-only",
        "Classpath-exception-2.0",
    ),
    (
        "GPL-2.0-with-GCC-exception",
        "GPL-2.0-only",
        "GCC-exception-2.0",
    ),
    (
        "GPL-2.0-with-autoconf-exception",
        "GPL-2.0-only",
        "Autoconf-exception-2.0",
    ),
    (
        "GPL-2.0-with-bison-exception",
        "GPL-2.0-only",
        "Bison-exception-2.2",
    ),
    (
        "GPL-2.0-with-font-exception",
        "GPL-2.0-only",
        "Font-exception-2.0",
    ),
    (
        "GPL-3.0-with-GCC-exception",
        "GPL-3.0-only",
        "GCC-exception-3.1",
    ),
    (
        "GPL-3.0-with-autoconf-exception",
        "GPL-3.0-only",
        "Autoconf-exception-3.0",
    ),
    ("eCos-2.0", "GPL-2.0-or-later", "eCos-exception-2.0"),
    ("wxWindows", "GPL-2.0-or-later", "WxWindows-exception-3.1"),
];

/// Deprecated non-GNU ids renamed to a current id. (GNU ones — `GPL-2.0`,
/// `LGPL-2.1+` — map to `-only` / `-or-later` by rule, see [`replacement`].)
pub const RENAMED: &[(&str, &str)] = &[
    ("BSD-2-Clause-FreeBSD", "BSD-2-Clause-Views"),
    ("BSD-2-Clause-NetBSD", "BSD-2-Clause"),
    ("StandardML-NJ", "SMLNJ"),
    ("Nunit", "zlib-acknowledgement"),
];

/// The canonical spelling of licence id `id` (any case), current or deprecated.
pub fn license_any(id: &str) -> Option<spdx::LicenseId> {
    spdx::license_id(id).or_else(|| {
        LICENSES
            .iter()
            .find(|l| l.name.eq_ignore_ascii_case(id))
            .and_then(|l| spdx::license_id(l.name))
    })
}

/// The canonical spelling of licence id `id` (any case), if it is current.
pub fn license(id: &str) -> Option<&'static str> {
    license_any(id)
        .filter(|l| !l.is_deprecated())
        .map(|l| l.name)
}

/// The canonical spelling of exception id `id` (any case), if known.
pub fn exception(id: &str) -> Option<&'static str> {
    spdx::exception_id(id)
        .or_else(|| {
            EXCEPTIONS
                .iter()
                .find(|e| e.name.eq_ignore_ascii_case(id))
                .and_then(|e| spdx::exception_id(e.name))
        })
        .map(|e| e.name)
}

/// What a deprecated licence id stands for today: `(licence, exception)`, or `None`
/// when SPDX deprecated it without a replacement. `or_later` is the `+` written
/// after it.
pub fn replacement(
    id: spdx::LicenseId,
    or_later: bool,
) -> Option<(&'static str, Option<&'static str>)> {
    if let Some((_, lic, exc)) = DEPRECATED_WITH
        .iter()
        .find(|(old, _, _)| old.eq_ignore_ascii_case(id.name))
    {
        return Some((lic, Some(exc)));
    }
    if let Some((_, new)) = RENAMED
        .iter()
        .find(|(old, _)| old.eq_ignore_ascii_case(id.name))
    {
        return license(new).map(|n| (n, None));
    }
    if id.is_gnu() {
        let base = id.name.trim_end_matches('+');
        return spdx::gnu_license_id(base, or_later || id.name.ends_with('+'))
            .filter(|l| !l.is_deprecated())
            .map(|l| (l.name, None));
    }
    None
}

/// Current licence ids, for "did you mean" hints.
pub fn current_licenses() -> impl Iterator<Item = &'static str> {
    LICENSES
        .iter()
        .filter(|l| l.flags & spdx::flags::IS_DEPRECATED == 0)
        .map(|l| l.name)
}

/// Exception ids, for "did you mean" hints.
pub fn exceptions() -> impl Iterator<Item = &'static str> {
    EXCEPTIONS.iter().map(|e| e.name)
}

/// The known id closest to `id`, for "did you mean" hints.
pub fn nearest(id: &str, candidates: impl Iterator<Item = &'static str>) -> Option<&'static str> {
    let lower = id.to_ascii_lowercase();
    candidates
        .map(|c| (strsim::jaro_winkler(&lower, &c.to_ascii_lowercase()), c))
        .filter(|(score, _)| *score >= 0.8)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, c)| c)
}

/// Family and version of a versioned id: `GPL-2.0-only` → (`GPL`, [2, 0], Some(false)),
/// `GPL-2.0-or-later` → (`GPL`, [2, 0], Some(true)), `MPL-2.0` → (`MPL`, [2, 0], None).
/// Ids without a trailing version (`BSD-3-Clause`, `Zlib`) give `None`.
pub fn family_version(id: &str) -> Option<(&str, Vec<u32>, Option<bool>)> {
    let (base, later) = if let Some(b) = id.strip_suffix("-or-later") {
        (b, Some(true))
    } else if let Some(b) = id.strip_suffix("-only") {
        (b, Some(false))
    } else {
        (id, None)
    };
    let (family, version) = base.rsplit_once('-')?;
    let parts: Option<Vec<u32>> = version.split('.').map(|p| p.parse().ok()).collect();
    let parts = parts?;
    if family.is_empty() || parts.is_empty() {
        return None;
    }
    Some((family, parts, later))
}
