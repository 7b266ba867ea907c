//! The admin API's reads in the SQL store: filtered, cursor-paged lists of flows, runs,
//! messages and contacts, plus archiving a flow and deleting a contact.

use jiff::Timestamp;
use sqlx::Row;
use sqlx::any::AnyRow;

use super::contacts::{CONTACT_COLUMNS, contact_of};
use super::runs::status_name;
use super::{Scope, SqlStore, changed_or_not_found, corrupt, micros, time_column, unavailable};
use crate::model::{Contact, Run, RunId};
use crate::ports::{
    AuditEntry, ContactFilter, FlowSummary, FlowVersionInfo, Message, MessageFilter, RunFilter,
    StoreError, TimeCursor,
};

/// A bound value of a query built at run time.
pub(super) enum Arg {
    Text(String),
    Int(i64),
}

/// `SELECT … WHERE tenant_id = $1 AND …`, with a placeholder per condition: filters are
/// added only when set, so that no backend has to infer the type of a NULL parameter.
pub(super) struct Query {
    tenant_id: String,
    sql: String,
    args: Vec<Arg>,
}

impl Query {
    pub(super) fn new(select: &str, tenant_id: &str) -> Self {
        Self {
            tenant_id: tenant_id.to_owned(),
            sql: format!("{select} WHERE tenant_id = $1"),
            args: vec![Arg::Text(tenant_id.to_owned())],
        }
    }

    /// The next placeholder, bound to `arg`.
    fn arg(&mut self, arg: Arg) -> String {
        self.args.push(arg);
        format!("${}", self.args.len())
    }

    /// Adds ` AND <column> <op> <arg>`.
    pub(super) fn and(&mut self, column: &str, op: &str, arg: Arg) -> &mut Self {
        let p = self.arg(arg);
        self.sql.push_str(&format!(" AND {column} {op} {p}"));
        self
    }

    /// Newest first, strictly after `cursor`, `limit` rows.
    fn newest_first(&mut self, cursor: Option<&TimeCursor>, limit: u32) -> &mut Self {
        self.newest_first_by("id", cursor, limit)
    }

    /// Newest first, ties broken by the expression `id`, strictly after `cursor`.
    pub(super) fn newest_first_by(
        &mut self,
        id: &str,
        cursor: Option<&TimeCursor>,
        limit: u32,
    ) -> &mut Self {
        if let Some(c) = cursor {
            let at = self.arg(Arg::Int(micros(c.at)));
            let after = self.arg(Arg::Text(c.id.clone()));
            self.sql.push_str(&format!(
                " AND (created_at < {at} OR (created_at = {at} AND {id} < {after}))"
            ));
        }
        let limit = self.arg(Arg::Int(i64::from(limit)));
        self.sql.push_str(&format!(
            " ORDER BY created_at DESC, {id} DESC LIMIT {limit}"
        ));
        self
    }

    pub(super) async fn fetch(self, store: &SqlStore) -> Result<Vec<AnyRow>, StoreError> {
        let mut query = sqlx::query(sqlx::AssertSqlSafe(self.sql));
        for arg in self.args {
            query = match arg {
                Arg::Text(s) => query.bind(s),
                Arg::Int(i) => query.bind(i),
            };
        }
        store.fetch_all(Scope::Tenant(&self.tenant_id), query).await
    }
}

fn flow_summary(row: &AnyRow) -> Result<FlowSummary, StoreError> {
    let version: i64 = row.try_get("latest_version").map_err(unavailable)?;
    Ok(FlowSummary {
        id: row.try_get("id").map_err(unavailable)?,
        enabled: row.try_get::<i64, _>("enabled").map_err(unavailable)? != 0,
        archived: row.try_get::<i64, _>("archived").map_err(unavailable)? != 0,
        latest_version: u32::try_from(version).unwrap_or(u32::MAX),
        updated_at: time_column(row, "updated_at")?,
    })
}

