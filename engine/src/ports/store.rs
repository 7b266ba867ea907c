//! The seam to durable state.
//!
//! Contract: every method takes the tenant and touches only that tenant's rows; another
//! tenant's run answers `NotFound`. [`Store::apply`] commits a run's new state and its step
//! records (and a changed contact) in one transaction, and only if the stored `seq` still
//! equals `expected_seq`: a transition applies exactly once, whoever else raced for it.

use async_trait::async_trait;

use crate::model::{Contact, Run, RunId, Tenant};
use crate::runtime::StepRecord;

/// A run's new state, computed from the state at `expected_seq`.
#[derive(Debug, Clone)]
pub struct Transition {
    pub expected_seq: u64,
    /// The new state; its `seq` is `expected_seq + 1`.
    pub run: Run,
    /// Appended to the run's history.
    pub records: Vec<StepRecord>,
    /// The contact, when a step changed it.
    pub contact: Option<Contact>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StoreError {
    #[error("{what} not found")]
    NotFound { what: String },
    /// Someone else advanced the run first; the caller's work is stale and is dropped.
    #[error("run {run} moved on (expected seq {expected})")]
    Conflict { run: RunId, expected: u64 },
    #[error("storage unavailable: {0}")]
    Unavailable(String),
}

#[async_trait]
pub trait Store: Send + Sync + std::fmt::Debug {
    async fn tenant(&self, tenant_id: &str) -> Result<Tenant, StoreError>;
    async fn contact(&self, tenant_id: &str, contact_id: &str) -> Result<Contact, StoreError>;
    /// Inserts a new run (seq 0) with its first records.
    async fn create_run(
        &self,
        tenant_id: &str,
        run: &Run,
        records: &[StepRecord],
    ) -> Result<(), StoreError>;
    async fn run(&self, tenant_id: &str, run_id: RunId) -> Result<Run, StoreError>;
    async fn apply(&self, tenant_id: &str, transition: Transition) -> Result<(), StoreError>;
    /// The contact's runs that have not ended, oldest first.
    async fn active_runs(&self, tenant_id: &str, contact_id: &str) -> Result<Vec<Run>, StoreError>;
    /// A run's history, in order.
    async fn records(&self, tenant_id: &str, run_id: RunId) -> Result<Vec<StepRecord>, StoreError>;
}
