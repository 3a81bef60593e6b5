//! The store: open, ingest with dedup and rate limits, query, retention.

use std::collections::HashMap;
use std::path::Path;

use serde::Serialize;
use serde_json::{Map, Value};

use tripline_event::Priority;

use crate::db::{scalar, Db, Row, Val};
use crate::finding::{priority_from_rank, priority_rank, Kind, NewFinding, StoredFinding};
use crate::limits::RateLimiter;
use crate::outbox::Route;
use crate::query::Query;
use crate::{schema, StoreError};

/// Dedup and rate-limit settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Config {
    /// Identical findings this close together (ns, event time) fold into one; 0 never folds.
    pub dedup_window_ns: i64,
    /// New findings per rule per minute; 0 is no limit.
    pub rate_per_minute: u32,
    /// Findings per rule allowed at once before the rate applies.
    pub burst: u32,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            dedup_window_ns: 60_000_000_000,
            rate_per_minute: 600,
            burst: 100,
        }
    }
}

/// What happened to one ingested finding.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ingest {
    /// Stored as a new row (and queued for the outputs that want it).
    New(i64),
    /// Folded into this existing row (count + 1).
    Folded(i64),
    /// Held back by the rule's rate limit and counted in [`Store::suppressed`].
    Suppressed,
}

/// Retention limits; `None` keeps everything.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Retention {
    /// Delete findings the store last received an occurrence of longer ago than this (ns). By
    /// arrival, not event time: a replay of last year's logs is kept as long as a live alert.
    pub max_age_ns: Option<i64>,
    /// Delete the oldest findings while the store takes more bytes than this.
    pub max_bytes: Option<i64>,
}

/// Findings a rate limit held back, per rule.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Suppressed {
    /// Rule.
    pub rule: String,
    /// How many.
    pub count: i64,
    /// First held back, ns.
    pub first_ns: i64,
    /// Last held back, ns.
    pub last_ns: i64,
}

/// The finding store. One per thread; SQLite's WAL lets several stores on one file read while
/// one writes.
pub struct Store {
    pub(crate) db: Box<dyn Db>,
    cfg: Config,
    limiter: RateLimiter,
    /// Recent fingerprints → (row id, last seen), so a flood folds without a lookup per finding.
    recent: HashMap<String, (i64, i64)>,
    pub(crate) routes: Vec<Route>,
    url: String,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store").field("url", &self.url).finish()
    }
}

const RECENT_MAX: usize = 100_000;

/// Stored rows a batch may fold into: `(id, first_ns, last_ns)` by fingerprint.
type Prefetched = HashMap<String, Vec<(i64, i64, i64)>>;

/// Fingerprints looked up per query when a batch is stored.
const PREFETCH: usize = 128;

const COLUMNS: &str = "id, fingerprint, kind, rule, priority, source, hostname, entity, message, fields, tags, location, first_ns, last_ns, count";

impl Store {
    /// Opens a store: `postgres://...` (or `postgresql://`), `sqlite://PATH`, `:memory:`, or a
    /// file path. Applies pending migrations.
    pub fn open(url: &str) -> Result<Store, StoreError> {
        Store::open_with(url, Config::default())
    }

    /// [`Store::open`] with dedup and rate-limit settings.
    pub fn open_with(url: &str, cfg: Config) -> Result<Store, StoreError> {
        let mut store = Store::connect(url, cfg)?;
        schema::migrate(store.db.as_mut(), schema::CURRENT)?;
        Ok(store)
    }

    /// Opens without migrating (tests build older schemas with it).
    pub fn connect(url: &str, cfg: Config) -> Result<Store, StoreError> {
        let db: Box<dyn Db> = if url.starts_with("postgres://") || url.starts_with("postgresql://")
        {
            Box::new(crate::postgres::Postgres::connect(url)?)
        } else if url == ":memory:" {
            Box::new(crate::sqlite::Sqlite::memory()?)
        } else {
            let path = url.strip_prefix("sqlite://").unwrap_or(url);
            Box::new(crate::sqlite::Sqlite::open(Path::new(path))?)
        };
        Ok(Store {
            db,
            cfg,
            limiter: RateLimiter::new(cfg.rate_per_minute, cfg.burst),
            recent: HashMap::new(),
            routes: Vec::new(),
            url: crate::postgres::redact(url),
        })
    }

