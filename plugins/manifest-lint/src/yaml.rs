//! YAML → a tree that keeps the line and column of every node and every mapping key.
//!
//! Built on yaml-rust2's event parser. What the rules need and a plain YAML loader
//! does not give:
//! - **positions**: each finding points at the offending key (`privileged:`), or at
//!   the container or pod spec where a missing key belongs;
//! - **every document** of a multi-document stream (`---`), and the documents that
//!   were complete before a syntax error (the error itself is reported too);
//! - **the values Kubernetes would see**: a repeated key resolves to its *last*
//!   occurrence (what `kubectl` and the API server's decoder keep), merge keys
//!   (`<<: *base`) are applied, aliases are expanded, and plain scalars resolve like
//!   the YAML 1.1 decoder Kubernetes uses (`yes`, `on`, `True` are booleans, so
//!   `privileged: yes` is privileged). Repeated keys are also recorded so a rule can
//!   report them: a manifest that says two things is read differently by different
//!   tools, which is a way to slip a value past a linter.
//!
//! Bounded: at most [`MAX_NODES`] nodes per file (aliases count each time they are
//! expanded, which stops "billion laughs" alias bombs) and [`MAX_DEPTH`] levels of
//! nesting (dropping a deeper tree would exhaust the stack). Over either, the file is
//! a syntax error.
//!
//! Tests: the `tests` module at the bottom of this file.

use std::collections::HashMap;

use yaml_rust2::parser::{Event, MarkedEventReceiver, Parser};
use yaml_rust2::scanner::{Marker, TScalarStyle};

/// Most nodes built for one file, alias expansions included.
pub const MAX_NODES: usize = 2_000_000;
/// Deepest nesting of sequences and mappings.
pub const MAX_DEPTH: usize = 200;

/// A 1-based line and column.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Pos {
    pub line: u32,
    pub col: u32,
}

impl Pos {
    fn of(m: Marker) -> Pos {
        Pos {
            line: u32::try_from(m.line()).unwrap_or(u32::MAX),
            col: u32::try_from(m.col() + 1).unwrap_or(u32::MAX),
        }
    }
}

/// A mapping entry: the key's text and where the key is written.
#[derive(Debug, Clone)]
pub struct Entry {
    pub key: String,
    pub key_pos: Pos,
    pub value: Node,
}

#[derive(Debug, Clone)]
pub enum Value {
    /// A scalar as written; `plain` is false for quoted and block scalars, which are
    /// always strings.
    Scalar {
        text: String,
        plain: bool,
    },
    Seq(Vec<Node>),
    Map(Vec<Entry>),
}

#[derive(Debug, Clone)]
pub struct Node {
    /// Where the node starts (for a block mapping: its first key).
    pub pos: Pos,
    pub value: Value,
}

const TRUE: &[&str] = &[
    "true", "True", "TRUE", "yes", "Yes", "YES", "on", "On", "ON", "y", "Y",
];
const FALSE: &[&str] = &[
    "false", "False", "FALSE", "no", "No", "NO", "off", "Off", "OFF", "n", "N",
];

impl Node {
    fn null(pos: Pos) -> Node {
        Node {
            pos,
            value: Value::Scalar {
                text: String::new(),
                plain: true,
            },
        }
    }

    /// The last entry with key `key` (what Kubernetes keeps when a key repeats).
    pub fn entry(&self, key: &str) -> Option<&Entry> {
        match &self.value {
            Value::Map(entries) => entries.iter().rev().find(|e| e.key == key),
            _ => None,
        }
    }

    /// The value of `key`, unless it is null.
    pub fn get(&self, key: &str) -> Option<&Node> {
        self.entry(key).map(|e| &e.value).filter(|v| !v.is_null())
    }

    /// `get` along a path of keys.
    pub fn at(&self, path: &[&str]) -> Option<&Node> {
        let mut n = self;
        for k in path {
            n = n.get(k)?;
        }
        Some(n)
    }

    pub fn is_null(&self) -> bool {
        matches!(&self.value, Value::Scalar { text, plain: true } if matches!(text.as_str(), "" | "~" | "null" | "Null" | "NULL"))
    }

