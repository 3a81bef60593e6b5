//! What each entity normally does, learned as a stream, persisted in SQLite.

use std::path::Path;

use rusqlite::{params, Connection, OpenFlags};
use rustc_hash::FxHashMap;
use serde::Serialize;

use crate::features::{peer_chain, Feature, Observation};

/// Version of the on-disk format.
pub const FORMAT_VERSION: i64 = 1;
const TEN_MINUTES: u64 = 600_000_000_000;

/// One entity's history.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct EntityState {
    /// Peer group.
    pub peer_group: String,
    /// First and last event, ns since the epoch.
    pub first_ns: u64,
    /// Last event.
    pub last_ns: u64,
    /// Events learned.
    pub events: u64,
    /// Of which refused.
    pub denied: u64,
    /// Times each feature value was seen.
    #[serde(skip)]
    pub values: FxHashMap<(Feature, String), u64>,
    /// Events per hour of the day (UTC).
    pub hourly: [u64; 24],
}

/// A peer group: how many entities it has and how many of them have seen each value. An
/// entity counts in its group and in every group that contains it ([`peer_chain`]).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PeerState {
    /// Member entities.
    pub members: u64,
    /// Members that have seen each value.
    pub having: FxHashMap<(Feature, String), u64>,
}

/// The learned baseline.
///
/// ```
/// use tripline_anomaly::{Baseline, features::from_cloudtrail};
/// let rec = serde_json::json!({"eventSource": "s3.amazonaws.com", "eventName": "GetObject",
///     "userIdentity": {"type": "IAMUser", "arn": "arn:aws:iam::1:user/bob"}});
/// let mut b = Baseline::default();
/// b.learn(&from_cloudtrail(&rec, 1_700_000_000_000_000_000).unwrap());
/// assert_eq!(b.entities["arn:aws:iam::1:user/bob"].events, 1);
/// assert_eq!(b.peers["aws:IAMUser"].members, 1);
/// ```
#[derive(Debug, Clone, Default)]
pub struct Baseline {
    /// Entities by name.
    pub entities: FxHashMap<String, EntityState>,
    /// Peer groups by name.
    pub peers: FxHashMap<String, PeerState>,
    /// First and last event learned.
    pub window: Option<(u64, u64)>,
    /// Events learned.
    pub events: u64,
}

/// A baseline file that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum BaselineError {
    /// Not readable as a baseline.
    #[error("{file}: not a Tripline baseline ({why})")]
    NotBaseline {
        /// File.
        file: String,
        /// Why.
        why: String,
    },
    /// Written by a newer Tripline.
    #[error("{file}: baseline format {found} is newer than this Tripline understands ({FORMAT_VERSION}); upgrade Tripline")]
    TooNew {
        /// File.
        file: String,
        /// Version found.
        found: i64,
    },
    /// Damaged.
    #[error("{file}: corrupt baseline: {why}")]
    Corrupt {
        /// File.
        file: String,
        /// Why.
        why: String,
    },
    /// Could not be written.
    #[error("{file}: cannot write the baseline: {why}")]
    Write {
        /// File.
        file: String,
        /// Why.
        why: String,
    },
}

impl Baseline {
    /// Learns one observation.
    pub fn learn(&mut self, o: &Observation) {
        self.events += 1;
        self.window = Some(match self.window {
            None => (o.time_ns, o.time_ns),
            Some((a, b)) => (a.min(o.time_ns), b.max(o.time_ns)),
        });
        let e = match self.entities.get_mut(&o.entity) {
            Some(e) => e,
            None => {
                for g in peer_chain(&o.peer_group) {
                    self.peers.entry(g.to_string()).or_default().members += 1;
                }
                self.entities
                    .entry(o.entity.clone())
                    .or_insert_with(|| EntityState {
                        peer_group: o.peer_group.clone(),
                        first_ns: o.time_ns,
                        ..EntityState::default()
                    })
            }
        };
        e.events += 1;
        e.denied += o.denied as u64;
        e.first_ns = e.first_ns.min(o.time_ns);
        e.last_ns = e.last_ns.max(o.time_ns);
        e.hourly[(o.time_ns / 3_600_000_000_000 % 24) as usize] += 1;
        for (f, v) in &o.features {
            if let Some(n) = e.values.get_mut(&(*f, v.clone())) {
                *n += 1;
            } else {
                e.values.insert((*f, v.clone()), 1);
                for g in peer_chain(&e.peer_group) {
                    let peer = self.peers.entry(g.to_string()).or_default();
                    *peer.having.entry((*f, v.clone())).or_default() += 1;
                }
            }
        }
    }

