//! [`TemplateStore`] in SQL: `template_versions`, a row per version; a template's newest
//! row carries its kind, channel and tags.

use jiff::Timestamp;
use sqlx::Row;
use sqlx::any::AnyRow;

use super::access::insert_audit;
use super::{Scope, SqlStore, micros, time_column, unavailable};
use crate::ports::{
    AuditEntry, Channel, MAX_TEMPLATES, MAX_VERSIONS, StoreError, TemplateDraft, TemplateFilter,
    TemplateKind, TemplateStore, TemplateVersion,
};

const COLUMNS: &str = "name, version, kind, channel, subject, body, tags, status, author, \
                       approved_by, created_at, approved_at";

fn version_of(row: &AnyRow) -> Result<TemplateVersion, StoreError> {
    let text = |column: &str| row.try_get::<String, _>(column).map_err(unavailable);
    let version: i64 = row.try_get("version").map_err(unavailable)?;
    let approved_at: Option<i64> = row.try_get("approved_at").map_err(unavailable)?;
    Ok(TemplateVersion {
        name: text("name")?,
        version: u32::try_from(version).unwrap_or(0),
        kind: TemplateKind::parse(&text("kind")?).unwrap_or(TemplateKind::Reply),
        channel: Channel::parse(&text("channel")?).unwrap_or(Channel::Sms),
        subject: row.try_get("subject").map_err(unavailable)?,
        body: text("body")?,
        tags: serde_json::from_str(&text("tags")?).unwrap_or_default(),
        approved: text("status")? == "approved",
        author: text("author")?,
        approved_by: row.try_get("approved_by").map_err(unavailable)?,
        created_at: time_column(row, "created_at")?,
        approved_at: approved_at.and_then(|us| Timestamp::from_microsecond(us).ok()),
    })
}

/// `text` as a LIKE pattern that matches it anywhere, its wildcards taken literally.
fn containing(text: &str) -> String {
    let escaped = text
        .replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_");
    format!("%{escaped}%")
}

#[async_trait::async_trait]
impl TemplateStore for SqlStore {
    async fn add_template_version(
        &self,
        tenant_id: &str,
        draft: &TemplateDraft,
        audit: &AuditEntry,
    ) -> Result<TemplateVersion, StoreError> {
        let mut tx = self.begin_for_write(Scope::Tenant(tenant_id)).await?;
        let newest: Option<i64> = sqlx::query(
            "SELECT MAX(version) AS newest FROM template_versions WHERE tenant_id = $1 AND name = $2",
        )
        .bind(tenant_id)
        .bind(&draft.name)
        .fetch_one(&mut *tx)
        .await
        .map_err(unavailable)?
        .try_get("newest")
        .map_err(unavailable)?;
        let newest = newest.unwrap_or(0);
        if newest == 0 {
            let names: i64 = sqlx::query(
                "SELECT COUNT(DISTINCT name) AS names FROM template_versions WHERE tenant_id = $1",
            )
            .bind(tenant_id)
            .fetch_one(&mut *tx)
            .await
            .map_err(unavailable)?
            .try_get("names")
            .map_err(unavailable)?;
            if names >= i64::from(MAX_TEMPLATES) {
                return Err(StoreError::Exists {
                    what: format!("the most templates a business keeps ({MAX_TEMPLATES})"),
                });
            }
        }
        if newest >= i64::from(MAX_VERSIONS) {
            return Err(StoreError::Exists {
                what: format!("the most versions a template keeps ({MAX_VERSIONS})"),
            });
        }
        let now = Timestamp::now();
        let inserted = sqlx::query(
            "INSERT INTO template_versions (tenant_id, name, version, kind, channel, subject, body, tags, \
             status, author, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 'draft', $9, $10) \
             ON CONFLICT (tenant_id, name, version) DO NOTHING",
        )
        .bind(tenant_id)
        .bind(&draft.name)
        .bind(newest + 1)
        .bind(draft.kind.as_str())
        .bind(draft.channel.as_str())
        .bind(draft.subject.clone())
        .bind(&draft.body)
        .bind(serde_json::to_string(&draft.tags).unwrap_or_else(|_| "[]".into()))
        .bind(&draft.author)
        .bind(micros(now))
        .execute(&mut *tx)
        .await
        .map_err(unavailable)?
        .rows_affected();
        if inserted == 0 {
            return Err(StoreError::Exists {
                what: format!(
                    "version {} of {} (written at the same moment)",
                    newest + 1,
                    draft.name
                ),
            });
        }
        let mut audit = audit.clone();
        audit.details["version"] = serde_json::json!(newest + 1);
        insert_audit(&mut tx, tenant_id, &audit).await?;
        tx.commit().await.map_err(unavailable)?;
        Ok(TemplateVersion {
            name: draft.name.clone(),
            version: u32::try_from(newest + 1).unwrap_or(0),
            kind: draft.kind,
            channel: draft.channel,
            subject: draft.subject.clone(),
            body: draft.body.clone(),
            tags: draft.tags.clone(),
            approved: false,
            author: draft.author.clone(),
            approved_by: None,
            created_at: now,
            approved_at: None,
        })
    }

