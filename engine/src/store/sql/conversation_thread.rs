//! A conversation's thread in the SQL store: the contact's runs' sent messages on the channel
//! (with their latest delivery report) and the contact's own messages (inbound events whose
//! `data` names the channel and has a `body`), merged by time.

use serde_json::Value;
use sqlx::Row;

use super::conversations::INBOUND_TYPES;
use super::{Scope, SqlStore, micros, time_column, unavailable};
use crate::ports::{Conversation, Direction, StoreError, ThreadMessage};
use crate::runtime::builtin::{INBOX_REPLY, INBOX_REPLY_ANYTIME};

pub(super) async fn thread(
    store: &SqlStore,
    tenant_id: &str,
    conversation: &Conversation,
    before: Option<jiff::Timestamp>,
    limit: u32,
) -> Result<Vec<ThreadMessage>, StoreError> {
    let limit = i64::from(limit.clamp(1, 200));
    let before = before.map_or(i64::MAX, micros);
    let sent = store
        .fetch_all(
            Scope::Tenant(tenant_id),
            sqlx::query(
                // CROSS JOIN: SQLite then reads the contact's runs first (by their index), not
                // every message of the tenant in time order.
                // A reply by hand's run names its member in its trigger (read for those only).
                "SELECT m.run_id, m.body, m.provider_id, m.created_at, COALESCE(d.status, m.status) AS status, \
                 r.flow_id, CASE WHEN r.flow_id IN ($5, $6) THEN r.state END AS reply_state \
                 FROM runs r CROSS JOIN messages m \
                 LEFT JOIN deliveries d ON d.tenant_id = m.tenant_id AND d.provider_id = m.provider_id \
                 WHERE m.tenant_id = r.tenant_id AND m.run_id = r.id \
                 AND r.tenant_id = $1 AND r.contact_id = $2 AND m.channel = $3 AND m.created_at < $7 \
                 ORDER BY m.created_at DESC LIMIT $4",
            )
            .bind(tenant_id)
            .bind(&conversation.contact_id)
            .bind(conversation.channel.as_str())
            .bind(limit)
            .bind(INBOX_REPLY)
            .bind(INBOX_REPLY_ANYTIME)
            .bind(before),
        )
        .await?;
    let mut messages = Vec::with_capacity(sent.len());
    for row in &sent {
        let reply_state: Option<String> = row.try_get("reply_state").map_err(unavailable)?;
        let member_id = reply_state
            .and_then(|state| serde_json::from_str::<Value>(&state).ok())
            .and_then(|run| {
                run["trigger"]["data"]["member_id"]
                    .as_str()
                    .map(str::to_owned)
            });
        messages.push(ThreadMessage {
            direction: Direction::Outbound,
            at: time_column(row, "created_at")?,
            text: row.try_get("body").map_err(unavailable)?,
            run_id: Some(row.try_get("run_id").map_err(unavailable)?),
            status: Some(row.try_get("status").map_err(unavailable)?),
            provider_id: row.try_get("provider_id").map_err(unavailable)?,
            flow_id: Some(row.try_get("flow_id").map_err(unavailable)?),
            member_id,
            event_type: None,
            media: None,
        });
    }
    let received = store
        .fetch_all(
            Scope::Tenant(tenant_id),
            sqlx::query(
                "SELECT event_type, doc, received_at FROM events \
                 WHERE tenant_id = $1 AND contact_id = $2 AND event_type IN ($3, $4, $5) \
                 AND received_at < $7 ORDER BY received_at DESC LIMIT $6",
            )
            .bind(tenant_id)
            .bind(&conversation.contact_id)
            .bind(INBOUND_TYPES[0])
            .bind(INBOUND_TYPES[1])
            .bind(INBOUND_TYPES[2])
            .bind(limit)
            .bind(before),
        )
        .await?;
    for row in &received {
        let doc: String = row.try_get("doc").map_err(unavailable)?;
        let event: Value = serde_json::from_str(&doc).unwrap_or(Value::Null);
        let data = &event["data"];
        let (Some(channel), Some(body)) = (data["channel"].as_str(), data["body"].as_str()) else {
            continue;
        };
        if channel != conversation.channel.as_str() {
            continue;
        }
        messages.push(ThreadMessage {
            direction: Direction::Inbound,
            at: time_column(row, "received_at")?,
            text: body.to_owned(),
            run_id: None,
            status: None,
            provider_id: data["message_id"].as_str().map(str::to_owned),
            flow_id: None,
            member_id: None,
            event_type: Some(row.try_get("event_type").map_err(unavailable)?),
            media: data.get("media").filter(|m| !m.is_null()).cloned(),
        });
    }
    messages.sort_by_key(|m: &ThreadMessage| std::cmp::Reverse(m.at));
    messages.truncate(limit as usize);
    messages.reverse();
    Ok(messages)
}
