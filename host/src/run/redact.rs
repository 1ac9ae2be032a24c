//! Redaction of secret values from everything gantry records about a run: stage logs,
//! `run.json`, `summary.json`, `report.sarif`, `junit.xml`, `audit.jsonl`,
//! `journal.jsonl`, `plan.json`, and the console.
//!
//! # Where: once, where a plugin's text enters the host
//!
//! Text a plugin controls is redacted where it crosses into the host, before anything
//! rewrites it (newline replacement, truncation, line splitting, JSON or XML escaping),
//! so no record writer has a field to forget:
//!
//! - the `run` export's report or error: [`crate::runtime::Runtime::run`] hands the
//!   scheduler a [`Redacted`] value, which only [`Redactor::seal`] builds, through the
//!   [`Redact`] impls below; each destructures its type completely, so a field added to
//!   the report model does not compile until its redaction is decided;
//! - log records, stdout and stderr: [`crate::run::log::StageLog`], the only writer of
//!   stage logs, redacts each record whole on arrival (see there for values cut across
//!   records);
//! - what brokers record about a call (arguments, reasons): the writers of
//!   `audit.jsonl` and `journal.jsonl` redact every string of an entry
//!   ([`Redactor::redact_json`]); `plan.json` is made of journal entries;
//! - `describe`'s plugin info runs with no grants, so it cannot hold a value; the
//!   scheduler still seals it before it goes into the records.
//!
//! # Forms caught
//!
//! A value is looked for as each of its *surfaces*: the value; for a multi-line value
//! also with `\n` and with `\r\n` line ends, and each of its lines of at least
//! [`MIN_PATTERN`] bytes on its own (a value printed line by line is masked line by
//! line). Each surface is matched, ignoring ASCII case (so hex in upper, lower or mixed
//! case, and an upper-cased value), as:
//! - itself, hex, base64 and base64url (with and without padding, and the part of the
//!   encoding that depends only on the value at each of the three byte alignments, so
//!   it is caught inside a larger blob such as a Basic auth header);
//! - inside one layer of text encoding, decoded before matching: percent-encoding (any
//!   case, any subset of bytes encoded, `+` for space), backslash escapes (JSON's `\"`
//!   `\\` `\/` `\n` `\r` `\t` `\b` `\f` and `\uXXXX` for any character including
//!   surrogate pairs; `\xNN`, `\u{…}`, `\UXXXXXXXX`), and HTML/XML character
//!   references (`&#116;`, `&#x74;`, `&amp;`, …). The encodings above are matched
//!   inside these too (a percent-encoded base64 value is caught).
//!
//! A form cut short where a message quotes at most so many characters of what a
//! plugin passed (brokers mark the cut with `…`) is masked from its start, when at
//! least [`MIN_CUT`] bytes of it are left before the `…`.
//!
//! Masks read `[secret:NAME]`. Values shorter than [`MIN_PATTERN`] bytes are masked
//! only as themselves (their encodings would mask ordinary text).
//!
//! # Not caught (an honest list)
//!
//! A plugin that may read a value (`grants.reveal`) can always get it out in a form no
//! masker recognises, which is why `gantry audit` flags every `reveal`. Not caught:
//! - the value transformed: reversed, rotated (rot13), XORed, compressed, encrypted;
//! - the value cut in pieces, other than two pieces at the edges of two log records at
//!   most [`crate::run::log::WINDOW`] records apart: pieces placed inside records, three
//!   or more pieces, one character per record or per finding, pieces spread over report
//!   fields (two outputs, two findings, a summary and a message);
//! - two layers of text encoding (a JSON-escaped percent-encoding), other encodings of
//!   an encoding (base64 of the hex form), base64 wrapped over several lines;
//! - lines shorter than [`MIN_PATTERN`] bytes of a multi-line value printed line by
//!   line, the encodings of values shorter than [`MIN_PATTERN`] bytes, and the
//!   base64 of a value shorter than 3 bytes plus alignment.
//!
//! Tests: unit tests below; `tests/e2e/attack_env_secrets.rs` (a plugin leaking a
//! revealed value through every report field and log form).

use std::borrow::Cow;

use aho_corasick::{AhoCorasick, MatchKind};
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};

use crate::report::model::{Finding, Fix, Location, PluginInfo, Region, Rule, StageReport};
use crate::runtime::RunError;

/// Shortest encoded form worth masking: shorter ones would mask ordinary text.
pub const MIN_PATTERN: usize = 6;

/// Shortest start of a form masked when a message cut it short with `…`.
pub const MIN_CUT: usize = 4;

