//! [`MetricsStore`] in SQL: the aggregates module KPIs are made of, each one query over the
//! tenant's runs of one flow in a period (indexed by `runs_by_flow_created`), with the runs'
//! messages, steps and the contact's events looked up by index.

use jiff::{SignedDuration, Timestamp};
use serde_json::{Map, Value};
use sqlx::Row;

use super::{Backend, Scope, SqlStore, micros, time_column, unavailable};
use crate::ports::{FollowingEvent, MetricsStore, Share, StoreError};

/// The runs of one flow started in a period; `$1` tenant, `$2` flow, `$3` from, `$4` to.
const RUNS: &str =
    "FROM runs WHERE tenant_id = $1 AND flow_id = $2 AND created_at >= $3 AND created_at < $4";

/// `$6, $7, …`: one placeholder per event type, after the five that [`period_query`] binds.
fn type_placeholders(event_types: &[&str]) -> String {
    let types: Vec<String> = (0..event_types.len())
        .map(|i| format!("${}", i + 6))
        .collect();
    types.join(", ")
}

/// `sql` with its arguments bound: `$1` tenant, `$2` flow, `$3` from, `$4` to, `$5` the window
/// after a run's start, then the event types (see [`type_placeholders`]).
#[allow(clippy::too_many_arguments)]
fn period_query<'q>(
    sql: String,
    tenant_id: &'q str,
    flow_id: &'q str,
    from: Timestamp,
    to: Timestamp,
    within: SignedDuration,
    event_types: &'q [&'q str],
) -> sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments> {
    let mut query = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(tenant_id)
        .bind(flow_id)
        .bind(micros(from))
        .bind(micros(to))
        .bind(within.as_micros() as i64);
    for t in event_types {
        query = query.bind(*t);
    }
    query
}

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
        // One grouped pass over the period's messages, joined to the runs (a correlated
        // MIN per run was 1.5 s for a busy tenant's year on PostgreSQL; this is 0.8 s).
        let sql = "SELECT r.created_at AS started, m.first AS first FROM runs r JOIN \
             (SELECT run_id, MIN(created_at) AS first FROM messages WHERE tenant_id = $1 AND created_at >= $3 \
             GROUP BY run_id) m ON m.run_id = r.id \
             WHERE r.tenant_id = $1 AND r.flow_id = $2 AND r.created_at >= $3 AND r.created_at < $4";
        let rows = self
            .fetch_all(
                Scope::Tenant(tenant_id),
                sqlx::query(sql)
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
        let types = type_placeholders(event_types);
        // Each planner gets the shape it runs best, measured by `stepwise bench kpis` on a busy
        // tenant's year: PostgreSQL hash-joins the period's runs to the few events that could
        // follow them (0.4 s, where EXISTS per run took 1.2 s); SQLite, which has no hash
        // join, probes the contact's events by index per run (0.3 s, the join 0.8 s).
        let sql = match self.backend {
            Backend::Postgres => format!(
                "WITH r AS (SELECT id, contact_id, created_at {RUNS}), \
                 e AS (SELECT contact_id, received_at FROM events WHERE tenant_id = $1 \
                 AND event_type IN ({types}) AND received_at >= $3 AND received_at < $4 + $5) \
                 SELECT (SELECT COUNT(*) FROM r) AS runs, \
                 (SELECT COUNT(DISTINCT r.id) FROM r JOIN e ON e.contact_id = r.contact_id \
                 AND e.received_at >= r.created_at AND e.received_at < r.created_at + $5) AS with_outcome"
            ),
            Backend::Sqlite => format!(
                "SELECT COUNT(*) AS runs, COALESCE(SUM(CASE WHEN EXISTS (SELECT 1 FROM events e \
                 WHERE e.tenant_id = $1 AND e.contact_id = runs.contact_id \
                 AND e.received_at >= runs.created_at AND e.received_at < runs.created_at + $5 \
                 AND e.event_type IN ({types})) THEN 1 ELSE 0 END), 0) AS with_outcome {RUNS}"
            ),
        };
        let query = period_query(sql, tenant_id, flow_id, from, to, within, event_types);
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
        // `IN` builds the set of runs that reached the step once (a LEFT JOIN made SQLite
        // scan it per run). A run's steps come after its start, hence `at >= $3`.
        let sql = "SELECT COUNT(*) AS runs, COALESCE(SUM(CASE WHEN id IN (SELECT run_id FROM run_steps \
             WHERE tenant_id = $1 AND at >= $3 AND step LIKE $5 ESCAPE '\\') THEN 1 ELSE 0 END), 0) AS with_outcome \
             FROM runs WHERE tenant_id = $1 AND flow_id = $2 AND created_at >= $3 AND created_at < $4";
        let query = sqlx::query(sql)
            .bind(tenant_id)
            .bind(flow_id)
            .bind(micros(from))
            .bind(micros(to))
            .bind(pattern);
        let row = self.fetch_one(Scope::Tenant(tenant_id), query).await?;
        share(&row)
    }

    async fn events_following_runs(
        &self,
        tenant_id: &str,
        flow_id: &str,
        from: Timestamp,
        to: Timestamp,
        event_types: &[&str],
        within: SignedDuration,
    ) -> Result<Vec<FollowingEvent>, StoreError> {
        // Payments and the like are few next to runs: the contact's events of these types are
        // probed by index (`events_by_contact_type`) for each run of the period.
        let sql = format!(
            "SELECT e.id AS event_id, r.id AS run_id, r.created_at AS run_started, \
             e.received_at AS at, e.doc AS doc FROM runs r JOIN events e \
             ON e.tenant_id = r.tenant_id AND e.contact_id = r.contact_id \
             AND e.event_type IN ({}) AND e.received_at >= r.created_at \
             AND e.received_at < r.created_at + $5 \
             WHERE r.tenant_id = $1 AND r.flow_id = $2 AND r.created_at >= $3 AND r.created_at < $4",
            type_placeholders(event_types)
        );
        let query = period_query(sql, tenant_id, flow_id, from, to, within, event_types);
        let rows = self.fetch_all(Scope::Tenant(tenant_id), query).await?;
        rows.iter()
            .map(|row| {
                let doc: String = row.try_get("doc").map_err(unavailable)?;
                let event: Value = serde_json::from_str(&doc).unwrap_or(Value::Null);
                Ok(FollowingEvent {
                    event_id: row.try_get("event_id").map_err(unavailable)?,
                    run_id: row.try_get("run_id").map_err(unavailable)?,
                    run_started: time_column(row, "run_started")?,
                    at: time_column(row, "at")?,
                    data: event.get("data").cloned().unwrap_or(Value::Null),
                })
            })
            .collect()
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