    /// A scalar's text (null is `None`).
    pub fn str(&self) -> Option<&str> {
        match &self.value {
            Value::Scalar { text, .. } if !self.is_null() => Some(text),
            _ => None,
        }
    }

    /// A plain scalar that YAML 1.1 reads as a boolean.
    pub fn bool(&self) -> Option<bool> {
        match &self.value {
            Value::Scalar { text, plain: true } if TRUE.contains(&text.as_str()) => Some(true),
            Value::Scalar { text, plain: true } if FALSE.contains(&text.as_str()) => Some(false),
            _ => None,
        }
    }

    /// A plain scalar read as an integer (`10001`, `+1`, `0x10`, `0o17`, `1_000`).
    pub fn int(&self) -> Option<i64> {
        let Value::Scalar { text, plain: true } = &self.value else {
            return None;
        };
        let t = text.replace('_', "");
        let (neg, t) = match t.strip_prefix('-') {
            Some(r) => (true, r.to_string()),
            None => (false, t.strip_prefix('+').unwrap_or(&t).to_string()),
        };
        let v = if let Some(h) = t.strip_prefix("0x") {
            i64::from_str_radix(h, 16).ok()?
        } else if let Some(o) = t.strip_prefix("0o") {
            i64::from_str_radix(o, 8).ok()?
        } else if t.len() > 1 && t.starts_with('0') && t.bytes().all(|b| b.is_ascii_digit()) {
            i64::from_str_radix(&t[1..], 8).ok()?
        } else {
            t.parse().ok()?
        };
        Some(if neg { -v } else { v })
    }

    /// Items of a sequence (empty for anything else).
    pub fn items(&self) -> &[Node] {
        match &self.value {
            Value::Seq(items) => items,
            _ => &[],
        }
    }

    /// Entries of a mapping (empty for anything else).
    pub fn entries(&self) -> &[Entry] {
        match &self.value {
            Value::Map(entries) => entries,
            _ => &[],
        }
    }

    pub fn is_map(&self) -> bool {
        matches!(self.value, Value::Map(_))
    }

    /// Entries with repeated keys resolved: the last occurrence of each, in order.
    pub fn unique_entries(&self) -> Vec<&Entry> {
        let entries = self.entries();
        entries
            .iter()
            .enumerate()
            .filter(|(i, e)| !entries[i + 1..].iter().any(|l| l.key == e.key))
            .map(|(_, e)| e)
            .collect()
    }

    fn size(&self) -> usize {
        match &self.value {
            Value::Scalar { .. } => 1,
            Value::Seq(items) => 1 + items.iter().map(Node::size).sum::<usize>(),
            Value::Map(entries) => 1 + entries.iter().map(|e| 1 + e.value.size()).sum::<usize>(),
        }
    }
}

/// One YAML document of a file.
#[derive(Debug, Clone)]
pub struct Document {
    /// 0-based index in the file.
    pub index: usize,
    pub root: Node,
    /// Keys written twice in the same mapping: (key, position of the repeat).
    pub duplicates: Vec<(String, Pos)>,
}

/// A syntax error (or a bound exceeded) at a position.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyntaxError {
    pub pos: Pos,
    pub message: String,
}

/// What a file parsed to: its documents (those complete before an error) and the error.
#[derive(Debug, Clone, Default)]
pub struct Parsed {
    pub documents: Vec<Document>,
    pub error: Option<SyntaxError>,
}

enum Frame {
    Seq {
        pos: Pos,
        anchor: usize,
        items: Vec<Node>,
    },
    Map {
        pos: Pos,
        anchor: usize,
        entries: Vec<Entry>,
        key: Option<(String, Pos)>,
        /// Values of `<<` merge keys, applied when the mapping ends.
        merges: Vec<Node>,
    },
}

#[derive(Default)]
struct Builder {
    stack: Vec<Frame>,
    anchors: HashMap<usize, Node>,
    root: Option<Node>,
    duplicates: Vec<(String, Pos)>,
    documents: Vec<Document>,
    nodes: usize,
    error: Option<SyntaxError>,
}

