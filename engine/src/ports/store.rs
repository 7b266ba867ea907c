//! The seam to durable state.
//!
//! Contract: every method takes the tenant and touches only that tenant's rows; another
//! tenant's run answers `NotFound`. [`Store::apply`] commits a run's new state and its step
//! records (and a changed contact) in one transaction, and only if the stored `seq` still
//! equals `expected_seq`: a transition applies exactly once, whoever else raced for it.
//! An admin's action (a flow saved, enabled or disabled, settings changed, a run cancelled or
//! retried) takes its [`AuditEntry`] and stores it in the same transaction: both or neither.
//! Contacts are read with the suppression list (see [`super::Suppressions`]): a contact stored
//! with an opt-out puts its address on it, and a contact whose address is on it reads as
//! opted out.

use async_trait::async_trait;
use jiff::Timestamp;
use serde_json::Value;

use super::{AdvanceTask, AuditEntry};
use crate::model::{Contact, ContactChange, Event, Origin, Run, RunId, Tenant};
use crate::runtime::StepRecord;
pub use crate::template::track::TrackedLink;

/// An outbound message in the outbox: one per send a run made, with the provider's id for it
/// and its delivery status: what the provider answered (`queued`, `sent`), moved on by its
/// delivery reports (`delivered`, `undelivered`, `failed`).
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Message {
    /// `run:step:attempt`, the send's idempotency key.
    pub id: String,
    pub run_id: RunId,
    pub step: String,
    pub channel: String,
    pub to: String,
    pub text: String,
    pub provider_id: Option<String>,
    pub status: String,
    /// The provider's error code for `undelivered` / `failed` (Twilio's 30003, …).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error_code: Option<String>,
    pub at: Timestamp,
}

impl Message {
    /// The message a history record reports, if it is a send.
    pub fn from_record(run_id: RunId, record: &StepRecord) -> Option<Message> {
        let crate::runtime::Happening::Sent {
            channel,
            to,
            text,
            provider_id,
            status,
            iteration,
            ..
        } = &record.what
        else {
            return None;
        };
        let step = record.step.clone().unwrap_or_default();
        let iteration = iteration.as_deref().unwrap_or_default();
        Some(Message {
            id: crate::runtime::action_key(run_id, &step, iteration, record.attempt),
            run_id,
            step,
            channel: channel.clone(),
            to: to.clone(),
            text: text.clone(),
            provider_id: provider_id.clone(),
            status: status.clone().unwrap_or_else(|| "sent".into()),
            error_code: None,
            at: record.at,
        })
    }
}

/// A change to a tenant's settings, from the stored ones to the new ones (`None`: no change).
pub type TenantChange<'a> = dyn Fn(Tenant) -> Option<Tenant> + Send + Sync + 'a;

/// An accepted event as stored: duplicates are recognised by `(source, external_id)`.
/// Events of one type that arrived while no live flow listened for it
/// ([`Store::note_unheard`]): how a misspelt `lead.craeted` gets noticed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnheardType {
    pub event_type: String,
    /// How many arrived unheard since `first_at`.
    pub count: u64,
    pub first_at: Timestamp,
    pub last_at: Timestamp,
}

#[derive(Debug, Clone, PartialEq)]
pub struct StoredEvent {
    pub id: String,
    pub event: Event,
    pub contact_id: Option<String>,
    pub received_at: Timestamp,
}

impl StoredEvent {
    /// The key duplicates are dropped by: the source's id, else our own.
    pub fn external_id(&self) -> &str {
        self.event.external_id.as_deref().unwrap_or(&self.id)
    }
}

/// The contact an event brings, stored with the event when the event is new.
#[derive(Debug, Clone, Copy)]
pub enum EventContact<'a> {
    /// A contact not stored before.
    New(&'a Contact),
    /// A stored contact's change, applied to its latest version (see [`ContactChange`]).
    Change(&'a str, &'a ContactChange),
}

/// Whether an event was new.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EventInsert {
    Inserted,
    /// Seen before, under this id; nothing was stored. `processed` is false when a crash
    /// interrupted its processing: the caller processes it again (idempotently).
    Duplicate {
        id: String,
        processed: bool,
    },
}

/// One immutable version of a flow: its source and the settings it runs with.
#[derive(Debug, Clone, PartialEq)]
pub struct FlowDocument {
    /// The YAML (or JSON) as written.
    pub source: String,
    /// `config.*`.
    pub config: Value,
    /// `templates.*`.
    pub templates: Value,
    /// The module it was installed from, if it was.
    pub origin: Option<Origin>,
}

/// A scheduled flow's next tick.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Schedule {
    pub tenant_id: String,
    pub flow_id: String,
    pub version: u32,
    pub next_fire_at: Timestamp,
}

/// An enabled flow's newest version.
#[derive(Debug, Clone, PartialEq)]
pub struct LiveFlow {
    pub flow_id: String,
    pub version: u32,
    pub doc: FlowDocument,
}

