//! Runs and their step history in the SQL store. A transition commits the run row, its step
//! records and a changed contact in one transaction, guarded by `seq`.

use std::collections::HashSet;

use jiff::Timestamp;
use sqlx::Row;
use sqlx::any::AnyRow;

use super::contacts::contact_of;
use super::first_events::{placeholders, returned_ids};
use super::{Scope, SqlStore, Tx, corrupt, micros, time_column, unavailable};
use crate::model::{Contact, Run, RunId, RunStatus};
use crate::ports::{AdvanceTask, StoreError, Transition};
use crate::runtime::StepRecord;

pub(super) fn status_name(status: RunStatus) -> String {
    serde_json::to_value(status)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default()
}

fn seq(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

/// Records per INSERT: 9 values each stays well under SQLite's and PostgreSQL's limits on
/// bound parameters.
const RECORDS_PER_INSERT: usize = 100;

/// One history row to insert: tenant, run, index within its transition, record.
pub(super) type RecordRow<'a> = (&'a str, &'a Run, usize, &'a StepRecord);

/// Appends history rows, many per statement (a round trip per record would dominate the cost
/// of a step).
pub(super) async fn insert_records(
    tx: &mut Tx,
    records: &[RecordRow<'_>],
) -> Result<(), StoreError> {
    for chunk in records.chunks(RECORDS_PER_INSERT) {
        insert_chunk(tx, chunk).await?;
    }
    Ok(())
}

async fn insert_chunk(tx: &mut Tx, records: &[RecordRow<'_>]) -> Result<(), StoreError> {
    let sql = format!(
        "INSERT INTO run_steps (tenant_id, run_id, seq, idx, at, step, attempt, kind, doc) VALUES {}",
        placeholders(records.len(), 9)
    );
    // The statement text holds only numbered placeholders; every value is bound.
    let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
    for (tenant_id, run, idx, record) in records {
        let doc = serde_json::to_value(record).map_err(|e| corrupt("step record", e))?;
        let kind = doc
            .get("kind")
            .and_then(|k| k.as_str())
            .unwrap_or_default()
            .to_owned();
        query = query
            .bind((*tenant_id).to_owned())
            .bind(run.id.to_string())
            .bind(seq(run.seq))
            .bind(i64::try_from(*idx).unwrap_or(i64::MAX))
            .bind(micros(record.at))
            .bind(record.step.clone())
            .bind(i64::from(record.attempt))
            .bind(kind)
            .bind(doc.to_string());
    }
    query.execute(&mut **tx).await.map_err(unavailable)?;
    Ok(())
}

/// A JSON document column decoded into `T`.
fn decode<T: serde::de::DeserializeOwned>(
    row: &AnyRow,
    column: &str,
    what: &str,
) -> Result<T, StoreError> {
    let text: String = row.try_get(column).map_err(unavailable)?;
    serde_json::from_str(&text).map_err(|e| corrupt(what, e))
}

/// The task that advances the run in `row` (columns `tenant_id`, `id`, `seq`).
fn task_of(row: &AnyRow) -> Result<AdvanceTask, StoreError> {
    let id: String = row.try_get("id").map_err(unavailable)?;
    let seq: i64 = row.try_get("seq").map_err(unavailable)?;
    Ok(AdvanceTask {
        tenant_id: row.try_get("tenant_id").map_err(unavailable)?,
        run_id: RunId(
            id.parse()
                .map_err(|_| StoreError::Unavailable(format!("bad run id {id}")))?,
        ),
        seq: u64::try_from(seq).unwrap_or_default(),
    })
}

/// Inserts a new run's row; answers false when a run with its id exists. The caller commits
/// (see [`super::group_commit`]).
pub(super) async fn insert_run(
    tx: &mut Tx,
    tenant_id: &str,
    run: &Run,
) -> Result<bool, StoreError> {
    Ok(!insert_runs(tx, tenant_id, &[run]).await?.is_empty())
}

/// Runs per INSERT: 13 values each stays well under SQLite's limit of 32,766 bound
/// parameters, however many flows one event starts.
const RUNS_PER_INSERT: usize = 500;

/// Inserts the runs that are new, many per statement; answers the ids of those inserted.
pub(super) async fn insert_runs(
    tx: &mut Tx,
    tenant_id: &str,
    runs: &[&Run],
) -> Result<HashSet<String>, StoreError> {
    let mut inserted = HashSet::new();
    for chunk in runs.chunks(RUNS_PER_INSERT) {
        let sql = format!(
            "INSERT INTO runs (tenant_id, id, flow_id, flow_version, contact_id, status, seq, \
             wake_at, waiting_event, format, state, created_at, updated_at) VALUES {} \
             ON CONFLICT (tenant_id, id) DO NOTHING RETURNING id",
            placeholders(chunk.len(), 13)
        );
        // The statement text holds only numbered placeholders; every value is bound.
        let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
        for run in chunk {
            let state = serde_json::to_string(run).map_err(|e| corrupt("run", e))?;
            query = query
                .bind(tenant_id.to_owned())
                .bind(run.id.to_string())
                .bind(run.flow_id.clone())
                .bind(i64::from(run.flow_version))
                .bind(run.contact_id.clone())
                .bind(status_name(run.status))
                .bind(seq(run.seq))
                .bind(run.wake_at.map(micros))
                .bind(run.waiting.as_ref().map(|w| w.event.clone()))
                .bind(i64::from(run.format))
                .bind(state)
                .bind(micros(run.started_at))
                .bind(micros(run.started_at));
        }
        inserted.extend(returned_ids(tx, query).await?);
    }
    Ok(inserted)
}

pub(super) async fn run(
    store: &SqlStore,
    tenant_id: &str,
    run_id: RunId,
) -> Result<Run, StoreError> {
    let row = run_row(
        store,
        tenant_id,
        run_id,
        "SELECT state FROM runs WHERE tenant_id = $1 AND id = $2",
    )
    .await?;
    run_of(&row)
}

/// A run and its contact in one query: the read before each advance.
pub(super) async fn run_and_contact(
    store: &SqlStore,
    tenant_id: &str,
    run_id: RunId,
) -> Result<(Run, Contact), StoreError> {
    // Subqueries on the contact's primary key, not a join: on a young table the planner may
    // join by scanning every contact. The contact reads as `CONTACT_COLUMNS` reads it.
    let row = run_row(
        store,
        tenant_id,
        run_id,
        "SELECT r.state, (SELECT c.doc FROM contacts c \
         WHERE c.tenant_id = r.tenant_id AND c.id = r.contact_id) AS doc, \
         (SELECT COUNT(*) FROM contacts c JOIN suppressions s ON s.tenant_id = c.tenant_id \
          AND s.channel = 'sms' AND s.address = c.phone \
          WHERE c.tenant_id = r.tenant_id AND c.id = r.contact_id) AS sms_suppressed, \
         (SELECT COUNT(*) FROM contacts c JOIN suppressions s ON s.tenant_id = c.tenant_id \
          AND s.channel = 'email' AND s.address = c.email \
          WHERE c.tenant_id = r.tenant_id AND c.id = r.contact_id) AS email_suppressed, \
         (SELECT COUNT(*) FROM conversations v WHERE v.tenant_id = r.tenant_id \
          AND v.contact_id = r.contact_id AND v.status = 'needs_human') AS needs_human \
         FROM runs r WHERE r.tenant_id = $1 AND r.id = $2",
    )
    .await?;
    let run = run_of(&row)?;
    let doc: Option<String> = row.try_get("doc").map_err(unavailable)?;
    if doc.is_none() {
        return Err(StoreError::NotFound {
            what: format!("contact {}", run.contact_id),
        });
    }
    let mut contact = contact_of(&row)?;
    let needs_human: i64 = row.try_get("needs_human").map_err(unavailable)?;
    contact.human_takeover = needs_human > 0;
    Ok((run, contact))
}

/// The one row `sql` (taking tenant and run id) finds, or "not found".
async fn run_row(
    store: &SqlStore,
    tenant_id: &str,
    run_id: RunId,
    sql: &'static str,
) -> Result<AnyRow, StoreError> {
    store
        .fetch_optional(
            Scope::Tenant(tenant_id),
            sqlx::query(sql).bind(tenant_id).bind(run_id.to_string()),
        )
        .await?
        .ok_or_else(|| StoreError::NotFound {
            what: format!("run {run_id}"),
        })
}

/// The run in a row's `state` column.
fn run_of(row: &AnyRow) -> Result<Run, StoreError> {
    let state: String = row.try_get("state").map_err(unavailable)?;
    serde_json::from_str(&state).map_err(|e| corrupt("run", e))
}

/// Writes a transition's run row if the stored `seq` is the expected one; answers whether
/// it did. The caller commits (see [`super::group_commit`]).
pub(super) async fn update_run(
    tx: &mut Tx,
    tenant_id: &str,
    transition: &Transition,
) -> Result<bool, StoreError> {
    let run = &transition.run;
    let state = serde_json::to_string(run).map_err(|e| corrupt("run", e))?;
    let updated = sqlx::query(
        "UPDATE runs SET status = $1, seq = $2, wake_at = $3, waiting_event = $4, format = $5, state = $6, \
         updated_at = $7 WHERE tenant_id = $8 AND id = $9 AND seq = $10",
    )
    .bind(status_name(run.status))
    .bind(seq(run.seq))
    .bind(run.wake_at.map(micros))
    .bind(run.waiting.as_ref().map(|w| w.event.clone()))
    .bind(i64::from(run.format))
    .bind(state)
    .bind(micros(Timestamp::now()))
    .bind(tenant_id)
    .bind(run.id.to_string())
    .bind(seq(transition.expected_seq))
    .execute(&mut **tx)
    .await
    .map_err(unavailable)?
    .rows_affected();
    Ok(updated > 0)
}

pub(super) async fn active_runs(
    store: &SqlStore,
    tenant_id: &str,
    contact_id: &str,
) -> Result<Vec<Run>, StoreError> {
    // Sorted here, not by ORDER BY: with one, SQLite's planner preferred the tenant's
    // `runs_by_created` index (no sort needed) and scanned every run of the tenant, where
    // `runs_by_contact` finds the contact's few (`stepwise bench flow` halved).
    let rows = store
        .fetch_all(
            Scope::Tenant(tenant_id),
            sqlx::query(
                "SELECT state FROM runs WHERE tenant_id = $1 AND contact_id = $2 \
         AND status NOT IN ('completed', 'cancelled', 'failed')",
            )
            .bind(tenant_id)
            .bind(contact_id),
        )
        .await?;
    let mut runs: Vec<Run> = rows
        .iter()
        .map(|row| decode(row, "state", "run"))
        .collect::<Result<_, _>>()?;
    runs.sort_by_key(|r| (r.started_at, r.id));
    Ok(runs)
}

pub(super) async fn records(
    store: &SqlStore,
    tenant_id: &str,
    run_id: RunId,
) -> Result<Vec<StepRecord>, StoreError> {
    // A run that does not exist (for this tenant) is NotFound, not an empty history.
    self::run(store, tenant_id, run_id).await?;
    let rows = store
        .fetch_all(
            Scope::Tenant(tenant_id),
            sqlx::query(
                "SELECT doc FROM run_steps WHERE tenant_id = $1 AND run_id = $2 ORDER BY seq, idx",
            )
            .bind(tenant_id)
            .bind(run_id.to_string()),
        )
        .await?;
    rows.iter()
        .map(|row| decode(row, "doc", "step record"))
        .collect()
}

pub(super) async fn due_runs(
    store: &SqlStore,
    now: Timestamp,
    limit: u32,
) -> Result<Vec<AdvanceTask>, StoreError> {
    let rows = store
        .fetch_all(
            Scope::System,
            sqlx::query(
                "SELECT tenant_id, id, seq FROM runs WHERE wake_at IS NOT NULL AND wake_at <= $1 \
         ORDER BY wake_at LIMIT $2",
            )
            .bind(micros(now))
            .bind(i64::from(limit)),
        )
        .await?;
    rows.iter().map(task_of).collect()
}

pub(super) async fn claim_timers(
    store: &SqlStore,
    until: Timestamp,
    limit: u32,
) -> Result<Vec<(AdvanceTask, Timestamp)>, StoreError> {
    let rows = store
        .fetch_all(
            Scope::System,
            sqlx::query(
                "UPDATE runs SET queued_seq = seq WHERE (tenant_id, id) IN ( \
           SELECT tenant_id, id FROM runs WHERE wake_at IS NOT NULL AND wake_at <= $1 \
           AND status IN ('sleeping', 'waiting') AND (queued_seq IS NULL OR queued_seq <> seq) \
           ORDER BY wake_at LIMIT $2) \
         AND (queued_seq IS NULL OR queued_seq <> seq) \
         RETURNING tenant_id, id, seq, wake_at",
            )
            .bind(micros(until))
            .bind(i64::from(limit)),
        )
        .await?;
    rows.iter()
        .map(|row| Ok((task_of(row)?, time_column(row, "wake_at")?)))
        .collect()
}
