//! Events in the SQL store: stored once per `(tenant, source, external_id)`.

use sqlx::Row;

use super::{SqlStore, corrupt, micros, unavailable};
use crate::ports::{EventInsert, StoreError, StoredEvent};

pub(super) async fn record_event(
    store: &SqlStore,
    tenant_id: &str,
    stored: &StoredEvent,
) -> Result<EventInsert, StoreError> {
    let doc = serde_json::to_string(&stored.event).map_err(|e| corrupt("event", e))?;
    let inserted = sqlx::query(
        "INSERT INTO events (tenant_id, id, source, external_id, event_type, contact_id, doc, received_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (tenant_id, source, external_id) DO NOTHING",
    )
    .bind(tenant_id)
    .bind(&stored.id)
    .bind(&stored.event.source)
    .bind(stored.external_id())
    .bind(&stored.event.event_type)
    .bind(stored.contact_id.clone())
    .bind(doc)
    .bind(micros(stored.received_at))
    .execute(&store.pool)
    .await
    .map_err(unavailable)?
    .rows_affected();
    if inserted == 1 {
        return Ok(EventInsert::Inserted);
    }
    let row = sqlx::query(
        "SELECT id FROM events WHERE tenant_id = $1 AND source = $2 AND external_id = $3",
    )
    .bind(tenant_id)
    .bind(&stored.event.source)
    .bind(stored.external_id())
    .fetch_one(&store.pool)
    .await
    .map_err(unavailable)?;
    Ok(EventInsert::Duplicate {
        id: row.try_get("id").map_err(unavailable)?,
    })
}
