//! The detection engine: one keyword pass over a file ([`KeywordSearcher`]) finds rule keywords;
//! only the lines (or, for very long lines, windows) holding a keyword run the
//! regexes of the rules that keyword belongs to, and matches are validated
//! (entropy, placeholders, structure) before they become findings.

use regex::bytes::{Captures, Regex};
use sha2::{Digest, Sha256};

use super::entropy::{
    base64_decode, has_digit, is_hex, is_uuid, looks_placeholder, looks_placeholder_generic,
    shannon_entropy,
};
use super::keywords::{Hit, KeywordSearcher};
use super::rules::{
    Check, GENERIC_CODE_PATTERN, GENERIC_CONFIG_PATTERN, KNOWN_EXAMPLE_SHA256, SPECS, Spec,
};

/// Lines longer than this (minified code, data blobs) are searched in windows
/// around each keyword hit instead of whole.
const LONG_LINE: usize = 4096;
const WINDOW_BEFORE: usize = 256;
const WINDOW_AFTER: usize = 1024;
/// How far below a `-----BEGIN … PRIVATE KEY-----` marker the END marker is looked for.
const KEY_BODY_LIMIT: usize = 64 * 1024;

struct KwEntry {
    bytes: &'static [u8],
    case_sensitive: bool,
    boundary: bool,
    mask: u64,
}

pub(crate) struct Engine {
    searcher: Option<KeywordSearcher>,
    kws: Vec<KwEntry>,
    regexes: Vec<Vec<Regex>>,
    enabled: u64,
    generic_idx: usize,
    aws_secret_idx: usize,
    pub entropy_threshold: f64,
}

/// What the file is, as far as rules care.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct FileKind {
    /// Lockfiles / checksum files: integrity hashes everywhere, the generic and
    /// AWS-secret rules are off.
    pub lockfile: bool,
    /// Source code: the generic rule only takes quoted values (an unquoted value
    /// is an expression).
    pub code: bool,
}

impl FileKind {
    pub fn of(path: &str) -> FileKind {
        let base = path.rsplit('/').next().unwrap_or(path);
        let lower = base.to_ascii_lowercase();
        let ext = lower.rsplit_once('.').map(|(_, e)| e).unwrap_or("");
        let lockfile = matches!(
            lower.as_str(),
            "package-lock.json"
                | "npm-shrinkwrap.json"
                | "pnpm-lock.yaml"
                | "go.sum"
                | "pipfile.lock"
                | "flake.lock"
        ) || ext == "lock"
            || ext == "sum";
        let code = matches!(
            ext,
            "rs" | "py"
                | "js"
                | "mjs"
                | "cjs"
                | "jsx"
                | "ts"
                | "tsx"
                | "go"
                | "java"
                | "kt"
                | "kts"
                | "scala"
                | "c"
                | "h"
                | "cc"
                | "cpp"
                | "hpp"
                | "cs"
                | "rb"
                | "php"
                | "swift"
                | "m"
                | "mm"
                | "dart"
                | "lua"
                | "pl"
                | "pm"
                | "r"
                | "jl"
                | "ex"
                | "exs"
                | "erl"
                | "hs"
                | "ml"
                | "fs"
                | "groovy"
                | "vue"
                | "svelte"
        );
        FileKind { lockfile, code }
    }
}

/// A validated match, before inline markers / allowlists / baseline.
#[derive(Debug)]
pub(crate) struct Raw {
    pub rule: usize,
    pub line: u32,
    pub line_start: usize,
    pub start: usize,
    pub end: usize,
    pub secret: Vec<u8>,
    pub message: String,
}

struct Region {
    line_start: usize,
    line_end: usize,
    start: usize,
    end: usize,
    mask: u64,
}

