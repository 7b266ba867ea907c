//! The inbox. `GET /v1/conversations` (viewer) lists a conversation per contact and channel,
//! newest message first, with filters; `GET /v1/conversations/{id}` answers one with its
//! thread (both directions, delivery statuses, the runs that sent them). An agent (or above)
//! marks one read, assigns it to a member, snoozes, closes or reopens it; a new message from
//! the contact reopens it.

use axum::Json;
use axum::extract::State;
use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use serde_json::json;
use stepwise_engine::ports::{
    Channel, Conversation, ConversationChange, ConversationFilter, ConversationStatus,
    ThreadMessage,
};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::server::extract::{ApiJson, ApiPath, ApiQuery};
use crate::server::page::{self, Page};
use crate::server::{Agent, ApiError, AppState, Caller, Code};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list))
        .routes(routes!(show))
        .routes(routes!(read))
        .routes(routes!(assign))
        .routes(routes!(snooze))
        .routes(routes!(close))
        .routes(routes!(reopen))
}

/// Messages a thread answers with (the newest).
const THREAD: u32 = 100;

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
struct ListQuery {
    /// `open` (snoozes that ran out too), `snoozed`, `closed` or `needs_human`.
    status: Option<ConversationStatus>,
    /// Assigned to this member.
    assignee: Option<String>,
    /// `true`: assigned to no one.
    unassigned: Option<bool>,
    /// `sms` or `email`.
    channel: Option<Channel>,
    /// `true`: with messages from the contact not yet read.
    has_unread: Option<bool>,
    /// Only conversations whose contact has this tag. Each request reads at most 2,000
    /// conversations for it: a page may hold fewer than `limit` (even none) and still have
    /// a `next_cursor`; follow it until there is none.
    tag: Option<String>,
    limit: Option<u32>,
    cursor: Option<String>,
}

/// The inbox, newest message first.
#[utoipa::path(get, path = "/v1/conversations", tag = "conversations", params(ListQuery),
    responses((status = 200, body = Page<Conversation>)))]
async fn list(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(q): ApiQuery<ListQuery>,
) -> Result<Json<Page<Conversation>>, ApiError> {
    let limit = page::limit(q.limit)?;
    let before = q
        .cursor
        .as_deref()
        .map(page::decode_time)
        .transpose()?
        .map(|c| (c.at, c.id));
    let filter = ConversationFilter {
        status: q.status,
        assignee: q.assignee,
        unassigned: q.unassigned.unwrap_or(false),
        channel: q.channel,
        has_unread: q.has_unread.unwrap_or(false),
        tag: q.tag,
        before,
        now: None,
    };
    let rows = state
        .conversations
        .conversations(caller.tenant(), &filter, limit + 1)
        .await?;
    let full = rows.len() > limit as usize;
    let mut answer = page::page(rows, limit, |c| page::encode_time(c.last_message_at, &c.id));
    // A tag filter reads a window of the inbox a request: past it, the page goes on there.
    if !full
        && let Some((at, id)) = state
            .conversations
            .tag_scan_end(caller.tenant(), &filter)
            .await?
    {
        answer.next_cursor = Some(page::encode_time(at, &id));
    }
    Ok(answer)
}

/// A conversation and its thread.
#[derive(Debug, Serialize, ToSchema)]
struct Thread {
    conversation: Conversation,
    /// The newest 100 messages (before `before`, when asked), oldest first.
    messages: Vec<ThreadMessage>,
    /// When older messages are left: ask again with `?before=` this (the oldest message's
    /// time; a page never ends between two messages of the same time).
    #[schema(value_type = Option<String>, format = DateTime)]
    older_before: Option<Timestamp>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
struct ThreadQuery {
    /// Only messages older than this time (RFC 3339): the previous answer's `older_before`.
    before: Option<Timestamp>,
}

/// A conversation with its newest 100 messages; older ones page back with `before`.
#[utoipa::path(get, path = "/v1/conversations/{id}", tag = "conversations",
    params(("id" = String, Path, description = "The conversation's id"), ThreadQuery),
    responses((status = 200, body = Thread),
              (status = 404, description = "No such conversation", body = crate::server::openapi::ErrorBody)))]
async fn show(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
    ApiQuery(q): ApiQuery<ThreadQuery>,
) -> Result<Json<Thread>, ApiError> {
    let conversation = state
        .conversations
        .conversation(caller.tenant(), &id)
        .await?;
    let page = state
        .conversations
        .thread(caller.tenant(), &conversation, q.before, THREAD)
        .await?;
    Ok(Json(Thread {
        conversation,
        messages: page.messages,
        older_before: page.older_before,
    }))
}

/// Applies a staff action; every one but marking read is in the audit log.
async fn act(
    state: &AppState,
    caller: &Caller,
    id: &str,
    change: ConversationChange,
) -> Result<Json<Conversation>, ApiError> {
    let audit = match &change {
        ConversationChange::Read => None,
        ConversationChange::Assign(member) => {
            Some(("conversation.assign", json!({"member_id": member})))
        }
        ConversationChange::Snooze(until) => Some(("conversation.snooze", json!({"until": until}))),
        ConversationChange::Close => Some(("conversation.close", json!({}))),
        ConversationChange::Reopen => Some(("conversation.reopen", json!({}))),
        ConversationChange::TakeOver => Some(("conversation.take_over", json!({}))),
        ConversationChange::Release => Some(("conversation.release", json!({}))),
    }
    .map(|(action, details)| caller.audit_entry(action, &format!("conversation:{id}"), details));
    Ok(Json(
        state
            .conversations
            .change_conversation(caller.tenant(), id, &change, audit.as_ref())
            .await?,
    ))
}

