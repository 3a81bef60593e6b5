//! pySigma-style processing pipelines: YAML lists of transformations applied to rules at load
//! time, so rules written for one log layout run on another without editing them.
//!
//! Supported transformation types: `field_name_mapping` (one-to-one, or one-to-many as an OR),
//! `field_name_prefix_mapping`, `change_logsource`, `add_condition`, `drop_detection_item` and
//! `rule_failure`, each optionally gated by `rule_conditions` of type `logsource` (all must hold,
//! or any with `rule_cond_op: or`). Pipelines apply in `priority` order (lower first).
//!
//! ```
//! use tripline_sigma::pipeline::Pipeline;
//! use tripline_sigma::{load_with, LoadOptions, LogSource, SigmaRuleset};
//! let pipeline = Pipeline::from_yaml("p.yml", r#"
//! name: my app
//! priority: 10
//! transformations:
//!   - type: field_name_mapping
//!     mapping: {CommandLine: process.command_line}
//!     rule_conditions: [{type: logsource, category: process_creation}]
//! "#).unwrap();
//! let rule = "title: t\nid: t1\nlogsource: {product: linux, category: process_creation}\n\
//!             detection:\n  sel:\n    CommandLine|contains: whoami\n  condition: sel\n";
//! let docs = load_with(&[("r.yml".into(), rule.into())], &[pipeline], LoadOptions::default());
//! let mut set = SigmaRuleset::new(docs);
//! let ev = serde_json::json!({"process": {"command_line": "sh -c whoami"}});
//! let stream = LogSource::new(Some("process_creation"), Some("linux"), None);
//! assert_eq!(set.ids_matching(&ev, &stream), ["t1"]);
//! ```

use tripline_yaml::{Kind as Y, Node};

use crate::rule::{LoadError, LogSource};

/// A loaded pipeline.
#[derive(Debug, Clone)]
pub struct Pipeline {
    /// `name`.
    pub name: String,
    /// `priority` (lower applies first).
    pub priority: i64,
    transformations: Vec<Transformation>,
}

#[derive(Debug, Clone)]
struct Transformation {
    action: Action,
    conditions: Vec<LogSource>,
    any: bool,
}

#[derive(Debug, Clone)]
enum Action {
    FieldNames(Vec<(String, Vec<String>)>),
    FieldPrefixes(Vec<(String, String)>),
    ChangeLogsource(LogSource),
    AddCondition(Node),
    DropFields(Vec<String>),
    Fail(String),
}

fn scalar(text: &str) -> Node {
    Node {
        line: 0,
        kind: Y::Scalar {
            text: text.to_string(),
            plain: false,
        },
    }
}

