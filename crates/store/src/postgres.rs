//! PostgreSQL, for fleets that share one store (`--store postgres://...`).

use std::collections::HashMap;

use postgres::types::{ToSql, Type};
use postgres::{Client, NoTls, Statement};

use crate::db::{Db, Dialect, Row, Val};
use crate::StoreError;

/// A PostgreSQL connection.
pub struct Postgres {
    client: Client,
    /// Prepared statements by SQL text: one parse per statement per connection.
    statements: HashMap<String, Statement>,
}

impl Postgres {
    /// Connects with a `postgres://user:password@host/db` URL (or key=value string).
    pub fn connect(url: &str) -> Result<Postgres, StoreError> {
        let client = Client::connect(url, NoTls).map_err(|e| StoreError::Open {
            url: redact(url),
            reason: e.to_string(),
        })?;
        Ok(Postgres {
            client,
            statements: HashMap::new(),
        })
    }
}

/// The URL without its password, for error messages and logs.
pub fn redact(url: &str) -> String {
    if !url.contains("://") {
        // key=value form: hide `password=...`.
        return url
            .split_whitespace()
            .map(|kv| {
                if kv.starts_with("password=") {
                    "password=***"
                } else {
                    kv
                }
            })
            .collect::<Vec<_>>()
            .join(" ");
    }
    match (url.find("://"), url.rfind('@')) {
        (Some(s), Some(at)) if at > s => {
            let creds = &url[s + 3..at];
            let user = creds.split(':').next().unwrap_or("");
            format!("{}{}:***{}", &url[..s + 3], user, &url[at..])
        }
        _ => url.to_string(),
    }
}

/// Boxes values for the statement's parameter types (a NULL must carry the column's type).
fn params(vals: &[Val], types: &[Type]) -> Vec<Box<dyn ToSql + Sync>> {
    vals.iter()
        .zip(types)
        .map(|(v, t)| -> Box<dyn ToSql + Sync> {
            match v {
                Val::Int(i) => Box::new(*i),
                Val::Text(s) => Box::new(s.clone()),
                Val::Null if *t == Type::INT8 => Box::new(Option::<i64>::None),
                Val::Null => Box::new(Option::<String>::None),
            }
        })
        .collect()
}

impl Postgres {
    fn statement(&mut self, sql: &str) -> Result<Statement, StoreError> {
        if let Some(s) = self.statements.get(sql) {
            return Ok(s.clone());
        }
        let s = self.client.prepare(sql)?;
        self.statements.insert(sql.to_string(), s.clone());
        Ok(s)
    }
}

impl Db for Postgres {
    fn dialect(&self) -> Dialect {
        Dialect::Postgres
    }

    fn exec(&mut self, sql: &str, vals: &[Val]) -> Result<u64, StoreError> {
        let stmt = self.statement(sql)?;
        let p = params(vals, stmt.params());
        let refs: Vec<&(dyn ToSql + Sync)> = p.iter().map(|b| b.as_ref()).collect();
        Ok(self.client.execute(&stmt, &refs)?)
    }

    fn query(&mut self, sql: &str, vals: &[Val]) -> Result<Vec<Row>, StoreError> {
        let stmt = self.statement(sql)?;
        let p = params(vals, stmt.params());
        let refs: Vec<&(dyn ToSql + Sync)> = p.iter().map(|b| b.as_ref()).collect();
        let rows = self.client.query(&stmt, &refs)?;
        let mut out = Vec::with_capacity(rows.len());
        for r in rows {
            let mut row = Vec::with_capacity(r.len());
            for (i, col) in r.columns().iter().enumerate() {
                let v = match *col.type_() {
                    Type::INT8 => r.get::<_, Option<i64>>(i).map_or(Val::Null, Val::Int),
                    Type::INT4 => r
                        .get::<_, Option<i32>>(i)
                        .map_or(Val::Null, |v| Val::Int(v.into())),
                    Type::INT2 => r
                        .get::<_, Option<i16>>(i)
                        .map_or(Val::Null, |v| Val::Int(v.into())),
                    Type::FLOAT8 => r
                        .get::<_, Option<f64>>(i)
                        .map_or(Val::Null, |v| Val::Int(v as i64)),
                    _ => r.get::<_, Option<String>>(i).map_or(Val::Null, Val::Text),
                };
                row.push(v);
            }
            out.push(row);
        }
        Ok(out)
    }

    fn batch(&mut self, sql: &str) -> Result<(), StoreError> {
        Ok(self.client.batch_execute(sql)?)
    }

    fn used_bytes(&mut self) -> Result<i64, StoreError> {
        // Live row bytes, not the relation size: that only shrinks after VACUUM, and retention
        // must see its deletes at once.
        let row = self.client.query_one(
            "SELECT COALESCE(SUM(pg_column_size(f.*)), 0)::BIGINT FROM findings f",
            &[],
        )?;
        Ok(row.get(0))
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn passwords_never_reach_messages() {
        assert_eq!(
            super::redact("postgres://app:s3cret@db:5432/tripline"),
            "postgres://app:***@db:5432/tripline"
        );
        assert_eq!(
            super::redact("host=db user=app password=x"),
            "host=db user=app password=***"
        );
    }
}
