//! Reading many files fast, under the stage's filesystem grants.
//!
//! `std::fs` works in a plugin (through `wasi:filesystem`), but each file costs about
//! six host calls. [`list_dir`] and [`read_each`] use the host's bulk interface
//! (`gantry:plugin/files`) instead: one call per directory listed and one per batch of
//! files read, each file costing the host what a native read costs. They see exactly
//! the files `std::fs` would see under the stage's `grants.fs.read` /
//! `grants.fs.write`, never follow symbolic links, and cannot write.
//!
//! Natively (unit tests, benchmarks) and when the host cannot serve a call in bulk
//! (for example an old kernel) they fall back to `std::fs`, so callers need no second
//! code path.
//!
//! ```no_run
//! use gantry_sdk::files::{self, Kind, Read};
//! # fn demo() -> std::io::Result<()> {
//! let dir = std::path::Path::new("/workspace/src");
//! let names: Vec<String> = files::list_dir(dir)?
//!     .into_iter()
//!     .filter(|(_, kind)| *kind == Kind::File)
//!     .map(|(name, _)| name)
//!     .collect();
//! for (name, read) in files::read_each(dir, names, 1 << 20) {
//!     match read? {
//!         Read::Content(bytes) => println!("{name}: {} bytes", bytes.len()),
//!         Read::TooLarge(len) => println!("{name}: skipped, {len} bytes"),
//!     }
//! }
//! # Ok(())
//! # }
//! ```

use std::collections::VecDeque;
use std::io;
use std::path::{Path, PathBuf};

/// What a directory entry is. Symbolic links are reported, never followed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Kind {
    File,
    Dir,
    Symlink,
    Other,
}

/// One file read by [`read_each`].
#[derive(Debug)]
pub enum Read {
    /// The whole file.
    Content(Vec<u8>),
    /// The file's size, over the `max_size` asked for; nothing was read.
    TooLarge(u64),
}

/// The entries of directory `dir` as (name, kind), in the order the system gives them.
pub fn list_dir(dir: &Path) -> io::Result<Vec<(String, Kind)>> {
    #[cfg(target_arch = "wasm32")]
    if let Some(path) = dir.to_str() {
        use crate::bindings::gantry::plugin::files as wit;
        match wit::list_dir(path) {
            Ok(entries) => {
                return Ok(entries
                    .into_iter()
                    .map(|e| {
                        let kind = match e.kind {
                            wit::EntryKind::File => Kind::File,
                            wit::EntryKind::Directory => Kind::Dir,
                            wit::EntryKind::Symlink => Kind::Symlink,
                            wit::EntryKind::Other => Kind::Other,
                        };
                        (e.name, kind)
                    })
                    .collect());
            }
            Err(e) => {
                if let Some(e) = io_error(e) {
                    return Err(e);
                }
            }
        }
    }
    list_dir_std(dir)
}

fn list_dir_std(dir: &Path) -> io::Result<Vec<(String, Kind)>> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let kind = match entry.file_type() {
            Ok(t) if t.is_symlink() => Kind::Symlink,
            Ok(t) if t.is_dir() => Kind::Dir,
            Ok(t) if t.is_file() => Kind::File,
            _ => Kind::Other,
        };
        out.push((entry.file_name().to_string_lossy().into_owned(), kind));
    }
    Ok(out)
}

/// Reads the files `names` of directory `dir`, each whole, lazily and in order: the
/// iterator holds at most one batch (about 8 MiB) at a time. A file over `max_size`
/// bytes is not read ([`Read::TooLarge`]). Symbolic links are not followed (an error).
pub fn read_each(dir: &Path, names: Vec<String>, max_size: u64) -> ReadEach {
    ReadEach {
        dir: dir.to_path_buf(),
        names: names.into(),
        max_size,
        ready: VecDeque::new(),
        bulk: cfg!(target_arch = "wasm32"),
    }
}

/// The iterator of [`read_each`]: (name, what reading it gave).
pub struct ReadEach {
    dir: PathBuf,
    names: VecDeque<String>,
    max_size: u64,
    ready: VecDeque<(String, io::Result<Read>)>,
    /// Still using the host's bulk interface (false natively, or after it failed).
    bulk: bool,
}

/// Bytes asked for per bulk call: large enough that calls are few, small enough that
/// a plugin's memory holds a batch easily.
#[cfg(target_arch = "wasm32")]
const BATCH_BYTES: u64 = 8 << 20;

