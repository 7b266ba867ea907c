//! [`ConversationStore`] in SQL: the `conversations` table, touched in the commit of each
//! message that changes it ([`touch`], from the outbox and from inbound events), listed by
//! `last_message_at`, and threads read from `messages` (with their delivery reports) and
//! `events`.

use jiff::Timestamp;
use serde_json::{Value, json};
use sqlx::Row;
use sqlx::any::AnyRow;

use super::access::insert_audit;
use super::runs::RecordRow;
use super::{Scope, SqlStore, Tx, micros, time_column, unavailable};
use crate::ports::{
    AuditEntry, Channel, Conversation, ConversationChange, ConversationFilter, ConversationStatus,
    ConversationStore, Direction, InboxChange, StoreError, StoredEvent, ThreadPage,
    conversation_id,
};
use crate::runtime::Happening;

const COLUMNS: &str = "id, contact_id, channel, status, assignee, snoozed_until, unread, \
                       last_message_at, last_direction, sender, created_at";

/// The events that are a contact's own messages (their `data` has `channel` and `body`; a
/// HELP's has the `answer` the provider texted back too).
pub(super) const INBOUND_TYPES: [&str; 4] = [
    "message.received",
    "contact.opted_out",
    "contact.opted_in",
    "help.requested",
];

/// A message in a conversation, as [`touch`] records it.
pub(super) struct Touch<'a> {
    pub contact_id: &'a str,
    pub channel: Channel,
    pub at: Timestamp,
    pub direction: Direction,
    /// The contact asked for a person (`needs_human`).
    pub takeover: bool,
    /// Inbound: the business's number it was sent to.
    pub sender: Option<&'a str>,
    /// The message's text, for the live stream.
    pub text: &'a str,
}

/// Records a message in its conversation (made if new), inside the message's own commit: an
/// inbound one counts as unread and reopens it (a conversation that needs a human stays so,
/// until released), and one that asks for a person makes it need one.
pub(super) async fn touch(
    tx: &mut Tx,
    tenant_id: &str,
    touch: Touch<'_>,
) -> Result<(), StoreError> {
    let (unread, way) = match touch.direction {
        Direction::Inbound => (1i64, "inbound"),
        Direction::Outbound => (0, "outbound"),
    };
    let status = if touch.takeover {
        "needs_human"
    } else {
        "open"
    };
    sqlx::query(
        "INSERT INTO conversations (tenant_id, id, contact_id, channel, status, unread, last_message_at, last_direction, sender, created_at) \
         VALUES ($1, $2, $3, $4, $8, $5, $6, $7, $9, $6) \
         ON CONFLICT (tenant_id, id) DO UPDATE SET \
         unread = conversations.unread + excluded.unread, \
         last_direction = CASE WHEN excluded.last_message_at >= conversations.last_message_at \
             THEN excluded.last_direction ELSE conversations.last_direction END, \
         last_message_at = CASE WHEN excluded.last_message_at > conversations.last_message_at \
             THEN excluded.last_message_at ELSE conversations.last_message_at END, \
         status = CASE WHEN excluded.status = 'needs_human' THEN 'needs_human' \
             WHEN conversations.status = 'needs_human' THEN conversations.status \
             WHEN excluded.unread > 0 THEN 'open' ELSE conversations.status END, \
         snoozed_until = CASE WHEN excluded.unread > 0 THEN NULL ELSE conversations.snoozed_until END, \
         sender = COALESCE(excluded.sender, conversations.sender)",
    )
    .bind(tenant_id)
    .bind(conversation_id(touch.contact_id, touch.channel))
    .bind(touch.contact_id)
    .bind(touch.channel.as_str())
    .bind(unread)
    .bind(micros(touch.at))
    .bind(way)
    .bind(status)
    .bind(touch.sender)
    .execute(&mut **tx)
    .await
    .map_err(unavailable)?;
    let id = conversation_id(touch.contact_id, touch.channel);
    let message = json!({
        "conversation_id": id, "contact_id": touch.contact_id, "channel": touch.channel.as_str(),
        "direction": way, "text": touch.text, "at": touch.at,
    });
    super::inbox_changes::append(tx, tenant_id, &id, "message", &message, touch.at).await?;
    if touch.takeover {
        let change = json!({"conversation_id": id, "change": "take_over", "by": "contact"});
        super::inbox_changes::append(tx, tenant_id, &id, "conversation", &change, touch.at).await?;
    }
    Ok(())
}

