//! A YAML tree that remembers line numbers, so load errors can say where.
//!
//! ```
//! let docs = tripline_yaml::parse_documents("a: 1\nb: [x, y]\n").unwrap();
//! assert_eq!(docs[0].get("b").unwrap().line, 2);
//! ```

use std::collections::HashMap;

use yaml_rust2::parser::{Event, MarkedEventReceiver, Parser};
use yaml_rust2::scanner::{Marker, TScalarStyle};

/// A YAML node with the line (1-based) where it starts.
#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    /// 1-based line.
    pub line: usize,
    /// The value.
    pub kind: Kind,
}

/// YAML node shapes.
#[derive(Debug, Clone, PartialEq)]
pub enum Kind {
    /// `~`, `null` or nothing.
    Null,
    /// A scalar as text; `plain` is false for quoted scalars.
    Scalar {
        /// Text after YAML unquoting.
        text: String,
        /// Written without quotes.
        plain: bool,
    },
    /// A sequence.
    Seq(Vec<Node>),
    /// A mapping, in document order.
    Map(Vec<(Node, Node)>),
}

impl Node {
    /// Looks a key up in a mapping.
    pub fn get(&self, key: &str) -> Option<&Node> {
        match &self.kind {
            Kind::Map(entries) => entries
                .iter()
                .find(|(k, _)| k.as_str() == Some(key))
                .map(|(_, v)| v),
            _ => None,
        }
    }

    /// The scalar text, if this is a scalar.
    pub fn as_str(&self) -> Option<&str> {
        match &self.kind {
            Kind::Scalar { text, .. } => Some(text),
            _ => None,
        }
    }

    /// The scalar as a YAML 1.2 core-schema boolean.
    pub fn as_bool(&self) -> Option<bool> {
        match &self.kind {
            Kind::Scalar { text, plain: true } => match text.as_str() {
                "true" | "True" | "TRUE" => Some(true),
                "false" | "False" | "FALSE" => Some(false),
                _ => None,
            },
            _ => None,
        }
    }

    /// Whether this is null.
    pub fn is_null(&self) -> bool {
        matches!(self.kind, Kind::Null)
    }

    /// The mapping's keys.
    pub fn keys(&self) -> Vec<&str> {
        match &self.kind {
            Kind::Map(entries) => entries.iter().filter_map(|(k, _)| k.as_str()).collect(),
            _ => Vec::new(),
        }
    }
}

/// YAML syntax error with position.
#[derive(Debug, Clone)]
pub struct YamlError {
    /// 1-based line.
    pub line: usize,
    /// Scanner message.
    pub message: String,
}

/// Parses every document of a YAML stream.
///
/// yaml-cpp (Falco's parser) accepts a flow collection whose closing `]`/`}` sits at the same
/// indentation as its key, as upstream rule files do; strict YAML does not. When the strict
/// parse fails we retry with such closing lines indented (line numbers are unchanged).
pub fn parse_documents(text: &str) -> Result<Vec<Node>, YamlError> {
    match parse_strict(text) {
        Ok(docs) => Ok(docs),
        Err(first) => {
            let lenient: String = text
                .split_inclusive('\n')
                .map(|line| {
                    let t = line.trim();
                    if matches!(t, "]" | "}" | "]," | "},") {
                        format!("    {line}")
                    } else {
                        line.to_string()
                    }
                })
                .collect();
            parse_strict(&lenient).map_err(|_| first)
        }
    }
}

/// Most nodes that aliases may add to one stream. Real rule files and configs use few aliases;
/// nested ones ("billion laughs") grow exponentially, so a 1 KB file could otherwise expand to
/// gigabytes. Past this the stream is refused.
pub const MAX_ALIAS_NODES: usize = 100_000;

fn parse_strict(text: &str) -> Result<Vec<Node>, YamlError> {
    let mut builder = Builder::default();
    let mut parser = Parser::new_from_str(text);
    parser.load(&mut builder, true).map_err(|e| YamlError {
        line: e.marker().line(),
        message: e.info().to_string(),
    })?;
    if let Some(line) = builder.too_many_aliases {
        return Err(YamlError {
            line,
            message: format!(
                "aliases expand to more than {MAX_ALIAS_NODES} nodes (nested aliases?); refusing the document"
            ),
        });
    }
    Ok(builder.docs)
}

