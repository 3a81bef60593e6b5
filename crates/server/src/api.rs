//! The JSON API: the same filters as the findings page.

use axum::extract::{Path, Query as QueryParams, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;
use serde_json::json;
use tripline_store::auth::Role;
use tripline_store::{Kind, Query};

use crate::auth::Caller;
use crate::AppState;

/// Filters shared by `/findings` and `/api/v1/findings`.
#[derive(Debug, Default, Deserialize)]
pub struct Filters {
    /// Words to search for.
    pub q: Option<String>,
    /// Minimum priority.
    pub priority: Option<String>,
    /// Engine kind.
    pub kind: Option<String>,
    /// Exact rule name.
    pub rule: Option<String>,
    /// Source.
    pub source: Option<String>,
    /// Host.
    pub host: Option<String>,
    /// Last seen within this long (`15m`, `24h`, `7d`).
    pub since: Option<String>,
    /// Page after this id.
    pub before: Option<i64>,
    /// Page size (default 100, at most 1000).
    pub limit: Option<i64>,
}

/// `15m`, `24h`, `7d`, `30s` → ns.
pub fn parse_duration(s: &str) -> Option<i64> {
    tripline_event::parse_duration_ns(s).ok()
}

impl Filters {
    /// The store query; errors name the bad parameter.
    pub fn query(&self) -> Result<Query, String> {
        let nonempty = |o: &Option<String>| o.clone().filter(|s| !s.trim().is_empty());
        let mut q = Query {
            text: self.q.clone().unwrap_or_default(),
            rule: nonempty(&self.rule),
            source: nonempty(&self.source),
            hostname: nonempty(&self.host),
            before_id: self.before,
            limit: self.limit.unwrap_or(100).clamp(1, 1000),
            ..Query::default()
        };
        if let Some(p) = nonempty(&self.priority) {
            q.min_priority = Some(p.parse().map_err(|e| format!("priority: {e}"))?);
        }
        if let Some(k) = nonempty(&self.kind) {
            q.kind = Some(Kind::parse(&k).ok_or_else(|| {
                format!("kind: unknown '{k}' (expected rule, drift, policy, identity or anomaly)")
            })?);
        }
        if let Some(s) = nonempty(&self.since) {
            let d = parse_duration(&s)
                .ok_or_else(|| format!("since: '{s}' is not a duration like 15m, 24h or 7d"))?;
            q.since_ns = Some(tripline_store::now_ns() - d);
        }
        Ok(q)
    }
}

fn bad_request(e: String) -> Response {
    (StatusCode::BAD_REQUEST, Json(json!({ "error": e }))).into_response()
}

fn server_error(e: String) -> Response {
    (
        StatusCode::INTERNAL_SERVER_ERROR,
        Json(json!({ "error": e })),
    )
        .into_response()
}

/// Lists count matches up to this many; past it they say "at least".
pub const COUNT_CAP: i64 = 10_000;

/// `GET /api/v1/findings`: `{findings, total, total_is_exact}`.
pub async fn findings(
    _c: Caller,
    State(st): State<AppState>,
    QueryParams(f): QueryParams<Filters>,
) -> Response {
    let q = match f.query() {
        Ok(q) => q,
        Err(e) => return bad_request(e),
    };
    match st
        .with_store(move |s| Ok((s.query(&q)?, s.count_capped(&q, COUNT_CAP + 1)?)))
        .await
    {
        Ok((found, total)) => Json(json!({
            "findings": found,
            "total": total.min(COUNT_CAP),
            "total_is_exact": total <= COUNT_CAP,
        }))
        .into_response(),
        Err(e) => server_error(e),
    }
}

/// `GET /api/v1/findings/{id}`: the finding and its actions.
pub async fn finding(_c: Caller, State(st): State<AppState>, Path(id): Path<i64>) -> Response {
    match st
        .with_store(move |s| Ok((s.get(id)?, s.actions_for(id)?)))
        .await
    {
        Ok((Some(f), actions)) => Json(json!({ "finding": f, "actions": actions })).into_response(),
        Ok((None, _)) => (
            StatusCode::NOT_FOUND,
            Json(json!({ "error": format!("no finding {id}") })),
        )
            .into_response(),
        Err(e) => server_error(e),
    }
}

/// `GET /api/v1/status`: sensor counters, outputs health, rate-limited counts.
pub async fn status(_c: Caller, State(st): State<AppState>) -> Response {
    let stats = st.stats();
    match st
        .with_store(|s| {
            Ok((
                s.outbox_health()?,
                s.suppressed()?,
                s.count(&Query::default())?,
            ))
        })
        .await
    {
        Ok((outputs, suppressed, (findings, occurrences))) => Json(json!({
            "sensor": stats,
            "outputs": outputs,
            "suppressed": suppressed,
            "findings": findings,
            "occurrences": occurrences,
        }))
        .into_response(),
        Err(e) => server_error(e),
    }
}

/// `GET /api/v1/actions`.
pub async fn actions(_c: Caller, State(st): State<AppState>) -> Response {
    match st.with_store(|s| s.actions(None, 500)).await {
        Ok(a) => Json(json!({ "actions": a })).into_response(),
        Err(e) => server_error(e),
    }
}

/// `POST /api/v1/actions/{id}/approve` or `/reject` (admin tokens only).
pub async fn decide(
    c: Caller,
    State(st): State<AppState>,
    Path((id, decision)): Path<(i64, String)>,
) -> Response {
    match decide_action(&st, &c, id, &decision).await {
        Ok(()) => Json(json!({ "id": id, "decision": decision })).into_response(),
        Err((code, e)) => (code, Json(json!({ "error": e }))).into_response(),
    }
}

/// Shared by the API and the page form.
pub async fn decide_action(
    st: &AppState,
    c: &Caller,
    id: i64,
    decision: &str,
) -> Result<(), (StatusCode, String)> {
    if c.role != Role::Admin {
        return Err((
            StatusCode::FORBIDDEN,
            format!(
                "token '{}' is a viewer; approving needs an admin token",
                c.name
            ),
        ));
    }
    let approve = match decision {
        "approve" => true,
        "reject" => false,
        other => {
            return Err((
                StatusCode::NOT_FOUND,
                format!("unknown decision '{other}' (approve or reject)"),
            ))
        }
    };
    let by = c.name.clone();
    match st
        .with_store(move |s| s.decide_action(id, approve, &by))
        .await
    {
        Ok(true) => Ok(()),
        Ok(false) => Err((StatusCode::CONFLICT, format!("action {id} is not pending"))),
        Err(e) => Err((StatusCode::INTERNAL_SERVER_ERROR, e)),
    }
}