    async fn templates(
        &self,
        tenant_id: &str,
        filter: &TemplateFilter,
    ) -> Result<Vec<TemplateVersion>, StoreError> {
        let mut conditions = vec![
            "t.tenant_id = $1".to_owned(),
            "t.version = (SELECT MAX(m.version) FROM template_versions m \
             WHERE m.tenant_id = t.tenant_id AND m.name = t.name)"
                .to_owned(),
        ];
        let mut binds = vec![tenant_id.to_owned()];
        let mut bind = |value: String, condition: &dyn Fn(usize) -> String| {
            binds.push(value);
            conditions.push(condition(binds.len()));
        };
        if let Some(kind) = filter.kind {
            bind(kind.as_str().into(), &|n| format!("t.kind = ${n}"));
        }
        if let Some(channel) = filter.channel {
            bind(channel.as_str().into(), &|n| format!("t.channel = ${n}"));
        }
        if let Some(tag) = &filter.tag {
            let quoted = serde_json::to_string(tag).unwrap_or_default();
            bind(containing(&quoted), &|n| {
                format!("t.tags LIKE ${n} ESCAPE '\\'")
            });
        }
        if let Some(words) = &filter.search {
            bind(containing(&words.to_lowercase()), &|n| {
                format!(
                    "(LOWER(t.name) LIKE ${n} ESCAPE '\\' OR LOWER(t.body) LIKE ${n} ESCAPE '\\')"
                )
            });
        }
        let sql = format!(
            "SELECT {COLUMNS} FROM template_versions t WHERE {} ORDER BY t.name",
            conditions.join(" AND ")
        );
        let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
        for value in binds {
            query = query.bind(value);
        }
        let rows = self.fetch_all(Scope::Tenant(tenant_id), query).await?;
        rows.iter().map(version_of).collect()
    }

    async fn template_versions(
        &self,
        tenant_id: &str,
        name: &str,
    ) -> Result<Vec<TemplateVersion>, StoreError> {
        let sql = format!(
            "SELECT {COLUMNS} FROM template_versions WHERE tenant_id = $1 AND name = $2 ORDER BY version"
        );
        let rows = self
            .fetch_all(
                Scope::Tenant(tenant_id),
                sqlx::query(sqlx::AssertSqlSafe(sql))
                    .bind(tenant_id)
                    .bind(name),
            )
            .await?;
        if rows.is_empty() {
            return Err(StoreError::NotFound {
                what: format!("template {name}"),
            });
        }
        rows.iter().map(version_of).collect()
    }

    async fn approve_template(
        &self,
        tenant_id: &str,
        name: &str,
        version: u32,
        approver: &str,
        audit: &AuditEntry,
    ) -> Result<TemplateVersion, StoreError> {
        let query = sqlx::query(
            "UPDATE template_versions SET status = 'approved', approved_by = $4, approved_at = $5 \
             WHERE tenant_id = $1 AND name = $2 AND version = $3 AND status = 'draft'",
        )
        .bind(tenant_id)
        .bind(name)
        .bind(i64::from(version))
        .bind(approver)
        .bind(micros(Timestamp::now()));
        // Approving an approved version again changes nothing and is not audited again.
        self.execute_audited(tenant_id, query, Some(audit)).await?;
        self.template_versions(tenant_id, name)
            .await?
            .into_iter()
            .find(|t| t.version == version)
            .ok_or_else(|| StoreError::NotFound {
                what: format!("version {version} of template {name}"),
            })
    }
}
