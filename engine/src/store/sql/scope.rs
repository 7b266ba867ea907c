//! Row-level security scopes: every PostgreSQL transaction of the store runs as the role
//! `stepwise_app` with its tenant (or the system flag) set for that transaction only, so the
//! policies of migration `…0004` bind the server's own queries. SQLite has no row-level
//! security: single statements run on the pool as they are.

use sqlx::Executor;
use sqlx::any::AnyRow;

use super::{Backend, SqlStore, unavailable};
use crate::ports::{AuditEntry, StoreError};

/// The role PostgreSQL transactions run as: neither superuser nor BYPASSRLS, so the
/// row-level security policies of migration `…0004` apply to every query the server makes.
pub(super) const APP_ROLE: &str = "stepwise_app";

/// The tables [`APP_ROLE`] is granted (migration `…0004`), for the message that tells a DBA
/// how to make the role by hand.
pub(super) const TENANT_TABLES: &str = "tenants, contacts, events, flows, flow_versions, runs, run_steps, \
    schedules, messages, api_keys, audit_log, tenant_secrets";

/// A transaction on the store's pool.
pub(super) type Tx = sqlx::Transaction<'static, sqlx::Any>;

/// A query with its bound arguments, not yet run.
pub(super) type AnyQuery<'q> = sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments>;

/// Whose rows a transaction may see and write under row-level security.
#[derive(Debug, Clone, Copy)]
pub(super) enum Scope<'a> {
    /// One tenant's rows.
    Tenant(&'a str),
    /// Every tenant's: work that spans tenants (the timer loop, the reconciler, schedules,
    /// key lookup, the operator's tenant list).
    System,
}

impl Scope<'_> {
    /// The statement that sets this scope for the rest of the current transaction.
    fn set_local(self) -> String {
        match self {
            Scope::Tenant(id) => format!("SET LOCAL app.tenant_id = {}", quote_literal(id)),
            Scope::System => "SET LOCAL app.system = 'on'".to_owned(),
        }
    }
}

/// `text` as a PostgreSQL string literal. The escape-string form reads the same whatever
/// `standard_conforming_strings` says; NUL, which PostgreSQL text cannot hold, is dropped.
fn quote_literal(text: &str) -> String {
    let mut quoted = String::with_capacity(text.len() + 3);
    quoted.push_str("E'");
    for c in text.chars() {
        match c {
            '\\' | '\'' => {
                quoted.push(c);
                quoted.push(c);
            }
            '\0' => {}
            _ => quoted.push(c),
        }
    }
    quoted.push('\'');
    quoted
}

impl SqlStore {
    /// Begins a transaction in `scope`. On PostgreSQL it runs as [`APP_ROLE`] with the
    /// tenant (or the system flag) set for this transaction only, all in the one round trip
    /// of the BEGIN, so a pooled connection carries nothing over to its next user.
    pub(super) async fn begin(&self, scope: Scope<'_>) -> Result<Tx, StoreError> {
        match self.backend {
            Backend::Sqlite => self.pool.begin().await,
            Backend::Postgres => {
                let begin = format!("BEGIN; SET LOCAL ROLE {APP_ROLE}; {}", scope.set_local());
                self.pool.begin_with(sqlx::AssertSqlSafe(begin)).await
            }
        }
        .map_err(unavailable)
    }

    /// Begins a transaction that will write what it reads. On SQLite it takes the database's
    /// write lock at once (`BEGIN IMMEDIATE`): a transaction that reads first and then wants
    /// to write could otherwise fail with `SQLITE_BUSY` when another connection (another
    /// process, such as `stepwise tenant create`) wrote in between. On PostgreSQL it is
    /// [`SqlStore::begin`]; the caller's reads must lock their rows (`FOR UPDATE`).
    pub(super) async fn begin_for_write(&self, scope: Scope<'_>) -> Result<Tx, StoreError> {
        match self.backend {
            Backend::Sqlite => self
                .pool
                .begin_with("BEGIN IMMEDIATE")
                .await
                .map_err(unavailable),
            Backend::Postgres => self.begin(scope).await,
        }
    }

