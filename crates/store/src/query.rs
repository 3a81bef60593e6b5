//! Finding filters for the API, the UI and the gate.

use tripline_event::Priority;

use crate::db::{Dialect, Val};
use crate::finding::{priority_rank, Kind};

/// Which findings to list; empty fields do not filter.
///
/// ```
/// use tripline_store::Query;
/// use tripline_event::Priority;
/// let q = Query { min_priority: Some(Priority::Warning), text: "shell".into(), ..Query::default() };
/// assert_eq!(q.limit, 100);
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct Query {
    /// Only this engine.
    pub kind: Option<Kind>,
    /// Only this rule (exact name).
    pub rule: Option<String>,
    /// At least this severe.
    pub min_priority: Option<Priority>,
    /// Only this source.
    pub source: Option<String>,
    /// Only this host.
    pub hostname: Option<String>,
    /// Last seen at or after (ns).
    pub since_ns: Option<i64>,
    /// Last seen before (ns).
    pub until_ns: Option<i64>,
    /// Words that must all appear in the rule, message, entity or evidence (case-insensitive).
    pub text: String,
    /// Only ids below this (the next page after a page ending at this id).
    pub before_id: Option<i64>,
    /// Page size.
    pub limit: i64,
}

impl Default for Query {
    fn default() -> Self {
        Query {
            kind: None,
            rule: None,
            min_priority: None,
            source: None,
            hostname: None,
            since_ns: None,
            until_ns: None,
            text: String::new(),
            before_id: None,
            limit: 100,
        }
    }
}

impl Query {
    /// The `WHERE` clause (starting with ` WHERE`, or empty) and its parameters.
    pub(crate) fn where_clause(&self, dialect: Dialect) -> (String, Vec<Val>) {
        let mut conds: Vec<String> = Vec::new();
        let mut params: Vec<Val> = Vec::new();
        let mut push = |cond: &str, v: Val, conds: &mut Vec<String>| {
            params.push(v);
            conds.push(cond.replace('?', &format!("${}", params.len())));
        };
        if let Some(k) = self.kind {
            push("kind = ?", k.as_str().into(), &mut conds);
        }
        if let Some(r) = &self.rule {
            push("rule = ?", r.as_str().into(), &mut conds);
        }
        if let Some(p) = self.min_priority {
            // `+priority`: not an index range. Lists are ordered by last seen, and walking that
            // index while filtering beats sorting half the store by severity first.
            push("+priority <= ?", priority_rank(p).into(), &mut conds);
        }
        if let Some(s) = &self.source {
            push("source = ?", s.as_str().into(), &mut conds);
        }
        if let Some(h) = &self.hostname {
            push("hostname = ?", h.as_str().into(), &mut conds);
        }
        if let Some(t) = self.since_ns {
            push("last_ns >= ?", t.into(), &mut conds);
        }
        if let Some(t) = self.until_ns {
            push("last_ns < ?", t.into(), &mut conds);
        }
        if let Some(id) = self.before_id {
            push("id < ?", id.into(), &mut conds);
        }
        let like = match dialect {
            Dialect::Sqlite => "LIKE",
            Dialect::Postgres => "ILIKE",
        };
        for word in self.text.split_whitespace().take(8) {
            let escaped = word
                .replace('\\', "\\\\")
                .replace('%', "\\%")
                .replace('_', "\\_");
            push(
                &format!(
                    "(rule || ' ' || message || ' ' || entity || ' ' || fields) {like} ? ESCAPE '\\'"
                ),
                format!("%{escaped}%").into(),
                &mut conds,
            );
        }
        if conds.is_empty() {
            (String::new(), params)
        } else {
            (format!(" WHERE {}", conds.join(" AND ")), params)
        }
    }
}
