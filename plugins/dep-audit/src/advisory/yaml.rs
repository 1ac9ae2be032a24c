//! YAML → `serde_json::Value`, keeping every scalar as the text it was written as.
//!
//! OSV YAML (the PyPA database) writes versions unquoted (`fixed: 2.7.2`, sometimes
//! `fixed: 2.0`); a YAML loader that types scalars would turn `2.0` into a float and
//! `1.10` into `1.1`. So scalars stay strings, except plain `null`/`~`, which become
//! JSON null. Anchors and aliases are refused (OSV files never use them, and refusing
//! them rules out alias bombs). Errors carry line and column.
//!
//! Tests: the `tests` module at the bottom of this file.

use serde_json::{Map, Value};
use yaml_rust2::parser::{Event, MarkedEventReceiver, Parser};
use yaml_rust2::scanner::{Marker, TScalarStyle};

enum Frame {
    Seq(Vec<Value>),
    Map(Map<String, Value>, Option<String>),
}

#[derive(Default)]
struct Builder {
    stack: Vec<Frame>,
    root: Option<Value>,
    error: Option<String>,
}

impl Builder {
    fn push_value(&mut self, v: Value, mark: Marker) {
        match self.stack.last_mut() {
            None => {
                if self.root.is_none() {
                    self.root = Some(v);
                }
            }
            Some(Frame::Seq(items)) => items.push(v),
            Some(Frame::Map(map, key)) => match key.take() {
                None => match v {
                    Value::String(k) => *key = Some(k),
                    Value::Null => *key = Some("null".into()),
                    _ => {
                        self.error.get_or_insert(format!(
                            "line {} column {}: mapping keys must be scalars",
                            mark.line(),
                            mark.col() + 1
                        ));
                    }
                },
                Some(k) => {
                    map.insert(k, v);
                }
            },
        }
    }
}

impl MarkedEventReceiver for Builder {
    fn on_event(&mut self, ev: Event, mark: Marker) {
        if self.error.is_some() {
            return;
        }
        match ev {
            Event::Scalar(text, style, anchor, _) => {
                if anchor != 0 {
                    self.error = Some(anchor_error(mark));
                    return;
                }
                let v =
                    if style == TScalarStyle::Plain && matches!(text.as_str(), "null" | "~" | "") {
                        Value::Null
                    } else {
                        Value::String(text)
                    };
                self.push_value(v, mark);
            }
            Event::SequenceStart(anchor, _) | Event::MappingStart(anchor, _) if anchor != 0 => {
                self.error = Some(anchor_error(mark));
            }
            Event::SequenceStart(..) => self.stack.push(Frame::Seq(Vec::new())),
            Event::MappingStart(..) => self.stack.push(Frame::Map(Map::new(), None)),
            Event::SequenceEnd | Event::MappingEnd => {
                let v = match self.stack.pop() {
                    Some(Frame::Seq(items)) => Value::Array(items),
                    Some(Frame::Map(map, _)) => Value::Object(map),
                    None => return,
                };
                self.push_value(v, mark);
            }
            Event::Alias(_) => self.error = Some(anchor_error(mark)),
            _ => {}
        }
    }
}

fn anchor_error(mark: Marker) -> String {
    format!(
        "line {} column {}: YAML anchors and aliases are not supported in advisories",
        mark.line(),
        mark.col() + 1
    )
}

/// Parses the first YAML document of `text`.
pub fn to_json(text: &str) -> Result<Value, String> {
    let mut b = Builder::default();
    let mut parser = Parser::new_from_str(text);
    parser.load(&mut b, false).map_err(|e| e.to_string())?;
    if let Some(e) = b.error {
        return Err(e);
    }
    Ok(b.root.unwrap_or(Value::Null))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scalars_keep_their_text() {
        let v =
            to_json("a: 2.0\nb: 1.10\nc: \"3\"\nd: [0, 1e3]\ne: null\nf: 'null'\n").expect("yaml");
        assert_eq!(v["a"], "2.0");
        assert_eq!(v["b"], "1.10");
        assert_eq!(v["c"], "3");
        assert_eq!(v["d"][1], "1e3");
        assert!(v["e"].is_null());
        assert_eq!(v["f"], "null");
    }

    #[test]
    fn nested_block_structures() {
        let v = to_json(
            "affected:\n- package:\n    name: jinja2\n  versions:\n  - \"2.0\"\n  - 2.1.1\n",
        )
        .expect("yaml");
        assert_eq!(v["affected"][0]["package"]["name"], "jinja2");
        assert_eq!(v["affected"][0]["versions"][1], "2.1.1");
    }

    #[test]
    fn errors_have_positions_and_aliases_are_refused() {
        let e = to_json("a: [1, 2\nb: 3\n").expect_err("must be refused");
        assert!(e.contains("line"), "{e}");
        let e = to_json("a: &x 1\nb: *x\n").expect_err("must be refused");
        assert!(e.contains("anchors"), "{e}");
    }
}
