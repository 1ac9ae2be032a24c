//! Source readers against the fixtures in `tests/fixtures` (see its README).

use std::path::{Path, PathBuf};

use license_check::sources::cargo::{
    CargoInputs, packages as cargo_packages, parse_lock, parse_metadata,
};
use license_check::sources::files::{FileScan, find_header, scan};
use license_check::sources::walk::Glob;
use license_check::sources::{Declared, FileLicense, Package, npm, python};

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

fn by_name<'a>(pkgs: &'a [Package], name: &str) -> &'a Package {
    pkgs.iter().find(|p| p.name == name).unwrap_or_else(|| {
        panic!(
            "no package `{name}` in {:?}",
            pkgs.iter().map(|p| &p.name).collect::<Vec<_>>()
        )
    })
}

fn expr(p: &Package) -> &str {
    match &p.declared {
        Declared::Expression { text, .. } => text,
        other => panic!("{}: expected an expression, got {other:?}", p.name),
    }
}

fn unknown_why(p: &Package) -> &str {
    match &p.declared {
        Declared::Unknown { why } => why,
        other => panic!("{}: expected unknown, got {other:?}", p.name),
    }
}

fn identified(p: &Package) -> Vec<&'static str> {
    match &p.declared {
        Declared::Identified { ids, .. } => ids.clone(),
        other => panic!("{}: expected identified, got {other:?}", p.name),
    }
}

fn cargo_inputs(registry: bool, metadata: bool) -> CargoInputs {
    let root = fixtures().join("cargo");
    CargoInputs {
        lockfile: root.join("Cargo.lock"),
        lockfile_rel: "Cargo.lock".into(),
        registries: if registry {
            vec![root.join("registry/src")]
        } else {
            vec![]
        },
        metadata: metadata.then(|| {
            let text = std::fs::read_to_string(root.join("metadata.json")).expect("fixture");
            parse_metadata(&text, "metadata.json").expect("valid metadata")
        }),
        platform_filtered: false,
        workspace_members: true,
    }
}

#[test]
fn cargo_lock_lines_point_at_each_package_name() {
    let text = std::fs::read_to_string(fixtures().join("cargo/Cargo.lock")).expect("fixture");
    let locked = parse_lock(&text, "Cargo.lock").expect("parses");
    assert_eq!(locked.len(), 9);
    for l in &locked {
        let line = text.lines().nth(l.line as usize - 1).expect("line exists");
        assert_eq!(line, format!("name = \"{}\"", l.name));
    }
    assert_eq!(
        locked[0].source.as_deref(),
        Some("registry+https://github.com/rust-lang/crates.io-index")
    );
}

#[test]
fn cargo_lock_errors_name_file_and_line() {
    let e =
        parse_lock("[[package]]\nname = \"x\"\nversion = \n", "sub/Cargo.lock").expect_err("bad");
    assert!(e.starts_with("sub/Cargo.lock:3:"), "{e}");
    let e = parse_lock("[[package]]\nname = \"x\"\n", "Cargo.lock").expect_err("no version");
    assert!(e.contains("version"), "{e}");
}

#[test]
fn cargo_registry_cache_gives_declared_licences() {
    let pkgs = cargo_packages(&cargo_inputs(true, false)).expect("reads");
    assert_eq!(expr(by_name(&pkgs, "alpha")), "MIT/Apache-2.0");
    assert_eq!(
        expr(by_name(&pkgs, "gamma")),
        "GPL-3.0-only",
        "picks 2.0.0, not gamma-1.0.0"
    );
    assert_eq!(expr(by_name(&pkgs, "epsilon")), "MIT OR Apache 2.0");
    let alpha = by_name(&pkgs, "alpha");
    assert_eq!(alpha.location.path, "Cargo.lock");
    assert_eq!(alpha.location.line, Some(6));
    assert!(
        alpha.origin.ends_with("alpha-1.0.0/Cargo.toml"),
        "{}",
        alpha.origin
    );
}

