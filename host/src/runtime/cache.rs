//! On-disk cache of compiled components.
//!
//! Key: the component's sha256 and a hash of the engine's version and every setting
//! that changes generated code (`Engine::precompile_compatibility_hash`). An entry is
//! two files: `KEY.cwasm`, the artifact exactly as `Engine::precompile_component` wrote
//! it, and `KEY.sha256`, its checksum in `sha256sum` format (so
//! `sha256sum -c KEY.sha256` checks it by hand). The checksum is verified before
//! wasmtime sees the artifact, and wasmtime checks its own header against the engine.
//! A torn, corrupt, or stale entry is deleted and the component recompiled — the cache
//! is never trusted blindly, because deserializing compiled code is `unsafe`.
//!
//! A hit maps the file (`Component::deserialize_file`) instead of copying it into
//! fresh code memory: for a 4 MiB artifact the copy (and its page faults) cost 7 ms,
//! the mapping 0.6 ms (BENCHMARKS.md). The file that was checked is the file that is
//! mapped: its device and inode are compared before and after.
//!
//! What the checksum guards against is damage (a torn write, a full disk, a flipped
//! bit), not an adversary: whoever can write the cache can write a matching checksum.
//! So an entry is only used when it and its directory belong to the user running
//! gantry and are writable by no one else; otherwise it is ignored, with a warning.
//!
//! Writes go to temporary files renamed into place (artifact first, checksum last), so
//! concurrent gantry processes never see half an entry; a cached file is never changed
//! in place, which the mapping relies on.
//!
//! Tests: `tests/e2e/runtime.rs` (hits, corrupt, stale, torn and foreign entries).

use std::fs::File;
use std::hash::{Hash, Hasher};
use std::io::{Read, Write};
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use gantry_registry::Digest;
use sha2::{Digest as _, Sha256};
use wasmtime::Engine;
use wasmtime::component::Component;

pub struct CompileCache {
    dir: PathBuf,
    engine_key: String,
}

/// What happened when looking up the cache; reported by `gantry plugin inspect` and benchmarks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CacheLookup {
    Hit,
    Miss,
    /// An entry existed but failed its checks; it was removed.
    Rejected,
}

impl CompileCache {
    pub fn new(dir: PathBuf, engine: &Engine) -> CompileCache {
        let mut h = std::collections::hash_map::DefaultHasher::new();
        env!("CARGO_PKG_VERSION").hash(&mut h);
        "wasmtime-48.0.8".hash(&mut h);
        // Entry layout (artifact + checksum file); older layouts are simply misses.
        "cache-layout-2".hash(&mut h);
        engine.precompile_compatibility_hash().hash(&mut h);
        CompileCache {
            dir,
            engine_key: format!("{:016x}", h.finish()),
        }
    }

    /// The default location: `$GANTRY_CACHE_DIR`, else `$XDG_CACHE_HOME/gantry`, else
    /// `~/.cache/gantry`.
    /// Where the compile cache lives unless the engine is told otherwise
    /// ([`crate::run::state::cache_dir`]: the state dir and the cache are found alike).
    pub fn default_dir() -> Option<PathBuf> {
        crate::run::state::cache_dir()
    }

    pub fn entry_path(&self, digest: &Digest) -> PathBuf {
        self.dir
            .join("compiled")
            .join(format!("{}-{}.cwasm", digest.hex(), self.engine_key))
    }

    fn sum_path(artifact: &Path) -> PathBuf {
        artifact.with_extension("sha256")
    }

    pub fn get(&self, engine: &Engine, digest: &Digest) -> (Option<Component>, CacheLookup) {
        let path = self.entry_path(digest);
        let Ok(mut file) = File::open(&path) else {
            return (None, CacheLookup::Miss);
        };
        let problem = match verify(&mut file, &path) {
            Ok(meta) => {
                // SAFETY: the file's checksum matches the one written next to it when
                // `Engine::precompile_component` of an engine with the same
                // compatibility hash (it is in the file name) produced it; the file is
                // the user's own and never changed in place (renamed into place, and
                // replaced only by renaming), so the mapping sees the checked bytes.
                // `deserialize_file` additionally verifies the engine header.
                match unsafe { Component::deserialize_file(engine, &path) } {
                    Ok(c) if same_file(&path, &meta) => return (Some(c), CacheLookup::Hit),
                    // Replaced between the check and the mapping (another gantry wrote
                    // the same entry): not the checked bytes; compile instead.
                    Ok(_) => return (None, CacheLookup::Miss),
                    Err(e) => format!("stale compile cache entry {}: {e:#}", path.display()),
                }
            }
            Err(Untrusted(why)) => {
                tracing::warn!(
                    "compile cache entry {} not used: {why}; compiling instead",
                    path.display()
                );
                return (None, CacheLookup::Rejected);
            }
            Err(Damaged(why)) => format!("corrupt compile cache entry {}: {why}", path.display()),
        };
        tracing::warn!("{problem}");
        let _ = std::fs::remove_file(&path);
        let _ = std::fs::remove_file(Self::sum_path(&path));
        (None, CacheLookup::Rejected)
    }

