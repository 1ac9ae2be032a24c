//! The SPDX identifiers gantry knows: licences, exceptions and the deprecated ids
//! that old manifests still carry (mapped to their current form).
//!
//! This is a curated subset of the SPDX License List (3.2x): the OSI-approved
//! licences in common use, the licences and exceptions found in gantry's own
//! dependency tree and in typical Rust, Python and npm trees, and the well-known
//! non-OSI ones policies like to deny (SSPL, BUSL, Commons Clause-style CC-NC).
//! An id that is not here is reported as invalid with the nearest known id as a
//! hint; private licences are written `LicenseRef-…` and never need to be listed.
//! Lookups are case-insensitive, as the SPDX specification requires.
//! Tests: `spdx::tests` (`table_*`).

/// Current (non-deprecated) licence ids.
pub const LICENSES: &[&str] = &[
    "0BSD",
    "AAL",
    "AFL-1.1",
    "AFL-1.2",
    "AFL-2.0",
    "AFL-2.1",
    "AFL-3.0",
    "AGPL-1.0-only",
    "AGPL-1.0-or-later",
    "AGPL-3.0-only",
    "AGPL-3.0-or-later",
    "APSL-1.0",
    "APSL-2.0",
    "Apache-1.0",
    "Apache-1.1",
    "Apache-2.0",
    "Artistic-1.0",
    "Artistic-1.0-Perl",
    "Artistic-2.0",
    "BSD-1-Clause",
    "BSD-2-Clause",
    "BSD-2-Clause-Patent",
    "BSD-2-Clause-Views",
    "BSD-3-Clause",
    "BSD-3-Clause-Clear",
    "BSD-3-Clause-LBNL",
    "BSD-3-Clause-Modification",
    "BSD-4-Clause",
    "BSD-Source-Code",
    "BSL-1.0",
    "BUSL-1.1",
    "BlueOak-1.0.0",
    "CAL-1.0",
    "CATOSL-1.1",
    "CC-BY-3.0",
    "CC-BY-4.0",
    "CC-BY-NC-4.0",
    "CC-BY-ND-4.0",
    "CC-BY-SA-3.0",
    "CC-BY-SA-4.0",
    "CC0-1.0",
    "CDDL-1.0",
    "CDDL-1.1",
    "CDLA-Permissive-1.0",
    "CDLA-Permissive-2.0",
    "CDLA-Sharing-1.0",
    "CECILL-2.1",
    "CECILL-B",
    "CECILL-C",
    "CNRI-Python",
    "CPAL-1.0",
    "CPL-1.0",
    "ECL-1.0",
    "ECL-2.0",
    "EFL-2.0",
    "EPL-1.0",
    "EPL-2.0",
    "EUDatagrid",
    "EUPL-1.1",
    "EUPL-1.2",
    "Elastic-2.0",
    "Entessa",
    "FSFAP",
    "FTL",
    "Fair",
    "Frameworx-1.0",
    "GFDL-1.3-only",
    "GFDL-1.3-or-later",
    "GPL-1.0-only",
    "GPL-1.0-or-later",
    "GPL-2.0-only",
    "GPL-2.0-or-later",
    "GPL-3.0-only",
    "GPL-3.0-or-later",
    "HPND",
    "ICU",
    "IJG",
    "IPA",
    "IPL-1.0",
    "ISC",
    "JSON",
    "LGPL-2.0-only",
    "LGPL-2.0-or-later",
    "LGPL-2.1-only",
    "LGPL-2.1-or-later",
    "LGPL-3.0-only",
    "LGPL-3.0-or-later",
    "LPL-1.0",
    "LPL-1.02",
    "LPPL-1.3c",
    "Libpng",
    "MIT",
    "MIT-0",
    "MIT-CMU",
    "MIT-Modern-Variant",
    "MPL-1.0",
    "MPL-1.1",
    "MPL-2.0",
    "MPL-2.0-no-copyleft-exception",
    "MS-PL",
    "MS-RL",
    "MirOS",
    "Motosoto",
    "MulanPSL-2.0",
    "Multics",
    "NASA-1.3",
    "NCSA",
    "NGPL",
    "NPOSL-3.0",
    "NTP",
    "Naumen",
    "Nokia",
    "OCLC-2.0",
    "ODbL-1.0",
    "OFL-1.0",
    "OFL-1.1",
    "OGTSL",
    "OLDAP-2.8",
    "OSL-1.0",
    "OSL-2.0",
    "OSL-2.1",
    "OSL-3.0",
    "OpenSSL",
    "PHP-3.0",
    "PHP-3.01",
    "PSF-2.0",
    "PostgreSQL",
    "Python-2.0",
    "Python-2.0.1",
    "QPL-1.0",
    "RPL-1.1",
    "RPL-1.5",
    "RPSL-1.0",
    "RSCPL",
    "Ruby",
    "SISSL",
    "SPL-1.0",
    "SSPL-1.0",
    "Sleepycat",
    "UCL-1.0",
    "UPL-1.0",
    "Unicode-3.0",
    "Unicode-DFS-2015",
    "Unicode-DFS-2016",
    "Unlicense",
    "VSL-1.0",
    "W3C",
    "WTFPL",
    "Watcom-1.0",
    "X11",
    "Xnet",
    "ZPL-2.0",
    "ZPL-2.1",
    "Zlib",
    "bzip2-1.0.6",
    "curl",
    "libpng-2.0",
    "zlib-acknowledgement",
];

