//! Runs: list with filters (flow, status, contact, start time), get with the full history in
//! the simulator's timeline format, cancel, retry a failed run from the step that failed,
//! dead letters (failed runs with their last error), and the message outbox.

use crate::server::Code;
use axum::Json;
use axum::extract::State;
use jiff::Timestamp;
use jiff::tz::TimeZone;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use stepwise_engine::model::{Run, RunId, RunStatus};
use stepwise_engine::ports::{Message, MessageFilter, RunFilter};
use stepwise_engine::runtime::{TimelineEntry, Unheard};

use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::server::extract::{ApiPath, ApiQuery, OptionalJson};
use crate::server::page::{self, Page};
use crate::server::{ApiError, AppState, Caller, Editor};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list))
        .routes(routes!(show))
        .routes(routes!(cancel))
        .routes(routes!(retry))
        .routes(routes!(run_messages))
        .routes(routes!(dead_letters))
        .routes(routes!(messages))
}

fn run_id(text: &str) -> Result<RunId, ApiError> {
    // Not a run id: it names no run of this tenant, like any unknown id.
    text.parse()
        .map(RunId)
        .map_err(|_| ApiError::not_found(format!("run {text} not found")))
}

/// A run as listed: its state without the working variables.
#[derive(Debug, Serialize, ToSchema)]
struct RunSummary {
    id: RunId,
    flow_id: String,
    flow_version: u32,
    contact_id: String,
    status: RunStatus,
    started_at: Timestamp,
    ended_at: Option<Timestamp>,
    wake_at: Option<Timestamp>,
    /// Why it ended, or the last error of a failed run.
    end_reason: Option<String>,
}

impl From<Run> for RunSummary {
    fn from(run: Run) -> Self {
        Self {
            id: run.id,
            flow_id: run.flow_id,
            flow_version: run.flow_version,
            contact_id: run.contact_id,
            status: run.status,
            started_at: run.started_at,
            ended_at: run.ended_at,
            wake_at: run.wake_at,
            end_reason: run.end_reason,
        }
    }
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
struct ListQuery {
    limit: Option<u32>,
    cursor: Option<String>,
    flow_id: Option<String>,
    status: Option<RunStatus>,
    contact_id: Option<String>,
    /// Started at or after (RFC 3339).
    since: Option<Timestamp>,
    /// Started before (RFC 3339).
    until: Option<Timestamp>,
}

async fn list_page(
    state: &AppState,
    caller: &Caller,
    q: ListQuery,
) -> Result<Json<Page<RunSummary>>, ApiError> {
    let limit = page::limit(q.limit)?;
    let after = q.cursor.as_deref().map(page::decode_time).transpose()?;
    let filter = RunFilter {
        flow_id: q.flow_id,
        status: q.status,
        contact_id: q.contact_id,
        since: q.since,
        until: q.until,
    };
    let rows = state
        .listings
        .list_runs(caller.tenant(), &filter, after.as_ref(), limit + 1)
        .await?;
    Ok(page::page_map(
        rows,
        limit,
        |r| page::encode_time(r.started_at, &r.id.to_string()),
        RunSummary::from,
    ))
}

/// A page of runs, and the events of the last 7 days that started none.
#[derive(Debug, Serialize, ToSchema)]
struct RunList {
    data: Vec<RunSummary>,
    /// Pass as `cursor` for the next page; absent on the last one.
    next_cursor: Option<String>,
    /// Event types that arrived in the last 7 days while no live flow listened for them, and
    /// that still none does (a misspelt type, or its flow switched off), the most recent
    /// first; the same on every page.
    unheard: Vec<Unheard>,
}

/// List runs, newest first, with filters; `unheard` names event types that started nothing.
#[utoipa::path(get, path = "/v1/runs", tag = "runs", params(ListQuery),
    responses((status = 200, body = RunList)))]
async fn list(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(q): ApiQuery<ListQuery>,
) -> Result<Json<RunList>, ApiError> {
    let Json(Page { data, next_cursor }) = list_page(&state, &caller, q).await?;
    let unheard = state.engine.unheard_types(caller.tenant()).await?;
    Ok(Json(RunList {
        data,
        next_cursor,
        unheard,
    }))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
struct DeadLetterQuery {
    limit: Option<u32>,
    cursor: Option<String>,
    flow_id: Option<String>,
}

/// Failed runs, newest first, each with its last error (`end_reason`): retry one with
/// `POST /v1/runs/{id}/retry`.
#[utoipa::path(get, path = "/v1/dead-letters", tag = "runs", params(DeadLetterQuery),
    responses((status = 200, body = Page<RunSummary>)))]
async fn dead_letters(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(q): ApiQuery<DeadLetterQuery>,
) -> Result<Json<Page<RunSummary>>, ApiError> {
    let q = ListQuery {
        limit: q.limit,
        cursor: q.cursor,
        flow_id: q.flow_id,
        status: Some(RunStatus::Failed),
        contact_id: None,
        since: None,
        until: None,
    };
    list_page(&state, &caller, q).await
}

/// A run with its full history in the simulator's timeline format.
#[utoipa::path(get, path = "/v1/runs/{id}", tag = "runs", params(("id" = String, Path, description = "The run's id")),
    responses((status = 200, description = "`{run, vars, outputs, trigger, timeline}`", body = Object)))]
