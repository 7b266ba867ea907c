//! [`CampaignStore`] in SQL: campaigns claimed by dispatchers under a lease, each turn's
//! progress stored fenced by its claim, the runs each campaign started, sticky pool numbers,
//! and the campaign's message counters joined from the outbox and delivery reports.

use jiff::{SignedDuration, Timestamp};
use sqlx::Row;
use stepwise_core::DeliveryStatus;

use super::{Backend, Scope, SqlStore, Tx, corrupt, micros, unavailable};
use crate::audience::campaign::{Campaign, CampaignStatus, MessageCounts, Progress};
use crate::ports::{AuditEntry, CampaignChange, CampaignStore, ClaimedCampaign, StoreError};

fn campaign_of(row: &sqlx::any::AnyRow) -> Result<(Campaign, Progress), StoreError> {
    let doc: String = row.try_get("doc").map_err(unavailable)?;
    let progress: String = row.try_get("progress").map_err(unavailable)?;
    let status: String = row.try_get("status").map_err(unavailable)?;
    let mut campaign: Campaign = serde_json::from_str(&doc).map_err(|e| corrupt("campaign", e))?;
    campaign.status = CampaignStatus::parse(&status);
    let progress = serde_json::from_str(&progress).map_err(|e| corrupt("campaign", e))?;
    Ok((campaign, progress))
}

fn json<T: serde::Serialize>(value: &T) -> Result<String, StoreError> {
    serde_json::to_string(value).map_err(|e| corrupt("campaign", e))
}

fn not_found(id: &str) -> StoreError {
    StoreError::NotFound {
        what: format!("campaign {id}"),
    }
}

/// The stored campaign, locked for the rest of `tx`.
async fn locked(
    backend: Backend,
    tx: &mut Tx,
    tenant_id: &str,
    id: &str,
    claim: Option<&str>,
) -> Result<Option<(Campaign, Progress)>, StoreError> {
    let lock = if backend == Backend::Postgres {
        " FOR UPDATE"
    } else {
        ""
    };
    let fence = if claim.is_some() {
        " AND claim = $3"
    } else {
        ""
    };
    let sql = format!(
        "SELECT doc, progress, status FROM campaigns WHERE tenant_id = $1 AND id = $2{fence}{lock}"
    );
    let mut query = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(tenant_id)
        .bind(id);
    if let Some(claim) = claim {
        query = query.bind(claim);
    }
    let row = query.fetch_optional(&mut **tx).await.map_err(unavailable)?;
    row.as_ref().map(campaign_of).transpose()
}

async fn store(
    tx: &mut Tx,
    tenant_id: &str,
    campaign: &Campaign,
    progress: &Progress,
    next_at: Timestamp,
) -> Result<(), StoreError> {
    sqlx::query(
        "UPDATE campaigns SET doc = $1, progress = $2, status = $3, next_at = $4, lease_until = NULL, claim = NULL \
         WHERE tenant_id = $5 AND id = $6",
    )
    .bind(json(campaign)?)
    .bind(json(progress)?)
    .bind(campaign.status.as_str())
    .bind(micros(next_at))
    .bind(tenant_id)
    .bind(&campaign.id)
    .execute(&mut **tx)
    .await
    .map_err(unavailable)?;
    Ok(())
}

#[async_trait::async_trait]
impl CampaignStore for SqlStore {
    async fn create_campaign(
        &self,
        tenant_id: &str,
        campaign: &Campaign,
        audit: &AuditEntry,
    ) -> Result<(), StoreError> {
        self.execute_audited(
            tenant_id,
            sqlx::query(
                "INSERT INTO campaigns (tenant_id, id, status, doc, progress, next_at, created_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $6)",
            )
            .bind(tenant_id)
            .bind(&campaign.id)
            .bind(campaign.status.as_str())
            .bind(json(campaign)?)
            .bind(json(&Progress::default())?)
            .bind(micros(campaign.created_at)),
            Some(audit),
        )
        .await?;
        Ok(())
    }

    async fn campaign(&self, tenant_id: &str, id: &str) -> Result<Campaign, StoreError> {
        let row = self
            .fetch_optional(
                Scope::Tenant(tenant_id),
                sqlx::query(
                    "SELECT doc, progress, status FROM campaigns WHERE tenant_id = $1 AND id = $2",
                )
                .bind(tenant_id)
                .bind(id),
            )
            .await?
            .ok_or_else(|| not_found(id))?;
        Ok(campaign_of(&row)?.0)
    }

    async fn campaigns(&self, tenant_id: &str, limit: u32) -> Result<Vec<Campaign>, StoreError> {
        let rows = self
            .fetch_all(
                Scope::Tenant(tenant_id),
                sqlx::query(
                    "SELECT doc, progress, status FROM campaigns WHERE tenant_id = $1 \
                     ORDER BY created_at DESC, id DESC LIMIT $2",
                )
                .bind(tenant_id)
                .bind(i64::from(limit)),
            )
            .await?;
        rows.iter()
            .map(|r| campaign_of(r).map(|(c, _)| c))
            .collect()
    }

