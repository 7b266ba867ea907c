//! Campaigns: a flow for every contact of an audience at a set rate from a sender pool.
//! `POST /v1/campaigns` (editor) makes a draft; `launch`, `pause`, `resume` and `cancel`
//! move it; `PATCH` changes its rate at once; `GET /v1/campaigns/{id}` answers it with its
//! counters: what the dispatcher did (enrolled, held by quiet hours, suppressed) and what its
//! runs' messages did (sent, delivered, failed, replied, opted out).

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use serde_json::json;
use stepwise_engine::audience::campaign::{
    self, Audience, Campaign, CampaignStatus, DispatchCounts, MAX_ACTIVE, MessageCounts, Progress,
};
use stepwise_engine::error::EngineError;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::server::extract::{ApiJson, ApiPath, ApiQuery};
use crate::server::page::{self, Page};
use crate::server::{ApiError, AppState, Caller, Code, Editor};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(create, list))
        .routes(routes!(show, patch))
        .routes(routes!(launch))
        .routes(routes!(pause))
        .routes(routes!(resume))
        .routes(routes!(cancel))
}

/// A campaign to make.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct NewCampaign {
    #[schema(min_length = 1, max_length = 200)]
    name: String,
    /// An enabled flow of the tenant's.
    flow_id: String,
    audience: Audience,
    /// Contacts started per second.
    #[schema(exclusive_minimum = 0.0, maximum = 1000.0)]
    per_second: f64,
    /// A pool of `settings.sender_pools`.
    pool: Option<String>,
    /// When it starts once launched (default: at launch).
    #[schema(value_type = Option<String>, format = DateTime)]
    start_at: Option<Timestamp>,
}

/// A campaign with its counters.
#[derive(Debug, Serialize, ToSchema)]
struct CampaignView {
    campaign: Campaign,
    /// What its runs' messages did.
    messages: MessageCounts,
}

fn invalid(message: String) -> ApiError {
    ApiError::invalid(Code::InvalidCampaign, message)
}

/// Checks a campaign against the tenant's settings, flows and segments.
async fn checked(state: &AppState, tenant_id: &str, c: &Campaign) -> Result<(), ApiError> {
    let tenant = state.engine.tenant(tenant_id).await?;
    campaign::check(c, &tenant).map_err(invalid)?;
    if state.listings.flow(tenant_id, &c.flow_id).await.is_err() {
        return Err(invalid(format!("flow_id: no flow {}", c.flow_id)));
    }
    if let Audience::Segment(name) = &c.audience
        && state.audiences.segment(tenant_id, name).await.is_err()
    {
        return Err(invalid(format!("audience.segment: no segment {name}")));
    }
    Ok(())
}

/// Make a campaign (editor): a draft until it is launched.
#[utoipa::path(post, path = "/v1/campaigns", tag = "campaigns", request_body = NewCampaign,
    responses((status = 201, body = Campaign),
              (status = 422, description = "`invalid_campaign`: no such flow, segment or pool, a rate over the pool's", body = crate::server::openapi::ErrorBody)))]
async fn create(
    State(state): State<AppState>,
    Editor(caller): Editor,
    ApiJson(body): ApiJson<NewCampaign>,
) -> Result<(StatusCode, Json<Campaign>), ApiError> {
    let tenant_id = caller.tenant();
    let campaign = Campaign {
        id: format!("cmp_{}", uuid::Uuid::now_v7().simple()),
        name: body.name,
        flow_id: body.flow_id,
        audience: body.audience,
        per_second: body.per_second,
        pool: body.pool,
        start_at: body.start_at,
        status: CampaignStatus::Draft,
        counts: DispatchCounts::default(),
        numbers_out: Vec::new(),
        passes: 0,
        created_at: Timestamp::now(),
        finished_at: None,
    };
    checked(&state, tenant_id, &campaign).await?;
    let audit = caller.audit_entry(
        "campaign.create",
        &format!("campaign:{}", campaign.id),
        json!({"flow_id": campaign.flow_id, "per_second": campaign.per_second}),
    );
    state
        .campaigns
        .create_campaign(tenant_id, &campaign, &audit)
        .await?;
    Ok((StatusCode::CREATED, Json(campaign)))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
struct ListQuery {
    limit: Option<u32>,
}

/// The tenant's campaigns, newest first.
#[utoipa::path(get, path = "/v1/campaigns", tag = "campaigns", params(ListQuery),
    responses((status = 200, body = Page<Campaign>)))]
async fn list(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(q): ApiQuery<ListQuery>,
) -> Result<Json<Page<Campaign>>, ApiError> {
    let limit = page::limit(q.limit)?;
    let mut data = Vec::new();
    for c in state.campaigns.campaigns(caller.tenant(), limit).await? {
        data.push(with_enrolled(&state, caller.tenant(), c).await?);
    }
    Ok(Json(Page {
        data,
        next_cursor: None,
    }))
}