/// Decoded views are built over pieces of this many bytes (plus an overlap), so a huge
/// text never costs more than a few times this in position maps.
const CHUNK: usize = 64 * 1024;

/// Most source bytes one decoded byte can come from (`\U00000074`, `&#0000116;`).
const MAX_EXPANSION: usize = 12;

/// Finds secret values and masks them. One per run, shared by every writer.
#[derive(Default)]
pub struct Redactor {
    matcher: Option<AhoCorasick>,
    /// The forms looked for (lower-cased), and the mask of each.
    patterns: Vec<Vec<u8>>,
    masks: Vec<String>,
    /// Longest pattern, in bytes.
    max_len: usize,
}

/// A range of a text to mask, and the pattern that matched there.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Hit {
    pub start: usize,
    pub end: usize,
    pattern: usize,
}

/// The texts a value is looked for as (see the module docs).
fn surfaces(value: &str) -> Vec<String> {
    let mut out = vec![value.to_string()];
    if value.contains(['\n', '\r']) {
        let lf = value.replace("\r\n", "\n");
        out.push(lf.replace('\n', "\r\n"));
        for line in lf.split('\n') {
            for l in [line, line.trim()] {
                let l = l.trim_end_matches('\r');
                if l.len() >= MIN_PATTERN {
                    out.push(l.to_string());
                }
            }
        }
        out.push(lf);
    }
    out.sort();
    out.dedup();
    out
}

/// The forms each surface is matched as; the text encodings are decoded instead.
fn variants(value: &str) -> Vec<String> {
    let mut out = Vec::new();
    for surface in surfaces(value) {
        let bytes = surface.as_bytes();
        out.push(hex::encode(bytes));
        for engine in [&STANDARD, &URL_SAFE] {
            for k in 0..3usize {
                let mut padded = vec![0u8; k];
                padded.extend_from_slice(bytes);
                let enc = engine.encode(&padded);
                // Characters determined only by the secret's bytes: whole 3-byte groups
                // that start at or after byte k and end within the secret.
                let g0 = k.div_ceil(3);
                let g1 = (k + bytes.len()) / 3;
                if g1 > g0 {
                    out.push(enc[4 * g0..4 * g1].to_string());
                }
            }
        }
        out.push(STANDARD.encode(bytes));
        out.push(STANDARD_NO_PAD.encode(bytes));
        out.push(URL_SAFE.encode(bytes));
        out.push(URL_SAFE_NO_PAD.encode(bytes));
        out.push(surface);
    }
    out.sort();
    out.dedup();
    out.retain(|v| v.len() >= MIN_PATTERN);
    out
}

/// A decoded copy of a piece of text, and for each decoded byte the source bytes it
/// came from (relative to the piece).
struct View {
    bytes: Vec<u8>,
    from: Vec<(u32, u32)>,
}

impl View {
    fn with_capacity(n: usize) -> View {
        View {
            bytes: Vec::with_capacity(n),
            from: Vec::with_capacity(n),
        }
    }
    fn push(&mut self, b: u8, start: usize, end: usize) {
        self.bytes.push(b);
        self.from.push((start as u32, end as u32));
    }
    fn push_char(&mut self, c: char, start: usize, end: usize) {
        let mut buf = [0u8; 4];
        for &b in c.encode_utf8(&mut buf).as_bytes() {
            self.push(b, start, end);
        }
    }
}

fn hex_val(b: u8) -> Option<u32> {
    (b as char).to_digit(16)
}

/// The number in `digits` (all of them hex or decimal digits), if there are 1..=max.
fn number(digits: &[u8], radix: u32, max: usize) -> Option<u32> {
    if digits.is_empty() || digits.len() > max {
        return None;
    }
    let mut n: u32 = 0;
    for &d in digits {
        n = n
            .checked_mul(radix)?
            .checked_add((d as char).to_digit(radix)?)?;
    }
    Some(n)
}

/// Percent-decoded (any case, any subset of bytes; `+` as space when `plus`).
fn percent_view(raw: &[u8], plus: bool) -> View {
    let mut v = View::with_capacity(raw.len());
    let mut i = 0;
    while i < raw.len() {
        let b = raw[i];
        if b == b'%'
            && let (Some(h), Some(l)) = (
                raw.get(i + 1).copied().and_then(hex_val),
                raw.get(i + 2).copied().and_then(hex_val),
            )
        {
            v.push((h * 16 + l) as u8, i, i + 3);
            i += 3;
        } else if plus && b == b'+' {
            v.push(b' ', i, i + 1);
            i += 1;
        } else {
            v.push(b, i, i + 1);
            i += 1;
        }
    }
    v
}

