//! Contact imports from CSV. `POST /v1/imports` (editor) takes the file as the body
//! (`text/csv`), stores it as it streams in, and queues it: 202 with the import, whose counts
//! `GET /v1/imports/{id}` shows moving; the same file with the same options again is 200 with
//! the first import, and changes nothing. `POST /v1/imports/preview` answers the column
//! mapping and the first rows read, storing nothing. The row report is in
//! [`super::import_reports`].

use std::collections::BTreeMap;

use axum::Json;
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use futures_util::StreamExt;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use stepwise_engine::audience::import::mapping::ColumnMapping;
use stepwise_engine::audience::import::{
    self, CHUNK_BYTES, Fingerprint, Import, ImportMode, ImportOptions, MAX_FILE_BYTES, OnExisting,
};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::server::extract::{ApiPath, ApiQuery};
use crate::server::page::{self, Page};
use crate::server::{ApiError, AppState, Caller, Code, Editor};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(create, list))
        .routes(routes!(preview))
        .routes(routes!(show))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
struct ImportQuery {
    /// `skip_bad_rows` (default) or `all_or_nothing`.
    mode: Option<ImportMode>,
    /// A row of an existing contact: `update` it (default) or `skip` it.
    existing: Option<OnExisting>,
    /// Tags every contact of the file gets, comma-separated (at most 10).
    tags: Option<String>,
    /// The columns whose guess is wrong, as a JSON object of header → field, e.g.
    /// `{"Mobile":"phone","Plan":"fields.plan","Notes":"ignore"}`.
    mapping: Option<String>,
}

impl ImportQuery {
    fn options(self) -> Result<ImportOptions, ApiError> {
        let mapping: BTreeMap<String, String> = match self.mapping.as_deref() {
            None => BTreeMap::new(),
            Some(text) => serde_json::from_str(text).map_err(|e| {
                ApiError::invalid(
                    Code::InvalidImport,
                    format!("mapping: a JSON object of header → field ({e})"),
                )
            })?,
        };
        let tags = self
            .tags
            .map(|t| t.split(',').map(|t| t.trim().to_owned()).collect())
            .unwrap_or_default();
        let options = ImportOptions {
            mode: self.mode.unwrap_or_default(),
            existing: self.existing.unwrap_or_default(),
            mapping,
            tags,
        };
        import::check_options(&options).map_err(|m| ApiError::invalid(Code::InvalidImport, m))?;
        Ok(options)
    }
}

/// The body must be CSV, and not announced larger than a file may be.
fn check_csv(headers: &HeaderMap) -> Result<(), ApiError> {
    let announced = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if announced.is_some_and(|n| n > MAX_FILE_BYTES) {
        return Err(too_large());
    }
    let kind = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_ascii_lowercase();
    if kind.starts_with("text/csv") || kind.starts_with("application/csv") {
        return Ok(());
    }
    Err(ApiError::new(
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        Code::UnsupportedMediaType,
        "send the file as the body with Content-Type: text/csv",
    ))
}

fn too_large() -> ApiError {
    ApiError::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        Code::BodyTooLarge,
        format!(
            "a file may be at most {} MiB; split it",
            MAX_FILE_BYTES / (1024 * 1024)
        ),
    )
}

fn unreadable(e: impl std::fmt::Display) -> ApiError {
    ApiError::bad_request(format!("the body could not be read: {e}"))
        .with_code(Code::BodyUnreadable)
}

/// The body's first bytes (up to one chunk) and the rest of its stream.
async fn head(body: Body) -> Result<(Vec<u8>, bool, axum::body::BodyDataStream), ApiError> {
    let mut stream = body.into_data_stream();
    let mut head = Vec::new();
    while head.len() < CHUNK_BYTES {
        match stream.next().await {
            Some(Ok(bytes)) => head.extend_from_slice(&bytes),
            Some(Err(e)) => return Err(unreadable(e)),
            None => return Ok((head, true, stream)),
        }
    }
    Ok((head, false, stream))
}

/// What the import of the file would do, before anything is stored.
#[derive(Debug, Serialize, ToSchema)]
struct ImportPreview {
    /// Each column with the contact field it fills.
    mapping: Vec<ColumnMapping>,
    /// The first rows, each `{line, contact}` or `{line, errors}`.
    rows: Vec<Value>,
}

