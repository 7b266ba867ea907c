//! [`EdgeStore`] in SQL: webhook tokens, delivery reports (an upsert that only moves
//! forward, announced on the inbox's live stream in the same commit), bounces, and lifting an
//! opt-out.

use sqlx::Row;
use stepwise_core::{Bounce, DeliveryStatus};

use super::{Backend, Scope, SqlStore, micros, unavailable};
use crate::model::Tenant;
use crate::ports::{AuditEntry, Channel, Delivery, EdgeStore, StoreError, StoredLink};

/// The `hook_token` column of a tenant's row: its token, or NULL while it has none.
pub(super) fn hook_token_column(tenant: &Tenant) -> Option<String> {
    Some(tenant.hook_token.clone()).filter(|t| !t.is_empty())
}

#[async_trait::async_trait]
impl EdgeStore for SqlStore {
    async fn tenant_by_hook_token(&self, token: &str) -> Result<Option<String>, StoreError> {
        let row = self
            .fetch_optional(
                Scope::System,
                sqlx::query("SELECT id FROM tenants WHERE hook_token = $1").bind(token),
            )
            .await?;
        row.map(|r| r.try_get("id").map_err(unavailable))
            .transpose()
    }

    async fn link(&self, code: &str) -> Result<Option<StoredLink>, StoreError> {
        super::links::link(self, code).await
    }

    async fn count_click(
        &self,
        tenant_id: &str,
        code: &str,
        at: jiff::Timestamp,
    ) -> Result<Option<u64>, StoreError> {
        super::links::count_click(self, tenant_id, code, at).await
    }

    async fn record_delivery(
        &self,
        tenant_id: &str,
        report: &Delivery,
    ) -> Result<bool, StoreError> {
        let mut tx = self.begin_for_write(Scope::Tenant(tenant_id)).await?;
        let changed = upsert_delivery(&mut tx, tenant_id, report).await?;
        tx.commit().await.map_err(unavailable)?;
        Ok(changed)
    }

    async fn record_bounce(
        &self,
        tenant_id: &str,
        bounce: &Bounce,
        suppress: Option<&AuditEntry>,
        at: jiff::Timestamp,
    ) -> Result<Option<String>, StoreError> {
        let mut tx = self.begin_for_write(Scope::Tenant(tenant_id)).await?;
        let rows = sqlx::query(
            "SELECT m.to_address, r.contact_id FROM messages m \
             JOIN runs r ON r.tenant_id = m.tenant_id AND r.id = m.run_id \
             WHERE m.tenant_id = $1 AND m.provider_id = $2 AND m.channel = 'email'",
        )
        .bind(tenant_id)
        .bind(&bounce.provider_id)
        .fetch_all(&mut *tx)
        .await
        .map_err(unavailable)?;
        let mut sent_to_recipient = None;
        for row in rows {
            let to: String = row.try_get("to_address").map_err(unavailable)?;
            if to.eq_ignore_ascii_case(&bounce.recipient) {
                let contact: String = row.try_get("contact_id").map_err(unavailable)?;
                sent_to_recipient = Some(contact);
            }
        }
        let Some(contact_id) = sent_to_recipient else {
            return Ok(None);
        };
        let report = Delivery {
            provider_id: bounce.provider_id.clone(),
            status: DeliveryStatus::Undelivered,
            error_code: Some(bounce.status.clone()),
            at,
        };
        upsert_delivery(&mut tx, tenant_id, &report).await?;
        if let Some(audit) = suppress {
            let added = sqlx::query(
                "INSERT INTO suppressions (tenant_id, channel, address, reason, contact_id, created_at) \
                 VALUES ($1, 'email', $2, $3, $4, $5) ON CONFLICT DO NOTHING",
            )
            .bind(tenant_id)
            .bind(&bounce.recipient)
            .bind(format!("bounce {}", bounce.status))
            .bind(&contact_id)
            .bind(micros(at))
            .execute(&mut *tx)
            .await
            .map_err(unavailable)?
            .rows_affected();
            if added > 0 {
                super::access::insert_audit(&mut tx, tenant_id, audit).await?;
            }
        }
        tx.commit().await.map_err(unavailable)?;
        Ok(Some(contact_id))
    }

