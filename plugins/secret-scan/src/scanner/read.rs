//! Reading one file for the scan: open, size, read — as few system calls as the
//! platform allows, because a scan reads thousands of small files.
//!
//! Natively this is `std::fs` (open, fstat, read). In wasm32-wasip2, `std::fs::read`
//! goes through wasi-libc, which stats the path before opening it and stats the open
//! file twice more; with the walk's own `metadata` call a file cost about 13 host
//! system calls. Here the component calls `wasi:filesystem` directly: `open-at` on the
//! preopen that holds the path, one `stat`, one `read` — about 6, the same work a
//! native `std::fs::read` does plus the host's own checks.
//!
//! Listing a directory likewise: wasi-libc's `readdir` asks the host for every
//! entry's inode (`metadata-hash-at`, one more `statx` per entry), which the walk never
//! uses; [`list_dir`] reads `read-directory`'s names and types only.
//!
//! [`read_file`] returns [`Read::TooLarge`] without reading a file over the limit.

use std::io;
use std::path::Path;

pub(crate) enum Read {
    Content(Vec<u8>),
    /// The file's size, larger than the limit; nothing was read.
    TooLarge(u64),
}

/// What a directory entry is (symlinks are never followed).
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    File,
    Dir,
    Symlink,
    Other,
}

/// Entries of a directory as (name, kind), in the order the platform gives them.
#[cfg(not(all(target_os = "wasi", target_env = "p2")))]
pub(crate) fn list_dir(path: &Path) -> io::Result<Vec<(String, io::Result<Kind>)>> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(path)? {
        let Ok(entry) = entry else { continue };
        let kind = entry.file_type().map(|t| {
            if t.is_symlink() {
                Kind::Symlink
            } else if t.is_dir() {
                Kind::Dir
            } else if t.is_file() {
                Kind::File
            } else {
                Kind::Other
            }
        });
        out.push((entry.file_name().to_string_lossy().into_owned(), kind));
    }
    Ok(out)
}

#[cfg(all(target_os = "wasi", target_env = "p2"))]
pub(crate) fn list_dir(path: &Path) -> io::Result<Vec<(String, io::Result<Kind>)>> {
    use wasip2::filesystem::types::{DescriptorFlags, DescriptorType as T, OpenFlags, PathFlags};

    let (dir, rel) = preopen_for(path)?;
    PREOPENS.with(|p| {
        let p = p
            .as_ref()
            .map_err(|e| io::Error::new(e.kind(), e.to_string()))?;
        let opened;
        let d = if rel == "." {
            &p[dir].1
        } else {
            opened = p[dir]
                .1
                .open_at(
                    PathFlags::empty(),
                    &rel,
                    OpenFlags::DIRECTORY,
                    DescriptorFlags::READ,
                )
                .map_err(to_io)?;
            &opened
        };
        let stream = d.read_directory().map_err(to_io)?;
        let mut out = Vec::new();
        while let Some(entry) = stream.read_directory_entry().map_err(to_io)? {
            let kind = match entry.type_ {
                T::RegularFile => Kind::File,
                T::Directory => Kind::Dir,
                T::SymbolicLink => Kind::Symlink,
                _ => Kind::Other,
            };
            out.push((entry.name, Ok(kind)));
        }
        Ok(out)
    })
}

#[cfg(not(all(target_os = "wasi", target_env = "p2")))]
pub(crate) fn read_file(path: &Path, max_size: u64) -> io::Result<Read> {
    use std::io::Read as _;
    let file = std::fs::File::open(path)?;
    let len = file.metadata()?.len();
    if len > max_size {
        return Ok(Read::TooLarge(len));
    }
    let mut content = Vec::with_capacity(len as usize);
    // `take`: a file that grows while it is read stops at the limit plus one byte.
    file.take(max_size + 1).read_to_end(&mut content)?;
    Ok(Read::Content(content))
}

