//! On-disk cache of compiled components.
//!
//! Key: the component's sha256 and a hash of the engine's version and every setting
//! that changes generated code (`Engine::precompile_compatibility_hash`). An entry is
//! `sha256(artifact) ‖ artifact`; it is checked before wasmtime sees it, and wasmtime
//! checks its own header against the engine. A torn, corrupt, or stale entry is
//! deleted and the component recompiled — the cache is never trusted blindly, because
//! deserializing compiled code is `unsafe`.
//!
//! Writes go to a temporary file renamed into place, so concurrent gantry processes
//! never see half an entry.
//!
//! Tests: `tests/e2e/runtime.rs` (corrupt and stale entries).

use std::hash::{Hash, Hasher};
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
        engine.precompile_compatibility_hash().hash(&mut h);
        CompileCache {
            dir,
            engine_key: format!("{:016x}", h.finish()),
        }
    }

    /// The default location: `$GANTRY_CACHE_DIR`, else `$XDG_CACHE_HOME/gantry`, else
    /// `~/.cache/gantry`.
    pub fn default_dir() -> Option<PathBuf> {
        if let Some(d) = std::env::var_os("GANTRY_CACHE_DIR") {
            return Some(PathBuf::from(d));
        }
        if let Some(d) = std::env::var_os("XDG_CACHE_HOME") {
            return Some(PathBuf::from(d).join("gantry"));
        }
        std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache").join("gantry"))
    }

    pub fn entry_path(&self, digest: &Digest) -> PathBuf {
        self.dir
            .join("compiled")
            .join(format!("{}-{}.cwasm", digest.hex(), self.engine_key))
    }

    pub fn get(&self, engine: &Engine, digest: &Digest) -> (Option<Component>, CacheLookup) {
        let path = self.entry_path(digest);
        let Ok(bytes) = std::fs::read(&path) else {
            return (None, CacheLookup::Miss);
        };
        match check(&bytes) {
            Some(artifact) => {
                // SAFETY: `artifact` was produced by `Engine::precompile_component` of an
                // engine with the same compatibility hash (it is in the file name), and
                // its checksum matches, so it is the bytes that engine wrote.
                // `deserialize` additionally verifies the engine header.
                match unsafe { Component::deserialize(engine, artifact) } {
                    Ok(c) => return (Some(c), CacheLookup::Hit),
                    Err(e) => tracing::warn!("stale compile cache entry {}: {e}", path.display()),
                }
            }
            None => tracing::warn!("corrupt compile cache entry {}", path.display()),
        }
        let _ = std::fs::remove_file(&path);
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
        std::fs::create_dir_all(dir)?;
        let tmp = dir.join(format!(".{}.{}.tmp", digest.hex(), std::process::id()));
        let mut data = Vec::with_capacity(32 + artifact.len());
        data.extend_from_slice(&Sha256::digest(artifact));
        data.extend_from_slice(artifact);
        std::fs::write(&tmp, &data)?;
        std::fs::rename(&tmp, &path)
    }
}

fn check(bytes: &[u8]) -> Option<&[u8]> {
    if bytes.len() < 32 {
        return None;
    }
    let (sum, artifact) = bytes.split_at(32);
    (Sha256::digest(artifact).as_slice() == sum).then_some(artifact)
}
