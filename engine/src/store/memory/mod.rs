//! An in-memory [`Store`]: the reference implementation of the contract, used by the
//! simulator and tests. Each tenant's data lives in its own map, so isolation is structural.

use std::collections::HashMap;
use std::sync::Mutex;

use async_trait::async_trait;

use jiff::Timestamp;

use crate::model::{Contact, ContactChange, Run, RunId, Tenant};
use crate::ports::{
    AdvanceTask, AuditEntry, EventContact, EventInsert, FlowDocument, LiveFlow, Message, Schedule,
    Store, StoreError, StoredEvent, TenantChange, Transition,
};
use crate::runtime::StepRecord;

mod contacts;
mod flows;
mod timers;

use flows::FlowData;

#[derive(Debug, Default)]
struct TenantData {
    tenant: Option<Tenant>,
    contacts: HashMap<String, Contact>,
    /// (source, external_id) → (event id, processed).
    events: HashMap<(String, String), (String, bool)>,
    flows: std::collections::BTreeMap<String, FlowData>,
    runs: HashMap<RunId, Run>,
    schedules: std::collections::BTreeMap<String, Schedule>,
    /// Run → the seq its timer was queued for.
    queued: HashMap<RunId, u64>,
    records: HashMap<RunId, Vec<StepRecord>>,
    /// Tracked links: code → (run, URL).
    links: HashMap<String, (RunId, String)>,
    /// Event type → the events that arrived unheard.
    unheard: HashMap<String, crate::ports::UnheardType>,
    /// The suppression list: (channel, address).
    suppressed: std::collections::HashSet<(crate::ports::Channel, String)>,
    /// Contacts a flow handed to a person (`hand_over`); the memory store has no inbox, so
    /// nothing releases them.
    handed_over: std::collections::HashSet<String>,
}

/// Everything in one mutex: simple, and fast enough for the simulator and benchmarks.
#[derive(Debug, Default)]
pub struct MemoryStore {
    tenants: Mutex<HashMap<String, TenantData>>,
}

fn not_found(what: impl Into<String>) -> StoreError {
    StoreError::NotFound { what: what.into() }
}

impl MemoryStore {
    pub fn new() -> Self {
        Self::default()
    }

    fn with<T>(&self, tenant_id: &str, f: impl FnOnce(&mut TenantData) -> T) -> T {
        let mut tenants = self.tenants.lock().unwrap_or_else(|p| p.into_inner());
        f(tenants.entry(tenant_id.to_owned()).or_default())
    }

    /// Every run of the tenant, oldest first.
    pub fn runs(&self, tenant_id: &str) -> Vec<Run> {
        let mut runs: Vec<Run> = self.with(tenant_id, |t| t.runs.values().cloned().collect());
        runs.sort_by_key(|r| (r.started_at, r.id));
        runs
    }

    /// The earliest next tick of the tenant's scheduled flows.
    pub fn next_schedule(&self, tenant_id: &str) -> Option<Timestamp> {
        self.with(tenant_id, |t| {
            t.schedules.values().map(|s| s.next_fire_at).min()
        })
    }

    /// How many step records the tenant's runs hold, all together.
    pub fn record_count(&self, tenant_id: &str) -> usize {
        self.with(tenant_id, |t| t.records.values().map(Vec::len).sum())
    }
}

#[async_trait]
impl Store for MemoryStore {
    // The memory store keeps no audit log (it serves the simulator and tests, not the admin
    // API), so the entries handed to it are dropped.
    async fn put_tenant(&self, tenant: &Tenant) -> Result<(), StoreError> {
        self.with(&tenant.id, |t| t.tenant = Some(tenant.clone()));
        Ok(())
    }

    async fn update_tenant(
        &self,
        tenant_id: &str,
        change: &TenantChange<'_>,
        _audit: &AuditEntry,
    ) -> Result<Option<Tenant>, StoreError> {
        self.with(tenant_id, |t| {
            let current = t
                .tenant
                .clone()
                .ok_or_else(|| not_found(format!("tenant {tenant_id}")))?;
            let changed = change(current);
            if let Some(changed) = &changed {
                t.tenant = Some(changed.clone());
            }
            Ok(changed)
        })
    }

    async fn put_contact(&self, tenant_id: &str, contact: &Contact) -> Result<(), StoreError> {
        self.with(tenant_id, |t| {
            t.check_phone(contact)?;
            t.store_contact(contact.clone());
            Ok(())
        })
    }

    async fn create_contact(&self, tenant_id: &str, contact: &Contact) -> Result<(), StoreError> {
        self.with(tenant_id, |t| {
            if t.contacts.contains_key(&contact.id) {
                return Err(StoreError::Exists {
                    what: format!("contact {}", contact.id),
                });
            }
            t.check_phone(contact)?;
            t.store_contact(contact.clone());
            Ok(())
        })
    }

