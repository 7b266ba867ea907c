//! A tenant's API keys (admin only): create (the key is answered once), list (prefix
//! only), revoke. A revoked key answers 401 from then on.

use crate::server::Code;
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::Deserialize;
use serde_json::{Value, json};
use stepwise_engine::ports::{ApiKey, Role};

use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::access::{digest, key_answer, new_key};
use crate::server::extract::{ApiJson, ApiPath, ApiQuery};
use crate::server::page::{self, Page};
use crate::server::{Admin, ApiError, AppState};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list, create))
        .routes(routes!(revoke))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct NewKey {
    #[schema(min_length = 1, max_length = 100)]
    name: String,
    role: Role,
}

/// Create a key (admin). The key is in the answer (`key`) once and never again.
#[utoipa::path(post, path = "/v1/keys", tag = "keys", request_body = NewKey,
    responses((status = 201, description = "The key's listing plus `key`", body = ApiKey)))]
async fn create(
    State(state): State<AppState>,
    Admin(caller): Admin,
    ApiJson(body): ApiJson<NewKey>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    if body.name.trim().is_empty() || body.name.len() > 100 {
        return Err(ApiError::invalid(
            Code::InvalidBody,
            "name: say what the key is for (1 to 100 characters)",
        ));
    }
    let (secret, key) = new_key(caller.tenant(), body.name.trim(), body.role);
    let audit = caller.audit_entry(
        "key.create",
        &format!("key:{}", key.id),
        json!({ "name": key.name, "role": key.role, "prefix": key.prefix }),
    );
    state
        .access
        .create_key(&key, &digest(&secret), &audit)
        .await?;
    Ok((StatusCode::CREATED, Json(key_answer(&key, secret))))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
struct ListQuery {
    limit: Option<u32>,
    cursor: Option<String>,
}

/// List the tenant's keys, revoked ones too (admin). Only each key's prefix is shown.
#[utoipa::path(get, path = "/v1/keys", tag = "keys", params(ListQuery),
    responses((status = 200, body = Page<ApiKey>)))]
async fn list(
    State(state): State<AppState>,
    Admin(caller): Admin,
    ApiQuery(q): ApiQuery<ListQuery>,
) -> Result<Json<Page<ApiKey>>, ApiError> {
    let limit = page::limit(q.limit)?;
    let after = q.cursor.as_deref().map(page::decode).transpose()?;
    let rows = state
        .access
        .keys(caller.tenant(), after.as_deref(), limit + 1)
        .await?;
    Ok(page::page(rows, limit, |k| page::encode(&k.id)))
}

/// Revoke a key (admin): it is refused from now on.
#[utoipa::path(delete, path = "/v1/keys/{id}", tag = "keys",
    params(("id" = String, Path, description = "The key's id")),
    responses((status = 200, body = ApiKey)))]
async fn revoke(
    State(state): State<AppState>,
    Admin(caller): Admin,
    ApiPath(id): ApiPath<String>,
) -> Result<Json<ApiKey>, ApiError> {
    // The entry names the key by id; its prefix is in the answer and the key listing.
    let audit = caller.audit_entry("key.revoke", &format!("key:{id}"), Value::Null);
    let key = state
        .access
        .revoke_key(caller.tenant(), &id, jiff::Timestamp::now(), &audit)
        .await?;
    state.auth.forget_keys();
    Ok(Json(key))
}
