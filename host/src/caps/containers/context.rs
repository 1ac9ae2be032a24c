//! Build contexts, read beneath a held directory handle and archived as the Docker CLI
//! would send them.
//!
//! The context directory is opened once, beneath the workspace root, with no symbolic
//! link on the way (`openat2` `RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS`, see
//! [`crate::caps::fs::beneath`]); every entry below it is opened relative to its
//! parent's descriptor with `O_NOFOLLOW`, and the archive is written from what was
//! opened. A concurrent writer (another stage, a container with a writable mount) that
//! swaps a directory for a link to `/` while the context is archived cannot redirect
//! a read: a link is archived as a link, never followed, and a file is read from the
//! descriptor whose type was checked, not by its name again.
//!
//! The Dockerfile and `.dockerignore` are read once ([`read_build_files`]), and those
//! same bytes are what the broker checks and what the archive carries: the file the
//! daemon builds from is the file gantry checked, even if the workspace copy changes
//! in between. The Dockerfile must be a regular file with real directories above it
//! (the daemon follows links inside the context when it looks it up).
//!
//! What is left out follows `.dockerignore` exactly as the CLI applies it
//! ([`super::dockerignore`]). Unlike the CLI, sockets, FIFOs and device nodes are not
//! archived (they carry no content and a FIFO could block a reader), and the archive
//! holds at most [`super::MAX_CONTEXT`] bytes of file content.
//!
//! Tests: unit tests below and in `super`; `tests/e2e/attack_containers.rs`.

use std::ffi::OsStr;
use std::io::{Read, Write};
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use rustix::fs::{AtFlags, FileType, Mode, OFlags, ResolveFlags};

use super::dockerignore::{Ignore, MatchInfo};

/// Largest `.dockerignore` gantry reads.
pub const MAX_DOCKERIGNORE: usize = 1 << 20;

/// The Dockerfile and `.dockerignore` of a build, as read once from the context.
pub struct BuildFiles {
    /// Context-relative path of the Dockerfile.
    pub dockerfile_path: String,
    pub dockerfile: Vec<u8>,
    dockerfile_mode: u32,
    dockerignore: Option<(Vec<u8>, u32)>,
    /// `.dockerignore` compiled, with the CLI's exceptions for the two build files.
    pub ignore: Ignore,
}

/// Opens `rel` beneath `dir` as a regular file and reads at most `max` bytes of it;
/// `Ok(None)` when it does not exist.
fn read_beneath(
    dir: &OwnedFd,
    rel: &str,
    max: usize,
    what: &str,
) -> Result<Option<(Vec<u8>, u32)>, String> {
    let flags = OFlags::RDONLY | OFlags::CLOEXEC | OFlags::NOFOLLOW | OFlags::NONBLOCK;
    let resolve = ResolveFlags::BENEATH | ResolveFlags::NO_SYMLINKS | ResolveFlags::NO_MAGICLINKS;
    let fd = match rustix::fs::openat2(dir.as_fd(), rel, flags, Mode::empty(), resolve) {
        Ok(fd) => fd,
        Err(rustix::io::Errno::NOENT) => return Ok(None),
        Err(rustix::io::Errno::LOOP) => {
            return Err(format!(
                "{what} `{rel}` is (or is under) a symbolic link: gantry reads it only as a regular file of the context, with real directories above it"
            ));
        }
        Err(e) => {
            return Err(format!(
                "cannot open {what} `{rel}`: {}",
                std::io::Error::from(e)
            ));
        }
    };
    let st = rustix::fs::fstat(&fd).map_err(|e| format!("cannot stat {what} `{rel}`: {e}"))?;
    if FileType::from_raw_mode(st.st_mode as _) != FileType::RegularFile {
        return Err(format!("{what} `{rel}` is not a regular file"));
    }
    if st.st_size as u64 > max as u64 {
        return Err(format!(
            "{what} `{rel}` is larger than gantry reads ({})",
            crate::manifest::units::format_size(max as u64)
        ));
    }
    let mut bytes = Vec::new();
    std::fs::File::from(fd)
        .take(max as u64 + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| format!("cannot read {what} `{rel}`: {e}"))?;
    if bytes.len() > max {
        return Err(format!(
            "{what} `{rel}` grew past what gantry reads while it was read"
        ));
    }
    Ok(Some((bytes, st.st_mode as u32 & 0o7777)))
}

