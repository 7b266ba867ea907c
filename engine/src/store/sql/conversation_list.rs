//! The inbox listed in the SQL store: a tenant's conversations, newest message first, with
//! its filters. A tag filter (`?tag=`) reads the contacts of at most [`TAG_WINDOW`]
//! conversations a request: a tag few contacts have (or none) would otherwise read the whole
//! inbox each time. Past the window the page may hold fewer than asked, even none, and
//! [`tag_scan_end`] says where the next request goes on.

use jiff::Timestamp;
use sqlx::Row;

use super::conversations::{Bind, conversation_of};
use super::{Backend, Scope, SqlStore, micros, time_column, unavailable};
use crate::ports::{Conversation, ConversationFilter, ConversationStatus, StoreError};

/// The most conversations one tag-filtered request reads (their contacts' tags included).
pub const TAG_WINDOW: u32 = 2_000;

const COLUMNS: &str = "id, contact_id, channel, status, assignee, snoozed_until, unread, \
                       last_message_at, last_direction, sender, created_at";

/// The query's conditions but the tag's, its binds, and the tag's condition.
fn conditions(
    backend: Backend,
    tenant_id: &str,
    filter: &ConversationFilter,
    now: Timestamp,
) -> (Vec<String>, Vec<Bind>, Option<String>) {
    let mut binds = vec![Bind::Text(tenant_id.to_owned())];
    let mut conditions = vec!["tenant_id = $1".to_owned()];
    if filter.status == Some(ConversationStatus::NeedsHuman) {
        conditions.push("status = 'needs_human'".into());
    }
    let mut bind = |value: Bind, condition: &dyn Fn(usize) -> String| {
        binds.push(value);
        condition(binds.len())
    };
    match filter.status {
        Some(ConversationStatus::Open) => conditions.push(bind(Bind::Int(micros(now)), &|n| {
            format!("(status = 'open' OR (status = 'snoozed' AND snoozed_until <= ${n}))")
        })),
        Some(ConversationStatus::Snoozed) => conditions.push(bind(Bind::Int(micros(now)), &|n| {
            format!("status = 'snoozed' AND snoozed_until > ${n}")
        })),
        Some(ConversationStatus::Closed) => conditions
            .push(bind(Bind::Text("closed".into()), &|n| {
                format!("status = ${n}")
            })),
        // Written out (above), so that the planner may use the partial index of these.
        Some(ConversationStatus::NeedsHuman) | None => {}
    }
    if let Some(member) = &filter.assignee {
        conditions.push(bind(Bind::Text(member.clone()), &|n| {
            format!("assignee = ${n}")
        }));
    }
    if let Some(channel) = filter.channel {
        conditions.push(bind(Bind::Text(channel.as_str().into()), &|n| {
            format!("channel = ${n}")
        }));
    }
    // Each conversation's contact is looked up by its key. PostgreSQL is handed a scalar
    // subquery: with EXISTS it planned a hash join that parsed every contact of the tenant
    // (58 ms at 50,000, against 6 ms).
    let tagged = filter.tag.as_ref().map(|tag| {
        bind(Bind::Text(tag.clone()), &|n| match backend {
            Backend::Sqlite => format!(
                "EXISTS (SELECT 1 FROM contacts k WHERE k.tenant_id = conversations.tenant_id \
                 AND k.id = conversations.contact_id \
                 AND EXISTS (SELECT 1 FROM json_each(k.doc, '$.tags') t WHERE t.value = ${n}))"
            ),
            Backend::Postgres => format!(
                "((SELECT k.doc FROM contacts k WHERE k.tenant_id = conversations.tenant_id \
                 AND k.id = conversations.contact_id)::jsonb -> 'tags') \
                 @> jsonb_build_array(${n}::text)"
            ),
        })
    });
    if let Some((last, id)) = &filter.before {
        conditions.push(bind(Bind::Int(micros(*last)), &|n| {
            format!(
                "(last_message_at < ${n} OR (last_message_at = ${n} AND id < ${}))",
                n + 1
            )
        }));
        binds.push(Bind::Text(id.clone()));
    }
    if filter.unassigned {
        conditions.push("assignee IS NULL".into());
    }
    if filter.has_unread {
        conditions.push("unread > 0".into());
    }
    (conditions, binds, tagged)
}

fn bound<'q>(
    sql: String,
    binds: Vec<Bind>,
) -> sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments> {
    let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
    for value in binds {
        query = match value {
            Bind::Text(text) => query.bind(text),
            Bind::Int(n) => query.bind(n),
        };
    }
    query
}

/// Up to `limit` conversations, newest message first (a tag filter reads a window).
pub(super) async fn conversations(
    store: &SqlStore,
    tenant_id: &str,
    filter: &ConversationFilter,
    limit: u32,
) -> Result<Vec<Conversation>, StoreError> {
    let now = filter.now.unwrap_or_else(Timestamp::now);
    let (conditions, binds, tagged) = conditions(store.backend, tenant_id, filter, now);
    let order = "ORDER BY last_message_at DESC, id DESC";
    let limit = limit.min(1_000);
    let sql = match tagged {
        None => format!(
            "SELECT {COLUMNS} FROM conversations WHERE {} {order} LIMIT {limit}",
            conditions.join(" AND ")
        ),
        // The window first (by the listing's index), then its contacts' tags.
        Some(tagged) => format!(
            "SELECT {COLUMNS} FROM (SELECT {COLUMNS}, tenant_id FROM conversations WHERE {} \
             {order} LIMIT {TAG_WINDOW}) AS conversations WHERE {tagged} {order} LIMIT {limit}",
            conditions.join(" AND ")
        ),
    };
    let rows = store
        .fetch_all(Scope::Tenant(tenant_id), bound(sql, binds))
        .await?;
    rows.iter().map(|r| conversation_of(r, now)).collect()
}

/// With a tag filter: the last conversation of the window the request read when the window
/// was full (the next request goes on after it); `None` when the listing ended within it.
pub(super) async fn tag_scan_end(
    store: &SqlStore,
    tenant_id: &str,
    filter: &ConversationFilter,
) -> Result<Option<(Timestamp, String)>, StoreError> {
    if filter.tag.is_none() {
        return Ok(None);
    }
    let untagged = ConversationFilter {
        tag: None,
        ..filter.clone()
    };
    let now = filter.now.unwrap_or_else(Timestamp::now);
    let (conditions, binds, _) = conditions(store.backend, tenant_id, &untagged, now);
    let sql = format!(
        "SELECT last_message_at, id FROM conversations WHERE {} \
         ORDER BY last_message_at DESC, id DESC LIMIT 1 OFFSET {}",
        conditions.join(" AND "),
        TAG_WINDOW - 1
    );
    let row = store
        .fetch_optional(Scope::Tenant(tenant_id), bound(sql, binds))
        .await?;
    row.map(|row| {
        let id: String = row.try_get("id").map_err(unavailable)?;
        Ok((time_column(&row, "last_message_at")?, id))
    })
    .transpose()
}