    /// The URL it was opened with (password removed).
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The raw connection (migrations, tests).
    pub fn db(&mut self) -> &mut dyn Db {
        self.db.as_mut()
    }

    /// Queues every new finding an output's route accepts for that output.
    pub fn route(&mut self, route: Route) {
        self.routes.push(route);
    }

    /// Stops queueing new findings for any output.
    pub fn routes_clear(&mut self) {
        self.routes.clear();
    }

    /// Stores one finding: folds it into a recent identical one, holds it back under the rule's
    /// rate limit, or stores it and queues it for the outputs.
    pub fn ingest(&mut self, f: &NewFinding) -> Result<Ingest, StoreError> {
        self.db.begin()?;
        match self.ingest_one(f, f.fingerprint(), None) {
            Ok(r) => {
                self.db.commit()?;
                Ok(r)
            }
            Err(e) => {
                let _ = self.db.rollback();
                self.recent.clear();
                Err(e)
            }
        }
    }

    /// Stores many findings in one transaction (floods, replays): all or none. The rows a
    /// batch could fold into are looked up with one query per [`PREFETCH`] fingerprints
    /// instead of one per finding.
    pub fn ingest_batch(&mut self, fs: &[NewFinding]) -> Result<Vec<Ingest>, StoreError> {
        self.ingest_batch_at(fs, &[])
    }

    /// Like [`Store::ingest_batch`], and saves where live sources are (`(source, position)`)
    /// in the same transaction: after a crash, a source resumes exactly after the last
    /// records whose findings were stored, so none is stored twice or lost.
    ///
    /// ```
    /// let mut store = tripline_store::Store::open(":memory:").unwrap();
    /// store.ingest_batch_at(&[], &[("k8s-audit=file:///a.log".into(), "120".into())]).unwrap();
    /// assert_eq!(store.checkpoint("k8s-audit=file:///a.log").unwrap().as_deref(), Some("120"));
    /// ```
    pub fn ingest_batch_at(
        &mut self,
        fs: &[NewFinding],
        checkpoints: &[(String, String)],
    ) -> Result<Vec<Ingest>, StoreError> {
        self.db.begin()?;
        let result = (|| {
            let fingerprints: Vec<String> = fs.iter().map(NewFinding::fingerprint).collect();
            // PostgreSQL plans the IN-list over a table whose statistics lag behind a flood as
            // a scan (measured: 3x slower than one indexed lookup per finding), so it keeps the
            // per-finding lookup.
            let known = match self.db.dialect() {
                crate::db::Dialect::Sqlite => Some(self.prefetch(fs, &fingerprints)?),
                crate::db::Dialect::Postgres => None,
            };
            let mut out = Vec::with_capacity(fs.len());
            for (f, fp) in fs.iter().zip(fingerprints) {
                out.push(self.ingest_one(f, fp, known.as_ref())?);
            }
            for (source, position) in checkpoints {
                self.db.exec(
                    "INSERT INTO checkpoints (source, position, updated_ns) VALUES ($1, $2, $3)
                     ON CONFLICT (source) DO UPDATE SET position = $2, updated_ns = $3",
                    &[
                        source.as_str().into(),
                        position.as_str().into(),
                        crate::now_ns().into(),
                    ],
                )?;
            }
            Ok(out)
        })();
        match result {
            Ok(out) => {
                self.db.commit()?;
                Ok(out)
            }
            Err(e) => {
                let _ = self.db.rollback();
                self.recent.clear();
                Err(e)
            }
        }
    }

