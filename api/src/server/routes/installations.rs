//! What a tenant has installed: `GET /v1/installations` (module, version, pack, the tenant's
//! overrides, whether an upgrade is available), `PATCH` an installation's config or copy (a
//! new flow version), `POST …/upgrade` (a three-way merge; `dry_run` shows the plan) and
//! `DELETE` (uninstall: no new runs; running ones finish, or are cancelled on request).

use std::collections::BTreeMap;

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::Deserialize;
use serde_json::{Value, json};
use stepwise_engine::install::{Installation, Installed, Resolution, UpgradePlan};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::server::extract::{ApiJson, ApiPath, ApiQuery, OptionalJson};
use crate::server::{ApiError, AppState, Caller, Editor};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list))
        .routes(routes!(show, change, uninstall))
        .routes(routes!(upgrade))
}

/// The tenant's installations, by module id.
#[utoipa::path(get, path = "/v1/installations", tag = "modules",
    responses((status = 200, description = "`{data: [installation]}`", body = Object)))]
async fn list(State(state): State<AppState>, caller: Caller) -> Result<Json<Value>, ApiError> {
    let data = state.installer.installations(caller.tenant()).await?;
    Ok(Json(json!({ "data": data })))
}

/// One installation.
#[utoipa::path(get, path = "/v1/installations/{id}", tag = "modules",
    params(("id" = String, Path, description = "The module's id")),
    responses((status = 200, body = Installation)))]
async fn show(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(module): ApiPath<String>,
) -> Result<Json<Installation>, ApiError> {
    Ok(Json(state.installer.get(caller.tenant(), &module).await?))
}

/// Change the tenant's config values or copy (editor): a JSON merge patch over
/// `{config, templates}` (a key set to null goes back to the module's or the pack's value),
/// published as a new flow version. Running runs finish on their version.
#[utoipa::path(patch, path = "/v1/installations/{id}", tag = "modules",
    params(("id" = String, Path, description = "The module's id")),
    request_body(content = InstallationPatch, description = "`{\"config\": {...}, \"templates\": {...}}`, as a merge patch"),
    responses((status = 200, body = Installed),
              (status = 400, description = "`invalid_input`: not a patch of `{config, templates}`", body = crate::server::openapi::ErrorBody),
              (status = 409, description = "`conflict`: the catalog has a newer version; upgrade first", body = crate::server::openapi::ErrorBody),
              (status = 422, description = "`invalid_config`: every problem, each at its place", body = crate::server::openapi::ErrorBody)))]
async fn change(
    State(state): State<AppState>,
    Editor(caller): Editor,
    ApiPath(module): ApiPath<String>,
    ApiJson(patch): ApiJson<InstallationPatch>,
) -> Result<Json<Installed>, ApiError> {
    let patch = serde_json::to_value(&patch).unwrap_or(Value::Null);
    let audit = caller.audit_entry(
        "installation.change",
        &format!("module:{module}"),
        Value::Null,
    );
    let installed = state
        .installer
        .change(caller.tenant(), &module, &patch, Some(&audit))
        .await?;
    Ok(Json(installed))
}

/// A change to an installation: a JSON merge patch of the tenant's values (a key set to null
/// goes back to the module's or the pack's).
#[derive(Debug, Deserialize, serde::Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct InstallationPatch {
    /// Config values by key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    config: Option<serde_json::Map<String, Value>>,
    /// Copy by template name (a text, or null).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    templates: Option<serde_json::Map<String, Value>>,
}

/// An upgrade's choices.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct UpgradeBody {
    /// Only answer the plan (what changes, what conflicts); change nothing.
    #[serde(default)]
    dry_run: bool,
    /// How each conflicting template is resolved: `mine` or `theirs`.
    #[serde(default)]
    resolve: BTreeMap<String, Resolution>,
    /// Changes to the tenant's config values made with the upgrade, as a merge patch (null
    /// drops a key): for a key the new version renamed or reshaped.
    #[serde(default)]
    config: Option<serde_json::Map<String, Value>>,
}

/// Upgrade to the catalog's version of the module (editor): the tenant's edits are kept, the
/// module's new copy arrives where the tenant left the text alone, and a text both changed is
/// a conflict that blocks the upgrade (409, with the plan) until resolved.
#[utoipa::path(post, path = "/v1/installations/{id}/upgrade", tag = "modules",
    params(("id" = String, Path, description = "The module's id")),
    request_body(content = UpgradeBody, description = "`dry_run`, resolutions and config changes (all optional)"),
    responses((status = 200, description = "The plan, applied unless `dry_run`", body = UpgradePlan),
              (status = 409, description = "`conflict`: unresolved conflicts; `details.plan` shows them", body = crate::server::openapi::ErrorBody),
              (status = 422, description = "`invalid_config`: the tenant's values (with `config`'s changes) do not fit the new version", body = crate::server::openapi::ErrorBody)))]
async fn upgrade(
    State(state): State<AppState>,
    Editor(caller): Editor,
    ApiPath(module): ApiPath<String>,
    OptionalJson(body): OptionalJson<UpgradeBody>,
) -> Result<Json<UpgradePlan>, ApiError> {
    let audit = caller.audit_entry(
        "installation.upgrade",
        &format!("module:{module}"),
        Value::Null,
    );
    let plan = state
        .installer
        .upgrade(
            caller.tenant(),
            &module,
            &body.resolve,
            body.config.as_ref(),
            body.dry_run,
            Some(&audit),
        )
        .await?;
    Ok(Json(plan))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
struct UninstallQuery {
    /// Cancel the module's running runs too (otherwise they finish).
    #[serde(default)]
    cancel_runs: bool,
}

/// Uninstall (editor): the module's flow starts no new runs; running runs finish, or are
/// cancelled with `cancel_runs=true`. Installing it again turns it back on.
#[utoipa::path(delete, path = "/v1/installations/{id}", tag = "modules",
    params(("id" = String, Path, description = "The module's id"), UninstallQuery),
    responses((status = 200, description = "`{module, cancelled}`: how many runs were cancelled", body = Object)))]
async fn uninstall(
    State(state): State<AppState>,
    Editor(caller): Editor,
    ApiPath(module): ApiPath<String>,
    ApiQuery(q): ApiQuery<UninstallQuery>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let details = json!({ "cancel_runs": q.cancel_runs });
    let audit = caller.audit_entry("installation.remove", &format!("module:{module}"), details);
    let cancelled = state
        .installer
        .uninstall(caller.tenant(), &module, q.cancel_runs, Some(&audit))
        .await?;
    Ok((
        StatusCode::OK,
        Json(json!({ "module": module, "cancelled": cancelled })),
    ))
}