async fn show(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
) -> Result<Json<Value>, ApiError> {
    let tenant = caller.tenant();
    let id = run_id(&id)?;
    let run = state.engine.store.run(tenant, id).await?;
    let records = state.engine.store.records(tenant, id).await?;
    let settings = state.engine.tenant(tenant).await?;
    let zone = TimeZone::get(&settings.timezone).unwrap_or(TimeZone::UTC);
    // Each send shows where its delivery stands now (the provider's reports move it on).
    let deliveries: std::collections::HashMap<String, Message> = state
        .engine
        .store
        .messages(tenant, id)
        .await?
        .into_iter()
        .map(|m| (m.id.clone(), m))
        .collect();
    let timeline: Vec<Value> = records
        .into_iter()
        .map(|r| {
            let key = format!(
                "{id}:{}:{}",
                r.step.as_deref().unwrap_or_default(),
                r.attempt
            );
            let mut entry = TimelineEntry::from_record(r, None).to_json(run.started_at, &zone);
            if let (Some(m), Some(fields)) = (deliveries.get(&key), entry.as_object_mut())
                && fields.get("kind").and_then(Value::as_str) == Some("sent")
            {
                let mut delivery = json!({"status": m.status});
                if let Some(code) = &m.error_code {
                    delivery["error_code"] = json!(code);
                }
                fields.insert("delivery".into(), delivery);
            }
            entry
        })
        .collect();
    Ok(Json(json!({
        "run": RunSummary::from(run.clone()),
        "vars": run.vars,
        "outputs": run.outputs,
        "trigger": run.trigger,
        "timeline": timeline,
    })))
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct CancelBody {
    reason: Option<String>,
}

/// Cancel an active run (editor); the body `{"reason": …}` is optional.
#[utoipa::path(post, path = "/v1/runs/{id}/cancel", tag = "runs", params(("id" = String, Path, description = "The run's id")),
    request_body(content = Option<CancelBody>, content_type = "application/json"),
    responses((status = 200, body = RunSummary)))]
async fn cancel(
    State(state): State<AppState>,
    Editor(caller): Editor,
    ApiPath(id): ApiPath<String>,
    OptionalJson(body): OptionalJson<CancelBody>,
) -> Result<Json<RunSummary>, ApiError> {
    let id = run_id(&id)?;
    let reason = body
        .reason
        .unwrap_or_else(|| format!("cancelled by {}", caller.key.prefix));
    let audit = caller.audit_entry(
        "run.cancel",
        &format!("run:{id}"),
        json!({ "reason": reason }),
    );
    state
        .engine
        .cancel_run(caller.tenant(), id, &reason, Some(audit))
        .await?;
    Ok(Json(
        state.engine.store.run(caller.tenant(), id).await?.into(),
    ))
}

/// Retry a failed run from the step that failed (editor).
#[utoipa::path(post, path = "/v1/runs/{id}/retry", tag = "runs", params(("id" = String, Path, description = "The run's id")),
    responses((status = 200, body = RunSummary)))]
async fn retry(
    State(state): State<AppState>,
    Editor(caller): Editor,
    ApiPath(id): ApiPath<String>,
) -> Result<Json<RunSummary>, ApiError> {
    let id = run_id(&id)?;
    let audit = caller.audit_entry("run.retry", &format!("run:{id}"), Value::Null);
    state
        .engine
        .retry_run(caller.tenant(), id, Some(audit))
        .await?;
    Ok(Json(
        state.engine.store.run(caller.tenant(), id).await?.into(),
    ))
}

/// The messages a run sent, newest first (the outbox filtered to one run).
#[utoipa::path(get, path = "/v1/runs/{id}/messages", tag = "runs",
    params(("id" = String, Path, description = "The run's id"), PageQuery),
    responses((status = 200, body = Page<Message>)))]
async fn run_messages(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
    ApiQuery(q): ApiQuery<PageQuery>,
) -> Result<Json<Page<Message>>, ApiError> {
    let id = run_id(&id)?;
    state.engine.store.run(caller.tenant(), id).await?; // 404 for another tenant's run
    let limit = page::limit(q.limit)?;
    let after = q.cursor.as_deref().map(page::decode_time).transpose()?;
    let filter = MessageFilter {
        run_id: Some(id),
        ..MessageFilter::default()
    };
    let rows = state
        .listings
        .list_messages(caller.tenant(), &filter, after.as_ref(), limit + 1)
        .await?;
    Ok(page::page(rows, limit, |m| page::encode_time(m.at, &m.id)))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
struct PageQuery {
    limit: Option<u32>,
    cursor: Option<String>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
struct MessageQuery {
    limit: Option<u32>,
    cursor: Option<String>,
    run_id: Option<String>,
    status: Option<String>,
    channel: Option<String>,
}

/// The message outbox with delivery status, newest first.
#[utoipa::path(get, path = "/v1/messages", tag = "runs", params(MessageQuery),
    responses((status = 200, body = Page<Message>)))]
async fn messages(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(q): ApiQuery<MessageQuery>,
) -> Result<Json<Page<Message>>, ApiError> {
    let limit = page::limit(q.limit)?;
    let after = q.cursor.as_deref().map(page::decode_time).transpose()?;
    let run_id = match q.run_id.as_deref() {
        Some(text) => Some(text.parse().map(RunId).map_err(|_| {
            ApiError::bad_request(format!("run_id {text:?} is not a run id"))
                .with_code(Code::InvalidQuery)
        })?),
        None => None,
    };
    let filter = MessageFilter {
        run_id,
        status: q.status,
        channel: q.channel,
    };
    let rows = state
        .listings
        .list_messages(caller.tenant(), &filter, after.as_ref(), limit + 1)
        .await?;
    Ok(page::page(rows, limit, |m| page::encode_time(m.at, &m.id)))
}