    async fn change_campaign(
        &self,
        tenant_id: &str,
        id: &str,
        change: CampaignChange<'_>,
        audit: &AuditEntry,
    ) -> Result<Campaign, StoreError> {
        let mut tx = self.begin_for_write(Scope::Tenant(tenant_id)).await?;
        let (campaign, progress) = locked(self.backend, &mut tx, tenant_id, id, None)
            .await?
            .ok_or_else(|| not_found(id))?;
        let Some((campaign, progress)) = change(campaign.clone(), progress) else {
            return Ok(campaign);
        };
        let now = Timestamp::now();
        let next_at = match campaign.status {
            CampaignStatus::Scheduled => campaign.start_at.unwrap_or(now),
            _ => now,
        };
        store(&mut tx, tenant_id, &campaign, &progress, next_at).await?;
        super::access::insert_audit(&mut tx, tenant_id, audit).await?;
        tx.commit().await.map_err(unavailable)?;
        Ok(campaign)
    }

    async fn active_campaigns(&self, tenant_id: &str) -> Result<u64, StoreError> {
        let row = self
            .fetch_one(
                Scope::Tenant(tenant_id),
                sqlx::query(
                    "SELECT COUNT(*) AS n FROM campaigns WHERE tenant_id = $1 AND status IN ('scheduled', 'running')",
                )
                .bind(tenant_id),
            )
            .await?;
        let n: i64 = row.try_get("n").map_err(unavailable)?;
        Ok(n as u64)
    }

    async fn live_campaigns(&self, limit: u32) -> Result<Vec<(String, String)>, StoreError> {
        let rows = self
            .fetch_all(
                Scope::System,
                sqlx::query(
                    "SELECT tenant_id, id FROM campaigns WHERE status IN ('running', 'paused') \
                     ORDER BY tenant_id, id LIMIT $1",
                )
                .bind(i64::from(limit)),
            )
            .await?;
        rows.iter()
            .map(|row| {
                Ok((
                    row.try_get("tenant_id").map_err(unavailable)?,
                    row.try_get("id").map_err(unavailable)?,
                ))
            })
            .collect()
    }

    async fn claim_campaign(
        &self,
        now: Timestamp,
        lease: SignedDuration,
    ) -> Result<Option<ClaimedCampaign>, StoreError> {
        const DUE: &str = "status IN ('running', 'scheduled') AND next_at <= $1 \
             AND (lease_until IS NULL OR lease_until < $1)";
        for _ in 0..3 {
            let sql =
                format!("SELECT tenant_id, id FROM campaigns WHERE {DUE} ORDER BY next_at LIMIT 1");
            let Some(row) = self
                .fetch_optional(
                    Scope::System,
                    sqlx::query(sqlx::AssertSqlSafe(sql)).bind(micros(now)),
                )
                .await?
            else {
                return Ok(None);
            };
            let tenant_id: String = row.try_get("tenant_id").map_err(unavailable)?;
            let id: String = row.try_get("id").map_err(unavailable)?;
            let claim = uuid::Uuid::new_v4().to_string();
            let sql = format!(
                "UPDATE campaigns SET status = 'running', lease_until = $2, claim = $3 \
                 WHERE tenant_id = $4 AND id = $5 AND {DUE} RETURNING doc, progress, status"
            );
            let claimed = self
                .fetch_optional(
                    Scope::Tenant(&tenant_id),
                    sqlx::query(sqlx::AssertSqlSafe(sql))
                        .bind(micros(now))
                        .bind(micros(now + lease))
                        .bind(&claim)
                        .bind(&tenant_id)
                        .bind(&id),
                )
                .await?;
            if let Some(row) = claimed {
                let (campaign, progress) = campaign_of(&row)?;
                return Ok(Some(ClaimedCampaign {
                    tenant_id,
                    campaign,
                    progress,
                    claim,
                }));
            }
        }
        Ok(None)
    }

    async fn release_campaign(
        &self,
        claimed: &ClaimedCampaign,
        change: CampaignChange<'_>,
        next_at: Timestamp,
    ) -> Result<bool, StoreError> {
        let tenant_id = &claimed.tenant_id;
        let mut tx = self.begin_for_write(Scope::Tenant(tenant_id)).await?;
        let Some((campaign, progress)) = locked(
            self.backend,
            &mut tx,
            tenant_id,
            &claimed.campaign.id,
            Some(&claimed.claim),
        )
        .await?
        else {
            return Ok(false);
        };
        let (campaign, progress) =
            change(campaign.clone(), progress.clone()).unwrap_or((campaign, progress));
        store(&mut tx, tenant_id, &campaign, &progress, next_at).await?;
        tx.commit().await.map_err(unavailable)?;
        Ok(true)
    }

    async fn campaign_enrolled(
        &self,
        tenant_id: &str,
        campaign_id: &str,
    ) -> Result<u64, StoreError> {
        let row = self
            .fetch_one(
                Scope::Tenant(tenant_id),
                sqlx::query("SELECT COUNT(*) AS n FROM campaign_runs WHERE tenant_id = $1 AND campaign_id = $2")
                    .bind(tenant_id)
                    .bind(campaign_id),
            )
            .await?;
        let n: i64 = row.try_get("n").map_err(unavailable)?;
        Ok(n as u64)
    }

