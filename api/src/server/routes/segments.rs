//! Segments: saved, named filters over the tenant's contacts (tags, custom fields, who can be
//! reached, time zone, last activity). `PUT /v1/segments/{name}` (editor) saves one,
//! `GET /v1/segments/{name}` answers it with its live count, `GET
//! /v1/segments/{name}/contacts` its members; `GET /v1/contacts?segment=` lists them too.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use serde_json::json;
use stepwise_engine::audience::campaign::{Audience, CampaignStatus};
use stepwise_engine::audience::members;
use stepwise_engine::audience::segment::{Filter, MAX_SEGMENTS, Segment};
use stepwise_engine::error::EngineError;
use stepwise_engine::model::{Contact, Tenant};
use stepwise_engine::ports::StoreError;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::server::extract::{ApiJson, ApiPath, ApiQuery};
use crate::server::page::{self, Page};
use crate::server::{ApiError, AppState, Caller, Code, Editor};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list))
        .routes(routes!(show, put, delete))
        .routes(routes!(contacts))
}

/// A segment to save.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct SegmentBody {
    #[schema(max_length = 500)]
    description: Option<String>,
    filter: Filter,
}

/// A segment with how many contacts are in it now.
#[derive(Debug, Serialize, ToSchema)]
struct CountedSegment {
    name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    description: Option<String>,
    filter: Filter,
    /// Contacts in the segment, counted when asked.
    count: u64,
}

impl CountedSegment {
    fn new(segment: Segment, count: u64) -> Self {
        Self {
            name: segment.name,
            description: segment.description,
            filter: segment.filter,
            count,
        }
    }
}

/// Save a segment (editor): 201 when new, 200 when replaced. Its custom fields must be
/// declared (`settings.custom_fields`) and its values of their type.
#[utoipa::path(put, path = "/v1/segments/{name}", tag = "segments",
    params(("name" = String, Path, description = "The segment's name: lowercase letters, digits, '-' and '_'")),
    request_body = SegmentBody,
    responses((status = 201, body = CountedSegment), (status = 200, body = CountedSegment),
              (status = 422, description = "`invalid_segment`", body = crate::server::openapi::ErrorBody)))]
async fn put(
    State(state): State<AppState>,
    Editor(caller): Editor,
    ApiPath(name): ApiPath<String>,
    ApiJson(body): ApiJson<SegmentBody>,
) -> Result<(StatusCode, Json<CountedSegment>), ApiError> {
    let tenant_id = caller.tenant();
    let tenant = state.engine.tenant(tenant_id).await?;
    let segment = Segment {
        name,
        description: body.description,
        filter: body.filter,
    };
    segment
        .check(&tenant.custom_fields)
        .map_err(|m| ApiError::invalid(Code::InvalidSegment, m))?;
    let existing = state.audiences.segments(tenant_id).await?;
    let new = !existing.iter().any(|s| s.name == segment.name);
    if new && existing.len() >= MAX_SEGMENTS {
        return Err(ApiError::invalid(
            Code::InvalidSegment,
            format!("a tenant keeps at most {MAX_SEGMENTS} segments; delete one first"),
        ));
    }
    let audit = caller.audit_entry(
        "segment.put",
        &format!("segment:{}", segment.name),
        json!({"filter": segment.filter}),
    );
    state
        .audiences
        .put_segment(tenant_id, &segment, &audit)
        .await?;
    let count = count(&state, &tenant, &segment.filter).await?;
    let status = if new {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, Json(CountedSegment::new(segment, count))))
}

/// How many of the tenant's contacts are in the filter now (one count at a time per tenant).
async fn count(state: &AppState, tenant: &Tenant, filter: &Filter) -> Result<u64, ApiError> {
    Ok(state
        .segment_counts
        .count(
            state.engine.store.as_ref(),
            state.audiences.as_ref(),
            tenant,
            filter,
        )
        .await?)
}

/// The tenant's segments, by name (without counts).
#[utoipa::path(get, path = "/v1/segments", tag = "segments",
    responses((status = 200, body = Page<Segment>)))]
async fn list(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Json<Page<Segment>>, ApiError> {
    let data = state.audiences.segments(caller.tenant()).await?;
    Ok(Json(Page {
        data,
        next_cursor: None,
    }))
}

/// A segment with its live count.
#[utoipa::path(get, path = "/v1/segments/{name}", tag = "segments",
    params(("name" = String, Path, description = "The segment's name")),
    responses((status = 200, body = CountedSegment),
              (status = 404, description = "No such segment", body = crate::server::openapi::ErrorBody)))]