impl Engine {
    pub fn new(enabled: u64, entropy_threshold: f64) -> Result<Engine, String> {
        let mut kws: Vec<KwEntry> = Vec::new();
        let mut regexes = Vec::with_capacity(SPECS.len());
        for (i, spec) in SPECS.iter().enumerate() {
            let mut compiled = Vec::new();
            if enabled & (1 << i) != 0 {
                for kw in spec.keywords {
                    let bytes = kw.text.as_bytes();
                    match kws.iter_mut().find(|k| {
                        k.bytes == bytes
                            && k.case_sensitive == kw.case_sensitive
                            && k.boundary == kw.boundary
                    }) {
                        Some(k) => k.mask |= 1 << i,
                        None => kws.push(KwEntry {
                            bytes,
                            case_sensitive: kw.case_sensitive,
                            boundary: kw.boundary,
                            mask: 1 << i,
                        }),
                    }
                }
                for p in spec.patterns {
                    let re = Regex::new(&format!("(?-u){p}"))
                        .map_err(|e| format!("internal error: rule {}: {e}", spec.id))?;
                    compiled.push(re);
                }
            }
            regexes.push(compiled);
        }
        let searcher = (!kws.is_empty())
            .then(|| KeywordSearcher::new(&kws.iter().map(|k| k.bytes).collect::<Vec<_>>()));
        let idx = |id: &str| SPECS.iter().position(|s| s.id == id).unwrap_or(usize::MAX);
        Ok(Engine {
            searcher,
            kws,
            regexes,
            enabled,
            generic_idx: idx("generic-secret-assignment"),
            aws_secret_idx: idx("aws-secret-access-key"),
            entropy_threshold,
        })
    }

    pub fn detect(&self, content: &[u8], kind: FileKind) -> Vec<Raw> {
        let Some(searcher) = &self.searcher else {
            return Vec::new();
        };
        let mut file_mask = self.enabled;
        if kind.lockfile {
            file_mask &= !(1u64.checked_shl(self.generic_idx as u32).unwrap_or(0));
            file_mask &= !(1u64.checked_shl(self.aws_secret_idx as u32).unwrap_or(0));
        }
        let mut out = Vec::new();
        let mut st = ScanState {
            line_pos: 0,
            line_no: 1,
            cur_line_start: usize::MAX,
            cur_line_first: 0,
        };
        let mut pending: Option<Region> = None;
        let mut hits: Vec<Hit> = Vec::new();
        searcher.find_all(content, &mut hits);
        for h in hits {
            let kw = &self.kws[h.kw as usize];
            let (s, e) = (h.start, h.end);
            let mask = kw.mask & file_mask;
            if mask == 0
                || kw.case_sensitive && &content[s..e] != kw.bytes
                || kw.boundary && s > 0 && content[s - 1].is_ascii_alphanumeric()
            {
                continue;
            }
            if let Some(p) = &mut pending
                && s >= p.line_start
                && s < p.line_end
            {
                if s < p.end || p.end == p.line_end {
                    p.mask |= mask;
                    p.start = p
                        .start
                        .min(s.saturating_sub(WINDOW_BEFORE).max(p.line_start));
                    p.end = p.line_end.min(p.end.max(e + WINDOW_AFTER));
                    continue;
                }
                // Same long line, past the window: flush, then open a new window
                // (a match seen by both windows is dropped as a duplicate).
                let (ls, le) = (p.line_start, p.line_end);
                if let Some(r) = pending.take() {
                    self.run_region(content, &r, kind, &mut st, &mut out);
                }
                pending = Some(Region {
                    line_start: ls,
                    line_end: le,
                    start: s.saturating_sub(WINDOW_BEFORE).max(ls),
                    end: le.min(e + WINDOW_AFTER),
                    mask,
                });
                continue;
            }
            if let Some(r) = pending.take() {
                self.run_region(content, &r, kind, &mut st, &mut out);
            }
            let line_start = memchr::memrchr(b'\n', &content[..s]).map_or(0, |i| i + 1);
            let mut line_end =
                memchr::memchr(b'\n', &content[e..]).map_or(content.len(), |i| e + i);
            if line_end > line_start && content[line_end - 1] == b'\r' {
                line_end -= 1;
            }
            let (start, end) = if line_end - line_start > LONG_LINE {
                (
                    s.saturating_sub(WINDOW_BEFORE).max(line_start),
                    line_end.min(e + WINDOW_AFTER),
                )
            } else {
                (line_start, line_end)
            };
            pending = Some(Region {
                line_start,
                line_end: line_end.max(e),
                start,
                end: end.max(e),
                mask,
            });
        }
        if let Some(r) = pending.take() {
            self.run_region(content, &r, kind, &mut st, &mut out);
        }
        out
    }

