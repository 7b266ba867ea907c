//! YAML (or JSON) text → a tree that remembers the line and column of every node, and the
//! same document as JSON for the schema check and the typed model.

use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Number, Value};
use serde_saphyr::{DefaultMessageFormatter, Location, MessageFormatter, Spanned};

use super::{Diagnostic, Severity};

/// The largest document accepted, in bytes.
pub const MAX_DOCUMENT_BYTES: usize = 1 << 20;

/// A YAML node with positions.
#[derive(Debug)]
enum Node {
    Scalar(Value),
    Seq(Vec<Spanned<Node>>),
    Map(Vec<(Spanned<String>, Spanned<Node>)>),
}

impl<'de> Deserialize<'de> for Node {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct NodeVisitor;
        impl<'de> Visitor<'de> for NodeVisitor {
            type Value = Node;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("any YAML node")
            }
            fn visit_bool<E: de::Error>(self, v: bool) -> Result<Node, E> {
                Ok(Node::Scalar(Value::Bool(v)))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Node, E> {
                Ok(Node::Scalar(Value::Number(v.into())))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Node, E> {
                Ok(Node::Scalar(Value::Number(v.into())))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Node, E> {
                // NaN and infinities have no JSON form: keep them as text so the schema rejects them.
                Ok(Node::Scalar(Number::from_f64(v).map_or_else(
                    || Value::String(v.to_string()),
                    Value::Number,
                )))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Node, E> {
                Ok(Node::Scalar(Value::String(v.to_owned())))
            }
            fn visit_string<E: de::Error>(self, v: String) -> Result<Node, E> {
                Ok(Node::Scalar(Value::String(v)))
            }
            fn visit_unit<E: de::Error>(self) -> Result<Node, E> {
                Ok(Node::Scalar(Value::Null))
            }
            fn visit_none<E: de::Error>(self) -> Result<Node, E> {
                Ok(Node::Scalar(Value::Null))
            }
            fn visit_some<D2: Deserializer<'de>>(self, d: D2) -> Result<Node, D2::Error> {
                Node::deserialize(d)
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Node, A::Error> {
                let mut items = Vec::new();
                while let Some(item) = seq.next_element::<Spanned<Node>>()? {
                    items.push(item);
                }
                Ok(Node::Seq(items))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Node, A::Error> {
                let mut entries = Vec::new();
                while let Some(key) = map.next_key::<Spanned<String>>()? {
                    entries.push((key, map.next_value::<Spanned<Node>>()?));
                }
                Ok(Node::Map(entries))
            }
        }
        d.deserialize_any(NodeVisitor)
    }
}

fn to_json(node: &Node) -> Value {
    match node {
        Node::Scalar(v) => v.clone(),
        Node::Seq(items) => Value::Array(items.iter().map(|i| to_json(&i.value)).collect()),
        Node::Map(entries) => {
            let mut map = Map::new();
            for (k, v) in entries {
                map.insert(k.value.clone(), to_json(&v.value));
            }
            Value::Object(map)
        }
    }
}

/// A parsed document: its JSON form and where each node was written.
#[derive(Debug)]
pub struct Document {
    pub file: String,
    pub json: Value,
    tree: Spanned<Node>,
}

impl Document {
    /// Parses `source`. Syntax errors, duplicate keys and oversized input are diagnostics.
    pub fn parse(file: &str, source: &str) -> Result<Self, Diagnostic> {
        let fail = |line: u64, column: u64, message: String| {
            let mut d = Diagnostic::new(Severity::Error, String::new(), message);
            d.file = file.to_owned();
            d.line = line;
            d.column = column;
            d
        };
        if source.len() > MAX_DOCUMENT_BYTES {
            return Err(fail(
                1,
                1,
                format!("the document is larger than {MAX_DOCUMENT_BYTES} bytes"),
            ));
        }
        let options = serde_saphyr::options! {
            strict_booleans: true,
            budget: serde_saphyr::budget! { max_depth: 64, max_nodes: 100_000, max_total_scalar_bytes: MAX_DOCUMENT_BYTES },
        };
        let tree: Spanned<Node> =
            serde_saphyr::from_str_with_options(source, options).map_err(|e| {
                let loc = e.location().unwrap_or(Location::UNKNOWN);
                let message = DefaultMessageFormatter
                    .format_message(e.without_snippet())
                    .to_string();
                // The parser suggests a library option; the author needs to remove the duplicate instead.
                let message = match message.split_once(", set DuplicateKeyPolicy") {
                    Some((head, _)) => format!("{head} (each key may appear once)"),
                    None => message,
                };
                fail(loc.line().max(1), loc.column().max(1), message)
            })?;
        let json = to_json(&tree.value);
        if !json.is_object() {
            return Err(fail(
                1,
                1,
                "the document must be a mapping (key: value pairs)".into(),
            ));
        }
        Ok(Self {
            file: file.to_owned(),
            json,
            tree,
        })
    }

    /// Line and column of the deepest node on `pointer` (the key where one exists).
    pub fn locate(&self, pointer: &str) -> (u64, u64) {
        let (mut at, mut node) = (self.tree.referenced, &self.tree);
        for raw in pointer.split('/').skip(1) {
            let segment = raw.replace("~1", "/").replace("~0", "~");
            let next = match &node.value {
                Node::Map(entries) => entries
                    .iter()
                    .find(|(k, _)| k.value == segment)
                    .map(|(k, v)| (k.referenced, v)),
                Node::Seq(items) => segment
                    .parse::<usize>()
                    .ok()
                    .and_then(|i| items.get(i))
                    .map(|v| (v.referenced, v)),
                Node::Scalar(_) => None,
            };
            match next {
                Some((loc, child)) => {
                    at = loc;
                    node = child;
                }
                None => break,
            }
        }
        (at.line().max(1), at.column().max(1))
    }

    /// Fills in file, line and column of a diagnostic made with a pointer only.
    pub fn place(&self, mut diagnostic: Diagnostic) -> Diagnostic {
        let (line, column) = self.locate(&diagnostic.pointer);
        diagnostic.file = self.file.clone();
        diagnostic.line = line;
        diagnostic.column = column;
        diagnostic
    }
}
