//! One small SQL interface over the two backends, so every query is written once.
//!
//! Statements use PostgreSQL's `$1` placeholders; the SQLite side rewrites them to `?1`, which
//! SQLite numbers the same way. Values are only integers, text and NULL: timestamps are
//! nanoseconds since the epoch and JSON is stored as text, so both backends agree bit for bit.

use crate::StoreError;

/// A bound parameter or a returned column.
#[derive(Debug, Clone, PartialEq)]
pub enum Val {
    /// 64-bit integer.
    Int(i64),
    /// UTF-8 text.
    Text(String),
    /// SQL NULL.
    Null,
}

impl Val {
    /// The integer, 0 for NULL or text.
    pub fn int(&self) -> i64 {
        match self {
            Val::Int(i) => *i,
            _ => 0,
        }
    }

    /// The text, "" for NULL or an integer.
    pub fn text(&self) -> &str {
        match self {
            Val::Text(s) => s,
            _ => "",
        }
    }

    /// The text, `None` for NULL.
    pub fn opt_text(&self) -> Option<String> {
        match self {
            Val::Text(s) => Some(s.clone()),
            _ => None,
        }
    }
}

impl From<i64> for Val {
    fn from(v: i64) -> Self {
        Val::Int(v)
    }
}

impl From<&str> for Val {
    fn from(v: &str) -> Self {
        Val::Text(v.to_string())
    }
}

impl From<String> for Val {
    fn from(v: String) -> Self {
        Val::Text(v)
    }
}

impl From<Option<String>> for Val {
    fn from(v: Option<String>) -> Self {
        v.map_or(Val::Null, Val::Text)
    }
}

/// A result row.
pub type Row = Vec<Val>;

/// Which database a connection talks to (for the few statements that differ).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    /// Embedded SQLite.
    Sqlite,
    /// PostgreSQL server.
    Postgres,
}

/// A connection: statements, queries and transactions.
pub trait Db: Send {
    /// Which dialect.
    fn dialect(&self) -> Dialect;
    /// Runs a statement; returns the rows changed.
    fn exec(&mut self, sql: &str, params: &[Val]) -> Result<u64, StoreError>;
    /// Runs a query; returns every row.
    fn query(&mut self, sql: &str, params: &[Val]) -> Result<Vec<Row>, StoreError>;
    /// Runs several `;`-separated statements without parameters (migrations).
    fn batch(&mut self, sql: &str) -> Result<(), StoreError>;
    /// Starts a transaction.
    fn begin(&mut self) -> Result<(), StoreError> {
        self.batch("BEGIN")
    }
    /// Commits it.
    fn commit(&mut self) -> Result<(), StoreError> {
        self.batch("COMMIT")
    }
    /// Rolls it back.
    fn rollback(&mut self) -> Result<(), StoreError> {
        self.batch("ROLLBACK")
    }
    /// Bytes the stored findings take (for retention by size).
    fn used_bytes(&mut self) -> Result<i64, StoreError>;
}

/// The first column of the first row as an integer (0 when there is no row).
pub fn scalar(db: &mut dyn Db, sql: &str, params: &[Val]) -> Result<i64, StoreError> {
    Ok(db
        .query(sql, params)?
        .first()
        .and_then(|r| r.first())
        .map_or(0, Val::int))
}
