//! Schema migrations, applied in order at open and recorded in `schema_migrations`.
//!
//! A migration is never edited once released: a new column or table is a new migration, so a
//! store written by any older Tripline opens with its findings intact.

use crate::db::{scalar, Db, Dialect};
use crate::StoreError;

/// One step: its version and its DDL per dialect (`{id}` is the auto-increment key column).
struct Migration {
    version: i64,
    sql: &'static str,
}

const MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        sql: "
CREATE TABLE findings (
    id {id},
    fingerprint TEXT NOT NULL,
    kind TEXT NOT NULL,
    rule TEXT NOT NULL,
    priority BIGINT NOT NULL,
    source TEXT NOT NULL,
    hostname TEXT NOT NULL,
    entity TEXT NOT NULL,
    message TEXT NOT NULL,
    fields TEXT NOT NULL,
    tags TEXT NOT NULL,
    location TEXT,
    first_ns BIGINT NOT NULL,
    last_ns BIGINT NOT NULL,
    count BIGINT NOT NULL,
    stored_ns BIGINT NOT NULL
);
CREATE INDEX findings_fingerprint ON findings (fingerprint, id);
CREATE INDEX findings_last ON findings (last_ns, id);
CREATE INDEX findings_rule ON findings (rule, last_ns);
CREATE INDEX findings_priority ON findings (priority, last_ns);
CREATE TABLE outbox (
    id {id},
    finding_id BIGINT NOT NULL REFERENCES findings (id) ON DELETE CASCADE,
    output TEXT NOT NULL,
    attempts BIGINT NOT NULL DEFAULT 0,
    next_ns BIGINT NOT NULL,
    delivered_ns BIGINT,
    last_error TEXT
);
CREATE INDEX outbox_due ON outbox (output, delivered_ns, next_ns);
CREATE INDEX outbox_finding ON outbox (finding_id);
CREATE TABLE suppressed (
    rule TEXT PRIMARY KEY,
    count BIGINT NOT NULL,
    first_ns BIGINT NOT NULL,
    last_ns BIGINT NOT NULL
);
",
    },
    Migration {
        version: 2,
        sql: "
CREATE TABLE tokens (
    id {id},
    name TEXT NOT NULL UNIQUE,
    role TEXT NOT NULL,
    hash TEXT NOT NULL UNIQUE,
    created_ns BIGINT NOT NULL
);
CREATE TABLE actions (
    id {id},
    finding_id BIGINT REFERENCES findings (id) ON DELETE SET NULL,
    action TEXT NOT NULL,
    target TEXT NOT NULL,
    status TEXT NOT NULL,
    requested_ns BIGINT NOT NULL,
    decided_by TEXT,
    decided_ns BIGINT,
    result TEXT
);
CREATE INDEX actions_status ON actions (status, id);
",
    },
    Migration {
        version: 3,
        sql: "
CREATE TABLE checkpoints (
    source TEXT PRIMARY KEY,
    position TEXT NOT NULL,
    updated_ns BIGINT NOT NULL
);
",
    },
];

/// The newest schema version this build writes.
pub const CURRENT: i64 = 3;

fn ddl(db: &dyn Db, sql: &str) -> String {
    let id = match db.dialect() {
        Dialect::Sqlite => "INTEGER PRIMARY KEY AUTOINCREMENT",
        Dialect::Postgres => "BIGSERIAL PRIMARY KEY",
    };
    sql.replace("{id}", id)
}

/// Applies the migrations a store lacks, up to `target` (tests build older stores with it).
pub fn migrate(db: &mut dyn Db, target: i64) -> Result<i64, StoreError> {
    // Agents sharing one PostgreSQL database may start together: one migrates, the rest wait.
    if db.dialect() == Dialect::Postgres {
        db.batch("SELECT pg_advisory_lock(7270001)")?;
    }
    let result = migrate_locked(db, target);
    if db.dialect() == Dialect::Postgres {
        db.batch("SELECT pg_advisory_unlock(7270001)")?;
    }
    result
}

fn migrate_locked(db: &mut dyn Db, target: i64) -> Result<i64, StoreError> {
    db.batch(
        "CREATE TABLE IF NOT EXISTS schema_migrations (version BIGINT PRIMARY KEY, applied_ns BIGINT NOT NULL)",
    )?;
    let have = scalar(
        db,
        "SELECT COALESCE(MAX(version), 0) FROM schema_migrations",
        &[],
    )?;
    if have > CURRENT {
        return Err(StoreError::NewerSchema {
            found: have,
            supported: CURRENT,
        });
    }
    for m in MIGRATIONS
        .iter()
        .filter(|m| m.version > have && m.version <= target)
    {
        db.begin()?;
        let sql = ddl(db, m.sql);
        let step = db.batch(&sql).and_then(|_| {
            db.exec(
                "INSERT INTO schema_migrations (version, applied_ns) VALUES ($1, $2)",
                &[m.version.into(), crate::now_ns().into()],
            )
        });
        match step {
            Ok(_) => db.commit()?,
            Err(e) => {
                let _ = db.rollback();
                return Err(StoreError::Migration {
                    version: m.version,
                    reason: e.to_string(),
                });
            }
        }
    }
    scalar(
        db,
        "SELECT COALESCE(MAX(version), 0) FROM schema_migrations",
        &[],
    )
}
