//! Contacts: create, upsert by phone or email (`POST /v1/contacts/upsert`), get, update
//! (JSON merge patch), delete (their active runs are cancelled first), and list with
//! `phone` / `email` filters. Phone numbers are stored in E.164, read in the tenant's
//! `country` when written without `+`.

use crate::server::Code;
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::Deserialize;
use serde_json::{Value, json};
use stepwise_engine::audience::segment::Filter;
use stepwise_engine::model::Contact;
use stepwise_engine::ports::ContactFilter;

use utoipa::IntoParams;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::server::extract::{ApiJson, ApiPath, ApiQuery};
use crate::server::page::{self, Page};
use crate::server::{ApiError, AppState, Caller, Editor};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list, create))
        .routes(routes!(upsert))
        .routes(routes!(show, update, remove))
}

/// Create a contact (editor); without an id, one is made. Phones are stored in E.164.
#[utoipa::path(post, path = "/v1/contacts", tag = "contacts", request_body = Contact,
    responses((status = 201, body = Contact)))]
async fn create(
    State(state): State<AppState>,
    Editor(caller): Editor,
    ApiJson(mut contact): ApiJson<Contact>,
) -> Result<(StatusCode, Json<Contact>), ApiError> {
    let tenant = caller.tenant();
    state.inbound.prepare(tenant, &mut contact).await?;
    state.inbound.create(tenant, &contact).await?;
    Ok((StatusCode::CREATED, Json(contact)))
}

/// Create or update a contact found by id, else phone, else email (editor). Given fields
/// replace stored ones; tags and custom fields are added; opt-outs are never cleared.
#[utoipa::path(post, path = "/v1/contacts/upsert", tag = "contacts", request_body = Contact,
    responses((status = 201, description = "Created", body = Contact),
              (status = 200, description = "Updated", body = Contact)))]
async fn upsert(
    State(state): State<AppState>,
    Editor(caller): Editor,
    ApiJson(contact): ApiJson<Contact>,
) -> Result<(StatusCode, Json<Contact>), ApiError> {
    let (contact, created) = state.inbound.upsert(caller.tenant(), contact).await?;
    let status = if created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, Json(contact)))
}

/// A contact.
#[utoipa::path(get, path = "/v1/contacts/{id}", tag = "contacts", params(("id" = String, Path, description = "The contact's id")),
    responses((status = 200, body = Contact)))]
async fn show(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
) -> Result<Json<Contact>, ApiError> {
    Ok(Json(
        state.engine.store.contact(caller.tenant(), &id).await?,
    ))
}

/// Change a contact with a JSON merge patch (editor); `null` removes a field.
#[utoipa::path(patch, path = "/v1/contacts/{id}", tag = "contacts", params(("id" = String, Path, description = "The contact's id")),
    request_body(content = Object, description = "The fields to change"),
    responses((status = 200, body = Contact)))]
async fn update(
    State(state): State<AppState>,
    Editor(caller): Editor,
    ApiPath(id): ApiPath<String>,
    ApiJson(patch): ApiJson<Value>,
) -> Result<Json<Contact>, ApiError> {
    let tenant = caller.tenant();
    let current = state.engine.store.contact(tenant, &id).await?;
    let Value::Object(fields) = patch else {
        return Err(ApiError::invalid(
            Code::InvalidBody,
            "send a JSON object of the fields to change",
        ));
    };
    if fields
        .get("id")
        .is_some_and(|v| v != &Value::String(id.clone()))
    {
        return Err(ApiError::invalid(Code::InvalidBody, "id cannot change"));
    }
    let mut merged = serde_json::to_value(&current).unwrap_or(Value::Null);
    if let Value::Object(map) = &mut merged {
        for (key, value) in fields {
            if value.is_null() {
                map.remove(&key);
            } else {
                map.insert(key, value);
            }
        }
    }
    let mut contact: Contact = serde_json::from_value(merged)
        .map_err(|e| ApiError::invalid(Code::InvalidBody, e.to_string()))?;
    contact.id = id;
    // Consent is the contact's to give back (replying START), not an operator's: an opt-out
    // cannot be cleared through the API (docs/compliance.md).
    if (current.sms_opt_out && !contact.sms_opt_out)
        || (current.email_opt_out && !contact.email_opt_out)
    {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            Code::OptOutLocked,
            "the contact opted out; only the contact can opt back in",
        ));
    }
    state.inbound.prepare(tenant, &mut contact).await?;
    Ok(Json(
        state.inbound.change(tenant, &current, &contact).await?,
    ))
}