    async fn deliveries(
        &self,
        tenant_id: &str,
        provider_ids: &[String],
    ) -> Result<Vec<(String, DeliveryStatus, Option<String>)>, StoreError> {
        let mut found = Vec::new();
        // A page of messages at a time: a handful of ids, one indexed lookup each.
        for id in provider_ids {
            let row = self
                .fetch_optional(
                    Scope::Tenant(tenant_id),
                    sqlx::query(
                        "SELECT status, error_code FROM deliveries WHERE tenant_id = $1 AND provider_id = $2",
                    )
                    .bind(tenant_id)
                    .bind(id),
                )
                .await?;
            if let Some(row) = row {
                let status: String = row.try_get("status").map_err(unavailable)?;
                let code: Option<String> = row.try_get("error_code").map_err(unavailable)?;
                if let Some(status) = DeliveryStatus::parse(&status) {
                    found.push((id.clone(), status, code));
                }
            }
        }
        Ok(found)
    }

    async fn lift_suppression(
        &self,
        tenant_id: &str,
        channel: Channel,
        address: &str,
        audit: &AuditEntry,
    ) -> Result<bool, StoreError> {
        let mut tx = self.begin(Scope::Tenant(tenant_id)).await?;
        let deleted = sqlx::query(
            "DELETE FROM suppressions WHERE tenant_id = $1 AND channel = $2 AND address = $3",
        )
        .bind(tenant_id)
        .bind(channel.as_str())
        .bind(address)
        .execute(&mut *tx)
        .await
        .map_err(unavailable)?
        .rows_affected();
        let (column, flag) = match channel {
            Channel::Sms => ("phone", "sms_opt_out"),
            Channel::Email => ("email", "email_opt_out"),
        };
        let cleared = match self.backend {
            Backend::Sqlite => format!("json_set(doc, '$.{flag}', json('false'))"),
            Backend::Postgres => format!("jsonb_set(doc::jsonb, '{{{flag}}}', 'false')::text"),
        };
        let sql =
            format!("UPDATE contacts SET doc = {cleared} WHERE tenant_id = $1 AND {column} = $2");
        sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(tenant_id)
            .bind(address)
            .execute(&mut *tx)
            .await
            .map_err(unavailable)?;
        if deleted > 0 {
            super::access::insert_audit(&mut tx, tenant_id, audit).await?;
        }
        tx.commit().await.map_err(unavailable)?;
        Ok(deleted > 0)
    }
}

/// Moves the message's delivery status forward (never back) and announces it; answers
/// whether it moved.
async fn upsert_delivery(
    tx: &mut super::Tx,
    tenant_id: &str,
    report: &Delivery,
) -> Result<bool, StoreError> {
    let changed = sqlx::query(
        "INSERT INTO deliveries (tenant_id, provider_id, status, rank, error_code, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6) \
         ON CONFLICT (tenant_id, provider_id) DO UPDATE SET status = excluded.status, \
         rank = excluded.rank, error_code = excluded.error_code, updated_at = excluded.updated_at \
         WHERE deliveries.rank < excluded.rank",
    )
    .bind(tenant_id)
    .bind(&report.provider_id)
    .bind(report.status.as_str())
    .bind(i64::from(report.status.rank()))
    .bind(report.error_code.clone())
    .bind(micros(report.at))
    .execute(&mut **tx)
    .await
    .map_err(unavailable)?
    .rows_affected()
        > 0;
    if changed {
        delivery_change(tx, tenant_id, report).await?;
    }
    Ok(changed)
}

/// The inbox's live stream hears of a delivery report in its commit: a `delivery` change of
/// the message's conversation. A report that comes before its message is stored (a provider
/// quicker than our commit) changes the status all the same, unannounced.
async fn delivery_change(
    tx: &mut super::Tx,
    tenant_id: &str,
    report: &Delivery,
) -> Result<(), StoreError> {
    let row = sqlx::query(
        "SELECT m.channel, r.contact_id FROM messages m \
         JOIN runs r ON r.tenant_id = m.tenant_id AND r.id = m.run_id \
         WHERE m.tenant_id = $1 AND m.provider_id = $2 LIMIT 1",
    )
    .bind(tenant_id)
    .bind(&report.provider_id)
    .fetch_optional(&mut **tx)
    .await
    .map_err(unavailable)?;
    let Some(row) = row else {
        return Ok(());
    };
    let channel: String = row.try_get("channel").map_err(unavailable)?;
    let contact_id: String = row.try_get("contact_id").map_err(unavailable)?;
    let Some(channel) = Channel::parse(&channel) else {
        return Ok(());
    };
    let id = crate::ports::conversation_id(&contact_id, channel);
    let change = serde_json::json!({
        "conversation_id": id, "provider_id": report.provider_id,
        "status": report.status.as_str(), "error_code": report.error_code,
    });
    super::inbox_changes::append(tx, tenant_id, &id, "delivery", &change, report.at).await
}