impl Pipeline {
    /// Parses a pipeline file.
    pub fn from_yaml(file: &str, text: &str) -> Result<Pipeline, LoadError> {
        let fail = |line: usize, message: String| LoadError {
            file: file.to_string(),
            line,
            rule: None,
            message,
        };
        let docs = tripline_yaml::parse_documents(text)
            .map_err(|e| fail(e.line, format!("invalid YAML: {}", e.message)))?;
        let Some(doc) = docs.first() else {
            return Err(fail(1, "empty pipeline".into()));
        };
        let name = doc
            .get("name")
            .and_then(Node::as_str)
            .unwrap_or(file)
            .to_string();
        let priority = doc
            .get("priority")
            .and_then(Node::as_str)
            .and_then(|p| p.parse().ok())
            .unwrap_or(0);
        let Some(Y::Seq(items)) = doc.get("transformations").map(|n| &n.kind) else {
            return Err(fail(
                doc.line,
                "a pipeline needs a 'transformations' list".into(),
            ));
        };
        let mut transformations = Vec::new();
        for t in items {
            let ty = t.get("type").and_then(Node::as_str).unwrap_or("");
            let map_pairs = |key: &str| -> Vec<(String, Vec<String>)> {
                match t.get(key).map(|n| &n.kind) {
                    Some(Y::Map(entries)) => entries
                        .iter()
                        .filter_map(|(k, v)| {
                            let targets = match &v.kind {
                                Y::Seq(xs) => xs
                                    .iter()
                                    .filter_map(|x| x.as_str().map(str::to_string))
                                    .collect(),
                                _ => vec![v.as_str()?.to_string()],
                            };
                            Some((k.as_str()?.to_string(), targets))
                        })
                        .collect(),
                    _ => Vec::new(),
                }
            };
            let action = match ty {
                "field_name_mapping" => Action::FieldNames(map_pairs("mapping")),
                "field_name_prefix_mapping" => Action::FieldPrefixes(
                    map_pairs("mapping")
                        .into_iter()
                        .filter_map(|(k, v)| Some((k, v.into_iter().next()?)))
                        .collect(),
                ),
                "change_logsource" => {
                    let part = |k: &str| t.get(k).and_then(Node::as_str);
                    Action::ChangeLogsource(LogSource::new(
                        part("category"),
                        part("product"),
                        part("service"),
                    ))
                }
                "add_condition" => match t.get("conditions") {
                    Some(
                        c @ Node {
                            kind: Y::Map(_), ..
                        },
                    ) => Action::AddCondition(c.clone()),
                    _ => {
                        return Err(fail(
                            t.line,
                            "add_condition needs a 'conditions' map".into(),
                        ))
                    }
                },
                "drop_detection_item" => {
                    let fields = t
                        .get("field_name_conditions")
                        .map(|c| match &c.kind {
                            Y::Seq(cs) => cs
                                .iter()
                                .flat_map(|c| match c.get("fields").map(|f| &f.kind) {
                                    Some(Y::Seq(fs)) => fs
                                        .iter()
                                        .filter_map(|f| f.as_str().map(str::to_string))
                                        .collect(),
                                    _ => Vec::new(),
                                })
                                .collect(),
                            _ => Vec::new(),
                        })
                        .unwrap_or_default();
                    Action::DropFields(fields)
                }
                "rule_failure" | "detection_item_failure" => Action::Fail(
                    t.get("message")
                        .and_then(Node::as_str)
                        .unwrap_or("rejected by a pipeline")
                        .to_string(),
                ),
                other => {
                    return Err(fail(
                        t.line,
                        format!("unsupported transformation type '{other}'"),
                    ))
                }
            };
            let mut conditions = Vec::new();
            if let Some(Y::Seq(cs)) = t.get("rule_conditions").map(|n| &n.kind) {
                for c in cs {
                    if c.get("type").and_then(Node::as_str) != Some("logsource") {
                        return Err(fail(
                            c.line,
                            "only rule_conditions of type 'logsource' are supported".into(),
                        ));
                    }
                    let part = |k: &str| c.get(k).and_then(Node::as_str);
                    conditions.push(LogSource::new(
                        part("category"),
                        part("product"),
                        part("service"),
                    ));
                }
            }
            let any = t.get("rule_cond_op").and_then(Node::as_str) == Some("or");
            transformations.push(Transformation {
                action,
                conditions,
                any,
            });
        }
        Ok(Pipeline {
            name,
            priority,
            transformations,
        })
    }

    /// Applies the pipeline to a rule document; `Err` = the rule is rejected (message).
    pub(crate) fn apply(&self, doc: &mut Node) -> Result<(), String> {
        for t in &self.transformations {
            let ls = logsource_of(doc);
            // A rule condition holds when the rule's log source is at least as specific.
            let fits = |c: &LogSource| c.fits(&ls);
            let applies = t.conditions.is_empty()
                || if t.any {
                    t.conditions.iter().any(fits)
                } else {
                    t.conditions.iter().all(fits)
                };
            if !applies {
                continue;
            }
            match &t.action {
                Action::Fail(m) => return Err(format!("pipeline '{}': {m}", self.name)),
                Action::ChangeLogsource(new) => set_logsource(doc, new),
                Action::FieldNames(map) => rename_fields(doc, &|f| {
                    map.iter()
                        .find(|(from, _)| from == f)
                        .map(|(_, to)| to.clone())
                }),
                Action::FieldPrefixes(map) => rename_fields(doc, &|f| {
                    map.iter()
                        .find(|(from, _)| f.starts_with(from.as_str()))
                        .map(|(from, to)| vec![format!("{to}{}", &f[from.len()..])])
                }),
                Action::DropFields(fields) => drop_fields(doc, fields),
                Action::AddCondition(cond) => add_condition(doc, cond),
            }
        }
        Ok(())
    }
}

fn logsource_of(doc: &Node) -> LogSource {
    let ls = doc.get("logsource");
    let part = |k: &str| ls.and_then(|l| l.get(k)).and_then(Node::as_str);
    LogSource::new(part("category"), part("product"), part("service"))
}

fn entries_mut<'a>(node: &'a mut Node, key: &str) -> Option<&'a mut Node> {
    match &mut node.kind {
        Y::Map(entries) => entries
            .iter_mut()
            .find(|(k, _)| k.as_str() == Some(key))
            .map(|(_, v)| v),
        _ => None,
    }
}

