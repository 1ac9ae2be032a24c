//! The sandbox plan: everything the helper process needs to build one sandbox and start
//! one command, and its wire form.
//!
//! gantry (the broker, multithreaded) decides; the helper (`gantry` re-executed,
//! single-threaded, see [`super::helper`]) only executes. The plan travels in a sealed
//! memory file whose descriptor the helper inherits, in a small length-prefixed binary
//! form rather than JSON: paths and arguments are bytes on Linux (a workspace path need
//! not be UTF-8), and the decoder is a few lines that refuse anything truncated,
//! oversized or unknown without panicking. Nothing in the plan is read from the plugin
//! except the command's arguments and environment values, which are only passed on.
//!
//! Tests: the unit tests below (round trip; truncated, trailing and unknown input).

use std::fmt;

/// Refuses a plan bigger than this: the broker caps what a plugin passes at 1 MiB, and
/// the rest of a plan is a few kilobytes.
pub const MAX_PLAN: usize = 8 << 20;

const MAGIC: &[u8; 4] = b"GSB1";

/// One step of building the sandbox's root, in order. Paths are absolute paths inside
/// the sandbox; sources are host paths or inherited descriptors.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Mount {
    /// The host path `path` (following the host's symbolic links: gantry chose it, not a
    /// plugin), shown read-only at the same path. Skipped when missing if `optional`.
    Host { path: Vec<u8>, optional: bool },
    /// A symbolic link `at` → `target`, made in the sandbox's own root.
    Symlink { target: Vec<u8>, at: Vec<u8> },
    /// A new `proc` of the sandbox's PID namespace, with `sys`, `sysrq-trigger`, `irq`
    /// and `bus` read-only.
    Proc { at: Vec<u8> },
    /// A minimal `/dev`: `null`, `zero`, `full`, `random`, `urandom`, `tty`, the
    /// `fd`/`stdin`/`stdout`/`stderr` links, a private `pts` and `shm`.
    Dev { at: Vec<u8> },
    /// A private tmpfs of at most `size` bytes with permissions `mode`.
    Tmpfs { at: Vec<u8>, size: u64, mode: u32 },
    /// A directory made in a writable part of the sandbox (a tmpfs) with `mode`.
    Dir { at: Vec<u8>, mode: u32 },
    /// The directory or file open as descriptor `fd` (inherited from gantry), shown at
    /// `at`, read-write if `writable`. The helper re-opens it by the path the kernel
    /// reports for it, without following any symbolic link, and binds it only if it is
    /// still the same file (device and inode).
    Fd {
        fd: i32,
        at: Vec<u8>,
        writable: bool,
    },
    /// Covers the directory at `at` with an empty read-only one.
    Hide { at: Vec<u8> },
    /// Covers the file at `at` with an empty read-only one.
    HideFile { at: Vec<u8> },
}

/// One sandbox and the command it runs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Plan {
    /// gantry's process id: the helper gives up if it is no longer its parent.
    pub parent: u32,
    /// Keeps the host's network (no network namespace).
    pub network: bool,
    pub hostname: Vec<u8>,
    pub mounts: Vec<Mount>,
    /// Where the command starts (absolute, inside the sandbox), entered without
    /// following any symbolic link.
    pub chdir: Vec<u8>,
    /// The program, an absolute path inside the sandbox.
    pub program: Vec<u8>,
    /// `argv`, `argv[0]` included.
    pub argv: Vec<Vec<u8>>,
    /// `NAME=value` entries: the command's whole environment.
    pub env: Vec<Vec<u8>>,
}

/// Why a plan could not be read.
#[derive(Debug, PartialEq, Eq)]
pub struct DecodeError(&'static str);

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "the sandbox plan is damaged: {}", self.0)
    }
}

impl std::error::Error for DecodeError {}

struct Writer(Vec<u8>);

impl Writer {
    fn u8(&mut self, v: u8) {
        self.0.push(v);
    }
    fn u32(&mut self, v: u32) {
        self.0.extend_from_slice(&v.to_le_bytes());
    }
    fn u64(&mut self, v: u64) {
        self.0.extend_from_slice(&v.to_le_bytes());
    }
    fn bytes(&mut self, v: &[u8]) {
        // Callers keep every item far below 4 GiB (the broker caps a command at 1 MiB).
        self.u32(u32::try_from(v.len()).unwrap_or(u32::MAX));
        self.0.extend_from_slice(v);
    }
    fn list(&mut self, v: &[Vec<u8>]) {
        self.u32(u32::try_from(v.len()).unwrap_or(u32::MAX));
        for item in v {
            self.bytes(item);
        }
    }
}

struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], DecodeError> {
        if self.0.len() < n {
            return Err(DecodeError("it ends early"));
        }
        let (head, rest) = self.0.split_at(n);
        self.0 = rest;
        Ok(head)
    }
    fn u8(&mut self) -> Result<u8, DecodeError> {
        Ok(self.take(1)?[0])
    }
    fn u32(&mut self) -> Result<u32, DecodeError> {
        let b = self.take(4)?;
        Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }
    fn u64(&mut self) -> Result<u64, DecodeError> {
        let b = self.take(8)?;
        let mut a = [0u8; 8];
        a.copy_from_slice(b);
        Ok(u64::from_le_bytes(a))
    }
    fn bool(&mut self) -> Result<bool, DecodeError> {
        match self.u8()? {
            0 => Ok(false),
            1 => Ok(true),
            _ => Err(DecodeError("a flag is neither 0 nor 1")),
        }
    }
    fn bytes(&mut self) -> Result<Vec<u8>, DecodeError> {
        let n = self.u32()? as usize;
        Ok(self.take(n)?.to_vec())
    }
    fn list(&mut self) -> Result<Vec<Vec<u8>>, DecodeError> {
        let n = self.u32()? as usize;
        // Each item takes at least its 4-byte length: a count larger than what is left
        // is a lie, refused before anything is allocated for it.
        if n > self.0.len() / 4 {
            return Err(DecodeError("a list is longer than the plan"));
        }
        (0..n).map(|_| self.bytes()).collect()
    }
}

impl Plan {
    pub fn encode(&self) -> Vec<u8> {
        let mut w = Writer(Vec::with_capacity(4096));
        w.0.extend_from_slice(MAGIC);
        w.u32(self.parent);
        w.u8(u8::from(self.network));
        w.bytes(&self.hostname);
        w.u32(u32::try_from(self.mounts.len()).unwrap_or(u32::MAX));
        for m in &self.mounts {
            match m {
                Mount::Host { path, optional } => {
                    w.u8(1);
                    w.bytes(path);
                    w.u8(u8::from(*optional));
                }
                Mount::Symlink { target, at } => {
                    w.u8(2);
                    w.bytes(target);
                    w.bytes(at);
                }
                Mount::Proc { at } => {
                    w.u8(3);
                    w.bytes(at);
                }
                Mount::Dev { at } => {
                    w.u8(4);
                    w.bytes(at);
                }
                Mount::Tmpfs { at, size, mode } => {
                    w.u8(5);
                    w.bytes(at);
                    w.u64(*size);
                    w.u32(*mode);
                }
                Mount::Dir { at, mode } => {
                    w.u8(6);
                    w.bytes(at);
                    w.u32(*mode);
                }
                Mount::Fd { fd, at, writable } => {
                    w.u8(7);
                    w.u32(*fd as u32);
                    w.bytes(at);
                    w.u8(u8::from(*writable));
                }
                Mount::Hide { at } => {
                    w.u8(8);
                    w.bytes(at);
                }
                Mount::HideFile { at } => {
                    w.u8(9);
                    w.bytes(at);
                }
            }
        }
        w.bytes(&self.chdir);
        w.bytes(&self.program);
        w.list(&self.argv);
        w.list(&self.env);
        w.0
    }

