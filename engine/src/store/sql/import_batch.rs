//! An import's batch in the SQL store: the stored contacts with the batch's phones and
//! emails (locked), each row decided by the identity rule, the new and changed contacts and
//! the report rows written, all with the import's progress in one transaction, and only if
//! the progress is still the one the worker read.

use std::collections::HashMap;

use jiff::Timestamp;
use sqlx::Row;

use super::first_events::placeholders;
use super::imports::is_unique_violation;
use super::{Backend, Scope, SqlStore, Tx, micros, unavailable};
use crate::audience::import::resolve::{Decision, decide};
use crate::audience::import::{Import, ReportRow};
use crate::model::Contact;
use crate::ports::{ImportBatch, StoreError};

/// Contacts (or report rows) per multi-row INSERT.
const ROWS_PER_INSERT: usize = 100;
/// Attempts at a batch that meets a contact created at the same moment by someone else.
const ATTEMPTS: usize = 3;

pub(super) async fn commit_batch(
    store: &SqlStore,
    tenant_id: &str,
    batch: ImportBatch<'_>,
    lease_until: Timestamp,
) -> Result<Option<Import>, StoreError> {
    for _ in 0..ATTEMPTS {
        let mut tx = store.begin_for_write(Scope::Tenant(tenant_id)).await?;
        match try_batch(store.backend, &mut tx, tenant_id, &batch, lease_until).await {
            Ok(None) => return Ok(None),
            Ok(Some(import)) => {
                tx.commit().await.map_err(unavailable)?;
                return Ok(Some(import));
            }
            // A contact with one of the batch's phones was created meanwhile: look again.
            Err(e) if is_unique_violation(&e) => continue,
            Err(e) => return Err(unavailable(e)),
        }
    }
    Err(StoreError::Unavailable(
        "an import batch kept meeting contacts created at the same moment".into(),
    ))
}

/// The batch inside `tx`; `None` when the import moved on without us.
async fn try_batch(
    backend: Backend,
    tx: &mut Tx,
    tenant_id: &str,
    batch: &ImportBatch<'_>,
    lease_until: Timestamp,
) -> Result<Option<Import>, sqlx::Error> {
    let stored = stored_contacts(backend, tx, tenant_id, &batch.contacts).await?;
    let by_phone: HashMap<&str, &Contact> = stored
        .iter()
        .filter_map(|c| c.phone.as_deref().map(|p| (p, c)))
        .collect();
    let mut by_email: HashMap<&str, &Contact> = HashMap::new();
    for c in &stored {
        if let Some(email) = c.email.as_deref() {
            by_email.entry(email).or_insert(c);
        }
    }
    let mut import = batch.import.clone();
    let (mut created, mut updated) = (Vec::new(), Vec::new());
    for (_, row) in &batch.contacts {
        let phone = row.phone.as_deref().and_then(|p| by_phone.get(p).copied());
        let email = row.email.as_deref().and_then(|e| by_email.get(e).copied());
        let decision = decide(row.clone(), phone, email, batch.existing);
        decision.count(&mut import.counts);
        match decision {
            Decision::Create(c) => created.push(c),
            Decision::Update(c) => updated.push(c),
            Decision::Skip => {}
        }
    }
    let moved = sqlx::query(
        "UPDATE imports SET doc = $1, next_row = $2, lease_until = $3, status = 'running' \
         WHERE tenant_id = $4 AND id = $5 AND next_row = $6 AND status = 'running'",
    )
    .bind(serde_json::to_string(&import).map_err(|e| sqlx::Error::Encode(Box::new(e)))?)
    .bind(batch.rows_after as i64)
    .bind(micros(lease_until))
    .bind(tenant_id)
    .bind(&import.id)
    .bind(batch.expected_rows as i64)
    .execute(&mut **tx)
    .await?;
    if moved.rows_affected() == 0 {
        return Ok(None);
    }
    insert_contacts(tx, tenant_id, &created).await?;
    for c in &updated {
        let doc = serde_json::to_string(c).map_err(|e| sqlx::Error::Encode(Box::new(e)))?;
        sqlx::query(
            "UPDATE contacts SET phone = $1, email = $2, doc = $3, updated_at = $4 WHERE tenant_id = $5 AND id = $6",
        )
        .bind(c.phone.clone())
        .bind(c.email.clone())
        .bind(doc)
        .bind(micros(Timestamp::now()))
        .bind(tenant_id)
        .bind(&c.id)
        .execute(&mut **tx)
        .await?;
    }
    for c in created
        .iter()
        .chain(&updated)
        .filter(|c| c.sms_opt_out || c.email_opt_out)
    {
        super::contacts::record_opt_outs(tx, tenant_id, c)
            .await
            .map_err(|e| sqlx::Error::Protocol(e.to_string()))?;
    }
    insert_report(tx, tenant_id, &import.id, batch.report).await?;
    Ok(Some(import))
}

