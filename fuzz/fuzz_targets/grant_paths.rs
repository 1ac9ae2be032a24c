//! Workspace paths (`grants.fs`, `normalize_workspace_path`) and the repository
//! glob of `grants.containers` (`path_glob`).
//!
//! Properties of `normalize_workspace_path`:
//! - a normalized path is relative (no leading `/`, no drive letter), has no `.`,
//!   `..` or empty components (the root is `.`), no `\`, NUL or glob characters;
//! - normalizing is idempotent, and agrees with a lexical reference walk: an input
//!   whose `..` climbs above the root is an error, otherwise the result is the
//!   components that remain;
//! - joining two normal paths and normalizing equals normalizing the joined inputs.
//!
//! Properties of `path_glob` (`*` within a component, `**` across):
//! - agrees with an obviously correct reference matcher on short inputs;
//! - a pattern without `*` matches exactly itself; `**` matches everything, `*`
//!   exactly what has no `/`; bounded time whatever the stars (`-timeout=`).
#![no_main]

use arbitrary::Arbitrary;
use gantry_manifest::grants::containers::path_glob;
use gantry_manifest::normalize_workspace_path;
use libfuzzer_sys::fuzz_target;

#[derive(Arbitrary, Debug)]
struct Input<'a> {
    path: &'a str,
    other: &'a str,
    pattern: &'a str,
    text: &'a str,
}

/// Lexical reference: `Some(components)` or `None` when `..` leaves the root.
fn walk(path: &str) -> Option<Vec<&str>> {
    let mut out = Vec::new();
    for c in path.split('/') {
        match c {
            "" | "." => {}
            ".." => {
                out.pop()?;
            }
            c => out.push(c),
        }
    }
    Some(out)
}

fn check_normal(n: &str, input: &str) {
    let what = format!("`{}` → `{}`", input.escape_debug(), n.escape_debug());
    assert!(!n.is_empty(), "{what}");
    assert!(!n.starts_with('/') && !n.starts_with('~'), "{what}");
    assert!(!n.contains(['\\', '\0', '*', '?', '[']), "{what}");
    if n != "." {
        assert!(
            n.split('/').all(|c| !c.is_empty() && c != "." && c != ".."),
            "{what}"
        );
    }
    assert_eq!(
        normalize_workspace_path(n)
            .as_deref()
            .map_err(|e| e.0.as_str()),
        Ok(n),
        "not idempotent: {what}"
    );
}

/// Reference for `path_glob`.
fn glob_ref(p: &[u8], t: &[u8]) -> bool {
    match p {
        [] => t.is_empty(),
        [b'*', b'*', rest @ ..] => (0..=t.len()).any(|i| glob_ref(rest, &t[i..])),
        [b'*', rest @ ..] => (0..=t.len())
            .take_while(|&i| i == 0 || t[i - 1] != b'/')
            .any(|i| glob_ref(rest, &t[i..])),
        [c, rest @ ..] => t.first() == Some(c) && glob_ref(rest, &t[1..]),
    }
}

fuzz_target!(|input: Input<'_>| {
    let normal = normalize_workspace_path(input.path);
    match (&normal, walk(input.path)) {
        (Ok(n), reference) => {
            check_normal(n, input.path);
            let parts = reference
                .unwrap_or_else(|| panic!("`{}` escapes but was accepted as `{n}`", input.path));
            let expected = if parts.is_empty() {
                ".".to_string()
            } else {
                parts.join("/")
            };
            assert_eq!(n, &expected, "`{}`", input.path);
        }
        // An input that escapes must land here (checked above); the error says why.
        (Err((why, hint)), _) => assert!(!why.is_empty() && !hint.is_empty()),
    }
    if let (Ok(a), Ok(b)) = (&normal, normalize_workspace_path(input.other)) {
        let joined = normalize_workspace_path(&format!("{}/{}", input.path, input.other));
        assert_eq!(
            joined.as_ref().map_err(|e| &e.0),
            normalize_workspace_path(&format!("{a}/{b}"))
                .as_ref()
                .map_err(|e| &e.0),
            "joining `{}` and `{}`",
            input.path,
            input.other
        );
    }

    let (pattern, text) = (input.pattern, input.text);
    let m = path_glob(pattern, text);
    let (p, t) = (pattern.as_bytes(), text.as_bytes());
    let stars = p.iter().filter(|c| **c == b'*').count();
    if p.len() <= 12 && t.len() <= 10 && stars <= 4 {
        assert_eq!(m, glob_ref(p, t), "`{pattern}` on `{text}`");
    }
    if p.len() <= 256 && t.len() <= 4096 {
        if !pattern.contains('*') {
            assert_eq!(m, pattern == text, "literal `{pattern}` on `{text}`");
        }
        assert!(path_glob("**", text));
        assert_eq!(path_glob("*", text), !text.contains('/'), "`*` on `{text}`");
    } else {
        assert!(!m, "over-long inputs never match");
    }
});