/// Records a new event in its contact's conversation when it is the contact's own message
/// (one of [`INBOUND_TYPES`] whose `data` names the channel and has a `body`).
pub(super) async fn touch_inbound(
    tx: &mut Tx,
    tenant_id: &str,
    stored: &StoredEvent,
) -> Result<(), StoreError> {
    let data = &stored.event.data;
    if let Some(contact_id) = &stored.contact_id
        && INBOUND_TYPES.contains(&stored.event.event_type.as_str())
        && data["body"].is_string()
        && let Some(channel) = data["channel"].as_str().and_then(Channel::parse)
    {
        let touched = Touch {
            contact_id,
            channel,
            at: stored.received_at,
            direction: Direction::Inbound,
            takeover: data["takeover"] == true,
            sender: data["to"].as_str().filter(|to| !to.is_empty()),
            text: data["body"].as_str().unwrap_or_default(),
        };
        touch(tx, tenant_id, touched).await?;
    }
    Ok(())
}

/// Puts the conversation of each contact a run handed to a person (`hand_over` records among
/// `records`) in `needs_human`, inside the run's commit; a contact without one on the channel
/// gets one.
pub(super) async fn hand_over(tx: &mut Tx, records: &[RecordRow<'_>]) -> Result<(), StoreError> {
    for (tenant_id, run, _, record) in records {
        let Happening::HandedOver { channel, reason } = &record.what else {
            continue;
        };
        let Some(channel) = Channel::parse(channel) else {
            continue;
        };
        let id = conversation_id(&run.contact_id, channel);
        sqlx::query(
            "INSERT INTO conversations (tenant_id, id, contact_id, channel, status, unread, last_message_at, last_direction, created_at) \
             VALUES ($1, $2, $3, $4, 'needs_human', 0, $5, 'outbound', $5) \
             ON CONFLICT (tenant_id, id) DO UPDATE SET status = 'needs_human', snoozed_until = NULL",
        )
        .bind(*tenant_id)
        .bind(&id)
        .bind(&run.contact_id)
        .bind(channel.as_str())
        .bind(micros(record.at))
        .execute(&mut **tx)
        .await
        .map_err(unavailable)?;
        let change = json!({
            "conversation_id": id, "change": "take_over", "by": "flow", "flow_id": run.flow_id,
            "run_id": run.id.to_string(), "reason": reason,
        });
        super::inbox_changes::append(tx, tenant_id, &id, "conversation", &change, record.at)
            .await?;
    }
    Ok(())
}

fn at(row: &AnyRow, column: &str) -> Result<Option<Timestamp>, StoreError> {
    let us: Option<i64> = row.try_get(column).map_err(unavailable)?;
    Ok(us.and_then(|us| Timestamp::from_microsecond(us).ok()))
}

pub(super) fn conversation_of(row: &AnyRow, now: Timestamp) -> Result<Conversation, StoreError> {
    let text = |column: &str| row.try_get::<String, _>(column).map_err(unavailable);
    let snoozed_until = at(row, "snoozed_until")?;
    let mut status =
        ConversationStatus::parse(&text("status")?).unwrap_or(ConversationStatus::Open);
    if status == ConversationStatus::Snoozed && snoozed_until.is_none_or(|until| until <= now) {
        status = ConversationStatus::Open;
    }
    let unread: i64 = row.try_get("unread").map_err(unavailable)?;
    Ok(Conversation {
        id: text("id")?,
        contact_id: text("contact_id")?,
        channel: Channel::parse(&text("channel")?).unwrap_or(Channel::Sms),
        status,
        assignee: row.try_get("assignee").map_err(unavailable)?,
        snoozed_until: snoozed_until.filter(|_| status == ConversationStatus::Snoozed),
        unread: unread.max(0) as u64,
        last_message_at: time_column(row, "last_message_at")?,
        last_direction: if text("last_direction")? == "inbound" {
            Direction::Inbound
        } else {
            Direction::Outbound
        },
        sender: row.try_get("sender").map_err(unavailable)?,
        created_at: time_column(row, "created_at")?,
    })
}

/// A value bound to a query.
pub(super) enum Bind {
    Text(String),
    Int(i64),
}

/// A staff action as the live stream tells it, with the member (or key) who did it.
fn change_data(id: &str, change: &ConversationChange, audit: Option<&AuditEntry>) -> Value {
    let mut data = match change {
        ConversationChange::Read => json!({"change": "read"}),
        ConversationChange::Assign(member) => json!({"change": "assign", "assignee": member}),
        ConversationChange::Snooze(until) => json!({"change": "snooze", "until": until}),
        ConversationChange::Close => json!({"change": "close"}),
        ConversationChange::Reopen => json!({"change": "reopen"}),
        ConversationChange::TakeOver => json!({"change": "take_over"}),
        ConversationChange::Release => json!({"change": "release"}),
    };
    data["conversation_id"] = json!(id);
    if let Some(audit) = audit {
        data["by"] = json!(audit.actor);
    }
    data
}

fn not_found(id: &str) -> StoreError {
    StoreError::NotFound {
        what: format!("conversation {id}"),
    }
}

#[async_trait::async_trait]
impl ConversationStore for SqlStore {
    async fn conversations(
        &self,
        tenant_id: &str,
        filter: &ConversationFilter,
        limit: u32,
    ) -> Result<Vec<Conversation>, StoreError> {
        super::conversation_list::conversations(self, tenant_id, filter, limit).await
    }

    async fn tag_scan_end(
        &self,
        tenant_id: &str,
        filter: &ConversationFilter,
    ) -> Result<Option<(Timestamp, String)>, StoreError> {
        super::conversation_list::tag_scan_end(self, tenant_id, filter).await
    }

    async fn conversation(&self, tenant_id: &str, id: &str) -> Result<Conversation, StoreError> {
        let sql = format!("SELECT {COLUMNS} FROM conversations WHERE tenant_id = $1 AND id = $2");
        let row = self
            .fetch_optional(
                Scope::Tenant(tenant_id),
                sqlx::query(sqlx::AssertSqlSafe(sql))
                    .bind(tenant_id)
                    .bind(id),
            )
            .await?;
        row.as_ref()
            .map(|r| conversation_of(r, Timestamp::now()))
            .transpose()?
            .ok_or_else(|| not_found(id))
    }

    async fn thread(
        &self,
        tenant_id: &str,
        conversation: &Conversation,
        before: Option<Timestamp>,
        limit: u32,
    ) -> Result<ThreadPage, StoreError> {
        super::conversation_thread::thread(self, tenant_id, conversation, before, limit).await
    }

    async fn change_conversation(
        &self,
        tenant_id: &str,
        id: &str,
        change: &ConversationChange,
        audit: Option<&AuditEntry>,
    ) -> Result<Conversation, StoreError> {
        let (sql, value): (&str, Option<Bind>) = match change {
            ConversationChange::Read => ("unread = 0", None),
            ConversationChange::Assign(Some(member)) => {
                ("assignee = $3", Some(Bind::Text(member.clone())))
            }
            ConversationChange::Assign(None) => ("assignee = NULL", None),
            ConversationChange::Snooze(until) => (
                "status = 'snoozed', snoozed_until = $3",
                Some(Bind::Int(micros(*until))),
            ),
            ConversationChange::Close => ("status = 'closed', snoozed_until = NULL", None),
            // Reopening keeps a conversation that needs a human so: only a release ends that.
            ConversationChange::Reopen => (
                "status = CASE WHEN status = 'needs_human' THEN status ELSE 'open' END, snoozed_until = NULL",
                None,
            ),
            ConversationChange::TakeOver => ("status = 'needs_human', snoozed_until = NULL", None),
            ConversationChange::Release => (
                "status = CASE WHEN status = 'needs_human' THEN 'open' ELSE status END",
                None,
            ),
        };
        let mut tx = self.begin(Scope::Tenant(tenant_id)).await?;
        let sql = format!("UPDATE conversations SET {sql} WHERE tenant_id = $1 AND id = $2");
        let mut query = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(tenant_id)
            .bind(id);
        query = match value {
            Some(Bind::Text(text)) => query.bind(text),
            Some(Bind::Int(n)) => query.bind(n),
            None => query,
        };
        let changed = query
            .execute(&mut *tx)
            .await
            .map_err(unavailable)?
            .rows_affected();
        if changed == 0 {
            return Err(not_found(id));
        }
        if let Some(audit) = audit {
            insert_audit(&mut tx, tenant_id, audit).await?;
        }
        let now = Timestamp::now();
        let change = change_data(id, change, audit);
        super::inbox_changes::append(&mut tx, tenant_id, id, "conversation", &change, now).await?;
        tx.commit().await.map_err(unavailable)?;
        self.conversation(tenant_id, id).await
    }

    async fn inbox_changes(
        &self,
        tenant_id: &str,
        after: u64,
        limit: u32,
    ) -> Result<Vec<InboxChange>, StoreError> {
        super::inbox_changes::changes(self, tenant_id, after, limit).await
    }

    async fn last_inbox_change(&self, tenant_id: &str) -> Result<u64, StoreError> {
        super::inbox_changes::last(self, tenant_id).await
    }

    async fn prune_inbox_changes(&self, before: Timestamp) -> Result<u64, StoreError> {
        super::inbox_changes::prune(self, before).await
    }
}
