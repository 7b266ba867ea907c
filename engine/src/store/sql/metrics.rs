//! [`MetricsStore`] in SQL: the aggregates module KPIs are made of, each one query over the
//! tenant's runs of one flow in a period (indexed by `runs_by_flow_created`), with the runs'
//! messages, steps and the contact's events looked up by index.

use jiff::{SignedDuration, Timestamp};
use serde_json::{Map, Value};
use sqlx::Row;

use super::{Scope, SqlStore, micros, unavailable};
use crate::ports::{MetricsStore, Share, StoreError};

/// The runs of one flow started in a period; `$1` tenant, `$2` flow, `$3` from, `$4` to.
const RUNS: &str = "FROM runs r WHERE r.tenant_id = $1 AND r.flow_id = $2 AND r.created_at >= $3 AND r.created_at < $4";

fn share(row: &sqlx::any::AnyRow) -> Result<Share, StoreError> {
    let runs: i64 = row.try_get("runs").map_err(unavailable)?;
    let with: i64 = row.try_get("with_outcome").map_err(unavailable)?;
    Ok(Share {
        runs: u64::try_from(runs).unwrap_or(0),
        with: u64::try_from(with).unwrap_or(0),
    })
}

#[async_trait::async_trait]
impl MetricsStore for SqlStore {
    async fn first_response_seconds(
        &self,
        tenant_id: &str,
        flow_id: &str,
        from: Timestamp,
        to: Timestamp,
    ) -> Result<Vec<f64>, StoreError> {
        let sql = format!(
            "SELECT r.created_at AS started, \
             (SELECT MIN(m.created_at) FROM messages m WHERE m.tenant_id = r.tenant_id AND m.run_id = r.id) AS first \
             {RUNS}"
        );
        let rows = self
            .fetch_all(
                Scope::Tenant(tenant_id),
                sqlx::query(sqlx::AssertSqlSafe(sql))
                    .bind(tenant_id)
                    .bind(flow_id)
                    .bind(micros(from))
                    .bind(micros(to)),
            )
            .await?;
        let mut seconds = Vec::with_capacity(rows.len());
        for row in rows {
            let started: i64 = row.try_get("started").map_err(unavailable)?;
            let first: Option<i64> = row.try_get("first").map_err(unavailable)?;
            if let Some(first) = first {
                seconds.push((first - started).max(0) as f64 / 1e6);
            }
        }
        Ok(seconds)
    }

    async fn runs_followed_by(
        &self,
        tenant_id: &str,
        flow_id: &str,
        from: Timestamp,
        to: Timestamp,
        event_types: &[&str],
        within: SignedDuration,
    ) -> Result<Share, StoreError> {
        let types: Vec<String> = (0..event_types.len())
            .map(|i| format!("${}", i + 6))
            .collect();
        let sql = format!(
            "SELECT COUNT(*) AS runs, CAST(COALESCE(SUM(CASE WHEN EXISTS (SELECT 1 FROM events e \
             WHERE e.tenant_id = r.tenant_id AND e.contact_id = r.contact_id \
             AND e.received_at >= r.created_at AND e.received_at < r.created_at + $5 \
             AND e.event_type IN ({})) THEN 1 ELSE 0 END), 0) AS BIGINT) AS with_outcome {RUNS}",
            types.join(", ")
        );
        let mut query = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(tenant_id)
            .bind(flow_id)
            .bind(micros(from))
            .bind(micros(to))
            .bind(within.as_micros() as i64);
        for t in event_types {
            query = query.bind(*t);
        }
        let row = self.fetch_one(Scope::Tenant(tenant_id), query).await?;
        share(&row)
    }

    async fn runs_reaching(
        &self,
        tenant_id: &str,
        flow_id: &str,
        from: Timestamp,
        to: Timestamp,
        step_prefix: &str,
    ) -> Result<Share, StoreError> {
        // Step ids are identifiers: `_` is the only LIKE wildcard they can hold.
        let pattern = format!("{}%", step_prefix.replace('_', "\\_"));
        let sql = format!(
            "SELECT COUNT(*) AS runs, CAST(COALESCE(SUM(CASE WHEN EXISTS (SELECT 1 FROM run_steps s \
             WHERE s.tenant_id = r.tenant_id AND s.run_id = r.id AND s.step LIKE $5 ESCAPE '\\') \
             THEN 1 ELSE 0 END), 0) AS BIGINT) AS with_outcome {RUNS}"
        );
        let query = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(tenant_id)
            .bind(flow_id)
            .bind(micros(from))
            .bind(micros(to))
            .bind(pattern);
        let row = self.fetch_one(Scope::Tenant(tenant_id), query).await?;
        share(&row)
    }

    async fn events_received(
        &self,
        tenant_id: &str,
        event_type: &str,
        from: Timestamp,
        to: Timestamp,
    ) -> Result<u64, StoreError> {
        let query = sqlx::query(
            "SELECT COUNT(*) AS n FROM events WHERE tenant_id = $1 AND event_type = $2 \
             AND received_at >= $3 AND received_at < $4",
        )
        .bind(tenant_id)
        .bind(event_type)
        .bind(micros(from))
        .bind(micros(to));
        let row = self.fetch_one(Scope::Tenant(tenant_id), query).await?;
        let n: i64 = row.try_get("n").map_err(unavailable)?;
        Ok(u64::try_from(n).unwrap_or(0))
    }

    async fn contacts_with_field(
        &self,
        tenant_id: &str,
        field: &str,
    ) -> Result<Vec<Map<String, Value>>, StoreError> {
        // A coarse filter in SQL; the field itself is read from each document.
        // `_` matches itself too; this only narrows what is read.
        let pattern = format!("%\"{}\"%", field.replace(['%', '"', '\\'], ""));
        let query = sqlx::query("SELECT doc FROM contacts WHERE tenant_id = $1 AND doc LIKE $2")
            .bind(tenant_id)
            .bind(pattern);
        let rows = self.fetch_all(Scope::Tenant(tenant_id), query).await?;
        let mut found = Vec::new();
        for row in rows {
            let doc: String = row.try_get("doc").map_err(unavailable)?;
            let value: Value = serde_json::from_str(&doc).unwrap_or(Value::Null);
            if let Some(fields) = value.get("fields").and_then(Value::as_object)
                && fields.contains_key(field)
            {
                found.push(fields.clone());
            }
        }
        Ok(found)
    }
}
