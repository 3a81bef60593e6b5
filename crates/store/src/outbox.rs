//! The outbox: a row per (finding, output), written in the transaction that stores the finding
//! and marked delivered only after the output accepted it. A crash between the two delivers
//! again on restart: at least once, never lost.

use serde::Serialize;
use tripline_event::Priority;

use crate::finding::NewFinding;
use crate::store::row_finding;
use crate::{StoreError, StoredFinding};

/// Which new findings an output wants.
///
/// ```
/// use tripline_store::outbox::Route;
/// use tripline_store::NewFinding;
/// use tripline_event::Priority;
/// let r = Route { output: "slack".into(), min_priority: Priority::Error, rules: vec!["Terminal*".into()] };
/// let f = NewFinding::new("Terminal shell in container", Priority::Critical, "syscall", "m");
/// assert!(r.accepts(&f));
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct Route {
    /// Output name.
    pub output: String,
    /// At least this severe.
    pub min_priority: Priority,
    /// Rule names or `*` wildcards; empty takes every rule.
    pub rules: Vec<String>,
}

impl Route {
    /// Whether this output wants `f`.
    pub fn accepts(&self, f: &NewFinding) -> bool {
        f.priority >= self.min_priority
            && (self.rules.is_empty() || self.rules.iter().any(|p| wildcard(p, &f.rule)))
    }
}

/// `*` matches any run of characters (case-insensitive, as Falco's rule selection).
pub fn wildcard(pattern: &str, name: &str) -> bool {
    let p = pattern.to_lowercase();
    let n = name.to_lowercase();
    let parts: Vec<&str> = p.split('*').collect();
    if parts.len() == 1 {
        return p == n;
    }
    let mut rest = n.as_str();
    for (i, part) in parts.iter().enumerate() {
        if i == 0 {
            match rest.strip_prefix(part) {
                Some(r) => rest = r,
                None => return false,
            }
        } else if i == parts.len() - 1 {
            return rest.ends_with(part);
        } else {
            match rest.find(part) {
                Some(at) => rest = &rest[at + part.len()..],
                None => return false,
            }
        }
    }
    true
}

/// A queued delivery.
#[derive(Debug, Clone, PartialEq)]
pub struct Pending {
    /// Outbox row id.
    pub id: i64,
    /// Attempts so far.
    pub attempts: i64,
    /// The finding to deliver.
    pub finding: StoredFinding,
}

/// One output's delivery state.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Health {
    /// Output name.
    pub output: String,
    /// Waiting for delivery.
    pub pending: i64,
    /// Delivered.
    pub delivered: i64,
    /// Failed attempts so far on rows still pending.
    pub retrying: i64,
    /// The latest error, if the oldest pending row has one.
    pub last_error: Option<String>,
}

impl crate::Store {
    /// Up to `limit` deliveries due for `output` at `now_ns`, oldest first.
    pub fn outbox_due(
        &mut self,
        output: &str,
        now_ns: i64,
        limit: i64,
    ) -> Result<Vec<Pending>, StoreError> {
        let rows = self.db.query(
            "SELECT o.id, o.attempts, f.id, f.fingerprint, f.kind, f.rule, f.priority, f.source, f.hostname, f.entity, f.message, f.fields, f.tags, f.location, f.first_ns, f.last_ns, f.count
             FROM outbox o JOIN findings f ON f.id = o.finding_id
             WHERE o.output = $1 AND o.delivered_ns IS NULL AND o.next_ns <= $2
             ORDER BY o.id LIMIT $3",
            &[output.into(), now_ns.into(), limit.into()],
        )?;
        rows.into_iter()
            .map(|r| {
                Ok(Pending {
                    id: r[0].int(),
                    attempts: r[1].int(),
                    finding: row_finding(&r[2..].to_vec())?,
                })
            })
            .collect()
    }

    /// Marks deliveries done.
    pub fn outbox_delivered(&mut self, ids: &[i64], now_ns: i64) -> Result<(), StoreError> {
        self.db.begin()?;
        for id in ids {
            if let Err(e) = self.db.exec(
                "UPDATE outbox SET delivered_ns = $1, last_error = NULL WHERE id = $2",
                &[now_ns.into(), (*id).into()],
            ) {
                let _ = self.db.rollback();
                return Err(e);
            }
        }
        self.db.commit()
    }

    /// Records a failed attempt; the row is due again at `retry_ns`.
    pub fn outbox_failed(&mut self, id: i64, error: &str, retry_ns: i64) -> Result<(), StoreError> {
        self.db.exec(
            "UPDATE outbox SET attempts = attempts + 1, next_ns = $1, last_error = $2 WHERE id = $3",
            &[retry_ns.into(), error.into(), id.into()],
        )?;
        Ok(())
    }

    /// Delivery state of every output that has rows.
    pub fn outbox_health(&mut self) -> Result<Vec<Health>, StoreError> {
        let rows = self.db.query(
            "SELECT output,
                    CAST(SUM(CASE WHEN delivered_ns IS NULL THEN 1 ELSE 0 END) AS BIGINT),
                    CAST(SUM(CASE WHEN delivered_ns IS NULL THEN 0 ELSE 1 END) AS BIGINT),
                    CAST(SUM(CASE WHEN delivered_ns IS NULL THEN attempts ELSE 0 END) AS BIGINT),
                    MAX(CASE WHEN delivered_ns IS NULL THEN last_error END)
             FROM outbox GROUP BY output ORDER BY output",
            &[],
        )?;
        Ok(rows
            .into_iter()
            .map(|r| Health {
                output: r[0].text().to_string(),
                pending: r[1].int(),
                delivered: r[2].int(),
                retrying: r[3].int(),
                last_error: r[4].opt_text(),
            })
            .collect())
    }

    /// Drops delivered outbox rows older than `before_ns` (they only matter for health).
    pub fn outbox_prune(&mut self, before_ns: i64) -> Result<u64, StoreError> {
        self.db.exec(
            "DELETE FROM outbox WHERE delivered_ns IS NOT NULL AND delivered_ns < $1",
            &[before_ns.into()],
        )
    }
}

#[cfg(test)]
mod tests {
    use super::wildcard;

    #[test]
    fn wildcards() {
        assert!(wildcard("Terminal*", "terminal shell in container"));
        assert!(wildcard("*shell*", "Terminal shell in container"));
        assert!(wildcard("*container", "Terminal shell in container"));
        assert!(!wildcard("*host", "Terminal shell in container"));
        assert!(wildcard("exact", "Exact"));
        assert!(!wildcard("exact", "exactly"));
        assert!(wildcard("*", "anything"));
    }
}