#[cfg(all(target_os = "wasi", target_env = "p2"))]
pub(crate) fn read_file(path: &Path, max_size: u64) -> io::Result<Read> {
    use wasip2::filesystem::types::{DescriptorFlags, OpenFlags, PathFlags};

    let (dir, rel) = preopen_for(path)?;
    PREOPENS.with(|p| {
        let p = p
            .as_ref()
            .map_err(|e| io::Error::new(e.kind(), e.to_string()))?;
        let file = p[dir]
            .1
            .open_at(
                PathFlags::empty(),
                &rel,
                OpenFlags::empty(),
                DescriptorFlags::READ,
            )
            .map_err(to_io)?;
        let len = file.stat().map_err(to_io)?.size;
        if len > max_size {
            return Ok(Read::TooLarge(len));
        }
        // Read up to the size `stat` gave, asking for one byte more so that a file
        // which grew since is noticed (and then read to its end). The host returns at
        // most 64 KiB per call, so a short read is not the end of the file; only an
        // empty one is.
        let mut content: Vec<u8> = Vec::new();
        loop {
            let want = if content.len() as u64 > len {
                64 * 1024
            } else {
                len + 1 - content.len() as u64
            };
            let (chunk, eof) = file.read(want, content.len() as u64).map_err(to_io)?;
            if chunk.is_empty() || eof {
                break;
            }
            if content.is_empty() {
                content = chunk;
                content.reserve((len as usize + 1).saturating_sub(content.len()));
            } else {
                content.extend_from_slice(&chunk);
            }
            let have = content.len() as u64;
            if have == len || have > max_size {
                break;
            }
        }
        Ok(Read::Content(content))
    })
}

#[cfg(all(target_os = "wasi", target_env = "p2"))]
thread_local! {
    /// The component's preopens as (guest path, descriptor), longest path first.
    static PREOPENS: io::Result<Vec<(String, wasip2::filesystem::types::Descriptor)>> = {
        let mut dirs = wasip2::filesystem::preopens::get_directories()
            .into_iter()
            .map(|(d, p)| (p, d))
            .collect::<Vec<_>>();
        dirs.sort_by_key(|(p, _)| std::cmp::Reverse(p.len()));
        Ok(dirs)
    };
}

/// The preopen that holds `path` (longest matching guest path, as wasi-libc picks it)
/// and the path relative to it.
#[cfg(all(target_os = "wasi", target_env = "p2"))]
fn preopen_for(path: &Path) -> io::Result<(usize, String)> {
    let path = path
        .to_str()
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "path is not UTF-8"))?;
    PREOPENS.with(|p| {
        let p = p
            .as_ref()
            .map_err(|e| io::Error::new(e.kind(), e.to_string()))?;
        for (i, (dir, _)) in p.iter().enumerate() {
            let dir = dir.trim_end_matches('/');
            if let Some(rest) = path.strip_prefix(dir)
                && (rest.is_empty() || rest.starts_with('/'))
            {
                let rel = rest.trim_start_matches('/');
                return Ok((
                    i,
                    if rel.is_empty() {
                        ".".into()
                    } else {
                        rel.into()
                    },
                ));
            }
        }
        Err(io::Error::new(
            io::ErrorKind::NotFound,
            "not under any directory the stage may read",
        ))
    })
}

#[cfg(all(target_os = "wasi", target_env = "p2"))]
fn to_io(e: wasip2::filesystem::types::ErrorCode) -> io::Error {
    use wasip2::filesystem::types::ErrorCode as E;
    let kind = match e {
        E::NoEntry => io::ErrorKind::NotFound,
        E::Access | E::NotPermitted => io::ErrorKind::PermissionDenied,
        E::IsDirectory => io::ErrorKind::IsADirectory,
        E::Loop => io::ErrorKind::InvalidInput,
        _ => io::ErrorKind::Other,
    };
    io::Error::new(kind, format!("{} ({e:?})", e.message()))
}