/// Deprecated licence ids and the expression they mean today. A `+` in the
/// replacement column is applied by the parser as "or later".
pub const DEPRECATED: &[(&str, &str)] = &[
    ("AGPL-1.0", "AGPL-1.0-only"),
    ("AGPL-3.0", "AGPL-3.0-only"),
    ("BSD-2-Clause-FreeBSD", "BSD-2-Clause-Views"),
    ("BSD-2-Clause-NetBSD", "BSD-2-Clause"),
    ("GFDL-1.3", "GFDL-1.3-only"),
    ("GPL-1.0", "GPL-1.0-only"),
    ("GPL-1.0+", "GPL-1.0-or-later"),
    ("GPL-2.0", "GPL-2.0-only"),
    ("GPL-2.0+", "GPL-2.0-or-later"),
    ("GPL-3.0", "GPL-3.0-only"),
    ("GPL-3.0+", "GPL-3.0-or-later"),
    ("LGPL-2.0", "LGPL-2.0-only"),
    ("LGPL-2.0+", "LGPL-2.0-or-later"),
    ("LGPL-2.1", "LGPL-2.1-only"),
    ("LGPL-2.1+", "LGPL-2.1-or-later"),
    ("LGPL-3.0", "LGPL-3.0-only"),
    ("LGPL-3.0+", "LGPL-3.0-or-later"),
];

/// Deprecated "licence with exception" ids, split into licence and exception.
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
];

/// Licence exception ids (the right-hand side of `WITH`).
pub const EXCEPTIONS: &[&str] = &[
    "389-exception",
    "Autoconf-exception-2.0",
    "Autoconf-exception-3.0",
    "Bison-exception-2.2",
    "Bootloader-exception",
    "CLISP-exception-2.0",
    "Classpath-exception-2.0",
    "DigiRule-FOSS-exception",
    "FLTK-exception",
    "Fawkes-Runtime-exception",
    "Font-exception-2.0",
    "FreeRTOS-exception-2.0",
    "GCC-exception-2.0",
    "GCC-exception-3.1",
    "GNAT-exception",
    "GPL-3.0-linking-exception",
    "GPL-3.0-linking-source-exception",
    "GPL-CC-1.0",
    "GStreamer-exception-2008",
    "LGPL-3.0-linking-exception",
    "LLVM-exception",
    "LZMA-exception",
    "Libtool-exception",
    "Linux-syscall-note",
    "OCaml-LGPL-linking-exception",
    "OpenJDK-assembly-exception-1.0",
    "PS-or-PDF-font-exception-20170817",
    "Qt-GPL-exception-1.0",
    "Qt-LGPL-exception-1.1",
    "Qwt-exception-1.0",
    "SHL-2.0",
    "SHL-2.1",
    "Swift-exception",
    "Universal-FOSS-exception-1.0",
    "WxWindows-exception-3.1",
    "eCos-exception-2.0",
    "i2p-gpl-java-exception",
    "mif-exception",
    "openvpn-openssl-exception",
    "u-boot-exception-2.0",
];

/// The canonical spelling of licence id `id` (any case), if known and current.
pub fn license(id: &str) -> Option<&'static str> {
    LICENSES
        .iter()
        .copied()
        .find(|known| known.eq_ignore_ascii_case(id))
}

/// The current id that deprecated id `id` (any case) stands for.
pub fn deprecated(id: &str) -> Option<(&'static str, &'static str)> {
    DEPRECATED
        .iter()
        .copied()
        .find(|(old, _)| old.eq_ignore_ascii_case(id))
}

/// A deprecated combined id split into (old spelling, licence, exception).
pub fn deprecated_with(id: &str) -> Option<(&'static str, &'static str, &'static str)> {
    DEPRECATED_WITH
        .iter()
        .copied()
        .find(|(old, _, _)| old.eq_ignore_ascii_case(id))
}

/// The canonical spelling of exception id `id` (any case), if known.
pub fn exception(id: &str) -> Option<&'static str> {
    EXCEPTIONS
        .iter()
        .copied()
        .find(|known| known.eq_ignore_ascii_case(id))
}

/// The known id closest to `id`, for "did you mean" hints.
pub fn nearest(id: &str, candidates: &[&'static str]) -> Option<&'static str> {
    let lower = id.to_ascii_lowercase();
    candidates
        .iter()
        .copied()
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
