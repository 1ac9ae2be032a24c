//! The compile cache: hits on the second load, and corrupt or stale entries are
//! rejected and rebuilt — never handed to wasmtime's `unsafe` deserializer blindly.

use std::path::{Path, PathBuf};
use std::process::Command;

use gantry_test_plugins::{Workspace, pinned, plugins};

const GANTRY: &str = env!("CARGO_BIN_EXE_gantry");

fn check(ws: &Workspace, cache: &Path) -> (i32, String) {
    let out = Command::new(GANTRY)
        .args(["check"])
        .current_dir(&ws.root)
        .env("NO_COLOR", "1")
        .env("GANTRY_CACHE_DIR", cache)
        .env("GANTRY_LOG", "warn")
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn entries(cache: &Path) -> Vec<PathBuf> {
    let dir = cache.join("compiled");
    let mut v: Vec<PathBuf> = std::fs::read_dir(&dir)
        .map(|d| d.filter_map(|e| e.ok().map(|e| e.path())).collect())
        .unwrap_or_default();
    v.retain(|p| p.extension().is_some_and(|e| e == "cwasm"));
    v.sort();
    v
}

#[test]
fn corrupt_and_stale_cache_entries_are_rebuilt() {
    let ws = Workspace::new(GANTRY);
    let cache = ws.path("cache");
    ws.write(
        "pipeline.toml",
        format!(
            "[pipeline]\nname = \"cache\"\n[stage.a]\nplugin = \"{}\"\n",
            pinned(plugins::PROBE)
        ),
    );
    let (code, err) = check(&ws, &cache);
    assert_eq!(code, 0, "{err}");
    let files = entries(&cache);
    assert_eq!(files.len(), 1, "one entry per plugin digest: {files:?}");
    let entry = &files[0];
    let digest = pinned(plugins::PROBE)
        .rsplit(':')
        .next()
        .unwrap()
        .to_string();
    assert!(
        entry
            .file_name()
            .unwrap()
            .to_str()
            .unwrap()
            .starts_with(&digest)
    );
    let good = std::fs::read(entry).unwrap();

    // Second load: a hit, the entry is untouched.
    let (code, err) = check(&ws, &cache);
    assert_eq!(code, 0, "{err}");
    assert!(!err.contains("cache entry"), "{err}");
    assert_eq!(std::fs::read(entry).unwrap(), good);

    // Flip one byte of the compiled code: the checksum catches it.
    let mut bad = good.clone();
    let mid = bad.len() / 2;
    bad[mid] ^= 0xff;
    std::fs::write(entry, &bad).unwrap();
    let (code, err) = check(&ws, &cache);
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("corrupt compile cache entry"), "{err}");
    assert_eq!(std::fs::read(entry).unwrap(), good, "the entry was rebuilt");

    // A checksum-valid entry that is not a compiled component for this engine
    // (e.g. written by another wasmtime): wasmtime's own header check refuses it.
    use sha2_lite::sha256;
    let sum_file = entry.with_extension("sha256");
    let good_sum = std::fs::read_to_string(&sum_file).unwrap();
    let hex: String = sha256(&good).iter().map(|b| format!("{b:02x}")).collect();
    assert!(
        good_sum.starts_with(&format!("{hex}  ")),
        "the checksum file is in sha256sum format: {good_sum}"
    );
    let fake = b"\x7fELF not a wasmtime artifact".to_vec();
    let fake_hex: String = sha256(&fake).iter().map(|b| format!("{b:02x}")).collect();
    std::fs::write(entry, &fake).unwrap();
    std::fs::write(&sum_file, format!("{fake_hex}  x.cwasm\n")).unwrap();
    let (code, err) = check(&ws, &cache);
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("stale compile cache entry"), "{err}");
    assert_eq!(std::fs::read(entry).unwrap(), good, "the entry was rebuilt");
    assert_eq!(std::fs::read_to_string(&sum_file).unwrap(), good_sum);

    // A truncated entry (torn write by a crashed process without rename).
    std::fs::write(entry, &good[..10]).unwrap();
    let (code, err) = check(&ws, &cache);
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("corrupt compile cache entry"), "{err}");
    assert_eq!(std::fs::read(entry).unwrap(), good);

    // A missing checksum file: the artifact is not used.
    std::fs::remove_file(&sum_file).unwrap();
    let (code, err) = check(&ws, &cache);
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("no checksum file"), "{err}");
    assert_eq!(std::fs::read_to_string(&sum_file).unwrap(), good_sum);

    // An entry other users could have written is not trusted, even with a matching
    // checksum (whoever can write the file can write the checksum too).
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(entry, std::fs::Permissions::from_mode(0o666)).unwrap();
    let (code, err) = check(&ws, &cache);
    assert_eq!(code, 0, "{err}");
    assert!(
        err.contains("not used: the file is writable by other users (mode 666)"),
        "{err}"
    );
    std::fs::set_permissions(entry, std::fs::Permissions::from_mode(0o644)).unwrap();
    let dir = cache.join("compiled");
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o777)).unwrap();
    let (code, err) = check(&ws, &cache);
    assert_eq!(code, 0, "{err}");
    assert!(
        err.contains("not used: its directory is writable by other users (mode 777)"),
        "{err}"
    );
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
    let (code, err) = check(&ws, &cache);
    assert_eq!(code, 0, "{err}");
    assert!(!err.contains("cache entry"), "a hit again: {err}");
}