/// The stored contacts with the batch's phones or emails, locked until the commit.
async fn stored_contacts(
    backend: Backend,
    tx: &mut Tx,
    tenant_id: &str,
    rows: &[(u64, Contact)],
) -> Result<Vec<Contact>, sqlx::Error> {
    let phones: Vec<&str> = rows
        .iter()
        .filter_map(|(_, c)| c.phone.as_deref())
        .collect();
    let emails: Vec<&str> = rows
        .iter()
        .filter_map(|(_, c)| c.email.as_deref())
        .collect();
    let mut found = Vec::new();
    for (column, values) in [("phone", phones), ("email", emails)] {
        for part in values.chunks(500) {
            let list: Vec<String> = (0..part.len()).map(|i| format!("${}", i + 2)).collect();
            // PostgreSQL locks the rows in id order (two batches never wait on each other in
            // a circle). SQLite has one writer and no row locks, and an `ORDER BY id` there
            // makes it walk every contact of the tenant by id instead of the index.
            let lock = if backend == Backend::Postgres {
                " ORDER BY id FOR UPDATE"
            } else {
                ""
            };
            let sql = format!(
                "SELECT doc FROM contacts WHERE tenant_id = $1 AND {column} IN ({}){lock}",
                list.join(", ")
            );
            let mut query = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(tenant_id);
            for v in part {
                query = query.bind(*v);
            }
            for row in query.fetch_all(&mut **tx).await? {
                let doc: String = row.try_get("doc")?;
                let contact: Contact =
                    serde_json::from_str(&doc).map_err(|e| sqlx::Error::Decode(Box::new(e)))?;
                found.push(contact);
            }
        }
    }
    Ok(found)
}

async fn insert_contacts(
    tx: &mut Tx,
    tenant_id: &str,
    contacts: &[Contact],
) -> Result<(), sqlx::Error> {
    let now = micros(Timestamp::now());
    for part in contacts.chunks(ROWS_PER_INSERT) {
        let sql = format!(
            "INSERT INTO contacts (tenant_id, id, phone, email, doc, updated_at) VALUES {}",
            placeholders(part.len(), 6)
        );
        let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
        for c in part {
            let doc = serde_json::to_string(c).map_err(|e| sqlx::Error::Encode(Box::new(e)))?;
            query = query
                .bind(tenant_id)
                .bind(&c.id)
                .bind(c.phone.clone())
                .bind(c.email.clone())
                .bind(doc)
                .bind(now);
        }
        query.execute(&mut **tx).await?;
    }
    Ok(())
}

async fn insert_report(
    tx: &mut Tx,
    tenant_id: &str,
    import_id: &str,
    report: &[ReportRow],
) -> Result<(), sqlx::Error> {
    for part in report.chunks(ROWS_PER_INSERT) {
        let sql = format!(
            "INSERT INTO import_report (tenant_id, import_id, line, col, value, reason, result) VALUES {} \
             ON CONFLICT DO NOTHING",
            placeholders(part.len(), 7)
        );
        let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
        for r in part {
            query = query
                .bind(tenant_id)
                .bind(import_id)
                .bind(r.line as i64)
                .bind(&r.column)
                .bind(&r.value)
                .bind(&r.reason)
                .bind(&r.result);
        }
        query.execute(&mut **tx).await?;
    }
    Ok(())
}
