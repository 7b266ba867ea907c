//! Every tenant's sealed credentials at once, for rotating the secret key (`stepwise
//! secret-key rotate`): read them all, and replace them all in one transaction, each only if it
//! is still what was read. The store never sees a key or a plaintext.

use sqlx::Row;

use super::{Scope, SqlStore, micros, unavailable};
use crate::ports::StoreError;

/// One stored credential: tenant, name, sealed text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SealedCredential {
    pub tenant_id: String,
    pub name: String,
    pub sealed: String,
}

impl SqlStore {
    /// Every tenant's credentials, sealed, in (tenant, name) order.
    pub async fn sealed_credentials(&self) -> Result<Vec<SealedCredential>, StoreError> {
        let query = sqlx::query(
            "SELECT tenant_id, name, sealed FROM tenant_secrets ORDER BY tenant_id, name",
        );
        let rows = self.fetch_all(Scope::System, query).await?;
        rows.iter()
            .map(|row| {
                Ok(SealedCredential {
                    tenant_id: row.try_get("tenant_id").map_err(unavailable)?,
                    name: row.try_get("name").map_err(unavailable)?,
                    sealed: row.try_get("sealed").map_err(unavailable)?,
                })
            })
            .collect()
    }

    /// Replaces each credential's sealed text (`was` → its new text), all in one transaction.
    /// If any changed or went since it was read, nothing is replaced and the answer is
    /// `NotFound` naming it: a rotation never leaves credentials under two keys.
    pub async fn replace_sealed_credentials(
        &self,
        replacements: &[(SealedCredential, String)],
    ) -> Result<(), StoreError> {
        let mut tx = self.begin(Scope::System).await?;
        let now = micros(jiff::Timestamp::now());
        for (was, now_sealed) in replacements {
            let changed = sqlx::query(
                "UPDATE tenant_secrets SET sealed = $1, updated_at = $2 \
                 WHERE tenant_id = $3 AND name = $4 AND sealed = $5",
            )
            .bind(now_sealed)
            .bind(now)
            .bind(&was.tenant_id)
            .bind(&was.name)
            .bind(&was.sealed)
            .execute(&mut *tx)
            .await
            .map_err(unavailable)?
            .rows_affected();
            if changed != 1 {
                return Err(StoreError::NotFound {
                    what: format!(
                        "credential {} of tenant {} as it was read (it changed meanwhile)",
                        was.name, was.tenant_id
                    ),
                });
            }
        }
        tx.commit().await.map_err(unavailable)
    }
}