/// The UTF-16 code unit of a `\uXXXX` escape at `i` (its backslash).
fn u_escape(raw: &[u8], i: usize) -> Option<u32> {
    if raw.get(i + 1) != Some(&b'u') {
        return None;
    }
    number(raw.get(i + 2..i + 6)?, 16, 4)
}

/// Backslash escapes decoded: JSON's, `\xNN`, `\u{…}`, `\UXXXXXXXX`.
fn escape_view(raw: &[u8]) -> View {
    let mut v = View::with_capacity(raw.len());
    let mut i = 0;
    while i < raw.len() {
        if raw[i] != b'\\' || i + 1 >= raw.len() {
            v.push(raw[i], i, i + 1);
            i += 1;
            continue;
        }
        let simple = match raw[i + 1] {
            b'n' => Some(b'\n'),
            b'r' => Some(b'\r'),
            b't' => Some(b'\t'),
            b'b' => Some(0x08),
            b'f' => Some(0x0c),
            b'0' => Some(0),
            b'/' | b'\\' | b'"' | b'\'' => Some(raw[i + 1]),
            _ => None,
        };
        if let Some(b) = simple {
            v.push(b, i, i + 2);
            i += 2;
            continue;
        }
        if raw[i + 1] == b'x'
            && let Some(n) = raw.get(i + 2..i + 4).and_then(|d| number(d, 16, 2))
        {
            v.push(n as u8, i, i + 4);
            i += 4;
            continue;
        }
        if raw[i + 1] == b'u' && raw.get(i + 2) == Some(&b'{') {
            let close = raw[i + 3..].iter().take(7).position(|&b| b == b'}');
            let found = close.and_then(|c| {
                let ch = number(&raw[i + 3..i + 3 + c], 16, 6).and_then(char::from_u32)?;
                Some((i + 3 + c + 1, ch))
            });
            if let Some((end, ch)) = found {
                v.push_char(ch, i, end);
                i = end;
                continue;
            }
        }
        if raw[i + 1] == b'U'
            && let Some(ch) = raw
                .get(i + 2..i + 10)
                .and_then(|d| number(d, 16, 8))
                .and_then(char::from_u32)
        {
            v.push_char(ch, i, i + 10);
            i += 10;
            continue;
        }
        if let Some(unit) = u_escape(raw, i) {
            if (0xD800..0xDC00).contains(&unit)
                && raw.get(i + 6) == Some(&b'\\')
                && let Some(low) = u_escape(raw, i + 6).filter(|l| (0xDC00..0xE000).contains(l))
            {
                let c = 0x10000 + ((unit - 0xD800) << 10) + (low - 0xDC00);
                if let Some(ch) = char::from_u32(c) {
                    v.push_char(ch, i, i + 12);
                    i += 12;
                    continue;
                }
            }
            if let Some(ch) = char::from_u32(unit) {
                v.push_char(ch, i, i + 6);
                i += 6;
                continue;
            }
        }
        v.push(raw[i], i, i + 1);
        i += 1;
    }
    v
}

/// HTML/XML character references decoded (`&#116;`, `&#x74;`, `&amp;` …).
fn entity_view(raw: &[u8]) -> View {
    const NAMED: &[(&[u8], char)] = &[
        (b"amp", '&'),
        (b"lt", '<'),
        (b"gt", '>'),
        (b"quot", '"'),
        (b"apos", '\''),
        (b"nbsp", '\u{a0}'),
    ];
    let mut v = View::with_capacity(raw.len());
    let mut i = 0;
    while i < raw.len() {
        if raw[i] == b'&'
            && let Some(semi) = raw[i + 1..].iter().take(12).position(|&b| b == b';')
        {
            let body = &raw[i + 1..i + 1 + semi];
            let ch = match body {
                [b'#', b'x' | b'X', hex @ ..] => number(hex, 16, 8).and_then(char::from_u32),
                [b'#', dec @ ..] => number(dec, 10, 8).and_then(char::from_u32),
                name => NAMED.iter().find(|(n, _)| *n == name).map(|(_, c)| *c),
            };
            if let Some(ch) = ch {
                let end = i + 1 + semi + 1;
                v.push_char(ch, i, end);
                i = end;
                continue;
            }
        }
        v.push(raw[i], i, i + 1);
        i += 1;
    }
    v
}

