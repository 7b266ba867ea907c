//! The SQL store: one implementation for SQLite (the embedded default) and PostgreSQL
//! (production), over sqlx's `Any` driver. The schema is portable (text, bigint, JSON
//! documents as text, times as unix microseconds); each backend has its own migration folder
//! so that backend-specific features (row-level security on PostgreSQL) can be added there.

mod access;
mod audiences;
mod campaign_counts;
mod campaigns;
mod connect;
mod contacts;
mod conversation_list;
mod conversation_thread;
mod conversations;
mod credentials;
mod edge;
mod erase;
pub use credentials::SealedCredential;
mod events;
mod first_events;
mod flows;
mod group_commit;
mod import_batch;
mod imports;
mod inbox_changes;
mod links;
mod listing;
mod members;
mod messages;
mod metrics;
mod runs;
mod schedules;
mod scope;
mod segments;
mod statistics;
mod suppressions;
mod templates;
mod usage;

pub(crate) use connect::create_private_file;
pub use erase::{ERASED, Erased};
use scope::{Scope, Tx};

use async_trait::async_trait;
use jiff::Timestamp;
use sqlx::AnyPool;

use crate::model::{Contact, ContactChange, Run, RunId, Tenant};
use crate::ports::{
    AdvanceTask, AuditEntry, EventContact, EventInsert, FlowDocument, LiveFlow, Message, Schedule,
    Store, StoreError, StoredEvent, TenantChange, TrackedLink, Transition, UnheardType,
};
use crate::runtime::StepRecord;

/// PostgreSQL connections per process by default: three processes stay well under the
/// server's default limit of 100.
pub const DEFAULT_CONNECTIONS: u32 = 16;

/// Which database is behind the pool.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// A [`Store`] on SQLite or PostgreSQL.
#[derive(Debug, Clone)]
pub struct SqlStore {
    pool: AnyPool,
    backend: Backend,
    /// Commits transitions in groups; `None` only inside the committers' own handle.
    group: Option<group_commit::GroupCommit>,
}

/// `NotFound` for `what` when a keyed UPDATE or DELETE changed no row.
fn changed_or_not_found(rows: u64, what: impl FnOnce() -> String) -> Result<(), StoreError> {
    if rows == 0 {
        return Err(StoreError::NotFound { what: what() });
    }
    Ok(())
}

fn unavailable(e: sqlx::Error) -> StoreError {
    StoreError::Unavailable(e.to_string())
}

fn corrupt(what: &str, e: serde_json::Error) -> StoreError {
    StoreError::Unavailable(format!("stored {what} does not decode: {e}"))
}

/// Unix microseconds, the stored form of times.
fn micros(t: Timestamp) -> i64 {
    t.as_microsecond()
}

/// A time column (unix microseconds) of `row`.
fn time_column(row: &sqlx::any::AnyRow, column: &str) -> Result<Timestamp, StoreError> {
    use sqlx::Row;
    let us: i64 = row.try_get(column).map_err(unavailable)?;
    Ok(Timestamp::from_microsecond(us).unwrap_or(Timestamp::UNIX_EPOCH))
}

impl SqlStore {
    pub fn backend(&self) -> Backend {
        self.backend
    }

    fn group(&self) -> Result<&group_commit::GroupCommit, StoreError> {
        self.group
            .as_ref()
            .ok_or_else(|| StoreError::Unavailable("the store has no committer".into()))
    }

    pub fn pool(&self) -> &AnyPool {
        &self.pool
    }

    /// Runs of every tenant due by `now` and not yet advanced: the work waiting for a
    /// worker (the queue depth metric).
    pub async fn due_count(&self, now: Timestamp) -> Result<i64, StoreError> {
        let query = sqlx::query(
            "SELECT COUNT(*) AS n FROM runs WHERE wake_at IS NOT NULL AND wake_at <= $1",
        )
        .bind(micros(now));
        let row = self.fetch_one(Scope::System, query).await?;
        sqlx::Row::try_get(&row, "n").map_err(unavailable)
    }
}

