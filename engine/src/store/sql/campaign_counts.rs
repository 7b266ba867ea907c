//! A campaign's message counters in the SQL store, joined from the runs it recorded, the
//! outbox, the delivery reports, the contacts' replies and the suppression list.

use sqlx::Row;

use super::{Scope, SqlStore, unavailable};
use crate::audience::campaign::MessageCounts;
use crate::ports::StoreError;

pub(super) async fn campaign_messages(
    store: &SqlStore,
    tenant_id: &str,
    campaign_id: &str,
) -> Result<MessageCounts, StoreError> {
    let count = |sql: &'static str| async move {
        let row = store
            .fetch_one(
                Scope::Tenant(tenant_id),
                sqlx::query(sql).bind(tenant_id).bind(campaign_id),
            )
            .await?;
        let n: i64 = row.try_get("n").map_err(unavailable)?;
        Ok::<u64, StoreError>(n as u64)
    };
    let waiting = count(
        "SELECT COUNT(*) AS n FROM campaign_runs c JOIN runs r ON r.tenant_id = c.tenant_id AND r.id = c.run_id \
         WHERE c.tenant_id = $1 AND c.campaign_id = $2 AND r.status NOT IN ('completed', 'cancelled', 'failed')",
    )
    .await?;
    // Sent, delivered and failed in one pass over the campaign's messages.
    let row = store
        .fetch_one(
            Scope::Tenant(tenant_id),
            sqlx::query(
                "SELECT COUNT(*) AS sent, \
                 COALESCE(SUM(CASE WHEN d.status = 'delivered' THEN 1 ELSE 0 END), 0) AS delivered, \
                 COALESCE(SUM(CASE WHEN d.status IN ('undelivered', 'failed') THEN 1 ELSE 0 END), 0) AS failed \
                 FROM campaign_runs c JOIN messages m ON m.tenant_id = c.tenant_id AND m.run_id = c.run_id \
                 LEFT JOIN deliveries d ON d.tenant_id = m.tenant_id AND d.provider_id = m.provider_id \
                 WHERE c.tenant_id = $1 AND c.campaign_id = $2",
            )
            .bind(tenant_id)
            .bind(campaign_id),
        )
        .await?;
    let column = |name: &str| -> Result<u64, StoreError> {
        let n: i64 = row.try_get(name).map_err(unavailable)?;
        Ok(n as u64)
    };
    let (sent, delivered, failed) = (column("sent")?, column("delivered")?, column("failed")?);
    let replied = count(
        "SELECT COUNT(DISTINCT c.contact_id) AS n FROM campaign_runs c JOIN runs r ON r.tenant_id = c.tenant_id AND r.id = c.run_id \
         JOIN events e ON e.tenant_id = c.tenant_id AND e.contact_id = c.contact_id \
         AND e.event_type = 'message.received' AND e.received_at >= r.created_at \
         WHERE c.tenant_id = $1 AND c.campaign_id = $2",
    )
    .await?;
    let opted_out = count(
        "SELECT COUNT(DISTINCT c.contact_id) AS n FROM campaign_runs c JOIN runs r ON r.tenant_id = c.tenant_id AND r.id = c.run_id \
         JOIN contacts k ON k.tenant_id = c.tenant_id AND k.id = c.contact_id \
         JOIN suppressions s ON s.tenant_id = c.tenant_id AND s.channel = 'sms' AND s.address = k.phone \
         AND s.created_at >= r.created_at \
         WHERE c.tenant_id = $1 AND c.campaign_id = $2",
    )
    .await?;
    Ok(MessageCounts {
        waiting,
        sent,
        delivered,
        failed,
        replied,
        opted_out,
    })
}