#[test]
fn cargo_license_file_and_licence_files_are_identified() {
    let pkgs = cargo_packages(&cargo_inputs(true, false)).expect("reads");
    assert_eq!(identified(by_name(&pkgs, "beta")), ["BSD-3-Clause"]);
    let mut eta = identified(by_name(&pkgs, "eta"));
    eta.sort();
    assert_eq!(
        eta,
        ["MIT", "Zlib"],
        "version with build metadata is found too"
    );
}

#[test]
fn cargo_missing_licence_and_missing_sources_are_unknown() {
    let pkgs = cargo_packages(&cargo_inputs(true, false)).expect("reads");
    assert!(unknown_why(by_name(&pkgs, "delta")).contains("no LICENSE or COPYING"));
    let why = unknown_why(by_name(&pkgs, "zeta"));
    assert!(why.contains("git dependency sources not found"), "{why}");
}

#[test]
fn cargo_without_any_source_says_what_to_configure() {
    let pkgs = cargo_packages(&cargo_inputs(false, false)).expect("reads");
    let why = unknown_why(by_name(&pkgs, "alpha"));
    assert!(
        why.contains("set `cargo.registry` or `cargo.metadata`"),
        "{why}"
    );
}

#[test]
fn cargo_workspace_members_inherit_the_workspace_licence() {
    let pkgs = cargo_packages(&cargo_inputs(true, false)).expect("reads");
    let app = by_name(&pkgs, "app");
    assert_eq!(expr(app), "Apache-2.0");
    assert_eq!(app.origin, "crates/app/Cargo.toml");
    assert_eq!(
        app.location.path, "crates/app/Cargo.toml",
        "findings point at the member's manifest"
    );
    assert!(unknown_why(by_name(&pkgs, "tool")).contains("crates/tool/Cargo.toml"));
    let mut no_members = cargo_inputs(true, false);
    no_members.workspace_members = false;
    let pkgs = cargo_packages(&no_members).expect("reads");
    assert!(pkgs.iter().all(|p| p.name != "app" && p.name != "tool"));
}

#[test]
fn cargo_metadata_export_takes_precedence_and_covers_git_crates() {
    let pkgs = cargo_packages(&cargo_inputs(true, true)).expect("reads");
    assert_eq!(expr(by_name(&pkgs, "alpha")), "MIT OR Apache-2.0");
    assert_eq!(expr(by_name(&pkgs, "zeta")), "ISC");
    // Not in the export: still found in the registry cache.
    assert_eq!(identified(by_name(&pkgs, "beta")), ["BSD-3-Clause"]);
}

#[test]
fn cargo_metadata_errors_name_line_and_column() {
    let e = parse_metadata("{\"packages\": 3}", "meta.json").expect_err("bad");
    assert!(e.starts_with("meta.json:1:"), "{e}");
    assert!(e.contains("cargo metadata --format-version 1"), "{e}");
}

fn python_pkgs() -> Vec<Package> {
    python::packages(
        &fixtures().join("python/site-packages"),
        "venv/site-packages",
    )
    .expect("reads")
}

#[test]
fn python_license_expression_wins_and_body_is_ignored() {
    let pkgs = python_pkgs();
    let attrs = by_name(&pkgs, "attrs");
    assert_eq!(expr(attrs), "MIT");
    assert_eq!(
        attrs.location.path,
        "venv/site-packages/attrs-23.1.0.dist-info/METADATA"
    );
    assert_eq!(attrs.location.line, Some(5));
    assert_eq!(attrs.location.column, Some(21));
    assert_eq!(attrs.version, "23.1.0");
}

#[test]
fn python_free_text_names_map_to_spdx() {
    let pkgs = python_pkgs();
    match &by_name(&pkgs, "requests").declared {
        Declared::Expression { text, original } => {
            assert_eq!(text, "Apache-2.0");
            assert_eq!(original.as_deref(), Some("Apache 2.0"));
        }
        d => panic!("{d:?}"),
    }
}