/// Reads the Dockerfile (`dockerfile`, context-relative and normalized) and
/// `.dockerignore` from the held context directory.
pub fn read_build_files(ctx: &OwnedFd, dockerfile: &str) -> Result<BuildFiles, String> {
    let (df, df_mode) = read_beneath(
        ctx,
        dockerfile,
        super::dockerfile::MAX_DOCKERFILE,
        "dockerfile",
    )?
    .ok_or_else(|| format!("dockerfile `{dockerfile}` does not exist in the build context"))?;
    let dockerignore = read_beneath(ctx, ".dockerignore", MAX_DOCKERIGNORE, "`.dockerignore`")?;
    let ignore = Ignore::for_context(
        dockerignore
            .as_ref()
            .map_or(&b""[..], |(b, _)| b.as_slice()),
        dockerfile,
    )
    .map_err(|e| format!("{e} (the build context's `.dockerignore`)"))?;
    Ok(BuildFiles {
        dockerfile_path: dockerfile.to_string(),
        dockerfile: df,
        dockerfile_mode: df_mode,
        dockerignore,
        ignore,
    })
}

/// A build context archived into a private temporary file (mode 0600), removed when
/// dropped. The archive is streamed to the engine from there, so a large context
/// never sits in gantry's memory.
pub struct ContextArchive {
    pub path: PathBuf,
    /// Bytes of file content archived (what the cap limits).
    pub content: u64,
}

impl Drop for ContextArchive {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

impl ContextArchive {
    /// The archive as a request body, read in 256 KiB chunks as the engine takes it.
    pub fn body(
        &self,
    ) -> Result<
        impl futures_util::Stream<Item = Result<bytes::Bytes, std::io::Error>> + Send + 'static,
        String,
    > {
        let file = std::fs::File::open(&self.path)
            .map_err(|e| format!("cannot reopen the build context archive: {e}"))?;
        let chunks = futures_util::stream::unfold(Some(file), |state| async move {
            let mut f = state?;
            let mut buf = vec![0u8; 256 << 10];
            match f.read(&mut buf) {
                Ok(0) => None,
                Ok(n) => {
                    buf.truncate(n);
                    Some((Ok(bytes::Bytes::from(buf)), Some(f)))
                }
                Err(e) => Some((Err(e), None)),
            }
        });
        Ok(chunks)
    }
}

/// Exactly `len` bytes from `inner`: cut if the file grew since it was stat'ed,
/// zero-filled if it shrank (the tar header already says `len`).
struct Exact<R> {
    inner: R,
    left: u64,
}

impl<R: Read> Read for Exact<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if self.left == 0 {
            return Ok(0);
        }
        let want = buf.len().min(self.left as usize);
        let n = match self.inner.read(&mut buf[..want])? {
            0 => {
                buf[..want].fill(0);
                want
            }
            n => n,
        };
        self.left -= n as u64;
        Ok(n)
    }
}

fn header(kind: tar::EntryType, mode: u32, mtime: i64, size: u64) -> tar::Header {
    let mut h = tar::Header::new_gnu();
    h.set_entry_type(kind);
    h.set_mode(mode & 0o7777);
    h.set_uid(0);
    h.set_gid(0);
    h.set_mtime(mtime.max(0) as u64);
    h.set_size(size);
    h
}