impl Redactor {
    /// `secrets`: (name, value). Values shorter than 6 bytes are masked only verbatim.
    pub fn new(secrets: &[(String, String)]) -> Redactor {
        let mut patterns = Vec::new();
        let mut masks = Vec::new();
        for (name, value) in secrets {
            if value.is_empty() {
                continue;
            }
            let mut vs = variants(value);
            if !vs.contains(value) {
                vs.push(value.clone());
            }
            for v in vs {
                masks.push(format!("[secret:{name}]"));
                patterns.push(v);
            }
        }
        if patterns.is_empty() {
            return Redactor::default();
        }
        let max_len = patterns.iter().map(String::len).max().unwrap_or(0);
        let matcher = AhoCorasick::builder()
            .match_kind(MatchKind::Standard)
            .ascii_case_insensitive(true)
            .build(&patterns)
            .ok();
        Redactor {
            matcher,
            patterns: patterns
                .iter()
                .map(|p| p.to_ascii_lowercase().into_bytes())
                .collect(),
            masks,
            max_len,
        }
    }

    pub fn is_empty(&self) -> bool {
        self.matcher.is_none()
    }

    /// Most bytes of text one match can cover (an encoded form of the longest pattern):
    /// a value cut in two is found in `span()` bytes on each side of the cut.
    pub fn span(&self) -> usize {
        self.max_len * MAX_EXPANSION
    }

    /// Where secret values are in `text` (any of the forms in the module docs): sorted,
    /// non-overlapping ranges on character boundaries (when `text` is UTF-8).
    pub fn hits(&self, text: &str) -> Vec<Hit> {
        let Some(ac) = &self.matcher else {
            return Vec::new();
        };
        let raw = text.as_bytes();
        let mut hits = Vec::new();
        for m in ac.find_overlapping_iter(raw) {
            hits.push(Hit {
                start: m.start(),
                end: m.end(),
                pattern: m.pattern().as_usize(),
            });
        }
        self.cut_short(raw, &mut hits);
        // Decoded views, piece by piece with an overlap that holds any match whole.
        let overlap = self.span();
        let mut start = 0;
        loop {
            let end = (start + CHUNK + overlap).min(raw.len());
            let piece = &raw[start..end];
            let mut views = Vec::new();
            let has = |b: u8| piece.contains(&b);
            if has(b'%') {
                views.push(percent_view(piece, false));
            }
            if has(b'+') {
                views.push(percent_view(piece, true));
            }
            if has(b'\\') {
                views.push(escape_view(piece));
            }
            if has(b'&') {
                views.push(entity_view(piece));
            }
            for v in &views {
                for m in ac.find_overlapping_iter(&v.bytes) {
                    let (s, _) = v.from[m.start()];
                    let (_, e) = v.from[m.end() - 1];
                    hits.push(Hit {
                        start: start + s as usize,
                        end: start + e as usize,
                        pattern: m.pattern().as_usize(),
                    });
                }
            }
            if end == raw.len() {
                break;
            }
            start += CHUNK;
        }
        merge(text, hits)
    }

    /// A value shortened by a message that quotes it (`…` right after the cut, as
    /// brokers write when they quote at most so many characters of what a plugin
    /// passed): the start of a form, at least [`MIN_CUT`] bytes, right before `…`.
    fn cut_short(&self, raw: &[u8], hits: &mut Vec<Hit>) {
        const ELLIPSIS: &[u8] = "…".as_bytes();
        let mut from = 0;
        while let Some(at) = find(&raw[from..], ELLIPSIS).map(|i| from + i) {
            from = at + ELLIPSIS.len();
            let before = &raw[at.saturating_sub(self.max_len)..at];
            let longest = self
                .patterns
                .iter()
                .enumerate()
                .filter_map(|(i, p)| {
                    // The longest k such that `before` ends with the first k bytes of p.
                    (MIN_CUT..p.len().min(before.len()) + 1)
                        .rev()
                        .find(|&k| before[before.len() - k..].eq_ignore_ascii_case(&p[..k]))
                        .map(|k| (k, i))
                })
                .max();
            if let Some((k, pattern)) = longest {
                hits.push(Hit {
                    start: at - k,
                    end: at,
                    pattern,
                });
            }
        }
    }

    /// A value cut in two between the end of `before` and the start of `after`, looked
    /// for in the last and first `max` bytes of each (at most [`Redactor::span`]) joined
    /// by `sep` (what separated them in their stream, if anything): the ranges to mask,
    /// in `before` (up to its end) and in `after` (from its start).
    pub fn across(&self, before: &str, sep: &str, after: &str, max: usize) -> Option<(Hit, Hit)> {
        let n = self.span().min(max);
        let mut from = before.len().saturating_sub(n);
        while !before.is_char_boundary(from) {
            from += 1;
        }
        let mut to = after.len().min(n);
        while !after.is_char_boundary(to) {
            to -= 1;
        }
        let (tail, head) = (&before[from..], &after[..to]);
        if tail.is_empty() || head.is_empty() {
            return None;
        }
        let joined = format!("{tail}{sep}{head}");
        let (cut, resume) = (tail.len(), tail.len() + sep.len());
        let h = self
            .hits(&joined)
            .into_iter()
            .find(|h| h.start < cut && h.end > resume)?;
        Some((
            Hit {
                start: from + h.start,
                end: before.len(),
                pattern: h.pattern,
            },
            Hit {
                start: 0,
                end: h.end - resume,
                pattern: h.pattern,
            },
        ))
    }