#[test]
fn python_versioned_classifiers_are_used_vague_ones_are_not() {
    let pkgs = python_pkgs();
    assert_eq!(expr(by_name(&pkgs, "oldlib")), "GPL-3.0-or-later");
    let why = unknown_why(by_name(&pkgs, "vague"));
    assert!(why.contains("`License: BSD`"), "{why}");
    assert!(why.contains("OSI Approved :: BSD License"), "{why}");
}

#[test]
fn python_licence_texts_are_identified() {
    let pkgs = python_pkgs();
    assert_eq!(identified(by_name(&pkgs, "textlic")), ["ISC"]);
    assert_eq!(identified(by_name(&pkgs, "longtext")), ["MIT"]);
    assert!(pkgs.iter().all(|p| p.name != "not-a-dist"));
    assert_eq!(pkgs.len(), 6);
}

#[test]
fn python_missing_directory_is_an_error_with_a_hint() {
    let e = python::packages(&fixtures().join("nope"), "nope").expect_err("missing");
    assert!(
        e.contains("cannot read `nope`") && e.contains("hint:"),
        "{e}"
    );
}

fn npm_pkgs() -> Vec<Package> {
    npm::packages(&fixtures().join("npm/node_modules"), "web/node_modules").expect("reads")
}

#[test]
fn npm_reads_plain_scoped_and_nested_packages_once() {
    let pkgs = npm_pkgs();
    let mut names: Vec<&str> = pkgs.iter().map(|p| p.name.as_str()).collect();
    names.sort();
    assert_eq!(
        names,
        [
            "@scope/thing",
            "badexpr",
            "left-pad",
            "legacy",
            "nested",
            "nolicense",
            "objtype",
            "private",
            "seefile"
        ]
    );
    let thing = by_name(&pkgs, "@scope/thing");
    assert_eq!(expr(thing), "(MIT OR Apache-2.0)");
    assert_eq!(
        thing.location.path,
        "web/node_modules/@scope/thing/package.json"
    );
    assert_eq!(thing.location.line, Some(5));
    assert_eq!(thing.location.column, Some(15));
    assert_eq!(
        by_name(&pkgs, "nested").location.path,
        "web/node_modules/legacy/node_modules/nested/package.json"
    );
}

#[test]
fn npm_legacy_forms_and_special_values() {
    let pkgs = npm_pkgs();
    assert_eq!(expr(by_name(&pkgs, "legacy")), "MIT OR Apache-2.0");
    assert_eq!(expr(by_name(&pkgs, "objtype")), "BSD-3-Clause");
    assert_eq!(expr(by_name(&pkgs, "private")), "LicenseRef-UNLICENSED");
    assert_eq!(identified(by_name(&pkgs, "seefile")), ["Zlib"]);
    assert!(unknown_why(by_name(&pkgs, "nolicense")).contains("no `license`"));
    assert!(
        pkgs.iter().all(|p| p.name != "fake"),
        "test fixtures inside packages are not packages"
    );
}

fn repo_scan(exclude: &[&str], require: &[&str]) -> Vec<FileLicense> {
    scan(
        &fixtures().join("repo"),
        &FileScan {
            paths: vec![".".into()],
            exclude: exclude
                .iter()
                .map(|g| Glob::new(g).expect("glob"))
                .collect(),
            headers: true,
            license_files: true,
            require_header: require
                .iter()
                .map(|g| Glob::new(g).expect("glob"))
                .collect(),
        },
    )
    .found
}

fn headers(found: &[FileLicense]) -> Vec<(String, u32, u32, String)> {
    found
        .iter()
        .filter_map(|f| match f {
            FileLicense::Header {
                location,
                expression,
            } => Some((
                location.path.clone(),
                location.line.unwrap_or(0),
                location.column.unwrap_or(0),
                expression.clone(),
            )),
            _ => None,
        })
        .collect()
}

