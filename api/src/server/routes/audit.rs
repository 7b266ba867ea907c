//! `GET /v1/audit`: the tenant's audit log, newest first (admin only).

use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use serde::Deserialize;
use stepwise_engine::ports::{AuditEntry, Role};

use crate::server::extract::ApiQuery;
use crate::server::page::{self, Page};
use crate::server::{ApiError, AppState, Caller};

pub fn router() -> Router<AppState> {
    Router::new().route("/v1/audit", get(list))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ListQuery {
    limit: Option<u32>,
    cursor: Option<String>,
}

async fn list(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(q): ApiQuery<ListQuery>,
) -> Result<Json<Page<AuditEntry>>, ApiError> {
    caller.require(Role::Admin)?;
    let limit = page::limit(q.limit)?;
    let before = q.cursor.as_deref().map(page::decode).transpose()?;
    let rows = state
        .access
        .audit(caller.tenant(), before.as_deref(), limit + 1)
        .await?;
    Ok(page::page(rows, limit, |e| page::encode(&e.id)))
}
