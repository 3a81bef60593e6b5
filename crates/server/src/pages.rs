//! Server-rendered pages: no scripts, no external assets, so the UI works air-gapped.

use axum::extract::{Form, Path, Query as QueryParams, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use maud::{html, Markup, PreEscaped, DOCTYPE};
use serde::Deserialize;
use serde_json::Value;
use tripline_event::{format_rfc3339, Priority};
use tripline_store::auth::Role;
use tripline_store::{Kind, StoredFinding};

use crate::api::{decide_action, Filters};
use crate::auth::{Caller, COOKIE};
use crate::AppState;

const STYLE: &str = "
body{font:14px/1.4 system-ui,sans-serif;margin:0;color:#1d2330;background:#f6f7f9}
header{background:#1d2330;color:#fff;padding:8px 16px;display:flex;gap:16px;align-items:center}
header a{color:#cfe0ff;text-decoration:none}header b{margin-right:16px}
main{padding:16px}table{border-collapse:collapse;width:100%;background:#fff}
th,td{border-bottom:1px solid #e3e6ea;padding:4px 8px;text-align:left;vertical-align:top}
th{background:#eef1f5}td.msg{max-width:48em;overflow-wrap:anywhere}
.p-emergency,.p-alert,.p-critical,.p-error{color:#b00020;font-weight:600}.p-warning{color:#9a6700;font-weight:600}
form.filters{display:flex;flex-wrap:wrap;gap:8px;margin-bottom:12px}
.bars{display:flex;align-items:flex-end;gap:2px;height:60px;margin:8px 0 16px;background:#fff;padding:4px}
.bars div{background:#4a78c2;min-width:6px;flex:1}
dl{display:grid;grid-template-columns:max-content 1fr;gap:4px 16px;background:#fff;padding:8px}
dt{font-weight:600}code{background:#eef1f5;padding:0 3px}.err{color:#b00020}
";

fn layout(title: &str, caller: Option<&Caller>, body: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " - Tripline" }
                style { (PreEscaped(STYLE)) }
            }
            body {
                header {
                    b { "Tripline" }
                    @if let Some(c) = caller {
                        a href="/findings" { "Findings" }
                        a href="/findings?kind=drift" { "Drift" }
                        a href="/findings?kind=policy" { "Policy" }
                        a href="/actions" { "Actions" }
                        a href="/status" { "Status" }
                        span style="margin-left:auto" { (c.name) " (" (c.role.as_str()) ")" }
                        form method="post" action="/logout" { button type="submit" { "Log out" } }
                    }
                }
                main { h1 { (title) } (body) }
            }
        }
    }
}

fn time(ns: i64) -> String {
    let s = format_rfc3339(ns.max(0) as u64);
    // Seconds are enough on a page.
    s.get(..19)
        .map_or(s.clone(), |t| format!("{}Z", t.replace('T', " ")))
}

fn priority_class(p: Priority) -> String {
    format!("p-{}", p.name().to_lowercase())
}

fn field_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => "<NA>".into(),
        other => other.to_string(),
    }
}

fn error_page(code: StatusCode, caller: Option<&Caller>, msg: &str) -> Response {
    (code, layout("Error", caller, html! { p.err { (msg) } })).into_response()
}

/// `GET /login`.
pub async fn login_page() -> Markup {
    login_form(None)
}

fn login_form(error: Option<&str>) -> Markup {
    layout(
        "Log in",
        None,
        html! {
            @if let Some(e) = error { p.err { (e) } }
            form method="post" action="/login" {
                label for="token" { "API token " }
                input #token type="password" name="token" autocomplete="current-password" size="50" autofocus;
                " "
                button type="submit" { "Log in" }
            }
            p { "The agent prints an admin token on its first start. Make more with "
                code { "tripline token create NAME --role viewer" } "." }
        },
    )
}

/// The login form's body.
#[derive(Deserialize)]
pub struct LoginForm {
    token: String,
}

/// `POST /login`: checks the token and starts a session; the HttpOnly, SameSite=Strict
/// cookie carries the session's random id, not the token.
pub async fn login(State(st): State<AppState>, Form(form): Form<LoginForm>) -> Response {
    let token = form.token.trim().to_string();
    let check = token.clone();
    match st.with_store(move |s| s.authenticate(&check)).await {
        Ok(Some(_)) => {
            let id = match st.sessions.create(&token) {
                Ok(id) => id,
                Err(e) => {
                    return error_page(StatusCode::INTERNAL_SERVER_ERROR, None, &e.to_string())
                }
            };
            (
                StatusCode::SEE_OTHER,
                [
                    (header::LOCATION, "/findings".to_string()),
                    (
                        header::SET_COOKIE,
                        format!(
                            "{COOKIE}={id}; Path=/; HttpOnly; SameSite=Strict; Max-Age={}{}",
                            crate::auth::SESSION_TTL.as_secs(),
                            if st.tls { "; Secure" } else { "" }
                        ),
                    ),
                ],
            )
                .into_response()
        }
        Ok(None) => (
            StatusCode::UNAUTHORIZED,
            login_form(Some("That token is not valid.")),
        )
            .into_response(),
        Err(e) => error_page(StatusCode::INTERNAL_SERVER_ERROR, None, &e),
    }
}

/// `POST /logout`: ends the session and clears the cookie.
pub async fn logout(State(st): State<AppState>, headers: HeaderMap) -> Response {
    if let Some(id) = crate::auth::session_of(&headers) {
        st.sessions.remove(&id);
    }
    (
        StatusCode::SEE_OTHER,
        [
            (header::LOCATION, "/login".to_string()),
            (
                header::SET_COOKIE,
                format!("{COOKIE}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0"),
            ),
        ],
    )
        .into_response()
}

/// `GET /`.
pub async fn home(_c: Caller) -> Redirect {
    Redirect::to("/findings")
}

fn selected(cur: &Option<String>, v: &str) -> bool {
    cur.as_deref() == Some(v)
}

/// `GET /findings`: filters, a timeline of the last 24 hours, the list.
pub async fn findings(
    c: Caller,
    State(st): State<AppState>,
    QueryParams(f): QueryParams<Filters>,
) -> Response {
    let q = match f.query() {
        Ok(q) => q,
        Err(e) => return error_page(StatusCode::BAD_REQUEST, Some(&c), &e),
    };
    let hour = 3_600_000_000_000i64;
    let now = tripline_store::now_ns();
    let result = st
        .with_store(move |s| {
            let list = s.query(&q)?;
            let total = s.count_capped(&q, crate::api::COUNT_CAP + 1)?;
            let mut tq = q.clone();
            tq.since_ns = Some(tq.since_ns.unwrap_or(0).max(now - 24 * hour));
            tq.before_id = None;
            Ok((list, total, s.histogram(&tq, hour)?))
        })
        .await;
    let (list, total, hist) = match result {
        Ok(r) => r,
        Err(e) => return error_page(StatusCode::INTERNAL_SERVER_ERROR, Some(&c), &e),
    };
    let start = (now / hour - 23) * hour;
    let mut bars = [0i64; 24];
    for (b, n) in hist {
        if b >= start {
            let i = ((b - start) / hour) as usize;
            if i < 24 {
                bars[i] += n;
            }
        }
    }
    let max = bars.iter().copied().max().unwrap_or(0).max(1);
    let next = list.last().map(|l| l.id);
    let page = layout(
        "Findings",
        Some(&c),
        html! {
            form.filters method="get" action="/findings" {
                input type="search" name="q" placeholder="search" value=(f.q.clone().unwrap_or_default());
                select name="priority" {
                    option value="" { "any priority" }
                    @for p in Priority::ALL {
                        @let v = p.name().to_lowercase();
                        option value=(v) selected[selected(&f.priority, &v)] { "≥ " (p.name()) }
                    }
                }
                select name="kind" {
                    option value="" { "any kind" }
                    @for k in Kind::ALL {
                        option value=(k.as_str()) selected[selected(&f.kind, k.as_str())] { (k.as_str()) }
                    }
                }
                input type="text" name="rule" placeholder="rule (exact)" value=(f.rule.clone().unwrap_or_default());
                input type="text" name="source" placeholder="source" value=(f.source.clone().unwrap_or_default());
                select name="since" {
                    option value="" { "any time" }
                    @for s in ["15m", "1h", "24h", "7d", "30d"] {
                        option value=(s) selected[selected(&f.since, s)] { "last " (s) }
                    }
                }
                button type="submit" { "Filter" }
            }
            div.bars title="occurrences per hour, last 24 hours" {
                @for n in bars {
                    div style=(format!("height:{}%", n * 100 / max)) title=(n) {}
                }
            }
            p #summary {
                @if total > crate::api::COUNT_CAP { (crate::api::COUNT_CAP) "+ findings" }
                @else { (total) " findings" }
                @let shown: i64 = list.iter().map(|f| f.count).sum();
                ", " (shown) " occurrences on this page"
            }
            table #findings {
                thead { tr { th { "Last seen" } th { "Priority" } th { "Rule" } th { "Kind" } th { "Entity" } th { "Host" } th { "Count" } th { "Message" } } }
                tbody {
                    @for x in &list {
                        tr {
                            td { (time(x.last_ns)) }
                            td class=(priority_class(x.priority)) { (x.priority.name()) }
                            td { a href=(format!("/findings/{}", x.id)) { (x.rule) } }
                            td { (x.kind.as_str()) }
                            td { (x.entity) }
                            td { (x.hostname) }
                            td { (x.count) }
                            td.msg { (x.message) }
                        }
                    }
                }
            }
            @if let Some(id) = next {
                @if list.len() as i64 == f.limit.unwrap_or(100).clamp(1, 1000) {
                    p { a href=(next_page(&f, id)) { "Older →" } }
                }
            }
        },
    );
    page.into_response()
}

fn next_page(f: &Filters, before: i64) -> String {
    let mut parts = vec![format!("before={before}")];
    let mut add = |k: &str, v: &Option<String>| {
        if let Some(v) = v.as_ref().filter(|v| !v.is_empty()) {
            parts.push(format!("{k}={}", urlencode(v)));
        }
    };
    add("q", &f.q);
    add("priority", &f.priority);
    add("kind", &f.kind);
    add("rule", &f.rule);
    add("source", &f.source);
    add("host", &f.host);
    add("since", &f.since);
    format!("/findings?{}", parts.join("&"))
}

fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// The process chain the evidence names: the process, its parent, and `proc.aname[N]`.
fn ancestry(f: &StoredFinding) -> Vec<(String, String)> {
    let get = |k: &str| {
        f.fields
            .get(k)
            .map(field_text)
            .filter(|v| !v.is_empty() && v != "<NA>")
    };
    let mut chain = Vec::new();
    if let Some(p) = get("proc.name") {
        let detail = get("proc.cmdline")
            .or_else(|| get("proc.exepath"))
            .unwrap_or_default();
        chain.push((p, detail));
    }
    if let Some(p) = get("proc.pname") {
        chain.push((p, get("proc.pcmdline").unwrap_or_default()));
    }
    for n in 2..=7 {
        match get(&format!("proc.aname[{n}]")) {
            Some(a) => chain.push((a, String::new())),
            None => break,
        }
    }
    chain
}

/// `GET /findings/{id}`: evidence, process ancestry, timeline, actions.
pub async fn finding(c: Caller, State(st): State<AppState>, Path(id): Path<i64>) -> Response {
    let r = st
        .with_store(move |s| Ok((s.get(id)?, s.actions_for(id)?)))
        .await;
    let (f, actions) = match r {
        Ok((Some(f), a)) => (f, a),
        Ok((None, _)) => {
            return error_page(
                StatusCode::NOT_FOUND,
                Some(&c),
                &format!("No finding {id}."),
            )
        }
        Err(e) => return error_page(StatusCode::INTERNAL_SERVER_ERROR, Some(&c), &e),
    };
    let chain = ancestry(&f);
    let admin = c.role == Role::Admin;
    layout(
        &f.rule,
        Some(&c),
        html! {
            dl #detail {
                dt { "Priority" } dd class=(priority_class(f.priority)) { (f.priority.name()) }
                dt { "Kind" } dd { (f.kind.as_str()) }
                dt { "Source" } dd { (f.source) }
                dt { "Host" } dd { (f.hostname) }
                dt { "Entity" } dd { (f.entity) }
                dt { "First seen" } dd { (time(f.first_ns)) }
                dt { "Last seen" } dd { (time(f.last_ns)) }
                dt { "Count" } dd { (f.count) }
                dt { "Message" } dd.msg { (f.message) }
                @if let Some(l) = &f.location { dt { "Declared in" } dd { code { (l) } } }
                @if !f.tags.is_empty() { dt { "Tags" } dd { (f.tags.join(", ")) } }
                dt { "Fingerprint" } dd { code { (f.fingerprint) } }
            }
            @if !chain.is_empty() {
                h2 { "Process ancestry" }
                ol #ancestry {
                    @for (name, detail) in &chain {
                        li { b { (name) } @if !detail.is_empty() { " " code { (detail) } } }
                    }
                }
            }
            h2 { "Evidence" }
            table #evidence {
                @for (k, v) in &f.fields {
                    tr { th { (k) } td.msg { (field_text(v)) } }
                }
            }
            h2 { "Actions" }
            @if actions.is_empty() { p { "No actions for this finding." } }
            @else { (action_table(&actions, admin)) }
        },
    )
    .into_response()
}

fn action_table(actions: &[tripline_store::actions::ActionRecord], admin: bool) -> Markup {
    html! {
        table #actions {
            thead { tr { th { "Id" } th { "Action" } th { "Target" } th { "Status" } th { "Requested" } th { "Decided by" } th { "Result" } th {} } }
            tbody {
                @for a in actions {
                    tr {
                        td { (a.id) }
                        td { (a.action) }
                        td { code { (a.target) } }
                        td.status { (a.status.as_str()) }
                        td { (time(a.requested_ns)) }
                        td { (a.decided_by.clone().unwrap_or_default()) }
                        td.msg { (a.result.clone().unwrap_or_default()) }
                        td {
                            @if admin && a.status == tripline_store::actions::Status::Pending {
                                form method="post" action=(format!("/actions/{}/approve", a.id)) style="display:inline" {
                                    button type="submit" name="approve" { "Approve" }
                                }
                                " "
                                form method="post" action=(format!("/actions/{}/reject", a.id)) style="display:inline" {
                                    button type="submit" name="reject" { "Reject" }
                                }
                            }
                            @if let Some(fid) = a.finding_id { " " a href=(format!("/findings/{fid}")) { "finding" } }
                        }
                    }
                }
            }
        }
    }
}

