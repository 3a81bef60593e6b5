//! Sigma rule documents: metadata, log source, detection, and meta filters.

use std::fmt;

use tripline_event::Priority;
use tripline_yaml::{Kind as Y, Node};

use crate::condition::{self, Cond};
use crate::correlation::Correlation;
use crate::detection::{self, FieldCache, Selection};
use crate::event::SigmaEvent;
use crate::pipeline::Pipeline;

/// A rule's `logsource` (or a stream's).
///
/// ```
/// use tripline_sigma::LogSource;
/// let rule = LogSource::new(Some("process_creation"), Some("linux"), None);
/// let stream = LogSource::new(Some("process_creation"), Some("linux"), None);
/// assert!(rule.fits(&stream));
/// assert!(LogSource::new(None, Some("linux"), None).fits(&stream));
/// assert!(!rule.fits(&LogSource::new(None, Some("linux"), Some("auditd"))));
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct LogSource {
    /// Kind of event (`process_creation`).
    pub category: Option<String>,
    /// OS or software (`linux`, `aws`).
    pub product: Option<String>,
    /// One log of the product (`auditd`, `cloudtrail`).
    pub service: Option<String>,
}

impl LogSource {
    /// A log source from optional parts.
    pub fn new(category: Option<&str>, product: Option<&str>, service: Option<&str>) -> LogSource {
        LogSource {
            category: category.map(str::to_string),
            product: product.map(str::to_string),
            service: service.map(str::to_string),
        }
    }

    /// Whether a rule with this log source applies to `stream`: every attribute the rule sets
    /// equals the stream's; attributes it leaves out match anything.
    pub fn fits(&self, stream: &LogSource) -> bool {
        let ok = |r: &Option<String>, s: &Option<String>| r.is_none() || r == s;
        ok(&self.category, &stream.category)
            && ok(&self.product, &stream.product)
            && ok(&self.service, &stream.service)
    }
}

/// A load problem, with the file and line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoadError {
    /// File name.
    pub file: String,
    /// 1-based line.
    pub line: usize,
    /// Rule title or id, when known.
    pub rule: Option<String>,
    /// What is wrong.
    pub message: String,
}

impl fmt::Display for LoadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}: ", self.file, self.line)?;
        if let Some(r) = &self.rule {
            write!(f, "rule '{r}': ")?;
        }
        f.write_str(&self.message)
    }
}

/// A detection rule.
#[derive(Debug, Clone)]
pub struct SigmaRule {
    /// `id` (or the title when a rule has none).
    pub id: String,
    /// `title`.
    pub title: String,
    /// `name`, for correlations that reference rules by name.
    pub name: Option<String>,
    /// `status`.
    pub status: Option<String>,
    /// `level`, mapped to a priority.
    pub priority: Priority,
    /// `level` as written.
    pub level: Option<String>,
    /// `author` (shown in alerts: the Detection Rule License requires credit).
    pub author: Option<String>,
    /// `tags`.
    pub tags: Vec<String>,
    /// `description`.
    pub description: Option<String>,
    /// `logsource`.
    pub logsource: LogSource,
    /// File and line of the document.
    pub file: String,
    /// 1-based line.
    pub line: usize,
    ids: Vec<String>,
    selections: Vec<Selection>,
    condition: Cond,
    /// Meta filters applied as `and not (...)`.
    filters: Vec<(Vec<Selection>, Cond)>,
}

impl SigmaRule {
    /// Whether the detection (and no attached filter) matches the event.
    pub fn matches(&self, ev: &dyn SigmaEvent) -> bool {
        self.matches_cached(ev, &mut FieldCache::new(0))
    }

    /// Like [`SigmaRule::matches`], reading fields through a per-event cache.
    pub fn matches_cached<'e>(&self, ev: &'e dyn SigmaEvent, cache: &mut FieldCache<'e>) -> bool {
        // Each selection is evaluated at most once per event; bits 0..64 remember the answers
        // (rules with more identifiers simply re-evaluate the rest).
        let (mut known, mut value) = (0u64, 0u64);
        let hit = self.condition.eval(&mut |i| {
            if i < 64 && known & (1 << i) != 0 {
                return value & (1 << i) != 0;
            }
            let m = self.selections[i].matches_cached(ev, cache);
            if i < 64 {
                known |= 1 << i;
                value |= u64::from(m) << i;
            }
            m
        });
        hit && !self
            .filters
            .iter()
            .any(|(sels, cond)| cond.eval(&mut |i| sels[i].matches_cached(ev, cache)))
    }

    /// Numbers every field the rule reads in `table` (see [`FieldCache`]).
    pub fn intern_fields(&mut self, table: &mut Vec<String>) {
        for s in &mut self.selections {
            s.intern_fields(table);
        }
        for (sels, _) in &mut self.filters {
            for s in sels {
                s.intern_fields(table);
            }
        }
    }

    /// Search identifier names, in document order.
    pub fn identifiers(&self) -> &[String] {
        &self.ids
    }
}

