//! The first events of new contacts that one group commit carries, written set-wise: a few
//! statements for the whole batch (events, contacts, take-backs, runs) instead of three or four
//! round trips per event. Under load a batch holds tens of them (`stepwise bench api`).
//!
//! Each event keeps its own outcome, as [`super::group_commit`] promises for `FirstEvent`: it
//! is stored, with its contact and runs, only when the event is new and no stored contact has
//! the contact's id, phone or email; otherwise nothing of it stays.

use std::collections::HashSet;

use sqlx::Row;

use super::contacts::record_opt_outs;
use super::runs::{RecordRow, insert_runs};
use super::{Tx, corrupt, micros, unavailable};
use crate::model::{Contact, Run};
use crate::ports::{StoreError, StoredEvent};
use crate::runtime::StepRecord;

/// One first event of a batch.
pub(super) struct FirstEvent<'a> {
    pub event: &'a StoredEvent,
    pub contact: &'a Contact,
    pub runs: &'a [(Run, Vec<StepRecord>)],
}

/// `rows` groups of `columns` numbered placeholders: `($1, $2), ($3, $4)`.
pub(super) fn placeholders(rows: usize, columns: usize) -> String {
    (0..rows)
        .map(|r| {
            let row: Vec<String> = (1..=columns)
                .map(|c| format!("${}", r * columns + c))
                .collect();
            format!("({})", row.join(", "))
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// Writes the first events of one tenant; answers, in order, which were stored, and adds the
/// first records of their runs to `history`.
pub(super) async fn write<'a>(
    tx: &mut Tx,
    tenant_id: &'a str,
    batch: &[FirstEvent<'a>],
    history: &mut Vec<RecordRow<'a>>,
) -> Result<Vec<bool>, StoreError> {
    let new_events = insert_events(tx, tenant_id, batch).await?;
    let with_new_event: Vec<&FirstEvent<'a>> = batch
        .iter()
        .filter(|f| new_events.contains(&f.event.id))
        .collect();
    // Of two first events of one new contact in a batch (the same id, phone or email), the
    // first creates it; the second is that contact's second event, whose concurrency rules
    // need the general way. (The statement below cannot tell: its NOT EXISTS does not see
    // the rows it inserts itself.)
    let mut seen = HashSet::new();
    let creators: Vec<&FirstEvent<'a>> = with_new_event
        .iter()
        .copied()
        .filter(|f| {
            let c = f.contact;
            let keys = [
                Some(("id", &c.id)),
                c.phone.as_ref().map(|p| ("phone", p)),
                c.email.as_ref().map(|e| ("email", e)),
            ];
            let new = keys.iter().flatten().all(|k| !seen.contains(k));
            seen.extend(keys.into_iter().flatten());
            new
        })
        .collect();
    let new_contacts = insert_contacts(tx, tenant_id, &creators).await?;
    for f in &creators {
        if new_contacts.contains(&f.contact.id) {
            record_opt_outs(tx, tenant_id, f.contact).await?;
        }
    }
    let stored_events: HashSet<&str> = creators
        .iter()
        .filter(|f| new_contacts.contains(&f.contact.id))
        .map(|f| f.event.id.as_str())
        .collect();
    let stored = |f: &FirstEvent<'_>| stored_events.contains(f.event.id.as_str());
    // A known contact after all: its event is taken back, to go the general way.
    let taken_back: Vec<&str> = with_new_event
        .iter()
        .filter(|f| !stored(f))
        .map(|f| f.event.id.as_str())
        .collect();
    delete_events(tx, tenant_id, &taken_back).await?;
    // A kept event that is the contact's own message counts in its conversation.
    for f in batch.iter().filter(|f| stored(f)) {
        super::conversations::touch_inbound(tx, tenant_id, f.event).await?;
    }
    let runs: Vec<&'a (Run, Vec<StepRecord>)> = batch
        .iter()
        .filter(|f| stored(f))
        .flat_map(|f| f.runs.iter())
        .collect();
    let run_rows: Vec<&Run> = runs.iter().map(|(run, _)| run).collect();
    let new_runs = insert_runs(tx, tenant_id, &run_rows).await?;
    for (run, records) in runs {
        if new_runs.contains(&run.id.to_string()) {
            history.extend(
                records
                    .iter()
                    .enumerate()
                    .map(|(i, r)| (tenant_id, run, i, r)),
            );
        }
    }
    Ok(batch.iter().map(stored).collect())
}

/// Ids (the first column) of the rows a statement answered.
pub(super) async fn returned_ids(
    tx: &mut Tx,
    query: sqlx::query::Query<'_, sqlx::Any, sqlx::any::AnyArguments>,
) -> Result<HashSet<String>, StoreError> {
    let rows = query.fetch_all(&mut **tx).await.map_err(unavailable)?;
    rows.iter()
        .map(|row| row.try_get::<String, _>(0).map_err(unavailable))
        .collect()
}

/// Inserts the events, processed, unless `(source, external_id)` was seen; answers the ids
/// of those inserted.
async fn insert_events(
    tx: &mut Tx,
    tenant_id: &str,
    batch: &[FirstEvent<'_>],
) -> Result<HashSet<String>, StoreError> {
    let sql = format!(
        "INSERT INTO events (tenant_id, id, source, external_id, event_type, contact_id, doc, \
         received_at, processed) VALUES {} \
         ON CONFLICT (tenant_id, source, external_id) DO NOTHING RETURNING id",
        placeholders(batch.len(), 9)
    );
    // The statement text holds only numbered placeholders; every value is bound.
    let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
    for f in batch {
        let stored = f.event;
        let doc = serde_json::to_string(&stored.event).map_err(|e| corrupt("event", e))?;
        query = query
            .bind(tenant_id.to_owned())
            .bind(stored.id.clone())
            .bind(stored.event.source.clone())
            .bind(stored.external_id().to_owned())
            .bind(stored.event.event_type.clone())
            .bind(stored.contact_id.clone())
            .bind(doc)
            .bind(micros(stored.received_at))
            .bind(true);
    }
    returned_ids(tx, query).await
}

/// Inserts each contact unless a stored one (or one earlier in the batch) has its id or
/// phone, or a stored one its email; answers the ids of those inserted.
async fn insert_contacts(
    tx: &mut Tx,
    tenant_id: &str,
    batch: &[&FirstEvent<'_>],
) -> Result<HashSet<String>, StoreError> {
    if batch.is_empty() {
        return Ok(HashSet::new());
    }
    // SQLite reads `ON CONFLICT` after `INSERT … SELECT` only when the SELECT has a WHERE.
    let sql = format!(
        "WITH v (tenant_id, id, phone, email, doc, updated_at) AS (VALUES {}) \
         INSERT INTO contacts (tenant_id, id, phone, email, doc, updated_at) \
         SELECT tenant_id, id, phone, email, doc, updated_at FROM v \
         WHERE NOT EXISTS (SELECT 1 FROM contacts c WHERE c.tenant_id = v.tenant_id AND c.email = v.email) \
         ON CONFLICT DO NOTHING RETURNING id",
        placeholders(batch.len(), 6)
    );
    let now = micros(jiff::Timestamp::now());
    let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
    for f in batch {
        let doc = serde_json::to_string(f.contact).map_err(|e| corrupt("contact", e))?;
        query = query
            .bind(tenant_id.to_owned())
            .bind(f.contact.id.clone())
            .bind(f.contact.phone.clone())
            .bind(f.contact.email.clone())
            .bind(doc)
            .bind(now);
    }
    returned_ids(tx, query).await
}

async fn delete_events(tx: &mut Tx, tenant_id: &str, ids: &[&str]) -> Result<(), StoreError> {
    if ids.is_empty() {
        return Ok(());
    }
    let list: Vec<String> = (2..ids.len() + 2).map(|n| format!("${n}")).collect();
    let sql = format!(
        "DELETE FROM events WHERE tenant_id = $1 AND id IN ({})",
        list.join(", ")
    );
    let mut query = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(tenant_id.to_owned());
    for id in ids {
        query = query.bind((*id).to_owned());
    }
    query.execute(&mut **tx).await.map_err(unavailable)?;
    Ok(())
}
