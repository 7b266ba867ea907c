//! `POST /v1/events`: accept an event durably (stored before the answer), with its contact
//! inline; start, resume and cancel runs. A repeat (same `source` and `external_id`) answers
//! `duplicate: true` and changes nothing.

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::Value;
use stepwise_engine::model::{Contact, Event};

use crate::server::{ApiError, AppState, authorize};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct EventBody {
    #[serde(rename = "type")]
    event_type: String,
    #[serde(default)]
    data: Value,
    #[serde(default)]
    source: Option<String>,
    #[serde(default)]
    external_id: Option<String>,
    contact: Contact,
}

pub fn router() -> Router<AppState> {
    Router::new().route("/v1/events", post(ingest))
}

async fn ingest(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: String,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let tenant = authorize(&state, &headers)?;
    let body: EventBody = serde_json::from_str(&body)
        .map_err(|e| ApiError::bad_request(format!("invalid event: {e}")))?;
    if body.contact.id.is_empty() {
        return Err(ApiError::bad_request("the contact needs an id"));
    }
    let mut event = Event::new(body.event_type, body.data);
    event.source = body.source.unwrap_or_else(|| "api".into());
    event.external_id = body.external_id.or_else(|| {
        headers
            .get("idempotency-key")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    });
    state.engine.tenant(&tenant).await?;
    let outcome = state
        .engine
        .ingest_for_contact(&tenant, body.contact, event)
        .await?;
    let status = if outcome.duplicate {
        StatusCode::OK
    } else {
        StatusCode::ACCEPTED
    };
    Ok((
        status,
        Json(serde_json::to_value(outcome).unwrap_or(Value::Null)),
    ))
}
