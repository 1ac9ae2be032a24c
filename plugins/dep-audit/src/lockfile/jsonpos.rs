//! Line numbers of object keys in a JSON text, by key path.
//!
//! `serde_json` gives values, not positions; findings want the line of the package
//! entry. This is a small tokenizer (strings with escapes, nesting) that records the
//! line of every object key under its path (`["packages", "node_modules/a"]`). It
//! assumes the text is valid JSON (the caller parsed it with serde_json first) and
//! stops quietly at anything unexpected: a missing line is fine, a wrong one is not.
//!
//! Tests: the `tests` module at the bottom of this file.

use std::collections::HashMap;

enum Frame {
    Object { key: Option<String> },
    Array,
}

/// Key path (joined with NUL) → 1-based line of the key.
#[derive(Debug, Default)]
pub struct KeyLines(HashMap<String, u32>);

impl KeyLines {
    pub fn get(&self, path: &[&str]) -> Option<u32> {
        self.0.get(&path.join("\0")).copied()
    }
}

pub fn key_lines(text: &str) -> KeyLines {
    let b = text.as_bytes();
    let mut out = HashMap::new();
    let mut stack: Vec<Frame> = Vec::new();
    // Keys of the enclosing objects, innermost last.
    let mut path: Vec<String> = Vec::new();
    let mut line = 1u32;
    let mut i = 0;
    let mut expect_key = false;
    while i < b.len() {
        match b[i] {
            b'\n' => line += 1,
            b'{' => {
                stack.push(Frame::Object { key: None });
                expect_key = true;
            }
            b'[' => {
                stack.push(Frame::Array);
                expect_key = false;
            }
            b'}' => {
                // The object's last key (if any) is finished along with it.
                if let Some(Frame::Object { key: Some(_) }) = stack.pop() {
                    path.pop();
                }
                expect_key = false;
            }
            b']' => {
                stack.pop();
                expect_key = false;
            }
            b',' => {
                if let Some(Frame::Object { key }) = stack.last_mut() {
                    if key.take().is_some() {
                        path.pop();
                    }
                    expect_key = true;
                }
            }
            b'"' => {
                let start = i + 1;
                let mut j = start;
                while j < b.len() && b[j] != b'"' {
                    if b[j] == b'\n' {
                        return KeyLines(out);
                    }
                    j += if b[j] == b'\\' { 2 } else { 1 };
                }
                let raw = &text[start..j.min(b.len())];
                if expect_key {
                    let key: String = serde_json::from_str(&format!("\"{raw}\""))
                        .unwrap_or_else(|_| raw.to_string());
                    path.push(key.clone());
                    out.entry(path.join("\0")).or_insert(line);
                    if let Some(Frame::Object { key: k }) = stack.last_mut() {
                        *k = Some(key);
                    }
                    expect_key = false;
                }
                i = j;
            }
            _ => {}
        }
        i += 1;
    }
    KeyLines(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nested_keys_get_their_lines() {
        let text = "{\n  \"a\": {\n    \"b\": 1,\n    \"c\": [1, {\"d\": 2}]\n  },\n  \"e\\\"x\": {\n    \"b\": \"}\"\n  }\n}\n";
        let k = key_lines(text);
        assert_eq!(k.get(&["a"]), Some(2));
        assert_eq!(k.get(&["a", "b"]), Some(3));
        assert_eq!(k.get(&["a", "c"]), Some(4));
        assert_eq!(k.get(&["e\"x"]), Some(6));
        assert_eq!(k.get(&["e\"x", "b"]), Some(7));
        assert_eq!(k.get(&["b"]), None);
    }

    #[test]
    fn same_key_at_different_depths() {
        let text =
            "{\"dependencies\": {\n\"x\": {\"version\": \"1\",\n\"dependencies\": {\n\"x\": {}}}}}";
        let k = key_lines(text);
        assert_eq!(k.get(&["dependencies", "x"]), Some(2));
        assert_eq!(k.get(&["dependencies", "x", "dependencies", "x"]), Some(4));
    }
}
