//! Per-stage log files: `logs/<stage>.log`.
//!
//! Everything a plugin says (its `log` calls, its stdout and stderr) lands here, one
//! line per record, prefixed by time and source. Volume is capped per stream; the cap
//! and what was dropped are written into the log itself, so a truncated log says so.
//!
//! [`StageLog`] is the only writer of stage logs, and the boundary where a plugin's
//! log records and output enter the host's records. In this order:
//!
//! 1. **Redaction**, of each record whole, as the plugin gave it: a `log` call's message,
//!    field keys and values each before they are cut to their limits
//!    ([`crate::caps::log`]), a line of stdout or stderr before anything else
//!    ([`crate::run::redact`] lists the forms caught).
//! 2. **Values cut across records.** The last [`WINDOW`] records (at most
//!    [`WINDOW_BYTES`] bytes, the newest always) are held back before they are written.
//!    When a record arrives, the end of each held record is joined with its start, and
//!    a value found across the join is masked on both sides: a value cut in two, with
//!    up to `WINDOW - 1` records of other output (any source) between the pieces, is
//!    caught. For the record just before, the join also keeps what separated the two
//!    in their stream (the newline between two lines of stdout), which catches a
//!    two-line value printed as it is. Held records are written when they leave the
//!    window and when the stage ends.
//! 3. **Escaping**: every control character, bidi override and line separator is
//!    written as a visible escape ([`crate::run::display::escape`]), so a record stays
//!    on its line and cannot rewrite what a reviewer sees in a terminal.
//!
//! Tests: unit tests below; `tests/e2e/attack_env_secrets.rs`, `tests/e2e/sandbox.rs`.

use std::collections::VecDeque;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::Path;
use std::sync::{Arc, Mutex};

use super::clock::now_rfc3339;
use super::display;
use super::redact::{Hit, Redactor};
use crate::caps::log::{MAX_KEY, MAX_MESSAGE, MAX_VALUE, clip};

/// Records held back, so a value cut across two of them is caught (module docs).
pub const WINDOW: usize = 8;
/// Bytes of records held back at most (the newest record is always held).
pub const WINDOW_BYTES: usize = 256 * 1024;
/// Bytes of each side of a join searched for a cut value, at most: a value whose
/// encoded form is longer than this is not caught when cut across records.
const MAX_JOIN: usize = 16 * 1024;

/// A record not written yet.
struct Held {
    time: String,
    source: String,
    /// Redacted on its own.
    text: String,
    /// What followed it in its stream: `"\n"` after a line of stdout or stderr.
    sep: &'static str,
    /// Pieces of values cut across records, found when later records arrived.
    cuts: Vec<Hit>,
}

struct Out {
    file: Option<BufWriter<File>>,
    held: VecDeque<Held>,
    held_bytes: usize,
}

/// Bytes a record's line adds to its text: `2026-11-26T01:51:07.123Z info `.
const LINE_OVERHEAD: usize = 32;

/// One stage's log file.
pub struct StageLog {
    out: Mutex<Out>,
    redactor: Arc<Redactor>,
    /// Records from the `log` interface (not stdio), bytes; capped like stdio.
    cap: u64,
    written: Mutex<u64>,
}

