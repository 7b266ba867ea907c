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
use stepwise_engine::model::{Contact, ContactChange};
use stepwise_engine::ports::{ContactFilter, StoreError};

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

/// A contact id: 1–128 letters, digits and `._:@+-`.
pub fn check_contact_id(id: &str) -> Result<(), ApiError> {
    let ok = (1..=128).contains(&id.len())
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "._:@+-".contains(c));
    if ok {
        Ok(())
    } else {
        Err(ApiError::invalid(
            Code::InvalidContact,
            format!("id: {id:?} is not a contact id (1–128 letters, digits and ._:@+-)"),
        ))
    }
}

/// Checks and normalises a contact as the tenant reads phone numbers; gives it an id if
/// it has none.
pub async fn prepare(
    state: &AppState,
    tenant: &str,
    contact: &mut Contact,
) -> Result<(), ApiError> {
    let settings = state.engine.tenant(tenant).await?;
    contact
        .normalise(&settings.country)
        .map_err(|m| ApiError::invalid(Code::InvalidContact, m))?;
    // Declared custom fields hold their type here as in imports and segments.
    stepwise_engine::audience::fields::type_fields(&settings.custom_fields, &mut contact.fields)
        .map_err(|m| ApiError::invalid(Code::InvalidContact, m))?;
    if let Some(zone) = &contact.timezone
        && jiff::tz::TimeZone::get(zone).is_err()
    {
        return Err(ApiError::invalid(
            Code::InvalidContact,
            format!("timezone: {zone:?} is not an IANA time zone"),
        ));
    }
    if contact.id.is_empty() {
        contact.id = format!("ct_{}", uuid::Uuid::now_v7().simple());
    }
    check_contact_id(&contact.id)
}

/// The existing contact `c` is, by the engine's identity rule (phone, else email; an email
/// shared by someone with another phone is not this person).
async fn same_address(
    state: &AppState,
    tenant: &str,
    c: &Contact,
) -> Result<Option<Contact>, ApiError> {
    Ok(stepwise_engine::inbound::identity::same_person(state.listings.as_ref(), tenant, c).await?)
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
    prepare(&state, tenant, &mut contact).await?;
    store_new(&state, tenant, &contact).await?;
    Ok((StatusCode::CREATED, Json(contact)))
}

/// The answer to a contact write the store refused: a phone another contact has is 409
/// `phone_taken`, naming that contact (a phone number names one contact of a tenant).
pub async fn refused(
    state: &AppState,
    tenant: &str,
    phone: Option<&str>,
    e: StoreError,
) -> ApiError {
    let StoreError::Exists { what } = e else {
        return e.into();
    };
    let other = match state.listings.contact_by_address(tenant, phone, None).await {
        Ok(found) => found.map(|c| c.id).unwrap_or_default(),
        Err(e) => return e.into(),
    };
    ApiError::new(
        StatusCode::CONFLICT,
        Code::PhoneTaken,
        format!("{what}: contact {other}; two contacts cannot share a phone"),
    )
    .with_details(json!({ "contact_id": other }))
}

/// Stores a new contact; its id taken (by a request a moment earlier, too) is 409
/// `contact_exists`, its phone taken 409 `phone_taken`.
async fn store_new(state: &AppState, tenant: &str, contact: &Contact) -> Result<(), ApiError> {
    let store = &state.engine.store;
    match store.create_contact(tenant, contact).await {
        Ok(()) => Ok(()),
        Err(StoreError::Exists { .. }) if store.contact(tenant, &contact.id).await.is_ok() => {
            Err(ApiError::new(
                StatusCode::CONFLICT,
                Code::ContactExists,
                format!(
                    "contact {} exists; change it with PATCH or POST /v1/contacts/upsert",
                    contact.id
                ),
            )
            .with_details(json!({ "id": contact.id })))
        }
        Err(e) => Err(refused(state, tenant, contact.phone.as_deref(), e).await),
    }
}

/// Stores what changed between `read` and `changed` on the contact's latest version, so a
/// change made meanwhile (an opt-out above all) is kept; answers the contact as stored.
async fn store_change(
    state: &AppState,
    tenant: &str,
    read: &Contact,
    changed: &Contact,
) -> Result<Contact, ApiError> {
    let change = ContactChange::between(read, changed);
    match state
        .engine
        .store
        .change_contact(tenant, &read.id, &change)
        .await
    {
        Err(e) => Err(refused(state, tenant, changed.phone.as_deref(), e).await),
        Ok(stored) => Ok(stored),
    }
}

/// Finds the contact by id, else phone, else email, and merges `contact` into it; or
/// creates it. Answers the contact and whether it was created.
pub async fn upsert_contact(
    state: &AppState,
    tenant: &str,
    contact: Contact,
) -> Result<(Contact, bool), ApiError> {
    let given = contact.clone();
    match resolve_contact(state, tenant, contact).await? {
        (contact, None) => match state.engine.store.create_contact(tenant, &contact).await {
            Ok(()) => Ok((contact, true)),
            // Created by another request a moment ago: merge into it instead.
            Err(StoreError::Exists { .. }) => match resolve_contact(state, tenant, given).await? {
                (merged, Some(found)) => {
                    Ok((store_change(state, tenant, &found, &merged).await?, false))
                }
                (contact, None) => store_new(state, tenant, &contact)
                    .await
                    .map(|()| (contact, true)),
            },
            Err(e) => Err(e.into()),
        },
        (merged, Some(found)) => Ok((store_change(state, tenant, &found, &merged).await?, false)),
    }
}

/// What [`upsert_contact`] would store, without storing it: the contact found by id, else
/// phone, else email, with `contact` merged in, and the stored version found; or `contact`
/// itself, new, and `None`.
pub async fn resolve_contact(
    state: &AppState,
    tenant: &str,
    mut contact: Contact,
) -> Result<(Contact, Option<Contact>), ApiError> {
    check_named(&contact)?;
    let given_id = !contact.id.is_empty();
    prepare(state, tenant, &mut contact).await?;
    // An id given is the contact's identity; without one, the phone, else the email, is.
    let existing = if given_id {
        state.engine.store.contact(tenant, &contact.id).await.ok()
    } else {
        same_address(state, tenant, &contact).await?
    };
    Ok(match existing {
        Some(found) => {
            let mut merged = found.overlay(contact);
            merged.id.clone_from(&found.id);
            (merged, Some(found))
        }
        None => (contact, None),
    })
}

/// An inline contact must say who it is.
fn check_named(contact: &Contact) -> Result<(), ApiError> {
    if contact.id.is_empty() && contact.phone.is_none() && contact.email.is_none() {
        return Err(ApiError::invalid(
            Code::InvalidContact,
            "name the contact by id, phone or email",
        ));
    }
    Ok(())
}

/// An inline contact checked, normalised and given an id if it has none: what to try
/// storing as new before looking it up.
pub async fn prepared(
    state: &AppState,
    tenant: &str,
    given: &Contact,
) -> Result<Contact, ApiError> {
    check_named(given)?;
    let mut contact = given.clone();
    prepare(state, tenant, &mut contact).await?;
    Ok(contact)
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
    let (contact, created) = upsert_contact(&state, caller.tenant(), contact).await?;
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
    prepare(&state, tenant, &mut contact).await?;
    Ok(Json(
        store_change(&state, tenant, &current, &contact).await?,
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