/// Archives the context held by `ctx` into a temporary file. More than `cap` bytes of
/// file content is an error naming the cap, raised as soon as the sizes seen add up
/// past it (before the rest is read).
pub fn archive(ctx: &OwnedFd, files: &BuildFiles, cap: u64) -> Result<ContextArchive, String> {
    use std::os::unix::fs::OpenOptionsExt;
    static SEQ: AtomicU64 = AtomicU64::new(0);
    let path = std::env::temp_dir().join(format!(
        "gantry-context-{}-{}.tar",
        std::process::id(),
        SEQ.fetch_add(1, Ordering::Relaxed)
    ));
    let file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&path)
        .map_err(|e| {
            format!(
                "cannot create a temporary file for the build context (`{}`): {e}",
                path.display()
            )
        })?;
    // From here on, the guard removes the file whatever happens.
    let mut out = ContextArchive { path, content: 0 };
    let mut builder = tar::Builder::new(std::io::BufWriter::with_capacity(256 << 10, file));
    let mut walk = Walk {
        files,
        cap,
        content: 0,
        dockerfile_done: false,
        builder: &mut builder,
    };
    walk.dir(ctx, b"", &MatchInfo::default())?;
    if !walk.dockerfile_done {
        return Err(format!(
            "dockerfile `{}` changed while the context was archived (a directory above it is no longer a directory); run the build again",
            files.dockerfile_path
        ));
    }
    out.content = walk.content;
    builder
        .into_inner()
        .and_then(|w| w.into_inner().map_err(|e| e.into_error()))
        .and_then(|f| f.sync_all())
        .map_err(|e| format!("cannot finish the build context archive: {e}"))?;
    Ok(out)
}

struct Walk<'a, W: Write> {
    files: &'a BuildFiles,
    cap: u64,
    content: u64,
    dockerfile_done: bool,
    builder: &'a mut tar::Builder<W>,
}