    async fn add_campaign_run(
        &self,
        tenant_id: &str,
        campaign_id: &str,
        contact_id: &str,
        run_id: &str,
        sender: Option<&str>,
        at: Timestamp,
    ) -> Result<(), StoreError> {
        self.execute(
            Scope::Tenant(tenant_id),
            sqlx::query(
                "INSERT INTO campaign_runs (tenant_id, campaign_id, contact_id, run_id, sender, started_at) \
                 VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING",
            )
            .bind(tenant_id)
            .bind(campaign_id)
            .bind(contact_id)
            .bind(run_id)
            .bind(sender.map(str::to_owned))
            .bind(micros(at)),
        )
        .await?;
        Ok(())
    }

    async fn sender_reports(
        &self,
        tenant_id: &str,
        campaign_id: &str,
        sender: &str,
        since: Timestamp,
        limit: u32,
    ) -> Result<Vec<(DeliveryStatus, Option<String>)>, StoreError> {
        let rows = self
            .fetch_all(
                Scope::Tenant(tenant_id),
                sqlx::query(
                    "SELECT d.status, d.error_code FROM \
                     (SELECT run_id, started_at FROM campaign_runs WHERE tenant_id = $1 AND campaign_id = $2 AND sender = $3 \
                      AND started_at > $4 ORDER BY started_at DESC LIMIT $5) c \
                     JOIN messages m ON m.tenant_id = $1 AND m.run_id = c.run_id \
                     JOIN deliveries d ON d.tenant_id = $1 AND d.provider_id = m.provider_id \
                     ORDER BY c.started_at DESC, m.created_at DESC",
                )
                .bind(tenant_id)
                .bind(campaign_id)
                .bind(sender)
                .bind(micros(since))
                .bind(i64::from(limit)),
            )
            .await?;
        let mut reports = Vec::with_capacity(rows.len());
        for row in rows {
            let status: String = row.try_get("status").map_err(unavailable)?;
            let code: Option<String> = row.try_get("error_code").map_err(unavailable)?;
            reports.extend(DeliveryStatus::parse(&status).map(|s| (s, code)));
        }
        Ok(reports)
    }

    async fn sticky_sender(
        &self,
        tenant_id: &str,
        pool: &str,
        contact_id: &str,
        candidate: &str,
        allowed: &[String],
    ) -> Result<String, StoreError> {
        let row = self
            .fetch_optional(
                Scope::Tenant(tenant_id),
                sqlx::query(
                    "SELECT number FROM sender_assignments WHERE tenant_id = $1 AND pool = $2 AND contact_id = $3",
                )
                .bind(tenant_id)
                .bind(pool)
                .bind(contact_id),
            )
            .await?;
        if let Some(row) = row {
            let number: String = row.try_get("number").map_err(unavailable)?;
            if allowed.contains(&number) {
                return Ok(number);
            }
        }
        // New to the pool, or its number left the pool: the rotation's turn.
        self.execute(
            Scope::Tenant(tenant_id),
            sqlx::query(
                "INSERT INTO sender_assignments (tenant_id, pool, contact_id, number) VALUES ($1, $2, $3, $4) \
                 ON CONFLICT (tenant_id, pool, contact_id) DO UPDATE SET number = excluded.number",
            )
            .bind(tenant_id)
            .bind(pool)
            .bind(contact_id)
            .bind(candidate),
        )
        .await?;
        Ok(candidate.to_owned())
    }

    async fn reserve_number_slot(
        &self,
        tenant_id: &str,
        number: &str,
        now: Timestamp,
        interval: SignedDuration,
        horizon: SignedDuration,
    ) -> Result<Option<Timestamp>, StoreError> {
        let row = self
            .fetch_optional(
                Scope::Tenant(tenant_id),
                sqlx::query(
                    "INSERT INTO number_slots (tenant_id, number, next_at) VALUES ($1, $2, $3 + $4) \
                     ON CONFLICT (tenant_id, number) DO UPDATE SET next_at = \
                     (CASE WHEN number_slots.next_at > $3 THEN number_slots.next_at ELSE $3 END) + $4 \
                     WHERE number_slots.next_at <= $3 + $5 RETURNING next_at",
                )
                .bind(tenant_id)
                .bind(number)
                .bind(micros(now))
                .bind(interval.as_micros() as i64)
                .bind(horizon.as_micros() as i64),
            )
            .await?;
        let Some(row) = row else { return Ok(None) };
        let next: i64 = row.try_get("next_at").map_err(unavailable)?;
        let slot = next - interval.as_micros() as i64;
        Ok(Some(Timestamp::from_microsecond(slot).unwrap_or(now)))
    }

    async fn campaign_messages(
        &self,
        tenant_id: &str,
        campaign_id: &str,
    ) -> Result<MessageCounts, StoreError> {
        super::campaign_counts::campaign_messages(self, tenant_id, campaign_id).await
    }
}
