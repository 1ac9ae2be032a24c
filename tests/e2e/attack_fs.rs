//! Attacks on the `fs` capability by the `hostile` test plugin and a workspace the
//! attacker partly wrote: the preopen race (a granted path swapped for a link to `/`
//! while stages start), symbolic links that lead out of a write grant, and the run
//! records (which live outside the workspace and cannot be granted).

use gantry_test_plugins::{Workspace, pinned, plugins};

const GANTRY: &str = env!("CARGO_BIN_EXE_gantry");

fn result(r: &gantry_test_plugins::Run, stage: &str) -> String {
    r.stage(stage)["outputs"]["result"]
        .as_str()
        .unwrap_or_else(|| panic!("stage {stage} reported no result: {}", r.stage(stage)))
        .to_string()
}

/// The attack suite's preopen race: `rw/sub` is swapped between a directory and a
/// planted link to `/` by one stage (write grant on `rw`) while many stages granted
/// only `rw/sub` start and read `etc/hostname` beneath it. Each reader either starts
/// with the real `rw/sub` (and finds no such file) or is refused before it starts
/// (the grant passes through a symbolic link); none reads the host's file.
#[test]
fn a_grant_swapped_for_a_link_never_opens_outside_the_workspace() {
    let h = pinned(plugins::HOSTILE);
    let ws = Workspace::new(GANTRY);
    ws.write("rw/sub/marker", "inside");
    // The attacker's half of the workspace: a link to the host's root.
    std::os::unix::fs::symlink("/", ws.path("rw/evil")).expect("plant the link");
    let mut toml = format!(
        r#"
[pipeline]
name = "race"

[stage.swapper]
plugin = "{h}"
grants.fs.write = ["rw"]
allow-failure = true
with = {{ action = "swap", path = "rw/sub", to = "rw/evil", count = 200000 }}
"#
    );
    let readers = 24;
    for i in 0..readers {
        toml.push_str(&format!(
            r#"
[stage.reader-{i}]
plugin = "{h}"
grants.fs.read = ["rw/sub"]
allow-failure = true
with = {{ action = "read", path = "rw/sub/etc/hostname" }}
"#
        ));
    }
    ws.write("pipeline.toml", toml);
    let r = ws.gantry(&["run", "--no-fail-fast", "--jobs", "6"]);
    assert!(r.code == 0 || r.code == 1, "{}", r.stderr);
    let host = std::fs::read_to_string("/etc/hostname").unwrap_or_default();
    let mut refused = 0;
    for i in 0..readers {
        let rec = r.stage(&format!("reader-{i}"));
        match rec["status"].as_str() {
            Some("succeeded") => {
                let got = rec["outputs"]["result"].as_str().unwrap_or_default();
                assert!(got.starts_with("err:"), "reader-{i} read a file: {rec}");
                if !host.trim().is_empty() {
                    assert!(!got.contains(host.trim()), "reader-{i}: {rec}");
                }
            }
            _ => {
                refused += 1;
                let why = rec["reason"].as_str().unwrap_or_default();
                assert!(
                    why.contains("passes through a symbolic link")
                        || why.contains("does not exist"),
                    "reader-{i}: {rec}"
                );
            }
        }
    }
    // The audit log says which starts were refused, one `deny` per refused reader.
    let denied = r
        .audit()
        .iter()
        .filter(|l| l.contains("\"operation\":\"preopen\"") && l.contains("\"decision\":\"deny\""))
        .count();
    assert_eq!(denied, refused, "{}", r.file("audit.jsonl"));
}