    /// Stored rows that findings of `fs` not in the recent cache could fold into: every row
    /// of their fingerprints whose window overlaps the batch's times, by fingerprint.
    fn prefetch(
        &mut self,
        fs: &[NewFinding],
        fingerprints: &[String],
    ) -> Result<Prefetched, StoreError> {
        let mut known = Prefetched::new();
        let window = self.cfg.dedup_window_ns;
        if window <= 0 || fs.is_empty() {
            return Ok(known);
        }
        let mut wanted: Vec<&str> = fingerprints
            .iter()
            .filter(|fp| !self.recent.contains_key(*fp))
            .map(String::as_str)
            .collect();
        wanted.sort_unstable();
        wanted.dedup();
        let lo = fs.iter().map(|f| f.time_ns).min().unwrap_or(0) - window;
        let hi = fs.iter().map(|f| f.time_ns).max().unwrap_or(0) + window;
        // One statement shape (a fixed number of parameters, the last repeated), so it is
        // prepared once.
        // Only the fingerprint is in the query, so the planner takes the fingerprint index
        // (with a time range, PostgreSQL's generic plan scanned by time); times filter here.
        let marks: Vec<String> = (1..=PREFETCH).map(|i| format!("${i}")).collect();
        let sql = format!(
            "SELECT id, fingerprint, first_ns, last_ns FROM findings WHERE fingerprint IN ({})",
            marks.join(", ")
        );
        for chunk in wanted.chunks(PREFETCH) {
            let params: Vec<Val> = (0..PREFETCH)
                .map(|i| chunk[i.min(chunk.len() - 1)].into())
                .collect();
            for row in self.db.query(&sql, &params)? {
                let (first, last) = (row[2].int(), row[3].int());
                if last >= lo && first <= hi {
                    known.entry(row[1].text().to_string()).or_default().push((
                        row[0].int(),
                        first,
                        last,
                    ));
                }
            }
        }
        Ok(known)
    }

    /// Stores one finding inside the caller's transaction. `known` holds what
    /// [`Store::prefetch`] found for the batch; without it, the store is asked.
    fn ingest_one(
        &mut self,
        f: &NewFinding,
        fp: String,
        known: Option<&Prefetched>,
    ) -> Result<Ingest, StoreError> {
        let window = self.cfg.dedup_window_ns;
        if window > 0 {
            let cached = self
                .recent
                .get(&fp)
                .filter(|(_, last)| (f.time_ns - last).abs() <= window)
                .map(|(id, _)| *id);
            // Not in the cache (another agent, a restart, an out-of-order event): ask the store
            // for a row whose window covers this time.
            let in_window = |&&(_, first, last): &&(i64, i64, i64)| {
                last >= f.time_ns - window && first <= f.time_ns + window
            };
            let hit = match (cached, known) {
                (Some(id), _) => Some(id),
                (None, Some(known)) => known
                    .get(&fp)
                    .and_then(|rows| rows.iter().filter(in_window).map(|r| r.0).max()),
                (None, None) => self
                    .db
                    .query(
                        "SELECT id FROM findings WHERE fingerprint = $1 AND last_ns >= $2 AND first_ns <= $3 ORDER BY id DESC LIMIT 1",
                        &[
                            fp.as_str().into(),
                            (f.time_ns - window).into(),
                            (f.time_ns + window).into(),
                        ],
                    )?
                    .first()
                    .map(|r| r[0].int()),
            };
            if let Some(id) = hit {
                let n = self.db.exec(
                    "UPDATE findings SET count = count + 1, last_ns = CASE WHEN last_ns < $1 THEN $1 ELSE last_ns END, first_ns = CASE WHEN first_ns > $1 THEN $1 ELSE first_ns END, stored_ns = $3 WHERE id = $2",
                    &[f.time_ns.into(), id.into(), crate::now_ns().into()],
                )?;
                if n == 1 {
                    match self.recent.get_mut(&fp) {
                        Some((cid, last)) if *cid == id => *last = (*last).max(f.time_ns),
                        Some(_) => {}
                        None => self.remember(fp, id, f.time_ns),
                    }
                    return Ok(Ingest::Folded(id));
                }
            }
        }
        if !self.limiter.allow(&f.rule, f.time_ns) {
            self.db.exec(
                "INSERT INTO suppressed (rule, count, first_ns, last_ns) VALUES ($1, 1, $2, $2)
                 ON CONFLICT (rule) DO UPDATE SET count = suppressed.count + 1, last_ns = $2",
                &[f.rule.as_str().into(), f.time_ns.into()],
            )?;
            return Ok(Ingest::Suppressed);
        }
        let fields = Value::Object(f.fields.clone()).to_string();
        let tags = serde_json::to_string(&f.tags).unwrap_or_else(|_| "[]".into());
        let id = scalar(
            self.db.as_mut(),
            "INSERT INTO findings (fingerprint, kind, rule, priority, source, hostname, entity, message, fields, tags, location, first_ns, last_ns, count, stored_ns)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $12, 1, $13) RETURNING id",
            &[
                fp.as_str().into(),
                f.kind.as_str().into(),
                f.rule.as_str().into(),
                priority_rank(f.priority).into(),
                f.source.as_str().into(),
                f.hostname.as_str().into(),
                f.entity.as_str().into(),
                f.message.as_str().into(),
                fields.into(),
                tags.into(),
                f.location.clone().into(),
                f.time_ns.into(),
                crate::now_ns().into(),
            ],
        )?;
        let outputs: Vec<String> = self
            .routes
            .iter()
            .filter(|r| r.accepts(f))
            .map(|r| r.output.clone())
            .collect();
        for output in outputs {
            self.db.exec(
                "INSERT INTO outbox (finding_id, output, next_ns) VALUES ($1, $2, 0)",
                &[id.into(), output.into()],
            )?;
        }
        self.remember(fp, id, f.time_ns);
        Ok(Ingest::New(id))
    }

