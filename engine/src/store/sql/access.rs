//! Access control in the SQL store: tenants created by the operator, API keys (digests
//! only), the append-only audit log and sealed credentials.

use jiff::Timestamp;
use sqlx::Row;
use sqlx::any::AnyRow;

use super::{Scope, SqlStore, Tx, changed_or_not_found, corrupt, micros, time_column, unavailable};
use crate::model::Tenant;
use crate::ports::{ApiKey, AuditEntry, Role, SecretInfo, StoreError};

const KEY_COLUMNS: &str =
    "tenant_id, id, name, role, prefix, created_at, last_used_at, revoked_at, member_id";

fn optional_time(row: &AnyRow, column: &str) -> Result<Option<Timestamp>, StoreError> {
    let us: Option<i64> = row.try_get(column).map_err(unavailable)?;
    Ok(us.and_then(|us| Timestamp::from_microsecond(us).ok()))
}

fn key_from_row(row: &AnyRow) -> Result<ApiKey, StoreError> {
    let role: String = row.try_get("role").map_err(unavailable)?;
    Ok(ApiKey {
        tenant_id: row.try_get("tenant_id").map_err(unavailable)?,
        id: row.try_get("id").map_err(unavailable)?,
        name: row.try_get("name").map_err(unavailable)?,
        role: Role::parse(&role)
            .ok_or_else(|| StoreError::Unavailable(format!("stored role {role:?} is unknown")))?,
        prefix: row.try_get("prefix").map_err(unavailable)?,
        created_at: time_column(row, "created_at")?,
        last_used_at: optional_time(row, "last_used_at")?,
        revoked_at: optional_time(row, "revoked_at")?,
        member_id: row.try_get("member_id").map_err(unavailable)?,
    })
}

pub(super) async fn insert_key(tx: &mut Tx, key: &ApiKey, digest: &str) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO api_keys (tenant_id, id, name, role, prefix, digest, created_at, member_id) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(&key.tenant_id)
    .bind(&key.id)
    .bind(&key.name)
    .bind(key.role.as_str())
    .bind(&key.prefix)
    .bind(digest)
    .bind(micros(key.created_at))
    .bind(key.member_id.clone())
    .execute(&mut **tx)
    .await
    .map_err(unavailable)?;
    Ok(())
}

pub(super) async fn create_tenant(
    store: &SqlStore,
    tenant: &Tenant,
    key: &ApiKey,
    digest: &str,
    audit: &AuditEntry,
) -> Result<(), StoreError> {
    let doc = serde_json::to_string(tenant).map_err(|e| corrupt("tenant", e))?;
    let mut tx = store.begin(Scope::Tenant(&tenant.id)).await?;
    let inserted = sqlx::query(
        "INSERT INTO tenants (id, doc, created_at, hook_token) VALUES ($1, $2, $3, $4) \
         ON CONFLICT (id) DO NOTHING",
    )
    .bind(&tenant.id)
    .bind(doc)
    .bind(micros(Timestamp::now()))
    .bind(super::edge::hook_token_column(tenant))
    .execute(&mut *tx)
    .await
    .map_err(unavailable)?
    .rows_affected();
    if inserted == 0 {
        return Err(StoreError::Exists {
            what: format!("tenant {}", tenant.id),
        });
    }
    insert_key(&mut tx, key, digest).await?;
    insert_audit(&mut tx, &key.tenant_id, audit).await?;
    tx.commit().await.map_err(unavailable)
}

pub(super) async fn tenants(
    store: &SqlStore,
    after: Option<&str>,
    limit: u32,
) -> Result<Vec<Tenant>, StoreError> {
    let rows = store
        .fetch_all(
            Scope::System,
            sqlx::query("SELECT doc FROM tenants WHERE id > $1 ORDER BY id LIMIT $2")
                .bind(after.unwrap_or(""))
                .bind(i64::from(limit)),
        )
        .await?;
    rows.iter()
        .map(|row| {
            let doc: String = row.try_get("doc").map_err(unavailable)?;
            serde_json::from_str(&doc).map_err(|e| corrupt("tenant", e))
        })
        .collect()
}