impl StageLog {
    pub fn create(path: &Path, cap: u64, redactor: Arc<Redactor>) -> std::io::Result<StageLog> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        Ok(StageLog::to_file(File::create(path)?, cap, redactor))
    }

    /// Opens an existing stage log for appending (a resumed run, see `run::resume`).
    pub fn append(path: &Path, cap: u64, redactor: Arc<Redactor>) -> std::io::Result<StageLog> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        let file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)?;
        Ok(StageLog::to_file(file, cap, redactor))
    }

    fn to_file(file: File, cap: u64, redactor: Arc<Redactor>) -> StageLog {
        StageLog::new(Some(BufWriter::new(file)), cap, redactor)
    }

    fn new(file: Option<BufWriter<File>>, cap: u64, redactor: Arc<Redactor>) -> StageLog {
        StageLog {
            out: Mutex::new(Out {
                file,
                held: VecDeque::new(),
                held_bytes: 0,
            }),
            redactor,
            cap,
            written: Mutex::new(0),
        }
    }

    /// A log that goes nowhere (describe calls, benchmarks).
    pub fn sink() -> StageLog {
        StageLog::new(None, u64::MAX, Arc::new(Redactor::default()))
    }

    /// Writes one record: the host's own notes (start, end, truncation, what a broker
    /// did), which may quote what the plugin passed.
    pub fn line(&self, source: &str, text: &str) {
        self.push(source, self.redactor.redact(text).into_owned(), "");
    }

    /// One line of the plugin's stdout or stderr; `newline`: it ended with one (else it
    /// was cut at the longest line kept whole, or is the last one).
    pub fn stream_line(&self, source: &str, text: &str, newline: bool) {
        let sep = if newline { "\n" } else { "" };
        self.push(source, self.redactor.redact(text).into_owned(), sep);
    }

    /// A record from the plugin's `log` interface, as the plugin gave it; counted
    /// against the cap. Message, keys and values are redacted whole, then cut to
    /// [`MAX_MESSAGE`], [`MAX_KEY`] and [`MAX_VALUE`] bytes.
    pub fn record(&self, level: &str, message: String, fields: Vec<(String, String)>) {
        // What the line will cost, known before any work is spent on it.
        let size = message.len().min(MAX_MESSAGE)
            + fields
                .iter()
                .map(|(k, v)| 2 + k.len().min(MAX_KEY) + v.len().min(MAX_VALUE))
                .sum::<usize>();
        let mut written = self.written.lock().unwrap_or_else(|p| p.into_inner());
        let before = *written;
        // Count the line as written (time, source, spaces): a flood of tiny records
        // would otherwise fill several times the cap.
        *written = written.saturating_add((size + LINE_OVERHEAD) as u64);
        let over = *written > self.cap;
        drop(written);
        if before >= self.cap {
            return;
        }
        let r = &self.redactor;
        let mut text = clip(r.redact(&message).into_owned(), MAX_MESSAGE);
        for (k, v) in fields {
            let k = clip(r.redact(&k).into_owned(), MAX_KEY);
            let v = clip(r.redact(&v).into_owned(), MAX_VALUE);
            text.push(' ');
            text.push_str(&k);
            text.push('=');
            if v.contains(' ') {
                text.push_str(&format!("{v:?}"));
            } else {
                text.push_str(&v);
            }
        }
        self.push(level, text, "");
        if over {
            self.line(
                "gantry",
                &format!(
                    "log records truncated: more than {} bytes; later records dropped",
                    self.cap
                ),
            );
        }
    }

    /// Holds back `text` (redacted on its own), masking values cut between it and the
    /// records held; writes the records that leave the window.
    fn push(&self, source: &str, text: String, sep: &'static str) {
        let mut guard = self.out.lock().unwrap_or_else(|p| p.into_inner());
        let out = &mut *guard;
        if out.file.is_none() {
            return;
        }
        let mut new = Held {
            time: now_rfc3339(),
            source: source.to_string(),
            text,
            sep,
            cuts: Vec::new(),
        };
        if !self.redactor.is_empty() {
            let last = out.held.len().saturating_sub(1);
            for (i, h) in out.held.iter_mut().enumerate() {
                let seps: &[&str] = if i == last && !h.sep.is_empty() {
                    &["", h.sep]
                } else {
                    &[""]
                };
                for sep in seps {
                    if let Some((a, b)) = self.redactor.across(&h.text, sep, &new.text, MAX_JOIN) {
                        h.cuts.push(a);
                        new.cuts.push(b);
                    }
                }
            }
        }
        out.held_bytes += new.text.len();
        out.held.push_back(new);
        while out.held.len() > WINDOW || (out.held.len() > 1 && out.held_bytes > WINDOW_BYTES) {
            if let Some(h) = out.held.pop_front() {
                out.held_bytes -= h.text.len();
                self.write(out, h);
            }
        }
    }

    fn write(&self, out: &mut Out, h: Held) {
        let text = if h.cuts.is_empty() {
            h.text
        } else {
            self.redactor.mask(&h.text, &h.cuts)
        };
        if let Some(w) = out.file.as_mut() {
            let _ = writeln!(w, "{} {} {}", h.time, h.source, display::escape(&text));
        }
    }

    /// Writes the held-back records and flushes. Call when the stage ends.
    pub fn flush(&self) {
        let mut guard = self.out.lock().unwrap_or_else(|p| p.into_inner());
        let out = &mut *guard;
        while let Some(h) = out.held.pop_front() {
            out.held_bytes -= h.text.len();
            self.write(out, h);
        }
        if let Some(w) = out.file.as_mut() {
            let _ = w.flush();
        }
    }

    pub fn redactor(&self) -> &Redactor {
        &self.redactor
    }
}

