//! The inbox's change log in SQL (`inbox_changes`): appended inside the commit of each new
//! message and each staff action, read in order by the live stream, pruned after a week.

use jiff::Timestamp;
use serde_json::Value;
use sqlx::Row;

use super::{Scope, SqlStore, Tx, micros, time_column, unavailable};
use crate::ports::{InboxChange, StoreError};

/// Appends a change of `conversation_id` inside `tx`.
pub(super) async fn append(
    tx: &mut Tx,
    tenant_id: &str,
    conversation_id: &str,
    kind: &str,
    data: &Value,
    at: Timestamp,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO inbox_changes (tenant_id, conversation_id, kind, doc, at) VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(tenant_id)
    .bind(conversation_id)
    .bind(kind)
    .bind(data.to_string())
    .bind(micros(at))
    .execute(&mut **tx)
    .await
    .map_err(unavailable)?;
    Ok(())
}

pub(super) async fn changes(
    store: &SqlStore,
    tenant_id: &str,
    after: u64,
    limit: u32,
) -> Result<Vec<InboxChange>, StoreError> {
    let rows = store
        .fetch_all(
            Scope::Tenant(tenant_id),
            sqlx::query(
                "SELECT seq, kind, doc, at FROM inbox_changes WHERE tenant_id = $1 AND seq > $2 \
                 ORDER BY seq LIMIT $3",
            )
            .bind(tenant_id)
            .bind(i64::try_from(after).unwrap_or(i64::MAX))
            .bind(i64::from(limit.clamp(1, 1_000))),
        )
        .await?;
    rows.iter()
        .map(|row| {
            let seq: i64 = row.try_get("seq").map_err(unavailable)?;
            let doc: String = row.try_get("doc").map_err(unavailable)?;
            Ok(InboxChange {
                seq: seq.max(0) as u64,
                kind: row.try_get("kind").map_err(unavailable)?,
                data: serde_json::from_str(&doc).unwrap_or(Value::Null),
                at: time_column(row, "at")?,
            })
        })
        .collect()
}

pub(super) async fn last(store: &SqlStore, tenant_id: &str) -> Result<u64, StoreError> {
    let row = store
        .fetch_optional(
            Scope::Tenant(tenant_id),
            sqlx::query("SELECT MAX(seq) AS seq FROM inbox_changes WHERE tenant_id = $1")
                .bind(tenant_id),
        )
        .await?;
    let seq: Option<i64> = match row {
        Some(row) => row.try_get("seq").map_err(unavailable)?,
        None => None,
    };
    Ok(seq.unwrap_or(0).max(0) as u64)
}

pub(super) async fn prune(store: &SqlStore, before: Timestamp) -> Result<u64, StoreError> {
    store
        .execute(
            Scope::System,
            sqlx::query("DELETE FROM inbox_changes WHERE at < $1").bind(micros(before)),
        )
        .await
}
