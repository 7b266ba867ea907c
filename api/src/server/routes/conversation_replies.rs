//! Answering from the inbox. An agent (or above) replies by hand to a conversation: the
//! reply goes through the flows' send path (consent, quiet hours unless the member overrides
//! them, the number the contact knows, the outbox and its delivery reports) and is
//! attributed to the member. Staff take a conversation over (`needs_human`: the contact's
//! automated messages hold) and release it (the held runs go on at once).

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use serde::Deserialize;
use serde_json::json;
use stepwise_engine::inbox::{Replied, Reply};
use stepwise_engine::ports::{
    Conversation, ConversationChange, ConversationStatus, StoreError, TemplateVersion, usable,
};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::events::idempotency_key;
use crate::server::extract::{ApiJson, ApiPath};
use crate::server::{Agent, ApiError, AppState, Caller, Code};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(reply))
        .routes(routes!(take_over))
        .routes(routes!(release))
}

/// The longest reply text (an email body) and subject a request may carry.
const MAX_TEXT: usize = 100_000;
const MAX_SUBJECT: usize = 998;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct ReplyBody {
    /// The message: a template with `{{contact.*}}` and the tenant's snippets (`{{> sign_off}}`),
    /// at most 1,600 characters as an SMS once rendered. Give it or `template`.
    #[schema(min_length = 1, max_length = 100000)]
    text: Option<String>,
    /// A template of the library to send instead: its newest approved version, or
    /// `template_version` (approved) when given.
    template: Option<String>,
    #[schema(minimum = 1, maximum = 200)]
    template_version: Option<u32>,
    /// An email's subject (a template); default "A message from <business>".
    #[schema(max_length = 998)]
    subject: Option<String>,
    /// Send during the contact's quiet hours all the same (a transactional answer): recorded
    /// in the run and the audit log. Default `false`: held until the quiet hours end.
    #[serde(default)]
    quiet_hours_override: bool,
}

/// Reply by hand (agent): the reply is sent as a run of the built-in flow `inbox-reply` (or
/// `inbox-reply-anytime` when quiet hours are overridden); the answer says whether it goes
/// now or is held until the contact's quiet hours end. A repeat with the same
/// `Idempotency-Key` sends nothing twice.
#[utoipa::path(post, path = "/v1/conversations/{id}/messages", tag = "conversations",
    params(("id" = String, Path, description = "The conversation's id"),
           ("Idempotency-Key" = Option<String>, Header, description = "Makes a repeat harmless", pattern = "^[!-~]{1,200}$")),
    request_body = ReplyBody,
    responses((status = 202, description = "Accepted: sending, or held by quiet hours", body = Replied),
              (status = 400, description = "`invalid_input`: the text does not render, or renders empty or too long", body = crate::server::openapi::ErrorBody),
              (status = 404, description = "No such conversation", body = crate::server::openapi::ErrorBody),
              (status = 409, description = "`conflict`: the contact opted out of SMS, or has no address on the channel; the template has no approved version", body = crate::server::openapi::ErrorBody),
              (status = 429, description = "`quota_exceeded`: the plan's cap for the channel is used this month, and the plan does not exempt replies", body = crate::server::openapi::ErrorBody),
              (status = 422, description = "`invalid_body`: neither or both of text and template, a text or subject too long, no such template, or one for another channel", body = crate::server::openapi::ErrorBody)))]
async fn reply(
    State(state): State<AppState>,
    Agent(caller): Agent,
    ApiPath(id): ApiPath<String>,
    headers: HeaderMap,
    ApiJson(body): ApiJson<ReplyBody>,
) -> Result<(StatusCode, Json<Replied>), ApiError> {
    // Bounds the schema states, for every channel (an SMS ignores the subject).
    if body
        .text
        .as_ref()
        .is_some_and(|t| t.chars().count() > MAX_TEXT)
        || body
            .subject
            .as_ref()
            .is_some_and(|s| s.chars().count() > MAX_SUBJECT)
    {
        return Err(ApiError::invalid(
            Code::InvalidBody,
            format!("text: at most {MAX_TEXT} characters; subject: at most {MAX_SUBJECT}"),
        ));
    }
    if body
        .template_version
        .is_some_and(|v| v == 0 || v > stepwise_engine::ports::MAX_VERSIONS)
        || (body.template_version.is_some() && body.template.is_none())
    {
        return Err(ApiError::invalid(
            Code::InvalidBody,
            "template_version: a version (1 to 200) of the template given in `template`",
        ));
    }
    let key = idempotency_key(&headers)?
        .map(str::to_owned)
        .unwrap_or_else(|| uuid::Uuid::now_v7().to_string());
    let conversation = state
        .conversations
        .conversation(caller.tenant(), &id)
        .await?;
    let (text, subject, template) = match (body.text, &body.template) {
        (Some(text), None) => (text, body.subject, None),
        (None, Some(name)) => {
            let chosen = approved(&state, &caller, name, body.template_version).await?;
            if chosen.channel != conversation.channel {
                return Err(ApiError::invalid(
                    Code::InvalidBody,
                    format!(
                        "template: {name} is written for {}, the conversation is {}",
                        chosen.channel.as_str(),
                        conversation.channel.as_str()
                    ),
                ));
            }
            let used = json!({"name": name, "version": chosen.version});
            (chosen.body, chosen.subject.or(body.subject), Some(used))
        }
        _ => {
            return Err(ApiError::invalid(
                Code::InvalidBody,
                "give either text or template",
            ));
        }
    };
    let asked = Reply {
        contact_id: conversation.contact_id.clone(),
        conversation_id: conversation.id.clone(),
        channel: conversation.channel,
        text,
        subject,
        member_id: caller.key.member_id.clone(),
        anytime: body.quiet_hours_override,
        sender: conversation.sender.clone(),
        key,
    };
    let replied = state.engine.reply(caller.tenant(), asked).await?;
    if !replied.duplicate {
        let details = json!({
            "run_id": replied.run_id.to_string(),
            "quiet_hours_override": body.quiet_hours_override,
            "template": template,
        });
        let audit =
            caller.audit_entry("conversation.reply", &format!("conversation:{id}"), details);
        state.access.append_audit(caller.tenant(), &audit).await?;
    }
    Ok((StatusCode::ACCEPTED, Json(replied)))
}

