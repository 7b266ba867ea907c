//! The tenant's settings: `GET /v1/settings` (any role) shows them with the provider
//! credentials reduced to "set" and their last 4 characters; `PATCH /v1/settings` (admin)
//! merges a JSON merge patch (RFC 7386); `PUT` / `DELETE /v1/settings/credentials/{name}`
//! (admin) store and remove a credential, sealed with AES-256-GCM. A credential's value is
//! never answered, audited or logged.

use crate::server::Code;
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::Deserialize;
use serde_json::{Value, json};
use stepwise_engine::model::Tenant;

use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::access::check_tenant;
use crate::server::extract::{ApiJson, ApiPath};
use crate::server::{Admin, ApiError, AppState, Caller};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(show, update))
        .routes(routes!(set_credential, delete_credential))
        .routes(routes!(rotate_hook_token))
}

/// Gives the tenant a webhook token if it has none (tenants made before tokens existed).
async fn with_hook_token(
    state: &AppState,
    caller: &crate::server::auth::Caller,
    tenant: Tenant,
) -> Result<Tenant, ApiError> {
    if !tenant.hook_token.is_empty() {
        return Ok(tenant);
    }
    replace_hook_token(state, caller, |current| current.hook_token.is_empty())
        .await
        .map(|t| t.unwrap_or(tenant))
}

/// Stores a new webhook token when `when` holds for the stored settings.
async fn replace_hook_token(
    state: &AppState,
    caller: &crate::server::auth::Caller,
    when: impl Fn(&Tenant) -> bool + Send + Sync,
) -> Result<Option<Tenant>, ApiError> {
    let token = crate::access::new_hook_token();
    let audit = caller.audit_entry("settings.hook_token", "settings", Value::Null);
    let change = |current: Tenant| {
        when(&current).then(|| Tenant {
            hook_token: token.clone(),
            ..current
        })
    };
    Ok(state
        .engine
        .update_tenant(caller.tenant(), &change, &audit)
        .await?)
}

async fn view(state: &AppState, tenant: &Tenant) -> Result<Value, ApiError> {
    let credentials: serde_json::Map<String, Value> = state
        .access
        .secrets(&tenant.id)
        .await?
        .into_iter()
        .map(|s| {
            let shown = json!({ "set": true, "last4": s.last4, "updated_at": s.updated_at });
            (s.name, shown)
        })
        .collect();
    let mut view = serde_json::to_value(tenant).unwrap_or(Value::Null);
    view["credentials"] = Value::Object(credentials);
    // The URLs to paste into each provider's console; null until the operator sets the
    // server's public URL (STEPWISE_PUBLIC_URL).
    view["hooks"] = json!(state.connectors.hook_urls(&tenant.hook_token));
    Ok(view)
}

/// The tenant's settings; credentials show only `set` and their last 4 characters.
#[utoipa::path(get, path = "/v1/settings", tag = "settings",
    responses((status = 200, description = "Tenant settings plus `credentials`", body = Object)))]
async fn show(State(state): State<AppState>, caller: Caller) -> Result<Json<Value>, ApiError> {
    let tenant = state.engine.tenant(caller.tenant()).await?;
    let tenant = with_hook_token(&state, &caller, tenant).await?;
    Ok(Json(view(&state, &tenant).await?))
}

/// RFC 7386: objects merge key by key, `null` removes, anything else replaces.
fn merge(target: &mut Value, patch: Value) {
    match patch {
        Value::Object(fields) => {
            if !target.is_object() {
                *target = json!({});
            }
            if let Value::Object(map) = target {
                for (key, value) in fields {
                    if value.is_null() {
                        map.remove(&key);
                    } else {
                        merge(map.entry(key).or_insert(Value::Null), value);
                    }
                }
            }
        }
        other => *target = other,
    }
}

/// Change settings with a JSON merge patch (RFC 7386) (admin).
#[utoipa::path(patch, path = "/v1/settings", tag = "settings",
    request_body(content = Object, description = "The settings to change, e.g. {\"timezone\": \"America/Denver\"}"),
    responses((status = 200, description = "The settings as they now are", body = Object)))]
