//! An import's row report: `GET /v1/imports/{id}/report` (JSON pages, by line and column)
//! and `GET /v1/imports/{id}/report.csv` (the whole report as a file).

use axum::Json;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use stepwise_engine::audience::import::ReportRow;
use utoipa::IntoParams;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::server::extract::{ApiPath, ApiQuery};
use crate::server::page::{self, Page};
use crate::server::{ApiError, AppState, Caller, Code};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(report))
        .routes(routes!(report_csv))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
struct ReportQuery {
    limit: Option<u32>,
    cursor: Option<String>,
}

/// `line:column` of a report cursor.
fn report_cursor(cursor: &str) -> Result<(u64, String), ApiError> {
    let text = page::decode(cursor)?;
    text.split_once(':')
        .and_then(|(line, col)| Some((line.parse().ok()?, col.to_owned())))
        .ok_or_else(|| {
            ApiError::bad_request("the cursor is not one this API gave out")
                .with_code(Code::InvalidCursor)
        })
}

/// The import's report: each bad cell (`failed`) and each row repeating an earlier one
/// (`skipped`), by line.
#[utoipa::path(get, path = "/v1/imports/{id}/report", tag = "imports",
    params(("id" = String, Path, description = "The import's id"), ReportQuery),
    responses((status = 200, body = Page<ReportRow>),
              (status = 404, description = "No such import", body = crate::server::openapi::ErrorBody)))]
async fn report(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
    ApiQuery(q): ApiQuery<ReportQuery>,
) -> Result<Json<Page<ReportRow>>, ApiError> {
    let limit = page::limit(q.limit)?;
    let after = q.cursor.as_deref().map(report_cursor).transpose()?;
    let tenant = caller.tenant();
    state.audiences.import(tenant, &id).await?;
    let rows = state
        .audiences
        .import_report(
            tenant,
            &id,
            after.as_ref().map(|(l, c)| (*l, c.as_str())),
            limit + 1,
        )
        .await?;
    Ok(page::page(rows, limit, |r| {
        page::encode(&format!("{}:{}", r.line, r.column))
    }))
}

/// The import's report as a CSV file: `line,column,value,reason,result`.
#[utoipa::path(get, path = "/v1/imports/{id}/report.csv", tag = "imports",
    params(("id" = String, Path, description = "The import's id")),
    responses((status = 200, description = "The report", content_type = "text/csv", body = String),
              (status = 404, description = "No such import", body = crate::server::openapi::ErrorBody)))]
async fn report_csv(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
) -> Result<Response, ApiError> {
    let tenant = caller.tenant();
    state.audiences.import(tenant, &id).await?;
    let mut out = csv::Writer::from_writer(Vec::new());
    let write = |out: &mut csv::Writer<Vec<u8>>, fields: [&str; 5]| {
        out.write_record(fields).map_err(|e| {
            ApiError::from(stepwise_engine::ports::StoreError::Unavailable(
                e.to_string(),
            ))
        })
    };
    write(&mut out, ["line", "column", "value", "reason", "result"])?;
    let mut after: Option<(u64, String)> = None;
    loop {
        let rows = state
            .audiences
            .import_report(
                tenant,
                &id,
                after.as_ref().map(|(l, c)| (*l, c.as_str())),
                1_000,
            )
            .await?;
        for r in &rows {
            write(
                &mut out,
                [
                    &r.line.to_string(),
                    &r.column,
                    &r.value,
                    &r.reason,
                    &r.result,
                ],
            )?;
        }
        match rows.last() {
            Some(last) if rows.len() == 1_000 => after = Some((last.line, last.column.clone())),
            _ => break,
        }
    }
    let bytes = out.into_inner().unwrap_or_default();
    Ok((
        StatusCode::OK,
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_owned()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{id}-report.csv\""),
            ),
        ],
        bytes,
    )
        .into_response())
}