/// `campaign` with its enrolled count now: the stored count is not kept up to date (the
/// campaign's runs are counted when asked).
async fn with_enrolled(
    state: &AppState,
    tenant_id: &str,
    mut campaign: Campaign,
) -> Result<Campaign, ApiError> {
    campaign.counts.enrolled = state
        .campaigns
        .campaign_enrolled(tenant_id, &campaign.id)
        .await?;
    Ok(campaign)
}

/// A campaign with its counters now.
#[utoipa::path(get, path = "/v1/campaigns/{id}", tag = "campaigns",
    params(("id" = String, Path, description = "The campaign's id")),
    responses((status = 200, body = CampaignView),
              (status = 404, description = "No such campaign", body = crate::server::openapi::ErrorBody)))]
async fn show(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
) -> Result<Json<CampaignView>, ApiError> {
    let campaign = state.campaigns.campaign(caller.tenant(), &id).await?;
    let campaign = with_enrolled(&state, caller.tenant(), campaign).await?;
    let messages = state
        .campaign_counts
        .messages(caller.tenant(), &id, || {
            state.campaigns.campaign_messages(caller.tenant(), &id)
        })
        .await?;
    Ok(Json(CampaignView { campaign, messages }))
}

/// What may change on a campaign.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct CampaignPatch {
    /// The new rate: it applies from now.
    #[schema(exclusive_minimum = 0.0, maximum = 1000.0)]
    per_second: Option<f64>,
    #[schema(min_length = 1, max_length = 200)]
    name: Option<String>,
}

/// A pacing window that opens now (a new rate, a resume).
fn reopened(mut p: Progress) -> Progress {
    p.window_start = None;
    p.window_started = 0;
    p
}

/// Change a campaign's rate (at once) or name (editor).
#[utoipa::path(patch, path = "/v1/campaigns/{id}", tag = "campaigns",
    params(("id" = String, Path, description = "The campaign's id")), request_body = CampaignPatch,
    responses((status = 200, body = Campaign),
              (status = 404, description = "No such campaign", body = crate::server::openapi::ErrorBody),
              (status = 422, description = "`invalid_campaign`", body = crate::server::openapi::ErrorBody)))]
async fn patch(
    State(state): State<AppState>,
    Editor(caller): Editor,
    ApiPath(id): ApiPath<String>,
    ApiJson(body): ApiJson<CampaignPatch>,
) -> Result<Json<Campaign>, ApiError> {
    let tenant_id = caller.tenant();
    let mut wanted = state.campaigns.campaign(tenant_id, &id).await?;
    if let Some(rate) = body.per_second {
        wanted.per_second = rate;
    }
    if let Some(name) = body.name {
        wanted.name = name;
    }
    checked(&state, tenant_id, &wanted).await?;
    let audit = caller.audit_entry(
        "campaign.change",
        &format!("campaign:{id}"),
        json!({"per_second": wanted.per_second}),
    );
    let change = |mut c: Campaign, p: Progress| {
        let new_rate = c.per_second != wanted.per_second;
        c.per_second = wanted.per_second;
        c.name.clone_from(&wanted.name);
        Some((c, if new_rate { reopened(p) } else { p }))
    };
    let stored = state
        .campaigns
        .change_campaign(tenant_id, &id, &change, &audit)
        .await?;
    Ok(Json(with_enrolled(&state, tenant_id, stored).await?))
}

