//! Events: `POST /v1/events` stores an event durably before answering, upserts its inline
//! contact (by id, phone or email, the engine's one rule: `inbound::contacts`) or uses the
//! named one, and starts, resumes and cancels runs. It is idempotent by `external_id` or the `Idempotency-Key` header: a repeat answers
//! `duplicate: true` with the first event's id and the runs it started. `POST
//! /v1/events/batch` takes up to 1,000 events, checked all before any is stored.

use crate::server::Code;
use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use serde::Deserialize;
use serde_json::{Map, Value, json};
use stepwise_engine::inbound::contacts::ContactRef;
use stepwise_engine::model::{Contact, Event};

use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::server::extract::ApiJson;
use crate::server::{ApiError, AppState, Editor};

/// Most events one batch may carry.
const MAX_BATCH: usize = 1000;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(ingest))
        .routes(routes!(ingest_batch))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct EventBody {
    /// Dotted lowercase words, e.g. `lead.created`.
    #[serde(rename = "type")]
    #[schema(pattern = r"^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+$", max_length = 100)]
    event_type: String,
    #[serde(default)]
    data: Map<String, Value>,
    /// Where the event comes from (default `api`); with `external_id`, what makes it unique.
    #[serde(default)]
    #[schema(min_length = 1, max_length = 100)]
    source: Option<String>,
    #[serde(default)]
    #[schema(min_length = 1, max_length = 200)]
    external_id: Option<String>,
    /// The contact, inline: upserted by id, else phone, else email.
    #[serde(default)]
    contact: Option<Contact>,
    /// Or the id of an existing contact.
    #[serde(default)]
    contact_id: Option<String>,
}

fn check(body: &EventBody) -> Result<(), ApiError> {
    let bad = |m: &str| Err(ApiError::invalid(Code::InvalidEvent, m));
    if let Err(message) = stepwise_engine::model::check_event_type(&body.event_type) {
        return bad(&format!("type: {message}"));
    }
    if body
        .source
        .as_ref()
        .is_some_and(|s| s.is_empty() || s.len() > 100)
    {
        return bad("source: 1 to 100 characters");
    }
    if body
        .external_id
        .as_ref()
        .is_some_and(|s| s.is_empty() || s.len() > 200)
    {
        return bad("external_id: 1 to 200 characters");
    }
    match (&body.contact, &body.contact_id) {
        (Some(_), None) | (None, Some(_)) => Ok(()),
        _ => bad("name the contact: either contact (inline) or contact_id"),
    }
}

async fn accept(
    state: &AppState,
    tenant: &str,
    body: EventBody,
    idempotency_key: Option<&str>,
) -> Result<(StatusCode, Value), ApiError> {
    let mut event = Event::new(body.event_type, Value::Object(body.data));
    event.source = body.source.unwrap_or_else(|| "api".into());
    event.external_id = body.external_id.or(idempotency_key.map(str::to_owned));
    let named = match (body.contact, body.contact_id) {
        (Some(given), _) => ContactRef::Given(given),
        (None, Some(id)) => ContactRef::Id(id),
        (None, None) => {
            return Err(ApiError::invalid(Code::InvalidEvent, "name the contact"));
        }
    };
    let (contact_id, outcome) = state.inbound.accept_event(tenant, named, event).await?;
    let status = if outcome.duplicate {
        StatusCode::OK
    } else {
        StatusCode::ACCEPTED
    };
    let mut answer = serde_json::to_value(outcome).unwrap_or(Value::Null);
    answer["contact_id"] = Value::String(contact_id);
    Ok((status, answer))
}

pub(super) fn idempotency_key(headers: &HeaderMap) -> Result<Option<&str>, ApiError> {
    match headers.get("idempotency-key") {
        None => Ok(None),
        Some(v) => v
            .to_str()
            .ok()
            .filter(|k| (1..=200).contains(&k.len()) && k.bytes().all(|b| b.is_ascii_graphic()))
            .map(Some)
            .ok_or_else(|| {
                ApiError::bad_request("Idempotency-Key: 1 to 200 visible ASCII characters")
            }),
    }
}

/// Accept an event (editor): stored before the answer; starts, resumes and cancels runs.
#[utoipa::path(post, path = "/v1/events", tag = "events", request_body = EventBody,
    params(("Idempotency-Key" = Option<String>, Header, description = "Makes a repeat harmless when the event has no external_id", pattern = "^[!-~]{1,200}$")),
    responses((status = 202, description = "Accepted: `{event_id, contact_id, started, resumed, cancelled, skipped, failed, warnings, duplicate}`", body = Object),
              (status = 200, description = "A repeat: `duplicate: true` and the first event's id and runs", body = Object)))]
async fn ingest(
    State(state): State<AppState>,
    Editor(caller): Editor,
    headers: HeaderMap,
    ApiJson(body): ApiJson<EventBody>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    check(&body)?;
    state.engine.tenant(caller.tenant()).await?;
    let key = idempotency_key(&headers)?;
    let (status, answer) = accept(&state, caller.tenant(), body, key).await?;
    Ok((status, Json(answer)))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct Batch {
    #[schema(min_items = 1, max_items = 1000)]
    events: Vec<EventBody>,
}

/// Accept up to 1,000 events (editor); all are checked before any is stored.
#[utoipa::path(post, path = "/v1/events/batch", tag = "events", request_body = Batch,
    responses((status = 200, description = "`results`: one `{status, result}` or `{status, error}` per event, in order", body = Object)))]
async fn ingest_batch(
    State(state): State<AppState>,
    Editor(caller): Editor,
    ApiJson(batch): ApiJson<Batch>,
) -> Result<Json<Value>, ApiError> {
    if batch.events.is_empty() || batch.events.len() > MAX_BATCH {
        return Err(ApiError::invalid(
            Code::InvalidBody,
            format!("events: 1 to {MAX_BATCH} events"),
        ));
    }
    for (i, body) in batch.events.iter().enumerate() {
        check(body).map_err(|e| {
            let message = format!("events[{i}]: {}", e.message);
            ApiError::invalid(e.code, message).with_details(json!({ "index": i }))
        })?;
    }
    let mut results = Vec::with_capacity(batch.events.len());
    for body in batch.events {
        let result = match accept(&state, caller.tenant(), body, None).await {
            Ok((status, answer)) => json!({ "status": status.as_u16(), "result": answer }),
            Err(e) => json!({ "status": e.status.as_u16(),
                              "error": { "code": e.code, "message": e.message, "details": e.details } }),
        };
        results.push(result);
    }
    Ok(Json(json!({ "results": results })))
}
