//! The catalog and installing from it: `GET /v1/modules`, `GET /v1/packs` (each with its
//! config schema and copy), `POST /v1/modules/{id}/install` and `POST /v1/packs/{id}/install`.
//! What is installed is under `/v1/installations` (installations.rs).

use std::collections::BTreeMap;

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};
use stepwise_engine::catalog::CatalogModule;
use stepwise_engine::install::{ChecklistState, Installed, Overrides};
use stepwise_engine::model::Pack;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::server::extract::{ApiPath, ApiQuery, OptionalJson};
use crate::server::{ApiError, AppState, Caller, Editor};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_modules))
        .routes(routes!(show_module))
        .routes(routes!(install_module))
        .routes(routes!(list_packs))
        .routes(routes!(show_pack))
        .routes(routes!(install_pack))
        .routes(routes!(onboarding))
}

/// A module as the catalog offers it.
#[derive(Debug, Serialize, ToSchema)]
struct ModuleView {
    id: String,
    version: String,
    name: String,
    summary: Option<String>,
    kpis: Vec<String>,
    /// The JSON Schema of its config, with defaults.
    config: Option<Value>,
    /// Its default copy, by template name.
    templates: BTreeMap<String, String>,
    /// The flow an installation publishes (YAML).
    flow: String,
}

fn module_view(entry: &CatalogModule) -> ModuleView {
    let m = &entry.module;
    ModuleView {
        id: m.id.clone(),
        version: m.version.clone(),
        name: m.name.clone(),
        summary: m.summary.clone(),
        kpis: m.kpis.clone(),
        config: m.config.clone(),
        templates: m.templates.clone(),
        flow: entry.flow_source.clone(),
    }
}

fn pack_view(pack: &Pack) -> Value {
    json!(pack)
}

/// Every installable module.
#[utoipa::path(get, path = "/v1/modules", tag = "modules",
    responses((status = 200, description = "`{data: [module]}`", body = Object)))]
async fn list_modules(State(state): State<AppState>, _caller: Caller) -> Json<Value> {
    let data: Vec<ModuleView> = state.installer.catalog.modules().map(module_view).collect();
    Json(json!({ "data": data }))
}

/// One module: its config schema, copy and flow.
#[utoipa::path(get, path = "/v1/modules/{id}", tag = "modules",
    params(("id" = String, Path, description = "The module's id")),
    responses((status = 200, body = ModuleView)))]
async fn show_module(
    State(state): State<AppState>,
    _caller: Caller,
    ApiPath(id): ApiPath<String>,
) -> Result<Json<ModuleView>, ApiError> {
    let entry = state
        .installer
        .catalog
        .module(&id)
        .ok_or_else(|| ApiError::not_found(format!("module {id} not found")))?;
    Ok(Json(module_view(entry)))
}

/// A module's install: the tenant's config values and copy over the module's (and the pack's).
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct ModuleInstall {
    #[serde(default)]
    config: Map<String, Value>,
    #[serde(default)]
    templates: BTreeMap<String, String>,
    /// Install it with this pack's config and copy for it.
    #[serde(default)]
    pack: Option<String>,
}

fn installed_status(changed: bool) -> StatusCode {
    if changed {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    }
}

/// Install a module: its flow is published for the tenant (editor). Installing what is
/// installed already changes nothing (200).
#[utoipa::path(post, path = "/v1/modules/{id}/install", tag = "modules",
    params(("id" = String, Path, description = "The module's id")),
    request_body(content = ModuleInstall, description = "Config values and copy (all optional)"),
    responses((status = 201, description = "Installed, or changed", body = Installed),
              (status = 200, description = "Installed so already: nothing changed", body = Installed),
              (status = 409, description = "`conflict`: a hand-written flow has the module's id", body = crate::server::openapi::ErrorBody),
              (status = 422, description = "`invalid_config`: every problem with the values, each at its place", body = crate::server::openapi::ErrorBody)))]