    /// `text` with `hits` (from [`Redactor::hits`] or ranges merged from several) masked.
    pub fn mask(&self, text: &str, hits: &[Hit]) -> String {
        let mut out = String::with_capacity(text.len());
        let mut last = 0;
        for h in merge(text, hits.to_vec()) {
            out.push_str(&text[last..h.start]);
            out.push_str(&self.masks[h.pattern]);
            last = h.end;
        }
        out.push_str(&text[last..]);
        out
    }

    pub fn redact<'t>(&self, text: &'t str) -> Cow<'t, str> {
        let hits = self.hits(text);
        if hits.is_empty() {
            return Cow::Borrowed(text);
        }
        Cow::Owned(self.mask(text, &hits))
    }

    /// Redacts `s` in place.
    pub fn redact_string(&self, s: &mut String) {
        if let Cow::Owned(o) = self.redact(s) {
            *s = o;
        }
    }

    /// Every string of a JSON value redacted, object keys included (audit and journal
    /// entries, a plugin's config schema).
    pub fn redact_json(&self, v: &mut serde_json::Value) {
        use serde_json::Value;
        if self.is_empty() {
            return;
        }
        match v {
            Value::String(s) => self.redact_string(s),
            Value::Array(a) => a.iter_mut().for_each(|x| self.redact_json(x)),
            Value::Object(o) => {
                let entries = std::mem::take(o);
                for (mut k, mut x) in entries {
                    self.redact_string(&mut k);
                    self.redact_json(&mut x);
                    o.insert(k, x);
                }
            }
            Value::Null | Value::Bool(_) | Value::Number(_) => {}
        }
    }

    /// Redacts every string of `value` a plugin controls: the only way to build a
    /// [`Redacted`].
    pub fn seal<T: Redact>(&self, mut value: T) -> Redacted<T> {
        if !self.is_empty() {
            value.redact_with(self);
        }
        Redacted(value)
    }
}

/// Where `needle` first occurs in `hay`.
fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// Sorted, overlapping ranges merged, widened to character boundaries.
fn merge(text: &str, mut hits: Vec<Hit>) -> Vec<Hit> {
    for h in hits.iter_mut() {
        h.end = h.end.min(text.len());
        h.start = h.start.min(h.end);
        while !text.is_char_boundary(h.start) {
            h.start -= 1;
        }
        while !text.is_char_boundary(h.end) {
            h.end += 1;
        }
    }
    // Earliest first; of two starting together, the longest (its mask names it).
    hits.sort_by(|a, b| a.start.cmp(&b.start).then(b.end.cmp(&a.end)));
    let mut out: Vec<Hit> = Vec::with_capacity(hits.len());
    for h in hits {
        match out.last_mut() {
            Some(last) if h.start < last.end => last.end = last.end.max(h.end),
            _ => out.push(h),
        }
    }
    out
}

/// A value whose plugin-controlled text went through [`Redactor::seal`], the only way
/// to build one: holding a `Redacted<T>` means every string in it was redacted.
#[derive(Debug)]
pub struct Redacted<T>(T);

impl<T> Redacted<T> {
    pub fn into_inner(self) -> T {
        self.0
    }
    pub fn get(&self) -> &T {
        &self.0
    }
}

/// A type whose strings a plugin controls. Implementations name every field (no `..`),
/// so a field added to the model does not compile until its redaction is decided.
pub trait Redact {
    fn redact_with(&mut self, r: &Redactor);
}

impl Redact for String {
    fn redact_with(&mut self, r: &Redactor) {
        r.redact_string(self);
    }
}

impl<T: Redact> Redact for Option<T> {
    fn redact_with(&mut self, r: &Redactor) {
        if let Some(v) = self {
            v.redact_with(r);
        }
    }
}

impl<T: Redact> Redact for Vec<T> {
    fn redact_with(&mut self, r: &Redactor) {
        self.iter_mut().for_each(|v| v.redact_with(r));
    }
}

impl<A: Redact, B: Redact> Redact for (A, B) {
    fn redact_with(&mut self, r: &Redactor) {
        self.0.redact_with(r);
        self.1.redact_with(r);
    }
}