#[test]
fn files_headers_are_found_with_line_and_column() {
    let h = headers(&repo_scan(&["vendor"], &[]));
    let s = |p: &str, l, c, e: &str| (p.to_string(), l, c, e.to_string());
    assert_eq!(
        h,
        [
            s("docs/page.html", 1, 31, "CC0-1.0"),
            s("src/bad.py", 2, 28, "MIT OR Apache-2"),
            s("src/gpl.c", 1, 29, "GPL-2.0-or-later"),
            s("src/lib.rs", 3, 29, "MIT OR Apache-2.0"),
            s("src/main.rs", 1, 29, "MIT"),
            s("src/old.sh", 2, 28, "GPL-2.0+"),
        ],
        "mentions in code (src/mentions.rs) and prose (docs/notes.md) are not headers"
    );
}

#[test]
fn files_licence_texts_are_identified_or_unknown() {
    let found = repo_scan(&["vendor"], &[]);
    let texts: Vec<(String, Vec<&str>)> = found
        .iter()
        .filter_map(|f| match f {
            FileLicense::Text { location, ids } => Some((location.path.clone(), ids.clone())),
            _ => None,
        })
        .collect();
    assert_eq!(
        texts,
        [
            ("LICENSE".to_string(), vec!["MIT"]),
            ("third_party/notice/COPYING".to_string(), vec![])
        ]
    );
}

#[test]
fn files_exclude_and_require_header() {
    let found = repo_scan(&["vendor", "third_party/**", "docs"], &["src/*.rs"]);
    let missing: Vec<&str> = found
        .iter()
        .filter_map(|f| match f {
            FileLicense::MissingHeader { location } => Some(location.path.as_str()),
            _ => None,
        })
        .collect();
    assert_eq!(missing, ["src/mentions.rs", "src/nohdr.rs"]);
    assert!(found.iter().all(|f| !matches!(f, FileLicense::Text { location, .. } if location.path.starts_with("third_party"))));
    assert!(headers(&found).iter().all(|h| !h.0.starts_with("docs/")));
}

#[test]
fn header_parsing_strips_comment_closers() {
    let tag = concat!("SPDX-License-", "Identifier:");
    assert_eq!(
        find_header(&format!("/* {tag} MIT */")),
        Some((1, 29, "MIT".into()))
    );
    assert_eq!(
        find_header(&format!("<!-- {tag} MIT -->\n")),
        Some((1, 31, "MIT".into()))
    );
    assert_eq!(
        find_header(&format!("x = 1\n-- {tag} ISC\n")),
        Some((2, 29, "ISC".into()))
    );
    assert_eq!(find_header(&format!("let s = \"{tag} MIT\";")), None);
    assert_eq!(find_header("no header here"), None);
}

#[test]
fn cargo_stale_metadata_export_is_named_as_the_cause() {
    let pkgs = cargo_packages(&cargo_inputs(false, true)).expect("reads");
    assert_eq!(expr(by_name(&pkgs, "gamma")), "GPL-3.0-only");
    let why = unknown_why(by_name(&pkgs, "beta"));
    assert!(
        why.contains("missing from the `cargo.metadata` export; regenerate it"),
        "{why}"
    );
}

/// A metadata export filtered to one platform (`cargo.platform`) leaves out crates not
/// built there: they are skipped, not reported as unknown; unfiltered, a crate missing
/// from the export is unknown.
#[test]
fn a_platform_filtered_export_skips_crates_of_other_platforms() {
    let all =
        license_check::sources::cargo::packages(&cargo_inputs(false, true)).expect("packages");
    let missing: Vec<&str> = all
        .iter()
        .filter(|p| matches!(&p.declared, Declared::Unknown { why } if why.contains("missing from the `cargo.metadata` export")))
        .map(|p| p.name.as_str())
        .collect();
    assert!(
        !missing.is_empty(),
        "the fixture has a crate the export lacks"
    );
    let filtered = license_check::sources::cargo::packages(&CargoInputs {
        platform_filtered: true,
        ..cargo_inputs(false, true)
    })
    .expect("packages");
    assert_eq!(filtered.len(), all.len() - missing.len());
    assert!(filtered.iter().all(|p| !missing.contains(&p.name.as_str())));
}