pub(super) async fn create_key(
    store: &SqlStore,
    key: &ApiKey,
    digest: &str,
    audit: &AuditEntry,
) -> Result<(), StoreError> {
    let mut tx = store.begin(Scope::Tenant(&key.tenant_id)).await?;
    insert_key(&mut tx, key, digest).await?;
    insert_audit(&mut tx, &key.tenant_id, audit).await?;
    tx.commit().await.map_err(unavailable)
}

pub(super) async fn key_by_digest(
    store: &SqlStore,
    digest: &str,
) -> Result<Option<ApiKey>, StoreError> {
    let sql = format!("SELECT {KEY_COLUMNS} FROM api_keys WHERE digest = $1");
    store
        .fetch_optional(
            Scope::System,
            sqlx::query(sqlx::AssertSqlSafe(sql)).bind(digest),
        )
        .await?
        .as_ref()
        .map(key_from_row)
        .transpose()
}

pub(super) async fn keys(
    store: &SqlStore,
    tenant_id: &str,
    after: Option<&str>,
    limit: u32,
) -> Result<Vec<ApiKey>, StoreError> {
    let sql = format!(
        "SELECT {KEY_COLUMNS} FROM api_keys WHERE tenant_id = $1 AND id > $2 ORDER BY id LIMIT $3"
    );
    let rows = store
        .fetch_all(
            Scope::Tenant(tenant_id),
            sqlx::query(sqlx::AssertSqlSafe(sql))
                .bind(tenant_id)
                .bind(after.unwrap_or(""))
                .bind(i64::from(limit)),
        )
        .await?;
    rows.iter().map(key_from_row).collect()
}

pub(super) async fn revoke_key(
    store: &SqlStore,
    tenant_id: &str,
    key_id: &str,
    at: Timestamp,
    audit: &AuditEntry,
) -> Result<ApiKey, StoreError> {
    let mut tx = store.begin(Scope::Tenant(tenant_id)).await?;
    sqlx::query(
        "UPDATE api_keys SET revoked_at = $1 WHERE tenant_id = $2 AND id = $3 AND revoked_at IS NULL",
    )
    .bind(micros(at))
    .bind(tenant_id)
    .bind(key_id)
    .execute(&mut *tx)
    .await
    .map_err(unavailable)?;
    let sql = format!("SELECT {KEY_COLUMNS} FROM api_keys WHERE tenant_id = $1 AND id = $2");
    let key = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(tenant_id)
        .bind(key_id)
        .fetch_optional(&mut *tx)
        .await
        .map_err(unavailable)?
        .as_ref()
        .map(key_from_row)
        .transpose()?
        .ok_or_else(|| StoreError::NotFound {
            what: format!("key {key_id}"),
        })?;
    insert_audit(&mut tx, tenant_id, audit).await?;
    tx.commit().await.map_err(unavailable)?;
    Ok(key)
}

pub(super) async fn touch_key(
    store: &SqlStore,
    tenant_id: &str,
    key_id: &str,
    at: Timestamp,
) -> Result<(), StoreError> {
    store
        .execute(
            Scope::Tenant(tenant_id),
            sqlx::query("UPDATE api_keys SET last_used_at = $1 WHERE tenant_id = $2 AND id = $3")
                .bind(micros(at))
                .bind(tenant_id)
                .bind(key_id),
        )
        .await?;
    Ok(())
}

pub(super) async fn append_audit(
    store: &SqlStore,
    tenant_id: &str,
    entry: &AuditEntry,
) -> Result<(), StoreError> {
    let mut tx = store.begin(Scope::Tenant(tenant_id)).await?;
    insert_audit(&mut tx, tenant_id, entry).await?;
    tx.commit().await.map_err(unavailable)
}

