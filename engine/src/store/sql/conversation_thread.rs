//! A conversation's thread in the SQL store: the contact's runs' sent messages on the channel
//! (with their latest delivery report) and the contact's own messages (inbound events whose
//! `data` names the channel and has a `body`), merged by time. One more than a page is read
//! from each, so the page knows whether older messages are left and never ends between two
//! messages of the same time.

use serde_json::Value;
use sqlx::Row;

use super::conversations::INBOUND_TYPES;
use super::{Scope, SqlStore, micros, time_column, unavailable};
use crate::ports::{Conversation, Direction, StoreError, ThreadMessage, ThreadPage};
use crate::runtime::builtin::{INBOX_REPLY, INBOX_REPLY_ANYTIME};

pub(super) async fn thread(
    store: &SqlStore,
    tenant_id: &str,
    conversation: &Conversation,
    before: Option<jiff::Timestamp>,
    limit: u32,
) -> Result<ThreadPage, StoreError> {
    let page = limit.clamp(1, 200) as usize;
    // One more than the page from each source: whether older ones are left, and which.
    let limit = page as i64 + 1;
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
                 WHERE tenant_id = $1 AND contact_id = $2 AND event_type IN ($3, $4, $5, $8) \
                 AND received_at < $7 ORDER BY received_at DESC LIMIT $6",
            )
            .bind(tenant_id)
            .bind(&conversation.contact_id)
            .bind(INBOUND_TYPES[0])
            .bind(INBOUND_TYPES[1])
            .bind(INBOUND_TYPES[2])
            .bind(limit)
            .bind(before)
            .bind(INBOUND_TYPES[3]),
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
        let at = time_column(row, "received_at")?;
        let event_type: String = row.try_get("event_type").map_err(unavailable)?;
        // The answer to a HELP went back in the provider's reply to the webhook (TwiML), not
        // through the outbox: it is shown right after the message it answered.
        if let Some(answer) = data["answer"].as_str() {
            messages.push(ThreadMessage {
                direction: Direction::Outbound,
                at: at + jiff::SignedDuration::from_micros(1),
                text: answer.to_owned(),
                run_id: None,
                status: Some("sent".into()),
                provider_id: None,
                flow_id: None,
                member_id: None,
                event_type: Some(event_type.clone()),
                media: None,
            });
        }
        messages.push(ThreadMessage {
            direction: Direction::Inbound,
            at,
            text: body.to_owned(),
            run_id: None,
            status: None,
            provider_id: data["message_id"].as_str().map(str::to_owned),
            flow_id: None,
            member_id: None,
            event_type: Some(event_type),
            media: data.get("media").filter(|m| !m.is_null()).cloned(),
        });
    }
    messages.sort_by_key(|m: &ThreadMessage| std::cmp::Reverse(m.at));
    let older_before = page_end(&messages, page).map(|end| {
        messages.truncate(end);
        messages[end - 1].at
    });
    messages.reverse();
    Ok(ThreadPage {
        messages,
        older_before,
    })
}

/// Where a page of `newest_first` messages ends, when more than `page` are there: after the
/// `page`-th, or before the messages that share the time of the first one left out (so
/// `before` the page's oldest time finds them all), unless they fill the whole page.
fn page_end(newest_first: &[ThreadMessage], page: usize) -> Option<usize> {
    let first_left = newest_first.get(page)?;
    let tied = newest_first[..page]
        .iter()
        .position(|m| m.at == first_left.at)
        .unwrap_or(page);
    Some(if tied == 0 { page } else { tied })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(micros: i64) -> ThreadMessage {
        ThreadMessage {
            direction: Direction::Outbound,
            at: jiff::Timestamp::from_microsecond(micros).unwrap(),
            text: String::new(),
            run_id: None,
            status: None,
            provider_id: None,
            flow_id: None,
            member_id: None,
            event_type: None,
            media: None,
        }
    }

    #[test]
    fn a_page_never_ends_between_messages_of_one_time() {
        let newest_first: Vec<_> = [9, 8, 7, 7, 7, 6].into_iter().map(at).collect();
        assert_eq!(page_end(&newest_first, 6), None, "all fit: no older page");
        assert_eq!(page_end(&newest_first, 5), Some(5), "ends on a time change");
        // A page of 3 or 4 would split the three at 7: it ends before them.
        assert_eq!(page_end(&newest_first, 3), Some(2));
        assert_eq!(page_end(&newest_first, 4), Some(2));
        // A page the tie fills whole is cut there (a hundred texts in one microsecond).
        let tied: Vec<_> = [7, 7, 7, 6].into_iter().map(at).collect();
        assert_eq!(page_end(&tied, 2), Some(2));
    }
}
