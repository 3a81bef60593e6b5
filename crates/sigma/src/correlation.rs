//! Correlation rules: counts, distinct values, sums and orderings of rule matches per group
//! over a sliding time window, with bounded memory.

use std::collections::{HashMap, VecDeque};

use tripline_event::Priority;
use tripline_yaml::{Kind as Y, Node};

use crate::event::SigmaEvent;
use crate::rule::level_priority;

/// Most groups kept per correlation; matches for new groups beyond it are counted and dropped.
pub const MAX_GROUPS: usize = 100_000;
/// Most matches kept per group (older ones are forgotten first).
pub const MAX_ENTRIES_PER_GROUP: usize = 100_000;

/// Correlation types.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CorrelationType {
    /// Matching events per group.
    EventCount,
    /// Distinct values of a field per group.
    ValueCount,
    /// Every referenced rule matched, any order.
    Temporal,
    /// Every referenced rule matched, in the listed order.
    TemporalOrdered,
    /// Sum of a numeric field.
    ValueSum,
    /// Average of a numeric field.
    ValueAvg,
    /// A percentile of a numeric field (`condition.percentile`, default 50).
    ValuePercentile,
}

/// A parsed correlation document.
#[derive(Debug, Clone)]
pub struct Correlation {
    /// `id` (or title).
    pub id: String,
    /// `title`.
    pub title: String,
    /// `name`, for chaining.
    pub name: Option<String>,
    /// Priority from `level`.
    pub priority: Priority,
    /// `author`.
    pub author: Option<String>,
    /// `tags`.
    pub tags: Vec<String>,
    /// Type.
    pub kind: CorrelationType,
    /// Referenced rule ids or names.
    pub rules: Vec<String>,
    /// `group-by` fields.
    pub group_by: Vec<String>,
    /// `timespan` in ns.
    pub timespan_ns: u64,
    /// Conditions (`gt`, `gte`, `lt`, `lte`, `eq`, `neq`), ANDed.
    pub conditions: Vec<(String, f64)>,
    /// `condition.field`.
    pub field: Option<String>,
    /// Percentile for `value_percentile`.
    pub percentile: f64,
    /// `aliases`: alias → (rule id or name → field).
    pub aliases: HashMap<String, HashMap<String, String>>,
    /// Whether referenced rules also alert on their own.
    pub generate: bool,
}

/// Parses `90m`, `30s`, `1h`, `2d`.
pub fn parse_timespan(text: &str) -> Option<u64> {
    let text = text.trim();
    let unit_at = text.char_indices().last()?.0;
    let (num, unit) = text.split_at(unit_at);
    let n: u64 = num.parse().ok()?;
    let secs = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        "w" => 604_800,
        _ => return None,
    };
    n.checked_mul(secs)?.checked_mul(1_000_000_000)
}