/// A plugin may make links inside its write grant, never one that leads out of it:
/// absolute, or climbing above the grant. Refusals are `not-permitted` to the plugin,
/// `deny` in the audit log, a note in the stage log; no link is left behind.
#[test]
fn links_out_of_a_write_grant_are_refused_and_audited() {
    let h = pinned(plugins::HOSTILE);
    let ws = Workspace::new(GANTRY);
    ws.write("dist/lib/libx.so.1", "lib");
    ws.write("src/secret.key", "do not ship");
    let stage = |name: &str, path: &str, to: &str| {
        format!(
            r#"
[stage.{name}]
plugin = "{h}"
grants.fs.write = ["dist"]
with = {{ action = "symlink", path = "{path}", to = "{to}" }}
"#
        )
    };
    let mut toml = String::from("[pipeline]\nname = \"links\"\n");
    toml += &stage("inside", "dist/lib/libx.so", "libx.so.1");
    toml += &stage("up-inside", "dist/lib/up", "../lib/libx.so.1");
    toml += &stage("absolute", "dist/passwd", "/etc/passwd");
    toml += &stage("above", "dist/key", "../src/secret.key");
    toml += &stage("deep-above", "dist/lib/key", "../../src/secret.key");
    toml += &stage("dotdot-after-name", "dist/x", "lib/../../src");
    ws.write("pipeline.toml", toml);
    let r = ws.gantry(&["run", "--no-fail-fast"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(result(&r, "inside"), "ok:linked");
    assert_eq!(result(&r, "up-inside"), "ok:linked");
    assert_eq!(
        std::fs::read_link(ws.path("dist/lib/libx.so")).expect("made"),
        std::path::Path::new("libx.so.1")
    );
    for (stage, link) in [
        ("absolute", "dist/passwd"),
        ("above", "dist/key"),
        ("deep-above", "dist/lib/key"),
        ("dotdot-after-name", "dist/x"),
    ] {
        assert_eq!(result(&r, stage), "err:not-permitted", "{stage}");
        assert!(
            std::fs::symlink_metadata(ws.path(link)).is_err(),
            "{stage}: no link left at {link}"
        );
        assert!(
            r.log(stage)
                .contains("would lead out of the write grant `dist`"),
            "{stage}: {}",
            r.log(stage)
        );
    }
    let denials: Vec<String> = r
        .audit()
        .into_iter()
        .filter(|l| l.contains("\"operation\":\"symlink\"") && l.contains("\"decision\":\"deny\""))
        .collect();
    assert_eq!(denials.len(), 4, "{}", r.file("audit.jsonl"));
    assert!(
        denials
            .iter()
            .any(|l| l.contains("its target is an absolute path"))
    );
}

/// Run records are out of every grant's reach: `fs.read = ["."]` cannot read other
/// runs' logs through `.gantry`, `fs.write = ["."]` cannot append a forged line to an
/// earlier run's `audit.jsonl`, and a grant naming `.gantry` is refused by `check`.
#[test]
fn run_records_cannot_be_read_or_forged_by_a_plugin() {
    let h = pinned(plugins::HOSTILE);
    let p = pinned(plugins::PROBE);
    let ws = Workspace::new(GANTRY);
    ws.write(
        "pipeline.toml",
        format!(
            r#"
[pipeline]
name = "records"

[stage.first]
plugin = "{p}"
"#
        ),
    );
    let first = ws.gantry(&["run"]);
    assert_eq!(first.code, 0, "{}", first.stderr);
    let first_dir = first.dir.clone().expect("records of the first run");
    let id = first_dir
        .file_name()
        .expect("id")
        .to_string_lossy()
        .into_owned();
    // Records live outside the workspace; `.gantry` links to them.
    let real = first_dir.canonicalize().expect("real path");
    assert!(!real.starts_with(&ws.root), "records at {}", real.display());
    assert_eq!(
        ws.path(".gantry/runs")
            .join(&id)
            .canonicalize()
            .expect("through the link"),
        real
    );
    assert!(
        std::fs::symlink_metadata(ws.path(".gantry"))
            .expect(".gantry")
            .file_type()
            .is_symlink()
    );
    assert!(
        first
            .stderr
            .contains(&format!("records in `.gantry/runs/{id}`")),
        "{}",
        first.stderr
    );
    let audit_before = std::fs::read(first_dir.join("audit.jsonl")).expect("audit");

    ws.write(
        "pipeline.toml",
        format!(
            r#"
[pipeline]
name = "records"

[stage.list]
plugin = "{h}"
grants.fs.read = ["."]
with = {{ action = "list", path = ".gantry/runs" }}

[stage.read]
plugin = "{h}"
grants.fs.read = ["."]
with = {{ action = "read", path = ".gantry/runs/{id}/logs/first.log" }}

[stage.forge]
plugin = "{h}"
grants.fs.write = ["."]
with = {{ action = "append", path = ".gantry/runs/{id}/audit.jsonl" }}

[stage.unlink]
plugin = "{h}"
grants.fs.write = ["."]
needs = ["list", "read", "forge"]
with = {{ action = "rename", path = ".gantry", to = "elsewhere" }}
"#
        ),
    );
    let r = ws.gantry(&["run", "--no-fail-fast"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    for stage in ["list", "read", "forge"] {
        let got = result(&r, stage);
        assert!(got.starts_with("err:"), "{stage}: {got}");
    }
    assert_eq!(
        std::fs::read(first_dir.join("audit.jsonl")).expect("audit"),
        audit_before,
        "the earlier run's audit log is unchanged"
    );
    // Moving the link away changes nothing gantry trusts; the next run puts it back.
    assert_eq!(result(&r, "unlink"), "ok:renamed");
    let again = ws.gantry(&["run", "list"]);
    assert_eq!(again.code, 0, "{}", again.stderr);
    assert!(
        std::fs::read_dir(ws.path(".gantry/runs"))
            .expect("relinked")
            .count()
            >= 3
    );

    // A grant into the records is refused before anything runs.
    for grant in [
        "grants.fs.write = [\".gantry/runs\"]",
        "grants.fs.read = [\"./.gantry\"]",
    ] {
        ws.write(
            "pipeline.toml",
            format!("[pipeline]\nname = \"records\"\n\n[stage.x]\nplugin = \"{h}\"\n{grant}\nwith = {{ action = \"env\" }}\n"),
        );
        let c = ws.gantry(&["check"]);
        assert_eq!(c.code, 2, "{grant}: {}", c.stderr);
        assert!(c.stderr.contains("gantry's run records"), "{}", c.stderr);
        assert!(c.stderr.contains("pipeline.toml:6:"), "{}", c.stderr);
    }
}

/// A host command in its sandbox can make any link inside a writable bind (gantry
/// cannot refuse it there): links that lead out of the write grant are removed when
/// the stage ends, said in the stage log and the audit log; links that stay inside
/// are kept.
#[test]
fn links_out_of_a_write_grant_made_by_a_command_are_swept_at_stage_end() {
    let pp = pinned(plugins::PROC_PROBE);
    let ws = Workspace::new(GANTRY);
    ws.write("dist/lib/libx.so.1", "lib");
    let script = "ln -s /etc/shadow dist/shadow; ln -s ../../src dist/lib/up; ln -s libx.so.1 dist/lib/libx.so; echo made";
    ws.write(
        "pipeline.toml",
        format!(
            r#"[pipeline]
name = "sweep"

[stage.links]
plugin = "{pp}"
grants.fs.write = ["dist"]
grants.process = [{{ cmd = "sh", args = ["-c", "{script}"] }}]
with = {{ program = "sh", args = ["-c", "{script}"] }}
"#
        ),
    );
    let r = ws.gantry(&["run"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(
        r.stage("links")["outputs"]["stdout"],
        "made\n",
        "{}",
        r.stage("links")
    );
    assert!(
        std::fs::symlink_metadata(ws.path("dist/shadow")).is_err(),
        "swept"
    );
    assert!(
        std::fs::symlink_metadata(ws.path("dist/lib/up")).is_err(),
        "swept"
    );
    assert_eq!(
        std::fs::read_link(ws.path("dist/lib/libx.so")).expect("kept"),
        std::path::Path::new("libx.so.1")
    );
    let log = r.log("links");
    assert!(
        log.contains("removed symbolic link `dist/shadow` → `/etc/shadow`: it leads out of the write grant `dist`"),
        "{log}"
    );
    let swept = r
        .audit()
        .into_iter()
        .filter(|l| l.contains("\"operation\":\"sweep\""))
        .count();
    assert_eq!(swept, 2, "{}", r.file("audit.jsonl"));
}

/// Only regular files and directories are opened through `wasi:filesystem`: a FIFO in
/// a granted directory (which would block the host thread in the kernel, past the
/// stage's timeout) and a device node (the host's device) are refused at once with
/// `access`, audited and noted; a regular file next to them still reads.
#[test]
fn fifos_and_device_nodes_are_never_opened() {
    let h = pinned(plugins::HOSTILE);
    let ws = Workspace::new(GANTRY);
    ws.write("ro/plain.txt", "plain");
    let fifo = std::ffi::CString::new(ws.path("ro/fifo").to_str().expect("utf-8")).expect("path");
    // SAFETY: a valid NUL-terminated path.
    assert_eq!(unsafe { libc::mkfifo(fifo.as_ptr(), 0o644) }, 0, "mkfifo");
    // A character device like /dev/zero (needs root, which the test machines have;
    // without it the device case is skipped visibly).
    let dev = std::ffi::CString::new(ws.path("ro/zero").to_str().expect("utf-8")).expect("path");
    // SAFETY: a valid NUL-terminated path; makedev(1, 5) is /dev/zero.
    let made_dev =
        unsafe { libc::mknod(dev.as_ptr(), libc::S_IFCHR | 0o644, libc::makedev(1, 5)) } == 0;
    if !made_dev {
        use std::io::Write as _;
        let _ = writeln!(
            std::io::stderr(),
            "SKIPPED fifos_and_device_nodes_are_never_opened (device part): mknod needs root"
        );
    }
    let mut toml = String::from("[pipeline]\nname = \"special\"\n");
    for (name, path) in [
        ("fifo", "ro/fifo"),
        ("dev", "ro/zero"),
        ("plain", "ro/plain.txt"),
    ] {
        toml.push_str(&format!(
            "\n[stage.{name}]\nplugin = \"{h}\"\ntimeout = \"20s\"\ngrants.fs.read = [\"ro\"]\nwith = {{ action = \"read\", path = \"{path}\" }}\n"
        ));
    }
    ws.write("pipeline.toml", toml);
    // A hang watchdog: before the fix the FIFO stage blocked gantry indefinitely.
    let r = ws.gantry_within(
        &["run", "--no-fail-fast"],
        std::time::Duration::from_secs(300),
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(result(&r, "plain"), "ok:plain");
    let mut cases = vec![("fifo", "a FIFO")];
    if made_dev {
        cases.push(("dev", "a character device"));
    }
    for (stage, what) in cases {
        let got = result(&r, stage);
        assert!(got.starts_with("err:"), "{stage}: {got}");
        assert!(
            r.log(stage).contains(&format!("is {what}")),
            "{stage}: {}",
            r.log(stage)
        );
        assert!(
            r.audit()
                .iter()
                .any(|l| l.contains(&format!("\"stage\":\"{stage}\""))
                    && l.contains("\"operation\":\"open\"")
                    && l.contains("\"decision\":\"deny\"")),
            "{stage}: {}",
            r.file("audit.jsonl")
        );
    }
}