    fn remember(&mut self, fp: String, id: i64, last: i64) {
        if self.recent.len() >= RECENT_MAX {
            self.recent.clear();
        }
        self.recent.insert(fp, (id, last));
    }

    /// Where a live source stopped: the position saved with its last stored findings.
    pub fn checkpoint(&mut self, source: &str) -> Result<Option<String>, StoreError> {
        let rows = self.db.query(
            "SELECT position FROM checkpoints WHERE source = $1",
            &[source.into()],
        )?;
        Ok(rows.into_iter().next().and_then(|r| r[0].opt_text()))
    }

    /// Forgets checkpoints whose key starts with `prefix` saved before `before_ns` (the done
    /// marks of queue messages that cannot come back any more); returns how many.
    pub fn forget_checkpoints(&mut self, prefix: &str, before_ns: i64) -> Result<u64, StoreError> {
        // LIKE would treat `_` and `%` in the prefix as wildcards: compare the prefix itself.
        self.db.exec(
            "DELETE FROM checkpoints WHERE substr(source, 1, length($1)) = $1 AND updated_ns < $2",
            &[prefix.into(), before_ns.into()],
        )
    }

    /// Counts `n` findings of `rule` as held back without being stored (a full findings queue),
    /// beside those the rate limit held back, so the UI and `/metrics` show them.
    pub fn count_held_back(&mut self, rule: &str, n: u64, time_ns: i64) -> Result<(), StoreError> {
        let n = i64::try_from(n).unwrap_or(i64::MAX);
        self.db.exec(
            "INSERT INTO suppressed (rule, count, first_ns, last_ns) VALUES ($1, $3, $2, $2)
             ON CONFLICT (rule) DO UPDATE SET count = suppressed.count + $3, last_ns = $2",
            &[rule.into(), time_ns.into(), n.into()],
        )?;
        Ok(())
    }

