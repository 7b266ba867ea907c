//! The suppression list: the phone numbers and email addresses the tenant must not message.
//! `GET /v1/suppressions` lists it newest first, by `channel` and `address`; `POST
//! /v1/suppressions` (editor) adds an address, e.g. from a do-not-contact list. A contact's
//! own opt-out is added by the engine when the contact is stored. No route removes an
//! address: opting back in is the person's own act (docs/compliance.md).

use crate::server::Code;
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::Deserialize;
use serde_json::json;
use stepwise_engine::model::Contact;
use stepwise_engine::ports::{Channel, Suppression, SuppressionFilter};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::server::extract::{ApiJson, ApiQuery};
use crate::server::page::{self, Page};
use crate::server::{ApiError, AppState, Caller, Editor};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(list, add))
}

/// An address to suppress.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct NewSuppression {
    channel: Channel,
    /// A phone number for `sms` (stored in E.164, read in the tenant's `country` without
    /// `+`), an email address for `email`.
    #[schema(min_length = 1)]
    address: String,
    /// Why, for the list and the audit log; at most 200 characters.
    #[schema(min_length = 1, max_length = 200)]
    reason: Option<String>,
}

/// `address` as the list stores it for `channel` (phones read in `country` without `+`);
/// the error names what is wrong.
fn normalise(country: &str, channel: Channel, address: String) -> Result<String, String> {
    let mut probe = match channel {
        Channel::Sms => Contact {
            phone: Some(address),
            ..Contact::default()
        },
        Channel::Email => Contact {
            email: Some(address),
            ..Contact::default()
        },
    };
    probe.normalise(country)?;
    Ok(probe.phone.or(probe.email).unwrap_or_default())
}

/// Add an address to the suppression list (editor): nothing is sent to it on its channel from
/// then on, whichever contact has it. 201 when added; 200 with the first entry when the
/// address was on the list already.
#[utoipa::path(post, path = "/v1/suppressions", tag = "suppressions",
    request_body = NewSuppression,
    responses((status = 201, body = Suppression), (status = 200, body = Suppression)))]
async fn add(
    State(state): State<AppState>,
    Editor(caller): Editor,
    ApiJson(body): ApiJson<NewSuppression>,
) -> Result<(StatusCode, Json<Suppression>), ApiError> {
    let tenant = caller.tenant();
    let reason = body.reason.unwrap_or_else(|| "added by an admin".into());
    if reason.trim().is_empty() || reason.chars().count() > 200 {
        return Err(ApiError::invalid(
            Code::InvalidSuppression,
            "reason: give 1 to 200 characters, or leave it out",
        ));
    }
    let country = state.engine.tenant(tenant).await?.country;
    let address = normalise(&country, body.channel, body.address)
        .map_err(|m| ApiError::invalid(Code::InvalidSuppression, m))?;
    let entry = Suppression {
        channel: body.channel,
        address,
        reason,
        contact_id: None,
        created_at: jiff::Timestamp::now(),
    };
    let audit = caller.audit_entry(
        "suppression.add",
        &format!("suppression:{}:{}", entry.channel.as_str(), entry.address),
        json!({ "reason": entry.reason }),
    );
    let (stored, added) = state.suppressions.suppress(tenant, &entry, &audit).await?;
    let status = if added {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, Json(stored)))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
struct ListQuery {
    limit: Option<u32>,
    cursor: Option<String>,
    channel: Option<Channel>,
    /// Needs `channel`: a phone number or an email address, written as when adding it.
    address: Option<String>,
}

/// List the suppression list, newest first, optionally by channel and address.
#[utoipa::path(get, path = "/v1/suppressions", tag = "suppressions", params(ListQuery),
    responses((status = 200, body = Page<Suppression>)))]
async fn list(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(q): ApiQuery<ListQuery>,
) -> Result<Json<Page<Suppression>>, ApiError> {
    let limit = page::limit(q.limit)?;
    let after = q.cursor.as_deref().map(page::decode_time).transpose()?;
    let address = match (q.channel, q.address) {
        (_, None) => None,
        (Some(channel), Some(address)) => {
            let country = state.engine.tenant(caller.tenant()).await?.country;
            Some(
                normalise(&country, channel, address)
                    .map_err(|m| ApiError::bad_request(m).with_code(Code::InvalidQuery))?,
            )
        }
        (None, Some(_)) => {
            return Err(ApiError::bad_request("address: give a channel with it")
                .with_code(Code::InvalidQuery));
        }
    };
    let filter = SuppressionFilter {
        channel: q.channel,
        address,
    };
    let rows = state
        .suppressions
        .list_suppressions(caller.tenant(), &filter, after.as_ref(), limit + 1)
        .await?;
    Ok(page::page(rows, limit, |s| {
        let cursor = s.cursor();
        page::encode_time(cursor.at, &cursor.id)
    }))
}