async fn install_module(
    State(state): State<AppState>,
    Editor(caller): Editor,
    ApiPath(id): ApiPath<String>,
    OptionalJson(body): OptionalJson<ModuleInstall>,
) -> Result<(StatusCode, Json<Installed>), ApiError> {
    let overrides = Overrides {
        config: body.config,
        templates: body.templates,
    };
    let details = json!({ "pack": body.pack });
    let audit = caller.audit_entry("module.install", &format!("module:{id}"), details);
    let installed = state
        .installer
        .install(
            caller.tenant(),
            &id,
            body.pack.as_deref(),
            overrides,
            Some(&audit),
        )
        .await?;
    Ok((installed_status(installed.changed), Json(installed)))
}

/// Every installable pack.
#[utoipa::path(get, path = "/v1/packs", tag = "modules",
    responses((status = 200, description = "`{data: [pack]}`", body = Object)))]
async fn list_packs(State(state): State<AppState>, _caller: Caller) -> Json<Value> {
    let data: Vec<Value> = state.installer.catalog.packs().map(pack_view).collect();
    Json(json!({ "data": data }))
}

/// One pack: its modules, with the config and copy it gives each.
#[utoipa::path(get, path = "/v1/packs/{id}", tag = "modules",
    params(("id" = String, Path, description = "The pack's id")),
    responses((status = 200, body = Object)))]
async fn show_pack(
    State(state): State<AppState>,
    _caller: Caller,
    ApiPath(id): ApiPath<String>,
) -> Result<Json<Value>, ApiError> {
    let pack = state
        .installer
        .catalog
        .pack(&id)
        .ok_or_else(|| ApiError::not_found(format!("pack {id} not found")))?;
    Ok(Json(pack_view(pack)))
}

/// A pack's install.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct PackInstall {
    /// Values for every module of the pack that takes the key (`booking_link`, say).
    #[serde(default)]
    config: Map<String, Value>,
    /// Values and copy for one module, by module id (over `config`).
    #[serde(default)]
    modules: BTreeMap<String, Overrides>,
}

/// Install every module of a pack (editor); each module's values are checked before any is
/// installed. Installing it again changes nothing (200).
#[utoipa::path(post, path = "/v1/packs/{id}/install", tag = "modules",
    params(("id" = String, Path, description = "The pack's id")),
    request_body(content = PackInstall, description = "Shared config values, and values and copy per module (all optional)"),
    responses((status = 201, description = "`{data: [installed]}`: at least one module installed or changed", body = Object),
              (status = 200, description = "`{data: [installed]}`: installed so already", body = Object),
              (status = 400, description = "`invalid_input`: a module the pack does not have", body = crate::server::openapi::ErrorBody),
              (status = 409, description = "`conflict`: a hand-written flow has a module's id", body = crate::server::openapi::ErrorBody),
              (status = 422, description = "`invalid_config`: every problem, at `/modules/<id>/config/…` or `/config/…`", body = crate::server::openapi::ErrorBody)))]
async fn install_pack(
    State(state): State<AppState>,
    Editor(caller): Editor,
    ApiPath(id): ApiPath<String>,
    OptionalJson(body): OptionalJson<PackInstall>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let audit = caller.audit_entry("pack.install", &format!("pack:{id}"), Value::Null);
    let installed = state
        .installer
        .install_pack(
            caller.tenant(),
            &id,
            &body.config,
            body.modules,
            Some(&audit),
        )
        .await?;
    let changed = installed.iter().any(|i| i.changed);
    Ok((
        installed_status(changed),
        Json(json!({ "data": installed })),
    ))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
struct OnboardingQuery {
    /// The pack whose checklist to answer (default: the general one).
    pack: Option<String>,
}

/// The onboarding checklist, each item answered done or not from the tenant's settings and
/// data (connected providers, a sender, the HELP answer, contacts, installed modules, a first
/// run).
#[utoipa::path(get, path = "/v1/onboarding", tag = "modules", params(OnboardingQuery),
    responses((status = 200, description = "`{data: [{check, title, done}]}`", body = Object),
              (status = 404, description = "`not_found`: no such pack", body = crate::server::openapi::ErrorBody)))]
async fn onboarding(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(q): ApiQuery<OnboardingQuery>,
) -> Result<Json<Value>, ApiError> {
    let items: Vec<ChecklistState> = state
        .installer
        .onboarding(caller.tenant(), q.pack.as_deref())
        .await?;
    Ok(Json(json!({ "data": items })))
}