// Booleans as integers: sqlx's Any driver does not decode SQLite booleans.
const FLOW_COLUMNS: &str = "SELECT id, \
     CAST(CASE WHEN enabled THEN 1 ELSE 0 END AS BIGINT) AS enabled, \
     CAST(CASE WHEN archived THEN 1 ELSE 0 END AS BIGINT) AS archived, \
     latest_version, updated_at FROM flows";

pub(super) async fn flows(
    store: &SqlStore,
    tenant_id: &str,
    archived: bool,
    after: Option<&str>,
    limit: u32,
) -> Result<Vec<FlowSummary>, StoreError> {
    let mut q = Query::new(FLOW_COLUMNS, tenant_id);
    if !archived {
        q.sql.push_str(" AND NOT archived");
    }
    q.and("id", ">", Arg::Text(after.unwrap_or("").to_owned()));
    let limit = q.arg(Arg::Int(i64::from(limit)));
    q.sql.push_str(&format!(" ORDER BY id LIMIT {limit}"));
    q.fetch(store).await?.iter().map(flow_summary).collect()
}

pub(super) async fn flow(
    store: &SqlStore,
    tenant_id: &str,
    flow_id: &str,
) -> Result<FlowSummary, StoreError> {
    let mut q = Query::new(FLOW_COLUMNS, tenant_id);
    q.and("id", "=", Arg::Text(flow_id.to_owned()));
    q.fetch(store)
        .await?
        .first()
        .map(flow_summary)
        .transpose()?
        .ok_or_else(|| StoreError::NotFound {
            what: format!("flow {flow_id}"),
        })
}

pub(super) async fn flow_versions(
    store: &SqlStore,
    tenant_id: &str,
    flow_id: &str,
    before: Option<u32>,
    limit: u32,
) -> Result<Vec<FlowVersionInfo>, StoreError> {
    flow(store, tenant_id, flow_id).await?; // NotFound for another tenant's flow
    let mut q = Query::new("SELECT version, created_at FROM flow_versions", tenant_id);
    q.and("flow_id", "=", Arg::Text(flow_id.to_owned()));
    if let Some(before) = before {
        q.and("version", "<", Arg::Int(i64::from(before)));
    }
    let limit = q.arg(Arg::Int(i64::from(limit)));
    q.sql
        .push_str(&format!(" ORDER BY version DESC LIMIT {limit}"));
    q.fetch(store)
        .await?
        .iter()
        .map(|row| {
            let version: i64 = row.try_get("version").map_err(unavailable)?;
            Ok(FlowVersionInfo {
                version: u32::try_from(version).unwrap_or(u32::MAX),
                created_at: time_column(row, "created_at")?,
            })
        })
        .collect()
}

pub(super) async fn archive_flow(
    store: &SqlStore,
    tenant_id: &str,
    flow_id: &str,
    audit: &AuditEntry,
) -> Result<(), StoreError> {
    let changed = store.execute_audited(tenant_id, sqlx::query(
        "UPDATE flows SET archived = $1, enabled = $2, updated_at = $3 WHERE tenant_id = $4 AND id = $5",
    )
    .bind(true)
    .bind(false)
    .bind(micros(Timestamp::now()))
    .bind(tenant_id)
    .bind(flow_id), Some(audit)).await?;
    changed_or_not_found(changed, || format!("flow {flow_id}"))
}

pub(super) async fn list_runs(
    store: &SqlStore,
    tenant_id: &str,
    filter: &RunFilter,
    after: Option<&TimeCursor>,
    limit: u32,
) -> Result<Vec<Run>, StoreError> {
    let mut q = Query::new("SELECT state FROM runs", tenant_id);
    if let Some(flow_id) = &filter.flow_id {
        q.and("flow_id", "=", Arg::Text(flow_id.clone()));
    }
    if let Some(status) = filter.status {
        q.and("status", "=", Arg::Text(status_name(status)));
    }
    if let Some(contact_id) = &filter.contact_id {
        q.and("contact_id", "=", Arg::Text(contact_id.clone()));
    }
    if let Some(since) = filter.since {
        q.and("created_at", ">=", Arg::Int(micros(since)));
    }
    if let Some(until) = filter.until {
        q.and("created_at", "<", Arg::Int(micros(until)));
    }
    q.newest_first(after, limit);
    q.fetch(store)
        .await?
        .iter()
        .map(|row| {
            let state: String = row.try_get("state").map_err(unavailable)?;
            serde_json::from_str(&state).map_err(|e| corrupt("run", e))
        })
        .collect()
}