    fn run_region(
        &self,
        content: &[u8],
        r: &Region,
        kind: FileKind,
        st: &mut ScanState,
        out: &mut Vec<Raw>,
    ) {
        if r.line_start != st.cur_line_start {
            st.cur_line_start = r.line_start;
            st.cur_line_first = out.len();
        }
        let hay = &content[r.start..r.end];
        let mut bits = r.mask;
        while bits != 0 {
            let i = bits.trailing_zeros() as usize;
            bits &= bits - 1;
            let spec = &SPECS[i];
            if let Some(b) = need_byte(spec.id)
                && memchr::memchr(b, hay).is_none()
            {
                continue;
            }
            for (pi, re) in self.regexes[i].iter().enumerate() {
                if i == self.generic_idx
                    && (pi == GENERIC_CODE_PATTERN && !kind.code
                        || pi == GENERIC_CONFIG_PATTERN && kind.code)
                {
                    continue;
                }
                // Most regions hold no match: `is_match` answers that with the lazy DFA
                // alone, without allocating the capture slots `captures_iter` needs.
                if !re.is_match(hay) {
                    continue;
                }
                for caps in re.captures_iter(hay) {
                    let Some(g) = caps.name("s").or_else(|| caps.name("u")) else {
                        continue;
                    };
                    let (start, end) = (r.start + g.start(), r.start + g.end());
                    if out[st.cur_line_first..]
                        .iter()
                        .any(|f| f.start < end && start < f.end)
                    {
                        continue;
                    }
                    let Some((secret, message)) =
                        self.validate(spec, &caps, content, r.start, kind)
                    else {
                        continue;
                    };
                    out.push(Raw {
                        rule: i,
                        line: st.line_of(content, r.line_start),
                        line_start: r.line_start,
                        start,
                        end,
                        secret,
                        message,
                    });
                }
            }
        }
    }

    fn validate(
        &self,
        spec: &Spec,
        caps: &Captures,
        content: &[u8],
        base: usize,
        kind: FileKind,
    ) -> Option<(Vec<u8>, String)> {
        let s = caps.name("s").or_else(|| caps.name("u"))?;
        let sv = s.as_bytes();
        if is_known_example(sv) {
            return None;
        }
        match spec.check {
            Check::Token {
                min_entropy,
                need_digit,
            } => {
                let r = caps.name("r").map_or(sv, |m| m.as_bytes());
                if looks_placeholder(r)
                    || shannon_entropy(r) < min_entropy
                    || (need_digit && !has_digit(r))
                {
                    return None;
                }
                Some((
                    sv.to_vec(),
                    format!("{} `{}`", spec.short, preview(sv, spec.show)),
                ))
            }
            Check::AwsSecret => {
                let has = |f: fn(&u8) -> bool| sv.iter().any(f);
                if is_hex(sv)
                    || shannon_entropy(sv) < 4.0
                    || looks_placeholder(sv)
                    || !has(u8::is_ascii_lowercase)
                    || !has(u8::is_ascii_uppercase)
                    || !has(u8::is_ascii_digit)
                {
                    return None;
                }
                let name = caps
                    .name("name")
                    .map_or("", |m| std::str::from_utf8(m.as_bytes()).unwrap_or(""));
                Some((
                    sv.to_vec(),
                    format!(
                        "{} assigned to `{}`: `{}`",
                        spec.short,
                        name,
                        preview(sv, 0)
                    ),
                ))
            }
            Check::PrivateKey => {
                let body = private_key_body(content, base + s.end())?;
                let marker = String::from_utf8_lossy(sv);
                Some((
                    body,
                    format!("{} block `{}` with a key body", spec.short, marker),
                ))
            }
            Check::Jwt => {
                let r = caps.name("r").map_or(sv, |m| m.as_bytes());
                if !valid_jwt(sv) || looks_placeholder(r) || shannon_entropy(r) < 3.0 {
                    return None;
                }
                Some((
                    sv.to_vec(),
                    format!("{} `{}`", spec.short, preview(sv, spec.show)),
                ))
            }
            Check::UrlPassword => {
                let txt = |n: &str| {
                    caps.name(n)
                        .map_or("", |m| std::str::from_utf8(m.as_bytes()).unwrap_or(""))
                };
                let (scheme, user, host) = (txt("scheme"), txt("user"), txt("host"));
                if !url_password_ok(user, sv, host) {
                    return None;
                }
                let mut secret = Vec::with_capacity(user.len() + sv.len() + host.len() + 2);
                secret.extend_from_slice(user.as_bytes());
                secret.push(b':');
                secret.extend_from_slice(sv);
                secret.push(b'@');
                secret.extend_from_slice(host.as_bytes());
                Some((
                    secret,
                    format!("{} `{scheme}://{user}:****@{host}`", spec.short),
                ))
            }
            Check::DockerAuth => {
                let dec = base64_decode(sv)?;
                let txt = std::str::from_utf8(&dec).ok()?;
                let (user, pass) = txt.split_once(':')?;
                if user.is_empty()
                    || pass.is_empty()
                    || txt.chars().any(char::is_control)
                    || looks_placeholder_generic(pass.as_bytes())
                    || pass == user
                {
                    return None;
                }
                Some((
                    sv.to_vec(),
                    format!("{} for user `{}`: `{}`", spec.short, user, preview(sv, 0)),
                ))
            }
            Check::Generic => {
                let name = caps.name("name")?.as_bytes();
                let quoted = caps.name("s").is_some();
                let h = self.generic_value_ok(name, sv, quoted, kind)?;
                let name = String::from_utf8_lossy(name);
                Some((
                    sv.to_vec(),
                    format!(
                        "High-entropy value ({h:.1} bits/char) assigned to `{name}`: `{}`",
                        preview(sv, 0)
                    ),
                ))
            }
        }
    }

