//! [`MemberStore`] in SQL: the `members` table, and the member's keys in `api_keys` changed
//! (role) or revoked in the same transaction as the member, with the audit entry.

use jiff::Timestamp;
use sqlx::Row;
use sqlx::any::AnyRow;

use super::access::insert_audit;
use super::imports::is_unique_violation;
use super::{Scope, SqlStore, micros, time_column, unavailable};
use crate::ports::{AuditEntry, MAX_MEMBERS, Member, MemberRole, MemberStore, StoreError};

fn member_from_row(row: &AnyRow) -> Result<Member, StoreError> {
    let role: String = row.try_get("role").map_err(unavailable)?;
    Ok(Member {
        id: row.try_get("id").map_err(unavailable)?,
        name: row.try_get("name").map_err(unavailable)?,
        email: row.try_get("email").map_err(unavailable)?,
        role: MemberRole::parse(&role)
            .ok_or_else(|| StoreError::Unavailable(format!("stored role {role:?} is unknown")))?,
        created_at: time_column(row, "created_at")?,
    })
}

fn taken(email: &str) -> StoreError {
    StoreError::Exists {
        what: format!("a member with the email {email}"),
    }
}

fn not_found(id: &str) -> StoreError {
    StoreError::NotFound {
        what: format!("member {id}"),
    }
}

/// What a write of `member` did, as the store answers it: a unique violation is its email
/// taken, no row written is no such member.
fn written(result: Result<u64, sqlx::Error>, member: &Member) -> Result<(), StoreError> {
    match result {
        Ok(0) => Err(not_found(&member.id)),
        Ok(_) => Ok(()),
        Err(e) if is_unique_violation(&e) => Err(taken(&member.email)),
        Err(e) => Err(unavailable(e)),
    }
}

#[async_trait::async_trait]
impl MemberStore for SqlStore {
    async fn create_member(
        &self,
        tenant_id: &str,
        member: &Member,
        audit: &AuditEntry,
    ) -> Result<(), StoreError> {
        let mut tx = self.begin(Scope::Tenant(tenant_id)).await?;
        let inserted = sqlx::query(
            "INSERT INTO members (tenant_id, id, name, email, role, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(tenant_id)
        .bind(&member.id)
        .bind(&member.name)
        .bind(&member.email)
        .bind(member.role.as_str())
        .bind(micros(member.created_at))
        .execute(&mut *tx)
        .await
        .map(|done| done.rows_affected());
        written(inserted, member)?;
        insert_audit(&mut tx, tenant_id, audit).await?;
        tx.commit().await.map_err(unavailable)
    }

    async fn members(&self, tenant_id: &str) -> Result<Vec<Member>, StoreError> {
        let rows = self
            .fetch_all(
                Scope::Tenant(tenant_id),
                sqlx::query(
                    "SELECT id, name, email, role, created_at FROM members WHERE tenant_id = $1 \
                     ORDER BY name, id LIMIT $2",
                )
                .bind(tenant_id)
                .bind(MAX_MEMBERS as i64),
            )
            .await?;
        rows.iter().map(member_from_row).collect()
    }

    async fn member(&self, tenant_id: &str, id: &str) -> Result<Member, StoreError> {
        let row = self
            .fetch_optional(
                Scope::Tenant(tenant_id),
                sqlx::query(
                    "SELECT id, name, email, role, created_at FROM members WHERE tenant_id = $1 AND id = $2",
                )
                .bind(tenant_id)
                .bind(id),
            )
            .await?;
        row.as_ref()
            .map(member_from_row)
            .transpose()?
            .ok_or_else(|| not_found(id))
    }

    async fn change_member(
        &self,
        tenant_id: &str,
        member: &Member,
        audit: &AuditEntry,
    ) -> Result<(), StoreError> {
        let mut tx = self.begin(Scope::Tenant(tenant_id)).await?;
        let changed = sqlx::query(
            "UPDATE members SET name = $1, email = $2, role = $3 WHERE tenant_id = $4 AND id = $5",
        )
        .bind(&member.name)
        .bind(&member.email)
        .bind(member.role.as_str())
        .bind(tenant_id)
        .bind(&member.id)
        .execute(&mut *tx)
        .await
        .map(|done| done.rows_affected());
        written(changed, member)?;
        sqlx::query("UPDATE api_keys SET role = $1 WHERE tenant_id = $2 AND member_id = $3")
            .bind(member.role.key_role().as_str())
            .bind(tenant_id)
            .bind(&member.id)
            .execute(&mut *tx)
            .await
            .map_err(unavailable)?;
        insert_audit(&mut tx, tenant_id, audit).await?;
        tx.commit().await.map_err(unavailable)
    }

    async fn remove_member(
        &self,
        tenant_id: &str,
        id: &str,
        at: Timestamp,
        audit: &AuditEntry,
    ) -> Result<u64, StoreError> {
        let mut tx = self.begin(Scope::Tenant(tenant_id)).await?;
        let removed = sqlx::query("DELETE FROM members WHERE tenant_id = $1 AND id = $2")
            .bind(tenant_id)
            .bind(id)
            .execute(&mut *tx)
            .await
            .map_err(unavailable)?
            .rows_affected();
        if removed == 0 {
            return Err(not_found(id));
        }
        let revoked = sqlx::query(
            "UPDATE api_keys SET revoked_at = $1 WHERE tenant_id = $2 AND member_id = $3 AND revoked_at IS NULL",
        )
        .bind(micros(at))
        .bind(tenant_id)
        .bind(id)
        .execute(&mut *tx)
        .await
        .map_err(unavailable)?
        .rows_affected();
        insert_audit(&mut tx, tenant_id, audit).await?;
        tx.commit().await.map_err(unavailable)?;
        Ok(revoked)
    }
}