impl ReadEach {
    #[cfg(target_arch = "wasm32")]
    fn fetch(&mut self) {
        use crate::bindings::gantry::plugin::files as wit;
        let Some(dir) = self.dir.to_str() else {
            self.bulk = false;
            return;
        };
        let names: &[String] = self.names.make_contiguous();
        match wit::read_files(dir, names, self.max_size, BATCH_BYTES) {
            Ok(reads) if !reads.is_empty() => {
                for read in reads {
                    let Some(name) = self.names.pop_front() else {
                        break;
                    };
                    let read = match read {
                        wit::FileRead::Content(c) => Ok(Read::Content(c)),
                        wit::FileRead::TooLarge(n) => Ok(Read::TooLarge(n)),
                        wit::FileRead::Failed(m) => Err(io::Error::other(m)),
                    };
                    self.ready.push_back((name, read));
                }
            }
            Ok(_) => self.bulk = false,
            Err(e) => match io_error(e) {
                // Refused or impossible as a whole: every file of the call gets it.
                Some(e) => {
                    while let Some(name) = self.names.pop_front() {
                        let e = io::Error::new(e.kind(), e.to_string());
                        self.ready.push_back((name, Err(e)));
                    }
                }
                None => self.bulk = false,
            },
        }
    }

    #[cfg(not(target_arch = "wasm32"))]
    fn fetch(&mut self) {
        self.bulk = false;
    }
}

impl Iterator for ReadEach {
    type Item = (String, io::Result<Read>);

    fn next(&mut self) -> Option<Self::Item> {
        if self.ready.is_empty() && self.bulk && !self.names.is_empty() {
            self.fetch();
        }
        if let Some(r) = self.ready.pop_front() {
            return Some(r);
        }
        let name = self.names.pop_front()?;
        let read = read_std(&self.dir.join(&name), self.max_size);
        Some((name, read))
    }
}

fn read_std(path: &Path, max_size: u64) -> io::Result<Read> {
    use io::Read as _;
    let meta = std::fs::symlink_metadata(path)?;
    if meta.file_type().is_symlink() {
        return Err(io::Error::other("a symbolic link (not followed)"));
    }
    let file = std::fs::File::open(path)?;
    let len = file.metadata()?.len();
    if len > max_size {
        return Ok(Read::TooLarge(len));
    }
    let mut content = Vec::with_capacity(len as usize + 1);
    // `take`: a file that grows while it is read stops at the limit plus one byte.
    file.take(max_size + 1).read_to_end(&mut content)?;
    if content.len() as u64 > max_size {
        return Ok(Read::TooLarge(content.len() as u64));
    }
    Ok(Read::Content(content))
}

/// The host's answer as an I/O error, or `None` for `failed`: the host could not do
/// it in bulk, and `std::fs` (WASI) should be asked instead.
#[cfg(target_arch = "wasm32")]
fn io_error(e: crate::bindings::gantry::plugin::types::CapError) -> Option<io::Error> {
    use crate::bindings::gantry::plugin::types::CapError;
    match e {
        CapError::Denied(m) => Some(io::Error::new(io::ErrorKind::PermissionDenied, m)),
        CapError::NotFound(m) => Some(io::Error::new(io::ErrorKind::NotFound, m)),
        CapError::Invalid(m) => Some(io::Error::new(io::ErrorKind::InvalidInput, m)),
        CapError::Failed(_) => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Natively the functions read through `std::fs`: the same answers a plugin gets.
    #[test]
    fn lists_and_reads_in_order_without_following_links() {
        let dir = std::env::temp_dir().join(format!("gantry-sdk-files-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("sub")).unwrap();
        std::fs::write(dir.join("a.txt"), "alpha").unwrap();
        std::fs::write(dir.join("big.txt"), "x".repeat(100)).unwrap();
        #[cfg(unix)]
        std::os::unix::fs::symlink("/etc/passwd", dir.join("link")).unwrap();

        let mut entries = list_dir(&dir).unwrap();
        entries.sort();
        let mut want = vec![
            ("a.txt".to_string(), Kind::File),
            ("big.txt".to_string(), Kind::File),
            ("sub".to_string(), Kind::Dir),
        ];
        if cfg!(unix) {
            want.push(("link".to_string(), Kind::Symlink));
            want.sort();
        }
        assert_eq!(entries, want);

        let names = vec![
            "a.txt".into(),
            "big.txt".into(),
            "link".into(),
            "gone".into(),
        ];
        let got: Vec<(String, String)> = read_each(&dir, names, 10)
            .map(|(n, r)| {
                let r = match r {
                    Ok(Read::Content(c)) => String::from_utf8(c).unwrap(),
                    Ok(Read::TooLarge(n)) => format!("too large: {n}"),
                    Err(e) => format!("error: {:?}: {e}", e.kind()),
                };
                (n, r)
            })
            .collect();
        assert_eq!(got[0], ("a.txt".into(), "alpha".into()));
        assert_eq!(got[1], ("big.txt".into(), "too large: 100".into()));
        if cfg!(unix) {
            assert_eq!(got[2].1, "error: Other: a symbolic link (not followed)");
        }
        assert!(got[3].1.starts_with("error: NotFound"), "{}", got[3].1);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