/// A run's new state, computed from the state at `expected_seq`.
#[derive(Debug, Clone)]
pub struct Transition {
    pub expected_seq: u64,
    /// The new state; its `seq` is `expected_seq + 1`.
    pub run: Run,
    /// Appended to the run's history.
    pub records: Vec<StepRecord>,
    /// What the run's steps changed in its contact, applied to the contact's latest stored
    /// version (a change made meanwhile, above all an opt-out, is kept).
    pub contact: Option<ContactChange>,
    /// The admin action this transition is (a cancel, a retry), stored with it.
    pub audit: Option<AuditEntry>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StoreError {
    #[error("{what} not found")]
    NotFound { what: String },
    /// Someone else advanced the run first; the caller's work is stale and is dropped.
    #[error("run {run} moved on (expected seq {expected})")]
    Conflict { run: RunId, expected: u64 },
    /// The object to be created exists already (a tenant id, a key).
    #[error("{what} exists already")]
    Exists { what: String },
    #[error("storage unavailable: {0}")]
    Unavailable(String),
}

#[async_trait]
pub trait Store: Send + Sync + std::fmt::Debug {
    /// Creates or replaces a tenant's settings.
    async fn put_tenant(&self, tenant: &Tenant) -> Result<(), StoreError>;
    async fn tenant(&self, tenant_id: &str) -> Result<Tenant, StoreError>;
    /// Changes a tenant's settings atomically: `change` gets the stored settings and answers
    /// the new ones, which are stored with `audit`; no other change is lost in between. When
    /// `change` answers `None`, nothing is stored and `None` is answered.
    async fn update_tenant(
        &self,
        tenant_id: &str,
        change: &TenantChange<'_>,
        audit: &AuditEntry,
    ) -> Result<Option<Tenant>, StoreError>;
    /// Creates or replaces a contact.
    async fn put_contact(&self, tenant_id: &str, contact: &Contact) -> Result<(), StoreError>;
    /// Creates a contact, never replacing one: `Exists` when a stored contact has its id or
    /// its phone, and then nothing is stored. Of two creations of one id at once, one wins.
    async fn create_contact(&self, tenant_id: &str, contact: &Contact) -> Result<(), StoreError>;
    async fn contact(&self, tenant_id: &str, contact_id: &str) -> Result<Contact, StoreError>;
    /// `contact` (one not stored yet) as a read would answer it: opted out where its phone or
    /// email is on the suppression list.
    async fn with_suppressions(
        &self,
        tenant_id: &str,
        contact: Contact,
    ) -> Result<Contact, StoreError>;
    /// Applies `change` to the contact's latest stored version, atomically, and answers the
    /// contact as stored. A phone another contact has is `Exists`.
    async fn change_contact(
        &self,
        tenant_id: &str,
        contact_id: &str,
        change: &ContactChange,
    ) -> Result<Contact, StoreError>;
    /// Marks an event as processed: its runs were started, resumed and cancelled.
    async fn mark_event_processed(&self, tenant_id: &str, event_id: &str)
    -> Result<(), StoreError>;
    /// Stores an event, unprocessed, unless `(source, external_id)` was seen before; a new
    /// event's `contact` is stored with it, atomically.
    async fn record_event(
        &self,
        tenant_id: &str,
        event: &StoredEvent,
        contact: Option<EventContact<'_>>,
    ) -> Result<EventInsert, StoreError>;
    /// Stores the tracked links `run` rendered (see [`crate::template::track`]); a link
    /// already stored is kept as it is.
    async fn save_links(
        &self,
        tenant_id: &str,
        run: &Run,
        links: &[TrackedLink],
        at: Timestamp,
    ) -> Result<(), StoreError>;
    /// Counts an event of `event_type` that arrived at `at` while no live flow listened for it.
    async fn note_unheard(
        &self,
        tenant_id: &str,
        event_type: &str,
        at: Timestamp,
    ) -> Result<(), StoreError>;
    /// The types [`Store::note_unheard`] counted whose last one arrived at or after `since`,
    /// the most recent first, at most `limit`.
    async fn unheard_types(
        &self,
        tenant_id: &str,
        since: Timestamp,
        limit: u32,
    ) -> Result<Vec<UnheardType>, StoreError>;
    /// Stores the first event of a new contact: the event (processed), the contact and the
    /// runs the event starts, in one commit where the store can. Stores nothing and answers
    /// false when `(source, external_id)` was seen before, or when a stored contact has the
    /// contact's id, phone or email: the caller then takes the general way.
    async fn record_first_event(
        &self,
        tenant_id: &str,
        event: &StoredEvent,
        contact: &Contact,
        runs: Vec<(Run, Vec<StepRecord>)>,
    ) -> Result<bool, StoreError>;
    /// Stores a new immutable version of a flow (enabled, if the flow is new); returns its
    /// number. `audit` is stored with it, the number added to its details as `version`.
    async fn save_flow(
        &self,
        tenant_id: &str,
        flow_id: &str,
        doc: &FlowDocument,
        audit: Option<&AuditEntry>,
    ) -> Result<u32, StoreError>;
    async fn flow_version(
        &self,
        tenant_id: &str,
        flow_id: &str,
        version: u32,
    ) -> Result<FlowDocument, StoreError>;
    /// A disabled flow starts no new runs; its running runs go on.
    async fn set_flow_enabled(
        &self,
        tenant_id: &str,
        flow_id: &str,
        enabled: bool,
        audit: Option<&AuditEntry>,
    ) -> Result<(), StoreError>;
    /// The newest version of every enabled flow, by flow id.
    async fn live_flows(&self, tenant_id: &str) -> Result<Vec<LiveFlow>, StoreError>;
    /// Inserts a new run (seq 0) with its first records; `false` (and no change) if a run with
    /// its id exists, so that processing an event again starts nothing twice.
    async fn create_run(
        &self,
        tenant_id: &str,
        run: &Run,
        records: &[StepRecord],
    ) -> Result<bool, StoreError>;
    /// Creates the runs an event started (each with its first records) and marks the event
    /// processed, in one commit where the store can; answers false when a run already
    /// existed. Marking last keeps an interrupted event's processing repeatable.
    async fn start_runs(
        &self,
        tenant_id: &str,
        runs: Vec<(Run, Vec<StepRecord>)>,
        event_id: &str,
    ) -> Result<bool, StoreError> {
        let mut every_one_new = true;
        for (run, records) in &runs {
            every_one_new &= self.create_run(tenant_id, run, records).await?;
        }
        self.mark_event_processed(tenant_id, event_id).await?;
        Ok(every_one_new)
    }
    async fn run(&self, tenant_id: &str, run_id: RunId) -> Result<Run, StoreError>;
    /// A run and its contact, as a worker needs them to advance it (one query in SQL stores).
    async fn run_and_contact(
        &self,
        tenant_id: &str,
        run_id: RunId,
    ) -> Result<(Run, Contact), StoreError> {
        let run = self.run(tenant_id, run_id).await?;
        let contact = self.contact(tenant_id, &run.contact_id).await?;
        Ok((run, contact))
    }
    async fn apply(&self, tenant_id: &str, transition: Transition) -> Result<(), StoreError>;
    /// The contact's runs that have not ended, oldest first.
    async fn active_runs(&self, tenant_id: &str, contact_id: &str) -> Result<Vec<Run>, StoreError>;
    /// A run's history, in order.
    async fn records(&self, tenant_id: &str, run_id: RunId) -> Result<Vec<StepRecord>, StoreError>;
    /// The messages a run sent, oldest first.
    async fn messages(&self, tenant_id: &str, run_id: RunId) -> Result<Vec<Message>, StoreError>;
    /// Creates or replaces a flow's schedule.
    async fn save_schedule(&self, schedule: &Schedule) -> Result<(), StoreError>;
    /// Schedules of every tenant due by `now`, earliest first.
    async fn due_schedules(&self, now: Timestamp, limit: u32) -> Result<Vec<Schedule>, StoreError>;
    /// Moves a schedule from the tick `fired` to `next`; `false` if another process did first.
    async fn advance_schedule(
        &self,
        schedule: &Schedule,
        next: Timestamp,
    ) -> Result<bool, StoreError>;
    /// A page of a tenant's contacts in id order, after `after`.
    async fn contacts(
        &self,
        tenant_id: &str,
        after: Option<&str>,
        limit: u32,
    ) -> Result<Vec<Contact>, StoreError>;
    /// When the contact's latest run of the flow started, if ever.
    async fn last_run_started(
        &self,
        tenant_id: &str,
        flow_id: &str,
        contact_id: &str,
    ) -> Result<Option<Timestamp>, StoreError>;
    /// Claims sleeping and waiting runs of every tenant due by `until` whose timer was not
    /// queued for their current `seq`, marking it queued; returns them with their due time.
    /// Concurrent callers never claim the same run and seq twice.
    async fn claim_timers(
        &self,
        until: Timestamp,
        limit: u32,
    ) -> Result<Vec<(AdvanceTask, Timestamp)>, StoreError>;
    /// Runs of every tenant whose `wake_at` has passed, oldest first: what the reconciler
    /// re-enqueues when a queue entry was lost. The one method that spans tenants; only the
    /// system's own workers call it.
    async fn due_runs(&self, now: Timestamp, limit: u32) -> Result<Vec<AdvanceTask>, StoreError>;
    /// Housekeeping the reconciler asks for every few seconds; answers what it did, for the
    /// log (SQL stores: planner statistics for young tables).
    async fn maintain(&self) -> Result<Vec<String>, StoreError> {
        Ok(Vec::new())
    }
}