impl Drop for StageLog {
    fn drop(&mut self) {
        self.flush();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const V: &str = "tok3n-Qx7vR2mL9pZs4Kd8";

    struct Tmp(std::path::PathBuf);
    impl Drop for Tmp {
        fn drop(&mut self) {
            let _ = std::fs::remove_file(&self.0);
        }
    }

    /// A log with secret `V`, fed by `feed`; returns what it wrote.
    fn logged(feed: impl FnOnce(&StageLog)) -> String {
        use std::sync::atomic::{AtomicU32, Ordering};
        static N: AtomicU32 = AtomicU32::new(0);
        let path = std::env::temp_dir().join(format!(
            "gantry-log-test-{}-{}.log",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        let _tmp = Tmp(path.clone());
        let r = Arc::new(Redactor::new(&[("TOKEN".into(), V.into())]));
        let log = StageLog::create(&path, 1 << 20, r).expect("create log");
        feed(&log);
        drop(log);
        std::fs::read_to_string(&path).expect("read log")
    }

    fn texts(log: &str) -> Vec<String> {
        log.lines()
            .map(|l| l.splitn(3, ' ').nth(2).unwrap_or_default().to_string())
            .collect()
    }

    #[test]
    fn control_characters_cannot_forge_lines() {
        let log = logged(|l| l.line("stdout", "a\nb\x1b[2Jc\u{202E}"));
        assert_eq!(texts(&log), ["a\\nb\\u{1b}[2Jc\\u{202e}"]);
    }

    #[test]
    fn a_multi_line_record_is_redacted_before_its_newlines_are_escaped() {
        let key = "-----BEGIN K-----\nAAAAB3NzaC1yc2EAAAADAQAB\n-----END K-----";
        let log = {
            use std::sync::atomic::{AtomicU32, Ordering};
            static N: AtomicU32 = AtomicU32::new(0);
            let path = std::env::temp_dir().join(format!(
                "gantry-log-ml-{}-{}.log",
                std::process::id(),
                N.fetch_add(1, Ordering::Relaxed)
            ));
            let _tmp = Tmp(path.clone());
            let r = Arc::new(Redactor::new(&[("KEY".into(), key.into())]));
            let log = StageLog::create(&path, 1 << 20, r).expect("create log");
            log.record("info", format!("key:\n{key}\nend"), vec![]);
            for line in key.lines() {
                log.stream_line("stdout", line, true);
            }
            drop(log);
            std::fs::read_to_string(&path).expect("read log")
        };
        assert_eq!(
            texts(&log),
            [
                "key:\\n[secret:KEY]\\nend",
                "[secret:KEY]",
                "[secret:KEY]",
                "[secret:KEY]"
            ]
        );
    }

    #[test]
    fn values_cut_across_records_are_masked_with_other_output_between() {
        let (a, b) = V.split_at(7);
        let log = logged(|l| {
            l.record("info", format!("first half {a}"), vec![]);
            l.stream_line("stderr", "something else", true);
            l.line("gantry", "a host note");
            l.record("info", format!("{b} and more"), vec![]);
        });
        assert_eq!(
            texts(&log),
            [
                "first half [secret:TOKEN]",
                "something else",
                "a host note",
                "[secret:TOKEN] and more"
            ]
        );
        // Two lines of stdout, cut anywhere (even one character on one side).
        for at in 1..V.len() {
            let (a, b) = V.split_at(at);
            let log = logged(|l| {
                l.stream_line("stdout", &format!("x {a}"), true);
                l.stream_line("stdout", &format!("{b} y"), true);
            });
            assert_eq!(
                texts(&log),
                ["x [secret:TOKEN]", "[secret:TOKEN] y"],
                "cut at {at}"
            );
        }
    }

    #[test]
    fn a_two_line_value_printed_as_it_is_is_masked_across_its_newline() {
        // Lines too short to be masked on their own: only the join with the newline
        // that separated them on stdout finds the value.
        let path = std::env::temp_dir().join(format!("gantry-log-2l-{}.log", std::process::id()));
        let _tmp = Tmp(path.clone());
        let r = Arc::new(Redactor::new(&[("K".into(), "ab3d\nx9z".into())]));
        let log = StageLog::create(&path, 1 << 20, r).expect("create log");
        log.stream_line("stdout", "key: ab3d", true);
        log.stream_line("stdout", "x9z", true);
        drop(log);
        let log = std::fs::read_to_string(&path).expect("read log");
        assert_eq!(texts(&log), ["key: [secret:K]", "[secret:K]"]);
    }

    #[test]
    fn what_is_held_back_is_bounded() {
        let (a, b) = V.split_at(10);
        // More than WINDOW records between the pieces: the first has been written.
        let log = logged(|l| {
            l.line("info", a);
            for i in 0..WINDOW {
                l.line("info", &format!("noise {i}"));
            }
            l.line("info", b);
        });
        let t = texts(&log);
        assert_eq!(t.len(), WINDOW + 2);
        assert_eq!(t[0], a, "beyond the window: not caught (documented)");
        // Big records leave the window by size.
        let big = "x".repeat(WINDOW_BYTES / 2 + 1);
        let log = logged(|l| {
            l.line("info", &format!("{big}{a}"));
            l.line("info", &big);
            l.line("info", &big);
            l.line("info", b);
        });
        assert!(log.lines().next().is_some_and(|l| l.ends_with(a)));
    }

    #[test]
    fn log_records_are_redacted_before_they_are_cut() {
        // The value straddles the message limit: without redaction first, its first
        // part would be kept.
        let message = format!("{}{V}", "m".repeat(MAX_MESSAGE - 5));
        let log = logged(|l| l.record("info", message, vec![("k".into(), V.into())]));
        assert!(!log.contains(&V[..5]), "{}", &log[log.len() - 200..]);
        assert!(log.contains("k=[secret:TOKEN]"));
    }
}
