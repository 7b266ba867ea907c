//! Imports in the SQL store: the file's chunks, the import's state and progress, and the
//! batches of contacts committed with that progress (see [`crate::ports::AudienceStore`]).

use jiff::{SignedDuration, Timestamp};
use sqlx::Row;

use super::{Scope, SqlStore, corrupt, micros, unavailable};
use crate::audience::import::{Import, ImportStatus, ReportRow};
use crate::ports::{AuditEntry, StoreError};

/// An upload older than this that never finished is abandoned (its client went away).
const UPLOAD_ABANDONED: SignedDuration = SignedDuration::from_hours(1);
/// Attempts at a claim or a seal that meets another worker's or request's at the same moment.
const ATTEMPTS: usize = 3;

fn import_of(row: &sqlx::any::AnyRow) -> Result<Import, StoreError> {
    let doc: String = row.try_get("doc").map_err(unavailable)?;
    let status: String = row.try_get("status").map_err(unavailable)?;
    let mut import: Import = serde_json::from_str(&doc).map_err(|e| corrupt("import", e))?;
    // The column is what workers claim by.
    import.status = match status.as_str() {
        "running" => ImportStatus::Running,
        "completed" => ImportStatus::Completed,
        "failed" => ImportStatus::Failed,
        _ => ImportStatus::Queued,
    };
    Ok(import)
}

fn doc(import: &Import) -> Result<String, StoreError> {
    serde_json::to_string(import).map_err(|e| corrupt("import", e))
}

pub(super) fn is_unique_violation(e: &sqlx::Error) -> bool {
    e.as_database_error()
        .is_some_and(|d| d.is_unique_violation())
}

pub(super) async fn begin_import(
    store: &SqlStore,
    tenant_id: &str,
    import: &Import,
) -> Result<(), StoreError> {
    store
        .execute(
            Scope::Tenant(tenant_id),
            sqlx::query(
                "INSERT INTO imports (tenant_id, id, fingerprint, status, doc, next_row, created_at) \
                 VALUES ($1, $2, $2, 'uploading', $3, 0, $4)",
            )
            .bind(tenant_id)
            .bind(&import.id)
            .bind(doc(import)?)
            .bind(micros(import.created_at)),
        )
        .await?;
    Ok(())
}

pub(super) async fn put_chunk(
    store: &SqlStore,
    tenant_id: &str,
    import_id: &str,
    seq: u64,
    bytes: Vec<u8>,
) -> Result<(), StoreError> {
    store
        .execute(
            Scope::Tenant(tenant_id),
            sqlx::query(
                "INSERT INTO import_chunks (tenant_id, import_id, seq, data) VALUES ($1, $2, $3, $4)",
            )
            .bind(tenant_id)
            .bind(import_id)
            .bind(seq as i64)
            .bind(bytes),
        )
        .await?;
    Ok(())
}

pub(super) async fn seal(
    store: &SqlStore,
    tenant_id: &str,
    import: &Import,
    fingerprint: &str,
    audit: &AuditEntry,
) -> Result<(Import, bool), StoreError> {
    for _ in 0..ATTEMPTS {
        let mut tx = store.begin_for_write(Scope::Tenant(tenant_id)).await?;
        let earlier = sqlx::query(
            "SELECT doc, status FROM imports WHERE tenant_id = $1 AND fingerprint = $2",
        )
        .bind(tenant_id)
        .bind(fingerprint)
        .fetch_optional(&mut *tx)
        .await
        .map_err(unavailable)?;
        if let Some(row) = earlier {
            let earlier = import_of(&row)?;
            drop(tx);
            discard(store, tenant_id, &import.id).await?;
            return Ok((earlier, false));
        }
        let sealed = sqlx::query(
            "UPDATE imports SET fingerprint = $1, status = 'queued', doc = $2 \
             WHERE tenant_id = $3 AND id = $4 AND status = 'uploading'",
        )
        .bind(fingerprint)
        .bind(doc(import)?)
        .bind(tenant_id)
        .bind(&import.id)
        .execute(&mut *tx)
        .await;
        match sealed {
            Ok(done) if done.rows_affected() == 1 => {
                super::access::insert_audit(&mut tx, tenant_id, audit).await?;
                tx.commit().await.map_err(unavailable)?;
                return Ok((import.clone(), true));
            }
            Ok(_) => {
                return Err(StoreError::NotFound {
                    what: format!("import {}", import.id),
                });
            }
            // The same file sealed by another request a moment ago: answer that one.
            Err(e) if is_unique_violation(&e) => continue,
            Err(e) => return Err(unavailable(e)),
        }
    }
    Err(StoreError::Unavailable(
        "the import could not be sealed".into(),
    ))
}