    /// Ten-minute windows the training period spans, per hour of the day: how long each hour
    /// was watched, for expected volumes.
    pub fn exposure(&self) -> [u64; 24] {
        let mut out = [0u64; 24];
        if let Some((a, b)) = self.window {
            let mut t = a - a % TEN_MINUTES;
            // Cap the walk (one year of windows) so a bad clock cannot make it long.
            let mut steps = 0;
            while t <= b && steps < 52_560 {
                out[(t / 3_600_000_000_000 % 24) as usize] += 1;
                t += TEN_MINUTES;
                steps += 1;
            }
        }
        out
    }

    /// Days the baseline covers (at least one).
    pub fn days(&self) -> f64 {
        self.window.map_or(0.0, |(a, b)| (b - a) as f64 / 86_400e9)
    }

    /// Writes the baseline to a SQLite file (replaced atomically).
    pub fn save(&self, path: &Path) -> Result<(), BaselineError> {
        let file = path.display().to_string();
        let werr = |e: rusqlite::Error| BaselineError::Write {
            file: file.clone(),
            why: e.to_string(),
        };
        let tmp = path.with_extension("tmp-write");
        let _ = std::fs::remove_file(&tmp);
        let mut db = Connection::open(&tmp).map_err(werr)?;
        db.execute_batch(
            "PRAGMA journal_mode=OFF; PRAGMA synchronous=OFF;
             CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
             CREATE TABLE entities (id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE, peer_group TEXT NOT NULL,
               first_ns INTEGER NOT NULL, last_ns INTEGER NOT NULL, events INTEGER NOT NULL, denied INTEGER NOT NULL,
               hourly TEXT NOT NULL);
             CREATE TABLE feature_values (entity INTEGER NOT NULL REFERENCES entities(id), feature TEXT NOT NULL,
               value TEXT NOT NULL, count INTEGER NOT NULL, PRIMARY KEY (entity, feature, value));",
        )
        .map_err(werr)?;
        let tx = db.transaction().map_err(werr)?;
        {
            let (a, b) = self.window.unwrap_or((0, 0));
            let mut meta = tx
                .prepare("INSERT INTO meta VALUES (?1, ?2)")
                .map_err(werr)?;
            for (k, v) in [
                ("format", "tripline-baseline".to_string()),
                ("version", FORMAT_VERSION.to_string()),
                ("window_start_ns", a.to_string()),
                ("window_end_ns", b.to_string()),
                ("events", self.events.to_string()),
            ] {
                meta.execute(params![k, v]).map_err(werr)?;
            }
            let mut ent = tx
                .prepare("INSERT INTO entities VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)")
                .map_err(werr)?;
            let mut val = tx
                .prepare("INSERT INTO feature_values VALUES (?1, ?2, ?3, ?4)")
                .map_err(werr)?;
            let mut names: Vec<&String> = self.entities.keys().collect();
            names.sort();
            for (id, name) in names.into_iter().enumerate() {
                let e = &self.entities[name];
                let hourly = serde_json::to_string(&e.hourly).unwrap_or_default();
                ent.execute(params![
                    id as i64,
                    name,
                    e.peer_group,
                    e.first_ns as i64,
                    e.last_ns as i64,
                    e.events as i64,
                    e.denied as i64,
                    hourly
                ])
                .map_err(werr)?;
                for ((f, v), n) in &e.values {
                    val.execute(params![id as i64, f.as_str(), v, *n as i64])
                        .map_err(werr)?;
                }
            }
        }
        tx.commit().map_err(werr)?;
        drop(db);
        std::fs::rename(&tmp, path).map_err(|e| BaselineError::Write {
            file: file.clone(),
            why: e.to_string(),
        })
    }