impl Builder {
    fn fail(&mut self, pos: Pos, message: String) {
        if self.error.is_none() {
            self.error = Some(SyntaxError { pos, message });
        }
    }

    fn count(&mut self, n: usize, pos: Pos) -> bool {
        self.nodes = self.nodes.saturating_add(n);
        if self.nodes > MAX_NODES {
            self.fail(
                pos,
                format!("more than {MAX_NODES} YAML nodes (aliases count each time they are used): refusing to expand further"),
            );
            return false;
        }
        true
    }

    fn push(&mut self, node: Node, anchor: usize) {
        if anchor != 0 {
            self.anchors.insert(anchor, node.clone());
        }
        match self.stack.last_mut() {
            None => self.root = Some(node),
            Some(Frame::Seq { items, .. }) => items.push(node),
            Some(Frame::Map {
                entries,
                key,
                merges,
                ..
            }) => match key.take() {
                None => {
                    let text = match &node.value {
                        Value::Scalar { text, .. } => text.clone(),
                        _ => "<complex key>".to_string(),
                    };
                    *key = Some((text, node.pos));
                }
                Some((k, key_pos)) => {
                    if k == "<<" {
                        merges.push(node);
                        return;
                    }
                    if entries.iter().any(|e| e.key == k) {
                        self.duplicates.push((k.clone(), key_pos));
                    }
                    entries.push(Entry {
                        key: k,
                        key_pos,
                        value: node,
                    });
                }
            },
        }
    }
}

/// `<<: *base` / `<<: [*a, *b]`: keys of the merged mappings that the mapping does not
/// set itself, earlier sources first (YAML merge key semantics).
fn apply_merges(entries: &mut Vec<Entry>, merges: Vec<Node>) {
    for m in merges {
        let sources: Vec<Node> = match m.value {
            Value::Seq(items) => items,
            _ => vec![m],
        };
        for s in sources {
            if let Value::Map(src) = s.value {
                for e in src {
                    if !entries.iter().any(|x| x.key == e.key) {
                        entries.push(e);
                    }
                }
            }
        }
    }
}

impl MarkedEventReceiver for Builder {
    fn on_event(&mut self, ev: Event, mark: Marker) {
        if self.error.is_some() {
            return;
        }
        let pos = Pos::of(mark);
        match ev {
            Event::DocumentStart => {
                self.root = None;
                self.anchors.clear();
                self.duplicates.clear();
            }
            Event::DocumentEnd => {
                let root = self.root.take().unwrap_or_else(|| Node::null(pos));
                self.documents.push(Document {
                    index: self.documents.len(),
                    root,
                    duplicates: std::mem::take(&mut self.duplicates),
                });
            }
            Event::Scalar(text, style, anchor, tag) => {
                if !self.count(1, pos) {
                    return;
                }
                // An explicit core tag decides the type as Kubernetes' decoder does:
                // `!!bool "true"` is a boolean, `!!str true` a string.
                let plain = match tag.as_ref().map(|t| t.suffix.as_str()) {
                    Some("bool" | "int" | "float" | "null") => true,
                    Some("str") => false,
                    _ => style == TScalarStyle::Plain,
                };
                self.push(
                    Node {
                        pos,
                        value: Value::Scalar { text, plain },
                    },
                    anchor,
                );
            }
            Event::Alias(id) => {
                let Some(node) = self.anchors.get(&id).cloned() else {
                    self.fail(pos, "alias to an unknown anchor".into());
                    return;
                };
                if !self.count(node.size(), pos) {
                    return;
                }
                // The alias is used where it is written: keep the anchored content's
                // positions (what it says is there), so findings point at the anchor.
                self.push(node, 0);
            }
            Event::SequenceStart(anchor, _) | Event::MappingStart(anchor, _) => {
                if self.stack.len() >= MAX_DEPTH {
                    self.fail(pos, format!("nested deeper than {MAX_DEPTH} levels"));
                    return;
                }
                if !self.count(1, pos) {
                    return;
                }
                self.stack.push(if matches!(ev, Event::SequenceStart(..)) {
                    Frame::Seq {
                        pos,
                        anchor,
                        items: Vec::new(),
                    }
                } else {
                    Frame::Map {
                        pos,
                        anchor,
                        entries: Vec::new(),
                        key: None,
                        merges: Vec::new(),
                    }
                });
            }
            Event::SequenceEnd | Event::MappingEnd => match self.stack.pop() {
                Some(Frame::Seq { pos, anchor, items }) => self.push(
                    Node {
                        pos,
                        value: Value::Seq(items),
                    },
                    anchor,
                ),
                Some(Frame::Map {
                    pos,
                    anchor,
                    mut entries,
                    merges,
                    ..
                }) => {
                    // yaml-rust2 marks a block mapping where its first `:` is; the
                    // mapping starts at its first key.
                    let pos = entries.first().map_or(pos, |e| e.key_pos.min(pos));
                    apply_merges(&mut entries, merges);
                    self.push(
                        Node {
                            pos,
                            value: Value::Map(entries),
                        },
                        anchor,
                    )
                }
                None => {}
            },
            Event::StreamStart | Event::StreamEnd | Event::Nothing => {}
        }
    }
}

