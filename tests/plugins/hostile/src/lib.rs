//! Test plugin `hostile`: each `action` is one attempt to escape or exhaust the
//! sandbox. Filesystem attempts report what happened as outputs (`result` =
//! `ok:…` or `err:…`) so tests can assert the refusal from both sides: what the plugin
//! saw, and that nothing on the host changed.

use std::io::Write;

use gantry_sdk::prelude::*;

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct Config {
    action: Action,
    /// Path argument of filesystem actions (guest path, absolute or relative to /workspace).
    #[serde(default)]
    path: String,
    /// Second path (rename / hard-link target).
    #[serde(default)]
    to: String,
    /// How many times (floods), or how many bytes (huge strings); 0 = the action's default.
    #[serde(default)]
    count: u64,
    /// Secret name for `secret-handles`.
    #[serde(default)]
    secret: String,
}

#[derive(Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
enum Action {
    /// Spin forever.
    Loop,
    /// Allocate until something gives.
    MemoryBomb,
    /// Recurse without end.
    Recursion,
    /// Write 1 GiB to stdout.
    StdoutFlood,
    /// Read a file.
    Read,
    /// Create/overwrite a file.
    Write,
    /// Truncate an existing file.
    Truncate,
    /// Rename `path` to `to`.
    Rename,
    /// Hard-link `path` to `to`.
    HardLink,
    /// List a directory.
    List,
    /// Read every environment variable.
    Env,
    /// Panic.
    Panic,
    /// `count` (default 2 000 000) `log` host calls.
    LogFlood,
    /// One `log` message of `count` bytes (default 64 MiB), and one field as large.
    HugeLog,
    /// A report with one finding whose message is `count` bytes (default 64 MiB).
    HugeFinding,
    /// A report whose output `big` is `count` bytes (default 64 MiB).
    HugeOutput,
    /// Hold `count` (default 100 000) handles to secret `secret` at once.
    SecretHandles,
    /// Hold `count` (default 100 000) open descriptors of `path` at once.
    OpenFiles,
    /// Create a symbolic link at `path` whose target is `to`, exactly as written.
    Symlink,
    /// Append a line to `path` (a forged record line).
    Append,
    /// `count` times (default 20 000): swap `path` with `to` by three renames through
    /// `path.held` — with `to` a planted link, `path` keeps changing between a
    /// directory and a link (the preopen race).
    Swap,
}

const MIB64: u64 = 64 << 20;

struct Hostile;

fn resolve(p: &str) -> String {
    if p.starts_with('/') {
        p.to_string()
    } else {
        format!("/workspace/{p}")
    }
}

fn outcome<T>(r: std::io::Result<T>, ok: impl FnOnce(T) -> String) -> String {
    match r {
        Ok(v) => format!("ok:{}", ok(v)),
        Err(e) => format!("err:{e}"),
    }
}

/// `symlink-at` on the preopen holding `link` (std has no stable symlink on wasip2).
fn symlink(target: &str, link: &str) -> Result<(), String> {
    let dirs = wasip2::filesystem::preopens::get_directories();
    let (dir, prefix) = dirs
        .iter()
        .filter(|(_, p)| link.starts_with(&format!("{p}/")))
        .max_by_key(|(_, p)| p.len())
        .ok_or_else(|| format!("no preopen holds {link}"))?;
    let rel = &link[prefix.len() + 1..];
    dir.symlink_at(target, rel)
        .map_err(|e| e.name().to_string())
}

// Recursing without end is the attack (deep recursion must trap cleanly).
#[allow(unconditional_recursion)]
#[inline(never)]
fn recurse(depth: u64, buf: &mut [u8; 256]) -> u64 {
    let mut local = [0u8; 256];
    local[(depth % 256) as usize] = buf[(depth % 256) as usize].wrapping_add(1);
    std::hint::black_box(&mut local);
    1 + recurse(depth + 1, &mut local)
}

impl Plugin for Hostile {
    type Config = Config;

    fn info() -> Info {
        Info::new("hostile", env!("CARGO_PKG_VERSION")).description("attack plugin for tests")
    }