/// Sigma `level` → priority.
pub fn level_priority(level: &str) -> Option<Priority> {
    Some(match level {
        "informational" => Priority::Informational,
        "low" => Priority::Notice,
        "medium" => Priority::Warning,
        "high" => Priority::Error,
        "critical" => Priority::Critical,
        _ => return None,
    })
}

/// Everything a set of files holds.
#[derive(Debug, Default)]
pub struct Documents {
    /// Detection rules.
    pub rules: Vec<SigmaRule>,
    /// Correlation rules.
    pub correlations: Vec<Correlation>,
    /// Problems; the documents they concern are left out.
    pub errors: Vec<LoadError>,
    /// Rules skipped on purpose (deprecated or unsupported status), with the reason.
    pub skipped: Vec<LoadError>,
}

/// Options for loading.
#[derive(Debug, Clone, Copy, Default)]
pub struct LoadOptions {
    /// Also load rules whose status is `deprecated` or `unsupported`.
    pub include_deprecated: bool,
}

struct Filter {
    rules: Vec<String>,
    logsource: LogSource,
    selections: Vec<Selection>,
    condition: Cond,
}

/// Loads Sigma YAML files (`(name, text)` pairs); each may hold several documents.
pub fn load(files: &[(String, String)], opts: LoadOptions) -> Documents {
    load_with(files, &[], opts)
}

/// Like [`load`], transforming every detection rule with `pipelines` (by priority) first.
pub fn load_with(
    files: &[(String, String)],
    pipelines: &[Pipeline],
    opts: LoadOptions,
) -> Documents {
    let mut pipelines: Vec<&Pipeline> = pipelines.iter().collect();
    pipelines.sort_by_key(|p| p.priority);
    let mut docs = Documents::default();
    let mut filters = Vec::new();
    for (name, text) in files {
        let parsed = match tripline_yaml::parse_documents(text) {
            Ok(d) => d,
            Err(e) => {
                docs.errors.push(LoadError {
                    file: name.clone(),
                    line: e.line,
                    rule: None,
                    message: format!("invalid YAML: {}", e.message),
                });
                continue;
            }
        };
        for doc in parsed.iter().filter(|d| !d.is_null()) {
            let title = doc.get("title").and_then(Node::as_str).map(str::to_string);
            let fail = |line: usize, message: String| LoadError {
                file: name.clone(),
                line,
                rule: title.clone(),
                message,
            };
            if doc.get("correlation").is_some() {
                match Correlation::from_node(doc) {
                    Ok(c) => docs.correlations.push(c),
                    Err((line, m)) => docs.errors.push(fail(line, m)),
                }
            } else if let Some(f) = doc.get("filter") {
                match compile_filter(doc, f) {
                    Ok(f) => filters.push(f),
                    Err((line, m)) => docs.errors.push(fail(line, m)),
                }
            } else if doc.get("detection").is_some() {
                let status = doc.get("status").and_then(Node::as_str);
                if !opts.include_deprecated && matches!(status, Some("deprecated" | "unsupported"))
                {
                    docs.skipped.push(fail(
                        doc.line,
                        format!(
                            "status '{}' (load with --sigma-include-deprecated)",
                            status.unwrap_or("")
                        ),
                    ));
                    continue;
                }
                let mut doc = doc.clone();
                if let Some(m) = pipelines.iter().find_map(|p| p.apply(&mut doc).err()) {
                    docs.errors.push(fail(doc.line, m));
                    continue;
                }
                match compile_rule(&doc, name) {
                    Ok(r) => docs.rules.push(r),
                    Err((line, m)) => docs.errors.push(fail(line, m)),
                }
            } else {
                docs.errors.push(fail(
                    doc.line,
                    "not a Sigma document: expected 'detection', 'correlation' or 'filter'".into(),
                ));
            }
        }
    }
    for f in filters {
        for r in docs.rules.iter_mut().filter(|r| {
            (f.rules.contains(&r.id) || r.name.as_ref().is_some_and(|n| f.rules.contains(n)))
                && f.logsource.fits(&r.logsource)
        }) {
            r.filters.push((f.selections.clone(), f.condition.clone()));
        }
    }
    docs
}