    /// Returns the value's entropy when the generic rule should report it.
    fn generic_value_ok(&self, name: &[u8], v: &[u8], quoted: bool, kind: FileKind) -> Option<f64> {
        if kind.code && !quoted {
            return None;
        }
        if v.len() < 8 || v.len() > 200 {
            return None;
        }
        let lname = name.to_ascii_lowercase();
        let lname = String::from_utf8_lossy(&lname);
        const NAME_SUFFIX_SKIP: &[&str] = &[
            "url",
            "uri",
            "file",
            "path",
            "name",
            "_id",
            "id",
            "type",
            "_env",
            "var",
            "field",
            "len",
            "length",
            "size",
            "count",
            "header",
            "prefix",
            "suffix",
            "endpoint",
            "dir",
            "hash",
            "digest",
            "sha",
            "sha1",
            "sha256",
            "sha512",
            "md5",
            "checksum",
            "format",
            "kind",
            "mode",
            "policy",
            "ttl",
            "expiry",
            "expires",
            "expires_at",
            "expiration",
            "label",
            "param",
            "method",
            "version",
            "class",
            "template",
            "regex",
            "pattern",
            "index",
            "idx",
            "position",
            "pos",
            "ref",
            "store",
            "provider",
            "manager",
            "cache",
            "tokens",
        ];
        const NAME_SKIP: &[&str] = &[
            "bypass",
            "compass",
            "passthrough",
            "pass_through",
            "passenger",
            "passive",
            "passed",
            "passes",
            "passing",
            "passage",
            "surpass",
            "tokeniz",
            "secretary",
            "tokens_",
            "_tokens",
        ];
        if NAME_SUFFIX_SKIP.iter().any(|s| lname.ends_with(s))
            || NAME_SKIP.iter().any(|s| lname.contains(s))
        {
            return None;
        }
        if matches!(
            v[0],
            b'$' | b'{' | b'<' | b'[' | b'(' | b'@' | b'*' | b'&' | b'!' | b'/' | b'~' | b'#'
        ) || is_format_spec(v)
        {
            return None;
        }
        if v.starts_with(b"./")
            || v.starts_with(b"../")
            || contains(v, b"://")
            || contains(v, b"::")
        {
            return None;
        }
        if !quoted && v.iter().any(|b| matches!(b, b'(' | b'[' | b'{')) {
            return None;
        }
        if v.contains(&b'{') && v.contains(&b'}') {
            return None; // templates, GUIDs in braces
        }
        if looks_placeholder_generic(v) || is_uuid(v) || v.eq_ignore_ascii_case(name) {
            return None;
        }
        if is_dotted_identifier(v) || is_identifier_words(v) {
            return None;
        }
        if !has_digit(v) || !v.iter().any(u8::is_ascii_alphabetic) {
            return None;
        }
        let h = shannon_entropy(v);
        let required = self.entropy_threshold.min(0.85 * (v.len() as f64).log2());
        (h >= required).then_some(h)
    }
}