    pub fn decode(bytes: &[u8]) -> Result<Plan, DecodeError> {
        if bytes.len() > MAX_PLAN {
            return Err(DecodeError("it is larger than 8 MiB"));
        }
        let mut r = Reader(bytes);
        if r.take(4)? != MAGIC {
            return Err(DecodeError("it does not start with the plan's marker"));
        }
        let parent = r.u32()?;
        let network = r.bool()?;
        let hostname = r.bytes()?;
        let n = r.u32()? as usize;
        if n > r.0.len() {
            return Err(DecodeError("more mounts than the plan can hold"));
        }
        let mut mounts = Vec::with_capacity(n);
        for _ in 0..n {
            mounts.push(match r.u8()? {
                1 => Mount::Host {
                    path: r.bytes()?,
                    optional: r.bool()?,
                },
                2 => Mount::Symlink {
                    target: r.bytes()?,
                    at: r.bytes()?,
                },
                3 => Mount::Proc { at: r.bytes()? },
                4 => Mount::Dev { at: r.bytes()? },
                5 => Mount::Tmpfs {
                    at: r.bytes()?,
                    size: r.u64()?,
                    mode: r.u32()?,
                },
                6 => Mount::Dir {
                    at: r.bytes()?,
                    mode: r.u32()?,
                },
                7 => Mount::Fd {
                    fd: r.u32()? as i32,
                    at: r.bytes()?,
                    writable: r.bool()?,
                },
                8 => Mount::Hide { at: r.bytes()? },
                9 => Mount::HideFile { at: r.bytes()? },
                _ => return Err(DecodeError("a mount of an unknown kind")),
            });
        }
        let plan = Plan {
            parent,
            network,
            hostname,
            mounts,
            chdir: r.bytes()?,
            program: r.bytes()?,
            argv: r.list()?,
            env: r.list()?,
        };
        if !r.0.is_empty() {
            return Err(DecodeError("bytes after its end"));
        }
        Ok(plan)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Plan {
        Plan {
            parent: 4242,
            network: false,
            hostname: b"gantry-sandbox".to_vec(),
            mounts: vec![
                Mount::Host {
                    path: b"/usr".to_vec(),
                    optional: false,
                },
                Mount::Symlink {
                    target: b"usr/bin".to_vec(),
                    at: b"/bin".to_vec(),
                },
                Mount::Proc {
                    at: b"/proc".to_vec(),
                },
                Mount::Dev {
                    at: b"/dev".to_vec(),
                },
                Mount::Tmpfs {
                    at: b"/tmp".to_vec(),
                    size: 1 << 30,
                    mode: 0o1777,
                },
                Mount::Dir {
                    at: b"/tmp/home".to_vec(),
                    mode: 0o700,
                },
                Mount::Fd {
                    fd: 7,
                    at: b"/w/\xff-not-utf8".to_vec(),
                    writable: true,
                },
                Mount::Hide {
                    at: b"/w/.gantry".to_vec(),
                },
                Mount::HideFile {
                    at: b"/opt/t/.netrc".to_vec(),
                },
            ],
            chdir: b"/w".to_vec(),
            program: b"/usr/bin/git".to_vec(),
            argv: vec![b"git".to_vec(), b"status".to_vec(), Vec::new()],
            env: vec![b"PATH=/usr/bin".to_vec(), b"HOME=/tmp/home".to_vec()],
        }
    }

    #[test]
    fn round_trips_every_kind_of_mount_and_non_utf8_paths() {
        let p = sample();
        assert_eq!(Plan::decode(&p.encode()), Ok(p));
    }

    #[test]
    fn damaged_plans_are_refused_without_panicking() {
        let bytes = sample().encode();
        // Every truncation fails cleanly.
        for n in 0..bytes.len() {
            assert!(Plan::decode(&bytes[..n]).is_err(), "prefix of {n} bytes");
        }
        let mut extra = bytes.clone();
        extra.push(0);
        assert_eq!(
            Plan::decode(&extra),
            Err(DecodeError("bytes after its end"))
        );
        let mut magic = bytes.clone();
        magic[0] = b'X';
        assert!(Plan::decode(&magic).is_err());
        // An unknown mount kind (the first mount's tag follows the header, the
        // hostname and the mount count).
        let tag = 4 + 4 + 1 + 4 + b"gantry-sandbox".len() + 4;
        assert_eq!(bytes[tag], 1);
        let mut kind = bytes.clone();
        kind[tag] = 99;
        assert_eq!(
            Plan::decode(&kind),
            Err(DecodeError("a mount of an unknown kind"))
        );
        // Counts and lengths that claim more than is there.
        let mut count = bytes.clone();
        count[tag - 4..tag].copy_from_slice(&u32::MAX.to_le_bytes());
        assert!(Plan::decode(&count).is_err());
        // Every single-byte corruption is either refused or decodes to some plan:
        // never a panic.
        for i in 0..bytes.len() {
            for v in [0u8, 1, 0x7f, 0xff] {
                let mut b = bytes.clone();
                b[i] = v;
                let _ = Plan::decode(&b);
            }
        }
    }
}