/// Mark read (agent): its unread count goes to 0.
#[utoipa::path(post, path = "/v1/conversations/{id}/read", tag = "conversations",
    params(("id" = String, Path, description = "The conversation's id")),
    responses((status = 200, body = Conversation),
              (status = 404, description = "No such conversation", body = crate::server::openapi::ErrorBody)))]
async fn read(
    State(state): State<AppState>,
    Agent(caller): Agent,
    ApiPath(id): ApiPath<String>,
) -> Result<Json<Conversation>, ApiError> {
    act(&state, &caller, &id, ConversationChange::Read).await
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct Assignment {
    /// A member's id (`GET /v1/members`), or `null` to unassign.
    member_id: Option<String>,
}

/// Assign to a member, or unassign (agent).
#[utoipa::path(post, path = "/v1/conversations/{id}/assign", tag = "conversations",
    params(("id" = String, Path, description = "The conversation's id")), request_body = Assignment,
    responses((status = 200, body = Conversation),
              (status = 404, description = "No such conversation", body = crate::server::openapi::ErrorBody),
              (status = 422, description = "`invalid_body`: no such member", body = crate::server::openapi::ErrorBody)))]
async fn assign(
    State(state): State<AppState>,
    Agent(caller): Agent,
    ApiPath(id): ApiPath<String>,
    ApiJson(body): ApiJson<Assignment>,
) -> Result<Json<Conversation>, ApiError> {
    if let Some(member) = &body.member_id
        && state.members.member(caller.tenant(), member).await.is_err()
    {
        return Err(ApiError::invalid(
            Code::InvalidBody,
            format!("member_id: no member {member} in this team (GET /v1/members)"),
        ));
    }
    act(
        &state,
        &caller,
        &id,
        ConversationChange::Assign(body.member_id),
    )
    .await
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct Snooze {
    /// Until when (RFC 3339, in the future, within a year); the contact's next message
    /// reopens it sooner.
    #[schema(value_type = String, format = DateTime)]
    until: Timestamp,
}

/// Snooze until a time (agent).
#[utoipa::path(post, path = "/v1/conversations/{id}/snooze", tag = "conversations",
    params(("id" = String, Path, description = "The conversation's id")), request_body = Snooze,
    responses((status = 200, body = Conversation),
              (status = 404, description = "No such conversation", body = crate::server::openapi::ErrorBody),
              (status = 409, description = "`conflict`: the conversation needs a human (release it first)", body = crate::server::openapi::ErrorBody),
              (status = 422, description = "`invalid_body`: not in the coming year", body = crate::server::openapi::ErrorBody)))]
async fn snooze(
    State(state): State<AppState>,
    Agent(caller): Agent,
    ApiPath(id): ApiPath<String>,
    ApiJson(body): ApiJson<Snooze>,
) -> Result<Json<Conversation>, ApiError> {
    let now = Timestamp::now();
    if body.until <= now || body.until > now + jiff::SignedDuration::from_hours(24 * 366) {
        return Err(ApiError::invalid(
            Code::InvalidBody,
            "until: a time in the coming year",
        ));
    }
    let current = state
        .conversations
        .conversation(caller.tenant(), &id)
        .await?;
    if current.status == ConversationStatus::NeedsHuman {
        return Err(ApiError::new(
            axum::http::StatusCode::CONFLICT,
            Code::Conflict,
            "the conversation needs a human: release it (POST …/release) or close it first",
        ));
    }
    act(&state, &caller, &id, ConversationChange::Snooze(body.until)).await
}

/// Close (agent); the contact's next message reopens it.
#[utoipa::path(post, path = "/v1/conversations/{id}/close", tag = "conversations",
    params(("id" = String, Path, description = "The conversation's id")),
    responses((status = 200, body = Conversation),
              (status = 404, description = "No such conversation", body = crate::server::openapi::ErrorBody)))]
async fn close(
    State(state): State<AppState>,
    Agent(caller): Agent,
    ApiPath(id): ApiPath<String>,
) -> Result<Json<Conversation>, ApiError> {
    let closed = act(&state, &caller, &id, ConversationChange::Close).await?;
    // Closing a conversation that needed a human ends the takeover: held runs go on.
    state
        .engine
        .release_held_runs(caller.tenant(), &closed.contact_id)
        .await?;
    Ok(closed)
}

/// Reopen a closed or snoozed conversation (agent).
#[utoipa::path(post, path = "/v1/conversations/{id}/reopen", tag = "conversations",
    params(("id" = String, Path, description = "The conversation's id")),
    responses((status = 200, body = Conversation),
              (status = 404, description = "No such conversation", body = crate::server::openapi::ErrorBody)))]
async fn reopen(
    State(state): State<AppState>,
    Agent(caller): Agent,
    ApiPath(id): ApiPath<String>,
) -> Result<Json<Conversation>, ApiError> {
    act(&state, &caller, &id, ConversationChange::Reopen).await
}
