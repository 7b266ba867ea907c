//! Tracked links: `GET /l/{code}` (no key) counts the click, records a `link.clicked` event for
//! the contact the link was made for (so a `wait_for` or a flow can act on it), and redirects
//! to the link's URL. The redirect is always given; what is recorded is bounded (one click per
//! link a minute, and the tenant's webhook rate), and link-preview fetchers (messaging apps
//! unfurling the link) are not counted.

use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;
use stepwise_engine::model::Event;
use stepwise_engine::ports::StoredLink;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::server::extract::ApiPath;
use crate::server::{ApiError, AppState};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(follow))
}

/// User agents of the fetchers that unfurl a link in a chat (iMessage sends the first one),
/// lowercase: their fetch is not a click.
const PREVIEWERS: [&str; 12] = [
    "facebookexternalhit",
    "facebot",
    "twitterbot",
    "slackbot",
    "slack-imgproxy",
    "whatsapp",
    "telegrambot",
    "discordbot",
    "linkedinbot",
    "skypeuripreview",
    "googlebot",
    "bingbot",
];

fn is_preview(headers: &HeaderMap) -> bool {
    let agent = headers
        .get(header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_ascii_lowercase();
    PREVIEWERS.iter().any(|p| agent.contains(p))
}

/// Follow a tracked link: count the click, record `link.clicked`, redirect (no key).
#[utoipa::path(get, path = "/l/{code}", tag = "links", security(()),
    params(("code" = String, Path, description = "The link's code")),
    responses((status = 302, description = "To the link's URL (`Location`)"),
              (status = 404, description = "No such link", body = crate::server::openapi::ErrorBody)))]
async fn follow(
    State(state): State<AppState>,
    method: Method,
    headers: HeaderMap,
    ApiPath(code): ApiPath<String>,
) -> Result<Response, ApiError> {
    let link = state
        .edge
        .link(&code)
        .await?
        .ok_or_else(|| ApiError::not_found("this link does not exist"))?;
    if method == Method::GET
        && !is_preview(&headers)
        && let Err(e) = record_click(&state, &link).await
    {
        // The person still gets where they were going.
        tracing::warn!(tenant_id = %link.tenant_id, code = %link.code, error = %e.message, "click not recorded");
    }
    Ok((
        StatusCode::FOUND,
        [
            (header::LOCATION, link.url.as_str()),
            (header::CACHE_CONTROL, "no-store"),
            (header::REFERRER_POLICY, "no-referrer"),
        ],
    )
        .into_response())
}

/// Counts the click and ingests `link.clicked` for the link's contact. Clicks on one link a
/// minute apart or less count once, so one link cannot flood the tenant's events; those that
/// count use the tenant's webhook budget.
async fn record_click(state: &AppState, link: &StoredLink) -> Result<(), ApiError> {
    let now = state.engine.clock.now();
    let Some(clicks) = state
        .edge
        .count_click(&link.tenant_id, &link.code, now)
        .await?
    else {
        return Ok(());
    };
    state.auth.check_hook_rate(&link.tenant_id)?;
    let mut event = Event::new(
        "link.clicked",
        json!({"url": link.url, "code": link.code, "clicks": clicks,
               "run_id": link.run_id, "flow_id": link.flow_id}),
    );
    event.source = "link".into();
    event.external_id = Some(format!("{}:{clicks}", link.code));
    state
        .engine
        .ingest(&link.tenant_id, &link.contact_id, event)
        .await?;
    tracing::info!(tenant_id = %link.tenant_id, code = %link.code, clicks, "link clicked");
    Ok(())
}