    async fn change_contact(
        &self,
        tenant_id: &str,
        contact_id: &str,
        change: &ContactChange,
    ) -> Result<Contact, StoreError> {
        self.with(tenant_id, |t| t.change_contact(contact_id, change))
    }

    async fn record_first_event(
        &self,
        tenant_id: &str,
        event: &StoredEvent,
        contact: &Contact,
        runs: Vec<(Run, Vec<StepRecord>)>,
    ) -> Result<bool, StoreError> {
        Ok(self.with(tenant_id, |t| t.record_first_event(event, contact, runs)))
    }

    async fn record_event(
        &self,
        tenant_id: &str,
        event: &StoredEvent,
        contact: Option<EventContact<'_>>,
    ) -> Result<EventInsert, StoreError> {
        self.with(tenant_id, |t| t.record_event(event, contact))
    }

    async fn save_links(
        &self,
        tenant_id: &str,
        run: &Run,
        links: &[crate::ports::TrackedLink],
        _at: Timestamp,
    ) -> Result<(), StoreError> {
        self.with(tenant_id, |t| {
            for link in links {
                t.links
                    .entry(link.code.clone())
                    .or_insert_with(|| (run.id, link.url.clone()));
            }
        });
        Ok(())
    }

    async fn note_unheard(
        &self,
        tenant_id: &str,
        event_type: &str,
        at: Timestamp,
    ) -> Result<(), StoreError> {
        self.with(tenant_id, |t| {
            let entry = t.unheard.entry(event_type.to_owned()).or_insert_with(|| {
                crate::ports::UnheardType {
                    event_type: event_type.to_owned(),
                    count: 0,
                    first_at: at,
                    last_at: at,
                }
            });
            entry.count += 1;
            entry.last_at = entry.last_at.max(at);
        });
        Ok(())
    }

    async fn unheard_types(
        &self,
        tenant_id: &str,
        since: Timestamp,
        limit: u32,
    ) -> Result<Vec<crate::ports::UnheardType>, StoreError> {
        let mut found: Vec<_> = self.with(tenant_id, |t| {
            t.unheard
                .values()
                .filter(|u| u.last_at >= since)
                .cloned()
                .collect()
        });
        found.sort_by(|a, b| (b.last_at, &a.event_type).cmp(&(a.last_at, &b.event_type)));
        found.truncate(limit as usize);
        Ok(found)
    }

    async fn mark_event_processed(
        &self,
        tenant_id: &str,
        event_id: &str,
    ) -> Result<(), StoreError> {
        self.with(tenant_id, |t| {
            t.events
                .values_mut()
                .filter(|(id, _)| id == event_id)
                .for_each(|(_, processed)| *processed = true);
        });
        Ok(())
    }

    async fn save_flow(
        &self,
        tenant_id: &str,
        flow_id: &str,
        doc: &FlowDocument,
        _audit: Option<&AuditEntry>,
    ) -> Result<u32, StoreError> {
        Ok(self.with(tenant_id, |t| t.save_flow(flow_id, doc)))
    }

    async fn flow_version(
        &self,
        tenant_id: &str,
        flow_id: &str,
        version: u32,
    ) -> Result<FlowDocument, StoreError> {
        self.with(tenant_id, |t| t.flow_version(flow_id, version))
            .ok_or_else(|| not_found(format!("flow {flow_id} version {version}")))
    }

    async fn set_flow_enabled(
        &self,
        tenant_id: &str,
        flow_id: &str,
        enabled: bool,
        _audit: Option<&AuditEntry>,
    ) -> Result<(), StoreError> {
        self.with(tenant_id, |t| {
            t.flows.get_mut(flow_id).map(|f| f.enabled = enabled)
        })
        .ok_or_else(|| not_found(format!("flow {flow_id}")))
    }

    async fn live_flows(&self, tenant_id: &str) -> Result<Vec<LiveFlow>, StoreError> {
        Ok(self.with(tenant_id, |t| t.live_flows()))
    }

    async fn save_schedule(&self, schedule: &Schedule) -> Result<(), StoreError> {
        self.with(&schedule.tenant_id, |t| {
            t.schedules
                .insert(schedule.flow_id.clone(), schedule.clone())
        });
        Ok(())
    }

    async fn due_schedules(&self, now: Timestamp, limit: u32) -> Result<Vec<Schedule>, StoreError> {
        Ok(self.schedules_due(now, limit))
    }

    async fn advance_schedule(
        &self,
        schedule: &Schedule,
        next: Timestamp,
    ) -> Result<bool, StoreError> {
        Ok(self.with(&schedule.tenant_id, |t| t.advance_schedule(schedule, next)))
    }

    async fn contacts(
        &self,
        tenant_id: &str,
        after: Option<&str>,
        limit: u32,
    ) -> Result<Vec<Contact>, StoreError> {
        let mut contacts: Vec<Contact> = self.with(tenant_id, |t| {
            t.contacts
                .keys()
                .filter(|id| after.is_none_or(|a| id.as_str() > a))
                .filter_map(|id| t.read_contact(id))
                .collect()
        });
        contacts.sort_by(|a, b| a.id.cmp(&b.id));
        contacts.truncate(usize::try_from(limit).unwrap_or(usize::MAX));
        Ok(contacts)
    }

