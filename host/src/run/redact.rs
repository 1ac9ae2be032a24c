//! Redaction of secret values from everything gantry writes: stage logs, reports,
//! SARIF, summaries, outputs. (The audit log and journal never receive values:
//! brokers record names.)
//!
//! Each secret is masked in the forms a plugin could leak it in: plain, JSON-escaped,
//! URL-encoded, hex (both cases), and base64 / base64url at each of the three byte
//! alignments (so it is caught inside a larger encoded blob such as a Basic auth
//! header). Masks read `[secret:NAME]`.
//!
//! A value split across two writes is caught by [`crate::run::log::StageLog`], which
//! holds back one record and redacts across the boundary.
//!
//! Tests: unit tests below; `tests/e2e/attack_secrets.rs`.

use std::borrow::Cow;

use aho_corasick::{AhoCorasick, MatchKind};
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};

/// Shortest encoded form worth masking: shorter ones would mask ordinary text.
const MIN_PATTERN: usize = 6;

#[derive(Default)]
pub struct Redactor {
    matcher: Option<AhoCorasick>,
    /// Mask for each pattern.
    masks: Vec<String>,
    max_len: usize,
}

fn variants(value: &str) -> Vec<String> {
    let mut out = vec![value.to_string()];
    if let Ok(j) = serde_json::to_string(value) {
        out.push(j[1..j.len() - 1].to_string());
    }
    let mut url = String::new();
    for b in value.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            url.push(b as char);
        } else {
            url.push_str(&format!("%{b:02X}"));
        }
    }
    out.push(url.clone());
    out.push(url.replace("%20", "+"));
    out.push(hex::encode(value));
    out.push(hex::encode_upper(value));
    let bytes = value.as_bytes();
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
    out.sort();
    out.dedup();
    out.retain(|v| v.len() >= MIN_PATTERN);
    out
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
            if vs.is_empty() {
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
            .match_kind(MatchKind::LeftmostLongest)
            .build(&patterns)
            .ok();
        Redactor {
            matcher,
            masks,
            max_len,
        }
    }

    pub fn is_empty(&self) -> bool {
        self.matcher.is_none()
    }

    /// Longest pattern; a tail this long may hold the start of a split secret.
    pub fn max_len(&self) -> usize {
        self.max_len
    }

    pub fn redact<'t>(&self, text: &'t str) -> Cow<'t, str> {
        let Some(ac) = &self.matcher else {
            return Cow::Borrowed(text);
        };
        let mut out = String::new();
        let mut last = 0;
        for m in ac.find_iter(text) {
            out.push_str(&text[last..m.start()]);
            out.push_str(&self.masks[m.pattern().as_usize()]);
            last = m.end();
        }
        if last == 0 {
            return Cow::Borrowed(text);
        }
        out.push_str(&text[last..]);
        Cow::Owned(out)
    }

    /// Redacts `a` and `b` as if they were one text, and returns the two parts: a
    /// secret split across the boundary is masked on both sides.
    pub fn redact_pair(&self, a: &str, b: &str) -> (String, String) {
        let Some(ac) = &self.matcher else {
            return (a.to_string(), b.to_string());
        };
        let joined = format!("{a}{b}");
        let cut = a.len();
        let (mut ra, mut rb) = (String::new(), String::new());
        let mut last = 0;
        for m in ac.find_iter(&joined) {
            let mask = &self.masks[m.pattern().as_usize()];
            if m.end() <= cut {
                ra.push_str(&joined[last..m.start()]);
                ra.push_str(mask);
            } else if m.start() >= cut {
                if last < cut {
                    ra.push_str(&joined[last..cut]);
                    last = cut;
                }
                rb.push_str(&joined[last.max(cut)..m.start()]);
                rb.push_str(mask);
            } else {
                ra.push_str(&joined[last..m.start()]);
                ra.push_str(mask);
                rb.push_str(mask);
            }
            last = m.end();
        }
        if last < cut {
            ra.push_str(&joined[last..cut]);
            last = cut;
        }
        rb.push_str(&joined[last..]);
        (ra, rb)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r() -> Redactor {
        Redactor::new(&[("TOKEN".into(), "s3cr3t-Value/with+chars".into())])
    }

    #[test]
    fn masks_plain_and_encoded_forms() {
        let r = r();
        let v = "s3cr3t-Value/with+chars";
        for leak in [
            v.to_string(),
            hex::encode(v),
            hex::encode_upper(v),
            STANDARD.encode(v),
            URL_SAFE_NO_PAD.encode(v),
            "s3cr3t-Value%2Fwith%2Bchars".to_string(),
            serde_json::to_string(v).unwrap(),
        ] {
            let text = format!("before {leak} after");
            let out = r.redact(&text);
            assert!(out.contains("[secret:TOKEN]"), "{leak} -> {out}");
            assert!(!out.contains(&leak), "{leak} survived: {out}");
        }
    }

    #[test]
    fn masks_base64_of_a_larger_blob_at_every_alignment() {
        let r = r();
        for prefix in ["", "u:", "us:", "use:"] {
            let blob = STANDARD.encode(format!("{prefix}s3cr3t-Value/with+chars"));
            let out = r.redact(&blob);
            assert!(
                out.contains("[secret:TOKEN]"),
                "{prefix:?}: {blob} -> {out}"
            );
        }
    }

    #[test]
    fn split_values_are_masked_on_both_sides() {
        let r = r();
        let (a, b) = r.redact_pair("log: s3cr3t-Val", "ue/with+chars end");
        assert_eq!(a, "log: [secret:TOKEN]");
        assert_eq!(b, "[secret:TOKEN] end");
        let (a, b) = r.redact_pair("nothing here", " s3cr3t-Value/with+chars");
        assert_eq!(a, "nothing here");
        assert_eq!(b, " [secret:TOKEN]");
    }

    #[test]
    fn text_without_secrets_is_untouched() {
        let r = r();
        assert!(matches!(r.redact("plain text"), Cow::Borrowed(_)));
        assert!(Redactor::new(&[]).is_empty());
    }
}