    fn run(_cx: &Context, config: Config) -> Result<Report, Error> {
        let path = resolve(&config.path);
        let raw_to = config.to.clone();
        let to = resolve(&config.to);
        let result = match config.action {
            Action::Loop => {
                let mut x = 0u64;
                loop {
                    x = std::hint::black_box(x.wrapping_add(1));
                }
            }
            Action::MemoryBomb => {
                let mut hoard: Vec<Vec<u8>> = Vec::new();
                loop {
                    let mut chunk = vec![1u8; 16 << 20];
                    chunk[0] = hoard.len() as u8;
                    hoard.push(std::hint::black_box(chunk));
                }
            }
            Action::Recursion => {
                let mut buf = [0u8; 256];
                format!("ok:{}", recurse(0, &mut buf))
            }
            Action::StdoutFlood => {
                let chunk = vec![b'x'; 64 * 1024];
                let mut out = std::io::stdout().lock();
                let mut written = 0u64;
                while written < (1 << 30) {
                    if out.write_all(&chunk).is_err() {
                        break;
                    }
                    written += chunk.len() as u64;
                }
                format!("ok:{written}")
            }
            Action::Read => outcome(std::fs::read_to_string(&path), |s| {
                s.chars().take(200).collect()
            }),
            Action::Write => outcome(std::fs::write(&path, b"pwned by hostile plugin"), |_| {
                "written".into()
            }),
            Action::Truncate => outcome(
                std::fs::OpenOptions::new()
                    .write(true)
                    .truncate(true)
                    .open(&path),
                |_| "truncated".into(),
            ),
            Action::Rename => outcome(std::fs::rename(&path, &to), |_| "renamed".into()),
            Action::HardLink => outcome(std::fs::hard_link(&path, &to), |_| "linked".into()),
            Action::List => outcome(std::fs::read_dir(&path), |d| {
                let mut names: Vec<String> = d
                    .filter_map(|e| e.ok())
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .collect();
                names.sort();
                names.join(",")
            }),
            Action::Env => {
                let vars: Vec<String> = std::env::vars().map(|(k, _)| k).collect();
                format!("ok:{}", vars.join(","))
            }
            Action::Panic => panic!("hostile plugin panics on purpose"),
            Action::LogFlood => {
                let n = if config.count == 0 {
                    2_000_000
                } else {
                    config.count
                };
                for i in 0..n {
                    log::info("flood", &[("i", &i.to_string())]);
                }
                format!("ok:{n}")
            }
            Action::HugeLog => {
                let n = if config.count == 0 {
                    MIB64
                } else {
                    config.count
                } as usize;
                let big = "L".repeat(n);
                log::warn(&big, &[("field", &big)]);
                log::info("after the huge record", &[]);
                format!("ok:{n}")
            }
            Action::HugeFinding => {
                let n = if config.count == 0 {
                    MIB64
                } else {
                    config.count
                } as usize;
                let mut report = Report::new().summary("S".repeat(n));
                report.push(Finding::new("huge", Level::Warning, "F".repeat(n)));
                return Ok(report.output("result", format!("ok:{n}")));
            }
            Action::HugeOutput => {
                let n = if config.count == 0 {
                    MIB64
                } else {
                    config.count
                } as usize;
                return Ok(Report::new().output("big", "O".repeat(n)));
            }
            Action::SecretHandles => {
                let n = if config.count == 0 {
                    100_000
                } else {
                    config.count
                };
                let mut held = Vec::new();
                let mut err = String::from("none");
                for _ in 0..n {
                    match gantry_sdk::secrets::get(&config.secret) {
                        Ok(h) => held.push(h),
                        Err(e) => {
                            err = e.to_string();
                            break;
                        }
                    }
                }
                format!("held:{}:{err}", held.len())
            }
            Action::Symlink => match symlink(&raw_to, &path) {
                Ok(()) => "ok:linked".into(),
                Err(e) => format!("err:{e}"),
            },
            Action::Append => outcome(
                std::fs::OpenOptions::new()
                    .append(true)
                    .open(&path)
                    .and_then(|mut f| f.write_all(b"{\"forged\":true}\n")),
                |_| "appended".into(),
            ),
            Action::Swap => {
                let n = if config.count == 0 {
                    20_000
                } else {
                    config.count
                };
                let held = format!("{path}.held");
                let mut done = 0u64;
                for _ in 0..n {
                    let ok = std::fs::rename(&path, &held).is_ok()
                        && std::fs::rename(&to, &path).is_ok()
                        && std::fs::rename(&path, &to).is_ok()
                        && std::fs::rename(&held, &path).is_ok();
                    if !ok {
                        break;
                    }
                    done += 1;
                }
                format!("ok:{done}")
            }
            Action::OpenFiles => {
                let n = if config.count == 0 {
                    100_000
                } else {
                    config.count
                };
                let mut held = Vec::new();
                let mut err = String::from("none");
                for _ in 0..n {
                    match std::fs::File::open(&path) {
                        Ok(f) => held.push(f),
                        Err(e) => {
                            err = e.to_string();
                            break;
                        }
                    }
                }
                format!("held:{}:{err}", held.len())
            }
        };
        Ok(Report::new()
            .summary(result.clone())
            .output("result", result))
    }
}

gantry_sdk::export_plugin!(Hostile);
