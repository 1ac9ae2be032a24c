//! Image references and `grants.containers.run` patterns: `ImageRef::parse`,
//! `ImagePattern::parse`, `ImagePattern::matches`, `ContainersGrant::may_run`.
//!
//! Properties:
//! - no panics;
//! - what is checked is what runs: the host sends `ImageRef`'s `Display` to the
//!   Docker Engine, so it must parse back to the same reference; same for patterns;
//! - a parsed reference always has a tag or a digest (`latest` by default), and a
//!   valid repository;
//! - a reference, written as a pattern, matches itself; so does its repository
//!   alone (every tag and digest);
//! - a pattern without `*` in its repository matches only that repository, and a
//!   match implies the tag and digest globs match too.
#![no_main]

use arbitrary::Arbitrary;
use gantry_manifest::fuzzing::arg_glob_match;
use gantry_manifest::{ContainersGrant, ImagePattern, ImageRef};
use libfuzzer_sys::fuzz_target;

#[derive(Arbitrary, Debug)]
struct Input<'a> {
    image: &'a str,
    pattern: &'a str,
}

fuzz_target!(|input: Input<'_>| {
    let image = ImageRef::parse(input.image);
    if let Ok(r) = &image {
        assert!(r.tag.is_some() || r.digest.is_some(), "{r:?}");
        assert!(
            !r.repository.is_empty() && !r.repository.contains("//"),
            "{r:?}"
        );
        assert!(!r.repository.contains(['*', '@', ' ']), "{r:?}");
        let shown = r.to_string();
        assert_eq!(
            ImageRef::parse(&shown).as_ref(),
            Ok(r),
            "`{}` is shown as `{shown}`, which is another image",
            input.image
        );
        let _ = r.registry();
        if r.repository.len() <= 256 {
            let own = ImagePattern::parse(&shown)
                .unwrap_or_else(|e| panic!("`{shown}` is no pattern: {e}"));
            assert!(own.matches(r), "`{shown}` does not match itself");
            let repo = ImagePattern::parse(&r.repository)
                .unwrap_or_else(|e| panic!("`{}` is no pattern: {e}", r.repository));
            assert!(
                repo.matches(r),
                "`{}` does not match `{shown}`",
                r.repository
            );
            let grant = ContainersGrant {
                run: vec![repo],
                push: vec![r.repository.clone()],
                ..ContainersGrant::default()
            };
            assert!(grant.may_run(r) && grant.may_push(r));
        }
    }
    let Ok(p) = ImagePattern::parse(input.pattern) else {
        return;
    };
    assert!(
        !p.repository
            .split('/')
            .all(|c| c.chars().all(|ch| ch == '*'))
    );
    let shown = p.to_string();
    assert_eq!(
        ImagePattern::parse(&shown).as_ref(),
        Ok(&p),
        "pattern `{}` is shown as `{shown}`",
        input.pattern
    );
    let Ok(r) = &image else {
        return;
    };
    if p.matches(r) {
        if !p.repository.contains('*') {
            assert_eq!(p.repository, r.repository, "`{shown}` matches `{r}`");
        }
        if let (Some(pt), Some(rt)) = (&p.tag, &r.tag) {
            assert!(arg_glob_match(pt, rt), "`{shown}` matches `{r}`");
        }
        if let Some(pd) = &p.digest {
            let rd = r
                .digest
                .as_deref()
                .unwrap_or_else(|| panic!("`{shown}` matches `{r}`"));
            assert!(arg_glob_match(pd, rd), "`{shown}` matches `{r}`");
        }
    }
});