pub(super) async fn list_messages(
    store: &SqlStore,
    tenant_id: &str,
    filter: &MessageFilter,
    after: Option<&TimeCursor>,
    limit: u32,
) -> Result<Vec<Message>, StoreError> {
    let mut q = Query::new(
        &format!(
            "SELECT id, run_id, step, channel, to_address, body, provider_id, {DELIVERY_COLUMNS}, created_at FROM messages"
        ),
        tenant_id,
    );
    if let Some(run_id) = filter.run_id {
        q.and("run_id", "=", Arg::Text(run_id.to_string()));
    }
    if let Some(status) = &filter.status {
        q.and(DELIVERY_STATUS, "=", Arg::Text(status.clone()));
    }
    if let Some(channel) = &filter.channel {
        q.and("channel", "=", Arg::Text(channel.clone()));
    }
    q.newest_first(after, limit);
    q.fetch(store).await?.iter().map(message).collect()
}

/// A message's status: its latest delivery report's, else what the provider first answered.
pub(super) const DELIVERY_STATUS: &str = "COALESCE((SELECT d.status FROM deliveries d \
     WHERE d.tenant_id = messages.tenant_id AND d.provider_id = messages.provider_id), messages.status)";

/// `status` and `error_code` of a message row, with its delivery reports.
pub(super) const DELIVERY_COLUMNS: &str = "COALESCE((SELECT d.status FROM deliveries d \
     WHERE d.tenant_id = messages.tenant_id AND d.provider_id = messages.provider_id), messages.status) AS status, \
     (SELECT d.error_code FROM deliveries d \
     WHERE d.tenant_id = messages.tenant_id AND d.provider_id = messages.provider_id) AS error_code";

/// A message row (the columns [`list_messages`] selects).
pub(super) fn message(row: &AnyRow) -> Result<Message, StoreError> {
    let run_id: String = row.try_get("run_id").map_err(unavailable)?;
    Ok(Message {
        id: row.try_get("id").map_err(unavailable)?,
        run_id: RunId(
            run_id
                .parse()
                .map_err(|_| StoreError::Unavailable(format!("stored run id {run_id:?}")))?,
        ),
        step: row.try_get("step").map_err(unavailable)?,
        channel: row.try_get("channel").map_err(unavailable)?,
        to: row.try_get("to_address").map_err(unavailable)?,
        text: row.try_get("body").map_err(unavailable)?,
        provider_id: row.try_get("provider_id").map_err(unavailable)?,
        error_code: row.try_get("error_code").map_err(unavailable)?,
        status: row.try_get("status").map_err(unavailable)?,
        at: time_column(row, "created_at")?,
    })
}

pub(super) async fn list_contacts(
    store: &SqlStore,
    tenant_id: &str,
    filter: &ContactFilter,
    after: Option<&str>,
    limit: u32,
) -> Result<Vec<Contact>, StoreError> {
    let mut q = Query::new(
        &format!("SELECT {CONTACT_COLUMNS} FROM contacts"),
        tenant_id,
    );
    if let Some(phone) = &filter.phone {
        q.and("phone", "=", Arg::Text(phone.clone()));
    }
    if let Some(email) = &filter.email {
        q.and("email", "=", Arg::Text(email.clone()));
    }
    q.and("id", ">", Arg::Text(after.unwrap_or("").to_owned()));
    let limit = q.arg(Arg::Int(i64::from(limit)));
    q.sql.push_str(&format!(" ORDER BY id LIMIT {limit}"));
    q.fetch(store).await?.iter().map(contact_of).collect()
}

