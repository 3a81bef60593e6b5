//! Token authentication: `Authorization: Bearer TOKEN` for the API and `/metrics`, or the
//! session cookie the login page sets for the UI. Tokens are checked against their stored hash.
//!
//! The cookie holds a random session id, never the token: the server keeps the session (and
//! the token behind it, checked again on every request so a revoked token ends its sessions)
//! until logout or 12 hours. A request authenticated by the cookie that changes state must
//! come from our own origin, on the API routes too.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, Method, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use tripline_store::auth::Role;

use crate::AppState;

/// Name of the UI session cookie.
pub const COOKIE: &str = "tripline_session";

/// How long a UI session lasts.
pub const SESSION_TTL: Duration = Duration::from_secs(12 * 3600);

/// Most sessions kept; the oldest go first (a login flood cannot grow memory).
const MAX_SESSIONS: usize = 10_000;

/// Server-side UI sessions, keyed by the SHA-256 of their id.
#[derive(Debug, Default)]
pub struct Sessions {
    by_id: Mutex<HashMap<String, (String, Instant)>>,
}

impl Sessions {
    /// Starts a session for `token`; returns the id to put in the cookie.
    pub fn create(&self, token: &str) -> std::io::Result<String> {
        let id = tripline_store::auth::generate_token()?;
        let mut m = self.by_id.lock().unwrap_or_else(|p| p.into_inner());
        let now = Instant::now();
        m.retain(|_, (_, expires)| *expires > now);
        if m.len() >= MAX_SESSIONS {
            if let Some(oldest) = m
                .iter()
                .min_by_key(|(_, (_, e))| *e)
                .map(|(k, _)| k.clone())
            {
                m.remove(&oldest);
            }
        }
        m.insert(
            tripline_store::auth::hash_token(&id),
            (token.to_string(), now + SESSION_TTL),
        );
        Ok(id)
    }

    /// The token behind a live session.
    fn token(&self, id: &str) -> Option<String> {
        let m = self.by_id.lock().unwrap_or_else(|p| p.into_inner());
        m.get(&tripline_store::auth::hash_token(id))
            .filter(|(_, expires)| *expires > Instant::now())
            .map(|(t, _)| t.clone())
    }

    /// Ends a session (logout).
    pub fn remove(&self, id: &str) {
        let mut m = self.by_id.lock().unwrap_or_else(|p| p.into_inner());
        m.remove(&tripline_store::auth::hash_token(id));
    }
}

/// Whether a request comes from our own pages: no `Origin` (not a browser's cross-site
/// request), or one naming this host.
pub fn same_origin(headers: &HeaderMap) -> bool {
    let Some(origin) = headers.get(header::ORIGIN).and_then(|v| v.to_str().ok()) else {
        return true;
    };
    let host = headers
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    origin == "null" && host.is_empty() || origin.split("://").nth(1).is_some_and(|o| o == host)
}

/// An authenticated caller.
#[derive(Debug, Clone)]
pub struct Caller {
    /// Token name.
    pub name: String,
    /// Its role.
    pub role: Role,
}

/// Why a request was refused.
#[derive(Debug)]
pub enum Refused {
    /// No or a wrong token: 401 for the API, the login page for the UI.
    Unauthenticated {
        /// A browser page was asked for.
        page: bool,
    },
    /// A state-changing request authenticated by the session cookie from another origin.
    CrossOrigin,
    /// The store failed.
    Store(String),
}

impl IntoResponse for Refused {
    fn into_response(self) -> Response {
        match self {
            Refused::Unauthenticated { page: true } => Redirect::to("/login").into_response(),
            Refused::Unauthenticated { page: false } => (
                StatusCode::UNAUTHORIZED,
                [(header::WWW_AUTHENTICATE, "Bearer realm=\"tripline\"")],
                "401 Unauthorized: send 'Authorization: Bearer TOKEN'\n",
            )
                .into_response(),
            Refused::CrossOrigin => (
                StatusCode::FORBIDDEN,
                "403 Forbidden: a cross-site request with the session cookie was refused\n",
            )
                .into_response(),
            Refused::Store(e) => (StatusCode::INTERNAL_SERVER_ERROR, e).into_response(),
        }
    }
}

/// The bearer token of the `Authorization` header.
fn bearer(parts: &Parts) -> Option<String> {
    parts
        .headers
        .get(header::AUTHORIZATION)?
        .to_str()
        .ok()?
        .strip_prefix("Bearer ")
        .map(|t| t.trim().to_string())
}

/// The session id of the UI cookie.
pub fn session_of(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .find_map(|c| {
            c.trim()
                .strip_prefix(&format!("{COOKIE}="))
                .map(str::to_string)
        })
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = Refused;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Refused> {
        let page = !parts.uri.path().starts_with("/api/") && parts.uri.path() != "/metrics";
        let token = match bearer(parts) {
            Some(t) => t,
            None => {
                let token = session_of(&parts.headers)
                    .and_then(|id| state.sessions.token(&id))
                    .ok_or(Refused::Unauthenticated { page })?;
                // The browser sends the cookie with any site's request: only our own pages
                // may change state with it.
                let safe = matches!(parts.method, Method::GET | Method::HEAD | Method::OPTIONS);
                if !safe && !same_origin(&parts.headers) {
                    return Err(Refused::CrossOrigin);
                }
                token
            }
        };
        match state.with_store(move |s| s.authenticate(&token)).await {
            Ok(Some((name, role))) => Ok(Caller { name, role }),
            Ok(None) => Err(Refused::Unauthenticated { page }),
            Err(e) => Err(Refused::Store(e)),
        }
    }
}