impl Correlation {
    /// Parses a correlation document; errors carry the line.
    pub fn from_node(doc: &Node) -> Result<Correlation, (usize, String)> {
        let c = doc.get("correlation").expect("caller checked");
        let text = |n: &Node, k: &str| n.get(k).and_then(Node::as_str).map(str::to_string);
        let title = text(doc, "title").ok_or((doc.line, "missing 'title'".to_string()))?;
        let kind = match text(c, "type").as_deref() {
            Some("event_count") => CorrelationType::EventCount,
            Some("value_count") => CorrelationType::ValueCount,
            Some("temporal") => CorrelationType::Temporal,
            Some("temporal_ordered") => CorrelationType::TemporalOrdered,
            Some("value_sum") => CorrelationType::ValueSum,
            Some("value_avg") => CorrelationType::ValueAvg,
            Some("value_percentile") => CorrelationType::ValuePercentile,
            Some(other) => return Err((c.line, format!("unknown correlation type '{other}'"))),
            None => return Err((c.line, "missing correlation 'type'".into())),
        };
        let list = |n: Option<&Node>| -> Vec<String> {
            match n.map(|n| &n.kind) {
                Some(Y::Seq(items)) => items
                    .iter()
                    .filter_map(|i| i.as_str().map(str::to_string))
                    .collect(),
                Some(Y::Scalar { text, .. }) => vec![text.clone()],
                _ => Vec::new(),
            }
        };
        let rules = list(c.get("rules"));
        if rules.is_empty() {
            return Err((c.line, "a correlation needs 'rules'".into()));
        }
        let span = text(c, "timespan").or_else(|| text(c, "timeframe"));
        let timespan_ns = span.as_deref().and_then(parse_timespan).ok_or((
            c.line,
            format!("'timespan' must look like 90s, 5m, 1h or 2d, got {span:?}"),
        ))?;
        let mut conditions = Vec::new();
        let mut field = None;
        let mut percentile = 50.0;
        if let Some(cond) = c.get("condition") {
            if let Y::Map(entries) = &cond.kind {
                for (k, v) in entries {
                    match k.as_str() {
                        Some("field") => field = v.as_str().map(str::to_string),
                        Some("percentile") => {
                            percentile = v.as_str().and_then(|s| s.parse().ok()).unwrap_or(50.0)
                        }
                        Some(op @ ("gt" | "gte" | "lt" | "lte" | "eq" | "neq")) => {
                            let n = v
                                .as_str()
                                .and_then(|s| s.parse().ok())
                                .ok_or((v.line, format!("'{op}' needs a number")))?;
                            conditions.push((op.to_string(), n));
                        }
                        Some(other) => {
                            return Err((
                                k.line,
                                format!("unknown correlation condition '{other}'"),
                            ))
                        }
                        None => {}
                    }
                }
            }
        }
        let temporal = matches!(
            kind,
            CorrelationType::Temporal | CorrelationType::TemporalOrdered
        );
        if !temporal && conditions.is_empty() {
            return Err((c.line, "this correlation type needs a 'condition'".into()));
        }
        if matches!(
            kind,
            CorrelationType::ValueCount
                | CorrelationType::ValueSum
                | CorrelationType::ValueAvg
                | CorrelationType::ValuePercentile
        ) && field.is_none()
        {
            return Err((
                c.line,
                "this correlation type needs 'condition.field'".into(),
            ));
        }
        let mut aliases = HashMap::new();
        if let Some(Y::Map(entries)) = c.get("aliases").map(|n| &n.kind) {
            for (alias, map) in entries {
                let mut per_rule = HashMap::new();
                if let Y::Map(m) = &map.kind {
                    for (r, f) in m {
                        if let (Some(r), Some(f)) = (r.as_str(), f.as_str()) {
                            per_rule.insert(r.to_string(), f.to_string());
                        }
                    }
                }
                if let Some(a) = alias.as_str() {
                    aliases.insert(a.to_string(), per_rule);
                }
            }
        }
        let level = text(doc, "level");
        Ok(Correlation {
            id: text(doc, "id").unwrap_or_else(|| title.clone()),
            title,
            name: text(doc, "name"),
            priority: level
                .as_deref()
                .and_then(level_priority)
                .unwrap_or(Priority::Warning),
            author: text(doc, "author"),
            tags: list(doc.get("tags")),
            kind,
            rules,
            group_by: list(c.get("group-by")),
            timespan_ns,
            conditions,
            field,
            percentile,
            aliases,
            generate: c.get("generate").and_then(Node::as_bool).unwrap_or(false),
        })
    }

    fn refers_to(&self, id: &str, name: Option<&str>) -> Option<usize> {
        self.rules
            .iter()
            .position(|r| r == id || Some(r.as_str()) == name)
    }

    fn holds(&self, value: f64) -> bool {
        self.conditions.iter().all(|(op, n)| match op.as_str() {
            "gt" => value > *n,
            "gte" => value >= *n,
            "lt" => value < *n,
            "lte" => value <= *n,
            "eq" => value == *n,
            _ => value != *n,
        })
    }
}