impl<T: Redact, E: Redact> Redact for Result<T, E> {
    fn redact_with(&mut self, r: &Redactor) {
        match self {
            Ok(v) => v.redact_with(r),
            Err(e) => e.redact_with(r),
        }
    }
}

impl Redact for serde_json::Value {
    fn redact_with(&mut self, r: &Redactor) {
        r.redact_json(self);
    }
}

impl Redact for StageReport {
    fn redact_with(&mut self, r: &Redactor) {
        let StageReport {
            outcome: _,
            summary,
            findings,
            outputs,
            artifacts,
            baseline_compared: _,
        } = self;
        summary.redact_with(r);
        findings.redact_with(r);
        // Keys too: a key that is a secret becomes a mask, which is not a valid key,
        // so the report is refused (naming the masked key).
        outputs.redact_with(r);
        artifacts.redact_with(r);
    }
}

impl Redact for Finding {
    fn redact_with(&mut self, r: &Redactor) {
        let Finding {
            rule_id,
            level: _,
            message,
            location,
            fingerprint,
            help_uri,
            fix,
            baselined: _,
        } = self;
        rule_id.redact_with(r);
        message.redact_with(r);
        location.redact_with(r);
        fingerprint.redact_with(r);
        help_uri.redact_with(r);
        fix.redact_with(r);
    }
}

impl Redact for Location {
    fn redact_with(&mut self, r: &Redactor) {
        let Location { path, region } = self;
        path.redact_with(r);
        region.redact_with(r);
    }
}

impl Redact for Region {
    /// Numbers only.
    fn redact_with(&mut self, _: &Redactor) {
        let Region {
            start_line: _,
            start_column: _,
            end_line: _,
            end_column: _,
        } = self;
    }
}

impl Redact for Fix {
    fn redact_with(&mut self, r: &Redactor) {
        let Fix {
            description,
            path,
            deleted,
            inserted,
        } = self;
        description.redact_with(r);
        path.redact_with(r);
        deleted.redact_with(r);
        inserted.redact_with(r);
    }
}

impl Redact for PluginInfo {
    fn redact_with(&mut self, r: &Redactor) {
        let PluginInfo {
            name,
            version,
            kind,
            description,
            rules,
            config_schema,
        } = self;
        name.redact_with(r);
        version.redact_with(r);
        kind.redact_with(r);
        description.redact_with(r);
        rules.redact_with(r);
        config_schema.redact_with(r);
    }
}

impl Redact for Rule {
    fn redact_with(&mut self, r: &Redactor) {
        let Rule {
            id,
            short_description,
            full_description,
            default_level: _,
            help_uri,
        } = self;
        id.redact_with(r);
        short_description.redact_with(r);
        full_description.redact_with(r);
        help_uri.redact_with(r);
    }
}