    /// Reads a baseline file. A file that is not one, is damaged or is newer is a clear error.
    pub fn load(path: &Path) -> Result<Baseline, BaselineError> {
        let file = path.display().to_string();
        if !path.is_file() {
            return Err(BaselineError::NotBaseline {
                file,
                why: "no such file".into(),
            });
        }
        let db =
            Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_ONLY).map_err(|e| {
                BaselineError::NotBaseline {
                    file: file.clone(),
                    why: e.to_string(),
                }
            })?;
        let meta = |k: &str| -> Result<String, BaselineError> {
            db.query_row("SELECT value FROM meta WHERE key = ?1", [k], |r| {
                r.get::<_, String>(0)
            })
            .map_err(|e| match e {
                rusqlite::Error::SqliteFailure(f, _)
                    if f.code == rusqlite::ErrorCode::NotADatabase =>
                {
                    BaselineError::NotBaseline {
                        file: file.clone(),
                        why: "file is not a database".into(),
                    }
                }
                rusqlite::Error::SqliteFailure(f, _)
                    if f.code == rusqlite::ErrorCode::DatabaseCorrupt =>
                {
                    BaselineError::Corrupt {
                        file: file.clone(),
                        why: e.to_string(),
                    }
                }
                _ => BaselineError::NotBaseline {
                    file: file.clone(),
                    why: format!("no meta {k}: {e}"),
                },
            })
        };
        if meta("format")? != "tripline-baseline" {
            return Err(BaselineError::NotBaseline {
                file,
                why: "meta format is not tripline-baseline".into(),
            });
        }
        let version: i64 = meta("version")?.parse().unwrap_or(0);
        if version > FORMAT_VERSION {
            return Err(BaselineError::TooNew {
                file,
                found: version,
            });
        }
        let num = |k: &str| -> Result<u64, BaselineError> {
            meta(k)?.parse().map_err(|_| BaselineError::Corrupt {
                file: file.clone(),
                why: format!("meta {k} is not a number"),
            })
        };
        let corrupt = |e: rusqlite::Error| BaselineError::Corrupt {
            file: file.clone(),
            why: e.to_string(),
        };
        let mut b = Baseline {
            events: num("events")?,
            window: Some((num("window_start_ns")?, num("window_end_ns")?)),
            ..Baseline::default()
        };
        let mut by_id: FxHashMap<i64, String> = FxHashMap::default();
        let mut stmt = db
            .prepare("SELECT id, name, peer_group, first_ns, last_ns, events, denied, hourly FROM entities")
            .map_err(corrupt)?;
        let rows = stmt
            .query_map([], |r| {
                Ok((
                    r.get::<_, i64>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, String>(2)?,
                    r.get::<_, i64>(3)?,
                    r.get::<_, i64>(4)?,
                    r.get::<_, i64>(5)?,
                    r.get::<_, i64>(6)?,
                    r.get::<_, String>(7)?,
                ))
            })
            .map_err(corrupt)?;
        for row in rows {
            let (id, name, peer_group, first, last, events, denied, hourly) =
                row.map_err(corrupt)?;
            let hourly: [u64; 24] =
                serde_json::from_str(&hourly).map_err(|e| BaselineError::Corrupt {
                    file: file.clone(),
                    why: format!("entity {name}: hourly counts: {e}"),
                })?;
            for g in peer_chain(&peer_group) {
                b.peers.entry(g.to_string()).or_default().members += 1;
            }
            by_id.insert(id, name.clone());
            b.entities.insert(
                name,
                EntityState {
                    peer_group,
                    first_ns: first as u64,
                    last_ns: last as u64,
                    events: events as u64,
                    denied: denied as u64,
                    values: FxHashMap::default(),
                    hourly,
                },
            );
        }
        let mut stmt = db
            .prepare("SELECT entity, feature, value, count FROM feature_values")
            .map_err(corrupt)?;
        let rows = stmt
            .query_map([], |r| {
                Ok((
                    r.get::<_, i64>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, String>(2)?,
                    r.get::<_, i64>(3)?,
                ))
            })
            .map_err(corrupt)?;
        for row in rows {
            let (id, feature, value, count) = row.map_err(corrupt)?;
            let f = Feature::parse(&feature).ok_or_else(|| BaselineError::Corrupt {
                file: file.clone(),
                why: format!("unknown feature '{feature}'"),
            })?;
            let name = by_id.get(&id).ok_or_else(|| BaselineError::Corrupt {
                file: file.clone(),
                why: format!("feature value of unknown entity {id}"),
            })?;
            let e = b
                .entities
                .get_mut(name)
                .expect("entity ids map to entities");
            e.values.insert((f, value.clone()), count as u64);
            for g in peer_chain(&e.peer_group) {
                *b.peers
                    .entry(g.to_string())
                    .or_default()
                    .having
                    .entry((f, value.clone()))
                    .or_default() += 1;
            }
        }
        Ok(b)
    }

    /// The baseline as YAML for review: per entity, what it was seen doing.
    pub fn to_yaml(&self) -> String {
        let mut names: Vec<&String> = self.entities.keys().collect();
        names.sort();
        let entities: Vec<serde_json::Value> = names
            .iter()
            .map(|n| {
                let e = &self.entities[*n];
                let mut by_feature: std::collections::BTreeMap<
                    &str,
                    std::collections::BTreeMap<&str, u64>,
                > = Default::default();
                for ((f, v), c) in &e.values {
                    by_feature.entry(f.as_str()).or_default().insert(v, *c);
                }
                serde_json::json!({"entity": n, "peer_group": e.peer_group, "events": e.events,
                                   "denied": e.denied, "seen": by_feature})
            })
            .collect();
        let doc = serde_json::json!({
            "apiVersion": "tripline.dev/v1",
            "kind": "Baseline",
            "window": self.window.map(|(a, b)| [a, b]),
            "events": self.events,
            "entities": entities,
        });
        serde_yaml::to_string(&doc).unwrap_or_default()
    }
}
