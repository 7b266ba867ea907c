//! Segments in the SQL store, and when contacts were last active (their latest event).

use jiff::Timestamp;
use sqlx::Row;

use super::{Scope, SqlStore, corrupt, micros, time_column, unavailable};
use crate::audience::segment::Segment;
use crate::ports::{AuditEntry, StoreError};

pub(super) async fn put(
    store: &SqlStore,
    tenant_id: &str,
    segment: &Segment,
    audit: &AuditEntry,
) -> Result<(), StoreError> {
    let doc = serde_json::to_string(segment).map_err(|e| corrupt("segment", e))?;
    store
        .execute_audited(
            tenant_id,
            sqlx::query(
                "INSERT INTO segments (tenant_id, name, doc, updated_at) VALUES ($1, $2, $3, $4) \
                 ON CONFLICT (tenant_id, name) DO UPDATE SET doc = excluded.doc, updated_at = excluded.updated_at",
            )
            .bind(tenant_id)
            .bind(&segment.name)
            .bind(doc)
            .bind(micros(Timestamp::now())),
            Some(audit),
        )
        .await?;
    Ok(())
}

fn segment_of(row: &sqlx::any::AnyRow) -> Result<Segment, StoreError> {
    let doc: String = row.try_get("doc").map_err(unavailable)?;
    serde_json::from_str(&doc).map_err(|e| corrupt("segment", e))
}

pub(super) async fn get(
    store: &SqlStore,
    tenant_id: &str,
    name: &str,
) -> Result<Segment, StoreError> {
    let row = store
        .fetch_optional(
            Scope::Tenant(tenant_id),
            sqlx::query("SELECT doc FROM segments WHERE tenant_id = $1 AND name = $2")
                .bind(tenant_id)
                .bind(name),
        )
        .await?
        .ok_or_else(|| StoreError::NotFound {
            what: format!("segment {name}"),
        })?;
    segment_of(&row)
}

pub(super) async fn list(store: &SqlStore, tenant_id: &str) -> Result<Vec<Segment>, StoreError> {
    let rows = store
        .fetch_all(
            Scope::Tenant(tenant_id),
            sqlx::query("SELECT doc FROM segments WHERE tenant_id = $1 ORDER BY name")
                .bind(tenant_id),
        )
        .await?;
    rows.iter().map(segment_of).collect()
}

pub(super) async fn delete(
    store: &SqlStore,
    tenant_id: &str,
    name: &str,
    audit: &AuditEntry,
) -> Result<bool, StoreError> {
    let changed = store
        .execute_audited(
            tenant_id,
            sqlx::query("DELETE FROM segments WHERE tenant_id = $1 AND name = $2")
                .bind(tenant_id)
                .bind(name),
            Some(audit),
        )
        .await?;
    Ok(changed > 0)
}

pub(super) async fn last_activity(
    store: &SqlStore,
    tenant_id: &str,
    contact_ids: &[String],
) -> Result<Vec<(String, Timestamp)>, StoreError> {
    let mut found = Vec::new();
    for part in contact_ids.chunks(500) {
        let list: Vec<String> = (0..part.len()).map(|i| format!("${}", i + 2)).collect();
        let sql = format!(
            "SELECT contact_id, MAX(received_at) AS at FROM events WHERE tenant_id = $1 \
             AND contact_id IN ({}) GROUP BY contact_id",
            list.join(", ")
        );
        let mut query = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(tenant_id);
        for id in part {
            query = query.bind(id);
        }
        for row in store.fetch_all(Scope::Tenant(tenant_id), query).await? {
            found.push((
                row.try_get("contact_id").map_err(unavailable)?,
                time_column(&row, "at")?,
            ));
        }
    }
    Ok(found)
}
