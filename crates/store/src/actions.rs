//! The action audit trail: every remediation requested, approved, rejected, run or failed.

use serde::Serialize;

use crate::{now_ns, Store, StoreError};

/// Where an action stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// Waits for an admin (`approval: required`).
    Pending,
    /// Approved; the agent runs it next.
    Approved,
    /// Rejected by an admin; never runs.
    Rejected,
    /// Ran and succeeded.
    Done,
    /// Ran and failed.
    Failed,
}

impl Status {
    /// Stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Pending => "pending",
            Status::Approved => "approved",
            Status::Rejected => "rejected",
            Status::Done => "done",
            Status::Failed => "failed",
        }
    }

    fn parse(s: &str) -> Status {
        match s {
            "approved" => Status::Approved,
            "rejected" => Status::Rejected,
            "done" => Status::Done,
            "failed" => Status::Failed,
            _ => Status::Pending,
        }
    }
}

/// One action record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ActionRecord {
    /// Id.
    pub id: i64,
    /// The finding that triggered it (gone if retention removed the finding).
    pub finding_id: Option<i64>,
    /// Action name (`kill`, `quarantine`, ...).
    pub action: String,
    /// What it acts on (`pid 4242`, `/tmp/x`).
    pub target: String,
    /// Where it stands.
    pub status: Status,
    /// Requested at, ns.
    pub requested_ns: i64,
    /// Who approved or rejected it (token name), or `auto`.
    pub decided_by: Option<String>,
    /// When.
    pub decided_ns: Option<i64>,
    /// What running it did.
    pub result: Option<String>,
}

const COLUMNS: &str =
    "id, finding_id, action, target, status, requested_ns, decided_by, decided_ns, result";

fn record(r: &[crate::db::Val]) -> ActionRecord {
    ActionRecord {
        id: r[0].int(),
        finding_id: match r[1] {
            crate::db::Val::Null => None,
            ref v => Some(v.int()),
        },
        action: r[2].text().to_string(),
        target: r[3].text().to_string(),
        status: Status::parse(r[4].text()),
        requested_ns: r[5].int(),
        decided_by: r[6].opt_text(),
        decided_ns: match r[7] {
            crate::db::Val::Null => None,
            ref v => Some(v.int()),
        },
        result: r[8].opt_text(),
    }
}

impl Store {
    /// Records a requested action; `approved` ones are decided by `auto` at once.
    pub fn request_action(
        &mut self,
        finding_id: i64,
        action: &str,
        target: &str,
        approved: bool,
    ) -> Result<i64, StoreError> {
        let (status, by, at) = if approved {
            (
                Status::Approved,
                crate::db::Val::from("auto"),
                crate::db::Val::Int(now_ns()),
            )
        } else {
            (Status::Pending, crate::db::Val::Null, crate::db::Val::Null)
        };
        crate::db::scalar(
            self.db.as_mut(),
            "INSERT INTO actions (finding_id, action, target, status, requested_ns, decided_by, decided_ns)
             VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id",
            &[
                finding_id.into(),
                action.into(),
                target.into(),
                status.as_str().into(),
                now_ns().into(),
                by,
                at,
            ],
        )
    }

    /// Actions, newest first; only those with `status` when given.
    pub fn actions(
        &mut self,
        status: Option<Status>,
        limit: i64,
    ) -> Result<Vec<ActionRecord>, StoreError> {
        let rows = match status {
            Some(s) => self.db.query(
                &format!(
                    "SELECT {COLUMNS} FROM actions WHERE status = $1 ORDER BY id DESC LIMIT $2"
                ),
                &[s.as_str().into(), limit.into()],
            )?,
            None => self.db.query(
                &format!("SELECT {COLUMNS} FROM actions ORDER BY id DESC LIMIT $1"),
                &[limit.into()],
            )?,
        };
        Ok(rows.iter().map(|r| record(r)).collect())
    }

    /// Actions of one finding.
    pub fn actions_for(&mut self, finding_id: i64) -> Result<Vec<ActionRecord>, StoreError> {
        let rows = self.db.query(
            &format!("SELECT {COLUMNS} FROM actions WHERE finding_id = $1 ORDER BY id"),
            &[finding_id.into()],
        )?;
        Ok(rows.iter().map(|r| record(r)).collect())
    }

    /// Approves or rejects a pending action; false when it was not pending.
    pub fn decide_action(&mut self, id: i64, approve: bool, by: &str) -> Result<bool, StoreError> {
        let status = if approve {
            Status::Approved
        } else {
            Status::Rejected
        };
        Ok(self.db.exec(
            "UPDATE actions SET status = $1, decided_by = $2, decided_ns = $3 WHERE id = $4 AND status = 'pending'",
            &[status.as_str().into(), by.into(), now_ns().into(), id.into()],
        )? == 1)
    }

    /// Records the outcome of running an approved action.
    pub fn finish_action(&mut self, id: i64, ok: bool, result: &str) -> Result<(), StoreError> {
        let status = if ok { Status::Done } else { Status::Failed };
        self.db.exec(
            "UPDATE actions SET status = $1, result = $2 WHERE id = $3 AND status = 'approved'",
            &[status.as_str().into(), result.into(), id.into()],
        )?;
        Ok(())
    }
}