/// Checks a file's mapping and first rows; answers the preview and the head read.
async fn checked(
    state: &AppState,
    tenant_id: &str,
    options: ImportOptions,
    body: Body,
) -> Result<(Import, ImportPreview, Vec<u8>, axum::body::BodyDataStream), ApiError> {
    let tenant = state.engine.tenant(tenant_id).await?;
    let (head, whole, rest) = head(body).await?;
    if head.iter().all(u8::is_ascii_whitespace) {
        return Err(ApiError::invalid(Code::InvalidImport, "the file is empty"));
    }
    let import = import::new_import(options, jiff::Timestamp::now());
    let (mapping, rows) = import::preview(&tenant, &import, &head, whole)
        .map_err(|m| ApiError::invalid(Code::InvalidImport, m))?;
    Ok((import, ImportPreview { mapping, rows }, head, rest))
}

/// Preview an import (editor): the mapping each column gets and the first 10 rows as
/// they would be imported; nothing is stored.
#[utoipa::path(post, path = "/v1/imports/preview", tag = "imports", params(ImportQuery),
    request_body(content = String, content_type = "text/csv", description = "The CSV file, its first line the headers"),
    responses((status = 200, body = ImportPreview),
              (status = 415, description = "Not text/csv", body = crate::server::openapi::ErrorBody),
              (status = 422, description = "`invalid_import`: an empty file, a bad mapping, no phone or email column", body = crate::server::openapi::ErrorBody)))]
async fn preview(
    State(state): State<AppState>,
    Editor(caller): Editor,
    ApiQuery(q): ApiQuery<ImportQuery>,
    headers: HeaderMap,
    body: Body,
) -> Result<Json<ImportPreview>, ApiError> {
    check_csv(&headers)?;
    let (_, preview, head, rest) = checked(&state, caller.tenant(), q.options()?, body).await?;
    discard(rest, head.len()).await;
    Ok(Json(preview))
}

/// Reads the rest of a file whose head was enough, up to the size any import may have: a
/// client still sending it would otherwise find the connection closed under it (a broken pipe
/// on its next request), since the server answers before the body ends.
async fn discard(mut rest: axum::body::BodyDataStream, read: usize) {
    let size = |n: usize| u64::try_from(n).unwrap_or(u64::MAX);
    let mut total = size(read);
    while let Some(Ok(chunk)) = rest.next().await {
        total = total.saturating_add(size(chunk.len()));
        if total > MAX_FILE_BYTES {
            return;
        }
    }
}

/// Import contacts from a CSV file (editor). 202: queued, follow it with
/// `GET /v1/imports/{id}`; 200: this file was imported with these options before, and
/// that import is answered (nothing changes).
#[utoipa::path(post, path = "/v1/imports", tag = "imports", params(ImportQuery),
    request_body(content = String, content_type = "text/csv", description = "The CSV file, its first line the headers"),
    responses((status = 202, description = "Queued", body = Import),
              (status = 200, description = "The same file and options were imported before: that import", body = Import),
              (status = 409, description = "`import_busy`: an import of the tenant is still running", body = crate::server::openapi::ErrorBody),
              (status = 413, description = "Over 64 MiB", body = crate::server::openapi::ErrorBody),
              (status = 415, description = "Not text/csv", body = crate::server::openapi::ErrorBody),
              (status = 422, description = "`invalid_import`: an empty file, a bad mapping, no phone or email column", body = crate::server::openapi::ErrorBody)))]
