//! `PUT /v1/tenants/{id}`: create or update a tenant's settings (name, time zone, quiet hours,
//! retry policy, snippets). Interim: the one API token may manage every tenant.

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::put;
use axum::{Json, Router};
use stepwise_engine::model::Tenant;

use crate::server::{ApiError, AppState, authorize};

pub fn router() -> Router<AppState> {
    Router::new().route("/v1/tenants/{id}", put(put_tenant))
}

async fn put_tenant(
    State(state): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: String,
) -> Result<(StatusCode, Json<Tenant>), ApiError> {
    let mut headers = headers;
    headers.insert(
        "stepwise-tenant",
        id.parse()
            .map_err(|_| ApiError::bad_request("bad tenant id"))?,
    );
    authorize(&state, &headers)?;
    let mut tenant: Tenant = serde_json::from_str(&body)
        .map_err(|e| ApiError::bad_request(format!("invalid tenant: {e}")))?;
    if jiff::tz::TimeZone::get(&tenant.timezone).is_err() {
        return Err(ApiError::bad_request(format!(
            "\"{}\" is not a known time zone",
            tenant.timezone
        )));
    }
    tenant.id = id;
    state.engine.put_tenant(&tenant).await?;
    Ok((StatusCode::OK, Json(tenant)))
}