/// Appends an audit entry inside the transaction of the action it records, so that the
/// action and its entry are stored together or not at all.
pub(super) async fn insert_audit(
    tx: &mut Tx,
    tenant_id: &str,
    entry: &AuditEntry,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO audit_log (tenant_id, id, at, actor, key_prefix, action, target, details) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(tenant_id)
    .bind(&entry.id)
    .bind(micros(entry.at))
    .bind(&entry.actor)
    .bind(entry.key_prefix.clone())
    .bind(&entry.action)
    .bind(&entry.target)
    .bind(entry.details.to_string())
    .execute(&mut **tx)
    .await
    .map_err(unavailable)?;
    Ok(())
}

pub(super) async fn audit(
    store: &SqlStore,
    tenant_id: &str,
    before: Option<&str>,
    limit: u32,
) -> Result<Vec<AuditEntry>, StoreError> {
    let rows = store
        .fetch_all(
            Scope::Tenant(tenant_id),
            sqlx::query(
                "SELECT id, at, actor, key_prefix, action, target, details FROM audit_log \
         WHERE tenant_id = $1 AND id < $2 ORDER BY id DESC LIMIT $3",
            )
            .bind(tenant_id)
            // UUIDs are lowercase hex and dashes: "~" sorts after every one of them.
            .bind(before.unwrap_or("~"))
            .bind(i64::from(limit)),
        )
        .await?;
    rows.iter()
        .map(|row| {
            let details: String = row.try_get("details").map_err(unavailable)?;
            Ok(AuditEntry {
                id: row.try_get("id").map_err(unavailable)?,
                at: time_column(row, "at")?,
                actor: row.try_get("actor").map_err(unavailable)?,
                key_prefix: row.try_get("key_prefix").map_err(unavailable)?,
                action: row.try_get("action").map_err(unavailable)?,
                target: row.try_get("target").map_err(unavailable)?,
                details: serde_json::from_str(&details).map_err(|e| corrupt("audit entry", e))?,
            })
        })
        .collect()
}

pub(super) async fn put_secret(
    store: &SqlStore,
    tenant_id: &str,
    secret: (&str, &str, &str),
    audit: &AuditEntry,
) -> Result<(), StoreError> {
    let (name, sealed, last4) = secret;
    let mut tx = store.begin(Scope::Tenant(tenant_id)).await?;
    sqlx::query(
        "INSERT INTO tenant_secrets (tenant_id, name, sealed, last4, updated_at) VALUES ($1, $2, $3, $4, $5) \
         ON CONFLICT (tenant_id, name) DO UPDATE SET sealed = excluded.sealed, last4 = excluded.last4, \
         updated_at = excluded.updated_at",
    )
    .bind(tenant_id)
    .bind(name)
    .bind(sealed)
    .bind(last4)
    .bind(micros(Timestamp::now()))
    .execute(&mut *tx)
    .await
    .map_err(unavailable)?;
    insert_audit(&mut tx, tenant_id, audit).await?;
    tx.commit().await.map_err(unavailable)
}

pub(super) async fn delete_secret(
    store: &SqlStore,
    tenant_id: &str,
    name: &str,
    audit: &AuditEntry,
) -> Result<(), StoreError> {
    let mut tx = store.begin(Scope::Tenant(tenant_id)).await?;
    let deleted = sqlx::query("DELETE FROM tenant_secrets WHERE tenant_id = $1 AND name = $2")
        .bind(tenant_id)
        .bind(name)
        .execute(&mut *tx)
        .await
        .map_err(unavailable)?
        .rows_affected();
    changed_or_not_found(deleted, || format!("credential {name}"))?;
    insert_audit(&mut tx, tenant_id, audit).await?;
    tx.commit().await.map_err(unavailable)
}