pub(super) async fn discard(
    store: &SqlStore,
    tenant_id: &str,
    import_id: &str,
) -> Result<(), StoreError> {
    let mut tx = store.begin(Scope::Tenant(tenant_id)).await?;
    for sql in [
        "DELETE FROM import_chunks WHERE tenant_id = $1 AND import_id = $2",
        "DELETE FROM imports WHERE tenant_id = $1 AND id = $2",
    ] {
        sqlx::query(sql)
            .bind(tenant_id)
            .bind(import_id)
            .execute(&mut *tx)
            .await
            .map_err(unavailable)?;
    }
    tx.commit().await.map_err(unavailable)
}

pub(super) async fn unfinished(store: &SqlStore, tenant_id: &str) -> Result<u64, StoreError> {
    let row = store
        .fetch_one(
            Scope::Tenant(tenant_id),
            sqlx::query(
                "SELECT COUNT(*) AS n FROM imports WHERE tenant_id = $1 AND (status IN ('queued', 'running') \
                 OR (status = 'uploading' AND created_at > $2))",
            )
            .bind(tenant_id)
            .bind(micros(Timestamp::now() - UPLOAD_ABANDONED)),
        )
        .await?;
    let n: i64 = row.try_get("n").map_err(unavailable)?;
    Ok(n as u64)
}

pub(super) async fn import(
    store: &SqlStore,
    tenant_id: &str,
    import_id: &str,
) -> Result<Import, StoreError> {
    let row = store
        .fetch_optional(
            Scope::Tenant(tenant_id),
            sqlx::query(
                "SELECT doc, status FROM imports WHERE tenant_id = $1 AND id = $2 AND status <> 'uploading'",
            )
            .bind(tenant_id)
            .bind(import_id),
        )
        .await?
        .ok_or_else(|| StoreError::NotFound {
            what: format!("import {import_id}"),
        })?;
    import_of(&row)
}

pub(super) async fn imports(
    store: &SqlStore,
    tenant_id: &str,
    limit: u32,
) -> Result<Vec<Import>, StoreError> {
    let rows = store
        .fetch_all(
            Scope::Tenant(tenant_id),
            sqlx::query(
                "SELECT doc, status FROM imports WHERE tenant_id = $1 AND status <> 'uploading' \
                 ORDER BY created_at DESC, id DESC LIMIT $2",
            )
            .bind(tenant_id)
            .bind(i64::from(limit)),
        )
        .await?;
    rows.iter().map(import_of).collect()
}

pub(super) async fn chunk(
    store: &SqlStore,
    tenant_id: &str,
    import_id: &str,
    seq: u64,
) -> Result<Option<Vec<u8>>, StoreError> {
    let row = store
        .fetch_optional(
            Scope::Tenant(tenant_id),
            sqlx::query(
                "SELECT data FROM import_chunks WHERE tenant_id = $1 AND import_id = $2 AND seq = $3",
            )
            .bind(tenant_id)
            .bind(import_id)
            .bind(seq as i64),
        )
        .await?;
    row.map(|r| r.try_get("data").map_err(unavailable))
        .transpose()
}