/// Moves a campaign from one of `from` to `to`; from any other status it is 409.
async fn transition(
    state: &AppState,
    caller: &crate::server::auth::Caller,
    id: &str,
    action: &str,
    from: &'static [CampaignStatus],
    to: CampaignStatus,
) -> Result<Json<Campaign>, ApiError> {
    let tenant_id = caller.tenant();
    let current = state.campaigns.campaign(tenant_id, id).await?;
    if !from.contains(&current.status) {
        return Err(EngineError::WrongState(format!(
            "campaign {id} is {}: it cannot {action}",
            current.status.as_str()
        ))
        .into());
    }
    if matches!(to, CampaignStatus::Scheduled | CampaignStatus::Running) {
        let active = state.campaigns.active_campaigns(tenant_id).await?;
        if active >= MAX_ACTIVE as u64 {
            return Err(EngineError::WrongState(format!(
                "{active} campaigns are scheduled or running (at most {MAX_ACTIVE}): pause, cancel or wait for one"
            ))
            .into());
        }
    }
    if to == CampaignStatus::Scheduled {
        checked(state, tenant_id, &current).await?;
        if !state
            .listings
            .flow(tenant_id, &current.flow_id)
            .await?
            .enabled
        {
            return Err(EngineError::WrongState(format!(
                "flow {} is disabled: enable it before launching",
                current.flow_id
            ))
            .into());
        }
    }
    let audit = caller.audit_entry(
        &format!("campaign.{action}"),
        &format!("campaign:{id}"),
        json!({}),
    );
    let change = |mut c: Campaign, p: Progress| {
        if !from.contains(&c.status) {
            return None;
        }
        let mut p = p;
        if to == CampaignStatus::Running {
            // The admin fixed what took its numbers out (or chose to try them again): the
            // reports so far no longer count.
            c.numbers_out.clear();
            p.numbers_back_at = Some(Timestamp::now());
        }
        c.status = to;
        let p = if matches!(to, CampaignStatus::Running | CampaignStatus::Scheduled) {
            reopened(p)
        } else {
            p
        };
        if to == CampaignStatus::Cancelled {
            c.finished_at = Some(Timestamp::now());
        }
        Some((c, p))
    };
    let stored = state
        .campaigns
        .change_campaign(tenant_id, id, &change, &audit)
        .await?;
    if stored.status != to {
        return Err(EngineError::WrongState(format!(
            "campaign {id} changed meanwhile; look again"
        ))
        .into());
    }
    Ok(Json(with_enrolled(state, tenant_id, stored).await?))
}

/// Launch a draft (editor): it starts at `start_at`, or now.
#[utoipa::path(post, path = "/v1/campaigns/{id}/launch", tag = "campaigns",
    params(("id" = String, Path, description = "The campaign's id")),
    responses((status = 200, body = Campaign),
              (status = 404, description = "No such campaign", body = crate::server::openapi::ErrorBody),
              (status = 409, description = "Not a draft, its flow is disabled, or 10 campaigns are scheduled or running", body = crate::server::openapi::ErrorBody)))]
async fn launch(
    State(state): State<AppState>,
    Editor(caller): Editor,
    ApiPath(id): ApiPath<String>,
) -> Result<Json<Campaign>, ApiError> {
    transition(
        &state,
        &caller,
        &id,
        "launch",
        &[CampaignStatus::Draft],
        CampaignStatus::Scheduled,
    )
    .await
}

/// Pause (editor): no contact is started until it is resumed.
#[utoipa::path(post, path = "/v1/campaigns/{id}/pause", tag = "campaigns",
    params(("id" = String, Path, description = "The campaign's id")),
    responses((status = 200, body = Campaign),
              (status = 404, description = "No such campaign", body = crate::server::openapi::ErrorBody),
              (status = 409, description = "Not running or scheduled", body = crate::server::openapi::ErrorBody)))]
async fn pause(
    State(state): State<AppState>,
    Editor(caller): Editor,
    ApiPath(id): ApiPath<String>,
) -> Result<Json<Campaign>, ApiError> {
    transition(
        &state,
        &caller,
        &id,
        "pause",
        &[CampaignStatus::Running, CampaignStatus::Scheduled],
        CampaignStatus::Paused,
    )
    .await
}

/// Resume a paused campaign (editor), at its rate from now, with every pool number back in.
#[utoipa::path(post, path = "/v1/campaigns/{id}/resume", tag = "campaigns",
    params(("id" = String, Path, description = "The campaign's id")),
    responses((status = 200, body = Campaign),
              (status = 404, description = "No such campaign", body = crate::server::openapi::ErrorBody),
              (status = 409, description = "Not paused, or 10 campaigns are scheduled or running", body = crate::server::openapi::ErrorBody)))]
async fn resume(
    State(state): State<AppState>,
    Editor(caller): Editor,
    ApiPath(id): ApiPath<String>,
) -> Result<Json<Campaign>, ApiError> {
    transition(
        &state,
        &caller,
        &id,
        "resume",
        &[CampaignStatus::Paused],
        CampaignStatus::Running,
    )
    .await
}

/// Cancel (editor): no more contacts are started; runs already started go on.
#[utoipa::path(post, path = "/v1/campaigns/{id}/cancel", tag = "campaigns",
    params(("id" = String, Path, description = "The campaign's id")),
    responses((status = 200, body = Campaign),
              (status = 404, description = "No such campaign", body = crate::server::openapi::ErrorBody),
              (status = 409, description = "Completed or cancelled already", body = crate::server::openapi::ErrorBody)))]
async fn cancel(
    State(state): State<AppState>,
    Editor(caller): Editor,
    ApiPath(id): ApiPath<String>,
) -> Result<Json<Campaign>, ApiError> {
    transition(
        &state,
        &caller,
        &id,
        "cancel",
        &[
            CampaignStatus::Draft,
            CampaignStatus::Scheduled,
            CampaignStatus::Running,
            CampaignStatus::Paused,
        ],
        CampaignStatus::Cancelled,
    )
    .await
}
