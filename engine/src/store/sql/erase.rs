//! A person's data, for an export and for a real erase. The erase scrubs, in one transaction
//! with its audit entry: the data of the contact's events and of its runs' triggers, outputs
//! and variables (the rendered texts and addresses they hold), its runs' timelines, and the
//! address and text of every message sent to it, its tracked links, the import-report rows that
//! repeat its phone or email, and its campaign and pool-number records; then it deletes the
//! contact. The suppression entries stay: they exist to protect the person.

use sqlx::Row;

use super::scope::AnyQuery;
use super::{Scope, SqlStore, Tx, corrupt, time_column, unavailable};
use crate::model::{Event, Run};
use crate::ports::{AuditEntry, StoreError, StoredEvent};

/// What an erase changed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Erased {
    pub events: u64,
    pub runs: u64,
    pub messages: u64,
    pub timeline_entries: u64,
    /// Tracked links made for the person (their URLs may name them).
    pub links: u64,
    /// Rows of import reports that repeat the person's phone or email.
    pub import_report_rows: u64,
}

/// What a message sent to an erased person reads as.
pub const ERASED: &str = "[erased]";

/// The contact's events, oldest first (at most `limit`).
pub(super) async fn contact_events(
    store: &SqlStore,
    tenant_id: &str,
    contact_id: &str,
    limit: u32,
) -> Result<Vec<StoredEvent>, StoreError> {
    let rows = store
        .fetch_all(
            Scope::Tenant(tenant_id),
            sqlx::query(
                "SELECT id, doc, received_at FROM events WHERE tenant_id = $1 AND contact_id = $2 \
                 ORDER BY received_at, id LIMIT $3",
            )
            .bind(tenant_id)
            .bind(contact_id)
            .bind(i64::from(limit)),
        )
        .await?;
    rows.iter()
        .map(|row| {
            let doc: String = row.try_get("doc").map_err(unavailable)?;
            Ok(StoredEvent {
                id: row.try_get("id").map_err(unavailable)?,
                event: serde_json::from_str(&doc).map_err(|e| corrupt("event", e))?,
                contact_id: Some(contact_id.to_owned()),
                received_at: time_column(row, "received_at")?,
            })
        })
        .collect()
}