/// Delete a contact; its active runs are cancelled first (editor).
#[utoipa::path(delete, path = "/v1/contacts/{id}", tag = "contacts", params(("id" = String, Path, description = "The contact's id")),
    responses((status = 204, description = "Deleted")))]
async fn remove(
    State(state): State<AppState>,
    Editor(caller): Editor,
    ApiPath(id): ApiPath<String>,
) -> Result<StatusCode, ApiError> {
    let tenant = caller.tenant();
    state.engine.store.contact(tenant, &id).await?;
    let reason = "the contact was deleted";
    for run in state.engine.store.active_runs(tenant, &id).await? {
        let details = json!({ "reason": reason, "by": "contact.delete" });
        let audit = caller.audit_entry("run.cancel", &format!("run:{}", run.id), details);
        state
            .engine
            .cancel_run(tenant, run.id, reason, Some(audit))
            .await?;
    }
    let audit = caller.audit_entry("contact.delete", &format!("contact:{id}"), Value::Null);
    state.listings.delete_contact(tenant, &id, &audit).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
struct ListQuery {
    limit: Option<u32>,
    cursor: Option<String>,
    phone: Option<String>,
    email: Option<String>,
    /// Only the members of this segment (a page may then hold fewer than `limit`, even
    /// none, with a `next_cursor`: each page reads at most 5,000 contacts).
    segment: Option<String>,
    /// Only contacts with this tag (as `segment`, pages may be short).
    tag: Option<String>,
}

/// List contacts in id order, optionally by phone or email, segment or tag.
#[utoipa::path(get, path = "/v1/contacts", tag = "contacts", params(ListQuery),
    responses((status = 200, body = Page<Contact>),
              (status = 404, description = "No such segment", body = crate::server::openapi::ErrorBody)))]
async fn list(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(q): ApiQuery<ListQuery>,
) -> Result<Json<Page<Contact>>, ApiError> {
    let limit = page::limit(q.limit)?;
    if q.segment.is_some() || q.tag.is_some() {
        if q.phone.is_some() || q.email.is_some() {
            return Err(ApiError::bad_request(
                "segment and tag list members; look a contact up by phone or email without them",
            )
            .with_code(Code::InvalidQuery));
        }
        let mut filter = match &q.segment {
            Some(name) => state.audiences.segment(caller.tenant(), name).await?.filter,
            None => Filter::default(),
        };
        filter.tags_all.extend(q.tag);
        let page = super::segments::member_page(
            &state,
            caller.tenant(),
            &filter,
            limit,
            q.cursor.as_deref(),
        )
        .await?;
        return Ok(Json(page));
    }
    let after = q.cursor.as_deref().map(page::decode).transpose()?;
    let mut probe = Contact {
        phone: q.phone,
        email: q.email,
        ..Contact::default()
    };
    let country = state.engine.tenant(caller.tenant()).await?.country;
    probe
        .normalise(&country)
        .map_err(|m| ApiError::bad_request(m).with_code(Code::InvalidQuery))?;
    let filter = ContactFilter {
        phone: probe.phone,
        email: probe.email,
    };
    let rows = state
        .listings
        .list_contacts(caller.tenant(), &filter, after.as_deref(), limit + 1)
        .await?;
    Ok(page::page(rows, limit, |c| page::encode(&c.id)))
}
