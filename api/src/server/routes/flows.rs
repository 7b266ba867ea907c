//! Flows: publish (`POST /v1/flows`, YAML or JSON by content type; each save is a new
//! immutable version), list, get (JSON, or the YAML as written with `?format=yaml`), update
//! (`PUT /v1/flows/{id}`), versions, enable / disable / archive. Running runs always finish
//! on the version they started on.

use crate::server::Code;
use axum::Json;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Value, json};
use stepwise_engine::ports::{FlowDocument, FlowSummary, FlowVersionInfo};

use utoipa::IntoParams;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::server::extract::{ApiPath, ApiQuery, FlowSource};
use crate::server::page::{self, Page};
use crate::server::{ApiError, AppState, Caller, Editor};

/// What a publish takes.
const FLOW_BODY: &str = "The flow as YAML (application/yaml) or JSON (application/json); with \
    the values of its declared config, JSON: {\"flow\": \"<the YAML>\" or {the flow}, \"config\": {...}}";

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list, create))
        .routes(routes!(show, update))
        .routes(routes!(versions))
        .routes(routes!(version))
        .routes(routes!(enable))
        .routes(routes!(disable))
        .routes(routes!(archive))
}

/// The flow's id as its source declares it, or every diagnostic (422).
async fn declared_id(state: &AppState, tenant: &str, source: &str) -> Result<String, ApiError> {
    let (flow, _) = state.engine.check_flow(tenant, source).await?;
    Ok(flow.id().to_owned())
}

async fn publish(
    state: &AppState,
    caller: &Caller,
    flow_id: &str,
    source: String,
    config: Value,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let tenant = caller.tenant();
    let existing = state.listings.flow(tenant, flow_id).await.ok();
    if existing.as_ref().is_some_and(|f| f.archived) {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            Code::FlowArchived,
            format!("flow {flow_id} is archived; give the new flow another id"),
        ));
    }
    let doc = FlowDocument {
        source,
        config,
        templates: json!({}),
        origin: None,
    };
    let audit = caller.audit_entry("flow.publish", &format!("flow:{flow_id}"), Value::Null);
    let published = state.engine.publish(tenant, doc, Some(&audit)).await?;
    let status = if published.version == 1 {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    let body = json!({ "id": published.flow_id, "version": published.version, "warnings": published.warnings });
    Ok((status, Json(body)))
}

/// Publish a flow: its first version, or the next one if it exists (editor).
#[utoipa::path(post, path = "/v1/flows", tag = "flows", request_body(description = FLOW_BODY, content((String = "application/yaml"), (Object = "application/json"))),
    responses((status = 201, description = "Created: `{id, version, warnings}`", body = Object),
              (status = 200, description = "A new version of an existing flow", body = Object)))]
async fn create(
    State(state): State<AppState>,
    Editor(caller): Editor,
    FlowSource { source, config }: FlowSource,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let id = declared_id(&state, caller.tenant(), &source).await?;
    publish(&state, &caller, &id, source, config).await
}

/// Save a new immutable version of a flow; the body must declare the same id (editor).
#[utoipa::path(put, path = "/v1/flows/{id}", tag = "flows", request_body(description = FLOW_BODY, content((String = "application/yaml"), (Object = "application/json"))),
    params(("id" = String, Path, description = "The flow's id")),
    responses((status = 200, description = "`{id, version, warnings}`", body = Object)))]
async fn update(
    State(state): State<AppState>,
    Editor(caller): Editor,
    ApiPath(id): ApiPath<String>,
    FlowSource { source, config }: FlowSource,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    state.listings.flow(caller.tenant(), &id).await?;
    let declared = declared_id(&state, caller.tenant(), &source).await?;
    if declared != id {
        return Err(ApiError::invalid(
            Code::IdMismatch,
            format!("the body declares flow {declared:?}, the path names {id:?}"),
        ));
    }
    publish(&state, &caller, &id, source, config).await
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
struct ListQuery {
    limit: Option<u32>,
    cursor: Option<String>,
    /// Include archived flows.
    #[serde(default)]
    archived: bool,
}

/// List flows in id order (archived ones with `archived=true`).
#[utoipa::path(get, path = "/v1/flows", tag = "flows", params(ListQuery),
    responses((status = 200, body = Page<FlowSummary>)))]
async fn list(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(q): ApiQuery<ListQuery>,
) -> Result<Json<Page<FlowSummary>>, ApiError> {
    let limit = page::limit(q.limit)?;
    let after = q.cursor.as_deref().map(page::decode).transpose()?;
    let rows = state
        .listings
        .flows(caller.tenant(), q.archived, after.as_deref(), limit + 1)
        .await?;
    Ok(page::page(rows, limit, |f| page::encode(&f.id)))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
struct FormatQuery {
    /// `json` (default) or `yaml` (the source as written).
    format: Option<String>,
}

/// A version as answered: the source as written, or JSON with the definition parsed.
fn answer_version(
    summary: Option<&FlowSummary>,
    version: u32,
    doc: FlowDocument,
    format: Option<&str>,
) -> Result<Response, ApiError> {
    match format.unwrap_or("json") {
        "yaml" => Ok((
            [(header::CONTENT_TYPE, "application/yaml; charset=utf-8")],
            doc.source,
        )
            .into_response()),
        "json" => {
            let definition: Value = serde_saphyr::from_str(&doc.source).unwrap_or(Value::Null);
            let mut body = json!({
                "version": version,
                "source": doc.source,
                "definition": definition,
                "config": doc.config,
                "templates": doc.templates,
                "origin": doc.origin,
            });
            if let Some(summary) = summary {
                body["flow"] = serde_json::to_value(summary).unwrap_or(Value::Null);
            }
            Ok(Json(body).into_response())
        }
        other => Err(
            ApiError::bad_request(format!("format {other:?}: ask for json or yaml"))
                .with_code(Code::InvalidQuery),
        ),
    }
}

/// A flow's newest version: JSON with the parsed definition, or the YAML as written.
#[utoipa::path(get, path = "/v1/flows/{id}", tag = "flows", params(("id" = String, Path, description = "The flow's id"), FormatQuery),
    responses((status = 200, description = "JSON, or YAML with `format=yaml`",
               content((Object = "application/json"), (Object = "application/yaml")))))]