async fn show(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(name): ApiPath<String>,
) -> Result<Json<CountedSegment>, ApiError> {
    let tenant = state.engine.tenant(caller.tenant()).await?;
    let segment = state.audiences.segment(&tenant.id, &name).await?;
    let count = count(&state, &tenant, &segment.filter).await?;
    Ok(Json(CountedSegment::new(segment, count)))
}

/// Delete a segment (editor); not while an enabled flow's schedule or an unfinished
/// campaign reaches it.
#[utoipa::path(delete, path = "/v1/segments/{name}", tag = "segments",
    params(("name" = String, Path, description = "The segment's name")),
    responses((status = 204, description = "Deleted"),
              (status = 404, description = "No such segment", body = crate::server::openapi::ErrorBody),
              (status = 409, description = "`conflict`: a flow's schedule or a campaign reaches it", body = crate::server::openapi::ErrorBody)))]
async fn delete(
    State(state): State<AppState>,
    Editor(caller): Editor,
    ApiPath(name): ApiPath<String>,
) -> Result<StatusCode, ApiError> {
    let mut users: Vec<String> = state
        .engine
        .flows_using_segment(caller.tenant(), &name)
        .await?
        .into_iter()
        .map(|f| format!("flow {f}"))
        .collect();
    let campaigns = state
        .campaigns
        .campaigns(caller.tenant(), MAX_CAMPAIGNS_READ)
        .await?;
    users.extend(
        campaigns
            .iter()
            .filter(|c| c.audience == Audience::Segment(name.clone()))
            .filter(|c| {
                !matches!(
                    c.status,
                    CampaignStatus::Completed | CampaignStatus::Cancelled
                )
            })
            .map(|c| format!("campaign {}", c.id)),
    );
    if !users.is_empty() {
        return Err(EngineError::WrongState(format!(
            "segment {name} is the audience of {}: change or end them first",
            users.join(", ")
        ))
        .into());
    }
    let audit = caller.audit_entry("segment.delete", &format!("segment:{name}"), json!({}));
    if state
        .audiences
        .delete_segment(caller.tenant(), &name, &audit)
        .await?
    {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(StoreError::NotFound {
            what: format!("segment {name}"),
        }
        .into())
    }
}

/// The tenant's newest campaigns a deletion looks through for one still reaching the segment
/// (an unfinished campaign is among the newest).
const MAX_CAMPAIGNS_READ: u32 = 1_000;

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
struct MembersQuery {
    limit: Option<u32>,
    cursor: Option<String>,
}

/// A page of members, and the cursor to go on; a page may hold fewer than asked (even none)
/// when few contacts match, as each reads at most 5,000 contacts.
pub async fn member_page(
    state: &AppState,
    tenant_id: &str,
    filter: &Filter,
    limit: u32,
    cursor: Option<&str>,
) -> Result<Page<Contact>, ApiError> {
    let after = cursor.map(page::decode).transpose()?;
    let tenant = state.engine.tenant(tenant_id).await?;
    let found = members::members(
        state.engine.store.as_ref(),
        state.audiences.as_ref(),
        &tenant,
        filter,
        after,
        limit as usize,
    )
    .await?;
    Ok(Page {
        data: found.contacts,
        next_cursor: found.resume_after.map(|id| page::encode(&id)),
    })
}

/// The segment's contacts in id order.
#[utoipa::path(get, path = "/v1/segments/{name}/contacts", tag = "segments",
    params(("name" = String, Path, description = "The segment's name"), MembersQuery),
    responses((status = 200, body = Page<Contact>),
              (status = 404, description = "No such segment", body = crate::server::openapi::ErrorBody)))]
async fn contacts(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(name): ApiPath<String>,
    ApiQuery(q): ApiQuery<MembersQuery>,
) -> Result<Json<Page<Contact>>, ApiError> {
    let limit = page::limit(q.limit)?;
    let segment = state.audiences.segment(caller.tenant(), &name).await?;
    Ok(Json(
        member_page(
            &state,
            caller.tenant(),
            &segment.filter,
            limit,
            q.cursor.as_deref(),
        )
        .await?,
    ))
}
