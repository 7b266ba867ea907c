//! The platform operator's routes: `POST /v1/tenants` creates a tenant and answers its first
//! admin key (shown once); `GET /v1/tenants` lists tenants.

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{Value, json};
use stepwise_engine::model::Tenant;

use crate::access::{TenantError, create_tenant};
use crate::server::extract::{ApiJson, ApiQuery};
use crate::server::page::{self, Page};
use crate::server::{ApiError, AppState, Operator};

pub fn router() -> Router<AppState> {
    Router::new().route("/v1/tenants", get(list).post(create))
}

async fn create(
    State(state): State<AppState>,
    _: Operator,
    ApiJson(tenant): ApiJson<Tenant>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let (tenant, secret, key) =
        create_tenant(state.access.as_ref(), tenant)
            .await
            .map_err(|e| match e {
                TenantError::Invalid(message) => ApiError::invalid("invalid_tenant", message),
                TenantError::Store(e) => e.into(),
            })?;
    Operator::audit(
        &state,
        &tenant.id,
        "tenant.create",
        json!({ "name": tenant.name }),
    )
    .await;
    let mut admin_key = serde_json::to_value(&key).unwrap_or(Value::Null);
    admin_key["key"] = Value::String(secret);
    Ok((
        StatusCode::CREATED,
        Json(json!({ "tenant": tenant, "admin_key": admin_key })),
    ))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ListQuery {
    limit: Option<u32>,
    cursor: Option<String>,
}

async fn list(
    State(state): State<AppState>,
    _: Operator,
    ApiQuery(q): ApiQuery<ListQuery>,
) -> Result<Json<Page<Tenant>>, ApiError> {
    let limit = page::limit(q.limit)?;
    let after = q.cursor.as_deref().map(page::decode).transpose()?;
    let rows = state.access.tenants(after.as_deref(), limit + 1).await?;
    Ok(page::page(rows, limit, |t| page::encode(&t.id)))
}