pub(super) async fn claim(
    store: &SqlStore,
    now: Timestamp,
    lease: SignedDuration,
) -> Result<Option<(String, Import, u64)>, StoreError> {
    const CLAIMABLE: &str =
        "(status = 'queued' OR (status = 'running' AND (lease_until IS NULL OR lease_until < $1)))";
    for _ in 0..ATTEMPTS {
        let sql = format!(
            "SELECT tenant_id, id FROM imports WHERE {CLAIMABLE} ORDER BY created_at LIMIT 1"
        );
        let Some(row) = store
            .fetch_optional(
                Scope::System,
                sqlx::query(sqlx::AssertSqlSafe(sql)).bind(micros(now)),
            )
            .await?
        else {
            return Ok(None);
        };
        let tenant_id: String = row.try_get("tenant_id").map_err(unavailable)?;
        let id: String = row.try_get("id").map_err(unavailable)?;
        let sql = format!(
            "UPDATE imports SET status = 'running', lease_until = $2 \
             WHERE tenant_id = $3 AND id = $4 AND {CLAIMABLE} RETURNING doc, status, next_row"
        );
        let claimed = store
            .fetch_optional(
                Scope::Tenant(&tenant_id),
                sqlx::query(sqlx::AssertSqlSafe(sql))
                    .bind(micros(now))
                    .bind(micros(now + lease))
                    .bind(&tenant_id)
                    .bind(&id),
            )
            .await?;
        if let Some(row) = claimed {
            let next_row: i64 = row.try_get("next_row").map_err(unavailable)?;
            return Ok(Some((tenant_id, import_of(&row)?, next_row as u64)));
        }
    }
    Ok(None)
}

pub(super) async fn finish(
    store: &SqlStore,
    tenant_id: &str,
    import: &Import,
) -> Result<(), StoreError> {
    let mut tx = store.begin(Scope::Tenant(tenant_id)).await?;
    sqlx::query(
        "UPDATE imports SET status = $1, doc = $2, lease_until = NULL WHERE tenant_id = $3 AND id = $4",
    )
    .bind(import.status.as_str())
    .bind(doc(import)?)
    .bind(tenant_id)
    .bind(&import.id)
    .execute(&mut *tx)
    .await
    .map_err(unavailable)?;
    sqlx::query("DELETE FROM import_chunks WHERE tenant_id = $1 AND import_id = $2")
        .bind(tenant_id)
        .bind(&import.id)
        .execute(&mut *tx)
        .await
        .map_err(unavailable)?;
    tx.commit().await.map_err(unavailable)
}

pub(super) async fn report(
    store: &SqlStore,
    tenant_id: &str,
    import_id: &str,
    after: Option<(u64, &str)>,
    limit: u32,
) -> Result<Vec<ReportRow>, StoreError> {
    // Before every row when no cursor is given: line 0 is the header's line's predecessor.
    let (line, column) = after.unwrap_or((0, ""));
    let rows = store
        .fetch_all(
            Scope::Tenant(tenant_id),
            sqlx::query(
                "SELECT line, col, value, reason, result FROM import_report \
                 WHERE tenant_id = $1 AND import_id = $2 AND (line > $3 OR (line = $3 AND col > $4)) \
                 ORDER BY line, col LIMIT $5",
            )
            .bind(tenant_id)
            .bind(import_id)
            .bind(line as i64)
            .bind(column)
            .bind(i64::from(limit)),
        )
        .await?;
    rows.iter()
        .map(|row| {
            let line: i64 = row.try_get("line").map_err(unavailable)?;
            Ok(ReportRow {
                line: line as u64,
                column: row.try_get("col").map_err(unavailable)?,
                value: row.try_get("value").map_err(unavailable)?,
                reason: row.try_get("reason").map_err(unavailable)?,
                result: row.try_get("result").map_err(unavailable)?,
            })
        })
        .collect()
}