#[derive(Default)]
struct Builder {
    docs: Vec<Node>,
    stack: Vec<(Node, usize)>,
    keys: Vec<Option<Node>>,
    /// Anchored nodes with their size in nodes.
    anchors: HashMap<usize, (Node, usize)>,
    /// Line of a document that has started but produced no root node yet.
    pending_doc: Option<usize>,
    /// Nodes added by aliases so far.
    alias_nodes: usize,
    /// Line of the alias that went past [`MAX_ALIAS_NODES`]; nothing is built after it.
    too_many_aliases: Option<usize>,
}

/// Nodes in a tree, counting the root.
fn size(node: &Node) -> usize {
    1 + match &node.kind {
        Kind::Seq(items) => items.iter().map(size).sum(),
        Kind::Map(entries) => entries.iter().map(|(k, v)| size(k) + size(v)).sum(),
        _ => 0,
    }
}

impl Builder {
    fn push_value(&mut self, node: Node, anchor: usize) {
        if anchor > 0 {
            let n = size(&node);
            self.anchors.insert(anchor, (node.clone(), n));
        }
        match self.stack.last_mut() {
            None => {
                self.pending_doc = None;
                self.docs.push(node)
            }
            Some((parent, _)) => match &mut parent.kind {
                Kind::Seq(items) => items.push(node),
                Kind::Map(entries) => {
                    let slot = self.keys.last_mut().expect("key slot for every map");
                    match slot.take() {
                        None => *slot = Some(node),
                        Some(key) => entries.push((key, node)),
                    }
                }
                _ => unreachable!("only collections are on the stack"),
            },
        }
    }
}

impl MarkedEventReceiver for Builder {
    fn on_event(&mut self, ev: Event, mark: Marker) {
        if self.too_many_aliases.is_some() {
            return;
        }
        let line = mark.line();
        match ev {
            Event::Scalar(text, style, anchor, _tag) => {
                let plain = style == TScalarStyle::Plain;
                let kind = if plain && matches!(text.as_str(), "" | "~" | "null" | "Null" | "NULL")
                {
                    Kind::Null
                } else {
                    Kind::Scalar { text, plain }
                };
                self.push_value(Node { line, kind }, anchor);
            }
            Event::SequenceStart(anchor, _) => {
                self.stack.push((
                    Node {
                        line,
                        kind: Kind::Seq(Vec::new()),
                    },
                    anchor,
                ));
            }
            Event::MappingStart(anchor, _) => {
                self.keys.push(None);
                self.stack.push((
                    Node {
                        line,
                        kind: Kind::Map(Vec::new()),
                    },
                    anchor,
                ));
            }
            Event::SequenceEnd | Event::MappingEnd => {
                if matches!(ev, Event::MappingEnd) {
                    self.keys.pop();
                }
                if let Some((node, anchor)) = self.stack.pop() {
                    self.push_value(node, anchor);
                }
            }
            Event::Alias(id) => {
                let added = self.anchors.get(&id).map_or(1, |(_, n)| *n);
                self.alias_nodes = self.alias_nodes.saturating_add(added);
                if self.alias_nodes > MAX_ALIAS_NODES {
                    // Stop building: the rest of the stream is only scanned.
                    self.too_many_aliases = Some(line);
                    self.stack.clear();
                    self.anchors.clear();
                    return;
                }
                let node = self.anchors.get(&id).map_or(
                    Node {
                        line,
                        kind: Kind::Null,
                    },
                    |(n, _)| n.clone(),
                );
                self.push_value(node, 0);
            }
            Event::DocumentEnd => {
                // An empty document still counts, as null.
                if let Some(line) = self.pending_doc.take() {
                    self.docs.push(Node {
                        line,
                        kind: Kind::Null,
                    });
                }
            }
            Event::DocumentStart => {
                self.stack.clear();
                self.keys.clear();
                self.pending_doc = Some(line);
            }
            _ => {}
        }
    }
}