/// A byte without which a rule's patterns cannot match: checked with memchr first.
fn need_byte(id: &str) -> Option<u8> {
    match id {
        "password-in-url" => Some(b'@'),
        "docker-config-auth" => Some(b':'),
        _ => None,
    }
}

struct ScanState {
    /// `line_no` is the line number of the line starting at `line_pos`.
    line_pos: usize,
    line_no: u32,
    cur_line_start: usize,
    cur_line_first: usize,
}

impl ScanState {
    /// The line number of the line starting at `line_start` (at or after `line_pos`).
    /// Counted only for lines with a finding, from the last one: most keyword regions
    /// yield none, and counting every region's newlines was a twentieth of the scan.
    fn line_of(&mut self, content: &[u8], line_start: usize) -> u32 {
        if line_start > self.line_pos {
            self.line_no +=
                memchr::memchr_iter(b'\n', &content[self.line_pos..line_start]).count() as u32;
            self.line_pos = line_start;
        }
        self.line_no
    }
}

/// `%s`, `%(name)s`, `%-10d`, `%{var}`: a printf/template placeholder at the start.
fn is_format_spec(v: &[u8]) -> bool {
    let Some(rest) = v.strip_prefix(b"%") else {
        return false;
    };
    let rest = &rest[rest
        .iter()
        .take_while(|b| b"-+ #0123456789.".contains(b))
        .count()..];
    rest.first().is_some_and(|b| b"sdifuxXocegq({v".contains(b))
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    memchr::memmem::find(hay, needle).is_some()
}

fn is_known_example(v: &[u8]) -> bool {
    if v.len() < 20 {
        return false;
    }
    let h = hex::encode(Sha256::digest(v));
    KNOWN_EXAMPLE_SHA256.contains(&h.as_str())
}

/// `a.b.c` (identifier segments): a code reference or config key, not a secret.
fn is_dotted_identifier(v: &[u8]) -> bool {
    let mut segs = 0;
    for seg in v.split(|&b| b == b'.') {
        let ok = !seg.is_empty()
            && (seg[0].is_ascii_alphabetic() || seg[0] == b'_' || seg[0] == b'$')
            && seg
                .iter()
                .all(|&b| b.is_ascii_alphanumeric() || b == b'_' || b == b'$');
        if !ok {
            return false;
        }
        segs += 1;
    }
    segs >= 2
}

/// `some_words-like_this2`: only letters, digits at the end of segments, and
/// separators, with every segment a lowercase word ≥ 3 letters: a name, not a key.
fn is_identifier_words(v: &[u8]) -> bool {
    let segs: Vec<&[u8]> = v.split(|&b| b == b'_' || b == b'-' || b == b'.').collect();
    segs.len() >= 2
        && segs.iter().all(|seg| {
            let letters = seg.iter().take_while(|b| b.is_ascii_lowercase()).count();
            letters >= 3 && seg[letters..].iter().all(u8::is_ascii_digit)
        })
}

/// Redacted preview: the public prefix (at most a third of the value) and stars.
pub(crate) fn preview(v: &[u8], show: usize) -> String {
    let shown = show.min(v.len() / 3);
    let mut s = String::from_utf8_lossy(&v[..shown]).into_owned();
    s.push_str(&"*".repeat((v.len() - shown).clamp(4, 16)));
    s
}