/// One firing of a correlation.
#[derive(Debug, Clone)]
pub struct CorrelationHit {
    /// Index of the correlation in the engine.
    pub index: usize,
    /// The group's values, `field=value`.
    pub group: Vec<(String, String)>,
    /// The measured value (count, distinct count, sum...).
    pub value: f64,
    /// Time of the event that completed it.
    pub ts_ns: u64,
}

#[derive(Debug, Default)]
struct Group {
    /// (time, rule position, value) sorted by time.
    entries: VecDeque<(u64, usize, Option<String>)>,
}

/// Streaming state of all correlations.
///
/// ```
/// use tripline_sigma::{load, LoadOptions};
/// use tripline_sigma::correlation::CorrelationEngine;
/// let doc = "title: burst\ncorrelation:\n  type: event_count\n  rules: [r1]\n  group-by: [user]\n  timespan: 1m\n  condition: {gte: 2}\n";
/// let mut engine = CorrelationEngine::new(load(&[("c.yml".into(), doc.into())], LoadOptions::default()).correlations);
/// let ev = serde_json::json!({"user": "bob"});
/// assert!(engine.on_match("r1", None, &ev, 0).is_empty());
/// assert_eq!(engine.on_match("r1", None, &ev, 30_000_000_000).len(), 1);
/// ```
#[derive(Debug, Default)]
pub struct CorrelationEngine {
    correlations: Vec<Correlation>,
    groups: Vec<HashMap<Vec<String>, Group>>,
    /// Matches dropped because a correlation had [`MAX_GROUPS`] groups.
    pub dropped: u64,
}

impl CorrelationEngine {
    /// An engine over these correlations.
    pub fn new(correlations: Vec<Correlation>) -> CorrelationEngine {
        let groups = correlations.iter().map(|_| HashMap::new()).collect();
        CorrelationEngine {
            correlations,
            groups,
            dropped: 0,
        }
    }

    /// The correlations.
    pub fn correlations(&self) -> &[Correlation] {
        &self.correlations
    }

    /// Whether alerts of the rule (by id or name) are suppressed by a non-generating
    /// correlation that references it.
    pub fn suppresses(&self, id: &str, name: Option<&str>) -> bool {
        self.correlations
            .iter()
            .any(|c| !c.generate && c.refers_to(id, name).is_some())
    }

    /// Records that rule `id`/`name` matched `ev` at `ts_ns`; returns correlations that fire,
    /// including chained ones.
    pub fn on_match(
        &mut self,
        id: &str,
        name: Option<&str>,
        ev: &dyn SigmaEvent,
        ts_ns: u64,
    ) -> Vec<CorrelationHit> {
        let mut hits = Vec::new();
        for ci in 0..self.correlations.len() {
            let Some(pos) = self.correlations[ci].refers_to(id, name) else {
                continue;
            };
            if let Some(hit) = self.feed(ci, pos, id, name, ev, ts_ns) {
                hits.push(hit);
            }
        }
        // Chains: a correlation that fired counts as a match for correlations naming it.
        let mut i = 0;
        while i < hits.len() {
            let c = &self.correlations[hits[i].index];
            let (cid, cname) = (c.id.clone(), c.name.clone());
            let ts = hits[i].ts_ns;
            for ci in 0..self.correlations.len() {
                if let Some(pos) = self.correlations[ci].refers_to(&cid, cname.as_deref()) {
                    if let Some(hit) = self.feed(ci, pos, &cid, cname.as_deref(), ev, ts) {
                        hits.push(hit);
                    }
                }
            }
            i += 1;
            if i > 64 {
                break; // a cycle of correlations referencing each other
            }
        }
        hits
    }

