//! Events in the SQL store: stored once per `(tenant, source, external_id)`; and the count of
//! event types that arrived while no flow listened. A contact's own message touches its
//! conversation in the event's commit.

use sqlx::Row;

use jiff::Timestamp;

use super::{Scope, SqlStore, Tx, corrupt, micros, time_column, unavailable};
use crate::ports::{EventInsert, StoreError, StoredEvent, UnheardType};

/// Inserts an event (already `processed`, when its runs commit with it) unless
/// `(source, external_id)` was seen; answers whether it was new. The caller commits (see
/// [`super::group_commit`]).
pub(super) async fn insert_event(
    tx: &mut Tx,
    tenant_id: &str,
    stored: &StoredEvent,
    processed: bool,
) -> Result<bool, StoreError> {
    let doc = serde_json::to_string(&stored.event).map_err(|e| corrupt("event", e))?;
    let inserted = sqlx::query(
        "INSERT INTO events (tenant_id, id, source, external_id, event_type, contact_id, doc, received_at, processed) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT (tenant_id, source, external_id) DO NOTHING",
    )
    .bind(tenant_id)
    .bind(&stored.id)
    .bind(&stored.event.source)
    .bind(stored.external_id())
    .bind(&stored.event.event_type)
    .bind(stored.contact_id.clone())
    .bind(doc)
    .bind(micros(stored.received_at))
    .bind(processed)
    .execute(&mut **tx)
    .await
    .map_err(unavailable)?
    .rows_affected();
    if inserted == 1 {
        super::conversations::touch_inbound(tx, tenant_id, stored).await?;
    }
    Ok(inserted == 1)
}

/// The stored copy of an event that was not new.
pub(super) async fn existing(
    store: &SqlStore,
    tenant_id: &str,
    stored: &StoredEvent,
) -> Result<EventInsert, StoreError> {
    let row = store.fetch_one(Scope::Tenant(tenant_id), sqlx::query(
        "SELECT id, CASE WHEN processed THEN 1 ELSE 0 END AS processed FROM events WHERE tenant_id = $1 AND source = $2 AND external_id = $3",
    )
    .bind(tenant_id)
    .bind(&stored.event.source)
    .bind(stored.external_id())).await?;
    Ok(EventInsert::Duplicate {
        id: row.try_get("id").map_err(unavailable)?,
        processed: row.try_get::<i64, _>("processed").map_err(unavailable)? == 1,
    })
}

/// Marks an event processed; the caller commits (see [`super::group_commit`]).
pub(super) async fn mark_processed(
    tx: &mut Tx,
    tenant_id: &str,
    event_id: &str,
) -> Result<(), StoreError> {
    sqlx::query("UPDATE events SET processed = $1 WHERE tenant_id = $2 AND id = $3")
        .bind(true)
        .bind(tenant_id)
        .bind(event_id)
        .execute(&mut **tx)
        .await
        .map_err(unavailable)?;
    Ok(())
}

/// Counts one unheard event of `event_type` (see [`crate::ports::Store::note_unheard`]).
pub(super) async fn note_unheard(
    store: &SqlStore,
    tenant_id: &str,
    event_type: &str,
    at: Timestamp,
) -> Result<(), StoreError> {
    store
        .execute(
            Scope::Tenant(tenant_id),
            sqlx::query(
                "INSERT INTO unheard_events (tenant_id, event_type, count, first_at, last_at) \
                 VALUES ($1, $2, 1, $3, $3) ON CONFLICT (tenant_id, event_type) DO UPDATE \
                 SET count = unheard_events.count + 1, \
                 last_at = CASE WHEN excluded.last_at > unheard_events.last_at \
                 THEN excluded.last_at ELSE unheard_events.last_at END",
            )
            .bind(tenant_id)
            .bind(event_type)
            .bind(micros(at)),
        )
        .await?;
    Ok(())
}

/// The unheard types last seen at or after `since`, most recent first.
pub(super) async fn unheard_types(
    store: &SqlStore,
    tenant_id: &str,
    since: Timestamp,
    limit: u32,
) -> Result<Vec<UnheardType>, StoreError> {
    let rows = store
        .fetch_all(
            Scope::Tenant(tenant_id),
            sqlx::query(
                "SELECT event_type, count, first_at, last_at FROM unheard_events \
                 WHERE tenant_id = $1 AND last_at >= $2 ORDER BY last_at DESC, event_type LIMIT $3",
            )
            .bind(tenant_id)
            .bind(micros(since))
            .bind(i64::from(limit)),
        )
        .await?;
    rows.iter()
        .map(|row| {
            Ok(UnheardType {
                event_type: row.try_get("event_type").map_err(unavailable)?,
                count: u64::try_from(row.try_get::<i64, _>("count").map_err(unavailable)?)
                    .unwrap_or_default(),
                first_at: time_column(row, "first_at")?,
                last_at: time_column(row, "last_at")?,
            })
        })
        .collect()
}