    /// Moves an open transaction to another scope (a group commit writes several tenants').
    pub(super) async fn rescope(
        tx: &mut Tx,
        backend: Backend,
        scope: Scope<'_>,
    ) -> Result<(), StoreError> {
        if backend == Backend::Postgres {
            tx.execute(sqlx::AssertSqlSafe(scope.set_local()))
                .await
                .map_err(unavailable)?;
        }
        Ok(())
    }

    /// Runs one statement in `scope` and answers the rows it changed. SQLite has no
    /// row-level security, so it runs the statement alone, without a transaction around it.
    pub(super) async fn execute(
        &self,
        scope: Scope<'_>,
        query: AnyQuery<'_>,
    ) -> Result<u64, StoreError> {
        if self.backend == Backend::Sqlite {
            return Ok(query
                .execute(&self.pool)
                .await
                .map_err(unavailable)?
                .rows_affected());
        }
        let mut tx = self.begin(scope).await?;
        let changed = query
            .execute(&mut *tx)
            .await
            .map_err(unavailable)?
            .rows_affected();
        tx.commit().await.map_err(unavailable)?;
        Ok(changed)
    }

    /// Runs one statement of the tenant's and answers the rows it changed, as
    /// [`SqlStore::execute`]; with `audit`, the entry is stored in the same transaction when
    /// the statement changed a row, and neither is stored when it changed none.
    pub(super) async fn execute_audited(
        &self,
        tenant_id: &str,
        query: AnyQuery<'_>,
        audit: Option<&AuditEntry>,
    ) -> Result<u64, StoreError> {
        let Some(audit) = audit else {
            return self.execute(Scope::Tenant(tenant_id), query).await;
        };
        let mut tx = self.begin(Scope::Tenant(tenant_id)).await?;
        let changed = query
            .execute(&mut *tx)
            .await
            .map_err(unavailable)?
            .rows_affected();
        if changed > 0 {
            super::access::insert_audit(&mut tx, tenant_id, audit).await?;
            tx.commit().await.map_err(unavailable)?;
        }
        Ok(changed)
    }

    /// Runs one query in `scope` and answers its rows (see [`SqlStore::execute`]).
    pub(super) async fn fetch_all(
        &self,
        scope: Scope<'_>,
        query: AnyQuery<'_>,
    ) -> Result<Vec<AnyRow>, StoreError> {
        if self.backend == Backend::Sqlite {
            return query.fetch_all(&self.pool).await.map_err(unavailable);
        }
        let mut tx = self.begin(scope).await?;
        let rows = query.fetch_all(&mut *tx).await.map_err(unavailable)?;
        tx.commit().await.map_err(unavailable)?;
        Ok(rows)
    }

    /// Runs one query in `scope` and answers its first row, if any.
    pub(super) async fn fetch_optional(
        &self,
        scope: Scope<'_>,
        query: AnyQuery<'_>,
    ) -> Result<Option<AnyRow>, StoreError> {
        if self.backend == Backend::Sqlite {
            return query.fetch_optional(&self.pool).await.map_err(unavailable);
        }
        let mut tx = self.begin(scope).await?;
        let row = query.fetch_optional(&mut *tx).await.map_err(unavailable)?;
        tx.commit().await.map_err(unavailable)?;
        Ok(row)
    }

    /// Runs one query in `scope` that answers exactly one row.
    pub(super) async fn fetch_one(
        &self,
        scope: Scope<'_>,
        query: AnyQuery<'_>,
    ) -> Result<AnyRow, StoreError> {
        self.fetch_optional(scope, query).await?.ok_or_else(|| {
            StoreError::Unavailable("a query that answers one row answered none".into())
        })
    }
}