    /// Findings matching `q`, newest first.
    pub fn query(&mut self, q: &Query) -> Result<Vec<StoredFinding>, StoreError> {
        let (cond, mut params) = q.where_clause(self.db.dialect());
        params.push(q.limit.clamp(1, 10_000).into());
        let sql = format!(
            "SELECT {COLUMNS} FROM findings{cond} ORDER BY last_ns DESC, id DESC LIMIT ${}",
            params.len()
        );
        self.db
            .query(&sql, &params)?
            .iter()
            .map(row_finding)
            .collect()
    }

    /// Findings matching `q` with ids above `after_id`, in id order (exports, the gate).
    pub fn scan(
        &mut self,
        q: &Query,
        after_id: i64,
        limit: i64,
    ) -> Result<Vec<StoredFinding>, StoreError> {
        let (cond, mut params) = q.where_clause(self.db.dialect());
        params.push(after_id.into());
        let after = params.len();
        params.push(limit.clamp(1, 100_000).into());
        let glue = if cond.is_empty() { " WHERE" } else { " AND" };
        let sql = format!(
            "SELECT {COLUMNS} FROM findings{cond}{glue} id > ${after} ORDER BY id LIMIT ${}",
            params.len()
        );
        self.db
            .query(&sql, &params)?
            .iter()
            .map(row_finding)
            .collect()
    }

    /// How many findings match `q` (ignoring its page), and their summed occurrences.
    pub fn count(&mut self, q: &Query) -> Result<(i64, i64), StoreError> {
        let (cond, params) = q.where_clause(self.db.dialect());
        let sql =
            format!("SELECT COUNT(*), CAST(COALESCE(SUM(count), 0) AS BIGINT) FROM findings{cond}");
        let rows = self.db.query(&sql, &params)?;
        Ok(rows.first().map_or((0, 0), |r| (r[0].int(), r[1].int())))
    }

    /// How many findings match `q`, counting no further than `cap` (lists show "10000+"
    /// instead of scanning a million rows per page view).
    pub fn count_capped(&mut self, q: &Query, cap: i64) -> Result<i64, StoreError> {
        let (cond, mut params) = q.where_clause(self.db.dialect());
        params.push(cap.max(1).into());
        let sql = format!(
            "SELECT COUNT(*) FROM (SELECT 1 FROM findings{cond} LIMIT ${}) AS capped",
            params.len()
        );
        scalar(self.db.as_mut(), &sql, &params)
    }

    /// Count of matching findings per rule, most first (for summaries and the gate).
    pub fn count_by_rule(&mut self, q: &Query) -> Result<Vec<(String, i64)>, StoreError> {
        let (cond, params) = q.where_clause(self.db.dialect());
        let sql = format!(
            "SELECT rule, CAST(SUM(count) AS BIGINT) AS n FROM findings{cond} GROUP BY rule ORDER BY n DESC, rule"
        );
        Ok(self
            .db
            .query(&sql, &params)?
            .into_iter()
            .map(|r| (r[0].text().to_string(), r[1].int()))
            .collect())
    }

    /// Occurrences of matching findings per time bucket (by last seen), oldest first.
    pub fn histogram(&mut self, q: &Query, bucket_ns: i64) -> Result<Vec<(i64, i64)>, StoreError> {
        let (cond, mut params) = q.where_clause(self.db.dialect());
        params.push(bucket_ns.max(1).into());
        let sql = format!(
            "SELECT last_ns / ${n} AS b, CAST(SUM(count) AS BIGINT) FROM findings{cond} GROUP BY last_ns / ${n} ORDER BY b",
            n = params.len()
        );
        Ok(self
            .db
            .query(&sql, &params)?
            .into_iter()
            .map(|r| (r[0].int() * bucket_ns.max(1), r[1].int()))
            .collect())
    }

    /// Occurrences per (priority, kind), for metrics.
    pub fn occurrences_by_level(&mut self) -> Result<Vec<(Priority, Kind, i64)>, StoreError> {
        Ok(self
            .db
            .query(
                "SELECT priority, kind, CAST(SUM(count) AS BIGINT) FROM findings GROUP BY priority, kind ORDER BY priority, kind",
                &[],
            )?
            .into_iter()
            .filter_map(|r| {
                Some((priority_from_rank(r[0].int()), Kind::parse(r[1].text())?, r[2].int()))
            })
            .collect())
    }

