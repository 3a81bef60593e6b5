//! The embedded default: one SQLite file in WAL mode.

use std::path::Path;

use rusqlite::types::{Value as SqlValue, ValueRef};
use rusqlite::{params_from_iter, Connection};

use crate::db::{Db, Dialect, Row, Val};
use crate::StoreError;

/// A SQLite connection.
pub struct Sqlite {
    conn: Connection,
}

impl Sqlite {
    /// Opens (or creates) the database file; WAL journal, so readers (the UI) never block the
    /// writer (the agent), and a 5 s busy timeout between writers.
    pub fn open(path: &Path) -> Result<Sqlite, StoreError> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|e| StoreError::Open {
                url: path.display().to_string(),
                reason: e.to_string(),
            })?;
        }
        let conn = Connection::open(path).map_err(|e| StoreError::Open {
            url: path.display().to_string(),
            reason: e.to_string(),
        })?;
        restrict_permissions(path);
        conn.busy_timeout(std::time::Duration::from_secs(5))?;
        conn.execute_batch(
            "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON;",
        )?;
        Ok(Sqlite { conn })
    }

    /// A private in-memory database (tests, dry runs).
    pub fn memory() -> Result<Sqlite, StoreError> {
        let conn = Connection::open_in_memory()?;
        Ok(Sqlite { conn })
    }
}

/// The store holds process command lines and token hashes: owner-only.
fn restrict_permissions(path: &Path) {
    use std::os::unix::fs::PermissionsExt;
    let _ = std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600));
}

/// `$1` → `?1`.
fn placeholders(sql: &str) -> String {
    sql.replace('$', "?")
}

fn to_sql(v: &Val) -> SqlValue {
    match v {
        Val::Int(i) => SqlValue::Integer(*i),
        Val::Text(s) => SqlValue::Text(s.clone()),
        Val::Null => SqlValue::Null,
    }
}

impl Db for Sqlite {
    fn dialect(&self) -> Dialect {
        Dialect::Sqlite
    }

    fn exec(&mut self, sql: &str, params: &[Val]) -> Result<u64, StoreError> {
        let mut stmt = self.conn.prepare_cached(&placeholders(sql))?;
        Ok(stmt.execute(params_from_iter(params.iter().map(to_sql)))? as u64)
    }

    fn query(&mut self, sql: &str, params: &[Val]) -> Result<Vec<Row>, StoreError> {
        let mut stmt = self.conn.prepare_cached(&placeholders(sql))?;
        let n = stmt.column_count();
        let mut rows = stmt.query(params_from_iter(params.iter().map(to_sql)))?;
        let mut out = Vec::new();
        while let Some(r) = rows.next()? {
            let mut row = Vec::with_capacity(n);
            for i in 0..n {
                row.push(match r.get_ref(i)? {
                    ValueRef::Integer(v) => Val::Int(v),
                    ValueRef::Real(v) => Val::Int(v as i64),
                    ValueRef::Text(t) => Val::Text(String::from_utf8_lossy(t).into_owned()),
                    ValueRef::Blob(b) => Val::Text(String::from_utf8_lossy(b).into_owned()),
                    ValueRef::Null => Val::Null,
                });
            }
            out.push(row);
        }
        Ok(out)
    }

    fn batch(&mut self, sql: &str) -> Result<(), StoreError> {
        Ok(self.conn.execute_batch(sql)?)
    }

    fn begin(&mut self) -> Result<(), StoreError> {
        // IMMEDIATE: take the write lock now, so two writers wait instead of failing mid-way.
        self.batch("BEGIN IMMEDIATE")
    }

    fn used_bytes(&mut self) -> Result<i64, StoreError> {
        let pages: i64 = self.conn.query_row("PRAGMA page_count", [], |r| r.get(0))?;
        let free: i64 = self
            .conn
            .query_row("PRAGMA freelist_count", [], |r| r.get(0))?;
        let size: i64 = self.conn.query_row("PRAGMA page_size", [], |r| r.get(0))?;
        Ok((pages - free) * size)
    }
}
