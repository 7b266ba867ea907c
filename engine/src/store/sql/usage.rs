//! [`UsageStore`] in SQL: messages counted from the outbox through its covering index
//! `messages_usage` (by quarter hour, summed into the business's local days here), language-model tokens from `ai_usage` (a row per model call, written with
//! the run's history), contacts and active runs counted, and `usage_notices`, whose key makes
//! a notice the first claimer's.

use std::collections::BTreeMap;

use jiff::Timestamp;
use sqlx::Row;

use super::runs::RecordRow;
use super::{Scope, SqlStore, Tx, micros, unavailable};
use crate::ports::{AuditEntry, Channel, DayCount, StoreError, UsageStore};
use crate::runtime::Happening;
use crate::usage::{Metric, Notice};

/// Rows are grouped by quarter hour, the finest step any zone's offset takes, so every group
/// falls on one local day of whichever zone the business is in.
const QUARTER_MICROS: i64 = 900_000_000;

/// The local date, in `zone`, of a `created_at / QUARTER_MICROS` group.
fn local_day(
    row: &sqlx::any::AnyRow,
    zone: &jiff::tz::TimeZone,
) -> Result<Option<jiff::civil::Date>, StoreError> {
    let quarter: i64 = row.try_get("quarter").map_err(unavailable)?;
    Ok(
        Timestamp::from_microsecond(quarter.saturating_mul(QUARTER_MICROS))
            .ok()
            .map(|t| t.to_zoned(zone.clone()).date()),
    )
}

fn count(row: &sqlx::any::AnyRow, column: &str) -> Result<u64, StoreError> {
    let n: Option<i64> = row.try_get(column).map_err(unavailable)?;
    Ok(u64::try_from(n.unwrap_or(0)).unwrap_or(0))
}

/// Meters the tokens of every model call among `records`, once per call (`run:step:attempt`).
pub(super) async fn insert_ai_usage(
    tx: &mut Tx,
    records: &[RecordRow<'_>],
) -> Result<(), StoreError> {
    for (tenant_id, run, _, record) in records {
        let Happening::Called {
            connector, result, ..
        } = &record.what
        else {
            continue;
        };
        let tokens = result.get("tokens").and_then(serde_json::Value::as_i64);
        let (true, Some(tokens)) = (connector == "llm", tokens.filter(|t| *t > 0)) else {
            continue;
        };
        let step = record.step.as_deref().unwrap_or_default();
        sqlx::query(
            "INSERT INTO ai_usage (tenant_id, id, tokens, created_at) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (tenant_id, id) DO NOTHING",
        )
        .bind(*tenant_id)
        .bind(format!("{}:{step}:{}", run.id, record.attempt))
        .bind(tokens)
        .bind(micros(record.at))
        .execute(&mut **tx)
        .await
        .map_err(unavailable)?;
    }
    Ok(())
}

#[async_trait::async_trait]
impl UsageStore for SqlStore {
    async fn ai_tokens_by_day(
        &self,
        tenant_id: &str,
        since: Timestamp,
        zone: &jiff::tz::TimeZone,
    ) -> Result<Vec<(jiff::civil::Date, u64)>, StoreError> {
        let query = sqlx::query(
            "SELECT created_at / $3 AS quarter, CAST(SUM(tokens) AS BIGINT) AS n FROM ai_usage \
             WHERE tenant_id = $1 AND created_at >= $2 GROUP BY created_at / $3",
        )
        .bind(tenant_id)
        .bind(micros(since))
        .bind(QUARTER_MICROS);
        let rows = self.fetch_all(Scope::Tenant(tenant_id), query).await?;
        let mut days: BTreeMap<jiff::civil::Date, u64> = BTreeMap::new();
        for row in &rows {
            if let Some(day) = local_day(row, zone)? {
                *days.entry(day).or_default() += count(row, "n")?;
            }
        }
        Ok(days.into_iter().collect())
    }

    async fn messages_by_day(
        &self,
        tenant_id: &str,
        since: Timestamp,
        zone: &jiff::tz::TimeZone,
    ) -> Result<Vec<DayCount>, StoreError> {
        let query = sqlx::query(
            "SELECT created_at / $3 AS quarter, channel, COUNT(*) AS n, SUM(segments) AS s \
             FROM messages WHERE tenant_id = $1 AND created_at >= $2 \
             GROUP BY created_at / $3, channel",
        )
        .bind(tenant_id)
        .bind(micros(since))
        .bind(QUARTER_MICROS);
        let rows = self.fetch_all(Scope::Tenant(tenant_id), query).await?;
        let mut days: BTreeMap<(jiff::civil::Date, &str), (u64, u64)> = BTreeMap::new();
        for row in &rows {
            let channel: String = row.try_get("channel").map_err(unavailable)?;
            let (Some(channel), Some(day)) = (Channel::parse(&channel), local_day(row, zone)?)
            else {
                continue;
            };
            let sums = days.entry((day, channel.as_str())).or_default();
            sums.0 += count(row, "n")?;
            sums.1 += count(row, "s")?;
        }
        Ok(days
            .into_iter()
            .filter_map(|((day, channel), (messages, segments))| {
                Some(DayCount {
                    day,
                    channel: Channel::parse(channel)?,
                    messages,
                    segments,
                })
            })
            .collect())
    }

    async fn contacts_and_active_runs(&self, tenant_id: &str) -> Result<(u64, u64), StoreError> {
        let query = sqlx::query(
            "SELECT (SELECT COUNT(*) FROM contacts WHERE tenant_id = $1) AS contacts, \
                    (SELECT COUNT(*) FROM runs WHERE tenant_id = $1 \
                     AND status NOT IN ('completed', 'cancelled', 'failed')) AS runs",
        )
        .bind(tenant_id);
        let row = self.fetch_one(Scope::Tenant(tenant_id), query).await?;
        Ok((count(&row, "contacts")?, count(&row, "runs")?))
    }

    async fn claim_notice(
        &self,
        tenant_id: &str,
        notice: &Notice,
        audit: &AuditEntry,
    ) -> Result<bool, StoreError> {
        let query = sqlx::query(
            "INSERT INTO usage_notices (tenant_id, period, metric, level, used, quota, at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT DO NOTHING",
        )
        .bind(tenant_id)
        .bind(&notice.period)
        .bind(notice.metric.as_str())
        .bind(i64::from(notice.level))
        .bind(i64::try_from(notice.used).unwrap_or(i64::MAX))
        .bind(i64::try_from(notice.quota).unwrap_or(i64::MAX))
        .bind(micros(Timestamp::now()));
        Ok(self.execute_audited(tenant_id, query, Some(audit)).await? > 0)
    }

    async fn notices(&self, tenant_id: &str, period: &str) -> Result<Vec<Notice>, StoreError> {
        let query = sqlx::query(
            "SELECT metric, level, used, quota FROM usage_notices \
             WHERE tenant_id = $1 AND period = $2 ORDER BY at, metric, level",
        )
        .bind(tenant_id)
        .bind(period);
        let rows = self.fetch_all(Scope::Tenant(tenant_id), query).await?;
        let mut out = Vec::with_capacity(rows.len());
        for row in &rows {
            let metric: String = row.try_get("metric").map_err(unavailable)?;
            let Some(metric) = Metric::ALL.into_iter().find(|m| m.as_str() == metric) else {
                continue;
            };
            let level: i64 = row.try_get("level").map_err(unavailable)?;
            out.push(Notice {
                period: period.to_owned(),
                metric,
                level: u8::try_from(level).unwrap_or(100),
                used: count(row, "used")?,
                quota: count(row, "quota")?,
            });
        }
        Ok(out)
    }
}
