//! The HTTP server: health endpoints and the first `/v1` routes (events, flows, tenants,
//! runs). Authentication is interim until per-tenant API keys arrive: one bearer token
//! (`STEPWISE_API_TOKEN`) and the tenant named in the `Stepwise-Tenant` header.

mod error;
mod routes;

use std::sync::Arc;

use axum::Router;
use axum::http::HeaderMap;
use stepwise_engine::runtime::Engine;

pub use error::ApiError;

/// What every handler shares.
#[derive(Debug, Clone)]
pub struct AppState {
    pub engine: Arc<Engine>,
    /// The bearer token `/v1` routes require.
    pub token: Arc<str>,
}

/// The router of the whole API.
pub fn app(state: AppState) -> Router {
    routes::router().with_state(state)
}

/// The tenant a request acts for, after checking its token.
pub fn authorize(state: &AppState, headers: &HeaderMap) -> Result<String, ApiError> {
    let given = headers
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .ok_or_else(|| ApiError::unauthorized("send Authorization: Bearer <token>"))?;
    if !constant_time_eq(given.as_bytes(), state.token.as_bytes()) {
        return Err(ApiError::unauthorized("the token is not valid"));
    }
    let tenant = headers
        .get("stepwise-tenant")
        .and_then(|v| v.to_str().ok())
        .filter(|t| !t.is_empty() && t.len() <= 64)
        .ok_or_else(|| ApiError::bad_request("name the tenant in the Stepwise-Tenant header"))?;
    Ok(tenant.to_owned())
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}
