//! Tenants and contacts in the SQL store. Contacts are read with the suppression list: a
//! suppressed phone or email reads as opted out.

use jiff::Timestamp;
use sqlx::Row;
use sqlx::any::AnyRow;

use super::{Backend, Scope, SqlStore, Tx, corrupt, micros, unavailable};
use crate::model::{Contact, ContactChange, Tenant};
use crate::ports::{AuditEntry, StoreError, Suppression, TenantChange, opted_out_addresses};

pub(super) async fn put_tenant(store: &SqlStore, tenant: &Tenant) -> Result<(), StoreError> {
    let doc = serde_json::to_string(tenant).map_err(|e| corrupt("tenant", e))?;
    store
        .execute(
            Scope::Tenant(&tenant.id),
            sqlx::query(
                "INSERT INTO tenants (id, doc, created_at, hook_token) VALUES ($1, $2, $3, $4) \
         ON CONFLICT (id) DO UPDATE SET doc = excluded.doc, hook_token = excluded.hook_token",
            )
            .bind(&tenant.id)
            .bind(doc)
            .bind(micros(Timestamp::now()))
            .bind(super::edge::hook_token_column(tenant)),
        )
        .await?;
    Ok(())
}

pub(super) async fn update_tenant(
    store: &SqlStore,
    tenant_id: &str,
    change: &TenantChange<'_>,
    audit: &AuditEntry,
) -> Result<Option<Tenant>, StoreError> {
    let mut tx = store.begin_for_write(Scope::Tenant(tenant_id)).await?;
    let lock = if store.backend == Backend::Postgres {
        " FOR UPDATE"
    } else {
        ""
    };
    let sql = format!("SELECT doc FROM tenants WHERE id = $1{lock}");
    let row = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(tenant_id)
        .fetch_optional(&mut *tx)
        .await
        .map_err(unavailable)?
        .ok_or_else(|| StoreError::NotFound {
            what: format!("tenant {tenant_id}"),
        })?;
    let doc: String = row.try_get("doc").map_err(unavailable)?;
    let current: Tenant = serde_json::from_str(&doc).map_err(|e| corrupt("tenant", e))?;
    // Dropping the transaction unwritten rolls it back.
    let Some(changed) = change(current) else {
        return Ok(None);
    };
    let doc = serde_json::to_string(&changed).map_err(|e| corrupt("tenant", e))?;
    sqlx::query("UPDATE tenants SET doc = $1, hook_token = $2 WHERE id = $3")
        .bind(doc)
        .bind(super::edge::hook_token_column(&changed))
        .bind(tenant_id)
        .execute(&mut *tx)
        .await
        .map_err(unavailable)?;
    super::access::insert_audit(&mut tx, tenant_id, audit).await?;
    tx.commit().await.map_err(unavailable)?;
    Ok(Some(changed))
}

pub(super) async fn tenant(store: &SqlStore, tenant_id: &str) -> Result<Tenant, StoreError> {
    let row = store
        .fetch_optional(
            Scope::Tenant(tenant_id),
            sqlx::query("SELECT doc FROM tenants WHERE id = $1").bind(tenant_id),
        )
        .await?
        .ok_or_else(|| StoreError::NotFound {
            what: format!("tenant {tenant_id}"),
        })?;
    let doc: String = row.try_get("doc").map_err(unavailable)?;
    serde_json::from_str(&doc).map_err(|e| corrupt("tenant", e))
}

/// Upserts a contact inside a transaction (also used by run transitions).
pub(super) async fn write_contact(
    tx: &mut Tx,
    tenant_id: &str,
    contact: &Contact,
) -> Result<(), StoreError> {
    insert_contact(
        tx,
        tenant_id,
        contact,
        "ON CONFLICT (tenant_id, id) DO UPDATE SET phone = excluded.phone, email = excluded.email, \
         doc = excluded.doc, updated_at = excluded.updated_at",
    )
    .await
    .map_err(|e| phone_taken(e, contact))?;
    record_opt_outs(tx, tenant_id, contact).await
}

/// `INSERT INTO contacts … <on_conflict>` of `contact`; answers the rows it wrote.
async fn insert_contact(
    tx: &mut Tx,
    tenant_id: &str,
    contact: &Contact,
    on_conflict: &'static str,
) -> Result<u64, sqlx::Error> {
    let doc = serde_json::to_string(contact).map_err(|e| sqlx::Error::Encode(Box::new(e)))?;
    let sql = format!(
        "INSERT INTO contacts (tenant_id, id, phone, email, doc, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6) {on_conflict}"
    );
    Ok(sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(tenant_id)
        .bind(&contact.id)
        .bind(contact.phone.clone())
        .bind(contact.email.clone())
        .bind(doc)
        .bind(micros(Timestamp::now()))
        .execute(&mut **tx)
        .await?
        .rows_affected())
}

pub(super) async fn create_contact(
    store: &SqlStore,
    tenant_id: &str,
    contact: &Contact,
) -> Result<(), StoreError> {
    let mut tx = store.begin(Scope::Tenant(tenant_id)).await?;
    // No conflict target: a taken id and a taken phone both store nothing.
    let inserted = insert_contact(&mut tx, tenant_id, contact, "ON CONFLICT DO NOTHING")
        .await
        .map_err(unavailable)?;
    if inserted == 0 {
        let id_taken = sqlx::query("SELECT 1 FROM contacts WHERE tenant_id = $1 AND id = $2")
            .bind(tenant_id)
            .bind(&contact.id)
            .fetch_optional(&mut *tx)
            .await
            .map_err(unavailable)?
            .is_some();
        return Err(if id_taken {
            StoreError::Exists {
                what: format!("contact {}", contact.id),
            }
        } else {
            taken_phone(contact)
        });
    }
    record_opt_outs(&mut tx, tenant_id, contact).await?;
    tx.commit().await.map_err(unavailable)
}

