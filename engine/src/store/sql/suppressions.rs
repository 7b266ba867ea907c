//! The suppression list in the SQL store: addresses an admin adds, with their audit entry, and
//! the newest-first list. Contacts' own opt-outs reach the list through
//! [`super::contacts::record_opt_outs`].

use sqlx::Row;
use sqlx::any::AnyRow;

use super::access::insert_audit;
use super::listing::{Arg, Query};
use super::{Scope, SqlStore, micros, time_column, unavailable};
use crate::model::Contact;
use crate::ports::{
    AuditEntry, Channel, StoreError, Suppression, SuppressionFilter, Suppressions, TimeCursor,
};

const COLUMNS: &str = "channel, address, reason, contact_id, created_at";

fn suppression(row: &AnyRow) -> Result<Suppression, StoreError> {
    let channel: String = row.try_get("channel").map_err(unavailable)?;
    Ok(Suppression {
        channel: Channel::parse(&channel).ok_or_else(|| {
            StoreError::Unavailable(format!("stored suppression has channel {channel:?}"))
        })?,
        address: row.try_get("address").map_err(unavailable)?,
        reason: row.try_get("reason").map_err(unavailable)?,
        contact_id: row.try_get("contact_id").map_err(unavailable)?,
        created_at: time_column(row, "created_at")?,
    })
}

/// `contact` opted out where its phone or email is on the tenant's suppression list.
pub(super) async fn with_suppressions(
    store: &SqlStore,
    tenant_id: &str,
    contact: Contact,
) -> Result<Contact, StoreError> {
    if contact.phone.is_none() && contact.email.is_none() {
        return Ok(contact);
    }
    let row = store
        .fetch_one(
            Scope::Tenant(tenant_id),
            sqlx::query(
                "SELECT (SELECT COUNT(*) FROM suppressions WHERE tenant_id = $1 \
                 AND channel = 'sms' AND address = $2) AS sms_suppressed, \
                 (SELECT COUNT(*) FROM suppressions WHERE tenant_id = $1 \
                 AND channel = 'email' AND address = $3) AS email_suppressed",
            )
            .bind(tenant_id)
            .bind(contact.phone.clone())
            .bind(contact.email.clone()),
        )
        .await?;
    super::contacts::with_suppressed(&row, contact)
}

#[async_trait::async_trait]
impl Suppressions for SqlStore {
    async fn suppress(
        &self,
        tenant_id: &str,
        entry: &Suppression,
        audit: &AuditEntry,
    ) -> Result<(Suppression, bool), StoreError> {
        let mut tx = self.begin(Scope::Tenant(tenant_id)).await?;
        let inserted = sqlx::query(
            "INSERT INTO suppressions (tenant_id, channel, address, reason, contact_id, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING",
        )
        .bind(tenant_id)
        .bind(entry.channel.as_str())
        .bind(&entry.address)
        .bind(&entry.reason)
        .bind(entry.contact_id.clone())
        .bind(micros(entry.created_at))
        .execute(&mut *tx)
        .await
        .map_err(unavailable)?
        .rows_affected()
            == 1;
        if inserted {
            insert_audit(&mut tx, tenant_id, audit).await?;
            tx.commit().await.map_err(unavailable)?;
            // As stored: to the microsecond.
            let created_at = jiff::Timestamp::from_microsecond(micros(entry.created_at))
                .unwrap_or(entry.created_at);
            let stored = Suppression {
                created_at,
                ..entry.clone()
            };
            return Ok((stored, true));
        }
        let sql = format!(
            "SELECT {COLUMNS} FROM suppressions WHERE tenant_id = $1 AND channel = $2 AND address = $3"
        );
        let row = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(tenant_id)
            .bind(entry.channel.as_str())
            .bind(&entry.address)
            .fetch_one(&mut *tx)
            .await
            .map_err(unavailable)?;
        tx.commit().await.map_err(unavailable)?;
        Ok((suppression(&row)?, false))
    }

    async fn list_suppressions(
        &self,
        tenant_id: &str,
        filter: &SuppressionFilter,
        after: Option<&TimeCursor>,
        limit: u32,
    ) -> Result<Vec<Suppression>, StoreError> {
        let mut q = Query::new(&format!("SELECT {COLUMNS} FROM suppressions"), tenant_id);
        if let Some(channel) = filter.channel {
            q.and("channel", "=", Arg::Text(channel.as_str().to_owned()));
        }
        if let Some(address) = &filter.address {
            q.and("address", "=", Arg::Text(address.clone()));
        }
        // The cursor's id is `channel:address` (`Suppression::cursor`).
        q.newest_first_by("channel || ':' || address", after, limit);
        q.fetch(self).await?.iter().map(suppression).collect()
    }
}