/// `GET /actions`.
pub async fn actions(c: Caller, State(st): State<AppState>) -> Response {
    match st.with_store(|s| s.actions(None, 500)).await {
        Ok(a) => layout(
            "Actions",
            Some(&c),
            html! {
                @if a.is_empty() { p { "No actions yet. Bind actions to rules in the config's " code { "actions:" } " list." } }
                @else { (action_table(&a, c.role == Role::Admin)) }
            },
        )
        .into_response(),
        Err(e) => error_page(StatusCode::INTERNAL_SERVER_ERROR, Some(&c), &e),
    }
}

/// `POST /actions/{id}/approve|reject` from the pages.
pub async fn decide(
    c: Caller,
    State(st): State<AppState>,
    headers: HeaderMap,
    Path((id, decision)): Path<(i64, String)>,
) -> Response {
    if !crate::auth::same_origin(&headers) {
        return error_page(StatusCode::FORBIDDEN, Some(&c), "Cross-site form refused.");
    }
    match decide_action(&st, &c, id, &decision).await {
        Ok(()) => Redirect::to("/actions").into_response(),
        Err((code, e)) => error_page(code, Some(&c), &e),
    }
}

/// `GET /status`: sensor counters, outputs health, rate-limited rules.
pub async fn status(c: Caller, State(st): State<AppState>) -> Response {
    let stats = st.stats();
    let names = st.outputs.clone();
    let r = st
        .with_store(|s| Ok((s.outbox_health()?, s.suppressed()?)))
        .await;
    let (health, suppressed) = match r {
        Ok(x) => x,
        Err(e) => return error_page(StatusCode::INTERNAL_SERVER_ERROR, Some(&c), &e),
    };
    layout(
        "Status",
        Some(&c),
        html! {
            h2 { "Sensor" }
            dl #sensor {
                dt { "Mode" } dd { (stats.mode) }
                dt { "Events" } dd { (stats.events) }
                dt { "Events/s" } dd { (format!("{:.0}", stats.events_per_sec)) }
                dt { "Dropped" } dd { (stats.drops) }
                dt { "Alerts" } dd { (stats.alerts) }
                dt { "Rules" } dd { (stats.rules) }
                dt { "Syscalls" } dd { (stats.syscalls.len()) }
            }
            @if !stats.sources.is_empty() {
                h2 { "Live sources" }
                table #sources {
                    thead { tr { th { "Source" } th { "Events" } th { "Batches" } th { "Rejected" } th { "429s" } th { "401s" } th { "Errors" } th { "Lag (s)" } th { "Position" } th { "Last error" } } }
                    tbody {
                        @for s in &stats.sources {
                            tr {
                                td { (s.source) } td { (s.events) } td { (s.batches) } td { (s.rejected) }
                                td { (s.refused_full) } td { (s.unauthorized) } td { (s.errors) }
                                td { (format!("{:.1}", s.lag_seconds)) }
                                td { code { (s.checkpoint.clone().unwrap_or_default()) } }
                                td.err { (s.last_error.clone().unwrap_or_default()) }
                            }
                        }
                    }
                }
            }
            h2 { "Outputs" }
            table #outputs {
                thead { tr { th { "Output" } th { "Pending" } th { "Delivered" } th { "Failed attempts" } th { "Last error" } } }
                tbody {
                    @for h in &health {
                        tr { td { (h.output) } td { (h.pending) } td { (h.delivered) } td { (h.retrying) } td.err { (h.last_error.clone().unwrap_or_default()) } }
                    }
                    @for n in names.iter().filter(|n| !health.iter().any(|h| &h.output == *n)) {
                        tr { td { (n) } td { "0" } td { "0" } td { "0" } td {} }
                    }
                }
            }
            h2 { "Rate-limited" }
            @if suppressed.is_empty() { p { "Nothing held back." } }
            @else {
                table #suppressed {
                    thead { tr { th { "Rule" } th { "Held back" } th { "Since" } th { "Last" } } }
                    tbody {
                        @for s in &suppressed {
                            tr { td { (s.rule) } td { (s.count) } td { (time(s.first_ns)) } td { (time(s.last_ns)) } }
                        }
                    }
                }
            }
        },
    )
    .into_response()
}
