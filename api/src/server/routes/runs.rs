//! `GET /v1/runs/{id}`: a run's state and its history.

use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{Value, json};
use stepwise_engine::error::EngineError;
use stepwise_engine::model::RunId;

use crate::server::{ApiError, AppState, authorize};

pub fn router() -> Router<AppState> {
    Router::new().route("/v1/runs/{id}", get(get_run))
}

async fn get_run(
    State(state): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<Json<Value>, ApiError> {
    let tenant = authorize(&state, &headers)?;
    let run_id = RunId(
        id.parse()
            .map_err(|_| ApiError::bad_request(format!("\"{id}\" is not a run id")))?,
    );
    let run = state
        .engine
        .store
        .run(&tenant, run_id)
        .await
        .map_err(EngineError::from)?;
    let records = state
        .engine
        .store
        .records(&tenant, run_id)
        .await
        .map_err(EngineError::from)?;
    Ok(Json(json!({ "run": run, "history": records })))
}
