//! Flows and their immutable versions in the SQL store.

use jiff::Timestamp;
use serde_json::Value;
use sqlx::Row;
use sqlx::any::AnyRow;

use super::access::insert_audit;
use super::{Scope, SqlStore, changed_or_not_found, corrupt, micros, unavailable};
use crate::ports::{AuditEntry, FlowDocument, LiveFlow, StoreError};

fn document(row: &AnyRow) -> Result<FlowDocument, StoreError> {
    let text = |name: &str| row.try_get::<String, _>(name).map_err(unavailable);
    let json = |name: &str| -> Result<Value, StoreError> {
        serde_json::from_str(&text(name)?).map_err(|e| corrupt("flow settings", e))
    };
    let origin: Option<String> = row.try_get("origin").map_err(unavailable)?;
    Ok(FlowDocument {
        source: text("source")?,
        config: json("config")?,
        templates: json("templates")?,
        origin: origin
            .map(|o| serde_json::from_str(&o).map_err(|e| corrupt("flow origin", e)))
            .transpose()?,
    })
}

pub(super) async fn save_flow(
    store: &SqlStore,
    tenant_id: &str,
    flow_id: &str,
    doc: &FlowDocument,
    audit: Option<&AuditEntry>,
) -> Result<u32, StoreError> {
    let now = micros(Timestamp::now());
    let mut tx = store.begin(Scope::Tenant(tenant_id)).await?;
    // Bumping the counter first serialises concurrent saves of one flow on its row.
    sqlx::query(
        "INSERT INTO flows (tenant_id, id, enabled, latest_version, updated_at) VALUES ($1, $2, $3, 1, $4) \
         ON CONFLICT (tenant_id, id) DO UPDATE SET latest_version = flows.latest_version + 1, \
         updated_at = excluded.updated_at",
    )
    .bind(tenant_id)
    .bind(flow_id)
    .bind(true)
    .bind(now)
    .execute(&mut *tx)
    .await
    .map_err(unavailable)?;
    let version: i64 =
        sqlx::query("SELECT latest_version FROM flows WHERE tenant_id = $1 AND id = $2")
            .bind(tenant_id)
            .bind(flow_id)
            .fetch_one(&mut *tx)
            .await
            .and_then(|row| row.try_get::<i64, _>("latest_version"))
            .map_err(unavailable)?;
    sqlx::query(
        "INSERT INTO flow_versions (tenant_id, flow_id, version, source, config, templates, origin, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(tenant_id)
    .bind(flow_id)
    .bind(version)
    .bind(&doc.source)
    .bind(doc.config.to_string())
    .bind(doc.templates.to_string())
    .bind(doc.origin.as_ref().map(|o| serde_json::json!(o).to_string()))
    .bind(now)
    .execute(&mut *tx)
    .await
    .map_err(unavailable)?;
    if let Some(audit) = audit {
        insert_audit(
            &mut tx,
            tenant_id,
            &audit.clone().with_detail("version", version),
        )
        .await?;
    }
    tx.commit().await.map_err(unavailable)?;
    u32::try_from(version)
        .map_err(|_| StoreError::Unavailable(format!("flow version {version} out of range")))
}

pub(super) async fn flow_version(
    store: &SqlStore,
    tenant_id: &str,
    flow_id: &str,
    version: u32,
) -> Result<FlowDocument, StoreError> {
    let row = store.fetch_optional(Scope::Tenant(tenant_id), sqlx::query(
        "SELECT source, config, templates, origin FROM flow_versions WHERE tenant_id = $1 AND flow_id = $2 AND version = $3",
    )
    .bind(tenant_id)
    .bind(flow_id)
    .bind(i64::from(version))).await?
    .ok_or_else(|| StoreError::NotFound { what: format!("flow {flow_id} version {version}") })?;
    document(&row)
}

pub(super) async fn set_flow_enabled(
    store: &SqlStore,
    tenant_id: &str,
    flow_id: &str,
    enabled: bool,
    audit: Option<&AuditEntry>,
) -> Result<(), StoreError> {
    let changed = store
        .execute_audited(
            tenant_id,
            sqlx::query(
                "UPDATE flows SET enabled = $1, updated_at = $2 WHERE tenant_id = $3 AND id = $4",
            )
            .bind(enabled)
            .bind(micros(Timestamp::now()))
            .bind(tenant_id)
            .bind(flow_id),
            audit,
        )
        .await?;
    changed_or_not_found(changed, || format!("flow {flow_id}"))
}

pub(super) async fn live_flows(
    store: &SqlStore,
    tenant_id: &str,
) -> Result<Vec<LiveFlow>, StoreError> {
    let rows = store.fetch_all(Scope::Tenant(tenant_id), sqlx::query(
        "SELECT f.id, f.latest_version, v.source, v.config, v.templates, v.origin FROM flows f \
         JOIN flow_versions v ON v.tenant_id = f.tenant_id AND v.flow_id = f.id AND v.version = f.latest_version \
         WHERE f.tenant_id = $1 AND f.enabled ORDER BY f.id",
    )
    .bind(tenant_id)).await?;
    rows.iter()
        .map(|row| {
            let version: i64 = row.try_get("latest_version").map_err(unavailable)?;
            Ok(LiveFlow {
                flow_id: row.try_get("id").map_err(unavailable)?,
                version: u32::try_from(version).unwrap_or(u32::MAX),
                doc: document(row)?,
            })
        })
        .collect()
}
