//! Token authentication: `Authorization: Bearer TOKEN` for the API and `/metrics`, or the
//! session cookie the login page sets for the UI. Tokens are checked against their stored hash.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use tripline_store::auth::Role;

use crate::AppState;

/// Name of the UI session cookie.
pub const COOKIE: &str = "tripline_token";

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
            Refused::Store(e) => (StatusCode::INTERNAL_SERVER_ERROR, e).into_response(),
        }
    }
}

/// The token a request carries, from the header or the cookie.
pub fn token_of(parts: &Parts) -> Option<String> {
    if let Some(v) = parts.headers.get(header::AUTHORIZATION) {
        return v
            .to_str()
            .ok()
            .and_then(|v| v.strip_prefix("Bearer "))
            .map(|t| t.trim().to_string());
    }
    parts
        .headers
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
        let Some(token) = token_of(parts) else {
            return Err(Refused::Unauthenticated { page });
        };
        match state.with_store(move |s| s.authenticate(&token)).await {
            Ok(Some((name, role))) => Ok(Caller { name, role }),
            Ok(None) => Err(Refused::Unauthenticated { page }),
            Err(e) => Err(Refused::Store(e)),
        }
    }
}
