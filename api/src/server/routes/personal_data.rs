//! A person's data: `GET /v1/contacts/{id}/export` (admin) answers everything held about the
//! contact as JSON; `POST /v1/contacts/{id}/erase` (admin) cancels its active runs, scrubs its
//! data from events, runs, timelines and sent messages, and deletes it, with one audit entry.
//! Its suppression entries stay: they are what keeps it from being messaged again.

use axum::Json;
use axum::extract::State;
use jiff::Timestamp;
use serde_json::{Value, json};
use stepwise_engine::ports::{Channel, Listings, RunFilter, SuppressionFilter, TimeCursor};
use stepwise_engine::runtime::TimelineEntry;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::server::extract::ApiPath;
use crate::server::{Admin, ApiError, AppState};

/// The most events and runs an export carries (a contact with more is a bulk sender, not a
/// person; the export says when it was cut).
const MAX_EXPORTED: u32 = 1_000;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(export))
        .routes(routes!(erase))
}

/// Everything held about a contact (admin): the contact, its suppression entries, its events,
/// and its runs with their timelines and messages.
#[utoipa::path(get, path = "/v1/contacts/{id}/export", tag = "contacts",
    params(("id" = String, Path, description = "The contact's id")),
    responses((status = 200, description = "`{exported_at, contact, suppressions, events, runs, truncated}`", body = Object)))]
async fn export(
    State(state): State<AppState>,
    Admin(caller): Admin,
    ApiPath(id): ApiPath<String>,
) -> Result<Json<Value>, ApiError> {
    let tenant = caller.tenant();
    let contact = state.engine.store.contact(tenant, &id).await?;
    let zone = jiff::tz::TimeZone::get(&state.engine.tenant(tenant).await?.timezone)
        .unwrap_or(jiff::tz::TimeZone::UTC);
    let mut suppressions = Vec::new();
    let addresses = [
        (Channel::Sms, contact.phone.clone()),
        (Channel::Email, contact.email.clone()),
    ];
    for (channel, address) in addresses {
        let Some(address) = address else { continue };
        let filter = SuppressionFilter {
            channel: Some(channel),
            address: Some(address),
        };
        suppressions.extend(
            state
                .suppressions
                .list_suppressions(tenant, &filter, None, 10)
                .await?,
        );
    }
    let events = state
        .listings
        .contact_events(tenant, &id, MAX_EXPORTED + 1)
        .await?;
    let (runs, runs_cut) = runs_of(state.listings.as_ref(), tenant, &id).await?;
    let mut exported_runs = Vec::with_capacity(runs.len());
    for run in runs {
        let timeline: Vec<Value> = state
            .engine
            .store
            .records(tenant, run.id)
            .await?
            .into_iter()
            .map(|r| TimelineEntry::from_record(r, None).to_json(run.started_at, &zone))
            .collect();
        let messages = state.engine.store.messages(tenant, run.id).await?;
        exported_runs.push(json!({ "run": run, "timeline": timeline, "messages": messages }));
    }
    let events_cut = events.len() > MAX_EXPORTED as usize;
    let events: Vec<Value> = events
        .into_iter()
        .take(MAX_EXPORTED as usize)
        .map(|e| json!({ "id": e.id, "received_at": e.received_at, "event": e.event }))
        .collect();
    Ok(Json(json!({
        "exported_at": Timestamp::now(),
        "contact": contact,
        "suppressions": suppressions,
        "events": events,
        "runs": exported_runs,
        "truncated": events_cut || runs_cut,
    })))
}

/// The contact's runs, newest first, at most [`MAX_EXPORTED`]; and whether there were more.
async fn runs_of(
    listings: &dyn Listings,
    tenant: &str,
    contact_id: &str,
) -> Result<(Vec<stepwise_engine::model::Run>, bool), ApiError> {
    let filter = RunFilter {
        contact_id: Some(contact_id.to_owned()),
        ..RunFilter::default()
    };
    let mut runs = Vec::new();
    let mut after: Option<TimeCursor> = None;
    loop {
        let page = listings
            .list_runs(tenant, &filter, after.as_ref(), 200)
            .await?;
        let Some(last) = page.last() else {
            return Ok((runs, false));
        };
        after = Some(TimeCursor {
            at: last.started_at,
            id: last.id.to_string(),
        });
        let full = page.len() == 200;
        runs.extend(page);
        if runs.len() > MAX_EXPORTED as usize {
            runs.truncate(MAX_EXPORTED as usize);
            return Ok((runs, true));
        }
        if !full {
            return Ok((runs, false));
        }
    }
}

/// Erase a contact (admin): its active runs are cancelled, its data is scrubbed from events,
/// runs, timelines and sent messages, and the contact is deleted; its suppression entries
/// stay. One `contact.erase` audit entry (plus one `run.cancel` per active run).
#[utoipa::path(post, path = "/v1/contacts/{id}/erase", tag = "contacts",
    params(("id" = String, Path, description = "The contact's id")),
    responses((status = 200, description = "What was scrubbed: `{events, runs, messages, timeline_entries}`", body = Object)))]
async fn erase(
    State(state): State<AppState>,
    Admin(caller): Admin,
    ApiPath(id): ApiPath<String>,
) -> Result<Json<Value>, ApiError> {
    let tenant = caller.tenant();
    state.engine.store.contact(tenant, &id).await?;
    let reason = "the contact was erased";
    for run in state.engine.store.active_runs(tenant, &id).await? {
        let details = json!({ "reason": reason, "by": "contact.erase" });
        let audit = caller.audit_entry("run.cancel", &format!("run:{}", run.id), details);
        state
            .engine
            .cancel_run(tenant, run.id, reason, Some(audit))
            .await?;
    }
    let audit = caller.audit_entry("contact.erase", &format!("contact:{id}"), Value::Null);
    let erased = state.listings.erase_contact(tenant, &id, &audit).await?;
    Ok(Json(json!(erased)))
}
