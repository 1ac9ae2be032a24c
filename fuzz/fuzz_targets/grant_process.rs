//! `grants.process`: `ProcessGrant::matches` and its argument glob, plus the
//! `when.branch`/`when.tag` glob (`gantry_manifest::when_glob_match`).
//!
//! Properties:
//! - no panics, and bounded time: both globs are `O(pattern × text)`; run with
//!   `-timeout=` so a backtracking regression shows up as a timeout;
//! - each glob agrees with an obviously correct (exponential) reference matcher on
//!   short inputs;
//! - a pattern without metacharacters matches exactly itself; `*` (argument glob)
//!   and `**` (branch glob) match anything;
//! - `matches` accepts exactly what its documentation says: the same command, one
//!   argument per glob, any number of extra arguments after a final `"**"`;
//! - wildcards never stand for a `..` segment, an option or an absolute path: an
//!   accepted argument has no more `..` segments than its glob, starts with `-` only
//!   if its glob does, and starts with `/` only if its glob does.
#![no_main]

use arbitrary::Arbitrary;
use gantry_manifest::fuzzing::{arg_glob_match, arg_matches};
use gantry_manifest::{ProcessGrant, when_glob_match};
use libfuzzer_sys::fuzz_target;

#[derive(Arbitrary, Debug)]
struct Input<'a> {
    pattern: &'a str,
    text: &'a str,
    cmd: &'a str,
    same_program: bool,
    program: &'a str,
    globs: Vec<&'a str>,
    args: Vec<String>,
}

/// Reference for the argument glob: `*` any run (including `/`), `?` one char.
fn arg_ref(p: &[char], t: &[char]) -> bool {
    match p.split_first() {
        None => t.is_empty(),
        Some(('*', rest)) => (0..=t.len()).any(|i| arg_ref(rest, &t[i..])),
        Some(('?', rest)) => !t.is_empty() && arg_ref(rest, &t[1..]),
        Some((c, rest)) => t.first() == Some(c) && arg_ref(rest, &t[1..]),
    }
}

/// Reference for the branch glob: `**` any run, `*` any run without `/`, `?` one
/// char but `/`.
fn when_ref(p: &[char], t: &[char]) -> bool {
    match p {
        [] => t.is_empty(),
        ['*', '*', rest @ ..] => (0..=t.len()).any(|i| when_ref(rest, &t[i..])),
        ['*', rest @ ..] => (0..=t.len())
            .take_while(|&i| i == 0 || t[i - 1] != '/')
            .any(|i| when_ref(rest, &t[i..])),
        ['?', rest @ ..] => t.first().is_some_and(|c| *c != '/') && when_ref(rest, &t[1..]),
        [c, rest @ ..] => t.first() == Some(c) && when_ref(rest, &t[1..]),
    }
}

fn literal(s: &str) -> bool {
    !s.contains(['*', '?'])
}

fuzz_target!(|input: Input<'_>| {
    let (pattern, text) = (input.pattern, input.text);

    let arg = arg_glob_match(pattern, text);
    let when = when_glob_match(pattern, text);
    let (p, t): (Vec<char>, Vec<char>) = (pattern.chars().collect(), text.chars().collect());
    let stars = p.iter().filter(|c| **c == '*').count();
    if p.len() <= 12 && t.len() <= 10 && stars <= 4 {
        assert_eq!(
            arg,
            arg_ref(&p, &t),
            "argument glob `{pattern}` on `{text}`"
        );
        assert_eq!(
            when,
            when_ref(&p, &t),
            "branch glob `{pattern}` on `{text}`"
        );
    }
    if literal(pattern) {
        assert_eq!(
            arg,
            pattern == text,
            "literal argument glob `{pattern}` on `{text}`"
        );
        assert_eq!(
            when,
            pattern == text,
            "literal branch glob `{pattern}` on `{text}`"
        );
    }
    assert!(arg_glob_match(text, text) || !literal(text));
    assert!(arg_glob_match("*", text));
    assert!(when_glob_match("**", text));
    assert_eq!(when_glob_match("*", text), !text.contains('/'));

    // ProcessGrant::matches against its specification.
    let grant = ProcessGrant {
        cmd: input.cmd.to_string(),
        args: input.globs.iter().map(|g| g.to_string()).collect(),
        env: Vec::new(),
        read_only: false,
        timeout: None,
        output: gantry_manifest::DEFAULT_PROCESS_OUTPUT,
        read: Vec::new(),
        network: false,
    };
    let program = if input.same_program {
        input.cmd
    } else {
        input.program
    };
    let result = grant.matches(program, &input.args);
    let (fixed, rest) = match grant.args.split_last() {
        Some((last, fixed)) if last == "**" => (fixed, true),
        _ => (grant.args.as_slice(), false),
    };
    let count_ok = if rest {
        input.args.len() >= fixed.len()
    } else {
        input.args.len() == fixed.len()
    };
    let expected = program == grant.cmd
        && count_ok
        && fixed
            .iter()
            .zip(&input.args)
            .all(|(g, a)| arg_matches(g, a));
    let dotdots = |s: &str| s.split(['/', '=', ':', ',']).filter(|x| *x == "..").count();
    for (g, a) in fixed.iter().zip(&input.args) {
        if arg_matches(g, a) {
            assert!(dotdots(a) <= dotdots(g), "`{g}` admitted `{a}`");
            assert!(!a.starts_with('-') || g.starts_with('-'), "`{g}` admitted option `{a}`");
            assert!(!a.starts_with('/') || g.starts_with('/'), "`{g}` admitted path `{a}`");
        }
        assert!(!arg_matches(g, a) || arg_glob_match(g, a));
    }
    assert_eq!(
        result.is_ok(),
        expected,
        "{grant:?} on {program:?} {:?}: {result:?}",
        input.args
    );
    if let Err(why) = result {
        assert!(!why.is_empty());
        // Denials quote at most 80 characters of an argument.
        for a in &input.args {
            let elsewhere = grant.cmd.contains(a.as_str())
                || program.contains(a.as_str())
                || grant.args.iter().any(|g| g.contains(a.as_str()));
            if a.chars().count() > 200 && !a.contains(['`', '\\']) && !elsewhere {
                assert!(!why.contains(a.as_str()), "a long argument is quoted whole");
            }
        }
    }
});