#[async_trait]
impl Store for SqlStore {
    async fn put_tenant(&self, tenant: &Tenant) -> Result<(), StoreError> {
        contacts::put_tenant(self, tenant).await
    }
    async fn tenant(&self, tenant_id: &str) -> Result<Tenant, StoreError> {
        contacts::tenant(self, tenant_id).await
    }
    async fn update_tenant(
        &self,
        tenant_id: &str,
        change: &TenantChange<'_>,
        audit: &AuditEntry,
    ) -> Result<Option<Tenant>, StoreError> {
        contacts::update_tenant(self, tenant_id, change, audit).await
    }
    async fn put_contact(&self, tenant_id: &str, contact: &Contact) -> Result<(), StoreError> {
        self.group()?.put_contact(tenant_id, contact).await
    }
    async fn create_contact(&self, tenant_id: &str, contact: &Contact) -> Result<(), StoreError> {
        contacts::create_contact(self, tenant_id, contact).await
    }
    async fn contact(&self, tenant_id: &str, contact_id: &str) -> Result<Contact, StoreError> {
        contacts::contact(self, tenant_id, contact_id).await
    }
    async fn with_suppressions(
        &self,
        tenant_id: &str,
        contact: Contact,
    ) -> Result<Contact, StoreError> {
        suppressions::with_suppressions(self, tenant_id, contact).await
    }
    async fn change_contact(
        &self,
        tenant_id: &str,
        contact_id: &str,
        change: &ContactChange,
    ) -> Result<Contact, StoreError> {
        contacts::change_contact(self, tenant_id, contact_id, change).await
    }
    async fn record_event(
        &self,
        tenant_id: &str,
        event: &StoredEvent,
        contact: Option<EventContact<'_>>,
    ) -> Result<EventInsert, StoreError> {
        if self
            .group()?
            .record_event(tenant_id, event, contact)
            .await?
        {
            Ok(EventInsert::Inserted)
        } else {
            events::existing(self, tenant_id, event).await
        }
    }
    async fn record_first_event(
        &self,
        tenant_id: &str,
        event: &StoredEvent,
        contact: &Contact,
        runs: Vec<(Run, Vec<StepRecord>)>,
    ) -> Result<bool, StoreError> {
        self.group()?
            .record_first_event(tenant_id, event, contact, runs)
            .await
    }
    async fn mark_event_processed(
        &self,
        tenant_id: &str,
        event_id: &str,
    ) -> Result<(), StoreError> {
        self.group()?.mark_processed(tenant_id, event_id).await
    }
    async fn save_links(
        &self,
        tenant_id: &str,
        run: &Run,
        links: &[TrackedLink],
        at: Timestamp,
    ) -> Result<(), StoreError> {
        links::save_links(self, tenant_id, run, links, at).await
    }
    async fn note_unheard(
        &self,
        tenant_id: &str,
        event_type: &str,
        at: Timestamp,
    ) -> Result<(), StoreError> {
        events::note_unheard(self, tenant_id, event_type, at).await
    }
    async fn unheard_types(
        &self,
        tenant_id: &str,
        since: Timestamp,
        limit: u32,
    ) -> Result<Vec<UnheardType>, StoreError> {
        events::unheard_types(self, tenant_id, since, limit).await
    }
    async fn save_flow(
        &self,
        tenant_id: &str,
        flow_id: &str,
        doc: &FlowDocument,
        audit: Option<&AuditEntry>,
    ) -> Result<u32, StoreError> {
        flows::save_flow(self, tenant_id, flow_id, doc, audit).await
    }
    async fn flow_version(
        &self,
        tenant_id: &str,
        flow_id: &str,
        version: u32,
    ) -> Result<FlowDocument, StoreError> {
        flows::flow_version(self, tenant_id, flow_id, version).await
    }
    async fn set_flow_enabled(
        &self,
        tenant_id: &str,
        flow_id: &str,
        enabled: bool,
        audit: Option<&AuditEntry>,
    ) -> Result<(), StoreError> {
        flows::set_flow_enabled(self, tenant_id, flow_id, enabled, audit).await
    }
    async fn live_flows(&self, tenant_id: &str) -> Result<Vec<LiveFlow>, StoreError> {
        flows::live_flows(self, tenant_id).await
    }
    async fn create_run(
        &self,
        tenant_id: &str,
        run: &Run,
        records: &[StepRecord],
    ) -> Result<bool, StoreError> {
        let runs = vec![(run.clone(), records.to_vec())];
        self.group()?.create(tenant_id, runs, None).await
    }
    async fn start_runs(
        &self,
        tenant_id: &str,
        runs: Vec<(Run, Vec<StepRecord>)>,
        event_id: &str,
    ) -> Result<bool, StoreError> {
        self.group()?.create(tenant_id, runs, Some(event_id)).await
    }
    async fn run(&self, tenant_id: &str, run_id: RunId) -> Result<Run, StoreError> {
        runs::run(self, tenant_id, run_id).await
    }
    async fn run_and_contact(
        &self,
        tenant_id: &str,
        run_id: RunId,
    ) -> Result<(Run, Contact), StoreError> {
        runs::run_and_contact(self, tenant_id, run_id).await
    }
    async fn apply(&self, tenant_id: &str, transition: Transition) -> Result<(), StoreError> {
        self.group()?.apply(tenant_id, transition).await
    }
    async fn active_runs(&self, tenant_id: &str, contact_id: &str) -> Result<Vec<Run>, StoreError> {
        runs::active_runs(self, tenant_id, contact_id).await
    }
    async fn records(&self, tenant_id: &str, run_id: RunId) -> Result<Vec<StepRecord>, StoreError> {
        runs::records(self, tenant_id, run_id).await
    }
    async fn messages(&self, tenant_id: &str, run_id: RunId) -> Result<Vec<Message>, StoreError> {
        messages::messages(self, tenant_id, run_id).await
    }
    async fn save_schedule(&self, schedule: &Schedule) -> Result<(), StoreError> {
        schedules::save_schedule(self, schedule).await
    }
    async fn due_schedules(&self, now: Timestamp, limit: u32) -> Result<Vec<Schedule>, StoreError> {
        schedules::due_schedules(self, now, limit).await
    }
    async fn advance_schedule(
        &self,
        schedule: &Schedule,
        next: Timestamp,
    ) -> Result<bool, StoreError> {
        schedules::advance_schedule(self, schedule, next).await
    }
    async fn contacts(
        &self,
        tenant_id: &str,
        after: Option<&str>,
        limit: u32,
    ) -> Result<Vec<Contact>, StoreError> {
        schedules::contacts(self, tenant_id, after, limit).await
    }
    async fn last_run_started(
        &self,
        tenant_id: &str,
        flow_id: &str,
        contact_id: &str,
    ) -> Result<Option<Timestamp>, StoreError> {
        schedules::last_run_started(self, tenant_id, flow_id, contact_id).await
    }
    async fn claim_timers(
        &self,
        until: Timestamp,
        limit: u32,
    ) -> Result<Vec<(AdvanceTask, Timestamp)>, StoreError> {
        runs::claim_timers(self, until, limit).await
    }
    async fn due_runs(&self, now: Timestamp, limit: u32) -> Result<Vec<AdvanceTask>, StoreError> {
        runs::due_runs(self, now, limit).await
    }
    async fn maintain(&self) -> Result<Vec<String>, StoreError> {
        self.analyze_young_tables().await
    }
}
