//! The bulk filesystem capability (`gantry:plugin/files`, host/src/caps/fs/files.rs)
//! against a plugin that calls it directly with whatever it likes
//! (`tests/plugins/files-probe`): no grant, someone else's grant, `/etc/passwd`,
//! `..`, relative paths, names that are paths, symbolic links leading out (as a
//! directory on the way and as the file), a FIFO that would block a reader forever.
//!
//! What a user would notice: a plugin outside its grants gets `denied` naming the
//! stage, the capability and the grant line that would allow it, and `audit.jsonl`
//! has the same refusal; paths no grant can allow are refused as such; links are
//! never followed and nothing outside the grants is ever read (its content appears
//! in no record); a FIFO is reported, not read, and the run ends; nothing in the
//! workspace or outside it changes. The positive controls show granted listings and
//! reads work, size limits and the per-call budget hold, and a write grant may be
//! read.

use std::time::Duration;

use gantry_test_plugins::{Run, Workspace, files_under, pinned, plugins, snapshot};

const GANTRY: &str = env!("CARGO_BIN_EXE_gantry");

/// What only the file outside the workspace contains.
const OUTSIDE_SECRET: &str = "outside-the-workspace-3f9a1c";

/// `[stage.NAME]` running files-probe with `with` (inline table body) and `grants`
/// (TOML lines).
fn stage(plugin: &str, name: &str, with: &str, grants: &str) -> String {
    format!("[stage.{name}]\nplugin = \"{plugin}\"\nwith = {{ {with} }}\n{grants}\n\n")
}

/// The `fs` deny lines of `audit.jsonl` for `stage`, parsed.
fn denials(r: &Run, stage: &str) -> Vec<serde_json::Value> {
    r.audit()
        .iter()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).expect("audit line is JSON"))
        .filter(|v| v["stage"] == stage && v["capability"] == "fs" && v["decision"] == "deny")
        .collect()
}

/// A refused call: output `key` of `stage` is `denied:` with the stage, the operation
/// and `must_contain`; the audit log has the one refusal with the same text.
fn assert_denied(r: &Run, stage: &str, key: &str, op: &str, must_contain: &[&str]) {
    let res = r.output(stage, key);
    assert!(
        res.starts_with("denied:"),
        "{stage}: expected a denial, got {res}"
    );
    assert!(
        res.contains(&format!("stage `{stage}`")),
        "{stage}: the message names the stage: {res}"
    );
    assert!(res.contains(&format!("fs {op} refused")), "{stage}: {res}");
    for s in must_contain {
        assert!(
            res.contains(s),
            "{stage}: the message should contain {s:?}: {res}"
        );
    }
    let audit = denials(r, stage);
    assert_eq!(
        audit.len(),
        1,
        "{stage}: one deny line in audit.jsonl: {audit:#?}"
    );
    assert_eq!(audit[0]["operation"], op, "{stage}: {audit:#?}");
    let reason = audit[0]["reason"].as_str().unwrap_or_default();
    assert_eq!(
        format!("denied:{reason}"),
        res,
        "{stage}: the audit reason is what the plugin was told"
    );
}

/// Answer `key` of `stage` refused a symbolic link: `invalid:` for a link on the way
/// to a directory, `failed:` for a file that is one; either way the message says so.
fn assert_link_refused(r: &Run, stage: &str, key: &str, prefix: &str) {
    let a = r.output(stage, key);
    assert!(
        a.starts_with(prefix) && a.contains("symbolic link"),
        "{stage} {key}: {a}"
    );
}

/// No run record, and neither of gantry's output streams, holds content from outside
/// the grants (the planted file, or `/etc/passwd`'s first line).
fn assert_nothing_from_outside(r: &Run) {
    let records = r.dir.as_ref().expect("run directory");
    for f in files_under(records) {
        let text = String::from_utf8_lossy(&std::fs::read(&f).expect("read record")).into_owned();
        assert!(
            !text.contains(OUTSIDE_SECRET) && !text.contains("root:x:0:0"),
            "{} holds content from outside the grants",
            f.display()
        );
    }
    assert!(!r.stdout.contains(OUTSIDE_SECRET) && !r.stderr.contains(OUTSIDE_SECRET));
}