async fn update(
    State(state): State<AppState>,
    Admin(caller): Admin,
    ApiJson(patch): ApiJson<Value>,
) -> Result<Json<Value>, ApiError> {
    if !patch.is_object() {
        return Err(ApiError::invalid(
            Code::InvalidBody,
            "send a JSON object of the settings to change",
        ));
    }
    if ["id", "credentials", "hook_token", "hooks", "plan"]
        .iter()
        .any(|k| patch.get(k).is_some())
    {
        return Err(ApiError::invalid(
            Code::InvalidBody,
            "id cannot change; set credentials with PUT /v1/settings/credentials/{name}; \
             change the webhook token with POST /v1/settings/hook-token; the plan is the \
             operator's (PUT /v1/tenants/{id}/plan)",
        ));
    }
    let patched = |current: Tenant| -> Result<Tenant, ApiError> {
        let mut merged = serde_json::to_value(&current).unwrap_or(Value::Null);
        merge(&mut merged, patch.clone());
        let mut tenant: Tenant = serde_json::from_value(merged)
            .map_err(|e| ApiError::invalid(Code::InvalidSettings, e.to_string()))?;
        tenant.id = current.id;
        check_tenant(&tenant).map_err(|m| ApiError::invalid(Code::InvalidSettings, m))?;
        for (capability, setting) in &tenant.providers {
            state
                .connectors
                .check_setting(capability, setting)
                .map_err(|m| {
                    ApiError::invalid(
                        Code::InvalidSettings,
                        format!("providers.{capability}: {m}"),
                    )
                })?;
        }
        for (source, options) in &tenant.sources {
            state
                .connectors
                .check_source(source, options)
                .map_err(|m| {
                    ApiError::invalid(Code::InvalidSettings, format!("sources.{source}: {m}"))
                })?;
        }
        Ok(tenant)
    };
    // A bad patch is answered from a fresh read; the store then applies the patch to the
    // settings as they are when it writes, so that a change made meanwhile is kept.
    patched(state.engine.store.tenant(caller.tenant()).await?)?;
    let audit = caller.audit_entry("settings.update", "settings", json!({ "patch": patch }));
    let tenant = state
        .engine
        .update_tenant(caller.tenant(), &|current| patched(current).ok(), &audit)
        .await?
        .ok_or_else(|| {
            ApiError::new(
                StatusCode::CONFLICT,
                Code::Conflict,
                "the settings changed meanwhile and the patch no longer applies: read them again",
            )
        })?;
    Ok(Json(view(&state, &tenant).await?))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct Credential {
    value: String,
}

impl std::fmt::Debug for Credential {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Credential(..)")
    }
}

fn check_name(name: &str) -> Result<(), ApiError> {
    let ok = (1..=64).contains(&name.len())
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
    if ok {
        Ok(())
    } else {
        Err(ApiError::bad_request(
            "a credential name is 1–64 lowercase letters, digits and underscores, e.g. twilio_auth_token",
        )
        .with_code(Code::InvalidPath))
    }
}

/// Store a provider credential, sealed with AES-256-GCM (admin). Its value is never answered.
#[utoipa::path(put, path = "/v1/settings/credentials/{name}", tag = "settings",
    params(("name" = String, Path, description = "e.g. twilio_auth_token", pattern = "^[a-z0-9_]{1,64}$")),
    request_body = Credential,
    responses((status = 200, description = "`{name, set, last4}`", body = Object)))]
async fn set_credential(
    State(state): State<AppState>,
    Admin(caller): Admin,
    ApiPath(name): ApiPath<String>,
    ApiJson(body): ApiJson<Credential>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    check_name(&name)?;
    let value = body.value;
    if value.is_empty() || value.len() > 8192 {
        return Err(ApiError::invalid(
            Code::InvalidBody,
            "value: 1 to 8,192 bytes",
        ));
    }
    let tenant = caller.tenant();
    let sealed = state.secrets.seal(&value, &format!("{tenant}/{name}"));
    // The last 4 characters tell credentials apart; of a short one they would give too
    // much away, so none are shown.
    let chars: Vec<char> = value.chars().collect();
    let last4: String = if chars.len() >= 12 {
        chars[chars.len() - 4..].iter().collect()
    } else {
        String::new()
    };
    let audit = caller.audit_entry("credential.set", &format!("credential:{name}"), Value::Null);
    state
        .access
        .put_secret(tenant, &name, &sealed, &last4, &audit)
        .await?;
    Ok((
        StatusCode::OK,
        Json(json!({ "name": name, "set": true, "last4": last4 })),
    ))
}

/// Remove a provider credential (admin).
#[utoipa::path(delete, path = "/v1/settings/credentials/{name}", tag = "settings",
    params(("name" = String, Path, description = "e.g. twilio_auth_token", pattern = "^[a-z0-9_]{1,64}$")),
    responses((status = 204, description = "Removed")))]
async fn delete_credential(
    State(state): State<AppState>,
    Admin(caller): Admin,
    ApiPath(name): ApiPath<String>,
) -> Result<StatusCode, ApiError> {
    check_name(&name)?;
    let audit = caller.audit_entry(
        "credential.delete",
        &format!("credential:{name}"),
        Value::Null,
    );
    state
        .access
        .delete_secret(caller.tenant(), &name, &audit)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Replace the webhook token (admin): every `/hooks/…` URL changes and the old one stops
/// working at once; paste the new URLs (`hooks` in the answer) into the providers' consoles.
#[utoipa::path(post, path = "/v1/settings/hook-token", tag = "settings",
    responses((status = 200, description = "The settings with the new `hook_token` and `hooks`", body = Object)))]
async fn rotate_hook_token(
    State(state): State<AppState>,
    Admin(caller): Admin,
) -> Result<Json<Value>, ApiError> {
    let tenant = replace_hook_token(&state, &caller, |_| true)
        .await?
        .ok_or_else(|| ApiError::not_found("no such tenant"))?;
    Ok(Json(view(&state, &tenant).await?))
}