async fn create(
    State(state): State<AppState>,
    Editor(caller): Editor,
    ApiQuery(q): ApiQuery<ImportQuery>,
    headers: HeaderMap,
    body: Body,
) -> Result<(StatusCode, Json<Import>), ApiError> {
    check_csv(&headers)?;
    let tenant = caller.tenant();
    let options = q.options()?;
    if state.audiences.unfinished_imports(tenant).await? > 0 {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            Code::ImportBusy,
            "an import of this tenant is still running; send the next when it ends (GET /v1/imports)",
        ));
    }
    let (mut import, preview, head, rest) = checked(&state, tenant, options, body).await?;
    import.mapping = preview.mapping;
    state.audiences.begin_import(tenant, &import).await?;
    let mut upload = Unsealed {
        audiences: state.audiences.clone(),
        tenant: tenant.to_owned(),
        id: import.id.clone(),
        sealed: false,
    };
    let fingerprint = spool(&state, tenant, &mut import, head, rest).await?;
    let audit = caller.audit_entry(
        "import.create",
        &format!("import:{}", import.id),
        json!({"bytes": import.bytes, "mode": import.options.mode}),
    );
    let (answer, new) = state
        .audiences
        .seal_import(tenant, &import, &fingerprint, &audit)
        .await?;
    upload.sealed = true;
    if !new {
        return Ok((StatusCode::OK, Json(answer)));
    }
    state.import_queued.notify_one();
    tracing::info!(tenant_id = %tenant, import_id = %answer.id, bytes = answer.bytes, "import queued");
    Ok((StatusCode::ACCEPTED, Json(answer)))
}

/// An upload not sealed when its request ends (an error answered, or the client hung up
/// mid-file, which drops the handler) is discarded: its chunks go, and the tenant may import
/// again at once rather than after the upload is deemed abandoned.
struct Unsealed {
    audiences: std::sync::Arc<dyn stepwise_engine::ports::AudienceStore>,
    tenant: String,
    id: String,
    sealed: bool,
}

impl Drop for Unsealed {
    fn drop(&mut self) {
        if self.sealed {
            return;
        }
        let (audiences, tenant, id) = (
            self.audiences.clone(),
            std::mem::take(&mut self.tenant),
            std::mem::take(&mut self.id),
        );
        tokio::spawn(async move {
            if let Err(e) = audiences.discard_import(&tenant, &id).await {
                tracing::warn!(tenant_id = %tenant, import_id = %id, error = %e, "an unfinished upload could not be discarded");
            }
        });
    }
}

/// Stores the file a chunk at a time; answers its fingerprint.
async fn spool(
    state: &AppState,
    tenant: &str,
    import: &mut Import,
    head: Vec<u8>,
    mut rest: axum::body::BodyDataStream,
) -> Result<String, ApiError> {
    let mut fingerprint = Fingerprint::default();
    let (mut chunk, mut seq, mut total) = (head, 0u64, 0u64);
    loop {
        let end = match rest.next().await {
            Some(Ok(bytes)) => {
                chunk.extend_from_slice(&bytes);
                false
            }
            Some(Err(e)) => return Err(unreadable(e)),
            None => true,
        };
        if chunk.len() >= CHUNK_BYTES || (end && !chunk.is_empty()) {
            total += chunk.len() as u64;
            if total > MAX_FILE_BYTES {
                return Err(too_large());
            }
            fingerprint.update(&chunk);
            let full = std::mem::take(&mut chunk);
            state
                .audiences
                .put_import_chunk(tenant, &import.id, seq, full)
                .await?;
            seq += 1;
        }
        if end {
            import.bytes = total;
            return Ok(fingerprint.finish(&import.options));
        }
    }
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
struct ListQuery {
    /// At most this many, newest first (1 to 200, default 50).
    limit: Option<u32>,
}

/// The tenant's imports, newest first.
#[utoipa::path(get, path = "/v1/imports", tag = "imports", params(ListQuery),
    responses((status = 200, body = Page<Import>)))]
async fn list(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(q): ApiQuery<ListQuery>,
) -> Result<Json<Page<Import>>, ApiError> {
    let limit = page::limit(q.limit)?;
    let data = state.audiences.imports(caller.tenant(), limit).await?;
    Ok(Json(Page {
        data,
        next_cursor: None,
    }))
}

/// An import, with its counts as it runs.
#[utoipa::path(get, path = "/v1/imports/{id}", tag = "imports",
    params(("id" = String, Path, description = "The import's id")),
    responses((status = 200, body = Import),
              (status = 404, description = "No such import", body = crate::server::openapi::ErrorBody)))]
async fn show(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
) -> Result<Json<Import>, ApiError> {
    Ok(Json(state.audiences.import(caller.tenant(), &id).await?))
}
