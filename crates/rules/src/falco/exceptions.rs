//! Rule exceptions, rewritten into condition text exactly as Falco does.

use super::lists::quote_item;
use super::yaml::{Kind, Node};

/// `fields:` as written: one field name or a list.
#[derive(Debug, Clone, PartialEq)]
pub enum Fields {
    /// `fields: proc.name` (comps default to `in`).
    One(String),
    /// `fields: [proc.name, fd.name]` (comps default to `=`).
    Many(Vec<String>),
}

/// One `exceptions:` entry after merging appends.
#[derive(Debug, Clone)]
pub struct Exception {
    /// Unique name within the rule.
    pub name: String,
    /// Fields compared.
    pub fields: Fields,
    /// Operators, one per field (or one for a single field).
    pub comps: Vec<String>,
    /// Value tuples (YAML nodes: scalars or sequences).
    pub values: Vec<Node>,
    /// Line of the entry.
    pub line: usize,
    /// The entry gave `fields` (appends to an existing entry give only values).
    pub has_fields: bool,
}

fn is_list_comp(comp: &str) -> bool {
    matches!(comp, "in" | "intersects" | "pmatch") || comp.ends_with("of")
}

fn scalar_text(node: &Node) -> String {
    match &node.kind {
        Kind::Scalar { text, .. } => text.clone(),
        _ => String::new(),
    }
}

fn render_value(node: &Node, comp: &str) -> String {
    match &node.kind {
        Kind::Seq(items) => format!(
            "({})",
            items
                .iter()
                .map(|i| quote_item(&scalar_text(i)))
                .collect::<Vec<_>>()
                .join(", ")
        ),
        _ => {
            let v = quote_item(&scalar_text(node));
            if is_list_comp(comp) && !v.starts_with('(') {
                format!("({v})")
            } else {
                v
            }
        }
    }
}

/// Appends `and not (...)` clauses for every exception with values.
pub fn apply(condition: &str, exceptions: &[Exception]) -> String {
    let mut out = format!("({condition})");
    for e in exceptions {
        let clause = match &e.fields {
            Fields::One(field) => {
                if e.values.is_empty() {
                    continue;
                }
                let comp = e.comps.first().map_or("in", String::as_str);
                let vals: Vec<String> = e
                    .values
                    .iter()
                    .map(|v| match &v.kind {
                        Kind::Seq(_) => render_value(v, "="),
                        _ => quote_item(&scalar_text(v)),
                    })
                    .collect();
                format!("({field} {comp} ({}))", vals.join(", "))
            }
            Fields::Many(fields) => {
                if e.values.is_empty() {
                    continue;
                }
                let tuples: Vec<String> = e
                    .values
                    .iter()
                    .map(|tuple| {
                        let Kind::Seq(vals) = &tuple.kind else {
                            return String::new();
                        };
                        let checks: Vec<String> = fields
                            .iter()
                            .zip(vals)
                            .enumerate()
                            .map(|(i, (f, v))| {
                                let comp = e.comps.get(i).map_or("=", String::as_str);
                                format!(" {f} {comp} {}", render_value(v, comp))
                            })
                            .collect();
                        format!("({})", checks.join(" and "))
                    })
                    .collect();
                format!("({})", tuples.join(" or "))
            }
        };
        out.push_str(" and not ");
        out.push_str(&clause);
    }
    out
}