type Fail = (usize, String);

fn str_list(node: Option<&Node>) -> Vec<String> {
    match node.map(|n| &n.kind) {
        Some(Y::Seq(items)) => items
            .iter()
            .filter_map(|i| i.as_str().map(str::to_string))
            .collect(),
        Some(Y::Scalar { text, .. }) => vec![text.clone()],
        _ => Vec::new(),
    }
}

fn logsource_of(doc: &Node) -> Result<LogSource, Fail> {
    let Some(ls) = doc.get("logsource") else {
        return Err((doc.line, "missing 'logsource'".into()));
    };
    let part = |k: &str| ls.get(k).and_then(Node::as_str).map(str::to_string);
    Ok(LogSource {
        category: part("category"),
        product: part("product"),
        service: part("service"),
    })
}

/// Identifiers and their compiled selections, plus the compiled condition.
fn compile_detection(det: &Node) -> Result<(Vec<String>, Vec<Selection>, Cond), Fail> {
    let Y::Map(entries) = &det.kind else {
        return Err((det.line, "'detection' must be a map".into()));
    };
    let mut ids = Vec::new();
    let mut sels = Vec::new();
    let mut cond_node = None;
    for (k, v) in entries {
        match k.as_str() {
            Some("condition") => cond_node = Some(v),
            Some("timeframe") => {
                return Err((k.line, "'timeframe' belongs to the v1 aggregation syntax, which is not supported; use a correlation rule".into()))
            }
            Some(id) => {
                let sel = detection::compile(v).map_err(|e| (e.line, format!("{id}: {}", e.message)))?;
                ids.push(id.to_string());
                sels.push(sel);
            }
            None => return Err((k.line, "search identifiers must be text".into())),
        }
    }
    let Some(cond_node) = cond_node else {
        return Err((det.line, "missing 'condition'".into()));
    };
    let texts: Vec<&str> = match &cond_node.kind {
        Y::Scalar { text, .. } => vec![text.as_str()],
        Y::Seq(items) => items.iter().filter_map(Node::as_str).collect(),
        _ => return Err((cond_node.line, "'condition' must be text or a list".into())),
    };
    let mut conds = Vec::new();
    for t in texts {
        conds.push(condition::parse(t, &ids).map_err(|m| (cond_node.line, m))?);
    }
    let cond = if conds.len() == 1 {
        conds.pop().expect("one condition")
    } else {
        Cond::Or(conds)
    };
    Ok((ids, sels, cond))
}

fn compile_rule(doc: &Node, file: &str) -> Result<SigmaRule, Fail> {
    let text = |k: &str| doc.get(k).and_then(Node::as_str).map(str::to_string);
    let Some(title) = text("title") else {
        return Err((doc.line, "missing 'title'".into()));
    };
    let logsource = logsource_of(doc)?;
    let det = doc.get("detection").expect("caller checked");
    let (ids, selections, condition) = compile_detection(det)?;
    let level = text("level");
    let priority = match level.as_deref() {
        None => Priority::Warning,
        Some(l) => level_priority(l).ok_or_else(|| {
            (
                doc.get("level").map_or(doc.line, |n| n.line),
                format!(
                    "unknown level '{l}' (expected informational, low, medium, high or critical)"
                ),
            )
        })?,
    };
    Ok(SigmaRule {
        id: text("id").unwrap_or_else(|| title.clone()),
        title,
        name: text("name"),
        status: text("status"),
        priority,
        level,
        author: text("author"),
        tags: str_list(doc.get("tags")),
        description: text("description"),
        logsource,
        file: file.to_string(),
        line: doc.line,
        ids,
        selections,
        condition,
        filters: Vec::new(),
    })
}

fn compile_filter(doc: &Node, f: &Node) -> Result<Filter, Fail> {
    let logsource = logsource_of(doc)?;
    let rules = str_list(f.get("rules"));
    let Y::Map(entries) = &f.kind else {
        return Err((f.line, "'filter' must be a map".into()));
    };
    // The filter map is a detection without the `rules` key.
    let det = Node {
        line: f.line,
        kind: Y::Map(
            entries
                .iter()
                .filter(|(k, _)| k.as_str() != Some("rules"))
                .cloned()
                .collect(),
        ),
    };
    let (_, selections, condition) = compile_detection(&det)?;
    Ok(Filter {
        rules,
        logsource,
        selections,
        condition,
    })
}
