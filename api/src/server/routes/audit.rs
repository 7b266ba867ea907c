//! `GET /v1/audit`: the tenant's audit log, newest first (admin only).

use axum::Json;
use axum::extract::State;
use serde::Deserialize;
use stepwise_engine::ports::AuditEntry;

use utoipa::IntoParams;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::server::extract::ApiQuery;
use crate::server::page::{self, Page};
use crate::server::{Admin, ApiError, AppState};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(list))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
struct ListQuery {
    limit: Option<u32>,
    cursor: Option<String>,
}

/// The audit log, newest first (admin).
#[utoipa::path(get, path = "/v1/audit", tag = "audit", params(ListQuery),
    responses((status = 200, body = Page<AuditEntry>)))]
async fn list(
    State(state): State<AppState>,
    Admin(caller): Admin,
    ApiQuery(q): ApiQuery<ListQuery>,
) -> Result<Json<Page<AuditEntry>>, ApiError> {
    let limit = page::limit(q.limit)?;
    let before = q.cursor.as_deref().map(page::decode).transpose()?;
    let rows = state
        .access
        .audit(caller.tenant(), before.as_deref(), limit + 1)
        .await?;
    Ok(page::page(rows, limit, |e| page::encode(&e.id)))
}