    pub fn put(&self, digest: &Digest, artifact: &[u8]) {
        if let Err(e) = self.try_put(digest, artifact) {
            tracing::warn!("cannot write compile cache: {e}");
        }
    }

    fn try_put(&self, digest: &Digest, artifact: &[u8]) -> std::io::Result<()> {
        let path = self.entry_path(digest);
        let dir = path.parent().unwrap_or(Path::new("."));
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o755)
            .create(dir)?;
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default();
        let sum = format!("{}  {name}\n", hex::encode(Sha256::digest(artifact)));
        // Artifact first, checksum last: a reader that sees the new checksum sees the
        // new artifact.
        write_replace(&path, artifact)?;
        write_replace(&Self::sum_path(&path), sum.as_bytes())
    }
}

/// Writes `data` to a 0644 temporary file in the same directory and renames it over
/// `path` (a cached file is never written in place).
fn write_replace(path: &Path, data: &[u8]) -> std::io::Result<()> {
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(format!(".{}.tmp", std::process::id()));
    let tmp = PathBuf::from(tmp);
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o644)
        .open(&tmp)?;
    f.write_all(data)?;
    drop(f);
    std::fs::rename(&tmp, path)
}

enum Problem {
    /// Not the user's own, or writable by others: left alone.
    Untrusted(String),
    /// Checksum missing or wrong: deleted and rebuilt.
    Damaged(String),
}
use Problem::{Damaged, Untrusted};

/// Checks that `file` (opened from `path`) is the user's own, writable by no one else,
/// in a directory of the same kind, and matches its checksum file. Returns the file's
/// metadata, to recognise the same file later.
fn verify(file: &mut File, path: &Path) -> Result<std::fs::Metadata, Problem> {
    let meta = file
        .metadata()
        .map_err(|e| Damaged(format!("cannot stat: {e}")))?;
    trusted(&meta, "the file")?;
    let dir = path.parent().unwrap_or(Path::new("."));
    let dir_meta =
        std::fs::metadata(dir).map_err(|e| Damaged(format!("cannot stat its directory: {e}")))?;
    trusted(&dir_meta, "its directory")?;
    let sum = std::fs::read_to_string(CompileCache::sum_path(path))
        .map_err(|e| Damaged(format!("no checksum file ({e})")))?;
    let want = sum.get(..64).unwrap_or_default();
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 1 << 18];
    loop {
        let n = file
            .read(&mut buf)
            .map_err(|e| Damaged(format!("cannot read: {e}")))?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
    }
    if hex::encode(h.finalize()) != want {
        return Err(Damaged("checksum mismatch".into()));
    }
    Ok(meta)
}

fn trusted(meta: &std::fs::Metadata, what: &str) -> Result<(), Problem> {
    // SAFETY: geteuid has no preconditions and cannot fail.
    let me = unsafe { libc::geteuid() };
    if meta.uid() != me {
        return Err(Untrusted(format!(
            "{what} belongs to uid {}, not to this user (uid {me})",
            meta.uid()
        )));
    }
    if meta.mode() & 0o022 != 0 {
        return Err(Untrusted(format!(
            "{what} is writable by other users (mode {:o}); `chmod go-w` it",
            meta.mode() & 0o7777
        )));
    }
    Ok(())
}

/// Whether `path` still names the file `meta` was read from.
fn same_file(path: &Path, meta: &std::fs::Metadata) -> bool {
    std::fs::metadata(path).is_ok_and(|m| m.dev() == meta.dev() && m.ino() == meta.ino())
}