/// Puts the contact's opt-outs on the suppression list, unless they are there already.
pub(super) async fn record_opt_outs(
    tx: &mut Tx,
    tenant_id: &str,
    contact: &Contact,
) -> Result<(), StoreError> {
    for (channel, address) in opted_out_addresses(contact) {
        sqlx::query(
            "INSERT INTO suppressions (tenant_id, channel, address, reason, contact_id, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING",
        )
        .bind(tenant_id)
        .bind(channel.as_str())
        .bind(address)
        .bind(Suppression::OPT_OUT)
        .bind(&contact.id)
        .bind(micros(Timestamp::now()))
        .execute(&mut **tx)
        .await
        .map_err(unavailable)?;
    }
    Ok(())
}

/// What a contact is read from, for a query over `contacts` (unaliased): its document and how
/// many suppressions name its phone and its email.
pub(super) const CONTACT_COLUMNS: &str = "contacts.doc, \
    (SELECT COUNT(*) FROM suppressions s WHERE s.tenant_id = contacts.tenant_id \
     AND s.channel = 'sms' AND s.address = contacts.phone) AS sms_suppressed, \
    (SELECT COUNT(*) FROM suppressions s WHERE s.tenant_id = contacts.tenant_id \
     AND s.channel = 'email' AND s.address = contacts.email) AS email_suppressed";

/// The condition that reads one contact, bound to the tenant and the id.
const BY_ID: &str = "WHERE tenant_id = $1 AND id = $2";

/// The contact in a row of [`CONTACT_COLUMNS`]: opted out where its address is suppressed.
pub(super) fn contact_of(row: &AnyRow) -> Result<Contact, StoreError> {
    let doc: String = row.try_get("doc").map_err(unavailable)?;
    let contact: Contact = serde_json::from_str(&doc).map_err(|e| corrupt("contact", e))?;
    with_suppressed(row, contact)
}

/// `contact` opted out where the row's `sms_suppressed` / `email_suppressed` counts say its
/// address is on the suppression list.
pub(super) fn with_suppressed(row: &AnyRow, mut contact: Contact) -> Result<Contact, StoreError> {
    let sms: i64 = row.try_get("sms_suppressed").map_err(unavailable)?;
    let email: i64 = row.try_get("email_suppressed").map_err(unavailable)?;
    contact.sms_opt_out |= sms > 0;
    contact.email_opt_out |= email > 0;
    Ok(contact)
}

/// Applies `change` to the contact's latest version inside `tx`, and answers it; a contact
/// deleted meanwhile stays deleted (`None`).
pub(super) async fn change_contact_in(
    tx: &mut Tx,
    tenant_id: &str,
    contact_id: &str,
    change: &ContactChange,
) -> Result<Option<Contact>, StoreError> {
    // An UPDATE that changes nothing locks the row until the commit (PostgreSQL) or takes
    // the write lock (SQLite, which has no FOR UPDATE), and reads it: one statement for both.
    let row = sqlx::query(
        "UPDATE contacts SET updated_at = updated_at WHERE tenant_id = $1 AND id = $2 RETURNING doc",
    )
    .bind(tenant_id)
    .bind(contact_id)
    .fetch_optional(&mut **tx)
    .await
    .map_err(unavailable)?;
    let Some(row) = row else {
        return Ok(None);
    };
    let doc: String = row.try_get("doc").map_err(unavailable)?;
    let stored: Contact = serde_json::from_str(&doc).map_err(|e| corrupt("contact", e))?;
    let changed = change.apply_to(&stored);
    write_contact(tx, tenant_id, &changed).await?;
    Ok(Some(changed))
}

pub(super) async fn change_contact(
    store: &SqlStore,
    tenant_id: &str,
    contact_id: &str,
    change: &ContactChange,
) -> Result<Contact, StoreError> {
    let mut tx = store.begin(Scope::Tenant(tenant_id)).await?;
    change_contact_in(&mut tx, tenant_id, contact_id, change)
        .await?
        .ok_or_else(|| StoreError::NotFound {
            what: format!("contact {contact_id}"),
        })?;
    // Read back as every read answers it: a new phone may be a suppressed one.
    let sql = format!("SELECT {CONTACT_COLUMNS} FROM contacts {BY_ID}");
    let row = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(tenant_id)
        .bind(contact_id)
        .fetch_one(&mut *tx)
        .await
        .map_err(unavailable)?;
    tx.commit().await.map_err(unavailable)?;
    contact_of(&row)
}

/// A contact write that broke the one-contact-per-phone rule answers `Exists`.
fn phone_taken(e: sqlx::Error, contact: &Contact) -> StoreError {
    match e.as_database_error() {
        Some(db) if db.is_unique_violation() => taken_phone(contact),
        _ => unavailable(e),
    }
}

fn taken_phone(contact: &Contact) -> StoreError {
    StoreError::Exists {
        what: format!(
            "a contact with phone {}",
            contact.phone.as_deref().unwrap_or_default()
        ),
    }
}

pub(super) async fn contact(
    store: &SqlStore,
    tenant_id: &str,
    contact_id: &str,
) -> Result<Contact, StoreError> {
    let sql = format!("SELECT {CONTACT_COLUMNS} FROM contacts {BY_ID}");
    let row = store
        .fetch_optional(
            Scope::Tenant(tenant_id),
            sqlx::query(sqlx::AssertSqlSafe(sql))
                .bind(tenant_id)
                .bind(contact_id),
        )
        .await?
        .ok_or_else(|| StoreError::NotFound {
            what: format!("contact {contact_id}"),
        })?;
    contact_of(&row)
}