async fn show(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
    ApiQuery(q): ApiQuery<FormatQuery>,
) -> Result<Response, ApiError> {
    let summary = state.listings.flow(caller.tenant(), &id).await?;
    let doc = state
        .engine
        .store
        .flow_version(caller.tenant(), &id, summary.latest_version)
        .await?;
    answer_version(
        Some(&summary),
        summary.latest_version,
        doc,
        q.format.as_deref(),
    )
}

/// One version of a flow.
#[utoipa::path(get, path = "/v1/flows/{id}/versions/{version}", tag = "flows",
    params(("id" = String, Path, description = "The flow's id"), ("version" = u32, Path, description = "The version number"), FormatQuery),
    responses((status = 200, description = "JSON, or YAML with `format=yaml`",
               content((Object = "application/json"), (Object = "application/yaml")))))]
async fn version(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath((id, version)): ApiPath<(String, u32)>,
    ApiQuery(q): ApiQuery<FormatQuery>,
) -> Result<Response, ApiError> {
    let doc = state
        .engine
        .store
        .flow_version(caller.tenant(), &id, version)
        .await?;
    answer_version(None, version, doc, q.format.as_deref())
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
struct VersionsQuery {
    limit: Option<u32>,
    cursor: Option<String>,
}

/// A flow's versions, newest first.
#[utoipa::path(get, path = "/v1/flows/{id}/versions", tag = "flows", params(("id" = String, Path, description = "The flow's id"), VersionsQuery),
    responses((status = 200, body = Page<FlowVersionInfo>)))]
async fn versions(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
    ApiQuery(q): ApiQuery<VersionsQuery>,
) -> Result<Json<Page<FlowVersionInfo>>, ApiError> {
    let limit = page::limit(q.limit)?;
    let before = match q.cursor.as_deref().map(page::decode).transpose()? {
        Some(text) => Some(text.parse::<u32>().map_err(|_| {
            ApiError::bad_request("the cursor is not one this API gave out")
                .with_code(Code::InvalidCursor)
        })?),
        None => None,
    };
    let rows = state
        .listings
        .flow_versions(caller.tenant(), &id, before, limit + 1)
        .await?;
    Ok(page::page(rows, limit, |v| {
        page::encode(&v.version.to_string())
    }))
}

async fn set_enabled(
    state: &AppState,
    caller: &Caller,
    id: &str,
    enabled: bool,
) -> Result<Json<FlowSummary>, ApiError> {
    let flow = state.listings.flow(caller.tenant(), id).await?;
    if flow.archived && enabled {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            Code::FlowArchived,
            format!("flow {id} is archived and cannot be enabled"),
        ));
    }
    let action = if enabled {
        "flow.enable"
    } else {
        "flow.disable"
    };
    let audit = caller.audit_entry(action, &format!("flow:{id}"), Value::Null);
    state
        .engine
        .set_flow_enabled(caller.tenant(), id, enabled, Some(&audit))
        .await?;
    Ok(Json(state.listings.flow(caller.tenant(), id).await?))
}

/// Enable a flow: its trigger starts runs again (editor).
#[utoipa::path(post, path = "/v1/flows/{id}/enable", tag = "flows", params(("id" = String, Path, description = "The flow's id")),
    responses((status = 200, body = FlowSummary)))]
async fn enable(
    State(state): State<AppState>,
    Editor(caller): Editor,
    ApiPath(id): ApiPath<String>,
) -> Result<Json<FlowSummary>, ApiError> {
    set_enabled(&state, &caller, &id, true).await
}

/// Disable a flow: no new runs; running runs go on (editor).
#[utoipa::path(post, path = "/v1/flows/{id}/disable", tag = "flows", params(("id" = String, Path, description = "The flow's id")),
    responses((status = 200, body = FlowSummary)))]
async fn disable(
    State(state): State<AppState>,
    Editor(caller): Editor,
    ApiPath(id): ApiPath<String>,
) -> Result<Json<FlowSummary>, ApiError> {
    set_enabled(&state, &caller, &id, false).await
}

/// Archive a flow: disabled and left out of lists; running runs go on (editor).
#[utoipa::path(post, path = "/v1/flows/{id}/archive", tag = "flows", params(("id" = String, Path, description = "The flow's id")),
    responses((status = 200, body = FlowSummary)))]
async fn archive(
    State(state): State<AppState>,
    Editor(caller): Editor,
    ApiPath(id): ApiPath<String>,
) -> Result<Json<FlowSummary>, ApiError> {
    let audit = caller.audit_entry("flow.archive", &format!("flow:{id}"), Value::Null);
    state
        .listings
        .archive_flow(caller.tenant(), &id, &audit)
        .await?;
    // The engine's copy of the live flows must forget the archived one at once.
    state.engine.flows_changed(caller.tenant());
    Ok(Json(state.listings.flow(caller.tenant(), &id).await?))
}
