//! The finding store: every finding Tripline produces (rule alerts, drift, policy, identity,
//! anomalies) lands here before anything else happens to it.
//!
//! - **Backends**: an embedded SQLite file (WAL) by default, PostgreSQL for a shared fleet store.
//!   Both run the same SQL and the same migrations ([`schema`]).
//! - **Dedup**: identical findings (same kind, rule, host, entity and key fields) within a window
//!   fold into one row with a count and first/last seen ([`finding::NewFinding::fingerprint`]).
//! - **Rate limits**: per rule; what a limit holds back is counted per rule, never dropped
//!   silently ([`Store::suppressed`]).
//! - **Outbox**: a new finding is queued for each output that wants it in the same transaction
//!   that stores it, so delivery survives crashes and restarts ([`outbox`]).
//! - **Retention** by age and by size ([`Store::retain`]).
//!
//! ```
//! use tripline_store::{NewFinding, Store, Ingest};
//! use tripline_event::Priority;
//! let mut store = Store::open(":memory:").unwrap();
//! let f = NewFinding::new("Shell in container", Priority::Warning, "syscall", "shell spawned");
//! assert!(matches!(store.ingest(&f).unwrap(), Ingest::New(_)));
//! assert!(matches!(store.ingest(&f).unwrap(), Ingest::Folded(_)));
//! let found = store.query(&Default::default()).unwrap();
//! assert_eq!((found.len(), found[0].count), (1, 2));
//! ```

pub mod actions;
pub mod auth;
pub mod db;
pub mod finding;
pub mod limits;
pub mod outbox;
pub mod postgres;
pub mod query;
pub mod schema;
pub mod sqlite;
mod store;

pub use finding::{Kind, NewFinding, StoredFinding};
pub use query::Query;
pub use store::{Config, Ingest, Retention, Store, Suppressed};

/// Everything that can go wrong in the store.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database could not be opened or reached.
    #[error("cannot open store {url}: {reason}")]
    Open {
        /// The store URL (password removed).
        url: String,
        /// Why.
        reason: String,
    },
    /// A migration failed; the store is left at the previous version.
    #[error("schema migration {version} failed: {reason}")]
    Migration {
        /// The migration that failed.
        version: i64,
        /// Why.
        reason: String,
    },
    /// The store was written by a newer Tripline.
    #[error("store schema version {found} is newer than this build supports ({supported}); upgrade tripline")]
    NewerSchema {
        /// Version in the store.
        found: i64,
        /// Newest version this build knows.
        supported: i64,
    },
    /// SQLite reported an error.
    #[error("sqlite: {0}")]
    Sqlite(#[from] rusqlite::Error),
    /// PostgreSQL reported an error.
    #[error("postgres: {0}")]
    Postgres(#[from] ::postgres::Error),
    /// A stored value could not be read back.
    #[error("corrupt stored value in {what}: {reason}")]
    Corrupt {
        /// Which column.
        what: &'static str,
        /// Why.
        reason: String,
    },
}

/// Wall-clock ns since the epoch.
pub fn now_ns() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as i64)
}