    /// One finding by id.
    pub fn get(&mut self, id: i64) -> Result<Option<StoredFinding>, StoreError> {
        let sql = format!("SELECT {COLUMNS} FROM findings WHERE id = $1");
        match self.db.query(&sql, &[id.into()])?.first() {
            Some(r) => Ok(Some(row_finding(r)?)),
            None => Ok(None),
        }
    }

    /// Findings held back by rate limits, per rule.
    pub fn suppressed(&mut self) -> Result<Vec<Suppressed>, StoreError> {
        Ok(self
            .db
            .query(
                "SELECT rule, count, first_ns, last_ns FROM suppressed ORDER BY count DESC, rule",
                &[],
            )?
            .into_iter()
            .map(|r| Suppressed {
                rule: r[0].text().to_string(),
                count: r[1].int(),
                first_ns: r[2].int(),
                last_ns: r[3].int(),
            })
            .collect())
    }

    /// Deletes findings past the retention limits; returns how many. A finding still waiting in
    /// the outbox is kept: retention never loses an undelivered alert.
    pub fn retain(&mut self, r: &Retention, now_ns: i64) -> Result<u64, StoreError> {
        const DELIVERED: &str = "NOT EXISTS (SELECT 1 FROM outbox o WHERE o.finding_id = findings.id AND o.delivered_ns IS NULL)";
        let mut removed = 0;
        if let Some(age) = r.max_age_ns {
            removed += self.db.exec(
                &format!("DELETE FROM findings WHERE stored_ns < $1 AND {DELIVERED}"),
                &[(now_ns - age).into()],
            )?;
        }
        if let Some(max) = r.max_bytes {
            // Oldest first, a tenth of the rows at a time, until under the limit.
            while self.db.used_bytes()? > max {
                let total = scalar(self.db.as_mut(), "SELECT COUNT(*) FROM findings", &[])?;
                if total == 0 {
                    break;
                }
                let batch = (total / 10).max(1);
                let n = self.db.exec(
                    &format!("DELETE FROM findings WHERE id IN (SELECT id FROM findings WHERE {DELIVERED} ORDER BY stored_ns, id LIMIT $1)"),
                    &[batch.into()],
                )?;
                if n == 0 {
                    break;
                }
                removed += n;
                self.db.batch(match self.db.dialect() {
                    crate::db::Dialect::Sqlite => "PRAGMA wal_checkpoint(TRUNCATE)",
                    crate::db::Dialect::Postgres => "SELECT 1",
                })?;
            }
        }
        if removed > 0 {
            self.recent.clear();
        }
        Ok(removed)
    }
}

pub(crate) fn row_finding(r: &Row) -> Result<StoredFinding, StoreError> {
    let fields: Map<String, Value> =
        serde_json::from_str(r[9].text()).map_err(|e| StoreError::Corrupt {
            what: "findings.fields",
            reason: e.to_string(),
        })?;
    let tags: Vec<String> =
        serde_json::from_str(r[10].text()).map_err(|e| StoreError::Corrupt {
            what: "findings.tags",
            reason: e.to_string(),
        })?;
    Ok(StoredFinding {
        id: r[0].int(),
        fingerprint: r[1].text().to_string(),
        kind: Kind::parse(r[2].text()).ok_or_else(|| StoreError::Corrupt {
            what: "findings.kind",
            reason: format!("unknown kind '{}'", r[2].text()),
        })?,
        rule: r[3].text().to_string(),
        priority: priority_from_rank(r[4].int()),
        source: r[5].text().to_string(),
        hostname: r[6].text().to_string(),
        entity: r[7].text().to_string(),
        message: r[8].text().to_string(),
        fields,
        tags,
        location: r[11].opt_text(),
        first_ns: r[12].int(),
        last_ns: r[13].int(),
        count: r[14].int(),
    })
}