/// The base64 body of a private key block starting at `from` (just after the
/// BEGIN marker): it must end with an `-----END … PRIVATE KEY` marker, hold a run
/// of ≥ 40 base64 characters (a PEM line), ≥ 64 base64 characters in all, look
/// random, and hold no placeholder text.
fn private_key_body(content: &[u8], from: usize) -> Option<Vec<u8>> {
    let limit = content.len().min(from + KEY_BODY_LIMIT);
    let window = &content[from..limit];
    let end = memchr::memmem::find(window, b"-----END")?;
    let raw = &window[..end];
    let after = &window[end..window.len().min(end + 80)];
    if !contains(after, b"PRIVATE KEY") {
        return None;
    }
    if [
        &b"..."[..],
        b"xxxx",
        b"XXXX",
        b"<",
        b">",
        b"${",
        b"{{",
        "\u{2026}".as_bytes(),
    ]
    .iter()
    .any(|p| contains(raw, p))
        || [&b"example"[..], b"placeholder", b"redacted"]
            .iter()
            .any(|w| raw.windows(w.len()).any(|x| x.eq_ignore_ascii_case(w)))
    {
        return None;
    }
    let mut body = Vec::with_capacity(raw.len());
    let (mut run, mut longest) = (0usize, 0usize);
    let mut i = 0;
    while i < raw.len() {
        let b = raw[i];
        if b == b'\\' {
            // JSON/code escapes such as \n inside a one-line key.
            i += 2;
            run = 0;
            continue;
        }
        if b.is_ascii_alphanumeric() || b == b'+' || b == b'/' || b == b'=' {
            body.push(b);
            run += 1;
            longest = longest.max(run);
        } else {
            run = 0;
        }
        i += 1;
    }
    (longest >= 40 && body.len() >= 64 && shannon_entropy(&body) >= 4.5).then_some(body)
}

fn valid_jwt(v: &[u8]) -> bool {
    let mut parts = v.split(|&b| b == b'.');
    let (Some(h), Some(p)) = (parts.next(), parts.next()) else {
        return false;
    };
    let json = |seg: &[u8]| -> Option<serde_json::Map<String, serde_json::Value>> {
        match serde_json::from_slice(&base64_decode(seg)?).ok()? {
            serde_json::Value::Object(m) => Some(m),
            _ => None,
        }
    };
    match (json(h), json(p)) {
        (Some(header), Some(_)) => header
            .get("alg")
            .is_some_and(|a| a.as_str().is_some_and(|a| !a.eq_ignore_ascii_case("none"))),
        _ => false,
    }
}

fn url_password_ok(user: &str, pass: &[u8], host: &str) -> bool {
    let p = String::from_utf8_lossy(pass);
    let pl = p.to_ascii_lowercase();
    if pass.is_empty() || p == user {
        return false;
    }
    if matches!(
        pass[0],
        b'$' | b'%' | b'{' | b'<' | b'[' | b'(' | b'*' | b':'
    ) || user.starts_with(['$', '%', '<', '*'])
    {
        return false;
    }
    // Too short to be anything but a test value (`a:b@c`, `foo:bar@`), or a port.
    if pass.len() < 4 || pass.iter().all(u8::is_ascii_digit) && pass.len() <= 5 {
        return false;
    }
    const EXACT: &[&str] = &[
        "pass", "user", "username", "passw", "pass123", "pswd", "root", "admin", "guest", "none",
        "null", "empty", "pa55", "p4ss", "qwerty", "hunter2", "s3cr3t",
    ];
    const WORDS: &[&str] = &[
        "password",
        "passwd",
        "pass_word",
        "secret",
        "token",
        "changeme",
        "placeholder",
        "example",
        "dummy",
        "your",
        "redacted",
        "xxxx",
        "****",
        "mypass",
        "userpass",
        "user_pass",
        "pass_",
    ];
    if EXACT.contains(&pl.as_str())
        || WORDS.iter().any(|w| pl.contains(w))
        || looks_placeholder(pass)
    {
        return false;
    }
    let h = host.to_ascii_lowercase();
    let example_host = [
        "example.com",
        "example.org",
        "example.net",
        ".example",
        ".invalid",
        ".test",
        ".local.test",
    ]
    .iter()
    .any(|d| h.ends_with(d))
        || matches!(
            h.as_str(),
            "example"
                | "host"
                | "hostname"
                | "server"
                | "domain"
                | "your-host"
                | "yourhost"
                | "x"
                | "xxx"
        );
    !example_host
}