impl Redact for RunError {
    /// The plugin's own error texts, and the host's descriptions of what went wrong
    /// (a trap's message, a setup error) which may quote what the plugin passed.
    fn redact_with(&mut self, r: &Redactor) {
        match self {
            RunError::Exit(_)
            | RunError::Timeout(_)
            | RunError::Cancelled
            | RunError::MemoryLimit(_)
            | RunError::Fuel(_)
            | RunError::StackOverflow(_)
            | RunError::TooManyResources(_)
            | RunError::HttpFields(_)
            | RunError::DiskLimit(_) => {}
            RunError::Trap(m)
            | RunError::InvalidConfig(m)
            | RunError::Denied(m)
            | RunError::Failed(m)
            | RunError::Setup(m) => m.redact_with(r),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const V: &str = "s3cr3t-Value/with+chars";

    fn r() -> Redactor {
        Redactor::new(&[("TOKEN".into(), V.into())])
    }

    fn assert_masked(r: &Redactor, leak: &str) {
        let text = format!("before {leak} after");
        let out = r.redact(&text);
        assert_eq!(
            out, "before [secret:TOKEN] after",
            "{leak:?} was not masked exactly"
        );
    }

    fn percent(v: &str, every: bool, lower: bool) -> String {
        v.bytes()
            .map(|b| {
                if !every && (b.is_ascii_alphanumeric() || b"-._~".contains(&b)) {
                    (b as char).to_string()
                } else if lower {
                    format!("%{b:02x}")
                } else {
                    format!("%{b:02X}")
                }
            })
            .collect()
    }

    #[test]
    fn masks_plain_hex_and_base64_forms() {
        let r = r();
        let mixed_hex: String = hex::encode(V)
            .chars()
            .enumerate()
            .map(|(i, c)| {
                if i % 2 == 0 {
                    c.to_ascii_uppercase()
                } else {
                    c
                }
            })
            .collect();
        for leak in [
            V.to_string(),
            V.to_uppercase(),
            hex::encode(V),
            hex::encode_upper(V),
            mixed_hex,
            STANDARD.encode(V),
            STANDARD_NO_PAD.encode(V),
            URL_SAFE.encode(V),
            URL_SAFE_NO_PAD.encode(V),
        ] {
            assert_masked(&r, &leak);
        }
    }

    #[test]
    fn masks_percent_encodings_in_any_case_and_extent() {
        let r = r();
        for (every, lower) in [(false, false), (false, true), (true, false), (true, true)] {
            assert_masked(&r, &percent(V, every, lower));
        }
        // Only some bytes encoded (as `encodeURI` leaves `/` and `+`).
        assert_masked(&r, "s3cr3t-Value/with%2Bchars");
        // `+` for space, in form encoding.
        let spaced = Redactor::new(&[("P".into(), "correct horse battery".into())]);
        assert_eq!(
            spaced.redact("p=correct+horse+battery&x=1"),
            "p=[secret:P]&x=1"
        );
        assert_eq!(spaced.redact("p=correct%20horse%20battery"), "p=[secret:P]");
    }

    #[test]
    fn masks_json_and_other_backslash_escapes() {
        let r = r();
        let json = serde_json::to_string(V).expect("json");
        assert_masked(&r, &json[1..json.len() - 1]);
        assert_masked(&r, "s3cr3t-Value\\/with+chars");
        let every_u: String = V.chars().map(|c| format!("\\u{:04x}", c as u32)).collect();
        assert_masked(&r, &every_u);
        let every_u_upper: String = V.chars().map(|c| format!("\\u{:04X}", c as u32)).collect();
        assert_masked(&r, &every_u_upper);
        let every_x: String = V.bytes().map(|b| format!("\\x{b:02x}")).collect();
        assert_masked(&r, &every_x);
        let braces: String = V
            .chars()
            .map(|c| format!("\\u{{{:x}}}", c as u32))
            .collect();
        assert_masked(&r, &braces);
        // Non-ASCII values: `\u` escapes of the characters, surrogate pairs included.
        let uni = Redactor::new(&[("U".into(), "pässwörd-🔑-key".into())]);
        let escaped: String = "pässwörd-🔑-key"
            .encode_utf16()
            .map(|u| format!("\\u{u:04x}"))
            .collect();
        assert_eq!(uni.redact(&format!("x {escaped} y")), "x [secret:U] y");
        let json = serde_json::to_string("pässwörd-🔑-key").expect("json");
        assert_eq!(uni.redact(&json), "\"[secret:U]\"");
    }

    #[test]
    fn masks_html_character_references() {
        let r = r();
        let dec: String = V.bytes().map(|b| format!("&#{b};")).collect();
        assert_masked(&r, &dec);
        let hex: String = V.bytes().map(|b| format!("&#x{b:X};")).collect();
        assert_masked(&r, &hex);
        let amp = Redactor::new(&[("A".into(), "tom&jerry<3>".into())]);
        assert_eq!(amp.redact("v=tom&amp;jerry&lt;3&gt;"), "v=[secret:A]");
    }

    #[test]
    fn masks_base64_of_a_larger_blob_at_every_alignment() {
        let r = r();
        for prefix in ["", "u:", "us:", "use:"] {
            let blob = STANDARD.encode(format!("{prefix}{V}"));
            let out = r.redact(&blob);
            assert!(
                out.contains("[secret:TOKEN]"),
                "{prefix:?}: {blob} -> {out}"
            );
            // And the same blob percent-encoded (in a URL), `+` `/` `=` as `%XX`.
            let url = percent(&blob, false, true);
            let out = r.redact(&url);
            assert!(out.contains("[secret:TOKEN]"), "{prefix:?}: {url} -> {out}");
        }
    }

    #[test]
    fn multi_line_values_are_masked_whole_and_line_by_line() {
        let key = "-----BEGIN TEST KEY-----\nMIIBOgIBAAJBAKj34GkxFhD9\n-----END TEST KEY-----";
        let r = Redactor::new(&[("KEY".into(), key.into())]);
        assert_eq!(r.redact(&format!("k={key}!")), "k=[secret:KEY]!");
        let crlf = key.replace('\n', "\r\n");
        assert_eq!(r.redact(&format!("k={crlf}!")), "k=[secret:KEY]!");
        let json = serde_json::to_string(key).expect("json");
        assert_eq!(r.redact(&json), "\"[secret:KEY]\"");
        let json_crlf = serde_json::to_string(&crlf).expect("json");
        assert_eq!(r.redact(&json_crlf), "\"[secret:KEY]\"");
        // A line on its own (as a value printed line by line reaches the log).
        assert_eq!(
            r.redact("line: MIIBOgIBAAJBAKj34GkxFhD9"),
            "line: [secret:KEY]"
        );
        assert_eq!(
            r.redact(&STANDARD.encode(key)),
            "[secret:KEY]",
            "base64 of the whole value"
        );
    }

    #[test]
    fn values_cut_short_by_a_quoting_message_are_masked() {
        let r = r();
        assert_eq!(
            r.redact("secret `xx s3cr3t-Va…` is not granted"),
            "secret `xx [secret:TOKEN]…` is not granted"
        );
        assert_eq!(
            r.redact(&format!("arg `{}…`", &hex::encode(V)[..9])),
            "arg `[secret:TOKEN]…`"
        );
        // Too short to tell from ordinary text.
        assert_eq!(r.redact("`s3c…`"), "`s3c…`");
    }

    #[test]
    fn hits_never_split_a_character() {
        let r = Redactor::new(&[("T".into(), "ab€cdefgh".into())]);
        // `\u20ac` decodes to three bytes; the mask covers the escape whole.
        assert_eq!(r.redact("é ab\\u20accdefgh é"), "é [secret:T] é");
        assert_eq!(r.redact("éab€cdefghé"), "é[secret:T]é");
    }

    #[test]
    fn long_texts_are_searched_across_pieces() {
        let r = r();
        // A value percent-encoded right across the boundary of the decoded pieces.
        for at in [CHUNK - 30, CHUNK - 5, CHUNK, CHUNK + 7, 3 * CHUNK - 11] {
            let mut text = "x".repeat(at);
            text.push_str(&percent(V, true, false));
            text.push_str(&"y".repeat(100));
            let out = r.redact(&text);
            assert!(out.contains("x[secret:TOKEN]y"), "at {at}");
            assert_eq!(out.len(), at + "[secret:TOKEN]".len() + 100);
        }
    }

    #[test]
    fn text_without_secrets_is_untouched() {
        let r = r();
        assert!(matches!(
            r.redact("plain text %41 \\u0041 &amp;"),
            Cow::Borrowed(_)
        ));
        assert!(Redactor::new(&[]).is_empty());
        let short = Redactor::new(&[("S".into(), "abc".into())]);
        assert_eq!(short.redact("xabcx"), "x[secret:S]x");
    }

    #[test]
    fn json_values_are_redacted_keys_included() {
        let r = r();
        let mut map = serde_json::Map::new();
        map.insert(V.into(), serde_json::json!([V, 1, {"k": format!("x{V}")}]));
        let mut v = serde_json::Value::Object(map);
        r.redact_json(&mut v);
        assert_eq!(
            v,
            serde_json::json!({"[secret:TOKEN]": ["[secret:TOKEN]", 1, {"k": "x[secret:TOKEN]"}]})
        );
    }

    #[test]
    fn sealed_reports_have_every_field_redacted() {
        let r = r();
        let region = Region {
            start_line: 1,
            start_column: None,
            end_line: None,
            end_column: None,
        };
        let report = StageReport {
            outcome: crate::report::model::Outcome::Success,
            summary: format!("summary {V}"),
            findings: vec![Finding {
                rule_id: V.into(),
                level: crate::report::model::Level::Error,
                message: hex::encode(V),
                location: Some(Location {
                    path: format!("src/{V}"),
                    region: Some(region.clone()),
                }),
                fingerprint: Some(STANDARD.encode(V)),
                help_uri: Some(format!("https://x.example/?t={}", percent(V, true, true))),
                fix: Some(Fix {
                    description: V.into(),
                    path: V.into(),
                    deleted: region,
                    inserted: V.into(),
                }),
                baselined: false,
            }],
            outputs: vec![(V.into(), V.into())],
            artifacts: vec![format!("dist/{V}")],
            baseline_compared: false,
        };
        let sealed = r.seal(report).into_inner();
        let text = serde_json::to_string(&sealed).expect("json");
        assert!(!text.contains("s3cr3t"), "{text}");
        assert_eq!(text.matches("[secret:TOKEN]").count(), 12, "{text}");
        let err = r
            .seal::<Result<StageReport, RunError>>(Err(RunError::Failed(format!("no {V}"))))
            .into_inner();
        assert_eq!(
            err.err().map(|e| e.to_string()).as_deref(),
            Some("no [secret:TOKEN]")
        );
    }
}
