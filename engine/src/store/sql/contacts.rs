//! Tenants and contacts in the SQL store.

use jiff::Timestamp;
use sqlx::Row;

use super::{Scope, SqlStore, corrupt, micros, unavailable};
use crate::model::{Contact, Tenant};
use crate::ports::StoreError;

pub(super) async fn put_tenant(store: &SqlStore, tenant: &Tenant) -> Result<(), StoreError> {
    let doc = serde_json::to_string(tenant).map_err(|e| corrupt("tenant", e))?;
    store
        .execute(
            Scope::Tenant(&tenant.id),
            sqlx::query(
                "INSERT INTO tenants (id, doc, created_at) VALUES ($1, $2, $3) \
         ON CONFLICT (id) DO UPDATE SET doc = excluded.doc",
            )
            .bind(&tenant.id)
            .bind(doc)
            .bind(micros(Timestamp::now())),
        )
        .await?;
    Ok(())
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
    tx: &mut sqlx::Transaction<'static, sqlx::Any>,
    tenant_id: &str,
    contact: &Contact,
) -> Result<(), StoreError> {
    let doc = serde_json::to_string(contact).map_err(|e| corrupt("contact", e))?;
    sqlx::query(
        "INSERT INTO contacts (tenant_id, id, phone, email, doc, updated_at) VALUES ($1, $2, $3, $4, $5, $6) \
         ON CONFLICT (tenant_id, id) DO UPDATE SET phone = excluded.phone, email = excluded.email, \
         doc = excluded.doc, updated_at = excluded.updated_at",
    )
    .bind(tenant_id)
    .bind(&contact.id)
    .bind(contact.phone.clone())
    .bind(contact.email.clone())
    .bind(doc)
    .bind(micros(Timestamp::now()))
    .execute(&mut **tx)
    .await
    .map_err(unavailable)?;
    Ok(())
}

pub(super) async fn contact(
    store: &SqlStore,
    tenant_id: &str,
    contact_id: &str,
) -> Result<Contact, StoreError> {
    let row = store
        .fetch_optional(
            Scope::Tenant(tenant_id),
            sqlx::query("SELECT doc FROM contacts WHERE tenant_id = $1 AND id = $2")
                .bind(tenant_id)
                .bind(contact_id),
        )
        .await?
        .ok_or_else(|| StoreError::NotFound {
            what: format!("contact {contact_id}"),
        })?;
    let doc: String = row.try_get("doc").map_err(unavailable)?;
    serde_json::from_str(&doc).map_err(|e| corrupt("contact", e))
}