/// Scrubs the contact's data everywhere and deletes it, with `audit`, in one transaction.
pub(super) async fn erase_contact(
    store: &SqlStore,
    tenant_id: &str,
    contact_id: &str,
    audit: &AuditEntry,
) -> Result<Erased, StoreError> {
    let mut tx = store.begin(Scope::Tenant(tenant_id)).await?;
    let exists = sqlx::query("SELECT id FROM contacts WHERE tenant_id = $1 AND id = $2")
        .bind(tenant_id)
        .bind(contact_id)
        .fetch_optional(&mut *tx)
        .await
        .map_err(unavailable)?;
    if exists.is_none() {
        return Err(StoreError::NotFound {
            what: format!("contact {contact_id}"),
        });
    }
    let mut erased = Erased::default();
    let events = sqlx::query("SELECT id, doc FROM events WHERE tenant_id = $1 AND contact_id = $2")
        .bind(tenant_id)
        .bind(contact_id)
        .fetch_all(&mut *tx)
        .await
        .map_err(unavailable)?;
    for row in events {
        let id: String = row.try_get("id").map_err(unavailable)?;
        let doc: String = row.try_get("doc").map_err(unavailable)?;
        let mut event: Event = serde_json::from_str(&doc).map_err(|e| corrupt("event", e))?;
        event.data = serde_json::json!({});
        let doc = serde_json::to_string(&event).map_err(|e| corrupt("event", e))?;
        erased.events += changed(
            &mut tx,
            sqlx::query("UPDATE events SET doc = $1 WHERE tenant_id = $2 AND id = $3")
                .bind(doc)
                .bind(tenant_id)
                .bind(id),
        )
        .await?;
    }
    let runs = sqlx::query("SELECT id, state FROM runs WHERE tenant_id = $1 AND contact_id = $2")
        .bind(tenant_id)
        .bind(contact_id)
        .fetch_all(&mut *tx)
        .await
        .map_err(unavailable)?;
    for row in runs {
        let id: String = row.try_get("id").map_err(unavailable)?;
        let state: String = row.try_get("state").map_err(unavailable)?;
        let mut run: Run = serde_json::from_str(&state).map_err(|e| corrupt("run", e))?;
        run.trigger.data = serde_json::json!({});
        run.outputs.clear();
        run.vars.clear();
        let state = serde_json::to_string(&run).map_err(|e| corrupt("run", e))?;
        erased.runs += changed(
            &mut tx,
            sqlx::query("UPDATE runs SET state = $1 WHERE tenant_id = $2 AND id = $3")
                .bind(state)
                .bind(tenant_id)
                .bind(&id),
        )
        .await?;
        erased.timeline_entries += changed(
            &mut tx,
            sqlx::query("DELETE FROM run_steps WHERE tenant_id = $1 AND run_id = $2")
                .bind(tenant_id)
                .bind(&id),
        )
        .await?;
        erased.messages += changed(
            &mut tx,
            sqlx::query(
                "UPDATE messages SET to_address = $1, body = $1 WHERE tenant_id = $2 AND run_id = $3",
            )
            .bind(ERASED)
            .bind(tenant_id)
            .bind(&id),
        )
        .await?;
    }
    erased.links += changed(
        &mut tx,
        sqlx::query("DELETE FROM links WHERE tenant_id = $1 AND contact_id = $2")
            .bind(tenant_id)
            .bind(contact_id),
    )
    .await?;
    let addresses =
        sqlx::query("SELECT phone, email FROM contacts WHERE tenant_id = $1 AND id = $2")
            .bind(tenant_id)
            .bind(contact_id)
            .fetch_optional(&mut *tx)
            .await
            .map_err(unavailable)?;
    if let Some(row) = addresses {
        for column in ["phone", "email"] {
            let address: Option<String> = row.try_get(column).map_err(unavailable)?;
            let Some(address) = address else { continue };
            erased.import_report_rows += changed(
                &mut tx,
                sqlx::query("DELETE FROM import_report WHERE tenant_id = $1 AND value = $2")
                    .bind(tenant_id)
                    .bind(address),
            )
            .await?;
        }
    }
    // The inbox's live stream carried its messages' text.
    for channel in [crate::ports::Channel::Sms, crate::ports::Channel::Email] {
        let conversation = crate::ports::conversation_id(contact_id, channel);
        changed(
            &mut tx,
            sqlx::query("DELETE FROM inbox_changes WHERE tenant_id = $1 AND conversation_id = $2")
                .bind(tenant_id)
                .bind(conversation),
        )
        .await?;
    }
    // The campaigns it was in and the pool number it heard from name it too.
    for sql in [
        "DELETE FROM campaign_runs WHERE tenant_id = $1 AND contact_id = $2",
        "DELETE FROM sender_assignments WHERE tenant_id = $1 AND contact_id = $2",
        "DELETE FROM conversations WHERE tenant_id = $1 AND contact_id = $2",
        "DELETE FROM contacts WHERE tenant_id = $1 AND id = $2",
    ] {
        changed(&mut tx, sqlx::query(sql).bind(tenant_id).bind(contact_id)).await?;
    }
    let mut audit = audit.clone();
    audit.details = serde_json::to_value(erased).unwrap_or_default();
    super::access::insert_audit(&mut tx, tenant_id, &audit).await?;
    tx.commit().await.map_err(unavailable)?;
    Ok(erased)
}

/// Runs one statement of the erase; answers the rows it changed.
async fn changed(tx: &mut Tx, query: AnyQuery<'_>) -> Result<u64, StoreError> {
    Ok(query
        .execute(&mut **tx)
        .await
        .map_err(unavailable)?
        .rows_affected())
}