pub(super) async fn secrets(
    store: &SqlStore,
    tenant_id: &str,
) -> Result<Vec<SecretInfo>, StoreError> {
    let rows = store.fetch_all(Scope::Tenant(tenant_id), sqlx::query(
        "SELECT name, last4, updated_at FROM tenant_secrets WHERE tenant_id = $1 ORDER BY name",
    )
    .bind(tenant_id)).await?;
    rows.iter()
        .map(|row| {
            Ok(SecretInfo {
                name: row.try_get("name").map_err(unavailable)?,
                last4: row.try_get("last4").map_err(unavailable)?,
                updated_at: time_column(row, "updated_at")?,
            })
        })
        .collect()
}

pub(super) async fn sealed_secret(
    store: &SqlStore,
    tenant_id: &str,
    name: &str,
) -> Result<String, StoreError> {
    let query = sqlx::query("SELECT sealed FROM tenant_secrets WHERE tenant_id = $1 AND name = $2")
        .bind(tenant_id)
        .bind(name);
    let row = store
        .fetch_optional(Scope::Tenant(tenant_id), query)
        .await?
        .ok_or_else(|| StoreError::NotFound {
            what: format!("credential {name}"),
        })?;
    row.try_get("sealed").map_err(unavailable)
}

#[async_trait::async_trait]
impl crate::ports::AccessStore for SqlStore {
    async fn create_tenant(
        &self,
        tenant: &Tenant,
        key: &ApiKey,
        digest: &str,
        audit: &AuditEntry,
    ) -> Result<(), StoreError> {
        create_tenant(self, tenant, key, digest, audit).await
    }
    async fn tenants(&self, after: Option<&str>, limit: u32) -> Result<Vec<Tenant>, StoreError> {
        tenants(self, after, limit).await
    }
    async fn create_key(
        &self,
        key: &ApiKey,
        digest: &str,
        audit: &AuditEntry,
    ) -> Result<(), StoreError> {
        create_key(self, key, digest, audit).await
    }
    async fn key_by_digest(&self, digest: &str) -> Result<Option<ApiKey>, StoreError> {
        key_by_digest(self, digest).await
    }
    async fn keys(
        &self,
        tenant_id: &str,
        after: Option<&str>,
        limit: u32,
    ) -> Result<Vec<ApiKey>, StoreError> {
        keys(self, tenant_id, after, limit).await
    }
    async fn revoke_key(
        &self,
        tenant_id: &str,
        key_id: &str,
        at: Timestamp,
        audit: &AuditEntry,
    ) -> Result<ApiKey, StoreError> {
        revoke_key(self, tenant_id, key_id, at, audit).await
    }
    async fn touch_key(
        &self,
        tenant_id: &str,
        key_id: &str,
        at: Timestamp,
    ) -> Result<(), StoreError> {
        touch_key(self, tenant_id, key_id, at).await
    }
    async fn append_audit(&self, tenant_id: &str, entry: &AuditEntry) -> Result<(), StoreError> {
        append_audit(self, tenant_id, entry).await
    }
    async fn audit(
        &self,
        tenant_id: &str,
        before: Option<&str>,
        limit: u32,
    ) -> Result<Vec<AuditEntry>, StoreError> {
        audit(self, tenant_id, before, limit).await
    }
    async fn put_secret(
        &self,
        tenant_id: &str,
        name: &str,
        sealed: &str,
        last4: &str,
        audit: &AuditEntry,
    ) -> Result<(), StoreError> {
        put_secret(self, tenant_id, (name, sealed, last4), audit).await
    }
    async fn delete_secret(
        &self,
        tenant_id: &str,
        name: &str,
        audit: &AuditEntry,
    ) -> Result<(), StoreError> {
        delete_secret(self, tenant_id, name, audit).await
    }
    async fn secrets(&self, tenant_id: &str) -> Result<Vec<SecretInfo>, StoreError> {
        secrets(self, tenant_id).await
    }
    async fn sealed_secret(&self, tenant_id: &str, name: &str) -> Result<String, StoreError> {
        sealed_secret(self, tenant_id, name).await
    }
}
