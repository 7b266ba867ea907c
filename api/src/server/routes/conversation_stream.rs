//! `GET /v1/conversations/stream` (viewer): the tenant's inbox, live, as server-sent events:
//! each new message (`event: message`) and each change to a conversation (`event:
//! conversation`: read, assigned, snoozed, closed, reopened, taken over, released), in order,
//! whichever process made it. Each event's `id` is its number: a client that reconnects with
//! `Last-Event-ID` gets every change after it (kept for a week); without one it gets changes
//! from now on. A tenant may hold a few streams open at once.

use std::collections::{HashMap, VecDeque};
use std::convert::Infallible;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::sse::{Event, KeepAlive, Sse};
use futures_util::stream::{self, Stream, StreamExt};
use stepwise_engine::inbox::stream::sendable;
use stepwise_engine::ports::{ConversationStore, InboxChange};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::server::{ApiError, AppState, Caller, Code};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(stream_inbox))
}

/// Streams one tenant may hold open at once (a browser tab each).
pub const MAX_STREAMS: usize = 10;
/// How often a stream looks for new changes.
const POLL: Duration = Duration::from_millis(250);
/// How long a client waits before it reconnects (the stream's `retry`).
const RECONNECT: Duration = Duration::from_secs(2);
/// Changes read at a time.
const BATCH: u32 = 200;
/// How long changes are kept for streams to resume from.
const RETENTION: jiff::SignedDuration = jiff::SignedDuration::from_hours(24 * 7);

/// The streams open per tenant.
#[derive(Debug, Default)]
pub struct StreamSlots {
    open: Mutex<HashMap<String, usize>>,
}

/// One open stream; dropping it (the client went away) frees its slot.
struct Slot {
    slots: Arc<StreamSlots>,
    tenant_id: String,
}

impl StreamSlots {
    fn take(self: &Arc<Self>, tenant_id: &str) -> Option<Slot> {
        let mut open = self.open.lock().unwrap_or_else(|p| p.into_inner());
        let count = open.entry(tenant_id.to_owned()).or_default();
        if *count >= MAX_STREAMS {
            return None;
        }
        *count += 1;
        Some(Slot {
            slots: self.clone(),
            tenant_id: tenant_id.to_owned(),
        })
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut open = self.slots.open.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(count) = open.get_mut(&self.tenant_id) {
            *count = count.saturating_sub(1);
            if *count == 0 {
                open.remove(&self.tenant_id);
            }
        }
    }
}

/// Forgets changes older than a week, hourly.
pub fn spawn_prune(conversations: Arc<dyn ConversationStore>) {
    tokio::spawn(async move {
        let mut hourly = tokio::time::interval(Duration::from_secs(3_600));
        loop {
            hourly.tick().await;
            match conversations
                .prune_inbox_changes(jiff::Timestamp::now() - RETENTION)
                .await
            {
                Ok(pruned) => tracing::debug!(pruned, "inbox changes pruned"),
                Err(e) => tracing::warn!(error = %e, "pruning inbox changes failed"),
            }
        }
    });
}

/// What a stream carries between polls.
struct Follow {
    conversations: Arc<dyn ConversationStore>,
    tenant_id: String,
    last: u64,
    ready: VecDeque<InboxChange>,
    poll: tokio::time::Interval,
    _slot: Slot,
}

impl Follow {
    /// The next change, waiting for one; `None` ends the stream (the store failed: the
    /// client reconnects from its last event).
    async fn next(&mut self) -> Option<InboxChange> {
        while self.ready.is_empty() {
            self.poll.tick().await;
            let read = match self
                .conversations
                .inbox_changes(&self.tenant_id, self.last, BATCH)
                .await
            {
                Ok(read) => read,
                Err(e) => {
                    tracing::warn!(tenant_id = %self.tenant_id, error = %e, "inbox stream ended");
                    return None;
                }
            };
            let sendable = sendable(self.last, read, jiff::Timestamp::now());
            if let Some(newest) = sendable.last() {
                self.last = newest.seq;
            }
            self.ready.extend(sendable);
        }
        self.ready.pop_front()
    }
}

fn last_event_id(headers: &HeaderMap) -> Result<Option<u64>, ApiError> {
    headers
        .get("last-event-id")
        .map(|v| {
            v.to_str()
                .ok()
                .and_then(|v| v.trim().parse().ok())
                .ok_or_else(|| {
                    ApiError::bad_request("Last-Event-ID: the id of an event this stream sent")
                })
        })
        .transpose()
}

/// The inbox, live (viewer): server-sent events, resumable with `Last-Event-ID`.
#[utoipa::path(get, path = "/v1/conversations/stream", tag = "conversations",
    params(("Last-Event-ID" = Option<u64>, Header, description = "Resume after this event")),
    responses((status = 200, description = "An endless `text/event-stream`: `event: message` (`conversation_id`, `contact_id`, `channel`, `direction`, `text`, `at`) and `event: conversation` (`conversation_id`, `change`, `by` and the change's values), each with its `id`", content_type = "text/event-stream", body = String),
              (status = 400, description = "`invalid_input`: Last-Event-ID is not an event id", body = crate::server::openapi::ErrorBody),
              (status = 429, description = "`rate_limited`: the tenant holds 10 streams open already", body = crate::server::openapi::ErrorBody)))]
async fn stream_inbox(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>>>, ApiError> {
    let tenant_id = caller.tenant().to_owned();
    let after = last_event_id(&headers)?;
    let slot = state.inbox_streams.take(&tenant_id).ok_or_else(|| {
        ApiError::new(
            StatusCode::TOO_MANY_REQUESTS,
            Code::RateLimited,
            format!("this business holds {MAX_STREAMS} inbox streams open already: close one"),
        )
    })?;
    let last = match after {
        Some(after) => after,
        None => state.conversations.last_inbox_change(&tenant_id).await?,
    };
    let mut poll = tokio::time::interval(POLL);
    poll.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let follow = Follow {
        conversations: state.conversations.clone(),
        tenant_id,
        last,
        ready: VecDeque::new(),
        poll,
        _slot: slot,
    };
    // The first event (a reconnection delay for the client) sends the headers at once.
    let hello = stream::once(async { Ok(Event::default().retry(RECONNECT)) });
    let events = stream::unfold(follow, |mut follow| async move {
        let change = follow.next().await?;
        let event = Event::default()
            .id(change.seq.to_string())
            .event(change.kind.as_str())
            .data(change.data.to_string());
        Some((Ok(event), follow))
    });
    Ok(Sse::new(hello.chain(events)).keep_alive(KeepAlive::default()))
}
