//! Schedules (the next tick of each scheduled flow) and the contact queries schedules need.

use jiff::Timestamp;
use sqlx::Row;

use super::contacts::{CONTACT_COLUMNS, contact_of};
use super::{Scope, SqlStore, micros, time_column, unavailable};
use crate::model::Contact;
use crate::ports::{Schedule, StoreError};

pub(super) async fn save_schedule(store: &SqlStore, schedule: &Schedule) -> Result<(), StoreError> {
    store.execute(Scope::Tenant(&schedule.tenant_id), sqlx::query(
        "INSERT INTO schedules (tenant_id, flow_id, version, next_fire_at) VALUES ($1, $2, $3, $4) \
         ON CONFLICT (tenant_id, flow_id) DO UPDATE SET version = excluded.version, next_fire_at = excluded.next_fire_at",
    )
    .bind(&schedule.tenant_id)
    .bind(&schedule.flow_id)
    .bind(i64::from(schedule.version))
    .bind(micros(schedule.next_fire_at))).await?;
    Ok(())
}

pub(super) async fn due_schedules(
    store: &SqlStore,
    now: Timestamp,
    limit: u32,
) -> Result<Vec<Schedule>, StoreError> {
    let rows = store.fetch_all(Scope::System, sqlx::query(
        "SELECT tenant_id, flow_id, version, next_fire_at FROM schedules WHERE next_fire_at <= $1 \
         ORDER BY next_fire_at LIMIT $2",
    )
    .bind(micros(now))
    .bind(i64::from(limit))).await?;
    rows.iter()
        .map(|row| {
            let version: i64 = row.try_get("version").map_err(unavailable)?;
            Ok(Schedule {
                tenant_id: row.try_get("tenant_id").map_err(unavailable)?,
                flow_id: row.try_get("flow_id").map_err(unavailable)?,
                version: u32::try_from(version).unwrap_or_default(),
                next_fire_at: time_column(row, "next_fire_at")?,
            })
        })
        .collect()
}

pub(super) async fn advance_schedule(
    store: &SqlStore,
    schedule: &Schedule,
    next: Timestamp,
) -> Result<bool, StoreError> {
    let moved = store.execute(Scope::Tenant(&schedule.tenant_id), sqlx::query(
        "UPDATE schedules SET next_fire_at = $1 WHERE tenant_id = $2 AND flow_id = $3 AND next_fire_at = $4",
    )
    .bind(micros(next))
    .bind(&schedule.tenant_id)
    .bind(&schedule.flow_id)
    .bind(micros(schedule.next_fire_at))).await?;
    Ok(moved == 1)
}

pub(super) async fn contacts(
    store: &SqlStore,
    tenant_id: &str,
    after: Option<&str>,
    limit: u32,
) -> Result<Vec<Contact>, StoreError> {
    let rows = store
        .fetch_all(
            Scope::Tenant(tenant_id),
            sqlx::query(sqlx::AssertSqlSafe(format!(
                "SELECT {CONTACT_COLUMNS} FROM contacts WHERE tenant_id = $1 AND id > $2 \
                 ORDER BY id LIMIT $3"
            )))
            .bind(tenant_id)
            .bind(after.unwrap_or(""))
            .bind(i64::from(limit)),
        )
        .await?;
    rows.iter().map(contact_of).collect()
}

pub(super) async fn last_run_started(
    store: &SqlStore,
    tenant_id: &str,
    flow_id: &str,
    contact_id: &str,
) -> Result<Option<Timestamp>, StoreError> {
    let row = store.fetch_optional(Scope::Tenant(tenant_id), sqlx::query(
        "SELECT created_at FROM runs WHERE tenant_id = $1 AND flow_id = $2 AND contact_id = $3 \
         ORDER BY created_at DESC LIMIT 1",
    )
    .bind(tenant_id)
    .bind(flow_id)
    .bind(contact_id)).await?;
    row.map(|row| time_column(&row, "created_at")).transpose()
}