impl<'a, W: Write> Walk<'a, W> {
    fn dir(&mut self, fd: &OwnedFd, rel: &[u8], parent: &MatchInfo) -> Result<(), String> {
        // Borrowed for the walk's lifetime, not from `self`, so entries can be appended
        // from its bytes.
        let files: &'a BuildFiles = self.files;
        let shown = |p: &[u8]| String::from_utf8_lossy(p).into_owned();
        let mut names: Vec<Vec<u8>> = rustix::fs::Dir::read_from(fd)
            .map_err(|e| format!("cannot read `{}`: {e}", display(rel)))?
            .filter_map(Result::ok)
            .map(|e| e.file_name().to_bytes().to_vec())
            .filter(|n| n != b"." && n != b"..")
            .collect();
        names.sort();
        for name in names {
            let mut child = rel.to_vec();
            if !child.is_empty() {
                child.push(b'/');
            }
            child.extend_from_slice(&name);
            let st = match rustix::fs::statat(fd, name.as_slice(), AtFlags::SYMLINK_NOFOLLOW) {
                Ok(st) => st,
                // Gone since the directory was read: nothing to send.
                Err(rustix::io::Errno::NOENT) => continue,
                Err(e) => return Err(format!("cannot stat `{}`: {e}", shown(&child))),
            };
            let kind = FileType::from_raw_mode(st.st_mode as _);
            let (skip, info) = files.ignore.matches(&child, parent);
            let df = files.dockerfile_path.as_bytes();
            let above_dockerfile = df.starts_with(&child) && df.get(child.len()) == Some(&b'/');
            if child == df {
                // The bytes that were checked, whatever is on disk now.
                self.append_file(
                    &child,
                    files.dockerfile_mode,
                    st.st_mtime as i64,
                    &mut &files.dockerfile[..],
                    files.dockerfile.len() as u64,
                )?;
                self.dockerfile_done = true;
                continue;
            }
            if child == b".dockerignore"
                && let Some((bytes, mode)) = &files.dockerignore
            {
                self.append_file(
                    &child,
                    *mode,
                    st.st_mtime as i64,
                    &mut &bytes[..],
                    bytes.len() as u64,
                )?;
                continue;
            }
            match kind {
                FileType::Directory => {
                    if skip && !files.ignore.descend_excluded(&child) && !above_dockerfile {
                        continue;
                    }
                    let sub = match rustix::fs::openat(
                        fd,
                        name.as_slice(),
                        OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
                        Mode::empty(),
                    ) {
                        Ok(sub) => sub,
                        Err(rustix::io::Errno::NOENT) => continue,
                        Err(e) => {
                            return Err(format!(
                                "cannot open `{}`: {} (it may have been replaced while the context was archived)",
                                shown(&child),
                                std::io::Error::from(e)
                            ));
                        }
                    };
                    if !skip {
                        let mut h = header(
                            tar::EntryType::Directory,
                            st.st_mode as u32,
                            st.st_mtime as i64,
                            0,
                        );
                        self.builder
                            .append_data(&mut h, as_path(&child), std::io::empty())
                            .map_err(|e| format!("cannot archive `{}`: {e}", shown(&child)))?;
                    }
                    self.dir(&sub, &child, &info)?;
                }
                _ if above_dockerfile => {
                    return Err(format!(
                        "`{}`, a directory above the dockerfile, is not a directory in the context",
                        shown(&child)
                    ));
                }
                _ if skip => {}
                FileType::RegularFile => {
                    let f = match rustix::fs::openat(
                        fd,
                        name.as_slice(),
                        OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::NONBLOCK | OFlags::CLOEXEC,
                        Mode::empty(),
                    ) {
                        Ok(f) => f,
                        Err(rustix::io::Errno::NOENT) => continue,
                        Err(e) => {
                            return Err(format!(
                                "cannot open `{}`: {} (it may have been replaced while the context was archived)",
                                shown(&child),
                                std::io::Error::from(e)
                            ));
                        }
                    };
                    // The type and size of what was opened, not of the name.
                    let st = rustix::fs::fstat(&f)
                        .map_err(|e| format!("cannot stat `{}`: {e}", shown(&child)))?;
                    if FileType::from_raw_mode(st.st_mode as _) != FileType::RegularFile {
                        continue;
                    }
                    let size = st.st_size.max(0) as u64;
                    let mut reader = Exact {
                        inner: std::fs::File::from(f),
                        left: size,
                    };
                    self.append_file(
                        &child,
                        st.st_mode as u32,
                        st.st_mtime as i64,
                        &mut reader,
                        size,
                    )?;
                }
                FileType::Symlink => {
                    let target = match rustix::fs::readlinkat(fd, name.as_slice(), Vec::new()) {
                        Ok(t) => t,
                        Err(rustix::io::Errno::NOENT) => continue,
                        Err(e) => {
                            return Err(format!(
                                "cannot read link `{}`: {} (it may have been replaced while the context was archived)",
                                shown(&child),
                                std::io::Error::from(e)
                            ));
                        }
                    };
                    let mut h = header(tar::EntryType::Symlink, 0o777, st.st_mtime as i64, 0);
                    self.builder
                        .append_link(&mut h, as_path(&child), as_path(target.as_bytes()))
                        .map_err(|e| format!("cannot archive `{}`: {e}", shown(&child)))?;
                }
                // Sockets, FIFOs, devices: no content to send.
                _ => {}
            }
        }
        Ok(())
    }

    fn append_file(
        &mut self,
        child: &[u8],
        mode: u32,
        mtime: i64,
        data: &mut dyn Read,
        size: u64,
    ) -> Result<(), String> {
        self.content += size;
        if self.content > self.cap {
            return Err(format!(
                "the build context is larger than gantry's cap of {} (reached at `{}`); exclude what the build does not need in `.dockerignore`",
                crate::manifest::units::format_size(self.cap),
                display(child)
            ));
        }
        let mut h = header(tar::EntryType::Regular, mode, mtime, size);
        self.builder
            .append_data(&mut h, as_path(child), data)
            .map_err(|e| format!("cannot archive `{}`: {e}", display(child)))
    }
}

fn as_path(b: &[u8]) -> &Path {
    Path::new(OsStr::from_bytes(b))
}

fn display(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}