#[test]
fn files_capability_refuses_and_audits_everything_outside_the_grants() {
    let fp = pinned(plugins::FILES_PROBE);
    let ws = Workspace::new(GANTRY);
    ws.write("src/main.rs", "fn main() {}\n");
    ws.write("src/notes.txt", "granted notes");
    ws.write("src/big.bin", vec![b'x'; 4096]);
    ws.write("src/sub/inner.txt", "inner");
    ws.write("docs/readme.md", "docs");
    ws.write("out/result.txt", "written earlier");
    for (name, body) in [
        ("a", "0123456789"),
        ("b", "0123456789"),
        ("c", "0123456789"),
    ] {
        ws.write(&format!("budget/{name}"), body);
    }
    // Outside the workspace: a directory and a file only reachable through links.
    let outside = ws.root.with_extension("outside");
    std::fs::create_dir_all(&outside).expect("mkdir outside");
    std::fs::write(outside.join("secret.txt"), OUTSIDE_SECRET).expect("write outside");
    std::os::unix::fs::symlink(&outside, ws.path("linkdir")).expect("symlink dir");
    std::os::unix::fs::symlink(outside.join("secret.txt"), ws.path("src/leak.txt"))
        .expect("symlink file");
    // A link that stays inside the workspace is not followed either.
    std::os::unix::fs::symlink(ws.path("src"), ws.path("alias")).expect("symlink inside");
    let fifo = ws.path("src/pipe");
    let made = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .expect("run mkfifo");
    assert!(made.success(), "mkfifo {}", fifo.display());

    let everything = r#"grants.fs.read = ["."]"#;
    let src_only = r#"grants.fs.read = ["src"]"#;
    let mut p = String::from("[pipeline]\nname = \"files-attacks\"\n\n");
    for (name, with, grants) in [
        // Outside the grants: denied, naming the grant that would allow it.
        ("no-grant", r#"list = "/workspace/src""#, ""),
        (
            "other-grant",
            r#"read = "/workspace/src", names = ["main.rs"]"#,
            r#"grants.fs.read = ["docs"]"#,
        ),
        ("sibling", r#"list = "/workspace/docs""#, src_only),
        ("whole-workspace", r#"list = "/workspace""#, src_only),
        // Never allowed, whatever the grants.
        (
            "etc-passwd",
            r#"read = "/etc", names = ["passwd"]"#,
            everything,
        ),
        ("dotdot", r#"list = "/workspace/../etc""#, everything),
        (
            "dotdot-inside",
            r#"list = "/workspace/src/../docs""#,
            src_only,
        ),
        ("relative", r#"list = "src""#, everything),
        // Granted, but the names are paths: each refused, nothing read.
        (
            "names-are-paths",
            r#"read = "/workspace/src", names = ["../docs/readme.md", "..", "/etc/passwd", "sub/inner.txt", "main.rs"]"#,
            src_only,
        ),
        // Symbolic links leading out, as the directory and as the file.
        (
            "link-dir-list",
            r#"list = "/workspace/linkdir""#,
            everything,
        ),
        (
            "link-dir-read",
            r#"read = "/workspace/linkdir", names = ["secret.txt"]"#,
            everything,
        ),
        (
            "link-file",
            r#"read = "/workspace/src", names = ["leak.txt", "main.rs"]"#,
            src_only,
        ),
        ("link-inside", r#"list = "/workspace/alias""#, everything),
        // A FIFO (would block a reader forever) and a directory are not regular files.
        (
            "fifo",
            r#"read = "/workspace/src", names = ["pipe", "sub", "notes.txt"]"#,
            src_only,
        ),
        // Positive controls.
        (
            "granted",
            r#"list = "/workspace/src", read = "/workspace/src", names = ["main.rs", "big.bin", "missing.txt"], max-size = 1024"#,
            src_only,
        ),
        (
            "budget",
            r#"read = "/workspace/budget", names = ["a", "b", "c"], budget = 15"#,
            everything,
        ),
        (
            "write-grant",
            r#"read = "/workspace/out", names = ["result.txt"]"#,
            r#"grants.fs.write = ["out"]"#,
        ),
        ("nested", r#"list = "/workspace/src/sub""#, src_only),
    ] {
        p.push_str(&stage(&fp, name, with, grants));
    }
    ws.write("pipeline.toml", &p);
    let before = snapshot(&ws.root);
    let outside_before = snapshot(&outside);

    // A host that read the FIFO would block here; the run must end on its own.
    let r = ws.gantry_within(&["run", "--jobs", "2"], Duration::from_secs(120));
    assert_eq!(r.code, 0, "every stage reports, none fails\n{}", r.stderr);

    // Outside the grants: denied with the grant line, audited.
    assert_denied(
        &r,
        "no-grant",
        "list",
        "list-dir",
        &[r#"grants.fs.read = ["src"]"#],
    );
    assert_denied(
        &r,
        "other-grant",
        "read",
        "read-files",
        &["`/workspace/src`", r#"grants.fs.read = ["src"]"#],
    );
    assert_denied(
        &r,
        "sibling",
        "list",
        "list-dir",
        &[r#"grants.fs.read = ["docs"]"#],
    );
    assert_denied(
        &r,
        "whole-workspace",
        "list",
        "list-dir",
        &[r#"grants.fs.read = ["."]"#],
    );

    // Never allowed: refused as such, audited.
    let never = "gantry never allows this";
    assert_denied(
        &r,
        "etc-passwd",
        "read",
        "read-files",
        &["`/etc` is outside the workspace", never],
    );
    assert_denied(&r, "dotdot", "list", "list-dir", &["`..` component", never]);
    assert_denied(
        &r,
        "dotdot-inside",
        "list",
        "list-dir",
        &["`..` component", never],
    );
    assert_denied(
        &r,
        "relative",
        "list",
        "list-dir",
        &["outside the workspace", never],
    );

    // Names that are paths: each answer refused, the plain name next to them read.
    assert_eq!(r.output("names-are-paths", "read"), "ok:5");
    for i in 0..4 {
        let a = r.output("names-are-paths", &format!("read-{i}"));
        assert!(a.contains("is not a single file name"), "read-{i}: {a}");
    }
    assert_eq!(
        r.output("names-are-paths", "read-4"),
        "content:fn main() {}\n"
    );

    // Links: never followed, in the directory path or as the file.
    assert_link_refused(&r, "link-dir-list", "list", "invalid:");
    assert_link_refused(&r, "link-inside", "list", "invalid:");
    assert_link_refused(&r, "link-dir-read", "read", "invalid:");
    assert_eq!(r.output("link-file", "read"), "ok:2");
    assert_link_refused(&r, "link-file", "read-0", "failed:");
    assert_eq!(r.output("link-file", "read-1"), "content:fn main() {}\n");

    // The FIFO and the directory are reported, not read; the file after them is.
    assert_eq!(r.output("fifo", "read"), "ok:3");
    assert_eq!(r.output("fifo", "read-0"), "failed:not a regular file");
    assert_eq!(r.output("fifo", "read-1"), "failed:not a regular file");
    assert_eq!(r.output("fifo", "read-2"), "content:granted notes");

    // Positive controls: listing shows links and specials for what they are.
    assert_eq!(
        r.output("granted", "list"),
        "ok:big.bin=file,leak.txt=symlink,main.rs=file,notes.txt=file,pipe=other,sub=dir"
    );
    assert_eq!(r.output("granted", "read"), "ok:3");
    assert_eq!(r.output("granted", "read-0"), "content:fn main() {}\n");
    assert_eq!(r.output("granted", "read-1"), "too-large:4096");
    let a = r.output("granted", "read-2");
    assert!(
        a.starts_with("failed:") && a.contains("No such file"),
        "{a}"
    );
    assert_eq!(r.output("nested", "list"), "ok:inner.txt=file");
    assert_eq!(r.output("write-grant", "read-0"), "content:written earlier");
    // The budget (15 bytes) is crossed by the second file: the answer stops there
    // and the plugin asks again for the rest.
    assert_eq!(r.output("budget", "read"), "ok:2");

    // Allowed calls are not audited one by one; every refusal above is.
    let fs_denials = r
        .audit()
        .iter()
        .filter(|l| l.contains(r#""capability":"fs""#) && l.contains(r#""decision":"deny""#))
        .count();
    assert_eq!(
        fs_denials,
        8,
        "one line per refused call:\n{}",
        r.audit().join("\n")
    );

    // Nothing outside the grants was read into any record; nothing changed.
    assert_nothing_from_outside(&r);
    assert_eq!(snapshot(&ws.root), before, "the workspace is unchanged");
    assert_eq!(snapshot(&outside), outside_before, "outside is unchanged");
    let _ = std::fs::remove_dir_all(&outside);
}

/// A symbolic link below a granted directory, leading out of the workspace, leads
/// nowhere: the host resolves every path from the directory it opened when the stage
/// started, and the kernel refuses any link on the way
/// (`RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS`), so neither reading through it nor listing
/// it reaches the outside.
#[test]
fn a_granted_directory_with_a_link_below_it_does_not_lead_out() {
    let fp = pinned(plugins::FILES_PROBE);
    let ws = Workspace::new(GANTRY);
    ws.write("data/ok.txt", "ok");
    let outside = ws.root.with_extension("outside2");
    std::fs::create_dir_all(outside.join("deep")).expect("mkdir outside");
    std::fs::write(outside.join("deep/secret.txt"), OUTSIDE_SECRET).expect("write outside");
    std::os::unix::fs::symlink(&outside, ws.path("data/escape")).expect("symlink");
    let mut p = String::from("[pipeline]\nname = \"files-links\"\n\n");
    let grant = r#"grants.fs.read = ["data"]"#;
    p.push_str(&stage(
        &fp,
        "through-link",
        r#"read = "/workspace/data/escape/deep", names = ["secret.txt"]"#,
        grant,
    ));
    p.push_str(&stage(
        &fp,
        "list-link",
        r#"list = "/workspace/data/escape""#,
        grant,
    ));
    p.push_str(&stage(&fp, "control", r#"list = "/workspace/data""#, grant));
    ws.write("pipeline.toml", &p);

    let r = ws.gantry_within(&["run"], Duration::from_secs(60));
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_link_refused(&r, "through-link", "read", "invalid:");
    assert_link_refused(&r, "list-link", "list", "invalid:");
    assert_eq!(r.output("control", "list"), "ok:escape=symlink,ok.txt=file");
    assert_nothing_from_outside(&r);
    let _ = std::fs::remove_dir_all(&outside);
}