/// Parses every document of `text`. After a syntax error, each document (the text
/// between `---` lines at column 0) is parsed on its own, as `kubectl` decodes them
/// one by one: a broken document does not hide the ones after it. The first error is
/// reported.
pub fn parse(text: &str) -> Parsed {
    let whole = parse_once(text);
    if whole.error.is_none() {
        return whole;
    }
    let mut out = Parsed::default();
    // (first line, text) of each document.
    let mut chunks: Vec<(u32, &str)> = Vec::new();
    let (mut start, mut offset, mut first) = (0usize, 0usize, 1u32);
    for (i, l) in text.split_inclusive('\n').enumerate() {
        let marker = l
            .strip_prefix("---")
            .is_some_and(|r| r.chars().next().is_none_or(char::is_whitespace));
        if marker && offset > start {
            chunks.push((first, &text[start..offset]));
            start = offset;
            first = u32::try_from(i + 1).unwrap_or(u32::MAX);
        }
        offset += l.len();
    }
    chunks.push((first, &text[start..]));
    for (first, chunk) in chunks {
        let mut p = parse_once(chunk);
        for mut d in p.documents.drain(..) {
            shift(&mut d.root, first - 1);
            for (_, pos) in &mut d.duplicates {
                pos.line += first - 1;
            }
            d.index = out.documents.len();
            out.documents.push(d);
        }
        if let Some(mut e) = p.error {
            e.pos.line += first - 1;
            out.error.get_or_insert(e);
        }
    }
    out
}

fn shift(node: &mut Node, lines: u32) {
    node.pos.line += lines;
    match &mut node.value {
        Value::Scalar { .. } => {}
        Value::Seq(items) => items.iter_mut().for_each(|n| shift(n, lines)),
        Value::Map(entries) => entries.iter_mut().for_each(|e| {
            e.key_pos.line += lines;
            shift(&mut e.value, lines);
        }),
    }
}