/// sha256 via the system's `sha256sum`, to keep this test's checksum independent of the
/// implementation under test.
mod sha2_lite {
    pub fn sha256(data: &[u8]) -> [u8; 32] {
        use std::io::Write;
        let mut child = std::process::Command::new("sha256sum")
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .expect("sha256sum");
        child.stdin.take().unwrap().write_all(data).unwrap();
        let out = child.wait_with_output().unwrap();
        let hex = String::from_utf8(out.stdout).unwrap();
        let mut b = [0u8; 32];
        for (i, chunk) in hex.as_bytes()[..64].chunks(2).enumerate() {
            b[i] = u8::from_str_radix(std::str::from_utf8(chunk).unwrap(), 16).unwrap();
        }
        b
    }
}

/// `GANTRY_PROFILE=perfmap` writes the perf map of the process (`/tmp/perf-PID.map`)
/// with the plugin's functions by name, so `perf report` can name them; an unknown
/// profiler name is a warning, not an error, and nothing is written.
#[test]
fn gantry_profile_perfmap_names_plugin_functions() {
    let ws = Workspace::new(GANTRY);
    let cache = ws.path("cache");
    ws.write(
        "pipeline.toml",
        format!(
            "[pipeline]\nname = \"profile\"\n[stage.a]\nplugin = \"{}\"\n",
            pinned(plugins::PROBE)
        ),
    );
    let run = |profile: &str| {
        let child = Command::new(GANTRY)
            .args(["check"])
            .current_dir(&ws.root)
            .env("NO_COLOR", "1")
            .env("GANTRY_CACHE_DIR", &cache)
            .env("GANTRY_PROFILE", profile)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let pid = child.id();
        let out = child.wait_with_output().unwrap();
        let map = PathBuf::from(format!("/tmp/perf-{pid}.map"));
        let text = std::fs::read_to_string(&map).ok();
        let _ = std::fs::remove_file(&map);
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stderr).into_owned(),
            text,
        )
    };
    let (code, err, map) = run("perfmap");
    assert_eq!(code, 0, "{err}");
    let map = map.expect("the perf map was written");
    assert!(
        map.lines().any(|l| l.contains("wasm[0]::function[")),
        "plugin functions are named: {}",
        &map[..map.len().min(500)]
    );
    let (code, err, map) = run("vtunes");
    assert_eq!(code, 0, "{err}");
    assert!(
        err.contains("GANTRY_PROFILE=vtunes is not a profiler gantry knows (perfmap, jitdump)"),
        "{err}"
    );
    assert!(map.is_none(), "no profiler, no map");
}