fn set_logsource(doc: &mut Node, new: &LogSource) {
    let mut entries = Vec::new();
    for (k, v) in [
        ("category", &new.category),
        ("product", &new.product),
        ("service", &new.service),
    ] {
        if let Some(v) = v {
            entries.push((scalar(k), scalar(v)));
        }
    }
    if let Some(ls) = entries_mut(doc, "logsource") {
        // Keep attributes the transformation does not set.
        if let Y::Map(old) = &ls.kind {
            for (k, v) in old {
                if !entries.iter().any(|(nk, _)| nk.as_str() == k.as_str()) {
                    entries.push((k.clone(), v.clone()));
                }
            }
        }
        ls.kind = Y::Map(entries);
    }
}

/// The entries of one YAML map.
type Entries = Vec<(Node, Node)>;

/// Every detection map (including filters' and lists of maps) except `condition`.
fn for_each_map(doc: &mut Node, f: &mut dyn FnMut(&mut Entries) -> Option<Vec<Entries>>) {
    let Some(det) = entries_mut(doc, "detection") else {
        return;
    };
    let Y::Map(ids) = &mut det.kind else { return };
    for (k, v) in ids.iter_mut() {
        if k.as_str() == Some("condition") {
            continue;
        }
        match &mut v.kind {
            Y::Map(entries) => {
                if let Some(alternatives) = f(entries) {
                    v.kind = Y::Seq(
                        alternatives
                            .into_iter()
                            .map(|e| Node {
                                line: v.line,
                                kind: Y::Map(e),
                            })
                            .collect(),
                    );
                }
            }
            Y::Seq(items) => {
                let mut out = Vec::new();
                for item in items.iter_mut() {
                    match &mut item.kind {
                        Y::Map(entries) => match f(entries) {
                            Some(alts) => out.extend(alts.into_iter().map(|e| Node {
                                line: item.line,
                                kind: Y::Map(e),
                            })),
                            None => out.push(item.clone()),
                        },
                        _ => out.push(item.clone()),
                    }
                }
                *items = out;
            }
            _ => {}
        }
    }
}

/// Renames fields; a field mapped to several names turns its map into an OR of maps.
fn rename_fields(doc: &mut Node, map: &dyn Fn(&str) -> Option<Vec<String>>) {
    for_each_map(doc, &mut |entries| {
        let mut alternatives: Vec<Entries> = vec![Vec::new()];
        for (k, v) in entries.iter() {
            let key = k.as_str().unwrap_or("");
            let (field, mods) = key
                .split_once('|')
                .map_or((key, None), |(f, m)| (f, Some(m)));
            let targets = map(field).unwrap_or_else(|| vec![field.to_string()]);
            let mut next = Vec::new();
            for alt in &alternatives {
                for t in &targets {
                    let name = match mods {
                        Some(m) => format!("{t}|{m}"),
                        None => t.clone(),
                    };
                    let mut a = alt.clone();
                    a.push((
                        Node {
                            line: k.line,
                            kind: Y::Scalar {
                                text: name,
                                plain: false,
                            },
                        },
                        v.clone(),
                    ));
                    next.push(a);
                }
            }
            alternatives = next;
        }
        if alternatives.len() == 1 {
            *entries = alternatives.pop().expect("one alternative");
            None
        } else {
            Some(alternatives)
        }
    });
}

fn drop_fields(doc: &mut Node, fields: &[String]) {
    for_each_map(doc, &mut |entries| {
        entries.retain(|(k, _)| {
            let key = k.as_str().unwrap_or("");
            let field = key.split('|').next().unwrap_or("");
            !fields.iter().any(|f| f == field)
        });
        None
    });
}

fn add_condition(doc: &mut Node, cond: &Node) {
    let Some(det) = entries_mut(doc, "detection") else {
        return;
    };
    let Y::Map(ids) = &mut det.kind else { return };
    let n = ids.len();
    let id = format!("_pipeline_condition_{n}");
    ids.push((scalar(&id), cond.clone()));
    for (k, v) in ids.iter_mut() {
        if k.as_str() == Some("condition") {
            match &mut v.kind {
                Y::Scalar { text, .. } => *text = format!("{id} and ({text})"),
                Y::Seq(items) => {
                    for i in items {
                        if let Y::Scalar { text, .. } = &mut i.kind {
                            *text = format!("{id} and ({text})");
                        }
                    }
                }
                _ => {}
            }
        }
    }
}