    fn feed(
        &mut self,
        ci: usize,
        pos: usize,
        id: &str,
        name: Option<&str>,
        ev: &dyn SigmaEvent,
        ts: u64,
    ) -> Option<CorrelationHit> {
        let c = &self.correlations[ci];
        let read = |field: &str| -> String {
            let mut out = Vec::new();
            ev.lookup(field, &mut out);
            out.first()
                .and_then(|v| v.text().map(|t| t.into_owned()))
                .unwrap_or_default()
        };
        let key: Vec<String> = c
            .group_by
            .iter()
            .map(|g| {
                let field = c
                    .aliases
                    .get(g)
                    .and_then(|m| m.get(id).or_else(|| name.and_then(|n| m.get(n))))
                    .map(String::as_str)
                    .unwrap_or(g);
                read(field)
            })
            .collect();
        let value = c.field.as_deref().map(read);
        let groups = &mut self.groups[ci];
        if !groups.contains_key(&key) && groups.len() >= MAX_GROUPS {
            self.dropped += 1;
            return None;
        }
        let g = groups.entry(key.clone()).or_default();
        // Insert in time order (events may arrive slightly out of order).
        let at = g.entries.partition_point(|e| e.0 <= ts);
        g.entries.insert(at, (ts, pos, value));
        if g.entries.len() > MAX_ENTRIES_PER_GROUP {
            g.entries.pop_front();
        }
        let newest = g.entries.back().map_or(ts, |e| e.0);
        let start = newest.saturating_sub(c.timespan_ns);
        while g.entries.front().is_some_and(|e| e.0 < start) {
            g.entries.pop_front();
        }
        let measured = match c.kind {
            CorrelationType::EventCount => Some(g.entries.len() as f64),
            CorrelationType::ValueCount => {
                let distinct: std::collections::HashSet<&str> = g
                    .entries
                    .iter()
                    .filter_map(|e| e.2.as_deref())
                    .filter(|v| !v.is_empty())
                    .collect();
                Some(distinct.len() as f64)
            }
            CorrelationType::ValueSum
            | CorrelationType::ValueAvg
            | CorrelationType::ValuePercentile => {
                let mut nums: Vec<f64> = g
                    .entries
                    .iter()
                    .filter_map(|e| e.2.as_deref()?.parse().ok())
                    .collect();
                if nums.is_empty() {
                    None
                } else {
                    Some(match c.kind {
                        CorrelationType::ValueSum => nums.iter().sum(),
                        CorrelationType::ValueAvg => nums.iter().sum::<f64>() / nums.len() as f64,
                        _ => {
                            nums.sort_by(|a, b| a.total_cmp(b));
                            let rank =
                                (c.percentile / 100.0 * (nums.len() - 1) as f64).round() as usize;
                            nums[rank.min(nums.len() - 1)]
                        }
                    })
                }
            }
            CorrelationType::Temporal => {
                let all = (0..c.rules.len()).all(|r| g.entries.iter().any(|e| e.1 == r));
                all.then_some(c.rules.len() as f64)
            }
            CorrelationType::TemporalOrdered => {
                // Look for rule 0, then rule 1 at or after it, ... within the window.
                let mut want = 0;
                for e in &g.entries {
                    if e.1 == want {
                        want += 1;
                        if want == c.rules.len() {
                            break;
                        }
                    }
                }
                (want == c.rules.len()).then_some(c.rules.len() as f64)
            }
        };
        let temporal = matches!(
            c.kind,
            CorrelationType::Temporal | CorrelationType::TemporalOrdered
        );
        let fire = measured.is_some_and(|m| temporal || c.holds(m));
        if !fire {
            return None;
        }
        // Start a new window after firing, so one burst alerts once.
        g.entries.clear();
        Some(CorrelationHit {
            index: ci,
            group: c.group_by.iter().cloned().zip(key).collect(),
            value: measured.unwrap_or_default(),
            ts_ns: ts,
        })
    }
}
