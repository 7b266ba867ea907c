//! An in-memory [`Store`]: the reference implementation of the contract, used by the
//! simulator and tests. Each tenant's data lives in its own map, so isolation is structural.

use std::collections::HashMap;
use std::sync::Mutex;

use async_trait::async_trait;

use crate::model::{Contact, Run, RunId, Tenant};
use crate::ports::{Store, StoreError, Transition};
use crate::runtime::StepRecord;

#[derive(Debug, Default)]
struct TenantData {
    tenant: Option<Tenant>,
    contacts: HashMap<String, Contact>,
    runs: HashMap<RunId, Run>,
    records: HashMap<RunId, Vec<StepRecord>>,
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

    pub fn put_tenant(&self, tenant: Tenant) {
        self.with(&tenant.id.clone(), |t| t.tenant = Some(tenant));
    }

    pub fn put_contact(&self, tenant_id: &str, contact: Contact) {
        self.with(tenant_id, |t| {
            t.contacts.insert(contact.id.clone(), contact)
        });
    }

    /// Every run of the tenant, oldest first.
    pub fn runs(&self, tenant_id: &str) -> Vec<Run> {
        let mut runs: Vec<Run> = self.with(tenant_id, |t| t.runs.values().cloned().collect());
        runs.sort_by_key(|r| r.id);
        runs
    }
}

#[async_trait]
impl Store for MemoryStore {
    async fn tenant(&self, tenant_id: &str) -> Result<Tenant, StoreError> {
        self.with(tenant_id, |t| t.tenant.clone())
            .ok_or_else(|| not_found(format!("tenant {tenant_id}")))
    }

    async fn contact(&self, tenant_id: &str, contact_id: &str) -> Result<Contact, StoreError> {
        self.with(tenant_id, |t| t.contacts.get(contact_id).cloned())
            .ok_or_else(|| not_found(format!("contact {contact_id}")))
    }

    async fn create_run(
        &self,
        tenant_id: &str,
        run: &Run,
        records: &[StepRecord],
    ) -> Result<(), StoreError> {
        self.with(tenant_id, |t| {
            t.runs.insert(run.id, run.clone());
            t.records.insert(run.id, records.to_vec());
        });
        Ok(())
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
            *current = transition.run;
            t.records.entry(id).or_default().extend(transition.records);
            if let Some(contact) = transition.contact {
                t.contacts.insert(contact.id.clone(), contact);
            }
            Ok(())
        })
    }

    async fn active_runs(&self, tenant_id: &str, contact_id: &str) -> Result<Vec<Run>, StoreError> {
        let mut runs: Vec<Run> = self.with(tenant_id, |t| {
            t.runs
                .values()
                .filter(|r| r.contact_id == contact_id && r.status.is_active())
                .cloned()
                .collect()
        });
        runs.sort_by_key(|r| r.id);
        Ok(runs)
    }

    async fn records(&self, tenant_id: &str, run_id: RunId) -> Result<Vec<StepRecord>, StoreError> {
        self.with(tenant_id, |t| t.records.get(&run_id).cloned())
            .ok_or_else(|| not_found(format!("run {run_id}")))
    }
}
