//! `POST /v1/flows`: publish a flow (YAML or JSON body) as its next immutable version.

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use axum::{Json, Router};
use serde_json::{Value, json};
use stepwise_engine::ports::FlowDocument;

use crate::server::{ApiError, AppState, authorize};

pub fn router() -> Router<AppState> {
    Router::new().route("/v1/flows", post(publish))
}

async fn publish(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: String,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let tenant = authorize(&state, &headers)?;
    let config = match headers
        .get("stepwise-flow-config")
        .and_then(|v| v.to_str().ok())
    {
        Some(text) => serde_json::from_str(text)
            .map_err(|e| ApiError::bad_request(format!("Stepwise-Flow-Config: {e}")))?,
        None => json!({}),
    };
    let doc = FlowDocument {
        source: body,
        config,
        templates: json!({}),
    };
    let published = state.engine.publish(&tenant, doc).await?;
    let body = json!({ "id": published.flow_id, "version": published.version, "warnings": published.warnings });
    Ok((StatusCode::CREATED, Json(body)))
}