    async fn last_run_started(
        &self,
        tenant_id: &str,
        flow_id: &str,
        contact_id: &str,
    ) -> Result<Option<Timestamp>, StoreError> {
        Ok(self.with(tenant_id, |t| {
            t.runs
                .values()
                .filter(|r| r.flow_id == flow_id && r.contact_id == contact_id)
                .map(|r| r.started_at)
                .max()
        }))
    }

    async fn claim_timers(
        &self,
        until: Timestamp,
        limit: u32,
    ) -> Result<Vec<(AdvanceTask, Timestamp)>, StoreError> {
        Ok(self.claim_due_timers(until, limit))
    }

    async fn due_runs(&self, now: Timestamp, limit: u32) -> Result<Vec<AdvanceTask>, StoreError> {
        Ok(self.runs_due(now, limit))
    }

    async fn tenant(&self, tenant_id: &str) -> Result<Tenant, StoreError> {
        self.with(tenant_id, |t| t.tenant.clone())
            .ok_or_else(|| not_found(format!("tenant {tenant_id}")))
    }

    async fn contact(&self, tenant_id: &str, contact_id: &str) -> Result<Contact, StoreError> {
        self.with(tenant_id, |t| t.read_contact(contact_id))
            .ok_or_else(|| not_found(format!("contact {contact_id}")))
    }

    async fn with_suppressions(
        &self,
        tenant_id: &str,
        contact: Contact,
    ) -> Result<Contact, StoreError> {
        Ok(self.with(tenant_id, |t| t.with_suppressions(contact)))
    }

    async fn create_run(
        &self,
        tenant_id: &str,
        run: &Run,
        records: &[StepRecord],
    ) -> Result<bool, StoreError> {
        Ok(self.with(tenant_id, |t| {
            if t.runs.contains_key(&run.id) {
                return false;
            }
            t.runs.insert(run.id, run.clone());
            t.records.insert(run.id, records.to_vec());
            true
        }))
    }

    async fn run(&self, tenant_id: &str, run_id: RunId) -> Result<Run, StoreError> {
        self.with(tenant_id, |t| t.runs.get(&run_id).cloned())
            .ok_or_else(|| not_found(format!("run {run_id}")))
    }

    async fn apply(&self, tenant_id: &str, transition: Transition) -> Result<(), StoreError> {
        self.with(tenant_id, |t| {
            let id = transition.run.id;
            let current = t
                .runs
                .get_mut(&id)
                .ok_or_else(|| not_found(format!("run {id}")))?;
            if current.seq != transition.expected_seq {
                return Err(StoreError::Conflict {
                    run: id,
                    expected: transition.expected_seq,
                });
            }
            let contact_id = transition.run.contact_id.clone();
            if transition
                .records
                .iter()
                .any(|r| matches!(r.what, crate::runtime::Happening::HandedOver { .. }))
            {
                t.handed_over.insert(contact_id.clone());
            }
            *current = transition.run;
            t.records.entry(id).or_default().extend(transition.records);
            if let Some(change) = transition.contact
                && let Some(contact) = t.contacts.get(&contact_id)
            {
                t.store_contact(change.apply_to(contact));
            }
            Ok(())
        })
    }

    async fn run_and_contact(
        &self,
        tenant_id: &str,
        run_id: RunId,
    ) -> Result<(Run, Contact), StoreError> {
        let run = self.run(tenant_id, run_id).await?;
        let mut contact = self.contact(tenant_id, &run.contact_id).await?;
        contact.human_takeover = self.with(tenant_id, |t| t.handed_over.contains(&run.contact_id));
        Ok((run, contact))
    }

    async fn active_runs(&self, tenant_id: &str, contact_id: &str) -> Result<Vec<Run>, StoreError> {
        let mut runs: Vec<Run> = self.with(tenant_id, |t| {
            t.runs
                .values()
                .filter(|r| r.contact_id == contact_id && r.status.is_active())
                .cloned()
                .collect()
        });
        runs.sort_by_key(|r| (r.started_at, r.id));
        Ok(runs)
    }

    async fn records(&self, tenant_id: &str, run_id: RunId) -> Result<Vec<StepRecord>, StoreError> {
        self.with(tenant_id, |t| t.records.get(&run_id).cloned())
            .ok_or_else(|| not_found(format!("run {run_id}")))
    }

    async fn messages(&self, tenant_id: &str, run_id: RunId) -> Result<Vec<Message>, StoreError> {
        let records = self.records(tenant_id, run_id).await?;
        Ok(records
            .iter()
            .filter_map(|r| Message::from_record(run_id, r))
            .collect())
    }
}