/// The version of template `name` a reply sends: `pinned` if approved, else the newest
/// approved one.
async fn approved(
    state: &AppState,
    caller: &Caller,
    name: &str,
    pinned: Option<u32>,
) -> Result<TemplateVersion, ApiError> {
    let versions = match state
        .templates
        .template_versions(caller.tenant(), name)
        .await
    {
        Ok(versions) => versions,
        Err(StoreError::NotFound { .. }) => {
            return Err(ApiError::invalid(
                Code::InvalidBody,
                format!("template: no template {name} (GET /v1/templates)"),
            ));
        }
        Err(e) => return Err(e.into()),
    };
    usable(&versions, pinned).cloned().ok_or_else(|| {
        let which = pinned.map_or("no approved version".to_owned(), |v| {
            format!("no approved version {v}")
        });
        ApiError::new(
            StatusCode::CONFLICT,
            Code::Conflict,
            format!("template {name} has {which}: an admin approves one first"),
        )
    })
}

/// Applies a takeover change with its audit entry; a release lets the contact's held runs go.
async fn hand(
    state: &AppState,
    caller: &Caller,
    id: &str,
    change: ConversationChange,
) -> Result<Json<Conversation>, ApiError> {
    let action = match change {
        ConversationChange::TakeOver => "conversation.take_over",
        _ => "conversation.release",
    };
    let audit = caller.audit_entry(action, &format!("conversation:{id}"), json!({}));
    let conversation = state
        .conversations
        .change_conversation(caller.tenant(), id, &change, Some(&audit))
        .await?;
    if conversation.status != ConversationStatus::NeedsHuman {
        let woken = state
            .engine
            .release_held_runs(caller.tenant(), &conversation.contact_id)
            .await?;
        tracing::info!(tenant_id = %caller.tenant(), conversation_id = %id, woken, "conversation released");
    } else if matches!(change, ConversationChange::TakeOver) {
        let who = format!("A team member ({})", audit.actor);
        state
            .engine
            .alert_handed(caller.tenant(), &who, &conversation.contact_id, None)
            .await?;
    }
    Ok(Json(conversation))
}

/// Take over (agent): the conversation needs a human, and the contact's automated messages
/// hold (or their runs end, as `settings.takeover.automation` says) until it is released.
#[utoipa::path(post, path = "/v1/conversations/{id}/take-over", tag = "conversations",
    params(("id" = String, Path, description = "The conversation's id")),
    responses((status = 200, body = Conversation),
              (status = 404, description = "No such conversation", body = crate::server::openapi::ErrorBody)))]
async fn take_over(
    State(state): State<AppState>,
    Agent(caller): Agent,
    ApiPath(id): ApiPath<String>,
) -> Result<Json<Conversation>, ApiError> {
    hand(&state, &caller, &id, ConversationChange::TakeOver).await
}

/// Release (agent): back to `open`; the contact's held automated messages go on at once.
#[utoipa::path(post, path = "/v1/conversations/{id}/release", tag = "conversations",
    params(("id" = String, Path, description = "The conversation's id")),
    responses((status = 200, body = Conversation),
              (status = 404, description = "No such conversation", body = crate::server::openapi::ErrorBody)))]
async fn release(
    State(state): State<AppState>,
    Agent(caller): Agent,
    ApiPath(id): ApiPath<String>,
) -> Result<Json<Conversation>, ApiError> {
    hand(&state, &caller, &id, ConversationChange::Release).await
}