fn parse_once(text: &str) -> Parsed {
    let mut b = Builder::default();
    let mut parser = Parser::new_from_str(text);
    if let Err(e) = parser.load(&mut b, true) {
        b.fail(Pos::of(*e.marker()), e.info().to_string());
    }
    // Keep the documents that were complete before the error.
    Parsed {
        documents: b.documents,
        error: b.error,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one(text: &str) -> Document {
        let p = parse(text);
        assert!(p.error.is_none(), "{:?}", p.error);
        p.documents.into_iter().next().expect("a document")
    }

    #[test]
    fn keys_and_values_keep_their_positions() {
        let d = one("a: 1\nspec:\n  containers:\n  - name: app\n    image: x\n");
        let spec = d.root.entry("spec").expect("spec");
        assert_eq!(spec.key_pos, Pos { line: 2, col: 1 });
        let c = &spec.value.get("containers").expect("containers").items()[0];
        assert_eq!(c.pos, Pos { line: 4, col: 5 });
        assert_eq!(
            c.entry("image").expect("image").key_pos,
            Pos { line: 5, col: 5 }
        );
        assert_eq!(c.get("name").and_then(Node::str), Some("app"));
    }

    #[test]
    fn every_document_and_those_before_an_error() {
        let p = parse("a: 1\n---\nb: 2\n---\n---\nc: [1, 2\n");
        assert_eq!(p.documents.len(), 3);
        assert!(p.documents[2].root.is_null());
        let e = p.error.expect("unterminated flow sequence");
        assert_eq!(e.pos.line, 7, "{e:?}");
    }

    #[test]
    fn a_broken_document_does_not_hide_the_next() {
        let p = parse("a: 1\n---\nb: [1,\n---\nc: 3\nd: 4\n");
        let e = p.error.expect("error");
        assert!(e.pos.line >= 3, "{e:?}");
        let keys: Vec<(&str, u32)> = p
            .documents
            .iter()
            .flat_map(|d| {
                d.root
                    .entries()
                    .iter()
                    .map(|e| (e.key.as_str(), e.key_pos.line))
            })
            .collect();
        assert_eq!(keys, [("a", 1), ("c", 5), ("d", 6)]);
    }

    #[test]
    fn yaml_1_1_scalars_as_kubernetes_reads_them() {
        let d = one("a: yes\nb: 'true'\nc: Off\nd: 0x10\ne: 010\nf: \"0\"\ng: ~\nh: 1_000\n");
        let r = &d.root;
        assert_eq!(r.get("a").and_then(Node::bool), Some(true));
        assert_eq!(r.get("b").and_then(Node::bool), None, "quoted is a string");
        assert_eq!(r.get("c").and_then(Node::bool), Some(false));
        assert_eq!(r.get("d").and_then(Node::int), Some(16));
        assert_eq!(r.get("e").and_then(Node::int), Some(8));
        assert_eq!(r.get("f").and_then(Node::int), None);
        assert!(r.get("g").is_none());
        assert_eq!(r.get("h").and_then(Node::int), Some(1000));
    }

    #[test]
    fn explicit_tags_decide_the_type() {
        let d = one("a: !!bool \"true\"\nb: !!str true\nc: !!int '0'\n");
        assert_eq!(d.root.get("a").and_then(Node::bool), Some(true));
        assert_eq!(d.root.get("b").and_then(Node::bool), None);
        assert_eq!(d.root.get("c").and_then(Node::int), Some(0));
    }

    #[test]
    fn the_last_repeated_key_wins_and_repeats_are_recorded() {
        let d = one("sc:\n  privileged: false\n  privileged: true\n");
        assert_eq!(
            d.root.at(&["sc", "privileged"]).and_then(Node::bool),
            Some(true)
        );
        assert_eq!(
            d.duplicates,
            [("privileged".to_string(), Pos { line: 3, col: 3 })]
        );
    }

    #[test]
    fn merge_keys_and_aliases() {
        let d = one(
            "base: &b\n  image: x:1\n  privileged: true\nsvc:\n  <<: *b\n  image: y:2\nlist: [*b]\n",
        );
        let svc = d.root.get("svc").expect("svc");
        assert_eq!(svc.get("image").and_then(Node::str), Some("y:2"));
        assert_eq!(svc.get("privileged").and_then(Node::bool), Some(true));
        assert!(svc.entry("<<").is_none());
        assert_eq!(d.root.get("list").expect("list").items().len(), 1);
        assert!(d.duplicates.is_empty());
    }

    #[test]
    fn alias_bombs_and_deep_nesting_are_refused() {
        let mut bomb = String::from("a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
        for i in 1..9 {
            let prev = format!("*a{}", i - 1);
            bomb.push_str(&format!("a{i}: &a{i} [{}]\n", vec![prev; 10].join(", ")));
        }
        let e = parse(&bomb).error.expect("refused");
        assert!(e.message.contains("YAML nodes"), "{e:?}");
        let deep = format!("{}{}", "[".repeat(MAX_DEPTH + 5), "]".repeat(MAX_DEPTH + 5));
        let e = parse(&deep).error.expect("refused");
        assert!(e.message.contains("nested deeper"), "{e:?}");
    }
}