pub(super) async fn contact_by_address(
    store: &SqlStore,
    tenant_id: &str,
    phone: Option<&str>,
    email: Option<&str>,
) -> Result<Option<Contact>, StoreError> {
    for (column, value) in [("phone", phone), ("email", email)] {
        let Some(value) = value else { continue };
        let mut q = Query::new(
            &format!("SELECT {CONTACT_COLUMNS} FROM contacts"),
            tenant_id,
        );
        q.and(column, "=", Arg::Text(value.to_owned()));
        q.sql.push_str(" ORDER BY id LIMIT 1");
        if let Some(row) = q.fetch(store).await?.first() {
            return contact_of(row).map(Some);
        }
    }
    Ok(None)
}

pub(super) async fn delete_contact(
    store: &SqlStore,
    tenant_id: &str,
    contact_id: &str,
    audit: &AuditEntry,
) -> Result<(), StoreError> {
    let deleted = store
        .execute_audited(
            tenant_id,
            sqlx::query("DELETE FROM contacts WHERE tenant_id = $1 AND id = $2")
                .bind(tenant_id)
                .bind(contact_id),
            Some(audit),
        )
        .await?;
    changed_or_not_found(deleted, || format!("contact {contact_id}"))
}

#[async_trait::async_trait]
impl crate::ports::Listings for SqlStore {
    async fn flows(
        &self,
        tenant_id: &str,
        archived: bool,
        after: Option<&str>,
        limit: u32,
    ) -> Result<Vec<FlowSummary>, StoreError> {
        flows(self, tenant_id, archived, after, limit).await
    }
    async fn flow(&self, tenant_id: &str, flow_id: &str) -> Result<FlowSummary, StoreError> {
        flow(self, tenant_id, flow_id).await
    }
    async fn flow_versions(
        &self,
        tenant_id: &str,
        flow_id: &str,
        before: Option<u32>,
        limit: u32,
    ) -> Result<Vec<FlowVersionInfo>, StoreError> {
        flow_versions(self, tenant_id, flow_id, before, limit).await
    }
    async fn archive_flow(
        &self,
        tenant_id: &str,
        flow_id: &str,
        audit: &AuditEntry,
    ) -> Result<(), StoreError> {
        archive_flow(self, tenant_id, flow_id, audit).await
    }
    async fn list_runs(
        &self,
        tenant_id: &str,
        filter: &RunFilter,
        after: Option<&TimeCursor>,
        limit: u32,
    ) -> Result<Vec<Run>, StoreError> {
        list_runs(self, tenant_id, filter, after, limit).await
    }
    async fn list_messages(
        &self,
        tenant_id: &str,
        filter: &MessageFilter,
        after: Option<&TimeCursor>,
        limit: u32,
    ) -> Result<Vec<Message>, StoreError> {
        list_messages(self, tenant_id, filter, after, limit).await
    }
    async fn list_contacts(
        &self,
        tenant_id: &str,
        filter: &ContactFilter,
        after: Option<&str>,
        limit: u32,
    ) -> Result<Vec<Contact>, StoreError> {
        list_contacts(self, tenant_id, filter, after, limit).await
    }
    async fn contact_by_address(
        &self,
        tenant_id: &str,
        phone: Option<&str>,
        email: Option<&str>,
    ) -> Result<Option<Contact>, StoreError> {
        contact_by_address(self, tenant_id, phone, email).await
    }
    async fn delete_contact(
        &self,
        tenant_id: &str,
        contact_id: &str,
        audit: &AuditEntry,
    ) -> Result<(), StoreError> {
        delete_contact(self, tenant_id, contact_id, audit).await
    }

    async fn contact_events(
        &self,
        tenant_id: &str,
        contact_id: &str,
        limit: u32,
    ) -> Result<Vec<crate::ports::StoredEvent>, StoreError> {
        super::erase::contact_events(self, tenant_id, contact_id, limit).await
    }

    async fn erase_contact(
        &self,
        tenant_id: &str,
        contact_id: &str,
        audit: &AuditEntry,
    ) -> Result<super::erase::Erased, StoreError> {
        super::erase::erase_contact(self, tenant_id, contact_id, audit).await
    }
}
