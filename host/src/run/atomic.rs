//! The one way gantry replaces a file: written under a unique temporary name in the
//! same directory, fsynced, renamed over the target, and the directory fsynced, so a
//! reader (or a crash) sees the old content or the new, never a torn file, and the
//! rename itself is durable. Used for run records (`run.json`, `summary.json`,
//! reports), `gantry.lock`, baselines and the state directory's files.
//!
//! Tests: unit tests below.

use std::io::Write as _;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};

/// Replaces `path` with `data` atomically and durably.
pub fn write(path: &Path, data: &[u8]) -> std::io::Result<()> {
    static SEQ: AtomicU64 = AtomicU64::new(0);
    let name = path
        .file_name()
        .ok_or_else(|| std::io::Error::other("not a file path"))?;
    // Unique per process and call: two writers of one file never share a temporary.
    let tmp = path.with_file_name(format!(
        ".{}.tmp-{}-{}",
        name.to_string_lossy(),
        std::process::id(),
        SEQ.fetch_add(1, Ordering::Relaxed)
    ));
    let written = (|| {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(data)?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)
    })();
    if written.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    written?;
    // The rename is durable once the directory is: without this, a crash can bring
    // back the old file after gantry said it wrote the new one.
    if let Some(dir) = path.parent() {
        let dir = if dir.as_os_str().is_empty() {
            Path::new(".")
        } else {
            dir
        };
        std::fs::File::open(dir)?.sync_all()?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replaces_and_leaves_no_temporary() {
        let d = std::env::temp_dir().join(format!("gantry-atomic-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).expect("mkdir");
        let f = d.join("run.json");
        write(&f, b"one").expect("write");
        write(&f, b"two").expect("replace");
        assert_eq!(std::fs::read(&f).expect("read"), b"two");
        let names: Vec<_> = std::fs::read_dir(&d)
            .expect("list")
            .map(|e| e.expect("entry").file_name())
            .collect();
        assert_eq!(names, vec![std::ffi::OsString::from("run.json")]);
        // A target that cannot be written leaves nothing behind either.
        assert!(write(&d.join("missing/x"), b"x").is_err());
        let _ = std::fs::remove_dir_all(&d);
    }
}
