//! `GET /v1/usage`: what the business used this month (UTC) and today, day by day, its
//! contacts and active runs, against the caps of its plan, with the month's notices
//! (docs/usage.md).

use axum::Json;
use axum::extract::State;
use stepwise_engine::runtime::UsageReport;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::server::{ApiError, AppState, Caller};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(usage))
}

/// The tenant's usage and its plan's caps (viewer).
#[utoipa::path(get, path = "/v1/usage", tag = "settings",
    responses((status = 200, body = UsageReport)))]
async fn usage(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Json<UsageReport>, ApiError> {
    Ok(Json(state.engine.usage_report(caller.tenant()).await?))
}
