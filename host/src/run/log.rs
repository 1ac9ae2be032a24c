//! Per-stage log files: `logs/<stage>.log`.
//!
//! Everything a plugin says (its `log` calls, its stdout and stderr) lands here, one
//! line per record, prefixed by time and source. Volume is capped per stream; the cap
//! and what was dropped are written into the log itself, so a truncated log says so.
//!
//! Secret values are redacted before anything reaches the file ([`Redactor`]); one
//! record is held back so that a value split across two records is caught too.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::Path;
use std::sync::{Arc, Mutex};

use super::clock::now_rfc3339;
use super::redact::Redactor;

struct Out {
    file: Option<BufWriter<File>>,
    /// The last record, not yet written: (time, source, text).
    pending: Option<(String, String, String)>,
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
        StageLog {
            out: Mutex::new(Out {
                file: Some(BufWriter::new(file)),
                pending: None,
            }),
            redactor,
            cap,
            written: Mutex::new(0),
        }
    }

    /// A log that goes nowhere (describe calls, benchmarks).
    pub fn sink() -> StageLog {
        StageLog {
            out: Mutex::new(Out {
                file: None,
                pending: None,
            }),
            redactor: Arc::new(Redactor::default()),
            cap: u64::MAX,
            written: Mutex::new(0),
        }
    }

    /// Writes one line verbatim (the host's own notes: start, end, truncation).
    pub fn line(&self, source: &str, text: &str) {
        let mut guard = self.out.lock().unwrap_or_else(|p| p.into_inner());
        let out = &mut *guard;
        if out.file.is_none() {
            return;
        }
        let text = sanitize(text);
        let next = match out.pending.take() {
            Some((time, src, prev)) => {
                let (a, b) = self.redactor.redact_pair(&prev, &text);
                if let Some(w) = out.file.as_mut() {
                    let _ = writeln!(w, "{time} {src} {a}");
                }
                b
            }
            None => text,
        };
        out.pending = Some((now_rfc3339(), source.to_string(), next));
    }

    /// A record from the plugin's `log` interface; counted against the cap.
    pub fn record(&self, level: &str, message: &str, fields: &[(String, String)]) {
        let mut text = String::with_capacity(message.len() + 16);
        text.push_str(message);
        for (k, v) in fields {
            text.push(' ');
            text.push_str(k);
            text.push('=');
            if v.contains(' ') {
                text.push_str(&format!("{v:?}"));
            } else {
                text.push_str(v);
            }
        }
        let mut written = self.written.lock().unwrap_or_else(|p| p.into_inner());
        let before = *written;
        // Count the line as written (time, source, spaces): a flood of tiny records
        // would otherwise fill several times the cap.
        *written = written.saturating_add((text.len() + LINE_OVERHEAD) as u64);
        if before >= self.cap {
            return;
        }
        if *written > self.cap {
            drop(written);
            self.line(level, &text);
            self.line(
                "gantry",
                &format!(
                    "log records truncated: more than {} bytes; later records dropped",
                    self.cap
                ),
            );
            return;
        }
        drop(written);
        self.line(level, &text);
    }

    /// Writes the held-back record and flushes. Call when the stage ends.
    pub fn flush(&self) {
        let mut guard = self.out.lock().unwrap_or_else(|p| p.into_inner());
        let out = &mut *guard;
        if let (Some((time, src, text)), Some(w)) = (out.pending.take(), out.file.as_mut()) {
            let _ = writeln!(w, "{time} {src} {}", self.redactor.redact(&text));
        }
        if let Some(w) = out.file.as_mut() {
            let _ = w.flush();
        }
    }

    pub fn redactor(&self) -> &Redactor {
        &self.redactor
    }
}

/// Keeps one record on one line and strips terminal control sequences a plugin could
/// use to rewrite what a reviewer sees.
fn sanitize(text: &str) -> String {
    text.chars()
        .map(|c| match c {
            '\n' => '⏎',
            '\t' => ' ',
            c if c.is_control() => '�',
            c => c,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_characters_cannot_forge_lines() {
        assert_eq!(sanitize("a\nb\x1b[2Jc"), "a⏎b�[2Jc");
    }
}

impl Drop for StageLog {
    fn drop(&mut self) {
        self.flush();
    }
}
