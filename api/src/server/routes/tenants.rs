//! The platform operator's routes: `POST /v1/tenants` creates a tenant and answers its first
//! admin key (shown once); `GET /v1/tenants` lists tenants; `PUT /v1/tenants/{id}/plan` puts
//! a tenant on one of the operator's plans (docs/usage.md).

use crate::server::Code;
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::Deserialize;
use serde_json::{Value, json};
use stepwise_engine::model::Tenant;
use stepwise_engine::ports::ApiKey;
use stepwise_engine::ports::AuditEntry;

use utoipa::IntoParams;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::access::{TenantError, create_tenant, key_answer, mint_admin_key};
use crate::server::extract::{ApiJson, ApiPath, ApiQuery};
use crate::server::page::{self, Page};
use crate::server::{ApiError, AppState, Operator};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list, create))
        .routes(routes!(mint_key))
        .routes(routes!(set_plan))
}

/// The plan to put a tenant on.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct PlanBody {
    /// One of the operator's plans; `null`: the default plan.
    #[schema(max_length = 64)]
    plan: Option<String>,
}

/// Put a tenant on one of the operator's plans (operator key only); audited. Its usage is
/// measured against the new caps from its next send on.
#[utoipa::path(put, path = "/v1/tenants/{id}/plan", tag = "tenants",
    params(("id" = String, Path, description = "The tenant's id")),
    request_body = PlanBody,
    responses((status = 200, description = "`{id, plan}`", body = Object),
              (status = 404, description = "`not_found`: no such tenant", body = crate::server::openapi::ErrorBody),
              (status = 422, description = "`invalid_tenant`: not one of the operator's plans", body = crate::server::openapi::ErrorBody)))]
async fn set_plan(
    State(state): State<AppState>,
    _: Operator,
    ApiPath(id): ApiPath<String>,
    ApiJson(body): ApiJson<Value>,
) -> Result<Json<Value>, ApiError> {
    // Read from an object only: serde would take `[null]` for this one-field struct.
    if !body.is_object() {
        return Err(ApiError::invalid(
            Code::InvalidBody,
            "send a JSON object: {\"plan\": \"<name>\"} or {\"plan\": null}",
        ));
    }
    let body: PlanBody = serde_json::from_value(body)
        .map_err(|e| ApiError::invalid(Code::InvalidBody, e.to_string()))?;
    if let Some(plan) = &body.plan {
        state
            .engine
            .plans()
            .check(plan)
            .map_err(|m| ApiError::invalid(Code::InvalidTenant, m))?;
    }
    state.engine.tenant(&id).await?; // 404 for an unknown tenant
    let audit = AuditEntry::now(
        "operator",
        None,
        "tenant.plan",
        &format!("tenant:{id}"),
        json!({ "plan": body.plan }),
    );
    let plan = body.plan.clone();
    let changed = move |current: Tenant| {
        Some(Tenant {
            plan: plan.clone(),
            ..current
        })
    };
    state.engine.update_tenant(&id, &changed, &audit).await?;
    Ok(Json(json!({ "id": id, "plan": body.plan })))
}

/// Mint a new admin key for a tenant (operator key only): the way back in for a tenant that
/// lost or revoked every admin key. The key is in the answer once.
#[utoipa::path(post, path = "/v1/tenants/{id}/keys", tag = "tenants",
    params(("id" = String, Path, description = "The tenant's id")),
    responses((status = 201, description = "The key's listing plus `key`", body = ApiKey)))]
async fn mint_key(
    State(state): State<AppState>,
    _: Operator,
    ApiPath(id): ApiPath<String>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    state.engine.tenant(&id).await?; // 404 for an unknown tenant
    let (secret, key) = mint_admin_key(state.access.as_ref(), &id)
        .await
        .map_err(|e| match e {
            TenantError::Invalid(message) => ApiError::invalid(Code::InvalidTenant, message),
            TenantError::Store(e) => e.into(),
        })?;
    Ok((StatusCode::CREATED, Json(key_answer(&key, secret))))
}

/// Create a tenant with its first admin key (operator key only). The key is in the answer
/// once and never again.
#[utoipa::path(post, path = "/v1/tenants", tag = "tenants",
    request_body(content = Tenant, content_type = "application/json"),
    responses((status = 201, description = "The tenant and its admin key (`admin_key.key`)", body = Object)))]
async fn create(
    State(state): State<AppState>,
    _: Operator,
    ApiJson(tenant): ApiJson<Tenant>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    if let Some(plan) = &tenant.plan {
        state
            .engine
            .plans()
            .check(plan)
            .map_err(|m| ApiError::invalid(Code::InvalidTenant, m))?;
    }
    let (tenant, secret, key) =
        create_tenant(state.access.as_ref(), tenant)
            .await
            .map_err(|e| match e {
                TenantError::Invalid(message) => ApiError::invalid(Code::InvalidTenant, message),
                TenantError::Store(e) => e.into(),
            })?;
    let admin_key = key_answer(&key, secret);
    Ok((
        StatusCode::CREATED,
        Json(json!({ "tenant": tenant, "admin_key": admin_key })),
    ))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
struct ListQuery {
    limit: Option<u32>,
    cursor: Option<String>,
}

/// List tenants in id order (operator key only).
#[utoipa::path(get, path = "/v1/tenants", tag = "tenants", params(ListQuery),
    responses((status = 200, body = Page<Tenant>)))]
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
